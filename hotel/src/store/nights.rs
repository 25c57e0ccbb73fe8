//! Room nights in SQL: a stay's `room_nights` rows (created lazily, with every
//! room free), taking a hold's rooms on every night of its stay or on none, and
//! giving an ended hold's rooms back. The caller holds the room type's lock.

use std::collections::HashSet;

use travel::hold::store::Tx;
use travel::stored::corrupt;
use travel::types::Date;

use crate::domain::{Booking, RoomType};
use crate::error::Error;

/// Takes `b`'s rooms on every night of its stay, in one conditional write.
/// When some night has too few rooms free, nothing is taken (the caller rolls
/// back) and that night is returned with the rooms it has free.
pub async fn take(tx: &mut Tx, room_type: &RoomType, b: &Booking) -> Result<Option<(Date, i64)>, Error> {
    let nights = b.stay.each_night();
    // Nights no hold has touched yet get their row, with every room free.
    let values = (0..nights.len())
        .map(|i| format!("($1, ${}, $2)", i + 3))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "INSERT INTO room_nights (room_type_id, night, available) VALUES {values} \
         ON CONFLICT (room_type_id, night) DO NOTHING"
    );
    let mut insert = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(&room_type.id)
        .bind(i64::from(room_type.total_rooms));
    for night in &nights {
        insert = insert.bind(night.iso());
    }
    insert.execute(&mut **tx).await?;
    // The one conditional write that takes the rooms: every night, or none.
    let taken: Vec<String> = sqlx::query_scalar(
        "UPDATE room_nights SET available = available - $1 \
         WHERE room_type_id = $2 AND night >= $3 AND night < $4 AND available >= $1 RETURNING night",
    )
    .bind(i64::from(b.rooms))
    .bind(&room_type.id)
    .bind(b.stay.check_in().iso())
    .bind(b.stay.check_out().iso())
    .fetch_all(&mut **tx)
    .await?;
    if taken.len() == nights.len() {
        return Ok(None);
    }
    let taken: HashSet<String> = taken.into_iter().collect();
    let short = nights
        .iter()
        .find(|n| !taken.contains(&n.iso()))
        .copied()
        .unwrap_or(b.stay.check_in());
    // That night's row was not updated: it still shows what was free.
    let available: i64 = sqlx::query_scalar("SELECT available FROM room_nights WHERE room_type_id = $1 AND night = $2")
        .bind(&room_type.id)
        .bind(short.iso())
        .fetch_one(&mut **tx)
        .await?;
    Ok(Some((short, available)))
}

/// Gives an ended hold's rooms back on every night of its stay. Every night
/// must have its row (the hold created it) and stay within the room type's
/// total; anything else is corruption, and the transaction is abandoned.
pub async fn give_back(tx: &mut Tx, b: &Booking) -> Result<(), Error> {
    let restored = sqlx::query(
        "UPDATE room_nights SET available = available + $1 \
         WHERE room_type_id = $2 AND night >= $3 AND night < $4 \
         AND available + $1 <= (SELECT total_rooms FROM room_types WHERE id = $2)",
    )
    .bind(i64::from(b.rooms))
    .bind(&b.room_type_id)
    .bind(b.stay.check_in().iso())
    .bind(b.stay.check_out().iso())
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if restored != u64::from(b.stay.nights()) {
        return Err(corrupt("room inventory").into());
    }
    Ok(())
}
