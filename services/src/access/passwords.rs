//! argon2id password hashing on a few threads of its own, at a lower scheduling
//! priority: a storm of logins waits its turn instead of starving uploads and page
//! renders, which always come first.

use std::{
    collections::VecDeque,
    sync::{Arc, Condvar, Mutex},
};

use argon2::{
    Algorithm, Argon2, Block, Params, PasswordHash, Version,
    password_hash::{Output, ParamsString, SaltString},
};
type Job = Box<dyn FnOnce() + Send>;

/// Logins waiting for a hashing thread, at most. Logins come first, so this only
/// bounds a login storm: past it, a login is answered « très sollicité » at once
/// rather than after a wait no one would sit through.
pub const LOGINS_WAITING: usize = 256;
/// Other hashes (a password chosen in the wizard, a reset) waiting, at most: they
/// pass after every login, and a flood of them cannot delay one.
pub const OTHERS_WAITING: usize = 32;

/// Which queue a hash waits in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Priority {
    Login,
    Other,
}

#[derive(Default)]
struct Queues {
    logins: VecDeque<Job>,
    others: VecDeque<Job>,
    stopped: bool,
}

#[derive(Default)]
struct Shared {
    queues: Mutex<Queues>,
    ready: Condvar,
}

/// The hashing threads and their two bounded queues; the threads end when the last
/// handle is dropped.
struct Workers {
    shared: Arc<Shared>,
    logins_waiting: usize,
    others_waiting: usize,
}

impl Drop for Workers {
    fn drop(&mut self) {
        self.shared
            .queues
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .stopped = true;
        self.shared.ready.notify_all();
    }
}

impl Workers {
    fn start(
        count: usize,
        logins_waiting: usize,
        others_waiting: usize,
        memory: Arc<Memory>,
    ) -> Self {
        let shared = Arc::new(Shared::default());
        for i in 0..count.max(1) {
            let (shared, memory) = (shared.clone(), memory.clone());
            std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || {
                    lower_priority();
                    loop {
                        let job = {
                            let mut q = shared.queues.lock().unwrap_or_else(|e| e.into_inner());
                            loop {
                                if let Some(job) =
                                    q.logins.pop_front().or_else(|| q.others.pop_front())
                                {
                                    break job;
                                }
                                if q.stopped {
                                    return;
                                }
                                let (guard, waited) = shared
                                    .ready
                                    .wait_timeout(q, MEMORY_KEPT_IDLE)
                                    .unwrap_or_else(|e| e.into_inner());
                                q = guard;
                                if waited.timed_out() {
                                    memory.give_back();
                                }
                            }
                        };
                        job();
                    }
                })
                .expect("start a hashing thread");
        }
        Self {
            shared,
            logins_waiting,
            others_waiting,
        }
    }

    async fn run<T: Send + 'static>(
        &self,
        priority: Priority,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, PasswordError> {
        let (done, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = done.send(f());
        });
        {
            let mut q = self.shared.queues.lock().unwrap_or_else(|e| e.into_inner());
            let (queue, max) = match priority {
                Priority::Login => (&mut q.logins, self.logins_waiting),
                Priority::Other => (&mut q.others, self.others_waiting),
            };
            if queue.len() >= max {
                tracing::warn!(?priority, waiting = queue.len(), "hashing queue full");
                return Err(PasswordError::Busy);
            }
            queue.push_back(job);
        }
        self.shared.ready.notify_one();
        result
            .await
            .map_err(|_| PasswordError::Hash("a hashing thread stopped".into()))
    }

    /// Hashes waiting now (logins, others), for the tests and the bench.
    fn waiting(&self) -> (usize, usize) {
        let q = self.shared.queues.lock().unwrap_or_else(|e| e.into_inner());
        (q.logins.len(), q.others.len())
    }
}

/// Nice 10 for the calling thread (Linux gives each thread its own nice value): the
/// scheduler then lets request handling run first whenever both want a core.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority only reads its arguments; `0` names the calling thread.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, 10);
    }
}

