//! Who is calling, and whether they may: a tower layer that every service
//! installs verifies `authorization: Bearer <token>` locally (see
//! [`crate::jwt`], keys from [`crate::key_ring`]) and hands the handler a typed
//! [`Caller`]; handlers state what each RPC requires with [`check`].
//!
//! No header means an anonymous caller (searches stay open); a header with a
//! bad token is refused with UNAUTHENTICATED before any handler runs, and
//! counted by reason in `travel_token_refusals_total` ([`TokenRefusals`]).

use std::sync::Arc;
use std::task::{Context, Poll};

use prometheus::{IntCounterVec, Opts, Registry};
use tonic::codegen::http;
use tonic::{Request, Status};

use crate::SharedClock;
use crate::jwt::{self, Expectations, Role};
use crate::key_ring::KeyRing;

/// The verified caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// No credentials were presented.
    Anonymous,
    /// A valid access token was presented.
    Authenticated {
        /// The token's subject: a user id, or `service:<client id>`.
        subject: String,
        /// The token's role.
        role: Role,
    },
}

/// What an RPC requires of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requirement {
    /// Open to anonymous callers (searches, gets).
    Anyone,
    /// Any signed-in caller.
    SignedIn,
    /// The admin role (catalog changes).
    Admin,
    /// A service account (holds, confirms, releases).
    Service,
}

/// The caller of `request` if it meets `requirement`: UNAUTHENTICATED without
/// credentials, PERMISSION_DENIED with the wrong role.
#[allow(clippy::result_large_err)] // tonic::Status is what handlers return
pub fn check<T>(request: &Request<T>, requirement: Requirement) -> Result<Caller, Status> {
    let caller = request
        .extensions()
        .get::<Caller>()
        .cloned()
        .unwrap_or(Caller::Anonymous);
    let needed = match requirement {
        Requirement::Anyone => return Ok(caller),
        Requirement::SignedIn => None,
        Requirement::Admin => Some(Role::Admin),
        Requirement::Service => Some(Role::Service),
    };
    match (&caller, needed) {
        (Caller::Anonymous, _) => Err(Status::unauthenticated(
            "this call needs an access token: send `authorization: Bearer <token>`",
        )),
        (Caller::Authenticated { role, .. }, Some(needed)) if *role != needed => Err(Status::permission_denied(
            format!("this call needs the {} role", needed.as_str()),
        )),
        _ => Ok(caller),
    }
}

/// Verifies bearer tokens; the tower layer every service installs.
#[derive(Debug, Clone)]
pub struct Authenticate {
    verifier: Option<Arc<Verifier>>,
}

#[derive(Debug)]
struct Verifier {
    keys: Arc<KeyRing>,
    expect: Expectations,
    clock: SharedClock,
    refusals: TokenRefusals,
}

/// The count of refused `authorization` headers, by reason:
/// `travel_token_refusals_total{reason}`, the reason one of
/// [`jwt::TokenError::reason`]'s or `missing_bearer` (a header that is not
/// `Bearer <token>`).
#[derive(Debug, Clone)]
pub struct TokenRefusals(IntCounterVec);

impl TokenRefusals {
    /// Registers the counter in `registry`.
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let refusals = IntCounterVec::new(
            Opts::new(
                "travel_token_refusals_total",
                "Calls refused UNAUTHENTICATED for their authorization header, by reason: expired, \
                 bad_signature, unknown_key, malformed, wrong_audience, wrong_issuer, not_yet_valid, \
                 wrong_algorithm, no_key_id, or missing_bearer (not `Bearer <token>`).",
            ),
            &["reason"],
        )?;
        registry.register(Box::new(refusals.clone()))?;
        Ok(Self(refusals))
    }

    fn count(&self, reason: &'static str) {
        self.0.with_label_values(&[reason]).inc();
    }
}

impl Authenticate {
    /// Verifies with `keys`, expecting `expect`, at the time of `clock`,
    /// counting refusals in `refusals`.
    pub fn new(keys: Arc<KeyRing>, expect: Expectations, clock: SharedClock, refusals: TokenRefusals) -> Self {
        Self {
            verifier: Some(Arc::new(Verifier {
                keys,
                expect,
                clock,
                refusals,
            })),
        }
    }

    /// Ignores credentials: every caller is anonymous. For a service none of
    /// whose RPCs depend on the caller (the auth service itself, where a client
    /// may well send its expired access token along with a Refresh).
    pub fn disabled() -> Self {
        Self { verifier: None }
    }

    /// The caller an `authorization` header value names.
    pub async fn caller(&self, header: Option<&http::HeaderValue>) -> Result<Caller, Status> {
        let (Some(header), Some(verifier)) = (header, &self.verifier) else {
            return Ok(Caller::Anonymous);
        };
        let Some(token) = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")))
            .map(str::trim)
        else {
            verifier.refusals.count("missing_bearer");
            return Err(Status::unauthenticated(
                "the authorization header must be `Bearer <token>`",
            ));
        };
        let verified = match jwt::key_id(token) {
            Ok(kid) => match verifier.keys.find(&kid).await {
                Some(key) => jwt::verify(token, &key, &verifier.expect, verifier.clock.now()),
                None => Err(jwt::TokenError::UnknownKey(kid)),
            },
            Err(e) => Err(e),
        };
        match verified {
            Ok(claims) => Ok(Caller::Authenticated {
                subject: claims.sub,
                role: claims.role,
            }),
            Err(e) => {
                tracing::info!(reason = %e, "refused an access token");
                verifier.refusals.count(e.reason());
                Err(Status::unauthenticated(if e == jwt::TokenError::Expired {
                    "the access token has expired"
                } else {
                    "the access token is not valid"
                }))
            }
        }
    }
}

