-- Hotels, their room types, nightly room inventory and room holds.
-- Times are UTC instants in milliseconds; nights are dates as 'YYYY-MM-DD' text,
-- which sorts like the dates it names.
CREATE TABLE hotels (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    city            TEXT NOT NULL,            -- as given, for display
    city_key        TEXT NOT NULL,            -- trimmed and lower-cased, for matching
    address         TEXT NOT NULL,
    room_type_count BIGINT NOT NULL DEFAULT 0,  -- room types added so far; numbers the next one
    request_id      TEXT UNIQUE,              -- idempotency key of CreateHotel
    request_hash    TEXT,                     -- fingerprint of the request it created
    created_ms      BIGINT NOT NULL
);
CREATE INDEX hotels_by_city ON hotels (city_key, id);

CREATE TABLE room_types (
    id           TEXT PRIMARY KEY,
    hotel_id     TEXT NOT NULL REFERENCES hotels (id),
    ordinal      BIGINT NOT NULL,             -- 1, 2, … in the order the hotel's room types were added
    name         TEXT NOT NULL,
    max_guests   BIGINT NOT NULL CHECK (max_guests > 0),
    total_rooms  BIGINT NOT NULL CHECK (total_rooms > 0),
    price_minor  BIGINT NOT NULL CHECK (price_minor >= 0),  -- one room, one night
    currency     TEXT NOT NULL,
    request_id   TEXT UNIQUE,                 -- idempotency key of AddRoomType
    request_hash TEXT,                        -- fingerprint of the request it created
    created_ms   BIGINT NOT NULL,
    UNIQUE (hotel_id, ordinal)
);

-- Rooms still free per room type and night. Rows are created lazily by the
-- first hold that covers the night: a missing row means all total_rooms are free.
CREATE TABLE room_nights (
    room_type_id TEXT NOT NULL REFERENCES room_types (id),
    night        TEXT NOT NULL,               -- YYYY-MM-DD
    available    BIGINT NOT NULL CHECK (available >= 0),
    PRIMARY KEY (room_type_id, night)
);

-- Room holds over the nights [check_in, check_out). A row with no room type is
-- a tombstone: a release that came before any hold with its id.
CREATE TABLE room_holds (
    hold_id      TEXT PRIMARY KEY,
    hotel_id     TEXT REFERENCES hotels (id),
    room_type_id TEXT REFERENCES room_types (id),
    check_in     TEXT,                        -- YYYY-MM-DD, first night
    check_out    TEXT,                        -- YYYY-MM-DD, day of departure
    rooms        BIGINT NOT NULL CHECK (rooms >= 0),
    guests       BIGINT NOT NULL CHECK (guests >= 0),
    price_minor  BIGINT NOT NULL,             -- the whole stay, as priced when held
    currency     TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('HELD', 'CONFIRMED', 'RELEASED', 'EXPIRED')),
    expires_ms   BIGINT NOT NULL,
    created_ms   BIGINT NOT NULL,
    updated_ms   BIGINT NOT NULL,
    CHECK (
        (room_type_id IS NULL AND hotel_id IS NULL AND check_in IS NULL AND check_out IS NULL
            AND state = 'RELEASED')
        OR (room_type_id IS NOT NULL AND hotel_id IS NOT NULL AND check_in IS NOT NULL
            AND check_out IS NOT NULL AND check_in < check_out AND rooms > 0)
    )
);
CREATE INDEX room_holds_by_expiry ON room_holds (state, expires_ms);
CREATE INDEX room_holds_by_room_type ON room_holds (room_type_id, state, check_in);
