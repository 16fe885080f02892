#!/bin/bash
# shellcheck disable=SC2317  # helpers are called through check/poll_until
# Data and metadata survive stopping and starting every daemon: PostgreSQL,
# gfmd, every gfsd and the mounts (remounted). Copies that a gfmd killed
# had still to make are made by the next one; a file whose only host was
# down when its count rose gets its copies once that host is back.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
it_require getfattr setfattr find
it_cluster_up --gfsd 3 --mounts 2

# Files written through both mounts land on node1 and node2.
build_tree() {
	local m=$1 tag=$2 i
	mkdir -p "$m/$tag/dir/sub" "$m/$tag/empty" &&
		for i in 1 2 3 4 5; do
			head -c $((i * 100000 + i)) /dev/urandom >"$m/$tag/dir/f$i" || return 1
		done &&
		: >"$m/$tag/zero" &&
		printf 'x' | dd of="$m/$tag/sparse" bs=1 seek=5000000 status=none &&
		ln -s dir/f1 "$m/$tag/link" &&
		ln "$m/$tag/dir/f2" "$m/$tag/dir/sub/hard" &&
		chmod 600 "$m/$tag/dir/f3" && chmod 1777 "$m/$tag/empty" &&
		chown 65534:65534 "$m/$tag/dir/f4" &&
		touch -m -d '2010-01-01 00:00:00.5 UTC' "$m/$tag/dir/f5" &&
		setfattr -n user.note -v "kept $tag" "$m/$tag/dir/f1" &&
		setfattr -n user.dirnote -v yes "$m/$tag/dir" &&
		mkdir "$m/$tag/gone" && rm -r "$m/$tag/gone" &&
		mv "$m/$tag/dir/f1" "$m/$tag/dir/f1.renamed" &&
		ln -sf dir/f1.renamed "$m/$tag/link"
}

# Everything a user can see: type, mode, owner, size, mtime, link target,
# inode, link count, content hash, xattrs.
manifest() {
	local m=$1
	(cd "$m" && find . -printf '%p %y %m %U %G %s %T@ %i %n %l\n' | sort) &&
		(cd "$m" && find . -type f -print0 | sort -z | xargs -0 -r sha256sum) &&
		(cd "$m" && getfattr -R -d -m '^user\.' . 2>/dev/null)
}

check "write a tree through mount 1" build_tree "$MOUNT" one
check "write a tree through mount 2" build_tree "$MOUNT2" two
sync
# Each mount may show the other's last changes only after its attribute
# cache expires: poll until both show the same tree (GF_WAIT_SECS only
# guards against a hang).
same_tree() {
	manifest "$MOUNT" >"$STATE/before" && manifest "$MOUNT2" >"$STATE/before2" &&
		diff -q "$STATE/before" "$STATE/before2"
}
poll_until "$GF_WAIT_SECS" same_tree
((($(wc -l <"$STATE/before")) > 30)) || die "manifest too small: $(cat "$STATE/before")"
check "both mounts see the same tree" diff "$STATE/before" "$STATE/before2"

check "stop every daemon (mounts, gfsd, gfmd, PostgreSQL)" gf_stop_all
for ((k = 1; k <= NGFSD; k++)); do
	gf_pid_alive "$(gf_gfsd_pid "$k")" && fail "gfsd node$k still running after stop"
done
check "nothing is mounted any more" test -z "$(gf_mounts_under "$STATE")"
# This time gfmd and gfsd detach themselves (no -f) and write pid files.
GF_DAEMONIZE=1 check "start everything again (daemons detaching themselves)" gf_start_all || die "restart failed"

manifest "$MOUNT" >"$STATE/after"
check "the tree is identical after the restart (mount 1)" diff "$STATE/before" "$STATE/after"
manifest "$MOUNT2" >"$STATE/after2"
check "the tree is identical after the restart (mount 2)" diff "$STATE/before" "$STATE/after2"

# And the file system keeps working after the restart.
check "create after the restart" sh -c "echo after >'$MOUNT/one/new'"
expect_eq "read after the restart" after "$(cat "$MOUNT/one/new" 2>&1)"
expect_errno "new inode numbers do not collide with old ones" OK "
seen = {}
for root, dirs, files in os.walk(M):
    for n in dirs + files:
        st = os.lstat(os.path.join(root, n))
        if st.st_ino in seen and st.st_nlink == 1:
            raise AssertionError('inode %d reused: %s and %s' % (st.st_ino, seen[st.st_ino], n))
        seen[st.st_ino] = n"

# A second cycle: gfmd alone restarts under live mounts and gfsd.
manifest "$MOUNT" >"$STATE/before3"
gf_gfmd_stop || fail "gfmd did not stop on SIGTERM"
gf_gfmd_start || die "gfmd did not start again"
gf_wait_hosts_up || fail "gfsd did not come back to gfmd"
manifest "$MOUNT" >"$STATE/after3"
check "the tree is intact after a gfmd restart under live mounts" diff "$STATE/before3" "$STATE/after3"
check "create through a live mount after the gfmd restart" sh -c "echo again >'$MOUNT/two/again'"
expect_eq "and read it through the other mount" again "$(cat "$MOUNT2/two/again" 2>&1)"

