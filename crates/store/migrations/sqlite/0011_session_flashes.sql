-- The console (#14): what a signed-in administrator is shown exactly once, such as a
-- client secret just created or rotated. Sealed under the server key, bound to its
-- session, deleted by the read that shows it, and gone with the session.
CREATE TABLE session_flashes (
    session_hash TEXT    NOT NULL REFERENCES sessions (id_hash) ON DELETE CASCADE,
    subject      TEXT    NOT NULL,
    sealed       BLOB    NOT NULL,
    expires_at   INTEGER NOT NULL,
    PRIMARY KEY (session_hash, subject)
);
-- The audit log page filters by who, what and which object.
CREATE INDEX audit_events_by_actor ON audit_events (actor, id);
CREATE INDEX audit_events_by_target ON audit_events (target_id, id);
