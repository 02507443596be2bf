-- Issue 13, throughput: every index of `deliveries` is written for every delivery, and on
-- PostgreSQL an update of an indexed column (each result is one) writes a new entry in every
-- index of the row.
--
-- * The console's two covering indexes held `status`, so every result moved the row's entry
--   in both. One index on (org_id, created_at) replaces them: results never rewrite it, and
--   the hourly chart reads statuses from the rows it finds. Queue depth walks the due index
--   instead (a delivery is pending or retrying exactly when it has a next attempt).
-- * The event index is folded into the one that keeps an event's original deliveries unique:
--   a replay's key ends in its own id, so replays never collide, and every lookup by event
--   reads the index's leading column.
DROP INDEX deliveries_org_created;
DROP INDEX deliveries_org_waiting;
CREATE INDEX deliveries_org_created ON deliveries (org_id, created_at);
CREATE UNIQUE INDEX deliveries_by_event ON deliveries
    (event_id, integration_id, destination, (CASE WHEN replayed = 0 THEN '' ELSE id END));
DROP INDEX deliveries_original;
DROP INDEX deliveries_event;
