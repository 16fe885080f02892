#!/bin/bash
# Files shared between processes and mounts (issue 11 points 2 and 3):
#   - a descriptor reads what another descriptor wrote past the size it saw
#     at open (same mount at once; another mount within the attribute
#     timeout), and mmap of the grown part never raises SIGBUS;
#   - a reader that read a closed (checksummed) file reads what an append
#     added since, from its first byte on;
#   - tail -f follows a file appended to by another process and by another
#     mount;
#   - O_APPEND writes land at the file's real end: two writers (one keeping
#     its descriptor, one opening for each line) append 1,000 lines each,
#     alternating and then concurrently, and all 2,000 lines are there, whole
#     and each writer's in order;
#   - SQLite: a writer and a reader process on one mount (rollback journal,
#     then WAL), and a writer on each of two mounts (rollback journal): a
#     few hundred transactions, integrity_check ok, every row there.
# Each part runs on local ext4 first, as the reference.
# shellcheck disable=SC2317  # helpers are called through poll_until
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
it_require "$PY" tail
SQLWORK=$IT_DIR/sqlwork.py
N=${GF_SQLITE_TXNS:-300}
it_cluster_up --gfsd 2 --mounts 2
A=$MOUNT B=$MOUNT2
LOCAL=$STATE/local
mkdir -p "$LOCAL"

# ---- a descriptor sees what another wrote ----------------------------------------------
# grow_read DIR_W DIR_R: fd r opened on DIR_R before fd w on DIR_W appends;
# r's pread past its old size gets the new bytes, mmap of them reads them.
grow_read() {
	(cd / && "$PY" - "$1" "$2" "$GF_WAIT_SECS" <<'PYEOF'
import mmap, os, sys, time
w_dir, r_dir, wait = sys.argv[1], sys.argv[2], float(sys.argv[3])
name = "grow-%d" % os.getpid()
fw = os.open(w_dir + "/" + name, os.O_RDWR | os.O_CREAT, 0o644)
os.write(fw, b"a" * 4096)
os.fsync(fw)
end = time.monotonic() + wait
while not os.path.exists(r_dir + "/" + name):
    if time.monotonic() > end:
        sys.exit("not ok the file never appeared on the reader's side")
    time.sleep(0.01)
fr = os.open(r_dir + "/" + name, os.O_RDWR)
while os.fstat(fr).st_size < 4096:  # another mount: within the attr timeout
    if time.monotonic() > end:
        sys.exit("not ok the reader never saw the first 4096 bytes")
    time.sleep(0.01)
os.pwrite(fw, b"b" * 8192, 4096)    # grown by the writer's descriptor
got = b""
while len(got) < 8192:              # another mount: within the attr timeout
    got = os.pread(fr, 8192, 4096)
    if len(got) == 8192 or time.monotonic() > end:
        break
    time.sleep(0.01)
print("ok" if got == b"b" * 8192 else "not ok pread past the old size gave %d bytes" % len(got))
m = mmap.mmap(fr, 12288)            # SIGBUS here if the kernel thinks it is shorter
print("ok" if m[4096:12288] == b"b" * 8192 else "not ok mmap of the grown part differs")
m.close()
PYEOF
	) 2>&1
}
expect_eq "ext4: a descriptor reads past its old size what another wrote" "ok
ok" "$(grow_read "$LOCAL" "$LOCAL")"
expect_eq "one mount: a descriptor reads past its old size what another wrote, mmap too" "ok
ok" "$(grow_read "$A" "$A")"
expect_eq "two mounts: a descriptor reads past its old size what the other mount wrote" "ok
ok" "$(grow_read "$A" "$B")"

