#!/bin/bash
# gffsck: the catalogue against the spools (3 gfsd, one mount).
# - a healthy cluster: nothing found, exit 0;
# - a planted orphan: found (exit 1); --repair has it removed;
# - a replica file deleted from a spool (missing) and one cut short (short)
#   of 2-replica files: found; --repair drops them and gfmd makes new ones,
#   after which the data reads right and gffsck finds nothing;
# - the only replica of a file gone: found, and --repair says it is lost;
# - a host down: said, not checked, exit 1;
# - bad command lines: exit 2.
# shellcheck disable=SC2317  # helpers are called through poll_until
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
it_require
GFFSCK=$(gf_bin gffsck) || die "gffsck is not built"
GFREP=$(gf_bin gfrep) || die "gfrep is not built"
GFWHERE=$(gf_bin gfwhere) || die "gfwhere is not built"
export GF_GFMD_CONF_EXTRA="repair_delay_ms = 2000"
it_cluster_up --gfsd 3 --mounts 1
export GFARMFS_CONFIG=$STATE/admin.conf
fsck() { "$GFFSCK" "$@"; }
nrep() { "$GFWHERE" "$1" 2>/dev/null | awk '{ print NF - 1 }'; }
ino_of() { stat -c %i "$1"; }
spool_file() { # spool_file K INO: the replica file of INO on nodeK
	find "$STATE/node$1/spool/data" -type f -name "$(printf '%016x-' "$2")????????????????" | head -n 1
}
holder_other_than_1() { # a host other than node1 holding PATH
	"$GFWHERE" "$1" | tr ' ' '\n' | grep -x 'node[23]' | head -n 1 | tr -d node
}

declare -A SUM
for f in a b c solo; do
	head -c $((200000 + RANDOM)) /dev/urandom >"$STATE/src.$f"
	cp "$STATE/src.$f" "$MOUNT/$f" || die "cannot write $f"
	SUM[$f]=$(sha256sum <"$STATE/src.$f" | cut -d' ' -f1)
done
check "gfrep -N 2 a b c" "$GFREP" -q -N 2 "$MOUNT/a" "$MOUNT/b" "$MOUNT/c"
echo small >"$MOUNT/never-copied"
: >"$MOUNT/empty"

out=$(fsck 2>&1)
rc=$?
if [[ $rc == 0 && $out == *"3 hosts checked"*": 0 missing, 0 short, 0 orphans"* ]]; then
	ok "a healthy cluster: gffsck finds nothing (exit 0)"
else
	fail "healthy: rc $rc: $out"
fi

# ---- an orphan ------------------------------------------------------------------------
orphan=$STATE/node2/spool/data/77/0000000000777777-0000000000000001
echo "left by a crash" >"$orphan" || die "cannot plant an orphan"
out=$(fsck 2>&1)
rc=$?
if [[ $rc == 1 && $out == *"node2: inode 7829367 file 0000000000000001: orphan"* ]]; then
	ok "a planted orphan is found (exit 1)"
else
	fail "orphan: rc $rc: $out"
fi
check "gffsck --repair" fsck --repair
gone() { [[ ! -e $1 ]]; }
if poll_until "$GF_WAIT_SECS" gone "$orphan"; then ok "  the orphan is removed"; else fail "  the orphan stays"; fi

# ---- missing and short replicas of 2-replica files -----------------------------------------
k=$(holder_other_than_1 "$MOUNT/a")
[[ -n $k ]] || die "a has no replica off node1: $("$GFWHERE" "$MOUNT/a")"
rm -f "$(spool_file "$k" "$(ino_of "$MOUNT/a")")" || die "cannot delete a's replica"
j=$(holder_other_than_1 "$MOUNT/b")
truncate -s 1000 "$(spool_file "$j" "$(ino_of "$MOUNT/b")")" || die "cannot cut b's replica"
out=$(fsck 2>&1)
rc=$?
[[ $rc == 1 ]] && ok "damaged replicas: exit 1" || fail "damaged: rc $rc: $out"
grep -q "node$k: inode $(ino_of "$MOUNT/a") file .*: missing" <<<"$out" && ok "  a's deleted replica on node$k: missing" || fail "  no missing line: $out"
grep -q "node$j: inode $(ino_of "$MOUNT/b") file .*: short" <<<"$out" && ok "  b's cut replica on node$j: short" || fail "  no short line: $out"
out=$(fsck --repair 2>&1)
rc=$?
if [[ $rc == 0 && $out == *"2 repaired, 0 lost"* ]]; then
	ok "gffsck --repair repairs both (exit 0)"
else
	fail "repair: rc $rc: $out"
fi
two() { [[ $(nrep "$1") == 2 ]]; }
if poll_until "$GF_WAIT_SECS" two "$MOUNT/a" && poll_until "$GF_WAIT_SECS" two "$MOUNT/b"; then
	ok "  gfmd made new replicas: a and b have 2 again"
else
	fail "  a: $("$GFWHERE" "$MOUNT/a"), b: $("$GFWHERE" "$MOUNT/b")"
fi
clean() { fsck -q >/dev/null 2>&1; }
if poll_until "$GF_WAIT_SECS" clean; then ok "  and gffsck finds nothing"; else fail "  still: $(fsck 2>&1)"; fi
for f in a b c; do
	for k in 2 3; do
		sync
		echo 3 >/proc/sys/vm/drop_caches
		got=$(sha256sum <"$MOUNT/$f" | cut -d' ' -f1)
		[[ $got == "${SUM[$f]}" ]] || fail "$f reads wrong"
	done
done
ok "a, b and c read right"

# ---- the only replica gone ------------------------------------------------------------------------
rm -f "$(spool_file 1 "$(ino_of "$MOUNT/solo")")" || die "cannot delete solo's replica"
out=$(fsck --repair 2>&1)
rc=$?
if [[ $rc == 1 && $out == *"cannot repair: no other current replica"* && $out == *"1 lost"* ]]; then
	ok "the only replica gone: --repair says it is lost (exit 1)"
else
	fail "lost: rc $rc: $out"
fi
rm -f "$MOUNT/solo"

# ---- a host down; bad command lines --------------------------------------------------------------
check_here "gfsd node3 stops" gf_gfsd_stop 3
down() { "$GFWHERE" -l "$MOUNT/c" 2>/dev/null | grep -q ' down '; }
poll_until "$GF_WAIT_SECS" down || gf_log "node3 not seen down yet"
out=$(fsck 2>&1)
rc=$?
if [[ $rc == 1 && $out == *"node3: its gfsd is down: not checked"* ]]; then
	ok "a host down: said, not checked, exit 1"
else
	fail "down: rc $rc: $out"
fi
check_here "gfsd node3 starts again" gf_gfsd_start 3
gf_wait_hosts_up || die "hosts not up"
rc=$(fsck extra >/dev/null 2>&1; echo $?)
expect_eq "gffsck with an operand: usage error (2)" 2 "$rc"
rc=$(fsck --bogus >/dev/null 2>&1; echo $?)
expect_eq "gffsck with an unknown option: usage error (2)" 2 "$rc"
check "gffsck --help" fsck --help

it_done
