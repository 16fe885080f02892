#!/bin/bash
# POSIX ACLs and security attributes (issue 11 point 7), beside ext4: every
# step is done the same way in a local ext4 directory and on the mount, and
# what getfacl and stat show must be the same. The ACLs are enforced by gfmd
# for every caller: a second mount without the kernel's permission checks
# (no_default_permissions) sees the same decisions.
# shellcheck disable=SC2317  # helpers are called through poll_until
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
it_require setfacl getfacl getfattr setfattr
it_cluster_up --gfsd 2 --mounts 1
M2=$(gf_mount_dir 2)
NMOUNTS=2
gf_write_client_conf 2
check_here "a second mount without kernel permission checks" gf_mount 2 -o no_default_permissions ||
	die "cannot mount"
REF=$STATE/ref
mkdir -p "$REF"
chmod 1777 "$MOUNT" "$REF"

# both CMD...: run CMD with %D replaced by the ext4 dir, then by the mount;
# the outputs (with the dir names taken out) must be the same.
both() {
	local desc=$1 ref got
	shift
	# (getfacl names files without their leading /)
	ref=$(cd / && eval "${*//%D/$REF}" 2>&1 | sed -e "s|$REF|D|g" -e "s|${REF#/}|D|g")
	got=$(cd / && eval "${*//%D/$MOUNT}" 2>&1 | sed -e "s|$MOUNT|D|g" -e "s|${MOUNT#/}|D|g")
	expect_eq "$desc (as on ext4)" "$ref" "$got"
}

both "a file with a named-user entry and a mask" \
	'touch %D/f && chmod 600 %D/f && setfacl -m u:nobody:rw,m::r %D/f && getfacl -n %D/f && stat -c %a %D/f'
both "nobody reads it (the entry)" 'as_user nobody cat %D/f && echo read'
both "nobody cannot write it (the mask)" 'as_user nobody sh -c "echo x >> %D/f" || echo refused'
both "chmod changes the mask" 'chmod 660 %D/f && getfacl -n %D/f | grep mask'
both "now nobody writes it" 'as_user nobody sh -c "echo x >> %D/f" && echo wrote'
both "setfacl -b removes the ACL" 'setfacl -b %D/f && getfacl -n %D/f && stat -c %a %D/f'
both "nobody is refused again" 'as_user nobody cat %D/f || echo refused'
both "a group entry" \
	'touch %D/g && chmod 600 %D/g && setfacl -m g:nogroup:r %D/g && getfacl -n %D/g && stat -c %a %D/g'
both "a default ACL on a directory" \
	'mkdir %D/d && setfacl -d -m u:nobody:rwx,g::rx,o::- %D/d && getfacl -n %D/d'
both "new files and directories inherit it (the umask is not used)" \
	'umask 022 && touch %D/d/new && mkdir %D/d/sub && getfacl -n %D/d/new %D/d/sub && stat -c "%n %a" %D/d/new %D/d/sub'
both "the inherited entry grants access" 'as_user nobody sh -c "echo y > %D/d/new" && echo wrote'
both "without a default ACL the umask applies" \
	'mkdir %D/plain && umask 027 && touch %D/plain/x && mkdir %D/plain/y && stat -c "%n %a" %D/plain/x %D/plain/y'
both "an ACL the mode bits say all about is just a mode" \
	'touch %D/m && setfacl -m u::rwx,g::r-x,o::--x %D/m && stat -c %a %D/m && getfattr -m - -d %D/m'
both "setfacl refuses an invalid ACL" 'touch %D/bad && setfacl --set u::rw,u:nobody:r %D/bad; getfacl -n %D/bad'
both "only the owner (or root) sets an ACL" 'touch %D/own && as_user nobody setfacl -m u:nobody:rw %D/own || echo refused'

# gfmd decides, not only the kernel: the same through the mount without the
# kernel's checks
touch "$MOUNT/e" && chmod 600 "$MOUNT/e" && setfacl -m u:nobody:r "$MOUNT/e" || fail "setfacl on the mount"
readable() { as_user nobody cat "$M2/e" >/dev/null 2>&1; }
if poll_until 30 readable; then ok "gfmd lets nobody read through the ACL (no kernel checks)"; else fail "nobody cannot read through the ACL on the second mount"; fi
setfacl -b "$MOUNT/e" || fail "setfacl -b on the mount"
refused() { ! readable; }
if poll_until 30 refused; then ok "gfmd refuses nobody once the ACL is gone (no kernel checks)"; else fail "nobody still reads without the ACL on the second mount"; fi

# security.* and trusted.* with the kernel's rules
both "security.* is written by root" 'touch %D/s && setfattr -n security.gf -v 1 %D/s && getfattr -n security.gf --only-values %D/s; echo'
both "read by anyone" 'as_user nobody getfattr -n security.gf --only-values %D/s; echo'
both "and not written by others" 'as_user nobody sh -c "setfattr -n security.gf -v 2 %D/s" 2>&1 | sed "s/.*: //"'
both "trusted.* is root's alone" 'setfattr -n trusted.gf -v 1 %D/s && as_user nobody getfattr -n trusted.gf %D/s 2>&1 | sed "s/.*: //"'
both "a write drops file capabilities" \
	'setfattr -n security.capability -v 0sAQAAAgAgAAAAAAAAAAAAAAAAAAA= %D/s && echo x >> %D/s && getfattr -n security.capability %D/s 2>&1 | sed "s/.*: //"'

it_done
