-- Issue 11: the console's dashboard reads deliveries per hour and the queue's depth. These
-- covering indexes let both be answered from an index alone, whatever the log's size.
CREATE INDEX deliveries_org_created ON deliveries (org_id, created_at, status);
CREATE INDEX deliveries_org_waiting ON deliveries (org_id, created_at) WHERE status IN ('pending', 'retrying');
