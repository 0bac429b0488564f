-- Users become manageable (SPEC 4): a status, an update time, and a search text, the
-- lowercase username, e-mail and display name the server writes (as for clients), one
-- per line, for a case-insensitive substring search (a term holds no line break, so it
-- never matches across two fields). lower() below folds ASCII only; the one row a
-- store can hold before this migration is the bootstrap admin, named in ASCII by default,
-- and the server rewrites the text at the user's next change.
ALTER TABLE users ADD COLUMN status TEXT NOT NULL DEFAULT 'active';
ALTER TABLE users ADD COLUMN updated_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN search_text TEXT NOT NULL DEFAULT '';
UPDATE users SET updated_at = created_at,
    search_text = lower(username || '
' || coalesce(email, '') || '
' || coalesce(display_name, ''));
CREATE INDEX users_newest_first ON users (created_at DESC, id DESC);
