-- The event list filters by module (target) and shows each event's title without reading the
-- envelope; deliveries filter by correlation key. Rows stored before this migration keep NULL
-- here: they still list, but do not match a target filter.
ALTER TABLE events ADD COLUMN target_id TEXT;
ALTER TABLE events ADD COLUMN title TEXT;
CREATE INDEX events_by_org ON events (org_id, id);
CREATE INDEX deliveries_by_correlation ON deliveries (org_id, correlation_key);
