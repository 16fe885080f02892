#!/bin/bash
# fcntl and flock locks are cluster-wide (gfmd/locks.h): the checks in
# tests/locks.py run first on local ext4 (the reference), then between two
# mounts and between two processes of one mount. Then: the locks of a mount
# that dies are released, and SQLite with a writer on each of two mounts
# keeps every committed row.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
it_require "$PY"
LOCKS=$IT_DIR/locks.py
[[ -f $LOCKS ]] || LOCKS=$(dirname "$0")/locks.py
it_cluster_up --gfsd 2 --mounts 2
A=$MOUNT B=$MOUNT2

# scenario NAME DIR_A DIR_B LABEL: each "ok"/"not ok" line of locks.py is a check.
scenario() {
	local line out rc
	out=$(cd / && GF_WAIT_SECS=$GF_WAIT_SECS "$PY" "$LOCKS" "$1" "$2" "$3" 2>&1)
	rc=$?
	while IFS= read -r line; do
		case $line in
		"ok "*) ok "$4: ${line#ok }" ;;
		"not ok "*) fail "$4: ${line#not ok }" ;;
		*) [[ -n $line ]] && it_say "$4: $line" ;;
		esac
	done <<<"$out"
	((rc == 0)) || fail "$4: locks.py $1 exited with $rc"
}

LOCAL=$STATE/local-locks
mkdir -p "$LOCAL" "$A/l2" "$A/l1"
for s in ranges wait interrupt close flock deadlock; do
	scenario "$s" "$LOCAL" "$LOCAL" "ext4"
	scenario "$s" "$A/l2" "$B/l2" "two mounts"
	scenario "$s" "$A/l1" "$A/l1" "one mount"
done

# ---- a mount that dies releases its locks ---------------------------------------------
# A process on mount 2 holds a write lock and an flock lock, then mount 2's
# client is killed: mount 1 can take both.
mkfifo "$STATE/hold"
(cd / && exec "$PY" -c '
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
fcntl.lockf(fd, fcntl.LOCK_EX)
fd2 = os.open(sys.argv[2], os.O_RDWR | os.O_CREAT, 0o644)
fcntl.flock(fd2, fcntl.LOCK_EX)
with open(sys.argv[3], "w") as f:
    f.write("held\n")
while True:
    os.pause() if hasattr(os, "pause") else __import__("signal").pause()
' "$B/dies-posix" "$B/dies-flock" "$STATE/hold") &
HOLDER=$!
IT_CLEANUP+=("kill -9 $HOLDER")
read -r held <"$STATE/hold"
expect_eq "a process on mount 2 holds the locks" held "$held"
trylock() {
	(cd / && "$PY" -c '
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
fd2 = os.open(sys.argv[2], os.O_RDWR)
fcntl.flock(fd2, fcntl.LOCK_EX | fcntl.LOCK_NB)
' "$A/dies-posix" "$A/dies-flock") 2>/dev/null
}
check_fails "mount 1 cannot take them while mount 2 lives" trylock
gf_mount_kill9 2 || fail "cannot kill mount 2"
if poll_until "$GF_WAIT_SECS" trylock; then
	ok "mount 2 killed: its locks are released, mount 1 takes them"
else
	fail "mount 2 killed: its locks are still held after $GF_WAIT_SECS s"
fi
kill -9 "$HOLDER" 2>/dev/null
wait "$HOLDER" 2>/dev/null
it_done
