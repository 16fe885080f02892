/*
 * gfhost — the gfsd hosts gfmd knows, and one gfsd's counters.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "cmdutil.h"
#include "config.h"
#include "proto.h"

static struct cmd cmd = {
	.name = "gfhost",
	.synopsis =
	"  gfhost [-c CONFIG] [-H] [--human] [list]\n"
	"  gfhost [-c CONFIG] stats NAME|ADDR:PORT\n"
	"  gfhost [-c CONFIG] [--wait] drain NAME\n"
	"  gfhost [-c CONFIG] undrain NAME\n"
	"  gfhost [-c CONFIG] swap-lend NAME MIB|all\n",
	.help =
	"NAME\n"
	"  gfhost - list gfarmfs I/O hosts and show their counters\n"
	"\n"
	"SYNOPSIS\n"
	"  gfhost [-c CONFIG] [-H] [--human] [list]\n"
	"  gfhost [-c CONFIG] stats NAME|ADDR:PORT\n"
	"  gfhost [-c CONFIG] [--wait] drain NAME\n"
	"  gfhost [-c CONFIG] undrain NAME\n"
	"  gfhost [-c CONFIG] swap-lend NAME MIB|all\n"
	"\n"
	"DESCRIPTION\n"
	"  gfhost list (the default) asks gfmd for every registered gfsd and\n"
	"  prints one line per host, ordered by id:\n"
	"      ID         host id given by gfmd\n"
	"      NAME       registered host name\n"
	"      ADDR PORT  where clients reach its gfsd\n"
	"      STATE      up; down when it missed heartbeats; draining when\n"
	"                 up and being drained (see drain)\n"
	"      CAPACITY   spool file system size, bytes\n"
	"      FREE       spool free space, bytes\n"
	"      LOAD       1-minute load average\n"
	"      REPLICAS   number of replicas stored there\n"
	"      LAST-SEEN  time of the last heartbeat (local time), or -\n"
	"      SWAP SWAP-FREE  RAM it lends as network swap (gfswap(8)), and\n"
	"                 how much of that holds no page, bytes, as its last\n"
	"                 heartbeat said\n"
	"\n"
	"  gfhost swap-lend NAME MIB has gfsd NAME lend at most MIB MiB of RAM\n"
	"  as network swap (gfswap(8)) from now on, until the next start or\n"
	"  swap-lend NAME all (back to swap_cache_mb). Pages above it move to\n"
	"  other gfsd with room at once (their owners learn where), or are\n"
	"  dropped when none has room (their owners copy their other copy\n"
	"  again); the memory goes back to the system. Needs an admin key.\n"
	"\n"
	"  gfhost stats connects to one gfsd, named by its registered NAME (looked\n"
	"  up through gfmd) or given as ADDR:PORT ([ADDR]:PORT for IPv6), and\n"
	"  prints its counters as \"key value\" lines, values in bytes or counts:\n"
	"      read_local read_remote written_local written_remote fds_passed\n"
	"      open_handles capacity free heartbeats dead_removed orphans_removed\n"
	"      writers_cut sealed corrupt corrupt_reported copies copies_followed\n"
	"      copy_blocks_mended sealing\n"
	"  and its swap page cache's (network swap, gfswap(8)):\n"
	"      swap_pages_total swap_pages_used swap_pages_free swap_locked_bytes\n"
	"      swap_owners swap_puts swap_gets swap_get_misses swap_stale_puts\n"
	"      swap_invalidated swap_refused swap_punted swap_dropped\n"
	"      swap_expired (pages, except locked bytes) swap_owners_located\n"
	"  (swap_owners: owners with pages held; swap_owners_located: those\n"
	"  whose host is known, where their pages are never moved on to)\n"
	"  *_local count bytes clients moved through a passed file descriptor,\n"
	"  *_remote bytes sent over the network. heartbeats: answered by gfmd;\n"
	"  dead_removed: dead replicas deleted as gfmd asked (or found gone);\n"
	"  orphans_removed:\n"
	"  files that no live replica named, removed by the orphan scan;\n"
	"  writers_cut: replicas cut back to gfmd's size before a first writer\n"
	"  (bytes a crashed writer had left beyond it); sealed: replicas whose\n"
	"  block checksums were written (at a last writer's close, or a copy);\n"
	"  corrupt: reads and checks that met a block failing its checksum;\n"
	"  corrupt_reported: corrupt replicas gfmd was told of; copies: replicas\n"
	"  copied here from another gfsd; copies_followed: those copied while\n"
	"  their file was being written (gfmd starts them for a file with a\n"
	"  replica count above 1 once it is large); copy_blocks_mended: blocks\n"
	"  of such copies fetched again because the writer rewrote them;\n"
	"  sealing: replicas whose last writer closed and whose checksums are\n"
	"  being written now, in the background (a reader or a copy of one waits\n"
	"  for them; a new writer too).\n"
	"\n"
	"  gfhost drain NAME moves every replica off host NAME before it is\n"
	"  retired (root only; kept by gfmd across restarts): from then on it\n"
	"  gets no new data while another host is up, and gfmd copies each file\n"
	"  it holds to other hosts (as many as the file's replica count, see\n"
	"  gfncopy) and only then removes the replica there, so no file ever has\n"
	"  fewer replicas than its count. It prints how many replicas are left;\n"
	"  with --wait it follows the count down and says when the host holds\n"
	"  nothing and can be removed (interrupt it at any time: the drain goes\n"
	"  on). A host that is down cannot give up the replicas only it holds.\n"
	"  gfhost undrain NAME ends a drain.\n"
	"\n"
	"OPTIONS\n"
	"  -w, --wait\n"
	"      drain: wait until the host holds no replica.\n"
	"  -H, --no-header\n"
	"      list: do not print the header line.\n"
	"  --human\n"
	"      list: print sizes as 1.5G etc. instead of bytes.\n"
	CMD_HELP_COMMON_OPTIONS
	"\n"
	CMD_HELP_GFMD_CONFIG
	"\n"
	CMD_HELP_ENVIRONMENT
	"\n"
	CMD_HELP_EXIT_STATUS
	"\n"
	"EXAMPLES\n"
	"  gfhost\n"
	"  gfhost -H list | awk '$5 == \"down\" { print $2 }'\n"
	"  gfhost stats node-01 | awk '$1 == \"read_remote\" { print $2 }'\n",
};

static int no_header;
static int human;
static int wait_drain;

static int by_id(const void *a, const void *b)
{
	const struct gf_host_info *x = a, *y = b;
	return (x->host_id > y->host_id) - (x->host_id < y->host_id);
}

static const char *size_str(char buf[32], uint64_t v)
{
	if (human)
		return cmd_human(buf, v);
	snprintf(buf, 32, "%" PRIu64, v);
	return buf;
}

static int list_main(struct gfc *g, int argc, char **argv)
{
	static const char *const heads[] = { "ID", "NAME", "ADDR", "PORT", "STATE",
		"CAPACITY", "FREE", "LOAD", "REPLICAS", "LAST-SEEN", "SWAP", "SWAP-FREE" };
	struct gfm_host_list_rep hl = { 0 };
	struct cmd_table t;
	int r, rc = CMD_FAIL;

	if (argc > 1)
		cmd_usage(&cmd, "list takes no arguments");
	r = gfc_host_list(g, &hl);
	if (r < 0) {
		cmd_err(&cmd, "host list from gfmd: %s", strerror(-r));
		return CMD_FAIL;
	}
	if (hl.count > 1) /* hosts is NULL when there are none */
		qsort(hl.hosts, hl.count, sizeof(*hl.hosts), by_id);

	cmd_table_init(&t, 12, heads, "rllrlrrrrlrr");
	for (uint32_t i = 0; i < hl.count; i++) {
		const struct gf_host_info *h = &hl.hosts[i];
		char id[16], port[8], cap[32], fr[32], load[32], nrep[32], seen[64], sw[32], swf[32];
		snprintf(id, sizeof(id), "%" PRIu32, h->host_id);
		snprintf(port, sizeof(port), "%u", h->port);
		snprintf(load, sizeof(load), "%u.%02u", h->load_milli / 1000,
			 (h->load_milli % 1000) / 10);
		snprintf(nrep, sizeof(nrep), "%" PRIu64, h->nreplicas);
		strcpy(seen, "-");
		if (h->last_seen > 0) {
			time_t ts = (time_t)h->last_seen;
			struct tm tm;
			if (localtime_r(&ts, &tm))
				strftime(seen, sizeof(seen), "%Y-%m-%dT%H:%M:%S", &tm);
		}
		const char *row[] = { id, h->name[0] ? h->name : "-",
			h->addr[0] ? h->addr : "-", port,
			!h->up ? "down" : h->draining ? "draining" : "up",
			size_str(cap, h->capacity), size_str(fr, h->free), load, nrep,
			seen, size_str(sw, h->swap_total * GF_PAGE_SIZE),
			size_str(swf, h->swap_free * GF_PAGE_SIZE) };
		if (cmd_table_add(&t, row) < 0) {
			cmd_err(&cmd, "%s", strerror(ENOMEM));
			goto out;
		}
	}
	cmd_table_print(&t, !no_header);
	rc = CMD_OK;
