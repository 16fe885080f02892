#!/bin/bash
# Everyday programs on the mount (issue 11), beside local ext4:
#   timestamps set on an open file survive its close (tar -x, cp -a, and a
#     minimal futimens-then-close);
#   replace-by-rename on one mount is never ENOENT on another (ESTALE makes
#     the kernel look the name up again);
#   errors an application gets are logged by the daemon that decided them,
#     once per error and rate-limited;
#   `cluster down` without --state never stops someone else's cluster;
#   fallocate (mode 0, KEEP_SIZE, PUNCH_HOLE, ZERO_RANGE; others refused
#     without a trace), st_blocks of sparse files (du) and SEEK_DATA /
#     SEEK_HOLE, from the writer's mount and from another, beside ext4;
#   rsync -aAX of a tree onto the mount and back out leaves it identical in
#     content, modes, owners, mtimes, symlinks, ACLs and xattrs.
# shellcheck disable=SC2317  # helpers are called through poll_until
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
it_require tar cp find truncate
it_cluster_up --gfsd 2 --mounts 2
A=$MOUNT B=$MOUNT2

# ---- timestamps set on an open file survive its close --------------------------------
expect_errno "futimens on a file being written, then close: the mtime stays" OK '
fd = os.open(M + "/t", os.O_CREAT | os.O_WRONLY, 0o644)
os.write(fd, b"data")
os.utime(fd, ns=(1000000000123456789, 1000000000123456789))
os.close(fd)
st = os.stat(M + "/t")
assert st.st_mtime_ns == 1000000000123456789, st.st_mtime_ns'
expect_errno "a write after the futimens moves it again, as on ext4" OK '
fd = os.open(M + "/t", os.O_WRONLY | os.O_APPEND)
os.utime(fd, ns=(1000000000, 1000000000))
os.write(fd, b"more")
os.close(fd)
assert os.stat(M + "/t").st_mtime_ns > 1000000000'

SRC=$STATE/src
mkdir -p "$SRC/a/b" "$SRC/c"
head -c 300000 /dev/urandom >"$SRC/a/big"
echo small >"$SRC/a/b/small"
: >"$SRC/c/empty"
ln -s ../a/big "$SRC/c/link"
chmod 640 "$SRC/a/big"
chmod 751 "$SRC/a/b"
touch -h -d '2001-02-03 04:05:06.123456789' "$SRC/a/big" "$SRC/a/b/small" "$SRC/c/empty" "$SRC/c/link"
touch -d '2002-03-04 05:06:07' "$SRC/a/b" "$SRC/c" "$SRC/a"
# listing ROOT: every entry with its type, mode and mtime (ns)
listing() { (cd "$1" && find . -mindepth 1 -printf '%P %y %m %T@\n' | sort); }
# (pax keeps nanoseconds; the default GNU format keeps whole seconds)
tar --format=posix -C "$SRC" -cf "$STATE/src.tar" . || die "tar -c"
mkdir "$A/untar" || die "mkdir"
check "tar -x onto the mount" tar -C "$A/untar" -xf "$STATE/src.tar"
expect_eq "tar -x keeps every mtime and mode" "$(listing "$SRC")" "$(listing "$A/untar")"
check "cp -a onto the mount" cp -a "$SRC" "$A/cpa"
expect_eq "cp -a keeps every mtime and mode" "$(listing "$SRC")" "$(listing "$A/cpa")"
check "cp -a back out" cp -a "$A/cpa" "$STATE/back"
expect_eq "and back out again" "$(listing "$SRC")" "$(listing "$STATE/back")"
check "the content too" diff -r "$SRC" "$STATE/back"

# ---- replace-by-rename is never ENOENT on another mount ------------------------------------
echo 0 >"$A/cfg" || die "write cfg"
cat "$B/cfg" >/dev/null || die "mount 2 cannot read cfg"
"$PY" - "$A" "$STATE/renames.done" <<'PYEOF' &
import os, sys
d, done = sys.argv[1:3]
for i in range(1, 301):
    with open(os.path.join(d, "cfg.tmp"), "w") as f:
        f.write("%d\n" % i)
    os.rename(os.path.join(d, "cfg.tmp"), os.path.join(d, "cfg"))
open(done, "w").close()
PYEOF
WR=$!
"$PY" - "$B/cfg" "$STATE/renames.done" >"$STATE/reader.out" <<'PYEOF' &
import os, sys
p, done = sys.argv[1:3]
reads = errors = 0
last = 0
while not os.path.exists(done) or reads < 50:
    try:
        with open(p) as f:
            v = int(f.read() or "0")
        reads += 1
        if v < last:
            print("went back from %d to %d" % (last, v))
        last = max(last, v)
    except OSError as e:
        errors += 1
        print("error: %s" % e)
