#!/bin/bash
# A 1 GiB file of random bytes copied onto the mount and read back
# byte-identical, through the writer's mount and through another client's.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
it_require dd cmp
MIB=${GF_BIGFILE_MIB:-1024}
it_cluster_up --gfsd 3 --mounts 2

SRC=$STATE/big.local
free_kb=$(df -Pk "$STATE" | awk 'NR == 2 { print $4 }')
((free_kb > MIB * 1024 * 3)) || die "need $((MIB * 3)) MiB free under $STATE, have $((free_kb / 1024)) MiB"

dd if=/dev/urandom of="$SRC" bs=1M count="$MIB" status=none || die "cannot write $SRC"
want=$(sha256sum <"$SRC" | cut -d' ' -f1)

t0=$(now)
check "copy $MIB MiB onto the mount (dd bs=1M, fsync)" dd if="$SRC" of="$MOUNT/big" bs=1M conv=fsync status=none
it_say "wrote $MIB MiB in $(since "$t0") s"
expect_eq "size on the mount" $((MIB * 1024 * 1024)) "$(stat -c %s "$MOUNT/big" 2>&1)"

# Drop the page cache so the reads below come from the file system.
sync
echo 3 >/proc/sys/vm/drop_caches
t0=$(now)
expect_eq "sha256 read back through the writer's mount" "$want" "$(sha256sum <"$MOUNT/big" | cut -d' ' -f1)"
it_say "read $MIB MiB in $(since "$t0") s"
check "cmp with the original" cmp "$SRC" "$MOUNT/big"
expect_eq "sha256 read through another client's mount" "$want" "$(sha256sum <"$MOUNT2/big" | cut -d' ' -f1)"

# Unaligned reads across block boundaries return the right bytes.
expect_errno "random unaligned preads match the original" OK "
import random
random.seed(7)
a = open('$SRC', 'rb')
b = open(M + '/big', 'rb')
size = $MIB * 1024 * 1024
for _ in range(200):
    off = random.randrange(0, size)
    n = random.choice([1, 17, 4095, 4097, 131073, 1048577])
    a.seek(off); b.seek(off)
    assert a.read(n) == b.read(n), off"

check "unlink the big file" rm "$MOUNT/big"
expect_errno "gone after unlink" ENOENT 'os.stat(M + "/big")'
spool_kb() { du -sk "$STATE"/node*/spool | awk '{ s += $1 } END { print s }'; }
# shellcheck disable=SC2317  # called through poll_until
spool_small() { (($(spool_kb) < 64 * 1024)); }
if poll_until "$GF_WAIT_SECS" spool_small; then
	ok "the replica is deleted from the spool after unlink"
else
	fail "spools still hold $(spool_kb) KiB ${GF_WAIT_SECS}s after the unlink"
fi
rm -f "$SRC"
it_done
