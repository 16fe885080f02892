/*
 * check_journal.c — gfmd's journal (gfmd/journal.h) and the change-list
 * encoding it stores (gf_changes_encode/decode): every kind of change comes
 * back as it went in; records are read back in order; a torn tail, a bad
 * checksum, a ticket that does not follow, or garbage end the journal
 * without applying anything of it, and appends go on after the last good
 * record; a file of another cluster, a file that is not a journal and a
 * journal locked by someone else are refused; a new epoch drops every
 * record and survives a reopen.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "changes.h"
#include "journal.h"

static const uint8_t ID[GF_CLUSTER_ID_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
static char dir[64], path[96];
static char why[512];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/check_journal.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/j", dir);
}

static void teardown(void)
{
	unlink(path);
	rmdir(dir);
}

/* A list with one change of every kind, told apart by seed. */
static void sample(struct gf_changes *c, uint64_t seed)
{
	gf_changes_init(c);
	struct gf_change *ch = gf_changes_add(c, GF_CHG_INODE_PUT, 0, 0, 0, NULL, 0, "target", 6, 1);
	ch->attr.ino = 100 + seed;
	ch->attr.mode = 0100644;
	ch->attr.nlink = 2;
	ch->attr.uid = 1000;
	ch->attr.gid = 1001;
	ch->attr.size = 12345 + seed;
	ch->attr.rdev = 7;
	ch->attr.gen = 9;
	ch->attr.blocks = 24;
	ch->attr.mtime.sec = -5;
	ch->attr.mtime.nsec = 999999999;
	ch->attr.ctime.sec = 1700000000;
	gf_changes_add(c, GF_CHG_INODE_DEL, 5 + seed, 0, 0, NULL, 0, NULL, 0, 0);
	gf_changes_add(c, GF_CHG_DIRENT_PUT, 1, 100 + seed, 77, "na\0me\xff", 6, NULL, 0, 0);
	gf_changes_add(c, GF_CHG_DIRENT_DEL, 1, 0, 0, "", 0, NULL, 0, 0);
	gf_changes_add(c, GF_CHG_XATTR_PUT, 100, 0, 0, "user.x", 6, "", 0, 1);
	gf_changes_add(c, GF_CHG_XATTR_DEL, 100, 0, 0, "user.y", 6, NULL, 0, 0);
	gf_changes_add(c, GF_CHG_REPLICA_PUT, 100, 3, 4, NULL, 0, NULL, 0, 0)->d = 5;
	gf_changes_add(c, GF_CHG_REPLICA_DEL, 100, 3, 0, NULL, 0, NULL, 0, 0);
	gf_changes_add(c, GF_CHG_DEAD_PUT, 100, 3, 4, NULL, 0, NULL, 0, 0);
	gf_changes_add(c, GF_CHG_DEAD_DEL, 100, 3, 4, NULL, 0, NULL, 0, 0);
	ch = gf_changes_add(c, GF_CHG_HOST_PUT, 0, 0, 0, NULL, 0, NULL, 0, 0);
	ch->host.host_id = 3;
	strcpy(ch->host.name, "node3");
	strcpy(ch->host.addr, "10.0.0.3");
	ch->host.port = 601;
	ch->host.capacity = 1ull << 40;
	ch->host.free = 1ull << 39;
	ch->host.draining = 1;
	gf_changes_add(c, GF_CHG_NEXT_INO, 1000 + seed, 0, 0, NULL, 0, NULL, 0, 0);
	gf_changes_add(c, GF_CHG_IDMAP_PUT, 1, 1000, 0, "alice", 5, NULL, 0, 0);
	gf_changes_add(c, GF_CHG_IDMAP_DEL, 2, 1001, 0, "staff", 5, NULL, 0, 0);
	gf_changes_add(c, GF_CHG_ONCE_PUT, 0xfedcba9876543210ull, 8, 100, NULL, 0, NULL, 0, 0)->d =
		3 | GF_ONCE_CREATED;
	gf_changes_add(c, GF_CHG_ONCE_DEL, 42, UINT64_MAX, 0, NULL, 0, NULL, 0, 0);
	ck_assert_int_eq(c->err, 0);
}

