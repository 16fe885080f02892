#!/bin/bash
# bench/fscompare.sh — the whole comparison in one command: metadata
# operations and a 1 GiB file on a gfarmfs mount beside local ext4 (and any
# other mount point given), in one run, interleaved, medians of R rounds.
# Not a test: no pass/fail. Needs root (drop_caches).
#
# usage: bench/fscompare.sh [-n FILES] [-c CLIENTS] [-s MIB] [-r ROUNDS]
#                           [--mount DIR] [--local DIR] [--other DIR]...
#                           [--no-data] [--no-breakdown] [--fast | --journal]
#                           [--hosts H]
#   -n FILES      files per round for the metadata phases (default 2000)
#   -c CLIENTS    concurrent clients (processes, one directory each; default 1)
#   --hosts H     the cluster started is a test bed of H hosts (tests/netbed.sh:
#                 each a network namespace with its own gfsd and mount, gfmd
#                 and PostgreSQL on a host of their own, all on this machine's
#                 CPUs), and client j works through host (j mod H)+1's mount;
#                 the data phases use node1's
#   -s MIB        size of the data file (default 1024)
#   --mount DIR   an existing gfarmfs mount (default: start a cluster with
#                 3 gfsd and one mount, and stop it afterwards; only then is
#                 the commit bound measured, on that cluster's PostgreSQL)
#   --local DIR   the local directory to compare with (default: /var/tmp/…)
#   --other DIR   another file system to measure beside them (repeatable)
#   --no-data     skip the 1 GiB write / cold read / warm re-read
#   --no-breakdown  skip the per-operation costs
#   --fast        the cluster started runs gfmd in the fast mode (durability =
#                 fsync with a journal: README, "journal")
#   --journal     the cluster started runs gfmd in the default mode with a
#                 journal: a reply waits for its record's flush there, not
#                 for a PostgreSQL commit (README, "journal")
#
# Printed, per target: ops/s of create, stat (kernel caches dropped, so
# every stat is a lookup), chmod, rename and unlink; MB/s of a sequential
# write (fsync included); a fresh read right after it (page cache dropped:
# on gfarmfs gfsd is still sealing the file then, reading it back to sum
# its blocks, and the read is unchecked); a cold read once the seal is
# done (page cache dropped; the cluster's gfsd say sealing 0, or, with
# --mount, after 5 s) and a warm re-read through a new open (on gfarmfs,
# through the replica the cold read checked and pinned: fuse/readpin.h).
# Then the ratios to local.
#
# The commit bound: one client's mutations must each wait for a durable
# PostgreSQL commit, so their rate is at most 1 / (one commit). It is
# measured with pgbench on the cluster's own PostgreSQL (same settings, a
# database of its own): one client, one single-row upsert per transaction,
# over the same UNIX socket gfmd uses. Each mutation's rate is then shown
# as a fraction of that bound. With --journal the bound of that mode is
# measured too: one flush of a record in a journal-like file (a 200-byte
# pwrite into a file grown with zeros, then fdatasync) next to gfmd's
# journal, and the fractions are shown against both.
#
# The breakdown (gfarmfs only): per operation, the FUSE requests the mount
# answered and the gfmd calls it made (user.gfarmfs.stats), and the unit
# costs they are made of: a FUSE request answered without gfmd, a gfmd
# round trip that commits nothing (GETATTR) and one that commits (chmod),
# both measured with bench/gfmdbench, and the PostgreSQL commit.
set -uo pipefail
BENCH=fscompare
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
N=2000 C=1 MIB=1024 R=3 MNT='' LOCAL='' DATA=1 BREAKDOWN=1 FAST=0 JOURNAL=0 BENCH_HOSTS=0
OTHERS=()
while (($#)); do
	case $1 in
	-n) N=$2; shift 2 ;;
	-c) C=$2; shift 2 ;;
	-s) MIB=$2; shift 2 ;;
	-r) R=$2; shift 2 ;;
	--mount) MNT=$2; shift 2 ;;
	--local) LOCAL=$2; shift 2 ;;
	--other) OTHERS+=("$2"); shift 2 ;;
	--no-data) DATA=0; shift ;;
	--no-breakdown) BREAKDOWN=0; shift ;;
	--fast) FAST=1; shift ;;
	--journal) JOURNAL=1; shift ;;
	--hosts) BENCH_HOSTS=$2; shift 2 ;;
	-h | --help) bench_help 50; exit 0 ;;
	*) echo "fscompare: unknown option $1 (see --help)" >&2; exit 2 ;;
	esac
