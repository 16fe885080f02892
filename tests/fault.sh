# tests/fault.sh — fault injection for the integration tests: freeze, crash
# and break the parts of a test cluster on purpose, and wait for what the
# daemons say about it. Sourced by tests/lib.sh (after tests/cluster.sh);
# works on the local cluster and on the multi-host test bed (tests/netbed.sh)
# alike: programs run through gf_in, files are found through the STATE layout
# (see tests/cluster.sh).
# shellcheck shell=bash
#
# PostgreSQL (every process of the cluster's server: the postmaster, whose
# pid is the first line of PGDATA/postmaster.pid, and all its children):
#     gf_pg_pause          wait until no session of the server is in the
#                          middle of a request (gf_pg_idle: the commit of a
#                          client's earlier, asynchronous request, such as the
#                          close the kernel sends after cat exits, must not be
#                          caught half answered, or the next commit waits
#                          inside gfmd instead of in the server), then SIGSTOP
#                          every process of the server and wait until all are
#                          stopped. Registers gf_pg_resume in IT_CLEANUP, so a
#                          failed test never leaves a frozen server behind
#                          (gf_pg_stop thaws one as well).
#     gf_pg_idle           0 when every client session of the server but the
#                          one asking is idle (pg_stat_activity): no request
#                          read and not yet answered, no open transaction.
#     gf_pg_resume         SIGCONT them and wait until none is stopped. A no-op
#                          when the server is not frozen or not running.
#     gf_pg_stuck          0 when a client's request waits unread in the
#                          server: some socket of a server process has bytes
#                          queued. With the server frozen that is the proof
#                          that gfmd's commit is in flight, not yet answered.
#     gf_pg_wait_stuck [SECS]  poll for gf_pg_stuck.
#     gf_pg_kill9          kill -9 of the postmaster and every backend, and
#                          wait until they are all reaped (a zombie postmaster
#                          would still block a restart on its lock file).
#                          Restart with gf_pg_start (tests/cluster.sh): same
#                          data directory, PostgreSQL does crash recovery.
#                          gfmd is not told: its connection is dead, its next
#                          commit fails and it exits (gfmd/store_pg.c); tests
#                          restart it with gf_gfmd_start.
#     gf_psql ARGS...      psql on gfmd's own database, connected with gfmd's
#                          `postgresql = ...` string from gfmd.conf, as the
#                          postgres user (ON_ERROR_STOP, no psqlrc).
#     gf_pg_hold_wal       hold back the server's WAL writer, background
#                          writer, autovacuum and checkpoints (ALTER SYSTEM,
#                          kept across restarts): an asynchronous commit then
#                          stays in the server's memory until a commit that
#                          asks for a flush, so a kill -9 loses it.
#     gf_restart_after_crash  after kill -9 of the server and of gfmd: start
#                          the server (crash recovery), gfmd, wait for the
#                          hosts, and give every mount a fresh start.
#
# Commits:
#     gf_commit_fail_on NAME   every later commit of gfmd that inserts, changes
#                          or deletes a directory entry named NAME (any
#                          directory) fails at COMMIT. gfmd exits on a failed
#                          commit (crash-only): poll for its pid to vanish
#                          (gf_gfmd_wait_exit), then gf_gfmd_start. Done with
#                          a deferred constraint trigger on `dirent` that
#                          RAISEs for names listed in table gf_fault_name;
#                          several names may be armed at once.
#     gf_commit_fail_off   drop the trigger, its function and the name table.
#
# Daemons and mounts (kill -9 of gfmd and gfsd: gf_gfmd_kill9 and
# gf_gfsd_kill9 K in tests/cluster.sh; both wait until the process is gone):
#     gf_gfmd_wait_exit [SECS] 0 once the gfmd of STATE/gfmd.pid has exited by
#                          itself; GF_EXIT_STATUS is its status when known.
#     gf_mount_kill9 K     kill -9 of mount K's mount.gfarmfs, then remove the
#                          dead mount (fusermount3 -uz) and wait until it is
#                          gone from /proc/mounts, so gf_mount K mounts again.
#
# Logs (a wait looks at what the log gained since its last mark, or at the
# whole log when it was never marked; PATTERN is an extended regex, grep -E):
#     gf_log_mark FILE / gf_log_wait FILE PATTERN [SECS]   any log file
#     gf_log_has FILE PATTERN  the same test once, without waiting
#     gf_gfmd_log_mark / gf_gfmd_log_wait PATTERN [SECS]     STATE/gfmd.log
#     gf_gfsd_log_mark K / gf_gfsd_log_wait K PATTERN [SECS] gfsd K's log
#     gf_pg_log_mark / gf_pg_log_wait PATTERN [SECS]         PostgreSQL's log
#
# Every wait polls and gives up after SECS (default GF_WAIT_SECS), a bound
# that only guards against a hang. Functions return 0 on success and
# non-zero with a message on stderr otherwise; none of them counts as a test
# result: tests assert on what they do (check, expect_eq, ...). Call the ones
# that kill, start, reap or remember something (the kill9s, gf_pg_pause,
# gf_*_log_mark, gf_gfmd_wait_exit, gf_gfmd_start, gf_mount) in the test's
# own shell, e.g. through check_here, not through check or $(...): a
# subshell forgets what they set (IT_CLEANUP, GF_EXIT_STATUS, GFMD_PID, the
# marks) and cannot reap the test shell's children.
#
# Not here: a peer that never reads (tests/peer.py).

