#!/bin/bash
# The fault-injection harness (tests/fault.sh) does what it says, shown by
# what a user of the file system sees, first on the local cluster and then on
# the multi-host test bed (tests/netbed.sh), where every daemon runs in a
# network namespace of its own:
# - log waits find a line that comes and give up on one that does not;
# - kill -9 of gfsd, gfmd and a mount: the process is gone, it starts again,
#   and what was written before is read back;
# - PostgreSQL frozen: gfmd's commit of a mkdir waits unread in the server,
#   gfmd still answers reads from memory, the mkdir gets no reply until the
#   server is thawed, then completes;
# - PostgreSQL killed -9 and restarted: crash recovery, gfmd exits at its
#   next commit (or reconnects), and every acknowledged change is there;
# - a commit made to fail for one name: creating it fails, gfmd exits, and
#   after a restart that name does not exist while everything else does.
# shellcheck disable=SC2317  # helpers are called through check/poll_until
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
it_require ss timeout
GFHOST=$(gf_bin gfhost) || die "gfhost is not built"

# ---- helpers ---------------------------------------------------------------------

# gfhost list, answered (not hung) within the hang guard.
host_list_answers() {
	gf_prefix gfmd
	timeout "$GF_WAIT_SECS" "${GF_IN[@]}" "$GFHOST" -c "$STATE/admin.conf" list
}

