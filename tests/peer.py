#!/usr/bin/python3
"""peer.py - a slow or hostile peer for gfmd and gfsd (tests only).

usage: peer.py --key KEYFILE [options] TARGET
    TARGET is tcp:HOST:PORT or unix:PATH (a gfmd or gfsd port).

It connects, answers HELLO with an AUTH made from the cluster key
(HMAC-SHA256, see lib/auth.h), checks AUTH_OK, and then misbehaves:

    --op OP[,OP...]           what to send, the list taken in turn
                              (default getattr):
                              getattr  GFM_GETATTR of the root (gfmd)
                              mkdir    GFM_MKDIR PREFIX-NNNNNN in the root,
                                       as uid 0 (gfmd; each is a commit,
                                       replied by gfmd's committer)
                              readdir  GFM_READDIR of --dir, up to 1024
                                       entries (gfmd; a big reply)
                              stats    GFS_STATS (gfsd)
                              replicate GFS_REPLICATE of inode 1 from
                                       127.0.0.1:1 (gfsd; only gfmd may
                                       ask: see --kind)
                              list     GFS_LIST of the spool (gfsd; admin
                                       and gfmd only)
                              orphan-scan GFS_ORPHAN_SCAN (gfsd; admin and
                                       gfmd only)
                              verify   GFS_VERIFY of inode 1 file 1 (gfsd;
                                       admin and gfmd only)
                              verify-badflags  the same with a flag gfsd
                                       does not know (EINVAL)
                              page-cap GFS_PAGE_CAP: lend everything (gfsd;
                                       admin and gfmd only)
                              page-put-short  GFS_PAGE_PUT naming 2 pages
                                       with 1 page of data (gfsd: malformed,
                                       the connection is closed)
                              page-put GFS_PAGE_PUT of one page, slot N
                                       for the Nth request, of swap owner
                                       PEER_OWNER (gfsd; as a gfswap would)
                              page-punt GFS_PAGE_PUNT of one page of
                                       PEER_OWNER (gfsd; only another gfsd
                                       may: see --kind)
                              page-punt-short  GFS_PAGE_PUNT naming 2
                                       pages with 1 page of data (gfsd:
                                       malformed, the connection is closed)
                              page-updates  GFS_PAGE_UPDATES of PEER_OWNER
                                       (gfsd; the owner asking where its
                                       pages went)
                              gfm-replicate-badflags  GFM_REPLICATE of the
                                       root with a flag clients may not set
                                       (gfmd: EINVAL)
                              open-follow-nocopy  GFS_OPEN with
                                       GFS_O_FOLLOW but not GFS_O_COPY
                                       (gfsd: EINVAL)
                              sync     GFM_SYNC (gfmd; answered once what
                                       was acknowledged is on disk)
                              sync-payload  GFM_SYNC with 4 bytes it does
                                       not take (gfmd: malformed, closed)
                              lease-poll  GFM_LEASE_POLL for client
                                       PEER_CLIENT_ID, no acks (gfmd: parked
                                       until a recall, or for a second; a
                                       poll answers the one before it)
                              lease-poll-long  GFM_LEASE_POLL claiming
                                       1025 acks (gfmd: malformed, closed)
                              dir-lease  GFM_DIR_LEASE of the root for
                                       PEER_CLIENT_ID (gfmd: the names)
    --count N                 send N requests (default 10000)
    --prefix NAME             name prefix for mkdir (default slowpeer)
    --dir NAME                directory in the root for readdir (looked up
                              first; default: the root itself)
    --never-read              never read a reply (with a small receive
                              buffer, see --rcvbuf, the server's replies
                              soon fill the socket buffers)
    --rcvbuf BYTES            SO_RCVBUF before connecting (default 4096 with
                              --never-read, else the system's)
    --half-frame              after authenticating, send the first half of
                              a request frame and stall
    --no-auth                 read HELLO, send nothing, stall
    --as-host NAME            host name claimed in AUTH (default slowpeer)
    --kind KIND               peer kind claimed in AUTH: client (default),
                              gfsd, admin or gfmd
    --statuses                print "status S" for each reply read
    --hold SECS               after sending, keep the connection (reading
                              nothing) for at most SECS (default 600)

Progress goes to stdout, one line per event, flushed, so a test can poll for
it:
    authenticated
    sent N                    every request went out
    blocked after N           a send made no progress for a second: the
                              server stopped reading us (printed once; the
                              peer keeps trying)
    stalled after N (U bytes unread)
                              every request went out and replies sit unread
                              in our receive buffer (--never-read)
    closed by server after N (why)
                              the server dropped the connection
    hold over                 --hold expired with the connection still open
Exit status 0, or 1 when the connection or the handshake failed.
"""
import argparse
import fcntl
import hashlib
import hmac
import os
import select
import socket
import struct
import sys
import termios
import time

