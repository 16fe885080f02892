#!/bin/bash
# FUSE passthrough (fuse/passthrough.h): a writer of a local replica that
# is its file's only open on the mount writes through the kernel straight
# to the replica, with no WRITE request to the mount. What the mount did
# at each WRITE it must still do: its own getattr sees the size at once,
# gfmd learns size and mtime (other mounts see growth while it writes,
# and the data after close), st_blocks and the local-bytes counters, a
# gfsd restart is survived, setuid bits go. Every other open of the file
# on that mount meanwhile shares the passthrough (the kernel refuses an
# inode both cached and passed through). And a process that goes on
# writing after its mount was killed, or through a mapping after close,
# must not have its replica sealed under it: sums of older bytes would
# make the next read call good data corrupt.
# shellcheck disable=SC2317  # helpers are called through poll_until
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
it_require getfattr cmp dd
it_cluster_up --gfsd 2 --mounts 2
A=$MOUNT B=$MOUNT2
GFWHERE=$(gf_bin gfwhere) || die "gfwhere is not built"
export GFARMFS_CONFIG=$STATE/admin.conf

need_passthrough "$A"
size_is() { [[ $(stat -c %s "$1" 2>/dev/null) == "$2" ]]; }
same_as() { cmp -s "$1" "$2"; }

# A process that keeps files open across steps: drv CODE runs one line of
# Python in it (os imported; A, B the mounts) and prints what it printed.
DRV_OUT=$STATE/drv.out DRV_N=0
drv_start() {
	rm -f "$STATE/drv.fifo" "$DRV_OUT"
	mkfifo "$STATE/drv.fifo"
	: >"$DRV_OUT"
	A=$A B=$B "$PY" -u -c '
import os, sys, time, ctypes
A, B = os.environ["A"], os.environ["B"]
libc = ctypes.CDLL(None, use_errno=True)  # (the mmap module keeps a dup of the fd)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
libc.msync.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
n = 0
for line in sys.stdin:
    if line == "quit\n":
        break
    n += 1
    try:
        exec(line)
        print("%d done" % n)
    except Exception as e:
        print("%d error: %r" % (n, e))' <"$STATE/drv.fifo" >"$DRV_OUT" 2>&1 &
	DRV_PID=$!
	exec 8>"$STATE/drv.fifo"
	DRV_N=0
	IT_CLEANUP+=("exec 8>&-; kill $DRV_PID")
}
# (each answer carries its command's number: an answer is never taken
# for another's)
drv_answered() { grep -q "^$1 \(done\|error: \)" "$DRV_OUT"; }
drv() {
	echo "$1" >&8
	DRV_N=$((DRV_N + 1))
	poll_until "$GF_WAIT_SECS" drv_answered "$DRV_N" || die "the writer process hangs at: $1"
	grep "^$DRV_N \(done\|error: \)" "$DRV_OUT" | head -n 1 | cut -d' ' -f2-
}
# (daemons started meanwhile hold the fifo too: no end of file for it)
drv_stop() { echo quit >&8; exec 8>&-; wait "$DRV_PID" 2>/dev/null; }

# ---- the data path ---------------------------------------------------------
head -c 16777216 /dev/urandom >"$STATE/src"
w0=$(mount_stat "$A" write_requests) o0=$(mount_stat "$A" passthrough_opens)
l0=$(gf_stat_value node1 written_local) r0=$(mount_stat "$A" fuse_requests)
check "16 MiB written by dd (64 KiB writes) on mount 1" \
	dd if="$STATE/src" of="$A/big" bs=64K status=none
r1=$(mount_stat "$A" fuse_requests)
expect_eq "not one WRITE request reached the mount" "$w0" "$(mount_stat "$A" write_requests)"
# (nor a security.capability lookup per write: FUSE_HANDLE_KILLPRIV_V2)
((r1 - r0 < 64)) && ok "$((r1 - r0)) FUSE requests in all for 256 writes" ||
	fail "$((r1 - r0)) FUSE requests for 256 writes"
expect_eq "the open passed through" $((o0 + 1)) "$(mount_stat "$A" passthrough_opens)"
check "mount 1 reads it back" cmp "$STATE/src" "$A/big"
poll_until "$GF_WAIT_SECS" same_as "$STATE/src" "$B/big" &&
	ok "mount 2 reads the same bytes (over the network, checked against the sums)" ||
	fail "mount 2 does not read the bytes mount 1 wrote"
