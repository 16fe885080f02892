#!/bin/bash
# Block checksums (gfsd/sums.h) on 4 hosts (gfsd node1..4, mount K on nodeK):
# - a replica is sealed at its last writer's close and when copied;
# - a byte flipped in a 2-replica file's replica: readers through the mount
#   on that host (a passed fd) and on another host (GFS_READ) get the right
#   bytes; gfsd counts it and tells gfmd; gfwhere shows it corrupt until a
#   new copy replaces it, after which every replica is byte-identical;
# - the only replica corrupt: the bad block reads EIO (locally and
#   remotely), never its bytes; the good blocks still read; gffsck --verify
#   finds it and --repair says it is lost;
# - a corrupt source is never copied: gfrep fails and nothing is made;
# - no false alarm: a file rewritten and appended to under readers on
#   other hosts never reads as corrupt;
# - a replica left without sums: read unchecked, gffsck --verify reports it
#   unsealed and --repair seals it;
# - GFS_VERIFY, GFS_LIST, GFS_ORPHAN_SCAN from a mount's connection are
#   refused (EPERM); GFS_VERIFY with an unknown flag is EINVAL.
# shellcheck disable=SC2317  # helpers are called through poll_until
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
it_require cmp python3
GFREP=$(gf_bin gfrep) || die "gfrep is not built"
GFWHERE=$(gf_bin gfwhere) || die "gfwhere is not built"
GFFSCK=$(gf_bin gffsck) || die "gffsck is not built"
export GF_GFMD_CONF_EXTRA="repair_delay_ms = 2000"
it_cluster_up --gfsd 4 --mounts 4
export GFARMFS_CONFIG=$STATE/admin.conf
M1=$MOUNT M2=$MOUNT2 M4=$MOUNT4

ino_of() { stat -c %i "$1"; }
sums_of() { local f; f=$(spool_of "$1" "$2"); [[ -n $f ]] && echo "$f.sum"; }
stat_of() { gf_stat_value "node$1" "$2"; }
holders() { "$GFWHERE" "$1" 2>/dev/null | tr ' ' '\n' | grep -o '^node[0-9]' | tr -d node | sort | tr '\n' ' '; }
states() { "$GFWHERE" -l "$1" 2>/dev/null | awk 'NR > 1 { print $2 ":" $4 }' | sort | tr '\n' ' '; }
fgen_on() { "$GFWHERE" -l "$2" 2>/dev/null | awk -v h="node$1" 'NR > 1 && $2 == h { print $6 }'; }
# the host of PATH's first current replica in gfmd's order: the one a reader
# without a local replica opens
first_holder() { "$GFWHERE" -l "$1" 2>/dev/null | awk 'NR > 1 && $4 == "current" { print substr($2, 5); exit }'; }
mksrc() { head -c "$2" /dev/urandom >"$STATE/src.$1"; }

# ---- sealing ---------------------------------------------------------------------------
sealed0=$(stat_of 1 sealed)
mksrc two 1000000
cp "$STATE/src.two" "$M1/two" || die "cannot write two"
# (sealing runs in the background after the close: gfsd/sealer.h)
if poll_until "$GF_WAIT_SECS" all_sealed "$M1/two"; then
	ok "a file written on node1: its replica there has a sums file"
else
	fail "no sums beside node1's replica of two: $(ls -l "$(dirname "$(spool_of 1 "$M1/two")")")"
fi
[[ $(stat_of 1 sealed) -gt $sealed0 ]] && ok "  node1 counts it sealed" || fail "  sealed: $(stat_of 1 sealed) (was $sealed0)"
check "gfrep -D node3 two" "$GFREP" -q -D node3 "$M1/two"
[[ -s $(sums_of 3 "$M1/two") ]] && ok "  the copy on node3 is sealed too" || fail "  node3's copy has no sums"

# ---- a corrupt replica of a 2-replica file -----------------------------------------------
fgen1=$(fgen_on 1 "$M1/two")
flip "$(spool_of 1 "$M1/two")" 300000 || die "cannot flip a byte"
drop_caches
if cmp -s "$STATE/src.two" "$M1/two"; then
	ok "a byte flipped in node1's replica: the mount on node1 (local fd) reads the right data"
else
	fail "mount1 read the wrong data of two"
fi
[[ $(stat_of 1 corrupt) -ge 1 ]] && ok "  node1's gfsd counts the corruption" || fail "  node1 corrupt: $(stat_of 1 corrupt)"
# (gfmd marks it corrupt, then a copy replaces it, maybe on node1 again,
# under another file generation: either is "heard")
corrupt_seen() { [[ $(states "$M1/two") == *"node1:corrupt"* || $(fgen_on 1 "$M1/two") != "$fgen1" ]]; }
if poll_until "$GF_WAIT_SECS" corrupt_seen; then
	ok "  gfmd hears of it: node1's replica is no longer current ($(states "$M1/two"))"
