-- The integration event (or attachment) that carried a delivery: its template, if it has one,
-- shapes the message.
ALTER TABLE deliveries ADD COLUMN carried_by TEXT;
