//! The auth service's settings: command-line flags with environment twins, and
//! the two secrets that are read from the environment only (a flag's value
//! shows in process lists).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;
use travel::config::{HostArgs, parse_duration, parse_secret, secret_from_env};

use crate::domain::password::Pool;
use crate::domain::refresh::SessionRules;
use crate::domain::throttle::Limits;

/// Environment variable holding the bootstrapped admin's password.
pub const ADMIN_PASSWORD_ENV: &str = "AUTH_ADMIN_PASSWORD";
/// Environment variable holding the service account's secret.
pub const SERVICE_SECRET_ENV: &str = "AUTH_SERVICE_CLIENT_SECRET";

const SECRETS_HELP: &str = "\
Secrets read from the environment only (never flags, which show in process lists):
  AUTH_ADMIN_PASSWORD         password of the --admin-email account (12 to 128 characters)
  AUTH_SERVICE_CLIENT_SECRET  secret of the --service-client-id account; without it, none is created

Signing keys: give AUTH_SIGNING_KEYS or AUTH_SIGNING_KEYS_FILE as `kid=SEED,kid=SEED`, the
first key signing new tokens and all of them published. To rotate, put a new key first and
keep the old one listed until the tokens it signed have expired. Print a new key line with
`travel-auth --generate-signing-key`. With no key configured, one is generated and stored in
the auth database: fine for local use, not for production.";

