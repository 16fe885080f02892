#!/bin/bash
# Core data safety (issue 6), on a real cluster, each point by causing it:
#   sizes follow the writes (two mounts, disjoint ranges, either close order;
#     truncate and writes in the order gfmd sees them);
#   a failed mutation changes nothing (O_TRUNC when no gfsd is up);
#   close tells the truth (kill -9 of gfsd after close loses nothing; a read
#     beyond what a replica holds is EIO, never zeros; holes read as zeros);
#   a crashed writer leaves no stale bytes (kill -9 of the mount mid-write,
#     then a truncate that grows the file from another mount);
#   no orphans, no leaks (1,000 mkstemp-style cycles leave no spool file;
#     open-then-unlink data lives until the last close; planted orphans go,
#     live replicas stay);
#   POSIX details (a non-owner's write clears setuid/setgid; ftruncate of a
#     descriptor open for writing ignores the mode; fstat after unlink).
# shellcheck disable=SC2317  # helpers are called through poll_until
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
it_require cmp truncate find
GF_HOST_DOWN_MS=2000 it_cluster_up --gfsd 3 --mounts 3
A=$MOUNT B=$MOUNT2 C=$MOUNT3
mkdir "$A/s" || die "cannot mkdir on the mount"
chmod 1777 "$A/s"

# spool_files PATH: the spool files holding PATH's replicas (any node).
spool_files() {
	find "$STATE"/node*/spool/data -name "$(printf '%016x' "$(stat -c %i "$1")")-????????????????" 2>/dev/null
}
# spool_count_inos INO...: how many spool files hold any of these inodes.
spool_count_inos() {
	local ino n=0
	for ino in "$@"; do
		n=$((n + $(find "$STATE"/node*/spool/data -name "$(printf '%016x' "$ino")-????????????????" | wc -l)))
	done
	echo "$n"
}
size_is() { [[ $(stat -c %s "$1" 2>/dev/null) == "$2" ]]; }

