-- Issue 13, running Herald like infrastructure: pause, auto-disable and replays.

-- Paused: its deliveries wait (they are not claimed) until it is resumed.
ALTER TABLE integrations ADD COLUMN paused_at BIGINT;
-- When its current run of failed attempts began (NULL after a success), and when Herald said
-- so with `herald.integration.failing` (once per run): the input to auto-disable.
ALTER TABLE integrations ADD COLUMN failing_since BIGINT;
ALTER TABLE integrations ADD COLUMN failing_reported_at BIGINT;
CREATE INDEX integrations_paused ON integrations (id) WHERE paused_at IS NOT NULL;

-- A replay sends an event again to an integration as a new delivery of the same event, so
-- (event, integration, destination) is unique only among the original deliveries. SQLite
-- cannot drop a table's UNIQUE constraint, so the table is rebuilt (with its attempts, which
-- refer to it); the same statements run on PostgreSQL.
CREATE TABLE deliveries_rebuilt (
    id                TEXT PRIMARY KEY,
    org_id            TEXT NOT NULL REFERENCES organizations (id),
    event_id          TEXT NOT NULL REFERENCES events (id),
    integration_id    TEXT NOT NULL,
    integration_name  TEXT NOT NULL,
    kind              TEXT NOT NULL,
    destination       TEXT NOT NULL DEFAULT '',
    status            TEXT NOT NULL,
    attempt_count     BIGINT NOT NULL DEFAULT 0,
    cycle_attempts    BIGINT NOT NULL DEFAULT 0,
    next_attempt_at   BIGINT,
    lease_owner       TEXT,
    last_status_code  BIGINT,
    last_error        TEXT,
    external_id       TEXT,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    correlation_key   TEXT,
    carried_by        TEXT,
    replayed          BIGINT NOT NULL DEFAULT 0,  -- 1 for a replay
    replay_of         TEXT                        -- the delivery a replay repeats, if there was one
);
INSERT INTO deliveries_rebuilt (id, org_id, event_id, integration_id, integration_name, kind, destination,
    status, attempt_count, cycle_attempts, next_attempt_at, lease_owner, last_status_code, last_error,
    external_id, created_at, updated_at, correlation_key, carried_by)
SELECT id, org_id, event_id, integration_id, integration_name, kind, destination,
    status, attempt_count, cycle_attempts, next_attempt_at, lease_owner, last_status_code, last_error,
    external_id, created_at, updated_at, correlation_key, carried_by
FROM deliveries;

CREATE TABLE attempts_rebuilt (
    id                TEXT PRIMARY KEY,
    delivery_id       TEXT NOT NULL REFERENCES deliveries_rebuilt (id),
    attempt_number    BIGINT NOT NULL,
    started_at        BIGINT NOT NULL,
    duration_ms       BIGINT NOT NULL,
    outcome           TEXT NOT NULL,
    status_code       BIGINT,
    response_excerpt  TEXT,
    error             TEXT
);
INSERT INTO attempts_rebuilt (id, delivery_id, attempt_number, started_at, duration_ms, outcome,
    status_code, response_excerpt, error)
SELECT id, delivery_id, attempt_number, started_at, duration_ms, outcome, status_code,
    response_excerpt, error
FROM attempts;

DROP TABLE attempts;
DROP TABLE deliveries;
ALTER TABLE deliveries_rebuilt RENAME TO deliveries;
ALTER TABLE attempts_rebuilt RENAME TO attempts;

CREATE UNIQUE INDEX deliveries_original ON deliveries (event_id, integration_id, destination)
    WHERE replayed = 0;
CREATE INDEX deliveries_event ON deliveries (event_id);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE next_attempt_at IS NOT NULL;
CREATE INDEX deliveries_org ON deliveries (org_id, id);
CREATE INDEX deliveries_integration ON deliveries (integration_id, id);
CREATE INDEX deliveries_chain ON deliveries (integration_id, destination, correlation_key, id)
    WHERE correlation_key IS NOT NULL;
CREATE INDEX attempts_delivery ON attempts (delivery_id, attempt_number);

-- Retention prunes by age.
CREATE INDEX events_received ON events (received_at);
