//! Set up at start-up: emails stored under the rule before NFKC re-normalised,
//! and the accounts that come from configuration: the admin (created, or given
//! the configured password and the admin role) and the service account for the
//! client-credentials exchange (created, or given the configured secret).

use anyhow::Context as _;
use secrecy::ExposeSecret as _;
use travel::jwt::Role;
use travel::types::UnixMillis;

use crate::config::{ADMIN_PASSWORD_ENV, Config, SERVICE_SECRET_ENV};
use crate::domain::password::Passwords;
use crate::domain::{ClientId, Email, Password};
use crate::store::{NewUser, Renamed, Store};

/// Re-normalises the stored emails that differ from their form under today's
/// rule (NFKC, trimmed, lower-cased): those stored before NFKC (trimmed and
/// lower-cased only) could neither log in nor stop Register from creating a
/// second account. An email whose new form another account has is left as it
/// is, with a warning naming the user id (never the email); so is one the rule
/// now refuses. Idempotent: a second run changes nothing.
pub async fn normalise_emails(store: &Store, now: UnixMillis) -> anyhow::Result<()> {
    let mut renamed = 0;
    for (id, stored) in store.non_ascii_emails().await.context("listing stored emails")? {
        let email = match Email::parse(&stored) {
            Ok(email) if email.as_str() == stored => continue,
            Ok(email) => email,
            Err(why) => {
                tracing::warn!(user_id = %id, why, "a stored email is not valid under the NFKC rule; left as it is");
                continue;
            }
        };
        match store.rename_email(&id, &stored, &email, now).await? {
            Renamed::Done => renamed += 1,
            Renamed::Taken => tracing::warn!(
                user_id = %id,
                "a stored email's NFKC form belongs to another account; left as it is (it cannot log in)"
            ),
            Renamed::Changed => {}
        }
    }
    if renamed > 0 {
        tracing::info!(renamed, "stored emails re-normalised to NFKC");
    }
    Ok(())
}

/// Creates or updates the configured admin and service account.
pub async fn accounts(config: &Config, store: &Store, passwords: &Passwords, now: UnixMillis) -> anyhow::Result<()> {
    match (&config.admin_email, &config.admin_password) {
        (Some(email), Some(password)) => {
            let email = Email::parse(email).map_err(|why| anyhow::anyhow!("--admin-email {why}"))?;
            let password = Password::new_password(password.expose_secret())
                .map_err(|why| anyhow::anyhow!("{ADMIN_PASSWORD_ENV} {why}"))?;
            if let Some((user, hash)) = store.user_by_email(&email).await?
                && user.role == Role::Admin
                && passwords.verify(&password, Some(&hash)).await?
            {
                tracing::info!(email = %user.email, id = %user.id, "admin account ready (unchanged)");
                return service_account(config, store, passwords, now).await;
            }
            let hash = passwords.hash(&password).await?;
            let id = uuid::Uuid::now_v7().to_string();
            let admin = NewUser {
                id: &id,
                email: &email,
                password_hash: &hash,
                role: Role::Admin,
                request_id: None,
            };
            let user = store.upsert_user(&admin, now).await.context("storing the admin")?;
            // Sessions opened with the old password (or role) end here.
            store.revoke_user_tokens(&user.id, now).await?;
            tracing::info!(email = %user.email, id = %user.id, "admin account ready");
        }
        (Some(_), None) => anyhow::bail!("--admin-email is set but {ADMIN_PASSWORD_ENV} is not"),
        (None, Some(_)) => tracing::warn!("{ADMIN_PASSWORD_ENV} is set without --admin-email; no admin was set up"),
        (None, None) => {}
    }
    service_account(config, store, passwords, now).await
}

async fn service_account(config: &Config, store: &Store, passwords: &Passwords, now: UnixMillis) -> anyhow::Result<()> {
    let Some(secret) = &config.service_client_secret else {
        return Ok(());
    };
    let client_id =
        ClientId::parse(&config.service_client_id).map_err(|why| anyhow::anyhow!("--service-client-id {why}"))?;
    let secret =
        Password::new_password(secret.expose_secret()).map_err(|why| anyhow::anyhow!("{SERVICE_SECRET_ENV} {why}"))?;
    let stored = store.service_secret_hash(&client_id).await?;
    if !passwords.verify(&secret, stored.as_deref()).await? {
        let hash = passwords.hash(&secret).await?;
        store
            .upsert_service_account(&client_id, &hash, now)
            .await
            .context("storing the service account")?;
    }
    tracing::info!(client_id = client_id.as_str(), "service account ready");
    Ok(())
}
