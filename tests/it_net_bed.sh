#!/bin/bash
# The multi-host test bed itself (tests/netbed.sh): hosts are network
# namespaces whose addresses only exist inside the test bed; two test beds
# run side by side; link shaping is put on both ends of a host's link;
# `exec` runs a command on a host; `down` leaves no namespace, link, mount,
# process or subnet reservation behind.
# shellcheck disable=SC2154  # MOUNT_nodeK, ADDR_nodeK, ... come from STATE/env
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=netbed.sh
. "$IT_DIR/netbed.sh"
it_require ip tc nsenter
ip netns list >/dev/null 2>&1 || it_unmet "network namespaces are not available"
NETBED=$IT_DIR/netbed.sh
LINKS_BEFORE=$(ip -o link show | awk -F': ' '{ print $2 }' | sort)

it_say "starting test bed A: 2 hosts, links shaped to 100mbit"
nb_up --hosts 2 --rate 100mbit || die "test bed A up failed"
A_STATE=$STATE A_PREFIX=$NETBED_PREFIX A_NET=$NETBED_NET
it_say "A in $A_STATE, prefix $A_PREFIX"

expect_eq "A's namespaces: bridge, meta, node1, node2" "${A_PREFIX}br ${A_PREFIX}meta ${A_PREFIX}node1 ${A_PREFIX}node2" \
	"$(ip netns list | awk '{ print $1 }' | grep "^$A_PREFIX" | sort | tr '\n' ' ' | sed 's/ $//')"
expect_eq "the machine's own namespace got no link" "$LINKS_BEFORE" "$(ip -o link show | awk -F': ' '{ print $2 }' | sort)"
check_fails "nor an address of the test bed" sh -c "ip -4 -o addr show | grep -F ' $A_NET.'"
expect_eq "exec runs on the host (node2's address)" "$ADDR_node2/24" \
	"$(nb_exec 2 ip -4 -o addr show dev eth0 | awk '{ print $4 }')"
expect_eq "exec meta runs on the metadata host" "$META_ADDR/24" \
	"$(nb_exec meta ip -4 -o addr show dev eth0 | awk '{ print $4 }')"
check "gfmd listens on the metadata host's address" sh -c \
	"nsenter --net=/run/netns/$NS_META ss -Hltn | grep -qF '$META_ADDR:$GFMD_PORT'"
check "PostgreSQL listens on no TCP port (its UNIX socket only)" sh -c \
	"! nsenter --net=/run/netns/$NS_META ss -Hltn | grep -F ':$PGPORT '"
check "a mount made in node1's namespace is visible to the machine" mountpoint -q "$MOUNT_node1"
check "node1's mount talks to gfmd from node1's address" sh -c \
	"nsenter --net=/run/netns/$NS_node1 ss -Htn | grep -F '$ADDR_node1:' | grep -qF '$META_ADDR:$GFMD_PORT'"
tbf_rate() { tc -n "$1" qdisc show dev "$2" | awk '$2 == "tbf" { for (i = 1; i < NF; i++) if ($i == "rate") print $(i + 1) }'; }
expect_eq "--rate: node1 sends through a 100mbit token bucket" 100Mbit "$(tbf_rate "${A_PREFIX}node1" eth0)"
expect_eq "--rate: and receives through one (its bridge port)" 100Mbit "$(tbf_rate "${A_PREFIX}br" node1)"
check "shape 2 1gbit" "$NETBED" shape --state "$A_STATE" 2 1gbit
expect_eq "node2's link is now 1gbit one way" 1Gbit "$(tbf_rate "${A_PREFIX}node2" eth0)"
expect_eq "and the other" 1Gbit "$(tbf_rate "${A_PREFIX}br" node2)"
check "shape 2 off" "$NETBED" shape --state "$A_STATE" 2 off
expect_eq "node2's link is unshaped" "" "$(tbf_rate "${A_PREFIX}node2" eth0)$(tbf_rate "${A_PREFIX}br" node2)"
check_fails "a bad rate is refused" "$NETBED" shape --state "$A_STATE" 2 fast