declare -A GF_LOG_MARK=()

gf_fault_err() { echo "fault: error: $*" >&2; }

# gf_fault_cleanup CMD: run CMD when the test ends (IT_CLEANUP of
# tests/lib.sh), once however often it is registered.
gf_fault_cleanup() {
	local h
	declare -p IT_CLEANUP >/dev/null 2>&1 || return 0
	for h in "${IT_CLEANUP[@]}"; do
		[[ $h == "$1" ]] && return 0
	done
	IT_CLEANUP+=("$1")
}

# gf_proc_state PID: one letter (R, S, D, T, Z, ...), nothing when gone.
gf_proc_state() {
	local st
	read -r st 2>/dev/null <"/proc/$1/stat" || return 1
	st=${st##*) }
	echo "${st%% *}"
}

# ---- PostgreSQL ----------------------------------------------------------------

gf_pg_all_stopped() {
	local p
	for p in "$@"; do
		case $(gf_proc_state "$p") in
		T | t | '') ;;
		*) return 1 ;;
		esac
	done
}

gf_pg_none_stopped() {
	local p
	for p in "$@"; do
		case $(gf_proc_state "$p") in
		T | t) return 1 ;;
		esac
	done
}

gf_pg_idle() {
	local out busy me
	out=$(gf_psql -At -F ' ' -c "SELECT count(*) FILTER (WHERE pid <> pg_backend_pid()
		AND state IS DISTINCT FROM 'idle'), pg_backend_pid() FROM pg_stat_activity
		WHERE backend_type = 'client backend'") || return 1
	read -r busy me <<<"$out"
	# The backend that answered ends once psql has gone; until the
	# postmaster reaps it, a freeze would catch it half ended.
	gf_poll "$GF_WAIT_SECS" test ! -e "/proc/$me" || return 1
	[[ $busy == 0 ]]
}

gf_pg_pause() {
	local pm pids
	pm=$(gf_pg_postmaster_pid) || { gf_fault_err "PostgreSQL of $STATE is not running"; return 1; }
	if ! gf_poll "$GF_WAIT_SECS" gf_pg_idle; then
		gf_fault_err "a session of PostgreSQL is still busy after ${GF_WAIT_SECS}s:" \
			"$(gf_psql -At -c "SELECT pid, state, query FROM pg_stat_activity
				WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()" 2>&1)"
		return 1
	fi
	gf_fault_cleanup gf_pg_resume
	# The postmaster first: stopped, it forks no new backend that the
	# list below would miss.
	kill -STOP "$pm" || return 1
	mapfile -t pids < <(gf_pg_pids)
	kill -STOP "${pids[@]}" 2>/dev/null
	if ! gf_poll "$GF_WAIT_SECS" gf_pg_all_stopped "${pids[@]}"; then
		gf_fault_err "PostgreSQL processes not stopped after ${GF_WAIT_SECS}s: ${pids[*]}"
		return 1
	fi
}

