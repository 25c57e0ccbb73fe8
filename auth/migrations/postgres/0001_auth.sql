-- Accounts, refresh tokens, service accounts and generated signing keys.
-- Times are UTC instants in milliseconds.
CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,    -- normalised: trimmed, lower-cased
    password_hash TEXT NOT NULL,           -- argon2id PHC string
    role          TEXT NOT NULL CHECK (role IN ('customer', 'admin')),
    request_id    TEXT UNIQUE,             -- idempotency key of Register
    created_ms    BIGINT NOT NULL,
    updated_ms    BIGINT NOT NULL
);

-- Refresh tokens, stored only as SHA-256 hashes. The tokens that descend from
-- one login by rotation share a family, revoked as a whole on reuse or logout.
CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY,           -- hex SHA-256 of the token
    family_id  TEXT NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users (id),
    issued_ms  BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL,
    used_ms    BIGINT,                     -- set when rotated: the token is spent
    revoked_ms BIGINT                      -- set when its family was revoked
);
CREATE INDEX refresh_tokens_by_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_by_expiry ON refresh_tokens (expires_ms);

-- Service accounts for the client-credentials exchange.
CREATE TABLE service_accounts (
    client_id   TEXT PRIMARY KEY,
    secret_hash TEXT NOT NULL,             -- argon2id PHC string
    created_ms  BIGINT NOT NULL,
    updated_ms  BIGINT NOT NULL
);

-- Signing keys generated on first start when none are configured (local use only).
CREATE TABLE signing_keys (
    kid        TEXT PRIMARY KEY,
    seed       BYTEA NOT NULL,               -- the 32-byte Ed25519 private key
    created_ms BIGINT NOT NULL
);
