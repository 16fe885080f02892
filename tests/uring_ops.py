#!/usr/bin/python3
"""uring_ops.py DIR - every kind of FUSE request, once, with what each
returned printed one per line (errno names for failures), DIR's name left
out: the same output from two mounts means the same answers. Used by
it_uring.sh to hold the mount's io_uring path against /dev/fuse.

It makes DIR (which must not exist) and leaves it behind. The 1 MiB
writes go through O_APPEND (direct I/O: a WRITE request of 1 MiB each,
more than the copy limit of uring.c), the reads back through O_DIRECT (READ
replies of 1 MiB); a 64 KiB xattr value is a SETXATTR request past the copy
limit too.
"""
import errno
import hashlib
import mmap
import os
import sys

d = sys.argv[1]
out = []


def r(name, f):
    try:
        v = f()
    except OSError as e:
        v = "errno " + errno.errorcode.get(e.errno, str(e.errno))
    out.append("%s: %s" % (name, v))


def j(*names):
    return os.path.join(d, *names)


def creat(path, mode=0o644):
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, mode))


os.mkdir(d)
r("mkdir again", lambda: os.mkdir(d))
with open(j("small"), "wb") as f:
    f.write(b"hello\n")
r("small size", lambda: os.stat(j("small")).st_size)

BLK = bytes((i * 7 + 3) % 251 for i in range(1 << 20))
fd = os.open(j("big"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
for k in range(3):
    r("append 1 MiB", lambda: os.write(fd, BLK[k:] + BLK[:k]))
r("fsync", lambda: os.fsync(fd))
os.close(fd)
r("big size", lambda: os.stat(j("big")).st_size)
buf = mmap.mmap(-1, 1 << 20)
h = hashlib.sha256()
fd = os.open(j("big"), os.O_RDONLY | os.O_DIRECT)
while True:
    n = os.readv(fd, [buf])
    if n <= 0:
        break
    h.update(buf[:n])
os.close(fd)
r("big read with O_DIRECT, sha256", h.hexdigest)
with open(j("big"), "rb") as f:
    r("big read, sha256", lambda: hashlib.sha256(f.read()).hexdigest())

V = bytes(range(256)) * 256  # 64 KiB, the largest value Linux passes
r("setxattr 64 KiB", lambda: os.setxattr(j("small"), "user.big", V))
r("getxattr 64 KiB, same", lambda: os.getxattr(j("small"), "user.big") == V)
r("setxattr small", lambda: os.setxattr(j("small"), "user.k", b"v"))
r("listxattr", lambda: sorted(x for x in os.listxattr(j("small")) if x.startswith("user.")))
r("removexattr", lambda: os.removexattr(j("small"), "user.big"))
r("getxattr removed", lambda: os.getxattr(j("small"), "user.big"))

r("create, name of 255", lambda: creat(j("n" * 255)))
r("create, name of 256", lambda: creat(j("n" * 256)))
r("O_EXCL on an existing file",
  lambda: os.open(j("small"), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
r("symlink", lambda: os.symlink("small", j("ln")))
r("readlink", lambda: os.readlink(j("ln")))
r("link", lambda: os.link(j("small"), j("hard")))
r("nlink", lambda: os.stat(j("small")).st_nlink)
r("mkfifo", lambda: os.mkfifo(j("fifo"), 0o640))
r("fifo mode", lambda: oct(os.lstat(j("fifo")).st_mode))
r("mknod socket", lambda: os.mknod(j("sock"), 0o600 | 0o140000))
r("socket mode", lambda: oct(os.lstat(j("sock")).st_mode))
r("chmod", lambda: os.chmod(j("small"), 0o751))
r("mode", lambda: oct(os.stat(j("small")).st_mode))
r("chown", lambda: os.chown(j("small"), 1234, 5678))
r("owner", lambda: (os.stat(j("small")).st_uid, os.stat(j("small")).st_gid))
r("utimes", lambda: os.utime(j("small"), ns=(1000000000123456789, 1100000000987654321)))
r("times", lambda: (os.stat(j("small")).st_atime_ns, os.stat(j("small")).st_mtime_ns))
r("truncate", lambda: os.truncate(j("small"), 3))
r("content", lambda: open(j("small"), "rb").read())
r("rename", lambda: os.rename(j("small"), j("small2")))
r("rename onto a non-empty directory", lambda: os.rename(j("ln"), d))
r("access", lambda: os.access(j("small2"), os.R_OK | os.W_OK))

os.mkdir(j("many"))
for i in range(1500):
    creat(j("many", "entry-%05d-%s" % (i, "x" * (i % 50))))
r("readdir of 1500, sha256",
  lambda: hashlib.sha256("\n".join(sorted(os.listdir(j("many")))).encode()).hexdigest())
r("readdirplus types", lambda: sorted({(e.is_file(), e.is_dir()) for e in os.scandir(j("many"))}))
r("rmdir, not empty", lambda: os.rmdir(j("many")))
for n in os.listdir(j("many")):
    os.unlink(j("many", n))
r("rmdir", lambda: os.rmdir(j("many")))
r("statvfs f_namemax", lambda: os.statvfs(d).f_namemax)
r("unlink, missing", lambda: os.unlink(j("nope")))
r("stat, missing", lambda: os.stat(j("nope")))

fd = os.open(j("small2"), os.O_RDWR)
r("fdatasync", lambda: os.fdatasync(fd))
r("pwrite", lambda: os.pwrite(fd, b"XY", 1))
r("pread", lambda: os.pread(fd, 10, 0))
r("fallocate", lambda: os.posix_fallocate(fd, 0, 8192))
r("size after fallocate", lambda: os.fstat(fd).st_size)
r("SEEK_DATA", lambda: os.lseek(fd, 0, os.SEEK_DATA))
r("SEEK_HOLE", lambda: os.lseek(fd, 0, os.SEEK_HOLE))
os.close(fd)
print("\n".join(out))
