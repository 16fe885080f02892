#!/bin/bash
# bench/swap.sh — network swap (gfswap) beside its baselines, in one run:
# the paper's workloads (bench/swapload.py: sequential or random writes of
# every page of a working set, then reads of every page, checked), alone
# or beside a large sequential file write, with 1 or 4 processes: 8 cases.
# The working set is 3x the memory cgroup's limit (v1), and each case runs
# with, in turn (interleaved, RUNS rounds):
#   ram     no limit: everything stays in RAM (the floor);
#   disk    a swap file on the local disk (/var/tmp);
#   gfswap  gfswap on a local cluster, 3 page servers, 2 copies per page;
#   bound   the same loop device over gfswap's FUSE file with no network
#           and no server at all (pages in a tmpfs file, one copy): what
#           the FUSE + loop path alone costs.
# Only one swap device is on at a time. Prints seconds per case and config
# (median of RUNS) and gfswap's ratio to disk and to bound. Not a test: no
# pass/fail. Needs root, numpy, and no other swap on.
#
# usage: bench/swap.sh [-l LIMIT_MIB] [-r RUNS] [-c CASES] [-k CONFIGS] [-v]
#   CASES: a comma list of seq1,seq4,rand1,rand4 with an optional +bg, e.g.
#   -c seq1,rand1+bg (default: all 8)
#   CONFIGS: a comma list of ram,disk,gfswap,bound (default: all four)
#   -v: after each gfswap case, its request counts and average latencies
#   -x LINE: a line added to gfswap's configuration (for comparisons, e.g.
#      -x 'swap_read_ahead_mb = 0'); may be given more than once
#   -n RATE: the page servers on the test bed (tests/netbed.sh: 4 hosts
#      made of network namespaces), every link shaped to RATE with tbf
#      (1gbit, 100mbit: the paper's Table 2); gfswap runs on host node1,
#      the other configurations as without -n
set -uo pipefail
BENCH=swap
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
LIMIT=1024 R=3 CASES='' CONFIGS_ARG=ram,disk,gfswap,bound VERBOSE=0 EXTRA_CONF='' RATE=''
while (($#)); do
	case $1 in
	-l) LIMIT=$2; shift 2 ;;
	-r) R=$2; shift 2 ;;
	-c) CASES=$2; shift 2 ;;
	-k) CONFIGS_ARG=$2; shift 2 ;;
	-v) VERBOSE=1; shift ;;
	-x) EXTRA_CONF+="$2"$'\n'; shift 2 ;;
	-n) RATE=$2; shift 2 ;;
	-h | --help) bench_help 20; exit 0 ;;
	*) echo "swap: unknown option $1" >&2; exit 2 ;;
	esac
done
[[ $(id -u) == 0 ]] || { echo "swap: needs root" >&2; exit 1; }
[[ -z $(tail -n +2 /proc/swaps) ]] || { echo "swap: another swap is on:" >&2; cat /proc/swaps >&2; exit 1; }
/usr/bin/python3 -c 'import numpy' 2>/dev/null || { echo "swap: needs python3-numpy" >&2; exit 1; }
[[ -n $CASES ]] || CASES=seq1,seq4,rand1,rand4,seq1+bg,seq4+bg,rand1+bg,rand4+bg
IFS=, read -r -a CASE_LIST <<<"$CASES"
WS=$((3 * LIMIT))
AREA=$((WS + 512))
LOAD=$(cd "$(dirname "$0")" && pwd)/swapload.py
CGROOT=/sys/fs/cgroup/memory
CG=$CGROOT/gfswap-bench$$
SWAPFILE=/var/tmp/gfswap-bench$$.swap
BGFILE=/var/tmp/gfswap-bench$$.bg
export GFSWAP_RUNDIR=/run/gfswap-bench$$
GFSWAP=$(gf_bin gfswap) || exit 1

bench_cleanup_extra() {
	"$GFSWAP" off --name bench >/dev/null 2>&1
	"$GFSWAP" off --name bound >/dev/null 2>&1
	swapoff "$SWAPFILE" 2>/dev/null
	rm -f "$SWAPFILE" "$BGFILE"
	rmdir "$CG" 2>/dev/null
	rm -rf "$GFSWAP_RUNDIR"
}
trap 'bench_cleanup_extra; [[ -n ${BENCH_STATE:-} ]] && gf_cluster_down "$BENCH_STATE"' EXIT
trap 'exit 130' INT TERM