else
	fail "  gfmd still serves node1's replica: $(states "$M1/two")"
fi
replaced() {
	local h n=0
	[[ $(states "$M1/two") != *corrupt* ]] || return 1
	for h in $(holders "$M1/two"); do
		cmp -s "$STATE/src.two" "$(spool_of "$h" "$M1/two")" || return 1
		n=$((n + 1))
	done
	((n == 2))
}
if poll_until "$GF_WAIT_SECS" replaced; then
	ok "  a new copy replaces it: 2 current replicas, byte-identical ($(holders "$M1/two"))"
else
	fail "  not replaced: $(states "$M1/two")"
fi
# the same through GFS_READ from another host: flip the replica mount 2 would read
h=$(first_holder "$M1/two")
flip "$(spool_of "$h" "$M1/two")" 5 || die "cannot flip"
drop_caches
c0=$(stat_of "$h" corrupt)
reader=2
[[ " $(holders "$M1/two")" == *" 2 "* ]] && reader=4
[[ " $(holders "$M1/two")" == *" $reader "* ]] && reader=3
mr=$(gf_mount_dir "$reader")
ok_read=1
for _ in 1 2 3; do cmp -s "$STATE/src.two" "$mr/two" || ok_read=0; drop_caches; done
((ok_read)) && ok "node$h's replica corrupt too: mount $reader reads the right data each time" ||
	fail "mount $reader read wrong data of two"
[[ $(stat_of "$h" corrupt) -gt $c0 ]] && ok "  node$h's gfsd counts the corruption it refused to serve" ||
	fail "  node$h corrupt: $(stat_of "$h" corrupt) (was $c0)"
poll_until "$GF_WAIT_SECS" replaced && ok "  and it is replaced as well" || fail "  not replaced: $(states "$M1/two")"

# ---- the only replica corrupt ------------------------------------------------------------
mksrc solo 400000
cp "$STATE/src.solo" "$M2/solo" || die "cannot write solo"
[[ $(holders "$M2/solo") == "2 " ]] || die "solo is not on node2 alone: $(holders "$M2/solo")"
poll_until "$GF_WAIT_SECS" all_sealed "$M2/solo" || fail "solo was never sealed"
flip "$(spool_of 2 "$M2/solo")" 200000 || die "cannot flip"
drop_caches
for m in 1 2; do
	mp=$(gf_mount_dir "$m")
	if out=$(dd if="$mp/solo" bs=65536 skip=3 count=1 status=none 2>&1 | head -c 0; dd if="$mp/solo" of=/dev/null bs=65536 skip=3 count=1 status=none 2>&1); then
		fail "mount $m: the corrupt block of the only replica read without error"
	elif [[ $out == *"Input/output error"* ]]; then
		ok "the only replica corrupt: mount $m ($([[ $m == 2 ]] && echo local || echo remote)) gets EIO for the bad block"
	else
		fail "mount $m: $out"
	fi
	if cmp -s <(head -c 131072 "$STATE/src.solo") <(dd if="$mp/solo" bs=65536 count=2 status=none); then
		ok "  mount $m still reads its good blocks"
	else
		fail "  mount $m: the good blocks do not read right"
	fi
	drop_caches
done
out=$("$GFFSCK" --verify 2>&1)
rc=$?
if [[ $rc == 1 && $out == *"node2: inode $(ino_of "$M2/solo") file "*": corrupt: block 3 "* ]]; then
	ok "gffsck --verify finds it (block 3; exit 1)"
else
	fail "gffsck --verify: rc $rc: $out"
fi
out=$("$GFFSCK" --verify --repair 2>&1)
[[ $out == *"inode $(ino_of "$M2/solo"): cannot repair: no other current replica"* ]] &&
	ok "  --repair says it cannot be repaired" || fail "  --repair: $out"
[[ $(holders "$M2/solo") == "2 " ]] && ok "  and the replica is kept (its good blocks still read)" ||
	fail "  solo's replicas: $(states "$M2/solo")"

# ---- a corrupt source is never copied ------------------------------------------------------
if "$GFREP" -q -D node3 "$M2/solo" 2>"$STATE/rep.err"; then
	fail "gfrep copied a corrupt replica"
else
	grep -q "corrupt" "$STATE/rep.err" && ok "gfrep -D of the corrupt file fails, saying why" ||
		fail "gfrep's error: $(cat "$STATE/rep.err")"
fi
[[ -z $(spool_of 3 "$M2/solo") && $(holders "$M2/solo") == "2 " ]] && ok "  nothing was made on node3" ||
	fail "  node3: $(spool_of 3 "$M2/solo"); $(states "$M2/solo")"
