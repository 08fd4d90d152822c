//! The upload gates: who may have a body read, and the slot of which slow body a
//! newcomer takes when none is free (see the parent module).

use std::{
    collections::{HashMap, VecDeque},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use tokio::{
    sync::{Notify, Semaphore, oneshot},
    time::{Instant, timeout_at},
};

use super::{Pace, UPLOADS_PER_CLIENT, UPLOADS_PER_DOSSIER};
use crate::counts::{Counts, Slot};

const READING_PER_CORE: usize = 16;
const FAST_PER_CORE: usize = 4;

/// How often a waiting body looks again for a slot to take.
const RETRY: Duration = Duration::from_millis(500);

fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// What one server's uploads share: made once per server (its router holds it), so
/// two servers in one process, as the tests start them, are really two.
#[derive(Clone)]
pub struct Gates {
    /// Bodies being read at all, and those waiting: a slot is taken before a byte is read.
    reading: Arc<Mutex<Reading>>,
    /// Fast bodies read at once (see [`super::paced`]).
    fast: Arc<Semaphore>,
    fast_total: usize,
    /// Uploads of each dossier being read or waiting now.
    dossiers: Counts,
    /// Bodies of each client being read or waiting now.
    clients: Counts,
    next_body: Arc<AtomicU64>,
}

/// The reading slots: who holds one, who waits for one, and which slow bodies were
/// told to give theirs to whom.
struct Reading {
    total: usize,
    free: usize,
    holders: HashMap<u64, Holder>,
    /// First come, first served, but for a slot a waiter freed by eviction.
    queue: VecDeque<(u64, oneshot::Sender<()>, Holder)>,
    /// Evicted body → the waiter its slot goes to.
    promised: HashMap<u64, u64>,
    evicted: u64,
}

#[derive(Clone)]
struct Holder {
    progress: Arc<Progress>,
    /// The network the client is in (see `clients::network_of`): what the fair share
    /// of slots is counted by.
    network: String,
}

impl Reading {
    /// Gives `slot`'s place (a body's that ended, or a waiter's that gave up) to its
    /// promised waiter, or the first one still waiting, or back to the free ones.
    fn hand_over(&mut self, slot: u64) {
        if let Some(waiter) = self.promised.remove(&slot)
            && let Some(at) = self.queue.iter().position(|(id, ..)| *id == waiter)
        {
            let (id, sender, holder) = self.queue.remove(at).expect("found");
            if sender.send(()).is_ok() {
                self.holders.insert(id, holder);
                return;
            }
        }
        while let Some((id, sender, holder)) = self.queue.pop_front() {
            if sender.send(()).is_ok() {
                self.holders.insert(id, holder);
                return;
            }
        }
        self.free += 1;
    }

    /// Tells the slowest body of the network holding the most slots to give its slot
    /// to `waiter`, when that network holds at least two more than the waiter's own
    /// (so a share only ever moves towards fairness, and equals never trade), and the
    /// body is read under the fair rate past its grace; `false` when none is so.
    fn evict_for(&mut self, waiter: u64, network: &str, pace: &Pace) -> bool {
        if self.promised.values().any(|w| *w == waiter) {
            return true;
        }
        let now = Instant::now();
        let mut held: HashMap<&str, usize> = HashMap::new();
        for (id, holder) in &self.holders {
            if !self.promised.contains_key(id) {
                *held.entry(holder.network.as_str()).or_default() += 1;
            }
        }
        let mine = held.get(network).copied().unwrap_or(0);
        let victim = self
            .holders
            .iter()
            .filter(|(id, _)| !self.promised.contains_key(*id))
            .filter_map(|(id, holder)| {
                let theirs = held[holder.network.as_str()];
                let rate = holder.progress.judged_rate(pace, now)?;
                (rate < pace.fair_rate && theirs >= mine + 2).then_some((theirs, rate, *id))
            })
            .max_by_key(|(theirs, rate, _)| (*theirs, std::cmp::Reverse(*rate)));
        let Some((_, _, victim)) = victim else {
            return false;
        };
        let progress = &self.holders[&victim].progress;
        progress.evicted.store(true, Ordering::Relaxed);
        // Stored if its reader is between two waits: it sees it at the next.
        progress.evict.notify_one();
        self.promised.insert(victim, waiter);
        self.evicted += 1;
        true
    }
}

/// Where one upload body stands, seen by its reader and by the gates.
pub struct Progress {
    pub(super) started: Instant,
    pub(super) bytes: AtomicU64,
    /// Read to its end: nothing more to gain by evicting it.
    pub(super) finished: AtomicBool,
    pub(super) evicted: AtomicBool,
    pub(super) evict: Notify,
}

impl Progress {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            started: Instant::now(),
            bytes: AtomicU64::new(0),
            finished: AtomicBool::new(false),
            evicted: AtomicBool::new(false),
            evict: Notify::new(),
        })
    }

    /// Its average rate so far, when `pace` may judge it: past the grace, still read.
    fn judged_rate(&self, pace: &Pace, now: Instant) -> Option<u64> {
        let age = now.saturating_duration_since(self.started);
        if age < pace.grace
            || self.finished.load(Ordering::Relaxed)
            || self.evicted.load(Ordering::Relaxed)
        {
            return None;
        }
        let bytes = self.bytes.load(Ordering::Relaxed);
        Some((u128::from(bytes) * 1000 / age.as_millis().max(1)) as u64)
    }
}

