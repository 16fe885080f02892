/*
 * check_proto.c — frame header and message codecs (proto.h).
 *
 * Every message type is in the codec table below with a sample holding
 * non-trivial values; loop tests run each of them through a round trip,
 * every truncation and trailing garbage, and ~20,000 fixed-seed random
 * mutations. Named tests then cover each malformed case a peer could send.
 * `check_proto --corpus DIR` writes the samples as seeds for
 * tests/fuzz/fuzz_proto.
 */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

/* Wire sizes used to build malformed payloads by hand. */
#define ATTR_WIRE (8 + 4 * 4 + 8 * 4 + 12 * 3)
#define DIRS_EMPTY_WIRE 3 /* gfm_dirs with nothing in it */
#define DIRENT_MIN_WIRE (8 + 4 + ATTR_WIRE)
#define HOST_INFO_MIN_WIRE (4 + 4 + 4 + 2 + 1 + 8 + 8 + 4 + 8 + 8 + 1 + 8 + 8)
#define REPLICA_MIN_WIRE (4 + 8 + 8 + 2 + 4 + 4)

static uint8_t blob[8192]; /* payload bytes for data-carrying samples */

static void fill_blob(void)
{
	for (size_t i = 0; i < sizeof(blob); i++)
		blob[i] = (uint8_t)(i * 37 + 11);
}

static void fill_cred(struct gf_cred *c)
{
	static const uint32_t g[] = { 100, 4, 24, 27, 1001, 0xfffffffe };
	c->uid = 1000;
	c->gid = 100;
	c->ngroups = sizeof(g) / sizeof(g[0]);
	memcpy(c->groups, g, sizeof(g));
}

static void fill_attr(struct gf_attr *a, uint64_t ino)
{
	a->ino = ino;
	a->mode = 0100644;
	a->nlink = 3;
	a->uid = 1000;
	a->gid = 4294967294u;
	a->size = 0x123456789abcull;
	a->rdev = 0x0801;
	a->gen = 0xfedcba9876543210ull;
	a->blocks = 0x1234567ull;
	a->atime = (struct gf_timespec){ -5, 999999999 };
	a->mtime = (struct gf_timespec){ 1700000000, 123456789 };
	a->ctime = (struct gf_timespec){ INT64_MAX, 0 };
}

static void long_name(char *dst, size_t n, char c)
{
	memset(dst, c, n);
	dst[n] = '\0';
}

/* ---- samples: one per message ------------------------------------------------ */

static void fill_gf_msg_hello(void *p)
{
	struct gf_msg_hello *m = p;
	for (int i = 0; i < GF_NONCE_LEN; i++)
		m->nonce[i] = (uint8_t)(i * 7 + 1);
}

static void fill_gf_msg_auth(void *p)
{
	struct gf_msg_auth *m = p;
	for (int i = 0; i < GF_NONCE_LEN; i++)
		m->nonce[i] = (uint8_t)(255 - i);
	for (int i = 0; i < GF_MAC_LEN; i++)
		m->mac[i] = (uint8_t)(i * 13);
	m->peer_kind = GF_PEER_GFSD;
	strcpy(m->host, "node-03.example.org");
}

static void fill_gf_msg_auth_ok(void *p)
{
	struct gf_msg_auth_ok *m = p;
	for (int i = 0; i < GF_MAC_LEN; i++)
		m->mac[i] = (uint8_t)(i ^ 0x5a);
}

static void fill_gfm_name_req(void *p)
{
	struct gfm_name_req *m = p;
	fill_cred(&m->cred);
	m->parent = 0x123456789ull;
	strcpy(m->name, "r\xc3\xa9sum\xc3\xa9.txt");
}

static void fill_gfm_ino_req(void *p)
{
	struct gfm_ino_req *m = p;
	fill_cred(&m->cred);
	m->ino = 0xfffffffffffffffeull;
}

static void fill_gfm_dir_lease_req(void *p)
{
	struct gfm_dir_lease_req *m = p;
	fill_cred(&m->cred);
	m->client = 0x0123456789abcdefull;
	m->dir = 77;
	m->renew = 0xfedcba9876543210ull;
}

static const char lease_names[] = "a\0r\xc3\xa9sum\xc3\xa9.txt\0.hidden";
static void fill_gfm_dir_lease_rep(void *p)
{
	struct gfm_dir_lease_rep *m = p;
	m->gen = 5;
	m->term_ms = 2000;
	m->count = 3;
	m->names_len = sizeof(lease_names);
	m->names = lease_names;
}

static void fill_gfm_lease_poll_req(void *p)
{
	struct gfm_lease_poll_req *m = p;
	m->client = 9;
	m->n = 3;
	for (uint32_t i = 0; i < m->n; i++)
		m->refs[i] = (struct gfm_lease_ref){ .dir = 100 + i, .gen = 1ull << (60 - i) };
}

static void fill_gfm_lease_poll_rep(void *p)
{
	struct gfm_lease_poll_rep *m = p;
	m->n = GF_LEASE_POLL_MAX;
	for (uint32_t i = 0; i < m->n; i++)
		m->refs[i] = (struct gfm_lease_ref){ .dir = i, .gen = i + 1 };
}

static void fill_dirs(struct gfm_dirs *d, int n)
{
	d->n = (uint8_t)n;
	for (int i = 0; i < n; i++) {
		fill_attr(&d->attr[i], 100 + i);
		d->attr[i].mode = 040755;
	}
	d->nforget = GFM_DIRS_FORGET_MAX;
	for (int i = 0; i < GFM_DIRS_FORGET_MAX; i++)
		d->forget[i] = 0xfffffffffffff000ull + (uint64_t)i;
	d->forget_all = 1;
}

static void fill_gfm_attr_rep(void *p)
{
	struct gfm_attr_rep *m = p;
	fill_attr(&m->attr, 42);
	fill_dirs(&m->dirs, 1);
}

static void fill_gfm_dirs_rep(void *p)
{
	struct gfm_dirs_rep *m = p;
	fill_dirs(&m->dirs, GFM_DIRS_MAX);
}

static void fill_gfm_setattr_req(void *p)
{
	struct gfm_setattr_req *m = p;
	fill_cred(&m->cred);
	m->ino = 812;
	m->valid = GF_SET_MODE | GF_SET_SIZE | GF_SET_MTIME | GF_SET_ATIME_NOW;
	m->mode = 0100600;
	m->uid = 1001;
	m->gid = 1002;
	m->size = 1ull << 40;
	m->atime = (struct gf_timespec){ -1, 0 };
	m->mtime = (struct gf_timespec){ 1700000000, 999999999 };
	m->ctime = (struct gf_timespec){ 0, 1 };
}

static void fill_gfm_mknod_req(void *p)
{
	struct gfm_mknod_req *m = p;
	fill_cred(&m->cred);
	m->parent = GF_ROOT_INO;
	strcpy(m->name, "fifo");
	m->mode = 010640;
	m->rdev = 0x0801;
}

static void fill_gfm_create_req(void *p)
{
	struct gfm_create_req *m = p;
	fill_cred(&m->cred);
	m->parent = 99;
	long_name(m->name, GF_NAME_MAX, 'n'); /* longest legal name */
	m->mode = 0100600;
	m->flags = 0xc1;
}

static void fill_gfm_open_rep(void *p)
{
	struct gfm_open_rep *m = p;
	fill_attr(&m->attr, 7);
	fill_dirs(&m->dirs, 2);
	m->nreplicas = 3;
	for (uint32_t i = 0; i < 3; i++) {
		struct gf_replica *r = &m->replicas[i];
		r->host_id = 10 + i;
		r->gen = 1000 + i;
		r->fgen = 0xfffffff0ull + i;
		r->port = (uint16_t)(6601 + i);
		snprintf(r->host, sizeof(r->host), "gfsd%u.example", i);
		snprintf(r->addr, sizeof(r->addr), "fe80::%u", i + 1);
	}
	long_name(m->replicas[2].host, GF_HOST_MAX, 'h');
	m->writers = 2;
}

static void fill_gfm_rename_req(void *p)
{
	struct gfm_rename_req *m = p;
	fill_cred(&m->cred);
	m->parent = 5;
	strcpy(m->name, "a");
	m->newparent = 6;
	strcpy(m->newname, "b c");
	m->flags = 1;
}

static void fill_gfm_link_req(void *p)
{
	struct gfm_link_req *m = p;
	fill_cred(&m->cred);
	m->ino = 1234;
	m->newparent = 4321;
	strcpy(m->newname, "hardlink");
}

static void fill_gfm_symlink_req(void *p)
{
	struct gfm_symlink_req *m = p;
	fill_cred(&m->cred);
	m->parent = 2;
	strcpy(m->name, "lnk");
	long_name(m->target, GF_PATH_MAX - 1, 'x'); /* longest target */
	for (int i = 0; i < GF_PATH_MAX - 1; i += 10)
		m->target[i] = '/';
}

static void fill_gfm_readlink_rep(void *p)
{
	struct gfm_readlink_rep *m = p;
	strcpy(m->target, "../x/y z");
}

static void fill_gfm_readdir_req(void *p)
{
	struct gfm_readdir_req *m = p;
	fill_cred(&m->cred);
	m->ino = 77;
	m->cookie = 0x1122334455667788ull;
	m->max = GF_READDIR_MAX;
}

static void fill_gfm_readdir_rep(void *p)
{
	struct gfm_readdir_rep *m = p;
	m->count = 3;
	m->eof = 1;
	m->ents = calloc(3, sizeof(*m->ents));
	ck_assert_ptr_nonnull(m->ents);
	for (uint32_t i = 0; i < 3; i++) {
		m->ents[i].cookie = 100 + i;
		snprintf(m->ents[i].name, sizeof(m->ents[i].name), "entry-%u", i);
		fill_attr(&m->ents[i].attr, 500 + i);
	}
}

static void fill_gfm_open_req(void *p)
{
	struct gfm_open_req *m = p;
	fill_cred(&m->cred);
	m->ino = 88;
	m->flags = 02 | 01000;
}

static void fill_gfm_close_write_req(void *p)
{
	struct gfm_close_write_req *m = p;
	fill_cred(&m->cred);
	m->ino = 88;
	m->fgen = 3;
	m->end = 987654321;
	m->mtime = (struct gf_timespec){ 1700000001, 500 };
	m->flags = GF_CW_MTIME | GF_CW_BLOCKS;
	m->blocks = 1ull << 35;
}

static void fill_gfm_statfs_rep(void *p)
{
	struct gfm_statfs_rep *m = p;
	m->bsize = 4096;
	m->blocks = 1ull << 33;
	m->bfree = 1ull << 32;
	m->bavail = (1ull << 32) - 5;
	m->files = 1000000;
	m->ffree = 999000;
	m->namemax = GF_NAME_MAX;
}

static void fill_gfm_xattr_req(void *p)
{
	struct gfm_xattr_req *m = p;
	fill_cred(&m->cred);
	m->ino = 9;
	strcpy(m->name, "user.comment");
	m->flags = 1;
	m->size = 0;
	m->value = (const uint8_t *)"hello\0world";
	m->value_len = 11;
}

static void fill_gfm_xattr_rep(void *p)
{
	struct gfm_xattr_rep *m = p;
	m->len = 300;
	m->data_len = 300;
	m->data = blob;
}

static void fill_gfm_access_req(void *p)
{
	struct gfm_access_req *m = p;
	fill_cred(&m->cred);
	m->ino = 1;
	m->mask = 7;
}

static void fill_gfm_host_register_req(void *p)
{
	struct gfm_host_register_req *m = p;
	strcpy(m->name, "node-01");
	strcpy(m->addr, "192.168.10.21");
	m->port = 6601;
	m->capacity = 1ull << 41;
	m->free = (1ull << 40) + 17;
}

static void fill_gfm_host_register_rep(void *p)
{
	struct gfm_host_register_rep *m = p;
	m->host_id = 7;
	m->heartbeat_ms = 1000;
	for (int i = 0; i < GF_CLUSTER_ID_LEN; i++)
		m->cluster_id[i] = (uint8_t)(0xa0 + i * 7);
}

static void fill_gfm_heartbeat_req(void *p)
{
	struct gfm_heartbeat_req *m = p;
	m->host_id = 7;
	m->capacity = 1ull << 41;
	m->free = 12345;
	m->load_milli = 2500;
	m->ndone = 5;
	for (uint32_t i = 0; i < 5; i++)
		m->done[i] = (struct gf_dead_replica){ 1000 + i, 1 + i };
	m->nbad = GF_MAX_BAD;
	for (uint32_t i = 0; i < GF_MAX_BAD; i++)
		m->bad[i] = (struct gf_dead_replica){ 77 + i, (1ull << 63) | i };
}

static void fill_gfm_heartbeat_rep(void *p)
{
	struct gfm_heartbeat_rep *m = p;
	m->ndead = GF_MAX_DEAD;
	for (uint32_t i = 0; i < GF_MAX_DEAD; i++)
		m->dead[i] = (struct gf_dead_replica){ 0xab00000000ull + i, i * 3 };
}

static void fill_gfm_host_list_rep(void *p)
{
	struct gfm_host_list_rep *m = p;
	m->count = 3;
	m->hosts = calloc(3, sizeof(*m->hosts));
	ck_assert_ptr_nonnull(m->hosts);
	for (uint32_t i = 0; i < 3; i++) {
		struct gf_host_info *h = &m->hosts[i];
		h->host_id = i + 1;
		snprintf(h->name, sizeof(h->name), "node-%02u", i + 1);
		snprintf(h->addr, sizeof(h->addr), "10.0.0.%u", i + 11);
		h->port = 6601;
		h->up = i != 1;
		h->capacity = (1ull << 40) * (i + 1);
		h->free = (1ull << 39) * (i + 1);
		h->load_milli = 150 * i;
		h->last_seen = 1700000000 + i;
		h->nreplicas = 100000 * i;
		h->draining = i == 2;
	}
}

