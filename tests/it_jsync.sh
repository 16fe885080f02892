#!/bin/bash
# gfmd's journal in the default mode (`durability = commit` with
# `journal = PATH`; issue 10): a reply waits for its record to be flushed
# to the journal (one fdatasync for every record written meanwhile) instead
# of a PostgreSQL commit, and the default mode's promise stays: a crash of
# the machine loses nothing acknowledged. The crash is made, not assumed:
#   - the journal has a file system of its own (ext4 without a journal of
#     its own, on a loop device in direct-I/O mode), and the kernel's
#     writeback is held back (vm.dirty_writeback_centisecs = 0), so that
#     only a flush puts a page on that disk; PostgreSQL's WAL writer and
#     background writer are held back too, so that its commits (which in
#     this mode do not wait for the disk) stay in its memory;
#   - after 200 creates and renames, a chmod, a setxattr and a mkdir are
#     acknowledged (and an fsync returned), the loop device's backing file
#     is copied: what the disk holds when the machine dies. A file written
#     meanwhile without a flush on the same file system is not in that copy
#     (shows the copy is a crash's, so the test can see a loss);
#   - kill -9 of gfmd and PostgreSQL; the journal's file system comes back
#     from the copy (after e2fsck, as at a boot); gfmd replays the journal
#     and every acknowledged mutation is there;
#   - a full disk under the journal: gfmd logs the failed write and goes on,
#     each reply then waiting for a flushed commit (as without a journal),
#     and a kill -9 of gfmd and PostgreSQL loses none of those mutations.
# shellcheck disable=SC2317  # helpers are called through poll_until
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
it_require getfattr mkfs.ext4 e2fsck losetup
D=$(mktemp -d /var/tmp/gfjsync.XXXXXX)
FS=$D/fs
LOOPS=()
# (the file system is let go lazily: gfmd, stopped after these hooks run,
# still holds the journal; a busy loop device goes when it is let go)
cleanup_disk() {
	umount -l "$FS"
	local l
	for l in "${LOOPS[@]}"; do losetup -d "$l"; done
	rm -rf "$D"
}
IT_CLEANUP+=(cleanup_disk)
mkdir "$FS"
truncate -s 32M "$D/disk.img" && mkfs.ext4 -q -O ^has_journal -F "$D/disk.img" ||
	die "cannot make the journal's file system"
LOOP=$(losetup --direct-io=on -f --show "$D/disk.img") || die "no loop device"
LOOPS+=("$LOOP")
mount "$LOOP" "$FS" || die "cannot mount $LOOP"

# The kernel writes back dirty pages only when asked (a flush, or memory
# short): saved and put back at the end, whatever happens.
WB=/proc/sys/vm/dirty_writeback_centisecs BG=/proc/sys/vm/dirty_background_bytes
IT_CLEANUP+=("echo $(cat $WB) >$WB; echo $(cat $BG) >$BG; echo $(cat /proc/sys/vm/dirty_background_ratio) >/proc/sys/vm/dirty_background_ratio")
echo 0 >$WB && echo $((4 << 30)) >$BG || die "cannot hold the kernel's writeback back"

J=$FS/gfmd.journal
# (flush_ms: PostgreSQL flushes nothing of gfmd's before the crash)
GF_GFMD_CONF_EXTRA="journal = $J
flush_ms = 3600000" it_cluster_up --gfsd 1 --mounts 1
M=$MOUNT

check "gfmd says each mutation waits for the journal's flush" \
	grep -q "journal $J: a mutation is acknowledged once written there and flushed" \
	"$STATE/gfmd.log"
check "PostgreSQL: WAL writer and background writer held back" gf_pg_hold_wal

all_there() { # every mutation of the first part is visible
	[[ $(find "$M/g" -name 'f*.r' | wc -l) == 200 && -d $M/late &&
		$(stat -c %a "$M/g/f000.r") == 600 &&
		$(getfattr --only-values -n user.tag "$M/g/f001.r" 2>/dev/null) == kept ]]
}

# ---- a crash of the machine loses nothing acknowledged ------------------------------
mkdir "$M/g" || die "mkdir g"
check "200 creates, 200 renames, a chmod, a setxattr, a mkdir acknowledged; an fsync" py '
for i in range(200):
    p = M + "/g/f%03d" % i
    os.close(os.open(p, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
    os.rename(p, p + ".r")
os.chmod(M + "/g/f000.r", 0o600)
os.setxattr(M + "/g/f001.r", "user.tag", b"kept")
os.mkdir(M + "/late")
fd = os.open(M + "/g", os.O_RDONLY)
os.fsync(fd)
os.close(fd)'
check "all of it visible" all_there
# a page nobody flushes: it must not be on the disk the crash leaves
check "a file written on the journal's file system without a flush" \
	py "open('$FS/canary', 'w').write('gfjsync-unflushed-' * 4096)"
check "the disk as the crash leaves it (the loop device's backing file)" \
	cp --sparse=always "$D/disk.img" "$D/crash.img"
check_here "kill -9 of gfmd" gf_gfmd_kill9
check_here "kill -9 of PostgreSQL" gf_pg_kill9
expect_eq "the unflushed file is not on that disk (the copy is a crash's)" 0 \
	"$(grep -c -a gfjsync-unflushed "$D/crash.img")"
umount "$FS" && losetup -d "$LOOP" && LOOPS=() || die "cannot take the journal's disk away"
e2fsck -fy "$D/crash.img" >"$D/fsck.out" 2>&1
rc=$?
((rc <= 1)) && ok "e2fsck of the crashed disk (exit $rc)" ||
	fail "e2fsck of the crashed disk: exit $rc: $(tail -5 "$D/fsck.out")"
LOOP=$(losetup --direct-io=on -f --show "$D/crash.img") || die "no loop device"
LOOPS+=("$LOOP")
mount "$LOOP" "$FS" || die "cannot mount the crashed disk"
check "the journal is on it" test -s "$J"
: >"$STATE/gfmd.log"
check_here "PostgreSQL, gfmd and the mount start again" gf_restart_after_crash ||
	die "the cluster does not come back"
check "gfmd replayed the journal" grep -q "journal $J: replayed" "$STATE/gfmd.log"
check "every acknowledged mutation survived the crash" all_there
expect_eq "and no name from before a rename" 0 "$(find "$M/g" -name 'f???' | wc -l)"

# ---- a full disk under the journal ------------------------------------------------------
check_here "gfmd stopped" gf_gfmd_stop
rm -f "$FS/canary"
dd if=/dev/zero of="$FS/fill" bs=1M status=none 2>/dev/null
check "the journal's file system is full" test "$(df --output=avail -B1 "$FS" | tail -1)" -lt 1048576
: >"$STATE/gfmd.log"
check_here "gfmd starts again" gf_gfmd_start || die "gfmd does not restart"
check "50 creates on a full journal still acknowledged" py '
os.mkdir(M + "/full")
for i in range(50):
    os.close(os.open(M + "/full/n%02d" % i, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))'
check "gfmd logged the failed write" grep -q "journal $J: writing it failed" "$STATE/gfmd.log"
check_here "kill -9 of gfmd" gf_gfmd_kill9
check_here "kill -9 of PostgreSQL" gf_pg_kill9
check_here "PostgreSQL, gfmd and the mount start again" gf_restart_after_crash ||
	die "the cluster does not come back"
expect_eq "none of the 50 lost" 50 "$(find "$M/full" -name 'n*' | wc -l)"
check "nor anything from before" all_there
it_done