if [[ -n $RATE ]]; then
	# shellcheck source-path=SCRIPTDIR source=../tests/netbed.sh
	. "$(dirname "$0")/../tests/netbed.sh"
	echo "swap: starting a test bed of 4 hosts, links shaped to $RATE (gfswap on node1)" >&2
	GF_GFSD_CONF_EXTRA="swap_cache_mb = $((2 * WS / 3 + 256))" nb_up --hosts 4 --rate "$RATE" ||
		{ BENCH_STATE=$STATE; exit 1; }
	BENCH_STATE=$STATE
	CONF=$STATE/swapclient.conf
	# shellcheck disable=SC2154 # CONFIG_node1: set by nb_up
	{ cat "$CONFIG_node1"; printf '%s' "$EXTRA_CONF"; } >"$CONF"
	# gfswap in node1's network, its mount and loop device the machine's
	GFSWAP_BIN=$GFSWAP
	gfswap_node1() {
		if [[ $1 == on && " $* " == *" --name bench "* ]]; then
			nsenter "--net=$(nb_nsfile node1)" -- "$GFSWAP_BIN" "$@"
		else
			"$GFSWAP_BIN" "$@"
		fi
	}
	GFSWAP=gfswap_node1
else
	echo "swap: starting a cluster (4 gfsd: node1 is this host, node2..4 lend RAM)" >&2
	GF_GFSD_CONF_EXTRA="swap_cache_mb = $((2 * WS / 3 + 256))" gf_cluster_up --gfsd 4 --mounts 0 || exit 1
	BENCH_STATE=$STATE
	CONF=$STATE/swapclient.conf
	cat >"$CONF" <<EOF
gfmd_host = 127.0.0.1
gfmd_port = $GFMD_PORT
key_file = $KEY
hostname = node1
$EXTRA_CONF
EOF
fi
# the bound: a gfmd that is not there (a closed local port), so no
# server; pages in /dev/shm
gf_free_port NOPORT || exit 1
cat >"$STATE/bound.conf" <<EOF
gfmd_host = 127.0.0.1
gfmd_port = $NOPORT
key_file = $KEY
hostname = node1
EOF
mkdir -p "$CG" || exit 1

setup() {
	case $1 in
	ram) echo -1 >"$CG/memory.limit_in_bytes" ;;
	disk)
		echo "${LIMIT}M" >"$CG/memory.limit_in_bytes"
		fallocate -l "${AREA}M" "$SWAPFILE" && chmod 600 "$SWAPFILE" &&
			mkswap "$SWAPFILE" >/dev/null && swapon -p 100 "$SWAPFILE"
		;;
	gfswap)
		echo "${LIMIT}M" >"$CG/memory.limit_in_bytes"
		"$GFSWAP" on -c "$CONF" --name bench --size "${AREA}M" \
			--fallback-dir "$STATE/fallback" >/dev/null
		;;
	bound)
		echo "${LIMIT}M" >"$CG/memory.limit_in_bytes"
		"$GFSWAP" on -c "$STATE/bound.conf" --name bound --size "${AREA}M" --copies 1 \
			--fallback-dir /dev/shm >/dev/null 2>&1
		;;
	esac
}

teardown() {
	case $1 in
	disk) swapoff "$SWAPFILE"; rm -f "$SWAPFILE" ;;
	gfswap) "$GFSWAP" off --name bench >/dev/null ;;
	bound) "$GFSWAP" off --name bound >/dev/null ;;
	esac
}

# CPU seconds (user+system) the gfswap daemon NAME and the cluster's gfsd
# have used so far, for -v
cpu_of() {
	local pid ticks=0 hz
	hz=$(getconf CLK_TCK)
	for pid in "$@"; do
		[[ -r /proc/$pid/stat ]] || continue
		ticks=$((ticks + $(sed -E 's/^.*\) //' "/proc/$pid/stat" | awk '{ print $12 + $13 }')))
	done
	awk -v t="$ticks" -v hz="$hz" 'BEGIN { printf "%.2f", t / hz }'
}
daemon_pids() {
	local name=$1 k
	cat "$GFSWAP_RUNDIR/$name/pid" 2>/dev/null
	echo
	for k in 1 2 3 4; do gf_pidfile_pid "$STATE/node$k/gfsd.pid"; echo; done
}