static void fill_gfm_idmap_list_rep(void *p)
{
	struct gfm_idmap_list_rep *m = p;
	m->count = 4;
	m->ents = calloc(4, sizeof(*m->ents));
	ck_assert_ptr_nonnull(m->ents);
	m->ents[0] = (struct gf_idmap_ent){ GF_IDMAP_USER, 5001, "alice" };
	m->ents[1] = (struct gf_idmap_ent){ GF_IDMAP_USER, 0xfffffffeu, "" };
	long_name(m->ents[1].name, GF_IDMAP_NAME_MAX, 'u');
	m->ents[2] = (struct gf_idmap_ent){ GF_IDMAP_GROUP, 7000, "staff.x_y-z" };
	m->ents[3] = (struct gf_idmap_ent){ GF_IDMAP_GROUP, 1, "g" };
}

static void fill_gfm_idmap_set_req(void *p)
{
	struct gfm_idmap_set_req *m = p;
	fill_cred(&m->cred);
	m->kind = GF_IDMAP_GROUP;
	m->replace = 1;
	m->id = 0x89abcdefu;
	long_name(m->name, GF_IDMAP_NAME_MAX, 'n');
}

static void fill_gfm_idmap_del_req(void *p)
{
	struct gfm_idmap_del_req *m = p;
	fill_cred(&m->cred);
	m->kind = GF_IDMAP_USER;
	strcpy(m->name, "bob");
}

static void fill_gfm_replicate_req(void *p)
{
	struct gfm_replicate_req *m = p;
	fill_cred(&m->cred);
	m->ino = 0x123456789ull;
	m->dst_host = 7;
	m->src_host = 0xfffffffeu;
	m->flags = GF_REP_KEEP;
}

static void fill_gfm_replicate_rep(void *p)
{
	struct gfm_replicate_rep *m = p;
	m->host_id = 3;
	m->bytes = 1ull << 41;
}

static void fill_gfm_replica_drop_req(void *p)
{
	struct gfm_replica_drop_req *m = p;
	fill_cred(&m->cred);
	m->ino = 99;
	m->host_id = 4;
	m->keep = 2;
}

static void fill_gfs_replicate_req(void *p)
{
	struct gfs_replicate_req *m = p;
	m->ino = 0xabcdef;
	m->fgen = (1ull << 63) | 5;
	m->src_fgen = 3;
	m->size = (1ull << 33) + 1;
	long_name(m->src_addr, GF_HOST_MAX, 'a');
	m->src_port = 6601;
	m->flags = GFS_REP_FOLLOW;
}

static void fill_gfs_replicate_rep(void *p)
{
	struct gfs_replicate_rep *m = p;
	m->bytes = 12345;
}

static void fill_gfm_host_drain_req(void *p)
{
	struct gfm_host_drain_req *m = p;
	fill_cred(&m->cred);
	m->host_id = 12;
	m->on = 1;
}

static void fill_gfs_list_req(void *p)
{
	struct gfs_list_req *m = p;
	m->after_ino = 77;
	m->after_fgen = 1ull << 63;
	m->max = GFS_LIST_MAX;
}

static void fill_gfs_list_rep(void *p)
{
	struct gfs_list_rep *m = p;
	m->count = 3;
	m->eof = 1;
	m->ents = calloc(3, sizeof(*m->ents));
	ck_assert_ptr_nonnull(m->ents);
	for (uint32_t i = 0; i < 3; i++)
		m->ents[i] = (struct gfs_list_ent){ 10 + i, (1ull << 63) | i, 1ull << (i * 20) };
}

static void fini_gfs_list(void *p)
{
	gfs_list_rep_free(p);
}

static void fill_gfs_sums_req(void *p)
{
	struct gfs_sums_req *m = p;
	m->handle = 0x1234567800000003ull;
	m->first = 1ull << 33;
	m->count = GFS_SUMS_MAX;
}

static void fill_gfs_sums_rep(void *p)
{
	struct gfs_sums_rep *m = p;
	m->sealed = 1;
	m->pending = 1;
	m->block = 65536;
	m->size = (1ull << 40) + 5;
	m->first = 16;
	m->count = 4;
	m->sums = calloc(4, sizeof(*m->sums));
	ck_assert_ptr_nonnull(m->sums);
	for (uint32_t i = 0; i < 4; i++)
		m->sums[i] = 0x9E3779B97F4A7C15ull * (i + 1);
}

static void fini_gfs_sums(void *p)
{
	gfs_sums_rep_free(p);
}

static void fill_gfs_verify_req(void *p)
{
	struct gfs_verify_req *m = p;
	m->ino = 99;
	m->fgen = (1ull << 63) | 12;
	m->flags = GFS_VERIFY_SEAL;
}

static void fill_gfs_verify_rep(void *p)
{
	struct gfs_verify_rep *m = p;
	m->state = GFS_VERIFY_CORRUPT;
	m->size = 1ull << 36;
	m->bad_block = 1ull << 20;
}

static void fill_gfs_page_put_req(void *p)
{
	struct gfs_page_put_req *m = p;
	m->owner = 0xC0FFEE0000000001ull;
	m->slot = 1ull << 33;
	m->stamp = (1ull << 52) + 7;
	m->npages = 2;
	m->data = blob;
}

static void fill_gfs_page_punt_req(void *p)
{
	struct gfs_page_punt_req *m = p;
	snprintf(m->owner_host, sizeof(m->owner_host), "node-1.example");
	fill_gfs_page_put_req(&m->put);
}

static void fill_gfs_page_get_req(void *p)
{
	struct gfs_page_get_req *m = p;
	m->owner = 0xC0FFEE0000000001ull;
	m->slot = 77;
	m->npages = GF_PAGE_BATCH;
}

static void fill_gfs_page_get_rep(void *p)
{
	struct gfs_page_get_rep *m = p;
	m->npages = 2;
	m->stamps[0] = 5;
	m->stamps[1] = 0; /* not held */
	m->data = blob;
}

static void fill_gfs_page_inval_req(void *p)
{
	struct gfs_page_inval_req *m = p;
	m->owner = 3;
	m->slot = 4096;
	m->npages = GF_PAGE_INVAL_MAX;
	m->stamp = ~0ull;
}

static void fill_gfs_page_inval_rep(void *p)
{
	struct gfs_page_inval_rep *m = p;
	m->dropped = 255;
}

static void fill_gfs_page_stats_rep(void *p)
{
	struct gfs_page_stats_rep *m = p;
	uint64_t *v = &m->total;
	for (int i = 0; i < 17; i++)
		v[i] = (uint64_t)i * 1000003 + 1;
}

static void fill_gfs_page_updates_req(void *p)
{
	struct gfs_page_updates_req *m = p;
	m->owner = 11;
	m->max = GFS_PAGE_UPDATES_MAX;
}

static void fill_gfs_page_updates_rep(void *p)
{
	struct gfs_page_updates_rep *m = p;
	m->count = 2;
	m->moves = calloc(2, sizeof(*m->moves));
	ck_assert_ptr_nonnull(m->moves);
	m->moves[0] = (struct gfs_page_move){ .slot = 9, .stamp = 99, .hops = 1 };
	snprintf(m->moves[0].host, sizeof(m->moves[0].host), "node-7");
	m->moves[1] = (struct gfs_page_move){ .slot = 10, .stamp = 99, .hops = 2 }; /* dropped */
}

static void fini_page_updates(void *p)
{
	gfs_page_updates_rep_free(p);
}

static void fill_gfs_page_cap_req(void *p)
{
	struct gfs_page_cap_req *m = p;
	m->pages = UINT64_MAX;
}

static void fill_gfs_open_req(void *p)
{
	struct gfs_open_req *m = p;
	m->ino = 812;
	m->gen = 3;
	m->flags = GFS_O_READ | GFS_O_WRITE | GFS_O_WANT_FD;
}

static void fill_gfs_open_rep(void *p)
{
	struct gfs_open_rep *m = p;
	m->handle = 0xdeadbeefcafef00dull;
	m->size = 1ull << 35;
	m->fd_passed = 1;
}

static void fill_gfs_read_req(void *p)
{
	struct gfs_read_req *m = p;
	m->handle = 17;
	m->offset = (1ull << 40) + 3;
	m->len = GF_MAX_IO;
}

static void fill_gfs_read_rep(void *p)
{
	struct gfs_read_rep *m = p;
	m->len = sizeof(blob);
	m->data = blob;
}

static void fill_gfs_write_req(void *p)
{
	struct gfs_write_req *m = p;
	m->handle = 18;
	m->offset = 4096;
	m->len = 1000;
	m->data = blob + 5;
}

static void fill_gfs_write_rep(void *p)
{
	struct gfs_write_rep *m = p;
	m->written = 1000;
	m->end = (1ull << 40) + 1000;
}

static void fill_gfs_truncate_req(void *p)
{
	struct gfs_truncate_req *m = p;
	m->handle = 19;
	m->size = 1ull << 50;
}

static void fill_gfs_handle_req(void *p)
{
	struct gfs_handle_req *m = p;
	m->handle = UINT64_MAX;
}

static void fill_gfs_close_req(void *p)
{
	struct gfs_close_req *m = p;
	m->handle = 20;
	m->local_read = 1ull << 33;
	m->local_written = 12345;
}

static void fill_gfs_stats_rep(void *p)
{
	struct gfs_stats_rep *m = p;
	m->read_local = 1;
	m->read_remote = 2ull << 40;
	m->written_local = 3;
	m->written_remote = 4ull << 40;
	m->fds_passed = 5;
	m->open_handles = 6;
	m->capacity = 7ull << 40;
	m->free = 8ull << 39;
	m->heartbeats = 9;
	m->dead_removed = 10;
	m->orphans_removed = 11;
	m->writers_cut = 12;
	m->sealing = 13;
}

static void fill_gfm_once_req(void *p)
{
	struct gfm_once_req *m = p;
	m->client = 0xfedcba9876543210ull;
	m->seq = (1ull << 40) + 7;
	m->acked = (1ull << 40) + 3;
	m->op = GFM_MKDIR;
	m->len = 300;
	m->payload = blob + 11;
}

static void fill_gfm_lock_req(void *p)
{
	struct gfm_lock_req *m = p;
	fill_cred(&m->cred);
	m->ino = 0x1234567890ull;
	m->client = 0xfedcba9876543210ull;
	m->owner = 0x8000000000000001ull;
	m->pid = 4242;
	m->kind = GF_LK_POSIX;
	m->type = GF_LK_WRLCK;
	m->cmd = GF_LK_SETW;
	m->start = 4096;
	m->end = UINT64_MAX;
}

static void fill_gfm_lock_rep(void *p)
{
	struct gfm_lock_rep *m = p;
	m->type = GF_LK_RDLCK;
	m->flags = GF_LKR_OTHERS;
	m->pid = 77;
	m->start = 10;
	m->end = 1ull << 40;
}

static void fill_gfs_fallocate_req(void *p)
{
	struct gfs_fallocate_req *m = p;
	m->handle = 0x1122334455667788ull;
	m->mode = GF_FALLOC_PUNCH_HOLE | GF_FALLOC_KEEP_SIZE;
	m->offset = 1ull << 33;
	m->length = 65536;
}

static void fill_gfs_seek_req(void *p)
{
	struct gfs_seek_req *m = p;
	m->handle = 42;
	m->offset = (1ull << 40) + 3;
	m->whence = GF_SEEK_HOLE;
}

static void fill_gfs_seek_rep(void *p)
{
	struct gfs_seek_rep *m = p;
	m->offset = (1ull << 41) + 5;
}

static void fill_gfs_fstat_rep(void *p)
{
	struct gfs_fstat_rep *m = p;
	m->size = 1ull << 30;
	m->blocks = 2048;
}

static void fill_gfm_host_replicas_req(void *p)
{
	struct gfm_host_replicas_req *m = p;
	m->host_id = 7;
	m->after = 0xfffffffffffffff0ull;
	m->max = GF_HOST_REPLICAS_MAX;
}

static void fill_gfm_host_replicas_rep(void *p)
{
	struct gfm_host_replicas_rep *m = p;
	m->count = 5;
	m->eof = 1;
	m->ents = calloc(5, sizeof(*m->ents));
	ck_assert_ptr_nonnull(m->ents);
	for (uint32_t i = 0; i < 5; i++)
		m->ents[i] = (struct gf_dead_replica){ 100 + i * 1000, 1ull << (i * 10) };
}

static void fini_host_replicas(void *p)
{
	gfm_host_replicas_rep_free(p);
}

static void fini_readdir(void *p)
{
	gfm_readdir_rep_free(p);
}

static void fini_host_list(void *p)
{
	gfm_host_list_rep_free(p);
}

static void fini_idmap_list(void *p)
{
	gfm_idmap_list_rep_free(p);
}

/* ---- the codec table ------------------------------------------------------------ */

struct codec {
	const char *name;
	size_t size;
	int has_ptr; /* pointers inside: compare by re-encoding only */
	void (*fill)(void *m);
	void (*enc)(struct gf_wbuf *w, const void *m);
	int (*dec)(const void *p, size_t n, void *m);
	void (*fini)(void *m); /* frees what fill or decode allocated */
};

#define WRAP(T)                                                           \
	static void enc_##T(struct gf_wbuf *w, const void *m)             \
	{                                                                 \
		T##_encode(w, m);                                         \
	}                                                                 \
	static int dec_##T(const void *p, size_t n, void *m)              \
	{                                                                 \
		return T##_decode(p, n, m);                               \
	}

