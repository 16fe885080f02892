/*
 * gfsd — the gfarmfs I/O daemon: one per node, serving the replicas in its
 * spool to clients over TCP and a local UNIX socket, registered with gfmd.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "auth.h"
#include "config.h"
#include "daemon.h"
#include "log.h"
#include "net.h"
#include "load.h"
#include "registrar.h"
#include "server.h"
#include "pages.h"
#include "pagesvc.h"
#include "service.h"
#include "services.h"
#include "spool.h"

static const char usage_text[] =
"NAME\n"
"    gfsd - gfarmfs I/O daemon\n"
"\n"
"SYNOPSIS\n"
"    gfsd -c CONFIG [-f] [-d] [-L LEVEL] [-l LOGFILE] [-P PIDFILE]\n"
"    gfsd -h | --help\n"
"    gfsd -V | --version\n"
"\n"
"DESCRIPTION\n"
"    gfsd runs on every node that lends its disk to gfarmfs. It keeps file\n"
"    replicas in a spool directory, named by inode number and generation\n"
"    (SPOOL/data/XX/<ino>-<gen>), never by user path, and serves reads and\n"
"    writes on them to mount.gfarmfs and the gf* commands:\n"
"\n"
"      - over TCP (gfsd_listen:gfsd_port) for clients on other hosts;\n"
"      - over a UNIX socket (gfsd_socket) for clients on this host, which\n"
"        may ask for the open replica file descriptor itself and then read\n"
"        and write it directly, so that local data never crosses a socket.\n"
"\n"
"    Every connection is authenticated with the shared key. What a client\n"
"    wrote is in the page cache when its write returns, so it survives a\n"
"    crash of gfsd; fsync(2) on the mount makes it survive a crash of the\n"
"    machine (close does not flush, as on a local disk, unless\n"
"    fsync_on_close is set). A full spool answers ENOSPC and gfsd goes on\n"
"    serving.\n"
"\n"
"    Before the first writer of an existing replica writes, gfsd asks gfmd\n"
"    for the file's committed size and cuts anything beyond it: bytes a\n"
"    crashed writer left there never reappear.\n"
"\n"
"    gfsd registers with gfmd (name, address, port, capacity, free space),\n"
"    sends a heartbeat every heartbeat_ms with its free space and load, and\n"
"    deletes the replicas gfmd reports dead (once their death is committed).\n"
"    It serves clients even while gfmd is unreachable: it logs the outage\n"
"    once, retries every few seconds, and registers again when gfmd is back.\n"
"    After it first registers, and every orphan_scan_s seconds, it removes\n"
"    the spool files that no live replica names (left by crashes).\n"
"\n"
"    gfsd also lends idle RAM to other nodes as network swap (gfswap(8)):\n"
"    their pages are kept in locked memory that grows in chunks as pages\n"
"    come, up to swap_cache_mb and only while the host keeps\n"
"    swap_reserve_mb of MemAvailable for itself. What is free is told to\n"
"    gfmd in every heartbeat; gfswap clients choose servers by it.\n"
"\n"
"OPTIONS\n"
"    -c, --config CONFIG    configuration file (required)\n"
"    -f, --foreground       stay in the foreground (log to stderr unless a\n"
"                           log file is set)\n"
"    -d, --debug            log level debug; implies -f\n"
"    -L, --log-level LEVEL  error, warn, info (default) or debug; overrides\n"
"                           log_level\n"
"    -l, --log-file FILE    append the log to FILE; overrides log_file.\n"
"                           Without one, a detached gfsd logs nothing once\n"
"                           it has started.\n"
"    -P, --pid-file FILE    write the daemon's pid to FILE; overrides pid_file\n"
"    -h, --help             show this text\n"
"    -V, --version          show the version\n"
"\n"
"CONFIGURATION\n"
"    The file holds 'key = value' lines (# starts a comment). gfsd reads:\n"
"    spool           replica directory (required); created if missing\n"
"    gfsd_listen     address of the TCP listener (default 0.0.0.0)\n"
"    gfsd_port       TCP port (default 6601); 0 picks a free port, which is\n"
"                    the one registered with gfmd\n"
"    gfsd_addr       address gfmd hands to clients to reach this gfsd\n"
"                    (default: the host name)\n"
"    gfsd_socket     UNIX socket for local clients (default SPOOL/gfsd.sock)\n"
"    hostname        this node's name (default: gethostname())\n"
"    gfmd_host       host of gfmd (default localhost)\n"
"    gfmd_port       port of gfmd (default 6600)\n"
"    key_file        shared secret, at least 32 bytes (required)\n"
"    load_source     how the load sent with heartbeats is measured: 'system'\n"
"                    (the kernel's 1-minute load average, default) or 'netns'\n"
"                    (runnable tasks in gfsd's network namespace, averaged over\n"
"                    a minute: for hosts made of namespaces on one machine)\n"
"    heartbeat_ms    heartbeat period in ms (default 1000; gfmd may ask\n"
"                    for a shorter one)\n"
"    orphan_scan_s   seconds between orphan scans (default 3600; 0: only\n"
"                    the one after start-up)\n"
"    swap_cache_mb   most RAM lent as network swap, in MiB (default: a\n"
"                    quarter of the machine's RAM; 0: none)\n"
"    swap_reserve_mb MemAvailable kept for the host itself, in MiB (default:\n"
"                    a tenth of its RAM, at least 256)\n"
"    swap_owner_lease_s\n"
"                    seconds after which the swap pages of a gfswap that\n"
"                    no longer asks anything are dropped (default 600; a\n"
"                    live one asks every few seconds; 0: never)\n"
"    fsync_on_close  yes: closing a written file flushes it to disk too\n"
"                    (default no: only fsync(2) does, as on a local disk)\n"
"    seal_gate       for tests only: an absolute path; while a file exists\n"
"                    there, each replica's sealing (its block checksums,\n"
"                    written in the background after its last writer's\n"
"                    close) waits (default: none); a stopping gfsd does not\n"
"                    wait\n"
"    peer_send_timeout_ms\n"
"                    a peer that takes none of its replies for this long, or\n"
"                    stops this long inside a request, is disconnected\n"
"                    (default 30000); it holds back only its own requests\n"
"                    meanwhile\n"
"    log_level, log_file, pid_file\n"
"                    as the options above\n"
"    Other keys of the common file format are accepted and ignored.\n"
"\n"
"SIGNALS\n"
"    SIGTERM, SIGINT  stop accepting, finish the requests in progress,\n"
"                     close every connection and exit 0.\n"
"    SIGHUP           ignored.\n"
"\n"
"EXIT STATUS\n"
"    0 after a clean stop; 1 when start-up fails (the reason is logged and\n"
"    also printed on stderr, detaching or not), and 1 when the spool turns\n"
"    out to belong to another cluster than gfmd's: SPOOL/cluster_id, written\n"
"    at the first registration, names the cluster; such a gfsd deletes\n"
"    nothing, logs both cluster ids and stops.\n"
"\n"
"EXAMPLE\n"
"    # /etc/gfarmfs/gfarmfs.conf\n"
"    gfmd_host = meta1\n"
"    key_file  = /etc/gfarmfs/key\n"
"    spool     = /var/spool/gfarmfs\n"
"\n"
"    gfsd -c /etc/gfarmfs/gfarmfs.conf\n";

/* Every connection and every open handle is an fd; 256 more are the spool's. */
static void raise_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int main(int argc, char **argv)
{
	struct gf_daemon d = { .name = "gfsd" };
	int rc = gf_daemon_parse_args(&d, argc, argv, usage_text);
	if (rc >= 0)
		return rc;
	gf_daemon_load_config(&d);
	const struct gf_config *cfg = d.cfg;
	const char *config_path = d.config_path;

	/* Everything from the configuration, checked before anything starts. */
	const char *spool_path = gf_config_str(cfg, "spool", NULL);
	if (!spool_path || !*spool_path)
		gf_fatal("gfsd: %s: 'spool' is not set", config_path);
	struct gf_key key;
	gf_daemon_load_key(&d, &key);
	const char *listen_addr = gf_config_str(cfg, "gfsd_listen", "0.0.0.0");
	uint16_t port = (uint16_t)gf_daemon_config_int(&d, "gfsd_port", 6601, 0, 65535);
	const char *hostname = gf_config_hostname(cfg);
	const char *gfsd_addr = gf_config_str(cfg, "gfsd_addr", hostname);
	const char *gfmd_host = gf_config_str(cfg, "gfmd_host", "localhost");
	uint16_t gfmd_port = (uint16_t)gf_daemon_config_int(&d, "gfmd_port", 6600, 1, 65535);
	uint32_t heartbeat_ms =
		(uint32_t)gf_daemon_config_int(&d, "heartbeat_ms", 1000, 10, 3600000);
	uint32_t orphan_scan_s =
		(uint32_t)gf_daemon_config_int(&d, "orphan_scan_s", 3600, 0, 100000000);
	int fsync_on_close;
	if (gf_config_bool(cfg, "fsync_on_close", 0, &fsync_on_close) < 0)
		gf_fatal("gfsd: %s: fsync_on_close '%s': expected yes or no", config_path,
			 gf_config_str(cfg, "fsync_on_close", ""));
	const char *seal_gate = gf_config_str(cfg, "seal_gate", NULL);
	if (seal_gate && (seal_gate[0] != '/' || strlen(seal_gate) >= PATH_MAX))
		gf_fatal("gfsd: %s: seal_gate '%s': expected an absolute path", config_path,
			 seal_gate);
	struct gf_server_opts sopts = {
		.name = "gfsd",
		.send_timeout_ms = (unsigned)gf_daemon_config_int(
			&d, "peer_send_timeout_ms", GF_SEND_TIMEOUT_MS_DEFAULT, 100, 86400000),
	};
	long long ram_mb = (long long)sysconf(_SC_PHYS_PAGES) / 256 * ((long long)sysconf(_SC_PAGESIZE) / 4096);
	long long reserve_def = ram_mb / 10 > 256 ? ram_mb / 10 : 256;
	struct pages_config pcfg = {
		.max_bytes = (uint64_t)gf_daemon_config_int(&d, "swap_cache_mb", ram_mb / 4, 0,
							    1LL << 30) << 20,
		.reserve_bytes = (uint64_t)gf_daemon_config_int(&d, "swap_reserve_mb", reserve_def,
								0, 1LL << 30) << 20,
		.owner_lease_s = (uint32_t)gf_daemon_config_int(&d, "swap_owner_lease_s", 600, 0,
								86400 * 365),
		.spare_bytes = UINT64_MAX, /* while the host has memory to spare */
	};
	struct pages *pg;
	if ((rc = pages_new(&pcfg, &pg)) < 0)
		gf_fatal("gfsd: swap page cache: %s", strerror(-rc));
	const char *load_source = gf_config_str(cfg, "load_source", "system");
	struct load_meter *load;
	if ((rc = load_meter_new(load_source, &load)) < 0)
		gf_fatal("gfsd: %s: load_source '%s': %s", config_path, load_source,
			 rc == -EINVAL ? "expected 'system' or 'netns'" : strerror(-rc));
	char *sock_path;
	const char *s = gf_config_str(cfg, "gfsd_socket", NULL);
	if (s && *s) {
		sock_path = gf_abspath(s);
	} else {
		size_t n = strlen(spool_path) + sizeof("/gfsd.sock");
		sock_path = malloc(n);
		if (sock_path)
			snprintf(sock_path, n, "%s/gfsd.sock", spool_path);
		char *abs = sock_path ? gf_abspath(sock_path) : NULL;
		free(sock_path);
		sock_path = abs;
	}
	if (!sock_path)
		gf_fatal("gfsd: out of memory");


	raise_fd_limit();
	struct spool *sp;
	if ((rc = spool_open(spool_path, &sp)) < 0)
		gf_fatal("gfsd: spool %s: %s", spool_path, strerror(-rc));

	uint16_t bound = 0;
	int tcp_fd = gf_tcp_listen(listen_addr, port, &bound);
	if (tcp_fd < 0)
		gf_fatal("gfsd: listen on %s:%u: %s", listen_addr, port, strerror(-tcp_fd));
	if (bound == 0)
		bound = port;
	int unix_fd = gf_unix_listen(sock_path);
	if (unix_fd < 0)
		gf_fatal("gfsd: listen on %s: %s", sock_path, strerror(-unix_fd));

	gf_daemon_start(&d);

	struct replicas *rs;
	if ((rc = replicas_new(&rs)) < 0)
		gf_fatal("gfsd: %s", strerror(-rc));
	struct registrar_config rcfg = {
		.gfmd_host = gfmd_host,
		.gfmd_port = gfmd_port,
		.key = &key,
		.hostname = hostname,
		.addr = gfsd_addr,
		.port = bound,
		.heartbeat_ms = heartbeat_ms,
		.load = load,
		.rs = rs,
		.orphan_scan_s = orphan_scan_s,
		.swap_space = pages_space,
		.swap_arg = pg,
	};
	struct registrar *reg;
	if ((rc = registrar_start(&rcfg, sp, &reg)) < 0)
		gf_fatal("gfsd: cannot start the heartbeat thread: %s", strerror(-rc));

	struct service *svc;
	struct gf_server *srv;
	struct gf_server_ops ops;
	struct service_config scfg = {
		.sp = sp,
		.rs = rs,
		.size = registrar_replica_size,
		.size_arg = reg,
		.fsync_on_close = fsync_on_close,
		.seal_gate = seal_gate,
		.key = &key,
		.hostname = hostname,
		.scan_soon = registrar_scan_soon,
		.scan_arg = reg,
	};
	if ((rc = service_new(&scfg, &svc)) < 0)
		gf_fatal("gfsd: %s", strerror(-rc));
	struct services *services = services_new();
	struct gf_server_ops file_ops, page_ops;
	if (!services)
		gf_fatal("gfsd: out of memory");
	service_server_ops(svc, &file_ops);
	struct pagesvc *psvc;
	struct pagesvc_config pscfg = { .pg = pg, .key = &key, .hostname = hostname,
					.gfmd_host = gfmd_host, .gfmd_port = gfmd_port };
	if ((rc = pagesvc_new(&pscfg, &psvc)) < 0 || (rc = pagesvc_start(psvc)) < 0)
		gf_fatal("gfsd: swap page service: %s", strerror(-rc));
	pagesvc_server_ops(psvc, &page_ops);
	if ((rc = services_add(services, "file data", GFS_OPEN, GFS_VERIFY, &file_ops)) < 0 ||
	    (rc = services_add(services, "swap pages", GFS_PAGE_PUT, GFS_PAGE_PUNT, &page_ops)) < 0)
		gf_fatal("gfsd: services: %s", strerror(-rc));
	services_server_ops(services, &ops);
	if ((rc = gf_server_new(&key, &ops, &srv)) < 0 ||
	    (rc = gf_server_set_opts(srv, &sopts)) < 0 ||
	    (rc = gf_server_add_listener(srv, tcp_fd, 0)) < 0 ||
	    (rc = gf_server_add_listener(srv, unix_fd, 1)) < 0 ||
	    (rc = gf_server_start(srv)) < 0)
		gf_fatal("gfsd: cannot start the server: %s", strerror(-rc));

	gf_info("gfsd: serving spool %s on %s:%u and %s as %s (gfmd %s:%u)", spool_path,
		listen_addr, bound, sock_path, hostname, gfmd_host, gfmd_port);
	gf_daemon_ready();

	gf_daemon_wait(&d);
	gf_server_stop(srv); /* in-flight requests finish; handles close */
	int status = 0;
	if (registrar_refused(reg)) {
		gf_err("gfsd: exiting: spool %s belongs to another cluster", spool_path);
		status = 1;
	}
	registrar_stop(reg);
	service_free(svc);
	services_free(services);
	pagesvc_free(psvc);
	pages_free(pg);
	replicas_free(rs);
	spool_close(sp);
	unlink(sock_path);
	free(sock_path);
	gf_daemon_finish(&d);
	memset(&key, 0, sizeof(key));
	return status;
}
