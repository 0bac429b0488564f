-- RP-initiated logout (OIDC RP-Initiated Logout 1.0): where each client may have the
-- browser sent after signing out, a JSON array of URIs like redirect_uris. Existing
-- clients register none.
ALTER TABLE clients ADD COLUMN post_logout_redirect_uris TEXT NOT NULL DEFAULT '[]';
