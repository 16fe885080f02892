/*
 * gfmd — the gfarmfs metadata daemon: the whole namespace in memory, the
 * replica catalogue and the host registry, made durable in PostgreSQL.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uuid/uuid.h>

#include "auth.h"
#include "config.h"
#include "daemon.h"
#include "handlers.h"
#include "repair.h"
#include "hosts.h"
#include "log.h"
#include "namespace.h"
#include "net.h"
#include "once.h"
#include "server.h"
#include "journal.h"
#include "store.h"
#include "users.h"

static const char usage_text[] =
"NAME\n"
"    gfmd - gfarmfs metadata daemon\n"
"\n"
"SYNOPSIS\n"
"    gfmd -c CONFIG [-f] [-d] [-L LEVEL] [-l LOGFILE] [-P PIDFILE]\n"
"    gfmd -h | --help\n"
"    gfmd -V | --version\n"
"\n"
"DESCRIPTION\n"
"    gfmd keeps the whole gfarmfs namespace in memory: inodes, directory\n"
"    entries, attributes, extended attributes, the replica catalogue (which\n"
"    gfsd holds which generation of each file), the registry of gfsd\n"
"    hosts, and the user and group maps (name <-> global id, see gfuser).\n"
"    mount.gfarmfs, gfsd and the gf* commands talk to it over one\n"
"    authenticated protocol (TCP, gfmd_listen:gfmd_port).\n"
"\n"
"    PostgreSQL is its durable store, and gfmd is the only writer of that\n"
"    database: it holds a PostgreSQL advisory lock on it as long as it\n"
"    runs, and a second gfmd started on the same database says which\n"
"    session holds the lock and refuses to start.\n"
"\n"
"    A change is applied to memory, then committed; its reply leaves only\n"
"    after the commit, so whatever a client was told survives a crash of\n"
"    gfmd. Changes arriving together share one transaction (group commit,\n"
"    sent in libpq pipeline mode). Reads are answered from memory.\n"
"    If a commit fails, gfmd exits: memory would be ahead of the database,\n"
"    and a restart reloads it. When PostgreSQL refused the transaction\n"
"    (it was rolled back), the requests of that group get EIO first. When\n"
"    the connection was lost, whether the commit happened is unknown, and\n"
"    nobody is answered: clients send their requests again to the next\n"
"    gfmd, which does each exactly once.\n"
"\n"
"    At start-up gfmd connects to the database, takes its lock, applies the\n"
"    migrations built into it that the database does not have yet (recorded\n"
"    in table schema_version), loads everything, and then serves.\n"
"\n"
"    New files are placed on the gfsd of the host the creating client runs\n"
"    on when that gfsd is up, else on the up gfsd with the most free space.\n"
"    A gfsd silent for host_down_ms is considered down. Replicas of removed\n"
"    files are handed to their gfsd for deletion in heartbeat replies.\n"
"\n"
"    Replication. A file wants as many replicas as its xattr\n"
"    user.gfarm.ncopy says (1 without it; new files and directories inherit\n"
"    it from their directory; see gfncopy). gfmd makes the missing ones in\n"
"    the background, the destination gfsd copying from another: after the\n"
"    file's last writer closes it, and, for every file with a replica on a\n"
"    host down for repair_delay_ms, elsewhere, those with the fewest\n"
"    replicas left first, repair_jobs copies at a time. Replicas beyond the\n"
"    count (a host back after it was repaired around) are removed. gfrep\n"
"    asks for copies directly. A file of count 2 or more grown past 8 MiB\n"
"    by its writer is copied while it is written: the copy follows the\n"
"    writer and, once the file is closed, fetches again the blocks it\n"
"    rewrote since (one of the repair_jobs workers at most does that when\n"
"    there are two or more; none when there is one).\n"
"\n"
"OPTIONS\n"
"    -c, --config CONFIG    configuration file (required)\n"
"    -f, --foreground       stay in the foreground (log to stderr unless a\n"
"                           log file is set)\n"
"    -d, --debug            log level debug; implies -f\n"
"    -L, --log-level LEVEL  error, warn, info (default) or debug; overrides\n"
"                           log_level\n"
"    -l, --log-file FILE    append the log to FILE; overrides log_file.\n"
"                           Without one, a detached gfmd logs nothing once\n"
"                           it has started.\n"
"    -P, --pid-file FILE    write the daemon's pid to FILE; overrides pid_file\n"
"    -h, --help             show this text\n"
"    -V, --version          show the version\n"
"\n"
"CONFIGURATION\n"
"    The file holds 'key = value' lines (# starts a comment). gfmd reads:\n"
"    postgresql      libpq connection string of the metadata database\n"
"                    (required), e.g. \"host=/run/postgresql dbname=gfarmfs\"\n"
"    key_file        shared secret, at least 32 bytes (required); the same\n"
"                    file on every node (see gfkey)\n"
"    gfmd_listen     address to listen on (default 0.0.0.0)\n"
"    gfmd_port       TCP port (default 6600)\n"
"    heartbeat_ms    heartbeat period asked of every gfsd (default 1000)\n"
"    host_down_ms    a gfsd silent this long is down (default 5000)\n"
"    unlink_grace_ms for this long after a regular file lost its last name\n"
"                    (unlink, rename over it), a client that still knows\n"
"                    its inode may open it for reading (default 3000; keep\n"
"                    it above the clients' attr_timeout and entry_timeout,\n"
"                    so that a replace-by-rename is never 'no such file'\n"
"                    elsewhere); its data is deleted after that\n"
"    space_reserve   free space new data leaves on a host: bytes (K, M, G,\n"
"                    T suffixes) or a share of its capacity such as 5%\n"
"                    (default 1%); a writer's own host below it sends new\n"
"                    files to the host with the most free space instead\n"
"    peer_send_timeout_ms\n"
"                    a peer that takes none of its replies for this long, or\n"
"                    stops this long inside a request, is disconnected\n"
"                    (default 30000). Replies wait in a bounded queue per\n"
"                    connection, so a slow peer never holds up the commits\n"
"                    of others; one whose queue passes about 5 MiB is\n"
"                    disconnected too.\n"
"    repair_delay_ms a host down this long has its files' replicas made\n"
"                    again elsewhere (default 30000)\n"
"    repair_jobs     copies the background repair makes at once (default 2)\n"
"    lease_ms        the term of a directory name lease (default 2000; 0:\n"
"                    no leases). A mount holding a directory's lease answers\n"
"                    'no such file' in it without asking gfmd; before anyone\n"
"                    else adds a name to that directory, gfmd recalls the\n"
"                    lease and waits for the mount to give it back, or at\n"
"                    most lease_ms for one that does not answer (stopped,\n"
"                    killed, cut off)\n"
"    durability      commit (default): a mutation is acknowledged once it is\n"
"                    on disk (its PostgreSQL commit, or with a journal its\n"
"                    record there, flushed); it survives a crash of gfmd, of\n"
"                    PostgreSQL and of the machine. fsync: acknowledged\n"
"                    once PostgreSQL holds it, before it is on disk: it\n"
"                    survives a crash of gfmd; a crash of PostgreSQL or of\n"
"                    the machine may lose what was acknowledged in the last\n"
"                    flush_ms, or 3 x PostgreSQL's wal_writer_delay (0.6 s\n"
"                    by default) if that is shorter, except what an\n"
"                    fsync(2) of the file or of its directory covered: fsync\n"
"                    and fsyncdir return once every mutation acknowledged\n"
"                    before them is on disk, as on a local file system.\n"
"                    With a journal (below) a mutation is acknowledged\n"
"                    sooner, and a crash of PostgreSQL loses nothing too\n"
"    flush_ms        fsync mode: the longest a mutation PostgreSQL holds\n"
"                    waits for gfmd to flush it to disk when no fsync asks\n"
"                    (default 1000): what a crash of the machine may lose;\n"
"                    a deleted file's data is deleted only once its death\n"
"                    is on disk. commit mode with a journal: how often\n"
"                    PostgreSQL's commits are flushed (what a restart\n"
"                    replays from the journal at most)\n"
"    journal         a file on gfmd's machine (an absolute path; made if\n"
"                    missing) where each mutation is written before it is\n"
"                    acknowledged; PostgreSQL gets it right after, and at\n"
"                    its start gfmd replays what the database lacks.\n"
"                    commit mode: a reply waits until its record is flushed\n"
"                    to disk (fdatasync; one flush serves every record\n"
"                    written meanwhile) instead of a PostgreSQL commit: the\n"
"                    same promise, sooner. fsync mode: the record is not\n"
"                    flushed; what the kernel holds survives a kill -9 of\n"
"                    gfmd and of PostgreSQL, and a crash of the machine\n"
"                    loses at most what was acknowledged in the last\n"
"                    flush_ms, except what an fsync covered. Emptied once\n"
"                    past journal_max_kb; a write or flush of it that fails\n"
"                    (a full disk) is logged, and gfmd goes on as without\n"
"                    one. Put it on a disk that honours a flush. Default:\n"
"                    none\n"
"    journal_max_kb  the journal is emptied (after a flush of what it holds)\n"
"                    once it passes this size (default 65536, 64 MiB; from\n"
"                    64)\n"
"    log_level, log_file, pid_file\n"
"                    as the options above\n"
"    Other keys of the common file format are accepted and ignored.\n"
"\n"
"SIGNALS\n"
"    SIGTERM, SIGINT  stop accepting, finish the requests in progress,\n"
"                     commit everything queued and send its replies (a peer\n"
"                     gets a few seconds to take them), close the database\n"
"                     connection and exit 0.\n"
"    SIGHUP           ignored.\n"
"\n"
"EXIT STATUS\n"
"    0 after a clean stop; 1 when start-up fails (the reason is logged and\n"
"    also printed on stderr, detaching or not; e.g. another gfmd serves\n"
"    the database) or when a commit fails.\n"
"\n"
"EXAMPLE\n"
"    # /etc/gfarmfs/gfmd.conf\n"
"    postgresql = \"host=/var/run/postgresql dbname=gfarmfs user=gfarmfs\"\n"
"    key_file   = /etc/gfarmfs/key\n"
"    log_file   = /var/log/gfarmfs/gfmd.log\n"
"\n"
"    createdb gfarmfs && gfmd -c /etc/gfarmfs/gfmd.conf\n";

/* ---- loading the store into memory ------------------------------------------ */