/// What an upload body holds while it is read (see [`Gates::body`]); all of it is
/// given back when dropped.
pub struct BodyGate {
    _dossier: Slot,
    _client: Slot,
    id: u64,
    reading: Arc<Mutex<Reading>>,
    progress: Arc<Progress>,
    /// The longest this body may hold its slot, from its start.
    hold: Duration,
}

impl BodyGate {
    pub fn progress(&self) -> Arc<Progress> {
        self.progress.clone()
    }

    pub fn hold(&self) -> Duration {
        self.hold
    }
}

impl Drop for BodyGate {
    fn drop(&mut self) {
        let mut reading = lock(&self.reading);
        reading.holders.remove(&self.id);
        reading.hand_over(self.id);
    }
}

/// A body waiting for a reading slot; if it goes away, its place in the queue, its
/// promise, and a slot handed to it meanwhile go to the next one.
struct Waiter {
    id: u64,
    reading: Arc<Mutex<Reading>>,
    slot: oneshot::Receiver<()>,
    served: bool,
}

impl Drop for Waiter {
    fn drop(&mut self) {
        if self.served {
            return;
        }
        let mut reading = lock(&self.reading);
        reading.queue.retain(|(id, ..)| *id != self.id);
        reading.promised.retain(|_, waiter| *waiter != self.id);
        // Handed a slot as it gave up (both happen under the lock): pass it on.
        if self.slot.try_recv().is_ok() {
            reading.holders.remove(&self.id);
            reading.hand_over(self.id);
        }
    }
}

