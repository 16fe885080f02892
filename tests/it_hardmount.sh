#!/bin/bash
# What a mount does when gfmd or a gfsd goes away or hangs (lib/client.h,
# README "When a server goes away"), each fault caused for real:
# - kill -9 of gfmd in the middle of a stream of mkdir, create, rename,
#   link, symlink, unlink, rmdir from several processes, then a restart:
#   every operation succeeds (no EIO, no EEXIST for a create whose reply was
#   lost, no ENOENT for such an unlink or rename), and a fresh mount shows
#   exactly the tree the operations imply; the mount's log says "not
#   responding, still trying" and "OK";
# - gfmd killed between a commit and its reply (PostgreSQL frozen with the
#   commit in flight, kill -9, thaw, restart): mkdir, rename and unlink
#   complete successfully, each exactly once;
# - gfmd stopped (SIGSTOP): a call on a hard mount waits and succeeds after
#   SIGCONT; on a soft mount (gfmd_timeout=2) it fails with EIO, and the
#   mount works afterwards;
# - kill -9 of the gfsd under a local writer (data through a passed fd) and
#   under a remote writer (over TCP), then a restart: both finish without an
#   error, fsync included, and their files are byte for byte what they wrote.
# - a gfsd stopped under a soft mount (gfsd_timeout=2): reading and writing
#   its data fail with EIO, and work again once it resumes.
# HM_PARTS (default "stream commit stop writers softgfsd") runs some parts.
# shellcheck disable=SC2317  # helpers are called through check/poll_until
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
it_require find sha256sum
: "${HM_PARTS:=stream commit stop writers softgfsd}"
part() { [[ " $HM_PARTS " == *" $1 "* ]]; }
it_cluster_up --gfsd 2 --mounts 2
M1LOG=$STATE/mount1.log
mkdir "$MOUNT/hm" || die "cannot mkdir on the mount"
fresh_mount2() { gf_umount 2 && gf_mount 2 "$@"; }
# shellcheck disable=SC2016
run_py() { # NAME CODE: run CODE in the background, its errno (or OK) in STATE/NAME.res
	(cd / && "$PY" -c "
import os, errno, sys
try:
    $2
except OSError as e:
    print(errno.errorcode.get(e.errno, e.errno))
else:
    print('OK')" >"$STATE/$1.res" 2>&1) &
}

STOP=$STATE/stop-workers
NWORK=3
# Worker K works in hm/wK: iteration I makes dI with a file written and
# renamed (g), and for an even I a hard link (h) and a symlink (s) to it,
# for an odd one removes it all again. Every operation that fails is logged
# with its errno; each completed iteration is logged. It stops only between
# iterations, so the tree it leaves follows from the last one logged.
worker() {
	exec "$PY" - "$MOUNT/hm" "$1" "$STATE/work-$1.log" "$STOP" <<'PYEOF'
import errno, os, sys, time
root, k, log, stop = sys.argv[1:5]
out = open(log, "w", buffering=1)
d = os.path.join(root, "w" + k)
os.mkdir(d)
i = errors = 0
def do(what, f, *a):
    global errors
    try:
        f(*a)
    except OSError as e:
        errors += 1
        out.write("ERR %d %s %s\n" % (i, what, errno.errorcode.get(e.errno, e.errno)))
while not os.path.exists(stop):
    p = os.path.join(d, "d%d" % i)
    do("mkdir", os.mkdir, p)
    def create():
        fd = os.open(os.path.join(p, "f"), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        try:
            os.write(fd, ("%s-%d" % (k, i)).encode())
        finally:
            os.close(fd)
    do("create", create)
    do("rename", os.rename, os.path.join(p, "f"), os.path.join(p, "g"))
    if i % 2 == 0:
        do("link", os.link, os.path.join(p, "g"), os.path.join(p, "h"))
        do("symlink", os.symlink, "g", os.path.join(p, "s"))
    else:
        do("unlink", os.unlink, os.path.join(p, "g"))
        do("rmdir", os.rmdir, p)
    out.write("done %d\n" % i)
    i += 1
out.write("end %d iterations %d errors\n" % (i, errors))
PYEOF
}

# WRITER NAME PATH FLAGS: write SIZE_MB MiB, the first half, then (after
# STATE/go) the second half, fsync, close; print the sha256 written.
writer() {
	exec "$PY" - "$2" "$3" "$SIZE_MB" "$STATE/half-$1" "$STATE/go" <<'PYEOF'
import hashlib, os, struct, sys, time
path, flags, mb, half, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
fl = os.O_WRONLY | (os.O_CREAT | os.O_EXCL if flags == "new" else 0)
fd = os.open(path, fl, 0o644)
base = bytes(range(256)) * 4096
h = hashlib.sha256()
for i in range(mb):
    if i == mb // 2:
        open(half, "w").close()
        while not os.path.exists(go):
            time.sleep(0.02)
    block = struct.pack(">Q", i) + base[8:]
    os.pwrite(fd, block, i << 20)
    h.update(block)
os.fsync(fd)
os.close(fd)
print(h.hexdigest())
PYEOF
}

# The tree through a fresh mount: exactly what the logged iterations imply.
verify_tree() {
	"$PY" - "$1/hm" "$STATE" "$NWORK" <<'PYEOF'
import os, sys
root, state, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
bad = []
want = {}
for k in range(1, n + 1):
    last = max([int(l.split()[1]) for l in open("%s/work-%d.log" % (state, k))
                if l.startswith("done ")] + [-1])
    d = "w%d" % k
    want[d] = None
    for i in range(last + 1):
        if i % 2 == 0:
            want["%s/d%d" % (d, i)] = None
            want["%s/d%d/g" % (d, i)] = ("%d-%d" % (k, i)).encode()
            want["%s/d%d/h" % (d, i)] = ("%d-%d" % (k, i)).encode()
            want["%s/d%d/s" % (d, i)] = "link"
got = set()
for dirpath, dirs, files in os.walk(root):
    for name in dirs + files:
        got.add(os.path.relpath(os.path.join(dirpath, name), root))
for p in sorted(got - set(want)):
    bad.append("unexpected " + p)
for p in sorted(set(want) - got):
    bad.append("missing " + p)
for p, v in want.items():
    if p not in got:
        continue
    full = os.path.join(root, p)
    if v == "link":
        if os.readlink(full) != "g":
            bad.append("symlink %s -> %s" % (p, os.readlink(full)))
    elif v is not None:
        with open(full, "rb") as f:
            data = f.read()
        if data != v:
            bad.append("content of %s: %r" % (p, data))
        if os.stat(full).st_nlink != 2:
            bad.append("links of %s: %d" % (p, os.stat(full).st_nlink))
print("%d entries expected, %d found" % (len(want), len(got)))
for b in bad[:20]:
    print(b)
sys.exit(1 if bad else 0)
PYEOF
}

# ---- kill -9 of gfmd under a stream of mutations ------------------------------------------

stream_part() {
	WPIDS=()
	for ((w = 1; w <= NWORK; w++)); do
		worker "$w" 2>"$STATE/work-$w.err" &
		WPIDS+=($!)
	done
	IT_CLEANUP+=("touch '$STOP'; kill ${WPIDS[*]}")
	done_of() { grep -c '^done ' "$STATE/work-$1.log" 2>/dev/null || echo 0; }
	all_at_least() { # N: every worker has completed at least N iterations
		local w
		for ((w = 1; w <= NWORK; w++)); do (($(done_of "$w") >= $1)) || return 1; done
	}
	all_beyond() { # every worker has completed more than at the kill
		local w
		for ((w = 1; w <= NWORK; w++)); do (($(done_of "$w") >= AT_KILL[w] + 20)) || return 1; done
	}
	poll_until "$GF_WAIT_SECS" all_at_least 20 || die "the workers did not get going"

	gf_log_mark "$M1LOG"
	AT_KILL=()
	for ((w = 1; w <= NWORK; w++)); do AT_KILL[w]=$(done_of "$w"); done
	check_here "kill -9 of gfmd in the middle of the stream" gf_gfmd_kill9
	check "the mount says gfmd is not responding, still trying" \
		gf_log_wait "$M1LOG" 'gfmd [^ ]+ not responding, still trying'
	check_here "gfmd starts again" gf_gfmd_start || die "gfmd does not restart"
	check "the mount says gfmd is OK again" gf_log_wait "$M1LOG" 'gfmd [^ ]+ OK'
	if poll_until "$GF_WAIT_SECS" all_beyond; then
		ok "every worker goes on after the restart (20 iterations more each)"
	else
		fail "the workers stalled after the restart"
	fi
	touch "$STOP"
	for p in "${WPIDS[@]}"; do
		gf_wait_dead "$p" || fail "a worker is stuck ${GF_WAIT_SECS}s after it was told to stop"
	done
	errs=$(cat "$STATE"/work-*.log | grep -c '^ERR ')
	expect_eq "no operation failed across the crash of gfmd (no EIO, EEXIST, ENOENT)" 0 "$errs"
	grep -h '^ERR ' "$STATE"/work-*.log | head -n 10
	grep -h '^end ' "$STATE"/work-*.log

	# the tree through a fresh mount
	check_here "a fresh mount after the crash" fresh_mount2 || die "cannot mount again"
	check "the tree is exactly what the operations imply, seen from a fresh mount" \
		verify_tree "$MOUNT2"
}

# ---- gfmd killed between a commit and its reply ------------------------------------------

commit_part() {
	mkdir "$MOUNT/hm/x" && : >"$MOUNT/hm/x/old" && : >"$MOUNT/hm/x/doomed" ||
		die "cannot prepare hm/x"
	check_here "freeze PostgreSQL" gf_pg_pause || die "cannot freeze PostgreSQL"
	gf_log_mark "$M1LOG"
	run_py mk "os.mkdir('$MOUNT/hm/x/made')"
	MK=$!
	check "the commit of the mkdir is in flight in the frozen PostgreSQL" gf_pg_wait_stuck
	run_py mv "os.rename('$MOUNT/hm/x/old', '$MOUNT/hm/x/new')"
	MV=$!
	run_py rm "os.unlink('$MOUNT/hm/x/doomed')"
	RM=$!
	check_here "kill -9 of gfmd with the commit in flight and no reply sent" gf_gfmd_kill9
	check "the mount is waiting for gfmd" gf_log_wait "$M1LOG" 'gfmd [^ ]+ not responding'
	check_here "thaw PostgreSQL" gf_pg_resume
	committed=$(gf_psql -At -c "SELECT count(*) FROM dirent WHERE name = 'made'::bytea" 2>&1)
	it_say "the commit in flight made it into the database: $([[ $committed == 1 ]] && echo yes || echo "no ($committed)")"
	check_here "gfmd starts again" gf_gfmd_start || die "gfmd does not restart"
	for job in "mkdir:$MK:mk" "rename:$MV:mv" "unlink:$RM:rm"; do
		IFS=: read -r what pid res <<<"$job"
		if gf_wait_dead "$pid"; then
			expect_eq "the $what whose reply was lost completes successfully" OK \
				"$(cat "$STATE/$res.res")"
		else
			fail "the $what is still waiting ${GF_WAIT_SECS}s after gfmd restarted"
		fi
	done
	check_here "a fresh mount" fresh_mount2 || die "cannot mount again"
	expect_eq "and each happened exactly once: the directory holds made, new" \
		"made new" "$(cd "$MOUNT2/hm/x" && echo *)"
}

# ---- gfmd stopped: hard waits, soft fails with EIO ---------------------------------------

stop_part() {
	gf_umount 2 && gf_mount 2 -o gfmd_timeout=2 || die "cannot mount 2 as a soft mount"
	GFMD_NOW=$(gf_pidfile_pid "$STATE/gfmd.pid")
	cont_gfmd() { kill -CONT "$GFMD_NOW" 2>/dev/null; }
	IT_CLEANUP+=("kill -CONT $GFMD_NOW")
	gf_log_mark "$M1LOG"
	gf_log_mark "$STATE/mount2.log"
	kill -STOP "$GFMD_NOW" || die "cannot stop gfmd"
	run_py hard "os.mkdir('$MOUNT/hm/during-stop')"
	HARD=$!
	run_py soft "os.mkdir('$MOUNT2/hm/soft-during-stop')"
	SOFT=$!
	if gf_wait_dead "$SOFT"; then
		expect_eq "on the soft mount, a mkdir while gfmd is stopped fails with EIO" EIO \
			"$(cat "$STATE/soft.res")"
	else
		fail "the soft mount's mkdir did not return while gfmd was stopped"
	fi
	expect_errno "so does a lookup there" EIO "os.stat(M2 + '/hm/not-cached-yet')"
	check "the hard mount says gfmd is not responding, still trying" \
		gf_log_wait "$M1LOG" 'gfmd [^ ]+ not responding, still trying'
	check "the hard mount's mkdir is still waiting" gf_pid_alive "$HARD"
	check "gfmd resumes (SIGCONT)" cont_gfmd
	if gf_wait_dead "$HARD"; then
		expect_eq "the hard mount's mkdir then succeeds" OK "$(cat "$STATE/hard.res")"
	else
		fail "the hard mount's mkdir is still waiting ${GF_WAIT_SECS}s after SIGCONT"
	fi
	check "the hard mount says gfmd is OK" gf_log_wait "$M1LOG" 'gfmd [^ ]+ OK'
	# (a gfmd stopped longer than host_down_ms takes the gfsd for down until
	# their next heartbeat: new files need one up)
	check "every gfsd is up again" gf_wait_hosts_up
	expect_errno "the soft mount works after gfmd is back" OK \
		"os.mkdir(M2 + '/hm/soft-after'); assert os.path.isdir(M + '/hm/during-stop')"
	gf_umount 2 && gf_mount 2 || die "cannot mount 2 again"
}

# ---- kill -9 of gfsd under a local and a remote writer ------------------------------------

writers_part() {
	# Mount 1 acts as node1: its new file lives on node1 (local: the data goes
	# through a passed fd). The remote file is made on node2 by mount 2, with a
	# byte in it so that mount 1's write-open keeps it there (over TCP).
	SIZE_MB=48
	printf x >"$MOUNT2/hm/remote" || die "cannot create hm/remote"
	writer local "$MOUNT/hm/local" new >"$STATE/local.sha" 2>"$STATE/local.err" &
	WL=$!
	writer remote "$MOUNT/hm/remote" old >"$STATE/remote.sha" 2>"$STATE/remote.err" &
	WR=$!
	IT_CLEANUP+=("touch '$STATE/go'; kill $WL $WR")
	check "both writers wrote their first half" \
		poll_until "$GF_WAIT_SECS" test -e "$STATE/half-local" -a -e "$STATE/half-remote"
	local_spool=$(find "$STATE/node1/spool/data" -name "$(printf '%016x' "$(stat -c %i "$MOUNT/hm/local")")-????????????????")
	remote_spool=$(find "$STATE/node2/spool/data" -name "$(printf '%016x' "$(stat -c %i "$MOUNT/hm/remote")")-????????????????")
	check "the local writer's replica is on node1 (its own host)" test -n "$local_spool"
	check "the remote writer's replica is on node2" test -n "$remote_spool"
	gf_log_mark "$M1LOG"
	check_here "kill -9 of gfsd node1 (the local writer's)" gf_gfsd_kill9 1
	check_here "kill -9 of gfsd node2 (the remote writer's)" gf_gfsd_kill9 2
	touch "$STATE/go"
	check "the mount waits for node1's gfsd (its socket)" \
		gf_log_wait "$M1LOG" "gfsd $STATE/node1/gfsd.sock not responding, still trying"
	check "and for node2's (over TCP)" gf_log_wait "$M1LOG" 'gfsd [0-9.]+:[0-9]+ not responding, still trying'
	check "the local writer is still writing (its fsync waits)" gf_pid_alive "$WL"
	check "the remote writer is still writing" gf_pid_alive "$WR"
	check_here "gfsd node1 starts again" gf_gfsd_start 1
	check_here "gfsd node2 starts again" gf_gfsd_start 2
	for w in local remote; do
		pid=$WL
		[[ $w == remote ]] && pid=$WR
		if gf_wait_dead "$pid"; then
			expect_eq "the $w writer finishes without an error (write, fsync, close)" 0 \
				"$GF_EXIT_STATUS"
		else
			fail "the $w writer is still waiting ${GF_WAIT_SECS}s after its gfsd restarted"
		fi
		sed 's/^/  /' "$STATE/$w.err"
	done
	check "the mount says both gfsd are OK again" \
		gf_log_wait "$M1LOG" "gfsd $STATE/node1/gfsd.sock OK"
	check "every gfsd is up" gf_wait_hosts_up
	check_here "a fresh mount" fresh_mount2 || die "cannot mount again"
	for w in local remote; do
		want=$(cat "$STATE/$w.sha")
		got=$(sha256sum <"$MOUNT2/hm/$w" 2>&1 | cut -d' ' -f1)
		expect_eq "the $w file is byte for byte what its writer wrote" "$want" "$got"
		expect_eq "and has its size" "$((SIZE_MB << 20))" "$(stat -c %s "$MOUNT2/hm/$w")"
	done
}

# ---- a soft mount for gfsd: EIO when the gfsd holding the data is stopped ---------------------

softgfsd_part() {
	# mount 2 (node2) reads and writes a file whose data is on node1 only
	gf_umount 2 && gf_mount 2 -o gfsd_timeout=2 || die "cannot mount 2 with gfsd_timeout=2"
	head -c 100000 /dev/urandom >"$STATE/soft.data"
	cp "$STATE/soft.data" "$MOUNT/hm/softdata" || die "cannot write hm/softdata"
	GFSD1=$(gf_gfsd_pid 1)
	IT_CLEANUP+=("kill -CONT $GFSD1")
	# the write handle is open on node1's gfsd when it stops; the second
	# write only once every thread of it has stopped (a thread that was
	# not the one the signal woke could still serve a request meanwhile)
	expect_errno "with gfsd_timeout=2, a write whose gfsd stopped fails with EIO" EIO "
import glob, signal, time
def stopped(pid):
    for t in glob.glob('/proc/%d/task/*/stat' % pid):
        try:
            if open(t).read().rsplit(') ', 1)[1][0] not in 'Tt':
                return False
        except OSError:
            pass
    return True
fd = os.open(M2 + '/hm/softdata', os.O_WRONLY)
try:
    os.pwrite(fd, b'y' * 1000, 0)
    os.kill($GFSD1, signal.SIGSTOP)
    for _ in range(${GF_WAIT_SECS:-60} * 100):
        if stopped($GFSD1):
            break
        time.sleep(0.01)
    else:
        raise SystemExit('gfsd $GFSD1 not stopped')
    os.pwrite(fd, b'y' * 1000, 1000)
finally:
    os.close(fd)"
	expect_errno "so does a read of data that only that gfsd holds" EIO \
		"read_file(M2 + '/hm/softdata')"
	check "gfsd node1 resumes (SIGCONT)" kill -CONT "$GFSD1"
	check "every gfsd is up" gf_wait_hosts_up
	# (the write that timed out may have been done all the same, once the
	# gfsd resumed and read it: that is what soft means)
	expect_errno "the soft mount reads and writes it again" OK "
orig = open('$STATE/soft.data', 'rb').read()
got = read_file(M2 + '/hm/softdata')
assert got in (b'y' * 1000 + orig[1000:], b'y' * 2000 + orig[2000:]), got[:2100]
fd = os.open(M2 + '/hm/softdata', os.O_WRONLY)
os.pwrite(fd, b'z' * 1000, 0)
os.fsync(fd)
os.close(fd)
assert read_file(M2 + '/hm/softdata')[:1000] == b'z' * 1000"
	gf_umount 2 && gf_mount 2 || die "cannot mount 2 again"
}

for p in stream commit stop writers softgfsd; do
	if part "$p"; then
		"${p}_part"
	else
		it_say "part $p skipped (HM_PARTS)"
	fi
done
it_done
