//! Test harness: the real auth service on 127.0.0.1:0 with a fresh database
//! (SQLite, or PostgreSQL when TRAVEL_TEST_POSTGRES_URL is set) and a manual
//! clock, called through the generated client.

use std::sync::Arc;
use std::time::Duration;

use tonic::transport::Channel;
use travel::jwt::{self, Claims, Expectations, PublicKey};
use travel::metrics::Registry;
use travel::pb::auth::v1 as pb;
use travel::pb::auth::v1::auth_service_client::AuthServiceClient;
pub use travel::testing::{START_MS, violated_fields};
use travel::testing::{TestDatabase, TestServer, manual_clock};
use travel::{Clock, ManualClock};
use travel_auth::{Application, Config, Store};

/// A password that follows the policy.
pub const PASSWORD: &str = "correct horse battery staple";
/// Access-token lifetime used by the tests.
pub const ACCESS_TTL: Duration = Duration::from_secs(600);
/// Refresh-token lifetime used by the tests.
pub const REFRESH_TTL: Duration = Duration::from_secs(3600);

/// A running auth service and what a test needs to drive and inspect it.
pub struct TestAuth {
    /// A client of the service.
    pub client: AuthServiceClient<Channel>,
    /// The service's store.
    pub store: Store,
    /// The service's clock.
    pub clock: ManualClock,
    /// The service's metrics, as `/metrics` serves them.
    pub metrics: Registry,
    /// The settings it runs with (port 0: a restart binds a new port).
    config: Config,
    server: TestServer,
    db: TestDatabase,
}

impl TestAuth {
    /// Starts the service with the test settings.
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// Starts the service with adjusted settings.
    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> Self {
        let db = TestDatabase::new("auth").await;
        let mut config = Config::new("127.0.0.1:0".parse().expect("addr"), db.url.clone());
        config.access_token_ttl = ACCESS_TTL;
        config.refresh_token_ttl = REFRESH_TTL;
        config.sweep_interval = Duration::from_secs(3600); // tests sweep explicitly
        // The hashing pool's own refusals are tested apart (the binary's test and
        // its unit tests); here a busy shared machine must not turn into refusals.
        config.hashing_wait = Duration::from_secs(60);
        config.hashing_queue = Some(10_000);
        adjust(&mut config);
        let clock = manual_clock();
        Self::launch(config, clock, db).await
    }

    /// Bind first, then spawn, so the client can connect at once.
    async fn launch(config: Config, clock: ManualClock, db: TestDatabase) -> Self {
        let app = Application::build_with(
            config.clone(),
            travel_auth::Deps {
                clock: Arc::new(clock.clone()),
            },
        )
        .await
        .expect("build the auth service");
        let addr = app.local_addr();
        let store = app.store().clone();
        let metrics = app.metrics().clone();
        let server = TestServer::spawn(|shutdown| app.run_until_stopped(shutdown));
        let client = AuthServiceClient::connect(format!("http://{addr}"))
            .await
            .expect("connect");
        Self {
            client,
            store,
            clock,
            metrics,
            config,
            server,
            db,
        }
    }

    /// The URL of the service's database (to plant rows an older version wrote).
    pub fn database_url(&self) -> &str {
        &self.db.url
    }

    /// Changes the settings the next [`TestAuth::restart`] uses.
    pub fn set_config(&mut self, adjust: impl FnOnce(&mut Config)) {
        adjust(&mut self.config);
    }

    /// Stops the service and starts it again on the same database, settings and clock.
    pub async fn restart(self) -> Self {
        let Self {
            config,
            clock,
            server,
            db,
            ..
        } = self;
        server.stop().await;
        Self::launch(config, clock, db).await
    }

    /// Registers `email` with `password`.
    pub async fn register(&self, email: &str, password: &str) -> Result<pb::User, tonic::Status> {
        let response = self
            .client
            .clone()
            .register(pb::RegisterRequest {
                email: email.into(),
                password: password.into(),
                request_id: String::new(),
            })
            .await?;
        Ok(response.into_inner().user.expect("user in response"))
    }

