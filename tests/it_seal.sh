#!/bin/bash
# Sealing in the background (gfsd/sealer.h): a replica's block checksums
# are written after its last writer's close, not in it. 2 gfsd (node1,
# node2), a mount on each; while the test holds a gate file (seal_gate, a
# test knob) every seal waits, so that what happens while one is pending
# can be seen, however slow the machine:
# - the close returns at once (node1 counts the seal as pending), and the
#   same mount goes on: it reads another file, writes a new one and reads
#   it and the file just closed back, all while the seal is still pending
#   (before, the seal ran in the close, on the mount's connection to gfsd,
#   and everything waited for it);
# - those reads were unchecked (no sums yet); once the seal is done, a
#   byte flipped in the replica is caught by the next read, on the same
#   open file: the reader asked for the sums again;
# - a copy asked for at once (gfrep -N 2) waits for the seal and succeeds;
#   both replicas are byte-identical and sealed;
# - a second writer (an append from node2) waits for the seal and then
#   writes; the file is the two writes, and reads back with no corruption
#   counted;
# - gfsd stopped (SIGTERM) with a seal pending seals it before it exits;
#   killed (-9) with one pending, the replica is left unsealed, still
#   reads, and gffsck --verify --repair seals it;
# - a seal_gate that is not an absolute path (or empty) is refused, naming
#   the key.
# shellcheck disable=SC2317  # helpers are called through poll_until
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
it_require cmp python3
GFREP=$(gf_bin gfrep) || die "gfrep is not built"
GFWHERE=$(gf_bin gfwhere) || die "gfwhere is not built"
GFFSCK=$(gf_bin gffsck) || die "gffsck is not built"
GATE_DIR=$(mktemp -d /tmp/it_seal.XXXXXX) || die "mktemp"
IT_CLEANUP+=("rm -rf '$GATE_DIR'")
GATE=$GATE_DIR/hold
export GF_GFSD_CONF_EXTRA="seal_gate = $GATE"
it_cluster_up --gfsd 2 --mounts 2
export GFARMFS_CONFIG=$STATE/admin.conf
M1=$MOUNT M2=$MOUNT2

pending() { gf_stat_value node1 sealing; }
seal_pending() { [[ $(pending) -ge 1 ]]; }
none_pending() { [[ $(pending) == 0 ]]; }
# PATH's replica on nodeK has its sums file (spool_of: tests/lib.sh)
has_sums() { local f; f=$(spool_of "$1" "$2") && [[ -n $f && -s $f.sum ]]; }
mksrc() { head -c "$2" /dev/urandom >"$STATE/src.$1"; }
hold() { touch "$GATE"; }
release() { rm -f "$GATE"; }
# a background job (pid $1) has ended (tests/cluster.sh: zombies are dead)
ended() { ! gf_pid_alive "$1"; }

# ---- the close and the same mount's next requests do not wait ----------------------------
mksrc old 3000000
cp "$STATE/src.old" "$M1/old" || die "cannot write old"
poll_until "$GF_WAIT_SECS" has_sums 1 "$M1/old" || die "old was never sealed"
mksrc a 4000000
hold
cp "$STATE/src.a" "$M1/a" || die "cannot write a"
if poll_until "$GF_WAIT_SECS" seal_pending; then
	ok "a file closed on node1: its seal is pending in the background (sealing $(pending))"
else
	fail "no seal pending on node1 after a close: sealing $(pending)"
fi
has_sums 1 "$M1/a" && fail "  a already has sums while its seal is pending" ||
	ok "  a has no sums yet"
mksrc b 2000000
# in the background: a mount whose work waited for the held seal would
# never finish, and the test must say so rather than hang
"$PY" - "$M1" "$STATE" >"$STATE/b.out" 2>&1 <<'PYEOF' &
import os, sys
m, state = sys.argv[1], sys.argv[2]
assert open(m + "/old", "rb").read() == open(state + "/src.old", "rb").read(), "old differs"
data = open(state + "/src.b", "rb").read()
with open(m + "/b", "wb") as f:
    f.write(data)
