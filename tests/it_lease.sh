#!/bin/bash
# Directory name leases (gfmd/leases.h, fuse/dirlease.h):
#   a mount that found two names missing in a directory gets its lease, and
#     then answers "no such file" there itself (no gfmd call);
#   a name another mount adds there (create, mkdir, mknod, symlink, link,
#     rename) is seen by the lease holder at once, through a name it never
#     looked up: gfmd took the lease back before adding it;
#   the holder's own creates keep its lease and are seen by itself;
#   a holder that is stopped (SIGSTOP) holds another mount's create back
#     for one lease term at most, and gfmd logs that it waited it out;
#   a holder killed -9 likewise; and a gfmd killed -9 ends every lease (the
#     poll fails), so the restarted gfmd owes nothing to them;
#   -o noleases asks for none, and a mount of a gfmd with lease_ms = 0
#     takes none;
#   hostile peers: a malformed poll closes only its connection, a client
#     that does not poll gets no lease, a poller that never reads what gfmd
#     answers holds up no mount.
# The counters are the mount's own (user.gfarmfs.stats: lease_*).
# shellcheck disable=SC2317  # helpers are called through gf_poll
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
it_require getfattr python3
it_cluster_up --gfsd 1 --mounts 2
A=$MOUNT B=$MOUNT2

stat_of() { # MOUNT KEY
	getfattr --absolute-names --only-values -n user.gfarmfs.stats "$1" |
		awk -v k="$2" '$1 == k { print $2 }'
}
PROBE=0
# mount A looks up names that do not exist in DIR until it holds a lease
probe_once() { # DIR
	PROBE=$((PROBE + 1))
	stat "$1/missing-$PROBE" >/dev/null 2>&1
	(($(stat_of "$A" lease_held) >= 1))
}
take_lease() { gf_poll "$GF_WAIT_SECS" probe_once "$1"; }
# a lease granted or renewed from now on: a whole term left (a lease taken
# earlier may run out at gfmd before the next step, leaving nothing to recall)
fresh_once() { # DIR COUNT
	probe_once "$1" &&
		(($(stat_of "$A" lease_granted) + $(stat_of "$A" lease_renewed) > $2))
}
fresh_lease() {
	gf_poll "$GF_WAIT_SECS" fresh_once "$1" \
		$(($(stat_of "$A" lease_granted) + $(stat_of "$A" lease_renewed)))
}

mkdir "$A/v" || die "cannot mkdir v"

# ---- granted, and used --------------------------------------------------------------
check "mount 1 takes the lease of a directory where names are missing" take_lease "$A/v"
calls=$(stat_of "$A" gfmd_calls)
answered=$(stat_of "$A" lease_answered)
check_fails "a name that is not there: no such file" stat "$A/v/nothere"
expect_eq "answered by the mount (lease_answered grew by one)" $((answered + 1)) \
	"$(stat_of "$A" lease_answered)"
expect_eq "without a gfmd call" "$calls" "$(stat_of "$A" gfmd_calls)"

# ---- others' names are seen at once --------------------------------------------------
seen_after() { # WHAT NAME COMMAND...: with A holding the lease, B adds NAME
	local what=$1 name=$2
	shift 2
	take_lease "$A/v" || { fail "$what: mount 1 holds no lease"; return; }
	recalled=$(stat_of "$A" lease_recalled)
	"$@" || { fail "$what on mount 2 failed"; return; }
	check "$what on mount 2 is seen on mount 1 at once" test -e "$A/v/$name" -o -L "$A/v/$name"
	# (gfmd took the lease back: the recall reached the holder)
	check "and mount 1 gave its lease back" \
		test "$(stat_of "$A" lease_recalled)" -gt "$recalled"
}
seen_after "a create" c1 touch "$B/v/c1"
seen_after "a mkdir" d1 mkdir "$B/v/d1"
seen_after "a mknod (FIFO)" p1 mkfifo "$B/v/p1"
seen_after "a symlink" s1 ln -s c1 "$B/v/s1"
touch "$B/other" || die "cannot create other"
seen_after "a hard link" l1 ln "$B/other" "$B/v/l1"
touch "$B/moved" || die "cannot create moved"
seen_after "a rename into the directory" r1 mv "$B/moved" "$B/v/r1"

# ---- the holder's own names ---------------------------------------------------------
check "mount 1 takes the lease again" take_lease "$A/v"
recalled=$(stat_of "$A" lease_recalled)
check "mount 1 creates a file there" touch "$A/v/mine"
check "and sees it" test -e "$A/v/mine"
check "and a directory" mkdir "$A/v/minedir"
check "and sees it" test -d "$A/v/minedir"
expect_eq "its own names did not take its lease back" "$recalled" \
	"$(stat_of "$A" lease_recalled)"
check "mount 2 sees them too" test -e "$B/v/mine" -a -d "$B/v/minedir"

# ---- a holder that does not answer --------------------------------------------------
check "mount 1 takes the lease again (or renews it)" fresh_lease "$A/v"
apid=$(gf_mount_pid 1)
gf_gfmd_log_mark
kill -STOP "$apid" || die "cannot stop mount 1"
IT_CLEANUP+=("kill -CONT $apid")
# (a group stop completes when each thread gets to it: the poll thread may
# still answer a recall just after kill returned)
all_stopped() {
	local t
	for t in /proc/"$apid"/task/*; do
		[[ $(gf_proc_state "${t##*/}") == [Tt] ]] || return 1
	done
}
check "every thread of mount 1 is stopped" gf_poll "$GF_WAIT_SECS" all_stopped
touch "$B/v/while-stopped" &
tp=$!
if gf_wait_dead "$tp"; then
	expect_eq "mount 2's create completes while mount 1 is stopped" 0 "$GF_EXIT_STATUS"