static void assert_same(const struct gf_changes *x, const struct gf_changes *y)
{
	ck_assert_uint_eq(x->n, y->n);
	for (size_t i = 0; i < x->n; i++) {
		const struct gf_change *a = &x->v[i], *b = &y->v[i];
		ck_assert_int_eq(a->kind, b->kind);
		ck_assert_uint_eq(a->a, b->a);
		ck_assert_uint_eq(a->b, b->b);
		ck_assert_uint_eq(a->c, b->c);
		ck_assert_uint_eq(a->d, b->d);
		if (a->kind == GF_CHG_INODE_PUT)
			ck_assert_mem_eq(&a->attr, &b->attr, sizeof(a->attr));
		if (a->kind == GF_CHG_HOST_PUT)
			ck_assert_mem_eq(&a->host, &b->host, sizeof(a->host));
		ck_assert_int_eq(a->name != NULL, b->name != NULL);
		if (a->name) {
			ck_assert_uint_eq(a->name_len, b->name_len);
			ck_assert_mem_eq(a->name, b->name, a->name_len);
			ck_assert_int_eq(b->name[b->name_len], 0);
		}
		ck_assert_int_eq(a->has_blob, b->has_blob);
		if (a->has_blob) {
			ck_assert_uint_eq(a->blob_len, b->blob_len);
			if (a->blob_len)
				ck_assert_mem_eq(a->blob, b->blob, a->blob_len);
		}
	}
}

START_TEST(test_encoding)
{
	struct gf_changes c, d;
	sample(&c, 1);
	struct gf_wbuf w;
	gf_wbuf_init(&w);
	gf_changes_encode(&w, &c);
	ck_assert_int_eq(w.err, 0);
	struct gf_rbuf r;
	gf_rbuf_init(&r, w.data, w.len);
	gf_changes_init(&d);
	ck_assert_int_eq(gf_changes_decode(&r, &d), 0);
	ck_assert_uint_eq(r.off, w.len);
	assert_same(&c, &d);
	gf_changes_free(&d);
	/* every cut of it is refused, never read past */
	for (size_t cut = 0; cut < w.len; cut++) {
		gf_rbuf_init(&r, w.data, cut);
		gf_changes_init(&d);
		ck_assert_int_ne(gf_changes_decode(&r, &d), 0);
		gf_changes_free(&d);
	}
	/* an unknown kind is refused */
	w.data[4] = 99;
	gf_rbuf_init(&r, w.data, w.len);
	gf_changes_init(&d);
	ck_assert_int_eq(gf_changes_decode(&r, &d), -EINVAL);
	gf_changes_free(&d);
	gf_wbuf_free(&w);
	gf_changes_free(&c);
}
END_TEST

struct seen {
	uint64_t tickets[64];
	struct gf_changes lists[64];
	int n;
};

static int collect(void *arg, uint64_t ticket, struct gf_changes *c)
{
	struct seen *s = arg;
	ck_assert_int_lt(s->n, 64);
	s->tickets[s->n] = ticket;
	gf_changes_init(&s->lists[s->n]);
	ck_assert_int_eq(gf_changes_move(&s->lists[s->n], c), 0);
	s->n++;
	return 0;
}

static void seen_free(struct seen *s)
{
	for (int i = 0; i < s->n; i++)
		gf_changes_free(&s->lists[i]);
	s->n = 0;
}

static struct gf_journal *open_ok(void)
{
	struct gf_journal *j;
	int rc = gf_journal_open(path, ID, &j, why, sizeof(why));
	ck_assert_msg(rc == 0, "open: %d %s", rc, why);
	return j;
}

/* tickets first..first+n-1, list i told apart by its ticket */
static void append_n(struct gf_journal *j, uint64_t first, int n)
{
	for (int i = 0; i < n; i++) {
		struct gf_changes c;
		sample(&c, first + (uint64_t)i);
		ck_assert_int_eq(gf_journal_append(j, first + (uint64_t)i, &c), 0);
		gf_changes_free(&c);
	}
}

static void read_all(struct gf_journal *j, struct seen *s, uint64_t *records, uint64_t *tail)
{
	ck_assert_int_eq(gf_journal_read(j, collect, s, records, tail), 0);
}

START_TEST(test_append_read)
{
	struct gf_journal *j = open_ok();
	ck_assert_uint_eq(gf_journal_epoch(j), 0);
	ck_assert_uint_eq(gf_journal_bytes(j), 0);
	append_n(j, 7, 5);
	ck_assert_uint_gt(gf_journal_bytes(j), 0);
	gf_journal_close(j);

	j = open_ok();
	struct seen s = { .n = 0 };
	uint64_t records, tail;
	read_all(j, &s, &records, &tail);
	ck_assert_uint_eq(records, 5);
	ck_assert_uint_eq(tail, 0);
	for (int i = 0; i < 5; i++) {
		ck_assert_uint_eq(s.tickets[i], 7 + (uint64_t)i);
		struct gf_changes c;
		sample(&c, 7 + (uint64_t)i);
		assert_same(&c, &s.lists[i]);
		gf_changes_free(&c);
	}
	seen_free(&s);
	/* appends go on at the end */
	append_n(j, 12, 1);
	gf_journal_close(j);
	j = open_ok();
	read_all(j, &s, &records, &tail);
	ck_assert_uint_eq(records, 6);
	seen_free(&s);
	gf_journal_close(j);
}
END_TEST

