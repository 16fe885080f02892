#!/usr/bin/python3
"""sqlwork.py — SQLite as applications use it, for tests/it_sqlite.sh.

    sqlwork.py init   DB JOURNAL_MODE
    sqlwork.py writer DB ID N          N transactions, each one row (ID, i)
    sqlwork.py reader DB DONE_FILE     reads until DONE_FILE exists
    sqlwork.py check  DB ID:N...       integrity_check, and every row written

Each prints one line: "ok ..." or "error: ...", and exits 0 or 1. The
writer commits each row in its own transaction (BEGIN IMMEDIATE), waiting
as long as it takes for the other writer (busy timeout); the reader checks
that what it sees only grows and that the database stays consistent.
"""
import os
import sqlite3
import sys

BUSY_MS = 600000  # a lock wait is never the failure: a hang guard only


def connect(db):
    con = sqlite3.connect(db, timeout=BUSY_MS / 1000, isolation_level=None)
    con.execute("PRAGMA busy_timeout = %d" % BUSY_MS)
    return con


def init(db, mode):
    con = connect(db)
    got = con.execute("PRAGMA journal_mode = %s" % mode).fetchone()[0]
    if got.lower() != mode.lower():
        return "error: journal_mode %s refused (got %s)" % (mode, got)
    con.execute("CREATE TABLE t (who INTEGER, n INTEGER, pad TEXT, PRIMARY KEY (who, n))")
    con.close()
    return "ok journal_mode %s" % got


def writer(db, who, n):
    con = connect(db)
    # rows with some bulk, so that the file grows by pages as it goes
    pad = "x" * 300
    for i in range(n):
        con.execute("BEGIN IMMEDIATE")
        con.execute("INSERT INTO t VALUES (?, ?, ?)", (who, i, pad))
        con.execute("COMMIT")
    con.close()
    return "ok %d transactions" % n


def reader(db, done):
    con = connect(db)
    last = 0
    reads = 0
    while True:
        finished = os.path.exists(done)
        con.execute("BEGIN")
        (count,) = con.execute("SELECT count(*) FROM t").fetchone()
        rows = con.execute("SELECT who, max(n), count(*) FROM t GROUP BY who").fetchall()
        con.execute("COMMIT")
        reads += 1
        for who, mx, cnt in rows:
            if cnt != mx + 1:
                return "error: writer %d: %d rows but the last is %d" % (who, cnt, mx)
        if count < last:
            return "error: the row count went down from %d to %d" % (last, count)
        last = count
        if finished:
            break
    (res,) = con.execute("PRAGMA quick_check").fetchone()
    con.close()
    if res != "ok":
        return "error: quick_check: %s" % res
    return "ok %d reads, last count %d" % (reads, last)


def check(db, specs):
    con = connect(db)
    res = [r[0] for r in con.execute("PRAGMA integrity_check").fetchall()]
    if res != ["ok"]:
        return "error: integrity_check: %s" % "; ".join(res[:5])
    total = 0
    for spec in specs:
        who, n = (int(x) for x in spec.split(":"))
        got = [r[0] for r in con.execute("SELECT n FROM t WHERE who = ? ORDER BY n", (who,))]
        if got != list(range(n)):
            missing = sorted(set(range(n)) - set(got))
            return "error: writer %d: %d of %d rows, missing %s" % (who, len(got), n,
                                                                   missing[:10])
        total += n
    (count,) = con.execute("SELECT count(*) FROM t").fetchone()
    con.close()
    if count != total:
        return "error: %d rows, %d written" % (count, total)
    return "ok integrity_check ok, all %d rows there" % total


def main(argv):
    try:
        if argv[1] == "init" and len(argv) == 4:
            out = init(argv[2], argv[3])
        elif argv[1] == "writer" and len(argv) == 5:
            out = writer(argv[2], int(argv[3]), int(argv[4]))
        elif argv[1] == "reader" and len(argv) == 4:
            out = reader(argv[2], argv[3])
        elif argv[1] == "check" and len(argv) >= 4:
            out = check(argv[2], argv[3:])
        else:
            sys.exit(__doc__)
    except sqlite3.Error as e:
        # (the extended code says which call failed: SQLITE_IOERR_READ,
        # _FSYNC, _LOCK, _SHMMAP, ...)
        out = "error: sqlite3: %s (%s)" % (e, getattr(e, "sqlite_errorname", "?"))
    print(out, flush=True)
    return 0 if out.startswith("ok") else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
