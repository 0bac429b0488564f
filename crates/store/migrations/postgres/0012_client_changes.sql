-- Client caches that do not expire by age (#15): every change to a client (update,
-- disable, delete, secret rotation or revocation, tokens cut off) adds a row here in
-- its own transaction, and every instance reads the rows after the last it saw, twice
-- per `cache_freshness`, besides the notifications, so a lost notification still
-- reaches it within the bound. Numbers are taken at insert and commit out of order, so
-- readers re-read a window behind the highest they saw. Pruned after ten minutes.
CREATE TABLE client_changes (
    seq        BIGSERIAL PRIMARY KEY,
    client_id  TEXT COLLATE "C" NOT NULL,
    changed_at BIGINT NOT NULL
);
CREATE INDEX client_changes_by_time ON client_changes (changed_at);
