#!/bin/bash
# tests/cluster.sh — a throwaway gfarmfs cluster on this machine.
#
# As a command:
#     tests/cluster.sh up [--gfsd N] [--mounts M] [--state DIR] [--journal]
#     tests/cluster.sh down [--state DIR]
# `up` starts a private PostgreSQL, gfmd, N gfsd (host names node1..nodeN,
# each with its own spool, port and UNIX socket) and M FUSE mounts (mount K
# runs as host node((K-1)%N+1) and talks to that gfsd's socket), then prints
# shell assignments (STATE=, MOUNT=, CONFIG=, MOUNT2=, ... GFMD_PID=, PGPORT=)
# one per line, for `eval "$(tests/cluster.sh up)"`. The same lines are kept
# in STATE/env. `down` unmounts, stops every process the cluster started and
# removes the state directory (KEEP=1 keeps it). --journal gives gfmd a
# journal, STATE/gfmd.journal (README: each reply waits for its record's
# flush there instead of a PostgreSQL commit).
#
# As a library (source it): gf_cluster_up / gf_cluster_down and the daemon
# controls the integration tests use (gf_gfmd_stop, gf_gfmd_kill9,
# gf_gfmd_start, gf_gfsd_*, gf_mount/gf_umount, gf_pg_start/stop,
# gf_pg_pids, gf_stop_all, gf_start_all, gf_wait_hosts_up, gf_stat_value,
# gf_dump_logs, gf_poll). Faults (freezing PostgreSQL, failing commits,
# waiting for log lines, ...) are in tests/fault.sh. Every wait is bounded
# by GF_WAIT_SECS, which only guards against a hang.
#
# Binaries come from $top_builddir (default: this script's source tree) or
# from PATH. Everything needs root (FUSE mounts, initdb as postgres).
#
# GF_GFMD_CONF_EXTRA, GF_GFSD_CONF_EXTRA and GF_CLIENT_CONF_EXTRA, when set,
# are appended as they are (one or more "key = value" lines) to gfmd.conf,
# to every gfsd.conf and to every mount's clientK.conf, e.g. GF_GFMD_CONF_EXTRA='peer_send_timeout_ms = 2000'. (The gf_conf_extra
# hook is the test bed's; these are the test's.)
#
# Layout of a state directory:
#     env  key  admin.conf  gfmd.conf gfmd.pid gfmd.log gfmd.out
#     pg/{data,sock,log}          (or PGDIR elsewhere if postgres can't reach STATE)
#     nodeK/{gfsd.conf,gfsd.pid,gfsd.log,gfsd.out,gfsd.sock,spool}
#     clientK.conf  mntK/  mountK.pid  mountK.log  mountK.out

GF_CLUSTER_SH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")
: "${top_srcdir:=$(dirname "$(dirname "$GF_CLUSTER_SH")")}"
: "${top_builddir:=$top_srcdir}"
# Upper bound of every wait in the harness (start-up, exit, a condition
# polled for). It only guards against a hang: a test never passes or fails
# because something took long, so it is generous for a loaded machine.
: "${GF_WAIT_SECS:=60}"
# Clusters started with `up` (not the tests' own): one file per cluster,
# named after its state directory and holding its path, so that `down`
# without --state can tell whether exactly one is running.
GF_CLUSTER_REGISTRY=${GF_CLUSTER_REGISTRY:-/tmp/gfarmfs-clusters}
declare -A GF_USED_PORTS=()

gf_log() { echo "cluster: $*" >&2; }
gf_err() { echo "cluster: error: $*" >&2; }

# ---- hooks -------------------------------------------------------------------
# Where each part of the cluster runs and at which address. Here everything
# runs in this machine's own network namespace on 127.0.0.1; the multi-host
# test bed (tests/netbed.sh) redefines these after sourcing this file.
# Roles: gfmd (also PostgreSQL and the admin commands), nodeK (gfsd K and the
# mounts acting as host nodeK).

# gf_prefix ROLE: GF_IN=(command prefix that runs a program as ROLE).
gf_prefix() { GF_IN=(); }
# gf_addr ROLE: the address ROLE listens on and is reached at.
gf_addr() { echo 127.0.0.1; }
# gf_mount_dir K: mount point of mount K.
gf_mount_dir() { echo "$STATE/mnt$1"; }
# gf_conf_extra KIND K: extra lines for a config file (KIND gfsd or client).
gf_conf_extra() { :; }
# gf_env_extra: extra assignments for STATE/env.
gf_env_extra() { :; }
# gf_teardown_extra STATE: undo what the test bed built around the cluster,
# once every process of the cluster is stopped (by gf_cluster_down).
gf_teardown_extra() { :; }
GF_IN=()

# gf_in ROLE CMD...: run CMD (a program, not a function) as ROLE.
gf_in() {
	gf_prefix "$1"
	shift
	"${GF_IN[@]}" "$@"
}

# ---- binaries ----------------------------------------------------------------

