/*
 * gfmdbench — gfmd's own costs, without FUSE or a mount in the way. A
 * benchmark tool (bench/), not a test: it prints figures, never pass/fail.
 *
 *   gfmdbench CONFIG rtt [-n N]
 *       In a scratch directory under the root: N GETATTRs (a round trip
 *       that commits nothing) and N/4 chmods (a round trip plus one
 *       durable commit), one at a time. Prints the median of 5 rounds, in
 *       microseconds per call: "getattr_us X" and "chmod_us Y".
 *   gfmdbench CONFIG fill -n N [-t THREADS] [-d DIR] [-w BYTES]
 *       Makes N empty regular files (mknod) in directory DIR under the root
 *       (created if missing; default "fill"), 1000 per subdirectory, from
 *       THREADS threads at once (default 16, so group commit batches them).
 *       Prints "created N in S s (R/s)". With -w, each file is made as a
 *       writer makes it instead (GFM_CREATE, which places a replica on a
 *       gfsd, then GFM_CLOSE_WRITE of BYTES and GFM_RELEASE): the catalogue then holds one
 *       replica per file, as after real writes, but no gfsd holds the
 *       data (a catalogue for measuring gfmd, not files to read).
 *
 * CONFIG is a client configuration (gfmd_host, gfmd_port, key_file); calls
 * are made as root.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "config.h"

#define PROG "gfmdbench"

static void usage(FILE *fp)
{
	fprintf(fp, "usage: " PROG " CONFIG rtt [-n N]\n"
		    "       " PROG " CONFIG fill -n N [-t THREADS] [-d DIR] [-w BYTES]\n"
		    "  rtt   median microseconds of a GETATTR (no commit) and of a chmod\n"
		    "        (one durable commit), N and N/4 calls a round (default 2000)\n"
		    "  fill  make N empty files in DIR (default fill), 1000 per\n"
		    "        subdirectory, THREADS at once (default 16); -w: each made as\n"
		    "        a writer makes it (create, a replica placed, close at BYTES),\n"
		    "        with no data on any gfsd\n");
}

/* A whole decimal number in [min, max], or -1 (gf_parse_int). */
static long long number(const char *s, long long min, long long max)
{
	long long v;
	return gf_parse_int(s, min, max, &v) < 0 ? -1 : v;
}

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static const struct gf_cred ROOT_CRED = { 0, 0, 0, { 0 } };

/* ino of directory name under parent, made if missing */
static int dir_of(struct gfc *c, uint64_t parent, const char *name, uint64_t *ino)
{
	struct gf_attr a;
	int r = gfc_mkdir(c, &ROOT_CRED, parent, name, 0755, 022, &a);
	if (r == -EEXIST)
		r = gfc_lookup(c, &ROOT_CRED, parent, name, &a);
	if (r == 0)
		*ino = a.ino;
	return r;
}

static int do_rtt(struct gfc *c, long n)
{
	char name[64];
	uint64_t d;
	struct gf_attr a;
	double get[5], set[5];
	int r;

	snprintf(name, sizeof(name), "gfmdbench.%ld", (long)getpid());
	if ((r = dir_of(c, GF_ROOT_INO, name, &d)) < 0) {
		fprintf(stderr, PROG ": mkdir /%s: %s\n", name, strerror(-r));
		return 1;
	}
	struct gfm_setattr_req m;
	memset(&m, 0, sizeof(m));
	m.cred = ROOT_CRED;
	m.ino = d;
	m.valid = GF_SET_MODE;
	for (int round = 0; round < 5; round++) {
		double t0 = now_s();
		for (long i = 0; i < n; i++)
			if ((r = gfc_getattr(c, &ROOT_CRED, d, &a)) < 0)
				goto fail;
		get[round] = (now_s() - t0) / (double)n * 1e6;
		t0 = now_s();
		for (long i = 0; i < n / 4; i++) {
			m.mode = S_IFDIR | ((i & 1) ? 0755 : 0775);
			if ((r = gfc_setattr(c, &m, &a)) < 0)
				goto fail;
		}
		set[round] = (now_s() - t0) / (double)(n / 4) * 1e6;
	}
	gfc_rmdir(c, &ROOT_CRED, GF_ROOT_INO, name);
	qsort(get, 5, sizeof(double), cmp_double);
	qsort(set, 5, sizeof(double), cmp_double);
	printf("getattr_us %.1f\nchmod_us %.1f\n", get[2], set[2]);
	return 0;
fail:
	fprintf(stderr, PROG ": rtt: %s\n", strerror(-r));
	gfc_rmdir(c, &ROOT_CRED, GF_ROOT_INO, name);
	return 1;
}

struct fill {
	struct gfc *c;
	uint64_t top;
	long n;
	long long wbytes; /* -w: create + close_write at this size; <0: mknod */
	atomic_long next;
	atomic_int err;
};

/* A file as a writer leaves it: created with a replica, closed at f->wbytes.
 * o: the thread's reply buffer (big: GF_MAX_REPLICAS names). */
