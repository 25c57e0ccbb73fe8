//! Password hashing: argon2id (the `argon2` crate's defaults, version 19),
//! stored as PHC strings (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`). Hashing and
//! verifying take tens of milliseconds of CPU on purpose, so they always run on
//! the blocking pool, never on the async runtime's workers.

use std::sync::Arc;

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

use super::Password;
use crate::error::Error;

/// Hashes and verifies passwords (and service-account secrets).
#[derive(Debug, Clone)]
pub struct Passwords {
    /// The hash of a random password, verified against when there is no stored
    /// hash, so that an unknown account costs as much time as a wrong password.
    dummy: Arc<str>,
}

impl Passwords {
    /// Computes the dummy hash once.
    pub async fn new() -> Result<Self, Error> {
        let mut random = [0u8; 32];
        getrandom::fill(&mut random)?;
        let dummy = hash_blocking(random.to_vec()).await?;
        Ok(Self { dummy: dummy.into() })
    }

    /// The argon2id PHC string of `password`, with a fresh random salt.
    pub async fn hash(&self, password: &Password) -> Result<String, Error> {
        hash_blocking(password.expose().to_vec()).await
    }

    /// Whether `password` matches `stored`. With no stored hash, the password is
    /// checked against the dummy hash (and `false` returned), taking the same time.
    pub async fn verify(&self, password: &Password, stored: Option<&str>) -> Result<bool, Error> {
        let known = stored.is_some();
        let phc: Arc<str> = stored.map_or_else(|| self.dummy.clone(), Arc::from);
        let password = password.expose().to_vec();
        let verdict = tokio::task::spawn_blocking(move || Argon2::default().verify_password(&password, &*phc)).await?;
        match verdict {
            Ok(()) => Ok(known),
            Err(argon2::password_hash::Error::PasswordInvalid) => Ok(false),
            Err(e) => Err(Error::Hashing(e)),
        }
    }
}

async fn hash_blocking(password: Vec<u8>) -> Result<String, Error> {
    let hashed = tokio::task::spawn_blocking(move || Argon2::default().hash_password(&password)).await?;
    Ok(hashed?.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_is_an_argon2id_phc_string_that_verifies_only_its_password() {
        let passwords = Passwords::new().await.unwrap();
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
        let passwords = Passwords::new().await.unwrap();
        let password = Password::new_password("correct horse battery").unwrap();
        assert!(passwords.verify(&password, Some("not-a-phc-string")).await.is_err());
    }
}
