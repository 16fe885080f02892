#!/bin/bash
# Two clients (two mounts, on node1 and node2) see each other's changes
# once the attribute cache times out (1 s by default): polled, never a blind
# sleep, and how long it took is reported, not judged (LIMIT only guards
# against a hang). Data written on a node is stored on that node (co-location), and the
# gfsd counters tell local (fd passed) from remote bytes.
# shellcheck disable=SC2317  # helpers are called through poll_until
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
it_require cmp
it_cluster_up --gfsd 3 --mounts 2
A=$MOUNT B=$MOUNT2
LIMIT=${GF_VISIBLE_SECS:-$GF_WAIT_SECS} # only a guard against a hang

# visible DESC CMD...: CMD becomes true within LIMIT seconds.
visible() {
	local desc=$1 t0
	shift
	t0=$(now)
	if poll_until "$LIMIT" "$@"; then
		ok "$desc (after $(since "$t0") s)"
	else
		fail "$desc: not within $LIMIT s"
	fi
}
content_is() { [[ $(cat "$1" 2>/dev/null) == "$2" ]]; }
mode_is() { [[ $(stat -c %a "$1" 2>/dev/null) == "$2" ]]; }
size_is() { [[ $(stat -c %s "$1" 2>/dev/null) == "$2" ]]; }
absent() { [[ ! -e $1 && ! -L $1 ]]; }
xattr_is() { [[ $(getfattr --absolute-names --only-values -n "$2" "$1" 2>/dev/null) == "$3" ]]; }

# Look everything up on B first, so B has cached entries to invalidate.
mkdir "$A/shared" || die "cannot mkdir on mount 1"
visible "mkdir on 1 seen by 2" test -d "$B/shared"
absent "$B/shared/f" || fail "f exists before it was created"
echo one >"$A/shared/f"
visible "create+write on 1 seen by 2" content_is "$B/shared/f" one
echo two >>"$B/shared/f"
visible "append on 2: new size seen by 1" size_is "$A/shared/f" 8
visible "append on 2: new content seen by 1" content_is "$A/shared/f" "one
two"
chmod 600 "$A/shared/f"
visible "chmod on 1 seen by 2" mode_is "$B/shared/f" 600
setfattr -n user.k -v v1 "$B/shared/f"
visible "setxattr on 2 seen by 1" xattr_is "$A/shared/f" user.k v1
mv "$A/shared/f" "$A/shared/g"
visible "rename on 1: old name gone on 2" absent "$B/shared/f"
visible "rename on 1: new name on 2" content_is "$B/shared/g" "one
two"
truncate -s 3 "$B/shared/g"
visible "truncate on 2 seen by 1" content_is "$A/shared/g" one
ln -s g "$A/shared/l"
visible "symlink on 1 seen by 2" test -L "$B/shared/l"
rm "$B/shared/g"
visible "unlink on 2 seen by 1" absent "$A/shared/g"
mkdir "$B/shared/d"
visible "mkdir on 2 seen by 1" test -d "$A/shared/d"
rmdir "$B/shared/d"
visible "rmdir on 2 seen by 1" absent "$A/shared/d"
touch "$A/shared/n1" "$A/shared/n2"
visible "readdir on 2 lists files created on 1" test "$(find "$B/shared" -mindepth 1 | wc -l)" = 3
# A file open on 2 before 1 rewrites it: a new open on 2 sees the new data.
printf 'version-1' >"$A/shared/v"
visible "file v seen by 2" content_is "$B/shared/v" version-1
exec 7<"$B/shared/v"
printf 'version-2!' >"$A/shared/v"
visible "rewrite on 1: a new open on 2 reads the new data" content_is "$B/shared/v" version-2!
exec 7<&-

# ---- locality and the byte counters ---------------------------------------------------
stat_of() { gf_stat_value "$1" "$2" || echo "?"; }
w1=$(stat_of node1 written_local) r1=$(stat_of node1 read_local)
rr1=$(stat_of node1 read_remote) w2=$(stat_of node2 written_local)
for v in "$w1" "$r1" "$rr1" "$w2"; do
	[[ $v =~ ^[0-9]+$ ]] || die "gfhost stats does not give the counters: $("$(gf_bin gfhost)" -c "$ADMIN_CONFIG" stats node1 2>&1)"
done
SZ=$((8 * 1024 * 1024))
head -c $SZ /dev/urandom >"$STATE/data"
cp "$STATE/data" "$A/local-data" || fail "cannot write 8 MiB on mount 1"
grown() { local v; v=$(stat_of "$1" "$2"); [[ $v =~ ^[0-9]+$ ]] && ((v - $3 >= $4)); }
if poll_until "$GF_WAIT_SECS" grown node1 written_local "$w1" $SZ; then
	ok "8 MiB written on node1 went into node1's gfsd by the local path"
else
	fail "node1 written_local grew by $(($(stat_of node1 written_local) - w1)), not >= $SZ"
fi
expect_eq "nothing of it went to node2" "$w2" "$(stat_of node2 written_local)"
sync
echo 3 >/proc/sys/vm/drop_caches
check "read back on node1" cmp "$STATE/data" "$A/local-data"
if poll_until "$GF_WAIT_SECS" grown node1 read_local "$r1" $SZ; then
	ok "reading it on node1 is served locally"
else
	fail "node1 read_local grew by $(($(stat_of node1 read_local) - r1)), not >= $SZ"
fi
expect_eq "and not remotely" "$rr1" "$(stat_of node1 read_remote)"
check "read on node2 (the replica is on node1)" cmp "$STATE/data" "$B/local-data"
if poll_until "$GF_WAIT_SECS" grown node1 read_remote "$rr1" $SZ; then
	ok "reading it on node2 is served remotely by node1"
else
	fail "node1 read_remote grew by $(($(stat_of node1 read_remote) - rr1)), not >= $SZ"
fi
if (($(find "$STATE/node1/spool" -type f -size +7M | wc -l) >= 1)); then
	ok "the replica lies in node1's spool"
else
	fail "no 8 MiB replica in node1's spool"
fi
if (($(find "$STATE/node2/spool" "$STATE/node3/spool" -type f -size +7M | wc -l) == 0)); then
	ok "no copy in the other spools"
else
	fail "the file was also stored on node2/node3"
fi

it_done
