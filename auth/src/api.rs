//! The tonic `AuthService`: converts proto ⇄ domain, applies the login throttle,
//! hashes and verifies passwords off the runtime, calls the store, mints tokens.
//! None of its RPCs needs a bearer token: each takes its own credentials.

use std::net::IpAddr;

use secrecy::ExposeSecret as _;
use tonic::{Request, Response, Status};
use travel::SharedClock;
use travel::jwt::Role;
use travel::pb::auth::v1 as pb;
use travel::pb::auth::v1::auth_service_server::AuthService;
use travel::types::{RequestId, UnixMillis};

use crate::client_addr::ClientAddr;
use crate::convert;
use crate::domain::password::Passwords;
use crate::domain::refresh::SessionRules;
use crate::domain::throttle::{Attempt, Throttle};
use crate::domain::{ClientCredentials, Credentials, Registration, User};
use crate::error::Error;
use crate::issuer::Issuer;
use crate::store::{NewUser, Rotation, Store};

/// How access tokens are presented.
const TOKEN_TYPE: &str = "Bearer";

/// The throttles of one process, and how the client's address is found.
#[derive(Debug, Clone)]
pub struct Throttles {
    /// Login, and the password check of a replayed Register.
    pub logins: Throttle,
    /// IssueServiceToken, keyed by client id and address, and by address
    /// ([`Throttle::per_pair`]): customer logins never touch it.
    pub services: Throttle,
    /// Every Register, per email and per client address.
    pub registers: Throttle,
    /// The client address the throttles count.
    pub client_addr: ClientAddr,
}

/// The gRPC face of the auth service.
#[derive(Debug)]
pub struct AuthApi {
    store: Store,
    clock: SharedClock,
    passwords: Passwords,
    issuer: Issuer,
    throttles: Throttles,
    /// Grace window and lifetime of refresh-token sessions.
    sessions: SessionRules,
}

type Reply<T> = Result<Response<T>, Status>;

impl AuthApi {
    /// A service over `store`, minting tokens with `issuer` at the time of `clock`,
    /// with the sessions of `--refresh-reuse-grace` and `--session-max-lifetime`'s defaults.
    pub fn new(store: Store, clock: SharedClock, passwords: Passwords, issuer: Issuer, throttles: Throttles) -> Self {
        Self {
            store,
            clock,
            passwords,
            issuer,
            throttles,
            sessions: travel::config::defaults::<crate::Config>().session_rules(),
        }
    }

    /// The same service, applying `rules` to sessions at Refresh.
    pub fn with_sessions(mut self, rules: SessionRules) -> Self {
        self.sessions = rules;
        self
    }

