#!/bin/bash
# gfsched, gfrun and the per-client locality counters on a one-machine
# cluster: mount K runs as host nodeK. A file written
# through a mount lives on that mount's host; gfsched names that host first
# and skips hosts whose gfsd is down; gfrun picks the same host and runs the
# command through the launcher (here `env`, standing in for ssh) in the same
# directory of the file system, with the command's own output and status;
# the mount's user.gfarmfs.stats xattr counts local and remote bytes read.
# shellcheck disable=SC2317  # helpers are called through check/poll_until
# shellcheck disable=SC2016  # '$x' in commands is for the shell gfrun starts
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
it_require getfattr setfattr
# a stopped gfsd is seen as down within a second or so
export GF_HEARTBEAT_MS=${GF_HEARTBEAT_MS:-300} GF_HOST_DOWN_MS=${GF_HOST_DOWN_MS:-1500}
it_cluster_up --gfsd 3 --mounts 3
GFSCHED=$(gf_bin gfsched) || die "no gfsched"
GFRUN=$(gf_bin gfrun) || die "no gfrun"

sched() { "$GFSCHED" -c "$CONFIG" "$@"; }
# Hosts are reached with `env GFRUN_HOST=%h` and host K's mount is at-nodeK.
for k in 1 2 3; do
	v=MOUNT$k
	[[ $k == 1 ]] && v=MOUNT
	ln -s "${!v}" "$STATE/at-node$k" || die "cannot link the mount point of node$k"
done
RUNCONF=$STATE/gfrun.conf
{
	cat "$CONFIG"
	echo "launcher = env GFRUN_HOST=%h"
	echo "mount_point = $STATE/at-%h"
} >"$RUNCONF"
run() { "$GFRUN" -c "$RUNCONF" "$@"; }
# stat VALUE of mount DIR's counter KEY
stat_of() {
	getfattr --absolute-names --only-values -n user.gfarmfs.stats "$1" |
		awk -v k="$2" '$1 == k { print $2 }'
}

F=$MOUNT/d/f G=$MOUNT/d/g
mkdir "$MOUNT/d" || die "cannot mkdir on mount 1"
head -c 200000 /dev/urandom >"$F" || die "cannot write through mount 1"
head -c 3000 /dev/urandom >"$MOUNT2/d/g" || die "cannot write through mount 2"
gf_wait_hosts_up || die "hosts not up"

# ---- gfsched ----------------------------------------------------------------
expect_eq "gfsched: a file written on node1 is on node1" node1 "$(sched "$F" | head -n 1)"
expect_eq "gfsched: a file written on node2 is on node2 (path via mount 1)" node2 "$(sched "$G")"
expect_eq "gfsched: path on mount 2 names the same file" node1 "$(sched "$MOUNT2/d/f")"
expect_eq "gfsched: namespace path gfarm:/d/f" node1 "$(sched gfarm:/d/f)"
expect_eq "gfsched: relative path" node1 "$(cd "$MOUNT/d" && sched f)"
expect_eq "gfsched: most bytes first" "node1 node2" "$(sched "$G" "$F" | xargs)"
expect_eq "gfsched -n 1" node1 "$(sched -n 1 "$G" "$F")"
expect_eq "gfsched --format=slurm" node1,node2 "$(sched --format=slurm "$F" "$G")"
expect_eq "gfsched --format=json" "node1 200000 1,node2 3000 1" "$(sched --format=json "$F" "$G" |
	"$PY" -c 'import json, sys
print(",".join("%s %d %d" % (h["host"], h["bytes"], h["files"]) for h in json.load(sys.stdin)))')"
expect_eq "gfsched -w: every up host" "node1 node2 node3" "$(sched -w | sort | xargs)"
expect_eq "gfsched -w -n 2 --format=slurm: two hosts" 1 "$(sched -w -n 2 --format=slurm | tr -cd , | wc -c)"
check_fails "gfsched: a file outside gfarmfs is an error" sched /etc/hostname
check_fails "gfsched: a directory is an error" sched "$MOUNT/d"
check_fails "gfsched: a missing namespace path is an error" sched gfarm:/d/nope
sched >/dev/null 2>&1
expect_eq "gfsched without PATH or -w: usage error" 2 "$?"
sched -w "$F" >/dev/null 2>&1
expect_eq "gfsched -w with PATH: usage error" 2 "$?"

# ---- gfrun ------------------------------------------------------------------
expect_eq "gfrun --dry-run picks node1 for F" "host node1" "$(run --dry-run -f "$F" -- true | head -n 1)"
expect_eq "gfrun -n picks node2 for G" "host node2" "$(run -n -f "$G" -- true | head -n 1)"
expect_eq "gfrun --host overrides" "host node3" "$(run -n --host node3 -f "$F" -- true | head -n 1)"
expect_eq "gfrun: the dry-run directory is the target's mount + cwd" "dir $STATE/at-node2/d" \
	"$(cd "$MOUNT/d" && run -n -f g -- true | sed -n 2p)"
run -- sh -c 'exit 7' >/dev/null 2>&1
expect_eq "gfrun: exit status is the command's" 7 "$?"
run -- sh -c 'kill -TERM $$' >/dev/null 2>&1
expect_eq "gfrun: signal death is 128+N" 143 "$?"
expect_eq "gfrun: stdout and stderr are the command's" "out err" \
	"$(run -- sh -c 'echo out; echo err >&2' 2>&1 | xargs)"
expect_eq "gfrun: arguments are passed as given" 'a  b|$HOME|*|' \
	"$(cd / && run -- printf '%s|' 'a  b' '$HOME' '*')"
