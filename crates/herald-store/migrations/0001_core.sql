-- Portable SQL: the same text runs on SQLite and PostgreSQL. Times are unix milliseconds,
-- JSON is TEXT, booleans are 0/1, so both back-ends share one set of queries.

CREATE TABLE organizations (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL
);

CREATE TABLE api_tokens (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES organizations (id),
    name        TEXT NOT NULL,
    token_hash  TEXT NOT NULL UNIQUE,
    role        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT,
    revoked_at  BIGINT
);

CREATE TABLE integrations (
    id               TEXT PRIMARY KEY,
    org_id           TEXT NOT NULL REFERENCES organizations (id),
    kind             TEXT NOT NULL,
    name             TEXT NOT NULL,
    enabled          BIGINT NOT NULL,
    severity_filter  TEXT,
    events           TEXT,            -- JSON array; NULL means all
    target_ids       TEXT,            -- JSON array; NULL means all
    config_sealed    TEXT NOT NULL,   -- AES-256-GCM, see herald-crypto
    config_keys      TEXT NOT NULL,   -- JSON array of the key names that are set
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    UNIQUE (org_id, kind, name)
);
CREATE INDEX integrations_org_name ON integrations (org_id, name);

CREATE TABLE events (
    id               TEXT PRIMARY KEY,
    org_id           TEXT NOT NULL REFERENCES organizations (id),
    event_type       TEXT NOT NULL,
    idempotency_key  TEXT,
    correlation_key  TEXT,
    envelope         TEXT NOT NULL,   -- the Event as JSON, exactly as providers render it
    received_at      BIGINT NOT NULL,
    UNIQUE (org_id, idempotency_key)
);

-- One row per (event, integration, destination). `destination` is '' for an integration's
-- single destination, and names a channel or URL when one event fans out to several.
CREATE TABLE deliveries (
    id                TEXT PRIMARY KEY,
    org_id            TEXT NOT NULL REFERENCES organizations (id),
    event_id          TEXT NOT NULL REFERENCES events (id),
    integration_id    TEXT NOT NULL,
    integration_name  TEXT NOT NULL,
    kind              TEXT NOT NULL,
    destination       TEXT NOT NULL DEFAULT '',
    status            TEXT NOT NULL,
    attempt_count     BIGINT NOT NULL DEFAULT 0,
    cycle_attempts    BIGINT NOT NULL DEFAULT 0,  -- attempts since the last (re-)queue
    next_attempt_at   BIGINT,                     -- NULL once ended; a claim moves it to the lease expiry
    lease_owner       TEXT,
    last_status_code  BIGINT,
    last_error        TEXT,
    external_id       TEXT,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    UNIQUE (event_id, integration_id, destination)
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE next_attempt_at IS NOT NULL;
CREATE INDEX deliveries_org ON deliveries (org_id, id);
CREATE INDEX deliveries_integration ON deliveries (integration_id, id);

CREATE TABLE attempts (
    id                TEXT PRIMARY KEY,
    delivery_id       TEXT NOT NULL REFERENCES deliveries (id),
    attempt_number    BIGINT NOT NULL,
    started_at        BIGINT NOT NULL,
    duration_ms       BIGINT NOT NULL,
    outcome           TEXT NOT NULL,
    status_code       BIGINT,
    response_excerpt  TEXT,
    error             TEXT
);
CREATE INDEX attempts_delivery ON attempts (delivery_id, attempt_number);
