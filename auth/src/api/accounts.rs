//! The password checks behind Register and Login: Register's throttles, its
//! replays and its stand-in for a taken email, and Login's check against the
//! stored hash (or the dummy one).

use std::net::IpAddr;

use travel::jwt::Role;
use travel::types::{RequestId, UnixMillis};

use super::AuthApi;
use crate::domain::throttle::Attempt;
use crate::domain::{Credentials, Registration, User};
use crate::error::Error;
use crate::metrics::Gate;
use crate::store::NewUser;

impl AuthApi {
    /// Registers, answering the same way whether or not the email had an
    /// account: the new user, or a stand-in for a taken email (see the proto).
    /// Every call costs one argon2 computation, whichever way it goes.
    pub(super) async fn register_user(
        &self,
        reg: &Registration,
        peer: Option<IpAddr>,
        now: UnixMillis,
    ) -> Result<User, Error> {
        let email = reg.email.as_str();
        // Every Register counts, replays included, before any hashing.
        self.throttled(Gate::Register, Some(email), peer, now)
            .await?
            .failed(now);
        // Every Register also meets the email's login gate, so that an email
        // whose logins are delayed gets the same refusal whether or not this
        // is a replay (which checks a password, as a login).
        self.throttles.logins.check(Some(email), peer, now).map_err(|t| {
            self.metrics.throttled(Gate::Login);
            Error::Throttled(t.retry_after)
        })?;
        if let Some(request_id) = &reg.request_id
            && let Some(answer) = self.replay(reg, request_id, peer, now).await?
        {
            return Ok(answer);
        }
        let hash = self.passwords.hash(&reg.password).await?;
        let id = uuid::Uuid::now_v7().to_string();
        let new = NewUser {
            id: &id,
            email: &reg.email,
            password_hash: &hash,
            role: Role::Customer,
            request_id: reg.request_id.as_ref().map(RequestId::as_str),
        };
        if let Some(user) = self.store.insert_user(&new, now).await? {
            return Ok(user);
        }
        // Taken: by a concurrent retry of this very request, or by another account.
        if let Some(request_id) = &reg.request_id
            && let Some(answer) = self.replay(reg, request_id, peer, now).await?
        {
            return Ok(answer);
        }
        tracing::info!("register for a taken email answered with a stand-in");
        Ok(stand_in(reg, now))
    }

    /// A retry of the Register that created an account under this email and
    /// request id: the account if the password is right, checked through the
    /// login throttle (a replay is a password guess like any other), else a stand-in.
    async fn replay(
        &self,
        reg: &Registration,
        request_id: &RequestId,
        peer: Option<IpAddr>,
        now: UnixMillis,
    ) -> Result<Option<User>, Error> {
        let Some((user, hash)) = self.store.user_by_request(&reg.email, request_id.as_str()).await? else {
            return Ok(None);
        };
        let attempt = self.throttled(Gate::Login, Some(reg.email.as_str()), peer, now).await?;
        let verified = self
            .passwords
            .verify_with(&reg.password, Some(&hash), || attempt.checking())
            .await?;
        if verified {
            attempt.succeeded(now);
            Ok(Some(user))
        } else {
            attempt.failed(now);
            Ok(Some(stand_in(reg, now)))
        }
    }

    /// The user if the password is right; `attempt` is told when the check begins.
    pub(super) async fn check_password(&self, creds: &Credentials, attempt: &Attempt) -> Result<Option<User>, Error> {
        let found = self.store.user_by_email(&creds.email).await?;
        // An unknown email is verified against the dummy hash: same time, same answer.
        let hash = found.as_ref().map(|(_, hash)| hash.as_str());
        let verified = self
            .passwords
            .verify_with(&creds.password, hash, || attempt.checking())
            .await?;
        Ok(found.filter(|_| verified).map(|(user, _)| user))
    }

    /// Lets an attempt through the throttle `gate` names, or says when to come
    /// back (and counts the refusal).
    pub(super) async fn throttled(
        &self,
        gate: Gate,
        key: Option<&str>,
        peer: Option<IpAddr>,
        now: UnixMillis,
    ) -> Result<Attempt, Error> {
        let throttle = match gate {
            Gate::Login => &self.throttles.logins,
            Gate::Register => &self.throttles.registers,
            Gate::ServiceToken => &self.throttles.services,
        };
        throttle.begin(key, peer, now).await.map_err(|t| {
            self.metrics.throttled(gate);
            Error::Throttled(t.retry_after)
        })
    }
}

/// Register's answer for an email that already has an account, shaped like a
/// new account's: the normalised email, CUSTOMER, now, and a fresh id that
/// names no account. Nothing is stored or changed.
fn stand_in(reg: &Registration, now: UnixMillis) -> User {
    User {
        id: uuid::Uuid::now_v7().to_string(),
        email: reg.email.as_str().to_owned(),
        role: Role::Customer,
        created_at: now,
    }
}
