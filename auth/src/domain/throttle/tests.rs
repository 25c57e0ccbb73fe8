//! The throttle's rules, on a manual timeline.

use super::*;

const SECOND: Duration = Duration::from_secs(1);
const MINUTE: Duration = Duration::from_secs(60);

fn throttle(per_account: u32, per_peer: u32) -> Throttle {
    Throttle::new(Limits {
        per_account,
        per_peer,
        window: 15 * MINUTE,
        first_delay: SECOND,
        max_delay: 15 * MINUTE,
    })
}

fn at(seconds: u64) -> UnixMillis {
    UnixMillis::from_unix_millis(0).plus(SECOND * u32::try_from(seconds).unwrap())
}

const PEER: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));
const ELSEWHERE: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2)));

async fn fail(t: &Throttle, account: &str, peer: Option<IpAddr>, now: UnixMillis) {
    t.begin(Some(account), peer, now)
        .await
        .expect("let through")
        .failed(now);
}

#[tokio::test]
async fn past_its_allowance_an_account_waits_a_delay_that_doubles_with_each_failure() {
    let t = throttle(3, 100);
    for _ in 0..3 {
        fail(&t, "a@x.io", PEER, at(0)).await;
    }
    assert_eq!(
        t.begin(Some("a@x.io"), PEER, at(0)).await.unwrap_err().retry_after,
        SECOND
    );
    assert!(
        t.begin(Some("b@x.io"), PEER, at(0)).await.is_ok(),
        "other accounts are unaffected"
    );

    fail(&t, "a@x.io", PEER, at(1)).await;
    assert_eq!(
        t.begin(Some("a@x.io"), PEER, at(1)).await.unwrap_err().retry_after,
        2 * SECOND
    );
    fail(&t, "a@x.io", PEER, at(3)).await;
    assert_eq!(
        t.begin(Some("a@x.io"), PEER, at(3)).await.unwrap_err().retry_after,
        4 * SECOND
    );
    let right = t.begin(Some("a@x.io"), PEER, at(7)).await.expect("after the delay");
    right.succeeded(at(7));
    assert!(
        t.begin(Some("a@x.io"), ELSEWHERE, at(7)).await.is_ok(),
        "a success forgives"
    );
}

#[tokio::test]
async fn the_delay_never_exceeds_its_maximum() {
    let t = throttle(1, 1000);
    let mut now = 0;
    for _ in 0..40 {
        let attempt = match t.begin(Some("a@x.io"), ELSEWHERE, at(now)).await {
            Ok(attempt) => attempt,
            Err(refused) => {
                assert!(refused.retry_after <= 15 * MINUTE, "{refused:?}");
                now += refused.retry_after.as_secs();
                t.begin(Some("a@x.io"), ELSEWHERE, at(now)).await.unwrap()
            }
        };
        attempt.failed(at(now));
    }
}

#[tokio::test]
async fn a_known_client_is_not_delayed_by_failures_from_elsewhere() {
    let t = throttle(3, 3);
    t.begin(Some("a@x.io"), PEER, at(0)).await.unwrap().succeeded(at(0));
    for i in 0..10 {
        let _ = t.begin(Some("a@x.io"), ELSEWHERE, at(i)).await.map(|a| a.failed(at(i)));
        let other = format!("other{i}@x.io");
        let _ = t.begin(Some(&other), PEER, at(i)).await.map(|a| a.failed(at(i)));
    }

    assert!(
        t.begin(Some("a@x.io"), ELSEWHERE, at(10)).await.is_err(),
        "the sprayer is delayed"
    );
    assert!(
        t.begin(Some("a@x.io"), PEER, at(10)).await.is_ok(),
        "the owner's address is not, although it failed for other accounts"
    );
    assert!(
        t.begin(Some("new@x.io"), PEER, at(10)).await.is_err(),
        "the peer is delayed for strangers"
    );
}

