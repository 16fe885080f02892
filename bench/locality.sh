#!/bin/bash
# bench/locality.sh — what locality is worth: aggregate read throughput with
# one reader per host on the multi-host test bed (tests/netbed.sh), each
# reader reading a file that lies on its own host (local: the replica's fd is
# passed to the client, no byte crosses the network), beside the same readers
# placed so that every read is remote (the reader on host k reads the file of
# host k+1, through its own mount, over the test bed's network). For 1, 2 and
# 4 hosts; page cache dropped before every run; median of R runs. Prints
# MiB/s, the remote/local ratio, and how many bytes the gfsd counters saw
# cross the network. Not a test: no pass/fail. Needs root.
#
# usage: bench/locality.sh [-s MIB] [-r RUNS] [--hosts "1 2 4"] [--rate RATE]
#   -s MIB        file size per host (default 256)
#   -r RUNS       runs per cell, the median is shown (default 3)
#   --hosts LIST  reader counts (default "1 2 4"; the test bed has the largest,
#                 at least 2)
#   --rate RATE   shape every host's link with tc tbf (e.g. 1gbit, 100mbit),
#                 like the papers' networks; default unshaped veth
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
MIB=256 R=3 COUNTS="1 2 4" RATE=''
while (($#)); do
	case $1 in
	-s) MIB=$2; shift 2 ;;
	-r) R=$2; shift 2 ;;
	--hosts) COUNTS=$2; shift 2 ;;
	--rate) RATE=$2; shift 2 ;;
	-h | --help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "locality: unknown option $1" >&2; exit 2 ;;
	esac
done
[[ $(id -u) == 0 ]] || { echo "locality: needs root" >&2; exit 1; }
[[ $MIB =~ ^[1-9][0-9]*$ && $R =~ ^[1-9][0-9]*$ ]] || { echo "locality: bad -s/-r" >&2; exit 2; }
N=2
for n in $COUNTS; do
	[[ $n =~ ^[1-9][0-9]*$ ]] || { echo "locality: bad --hosts" >&2; exit 2; }
	((n > N)) && N=$n
done

# shellcheck source-path=SCRIPTDIR source=../tests/netbed.sh
. "$HERE/../tests/netbed.sh"
cleanup() { [[ -n ${STATE:-} && -e $STATE/.gfarmfs-cluster ]] && gf_cluster_down "$STATE"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "locality: starting a test bed of $N hosts${RATE:+, links $RATE}" >&2
nb_up --hosts "$N" ${RATE:+--rate "$RATE"} || exit 1
mnt() { local v=MOUNT_node$1; echo "${!v}"; }

echo "locality: writing $MIB MiB on each of the $N hosts" >&2
head -c $((MIB * 1024 * 1024)) /dev/urandom >"$STATE/src" || exit 1
for ((k = 1; k <= N; k++)); do
	cp "$STATE/src" "$(mnt "$k")/data$k" || { echo "locality: write on node$k failed" >&2; exit 1; }
done
rm -f "$STATE/src"
# Each file on its own host, or the comparison means nothing.
for ((k = 1; k <= N; k++)); do
	h=$(cd "$(mnt "$k")" && nb_exec "$k" "$(gf_bin gfsched)" -c "$STATE/client$k.conf" "data$k" 2>/dev/null)
	[[ $h == "node$k" ]] || { echo "locality: data$k is on '$h', not on node$k" >&2; exit 1; }
done

remote_bytes() {
	local k s=0 v
	for ((k = 1; k <= N; k++)); do
		v=$(gf_stat_value "node$k" read_remote) || v=0
		s=$((s + v))
	done
	echo "$s"
}

# one_run MODE COUNT: seconds for COUNT readers (hosts 1..COUNT) to read their
# files, MODE local (own file) or remote (host k+1's file), page cache cold.
one_run() {
	local mode=$1 n=$2 k f t0 t1 pids=() bad=0 p
	sync
	echo 3 >/proc/sys/vm/drop_caches
	t0=$(date +%s%N)
	for ((k = 1; k <= n; k++)); do
		if [[ $mode == local ]]; then f=data$k; else f=data$((k % N + 1)); fi
		nb_exec "$k" dd if="$(mnt "$k")/$f" of=/dev/null bs=1M status=none &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p" || bad=1; done
	t1=$(date +%s%N)
	((bad)) && { echo "locality: a reader failed" >&2; return 1; }
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f\n", (b - a) / 1e9 }'
}

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

declare -A RES NET
for n in $COUNTS; do
	for mode in local remote; do
		rates=()
		b0=$(remote_bytes)
		for ((r = 1; r <= R; r++)); do
			s=$(one_run "$mode" "$n") || exit 1
			rates+=("$(awk -v n="$n" -v m="$MIB" -v s="$s" 'BEGIN { printf "%.1f", n * m / s }')")
			echo "locality: $n host(s), $mode, run $r: ${s}s, ${rates[-1]} MiB/s" >&2
		done
		RES[$n,$mode]=$(printf '%s\n' "${rates[@]}" | median)
		# Bytes the gfsd served to clients on other hosts, per run.
		NET[$n,$mode]=$(awk -v a="$b0" -v b="$(remote_bytes)" -v r="$R" 'BEGIN { printf "%.0f", (b - a) / r / 1048576 }')
	done
done

echo
echo "locality: aggregate read throughput, one reader per host, $MIB MiB each, cold cache, median of $R"
echo "test bed: $N hosts in network namespaces on one machine ($(nproc) cores), links ${RATE:-unshaped veth}"
printf '%-6s %14s %14s %14s %12s %12s\n' hosts "local MiB/s" "remote MiB/s" remote/local "net MiB(l)" "net MiB(r)"
for n in $COUNTS; do
	printf '%-6s %14s %14s %14s %12s %12s\n' "$n" "${RES[$n,local]}" "${RES[$n,remote]}" \
		"$(awk -v l="${RES[$n,local]}" -v r="${RES[$n,remote]}" 'BEGIN { printf "%.2f", r / l }')" \
		"${NET[$n,local]}" "${NET[$n,remote]}"
done
echo "(net MiB: bytes the gfsd counters saw served to other hosts, per run)"