HDR = struct.Struct(">IHHIi")  # len, version, op, reqid, status

def _proto_version():
    """The version the daemons speak: from the source tree they were built
    from (lib/proto.h next to this tests/ directory), or GF_PROTO_VERSION."""
    if os.environ.get("GF_PROTO_VERSION"):
        return int(os.environ["GF_PROTO_VERSION"])
    here = os.path.dirname(os.path.abspath(__file__))
    for d in (os.environ.get("top_srcdir", ""), os.path.join(here, "..")):
        try:
            with open(os.path.join(d, "lib", "proto.h")) as f:
                for line in f:
                    w = line.split()
                    if len(w) == 3 and w[:2] == ["#define", "GF_PROTO_VERSION"]:
                        return int(w[2])
        except OSError:
            pass
    sys.exit("peer.py: cannot find GF_PROTO_VERSION in lib/proto.h")


VERSION = _proto_version()
HELLO, AUTH, AUTH_OK = 1, 2, 3
GFM_LOOKUP, GFM_GETATTR, GFM_MKDIR, GFM_READDIR = 100, 101, 104, 112
GFM_SYNC = 128
GFM_DIR_LEASE, GFM_LEASE_POLL = 129, 130
PEER_CLIENT_ID = 0x5EE2_0000_0000_0002  # the lease holder of lease-poll, dir-lease
GFM_REPLICATE = 125
GFS_OPEN = 300
GFS_O_READ, GFS_O_FOLLOW = 1, 1 << 8
GFS_STATS, GFS_REPLICATE = 306, 310
GFS_LIST, GFS_ORPHAN_SCAN, GFS_VERIFY = 311, 312, 314
GFS_PAGE_PUT, GFS_PAGE_UPDATES, GFS_PAGE_CAP, GFS_PAGE_PUNT = 350, 354, 355, 356
PEER_OWNER = 0x5EE2_0000_0000_0001  # the swap owner id of page-put and page-updates
PEER_CLIENT = 1
KINDS = {"client": 1, "gfsd": 2, "admin": 3, "gfmd": 4}
ROOT_INO = 1


def say(msg):
    print(msg, flush=True)


def connect(target, rcvbuf):
    kind, _, rest = target.partition(":")
    if kind == "tcp":
        host, port = rest.rsplit(":", 1)
        ai = socket.getaddrinfo(host, int(port), type=socket.SOCK_STREAM)[0]
        s = socket.socket(ai[0], socket.SOCK_STREAM)
        addr = ai[4]
    elif kind == "unix":
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        addr = rest
    else:
        sys.exit("peer.py: target must be tcp:HOST:PORT or unix:PATH")
    if rcvbuf:
        # before connect: the window scale is agreed in the handshake
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(10)
    s.connect(addr)
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
    return op, status, recv_exact(s, ln)


def frame(op, payload=b"", reqid=0):
    return HDR.pack(len(payload), VERSION, op, reqid, 0) + payload


def authenticate(s, key, host, kind=PEER_CLIENT):
    op, status, s_nonce = recv_frame(s)
    if op != HELLO or status != 0 or len(s_nonce) != 32:
        raise RuntimeError("no HELLO (op %d status %d)" % (op, status))
    c_nonce = os.urandom(32)
    mac = hmac.new(key, b"gfarmfs-c" + s_nonce + c_nonce + bytes([kind]) + host,
                   hashlib.sha256).digest()
    s.sendall(frame(AUTH, c_nonce + mac + bytes([kind]) +
                    struct.pack(">I", len(host)) + host))
    op, status, rep = recv_frame(s)
    want = hmac.new(key, b"gfarmfs-s" + c_nonce + s_nonce, hashlib.sha256).digest()
    if op != AUTH_OK or status != 0 or not hmac.compare_digest(rep, want):
        raise RuntimeError("no valid AUTH_OK (op %d status %d)" % (op, status))


def root_cred():
    return struct.pack(">III", 0, 0, 0)  # uid, gid, no groups


def name_req(parent, name):
    return root_cred() + struct.pack(">QI", parent, len(name)) + name