struct loadctx {
	struct gf_ns *ns;
	struct gf_hosts *hosts;
	struct gf_users *users;
	struct gf_once *once;
};

static int ld_inode(void *arg, const struct gf_attr *a, const char *symlink)
{
	return gf_ns_load_inode(((struct loadctx *)arg)->ns, a, symlink);
}
static int ld_dirent(void *arg, uint64_t parent, const char *name, uint64_t ino,
		     uint64_t cookie)
{
	return gf_ns_load_dirent(((struct loadctx *)arg)->ns, parent, name, ino, cookie);
}
static int ld_xattr(void *arg, uint64_t ino, const char *name, const void *v, size_t len)
{
	return gf_ns_load_xattr(((struct loadctx *)arg)->ns, ino, name, v, len);
}
static int ld_replica(void *arg, uint64_t ino, uint32_t host_id, uint64_t gen,
		      uint64_t fgen)
{
	return gf_ns_load_replica(((struct loadctx *)arg)->ns, ino, host_id, gen, fgen);
}
static int ld_dead(void *arg, uint64_t ino, uint32_t host_id, uint64_t fgen)
{
	return gf_ns_load_dead(((struct loadctx *)arg)->ns, ino, host_id, fgen);
}
static int ld_host(void *arg, const struct gf_change_host *h)
{
	return gf_hosts_load(((struct loadctx *)arg)->hosts, h);
}
static int ld_idmap(void *arg, uint8_t kind, const char *name, uint32_t id)
{
	return gf_users_load(((struct loadctx *)arg)->users, kind, name, id);
}
static int ld_once(void *arg, uint64_t client, uint64_t seq, uint16_t op, uint64_t ino,
		   int created, int64_t at)
{
	return gf_once_load(((struct loadctx *)arg)->once, client, seq, op, ino, created, at);
}
static void ld_next_ino(void *arg, uint64_t next)
{
	gf_ns_load_next_ino(((struct loadctx *)arg)->ns, next);
}

