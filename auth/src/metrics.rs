//! The auth service's own counters, registered in its registry: Login's
//! outcomes, attempts a throttle refused unchecked, and access tokens issued
//! by grant. Labels come from small fixed sets: never an email, client id or
//! address.

use prometheus::{IntCounterVec, Opts, Registry};

/// How a Login with well-formed arguments ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Login {
    /// Tokens issued.
    Ok,
    /// Unknown email or wrong password.
    BadCredentials,
    /// Refused unchecked by the login throttle.
    Throttled,
}

/// Which throttle refused an attempt unchecked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Login, and Register for an email whose logins are delayed.
    Login,
    /// Register, per email and per address.
    Register,
    /// IssueServiceToken.
    ServiceToken,
}

/// How an access token was obtained, named as OAuth 2 names its grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    /// Login: email and password.
    Password,
    /// Refresh: a refresh token.
    RefreshToken,
    /// IssueServiceToken: a service account's client id and secret.
    ClientCredentials,
}

/// The counters; cheap to clone.
#[derive(Debug, Clone)]
pub struct AuthMetrics {
    logins: IntCounterVec,
    throttled: IntCounterVec,
    tokens: IntCounterVec,
}

impl AuthMetrics {
    /// Registers the counters in `registry`.
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let counter = |name: &str, help: &str, label: &str| -> prometheus::Result<IntCounterVec> {
            let c = IntCounterVec::new(Opts::new(name, help), &[label])?;
            registry.register(Box::new(c.clone()))?;
            Ok(c)
        };
        Ok(Self {
            logins: counter(
                "travel_logins_total",
                "Logins with well-formed arguments, by outcome: ok (tokens issued), bad_credentials \
                 (unknown email or wrong password), throttled (refused unchecked after recent failures).",
                "outcome",
            )?,
            throttled: counter(
                "travel_login_throttled_total",
                "Password checks refused unchecked by a throttle after too many recent failures, by \
                 throttle: login (Login, and Register for an email whose logins are delayed), register, \
                 service_token (IssueServiceToken).",
                "throttle",
            )?,
            tokens: counter(
                "travel_tokens_issued_total",
                "Access tokens issued, by grant: password (Login), refresh_token (Refresh), \
                 client_credentials (IssueServiceToken).",
                "grant",
            )?,
        })
    }

    /// A Login ended with `outcome`.
    pub fn login(&self, outcome: Login) {
        let outcome = match outcome {
            Login::Ok => "ok",
            Login::BadCredentials => "bad_credentials",
            Login::Throttled => "throttled",
        };
        self.logins.with_label_values(&[outcome]).inc();
    }

    /// `gate` refused an attempt unchecked.
    pub fn throttled(&self, gate: Gate) {
        let gate = match gate {
            Gate::Login => "login",
            Gate::Register => "register",
            Gate::ServiceToken => "service_token",
        };
        self.throttled.with_label_values(&[gate]).inc();
    }

    /// An access token was issued by `grant`.
    pub fn issued(&self, grant: Grant) {
        let grant = match grant {
            Grant::Password => "password",
            Grant::RefreshToken => "refresh_token",
            Grant::ClientCredentials => "client_credentials",
        };
        self.tokens.with_label_values(&[grant]).inc();
    }
}
