#!/usr/bin/python3
"""locks.py — fcntl and flock locks seen from two mounts (tests/it_locks.sh).

    locks.py SCENARIO DIR_A DIR_B

DIR_A and DIR_B are the same directory seen through two mounts (or, to see
what a local file system does, the same local directory twice). Each
scenario prints one line per check, "ok DESC" or "not ok DESC: WHY", and
exits 0 when it ran to the end (the checks decide pass or fail).

A process waiting for a lock is recognised by the system call it sleeps in
(/proc/PID/syscall): tests poll for that, never sleep.
"""
import errno
import fcntl
import os
import signal
import struct
import sys
import time

SYS_FCNTL, SYS_FLOCK = 72, 73  # x86_64
WAIT_SECS = float(os.environ.get("GF_WAIT_SECS", "60"))


def report(good, desc, why=""):
    print(("ok " if good else "not ok ") + desc + ("" if good else ": " + why), flush=True)


def flock_struct(typ, start, length):
    # struct flock on x86_64: short l_type, short l_whence, off_t l_start,
    # off_t l_len, pid_t l_pid (+ padding)
    return struct.pack("hhqqi4x", typ, os.SEEK_SET, start, length, 0)


def setlk(fd, typ, start=0, length=0, wait=False):
    """0 or the errno of F_SETLK / F_SETLKW."""
    try:
        fcntl.fcntl(fd, fcntl.F_SETLKW if wait else fcntl.F_SETLK,
                    flock_struct(typ, start, length))
        return 0
    except OSError as e:
        return e.errno


def getlk(fd, typ, start=0, length=0):
    """(l_type, l_start, l_len, l_pid) of F_GETLK."""
    r = fcntl.fcntl(fd, fcntl.F_GETLK, flock_struct(typ, start, length))
    t, _, s, n, p = struct.unpack("hhqqi4x", r)
    return t, s, n, p


def do_flock(fd, op):
    try:
        fcntl.flock(fd, op)
        return 0
    except OSError as e:
        return e.errno


def ename(e):
    if e == errno.EDEADLK:
        return "EDEADLK"  # errorcode calls it by its other name, EDEADLOCK
    return "success" if e == 0 else errno.errorcode.get(e, str(e))


def poll(cond):
    """True as soon as cond() is; False after WAIT_SECS (a hang guard)."""
    end = time.monotonic() + WAIT_SECS
    while True:
        if cond():
            return True
        if time.monotonic() > end:
            return False
        time.sleep(0.01)


def sleeping_in(pid, nr):
    """pid sleeps in system call nr."""
    try:
        with open("/proc/%d/syscall" % pid) as f:
            return f.read().split()[0] == str(nr)
    except (OSError, IndexError):
        return False


class Child:
    """A forked process running fn(); its result comes back through a pipe.
    It keeps none of the parent's descriptors but those in keep: an
    inherited descriptor would hold the parent's flock locks."""

    def __init__(self, fn, keep=()):
        r, w = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            for fd in [int(x) for x in os.listdir("/proc/self/fd")]:
                if fd > 2 and fd != w and fd not in keep:
                    try:
                        os.close(fd)
                    except OSError:
                        pass
            try:
                res = str(fn())
            except BaseException as e:  # noqa: B902 — reported, not hidden
                res = "exception: %r" % (e,)
            os.write(w, res.encode())
            os._exit(0)
        os.close(w)
        self.r = r

    def result(self):
        out = b""
        while True:
            b = os.read(self.r, 4096)
            if not b:
                break
            out += b
        os.close(self.r)
        os.waitpid(self.pid, 0)
        return out.decode()

    def kill(self):
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def openrw(path):
    return os.open(path, os.O_RDWR | os.O_CREAT, 0o644)


