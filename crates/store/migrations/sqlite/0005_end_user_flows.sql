-- End users (#13): browser sessions, authorization codes, refresh-token families,
-- consents, and the sign-in failure counter. Session ids, codes and refresh tokens are
-- stored only as the hex hashes the server computes, never as the values themselves.
-- Deleting a user or a client deletes what it owns here (ON DELETE CASCADE; the store
-- opens SQLite with foreign keys on). `session_id_hash` is no foreign key: codes and
-- refresh tokens outlive the session they were issued in, and its purge.

CREATE TABLE sessions (
    id_hash             TEXT    NOT NULL PRIMARY KEY,
    user_id             TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    auth_time           INTEGER NOT NULL,
    created_at          INTEGER NOT NULL,
    last_seen_at        INTEGER NOT NULL,
    idle_expires_at     INTEGER NOT NULL,
    absolute_expires_at INTEGER NOT NULL,
    revoked_at          INTEGER,
    -- The idle expiry never passes the absolute one, so it alone says when a session ends.
    CHECK (idle_expires_at <= absolute_expires_at)
);
CREATE INDEX sessions_by_user ON sessions (user_id, created_at DESC);
CREATE INDEX sessions_by_expiry ON sessions (idle_expires_at);
CREATE INDEX sessions_revoked ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;

CREATE TABLE authorization_codes (
    code_hash               TEXT    NOT NULL PRIMARY KEY,
    client_id               TEXT    NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    user_id                 TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    session_id_hash         TEXT,
    redirect_uri            TEXT    NOT NULL,
    scope                   TEXT    NOT NULL,
    code_challenge          TEXT,
    nonce                   TEXT,
    auth_time               INTEGER NOT NULL,
    created_at              INTEGER NOT NULL,
    expires_at              INTEGER NOT NULL,
    redeemed_at             INTEGER,
    -- What the redemption issued, so that a replay can revoke it.
    access_token_jti        TEXT,
    access_token_expires_at INTEGER,
    refresh_family_id       TEXT
);
CREATE INDEX authorization_codes_by_client ON authorization_codes (client_id);
CREATE INDEX authorization_codes_by_user ON authorization_codes (user_id);
CREATE INDEX authorization_codes_by_expiry ON authorization_codes (expires_at);

CREATE TABLE refresh_tokens (
    token_hash              TEXT    NOT NULL PRIMARY KEY,
    family_id               TEXT    NOT NULL,
    client_id               TEXT    NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    user_id                 TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    scope                   TEXT    NOT NULL,
    auth_time               INTEGER NOT NULL,
    session_id_hash         TEXT,
    created_at              INTEGER NOT NULL,
    expires_at              INTEGER NOT NULL,
    rotated_at              INTEGER,
    revoked_at              INTEGER,
    -- The access token issued with this refresh token, revoked with its family.
    access_token_jti        TEXT,
    access_token_expires_at INTEGER
);
CREATE INDEX refresh_tokens_by_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_by_user ON refresh_tokens (user_id, created_at DESC);
CREATE INDEX refresh_tokens_by_client ON refresh_tokens (client_id);
CREATE INDEX refresh_tokens_by_expiry ON refresh_tokens (expires_at);

CREATE TABLE consents (
    user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id  TEXT    NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    scope      TEXT    NOT NULL,
    granted_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, client_id)
);
CREATE INDEX consents_by_client ON consents (client_id);

-- One fixed window of failed sign-ins per key (`user:<name>`, `ip:<address>`), shared
-- by every instance on the database.
CREATE TABLE sign_in_failures (
    key          TEXT    NOT NULL PRIMARY KEY,
    window_start INTEGER NOT NULL,
    failures     INTEGER NOT NULL
);
CREATE INDEX sign_in_failures_by_window ON sign_in_failures (window_start);
