/*
 * gffsck — compare gfmd's replica catalogue with what every gfsd's spool
 * holds; report (and with --repair, repair) what does not agree.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client.h"
#include "cmdutil.h"
#include "config.h"
#include "csum.h"
#include "proto.h"

static struct cmd cmd = {
	.name = "gffsck",
	.synopsis = "  gffsck [-c CONFIG] [--verify] [--repair] [-q]\n",
	.help =
	"NAME\n"
	"  gffsck - check gfarmfs replicas against the spools that hold them\n"
	"\n"
	"SYNOPSIS\n"
	"  gffsck [-c CONFIG] [--verify] [--repair] [-q]\n"
	"\n"
	"DESCRIPTION\n"
	"  For every host whose gfsd is up, gffsck lists the replica files in\n"
	"  its spool (with their sizes), then the replicas gfmd's catalogue says\n"
	"  that host holds, and compares them (in this order, so that a file\n"
	"  made while it runs is not taken for an orphan; a replica that looks\n"
	"  missing or short is looked at again before it is judged):\n"
	"      missing   the catalogue names a current replica whose spool file\n"
	"                is gone (a file never written has none: that is fine)\n"
	"      short     a current replica's spool file is shorter than the file:\n"
	"                data is missing from it\n"
	"      orphan    a spool file that no replica names (a crash left it;\n"
	"                gfsd's orphan scan removes such files every\n"
	"                orphan_scan_s)\n"
	"      stale     a replica of an older generation, left by a write\n"
	"                elsewhere; not a problem: gfmd refreshes or removes it\n"
	"                once the writers are done (counted, not reported)\n"
	"      corrupt   (with --verify) a block of the replica fails its\n"
	"                checksum; its gfsd tells gfmd, which stops serving it\n"
	"                and has another copy made to replace it, when the file\n"
	"                has another current replica\n"
	"      unsealed  (with --verify) a replica without checksums: gfsd or\n"
	"                its machine crashed while it was written; it is read\n"
	"                unchecked until sealed\n"
	"  A replica gfmd already knows to be corrupt and is replacing is noted,\n"
	"  not counted.\n"
	"  A spool file longer than the file is noted but not counted: a writer\n"
	"  that has not told gfmd how far it wrote has such a replica. Hosts that\n"
	"  are down are not checked (said so). Each problem is one line on\n"
	"  standard output: HOST, inode, the replica's file generation (hex, as\n"
	"  in the spool file name) and what is wrong; then a summary.\n"
	"\n"
	"  With --repair: a missing or short replica of a file that has another\n"
	"  current replica is removed from the catalogue, and gfmd's repair makes\n"
	"  a new one from another (see gfncopy); one that is the file's only\n"
	"  current replica cannot be repaired and is reported as lost. Hosts with\n"
	"  orphans are asked for an orphan scan now. A corrupt replica is\n"
	"  repaired by gfmd once the file has another current replica (it is\n"
	"  lost otherwise); an unsealed one is sealed: its checksums are\n"
	"  computed from what it holds now. Run it as root.\n"
	"\n"
	"OPTIONS\n"
	"  --verify\n"
	"      Have each gfsd read every current replica whole and check it\n"
	"      against its checksums (this reads all the data: it takes as long\n"
	"      as reading every spool).\n"
	"  --repair\n"
	"      Repair what can be repaired, as above.\n"
	"  -q, --quiet\n"
	"      Only the problems, no summary.\n"
	CMD_HELP_COMMON_OPTIONS
	"\n"
	CMD_HELP_GFMD_CONFIG
	"\n"
	"EXIT STATUS\n"
	"  0  no problem found, or every one found was repaired\n"
	"  1  problems remain (each is reported), a host could not be checked,\n"
	"     or a runtime error\n"
	"  2  usage error\n"
	"\n"
	CMD_HELP_ENVIRONMENT,
};

struct counts {
	uint64_t checked, missing, shortr, orphans, stale, longr, lost, repaired;
	uint64_t corrupt, unsealed, replacing;
	uint32_t hosts, down;
};

struct name {
	uint64_t ino, fgen;
};

static int cmp_ent(uint64_t ai, uint64_t af, uint64_t bi, uint64_t bf)
{
	if (ai != bi)
		return ai < bi ? -1 : 1;
	return af < bf ? -1 : af > bf;
}

static int name_cmp(const void *x, const void *y)
{
	const struct name *a = x, *b = y;
	return cmp_ent(a->ino, a->fgen, b->ino, b->fgen);
}

/* The spool of h: every file with its size, sorted. */
static int list_spool(struct gfc *g, const struct gf_host_info *h, struct gfs_list_ent **out,
		      size_t *n)
{
	struct gfs_list_req q = { .max = GFS_LIST_MAX };
	size_t cap = 0;
	*out = NULL;
	*n = 0;
	for (;;) {
		struct gfs_list_rep rep = { 0 };
		int r = gfc_gfsd_list(g, h->addr, h->port, &q, &rep);
		if (r < 0)
			return r;
		if (*n + rep.count > cap) {
			cap = (*n + rep.count) * 2;
			struct gfs_list_ent *v = realloc(*out, cap * sizeof(*v));
			if (!v) {
				gfs_list_rep_free(&rep);
				return -ENOMEM;
			}
			*out = v;
		}
		if (rep.count)
			memcpy(*out + *n, rep.ents, rep.count * sizeof(*rep.ents));
		*n += rep.count;
		int eof = rep.eof || rep.count == 0;
		if (rep.count) {
			q.after_ino = rep.ents[rep.count - 1].ino;
			q.after_fgen = rep.ents[rep.count - 1].fgen;
		}
		gfs_list_rep_free(&rep);
		if (eof)
			return 0;
	}
}

