//! Password hashing: argon2id (version 19, 7 MiB and 5 passes: tens of
//! milliseconds of CPU per hash, on purpose; see [`argon::params`]), stored as
//! PHC strings (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`). Hashes run on
//! `threads` dedicated threads, never on the async runtime's workers nor on
//! tokio's blocking pool, and each thread computes in one argon2 memory of its
//! own, allocated once and reused (a fresh 64-byte-aligned allocation of that
//! size per hash fragments glibc's heap: measured, the process grew by the
//! size of one per hash). That is the memory bound: about `threads` × 7 MiB. A call waits a
//! short, bounded time for a free slot, in a bounded queue, and is otherwise
//! refused with [`Error::Busy`].

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use argon2::Block;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

mod argon;

use argon::{hash_in, verify_in};

use super::Password;
use crate::error::Error;

/// How many hashes may run at once, and how long and how many may wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pool {
    /// Hashes running at once (each holds ~7 MiB): about one per core.
    pub threads: usize,
    /// Calls waiting for a slot at most; past it, refused at once.
    pub queue: usize,
    /// Longest wait for a slot, then refused.
    pub wait: Duration,
}

/// Calls that may wait for a slot, per hashing thread, when no queue length is set.
const QUEUE_PER_THREAD: usize = 32;

impl Pool {
    /// `threads` slots (by default, one per core), a queue of `queue` (by
    /// default, 32 per slot), and waits of at most `wait`.
    pub fn sized(threads: Option<usize>, queue: Option<usize>, wait: Duration) -> Self {
        let per_core = || std::thread::available_parallelism().map_or(1, usize::from);
        let threads = threads.unwrap_or_else(per_core).max(1);
        Self {
            threads,
            queue: queue.unwrap_or(threads * QUEUE_PER_THREAD),
            wait,
        }
    }
}

/// Hashes and verifies passwords (and service-account secrets).
#[derive(Debug, Clone)]
pub struct Passwords {
    /// The hash of a random password, verified against when there is no stored
    /// hash, so that an unknown account costs as much time as a wrong password.
    dummy: Arc<str>,
    slots: Arc<Semaphore>,
    waiting: Arc<AtomicUsize>,
    pool: Pool,
    /// Work for the hashing threads; never more than `threads` jobs, one per slot.
    jobs: mpsc::Sender<Job>,
}

/// A hash to run in a thread's argon2 memory, holding the slot it was admitted
/// with until it is done.
type Job = Box<dyn FnOnce(&mut Vec<Block>) + Send>;

/// Bytes of salt in a new hash.
const SALT_LEN: usize = 16;

/// Starts the hashing threads; they end when the last sender is dropped.
fn start_threads(threads: usize) -> Result<mpsc::Sender<Job>, Error> {
    let (jobs, queue) = mpsc::channel::<Job>();
    let queue = Arc::new(Mutex::new(queue));
    for n in 0..threads {
        let queue = queue.clone();
        std::thread::Builder::new()
            .name(format!("argon2-{n}"))
            .spawn(move || {
                let mut memory = Vec::new();
                loop {
                    let next = queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner).recv();
                    match next {
                        Ok(job) => job(&mut memory),
                        Err(_) => break,
                    }
                }
            })
            .map_err(Error::Thread)?;
    }
    Ok(jobs)
}

/// Takes one waiter out of the queue when dropped (also when the call is cancelled).
struct Queued(Arc<AtomicUsize>);

impl Drop for Queued {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Passwords {
    /// Sets up the pool and computes the dummy hash once.
    pub async fn new(pool: Pool) -> Result<Self, Error> {
        let threads = pool.threads.max(1);
        let mut passwords = Self {
            dummy: Arc::from(""),
            slots: Arc::new(Semaphore::new(threads)),
            waiting: Arc::new(AtomicUsize::new(0)),
            pool,
            jobs: start_threads(threads)?,
        };
        let mut random = [0u8; 32];
        getrandom::fill(&mut random)?;
        let dummy = passwords.hash_bytes(random.to_vec()).await?;
        passwords.dummy = dummy.into();
        Ok(passwords)
    }

    /// The argon2id PHC string of `password`, with a fresh random salt.
    pub async fn hash(&self, password: &Password) -> Result<String, Error> {
        self.hash_bytes(password.expose().to_vec()).await
    }

    /// Whether `password` matches `stored`. With no stored hash, the password is
    /// checked against the dummy hash (and `false` returned), taking the same time.
    pub async fn verify(&self, password: &Password, stored: Option<&str>) -> Result<bool, Error> {
        self.verify_with(password, stored, || {}).await
    }

    /// As [`Passwords::verify`], calling `started` once the hash is handed to a
    /// hashing thread (it then runs to the end even if this call is cancelled);
    /// never called when the call is refused or cancelled before.
    pub async fn verify_with(
        &self,
        password: &Password,
        stored: Option<&str>,
        started: impl FnOnce(),
    ) -> Result<bool, Error> {
        let known = stored.is_some();
        let phc: Arc<str> = stored.map_or_else(|| self.dummy.clone(), Arc::from);
        let password = password.expose().to_vec();
        let matches = self
            .run_with(move |memory| verify_in(memory, &password, &phc), started)
            .await??;
        Ok(matches && known)
    }