# read-ahead (read_ahead_kb, default 1 MiB): a cold sequential read goes
# in 1 MiB READ requests, not the kernel's 128 KiB
sync
echo 3 >/proc/sys/vm/drop_caches
r0=$(mount_stat "$B" fuse_requests)
cat "$B/big" >/dev/null
r1=$(mount_stat "$B" fuse_requests)
((r1 - r0 < 48)) && ok "16 MiB read cold on mount 2 in $((r1 - r0)) FUSE requests" ||
	fail "16 MiB read cold on mount 2 took $((r1 - r0)) FUSE requests (128 KiB read-ahead?)"
poll_until "$GF_WAIT_SECS" all_sealed "$A/big" && ok "the replica is sealed" ||
	fail "the replica was never sealed"
check "its one replica holds the bytes" spools_match "$A/big" "$STATE/src" 1
l1=$(gf_stat_value node1 written_local)
(( l1 - l0 >= 16777216 )) && ok "gfsd node1 counted the bytes as written locally ($l0 -> $l1)" ||
	fail "gfsd node1 counted $((l1 - l0)) bytes written locally, not >= 16777216"
blocks=$(stat -c %b "$B/big")
((blocks >= 32768)) && ok "st_blocks told to gfmd ($blocks)" || fail "st_blocks is $blocks"

# ---- what WRITE used to tell: size, growth, mtime ----------------------------
drv_start
expect_eq "a writer opens with O_TRUNC and writes 100000 bytes" "done" \
	"$(drv 'w = os.open(A + "/grow", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644); os.write(w, b"a" * 100000)')"
expect_eq "its own mount sees the size at once" 100000 "$(stat -c %s "$A/grow")"
expect_eq "a reader opened meanwhile on the same mount shares it and reads the bytes" "done" \
	"$(drv 'r = os.open(A + "/grow", os.O_RDONLY); assert os.pread(r, 200000, 0) == b"a" * 100000')"
expect_eq "more bytes, read at once by that reader" "done" \
	"$(drv 'os.write(w, b"b" * 50000); assert len(os.pread(r, 200000, 0)) == 150000')"
poll_until "$GF_WAIT_SECS" size_is "$B/grow" 150000 &&
	ok "mount 2 sees the file grow while it is written (the publisher told gfmd)" ||
	fail "mount 2 never saw the growth: $(stat -c %s "$B/grow")"
expect_eq "close both" "done" "$(drv 'os.close(r); os.close(w)')"
printf '%*s' 100000 '' | tr ' ' a >"$STATE/grow"
printf '%*s' 50000 '' | tr ' ' b >>"$STATE/grow"
poll_until "$GF_WAIT_SECS" same_as "$STATE/grow" "$B/grow" && ok "mount 2 reads what was written" ||
	fail "mount 2 reads other bytes"

expect_eq "a write's time becomes the mtime (open, 0.2 s, write, close)" "done" \
	"$(drv 't0 = time.time(); w = os.open(A + "/mt", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644); time.sleep(0.2); os.write(w, b"x" * 5000); os.close(w)')"
expect_eq "mount 2 sees an mtime after the pause" "done" \
	"$(drv 'assert os.stat(B + "/mt").st_mtime >= t0 + 0.19, (os.stat(B + "/mt").st_mtime, t0)')"
expect_eq "utime after a write, then close without writing" "done" \
	"$(drv 'w = os.open(A + "/mt", os.O_WRONLY); os.write(w, b"y"); os.utime(A + "/mt", (1000000000, 1000000000)); os.close(w)')"
mtime_is() { [[ $(stat -c %Y "$B/mt") == "$1" ]]; }
mtime_past() { (($(stat -c %Y "$B/mt") > $1)); }
# (mount 2 may hold the attributes it saw for up to a second)
poll_until "$GF_WAIT_SECS" mtime_is 1000000000 && ok "the mtime set stays" ||
	fail "the mtime set did not stay: $(stat -c %Y "$B/mt")"
expect_eq "utime, then a write" "done" \
	"$(drv 'w = os.open(A + "/mt", os.O_WRONLY); os.utime(A + "/mt", (1000000000, 1000000000)); os.write(w, b"z"); os.close(w)')"
poll_until "$GF_WAIT_SECS" mtime_past 1000000000 && ok "the later write moves the mtime" ||
	fail "the mtime stayed $(stat -c %Y "$B/mt")"

