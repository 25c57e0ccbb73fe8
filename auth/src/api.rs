//! The tonic `AuthService`: converts proto ⇄ domain, applies the login throttle,
//! hashes and verifies passwords off the runtime, calls the store, mints tokens.
//! None of its RPCs needs a bearer token: each takes its own credentials.

use secrecy::ExposeSecret as _;
use tonic::{Request, Response, Status};
use travel::SharedClock;
use travel::jwt::Role;
use travel::pb::auth::v1 as pb;
use travel::pb::auth::v1::auth_service_server::AuthService;

mod accounts;

use crate::client_addr::ClientAddr;
use crate::convert;
use crate::domain::password::Passwords;
use crate::domain::refresh::SessionRules;
use crate::domain::throttle::Throttle;
use crate::domain::{ClientCredentials, Credentials, Registration};
use crate::error::Error;
use crate::issuer::Issuer;
use crate::metrics::{AuthMetrics, Gate, Grant, Login};
use crate::store::{Rotation, Store};

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
    /// Counts logins, throttling and tokens issued.
    metrics: AuthMetrics,
}

type Reply<T> = Result<Response<T>, Status>;

impl AuthApi {
    /// A service over `store`, minting tokens with `issuer` at the time of `clock`,
    /// with the sessions of `--refresh-reuse-grace` and `--session-max-lifetime`'s
    /// defaults, counting into `metrics`.
    pub fn new(
        store: Store,
        clock: SharedClock,
        passwords: Passwords,
        issuer: Issuer,
        throttles: Throttles,
        metrics: AuthMetrics,
    ) -> Self {
        Self {
            store,
            clock,
            passwords,
            issuer,
            throttles,
            sessions: travel::config::defaults::<crate::Config>().session_rules(),
            metrics,
        }
    }

    /// The same service, applying `rules` to sessions at Refresh.
    pub fn with_sessions(mut self, rules: SessionRules) -> Self {
        self.sessions = rules;
        self
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
        let attempt = self
            .throttled(Gate::Login, Some(creds.email.as_str()), peer, now)
            .await
            .inspect_err(|_| self.metrics.login(Login::Throttled))?;
        let Some(user) = self.check_password(&creds, &attempt).await? else {
            attempt.failed(now);
            self.metrics.login(Login::BadCredentials);
            tracing::info!(peer = ?peer, "login refused: invalid email or password");
            return Err(Error::BadPassword.into());
        };
        attempt.succeeded(now);
        let refresh = self.issuer.refresh_token(now).map_err(Error::from)?;
        let family_id = uuid::Uuid::now_v7().to_string();
        self.store.start_family(&user.id, &family_id, &refresh, now).await?;
        let access = self.issuer.access_token(user.id.clone(), user.role, now);
        self.metrics.login(Login::Ok);
        self.metrics.issued(Grant::Password);
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
        self.metrics.issued(Grant::RefreshToken);
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
        let attempt = self
            .throttled(Gate::ServiceToken, Some(creds.client_id.as_str()), peer, now)
            .await?;
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
        self.metrics.issued(Grant::ClientCredentials);
        Ok(Response::new(pb::IssueServiceTokenResponse {
            access_token: access.token,
            access_token_expires_at: Some(access.expires_at.into()),
            token_type: TOKEN_TYPE.into(),
        }))
    }
}
