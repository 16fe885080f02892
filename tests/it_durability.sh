#!/bin/bash
# gfmd's opt-in durability mode `durability = fsync` (issue 10) keeps its
# promise under kill -9:
#   a mutation is acknowledged once PostgreSQL holds it: a kill -9 of gfmd
#     right after the acknowledgements loses none of them;
#   fsync(2) of a directory and of a file return once everything
#     acknowledged before them is on disk: a kill -9 of PostgreSQL and gfmd
#     together (a crash of the machine, as far as the database can tell)
#     loses none of it, the data and size of the fsync'ed file included;
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
unlink_grace_ms = 0' it_cluster_up --gfsd 1 --mounts 1
M=$MOUNT

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
# after the last fsync: acknowledged, not yet on disk
os.mkdir(M + "/late")'
check "the late mkdir was acknowledged" test -d "$M/late"
# (gfmd first: alone, it would exit at its next commit, which fails)
check_here "kill -9 of gfmd" gf_gfmd_kill9
check_here "kill -9 of PostgreSQL" gf_pg_kill9
check_here "PostgreSQL, gfmd and the mount start again" gf_restart_after_crash ||
	die "the cluster does not come back"
expect_eq "every entry the directory fsync covered is there" 50 \
	"$(find "$M/s" -name 'e*' | wc -l)"
check "the fsync'ed file, its size and its data" cmp "$STATE/data" "$M/fsynced"
if [[ -e $M/late ]]; then
	fail "the mkdir after the last fsync survived the crash: nothing here can see a loss"
else
	ok "the mkdir after the last fsync is gone (the mode allows it): a loss is visible here"
fi

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
