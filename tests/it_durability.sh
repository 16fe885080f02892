#!/bin/bash
# gfmd's opt-in durability mode `durability = fsync` (issue 10) keeps its
# promise under kill -9:
#   a mutation is acknowledged once PostgreSQL holds it: a kill -9 of gfmd
#     right after the acknowledgements loses none of them;
#   fsync(2) of a directory and of a file return once everything
#     acknowledged before them is on disk: a kill -9 of PostgreSQL and gfmd
#     together (a crash of the machine, as far as the database can tell)
#     loses none of it, the data and size of the fsync'ed file included;
#     so does fdatasync(2) of a file rewritten in place, which tells gfmd
#     nothing new (its mtime waits for the close, as after any write);
#   an fdatasync whose file was cut meanwhile through another mount makes
#     gfmd's size cover the writer's bytes again;
#   and the mode is really asynchronous: with PostgreSQL's background
#     writers held back, a create after the last fsync is lost by that
#     crash (what the mode allows), which shows this test can see a loss;
#   a replica file is deleted only once the unlink that killed it is on
#     disk: an orphan scan right after an unflushed unlink has it flushed,
#     so the crash cannot bring the file back without its data;
#   bad input: a durability value gfmd does not know stops it before it
#     starts, naming the key; a GFM_SYNC with a payload closes only that
#     connection.
# The default mode's promise (every acknowledgement survives everything) is
# it_crash's and it_commit's.
# shellcheck disable=SC2317  # helpers are called through poll_until
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# (flush_ms: no flush of gfmd's own before the test's crash, so that the
# mutation after the last fsync is really left unflushed)
# (unlink_grace_ms: an unlinked file's replica is dead at once)
GF_GFMD_CONF_EXTRA='durability = fsync
flush_ms = 3600000
unlink_grace_ms = 0' it_cluster_up --gfsd 1 --mounts 2
M=$MOUNT M2=$MOUNT2

check "gfmd runs in the fsync mode" grep -q '^durability = fsync' "$STATE/gfmd.conf"
# Nothing but a commit that asks for it may flush the WAL: an async commit
# stays in PostgreSQL's memory until a flush.
check "PostgreSQL: WAL writer and background writer held back" gf_pg_hold_wal

