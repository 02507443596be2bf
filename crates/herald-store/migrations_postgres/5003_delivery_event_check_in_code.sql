-- PostgreSQL only (issue 13, throughput). The last foreign key on the hot path: every delivery
-- inserted ran a trigger that queried its event through SPI and locked the event's row
-- (FOR KEY SHARE). In the end-to-end bench those checks took about a quarter of PostgreSQL's
-- CPU (docs/performance.md, fifteenth round).
--
-- Ingest inserts an event's deliveries in the same statement as the event, so only replays
-- add deliveries to an event that retention could be deleting. The check moves to those two:
-- a replay locks the event's row as the trigger did (`Store::insert_replays`), and a retention
-- batch looks, before it commits, for deliveries of the events it deleted and rolls back if
-- it finds one (`Store::prune_before`). SQLite keeps the foreign key (see 5000's comment).
--
-- Upgrading: an instance of an earlier release neither locks nor looks, so while one still runs
-- beside this release, a replay of an event that retention is pruning at that moment can leave
-- a delivery without its event (docs/operations.md, "Upgrading"). Dropping the constraint
-- takes a short exclusive lock on both tables; it gives up after 5 s rather than queue every
-- write behind a long transaction, and the next start tries again.
SET LOCAL lock_timeout = '5s';
ALTER TABLE deliveries DROP CONSTRAINT deliveries_rebuilt_event_id_fkey;