# gf_bin NAME: path of a gfarmfs program, build tree first, then PATH.
gf_bin() {
	local name=$1 sub
	case $name in
	gfmd) sub=gfmd ;;
	gfsd) sub=gfsd ;;
	mount.gfarmfs) sub=fuse ;;
	gfswap) sub=swapfile ;;
	*) sub=cmd ;;
	esac
	if [[ -x $top_builddir/$sub/$name ]]; then
		echo "$top_builddir/$sub/$name"
	elif command -v "$name" 2>/dev/null; then
		:
	else
		gf_err "cannot find $name in $top_builddir/$sub or PATH (build first: ./configure && make)"
		return 1
	fi
}

# PostgreSQL server binaries (Debian keeps them out of PATH).
gf_pg_bindir() {
	local d
	if [[ -n ${PG_BINDIR:-} ]]; then
		echo "$PG_BINDIR"
		return 0
	fi
	d=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1)
	if [[ -n $d && -x $d/initdb ]]; then
		echo "$d"
	elif command -v initdb >/dev/null 2>&1; then
		dirname "$(command -v initdb)"
	else
		gf_err "no PostgreSQL server found (apt-get install postgresql)"
		return 1
	fi
}

# ---- ports -------------------------------------------------------------------

gf_port_busy() {
	local p=$1
	if command -v ss >/dev/null 2>&1; then
		[[ -n $(ss -Hltn "sport = :$p" 2>/dev/null) ]] && return 0
	fi
	# Something accepting connections there?
	(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && return 0
	return 1
}

# gf_free_port VAR: a TCP port nobody listens on, below the ephemeral range
# (so outgoing connections will not take it meanwhile), not handed out before.
gf_free_port() {
	local -n _out=$1
	local p i lo=10000 hi=32000 eph
	read -r eph _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || eph=32768
	((eph - 1 < hi)) && hi=$((eph - 1))
	((hi - lo < 1000)) && { lo=40000; hi=60000; }
	for ((i = 0; i < 500; i++)); do
		p=$((lo + (RANDOM * 32768 + RANDOM) % (hi - lo)))
		[[ -n ${GF_USED_PORTS[$p]:-} ]] && continue
		gf_port_busy "$p" && continue
		GF_USED_PORTS[$p]=1
		_out=$p
		return 0
	done
	gf_err "no free TCP port found"
	return 1
}

# ---- processes ---------------------------------------------------------------

# A live process (zombies are dead).
gf_pid_alive() {
	local pid=$1 st
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	[[ -r /proc/$pid/stat ]] || return 1
	st=$(sed -E 's/^.*\) (.).*/\1/' "/proc/$pid/stat" 2>/dev/null) || return 1
	[[ -n $st && $st != Z && $st != X ]]
}

# The process belongs to the cluster in $STATE (guards against reused pids).
gf_pid_ours() {
	local pid=$1
	gf_pid_alive "$pid" || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$STATE/"
}

gf_pidfile_pid() { [[ -r $1 ]] && head -n 1 "$1" | tr -cd '0-9'; }

# gf_wait_dead PID [SECS]: 0 once the process is gone (within SECS,
# default GF_WAIT_SECS).
gf_wait_dead() {
	local pid=$1 secs=${2:-$GF_WAIT_SECS} i
	GF_EXIT_STATUS=127
	for ((i = 0; i < secs * 10; i++)); do
		if ! gf_pid_alive "$pid"; then
			# Reap our own children; 127 when it was not our child.
			wait "$pid" 2>/dev/null
			GF_EXIT_STATUS=$?
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# The last reaped process exited non-zero (unknown when it was not our child:
# 127, or -1 in a subshell).
gf_bad_exit() { [[ $GF_EXIT_STATUS =~ ^[0-9]+$ && $GF_EXIT_STATUS != 0 && $GF_EXIT_STATUS != 127 ]]; }

# gf_poll SECS CMD...: 0 as soon as CMD succeeds, 1 once SECS have passed.
gf_poll() {
	local secs=$1 end
	shift
	end=$(($(date +%s%N) + secs * 1000000000))
	while :; do
		"$@" >/dev/null 2>&1 && return 0
		(($(date +%s%N) > end)) && return 1
		sleep 0.05
	done
}

# gf_stop_pid PID NAME [SECS]: SIGTERM, wait (GF_WAIT_SECS), then SIGKILL.
# Non-zero unless the process exited by itself on SIGTERM, with status 0
# where we can see it (our own children).
gf_stop_pid() {
	local pid=$1 name=$2 secs=${3:-$GF_WAIT_SECS}
	[[ -n $pid ]] || return 0
	gf_pid_ours "$pid" || { wait "$pid" 2>/dev/null; return 0; }
	kill -TERM "$pid" 2>/dev/null
	if gf_wait_dead "$pid" "$secs"; then
		if gf_bad_exit; then
			gf_err "$name (pid $pid) exited with status $GF_EXIT_STATUS on SIGTERM"
			return 4
		fi
		return 0
	fi
	gf_err "$name (pid $pid) ignored SIGTERM for ${secs}s; sending SIGKILL"
	kill -KILL "$pid" 2>/dev/null
	gf_wait_dead "$pid" && return 3
	gf_err "$name (pid $pid) survives SIGKILL"
	return 1
}

# gf_spawn PIDFILE OUTFILE CMD...: run in the background; stdio goes to
# OUTFILE so `$(cluster.sh up)` is not held open by the daemons. The pid is
# also left in GF_SPAWNED_PID: the daemon rewrites PIDFILE itself when it
# starts, so reading the file back right away races with that.
gf_spawn() {
	local pidf=$1 outf=$2
	shift 2
	"$@" </dev/null >>"$outf" 2>&1 &
	GF_SPAWNED_PID=$!
	echo "$GF_SPAWNED_PID" >"$pidf"
}

# gf_start_daemon PIDFILE OUTFILE BIN ARGS...: start gfmd/gfsd; its pid is
# left in GF_DAEMON_PID. Normally in the foreground (-f) as our background
# child; with GF_DAEMONIZE=1 the daemon detaches itself and we wait for the
# pid file it writes.
gf_start_daemon() {
	local pidf=$1 outf=$2 i pid
	shift 2
	GF_DAEMON_PID=
	if [[ ${GF_DAEMONIZE:-0} != 1 ]]; then
		gf_spawn "$pidf" "$outf" "$@" -f
		GF_DAEMON_PID=$GF_SPAWNED_PID
		return 0
	fi
	rm -f "$pidf"
	if ! "$@" </dev/null >>"$outf" 2>&1; then
		gf_err "$1 failed to start as a daemon (see $outf)"
		return 1
	fi
	for ((i = 0; i < GF_WAIT_SECS * 10; i++)); do
		pid=$(gf_pidfile_pid "$pidf")
		if [[ -n $pid ]] && gf_pid_alive "$pid"; then
			GF_DAEMON_PID=$pid
			return 0
		fi
		sleep 0.1
	done
	gf_err "$1 wrote no pid file $pidf within ${GF_WAIT_SECS}s"
	return 1
}

# ---- logs --------------------------------------------------------------------

gf_dump_logs() {
	local st=${STATE:-} f n=${GF_LOG_LINES:-40}
	[[ -n $st && -d $st ]] || return 0
	for f in "$st"/gfmd.log "$st"/gfmd.out "$st"/node*/gfsd.log "$st"/node*/gfsd.out \
		"$st"/mount*.log "$st"/mount*.out "${PGDIR:-$st/pg}"/log; do
		[[ -s $f ]] || continue
		echo "----- last $n lines of $f -----" >&2
		tail -n "$n" "$f" >&2
	done
}

# ---- configuration files -----------------------------------------------------

gf_write_gfmd_conf() {
	cat >"$STATE/gfmd.conf" <<EOF
# gfmd of the test cluster in $STATE
gfmd_listen = $(gf_addr gfmd)
gfmd_port = $GFMD_PORT
postgresql = "host=$PGDIR/sock port=$PGPORT dbname=gfarmfs user=postgres"
key_file = $KEY
hostname = gfmd
log_level = ${GF_LOG_LEVEL:-info}
heartbeat_ms = ${GF_HEARTBEAT_MS:-1000}
host_down_ms = ${GF_HOST_DOWN_MS:-5000}
space_reserve = ${GF_SPACE_RESERVE:-1%}
${GF_JOURNAL:+journal = $STATE/gfmd.journal}
${GF_GFMD_CONF_EXTRA:-}
EOF
	cat >"$STATE/admin.conf" <<EOF
# for gfhost/gfdf against the test cluster in $STATE
gfmd_host = $(gf_addr gfmd)
gfmd_port = $GFMD_PORT
key_file = $KEY
EOF
}

gf_write_gfsd_conf() {
	local k=$1 port=$2 d=$STATE/node$1
	mkdir -p "$d/spool"
	cat >"$d/gfsd.conf" <<EOF
# gfsd node$k of the test cluster in $STATE
gfmd_host = $(gf_addr gfmd)
gfmd_port = $GFMD_PORT
key_file = $KEY
hostname = node$k
spool = $d/spool
gfsd_listen = $(gf_addr "node$k")
gfsd_port = $port
gfsd_addr = $(gf_addr "node$k")
gfsd_socket = $d/gfsd.sock
log_level = ${GF_LOG_LEVEL:-info}
heartbeat_ms = ${GF_HEARTBEAT_MS:-1000}
$(gf_conf_extra gfsd "$k")
${GF_GFSD_CONF_EXTRA:-}
EOF
}

# Client config of mount K: it runs as host nodeJ and uses that gfsd's socket.
gf_write_client_conf() {
	local k=$1 j=$(( ($1 - 1) % NGFSD + 1 ))
	cat >"$STATE/client$k.conf" <<EOF
# client (mount $k) of the test cluster in $STATE, on host node$j
gfmd_host = $(gf_addr gfmd)
gfmd_port = $GFMD_PORT
key_file = $KEY
hostname = node$j
gfsd_socket = $STATE/node$j/gfsd.sock
attr_timeout = ${GF_ATTR_TIMEOUT:-1}
log_level = ${GF_LOG_LEVEL:-info}
log_file = $STATE/mount$k.log
$(gf_conf_extra client "$k")
${GF_CLIENT_CONF_EXTRA:-}
EOF
}

# ---- PostgreSQL --------------------------------------------------------------

gf_as_postgres() { runuser -u postgres -- "$@"; }

gf_pg_init() {
	local bindir
	bindir=$(gf_pg_bindir) || return 1
	PGBIN=$bindir
	id postgres >/dev/null 2>&1 || { gf_err "no postgres user (apt-get install postgresql)"; return 1; }
	PGDIR=$STATE/pg
	if ! gf_as_postgres test -x "$STATE"; then
		# postgres cannot reach a state dir under a private parent.
		PGDIR=$(mktemp -d /tmp/gfarmfs-pg.XXXXXXXX) || return 1
		chmod 755 "$PGDIR"
		echo "$STATE" >"$PGDIR/owner"
	fi
	mkdir -p "$PGDIR/sock" "$PGDIR/data"
	chmod 755 "$PGDIR"
	chmod 700 "$PGDIR/data"
	chown postgres: "$PGDIR/sock" "$PGDIR/data"
	: >"$PGDIR/log"
	chown postgres: "$PGDIR/log"
	gf_free_port PGPORT || return 1
	if ! (cd / && gf_as_postgres "$PGBIN/initdb" -D "$PGDIR/data" -A trust -U postgres \
		-E UTF8 --locale=C.UTF-8 --no-instructions) >"$STATE/initdb.out" 2>&1; then
		gf_err "initdb failed:"
		cat "$STATE/initdb.out" >&2
		return 1
	fi
	gf_pg_start || return 1
	if ! (cd / && gf_as_postgres "$PGBIN/createdb" -h "$PGDIR/sock" -p "$PGPORT" gfarmfs) >&2; then
		gf_err "createdb failed"
		return 1
	fi
}

gf_pg_start() {
	# pg_ctl's own output goes to the log so nobody's stdout is held open.
	gf_prefix gfmd
	# shellcheck disable=SC2094  # pg_ctl and the server append to one log
	if ! (cd / && "${GF_IN[@]}" runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/log" -w -t 60 \
		-o "-k $PGDIR/sock -p $PGPORT -c listen_addresses=''" start) >>"$PGDIR/log" 2>&1; then
		gf_err "PostgreSQL did not start:"
		tail -n 20 "$PGDIR/log" >&2
		return 1
	fi
}

# gf_pg_postmaster_pid: the running postmaster of this cluster (the first
# line of PGDATA/postmaster.pid, checked against its command line, since a
# pid file left by a killed server may name a pid reused by anything).
gf_pg_postmaster_pid() {
	local pid
	[[ -n ${PGDIR:-} ]] || return 1
	pid=$(gf_pidfile_pid "$PGDIR/data/postmaster.pid")
	gf_pid_alive "$pid" || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$PGDIR/data" || return 1
	echo "$pid"
}

# gf_pg_pids: every process of this cluster's PostgreSQL, one per line: the
# postmaster first, then its children (backends, checkpointer, ...).
gf_pg_pids() {
	local pm p st rest
	pm=$(gf_pg_postmaster_pid) || return 1
	echo "$pm"
	for p in /proc/[0-9]*/stat; do
		read -r st 2>/dev/null <"$p" || continue
		rest=${st##*) } # "STATE PPID ..." after the command name
		rest=${rest#* }
		[[ ${rest%% *} == "$pm" ]] || continue
		p=${p#/proc/}
		echo "${p%/stat}"
	done
}

gf_pg_stop() {
	[[ -n ${PGDIR:-} && -f $PGDIR/data/postmaster.pid ]] || return 0
	# A server frozen by a test (tests/fault.sh) cannot shut down: thaw it.
	# shellcheck disable=SC2046  # one pid per word
	kill -CONT $(gf_pg_pids) 2>/dev/null
	(cd / && gf_as_postgres "$PGBIN/pg_ctl" -D "$PGDIR/data" -m fast -w -t 30 stop) >>"$PGDIR/log" 2>&1 ||
		(cd / && gf_as_postgres "$PGBIN/pg_ctl" -D "$PGDIR/data" -m immediate -w -t 30 stop) >>"$PGDIR/log" 2>&1
	[[ ! -f $PGDIR/data/postmaster.pid ]]
}

# ---- gfmd --------------------------------------------------------------------

gf_gfmd_start() {
	local bin
	bin=$(gf_bin gfmd) || return 1
	gf_prefix gfmd
	gf_start_daemon "$STATE/gfmd.pid" "$STATE/gfmd.out" \
		"${GF_IN[@]}" "$bin" -c "$STATE/gfmd.conf" -P "$STATE/gfmd.pid" -l "$STATE/gfmd.log" || return 1
	GFMD_PID=$GF_DAEMON_PID
	gf_wait_gfmd || return 1
	gf_write_env
}

# gfmd answers an authenticated request (gfhost list).
gf_wait_gfmd() {
	local i gfhost
	gfhost=$(gf_bin gfhost) || return 1
	for ((i = 0; i < GF_WAIT_SECS * 5; i++)); do
		if ! gf_pid_alive "$GFMD_PID"; then
			gf_err "gfmd (pid $GFMD_PID) exited during start-up"
			gf_dump_logs
			return 1
		fi
		gf_in gfmd "$gfhost" -c "$STATE/admin.conf" list >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	gf_err "gfmd did not answer on port $GFMD_PORT within ${GF_WAIT_SECS}s"
	gf_dump_logs
	return 1
}

gf_gfmd_stop() {
	local pid
	pid=$(gf_pidfile_pid "$STATE/gfmd.pid")
	gf_stop_pid "$pid" gfmd
}

gf_gfmd_kill9() {
	local pid
	pid=$(gf_pidfile_pid "$STATE/gfmd.pid")
	if [[ -z $pid ]] || ! gf_pid_ours "$pid"; then
		gf_err "gfmd is not running"
		return 1
	fi
	# (the braces keep bash's "Killed" job notice out of the test output)
	{
		kill -KILL "$pid"
		gf_wait_dead "$pid"
	} 2>/dev/null
}

# ---- gfsd --------------------------------------------------------------------

gf_gfsd_pid() { gf_pidfile_pid "$STATE/node$1/gfsd.pid"; }

# gf_gfsd_start K: start node K's gfsd and return once it serves (its log
# says so: its listeners take connections), or fail if it exits first.
gf_gfsd_start() {
	local k=$1 bin d=$STATE/node$1 before i
	bin=$(gf_bin gfsd) || return 1
	gf_prefix "node$k"
	before=$(stat -c %s "$d/gfsd.log" 2>/dev/null) # what this start appends comes after
	gf_start_daemon "$d/gfsd.pid" "$d/gfsd.out" \
		"${GF_IN[@]}" "$bin" -c "$d/gfsd.conf" -P "$d/gfsd.pid" -l "$d/gfsd.log" || return 1
	printf -v "GFSD${k}_PID" '%s' "$GF_DAEMON_PID"
	case ${GF_LOG_LEVEL:-info} in info | debug) ;; *) return 0 ;; esac # not logged
	for ((i = 0; i < GF_WAIT_SECS * 20; i++)); do
		tail -c +$((${before:-0} + 1)) "$d/gfsd.log" 2>/dev/null | grep -q 'gfsd: serving spool' &&
			return 0
		if ! gf_pid_alive "$GF_DAEMON_PID"; then
			gf_err "gfsd node$k exited while starting (see $d/gfsd.out and $d/gfsd.log)"
			return 1
		fi
		sleep 0.05
	done
	gf_err "gfsd node$k does not serve ${GF_WAIT_SECS}s after its start"
	return 1
}

gf_gfsd_stop() { gf_stop_pid "$(gf_gfsd_pid "$1")" "gfsd node$1"; }

gf_gfsd_kill9() {
	local pid
	pid=$(gf_gfsd_pid "$1")
	gf_pid_ours "$pid" || { gf_err "gfsd node$1 is not running"; return 1; }
	{
		kill -KILL "$pid"
		gf_wait_dead "$pid"
	} 2>/dev/null
}

# gfhost list: one line per host with its name and up/down among the fields.
gf_host_list() { gf_in gfmd "$(gf_bin gfhost)" -c "$STATE/admin.conf" list 2>/dev/null; }

gf_host_is_up() {
	gf_host_list | awk -v h="$1" '
		{ name = 0; up = 0
		  for (i = 1; i <= NF; i++) { if ($i == h) name = 1; if (tolower($i) == "up" || $i == "draining") up = 1 }
		  if (name && up) found = 1 }
		END { exit !found }'
}

# gf_wait_hosts_up: every gfsd of the cluster is registered and up
# (within GF_WAIT_SECS).
gf_wait_hosts_up() {
	local secs=$GF_WAIT_SECS i k missing
	for ((i = 0; i < secs * 5; i++)); do
		missing=
		for ((k = 1; k <= NGFSD; k++)); do
			if ! gf_pid_alive "$(gf_gfsd_pid "$k")"; then
				gf_err "gfsd node$k exited"
				gf_dump_logs
				return 1
			fi
			gf_host_is_up "node$k" || missing+=" node$k"
		done
		[[ -z $missing ]] && return 0
		sleep 0.2
	done
	gf_err "hosts not up after ${secs}s:$missing; gfhost list says:"
	gf_host_list >&2
	gf_dump_logs
	return 1
}

# gf_stat_value NODE KEY: one counter of `gfhost stats NODE`.
gf_stat_value() {
	gf_in gfmd "$(gf_bin gfhost)" -c "$STATE/admin.conf" stats "$1" 2>/dev/null |
		awk -v k="$2" '$1 == k { print $2; found = 1 } END { exit !found }'
}

# ---- mounts ------------------------------------------------------------------

gf_mount_pid() { gf_pidfile_pid "$STATE/mount$1.pid"; }

# The kernel offers FUSE over io_uring (fuse/uring.h) only with the fuse
# module's enable_uring set: set it, unless GF_FUSE_URING=0 (a kernel
# without it has no such file: the mounts then use /dev/fuse).
gf_fuse_uring() {
	local p=/sys/module/fuse/parameters/enable_uring
	[[ ${GF_FUSE_URING:-1} == 0 || ! -w $p ]] && return 0
	[[ $(cat "$p") == Y ]] || echo Y >"$p" 2>/dev/null || true
}

# gf_mount K [mount.gfarmfs options...]
gf_mount() {
	local k=$1 bin mnt i pid
	shift
	bin=$(gf_bin mount.gfarmfs) || return 1
	gf_fuse_uring
	mnt=$(gf_mount_dir "$k")
	mkdir -p "$mnt"
	# In the network of the host the mount acts as (without a mount namespace
	# of its own, or the FUSE mount would be seen by nobody else).
	gf_prefix "node$(((k - 1) % NGFSD + 1))"
	gf_spawn "$STATE/mount$k.pid" "$STATE/mount$k.out" \
		"${GF_IN[@]}" "$bin" "$STATE/client$k.conf" "$mnt" -f "$@"
	pid=$(gf_mount_pid "$k")
	for ((i = 0; i < GF_WAIT_SECS * 10; i++)); do
		mountpoint -q "$mnt" && return 0
		if ! gf_pid_alive "$pid"; then
			gf_err "mount.gfarmfs for $mnt exited"
			gf_dump_logs
			return 1
		fi
		sleep 0.1
	done
	gf_err "$mnt not mounted after ${GF_WAIT_SECS}s"
	gf_dump_logs
	return 1
}

gf_umount() {
	local k=$1 mnt pid
	mnt=$(gf_mount_dir "$k")
	pid=$(gf_mount_pid "$k")
	if mountpoint -q "$mnt"; then
		fusermount3 -u "$mnt" 2>/dev/null || fusermount3 -uz "$mnt" || umount -l "$mnt"
	fi
	# The client exits by itself once unmounted.
	if [[ -n $pid ]] && gf_wait_dead "$pid"; then
		if gf_bad_exit; then
			gf_err "mount.gfarmfs for $mnt exited with status $GF_EXIT_STATUS after unmount"
			return 4
		fi
		return 0
	fi
	gf_stop_pid "$pid" "mount.gfarmfs $mnt"
}

# ---- the whole cluster -------------------------------------------------------

gf_write_env() {
	local k f=$STATE/env v
	{
		printf 'STATE=%q\n' "$STATE"
		for ((k = 1; k <= NMOUNTS; k++)); do
			v=$([[ $k == 1 ]] || echo "$k")
			printf 'MOUNT%s=%q\n' "$v" "$(gf_mount_dir "$k")"
			printf 'CONFIG%s=%q\n' "$v" "$STATE/client$k.conf"
		done
		printf 'ADMIN_CONFIG=%q\n' "$STATE/admin.conf"
		printf 'GFMD_CONFIG=%q\n' "$STATE/gfmd.conf"
		printf 'GFMD_PORT=%q\n' "$GFMD_PORT"
		printf 'GFMD_PID=%q\n' "$(gf_pidfile_pid "$STATE/gfmd.pid")"
		printf 'NGFSD=%q\n' "$NGFSD"
		printf 'NMOUNTS=%q\n' "$NMOUNTS"
		for ((k = 1; k <= NGFSD; k++)); do
			printf 'GFSD%s_PORT=%q\n' "$k" "$(awk '$1 == "gfsd_port" { print $3 }' "$STATE/node$k/gfsd.conf")"
			printf 'GFSD%s_SOCKET=%q\n' "$k" "$STATE/node$k/gfsd.sock"
			printf 'GFSD%s_CONFIG=%q\n' "$k" "$STATE/node$k/gfsd.conf"
			printf 'GFSD%s_PID=%q\n' "$k" "$(gf_gfsd_pid "$k")"
		done
		printf 'KEY=%q\n' "$KEY"
		printf 'PGDIR=%q\n' "$PGDIR"
		printf 'PGBIN=%q\n' "$PGBIN"
		printf 'PGHOST=%q\n' "$PGDIR/sock"
		printf 'PGPORT=%q\n' "$PGPORT"
		gf_env_extra
	} >"$f.tmp" && mv "$f.tmp" "$f"
}

# gf_cluster_up [--gfsd N] [--mounts M] [--state DIR] [--journal]
# Sets STATE, MOUNT, CONFIG, ... in the caller's shell (see STATE/env).
gf_cluster_up() {
	local k port GF_JOURNAL=
	NGFSD=3 NMOUNTS=1 STATE=
	while (($#)); do
		case $1 in
		--journal) GF_JOURNAL=1; shift ;;
		--gfsd) NGFSD=$2; shift 2 ;;
		--mounts) NMOUNTS=$2; shift 2 ;;
		--state) STATE=$2; shift 2 ;;
		*) gf_err "unknown option $1"; return 2 ;;
		esac
	done
	[[ $NGFSD =~ ^[1-9][0-9]*$ && $NMOUNTS =~ ^[0-9]+$ ]] || { gf_err "bad --gfsd/--mounts"; return 2; }
	[[ $(id -u) == 0 ]] || { gf_err "must run as root (FUSE mounts, initdb as postgres)"; return 1; }
	[[ -c /dev/fuse ]] || { gf_err "/dev/fuse is missing"; return 1; }
	if [[ -z $STATE ]]; then
		STATE=$(mktemp -d /tmp/gfarmfs.XXXXXXXX) || return 1
	else
		if [[ -e $STATE/env ]]; then
			gf_err "$STATE already holds a cluster (tests/cluster.sh down --state $STATE)"
			return 1
		fi
		mkdir -p "$STATE" || return 1
		STATE=$(cd "$STATE" && pwd)
	fi
	chmod 755 "$STATE"
	: >"$STATE/.gfarmfs-cluster"
	GFMD_PID='' PGDIR=$STATE/pg PGBIN='' PGPORT=''

	KEY=$STATE/key
	"$(gf_bin gfkey)" "$KEY" >&2 || { gf_err "gfkey $KEY failed"; return 1; }
	gf_pg_init || return 1
	gf_free_port GFMD_PORT || return 1
	gf_write_gfmd_conf
	for ((k = 1; k <= NGFSD; k++)); do
		gf_free_port port || return 1
		gf_write_gfsd_conf "$k" "$port"
	done
	for ((k = 1; k <= NMOUNTS; k++)); do
		gf_write_client_conf "$k"
	done
	gf_write_env
	gf_gfmd_start || return 1
	# GF_SPOOL_TMPFS="K:MB" puts node K's spool on a small tmpfs (ENOSPC tests).
	if [[ -n ${GF_SPOOL_TMPFS:-} ]]; then
		mount -t tmpfs -o "size=${GF_SPOOL_TMPFS#*:}m,mode=0755" gfarmfs-spool \
			"$STATE/node${GF_SPOOL_TMPFS%%:*}/spool" || return 1
	fi
	for ((k = 1; k <= NGFSD; k++)); do
		gf_gfsd_start "$k" || return 1
	done
	gf_wait_hosts_up || return 1
	for ((k = 1; k <= NMOUNTS; k++)); do
		gf_mount "$k" || return 1
	done
	gf_write_env
	# shellcheck disable=SC1091
	. "$STATE/env"
}

# Stop everything in order (mounts, gfsd, gfmd, PostgreSQL); keep the state.
gf_stop_all() {
	local k rc=0
	for ((k = 1; k <= NMOUNTS; k++)); do gf_umount "$k" || rc=1; done
	for ((k = 1; k <= NGFSD; k++)); do gf_gfsd_stop "$k" || rc=1; done
	gf_gfmd_stop || rc=1
	gf_pg_stop || rc=1
	return $rc
}

# Start everything stopped by gf_stop_all again.
gf_start_all() {
	local k
	gf_pg_start || return 1
	gf_gfmd_start || return 1
	for ((k = 1; k <= NGFSD; k++)); do gf_gfsd_start "$k" || return 1; done
	gf_wait_hosts_up || return 1
	for ((k = 1; k <= NMOUNTS; k++)); do gf_mount "$k" || return 1; done
	gf_write_env
	# shellcheck disable=SC1091
	. "$STATE/env"
}

# Processes whose command line names the state dir (a daemon, a mount made by
# a test through mount(8), a postmaster), minus this shell and its ancestors.
gf_stray_pids() {
	local st=$1 p pid self=" " q=$BASHPID
	while [[ $q =~ ^[0-9]+$ && $q -gt 1 ]]; do
		self+="$q "
		q=$(awk '/^PPid:/ { print $2 }' "/proc/$q/status" 2>/dev/null)
	done
	for p in /proc/[0-9]*; do
		pid=${p#/proc/}
		[[ $self == *" $pid "* ]] && continue
		case $(readlink "$p/exe" 2>/dev/null) in
		*/gfmd | */gfsd | */mount.gfarmfs | */gfarmfs | */postgres) ;;
		*) continue ;;
		esac
		tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -qF -- "$st/" && echo "$pid"
	done
}

