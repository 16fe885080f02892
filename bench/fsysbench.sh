#!/bin/bash
# bench/fsysbench.sh — metadata benchmark in the spirit of the paper's
# fsysbench: create, stat, chmod, rename and unlink of N files by C
# concurrent clients (processes, each in its own directory), on a gfarmfs
# mount and on a local directory in the same run. Prints ops/s (median of R
# runs) for both and the ratio gfarmfs/local. Not a test: no pass/fail.
#
# usage: bench/fsysbench.sh [-n FILES] [-c CLIENTS] [-r RUNS] [--mount DIR] [--local DIR]
#   --mount DIR   an existing gfarmfs mount (default: start a cluster with
#                 3 gfsd and one mount, and stop it afterwards)
#   --local DIR   local directory to compare with (default: a temp dir in /var/tmp)
# Stats are made to miss the client's caches: the kernel's dentry and inode
# caches are dropped before the stat phase (root), for both targets.
set -uo pipefail
BENCH=fsysbench
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
N=10000 C=1 R=3 MNT='' LOCAL=''
while (($#)); do
	case $1 in
	-n) N=$2; shift 2 ;;
	-c) C=$2; shift 2 ;;
	-r) R=$2; shift 2 ;;
	--mount) MNT=$2; shift 2 ;;
	--local) LOCAL=$2; shift 2 ;;
	-h | --help) bench_help 13; exit 0 ;;
	*) echo "fsysbench: unknown option $1" >&2; exit 2 ;;
	esac
done
PY=/usr/bin/python3
[[ -x $PY ]] || PY=$(command -v python3)

bench_targets "$N files, $C clients, median of $R runs"

"$PY" - "$N" "$C" "$R" "$MNT" "$LOCAL" <<'PYEOF'
import os, sys, time, shutil, statistics, multiprocessing as mp

n, c, runs = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
targets = [("gfarmfs", sys.argv[4]), ("local", sys.argv[5])]
PHASES = ["create", "stat", "chmod", "rename", "unlink"]


def drop_caches():
    os.sync()
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("2\n")
    except OSError:
        time.sleep(1.5)  # not root: outwait the attribute cache instead


def worker(d, k, start, done):
    names = ["%s/f%07d" % (d, i) for i in range(k)]
    ops = {
        "create": lambda p: os.close(os.open(p, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)),
        "stat": os.stat,
        "chmod": lambda p: os.chmod(p, 0o600),
        "rename": lambda p: os.rename(p, p + ".r"),
        "unlink": lambda p: os.unlink(p + ".r"),
    }
    for ph in PHASES:
        start.wait()
        op = ops[ph]
        for p in names:
            op(p)
        done.wait()


def one_run(root):
    base = os.path.join(root, "fsysbench.%d" % os.getpid())
    os.mkdir(base)
    per = n // c
    start, done = mp.Barrier(c + 1), mp.Barrier(c + 1)
    procs = []
    for j in range(c):
        d = os.path.join(base, "c%d" % j)
        os.mkdir(d)
        procs.append(mp.Process(target=worker, args=(d, per, start, done)))
    for p in procs:
        p.start()
    rates = {}
    for ph in PHASES:
        if ph == "stat":
            drop_caches()
        t0 = time.perf_counter()
        start.wait()
        done.wait()
        rates[ph] = per * c / (time.perf_counter() - t0)
    for p in procs:
        p.join()
        if p.exitcode != 0:
            sys.exit("a client failed in %s" % root)
    shutil.rmtree(base)
    return rates


results = {t: {ph: [] for ph in PHASES} for t, _ in targets}
for r in range(runs):
    for t, root in targets:
        rates = one_run(root)
        for ph in PHASES:
            results[t][ph].append(rates[ph])
        print("  run %d %-8s " % (r + 1, t) + "  ".join("%s %.0f/s" % (ph, rates[ph]) for ph in PHASES),
              flush=True)

print()
print("%-8s %14s %14s %8s" % ("op", "gfarmfs ops/s", "local ops/s", "ratio"))
for ph in PHASES:
    g = statistics.median(results["gfarmfs"][ph])
    l = statistics.median(results["local"][ph])
    print("%-8s %14.0f %14.0f %7.3fx" % (ph, g, l, g / l))
PYEOF
