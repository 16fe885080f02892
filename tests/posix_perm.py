"""Permission cases for posix.py: who may do what where.

Owners, group members (carol through her supplementary group 1001) and
others against directories and files of many modes, root, search against
read on directories, sticky and setgid directories, access() and faccessat
with AT_EACCESS, the hard link and symlink protections (whatever
/proc/sys/fs/protected_* says on the host: the kernel decides those before
any file system is asked) and POSIX ACLs set with setfacl and read back with
getfacl. Most lines put several operations side by side, "op=RESULT ...",
each done in a child of its own as the user named in the label.
"""
import ctypes
import os
import stat
import subprocess

from posix_base import write, read, listdir_types, renameat2, RENAME_NOREPLACE, \
    RENAME_EXCHANGE, libc, typeof, as_user, as_ids, attempt

IDS = {"root": (0, 0), "alice": (1001, 1001), "bob": (1002, 1002), "carol": (1003, 1003)}
WHO = ("alice", "carol", "bob", "root")  # owner, group member, other, root
AT_FDCWD = -100
AT_EACCESS = 0x200
UTIME_NOW, UTIME_OMIT = (1 << 30) - 1, (1 << 30) - 2

libc.faccessat.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_int]


class Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


libc.utimensat.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.POINTER(Timespec),
                           ctypes.c_int]


def _check(rc):
    if rc != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def faccessat(path, mode, flags=0):
    _check(libc.faccessat(AT_FDCWD, path.encode(), mode, flags))


def utimensat(path, a, m):
    """a, m: (sec, nsec) or UTIME_NOW / UTIME_OMIT."""
    ts = (Timespec * 2)()
    for i, v in enumerate((a, m)):
        if isinstance(v, tuple):
            ts[i].tv_sec, ts[i].tv_nsec = v
        else:
            ts[i].tv_sec, ts[i].tv_nsec = 0, v
    _check(libc.utimensat(AT_FDCWD, path.encode(), ts, 0))


def own(path, who, mode=None):
    uid, gid = IDS[who]
    os.chown(path, uid, gid, follow_symlinks=False)
    if mode is not None:
        os.chmod(path, mode)


def ops_line(c, label, user, ops):
    """One line: each (name, fn, args...) of ops done as user, in turn."""
    res = []
    for op in ops:
        name, fn, a = op[0], op[1], op[2:]
        res.append("%s=%s" % (name, as_user(user, fn, *a)))
    c.out("%s (as %s)" % (label, user), " ".join(res))


