-- PostgreSQL only (issue 13, throughput). The unique constraint on (org_id, idempotency_key)
-- gave every event an entry in its index, although most events carry no key and a NULL key
-- never conflicts. Each entry is an insert into a B-tree in the statement that stores the
-- group (index inserts were about 40% of the server's CPU in the end-to-end bench), so only
-- events with a key are indexed now. Ingest's ON CONFLICT names the same predicate, so the
-- server still finds the index for it.
--
-- SQLite keeps its constraint: it can drop one only by rebuilding the table, and its writer
-- spends little of its time there.
ALTER TABLE events DROP CONSTRAINT events_org_id_idempotency_key_key;
CREATE UNIQUE INDEX events_idempotency ON events (org_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
