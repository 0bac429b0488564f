-- Refresh-token reuse grace (SPEC 5, #13): a rotated token names the token that
-- replaced it, so a retry within the grace window can retire exactly that pair, and a
-- second retry racing the first finds it already replaced.
ALTER TABLE refresh_tokens ADD COLUMN successor_hash TEXT;
