//! Idempotent creation by request id (AIP-155), the store side every catalog
//! shares: a create whose insert met its request id again is answered with
//! what the first request created, unless the id came with a different
//! request. Each table keeps `request_id` (unique) and `request_hash`.

use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{Any, AssertSqlSafe};

use crate::db::WriteTx;

use crate::types::{RequestId, UnixMillis};

/// The row a request id created first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirstCreated {
    /// Its id.
    pub id: String,
    /// The request id, as stored.
    pub request_id: String,
    /// True when it was created by the same request (the fingerprints match);
    /// false when the id was reused for a different one.
    pub same_request: bool,
}

/// Runs an `INSERT … ON CONFLICT (request_id) DO NOTHING` whose last three
/// parameters are the request id, its request's fingerprint and the creation
/// time; true when it inserted, false when the request id was seen before.
pub async fn insert_once(
    tx: &mut WriteTx,
    insert: Query<'_, Any, AnyArguments>,
    request_id: Option<&RequestId>,
    fingerprint: String,
    now: UnixMillis,
) -> Result<bool, sqlx::Error> {
    let inserted = insert
        .bind(request_id.map(|r| r.as_str().to_owned()))
        .bind(fingerprint)
        .bind(now.unix_millis())
        .execute(&mut **tx)
        .await?
        .rows_affected();
    Ok(inserted == 1)
}

/// The row of `table` created first under `request_id`, read inside `tx` after
/// an insert that did nothing because of it.
pub async fn first_created(
    tx: &mut WriteTx,
    table: &str,
    request_id: Option<&RequestId>,
    fingerprint: &str,
) -> Result<FirstCreated, sqlx::Error> {
    let request_id = request_id.map(|r| r.as_str().to_owned()).unwrap_or_default();
    let sql = AssertSqlSafe(format!("SELECT id, request_hash FROM {table} WHERE request_id = $1"));
    let (id, hash): (String, Option<String>) = sqlx::query_as(sql).bind(&request_id).fetch_one(&mut **tx).await?;
    Ok(FirstCreated {
        id,
        same_request: hash.as_deref() == Some(fingerprint),
        request_id,
    })
}
