//! Upload bodies on the deadline night: a slow or stalled body cannot hold what other
//! candidates need.
//!
//! Reading a body fast costs memory (hyper's and the parser's buffers grow with the bytes
//! waiting), so the site reads at most [`read_permits`] fast bodies at once: a chunk of
//! [`Pace::big`] bytes or more needs a permit, kept while such chunks keep coming and
//! given back after [`Pace::hold`] without bytes or at the first small chunk. Small
//! chunks (a slow link, a trickle) need none: they buffer next to nothing, so a
//! trickle never holds what a flowing upload waits for. How many bodies are being
//! read at all is capped apart ([`reading_slots`], taken before a byte is read), which
//! bounds the chunks held while waiting for a permit. A body that sends nothing for
//! [`Pace::idle`], or less than [`Pace::min_bytes`] in a [`Pace::window`], is cut; one
//! that cannot get a permit within [`Pace::permit_wait`] is refused as « busy », never
//! left waiting for ever.

use std::{
    collections::HashMap,
    pin::Pin,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU8, AtomicUsize, Ordering},
    },
    time::Duration,
};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use tokio::{
    sync::{OwnedSemaphorePermit, Semaphore},
    time::{Instant, timeout, timeout_at},
};

/// The limits one body is read under.
#[derive(Clone, Copy, Debug)]
pub struct Pace {
    pub idle: Duration,
    pub window: Duration,
    pub min_bytes: u64,
    pub hold: Duration,
    pub permit_wait: Duration,
    pub big: usize,
}

/// The deadline night's: 30 s without a byte, or under about 1 Ko/s over 30 s, is cut.
pub const NIGHT: Pace = Pace {
    idle: Duration::from_secs(30),
    window: Duration::from_secs(30),
    min_bytes: 30 * 1024,
    hold: Duration::from_millis(50),
    permit_wait: Duration::from_secs(10),
    big: 16 * 1024,
};

/// At most this many uploads of one dossier are read at once (per server).
pub const UPLOADS_PER_DOSSIER: u32 = 2;

/// Why a body was cut; read by the handler once the parser reports the error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cut {
    TooSlow,
    Busy,
}

#[derive(Clone, Default)]
pub struct CutFlag(Arc<AtomicU8>);

impl CutFlag {
    fn set(&self, cut: Cut) {
        self.0.store(
            match cut {
                Cut::TooSlow => 1,
                Cut::Busy => 2,
            },
            Ordering::SeqCst,
        );
    }

    pub fn get(&self) -> Option<Cut> {
        match self.0.load(Ordering::SeqCst) {
            1 => Some(Cut::TooSlow),
            2 => Some(Cut::Busy),
            _ => None,
        }
    }
}

const READING_PER_CORE: usize = 16;
const FAST_PER_CORE: usize = 4;

/// What one server's uploads share: made once per server (its router holds it), so
/// two servers in one process, as the tests start them, are really two.
#[derive(Clone)]
pub struct Gates {
    /// Bodies being read at all: taken before a byte is read.
    reading: Arc<Semaphore>,
    reading_total: usize,
    /// Uploads waiting for a reading slot now.
    waiting: Arc<AtomicUsize>,
    /// Fast bodies read at once (see [`paced`]).
    fast: Arc<Semaphore>,
    fast_total: usize,
    /// Uploads of each dossier being read now.
    dossiers: Arc<Mutex<HashMap<String, u32>>>,
}

impl Default for Gates {
    /// 16 bodies being read per core, 4 fast ones.
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self::new(READING_PER_CORE * cores, FAST_PER_CORE * cores)
    }
}

impl Gates {
    pub fn new(reading: usize, fast: usize) -> Self {
        Self {
            reading: Arc::new(Semaphore::new(reading)),
            reading_total: reading,
            waiting: Arc::default(),
            fast: Arc::new(Semaphore::new(fast)),
            fast_total: fast,
            dossiers: Arc::default(),
        }
    }

