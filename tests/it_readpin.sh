#!/bin/bash
# Readers that pass through to pinned replicas (fuse/readpin.h): a local
# replica the mount has read whole, checking every block against its sums
# with each block locked in memory before it was read, is opened for
# reading with FUSE passthrough, with no READ request; its pages outlive a
# drop of the page cache. What must never happen: a read through a pin
# that returns bytes no check saw (a replica changed on disk under the
# pin), a pin kept for a replica that is gone, or more memory locked than
# read_pin_mb allows.
# shellcheck disable=SC2317  # helpers are called through poll_until
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
it_require getfattr cmp dd fincore
GATE_DIR=$(mktemp -d /tmp/it_readpin.XXXXXX) || die "mktemp"
IT_CLEANUP+=("rm -rf '$GATE_DIR'")
GATE=$GATE_DIR/hold # while it exists, gfsd seals nothing (seal_gate)
export GF_GFSD_CONF_EXTRA="seal_gate = $GATE"
it_cluster_up --gfsd 2 --mounts 2
A=$MOUNT B=$MOUNT2
GFWHERE=$(gf_bin gfwhere) || die "gfwhere is not built"
export GFARMFS_CONFIG=$STATE/admin.conf

need_passthrough "$A"
pins_are() { [[ $(mount_stat "$1" read_pins) == "$2" ]]; }
MIB=$((1 << 20))

# ---- a file read whole is pinned; later opens pass through -------------------------------
head -c $((8 * MIB)) /dev/urandom >"$STATE/src"
cp "$STATE/src" "$A/big" || die "cannot write big"
poll_until "$GF_WAIT_SECS" all_sealed "$A/big" || die "big was never sealed"
drop_caches
r0=$(mount_stat "$A" fuse.read) o0=$(mount_stat "$A" read_pin_opens) m0=$(mount_stat "$A" read_mapped_kb)
check "a cold read of an 8 MiB file on node1's mount" cmp "$STATE/src" "$A/big"
r1=$(mount_stat "$A" fuse.read) m1=$(mount_stat "$A" read_mapped_kb)
((r1 > r0)) && ok "  it went through the mount ($((r1 - r0)) READ requests)" ||
	fail "  no READ request for a cold read"
((m1 - m0 >= 8192)) && ok "  every block checked where the pin maps it ($((m1 - m0)) KiB)" ||
	fail "  $((m1 - m0)) KiB checked in the mapping, not 8192"
(($(mount_stat "$A" read_pins_whole) >= 1 && $(mount_stat "$A" read_pinned_kb) >= 8192)) &&
	ok "  its replica is now pinned whole: $(mount_stat "$A" read_pinned_kb) KiB locked" ||
	fail "  not pinned whole: pins $(mount_stat "$A" read_pins) whole $(mount_stat "$A" read_pins_whole) kb $(mount_stat "$A" read_pinned_kb)"
check "a re-read reads the right bytes" cmp "$STATE/src" "$A/big"
expect_eq "  it passed through to the pin" $((o0 + 1)) "$(mount_stat "$A" read_pin_opens)"
expect_eq "  with no READ request" "$r1" "$(mount_stat "$A" fuse.read)"
drop_caches
check "after the page cache was dropped, a read still reads the right bytes" cmp "$STATE/src" "$A/big"
expect_eq "  through the pin again" $((o0 + 2)) "$(mount_stat "$A" read_pin_opens)"
expect_eq "  with no READ request (locked pages stay)" "$r1" "$(mount_stat "$A" fuse.read)"
check "node2's mount reads it too (remote replica: nothing to pin there)" cmp "$STATE/src" "$B/big"
expect_eq "  node2's mount holds no pin" 0 "$(mount_stat "$B" read_pins)"

# ---- a replica changed under its pin is never passed through -------------------------------
# The flip writes into the very pages the pin locked (as damage on disk
# under a page read back would): the replica's ctime moves, the pin is
# refused at the next open, and the read that follows checks the block.
spool=$(spool_of 1 "$A/big")
[[ -n $spool ]] || die "no replica of big on node1"
flip "$spool" $((3 * MIB + 5)) || die "cannot flip a byte"
o1=$(mount_stat "$A" read_pin_opens)
if out=$(dd if="$A/big" of="$STATE/blk" bs=64K skip=48 count=1 status=none 2>&1); then
	cmp -s "$STATE/blk" <(dd if="$STATE/src" bs=64K skip=48 count=1 status=none) &&
		ok "the damaged block reads right (from another replica)" ||
		fail "the damaged block read the damage through the mount"
