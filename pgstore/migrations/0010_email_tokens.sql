-- Emailed links (password reset, email verification) and the address each
-- user has verified (package recovery). Only a SHA-256 digest of a link's
-- secret is kept. User IDs are text with no foreign key, so that an app's
-- own users table can stand in for hallpass's.
CREATE TABLE hallpass_email_tokens (
	hash       bytea       NOT NULL PRIMARY KEY,
	purpose    text        NOT NULL,  -- 'reset' or 'verify'
	user_id    text        NOT NULL,
	email      text        NOT NULL,  -- the address the link went to
	created_at timestamptz NOT NULL,
	expires_at timestamptz NOT NULL
);

CREATE INDEX hallpass_email_tokens_user_id ON hallpass_email_tokens (user_id, purpose);

CREATE INDEX hallpass_email_tokens_expires_at ON hallpass_email_tokens (expires_at);

CREATE TABLE hallpass_verified_emails (
	user_id     text        NOT NULL PRIMARY KEY,
	email       text        NOT NULL,
	verified_at timestamptz NOT NULL
);

-- Finding an account by its address (forgot password); queries must use
-- this exact expression.
CREATE INDEX hallpass_users_email ON hallpass_users (lower(email));
