#!/bin/bash
# kill -9 of gfmd during a stream of creates: the stream resumes once gfmd
# is back (the mount reconnects), and every create that returned success to
# its caller is present (with its content) after gfmd restarts.
# shellcheck disable=SC2317  # helpers are called through check/poll_until
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
it_require find
it_cluster_up --gfsd 3 --mounts 1

LOG=$STATE/created.log
STOP=$STATE/stop-writers
mkdir "$MOUNT/stream" || die "cannot mkdir on the mount"

# stream MODE DIR TAG LOG STOP: one process writing files in DIR through
# the mount until STOP exists, one line in LOG per file: "TAG ok NAME" once
# open+write+close all succeeded, "TAG error NAME: ERR" when one failed.
#   create   new files TAG-NNNNNN (O_EXCL), holding their own name
#   rewrite  the existing f1..f20 again and again (O_TRUNC)
stream() {
	exec "$PY" - "$@" <<'PYEOF'
import os, sys, time
mode, d, tag, log, stop = sys.argv[1:6]
out = open(log, "a")
i = 0
while not os.path.exists(stop):
    if mode == "create":
        name = "%s-%06d" % (tag, i)
        flags, data = os.O_CREAT | os.O_EXCL | os.O_WRONLY, name.encode()
    else:
        name = "f%d" % (1 + (i * 7 + ord(tag)) % 20)
        flags, data = os.O_WRONLY | os.O_TRUNC, b"%s %d\n" % (tag.encode(), i)
    i += 1
    try:
        fd = os.open(os.path.join(d, name), flags, 0o644)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
        out.write("%s ok %s\n" % (tag, name))
    except OSError as e:
        out.write("%s error %s: %s\n" % (tag, name, e))
        time.sleep(0.01)
    out.flush()
PYEOF
}

# Two writers of new files. Errors while gfmd is down are counted and the
# stream goes on.
writer() { stream create "$MOUNT/stream" "$1" "$LOG" "$STOP"; }

writer a 2>"$STATE/writer-a.err" &
WA=$!
writer b 2>"$STATE/writer-b.err" &
WB=$!
IT_CLEANUP+=("touch '$STOP'; kill $WA $WB")

count() { grep -c "^. ok " "$LOG" 2>/dev/null || echo 0; }
count_of() { grep -c "^$1 ok " "$LOG" 2>/dev/null || echo 0; }
at_least() { (($(count) >= $1)); }
poll_until "$GF_WAIT_SECS" at_least 300 || die "the writers did not get going: $(count) creates in ${GF_WAIT_SECS}s"

before=$(count)
GFMD_OLD=$(gf_pidfile_pid "$STATE/gfmd.pid")
check_here "kill -9 gfmd in the middle of the stream" gf_gfmd_kill9
check "gfmd is gone" test ! -e "/proc/$GFMD_OLD/cmdline"
it_say "$before creates acknowledged before the kill"
check_here "start gfmd again" gf_gfmd_start || die "gfmd does not restart after kill -9"
check "the gfsd come back to gfmd" gf_wait_hosts_up

# The stream goes on: each writer gets MORE creates acknowledged, which only
# the new gfmd can do (the old one is gone), so the mount reconnected and
# mutations flow again. Counted from now, when the new gfmd is up.
MORE=50
a0=$(count_of a) b0=$(count_of b)
both_flow() { (($(count_of a) >= a0 + MORE && $(count_of b) >= b0 + MORE)); }
if poll_until "$GF_WAIT_SECS" both_flow; then
	ok "both writers' creates are acknowledged again after the restart (>= $MORE more each)"
else
	fail "the stream did not resume after the restart: writer a $a0 -> $(count_of a), b $b0 -> $(count_of b) in ${GF_WAIT_SECS}s"
fi
touch "$STOP"
for w in $WA $WB; do
	if ! gf_wait_dead "$w"; then
		fail "a writer is stuck in the file system ${GF_WAIT_SECS}s after it was told to stop"
		kill -KILL "$w" 2>/dev/null
		gf_wait_dead "$w"
	fi
