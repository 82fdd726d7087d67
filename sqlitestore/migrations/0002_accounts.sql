-- Accounts: users, their remember-me tokens and their API tokens (see
-- package account). Times are Unix milliseconds; in the optional time
-- columns, 0 means "none" (never rotated, never expires, never used).

-- IDs are never reused (AUTOINCREMENT): an ID in an old audit log or
-- session names the same user forever.
CREATE TABLE users (
	id                  INTEGER PRIMARY KEY AUTOINCREMENT,
	username            TEXT NOT NULL,            -- as given; unique ignoring ASCII case
	email               TEXT NOT NULL DEFAULT '',
	roles               TEXT NOT NULL DEFAULT '[]', -- a JSON array of strings
	password_hash       TEXT NOT NULL DEFAULT '',
	disabled            INTEGER NOT NULL DEFAULT 0, -- 0 or 1
	created_at          INTEGER NOT NULL,
	password_changed_at INTEGER NOT NULL
) STRICT;

-- NOCASE folds ASCII letters only, the only letters a valid username has.
CREATE UNIQUE INDEX users_username ON users (username COLLATE NOCASE);

-- Remember-me tokens: the selector finds a row, and only a SHA-256 digest
-- of the validator is kept.
CREATE TABLE remember_tokens (
	selector       TEXT NOT NULL PRIMARY KEY,
	validator_hash BLOB NOT NULL,
	prev_hash      BLOB,                        -- NULL until the first rotation
	rotated_at     INTEGER NOT NULL DEFAULT 0,
	user_id        INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	created_at     INTEGER NOT NULL,
	expires_at     INTEGER NOT NULL
) STRICT;

CREATE INDEX remember_tokens_user_id ON remember_tokens (user_id);

CREATE INDEX remember_tokens_expires_at ON remember_tokens (expires_at);

-- API tokens: only a SHA-256 digest of the secret is kept.
CREATE TABLE api_tokens (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	name         TEXT NOT NULL DEFAULT '',
	hash         BLOB NOT NULL UNIQUE,
	created_at   INTEGER NOT NULL,
	expires_at   INTEGER NOT NULL DEFAULT 0,     -- 0: never expires
	last_used_at INTEGER NOT NULL DEFAULT 0      -- 0: never used
) STRICT;

CREATE INDEX api_tokens_user_id ON api_tokens (user_id, created_at);

CREATE INDEX api_tokens_expires_at ON api_tokens (expires_at) WHERE expires_at > 0;
