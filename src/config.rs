//! The settings every service shares — the gRPC server's limits, the
//! database pool, token verification, logging — with their command-line flags
//! and environment twins, the duration syntax of every duration flag
//! (`500ms`, `30s`, `10m`, `1h`), and [`defaults`]: each default is declared
//! once, in its `#[arg]`, and `Default` reads it from there.

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, FromArgMatches, Parser};
use secrecy::SecretString;

use crate::jwt::Expectations;

/// The value of a settings struct with every flag at its declared default,
/// whatever the environment says: how the services' `Config::new` is built,
/// so that no default is written twice.
///
/// # Panics
/// When the struct has a required flag (one without a default): a bug in the
/// struct, which every test that builds settings would show.
pub fn defaults<T: Parser>() -> T {
    let command = T::command().mut_args(|arg| arg.env(None));
    let name = command.get_name().to_owned();
    from_matches(command, name)
}

/// The defaults of one flattened group of settings (see [`defaults`]).
fn group_defaults<T: Args + FromArgMatches>() -> T {
    let command = T::augment_args(clap::Command::new("defaults")).mut_args(|arg| arg.env(None));
    from_matches(command, "defaults".to_owned())
}

fn from_matches<T: FromArgMatches>(command: clap::Command, name: String) -> T {
    let matches = command.get_matches_from([name]);
    match T::from_arg_matches(&matches) {
        Ok(value) => value,
        Err(e) => panic!("a settings struct has a flag without a default: {e}"),
    }
}

/// A secret flag's value (`value_parser = parse_secret`), kept out of `Debug`
/// output and log lines as a [`SecretString`].
pub fn parse_secret(s: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(s.into())
}

/// A secret read from the environment variable `name` only (never a flag,
/// which shows in process lists); unset or empty is none.
pub fn secret_from_env(name: &str) -> Option<SecretString> {
    std::env::var(name)
        .ok()
        .filter(|s| !s.is_empty())
        .map(SecretString::from)
}

/// Parses durations such as `500ms`, `5s` (or a bare `5`), `10m`, `1h`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let invalid = || format!("`{s}` is not a duration such as 500ms, 30s, 10m or 1h");
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let n: u64 = number.parse().map_err(|_| invalid())?;
    let seconds = |factor: u64| n.checked_mul(factor).map(Duration::from_secs).ok_or_else(invalid);
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" | "" => seconds(1),
        "m" => seconds(60),
        "h" => seconds(3600),
        _ => Err(invalid()),
    }
}

/// Limits and timeouts of the gRPC server, shared by every service's command line.
#[derive(Debug, Clone, clap::Args)]
pub struct ServerArgs {
    /// Largest request message accepted, in bytes; larger ones get OUT_OF_RANGE.
    #[arg(long, env = "MAX_MESSAGE_BYTES", default_value_t = 1024 * 1024)]
    pub max_message_bytes: usize,
    /// Largest number of calls served at once on one connection; past it, calls wait.
    #[arg(long, env = "MAX_CONCURRENT_CALLS_PER_CONNECTION", default_value_t = 256)]
    pub max_concurrent_calls_per_connection: usize,
    /// Largest number of HTTP/2 streams a client may open on one connection.
    #[arg(long, env = "MAX_CONCURRENT_STREAMS", default_value_t = 512)]
    pub max_concurrent_streams: u32,
    /// Longest a call may run when the client sets no shorter deadline.
    #[arg(long, env = "REQUEST_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub request_timeout: Duration,
    /// On SIGTERM/SIGINT, how long in-flight calls may run before the server stops anyway
    /// (counted from the end of the pre-stop delay).
    #[arg(long, env = "DRAIN_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub drain_timeout: Duration,
    /// On SIGTERM/SIGINT, how long the service keeps serving as usual after its health turned
    /// NOT_SERVING, so that load balancers take it out before it drains. Kubernetes: a few seconds.
    #[arg(long, env = "PRE_STOP_DELAY", default_value = "0s", value_parser = parse_duration)]
    pub pre_stop_delay: Duration,
    /// Largest number of calls the service runs at once, over all its connections; one more is
    /// refused at once with RESOURCE_EXHAUSTED (health checks are never refused).
    #[arg(long, env = "MAX_CONCURRENT_CALLS", default_value_t = 1024)]
    pub max_concurrent_calls: usize,
    /// How long a client connection lives before the server asks the client to reconnect
    /// (HTTP/2 GOAWAY), so that connections rebalance when replicas are added.
    #[arg(long, env = "MAX_CONNECTION_AGE", default_value = "5m", value_parser = parse_duration)]
    pub max_connection_age: Duration,
    /// How long the calls on a connection past its age may still run.
    #[arg(long, env = "MAX_CONNECTION_AGE_GRACE", default_value = "30s", value_parser = parse_duration)]
    pub max_connection_age_grace: Duration,
    /// How often the service checks its database for health: NOT_SERVING while it is unreachable.
    #[arg(long, env = "HEALTH_CHECK_INTERVAL", default_value = "5s", value_parser = parse_duration)]
    pub health_check_interval: Duration,
}

