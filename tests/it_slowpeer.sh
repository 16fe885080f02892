#!/bin/bash
# One slow peer stalls nobody. A client that authenticates, sends gfmd
# requests and never reads a reply used to block gfmd's committer in a send
# to it, and with it every mutation of the cluster. Here, while such a peer is
# connected, a mount's mutations must go on; gfmd must then close the peer
# (once peer_send_timeout_ms passes without it taking a byte) with one log
# line, keep its mkdirs (committed; only the replies are dropped) and go on
# serving. The same against a gfsd port (GFS_STATS without reading), and for
# peers that stop inside a frame or never authenticate.
# shellcheck disable=SC2317  # helpers are called through check/poll_until
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
it_require cmp

# gfmd's timeout is long enough that the mount's stream below normally runs
# while the slow peer is still connected; gfsd's is short.
GFMD_SEND_TIMEOUT_MS=20000
GFSD_SEND_TIMEOUT_MS=3000
export GF_GFMD_CONF_EXTRA="peer_send_timeout_ms = $GFMD_SEND_TIMEOUT_MS"
export GF_GFSD_CONF_EXTRA="peer_send_timeout_ms = $GFSD_SEND_TIMEOUT_MS"
it_cluster_up --gfsd 2 --mounts 1
GFMD_LOG=$STATE/gfmd.log
GFSD_LOG=$STATE/node1/gfsd.log
check "the test's peer_send_timeout_ms reached gfmd.conf and gfsd.conf" \
	grep -q "^peer_send_timeout_ms = $GFSD_SEND_TIMEOUT_MS" "$STATE/node1/gfsd.conf"

PEER_PY=$IT_DIR/peer.py
# peer NAME ARGS...: peer.py in the background; what it says goes to
# $STATE/peer-NAME.out.
peer() {
	local name=$1
	shift
	"$PY" "$PEER_PY" --key "$KEY" "$@" >"$STATE/peer-$name.out" 2>&1 &
	IT_CLEANUP+=("kill $!")
}
said() { grep -q -- "$2" "$STATE/peer-$1.out"; }
peer_says() { tail -n 1 "$STATE/peer-$1.out" 2>/dev/null; }
count_in() { grep -c -- "$2" "$1"; }

# ---- hostile peers that hold a thread of their own ---------------------------
peer noauth-gfmd --no-auth "tcp:127.0.0.1:$GFMD_PORT"
peer half-gfmd --half-frame --as-host halfpeer "tcp:127.0.0.1:$GFMD_PORT"
peer half-gfsd --half-frame --as-host halfpeer "tcp:127.0.0.1:$GFSD1_PORT"

