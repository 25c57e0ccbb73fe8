//! What the auth service tells its operators: logins by outcome, attempts the
//! throttle refused, and access tokens issued by grant.

use travel::testing::metrics::value;

use crate::helpers::{PASSWORD, TestAuth};

#[tokio::test]
async fn logins_are_counted_by_outcome_and_tokens_by_grant() {
    // Arrange: two free failures.
    let svc = TestAuth::start_with(|c| c.max_failed_logins_per_account = 2).await;
    svc.register("ana@example.com", PASSWORD).await.expect("register");

    // Act: a login, two wrong passwords, then the right one too soon; a refresh.
    let session = svc.login("ana@example.com", PASSWORD).await.expect("login");
    for _ in 0..2 {
        svc.login("ana@example.com", "wrong password!")
            .await
            .expect_err("wrong");
    }
    svc.login("ana@example.com", PASSWORD).await.expect_err("throttled");
    svc.refresh(&session.refresh_token).await.expect("refresh");

    // Assert
    let logins = |outcome| value(&svc.metrics, "travel_logins_total", &[("outcome", outcome)]);
    assert_eq!(logins("ok"), 1.0);
    assert_eq!(logins("bad_credentials"), 2.0);
    assert_eq!(logins("throttled"), 1.0);
    let throttled = |gate| value(&svc.metrics, "travel_login_throttled_total", &[("throttle", gate)]);
    assert_eq!(throttled("login"), 1.0);
    let issued = |grant| value(&svc.metrics, "travel_tokens_issued_total", &[("grant", grant)]);
    assert_eq!(issued("password"), 1.0);
    assert_eq!(issued("refresh_token"), 1.0);
    assert_eq!(issued("client_credentials"), 0.0);
}