# ---- who passes through, and who joins -------------------------------------
# The kernel sends RELEASE after close(2) returns: a handle of mt still
# open here would be joined by the reader and the writer below.
no_open_files() { (($(mount_stat "$A" open_files) == 0)); }
poll_until "$GF_WAIT_SECS" no_open_files && ok "mount 1's earlier handles are released" ||
	fail "mount 1 still has $(mount_stat "$A" open_files) handles open"
o0=$(mount_stat "$A" passthrough_opens) w0=$(mount_stat "$A" write_requests)
expect_eq "a reader opens first, then a writer (O_TRUNC) writes" "done" \
	"$(drv 'r = os.open(A + "/mt", os.O_RDONLY); w = os.open(A + "/mt", os.O_WRONLY | os.O_TRUNC); os.write(w, b"q" * 70000); os.close(w); os.close(r)')"
expect_eq "neither passed through (the reader's open is cached)" "$o0" "$(mount_stat "$A" passthrough_opens)"
w1=$(mount_stat "$A" write_requests)
((w1 > w0)) && ok "the writes went to the mount as WRITE requests" ||
	fail "no WRITE request for them ($w0 -> $w1; passthrough opens $o0 -> $(mount_stat "$A" passthrough_opens))"
printf '%*s' 70000 '' | tr ' ' q >"$STATE/q"
poll_until "$GF_WAIT_SECS" same_as "$STATE/q" "$B/mt" && ok "and mount 2 reads them" ||
	fail "mount 2 reads other bytes"

expect_eq "an O_APPEND writer joins a passed-through writer" "done" \
	"$(drv 'w = os.open(A + "/ap", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644); os.write(w, b"1" * 10); ap = os.open(A + "/ap", os.O_WRONLY | os.O_APPEND); os.write(ap, b"2" * 5); os.write(w, b"3" * 3); os.close(ap); os.close(w)')"
# w wrote 10 bytes; the appender's 5 land at the replica's end; w's 3 at
# its own offset, 10
ap_is() { [[ $(cat "$B/ap") == "$1" ]]; }
poll_until "$GF_WAIT_SECS" ap_is 111111111133322 &&
	ok "every byte where it belongs" || fail "after an append through a shared passthrough: '$(cat "$B/ap")'"

check "a setuid, setgid file" sh -c "printf data > '$A/suid' && chmod 06777 '$A/suid'"
expect_eq "root writes it, a user writes it meanwhile (joins)" "done" \
	"$(drv 'w = os.open(A + "/suid", os.O_WRONLY); os.write(w, b"D"); assert os.system("setpriv --reuid=nobody --regid=nogroup --clear-groups sh -c \"printf X >> " + A + "/suid\"") == 0; os.close(w)')"
mode_is() { [[ $(stat -c %a "$B/suid") == "$1" ]]; }
poll_until "$GF_WAIT_SECS" mode_is 777 && ok "the user's write cleared setuid and setgid" ||
	fail "the user's write left mode $(stat -c %a "$B/suid")"

# ---- a gfsd restart under a writer -------------------------------------------
head -c 300000 /dev/urandom >"$STATE/p1"
head -c 300000 /dev/urandom >"$STATE/p2"
cat "$STATE/p1" "$STATE/p2" >"$STATE/p12"
expect_eq "a writer writes a first part" "done" \
	"$(drv 'w = os.open(A + "/rs", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644); os.write(w, open("'"$STATE"'/p1", "rb").read())')"
check_here "kill -9 gfsd node1" gf_gfsd_kill9 1
check_here "start it again" gf_gfsd_start 1
answers() { gf_in gfmd "$(gf_bin gfhost)" -c "$STATE/admin.conf" stats node1 >/dev/null 2>&1; }
poll_until "$GF_WAIT_SECS" answers || fail "gfsd node1 does not answer after its restart"
expect_eq "the writer writes the rest and closes" "done" \
	"$(drv 'os.write(w, open("'"$STATE"'/p2", "rb").read()); os.close(w)')"
poll_until "$GF_WAIT_SECS" same_as "$STATE/p12" "$B/rs" && ok "mount 2 reads both parts" ||
	fail "mount 2 reads other bytes after the gfsd restart"
poll_until "$GF_WAIT_SECS" all_sealed "$A/rs" && ok "sealed after the restart" ||
	fail "never sealed after the restart"
check "and the sums are of those bytes (mount 1 reads them checked)" cmp "$STATE/p12" "$A/rs"

