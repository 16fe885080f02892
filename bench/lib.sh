#!/bin/bash
# bench/lib.sh — what the benchmarks comparing a gfarmfs mount with a local
# directory (fscompare.sh, thput.sh, everyday.sh) share. Source it first; then:
#   bench_help LAST       print the header comment, lines 2..LAST of $0, as help
#   drop, now, secs T0, rate SECONDS ($MIB MiB in them: MiB/s), median
#   (of numbers, one per line), spool_of FILE (its first replica's spool
#   file, from gfwhere -l, in a cluster of this machine's)
#   bench_targets TITLE   make the two targets and print "$BENCH: TITLE" and
#                         them: unless MNT names a mount, start a cluster (3
#                         gfsd, one mount) and set MNT to its mount; unless
#                         LOCAL names a directory, make one in /var/tmp. On
#                         exit, bench_cleanup_extra (the benchmark's own, if
#                         it defines one) runs and both are removed again.
#                         With FAST=1 that cluster's gfmd runs in the fast
#                         mode: durability = fsync with a journal; with
#                         JOURNAL=1 in the default mode with a journal
#                         (a reply waits for the journal's flush).
#                         With BENCH_HOSTS=H (> 0) the cluster is a test
#                         bed of H hosts instead (tests/netbed.sh: a gfsd
#                         and a mount per host, each host a network
#                         namespace, gfmd on a host of its own); MOUNTS then
#                         lists every host's mount, MNT is node1's, and
#                         IN_BED is the command prefix (nsenter, a plain
#                         program: also for a benchmark's Python) that runs
#                         a command on node1 (gfmd is reachable only from
#                         the test bed's namespaces); empty otherwise.
# BENCH is the benchmark's name, for messages and the temp dir.

# shellcheck source-path=SCRIPTDIR source=../tests/cluster.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../tests/cluster.sh"

bench_help() { sed -n "2,$1p" "$0" | sed 's/^# \{0,1\}//'; }

bench_cleanup_extra() { :; }

# bench_fast_conf DIR: the next cluster's gfmd in the fast mode
# (durability = fsync, its journal in DIR)
bench_fast_conf() {
	export GF_GFMD_CONF_EXTRA="durability = fsync
journal = $1/gfmd.journal"
}

# bench_journal_conf DIR: the next cluster's gfmd in the default mode with
# a journal in DIR (a reply waits for its record's flush there)
bench_journal_conf() {
	export GF_GFMD_CONF_EXTRA="journal = $1/gfmd.journal"
}

bench_cleanup() {
	[[ -n ${LOCAL_TMP:-} ]] && rm -rf "$LOCAL_TMP"
	bench_cleanup_extra
	[[ -n ${BENCH_STATE:-} ]] && gf_cluster_down "$BENCH_STATE"
	[[ -n ${BENCH_SDIR:-} ]] && rm -rf "$BENCH_SDIR"
}

# shellcheck disable=SC2034  # MOUNTS, IN_BED: for the benchmark that sources this
bench_targets() {
	trap bench_cleanup EXIT
	trap 'exit 130' INT TERM
	if [[ -z $MNT ]]; then
		# next to the local directory compared with: on this machine a file
		# made under /tmp took 250-750 us against 15 us under /var/tmp (the
		# same ext4), which would be charged to gfsd's replica files
		BENCH_SDIR=$(mktemp -d "/var/tmp/$BENCH.cluster.XXXXXX")
		if ((${FAST:-0})); then
			echo "$BENCH: starting a cluster (durability = fsync, journal)" >&2
			bench_fast_conf "$BENCH_SDIR"
		elif ((${JOURNAL:-0})); then
			echo "$BENCH: starting a cluster (durability = commit, journal)" >&2
			bench_journal_conf "$BENCH_SDIR"
		else
			echo "$BENCH: starting a cluster" >&2
		fi
		if ((${BENCH_HOSTS:-0} > 0)); then
			echo "$BENCH: the cluster is a test bed of $BENCH_HOSTS hosts" >&2
			# shellcheck source-path=SCRIPTDIR source=../tests/netbed.sh
			. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../tests/netbed.sh"
			BENCH_STATE=$BENCH_SDIR/c
			nb_up --hosts "$BENCH_HOSTS" --state "$BENCH_STATE" || exit 1
			MOUNTS=() IN_BED=(nsenter "--net=$(nb_nsfile node1)" --)
			local k v
			for ((k = 1; k <= BENCH_HOSTS; k++)); do
				v=MOUNT_node$k
				MOUNTS+=("${!v}")
			done
			MNT=${MOUNTS[0]}
		else
			gf_cluster_up --gfsd 3 --mounts 1 --state "$BENCH_SDIR/c" || exit 1
			BENCH_STATE=$STATE
			# shellcheck disable=SC2153  # MOUNT: from gf_cluster_up
			MNT=$MOUNT MOUNTS=("$MOUNT") IN_BED=()
		fi
	else
		MOUNTS=("$MNT") IN_BED=()
	fi
	if [[ -z $LOCAL ]]; then
		LOCAL_TMP=$(mktemp -d "/var/tmp/$BENCH.XXXXXX")
		LOCAL=$LOCAL_TMP
	fi
	echo "$BENCH: $1"
	echo "  gfarmfs: ${MOUNTS[*]} ($(stat -f -c %T "$MNT"))"
	echo "  local:   $LOCAL ($(stat -f -c %T "$LOCAL"))"
}

drop() { sync; echo 3 >/proc/sys/vm/drop_caches; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.6f", b - a }'; }
rate() { awk -v m="$MIB" -v s="$1" 'BEGIN { printf "%.1f", m / s }'; }
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
spool_of() {
	local ino host file
	ino=$(stat -c %i "$1")
	read -r host file < <("$(gf_bin gfwhere)" -l "$1" | awk 'NR == 2 { print $2, $6 }')
	printf '%s/%s/spool/data/%02x/%016x-%s\n' "$STATE" "$host" $((ino & 255)) "$ino" "$file"
}
