#!/bin/bash
# tests/netbed.sh — a multi-host gfarmfs test bed on this one machine, made of
# network namespaces.
#
#     tests/netbed.sh up [--hosts N] [--rate RATE] [--state DIR]
#     tests/netbed.sh down [--state DIR]
#     tests/netbed.sh exec K CMD...      run CMD on host K (K: 1..N, nodeK or meta)
#     tests/netbed.sh shape K RATE       tc tbf on host K's link (RATE: 1gbit,
#                                        100mbit, ...; "off" removes it)
#     tests/netbed.sh status [--state DIR]
#
# Hosts: one metadata host ("meta": PostgreSQL + gfmd) and N compute hosts
# node1..nodeN (default 4), each running its own gfsd (spool, TCP address,
# UNIX socket) and its own mount.gfarmfs acting as that host. Every host is a
# network namespace PREFIXmeta / PREFIXnodeK with one veth ("eth0") into a
# bridge that lives in a namespace of its own (PREFIXbr), so nothing of the
# test bed touches this machine's own network namespace: no link, no address,
# no route. Addresses are 10.231.X.0/24 (X picked so that test beds coexist,
# PREFIX = gfnbX-): meta .1, nodeK .(10+K). They are reachable only from the
# test bed's namespaces; run commands there with `exec`.
#
# The FUSE clients are started with nsenter --net (not ip netns exec, which
# also makes a private mount namespace): their network is their host's while
# their mounts are visible to everyone on the machine. Client configs carry
# the keys gfrun uses: launcher = "ip netns exec PREFIX%h", mount_point =
# "STATE/%h/mnt".
#
# `up` prints shell assignments (for eval; also kept in STATE/env): those of
# tests/cluster.sh plus HOSTS="node1 ...", META_ADDR, NS_META, NETBED_PREFIX,
# NETBED_NET, and per host MOUNT_nodeK, CONFIG_nodeK, NS_nodeK, ADDR_nodeK,
# GFSD_CONFIG_nodeK, SPOOL_nodeK.
#
# As a library (source it after tests/lib.sh or alone): nb_up / gf_cluster_down
# and nb_exec, nb_shape, nb_ns, nb_host_index. Built on tests/cluster.sh, whose
# hooks (gf_prefix, gf_addr, gf_mount_dir, gf_conf_extra, gf_env_extra,
# gf_teardown_extra) are redefined here; every daemon control of cluster.sh
# (gf_gfsd_stop K, gf_gfsd_start K, gf_stat_value nodeK KEY, ...) works on the
# test bed as well.

if [[ -z ${GF_CLUSTER_SH:-} ]]; then
	# shellcheck source-path=SCRIPTDIR source=cluster.sh
	. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/cluster.sh"
fi
NB_RESERVE_DIR=${NB_RESERVE_DIR:-/run/gfarmfs-netbed}
NB_POINTER=${NB_POINTER:-/tmp/gfarmfs-netbed.last}
NB_PREFIX='' NB_NET='' NB_HOSTS=0 NB_RATE=''

nb_log() { echo "netbed: $*" >&2; }
nb_err() { echo "netbed: error: $*" >&2; }

# ---- names and addresses -----------------------------------------------------

nb_ns() { echo "$NB_PREFIX$1"; }         # nb_ns nodeK|meta|br
nb_nsfile() { echo "/run/netns/$NB_PREFIX$1"; }

# nb_host_name K: K as a host name (1 -> node1, node1 -> node1, meta -> meta).
nb_host_name() {
	case $1 in
	meta | gfmd) echo meta ;;
	node[0-9]*) echo "$1" ;;
	[0-9]*) echo "node$1" ;;
	*) return 1 ;;
	esac
}

nb_host_index() { local h; h=$(nb_host_name "$1") && echo "${h#node}"; }

nb_addr_of() {
	case $1 in
	meta) echo "$NB_NET.1" ;;
	node*) echo "$NB_NET.$((10 + ${1#node}))" ;;
	esac
}