out:
	cmd_table_free(&t);
	gfm_host_list_rep_free(&hl);
	return rc;
}

/* "ADDR:PORT" or "[ADDR]:PORT" into addr/port; 0, or -EINVAL when target
 * is not of that form (then it is a host name). */
static int parse_addr_port(const char *target, char *addr, size_t addrsz,
			   uint16_t *port)
{
	const char *colon, *a = target;
	size_t alen;
	char *end;

	if (target[0] == '[') {
		const char *close = strchr(target, ']');
		if (!close || close[1] != ':')
			return -EINVAL;
		a = target + 1;
		alen = (size_t)(close - a);
		colon = close + 1;
	} else {
		colon = strrchr(target, ':');
		if (!colon || strchr(target, ':') != colon)
			return -EINVAL; /* none, or a bare IPv6 address */
		alen = (size_t)(colon - target);
	}
	if (alen == 0 || alen >= addrsz)
		return -EINVAL;
	errno = 0;
	unsigned long p = strtoul(colon + 1, &end, 10);
	if (errno || end == colon + 1 || *end || p == 0 || p > 65535)
		return -EINVAL;
	memcpy(addr, a, alen);
	addr[alen] = '\0';
	*port = (uint16_t)p;
	return 0;
}

/* NAME (registered) or ADDR:PORT of a gfsd into addr/port; said on error. */
static int resolve_gfsd(struct gfc *g, const char *target, char *addr, size_t addrlen,
			uint16_t *port)
{
	int r;

	if (parse_addr_port(target, addr, addrlen, port) < 0) {
		struct gfm_host_list_rep hl = { 0 };
		const struct gf_host_info *found = NULL;

		if (strchr(target, ':'))
			cmd_usage(&cmd, "'%s' is neither a host name nor ADDR:PORT", target);
		if (cmd_gfmd_connect(&cmd, g) < 0)
			return -1;
		r = gfc_host_list(g, &hl);
		if (r < 0) {
			cmd_err(&cmd, "host list from gfmd: %s", strerror(-r));
			return -1;
		}
		for (uint32_t i = 0; i < hl.count && !found; i++)
			if (strcmp(hl.hosts[i].name, target) == 0)
				found = &hl.hosts[i];
		for (uint32_t i = 0; i < hl.count && !found; i++)
			if (strcmp(hl.hosts[i].addr, target) == 0)
				found = &hl.hosts[i];
		if (found) {
			snprintf(addr, addrlen, "%s", found->addr);
			*port = found->port;
		}
		gfm_host_list_rep_free(&hl);
		if (!found) {
			cmd_err(&cmd, "no host named %s is registered with gfmd "
				"(see gfhost list)", target);
			return -1;
		}
	}
	return 0;
}

