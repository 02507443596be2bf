-- Workspace attachments (seed 001): an integration attached to a module fires after a job
-- stage, with the module's destination overrides. The integration's own (organisation-level)
-- destinations sit on the integration.
CREATE TABLE attachments (
    id              TEXT PRIMARY KEY,
    org_id          TEXT NOT NULL REFERENCES organizations (id),
    integration_id  TEXT NOT NULL,
    module          TEXT NOT NULL,
    run_after       TEXT NOT NULL,          -- plan | apply | all
    destinations    TEXT NOT NULL,          -- JSON {default, environments}
    created_by      TEXT,
    created_at      BIGINT NOT NULL,
    UNIQUE (integration_id, module)
);
CREATE INDEX attachments_org ON attachments (org_id, id);

ALTER TABLE integrations ADD COLUMN destinations TEXT;