# ---- a kill -9 of gfmd loses no acknowledged mutation ------------------------------
mkdir "$M/g" || die "mkdir g"
check "200 creates and 200 renames acknowledged" py '
for i in range(200):
    p = M + "/g/f%03d" % i
    os.close(os.open(p, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
    os.rename(p, p + ".r")'
check_here "kill -9 of gfmd right after" gf_gfmd_kill9
check_here "gfmd starts again" gf_gfmd_start || die "gfmd does not restart"
check_here "its hosts report" gf_wait_hosts_up
check_here "a fresh mount" eval 'gf_umount 1 && gf_mount 1'
expect_eq "every acknowledged create and rename is there" 200 \
	"$(find "$M/g" -name 'f*.r' | wc -l)"
expect_eq "and no name from before a rename" 0 "$(find "$M/g" -name 'f???' | wc -l)"

# ---- fsync: on disk, whatever happens to the machine --------------------------------
head -c 300000 /dev/urandom >"$STATE/data"
check "50 entries, fsync of their directory, a file written and fsync'ed" py '
d = M + "/s"
os.mkdir(d)
for i in range(50):
    os.close(os.open(d + "/e%02d" % i, os.O_CREAT | os.O_WRONLY, 0o644))
fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
os.fsync(fd)
os.close(fd)
fd = os.open(M + "/fsynced", os.O_CREAT | os.O_WRONLY, 0o644)
os.write(fd, open("'"$STATE/data"'", "rb").read())
os.fsync(fd)
os.close(fd)
# rewritten in place: the second fdatasync has no size to tell gfmd, and
# still returns only once the mkdir before it is on disk
fd = os.open(M + "/dsynced", os.O_CREAT | os.O_RDWR, 0o644)
os.write(fd, open("'"$STATE/data"'", "rb").read())
os.fdatasync(fd)
os.pwrite(fd, b"z" * 4096, 8192)
os.mkdir(M + "/before-fdatasync")
os.fdatasync(fd)
os.close(fd)
# after the last fsync: acknowledged, not yet on disk
os.mkdir(M + "/late")'
check "the late mkdir was acknowledged" test -d "$M/late"
{ head -c 8192 "$STATE/data"; head -c 4096 /dev/zero | tr '\0' z; tail -c +12289 "$STATE/data"; } \
	>"$STATE/ddata"
# (gfmd first: alone, it would exit at its next commit, which fails)
check_here "kill -9 of gfmd" gf_gfmd_kill9
check_here "kill -9 of PostgreSQL" gf_pg_kill9
check_here "PostgreSQL, gfmd and the mount start again" gf_restart_after_crash ||
	die "the cluster does not come back"
expect_eq "every entry the directory fsync covered is there" 50 \
	"$(find "$M/s" -name 'e*' | wc -l)"
check "the fsync'ed file, its size and its data" cmp "$STATE/data" "$M/fsynced"
check "the mkdir before the second fdatasync is there" test -d "$M/before-fdatasync"
check "the fdatasync'ed file, its size and its data" cmp "$STATE/ddata" "$M/dsynced"
if [[ -e $M/late ]]; then
	fail "the mkdir after the last fsync survived the crash: nothing here can see a loss"
else
	ok "the mkdir after the last fsync is gone (the mode allows it): a loss is visible here"
fi

# ---- fdatasync after a cut through another mount; the mtime at close --------------
# A writer on mount 1 keeps its file open; mount 2 cuts the file to 0;
# the writer rewrites bytes it had written (its own furthest byte does not
# move, so its fdatasync asks gfmd to change nothing if the size covers
# it) and fdatasyncs: gfmd's size must cover those bytes again. The mtime,
# which an fdatasync does not tell, arrives with the close.
rm -f "$STATE"/cut.*
M=$M S=$STATE "$PY" -c '
import os, time
M, S = os.environ["M"], os.environ["S"]
def wait_for(name):
    while not os.path.exists(S + "/" + name):
        time.sleep(0.02)
fd = os.open(M + "/cut", os.O_CREAT | os.O_RDWR, 0o644)
os.write(fd, b"a" * 8192)
os.fdatasync(fd)
open(S + "/cut.written", "w").close()
wait_for("cut.go")
t = time.time()
os.pwrite(fd, b"w" * 4096, 4096)
os.fdatasync(fd)
with open(S + "/cut.synced", "w") as f:
    f.write("%.6f" % t)
wait_for("cut.close")
os.close(fd)
open(S + "/cut.closed", "w").close()' &
CUT_PID=$!
IT_CLEANUP+=("kill $CUT_PID 2>/dev/null")
there() { [[ -e $1 ]]; }
check "mount 1 writes 8192 bytes and fdatasyncs them, file kept open" \
	poll_until "$GF_WAIT_SECS" there "$STATE/cut.written"
check "mount 2 cuts the file to 0 bytes" truncate -s 0 "$M2/cut"
size2_is() { [[ $(stat -c %s "$M2/cut") == "$1" ]]; }
check "mount 2 sees 0 bytes" poll_until "$GF_WAIT_SECS" size2_is 0
touch "$STATE/cut.go"
check "mount 1 rewrites bytes 4096-8191 and fdatasyncs" \
	poll_until "$GF_WAIT_SECS" there "$STATE/cut.synced"
poll_until "$GF_WAIT_SECS" size2_is 8192 &&
	ok "gfmd's size covers the rewritten bytes again (mount 2 sees 8192)" ||
	fail "after the fdatasync mount 2 sees $(stat -c %s "$M2/cut") bytes, not 8192"
touch "$STATE/cut.close"
check "mount 1 closes it" poll_until "$GF_WAIT_SECS" there "$STATE/cut.closed"
mtime_after() { py 'assert os.stat(M2 + "/cut").st_mtime >= '"$(cat "$STATE/cut.synced")"; }
poll_until "$GF_WAIT_SECS" mtime_after &&
	ok "after the close mount 2 sees the rewrite's mtime" ||
	fail "mount 2's mtime $(stat -c %.6Y "$M2/cut") is older than the rewrite ($(cat "$STATE/cut.synced"))"
{ head -c 4096 /dev/zero; head -c 4096 /dev/zero | tr '\0' w; } >"$STATE/cut.want"
check "mount 2 reads zeros, then the rewritten bytes" cmp "$STATE/cut.want" "$M2/cut"
wait "$CUT_PID"

# ---- a deletion that a crash could roll back never reaches the data -----------------
# gfsd's orphan scan removes the replica files gfmd does not list; gfmd
# lists only what is on disk, so an unlink not yet flushed is flushed before
# the scan may act on it (else the crash below would bring the file back
# without its data)
head -c 200000 /dev/urandom >"$STATE/kept"
check "a file written and fsync'ed" py '
fd = os.open(M + "/victim", os.O_CREAT | os.O_WRONLY, 0o644)
os.write(fd, open("'"$STATE/kept"'", "rb").read())
os.fsync(fd)
os.close(fd)'
check "its replica file is there" test -n "$(spool_of 1 "$M/victim")"
vfile=$(spool_of 1 "$M/victim")
check "then unlinked (acknowledged, not yet on disk)" rm "$M/victim"
check "an orphan scan asked of its gfsd" "$(gf_bin gffsck)" -c "$STATE/admin.conf" --repair
gone() { [[ ! -e $1 ]]; }
check "the scan removed the dead replica file" poll_until "$GF_WAIT_SECS" gone "$vfile"
# (gfmd first: alone, it would exit at its next commit, which fails)
check_here "kill -9 of gfmd" gf_gfmd_kill9
check_here "kill -9 of PostgreSQL" gf_pg_kill9
check_here "PostgreSQL, gfmd and the mount start again" gf_restart_after_crash ||
	die "the cluster does not come back"
if [[ -e $M/victim ]]; then
	check "the file came back: then with all of its data" cmp "$STATE/kept" "$M/victim"
else
	ok "the unlink survived the crash (the scan had it flushed)"
fi

# ---- bad input ------------------------------------------------------------------------------
bad=$STATE/bad-gfmd.conf
sed 's/^durability = fsync$/durability = sometimes/' "$STATE/gfmd.conf" >"$bad"
out=$(timeout 60 "$(gf_bin gfmd)" -c "$bad" -f 2>&1) # (timeout: only against a hang)
rc=$?
[[ $rc != 0 && $out == *durability* && $out == *sometimes* ]] &&
	ok "gfmd refuses durability = sometimes, naming it (exit $rc)" ||
	fail "gfmd with durability = sometimes: exit $rc: $out"
peer() { "$PY" "$IT_DIR/peer.py" --key "$KEY" --count 1 --statuses --hold 0 "$@" \
	"tcp:127.0.0.1:$GFMD_PORT" 2>&1; }
out=$(peer --op sync)
grep -q "status 0" <<<"$out" && ok "a GFM_SYNC is answered (status 0)" || fail "sync: $out"
out=$(peer --op sync-payload)
grep -q "closed by server" <<<"$out" && ok "a GFM_SYNC with a payload closes its connection" ||
	fail "sync-payload: $out"
check "and gfmd serves the others still" stat "$M/fsynced"

it_done
