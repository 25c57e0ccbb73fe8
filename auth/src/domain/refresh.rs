//! Refresh tokens: 32 random bytes from the operating system, base64url without
//! padding, handed to the client once and stored only as their SHA-256 hash —
//! a database leak gives no usable token. The tokens that descend from one
//! login by rotation share a family id.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use sha2::{Digest, Sha256};
use travel::types::Instant;

/// Longest refresh token looked up; anything longer was not issued here.
pub const MAX_TOKEN_CHARS: usize = 256;

/// A newly issued refresh token: the secret for the client, the hash for the store.
#[derive(Clone, PartialEq, Eq)]
pub struct NewRefreshToken {
    /// The token the client presents; never stored.
    pub secret: String,
    /// Hex SHA-256 of `secret`: the stored key.
    pub hash: String,
    /// When it stops being accepted.
    pub expires_at: Instant,
}

impl std::fmt::Debug for NewRefreshToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewRefreshToken")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl NewRefreshToken {
    /// A fresh random token, expiring at `expires_at`.
    pub fn generate(expires_at: Instant) -> Result<Self, getrandom::Error> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)?;
        let secret = B64.encode(bytes);
        Ok(Self {
            hash: token_hash(&secret),
            secret,
            expires_at,
        })
    }
}

/// A refresh token presented by a client, reduced to the hash it is stored under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresentedToken {
    /// Hex SHA-256 of the token.
    pub hash: String,
}

impl PresentedToken {
    /// Checks only presence and size: a well-formed but unknown token is the
    /// caller's UNAUTHENTICATED, not a malformed request.
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        if raw.is_empty() {
            return Err("is required");
        }
        if raw.len() > MAX_TOKEN_CHARS {
            return Err("is not a refresh token issued by this service");
        }
        Ok(Self { hash: token_hash(raw) })
    }
}

/// The stored form of a token: lower-case hex SHA-256.
pub fn token_hash(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A stored refresh token's state, as far as Refresh cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenState {
    /// Unused, unrevoked and unexpired: may be rotated.
    Live,
    /// Past its expiry.
    Expired,
    /// Already rotated, or its family revoked: presenting it again is reuse.
    Spent,
}

impl TokenState {
    /// The state of a token with these markers at `now`.
    pub fn of(expires_at: Instant, used: bool, revoked: bool, now: Instant) -> Self {
        if used || revoked {
            Self::Spent
        } else if expires_at <= now {
            Self::Expired
        } else {
            Self::Live
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_token_is_43_base64url_characters_stored_as_its_hash() {
        let t = NewRefreshToken::generate(Instant::from_unix_millis(0)).unwrap();
        assert_eq!(t.secret.len(), 43);
        assert!(
            t.secret
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(t.hash.len(), 64);
        assert_eq!(PresentedToken::parse(&t.secret).unwrap().hash, t.hash);
        assert!(!format!("{t:?}").contains(&t.secret), "Debug hides the secret");
    }

    #[test]
    fn two_tokens_differ() {
        let at = Instant::from_unix_millis(0);
        let a = NewRefreshToken::generate(at).unwrap();
        let b = NewRefreshToken::generate(at).unwrap();
        assert_ne!(a.secret, b.secret);
    }

    #[test]
    fn spent_wins_over_expired() {
        let at = |ms| Instant::from_unix_millis(ms);
        assert_eq!(TokenState::of(at(10), false, false, at(9)), TokenState::Live);
        assert_eq!(TokenState::of(at(10), false, false, at(10)), TokenState::Expired);
        assert_eq!(TokenState::of(at(10), true, false, at(99)), TokenState::Spent);
        assert_eq!(TokenState::of(at(10), false, true, at(1)), TokenState::Spent);
    }
}
