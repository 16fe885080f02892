#!/bin/bash
# FUSE over io_uring (fuse/uring.h): with the kernel offering it (Linux
# 6.14+, the fuse module's enable_uring set: the harness sets it), the
# mount's requests come over a ring per CPU, served by threads pinned to
# that CPU. Held against /dev/fuse on the same cluster (mount 2, -o
# nouring): every kind of request gives the same answers from either CPU,
# the large requests and replies included. Lock waiters, more of them on
# one CPU than threads serve it, do not take the threads the unlock needs
# (before, they did, over /dev/fuse too: 10 threads at most). A kill -9 of
# the mount with requests in flight ends them with an error, not a hang,
# and a new mount takes to the rings again; an unmount ends the ring
# threads (gf_umount: the mount exits with 0).
# shellcheck disable=SC2317  # helpers are called through poll_until
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
it_require getfattr taskset flock
it_cluster_up --gfsd 1 --mounts 2
A=$MOUNT B=$MOUNT2
OPS=$(dirname "$0")/uring_ops.py

for v in maybe 2 ''; do
	mount_refuses uring "$v" "uring '$v': expected yes or no"
done
for v in 0 65 abc -1 8x; do
	mount_refuses uring_threads "$v" "uring_threads: not a number from 1 to 64"
done

# (the rings come a moment after INIT, from the threads that register
# them: what INIT agreed is known at once, the rings are polled for)
[[ $(mount_stat "$A" uring_agreed) == 1 ]] ||
	it_unmet "no FUSE over io_uring here (Linux 6.14 or later, /sys/module/fuse/parameters/enable_uring Y)"
rings_on() { [[ $(mount_stat "$1" uring) == 1 ]]; }
poll_until 30 rings_on "$A" && ok "mount 1 serves its requests over io_uring" ||
	die "mount 1 agreed on io_uring with the kernel, but its rings did not start (see its log)"
# the keys are read from CONFIG: 2 threads a CPU
{ cat "$STATE/client1.conf"; echo "uring_threads = 2"; } >"$STATE/two.conf"
mkdir -p "$STATE/mnt-two"
"$(gf_bin mount.gfarmfs)" "$STATE/two.conf" "$STATE/mnt-two" >"$STATE/mount-two.out" 2>&1 ||
	fail "a mount with uring_threads = 2 did not start: $(cat "$STATE/mount-two.out")"
IT_CLEANUP+=("fusermount3 -uz '$STATE/mnt-two'")
if poll_until 30 rings_on "$STATE/mnt-two"; then
	expect_eq "uring_threads = 2 in CONFIG: 2 ring threads a CPU" $((2 * $(nproc))) \
		"$(mount_stat "$STATE/mnt-two" uring_threads)"
else
	fail "the mount with uring_threads = 2 did not start its rings"
fi
fusermount3 -u "$STATE/mnt-two"
check "mount 2 again, with -o nouring" gf_umount 2
check "mount 2 mounted with -o nouring" gf_mount 2 -o nouring
expect_eq "mount 2: no rings agreed" 0 "$(mount_stat "$B" uring_agreed)"
expect_eq "mount 2: no rings" 0 "$(mount_stat "$B" uring)"
NCPU=$(nproc)
threads=$(mount_stat "$A" uring_threads)
((threads >= 8 * NCPU)) && ok "mount 1: $threads ring threads for $NCPU CPUs" ||
	fail "mount 1: $threads ring threads for $NCPU CPUs (8 a CPU by default)"