static int fill_written(struct fill *f, uint64_t dir, const char *name, struct gfm_open_rep *o)
{
	int r = gfc_create(f->c, &ROOT_CRED, dir, name, 0644, O_WRONLY | O_CREAT | O_EXCL, 022, o);
	if (r == 0) {
		struct gf_timespec mt = o->attr.mtime;
		struct gf_attr a;
		r = o->nreplicas == 1 ? gfc_close_write(f->c, &ROOT_CRED, o->attr.ino,
							o->replicas[0].fgen,
							(uint64_t)f->wbytes, &mt, 0,
							0, &a)
				      : -EPROTO;
		gfc_release(f->c, &ROOT_CRED, o->attr.ino); /* the writer is gone */
	}
	return r;
}

static void *fill_thread(void *arg)
{
	struct fill *f = arg;
	char name[32];
	uint64_t sub = 0;
	long cur_sub = -1;
	struct gfm_open_rep *o = f->wbytes >= 0 ? malloc(sizeof(*o)) : NULL;

	if (f->wbytes >= 0 && !o) {
		atomic_store(&f->err, -ENOMEM);
		return NULL;
	}
	for (;;) {
		long i = atomic_fetch_add(&f->next, 1);
		if (i >= f->n || atomic_load(&f->err))
			break;
		int r;
		if (i / 1000 != cur_sub) {
			cur_sub = i / 1000;
			snprintf(name, sizeof(name), "d%06ld", cur_sub);
			if ((r = dir_of(f->c, f->top, name, &sub)) < 0) {
				atomic_store(&f->err, r);
				break;
			}
		}
		struct gf_attr a;
		snprintf(name, sizeof(name), "f%07ld", i);
		if (f->wbytes >= 0)
			r = fill_written(f, sub, name, o);
		else
			r = gfc_mknod(f->c, &ROOT_CRED, sub, name, S_IFREG | 0644, 0, 022, &a);
		if (r < 0 && r != -EEXIST) {
			atomic_store(&f->err, r);
			break;
		}
	}
	free(o);
	return NULL;
}

static int do_fill(struct gfc *c, long n, int threads, const char *dir, long long wbytes)
{
	struct fill f = { .c = c, .n = n, .wbytes = wbytes };
	pthread_t tid[256];
	int r;

	if ((r = dir_of(c, GF_ROOT_INO, dir, &f.top)) < 0) {
		fprintf(stderr, PROG ": mkdir /%s: %s\n", dir, strerror(-r));
		return 1;
	}
	atomic_init(&f.next, 0);
	atomic_init(&f.err, 0);
	double t0 = now_s();
	for (int i = 0; i < threads; i++)
		if (pthread_create(&tid[i], NULL, fill_thread, &f) != 0) {
			fprintf(stderr, PROG ": cannot start a thread\n");
			atomic_store(&f.err, -EAGAIN);
			threads = i;
			break;
		}
	for (int i = 0; i < threads; i++)
		pthread_join(tid[i], NULL);
	double s = now_s() - t0;
	if ((r = atomic_load(&f.err)) < 0) {
		fprintf(stderr, PROG ": fill: %s\n", strerror(-r));
		return 1;
	}
	printf("created %ld in %.1f s (%.0f/s)\n", n, s, (double)n / s);
	return 0;
}

int main(int argc, char **argv)
{
	struct gf_config *cfg;
	struct gfc *c;
	char err[256];
	long n = 0;
	int threads = 16, opt;
	long long wbytes = -1;
	const char *dir = "fill";

	if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		usage(stdout);
		return 0;
	}
	if (argc < 3) {
		usage(stderr);
		return 2;
	}
	const char *conf = argv[1], *what = argv[2];
	optind = 3;
	while ((opt = getopt(argc, argv, "n:t:d:w:")) != -1) {
		switch (opt) {
		case 'n':
			n = (long)number(optarg, 1, LONG_MAX);
			break;
		case 't':
			threads = (int)number(optarg, 1, 256);
			break;
		case 'd':
			dir = optarg;
			break;
		case 'w':
			wbytes = number(optarg, 0, LLONG_MAX);
			if (wbytes < 0) {
				usage(stderr);
				return 2;
			}
			break;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (threads < 1 || threads > 256 || n < 0 || optind != argc) {
		usage(stderr);
		return 2;
	}
	if (gf_config_load(conf, &cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, PROG ": %s: %s\n", conf, err[0] ? err : "cannot load");
		return 1;
	}
	if (gfc_new(cfg, GF_PEER_CLIENT, &c, err, sizeof(err)) < 0 ||
	    gfc_connect(c, err, sizeof(err)) < 0) {
		fprintf(stderr, PROG ": %s\n", err);
		return 1;
	}
	int rc;
	if (!strcmp(what, "rtt"))
		rc = do_rtt(c, n ? n : 2000);
	else if (!strcmp(what, "fill") && n > 0)
		rc = do_fill(c, n, threads, dir, wbytes);
	else {
		usage(stderr);
		rc = 2;
	}
	gfc_free(c);
	gf_config_free(cfg);
	return rc;
}
