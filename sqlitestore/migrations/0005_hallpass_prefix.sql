-- Every table and index of hallpass is named hallpass_*, so that an app's
-- own tables (users, sessions) can live in the same database. The rows
-- stay as they are. The table of applied versions, schema_migrations, was
-- renamed to hallpass_schema_migrations by the program before this ran.

ALTER TABLE sessions RENAME TO hallpass_sessions;

DROP INDEX sessions_expires_at;

CREATE INDEX hallpass_sessions_expires_at ON hallpass_sessions (expires_at);

DROP INDEX sessions_user_id;

CREATE INDEX hallpass_sessions_user_id ON hallpass_sessions (user_id) WHERE user_id IS NOT NULL;

ALTER TABLE users RENAME TO hallpass_users;

DROP INDEX users_username;

CREATE UNIQUE INDEX hallpass_users_username ON hallpass_users (username COLLATE NOCASE);

ALTER TABLE remember_tokens RENAME TO hallpass_remember_tokens;

DROP INDEX remember_tokens_user_id;

CREATE INDEX hallpass_remember_tokens_user_id ON hallpass_remember_tokens (user_id);

DROP INDEX remember_tokens_expires_at;

CREATE INDEX hallpass_remember_tokens_expires_at ON hallpass_remember_tokens (expires_at);

ALTER TABLE api_tokens RENAME TO hallpass_api_tokens;

DROP INDEX api_tokens_user_id;

CREATE INDEX hallpass_api_tokens_user_id ON hallpass_api_tokens (user_id, created_at);

DROP INDEX api_tokens_expires_at;

CREATE INDEX hallpass_api_tokens_expires_at ON hallpass_api_tokens (expires_at) WHERE expires_at > 0;
