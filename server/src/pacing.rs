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
//!
//! A patient attacker keeps many bodies just above that floor. So one client (the key
//! the limits use) reads [`UPLOADS_PER_CLIENT`] bodies at most; a body holds its slot
//! for [`Pace::hold_base`] plus its announced size at [`Pace::fair_rate`], then is cut;
//! and when no reading slot is free, a new body takes the slot of the slowest body
//! read under [`Pace::fair_rate`] on average (past [`Pace::grace`]): it hears « busy »
//! and, over tus, resumes from what was kept. A phone at 50 Ko/s is never the one.

use std::{
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicU8, Ordering},
    },
    time::Duration,
};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use tokio::{
    sync::{OwnedSemaphorePermit, Semaphore},
    time::{Instant, error::Elapsed, timeout, timeout_at},
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
    /// The average rate under which a body may lose its slot to a new one, and at
    /// which its announced size buys it time.
    pub fair_rate: u64,
    /// What any body may take besides its size at `fair_rate`.
    pub hold_base: Duration,
    /// A body's first moments (a connection gathering speed), never judged.
    pub grace: Duration,
}

/// The deadline night's: 30 s without a byte, or under about 1 Ko/s over 30 s, is cut.
pub const NIGHT: Pace = Pace {
    idle: Duration::from_secs(30),
    window: Duration::from_secs(30),
    min_bytes: 30 * 1024,
    hold: Duration::from_millis(50),
    permit_wait: Duration::from_secs(10),
    big: 16 * 1024,
    fair_rate: 20 * 1024,
    hold_base: Duration::from_secs(60),
    grace: Duration::from_secs(5),
};

/// At most this many uploads of one dossier are read at once (per server).
pub const UPLOADS_PER_DOSSIER: u32 = 2;

/// At most this many bodies from one client (an address, an IPv6 /64) are read at
/// once (per server): a household's or an office's candidates, not an attacker's dozens.
pub const UPLOADS_PER_CLIENT: u32 = 8;

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

mod gates;

pub use gates::{BodyGate, Gates, Progress, Refused};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

struct Reader<S> {
    inner: Pin<Box<S>>,
    pace: Pace,
    permits: Arc<Semaphore>,
    permit: Option<OwnedSemaphorePermit>,
    progress: Arc<Progress>,
    last_bytes: Instant,
    window_start: Instant,
    window_bytes: u64,
    /// When the body has held its slot as long as its size allows.
    until: Instant,
    cut: CutFlag,
    done: bool,
    /// The body's length when its head announced it, and the bytes read so far.
    length: Option<u64>,
    read: u64,
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
            Cut::Busy => "no upload permit in time, or the slot went to another body".into(),
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

    /// The next item, or `Err` when nothing came by `deadline`.
    async fn wait(&mut self, deadline: Instant) -> Result<Option<Result<Bytes, E>>, Elapsed> {
        if self.permit.is_some() {
            match timeout(self.pace.hold, self.inner.next()).await {
                Ok(item) => return Ok(item),
                // Nothing for a moment: let a body that flows use the permit.
                Err(_) => self.permit = None,
            }
        }
        timeout_at(deadline, self.inner.next()).await
    }

    async fn next_chunk(&mut self) -> Option<Result<Bytes, BoxError>> {
        if self.done {
            return None;
        }
        let progress = self.progress.clone();
        let item = loop {
            if progress.evicted.load(Ordering::Relaxed) {
                return self.stop(Cut::Busy);
            }
            let deadline = (self.last_bytes + self.pace.idle)
                .min(self.window_start + self.pace.window)
                .min(self.until);
            let waited = tokio::select! {
                waited = self.wait(deadline) => Some(waited),
                () = progress.evict.notified() => None,
            };
            let Some(waited) = waited else {
                return self.stop(Cut::Busy);
            };
            let now = Instant::now();
            match waited {
                Ok(item) => break item,
                Err(_) if now >= self.last_bytes + self.pace.idle || now >= self.until => {
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
                progress
                    .bytes
                    .fetch_add(chunk.len() as u64, Ordering::Relaxed);
                if !self.window_passes(now) || now >= self.until {
                    return self.stop(Cut::TooSlow);
                }
                self.read += chunk.len() as u64;
                if Some(self.read) == self.length {
                    // Its last byte: the checks, the commit and the database that follow
                    // read nothing more, so they hold no permit another body waits for
                    // (the handler may never poll the end of the stream).
                    self.permit = None;
                    progress.finished.store(true, Ordering::Relaxed);
                } else if chunk.len() < self.pace.big {
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
                    self.until += waited;
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
                progress.finished.store(true, Ordering::Relaxed);
                None
            }
        }
    }
}

/// `body` read under `pace`, sharing `permits`, for at most `hold`; `progress` is what
/// the gates see of it; `cut` says why it stopped, if it was cut; `length`, the bytes
/// its head announced, if it did.
pub fn paced<S, E>(
    body: S,
    pace: Pace,
    permits: Arc<Semaphore>,
    (progress, hold): (Arc<Progress>, Duration),
    cut: CutFlag,
    length: Option<u64>,
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
        until: progress.started + hold,
        progress,
        last_bytes: now,
        window_start: now,
        window_bytes: 0,
        cut,
        done: false,
        length,
        read: 0,
    };
    futures_util::stream::unfold(reader, |mut reader| async move {
        let item = reader.next_chunk().await?;
        Some((item, reader))
    })
}

#[cfg(test)]
mod tests;