pids_state() { # WANT PID...: every process is in state WANT (T: stopped)
	local want=$1 p
	shift
	(($#)) || return 1
	for p in "$@"; do
		[[ $(gf_proc_state "$p") == "$want" ]] || return 1
	done
}

none_stopped() {
	local p
	for p in "$@"; do
		[[ $(gf_proc_state "$p") == T ]] && return 1
	done
	return 0
}

none_exists() {
	local p
	for p in "$@"; do
		[[ -e /proc/$p ]] && return 1
	done
	return 0
}

# A new client: mount 2 unmounted and mounted again, so that what it shows
# comes from gfmd, not from a kernel or client cache of before the fault.
fresh_mount2() { gf_umount 2 && gf_mount 2; }
soft_mount1() { gf_umount 1 && gf_mount 1 -o gfmd_timeout=2; }

# ---- the exercise, on whatever cluster is up ---------------------------------------

exercise() {
	local L=$1 F=$MOUNT/fault F2=$MOUNT2/fault old mk pgpids after_ok gfsd_old
	mkdir "$F" || die "$L: cannot mkdir on the mount"
	echo one >"$F/one" || die "$L: cannot write on the mount"

	# -- logs
	check "$L: a log never marked is searched whole (gfsd node1 registered)" \
		gf_gfsd_log_wait 1 'registered with gfmd'
	gf_gfmd_log_mark
	check_fails "$L: after a mark, a line logged before it is not found" \
		gf_log_has "$STATE/gfmd.log" 'serving on'

	# -- gfsd: kill -9 and start again
	gfsd_old=$(gf_gfsd_pid 2)
	gf_gfsd_log_mark 2
	check_here "$L: kill -9 of gfsd node2" gf_gfsd_kill9 2
	check_fails "$L: gfsd node2 is gone" gf_pid_alive "$gfsd_old"
	check_here "$L: gfsd node2 starts again" gf_gfsd_start 2
	check "$L: its log (since the mark) says it registered" gf_gfsd_log_wait 2 'registered with gfmd'
	check "$L: every gfsd is up" gf_wait_hosts_up

	# -- gfmd: kill -9 and start again
	old=$(gf_pidfile_pid "$STATE/gfmd.pid")
	gf_gfsd_log_mark 1
	check_here "$L: kill -9 of gfmd" gf_gfmd_kill9
	check_fails "$L: gfmd is gone" gf_pid_alive "$old"
	check_here "$L: gfmd starts again" gf_gfmd_start || die "$L: gfmd does not restart"
	check "$L: gfsd node1 logs that gfmd is back" gf_gfsd_log_wait 1 'is back; registered'
	check "$L: every gfsd is up again" gf_wait_hosts_up

	# -- a mount: kill -9, clean up, mount again
	old=$(gf_mount_pid 1)
	check_here "$L: kill -9 of mount 1's client and clean-up" gf_mount_kill9 1
	check_fails "$L: its client is gone" gf_pid_alive "$old"
	check_fails "$L: the dead mount is gone from /proc/mounts" gf_mounted "$MOUNT"
	check_fails "$L: mountpoint(1) agrees" mountpoint -q "$MOUNT"
	check_here "$L: mount 1 mounts again" gf_mount 1 || die "$L: cannot mount again"
	expect_eq "$L: a file written before reads back through the new client" one "$(cat "$F/one" 2>&1)"

	# -- PostgreSQL frozen
	check_here "$L: freeze PostgreSQL" gf_pg_pause || die "$L: cannot freeze PostgreSQL"
	mapfile -t pgpids < <(gf_pg_pids)
	check "$L: all ${#pgpids[@]} processes of PostgreSQL are stopped" pids_state T "${pgpids[@]}"
	check_fails "$L: no request waits in PostgreSQL yet" gf_pg_stuck
	mkdir "$F/paused" 2>"$STATE/paused.err" &
	mk=$!
	check "$L: gfmd's commit of a mkdir waits unread in the frozen PostgreSQL" gf_pg_wait_stuck
	check "$L: gfmd answers gfhost list (from memory) meanwhile" host_list_answers
	# gfmd replies only after the commit, which cannot happen yet.
	check "$L: the mkdir has no reply while its commit waits" gf_pid_alive "$mk"
	check_here "$L: thaw PostgreSQL" gf_pg_resume
	check "$L: no process of PostgreSQL is stopped" none_stopped "${pgpids[@]}"
	if gf_wait_dead "$mk"; then
		expect_eq "$L: the mkdir completes after the thaw" 0 "$GF_EXIT_STATUS"
	else
		fail "$L: the mkdir is still blocked ${GF_WAIT_SECS}s after the thaw"
	fi
	check "$L: and its directory is there" test -d "$F/paused"

	# -- PostgreSQL killed -9, restarted on the same data directory
	echo two >"$F/two" || fail "$L: write before kill -9 of PostgreSQL"
	mapfile -t pgpids < <(gf_pg_pids)
	gf_pg_log_mark
	check_here "$L: kill -9 of PostgreSQL" gf_pg_kill9
	check "$L: none of its ${#pgpids[@]} processes is left" none_exists "${pgpids[@]}"
	check_here "$L: PostgreSQL starts again on the same data directory" gf_pg_start ||
		die "$L: PostgreSQL does not restart"
	check "$L: it went through crash recovery" \
		gf_pg_log_wait 'not properly shut down|automatic recovery in progress'
	# gfmd's connection died with the server; its next commit tells it.
	# Either gfmd reconnects, or it exits on the failed commit without a
	# reply (the connection lost, whether the COMMIT happened is unknown,
	# and an EIO could be a lie): the mkdir (a hard mount) then waits for
	# the restart and is done once. It never fails.
	old=$(gf_pidfile_pid "$STATE/gfmd.pid")
	gf_gfmd_log_mark
	mkdir "$F/afterpg" 2>"$STATE/afterpg.err" &
	mk=$!
	mkdir_or_gfmd_gone() { ! gf_pid_alive "$mk" || ! gf_pid_alive "$old"; }
	check_here "$L: the mkdir after the restart returns, or gfmd exits" \
		gf_poll "$GF_WAIT_SECS" mkdir_or_gfmd_gone
	after_ok=0
	local gfmd_exits=1 reaped=0
	if ! gf_pid_alive "$mk"; then
		wait "$mk"
		after_ok=$(($? == 0))
		reaped=1
		# done: gfmd reconnected and committed it; failed: gfmd
		# replied EIO to a commit whose outcome it could not know
		((after_ok)) && gfmd_exits=0
	fi
	if ((gfmd_exits)); then
		check_here "$L: gfmd exits on its failed commit" gf_gfmd_wait_exit
		check "$L: gfmd's log says its commit failed" gf_gfmd_log_wait 'COMMIT of .* failed'
		check_here "$L: gfmd starts again" gf_gfmd_start || die "$L: gfmd does not restart"
		if ((!reaped)); then
			# no reply left before the exit: the hard mount sends it
			# again to the new gfmd
			if gf_wait_dead "$mk"; then
				after_ok=$((GF_EXIT_STATUS == 0))
			else
				fail "$L: the mkdir is still blocked ${GF_WAIT_SECS}s after gfmd came back"
			fi
		fi
	else
		ok "$L: gfmd reconnected to PostgreSQL and the mkdir is done"
	fi
	((after_ok)) && ok "$L: the mkdir is done, no error (gfmd $( ((gfmd_exits)) && echo "exited without a reply" || echo reconnected))" ||
		fail "$L: the mkdir failed: $(cat "$STATE/afterpg.err")"
	check "$L: every gfsd is up after PostgreSQL's crash" gf_wait_hosts_up
	check_here "$L: a new client after PostgreSQL's crash" fresh_mount2 || die "$L: cannot remount"
	expect_eq "$L: the file acknowledged before the crash is there" two "$(cat "$F2/two" 2>&1)"
	check "$L: and the directory made while PostgreSQL was frozen" test -d "$F2/paused"
	if ((after_ok)); then
		check "$L: the mkdir that worked is there" test -d "$F2/afterpg"
	else
		check_fails "$L: the mkdir that failed left nothing" test -e "$F2/afterpg"
	fi

	# The failed commit below would make a hard mount wait for the restart
	# and then create the name after all: mount 1 is made soft (gfmd_timeout)
	# so that the application sees the failure and nothing is retried.
	check_here "$L: mount 1 again as a soft mount" soft_mount1 ||
		die "$L: cannot mount 1 as a soft mount"
	# -- a commit that fails for one name
	echo keep1 >"$F/keep1" || fail "$L: write before arming the commit failure"
	check "$L: arm a commit failure for the name 'doomed'" gf_commit_fail_on doomed
	check "$L: a commit of another name still works" sh -c "echo keep2 >'$F/keep2'"
	old=$(gf_pidfile_pid "$STATE/gfmd.pid")
	gf_gfmd_log_mark
	check_fails "$L: creating 'doomed' fails" sh -c ": >'$F/doomed'"
	if check_here "$L: gfmd exits on the failed commit" gf_gfmd_wait_exit; then
		if [[ $GF_EXIT_STATUS != 127 ]]; then
			expect_eq "$L: with status 1" 1 "$GF_EXIT_STATUS"
		fi
	fi
	check "$L: its log names the refused commit" \
		gf_gfmd_log_wait 'COMMIT of .* failed.*touches dirent doomed'
	check "$L: disarm" gf_commit_fail_off
	check_here "$L: gfmd starts again" gf_gfmd_start || die "$L: gfmd does not restart"
	check "$L: every gfsd is up after the failed commit" gf_wait_hosts_up
	check_here "$L: a new client after the failed commit" fresh_mount2 || die "$L: cannot remount"
	check_fails "$L: 'doomed' does not exist" test -e "$F2/doomed"
	expect_eq "$L: files committed before it are there" "keep1 keep2" \
		"$(cat "$F2/keep1" "$F2/keep2" 2>&1 | tr '\n' ' ' | sed 's/ $//')"
	check "$L: disarmed, 'doomed' can be created" sh -c ": >'$F2/doomed'"
}

# ---- on the local cluster ---------------------------------------------------------

it_cluster_up --gfsd 2 --mounts 2
exercise local
# Down explicitly: the test bed comes next, and the harness's hooks change.
if gf_cluster_down "$STATE"; then
	ok "local: cluster down left no process or mount behind (no frozen server either)"
else
	fail "local: cluster down was not clean"
fi

# ---- on the multi-host test bed ------------------------------------------------------

if ! command -v ip >/dev/null 2>&1 || ! command -v nsenter >/dev/null 2>&1 ||
	! ip netns list >/dev/null 2>&1; then
	[[ ${GF_IT_REQUIRE:-0} == 1 ]] && die "the test bed needs ip, nsenter and network namespaces"
	it_say "no network namespaces here: the test bed part is skipped"
	it_done
fi
# shellcheck source-path=SCRIPTDIR source=netbed.sh
. "$IT_DIR/netbed.sh"
it_say "starting a test bed of 2 hosts"
nb_up --hosts 2 || die "test bed up failed"
it_say "test bed in $STATE, prefix $NETBED_PREFIX (KEEP=1 keeps the state)"
exercise netbed

it_done