assert open(m + "/b", "rb").read() == data, "b differs"
assert open(m + "/a", "rb").read() == open(state + "/src.a", "rb").read(), "a differs"
print("done")
PYEOF
bp=$!
poll_until "$GF_WAIT_SECS" ended "$bp" || kill "$bp"
wait "$bp"
out=$(cat "$STATE/b.out")
still=$(pending)
release
if [[ $out == done && $still -ge 1 ]]; then
	ok "  meanwhile the same mount read another file, wrote and read a new one, and read a (seal still pending: $still)"
else
	fail "  the mount's work beside a pending seal: '$out', sealing $still"
fi
poll_until "$GF_WAIT_SECS" none_pending || fail "seals still pending: $(pending)"
has_sums 1 "$M1/a" && ok "  a is sealed once the seal ran" || fail "  a has no sums"
cmp -s "$STATE/src.a" "$M2/a" && ok "  a reads right on node2's mount (GFS_READ, checked)" ||
	fail "  a differs on node2's mount"

# ---- a reader that opened before the seal checks after it -------------------------------------
mksrc g 1000000
hold
cp "$STATE/src.g" "$M1/g" || die "cannot write g"
poll_until "$GF_WAIT_SECS" seal_pending || fail "g: no seal pending"
corrupt0=$(gf_stat_value node1 corrupt)
rm -f "$STATE/g.go" "$STATE/g.opened"
"$PY" - "$M1/g" "$STATE" >"$STATE/g.out" 2>&1 <<'PYEOF' &
import os, sys, time
path, state = sys.argv[1], sys.argv[2]
fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
import mmap
buf = mmap.mmap(-1, 65536)
os.preadv(fd, [buf], 0)                       # before the seal: unchecked
open(state + "/g.opened", "w").close()
while not os.path.exists(state + "/g.go"):
    time.sleep(0.01)
try:
    os.preadv(fd, [buf], 0)                   # after it, and a byte flipped
    print("read")
except OSError as e:
    print("error", e.errno)
PYEOF
rp=$!
opened() { [[ -e $STATE/g.opened ]]; }
poll_until "$GF_WAIT_SECS" opened || fail "g: the reader did not read"
seal_pending && ok "a reader of g read it (O_DIRECT, through the mount) while its seal was pending" ||
	fail "g's seal was no longer pending when the reader read"
release
poll_until "$GF_WAIT_SECS" none_pending || fail "seals still pending: $(pending)"
"$PY" -c 'import sys; f = open(sys.argv[1], "r+b"); f.seek(1000); b = f.read(1); f.seek(1000); f.write(bytes([b[0] ^ 0xff]))' \
	"$(spool_of 1 "$M1/g")" || die "cannot flip a byte of g"
touch "$STATE/g.go"
wait "$rp"
out=$(cat "$STATE/g.out")
[[ $out == "error 5" ]] && ok "  once sealed, the same open file's next read of a flipped byte: EIO (checked)" ||
	fail "  the reader after the seal: $out"
[[ $(gf_stat_value node1 corrupt) -gt $corrupt0 ]] && ok "  node1 counts the corruption" ||
	fail "  corrupt: $(gf_stat_value node1 corrupt) (was $corrupt0)"
"$GFREP" -q -N 1 "$M1/g" >/dev/null 2>&1
rm -f "$M1/g"

# ---- a copy asked for at once -------------------------------------------------------------
mksrc c 5000000
hold
cp "$STATE/src.c" "$M1/c" || die "cannot write c"
poll_until "$GF_WAIT_SECS" seal_pending || fail "c: no seal pending"
"$GFREP" -q -N 2 "$M1/c" &
gp=$!
seal_pending && ok "gfrep -N 2 of c asked for while its seal is pending" || fail "c's seal went early"
release
if wait "$gp"; then
	ok "  and done once the seal is"
else
	fail "gfrep -N 2 c failed"
fi
spools_match "$M1/c" "$STATE/src.c" 2 && ok "  both replicas are the file, byte for byte" ||
	fail "  c: $(current "$M1/c") current replicas, or one differs"