#[tokio::test]
async fn a_known_client_that_fails_is_delayed_on_its_own() {
    let t = throttle(2, 100);
    t.begin(Some("a@x.io"), PEER, at(0)).await.unwrap().succeeded(at(0));
    fail(&t, "a@x.io", PEER, at(0)).await;
    fail(&t, "a@x.io", PEER, at(0)).await;
    assert_eq!(
        t.begin(Some("a@x.io"), PEER, at(0)).await.unwrap_err().retry_after,
        SECOND
    );
}

#[tokio::test]
async fn an_attempt_in_flight_is_not_a_failure_and_a_dropped_one_counts_nothing() {
    let t = throttle(2, 2);
    let first = t.begin(Some("a@x.io"), PEER, at(0)).await.unwrap();
    drop(first);
    let second = t.begin(Some("a@x.io"), PEER, at(0)).await.unwrap();
    let third = t.begin(Some("b@x.io"), PEER, at(0)).await.unwrap();
    second.succeeded(at(0));
    third.succeeded(at(0));
    assert!(
        t.begin(Some("c@x.io"), PEER, at(0)).await.is_ok(),
        "no failure was counted"
    );
}

#[tokio::test]
async fn ipv6_peers_are_counted_by_their_slash_64() {
    let t = throttle(100, 2);
    fail(&t, "a@x.io", Some("2001:db8::1".parse().unwrap()), at(0)).await;
    fail(&t, "b@x.io", Some("2001:db8::2".parse().unwrap()), at(0)).await;
    let same = t
        .begin(Some("c@x.io"), Some("2001:db8::3".parse().unwrap()), at(0))
        .await;
    let other = t
        .begin(Some("c@x.io"), Some("2001:db8:0:1::3".parse().unwrap()), at(0))
        .await;
    assert!(same.is_err());
    assert!(other.is_ok());
}

#[tokio::test]
async fn expired_entries_are_pruned() {
    let t = throttle(5, 20);
    for i in 0..50 {
        fail(&t, &format!("user{i}@x.io"), None, at(0)).await;
    }
    assert_eq!(t.tracked(), 50);
    fail(&t, "late@x.io", None, at(3600)).await;
    assert_eq!(t.tracked(), 1, "only the new failure is left");
}

#[tokio::test]
async fn an_attempt_cancelled_once_its_check_began_counts_as_a_failure() {
    let t = throttle(2, 100);
    for _ in 0..2 {
        let attempt = t.begin(Some("a@x.io"), PEER, at(0)).await.unwrap();
        attempt.checking();
        drop(attempt); // the client went away while argon2 ran
    }
    assert_eq!(
        t.begin(Some("a@x.io"), PEER, at(0)).await.unwrap_err().retry_after,
        SECOND,
        "two cancelled guesses used up the allowance"
    );
    let refused_before_hashing = t.begin(Some("b@x.io"), PEER, at(0)).await.unwrap();
    drop(refused_before_hashing);
    assert!(
        t.begin(Some("b@x.io"), PEER, at(0)).await.is_ok(),
        "no check began: nothing counted"
    );
}

fn v6_peer(i: u128) -> Option<IpAddr> {
    let ip: std::net::Ipv6Addr = (0x2001_0db8_0000_0000_0000_0000_0000_0000u128 | (i << 64)).into();
    Some(IpAddr::V6(ip))
}

