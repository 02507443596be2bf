-- Principals, nested groups and role assignments (seed 000's RBAC), and the audit log.
CREATE TABLE principals (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES organizations (id),
    kind        TEXT NOT NULL,              -- user | group | service_principal
    name        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    UNIQUE (org_id, kind, name)
);

CREATE TABLE group_members (
    group_id    TEXT NOT NULL REFERENCES principals (id),
    member_id   TEXT NOT NULL REFERENCES principals (id),
    org_id      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (group_id, member_id)
);
CREATE INDEX group_members_member ON group_members (member_id);

CREATE TABLE role_assignments (
    id              TEXT PRIMARY KEY,
    org_id          TEXT NOT NULL REFERENCES organizations (id),
    principal_id    TEXT NOT NULL REFERENCES principals (id),
    role            TEXT NOT NULL,
    integration_id  TEXT,                   -- NULL: the whole organisation
    created_at      BIGINT NOT NULL
);
CREATE UNIQUE INDEX role_assignments_once ON role_assignments (principal_id, role, COALESCE(integration_id, ''));
CREATE INDEX role_assignments_integration ON role_assignments (integration_id);

-- A token acts as its principal. Tokens from before principals keep their `role`.
ALTER TABLE api_tokens ADD COLUMN principal_id TEXT;

CREATE TABLE audit_log (
    id              TEXT PRIMARY KEY,
    org_id          TEXT NOT NULL,
    at              BIGINT NOT NULL,
    actor_id        TEXT,                   -- the principal
    token_id        TEXT,
    source          TEXT,                   -- the client's address
    action          TEXT NOT NULL,          -- e.g. integration.update
    resource_type   TEXT NOT NULL,
    resource_id     TEXT NOT NULL,
    details         TEXT                    -- JSON; names of what changed, never secret values
);
CREATE INDEX audit_log_org ON audit_log (org_id, id);