static int swap_lend_main(struct gfc *g, int argc, char **argv)
{
	char addr[GF_HOST_MAX + 1], *end;
	uint16_t port = 0;
	uint64_t pages = UINT64_MAX;
	int r;

	if (argc != 3)
		cmd_usage(&cmd, "swap-lend needs a host NAME and MIB (or 'all')");
	if (strcmp(argv[2], "all") != 0) {
		errno = 0;
		unsigned long long mib = strtoull(argv[2], &end, 10);
		if (errno || *end || end == argv[2] || argv[2][0] == '-' || mib > (1ull << 40))
			cmd_usage(&cmd, "swap-lend: '%s' is not a number of MiB or 'all'", argv[2]);
		pages = mib * 256;
	}
	if (resolve_gfsd(g, argv[1], addr, sizeof(addr), &port) < 0)
		return CMD_FAIL;
	r = gfc_gfsd_page_cap(g, addr, port, pages);
	if (r < 0) {
		cmd_err(&cmd, "swap-lend at gfsd %s:%u: %s", addr, port, strerror(-r));
		return CMD_FAIL;
	}
	if (pages == UINT64_MAX)
		printf("%s lends its swap page cache in full again\n", argv[1]);
	else
		printf("%s lends at most %s MiB as swap now; pages above it move to other "
		       "gfsd\n", argv[1], argv[2]);
	return CMD_OK;
}

