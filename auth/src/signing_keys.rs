//! The token signing keys: from configuration (`kid=SEED,…`, the first one
//! signs, all are published), or, when none is configured, generated on first
//! start and kept in the auth database so that a local restart still verifies
//! the tokens it issued before.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use sha2::{Digest, Sha256};
use travel::jwt::{KeyPair, PublicKey};
use travel::types::UnixMillis;

use crate::store::Store;

/// The key that signs new tokens and every key that verifies them.
#[derive(Debug, Clone)]
pub struct SigningKeys {
    /// Signs new tokens.
    signer: KeyPair,
    /// Published by GetSigningKeys: the signer first, then the keys being retired.
    published: Vec<PublicKey>,
}

/// Why configured keys were refused. Never shows a seed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// No key at all.
    #[error("no signing key configured (expected kid=SEED,…)")]
    Empty,
    /// An entry is not `kid=SEED`.
    #[error("signing key entry {0} is not `kid=SEED`")]
    Shape(usize),
    /// A kid with characters outside `A-Z a-z 0-9 . _ : -`, or too long.
    #[error("signing key entry {0}: the kid must be 1 to 64 characters from A-Z a-z 0-9 . _ : -")]
    Kid(usize),
    /// A seed that is not 32 bytes of base64url without padding.
    #[error("signing key entry {0}: the seed must be 32 bytes in base64url without padding (43 characters)")]
    Seed(usize),
    /// Two keys with one kid.
    #[error("signing key id `{0}` is configured twice")]
    Duplicate(String),
}

impl SigningKeys {
    /// Keys from `kid=SEED` entries separated by commas or new lines; the first signs.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let mut keys: Vec<KeyPair> = Vec::new();
        let entries = text.split([',', '\n']).map(str::trim).filter(|e| !e.is_empty());
        for (n, entry) in entries.enumerate().map(|(i, e)| (i + 1, e)) {
            let (kid, seed) = entry.split_once('=').ok_or(KeyError::Shape(n))?;
            let kid = travel::types::parse_id(kid.trim()).map_err(|_| KeyError::Kid(n))?;
            let seed = B64.decode(seed.trim()).map_err(|_| KeyError::Seed(n))?;
            let seed: [u8; 32] = seed.try_into().map_err(|_| KeyError::Seed(n))?;
            if keys.iter().any(|k| k.kid() == kid) {
                return Err(KeyError::Duplicate(kid));
            }
            keys.push(KeyPair::from_seed(kid, seed));
        }
        Self::from_keys(keys).ok_or(KeyError::Empty)
    }

    /// Keys from a file holding the same text as [`SigningKeys::parse`] takes.
    pub fn from_file(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read the signing keys file {}: {e}", path.display()))?;
        Ok(Self::parse(&text)?)
    }

    /// The keys generated for local use, generating and storing one if there is none.
    pub async fn generated(store: &Store, now: UnixMillis) -> anyhow::Result<Self> {
        if store.signing_keys().await?.is_empty() {
            let key = KeyPair::generate("local")?;
            let key = KeyPair::from_seed(format!("local-{}", fingerprint(&key.public())), key.seed());
            store.add_signing_key(key.kid(), &key.seed(), now).await?;
            tracing::info!(
                kid = key.kid(),
                "generated a token signing key and stored it in the auth database"
            );
        }
        let mut keys = Vec::new();
        for (kid, seed) in store.signing_keys().await? {
            let seed: [u8; 32] = seed
                .try_into()
                .map_err(|_| anyhow::anyhow!("stored signing key `{kid}` is not 32 bytes"))?;
            keys.push(KeyPair::from_seed(kid, seed));
        }
        Self::from_keys(keys).ok_or_else(|| anyhow::anyhow!("no signing key could be stored"))
    }

    /// The first key signs; every key is published.
    pub fn from_keys(keys: Vec<KeyPair>) -> Option<Self> {
        let signer = keys.first()?.clone();
        Some(Self {
            published: keys.iter().map(KeyPair::public).collect(),
            signer,
        })
    }

    /// The key that signs new tokens.
    pub fn signer(&self) -> &KeyPair {
        &self.signer
    }

    /// Every key that verifies tokens, the signer first.
    pub fn published(&self) -> &[PublicKey] {
        &self.published
    }
}

/// A new key as a configuration line, `kid=SEED`, for `--generate-signing-key`.
pub fn new_key_line() -> Result<String, getrandom::Error> {
    let key = KeyPair::generate("key")?;
    Ok(format!("key-{}={}", fingerprint(&key.public()), B64.encode(key.seed())))
}

/// A short id derived from a public key: 16 hex digits of its SHA-256.
fn fingerprint(key: &PublicKey) -> String {
    Sha256::digest(key.to_bytes())
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed(byte: u8) -> String {
        B64.encode([byte; 32])
    }

    #[test]
    fn the_first_configured_key_signs_and_all_are_published() {
        let keys = SigningKeys::parse(&format!("new={}, old={}\n", seed(2), seed(1))).unwrap();
        assert_eq!(keys.signer().kid(), "new");
        let kids: Vec<_> = keys.published().iter().map(|k| k.kid.as_str()).collect();
        assert_eq!(kids, ["new", "old"]);
        assert_eq!(keys.published()[1], KeyPair::from_seed("old", [1; 32]).public());
    }

    #[test]
    fn a_generated_line_parses_back() {
        let line = new_key_line().unwrap();
        let keys = SigningKeys::parse(&line).unwrap();
        assert!(keys.signer().kid().starts_with("key-"));
        assert_eq!(keys.signer().kid().len(), 20);
    }

    #[test]
    fn bad_configuration_is_refused_without_showing_seeds() {
        let secret = seed(9);
        let cases = [
            (String::new(), KeyError::Empty),
            (" , ".to_owned(), KeyError::Empty),
            (secret.clone(), KeyError::Shape(1)),
            (format!("a={secret},b c={secret}"), KeyError::Kid(2)),
            (format!("a={secret}="), KeyError::Seed(1)),
            ("a=c2hvcnQ".to_owned(), KeyError::Seed(1)),
            (format!("a={secret},a={}", seed(8)), KeyError::Duplicate("a".into())),
        ];
        for (text, want) in cases {
            let got = SigningKeys::parse(&text).unwrap_err();
            assert!(!got.to_string().contains(&secret));
            assert_eq!(got, want, "{text}");
        }
    }
}