def ranges(a, b):
    """fcntl byte-range locks between two mounts."""
    fa = openrw(a + "/ranges")
    if setlk(fa, fcntl.F_WRLCK, 0, 10) or setlk(fa, fcntl.F_RDLCK, 100, 100):
        report(False, "ranges: locks taken on mount A", "F_SETLK failed")
        return
    me = os.getpid()

    def other():
        fb = openrw(b + "/ranges")
        out = [ename(setlk(fb, fcntl.F_WRLCK, 10, 10)),
               ename(setlk(fb, fcntl.F_WRLCK, 5, 10)),
               ename(setlk(fb, fcntl.F_RDLCK, 0, 1)),
               ename(setlk(fb, fcntl.F_RDLCK, 150, 10)),
               ename(setlk(fb, fcntl.F_WRLCK, 199, 5)),
               "%d,%d,%d,%d" % getlk(fb, fcntl.F_WRLCK, 3, 1),
               "%d,%d,%d,%d" % getlk(fb, fcntl.F_WRLCK, 120, 0),
               "%d" % getlk(fb, fcntl.F_RDLCK, 300, 0)[0],
               "%d" % getlk(fb, fcntl.F_WRLCK, 10, 90)[0]]
        return " ".join(out)

    got = Child(other).result().split(" ")
    want = ["success", "EAGAIN", "EAGAIN", "success", "EAGAIN",
            "%d,0,10,%d" % (fcntl.F_WRLCK, me), "%d,100,100,%d" % (fcntl.F_RDLCK, me),
            "%d" % fcntl.F_UNLCK, "%d" % fcntl.F_WRLCK]
    names = ["write lock on bytes A does not hold", "overlapping write lock refused",
             "read lock under A's write lock refused", "read locks share",
             "write lock over A's read lock refused",
             "F_GETLK names A's write lock, its range and pid",
             "F_GETLK for a write lock names A's read lock", "F_GETLK past every lock: F_UNLCK",
             "F_GETLK sees B's own lock conflict with none of its own"]
    # the last one: B's own [10,20) write lock is not a conflict for B, but
    # A's [0,10) is outside [10,100) and A's [100,200) is outside too:
    # only B's own lock is there, so F_UNLCK is what must come back
    want[-1] = "%d" % fcntl.F_UNLCK
    if len(got) != len(want):
        report(False, "ranges: the other mount's checks ran", " ".join(got))
        return
    for n, w, g in zip(names, want, got):
        report(g == w, "ranges: " + n, "want %s, got %s" % (w, g))
    # A's unlock of part of its range lets B in there only
    setlk(fa, fcntl.F_UNLCK, 0, 5)

    def after():
        fb = openrw(b + "/ranges")
        return "%s %s" % (ename(setlk(fb, fcntl.F_WRLCK, 0, 5)),
                          ename(setlk(fb, fcntl.F_WRLCK, 5, 1)))

    got = Child(after).result()
    report(got == "success EAGAIN", "ranges: a partial unlock frees that part only", got)
    os.close(fa)


def wait_grant(a, b):
    """F_SETLKW on one mount waits for the holder on the other, then gets it."""
    fa = openrw(a + "/wait")
    setlk(fa, fcntl.F_WRLCK)
    log_r, log_w = os.pipe()

    def waiter():
        fb = openrw(b + "/wait")
        e = setlk(fb, fcntl.F_WRLCK, wait=True)
        os.write(log_w, b"granted\n")
        return ename(e)

    c = Child(waiter, keep=(log_w,))
    os.close(log_w)
    if not poll(lambda: sleeping_in(c.pid, SYS_FCNTL)):
        report(False, "wait: F_SETLKW on B waits while A holds the lock",
                "it never slept in fcntl")
        c.kill()
        c.result()
        return
    report(True, "wait: F_SETLKW on B waits while A holds the lock")
    os.set_blocking(log_r, False)
    try:
        early = os.read(log_r, 100)
    except BlockingIOError:
        early = b""
    report(early == b"", "wait: not granted while A holds it", repr(early))
    setlk(fa, fcntl.F_UNLCK)
    res = c.result()
    report(res == "success", "wait: granted once A unlocks", res)
    os.close(log_r)
    os.close(fa)


class Interrupted(Exception):
    pass


def interrupt(a, b):
    """A signal ends a wait with EINTR; the abandoned wait is never granted."""
    fa = openrw(a + "/intr")
    setlk(fa, fcntl.F_WRLCK)
    ready_r, ready_w = os.pipe()

    def waiter():
        def on_alarm(_sig, _frame):
            raise Interrupted()
        signal.signal(signal.SIGUSR1, on_alarm)
        fb = openrw(b + "/intr")
        try:
            e = setlk(fb, fcntl.F_WRLCK, wait=True)
            res = ename(e)
        except Interrupted:
            res = "interrupted"
        # keep the descriptor open: a lock granted behind our back would
        # stay held, which the parent would see
        os.write(ready_w, b"x")
        signal.signal(signal.SIGUSR1, signal.SIG_DFL)
        signal.pause()
        return res

    c = Child(waiter, keep=(ready_w,))
    os.close(ready_w)
    if not poll(lambda: sleeping_in(c.pid, SYS_FCNTL)):
        report(False, "interrupt: the waiter waits", "it never slept in fcntl")
        c.kill()
        c.result()
        return
    os.kill(c.pid, signal.SIGUSR1)
    got = os.read(ready_r, 1)
    report(got == b"x", "interrupt: a signal ends the wait", repr(got))
    setlk(fa, fcntl.F_UNLCK)

    def third():
        fb = openrw(b + "/intr")
        return ename(setlk(fb, fcntl.F_WRLCK))

    res = Child(third).result()
    report(res == "success", "interrupt: the lock is free after the holder unlocks "
           "(the interrupted waiter did not get it)", res)
    c.kill()
    c.result()
    os.close(ready_r)
    os.close(fa)