# ---- every kind of request, from each CPU, against /dev/fuse's answers ------
b0=$(mount_stat "$B" fuse_requests)
"$PY" "$OPS" "$B/ref" >"$STATE/ops.ref" 2>&1 || fail "the requests on mount 2 failed: $(tail -3 "$STATE/ops.ref")"
((b0 < $(mount_stat "$B" fuse_requests))) && expect_eq "mount 2 still off the rings" 0 "$(mount_stat "$B" uring_requests)"
want=$("$PY" -c 'import hashlib; b = bytes((i * 7 + 3) % 251 for i in range(1 << 20))
print(hashlib.sha256(b"".join(b[k:] + b[:k] for k in range(3))).hexdigest())')
grep -qx "big read with O_DIRECT, sha256: $want" "$STATE/ops.ref" &&
	ok "the reference run read back what it wrote" || fail "the reference run read back other bytes"
for ((c = 0; c < NCPU && c < 4; c++)); do
	u0=$(mount_stat "$A" uring_requests)
	taskset -c "$c" "$PY" "$OPS" "$A/cpu$c" >"$STATE/ops.$c" 2>&1 ||
		fail "the requests from CPU $c failed: $(tail -3 "$STATE/ops.$c")"
	if diff "$STATE/ops.ref" "$STATE/ops.$c" >"$STATE/ops.diff.$c"; then
		ok "from CPU $c over io_uring: the same $(wc -l <"$STATE/ops.ref") answers as over /dev/fuse"
	else
		fail "from CPU $c over io_uring, answers differ from /dev/fuse's: $(head -5 "$STATE/ops.diff.$c")"
	fi
	u1=$(mount_stat "$A" uring_requests)
	((u1 - u0 > 3000)) && ok "CPU $c: $((u1 - u0)) requests came over the rings" ||
		fail "CPU $c: only $((u1 - u0)) requests came over the rings"
done
cmp -s "$A/cpu0/big" "$B/ref/big" && ok "the 1 MiB appends made the same file on both mounts" ||
	fail "the 1 MiB appends differ between the mounts"

# ---- lock waiters on one CPU, more than the threads that serve it ----------
# The holder takes the lock, then N waiters on the same CPU queue behind
# it; once every one waits, the holder unlocks (a request from that CPU,
# too) and each waiter in turn takes, logs, releases.
N=12 # > 8 ring threads a CPU, > libfuse's 10
lock_round() { # MOUNT LABEL FILE (one file system: a file each)
	local m=$1 label=$2 lf=$1/$3 w0 i pids=() hp
	: >"$lf"
	rm -f "$STATE/release" "$STATE/held"
	w0=$(mount_stat "$m" lock_waits_async)
	taskset -c 0 "$PY" -c '
import fcntl, os, sys, time
f = open(sys.argv[1], "a")
fcntl.flock(f, fcntl.LOCK_EX)
open(sys.argv[2], "w").close()
while not os.path.exists(sys.argv[3]):
    time.sleep(0.02)
fcntl.flock(f, fcntl.LOCK_UN)' "$lf" "$STATE/held" "$STATE/release" &
	hp=$!
	IT_CLEANUP+=("kill $hp")
	poll_until 30 test -e "$STATE/held" || die "$label: the holder did not get the lock"
	for ((i = 0; i < N; i++)); do
		taskset -c 0 flock "$lf" sh -c "echo $i >>'$lf.log'" &
		pids+=($!)
	done
	IT_CLEANUP+=("kill ${pids[*]}")
	waiting() { (($(mount_stat "$m" lock_waits_async) - w0 >= N)); }
	if poll_until 60 waiting; then
		ok "$label: all $N waiters wait on a thread of their own"
	else
		fail "$label: $(($(mount_stat "$m" lock_waits_async) - w0)) of $N waiters went to a thread of their own"
	fi
	touch "$STATE/release"
	all_gone() { ! kill -0 "${pids[@]}" "$hp" 2>/dev/null; }
	if poll_until 60 all_gone; then
		local bad=0
		for i in "${pids[@]}"; do wait "$i" || bad=$((bad + 1)); done
		((bad == 0)) && ok "$label: the holder unlocked and every waiter took the lock in turn" ||
			fail "$label: $bad of $N waiters failed to take the lock"
	else
		fail "$label: waiters still stuck after the unlock (the unlock found no thread?)"
	fi
	expect_eq "$label: every waiter logged once" "$N" "$(wc -l <"$lf.log")"
}
d0=$(mount_stat "$A" uring_detached)
lock_round "$A" "io_uring" lock.ring
(($(mount_stat "$A" uring_detached) - d0 >= N)) && ok "io_uring: each waiting request left its ring entry, replaced" ||
	fail "io_uring: only $(($(mount_stat "$A" uring_detached) - d0)) waiting requests left their ring entry"
lock_round "$B" "/dev/fuse" lock.dev

# ---- kill -9 of the mount with requests in flight ---------------------------
mkdir "$A/stream"
"$PY" -c '
import os, sys
i = 0
while True:
    try:
        with open(os.path.join(sys.argv[1], "f%d" % i), "w") as f:
            f.write("x" * 100)
    except OSError as e:
        print("stopped by errno %d after %d files" % (e.errno, i))
        break
    i += 1' "$A/stream" >"$STATE/stream.out" 2>&1 &
sp=$!
IT_CLEANUP+=("kill $sp")
streaming() { [[ -e $A/stream/f200 ]]; }
poll_until 60 streaming || die "the stream of creates does not get going"
check "kill -9 the mount in the middle of the stream" kill -9 "$(gf_mount_pid 1)"
stream_ended() { ! kill -0 "$sp" 2>/dev/null; }
if poll_until 60 stream_ended; then
	ok "the stream ended with an error, not a hang: $(cat "$STATE/stream.out")"
else
	fail "the stream still hangs after the mount died"
fi
fusermount3 -uz "$A" 2>/dev/null
check "mount 1 again" gf_mount 1
poll_until 30 rings_on "$A" && ok "the new mount serves over io_uring again" ||
	fail "the new mount agreed on io_uring ($(mount_stat "$A" uring_agreed)) but its rings did not start"
[[ -e $A/stream/f100 ]] && ok "the stream's files are there after the restart" ||
	fail "the stream's files are gone after the restart"

# ---- unmount ends the ring threads -----------------------------------------
check "unmount mount 1: the mount exits with 0 (its ring threads ended)" gf_umount 1
it_done