/// OWASP's minimum for argon2id: 19 MiB, 2 passes, 1 lane.
const MEMORY_KIB: u32 = 19 * 1024;
const PASSES: u32 = 2;
const LANES: u32 = 1;

#[derive(Clone)]
pub struct Passwords {
    workers: Arc<Workers>,
    memory: Arc<Memory>,
    /// A hash of nothing, verified when the dossier does not exist so that an unknown
    /// dossier takes as long to refuse as a wrong password.
    decoy: Arc<str>,
}

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("password hashing failed: {0}")]
    Hash(String),
    /// Too many hashes are waiting: the caller answers « très sollicité » (503).
    #[error("too many password hashes waiting")]
    Busy,
}

impl From<argon2::Error> for PasswordError {
    fn from(e: argon2::Error) -> Self {
        Self::Hash(e.to_string())
    }
}

impl From<argon2::password_hash::Error> for PasswordError {
    fn from(e: argon2::password_hash::Error) -> Self {
        Self::Hash(e.to_string())
    }
}

/// argon2's working memory (19 MiB a hash), kept from one hash to the next while
/// logins come, and given back to the system after [`MEMORY_KEPT_IDLE`] without one:
/// uploads then have those 19 MiB. Reused, it is at most one buffer per hashing
/// thread. (Before the server fixed glibc's mmap threshold, each buffer freed stayed
/// in the process: the benchmark saw it grow by about 20 MiB per login.)
#[derive(Default)]
struct Memory(Mutex<Vec<Vec<Block>>>);

/// How long a hashing thread waits without work before the buffers go back: a storm
/// of logins keeps them; a login after a quiet spell allocates its own again (its
/// pages are touched by the hash anyway).
const MEMORY_KEPT_IDLE: std::time::Duration = std::time::Duration::from_secs(1);

impl Memory {
    fn give_back(&self) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// Buffers kept now.
    #[cfg(test)]
    fn kept(&self) -> usize {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    fn with<T>(&self, blocks: usize, f: impl FnOnce(&mut [Block]) -> T) -> T {
        let mut buffer = self
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop()
            .unwrap_or_default();
        if buffer.len() < blocks {
            buffer.resize(blocks, Block::default());
        }
        let result = f(&mut buffer[..blocks]);
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(buffer);
        result
    }
}

fn params() -> Params {
    Params::new(MEMORY_KIB, PASSES, LANES, None).expect("valid argon2 parameters")
}

/// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`), as argon2's own
/// `hash_password` writes it, computed in `memory`.
fn hash_now(password: &str, memory: &mut [Block]) -> Result<String, PasswordError> {
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    let mut raw_salt = [0u8; 64];
    let salt_bytes = salt.as_salt().decode_b64(&mut raw_salt)?;
    let mut out = [0u8; 32];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params()).hash_password_into_with_memory(
        password.as_bytes(),
        salt_bytes,
        &mut out,
        memory,
    )?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params())?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out)?),
    };
    Ok(phc.to_string())
}

/// Whether `password` matches, and whether the stored hash should be redone because
/// the parameters changed since it was made.
fn verify_now(password: &str, phc: &str, memory: &Memory) -> (bool, bool) {
    let check = || -> Result<(bool, bool), PasswordError> {
        let parsed = PasswordHash::new(phc)?;
        let algorithm = Algorithm::try_from(parsed.algorithm)?;
        let version = parsed
            .version
            .map(Version::try_from)
            .transpose()?
            .unwrap_or_default();
        let stored = Params::try_from(&parsed)?;
        let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
            return Ok((false, false));
        };
        let mut raw_salt = [0u8; 64];
        let salt_bytes = salt.decode_b64(&mut raw_salt)?;
        let mut out = vec![0u8; expected.len()];
        memory.with(stored.block_count(), |blocks| {
            Argon2::new(algorithm, version, stored.clone()).hash_password_into_with_memory(
                password.as_bytes(),
                salt_bytes,
                &mut out,
                blocks,
            )
        })?;
        // Output's equality is constant-time.
        let ok = Output::new(&out)? == expected;
        let current = algorithm == Algorithm::Argon2id
            && stored.m_cost() == MEMORY_KIB
            && stored.t_cost() == PASSES
            && stored.p_cost() == LANES;
        Ok((ok, ok && !current))
    };
    check().unwrap_or((false, false))
}

