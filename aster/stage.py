#!/usr/bin/python3
"""stage.py - one task of one stage of the ASTER pipeline (run by aster-day).

usage: stage.py ftp URL SETDIR DEST      fetch one set over one FTP connection
       stage.py bzip2 FILE               FILE -> FILE.bz2 (FILE removed)
       stage.py bunzip2 FILE.bz2 DEST    decompress into DEST (FILE.bz2 kept)
       stage.py bunzip2-dir DIR          each DIR/*.L0.bz2 into DIR/*.L0

Each task is idempotent and leaves no half-made output: it writes to a
temporary name in the output's directory and renames it into place, so a
task interrupted at any point is simply run again. Exit status 0 on
success; 1 with a one-line reason on standard error otherwise. On success
it prints "bytes IN OUT" (bytes read, bytes written) for the stage table.
"""
import os
import subprocess
import sys

BUF = 1 << 20


def die(msg):
    print("stage: " + msg, file=sys.stderr)
    sys.exit(1)


def task_ftp(url, setdir, dest):
    """One set, over one connection (lftp mirror), into dest/setdir."""
    out = os.path.join(dest, setdir)
    tmp = out + ".part"
    if os.path.isdir(out):
        n = sum(os.path.getsize(os.path.join(out, f)) for f in os.listdir(out))
        return n, n
    os.makedirs(tmp, exist_ok=True)
    # mirror resumes what an interrupted run left in tmp (--continue)
    cmd = ["lftp", "-c", "set net:max-retries 3; set net:timeout 20; set net:reconnect-interval-base 1; "
           "set net:reconnect-interval-max 4; "
           "set ftp:passive-mode on; open %s && mirror --continue --no-perms %s %s"
           % (url, setdir, tmp)]
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        die("ftp %s/%s: lftp failed (%d): %s" % (url, setdir, r.returncode,
                                                 r.stderr.strip()[-300:]))
    n = sum(os.path.getsize(os.path.join(tmp, f)) for f in os.listdir(tmp))
    os.rename(tmp, out)
    return n, n


def pipe_through(cmd, src, dest):
    """Run cmd with src as its input and its output into dest, written in
    BUF-sized pieces (bzip2 writes a few KiB at a time: on a network file
    system each write is a request). The error text, or "" on success."""
    p = subprocess.Popen(cmd, stdin=src, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    with open(dest, "wb", buffering=BUF) as o:
        copy_stream(p.stdout, o)
    err = p.stderr.read().decode().strip()
    rc = p.wait()
    return "" if rc == 0 else (err or "exit status %d" % rc)


def copy_stream(src, dst):
    n = 0
    while True:
        b = src.read(BUF)
        if not b:
            return n
        dst.write(b)
        n += len(b)


def listing(path):
    """The names in path's directory now ([] when it has none)."""
    try:
        return os.listdir(os.path.dirname(path) or ".")
    except FileNotFoundError:
        return []


def present(path, names=None):
    """Whether path's name is in its directory now. A name another host
    removed can stay in this host's name cache for the attribute timeout
    (os.path.exists then says yes); a directory listing asks gfmd each
    time. names: listing(path), made already."""
    return os.path.basename(path) in (listing(path) if names is None else names)


def task_bzip2(path):
    out = path + ".bz2"
    names = listing(path)
    if present(out, names) and not present(path, names):
        return 0, os.path.getsize(out)  # done before
    if not present(path, names):
        die("bzip2: %s: no such file" % path)
    tmp = out + ".tmp"
    size = os.path.getsize(path)
    with open(path, "rb", buffering=BUF) as f:
        err = pipe_through(["bzip2", "-c", "-9"], f, tmp)
    if err:
        die("bzip2: %s: %s" % (path, err))
    os.rename(tmp, out)
    os.unlink(path)
    return size, os.path.getsize(out)


def task_bunzip2(path, dest, names=None):
    # (not os.path.exists: on another host, BZIP2 removed a file of this
    # name a moment ago, and a cached name must not pass for the output)
    if present(dest, names):
        return 0, os.path.getsize(dest)
    tmp = dest + ".tmp"
    with open(path, "rb", buffering=BUF) as f:
        err = pipe_through(["bzip2", "-d", "-c"], f, tmp)
    if err:
        os.unlink(tmp)
        die("bunzip2: %s: %s" % (path, err))
    os.rename(tmp, dest)
    return os.path.getsize(path), os.path.getsize(dest)


def task_bunzip2_dir(d):
    bin_ = bout = 0
    names = os.listdir(d)
    for f in sorted(names):
        if f.endswith(".L0.bz2"):
            i, o = task_bunzip2(os.path.join(d, f), os.path.join(d, f[:-4]), names)
            bin_ += i
            bout += o
    return bin_, bout


def main(argv):
    if len(argv) < 2:
        die("usage: stage.py TASK ARGS... (see the source's docstring)")
    t, args = argv[1], argv[2:]
    tasks = {"ftp": (task_ftp, 3), "bzip2": (task_bzip2, 1), "bunzip2": (task_bunzip2, 2),
             "bunzip2-dir": (task_bunzip2_dir, 1)}
    if t not in tasks or len(args) != tasks[t][1]:
        die("unknown task or wrong arguments: %s" % " ".join(argv[1:]))
    bin_, bout = tasks[t][0](*args)
    print("bytes %d %d" % (bin_, bout))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
