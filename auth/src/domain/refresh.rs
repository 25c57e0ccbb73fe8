//! Refresh tokens: 32 random bytes from the operating system, base64url without
//! padding, handed to the client once and stored only as their SHA-256 hash —
//! a database leak gives no usable token. The tokens that descend from one
//! login by rotation share a family id.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use secrecy::SecretString;
use sha2::{Digest, Sha256};
use std::time::Duration;

use travel::types::UnixMillis;

/// Longest refresh token looked up; anything longer was not issued here.
pub const MAX_TOKEN_CHARS: usize = 256;

/// A newly issued refresh token: the secret for the client, the hash for the store.
#[derive(Debug, Clone)]
pub struct NewRefreshToken {
    /// The token the client presents; never stored.
    pub secret: SecretString,
    /// Hex SHA-256 of `secret`: the stored key.
    pub hash: String,
    /// When it stops being accepted.
    pub expires_at: UnixMillis,
}

impl NewRefreshToken {
    /// A fresh random token, expiring at `expires_at`.
    pub fn generate(expires_at: UnixMillis) -> Result<Self, getrandom::Error> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)?;
        let secret = B64.encode(bytes);
        Ok(Self {
            hash: token_hash(&secret),
            secret: secret.into(),
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

/// What the store knows of a refresh token, as far as Refresh cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredToken {
    /// When it stops being accepted.
    pub expires_at: UnixMillis,
    /// When it was rotated (spent), if it was.
    pub used_at: Option<UnixMillis>,
    /// Whether its family was revoked, or it was superseded by a retry.
    pub revoked: bool,
    /// When the Login that started its family happened.
    pub session_started: UnixMillis,
}

/// A stored refresh token's state at some instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenState {
    /// Unused, unrevoked and unexpired, in a session that has not ended: may be rotated.
    Live,
    /// Past its expiry, or its session's end.
    Expired,
    /// Rotated less than the grace window ago: a retry after a lost response,
    /// answered if it is still the newest token rotated in its family.
    JustRotated,
    /// Rotated longer ago, or revoked: presenting it again is reuse.
    Spent,
}

/// The rules of a session, the family of refresh tokens that descends from one Login.
///
/// A retry within `reuse_grace` of the token just rotated gets a new token that
/// *supersedes* the successor it was given (revoked, never handed out again):
/// no token secret is kept to answer it twice, and a family never has more than
/// one live token. What a thief replaying a stolen token within the window gains
/// is that one new token, and it cuts off the holder, whose next Refresh then
/// presents a superseded token: reuse, and the whole family is revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionRules {
    /// How long after a rotation the token spent is still answered (zero: never).
    pub reuse_grace: Duration,
    /// How long a session lasts from its Login, whatever the rotations.
    pub max_lifetime: Duration,
}

impl SessionRules {
    /// When a session started at `started` ends.
    pub fn ends_at(&self, started: UnixMillis) -> UnixMillis {
        started.plus(self.max_lifetime)
    }

    /// The expiry of a token of a session started at `started`: `expires_at`,
    /// or the session's end if that comes first.
    pub fn cap(&self, expires_at: UnixMillis, started: UnixMillis) -> UnixMillis {
        expires_at.min(self.ends_at(started))
    }

    /// The state of `token` at `now`. Reuse detection wins over expiry: a
    /// spent token presented late still revokes its family.
    pub fn state(&self, token: &StoredToken, now: UnixMillis) -> TokenState {
        let session_over = self.ends_at(token.session_started) <= now;
        if token.revoked {
            return TokenState::Spent;
        }
        if let Some(used_at) = token.used_at {
            let in_grace = now < used_at.plus(self.reuse_grace);
            return if in_grace && !session_over {
                TokenState::JustRotated
            } else {
                TokenState::Spent
            };
        }
        if token.expires_at <= now || session_over {
            TokenState::Expired
        } else {
            TokenState::Live
        }
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret as _;

    use super::*;

    #[test]
    fn a_new_token_is_43_base64url_characters_stored_as_its_hash() {
        let t = NewRefreshToken::generate(UnixMillis::from_unix_millis(0)).unwrap();
        let secret = t.secret.expose_secret();
        assert_eq!(secret.len(), 43);
        assert!(
            secret
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(t.hash.len(), 64);
        assert_eq!(PresentedToken::parse(secret).unwrap().hash, t.hash);
        assert!(!format!("{t:?}").contains(secret), "Debug hides the secret");
    }

    #[test]
    fn two_tokens_differ() {
        let at = UnixMillis::from_unix_millis(0);
        let a = NewRefreshToken::generate(at).unwrap();
        let b = NewRefreshToken::generate(at).unwrap();
        assert_ne!(a.secret.expose_secret(), b.secret.expose_secret());
    }

    const RULES: SessionRules = SessionRules {
        reuse_grace: Duration::from_millis(30),
        max_lifetime: Duration::from_millis(1000),
    };

    fn token(expires_ms: i64, used_ms: Option<i64>, revoked: bool) -> StoredToken {
        StoredToken {
            expires_at: UnixMillis::from_unix_millis(expires_ms),
            used_at: used_ms.map(UnixMillis::from_unix_millis),
            revoked,
            session_started: UnixMillis::from_unix_millis(0),
        }
    }

    #[test]
    fn spent_wins_over_expired() {
        let at = |ms| UnixMillis::from_unix_millis(ms);
        assert_eq!(RULES.state(&token(10, None, false), at(9)), TokenState::Live);
        assert_eq!(RULES.state(&token(10, None, false), at(10)), TokenState::Expired);
        assert_eq!(RULES.state(&token(10, Some(5), false), at(99)), TokenState::Spent);
        assert_eq!(RULES.state(&token(10, None, true), at(1)), TokenState::Spent);
    }

    #[test]
    fn a_token_rotated_within_the_grace_window_is_just_rotated_not_spent() {
        let at = |ms| UnixMillis::from_unix_millis(ms);
        let used = token(500, Some(100), false);
        assert_eq!(RULES.state(&used, at(100)), TokenState::JustRotated);
        assert_eq!(RULES.state(&used, at(129)), TokenState::JustRotated);
        assert_eq!(
            RULES.state(&used, at(130)),
            TokenState::Spent,
            "the window is half-open"
        );
        assert_eq!(RULES.state(&token(500, Some(100), true), at(101)), TokenState::Spent);
        let no_grace = SessionRules {
            reuse_grace: Duration::ZERO,
            ..RULES
        };
        assert_eq!(no_grace.state(&used, at(100)), TokenState::Spent);
    }

    #[test]
    fn a_session_ends_at_its_lifetime_whatever_its_tokens_say() {
        let at = |ms| UnixMillis::from_unix_millis(ms);
        assert_eq!(RULES.state(&token(5000, None, false), at(999)), TokenState::Live);
        assert_eq!(RULES.state(&token(5000, None, false), at(1000)), TokenState::Expired);
        assert_eq!(RULES.state(&token(5000, Some(990), false), at(1000)), TokenState::Spent);
        assert_eq!(RULES.cap(at(5000), at(0)), at(1000));
        assert_eq!(RULES.cap(at(700), at(0)), at(700));
    }
}