# Load the test bed description of STATE (NB_PREFIX, NB_NET, NB_HOSTS, NB_RATE).
nb_load() {
	local st=$1
	[[ -r $st/netbed.env ]] || return 1
	# shellcheck disable=SC1091
	. "$st/netbed.env"
}

# ---- cluster.sh hooks --------------------------------------------------------

gf_prefix() {
	local h
	case $1 in
	gfmd) h=meta ;;
	*) h=$1 ;;
	esac
	GF_IN=(nsenter "--net=$(nb_nsfile "$h")" --)
}

gf_addr() {
	case $1 in
	gfmd) nb_addr_of meta ;;
	*) nb_addr_of "$1" ;;
	esac
}

gf_mount_dir() { echo "$STATE/node$1/mnt"; }

gf_conf_extra() {
	# One kernel serves every host here: only a per-namespace count of
	# runnable tasks tells a busy host from an idle one.
	[[ $1 == gfsd ]] && echo 'load_source = netns'
	[[ $1 == client ]] || return 0
	printf 'launcher = "ip netns exec %s%%h"\n' "$NB_PREFIX"
	printf 'mount_point = "%s/%%h/mnt"\n' "$STATE"
}

gf_env_extra() {
	local k h hosts=''
	for ((k = 1; k <= NB_HOSTS; k++)); do hosts+="${hosts:+ }node$k"; done
	printf 'HOSTS=%q\n' "$hosts"
	printf 'NETBED_PREFIX=%q\n' "$NB_PREFIX"
	printf 'NETBED_NET=%q\n' "$NB_NET"
	printf 'NETBED_RATE=%q\n' "$NB_RATE"
	printf 'META_ADDR=%q\n' "$(nb_addr_of meta)"
	printf 'NS_META=%q\n' "$(nb_ns meta)"
	for ((k = 1; k <= NB_HOSTS; k++)); do
		h=node$k
		printf 'MOUNT_%s=%q\n' "$h" "$(gf_mount_dir "$k")"
		printf 'CONFIG_%s=%q\n' "$h" "$STATE/client$k.conf"
		printf 'NS_%s=%q\n' "$h" "$(nb_ns "$h")"
		printf 'ADDR_%s=%q\n' "$h" "$(nb_addr_of "$h")"
		printf 'GFSD_CONFIG_%s=%q\n' "$h" "$STATE/$h/gfsd.conf"
		printf 'SPOOL_%s=%q\n' "$h" "$STATE/$h/spool"
	done
}

# Everything in the test bed's namespaces is the test bed's: stop what is
# left there, delete the namespaces (which takes the veths and the bridge with
# them) and give the subnet back.
gf_teardown_extra() {
	local st=$1 ns pid rc=0 i
	nb_load "$st" || return 0
	[[ -n $NB_PREFIX ]] || return 0
	for ns in $(nb_our_namespaces); do
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			nb_log "stopping leftover process $pid in $ns: $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)"
			kill -TERM "$pid" 2>/dev/null
		done
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			gf_wait_dead "$pid" 5 || kill -KILL "$pid" 2>/dev/null
			gf_wait_dead "$pid"
		done
		ip netns del "$ns" 2>/dev/null || rc=1
	done
	# A namespace whose last process just died may take a moment to go.
	for ((i = 0; i < GF_WAIT_SECS * 10; i++)); do
		[[ -z $(nb_our_namespaces) ]] && break
		sleep 0.1
	done
	if [[ -n $(nb_our_namespaces) ]]; then
		nb_err "namespaces left: $(nb_our_namespaces | tr '\n' ' ')"
		rc=1
	fi
	rm -rf "${NB_RESERVE_DIR:?}/${NB_PREFIX%-}"
	return $rc
}

nb_our_namespaces() {
	[[ -n $NB_PREFIX ]] || return 0
	ip netns list 2>/dev/null | awk -v p="$NB_PREFIX" 'index($1, p) == 1 { print $1 }'
}

