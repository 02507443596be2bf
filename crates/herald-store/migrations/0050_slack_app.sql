-- Issue 12, Herald as a Slack app.

-- An integration event may name its own destinations (a Slack channel subscribed with
-- `/herald subscribe`); NULL means the integration's own. JSON array.
ALTER TABLE integration_events ADD COLUMN destinations TEXT;

-- Why Herald disabled an integration on its own (the Slack app was uninstalled, its token
-- revoked); cleared when someone sets `enabled` again.
ALTER TABLE integrations ADD COLUMN disabled_reason TEXT;

-- A Slack workspace connected to an integration through Add to Slack. The bot token (and the
-- refresh token, with token rotation) live sealed in the integration's config; this row holds
-- what is not secret, so inbound requests find their integrations by team.
CREATE TABLE slack_installations (
    integration_id          TEXT PRIMARY KEY,
    org_id                  TEXT NOT NULL REFERENCES organizations (id),
    team_id                 TEXT NOT NULL,
    team_name               TEXT,
    enterprise_id           TEXT,
    app_id                  TEXT,
    bot_user_id             TEXT NOT NULL,
    scopes                  TEXT,
    installed_by            TEXT,           -- the principal that clicked Add to Slack
    installed_at            BIGINT NOT NULL,
    token_expires_at        BIGINT,         -- with token rotation: when the bot token expires
    refresh_claimed_until   BIGINT          -- an instance refreshing the token holds it until then
);
CREATE INDEX slack_installations_team ON slack_installations (team_id);

-- Add to Slack's `state`: single use, expiring, bound to who asked and for what. Only its
-- hash is stored.
CREATE TABLE slack_oauth_states (
    state_hash      TEXT PRIMARY KEY,
    org_id          TEXT NOT NULL,
    principal_id    TEXT NOT NULL,
    integration_id  TEXT,                   -- NULL: a new integration
    new_integration TEXT,                   -- JSON {name, default_channel} for a new one
    expires_at      BIGINT NOT NULL
);

-- A Slack user acting as a Herald principal in slash commands and approvals.
CREATE TABLE slack_user_links (
    id              TEXT PRIMARY KEY,
    org_id          TEXT NOT NULL REFERENCES organizations (id),
    team_id         TEXT NOT NULL,
    slack_user_id   TEXT NOT NULL,
    slack_user_name TEXT,
    principal_id    TEXT NOT NULL,
    linked_by       TEXT,                   -- the principal that confirmed or made the link
    created_at      BIGINT NOT NULL,
    UNIQUE (org_id, team_id, slack_user_id)
);
CREATE INDEX slack_user_links_user ON slack_user_links (team_id, slack_user_id);

-- `/herald link`'s one-time codes; only their hash is stored.
CREATE TABLE slack_link_codes (
    code_hash       TEXT PRIMARY KEY,
    team_id         TEXT NOT NULL,
    slack_user_id   TEXT NOT NULL,
    slack_user_name TEXT,
    expires_at      BIGINT NOT NULL
);

-- Events API deliveries already handled, so Slack's retries are handled once.
CREATE TABLE slack_event_receipts (
    event_id        TEXT PRIMARY KEY,
    received_at     BIGINT NOT NULL
);

-- What `/herald subscribe` made beside its integration event, so `unsubscribe` removes only that.
CREATE TABLE slack_subscriptions (
    integration_event_id    TEXT PRIMARY KEY,
    org_id                  TEXT NOT NULL,
    integration_id          TEXT NOT NULL,
    team_id                 TEXT NOT NULL,
    channel_id              TEXT NOT NULL,
    supply_id               TEXT,           -- the supply it created, if it created one
    set_all_modules         BIGINT NOT NULL DEFAULT 0,
    created_by              TEXT,
    created_at              BIGINT NOT NULL
);
CREATE INDEX slack_subscriptions_channel ON slack_subscriptions (org_id, team_id, channel_id);

-- The first decision on a run waiting for approval; the primary key makes a second one lose.
CREATE TABLE approval_decisions (
    org_id              TEXT NOT NULL,
    event_id            TEXT NOT NULL,      -- the event that waited for approval
    decision            TEXT NOT NULL,      -- approved | rejected
    principal_id        TEXT NOT NULL,
    slack_team_id       TEXT,
    slack_user_id       TEXT,
    slack_user_name     TEXT,
    decided_at          BIGINT NOT NULL,
    decision_event_id   TEXT NOT NULL,      -- the herald.approval.decided event
    PRIMARY KEY (org_id, event_id)
);
