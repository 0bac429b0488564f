-- Substring search over client name and id (`search_text LIKE '%term%'`) through a
-- trigram index: pg_trgm ships with PostgreSQL and is a trusted extension. Installed in
-- `public` so that every schema of the database shares one copy.
CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public;
CREATE INDEX clients_search_trgm ON clients USING gin (search_text public.gin_trgm_ops);
