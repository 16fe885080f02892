#!/bin/bash
# Every file system operation of the mount, with its error cases, on a real
# cluster (PostgreSQL, gfmd, 3 gfsd, one mount). Errno values are checked
# exactly with python; EACCES/EPERM as the unprivileged user nobody.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
it_require getfattr setfattr mkfifo truncate
it_cluster_up --gfsd 3 --mounts 1

D=$MOUNT/basic
L=$STATE/local # the same operations on a local directory, to compare
mkdir -p "$L"
check "mkdir" mkdir "$D" || die "cannot even mkdir on the mount"

# ---- mount options ------------------------------------------------------------
opts=$(awk -v m="$MOUNT" '$2 == m { print $3 " " $4 }' /proc/mounts)
case $opts in fuse*) ok "mounted as a FUSE file system ($opts)" ;; *) fail "mount type: $opts" ;; esac
case $opts in *allow_other*) ok "allow_other on by default for root" ;; *) fail "no allow_other: $opts" ;; esac
case $opts in *default_permissions*) ok "default_permissions on by default for root" ;;
*) fail "no default_permissions: $opts" ;; esac

# ---- directories ----------------------------------------------------------------
check "mkdir nested" mkdir -p "$D/a/b/c"
expect_eq "new directory is a directory" directory "$(stat -c %F "$D/a/b/c" 2>&1)"
expect_eq "directory mode after mkdir -m 750" 750 "$(mkdir -m 750 "$D/m750" && stat -c %a "$D/m750" 2>&1)"
expect_errno "mkdir over an existing directory: EEXIST" EEXIST 'os.mkdir(M + "/basic/a")'
expect_errno "mkdir in a missing parent: ENOENT" ENOENT 'os.mkdir(M + "/basic/nope/x")'
expect_errno "mkdir under a regular file: ENOTDIR" ENOTDIR 'write_file(M + "/basic/plain", b"x"); os.mkdir(M + "/basic/plain/x")'
expect_errno "rmdir of a non-empty directory: ENOTEMPTY" ENOTEMPTY 'os.rmdir(M + "/basic/a")'
expect_errno "rmdir of a file: ENOTDIR" ENOTDIR 'os.rmdir(M + "/basic/plain")'
expect_errno "rmdir of a missing directory: ENOENT" ENOENT 'os.rmdir(M + "/basic/nope")'
expect_errno "unlink of a directory: EISDIR" EISDIR 'os.unlink(M + "/basic/a")'
expect_errno "256-byte name: ENAMETOOLONG" ENAMETOOLONG 'os.mkdir(M + "/basic/" + "n" * 256)'
check "255-byte name works" mkdir "$D/$(printf 'n%.0s' {1..255})"
check "rmdir of an empty directory" rmdir "$D/a/b/c"
expect_errno "stat after rmdir: ENOENT" ENOENT 'os.stat(M + "/basic/a/b/c")'
check "mount still answers after the error cases" stat "$D/a/b"

# ---- regular files: create, write, read -----------------------------------------
echo "hello gfarmfs" >"$D/hello" 2>/dev/null
expect_eq "write then read a small file" "hello gfarmfs" "$(cat "$D/hello" 2>&1)"
expect_eq "size of a small file" 14 "$(stat -c %s "$D/hello" 2>&1)"
expect_errno "O_CREAT|O_EXCL on an existing file: EEXIST" EEXIST 'creat_excl(M + "/basic/hello")'
expect_errno "open of a missing file: ENOENT" ENOENT 'os.open(M + "/basic/missing", os.O_RDONLY)'
expect_errno "open a directory for writing: EISDIR" EISDIR 'os.open(M + "/basic/a", os.O_WRONLY)'
expect_errno "O_CREAT|O_EXCL of a new file" OK 'creat_excl(M + "/basic/excl")'
expect_eq "an empty new file has size 0" 0 "$(stat -c %s "$D/excl" 2>&1)"

dd if=/dev/urandom of="$L/rand" bs=64k count=50 status=none # 3.2 MB, not block aligned below
head -c 3276799 "$L/rand" >"$L/r1"
check "copy a 3 MB file onto the mount" cp "$L/r1" "$D/r1"
check "read back identical" cmp "$L/r1" "$D/r1"
expect_eq "size of the copy" 3276799 "$(stat -c %s "$D/r1" 2>&1)"
# Partial overwrite in the middle, append, and the same locally.
for f in "$L/r1" "$D/r1"; do
	printf 'MIDDLE' | dd of="$f" bs=1 seek=1000000 conv=notrunc status=none
	printf 'TAIL' >>"$f"