# ---- the network -------------------------------------------------------------

# Reserve a free X of 10.231.X.0/24: no namespace named gfnbX-*, no such
# address on this machine, not reserved by another test bed (an atomic mkdir
# under NB_RESERVE_DIR; a reservation whose state dir is gone is stale).
nb_reserve_subnet() {
	local st=$1 x start owner i
	mkdir -p "$NB_RESERVE_DIR" || return 1
	start=$((RANDOM % 250 + 1))
	for ((i = 0; i < 250; i++)); do
		x=$(((start + i) % 250 + 1))
		if [[ -d $NB_RESERVE_DIR/gfnb$x ]]; then
			owner=$(cat "$NB_RESERVE_DIR/gfnb$x/state" 2>/dev/null)
			[[ -n $owner && -d $owner ]] && continue
			ip netns list 2>/dev/null | grep -q "^gfnb$x-" && continue
			rm -rf "${NB_RESERVE_DIR:?}/gfnb$x"
		fi
		ip netns list 2>/dev/null | grep -q "^gfnb$x-" && continue
		ip -4 -o addr show 2>/dev/null | grep -qF " 10.231.$x." && continue
		ip -4 route show 2>/dev/null | grep -qF "10.231.$x." && continue
		mkdir "$NB_RESERVE_DIR/gfnb$x" 2>/dev/null || continue
		echo "$st" >"$NB_RESERVE_DIR/gfnb$x/state"
		NB_PREFIX=gfnb$x- NB_NET=10.231.$x
		return 0
	done
	nb_err "no free 10.231.X.0/24 subnet"
	return 1
}

# nb_add_host NAME: namespace NAME with lo up and eth0 plugged into the bridge.
nb_add_host() {
	local h=$1 ns br addr
	ns=$(nb_ns "$h") br=$(nb_ns br) addr=$(nb_addr_of "$h")
	ip netns add "$ns" || return 1
	ip -n "$ns" link set lo up || return 1
	# Both ends are made inside the test bed's namespaces: the machine's
	# own namespace never sees them.
	ip -n "$ns" link add eth0 type veth peer name "$h" netns "$br" || return 1
	ip -n "$br" link set "$h" master br0 up || return 1
	ip -n "$ns" addr add "$addr/24" dev eth0 || return 1
	ip -n "$ns" link set eth0 up || return 1
}

nb_net_up() {
	local br h
	br=$(nb_ns br)
	ip netns add "$br" || return 1
	ip -n "$br" link set lo up || return 1
	ip -n "$br" link add br0 type bridge || return 1
	ip -n "$br" link set br0 up || return 1
	for h in meta $(seq -f 'node%g' 1 "$NB_HOSTS"); do
		nb_add_host "$h" || { nb_err "cannot set up host $h"; return 1; }
	done
	if [[ -n $NB_RATE ]]; then
		for h in meta $(seq -f 'node%g' 1 "$NB_HOSTS"); do
			nb_shape "$h" "$NB_RATE" || return 1
		done
	fi
	# (That every host reaches meta shows when every gfsd has registered.)
}

# nb_rate_bytes RATE: bytes per second of a tc rate (kbit, mbit, gbit, bit).
nb_rate_bytes() {
	awk -v r="$1" 'BEGIN {
		n = r + 0; u = tolower(r); sub(/^[0-9.]+/, "", u)
		if (u == "kbit") m = 1e3 / 8; else if (u == "mbit") m = 1e6 / 8
		else if (u == "gbit") m = 1e9 / 8; else if (u == "bit" || u == "") m = 1 / 8
		else if (u == "kbps") m = 1e3; else if (u == "mbps") m = 1e6; else if (u == "gbps") m = 1e9
		else exit 1
		if (n <= 0) exit 1
		printf "%d\n", n * m }'
}