expect_eq "gfrun -f G runs on node2" node2 "$(cd "$MOUNT/d" && run -f g -- sh -c 'echo "$GFRUN_HOST"')"
expect_eq "gfrun: runs in the same directory on the target" "$(realpath "$MOUNT2")/d" \
	"$(cd "$MOUNT/d" && run -f g -- pwd -P)"
expect_eq "gfrun: the command reads its input there" "$(sha256sum <"$G")" \
	"$(cd "$MOUNT/d" && run -f g -- sh -c 'sha256sum <g')"
expect_eq "gfrun: outside gfarmfs it runs in the mount root" "$(realpath "$MOUNT")" \
	"$(cd / && run -f "$F" -- pwd -P)"
(cd "$MOUNT/d" && run -f g -- sh -c 'head -c 4096 /dev/zero >made') ||
	fail "gfrun: creating a file on node2"
expect_eq "gfrun: a file the command creates lands on its host" node2 "$(sched "$MOUNT/d/made")"
run >/dev/null 2>&1
expect_eq "gfrun without a command: usage error" 2 "$?"
check_fails "gfrun: a missing input is an error" run -f gfarm:/d/nope -- true

# ---- per-client counters ----------------------------------------------------
rl=$(stat_of "$MOUNT" read_local) rr=$(stat_of "$MOUNT" read_remote)
[[ -n $rl && -n $rr ]] || fail "stats xattr on mount 1 has read_local and read_remote"
expect_eq "stats xattr names the client's host" node1 "$(stat_of "$MOUNT" host)"
# (mount 1 wrote F: what it wrote is in its page cache, which reads would hit)
sync
echo 3 >/proc/sys/vm/drop_caches
cat "$F" >/dev/null
expect_eq "local read on node1 raises read_local by the file size" $((rl + 200000)) \
	"$(stat_of "$MOUNT" read_local)"
expect_eq "local read on node1 leaves read_remote alone" "$rr" "$(stat_of "$MOUNT" read_remote)"
rl2=$(stat_of "$MOUNT2" read_local) rr2=$(stat_of "$MOUNT2" read_remote)
cat "$MOUNT2/d/f" >/dev/null
expect_eq "reading it on node2 raises read_remote by the file size" $((rr2 + 200000)) \
	"$(stat_of "$MOUNT2" read_remote)"
expect_eq "reading it on node2 leaves read_local alone" "$rl2" "$(stat_of "$MOUNT2" read_local)"
# by kind: a lookup of a name that is not there is one FUSE LOOKUP and one
# gfmd LOOKUP more; a chmod one SETATTR of each
fl=$(stat_of "$MOUNT" fuse.lookup) gl=$(stat_of "$MOUNT" gfmd.lookup)
fs=$(stat_of "$MOUNT" fuse.setattr) gs=$(stat_of "$MOUNT" gfmd.setattr)
check "a lookup of a missing name" test ! -e "$MOUNT/d/not-there-$$"
check "a chmod" chmod 640 "$F"
expect_eq "stats: fuse.lookup counts it" $((${fl:-0} + 1)) "$(stat_of "$MOUNT" fuse.lookup)"
expect_eq "stats: gfmd.lookup counts it" $((${gl:-0} + 1)) "$(stat_of "$MOUNT" gfmd.lookup)"
expect_eq "stats: fuse.setattr counts the chmod" $((${fs:-0} + 1)) \
	"$(stat_of "$MOUNT" fuse.setattr)"
expect_eq "stats: gfmd.setattr counts the chmod" $((${gs:-0} + 1)) \
	"$(stat_of "$MOUNT" gfmd.setattr)"
expect_errno "stats xattr cannot be set" EPERM 'os.setxattr(M, "user.gfarmfs.stats", b"0")'
expect_errno "stats xattr cannot be removed" EPERM 'os.removexattr(M, "user.gfarmfs.stats")'
expect_eq "stats xattr is not listed" no \
	"$(py 'print("yes" if "user.gfarmfs.stats" in os.listxattr(M) else "no")')"
expect_errno "elsewhere the name is an ordinary xattr" OK \
	'os.setxattr(M + "/d/f", "user.gfarmfs.stats", b"mine")
assert os.getxattr(M + "/d/f", "user.gfarmfs.stats") == b"mine"'

# ---- a host whose gfsd is down -------------------------------------------------
host_down() { ! gf_host_is_up "$1"; }
gf_gfsd_stop 1 || die "cannot stop gfsd node1"
poll_until "$GF_WAIT_SECS" host_down node1 || die "gfmd does not see node1 down"
out=$(sched "$F" 2>"$STATE/sched.err")
expect_eq "gfsched: only replica on a down host: exit 1" 1 "$?"
expect_eq "gfsched: ... and no host printed" "" "$out"
check "gfsched: ... and says so on stderr" grep -q "down" "$STATE/sched.err"
out=$(sched "$F" "$G" 2>/dev/null)
expect_eq "gfsched: the down host is skipped, the others listed" node2 "$out"
expect_eq "gfsched -w lists only up hosts" "node2 node3" "$(sched -w | sort | xargs)"
check_fails "gfrun: input only on a down host is an error" run -n -f "$F" -- true
expect_eq "gfrun without -f avoids the down host" yes \
	"$(run -n -- true | awk 'NR == 1 { print ($2 != "node1") ? "yes" : "no" }')"
gf_gfsd_start 1 || die "cannot restart gfsd node1"
gf_wait_hosts_up || die "node1 does not come back"
expect_eq "gfsched: node1 first again once its gfsd is back" node1 "$(sched "$F" "$G" | head -n 1)"

it_done
