#!/bin/bash
# POSIX conformance, ext4 as the reference: tests/posix.py runs the same
# cases (file types through mknod, names up to NAME_MAX and paths up to
# PATH_MAX, link counts, symlinks, chmod/chown rules for root and other
# users, setuid/setgid clearing, sticky directories, permission checks,
# renames with flags, exact errno values, atime/mtime/ctime updates,
# xattrs, the umask, listings) in a directory on local ext4 and on the
# mount, and every line must be the same, except those tests/posix.known
# lists with the reason ("CASE: *" there: any line of that case).
# More cases come from tests/posix_*.py (posix_io: open flags, I/O, sparse
# files, fallocate, mmap, locks; posix_perm: permissions by owner, group
# and others, sticky and setgid directories, protected links, ACLs).
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
it_require diff
LOCAL=
for d in /var/tmp /tmp "$IT_DIR"; do
	if [[ $(stat -f -c %T "$d" 2>/dev/null) == ext2/ext3 ]]; then
		LOCAL=$(mktemp -d "$d/gfarmfs-posix.XXXXXX") && break
	fi
done
[[ -n $LOCAL ]] || it_unmet "no ext4 directory here to compare with (/var/tmp, /tmp)"
IT_CLEANUP+=("rm -rf '$LOCAL'")
it_cluster_up --gfsd 2 --mounts 1
chmod 1777 "$LOCAL"
mkdir "$MOUNT/posix" && chmod 1777 "$MOUNT/posix" || die "mkdir on the mount"

(cd / && "$PY" "$IT_DIR/posix.py" "$LOCAL") >"$STATE/posix.ext4" 2>&1 || die "posix.py on ext4 failed"
(cd / && "$PY" "$IT_DIR/posix.py" "$MOUNT/posix") >"$STATE/posix.mount" 2>&1 ||
	fail "posix.py on the mount exited $?"
n=$(wc -l <"$STATE/posix.ext4")
((n > 500)) && ok "ext4 gave $n observations" || fail "ext4 gave only $n observations"
grep -q "CASE BROKE" "$STATE/posix.ext4" && fail "a case broke on ext4: $(grep "CASE BROKE" "$STATE/posix.ext4")"

# line by line (the cases print the same labels in the same order on both)
declare -A known=()
while IFS=$'\t' read -r key why; do
	[[ -z $key || $key == \#* ]] && continue
	known[$key]=$why
done <"$IT_DIR/posix.known"
same=0
while IFS= read -r -u 3 want && IFS= read -r -u 4 got; do
	if [[ $want == "$got" ]]; then
		same=$((same + 1))
		continue
	fi
	rest=${want#*: } # "CASE: LABEL: RESULT", no ": " in a label
	key="${want%%: *}: ${rest%%: *}"
	why=${known[$key]:-${known["${want%%: *}: *"]:-}}
	if [[ -n $why ]]; then
		ok "known difference: $key ($why)"
	else
		fail "differs from ext4: '$want' / mount: '$got'"
	fi
done 3<"$STATE/posix.ext4" 4<"$STATE/posix.mount"
expect_eq "as many observations on the mount as on ext4" "$n" "$(wc -l <"$STATE/posix.mount")"
ok "$same of $n observations the same as on ext4"
it_done
