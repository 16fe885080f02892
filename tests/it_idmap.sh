#!/bin/bash
# shellcheck disable=SC2317  # helpers are called through check/poll_until
# Identities are global by name: gfmd's user and group maps (gfuser, gfgroup)
# give gfit_alice the global uid Y while this node's /etc/passwd says X. The
# database holds Y, the mount shows X, permissions follow the owner, only
# root may change the maps, and the maps survive a gfmd restart. After
# `gfuser del` the mount has no name for Y and shows the raw number Y
# (numeric passthrough, as for any id the map does not hold).
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
it_require useradd userdel groupadd groupdel getent stat

U=gfit_alice   # mapped user
O=gfit_bob     # an unmapped user
G=gfit_grp     # mapped group

remove_accounts() {
	userdel -f "$U" >/dev/null 2>&1
	userdel -f "$O" >/dev/null 2>&1
	groupdel "$G" >/dev/null 2>&1
	return 0
}
remove_accounts # leftovers of an interrupted run
IT_CLEANUP+=(remove_accounts)

# Local numbers nobody uses here; the global ones differ from them.
X=47100
while getent passwd "$X" >/dev/null || getent passwd $((X + 1)) >/dev/null ||
	getent group "$X" >/dev/null; do
	X=$((X + 7))
done
XB=$((X + 1)) # bob, local and (unmapped) global
GX=$X
Y=$((X + 10000))
GY=$((X + 20000))
groupadd -g "$GX" "$G" || die "groupadd $G failed"
useradd -M -N -u "$X" -g "$GX" -s /bin/sh "$U" || die "useradd $U failed"
useradd -M -N -u "$XB" -g "$GX" -s /bin/sh "$O" || die "useradd $O failed"
it_say "local: $U=$X $O=$XB $G=$GX; global: $U=$Y $G=$GY"

# One gfsd; the mount is made here so that it refreshes the maps often
# (idmap_refresh_ms) and the test need not wait 30 s for the first entry.
it_cluster_up --gfsd 1 --mounts 0
NMOUNTS=1
gf_write_client_conf 1
echo "idmap_refresh_ms = 300" >>"$STATE/client1.conf"
gf_mount 1 || die "mount failed"
gf_write_env
# shellcheck disable=SC1091
. "$STATE/env"

GFUSER=$(gf_bin gfuser) || die "no gfuser"
GFGROUP=$(gf_bin gfgroup) || die "no gfgroup"
gfuser() { "$GFUSER" -c "$ADMIN_CONFIG" "$@"; }
gfgroup() { "$GFGROUP" -c "$ADMIN_CONFIG" "$@"; }
sql() { (cd / && "$PGBIN/psql" -h "$PGHOST" -p "$PGPORT" -U postgres -d gfarmfs -Atqc "$1"); }
# db_owner FILE: "uid gid" of FILE's row in PostgreSQL.
db_owner() { sql "SELECT uid || ' ' || gid FROM inode WHERE ino = $(stat -c %i "$1")"; }
owner_is() { [[ $(db_owner "$1") == "$2" ]]; }
shown_is() { [[ $(stat -c '%u %g' "$1") == "$2" ]]; }

# ---- the maps, through gfuser / gfgroup ----
expect_eq "the user map starts empty" "" "$(gfuser -H list 2>&1)"
check "gfuser add $U $Y" gfuser add "$U" "$Y"
check "gfgroup add $G $GY" gfgroup add "$G" "$GY"
check "adding the same pair again is a no-op" gfuser add "$U" "$Y"
expect_eq "gfuser list shows the entry" "$U $Y" "$(gfuser -H list 2>&1 | awk '{ print $1, $2 }')"
expect_eq "gfgroup list shows the entry" "$G $GY" "$(gfgroup -H list 2>&1 | awk '{ print $1, $2 }')"
expect_eq "gfuser list does not show groups" "1" "$(gfuser -H list | wc -l)"
expect_eq "the users table holds the entry" "$Y|$U" "$(sql 'SELECT uid, name FROM users')"
expect_eq "the groups table holds the entry" "$GY|$G" "$(sql 'SELECT gid, name FROM groups')"

out=$(gfuser add "$U" $((Y + 5)) 2>&1)
expect_eq "another id for a mapped name is refused (exit 1)" "1" "$?"
[[ $out == *"already has UID $Y"* ]] && ok "and says why" || fail "EEXIST message: $out"
gfuser add gfit_other "$Y" >/dev/null 2>&1
expect_eq "a second name for a mapped id is refused (exit 1)" "1" "$?"
gfuser add -- "-bad" 5 >/dev/null 2>&1
expect_eq "an invalid name is a usage error (exit 2)" "2" "$?"
gfuser add gfit_x 0 >/dev/null 2>&1
expect_eq "uid 0 cannot be mapped (exit 2)" "2" "$?"
gfuser del gfit_nobody >/dev/null 2>&1
expect_eq "deleting an unmapped name fails (exit 1)" "1" "$?"
check "gfuser --help is a manual page" sh -c "'$GFUSER' --help | grep -q '^EXIT STATUS'"

# A non-root caller is refused by gfmd itself (it has the key: no bypass).
cp "$KEY" "$STATE/bob.key" && chown "$O" "$STATE/bob.key" && chmod 600 "$STATE/bob.key"
cat >"$STATE/bob.conf" <<EOF
gfmd_host = 127.0.0.1
gfmd_port = $GFMD_PORT
key_file = $STATE/bob.key
EOF
chmod 644 "$STATE/bob.conf"
out=$(as_user "$O" "$GFUSER" -c "$STATE/bob.conf" add gfit_carol 12345 2>&1)
rc=$?
expect_eq "non-root gfuser add exits 1" 1 "$rc"
expect_eq "non-root gfuser add is refused by gfmd" \
	"gfuser: permission denied (only root may change the user map)" "$out"