# ---- a client that reads no reply of gfmd's ------------------------------------
# It alternates mkdirs (replied by gfmd's committer after their commit) and
# READDIRs of a big directory (about 100 KiB each, replied at once), so the
# socket buffers fill within a few dozen requests, wherever the kernel's
# autotuning takes them, while commits of its mkdirs are under way.
"$PY" - "$MOUNT/fat" <<'PYEOF' || die "cannot fill a directory on the mount"
import os, sys
d = sys.argv[1]
os.mkdir(d)
for i in range(1100):
    os.close(os.open(os.path.join(d, "entry-with-a-longish-name-%04d" % i),
                     os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
PYEOF
NPEER=4000
peer slow-gfmd --never-read --op mkdir,readdir --dir fat --count "$NPEER" --prefix slowpeer \
	"tcp:127.0.0.1:$GFMD_PORT"
if poll_until 120 said slow-gfmd "^stalled after $NPEER"; then
	ok "the slow peer sent its requests and leaves the replies unread ($(grep '^stalled' "$STATE/peer-slow-gfmd.out"))"
else
	die "the slow peer did not get its requests out: $(cat "$STATE/peer-slow-gfmd.out")"
fi

# Mutations from the mount, each waiting for its commit.
"$PY" - "$MOUNT/busy" >"$STATE/stream.out" 2>&1 <<'PYEOF' &
import os, sys
d = sys.argv[1]
os.mkdir(d)
for i in range(200):
    fd = os.open(os.path.join(d, "f%03d" % i), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    os.close(fd)
for i in range(50):
    os.mkdir(os.path.join(d, "d%03d" % i))
    os.rename(os.path.join(d, "f%03d" % i), os.path.join(d, "d%03d" % i, "moved"))
print("done", flush=True)
PYEOF
STREAM=$!
IT_CLEANUP+=("kill $STREAM")
T0=$(now)
stream_done() { grep -q '^done' "$STATE/stream.out"; }
if poll_until 60 stream_done; then
	ok "200 creates, 50 mkdirs and 50 renames from the mount finished in $(since "$T0") s"
else
	fail "mutations from the mount hang while a client leaves its replies unread (stream: $(tail -n 3 "$STATE/stream.out" | tr '\n' ' '))"
	it_done # the rest would hang as well (the clean-up ends the slow peer)
fi
if grep -q 'slowpeer.*not reading its replies' "$GFMD_LOG"; then
	it_say "note: the stream outlasted the ${GFMD_SEND_TIMEOUT_MS} ms send timeout, so it did not overlap the stall"
else
	ok "they finished while the slow peer was still connected and its replies queued"
fi
expect_eq "what the stream made is there" "150 50" \
	"$(find "$MOUNT/busy" -maxdepth 1 -type f | wc -l) $(find "$MOUNT/busy" -mindepth 2 -name moved | wc -l)"

# gfmd gives up on it once it has taken nothing for the send timeout.
slow_logged() { grep -q 'gfmd: client slowpeer (tcp 127\.0\.0\.1:[0-9]*): not reading its replies ([0-9]* bytes queued' "$GFMD_LOG"; }
if poll_until $((GFMD_SEND_TIMEOUT_MS / 1000 + 60)) slow_logged; then
	ok "gfmd closed the slow peer: $(grep -o 'client slowpeer.*' "$GFMD_LOG" | head -n 1)"
else
	fail "gfmd did not log closing the slow peer within $((GFMD_SEND_TIMEOUT_MS / 1000 + 60)) s"
fi
expect_eq "with one log line" 1 "$(count_in "$GFMD_LOG" 'client slowpeer.*not reading')"
if poll_until 30 said slow-gfmd "^closed by server"; then
	ok "the slow peer sees its connection closed ($(peer_says slow-gfmd))"
else
	fail "the slow peer still holds a connection: $(peer_says slow-gfmd)"
fi
check "gfmd still serves the mount" mkdir "$MOUNT/after"
check "and the admin commands" gf_in gfmd "$(gf_bin gfhost)" -c "$STATE/admin.conf" list
# Every mkdir gfmd took from it is there, replied or not: slowpeer-000001,
# -000003, ... up to the last one it read, without a gap.
if "$PY" - "$MOUNT" >"$STATE/mkdirs.out" 2>&1 <<'PYEOF'; then
import os, sys
got = sorted(int(n.split("-")[1]) for n in os.listdir(sys.argv[1]) if n.startswith("slowpeer-"))
print("%d mkdirs of the slow peer" % len(got))
sys.exit(0 if got and got == list(range(1, 2 * len(got), 2)) else 1)
PYEOF
	ok "the slow peer's mkdirs that gfmd took are committed though their replies were dropped ($(cat "$STATE/mkdirs.out"))"
else
	fail "the slow peer's mkdirs are not all there: $(cat "$STATE/mkdirs.out")"
fi

# ---- a client that asks gfsd for stats and reads nothing ---------------------
peer slow-gfsd --never-read --op stats --count 1000000 "tcp:127.0.0.1:$GFSD1_PORT"
if poll_until 60 said slow-gfsd "^blocked after"; then
	ok "gfsd node1 stopped reading the slow peer's requests ($(peer_says slow-gfsd))"
else
	die "the peer against gfsd never blocked: $(peer_says slow-gfsd)"
fi
# The mount writes and reads through that gfsd (its local one) meanwhile.
head -c 3000000 /dev/urandom >"$STATE/data.bin"
before=$(gf_stat_value node1 written_local)
check "a file written through gfsd node1" cp "$STATE/data.bin" "$MOUNT/data"
check "reads back the same" cmp "$STATE/data.bin" "$MOUNT/data"
after=$(gf_stat_value node1 written_local)
if [[ $before =~ ^[0-9]+$ && $after =~ ^[0-9]+$ ]] && ((after > before)); then
	ok "gfsd node1 served those bytes (written_local $before -> $after)"
else
	fail "gfsd node1 did not count the write (written_local '$before' -> '$after')"
fi
gfsd_slow_logged() { grep -q 'gfsd: client slowpeer (tcp 127\.0\.0\.1:[0-9]*): not reading its replies' "$GFSD_LOG"; }
if poll_until $((GFSD_SEND_TIMEOUT_MS / 1000 + 60)) gfsd_slow_logged; then
	ok "gfsd closed the slow peer: $(grep -o 'client slowpeer.*' "$GFSD_LOG" | head -n 1)"
else
	fail "gfsd did not log closing the slow peer"
fi
expect_eq "with one log line" 1 "$(count_in "$GFSD_LOG" 'client slowpeer.*not reading')"
if poll_until 30 said slow-gfsd "^closed by server"; then
	ok "the peer sees gfsd close it ($(peer_says slow-gfsd))"
else
	fail "the peer still holds its gfsd connection: $(peer_says slow-gfsd)"
fi
check "gfsd node1 still serves" cmp "$STATE/data.bin" "$MOUNT/data"

# ---- peers that stop inside a frame, or before authenticating ----------------
half_gfsd() { grep -q 'gfsd: client halfpeer (tcp [^)]*): closing connection: stalled inside a frame' "$GFSD_LOG"; }
half_gfmd() { grep -q 'gfmd: client halfpeer (tcp [^)]*): closing connection: stalled inside a frame' "$GFMD_LOG"; }
noauth_gfmd() { grep -q 'gfmd: tcp 127\.0\.0\.1:[0-9]*: authentication failed: timed out' "$GFMD_LOG"; }
if poll_until 60 half_gfsd; then
	ok "gfsd closes a peer that stops in the middle of a frame"
else
	fail "gfsd keeps a peer that stopped in the middle of a frame"
fi
if poll_until $((GFMD_SEND_TIMEOUT_MS / 1000 + 60)) half_gfmd; then
	ok "gfmd closes a peer that stops in the middle of a frame"
else
	fail "gfmd keeps a peer that stopped in the middle of a frame"
fi
if poll_until 60 noauth_gfmd; then
	ok "gfmd closes a peer that never authenticates"
else
	fail "gfmd keeps a peer that never authenticates"
fi
for p in half-gfmd half-gfsd noauth-gfmd; do
	if poll_until 30 said "$p" "^closed by server"; then
		ok "peer $p sees its connection closed"
	else
		fail "peer $p still holds its connection: $(peer_says "$p")"
	fi
done
check "gfmd still serves after all that" touch "$MOUNT/after/end"

it_done
