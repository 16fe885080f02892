#!/bin/bash
# A file written into a directory of replica count 2 gets its second
# replica while it is written (gfmd's copy that follows the writer,
# gfsd/copy.h GFS_REP_FOLLOW), 2 gfsd and 1 mount (the writer's replica
# on node1, the copy on node2):
# - a writer that rewrites its first megabyte after the copy took it, then
#   goes on: the copy mends those blocks (copy_blocks_mended), is made
#   while the file was written (copies_followed), and is byte-identical;
# - a writer that cuts its file back while the copy follows and writes on:
#   the same;
# - the copy's gfsd killed (-9) while it follows: the writer sees nothing;
#   once that gfsd is back, the file reaches its count after the close,
#   byte-identical;
# - a file under the follow threshold: copied after the close as before;
# - bad input: GFM_REPLICATE with gfmd's own follow flag from a client,
#   GFS_OPEN with GFS_O_FOLLOW but not GFS_O_COPY: EINVAL.
# shellcheck disable=SC2317  # helpers are called through poll_until
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
it_require cmp python3
GFWHERE=$(gf_bin gfwhere) || die "gfwhere is not built"
GFNCOPY=$(gf_bin gfncopy) || die "gfncopy is not built"
it_cluster_up --gfsd 2 --mounts 1
export GFARMFS_CONFIG=$STATE/admin.conf
stat2() { gf_stat_value node2 "$1"; }
served() { gf_stat_value node1 read_remote; }

mkdir "$MOUNT/two" || die "mkdir"
"$GFNCOPY" -s 2 "$MOUNT/two" || die "gfncopy"

# writer PATH MODE: writes 32 MiB, waits until node1 has served that much
# more to the copy ($STATE/go appears), then per MODE: rewrite (1 MiB of
# new bytes at 0), cut (truncate to 10 MiB + 5); then 8 MiB more at the
# end and close. The expected content goes to $STATE/want.
writer() {
	rm -f "$STATE/go" "$STATE/ready"
	"$PY" - "$1" "$2" "$STATE" <<'PYEOF'
import os, sys, time
path, mode, state = sys.argv[1], sys.argv[2], sys.argv[3]
rnd = os.urandom
want = bytearray(rnd(32 << 20))
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
os.write(fd, want)
os.fsync(fd)
open(state + "/ready", "w").close()
while not os.path.exists(state + "/go"):
    time.sleep(0.01)
if mode == "rewrite":
    new = rnd(1 << 20)
    os.pwrite(fd, new, 0)
    want[0:1 << 20] = new
elif mode == "cut":
    os.ftruncate(fd, (10 << 20) + 5)
    del want[(10 << 20) + 5:]
more = rnd(8 << 20)
os.pwrite(fd, more, len(want))
want += more
os.close(fd)
open(state + "/want", "wb").write(want)
PYEOF
}
ready() { [[ -e $STATE/ready ]]; }
# follow_case LABEL MODE: the writer, and node1 serving the copy 32 MiB
# before the writer goes on
follow_case() {
	local label=$1 mode=$2 f=$MOUNT/two/$2 base followed mended
	followed=$(stat2 copies_followed) mended=$(stat2 copy_blocks_mended)
	base=$(served)
	writer "$f" "$mode" &
	local wp=$!
	poll_until "$GF_WAIT_SECS" ready || die "$label: the writer never got ready"
	took() { (($(served) - base >= 32 << 20)); }
	poll_until "$GF_WAIT_SECS" took ||
		fail "$label: the copy did not read the file while it was written ($(($(served) - base)) bytes)"
	touch "$STATE/go"
	wait "$wp" || fail "$label: the writer failed"
	two() { [[ $(current "$f") == 2 ]]; }
	poll_until "$GF_WAIT_SECS" two || fail "$label: $(current "$f") current replicas"
	spools_match "$f" "$STATE/want" 2 && ok "$label: both replicas are the file, byte for byte" ||
		fail "$label: a replica differs: $("$GFWHERE" -l "$f" | tr '\n' ';')"
	expect_eq "$label: the copy was made while the file was written" \
		$((followed + 1)) "$(stat2 copies_followed)"
	MENDED=$(($(stat2 copy_blocks_mended) - mended))
}
follow_case "rewrite" rewrite
expect_eq "rewrite: the 16 blocks of the rewritten first MiB were fetched again" yes \
	"$( ((MENDED >= 16)) && echo yes || echo "no ($MENDED)")"
follow_case "cut" cut

# ---- the copy's gfsd dies while it follows -----------------------------------------------
f=$MOUNT/two/killed
base=$(served)
writer "$f" plain &
wp=$!
poll_until "$GF_WAIT_SECS" ready || die "killed: the writer never got ready"
took() { (($(served) - base >= 32 << 20)); }
poll_until "$GF_WAIT_SECS" took || fail "killed: the copy did not read the file while it was written"
check_here "kill -9 gfsd node2 while its copy follows the writer" gf_gfsd_kill9 2
touch "$STATE/go"
wait "$wp" && ok "killed: the writer saw no error" || fail "killed: the writer failed"
check_here "gfsd node2 back" gf_gfsd_start 2
two() { [[ $(current "$f") == 2 ]]; }
poll_until "$GF_WAIT_SECS" two && ok "killed: the file reaches its count after the close" ||
	fail "killed: $(current "$f") current replicas"
spools_match "$f" "$STATE/want" 2 && ok "killed: both replicas are the file, byte for byte" ||
	fail "killed: a replica differs"

# ---- a small file: after the close, as before ----------------------------------------------
followed=$(stat2 copies_followed)
head -c 300000 /dev/urandom >"$STATE/small"
cp "$STATE/small" "$MOUNT/two/small" || die "cp small"
two() { [[ $(current "$MOUNT/two/small") == 2 ]]; }
poll_until "$GF_WAIT_SECS" two || fail "small: $(current "$MOUNT/two/small") replicas"
spools_match "$MOUNT/two/small" "$STATE/small" 2 && ok "small: 2 byte-identical replicas" ||
	fail "small: a replica differs"
expect_eq "small: not copied while written (under the threshold)" "$followed" "$(stat2 copies_followed)"

# ---- bad input -------------------------------------------------------------------------------
peer() { "$PY" "$IT_DIR/peer.py" --key "$STATE/key" --count 1 --statuses --hold 0 "$@" 2>&1; }
out=$(peer --op gfm-replicate-badflags "tcp:127.0.0.1:$GFMD_PORT")
grep -qx "status -22" <<<"$out" && ok "GFM_REPLICATE with a flag clients may not set: EINVAL" ||
	fail "gfm-replicate-badflags: $out"
port=$(awk '$1 == "gfsd_port" { print $3 }' "$STATE/node1/gfsd.conf")
out=$(peer --op open-follow-nocopy "tcp:127.0.0.1:$port")
grep -qx "status -22" <<<"$out" && ok "GFS_OPEN with GFS_O_FOLLOW but not GFS_O_COPY: EINVAL" ||
	fail "open-follow-nocopy: $out"
check "gfmd and gfsd still serve" gf_stat_value node1 heartbeats

it_done