done
check "overwrite in the middle and append" cmp "$L/r1" "$D/r1"
# A sparse file: a hole reads as zeros.
for f in "$L/sparse" "$D/sparse"; do
	printf 'end' | dd of="$f" bs=1 seek=$((10 * 1024 * 1024)) status=none
done
check "sparse file reads zeros in the hole" cmp "$L/sparse" "$D/sparse"
expect_eq "sparse file size" $((10 * 1024 * 1024 + 3)) "$(stat -c %s "$D/sparse" 2>&1)"
# O_TRUNC and O_APPEND from python.
expect_errno "O_TRUNC rewrite" OK 'write_file(M + "/basic/hello", b"new")'
expect_eq "O_TRUNC gives the new content only" "new" "$(cat "$D/hello" 2>&1)"
expect_errno "O_APPEND" OK 'write_file(M + "/basic/hello", b"+more", os.O_WRONLY | os.O_APPEND)'
expect_eq "O_APPEND appends" "new+more" "$(cat "$D/hello" 2>&1)"
expect_errno "pread/pwrite on one descriptor" OK '
fd = os.open(M + "/basic/rw", os.O_RDWR | os.O_CREAT, 0o644)
os.pwrite(fd, b"abcdefgh", 0)
os.pwrite(fd, b"XY", 3)
assert os.pread(fd, 8, 0) == b"abcXYfgh", os.pread(fd, 8, 0)
os.fsync(fd)
os.close(fd)
assert read_file(M + "/basic/rw") == b"abcXYfgh"'
expect_errno "fsync and fdatasync" OK '
fd = os.open(M + "/basic/hello", os.O_WRONLY)
os.fsync(fd)
os.fdatasync(fd)
os.close(fd)'

# ---- truncate ------------------------------------------------------------------
cp "$L/r1" "$D/t" 2>/dev/null
cp "$L/r1" "$L/t"
for f in "$L/t" "$D/t"; do truncate -s 100 "$f"; done
expect_eq "truncate shrinks" 100 "$(stat -c %s "$D/t" 2>&1)"
check "truncated content is the prefix" cmp "$L/t" "$D/t"
for f in "$L/t" "$D/t"; do truncate -s 200000 "$f"; done
expect_eq "truncate extends" 200000 "$(stat -c %s "$D/t" 2>&1)"
check "extended part reads zeros" cmp "$L/t" "$D/t"
expect_errno "ftruncate on an open file" OK '
fd = os.open(M + "/basic/t", os.O_RDWR)
os.ftruncate(fd, 7)
os.close(fd)
assert os.stat(M + "/basic/t").st_size == 7'
expect_errno "O_TRUNC open empties a file" OK '
os.close(os.open(M + "/basic/t", os.O_WRONLY | os.O_TRUNC))
assert os.stat(M + "/basic/t").st_size == 0'
expect_errno "truncate of a missing file: ENOENT" ENOENT 'os.truncate(M + "/basic/missing", 0)'

