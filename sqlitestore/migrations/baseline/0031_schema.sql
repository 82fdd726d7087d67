-- The schema that migrations 0001 to 0031 build, created at once in a new
-- database, so that hallpass never creates an unprefixed table (users,
-- sessions) that an app's own table may already be called. migrate_test.go
-- checks that it equals the result of the migrations, table by table.
--
-- Times are Unix milliseconds; in the optional time columns, 0 means
-- "none" (never rotated, never expires, never used).

-- Sessions: one row per session.Record, keyed by the session ID (a digest
-- of the session token, never the token); data is the record's Values as
-- encoded by session.EncodeValues.
CREATE TABLE hallpass_sessions (
	id         TEXT NOT NULL PRIMARY KEY,
	user_id    TEXT,                      -- NULL for an anonymous session
	data       BLOB NOT NULL,
	created_at INTEGER NOT NULL,
	last_seen  INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	ip         TEXT NOT NULL DEFAULT '',
	user_agent TEXT NOT NULL DEFAULT ''
) STRICT;

CREATE INDEX hallpass_sessions_expires_at ON hallpass_sessions (expires_at);

CREATE INDEX hallpass_sessions_user_id ON hallpass_sessions (user_id) WHERE user_id IS NOT NULL;

-- Users. IDs are never reused (AUTOINCREMENT): an ID in an old audit log
-- or session names the same user forever.
CREATE TABLE hallpass_users (
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
CREATE UNIQUE INDEX hallpass_users_username ON hallpass_users (username COLLATE NOCASE);

-- Remember-me tokens: the selector finds a row, and only a SHA-256 digest
-- of the validator is kept. user_id names a user of hallpass_users or of
-- an app's own table, so it refers to no table.
CREATE TABLE hallpass_remember_tokens (
	selector       TEXT NOT NULL PRIMARY KEY,
	validator_hash BLOB NOT NULL,
	prev_hash      BLOB,                        -- NULL until the first rotation
	rotated_at     INTEGER NOT NULL DEFAULT 0,
	user_id        TEXT NOT NULL,               -- the user's ID, as account.User.ID
	created_at     INTEGER NOT NULL,
	expires_at     INTEGER NOT NULL
) STRICT;

CREATE INDEX hallpass_remember_tokens_user_id ON hallpass_remember_tokens (user_id);

CREATE INDEX hallpass_remember_tokens_expires_at ON hallpass_remember_tokens (expires_at);

-- API tokens: only a SHA-256 digest of the secret is kept; scopes are
-- space-separated (read, write, admin).
CREATE TABLE hallpass_api_tokens (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	user_id      TEXT NOT NULL,                  -- the user's ID, as account.User.ID
	name         TEXT NOT NULL DEFAULT '',
	hash         BLOB NOT NULL UNIQUE,
	created_at   INTEGER NOT NULL,
	expires_at   INTEGER NOT NULL DEFAULT 0,     -- 0: never expires
	last_used_at INTEGER NOT NULL DEFAULT 0,     -- 0: never used
	scopes       TEXT NOT NULL DEFAULT 'read write'
) STRICT;

CREATE INDEX hallpass_api_tokens_user_id ON hallpass_api_tokens (user_id, created_at);

CREATE INDEX hallpass_api_tokens_expires_at ON hallpass_api_tokens (expires_at) WHERE expires_at > 0;

-- 0010: emailed links and verified addresses.
CREATE TABLE hallpass_email_tokens (
	hash       BLOB    NOT NULL PRIMARY KEY,
	purpose    TEXT    NOT NULL,  -- 'reset' or 'verify'
	user_id    TEXT    NOT NULL,
	email      TEXT    NOT NULL,  -- the address the link went to
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL
) STRICT;

CREATE INDEX hallpass_email_tokens_user_id ON hallpass_email_tokens (user_id, purpose);

CREATE INDEX hallpass_email_tokens_expires_at ON hallpass_email_tokens (expires_at);

CREATE TABLE hallpass_verified_emails (
	user_id     TEXT    NOT NULL PRIMARY KEY,
	email       TEXT    NOT NULL,
	verified_at INTEGER NOT NULL
) STRICT;

-- Finding an account by its address (forgot password).
CREATE INDEX hallpass_users_email ON hallpass_users (email COLLATE NOCASE);

-- 0020: links to identities at OpenID Connect providers.
CREATE TABLE hallpass_identities (
	issuer       TEXT    NOT NULL,
	subject      TEXT    NOT NULL,
	provider     TEXT    NOT NULL,  -- the configured provider ID, like 'google'
	user_id      TEXT    NOT NULL,
	email        TEXT    NOT NULL,  -- as the provider gave it at linking; display only
	created_at   INTEGER NOT NULL,
	last_used_at INTEGER NOT NULL,
	PRIMARY KEY (issuer, subject)
) STRICT;

CREATE INDEX hallpass_identities_user_id ON hallpass_identities (user_id, created_at);

-- Second factors (package twofa): the sealed TOTP secret, the last time
-- step used, and a SHA-256 digest of each unused recovery code.
CREATE TABLE hallpass_totp (
	user_id    TEXT    NOT NULL PRIMARY KEY,
	secret     BLOB    NOT NULL,
	enabled_at INTEGER NOT NULL,
	last_step  INTEGER NOT NULL
) STRICT;

CREATE TABLE hallpass_recovery_codes (
	user_id TEXT NOT NULL,
	hash    BLOB NOT NULL,
	PRIMARY KEY (user_id, hash)
) STRICT;

-- Passkeys (package passkey): one row per WebAuthn credential; data is
-- the credential record as JSON. last_used_at 0 means never.
CREATE TABLE hallpass_passkeys (
	id           BLOB    NOT NULL PRIMARY KEY,
	user_id      TEXT    NOT NULL,
	name         TEXT    NOT NULL,
	created_at   INTEGER NOT NULL,
	last_used_at INTEGER NOT NULL,
	sign_count   INTEGER NOT NULL,
	data         BLOB    NOT NULL
) STRICT;

CREATE INDEX hallpass_passkeys_user_id ON hallpass_passkeys (user_id, created_at);