impl<S> tower::Layer<S> for Authenticate {
    type Service = AuthenticateService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthenticateService {
            inner,
            auth: self.clone(),
        }
    }
}

/// The service [`Authenticate`] wraps around the gRPC routes.
#[derive(Debug, Clone)]
pub struct AuthenticateService<S> {
    inner: S,
    auth: Authenticate,
}

impl<S, B> tower::Service<http::Request<B>> for AuthenticateService<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<tonic::body::Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = tonic::codegen::BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        // The clone is not ready; the instance that was polled ready serves this call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let auth = self.auth.clone();
        Box::pin(async move {
            match auth.caller(request.headers().get(http::header::AUTHORIZATION)).await {
                Ok(caller) => {
                    request.extensions_mut().insert(caller);
                    inner.call(request).await
                }
                Err(status) => Ok(status.into_http()),
            }
        })
    }
}

/// A client interceptor that sends `authorization: Bearer <token>`, or nothing:
/// how one service or tool calls another with a token.
#[derive(Debug, Clone)]
pub struct Bearer(Option<tonic::metadata::MetadataValue<tonic::metadata::Ascii>>);

impl Bearer {
    /// Sends `token`, or no header for `None`. A token that is not ASCII (tokens
    /// are base64url, so only a corrupted one) is sent as no header.
    pub fn new(token: Option<&str>) -> Self {
        Self(token.and_then(|t| format!("Bearer {t}").parse().ok()))
    }
}

impl tonic::service::Interceptor for Bearer {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if let Some(value) = &self.0 {
            request.metadata_mut().insert("authorization", value.clone());
        }
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request_from(caller: Option<Caller>) -> Request<()> {
        let mut request = Request::new(());
        if let Some(caller) = caller {
            request.extensions_mut().insert(caller);
        }
        request
    }

    fn signed_in(role: Role) -> Option<Caller> {
        Some(Caller::Authenticated {
            subject: "u1".into(),
            role,
        })
    }

    #[test]
    fn roles_are_enforced_with_the_right_codes() {
        use tonic::Code::{PermissionDenied, Unauthenticated};
        let code = |caller, req| check(&request_from(caller), req).err().map(|s| s.code());
        assert_eq!(code(None, Requirement::Anyone), None);
        assert_eq!(code(None, Requirement::Admin), Some(Unauthenticated));
        assert_eq!(
            code(Some(Caller::Anonymous), Requirement::SignedIn),
            Some(Unauthenticated)
        );
        assert_eq!(
            code(signed_in(Role::Customer), Requirement::Admin),
            Some(PermissionDenied)
        );
        assert_eq!(
            code(signed_in(Role::Customer), Requirement::Service),
            Some(PermissionDenied)
        );
        assert_eq!(
            code(signed_in(Role::Admin), Requirement::Service),
            Some(PermissionDenied)
        );
        assert_eq!(code(signed_in(Role::Admin), Requirement::Admin), None);
        assert_eq!(code(signed_in(Role::Service), Requirement::Service), None);
        assert_eq!(code(signed_in(Role::Customer), Requirement::SignedIn), None);
    }

    #[tokio::test]
    async fn refused_headers_are_counted_by_reason_and_good_ones_are_not() {
        // Arrange: a verifier trusting one key, at 2030-01-01.
        let now = crate::types::UnixMillis::from_unix_millis(1_893_456_000_000);
        let key = jwt::KeyPair::from_seed("k1", [7; 32]);
        let registry = Registry::new();
        let auth = Authenticate::new(
            Arc::new(KeyRing::fixed([key.public()])),
            Expectations {
                issuer: "travel-auth".into(),
                audience: "travel".into(),
                leeway_secs: 0,
            },
            Arc::new(crate::ManualClock::new(now)),
            TokenRefusals::register(&registry).expect("register"),
        );
        let secs = now.unix_millis() / 1000;
        let token = |exp: i64, audience: &str| {
            key.sign(&jwt::Claims {
                iss: "travel-auth".into(),
                aud: audience.into(),
                sub: "u1".into(),
                role: Role::Customer,
                iat: secs - 60,
                exp,
            })
        };
        let header = |value: String| http::HeaderValue::from_str(&value).expect("header");

        // Act
        let good = auth
            .caller(Some(&header(format!("Bearer {}", token(secs + 60, "travel")))))
            .await;
        let expired = auth
            .caller(Some(&header(format!("Bearer {}", token(secs - 1, "travel")))))
            .await;
        let elsewhere = auth
            .caller(Some(&header(format!("Bearer {}", token(secs + 60, "other")))))
            .await;
        let basic = auth.caller(Some(&header("Basic dTpw".into()))).await;
        let garbage = auth.caller(Some(&header("Bearer not-a-token".into()))).await;

        // Assert
        assert!(good.is_ok());
        assert!([&expired, &elsewhere, &basic, &garbage].iter().all(|r| r.is_err()));
        let refusals =
            |reason| crate::testing::metrics::value(&registry, "travel_token_refusals_total", &[("reason", reason)]);
        assert_eq!(refusals("expired"), 1.0);
        assert_eq!(refusals("wrong_audience"), 1.0);
        assert_eq!(refusals("missing_bearer"), 1.0);
        assert_eq!(refusals("malformed"), 1.0);
        let total: f64 = registry
            .gather()
            .iter()
            .flat_map(|f| f.get_metric())
            .map(|m| m.get_counter().get_value())
            .sum();
        assert_eq!(total, 4.0, "the good token is not counted");
    }
}