gf_mounts_under() {
	awk -v st="$1/" 'index($2, st) == 1 { print $2 }' /proc/mounts | sort -r
}

# gf_cluster_down [STATE]: stop everything, unmount, remove the state dir
# (unless KEEP=1). Returns non-zero if anything could not be stopped.
gf_cluster_down() {
	local st=${1:-${STATE:-}} k pid m rc=0 n
	[[ -n $st && -d $st ]] || return 0
	st=$(cd "$st" && pwd)
	if [[ ! -e $st/.gfarmfs-cluster ]]; then
		gf_err "$st is not a cluster state directory"
		return 1
	fi
	# The daemon controls below read these; dynamic scope keeps them local.
	local STATE=$st NGFSD PGDIR PGBIN
	NGFSD=$(gf_env_value "$st" NGFSD)
	PGDIR=$(gf_env_value "$st" PGDIR)
	PGBIN=$(gf_env_value "$st" PGBIN)
	[[ -n $NGFSD ]] || NGFSD=0
	[[ -n $PGDIR ]] || PGDIR=$st/pg
	[[ -n $PGBIN ]] || PGBIN=$(gf_pg_bindir 2>/dev/null)
	# FUSE mounts first, so nothing waits on a daemon that is gone.
	for m in $(gf_mounts_under "$st"); do
		if awk -v m="$m" '$2 == m && $3 ~ /^fuse/ { f = 1 } END { exit !f }' /proc/mounts; then
			fusermount3 -uz "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
		fi
	done
	for pid in "$st"/mount*.pid; do
		[[ -e $pid ]] || continue
		gf_stop_pid "$(gf_pidfile_pid "$pid")" "mount.gfarmfs" || rc=1
	done
	for ((k = 1; k <= NGFSD; k++)); do gf_gfsd_stop "$k" || rc=1; done
	gf_gfmd_stop || rc=1
	gf_pg_stop || rc=1
	# Anything else still naming the state dir (e.g. a mount made by mount(8)).
	for pid in $(gf_stray_pids "$st"); do
		gf_log "stopping leftover process $pid: $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)"
		kill -TERM "$pid" 2>/dev/null
		gf_wait_dead "$pid" 5 || kill -KILL "$pid" 2>/dev/null
		gf_wait_dead "$pid" || rc=1
	done
	for m in $(gf_mounts_under "$st"); do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || rc=1
	done
	gf_teardown_extra "$st" || rc=1
	n=$(gf_stray_pids "$st" | wc -l)
	if ((n > 0)); then
		gf_err "$n processes of $st are still running"
		rc=1
	fi
	if [[ -n $(gf_mounts_under "$st") ]]; then
		gf_err "still mounted under $st: $(gf_mounts_under "$st" | tr '\n' ' ')"
		rc=1
	elif [[ ${KEEP:-0} == 1 ]]; then
		gf_log "KEEP=1: state kept in $st"
	else
		if [[ $PGDIR != "$st/pg" && -f $PGDIR/owner && $(cat "$PGDIR/owner") == "$st" ]]; then
			rm -rf --one-file-system "$PGDIR"
		fi
		rm -rf --one-file-system "$st"
	fi
	return $rc
}