    async fn hash_bytes(&self, password: Vec<u8>) -> Result<String, Error> {
        let mut salt = [0u8; SALT_LEN];
        getrandom::fill(&mut salt)?;
        Ok(self.run(move |memory| hash_in(memory, &password, &salt)).await??)
    }

    /// Runs `work` on a hashing thread once a slot is free. The slot is held by
    /// the job itself, so a cancelled call still frees it only when the hash is
    /// done: the memory bound holds whatever the callers do.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
    ) -> Result<T, Error> {
        self.run_with(work, || {}).await
    }

    /// As [`Passwords::run`], calling `started` once the job is handed over.
    async fn run_with<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
        started: impl FnOnce(),
    ) -> Result<T, Error> {
        let slot = self.slot().await?;
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |memory| {
            let done = work(memory);
            drop(slot);
            let _ = tx.send(done);
        });
        self.jobs.send(job).map_err(|_| Error::HashingStopped)?;
        started();
        rx.await.map_err(|_| Error::HashingStopped)
    }

    async fn slot(&self) -> Result<OwnedSemaphorePermit, Error> {
        if let Ok(slot) = self.slots.clone().try_acquire_owned() {
            return Ok(slot);
        }
        let busy = Error::Busy(self.pool.wait.max(Duration::from_secs(1)));
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.pool.queue {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(busy);
        }
        let _queued = Queued(self.waiting.clone());
        match tokio::time::timeout(self.pool.wait, self.slots.clone().acquire_owned()).await {
            Ok(Ok(slot)) => Ok(slot),
            _ => Err(busy),
        }
    }
}

#[cfg(test)]
mod tests {
    use argon2::Argon2;

    use super::*;

    impl Pool {
        /// One slot per core, a queue of 32 per slot, and a two-second wait.
        fn per_core() -> Self {
            Self::sized(None, None, Duration::from_secs(2))
        }
    }

    #[tokio::test]
    async fn a_hash_is_an_argon2id_phc_string_that_verifies_only_its_password() {
        let passwords = Passwords::new(Pool::per_core()).await.unwrap();
        let right = Password::new_password("correct horse battery").unwrap();
        let wrong = Password::new_password("correct horse battery!").unwrap();

        let hash = passwords.hash(&right).await.unwrap();

        assert!(hash.starts_with("$argon2id$v=19$"), "{hash}");
        assert!(passwords.verify(&right, Some(&hash)).await.unwrap());
        assert!(!passwords.verify(&wrong, Some(&hash)).await.unwrap());
        assert!(
            !passwords.verify(&right, None).await.unwrap(),
            "no account never verifies"
        );
    }

    #[tokio::test]
    async fn hashes_of_the_argon2_crate_verify_and_ours_verify_with_it() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let passwords = Passwords::new(Pool::per_core()).await.unwrap();
        let password = Password::new_password("correct horse battery").unwrap();
        let theirs = Argon2::default().hash_password(password.expose()).unwrap().to_string();
        let ours = passwords.hash(&password).await.unwrap();

        assert!(passwords.verify(&password, Some(&theirs)).await.unwrap());
        assert!(
            Argon2::default()
                .verify_password(password.expose(), ours.as_str())
                .is_ok()
        );
        assert_eq!(ours.split('$').nth(3), Some("m=7168,t=5,p=1"), "{ours}");
        assert_eq!(theirs.split('$').nth(3), Some("m=19456,t=2,p=1"), "{theirs}");
    }

    #[tokio::test]
    async fn a_corrupt_stored_hash_is_an_error_not_a_refusal() {
        let passwords = Passwords::new(Pool::per_core()).await.unwrap();
        let password = Password::new_password("correct horse battery").unwrap();
        assert!(passwords.verify(&password, Some("not-a-phc-string")).await.is_err());
    }

    #[tokio::test]
    async fn a_full_pool_with_a_full_queue_refuses_with_busy() {
        let pool = Pool {
            threads: 1,
            queue: 0,
            wait: Duration::from_millis(1),
        };
        let passwords = Passwords::new(pool).await.unwrap();
        let held = passwords.slots.clone().try_acquire_owned().unwrap();
        let password = Password::new_password("correct horse battery").unwrap();

        let refused = passwords.hash(&password).await.unwrap_err();

        assert!(matches!(refused, Error::Busy(_)), "{refused:?}");
        let mut started = false;
        let refused = passwords.verify_with(&password, None, || started = true).await;
        assert!(matches!(refused, Err(Error::Busy(_))), "{refused:?}");
        assert!(!started, "a refused verification never started hashing");
        drop(held);
        assert!(
            passwords.hash(&password).await.is_ok(),
            "served again once a slot is free"
        );
        let mut started = false;
        assert!(!passwords.verify_with(&password, None, || started = true).await.unwrap());
        assert!(started);
    }
}
