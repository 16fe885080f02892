#!/bin/bash
# shellcheck disable=SC2317  # helpers are called through check
# One gfmd per database. gfmd keeps its namespace in memory and is the only
# writer of its database, so a second gfmd on the same database would serve
# a diverging copy and overwrite the first one's rows. gfmd holds a
# session-level PostgreSQL advisory lock for its whole life: a second one
# (here: the same configuration on another port, even the same pid file)
# refuses to start, says who holds the lock and exits 1, while the first
# keeps serving. A kill -9 of the first ends its database session, which
# frees the lock, so gfmd starts again at once.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
it_require sed diff
it_cluster_up --gfsd 1 --mounts 1

check "mkdir through the first gfmd" mkdir "$MOUNT/before" || die "the cluster does not work"
FIRST_PID=$GFMD_PID

gf_free_port PORT2 || die "no free port"
SECOND_CONF=$STATE/gfmd-second.conf
sed -e "s/^gfmd_port = .*/gfmd_port = $PORT2/" "$STATE/gfmd.conf" >"$SECOND_CONF"
check "the second configuration differs only in its port" \
	test "$(diff "$STATE/gfmd.conf" "$SECOND_CONF" | grep -c '^[<>]')" = 2
GFMD=$(gf_bin gfmd) || die "no gfmd binary"
DBNAME_RE="database '.*dbname=gfarmfs.*'"
MSG_RE="gfmd: another gfmd is already serving $DBNAME_RE \(PostgreSQL backend pid [0-9]+.* holds its lock\); refusing to start"

# second_gfmd NAME ARGS...: run a second gfmd on the same database and wait
# for it to exit by itself (it is killed if it is still there after 20 s).
second_gfmd() {
	local name=$1 pid
	shift
	"$GFMD" -c "$SECOND_CONF" -l "$STATE/$name.log" "$@" </dev/null >"$STATE/$name.out" 2>&1 &
	pid=$!
	IT_CLEANUP+=("kill -KILL $pid")
	if gf_wait_dead "$pid" 20; then
		ok "$name: the second gfmd exits by itself"
		expect_eq "$name: with status 1" 1 "$GF_EXIT_STATUS"
	else
		fail "$name: a second gfmd on the same database is still running after 20 s"
		kill -KILL "$pid" 2>/dev/null
		gf_wait_dead "$pid" 10
	fi
}

# In the foreground, with the first gfmd's pid file.
second_gfmd second -f -P "$STATE/gfmd.pid"
if grep -qE -- "$MSG_RE" "$STATE/second.log"; then
	ok "its log says another gfmd serves the database"
else
	fail "no refusal in its log; it says: $(tail -n 5 "$STATE/second.log")"
fi
check "and so does its stderr" grep -qE -- "$MSG_RE" "$STATE/second.out"
check_fails "it did not start serving" grep -q "serving on" "$STATE/second.log"
check_fails "it did not touch the schema" grep -q "applied migration" "$STATE/second.log"
expect_eq "the first gfmd's pid file is left alone" "$FIRST_PID" "$(gf_pidfile_pid "$STATE/gfmd.pid")"

# The pid in the message is the first gfmd's database session.
HOLDER=$(sed -nE 's/.*PostgreSQL backend pid ([0-9]+).*/\1/p' "$STATE/second.log" | head -n 1)
psql_() {
	(cd / && runuser -u postgres -- "$PGBIN/psql" -h "$PGDIR/sock" -p "$PGPORT" -d gfarmfs -XAtq -c "$1")
}
expect_eq "the backend named holds a session of application gfmd" gfmd \
	"$(psql_ "SELECT application_name FROM pg_stat_activity WHERE pid = ${HOLDER:-0}")"

# Detaching (the usual way to start it): the shell sees the refusal and 1.
second_gfmd detached
check "detached: the refusal reaches the shell" grep -qE -- "$MSG_RE" "$STATE/detached.out"

check "the first gfmd is still running" gf_pid_alive "$FIRST_PID"
check "and still serves: mkdir through the mount" mkdir "$MOUNT/during"
check "a new file through the mount" sh -c "echo kept >'$MOUNT/during/f'"

# kill -9: the database session ends, the lock with it.
if gf_gfmd_kill9; then ok "kill -9 the first gfmd"; else fail "kill -9 of the first gfmd"; fi
check "gfmd starts again on the same database at once" gf_gfmd_start || die "gfmd cannot start after kill -9 of the lock holder"
check_fails "without a refusal" grep -q "refusing to start" "$STATE/gfmd.out"
check "the gfsd comes back" gf_wait_hosts_up
see_data() { test -d "$MOUNT/before" && test "$(cat "$MOUNT/during/f")" = kept; }
check "the data is there after the restart" poll_until 30 see_data
check "and the restarted gfmd serves: mkdir through the mount" mkdir "$MOUNT/after"

# The restarted gfmd holds the lock in turn.
second_gfmd again -f
check "a second gfmd is refused by the restarted one too" grep -qE -- "$MSG_RE" "$STATE/again.log"

it_done