# nb_shape HOST RATE: token bucket on both ends of HOST's veth, i.e. on what
# HOST sends (eth0 in its namespace) and on what it receives (its bridge port).
# RATE off removes the shaping.
nb_shape() {
	local h=$1 rate=$2 bytes burst ns br
	h=$(nb_host_name "$h") || { nb_err "no host $1"; return 2; }
	ns=$(nb_ns "$h") br=$(nb_ns br)
	[[ -e /run/netns/$ns ]] || { nb_err "no namespace $ns"; return 1; }
	if [[ $rate == off || $rate == none ]]; then
		tc -n "$ns" qdisc del dev eth0 root 2>/dev/null
		tc -n "$br" qdisc del dev "$h" root 2>/dev/null
		return 0
	fi
	bytes=$(nb_rate_bytes "$rate") || { nb_err "bad rate $rate (e.g. 1gbit, 100mbit)"; return 2; }
	# 10 ms worth of tokens, at least 256 KiB so that a GSO packet always fits.
	burst=$((bytes / 100))
	((burst < 262144)) && burst=262144
	tc -n "$ns" qdisc replace dev eth0 root tbf rate "$rate" burst "$burst" latency 50ms &&
		tc -n "$br" qdisc replace dev "$h" root tbf rate "$rate" burst "$burst" latency 50ms
}

# ---- up / down ---------------------------------------------------------------

nb_write_netbed_env() {
	{
		printf 'NB_PREFIX=%q\n' "$NB_PREFIX"
		printf 'NB_NET=%q\n' "$NB_NET"
		printf 'NB_HOSTS=%q\n' "$NB_HOSTS"
		printf 'NB_RATE=%q\n' "$NB_RATE"
	} >"$STATE/netbed.env"
}

# nb_up [--hosts N] [--rate RATE] [--state DIR]: the namespaces, then the
# cluster in them (tests/cluster.sh). Sets STATE and everything of STATE/env
# in the caller's shell. On failure the caller runs gf_cluster_down "$STATE".
nb_up() {
	STATE='' NB_HOSTS=4 NB_RATE=''
	while (($#)); do
		case $1 in
		--hosts) NB_HOSTS=$2; shift 2 ;;
		--rate) NB_RATE=$2; shift 2 ;;
		--state) STATE=$2; shift 2 ;;
		*) nb_err "unknown option $1"; return 2 ;;
		esac
	done
	if [[ ! $NB_HOSTS =~ ^[1-9][0-9]*$ ]] || ((NB_HOSTS > 200)); then
		nb_err "bad --hosts (1..200)"
		return 2
	fi
	if [[ -n $NB_RATE ]] && ! nb_rate_bytes "$NB_RATE" >/dev/null; then
		nb_err "bad --rate $NB_RATE (e.g. 1gbit, 100mbit)"
		return 2
	fi
	[[ $(id -u) == 0 ]] || { nb_err "must run as root"; return 1; }
	local c
	for c in ip tc nsenter; do
		command -v "$c" >/dev/null 2>&1 || { nb_err "missing $c (apt-get install iproute2 util-linux)"; return 1; }
	done
	if [[ -z $STATE ]]; then
		STATE=$(mktemp -d /tmp/gfarmfs-netbed.XXXXXXXX) || return 1
	else
		[[ -e $STATE/env || -e $STATE/netbed.env ]] && { nb_err "$STATE already holds a cluster"; return 1; }
		mkdir -p "$STATE" || return 1
		STATE=$(cd "$STATE" && pwd)
	fi
	chmod 755 "$STATE"
	# From here on gf_cluster_down "$STATE" undoes whatever was done.
	: >"$STATE/.gfarmfs-cluster"
	nb_reserve_subnet "$STATE" || return 1
	nb_write_netbed_env
	nb_net_up || return 1
	gf_cluster_up --gfsd "$NB_HOSTS" --mounts "$NB_HOSTS" --state "$STATE" || return 1
}

