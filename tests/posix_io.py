"""POSIX conformance cases for tests/posix.py: descriptors and their data.

Open flags (O_CREAT|O_EXCL, O_TRUNC, O_APPEND, O_NOFOLLOW, O_DIRECTORY,
O_PATH, O_TMPFILE, O_NOATIME, access mode 3), reads and writes at the
edges (EOF, holes, offsets near the largest file), truncate, fallocate
modes, SEEK_DATA/SEEK_HOLE, mmap, copy_file_range and sendfile, statx,
utimensat with UTIME_NOW/UTIME_OMIT, dup'd descriptors, fsync, flock and
fcntl (POSIX and OFD) locks between a process and its forked child.

The rules are posix.py's: nothing depends on inode numbers, st_blocks,
directory sizes, the clock or the order of a listing; holes are 1 MiB
aligned (ext4 keeps them at 4 KiB granularity).
"""
import ctypes
import errno
import fcntl
import mmap
import os
import signal
import stat
import struct

from posix_base import OLD, forked, listdir_types, norm, read, typeof, write

# a libc of our own: the argtypes set here must not be another module's
# (posix_base's libc is shared by every posix_*.py)
libc = ctypes.CDLL(None, use_errno=True)

M = 1 << 20
UTIME_NOW = (1 << 30) - 1
UTIME_OMIT = (1 << 30) - 2
AT_FDCWD = -100
AT_SYMLINK_NOFOLLOW = 0x100
AT_SYMLINK_FOLLOW = 0x400
AT_EMPTY_PATH = 0x1000
AT_STATX_FORCE_SYNC = 0x2000
AT_STATX_DONT_SYNC = 0x4000
STATX_BASIC_STATS = 0x7ff
FALLOC_FL_KEEP_SIZE = 0x01
FALLOC_FL_PUNCH_HOLE = 0x02
FALLOC_FL_COLLAPSE_RANGE = 0x08
FALLOC_FL_ZERO_RANGE = 0x10
FALLOC_FL_INSERT_RANGE = 0x20
F_OFD_GETLK, F_OFD_SETLK = 36, 37
FLOCK_FMT = "hhqqi4x"  # struct flock on x86_64 and aarch64: 32 bytes

libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_longlong, ctypes.c_longlong]
libc.copy_file_range.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p,
                                 ctypes.c_size_t, ctypes.c_uint]
libc.copy_file_range.restype = ctypes.c_ssize_t
libc.linkat.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                        ctypes.c_int]
libc.readlinkat.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_size_t]
libc.readlinkat.restype = ctypes.c_ssize_t
libc.statx.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_uint,
                       ctypes.c_void_p]
libc.syncfs.argtypes = [ctypes.c_int]
libc.sync_file_range.argtypes = [ctypes.c_int, ctypes.c_longlong, ctypes.c_longlong,
                                 ctypes.c_uint]


class Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


libc.utimensat.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_int]
libc.futimens.argtypes = [ctypes.c_int, ctypes.c_void_p]


def check(r):
    if r < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return r


def ename(e):
    return errno.errorcode.get(e.errno, "errno%d" % e.errno)


def b(p):
    return p.encode() if isinstance(p, str) else p


def with_fd(path, flags, fn, mode=0o644):
    """fn(fd) on path opened with flags, closed after."""
    fd = os.open(path, flags, mode)
    try:
        return fn(fd)
    finally:
        os.close(fd)


def child(fn, *a, meanwhile=None):
    """fn(*a) in a forked child (as root): its value, or its OSError
    raised here. meanwhile(), if given, runs here 0.3 s after the fork."""
    def body():
        try:
            signal.alarm(20)  # a lock wait that never ends is a result too
            return ("value", fn(*a))
        except OSError as e:
            return ("errno", e.errno)
        except BaseException as e:  # noqa: B902 - anything, reported as a result
            return ("value", "EXCEPTION %s" % type(e).__name__)
    res = forked(body, meanwhile)
    if res == "CHILD DIED":
        return res
    kind, v = res
    if kind == "errno":
        raise OSError(v, os.strerror(v))
    return v


class Fds:
    """Descriptors an observation may have failed to open: a later use of
    one that is missing is EBADF, so both runs print the same labels."""

    def __init__(self):
        self.fds = {}

    def open(self, name, *a, **kw):
        self.fds[name] = os.open(*a, **kw)

    def __getitem__(self, name):
        if name not in self.fds:
            raise OSError(errno.EBADF, "not opened")
        return self.fds[name]

    def close(self):
        for fd in self.fds.values():
            try:
                os.close(fd)
            except OSError:
                pass
        self.fds = {}


def seq(*v):
    """Several results in one observation, in order."""
    return " | ".join(norm(x) for x in v)


def size(p):
    return os.stat(p).st_size


def fsize(fd):
    return os.fstat(fd).st_size


def summary(data):
    """Runs of equal bytes: b'a'*3 + b'\\0'*2 -> "a*3 0*2"."""
    out, i = [], 0
    while i < len(data):
        j = i
        while j < len(data) and data[j] == data[i]:
            j += 1
        ch = data[i:i + 1]
        out.append("%s*%d" % ("0" if ch == b"\0" else ch.decode("latin-1"), j - i))
        i = j
    return " ".join(out) or "empty"


def fallocate(fd, mode, off, ln):
    check(libc.fallocate(fd, mode, off, ln))


