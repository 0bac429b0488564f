-- Timestamps are unix milliseconds (BIGINT); lists are JSON text arrays.
-- Key columns use the "C" collation so ordering and cursors are bytewise, as on SQLite.

CREATE TABLE clients (
    client_id                  TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    client_type                TEXT    NOT NULL,
    client_name                TEXT    NOT NULL,
    description                TEXT,
    redirect_uris              TEXT    NOT NULL,
    grant_types                TEXT    NOT NULL,
    response_types             TEXT    NOT NULL,
    scope                      TEXT    NOT NULL,
    token_endpoint_auth_method TEXT    NOT NULL,
    require_user_consent       BOOLEAN NOT NULL,
    access_token_ttl_seconds   BIGINT,
    status                     TEXT    NOT NULL,
    is_default                 BOOLEAN NOT NULL,
    created_at                 BIGINT  NOT NULL,
    updated_at                 BIGINT  NOT NULL,
    tokens_revoked_before      BIGINT,
    -- lower(client_name || ' ' || client_id), Unicode-lowercased in Rust.
    search_text                TEXT    NOT NULL
);
CREATE INDEX clients_newest_first ON clients (created_at DESC, client_id DESC);

CREATE TABLE client_secrets (
    id           TEXT    NOT NULL PRIMARY KEY,
    client_id    TEXT COLLATE "C" NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    hash         BYTEA   NOT NULL,
    hint         TEXT    NOT NULL,
    created_at   BIGINT  NOT NULL,
    expires_at   BIGINT,
    revoked_at   BIGINT,
    last_used_at BIGINT
);
CREATE INDEX client_secrets_by_client ON client_secrets (client_id, created_at);

CREATE TABLE scopes (
    name        TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    description TEXT    NOT NULL,
    is_builtin  BOOLEAN NOT NULL,
    created_at  BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL
);

CREATE TABLE signing_keys (
    kid                   TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    alg                   TEXT   NOT NULL,
    encrypted_private_key BYTEA  NOT NULL,
    created_at            BIGINT NOT NULL,
    retired_at            BIGINT
);
-- At most one active key per algorithm, also when several instances race.
CREATE UNIQUE INDEX signing_keys_one_active_per_alg ON signing_keys (alg) WHERE retired_at IS NULL;

CREATE TABLE revoked_access_tokens (
    jti        TEXT   NOT NULL PRIMARY KEY,
    client_id  TEXT   NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX revoked_access_tokens_by_expiry ON revoked_access_tokens (expires_at);

CREATE TABLE audit_events (
    id          TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    at          BIGINT NOT NULL,
    actor       TEXT   NOT NULL,
    action      TEXT   NOT NULL,
    target_type TEXT   NOT NULL,
    target_id   TEXT   NOT NULL,
    details     TEXT   NOT NULL
);

CREATE TABLE users (
    id             TEXT    NOT NULL PRIMARY KEY,
    username       TEXT    NOT NULL,
    username_lower TEXT    NOT NULL UNIQUE,
    email          TEXT,
    display_name   TEXT,
    password_hash  TEXT    NOT NULL,
    is_admin       BOOLEAN NOT NULL,
    created_at     BIGINT  NOT NULL
);

-- One row once the store has been provisioned.
CREATE TABLE bootstrap_state (
    id             INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    provisioned_at BIGINT  NOT NULL
);
