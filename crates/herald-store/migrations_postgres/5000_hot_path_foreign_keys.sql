-- PostgreSQL only (issue 13, throughput). PostgreSQL checks a foreign key with a trigger per
-- inserted row: a query through SPI that also locks the referenced row (FOR KEY SHARE). Every
-- event and every delivery checked its organisation that way, so every ingest locked the same
-- `organizations` row from several connections at once, and every attempt logged checked its
-- delivery. In the end-to-end bench, foreign-key checks were about a third of PostgreSQL's CPU
-- (docs/performance.md, tenth round).
--
-- These three references are kept whole by how Herald writes: an organisation is never
-- deleted, and an attempt is logged only in the statement whose update of its delivery
-- applied. The delivery's reference to its event stays checked: a replay may add deliveries
-- to an old event while retention deletes it, and only the foreign key makes one of the two
-- fail. SQLite keeps all of them: its checks are index lookups inside its one writer's
-- transaction, and dropping one there means rebuilding the table.
ALTER TABLE events DROP CONSTRAINT events_org_id_fkey;
ALTER TABLE deliveries DROP CONSTRAINT deliveries_rebuilt_org_id_fkey;
ALTER TABLE attempts DROP CONSTRAINT attempts_rebuilt_delivery_id_fkey;