impl Passwords {
    /// `concurrency`: how many hashes may run at once, each on a thread of its own.
    pub fn new(concurrency: usize) -> Result<Self, PasswordError> {
        Self::with_queues(concurrency, LOGINS_WAITING, OTHERS_WAITING)
    }

    /// With other queue bounds (tests fill them).
    pub fn with_queues(
        concurrency: usize,
        logins_waiting: usize,
        others_waiting: usize,
    ) -> Result<Self, PasswordError> {
        let memory = Arc::new(Memory::default());
        let decoy = memory.with(params().block_count(), |m| hash_now("", m))?;
        Ok(Self {
            workers: Arc::new(Workers::start(
                concurrency,
                logins_waiting,
                others_waiting,
                memory.clone(),
            )),
            memory,
            decoy: decoy.into(),
        })
    }

    /// Hashes waiting for a thread now: (logins, others).
    pub fn waiting(&self) -> (usize, usize) {
        self.workers.waiting()
    }

    /// Hashes a new password (wizard, reset, accounts), after every login waiting.
    pub async fn hash(&self, password: &str) -> Result<String, PasswordError> {
        let password = password.to_string();
        let memory = self.memory.clone();
        self.workers
            .run(Priority::Other, move || {
                memory.with(params().block_count(), |m| hash_now(&password, m))
            })
            .await?
    }

    /// Checks a login's `password` against `phc`, or against the decoy when there is
    /// no account; logins pass before every other hash.
    pub async fn verify_login(
        &self,
        password: &str,
        phc: Option<&str>,
    ) -> Result<Verified, PasswordError> {
        let password = password.to_string();
        let exists = phc.is_some();
        let phc: Arc<str> = phc.map(Arc::from).unwrap_or_else(|| self.decoy.clone());
        let memory = self.memory.clone();
        self.workers
            .run(Priority::Login, move || {
                let (ok, stale) = verify_now(&password, &phc, &memory);
                let rehash = if ok && stale {
                    Some(memory.with(params().block_count(), |m| hash_now(&password, m))?)
                } else {
                    None
                };
                Ok(Verified {
                    ok: ok && exists,
                    rehash,
                })
            })
            .await?
    }
}

pub struct Verified {
    pub ok: bool,
    /// A new hash to store when the old one used outdated parameters.
    pub rehash: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::{PasswordHasher as _, PasswordVerifier as _};