static int stats_main(struct gfc *g, int argc, char **argv)
{
	char addr[GF_HOST_MAX + 1];
	uint16_t port = 0;
	struct gfs_stats_rep st;
	int r;

	if (argc != 2)
		cmd_usage(&cmd, "stats needs one NAME or ADDR:PORT");
	if (resolve_gfsd(g, argv[1], addr, sizeof(addr), &port) < 0)
		return CMD_FAIL;
	r = gfc_gfsd_stats(g, addr, port, &st);
	if (r < 0) {
		cmd_err(&cmd, "stats from gfsd at %s:%u: %s", addr, port, strerror(-r));
		return CMD_FAIL;
	}
	printf("read_local %" PRIu64 "\n", st.read_local);
	printf("read_remote %" PRIu64 "\n", st.read_remote);
	printf("written_local %" PRIu64 "\n", st.written_local);
	printf("written_remote %" PRIu64 "\n", st.written_remote);
	printf("fds_passed %" PRIu64 "\n", st.fds_passed);
	printf("open_handles %" PRIu64 "\n", st.open_handles);
	printf("capacity %" PRIu64 "\n", st.capacity);
	printf("free %" PRIu64 "\n", st.free);
	printf("heartbeats %" PRIu64 "\n", st.heartbeats);
	printf("dead_removed %" PRIu64 "\n", st.dead_removed);
	printf("orphans_removed %" PRIu64 "\n", st.orphans_removed);
	printf("writers_cut %" PRIu64 "\n", st.writers_cut);
	printf("sealed %" PRIu64 "\n", st.sealed);
	printf("corrupt %" PRIu64 "\n", st.corrupt);
	printf("corrupt_reported %" PRIu64 "\n", st.corrupt_reported);
	printf("copies %" PRIu64 "\n", st.copies);
	printf("copies_followed %" PRIu64 "\n", st.copies_followed);
	printf("copy_blocks_mended %" PRIu64 "\n", st.copy_blocks_mended);
	printf("sealing %" PRIu64 "\n", st.sealing);
	struct gfs_page_stats_rep ps;
	r = gfc_gfsd_page_stats(g, addr, port, &ps);
	if (r < 0) {
		cmd_err(&cmd, "swap page stats from gfsd at %s:%u: %s", addr, port, strerror(-r));
		return CMD_FAIL;
	}
	printf("swap_pages_total %" PRIu64 "\n", ps.total);
	printf("swap_pages_used %" PRIu64 "\n", ps.used);
	printf("swap_pages_free %" PRIu64 "\n", ps.free);
	printf("swap_locked_bytes %" PRIu64 "\n", ps.locked);
	printf("swap_owners %" PRIu64 "\n", ps.owners);
	printf("swap_puts %" PRIu64 "\n", ps.puts);
	printf("swap_gets %" PRIu64 "\n", ps.gets);
	printf("swap_get_misses %" PRIu64 "\n", ps.get_misses);
	printf("swap_stale_puts %" PRIu64 "\n", ps.stale_puts);
	printf("swap_invalidated %" PRIu64 "\n", ps.invalidated);
	printf("swap_refused %" PRIu64 "\n", ps.refused);
	printf("swap_punted %" PRIu64 "\n", ps.punted);
	printf("swap_dropped %" PRIu64 "\n", ps.dropped);
	printf("swap_expired %" PRIu64 "\n", ps.expired);
	printf("swap_owners_located %" PRIu64 "\n", ps.owners_located);
	return CMD_OK;
}

/* The host named name in a fresh list: 0 and *out, or -errno (said). */
static int find_host(struct gfc *g, const char *name, struct gf_host_info *out)
{
	struct gfm_host_list_rep hl = { 0 };
	int r = gfc_host_list(g, &hl);
	if (r < 0) {
		cmd_err(&cmd, "host list from gfmd: %s", strerror(-r));
		return r;
	}
	r = -ENOENT;
	for (uint32_t i = 0; i < hl.count; i++)
		if (strcmp(hl.hosts[i].name, name) == 0) {
			*out = hl.hosts[i];
			r = 0;
		}
	gfm_host_list_rep_free(&hl);
	if (r < 0)
		cmd_err(&cmd, "no host named %s is registered with gfmd (see gfhost list)", name);
	return r;
}