WRAP(gf_msg_hello)
WRAP(gf_msg_auth)
WRAP(gf_msg_auth_ok)
WRAP(gfm_name_req)
WRAP(gfm_ino_req)
WRAP(gfm_dir_lease_req)
WRAP(gfm_dir_lease_rep)
WRAP(gfm_lease_poll_req)
WRAP(gfm_lease_poll_rep)
WRAP(gfm_replicate_req)
WRAP(gfm_replicate_rep)
WRAP(gfm_replica_drop_req)
WRAP(gfs_replicate_req)
WRAP(gfs_replicate_rep)
WRAP(gfm_host_drain_req)
WRAP(gfs_list_req)
WRAP(gfs_list_rep)
WRAP(gfs_sums_req)
WRAP(gfs_sums_rep)
WRAP(gfs_verify_req)
WRAP(gfs_verify_rep)
WRAP(gfs_page_put_req)
WRAP(gfs_page_punt_req)
WRAP(gfs_page_get_req)
WRAP(gfs_page_get_rep)
WRAP(gfs_page_inval_req)
WRAP(gfs_page_inval_rep)
WRAP(gfs_page_stats_rep)
WRAP(gfs_page_updates_req)
WRAP(gfs_page_updates_rep)
WRAP(gfs_page_cap_req)
WRAP(gfm_dirs_rep)
WRAP(gfm_attr_rep)
WRAP(gfm_setattr_req)
WRAP(gfm_mknod_req)
WRAP(gfm_create_req)
WRAP(gfm_open_rep)
WRAP(gfm_rename_req)
WRAP(gfm_link_req)
WRAP(gfm_symlink_req)
WRAP(gfm_readlink_rep)
WRAP(gfm_readdir_req)
WRAP(gfm_readdir_rep)
WRAP(gfm_open_req)
WRAP(gfm_close_write_req)
WRAP(gfm_statfs_rep)
WRAP(gfm_xattr_req)
WRAP(gfm_xattr_rep)
WRAP(gfm_access_req)
WRAP(gfm_host_register_req)
WRAP(gfm_host_register_rep)
WRAP(gfm_heartbeat_req)
WRAP(gfm_heartbeat_rep)
WRAP(gfm_host_list_rep)
WRAP(gfm_host_replicas_req)
WRAP(gfm_host_replicas_rep)
WRAP(gfm_idmap_list_rep)
WRAP(gfm_idmap_set_req)
WRAP(gfm_idmap_del_req)
WRAP(gfs_open_req)
WRAP(gfs_open_rep)
WRAP(gfs_read_req)
WRAP(gfs_read_rep)
WRAP(gfs_write_req)
WRAP(gfs_write_rep)
WRAP(gfs_truncate_req)
WRAP(gfs_handle_req)
WRAP(gfs_close_req)
WRAP(gfs_stats_rep)
WRAP(gfm_once_req)
WRAP(gfm_lock_req)
WRAP(gfm_lock_rep)
WRAP(gfs_fallocate_req)
WRAP(gfs_seek_req)
WRAP(gfs_seek_rep)
WRAP(gfs_fstat_rep)

