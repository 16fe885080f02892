#!/bin/bash
# Nothing happens before its commit (issue 6 points 1 and 9), shown by
# holding a commit in a frozen PostgreSQL and then crashing everything so
# that it is lost:
#   - an unlink whose commit never happens deletes no data: gfsd gets the
#     dead replica only after the commit, and the file comes back whole;
#   - another client never sees a change whose commit never happens: its
#     lookup or listing waits for the commit instead of answering.
# shellcheck disable=SC2317  # helpers are called through poll_until
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
it_require cmp
it_cluster_up --gfsd 2 --mounts 2
A=$MOUNT B=$MOUNT2

spool_files() {
	find "$STATE"/node*/spool/data -name "$(printf '%016x' "$(stat -c %i "$1")")-????????????????" 2>/dev/null
}
beats() { gf_stat_value node1 heartbeats; }
# beats_past N: node1's gfsd has had N heartbeats answered since $BEATS0
beats_past() { (($(beats) >= BEATS0 + $1)); }

# Crash gfmd, PostgreSQL and mount 1 (whose request waits) while a commit
# is held, so that it is lost for sure (a thawed server would still run
# what it had queued; mount 1, a hard mount, would send its request again
# to the new gfmd and have it done after all), then restart them.
crash_all() {
	check_here "$1: kill -9 of mount 1's client" gf_mount_kill9 1
	check_here "$1: kill -9 of gfmd" gf_gfmd_kill9
	check_here "$1: kill -9 of the frozen PostgreSQL" gf_pg_kill9
	check_here "$1: PostgreSQL starts again (crash recovery)" gf_pg_start || die "PostgreSQL does not restart"
	check_here "$1: gfmd starts again" gf_gfmd_start || die "gfmd does not restart"
	check "$1: the gfsd are back" gf_wait_hosts_up
	check_here "$1: mount 1 mounts again" gf_mount 1 || die "cannot mount 1 again"
}

# ---- point 1: no deletion before commit ----------------------------------------------
head -c 1048576 /dev/urandom >"$STATE/victim"
cp "$STATE/victim" "$A/victim" || die "cannot write the victim file"
victim_spool=$(spool_files "$A/victim")
[[ $victim_spool == "$STATE/node1/"* ]] || die "the victim is not on node1: $victim_spool"
check_here "freeze PostgreSQL" gf_pg_pause || die "cannot freeze PostgreSQL"
rm "$A/victim" 2>"$STATE/rm.err" &
RM=$!
IT_CLEANUP+=("kill $RM")
check "the unlink's commit waits in the frozen PostgreSQL" gf_pg_wait_stuck
BEATS0=$(beats)
# gfmd hands dead replicas to their gfsd in heartbeat replies: three of
# them pass while the unlink is applied in memory but not committed
if poll_until 60 beats_past 3; then
	ok "node1's gfsd had three heartbeats answered meanwhile"
else
	fail "node1's gfsd is not heartbeating: $(beats) after $BEATS0"
fi
check "gfsd deleted nothing: the replica file is still in the spool" test -e "$victim_spool"
check "the unlink has had no reply" gf_pid_alive "$RM"
crash_all "unlink lost"
gf_wait_dead "$RM" || fail "rm is still blocked after gfmd came back"
check "the unlink never committed: the file is there again" test -e "$B/victim"
check "with every byte of its data" cmp "$STATE/victim" "$B/victim"
check "and it can be removed for real now" rm "$B/victim"
gone() { [[ ! -e $victim_spool ]]; }
if poll_until 60 gone; then ok "after the commit gfsd deletes the replica file"; else fail "the replica file is still there after a committed unlink"; fi

# ---- point 9: other clients see only committed changes --------------------------------
mkdir "$A/d" || die "cannot mkdir"
ls "$B/d" >/dev/null || die "mount 2 cannot list d"
check_here "freeze PostgreSQL again" gf_pg_pause || die "cannot freeze PostgreSQL"
mkdir "$A/d/uncommitted" 2>/dev/null &
MK=$!
IT_CLEANUP+=("kill $MK")
check "the mkdir's commit waits in the frozen PostgreSQL" gf_pg_wait_stuck
# mount 2 never looked up this name: its kernel has to ask gfmd
(stat -c %F "$B/d/uncommitted" >"$STATE/seen.stat" 2>&1; echo "rc=$?" >>"$STATE/seen.stat") &
ST=$!
(ls -a "$B/d" >"$STATE/seen.ls" 2>&1; echo "rc=$?" >>"$STATE/seen.ls") &
LS=$!
IT_CLEANUP+=("kill $ST $LS")
BEATS0=$(beats)
# a reader that may answer does so at once; give it ample chance (a
# heartbeat or two) before the crash takes the change away
answered() { ! gf_pid_alive "$ST" && ! gf_pid_alive "$LS"; }
readers_had_time() { answered || beats_past 2; }
poll_until 60 readers_had_time || fail "node1's gfsd is not heartbeating"
crash_all "mkdir lost"
gf_wait_dead "$MK"
gf_wait_dead "$ST" || fail "stat is still blocked after gfmd came back"
gf_wait_dead "$LS" || fail "ls is still blocked after gfmd came back"
if grep -qx directory "$STATE/seen.stat"; then
	fail "another client saw the uncommitted directory: $(tr '\n' ' ' <"$STATE/seen.stat")"
else
	ok "another client's lookup never saw the uncommitted directory ($(tr '\n' ' ' <"$STATE/seen.stat"))"
fi
if grep -qx uncommitted "$STATE/seen.ls"; then
	fail "another client's listing showed the uncommitted directory: $(tr '\n' ' ' <"$STATE/seen.ls")"
else
	ok "another client's listing never showed it"
fi
check "after the crash it does not exist" test ! -e "$B/d/uncommitted"
check "what was committed before is all there" test -d "$B/d"

it_done
