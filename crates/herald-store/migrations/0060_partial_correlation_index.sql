-- Issue 13, throughput: most deliveries carry no correlation key, and every index is one more
-- write for each of them. Listing by correlation key asks `correlation_key = ?`, which implies
-- NOT NULL, so a partial index still serves it.
DROP INDEX deliveries_by_correlation;
CREATE INDEX deliveries_by_correlation ON deliveries (org_id, correlation_key)
    WHERE correlation_key IS NOT NULL;