#define ENTRY(T, ptr, fini) \
	{ #T, sizeof(struct T), ptr, fill_##T, enc_##T, dec_##T, fini }

static const struct codec codecs[] = {
	ENTRY(gf_msg_hello, 0, NULL),
	ENTRY(gf_msg_auth, 0, NULL),
	ENTRY(gf_msg_auth_ok, 0, NULL),
	ENTRY(gfm_name_req, 0, NULL),
	ENTRY(gfm_ino_req, 0, NULL),
	ENTRY(gfm_dir_lease_req, 0, NULL),
	ENTRY(gfm_dir_lease_rep, 1, NULL),
	ENTRY(gfm_lease_poll_req, 0, NULL),
	ENTRY(gfm_lease_poll_rep, 0, NULL),
	ENTRY(gfm_attr_rep, 0, NULL),
	ENTRY(gfm_setattr_req, 0, NULL),
	ENTRY(gfm_mknod_req, 0, NULL),
	ENTRY(gfm_create_req, 0, NULL),
	ENTRY(gfm_open_rep, 0, NULL),
	ENTRY(gfm_rename_req, 0, NULL),
	ENTRY(gfm_link_req, 0, NULL),
	ENTRY(gfm_symlink_req, 0, NULL),
	ENTRY(gfm_readlink_rep, 0, NULL),
	ENTRY(gfm_readdir_req, 0, NULL),
	ENTRY(gfm_readdir_rep, 1, fini_readdir),
	ENTRY(gfm_open_req, 0, NULL),
	ENTRY(gfm_close_write_req, 0, NULL),
	ENTRY(gfm_statfs_rep, 0, NULL),
	ENTRY(gfm_xattr_req, 1, NULL),
	ENTRY(gfm_xattr_rep, 1, NULL),
	ENTRY(gfm_access_req, 0, NULL),
	ENTRY(gfm_host_register_req, 0, NULL),
	ENTRY(gfm_host_register_rep, 0, NULL),
	ENTRY(gfm_heartbeat_req, 0, NULL),
	ENTRY(gfm_heartbeat_rep, 0, NULL),
	ENTRY(gfm_host_list_rep, 1, fini_host_list),
	ENTRY(gfm_host_replicas_req, 0, NULL),
	ENTRY(gfm_host_replicas_rep, 1, fini_host_replicas),
	ENTRY(gfm_idmap_list_rep, 1, fini_idmap_list),
	ENTRY(gfm_idmap_set_req, 0, NULL),
	ENTRY(gfm_idmap_del_req, 0, NULL),
	ENTRY(gfs_open_req, 0, NULL),
	ENTRY(gfs_open_rep, 0, NULL),
	ENTRY(gfs_read_req, 0, NULL),
	ENTRY(gfs_read_rep, 1, NULL),
	ENTRY(gfs_write_req, 1, NULL),
	ENTRY(gfs_write_rep, 0, NULL),
	ENTRY(gfs_truncate_req, 0, NULL),
	ENTRY(gfs_handle_req, 0, NULL),
	ENTRY(gfs_close_req, 0, NULL),
	ENTRY(gfs_stats_rep, 0, NULL),
	ENTRY(gfm_once_req, 1, NULL),
	ENTRY(gfm_lock_req, 0, NULL),
	ENTRY(gfm_lock_rep, 0, NULL),
	ENTRY(gfs_fallocate_req, 0, NULL),
	ENTRY(gfs_seek_req, 0, NULL),
	ENTRY(gfs_seek_rep, 0, NULL),
	ENTRY(gfs_fstat_rep, 0, NULL),
	ENTRY(gfm_replicate_req, 0, NULL),
	ENTRY(gfm_replicate_rep, 0, NULL),
	ENTRY(gfm_replica_drop_req, 0, NULL),
	ENTRY(gfs_replicate_req, 0, NULL),
	ENTRY(gfs_replicate_rep, 0, NULL),
	ENTRY(gfm_host_drain_req, 0, NULL),
	ENTRY(gfs_list_req, 0, NULL),
	ENTRY(gfs_list_rep, 1, fini_gfs_list),
	ENTRY(gfs_sums_req, 0, NULL),
	ENTRY(gfs_sums_rep, 1, fini_gfs_sums),
	ENTRY(gfs_verify_req, 0, NULL),
	ENTRY(gfs_verify_rep, 0, NULL),
	ENTRY(gfs_page_put_req, 1, NULL),
	ENTRY(gfs_page_get_req, 0, NULL),
	ENTRY(gfs_page_get_rep, 1, NULL),
	ENTRY(gfs_page_inval_req, 0, NULL),
	ENTRY(gfs_page_inval_rep, 0, NULL),
	ENTRY(gfs_page_stats_rep, 0, NULL),
	ENTRY(gfs_page_updates_req, 0, NULL),
	ENTRY(gfs_page_updates_rep, 1, fini_page_updates),
	ENTRY(gfs_page_cap_req, 0, NULL),
	ENTRY(gfm_dirs_rep, 0, NULL),
	ENTRY(gfs_page_punt_req, 1, NULL),
};
#define NCODECS ((int)(sizeof(codecs) / sizeof(codecs[0])))

/* Encode c's sample into w; returns the sample (caller frees via release). */
static void *encode_sample(const struct codec *c, struct gf_wbuf *w)
{
	void *m = calloc(1, c->size);
	ck_assert_ptr_nonnull(m);
	fill_blob();
	c->fill(m);
	gf_wbuf_init(w);
	c->enc(w, m);
	ck_assert_msg(w->err == 0, "%s: encode failed: %d", c->name, w->err);
	ck_assert_msg(w->len > 0, "%s: empty encoding", c->name);
	return m;
}

static void release(const struct codec *c, void *m)
{
	if (c->fini)
		c->fini(m);
	free(m);
}

/* A copy of exactly n bytes, so any read past the end is a heap overflow
 * that the sanitizers see. */
static uint8_t *exact_copy(const uint8_t *p, size_t n)
{
	uint8_t *q = malloc(n ? n : 1);
	ck_assert_ptr_nonnull(q);
	if (n)
		memcpy(q, p, n);
	return q;
}

START_TEST(test_roundtrip)
{
	const struct codec *c = &codecs[_i];
	struct gf_wbuf w1, w2;
	void *in = encode_sample(c, &w1);
	void *out = malloc(c->size);
	ck_assert_ptr_nonnull(out);
	memset(out, 0xa5, c->size); /* decoders must clear the struct */

	uint8_t *buf = exact_copy(w1.data, w1.len);
	int err = c->dec(buf, w1.len, out);
	ck_assert_msg(err == 0, "%s: decode of own encoding: %d", c->name, err);

	gf_wbuf_init(&w2);
	c->enc(&w2, out);
	ck_assert_int_eq(w2.err, 0);
	ck_assert_msg(w1.len == w2.len && memcmp(w1.data, w2.data, w1.len) == 0,
		      "%s: re-encoding differs", c->name);
	if (!c->has_ptr)
		ck_assert_msg(memcmp(in, out, c->size) == 0,
			      "%s: decoded struct differs", c->name);

	release(c, out);
	free(buf);
	release(c, in);
	gf_wbuf_free(&w1);
	gf_wbuf_free(&w2);
}
END_TEST

START_TEST(test_truncated_every_length)
{
	const struct codec *c = &codecs[_i];
	struct gf_wbuf w;
	void *in = encode_sample(c, &w);
	void *out = malloc(c->size);
	ck_assert_ptr_nonnull(out);

	for (size_t n = 0; n < w.len; n++) {
		uint8_t *buf = exact_copy(w.data, n);
		memset(out, 0xa5, c->size);
		int err = c->dec(buf, n, out);
		ck_assert_msg(err == -EBADMSG, "%s: truncated to %zu of %zu: %d",
			      c->name, n, w.len, err);
		if (c->fini)
			c->fini(out); /* pointers must be NULL: safe to free */
		free(buf);
	}
	free(out);
	release(c, in);
	gf_wbuf_free(&w);
}
END_TEST

START_TEST(test_trailing_garbage)
{
	const struct codec *c = &codecs[_i];
	struct gf_wbuf w;
	void *in = encode_sample(c, &w);
	void *out = malloc(c->size);
	ck_assert_ptr_nonnull(out);

	for (size_t extra = 1; extra <= 9; extra += 4) {
		uint8_t *buf = malloc(w.len + extra);
		ck_assert_ptr_nonnull(buf);
		memcpy(buf, w.data, w.len);
		memset(buf + w.len, 0, extra);
		memset(out, 0xa5, c->size);
		int err = c->dec(buf, w.len + extra, out);
		ck_assert_msg(err == -EBADMSG, "%s: %zu trailing bytes: %d",
			      c->name, extra, err);
		if (c->fini)
			c->fini(out);
		free(buf);
	}
	free(out);
	release(c, in);
	gf_wbuf_free(&w);
}
END_TEST

/* ---- header --------------------------------------------------------------------- */

START_TEST(test_hdr_roundtrip)
{
	struct gf_hdr h = { 1234, GF_PROTO_VERSION, GFS_READ | GF_OP_REPLY,
			    0xa1b2c3d4, -ENOENT };
	uint8_t b[GF_HDR_SIZE];
	gf_hdr_encode(&h, b);
	static const uint8_t want[GF_HDR_SIZE] = {
		0, 0, 0x04, 0xd2, 0, GF_PROTO_VERSION, 0x81, 0x2d,
		0xa1, 0xb2, 0xc3, 0xd4, 0xff, 0xff, 0xff, 0xfe,
	};
	ck_assert_mem_eq(b, want, GF_HDR_SIZE);

	struct gf_hdr g;
	ck_assert_int_eq(gf_hdr_decode(b, &g), 0);
	ck_assert_uint_eq(g.len, 1234);
	ck_assert_uint_eq(g.version, GF_PROTO_VERSION);
	ck_assert_uint_eq(g.op, GFS_READ | GF_OP_REPLY);
	ck_assert_uint_eq(g.reqid, 0xa1b2c3d4);
	ck_assert_int_eq(g.status, -ENOENT);
}
END_TEST

START_TEST(test_hdr_bad)
{
	struct gf_hdr h = { 0, GF_PROTO_VERSION, GFM_LOOKUP, 1, 0 }, g;
	uint8_t b[GF_HDR_SIZE];

	h.len = GF_MAX_PAYLOAD;
	gf_hdr_encode(&h, b);
	ck_assert_int_eq(gf_hdr_decode(b, &g), 0);

	h.len = GF_MAX_PAYLOAD + 1;
	gf_hdr_encode(&h, b);
	ck_assert_int_eq(gf_hdr_decode(b, &g), -EMSGSIZE);

	h.len = UINT32_MAX;
	gf_hdr_encode(&h, b);
	ck_assert_int_eq(gf_hdr_decode(b, &g), -EMSGSIZE);

	h.len = 0;
	h.version = GF_PROTO_VERSION + 1;
	gf_hdr_encode(&h, b);
	ck_assert_int_eq(gf_hdr_decode(b, &g), -EPROTO);

	h.version = 0;
	gf_hdr_encode(&h, b);
	ck_assert_int_eq(gf_hdr_decode(b, &g), -EPROTO);

	/* A stray HTTP request is not a frame. */
	memcpy(b, "GET / HTTP/1.1\r\n", GF_HDR_SIZE);
	ck_assert_int_lt(gf_hdr_decode(b, &g), 0);
}
END_TEST

START_TEST(test_op_name)
{
	ck_assert_str_eq(gf_op_name(GFM_LOOKUP), "GFM_LOOKUP");
	ck_assert_str_eq(gf_op_name(GF_OP_HELLO), "GF_OP_HELLO");
	ck_assert_str_eq(gf_op_name(GFM_ACCESS), "GFM_ACCESS");
	ck_assert_int_eq(GFM_REPLICAS, 121); /* wire value: never renumber */
	ck_assert_str_eq(gf_op_name(GFM_REPLICAS), "GFM_REPLICAS");
	ck_assert_str_eq(gf_op_name(GFM_REPLICAS | GF_OP_REPLY), "reply to GFM_REPLICAS");
	ck_assert_int_eq(GFM_ONCE, 190);
	ck_assert_str_eq(gf_op_name(GFM_ONCE), "GFM_ONCE");
	ck_assert_int_eq(GFS_O_RECLAIM, 32);
	ck_assert_str_eq(gf_op_name(GFM_HOST_LIST), "GFM_HOST_LIST");
	ck_assert_str_eq(gf_op_name(GFS_STATS), "GFS_STATS");
	ck_assert_str_eq(gf_op_name(GFS_READ | GF_OP_REPLY), "reply to GFS_READ");
	ck_assert_ptr_nonnull(gf_op_name(0));
	ck_assert_ptr_nonnull(gf_op_name(0xffff));
	ck_assert_ptr_nonnull(gf_op_name(GF_OP_REPLY));
	for (uint32_t op = 0; op <= 0xffff; op++)
		ck_assert_ptr_nonnull(gf_op_name((uint16_t)op));
}
END_TEST

START_TEST(test_check_name)
{
	char n[GF_NAME_MAX + 2];
	ck_assert_int_eq(gf_check_name("a"), 0);
	ck_assert_int_eq(gf_check_name("...") , 0);
	ck_assert_int_eq(gf_check_name(".hidden"), 0);
	ck_assert_int_eq(gf_check_name("r\xc3\xa9sum\xc3\xa9"), 0);
	ck_assert_int_eq(gf_check_name(""), -EINVAL);
	ck_assert_int_eq(gf_check_name("."), -EINVAL);
	ck_assert_int_eq(gf_check_name(".."), -EINVAL);
	ck_assert_int_eq(gf_check_name("a/b"), -EINVAL);
	ck_assert_int_eq(gf_check_name("/"), -EINVAL);
	ck_assert_int_eq(gf_check_name("a/"), -EINVAL);
	long_name(n, GF_NAME_MAX, 'z');
	ck_assert_int_eq(gf_check_name(n), 0);
	long_name(n, GF_NAME_MAX + 1, 'z');
	ck_assert_int_eq(gf_check_name(n), -ENAMETOOLONG);
}
END_TEST

/* ---- hand-built malformed payloads --------------------------------------------- */

static void put_cred_raw(struct gf_wbuf *w, uint32_t ngroups, uint32_t nput)
{
	gf_put_u32(w, 1000);
	gf_put_u32(w, 1000);
	gf_put_u32(w, ngroups);
	for (uint32_t i = 0; i < nput; i++)
		gf_put_u32(w, i);
}

START_TEST(test_name_too_long)
{
	char name[GF_NAME_MAX + 2];
	struct gf_wbuf w;
	struct gfm_name_req m;

	gf_wbuf_init(&w);
	put_cred_raw(&w, 0, 0);
	gf_put_u64(&w, 1);
	long_name(name, GF_NAME_MAX, 'a');
	gf_put_str(&w, name);
	ck_assert_int_eq(gfm_name_req_decode(w.data, w.len, &m), 0);
	ck_assert_str_eq(m.name, name);

	gf_wbuf_reset(&w);
	put_cred_raw(&w, 0, 0);
	gf_put_u64(&w, 1);
	long_name(name, GF_NAME_MAX + 1, 'a');
	gf_put_str(&w, name);
	ck_assert_int_eq(gfm_name_req_decode(w.data, w.len, &m), -EBADMSG);

	/* Length far beyond the buffer. */
	gf_wbuf_reset(&w);
	put_cred_raw(&w, 0, 0);
	gf_put_u64(&w, 1);
	gf_put_u32(&w, 0xffffffff);
	gf_put_raw(&w, "abc", 3);
	ck_assert_int_eq(gfm_name_req_decode(w.data, w.len, &m), -EBADMSG);

	/* Symlink target of GF_PATH_MAX bytes does not fit char[GF_PATH_MAX]. */
	static char target[GF_PATH_MAX + 1];
	long_name(target, GF_PATH_MAX, 't');
	gf_wbuf_reset(&w);
	gf_put_str(&w, target);
	struct gfm_readlink_rep rl;
	ck_assert_int_eq(gfm_readlink_rep_decode(w.data, w.len, &rl), -EBADMSG);
	gf_wbuf_free(&w);
}
END_TEST

START_TEST(test_embedded_nul)
{
	struct gf_wbuf w;
	struct gfm_name_req m;
	gf_wbuf_init(&w);
	put_cred_raw(&w, 0, 0);
	gf_put_u64(&w, 1);
	gf_put_bytes(&w, "a\0b", 3);
	ck_assert_int_eq(gfm_name_req_decode(w.data, w.len, &m), -EBADMSG);

	gf_wbuf_reset(&w);
	gf_put_bytes(&w, "n1\0", 3); /* trailing NUL counts too */
	gf_put_str(&w, "addr");
	gf_put_u16(&w, 1);
	gf_put_u64(&w, 2);
	gf_put_u64(&w, 3);
	struct gfm_host_register_req hr;
	ck_assert_int_eq(gfm_host_register_req_decode(w.data, w.len, &hr), -EBADMSG);
	gf_wbuf_free(&w);
}
END_TEST

START_TEST(test_ngroups)
{
	struct gf_wbuf w;
	struct gfm_ino_req m;
	gf_wbuf_init(&w);

	put_cred_raw(&w, GF_MAX_GROUPS, GF_MAX_GROUPS);
	gf_put_u64(&w, 5);
	ck_assert_int_eq(gfm_ino_req_decode(w.data, w.len, &m), 0);
	ck_assert_uint_eq(m.cred.ngroups, GF_MAX_GROUPS);
	ck_assert_uint_eq(m.cred.groups[GF_MAX_GROUPS - 1], GF_MAX_GROUPS - 1);
	ck_assert_uint_eq(m.ino, 5);

	gf_wbuf_reset(&w);
	put_cred_raw(&w, GF_MAX_GROUPS + 1, GF_MAX_GROUPS + 1);
	gf_put_u64(&w, 5);
	ck_assert_int_eq(gfm_ino_req_decode(w.data, w.len, &m), -EBADMSG);

	gf_wbuf_reset(&w);
	put_cred_raw(&w, UINT32_MAX, 2);
	gf_put_u64(&w, 5);
	ck_assert_int_eq(gfm_ino_req_decode(w.data, w.len, &m), -EBADMSG);

	/* Only ngroups entries go on the wire. */
	struct gfm_ino_req q = { .cred = { 1, 2, 2, { 3, 4, 99, 99 } }, .ino = 6 };
	gf_wbuf_reset(&w);
	gfm_ino_req_encode(&w, &q);
	ck_assert_int_eq(w.err, 0);
	ck_assert_uint_eq(w.len, 12 + 2 * 4 + 8);
	ck_assert_int_eq(gfm_ino_req_decode(w.data, w.len, &m), 0);
	ck_assert_uint_eq(m.cred.groups[1], 4);
	ck_assert_uint_eq(m.cred.groups[2], 0);

	/* Encoder refuses what the decoder would refuse. */
	q.cred.ngroups = GF_MAX_GROUPS + 1;
	gf_wbuf_reset(&w);
	gfm_ino_req_encode(&w, &q);
	ck_assert_int_eq(w.err, -EINVAL);
	gf_wbuf_free(&w);
}
END_TEST

/* A count field followed by n all-zero entries, which are valid entries of
 * every list type; so only the count bound can reject it. */
static uint8_t *zero_list(size_t prefix, uint32_t count, size_t entry, size_t suffix,
			  size_t *len)
{
	*len = prefix + 4 + suffix + (size_t)count * entry;
	uint8_t *p = calloc(1, *len);
	ck_assert_ptr_nonnull(p);
	p[prefix + 0] = (uint8_t)(count >> 24);
	p[prefix + 1] = (uint8_t)(count >> 16);
	p[prefix + 2] = (uint8_t)(count >> 8);
	p[prefix + 3] = (uint8_t)count;
	return p;
}

START_TEST(test_count_limits)
{
	size_t len;
	uint8_t *p;

	struct gfm_readdir_rep rd;
	p = zero_list(0, GF_READDIR_MAX, DIRENT_MIN_WIRE, 1, &len);
	ck_assert_int_eq(gfm_readdir_rep_decode(p, len, &rd), 0);
	ck_assert_uint_eq(rd.count, GF_READDIR_MAX);
	gfm_readdir_rep_free(&rd);
	free(p);
	p = zero_list(0, GF_READDIR_MAX + 1, DIRENT_MIN_WIRE, 1, &len);
	ck_assert_int_eq(gfm_readdir_rep_decode(p, len, &rd), -EBADMSG);
	ck_assert_ptr_null(rd.ents);
	ck_assert_uint_eq(rd.count, 0);
	free(p);

	struct gfm_open_rep *op = malloc(sizeof(*op));
	p = zero_list(ATTR_WIRE + DIRS_EMPTY_WIRE, GF_MAX_REPLICAS, REPLICA_MIN_WIRE, 4, &len); /* (writers after) */
	ck_assert_int_eq(gfm_open_rep_decode(p, len, op), 0);
	ck_assert_uint_eq(op->nreplicas, GF_MAX_REPLICAS);
	free(p);
	p = zero_list(ATTR_WIRE + DIRS_EMPTY_WIRE, GF_MAX_REPLICAS + 1, REPLICA_MIN_WIRE, 4, &len);
	ck_assert_int_eq(gfm_open_rep_decode(p, len, op), -EBADMSG);
	free(p);
	free(op);

	struct gfm_heartbeat_req *hq = malloc(sizeof(*hq));
	p = zero_list(4 + 8 + 8 + 4, GF_MAX_DEAD, 16, 4 + 16, &len); /* (nbad 0, swap after) */
	ck_assert_int_eq(gfm_heartbeat_req_decode(p, len, hq), 0);
	ck_assert_uint_eq(hq->ndone, GF_MAX_DEAD);
	free(p);
	p = zero_list(4 + 8 + 8 + 4 + 4, GF_MAX_BAD, 16, 16, &len); /* ndone 0, nbad, swap */
	ck_assert_int_eq(gfm_heartbeat_req_decode(p, len, hq), 0);
	ck_assert_uint_eq(hq->nbad, GF_MAX_BAD);
	free(p);
	p = zero_list(4 + 8 + 8 + 4 + 4, GF_MAX_BAD + 1, 16, 16, &len);
	ck_assert_int_eq(gfm_heartbeat_req_decode(p, len, hq), -EBADMSG);
	free(p);
	p = zero_list(4 + 8 + 8 + 4, GF_MAX_DEAD + 1, 16, 0, &len);
	ck_assert_int_eq(gfm_heartbeat_req_decode(p, len, hq), -EBADMSG);
	free(p);
	free(hq);

	struct gfm_heartbeat_rep *hp = malloc(sizeof(*hp));
	p = zero_list(0, GF_MAX_DEAD + 1, 16, 0, &len);
	ck_assert_int_eq(gfm_heartbeat_rep_decode(p, len, hp), -EBADMSG);
	free(p);
	p = zero_list(0, UINT32_MAX, 0, 0, &len);
	ck_assert_int_eq(gfm_heartbeat_rep_decode(p, len, hp), -EBADMSG);
	free(p);
	free(hp);

	struct gfm_host_list_rep hl;
	p = zero_list(0, 65536, HOST_INFO_MIN_WIRE, 0, &len);
	ck_assert_int_eq(gfm_host_list_rep_decode(p, len, &hl), 0);
	ck_assert_uint_eq(hl.count, 65536);
	gfm_host_list_rep_free(&hl);
	free(p);
	p = zero_list(0, 65537, HOST_INFO_MIN_WIRE, 0, &len);
	ck_assert_int_eq(gfm_host_list_rep_decode(p, len, &hl), -EBADMSG);
	ck_assert_ptr_null(hl.hosts);
	free(p);
}
END_TEST

/* A count that the remaining bytes cannot hold is refused before any
 * allocation (a 5-byte frame must not make the decoder calloc gigabytes). */
START_TEST(test_count_beyond_payload)
{
	static const uint8_t huge[] = { 0xff, 0xff, 0xff, 0xff, 0 };
	static const uint8_t three[] = { 0, 0, 0, 3, 0 };
	struct gfm_readdir_rep rd;
	struct gfm_host_list_rep hl;

	ck_assert_int_eq(gfm_readdir_rep_decode(huge, sizeof(huge), &rd), -EBADMSG);
	ck_assert_ptr_null(rd.ents);
	ck_assert_int_eq(gfm_readdir_rep_decode(three, sizeof(three), &rd), -EBADMSG);
	ck_assert_ptr_null(rd.ents);
	ck_assert_int_eq(gfm_host_list_rep_decode(huge, sizeof(huge) - 1, &hl), -EBADMSG);
	ck_assert_ptr_null(hl.hosts);

	/* Claims three hosts, carries one. */
	struct gfm_host_list_rep one = { 0 };
	struct gf_wbuf w;
	fill_gfm_host_list_rep(&one);
	one.count = 1;
	gf_wbuf_init(&w);
	gfm_host_list_rep_encode(&w, &one);
	ck_assert_int_eq(w.err, 0);
	w.data[3] = 3;
	ck_assert_int_eq(gfm_host_list_rep_decode(w.data, w.len, &hl), -EBADMSG);
	ck_assert_ptr_null(hl.hosts);
	ck_assert_uint_eq(hl.count, 0);
	gfm_host_list_rep_free(&one);
	gf_wbuf_free(&w);
}
END_TEST

/* A failure in the middle of a heap-allocating decode frees what it took
 * (the sanitizer build checks for the leak) and leaves NULL behind. */
START_TEST(test_decode_failure_frees)
{
	struct gfm_readdir_rep in = { 0 }, out;
	struct gf_wbuf w;
	fill_gfm_readdir_rep(&in);
	gf_wbuf_init(&w);
	gfm_readdir_rep_encode(&w, &in);
	ck_assert_int_eq(w.err, 0);
	/* Put a NUL into the last entry's name: "entry-2" → "ent\0y-2". */
	uint8_t *hit = NULL;
	for (size_t i = 0; i + 7 <= w.len; i++)
		if (memcmp(w.data + i, "entry-2", 7) == 0)
			hit = w.data + i;
	ck_assert_ptr_nonnull(hit);
	hit[3] = 0;
	ck_assert_int_eq(gfm_readdir_rep_decode(w.data, w.len, &out), -EBADMSG);
	ck_assert_ptr_null(out.ents);
	ck_assert_uint_eq(out.count, 0);
	gfm_readdir_rep_free(&out); /* harmless after failure */
	gfm_readdir_rep_free(&out); /* and twice */
	gfm_readdir_rep_free(NULL);

	/* Same for the host list: bad flag byte in the last host. */
	struct gfm_host_list_rep hin = { 0 }, hout;
	fill_gfm_host_list_rep(&hin);
	gf_wbuf_reset(&w);
	gfm_host_list_rep_encode(&w, &hin);
	ck_assert_int_eq(w.err, 0);
	/* up is at: end - (8+8+4+8+8+1+8+8) - 1 */
	w.data[w.len - 53 - 1] = 2;
	ck_assert_int_eq(gfm_host_list_rep_decode(w.data, w.len, &hout), -EBADMSG);
	ck_assert_ptr_null(hout.hosts);
	gfm_host_list_rep_free(&hout);
	gfm_host_list_rep_free(NULL);

	gfm_readdir_rep_free(&in);
	gfm_host_list_rep_free(&hin);
	gf_wbuf_free(&w);
}
END_TEST

/* gfm_dirs: counts past their maxima and a forget_all that is not 0 or 1
 * are refused, by the encoder and by the decoder */
START_TEST(test_dirs_limits)
{
	struct gfm_dirs_rep m, out;
	struct gf_wbuf w;
	memset(&m, 0, sizeof(m));
	gf_wbuf_init(&w);
	gfm_dirs_rep_encode(&w, &m);
	ck_assert_int_eq(w.err, 0);
	ck_assert_uint_eq(w.len, DIRS_EMPTY_WIRE);
	ck_assert_int_eq(gfm_dirs_rep_decode(w.data, w.len, &out), 0);
	ck_assert_uint_eq(out.dirs.n + out.dirs.nforget + out.dirs.forget_all, 0);
	w.data[0] = GFM_DIRS_MAX + 1; /* n */
	ck_assert_int_eq(gfm_dirs_rep_decode(w.data, w.len, &out), -EBADMSG);
	w.data[0] = 0;
	w.data[1] = GFM_DIRS_FORGET_MAX + 1; /* nforget */
	ck_assert_int_eq(gfm_dirs_rep_decode(w.data, w.len, &out), -EBADMSG);
	w.data[1] = 0;
	w.data[2] = 2; /* forget_all */
	ck_assert_int_eq(gfm_dirs_rep_decode(w.data, w.len, &out), -EBADMSG);
	w.data[2] = 1;
	ck_assert_int_eq(gfm_dirs_rep_decode(w.data, w.len, &out), 0);
	ck_assert_uint_eq(out.dirs.forget_all, 1);
	/* a count that promises more than the payload holds */
	w.data[1] = 1;
	ck_assert_int_eq(gfm_dirs_rep_decode(w.data, w.len, &out), -EBADMSG);
	m.dirs.n = GFM_DIRS_MAX + 1;
	gf_wbuf_reset(&w);
	gfm_dirs_rep_encode(&w, &m);
	ck_assert_int_eq(w.err, -EINVAL);
	gf_wbuf_free(&w);
}
END_TEST

START_TEST(test_nsec)
{
	struct gfm_attr_rep a = { 0 }, b;
	struct gf_wbuf w;
	fill_attr(&a.attr, 1);
	gf_wbuf_init(&w);
	gfm_attr_rep_encode(&w, &a);
	ck_assert_int_eq(w.err, 0);
	ck_assert_int_eq(gfm_attr_rep_decode(w.data, w.len, &b), 0);
	ck_assert_uint_eq(b.attr.atime.nsec, 999999999);
	ck_assert_int_eq(b.attr.atime.sec, -5);

	/* ctime.nsec is the attribute's last 4 bytes (empty dirs follow):
	 * make it 1e9. */
	ck_assert_uint_eq(w.len, ATTR_WIRE + DIRS_EMPTY_WIRE);
	uint8_t *ns = w.data + ATTR_WIRE - 4;
	ns[0] = 0x3b;
	ns[1] = 0x9a;
	ns[2] = 0xca;
	ns[3] = 0x00;
	ck_assert_int_eq(gfm_attr_rep_decode(w.data, w.len, &b), -EBADMSG);
	ns[3] = 0xff;
	ck_assert_int_eq(gfm_attr_rep_decode(w.data, w.len, &b), -EBADMSG);
	memset(ns, 0xff, 4);
	ck_assert_int_eq(gfm_attr_rep_decode(w.data, w.len, &b), -EBADMSG);

	a.attr.mtime.nsec = 1000000000;
	gf_wbuf_reset(&w);
	gfm_attr_rep_encode(&w, &a);
	ck_assert_int_eq(w.err, -EINVAL);

	struct gfm_close_write_req cw = { 0 }, cw2;
	fill_gfm_close_write_req(&cw);
	cw.mtime.nsec = 1000000000;
	gf_wbuf_reset(&w);
	gfm_close_write_req_encode(&w, &cw);
	ck_assert_int_eq(w.err, -EINVAL);
	cw.mtime.nsec = 0;
	gf_wbuf_reset(&w);
	gfm_close_write_req_encode(&w, &cw);
	ck_assert_int_eq(w.err, 0);
	memset(w.data + w.len - 16, 0xee, 4); /* the nsec, before flags and blocks */
	ck_assert_int_eq(gfm_close_write_req_decode(w.data, w.len, &cw2), -EBADMSG);
	gf_wbuf_free(&w);
}
END_TEST

START_TEST(test_io_limits)
{
	struct gf_wbuf w;
	gf_wbuf_init(&w);

	struct gfs_read_req rq = { 1, 2, GF_MAX_IO + 1 }, rq2;
	gfs_read_req_encode(&w, &rq);
	ck_assert_int_eq(w.err, -EINVAL);
	gf_wbuf_reset(&w);
	gf_put_u64(&w, 1);
	gf_put_u64(&w, 2);
	gf_put_u32(&w, GF_MAX_IO + 1);
	ck_assert_int_eq(gfs_read_req_decode(w.data, w.len, &rq2), -EBADMSG);

	/* A full-size write: data points into the payload. */
	uint8_t *big = malloc(GF_MAX_IO + 1);
	ck_assert_ptr_nonnull(big);
	for (size_t i = 0; i <= GF_MAX_IO; i++)
		big[i] = (uint8_t)(i >> 3);
	struct gfs_write_req wq = { 7, 1ull << 42, GF_MAX_IO, big }, wq2;
	gf_wbuf_reset(&w);
	gfs_write_req_encode(&w, &wq);
	ck_assert_int_eq(w.err, 0);
	ck_assert_uint_le(w.len, GF_MAX_PAYLOAD);
	ck_assert_int_eq(gfs_write_req_decode(w.data, w.len, &wq2), 0);
	ck_assert_uint_eq(wq2.len, GF_MAX_IO);
	ck_assert_ptr_eq(wq2.data, w.data + 8 + 8 + 4);
	ck_assert_int_eq(memcmp(wq2.data, big, GF_MAX_IO), 0);

	/* One byte more is refused by both sides. */
	wq.len = GF_MAX_IO + 1;
	gf_wbuf_reset(&w);
	gfs_write_req_encode(&w, &wq);
	ck_assert_int_eq(w.err, -EINVAL);
	gf_wbuf_reset(&w);
	gf_put_u64(&w, 7);
	gf_put_u64(&w, 0);
	gf_put_bytes(&w, big, GF_MAX_IO + 1);
	ck_assert_int_eq(w.err, 0);
	ck_assert_int_eq(gfs_write_req_decode(w.data, w.len, &wq2), -EBADMSG);
	ck_assert_ptr_null(wq2.data);
	ck_assert_uint_eq(wq2.len, 0);

	struct gfs_read_rep rr2;
	gf_wbuf_reset(&w);
	gf_put_bytes(&w, big, GF_MAX_IO + 1);
	ck_assert_int_eq(gfs_read_rep_decode(w.data, w.len, &rr2), -EBADMSG);
	ck_assert_ptr_null(rr2.data);

	/* An empty read (EOF) is fine. */
	struct gfs_read_rep rr = { 0, NULL };
	gf_wbuf_reset(&w);
	gfs_read_rep_encode(&w, &rr);
	ck_assert_int_eq(w.err, 0);
	ck_assert_int_eq(gfs_read_rep_decode(w.data, w.len, &rr2), 0);
	ck_assert_uint_eq(rr2.len, 0);

	/* Data length without data is a caller bug. */
	rr.len = 3;
	gf_wbuf_reset(&w);
	gfs_read_rep_encode(&w, &rr);
	ck_assert_int_eq(w.err, -EINVAL);

	free(big);
	gf_wbuf_free(&w);
}
END_TEST

START_TEST(test_xattr_limits)
{
	struct gf_wbuf w;
	uint8_t *v = calloc(1, GF_XATTR_SIZE_MAX + 1);
	ck_assert_ptr_nonnull(v);
	gf_wbuf_init(&w);

	struct gfm_xattr_req q = { 0 }, q2;
	fill_gfm_xattr_req(&q);
	q.value = v;
	q.value_len = GF_XATTR_SIZE_MAX;
	gfm_xattr_req_encode(&w, &q);
	ck_assert_int_eq(w.err, 0);
	ck_assert_int_eq(gfm_xattr_req_decode(w.data, w.len, &q2), 0);
	ck_assert_uint_eq(q2.value_len, GF_XATTR_SIZE_MAX);
	ck_assert_ptr_eq(q2.value, w.data + w.len - GF_XATTR_SIZE_MAX);
	ck_assert_str_eq(q2.name, "user.comment");

	q.value_len = GF_XATTR_SIZE_MAX + 1;
	gf_wbuf_reset(&w);
	gfm_xattr_req_encode(&w, &q);
	ck_assert_int_eq(w.err, -EINVAL);

	/* Hand-built oversize value. */
	gf_wbuf_reset(&w);
	put_cred_raw(&w, 0, 0);
	gf_put_u64(&w, 1);
	gf_put_str(&w, "user.x");
	gf_put_u32(&w, 0);
	gf_put_u32(&w, 0);
	gf_put_bytes(&w, v, GF_XATTR_SIZE_MAX + 1);
	ck_assert_int_eq(gfm_xattr_req_decode(w.data, w.len, &q2), -EBADMSG);
	ck_assert_ptr_null(q2.value);

	/* GETXATTR without value: empty, decodes to value_len 0. */
	struct gfm_xattr_req g = { 0 };
	fill_cred(&g.cred);
	strcpy(g.name, "user.y");
	g.size = 100;
	gf_wbuf_reset(&w);
	gfm_xattr_req_encode(&w, &g);
	ck_assert_int_eq(w.err, 0);
	ck_assert_int_eq(gfm_xattr_req_decode(w.data, w.len, &q2), 0);
	ck_assert_uint_eq(q2.value_len, 0);
	ck_assert_uint_eq(q2.size, 100);

	/* Reply: size query, and data_len > len refused. */
	struct gfm_xattr_rep r = { 5000, 0, NULL }, r2;
	gf_wbuf_reset(&w);
	gfm_xattr_rep_encode(&w, &r);
	ck_assert_int_eq(w.err, 0);
	ck_assert_int_eq(gfm_xattr_rep_decode(w.data, w.len, &r2), 0);
	ck_assert_uint_eq(r2.len, 5000);
	ck_assert_uint_eq(r2.data_len, 0);

	r = (struct gfm_xattr_rep){ 2, 3, v };
	gf_wbuf_reset(&w);
	gfm_xattr_rep_encode(&w, &r);
	ck_assert_int_eq(w.err, -EINVAL);
	gf_wbuf_reset(&w);
	gf_put_u32(&w, 2);
	gf_put_bytes(&w, v, 3);
	ck_assert_int_eq(gfm_xattr_rep_decode(w.data, w.len, &r2), -EBADMSG);
	ck_assert_ptr_null(r2.data);

	free(v);
	gf_wbuf_free(&w);
}
END_TEST

START_TEST(test_flag_bytes)
{
	struct gf_wbuf w;
	gf_wbuf_init(&w);

	struct gfs_open_rep o = { 1, 2, 1 }, o2;
	gfs_open_rep_encode(&w, &o);
	ck_assert_int_eq(w.err, 0);
	w.data[w.len - 1] = 2;
	ck_assert_int_eq(gfs_open_rep_decode(w.data, w.len, &o2), -EBADMSG);
	o.fd_passed = 2;
	gf_wbuf_reset(&w);
	gfs_open_rep_encode(&w, &o);
	ck_assert_int_eq(w.err, -EINVAL);

	/* readdir eof is byte 4. */
	struct gfm_readdir_rep r = { 0, 1, NULL }, r2;
	gf_wbuf_reset(&w);
	gfm_readdir_rep_encode(&w, &r);
	ck_assert_int_eq(w.err, 0);
	ck_assert_uint_eq(w.len, 5);
	ck_assert_int_eq(gfm_readdir_rep_decode(w.data, w.len, &r2), 0);
	ck_assert_uint_eq(r2.eof, 1);
	ck_assert_ptr_null(r2.ents);
	w.data[4] = 0x80;
	ck_assert_int_eq(gfm_readdir_rep_decode(w.data, w.len, &r2), -EBADMSG);
	gf_wbuf_free(&w);
}
END_TEST

START_TEST(test_encoder_refusals)
{
	struct gf_wbuf w;
	gf_wbuf_init(&w);

	struct gfm_open_rep *op = calloc(1, sizeof(*op));
	op->nreplicas = GF_MAX_REPLICAS + 1;
	gfm_open_rep_encode(&w, op);
	ck_assert_int_eq(w.err, -EINVAL);
	free(op);

	struct gfm_readdir_req rq = { 0 };
	rq.max = GF_READDIR_MAX + 1;
	gf_wbuf_reset(&w);
	gfm_readdir_req_encode(&w, &rq);
	ck_assert_int_eq(w.err, -EINVAL);
	struct gfm_readdir_req rq2;
	gf_wbuf_reset(&w);
	put_cred_raw(&w, 0, 0);
	gf_put_u64(&w, 1);
	gf_put_u64(&w, 0);
	gf_put_u32(&w, GF_READDIR_MAX + 1);
	ck_assert_int_eq(gfm_readdir_req_decode(w.data, w.len, &rq2), -EBADMSG);

	struct gfm_readdir_rep rd = { GF_READDIR_MAX + 1, 0, NULL };
	gf_wbuf_reset(&w);
	gfm_readdir_rep_encode(&w, &rd);
	ck_assert_int_eq(w.err, -EINVAL);

	struct gfm_heartbeat_req *hb = calloc(1, sizeof(*hb));
	hb->ndone = GF_MAX_DEAD + 1;
	gf_wbuf_reset(&w);
	gfm_heartbeat_req_encode(&w, hb);
	ck_assert_int_eq(w.err, -EINVAL);
	free(hb);

	struct gfm_heartbeat_rep *hr = calloc(1, sizeof(*hr));
	hr->ndead = GF_MAX_DEAD + 1;
	gf_wbuf_reset(&w);
	gfm_heartbeat_rep_encode(&w, hr);
	ck_assert_int_eq(w.err, -EINVAL);
	free(hr);

	/* A name array without its terminating NUL. */
	struct gfm_name_req nr = { 0 };
	memset(nr.name, 'q', sizeof(nr.name));
	gf_wbuf_reset(&w);
	gfm_name_req_encode(&w, &nr);
	ck_assert_int_eq(w.err, -EINVAL);

	struct gfm_host_list_rep hl = { 2, NULL };
	gf_wbuf_reset(&w);
	gfm_host_list_rep_encode(&w, &hl);
	ck_assert_int_eq(w.err, -EINVAL);
	gf_wbuf_free(&w);
}
END_TEST

START_TEST(test_readdir_fields)
{
	struct gfm_readdir_rep in = { 0 }, out;
	struct gf_wbuf w;
	fill_gfm_readdir_rep(&in);
	gf_wbuf_init(&w);
	gfm_readdir_rep_encode(&w, &in);
	ck_assert_int_eq(gfm_readdir_rep_decode(w.data, w.len, &out), 0);
	ck_assert_uint_eq(out.count, 3);
	ck_assert_uint_eq(out.eof, 1);
	for (uint32_t i = 0; i < 3; i++) {
		ck_assert_uint_eq(out.ents[i].cookie, 100 + i);
		ck_assert_str_eq(out.ents[i].name, in.ents[i].name);
		ck_assert_int_eq(memcmp(&out.ents[i].attr, &in.ents[i].attr,
					sizeof(struct gf_attr)), 0);
	}
	gfm_readdir_rep_free(&out);
	ck_assert_ptr_null(out.ents);
	gfm_readdir_rep_free(&in);
	gf_wbuf_free(&w);
}
END_TEST

START_TEST(test_host_list_fields)
{
	struct gfm_host_list_rep in = { 0 }, out;
	struct gf_wbuf w;
	fill_gfm_host_list_rep(&in);
	gf_wbuf_init(&w);
	gfm_host_list_rep_encode(&w, &in);
	ck_assert_int_eq(gfm_host_list_rep_decode(w.data, w.len, &out), 0);
	ck_assert_uint_eq(out.count, 3);
	ck_assert_int_eq(memcmp(out.hosts, in.hosts, 3 * sizeof(*in.hosts)), 0);
	ck_assert_str_eq(out.hosts[2].name, "node-03");
	ck_assert_uint_eq(out.hosts[1].up, 0);
	gfm_host_list_rep_free(&out);
	gfm_host_list_rep_free(&in);

	/* An empty list. */
	struct gfm_host_list_rep none = { 0, NULL };
	gf_wbuf_reset(&w);
	gfm_host_list_rep_encode(&w, &none);
	ck_assert_int_eq(w.err, 0);
	ck_assert_int_eq(gfm_host_list_rep_decode(w.data, w.len, &out), 0);
	ck_assert_uint_eq(out.count, 0);
	ck_assert_ptr_null(out.hosts);
	gf_wbuf_free(&w);
}
END_TEST

/* GFM_REPLICAS: gfm_ino_req in, gfm_open_rep out, with zero replicas (an
 * empty file) or a full list of them; anything short or long is refused. */
START_TEST(test_replicas_messages)
{
	struct gf_wbuf w;
	struct gfm_ino_req q = { .ino = 42 }, q2;
	fill_cred(&q.cred);
	gf_wbuf_init(&w);
	gfm_ino_req_encode(&w, &q);
	ck_assert_int_eq(gfm_ino_req_decode(w.data, w.len, &q2), 0);
	ck_assert_uint_eq(q2.ino, 42);
	ck_assert_int_eq(memcmp(&q2.cred, &q.cred, sizeof(q.cred)), 0);
	for (size_t n = 0; n < w.len; n++)
		ck_assert_int_eq(gfm_ino_req_decode(w.data, n, &q2), -EBADMSG);

	struct gfm_open_rep *in = calloc(1, sizeof(*in)), *out = malloc(sizeof(*out));
	ck_assert_ptr_nonnull(in);
	ck_assert_ptr_nonnull(out);
	fill_attr(&in->attr, 42);
	gf_wbuf_reset(&w);
	gfm_open_rep_encode(&w, in); /* no replica at all */
	ck_assert_int_eq(w.err, 0);
	ck_assert_int_eq(gfm_open_rep_decode(w.data, w.len, out), 0);
	ck_assert_uint_eq(out->nreplicas, 0);
	ck_assert_uint_eq(out->attr.ino, 42);

	in->nreplicas = GF_MAX_REPLICAS;
	for (uint32_t i = 0; i < GF_MAX_REPLICAS; i++) {
		in->replicas[i].host_id = i + 1;
		in->replicas[i].gen = 7;
		in->replicas[i].port = (uint16_t)(6601 + i);
		snprintf(in->replicas[i].host, sizeof(in->replicas[i].host), "node%u", i + 1);
		snprintf(in->replicas[i].addr, sizeof(in->replicas[i].addr), "10.0.0.%u", i + 1);
	}
	long_name(in->replicas[GF_MAX_REPLICAS - 1].host, GF_HOST_MAX, 'h');
	gf_wbuf_reset(&w);
	gfm_open_rep_encode(&w, in);
	ck_assert_int_eq(w.err, 0);
	memset(out, 0xa5, sizeof(*out));
	ck_assert_int_eq(gfm_open_rep_decode(w.data, w.len, out), 0);
	ck_assert_uint_eq(out->nreplicas, GF_MAX_REPLICAS);
	for (uint32_t i = 0; i < GF_MAX_REPLICAS; i++) {
		ck_assert_uint_eq(out->replicas[i].host_id, i + 1);
		ck_assert_uint_eq(out->replicas[i].port, 6601 + i);
		ck_assert_str_eq(out->replicas[i].host, in->replicas[i].host);
		ck_assert_str_eq(out->replicas[i].addr, in->replicas[i].addr);
	}
	/* one replica cut off at every length, and one byte too many */
	for (size_t n = 0; n < w.len; n += 7)
		ck_assert_int_eq(gfm_open_rep_decode(w.data, n, out), -EBADMSG);
	ck_assert_int_eq(gfm_open_rep_decode(w.data, w.len - 1, out), -EBADMSG);
	gf_put_u8(&w, 0);
	ck_assert_int_eq(gfm_open_rep_decode(w.data, w.len, out), -EBADMSG);
	free(in);
	free(out);
	gf_wbuf_free(&w);
}
END_TEST

/* GFM_IDMAP_*: fields survive, and what is refused on either side. */
START_TEST(test_idmap_messages)
{
	struct gfm_idmap_list_rep in = { 0 }, out;
	struct gfm_idmap_set_req set, sout;
	struct gfm_idmap_del_req del, dout;
	struct gf_wbuf w;

	ck_assert_int_eq(GFM_IDMAP_LIST, 230);
	ck_assert_int_eq(GFM_IDMAP_SET, 231);
	ck_assert_int_eq(GFM_IDMAP_DEL, 232);
	ck_assert_str_eq(gf_op_name(GFM_IDMAP_SET), "GFM_IDMAP_SET");
	ck_assert_str_eq(gf_op_name(GFM_IDMAP_LIST | GF_OP_REPLY), "reply to GFM_IDMAP_LIST");

	fill_gfm_idmap_list_rep(&in);
	gf_wbuf_init(&w);
	gfm_idmap_list_rep_encode(&w, &in);
	ck_assert_int_eq(w.err, 0);
	ck_assert_int_eq(gfm_idmap_list_rep_decode(w.data, w.len, &out), 0);
	ck_assert_uint_eq(out.count, 4);
	for (uint32_t i = 0; i < 4; i++) {
		ck_assert_uint_eq(out.ents[i].kind, in.ents[i].kind);
		ck_assert_uint_eq(out.ents[i].id, in.ents[i].id);
		ck_assert_str_eq(out.ents[i].name, in.ents[i].name);
	}
	gfm_idmap_list_rep_free(&out);
	gf_wbuf_free(&w);

	/* a kind byte other than user/group does not decode (entry 2's kind) */
	gf_wbuf_init(&w);
	gfm_idmap_list_rep_encode(&w, &in);
	size_t kind2 = 4 + (1 + 4 + 4 + 5) + (1 + 4 + 4 + GF_IDMAP_NAME_MAX);
	ck_assert_uint_eq(w.data[kind2], GF_IDMAP_GROUP);
	for (unsigned bad = 0; bad < 256; bad += 1) {
		if (bad == GF_IDMAP_USER || bad == GF_IDMAP_GROUP)
			continue;
		w.data[kind2] = (uint8_t)bad;
		ck_assert_int_eq(gfm_idmap_list_rep_decode(w.data, w.len, &out), -EBADMSG);
		ck_assert_ptr_null(out.ents); /* freed on failure */
	}
	gf_wbuf_free(&w);

	/* a count beyond the bytes present */
	gf_wbuf_init(&w);
	gf_put_u32(&w, 1000);
	gf_put_u8(&w, GF_IDMAP_USER);
	gf_put_u32(&w, 1);
	gf_put_str(&w, "a");
	ck_assert_int_eq(gfm_idmap_list_rep_decode(w.data, w.len, &out), -EBADMSG);
	gf_wbuf_free(&w);

	/* encoders refuse a bad kind, an unterminated name, a missing array */
	in.ents[3].kind = 9;
	gf_wbuf_init(&w);
	gfm_idmap_list_rep_encode(&w, &in);
	ck_assert_int_eq(w.err, -EINVAL);
	gf_wbuf_free(&w);
	in.ents[3].kind = GF_IDMAP_GROUP;
	memset(in.ents[3].name, 'x', sizeof(in.ents[3].name));
	gf_wbuf_init(&w);
	gfm_idmap_list_rep_encode(&w, &in);
	ck_assert_int_eq(w.err, -EINVAL);
	gf_wbuf_free(&w);
	gfm_idmap_list_rep_free(&in);
	struct gfm_idmap_list_rep none = { 2, NULL };
	gf_wbuf_init(&w);
	gfm_idmap_list_rep_encode(&w, &none);
	ck_assert_int_eq(w.err, -EINVAL);
	gf_wbuf_free(&w);
	none.count = 0;
	gf_wbuf_init(&w);
	gfm_idmap_list_rep_encode(&w, &none);
	ck_assert_int_eq(w.err, 0);
	ck_assert_int_eq(gfm_idmap_list_rep_decode(w.data, w.len, &out), 0);
	ck_assert_uint_eq(out.count, 0);
	ck_assert_ptr_null(out.ents);
	gf_wbuf_free(&w);

	/* SET: fields; the replace flag is 0 or 1; kind checked; name bounded */
	memset(&set, 0, sizeof(set));
	fill_gfm_idmap_set_req(&set);
	gf_wbuf_init(&w);
	gfm_idmap_set_req_encode(&w, &set);
	ck_assert_int_eq(w.err, 0);
	ck_assert_int_eq(gfm_idmap_set_req_decode(w.data, w.len, &sout), 0);
	ck_assert_uint_eq(sout.cred.uid, set.cred.uid);
	ck_assert_uint_eq(sout.cred.ngroups, set.cred.ngroups);
	ck_assert_uint_eq(sout.kind, GF_IDMAP_GROUP);
	ck_assert_uint_eq(sout.replace, 1);
	ck_assert_uint_eq(sout.id, 0x89abcdefu);
	ck_assert_str_eq(sout.name, set.name);
	size_t cred_len = 12 + 4 * set.cred.ngroups;
	w.data[cred_len + 1] = 2; /* replace */
	ck_assert_int_eq(gfm_idmap_set_req_decode(w.data, w.len, &sout), -EBADMSG);
	w.data[cred_len + 1] = 0;
	w.data[cred_len] = 0; /* kind */
	ck_assert_int_eq(gfm_idmap_set_req_decode(w.data, w.len, &sout), -EBADMSG);
	gf_wbuf_free(&w);
	set.replace = 2;
	gf_wbuf_init(&w);
	gfm_idmap_set_req_encode(&w, &set);
	ck_assert_int_eq(w.err, -EINVAL);
	gf_wbuf_free(&w);

	/* a name one longer than GF_IDMAP_NAME_MAX on the wire */
	char longer[GF_IDMAP_NAME_MAX + 2];
	long_name(longer, GF_IDMAP_NAME_MAX + 1, 'l');
	gf_wbuf_init(&w);
	put_cred_raw(&w, 0, 0);
	gf_put_u8(&w, GF_IDMAP_USER);
	gf_put_u8(&w, 0);
	gf_put_u32(&w, 5);
	gf_put_str(&w, longer);
	ck_assert_int_eq(gfm_idmap_set_req_decode(w.data, w.len, &sout), -EBADMSG);
	gf_wbuf_free(&w);

	/* DEL */
	memset(&del, 0, sizeof(del));
	fill_gfm_idmap_del_req(&del);
	gf_wbuf_init(&w);
	gfm_idmap_del_req_encode(&w, &del);
	ck_assert_int_eq(gfm_idmap_del_req_decode(w.data, w.len, &dout), 0);
	ck_assert_uint_eq(dout.kind, GF_IDMAP_USER);
	ck_assert_str_eq(dout.name, "bob");
	gf_wbuf_free(&w);
	gf_wbuf_init(&w);
	put_cred_raw(&w, 0, 0);
	gf_put_u8(&w, 3);
	gf_put_str(&w, "bob");
	ck_assert_int_eq(gfm_idmap_del_req_decode(w.data, w.len, &dout), -EBADMSG);
	gf_wbuf_free(&w);
	gf_wbuf_init(&w);
	put_cred_raw(&w, 0, 0);
	gf_put_u8(&w, GF_IDMAP_GROUP);
	gf_put_str(&w, longer);
	ck_assert_int_eq(gfm_idmap_del_req_decode(w.data, w.len, &dout), -EBADMSG);
	gf_wbuf_free(&w);
}
END_TEST

/* The exactly-once envelope: what goes inside, seq against acked, the size of
 * what it carries, and that the inner request comes out untouched. */
/* A lease's names: count of them, each 1..GF_NAME_MAX bytes, no '/', each
 * NUL-ended, filling names_len exactly; no names with a renewal; gen 0 is
 * no lease. Each way of breaking that is refused on both sides. */
static int lease_rep_roundtrip(const char *names, uint32_t len, uint32_t count,
			       uint8_t renewed, uint64_t gen)
{
	struct gfm_dir_lease_rep m = { .gen = gen, .term_ms = 1000, .renewed = renewed,
				       .count = count, .names_len = len, .names = names };
	struct gf_wbuf w;
	gf_wbuf_init(&w);
	gfm_dir_lease_rep_encode(&w, &m);
	int enc = w.err;
	gf_wbuf_free(&w);
	/* the decoder, fed the same fields by hand */
	gf_wbuf_init(&w);
	gf_put_u64(&w, gen);
	gf_put_u32(&w, 1000);
	gf_put_u8(&w, renewed);
	gf_put_u32(&w, count);
	gf_put_bytes(&w, names, len);
	struct gfm_dir_lease_rep out;
	uint8_t *buf = exact_copy(w.data, w.len);
	int dec = gfm_dir_lease_rep_decode(buf, w.len, &out);
	free(buf);
	gf_wbuf_free(&w);
	ck_assert_msg((enc == 0) == (dec == 0), "encoder %d, decoder %d", enc, dec);
	return dec;
}

START_TEST(test_lease_messages)
{
	ck_assert_int_eq(lease_rep_roundtrip("a\0bc\0", 5, 2, 0, 1), 0);
	ck_assert_int_eq(lease_rep_roundtrip(NULL, 0, 0, 0, 1), 0);   /* an empty directory */
	ck_assert_int_eq(lease_rep_roundtrip(NULL, 0, 0, 1, 1), 0);   /* a renewal */
	ck_assert_int_eq(lease_rep_roundtrip("a\0", 2, 1, 1, 1), -EBADMSG); /* renewal, names */
	ck_assert_int_eq(lease_rep_roundtrip("a\0bc\0", 5, 3, 0, 1), -EBADMSG); /* count */
	ck_assert_int_eq(lease_rep_roundtrip("a\0bc\0", 5, 1, 0, 1), -EBADMSG);
	ck_assert_int_eq(lease_rep_roundtrip("a\0\0", 3, 2, 0, 1), -EBADMSG); /* empty name */
	ck_assert_int_eq(lease_rep_roundtrip("a\0bc", 4, 2, 0, 1), -EBADMSG); /* no NUL */
	ck_assert_int_eq(lease_rep_roundtrip("a/b\0", 4, 1, 0, 1), -EBADMSG); /* a slash */
	ck_assert_int_eq(lease_rep_roundtrip("a\0", 2, 1, 2, 1), -EBADMSG); /* flag 2 */
	ck_assert_int_eq(lease_rep_roundtrip("a\0", 2, 1, 0, 0), -EBADMSG); /* gen 0 */
	char *big = malloc(GF_NAME_MAX + 2);
	ck_assert_ptr_nonnull(big);
	memset(big, 'x', GF_NAME_MAX + 1);
	big[GF_NAME_MAX] = 0; /* the longest name */
	ck_assert_int_eq(lease_rep_roundtrip(big, GF_NAME_MAX + 1, 1, 0, 1), 0);
	big[GF_NAME_MAX] = 'x';
	big[GF_NAME_MAX + 1] = 0; /* one byte too long */
	ck_assert_int_eq(lease_rep_roundtrip(big, GF_NAME_MAX + 2, 1, 0, 1), -EBADMSG);
	free(big);

	/* a poll: at most GF_LEASE_POLL_MAX refs */
	struct gf_wbuf w;
	gf_wbuf_init(&w);
	gf_put_u64(&w, 1);
	gf_put_u32(&w, GF_LEASE_POLL_MAX + 1);
	for (uint32_t i = 0; i <= GF_LEASE_POLL_MAX; i++) {
		gf_put_u64(&w, i);
		gf_put_u64(&w, i);
	}
	struct gfm_lease_poll_req *q = malloc(sizeof(*q));
	ck_assert_ptr_nonnull(q);
	ck_assert_int_eq(gfm_lease_poll_req_decode(w.data, w.len, q), -EBADMSG);
	q->client = 1;
	q->n = GF_LEASE_POLL_MAX + 1;
	gf_wbuf_reset(&w);
	gfm_lease_poll_req_encode(&w, q);
	ck_assert_int_eq(w.err, -EINVAL);
	free(q);
	gf_wbuf_free(&w);
}
END_TEST

START_TEST(test_once_messages)
{
	struct gfm_once_req m, out;
	struct gfm_name_req in, in2;
	struct gf_wbuf w, inner;

	/* an UNLINK inside, decoded back through the envelope */
	memset(&in, 0, sizeof(in));
	fill_cred(&in.cred);
	in.parent = 42;
	strcpy(in.name, "victim");
	gf_wbuf_init(&inner);
	gfm_name_req_encode(&inner, &in);
	ck_assert_int_eq(inner.err, 0);
	m = (struct gfm_once_req){ .client = 1, .seq = 2, .acked = 1, .op = GFM_UNLINK,
				   .len = (uint32_t)inner.len, .payload = inner.data };
	gf_wbuf_init(&w);
	gfm_once_req_encode(&w, &m);
	ck_assert_int_eq(w.err, 0);
	ck_assert_int_eq(gfm_once_req_decode(w.data, w.len, &out), 0);
	ck_assert_uint_eq(out.client, 1);
	ck_assert_uint_eq(out.seq, 2);
	ck_assert_uint_eq(out.acked, 1);
	ck_assert_uint_eq(out.op, GFM_UNLINK);
	ck_assert_int_eq(gfm_name_req_decode(out.payload, out.len, &in2), 0);
	ck_assert_str_eq(in2.name, "victim");
	ck_assert_uint_eq(in2.parent, 42);
	gf_wbuf_free(&w);

	/* every op that may go inside, and ones that may not */
	static const uint16_t yes[] = { GFM_MKNOD, GFM_MKDIR, GFM_CREATE, GFM_UNLINK,
					GFM_RMDIR, GFM_RENAME, GFM_LINK, GFM_SYMLINK,
					GFM_SETXATTR, GFM_REMOVEXATTR, GFM_OPEN,
					GFM_IDMAP_SET, GFM_IDMAP_DEL };
	static const uint16_t no[] = { 0, GFM_LOOKUP, GFM_GETATTR, GFM_SETATTR,
				       GFM_READDIR, GFM_CLOSE_WRITE, GFM_ONCE,
				       GFM_HOST_REGISTER, GFM_IDMAP_LIST, GFS_WRITE,
				       GF_OP_AUTH, 0xffff };
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		ck_assert_msg(gf_once_op_ok(yes[i]), "%s", gf_op_name(yes[i]));
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		ck_assert_msg(!gf_once_op_ok(no[i]), "%s", gf_op_name(no[i]));
		m.op = no[i];
		gf_wbuf_init(&w);
		gfm_once_req_encode(&w, &m);
		ck_assert_int_eq(w.err, -EINVAL);
		gf_wbuf_free(&w);
		gf_wbuf_init(&w); /* as a peer could send it */
		gf_put_u64(&w, 1);
		gf_put_u64(&w, 2);
		gf_put_u64(&w, 1);
		gf_put_u16(&w, no[i]);
		gf_put_bytes(&w, inner.data, (uint32_t)inner.len);
		ck_assert_int_eq(gfm_once_req_decode(w.data, w.len, &out), -EBADMSG);
		ck_assert_ptr_null(out.payload);
		gf_wbuf_free(&w);
	}
	m.op = GFM_UNLINK;

	/* seq must be above acked (and so never 0) */
	static const uint64_t bad[][2] = { { 0, 0 }, { 5, 5 }, { 4, 5 }, { 1, UINT64_MAX } };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		m.seq = bad[i][0];
		m.acked = bad[i][1];
		gf_wbuf_init(&w);
		gfm_once_req_encode(&w, &m);
		ck_assert_int_eq(w.err, -EINVAL);
		gf_wbuf_free(&w);
		gf_wbuf_init(&w);
		gf_put_u64(&w, 1);
		gf_put_u64(&w, bad[i][0]);
		gf_put_u64(&w, bad[i][1]);
		gf_put_u16(&w, GFM_UNLINK);
		gf_put_bytes(&w, inner.data, (uint32_t)inner.len);
		ck_assert_int_eq(gfm_once_req_decode(w.data, w.len, &out), -EBADMSG);
		gf_wbuf_free(&w);
	}
	m.seq = UINT64_MAX;
	m.acked = UINT64_MAX - 1;
	gf_wbuf_init(&w);
	gfm_once_req_encode(&w, &m);
	ck_assert_int_eq(w.err, 0);
	ck_assert_int_eq(gfm_once_req_decode(w.data, w.len, &out), 0);
	gf_wbuf_free(&w);

	/* what it carries: up to GF_ONCE_PAYLOAD_MAX, so the frame fits */
	ck_assert_uint_le(GF_ONCE_PAYLOAD_MAX + 8 * 3 + 2 + 4, GF_MAX_PAYLOAD);
	uint8_t *big = calloc(1, GF_ONCE_PAYLOAD_MAX + 1);
	ck_assert_ptr_nonnull(big);
	m.payload = big;
	m.len = GF_ONCE_PAYLOAD_MAX;
	gf_wbuf_init(&w);
	gfm_once_req_encode(&w, &m);
	ck_assert_int_eq(w.err, 0);
	ck_assert_int_eq(gfm_once_req_decode(w.data, w.len, &out), 0);
	ck_assert_uint_eq(out.len, GF_ONCE_PAYLOAD_MAX);
	gf_wbuf_free(&w);
	m.len = GF_ONCE_PAYLOAD_MAX + 1;
	gf_wbuf_init(&w);
	gfm_once_req_encode(&w, &m);
	ck_assert_int_eq(w.err, -EINVAL);
	gf_wbuf_free(&w);
	gf_wbuf_init(&w);
	gf_put_u64(&w, 1);
	gf_put_u64(&w, 2);
	gf_put_u64(&w, 1);
	gf_put_u16(&w, GFM_UNLINK);
	gf_put_bytes(&w, big, GF_ONCE_PAYLOAD_MAX + 1);
	ck_assert_int_eq(gfm_once_req_decode(w.data, w.len, &out), -EBADMSG);
	gf_wbuf_free(&w);
	/* no payload pointer with a length */
	m.payload = NULL;
	m.len = 3;
	gf_wbuf_init(&w);
	gfm_once_req_encode(&w, &m);
	ck_assert_int_eq(w.err, -EINVAL);
	gf_wbuf_free(&w);
	free(big);
	gf_wbuf_free(&inner);
}
END_TEST