# A third: copies gfmd had still to make when it was killed are made once it
# starts again. With gfsd node2 and node3 stopped, files written into a
# count-2 directory keep their one replica on node1 and wait for a copy
# (failed, to be tried again): something only that gfmd's memory held.
GFWHERE=$(gf_bin gfwhere) || die "gfwhere is not built"
export GFARMFS_CONFIG=$STATE/admin.conf
mkdir "$MOUNT/count2" && "$(gf_bin gfncopy)" -s 2 "$MOUNT/count2" || die "gfncopy -s 2"
check_here "gfsd node2 stops" gf_gfsd_stop 2
check_here "gfsd node3 stops" gf_gfsd_stop 3
for i in 1 2 3 4 5; do
	head -c $((i * 70000)) /dev/urandom >"$MOUNT/count2/f$i" || die "write count2/f$i"
done
ones=0
for i in 1 2 3 4 5; do [[ $(current "$MOUNT/count2/f$i") == 1 ]] && ones=$((ones + 1)); done
expect_eq "5 files written into a count-2 directory with one gfsd up: 1 replica each" 5 "$ones"
check_here "kill -9 of gfmd" gf_gfmd_kill9
check_here "gfsd node2 starts again" gf_gfsd_start 2
check_here "gfsd node3 starts again" gf_gfsd_start 3
check_here "gfmd starts again" gf_gfmd_start || die "gfmd does not restart"
all_two() {
	local i
	for i in 1 2 3 4 5; do [[ $(current "$MOUNT/count2/f$i") == 2 ]] || return 1; done
}
if poll_until "$GF_WAIT_SECS" all_two; then
	ok "  after its start, gfmd makes the copies the killed one had still to make"
else
	fail "  replicas: $(for i in 1 2 3 4 5; do "$GFWHERE" -l "$MOUNT/count2/f$i" | tail -n +2; done | tr '\n' ';')"
fi
grep -Eq "node1 at gfmd's start: .*, [1-9][0-9]* to repair" "$STATE/gfmd.log" && ok "  (logged)" ||
	fail "  no log line for the look at gfmd's start"

# A fourth: a count raised while the file's only host is down for a while
# (shorter than repair_delay_ms, so no "down too long" comes) is met once
# that host is back; the look gfmd took meanwhile found nothing to copy from.
f=$MOUNT/solo
head -c 300000 /dev/urandom >"$f" || die "write solo"
[[ $("$GFWHERE" "$f" | cut -d' ' -f2-) == node1 ]] || die "solo is not on node1 alone: $("$GFWHERE" "$f")"
ino=$(stat -c %i "$f")
node1_down() { ! gf_host_is_up node1; }
check_here "gfsd node1 stops" gf_gfsd_stop 1
poll_until "$GF_WAIT_SECS" node1_down || die "gfmd never saw node1 down"
check "gfncopy -s 2 on a file whose only replica is on the down host" "$(gf_bin gfncopy)" -s 2 "$f"
looked() { grep -q "inode $ino: every replica (1) is on a host that is down" "$STATE/gfmd.log"; }
poll_until "$GF_WAIT_SECS" looked || fail "  gfmd's repair never looked at it"
check_here "gfsd node1 starts again" gf_gfsd_start 1
two() { [[ $(current "$f") == 2 ]]; }
poll_until "$GF_WAIT_SECS" two && ok "  once node1 is back, the file gets its second replica" ||
	fail "  replicas: $("$GFWHERE" -l "$f" | tail -n +2 | tr '\n' ';')"

# A fifth: a file still open for writing when gfmd was killed. The new gfmd
# does not count that writer (its open was on the old one), so its look at
# start-up tries a copy, which the source's gfsd refuses while the writer
# is there. The writer's close reaches the new gfmd too: the file must get
# its second replica then (it kept one for good before).
f=$MOUNT/count2/open-across
rm -f "$STATE/oa.go" "$STATE/oa.ready"
head -c 200000 /dev/urandom >"$STATE/oa.1"
head -c 100000 /dev/urandom >"$STATE/oa.2"
cat "$STATE/oa.1" "$STATE/oa.2" >"$STATE/oa.want"
"$PY" - "$f" "$STATE" <<'PYEOF' >"$STATE/oa.out" 2>&1 &
import os, sys, time
path, st = sys.argv[1], sys.argv[2]
fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
os.write(fd, open(st + "/oa.1", "rb").read())
os.fsync(fd)
open(st + "/oa.ready", "w").close()
while not os.path.exists(st + "/oa.go"):
    time.sleep(0.05)
os.write(fd, open(st + "/oa.2", "rb").read())
os.close(fd)
print("closed")
PYEOF
oa=$!
IT_CLEANUP+=("touch '$STATE/oa.go'")
check "a writer has count2/open-across open" poll_until "$GF_WAIT_SECS" test -e "$STATE/oa.ready"
gf_gfmd_log_mark
for k in 1 2 3; do gf_gfsd_log_mark "$k"; done
check_here "kill -9 of gfmd while it is open" gf_gfmd_kill9
check_here "gfmd starts again" gf_gfmd_start || die "gfmd does not restart"
ino=$(stat -c %i "$f")
refused() {
	local k
	for k in 1 2 3; do
		gf_log_has "$STATE/node$k/gfsd.log" "copy of inode $ino .*failed: Device or resource busy" &&
			return 0
	done
	return 1
}
check "the new gfmd's copy of it is refused by gfsd while the writer is there" \
	poll_until "$GF_WAIT_SECS" refused
touch "$STATE/oa.go"
gf_wait_dead "$oa"
expect_eq "the writer writes more and closes" closed "$(cat "$STATE/oa.out")"
oa_two() { spools_match "$f" "$STATE/oa.want" 2; }
poll_until "$GF_WAIT_SECS" oa_two && ok "  then it gets its second replica, with every byte" ||
	fail "  replicas: $("$GFWHERE" -l "$f" | tail -n +2 | tr '\n' ';')"

it_done
