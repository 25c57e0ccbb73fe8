//! The service token the reservation service sends to the flight and hotel
//! services (which require the service role for holds, confirms and releases):
//! in production, a client-credentials exchange with the auth service
//! (`IssueServiceToken`), cached and renewed shortly before it expires or when
//! a service answers UNAUTHENTICATED; in tests, a fixed token.

use std::sync::Arc;
use std::time::Duration;

use tonic::Status;
use tonic::transport::{Channel, Endpoint};
use travel::SharedClock;
use travel::pb::auth::v1::IssueServiceTokenRequest;
use travel::pb::auth::v1::auth_service_client::AuthServiceClient;
use travel::types::Instant;

/// Where outgoing calls get their bearer token.
#[derive(Debug, Clone)]
pub struct ServiceToken(Arc<Source>);

#[derive(Debug)]
enum Source {
    Fixed(String),
    Auth(Box<Exchange>),
}

#[derive(Debug)]
struct Exchange {
    client: AuthServiceClient<Channel>,
    client_id: String,
    client_secret: Option<String>,
    clock: SharedClock,
    cached: tokio::sync::Mutex<Option<Cached>>,
}

#[derive(Debug)]
struct Cached {
    token: String,
    /// When to fetch a new one: a margin before it expires.
    renew_at: Instant,
    /// When it stops being accepted; until then it serves if renewing fails.
    expires_at: Instant,
}

/// Renew a token this long before it expires (at most half its life).
const RENEW_MARGIN: Duration = Duration::from_secs(60);
/// How long one IssueServiceToken call may take.
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(5);

impl ServiceToken {
    /// Always `token` (tests, tools).
    pub fn fixed(token: impl Into<String>) -> Self {
        Self(Arc::new(Source::Fixed(token.into())))
    }

    /// Tokens from the auth service at `url` for the service account
    /// `client_id`/`client_secret` (connected lazily: auth may start later).
    pub fn from_auth(
        url: &str,
        client_id: impl Into<String>,
        client_secret: Option<String>,
        clock: SharedClock,
    ) -> Result<Self, tonic::transport::Error> {
        let channel = Endpoint::from_shared(url.to_owned())?
            .connect_timeout(Duration::from_secs(2))
            .connect_lazy();
        Ok(Self(Arc::new(Source::Auth(Box::new(Exchange {
            client: AuthServiceClient::new(channel),
            client_id: client_id.into(),
            client_secret,
            clock,
            cached: tokio::sync::Mutex::new(None),
        })))))
    }

    /// A token to send now: the cached one, or a fresh one from the auth service.
    pub async fn get(&self) -> Result<String, Status> {
        let exchange = match &*self.0 {
            Source::Fixed(token) => return Ok(token.clone()),
            Source::Auth(exchange) => exchange,
        };
        let mut cached = exchange.cached.lock().await;
        let now = exchange.clock.now();
        if let Some(c) = cached.as_ref().filter(|c| c.renew_at > now) {
            return Ok(c.token.clone());
        }
        match exchange.fetch(now).await {
            Ok(fresh) => {
                let token = fresh.token.clone();
                *cached = Some(fresh);
                Ok(token)
            }
            // Auth is briefly down at renewal time: the old token is still good.
            Err(e) => match cached.as_ref().filter(|c| c.expires_at > now) {
                Some(c) => {
                    tracing::warn!(error = %e.message(), "cannot renew the service token; using the current one until it expires");
                    Ok(c.token.clone())
                }
                None => Err(e),
            },
        }
    }

    /// Forgets `token` after a service refused it, so that the next call fetches a new one.
    pub async fn invalidate(&self, token: &str) {
        if let Source::Auth(exchange) = &*self.0 {
            let mut cached = exchange.cached.lock().await;
            if cached.as_ref().is_some_and(|c| c.token == token) {
                *cached = None;
            }
        }
    }
}

impl Exchange {
    async fn fetch(&self, now: Instant) -> Result<Cached, Status> {
        let Some(secret) = self.client_secret.clone() else {
            return Err(Status::unauthenticated(
                "no service account secret configured (RESERVATION_SERVICE_CLIENT_SECRET)",
            ));
        };
        let mut request = tonic::Request::new(IssueServiceTokenRequest {
            client_id: self.client_id.clone(),
            client_secret: secret,
        });
        request.set_timeout(EXCHANGE_TIMEOUT);
        let mut client = self.client.clone();
        let response = tokio::time::timeout(EXCHANGE_TIMEOUT, client.issue_service_token(request))
            .await
            .map_err(|_| Status::deadline_exceeded("the auth service did not answer in time"))??
            .into_inner();
        let expires = travel::types::Instant::parse(response.access_token_expires_at.as_ref())
            .unwrap_or_else(|_| now.plus(RENEW_MARGIN * 2));
        let life = Duration::from_millis(u64::try_from(expires.unix_millis() - now.unix_millis()).unwrap_or(0));
        let renew_at = Instant::from_unix_millis(
            expires.unix_millis() - i64::try_from(RENEW_MARGIN.min(life / 2).as_millis()).unwrap_or(0),
        );
        tracing::info!(client_id = %self.client_id, "obtained a service token from the auth service");
        Ok(Cached {
            token: response.access_token,
            renew_at,
            expires_at: expires,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_fixed_token_is_always_the_same() {
        let token = ServiceToken::fixed("t1");
        token.invalidate("t1").await;
        assert_eq!(token.get().await.unwrap(), "t1");
    }

    #[tokio::test]
    async fn without_a_secret_no_token_is_asked_for() {
        let clock: SharedClock = Arc::new(travel::SystemClock);
        let token = ServiceToken::from_auth("http://127.0.0.1:1", "reservation", None, clock).unwrap();
        assert_eq!(token.get().await.unwrap_err().code(), tonic::Code::Unauthenticated);
    }
}
