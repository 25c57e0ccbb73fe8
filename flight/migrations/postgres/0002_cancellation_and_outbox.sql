-- A flight the airline cancelled (CancelFlight) takes no new holds; why is
-- shown on the flight and carried by its FlightCancelled event.
ALTER TABLE flights ADD COLUMN cancelled_ms BIGINT;
ALTER TABLE flights ADD COLUMN cancel_reason TEXT;

-- The transactional outbox (travel::events::outbox): each event is written in
-- the transaction of the change it reports, and published by the relay in
-- the order of `position`; `sent_ms` is set once the broker confirmed it.
CREATE TABLE outbox (
    position     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id     TEXT NOT NULL UNIQUE,
    routing_key  TEXT NOT NULL,
    kind         TEXT NOT NULL,          -- full name of the protobuf message
    aggregate_id TEXT NOT NULL,          -- what it is about
    sequence     BIGINT NOT NULL,        -- its position among that aggregate's events, from 1
    payload      BYTEA NOT NULL,          -- the protobuf encoding
    created_ms   BIGINT NOT NULL,
    sent_ms      BIGINT,
    attempts     INTEGER NOT NULL,       -- failed publishes so far
    last_error   TEXT,
    UNIQUE (aggregate_id, sequence)
);
CREATE INDEX outbox_pending ON outbox (position) WHERE sent_ms IS NULL;
CREATE INDEX outbox_sent ON outbox (sent_ms) WHERE sent_ms IS NOT NULL;
