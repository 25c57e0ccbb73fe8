-- Why a reservation was cancelled ("cancelled by the customer", "flight
-- cancelled by the airline"): set when its cancellation begins.
ALTER TABLE reservations ADD COLUMN cancel_reason TEXT;

-- The transactional outbox (travel::events::outbox): ReservationConfirmed,
-- ReservationCancelled and ReservationFailed, each written in the transaction
-- that finishes the saga, published by the relay in the order of `position`.
CREATE TABLE outbox (
    position     INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id     TEXT NOT NULL UNIQUE,
    routing_key  TEXT NOT NULL,
    kind         TEXT NOT NULL,          -- full name of the protobuf message
    aggregate_id TEXT NOT NULL,          -- the reservation
    sequence     BIGINT NOT NULL,        -- its position among that reservation's events, from 1
    payload      BLOB NOT NULL,          -- the protobuf encoding
    created_ms   BIGINT NOT NULL,
    sent_ms      BIGINT,
    attempts     INTEGER NOT NULL,       -- failed publishes so far
    last_error   TEXT,
    UNIQUE (aggregate_id, sequence)
);
CREATE INDEX outbox_pending ON outbox (position) WHERE sent_ms IS NULL;
CREATE INDEX outbox_sent ON outbox (sent_ms) WHERE sent_ms IS NOT NULL;

-- The inbox (travel::events::inbox): every event applied, by id, recorded in
-- the transaction of its effect, so that a redelivery changes nothing.
CREATE TABLE inbox (
    event_id     TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    aggregate_id TEXT NOT NULL,
    sequence     BIGINT NOT NULL,
    applied_ms   BIGINT NOT NULL
);

-- Flights the airline cancelled (FlightCancelled): every CONFIRMED
-- reservation on one is cancelled, including one whose checkout was past its
-- pivot when the event arrived and that became CONFIRMED after it.
CREATE TABLE cancelled_flights (
    flight_id    TEXT PRIMARY KEY,
    reason       TEXT NOT NULL,          -- the airline's, as the event carried it
    event_id     TEXT NOT NULL,
    cancelled_ms BIGINT NOT NULL
);