impl Default for ServerArgs {
    fn default() -> Self {
        group_defaults()
    }
}

/// Database settings shared by every service's command line.
#[derive(Debug, Clone, clap::Args)]
pub struct DatabaseArgs {
    /// Largest number of open database connections (on SQLite, those that read: the
    /// process's one writer connection comes on top).
    #[arg(long, env = "DATABASE_MAX_CONNECTIONS", default_value_t = 10)]
    pub database_max_connections: u32,
    /// How long a query waits for a connection, or for SQLite's write lock, before failing.
    #[arg(long, env = "DATABASE_BUSY_TIMEOUT", default_value = "5s", value_parser = parse_duration)]
    pub database_busy_timeout: Duration,
}

impl Default for DatabaseArgs {
    fn default() -> Self {
        group_defaults()
    }
}

/// Event settings of a service that publishes or consumes events (flight,
/// reservation), shared by their command lines. Its `Debug` shows the broker's
/// address only: the URL carries the password.
#[derive(Clone, clap::Args)]
pub struct EventArgs {
    /// The message broker: `amqp://USER:PASSWORD@HOST:PORT/VHOST` (RabbitMQ; the vhost
    /// URL-encoded, `%2f` for `/`). Unset: events are delivered inside this process only,
    /// between the services of the local stack; a service run alone keeps its events in its
    /// outbox, unpublished, until it runs with a broker. Nothing is lost while the broker is
    /// down: events wait in the outbox.
    #[arg(long, env = "BROKER_URL", hide_env_values = true, value_parser = crate::events::amqp::broker_url)]
    pub broker_url: Option<String>,
    /// How often the outbox relay looks for events to publish.
    #[arg(long, env = "OUTBOX_POLL_INTERVAL", default_value = "200ms", value_parser = parse_duration)]
    pub outbox_poll_interval: Duration,
    /// How long events the broker confirmed stay in the outbox before they are deleted.
    #[arg(long, env = "OUTBOX_RETENTION", default_value = "24h", value_parser = parse_duration)]
    pub outbox_retention: Duration,
    /// Set by a program that runs several services in one process (the stack):
    /// without a broker, their events go through this shared in-process bus.
    #[arg(skip)]
    pub local: Option<crate::events::bus::Bus>,
}

impl std::fmt::Debug for EventArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let broker = self
            .broker_url
            .as_deref()
            .map(|url| crate::events::amqp::Amqp::new(url).address().to_owned());
        f.debug_struct("EventArgs")
            .field("broker", &broker)
            .field("outbox_poll_interval", &self.outbox_poll_interval)
            .field("outbox_retention", &self.outbox_retention)
            .field("local", &self.local.is_some())
            .finish()
    }
}

impl Default for EventArgs {
    fn default() -> Self {
        group_defaults()
    }
}

/// Token-verification settings shared by every service's command line.
#[derive(Debug, Clone, clap::Args)]
pub struct AuthArgs {
    /// The auth service, to fetch the token signing keys from: a URL
    /// (`http://host:port`), `dns:///name:port` (every address behind the name,
    /// balanced and looked up again periodically), or a comma-separated list of URLs.
    #[arg(long, env = "AUTH_URL", default_value = "http://127.0.0.1:50051",
          value_parser = crate::discovery::target_flag)]
    pub auth_url: String,
    /// How often a client whose target is a `dns:///` name or a list (every
    /// client: of auth here, and of flight and hotel in the reservation service)
    /// looks its replicas up again and probes them (a health check: a replica
    /// NOT_SERVING is left out); sooner after a failure. At least 1s.
    #[arg(long, env = "RESOLVE_INTERVAL", default_value = "10s", value_parser = parse_resolve_interval)]
    pub resolve_interval: Duration,
    /// Issuer (`iss`) accepted in access tokens; must match the auth service's --issuer.
    #[arg(long, env = "TOKEN_ISSUER", default_value = "travel-auth")]
    pub token_issuer: String,
    /// Audience (`aud`) accepted in access tokens; must match the auth service's --audience.
    #[arg(long, env = "TOKEN_AUDIENCE", default_value = "travel")]
    pub token_audience: String,
    /// Least time between two fetches of the signing keys caused by unknown key ids.
    #[arg(long, env = "KEY_REFETCH_INTERVAL", default_value = "30s", value_parser = parse_duration)]
    pub key_refetch_interval: Duration,
    /// Longest the signing keys are kept without asking auth again: they are
    /// refetched in the background this often, so a key auth withdrew stops
    /// verifying within it (while auth is unreachable, the cached keys keep
    /// verifying). At least 1s.
    #[arg(long, env = "KEY_MAX_AGE", default_value = "5m", value_parser = parse_key_max_age)]
    pub key_max_age: Duration,
}