def close_drops(a, b):
    """Closing any descriptor of the file drops the process's POSIX locks."""
    fa = openrw(a + "/close")
    setlk(fa, fcntl.F_WRLCK)

    def try_lock():
        fb = openrw(b + "/close")
        return ename(setlk(fb, fcntl.F_WRLCK))

    res = Child(try_lock).result()
    report(res == "EAGAIN", "close: locked while held", res)
    os.close(os.open(a + "/close", os.O_RDONLY))
    res = Child(try_lock).result()
    report(res == "success", "close: closing another descriptor of the file drops the lock",
           res)
    os.close(fa)


def flocks(a, b):
    """flock() between mounts; independent of fcntl locks; released at last close."""
    fa = openrw(a + "/flock")
    report(do_flock(fa, fcntl.LOCK_EX) == 0, "flock: LOCK_EX on A")
    dup = os.dup(fa)

    def other():
        fb = openrw(b + "/flock")
        return "%s %s %s" % (ename(do_flock(fb, fcntl.LOCK_EX | fcntl.LOCK_NB)),
                             ename(do_flock(fb, fcntl.LOCK_SH | fcntl.LOCK_NB)),
                             ename(setlk(fb, fcntl.F_WRLCK)))

    res = Child(other).result()
    report(res == "EWOULDBLOCK EWOULDBLOCK success" or
           res == "EAGAIN EAGAIN success",
           "flock: B refused LOCK_EX and LOCK_SH, fcntl locks are separate", res)

    def waiter():
        fb = openrw(b + "/flock")
        return ename(do_flock(fb, fcntl.LOCK_SH))

    c = Child(waiter)
    if not poll(lambda: sleeping_in(c.pid, SYS_FLOCK)):
        report(False, "flock: a blocking LOCK_SH on B waits", "it never slept in flock")
        c.kill()
        c.result()
        return
    report(True, "flock: a blocking LOCK_SH on B waits")
    os.close(fa)  # the dup still holds the open file: still locked
    report(sleeping_in(c.pid, SYS_FLOCK), "flock: closing one of two descriptors keeps it")
    os.close(dup)
    res = c.result()
    report(res == "success", "flock: the last close releases it and B gets it", res)
    # shared locks share
    fa = openrw(a + "/flock")
    report(do_flock(fa, fcntl.LOCK_SH | fcntl.LOCK_NB) == 0, "flock: two LOCK_SH share")
    os.close(fa)


def deadlock(a, b):
    """Two owners on two mounts each waiting for the other: one gets EDEADLK."""
    fa = openrw(a + "/dead")
    setlk(fa, fcntl.F_WRLCK, 0, 1)
    step_r, step_w = os.pipe()
    parent = os.getpid()

    def second():
        fb = openrw(b + "/dead")
        setlk(fb, fcntl.F_WRLCK, 1, 1)
        os.write(step_w, b"1")
        if not poll(lambda: sleeping_in(parent, SYS_FCNTL)):
            return "the parent never waited"
        e = setlk(fb, fcntl.F_WRLCK, 0, 1, wait=True)
        setlk(fb, fcntl.F_UNLCK, 1, 1)
        return ename(e)

    c = Child(second, keep=(step_w,))
    os.read(step_r, 1)
    # Which of the two requests reaches gfmd second is a race: that one
    # closes the cycle and is refused; the other waits until the refused
    # one gives up what it holds.
    e = setlk(fa, fcntl.F_WRLCK, 1, 1, wait=True)
    if e == errno.EDEADLK:
        setlk(fa, fcntl.F_UNLCK, 0, 1)
    res = c.result()
    got = sorted([ename(e), res])
    report(got == ["EDEADLK", "success"],
           "deadlock: one of the two waiters of a cycle gets EDEADLK, the other its lock",
           "parent %s, child %s" % (ename(e), res))
    os.close(fa)
    os.close(step_r)
    os.close(step_w)


SCENARIOS = {"ranges": ranges, "wait": wait_grant, "interrupt": interrupt,
             "close": close_drops, "flock": flocks, "deadlock": deadlock}

if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in SCENARIOS:
        sys.exit("usage: locks.py {%s} DIR_A DIR_B" % "|".join(SCENARIOS))
    SCENARIOS[sys.argv[1]](sys.argv[2], sys.argv[3])
