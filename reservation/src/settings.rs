//! The start-up check of the settings against each other: a driver must
//! finish within its lease (a checkout's budget and a compensation after it),
//! and a booking past its pivot must be confirmed (by its call or, at worst, a
//! recovery pass) before the holds expire. The rules and their reasons:
//! docs/architecture.md, "Timing rules checked at start-up".

use crate::Config;

/// Settings that contradict each other; each entry says which and why.
#[derive(Debug, thiserror::Error)]
#[error("inconsistent reservation settings: {}", .0.join("; "))]
pub struct Inconsistent(pub Vec<String>);

/// Checks `config`'s timings against each other.
pub fn check(config: &Config) -> Result<(), Inconsistent> {
    let mut problems = Vec::new();
    if config.call_timeout > config.checkout_timeout {
        problems.push(format!(
            "--call-timeout ({:?}) must not be longer than --checkout-timeout ({:?})",
            config.call_timeout, config.checkout_timeout
        ));
    }
    // Leases are never renewed: a driver may spend a checkout's whole budget,
    // then compensate (a call timeout) after a confirm refused at the deadline's
    // edge (another call timeout).
    let driving = config.checkout_timeout + 2 * config.call_timeout;
    if config.lease <= driving {
        problems.push(format!(
            "--lease ({:?}) must be longer than --checkout-timeout + 2 x --call-timeout ({driving:?}), \
             or recovery could take over a saga still being driven",
            config.lease
        ));
    }
    // After the pivot, recovery retries a confirm at the latest a lease and an
    // interval after the saga was last driven; the confirm takes a call.
    let takeover = config.lease + config.recovery_interval + config.call_timeout;
    if config.min_hold_ttl_at_pivot < takeover {
        problems.push(format!(
            "--min-hold-ttl-at-pivot ({:?}) must be at least --lease + --recovery-interval + --call-timeout ({takeover:?}), \
             the time recovery may take to retry a confirm after the pivot",
            config.min_hold_ttl_at_pivot
        ));
    }
    if let Some(hold_ttl) = config.hold_ttl {
        // A checkout reaches its pivot at most its budget after taking the holds.
        let needed = config.checkout_timeout + config.min_hold_ttl_at_pivot;
        if hold_ttl < needed {
            problems.push(format!(
                "--hold-ttl ({hold_ttl:?}) must be at least --checkout-timeout + --min-hold-ttl-at-pivot ({needed:?}), \
                 or checkouts would be refused at the pivot"
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Inconsistent(problems))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn config() -> Config {
        Config::new("127.0.0.1:0".parse().unwrap(), "sqlite::memory:")
    }

    #[test]
    fn the_defaults_are_consistent() {
        let mut c = config();
        assert!(check(&c).is_ok());
        c.hold_ttl = Some(Duration::from_secs(15 * 60));
        assert!(check(&c).is_ok());
    }

    #[test]
    fn the_new_flags_parse_with_their_defaults_and_bounds() {
        use clap::Parser;
        let c = Config::try_parse_from(["travel-reservation"]).unwrap();
        assert_eq!(c.min_hold_ttl_at_pivot, Duration::from_secs(300));
        assert_eq!((c.hold_ttl, c.recovery_concurrency), (None, 16));
        let c = Config::try_parse_from(["travel-reservation", "--hold-ttl", "15m"]).unwrap();
        assert_eq!(c.hold_ttl, Some(Duration::from_secs(900)));
        assert!(Config::try_parse_from(["travel-reservation", "--recovery-concurrency", "0"]).is_err());
    }

    #[test]
    fn every_contradiction_is_named() {
        let mut c = config();
        c.call_timeout = Duration::from_secs(30);
        c.lease = Duration::from_secs(20);
        c.hold_ttl = Some(Duration::from_secs(60));
        let message = check(&c).unwrap_err().to_string();
        for flag in ["--call-timeout", "--lease (", "--hold-ttl"] {
            assert!(message.contains(flag), "{message}");
        }
    }

    #[test]
    fn a_lease_must_outlast_a_checkout_and_the_compensation_after_its_deadline() {
        // Arrange: a lease longer than the checkout budget, but not by two call timeouts.
        let mut c = config();
        c.lease = c.checkout_timeout + c.call_timeout;

        // Act
        let checked = check(&c);

        // Assert
        let message = checked.expect_err("a lease a driver can outlive").to_string();
        assert!(message.contains("--lease ("), "{message}");
        c.lease = c.checkout_timeout + 2 * c.call_timeout + std::time::Duration::from_millis(1);
        assert!(check(&c).is_ok());
    }
}
