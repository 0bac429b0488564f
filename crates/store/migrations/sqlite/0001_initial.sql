-- Timestamps are unix milliseconds (INTEGER); lists are JSON text arrays.

CREATE TABLE clients (
    client_id                  TEXT    NOT NULL PRIMARY KEY,
    client_type                TEXT    NOT NULL,
    client_name                TEXT    NOT NULL,
    description                TEXT,
    redirect_uris              TEXT    NOT NULL,
    grant_types                TEXT    NOT NULL,
    response_types             TEXT    NOT NULL,
    scope                      TEXT    NOT NULL,
    token_endpoint_auth_method TEXT    NOT NULL,
    require_user_consent       INTEGER NOT NULL,
    access_token_ttl_seconds   INTEGER,
    status                     TEXT    NOT NULL,
    is_default                 INTEGER NOT NULL,
    created_at                 INTEGER NOT NULL,
    updated_at                 INTEGER NOT NULL,
    tokens_revoked_before      INTEGER,
    -- lower(client_name || ' ' || client_id), Unicode-lowercased in Rust.
    search_text                TEXT    NOT NULL
);
CREATE INDEX clients_newest_first ON clients (created_at DESC, client_id DESC);

CREATE TABLE client_secrets (
    id           TEXT    NOT NULL PRIMARY KEY,
    client_id    TEXT    NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    hash         BLOB    NOT NULL,
    hint         TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    revoked_at   INTEGER,
    last_used_at INTEGER
);
CREATE INDEX client_secrets_by_client ON client_secrets (client_id, created_at);

CREATE TABLE scopes (
    name        TEXT    NOT NULL PRIMARY KEY,
    description TEXT    NOT NULL,
    is_builtin  INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

CREATE TABLE signing_keys (
    kid                   TEXT    NOT NULL PRIMARY KEY,
    alg                   TEXT    NOT NULL,
    encrypted_private_key BLOB    NOT NULL,
    created_at            INTEGER NOT NULL,
    retired_at            INTEGER
);
-- At most one active key per algorithm, also when several instances race.
CREATE UNIQUE INDEX signing_keys_one_active_per_alg ON signing_keys (alg) WHERE retired_at IS NULL;

CREATE TABLE revoked_access_tokens (
    jti        TEXT    NOT NULL PRIMARY KEY,
    client_id  TEXT    NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX revoked_access_tokens_by_expiry ON revoked_access_tokens (expires_at);

CREATE TABLE audit_events (
    id          TEXT    NOT NULL PRIMARY KEY,
    at          INTEGER NOT NULL,
    actor       TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    target_type TEXT    NOT NULL,
    target_id   TEXT    NOT NULL,
    details     TEXT    NOT NULL
);

CREATE TABLE users (
    id             TEXT    NOT NULL PRIMARY KEY,
    username       TEXT    NOT NULL,
    username_lower TEXT    NOT NULL UNIQUE,
    email          TEXT,
    display_name   TEXT,
    password_hash  TEXT    NOT NULL,
    is_admin       INTEGER NOT NULL,
    created_at     INTEGER NOT NULL
);

-- One row once the store has been provisioned.
CREATE TABLE bootstrap_state (
    id             INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    provisioned_at INTEGER NOT NULL
);
