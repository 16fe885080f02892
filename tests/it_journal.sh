#!/bin/bash
# gfmd's journal in the fsync mode (`durability = fsync`, `journal = PATH`;
# issue 10; the default mode's journal is it_jsync's): a mutation is
# acknowledged once written to the journal, before PostgreSQL holds it, and
# gfmd replays at its start what the database lacks. Under kill -9:
#   - with PostgreSQL's WAL writer held back, a kill -9 of PostgreSQL and of
#     gfmd together loses none of 200 acknowledged creates and renames, a
#     mkdir, a chmod and a setxattr (the same crash without a journal loses
#     a mkdir: it_durability), though the journal was emptied twice on the
#     way (journal_max_kb), and gfmd's log says it replayed them;
#   - the next start replays nothing again, and loses nothing; a crash
#     before a run's first commit (PostgreSQL frozen) loses nothing either;
#   - bad input: a torn tail (bytes of a write cut short) is ignored with a
#     warning; a journal whose header is damaged stops gfmd before it
#     serves, naming it, and is left as it was; a relative journal path, and
#     flush_ms or journal_max_kb out of range, stop gfmd, naming them; a
#     full disk under the journal is logged, gfmd goes on
#     (each mutation then acknowledged once PostgreSQL holds it, as without
#     a journal) and a kill -9 of gfmd loses none of them;
#   - a crash right after the journal was emptied loses nothing (what it
#     dropped was flushed to disk first).
# shellcheck disable=SC2317  # helpers are called through poll_until
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
it_require getfattr
JDIR=$(mktemp -d /tmp/gfjournal.XXXXXX)
# a small file system of its own, so that the test can fill it
mount -t tmpfs -o size=4m gfjournal "$JDIR" || die "cannot mount a tmpfs on $JDIR"
IT_CLEANUP+=("umount -l '$JDIR'; rmdir '$JDIR'")
J=$JDIR/gfmd.journal
# (journal_max_kb: emptied at 64 KiB, so the crash below comes after the
# journal was emptied twice on the way: 400 records are about 160 KB;
# flush_ms: no flush but those the test asks for, or the journal's)
GF_GFMD_CONF_EXTRA="durability = fsync
journal = $J
journal_max_kb = 64
flush_ms = 3600000" it_cluster_up --gfsd 1 --mounts 1
M=$MOUNT

check "gfmd made its journal" test -s "$J"
check "and said so" grep -q "journal $J: epoch" "$STATE/gfmd.log"
check "PostgreSQL: WAL writer and background writer held back" gf_pg_hold_wal

remount() { gf_umount 1 && gf_mount 1; }
# where the journal's records end: the file is grown with zeros ahead of them
records_end() { "$PY" -c 'import sys; print(len(open(sys.argv[1], "rb").read().rstrip(b"\0")))' "$J"; }
all_there() { # every mutation of the first part is visible
	[[ $(find "$M/g" -name 'f*.r' | wc -l) == 200 && -d $M/late &&
		$(stat -c %a "$M/g/f000.r") == 600 &&
		$(getfattr --only-values -n user.tag "$M/g/f001.r" 2>/dev/null) == kept ]]
}

