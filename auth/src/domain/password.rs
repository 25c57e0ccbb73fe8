//! Password hashing: argon2id (the `argon2` crate's defaults, version 19, about
//! 19 MiB and tens of milliseconds of CPU per hash, on purpose), stored as PHC
//! strings (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`). Hashes run on the blocking
//! pool, never on the async runtime's workers, and at most `threads` at a time
//! (the memory bound): a call waits a short, bounded time for a free slot, in a
//! bounded queue, and is otherwise refused with [`Error::Busy`].

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::Password;
use crate::error::Error;

/// How many hashes may run at once, and how long and how many may wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pool {
    /// Hashes running at once (each holds ~19 MiB): about one per core.
    pub threads: usize,
    /// Calls waiting for a slot at most; past it, refused at once.
    pub queue: usize,
    /// Longest wait for a slot, then refused.
    pub wait: Duration,
}

impl Pool {
    /// One slot per core, a queue of 32 per slot, and a two-second wait.
    pub fn per_core() -> Self {
        let threads = std::thread::available_parallelism().map_or(1, usize::from);
        Self {
            threads,
            queue: threads * 32,
            wait: Duration::from_secs(2),
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
        let mut passwords = Self {
            dummy: Arc::from(""),
            slots: Arc::new(Semaphore::new(pool.threads.max(1))),
            waiting: Arc::new(AtomicUsize::new(0)),
            pool,
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
        let known = stored.is_some();
        let phc: Arc<str> = stored.map_or_else(|| self.dummy.clone(), Arc::from);
        let password = password.expose().to_vec();
        let verdict = self
            .run(move || Argon2::default().verify_password(&password, &*phc))
            .await?;
        match verdict {
            Ok(()) => Ok(known),
            Err(argon2::password_hash::Error::PasswordInvalid) => Ok(false),
            Err(e) => Err(Error::Hashing(e)),
        }
    }

    async fn hash_bytes(&self, password: Vec<u8>) -> Result<String, Error> {
        let hashed = self.run(move || Argon2::default().hash_password(&password)).await?;
        Ok(hashed?.to_string())
    }

    /// Runs `work` on the blocking pool once a slot is free. The slot is held by
    /// the blocking task itself, so a cancelled call still frees it only when
    /// the hash is done: the memory bound holds whatever the callers do.
    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, Error> {
        let slot = self.slot().await?;
        let done = tokio::task::spawn_blocking(move || {
            let _slot = slot;
            work()
        })
        .await?;
        Ok(done)
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
    use super::*;

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
        drop(held);
        assert!(
            passwords.hash(&password).await.is_ok(),
            "served again once a slot is free"
        );
    }
}
