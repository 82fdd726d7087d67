-- Accounts: users, their remember-me tokens and their API tokens (see
-- package account). Times are timestamptz; in the optional time columns,
-- NULL means "none" (never rotated, never expires, never used).

-- IDs come from a sequence and are never reused: an ID in an old audit
-- log or session names the same user forever.
CREATE TABLE hallpass_users (
	id                  bigserial   NOT NULL PRIMARY KEY,
	username            text        NOT NULL,  -- as given; unique ignoring ASCII case
	email               text        NOT NULL DEFAULT '',
	roles               text[]      NOT NULL DEFAULT '{}',
	password_hash       text        NOT NULL DEFAULT '',
	disabled            boolean     NOT NULL DEFAULT false,
	created_at          timestamptz NOT NULL,
	password_changed_at timestamptz NOT NULL
);

-- Under the "C" collation lower() folds ASCII letters only, the only
-- letters a valid username has, whatever the database's locale: the
-- uniqueness of names never depends on the server's configuration.
-- Queries must use this exact expression to use the index.
CREATE UNIQUE INDEX hallpass_users_username ON hallpass_users (lower(username COLLATE "C"));

-- Remember-me tokens: the selector finds a row, and only a SHA-256 digest
-- of the validator is kept.
CREATE TABLE hallpass_remember_tokens (
	selector       text        NOT NULL PRIMARY KEY,
	validator_hash bytea       NOT NULL,
	prev_hash      bytea,                 -- NULL until the first rotation
	rotated_at     timestamptz,           -- NULL until the first rotation
	user_id        bigint      NOT NULL REFERENCES hallpass_users (id) ON DELETE CASCADE,
	created_at     timestamptz NOT NULL,
	expires_at     timestamptz NOT NULL
);

CREATE INDEX hallpass_remember_tokens_user_id ON hallpass_remember_tokens (user_id);

CREATE INDEX hallpass_remember_tokens_expires_at ON hallpass_remember_tokens (expires_at);

-- API tokens: only a SHA-256 digest of the secret is kept.
CREATE TABLE hallpass_api_tokens (
	id           bigserial   NOT NULL PRIMARY KEY,
	user_id      bigint      NOT NULL REFERENCES hallpass_users (id) ON DELETE CASCADE,
	name         text        NOT NULL DEFAULT '',
	hash         bytea       NOT NULL UNIQUE,
	created_at   timestamptz NOT NULL,
	expires_at   timestamptz,            -- NULL: never expires
	last_used_at timestamptz             -- NULL: never used
);

CREATE INDEX hallpass_api_tokens_user_id ON hallpass_api_tokens (user_id, created_at);

CREATE INDEX hallpass_api_tokens_expires_at ON hallpass_api_tokens (expires_at) WHERE expires_at IS NOT NULL;