def ts(v):
    if v == "now":
        return Timespec(0, UTIME_NOW)
    if v == "omit":
        return Timespec(0, UTIME_OMIT)
    return Timespec(v // 10**9, v % 10**9)


def utimensat(path, a, m, flags=0, dirfd=AT_FDCWD):
    arr = (Timespec * 2)(ts(a), ts(m))
    check(libc.utimensat(dirfd, b(path), arr, flags))


def utimensat_raw(path, a, m):
    arr = (Timespec * 2)(Timespec(*a), Timespec(*m))
    check(libc.utimensat(AT_FDCWD, b(path), arr, 0))


def futimens(fd, a, m):
    arr = (Timespec * 2)(ts(a), ts(m))
    check(libc.futimens(fd, arr))


def statx(dirfd, path, flags=0, mask=STATX_BASIC_STATS):
    buf = ctypes.create_string_buffer(256)
    check(libc.statx(dirfd, b(path), flags, mask, buf))
    smask, = struct.unpack_from("I", buf, 0)
    nlink, uid, gid, mode = struct.unpack_from("IIIH", buf, 16)
    sz, = struct.unpack_from("Q", buf, 40)
    s = "basic=%s %s %04o n%d u%d g%d" % ((smask & STATX_BASIC_STATS) == STATX_BASIC_STATS,
                                           typeof(mode), stat.S_IMODE(mode), nlink, uid, gid)
    if typeof(mode) in "fl":
        s += " s%d" % sz
    return s


def lk(fd, cmd, typ, start, ln, whence=os.SEEK_SET):
    return fcntl.fcntl(fd, cmd, struct.pack(FLOCK_FMT, typ, whence, start, ln, 0))


def getlk(fd, typ, start, ln, holder=None, cmd=fcntl.F_GETLK):
    """F_GETLK's answer: the conflicting lock's type, whence, start, len
    and whose it is (the holder's pid, another pid, -1 as OFD has it)."""
    t, wh, st, ln2, pid = struct.unpack(FLOCK_FMT, lk(fd, cmd, typ, start, ln))
    name = {fcntl.F_RDLCK: "F_RDLCK", fcntl.F_WRLCK: "F_WRLCK", fcntl.F_UNLCK: "F_UNLCK"}.get(
        t, "type%d" % t)
    if t == fcntl.F_UNLCK:
        return name
    who = ("holder" if holder is not None and pid == holder else
           "-1" if pid == -1 else "0" if pid == 0 else "another pid")
    return "%s whence%d start%d len%d pid=%s" % (name, wh, st, ln2, who)


# ---- open flags -----------------------------------------------------------------------------

def case_io_open_flags(c):
    f = c.p("f")
    write(f, b"0123456789")
    os.mkdir(c.p("d"))
    os.mkfifo(c.p("p"))
    os.symlink("missing", c.p("dang"))
    os.symlink("f", c.p("s"))
    os.symlink("d", c.p("sd"))
    write(c.p("d", "in"), b"in")
    RW, WO, RO = os.O_RDWR, os.O_WRONLY, os.O_RDONLY
    CX = os.O_CREAT | os.O_EXCL

    # O_CREAT, O_EXCL
    c.do("O_CREAT|O_EXCL of a new name", lambda: with_fd(c.p("new"), CX | WO, fsize, 0o640))
    c.st("the new file", c.p("new"))
    c.do("O_CREAT|O_EXCL on a directory", os.open, c.p("d"), CX | WO)
    c.do("O_CREAT|O_EXCL through a dangling symlink", os.open, c.p("dang"), CX | WO)
    c.do("the dangling target was not made", os.path.lexists, c.p("missing"))
    c.do("O_EXCL without O_CREAT on an existing file", lambda: with_fd(f, os.O_EXCL | RO, fsize))
    c.do("O_CREAT on an existing file keeps mode and data",
         lambda: with_fd(f, os.O_CREAT | WO, lambda fd: os.fstat(fd), 0o600))
    c.do("O_CREAT|O_EXCL as a user, mode 0, then write",
         lambda: with_fd(c.p("m0"), CX | WO, lambda fd: os.write(fd, b"w0"), 0), user="alice")
    c.st("the mode-0 file", c.p("m0"))
    c.do("O_CREAT mode 0444 O_RDWR as a user, write and read back",
         lambda: with_fd(c.p("ro"), os.O_CREAT | RW, lambda fd: (
             os.write(fd, b"abc"), os.pread(fd, 3, 0))[1], 0o444), user="alice")
    c.st("the 0444 file", c.p("ro"))
    c.do("reopen it for write as its owner", os.open, c.p("ro"), WO, user="alice")
    c.do("O_CREAT in a directory the user cannot write", os.open, c.p("d", "u"),
         os.O_CREAT | WO, user="bob")
    c.do("O_CREAT of an existing file in such a directory, opening it for read",
         lambda: with_fd(c.p("d", "in"), os.O_CREAT | RO, fsize), user="bob")

    # O_TRUNC
    c.do("O_TRUNC|O_WRONLY", lambda: with_fd(f, WO | os.O_TRUNC, fsize))
    write(f, b"0123456789")
    c.do("O_TRUNC|O_RDONLY by the owner (Linux truncates)",
         lambda: seq(with_fd(f, RO | os.O_TRUNC, fsize), size(f)))
    write(f, b"0123456789")
    c.do("O_TRUNC through a symlink", lambda: (with_fd(c.p("s"), WO | os.O_TRUNC, fsize),
                                               size(f))[1])
    c.do("O_TRUNC on an empty file", lambda: with_fd(f, RW | os.O_TRUNC, fsize))
    c.do("O_TRUNC on a fifo (ignored)", lambda: with_fd(c.p("p"), RW | os.O_TRUNC,
                                                        lambda fd: typeof(os.fstat(fd).st_mode)))
    write(f, b"0123456789")
    os.chmod(f, 0o646)
    c.do("O_TRUNC as another user with write permission",
         lambda: with_fd(f, WO | os.O_TRUNC, fsize), user="bob")
    c.st("after a user's O_TRUNC", f)
    c.do("O_TRUNC|O_CREAT|O_EXCL of an existing file", os.open, f, CX | WO | os.O_TRUNC)

    # O_APPEND
    a = c.p("a")
    write(a, b"abc")
    fd = os.open(a, RW | os.O_APPEND)
    try:
        c.do("O_APPEND offset after open", os.lseek, fd, 0, os.SEEK_CUR)
        c.do("O_APPEND write", os.write, fd, b"DE")
        c.do("offset after the append", os.lseek, fd, 0, os.SEEK_CUR)
        c.do("lseek to 1, write, offset", lambda: "%d %d %d" % (
            os.lseek(fd, 1, os.SEEK_SET), os.write(fd, b"F"), os.lseek(fd, 0, os.SEEK_CUR)))
        c.do("pwrite at 0 with O_APPEND (Linux appends)", os.pwrite, fd, b"G", 0)
        c.do("offset after that pwrite", os.lseek, fd, 0, os.SEEK_CUR)
        c.do("the content", read, a)
        c.do("read from the start through it", lambda: (os.lseek(fd, 0, os.SEEK_SET),
                                                        os.read(fd, 100))[1])
        c.do("ftruncate through it to 2, then write", lambda: (
            os.ftruncate(fd, 2), os.write(fd, b"H"), read(a))[2])
        c.do("F_GETFL shows O_APPEND", lambda: bool(fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_APPEND))
        c.do("F_SETFL clears O_APPEND, write at the offset", lambda: (
            fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_APPEND),
            os.lseek(fd, 0, os.SEEK_SET), os.write(fd, b"I"), read(a))[3])
    finally:
        os.close(fd)
    write(a, b"abc")
    fd = os.open(a, RW)
    try:
        c.do("F_SETFL sets O_APPEND, write goes to the end", lambda: (
            os.lseek(fd, 0, os.SEEK_SET),
            fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_APPEND),
            os.write(fd, b"J"), read(a))[3])
    finally:
        os.close(fd)
    write(a, b"abc")
    c.do("two O_APPEND descriptors interleave at the end", lambda: with_fd(
        a, WO | os.O_APPEND, lambda f1: with_fd(a, WO | os.O_APPEND, lambda f2: (
            os.write(f1, b"1"), os.write(f2, b"2"), os.write(f1, b"3"), read(a))[3])))
    c.do("O_APPEND|O_TRUNC", lambda: with_fd(a, WO | os.O_APPEND | os.O_TRUNC, lambda fd: (
        os.write(fd, b"xy"), os.pwrite(fd, b"z", 0), read(a))[2]))

    # O_NOFOLLOW, O_DIRECTORY
    c.do("O_NOFOLLOW with a symlink in the middle", lambda: with_fd(
        c.p("sd", "in"), RO | os.O_NOFOLLOW, fsize))
    c.do("O_NOFOLLOW|O_CREAT on a dangling symlink", os.open, c.p("dang"),
         os.O_CREAT | WO | os.O_NOFOLLOW)
    c.do("O_NOFOLLOW|O_PATH on a symlink, fstat", lambda: with_fd(
        c.p("s"), os.O_PATH | os.O_NOFOLLOW, lambda fd: os.fstat(fd)))
    c.do("readlinkat of it with an empty name", lambda: with_fd(
        c.p("s"), os.O_PATH | os.O_NOFOLLOW, readlink_fd))
    c.do("O_DIRECTORY on a symlink to a directory", lambda: with_fd(
        c.p("sd"), RO | os.O_DIRECTORY, lambda fd: typeof(os.fstat(fd).st_mode)))
    c.do("O_DIRECTORY|O_CREAT of a new name", os.open, c.p("newdir"),
         os.O_CREAT | RO | os.O_DIRECTORY)
    c.do("nothing was made", os.path.lexists, c.p("newdir"))

    # access mode 3 (read and write permission, neither read nor write)
    write(f, b"0123456789")
    os.chmod(f, 0o644)
    c.do("access mode 3 on a file", lambda: with_fd(f, 3, fsize))
    c.do("read through access mode 3", lambda: with_fd(f, 3, lambda fd: os.read(fd, 1)))
    c.do("write through access mode 3", lambda: with_fd(f, 3, lambda fd: os.write(fd, b"x")))
    c.do("access mode 3 without write permission", os.open, f, 3, user="bob")

    # O_NOATIME
    na = c.p("na")
    write(na, b"noatime")
    os.chown(na, 1001, 1001)
    c.do("O_NOATIME by the owner", lambda: with_fd(na, RO | os.O_NOATIME, fsize), user="alice")
    c.do("O_NOATIME by a non-owner", os.open, na, RO | os.O_NOATIME, user="bob")
    c.do("O_NOATIME by root on another's file", lambda: with_fd(na, RO | os.O_NOATIME, fsize))
    c.do("F_SETFL O_NOATIME by a non-owner", lambda: with_fd(na, RO, lambda fd: fcntl.fcntl(
        fd, fcntl.F_SETFL, os.O_NOATIME)), user="bob")
    s = c.age(na)
    with_fd(na, RO | os.O_NOATIME, lambda fd: os.read(fd, 100))
    c.moved("read through O_NOATIME", s)
    s = c.age(na)
    with_fd(na, RO, lambda fd: os.read(fd, 100))
    c.moved("read without it", s)


def readlink_fd(fd):
    buf = ctypes.create_string_buffer(100)
    n = check(libc.readlinkat(fd, b"", buf, 100))
    return buf.raw[:n]


def case_io_opath(c):
    f = c.p("f")
    write(f, b"0123456789")
    os.mkdir(c.p("d"))
    write(c.p("d", "in"), b"in")
    os.mkfifo(c.p("p"))
    fds = Fds()
    try:
        fds.open("f", f, os.O_PATH)
        fds.open("d", c.p("d"), os.O_PATH | os.O_DIRECTORY)
        fd = fds["f"]
        c.do("fstat of an O_PATH descriptor", os.fstat, fd)
        c.do("fchmod of an O_PATH descriptor", os.fchmod, fd, 0o600)
        c.do("fchown of an O_PATH descriptor", os.fchown, fd, 1001, 1001)
        c.do("read of an O_PATH descriptor", os.read, fd, 1)
        c.do("fgetxattr of an O_PATH descriptor", os.getxattr, fd, "user.x")
        c.do("flock of an O_PATH descriptor", fcntl.flock, fd, fcntl.LOCK_SH)
        c.do("fstatfs of an O_PATH descriptor", lambda: os.fstatvfs(fd) and None)
        c.do("chmod through /proc/self/fd", os.chmod, "/proc/self/fd/%d" % fd, 0o600)
        c.st("the file after it", f)
        c.do("reopen through /proc/self/fd for read", lambda: read("/proc/self/fd/%d" % fd))
        c.do("linkat AT_EMPTY_PATH from it", lambda: check(libc.linkat(
            fd, b"", AT_FDCWD, b(c.p("linked")), AT_EMPTY_PATH)))
        c.st("the file has two links", f)
        c.do("statx AT_EMPTY_PATH of it", statx, fd, "", AT_EMPTY_PATH)
        c.do("openat relative to an O_PATH directory", lambda: read_at(fds["d"], "in"))
        c.do("fchdir to an O_PATH directory", lambda: child(lambda: (
            os.fchdir(fds["d"]), sorted(os.listdir(".")))[1]))
        os.chmod(f, 0o600)
        c.do("O_PATH open without read permission", lambda: with_fd(
            f, os.O_PATH, lambda x: os.fstat(x)), user="bob")
        c.do("O_PATH of a fifo does not block", lambda: with_fd(
            c.p("p"), os.O_PATH, lambda x: typeof(os.fstat(x).st_mode)))
        c.do("O_PATH|O_CREAT of a new name", lambda: with_fd(
            c.p("new"), os.O_PATH | os.O_CREAT | os.O_WRONLY, lambda x: os.fstat(x)))
    finally:
        fds.close()


