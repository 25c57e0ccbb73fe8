-- Register's request_id is scoped per email (issue 7): unique per (email,
-- request_id), no longer across all users. SQLite cannot drop the old UNIQUE
-- column, so the key moves to a new column and the old one is left empty.
ALTER TABLE users ADD COLUMN register_request_id TEXT;
UPDATE users SET register_request_id = request_id, request_id = NULL;
CREATE UNIQUE INDEX users_by_email_and_request_id ON users (email, register_request_id);
