-- Register's request_id is scoped per email (issue 7): unique per (email,
-- request_id), no longer across all users. The key moves to a new column (the
-- same name as on SQLite, which cannot drop the old UNIQUE column).
ALTER TABLE users ADD COLUMN register_request_id TEXT;
UPDATE users SET register_request_id = request_id;
ALTER TABLE users DROP COLUMN request_id;
CREATE UNIQUE INDEX users_by_email_and_request_id ON users (email, register_request_id);