/* ---- random mutations ---------------------------------------------------------
 * A deterministic stand-in for the fuzzers in tests/fuzz/ that runs with any
 * compiler: every sample encoding, mutated MUTATIONS_PER_CODEC times with a
 * fixed-seed PRNG, goes to its decoder from an exact-size copy. The decoder
 * returns 0, -EBADMSG or -ENOMEM and nothing else; on failure it leaves
 * nothing to free; a mutant that decodes re-encodes to itself (the format
 * has one encoding per value), and that is a fixed point.
 */
#define MUTATIONS_PER_CODEC 500 /* × NCODECS ≈ 20,000 */

static uint64_t rng_state;

static uint64_t rng(void) /* xorshift64* */
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static size_t rng_below(size_t n)
{
	return n ? (size_t)(rng() % n) : 0;
}

/* Values that probe length and count checks. */
static uint32_t nasty_u32(uint32_t orig, size_t len, size_t off)
{
	switch (rng_below(10)) {
	case 0: return 0;
	case 1: return 1;
	case 2: return orig + 1;
	case 3: return orig - 1;
	case 4: return 0xffffffffu;
	case 5: return 0x7fffffffu;
	case 6: return 0x80000000u;
	case 7: return (uint32_t)(len - off);	     /* "the rest" */
	case 8: return (uint32_t)(len - off - 3);     /* a little less */
	default: return (uint32_t)rng_below(70000); /* near the bounds */
	}
}

