-- Activities stored per epoch, maintained by the ingestion transaction (upserted in ascending epoch
-- order): reading an open epoch no longer counts its activities. A table of its own, not a column
-- of epochs: ingestion holds FOR SHARE locks on the epoch rows (PostgreSQL), so updating them
-- from concurrent batches would deadlock.
CREATE TABLE epoch_activity_counts (
    epoch       INTEGER PRIMARY KEY NOT NULL,
    activities  INTEGER NOT NULL
);
INSERT INTO epoch_activity_counts (epoch, activities)
    SELECT epoch, COUNT(*) FROM activities GROUP BY epoch;
-- (A member's timeline and summary are read epoch by epoch through activities (epoch, member_id):
-- no index led by member_id, which would halve SQLite's ingestion rate.)