done
for w in a b; do
	it_say "writer $w: $(count_of $w) creates, $(grep -c "^$w error " "$LOG") errors"
done
after=$(count)
it_say "$after creates acknowledged in all ($((after - before)) after the kill)"

# Check through a fresh mount, so nothing comes from the old client's caches.
NMOUNTS=2
gf_write_client_conf 2
check_here "a fresh mount after the crash" gf_mount 2 || die "cannot mount after the crash"
"$PY" - "$STATE/mnt2/stream" "$LOG" >"$STATE/verify.out" 2>&1 <<'PYEOF'
import os, sys
d, log = sys.argv[1:3]
names = [l.split()[2] for l in open(log) if l.split()[1:2] == ["ok"]]
missing = [n for n in names if not os.path.exists(os.path.join(d, n))]
wrong = []
for n in names:
    if n in missing:
        continue
    with open(os.path.join(d, n), "rb") as f:
        if f.read() != n.encode():
            wrong.append(n)
print("checked %d acknowledged creates" % len(names))
print("missing %d: %s" % (len(missing), " ".join(missing[:10])))
print("wrong content %d: %s" % (len(wrong), " ".join(wrong[:10])))
sys.exit(1 if missing else (2 if wrong else 0))
PYEOF
rc=$?
cat "$STATE/verify.out"
case $rc in
0) ok "every acknowledged create is present with its content after kill -9 of gfmd" ;;
1) fail "acknowledged creates lost after kill -9 of gfmd" ;;
*) fail "acknowledged creates present but with wrong content" ;;
esac
listed=$(find "$STATE/mnt2/stream" -mindepth 1 | wc -l)
if ((listed >= after)); then
	ok "readdir lists at least every acknowledged create ($listed >= $after)"
else
	fail "readdir lists $listed entries, fewer than $after acknowledged creates"
fi

# ---- rewrites of existing files while gfmd restarts: never an error -------------------
# A hard mount hides gfmd's restarts from applications. An open that
# rewrites an existing file (O_TRUNC) makes gfsd ask gfmd about the
# replica first; until gfmd is back (or gfsd's link to it is), that open
# waits like every other call, through the local socket as over TCP.
mkdir "$MOUNT/rw" || die "cannot mkdir rw"
for i in $(seq 1 20); do echo "start $i" >"$MOUNT/rw/f$i" || die "cannot write rw/f$i"; done
RWLOG=$STATE/rewrites.log STOP2=$STATE/stop-rewriters
rewriter() { stream rewrite "$MOUNT/rw" "$1" "$RWLOG" "$STOP2"; }
rewriter a 2>"$STATE/rewriter-a.err" &
RA=$!
rewriter b 2>"$STATE/rewriter-b.err" &
RB=$!
IT_CLEANUP+=("touch '$STOP2'; kill $RA $RB")
rewrites() { grep -c "^$1 ok" "$RWLOG" 2>/dev/null || echo 0; }
rewrites_past() { (($(rewrites a) >= $1 && $(rewrites b) >= $1)); }
check "two rewriters get going" poll_until "$GF_WAIT_SECS" rewrites_past 30
for round in 1 2 3; do
	check_here "round $round: kill -9 gfmd under the rewriters" gf_gfmd_kill9
	check_here "round $round: gfmd starts again" gf_gfmd_start || die "gfmd does not restart"
	check "round $round: the gfsd are back" gf_wait_hosts_up
	n=$(($(rewrites a) > $(rewrites b) ? $(rewrites a) : $(rewrites b)))
	check "round $round: both rewriters go on" poll_until "$GF_WAIT_SECS" rewrites_past $((n + 20))
done
touch "$STOP2"
for w in $RA $RB; do
	gf_wait_dead "$w" || fail "a rewriter is stuck ${GF_WAIT_SECS}s after it was told to stop"
done
errs=$(grep -c " error " "$RWLOG")
it_say "$(rewrites a) + $(rewrites b) rewrites, $errs errors"
((errs == 0)) && ok "no rewrite failed across 3 restarts of gfmd" ||
	fail "rewrites failed across restarts of gfmd: $(grep " error " "$RWLOG" | head -3)"

it_done
