-- Issue 4, who hears what: the scope tree, supplies, integration events (demand) and the
-- organisation's registered event types. Names, not ids, tie them together: a supply or an
-- integration event may name a scope the platform has not registered.

ALTER TABLE integrations ADD COLUMN supplied_to_all_modules BIGINT NOT NULL DEFAULT 0;

CREATE TABLE scopes (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES organizations (id),
    kind        TEXT NOT NULL,              -- stack | namespace | module
    name        TEXT NOT NULL,
    parent      TEXT,                       -- a namespace's stack, a module's namespace (names)
    created_at  BIGINT NOT NULL,
    UNIQUE (org_id, kind, name)
);
CREATE INDEX scopes_parent ON scopes (org_id, kind, parent);

CREATE TABLE supplies (
    id              TEXT PRIMARY KEY,
    org_id          TEXT NOT NULL REFERENCES organizations (id),
    integration_id  TEXT NOT NULL,
    kind            TEXT NOT NULL,          -- stack | namespace | module
    scope_name      TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    UNIQUE (integration_id, kind, scope_name)
);
CREATE INDEX supplies_org ON supplies (org_id, kind, id);

CREATE TABLE integration_events (
    id              TEXT PRIMARY KEY,
    org_id          TEXT NOT NULL REFERENCES organizations (id),
    integration_id  TEXT NOT NULL,
    name            TEXT NOT NULL,
    trigger_type    TEXT NOT NULL,          -- a fully qualified type, `prefix.*` or `*`
    scope_kind      TEXT NOT NULL,          -- organisation | stack | namespace | module
    scope_name      TEXT,                   -- NULL for the organisation
    environments    TEXT,                   -- JSON array; NULL means any
    min_severity    TEXT,
    enabled         BIGINT NOT NULL,
    template        TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    UNIQUE (integration_id, name)
);
CREATE INDEX integration_events_org ON integration_events (org_id, id);

CREATE TABLE event_types (
    org_id       TEXT NOT NULL REFERENCES organizations (id),
    id           TEXT NOT NULL,
    description  TEXT NOT NULL,
    json_schema  TEXT,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (org_id, id)
);