/// A `--key-max-age`: a duration of at least one second (a shorter one would
/// have every replica ask auth for keys many times a second).
fn parse_key_max_age(s: &str) -> Result<Duration, String> {
    let age = parse_duration(s)?;
    if age < Duration::from_secs(1) {
        return Err(format!("`{s}` is too short for a key max age: use at least 1s"));
    }
    Ok(age)
}

/// A `--resolve-interval`: a duration of at least one second (a shorter one
/// would have every replica look up and probe its dependencies many times a second).
fn parse_resolve_interval(s: &str) -> Result<Duration, String> {
    let interval = parse_duration(s)?;
    if interval < Duration::from_secs(1) {
        return Err(format!("`{s}` is too short for a resolve interval: use at least 1s"));
    }
    Ok(interval)
}

impl Default for AuthArgs {
    fn default() -> Self {
        group_defaults()
    }
}

impl AuthArgs {
    /// What tokens must say to be accepted.
    pub fn expectations(&self) -> Expectations {
        Expectations {
            issuer: self.token_issuer.clone(),
            audience: self.token_audience.clone(),
            leeway_secs: 30,
        }
    }
}

/// Where a service built in code (tests, the stack) on `listen` serves
/// `/metrics` unless told otherwise: the same address, any free port.
pub fn metrics_beside(listen: SocketAddr) -> SocketAddr {
    SocketAddr::new(listen.ip(), 0)
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One readable line per event.
    #[default]
    Text,
    /// One JSON object per event, for log collectors.
    Json,
}

/// Logging settings shared by every service's command line.
#[derive(Debug, Clone, clap::Args)]
pub struct TelemetryArgs {
    /// Log line format.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

impl Default for TelemetryArgs {
    fn default() -> Self {
        group_defaults()
    }
}

/// The settings every service's host takes besides its address and database
/// URL (whose flags and environment variables are the service's own): the
/// database pool, the gRPC server's limits, logging.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct HostArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    pub telemetry: TelemetryArgs,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("7"), Ok(Duration::from_secs(7)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("5d").is_err());
        assert!(
            parse_duration("18446744073709551615h").is_err(),
            "an overflow is an error, not a panic"
        );
    }

    #[test]
    fn the_event_settings_never_print_the_brokers_password() {
        let args = EventArgs {
            broker_url: Some("amqp://app:s3cret-pass@rabbit.example:5672/%2f".into()),
            ..EventArgs::default()
        };
        let printed = format!("{args:?}");
        assert!(!printed.contains("s3cret-pass"), "{printed}");
        assert!(printed.contains("rabbit.example:5672"), "{printed}");
    }

    #[test]
    fn a_key_max_age_under_a_second_is_refused() {
        assert_eq!(parse_key_max_age("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_key_max_age("1s"), Ok(Duration::from_secs(1)));
        assert!(parse_key_max_age("500ms").is_err());
        assert!(parse_key_max_age("0").is_err());
    }

    #[test]
    fn an_auth_url_that_is_no_target_stops_the_command_line() {
        let parse =
            |url: &str| AuthArgs::augment_args(clap::Command::new("t")).try_get_matches_from(["t", "--auth-url", url]);
        assert!(parse("dns:///auth:50051").is_ok());
        assert!(parse("http://a:50051,http://b:50051").is_ok());
        let refused = parse("dns:///auth").expect_err("no port").to_string();
        assert!(refused.contains("dns:///name:port"), "{refused}");
        let too_often =
            AuthArgs::augment_args(clap::Command::new("t")).try_get_matches_from(["t", "--resolve-interval", "100ms"]);
        assert!(too_often.is_err());
    }

    #[test]
    fn defaults_are_the_declared_ones_whatever_the_environment() {
        let server = ServerArgs::default();
        assert_eq!(server.request_timeout, Duration::from_secs(30));
        assert_eq!(server.max_message_bytes, 1024 * 1024);
        assert_eq!(DatabaseArgs::default().database_busy_timeout, Duration::from_secs(5));
        let auth = AuthArgs::default();
        assert_eq!(auth.auth_url, "http://127.0.0.1:50051");
        assert_eq!(auth.key_max_age, Duration::from_secs(300));
        assert_eq!(auth.resolve_interval, Duration::from_secs(10));
        assert_eq!(TelemetryArgs::default().log_format, LogFormat::Text);
    }
}
