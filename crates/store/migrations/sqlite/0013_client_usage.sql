-- Client usage (#14 item 5): tokens issued per client per UTC day (days since
-- 1970-01-01), and the last authentication within that day, so the latest day's row
-- holds the client's last authentication. Written in batches by one upsert per flush
-- (never a write per token); gone with the client.
CREATE TABLE client_usage (
    client_id             TEXT    NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    day                   INTEGER NOT NULL,
    tokens_issued         INTEGER NOT NULL,
    last_authenticated_at INTEGER NOT NULL,
    PRIMARY KEY (client_id, day)
) WITHOUT ROWID;