/// Why a body was not let in.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// The dossier already has [`UPLOADS_PER_DOSSIER`] bodies being read.
    Dossier,
    /// The client already has [`UPLOADS_PER_CLIENT`].
    Client,
    /// No reading slot within [`Pace::permit_wait`].
    Busy,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Gates {
    /// Reading slots when `APP_UPLOAD_SLOTS` does not say: 16 per core.
    pub fn default_slots() -> usize {
        READING_PER_CORE * cores()
    }

    /// `reading` bodies read at once, 4 fast ones per core (and never more than read).
    pub fn with_slots(reading: usize) -> Self {
        Self::new(reading, (FAST_PER_CORE * cores()).min(reading))
    }

    pub fn new(reading: usize, fast: usize) -> Self {
        Self {
            reading: Arc::new(Mutex::new(Reading {
                total: reading,
                free: reading,
                holders: HashMap::new(),
                queue: VecDeque::new(),
                promised: HashMap::new(),
                evicted: 0,
            })),
            fast: Arc::new(Semaphore::new(fast)),
            fast_total: fast,
            dossiers: Counts::default(),
            clients: Counts::default(),
            next_body: Arc::default(),
        }
    }

    /// Lets a body of `dossier` from `client`, announcing `announced` bytes, be read
    /// under `pace`: a place among the dossier's and the client's bodies (past them it
    /// waits for nothing and holds nothing), then a reading slot: a free one, or a
    /// slow body's of a network holding more than its share, or one freed within
    /// `pace.permit_wait`.
    pub async fn body(
        &self,
        pace: &Pace,
        dossier: &str,
        client: &str,
        announced: u64,
    ) -> Result<BodyGate, Refused> {
        let dossier = self
            .dossiers
            .take(dossier, UPLOADS_PER_DOSSIER)
            .ok_or(Refused::Dossier)?;
        let client_slot = self
            .clients
            .take(client, UPLOADS_PER_CLIENT)
            .ok_or(Refused::Client)?;
        let id = self.next_body.fetch_add(1, Ordering::Relaxed);
        let holder = Holder {
            progress: Progress::new(),
            network: services::access::clients::network_of(client),
        };
        self.reading_slot(pace, id, holder).await?;
        // Judged from when it is read, not from when it started waiting.
        let progress = Progress::new();
        if let Some(holder) = lock(&self.reading).holders.get_mut(&id) {
            holder.progress = progress.clone();
        }
        let hold = pace.hold_base
            + Duration::from_millis(announced.saturating_mul(1000) / pace.fair_rate.max(1));
        Ok(BodyGate {
            _dossier: dossier,
            _client: client_slot,
            id,
            reading: self.reading.clone(),
            progress,
            hold,
        })
    }

    /// Makes body `id` a holder of a reading slot, waiting at most `pace.permit_wait`.
    async fn reading_slot(&self, pace: &Pace, id: u64, holder: Holder) -> Result<(), Refused> {
        let network = holder.network.clone();
        let (sender, receiver) = oneshot::channel();
        {
            let mut reading = lock(&self.reading);
            if reading.free > 0 {
                reading.free -= 1;
                reading.holders.insert(id, holder);
                return Ok(());
            }
            reading.queue.push_back((id, sender, holder));
            reading.evict_for(id, &network, pace);
        }
        let mut waiter = Waiter {
            id,
            reading: self.reading.clone(),
            slot: receiver,
            served: false,
        };
        let until = Instant::now() + pace.permit_wait;
        loop {
            let next = (Instant::now() + RETRY).min(until);
            if let Ok(handed) = timeout_at(next, &mut waiter.slot).await {
                // A closed channel cannot happen while the waiter is queued; refuse.
                waiter.served = handed.is_ok();
                return handed.map_err(|_| Refused::Busy);
            }
            if Instant::now() >= until {
                // `waiter`'s drop gives up its place, or passes on a slot handed late.
                return Err(Refused::Busy);
            }
            // Bodies age past their grace, shares change: look again.
            lock(&self.reading).evict_for(id, &network, pace);
        }
    }

    /// What `dossier` and `client` are counted for, and the slots held, for tests.
    #[cfg(test)]
    pub(super) fn counted(&self, dossier: &str, client: &str) -> (Option<u32>, Option<u32>, usize) {
        let holders = lock(&self.reading).holders.len();
        (self.dossiers.of(dossier), self.clients.of(client), holders)
    }

    /// The permits fast bodies share, for [`super::paced`].
    pub fn read_permits(&self) -> Arc<Semaphore> {
        self.fast.clone()
    }

    /// What the upload gate holds now, for `/metrics`.
    pub fn load(&self) -> Load {
        let reading = lock(&self.reading);
        Load {
            reading: reading.total - reading.free,
            waiting: reading.queue.len(),
            fast: self
                .fast_total
                .saturating_sub(self.fast.available_permits()),
            evicted: reading.evicted,
        }
    }
}

/// The upload gate's figures: bodies being read, uploads waiting for a slot, fast
/// bodies holding a permit, bodies evicted since the start.
pub struct Load {
    pub reading: usize,
    pub waiting: usize,
    pub fast: usize,
    pub evicted: u64,
}
