-- Remember-me and API tokens may belong to the users of an app's own user
-- table (an account.Source), which this database may not hold: user_id
-- becomes text naming the user, with no reference to hallpass_users.
ALTER TABLE hallpass_remember_tokens DROP CONSTRAINT IF EXISTS hallpass_remember_tokens_user_id_fkey;

ALTER TABLE hallpass_remember_tokens ALTER COLUMN user_id TYPE text USING user_id::text;

ALTER TABLE hallpass_api_tokens DROP CONSTRAINT IF EXISTS hallpass_api_tokens_user_id_fkey;

ALTER TABLE hallpass_api_tokens ALTER COLUMN user_id TYPE text USING user_id::text;
