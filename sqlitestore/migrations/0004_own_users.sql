-- Remember-me and API tokens may belong to the users of an app's own user
-- table (an account.Source), which this database may not hold: user_id
-- becomes text naming the user, with no reference to the users table.
-- SQLite cannot drop a constraint, so both tables are rebuilt, keeping
-- every row, and the API token IDs never issued again.

CREATE TABLE remember_tokens_0004 (
	selector       TEXT NOT NULL PRIMARY KEY,
	validator_hash BLOB NOT NULL,
	prev_hash      BLOB,                        -- NULL until the first rotation
	rotated_at     INTEGER NOT NULL DEFAULT 0,
	user_id        TEXT NOT NULL,               -- the user's ID, as account.User.ID
	created_at     INTEGER NOT NULL,
	expires_at     INTEGER NOT NULL
) STRICT;

INSERT INTO remember_tokens_0004 (selector, validator_hash, prev_hash, rotated_at, user_id, created_at, expires_at)
	SELECT selector, validator_hash, prev_hash, rotated_at, CAST(user_id AS TEXT), created_at, expires_at
	FROM remember_tokens;

DROP TABLE remember_tokens;

ALTER TABLE remember_tokens_0004 RENAME TO remember_tokens;

CREATE INDEX remember_tokens_user_id ON remember_tokens (user_id);

CREATE INDEX remember_tokens_expires_at ON remember_tokens (expires_at);

CREATE TABLE api_tokens_0004 (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	user_id      TEXT NOT NULL,                  -- the user's ID, as account.User.ID
	name         TEXT NOT NULL DEFAULT '',
	hash         BLOB NOT NULL UNIQUE,
	created_at   INTEGER NOT NULL,
	expires_at   INTEGER NOT NULL DEFAULT 0,     -- 0: never expires
	last_used_at INTEGER NOT NULL DEFAULT 0,     -- 0: never used
	scopes       TEXT NOT NULL DEFAULT 'read write'
) STRICT;

INSERT INTO api_tokens_0004 (id, user_id, name, hash, created_at, expires_at, last_used_at, scopes)
	SELECT id, CAST(user_id AS TEXT), name, hash, created_at, expires_at, last_used_at, scopes
	FROM api_tokens;

-- The new table continues the old one's sequence, deleted tokens included.
DELETE FROM sqlite_sequence WHERE name = 'api_tokens_0004';

INSERT INTO sqlite_sequence (name, seq) SELECT 'api_tokens_0004', seq FROM sqlite_sequence WHERE name = 'api_tokens';

DROP TABLE api_tokens;

ALTER TABLE api_tokens_0004 RENAME TO api_tokens;

CREATE INDEX api_tokens_user_id ON api_tokens (user_id, created_at);

CREATE INDEX api_tokens_expires_at ON api_tokens (expires_at) WHERE expires_at > 0;
