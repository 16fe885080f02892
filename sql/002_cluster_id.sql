-- The cluster's identity: one row, made by gfmd at its first start
-- (gf_store_cluster_id in gfmd/store_pg.c) and handed to every gfsd at
-- registration. A gfsd keeps it in SPOOL/cluster_id and refuses to serve a
-- spool that belongs to another cluster: inode numbers mean nothing across
-- clusters, so another gfmd's dead-replica list would delete live data.

CREATE TABLE cluster (
	one boolean PRIMARY KEY DEFAULT true CHECK (one),   -- at most one row
	id  uuid NOT NULL
);
