#!/bin/bash
# bench/checksum.sh — what block checksums (lib/csum.h, gfsd/sums.h) cost:
#   1. a cold read of a SIZE MiB file through the mount from its local
#      replica, checked (sealed: the mount preads and sums every block),
#      beside the same read unchecked (its sums removed: the mount splices
#      from the replica's fd) and a cold read of a local file;
#   2. a SIZE MiB write with fsync through the mount (gfsd seals the replica
#      after close, in the background: one more pass over the data, from
#      the page cache), beside the same write into a local directory;
#   3. the latency of a 64 KiB read of another file through the mount right
#      after that close, beside the same read with no close before it (the
#      seal used to hold the mount's connection to its gfsd meanwhile).
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
sealed() { [[ -s $(spool_of "$1").sum ]]; }
# after_close SRC BIG SMALL: ms of a read of SMALL right after BIG is
# written from SRC and closed, then ms of the same read once all is quiet
after_close() {
	/usr/bin/python3 - "$@" <<'PYEOF'
import os, sys, time
src, big, small = sys.argv[1:4]
def read_small():
    t = time.perf_counter()
    fd = os.open(small, os.O_RDONLY)
    os.read(fd, 65536)
    os.close(fd)
    return (time.perf_counter() - t) * 1e3
fi, fo = os.open(src, os.O_RDONLY), os.open(big, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
while os.sendfile(fo, fi, None, 1 << 24) > 0:
    pass
os.close(fi)
os.close(fo)
a = read_small()
time.sleep(2)
print("%.3f %.3f" % (a, read_small()))
PYEOF
}

declare -A RES
for ((i = 1; i <= R; i++)); do
	F=$MNT/f$i L=$LOCAL/f$i
	drop
	w=$(timed dd if="$SRC" of="$F" bs=1M conv=fsync status=none)
	drop
	wl=$(timed dd if="$SRC" of="$L" bs=1M conv=fsync status=none)
	gf_poll 60 sealed "$F" || { echo "checksum: $F was not sealed" >&2; exit 1; }
	drop
	rc=$(timed dd if="$F" of=/dev/null bs=1M status=none)
	rm -f "$(spool_of "$F").sum"
	drop
	ru=$(timed dd if="$F" of=/dev/null bs=1M status=none)
	drop
	rl=$(timed dd if="$L" of=/dev/null bs=1M status=none)
	rm -f "$F" "$L"
	head -c 65536 /dev/urandom >"$MNT/small$i"
	drop
	cat "$MNT/small$i" >/dev/null
	read -r ac aq < <(after_close "$SRC" "$F" "$MNT/small$i")
	rm -f "$F" "$MNT/small$i"
	RES[w]+="$w " RES[wl]+="$wl " RES[rc]+="$rc " RES[ru]+="$ru " RES[rl]+="$rl "
	RES[ac]+="$ac " RES[aq]+="$aq "
	echo "  run $i: write $w (local $wl); read checked $rc, unchecked $ru (local $rl) MiB/s;" \
		"a small read right after the close $ac ms (quiet $aq ms)"
done
med() { tr ' ' '\n' <<<"${RES[$1]}" | grep . | median; }
echo
printf '%-34s %10s %10s %8s\n' what MiB/s baseline ratio
row() { awk -v n="$1" -v a="$(med "$2")" -v b="$(med "$3")" 'BEGIN { printf "%-34s %10.1f %10.1f %7.3fx\n", n, a, b, a / b }'; }
row "read checked (vs unchecked)" rc ru
row "read checked (vs local disk)" rc rl
row "read unchecked (vs local disk)" ru rl
row "write + seal at close (vs local)" w wl
awk -v a="$(med ac)" -v b="$(med aq)" 'BEGIN { printf "%-34s %8.2f ms %7.2f ms %7.3fx\n", "small read right after (vs quiet)", a, b, a / b }'
