//! Service accounts and generated signing keys in SQL.

use tracing::Instrument as _;
use travel::db::Write as _;
use travel::types::UnixMillis;

use super::Store;
use crate::domain::ClientId;
use crate::error::Error;

impl Store {
    /// Creates the service account, or sets its secret hash.
    pub async fn upsert_service_account(
        &self,
        client_id: &ClientId,
        secret_hash: &str,
        now: UnixMillis,
    ) -> Result<(), Error> {
        async {
            sqlx::query(
                "INSERT INTO service_accounts (client_id, secret_hash, created_ms, updated_ms) VALUES ($1, $2, $3, $3) \
                 ON CONFLICT (client_id) DO UPDATE SET secret_hash = excluded.secret_hash, updated_ms = excluded.updated_ms",
            )
            .bind(client_id.as_str())
            .bind(secret_hash)
            .bind(now.unix_millis())
            .write(&self.db)
            .await?;
            Ok(())
        }
        .instrument(self.db.span("auth.upsert_service_account"))
        .await
    }

    /// The secret hash of a service account, if it exists.
    pub async fn service_secret_hash(&self, client_id: &ClientId) -> Result<Option<String>, Error> {
        async {
            let hash: Option<(String,)> =
                sqlx::query_as("SELECT secret_hash FROM service_accounts WHERE client_id = $1")
                    .bind(client_id.as_str())
                    .fetch_optional(self.db.pool())
                    .await?;
            Ok(hash.map(|(h,)| h))
        }
        .instrument(self.db.span("auth.service_secret_hash"))
        .await
    }

    /// The generated signing keys as `(kid, seed)`, oldest first.
    pub async fn signing_keys(&self) -> Result<Vec<(String, Vec<u8>)>, Error> {
        async {
            let keys = sqlx::query_as("SELECT kid, seed FROM signing_keys ORDER BY created_ms, kid")
                .fetch_all(self.db.pool())
                .await?;
            Ok(keys)
        }
        .instrument(self.db.span("auth.signing_keys"))
        .await
    }

    /// Stores a generated signing key unless one with its id exists.
    pub async fn add_signing_key(&self, kid: &str, seed: &[u8], now: UnixMillis) -> Result<(), Error> {
        async {
            sqlx::query(
                "INSERT INTO signing_keys (kid, seed, created_ms) VALUES ($1, $2, $3) ON CONFLICT (kid) DO NOTHING",
            )
            .bind(kid)
            .bind(seed.to_vec())
            .bind(now.unix_millis())
            .write(&self.db)
            .await?;
            Ok(())
        }
        .instrument(self.db.span("auth.add_signing_key"))
        .await
    }
}
