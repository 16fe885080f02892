#!/bin/bash
# -o ncopy_wait=SECS: close waits for the replica count (3 gfsd, 2 mounts).
# - in a directory of count 2, a file copied in through a mount with the
#   option has its 2 current replicas when cp returns (looked at once, not
#   polled), byte-identical; through a mount without it, it gets them after
#   the close (polled);
# - a count that cannot be reached (4 on 3 hosts): close fails with EIO
#   after SECS, and the data is whole on the replicas there are;
# - a descriptor written again after a close that waited (dup): the file is
#   opened for writing again; the final data has its 2 replicas at the
#   last close, the older copies never served;
# - writes in one thread while another closes dups of the same descriptor
#   (as a fork and exec does): no error, no crash, no block lost;
# - a file copied empty after such a close, written and closed during that
#   copy: the last close gets its 2 replicas (no EIO);
# - a bad value: the mount refuses to start, saying why.
# shellcheck disable=SC2317  # helpers are called through poll_until
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
it_require cmp python3
GFWHERE=$(gf_bin gfwhere) || die "gfwhere is not built"
GFNCOPY=$(gf_bin gfncopy) || die "gfncopy is not built"
it_cluster_up --gfsd 3 --mounts 2
export GFARMFS_CONFIG=$STATE/admin.conf

mkdir "$MOUNT/two" "$MOUNT/four" || die "mkdir"
"$GFNCOPY" -s 2 "$MOUNT/two" || die "gfncopy two"
"$GFNCOPY" -s 4 "$MOUNT/four" || die "gfncopy four"
gf_umount 2 || die "umount 2"
gf_mount 2 -o ncopy_wait=60 || die "mount 2 with ncopy_wait"
M2=$MOUNT2

bad=0
for i in 1 2 3 4 5; do
	head -c $((300000 + i * 77777)) /dev/urandom >"$STATE/src.$i"
	cp "$STATE/src.$i" "$M2/two/f$i" || die "cp f$i"
	n=$(current "$M2/two/f$i")
	if [[ $n != 2 ]] || ! spools_match "$M2/two/f$i" "$STATE/src.$i"; then
		bad=$((bad + 1))
		echo "  f$i: $n current replicas when cp returned: $("$GFWHERE" -l "$M2/two/f$i" | tr '\n' ';')"
	fi
done
((bad == 0)) && ok "ncopy_wait: 5 files copied into a count-2 directory have 2 byte-identical replicas when cp returns" ||
	fail "ncopy_wait: $bad of 5 files lacked their copies at close"

cp "$STATE/src.1" "$MOUNT/two/plain" || die "cp plain"
two() { [[ $(current "$MOUNT/two/plain") == 2 ]]; }
poll_until "$GF_WAIT_SECS" two && ok "without it: the file reaches its count after the close" ||
	fail "plain: $(current "$MOUNT/two/plain") replicas"

# ---- a count that cannot be reached --------------------------------------------------
gf_umount 2 || die "umount 2"
gf_mount 2 -o ncopy_wait=2 || die "mount 2 with ncopy_wait=2"
if cp "$STATE/src.2" "$M2/four/f" 2>"$STATE/cp.err"; then
	fail "count 4 on 3 hosts: cp succeeded"
else
	grep -q "Input/output error" "$STATE/cp.err" && ok "count 4 on 3 hosts: close fails with EIO after 2 s" ||
		fail "cp: $(cat "$STATE/cp.err")"
fi
cmp -s "$STATE/src.2" "$M2/four/f" && ok "  the data is whole" || fail "  four/f differs"
three() { [[ $(current "$M2/four/f") == 3 ]]; }
poll_until "$GF_WAIT_SECS" three && ok "  and gfmd goes on: 3 replicas, one per host" || fail "  $(current "$M2/four/f") replicas"

# ---- writing again after a waited close ----------------------------------------------
gf_umount 2 || die "umount 2"
gf_mount 2 -o ncopy_wait=60 || die "mount 2 again"
head -c 200000 /dev/urandom >"$STATE/src.a"
head -c 100000 /dev/urandom >"$STATE/src.b"
cat "$STATE/src.a" "$STATE/src.b" >"$STATE/src.ab"
out=$(python3 - "$M2/two/again" "$STATE/src.a" "$STATE/src.b" <<'PY' 2>&1
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
os.write(fd, open(sys.argv[2], "rb").read())
fd2 = os.dup(fd)
os.close(fd)          # flush: waits for the copies
os.write(fd2, open(sys.argv[3], "rb").read())
os.close(fd2)         # and again, for the new data
PY
)
[[ -z $out ]] && ok "write, dup, close (waits), write again through the dup, close: no error" || fail "again: $out"
cmp -s "$STATE/src.ab" "$M2/two/again" && cmp -s "$STATE/src.ab" "$MOUNT/two/again" &&
	ok "  both mounts read the final data" || fail "  the final data differs"