    #[tokio::test]
    async fn hashes_are_those_of_the_argon2_crate_both_ways() {
        let p = Passwords::new(1).unwrap();
        let ours = p.hash("cheval correct agrafe").await.unwrap();
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params());
        argon
            .verify_password(b"cheval correct agrafe", &PasswordHash::new(&ours).unwrap())
            .expect("argon2 accepts our hash");
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        let theirs = argon
            .hash_password(b"cheval correct agrafe", &salt)
            .unwrap()
            .to_string();
        let v = p
            .verify_login("cheval correct agrafe", Some(&theirs))
            .await
            .unwrap();
        assert!(v.ok && v.rehash.is_none());
        assert!(!p.verify_login("cheval", Some(&theirs)).await.unwrap().ok);
        assert!(
            !p.verify_login("cheval", Some("$argon2id$garbage"))
                .await
                .unwrap()
                .ok
        );
    }

    #[tokio::test]
    async fn hashes_are_argon2id_phc_strings_with_owasp_parameters() {
        let p = Passwords::new(2).unwrap();
        let phc = p.hash("cheval correct agrafe").await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(
            p.verify_login("cheval correct agrafe", Some(&phc))
                .await
                .unwrap()
                .ok
        );
        assert!(
            !p.verify_login("cheval correct agrafé", Some(&phc))
                .await
                .unwrap()
                .ok
        );
        // No account: refused, even with the decoy's own password.
        assert!(!p.verify_login("", None).await.unwrap().ok);
    }

    /// Holds the only hashing thread until the returned sender is dropped.
    async fn hold_the_thread(p: &Passwords) -> std::sync::mpsc::Sender<()> {
        let (release, held) = std::sync::mpsc::channel::<()>();
        let (started, running) = tokio::sync::oneshot::channel();
        let workers = p.workers.clone();
        tokio::spawn(async move {
            workers
                .run(Priority::Other, move || {
                    let _ = started.send(());
                    let _ = held.recv();
                })
                .await
        });
        running.await.unwrap();
        release
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_queue_answers_busy_at_once_instead_of_waiting() {
        // One thread, busy; one other hash may wait: of six sent, one waits and five
        // are told « busy » at once (an unbounded queue made them all wait).
        let p = Passwords::with_queues(1, 1, 1).unwrap();
        let release = hold_the_thread(&p).await;
        let sent: Vec<_> = (0..6)
            .map(|_| {
                let p = p.clone();
                tokio::spawn(async move { p.hash("cheval correct agrafe").await })
            })
            .collect();
        while p.waiting().1 < 1 {
            tokio::task::yield_now().await;
        }
        // Those refused answer without the thread, which is still held.
        let (mut busy, mut waiting) = (0, Vec::new());
        for mut s in sent {
            match tokio::time::timeout(std::time::Duration::from_secs(2), &mut s).await {
                Ok(result) => {
                    assert!(matches!(result.unwrap(), Err(PasswordError::Busy)));
                    busy += 1;
                }
                Err(_) => waiting.push(s),
            }
        }
        assert_eq!((busy, waiting.len()), (5, 1));
        drop(release);
        waiting.pop().unwrap().await.unwrap().unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn logins_pass_before_other_hashes_waiting() {
        let p = Passwords::with_queues(1, 8, 8).unwrap();
        let release = hold_the_thread(&p).await;
        let order = Arc::new(Mutex::new(Vec::new()));
        let job = |priority: Priority, name: &'static str| {
            let (workers, order) = (p.workers.clone(), order.clone());
            tokio::spawn(async move {
                workers
                    .run(priority, move || order.lock().unwrap().push(name))
                    .await
            })
        };
        let mut jobs: Vec<_> = (0..5).map(|_| job(Priority::Other, "other")).collect();
        while p.waiting().1 < 5 {
            tokio::task::yield_now().await;
        }
        jobs.push(job(Priority::Login, "login"));
        while p.waiting().0 < 1 {
            tokio::task::yield_now().await;
        }
        drop(release);
        for j in jobs {
            j.await.unwrap().unwrap();
        }
        // First in, first out ran every other hash before the login.
        assert_eq!(order.lock().unwrap().first(), Some(&"login"));
    }

    #[tokio::test]
    async fn a_quiet_second_gives_the_hashing_memory_back() {
        let p = Passwords::new(1).unwrap();
        for _ in 0..3 {
            assert!(!p.verify_login("x", None).await.unwrap().ok);
            assert_eq!(p.memory.kept(), 1, "kept while logins come");
            tokio::time::sleep(MEMORY_KEPT_IDLE * 2 + std::time::Duration::from_millis(500)).await;
            assert_eq!(p.memory.kept(), 0, "given back after a quiet second");
        }
        // A login after a quiet spell hashes as well as any.
        let phc = p.hash("cheval correct agrafe").await.unwrap();
        assert!(
            p.verify_login("cheval correct agrafe", Some(&phc))
                .await
                .unwrap()
                .ok
        );
    }

    #[tokio::test]
    async fn an_outdated_hash_is_redone_at_login() {
        let p = Passwords::new(1).unwrap();
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        let weak = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8 * 1024, 1, 1, None).unwrap(),
        )
        .hash_password(b"cheval correct agrafe", &salt)
        .unwrap()
        .to_string();
        let v = p
            .verify_login("cheval correct agrafe", Some(&weak))
            .await
            .unwrap();
        assert!(v.ok);
        let new = v.rehash.expect("a new hash");
        assert!(new.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(
            p.verify_login("x", Some(&weak))
                .await
                .unwrap()
                .rehash
                .is_none()
        );
    }
}
