-- gfarmfs metadata, written only by gfmd (see gfmd/store_pg.c).
-- Names and xattr values are bytea: a file name is any bytes but '/' and NUL.
-- Unsigned 32-bit ids (uid, gid) are kept in bigint.

CREATE TABLE inode (
	ino        bigint PRIMARY KEY,
	mode       integer NOT NULL,
	nlink      integer NOT NULL,
	uid        bigint NOT NULL,
	gid        bigint NOT NULL,
	size       bigint NOT NULL DEFAULT 0,
	rdev       bigint NOT NULL DEFAULT 0,
	gen        bigint NOT NULL DEFAULT 1,
	atime_sec  bigint NOT NULL,
	atime_nsec integer NOT NULL,
	mtime_sec  bigint NOT NULL,
	mtime_nsec integer NOT NULL,
	ctime_sec  bigint NOT NULL,
	ctime_nsec integer NOT NULL,
	symlink    bytea
);

CREATE TABLE dirent (
	parent bigint NOT NULL,
	name   bytea NOT NULL,
	ino    bigint NOT NULL,
	cookie bigint NOT NULL,   -- readdir position, increasing per directory
	PRIMARY KEY (parent, name)
);

CREATE TABLE xattr (
	ino   bigint NOT NULL,
	name  bytea NOT NULL,
	value bytea NOT NULL,
	PRIMARY KEY (ino, name)
);

CREATE TABLE host (
	host_id  integer PRIMARY KEY,
	name     text NOT NULL UNIQUE,
	addr     text NOT NULL,
	port     integer NOT NULL,
	capacity bigint NOT NULL DEFAULT 0,
	free     bigint NOT NULL DEFAULT 0
);

-- Where each file's data lives: gfsd host_id holds spool file ino-gen.
CREATE TABLE replica (
	ino     bigint NOT NULL,
	host_id integer NOT NULL,
	gen     bigint NOT NULL,
	PRIMARY KEY (ino, host_id)
);
CREATE INDEX replica_host ON replica (host_id);

-- Replicas of removed files that their gfsd has not yet reported deleted.
CREATE TABLE dead_replica (
	host_id integer NOT NULL,
	ino     bigint NOT NULL,
	gen     bigint NOT NULL,
	PRIMARY KEY (host_id, ino, gen)
);

CREATE TABLE users (
	uid  bigint PRIMARY KEY,
	name text NOT NULL UNIQUE
);

CREATE TABLE groups (
	gid  bigint PRIMARY KEY,
	name text NOT NULL UNIQUE
);

-- Counters that must never go back, e.g. next_ino: inode numbers are never
-- reused, so a late deletion of replica ino-gen cannot hit a newer file.
CREATE TABLE counter (
	name  text PRIMARY KEY,
	value bigint NOT NULL
);