print("reads %d errors %d" % (reads, errors))
PYEOF
RD=$!
IT_CLEANUP+=("kill $WR $RD")
wait "$WR" || fail "the renaming writer failed"
wait "$RD"
expect_eq "300 replace-by-renames on mount 1: every open on mount 2 found the file" 0 \
	"$(grep -c '^error' "$STATE/reader.out")"
grep -v '^reads' "$STATE/reader.out" | head -3
expect_eq "and never an older version after a newer one" 0 "$(grep -c '^went back' "$STATE/reader.out")"

# ---- errors are logged where they are decided ------------------------------------------------
head -c 200000 /dev/urandom >"$A/lost" || die "write lost"
spool=$(find "$STATE"/node*/spool/data -name "$(printf '%016x' "$(stat -c %i "$A/lost")")-????????????????")
poll_until "$GF_WAIT_SECS" all_sealed "$A/lost" || fail "lost was never sealed"
truncate -s 1000 "$spool"
gf_log_mark "$STATE/mount2.log"
expect_errno "a read of data a replica lacks is EIO" EIO 'read_file(M2 + "/lost")'
# (the replica is sealed: its sums say 200000 bytes, so gfsd refuses it as
# damaged and the mount says so; an unsealed one is judged by its size)
check "the mount that returned it logged why" \
	gf_log_wait "$STATE/mount2.log" 'ends at byte 1000 but the file has 200000|is damaged'
NMOUNTS=3
gf_write_client_conf 3
check_here "a mount without the kernel's permission checks" gf_mount 3 -o no_default_permissions
M3=$(gf_mount_dir 3)
echo secret >"$A/secret" && chmod 600 "$A/secret"
gf_gfmd_log_mark
expect_errno --as nobody "gfmd refuses nobody (the kernel does not check here)" EACCES \
	"open('$M3/secret').read()"
ino=$(stat -c %i "$A/secret")
check "gfmd logged the refusal: op, inode, uid, error" \
	gf_gfmd_log_wait "GFM_OPEN \\(inode $ino, uid 65534\\) refused: Permission denied"
for ((i = 0; i < 40; i++)); do as_user nobody cat "$M3/secret" >/dev/null 2>&1; done
n=$(grep -c "inode $ino, uid 65534) refused" "$STATE/gfmd.log")
if ((n >= 1 && n <= 10)); then ok "41 refusals in a row are logged $n times (rate-limited)"; else fail "41 refusals logged $n times"; fi

# ---- fallocate, st_blocks, SEEK_DATA / SEEK_HOLE ----------------------------------------------
# space DIR_W DIR_R: the same steps on DIR_W (reading back on DIR_R); prints
# one line per observation, compared with ext4's.
space() {
	(cd / && "$PY" - "$1" "$2" <<'PYEOF'
import ctypes, errno, os, sys
w, r = sys.argv[1], sys.argv[2]
libc = ctypes.CDLL(None, use_errno=True)
libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_long, ctypes.c_long]
def falloc(fd, mode, off, ln):
    if libc.fallocate(fd, mode, off, ln) != 0:
        return errno.errorcode[ctypes.get_errno()]
    return "ok"
KEEP, PUNCH, ZERO, INSERT = 0x01, 0x02, 0x10, 0x20
M = 1 << 20
def st(name):
    s = os.stat(r + "/" + name)
    return "size %d blocks %d" % (s.st_size, s.st_blocks)
out = []
# mode 0 grows the file; KEEP_SIZE only reserves
fd = os.open(w + "/alloc", os.O_RDWR | os.O_CREAT, 0o644)
out.append("alloc " + falloc(fd, 0, 0, M))
os.close(fd)
fd = os.open(w + "/keep", os.O_RDWR | os.O_CREAT, 0o644)
out.append("keep " + falloc(fd, KEEP, 0, M))
os.close(fd)
# punch a hole in data, zero a range
fd = os.open(w + "/data", os.O_RDWR | os.O_CREAT, 0o644)
os.write(fd, b"\xab" * M)
out.append("punch " + falloc(fd, PUNCH | KEEP, 65536, 131072))
out.append("zero " + falloc(fd, ZERO, 4096, 4096))
out.append("zero past the end " + falloc(fd, ZERO, M, 8192))
out.append("punch without KEEP_SIZE " + falloc(fd, PUNCH, 0, 4096))
os.close(fd)
# a sparse file: 1 MiB of data at 512 MiB in a 1 GiB file
fd = os.open(w + "/sparse", os.O_RDWR | os.O_CREAT, 0o644)
os.ftruncate(fd, 1 << 30)
os.pwrite(fd, b"\xcd" * M, 512 * M)
os.close(fd)
for n in ("alloc", "keep", "data", "sparse"):
    out.append(n + ": " + st(n))
d = open(r + "/data", "rb").read()
out.append("data: %d bytes; hole %s; zeroed %s; rest %s" % (
    len(d), d[65536:196608] == bytes(131072), d[4096:8192] == bytes(4096),
    d[:4096] + d[8192:65536] + d[196608:M] == b"\xab" * (M - 131072 - 4096)))
fd = os.open(r + "/sparse", os.O_RDONLY)
def seek(off, how):
    try:
        return str(os.lseek(fd, off, how))
    except OSError as e:
        return errno.errorcode[e.errno]
out.append("SEEK_DATA 0: " + seek(0, os.SEEK_DATA))
out.append("SEEK_HOLE 0: " + seek(0, os.SEEK_HOLE))
out.append("SEEK_HOLE 512M: " + seek(512 * M, os.SEEK_HOLE))
out.append("SEEK_DATA 513M: " + seek(513 * M, os.SEEK_DATA))
out.append("SEEK_DATA past the end: " + seek(2 << 30, os.SEEK_DATA))
os.close(fd)
print("\n".join(out))
PYEOF
	) 2>&1
}
mkdir -p "$STATE/space" "$A/space"
want=$(space "$STATE/space" "$STATE/space")
got=$(space "$A/space" "$A/space")
expect_eq "fallocate, st_blocks, SEEK_DATA/SEEK_HOLE on the writer's mount as on ext4" \
	"$want" "$got"