/* The catalogue's replica files on h, sorted. */
static int list_catalogue(struct gfc *g, const struct gf_host_info *h, struct name **out,
			  size_t *n)
{
	struct gfm_host_replicas_req q = { .host_id = h->host_id, .max = GF_HOST_REPLICAS_MAX };
	size_t cap = 0;
	*out = NULL;
	*n = 0;
	for (;;) {
		struct gfm_host_replicas_rep rep = { 0 };
		int r = gfc_host_replicas(g, &q, &rep);
		if (r < 0)
			return r;
		if (*n + rep.count > cap) {
			cap = (*n + rep.count) * 2;
			struct name *v = realloc(*out, cap * sizeof(*v));
			if (!v) {
				gfm_host_replicas_rep_free(&rep);
				return -ENOMEM;
			}
			*out = v;
		}
		for (uint32_t i = 0; i < rep.count; i++)
			(*out)[*n + i] = (struct name){ rep.ents[i].ino, rep.ents[i].gen };
		*n += rep.count;
		int eof = rep.eof || rep.count == 0;
		if (rep.count)
			q.after = rep.ents[rep.count - 1].ino;
		gfm_host_replicas_rep_free(&rep);
		if (eof)
			break;
	}
	if (*n > 1)
		qsort(*out, *n, sizeof(**out), name_cmp);
	return 0;
}

static const struct gf_cred ROOT = { 0, 0, 0, { 0 } };

/* The spool of h now: the size of file (ino, fgen), or -1 when there is none
 * (or it cannot be told). */
static int64_t spool_now(struct gfc *g, const struct gf_host_info *h, uint64_t ino,
			 uint64_t fgen)
{
	struct gfs_list_req q = { .after_ino = fgen ? ino : ino - 1,
				  .after_fgen = fgen ? fgen - 1 : UINT64_MAX, .max = 1 };
	struct gfs_list_rep rep = { 0 };
	int64_t size = -1;
	if (gfc_gfsd_list(g, h->addr, h->port, &q, &rep) == 0 && rep.count == 1 &&
	    rep.ents[0].ino == ino && rep.ents[0].fgen == fgen)
		size = (int64_t)rep.ents[0].size;
	gfs_list_rep_free(&rep);
	return size;
}

