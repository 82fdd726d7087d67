-- API tokens carry scopes (space-separated: read, write, admin). Tokens made
-- before scopes existed keep what a token could do for its owner's own
-- account, read and write, but not admin.
ALTER TABLE api_tokens ADD COLUMN scopes TEXT NOT NULL DEFAULT 'read write';
