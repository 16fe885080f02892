#!/bin/bash
# bench/aster.sh — the ASTER pipeline (aster/aster-day): per-stage and total
# wall time of one synthetic day on gfarmfs (3 gfsd on this machine, a mount
# per host, each task on the host holding its input) beside the same day on
# a local directory, in the same run; medians of R runs of each, and their
# ratios (the target: every stage and the total within 1.15x of local).
# Both run with the same number of tasks at once (-j, default the number of
# CPUs: every "host" shares this machine's). A second table gives one
# task's wall time per stage (aster-day --task-log), median over all runs:
# a stage slower than its tasks are waits between them. Not a test: no
# pass/fail.
#
# usage: bench/aster.sh [-s tiny|demo|large] [-r RUNS] [-j JOBS]
#                       [--fast | --journal]
#   --fast     gfmd in the fast mode (durability = fsync with a journal)
#   --journal  gfmd in the default mode with a journal (a reply waits for
#              its record's flush there, not for a PostgreSQL commit)
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
SCALE=demo R=3 J=$(nproc) FAST=0 JOURNAL=0
while (($#)); do
	case $1 in
	-s) SCALE=$2; shift 2 ;;
	-r) R=$2; shift 2 ;;
	-j) J=$2; shift 2 ;;
	--fast) FAST=1; shift ;;
	--journal) JOURNAL=1; shift ;;
	-h | --help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "aster: unknown option $1" >&2; exit 2 ;;
	esac
done
[[ $(id -u) == 0 ]] || { echo "aster: needs root" >&2; exit 1; }
ASTER=$top_srcdir/aster PYD=/usr/bin/python3
LOCAL=$(mktemp -d /var/tmp/aster-bench.XXXXXX)
# the cluster next to the local day (bench/lib.sh says why)
SDIR=$(mktemp -d /var/tmp/aster-bench.cluster.XXXXXX)
cleanup() {
	kill "${FTPD:-}" 2>/dev/null
	rm -rf "$LOCAL"
	[[ -n ${STATE:-} ]] && gf_cluster_down "$STATE"
	rm -rf "$SDIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
if ((FAST)); then
	echo "aster: starting a cluster (3 gfsd, a mount per host; durability = fsync, journal)" >&2
	bench_fast_conf "$SDIR"
elif ((JOURNAL)); then
	echo "aster: starting a cluster (3 gfsd, a mount per host; durability = commit, journal)" >&2
	bench_journal_conf "$SDIR"
else
	echo "aster: starting a cluster (3 gfsd, a mount per host)" >&2
fi
gf_cluster_up --gfsd 3 --mounts 3 --state "$SDIR/c" || exit 1
for k in 1 2 3; do ln -sfn "mnt$k" "$STATE/mnt-node$k"; done
{ cat "$STATE/client1.conf"; printf 'launcher = env\nmount_point = "%s/mnt-%%h"\n' "$STATE"; } >"$STATE/aster.conf"
"$PYD" "$ASTER/gen_day.py" --scale "$SCALE" "$LOCAL/downlink" >/dev/null || exit 1
port=$("$PYD" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$PYD" -m pyftpdlib -i 127.0.0.1 -p "$port" -d "$LOCAL/downlink/l0" >"$LOCAL/ftpd.log" 2>&1 &
FTPD=$!
runuser -u postgres -- createdb -h "$PGDIR/sock" -p "$PGPORT" aster || exit 1
DSN="host=$PGDIR/sock port=$PGPORT dbname=aster user=postgres"
echo "aster: a $SCALE day ($(du -sh "$LOCAL/downlink/l0" | cut -f1) of L0), $J tasks at once, median of $R runs"
declare -A T
for ((i = 1; i <= R; i++)); do
	for where in gfarmfs local; do
		if [[ $where == gfarmfs ]]; then
			args=(-c "$STATE/aster.conf" --work "$MOUNT/day$i")
		else
			args=(--local --work "$LOCAL/day$i")
		fi
		drop
		"$ASTER/aster-day" "${args[@]}" --ftp "ftp://127.0.0.1:$port" --db "$DSN" --jobs "$J" \
			--task-log "$LOCAL/tasks.$where" \
			--quiet >"$LOCAL/table.$where.$i" || { cat "$LOCAL/table.$where.$i"; exit 1; }
		while read -r stage wall; do T[$where.$stage]+="$wall "; done < <(awk '$1 == "total" { print $1, $2; next }
			NR > 1 && NF >= 9 { print $1, $7 }' "$LOCAL/table.$where.$i")
		rm -rf "${args[-1]}"
	done
	echo "  run $i: total gfarmfs $(awk '$1 == "total" { print $2 }' "$LOCAL/table.gfarmfs.$i") s," \
		"local $(awk '$1 == "total" { print $2 }' "$LOCAL/table.local.$i") s"
done
median_of() { tr ' ' '\n' | grep . | median; } # of words
echo
printf '%-10s %12s %10s %8s\n' stage "gfarmfs s" "local s" ratio
for s in FTP MV BZIP2 REPLICATE BUNZIP2 L1PGE DTMSOFT CONVERT total; do
	g=$(median_of <<<"${T[gfarmfs.$s]:-}") l=$(median_of <<<"${T[local.$s]:-}")
	awk -v s="$s" -v g="$g" -v l="$l" 'BEGIN { printf "%-10s %12.2f %10.2f %7.2fx\n", s, g, l, (l > 0) ? g / l : 0 }'
done
echo
echo "one task's wall time, median of all runs' tasks (s; where a stage's time goes):"
printf '%-10s %6s %12s %10s %8s\n' stage tasks "gfarmfs s" "local s" ratio
for s in FTP BZIP2 REPLICATE BUNZIP2 L1PGE DTMSOFT CONVERT; do
	g=$(awk -F'\t' -v s="$s" '$1 == s && $3 == "ok" { print $5 }' "$LOCAL/tasks.gfarmfs" | median)
	l=$(awk -F'\t' -v s="$s" '$1 == s && $3 == "ok" { print $5 }' "$LOCAL/tasks.local" | median)
	n=$(awk -F'\t' -v s="$s" '$1 == s && $3 == "ok"' "$LOCAL/tasks.gfarmfs" | wc -l)
	awk -v s="$s" -v n="$n" -v g="$g" -v l="$l" 'BEGIN { printf "%-10s %6d %12.3f %10.3f %7.2fx\n", s, n, g, l, (l > 0) ? g / l : 0 }'
done
echo "(the last run's tables: gfarmfs, then local)"
cat "$LOCAL/table.gfarmfs.$R" "$LOCAL/table.local.$R"