def request(op, i, prefix, dir_ino):
    if op == "getattr":
        return frame(GFM_GETATTR, root_cred() + struct.pack(">Q", ROOT_INO), i)
    if op == "mkdir":
        name = ("%s-%06d" % (prefix, i)).encode()
        # mode, rdev, umask (gfm_mknod_req)
        return frame(GFM_MKDIR, name_req(ROOT_INO, name) + struct.pack(">IQI", 0o755, 0, 0), i)
    if op == "readdir":
        return frame(GFM_READDIR, root_cred() + struct.pack(">QQI", dir_ino, 0, 1024), i)
    if op == "replicate":
        addr = b"127.0.0.1"
        return frame(GFS_REPLICATE, struct.pack(">QQQQI", ROOT_INO, 1 << 63 | 9, 1, 0, len(addr))
                     + addr + struct.pack(">HI", 1, 0), i)
    if op == "list":
        return frame(GFS_LIST, struct.pack(">QQI", 0, 0, 16), i)
    if op == "orphan-scan":
        return frame(GFS_ORPHAN_SCAN, b"", i)
    if op == "verify":
        return frame(GFS_VERIFY, struct.pack(">QQI", ROOT_INO, 1, 0), i)
    if op == "gfm-replicate-badflags":
        # cred, ino, dst_host, src_host, flags (bit 16: gfmd's own follow)
        return frame(GFM_REPLICATE, root_cred() + struct.pack(">QIII", ROOT_INO, 0, 0, 1 << 16), i)
    if op == "open-follow-nocopy":
        return frame(GFS_OPEN, struct.pack(">QQI", ROOT_INO, 1, GFS_O_READ | GFS_O_FOLLOW), i)
    if op == "verify-badflags":
        return frame(GFS_VERIFY, struct.pack(">QQI", ROOT_INO, 1, 0x80), i)
    if op == "page-cap":
        return frame(GFS_PAGE_CAP, struct.pack(">Q", (1 << 64) - 1), i)
    if op == "page-put-short":
        # owner, slot, stamp, npages 2 - and one page of data
        return frame(GFS_PAGE_PUT, struct.pack(">QQQI", 7, 0, 1, 2) + bytes(4096), i)
    if op == "page-put":
        # owner, slot, stamp, npages; the page
        return frame(GFS_PAGE_PUT, struct.pack(">QQQI", PEER_OWNER, i, 1, 1) + bytes([i % 256]) * 4096, i)
    if op == "page-punt":
        host = b"node1"
        return frame(GFS_PAGE_PUNT, struct.pack(">I", len(host)) + host
                     + struct.pack(">QQQI", PEER_OWNER, i, 1, 1) + bytes(4096), i)
    if op == "page-punt-short":
        host = b"node1"
        return frame(GFS_PAGE_PUNT, struct.pack(">I", len(host)) + host
                     + struct.pack(">QQQI", PEER_OWNER, 0, 1, 2) + bytes(4096), i)
    if op == "page-updates":
        return frame(GFS_PAGE_UPDATES, struct.pack(">QI", PEER_OWNER, 64), i)
    if op == "sync":
        return frame(GFM_SYNC, b"", i)
    if op == "sync-payload":
        return frame(GFM_SYNC, b"\0\0\0\0", i)
    if op == "lease-poll":
        return frame(GFM_LEASE_POLL, struct.pack(">QI", PEER_CLIENT_ID, 0), i)
    if op == "lease-poll-long":
        return frame(GFM_LEASE_POLL, struct.pack(">QI", PEER_CLIENT_ID, 1025) + bytes(16 * 1025), i)
    if op == "dir-lease":
        return frame(GFM_DIR_LEASE, root_cred() + struct.pack(">QQQ", PEER_CLIENT_ID, ROOT_INO, 0), i)
    return frame(GFS_STATS, b"", i)


def lookup(s, name):
    """The inode number of NAME in the root (asked before misbehaving)."""
    s.sendall(frame(GFM_LOOKUP, name_req(ROOT_INO, name.encode()), 1))
    op, status, rep = recv_frame(s)
    if status != 0 or len(rep) < 8:
        raise RuntimeError("lookup of %s failed: status %d" % (name, status))
    return struct.unpack(">Q", rep[:8])[0]


def unread(s):
    b = fcntl.ioctl(s.fileno(), termios.FIONREAD, b"\0\0\0\0")
    return struct.unpack("i", b)[0]


