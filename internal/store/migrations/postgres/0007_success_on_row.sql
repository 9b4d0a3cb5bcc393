-- The successful attempt of a delivery is kept on its row instead of as a
-- row of attempts: most deliveries succeed at once, and then recording the
-- outcome is one UPDATE. attempts keeps the failures, and a success when
-- the row already holds an earlier one (a delivery replayed after it was
-- delivered). success_attempt is the attempt's number, NULL when none.
ALTER TABLE deliveries ADD COLUMN success_attempt BIGINT;
ALTER TABLE deliveries ADD COLUMN success_owner TEXT;
ALTER TABLE deliveries ADD COLUMN success_started_at BIGINT;
ALTER TABLE deliveries ADD COLUMN success_duration_us BIGINT;
ALTER TABLE deliveries ADD COLUMN success_outcome TEXT;