# gf_env_value STATE NAME: a value from STATE/env without sourcing it.
gf_env_value() {
	[[ -r $1/env ]] || return 0
	awk -v n="$2" 'index($0, n "=") == 1 { v = substr($0, length(n) + 2) } END { print v }' "$1/env"
}

# ---- command line ------------------------------------------------------------

gf_cluster_usage() {
	cat <<EOF
usage: $(basename "$0") up [--gfsd N] [--mounts M] [--state DIR]
       $(basename "$0") down [--state DIR]
up prints shell assignments (STATE=, MOUNT=, CONFIG=, ...) for eval.
down without --state stops the one cluster started with up that is running;
with several running it names them and stops none.
Environment: KEEP=1 keeps the state dir on down; GF_LOG_LEVEL=debug;
GF_GFMD_CONF_EXTRA / GF_GFSD_CONF_EXTRA / GF_CLIENT_CONF_EXTRA: extra lines
for gfmd.conf / gfsd.conf / every clientK.conf.
EOF
}

# gf_registered_clusters: the state directories of the clusters started
# with `up` that still run (stale entries are dropped).
gf_registered_clusters() {
	local e st pid
	[[ -d $GF_CLUSTER_REGISTRY ]] || return 0
	for e in "$GF_CLUSTER_REGISTRY"/*; do
		[[ -f $e ]] || continue
		st=$(cat "$e" 2>/dev/null)
		pid=$(gf_pidfile_pid "$st/gfmd.pid" 2>/dev/null)
		if [[ -d $st && -n $pid ]] && gf_pid_alive "$pid"; then
			echo "$st"
		else
			rm -f "$e"
		fi
	done
}

gf_cluster_main() {
	local cmd=${1:-} st='' running
	shift || true
	case $cmd in
	up)
		if ! gf_cluster_up "$@"; then
			gf_err "cluster up failed; stopping what was started"
			[[ -n ${STATE:-} ]] && gf_cluster_down "$STATE"
			exit 1
		fi
		mkdir -p "$GF_CLUSTER_REGISTRY"
		echo "$STATE" >"$GF_CLUSTER_REGISTRY/$(basename "$STATE")"
		cat "$STATE/env"
		;;
	down)
		while (($#)); do
			case $1 in
			--state) st=$2; shift 2 ;;
			*) gf_err "unknown option $1"; exit 2 ;;
			esac
		done
		if [[ -z $st ]]; then
			# never someone else's by accident: only when exactly one runs
			mapfile -t running < <(gf_registered_clusters)
			case ${#running[@]} in
			0) gf_err "no cluster started with 'up' is running (give --state DIR)"; exit 1 ;;
			1) st=${running[0]} ;;
			*)
				gf_err "${#running[@]} clusters are running; say which one to stop:"
				printf '  cluster down --state %s\n' "${running[@]}" >&2
				exit 1
				;;
			esac
		fi
		if [[ ! -d $st ]]; then
			gf_err "no cluster in $st"
			rm -f "$GF_CLUSTER_REGISTRY/$(basename "$st")"
			exit 1
		fi
		gf_cluster_down "$st" || exit 1
		rm -f "$GF_CLUSTER_REGISTRY/$(basename "$st")"
		gf_log "stopped the cluster in $st"
		;;
	-h | --help | help) gf_cluster_usage ;;
	*) gf_cluster_usage >&2; exit 2 ;;
	esac
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
	set -uo pipefail
	gf_cluster_main "$@"
fi