/* "N%" (1..99), or bytes with an optional K, M, G or T (powers of 1024). */
static int parse_reserve(const char *s, uint64_t *bytes, uint32_t *percent)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		return -EINVAL;
	if (*end == '%' && !end[1]) {
		if (v > 99)
			return -EINVAL;
		*percent = (uint32_t)v;
		*bytes = 0;
		return 0;
	}
	unsigned shift = 0;
	switch (*end) {
	case 0: break;
	case 'k': case 'K': shift = 10; break;
	case 'm': case 'M': shift = 20; break;
	case 'g': case 'G': shift = 30; break;
	case 't': case 'T': shift = 40; break;
	default: return -EINVAL;
	}
	if (*end && end[1] && !((end[1] == 'B' || end[1] == 'b') && !end[2]))
		return -EINVAL;
	if (shift && v > (UINT64_MAX >> shift))
		return -EINVAL;
	*bytes = (uint64_t)v << shift;
	*percent = 0;
	return 0;
}

int main(int argc, char **argv)
{
	struct gf_daemon d = { .name = "gfmd" };
	int rc = gf_daemon_parse_args(&d, argc, argv, usage_text);
	if (rc >= 0)
		return rc;
	gf_daemon_load_config(&d);
	const struct gf_config *cfg = d.cfg;
	const char *config_path = d.config_path;

	const char *conninfo = gf_config_str(cfg, "postgresql", NULL);
	if (!conninfo || !*conninfo)
		gf_fatal("gfmd: %s: 'postgresql' (libpq conninfo) is not set", config_path);
	struct gf_key key;
	gf_daemon_load_key(&d, &key);
	const char *listen_addr = gf_config_str(cfg, "gfmd_listen", "0.0.0.0");
	uint16_t port = (uint16_t)gf_daemon_config_int(&d, "gfmd_port", 6600, 0, 65535);
	uint32_t heartbeat_ms =
		(uint32_t)gf_daemon_config_int(&d, "heartbeat_ms", 1000, 10, 3600000);
	uint32_t lease_ms = (uint32_t)gf_daemon_config_int(&d, "lease_ms", 2000, 0, 60000);
	uint32_t host_down_ms =
		(uint32_t)gf_daemon_config_int(&d, "host_down_ms", 5000, 10, 86400000);
	uint32_t repair_delay_ms =
		(uint32_t)gf_daemon_config_int(&d, "repair_delay_ms", 30000, 0, 86400000);
	uint32_t repair_jobs = (uint32_t)gf_daemon_config_int(&d, "repair_jobs", 2, 1, 64);
	uint32_t grace_ms =
		(uint32_t)gf_daemon_config_int(&d, "unlink_grace_ms", 3000, 0, 3600000);
	uint64_t reserve_bytes = 0;
	uint32_t reserve_percent = 0;
	const char *reserve = gf_config_str(cfg, "space_reserve", "1%");
	if (parse_reserve(reserve, &reserve_bytes, &reserve_percent) < 0)
		gf_fatal("gfmd: %s: space_reserve '%s': expected bytes (with K, M, G or T) "
			 "or a percentage such as 5%%", config_path, reserve);

	/* (checked before anything starts: a bad value is a config error) */
	const char *durability = gf_config_str(cfg, "durability", "commit");
	enum gf_durability durable = GF_DURABLE_COMMIT;
	if (strcmp(durability, "fsync") == 0)
		durable = GF_DURABLE_FSYNC;
	else if (strcmp(durability, "commit") != 0)
		gf_fatal("gfmd: %s: durability '%s': expected commit or fsync", config_path,
			 durability);

	uint32_t flush_ms = (uint32_t)gf_daemon_config_int(&d, "flush_ms", 1000, 10, 86400000);
	uint32_t journal_max_kb =
		(uint32_t)gf_daemon_config_int(&d, "journal_max_kb", 65536, 64, 4194304);
	const char *journal_path = gf_config_str(cfg, "journal", NULL);
	/* (absolute: a daemon works from /) */
	if (journal_path && journal_path[0] != '/')
		gf_fatal("gfmd: %s: journal '%s': expected an absolute path", config_path,
			 journal_path);

	struct gf_server_opts sopts = {
		.name = "gfmd",
		.send_timeout_ms = (unsigned)gf_daemon_config_int(
			&d, "peer_send_timeout_ms", GF_SEND_TIMEOUT_MS_DEFAULT, 100, 86400000),
	};

	/* The database and its lock first: a second gfmd on it stops here,
	 * before it detaches or writes over the pid file of the one serving. */
	struct gf_store *store;
	if (gf_store_open(conninfo, &store) < 0)
		gf_fatal("gfmd: cannot start without the database");
	char why[1536];
	if (gf_store_lock(store, why, sizeof(why)) < 0)
		gf_fatal("gfmd: %s; refusing to start", why);

	gf_daemon_start(&d);

	/* then the schema, and memory from the database */
	if (gf_store_migrate(store) < 0)
		gf_fatal("gfmd: cannot bring the database schema up to date");
	uint8_t cluster_id[GF_CLUSTER_ID_LEN];
	char cluster_text[37];
	if (gf_store_cluster_id(store, cluster_id) < 0)
		gf_fatal("gfmd: cannot read or make the cluster id");
	uuid_unparse_lower(cluster_id, cluster_text);
	if (journal_path) {
		struct gf_journal *jnl;
		if ((rc = gf_journal_open(journal_path, cluster_id, &jnl, why, sizeof(why))) < 0)
			gf_fatal("gfmd: %s; refusing to start", why);
		if (gf_store_journal_recover(store, jnl) < 0) {
			gf_journal_close(jnl);
			gf_fatal("gfmd: cannot start without replaying journal %s", journal_path);
		}
	}
	struct gf_ns *ns = gf_ns_new();
	struct gf_hosts *hosts = gf_hosts_new(host_down_ms);
	struct gf_users *users = gf_users_new();
	struct gf_once *once = gf_once_new(GF_ONCE_FORGET_S);
	if (!ns || !hosts || !users || !once)
		gf_fatal("gfmd: out of memory");
	gf_hosts_set_reserve(hosts, reserve_bytes, reserve_percent);
	gf_ns_set_grace(ns, grace_ms);
	struct loadctx lc = { ns, hosts, users, once };
	struct gf_store_loader ld = {
		.arg = &lc, .inode = ld_inode, .dirent = ld_dirent, .xattr = ld_xattr,
		.replica = ld_replica, .dead = ld_dead, .host = ld_host,
		.next_ino = ld_next_ino, .idmap = ld_idmap, .once = ld_once,
		.once_forget_s = GF_ONCE_FORGET_S,
	};
	if ((rc = gf_store_load(store, &ld)) < 0)
		gf_fatal("gfmd: loading the database failed: %s", strerror(-rc));
	gf_store_set_durability(store, durable);
	gf_store_set_flush_ms(store, flush_ms);
	gf_store_set_journal_max(store, (uint64_t)journal_max_kb << 10);
	if ((rc = gf_store_start(store)) < 0)
		gf_fatal("gfmd: cannot start the committer: %s", strerror(-rc));
	gf_ns_set_sink(ns, gf_store_submit, store);
	gf_hosts_set_sink(hosts, gf_store_submit, store);
	gf_users_set_sink(users, gf_store_submit, store);
	gf_once_set_sink(once, gf_store_submit, store);
	uint64_t ticket = 0;
	if ((rc = gf_ns_load_finish(ns, &ticket)) < 0)
		gf_fatal("gfmd: loading the namespace failed: %s", strerror(-rc));
	gf_info("gfmd: loaded %llu inodes", (unsigned long long)gf_ns_inode_count(ns));

	uint16_t bound = 0;
	int fd = gf_tcp_listen(listen_addr, port, &bound);
	if (fd < 0)
		gf_fatal("gfmd: listen on %s:%u: %s", listen_addr, port, strerror(-fd));
	if (bound == 0)
		bound = port;
	struct gf_locks *locks = gf_locks_new();
	if (!locks)
		gf_fatal("gfmd: out of memory");
	struct gf_leases *leases = NULL;
	if (lease_ms && (rc = gf_leases_new(lease_ms, &leases)) < 0)
		gf_fatal("gfmd: cannot start the leases: %s", strerror(-rc));
	struct gfmd g = { .ns = ns, .hosts = hosts, .store = store, .users = users,
			  .once = once, .locks = locks, .heartbeat_ms = heartbeat_ms,
			  .leases = leases,
			  .key = &key, .hostname = gf_config_hostname(cfg) };
	struct gf_server_ops ops = { .handle = gfmd_handle, .closed = gfmd_conn_closed,
				     .arg = &g };
	struct gf_server *srv;
	if ((rc = gf_server_new(&key, &ops, &srv)) < 0 ||
	    (rc = gf_server_set_opts(srv, &sopts)) < 0 ||
	    (rc = gf_server_add_listener(srv, fd, 0)) < 0 ||
	    (rc = gf_server_start(srv)) < 0)
		gf_fatal("gfmd: cannot start the server: %s", strerror(-rc));
	memcpy(g.cluster_id, cluster_id, sizeof(g.cluster_id));
	struct gf_repair_config rcfg = { .delay_ms = repair_delay_ms, .jobs = repair_jobs };
	struct gf_repair *repair = NULL;
	if ((rc = gf_repair_start(&g, &rcfg, &repair)) < 0)
		gf_fatal("gfmd: cannot start the repair threads: %s", strerror(-rc));
	g.repair = repair;
	gf_info("gfmd: cluster %s serving on %s:%u", cluster_text, listen_addr, bound);
	gf_daemon_ready();

	gf_daemon_wait(&d);
	gf_server_shutdown(srv); /* requests in progress finish */
	g.repair = NULL;
	gf_repair_stop(repair);	 /* copies in progress finish */
	gf_store_close(store);	 /* commits what is queued, queues those replies */
	gf_server_stop(srv);	 /* the replies leave; connections close */
	gf_leases_free(leases);
	gf_locks_free(locks);
	gf_ns_free(ns);
	gf_hosts_free(hosts);
	gf_users_free(users);
	gf_once_free(once);
	gf_daemon_finish(&d);
	memset(&key, 0, sizeof(key));
	return 0;
}