#[tokio::test]
async fn one_client_logging_in_from_many_addresses_cannot_flush_the_known_clients() {
    let t = throttle(5, 20);
    let home: Option<IpAddr> = Some("198.51.100.1".parse().unwrap());
    t.begin(Some("victim@x.io"), home, at(0))
        .await
        .unwrap()
        .succeeded(at(0));
    // One attacker with one IPv6 /48: successes of its own account from 100,001 /64s.
    for i in 0..100_001u128 {
        t.begin(Some("mine@x.io"), v6_peer(i), at(1))
            .await
            .unwrap()
            .succeeded(at(1));
    }
    t.begin(Some("x@x.io"), ELSEWHERE, at(2)).await.unwrap().failed(at(2));
    for _ in 0..5 {
        fail(&t, "victim@x.io", ELSEWHERE, at(3)).await;
    }
    let owner = t.begin(Some("victim@x.io"), home, at(3)).await;
    assert!(owner.is_ok(), "the owner from home is still a known client: {owner:?}");
    assert!(
        t.lock().known.len() <= MAX_PEERS_PER_ACCOUNT + 1,
        "one account keeps its newest peers only"
    );
}

fn small(entries: usize, per_account: usize, per_peer: usize) -> Throttle {
    let caps = Caps {
        entries,
        per_account,
        per_peer,
    };
    Throttle::with_caps(throttle(5, 20).limits, Gating::ByAccount, caps)
}

#[tokio::test]
async fn a_full_known_client_table_forgets_its_least_recently_seen_clients_only() {
    let t = small(10, 100, 100);
    let home_ip: IpAddr = "198.51.100.1".parse().unwrap();
    let home = Some(home_ip);
    t.begin(Some("victim@x.io"), home, at(0))
        .await
        .unwrap()
        .succeeded(at(0));
    let login = async |i: u128, now: u64| {
        let account = format!("u{i}@x.io");
        t.begin(Some(&account), v6_peer(i), at(now))
            .await
            .unwrap()
            .succeeded(at(now));
    };
    for i in 0..9 {
        login(i, 1 + i as u64).await;
    }
    t.begin(Some("victim@x.io"), home, at(10))
        .await
        .unwrap()
        .succeeded(at(10));
    for i in 9..14 {
        login(i, 2 + i as u64).await;
    }
    let state = t.lock();
    assert!(state.known.len() <= 10, "capped: {}", state.known.len());
    assert!(state.known.len() > 1, "not cleared wholesale");
    assert!(
        state.is_known(&("victim@x.io".to_owned(), home_ip), at(20)),
        "seen more recently than the first clients evicted"
    );
    assert!(
        state.known.last("u0@x.io", v6_peer(0).unwrap()).is_none(),
        "the oldest went first"
    );
}

#[tokio::test]
async fn known_clients_are_capped_per_account_and_per_peer() {
    let t = small(1000, 3, 2);
    for i in 0..10 {
        t.begin(Some("a@x.io"), v6_peer(i), at(i as u64))
            .await
            .unwrap()
            .succeeded(at(i as u64));
    }
    for i in 0..10 {
        let account = format!("p{i}@x.io");
        t.begin(Some(&account), PEER, at(20 + i))
            .await
            .unwrap()
            .succeeded(at(20 + i));
    }
    let state = t.lock();
    assert_eq!(state.known.len(), 3 + 2);
    assert!(
        state.known.last("a@x.io", v6_peer(9).unwrap()).is_some(),
        "the newest peers stay"
    );
    assert!(state.known.last("a@x.io", v6_peer(0).unwrap()).is_none());
    assert!(
        state.known.last("p9@x.io", PEER.unwrap()).is_some(),
        "the newest accounts stay"
    );
}

#[tokio::test]
async fn a_full_failure_table_keeps_its_most_recent_keys_and_does_not_forget_everyone() {
    let t = small(10, 100, 100);
    for i in 0..30 {
        for _ in 0..5 {
            fail(&t, &format!("u{i}@x.io"), None, at(i)).await;
        }
    }
    let tracked = t.tracked();
    assert!((2..=10).contains(&tracked), "capped, not cleared: {tracked}");
    let newest = t.begin(Some("u29@x.io"), None, at(29)).await;
    assert!(newest.is_err(), "the most recently seen account is still delayed");
    assert!(
        t.begin(Some("u0@x.io"), None, at(29)).await.is_ok(),
        "the least recent was forgotten"
    );
}
