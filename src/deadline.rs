//! Deadlines that travel with a call (gRPC deadline propagation): the budget a
//! handler has left is read from the incoming `grpc-timeout` header, capped by
//! the server's own limit, and each outgoing call gets what remains of it — not
//! a fresh timeout of its own.

use std::time::Duration;

/// Name of the gRPC header that carries a call's timeout.
pub const GRPC_TIMEOUT_HEADER: &str = "grpc-timeout";

/// Parses a `grpc-timeout` value: at most 8 digits and a unit, `H` (hours), `M`
/// (minutes), `S` (seconds), `m` (milliseconds), `u` (microseconds) or `n`
/// (nanoseconds), for example `4999m`. `None` for anything else.
pub fn parse_grpc_timeout(value: &str) -> Option<Duration> {
    let unit = value.chars().last()?;
    let digits = &value[..value.len() - unit.len_utf8()];
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    match unit {
        'H' => Some(Duration::from_secs(n * 3600)),
        'M' => Some(Duration::from_secs(n * 60)),
        'S' => Some(Duration::from_secs(n)),
        'm' => Some(Duration::from_millis(n)),
        'u' => Some(Duration::from_micros(n)),
        'n' => Some(Duration::from_nanos(n)),
        _ => None,
    }
}

/// The moment by which a piece of work must be done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Deadline(tokio::time::Instant);

impl Deadline {
    /// `budget` from now.
    pub fn after(budget: Duration) -> Self {
        Self(tokio::time::Instant::now() + budget)
    }

    /// The deadline of an incoming call: its `grpc-timeout` from now, but never
    /// later than `max` from now (the server's own budget for the call).
    pub fn of_request<T>(request: &tonic::Request<T>, max: Duration) -> Self {
        let asked = request
            .metadata()
            .get(GRPC_TIMEOUT_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_grpc_timeout);
        Self::after(asked.map_or(max, |asked| asked.min(max)))
    }

    /// Time left, zero once passed.
    pub fn remaining(&self) -> Duration {
        self.0.saturating_duration_since(tokio::time::Instant::now())
    }

    /// True once the deadline has passed.
    pub fn is_past(&self) -> bool {
        self.remaining().is_zero()
    }

    /// The timeout for one outgoing call: what is left, but at most `per_call`.
    /// `None` when nothing is left.
    pub fn for_call(&self, per_call: Duration) -> Option<Duration> {
        Some(self.remaining().min(per_call)).filter(|d| !d.is_zero())
    }

    /// The instant, for `tokio::time::timeout_at`.
    pub fn instant(&self) -> tokio::time::Instant {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeouts_parse_in_every_unit() {
        assert_eq!(parse_grpc_timeout("4999m"), Some(Duration::from_millis(4999)));
        assert_eq!(parse_grpc_timeout("2H"), Some(Duration::from_secs(7200)));
        assert_eq!(parse_grpc_timeout("3M"), Some(Duration::from_secs(180)));
        assert_eq!(parse_grpc_timeout("5S"), Some(Duration::from_secs(5)));
        assert_eq!(parse_grpc_timeout("250u"), Some(Duration::from_micros(250)));
        assert_eq!(parse_grpc_timeout("99999999n"), Some(Duration::from_nanos(99_999_999)));
    }

    #[test]
    fn malformed_grpc_timeouts_are_ignored() {
        for bad in ["", "m", "5", "5s", "123456789m", "-5m", "5 m", "5é"] {
            assert_eq!(parse_grpc_timeout(bad), None, "{bad:?}");
        }
    }

    #[tokio::test]
    async fn a_request_deadline_is_capped_by_the_server_budget() {
        let mut request = tonic::Request::new(());
        request.set_timeout(Duration::from_millis(300));
        let short = Deadline::of_request(&request, Duration::from_secs(20));
        assert!(short.remaining() <= Duration::from_millis(300));
        let capped = Deadline::of_request(&request, Duration::from_millis(100));
        assert!(capped.remaining() <= Duration::from_millis(100));
        let none = Deadline::of_request(&tonic::Request::new(()), Duration::from_secs(20));
        assert!(none.remaining() > Duration::from_secs(19));
    }

    #[tokio::test]
    async fn an_outgoing_call_gets_the_remaining_budget_at_most() {
        let deadline = Deadline::after(Duration::from_millis(200));
        let per_call = deadline.for_call(Duration::from_secs(5)).expect("time left");
        assert!(per_call <= Duration::from_millis(200));
        assert_eq!(
            Deadline::after(Duration::from_secs(60)).for_call(Duration::from_secs(5)),
            Some(Duration::from_secs(5))
        );
        assert_eq!(Deadline::after(Duration::ZERO).for_call(Duration::from_secs(5)), None);
    }
}