gf_pg_resume() {
	local pids
	mapfile -t pids < <(gf_pg_pids)
	((${#pids[@]})) || return 0
	kill -CONT "${pids[@]}" 2>/dev/null
	if ! gf_poll "$GF_WAIT_SECS" gf_pg_none_stopped "${pids[@]}"; then
		gf_fault_err "PostgreSQL processes still stopped after ${GF_WAIT_SECS}s: ${pids[*]}"
		return 1
	fi
}

# Bytes queued for reading on the server's sockets (UNIX and TCP), seen from
# the network namespace PostgreSQL runs in (socket tables are per namespace).
gf_pg_queued_bytes() {
	local pids pat
	mapfile -t pids < <(gf_pg_pids)
	((${#pids[@]})) || return 1
	pat=$(printf 'pid=%s,|' "${pids[@]}")
	gf_in gfmd ss -Hxtap 2>/dev/null |
		awk -v pat="${pat%|}" '$0 ~ pat { n += $3 } END { print n + 0 }'
}

gf_pg_stuck() {
	local n
	n=$(gf_pg_queued_bytes) || return 1
	((n > 0))
}

gf_pg_wait_stuck() { gf_poll "${1:-$GF_WAIT_SECS}" gf_pg_stuck; }

gf_pg_kill9() {
	local pids p
	mapfile -t pids < <(gf_pg_pids)
	if ((${#pids[@]} == 0)); then
		gf_fault_err "PostgreSQL of $STATE is not running"
		return 1
	fi
	kill -KILL "${pids[@]}" 2>/dev/null
	# Gone from /proc, not only dead: PostgreSQL refuses to start while the
	# pid in its lock file still exists, and a zombie does.
	for p in "${pids[@]}"; do
		if ! gf_poll "$GF_WAIT_SECS" test ! -e "/proc/$p"; then
			gf_fault_err "PostgreSQL process $p still exists ${GF_WAIT_SECS}s after kill -9"
			return 1
		fi
	done
}

# The connection string gfmd uses (gfmd.conf: postgresql = "...").
gf_pg_conninfo() {
	sed -n 's/^[[:space:]]*postgresql[[:space:]]*=[[:space:]]*"\(.*\)"[[:space:]]*$/\1/p' \
		"$STATE/gfmd.conf" | tail -n 1
}

gf_psql() {
	local conninfo psql
	conninfo=$(gf_pg_conninfo)
	[[ -n $conninfo ]] || { gf_fault_err "no postgresql = \"...\" in $STATE/gfmd.conf"; return 1; }
	psql=${PGBIN:-}/psql
	[[ -x $psql ]] || psql=$(command -v psql) || { gf_fault_err "no psql"; return 1; }
	(cd / && gf_in gfmd runuser -u postgres -- "$psql" -X -q -v ON_ERROR_STOP=1 "$conninfo" "$@")
}

# (10 s is the longest wal_writer_delay there is: a test is over well before)
gf_pg_hold_wal() {
	gf_psql -c "ALTER SYSTEM SET wal_writer_delay = '10s'" \
		-c "ALTER SYSTEM SET wal_writer_flush_after = '1GB'" \
		-c "ALTER SYSTEM SET bgwriter_lru_maxpages = 0" \
		-c "ALTER SYSTEM SET autovacuum = off" \
		-c "ALTER SYSTEM SET checkpoint_timeout = '1h'" \
		-c "SELECT pg_reload_conf()"
}

gf_restart_after_crash() {
	local k
	gf_pg_start || return 1
	gf_gfmd_start || return 1
	gf_wait_hosts_up || return 1
	for ((k = 1; k <= NMOUNTS; k++)); do
		gf_umount "$k"
		gf_mount "$k" || return 1
	done
}

# ---- commits -----------------------------------------------------------------

# A deferred constraint trigger: the statements of the transaction succeed
# and its COMMIT fails, the hardest case for gfmd (all but the last step of
# the batch went through). RETURN NULL: the result of an AFTER trigger is
# ignored.
gf_commit_fail_sql() {
	cat <<'EOF'
CREATE TABLE IF NOT EXISTS gf_fault_name (name bytea PRIMARY KEY);
CREATE OR REPLACE FUNCTION gf_fault_dirent() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
	IF EXISTS (SELECT 1 FROM gf_fault_name f
		   WHERE (TG_OP <> 'DELETE' AND f.name = NEW.name)
		      OR (TG_OP <> 'INSERT' AND f.name = OLD.name)) THEN
		RAISE EXCEPTION 'gfarmfs test fault: refusing a commit that touches dirent %',
			convert_from(CASE WHEN TG_OP = 'DELETE' THEN OLD.name ELSE NEW.name END, 'UTF8');
	END IF;
	RETURN NULL;
END $f$;
DROP TRIGGER IF EXISTS gf_fault ON dirent;
CREATE CONSTRAINT TRIGGER gf_fault AFTER INSERT OR UPDATE OR DELETE ON dirent
	DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION gf_fault_dirent();
INSERT INTO gf_fault_name VALUES (convert_to(:'name', 'UTF8')) ON CONFLICT DO NOTHING;
EOF
}

gf_commit_fail_on() {
	local name=${1:?gf_commit_fail_on NAME}
	# (client_min_messages: no NOTICE about a trigger that did not exist)
	PGOPTIONS='-c client_min_messages=warning' gf_psql -v name="$name" < <(gf_commit_fail_sql)
}

gf_commit_fail_off() {
	PGOPTIONS='-c client_min_messages=warning' gf_psql <<'EOF'
DROP TRIGGER IF EXISTS gf_fault ON dirent;
DROP FUNCTION IF EXISTS gf_fault_dirent();
DROP TABLE IF EXISTS gf_fault_name;
EOF
}

# ---- daemons and mounts --------------------------------------------------------

gf_gfmd_wait_exit() {
	local pid
	pid=$(gf_pidfile_pid "$STATE/gfmd.pid")
	[[ -n $pid ]] || pid=${GFMD_PID:-}
	[[ -n $pid ]] || { gf_fault_err "no gfmd pid"; return 1; }
	gf_wait_dead "$pid" "${1:-$GF_WAIT_SECS}"
}

gf_mounted() { awk -v m="$1" '$2 == m { f = 1 } END { exit !f }' /proc/mounts; }
gf_unmounted() { ! gf_mounted "$1"; }

gf_mount_kill9() {
	local k=${1:?gf_mount_kill9 K} pid mnt
	pid=$(gf_mount_pid "$k")
	mnt=$(gf_mount_dir "$k")
	if [[ -z $pid ]] || ! gf_pid_ours "$pid"; then
		gf_fault_err "mount $k ($mnt) has no running mount.gfarmfs"
		return 1
	fi
	{
		kill -KILL "$pid"
		gf_wait_dead "$pid"
	} 2>/dev/null || { gf_fault_err "mount.gfarmfs $pid survives kill -9"; return 1; }
	# The kernel keeps the dead mount ("Transport endpoint is not
	# connected") until it is unmounted; mountpoint(1) cannot even stat it.
	if gf_mounted "$mnt"; then
		fusermount3 -uz "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null
	fi
	if ! gf_poll "$GF_WAIT_SECS" gf_unmounted "$mnt"; then
		gf_fault_err "$mnt is still mounted after kill -9 of its client and fusermount3 -uz"
		return 1
	fi
}

# ---- logs ----------------------------------------------------------------------

gf_file_size() { stat -c %s "$1" 2>/dev/null || echo 0; }

gf_log_mark() { GF_LOG_MARK[$1]=$(gf_file_size "$1"); }

gf_log_has() {
	local file=$1 pattern=$2 from=${GF_LOG_MARK[$1]:-0}
	[[ -r $file ]] || return 1
	tail -c +"$((from + 1))" "$file" | grep -Eq -- "$pattern"
}

gf_log_wait() {
	local file=${1:?gf_log_wait FILE PATTERN [SECS]} pattern=${2:?gf_log_wait FILE PATTERN [SECS]}
	gf_poll "${3:-$GF_WAIT_SECS}" gf_log_has "$file" "$pattern"
}

gf_gfmd_log_mark() { gf_log_mark "$STATE/gfmd.log"; }
gf_gfmd_log_wait() { gf_log_wait "$STATE/gfmd.log" "$@"; }
gf_gfsd_log_mark() { gf_log_mark "$STATE/node${1:?gf_gfsd_log_mark K}/gfsd.log"; }
gf_gfsd_log_wait() {
	local k=${1:?gf_gfsd_log_wait K PATTERN [SECS]}
	shift
	gf_log_wait "$STATE/node$k/gfsd.log" "$@"
}
gf_pg_log_mark() { gf_log_mark "$PGDIR/log"; }
gf_pg_log_wait() { gf_log_wait "$PGDIR/log" "$@"; }