# ---- a reader of a closed file, then an append ---------------------------------------
# sealed_append DIR_W DIR_R: a file written and closed (its replica sealed,
# with checksums); a reader reads it whole, a writer appends; the reader's
# pread from 0 then returns old and new bytes (not EIO: the reader's sums
# describe the old size, which is no damage).
sealed_append() {
	(cd / && "$PY" - "$1" "$2" "$GF_WAIT_SECS" <<'PYEOF'
import os, sys, time
w_dir, r_dir, wait = sys.argv[1], sys.argv[2], float(sys.argv[3])
name = "sealed-%d" % os.getpid()
with open(w_dir + "/" + name, "wb") as f:
    f.write(b"a" * 391)
end = time.monotonic() + wait
while not os.path.exists(r_dir + "/" + name):
    if time.monotonic() > end:
        sys.exit("not ok the file never appeared on the reader's side")
    time.sleep(0.01)
fr = os.open(r_dir + "/" + name, os.O_RDONLY)
first = os.pread(fr, 4096, 0)
fw = os.open(w_dir + "/" + name, os.O_WRONLY | os.O_APPEND)
os.write(fw, b"b" * 80)
want = b"a" * 391 + b"b" * 80
got = b""
while True:                         # another mount: within the attr timeout
    try:
        got = os.pread(fr, 4096, 0)
    except OSError as e:
        sys.exit("not ok pread after the append failed: %s" % e.strerror)
    if got == want or time.monotonic() > end:
        break
    time.sleep(0.01)
os.close(fw)
print("ok" if first == b"a" * 391 and got == want else
      "not ok read %d bytes, then %d" % (len(first), len(got)))
PYEOF
	) 2>&1
}
expect_eq "ext4: a reader of a closed file reads an append made since" "ok" \
	"$(sealed_append "$LOCAL" "$LOCAL")"
expect_eq "one mount: a reader of a closed file reads an append made since" "ok" \
	"$(sealed_append "$A" "$A")"
expect_eq "two mounts: a reader of a closed file reads an append made since" "ok" \
	"$(sealed_append "$A" "$B")"

# ---- tail -f ------------------------------------------------------------------------------
# follow LABEL WRITE_DIR TAIL_DIR: a writer appends 50 lines (holding the
# file open, as a logging daemon does); tail -f on TAIL_DIR sees them all.
follow() {
	local label=$1 wdir=$2 tdir=$3 f=tail-$RANDOM out=$STATE/tail.$RANDOM
	: >"$wdir/$f"
	poll_until "$GF_WAIT_SECS" test -e "$tdir/$f"
	tail -n +1 -f "$tdir/$f" >"$out" 2>&1 &
	local tp=$!
	IT_CLEANUP+=("kill $tp")
	(for i in $(seq 1 50); do echo "line $i"; done) >>"$wdir/$f" &
	local wp=$!
	# a second writer that keeps the file open between lines
	(exec 3>>"$wdir/$f"; for i in $(seq 51 60); do echo "line $i" >&3; done) &
	wait "$wp" $!
	got_all() { [[ $(grep -c '^line ' "$out") == 60 ]]; }
	if poll_until "$GF_WAIT_SECS" got_all; then
		ok "$label: tail -f saw all 60 lines"
	else
		fail "$label: tail -f saw $(grep -c '^line ' "$out") of 60 lines"
	fi
	kill "$tp" 2>/dev/null
	wait "$tp" 2>/dev/null
}
follow "ext4" "$LOCAL" "$LOCAL"
follow "one mount" "$A" "$A"
follow "two mounts" "$A" "$B"

# ---- appends --------------------------------------------------------------------------------
# appenders LABEL DIR1 DIR2 MODE: a writer appending through one O_APPEND
# descriptor on DIR1 and one opening the file for each line on DIR2, 1,000
# lines each; MODE alternate: they take turns (a lock on a side file),
# concurrent: as fast as they go.
APPENDER='
import fcntl, os, sys
path, who, mode, turn = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
pad = "x" * 60
fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644) if who == "A" else -1
for i in range(1000):
    line = ("%s %04d %s\n" % (who, i, pad)).encode()
    if mode == "alternate":
        # strict turns: A writes even steps, B odd ones (a counter file under a lock)
        while True:
            t = os.open(turn, os.O_RDWR)
            fcntl.lockf(t, fcntl.LOCK_EX)
            step = int(os.pread(t, 20, 0) or b"0")
            if step % 2 == (0 if who == "A" else 1):
                break
            os.close(t)
    if who == "A":
        os.write(fd, line)
    else:
        f = os.open(path, os.O_WRONLY | os.O_APPEND)
        os.write(f, line)
        os.close(f)
    if mode == "alternate":
        os.pwrite(t, b"%-19d" % (step + 1), 0)
        os.close(t)
