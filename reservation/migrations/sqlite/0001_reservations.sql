-- Reservations and the progress of their checkout saga. Times are UTC instants
-- in milliseconds; money is integer minor units with an ISO 4217 code.
CREATE TABLE reservations (
    id                 TEXT PRIMARY KEY,
    user_id            TEXT NOT NULL,
    request_id         TEXT NOT NULL,      -- idempotency key of Checkout, per user
    request_hash       TEXT NOT NULL,      -- fingerprint of the request it created
    state              TEXT NOT NULL CHECK (state IN ('PENDING', 'CONFIRMED', 'FAILED', 'CANCELLED')),
    -- The saga step: HOLDING, COMPENSATING and CONFIRMING while PENDING;
    -- CANCELLING while CONFIRMED and being cancelled; DONE once terminal.
    step               TEXT NOT NULL CHECK (step IN ('HOLDING', 'COMPENSATING', 'CONFIRMING', 'CANCELLING', 'DONE')),
    flight_id          TEXT,               -- the flight part, all NULL without one
    seats              INTEGER,
    flight_hold_id     TEXT,
    flight_price_minor INTEGER,               -- known once the seat hold is taken
    flight_currency    TEXT,
    hotel_id           TEXT,               -- the hotel part, all NULL without one
    room_type_id       TEXT,
    check_in           TEXT,               -- YYYY-MM-DD
    check_out          TEXT,
    rooms              INTEGER,
    guests             INTEGER,
    hotel_hold_id      TEXT,
    hotel_price_minor  INTEGER,               -- known once the room hold is taken
    hotel_currency     TEXT,
    total_minor        INTEGER,               -- set when CONFIRMED
    total_currency     TEXT,
    failure_reason     TEXT,               -- set when compensation starts; shown when FAILED
    lease_owner        TEXT NOT NULL,      -- who drives the saga now (one call or recovery pass)
    lease_until_ms     INTEGER NOT NULL,      -- after this, recovery may take the saga over
    created_ms         INTEGER NOT NULL,
    updated_ms         INTEGER NOT NULL,
    UNIQUE (user_id, request_id)
);
CREATE INDEX reservations_by_user ON reservations (user_id, created_ms, id);
CREATE INDEX reservations_by_time ON reservations (created_ms, id);
CREATE INDEX reservations_unfinished ON reservations (step, lease_until_ms);
CREATE INDEX reservations_by_flight ON reservations (flight_id, step);
