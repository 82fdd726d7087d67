-- Links between users and identities at OpenID Connect providers
-- (package identity): the pair (issuer, subject) of an ID token names one
-- person at one provider. User IDs are text with no foreign key, so that
-- an app's own users table can stand in for hallpass's. Times are Unix
-- milliseconds.
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