solo_spool=$(spool_of 2 "$M2/solo")
rm -f "$M2/solo"
gone() { [[ ! -e $1 ]]; }
poll_until "$GF_WAIT_SECS" gone "$solo_spool" || fail "solo's replica stays after unlink"

# ---- no false alarms under rewriting -------------------------------------------------------
before=0
for k in 1 2 3 4; do before=$((before + $(stat_of "$k" corrupt))); done
mksrc live 300000
cp "$STATE/src.live" "$M1/live" || die "cannot write live"
"$GFREP" -q -N 2 "$M1/live" || die "gfrep live"
(
	for i in $(seq 1 60); do
		dd if=/dev/urandom of="$M1/live" bs=4096 count=8 seek=$((i % 50)) conv=notrunc status=none
		echo "line $i" >>"$M1/live"
	done
) &
writer=$!
errs=0
while kill -0 "$writer" 2>/dev/null; do
	for m in 2 4; do cat "$(gf_mount_dir "$m")/live" >/dev/null 2>>"$STATE/live.err" || errs=$((errs + 1)); done
done
wait "$writer"
drop_caches
for m in 2 4; do cat "$(gf_mount_dir "$m")/live" >/dev/null 2>>"$STATE/live.err" || errs=$((errs + 1)); done
after=0
for k in 1 2 3 4; do after=$((after + $(stat_of "$k" corrupt))); done
if ((errs == 0 && after == before)); then
	ok "a 2-replica file rewritten and appended to under readers on 2 other hosts: no read error, no corruption counted"
else
	fail "false alarms: $errs read errors, corrupt $before -> $after: $(head -n 3 "$STATE/live.err")"
fi
cmp -s "$M1/live" "$(gf_mount_dir 4)/live" && ok "  every mount reads the same final data" || fail "  mounts differ"

# ---- unsealed replicas -----------------------------------------------------------------------
mksrc bare 200000
cp "$STATE/src.bare" "$M4/bare" || die "cannot write bare"
poll_until "$GF_WAIT_SECS" all_sealed "$M4/bare" || fail "bare was never sealed"
rm -f "$(sums_of 4 "$M4/bare")"
drop_caches
cmp -s "$STATE/src.bare" "$M4/bare" && ok "a replica without sums is read (unchecked)" || fail "bare does not read"
out=$("$GFFSCK" --verify 2>&1)
rc=$?
[[ $rc == 1 && $out == *"node4: inode $(ino_of "$M4/bare") file "*": unsealed"* ]] &&
	ok "gffsck --verify reports it unsealed (exit 1)" || fail "unsealed: rc $rc: $out"
out=$("$GFFSCK" --verify --repair 2>&1)
[[ $out == *"inode $(ino_of "$M4/bare"): repaired: sealed"* && -s $(sums_of 4 "$M4/bare") ]] &&
	ok "  --repair seals it" || fail "  --repair: $out"
# (copies gfmd dropped while live was rewritten go at a heartbeat: orphans till then)
clean() { out=$("$GFFSCK" --verify 2>&1) && [[ $out == *", 0 corrupt, 0 unsealed"* ]]; }
poll_until "$GF_WAIT_SECS" clean && ok "gffsck --verify finds nothing left (exit 0)" || fail "after repair: $out"

# ---- spool-wide requests are for administrators and gfmd -----------------------------------------
port=$(awk '$1 == "gfsd_port" { print $3 }' "$STATE/node1/gfsd.conf")
for op in verify list orphan-scan; do
	out=$(python3 "$IT_DIR/peer.py" --key "$STATE/key" --op "$op" --count 1 --statuses --hold 0 \
		"tcp:127.0.0.1:$port" 2>&1)
	grep -qx "status -1" <<<"$out" && ok "$op from a client connection: EPERM" || fail "$op from a client: $out"
	out=$(python3 "$IT_DIR/peer.py" --key "$STATE/key" --kind admin --op "$op" --count 1 --statuses \
		--hold 0 "tcp:127.0.0.1:$port" 2>&1)
	grep -q "^status " <<<"$out" && ! grep -qx "status -1" <<<"$out" && ok "  from an admin connection: served" ||
		fail "  $op from an admin: $out"
done
out=$(python3 "$IT_DIR/peer.py" --key "$STATE/key" --kind admin --op verify-badflags --count 1 \
	--statuses --hold 0 "tcp:127.0.0.1:$port" 2>&1)
grep -qx "status -22" <<<"$out" && ok "GFS_VERIFY with an unknown flag: EINVAL" || fail "verify-badflags: $out"
check "  node1's gfsd still serves" gf_stat_value node1 heartbeats

it_done
