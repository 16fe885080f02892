#!/bin/bash
# bench/million.sh — gfmd holding a million files: memory per file, start-up
# time, metadata rates and gfsched latency, each beside the same figure with
# an (almost) empty namespace, on one cluster in one run. Not a test: it
# prints figures, never pass/fail. Needs root (it starts its own cluster).
#
# usage: bench/million.sh [-n FILES] [-c COPIES] [-r ROUNDS] [-t THREADS]
#   -n FILES    files to put in gfmd (default 1000000), 1000 per directory
#   -c COPIES   replicas per file in the catalogue, 1 or 2 (default 2)
#   -r ROUNDS   rounds of each timed figure; medians are printed (default 3)
#   -t THREADS  gfmdbench threads making the files (default 16)
#
# How:
#   1. A cluster (3 gfsd, one mount) starts. With the namespace empty, gfmd
#      is restarted R times: its start-up time and its resident memory (RSS)
#      after start-up are the baseline. Then the 1-client metadata rates on
#      the mount (bench/fscompare.sh --no-data, 1,000 files) and the wall
#      time of `gfsched` for one file (the process, median of 10·R runs).
#   2. FILES files are made through gfmd by bench/gfmdbench fill -w, as a
#      writer makes them (create, which places a replica on a gfsd, then the
#      writer's close at 64 KiB). No gfsd holds their data: this measures
#      gfmd. With -c 2, gfmd is stopped and a second replica row is added to
#      each file on the next host (what `gfrep -N 2` leaves in the
#      catalogue), through PostgreSQL. Then VACUUM ANALYZE, as autovacuum
#      would have done to a catalogue that grew over time.
#   3. gfmd is restarted R times: start-up time (exec until it answers a
#      request; its log's "loaded N inodes" line is reached just before) and
#      RSS after start-up. Memory per file = (RSS full − RSS empty) / FILES,
#      both after a restart, so neither counts what making them left behind.
#   4. The metadata rates and gfsched again, now with FILES files in gfmd.
set -uo pipefail
BENCH=million
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
N=1000000 COPIES=2 R=3 T=16
while (($#)); do
	case $1 in
	-n) N=$2; shift 2 ;;
	-c) COPIES=$2; shift 2 ;;
	-r) R=$2; shift 2 ;;
	-t) T=$2; shift 2 ;;
	-h | --help) bench_help 29; exit 0 ;;
	*) echo "million: unknown option $1 (see --help)" >&2; exit 2 ;;
	esac
done
[[ $(id -u) == 0 ]] || { echo "million: needs root (it starts a cluster)" >&2; exit 1; }
for v in "$N" "$R" "$T"; do
	[[ $v =~ ^[1-9][0-9]*$ ]] || { echo "million: counts must be positive integers" >&2; exit 2; }
done
[[ $COPIES == 1 || $COPIES == 2 ]] || { echo "million: -c must be 1 or 2" >&2; exit 2; }

MNT='' LOCAL=''
bench_targets "$N files in gfmd, $COPIES replica(s) each, median of $R rounds"
GFMDBENCH=$top_builddir/bench/gfmdbench
GFSCHED=$(gf_bin gfsched) || exit 1
PSQL=$(gf_pg_bindir)/psql
pgq() { (cd / && runuser -u postgres -- "$PSQL" -q -X -A -t -h "$PGDIR/sock" -p "$PGPORT" -U postgres -d "$GFMD_DB" "$@"); }
GFMD_DB=$(sed -n 's/^postgresql = .*dbname=\([^ "]*\).*/\1/p' "$STATE/gfmd.conf")
[[ -n $GFMD_DB ]] || { echo "million: no dbname in $STATE/gfmd.conf" >&2; exit 1; }

rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$(gf_pidfile_pid "$STATE/gfmd.pid")/status"; }

# Restart gfmd R times; sets START_S (median start-up seconds) and RSS_KB
# (median RSS after start-up).
restarts() {
	local i t0 s=() m=()
	for ((i = 0; i < R; i++)); do
		gf_gfmd_stop || return 1
		t0=$(now)
		gf_gfmd_start >/dev/null || return 1
		s+=("$(secs "$t0")")
		m+=("$(rss_kb)")
	done
	gf_wait_hosts_up || return 1 # (gfsched lists up hosts only)
	START_S=$(printf '%s\n' "${s[@]}" | median)
	RSS_KB=$(printf '%s\n' "${m[@]}" | median)
	echo "    start-up s: ${s[*]}; RSS kB: ${m[*]}" >&2
}