'
appenders() {
	local label=$1 d1=$2 d2=$3 mode=$4 f=append-$4 p1 p2
	: >"$d1/$f"
	printf '0' >"$d1/$f.turn"
	poll_until "$GF_WAIT_SECS" test -e "$d2/$f.turn"
	(cd / && "$PY" -c "$APPENDER" "$d1/$f" A "$mode" "$d1/$f.turn") &
	p1=$!
	(cd / && "$PY" -c "$APPENDER" "$d2/$f" B "$mode" "$d2/$f.turn") &
	p2=$!
	wait "$p1" || fail "$label $mode: appender A failed"
	wait "$p2" || fail "$label $mode: appender B failed"
	# gfmd knows the size once both closed: read it back on both sides
	local k out
	for k in "$d1" "$d2"; do
		out=$("$PY" - "$k/$f" <<'PYEOF'
import re, sys
lines = open(sys.argv[1], "rb").read().split(b"\n")
tail = lines.pop()
bad = [l for l in lines if not re.fullmatch(rb"[AB] \d{4} x{60}", l)]
seq = {w: [int(l[2:6]) for l in lines if l[:1] == w] for w in (b"A", b"B")}
if tail or bad:
    print("%d torn or overwritten lines, e.g. %r" % (len(bad) + bool(tail), (bad or [tail])[0][:80]))
elif any(seq[w] != list(range(1000)) for w in seq):
    print("lines lost: A has %d, B has %d of 1000" % (len(seq[b"A"]), len(seq[b"B"])))
else:
    print("ok")
PYEOF
		)
		expect_eq "$label $mode: 2,000 whole lines, each writer's in order (read on ${k##*/})" ok "$out"
	done
}
appenders "ext4" "$LOCAL" "$LOCAL" alternate
appenders "ext4" "$LOCAL" "$LOCAL" concurrent
appenders "one mount" "$A" "$A" concurrent
appenders "two mounts" "$A" "$B" alternate
appenders "two mounts" "$A" "$B" concurrent

# ---- SQLite ----------------------------------------------------------------------------------
sql() { (cd / && "$PY" "$SQLWORK" "$@") 2>&1; }
expect_ok() { # DESC OUTPUT
	if [[ $2 == ok* ]]; then ok "$1: ${2#ok }"; else fail "$1: $2"; fi
}

# reader_writer LABEL DIR MODE: a writer and a reader process on one directory.
reader_writer() {
	local label=$1 d=$2/sql-$3 mode=$3 w r
	mkdir -p "$d"
	expect_ok "$label: create a $mode database" "$(sql init "$d/db" "$mode")"
	(sql writer "$d/db" 1 "$N" >"$d.w"; touch "$d.done") &
	w=$!
	r=$(sql reader "$d/db" "$d.done")
	wait "$w"
	expect_ok "$label $mode: the writer's $N transactions" "$(cat "$d.w")"
	expect_ok "$label $mode: the reader saw it grow, consistent" "$r"
	expect_ok "$label $mode: afterwards" "$(sql check "$d/db" "1:$N")"
}
reader_writer "ext4" "$LOCAL" delete
reader_writer "one mount" "$A" delete
reader_writer "ext4" "$LOCAL" wal
reader_writer "one mount" "$A" wal

# two_writers LABEL DIR1 DIR2: a writer in each (the same database).
two_writers() {
	local label=$1 d1=$2/sql-two d2=$3/sql-two w1 w2
	mkdir -p "$d1"
	expect_ok "$label: create a rollback-journal database" "$(sql init "$d1/db" delete)"
	poll_until "$GF_WAIT_SECS" test -s "$d2/db"
	sql writer "$d1/db" 1 "$N" >"$STATE/w1.out" &
	w1=$!
	sql writer "$d2/db" 2 "$N" >"$STATE/w2.out" &
	w2=$!
	wait "$w1" "$w2"
	expect_ok "$label: the first writer's $N transactions" "$(cat "$STATE/w1.out")"
	expect_ok "$label: the second writer's $N transactions" "$(cat "$STATE/w2.out")"
	expect_ok "$label: afterwards, from the first" "$(sql check "$d1/db" "1:$N" "2:$N")"
	expect_ok "$label: afterwards, from the second" "$(sql check "$d2/db" "1:$N" "2:$N")"
}
two_writers "ext4" "$LOCAL" "$LOCAL"
two_writers "two mounts" "$A" "$B"

it_done