/* apply: count (arg[0]) and the last ticket (arg[1]) */
static int count_last(void *arg, uint64_t ticket, struct gf_changes *c)
{
	(void)c;
	uint64_t *a = arg;
	a[0]++;
	a[1] = ticket;
	return 0;
}

/* The file grows by whole MiB of zeros that records then overwrite: its
 * size stays ahead of the records, a reopen appends after the last record
 * (not after the zeros), and records across a growth read back. */
START_TEST(test_grown_in_steps)
{
	struct gf_journal *j = open_ok();
	append_n(j, 1, 3);
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_size, 1 << 20);
	uint64_t used = GF_JOURNAL_HEADER + gf_journal_bytes(j);
	gf_journal_close(j);

	j = open_ok();
	struct seen s = { .n = 0 };
	uint64_t records, tail;
	read_all(j, &s, &records, &tail);
	ck_assert_uint_eq(records, 3);
	ck_assert_uint_eq(tail, 0);
	ck_assert_uint_eq(GF_JOURNAL_HEADER + gf_journal_bytes(j), used);
	seen_free(&s);
	/* past the first MiB */
	uint64_t n = 0;
	while (GF_JOURNAL_HEADER + gf_journal_bytes(j) < (1 << 20) + 4096) {
		append_n(j, 4 + n, 1);
		n++;
	}
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_size, 2 << 20);
	gf_journal_close(j);
	j = open_ok();
	uint64_t last[2] = { 0, 0 };
	ck_assert_int_eq(gf_journal_read(j, count_last, last, &records, &tail), 0);
	ck_assert_uint_eq(records, 3 + n);
	ck_assert_uint_eq(last[0], 3 + n);
	ck_assert_uint_eq(last[1], 3 + n);
	ck_assert_uint_eq(tail, 0);
	/* emptied: back to the header alone, and growing again from there */
	ck_assert_int_eq(gf_journal_truncate(j), 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_size, GF_JOURNAL_HEADER);
	append_n(j, 100, 1);
	ck_assert_int_eq(gf_journal_sync(j), 0);
	gf_journal_close(j);
	j = open_ok();
	read_all(j, &s, &records, &tail);
	ck_assert_uint_eq(records, 1);
	ck_assert_uint_eq(s.tickets[0], 100);
	seen_free(&s);
	gf_journal_close(j);
}
END_TEST

/* Damage the file after 3 good records in several ways: each time the 3
 * are read, nothing of the damage is applied, and a new append lands after
 * the 3 and is read back. */
START_TEST(test_bad_tails)
{
	for (int how = 0; how < 5; how++) {
		unlink(path);
		struct gf_journal *j = open_ok();
		append_n(j, 1, 3);
		uint64_t good = GF_JOURNAL_HEADER + gf_journal_bytes(j);
		append_n(j, 4, 1);
		uint64_t full = GF_JOURNAL_HEADER + gf_journal_bytes(j);
		gf_journal_close(j);
		int fd = open(path, O_RDWR);
		ck_assert_int_ge(fd, 0);
		if (how == 0) { /* torn: half of the 4th record */
			ck_assert_int_eq(ftruncate(fd, (off_t)(good + (full - good) / 2)), 0);
		} else if (how == 1) { /* a flipped byte in the 4th record's changes */
			uint8_t b;
			ck_assert_int_eq(pread(fd, &b, 1, (off_t)(full - 3)), 1);
			b ^= 0x40;
			ck_assert_int_eq(pwrite(fd, &b, 1, (off_t)(full - 3)), 1);
		} else if (how == 2) { /* zeros, as a page that never reached the disk */
			char z[4096] = { 0 };
			ck_assert_int_eq(pwrite(fd, z, sizeof(z), (off_t)good), (ssize_t)sizeof(z));
		} else if (how == 3) { /* a stale record: ticket 2 again after 3 */
			j = NULL;
			close(fd);
			unlink(path);
			j = open_ok();
			append_n(j, 1, 3);
			append_n(j, 2, 1);
			gf_journal_close(j);
			fd = open(path, O_RDWR);
		} else { /* a length past the end */
			uint8_t big[4] = { 0x00, 0xff, 0xff, 0xff };
			ck_assert_int_eq(pwrite(fd, big, 4, (off_t)good), 4);
		}
		close(fd);
		j = open_ok();
		struct seen s = { .n = 0 };
		uint64_t records, tail;
		read_all(j, &s, &records, &tail);
		ck_assert_msg(records == 3, "damage %d: %llu records", how,
			      (unsigned long long)records);
		/* zeros read as room made for more records (journal.c grows
		 * the file with zeros), the rest as a torn tail */
		if (how == 2)
			ck_assert_msg(tail == 0, "zeros: a tail of %llu", (unsigned long long)tail);
		else
			ck_assert_msg(tail > 0, "damage %d: no tail", how);
		ck_assert_uint_eq(s.tickets[2], 3);
		seen_free(&s);
		append_n(j, 4, 1);
		gf_journal_close(j);
		j = open_ok();
		read_all(j, &s, &records, &tail);
		ck_assert_msg(records == 4 && tail == 0, "damage %d: after an append %llu, %llu",
			      how, (unsigned long long)records, (unsigned long long)tail);
		seen_free(&s);
		gf_journal_close(j);
	}
}
END_TEST

