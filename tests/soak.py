#!/usr/bin/python3
"""tests/soak.py — one random writer for it_soak.sh.

usage: soak.py MOUNTS SUBDIR SECS ID NFILES SEED STOPFILE

Works on NFILES files of its own (w<ID>-fNN) in SUBDIR of the mounts
(comma-separated): writes (O_TRUNC), appends, truncates, rewrites in
place with fdatasync (and past the end, fdatasync again), renames away and
back, unlinks, and reads back. Each file's mutations go through one mount
(its number picks it); a read goes through the other mount only once
entry_timeout and attr_timeout (1.5 s, above the 1 s the cluster uses)
have passed since the file's last mutation, as README says another
mount may see a change that late. Stops after SECS or once STOPFILE
exists.

What it knows: a file's content after each mutation that succeeded; a
failed mutation (a daemon killed under it) makes the file unknown until
the next whole write. A read of a known file that differs is a failure
(printed "MISMATCH", exit 1). At the end it writes the known files'
SHA-256 to soak.w<ID>.json in the current directory, beside soak.w<ID>.hist:
one line per operation (time, operation, file, mount, size after it).
"""
import hashlib
import json
import os
import random
import sys
import time

mounts = sys.argv[1].split(",")
sub, secs, wid, nf = sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
rnd = random.Random(int(sys.argv[6]) * 1000 + wid)
stopfile = sys.argv[7]
SETTLE = 1.5


def data(n):
    blk = rnd.randbytes(4096)
    return (blk * (n // 4096 + 1))[:n]


cur = {}       # name -> bytes, or None (unknown)
lastmut = {}   # name -> time of its last mutation
ops = fails = bad = 0
hist = open("soak.w%d.hist" % wid, "w")  # what was done, for a post-mortem
end = time.time() + secs
while time.time() < end and not os.path.exists(stopfile):
    i = rnd.randrange(nf)
    name = "w%d-f%02d" % (wid, i)
    op = rnd.choice(["write", "write", "append", "trunc", "rewrite", "rename", "unlink",
                     "read"])
    m = mounts[(i + wid) % len(mounts)]
    if op == "read" and rnd.random() < 0.3 and time.time() - lastmut.get(name, 0) > SETTLE:
        m = rnd.choice(mounts)
    p = os.path.join(m, sub, name)
    try:
        if op == "write":
            b = data(rnd.choice([0, 100, 65536, 1 << 20, 3 << 20, rnd.randrange(1 << 22)]))
            cur[name] = None
            fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                os.write(fd, b)
            finally:
                os.close(fd)
            cur[name] = b
        elif op == "append" and cur.get(name) is not None:
            b, old = data(rnd.randrange(300000)), cur[name]
            cur[name] = None
            fd = os.open(p, os.O_WRONLY | os.O_APPEND)
            try:
                os.write(fd, b)
            finally:
                os.close(fd)
            cur[name] = old + b
        elif op == "trunc" and cur.get(name) is not None:
            n, old = rnd.randrange(len(cur[name]) + 1), cur[name]
            cur[name] = None
            os.truncate(p, n)
            cur[name] = old[:n]
        elif op == "rewrite" and cur.get(name):
            old = cur[name]
            off = rnd.randrange(len(old))
            b = data(rnd.randrange(1, min(len(old) - off, 200000) + 1))
            tail = data(rnd.randrange(100000))
            cur[name] = None
            fd = os.open(p, os.O_RDWR)
            try:
                os.pwrite(fd, b, off)
                os.fdatasync(fd)  # in place: nothing new for gfmd
                os.pwrite(fd, tail, len(old))
                os.fdatasync(fd)  # past the end: the size
            finally:
                os.close(fd)
            cur[name] = old[:off] + b + old[off + len(b):] + tail
        elif op == "rename" and name in cur:
            old = cur[name]
            cur[name] = None
            os.rename(p, p + ".r")
            os.rename(p + ".r", p)
            cur[name] = old
        elif op == "unlink" and name in cur:
            cur[name] = None
            os.unlink(p)
            del cur[name]
        elif op == "read" and cur.get(name) is not None:
            with open(p, "rb") as f:
                got = f.read()
            if got != cur[name]:
                bad += 1
                print("MISMATCH %s read through %s: %d bytes, %d expected" %
                      (name, m, len(got), len(cur[name])), flush=True)
                cur[name] = None
            continue
        else:
            continue
        ops += 1
        lastmut[name] = time.time()
        print("%.6f %s %s %s %d" % (lastmut[name], op, name, m,
                                    -1 if cur.get(name) is None else len(cur[name])), file=hist)
    except OSError as e:
        fails += 1
        lastmut[name] = time.time()
        print("%.6f %s %s %s failed %s" % (lastmut[name], op, name, m, e.errno), file=hist)
        print("%s %s: %s (a daemon was killed: the file is unknown now)" % (op, p, e),
              flush=True)
hist.close()
with open("soak.w%d.json" % wid, "w") as f:
    json.dump({k: hashlib.sha256(v).hexdigest() for k, v in cur.items() if v is not None}, f)
print("writer %d: %d mutations, %d failed, %d reads wrong" % (wid, ops, fails, bad), flush=True)
sys.exit(1 if bad else 0)