static int drain_set(struct gfc *g, const char *name, int on)
{
	struct gf_host_info h;
	struct gfm_host_drain_req m;
	int r;

	if (find_host(g, name, &h) < 0)
		return CMD_FAIL;
	memset(&m, 0, sizeof(m));
	m.cred.uid = (uint32_t)geteuid();
	m.cred.gid = (uint32_t)getegid();
	m.host_id = h.host_id;
	m.on = (uint8_t)on;
	if ((r = gfc_host_drain(g, &m)) < 0) {
		cmd_err(&cmd, "%s %s: %s", on ? "drain" : "undrain", name,
			r == -EPERM ? "only root may do that" : strerror(-r));
		return CMD_FAIL;
	}
	return CMD_OK;
}

static int drain_main(struct gfc *g, int argc, char **argv)
{
	const char *name = argv[1];
	struct gf_host_info h;
	uint64_t last = UINT64_MAX;
	int said_down = 0;

	if (drain_set(g, name, 1) != CMD_OK)
		return CMD_FAIL;
	for (;;) {
		if (find_host(g, name, &h) < 0)
			return CMD_FAIL;
		if (h.nreplicas == 0) {
			printf("%s holds no replica: it can be removed\n", name);
			return CMD_OK;
		}
		if (!wait_drain) {
			printf("%s is draining: %" PRIu64 " replica%s to move (gfhost list shows "
			       "how many are left; gfhost --wait drain %s waits)\n", name,
			       h.nreplicas, h.nreplicas == 1 ? "" : "s", name);
			return CMD_OK;
		}
		if (h.nreplicas != last) {
			printf("%s: %" PRIu64 " replica%s left\n", name, h.nreplicas,
			       h.nreplicas == 1 ? "" : "s");
			fflush(stdout);
			last = h.nreplicas;
		}
		if (!h.up && !said_down) {
			cmd_err(&cmd, "%s is down: replicas that only it holds cannot move until "
				"it is back", name);
			said_down = 1;
		} else if (h.up) {
			said_down = 0;
		}
		sleep(1);
	}
}

static int undrain_main(struct gfc *g, int argc, char **argv)
{
	if (drain_set(g, argv[1], 0) != CMD_OK)
		return CMD_FAIL;
	printf("%s is no longer draining\n", argv[1]);
	return CMD_OK;
}

static const struct cmd_sub subcommands[] = {
	{ "list", list_main, 1, 0, "list takes no arguments" },
	{ "stats", stats_main, 0, 1, "stats needs one NAME or ADDR:PORT" },
	{ "swap-lend", swap_lend_main, 0, 2, "swap-lend needs a host NAME and MIB (or 'all')" },
	{ "drain", drain_main, 1, 1, "drain needs one host NAME" },
	{ "undrain", undrain_main, 1, 1, "undrain needs one host NAME" },
};

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "no-header", no_argument, NULL, 'H' },
		{ "human", no_argument, NULL, 'U' },
		{ "wait", no_argument, NULL, 'w' },
		{ 0 },
	};
	struct gf_config *cfg = NULL;
	struct gfc *g = NULL;
	int ch, rc;

	cmd_init(&cmd, argc, argv);
	while ((ch = cmd_getopt(&cmd, argc, argv, "Hw", longopts)) != -1) {
		switch (ch) {
		case 'w':
			wait_drain = 1;
			break;
		case 'H':
			no_header = 1;
			break;
		case 'U':
			human = 1;
			break;
		default:
			cmd_usage(&cmd, "unexpected option");
		}
	}
	const struct cmd_sub *sub = cmd_subcommand(
		&cmd, subcommands, sizeof(subcommands) / sizeof(subcommands[0]), &argc, &argv);

	if (cmd_open(&cmd, sub->connect, &cfg, &g) < 0)
		return CMD_FAIL;
	rc = sub->fn(g, argc, argv);
	gfc_free(g);
	gf_config_free(cfg);
	return rc;
}