else
	[[ $out == *"Input/output error"* ]] && ok "the damaged block of the only replica reads EIO" ||
		fail "the damaged block: $out"
fi
expect_eq "  no open passed through to the changed replica" "$o1" "$(mount_stat "$A" read_pin_opens)"
cmp -s <(head -c $((3 * MIB)) "$STATE/src") <(head -c $((3 * MIB)) "$A/big") &&
	ok "  the blocks before it read right" || fail "  the blocks before it differ"

# ---- damage on disk before any read: the mapping's check catches it -------------------------
# (bit rot under a replica no one has read yet: the pin is made with the
# damage in it; the block fails its check where it is mapped, and the read
# goes the usual way, which has gfsd judge it)
head -c $((4 * MIB)) /dev/urandom >"$STATE/src3"
cp "$STATE/src3" "$A/rot" || die "cannot write rot"
poll_until "$GF_WAIT_SECS" all_sealed "$A/rot" || die "rot was never sealed"
flip "$(spool_of 1 "$A/rot")" $((2 * MIB + 9)) || die "cannot flip a byte"
drop_caches
m0=$(mount_stat "$A" read_mapped_kb)
# (1 MiB before it: a READ that reaches the damaged block fails whole)
cmp -s <(head -c $((1 * MIB)) "$STATE/src3") <(head -c $((1 * MIB)) "$A/rot") &&
	ok "rot: the blocks before the damage read right" || fail "rot: the blocks before the damage differ"
m1=$(mount_stat "$A" read_mapped_kb)
((m1 > m0)) && ok "  checked where the pin maps them ($((m1 - m0)) KiB)" || fail "  none checked in the mapping"
if out=$(dd if="$A/rot" of="$STATE/blk" bs=64K skip=32 count=1 status=none 2>&1); then
	cmp -s "$STATE/blk" <(dd if="$STATE/src3" bs=64K skip=32 count=1 status=none) &&
		ok "  the damaged block reads right (from another replica)" ||
		fail "  the damaged block read the damage through the mount"
else
	[[ $out == *"Input/output error"* ]] && ok "  the damaged block of the only replica reads EIO" ||
		fail "  the damaged block: $out"
fi
rm -f "$A/rot"

# ---- a pin goes with its replica -------------------------------------------------------------
rm -f "$A/big"
poll_until "$GF_WAIT_SECS" pins_are "$A" 0 && ok "big removed: its pin is dropped" ||
	fail "big removed: still $(mount_stat "$A" read_pins) pins"

# ---- a writer that joins a reader passing through --------------------------------------------
head -c $((4 * MIB)) /dev/urandom >"$STATE/src2"
cp "$STATE/src2" "$A/two" || die "cannot write two"
poll_until "$GF_WAIT_SECS" all_sealed "$A/two" || die "two was never sealed"
drop_caches # (what this mount wrote may still be in its page cache: no READ)
check "two read whole (pinned)" cmp "$STATE/src2" "$A/two"
o2=$(mount_stat "$A" read_pin_opens)
exec 5<"$A/two"
expect_eq "a reader holds two open, passing through" $((o2 + 1)) "$(mount_stat "$A" read_pin_opens)"
head -c 4096 /dev/urandom >"$STATE/patch"
check "a writer on the same mount rewrites a block meanwhile" \
	dd if="$STATE/patch" of="$A/two" bs=4096 seek=10 count=1 conv=notrunc status=none
exec 5<&-
cp "$STATE/src2" "$STATE/want2"
dd if="$STATE/patch" of="$STATE/want2" bs=4096 seek=10 count=1 conv=notrunc status=none
check "the file reads as written" cmp "$STATE/want2" "$A/two"
poll_until "$GF_WAIT_SECS" all_sealed "$A/two" || fail "two was not sealed again"
drop_caches
check "  and again once sealed, from a cold cache" cmp "$STATE/want2" "$A/two"
check "  and once more (pinned anew)" cmp "$STATE/want2" "$A/two"

