-- Timestamps are unix milliseconds (BIGINT). Hash and id columns use the "C" collation,
-- as in 0001, so ordering is bytewise as on SQLite.
-- End users (#13): browser sessions, authorization codes, refresh-token families,
-- consents, and the sign-in failure counter. Session ids, codes and refresh tokens are
-- stored only as the hex hashes the server computes, never as the values themselves.
-- Deleting a user or a client deletes what it owns here (ON DELETE CASCADE).
-- `session_id_hash` is no foreign key: codes and refresh tokens outlive the session
-- they were issued in, and its purge.

CREATE TABLE sessions (
    id_hash             TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    user_id             TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    auth_time           BIGINT  NOT NULL,
    created_at          BIGINT  NOT NULL,
    last_seen_at        BIGINT  NOT NULL,
    idle_expires_at     BIGINT  NOT NULL,
    absolute_expires_at BIGINT  NOT NULL,
    revoked_at          BIGINT,
    -- The idle expiry never passes the absolute one, so it alone says when a session ends.
    CHECK (idle_expires_at <= absolute_expires_at)
);
CREATE INDEX sessions_by_user ON sessions (user_id, created_at DESC);
CREATE INDEX sessions_by_expiry ON sessions (idle_expires_at);
CREATE INDEX sessions_revoked ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;

CREATE TABLE authorization_codes (
    code_hash               TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    client_id               TEXT COLLATE "C" NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    user_id                 TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    session_id_hash         TEXT,
    redirect_uri            TEXT    NOT NULL,
    scope                   TEXT    NOT NULL,
    code_challenge          TEXT,
    nonce                   TEXT,
    auth_time               BIGINT  NOT NULL,
    created_at              BIGINT  NOT NULL,
    expires_at              BIGINT  NOT NULL,
    redeemed_at             BIGINT,
    -- What the redemption issued, so that a replay can revoke it.
    access_token_jti        TEXT,
    access_token_expires_at BIGINT,
    refresh_family_id       TEXT
);
CREATE INDEX authorization_codes_by_client ON authorization_codes (client_id);
CREATE INDEX authorization_codes_by_user ON authorization_codes (user_id);
CREATE INDEX authorization_codes_by_expiry ON authorization_codes (expires_at);

CREATE TABLE refresh_tokens (
    token_hash              TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    family_id               TEXT COLLATE "C" NOT NULL,
    client_id               TEXT COLLATE "C" NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    user_id                 TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    scope                   TEXT    NOT NULL,
    auth_time               BIGINT  NOT NULL,
    session_id_hash         TEXT,
    created_at              BIGINT  NOT NULL,
    expires_at              BIGINT  NOT NULL,
    rotated_at              BIGINT,
    revoked_at              BIGINT,
    -- The access token issued with this refresh token, revoked with its family.
    access_token_jti        TEXT,
    access_token_expires_at BIGINT
);
CREATE INDEX refresh_tokens_by_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_by_user ON refresh_tokens (user_id, created_at DESC);
CREATE INDEX refresh_tokens_by_client ON refresh_tokens (client_id);
CREATE INDEX refresh_tokens_by_expiry ON refresh_tokens (expires_at);

CREATE TABLE consents (
    user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id  TEXT COLLATE "C" NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    scope      TEXT    NOT NULL,
    granted_at BIGINT  NOT NULL,
    PRIMARY KEY (user_id, client_id)
);
CREATE INDEX consents_by_client ON consents (client_id);

-- One fixed window of failed sign-ins per key (`user:<name>`, `ip:<address>`), shared
-- by every instance on the database.
CREATE TABLE sign_in_failures (
    key          TEXT    NOT NULL PRIMARY KEY,
    window_start BIGINT  NOT NULL,
    failures     BIGINT  NOT NULL
);
CREATE INDEX sign_in_failures_by_window ON sign_in_failures (window_start);