def read_at(dirfd, name):
    fd = os.open(name, os.O_RDONLY, dir_fd=dirfd)
    try:
        return os.read(fd, 100)
    finally:
        os.close(fd)


def link_fd(fd, dst):
    """linkat(AT_FDCWD, "/proc/self/fd/N", AT_FDCWD, dst, AT_SYMLINK_FOLLOW)."""
    check(libc.linkat(AT_FDCWD, b"/proc/self/fd/%d" % fd, AT_FDCWD, b(dst), AT_SYMLINK_FOLLOW))


def case_io_tmpfile(c):
    f = c.p("f")
    write(f, b"x")
    os.mkdir(c.p("ro"))
    os.chmod(c.p("ro"), 0o755)
    fds = Fds()
    try:
        c.do("O_TMPFILE|O_RDWR in the directory", fds.open, "t", c.d,
             os.O_TMPFILE | os.O_RDWR, 0o640)
        c.do("fstat the unnamed file", lambda: os.fstat(fds["t"]))
        c.do("write to it", lambda: os.write(fds["t"], b"tmpdata"))
        c.do("it is not listed", listdir_types, c.d)
        c.do("linkat through /proc/self/fd", lambda: link_fd(fds["t"], c.p("named")))
        c.st("the linked file", c.p("named"))
        c.do("its content", read, c.p("named"))
        c.do("fstat after the link", lambda: os.fstat(fds["t"]))
        c.do("a write after linking shows in the name", lambda: (
            os.pwrite(fds["t"], b"T", 0), read(c.p("named")))[1])
        c.do("link it a second time (AT_EMPTY_PATH)", lambda: check(libc.linkat(
            fds["t"], b"", AT_FDCWD, b(c.p("named2")), AT_EMPTY_PATH)))
        c.st("two links now", c.p("named"))
        c.do("O_TMPFILE|O_EXCL|O_WRONLY", fds.open, "x", c.d,
             os.O_TMPFILE | os.O_EXCL | os.O_WRONLY, 0o600)
        c.do("write to the O_EXCL one", lambda: os.write(fds["x"], b"gone"))
        c.do("linkat of the O_EXCL one", lambda: link_fd(fds["x"], c.p("excl")))
        c.do("another O_TMPFILE, written, is not listed", lambda: (
            fds.open("u", c.d, os.O_TMPFILE | os.O_WRONLY, 0o600),
            os.write(fds["u"], b"u"), listdir_types(c.d))[2])
        c.do("O_TMPFILE|O_RDONLY", os.open, c.d, os.O_TMPFILE | os.O_RDONLY, 0o600)
        c.do("O_TMPFILE on a file", os.open, f, os.O_TMPFILE | os.O_RDWR, 0o600)
        c.do("O_TMPFILE|O_CREAT", os.open, c.d, os.O_TMPFILE | os.O_CREAT | os.O_RDWR, 0o600)
        c.do("O_TMPFILE as a user, fstat", lambda: with_fd(
            c.d, os.O_TMPFILE | os.O_RDWR, lambda x: os.fstat(x), 0o666), user="alice")
        c.do("O_TMPFILE as a user, link in with a name", lambda: with_fd(
            c.d, os.O_TMPFILE | os.O_RDWR, lambda x: (
                os.write(x, b"by alice"),
                link_fd(x, c.p("alices")))[1],
            0o644), user="alice")
        c.st("the user's linked file", c.p("alices"))
        c.do("O_TMPFILE in a directory the user cannot write", os.open, c.p("ro"),
             os.O_TMPFILE | os.O_RDWR, 0o600, user="bob")
        c.do("what is listed", listdir_types, c.d)
    finally:
        fds.close()


# ---- reads, writes, offsets ----------------------------------------------------------------

def case_io_rw(c):
    f = c.p("f")
    write(f, b"0123456789")
    fd = os.open(f, os.O_RDWR)
    try:
        c.do("read all", os.read, fd, 100)
        c.do("read at EOF", os.read, fd, 100)
        c.do("read of 0 bytes", os.read, fd, 0)
        c.do("pread at the size", os.pread, fd, 10, 10)
        c.do("pread beyond EOF", os.pread, fd, 10, 1000)
        c.do("pread across EOF", os.pread, fd, 100, 7)
        c.do("pread at 2**62", os.pread, fd, 10, 1 << 62)
        c.do("the offset after preads", os.lseek, fd, 0, os.SEEK_CUR)
        c.do("write of 0 bytes", os.write, fd, b"")
        c.do("pwrite of 0 bytes beyond EOF", os.pwrite, fd, b"", 100)
        c.do("size after empty writes", fsize, fd)
        s = c.age(f)
        os.write(fd, b"")
        c.moved("write of 0 bytes", s)
        c.do("pwrite does not move the offset", lambda: "%d %d" % (
            os.pwrite(fd, b"AB", 2), os.lseek(fd, 0, os.SEEK_CUR)))
        c.do("write past EOF after lseek 20", lambda: (
            os.lseek(fd, 20, os.SEEK_SET), os.write(fd, b"Z"), os.pread(fd, 100, 0))[2])
        c.do("size", fsize, fd)
        c.do("pwrite at 2**44 (past ext4's largest file)", os.pwrite, fd, b"x", 1 << 44)
        c.do("pwrite at 2**62", os.pwrite, fd, b"x", 1 << 62)
        c.do("pwrite of 1 byte at 2**63-2", os.pwrite, fd, b"x", (1 << 63) - 2)
        c.do("pwrite of 2 bytes at 2**63-2 (the end overflows)", os.pwrite, fd, b"xy",
             (1 << 63) - 2)
        c.do("pwrite of 1 byte at 2**63-1", os.pwrite, fd, b"x", (1 << 63) - 1)
        c.do("size after the failed writes", fsize, fd)
        for n, lab in ((1 << 44, "2**44"), ((1 << 63) - 1, "2**63-1")):
            try:
                os.ftruncate(fd, n)
                res = "ok"
            except OSError as e:
                res = ename(e)
            # the size as the file system has it (FORCE_SYNC: not a cached one)
            grown = statx(AT_FDCWD, f, AT_STATX_FORCE_SYNC).split(" s")[-1]
            os.ftruncate(fd, 21)  # (a huge file must not stay behind)
            c.out("ftruncate to %s" % lab, "%s, then the size %s" % (
                res, {"21": "21", str(1 << 44): "2**44", str((1 << 63) - 1): "2**63-1"}.get(
                    grown, "other")))
        c.do("content after them", os.pread, fd, 100, 0)
        # lseek
        c.do("lseek SEEK_END -1", os.lseek, fd, -1, os.SEEK_END)
        c.do("lseek SEEK_END -21 (to 0)", os.lseek, fd, -21, os.SEEK_END)
        c.do("lseek SEEK_END -22 (before 0)", os.lseek, fd, -22, os.SEEK_END)
        c.do("lseek SEEK_END +5 (past EOF)", os.lseek, fd, 5, os.SEEK_END)
        c.do("lseek SEEK_CUR -100", os.lseek, fd, -100, os.SEEK_CUR)
        c.do("the offset after a failed lseek", os.lseek, fd, 0, os.SEEK_CUR)
        c.do("lseek SEEK_SET -1", os.lseek, fd, -1, os.SEEK_SET)
        c.do("lseek SEEK_SET to 2**40", os.lseek, fd, 1 << 40, os.SEEK_SET)
        c.do("lseek SEEK_SET to 2**44", os.lseek, fd, 1 << 44, os.SEEK_SET)
        c.do("read at the offset past EOF", lambda: (
            os.lseek(fd, 1000, os.SEEK_SET), os.read(fd, 10))[1])
    finally:
        os.close(fd)
    c.do("lseek on a directory, SEEK_SET 0", lambda: with_fd(
        c.d, os.O_RDONLY, lambda x: os.lseek(x, 0, os.SEEK_SET)))
    os.mkfifo(c.p("p"))
    c.do("lseek on a fifo", lambda: with_fd(
        c.p("p"), os.O_RDWR, lambda x: os.lseek(x, 0, os.SEEK_SET)))
    # a reader sees another descriptor's writes at once
    g = c.p("g")
    write(g, b"")
    c.do("a write through one descriptor, read through another", lambda: with_fd(
        g, os.O_WRONLY, lambda w: with_fd(g, os.O_RDONLY, lambda r: (
            os.read(r, 10), os.write(w, b"seen"), seq(os.read(r, 10), os.fstat(r).st_size))[2])))
    c.do("writes of 1 MiB, read back", lambda: (
        write(g, bytes(range(256)) * 4096), seq(read(g, 2 * M)[-3:], size(g)))[1])
    c.do("vectored write and read", lambda: with_fd(g, os.O_RDWR | os.O_TRUNC, lambda x: (
        os.writev(x, [b"ab", b"", b"cde"]), os.lseek(x, 0, 0),
        (lambda b1, b2: seq(os.readv(x, [b1, b2]), bytes(b1), bytes(b2)))(
            bytearray(2), bytearray(10)))[2]))