# ---- a shared mapping writes after its close -----------------------------------
expect_eq "map 64 KiB shared, close the fd, write through the mapping" "done" \
	"$(drv 'w = os.open(A + "/mm", os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644); os.ftruncate(w, 65536); m = libc.mmap(None, 65536, 3, 1, w, 0); assert m not in (None, 2**64 - 1); os.close(w); time.sleep(0.3); ctypes.memset(m, 77, 4096); assert libc.msync(m, 65536, 4) == 0')"
expect_eq "unmap" "done" "$(drv 'assert libc.munmap(m, 65536) == 0')"
{ head -c 4096 /dev/zero | tr '\0' M; head -c 61440 /dev/zero; } >"$STATE/mm"
poll_until "$GF_WAIT_SECS" all_sealed "$A/mm" && ok "sealed once the mapping is gone" ||
	fail "never sealed"
poll_until "$GF_WAIT_SECS" same_as "$STATE/mm" "$B/mm" &&
	ok "mount 2 reads the mapping's bytes, checked, without a false alarm" ||
	fail "mount 2 cannot read what the mapping wrote: $(cmp "$STATE/mm" "$B/mm" 2>&1)"

# ---- the mount dies under a writer -------------------------------------------
head -c 100000 /dev/zero | tr '\0' a >"$STATE/k1"
expect_eq "a writer writes 100000 bytes" "done" \
	"$(drv 'w = os.open(A + "/kill", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644); os.write(w, b"a" * 100000)')"
poll_until "$GF_WAIT_SECS" size_is "$B/kill" 100000 && ok "gfmd was told" || fail "gfmd never heard"
check "kill -9 mount 1" kill -9 "$(gf_mount_pid 1)"
gf_wait_dead "$(gf_mount_pid 1)"
expect_eq "the process goes on writing: over its first bytes, through the kernel" "done" \
	"$(drv 'os.pwrite(w, b"c" * 1000, 0)')"
deferred() { grep -q "inode $(stat -c %i "$B/kill") gen .* is still open for writing outside gfsd" "$STATE/node1/gfsd.log"; }
poll_until "$GF_WAIT_SECS" deferred && ok "gfsd waits to seal it while the process can write it" ||
	fail "gfsd did not wait for the writer"
r=$(drv 'os.close(w)') # (ENOTCONN, or 0 if no FLUSH can be sent at all)
[[ $r == "done" || $r == *"107"* ]] && ok "the process closes it ($r)" || fail "its close: $r"
{ head -c 1000 /dev/zero | tr '\0' c; head -c 99000 /dev/zero | tr '\0' a; } >"$STATE/k2"
poll_until "$GF_WAIT_SECS" all_sealed "$B/kill" && ok "sealed once it closed" || fail "never sealed"
check "mount 2 reads the replica as it is, with no false corruption alarm" cmp "$STATE/k2" "$B/kill"
drv_stop

# ---- turning it off ---------------------------------------------------------
fusermount3 -uz "$A" 2>/dev/null
gf_umount 1
check "mount 1 again with -o nopassthrough" gf_mount 1 -o nopassthrough
expect_eq "its stats say passthrough 0" 0 "$(mount_stat "$A" passthrough)"
w0=$(mount_stat "$A" write_requests)
check "dd on it" dd if="$STATE/src" of="$A/big2" bs=64K status=none
(($(mount_stat "$A" write_requests) >= w0 + 256)) && ok "its writes are WRITE requests" ||
	fail "only $(($(mount_stat "$A" write_requests) - w0)) WRITE requests for 256 writes"
sed 's/^passthrough.*//' "$STATE/client1.conf" >"$STATE/bad.conf"
echo "passthrough = maybe" >>"$STATE/bad.conf"
mkdir -p "$STATE/mnt-bad"
out=$("$(gf_bin mount.gfarmfs)" "$STATE/bad.conf" "$STATE/mnt-bad" -f 2>&1)
rc=$?
((rc != 0)) && ok "passthrough = maybe: the mount refuses to start" || fail "it started"
[[ $out == *"passthrough 'maybe': expected yes or no"* ]] && ok "saying why" ||
	fail "message: $out"
mountpoint -q "$STATE/mnt-bad" && fail "and something is mounted" && fusermount3 -uz "$STATE/mnt-bad"
for v in lots -1 65537; do
	mount_refuses read_ahead_kb "$v" "read_ahead_kb: not a number of KiB from 0 to 65536"
done

it_done
