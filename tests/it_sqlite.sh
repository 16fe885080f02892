#!/bin/bash
# Files shared between processes and mounts (issue 11 points 2 and 3):
#   - a descriptor reads what another descriptor wrote past the size it saw
#     at open (same mount at once; another mount within the attribute
#     timeout), and mmap of the grown part never raises SIGBUS;
#   - tail -f follows a file appended to by another process and by another
#     mount;
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
