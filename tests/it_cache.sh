#!/bin/bash
# What a mount may keep cached, and when it must drop it (issue 10):
#   a re-read of a file that did not change since this mount cached it is
#     served from the page cache (no read reaches the mount), as NFS does
#     with its change attribute;
#   what this mount wrote itself through the page cache, as the file's only
#     writer, is read back from those pages; not when another mount wrote
#     too meanwhile;
#   a change made anywhere is seen at the next open: another mount's
#     overwrite of the same size, a partial overwrite in place, a truncate,
#     and this mount's own writes around the page cache (O_DIRECT, O_APPEND);
#   a reader that keeps a file open (and never stats it) sees another
#     mount's same-size overwrite: the mount looks at files held open again
#     every attr_timeout and drops their pages when they changed;
#   a chmod does not drop the cache (the data did not change);
#   the kernel's GETATTR of a directory right after a create, unlink or
#     rename in it is answered from gfmd's reply to that mutation (no gfmd
#     call), with exactly gfmd's attributes; any other change this mount
#     makes to the directory (setxattr, chmod, a create in it) is seen at
#     once, never the cached attributes from before it.
# The counters are the mount's own (user.gfarmfs.stats): bytes it read from
# a replica, locally or over the network.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
it_require getfattr dd cmp
it_cluster_up --gfsd 2 --mounts 2
A=$MOUNT B=$MOUNT2

# bytes mount $1 has read from replicas so far
read_bytes() {
	getfattr --absolute-names --only-values -n user.gfarmfs.stats "$1" |
		awk '$1 == "read_local" || $1 == "read_remote" { n += $2 } END { print n + 0 }'
}
# read FILE through a new open; print how many bytes the mount read for it
reread() { # MOUNT FILE
	local before
	before=$(read_bytes "$1")
	cat "$2" >/dev/null || return 1
	echo $(($(read_bytes "$1") - before))
}
# A re-read of FILE (SIZE bytes) through a new open on MOUNT is served from
# the page cache: the kernel may have reclaimed a few of its pages meanwhile
# (stop 34's CI saw 4 of 256 pages read again, late in the run),
# which the mount reads again; a dropped cache reads the whole file.
cached_reread() { # LABEL MOUNT FILE SIZE
	local n
	n=$(reread "$2" "$3")
	if [[ $n =~ ^[0-9]+$ ]] && ((n < $4 / 8)); then
		ok "$1 ($n of $4 bytes read again)"
	else
		fail "$1: $n of $4 bytes read again"
	fi
}

SIZE=1048576
head -c $SIZE /dev/urandom >"$STATE/v1"
head -c $SIZE /dev/urandom >"$STATE/v2"
head -c 4096 /dev/urandom >"$STATE/patch"
check "a 1 MiB file written on mount 1" cp "$STATE/v1" "$A/f"

cached_reread "read back on mount 1, its only writer: served from the pages it wrote" \
	"$A" "$A/f" $SIZE
check "and it is the data" cmp "$STATE/v1" "$A/f"
first=$(reread "$B" "$B/f")
[[ $first -gt 0 ]] && ok "mount 2's first read reaches the replica ($first bytes)" ||
	fail "mount 2's first read reaches the replica ($first bytes)"
cached_reread "a re-read on mount 2 through a new open, file unchanged: served from the page cache" \
	"$B" "$B/f" $SIZE
check "and it is the data" cmp "$STATE/v1" "$B/f"
check "a chmod on mount 1" chmod 600 "$A/f"
cached_reread "a chmod does not drop the cached data" "$A" "$A/f" $SIZE
# (mount 1 may pass through to its local replica, its reads unseen here;
# mount 2's replica is remote: a dropped cache would be read again)
cached_reread "nor mount 2's, of the same file" "$B" "$B/f" $SIZE
check "a chmod on mount 2" chmod 640 "$B/f"
cached_reread "mount 2 keeps its cached data too" "$B" "$B/f" $SIZE

