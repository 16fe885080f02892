#!/bin/bash
# bench/thput.sh — throughput benchmark like the paper's thput-fsys:
# sequential write of a SIZE MiB file (1 GiB default, fsync included), page
# cache dropped, sequential read back; on a gfarmfs mount and on a local
# directory in the same run. Prints MiB/s (median of R runs) and the ratio
# gfarmfs/local. Not a test: no pass/fail. Needs root (drop_caches).
#
# usage: bench/thput.sh [-s MIB] [-b BLOCK] [-r RUNS] [--mount DIR] [--local DIR]
#   --mount DIR   an existing gfarmfs mount (default: start a cluster with
#                 3 gfsd and one mount, and stop it afterwards)
#   --local DIR   local directory to compare with (default: a temp dir in /var/tmp)
set -uo pipefail
BENCH=thput
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
MIB=1024 BS=1M R=3 MNT='' LOCAL=''
while (($#)); do
	case $1 in
	-s) MIB=$2; shift 2 ;;
	-b) BS=$2; shift 2 ;;
	-r) R=$2; shift 2 ;;
	--mount) MNT=$2; shift 2 ;;
	--local) LOCAL=$2; shift 2 ;;
	-h | --help) bench_help 12; exit 0 ;;
	*) echo "thput: unknown option $1" >&2; exit 2 ;;
	esac
done
[[ $(id -u) == 0 ]] || { echo "thput: needs root to drop the page cache" >&2; exit 1; }

bench_cleanup_extra() { [[ -n ${MNT:-} ]] && rm -f "$MNT/thput.$$"; }
bench_targets "$MIB MiB, block $BS, median of $R runs"

elapsed() {
	local t0 t1
	t0=$(date +%s.%N)
	"$@" || { echo "thput: failed: $*" >&2; exit 1; }
	t1=$(date +%s.%N)
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", b - a }'
}

declare -A W R_
for ((i = 1; i <= R; i++)); do
	for t in gfarmfs local; do
		dir=$MNT
		[[ $t == local ]] && dir=$LOCAL
		f=$dir/thput.$$
		rm -f "$f"
		drop
		w=$(elapsed dd if=/dev/zero of="$f" bs="$BS" count=$((MIB * 1048576 / $(numfmt --from=iec "$BS"))) conv=fsync status=none)
		drop
		r=$(elapsed dd if="$f" of=/dev/null bs="$BS" status=none)
		rm -f "$f"
		W[$t]+="$(rate "$w") "
		R_[$t]+="$(rate "$r") "
		echo "  run $i $t: write $(rate "$w") MiB/s, read $(rate "$r") MiB/s"
	done
done

echo
printf '%-6s %14s %14s %8s\n' op "gfarmfs MiB/s" "local MiB/s" ratio
for op in write read; do
	if [[ $op == write ]]; then
		g=$(tr ' ' '\n' <<<"${W[gfarmfs]}" | grep . | median)
		l=$(tr ' ' '\n' <<<"${W[local]}" | grep . | median)
	else
		g=$(tr ' ' '\n' <<<"${R_[gfarmfs]}" | grep . | median)
		l=$(tr ' ' '\n' <<<"${R_[local]}" | grep . | median)
	fi
	awk -v op="$op" -v g="$g" -v l="$l" 'BEGIN { printf "%-6s %14.1f %14.1f %7.3fx\n", op, g, l, g / l }'
done