# ---- lazy replicas: a replica file exists only once the file has data ---------
# replica_files FILE: how many spool files hold FILE's replicas
replica_files() {
	find "$STATE"/node*/spool/data -name "$(printf '%016x' "$(stat -c %i "$1")")-????????????????" | wc -l
}
expect_errno "create and close an empty file" OK 'creat_excl(M + "/basic/lazy")'
expect_eq "an empty file has no replica file" 0 "$(replica_files "$D/lazy")"
expect_eq "an empty file reads empty" "" "$(cat "$D/lazy" 2>&1)"
expect_errno "open for writing without a write" OK 'os.close(os.open(M + "/basic/lazy", os.O_RDWR))'
expect_eq "still no replica file after reads and an unwritten open" 0 "$(replica_files "$D/lazy")"
check "truncate an empty file to 5 bytes" truncate -s 5 "$D/lazy"
expect_errno "the grown file reads as zeros" OK '
assert open(M + "/basic/lazy", "rb").read() == bytes(5)'
expect_eq "growing it made its replica file" 1 "$(replica_files "$D/lazy")"
check "truncate another empty file to 0" truncate -s 0 "$D/excl"
expect_eq "cutting an empty file to 0 makes no replica file" 0 "$(replica_files "$D/excl")"
printf data >"$D/lost"
find "$STATE"/node*/spool/data -name "$(printf '%016x' "$(stat -c %i "$D/lost")")-????????????????" -delete
# A cache of the write (the kernel's or the client's) may still serve the
# bytes that were written, so poll: every read gives those bytes or EIO,
# never anything else, and EIO comes (GF_WAIT_SECS only guards a hang).
expect_errno "a file with data whose replica file is gone reads EIO (never other bytes)" EIO "
import time
end = time.monotonic() + $GF_WAIT_SECS
while True:
    got = open(M + '/basic/lost', 'rb').read()
    assert got == b'data', 'read %r from a file whose replica is gone' % got
    assert time.monotonic() < end, 'still served from a cache after $GF_WAIT_SECS s'
    time.sleep(0.05)"
expect_errno "and writing to it (no silent re-creation) is EIO too" EIO '
fd = os.open(M + "/basic/lost", os.O_WRONLY)
try:
    os.write(fd, b"x")
finally:
    os.close(fd)'
rm -f "$D/lost"

# ---- attributes: chmod, chown, utimens --------------------------------------------
check "chmod" chmod 640 "$D/hello"
expect_eq "mode after chmod" 640 "$(stat -c %a "$D/hello" 2>&1)"
check "chmod with setgid and sticky bits on a directory" chmod 3775 "$D/m750"
expect_eq "mode with special bits" 3775 "$(stat -c %a "$D/m750" 2>&1)"
check "chown" chown 65534:65534 "$D/hello"
expect_eq "owner after chown" "65534:65534" "$(stat -c %u:%g "$D/hello" 2>&1)"
check "chgrp only" chgrp 0 "$D/hello"
expect_eq "owner after chgrp" "65534:0" "$(stat -c %u:%g "$D/hello" 2>&1)"
check "set mtime" touch -m -d '2001-02-03 04:05:06 UTC' "$D/hello"
expect_eq "mtime after touch -m" 981173106 "$(stat -c %Y "$D/hello" 2>&1)"
check "set atime" touch -a -d '2002-02-03 04:05:06 UTC' "$D/hello"
expect_eq "atime after touch -a" 1012709106 "$(stat -c %X "$D/hello" 2>&1)"
expect_eq "mtime kept by touch -a" 981173106 "$(stat -c %Y "$D/hello" 2>&1)"
expect_errno "utimens with nanoseconds" OK '
os.utime(M + "/basic/rw", ns=(1500000000123456789, 1600000000987654321))
st = os.stat(M + "/basic/rw")
assert st.st_mtime_ns == 1600000000987654321, st.st_mtime_ns
assert st.st_atime_ns == 1500000000123456789, st.st_atime_ns'
# (mtime was set to 2020 above: a write now must move it forward, no need
# to wait for the clock to tick past it)
before=$(stat -c %Y "$D/rw")
echo more >>"$D/rw"
after=$(stat -c %Y "$D/rw")
if ((after > before)); then ok "a write updates mtime"; else fail "mtime $before -> $after after a write"; fi
expect_errno "chmod of a missing file: ENOENT" ENOENT 'os.chmod(M + "/basic/missing", 0o600)'
expect_errno "access(R_OK|W_OK) as root" OK 'assert os.access(M + "/basic/hello", os.R_OK | os.W_OK)'

# ---- symlinks -----------------------------------------------------------------
check "symlink" ln -s hello "$D/sl"
expect_eq "readlink" hello "$(readlink "$D/sl" 2>&1)"
expect_eq "lstat says symlink" "symbolic link" "$(stat -c %F "$D/sl" 2>&1)"
expect_eq "reading through a symlink" "new+more" "$(cat "$D/sl" 2>&1)"
check "symlink to a long absolute target" ln -s "/$(printf 'x%.0s' {1..1000})/target" "$D/longsl"
target=$(readlink "$D/longsl")
expect_eq "readlink of a long target" 1008 "${#target}"
check "dangling symlink" ln -s does-not-exist "$D/dangling"
expect_errno "following a dangling symlink: ENOENT" ENOENT 'os.stat(M + "/basic/dangling")'
expect_errno "symlink over an existing name: EEXIST" EEXIST 'os.symlink("x", M + "/basic/hello")'
expect_errno "readlink of a regular file: EINVAL" EINVAL 'os.readlink(M + "/basic/hello")'