# read back on the other mount (node2; the replicas are on node1: gfsd answers)
mkdir -p "$A/space2" && got2=$(space "$A/space2" "$B/space2")
expect_eq "... and seen from another mount" "$want" "$got2"
blocks_sparse=$(stat -c %b "$A/space/sparse")
if ((blocks_sparse < 4096)); then
	ok "du of a 1 GiB file with 1 MiB of data: $((blocks_sparse / 2)) KiB"
else
	fail "du of a 1 GiB file with 1 MiB of data: $((blocks_sparse / 2)) KiB"
fi
# a mode gfarmfs does not do (ext4 does: INSERT_RANGE): refused, nothing changed
expect_errno "fallocate INSERT_RANGE: EOPNOTSUPP" ENOTSUP '
libc = ctypes.CDLL(None, use_errno=True)
libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_long, ctypes.c_long]
fd = os.open(M + "/space/data", os.O_RDWR)
before = os.pread(fd, 2 << 20, 0)
if libc.fallocate(fd, 0x20, 0, 4096) != 0:
    e = ctypes.get_errno()
    assert os.pread(fd, 2 << 20, 0) == before, "the data changed"
    raise OSError(e, os.strerror(e))'
expect_eq "and the file is as it was" "$(sed -n 's/^data: size/size/p' <<<"$want")" \
	"$(stat -c 'size %s blocks %b' "$A/space/data")"
# fallocate(1) on a new file, as the issue saw it
check "fallocate -l 4M on a new file" fallocate -l 4M "$A/space/new"
expect_eq "it has the size" 4194304 "$(stat -c %s "$A/space/new")"

# ---- short reads and closes racing creates -----------------------------------------------------
# A read replies before it lets go of its handle's lock, and the kernel may
# send RELEASE as soon as the reply is out: the handle must not be freed (and
# its memory reused by the next create) under that reader. Four processes
# open, read and close small files while creating others; every byte reads
# back and the mount still answers (it once hung in a later create's write).
mkdir -p "$A/race"
check "parallel open/read/close racing creates (4 x 2500), every byte right" \
	timeout 900 "$PY" - "$A/race" <<'PYEOF'
import os, sys, multiprocessing
d = sys.argv[1]
for i in range(16):
    with open(f"{d}/f{i}", "wb") as f:
        f.write(bytes([i]) * (3000 + i))
def work(p):
    for k in range(2500):
        i = k % 16
        with open(f"{d}/f{i}", "rb") as f:
            if f.read() != bytes([i]) * (3000 + i):
                return f"f{i} read wrong"
        with open(f"{d}/n{p}.{k % 40}", "wb") as f:
            f.write(b"%d %d\n" % (p, k))
    return None