has_sums 1 "$M1/c" && has_sums 2 "$M1/c" && ok "  both are sealed" ||
	fail "  c: sums on node1 $(has_sums 1 "$M1/c" && echo yes || echo no), node2 $(has_sums 2 "$M1/c" && echo yes || echo no)"
"$GFREP" -q -N 1 -x "$M1/c" >/dev/null 2>&1

# ---- a second writer waits for the seal --------------------------------------------------------
mksrc d 3000000
mksrc d2 1000000
cat "$STATE/src.d" "$STATE/src.d2" >"$STATE/want.d"
corrupt0=$(gf_stat_value node1 corrupt)
hold
cp "$STATE/src.d" "$M1/d" || die "cannot write d"
poll_until "$GF_WAIT_SECS" seal_pending || fail "d: no seal pending"
cat "$STATE/src.d2" >>"$M2/d" &
ap=$!
seal_pending && ok "an append from node2 to d begun while its seal is pending" || fail "d's seal went early"
release
if wait "$ap"; then
	ok "  and done once the seal is"
else
	fail "the append to d failed"
fi
cmp -s "$STATE/want.d" "$M1/d" && cmp -s "$STATE/want.d" "$M2/d" &&
	ok "  d is both writes, on both mounts" || fail "  d differs from both writes"
[[ $(gf_stat_value node1 corrupt) == "$corrupt0" ]] && ok "  no corruption counted" ||
	fail "  corrupt went from $corrupt0 to $(gf_stat_value node1 corrupt)"
poll_until "$GF_WAIT_SECS" none_pending || fail "seals still pending: $(pending)"

# ---- gfsd stopped or killed with a seal pending ------------------------------------------------
mksrc e 2000000
hold # and held from here on: gfsd stopping does not wait for it
cp "$STATE/src.e" "$M1/e" || die "cannot write e"
poll_until "$GF_WAIT_SECS" seal_pending || fail "e: no seal pending"
check_here "gfsd node1 stopped (SIGTERM) with e's seal pending" gf_gfsd_stop 1
has_sums 1 "$M1/e" && ok "  it sealed e before it exited" || fail "  e was left unsealed"
check_here "gfsd node1 started again" gf_gfsd_start 1
check_here "  node1 is up" gf_wait_hosts_up

mksrc f 2000000
cp "$STATE/src.f" "$M1/f" || die "cannot write f"
poll_until "$GF_WAIT_SECS" seal_pending || fail "f: no seal pending"
check_here "gfsd node1 killed (-9) with f's seal pending" gf_gfsd_kill9 1
check_here "gfsd node1 started again" gf_gfsd_start 1
check_here "  node1 is up" gf_wait_hosts_up
has_sums 1 "$M1/f" && fail "  f has sums: the seal was not pending" || ok "  f is left unsealed"
cmp -s "$STATE/src.f" "$M2/f" && ok "  f reads right (unchecked)" || fail "  f differs"
out=$("$GFFSCK" --verify --repair 2>&1)
[[ $out == *"inode $(stat -c %i "$M1/f"): repaired: sealed"* ]] && has_sums 1 "$M1/f" &&
	ok "  gffsck --verify --repair seals it" || fail "  gffsck: $out"
cmp -s "$STATE/src.f" "$M1/f" && cmp -s "$STATE/src.e" "$M1/e" && cmp -s "$STATE/src.a" "$M2/a" &&
	ok "every file still reads right" || fail "a file differs at the end"
release

# ---- bad values of the knob --------------------------------------------------------------------
for v in relative/hold hold ""; do
	sed "s|^seal_gate = .*|seal_gate = $v|" "$STATE/node1/gfsd.conf" >"$STATE/bad-gfsd.conf"
	out=$(timeout 60 "$(gf_bin gfsd)" -c "$STATE/bad-gfsd.conf" -f 2>&1) # (timeout: only against a hang)
	rc=$?
	[[ $rc != 0 && $out == *seal_gate* ]] && ok "gfsd refuses seal_gate = $v, naming it (exit $rc)" ||
		fail "gfsd with seal_gate = $v: exit $rc: $out"
done

it_done
