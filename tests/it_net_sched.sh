#!/bin/bash
# gfsched and gfrun on the multi-host test bed (tests/netbed.sh, 4 hosts):
# - hosts are ranked by bytes held, then load, then free space: `gfsched -w`
#   lists every up host, ordered by (load, free space); among equally loaded
#   hosts the one with the least free space (node4, whose spool is a 64 MiB
#   tmpfs) comes last; the Slurm form is a --nodelist;
# - a host whose gfsd is down is skipped by gfsched and gfrun, and is back
#   once its gfsd is.
# - gfsched prefers idle hosts: the test bed's gfsd measure load as the
#   runnable tasks of their own namespace (load_source = netns; the system
#   load average is one figure for all of them), so CPU loops started on
#   node1 make it rank last.
# shellcheck disable=SC2317  # helpers are called through poll_until
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=netbed.sh
. "$IT_DIR/netbed.sh"
it_require ip tc nsenter
ip netns list >/dev/null 2>&1 || it_unmet "network namespaces are not available"
GFSCHED=$(gf_bin gfsched) || die "gfsched is not built"
GFRUN=$(gf_bin gfrun) || die "gfrun is not built"

it_say "starting a test bed of 4 hosts (node4's spool: a 64 MiB tmpfs)"
export GF_SPOOL_TMPFS=4:64 GF_HEARTBEAT_MS=300 GF_HOST_DOWN_MS=1500
nb_up --hosts 4 || die "test bed up failed"
it_say "test bed in $STATE, prefix $NETBED_PREFIX (KEEP=1 keeps the state)"

mnt() { local v=MOUNT_node$1; echo "${!v}"; }
conf() { local v=CONFIG_node$1; echo "${!v}"; }
addr() { local v=ADDR_node$1; echo "${!v}"; }
on() { local k=$1; shift; (cd "$(mnt "$k")" && nb_exec "$k" "$@"); }
sched() { local k=$1; shift; on "$k" "$GFSCHED" -c "$(conf "$k")" "$@"; }