# ---- a replica wholly in memory is checked at open ----------------------------------------
# (just written and sealed: its pages are all cached; checking them costs
# no disk read, and the open passes through at once)
head -c $((4 * MIB)) /dev/urandom >"$STATE/src6"
# (dd opens with O_TRUNC: the writes pass through to the replica, and the
# mount's own page cache holds none of them; cp's O_EXCL writes go through
# that cache, and a reader would be served from it)
put() { dd if="$1" of="$2" bs=1M status=none; }
put "$STATE/src6" "$A/warm" && put "$STATE/src6" "$A/warm2" || die "cannot write warm"
poll_until "$GF_WAIT_SECS" all_sealed "$A/warm" && poll_until "$GF_WAIT_SECS" all_sealed "$A/warm2" ||
	die "warm was never sealed"
o0=$(mount_stat "$A" read_pin_opens) r0=$(mount_stat "$A" fuse.read)
u0=$(mount_stat "$A" read_pin_unwritten)
check "a sealed file still in memory reads right" cmp "$STATE/src6" "$A/warm"
expect_eq "  checked at open, it passed through" $((o0 + 1)) "$(mount_stat "$A" read_pin_opens)"
expect_eq "  with no READ request" "$r0" "$(mount_stat "$A" fuse.read)"
# Its pages never left memory since dd wrote them through this mount (all
# still dirty; dirty pages are never dropped, so never read from disk):
# the seal summed those very pages, and the open trusts them without
# reading them again. (Pages written back before the open would be
# checked instead: looked at after the read, dirty now means dirty then.)
if all_dirty "$(spool_of 1 "$A/warm")"; then
	expect_eq "  trusted unread: its pages never left memory" $((u0 + 1)) \
		"$(mount_stat "$A" read_pin_unwritten)"
else
	ok "  (its pages were written back before the open: checked, not trusted)"
fi
# A byte changed in the replica after the seal (here written into its
# page, a dirty one too) moves its change time: never trusted, checked.
flip "$(spool_of 1 "$A/warm2")" $((MIB + 7)) || die "cannot flip a byte of warm2"
if out=$(dd if="$A/warm2" of=/dev/null bs=64K skip=16 count=1 status=none 2>&1); then
	fail "a damaged block of a file in memory read without error"
else
	[[ $out == *"Input/output error"* ]] && ok "a damaged block of a file in memory reads EIO" ||
		fail "the damaged block: $out"
fi
expect_eq "  no open passed through to it" $((o0 + 1)) "$(mount_stat "$A" read_pin_opens)"

# ---- a replica not sealed yet ---------------------------------------------------------------
# Just written, it has no sums: its reads are unchecked either way. A
# reader passes through to it with every page locked, so that once it is
# sealed meanwhile no block that reader reads comes from disk unchecked.
touch "$GATE"
head -c $((4 * MIB)) /dev/urandom >"$STATE/src5"
put "$STATE/src5" "$A/fresh" || die "cannot write fresh"
spool=$(spool_of 1 "$A/fresh")
[[ -n $spool && ! -e $spool.sum ]] || die "fresh: no unsealed replica on node1 ($spool)"
drop_caches
u0=$(mount_stat "$A" read_pin_unsealed_opens) r0=$(mount_stat "$A" fuse.read) p0=$(mount_stat "$A" read_pins)
check "a file not sealed yet reads right" cmp "$STATE/src5" "$A/fresh"
expect_eq "  it passed through (unsealed)" $((u0 + 1)) "$(mount_stat "$A" read_pin_unsealed_opens)"
expect_eq "  with no READ request" "$r0" "$(mount_stat "$A" fuse.read)"
poll_until "$GF_WAIT_SECS" pins_are "$A" "$p0" && ok "  its pin went with the reader" ||
	fail "  $(mount_stat "$A" read_pins) pins after the reader closed (was $p0)"
exec 6<"$A/fresh"
rm -f "$GATE"
poll_until "$GF_WAIT_SECS" all_sealed "$A/fresh" && ok "a reader holds it open while it is sealed" ||
	fail "fresh was not sealed with a reader holding it"
drop_caches
res=$(fincore -b -n -o RES "$spool")
expect_eq "  its replica stays in memory after the page cache is dropped" $((4 * MIB)) "$res"
check "  that reader reads it right" cmp "$STATE/src5" /dev/fd/6
exec 6<&-