[[ $(current "$M2/two/again") == 2 ]] && spools_match "$M2/two/again" "$STATE/src.ab" &&
	ok "  it has 2 current replicas of it at the last close" ||
	fail "  replicas: $("$GFWHERE" -l "$M2/two/again" | tr '\n' ';')"

# ---- writes while other descriptors of the same open file close ----------------------
# (a dup closed, or a child's inherited copy closed at its exec: each close
# waits for the copies and lets go of the replica; the writes go on)
out=$(python3 - "$M2/racing" <<'PY' 2>&1
import os, sys, threading
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
done, errs, closes = False, [], [0]
def closer():
    while not done:
        try:
            os.close(os.dup(fd))
            closes[0] += 1
        except OSError as e:
            errs.append(("close", e.strerror))
            return
t = threading.Thread(target=closer)
t.start()
blk = bytes(range(256)) * 256
i = 0
# until 20 closes came among the writes (at least 400 writes)
while not errs and (i < 400 or closes[0] < 20) and i < 20000:
    try:
        os.pwrite(fd, blk, i * len(blk))
    except OSError as e:
        errs.append((i, e.strerror))
    i += 1
done = True
t.join()
os.close(fd)
print("writes", i, "closes", closes[0], "errors", errs[:3])
PY
)
echo "  $out"
[[ $out == *"errors []"* ]] && mountpoint -q "$M2" &&
	ok "writes in one thread while another closes dups of the descriptor: no error" ||
	fail "racing closes: $out; mounted: $(mountpoint "$M2" 2>&1)"
writes=$(sed -n 's/^writes \([0-9]*\) .*/\1/p' <<<"$out")
python3 - "$M2/racing" "${writes:-0}" <<'PY' && ok "  every block written is there" || fail "  blocks lost"
import sys
d = open(sys.argv[1], "rb").read()
n, blk = int(sys.argv[2]), bytes(range(256)) * 256
bad = [i for i in range(n) if d[i * 65536:(i + 1) * 65536] != blk]
if n == 0 or len(d) != n * 65536 or bad:
    print("  size %d (want %d), %d of %d blocks differ, first %s" % (len(d), n * 65536, len(bad), n, bad[:5]))
    sys.exit(1)
PY

# ---- an empty file copied, then written while that copy is on its way ------------------
# (a descriptor with its replica open but nothing written, whose dup closes
# as a child's inherited copy does at its exec: that close lets go of the
# file, gfmd copies it empty; the write and close that follow come during
# that copy. Each file is made so twice: the second time over 2 replicas. The last close's look at gfmd once got lost: that close failed
# with EIO after SECS, and the file kept one replica.)
out=$(python3 - "$M2/two" "$STATE/early.data" <<'PY' 2>&1
import os, sys, threading
d, n, nth = sys.argv[1], 24, 4
data, errs = os.urandom(100000), []
def run(k, rnd):
    for i in range(k, n, nth):
        p = os.path.join(d, "early.%d" % i)
        try:
            fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.ftruncate(fd, 0)      # its replica opened, nothing written
            os.close(os.dup(fd))     # the close of a copy of it
            os.write(fd, data[rnd:] + data[:rnd])
            os.close(fd)
        except OSError as e:
            errs.append((rnd, p, e.strerror))
for rnd in range(2):                 # made, then made again over 2 replicas
    ts = [threading.Thread(target=run, args=(k, rnd)) for k in range(nth)]
    for t in ts: t.start()
    for t in ts: t.join()
data = data[1:] + data[:1]
open(sys.argv[2], "wb").write(data)
print("files", n, "errors", len(errs), errs[:3])
PY
)
echo "  $out"
[[ $out == *"errors 0 "* ]] && ok "24 empty files copied, then written during that copy (twice): every last close OK" ||
	fail "written during the copy of the empty file: $out"
bad=0
for i in $(seq 0 23); do
	f=$M2/two/early.$i
	[[ $(current "$f") == 2 ]] && spools_match "$f" "$STATE/early.data" || bad=$((bad + 1))
done
expect_eq "  each has 2 current replicas of its data at that close (looked at once)" 0 "$bad"

# ---- a bad value ------------------------------------------------------------------------
gf_umount 2 || die "umount 2"
out=$("$(gf_bin mount.gfarmfs)" "$STATE/client2.conf" "$M2" -o ncopy_wait=soon -f 2>&1)
rc=$?
[[ $rc != 0 && $out == *"ncopy_wait"* ]] && ok "ncopy_wait=soon: the mount refuses, saying why" ||
	fail "ncopy_wait=soon: rc $rc: $out"
mountpoint -q "$M2" && { fusermount3 -uz "$M2"; fail "it mounted anyway"; }
gf_mount 2 || die "mount 2 back"

it_done
