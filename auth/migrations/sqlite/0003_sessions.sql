-- Sessions: each refresh token remembers the token it was rotated from (so a
-- retry of that token within the grace window can find and supersede it) and
-- when its family's Login happened (for the absolute session lifetime).
ALTER TABLE refresh_tokens ADD COLUMN parent_hash TEXT;          -- NULL for the Login's token
ALTER TABLE refresh_tokens ADD COLUMN session_started_ms INTEGER NOT NULL DEFAULT 0;
-- Families that exist already: their oldest token still stored (the sweeper
-- may have deleted older expired ones, which only makes such a session longer).
UPDATE refresh_tokens SET session_started_ms = (
    SELECT MIN(f.issued_ms) FROM refresh_tokens f WHERE f.family_id = refresh_tokens.family_id
);
CREATE INDEX refresh_tokens_by_parent ON refresh_tokens (parent_hash);