# a writer's RELEASE may reach the mount after a reader's open (FUSE sends
# it after close returns; here a dup keeps the file open past the FLUSH
# that told gfmd the final size and mtime): it must not make that reader's
# pages look stale
expect_errno "write a file, FLUSH it (close a dup), read it while the writer is still open" OK '
fd = os.open(M + "/w", os.O_CREAT | os.O_WRONLY, 0o644)  # (no O_TRUNC: no passthrough)
os.write(fd, os.urandom(262144))
fd2 = os.dup(fd)
os.close(fd)
data = read_file(M + "/w")
os.close(fd2)
assert len(data) == 262144'
cached_reread "after the writer's release, the re-read is still served from the page cache" \
	"$A" "$A/w" 262144

# another mount's overwrite, same size: gfmd's generation moved
check "mount 2 overwrites it (same size)" dd if="$STATE/v2" of="$B/f" bs=64k conv=notrunc status=none
check "mount 1's next open sees mount 2's data" cmp "$STATE/v2" "$A/f"
# (mount 2's release may still move gfmd's attributes once after its close
# returned: a changed version drops the cache once more, never keeps it)
cached_again() { local n; n=$(reread "$A" "$A/f") && ((n < SIZE / 8)); }
check "... and then it is cached again" poll_until "$GF_WAIT_SECS" cached_again

check "mount 2 changes 4 KiB in place" \
	dd if="$STATE/patch" of="$B/f" bs=4096 seek=3 conv=notrunc status=none
cp "$STATE/v2" "$STATE/v3"
dd if="$STATE/patch" of="$STATE/v3" bs=4096 seek=3 conv=notrunc status=none
check "mount 1 sees the patched block" cmp "$STATE/v3" "$A/f"

check "mount 2 truncates it to 1000 bytes" truncate -s 1000 "$B/f"
head -c 1000 "$STATE/v3" >"$STATE/v4"
check "mount 1 sees the truncated file" cmp "$STATE/v4" "$A/f"

# this mount's own writes around its page cache
check "mount 1 reads it (cached)" cmp "$STATE/v4" "$A/f"
check "mount 1 appends (O_APPEND: direct I/O)" sh -c "printf 'tail' >>'$A/f'"
cp "$STATE/v4" "$STATE/v5"
printf 'tail' >>"$STATE/v5"
check "mount 1's next open sees its append" cmp "$STATE/v5" "$A/f"
check "mount 1 reads it again (cached)" cmp "$STATE/v5" "$A/f"
expect_errno "mount 1 writes 4 KiB with O_DIRECT at offset 0" OK '
import mmap
buf = mmap.mmap(-1, 4096)
buf.write(open("'"$STATE/patch"'", "rb").read())
fd = os.open(M + "/f", os.O_WRONLY | os.O_DIRECT)
try:
    assert os.pwrite(fd, buf, 0) == 4096
finally:
    os.close(fd)'
cp "$STATE/v5" "$STATE/v6"
dd if="$STATE/patch" of="$STATE/v6" bs=4096 conv=notrunc status=none
check "mount 1's next open sees its O_DIRECT write" cmp "$STATE/v6" "$A/f"
# (mount 2's kernel keeps the size it knew for attr_timeout)
same_on_b() { cmp -s "$STATE/v6" "$B/f"; }
check "and mount 2 sees the same" poll_until "$GF_WAIT_SECS" same_on_b

