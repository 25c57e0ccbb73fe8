//! Where a client's calls go: a [`Target`] parsed from a flag — one URL, a
//! comma-separated list of URLs, or `dns:///name:port` (every address behind one
//! name, such as a Kubernetes headless Service) — and the [`connect`]ion to it.
//!
//! One URL is dialled as today: one lazily connected HTTP/2 channel. A list or a
//! DNS name becomes a balanced channel (tonic's `balance_channel`: tower's power
//! of two choices over the endpoints that are ready), fed by a background task
//! ([`resolve`]) that looks the replicas up again every resolve interval
//! (`--resolve-interval`), and sooner when a caller reports a failed call
//! ([`Refresh`]), and takes out those that are not ready — refusing
//! connections, or NOT_SERVING on their health service — until they are.

mod resolve;

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use http::Uri;
use tokio::sync::Notify;
use tonic::transport::{Channel, Endpoint};

pub use resolve::{Dns, Fixed, MIN_GAP, Resolve};

/// Where a client's calls go, as a flag names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// One URL (`http://host:port`), dialled as given.
    Url(Uri),
    /// Every address a DNS name resolves to (`dns:///name:port`), looked up again periodically.
    Dns {
        /// The name (or an IP address; an IPv6 one in brackets).
        host: String,
        port: u16,
    },
    /// Several URLs (comma-separated), balanced.
    List(Vec<Uri>),
}

/// Why a flag's value is not a target.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("no target given: use http://host:port, dns:///name:port, or a comma-separated list of URLs")]
    Empty,
    #[error("`{0}` is not a URL such as http://host:port (a list is comma-separated URLs)")]
    BadUrl(String),
    #[error("`{0}` is not a DNS target such as dns:///name:port (three slashes, then a name and a port)")]
    BadDns(String),
}

impl FromStr for Target {
    type Err = TargetError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.is_empty() {
            return Err(TargetError::Empty);
        }
        if s.starts_with("dns:") {
            return parse_dns(s);
        }
        if s.contains(',') {
            return s
                .split(',')
                .map(|url| parse_url(url.trim()))
                .collect::<Result<_, _>>()
                .map(Self::List);
        }
        parse_url(s).map(Self::Url)
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Url(uri) => write!(f, "{uri}"),
            Self::Dns { host, port } => write!(f, "dns:///{host}:{port}"),
            Self::List(uris) => {
                let urls: Vec<String> = uris.iter().map(Uri::to_string).collect();
                f.write_str(&urls.join(","))
            }
        }
    }
}

/// A flag's value checked to be a [`Target`] (`value_parser = discovery::target_flag`),
/// so that a bad one stops the process at start-up with the reason; kept as written.
pub fn target_flag(s: &str) -> Result<String, TargetError> {
    s.parse::<Target>().map(|_| s.to_owned())
}

/// `dns:///name:port`; gRPC's form with a DNS server (`dns://server/name:port`) is refused.
fn parse_dns(s: &str) -> Result<Target, TargetError> {
    let bad = || TargetError::BadDns(s.to_owned());
    let name_port = s.strip_prefix("dns:///").ok_or_else(bad)?;
    let (host, port) = name_port.rsplit_once(':').ok_or_else(bad)?;
    let port: u16 = port.parse().map_err(|_| bad())?;
    let valid_host = !host.is_empty() && !host.contains(|c: char| c == '/' || c == '@' || c.is_whitespace());
    if port == 0 || !valid_host {
        return Err(bad());
    }
    Ok(Target::Dns {
        host: host.to_owned(),
        port,
    })
}

/// `http://host:port` (or https): a scheme and a host, no path beyond `/`, no query.
fn parse_url(s: &str) -> Result<Uri, TargetError> {
    let bad = || TargetError::BadUrl(s.to_owned());
    let uri: Uri = s.parse().map_err(|_| bad())?;
    let scheme_ok = matches!(uri.scheme_str(), Some("http" | "https"));
    let host_ok = uri.host().is_some_and(|h| !h.is_empty());
    let bare = matches!(uri.path(), "" | "/") && uri.query().is_none();
    if scheme_ok && host_ok && bare {
        Ok(uri)
    } else {
        Err(bad())
    }
}

/// Asks a balanced channel's resolver task to look at the replicas again now,
/// rather than at the end of its interval: a caller whose call failed on the
/// way to a replica (UNAVAILABLE) says so, and a replica that went away is taken
/// out within milliseconds. Looks so asked come at most every
/// [`MIN_GAP`]. For a single URL it does nothing.
#[derive(Debug, Clone, Default)]
pub struct Refresh(Option<Arc<Notify>>);

impl Refresh {
    /// Look again now (or as soon as the last look is [`MIN_GAP`] old).
    pub fn now(&self) {
        if let Some(notify) = &self.0 {
            notify.notify_one();
        }
    }
}

/// A channel to `target`, connected lazily (a dependency that is down does not
/// stop this service from starting), each endpoint set up by `configure` (the
/// caller's timeouts, `tcp_nodelay`). A list or a DNS name is balanced and
/// looked up again every `resolve_interval` by a task that ends when the
/// channel (every clone of it) is dropped. Needs a Tokio runtime.
pub fn connect<F>(target: &Target, resolve_interval: Duration, configure: F) -> Channel
where
    F: Fn(Endpoint) -> Endpoint + Send + Sync + 'static,
{
    dial(target, resolve_interval, configure).0
}

/// As [`connect`], with the handle that asks for a look now.
pub fn dial<F>(target: &Target, resolve_interval: Duration, configure: F) -> (Channel, Refresh)
where
    F: Fn(Endpoint) -> Endpoint + Send + Sync + 'static,
{
    let name = target.to_string();
    match target {
        Target::Url(uri) => (
            configure(Endpoint::from(uri.clone())).connect_lazy(),
            Refresh::default(),
        ),
        Target::Dns { host, port } => balance(name, Dns::new(host, *port), resolve_interval, configure),
        Target::List(uris) => balance(name, Fixed(uris.clone()), resolve_interval, configure),
    }
}

/// A channel balanced over the replicas `resolver` names, asked again every
/// `interval` (sooner after a failure); `name` is what logs call them.
pub fn balanced<R, F>(name: String, resolver: R, interval: Duration, configure: F) -> Channel
where
    R: Resolve,
    F: Fn(Endpoint) -> Endpoint + Send + Sync + 'static,
{
    balance(name, resolver, interval, configure).0
}

fn balance<R, F>(name: String, resolver: R, interval: Duration, configure: F) -> (Channel, Refresh)
where
    R: Resolve,
    F: Fn(Endpoint) -> Endpoint + Send + Sync + 'static,
{
    // Room for a whole change of replica set at once; the task waits when full.
    let (channel, changes) = Channel::balance_channel(64);
    let asked = Arc::new(Notify::new());
    tokio::spawn(resolve::follow(
        name,
        resolver,
        changes,
        interval,
        asked.clone(),
        configure,
    ));
    (channel, Refresh(Some(asked)))
}

#[cfg(test)]
mod tests;