# ---- hard links --------------------------------------------------------------------
printf 'linked' >"$D/orig"
check "hard link" ln "$D/orig" "$D/hl"
expect_eq "nlink 2 after link" 2 "$(stat -c %h "$D/orig" 2>&1)"
expect_eq "same inode" "$(stat -c %i "$D/orig" 2>&1)" "$(stat -c %i "$D/hl" 2>&1)"
check "hard link into another directory" ln "$D/orig" "$D/a/hl2"
expect_eq "nlink 3" 3 "$(stat -c %h "$D/hl" 2>&1)"
check "unlink one name" rm "$D/orig"
expect_eq "content through the other name" linked "$(cat "$D/hl" 2>&1)"
expect_eq "nlink 2 after unlink" 2 "$(stat -c %h "$D/hl" 2>&1)"
expect_errno "link over an existing name: EEXIST" EEXIST 'os.link(M + "/basic/hl", M + "/basic/hello")'
expect_errno "link of a directory: EPERM" EPERM 'os.link(M + "/basic/a", M + "/basic/alink")'
expect_errno "link of a missing file: ENOENT" ENOENT 'os.link(M + "/basic/missing", M + "/basic/x")'

# ---- mknod (fifo) ------------------------------------------------------------------
check "mkfifo" mkfifo "$D/fifo"
expect_eq "fifo type" fifo "$(stat -c %F "$D/fifo" 2>&1)"

# ---- rename ------------------------------------------------------------------------
printf one >"$D/r_a"
printf two >"$D/r_b"
check "rename a file" mv "$D/r_a" "$D/r_c"
expect_errno "old name gone after rename: ENOENT" ENOENT 'os.stat(M + "/basic/r_a")'
expect_eq "new name has the content" one "$(cat "$D/r_c" 2>&1)"
expect_errno "rename over an existing file" OK 'os.rename(M + "/basic/r_c", M + "/basic/r_b")'
expect_eq "target replaced" one "$(cat "$D/r_b" 2>&1)"
expect_errno "source gone after replacing rename" ENOENT 'os.stat(M + "/basic/r_c")'
check "rename into another directory" mv "$D/r_b" "$D/a/b/r_b"
expect_eq "content after a cross-directory rename" one "$(cat "$D/a/b/r_b" 2>&1)"
mkdir -p "$D/rd1/sub" "$D/rd2" "$D/full/x"
printf k >"$D/rd1/sub/k"
check "rename a directory" mv "$D/rd1" "$D/rd3"
expect_eq "directory content follows" k "$(cat "$D/rd3/sub/k" 2>&1)"
expect_errno "rename a directory over an empty directory" OK 'os.rename(M + "/basic/rd3", M + "/basic/rd2")'
expect_eq "content after replacing an empty directory" k "$(cat "$D/rd2/sub/k" 2>&1)"
expect_errno "rename a directory over a non-empty one: ENOTEMPTY" ENOTEMPTY 'os.rename(M + "/basic/rd2", M + "/basic/full")'
expect_errno "rename a file over a directory: EISDIR" EISDIR 'os.rename(M + "/basic/hl", M + "/basic/full")'
expect_errno "rename a directory over a file: ENOTDIR" ENOTDIR 'os.rename(M + "/basic/full", M + "/basic/hl")'
expect_errno "rename a directory into itself: EINVAL" EINVAL 'os.rename(M + "/basic/rd2", M + "/basic/rd2/sub/in")'
expect_errno "rename of a missing name: ENOENT" ENOENT 'os.rename(M + "/basic/missing", M + "/basic/x")'
expect_errno "RENAME_NOREPLACE onto an existing name: EEXIST" EEXIST 'renameat2(M + "/basic/hl", M + "/basic/hello", RENAME_NOREPLACE)'
expect_eq "RENAME_NOREPLACE left both files" "linked new+more" "$(cat "$D/hl" 2>&1) $(cat "$D/hello" 2>&1)"
expect_errno "RENAME_NOREPLACE onto a free name" OK 'renameat2(M + "/basic/hl", M + "/basic/hl_moved", RENAME_NOREPLACE)'
expect_eq "content after RENAME_NOREPLACE" linked "$(cat "$D/hl_moved" 2>&1)"
expect_errno "rename onto itself is a no-op" OK 'os.rename(M + "/basic/hello", M + "/basic/hello"); assert os.path.exists(M + "/basic/hello")'