/* One mutation of buf[0..*len) in place; cap bytes are available. */
static void mutate_once(uint8_t *buf, size_t *len, size_t cap)
{
	size_t n = *len, off;
	static const uint8_t special[] = { 0x00, 0xff, 0x7f, 0x80 };

	switch (rng_below(7)) {
	case 0: /* bit flip */
		if (n)
			buf[rng_below(n)] ^= (uint8_t)(1u << rng_below(8));
		break;
	case 1: /* interesting byte */
		if (n)
			buf[rng_below(n)] = special[rng_below(sizeof(special))];
		break;
	case 2: /* a u32 (length, count, ngroups) corrupted; strings and
		   counts start on these offsets as often as anywhere */
		if (n >= 4) {
			off = rng_below(n - 3);
			uint32_t v = ((uint32_t)buf[off] << 24) | ((uint32_t)buf[off + 1] << 16) |
				     ((uint32_t)buf[off + 2] << 8) | buf[off + 3];
			v = nasty_u32(v, n, off);
			buf[off] = (uint8_t)(v >> 24);
			buf[off + 1] = (uint8_t)(v >> 16);
			buf[off + 2] = (uint8_t)(v >> 8);
			buf[off + 3] = (uint8_t)v;
		}
		break;
	case 3: /* truncation */
		*len = rng_below(n + 1);
		break;
	case 4: /* insertion of 1..8 random bytes */
	{
		size_t k = 1 + rng_below(8);
		if (n + k > cap)
			break;
		off = rng_below(n + 1);
		memmove(buf + off + k, buf + off, n - off);
		for (size_t i = 0; i < k; i++)
			buf[off + i] = (uint8_t)rng();
		*len = n + k;
		break;
	}
	case 5: /* deletion of 1..8 bytes */
	{
		if (!n)
			break;
		off = rng_below(n);
		size_t k = 1 + rng_below(8);
		if (k > n - off)
			k = n - off;
		memmove(buf + off, buf + off + k, n - off - k);
		*len = n - k;
		break;
	}
	default: /* random byte */
		if (n)
			buf[rng_below(n)] = (uint8_t)rng();
		break;
	}
}