/// The auth service's settings: command-line flags, each with an environment twin.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "travel-auth",
    version,
    about = "The auth service: accounts, passwords, access and refresh tokens, signing keys and service accounts over gRPC.",
    after_help = SECRETS_HELP
)]
pub struct Config {
    /// Address to listen on for gRPC.
    #[arg(long, env = "AUTH_LISTEN_ADDR", default_value = "0.0.0.0:50051")]
    pub listen: SocketAddr,
    /// Address to serve Prometheus metrics on, over HTTP at `/metrics`.
    #[arg(long, env = "AUTH_METRICS_LISTEN_ADDR", default_value = "0.0.0.0:9051")]
    pub metrics_listen: SocketAddr,
    /// Database URL: `sqlite://PATH?mode=rwc` (created if missing) or `postgres://USER@HOST/DB`.
    #[arg(long, env = "AUTH_DATABASE_URL", default_value = "sqlite://data/auth.db?mode=rwc")]
    pub database_url: String,
    /// The `iss` claim of issued tokens; the services' --token-issuer must match.
    #[arg(long, env = "AUTH_ISSUER", default_value = "travel-auth")]
    pub issuer: String,
    /// The `aud` claim of issued tokens; the services' --token-audience must match.
    #[arg(long, env = "AUTH_AUDIENCE", default_value = "travel")]
    pub audience: String,
    /// How long an access token is valid. Short: access tokens cannot be revoked.
    #[arg(long, env = "AUTH_ACCESS_TOKEN_TTL", default_value = "15m", value_parser = parse_duration)]
    pub access_token_ttl: Duration,
    /// How long a refresh token is valid (each Refresh issues a new one).
    #[arg(long, env = "AUTH_REFRESH_TOKEN_TTL", default_value = "720h", value_parser = parse_duration)]
    pub refresh_token_ttl: Duration,
    /// Signing keys, `kid=SEED,…` (SEED: 32 bytes, base64url, no padding); the first signs.
    /// Prefer the environment variable or --signing-keys-file: flags show in process lists.
    #[arg(
        long,
        env = "AUTH_SIGNING_KEYS",
        hide_env_values = true,
        conflicts_with = "signing_keys_file",
        value_parser = parse_secret
    )]
    pub signing_keys: Option<SecretString>,
    /// A file holding the signing keys in the same form (a mounted Kubernetes secret).
    #[arg(long, env = "AUTH_SIGNING_KEYS_FILE")]
    pub signing_keys_file: Option<PathBuf>,
    /// Print a new signing key line, `kid=SEED`, for AUTH_SIGNING_KEYS, and exit.
    #[arg(long)]
    pub generate_signing_key: bool,
    /// Email of the admin account created (or updated) at start-up; needs AUTH_ADMIN_PASSWORD.
    #[arg(long, env = "AUTH_ADMIN_EMAIL")]
    pub admin_email: Option<String>,
    /// The admin's password: from AUTH_ADMIN_PASSWORD only, never a flag.
    #[arg(skip = secret_from_env(ADMIN_PASSWORD_ENV))]
    pub admin_password: Option<SecretString>,
    /// Client id of the service account (the reservation service's) for IssueServiceToken.
    #[arg(long, env = "AUTH_SERVICE_CLIENT_ID", default_value = "reservation")]
    pub service_client_id: String,
    /// The service account's secret: from AUTH_SERVICE_CLIENT_SECRET only; none, no account.
    #[arg(skip = secret_from_env(SERVICE_SECRET_ENV))]
    pub service_client_secret: Option<SecretString>,
    /// Free failed logins for one email (and for each address that logged in to it before)
    /// within the window; past it, each attempt waits a delay that doubles per failure.
    #[arg(long, env = "AUTH_MAX_FAILED_LOGINS_PER_ACCOUNT", default_value_t = 5)]
    pub max_failed_logins_per_account: u32,
    /// Free failed logins from one client address within the window (per process); past it,
    /// its logins to accounts it never logged in to before wait a growing delay.
    #[arg(long, env = "AUTH_MAX_FAILED_LOGINS_PER_PEER", default_value_t = 20)]
    pub max_failed_logins_per_peer: u32,
    /// Free wrong secrets for one service client id from one client address within the
    /// window (IssueServiceToken has its own table, never gated by the client id alone:
    /// customer logins and guesses from other addresses never throttle the real service).
    #[arg(long, env = "AUTH_MAX_FAILED_SERVICE_LOGINS", default_value_t = 5)]
    pub max_failed_service_logins: u32,
    /// Registers for one email within the window before each further one waits a delay.
    #[arg(long, env = "AUTH_MAX_REGISTERS_PER_EMAIL", default_value_t = 5)]
    pub max_registers_per_email: u32,
    /// Registers from one client address within the window before each further one waits.
    #[arg(long, env = "AUTH_MAX_REGISTERS_PER_PEER", default_value_t = 20)]
    pub max_registers_per_peer: u32,
    /// How far back failures (and Registers) count.
    #[arg(long, env = "AUTH_LOGIN_FAILURE_WINDOW", default_value = "15m", value_parser = parse_duration)]
    pub login_failure_window: Duration,
    /// The delay once an allowance is used up; it doubles with each further failure.
    #[arg(long, env = "AUTH_LOGIN_FIRST_DELAY", default_value = "1s", value_parser = parse_duration)]
    pub login_first_delay: Duration,
    /// The longest delay (never a lockout: once it has passed, a right password is accepted).
    #[arg(long, env = "AUTH_LOGIN_MAX_DELAY", default_value = "15m", value_parser = parse_duration)]
    pub login_max_delay: Duration,
    /// Proxies whose `x-forwarded-for` is believed, as CIDRs or addresses, comma-separated
    /// (e.g. `10.0.0.0/8,192.168.1.7`); the client is the rightmost untrusted hop. Empty: the
    /// TCP peer is the client and the header is ignored.
    #[arg(long, env = "AUTH_TRUSTED_PROXIES", value_delimiter = ',', value_parser = crate::client_addr::parse_network)]
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Password hashes run at once (each takes ~7 MiB); default: one per core.
    #[arg(long, env = "AUTH_HASHING_THREADS")]
    pub hashing_threads: Option<usize>,
    /// Calls that may wait for a hashing slot; past it, RESOURCE_EXHAUSTED at once.
    /// Default: 32 per hashing thread.
    #[arg(long, env = "AUTH_HASHING_QUEUE")]
    pub hashing_queue: Option<usize>,
    /// Longest wait for a hashing slot before RESOURCE_EXHAUSTED (with a retry delay).
    #[arg(long, env = "AUTH_HASHING_WAIT", default_value = "2s", value_parser = parse_duration)]
    pub hashing_wait: Duration,
    /// How often expired refresh tokens are deleted.
    #[arg(long, env = "AUTH_SWEEP_INTERVAL", default_value = "1h", value_parser = parse_duration)]
    pub sweep_interval: Duration,
    /// How long after a Refresh a retry with the token it spent is still answered (the
    /// response was lost): the retry gets a new token and the lost one is revoked. At
    /// most 5m; 0s turns it off (any second use revokes the session).
    #[arg(long, env = "AUTH_REFRESH_REUSE_GRACE", default_value = "30s", value_parser = parse_reuse_grace)]
    pub refresh_reuse_grace: Duration,
    /// How long a session lasts from its Login, however often it is refreshed; refresh
    /// tokens never expire after that.
    #[arg(long, env = "AUTH_SESSION_MAX_LIFETIME", default_value = "720h", value_parser = parse_session_lifetime)]
    pub session_max_lifetime: Duration,
    #[command(flatten)]
    pub host: HostArgs,
}

impl Config {
    /// An auth service on `listen` with its accounts in `database_url`, and
    /// every other setting at its default: no admin, no service account, and
    /// a signing key generated and kept in that database.
    pub fn new(listen: SocketAddr, database_url: impl Into<String>) -> Self {
        Self {
            listen,
            metrics_listen: travel::config::metrics_beside(listen),
            database_url: database_url.into(),
            admin_password: None,
            service_client_secret: None,
            ..travel::config::defaults()
        }
    }

    /// The login throttle's limits.
    pub fn limits(&self) -> Limits {
        Limits {
            per_account: self.max_failed_logins_per_account,
            per_peer: self.max_failed_logins_per_peer,
            window: self.login_failure_window,
            first_delay: self.login_first_delay,
            max_delay: self.login_max_delay,
        }
    }

    /// The service-account throttle's limits: per (client id, address), and per address
    /// as for logins; never per client id alone.
    pub fn service_limits(&self) -> Limits {
        Limits {
            per_account: self.max_failed_service_logins,
            per_peer: self.max_failed_logins_per_peer,
            ..self.limits()
        }
    }