# ---- cross-device -------------------------------------------------------------------
expect_errno "rename from the mount to a local directory: EXDEV" EXDEV "os.rename(M + '/basic/hl_moved', '$L/x')"
expect_errno "hard link from the mount to a local directory: EXDEV" EXDEV "os.link(M + '/basic/hl_moved', '$L/x')"

# ---- unlink -------------------------------------------------------------------------
check "unlink" rm "$D/excl"
expect_errno "unlink twice: ENOENT" ENOENT 'os.unlink(M + "/basic/excl")'
expect_errno "an open file survives its unlink" OK '
p = M + "/basic/openunlinked"
write_file(p, b"still here")
fd = os.open(p, os.O_RDONLY)
os.unlink(p)
assert not os.path.exists(p)
assert os.pread(fd, 100, 0) == b"still here"
os.close(fd)'

# ---- readdir ------------------------------------------------------------------------
mkdir "$D/list"
for i in $(seq 1 300); do : >"$D/list/f$i"; done
# shellcheck disable=SC2012  # ls is the point here
expect_eq "ls shows all 300 entries" 300 "$(ls "$D/list" | wc -l)"
expect_eq "every name listed once" "$(seq 1 300 | sed 's/^/f/' | sort)" "$(find "$D/list" -mindepth 1 -printf '%f\n' | sort)"
# shellcheck disable=SC2012
expect_eq "ls -a adds . and .." 302 "$(ls -a "$D/list" | wc -l)"
expect_errno "readdir inode numbers match stat" OK '
d = M + "/basic/list"
for e in os.scandir(d):
    assert e.inode() == os.stat(d + "/" + e.name).st_ino, e.name'
expect_errno "readdir of a file: ENOTDIR" ENOTDIR 'os.listdir(M + "/basic/hello")'
expect_errno "readdir of a missing directory: ENOENT" ENOENT 'os.listdir(M + "/basic/missing")'
expect_eq "a new directory has nlink 2" 2 "$(mkdir "$D/nl" && stat -c %h "$D/nl" 2>&1)"

# ---- statfs ------------------------------------------------------------------------
expect_errno "statfs reports blocks and a name limit" OK '
s = os.statvfs(M)
assert s.f_blocks > 0 and s.f_bsize > 0 and s.f_namemax >= 255, s'
check "df on the mount" df -P "$MOUNT"

# ---- user xattrs ---------------------------------------------------------------------
check "setxattr" setfattr -n user.color -v blue "$D/hello"
expect_eq "getxattr" blue "$(getfattr --absolute-names --only-values -n user.color "$D/hello" 2>&1)"
check "setxattr on a directory" setfattr -n user.dir -v 1 "$D/a"
expect_eq "listxattr" user.color "$(getfattr -m - --absolute-names "$D/hello" 2>/dev/null | grep -v '^#' | grep -v '^$')"
expect_errno "binary xattr value round trip" OK '
v = bytes(range(256)) * 16
os.setxattr(M + "/basic/hello", "user.bin", v)
assert os.getxattr(M + "/basic/hello", "user.bin") == v'
expect_errno "XATTR_CREATE on an existing xattr: EEXIST" EEXIST 'os.setxattr(M + "/basic/hello", "user.color", b"red", os.XATTR_CREATE)'
expect_errno "XATTR_REPLACE on a missing xattr: ENODATA" ENODATA 'os.setxattr(M + "/basic/hello", "user.none", b"red", os.XATTR_REPLACE)'
expect_errno "XATTR_REPLACE on an existing xattr" OK 'os.setxattr(M + "/basic/hello", "user.color", b"red", os.XATTR_REPLACE); assert os.getxattr(M + "/basic/hello", "user.color") == b"red"'
check "removexattr" setfattr -x user.color "$D/hello"
expect_errno "getxattr after remove: ENODATA" ENODATA 'os.getxattr(M + "/basic/hello", "user.color")'
expect_errno "removexattr of a missing xattr: ENODATA" ENODATA 'os.removexattr(M + "/basic/hello", "user.color")'