with multiprocessing.Pool(4) as pool:
    bad = [r for r in pool.map(work, range(4)) if r]
sys.exit(1 if bad else 0)
PYEOF
check "the mount answers after the race" stat "$A/race/f1"

# ---- rsync -aAX round trip -------------------------------------------------------------------
if command -v rsync >/dev/null 2>&1; then
	T=$STATE/rs-src
	mkdir -p "$T/dir/sub" "$T/shared"
	head -c 200000 /dev/urandom >"$T/dir/big"
	echo hello >"$T/dir/sub/small"
	: >"$T/empty"
	printf 'x' >"$T/shared/group-file"
	ln -s dir/sub/small "$T/link"
	ln -s /nonexistent "$T/dangling"
	chmod 640 "$T/dir/big"
	chmod 2775 "$T/shared"
	chmod 4755 "$T/empty"
	chown nobody:nogroup "$T/dir/big" "$T/shared"
	chown -h nobody "$T/link"
	setfacl -m u:nobody:rw,g:nogroup:r "$T/dir/sub/small"
	setfacl -d -m u:nobody:rwx "$T/shared"
	setfattr -n user.origin -v satellite "$T/dir/big"
	setfattr -n user.empty "$T/empty"
	find "$T" -exec touch -h -d '2003-04-05 06:07:08.123456789' {} +
	touch -h -d '1999-12-31 23:59:59.5' "$T/dir/sub"
	# the tree as rsync keeps it: names, types, modes, owners, mtimes
	# (rsync keeps seconds and nanoseconds), link targets, ACLs, xattrs
	describe() {
		# (per name in sorted order: readdir's order is the file system's)
		(cd "$1" && find . -printf '%p %y %m %u %g %T@ %s %l\n' | sort &&
			find . ! -type l | sort | while read -r f; do
				getfacl -Ppn "$f" 2>&1
				getfattr -hd -m 'user\.' "$f" 2>&1
			done | grep -v '^$')
	}
	check "rsync -aAX onto the mount" rsync -aAX "$T/" "$A/rs/"
	check "rsync -aAX back out" rsync -aAX "$A/rs/" "$STATE/rs-back/"
	check "the content is the same" diff -r --no-dereference "$T" "$STATE/rs-back"
	same_tree() { # DESC DIR1 DIR2
		local d
		if d=$(diff <(describe "$2") <(describe "$3")); then
			ok "$1"
		else
			fail "$1: $(head -20 <<<"$d")"
		fi
	}
	same_tree "names, modes, owners, mtimes, symlinks, ACLs and xattrs too" "$T" "$STATE/rs-back"
	same_tree "and on the mount itself" "$T" "$A/rs"
	check "a second rsync finds nothing to copy" \
		sh -c "[ -z \"\$(rsync -aAXi '$T/' '$A/rs/')\" ]"
else
	[[ ${GF_IT_REQUIRE:-0} == 1 ]] && die "rsync is not installed"
	it_say "rsync is not installed: the round trip is skipped"
fi

# ---- cluster down without --state -----------------------------------------------------------
CL=$top_srcdir/tests/cluster.sh
REG=$STATE/registry
export GF_CLUSTER_REGISTRY=$REG
env1=$("$CL" up --gfsd 1 --mounts 0 2>"$STATE/up1.err") || die "cluster up (1): $(cat "$STATE/up1.err")"
st1=$(sed -n 's/^STATE=//p' <<<"$env1")
IT_CLEANUP+=("GF_CLUSTER_REGISTRY=$REG '$CL' down --state '$st1'")
env2=$("$CL" up --gfsd 1 --mounts 0 2>"$STATE/up2.err") || die "cluster up (2): $(cat "$STATE/up2.err")"
st2=$(sed -n 's/^STATE=//p' <<<"$env2")
IT_CLEANUP+=("GF_CLUSTER_REGISTRY=$REG '$CL' down --state '$st2'")
check_fails "with two clusters running, down without --state refuses" "$CL" down
check "and stops neither" test -d "$st1" -a -d "$st2"
listed=$("$CL" down 2>&1)
if grep -q -- "--state $st1" <<<"$listed"; then
	ok "it names the clusters to choose from"
else
	fail "it does not list the clusters: $listed"
fi
check "down --state stops the one named" "$CL" down --state "$st1"
check "the other is untouched" test -d "$st2"
check "with one running, down without --state stops it" "$CL" down
check "it is gone" test ! -d "$st2"
check_fails "with none running, down refuses" "$CL" down
unset GF_CLUSTER_REGISTRY

it_done
