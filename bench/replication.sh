#!/bin/bash
# bench/replication.sh — what replication costs (issue 7's benchmark):
#   1. gfrep of a SIZE MiB file (one replica more, gfsd to gfsd), beside a
#      plain copy of its spool file into another gfsd's spool directory
#      (cp, then sync of the copy: gfsd syncs its copy too), in the same run;
#   2. a SIZE MiB write (with fsync) into a directory with replica count 2,
#      until both replicas exist, beside the same write into a directory
#      with count 1.
# The page cache is dropped before each copy. Prints MiB/s, median of R
# runs, and the ratios gfrep/cp and ncopy2/ncopy1 (the median of each run's
# own ratio). Not a test: no pass/fail.
# The data is random (a copy of zeros would be holes). Needs root.
#
# usage: bench/replication.sh [-s MIB] [-r RUNS]
set -uo pipefail
BENCH=replication
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
MIB=1024 R=3 MNT='' LOCAL=''
while (($#)); do
	case $1 in
	-s) MIB=$2; shift 2 ;;
	-r) R=$2; shift 2 ;;
	-h | --help) bench_help 14; exit 0 ;;
	*) echo "replication: unknown option $1" >&2; exit 2 ;;
	esac
done
[[ $(id -u) == 0 ]] || { echo "replication: needs root" >&2; exit 1; }
GFREP=$(gf_bin gfrep) || exit 1
GFWHERE=$(gf_bin gfwhere) || exit 1
GFNCOPY=$(gf_bin gfncopy) || exit 1

bench_targets "$MIB MiB, median of $R runs"
export GFARMFS_CONFIG=$STATE/admin.conf
SRC=$LOCAL/random
head -c $((MIB * 1048576)) /dev/urandom >"$SRC" || exit 1

nrep() { "$GFWHERE" "$1" 2>/dev/null | awk '{ print NF - 1 }'; }

mkdir -p "$MNT/n1" "$MNT/n2" || exit 1
"$GFNCOPY" -s 2 "$MNT/n2" || exit 1
F=$MNT/n1/rep
cp "$SRC" "$F" || exit 1
declare -A RES
declare -a w
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f", a / b }'; }
for ((i = 1; i <= R; i++)); do
	# 1. gfrep beside cp between spools
	"$GFREP" -q -N 1 -x "$F" >/dev/null 2>&1
	"$GFNCOPY" -u "$F" >/dev/null 2>&1
	src=$(spool_of "$F")
	other=$(ls -d "$STATE"/node*/spool | grep -v "^${src%%/spool/*}/spool" | head -n 1)
	drop
	t=$(now)
	"$GFREP" -q -N 2 "$F" || { echo "replication: gfrep failed" >&2; exit 1; }
	g=$(rate "$(secs "$t")")
	drop
	t=$(now)
	cp "$src" "$other/bench.copy" && sync "$other/bench.copy" || exit 1
	c=$(rate "$(secs "$t")")
	rm -f "$other/bench.copy"
	RES[gfrep]+="$g " RES[cp]+="$c " RES[rg]+="$(ratio "$g" "$c") "
	# 2. a write into ncopy 2 until both replicas exist, beside ncopy 1
	for n in 1 2; do
		f=$MNT/n$n/w$i
		cat "$SRC" >/dev/null
		t=$(now)
		dd if="$SRC" of="$f" bs=1M conv=fsync status=none || exit 1
		while (($(nrep "$f") < n)); do sleep 0.05; done
		w[n]=$(rate "$(secs "$t")")
		RES[w$n]+="${w[$n]} "
		rm -f "$f"
	done
	RES[rw]+="$(ratio "${w[2]}" "${w[1]}") "
	echo "  run $i: gfrep $g MiB/s, cp $c MiB/s; write ncopy1 ${w[1]}, ncopy2 ${w[2]} MiB/s"
done
med() { tr ' ' '\n' <<<"${RES[$1]}" | grep . | median; }
echo
printf '%-22s %10s %10s %8s\n' what MiB/s baseline ratio
# the ratio: the median of each run's own (a run's pair shares the machine's
# mood of the moment: this machine's disk and CPU swing between runs)
awk -v a="$(med gfrep)" -v b="$(med cp)" -v r="$(med rg)" 'BEGIN { printf "%-22s %10.1f %10.1f %7.3fx\n", "gfrep (vs cp+sync)", a, b, r }'
awk -v a="$(med w2)" -v b="$(med w1)" -v r="$(med rw)" 'BEGIN { printf "%-22s %10.1f %10.1f %7.3fx\n", "write ncopy2 (vs 1)", a, b, r }'
