-- Admin search through a trigram index, as pg_trgm serves it on PostgreSQL: a search
-- matching few clients reads only those, where walking the newest-first index tested
-- every client (about 18 ms over 100,000).
--
-- FTS5 rows are keyed by integer rowids. A client's implicit rowid may change on VACUUM
-- (its key is text), so each client gets a stable integer key of its own here, and the
-- index rows carry that key. The index is contentless and keeps no positions: it
-- answers which keys hold every trigram of a term, and the query re-checks those
-- against search_text.
CREATE TABLE client_search_keys (
    id        INTEGER NOT NULL PRIMARY KEY,
    client_id TEXT    NOT NULL UNIQUE
);

CREATE VIRTUAL TABLE client_search USING fts5 (
    search_text,
    content = '',
    contentless_delete = 1,
    detail = none,
    tokenize = 'trigram'
);

-- Kept in step by triggers, so every write path (and a restore by plain SQL) stays
-- indexed in the writer's own transaction. client_id never changes.
CREATE TRIGGER client_search_on_insert AFTER INSERT ON clients
BEGIN
    INSERT INTO client_search_keys (client_id) VALUES (new.client_id);
    INSERT INTO client_search (rowid, search_text)
        SELECT id, new.search_text FROM client_search_keys WHERE client_id = new.client_id;
END;

CREATE TRIGGER client_search_on_update AFTER UPDATE OF search_text ON clients
    WHEN new.search_text IS NOT old.search_text
BEGIN
    DELETE FROM client_search
        WHERE rowid = (SELECT id FROM client_search_keys WHERE client_id = old.client_id);
    INSERT INTO client_search (rowid, search_text)
        SELECT id, new.search_text FROM client_search_keys WHERE client_id = new.client_id;
END;

CREATE TRIGGER client_search_on_delete AFTER DELETE ON clients
BEGIN
    DELETE FROM client_search
        WHERE rowid = (SELECT id FROM client_search_keys WHERE client_id = old.client_id);
    DELETE FROM client_search_keys WHERE client_id = old.client_id;
END;

INSERT INTO client_search_keys (client_id) SELECT client_id FROM clients;
INSERT INTO client_search (rowid, search_text)
    SELECT keys.id, clients.search_text
    FROM client_search_keys AS keys JOIN clients USING (client_id);