    /// Register's limits: every Register counts, per email and per client address.
    pub fn register_limits(&self) -> Limits {
        Limits {
            per_account: self.max_registers_per_email,
            per_peer: self.max_registers_per_peer,
            ..self.limits()
        }
    }

    /// The password-hashing pool.
    pub fn hashing(&self) -> Pool {
        Pool::sized(self.hashing_threads, self.hashing_queue, self.hashing_wait)
    }
}

/// Session settings (refresh-token families).
impl Config {
    /// The rules Refresh applies to sessions.
    pub fn session_rules(&self) -> SessionRules {
        SessionRules {
            reuse_grace: self.refresh_reuse_grace,
            max_lifetime: self.session_max_lifetime,
        }
    }
}

/// Longest --refresh-reuse-grace: a longer window would blunt reuse detection.
const MAX_REUSE_GRACE: Duration = Duration::from_secs(5 * 60);

fn parse_reuse_grace(s: &str) -> Result<Duration, String> {
    let grace = parse_duration(s)?;
    if grace > MAX_REUSE_GRACE {
        return Err(format!("`{s}` is longer than the 5m a reuse grace window may last"));
    }
    Ok(grace)
}

fn parse_session_lifetime(s: &str) -> Result<Duration, String> {
    let lifetime = parse_duration(s)?;
    if lifetime < Duration::from_secs(60) {
        return Err(format!("`{s}` is shorter than the 1m a session must at least last"));
    }
    Ok(lifetime)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[test]
    fn the_defaults_of_the_command_line_and_of_new_agree() {
        let parsed = Config::parse_from(["travel-auth"]);
        let built = Config::new(parsed.listen, parsed.database_url.clone());
        assert_eq!(parsed.listen, "0.0.0.0:50051".parse().unwrap());
        assert_eq!(parsed.database_url, "sqlite://data/auth.db?mode=rwc");
        assert_eq!(format!("{:?}", parsed.limits()), format!("{:?}", built.limits()));
        assert_eq!(parsed.register_limits(), built.register_limits());
        assert_eq!(parsed.service_limits(), built.service_limits());
        assert_eq!(parsed.hashing(), built.hashing());
        assert!(parsed.trusted_proxies.is_empty());
        assert_eq!(parsed.access_token_ttl, built.access_token_ttl);
        assert_eq!(parsed.refresh_token_ttl, built.refresh_token_ttl);
        assert_eq!((parsed.issuer, parsed.audience), (built.issuer, built.audience));
        assert_eq!(parsed.service_client_id, built.service_client_id);
        assert_eq!(parsed.sweep_interval, built.sweep_interval);
    }

    #[test]
    fn secrets_are_not_flags_and_never_show_in_debug_output() {
        assert!(Config::try_parse_from(["travel-auth", "--admin-password", "x"]).is_err());
        assert!(Config::try_parse_from(["travel-auth", "--service-client-secret", "x"]).is_err());
        let mut config = Config::new("127.0.0.1:0".parse().unwrap(), "sqlite::memory:");
        config.admin_password = Some("admin-password-123".into());
        config.service_client_secret = Some("service-secret-123".into());
        config.signing_keys = Some("k=seed-that-is-secret".into());
        let shown = format!("{config:?}");
        assert!(!shown.contains("password-123") && !shown.contains("secret-123") && !shown.contains("seed-that"));
    }

    #[test]
    fn trusted_proxies_are_a_comma_separated_list_of_networks() {
        let parsed = Config::try_parse_from(["travel-auth", "--trusted-proxies", "10.0.0.0/8,192.168.1.7"]).unwrap();
        let shown: Vec<_> = parsed.trusted_proxies.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["10.0.0.0/8", "192.168.1.7/32"]);
        assert!(Config::try_parse_from(["travel-auth", "--trusted-proxies", "10.0.0.0/99"]).is_err());
    }

    #[test]
    fn both_signing_key_sources_at_once_are_refused() {
        let both = ["travel-auth", "--signing-keys", "a=b", "--signing-keys-file", "/k"];
        assert!(Config::try_parse_from(both).is_err());
    }

    #[test]
    fn session_settings_default_to_a_30_second_grace_and_30_day_sessions_and_are_bounded() {
        let parsed = Config::parse_from(["travel-auth"]);
        let built = Config::new(parsed.listen, parsed.database_url.clone());
        assert_eq!(parsed.session_rules(), built.session_rules());
        assert_eq!(parsed.refresh_reuse_grace, Duration::from_secs(30));
        assert_eq!(parsed.session_max_lifetime, Duration::from_secs(30 * 24 * 3600));
        let set = [
            "travel-auth",
            "--refresh-reuse-grace",
            "0s",
            "--session-max-lifetime",
            "12h",
        ];
        let set = Config::parse_from(set);
        assert_eq!(set.refresh_reuse_grace, Duration::ZERO);
        assert_eq!(set.session_max_lifetime, Duration::from_secs(12 * 3600));
        assert!(Config::try_parse_from(["travel-auth", "--refresh-reuse-grace", "6m"]).is_err());
        assert!(Config::try_parse_from(["travel-auth", "--session-max-lifetime", "30s"]).is_err());
    }
}
