-- st_blocks of regular files (issue 11 point 8): the 512-byte units the
-- data of the file's replica takes on disk, as its last writer measured it
-- at close. NULL (files from before): taken as the size rounded up, which
-- is what was reported until then.
ALTER TABLE inode ADD COLUMN blocks bigint;
