-- API tokens carry scopes (read, write, admin). Tokens made before scopes
-- existed keep what a token could do for its owner's own account, read and
-- write, but not admin.
ALTER TABLE hallpass_api_tokens ADD COLUMN scopes text[] NOT NULL DEFAULT '{read,write}';