# ---- sizes follow the writes -------------------------------------------------------
for order in "2 then 1" "1 then 2"; do
	f=sz-${order// /}
	expect_errno "two mounts write disjoint ranges, close $order: nothing is lost" OK "
write_file(M + '/s/$f', b'')
fd1 = os.open(M + '/s/$f', os.O_RDWR)
fd2 = os.open(M2 + '/s/$f', os.O_RDWR)
os.pwrite(fd1, b'A' * 100000, 0)
os.pwrite(fd2, b'B' * 100000, 100000)
first, second = (fd2, fd1) if '$order' == '2 then 1' else (fd1, fd2)
os.close(first)
os.close(second)
assert os.stat(M + '/s/$f').st_size == 200000, os.stat(M + '/s/$f').st_size
data = read_file(M + '/s/$f')
assert data == b'A' * 100000 + b'B' * 100000, (len(data), data[:8], data[-8:])"
	if poll_until 10 size_is "$B/s/$f" 200000; then
		ok "the other mount sees the furthest end too ($order)"
	else
		fail "mount 2 sees $(stat -c %s "$B/s/$f") bytes, not 200000 ($order)"
	fi
done
expect_errno "a truncate after a writer's close cuts its bytes" OK "
write_file(M + '/s/tr1', b'x' * 1000)
os.truncate(M2 + '/s/tr1', 10)"
if poll_until 10 size_is "$A/s/tr1" 10; then ok "truncate seen by the writer's mount"; else fail "size on mount 1: $(stat -c %s "$A/s/tr1")"; fi
expect_errno "a writer's close after a truncate extends it again" OK "
write_file(M + '/s/tr2', b'x' * 1000)
fd = os.open(M + '/s/tr2', os.O_RDWR)
os.truncate(M2 + '/s/tr2', 10)
os.pwrite(fd, b'y' * 500, 0)
os.close(fd)
assert os.stat(M + '/s/tr2').st_size == 500, os.stat(M + '/s/tr2').st_size
assert read_file(M + '/s/tr2') == b'y' * 500"

# ---- a failed mutation changes nothing ---------------------------------------------------
head -c 5000 /dev/urandom >"$STATE/f3"
cp "$STATE/f3" "$A/s/f3" || die "cannot write s/f3"
mtime_before=$(stat -c %y "$A/s/f3")
for k in 1 2 3; do gf_gfsd_stop "$k" || die "cannot stop gfsd node$k"; done
all_down() { ! gf_host_list | grep -qw up; }
poll_until 30 all_down || die "gfmd does not see the gfsd down: $(gf_host_list)"
expect_errno "with no gfsd up, open(O_TRUNC) fails" ENOSPC '
os.open(M2 + "/s/f3", os.O_WRONLY | os.O_TRUNC)'
# mount 3 never looked at s/f3: what it sees comes from gfmd's memory
expect_eq "the failed open left size and mtime as they were (gfmd's memory)" \
	"5000 $mtime_before" "$(stat -c '%s %y' "$C/s/f3")"
check_here "restart gfmd" gf_gfmd_stop
check_here "start gfmd again" gf_gfmd_start || die "gfmd does not restart"
for k in 1 2 3; do gf_gfsd_start "$k" || die "cannot start gfsd node$k"; done
check "every gfsd is back" gf_wait_hosts_up
expect_eq "and the database agrees after a restart" "5000 $mtime_before" \
	"$(stat -c '%s %y' "$C/s/f3")"
check "the data is intact" cmp "$STATE/f3" "$B/s/f3"

# ---- close tells the truth ------------------------------------------------------------------
head -c 4000000 /dev/urandom >"$STATE/f5"
cp "$STATE/f5" "$A/s/local" || die "cannot write s/local"
touch "$A/s/remote" && cp "$STATE/f5" "$B/s/remote" || die "cannot write s/remote"
expect_eq "both files live on node1 (one written through node2's mount)" 2 \
	"$({ spool_files "$A/s/local"; spool_files "$A/s/remote"; } | grep -c "^$STATE/node1/")"
check_here "kill -9 of node1's gfsd right after close" gf_gfsd_kill9 1
check_here "start node1's gfsd again" gf_gfsd_start 1
check "node1 is back" gf_wait_hosts_up
check "what a local writer closed survived the crash of gfsd" cmp "$STATE/f5" "$C/s/local"
check "what a remote writer closed survived the crash of gfsd" cmp "$STATE/f5" "$C/s/remote"

head -c 1048576 /dev/urandom >"$STATE/lost"
cp "$STATE/lost" "$A/s/lost" || die "cannot write s/lost"
spool=$(spool_files "$A/s/lost")
[[ -n $spool ]] || die "no spool file for s/lost"
poll_until "$GF_WAIT_SECS" all_sealed "$A/s/lost" || fail "s/lost was never sealed"
truncate -s 100000 "$spool"
# (mount 1 wrote it and keeps those pages: gone, so that its reads reach the replica)
sync
echo 3 >/proc/sys/vm/drop_caches
expect_errno "a remote read beyond what the replica holds is EIO, not zeros" EIO '
f = open(M2 + "/s/lost", "rb")
f.seek(200000)
f.read(4096)'
expect_errno "so is a local one (passed fd)" EIO '
f = open(M + "/s/lost", "rb")
f.seek(200000)
f.read(4096)'
# (the replica is sealed: what it holds whole, checksum block by block, still
# reads; O_DIRECT, so that no readahead reaches the damaged block)
expect_errno "the blocks the replica holds whole still read" OK "
import mmap
fd = os.open(M2 + '/s/lost', os.O_RDONLY | os.O_DIRECT)
buf = mmap.mmap(-1, 65536)
assert os.preadv(fd, [buf], 0) == 65536
assert buf[:] == open('$STATE/lost', 'rb').read(65536)"
expect_errno "a hole reads as zeros, locally and remotely" OK '
fd = os.open(M + "/s/hole", os.O_CREAT | os.O_WRONLY, 0o644)
os.pwrite(fd, b"z", 3000000)
os.close(fd)
for p in (M + "/s/hole", M2 + "/s/hole"):
    d = read_file(p)
    assert d == bytes(3000000) + b"z", (p, len(d))'

# ---- a crashed writer leaves no stale bytes ----------------------------------------------
echo -n 0123456789 >"$A/s/crash" || die "cannot write s/crash"
"$PY" - "$A/s/crash" "$STATE/writer-ready" <<'PYEOF' >"$STATE/writer.out" 2>&1 &
import os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY)
os.pwrite(fd, b"S" * 1000000, 10)  # beyond the committed size, never published
open(sys.argv[2], "w").close()
time.sleep(3600)
PYEOF
WRITER=$!
IT_CLEANUP+=("kill -9 $WRITER")
poll_until 30 test -e "$STATE/writer-ready" || die "the writer did not start"
check_here "kill -9 of the writer's mount mid-write" gf_mount_kill9 1
kill -9 "$WRITER" 2>/dev/null
handles_gone() { [[ $(gf_stat_value node1 open_handles) == 0 ]]; }
poll_until 30 handles_gone || fail "node1 still counts $(gf_stat_value node1 open_handles) open handles"
cut_before=$(gf_stat_value node1 writers_cut)
check "another mount grows the file with truncate" truncate -s 2000000 "$B/s/crash"
expect_errno "the crashed writer's bytes never reappear: zeros after the committed size" OK '
d = read_file(M2 + "/s/crash")
assert d == b"0123456789" + bytes(2000000 - 10), (len(d), d[:20], d.count(b"S"))'
expect_eq "gfsd cut them (writers_cut grew by one)" "$((cut_before + 1))" \
	"$(gf_stat_value node1 writers_cut)"
