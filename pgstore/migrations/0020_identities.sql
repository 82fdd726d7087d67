-- Links between users and identities at OpenID Connect providers
-- (package identity): the pair (issuer, subject) of an ID token names one
-- person at one provider. User IDs are text with no foreign key, so that
-- an app's own users table can stand in for hallpass's.
CREATE TABLE hallpass_identities (
	issuer       text        NOT NULL,
	subject      text        NOT NULL,
	provider     text        NOT NULL,  -- the configured provider ID, like 'google'
	user_id      text        NOT NULL,
	email        text        NOT NULL,  -- as the provider gave it at linking; display only
	created_at   timestamptz NOT NULL,
	last_used_at timestamptz NOT NULL,
	PRIMARY KEY (issuer, subject)
);

CREATE INDEX hallpass_identities_user_id ON hallpass_identities (user_id, created_at);