# ---- the budget ------------------------------------------------------------------------------
fusermount3 -uz "$A" 2>/dev/null
gf_umount 1
grep -v '^read_pin_mb' "$STATE/client1.conf" >"$STATE/c1.tmp"
echo "read_pin_mb = 4" >>"$STATE/c1.tmp"
mv "$STATE/c1.tmp" "$STATE/client1.conf"
check "mount 1 again with read_pin_mb = 4" gf_mount 1
cp "$STATE/src" "$A/big3" || die "cannot write big3"
poll_until "$GF_WAIT_SECS" all_sealed "$A/big3" || die "big3 was never sealed"
drop_caches
check "an 8 MiB file read twice" bash -c "cmp '$STATE/src' '$A/big3' && cmp '$STATE/src' '$A/big3'"
expect_eq "  nothing pinned (it is larger than the budget)" 0 "$(mount_stat "$A" read_pinned_kb)"
expect_eq "  no open passed through" 0 "$(mount_stat "$A" read_pin_opens)"
head -c $((3 * MIB)) /dev/urandom >"$STATE/src4"
cp "$STATE/src4" "$A/small1" && cp "$STATE/src4" "$A/small2" || die "cannot write small files"
poll_until "$GF_WAIT_SECS" all_sealed "$A/small2" || die "small2 was never sealed"
drop_caches
check "two 3 MiB files read" bash -c "cmp '$STATE/src4' '$A/small1' && cmp '$STATE/src4' '$A/small2'"
kb=$(mount_stat "$A" read_pinned_kb)
((kb > 0 && kb <= 4096)) && ok "  at most 4 MiB locked: $kb KiB" ||
	fail "  $kb KiB locked (the budget is 4096)"
o4=$(mount_stat "$A" read_pin_opens)
check "  the second re-reads right" cmp "$STATE/src4" "$A/small2"
expect_eq "  through its pin" $((o4 + 1)) "$(mount_stat "$A" read_pin_opens)"
check "  the first re-reads right (its pin gave way)" cmp "$STATE/src4" "$A/small1"

# ---- memory short: unheld pins go --------------------------------------------------------------
# (read_pin_free_pct = 100: the host is always "short"; the sweeper drops
# every pin no open file holds, and spares one that a reader holds)
fusermount3 -uz "$A" 2>/dev/null
gf_umount 1
{ grep -v '^read_pin_mb\|^read_pin_free_pct' "$STATE/client1.conf"; echo "read_pin_free_pct = 100"; } >"$STATE/c1.tmp"
mv "$STATE/c1.tmp" "$STATE/client1.conf"
check "mount 1 again with read_pin_free_pct = 100" gf_mount 1
check "small1 read (its pages now in the page cache)" cmp "$STATE/src4" "$A/small1"
o5=$(mount_stat "$A" read_pin_opens)
exec 6<"$A/small1" # checked at open, pinned whole: held by this reader
expect_eq "  an open of it passes through, holding its pin" $((o5 + 1)) "$(mount_stat "$A" read_pin_opens)"
check "small2 read" cmp "$STATE/src4" "$A/small2"
whole_held() { [[ $(mount_stat "$A" read_pins) == 1 && $(mount_stat "$A" read_pinned_kb) == 3072 ]]; }
poll_until "$GF_WAIT_SECS" whole_held && ok "  the sweeper drops small2's pin; small1's, held, stays" ||
	fail "  $(mount_stat "$A" read_pins) pins, $(mount_stat "$A" read_pinned_kb) KiB"
check "  the held reader reads right" cmp "$STATE/src4" /dev/fd/6
check "  small2 still reads right" cmp "$STATE/src4" "$A/small2"
exec 6<&-
pins_are0() { pins_are "$A" 0; }
poll_until "$GF_WAIT_SECS" pins_are0 && ok "  small1's pin goes once its reader closes" ||
	fail "  $(mount_stat "$A" read_pins) pins left"
for v in half -1 101; do
	mount_refuses read_pin_free_pct "$v" "read_pin_free_pct: not a percentage"
done
for v in lots -1 1073741825; do
	mount_refuses read_pin_mb "$v" "read_pin_mb: not a number of MiB"
done

it_done
