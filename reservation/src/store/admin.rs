//! The operators' view of sagas: a reservation with its lease and last
//! error, one or a page of the unfinished ones.

use sqlx::FromRow;
use travel::types::UnixMillis;

use super::Store;
use super::row::Row;
use crate::domain::Reservation;
use crate::error::Error;

/// A reservation with the state of its saga, as operators see it.
#[derive(Debug, Clone)]
pub struct SagaStatus {
    /// The reservation.
    pub reservation: Reservation,
    /// Until when its current driver owns the saga.
    pub lease_until: UnixMillis,
    /// Why a driver last stopped without finishing it, and when.
    pub last_error: Option<(String, UnixMillis)>,
}

#[derive(FromRow)]
struct SagaRow {
    #[sqlx(flatten)]
    row: Row,
    lease_until_ms: i64,
    last_error: Option<String>,
    last_error_ms: Option<i64>,
}

impl SagaRow {
    fn into_status(self) -> Result<SagaStatus, Error> {
        let last_error = self
            .last_error
            .map(|e| (e, UnixMillis::from_unix_millis(self.last_error_ms.unwrap_or_default())));
        Ok(SagaStatus {
            reservation: self.row.into_domain()?,
            lease_until: UnixMillis::from_unix_millis(self.lease_until_ms),
            last_error,
        })
    }
}

/// The columns of a [`Row`] with the lease and the last error.
const SAGA_COLUMNS: &str = concat!(
    "SELECT ",
    row_columns!(),
    ", lease_until_ms, last_error, last_error_ms FROM reservations"
);

impl Store {
    /// One reservation with the state of its saga.
    pub async fn saga(&self, id: &str) -> Result<SagaStatus, Error> {
        self.in_span("reservation.saga", async {
            let sql = sqlx::AssertSqlSafe(format!("{SAGA_COLUMNS} WHERE id = $1"));
            let row: Option<SagaRow> = sqlx::query_as(sql).bind(id).fetch_optional(self.db.pool()).await?;
            row.map(SagaRow::into_status)
                .transpose()?
                .ok_or_else(|| Error::NotFound(id.to_owned()))
        })
        .await
    }

    /// Up to `limit` reservations whose saga is not done, whoever drives them,
    /// oldest first, starting after the `(created_ms, id)` cursor.
    pub async fn unfinished_sagas(&self, after: Option<(i64, String)>, limit: u32) -> Result<Vec<SagaStatus>, Error> {
        self.in_span("reservation.unfinished_sagas", async {
            let (after_ms, after_id) = after.unwrap_or((i64::MIN, String::new()));
            let sql = sqlx::AssertSqlSafe(format!(
                "{SAGA_COLUMNS} WHERE step <> 'DONE' AND (created_ms > $1 OR (created_ms = $1 AND id > $2)) \
                 ORDER BY created_ms, id LIMIT $3"
            ));
            let rows: Vec<SagaRow> = sqlx::query_as(sql)
                .bind(after_ms)
                .bind(after_id)
                .bind(i64::from(limit))
                .fetch_all(self.db.pool())
                .await?;
            rows.into_iter().map(SagaRow::into_status).collect()
        })
        .await
    }
}