def case_io_sparse(c):
    f = c.p("f")
    fd = os.open(f, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        os.pwrite(fd, b"a" * M, 0)
        os.pwrite(fd, b"b" * M, 2 * M)
        os.ftruncate(fd, 4 * M)
        os.fsync(fd)
        c.do("size", fsize, fd)
        for whence, wn in ((os.SEEK_DATA, "SEEK_DATA"), (os.SEEK_HOLE, "SEEK_HOLE")):
            for off, on in ((0, "0"), (M + 5, "1M+5"), (2 * M, "2M"), (3 * M - 1, "3M-1"),
                            (3 * M + 1, "3M+1"), (4 * M - 1, "4M-1"), (4 * M, "4M (EOF)"),
                            (-1, "-1")):
                c.do("%s at %s" % (wn, on), os.lseek, fd, off, whence)
        c.do("the offset after them", os.lseek, fd, 0, os.SEEK_CUR)
        c.do("the hole reads as zeros", lambda: summary(os.pread(fd, 20, M - 10)))
        c.do("the trailing hole reads as zeros", lambda: summary(os.pread(fd, 2 * M, 3 * M - 4)))
        c.do("fill part of the hole, SEEK_DATA from 1M", lambda: (
            os.pwrite(fd, b"c" * 4096, M + M // 2), os.fsync(fd),
            os.lseek(fd, M, os.SEEK_DATA))[2])
        c.do("and SEEK_HOLE from there", os.lseek, fd, M + M // 2, os.SEEK_HOLE)
    finally:
        os.close(fd)
    write(c.p("h"), b"")
    os.truncate(c.p("h"), 2 * M)
    for whence, wn in ((os.SEEK_DATA, "SEEK_DATA"), (os.SEEK_HOLE, "SEEK_HOLE")):
        c.do("all-hole file, %s at 0" % wn, lambda w=whence: with_fd(
            c.p("h"), os.O_RDONLY, lambda x: os.lseek(x, 0, w)))
        c.do("all-hole file, %s at 1M" % wn, lambda w=whence: with_fd(
            c.p("h"), os.O_RDONLY, lambda x: os.lseek(x, M, w)))
        c.do("empty file, %s at 0" % wn, lambda w=whence: with_fd(
            c.p("e"), os.O_RDONLY | os.O_CREAT, lambda x: os.lseek(x, 0, w)))
        c.do("small file, %s at 3" % wn, lambda w=whence: with_fd(
            c.p("s"), os.O_RDWR | os.O_CREAT, lambda x: (
                os.write(x, b"small"), os.lseek(x, 3, w))[1]))
    c.do("all-hole file reads as zeros", lambda: summary(read(c.p("h"), 3 * M)))
    os.mkdir(c.p("d"))
    c.do("SEEK_DATA on a directory", lambda: with_fd(
        c.p("d"), os.O_RDONLY, lambda x: os.lseek(x, 0, os.SEEK_DATA)))


def case_io_truncate(c):
    f = c.p("f")
    write(f, b"0123456789")
    c.do("truncate to 4", os.truncate, f, 4)
    c.do("content", read, f)
    c.do("truncate to 8 (grow)", os.truncate, f, 8)
    c.do("content after growing", read, f)
    fd = os.open(f, os.O_RDWR)
    try:
        c.do("pwrite at 6, content", lambda: (os.pwrite(fd, b"AB", 6), read(f))[1])
        c.do("ftruncate to 7", lambda: (os.ftruncate(fd, 7), read(f))[1])
        c.do("ftruncate to 0", lambda: (os.ftruncate(fd, 0), seq(read(f), fsize(fd)))[1])
        c.do("ftruncate to 3M+5, then the content", lambda: (
            os.ftruncate(fd, 3 * M + 5), summary(read(f, 4 * M)))[1])
        c.do("SEEK_DATA in it", os.lseek, fd, 0, os.SEEK_DATA)
        c.do("the offset is not moved by ftruncate", os.lseek, fd, 0, os.SEEK_CUR)
        c.do("a write at the offset after shrinking", lambda: (
            os.lseek(fd, 10, os.SEEK_SET), os.ftruncate(fd, 4), os.write(fd, b"W"),
            read(f))[3])
        c.do("ftruncate negative", os.ftruncate, fd, -1)
        # the tail of a page is zeroed when a file shrinks into it and grows back
        c.do("8192 x, shrink to 5000, grow to 8192", lambda: (
            os.ftruncate(fd, 0), os.pwrite(fd, b"x" * 8192, 0), os.ftruncate(fd, 5000),
            os.ftruncate(fd, 8192), summary(os.pread(fd, 9000, 0)))[4])
        c.do("shrink to 4097, grow by a pwrite at 6000", lambda: (
            os.ftruncate(fd, 4097), os.pwrite(fd, b"y", 6000), summary(os.pread(fd, 9000, 0)))[2])
        s = c.age(f)
        os.ftruncate(fd, 10000)
        c.moved("ftruncate growing", s)
        s = c.age(f)
        os.ftruncate(fd, 10000)
        c.moved("ftruncate to the same size", s)
    finally:
        os.close(fd)
    os.symlink("f", c.p("s"))
    c.do("truncate through a symlink", lambda: (os.truncate(c.p("s"), 3), size(f))[1])
    c.st("the symlink is untouched", c.p("s"), follow=False)
    os.chown(f, 1001, 1001)
    os.chmod(f, 0o644)
    c.do("truncate by a non-owner without write", os.truncate, f, 1, user="bob")
    os.chmod(f, 0o646)
    c.do("truncate by a non-owner with write", os.truncate, f, 1, user="bob")
    c.do("ftruncate after the mode lost write (open for write before)", lambda: with_fd(
        f, os.O_WRONLY, lambda x: (os.chmod(f, 0o444), os.ftruncate(x, 2), fsize(x))[2]),
        user="alice")
    c.st("after it", f)
    os.chmod(f, 0o644)
    write(f, b"abc")
    c.do("truncate then append through O_APPEND", lambda: with_fd(
        f, os.O_WRONLY | os.O_APPEND, lambda x: (os.ftruncate(x, 1), os.write(x, b"Z"),
                                                 read(f))[2]))
    # O_TRUNC by one open while another writer has the file open
    g = c.p("g")
    write(g, b"")
    fd = os.open(g, os.O_WRONLY)
    try:
        os.write(fd, b"w" * 34)
        c.do("O_TRUNC by a second open while a writer has it open", lambda: (
            write(g, b""), statx(AT_FDCWD, g, AT_STATX_FORCE_SYNC))[1])
        c.do("the writer's pwrite at 16, then the content", lambda: (
            os.pwrite(fd, b"p" * 8, 16), summary(read(g)))[1])
        c.do("truncate(2) to 4 by path while the writer has it open", lambda: (
            os.truncate(g, 4), statx(AT_FDCWD, g, AT_STATX_FORCE_SYNC))[1])
    finally:
        os.close(fd)
    c.do("after the writer's close", lambda: seq(size(g), summary(read(g))))
    c.do("truncate an open, unlinked file", lambda: with_fd(f, os.O_RDWR, lambda x: (
        os.unlink(f), os.ftruncate(x, 5), seq(os.pread(x, 10, 0), os.fstat(x)))[2]))


def case_io_fallocate(c):
    f = c.p("f")
    write(f, b"a" * (3 * M))
    fd = os.open(f, os.O_RDWR)
    KS, PH = FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE
    try:
        c.do("mode 0 inside the file", lambda: (fallocate(fd, 0, 0, 100), fsize(fd))[1])
        c.do("mode 0 past EOF", lambda: (fallocate(fd, 0, 3 * M, M), fsize(fd))[1])
        c.do("the new range reads as zeros", lambda: summary(os.pread(fd, 2 * M, 3 * M - 2)))
        os.ftruncate(fd, 3 * M)
        c.do("KEEP_SIZE past EOF", lambda: (fallocate(fd, KS, 3 * M, M), fsize(fd))[1])
        c.do("a read past EOF after it", os.pread, fd, 10, 3 * M)
        c.do("PUNCH_HOLE without KEEP_SIZE", fallocate, fd, PH, 0, 4096)
        c.do("PUNCH_HOLE|KEEP_SIZE of 1M-2M", lambda: (fallocate(fd, PH | KS, M, M),
                                                      fsize(fd))[1])
        c.do("the punched range", lambda: summary(os.pread(fd, M + 20, M - 10)))
        c.do("SEEK_HOLE after the punch", lambda: (os.fsync(fd),
                                                  os.lseek(fd, 0, os.SEEK_HOLE))[1])
        c.do("SEEK_DATA from the punched range", os.lseek, fd, M, os.SEEK_DATA)
        c.do("PUNCH_HOLE|KEEP_SIZE unaligned 100-199", lambda: (
            fallocate(fd, PH | KS, 100, 100), summary(os.pread(fd, 300, 0)))[1])
        c.do("PUNCH_HOLE|KEEP_SIZE past EOF", lambda: (fallocate(fd, PH | KS, 3 * M, M),
                                                      fsize(fd))[1])
        c.do("PUNCH_HOLE|KEEP_SIZE across EOF", lambda: (
            fallocate(fd, PH | KS, 3 * M - 10, 100), seq(fsize(fd),
            summary(os.pread(fd, 30, 3 * M - 20))))[1])
        c.do("ZERO_RANGE 10-19", lambda: (fallocate(fd, FALLOC_FL_ZERO_RANGE, 10, 10),
                                          seq(summary(os.pread(fd, 30, 0)), fsize(fd)))[1])
        c.do("ZERO_RANGE|KEEP_SIZE past EOF", lambda: (
            fallocate(fd, FALLOC_FL_ZERO_RANGE | KS, 3 * M, 4096), fsize(fd))[1])
        c.do("ZERO_RANGE past EOF (grows)", lambda: (
            fallocate(fd, FALLOC_FL_ZERO_RANGE, 3 * M, 4096), fsize(fd))[1])
        os.ftruncate(fd, 3 * M)
        c.do("COLLAPSE_RANGE unaligned", fallocate, fd, FALLOC_FL_COLLAPSE_RANGE, 100, 100)
        c.do("COLLAPSE_RANGE of 1M-2M", lambda: (
            fallocate(fd, FALLOC_FL_COLLAPSE_RANGE, M, M), fsize(fd))[1])
        c.do("INSERT_RANGE of 1M at 1M", lambda: (
            fallocate(fd, FALLOC_FL_INSERT_RANGE, M, M), fsize(fd))[1])
        c.do("the content after collapse and insert", lambda: summary(os.pread(fd, 4 * M, 0)))
        os.ftruncate(fd, 3 * M)
        os.pwrite(fd, b"a" * (3 * M), 0)
        c.do("an unknown mode bit", fallocate, fd, 0x1000, 0, 10)
        c.do("KEEP_SIZE|ZERO_RANGE|PUNCH_HOLE", fallocate, fd,
             KS | PH | FALLOC_FL_ZERO_RANGE, 0, 10)
        c.do("length 0", fallocate, fd, 0, 0, 0)
        c.do("negative length", fallocate, fd, 0, 0, -1)
        c.do("negative offset", fallocate, fd, 0, -1, 10)
        c.do("offset+length overflows", fallocate, fd, 0, (1 << 63) - 10, 100)
        c.do("at 2**44", fallocate, fd, 0, 1 << 44, 4096)
        c.do("KEEP_SIZE at 2**44", fallocate, fd, KS, 1 << 44, 4096)
        c.do("size after the failures", fsize, fd)
        s = c.age(f)
        fallocate(fd, KS, 4 * M, M)
        c.moved("KEEP_SIZE past EOF", s)
        s = c.age(f)
        fallocate(fd, PH | KS, 0, 4096)
        c.moved("PUNCH_HOLE", s)
        s = c.age(f)
        fallocate(fd, 0, 0, 4096)
        c.moved("mode 0 inside the file", s)
    finally:
        os.close(fd)
    c.do("on an O_RDONLY descriptor", lambda: with_fd(f, os.O_RDONLY, lambda x: fallocate(
        x, 0, 0, 10)))
    c.do("on an O_APPEND descriptor", lambda: with_fd(f, os.O_WRONLY | os.O_APPEND, lambda x: (
        fallocate(x, 0, 0, 4 * M), fsize(x))[1]))
    c.do("PUNCH_HOLE on an O_APPEND descriptor", lambda: with_fd(
        f, os.O_WRONLY | os.O_APPEND, lambda x: fallocate(x, PH | KS, 0, 10)))
    c.do("on a directory", lambda: with_fd(c.d, os.O_RDONLY, lambda x: fallocate(x, 0, 0, 10)))
    os.mkfifo(c.p("p"))
    c.do("on a fifo", lambda: with_fd(c.p("p"), os.O_RDWR, lambda x: fallocate(x, 0, 0, 10)))
    os.chown(f, 1001, 1001)
    os.chmod(f, 0o6755)
    c.do("by a non-owner with write, setuid file", lambda: (
        os.chmod(f, 0o6757), with_fd(f, os.O_WRONLY, lambda x: fallocate(x, 0, 0, 10)))[1],
        user="root")
    c.do("the same as bob", lambda: with_fd(f, os.O_WRONLY, lambda x: fallocate(x, 0, 0, 10)),
         user="bob")
    c.st("the mode after bob's fallocate", f)


def case_io_mmap(c):
    f = c.p("f")
    write(f, b"\0" * 8192)
    fd = os.open(f, os.O_RDWR)
    m = None
    try:
        m = mmap.mmap(fd, 8192, flags=mmap.MAP_SHARED, prot=mmap.PROT_READ | mmap.PROT_WRITE)
        m[0:5] = b"hello"
        m[4096:4101] = b"world"
        c.do("msync", m.flush)
        c.do("read() sees the map's first page", os.pread, fd, 5, 0)
        c.do("and the second", os.pread, fd, 5, 4096)
        c.do("another descriptor sees it", lambda: summary(read(f, 10000)))
        c.do("a pwrite shows in the map", lambda: (os.pwrite(fd, b"PW", 10), m[8:14])[1])
        c.do("the size is unchanged", fsize, fd)
        s = c.age(f)
        m[100:101] = b"!"
        m.flush()
        c.moved("a store through the map, msync", s)
        c.do("MAP_PRIVATE store is not written", lambda: (
            lambda p: (p.__setitem__(slice(0, 1), b"Z"), seq(p[0:1], os.pread(fd, 1, 0)),
                       p.close())[1])(mmap.mmap(fd, 8192, flags=mmap.MAP_PRIVATE)))
        c.do("ftruncate to 5000, the map's tail reads zeros", lambda: (
            os.ftruncate(fd, 5000), summary(m[4096:8192]))[1])
        c.do("grow back, read() of the tail", lambda: (
            os.ftruncate(fd, 8192), summary(os.pread(fd, 8192, 4096)))[1])
    finally:
        if m is not None:
            m.close()
        os.close(fd)
    c.do("content after munmap and close", lambda: seq(summary(read(f, 10000)[:20]),
                                                       size(f)))
    write(f, b"y" * 5000, flags=os.O_WRONLY | os.O_TRUNC)
    c.do("MAP_SHARED PROT_WRITE of an O_RDONLY descriptor", lambda: with_fd(
        f, os.O_RDONLY, lambda x: mmap.mmap(x, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE)
        and None))
    c.do("PROT_READ of an O_WRONLY descriptor", lambda: with_fd(
        f, os.O_WRONLY, lambda x: mmap.mmap(x, 4096, prot=mmap.PROT_READ) and None))
    c.do("MAP_PRIVATE PROT_WRITE of an O_RDONLY descriptor", lambda: with_fd(
        f, os.O_RDONLY, lambda x: (lambda mm: (mm.__setitem__(0, 0x51), mm.close()))(
            mmap.mmap(x, 4096, flags=mmap.MAP_PRIVATE,
                      prot=mmap.PROT_READ | mmap.PROT_WRITE)) and None))
    c.do("MAP_SHARED store through an O_RDWR|O_APPEND descriptor", lambda: with_fd(
        f, os.O_RDWR | os.O_APPEND, lambda x: (lambda mm: (
            mm.__setitem__(slice(0, 3), b"APP"), mm.flush(), mm.close()))(
            mmap.mmap(x, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE)) and None))
    c.do("MAP_SHARED PROT_READ of an O_RDWR|O_APPEND descriptor", lambda: with_fd(
        f, os.O_RDWR | os.O_APPEND, lambda x: (lambda mm: (mm[0:3], mm.close())[0])(
            mmap.mmap(x, 4096, prot=mmap.PROT_READ))))
    c.do("MAP_SHARED of an O_RDONLY descriptor opened O_DIRECT, as read() has it",
         lambda: with_fd(f, os.O_RDONLY | os.O_DIRECT, lambda x: (lambda mm: (
             mm[0:8] == read(f, 8), mm.close())[0])(mmap.mmap(x, 4096, prot=mmap.PROT_READ))))
    c.do("the content", lambda: summary(read(f, 10000)))
    c.do("a map's store seen by a forked child's read", lambda: with_fd(
        f, os.O_RDWR, lambda x: (lambda mm: (
            mm.__setitem__(slice(0, 4), b"KIDS"), child(lambda: read(f, 4)), mm.close())[1])(
            mmap.mmap(x, 4096))))


def case_io_copy(c):
    src, dst = c.p("src"), c.p("dst")
    write(src, b"0123456789abcdef")
    write(dst, b"")
    RO, WO, RW = os.O_RDONLY, os.O_WRONLY, os.O_RDWR
    s_fd = os.open(src, RO)
    d_fd = os.open(dst, WO)
    try:
        c.do("copy_file_range all", os.copy_file_range, s_fd, d_fd, 16)
        c.do("the copy", read, dst)
        c.do("both offsets moved", lambda: "%d %d" % (os.lseek(s_fd, 0, os.SEEK_CUR),
                                                      os.lseek(d_fd, 0, os.SEEK_CUR)))
        c.do("copy_file_range at EOF", os.copy_file_range, s_fd, d_fd, 16)
        c.do("copy_file_range with offsets, 2 to 20", os.copy_file_range, s_fd, d_fd, 4, 2, 20)
        c.do("the copy with a hole", read, dst)
        c.do("offsets unmoved by it", lambda: "%d %d" % (os.lseek(s_fd, 0, os.SEEK_CUR),
                                                         os.lseek(d_fd, 0, os.SEEK_CUR)))
        c.do("copy_file_range from past the source's EOF", os.copy_file_range, s_fd, d_fd, 10,
             100, 0)
        c.do("copy_file_range across the source's EOF", os.copy_file_range, s_fd, d_fd, 100,
             12, 30)
        c.do("the destination now", read, dst)
        c.do("copy_file_range of 0 bytes", os.copy_file_range, s_fd, d_fd, 0, 0, 0)
        c.do("copy_file_range with flags 1", lambda: check(libc.copy_file_range(
            s_fd, None, d_fd, None, 4, 1)))
        c.do("copy_file_range to a read-only descriptor", os.copy_file_range, s_fd, s_fd, 4,
             0, 100)
        c.do("copy_file_range from a write-only descriptor", os.copy_file_range, d_fd, d_fd, 4,
             0, 100)
        c.do("copy_file_range to an O_APPEND destination", lambda: with_fd(
            dst, WO | os.O_APPEND, lambda x: os.copy_file_range(s_fd, x, 4, 0)))
        c.do("copy_file_range within one file, overlapping", lambda: with_fd(
            dst, RW, lambda x: os.copy_file_range(x, x, 10, 0, 5)))
        c.do("copy_file_range within one file, apart", lambda: with_fd(
            dst, RW, lambda x: seq(os.copy_file_range(x, x, 4, 0, 40), os.pread(x, 10, 38))))
        c.do("copy_file_range at a negative offset", os.copy_file_range, s_fd, d_fd, 4, -1, 0)
        c.do("copy_file_range to 2**63-2", os.copy_file_range, s_fd, d_fd, 4, 0, (1 << 63) - 2)
        c.do("copy_file_range from a directory", lambda: with_fd(
            c.d, RO, lambda x: os.copy_file_range(x, d_fd, 4, 0, 0)))
        os.mkfifo(c.p("p"))
        c.do("copy_file_range from a fifo", lambda: with_fd(
            c.p("p"), RW | os.O_NONBLOCK, lambda x: os.copy_file_range(x, d_fd, 4, None, 0)))
        os.mkdir(c.p("sub"))
        c.do("copy_file_range into another directory's file", lambda: with_fd(
            c.p("sub", "t"), WO | os.O_CREAT, lambda x: seq(
                os.copy_file_range(s_fd, x, 16, 0), read(c.p("sub", "t")))))
        big = bytes(range(256)) * 4096 * 3
        write(c.p("big"), big)
        c.do("copy_file_range of 3 MiB, compared", lambda: with_fd(
            c.p("big"), RO, lambda x: with_fd(c.p("big2"), WO | os.O_CREAT, lambda y: seq(
                sum_copy(x, y, len(big)), read(c.p("big2"), 4 * M) == big))))
        s = c.age(src, dst)
        os.copy_file_range(s_fd, d_fd, 4, 0, 0)
        c.moved("copy_file_range, source and destination", s)
        # sendfile
        os.ftruncate(d_fd, 0)
        os.lseek(d_fd, 0, os.SEEK_SET)
        c.do("sendfile with an offset", os.sendfile, d_fd, s_fd, 4, 8)
        c.do("sendfile's copy", read, dst)
        c.do("the input offset is not moved", os.lseek, s_fd, 0, os.SEEK_CUR)
        c.do("sendfile without an offset", lambda: (
            os.lseek(s_fd, 10, os.SEEK_SET), seq(os.sendfile(d_fd, s_fd, None, 100),
            os.lseek(s_fd, 0, os.SEEK_CUR), read(dst)[-10:], size(dst)))[1])
        c.do("sendfile past the source's EOF", os.sendfile, d_fd, s_fd, 1000, 10)
        c.do("sendfile to an O_APPEND file", lambda: with_fd(
            dst, WO | os.O_APPEND, lambda x: os.sendfile(x, s_fd, 0, 4)))
        c.do("sendfile to a read-only descriptor", os.sendfile, s_fd, s_fd, 0, 4)
        c.do("sendfile from a write-only descriptor", os.sendfile, d_fd, d_fd, 0, 4)
        s = c.age(src, dst)
        os.sendfile(d_fd, s_fd, 0, 4)
        c.moved("sendfile, source and destination", s)
    finally:
        os.close(s_fd)
        os.close(d_fd)


def sum_copy(x, y, n):
    done = 0
    while done < n:
        k = os.copy_file_range(x, y, n - done)
        if k == 0:
            break
        done += k
    return done


def case_io_statx(c):
    f = c.p("f")
    write(f, b"12345")
    os.symlink("f", c.p("s"))
    os.symlink("missing", c.p("dang"))
    os.mkdir(c.p("d"))
    os.symlink("d", c.p("ds"))
    os.mkfifo(c.p("p"), 0o600)
    c.do("statx of a file", statx, AT_FDCWD, f)
    c.do("statx of a symlink, followed", statx, AT_FDCWD, c.p("s"))
    c.do("statx of a symlink, not followed", statx, AT_FDCWD, c.p("s"), AT_SYMLINK_NOFOLLOW)
    c.do("statx of a dangling symlink, followed", statx, AT_FDCWD, c.p("dang"))
    c.do("statx of a dangling symlink, not followed", statx, AT_FDCWD, c.p("dang"),
         AT_SYMLINK_NOFOLLOW)
    c.do("statx of a directory", lambda: statx(AT_FDCWD, c.p("d")).split(" s")[0])
    c.do("statx of a fifo", statx, AT_FDCWD, c.p("p"))
    c.do("statx with AT_STATX_FORCE_SYNC", statx, AT_FDCWD, f, AT_STATX_FORCE_SYNC)
    c.do("statx with AT_STATX_DONT_SYNC", statx, AT_FDCWD, f, AT_STATX_DONT_SYNC)
    c.do("statx relative to a directory descriptor", lambda: with_fd(
        c.d, os.O_RDONLY, lambda x: statx(x, "f")))
    c.do("statx AT_EMPTY_PATH of an open file", lambda: with_fd(
        f, os.O_RDONLY, lambda x: statx(x, "", AT_EMPTY_PATH)))
    c.do("statx AT_EMPTY_PATH of an O_PATH symlink", lambda: with_fd(
        c.p("s"), os.O_PATH | os.O_NOFOLLOW, lambda x: statx(x, "", AT_EMPTY_PATH)))
    c.do("stat and statx agree on the mode", lambda: os.stat(f).st_mode == int(
        statx(AT_FDCWD, f).split()[2], 8) | stat.S_IFREG)
    c.do("fstat of an unlinked open file", lambda: with_fd(f, os.O_RDONLY, lambda x: (
        os.unlink(f), os.fstat(x))[1]))
    c.do("statx of a user's file, as another user", lambda: (
        write(c.p("u"), b"u"), os.chown(c.p("u"), 1001, 1002), os.chmod(c.p("u"), 0o640),
        statx(AT_FDCWD, c.p("u")))[3])
    os.chmod(c.p("d"), 0o700)
    c.do("statx inside a directory the user cannot search", statx, AT_FDCWD,
         c.p("d", "nothing"), user="bob")


# ---- times ---------------------------------------------------------------------------------

def case_io_utimens(c):
    f = c.p("f")
    write(f, b"t")
    os.chown(f, 1001, 1001)
    os.chmod(f, 0o646)
    for a, m in (("now", "now"), ("now", "omit"), ("omit", "now"), ("omit", "omit"),
                 (7 * 10**9, "omit"), ("omit", 8 * 10**9 + 5), (9 * 10**9, "now"),
                 ("now", 10 * 10**9)):
        label = "utimensat %s %s" % (a if isinstance(a, str) else "set",
                                     m if isinstance(m, str) else "set")
        s = c.age(f)
        c.do(label, utimensat, f, a, m)
        c.moved(label, s)
        st = os.stat(f)
        c.out(label + " values", " ".join(
            "%s=%s" % (n, "old" if v == OLD * 10**9 else v if v < 10**12 else "new")
            for n, v in (("a", st.st_atime_ns), ("m", st.st_mtime_ns))))
    s = c.age(f)
    c.do("utimensat NULL", lambda: check(libc.utimensat(AT_FDCWD, b(f), None, 0)))
    c.moved("utimensat NULL", s)
    for v, lab in ((-123456789, "before 1970"), (-(2**31) * 10**9, "at -2**31 s"),
                   ((2**32) * 10**9 + 1, "at 2**32 s"), ((2**33) * 10**9, "at 2**33 s"),
                   (1, "at 1 ns")):
        c.do("mtime %s" % lab, lambda v=v: (utimensat(f, "omit", v), os.stat(f).st_mtime_ns)[1])
    c.do("a tv_nsec of 10**9", utimensat_raw, f, (0, 10**9), (0, 0))
    c.do("a bad tv_sec with UTIME_NOW (ignored)", utimensat_raw, f, (-5, UTIME_NOW),
         (0, UTIME_OMIT))
    # permissions: bob has write permission, carol (group 1001) has not
    for who in ("bob", "carol"):
        for a, m in (("now", "now"), ("now", "omit"), ("omit", "omit"), (5 * 10**9, "omit")):
            c.do("utimensat %s %s by a non-owner" % (
                a if isinstance(a, str) else "set", m), utimensat, f, a, m, user=who)
    c.do("utimensat NULL by a non-owner with write", lambda: check(
        libc.utimensat(AT_FDCWD, b(f), None, 0)), user="bob")
    c.do("utimensat set set by the owner", utimensat, f, 1, 2, user="alice")
    c.do("futimens on an O_RDONLY descriptor by the owner", lambda: with_fd(
        f, os.O_RDONLY, lambda x: futimens(x, 3 * 10**9, "omit")), user="alice")
    c.do("futimens now now on an O_RDONLY descriptor by a non-owner", lambda: with_fd(
        f, os.O_RDONLY, lambda x: futimens(x, "now", "now")), user="bob")
    c.do("futimens on an O_PATH descriptor", lambda: with_fd(
        f, os.O_PATH, lambda x: futimens(x, "now", "now")))
    c.do("utimensat AT_EMPTY_PATH on an O_PATH descriptor", lambda: with_fd(
        f, os.O_PATH, lambda x: check(libc.utimensat(x, b"", (Timespec * 2)(
            ts(4 * 10**9), ts("omit")), AT_EMPTY_PATH))))
    c.do("its atime", lambda: os.stat(f).st_atime_ns)
    # symlinks and directories
    os.symlink("f", c.p("s"))
    s = c.age(f)
    s2 = c.age(c.p("s"), follow=False)
    c.do("utimensat AT_SYMLINK_NOFOLLOW on a symlink", utimensat, c.p("s"), 11 * 10**9,
         12 * 10**9, AT_SYMLINK_NOFOLLOW)
    c.do("the symlink's times", lambda: "%d %d" % (os.lstat(c.p("s")).st_atime_ns,
                                                   os.lstat(c.p("s")).st_mtime_ns))
    c.moved("the target", s)
    c.moved("the symlink", s2, follow=False)
    os.mkdir(c.p("d"))
    s = c.age(c.p("d"))
    c.do("utimensat now omit on a directory", utimensat, c.p("d"), "now", "omit")
    c.moved("the directory", s)
    c.do("utimensat relative to a directory descriptor", lambda: with_fd(
        c.d, os.O_RDONLY, lambda x: (utimensat("f", 13 * 10**9, 14 * 10**9, dirfd=x),
                                     os.stat(f).st_mtime_ns)[1]))
    c.do("utimensat of a missing file", utimensat, c.p("nope"), "now", "now")


# ---- descriptors ---------------------------------------------------------------------------

def case_io_dup(c):
    f = c.p("f")
    write(f, b"0123456789")
    fd = os.open(f, os.O_RDWR)
    d = fcntl.fcntl(fd, fcntl.F_DUPFD, 0)
    other = os.open(f, os.O_RDWR)
    try:
        c.do("read 3 through the first", os.read, fd, 3)
        c.do("the duplicate's offset", os.lseek, d, 0, os.SEEK_CUR)
        c.do("read through the duplicate continues", os.read, d, 3)
        c.do("a second open has its own offset", os.lseek, other, 0, os.SEEK_CUR)
        c.do("FD_CLOEXEC is per descriptor", lambda: "%d %d" % (
            fcntl.fcntl(fd, fcntl.F_GETFD), fcntl.fcntl(d, fcntl.F_GETFD)))
        c.do("F_SETFL O_APPEND on one shows on the duplicate", lambda: (
            fcntl.fcntl(fd, fcntl.F_SETFL, os.O_APPEND),
            seq(bool(fcntl.fcntl(d, fcntl.F_GETFL) & os.O_APPEND),
                bool(fcntl.fcntl(other, fcntl.F_GETFL) & os.O_APPEND)))[1])
        c.do("a write through the duplicate appends", lambda: (
            os.lseek(d, 0, os.SEEK_SET), os.write(d, b"Z"), seq(read(f),
            os.lseek(fd, 0, os.SEEK_CUR)))[2])
        c.do("a write through the other open, at its offset", lambda: (
            os.write(other, b"O"), read(f))[1])
        c.do("a forked child's read moves the shared offset", lambda: (
            os.lseek(fd, 2, os.SEEK_SET), seq(child(lambda: os.read(d, 2)),
            os.lseek(fd, 0, os.SEEK_CUR)))[1])
        c.do("dup2 onto the other descriptor", lambda: (
            os.dup2(fd, other), os.lseek(other, 0, os.SEEK_CUR))[1])
        os.close(fd)
        fd = -1
        c.do("the duplicate works after the first is closed", os.pread, d, 3, 0)
        c.do("the file unlinked, the duplicate reads", lambda: (
            os.unlink(f), seq(os.pread(d, 100, 0), os.fstat(d)))[1])
        c.do("a write to the unlinked file", lambda: (os.pwrite(d, b"U", 0),
                                                      os.pread(d, 3, 0))[1])
        c.do("nothing is listed", listdir_types, c.d)
    finally:
        for x in (fd, d, other):
            if x >= 0:
                try:
                    os.close(x)
                except OSError:
                    pass
    c.do("a closed descriptor", os.fstat, d)


def case_io_sync(c):
    f = c.p("f")
    write(f, b"sync me")
    os.mkdir(c.p("d"))
    c.do("fsync a file open for write", lambda: with_fd(f, os.O_WRONLY, os.fsync))
    c.do("fdatasync a file open for write", lambda: with_fd(f, os.O_WRONLY, os.fdatasync))
    c.do("fsync a file open read-only", lambda: with_fd(f, os.O_RDONLY, os.fsync))
    c.do("fsync a directory", lambda: with_fd(c.p("d"), os.O_RDONLY, os.fsync))
    c.do("fdatasync a directory", lambda: with_fd(c.p("d"), os.O_RDONLY, os.fdatasync))
    c.do("fsync the directory after a create", lambda: (
        write(c.p("d", "new"), b"n"), with_fd(c.p("d"), os.O_RDONLY, os.fsync))[1])
    c.do("fsync an O_PATH descriptor", lambda: with_fd(f, os.O_PATH, os.fsync))
    c.do("fsync an unlinked open file", lambda: with_fd(c.p("d", "new"), os.O_RDWR, lambda x: (
        os.unlink(c.p("d", "new")), os.write(x, b"more"), os.fsync(x), os.pread(x, 10, 0))[3]))
    c.do("fsync as a user on a read-only open", lambda: with_fd(f, os.O_RDONLY, os.fsync),
         user="bob")
    c.do("syncfs", lambda: with_fd(f, os.O_RDONLY, lambda x: check(libc.syncfs(x))))
    c.do("sync_file_range WRITE", lambda: with_fd(f, os.O_WRONLY, lambda x: check(
        libc.sync_file_range(x, 0, 0, 2))))
    c.do("posix_fadvise DONTNEED", lambda: with_fd(f, os.O_RDONLY, lambda x: os.posix_fadvise(
        x, 0, 0, os.POSIX_FADV_DONTNEED)))
    c.do("read after DONTNEED", read, f)
    s = c.age(f)
    with_fd(f, os.O_WRONLY, os.fsync)
    c.moved("fsync", s)


# ---- locks ---------------------------------------------------------------------------------

def case_io_flock(c):
    f = c.p("f")
    write(f, b"locks")
    EX, SH, NB, UN = fcntl.LOCK_EX, fcntl.LOCK_SH, fcntl.LOCK_NB, fcntl.LOCK_UN

    def other(op, path=f, flags=os.O_RDONLY):
        return with_fd(path, flags, lambda x: fcntl.flock(x, op))
    fd = os.open(f, os.O_RDONLY)
    try:
        c.do("LOCK_EX", fcntl.flock, fd, EX)
        c.do("a child's LOCK_EX|LOCK_NB on its own open", child, other, EX | NB)
        c.do("LOCK_SH|LOCK_NB on another open in the same process", other, SH | NB)
        c.do("a child's LOCK_EX|LOCK_NB on the inherited descriptor",
             child, fcntl.flock, fd, EX | NB)
        c.do("the lock is still held after the child's exit", child, other, SH | NB)
        c.do("convert to LOCK_SH", fcntl.flock, fd, SH | NB)
        c.do("a child's LOCK_SH|LOCK_NB now", child, other, SH | NB)
        c.do("a child's LOCK_EX|LOCK_NB now", child, other, EX | NB)
        c.do("LOCK_UN", fcntl.flock, fd, UN)
        c.do("a child's LOCK_EX|LOCK_NB after LOCK_UN", child, other, EX | NB)
        c.do("LOCK_UN when not locked", fcntl.flock, fd, UN)
        fcntl.flock(fd, SH)
        c.do("another open of the process, LOCK_SH beside a LOCK_SH", other, SH | NB)
        c.do("upgrade while another open holds LOCK_SH",
             lambda: with_fd(f, os.O_RDONLY, lambda x: (fcntl.flock(x, SH),
                                                         fcntl.flock(fd, EX | NB))))
        c.do("a child's LOCK_EX|LOCK_NB after the failed upgrade", child, other, EX | NB)
        fcntl.flock(fd, EX)
        c.do("a child's fcntl write lock beside a flock LOCK_EX", child, lambda: with_fd(
            f, os.O_RDWR, lambda x: lk(x, fcntl.F_SETLK, fcntl.F_WRLCK, 0, 0) and None))
        c.do("a child's blocking LOCK_EX, the holder unlocks after 0.3 s",
             lambda: wait_for_unlock(lambda: fcntl.flock(fd, UN), other, EX))
        c.do("operation LOCK_SH|LOCK_EX", fcntl.flock, fd, SH | EX)
        c.do("LOCK_EX again before the close", fcntl.flock, fd, EX | NB)
        c.do("a child's LOCK_EX|LOCK_NB before the close", child, other, EX | NB)
    finally:
        os.close(fd)
    c.do("closing the last descriptor releases", child, other, EX | NB)
    c.do("LOCK_EX on a directory", lambda: with_fd(c.d, os.O_RDONLY, lambda x: fcntl.flock(
        x, EX | NB)))
    os.chmod(f, 0o600)
    c.do("LOCK_EX by a user on an O_PATH descriptor", lambda: with_fd(
        f, os.O_PATH, lambda x: fcntl.flock(x, EX | NB)), user="bob")
    os.chmod(f, 0o604)
    c.do("LOCK_EX by a user on a read-only open", other, EX | NB, user="bob")
    c.do("flock of an unlinked open file, and a child's on the inherited descriptor",
         lambda: with_fd(f, os.O_RDONLY, lambda x: (
             fcntl.flock(x, EX), os.unlink(f), child(lambda: fcntl.flock(x, EX | NB)),
             fcntl.flock(x, UN))[2]))


def wait_for_unlock(unlock, fn, *a):
    """A child blocks in fn(*a) while we hold; we unlock 0.3 s later."""
    return child(fn, *a, meanwhile=unlock)


def case_io_fcntl_locks(c):
    f = c.p("f")
    write(f, b"x" * 100)
    WR, RD, UN = fcntl.F_WRLCK, fcntl.F_RDLCK, fcntl.F_UNLCK
    SET, GET = fcntl.F_SETLK, fcntl.F_GETLK
    me = os.getpid()

    def own(fn, flags=os.O_RDWR):
        return with_fd(f, flags, fn)

    def ch_set(typ, start, ln, flags=os.O_RDWR):
        return child(own, lambda x: lk(x, SET, typ, start, ln) and None, flags)

    def ch_get(typ, start, ln):
        return child(own, lambda x: getlk(x, typ, start, ln, me))
    fd = os.open(f, os.O_RDWR)
    try:
        c.do("F_SETLK write lock 0-9", lambda: lk(fd, SET, WR, 0, 10) and None)
        c.do("a child's write lock 5-14", ch_set, WR, 5, 10)
        c.do("a child's read lock 9-9", ch_set, RD, 9, 1)
        c.do("a child's write lock 10-19", ch_set, WR, 10, 10)
        c.do("a child's F_GETLK of 0-99", ch_get, WR, 0, 100)
        c.do("a child's F_GETLK of 5-5 for a read lock", ch_get, RD, 5, 1)
        c.do("a child's F_GETLK of 20-29", ch_get, WR, 20, 10)
        c.do("F_GETLK by the holder itself", getlk, fd, WR, 0, 100, me)
        c.do("a child's F_GETLK with l_len 0 from 3", ch_get, WR, 3, 0)
        c.do("a child's F_GETLK with whence SEEK_END", child, own, lambda x: "%d %d %d" % (
            struct.unpack(FLOCK_FMT, lk(x, GET, WR, -100, 10, os.SEEK_END))[1:4]))
        c.do("unlock 3-5", lambda: lk(fd, SET, UN, 3, 3) and None)
        c.do("a child's F_GETLK of 0-99 after the split", ch_get, WR, 0, 100)
        c.do("a child's F_GETLK of 3-99 after the split", ch_get, WR, 3, 97)
        c.do("a child's write lock 3-5", ch_set, WR, 3, 3)
        c.do("downgrade 0-9 to a read lock", lambda: lk(fd, SET, RD, 0, 10) and None)
        c.do("a child's read lock 0-9", ch_set, RD, 0, 10)
        c.do("a child's write lock 0-9", ch_set, WR, 0, 10)
        c.do("a child's F_GETLK of 0-99 for a read lock", ch_get, RD, 0, 100)
        c.do("a child's F_GETLK of 0-99 for a write lock", ch_get, WR, 0, 100)
        c.do("unlock all", lambda: lk(fd, SET, UN, 0, 0) and None)
        c.do("a child's F_GETLK after it", ch_get, WR, 0, 0)
        c.do("a lock with a negative l_len, 50 back 10", lambda: lk(fd, SET, WR, 50, -10)
             and None)
        c.do("a child's F_GETLK sees 40-49", ch_get, WR, 0, 100)
        c.do("a lock starting before 0", lk, fd, SET, WR, -5, 10)
        c.do("a negative l_len reaching before 0", lk, fd, SET, WR, 5, -10)
        c.do("a lock far past EOF, to infinity", lambda: lk(fd, SET, WR, 10**9, 0) and None)
        c.do("a child's F_GETLK past it", ch_get, RD, 10**12, 5)
        c.do("a lock at 2**62", lambda: lk(fd, SET, RD, 1 << 62, 1) and None)
        c.do("a lock whose end overflows", lk, fd, SET, RD, (1 << 63) - 5, 10)
        lk(fd, SET, UN, 0, 0)
    finally:
        os.close(fd)
    c.do("a write lock on an O_RDONLY descriptor", own, lambda x: lk(x, SET, WR, 0, 1),
         os.O_RDONLY)
    c.do("a read lock on an O_WRONLY descriptor", own, lambda x: lk(x, SET, RD, 0, 1),
         os.O_WRONLY)
    c.do("F_GETLK for a write lock on an O_RDONLY descriptor", own,
         lambda x: getlk(x, WR, 0, 1), os.O_RDONLY)
    # closing any descriptor of the file drops the process's locks
    fd = os.open(f, os.O_RDWR)
    try:
        lk(fd, SET, WR, 0, 10)
        c.do("a child's lock while held", ch_set, WR, 0, 1)
        c.do("close another descriptor of the file", lambda: os.close(os.open(f, os.O_RDONLY)))
        c.do("a child's lock after that close", ch_set, WR, 0, 1)
        lk(fd, SET, WR, 0, 10)
        c.do("a child's F_SETLKW, the holder unlocks after 0.3 s", lambda: wait_for_unlock(
            lambda: lk(fd, SET, UN, 0, 0), own, lambda x: lk(x, fcntl.F_SETLKW, WR, 0, 10)
            and None))
        # OFD locks
        c.do("an OFD write lock 0-9", lambda: lk(fd, F_OFD_SETLK, WR, 0, 10) and None)
        c.do("a POSIX lock of the same process on another open", own,
             lambda x: lk(x, SET, WR, 5, 1) and None)
        c.do("an OFD lock on another open of the same process", own,
             lambda x: lk(x, F_OFD_SETLK, WR, 5, 1) and None)
        c.do("F_OFD_GETLK on another open", own,
             lambda x: getlk(x, WR, 0, 100, me, F_OFD_GETLK))
        c.do("a child's F_GETLK sees the OFD lock", ch_get, WR, 0, 100)
        c.do("the OFD lock survives closing another descriptor", lambda: (
            os.close(os.open(f, os.O_RDONLY)), ch_set(WR, 0, 1))[1])
        c.do("an OFD lock with l_pid set", lambda: fcntl.fcntl(fd, F_OFD_SETLK, struct.pack(
            FLOCK_FMT, WR, 0, 0, 10, 1)) and None)
        c.do("the inherited descriptor in a child shares the OFD lock", child,
             lambda: lk(fd, F_OFD_SETLK, WR, 0, 10) and None)
        c.do("OFD unlock", lambda: lk(fd, F_OFD_SETLK, UN, 0, 0) and None)
        c.do("a child's lock after the OFD unlock", ch_set, WR, 0, 1)
    finally:
        os.close(fd)
    c.do("a lock on a directory", lambda: with_fd(c.d, os.O_RDONLY, lambda x: lk(
        x, SET, RD, 0, 0) and None))
    os.chmod(f, 0o644)
    c.do("a read lock by a user on a read-only open", own, lambda x: lk(x, SET, RD, 0, 1)
         and None, os.O_RDONLY, user="bob")
