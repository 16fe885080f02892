#!/usr/bin/python3
"""POSIX conformance cases, for a differential test against ext4.

usage: posix.py ROOT [CASE ...]

Runs every case (or the ones named) in a directory of its own under ROOT,
which must exist, be empty and be writable by everyone (it_posix makes it
1777). Each observation is one line on stdout:

    CASE: LABEL: RESULT

RESULT is "ok", "ok VALUE" or an errno name; a stat is its type, mode,
link count, owner, group (and size, device numbers where they mean the same
on every file system); times are which of atime, mtime and ctime an
operation moved ("a", "m", "c", "-" for each). Nothing here depends on
inode numbers, st_blocks, a directory's size or the clock's value, so the
output of a run on ext4 is the reference a run on another file system is
compared with, line by line (it_posix).

Users are fixed ids that need no account: alice (1001, group 1001), bob
(1002, group 1002) and carol (1003, groups 1003 and 1001); operations as
them run in a child that drops to those ids.
"""
import ctypes
import errno
import os
import pickle
import socket
import stat
import sys
import time

USERS = {
    "root": (0, 0, [0]),
    "alice": (1001, 1001, [1001]),
    "bob": (1002, 1002, [1002]),
    "carol": (1003, 1003, [1003, 1001]),
}
OLD = 1_000_000_000  # a time far in the past, set before watching a change

libc = ctypes.CDLL(None, use_errno=True)
libc.renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                           ctypes.c_uint]
RENAME_NOREPLACE, RENAME_EXCHANGE = 1, 2
AT_FDCWD = -100


def renameat2(a, b, flags):
    if libc.renameat2(AT_FDCWD, a.encode(), AT_FDCWD, b.encode(), flags) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def typeof(m):
    for t, c in ((stat.S_ISREG, "f"), (stat.S_ISDIR, "d"), (stat.S_ISLNK, "l"),
                 (stat.S_ISFIFO, "p"), (stat.S_ISSOCK, "s"), (stat.S_ISCHR, "c"),
                 (stat.S_ISBLK, "b")):
        if t(m):
            return c
    return "?"


def fmt_stat(st):
    t = typeof(st.st_mode)
    s = "%s %04o n%d u%d g%d" % (t, stat.S_IMODE(st.st_mode), st.st_nlink, st.st_uid,
                                  st.st_gid)
    if t in "fl":
        s += " s%d" % st.st_size
    if t in "cb":
        s += " dev%d,%d" % (os.major(st.st_rdev), os.minor(st.st_rdev))
    return s


def norm(v):
    if isinstance(v, os.stat_result):
        return fmt_stat(v)
    if isinstance(v, bytes):
        return repr(v if len(v) <= 64 else v[:32] + b"..." + v[-16:]) + " len%d" % len(v)
    if isinstance(v, str) and len(v) > 80:
        return repr(v[:32] + "..." + v[-16:]) + " len%d" % len(v)
    if isinstance(v, (list, tuple, set)):
        return "[" + ", ".join(sorted(norm(x) for x in v)) + "]"
    return str(v)


def attempt(fn, *a, **kw):
    try:
        v = fn(*a, **kw)
        return "ok" if v is None else "ok " + norm(v)
    except OSError as e:
        return errno.errorcode.get(e.errno, "errno%d" % e.errno)


