-- On SQLite, migration 0005 names every table and index hallpass_*, so
-- that an app's own users and sessions tables can share the database.
-- PostgreSQL's have had those names from the start: this version changes
-- nothing, and exists so that a schema version means the same change in
-- both stores.
SELECT 1;