# one case: prints seconds, or "err"
run_case() {
	local c=$1 mode procs bg=0 t bgpid=''
	[[ $c == *+bg ]] && bg=1 && c=${c%+bg}
	mode=${c%%[0-9]*}
	procs=${c#"$mode"}
	if ((bg)); then
		dd if=/dev/zero of="$BGFILE" bs=1M count=$((4 * LIMIT)) conv=fsync status=none &
		bgpid=$!
	fi
	t=$(bash -c 'echo $$ >"$1/cgroup.procs" && exec /usr/bin/python3 "$2" "$3" "$4" "$5"' \
		_ "$CG" "$LOAD" "$mode" "$WS" "$procs") || t=err
	[[ -n $bgpid ]] && { kill "$bgpid" 2>/dev/null; wait "$bgpid" 2>/dev/null; rm -f "$BGFILE"; }
	echo "$t"
}

IFS=, read -r -a CONFIGS <<<"$CONFIGS_ARG"
for cfg in "${CONFIGS[@]}"; do
	case $cfg in ram | disk | gfswap | bound) ;; *) echo "swap: unknown config $cfg" >&2; exit 2 ;; esac
done
declare -A T
# the floor under a remote page-in on this machine: one round trip between
# two threads (bench/wakeup), beside which the local disk's swap-in is set
if [[ -x $top_builddir/bench/wakeup ]]; then
	echo "swap: a 4 KiB round trip between two threads over loopback TCP (us; bench/wakeup):"
	"$top_builddir/bench/wakeup" -n 5000 | sed 's/^/  /'
fi
echo "swap: working set $WS MiB, limit $LIMIT MiB, $R rounds, cases: $CASES${RATE:+; links to the page servers shaped to $RATE}"
for ((r = 1; r <= R; r++)); do
	for cfg in "${CONFIGS[@]}"; do
		setup "$cfg" || { echo "swap: setting up $cfg failed" >&2; exit 1; }
		for c in "${CASE_LIST[@]}"; do
			if ((VERBOSE)) && [[ $cfg == gfswap || $cfg == bound ]]; then
				name=$([[ $cfg == gfswap ]] && echo bench || echo bound)
				mapfile -t pids < <(daemon_pids "$name" | grep .)
				cpu0=$(cpu_of "${pids[0]}") cpus0=$(cpu_of "${pids[@]:1}")
			fi
			t=$(run_case "$c")
			echo "  round $r $cfg $c: $t s" >&2
			if ((VERBOSE)) && [[ $cfg == gfswap || $cfg == bound ]]; then
				"$GFSWAP" status --name "$name" |
					grep -E '^(pages_|remote_|read_|write_|second|fallbacks)' | tr '\n' ' ' >&2
				awk -v a="$cpu0" -v b="$(cpu_of "${pids[0]}")" -v c="$cpus0" -v d="$(cpu_of "${pids[@]:1}")" \
					'BEGIN { printf "cpu_s gfswap %.2f gfsd %.2f\n", b - a, d - c }' >&2
			fi
			T[$cfg.$c]+="$t "
		done
		teardown "$cfg"
	done
done

printf '\n%-10s' case
for cfg in "${CONFIGS[@]}"; do printf ' %9s' "$cfg"; done
printf ' %12s %12s\n' gfswap/disk gfswap/bound
for c in "${CASE_LIST[@]}"; do
	printf '%-10s' "$c"
	declare -A M=()
	for cfg in "${CONFIGS[@]}"; do
		M[$cfg]=$(tr ' ' '\n' <<<"${T[$cfg.$c]}" | grep -E '^[0-9.]+$' | median)
		printf ' %9s' "${M[$cfg]:-err}"
	done
	awk -v g="${M[gfswap]:-0}" -v d="${M[disk]:-0}" -v b="${M[bound]:-0}" \
		'BEGIN { printf " %12s %12s\n", (d > 0 && g > 0) ? sprintf("%.2fx", g / d) : "-", (b > 0 && g > 0) ? sprintf("%.2fx", g / b) : "-" }'
done
echo "(seconds, median of $R; lower is better; a ratio below 1 means gfswap was faster)"
