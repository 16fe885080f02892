#!/bin/bash
# bench/checksum.sh — what block checksums (lib/csum.h, gfsd/sums.h) cost:
#   1. a cold read of a SIZE MiB file through the mount from its local
#      replica, checked (sealed: the mount preads and sums every block),
#      beside the same read unchecked (its sums removed: the mount splices
#      from the replica's fd) and a cold read of a local file;
#   2. a SIZE MiB write with fsync through the mount (gfsd seals the replica
#      at close: one more pass over the data, from the page cache), beside
#      the same write into a local directory.
# The page cache is dropped before each read. Prints MiB/s, median of R
# runs, and the ratios. Not a test: no pass/fail. Needs root.
#
# usage: bench/checksum.sh [-s MIB] [-r RUNS]
set -uo pipefail
BENCH=checksum
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
MIB=1024 R=3 MNT='' LOCAL=''
while (($#)); do
	case $1 in
	-s) MIB=$2; shift 2 ;;
	-r) R=$2; shift 2 ;;
	-h | --help) bench_help 13; exit 0 ;;
	*) echo "checksum: unknown option $1" >&2; exit 2 ;;
	esac
done
[[ $(id -u) == 0 ]] || { echo "checksum: needs root" >&2; exit 1; }

bench_targets "$MIB MiB, median of $R runs"
export GFARMFS_CONFIG=$STATE/admin.conf
SRC=$LOCAL/random
head -c $((MIB * 1048576)) /dev/urandom >"$SRC" || exit 1

timed() { local t; t=$(now); "$@" || exit 1; rate "$(secs "$t")"; }

declare -A RES
for ((i = 1; i <= R; i++)); do
	F=$MNT/f$i L=$LOCAL/f$i
	drop
	w=$(timed dd if="$SRC" of="$F" bs=1M conv=fsync status=none)
	drop
	wl=$(timed dd if="$SRC" of="$L" bs=1M conv=fsync status=none)
	[[ -s $(spool_of "$F").sum ]] || { echo "checksum: $F was not sealed" >&2; exit 1; }
	drop
	rc=$(timed dd if="$F" of=/dev/null bs=1M status=none)
	rm -f "$(spool_of "$F").sum"
	drop
	ru=$(timed dd if="$F" of=/dev/null bs=1M status=none)
	drop
	rl=$(timed dd if="$L" of=/dev/null bs=1M status=none)
	rm -f "$F" "$L"
	RES[w]+="$w " RES[wl]+="$wl " RES[rc]+="$rc " RES[ru]+="$ru " RES[rl]+="$rl "
	echo "  run $i: write $w (local $wl); read checked $rc, unchecked $ru (local $rl) MiB/s"
done
med() { tr ' ' '\n' <<<"${RES[$1]}" | grep . | median; }
echo
printf '%-34s %10s %10s %8s\n' what MiB/s baseline ratio
row() { awk -v n="$1" -v a="$(med "$2")" -v b="$(med "$3")" 'BEGIN { printf "%-34s %10.1f %10.1f %7.3fx\n", n, a, b, a / b }'; }
row "read checked (vs unchecked)" rc ru
row "read checked (vs local disk)" rc rl
row "read unchecked (vs local disk)" ru rl
row "write + seal at close (vs local)" w wl