# Metadata rates on the mount (1 client, 1,000 files): "op rate" lines.
rates() {
	"$(dirname "$0")/fscompare.sh" --mount "$MOUNT" --no-data --no-breakdown -n 1000 -r "$R" |
		awk '/^ *(create|stat|chmod|rename|unlink) / && !done[$1]++ { print $1, $2 }'
}

# Median wall milliseconds of `gfsched PATH` (the whole process: exec,
# configuration, connection and authentication, its two gfmd calls), timed
# with bash's own clock, so that no timing process is counted in.
sched_ms() {
	local i t0 t1 v=()
	for ((i = 0; i < 10 * R; i++)); do
		t0=$EPOCHREALTIME
		"$GFSCHED" -c "$CONFIG" "$1" >/dev/null || return 1
		t1=$EPOCHREALTIME
		v+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) * 1000 }')")
	done
	printf '%s\n' "${v[@]}" | median
}

echo "  1. empty namespace"
restarts || exit 1
START0=$START_S RSS0=$RSS_KB
echo "  some" >"$MOUNT/one" && sync
SCHED0=$(sched_ms gfarm:/one) || exit 1
RATES0=$(rates)

echo "  2. making $N files (gfmdbench fill -w 65536, $T threads)"
"$GFMDBENCH" "$CONFIG" fill -n "$N" -t "$T" -w 65536 -d million | sed 's/^/    /' || exit 1
if ((COPIES == 2)); then
	gf_gfmd_stop || exit 1
	pgq -c "INSERT INTO replica (ino, host_id, gen, fgen)
		SELECT r.ino, coalesce((SELECT min(host_id) FROM host WHERE host_id > r.host_id),
				       (SELECT min(host_id) FROM host)), r.gen, r.fgen
		FROM replica r
		WHERE NOT EXISTS (SELECT 1 FROM replica o WHERE o.ino = r.ino AND o.host_id <> r.host_id)" ||
		{ echo "million: adding the second replicas failed" >&2; exit 1; }
	echo "    second replicas: $(pgq -c "SELECT count(*) FROM replica") replica rows in all"
	gf_gfmd_start >/dev/null || exit 1
fi
# as a catalogue that grew over time would be: vacuumed and analysed (else
# autovacuum, started by a million new rows, runs beside the rates below)
pgq -c "VACUUM ANALYZE" || { echo "million: VACUUM ANALYZE failed" >&2; exit 1; }

echo "  3. $N files: restarting gfmd"
restarts || exit 1
START1=$START_S RSS1=$RSS_KB
SCHED1=$(sched_ms "gfarm:/million/d000$((N / 2000))/f$(printf '%07d' $((N / 2)))") || exit 1
RATES1=$(rates)

echo
printf '%-34s %14s %14s\n' "" "empty" "$N files"
printf '%-34s %14s %14s\n' "gfmd RSS after start-up, MiB" \
	"$(awk -v k="$RSS0" 'BEGIN { printf "%.1f", k / 1024 }')" \
	"$(awk -v k="$RSS1" 'BEGIN { printf "%.1f", k / 1024 }')"
printf '%-34s %14s %14s\n' "memory per file, bytes" "" \
	"$(awk -v a="$RSS0" -v b="$RSS1" -v n="$N" 'BEGIN { printf "%.0f", (b - a) * 1024 / n }')"
printf '%-34s %14s %14s\n' "start-up (exec → answers), s" "$START0" "$START1"
printf '%-34s %14s %14s\n' "gfsched of one file, ms" "$SCHED0" "$SCHED1"
for op in create stat chmod rename unlink; do
	printf '%-34s %14s %14s\n' "$op /s (1 client, 1,000 files)" \
		"$(awk -v o="$op" '$1 == o { print $2 }' <<<"$RATES0")" \
		"$(awk -v o="$op" '$1 == o { print $2 }' <<<"$RATES1")"
done