else
	fail "mount 2's create is still waiting ${GF_WAIT_SECS}s later"
fi
check "gfmd waited out the stopped holder's lease" \
	gf_gfmd_log_wait "did not give back its lease on directory"
kill -CONT "$apid"
check "mount 1, running again, sees the name" test -e "$A/v/while-stopped"

# ---- gfmd killed -9 -----------------------------------------------------------------
check "mount 1 takes the lease again" take_lease "$A/v"
failures=$(stat_of "$A" lease_poll_failures)
check_here "kill -9 of gfmd" gf_gfmd_kill9
polled_out() { (($(stat_of "$A" lease_poll_failures) > failures)); }
check "mount 1's poll fails with it" gf_poll "$GF_WAIT_SECS" polled_out
expect_eq "and mount 1 holds no lease any more" 0 "$(stat_of "$A" lease_held)"
check_here "gfmd starts again" gf_gfmd_start || die "gfmd does not restart"
check "every gfsd is up" gf_wait_hosts_up
check "mount 2 creates a name after the restart" touch "$B/v/after-restart"
check "mount 1 sees it" test -e "$A/v/after-restart"
check "mount 1 takes a lease from the new gfmd" take_lease "$A/v"
check "and a name mount 2 adds then is seen at once" \
	sh -c "touch '$B/v/after-restart2' && test -e '$A/v/after-restart2'"

# ---- a holder killed -9 -------------------------------------------------------------
check "mount 1 takes the lease again (or renews it)" fresh_lease "$A/v"
gf_gfmd_log_mark
check_here "kill -9 of mount 1" gf_mount_kill9 1
check "mount 2's create completes" touch "$B/v/after-kill"
check "gfmd waited out the dead holder's lease" \
	gf_gfmd_log_wait "did not give back its lease on directory"
check_here "mount 1 mounts again" gf_mount 1 || die "cannot mount 1 again"
check "and sees the name" test -e "$A/v/after-kill"

# ---- a mount that asks for none ------------------------------------------------------
gf_umount 1
check_here "mount 1 mounts again with -o noleases" gf_mount 1 -o noleases ||
	die "cannot mount 1 again"
for i in 1 2 3 4; do stat "$A/v/none-$i" >/dev/null 2>&1; done
expect_eq "it asked for no lease" "0 0" \
	"$(stat_of "$A" lease_granted) $(stat_of "$A" lease_refused)"
expect_eq "and polls nothing" 0 "$(stat_of "$A" lease_polls)"
gf_umount 1
cp "$STATE/client1.conf" "$STATE/client1.conf.orig"
echo "leases = no" >>"$STATE/client1.conf"
check_here "mount 1 mounts again with leases = no in its configuration" gf_mount 1 ||
	die "cannot mount 1 again"
for i in 1 2 3 4; do stat "$A/v/none2-$i" >/dev/null 2>&1; done
expect_eq "it asked for no lease either" "0 0" \
	"$(stat_of "$A" lease_granted) $(stat_of "$A" lease_polls)"
gf_umount 1
mv "$STATE/client1.conf.orig" "$STATE/client1.conf"
check_here "mount 1 mounts again" gf_mount 1 || die "cannot mount 1 again"

# ---- hostile peers ------------------------------------------------------------------
peer() { "$PY" "$IT_DIR/peer.py" --key "$KEY" --statuses --hold 0 "$@" \
	"tcp:127.0.0.1:$GFMD_PORT" 2>&1; }
out=$(peer --count 1 --op lease-poll-long)
grep -q "closed by server" <<<"$out" && ok "a poll with too many acks closes its connection" ||
	fail "lease-poll-long: $out"
out=$(peer --count 3 --op lease-poll)
[[ $(grep -c "status 0" <<<"$out") == 3 ]] &&
	ok "polls are answered (each by the next, the last within a second)" ||
	fail "lease-poll: $out"
out=$(peer --count 1 --op dir-lease)
grep -q "status -16" <<<"$out" && ok "no lease for a client that is not polling (EBUSY)" ||
	fail "dir-lease: $out"
# a peer that polls and never reads what gfmd answers
peer --count 100000 --op lease-poll --never-read --hold 600 >"$STATE/peer.out" &
pp=$!
IT_CLEANUP+=("kill $pp")
stalled() { grep -q "^stalled after" "$STATE/peer.out"; }
check "a peer sends polls and never reads gfmd's answers" gf_poll "$GF_WAIT_SECS" stalled
check "gfmd serves the mounts meanwhile" \
	sh -c "touch '$B/v/after-peer' && test -e '$A/v/after-peer'"
check "mount 1 still takes leases" fresh_lease "$A/v"
check "and a name mount 2 adds is seen at once" \
	sh -c "touch '$B/v/after-peer2' && test -e '$A/v/after-peer2'"
kill "$pp" 2>/dev/null

# ---- a gfmd without leases ----------------------------------------------------------
echo "lease_ms = 0" >>"$STATE/gfmd.conf"
check_here "gfmd restarted with lease_ms = 0" eval 'gf_gfmd_stop && gf_gfmd_start' ||
	die "gfmd does not restart"
check "every gfsd is up" gf_wait_hosts_up
granted=$(stat_of "$A" lease_granted)
refused() { (($(stat_of "$A" lease_poll_failures) > 0)); }
check "mount 1's poll is refused" gf_poll "$GF_WAIT_SECS" refused
for i in 1 2 3 4; do stat "$A/v/off-$i" >/dev/null 2>&1; done
expect_eq "and it takes no lease" "$granted" "$(stat_of "$A" lease_granted)"
check "names still come and go" sh -c "touch '$B/v/off' && test -e '$A/v/off' && rm '$A/v/off'"

it_done
