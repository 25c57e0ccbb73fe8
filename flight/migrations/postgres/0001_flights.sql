-- Flights and their seat inventory. Times are UTC instants in milliseconds.
CREATE TABLE flights (
    id             TEXT PRIMARY KEY,
    flight_number  TEXT NOT NULL,
    origin         TEXT NOT NULL,
    destination    TEXT NOT NULL,
    departure_date TEXT NOT NULL,          -- UTC date of departure_ms, YYYY-MM-DD
    departure_ms   BIGINT NOT NULL,
    arrival_ms     BIGINT NOT NULL,
    price_minor    BIGINT NOT NULL CHECK (price_minor >= 0),
    currency       TEXT NOT NULL,
    capacity       BIGINT NOT NULL CHECK (capacity > 0),
    available      BIGINT NOT NULL CHECK (available >= 0 AND available <= capacity),
    request_id     TEXT UNIQUE,            -- idempotency key of CreateFlight
    request_hash   TEXT,                   -- fingerprint of the request it created
    created_ms     BIGINT NOT NULL
);
CREATE INDEX flights_by_route_and_day ON flights (origin, destination, departure_date, departure_ms, id);

-- Seat holds. A row with no flight is a tombstone: a release that came first.
CREATE TABLE seat_holds (
    hold_id     TEXT PRIMARY KEY,
    flight_id   TEXT REFERENCES flights (id),
    seats       BIGINT NOT NULL CHECK (seats >= 0),
    price_minor BIGINT NOT NULL,
    currency    TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('HELD', 'CONFIRMED', 'RELEASED', 'EXPIRED')),
    expires_ms  BIGINT NOT NULL,
    created_ms  BIGINT NOT NULL,
    updated_ms  BIGINT NOT NULL
);
CREATE INDEX seat_holds_by_expiry ON seat_holds (state, expires_ms);
CREATE INDEX seat_holds_by_flight ON seat_holds (flight_id, state);