    /// Logs in.
    pub async fn login(&self, email: &str, password: &str) -> Result<pb::LoginResponse, tonic::Status> {
        let request = pb::LoginRequest {
            email: email.into(),
            password: password.into(),
        };
        Ok(self.client.clone().login(request).await?.into_inner())
    }

    /// Logs in through a proxy that says the client is `client` (`x-forwarded-for`;
    /// believed only when 127.0.0.1 is among the service's `trusted_proxies`).
    pub async fn login_from(
        &self,
        client: &str,
        email: &str,
        password: &str,
    ) -> Result<pb::LoginResponse, tonic::Status> {
        let mut request = tonic::Request::new(pb::LoginRequest {
            email: email.into(),
            password: password.into(),
        });
        request
            .metadata_mut()
            .insert("x-forwarded-for", client.parse().expect("an address"));
        Ok(self.client.clone().login(request).await?.into_inner())
    }

    /// Asks for a service token through a proxy that says the client is `client`.
    pub async fn service_token_from(
        &self,
        client: &str,
        id: &str,
        secret: &str,
    ) -> Result<pb::IssueServiceTokenResponse, tonic::Status> {
        let mut request = tonic::Request::new(pb::IssueServiceTokenRequest {
            client_id: id.into(),
            client_secret: secret.into(),
        });
        request
            .metadata_mut()
            .insert("x-forwarded-for", client.parse().expect("an address"));
        Ok(self.client.clone().issue_service_token(request).await?.into_inner())
    }

    /// Registers `email` and logs in.
    pub async fn signed_up(&self, email: &str) -> pb::LoginResponse {
        self.register(email, PASSWORD).await.expect("register");
        self.login(email, PASSWORD).await.expect("login")
    }

    /// Exchanges a refresh token.
    pub async fn refresh(&self, refresh_token: &str) -> Result<pb::RefreshResponse, tonic::Status> {
        let request = pb::RefreshRequest {
            refresh_token: refresh_token.into(),
        };
        Ok(self.client.clone().refresh(request).await?.into_inner())
    }

    /// Revokes a refresh token.
    pub async fn logout(&self, refresh_token: &str) -> Result<(), tonic::Status> {
        let request = pb::LogoutRequest {
            refresh_token: refresh_token.into(),
        };
        self.client.clone().logout(request).await.map(|_| ())
    }

    /// Asks for a service token.
    pub async fn service_token(&self, id: &str, secret: &str) -> Result<pb::IssueServiceTokenResponse, tonic::Status> {
        let request = pb::IssueServiceTokenRequest {
            client_id: id.into(),
            client_secret: secret.into(),
        };
        Ok(self.client.clone().issue_service_token(request).await?.into_inner())
    }

    /// The keys GetSigningKeys publishes, as they go over the wire.
    pub async fn signing_keys(&self) -> Vec<pb::SigningKey> {
        self.client
            .clone()
            .get_signing_keys(pb::GetSigningKeysRequest {})
            .await
            .expect("get signing keys")
            .into_inner()
            .keys
    }

    /// The keys GetSigningKeys publishes, as the other services read them.
    pub async fn published_keys(&self) -> Vec<PublicKey> {
        let keys = self.signing_keys().await;
        keys.into_iter()
            .map(|k| PublicKey::from_bytes(k.kid, &k.public_key).expect("a 32-byte Ed25519 key"))
            .collect()
    }

    /// Verifies `token` the way the other services do: its kid among the published keys.
    pub async fn verify(&self, token: &str) -> Result<Claims, jwt::TokenError> {
        let kid = jwt::key_id(token)?;
        let keys = self.published_keys().await;
        let key = keys
            .iter()
            .find(|k| k.kid == kid)
            .ok_or(jwt::TokenError::UnknownKey(kid))?;
        jwt::verify(token, key, &expectations(), self.clock.now())
    }
}

/// What the other services expect of tokens, with the default issuer and audience.
pub fn expectations() -> Expectations {
    Expectations {
        issuer: "travel-auth".into(),
        audience: "travel".into(),
        leeway_secs: 30,
    }
}