done
[[ $(id -u) == 0 ]] || { echo "fscompare: needs root to drop the page cache" >&2; exit 1; }
for v in "$N" "$C" "$MIB" "$R"; do
	[[ $v =~ ^[1-9][0-9]*$ ]] || { echo "fscompare: counts must be positive integers" >&2; exit 2; }
done
[[ $BENCH_HOSTS =~ ^[0-9]+$ ]] && ((BENCH_HOSTS <= 200)) ||
	{ echo "fscompare: --hosts takes a number of hosts, 1 to 200" >&2; exit 2; }
for d in "${OTHERS[@]}"; do
	[[ -d $d ]] || { echo "fscompare: --other $d: not a directory" >&2; exit 2; }
done
((FAST && JOURNAL)) && { echo "fscompare: --fast and --journal: choose one" >&2; exit 2; }
((BENCH_HOSTS > 0)) && [[ -n $MNT ]] &&
	{ echo "fscompare: --hosts starts its own test bed: not with --mount" >&2; exit 2; }
OWN_CLUSTER=0
[[ -z $MNT ]] && OWN_CLUSTER=1
PY=/usr/bin/python3
[[ -x $PY ]] || PY=$(command -v python3)

bench_targets "$N files, $C client(s), ${MIB} MiB data, median of $R rounds"
for d in "${OTHERS[@]}"; do echo "  other:   $d ($(stat -f -c %T "$d"))"; done

# ---- the commit bound (own cluster only) --------------------------------------
BOUND_US=''
if ((OWN_CLUSTER)); then
	PGB=$(gf_pg_bindir)/pgbench
	PGSQL=$(gf_pg_bindir)/psql
	if [[ -x $PGB ]]; then
		pgq() { (cd / && runuser -u postgres -- "$@" -h "$PGDIR/sock" -p "$PGPORT" -U postgres); }
		pgq "$(gf_pg_bindir)/createdb" bound >/dev/null 2>&1
		pgq "$PGSQL" -q -d bound -c "CREATE TABLE IF NOT EXISTS t (k bigint PRIMARY KEY, v text)" >/dev/null
		SCRIPT=$(mktemp /tmp/fscompare.pgb.XXXXXX)
		printf '%s\n' '\set k random(1, 1000000000)' \
			'INSERT INTO t VALUES (:k, '"'x'"') ON CONFLICT (k) DO UPDATE SET v = excluded.v;' >"$SCRIPT"
		chmod 644 "$SCRIPT"
		lat=()
		for ((i = 0; i < R; i++)); do
			lat+=("$(pgq "$PGB" -n -c 1 -T 3 -f "$SCRIPT" bound 2>/dev/null |
				awk '/latency average/ { print $4 * 1000 }')")
		done
		rm -f "$SCRIPT"
		BOUND_US=$(printf '%s\n' "${lat[@]}" | median)
		echo "  commit bound: one durable commit takes ${BOUND_US} us (pgbench, rounds: ${lat[*]})"
	else
		echo "  (no pgbench: commit bound not measured)"
	fi
fi

