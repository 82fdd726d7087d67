-- Passkeys (package passkey): one row per registered WebAuthn
-- credential. data is the whole credential record (public key, flags,
-- transports) as JSON; sign_count is kept apart so that a use can move it
-- forward atomically. User IDs are text with no foreign key.
CREATE TABLE hallpass_passkeys (
	id           bytea       NOT NULL PRIMARY KEY,
	user_id      text        NOT NULL,
	name         text        NOT NULL,
	created_at   timestamptz NOT NULL,
	last_used_at timestamptz,
	sign_count   bigint      NOT NULL,
	data         bytea       NOT NULL
);

CREATE INDEX hallpass_passkeys_user_id ON hallpass_passkeys (user_id, created_at);
