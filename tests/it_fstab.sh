#!/bin/bash
# mount(8) integration: `mount -t fuse.gfarmfs CONFIG DIR` (mount.fuse3 runs
# the program "gfarmfs") and an fstab line, with options passed through.
# shellcheck disable=SC2317  # helpers are called through check
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
it_require mount umount mount.fuse3
it_cluster_up --gfsd 3 --mounts 1

# mount(8) clears PATH, so mount.fuse3 finds "gfarmfs" only in the default
# PATH (`make install` puts it in sbin). For a build-tree run, put the
# build's binary at /usr/local/sbin/gfarmfs for the duration of the test:
# a symlink when nothing is there, else bound over whatever is installed.
BIN=$(gf_bin mount.gfarmfs)
LINK=/usr/local/sbin/gfarmfs
if [[ ! -e $LINK && ! -L $LINK ]]; then
	mkdir -p "$(dirname "$LINK")"
	ln -s "$BIN" "$LINK" || die "cannot create $LINK"
	IT_CLEANUP+=("rm -f '$LINK'")
elif ! cmp -s "$LINK" "$BIN"; then
	mount --bind "$BIN" "$LINK" || die "cannot bind $BIN over $LINK"
	IT_CLEANUP+=("umount '$LINK'")
fi
NMOUNTS=2
gf_write_client_conf 2
CONF2=$STATE/client2.conf
DIR=$STATE/fstab-mnt
mkdir -p "$DIR"

mounted_fuse() { awk -v m="$1" '$2 == m && $3 == "fuse.gfarmfs" { f = 1 } END { exit !f }' /proc/mounts; }
daemon_of() { local p; for p in /proc/[0-9]*; do tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -qF -- " $1" && echo "${p#/proc/}"; done; }
unmounted_and_gone() {
	umount "$1" || return 1
	local pid
	for pid in $(daemon_of "$1"); do gf_wait_dead "$pid" 10 || return 1; done
	! mountpoint -q "$1"
}

echo hello >"$MOUNT/from-cluster" || die "cannot write on the cluster mount"

check "mount -t fuse.gfarmfs CONFIG DIR" mount -t fuse.gfarmfs "$CONF2" "$DIR"
check "it is mounted as fuse.gfarmfs" mounted_fuse "$DIR"
expect_eq "it sees the cluster's files" hello "$(cat "$DIR/from-cluster" 2>&1)"
check "it writes" sh -c "echo via-mount8 >'$DIR/from-mount8'"
expect_eq "the cluster mount sees that write" via-mount8 "$(cat "$MOUNT/from-mount8" 2>&1)"
check "umount DIR, and the client process exits" unmounted_and_gone "$DIR"

check "mount -t fuse.gfarmfs -o ro" mount -t fuse.gfarmfs -o ro "$CONF2" "$DIR"
expect_eq "ro mount reads" hello "$(cat "$DIR/from-cluster" 2>&1)"
expect_errno "ro mount refuses writes: EROFS" EROFS "os.open('$DIR/x', os.O_CREAT | os.O_WRONLY)"
check "umount the ro mount" unmounted_and_gone "$DIR"

# The documented fstab line, through an alternative fstab file.
echo "$CONF2 $DIR fuse.gfarmfs defaults,_netdev 0 0" >"$STATE/fstab"
check "mount DIR from an fstab line" mount -T "$STATE/fstab" "$DIR"
expect_eq "fstab mount reads" hello "$(cat "$DIR/from-cluster" 2>&1)"
case $(awk -v m="$DIR" '$2 == m { print $4 }' /proc/mounts) in
*allow_other*) ok "root fstab mount has allow_other" ;;
*) fail "root fstab mount lacks allow_other" ;;
esac
expect_errno --as nobody "another user can use it (allow_other)" OK "os.listdir('$DIR')"
check "umount the fstab mount" unmounted_and_gone "$DIR"

check_fails "mount with a missing config fails" mount -t fuse.gfarmfs "$STATE/no-such.conf" "$DIR"
check "and leaves nothing mounted" test -z "$(awk -v m="$DIR" '$2 == m' /proc/mounts)"
check_fails "mount.gfarmfs with a config that has an unknown key fails" sh -c "
	printf 'no_such_key = 1\n' >'$STATE/bad.conf'
	'$(gf_bin mount.gfarmfs)' '$STATE/bad.conf' '$DIR'"
check "and leaves nothing mounted" test -z "$(awk -v m="$DIR" '$2 == m' /proc/mounts)"

it_done
