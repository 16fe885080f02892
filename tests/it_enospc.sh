#!/bin/bash
# A full spool: node1's spool is a 16 MiB tmpfs. Writing 32 MiB there fails
# with ENOSPC (and says so), and nothing else breaks: other files stay
# readable, other nodes take new files, and space comes back after unlink.
# shellcheck disable=SC2317  # helpers are called through poll_until
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
it_require dd cmp
GF_SPOOL_TMPFS=1:16 it_cluster_up --gfsd 3 --mounts 2
expect_eq "node1's spool is a 16 MiB tmpfs" "tmpfs 16777216" \
	"$(stat -f -c '%T %b %S' "$STATE/node1/spool" | awk '{ print $1, $2 * $3 }')"

head -c 1000000 /dev/urandom >"$STATE/small"
check "a small file on node1" cp "$STATE/small" "$MOUNT/small"

out=$(dd if=/dev/zero of="$MOUNT/huge" bs=1M count=32 2>&1)
rc=$?
if ((rc != 0)); then ok "writing 32 MiB into a 16 MiB spool fails (dd exit $rc)"; else fail "dd of 32 MiB succeeded: $out"; fi
case $out in
*"No space left on device"*) ok "the error is ENOSPC" ;;
*) fail "dd did not report ENOSPC: $out" ;;
esac
# (appending to huge, whose one replica is node1's: a new file could be
# placed on another host once node1's heartbeat says it is full)
expect_errno "write(2) itself reports ENOSPC (python)" ENOSPC '
fd = os.open(M + "/huge", os.O_WRONLY | os.O_APPEND)
try:
    block = b"\0" * (1 << 20)
    for _ in range(64):
        os.write(fd, block)
    os.fsync(fd)
finally:
    os.close(fd)'

check "the earlier file on the full node is intact" cmp "$STATE/small" "$MOUNT/small"
check "the mount still lists the directory" ls -l "$MOUNT"
check "metadata operations still work on the full node" sh -c "mkdir '$MOUNT/dir' && mv '$MOUNT/small' '$MOUNT/dir/small' && chmod 600 '$MOUNT/dir/small'"
check "another client (node2) writes a new file" cp "$STATE/small" "$MOUNT2/other"
check "and reads it back" cmp "$STATE/small" "$MOUNT2/other"
check "node1's client reads node2's file" cmp "$STATE/small" "$MOUNT/other"
check "every daemon is still running" gf_wait_hosts_up

check "unlink the failed file" rm -f "$MOUNT/huge"
try_write() { head -c 4000000 /dev/urandom >"$STATE/w" && cp "$STATE/w" "$MOUNT/again" && cmp "$STATE/w" "$MOUNT/again"; }
if poll_until "$GF_WAIT_SECS" try_write; then
	ok "after unlink the space comes back: a 4 MB file fits on node1 again"
else
	fail "no 4 MB file fits on node1 ${GF_WAIT_SECS}s after the unlink (spool: $(df -h "$STATE/node1/spool" | tail -n 1))"
fi
check "the small file is still intact" cmp "$STATE/small" "$MOUNT/dir/small"

it_done