/*
 * A catalogue entry of host h: what the catalogue says of it now, and what
 * the spool has (have: -1 no file, else its size).
 */
/* --verify of a current replica that is all there (others: the file's other
 * current replicas). */
static void verify_one(struct gfc *g, const struct gf_host_info *h, const struct name *e,
		       uint32_t others, int repair, struct counts *c)
{
	struct gfs_verify_req q = { .ino = e->ino, .fgen = e->fgen,
				    .flags = repair ? GFS_VERIFY_SEAL : 0 };
	struct gfs_verify_rep v;
	int r = gfc_gfsd_verify(g, h->addr, h->port, &q, &v);
	if (r == -ENOENT)
		return; /* removed meanwhile */
	if (r < 0) {
		cmd_err(&cmd, "%s: inode %" PRIu64 " file %016" PRIx64 ": verifying: %s", h->name,
			e->ino, e->fgen, strerror(-r));
		c->lost++; /* not checked: counted as a problem */
		c->corrupt++;
		return;
	}
	if (v.state == GFS_VERIFY_CORRUPT) {
		c->corrupt++;
		printf("%s: inode %" PRIu64 " file %016" PRIx64 ": corrupt: block %" PRIu64
		       " (bytes from %" PRIu64 ") fails its checksum\n", h->name, e->ino, e->fgen,
		       v.bad_block, v.bad_block * GF_CSUM_BLOCK);
		if (!repair)
			return;
		if (others == 0) {
			c->lost++;
			printf("%s: inode %" PRIu64 ": cannot repair: no other current replica\n",
			       h->name, e->ino);
		} else {
			c->repaired++;
			printf("%s: inode %" PRIu64 ": repaired: gfmd is told; it replaces the "
			       "replica with a copy of another\n", h->name, e->ino);
		}
	} else if (v.state == GFS_VERIFY_UNSEALED || v.state == GFS_VERIFY_SEALED_NOW) {
		c->unsealed++;
		printf("%s: inode %" PRIu64 " file %016" PRIx64 ": unsealed: no checksums\n",
		       h->name, e->ino, e->fgen);
		if (v.state == GFS_VERIFY_SEALED_NOW) {
			c->repaired++;
			printf("%s: inode %" PRIu64 ": repaired: sealed (%" PRIu64 " bytes)\n",
			       h->name, e->ino, v.size);
		}
	}
}

