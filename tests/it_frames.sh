#!/bin/bash
# Hostile peers: garbage, oversized, truncated and bad-version frames and bad
# authentication on the gfmd port and every gfsd port (TCP and UNIX socket).
# Each must cost only that one connection: the daemons keep serving, old
# connections and new ones. A peer without the key is refused.
# shellcheck disable=SC2317  # helpers are called through check
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
it_require cmp
it_cluster_up --gfsd 3 --mounts 1

head -c 300000 /dev/urandom >"$STATE/before.bin"
cp "$STATE/before.bin" "$MOUNT/before" || die "cannot write on the mount"

targets=("tcp:127.0.0.1:$GFMD_PORT")
for ((k = 1; k <= NGFSD; k++)); do
	port_var=GFSD${k}_PORT sock_var=GFSD${k}_SOCKET
	targets+=("tcp:127.0.0.1:${!port_var}" "unix:${!sock_var}")
done
pids_before=$(cat "$STATE/gfmd.pid" "$STATE"/node*/gfsd.pid)

# Unauthenticated idle peers held open for the rest of the test: a daemon
# must not wait on one peer's handshake while others need it.
"$PY" - "${targets[@]}" <<'PYEOF' &
import socket, sys, time
held = []
for t in sys.argv[1:]:
    kind, _, rest = t.partition(":")
    for _ in range(3):
        if kind == "tcp":
            host, port = rest.rsplit(":", 1)
            s = socket.create_connection((host, int(port)))
        else:
            s = socket.socket(socket.AF_UNIX)
            s.connect(rest)
        held.append(s)
time.sleep(600)
PYEOF
IDLE=$!
IT_CLEANUP+=("kill $IDLE")

# The protocol version the daemons speak, from the source they were built from.
PROTO_VERSION=$(awk '$1 == "#define" && $2 == "GF_PROTO_VERSION" { print $3 }' "$top_srcdir/lib/proto.h")
[[ $PROTO_VERSION =~ ^[0-9]+$ ]] || die "cannot read GF_PROTO_VERSION from lib/proto.h"
PROTO_VERSION=$PROTO_VERSION GF_WAIT_SECS=$GF_WAIT_SECS "$PY" - "$KEY" "${targets[@]}" >"$STATE/frames.out" 2>&1 <<'PYEOF'
import hashlib, hmac, os, socket, struct, sys

HDR = struct.Struct(">IHHIi")  # len, version, op, reqid, status
VERSION = int(os.environ["PROTO_VERSION"])
MAX_PAYLOAD = (1 << 20) + 65536
HELLO, AUTH, AUTH_OK = 1, 2, 3
GFM_GETATTR = 101
PEER_CLIENT = 1
# A daemon that neither answers nor closes fails a case after this long;
# it only guards against a hang (tests/cluster.sh: GF_WAIT_SECS).
TIMEOUT = float(os.environ.get("GF_WAIT_SECS", "60"))

key = open(sys.argv[1], "rb").read().rstrip(b"\r\n")
targets = sys.argv[2:]


def report(good, what):
    print(("ok   " if good else "FAIL ") + what, flush=True)


def connect(t):
    kind, _, rest = t.partition(":")
    if kind == "tcp":
        host, port = rest.rsplit(":", 1)
        s = socket.create_connection((host, int(port)), timeout=TIMEOUT)
    else:
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(TIMEOUT)
        s.connect(rest)
    return s


