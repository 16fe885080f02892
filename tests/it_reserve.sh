#!/bin/bash
# Placement respects free space (issue 6 point 11): new files go to the
# writer's own host only while it has more free space than space_reserve;
# below it they go to the host with the most room instead of failing with
# ENOSPC, and come home again once space is freed.
# shellcheck disable=SC2317  # helpers are called through poll_until
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
it_require cmp find
GF_SPOOL_TMPFS=1:32 GF_SPACE_RESERVE=12M it_cluster_up --gfsd 2 --mounts 1
A=$MOUNT
expect_eq "node1's spool is a 32 MiB tmpfs" "tmpfs 33554432" \
	"$(stat -f -c '%T %b %S' "$STATE/node1/spool" | awk '{ print $1, $2 * $3 }')"

# on_node K PATH: PATH's replica file is in node K's spool
on_node() {
	[[ -n $(find "$STATE/node$1/spool/data" -name "$(printf '%016x' "$(stat -c %i "$2")")-????????????????" 2>/dev/null) ]]
}
head -c 8000000 /dev/urandom >"$STATE/a"
head -c 14000000 /dev/urandom >"$STATE/b"
head -c 12000000 /dev/urandom >"$STATE/c"
check "8 MB written on node1's mount" cp "$STATE/a" "$A/a"
check "it lives on node1 (room above the reserve)" on_node 1 "$A/a"
check "14 MB more" cp "$STATE/b" "$A/b"
check "on node1 too (placed while 24 MB were free)" on_node 1 "$A/b"

# node1 now has about 10 MB free, below the 12 MB reserve; gfmd learns it
# from the next heartbeat. New files then go to node2.
n=0
probe_elsewhere() {
	n=$((n + 1))
	echo probe >"$A/probe$n" && on_node 2 "$A/probe$n"
}
if poll_until 60 probe_elsewhere; then
	ok "below the reserve, new files from node1's mount go to node2"
else
	fail "new files still land on node1 below its reserve ($(df -h "$STATE/node1/spool" | tail -n 1))"
fi
check "a 12 MB file that would not fit on node1 is written" cp "$STATE/c" "$A/c"
check "it went to node2" on_node 2 "$A/c"
check "and reads back whole" cmp "$STATE/c" "$A/c"
check "the files on node1 are intact" sh -c "cmp '$STATE/a' '$A/a' && cmp '$STATE/b' '$A/b'"

check "free node1 again" rm "$A/a" "$A/b"
n=100
probe_home() {
	n=$((n + 1))
	echo probe >"$A/probe$n" && on_node 1 "$A/probe$n"
}
if poll_until 60 probe_home; then
	ok "with room again, new files stay on the writer's host"
else
	fail "new files do not come back to node1 after space was freed"
fi

it_done
