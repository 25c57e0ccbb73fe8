//! The tonic `AuthService`: converts proto ⇄ domain, applies the login throttle,
//! hashes and verifies passwords off the runtime, calls the store, mints tokens.
//! None of its RPCs needs a bearer token: each takes its own credentials.

use std::net::IpAddr;

use tonic::{Request, Response, Status};
use travel::SharedClock;
use travel::pb::auth::v1 as pb;
use travel::pb::auth::v1::auth_service_server::AuthService;
use travel::token::Role;
use travel::types::{Instant, RequestId};

use crate::convert;
use crate::domain::password::Passwords;
use crate::domain::refresh::SessionRules;
use crate::domain::throttle::{Attempt, Throttle};
use crate::domain::{ClientCredentials, Credentials, Registration, User};
use crate::error::Error;
use crate::store::{NewUser, Rotation, Store};
use crate::tokens::Issuer;

/// How access tokens are presented.
const TOKEN_TYPE: &str = "Bearer";

/// The gRPC face of the auth service.
#[derive(Debug)]
pub struct AuthApi {
    store: Store,
    clock: SharedClock,
    passwords: Passwords,
    issuer: Issuer,
    throttle: Throttle,
    /// Grace window and lifetime of refresh-token sessions.
    sessions: SessionRules,
}

type Reply<T> = Result<Response<T>, Status>;

impl AuthApi {
    /// A service over `store`, minting tokens with `issuer` at the time of `clock`.
    pub fn new(store: Store, clock: SharedClock, passwords: Passwords, issuer: Issuer, throttle: Throttle) -> Self {
        Self {
            store,
            clock,
            passwords,
            issuer,
            throttle,
            sessions: SessionRules::default(),
        }
    }

    /// The same service, applying `rules` to sessions at Refresh.
    pub fn with_sessions(mut self, rules: SessionRules) -> Self {
        self.sessions = rules;
        self
    }

    async fn register_user(&self, reg: &Registration, now: Instant) -> Result<User, Error> {
        if let Some(request_id) = &reg.request_id
            && let Some(first) = self.replay(reg, request_id).await?
        {
            return Ok(first);
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
        // Taken: by a concurrent retry under the same request id, or by another account.
        if let Some(request_id) = &reg.request_id
            && let Some(first) = self.replay(reg, request_id).await?
        {
            return Ok(first);
        }
        Err(Error::EmailTaken)
    }

    /// The user Register created under `request_id`, if the request is the same.
    async fn replay(&self, reg: &Registration, request_id: &RequestId) -> Result<Option<User>, Error> {
        let Some((user, hash)) = self.store.user_by_request_id(request_id.as_str()).await? else {
            return Ok(None);
        };
        if user.email == reg.email.as_str() && self.passwords.verify(&reg.password, Some(&hash)).await? {
            Ok(Some(user))
        } else {
            Err(Error::RequestIdReused(request_id.as_str().to_owned()))
        }
    }

    async fn check_password(&self, creds: &Credentials) -> Result<Option<User>, Error> {
        let found = self.store.user_by_email(&creds.email).await?;
        // An unknown email is verified against the dummy hash: same time, same answer.
        let hash = found.as_ref().map(|(_, hash)| hash.as_str());
        let verified = self.passwords.verify(&creds.password, hash).await?;
        Ok(found.filter(|_| verified).map(|(user, _)| user))
    }

    fn begin(&self, account: Option<&str>, peer: Option<IpAddr>, now: Instant) -> Result<Attempt, Error> {
        self.throttle
            .begin(account, peer, now)
            .map_err(|t| Error::Throttled(t.retry_after))
    }
}

#[tonic::async_trait]
impl AuthService for AuthApi {
    async fn register(&self, request: Request<pb::RegisterRequest>) -> Reply<pb::RegisterResponse> {
        let reg = Registration::try_from(request.into_inner())?;
        let user = self.register_user(&reg, self.clock.now()).await?;
        Ok(Response::new(pb::RegisterResponse {
            user: Some(user.into()),
        }))
    }

    async fn login(&self, request: Request<pb::LoginRequest>) -> Reply<pb::LoginResponse> {
        let peer = request.remote_addr().map(|a| a.ip());
        let creds = Credentials::try_from(request.into_inner())?;
        let now = self.clock.now();
        let attempt = self.begin(Some(creds.email.as_str()), peer, now)?;
        let Some(user) = self.check_password(&creds).await? else {
            tracing::info!(peer = ?peer, "login refused: invalid email or password");
            return Err(Error::BadPassword.into());
        };
        self.throttle.succeeded(attempt);
        let refresh = self.issuer.refresh_token(now).map_err(Error::from)?;
        let family_id = uuid::Uuid::now_v7().to_string();
        self.store.start_family(&user.id, &family_id, &refresh, now).await?;
        let access = self.issuer.access_token(user.id.clone(), user.role, now);
        Ok(Response::new(pb::LoginResponse {
            access_token: access.token,
            access_token_expires_at: Some(access.expires_at.into()),
            refresh_token: refresh.secret,
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
            refresh_token: next.secret,
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
        let peer = request.remote_addr().map(|a| a.ip());
        let creds = ClientCredentials::try_from(request.into_inner())?;
        let now = self.clock.now();
        // Per peer only: a lockout per client id would let anyone lock the
        // reservation service out of its tokens.
        let attempt = self.begin(None, peer, now)?;
        let stored = self.store.service_secret_hash(&creds.client_id).await?;
        if !self.passwords.verify(&creds.secret, stored.as_deref()).await? {
            tracing::info!(peer = ?peer, "service token refused: invalid client id or client secret");
            return Err(Error::BadClientSecret.into());
        }
        self.throttle.succeeded(attempt);
        let access = self.issuer.access_token(creds.client_id.subject(), Role::Service, now);
        Ok(Response::new(pb::IssueServiceTokenResponse {
            access_token: access.token,
            access_token_expires_at: Some(access.expires_at.into()),
            token_type: TOKEN_TYPE.into(),
        }))
    }
}