# nb_exec HOST CMD...: CMD in HOST's network namespace (the machine's mounts
# stay visible).
nb_exec() {
	local h
	h=$(nb_host_name "$1") || { nb_err "no host $1"; return 2; }
	shift
	[[ -e $(nb_nsfile "$h") ]] || { nb_err "no namespace $(nb_ns "$h")"; return 1; }
	nsenter "--net=$(nb_nsfile "$h")" -- "$@"
}

nb_status() {
	local ns pid h k
	echo "state $STATE: prefix $NB_PREFIX, net $NB_NET.0/24, $NB_HOSTS compute hosts${NB_RATE:+, rate $NB_RATE}"
	for ns in $(nb_our_namespaces); do
		h=${ns#"$NB_PREFIX"}
		printf '%-8s %-16s %s\n' "$h" "$ns" "$(nb_addr_of "$h")"
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			printf '         pid %-7s %s\n' "$pid" "$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-100)"
		done
		tc -n "$ns" qdisc show dev eth0 2>/dev/null | grep tbf | sed 's/^/         /'
	done
	for ((k = 1; k <= NB_HOSTS; k++)); do
		mountpoint -q "$(gf_mount_dir "$k")" && echo "node$k mounted at $(gf_mount_dir "$k")"
	done
	gf_host_list
}

# ---- command line ------------------------------------------------------------

nb_usage() {
	cat <<EOF
usage: $(basename "$0") up [--hosts N] [--rate RATE] [--state DIR]
       $(basename "$0") down [--state DIR]
       $(basename "$0") exec K CMD...      (K: 1..N, nodeK or meta)
       $(basename "$0") shape K RATE       (RATE: 1gbit, 100mbit, ... or off)
       $(basename "$0") status
exec, shape and status take --state DIR before K; without it they act on the
test bed last started with up ($NB_POINTER).
EOF
}

# nb_find_state [--state DIR] ...: STATE from the option or the pointer file;
# NB_ARGS are the remaining arguments.
nb_find_state() {
	STATE=''
	if [[ ${1:-} == --state ]]; then
		STATE=$2
		shift 2
	fi
	NB_ARGS=("$@")
	if [[ -z $STATE ]]; then
		[[ -r $NB_POINTER ]] || { nb_err "no test bed (give --state DIR)"; return 1; }
		STATE=$(cat "$NB_POINTER")
	fi
	[[ -d $STATE ]] || { nb_err "no test bed in $STATE"; return 1; }
	STATE=$(cd "$STATE" && pwd)
	nb_load "$STATE" || { nb_err "$STATE is not a test bed"; return 1; }
	NGFSD=$NB_HOSTS NMOUNTS=$NB_HOSTS
}

nb_main() {
	local cmd=${1:-}
	shift || true
	case $cmd in
	up)
		if ! nb_up "$@"; then
			nb_err "up failed; tearing down what was set up"
			[[ -n ${STATE:-} && -e $STATE/.gfarmfs-cluster ]] && gf_cluster_down "$STATE"
			exit 1
		fi
		echo "$STATE" >"$NB_POINTER"
		cat "$STATE/env"
		;;
	down)
		nb_find_state "$@" || exit 1
		gf_cluster_down "$STATE" || exit 1
		[[ $(cat "$NB_POINTER" 2>/dev/null) == "$STATE" ]] && rm -f "$NB_POINTER"
		nb_log "stopped the test bed in $STATE"
		;;
	exec)
		nb_find_state "$@" || exit 1
		((${#NB_ARGS[@]} >= 2)) || { nb_usage >&2; exit 2; }
		nb_exec "${NB_ARGS[@]}"
		;;
	shape)
		nb_find_state "$@" || exit 1
		((${#NB_ARGS[@]} == 2)) || { nb_usage >&2; exit 2; }
		nb_shape "${NB_ARGS[@]}"
		;;
	status)
		nb_find_state "$@" || exit 1
		nb_status
		;;
	-h | --help | help) nb_usage ;;
	*) nb_usage >&2; exit 2 ;;
	esac
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
	set -uo pipefail
	nb_main "$@"
fi
