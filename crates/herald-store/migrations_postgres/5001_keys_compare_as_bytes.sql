-- PostgreSQL only (issue 13, throughput). Every insert into an index of text keys compares
-- keys, and under a database collation other than "C" (Debian's default cluster is C.UTF-8)
-- each comparison goes through the C library's strcoll. In the end-to-end bench on PostgreSQL
-- that was several per cent of the server's CPU, in `varstr_cmp`, `strcoll_l` and
-- `pg_newlocale_from_collation` (docs/performance.md, twelfth round).
--
-- Herald's ids are ASCII (a prefix and the hex of a UUIDv7), so byte order is their natural
-- order. The keys events bring (idempotency and correlation keys) are only ever compared for
-- equality, which is byte equality under any deterministic collation. So "C" changes no
-- answer, only the cost. Names people read (integration names, event titles) keep the
-- database's collation, so lists sorted by name still sort as the operator's locale does.
--
-- The hot tables' keys, and the ids they are joined on, change together: a comparison of a
-- "C" column with one in the database's collation is made in "C", and an index in the other
-- collation could not serve it. Only the indexes are rebuilt; the tables are not rewritten.
ALTER TABLE organizations ALTER COLUMN id TYPE text COLLATE "C";
ALTER TABLE integrations
    ALTER COLUMN id TYPE text COLLATE "C",
    ALTER COLUMN org_id TYPE text COLLATE "C";
ALTER TABLE events
    ALTER COLUMN id TYPE text COLLATE "C",
    ALTER COLUMN org_id TYPE text COLLATE "C",
    ALTER COLUMN idempotency_key TYPE text COLLATE "C",
    ALTER COLUMN correlation_key TYPE text COLLATE "C";
ALTER TABLE deliveries
    ALTER COLUMN id TYPE text COLLATE "C",
    ALTER COLUMN org_id TYPE text COLLATE "C",
    ALTER COLUMN event_id TYPE text COLLATE "C",
    ALTER COLUMN integration_id TYPE text COLLATE "C",
    ALTER COLUMN destination TYPE text COLLATE "C",
    ALTER COLUMN correlation_key TYPE text COLLATE "C",
    ALTER COLUMN lease_owner TYPE text COLLATE "C",
    ALTER COLUMN replay_of TYPE text COLLATE "C";
ALTER TABLE attempts
    ALTER COLUMN id TYPE text COLLATE "C",
    ALTER COLUMN delivery_id TYPE text COLLATE "C";