START_TEST(test_mutations)
{
	struct gf_wbuf w, w1, w2;
	size_t decoded = 0, total = 0;

	rng_state = 0x9e3779b97f4a7c15ull; /* fixed: the run is reproducible */
	gf_wbuf_init(&w1);
	gf_wbuf_init(&w2);
	for (int ci = 0; ci < NCODECS; ci++) {
		const struct codec *c = &codecs[ci];
		void *in = encode_sample(c, &w);
		void *out = malloc(c->size), *out2 = malloc(c->size);
		size_t cap = w.len + 64;
		uint8_t *work = malloc(cap);
		ck_assert_ptr_nonnull(out);
		ck_assert_ptr_nonnull(out2);
		ck_assert_ptr_nonnull(work);

		for (int k = 0; k < MUTATIONS_PER_CODEC; k++, total++) {
			size_t n = w.len;
			memcpy(work, w.data, n);
			int nmut = 1 + (int)rng_below(3);
			for (int j = 0; j < nmut; j++)
				mutate_once(work, &n, cap);

			uint8_t *buf = exact_copy(work, n);
			memset(out, 0xa5, c->size);
			int err = c->dec(buf, n, out);
			ck_assert_msg(err == 0 || err == -EBADMSG || err == -ENOMEM,
				      "%s: mutant %d: decode returned %d", c->name, k, err);
			if (err == 0) {
				decoded++;
				gf_wbuf_reset(&w1);
				c->enc(&w1, out);
				ck_assert_msg(w1.err == 0, "%s: mutant %d decodes but does not encode: %d",
					      c->name, k, w1.err);
				ck_assert_msg(w1.len == n && memcmp(w1.data, buf, n) == 0,
					      "%s: mutant %d re-encodes differently", c->name, k);
				memset(out2, 0xa5, c->size);
				ck_assert_int_eq(c->dec(w1.data, w1.len, out2), 0);
				gf_wbuf_reset(&w2);
				c->enc(&w2, out2);
				ck_assert_int_eq(w2.err, 0);
				ck_assert_msg(w2.len == w1.len && memcmp(w2.data, w1.data, w1.len) == 0,
					      "%s: mutant %d: not a fixed point", c->name, k);
				if (c->fini)
					c->fini(out2);
			}
			if (c->fini)
				c->fini(out); /* after a failure, a no-op */
			free(buf);
		}
		free(work);
		free(out2);
		free(out);
		release(c, in);
		gf_wbuf_free(&w);
	}
	gf_wbuf_free(&w1);
	gf_wbuf_free(&w2);
	ck_assert_uint_eq(total, (size_t)NCODECS * MUTATIONS_PER_CODEC);
	/* Some mutants must survive (a flipped data byte), or the test
	 * exercises nothing past the first bound check. */
	ck_assert_uint_gt(decoded, total / 50);
}
END_TEST