# ---- permissions as an unprivileged user -----------------------------------------------
mkdir -m 700 "$D/private"
printf secret >"$D/private/s"
mkdir -m 755 "$D/ro"
printf r >"$D/ro/file"
chmod 644 "$D/ro/file"
printf s >"$D/secret600"
chmod 600 "$D/secret600"
mkdir -m 1777 "$D/sticky"
printf root >"$D/sticky/rootfile"
chmod 666 "$D/sticky/rootfile"
mkdir -m 777 "$D/open"
printf root >"$D/open/rootfile"
expect_errno --as nobody "nobody lists a 700 root directory: EACCES" EACCES 'os.listdir(M + "/basic/private")'
expect_errno --as nobody "nobody stats inside a 700 root directory: EACCES" EACCES 'os.stat(M + "/basic/private/s")'
expect_errno --as nobody "nobody creates in a 755 root directory: EACCES" EACCES 'creat_excl(M + "/basic/ro/new")'
expect_errno --as nobody "nobody mkdirs in a 755 root directory: EACCES" EACCES 'os.mkdir(M + "/basic/ro/new")'
expect_errno --as nobody "nobody unlinks in a 755 root directory: EACCES" EACCES 'os.unlink(M + "/basic/ro/file")'
expect_errno --as nobody "nobody reads a 600 root file: EACCES" EACCES 'read_file(M + "/basic/secret600")'
expect_errno --as nobody "nobody writes a 644 root file: EACCES" EACCES 'os.open(M + "/basic/ro/file", os.O_WRONLY)'
expect_errno --as nobody "nobody truncates a 644 root file: EACCES" EACCES 'os.truncate(M + "/basic/ro/file", 0)'
expect_errno --as nobody "nobody chmods a root file: EPERM" EPERM 'os.chmod(M + "/basic/ro/file", 0o777)'
expect_errno --as nobody "nobody chowns a root file: EPERM" EPERM 'os.chown(M + "/basic/ro/file", 65534, 65534)'
expect_errno --as nobody "nobody sets times of a root file: EPERM" EPERM 'os.utime(M + "/basic/ro/file", (1, 1))'
expect_errno --as nobody "nobody sets a user xattr on a root file: EACCES" EACCES 'os.setxattr(M + "/basic/ro/file", "user.x", b"1")'
expect_errno --as nobody "nobody reads a 644 root file" OK 'assert read_file(M + "/basic/ro/file") == b"r"'
expect_errno --as nobody "nobody creates and writes in a 1777 directory" OK '
write_file(M + "/basic/sticky/mine", b"nobody was here")
st = os.stat(M + "/basic/sticky/mine")
assert (st.st_uid, st.st_gid) == (65534, 65534), (st.st_uid, st.st_gid)'
expect_errno --as nobody "sticky: nobody cannot unlink root's file: EPERM" EPERM 'os.unlink(M + "/basic/sticky/rootfile")'
expect_errno --as nobody "sticky: nobody cannot rename root's file: EPERM" EPERM 'os.rename(M + "/basic/sticky/rootfile", M + "/basic/sticky/moved")'
expect_errno --as nobody "without sticky: nobody unlinks root's file in a 777 directory" OK 'os.unlink(M + "/basic/open/rootfile")'
expect_errno --as nobody "nobody unlinks its own file in a sticky directory" OK 'os.unlink(M + "/basic/sticky/mine")'
expect_errno --as nobody "nobody cannot chmod to give itself access" EPERM 'os.chmod(M + "/basic/private", 0o777)'
expect_errno --as nobody "access(W_OK) denied for nobody" OK 'assert not os.access(M + "/basic/ro/file", os.W_OK)'
expect_eq "root's file in the sticky directory is intact" root "$(cat "$D/sticky/rootfile" 2>&1)"

# ---- the tree as a whole -------------------------------------------------------------
check "rm -rf of the whole test tree" rm -rf "$D"
expect_errno "tree gone" ENOENT 'os.stat(M + "/basic")'
expect_eq "root directory is empty again" "" "$(ls -A "$MOUNT" 2>&1)"

it_done