    /// Registers, answering the same way whether or not the email had an
    /// account: the new user, or a stand-in for a taken email (see the proto).
    /// Every call costs one argon2 computation, whichever way it goes.
    async fn register_user(&self, reg: &Registration, peer: Option<IpAddr>, now: UnixMillis) -> Result<User, Error> {
        let email = reg.email.as_str();
        // Every Register counts, replays included, before any hashing.
        throttled(&self.throttles.registers, Some(email), peer, now)
            .await?
            .failed(now);
        // Every Register also meets the email's login gate, so that an email
        // whose logins are delayed gets the same refusal whether or not this
        // is a replay (which checks a password, as a login).
        self.throttles
            .logins
            .check(Some(email), peer, now)
            .map_err(|t| Error::Throttled(t.retry_after))?;
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
        let attempt = throttled(&self.throttles.logins, Some(reg.email.as_str()), peer, now).await?;
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
    async fn check_password(&self, creds: &Credentials, attempt: &Attempt) -> Result<Option<User>, Error> {
        let found = self.store.user_by_email(&creds.email).await?;
        // An unknown email is verified against the dummy hash: same time, same answer.
        let hash = found.as_ref().map(|(_, hash)| hash.as_str());
        let verified = self
            .passwords
            .verify_with(&creds.password, hash, || attempt.checking())
            .await?;
        Ok(found.filter(|_| verified).map(|(user, _)| user))
    }
}

/// Lets an attempt through `throttle`, or says when to come back.
async fn throttled(
    throttle: &Throttle,
    key: Option<&str>,
    peer: Option<IpAddr>,
    now: UnixMillis,
) -> Result<Attempt, Error> {
    throttle
        .begin(key, peer, now)
        .await
        .map_err(|t| Error::Throttled(t.retry_after))
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

#[tonic::async_trait]
impl AuthService for AuthApi {
    async fn register(&self, request: Request<pb::RegisterRequest>) -> Reply<pb::RegisterResponse> {
        let peer = self.throttles.client_addr.of(&request);
        let reg = Registration::try_from(request.into_inner())?;
        let user = self.register_user(&reg, peer, self.clock.now()).await?;
        Ok(Response::new(pb::RegisterResponse {
            user: Some(user.into()),
        }))
    }

    async fn login(&self, request: Request<pb::LoginRequest>) -> Reply<pb::LoginResponse> {
        let peer = self.throttles.client_addr.of(&request);
        let creds = Credentials::try_from(request.into_inner())?;
        let now = self.clock.now();
        let attempt = throttled(&self.throttles.logins, Some(creds.email.as_str()), peer, now).await?;
        let Some(user) = self.check_password(&creds, &attempt).await? else {
            attempt.failed(now);
            tracing::info!(peer = ?peer, "login refused: invalid email or password");
            return Err(Error::BadPassword.into());
        };
        attempt.succeeded(now);
        let refresh = self.issuer.refresh_token(now).map_err(Error::from)?;
        let family_id = uuid::Uuid::now_v7().to_string();
        self.store.start_family(&user.id, &family_id, &refresh, now).await?;
        let access = self.issuer.access_token(user.id.clone(), user.role, now);
        Ok(Response::new(pb::LoginResponse {
            access_token: access.token,
            access_token_expires_at: Some(access.expires_at.into()),
            refresh_token: refresh.secret.expose_secret().to_owned(),
            refresh_token_expires_at: Some(refresh.expires_at.into()),
            token_type: TOKEN_TYPE.into(),
            user: Some(user.into()),
        }))
    }

    async fn refresh(&self, request: Request<pb::RefreshRequest>) -> Reply<pb::RefreshResponse> {
        let presented = convert::refresh_token(&request.into_inner().refresh_token)?;
        let now = self.clock.now();
        let next = self.issuer.refresh_token(now).map_err(Error::from)?;
        let rotated = match self.store.rotate(&presented.hash, &next, &self.sessions, now).await? {
            Rotation::Rotated(rotated) => rotated,
            Rotation::Reused => {
                tracing::warn!("a spent refresh token was presented again; its family is revoked");
                return Err(Error::BadRefreshToken.into());
            }
            Rotation::Unknown | Rotation::Expired => return Err(Error::BadRefreshToken.into()),
        };
        if rotated.retry {
            tracing::info!("refresh retried within the grace window; the token it replaces is revoked");
        }
        let access = self.issuer.access_token(rotated.user.id, rotated.user.role, now);
        Ok(Response::new(pb::RefreshResponse {
            access_token: access.token,
            access_token_expires_at: Some(access.expires_at.into()),
            refresh_token: next.secret.expose_secret().to_owned(),
            refresh_token_expires_at: Some(rotated.expires_at.into()),
            token_type: TOKEN_TYPE.into(),
        }))
    }

    async fn logout(&self, request: Request<pb::LogoutRequest>) -> Reply<pb::LogoutResponse> {
        let presented = convert::refresh_token(&request.into_inner().refresh_token)?;
        self.store.revoke_family_of(&presented.hash, self.clock.now()).await?;
        Ok(Response::new(pb::LogoutResponse {}))
    }

    async fn get_signing_keys(
        &self,
        _request: Request<pb::GetSigningKeysRequest>,
    ) -> Reply<pb::GetSigningKeysResponse> {
        let keys = self
            .issuer
            .keys()
            .published()
            .iter()
            .map(convert::signing_key)
            .collect();
        Ok(Response::new(pb::GetSigningKeysResponse { keys }))
    }

    async fn issue_service_token(
        &self,
        request: Request<pb::IssueServiceTokenRequest>,
    ) -> Reply<pb::IssueServiceTokenResponse> {
        let peer = self.throttles.client_addr.of(&request);
        let creds = ClientCredentials::try_from(request.into_inner())?;
        let now = self.clock.now();
        // Its own table, per (client id, address) and per address, with delays
        // rather than lockouts; never per client id alone, so guesses from
        // elsewhere never delay the real service, from whatever address.
        let attempt = throttled(&self.throttles.services, Some(creds.client_id.as_str()), peer, now).await?;
        let stored = self.store.service_secret_hash(&creds.client_id).await?;
        let verified = self
            .passwords
            .verify_with(&creds.secret, stored.as_deref(), || attempt.checking())
            .await?;
        if !verified {
            attempt.failed(now);
            tracing::info!(peer = ?peer, "service token refused: invalid client id or client secret");
            return Err(Error::BadClientSecret.into());
        }
        attempt.succeeded(now);
        let access = self.issuer.access_token(creds.client_id.subject(), Role::Service, now);
        Ok(Response::new(pb::IssueServiceTokenResponse {
            access_token: access.token,
            access_token_expires_at: Some(access.expires_at.into()),
            token_type: TOKEN_TYPE.into(),
        }))
    }
}
