-- Follow-ups: deliveries that share (integration, destination, correlation key) are sent in
-- order, and a follow-up reuses the external id the first one got.
ALTER TABLE deliveries ADD COLUMN correlation_key TEXT;
CREATE INDEX deliveries_chain ON deliveries (integration_id, destination, correlation_key, id)
    WHERE correlation_key IS NOT NULL;

-- An integration's message template (JSON: {"title", "text"}); NULL for the provider's default.
ALTER TABLE integrations ADD COLUMN template TEXT;