def recv_exact(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise EOFError("closed after %d of %d bytes" % (len(b), n))
        b += c
    return b


def recv_frame(s):
    ln, ver, op, reqid, status = HDR.unpack(recv_exact(s, HDR.size))
    return ver, op, reqid, status, recv_exact(s, ln)


def frame(op, payload=b"", reqid=0, version=VERSION, length=None):
    return HDR.pack(len(payload) if length is None else length, version, op, reqid, 0) + payload


def hello(s):
    ver, op, reqid, status, p = recv_frame(s)
    if (ver, op, reqid, status, len(p)) != (VERSION, HELLO, 0, 0, 32):
        raise AssertionError("bad HELLO: version %d op %d reqid %d status %d len %d"
                             % (ver, op, reqid, status, len(p)))
    return p


def auth_payload(s_nonce, good=True, host=b"frames-test"):
    c_nonce = os.urandom(32)
    k = key if good else b"not-the-key-" + os.urandom(32)
    mac = hmac.new(k, b"gfarmfs-c" + s_nonce + c_nonce + bytes([PEER_CLIENT]) + host,
                   hashlib.sha256).digest()
    return c_nonce, c_nonce + mac + bytes([PEER_CLIENT]) + struct.pack(">I", len(host)) + host


def authed(t):
    s = connect(t)
    s_nonce = hello(s)
    c_nonce, p = auth_payload(s_nonce)
    s.sendall(frame(AUTH, p))
    ver, op, reqid, status, rep = recv_frame(s)
    want = hmac.new(key, b"gfarmfs-s" + c_nonce + s_nonce, hashlib.sha256).digest()
    if op != AUTH_OK or status != 0 or rep != want:
        raise AssertionError("no valid AUTH_OK (op %d status %d)" % (op, status))
    return s


def closed_by_server(s):
    """True when the server closes; frames it sends first are read and ignored."""
    try:
        while True:
            if not s.recv(65536):
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def send_quietly(s, data):
    try:
        s.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        pass


def case(t, what, fn):
    try:
        good = fn()
    except Exception as e:  # the case itself broke: say how
        report(False, "%s: %s: %s: %r" % (t, what, type(e).__name__, e))
        return
    report(good, "%s: %s" % (t, what))


garbage = bytes((i * 37 + 11) & 0xFF for i in range(4096))

for t in targets:
    case(t, "valid key: authenticated, server proves the key too", lambda: authed(t).close() is None)

    def wrong_mac():
        s = connect(t)
        _, p = auth_payload(hello(s), good=False)
        s.sendall(frame(AUTH, p))
        # Nothing may come back but the close: no AUTH_OK, no reply.
        try:
            data = s.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False
        if data:
            return False
        send_quietly(s, frame(GFM_GETATTR, b"\0" * 16, reqid=9))
        return closed_by_server(s)
    case(t, "a peer without the key is refused (AUTH with a wrong MAC closes)", wrong_mac)

    def mac_for_other_nonce():
        s = connect(t)
        hello(s)
        _, p = auth_payload(os.urandom(32))  # replayed/forged: wrong server nonce
        s.sendall(frame(AUTH, p))
        return closed_by_server(s)
    case(t, "AUTH computed over another server nonce is refused", mac_for_other_nonce)

    def request_before_auth():
        s = connect(t)
        hello(s)
        s.sendall(frame(GFM_GETATTR, b"\0" * 16, reqid=5))
        return closed_by_server(s)
    case(t, "a request before AUTH closes the connection", request_before_auth)

    def garbage_before_auth():
        s = connect(t)
        hello(s)
        send_quietly(s, garbage)
        return closed_by_server(s)
    case(t, "garbage before AUTH closes the connection", garbage_before_auth)

    def huge_before_auth():
        s = connect(t)
        hello(s)
        s.sendall(frame(AUTH, length=0xFFFFFFF0))
        return closed_by_server(s)
    case(t, "an oversized AUTH header (len 0xFFFFFFF0) closes the connection", huge_before_auth)

    def huge_after_auth():
        s = authed(t)
        s.sendall(frame(GFM_GETATTR, length=MAX_PAYLOAD + 1, reqid=1))
        return closed_by_server(s)
    case(t, "an oversized frame (max payload + 1) after AUTH closes the connection", huge_after_auth)

    def huge2_after_auth():
        s = authed(t)
        s.sendall(frame(GFM_GETATTR, length=0xFFFFFFFF, reqid=1))
        return closed_by_server(s)
    case(t, "a frame header with len 0xFFFFFFFF after AUTH closes the connection", huge2_after_auth)

    def bad_version():
        s = authed(t)
        s.sendall(frame(GFM_GETATTR, b"\0" * 16, reqid=1, version=0x4747))
        return closed_by_server(s)
    case(t, "a bad protocol version after AUTH closes the connection", bad_version)

    def garbage_after_auth():
        s = authed(t)
        send_quietly(s, garbage)
        return closed_by_server(s)
    case(t, "garbage after AUTH closes the connection", garbage_after_auth)

    def truncated():
        s = authed(t)
        s.sendall(frame(GFM_GETATTR, length=1000, reqid=1) + b"\1" * 10)
        s.shutdown(socket.SHUT_WR)
        return closed_by_server(s)
    case(t, "a truncated frame (EOF inside the payload) is dropped", truncated)

    def malformed_payload():
        # Well-framed but undecodable: an error reply or a close, never a hang.
        s = authed(t)
        s.sendall(frame(GFM_GETATTR, b"\7\7\7", reqid=77))
        try:
            ver, op, reqid, status, p = recv_frame(s)
        except (EOFError, ConnectionResetError):
            return True
        except socket.timeout:
            return False
        return reqid == 77 and status < 0
    case(t, "an undecodable payload gets an error reply or a close", malformed_payload)

    case(t, "still accepting and authenticating after all that", lambda: authed(t).close() is None)
PYEOF
echo "python exited $?" >>"$STATE/frames.out"
while IFS= read -r line; do
	case $line in
	"ok   "*) ok "${line#ok   }" ;;
	"FAIL "*) fail "${line#FAIL }" ;;
	*) echo "$line" ;;
	esac
done <"$STATE/frames.out"
grep -q '^ok   ' "$STATE/frames.out" || fail "the frame tests did not run"

pids_after=$(cat "$STATE/gfmd.pid" "$STATE"/node*/gfsd.pid)
alive=0
for p in $pids_after; do gf_pid_alive "$p" && alive=$((alive + 1)); done
expect_eq "no daemon restarted" "$pids_before" "$pids_after"
expect_eq "every daemon is still running" $((1 + NGFSD)) "$alive"
check "every gfsd still registered and up" gf_wait_hosts_up
check "gfmd still answers new connections (gfhost list)" "$(gf_bin gfhost)" -c "$ADMIN_CONFIG" list

# The existing mount (old connections) still works.
check "old mount: read a file written before" cmp "$STATE/before.bin" "$MOUNT/before"
head -c 200000 /dev/urandom >"$STATE/after.bin"
check "old mount: create and write a new file" cp "$STATE/after.bin" "$MOUNT/after"
check "old mount: read it back" cmp "$STATE/after.bin" "$MOUNT/after"

# A new client on a host without a gfsd: new connections to gfmd, and to a
# gfsd over TCP for the data.
NMOUNTS=2
gf_write_client_conf 2
sed -i 's/^hostname = .*/hostname = elsewhere/; /^gfsd_socket/d' "$STATE/client2.conf"
check "a new mount after the attacks" gf_mount 2
check "new mount: read both files (gfsd over TCP)" sh -c "cmp '$STATE/before.bin' '$STATE/mnt2/before' && cmp '$STATE/after.bin' '$STATE/mnt2/after'"
check "new mount: create a file" cp "$STATE/after.bin" "$STATE/mnt2/remote"
check "old mount: reads the new mount's file" cmp "$STATE/after.bin" "$MOUNT/remote"

it_done
