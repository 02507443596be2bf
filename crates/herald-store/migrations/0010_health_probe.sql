-- One row that readiness checks rewrite: a write proves the database can commit (a full disk
-- still lets SQLite read).
CREATE TABLE health_probe (
    id         BIGINT PRIMARY KEY,
    probed_at  BIGINT NOT NULL
);
INSERT INTO health_probe (id, probed_at) VALUES (1, 0);
