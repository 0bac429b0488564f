-- Client caches that do not expire by age (#15): every change to a client (update,
-- disable, delete, secret rotation or revocation, tokens cut off) adds a row here in
-- its own transaction, and every instance reads the rows after the last it saw, twice
-- per `cache_freshness`, to drop what it holds of those clients. This is how a server
-- notices what the CLI committed to the same file. Rows are pruned after ten minutes.
-- AUTOINCREMENT: a pruned highest row must not have its number handed out again.
CREATE TABLE client_changes (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    client_id  TEXT    NOT NULL,
    changed_at INTEGER NOT NULL
);
CREATE INDEX client_changes_by_time ON client_changes (changed_at);
