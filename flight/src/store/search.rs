//! SearchFlights in SQL: the flights of a route and date with the seats free,
//! by departure, one keyset page at a time.

use tracing::Instrument as _;

use super::{FLIGHT_COLUMNS, FlightRow, Store};
use crate::domain::{Cursor, Flight, Search};
use crate::error::Error;

impl Store {
    /// One page of a search, and the cursor of the next page if there is one.
    pub async fn search(&self, search: &Search) -> Result<(Vec<Flight>, Option<Cursor>), Error> {
        let (after_ms, after_id) = match &search.after {
            Some(c) => (c.departure.unix_millis(), c.id.clone()),
            None => (i64::MIN, String::new()),
        };
        let sql = sqlx::AssertSqlSafe(format!(
            "{FLIGHT_COLUMNS} WHERE origin = $1 AND destination = $2 AND departure_date = $3 \
             AND available >= $4 AND cancelled_ms IS NULL AND (departure_ms > $5 OR (departure_ms = $5 AND id > $6)) \
             ORDER BY departure_ms, id LIMIT $7"
        ));
        let rows: Vec<FlightRow> = sqlx::query_as(sql)
            .bind(search.origin.as_str())
            .bind(search.destination.as_str())
            .bind(search.date.iso())
            .bind(i64::from(search.passengers))
            .bind(after_ms)
            .bind(after_id)
            .bind(i64::from(search.page_size) + 1)
            .fetch_all(self.db.pool())
            .instrument(self.db.span("flight.search_flights"))
            .await?;
        let mut flights = rows
            .into_iter()
            .map(FlightRow::into_domain)
            .collect::<Result<Vec<_>, _>>()?;
        let next = if flights.len() > search.page_size as usize {
            flights.truncate(search.page_size as usize);
            flights.last().map(|f| Cursor {
                departure: f.departure,
                id: f.id.clone(),
            })
        } else {
            None
        };
        Ok((flights, next))
    }
}