def forked(body, meanwhile=None):
    """body() in a forked child: its value (pickled back; an exception is
    "EXCEPTION ..."), or "CHILD DIED". meanwhile(), if given, runs here
    0.3 s after the fork (what a child that waits should see happen)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            res = body()
        except BaseException as e:  # noqa: B902 - anything, reported as a result
            res = "EXCEPTION %r" % e
        os.write(w, pickle.dumps(res))
        os._exit(0)
    os.close(w)
    if meanwhile is not None:
        time.sleep(0.3)
        meanwhile()
    data = b""
    while True:
        b = os.read(r, 65536)
        if not b:
            break
        data += b
    os.close(r)
    os.waitpid(pid, 0)
    return pickle.loads(data) if data else "CHILD DIED"


def as_ids(ruid, euid, rgid, egid, groups, fn, *a, **kw):
    """fn(*a, **kw) with these real and effective ids (its result as
    attempt() gives it), in a child."""
    def body():
        os.setgroups(groups)
        os.setresgid(rgid, egid, egid)
        os.setresuid(ruid, euid, euid)
        return attempt(fn, *a, **kw)
    return forked(body)


def as_user(user, fn, *a, **kw):
    """fn(*a, **kw) as user (its result as attempt() gives it), in a child."""
    if user == "root":
        return attempt(fn, *a, **kw)
    uid, gid, groups = USERS[user]
    return as_ids(uid, uid, gid, gid, groups, fn, *a, **kw)


def times(p, follow=True):
    st = os.stat(p, follow_symlinks=follow)
    return (st.st_atime_ns, st.st_mtime_ns, st.st_ctime_ns)


class Case:
    def __init__(self, name, root):
        self.name = name
        self.d = os.path.join(root, name)
        os.mkdir(self.d)
        os.chmod(self.d, 0o777)

    def p(self, *parts):
        return os.path.join(self.d, *parts)

    def out(self, label, result):
        print("%s: %s: %s" % (self.name, label, result), flush=True)

    def do(self, label, fn, *a, user="root", **kw):
        self.out(label if user == "root" else "%s (as %s)" % (label, user),
                 as_user(user, fn, *a, **kw))

    def st(self, label, path, follow=True):
        self.out(label, attempt(os.stat, path, follow_symlinks=follow))

    def age(self, *paths, follow=True):
        """Make paths' atime and mtime old; then wait until the clock moved
        past their ctime, so that a change after this shows."""
        for p in paths:
            os.utime(p, ns=(OLD * 10**9, OLD * 10**9), follow_symlinks=follow)
        snap = {p: times(p, follow) for p in paths}
        last = max(s[2] for s in snap.values())
        while time.time_ns() < last + 5_000_000:
            time.sleep(0.001)
        return snap

    def moved(self, label, snap, follow=True):
        """Which of atime, mtime, ctime moved since age() for each path."""
        res = []
        for p, before in snap.items():
            try:
                after = times(p, follow)
            except OSError as e:
                res.append("%s=%s" % (os.path.basename(p), errno.errorcode[e.errno]))
                continue
            res.append("%s=%s" % (os.path.basename(p) or "/", "".join(
                c if after[i] != before[i] else "-" for i, c in enumerate("amc"))))
        self.out(label + " times", " ".join(res))


def write(p, data=b"data", mode=0o644, flags=os.O_WRONLY | os.O_CREAT | os.O_TRUNC):
    fd = os.open(p, flags, mode)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def read(p, n=65536):
    fd = os.open(p, os.O_RDONLY)
    try:
        return os.read(fd, n)
    finally:
        os.close(fd)


def listdir_types(p):
    return sorted("%s:%s" % (e.name, typeof(e.stat(follow_symlinks=False).st_mode))
                  for e in os.scandir(p))


# ---- the cases ---------------------------------------------------------------------------

def case_filetypes(c):
    c.do("mkfifo", os.mkfifo, c.p("fifo"), 0o640)
    c.st("fifo stat", c.p("fifo"))
    c.do("mknod fifo", os.mknod, c.p("fifo2"), stat.S_IFIFO | 0o600)
    c.st("mknod fifo stat", c.p("fifo2"))
    c.do("mknod char 1,3", os.mknod, c.p("null"), stat.S_IFCHR | 0o666, os.makedev(1, 3))
    c.st("char stat", c.p("null"))
    c.do("mknod block 7,0", os.mknod, c.p("blk"), stat.S_IFBLK | 0o600, os.makedev(7, 0))
    c.st("block stat", c.p("blk"))
    c.do("mknod socket", os.mknod, c.p("sock"), stat.S_IFSOCK | 0o755)
    c.st("socket stat", c.p("sock"))
    c.do("mknod regular", os.mknod, c.p("reg"), stat.S_IFREG | 0o600)
    c.st("regular stat", c.p("reg"))
    c.do("mknod over an existing name", os.mknod, c.p("reg"), stat.S_IFIFO | 0o600)
    c.do("mknod char as a user", os.mknod, c.p("unull"), stat.S_IFCHR | 0o666,
         os.makedev(1, 3), user="alice")
    c.do("mkfifo as a user", os.mkfifo, c.p("ufifo"), 0o666, user="alice")
    c.st("user fifo stat", c.p("ufifo"))

    def bind(p):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.bind(p)
        finally:
            s.close()
    c.do("bind a unix socket", bind, c.p("bound"))
    c.out("bound socket type", typeof(os.lstat(c.p("bound")).st_mode))
    c.do("bind over an existing socket", bind, c.p("bound"))

    def fifo_rw(p):
        r = os.open(p, os.O_RDONLY | os.O_NONBLOCK)
        w = os.open(p, os.O_WRONLY | os.O_NONBLOCK)
        os.write(w, b"through the fifo")
        v = os.read(r, 100)
        os.close(w)
        os.close(r)
        return v
    c.do("a fifo passes bytes", fifo_rw, c.p("fifo"))
    c.do("open the null device, write", lambda: write(c.p("null"), b"x", flags=os.O_WRONLY))
    c.do("read the null device", read, c.p("null"))
    c.do("open a socket node", os.open, c.p("sock"), os.O_RDONLY)
    c.do("open a fifo for write, no reader, nonblocking", os.open, c.p("fifo2"),
         os.O_WRONLY | os.O_NONBLOCK)
    c.do("truncate a fifo", os.truncate, c.p("fifo"), 0)
    c.do("readlink of a fifo", os.readlink, c.p("fifo"))
    c.do("unlink the special files", lambda: [os.unlink(c.p(n)) for n in
                                              ("fifo", "fifo2", "null", "blk", "sock", "bound")])
    c.do("what is left", listdir_types, c.d)


def case_names(c):
    n255, n256 = "n" * 255, "n" * 256
    c.do("create a 255-byte name", write, c.p(n255))
    c.do("create a 256-byte name", write, c.p(n256))
    c.do("mkdir a 256-byte name", os.mkdir, c.p(n256))
    c.do("stat a 256-byte name", os.stat, c.p(n256))
    c.do("rename to a 256-byte name", os.rename, c.p(n255), c.p(n256))
    c.do("symlink named 256 bytes", os.symlink, "x", c.p(n256))
    c.do("link to a 256-byte name", os.link, c.p(n255), c.p(n256))
    u = "ä" * 127  # 254 bytes of UTF-8
    c.do("a 254-byte UTF-8 name", write, c.p(u))
    c.do("a 256-byte UTF-8 name", write, c.p(u + "äx"[0]))
    odd = "new\nline \\ tab\t*?[ ] 'q' \"dq\" \x01"
    c.do("a name with odd bytes", write, c.p(odd))
    c.do("it lists", lambda: odd in os.listdir(c.d))
    c.do("a name with a high byte (not UTF-8)",
         lambda: write(os.path.join(c.d.encode(), b"\xff\xfe")))
    c.do("it lists as bytes", lambda: b"\xff\xfe" in os.listdir(c.d.encode()))

    # paths: nested directories of 200-byte names, one shorter, and a
    # 255-byte last name make a path of exactly 4095 bytes (PATH_MAX with
    # its NUL), whatever ROOT's length
    seg = "d" * 200
    deep = c.d
    while len(deep) + 1 + len(seg) + 257 < 4095:
        deep = os.path.join(deep, seg)
        os.mkdir(deep)
    deep = os.path.join(deep, "e" * (4095 - len(deep) - 257))
    os.mkdir(deep)
    last = "f" * 255
    c.out("the path's length", len(os.path.join(deep, last)))
    c.do("create at a 4095-byte path", write, os.path.join(deep, last))
    c.do("stat at a 4095-byte path", os.stat, os.path.join(deep, last))
    c.do("create at a 4096-byte path", write, os.path.join(deep, last + "g"))
    c.do("open a 4096-byte path", os.open, os.path.join(deep, last + "g"), os.O_RDONLY)
    c.do("unlink at a 4095-byte path", os.unlink, os.path.join(deep, last))

    c.do("symlink with a 4095-byte target", os.symlink, "t" * 4095, c.p("long"))
    c.do("readlink it", os.readlink, c.p("long"))
    c.st("its lstat", c.p("long"), follow=False)
    c.do("symlink with a 4096-byte target", os.symlink, "t" * 4096, c.p("longer"))
    c.do("symlink with an empty target", os.symlink, "", c.p("empty"))
    c.do("mkdir with trailing slash", os.mkdir, c.p("slash") + "/")
    c.do("create a file with a trailing slash", write, c.p("fslash") + "/")
    c.do("stat a file with a trailing slash", os.stat, c.p(n255) + "/")
    c.do("dot names: mkdir .", os.mkdir, c.p("."))
    c.do("dot names: rmdir .", os.rmdir, c.p("slash", "."))
    c.do("dot names: rmdir ..", os.rmdir, c.p("slash", ".."))
    c.do("dot names: unlink ..", os.unlink, c.p("slash", ".."))
    c.do("dot names: rename onto .", os.rename, c.p(n255), c.p("slash", "."))
    c.do("dot names: rename .", os.rename, c.p("slash", "."), c.p("x"))


def case_links(c):
    write(c.p("f"))
    c.st("new file", c.p("f"))
    c.do("link", os.link, c.p("f"), c.p("g"))
    c.st("after link", c.p("f"))
    c.do("link over an existing name", os.link, c.p("f"), c.p("g"))
    c.do("link to a missing file", os.link, c.p("nope"), c.p("h"))
    os.mkdir(c.p("d"))
    c.st("new directory", c.p("d"))
    c.st("its parent", c.d)
    c.do("link a directory", os.link, c.p("d"), c.p("dl"))
    c.do("mkdir inside", os.mkdir, c.p("d", "sub"))
    c.st("directory with a subdirectory", c.p("d"))
    c.do("file inside", write, c.p("d", "file"))
    c.st("directory with a file too", c.p("d"))
    os.mkdir(c.p("e"))
    c.do("rename the subdirectory to another parent", os.rename, c.p("d", "sub"), c.p("e", "sub"))
    c.st("old parent", c.p("d"))
    c.st("new parent", c.p("e"))
    c.do("rmdir it", os.rmdir, c.p("e", "sub"))
    c.st("parent after rmdir", c.p("e"))
    fd = os.open(c.p("g"), os.O_RDONLY)
    c.do("unlink g", os.unlink, c.p("g"))
    c.st("f after g went", c.p("f"))
    c.do("unlink f while open", os.unlink, c.p("f"))
    c.do("fstat the open unlinked file", os.fstat, fd)
    c.do("read it", os.read, fd, 100)
    os.close(fd)
    write(c.p("a"), b"aaa")
    write(c.p("b"), b"bb")
    os.link(c.p("b"), c.p("b2"))
    fd = os.open(c.p("b"), os.O_RDONLY)
    c.do("rename a over b", os.rename, c.p("a"), c.p("b"))
    c.do("fstat the replaced file", os.fstat, fd)
    c.st("b now", c.p("b"))
    c.st("b2 now", c.p("b2"))
    os.close(fd)
    c.do("rename a link onto its other name", os.rename, c.p("b2"), c.p("b2"))
    os.link(c.p("b2"), c.p("b3"))
    c.do("rename one hard link onto another", os.rename, c.p("b2"), c.p("b3"))
    c.do("both names stay", lambda: sorted(n for n in os.listdir(c.d) if n.startswith("b")))
    os.symlink("b", c.p("sl"))
    c.do("link a symlink (not followed)", os.link, c.p("sl"), c.p("sl2"), follow_symlinks=False)
    c.st("the symlink's lstat", c.p("sl"), follow=False)
    c.do("link through a symlink (followed)", os.link, c.p("sl"), c.p("sl3"),
         follow_symlinks=True)
    c.st("the target", c.p("b"))


def case_symlinks(c):
    write(c.p("t"), b"target")
    c.do("symlink", os.symlink, "t", c.p("s"))
    c.st("lstat", c.p("s"), follow=False)
    c.st("stat follows", c.p("s"))
    c.do("readlink", os.readlink, c.p("s"))
    c.do("readlink a file", os.readlink, c.p("t"))
    c.do("symlink over an existing name", os.symlink, "t", c.p("s"))
    c.do("dangling symlink", os.symlink, "missing", c.p("dang"))
    c.do("stat the dangling one", os.stat, c.p("dang"))
    c.do("open O_CREAT through the dangling one", write, c.p("dang"), b"made")
    c.st("its target now", c.p("missing"))
    c.do("O_CREAT|O_EXCL on a symlink", os.open, c.p("s"), os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    c.do("O_NOFOLLOW on a symlink", os.open, c.p("s"), os.O_RDONLY | os.O_NOFOLLOW)
    os.symlink("loop2", c.p("loop1"))
    os.symlink("loop1", c.p("loop2"))
    c.do("a loop", os.stat, c.p("loop1"))
    c.do("chmod through a symlink", os.chmod, c.p("s"), 0o600)
    c.st("the target's mode", c.p("t"))
    c.st("the symlink's mode", c.p("s"), follow=False)
    c.do("lchown the symlink", os.chown, c.p("s"), 1001, 1001, follow_symlinks=False)
    c.st("symlink after lchown", c.p("s"), follow=False)
    c.st("target after lchown", c.p("t"))
    c.do("chown through it", os.chown, c.p("s"), 1002, 1002)
    c.st("target after chown", c.p("t"))
    os.mkdir(c.p("dir"))
    os.symlink("dir", c.p("ds"))
    c.do("create through a directory symlink", write, c.p("ds", "inside"))
    c.do("rmdir a symlink to a directory", os.rmdir, c.p("ds"))
    c.do("unlink a symlink to a directory", os.unlink, c.p("ds"))
    c.do("the directory stays", listdir_types, c.p("dir"))
    c.do("O_DIRECTORY on a file", os.open, c.p("t"), os.O_RDONLY | os.O_DIRECTORY)
    c.do("a path through a file", os.stat, c.p("t", "x"))
    c.do("symlink as a user in a 1777 dir", os.symlink, "t", c.p("us"), user="alice")
    c.st("a user's symlink", c.p("us"), follow=False)


def case_chmod(c):
    write(c.p("f"))
    os.chown(c.p("f"), 1001, 1001)
    c.do("owner chmod", os.chmod, c.p("f"), 0o640, user="alice")
    c.st("after owner chmod", c.p("f"))
    c.do("non-owner chmod", os.chmod, c.p("f"), 0o666, user="bob")
    c.do("group member, not owner, chmod", os.chmod, c.p("f"), 0o666, user="carol")
    c.do("root chmod", os.chmod, c.p("f"), 0o604)
    c.st("after root chmod", c.p("f"))
    c.do("owner sets setuid", os.chmod, c.p("f"), 0o4755, user="alice")
    c.st("setuid kept", c.p("f"))
    c.do("owner sets setgid, in the group", os.chmod, c.p("f"), 0o2755, user="alice")
    c.st("setgid kept", c.p("f"))
    os.chown(c.p("f"), 1001, 1002)
    c.do("owner sets setgid, not in the group", os.chmod, c.p("f"), 0o2755, user="alice")
    c.st("setgid dropped", c.p("f"))
    c.do("root sets setgid, not in the group", os.chmod, c.p("f"), 0o2755)
    c.st("root's setgid kept", c.p("f"))
    c.do("owner sets sticky on a file", os.chmod, c.p("f"), 0o1644, user="alice")
    c.st("sticky on a file", c.p("f"))
    os.mkdir(c.p("d"))
    os.chown(c.p("d"), 1001, 1001)
    c.do("owner sets sticky on a directory", os.chmod, c.p("d"), 0o1777, user="alice")
    c.st("sticky directory", c.p("d"))
    c.do("chmod of a missing file", os.chmod, c.p("nope"), 0o644)
    c.do("fchmod on an O_RDONLY descriptor", lambda: (
        lambda fd: (os.fchmod(fd, 0o600), os.close(fd)))(os.open(c.p("f"), os.O_RDONLY)))
    c.st("after fchmod", c.p("f"))
    c.do("chmod with file type bits", os.chmod, c.p("f"), stat.S_IFDIR | 0o644)
    c.st("type bits ignored", c.p("f"))


def case_chown(c):
    write(c.p("f"))
    os.chown(c.p("f"), 1001, 1001)
    c.do("root chown to bob", os.chown, c.p("f"), 1002, 1002)
    c.st("after root chown", c.p("f"))
    os.chown(c.p("f"), 1001, 1001)
    c.do("owner chown to another user", os.chown, c.p("f"), 1002, -1, user="alice")
    c.do("owner chown to self", os.chown, c.p("f"), 1001, -1, user="alice")
    c.do("owner chgrp to a group not theirs", os.chown, c.p("f"), -1, 1002, user="alice")
    os.chown(c.p("f"), 1003, 1003)
    c.do("owner chgrp to a supplementary group", os.chown, c.p("f"), -1, 1001, user="carol")
    c.st("after chgrp", c.p("f"))
    c.do("non-owner chgrp", os.chown, c.p("f"), -1, 1002, user="bob")
    c.do("non-owner chown -1 -1", os.chown, c.p("f"), -1, -1, user="bob")
    c.do("owner chown -1 -1", os.chown, c.p("f"), -1, -1, user="carol")
    # setuid and setgid on chown
    for who, uid, gid, mode in (("root", 1002, -1, 0o6755), ("root", -1, 1002, 0o6755),
                                ("root", -1, -1, 0o6755), ("root", 1002, -1, 0o6745),
                                ("carol", -1, 1001, 0o6755), ("carol", -1, 1001, 0o6745),
                                ("carol", -1, -1, 0o6755)):
        os.chown(c.p("f"), 1003, 1003)
        os.chmod(c.p("f"), mode)
        c.do("chown %d:%d of a %04o file" % (uid, gid, mode), os.chown, c.p("f"), uid, gid,
             user=who)
        c.st("its mode after", c.p("f"))
    os.mkdir(c.p("d"))
    os.chmod(c.p("d"), 0o2775)
    c.do("root chown of a setgid directory", os.chown, c.p("d"), 1002, 1002)
    c.st("setgid directory after chown", c.p("d"))
    c.do("chown a missing file", os.chown, c.p("nope"), 0, 0)
    c.do("fchown", lambda: (lambda fd: (os.fchown(fd, 1001, 1002), os.close(fd)))(
        os.open(c.p("f"), os.O_RDONLY)))
    c.st("after fchown", c.p("f"))


def case_setid_clear(c):
    # writes, truncates by a user clear setuid/setgid
    for who, mode, how in (("bob", 0o6777, "write"), ("bob", 0o6767, "write"),
                           ("alice", 0o6777, "write"), ("root", 0o6777, "write"),
                           ("bob", 0o6777, "truncate"), ("bob", 0o6777, "ftruncate"),
                           ("bob", 0o2777, "write"), ("bob", 0o4777, "write"),
                           ("bob", 0o6777, "O_TRUNC"), ("bob", 0o6777, "empty write")):
        f = c.p("f-%s-%o-%s" % (who, mode, how.replace(" ", "_")))
        write(f, b"0123456789")
        os.chown(f, 1001, 1001)
        os.chmod(f, mode)

        def act(f=f, how=how):
            if how == "write":
                write(f, b"x", flags=os.O_WRONLY)
            elif how == "empty write":
                write(f, b"", flags=os.O_WRONLY)
            elif how == "truncate":
                os.truncate(f, 3)
            elif how == "ftruncate":
                fd = os.open(f, os.O_WRONLY)
                os.ftruncate(fd, 3)
                os.close(fd)
            elif how == "O_TRUNC":
                os.close(os.open(f, os.O_WRONLY | os.O_TRUNC))
        c.do("%s of a %04o file" % (how, mode), act, user=who)
        c.st("%s of a %04o file: after" % (how, mode), f)
    # a setgid directory: group and bit inherited
    os.mkdir(c.p("sg"))
    os.chown(c.p("sg"), 1001, 1001)
    os.chmod(c.p("sg"), 0o2777)
    c.do("file in a setgid directory", write, c.p("sg", "f"), user="bob")
    c.st("its group", c.p("sg", "f"))
    c.do("directory in a setgid directory", os.mkdir, c.p("sg", "d"), 0o755, user="bob")
    c.st("its group and bit", c.p("sg", "d"))
    c.do("a setgid file made by a non-member", lambda: write(c.p("sg", "g"), mode=0o2755),
         user="bob")
    c.st("setgid kept?", c.p("sg", "g"))
    c.do("mknod in a setgid directory", os.mkfifo, c.p("sg", "p"), user="bob")
    c.st("its group", c.p("sg", "p"))
    c.do("symlink in a setgid directory", os.symlink, "x", c.p("sg", "l"), user="bob")
    c.st("its group", c.p("sg", "l"), follow=False)
    c.do("rename into a setgid directory keeps the group", lambda: (
        write(c.p("own")), os.rename(c.p("own"), c.p("sg", "own"))))
    c.st("moved file", c.p("sg", "own"))


def case_sticky(c):
    os.mkdir(c.p("t"))
    os.chmod(c.p("t"), 0o1777)
    write(c.p("t", "a"))
    os.chown(c.p("t", "a"), 1001, 1001)
    write(c.p("t", "a2"))
    os.chown(c.p("t", "a2"), 1001, 1001)
    os.mkdir(c.p("t", "adir"))
    os.chown(c.p("t", "adir"), 1001, 1001)
    c.do("bob unlinks alice's file", os.unlink, c.p("t", "a"), user="bob")
    c.do("bob renames alice's file", os.rename, c.p("t", "a"), c.p("t", "b"), user="bob")
    c.do("bob renames his over alice's", lambda: (write(c.p("t", "bob")),
                                                   os.rename(c.p("t", "bob"), c.p("t", "a"))),
         user="bob")
    c.do("bob rmdirs alice's directory", os.rmdir, c.p("t", "adir"), user="bob")
    c.do("alice unlinks her own", os.unlink, c.p("t", "a"), user="alice")
    c.do("root unlinks alice's", os.unlink, c.p("t", "a2"))
    os.chown(c.p("t"), 1002, 1002)
    write(c.p("t", "a3"))
    os.chown(c.p("t", "a3"), 1001, 1001)
    c.do("the directory's owner unlinks alice's", os.unlink, c.p("t", "a3"), user="bob")
    c.do("what is left", listdir_types, c.p("t"))
    # without the sticky bit anyone with write permission may
    os.mkdir(c.p("n"))
    os.chmod(c.p("n"), 0o777)
    write(c.p("n", "a"))
    os.chown(c.p("n", "a"), 1001, 1001)
    c.do("bob unlinks alice's file, no sticky bit", os.unlink, c.p("n", "a"), user="bob")


def case_access(c):
    write(c.p("f"), b"secret")
    os.chown(c.p("f"), 1001, 1001)
    for mode in (0o000, 0o400, 0o040, 0o004, 0o200, 0o100, 0o070, 0o007):
        os.chmod(c.p("f"), mode)
        for who in ("alice", "bob", "carol"):
            c.do("read a %04o file" % mode, read, c.p("f"), user=who)
            c.do("open a %04o file for write" % mode, os.open, c.p("f"), os.O_WRONLY,
                 user=who)
            c.do("access X_OK on a %04o file" % mode, lambda: os.access(c.p("f"), os.X_OK),
                 user=who)
        c.do("access X_OK on a %04o file" % mode, lambda: os.access(c.p("f"), os.X_OK))
        c.do("root reads a %04o file" % mode, read, c.p("f"))
    os.mkdir(c.p("d"))
    write(c.p("d", "in"))
    os.chown(c.p("d"), 1001, 1001)
    for mode in (0o700, 0o600, 0o500, 0o300, 0o100, 0o070, 0o007, 0o000):
        os.chmod(c.p("d"), mode)
        for who in ("alice", "bob", "carol"):
            c.do("stat in a %04o directory" % mode, os.stat, c.p("d", "in"), user=who)
            c.do("list a %04o directory" % mode, os.listdir, c.p("d"), user=who)
            c.do("create in a %04o directory" % mode,
                 lambda who=who: (write(c.p("d", who)), os.unlink(c.p("d", who))), user=who)
            c.do("chdir into a %04o directory" % mode, os.chdir, c.p("d"), user=who)
    os.chmod(c.p("d"), 0o755)
    c.do("unlink in another's 0755 directory", os.unlink, c.p("d", "in"), user="bob")
    c.do("rename in another's 0755 directory", os.rename, c.p("d", "in"), c.p("x"),
         user="bob")
    c.do("exec bit for root with no x", lambda: os.access(c.p("f"), os.X_OK))
    os.chmod(c.p("f"), 0o744)
    c.do("utime(NULL) by a non-owner without write", os.utime, c.p("f"), user="bob")
    os.chmod(c.p("f"), 0o746)
    c.do("utime(NULL) by a non-owner with write", os.utime, c.p("f"), user="bob")
    c.do("utime(times) by a non-owner with write", os.utime, c.p("f"), (1, 1), user="bob")
    c.do("utime(times) by the owner", os.utime, c.p("f"), (1, 1), user="alice")
    c.do("UTIME_NOW both, non-owner with write",
         lambda: os.utime(c.p("f"), ns=(time.time_ns(), time.time_ns())), user="bob")


def case_rename(c):
    for n in ("f", "g"):
        write(c.p(n), n.encode())
    for n in ("d", "e", "full"):
        os.mkdir(c.p(n))
    write(c.p("full", "x"))
    c.do("rename file over file", os.rename, c.p("f"), c.p("g"))
    c.do("the content", read, c.p("g"))
    c.do("rename file over a directory", os.rename, c.p("g"), c.p("d"))
    c.do("rename directory over a file", os.rename, c.p("d"), c.p("g"))
    c.do("rename directory over an empty directory", os.rename, c.p("d"), c.p("e"))
    c.do("rename directory over a non-empty directory", os.rename, c.p("e"), c.p("full"))
    c.do("rename a directory into itself", os.rename, c.p("e"), c.p("e", "in"))
    os.mkdir(c.p("e", "sub"))
    c.do("rename a directory into its subdirectory", os.rename, c.p("e"), c.p("e", "sub", "x"))
    c.do("rename onto its own subdirectory", os.rename, c.p("e"), c.p("e", "sub"))
    c.do("rename a missing name", os.rename, c.p("nope"), c.p("x"))
    c.do("rename into a missing directory", os.rename, c.p("g"), c.p("nope", "x"))
    c.do("rename a file to itself", os.rename, c.p("g"), c.p("g"))
    write(c.p("a"), b"A")
    write(c.p("b"), b"B")
    c.do("RENAME_NOREPLACE onto a file", renameat2, c.p("a"), c.p("b"), RENAME_NOREPLACE)
    c.do("RENAME_NOREPLACE to a new name", renameat2, c.p("a"), c.p("a2"), RENAME_NOREPLACE)
    c.do("RENAME_EXCHANGE two files", renameat2, c.p("a2"), c.p("b"), RENAME_EXCHANGE)
    c.do("a2 holds", read, c.p("a2"))
    c.do("b holds", read, c.p("b"))
    c.do("RENAME_EXCHANGE with a missing name", renameat2, c.p("a2"), c.p("zz"),
         RENAME_EXCHANGE)
    c.do("RENAME_EXCHANGE a file and a directory", renameat2, c.p("b"), c.p("e"),
         RENAME_EXCHANGE)
    c.do("now listed", listdir_types, c.d)
    c.st("e is a file now", c.p("e"))
    c.st("b is the directory now", c.p("b"))
    c.do("RENAME_EXCHANGE with both flags", renameat2, c.p("a2"), c.p("e"),
         RENAME_EXCHANGE | RENAME_NOREPLACE)
    # a directory moved to another parent: '..' follows
    os.mkdir(c.p("p1"))
    os.mkdir(c.p("p2"))
    os.mkdir(c.p("p1", "child"))
    c.do("move a directory", os.rename, c.p("p1", "child"), c.p("p2", "child"))
    c.do("its .. is the new parent",
         lambda: os.stat(c.p("p2", "child", "..")).st_ino == os.stat(c.p("p2")).st_ino)
    c.st("p1", c.p("p1"))
    c.st("p2", c.p("p2"))
    # renames as a user: write permission on both parents, not on the file
    os.mkdir(c.p("u1"))
    os.mkdir(c.p("u2"))
    os.chown(c.p("u1"), 1001, 1001)
    write(c.p("u1", "mine"))
    c.do("rename out of a writable into a read-only directory", os.rename,
         c.p("u1", "mine"), c.p("u2", "mine"), user="alice")
    os.mkdir(c.p("u1", "sub"))
    os.chown(c.p("u1", "sub"), 1002, 1002)
    os.chmod(c.p("u1", "sub"), 0o755)
    os.mkdir(c.p("u3"))
    os.chown(c.p("u3"), 1001, 1001)
    c.do("move another's directory (needs write on it for ..)", os.rename, c.p("u1", "sub"),
         c.p("u3", "sub"), user="alice")
    c.do("rename it in place", os.rename, c.p("u1", "sub"), c.p("u1", "sub2"), user="alice")


def case_errors(c):
    write(c.p("f"), b"12345")
    os.mkdir(c.p("d"))
    write(c.p("d", "x"))
    c.do("O_EXCL on an existing file", os.open, c.p("f"), os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    c.do("open a directory O_WRONLY", os.open, c.p("d"), os.O_WRONLY)
    c.do("open a directory O_RDWR", os.open, c.p("d"), os.O_RDWR)
    c.do("open a directory O_CREAT", os.open, c.p("d"), os.O_CREAT | os.O_RDONLY)
    c.do("open a directory O_RDONLY|O_TRUNC", os.open, c.p("d"), os.O_RDONLY | os.O_TRUNC)
    c.do("open missing", os.open, c.p("nope"), os.O_RDONLY)
    c.do("O_CREAT in a missing directory", os.open, c.p("nope", "f"), os.O_CREAT | os.O_WRONLY)
    c.do("mkdir existing", os.mkdir, c.p("d"))
    c.do("mkdir over a file", os.mkdir, c.p("f"))
    c.do("rmdir non-empty", os.rmdir, c.p("d"))
    c.do("rmdir a file", os.rmdir, c.p("f"))
    c.do("unlink a directory", os.unlink, c.p("d"))
    c.do("unlink missing", os.unlink, c.p("nope"))
    c.do("truncate a directory", os.truncate, c.p("d"), 0)
    c.do("truncate negative", os.truncate, c.p("f"), -1)
    c.do("truncate a missing file", os.truncate, c.p("nope"), 0)
    c.do("ftruncate a read-only descriptor", lambda: (
        lambda fd: os.ftruncate(fd, 0))(os.open(c.p("f"), os.O_RDONLY)))
    c.do("write to a read-only descriptor", lambda: (
        lambda fd: os.write(fd, b"x"))(os.open(c.p("f"), os.O_RDONLY)))
    c.do("read a write-only descriptor", lambda: (
        lambda fd: os.read(fd, 1))(os.open(c.p("f"), os.O_WRONLY)))
    c.do("read a directory", lambda: (
        lambda fd: os.read(fd, 1))(os.open(c.p("d"), os.O_RDONLY)))
    c.do("pwrite at a negative offset", lambda: (
        lambda fd: os.pwrite(fd, b"x", -1))(os.open(c.p("f"), os.O_WRONLY)))
    c.do("lseek past the end, write, size", lambda: (
        lambda fd: (os.lseek(fd, 100, 0), os.write(fd, b"z"), os.fstat(fd).st_size)[2])(
        os.open(c.p("f"), os.O_WRONLY)))
    c.do("the hole reads as zeros", lambda: read(c.p("f"))[3:12])
    c.do("O_APPEND writes at the end", lambda: (
        lambda fd: (os.lseek(fd, 0, 0), os.write(fd, b"E"), os.fstat(fd).st_size)[2])(
        os.open(c.p("f"), os.O_WRONLY | os.O_APPEND)))
    c.do("O_TRUNC as a non-writer", os.open, c.p("f"), os.O_RDONLY | os.O_TRUNC, user="bob")
    c.do("creat in a directory as a non-writer", write, c.p("d", "bob"), user="bob")
    c.do("mkdir in / of the case as a user, then rmdir",
         lambda: (os.mkdir(c.p("ud")), os.rmdir(c.p("ud"))), user="alice")
    c.do("SEEK_DATA at 0", lambda: (lambda fd: os.lseek(fd, 0, os.SEEK_DATA))(
        os.open(c.p("f"), os.O_RDONLY)))
    c.do("SEEK_HOLE at 0", lambda: (lambda fd: os.lseek(fd, 0, os.SEEK_HOLE))(
        os.open(c.p("f"), os.O_RDONLY)))
    c.do("SEEK_DATA past the end", lambda: (lambda fd: os.lseek(fd, 1000, os.SEEK_DATA))(
        os.open(c.p("f"), os.O_RDONLY)))
    c.do("fallocate extends", lambda: (
        lambda fd: (os.posix_fallocate(fd, 0, 10000), os.fstat(fd).st_size)[1])(
        os.open(c.p("f"), os.O_WRONLY)))
    c.do("fallocate KEEP_SIZE style: size unchanged by a smaller range", lambda: (
        lambda fd: (os.posix_fallocate(fd, 0, 10), os.fstat(fd).st_size)[1])(
        os.open(c.p("f"), os.O_WRONLY)))
    c.do("readdir of a file", os.listdir, c.p("f"))
    c.do("listing", listdir_types, c.d)


def case_times(c):
    d = c.p("d")
    os.mkdir(d)
    s = c.age(d)
    write(c.p("d", "f"), b"")
    c.moved("create: parent", s)
    f = c.p("d", "f")
    s = c.age(f, d)
    write(f, b"hello", flags=os.O_WRONLY)
    c.moved("write", s)
    s = c.age(f)
    read(f)
    c.moved("read", s)
    s = c.age(f)
    write(f, b"", flags=os.O_WRONLY)
    c.moved("open for write, no write", s)
    s = c.age(f)
    os.close(os.open(f, os.O_WRONLY | os.O_TRUNC))
    c.moved("O_TRUNC of a non-empty file", s)
    s = c.age(f)
    os.close(os.open(f, os.O_WRONLY | os.O_TRUNC))
    c.moved("O_TRUNC of an empty file", s)
    write(f, b"hello")
    s = c.age(f)
    os.truncate(f, 5)
    c.moved("truncate to the same size", s)
    s = c.age(f)
    os.truncate(f, 2)
    c.moved("truncate shorter", s)
    s = c.age(f)
    os.chmod(f, 0o600)
    c.moved("chmod", s)
    s = c.age(f)
    os.chmod(f, 0o600)
    c.moved("chmod to the same mode", s)
    s = c.age(f)
    os.chown(f, 1001, 1001)
    c.moved("chown", s)
    s = c.age(f)
    os.chown(f, -1, -1)
    c.moved("chown -1 -1", s)
    s = c.age(f, d)
    os.link(f, c.p("d", "g"))
    c.moved("link: file and directory", s)
    s = c.age(f, d)
    os.unlink(c.p("d", "g"))
    c.moved("unlink one link: file and directory", s)
    os.mkdir(c.p("e"))
    s = c.age(f, d, c.p("e"))
    os.rename(f, c.p("e", "f"))
    c.moved("rename to another directory: file, old and new directory", s)
    f = c.p("e", "f")
    s = c.age(f, c.p("e"))
    os.rename(f, c.p("e", "f2"))
    c.moved("rename in place: file and directory", s)
    f = c.p("e", "f2")
    write(c.p("e", "victim"))
    s = c.age(f, c.p("e"), c.p("e", "victim"))
    fd = os.open(c.p("e", "victim"), os.O_RDONLY)
    os.rename(f, c.p("e", "victim"))
    c.moved("rename over a file: file, directory", {k: v for k, v in s.items()
                                                    if not k.endswith("victim")})
    st = os.fstat(fd)
    c.out("the replaced file's ctime moved",
          st.st_ctime_ns != s[c.p("e", "victim")][2])
    os.close(fd)
    f = c.p("e", "victim")
    os.mkdir(c.p("e", "sub"))
    s = c.age(c.p("e"), c.p("e", "sub"))
    os.rename(c.p("e", "sub"), c.p("d", "sub"))
    c.moved("move a directory: the directory and its old parent", s)
    s = c.age(d)
    os.rmdir(c.p("d", "sub"))
    c.moved("rmdir: parent", s)
    s = c.age(d)
    os.mkdir(c.p("d", "sub2"))
    c.moved("mkdir: parent", s)
    s = c.age(d)
    os.symlink("x", c.p("d", "sl"))
    c.moved("symlink: parent", s)
    s = c.age(c.p("d", "sl"), follow=False)
    os.readlink(c.p("d", "sl"))
    c.moved("readlink", s, follow=False)
    s = c.age(d)
    os.listdir(d)
    c.moved("readdir", s)
    s = c.age(f)
    os.setxattr(f, "user.k", b"v")
    c.moved("setxattr", s)
    s = c.age(f)
    os.getxattr(f, "user.k")
    c.moved("getxattr", s)
    s = c.age(f)
    os.removexattr(f, "user.k")
    c.moved("removexattr", s)
    s = c.age(f)
    os.utime(f, ns=(5 * 10**9, 6 * 10**9))
    st = os.stat(f)
    c.out("utime explicit", "%d %d" % (st.st_atime_ns, st.st_mtime_ns))
    c.moved("utime explicit", s)
    os.utime(f, ns=(123456789, 987654321))
    st = os.stat(f)
    c.out("utime keeps nanoseconds", "%d %d" % (st.st_atime_ns, st.st_mtime_ns))
    s = c.age(f)
    os.utime(f)
    c.moved("utime now", s)
    s = c.age(f)
    fd = os.open(f, os.O_WRONLY)
    os.pwrite(fd, b"z", 100)
    c.moved("pwrite before close", s)
    os.close(fd)
    s = c.age(f)
    fd = os.open(f, os.O_WRONLY)
    os.posix_fallocate(fd, 0, 1 << 16)
    os.close(fd)
    c.moved("fallocate extending", s)
    s = c.age(c.p("e"))
    os.mkfifo(c.p("e", "fifo"))
    c.moved("mkfifo: parent", s)


def case_xattrs(c):
    write(c.p("f"))
    os.symlink("f", c.p("s"))
    os.mkdir(c.p("d"))
    c.do("set user.a", os.setxattr, c.p("f"), "user.a", b"1")
    c.do("get user.a", os.getxattr, c.p("f"), "user.a")
    c.do("get a missing one", os.getxattr, c.p("f"), "user.nope")
    c.do("XATTR_CREATE on an existing one", os.setxattr, c.p("f"), "user.a", b"2",
         os.XATTR_CREATE)
    c.do("XATTR_REPLACE on a missing one", os.setxattr, c.p("f"), "user.b", b"2",
         os.XATTR_REPLACE)
    c.do("XATTR_REPLACE on an existing one", os.setxattr, c.p("f"), "user.a", b"3",
         os.XATTR_REPLACE)
    c.do("an empty value", os.setxattr, c.p("f"), "user.empty", b"")
    c.do("get the empty value", os.getxattr, c.p("f"), "user.empty")
    c.do("a 4000-byte value", os.setxattr, c.p("f"), "user.big", b"v" * 4000)
    c.do("get it", os.getxattr, c.p("f"), "user.big")
    write(c.p("f2"))  # (f's xattr block is full with user.big on ext4)
    c.do("a 255-byte name", os.setxattr, c.p("f2"), "user." + "k" * 250, b"x")
    c.do("get it", os.getxattr, c.p("f2"), "user." + "k" * 250)
    c.do("a 256-byte name", os.setxattr, c.p("f2"), "user." + "k" * 251, b"x")
    c.do("get a 256-byte name", os.getxattr, c.p("f2"), "user." + "k" * 251)
    c.do("get user.", os.getxattr, c.p("f2"), "user.")
    c.do("an unknown namespace", os.setxattr, c.p("f"), "bogus.a", b"x")
    c.do("no name after the namespace", os.setxattr, c.p("f"), "user.", b"x")
    c.do("list", lambda: [n for n in os.listxattr(c.p("f")) if n.startswith("user.")])
    c.do("remove", os.removexattr, c.p("f"), "user.a")
    c.do("remove a missing one", os.removexattr, c.p("f"), "user.a")
    c.do("user.* on a symlink itself", os.setxattr, c.p("s"), "user.a", b"x",
         follow_symlinks=False)
    c.do("user.* through a symlink", os.setxattr, c.p("s"), "user.t", b"x")
    c.do("user.* on a directory", os.setxattr, c.p("d"), "user.a", b"x")
    os.mkfifo(c.p("p"))
    c.do("user.* on a fifo", os.setxattr, c.p("p"), "user.a", b"x")
    c.do("trusted.* as root", os.setxattr, c.p("f"), "trusted.a", b"x")
    c.do("trusted.* read as a user", os.getxattr, c.p("f"), "trusted.a", user="alice")
    c.do("trusted.* listed to a user",
         lambda: [n for n in os.listxattr(c.p("f")) if n.startswith("trusted.")], user="alice")
    c.do("trusted.* set as a user", os.setxattr, c.p("f"), "trusted.b", b"x", user="alice")
    os.chmod(c.p("f"), 0o644)
    c.do("user.* set by a non-owner without write", os.setxattr, c.p("f"), "user.n", b"x",
         user="bob")
    c.do("user.* read by a non-owner with read", os.getxattr, c.p("f"), "user.empty",
         user="bob")
    os.chmod(c.p("f"), 0o600)
    c.do("user.* read by a non-owner without read", os.getxattr, c.p("f"), "user.empty",
         user="bob")
    c.do("security.* set as root", os.setxattr, c.p("f"), "security.test", b"x")
    c.do("get a value into a too-small buffer", lambda: (
        lambda: libc_getxattr_small(c.p("f"), "user.big"))())


def libc_getxattr_small(path, name):
    buf = ctypes.create_string_buffer(10)
    libc.getxattr.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p,
                              ctypes.c_size_t]
    n = libc.getxattr(path.encode(), name.encode(), buf, 10)
    if n < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return n


def case_umask(c):
    for um in (0o022, 0o077, 0o000, 0o027):
        old = os.umask(um)
        try:
            write(c.p("f%o" % um), mode=0o777)
            os.mkdir(c.p("d%o" % um), 0o777)
            os.mkfifo(c.p("p%o" % um), 0o777)
        finally:
            os.umask(old)
        c.st("file under umask %03o" % um, c.p("f%o" % um))
        c.st("directory under umask %03o" % um, c.p("d%o" % um))
        c.st("fifo under umask %03o" % um, c.p("p%o" % um))
    c.do("mkdir with setuid/setgid/sticky in the mode", os.mkdir, c.p("bits"), 0o7777)
    c.st("what it got", c.p("bits"))
    c.do("create with setuid in the mode, as root", write, c.p("su"), b"", 0o4755)
    c.st("what it got", c.p("su"))


def case_readdir(c):
    for n in ("a", "b", "c"):
        write(c.p(n))
    os.mkdir(c.p("sub"))
    os.symlink("a", c.p("l"))
    os.mkfifo(c.p("p"))
    c.do("entries with types", listdir_types, c.d)
    c.do("dot entries", lambda: sorted(
        n for n in os.popen("ls -a '%s'" % c.d).read().split() if n.startswith(".")))
    many = [c.p("m%04d" % i) for i in range(1500)]
    for m in many:
        write(m, b"")
    c.do("1500 more entries, counted", lambda: len(os.listdir(c.d)))
    for m in many[::2]:
        os.unlink(m)
    c.do("after removing half", lambda: len(os.listdir(c.d)))

    def unlink_while_listing():
        seen = set()
        with os.scandir(c.d) as it:
            for i, e in enumerate(it):
                seen.add(e.name)
                if i == 10:
                    for m in many[1::4]:
                        os.unlink(m)
        return all(os.path.basename(m) in seen or not os.path.exists(m) for m in many[1::2])
    c.do("unlinks during a listing: every survivor seen", unlink_while_listing)


def case_special_ops(c):
    os.mkfifo(c.p("p"), 0o644)
    os.mknod(c.p("c"), stat.S_IFCHR | 0o644, os.makedev(1, 5))
    os.mknod(c.p("s"), stat.S_IFSOCK | 0o644)
    for n in ("p", "c", "s"):
        c.do("chmod %s" % n, os.chmod, c.p(n), 0o4711)
        c.st("%s after chmod" % n, c.p(n))
        c.do("chown %s" % n, os.chown, c.p(n), 1001, 1002)
        c.st("%s after chown" % n, c.p(n))
        c.do("link %s" % n, os.link, c.p(n), c.p(n + "2"))
        c.st("%s after link" % n, c.p(n))
        c.do("rename %s" % n, os.rename, c.p(n + "2"), c.p(n + "3"))
        c.do("xattr user.* on %s" % n, os.setxattr, c.p(n), "user.x", b"1")
        c.do("xattr trusted.* on %s" % n, os.setxattr, c.p(n), "trusted.x", b"1")
        c.do("get it back from %s" % n, os.getxattr, c.p(n), "trusted.x")
        c.do("utime on %s" % n, os.utime, c.p(n), (7, 8))
        c.do("its times", lambda n=n: (os.stat(c.p(n)).st_atime, os.stat(c.p(n)).st_mtime))
        c.do("chown %s as its owner" % n, os.chown, c.p(n), 1001, 1001, user="alice")
        c.st("%s after the owner's chgrp" % n, c.p(n))
    c.do("mknod with a huge device number", os.mknod, c.p("big"), stat.S_IFCHR | 0o600,
         os.makedev(4095, 1048575))
    c.st("its numbers", c.p("big"))
    c.do("mknod with a bad type", os.mknod, c.p("bad"), 0o170000 | 0o600)
    c.do("mknod with no type (a regular file)", os.mknod, c.p("notype"), 0o600)
    c.st("what it made", c.p("notype"))
    c.do("mknod a directory", os.mknod, c.p("dir"), stat.S_IFDIR | 0o755)
    c.do("listing", listdir_types, c.d)


def case_dirlinks(c):
    os.mkdir(c.p("a"))
    os.mkdir(c.p("b"))
    os.mkdir(c.p("a", "x"))
    os.mkdir(c.p("b", "y"))
    c.st("a", c.p("a"))
    c.do("rename a/x over the empty b/y", os.rename, c.p("a", "x"), c.p("b", "y"))
    c.st("a after", c.p("a"))
    c.st("b after", c.p("b"))
    c.st("b/y after", c.p("b", "y"))
    c.do("rename b/y to a/x again", os.rename, c.p("b", "y"), c.p("a", "x"))
    c.st("root of the case", c.d)
    for i in range(5):
        os.mkdir(c.p("a", "m%d" % i))
    c.st("a with 6 subdirectories", c.p("a"))
    c.do("RENAME_EXCHANGE of a directory and a file across parents", lambda: (
        write(c.p("b", "f")), renameat2(c.p("a", "m0"), c.p("b", "f"), RENAME_EXCHANGE)))
    c.st("a after the exchange", c.p("a"))
    c.st("b after the exchange", c.p("b"))
    c.do("rmdir a non-empty a", os.rmdir, c.p("a"))
    c.do("remove everything below a", lambda: [os.unlink(c.p("a", n)) if not
                                               os.path.isdir(c.p("a", n)) else
                                               os.rmdir(c.p("a", n))
                                               for n in os.listdir(c.p("a"))])
    c.st("a emptied", c.p("a"))
    fd = os.open(c.p("a"), os.O_RDONLY)
    c.do("rmdir a while open", os.rmdir, c.p("a"))
    c.do("fstat of the removed directory", os.fstat, fd)
    c.do("create in the removed directory", lambda: os.open("x", os.O_CREAT | os.O_WRONLY,
                                                            0o644, dir_fd=fd))
    c.do("list the removed directory", lambda: os.listdir(fd))
    os.close(fd)


def case_more_times(c):
    os.mkdir(c.p("d"))
    os.symlink("target", c.p("d", "l"))
    d, l = c.p("d"), c.p("d", "l")
    s = c.age(l, follow=False)
    os.utime(l, ns=(3 * 10**9, 4 * 10**9), follow_symlinks=False)
    st = os.lstat(l)
    c.out("lutimes sets the symlink's own times", "%d %d" % (st.st_atime_ns, st.st_mtime_ns))
    c.moved("lutimes", s, follow=False)
    s = c.age(l, follow=False)
    os.chown(l, 1001, 1001, follow_symlinks=False)
    c.moved("lchown", s, follow=False)
    s = c.age(d)
    os.setxattr(d, "user.k", b"v")
    c.moved("setxattr on a directory", s)
    s = c.age(d)
    os.chmod(d, 0o750)
    c.moved("chmod of a directory", s)
    s = c.age(d)
    os.rename(l, c.p("d", "l2"))
    c.moved("rename inside a directory: the directory", s)
    l = c.p("d", "l2")
    s = c.age(d)
    os.link(l, c.p("d", "l3"), follow_symlinks=False)
    c.moved("hard link to a symlink: the directory", s)
    c.st("the symlink's links", l, follow=False)
    os.mkfifo(c.p("d", "p"))
    s = c.age(c.p("d", "p"))
    os.chmod(c.p("d", "p"), 0o600)
    c.moved("chmod of a fifo", s)
    s = c.age(c.p("d", "p"))

    def fifo_io():
        r = os.open(c.p("d", "p"), os.O_RDONLY | os.O_NONBLOCK)
        w = os.open(c.p("d", "p"), os.O_WRONLY | os.O_NONBLOCK)
        os.write(w, b"x")
        os.read(r, 1)
        os.close(w)
        os.close(r)
    fifo_io()
    c.moved("write and read through a fifo", s)
    write(c.p("d", "f"), b"12345")
    s = c.age(c.p("d", "f"))
    os.truncate(c.p("d", "f"), 5)
    c.moved("truncate by path to the same size", s)
    s = c.age(c.p("d", "f"))
    fd = os.open(c.p("d", "f"), os.O_WRONLY)
    os.ftruncate(fd, 5)
    os.close(fd)
    c.moved("ftruncate to the same size", s)
    s = c.age(c.p("d", "f"))
    fd = os.open(c.p("d", "f"), os.O_RDONLY)
    os.read(fd, 2)
    os.read(fd, 2)
    os.close(fd)
    c.moved("two reads through one open", s)
    s = c.age(c.p("d", "f"))
    os.close(os.open(c.p("d", "f"), os.O_RDONLY))
    c.moved("an open for reading, no read", s)


CASES = {n[5:]: f for n, f in sorted(globals().items()) if n.startswith("case_")}


def more_cases():
    """The case_* functions of posix_*.py beside this file (each imports
    what it needs from this module: Case's helpers, write, read, ...)."""
    import importlib
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, here)
    sys.modules.setdefault("posix_base", sys.modules[__name__])
    for fn in sorted(os.listdir(here)):
        if fn.startswith("posix_") and fn.endswith(".py"):
            m = importlib.import_module(fn[:-3])
            for n, f in sorted(vars(m).items()):
                if n.startswith("case_"):
                    CASES[n[5:]] = f


more_cases()


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    root, names = sys.argv[1], sys.argv[2:] or list(CASES)
    if not os.path.isdir(root) or os.listdir(root):
        sys.exit("posix.py: %s must be an empty directory" % root)
    for n in names:
        if n not in CASES:
            sys.exit("posix.py: no case %r (cases: %s)" % (n, " ".join(CASES)))
    os.umask(0o022)
    for n in names:
        c = Case(n, root)
        try:
            CASES[n](c)
        except Exception as e:  # noqa: B902 - a case that breaks is a result, the rest go on
            c.out("CASE BROKE", "%s: %s" % (type(e).__name__, e))


if __name__ == "__main__":
    main()
