-- Second factors (package twofa): a user's TOTP secret, sealed by the
-- server (AES-GCM under a key derived from its secret keys), the last
-- time step used (a code is accepted once), and a SHA-256 digest of each
-- unused recovery code. User IDs are text with no foreign key, so that an
-- app's own users table can stand in for hallpass's.
CREATE TABLE hallpass_totp (
	user_id    text        NOT NULL PRIMARY KEY,
	secret     bytea       NOT NULL,
	enabled_at timestamptz NOT NULL,
	last_step  bigint      NOT NULL
);

CREATE TABLE hallpass_recovery_codes (
	user_id text  NOT NULL,
	hash    bytea NOT NULL,
	PRIMARY KEY (user_id, hash)
);