def send_all(s, data, sent_count, state):
    """Send data, never reading; report 'blocked' once when stuck a second."""
    view = memoryview(data)
    while view:
        _, w, _ = select.select([], [s], [], 1.0)
        if not w:
            if not state["blocked"]:
                state["blocked"] = True
                say("blocked after %d" % sent_count)
            continue
        n = s.send(view)
        view = view[n:]


def closed_by_server(s):
    """True once the server has reset or shut the connection (without reading)."""
    p = select.poll()
    p.register(s, select.POLLERR | select.POLLHUP | select.POLLRDHUP)
    return bool(p.poll(0))


def hold(s, secs, n):
    end = time.monotonic() + secs
    while time.monotonic() < end:
        if closed_by_server(s):
            say("closed by server after %d (%s)" % (n, why_closed(s)))
            return
        time.sleep(0.1)
    say("hold over")


def why_closed(s):
    err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    return os.strerror(err) if err else "end of stream"


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("target")
    ap.add_argument("--key", required=True)
    ap.add_argument("--op", default="getattr")
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("--prefix", default="slowpeer")
    ap.add_argument("--dir", default=None)
    ap.add_argument("--never-read", action="store_true")
    ap.add_argument("--rcvbuf", type=int, default=None)
    ap.add_argument("--half-frame", action="store_true")
    ap.add_argument("--no-auth", action="store_true")
    ap.add_argument("--as-host", default="slowpeer")
    ap.add_argument("--hold", type=float, default=600)
    ap.add_argument("--kind", default="client", choices=sorted(KINDS))
    ap.add_argument("--statuses", action="store_true")
    a = ap.parse_args()
    ops = a.op.split(",")
    for op in ops:
        if op not in ("getattr", "mkdir", "readdir", "stats", "replicate", "list",
                      "orphan-scan", "verify", "verify-badflags", "page-cap",
                      "page-put-short", "page-put", "page-punt", "page-punt-short", "page-updates", "sync", "sync-payload", "lease-poll", "lease-poll-long", "dir-lease",
                      "gfm-replicate-badflags", "open-follow-nocopy"):
            ap.error("unknown --op %s" % op)

    key = open(a.key, "rb").read().rstrip(b"\r\n")
    rcvbuf = a.rcvbuf if a.rcvbuf is not None else (4096 if a.never_read else 0)
    try:
        s = connect(a.target, rcvbuf)
        if a.no_auth:
            recv_frame(s)  # HELLO
            say("waiting without AUTH")
            hold(s, a.hold, 0)
            return 0
        authenticate(s, key, a.as_host.encode(), KINDS[a.kind])
        dir_ino = lookup(s, a.dir) if a.dir else ROOT_INO
    except (OSError, EOFError, RuntimeError) as e:
        say("failed: %s" % e)
        return 1
    say("authenticated")
    s.setblocking(False)
    n = 0
    if a.half_frame:
        f = request(ops[0], 1, a.prefix, dir_ino)
        try:
            send_all(s, f[:len(f) // 2], 0, {"blocked": False})
        except OSError as e:
            say("closed by server after 0 (%s)" % e)
            return 0
        say("sent half a frame")
        hold(s, a.hold, 0)
        return 0
    state = {"blocked": False}
    replies = 0
    try:
        batch = []
        for i in range(1, a.count + 1):
            batch.append(request(ops[(i - 1) % len(ops)], i, a.prefix, dir_ino))
            if len(batch) == 64 or i == a.count:
                send_all(s, b"".join(batch), n, state)
                n += len(batch)
                batch = []
                if not a.never_read:
                    # keep up with the replies of what we sent
                    s.setblocking(True)
                    while replies < n:
                        _, st, _ = recv_frame(s)
                        if a.statuses:
                            say("status %d" % st)
                        replies += 1
                    s.setblocking(False)
    except (OSError, EOFError) as e:
        err = e.errno if isinstance(e, OSError) else None
        say("closed by server after %d (%s)" %
            (n, os.strerror(err) if err else str(e) or "end of stream"))
        return 0
    say("sent %d" % n)
    if a.never_read:
        # Replies pile up unread; say so once they have stopped coming.
        last, since = -1, time.monotonic()
        while time.monotonic() - since < 0.5 or last == 0:
            if closed_by_server(s):
                say("closed by server after %d (%s)" % (n, why_closed(s)))
                return 0
            u = unread(s)
            if u != last:
                last, since = u, time.monotonic()
            time.sleep(0.05)
        say("stalled after %d (%d bytes unread)" % (n, last))
    hold(s, a.hold, n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
