-- Sessions: one row per session.Record, keyed by the session ID (a digest
-- of the session token, never the token). Times are Unix milliseconds;
-- data is the record's Values as encoded by session.EncodeValues.
CREATE TABLE sessions (
	id         TEXT NOT NULL PRIMARY KEY,
	user_id    TEXT,                      -- NULL for an anonymous session
	data       BLOB NOT NULL,
	created_at INTEGER NOT NULL,
	last_seen  INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	ip         TEXT NOT NULL DEFAULT '',
	user_agent TEXT NOT NULL DEFAULT ''
) STRICT;

CREATE INDEX sessions_expires_at ON sessions (expires_at);

CREATE INDEX sessions_user_id ON sessions (user_id) WHERE user_id IS NOT NULL;