out=$(as_user "$O" "$GFGROUP" -c "$STATE/bob.conf" del "$G" 2>&1)
expect_eq "non-root gfgroup del is refused by gfmd" \
	"gfgroup: permission denied (only root may change the group map)" "$out"
expect_eq "non-root may list" "$U $Y" "$(as_user "$O" "$GFUSER" -c "$STATE/bob.conf" -H list | awk '{ print $1, $2 }')"

# ---- the mount translates ----
mkdir "$MOUNT/d" && chmod 1777 "$MOUNT/d" || die "mkdir on the mount failed"
: >"$MOUNT/probe" || die "create on the mount failed"
# The mount sees the new entries within its refresh period: poll with chown.
probe_mapped() { chown "$U:$G" "$MOUNT/probe" && owner_is "$MOUNT/probe" "$Y $GY"; }
poll_until "$GF_WAIT_SECS" probe_mapped && ok "chown $U:$G by root stores $Y $GY" ||
	fail "chown $U:$G stored '$(db_owner "$MOUNT/probe")', not '$Y $GY'"
poll_until "$GF_WAIT_SECS" shown_is "$MOUNT/probe" "$X $GX" && ok "and stat shows the local $X $GX" ||
	fail "stat shows $(stat -c '%u %g' "$MOUNT/probe")"

check "$U creates a file" as_user "$U" sh -c "echo mine >'$MOUNT/d/a'"
expect_eq "PostgreSQL's inode row holds the global uid/gid" "$Y $GY" "$(db_owner "$MOUNT/d/a")"
expect_eq "stat on the mount shows the local uid/gid" "$X $GX" "$(stat -c '%u %g' "$MOUNT/d/a")"
check "$U can write her own file" as_user "$U" sh -c "echo more >>'$MOUNT/d/a'"
expect_eq "and read it" "mine
more" "$(as_user "$U" cat "$MOUNT/d/a" 2>&1)"
expect_errno --as "$O" "another user cannot write it" EACCES 'write_file(M + "/d/a", b"x", os.O_WRONLY | os.O_APPEND)'
check "$U may chmod her file" as_user "$U" chmod 600 "$MOUNT/d/a"
expect_errno --as "$O" "another user cannot read it once 0600" EACCES 'read_file(M + "/d/a")'
expect_errno --as "$O" "another user cannot chmod it" EPERM 'os.chmod(M + "/d/a", 0o666)'
# gfmd's own check, not only the kernel's: an open through the mount by
# uid X is sent as Y, so gfmd agrees she owns it.
check "$U can still open it for writing" as_user "$U" sh -c ": >>'$MOUNT/d/a'"
expect_eq "ls -ln shows the local owner" "$X $GX" "$(ls -ln "$MOUNT/d/a" | awk '{ print $3, $4 }')"

# Unmapped users behave as before: their number passes through both ways.
check "$O (unmapped) creates a file" as_user "$O" sh -c "echo b >'$MOUNT/d/b'"
expect_eq "the database holds $O's local uid" "$XB $GY" "$(db_owner "$MOUNT/d/b")"
expect_eq "stat shows it back" "$XB $GX" "$(stat -c '%u %g' "$MOUNT/d/b")"
check "root creates a file" sh -c "echo r >'$MOUNT/d/r'"
expect_eq "root stays 0 in the database" "0 0" "$(db_owner "$MOUNT/d/r")"

# ---- the maps survive a gfmd restart (under the live mount) ----
gf_gfmd_stop || fail "gfmd did not stop on SIGTERM"
gf_gfmd_start || die "gfmd did not start again"
gf_wait_hosts_up || fail "gfsd did not come back to gfmd"
expect_eq "gfuser list after a gfmd restart" "$U $Y" "$(gfuser -H list 2>&1 | awk '{ print $1, $2 }')"
expect_eq "gfgroup list after a gfmd restart" "$G $GY" "$(gfgroup -H list 2>&1 | awk '{ print $1, $2 }')"
check "$U creates a file after the restart" as_user "$U" sh -c "echo again >'$MOUNT/d/c'"
expect_eq "it is stored with the global uid" "$Y $GY" "$(db_owner "$MOUNT/d/c")"
expect_eq "and shown with the local one" "$X $GX" "$(stat -c '%u %g' "$MOUNT/d/c")"

# ---- gfuser del: no name for Y any more, so Y shows as it is ----
check "gfuser del $U" gfuser del "$U"
expect_eq "gfuser list is empty again" "" "$(gfuser -H list 2>&1)"
expect_eq "the users table is empty again" "" "$(sql 'SELECT uid FROM users')"
poll_until "$GF_WAIT_SECS" shown_is "$MOUNT/d/a" "$Y $GX" && ok "after del, stat shows the raw global uid $Y" ||
	fail "after del, stat shows $(stat -c '%u %g' "$MOUNT/d/a"), expected '$Y $GX'"
expect_eq "the stored owner is unchanged" "$Y $GY" "$(db_owner "$MOUNT/d/a")"
expect_errno --as "$U" "$U (now sent as $X) no longer owns it" EACCES 'read_file(M + "/d/a")'
check "$U creates a file while unmapped" as_user "$U" sh -c "echo local >'$MOUNT/d/e'"
expect_eq "it is stored with her local uid" "$X $GY" "$(db_owner "$MOUNT/d/e")"
check "gfgroup del $G" gfgroup del "$G"
poll_until "$GF_WAIT_SECS" shown_is "$MOUNT/d/e" "$X $GY" && ok "after gfgroup del, the raw gid $GY shows" ||
	fail "after gfgroup del, stat shows $(stat -c '%u %g' "$MOUNT/d/e")"

it_done