    /// A reading slot, waited for at most `wait` (then `None`: the caller answers busy).
    pub async fn reading_slot(&self, wait: Duration) -> Option<OwnedSemaphorePermit> {
        // Counted while waiting, even if the request goes away meanwhile.
        struct Waiting(Arc<AtomicUsize>);
        impl Drop for Waiting {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::Relaxed);
            }
        }
        self.waiting.fetch_add(1, Ordering::Relaxed);
        let _waiting = Waiting(self.waiting.clone());
        timeout(wait, self.reading.clone().acquire_owned())
            .await
            .ok()?
            .ok()
    }

    /// The permits fast bodies share, for [`paced`].
    pub fn read_permits(&self) -> Arc<Semaphore> {
        self.fast.clone()
    }

    /// What the upload gate holds now, for `/metrics`: bodies being read, uploads
    /// waiting for a slot, fast bodies holding a permit.
    pub fn load(&self) -> (usize, usize, usize) {
        (
            self.reading_total
                .saturating_sub(self.reading.available_permits()),
            self.waiting.load(Ordering::Relaxed),
            self.fast_total
                .saturating_sub(self.fast.available_permits()),
        )
    }

    /// A slot for `dossier`, or `None` when it already has [`UPLOADS_PER_DOSSIER`].
    pub fn dossier_slot(&self, dossier: &str) -> Option<DossierSlot> {
        let mut table = self.dossiers.lock().unwrap_or_else(|e| e.into_inner());
        let count = table.entry(dossier.to_string()).or_default();
        if *count >= UPLOADS_PER_DOSSIER {
            return None;
        }
        *count += 1;
        Some(DossierSlot {
            dossier: dossier.to_string(),
            table: self.dossiers.clone(),
        })
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

struct Reader<S> {
    inner: Pin<Box<S>>,
    pace: Pace,
    permits: Arc<Semaphore>,
    permit: Option<OwnedSemaphorePermit>,
    last_bytes: Instant,
    window_start: Instant,
    window_bytes: u64,
    cut: CutFlag,
    done: bool,
}

impl<S, E> Reader<S>
where
    S: Stream<Item = Result<Bytes, E>> + Send,
    E: Into<BoxError> + Send,
{
    fn stop(&mut self, cut: Cut) -> Option<Result<Bytes, BoxError>> {
        self.cut.set(cut);
        self.done = true;
        self.permit = None;
        Some(Err(match cut {
            Cut::TooSlow => "upload body too slow".into(),
            Cut::Busy => "no upload permit in time".into(),
        }))
    }

    /// A window ends: it must have brought enough bytes, or the body is too slow.
    fn window_passes(&mut self, now: Instant) -> bool {
        if now < self.window_start + self.pace.window {
            return true;
        }
        if self.window_bytes < self.pace.min_bytes {
            return false;
        }
        self.window_start = now;
        self.window_bytes = 0;
        true
    }

    async fn next_chunk(&mut self) -> Option<Result<Bytes, BoxError>> {
        if self.done {
            return None;
        }
        let item = loop {
            let deadline =
                (self.last_bytes + self.pace.idle).min(self.window_start + self.pace.window);
            let waited = if self.permit.is_some() {
                match timeout(self.pace.hold, self.inner.next()).await {
                    Ok(item) => Ok(item),
                    Err(_) => {
                        // Nothing for a moment: let a body that flows use the permit.
                        self.permit = None;
                        timeout_at(deadline, self.inner.next()).await
                    }
                }
            } else {
                timeout_at(deadline, self.inner.next()).await
            };
            let now = Instant::now();
            match waited {
                Ok(item) => break item,
                Err(_) if now >= self.last_bytes + self.pace.idle => {
                    return self.stop(Cut::TooSlow);
                }
                Err(_) if !self.window_passes(now) => return self.stop(Cut::TooSlow),
                Err(_) => continue,
            }
        };
        match item {
            Some(Ok(chunk)) => {
                let now = Instant::now();
                self.last_bytes = now;
                self.window_bytes += chunk.len() as u64;
                if !self.window_passes(now) {
                    return self.stop(Cut::TooSlow);
                }
                if chunk.len() < self.pace.big {
                    // A slow phase: nothing to hold a permit for.
                    self.permit = None;
                } else if self.permit.is_none() {
                    let acquire = self.permits.clone().acquire_owned();
                    match timeout(self.pace.permit_wait, acquire).await {
                        Ok(Ok(permit)) => self.permit = Some(permit),
                        _ => return self.stop(Cut::Busy),
                    }
                    // Waiting for a permit is ours, not the client's: its clocks move on.
                    let waited = Instant::now() - now;
                    self.last_bytes += waited;
                    self.window_start += waited;
                }
                Some(Ok(chunk))
            }
            Some(Err(error)) => {
                self.done = true;
                Some(Err(error.into()))
            }
            None => {
                self.done = true;
                self.permit = None;
                None
            }
        }
    }
}

/// `body` read under `pace`, sharing `permits`; `cut` says why it stopped, if it was cut.
pub fn paced<S, E>(
    body: S,
    pace: Pace,
    permits: Arc<Semaphore>,
    cut: CutFlag,
) -> impl Stream<Item = Result<Bytes, BoxError>> + Send
where
    S: Stream<Item = Result<Bytes, E>> + Send + 'static,
    E: Into<BoxError> + Send + 'static,
{
    let now = Instant::now();
    let reader = Reader {
        inner: Box::pin(body),
        pace,
        permits,
        permit: None,
        last_bytes: now,
        window_start: now,
        window_bytes: 0,
        cut,
        done: false,
    };
    futures_util::stream::unfold(reader, |mut reader| async move {
        let item = reader.next_chunk().await?;
        Some((item, reader))
    })
}

/// One of a dossier's upload slots on this server; given back when dropped.
pub struct DossierSlot {
    dossier: String,
    table: Arc<Mutex<HashMap<String, u32>>>,
}

impl Drop for DossierSlot {
    fn drop(&mut self) {
        let mut table = self.table.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = table.get_mut(&self.dossier) {
            *count -= 1;
            if *count == 0 {
                table.remove(&self.dossier);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAST: Pace = Pace {
        idle: Duration::from_millis(600),
        window: Duration::from_millis(600),
        min_bytes: 1000,
        hold: Duration::from_millis(20),
        permit_wait: Duration::from_millis(200),
        big: 1000,
    };

    /// A body sending `chunk` bytes every `every`, `count` times.
    fn trickle(
        chunk: usize,
        every: Duration,
        count: usize,
    ) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
        futures_util::stream::iter(0..count).then(move |_| async move {
            tokio::time::sleep(every).await;
            Ok(Bytes::from(vec![b'x'; chunk]))
        })
    }

    async fn read_all(body: impl Stream<Item = Result<Bytes, BoxError>>) -> Result<u64, BoxError> {
        let mut body = std::pin::pin!(body);
        let mut total = 0;
        while let Some(chunk) = body.next().await {
            total += chunk?.len() as u64;
        }
        Ok(total)
    }

    #[tokio::test(start_paused = true)]
    async fn a_steady_body_is_read_whole() {
        let cut = CutFlag::default();
        let body = trickle(500, Duration::from_millis(50), 20);
        let read = read_all(paced(body, FAST, Arc::new(Semaphore::new(1)), cut.clone())).await;
        assert_eq!(read.unwrap(), 10_000);
        assert_eq!(cut.get(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_body_is_cut() {
        let cut = CutFlag::default();
        let body = trickle(500, Duration::from_millis(50), 2).chain(trickle(
            500,
            Duration::from_millis(1000),
            1,
        ));
        let read = read_all(paced(body, FAST, Arc::new(Semaphore::new(1)), cut.clone())).await;
        assert!(read.is_err());
        assert_eq!(cut.get(), Some(Cut::TooSlow));
    }

    #[tokio::test(start_paused = true)]
    async fn a_trickle_under_the_minimum_rate_is_cut() {
        let cut = CutFlag::default();
        // 10 bytes every 50 ms: never silent, but 120 bytes per window where 1000 are due.
        let body = trickle(10, Duration::from_millis(50), 100);
        let started = Instant::now();
        let read = read_all(paced(body, FAST, Arc::new(Semaphore::new(1)), cut.clone())).await;
        assert!(read.is_err());
        assert_eq!(cut.get(), Some(Cut::TooSlow));
        // Cut when the first window ends, not later (paused time: exactly so).
        let took = started.elapsed();
        assert!(
            took >= FAST.window && took < FAST.window + Duration::from_millis(50),
            "{took:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_trickle_does_not_keep_the_permit_from_a_body_that_flows() {
        let permits = Arc::new(Semaphore::new(1));
        // A slow body (above the minimum rate) takes the only permit first...
        let patient = Pace {
            permit_wait: Duration::from_secs(5),
            ..FAST
        };
        // Big chunks with pauses: it takes the permit, and gives it back in each pause.
        let slow = tokio::spawn(read_all(paced(
            trickle(6000, Duration::from_millis(100), 10),
            patient,
            permits.clone(),
            CutFlag::default(),
        )));
        tokio::time::sleep(Duration::from_millis(150)).await;
        // ...and a fast one still gets it between the slow one's bytes.
        let cut = CutFlag::default();
        let fast = read_all(paced(
            trickle(1000, Duration::from_millis(1), 50),
            patient,
            permits.clone(),
            cut.clone(),
        ))
        .await;
        assert_eq!(fast.unwrap(), 50_000);
        assert_eq!(cut.get(), None);
        assert_eq!(slow.await.unwrap().unwrap(), 60_000);
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_permit_in_time_a_fast_body_is_refused_as_busy() {
        let permits = Arc::new(Semaphore::new(1));
        let _held = permits.clone().acquire_owned().await.unwrap();
        let cut = CutFlag::default();
        let body = trickle(5000, Duration::from_millis(1), 3);
        let read = read_all(paced(body, FAST, permits, cut.clone())).await;
        assert!(read.is_err());
        assert_eq!(cut.get(), Some(Cut::Busy));
    }

    #[tokio::test(start_paused = true)]
    async fn small_chunks_need_no_permit() {
        // Every permit is taken: a slow link's small chunks are still read.
        let permits = Arc::new(Semaphore::new(1));
        let _held = permits.clone().acquire_owned().await.unwrap();
        let cut = CutFlag::default();
        let body = trickle(500, Duration::from_millis(20), 20);
        let read = read_all(paced(body, FAST, permits, cut.clone())).await;
        assert_eq!(read.unwrap(), 10_000);
        assert_eq!(cut.get(), None);
    }

    #[test]
    fn a_dossier_has_two_upload_slots_given_back_when_done() {
        let gates = Gates::new(4, 1);
        let a = gates.dossier_slot("slots-test").unwrap();
        let b = gates.dossier_slot("slots-test").unwrap();
        assert!(gates.dossier_slot("slots-test").is_none());
        assert!(gates.dossier_slot("another-dossier").is_some());
        // Another server's gates are its own.
        assert!(Gates::new(4, 1).dossier_slot("slots-test").is_some());
        drop(a);
        let c = gates.dossier_slot("slots-test").unwrap();
        drop((b, c));
        assert_eq!(gates.dossiers.lock().unwrap().get("slots-test"), None);
    }
}