static void check_one(struct gfc *g, const struct gf_host_info *h, const struct name *e,
		      int64_t have, int repair, int verify, struct counts *c,
		      struct gfm_open_rep *rep)
{
	if (gfc_replicas_all(g, &ROOT, e->ino, rep) < 0)
		return; /* removed meanwhile */
	const struct gf_replica *me = NULL;
	uint32_t others = 0;
	for (uint32_t i = 0; i < rep->nreplicas; i++) {
		const struct gf_replica *x = &rep->replicas[i];
		if (x->host_id == h->host_id && x->fgen == e->fgen)
			me = x;
		else if (x->gen == rep->attr.gen)
			others++;
	}
	if (!me)
		return; /* changed meanwhile (a copy that ended, a replica removed) */
	c->checked++;
	if (me->gen == GF_GEN_CORRUPT) {
		c->replacing++;
		printf("%s: inode %" PRIu64 " file %016" PRIx64 ": note: corrupt; gfmd is "
		       "replacing it\n", h->name, e->ino, e->fgen);
		return;
	}
	if (me->gen != rep->attr.gen) {
		c->stale++;
		return;
	}
	/* the spool was listed before the catalogue: a replica made (or
	 * written) since looks missing or short there; ask again */
	if ((have < 0 && rep->attr.size > 0) || (have >= 0 && (uint64_t)have < rep->attr.size)) {
		have = spool_now(g, h, e->ino, e->fgen);
		/* and still a current replica of the same size? (removed, or
		 * written, meanwhile: nothing to judge) */
		uint64_t size = rep->attr.size;
		int still = 0;
		if (gfc_replicas_all(g, &ROOT, e->ino, rep) == 0 && rep->attr.size == size)
			for (uint32_t i = 0; i < rep->nreplicas; i++)
				still |= rep->replicas[i].host_id == h->host_id &&
					 rep->replicas[i].fgen == e->fgen &&
					 rep->replicas[i].gen == rep->attr.gen;
		if (!still)
			return;
	}
	const char *what = NULL;
	if (have < 0 && rep->attr.size > 0) {
		what = "missing: its spool file is gone";
		c->missing++;
	} else if (have >= 0 && (uint64_t)have < rep->attr.size) {
		what = "short: its spool file lacks data the file has";
		c->shortr++;
	} else if (have >= 0 && (uint64_t)have > rep->attr.size) {
		c->longr++;
		printf("%s: inode %" PRIu64 " file %016" PRIx64 ": note: %" PRId64 " bytes, the "
		       "file %" PRIu64 " (a writer's bytes gfmd has not heard of yet?)\n", h->name,
		       e->ino, e->fgen, have, rep->attr.size);
		return;
	}
	if (!what) {
		if (verify && have >= 0)
			verify_one(g, h, e, others, repair, c);
		return;
	}
	printf("%s: inode %" PRIu64 " file %016" PRIx64 ": %s (%" PRId64 " of %" PRIu64
	       " bytes)\n", h->name, e->ino, e->fgen, what, have < 0 ? 0 : have, rep->attr.size);
	if (!repair)
		return;
	if (others == 0) {
		c->lost++;
		printf("%s: inode %" PRIu64 ": cannot repair: no other current replica\n", h->name,
		       e->ino);
		return;
	}
	struct gfm_replica_drop_req m = { .cred = ROOT, .ino = e->ino, .host_id = h->host_id,
					  .keep = 1 };
	int r = gfc_replica_drop(g, &m);
	if (r == 0) {
		c->repaired++;
		printf("%s: inode %" PRIu64 ": repaired: the bad replica is removed; gfmd makes a "
		       "new one from another\n", h->name, e->ino);
	} else {
		cmd_err(&cmd, "%s: inode %" PRIu64 ": removing the bad replica: %s", h->name,
			e->ino, strerror(-r));
	}
}

