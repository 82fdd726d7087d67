-- Sessions: one row per session.Record, keyed by the session ID (a digest
-- of the session token, never the token). data is the record's Values as
-- encoded by session.EncodeValues.
CREATE TABLE hallpass_sessions (
	id         text        NOT NULL PRIMARY KEY,
	user_id    text,                  -- NULL for an anonymous session
	data       bytea       NOT NULL,
	created_at timestamptz NOT NULL,
	last_seen  timestamptz NOT NULL,
	expires_at timestamptz NOT NULL,
	ip         text        NOT NULL DEFAULT '',
	user_agent text        NOT NULL DEFAULT ''
);

CREATE INDEX hallpass_sessions_expires_at ON hallpass_sessions (expires_at);

CREATE INDEX hallpass_sessions_user_id ON hallpass_sessions (user_id) WHERE user_id IS NOT NULL;