check_here "mount 1 comes back" gf_mount 1

# ---- no orphans, no leaks ------------------------------------------------------------------
"$PY" - "$A/s" >"$STATE/mkstemp.inos" <<'PYEOF' || fail "the mkstemp cycles failed"
import os, sys
d = sys.argv[1]
for i in range(1000):
    p = os.path.join(d, "tmp%04d" % i)
    fd = os.open(p, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
    print(os.fstat(fd).st_ino)
    os.unlink(p)
    os.write(fd, b"x" * 100)
    os.close(fd)
PYEOF
mapfile -t inos <"$STATE/mkstemp.inos"
expect_eq "1,000 create-unlink-write-close cycles ran" 1000 "${#inos[@]}"
none_left() { [[ $(spool_count_inos "${inos[@]}") == 0 ]]; }
if poll_until 60 none_left; then
	ok "they leave nothing in any spool"
else
	fail "$(spool_count_inos "${inos[@]}") spool files of the 1,000 unlinked files are left"
fi

# The same, with the first write only after node1 has removed the dead names:
# the files are then made without a name (a tombstone), never orphans.
"$PY" - "$A/s" "$STATE/late" <<'PYEOF' >"$STATE/late.out" 2>&1 &
import os, sys, time
d, ctl = sys.argv[1:3]
fds = []
for i in range(20):
    p = os.path.join(d, "late%02d" % i)
    fd = os.open(p, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
    print(os.fstat(fd).st_ino, flush=True)
    os.unlink(p)
    fds.append(fd)
open(ctl + ".unlinked", "w").close()
while not os.path.exists(ctl + ".go"):
    time.sleep(0.02)
for fd in fds:
    os.write(fd, b"x" * 100)
    os.close(fd)
print("done", flush=True)
PYEOF
LATE=$!
IT_CLEANUP+=("kill $LATE")
removed=$(gf_stat_value node1 dead_removed)
poll_until 60 test -e "$STATE/late.unlinked" || die "the late writer did not unlink"
grew20() { (($(gf_stat_value node1 dead_removed) >= removed + 20)); }
poll_until 120 grew20 || die "node1 does not remove the 20 dead replicas"
touch "$STATE/late.go"
wait "$LATE"
expect_eq "20 files written only after gfsd removed their dead names" done "$(tail -n 1 "$STATE/late.out")"
mapfile -t late_inos < <(grep -v done "$STATE/late.out")
expect_eq "they left no orphan in any spool" 0 "$(spool_count_inos "${late_inos[@]}")"

"$PY" - "$A/s/unl" "$STATE/unl-ready" "$STATE/unl-go" >"$STATE/unl.out" 2>&1 <<'PYEOF' &
import os, sys, time
p, ready, go = sys.argv[1:4]
data = os.urandom(1 << 20)
fd = os.open(p, os.O_CREAT | os.O_RDWR, 0o644)
os.write(fd, data)
ino = os.fstat(fd).st_ino
os.unlink(p)
print(ino, flush=True)
open(ready, "w").close()
while not os.path.exists(go):
    time.sleep(0.05)
assert os.pread(fd, 1 << 20, 0) == data, "data of the unlinked file changed"
assert os.fstat(fd).st_nlink == 0
os.close(fd)
print("ok", flush=True)
PYEOF
UNL=$!
poll_until 30 test -e "$STATE/unl-ready" || die "the open-then-unlink writer did not start"
unl_ino=$(head -n 1 "$STATE/unl.out")
unl_gone() { [[ $(spool_count_inos "$unl_ino") == 0 ]]; }
if poll_until 60 unl_gone; then ok "once the unlink is committed the replica file's name goes"; else fail "the unlinked file's replica file is left"; fi
touch "$STATE/unl-go"
wait "$UNL"
expect_eq "its data lives on until the last close: it reads back whole, nlink 0" "ok" \
	"$(tail -n 1 "$STATE/unl.out")"

# orphans: files no live replica names, planted in node3's spool
head -c 300000 /dev/urandom >"$STATE/live3"
cp "$STATE/live3" "$C/s/live3" || die "cannot write s/live3"
live3=$(spool_files "$C/s/live3")
[[ $live3 == "$STATE/node3/"* ]] || die "s/live3 is not on node3: $live3"
live_ino=$(stat -c %i "$C/s/live3")
orphan1=$STATE/node3/spool/data/ef/00000000fffffeef-0000000000000001
orphan2=$(dirname "$live3")/$(printf '%016x' "$live_ino")-00000000000000ff
echo planted >"$orphan1"
echo planted >"$orphan2"
orphans_before=$(gf_stat_value node3 orphans_removed)
check_here "restart node3's gfsd (an orphan scan follows its registration)" gf_gfsd_stop 3
check_here "start node3's gfsd" gf_gfsd_start 3
orphans_gone() { [[ ! -e $orphan1 && ! -e $orphan2 ]]; }
if poll_until 60 orphans_gone; then ok "the planted orphans are removed"; else fail "orphans left: $(ls "$orphan1" "$orphan2" 2>&1)"; fi
check "the live replica on that host is untouched" cmp "$STATE/live3" "$live3"
check "and reads back through the mount" cmp "$STATE/live3" "$A/s/live3"
expect_eq "gfsd counted them" "$((orphans_before + 2))" "$(gf_stat_value node3 orphans_removed)"

# ---- POSIX details -----------------------------------------------------------------------
check "root makes a setuid+setgid file everyone may write" sh -c "echo x >'$A/s/suid' && chmod 6777 '$A/s/suid'"
expect_errno --as nobody "a non-owner writes it" OK '
fd = os.open(M + "/s/suid", os.O_WRONLY | os.O_APPEND)
os.write(fd, b"y")
os.close(fd)'
expect_eq "the write cleared setuid and setgid" 777 "$(stat -c %a "$A/s/suid")"
expect_errno --as nobody "ftruncate of a descriptor open for writing ignores the mode" OK '
fd = os.open(M + "/s/ro", os.O_CREAT | os.O_RDWR, 0o444)
os.ftruncate(fd, 10)
os.close(fd)
assert os.stat(M + "/s/ro").st_size == 10'
expect_errno --as nobody "but truncate by path needs write permission" EACCES 'os.truncate(M + "/s/ro", 3)'
expect_errno "fstat of an open file that was unlinked reports nlink 0" OK '
fd = os.open(M + "/s/gone", os.O_CREAT | os.O_RDWR, 0o644)
os.write(fd, b"abc")
os.unlink(M + "/s/gone")
st = os.fstat(fd)
os.close(fd)
assert st.st_nlink == 0 and st.st_size == 3, (st.st_nlink, st.st_size)'

it_done
