#!/bin/bash
# Everyday programs on the mount (issue 11), beside local ext4:
#   timestamps set on an open file survive its close (tar -x, cp -a, and a
#     minimal futimens-then-close);
#   replace-by-rename on one mount is never ENOENT on another (ESTALE makes
#     the kernel look the name up again);
#   errors an application gets are logged by the daemon that decided them,
#     once per error and rate-limited;
#   `cluster down` without --state never stops someone else's cluster.
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
spool=$(find "$STATE"/node*/spool/data -name "$(printf '%016x' "$(stat -c %i "$A/lost")")-*")
truncate -s 1000 "$spool"
gf_log_mark "$STATE/mount2.log"
expect_errno "a read of data a replica lacks is EIO" EIO 'read_file(M2 + "/lost")'
check "the mount that returned it logged why" \
	gf_log_wait "$STATE/mount2.log" 'ends at byte 1000 but the file has 200000'
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
