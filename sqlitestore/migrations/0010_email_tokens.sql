-- Emailed links (password reset, email verification) and the address each
-- user has verified (package recovery). Only a SHA-256 digest of a link's
-- secret is kept. User IDs are text with no foreign key, so that an app's
-- own users table can stand in for hallpass's. Times are Unix milliseconds.
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