# ---- a kill -9 of PostgreSQL and gfmd together loses nothing acknowledged ------------
mkdir "$M/g" || die "mkdir g"
check "200 creates, 200 renames, a chmod, a setxattr, a mkdir acknowledged" py '
for i in range(200):
    p = M + "/g/f%03d" % i
    os.close(os.open(p, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
    os.rename(p, p + ".r")
os.chmod(M + "/g/f000.r", 0o600)
os.setxattr(M + "/g/f001.r", "user.tag", b"kept")
os.mkdir(M + "/late")'
check "all of it visible" all_there
check "the journal was emptied on the way (records under 120 KiB; unemptied, 160 KB)" \
	test "$(records_end)" -lt 122880
# (gfmd first: alone, it would exit at its next commit, which fails)
check_here "kill -9 of gfmd" gf_gfmd_kill9
check_here "kill -9 of PostgreSQL" gf_pg_kill9
check_here "PostgreSQL, gfmd and the mount start again" gf_restart_after_crash ||
	die "the cluster does not come back"
check "gfmd replayed the journal" grep -q "journal $J: replayed" "$STATE/gfmd.log"
check "every acknowledged mutation survived the crash" all_there
expect_eq "and no name from before a rename" 0 "$(find "$M/g" -name 'f???' | wc -l)"

# ---- the next start replays nothing again ---------------------------------------------
check "a create after the replay" touch "$M/after"
check_here "kill -9 of gfmd" gf_gfmd_kill9
: >"$STATE/gfmd.log"
check_here "gfmd starts again" gf_gfmd_start || die "gfmd does not restart"
check "it started a third epoch (one per start)" grep -qE "journal $J: epoch 3( |$)" "$STATE/gfmd.log"
check_here "a fresh mount" remount
check "everything is still there" all_there
check "the create after the replay too" test -e "$M/after"

# ---- a crash before a run's first commit ----------------------------------------------------
# A new epoch's tickets start again at 1: the database's ticket of the last
# epoch must not hide them from the next replay
check_here "gfmd restarted (a new epoch)" eval 'gf_gfmd_stop && gf_gfmd_start'
check_here "PostgreSQL frozen: no commit can happen" gf_pg_pause
check "a mkdir acknowledged meanwhile (journaled only)" mkdir "$M/frozen"
check_here "kill -9 of gfmd" gf_gfmd_kill9
check_here "kill -9 of PostgreSQL" gf_pg_kill9
check_here "PostgreSQL, gfmd and the mount start again" gf_restart_after_crash ||
	die "the cluster does not come back"
check "the mkdir survived" test -d "$M/frozen"
check "and everything from before" all_there

# ---- a torn tail --------------------------------------------------------------------
check_here "kill -9 of gfmd" gf_gfmd_kill9
head -c 1000 /dev/urandom >>"$J"
: >"$STATE/gfmd.log"
check_here "gfmd starts with 1000 bytes of garbage after the last record" gf_gfmd_start ||
	die "gfmd does not start after a torn tail"
check "it warned about them" grep -q "bytes after its last whole record ignored" "$STATE/gfmd.log"
check_here "a fresh mount" remount
check "and lost nothing" all_there

# ---- a damaged header (another cluster's journal: check_journal) --------------------------
check_here "gfmd stopped" gf_gfmd_stop
cp "$J" "$STATE/journal.saved"
# a byte of the cluster id (bytes 8..23): the header's checksum no longer matches
printf '\x42' | dd of="$J" bs=1 seek=8 conv=notrunc status=none
out=$(timeout 60 "$(gf_bin gfmd)" -c "$STATE/gfmd.conf" -f 2>&1) # (timeout: only against a hang)
rc=$?
[[ $rc != 0 && $out == *"not a gfmd journal"* && $out == *"$J"* ]] &&
	ok "a journal with a damaged header stops gfmd before it serves, naming it (exit $rc)" ||
	fail "gfmd with a damaged journal header: exit $rc: $out"
check "and the file is left as it was" bash -c "! cmp -s '$J' '$STATE/journal.saved' && test \$(stat -c %s '$J') = \$(stat -c %s '$STATE/journal.saved')"
cp "$STATE/journal.saved" "$J"
check_here "gfmd starts with its own journal back" gf_gfmd_start || die "gfmd does not restart"

sed 's|^journal = .*|journal = relative/gfmd.journal|' "$STATE/gfmd.conf" >"$STATE/rel.conf"
out=$(timeout 60 "$(gf_bin gfmd)" -c "$STATE/rel.conf" -f 2>&1) # (timeout: only against a hang)
rc=$?
[[ $rc != 0 && $out == *"journal 'relative/gfmd.journal': expected an absolute path"* ]] &&
	ok "a relative journal path stops gfmd, naming it (exit $rc)" ||
	fail "relative journal path: exit $rc: $out"

for kv in "flush_ms = 5" "flush_ms = soon" "journal_max_kb = 63" "journal_max_kb = -1"; do
	{ grep -v '^flush_ms\|^journal_max_kb' "$STATE/gfmd.conf"; echo "$kv"; } >"$STATE/bad.conf"
	out=$(timeout 60 "$(gf_bin gfmd)" -c "$STATE/bad.conf" -f 2>&1) # (timeout: only against a hang)
	rc=$?
	[[ $rc != 0 && $out == *"${kv%% *}"* ]] &&
		ok "gfmd refuses $kv, naming the key (exit $rc)" || fail "$kv: exit $rc: $out"
done

# ---- a full disk under the journal ------------------------------------------------------------
# (filled while gfmd is stopped and its journal empty: the first record
# written after the start needs room the journal does not have)
check_here "gfmd stopped (its journal emptied)" gf_gfmd_stop
check_here "the journal's file system filled" eval \
	"dd if=/dev/zero of='$JDIR/filler' bs=4k status=none 2>/dev/null; true"
check_here "gfmd starts again" gf_gfmd_start || die "gfmd does not restart"
check_here "a fresh mount" remount
mkdir "$M/full" || die "mkdir full"
check "50 creates on a full journal still acknowledged" py '
for i in range(50):
    os.close(os.open(M + "/full/c%02d" % i, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))'
check "gfmd logged the failed write" grep -q "journal $J: writing it failed" "$STATE/gfmd.log"
check_here "kill -9 of gfmd" gf_gfmd_kill9
rm -f "$JDIR/filler"
check_here "gfmd starts again" gf_gfmd_start || die "gfmd does not restart"
check_here "a fresh mount" remount
expect_eq "none of the 50 is lost" 50 "$(find "$M/full" -name 'c*' | wc -l)"
check "nor anything from before" all_there

# ---- a crash right after the journal was emptied ---------------------------------------------
# What the journal drops when it is emptied must be on disk in PostgreSQL
# (the commit that empties it is flushed): creates until the file shrinks,
# then at once a kill -9 of gfmd and PostgreSQL, whose last WAL page (with
# that commit, were it not flushed) goes with it
mkdir "$M/rot" || die "mkdir rot"
check "creates until the journal is emptied" py '
J = "'"$J"'"
def end():
    return len(open(J, "rb").read().rstrip(b"\0"))
last = end()
for i in range(20000):
    os.close(os.open(M + "/rot/c%05d" % i, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
    size = end()
    if size < last:
        open("'"$STATE/rot.n"'", "w").write(str(i + 1))
        break
    last = size
else:
    raise SystemExit("the journal was never emptied")'
check_here "kill -9 of gfmd" gf_gfmd_kill9
check_here "kill -9 of PostgreSQL" gf_pg_kill9
check_here "PostgreSQL, gfmd and the mount start again" gf_restart_after_crash ||
	die "the cluster does not come back"
expect_eq "every create, from before and after the emptying, survived" \
	"$(cat "$STATE/rot.n")" "$(find "$M/rot" -name 'c*' | wc -l)"

it_done