def run(*cmd):
    """A command as root: its exit status and output (stderr too), one line,
    with the case's directory named D."""
    p = subprocess.run(cmd, cwd="/", stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = p.stdout.decode(errors="replace")
    for d in sorted(DIRS, key=len, reverse=True):
        out = out.replace(d, "D").replace(d.lstrip("/"), "D")
    lines = [ln.replace("\t", " ") for ln in out.splitlines()
             if ln.strip() and not ln.startswith("# file:")]
    return " | ".join(["ok" if p.returncode == 0 else "exit%d" % p.returncode] + lines)


DIRS = set()  # the case directories run() names D


def facl(path):
    """getfacl -n without the '# file:' line, one line."""
    return run("getfacl", "-n", "-p", path)


def setfacl(c, label, *args):
    DIRS.add(c.d)
    c.out(label, run("setfacl", *args))


def chdir_back(d):
    """chdir to d, then back (root's operations run in posix.py itself)."""
    fd = os.open(".", os.O_RDONLY)
    try:
        os.chdir(d)
    finally:
        os.fchdir(fd)
        os.close(fd)


def mode_of(p):
    st = os.lstat(p)
    return "%s %04o u%d g%d" % (typeof(st.st_mode), stat.S_IMODE(st.st_mode), st.st_uid,
                                st.st_gid)


def nothing(fn):
    """fn's result dropped (listdir's names vary with what others did)."""
    return lambda *a: (fn(*a), None)[1]


# ---- directories of every mode that matters, by owner, group, other, root ---------------

DIR_MODES = (0o755, 0o733, 0o711, 0o700, 0o570, 0o507, 0o300, 0o070)


def case_perm_dirs(c):
    """Directory alice:1001 of each mode; every name-changing operation in it."""
    for m in DIR_MODES:
        d, o = c.p("d%04o" % m), c.p("o%04o" % m)
        os.mkdir(d)
        os.mkdir(o)
        os.chmod(o, 0o777)
        for u in WHO:
            for n in ("v", "r", "x"):
                write(d + "/%s_%s" % (n, u))
                own(d + "/%s_%s" % (n, u), u)
            os.mkdir(d + "/sd_" + u)
            own(d + "/sd_" + u, u)
            for n in ("in", "ln"):
                write(o + "/%s_%s" % (n, u))
                own(o + "/%s_%s" % (n, u), u)
        own(d, "alice", m)
        for u in WHO:
            ops_line(c, "dir %04o" % m, u, (
                ("lookup", os.stat, d + "/v_" + u),
                ("list", nothing(os.listdir), d),
                ("create", write, d + "/n_" + u),
                ("mkdir", os.mkdir, d + "/m_" + u),
                ("symlink", os.symlink, "x", d + "/s_" + u),
                ("mkfifo", os.mkfifo, d + "/p_" + u),
                ("link", os.link, o + "/ln_" + u, d + "/l_" + u),
                ("unlink", os.unlink, d + "/v_" + u),
                ("rmdir", os.rmdir, d + "/sd_" + u),
                ("rename", os.rename, d + "/r_" + u, d + "/r2_" + u),
                ("rename-out", os.rename, d + "/x_" + u, o + "/x_" + u),
                ("rename-in", os.rename, o + "/in_" + u, d + "/in_" + u)))


# ---- files of every mode that matters ----------------------------------------------------

FILE_MODES = (0o644, 0o664, 0o646, 0o604, 0o060, 0o460, 0o000)


def case_perm_files(c):
    """File alice:1001 of each mode: content, times, attributes, owner."""
    for m in FILE_MODES:
        for u in WHO if m == 0o000 else WHO[:3]:
            f = c.p("f%04o_%s" % (m, u))
            write(f, b"0123456789")
            os.setxattr(f, "user.k", b"v")
            own(f, "alice", m)
            ops_line(c, "file %04o" % m, u, (
                ("read", read, f),
                ("open-w", lambda f=f: os.close(os.open(f, os.O_WRONLY))),
                ("truncate", os.truncate, f, 4),
                ("getxattr", os.getxattr, f, "user.k"),
                ("setxattr", os.setxattr, f, "user.n", b"x"),
                ("removexattr", os.removexattr, f, "user.k"),
                ("utime-null", os.utime, f),
                ("utime-now-now", utimensat, f, UTIME_NOW, UTIME_NOW),
                ("utime-omit-omit", utimensat, f, UTIME_OMIT, UTIME_OMIT),
                ("utime-now-omit", utimensat, f, UTIME_NOW, UTIME_OMIT),
                ("utime-times", os.utime, f, (1, 1)),
                ("chmod", os.chmod, f, m | 0o001),
                ("chgrp-own", os.chown, f, -1, 1001),
                ("chgrp-1003", os.chown, f, -1, 1003),
                ("chown-bob", os.chown, f, 1002, -1)))
    c.st("the 0000 file after root's turn", f)


def case_perm_dirattrs(c):
    """A directory's own attributes: chmod, chown, times, user.* (sticky too)."""
    for m in (0o755, 0o775, 0o1777, 0o1770):
        for u in WHO if m == 0o1777 else WHO[:3]:
            d = c.p("a%04o_%s" % (m, u))
            os.mkdir(d)
            own(d, "alice", m)
            ops_line(c, "dir %04o itself" % m, u, (
                ("setxattr", os.setxattr, d, "user.n", b"x"),
                ("getxattr", os.getxattr, d, "user.n"),
                ("utime-null", os.utime, d),
                ("utime-times", os.utime, d, (1, 1)),
                ("chmod", os.chmod, d, m | 0o2000),
                ("chgrp-1003", os.chown, d, -1, 1003),
                ("chown-bob", os.chown, d, 1002, -1)))
            if u == "alice":
                c.st("dir %04o itself after alice" % m, d)


# ---- search (x) against read (r) on directories ------------------------------------------

def case_perm_search(c):
    for m in (0o701, 0o704, 0o705, 0o703, 0o700, 0o000):
        d = c.p("s%04o" % m)
        os.mkdir(d)
        write(d + "/f", b"inside")
        os.mkdir(d + "/sub")
        write(d + "/sub/g", b"deeper")
        os.symlink("f", d + "/l")
        own(d, "alice", m)
        for u in ("bob", "root"):
            ops_line(c, "search %04o" % m, u, (
                ("stat", os.stat, d + "/f"),
                ("read", read, d + "/f"),
                ("names", os.listdir, d),
                ("types", listdir_types, d),
                ("chdir", chdir_back, d),
                ("deeper", read, d + "/sub/g"),
                ("readlink", os.readlink, d + "/l"),
                ("via-link", read, d + "/l"),
                ("dotdot", os.stat, d + "/sub/.."),
                ("access-F", faccessat, d + "/f", os.F_OK),
                ("create", write, d + "/new_" + u)))
    # a searchable directory under an unsearchable one
    os.mkdir(c.p("outer"))
    os.mkdir(c.p("outer", "inner"))
    os.chmod(c.p("outer", "inner"), 0o777)
    own(c.p("outer"), "alice", 0o704)
    c.do("through an unsearchable parent: stat", os.stat, c.p("outer", "inner"), user="bob")
    c.do("through an unsearchable parent: create", write, c.p("outer", "inner", "x"),
         user="bob")


# ---- access() and faccessat(AT_EACCESS) --------------------------------------------------

def case_perm_access(c):
    f = c.p("f")
    write(f)
    d = c.p("d")
    os.mkdir(d)
    for m in (0o000, 0o640, 0o604, 0o460, 0o001, 0o010):
        own(f, "alice", m)
        own(d, "alice", m)
        for u in WHO if m in (0o000, 0o010) else WHO[:3]:
            ops_line(c, "access %04o" % m, u, (
                ("F", faccessat, f, os.F_OK),
                ("R", faccessat, f, os.R_OK),
                ("W", faccessat, f, os.W_OK),
                ("X", faccessat, f, os.X_OK),
                ("RW", faccessat, f, os.R_OK | os.W_OK),
                ("eR", faccessat, f, os.R_OK, AT_EACCESS),
                ("eW", faccessat, f, os.W_OK, AT_EACCESS),
                ("dirX", faccessat, d, os.X_OK),
                ("dirW", faccessat, d, os.W_OK)))
    # real and effective ids apart: access() asks with the real ones
    own(f, "alice", 0o600)
    for label, ids in (("real bob, effective alice", (1002, 1001, 1002, 1001, [1002])),
                       ("real alice, effective bob", (1001, 1002, 1001, 1002, [1002]))):
        res = []
        for name, flags in (("access", 0), ("eaccess", AT_EACCESS)):
            res.append("%s=%s" % (name, as_ids(*ids, faccessat, f, os.R_OK | os.W_OK, flags)))
        res.append("open=%s" % as_ids(*ids, lambda: os.close(os.open(f, os.O_RDWR))))
        c.out("access, %s" % label, " ".join(res))
    c.out("create as real bob, effective alice",
          as_ids(1002, 1001, 1002, 1001, [1001], write, c.p("made")))
    c.st("its owner", c.p("made"))
    c.do("access of a missing file", faccessat, c.p("nope"), os.R_OK, user="bob")
    c.do("access through a file", faccessat, c.p("f", "x"), os.F_OK, user="bob")
    c.do("access with a bad mode", faccessat, f, 0o10, user="bob")


# ---- supplementary groups ----------------------------------------------------------------

def case_perm_groups(c):
    for m, grp in ((0o060, 1001), (0o070, 1003), (0o406, 1001), (0o604, 1001), (0o046, 1002)):
        f = c.p("f%04o_%d" % (m, grp))
        write(f, b"grouped")
        os.chown(f, 1001, grp)
        os.chmod(f, m)
        for u in ("alice", "carol", "bob"):
            ops_line(c, "file %04o group %d" % (m, grp), u, (
                ("read", read, f),
                ("write", write, f, b"w", 0o644, os.O_WRONLY),
                ("utime-null", os.utime, f)))
    d = c.p("g")
    os.mkdir(d)
    os.chown(d, 1001, 1001)
    os.chmod(d, 0o070)
    c.do("carol creates in a 0070 directory of group 1001", write, c.p("g", "cf"),
         user="carol")
    c.do("alice, its owner, may not", write, c.p("g", "af"), user="alice")
    os.chmod(d, 0o777)
    c.st("carol's file takes her primary group", c.p("g", "cf"))
    c.do("carol chgrp to her supplementary group", os.chown, c.p("g", "cf"), -1, 1001,
         user="carol")
    c.do("carol chgrp to a group not hers", os.chown, c.p("g", "cf"), -1, 1002, user="carol")
    c.do("carol sets setgid with group 1001", os.chmod, c.p("g", "cf"), 0o2755, user="carol")
    c.st("kept", c.p("g", "cf"))
    write(c.p("g", "af"))
    os.chown(c.p("g", "af"), 1001, 1003)
    c.do("alice sets setgid with group 1003 (not hers)", os.chmod, c.p("g", "af"), 0o2755,
         user="alice")
    c.st("dropped", c.p("g", "af"))
    c.do("alice chgrp her file to 1001", os.chown, c.p("g", "af"), -1, 1001, user="alice")
    c.st("setgid after chgrp", c.p("g", "af"))


# ---- sticky directories ------------------------------------------------------------------

def case_perm_sticky(c):
    t, o = c.p("t"), c.p("o")
    os.mkdir(t)
    os.chmod(t, 0o1777)
    os.mkdir(o)
    os.chmod(o, 0o777)
    for n, u in (("a", "alice"), ("a2", "alice"), ("a3", "alice"), ("b", "bob"),
                 ("b2", "bob"), ("b3", "bob")):
        write(t + "/" + n, n.encode())
        own(t + "/" + n, u, 0o666)
    for n, u, m in (("adir", "alice", 0o755), ("aopen", "alice", 0o777),
                    ("aempty", "alice", 0o755), ("bdir", "bob", 0o755),
                    ("bro", "bob", 0o555), ("bempty", "bob", 0o755)):
        os.mkdir(t + "/" + n)
        own(t + "/" + n, u, m)
    write(t + "/aopen/inner")
    own(t + "/aopen/inner", "alice", 0o644)
    c.do("bob renames alice's file in place", os.rename, t + "/a", t + "/x", user="bob")
    c.do("bob moves alice's file out", os.rename, t + "/a", o + "/a", user="bob")
    c.do("bob renames his over alice's", os.rename, t + "/b", t + "/a", user="bob")
    c.do("bob exchanges his with alice's", renameat2, t + "/b", t + "/a", RENAME_EXCHANGE,
         user="bob")
    c.do("bob renames his own, noreplace", renameat2, t + "/b", t + "/bnew", RENAME_NOREPLACE,
         user="bob")
    c.do("bob moves a file of his in over alice's from outside",
         lambda: (write(o + "/bo"), os.rename(o + "/bo", t + "/a2"))[1], user="bob")
    c.do("bob renames alice's directory in place", os.rename, t + "/adir", t + "/y",
         user="bob")
    c.do("bob renames alice's 0777 directory in place", os.rename, t + "/aopen", t + "/y",
         user="bob")
    c.do("bob moves alice's 0777 directory out", os.rename, t + "/aopen", o + "/aopen",
         user="bob")
    c.do("bob rmdirs alice's empty directory", os.rmdir, t + "/aempty", user="bob")
    c.do("bob renames his directory over alice's empty one", os.rename, t + "/bempty",
         t + "/aempty", user="bob")
    c.do("alice renames her directory over bob's empty one", os.rename, t + "/aempty",
         t + "/bempty", user="alice")
    c.do("bob moves his 0555 directory out", os.rename, t + "/bro", o + "/bro", user="bob")
    c.do("bob renames his 0555 directory in place", os.rename, t + "/bro", t + "/bro2",
         user="bob")
    c.do("bob moves his 0755 directory out", os.rename, t + "/bdir", o + "/bdir", user="bob")
    c.do("bob unlinks alice's file inside alice's 0777 directory (not sticky)", os.unlink,
         t + "/aopen/inner", user="bob")
    c.do("bob moves his file into alice's 0777 directory", os.rename, t + "/b2",
         t + "/aopen/b2", user="bob")
    c.do("carol (alice's group) unlinks alice's 0666 file", os.unlink, t + "/a3", user="carol")
    c.do("bob truncates alice's 0666 file (no name change)", os.truncate, t + "/a3", 1,
         user="bob")
    c.do("alice renames her file over bob's", os.rename, t + "/a3", t + "/b3", user="alice")
    c.do("root renames alice's file over bob's", os.rename, t + "/a3", t + "/b3")
    c.do("root rmdirs alice's empty directory", os.rmdir, t + "/aempty")
    c.do("what is left", listdir_types, t)
    c.do("what is outside", listdir_types, o)
    # the directory's owner may; a group that may write may not
    for m, u in ((0o1770, "carol"), (0o1770, "alice"), (0o1733, "bob")):
        d = c.p("s%04o_%s" % (m, u))
        os.mkdir(d)
        write(d + "/af")
        own(d + "/af", "alice", 0o666)
        write(d + "/cf")
        own(d + "/cf", "carol", 0o666)
        os.chown(d, 1001 if u == "alice" else 0, 1001)
        os.chmod(d, m)
        ops_line(c, "sticky %04o owned %s" % (m, "alice" if u == "alice" else "root"), u, (
            ("unlink-alices", os.unlink, d + "/af"),
            ("unlink-carols", os.unlink, d + "/cf"),
            ("create", write, d + "/new_" + u)))


# ---- setgid directories ------------------------------------------------------------------

def mkdir_umask(p, mode, um):
    old = os.umask(um)
    try:
        os.mkdir(p, mode)
    finally:
        os.umask(old)


def made(c, label, path, user, fn, *a):
    """fn(*a) as user, and the mode, owner and group path has after."""
    res = as_user(user, fn, *a)
    c.out(label if user == "root" else "%s (as %s)" % (label, user),
          "%s -> %s" % (res, attempt(mode_of, path)))


def case_perm_setgid(c):
    s = c.p("s")
    os.mkdir(s)
    own(s, "alice", 0o2777)
    made(c, "mkdir in a 2777 directory alice:1001", s + "/a", "bob", os.mkdir, s + "/a")
    made(c, "mkdir inside that", s + "/a/b", "bob", os.mkdir, s + "/a/b")
    made(c, "mkdir a level deeper", s + "/a/b/c", "root", os.mkdir, s + "/a/b/c")
    made(c, "mkdir 0700 there", s + "/a/b/p", "bob", os.mkdir, s + "/a/b/p", 0o700)
    made(c, "create a file deep inside", s + "/a/b/f", "bob", write, s + "/a/b/f")
    for u in WHO:
        made(c, "create 02755 in the setgid directory", s + "/sg_" + u, u, write,
             s + "/sg_" + u, b"", 0o2755)
        made(c, "mkdir 02755 in it", s + "/sgd_" + u, u, os.mkdir, s + "/sgd_" + u, 0o2755)
    made(c, "mkfifo 02770 deep inside", s + "/a/b/p/fifo", "bob", os.mkfifo,
         s + "/a/b/p/fifo", 0o2770)
    made(c, "symlink deep inside", s + "/a/b/l", "bob", os.symlink, "x", s + "/a/b/l")
    made(c, "chmod 02775 of his directory there (not in its group)", s + "/a", "bob",
         os.chmod, s + "/a", 0o2775)
    made(c, "chmod 0755 of his directory", s + "/a/b", "bob", os.chmod, s + "/a/b", 0o755)
    made(c, "mkdir under the setgid-less directory", s + "/a/b/q", "bob", os.mkdir,
         s + "/a/b/q")
    made(c, "the directory a level deeper keeps its bit", s + "/a/b/c", "root",
         lambda: None)
    os.mkdir(c.p("plain"))
    own(c.p("plain"), "bob", 0o755)
    made(c, "move a directory in", s + "/plain", "bob", os.rename, c.p("plain"),
         s + "/plain")
    write(c.p("lf"))
    own(c.p("lf"), "bob", 0o644)
    made(c, "link a file in", s + "/lf", "bob", os.link, c.p("lf"), s + "/lf")
    r = c.p("r")
    os.mkdir(r)
    os.chmod(r, 0o2777)
    made(c, "mkdir in a setgid directory of group 0", r + "/x", "alice", os.mkdir, r + "/x")
    made(c, "create 02775 there", r + "/f", "alice", write, r + "/f", b"", 0o2775)
    made(c, "mkdir 0777 in a setgid directory under umask 0", r + "/y", "root",
         mkdir_umask, r + "/y", 0o777, 0)
    made(c, "chown of a setgid subdirectory", s + "/a/b/c", "root", os.chown,
         s + "/a/b/c", 1003, 1003)


# ---- protected hard links ----------------------------------------------------------------

def case_perm_links(c):
    c.out("protected_hardlinks", open("/proc/sys/fs/protected_hardlinks").read().strip())
    src, dst = c.p("src"), c.p("dst")
    os.mkdir(src)
    os.chmod(src, 0o777)
    os.mkdir(dst)
    os.chmod(dst, 0o777)
    for m in (0o600, 0o644, 0o666, 0o606, 0o660, 0o000, 0o4666, 0o2666, 0o2676, 0o6777):
        f = src + "/f%04o" % m
        write(f)
        own(f, "alice", m)
        c.out("link alice's %04o file" % m, " ".join(
            "%s=%s" % (u, as_user(u, os.link, f, dst + "/%s%04o" % (u[0], m)))
            for u in ("bob", "carol", "alice")))
    os.mkfifo(src + "/fifo")
    own(src + "/fifo", "alice", 0o666)
    c.do("link alice's 0666 fifo", os.link, src + "/fifo", dst + "/fifo", user="bob")
    os.symlink("f0600", src + "/sl")
    own(src + "/sl", "alice")
    c.do("link alice's symlink itself", os.link, src + "/sl", dst + "/sl",
         follow_symlinks=False, user="bob")
    c.do("link through alice's symlink to her 0600 file", os.link, src + "/sl",
         dst + "/slf", follow_symlinks=True, user="bob")
    c.do("root links alice's 0000 file", os.link, src + "/f0000", dst + "/r0000")
    os.mkdir(c.p("ro"))
    os.chmod(c.p("ro"), 0o755)
    c.do("bob links his file into a 0755 directory", lambda: (
        write(src + "/mine"), os.link(src + "/mine", c.p("ro", "mine")))[1], user="bob")
    os.mkdir(c.p("hidden"))
    write(c.p("hidden", "h"))
    own(c.p("hidden", "h"), "bob", 0o666)
    os.chmod(c.p("hidden"), 0o700)
    c.do("bob links his file from a directory he cannot search", os.link,
         c.p("hidden", "h"), dst + "/h", user="bob")
    c.do("what was linked", lambda: sorted(os.listdir(dst)))
    c.st("alice's 0666 file now", src + "/f0666")


# ---- symlinks in sticky world-writable directories ---------------------------------------

def case_perm_symlinks(c):
    c.out("protected_symlinks", open("/proc/sys/fs/protected_symlinks").read().strip())
    c.out("protected_regular", open("/proc/sys/fs/protected_regular").read().strip())
    t = c.p("t")
    os.mkdir(t)
    os.chmod(t, 0o1777)
    write(c.p("target"), b"target")
    os.chmod(c.p("target"), 0o666)
    c.do("alice symlinks in a sticky 1777 directory", os.symlink, "../target",
         t + "/al", user="alice")
    c.do("alice makes a dangling one", os.symlink, "../made-by-follow", t + "/dang",
         user="alice")
    c.do("bob makes one too", os.symlink, "../target", t + "/bl", user="bob")
    for u in WHO:
        ops_line(c, "follow alice's symlink", u, (
            ("stat", os.stat, t + "/al"),
            ("read", read, t + "/al"),
            ("readlink", os.readlink, t + "/al")))
    c.do("bob follows his own", read, t + "/bl", user="bob")
    c.do("bob creates through alice's dangling one", write, t + "/dang", b"", 0o644,
         user="bob")
    c.do("what it made", lambda: mode_of(c.p("made-by-follow")))
    c.do("bob lchowns alice's symlink", os.chown, t + "/al", 1002, 1002,
         follow_symlinks=False, user="bob")
    c.do("alice lchowns her own to bob", os.chown, t + "/al", 1002, 1002,
         follow_symlinks=False, user="alice")
    c.do("bob unlinks alice's symlink", os.unlink, t + "/dang", user="bob")
    write(t + "/af", b"alice's")
    own(t + "/af", "alice", 0o666)
    c.do("bob opens alice's file O_CREAT (no O_EXCL) in the sticky directory",
         lambda: os.close(os.open(t + "/af", os.O_WRONLY | os.O_CREAT)), user="bob")
    c.do("bob opens it O_CREAT|O_EXCL", os.open, t + "/af",
         os.O_WRONLY | os.O_CREAT | os.O_EXCL, user="bob")
    os.mkfifo(t + "/afifo")
    own(t + "/afifo", "alice", 0o666)
    c.do("bob opens alice's fifo O_CREAT, nonblocking", lambda: os.close(
        os.open(t + "/afifo", os.O_RDONLY | os.O_CREAT | os.O_NONBLOCK)), user="bob")
    os.mkdir(c.p("p"))
    own(c.p("p"), "alice", 0o700)
    write(c.p("p", "in"))
    os.chmod(c.p("p", "in"), 0o666)
    os.symlink("../p/in", t + "/through")
    c.do("a symlink into a directory bob cannot search", read, t + "/through", user="bob")


# ---- user.* xattrs: who may write them where ---------------------------------------------

def case_perm_xattr(c):
    for m in (0o777, 0o1777, 0o755):
        d = c.p("d%04o" % m)
        os.mkdir(d)
        own(d, "alice", m)
        for u in WHO:
            ops_line(c, "user.* on a %04o directory" % m, u, (
                ("set", os.setxattr, d, "user." + u, b"x"),
                ("get", os.getxattr, d, "user." + u),
                ("remove", os.removexattr, d, "user." + u)))
    os.mkfifo(c.p("fifo"))
    own(c.p("fifo"), "alice", 0o666)
    os.symlink("fifo", c.p("sl"))
    for u in ("alice", "bob", "root"):
        ops_line(c, "user.* on a fifo and a symlink", u, (
            ("fifo-set", os.setxattr, c.p("fifo"), "user.a", b"x"),
            ("fifo-get", os.getxattr, c.p("fifo"), "user.a"),
            ("link-set", lambda: os.setxattr(c.p("sl"), "user.a", b"x",
                                              follow_symlinks=False)),
            ("link-get", lambda: os.getxattr(c.p("sl"), "user.a", follow_symlinks=False))))
    write(c.p("f"))
    own(c.p("f"), "alice", 0o666)
    os.setxattr(c.p("f"), "user.k", b"v")
    c.do("bob lists user.* of a 0666 file", lambda: sorted(
        n for n in os.listxattr(c.p("f")) if n.startswith("user.")), user="bob")
    os.chmod(c.p("f"), 0o000)
    c.do("bob lists user.* of a 0000 file", lambda: sorted(
        n for n in os.listxattr(c.p("f")) if n.startswith("user.")), user="bob")
    c.do("bob reads user.* of a 0000 file", os.getxattr, c.p("f"), "user.k", user="bob")
    c.do("alice reads user.* of her 0000 file", os.getxattr, c.p("f"), "user.k", user="alice")
    c.do("alice sets user.* on her 0000 file", os.setxattr, c.p("f"), "user.o", b"x",
         user="alice")


# ---- POSIX ACLs --------------------------------------------------------------------------

def case_perm_acl(c):
    DIRS.add(c.d)
    f = c.p("f")
    write(f, b"acl")
    own(f, "alice", 0o640)
    setfacl(c, "named user bob r--", "-m", "u:1002:r", f)
    c.out("getfacl", facl(f))
    c.out("mode", mode_of(f))
    for u in ("alice", "carol", "bob"):
        ops_line(c, "u:bob:r on 0640", u, (
            ("read", read, f), ("write", write, f, b"w", 0o644, os.O_WRONLY),
            ("access-RW", faccessat, f, os.R_OK | os.W_OK)))
    setfacl(c, "bob rw-, mask r--", "-m", "u:1002:rw,m::r", f)
    c.out("getfacl", facl(f))
    c.out("mode", mode_of(f))
    ops_line(c, "the mask limits bob", "bob", (
        ("read", read, f), ("write", write, f, b"w", 0o644, os.O_WRONLY)))
    ops_line(c, "the mask limits the owning group too", "carol", (
        ("read", read, f), ("write", write, f, b"w", 0o644, os.O_WRONLY)))
    c.do("chmod 0660 widens the mask", os.chmod, f, 0o660)
    c.out("getfacl", facl(f))
    ops_line(c, "now bob writes", "bob", (("write", write, f, b"w", 0o644, os.O_WRONLY),))
    c.do("chmod 0600 closes the mask", os.chmod, f, 0o600, user="alice")
    c.out("getfacl", facl(f))
    ops_line(c, "mask ---", "bob", (("read", read, f),))
    c.do("alice chmods 0640 back", os.chmod, f, 0o640, user="alice")
    setfacl(c, "named group 1002 rw, mask rw", "-m", "g:1002:rw,m::rw", f)
    c.out("getfacl", facl(f))
    c.out("mode", mode_of(f))
    ops_line(c, "named group entry", "bob", (
        ("read", read, f), ("write", write, f, b"w", 0o644, os.O_WRONLY)))
    setfacl(c, "a named entry for the owner, u:: ---", "-m", "u::---,u:1001:rw", f)
    c.out("getfacl", facl(f))
    ops_line(c, "the owner entry wins over a named one", "alice", (
        ("read", read, f), ("access-R", faccessat, f, os.R_OK)))
    setfacl(c, "named user bob ---, other r", "-m", "u:1002:---,o::r", f)
    ops_line(c, "a named entry wins over other", "bob", (("read", read, f),))
    c.out("mode", mode_of(f))
    # carol: owning group 1001 ---, named group 1003 r
    setfacl(c, "g:: ---, g:1003:r, carol is in both", "--set",
            "u::rw,g::---,g:1003:r,m::r,o::---", f)
    c.out("getfacl", facl(f))
    ops_line(c, "any matching group entry grants", "carol", (
        ("read", read, f), ("write", write, f, b"w", 0o644, os.O_WRONLY)))
    ops_line(c, "alice is the owner, not the group", "alice", (("read", read, f),))
    ops_line(c, "root", "root", (("read", read, f), ("X", faccessat, f, os.X_OK)))
    setfacl(c, "x for a named user only", "-m", "u:1002:x,m::rx", f)
    ops_line(c, "X_OK", "root", (("X", faccessat, f, os.X_OK),))
    ops_line(c, "X_OK", "bob", (("X", faccessat, f, os.X_OK),))
    # setting ACLs: the owner and root only
    raw = os.getxattr(f, "system.posix_acl_access")
    g = c.p("g")
    write(g)
    own(g, "alice", 0o666)
    c.do("bob sets an ACL on alice's 0666 file", os.setxattr, g, "system.posix_acl_access",
         raw, user="bob")
    c.do("alice sets it on her file", os.setxattr, g, "system.posix_acl_access", raw,
         user="alice")
    c.out("mode from the ACL", mode_of(g))
    c.out("getfacl", facl(g))
    c.do("bob reads the ACL", lambda: os.getxattr(g, "system.posix_acl_access") == raw,
         user="bob")
    c.do("alice removes it", os.removexattr, g, "system.posix_acl_access", user="alice")
    c.out("mode after", mode_of(g))
    c.out("getfacl", facl(g))
    setfacl(c, "setfacl -b", "-b", f)
    c.out("getfacl", facl(f))
    c.out("mode", mode_of(f))

    # directories
    d = c.p("d")
    os.mkdir(d)
    write(d + "/in")
    own(d, "alice", 0o700)
    setfacl(c, "a 0700 directory, u:bob:rx", "-m", "u:1002:rx", d)
    ops_line(c, "u:bob:rx on a directory", "bob", (
        ("list", os.listdir, d), ("stat", os.stat, d + "/in"),
        ("create", write, d + "/bob")))
    setfacl(c, "u:bob:rwx", "-m", "u:1002:rwx", d)
    ops_line(c, "u:bob:rwx on a directory", "bob", (
        ("create", write, d + "/bob"), ("unlink", os.unlink, d + "/in")))
    setfacl(c, "u:bob:wx, mask x", "-m", "u:1002:wx,m::x", d)
    ops_line(c, "the mask on a directory", "bob", (
        ("stat", os.stat, d + "/bob"), ("create", write, d + "/bob2")))
    setfacl(c, "g:1003:rwx", "-m", "g:1003:rwx,m::rwx", d)
    ops_line(c, "carol through a named group", "carol", (("create", write, d + "/carol"),))
    c.st("carol's file", d + "/carol")
    c.out("getfacl", facl(d))

    # default ACLs: inheritance and the umask
    i = c.p("i")
    os.mkdir(i)
    own(i, "alice", 0o755)
    setfacl(c, "a default ACL", "-d", "-m", "u:1002:rwx,g::rx,o::---", i)
    c.out("getfacl", facl(i))
    for um in (0o022, 0o077):
        old = os.umask(um)
        try:
            write(i + "/f%03o" % um, b"", 0o666)
            os.mkdir(i + "/d%03o" % um, 0o777)
            write(i + "/x%03o" % um, b"", 0o600)
            os.mkfifo(i + "/p%03o" % um, 0o640)
        finally:
            os.umask(old)
        for n in ("f", "d", "x", "p"):
            p = i + "/%s%03o" % (n, um)
            c.out("under umask %03o: %s" % (um, n), mode_of(p) + " || " + facl(p))
    c.do("alice creates 0666 there (umask 022)", write, i + "/alices", b"", 0o666,
         user="alice")
    c.out("alice's file", mode_of(i + "/alices") + " || " + facl(i + "/alices"))
    ops_line(c, "the inherited entry grants", "bob", (
        ("write", write, i + "/f022", b"b", 0o644, os.O_WRONLY),
        ("create-in-subdir", write, i + "/d022/bob")))
    c.out("subdir's file inherits again", mode_of(i + "/d022/bob") + " || " +
          facl(i + "/d022/bob"))
    c.do("mkdir two deep", os.makedirs, i + "/d077/x/y")
    c.out("two deep", mode_of(i + "/d077/x/y") + " || " + facl(i + "/d077/x/y"))
    c.do("chmod of an inheriting file updates its mask", os.chmod, i + "/f022", 0o604)
    c.out("after chmod 0604", facl(i + "/f022"))
    ops_line(c, "bob after chmod 0604", "bob", (
        ("read", read, i + "/f022"), ("write", write, i + "/f022", b"b", 0o644, os.O_WRONLY)))
    m = c.p("m")
    os.mkdir(m)
    setfacl(c, "a minimal default ACL", "-d", "--set", "u::rwx,g::---,o::---", m)
    c.out("getfacl", facl(m))
    old = os.umask(0o022)
    try:
        write(m + "/f", b"", 0o666)
        os.mkdir(m + "/d", 0o777)
    finally:
        os.umask(old)
    c.out("minimal default: file", mode_of(m + "/f") + " || " + facl(m + "/f"))
    c.out("minimal default: dir", mode_of(m + "/d") + " || " + facl(m + "/d"))
    setfacl(c, "setfacl -k", "-k", i)
    c.out("getfacl", facl(i))
    write(i + "/after", b"", 0o666)
    c.out("a file after -k (umask 022)", mode_of(i + "/after") + " || " + facl(i + "/after"))
    setfacl(c, "a default ACL on a file", "-d", "-m", "u:1002:r", f)
    raw_d = os.getxattr(c.p("d"), "system.posix_acl_access")
    c.do("setxattr posix_acl_default on a file", os.setxattr, f, "system.posix_acl_default",
         raw_d)
    c.do("bob sets a default ACL on alice's directory", os.setxattr, i,
         "system.posix_acl_default", raw_d, user="bob")
    c.do("alice sets it", os.setxattr, i, "system.posix_acl_default", raw_d, user="alice")
    c.out("getfacl", facl(i))
    setfacl(c, "an invalid ACL", "--set", "u::rw,u:1002:r", f)
    c.do("a garbage value", os.setxattr, f, "system.posix_acl_access", b"garbage")
    c.out("getfacl", facl(f))