# The JSON of gfsched -w is ordered by (load ascending, free descending);
# with "equal" it also requires all loads to be equal.
json_ordered() {
	sched 1 -w --format=json 2>/dev/null | "$PY" -c '
import json, sys
h = json.load(sys.stdin)
step = lambda load: int((load * 1000 + 125) // 250)  # gfsched compares loads in steps of 0.25
keys = [(step(x["load"]), -x["free"]) for x in h]
if sys.argv[1] == "equal" and len({step(x["load"]) for x in h}) != 1:
    sys.exit(1)
sys.exit(0 if keys == sorted(keys) and len(h) == int(sys.argv[2]) else 1)' "$@"
}

# ---- ranking ------------------------------------------------------------------------
out=$(sched 1 -w 2>&1)
expect_eq "gfsched -w lists the 4 up hosts" "node1 node2 node3 node4" "$(sort <<<"$out" | tr '\n' ' ' | sed 's/ $//')"
if json_ordered any 4; then
	ok "gfsched -w orders hosts by load, then free space (as reported by their gfsd)"
else
	fail "gfsched -w --format=json is not ordered by (load, -free): $(sched 1 -w --format=json 2>&1)"
fi
# Loads are sampled by each gfsd at its own heartbeat: wait for a moment in
# which all of them reported the same value, then free space decides.
if poll_until "$GF_WAIT_SECS" json_ordered equal 4; then
	expect_eq "among equally loaded hosts, node4 (least free space) comes last" node4 "$(sched 1 -w | tail -n 1)"
else
	fail "the hosts never reported equal loads (${GF_WAIT_SECS}s): $(sched 1 -w --format=json 2>&1)"
fi
expect_eq "gfsched -w -n 2 prints two hosts" 2 "$(sched 1 -w -n 2 | wc -l)"

# Prefers idle hosts: gfsd here measures load as the runnable tasks of its own
# namespace (load_source = netns), so two busy loops on node1 make node1 the
# busiest host, and gfsched -w must then put it last.
busy_pids=()
for _ in 1 2; do
	nb_exec 1 /bin/sh -c 'while :; do :; done' &
	busy_pids+=($!)
done
node1_last() { [[ $(sched 2 -w | tail -n 1) == node1 ]]; }
if poll_until "$GF_WAIT_SECS" node1_last; then
	ok "a busy host (two CPU loops on node1) goes to the end of gfsched -w"
else
	fail "node1 never ranked last while busy: $(sched 2 -w --format=json 2>&1)"
fi
kill "${busy_pids[@]}" 2>/dev/null
wait "${busy_pids[@]}" 2>/dev/null

head -c 3000000 /dev/urandom >"$(mnt 1)/f1" || die "cannot write f1 on node1"
head -c 5000000 /dev/urandom >"$(mnt 2)/f2" || die "cannot write f2 on node2"
head -c 1000000 /dev/urandom >"$(mnt 3)/f3" || die "cannot write f3 on node3"
expect_eq "gfsched f1 f2 f3: the host holding most bytes first" "node2 node1 node3" "$(sched 4 f1 f2 f3 | tr '\n' ' ' | sed 's/ $//')"
expect_eq "--format=slurm is a --nodelist" "node2,node1,node3" "$(sched 4 --format=slurm f1 f2 f3)"
expect_eq "-n 1 gives the best host only" node2 "$(sched 4 -n 1 f1 f2 f3)"
expect_eq "gfarm:/ paths need no mount" node1 "$(sched 4 gfarm:/f1)"
check_fails "gfsched of a missing file fails" sched 4 nosuchfile

# ---- a host whose gfsd is down ------------------------------------------------------
check "stop node2's gfsd" gf_gfsd_stop 2
not_listed() { ! sched 1 -w | grep -qx node2; }
t0=$(now)
if poll_until "$GF_WAIT_SECS" not_listed; then
	ok "gfsched -w drops node2 once gfmd sees it down (after $(since "$t0") s)"
else
	fail "node2 still listed by gfsched -w ${GF_WAIT_SECS}s after its gfsd stopped"
fi
expect_eq "the other three are still listed" "node1 node3 node4" "$(sched 1 -w | sort | tr '\n' ' ' | sed 's/ $//')"
out=$(sched 4 f1 f2 f3 2>"$STATE/sched.err")
rc=$?
expect_eq "gfsched f1 f2 f3 skips node2" "node1 node3" "$(tr '\n' ' ' <<<"$out" | sed 's/ $//')"
expect_eq "and exits 1, f2 having no up replica" 1 "$rc"
if grep -q f2 "$STATE/sched.err"; then ok "and says so about f2"; else fail "stderr does not name f2: $(cat "$STATE/sched.err")"; fi
expect_eq "gfsched f1 alone is unaffected" node1 "$(sched 4 f1 2>&1)"
on 4 "$GFRUN" -c "$(conf 4)" -f f2 -- touch ran-for-f2 >/dev/null 2>&1
expect_eq "gfrun -f f2 exits 1 while f2's only host is down" 1 "$?"
check "and ran nothing" test ! -e "$(mnt 4)/ran-for-f2"
out=$(on 4 "$GFRUN" -c "$(conf 4)" -- ip -4 -o addr show dev eth0 2>&1)
if [[ -n $out && $out != *" $(addr 2)/"* ]]; then
	ok "gfrun without inputs runs on an up host, not on node2"
else
	fail "gfrun without inputs: $out"
fi
out=$(on 4 "$GFRUN" -c "$(conf 4)" -f f1 -- ip -4 -o addr show dev eth0 2>&1)
if [[ $out == *" $(addr 1)/"* ]]; then ok "gfrun -f f1 still runs on node1"; else fail "gfrun -f f1: $out"; fi

check "start node2's gfsd again" gf_gfsd_start 2
gf_wait_hosts_up || fail "node2 did not come back up"
back() { [[ $(sched 4 f2 2>/dev/null) == node2 ]]; }
if poll_until "$GF_WAIT_SECS" back; then ok "node2 is back in gfsched f2"; else fail "gfsched f2 after restart: $(sched 4 f2 2>&1)"; fi
expect_eq "and gfsched -w lists it again" 4 "$(sched 1 -w | wc -l)"
out=$(on 3 "$GFRUN" -c "$(conf 3)" -f f2 -- sh -c 'ip -4 -o addr show dev eth0; sha256sum f2' 2>&1)
if [[ $out == *" $(addr 2)/"* && $out == *"$(sha256sum <"$(mnt 3)/f2" | cut -d' ' -f1)  f2"* ]]; then
	ok "gfrun -f f2 runs on node2 again and reads f2 there"
else
	fail "gfrun -f f2 after restart: $out"
fi

it_done