/* ---- seed corpus for tests/fuzz/fuzz_proto ---------------------------------------
 * check_proto --corpus DIR writes one file per message: the selector byte
 * (its index in the codec table, which follows proto.h) and the sample's
 * encoding. It runs as a test of its own, since the samples use ck_assert.
 */
/* The page service's bounds: counts, stamps and the data's exact length. */
START_TEST(test_page_messages)
{
	struct gfs_page_put_req put = { .owner = 1, .slot = 2, .stamp = 3, .npages = 1 };
	struct gfs_page_put_req back;
	struct gfs_page_get_req get;
	struct gfs_page_inval_req inv = { .owner = 1, .slot = 2, .npages = 0, .stamp = 1 };
	struct gf_wbuf w;
	uint8_t fixed[GFS_PAGE_PUT_FIXED];

	fill_blob();
	put.data = blob;
	gf_wbuf_init(&w);
	gfs_page_put_req_encode(&w, &put);
	ck_assert_int_eq(w.err, 0);
	ck_assert_uint_eq(w.len, GFS_PAGE_PUT_FIXED + GF_PAGE_SIZE);
	/* the fixed part alone is what the encoder writes first */
	gfs_page_put_fixed(fixed, &put);
	ck_assert_mem_eq(fixed, w.data, sizeof(fixed));
	ck_assert_int_eq(gfs_page_put_req_decode(w.data, w.len, &back), 0);
	ck_assert_ptr_eq(back.data, w.data + GFS_PAGE_PUT_FIXED);
	ck_assert_mem_eq(back.data, blob, GF_PAGE_SIZE);
	/* one byte short or long of the pages it names: refused */
	ck_assert_int_eq(gfs_page_put_req_decode(w.data, w.len - 1, &back), -EBADMSG);
	ck_assert_ptr_null(back.data);
	w.data[27] = 2; /* npages 2, one page of data */
	ck_assert_int_eq(gfs_page_put_req_decode(w.data, w.len, &back), -EBADMSG);
	w.data[27] = 0; /* npages 0 */
	ck_assert_int_eq(gfs_page_put_req_decode(w.data, w.len - GF_PAGE_SIZE, &back), -EBADMSG);
	w.data[27] = 1;
	memset(w.data + 16, 0, 8); /* stamp 0 */
	ck_assert_int_eq(gfs_page_put_req_decode(w.data, w.len, &back), -EBADMSG);
	gf_wbuf_free(&w);
	/* a punt: the owner's host, then exactly a put */
	struct gfs_page_punt_req punt = { .put = put }, pback;
	punt.put.stamp = 3;
	snprintf(punt.owner_host, sizeof(punt.owner_host), "node1");
	gf_wbuf_init(&w);
	gfs_page_punt_req_encode(&w, &punt);
	ck_assert_int_eq(w.err, 0);
	ck_assert_uint_eq(w.len, 4 + 5 + GFS_PAGE_PUT_FIXED + GF_PAGE_SIZE);
	ck_assert_int_eq(gfs_page_punt_req_decode(w.data, w.len, &pback), 0);
	ck_assert_str_eq(pback.owner_host, "node1");
	ck_assert_uint_eq(pback.put.owner, 1);
	ck_assert_mem_eq(pback.put.data, blob, GF_PAGE_SIZE);
	ck_assert_int_eq(gfs_page_punt_req_decode(w.data, w.len - 1, &pback), -EBADMSG);
	ck_assert_int_eq(gfs_page_punt_req_decode(w.data, 6, &pback), -EBADMSG);
	w.data[3] = 0xff; /* a host name longer than any */
	ck_assert_int_eq(gfs_page_punt_req_decode(w.data, w.len, &pback), -EBADMSG);
	gf_wbuf_free(&w);
	/* encoders refuse what decoders would */
	put.npages = GF_PAGE_BATCH + 1;
	gf_wbuf_init(&w);
	gfs_page_put_req_encode(&w, &put);
	ck_assert_int_eq(w.err, -EINVAL);
	gf_wbuf_free(&w);
	put.npages = 1;
	put.stamp = 0;
	gf_wbuf_init(&w);
	gfs_page_put_req_encode(&w, &put);
	ck_assert_int_eq(w.err, -EINVAL);
	gf_wbuf_free(&w);
	gf_wbuf_init(&w);
	gfs_page_inval_req_encode(&w, &inv);
	ck_assert_int_eq(w.err, -EINVAL);
	gf_wbuf_free(&w);
	/* a GET of more than a batch */
	gf_wbuf_init(&w);
	gf_put_u64(&w, 1);
	gf_put_u64(&w, 2);
	gf_put_u32(&w, GF_PAGE_BATCH + 1);
	ck_assert_int_eq(gfs_page_get_req_decode(w.data, w.len, &get), -EBADMSG);
	gf_wbuf_free(&w);
}
END_TEST

static const char *corpus_dir;

START_TEST(test_write_corpus)
{
	const struct codec *c = &codecs[_i];
	struct gf_wbuf w;
	char path[4096];
	void *m = encode_sample(c, &w);
	uint8_t sel = (uint8_t)_i;

	snprintf(path, sizeof(path), "%s/%02d-%s", corpus_dir, _i, c->name);
	FILE *f = fopen(path, "wb");
	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	ck_assert_uint_eq(fwrite(&sel, 1, 1, f), 1);
	ck_assert_uint_eq(fwrite(w.data, 1, w.len, f), w.len);
	ck_assert_int_eq(fclose(f), 0);
	release(c, m);
	gf_wbuf_free(&w);
}
END_TEST

static Suite *corpus_suite(void)
{
	Suite *s = suite_create("proto corpus");
	TCase *tc = tcase_create("write");
	tcase_add_loop_test(tc, test_write_corpus, 0, NCODECS);
	suite_add_tcase(s, tc);
	return s;
}

static Suite *proto_suite(void)
{
	Suite *s = suite_create("proto");

	TCase *tc = tcase_create("every message");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_roundtrip, 0, NCODECS);
	tcase_add_loop_test(tc, test_truncated_every_length, 0, NCODECS);
	tcase_add_loop_test(tc, test_trailing_garbage, 0, NCODECS);
	tcase_add_test(tc, test_mutations);
	suite_add_tcase(s, tc);

	tc = tcase_create("header and names");
	tcase_add_test(tc, test_hdr_roundtrip);
	tcase_add_test(tc, test_hdr_bad);
	tcase_add_test(tc, test_op_name);
	tcase_add_test(tc, test_check_name);
	suite_add_tcase(s, tc);

	tc = tcase_create("malformed");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_name_too_long);
	tcase_add_test(tc, test_embedded_nul);
	tcase_add_test(tc, test_ngroups);
	tcase_add_test(tc, test_count_limits);
	tcase_add_test(tc, test_count_beyond_payload);
	tcase_add_test(tc, test_decode_failure_frees);
	tcase_add_test(tc, test_dirs_limits);
	tcase_add_test(tc, test_nsec);
	tcase_add_test(tc, test_io_limits);
	tcase_add_test(tc, test_xattr_limits);
	tcase_add_test(tc, test_flag_bytes);
	tcase_add_test(tc, test_encoder_refusals);
	suite_add_tcase(s, tc);

	tc = tcase_create("fields");
	tcase_add_test(tc, test_readdir_fields);
	tcase_add_test(tc, test_host_list_fields);
	tcase_add_test(tc, test_replicas_messages);
	tcase_add_test(tc, test_idmap_messages);
	tcase_add_test(tc, test_once_messages);
	tcase_add_test(tc, test_lease_messages);
	tcase_add_test(tc, test_page_messages);
	suite_add_tcase(s, tc);
	return s;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--corpus") == 0)
		corpus_dir = argv[2];
	SRunner *sr = srunner_create(corpus_dir ? corpus_suite() : proto_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