# ---- two writers: what mount 1 wrote itself is not all of the file -------------------------
expect_errno "mount 1 writes h; mount 2 writes a block of it while mount 1 has it open" OK '
fd = os.open(M + "/h", os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
os.write(fd, b"a" * 65536)
fd2 = os.open(M2 + "/h", os.O_WRONLY)
os.pwrite(fd2, b"b" * 4096, 8192)
os.close(fd2)
os.write(fd, b"c" * 4096)
os.close(fd)'
"$PY" -c 'import sys; sys.stdout.buffer.write(b"a" * 8192 + b"b" * 4096 + b"a" * 53248 + b"c" * 4096)' >"$STATE/want.h"
check "mount 1's next open reads mount 2's block, not the pages it wrote there" cmp "$STATE/want.h" "$A/h"

# ---- a reader that keeps the file open -----------------------------------------------------
head -c $SIZE /dev/urandom >"$STATE/v8"
head -c $SIZE /dev/urandom >"$STATE/v9"
check "mount 1 writes k" cp "$STATE/v8" "$A/k"
rm -f "$STATE/k.ready" "$STATE/k.go"
"$PY" - "$A/k" "$STATE" <<'PYEOF' >"$STATE/k.out" 2>&1 &
import os, sys, time
path, state = sys.argv[1], sys.argv[2]
fd = os.open(path, os.O_RDONLY)
old = open(state + "/v8", "rb").read()
new = open(state + "/v9", "rb").read()
assert os.pread(fd, len(old), 0) == old
open(state + "/k.ready", "w").close()
while not os.path.exists(state + "/k.go"):
    time.sleep(0.01)
deadline = time.time() + 120  # only against a hang
while time.time() < deadline:
    got = os.pread(fd, len(new), 0)  # the same descriptor; no stat
    if got == new:  # (a read racing the drop may mix both: read again)
        print("seen")
        break
    time.sleep(0.05)
else:
    print("never: old data" if got == old else "never: a mix of old and new")
PYEOF
kp=$!
k_ready() { [[ -e $STATE/k.ready ]]; }
poll_until "$GF_WAIT_SECS" k_ready || fail "the reader of k did not start"
check "mount 2 overwrites k (same size) while mount 1's reader keeps it open" \
	dd if="$STATE/v9" of="$B/k" bs=64k conv=notrunc status=none
touch "$STATE/k.go"
wait "$kp"
expect_eq "the reader on mount 1 reads mount 2's data through the descriptor it kept" seen \
	"$(cat "$STATE/k.out")"

# ---- directory attributes from mutation replies --------------------------------------
mkdir "$A/dc" || die "mkdir dc"
before=$(mount_stat "$A" gfmd_calls)
py 'for i in range(50):
    os.close(os.open(M + "/dc/f%d" % i, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))' ||
	die "50 creates"
calls=$(($(mount_stat "$A" gfmd_calls) - before))
# per create: the LOOKUP that finds no entry, CREATE, RELEASE; not the
# GETATTR of the directory the kernel sends before the next one
[[ $calls -le 160 ]] && ok "50 creates in a row took $calls gfmd calls (at most 3 each)" ||
	fail "50 creates in a row took $calls gfmd calls (at most 3 each)"
# a new file's first write asks gfmd nothing (no security.capability on a
# file just made): per file LOOKUP, CREATE, the close's CLOSE_WRITE, RELEASE
before=$(mount_stat "$A" gfmd_calls)
py 'for i in range(50):
    fd = os.open(M + "/dc/w%d" % i, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    os.write(fd, b"x" * 3000)
    os.close(fd)' || die "50 creates and writes"
calls=$(($(mount_stat "$A" gfmd_calls) - before))
[[ $calls -le 210 ]] && ok "50 files made and written took $calls gfmd calls (at most 4 each)" ||
	fail "50 files made and written took $calls gfmd calls (at most 4 each)"
dir_attrs() { stat -c '%i %h %a %Y %Z %y %z' "$1/dc"; }
seen_by_b() { [[ $(dir_attrs "$B") == "$(dir_attrs "$A")" ]]; }
check "mount 1's cached attributes of the directory are gfmd's (mount 2 agrees)" \
	poll_until "$GF_WAIT_SECS" seen_by_b

# another change of this mount to the directory, right after a create in it
ctime_ns() { stat -c %.9Z "$1"; }
py 'os.close(os.open(M + "/dc/g", os.O_CREAT | os.O_WRONLY, 0o644))' || die "create g"
c1=$(ctime_ns "$A/dc")
check "setxattr on the directory" setfattr -n user.k -v v "$A/dc"
c2=$(ctime_ns "$A/dc")
[[ $c2 != "$c1" ]] && ok "setxattr after a create: its new ctime is seen at once" ||
	fail "setxattr after a create: its new ctime is seen at once ($c1 -> $c2)"
check "mount 2 agrees" poll_until "$GF_WAIT_SECS" seen_by_b
py 'os.unlink(M + "/dc/g")' || die "unlink g"
check "chmod of the directory right after an unlink in it" chmod 0750 "$A/dc"
expect_eq "its mode is seen at once" 750 "$(stat -c %a "$A/dc")"
check "mount 2 agrees" poll_until "$GF_WAIT_SECS" seen_by_b
mkdir "$A/dc/sub" || die "mkdir sub"
expect_eq "a mkdir in it: its link count is seen at once" 3 "$(stat -c %h "$A/dc")"
check "rename of the subdirectory out" mv "$A/dc/sub" "$A/sub2"
expect_eq "... the link count drops at once" 2 "$(stat -c %h "$A/dc")"
check "mount 2 agrees" poll_until "$GF_WAIT_SECS" seen_by_b

# ---- a file's attributes after this mount's own changes -------------------------------
# FUSE drops a file's size, mtime and ctime at every WRITE; the fstat after
# each write (git's pattern) is answered from gfmd's replies this mount
# already has, with the writer's own size and mtime over them
before=$(mount_stat "$A" gfmd.getattr)
py 'fd = os.open(M + "/dc/fs", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
for i in range(50):
    os.write(fd, b"y" * 1000)
    st = os.fstat(fd)
    assert st.st_size == (i + 1) * 1000, (i, st.st_size)
os.close(fd)
st = os.stat(M + "/dc/fs")
assert st.st_size == 50000, st.st_size' || fail "50 writes, each fstat showing its size"
n=$(($(mount_stat "$A" gfmd.getattr) - before))
[[ $n -le 5 ]] && ok "50 writes, each followed by fstat with its size: $n gfmd GETATTRs" ||
	fail "50 writes, each followed by fstat with its size: $n gfmd GETATTRs (at most 5)"
# the first read open of a file just written moves its atime (relatime):
# the open's reply has it, and the fstat right after is answered from it
py 'for i in range(20):
    with open(M + "/dc/r%d" % i, "wb") as f:
        f.write(b"r" * 100)' || fail "20 files written"
before=$(mount_stat "$A" gfmd.getattr)
py 'for i in range(20):
    fd = os.open(M + "/dc/r%d" % i, os.O_RDONLY)
    st = os.fstat(fd)
    assert st.st_size == 100 and st.st_atime_ns >= st.st_mtime_ns, st
    os.close(fd)' || fail "20 read opens, each followed by fstat"
n=$(($(mount_stat "$A" gfmd.getattr) - before))
[[ $n -le 2 ]] && ok "20 read opens, each followed by fstat with the moved atime: $n gfmd GETATTRs" ||
	fail "20 read opens, each followed by fstat with the moved atime: $n gfmd GETATTRs (at most 2)"
file_attrs() { stat -c '%i %s %h %a %Y %Z %y %z' "$1/dc/$2"; }
file_seen_by_b() { [[ $(file_attrs "$B" "$1") == "$(file_attrs "$A" "$1")" ]]; }
check "mount 2 sees the same size, times and mode" poll_until "$GF_WAIT_SECS" file_seen_by_b fs
# every change of this mount to the file is seen at once, never the
# attributes gfmd gave before it
check "chmod of the file" chmod 0600 "$A/dc/fs"
expect_eq "its mode is seen at once" 600 "$(stat -c %a "$A/dc/fs")"
check "a hard link to it" ln "$A/dc/fs" "$A/dc/fs.link"
# (%h alone: the kernel keeps the count it changed itself; %Z asks again)
expect_eq "its link count is seen at once" 2 "$(stat -c '%h %Z' "$A/dc/fs" | cut -d' ' -f1)"
check "the link removed" rm "$A/dc/fs.link"
expect_eq "its link count drops at once" 1 "$(stat -c '%h %Z' "$A/dc/fs" | cut -d' ' -f1)"
c1=$(ctime_ns "$A/dc/fs")
check "setxattr on the file" setfattr -n user.k -v v "$A/dc/fs"
c2=$(ctime_ns "$A/dc/fs")
[[ $c2 != "$c1" ]] && ok "its new ctime is seen at once" ||
	fail "its new ctime is seen at once ($c1 -> $c2)"
check "rename of the file" mv "$A/dc/fs" "$A/dc/fs2"
c3=$(ctime_ns "$A/dc/fs2")
[[ $c3 != "$c2" ]] && ok "the rename's ctime is seen at once" ||
	fail "the rename's ctime is seen at once ($c2 -> $c3)"
expect_eq "a truncating open: size 0 at once" 0 \
	"$(py 'os.close(os.open(M + "/dc/fs2", os.O_WRONLY | os.O_TRUNC))
print(os.stat(M + "/dc/fs2").st_size)')"
check "mount 1 appends 10 bytes" bash -c "printf 0123456789 >>'$A/dc/fs2'"
expect_eq "the size after its close" 10 "$(stat -c %s "$A/dc/fs2")"
check "mount 2 agrees" poll_until "$GF_WAIT_SECS" file_seen_by_b fs2

# a lock is where mounts take turns on a file they keep open for writing
# (SQLite): what another mount wrote under its lock shows at this mount's
# next lock, even though this mount writes the file and keeps what gfmd
# told it of it
expect_errno "mount 2's write under its lock is seen by mount 1's fstat under its own" OK '
import fcntl
fd1 = os.open(M + "/dc/lk", os.O_CREAT | os.O_RDWR, 0o644)
os.write(fd1, b"a" * 100)
assert os.fstat(fd1).st_size == 100
fcntl.lockf(fd1, fcntl.LOCK_EX)
fcntl.lockf(fd1, fcntl.LOCK_UN)
os.pwrite(fd1, b"c", 0)
assert os.fstat(fd1).st_size == 100  # (asked at gfmd, kept: mount 1 writes it)
fd2 = os.open(M2 + "/dc/lk", os.O_RDWR)
fcntl.lockf(fd2, fcntl.LOCK_EX)
os.pwrite(fd2, b"b" * 100, 1000)
fcntl.lockf(fd2, fcntl.LOCK_UN)
fcntl.lockf(fd1, fcntl.LOCK_EX)
st = os.fstat(fd1)
assert st.st_size == 1100, st.st_size
assert os.pread(fd1, 100, 1000) == b"b" * 100
fcntl.lockf(fd1, fcntl.LOCK_UN)
os.close(fd2)
os.close(fd1)'

# ---- close-to-open includes the size ---------------------------------------------------------
# Mount 2 caches attributes for a minute: what its next open sees of mount
# 1's rewrites must come from that open, not from the attribute cache.
check_here "mount 2 again, caching attributes for 60 s" \
	eval 'gf_umount 2 && gf_mount 2 -o attr_timeout=60' || die "cannot mount 2 again"
head -c 1000 /dev/urandom >"$STATE/s1"
head -c 70000 /dev/urandom >"$STATE/s2"
head -c 100 /dev/urandom >"$STATE/s3"
head -c 100 /dev/urandom >"$STATE/s4"
# (a read from the cache sends no READ: nothing then makes the kernel ask
# for attributes again, as a READ's atime update does)
reads_twice() { cmp -s "$1" "$2" && cmp -s "$1" "$2"; }
check "mount 1 writes s (1000 bytes)" cp "$STATE/s1" "$A/s"
check "mount 2 reads it twice" reads_twice "$STATE/s1" "$B/s"
check "mount 1 rewrites it longer (70000 bytes)" cp "$STATE/s2" "$A/s"
check "mount 2's next open reads all of it" reads_twice "$STATE/s2" "$B/s"
expect_eq "and mount 2's stat shows its size" 70000 "$(stat -c %s "$B/s")"
check "mount 1 rewrites it shorter (100 bytes)" cp "$STATE/s3" "$A/s"
check "mount 2's next open reads just that" reads_twice "$STATE/s3" "$B/s"
expect_eq "and its stat shows the size" 100 "$(stat -c %s "$B/s")"
check "mount 1 rewrites it, same size" cp "$STATE/s4" "$A/s"
check "mount 2's next open reads the new bytes" reads_twice "$STATE/s4" "$B/s"
m_a=$(stat -c %.9Y "$A/s")
expect_eq "and its stat shows mount 1's mtime" "$m_a" "$(stat -c %.9Y "$B/s")"
check "mount 1 appends to it" sh -c "cat '$STATE/s1' >>'$A/s'"
cat "$STATE/s4" "$STATE/s1" >"$STATE/s5"
check "mount 2's next open reads the whole file" reads_twice "$STATE/s5" "$B/s"

it_done