# ---- the journal's flush bound (own cluster with --journal) ----------------------
FLUSH_US=''
if ((OWN_CLUSTER && JOURNAL)); then
	lat=()
	for ((i = 0; i < R; i++)); do
		lat+=("$("$PY" - "$BENCH_SDIR/flush.bound" <<'PYEOF'
import os, sys, time, statistics
p = sys.argv[1]
fd = os.open(p, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
os.pwrite(fd, bytes(1 << 20), 0)
os.fdatasync(fd)
ts, off, rec = [], 0, b"r" * 200
t_end = time.perf_counter() + 3
while time.perf_counter() < t_end and off + len(rec) <= 1 << 20:
    t = time.perf_counter()
    os.pwrite(fd, rec, off)
    os.fdatasync(fd)
    ts.append(time.perf_counter() - t)
    off += len(rec)
os.close(fd)
os.unlink(p)
print("%.0f" % (statistics.median(ts) * 1e6))
PYEOF
)")
	done
	FLUSH_US=$(printf '%s
' "${lat[@]}" | median)
	echo "  journal flush bound: one record's flush takes ${FLUSH_US} us (rounds: ${lat[*]})"
fi

UNITS=''
if ((BREAKDOWN)) && ((OWN_CLUSTER)); then
	UNITS=$("${IN_BED[@]}" "$top_builddir/bench/gfmdbench" "$CONFIG" rtt -n 2000 | tr '\n' ' ')
fi

SETTLE=''
((OWN_CLUSTER)) && SETTLE="$(gf_bin gfhost) $STATE/admin.conf $(seq -f 'node%g' -s ' ' 1 "$NGFSD")"
MOUNTS=$(printf '%s\n' "${MOUNTS[@]}") LAUNCH="${IN_BED[*]}" SETTLE=$SETTLE FLUSH_US=$FLUSH_US "$PY" - "$N" "$C" "$R" "$MIB" "$DATA" "$BREAKDOWN" "$BOUND_US" "$UNITS" "$MNT" "$LOCAL" "${OTHERS[@]}" <<'PYEOF'
import os, sys, time, shutil, statistics, multiprocessing as mp

n, c, runs, mib = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
data, breakdown = sys.argv[5] == "1", sys.argv[6] == "1"
bound_us = float(sys.argv[7]) if sys.argv[7] else None
units = dict(zip(sys.argv[8].split()[0::2], map(float, sys.argv[8].split()[1::2])))
targets = [("gfarmfs", sys.argv[9]), ("local", sys.argv[10])]
targets += [("other%d" % (i + 1), d) for i, d in enumerate(sys.argv[11:])]
MNT = sys.argv[9]
# every host's mount (one but with --hosts): client j works through MOUNTS[j % len]
MOUNTS = os.environ["MOUNTS"].split()
META = ["create", "stat", "chmod", "rename", "unlink"]
DATA = ["write", "fresh read", "cold read", "warm read"]
STATS = "user.gfarmfs.stats"


def drop_caches(what="3"):
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write(what + "\n")


def counters():
    # summed over every host's mount
    out = {}
    for m in MOUNTS:
        try:
            raw = os.getxattr(m, STATS).decode()
        except OSError:
            continue
        for line in raw.splitlines():
            k, _, v = line.partition(" ")
            if v.isdigit():
                out[k] = out.get(k, 0) + int(v)
    return out


def through(j, path):
    # path (made through MNT) as client j reaches it: through its host's mount
    if path.startswith(MNT + "/"):
        return MOUNTS[j % len(MOUNTS)] + path[len(MNT):]
    return path


def worker(d, k, start, done):
    names = ["%s/f%07d" % (d, i) for i in range(k)]
    ops = {
        "create": lambda p: os.close(os.open(p, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)),
        "stat": os.stat,
        "chmod": lambda p: os.chmod(p, 0o600),
        "rename": lambda p: os.rename(p, p + ".r"),
        "unlink": lambda p: os.unlink(p + ".r"),
    }
    for ph in META:
        start.wait()
        for p in names:
            ops[ph](p)
        done.wait()


def meta_round(root, costs):
    base = os.path.join(root, "fscompare.%d" % os.getpid())
    os.mkdir(base)
    per = max(1, n // c)
    start, done = mp.Barrier(c + 1), mp.Barrier(c + 1)
    procs = []
    for j in range(c):
        d = os.path.join(base, "c%d" % j)
        os.mkdir(d)
        procs.append(mp.Process(target=worker, args=(through(j, d), per, start, done)))
    for p in procs:
        p.start()
    rates = {}
    for ph in META:
        if ph == "stat":
            drop_caches("2")
        before = counters() if costs is not None else None
        t0 = time.perf_counter()
        start.wait()
        done.wait()
        secs = time.perf_counter() - t0
        rates[ph] = per * c / secs
        if costs is not None:
            after = counters()
            costs.setdefault(ph, []).append(
                tuple((after.get(k, 0) - before.get(k, 0)) / (per * c)
                      for k in ("fuse_requests", "gfmd_calls")) + (secs / (per * c) * 1e6,))
    for p in procs:
        p.join()
        if p.exitcode != 0:
            sys.exit("fscompare: a client failed in %s" % root)
    shutil.rmtree(base)
    return rates


def settle():
    # until no gfsd of the cluster is sealing (or 5 s with a mount of
    # another cluster): the cold read then checks what it reads
    how = os.environ.get("SETTLE", "").split()
    if not how:
        time.sleep(5)
        return
    import subprocess
    gfhost, conf, hosts = how[0], how[1], how[2:]
    for _ in range(600):
        busy = 0
        for h in hosts:
            out = subprocess.run(os.environ["LAUNCH"].split() + [gfhost, "-c", conf, "stats", h],
                                 capture_output=True,
                                 text=True).stdout
            busy += sum(int(l.split()[1]) for l in out.splitlines() if l.startswith("sealing "))
        if busy == 0:
            return
        time.sleep(0.1)


def read_rate(path):
    t0 = time.perf_counter()
    fd = os.open(path, os.O_RDONLY)
    while os.read(fd, 1 << 20):
        pass
    os.close(fd)
    return mib * 1.048576 / (time.perf_counter() - t0)


def data_round(root, gfarmfs):
    path = os.path.join(root, "fscompare.data.%d" % os.getpid())
    block = b"\x5a" * (1 << 20)
    out = {}
    t0 = time.perf_counter()
    fd = os.open(path, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o644)
    for _ in range(mib):
        os.write(fd, block)
    os.fsync(fd)
    os.close(fd)
    out["write"] = mib * 1.048576 / (time.perf_counter() - t0)
    drop_caches()
    out["fresh read"] = read_rate(path)
    if gfarmfs:
        settle()
    drop_caches()
    for ph in ("cold read", "warm read"):
        out[ph] = read_rate(path)
    os.unlink(path)
    return out


results = {t: {} for t, _ in targets}
costs = {}
for r in range(runs):
    for t, root in targets:
        rates = meta_round(root, costs if (t == "gfarmfs" and breakdown) else None)
        if data:
            rates.update(data_round(root, t == "gfarmfs"))
        for k, v in rates.items():
            results[t].setdefault(k, []).append(v)
        print("  round %d %-8s " % (r + 1, t) +
              "  ".join("%s %.0f" % (k, v) for k, v in rates.items()), flush=True)

med = {t: {k: statistics.median(v) for k, v in res.items()} for t, res in results.items()}
names = [t for t, _ in targets]
print()
print("%-10s" % "op" + "".join("%14s" % t for t in names) +
      "".join("%15s" % (t + "/local") for t in names if t != "local"))
for ph in META + (DATA if data else []):
    unit = "ops/s" if ph in META else "MB/s"
    row = "%-10s" % ph + "".join("%14.0f" % med[t][ph] for t in names)
    row += "".join("%14.3fx" % (med[t][ph] / med["local"][ph]) for t in names if t != "local")
    print(row + "  " + unit)

def show_bound(title, what, us):
    bound = 1e6 / us
    print()
    print("%s: %.0f us per %s = %.0f mutations/s for one client" % (title, us, what, bound))
    if c == 1:
        for ph in ("create", "chmod", "rename", "unlink"):
            print("  %-8s %6.0f/s = %.2fx the bound" % (ph, med["gfarmfs"][ph],
                                                          med["gfarmfs"][ph] / bound))

if bound_us:
    show_bound("commit bound", "durable commit", bound_us)
if os.environ.get("FLUSH_US"):
    show_bound("journal flush bound", "record flushed", float(os.environ["FLUSH_US"]))

if costs:
    print()
    print("where one operation's time goes (gfarmfs, medians):")
    print("  %-8s %8s %11s %11s" % ("op", "us/op", "FUSE req/op", "gfmd call/op"))
    for ph in META:
        fr = statistics.median(x[0] for x in costs[ph])
        gc = statistics.median(x[1] for x in costs[ph])
        us = statistics.median(x[2] for x in costs[ph])
        print("  %-8s %8.0f %11.2f %11.2f" % (ph, us, fr, gc))
    # one FUSE request answered by the mount itself: the stats xattr, read
    # into a buffer large enough at once (os.getxattr starts with 128
    # bytes and asks again on ERANGE: two requests)
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    buf = ctypes.create_string_buffer(65536)
    path, name = os.fsencode(MNT), os.fsencode(STATS)
    k = 20000
    t0 = time.perf_counter()
    for _ in range(k):
        if libc.getxattr(path, name, buf, 65536) < 0:
            sys.exit("fscompare: getxattr %s: %s" % (STATS, os.strerror(ctypes.get_errno())))
    fuse_us = (time.perf_counter() - t0) / k * 1e6
    print("  unit costs: FUSE request answered locally %.0f us" % fuse_us, end="")
    if units:
        print("; gfmd round trip (GETATTR) %.0f us; gfmd chmod incl. commit %.0f us" %
              (units.get("getattr_us", 0), units.get("chmod_us", 0)), end="")
    if bound_us:
        print("; PostgreSQL commit (pgbench) %.0f us" % bound_us, end="")
    print()
PYEOF