# ---- a second test bed beside the first -----------------------------------------------
B_STATE=$(mktemp -d /tmp/gfarmfs-netbed-b.XXXXXXXX) || die "mktemp"
rmdir "$B_STATE"
IT_CLEANUP+=("'$NETBED' down --state '$B_STATE'")
it_say "starting test bed B (1 host) in $B_STATE with the command line"
"$NETBED" up --hosts 1 --state "$B_STATE" >"$STATE/b.env" 2>"$STATE/b.err" || die "test bed B up failed: $(cat "$STATE/b.err")"
B_PREFIX=$(gf_env_value "$B_STATE" NETBED_PREFIX) B_NET=$(gf_env_value "$B_STATE" NETBED_NET)
B_MOUNT=$(gf_env_value "$B_STATE" MOUNT_node1)
check "up printed the assignments" grep -qx "MOUNT_node1=$B_MOUNT" "$STATE/b.env"
if [[ -n $B_PREFIX && $B_PREFIX != "$A_PREFIX" && $B_NET != "$A_NET" ]]; then
	ok "B has its own prefix ($B_PREFIX) and subnet ($B_NET.0/24)"
else
	fail "B's prefix/subnet '$B_PREFIX' '$B_NET' clash with A's '$A_PREFIX' '$A_NET'"
fi
echo in-a >"$MOUNT_node1/which" || fail "write on A"
echo in-b >"$B_MOUNT/which" || fail "write on B"
expect_eq "A's file system is its own" in-a "$(cat "$MOUNT_node2/which" 2>&1)"
expect_eq "B's file system is its own" in-b "$(cat "$B_MOUNT/which" 2>&1)"
# B's hosts have no route to A's subnet: the connect fails by itself (exit
# 1); 124 would be a hang cut short by the guard, 0 a connection.
rc=0
"$NETBED" exec --state "$B_STATE" 1 timeout "$GF_WAIT_SECS" \
	bash -c "exec 3<>/dev/tcp/$META_ADDR/$GFMD_PORT" 2>/dev/null || rc=$?
if ((rc != 0 && rc != 124)); then
	ok "B's host cannot reach A's gfmd"
else
	fail "B's host reaching A's gfmd: exit $rc (0: connected, 124: hung)"
fi
check "status describes B" sh -c "'$NETBED' status --state '$B_STATE' | grep -q '${B_PREFIX}node1'"
check "down B" "$NETBED" down --state "$B_STATE"
expect_eq "no namespace of B is left" "" "$(ip netns list | grep "^$B_PREFIX")"
expect_eq "no mount of B is left" "" "$(gf_mounts_under "$B_STATE")"
expect_eq "no process of B is left" "" "$(gf_stray_pids "$B_STATE")"
check_fails "B's subnet reservation is given back" test -e "$NB_RESERVE_DIR/${B_PREFIX%-}"
check_fails "B's state directory is gone" test -e "$B_STATE"
expect_eq "A still works" in-a "$(cat "$MOUNT_node1/which" 2>&1)"

# ---- A goes down the way the tests do it, and leaves nothing ----------------------------------
check "down A" gf_cluster_down "$A_STATE"
expect_eq "no namespace of A is left" "" "$(ip netns list | grep "^$A_PREFIX")"
expect_eq "no process of A is left" "" "$(gf_stray_pids "$A_STATE")"
expect_eq "no mount of A is left" "" "$(gf_mounts_under "$A_STATE")"
check_fails "A's subnet reservation is given back" test -e "$NB_RESERVE_DIR/${A_PREFIX%-}"
expect_eq "no link left in the machine's namespace" "$LINKS_BEFORE" "$(ip -o link show | awk -F': ' '{ print $2 }' | sort)"

it_done
