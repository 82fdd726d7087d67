-- Passkeys (package passkey): one row per registered WebAuthn
-- credential. data is the whole credential record (public key, flags,
-- transports) as JSON; sign_count is kept apart so that a use can move it
-- forward atomically. User IDs are text with no foreign key. Times are
-- Unix milliseconds; last_used_at 0 means never.
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