static int check_host(struct gfc *g, const struct gf_host_info *h, int repair, int verify,
		      struct counts *c, struct gfm_open_rep *rep)
{
	struct gfs_list_ent *s = NULL;
	struct name *cat = NULL;
	size_t ns = 0, nc = 0, i = 0, j = 0;
	uint64_t orphans = 0;
	/* the spool first: a replica file exists only once gfmd has it */
	int r = list_spool(g, h, &s, &ns);
	if (r < 0) {
		cmd_err(&cmd, "%s: listing its spool: %s", h->name, strerror(-r));
		goto out;
	}
	if ((r = list_catalogue(g, h, &cat, &nc)) < 0) {
		cmd_err(&cmd, "%s: its replicas from gfmd: %s", h->name, strerror(-r));
		goto out;
	}
	while (i < nc || j < ns) {
		int d = i == nc ? 1 : j == ns ? -1 : cmp_ent(cat[i].ino, cat[i].fgen, s[j].ino, s[j].fgen);
		if (d < 0) {
			check_one(g, h, &cat[i], -1, repair, verify, c, rep);
			i++;
		} else if (d > 0) {
			orphans++;
			printf("%s: inode %" PRIu64 " file %016" PRIx64 ": orphan: no replica names "
			       "this spool file (%" PRIu64 " bytes)\n", h->name, s[j].ino, s[j].fgen,
			       s[j].size);
			j++;
		} else {
			check_one(g, h, &cat[i], (int64_t)s[j].size, repair, verify, c, rep);
			i++;
			j++;
		}
	}
	c->orphans += orphans;
	if (repair && orphans) {
		r = gfc_gfsd_orphan_scan(g, h->addr, h->port);
		if (r == 0) {
			c->repaired += orphans;
			printf("%s: repaired: its gfsd runs an orphan scan now\n", h->name);
		} else {
			cmd_err(&cmd, "%s: asking for an orphan scan: %s", h->name, strerror(-r));
		}
	}
	r = 0;
out:
	free(s);
	free(cat);
	return r;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "repair", no_argument, NULL, 'R' },
		{ "verify", no_argument, NULL, 'V' },
		{ "quiet", no_argument, NULL, 'q' },
		{ NULL, 0, NULL, 0 },
	};
	struct gf_config *cfg = NULL;
	struct gfc *g = NULL;
	struct gfm_host_list_rep hl = { 0 };
	struct counts c = { 0 };
	int opt, repair = 0, verify = 0, quiet = 0, bad = 0, r;

	cmd_init(&cmd, argc, argv);
	while ((opt = cmd_getopt(&cmd, argc, argv, "q", longopts)) != -1) {
		switch (opt) {
		case 'R': repair = 1; break;
		case 'V': verify = 1; break;
		case 'q': quiet = 1; break;
		default: cmd_usage(&cmd, "unknown option");
		}
	}
	if (optind < argc)
		cmd_usage(&cmd, "gffsck takes no operands");
	if (cmd_open(&cmd, 1, &cfg, &g) < 0)
		return CMD_FAIL;
	if ((r = gfc_host_list(g, &hl)) < 0) {
		cmd_err(&cmd, "host list from gfmd: %s", strerror(-r));
		return CMD_FAIL;
	}
	struct gfm_open_rep *rep = malloc(sizeof(*rep));
	if (!rep) {
		cmd_err(&cmd, "%s", strerror(ENOMEM));
		return CMD_FAIL;
	}
	for (uint32_t i = 0; i < hl.count; i++) {
		const struct gf_host_info *h = &hl.hosts[i];
		if (!h->up) {
			c.down++;
			cmd_err(&cmd, "%s: its gfsd is down: not checked", h->name);
			continue;
		}
		c.hosts++;
		if (check_host(g, h, repair, verify, &c, rep) < 0)
			bad = 1;
	}
	uint64_t problems = c.missing + c.shortr + c.orphans + c.corrupt + c.unsealed;
	if (!quiet) {
		printf("gffsck: %u host%s checked", c.hosts, c.hosts == 1 ? "" : "s");
		if (c.down)
			printf(" (%u down, not checked)", c.down);
		printf(", %" PRIu64 " replicas: %" PRIu64 " missing, %" PRIu64 " short, %" PRIu64
		       " orphans", c.checked, c.missing, c.shortr, c.orphans);
		if (verify)
			printf(", %" PRIu64 " corrupt, %" PRIu64 " unsealed", c.corrupt, c.unsealed);
		printf("; %" PRIu64 " stale (gfmd refreshes or removes them)", c.stale);
		if (c.replacing)
			printf("; %" PRIu64 " corrupt being replaced", c.replacing);
		if (repair)
			printf("; %" PRIu64 " repaired, %" PRIu64 " lost", c.repaired, c.lost);
		printf("\n");
	}
	free(rep);
	gfm_host_list_rep_free(&hl);
	gfc_free(g);
	gf_config_free(cfg);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		cmd_err(&cmd, "writing standard output: %s", strerror(errno));
		return CMD_FAIL;
	}
	if (bad || c.down)
		return CMD_FAIL;
	return problems == 0 || (repair && c.repaired == problems) ? CMD_OK : CMD_FAIL;
}
