//! Issuing tokens: access tokens (JWTs signed by [`travel::jwt`] with the
//! current signing key) and the expiry of refresh tokens.

use std::sync::Arc;
use std::time::Duration;

use travel::jwt::{Claims, Role};
use travel::types::UnixMillis;

use crate::domain::refresh::NewRefreshToken;
use crate::signing_keys::SigningKeys;

/// A signed access token and when it expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessToken {
    /// The compact JWT.
    pub token: String,
    /// Its `exp`, as an instant.
    pub expires_at: UnixMillis,
}

/// Mints the tokens of this auth service.
#[derive(Debug, Clone)]
pub struct Issuer {
    /// The signing key and the published keys.
    keys: Arc<SigningKeys>,
    /// The `iss` claim.
    issuer: String,
    /// The `aud` claim.
    audience: String,
    /// How long an access token is valid.
    access_ttl: Duration,
    /// How long a refresh token is valid.
    refresh_ttl: Duration,
}

impl Issuer {
    /// An issuer signing with `keys`.
    pub fn new(
        keys: Arc<SigningKeys>,
        issuer: String,
        audience: String,
        access_ttl: Duration,
        refresh_ttl: Duration,
    ) -> Self {
        Self {
            keys,
            issuer,
            audience,
            access_ttl,
            refresh_ttl,
        }
    }

    /// The published keys.
    pub fn keys(&self) -> &SigningKeys {
        &self.keys
    }

    /// An access token for `subject` with `role`, issued at `now`.
    pub fn access_token(&self, subject: String, role: Role, now: UnixMillis) -> AccessToken {
        let iat = now.unix_millis().div_euclid(1000);
        let ttl = i64::try_from(self.access_ttl.as_secs()).unwrap_or(i64::MAX);
        let exp = iat.saturating_add(ttl.max(1));
        let token = self.keys.signer().sign(&Claims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: subject,
            role,
            iat,
            exp,
        });
        AccessToken {
            token,
            expires_at: UnixMillis::from_unix_millis(exp.saturating_mul(1000)),
        }
    }

    /// A new refresh token, valid from `now` for the refresh TTL.
    pub fn refresh_token(&self, now: UnixMillis) -> Result<NewRefreshToken, getrandom::Error> {
        NewRefreshToken::generate(now.plus(self.refresh_ttl))
    }
}