static int refuse(void *arg, uint64_t ticket, struct gf_changes *c)
{
	(void)c;
	int *n = arg;
	return ++*n == 2 ? -ENOSPC : (int)(ticket & 0);
}

START_TEST(test_apply_error_stops)
{
	struct gf_journal *j = open_ok();
	append_n(j, 1, 4);
	int n = 0;
	uint64_t records, tail;
	ck_assert_int_eq(gf_journal_read(j, refuse, &n, &records, &tail), -ENOSPC);
	ck_assert_int_eq(n, 2);
	ck_assert_uint_eq(records, 1);
	gf_journal_close(j);
}
END_TEST

START_TEST(test_refusals)
{
	struct gf_journal *j = open_ok();
	append_n(j, 1, 1);
	/* locked: another opener (another process: flock is per open file) */
	pid_t pid = fork();
	if (pid == 0) {
		struct gf_journal *k;
		int rc = gf_journal_open(path, ID, &k, why, sizeof(why));
		_exit(rc == -EBUSY && strstr(why, "in use") ? 0 : 1);
	}
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_int_eq(WEXITSTATUS(st), 0);
	gf_journal_close(j);

	/* another cluster's */
	uint8_t other[GF_CLUSTER_ID_LEN];
	memcpy(other, ID, sizeof(other));
	other[0] ^= 1;
	ck_assert_int_eq(gf_journal_open(path, other, &j, why, sizeof(why)), -EXDEV);
	ck_assert_ptr_nonnull(strstr(why, "belongs to cluster"));

	/* not a journal: the file is left as it was */
	FILE *f = fopen(path, "w");
	fputs("this is not a journal, but it is long enough to have a header\n", f);
	fclose(f);
	struct stat a, b;
	ck_assert_int_eq(stat(path, &a), 0);
	ck_assert_int_eq(gf_journal_open(path, ID, &j, why, sizeof(why)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(why, "not a gfmd journal"));
	ck_assert_int_eq(stat(path, &b), 0);
	ck_assert_int_eq(a.st_size, b.st_size);

	/* a directory where the file should be */
	unlink(path);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	ck_assert_int_lt(gf_journal_open(path, ID, &j, why, sizeof(why)), 0);
	ck_assert_ptr_nonnull(strstr(why, path));
	rmdir(path);
}
END_TEST

START_TEST(test_epoch_truncate)
{
	struct gf_journal *j = open_ok();
	append_n(j, 1, 3);
	ck_assert_int_eq(gf_journal_new_epoch(j, 5), 0);
	ck_assert_uint_eq(gf_journal_bytes(j), 0);
	append_n(j, 1, 2);
	gf_journal_close(j);
	j = open_ok();
	ck_assert_uint_eq(gf_journal_epoch(j), 5);
	struct seen s = { .n = 0 };
	uint64_t records, tail;
	read_all(j, &s, &records, &tail);
	ck_assert_uint_eq(records, 2);
	seen_free(&s);
	/* truncate keeps the epoch; tickets go on from where they were */
	ck_assert_int_eq(gf_journal_truncate(j), 0);
	append_n(j, 3, 2);
	gf_journal_close(j);
	j = open_ok();
	ck_assert_uint_eq(gf_journal_epoch(j), 5);
	read_all(j, &s, &records, &tail);
	ck_assert_uint_eq(records, 2);
	ck_assert_uint_eq(s.tickets[0], 3);
	seen_free(&s);
	gf_journal_close(j);
}
END_TEST

static Suite *journal_suite(void)
{
	Suite *s = suite_create("journal");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_encoding);
	tcase_add_test(tc, test_append_read);
	tcase_add_test(tc, test_bad_tails);
	tcase_add_test(tc, test_grown_in_steps);
	tcase_add_test(tc, test_apply_error_stops);
	tcase_add_test(tc, test_refusals);
	tcase_add_test(tc, test_epoch_truncate);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(journal_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
