-- Generations (gfmd/namespace.h): a replica holds data generation `gen` and
-- lives in spool file ino-fgen on its host. fgen is fixed for the replica's
-- life and never reused for the inode, so a dead file name cannot name live
-- data; gen moves on with every write-open and truncate. Until now both were
-- the same number (always 1).
ALTER TABLE replica ADD COLUMN fgen bigint;
UPDATE replica SET fgen = gen;
ALTER TABLE replica ALTER COLUMN fgen SET NOT NULL;

-- A dead replica is a file to delete: it is named by its file generation.
ALTER TABLE dead_replica RENAME COLUMN gen TO fgen;
