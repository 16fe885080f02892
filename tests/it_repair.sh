#!/bin/bash
# Replica counts and background repair on the multi-host test bed (4 hosts):
# - gfncopy sets a directory's count; files (and directories) made below it
#   inherit it and reach it after their last close, not while open;
# - gfncopy shows and unsets it; a count that is no number is EINVAL;
# - gfrep -N records its count;
# - kill -9 of a gfsd under readers of 2-replica files: no reader sees an
#   error, and after repair_delay_ms every file has 2 replicas on up hosts
#   again, byte-identical;
# - the host comes back: the replicas now beyond the count are removed;
# - a count lowered on a file: extra replicas go;
# - a write to a replicated file marks its other replicas stale (gfwhere
#   -l), never served; after the last close they are refreshed (count 2) or
#   removed (count 1);
# - a file appended to just after its first close, while that copy is on its
#   way, still reaches 2 current replicas of its last contents;
# - gfhost drain under readers: afterwards the host holds nothing, every
#   file still has its count, no reader saw an error, new data goes
#   elsewhere; gfhost list shows it draining; undrain ends it.
# shellcheck disable=SC2317  # helpers are called through poll_until
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=netbed.sh
. "$IT_DIR/netbed.sh"
it_require ip nsenter cmp getfattr setfattr
ip netns list >/dev/null 2>&1 || it_unmet "network namespaces are not available"
GFREP=$(gf_bin gfrep) || die "gfrep is not built"
GFWHERE=$(gf_bin gfwhere) || die "gfwhere is not built"
GFNCOPY=$(gf_bin gfncopy) || die "gfncopy is not built"

export GF_GFMD_CONF_EXTRA="repair_delay_ms = 2000
host_down_ms = 2000"
it_say "starting a test bed of 4 hosts (repair after 2 s down)"
nb_up --hosts 4 || die "test bed up failed"
it_say "test bed in $STATE, prefix $NETBED_PREFIX (KEEP=1 keeps the state)"

mnt() { local v=MOUNT_node$1; echo "${!v}"; }
conf() { local v=CONFIG_node$1; echo "${!v}"; }
spool() { local v=SPOOL_node$1; echo "${!v}"; }
rep() { local k=$1; shift; nb_exec "$k" "$GFREP" -c "$(conf "$k")" "$@"; }
where() { local k=$1; shift; nb_exec "$k" "$GFWHERE" -c "$(conf "$k")" "$@"; }
ncopy() { local k=$1; shift; nb_exec "$k" "$GFNCOPY" -c "$(conf "$k")" "$@"; }
hosts_of() { where 1 "$1" 2>/dev/null | cut -d' ' -f2-; }
# up_count PATH: replicas on up hosts
up_count() { hosts_of "$1" | tr ' ' '\n' | grep -c -v -e '(down)' -e '^-$' -e '^$'; }
has_up() { [[ $(up_count "$1") == "$2" ]]; }
all_have() { # all_have N PATH...
	local n=$1 p
	shift
	for p in "$@"; do has_up "$p" "$n" || return 1; done
}
ino_of() { stat -c %i "$1"; }
spool_files() {
	local k name
	name=$(printf '%016x-' "$1")
	for k in 1 2 3 4; do find "$(spool "$k")/data" -type f -name "$name????????????????"; done
}
# spool_holding PATH SHA256: how many spool files of PATH's inode hold those bytes
# (a stale one removed meanwhile is not counted)
spool_holding() {
	spool_files "$(ino_of "$1")" | xargs -r sha256sum 2>/dev/null | awk -v s="$2" '$1 == s' | wc -l
}
M1=$(mnt 1)

# ---- a count on a directory, inherited, reached after close --------------------------------
mkdir -p "$M1/raw" || die "mkdir"
check "gfncopy -s 2 on a directory" ncopy 1 -s 2 "$M1/raw"
expect_eq "gfncopy shows it" "$M1/raw: 2" "$(ncopy 1 "$M1/raw" 2>&1)"
mkdir "$M1/raw/day1" || die "mkdir day1"
expect_eq "a directory made below inherits it" "$M1/raw/day1: 2" "$(ncopy 1 "$M1/raw/day1" 2>&1)"
declare -A SUM
FILES=()
for i in 1 2 3 4 5 6; do
	f=$M1/raw/day1/L0.$i
	head -c $((300000 * i + 7)) /dev/urandom >"$STATE/src.$i"
	cp "$STATE/src.$i" "$f" || die "cannot write $f"
	SUM[$f]=$(sha256sum <"$STATE/src.$i" | cut -d' ' -f1)
	FILES+=("$f")
done
expect_eq "a file made below inherits it (getfattr on the mount)" "2" \
	"$(getfattr --absolute-names --only-values -n user.gfarm.ncopy "$M1/raw/day1/L0.1" 2>&1)"
if poll_until "$GF_WAIT_SECS" all_have 2 "${FILES[@]}"; then
	ok "every file written below reaches 2 replicas after close"
else
	for f in "${FILES[@]}"; do it_say "$f: $(hosts_of "$f")"; done
	fail "files did not reach 2 replicas"
fi
same=0
for f in "${FILES[@]}"; do
	(($(spool_holding "$f" "${SUM[$f]}") == 2)) && same=$((same + 1))
done
expect_eq "  each has 2 spool copies, byte-identical to what was written" 6 "$same"

# open for writing: not copied until the last close
f=$M1/raw/day1/open
exec 7>"$f" || die "open"
echo "some data" >&7
sleep_poll() { [[ $(up_count "$f") == 1 ]]; }
# gfmd is told of the close of the data only at close: while open, 1 replica
expect_eq "a file open for writing has its one replica only" 1 "$(up_count "$f")"
exec 7>&-
if poll_until "$GF_WAIT_SECS" has_up "$f" 2; then ok "  after its close it reaches 2"; else fail "  after close: $(hosts_of "$f")"; fi

# ---- gfncopy details ----------------------------------------------------------------------
out=$(setfattr -n user.gfarm.ncopy -v many "$M1/raw" 2>&1)
if [[ $out == *"Invalid argument"* ]]; then ok "a count that is no number: EINVAL"; else fail "setfattr many: $out"; fi
out=$(setfattr -n user.gfarm.ncopy -v 0 "$M1/raw" 2>&1)
if [[ $out == *"Invalid argument"* ]]; then ok "a count of 0: EINVAL"; else fail "setfattr 0: $out"; fi
expect_eq "  the count stays 2" "$M1/raw: 2" "$(ncopy 1 "$M1/raw" 2>&1)"
echo x >"$M1/plain"
expect_eq "a file without a count shows -" "$M1/plain: -" "$(ncopy 2 "$M1/plain" 2>&1)"
check "gfrep -N 3 on it" rep 2 -q -N 3 "$M1/plain"
expect_eq "  records its count" "$M1/plain: 3" "$(ncopy 2 "$M1/plain" 2>&1)"
check "gfncopy -u" ncopy 2 -u "$M1/plain"
expect_eq "  unsets it" "$M1/plain: -" "$(ncopy 2 "$M1/plain" 2>&1)"
rc=$(ncopy 1 -s 0 "$M1/plain" >/dev/null 2>&1; echo $?)
expect_eq "gfncopy -s 0: usage error (2)" 2 "$rc"
rc=$(ncopy 1 -r "$M1/plain" >/dev/null 2>&1; echo $?)
expect_eq "gfncopy -r without -s or -u: usage error (2)" 2 "$rc"
check "gfncopy --help" ncopy 1 --help

# ---- kill -9 of a gfsd under readers; the count comes back -------------------------------------
# the victim: a host holding a replica of L0.1; readers on node1 and node4
victim=
for k in 2 3 4; do
	[[ " $(hosts_of "${FILES[0]}") " == *" node$k "* ]] && victim=$k
done
[[ -n $victim ]] || victim=2
readers=()
for k in 1 4; do
	((k == victim)) && continue
	(
		errs=0
		for _ in 1 2 3 4 5 6 7 8; do
			for i in 1 2 3 4 5 6; do
				cmp -s "$STATE/src.$i" "$(mnt "$k")/raw/day1/L0.$i" || errs=$((errs + 1))
			done
		done
		echo "$errs" >"$STATE/reader$k.errors"
	) &
	readers+=($!)
done
it_say "killing gfsd node$victim under the readers"
check_here "kill -9 of gfsd node$victim" gf_gfsd_kill9 "$victim"
wait "${readers[@]}"
for k in 1 4; do
	((k == victim)) && continue
	expect_eq "reader on node$k: no error, every byte right" 0 "$(cat "$STATE/reader$k.errors" 2>/dev/null)"
done
seen_down() { [[ " $(hosts_of "$1") " == *" node$victim(down) "* ]]; }
poll_until "$GF_WAIT_SECS" seen_down "${FILES[0]}" || fail "gfmd never saw node$victim down"
if poll_until "$GF_WAIT_SECS" all_have 2 "${FILES[@]}"; then
	ok "after the repair delay, every file has 2 replicas on up hosts again"
else
	for f in "${FILES[@]}"; do it_say "$f: $(hosts_of "$f")"; done
	fail "files were not repaired"
fi
bad=0
for f in "${FILES[@]}"; do
	for k in 1 2 3 4; do
		((k == victim)) && continue
		[[ $(sha256sum <"$(mnt "$k")/raw/day1/${f##*/}" | cut -d' ' -f1) == "${SUM[$f]}" ]] || bad=$((bad + 1))
	done
done
expect_eq "every file reads right on every live host" 0 "$bad"
down_logged() { grep -q "repair: node$victim has been down too long" "$STATE/gfmd.log"; }
if poll_until "$GF_WAIT_SECS" down_logged; then
	ok "gfmd logged the repair of node$victim"
else
	fail "no repair line in gfmd.log"
fi

# ---- the host comes back: what is now beyond the count goes -----------------------------------
check_here "gfsd node$victim starts again" gf_gfsd_start "$victim"
gf_wait_hosts_up || die "hosts not up again"
three=0
for f in "${FILES[@]}"; do [[ $(hosts_of "$f" | wc -w) == 3 ]] && three=$((three + 1)); done
it_say "$three files have 3 replicas with node$victim back"
exactly2() { local f; for f in "$@"; do [[ $(hosts_of "$f" | wc -w) == 2 ]] || return 1; done; }
if poll_until "$GF_WAIT_SECS" exactly2 "${FILES[@]}"; then
	ok "with node$victim back, each file has exactly 2 replicas"
else
	for f in "${FILES[@]}"; do it_say "$f: $(hosts_of "$f")"; done
	fail "extra replicas stay"
fi
spool_two() { local f; for f in "$@"; do [[ $(spool_files "$(ino_of "$f")" | wc -l) == 2 ]] || return 1; done; }
if poll_until "$GF_WAIT_SECS" spool_two "${FILES[@]}"; then
	ok "  and the spools hold exactly 2 files of each"
else
	fail "  spool files: $(for f in "${FILES[@]}"; do spool_files "$(ino_of "$f")"; done | tr '\n' ' ')"
fi

# ---- a lower count: extra replicas go -----------------------------------------------------------
f=${FILES[2]}
check "gfncopy -s 1 on one file" ncopy 1 -s 1 "$f"
if poll_until "$GF_WAIT_SECS" has_up "$f" 1; then ok "  it goes down to 1 replica"; else fail "  still: $(hosts_of "$f")"; fi
expect_eq "  and reads right" "${SUM[$f]}" "$(sha256sum <"$(mnt 3)/raw/day1/${f##*/}" | cut -d' ' -f1)"

# ---- a write makes the other replicas stale; the repair refreshes or removes them -------------
f=$M1/raw/day1/L0.5
stale_n() { where 1 -l "$1" 2>/dev/null | awk 'NR > 1 && $4 == "stale"' | wc -l; }
cur_n() { where 1 -l "$1" 2>/dev/null | awk 'NR > 1 && $4 == "current"' | wc -l; }
poll_until "$GF_WAIT_SECS" has_up "$f" 2 || fail "L0.5 has not 2 replicas before the write"
exec 7>>"$f" || die "open L0.5"
printf 'appended while open\n' >&7
expect_eq "while a writer has it open: 1 current replica, 1 stale (gfwhere -l)" "1 1" "$(cur_n "$f") $(stale_n "$f")"
exec 7>&-
cat "$STATE/src.5" >"$STATE/src.5new" && printf 'appended while open\n' >>"$STATE/src.5new"
new=$(sha256sum <"$STATE/src.5new" | cut -d' ' -f1)
refreshed() { [[ $(cur_n "$1") == 2 && $(stale_n "$1") == 0 ]]; }
if poll_until "$GF_WAIT_SECS" refreshed "$f"; then
	ok "  after its close (count 2): 2 current replicas, none stale"
else
	fail "  after close: $(where 1 -l "$f" 2>&1)"
fi
same_two() { [[ $(spool_holding "$f" "$new") == 2 && $(spool_files "$(ino_of "$f")" | wc -l) == 2 ]]; }
if poll_until "$GF_WAIT_SECS" same_two; then ok "  both spool copies hold the new data, and only they remain"; else fail "  spool: $(spool_files "$(ino_of "$f")" | xargs -r sha256sum)"; fi
for k in 1 2 3 4; do
	[[ $(sha256sum <"$(mnt "$k")/raw/day1/L0.5" | cut -d' ' -f1) == "$new" ]] || fail "  node$k reads old data"
done
f=$M1/raw/day1/L0.6
check "gfncopy -u on a file with 2 replicas (they stay)" ncopy 1 -u "$f"
exec 7>>"$f" || die "open L0.6"
printf 'more\n' >&7
exec 7>&-
removed() { [[ $(cur_n "$1") == 1 && $(stale_n "$1") == 0 ]]; }
if poll_until "$GF_WAIT_SECS" removed "$f"; then
	ok "a count-1 file written: its stale replica is removed after the close"
else
	fail "  after close: $(where 1 -l "$f" 2>&1)"
fi
logged() { grep -q "stale replica on .* removed" "$STATE/gfmd.log"; }
poll_until "$GF_WAIT_SECS" logged && ok "  (logged)" || fail "  no log line for the removal"
cat "$STATE/src.6" >"$STATE/src.6new" && printf 'more\n' >>"$STATE/src.6new"
SUM[$f]=$(sha256sum <"$STATE/src.6new" | cut -d' ' -f1)
SUM[$M1/raw/day1/L0.5]=$new

# ---- written again while its copy is being made: it still reaches its count ------------------
# The append's close asks gfmd for a look while the copy of the first
# contents (below REPAIR_FOLLOW_MIN: copied after the close, not while
# written) is still on its way. That copy ends (the source changed under
# it): no failure, and the look is not lost; the file is copied again at
# once, not after retry_ms (it once was only so: "copy failed: Input/output
# error; trying again in 30 s").
declare -A AGAIN
for i in $(seq 10); do
	f=$M1/raw/day1/again.$i
	head -c $((6 << 20)) /dev/urandom >"$STATE/again.$i"
	cp "$STATE/again.$i" "$f" || die "cannot write $f"
	printf 'written again %d\n' "$i" >>"$f" || die "cannot append to $f"
	printf 'written again %d\n' "$i" >>"$STATE/again.$i"
	AGAIN[$f]=$(sha256sum <"$STATE/again.$i" | cut -d' ' -f1)
	rm -f "$STATE/again.$i"
done
all_refreshed() {
	local f
	for f in "${!AGAIN[@]}"; do refreshed "$f" || return 1; done
}
if poll_until "$GF_WAIT_SECS" all_refreshed; then
	ok "files appended to just after their first close: 2 current replicas each, none stale"
else
	for f in "${!AGAIN[@]}"; do it_say "$f: $(where 1 -l "$f" 2>&1 | tr '\n' ' ')"; done
	fail "files written again during their copy did not reach 2 current replicas"
fi
bad=0
for f in "${!AGAIN[@]}"; do
	(($(spool_holding "$f" "${AGAIN[$f]}") == 2)) || bad=$((bad + 1))
done
expect_eq "  each has 2 spool copies of its last contents" 0 "$bad"
failed=0
for f in "${!AGAIN[@]}"; do
	grep -q "inode $(ino_of "$f") has .* copy failed" "$STATE/gfmd.log" && failed=$((failed + 1))
done
expect_eq "  none of their copies was logged as a failure to try again later" 0 "$failed"
for f in "${!AGAIN[@]}"; do rm -f "$f"; done

# ---- drain a host under load -----------------------------------------------------------------
gfhost() { gf_in gfmd "$(gf_bin gfhost)" -c "$STATE/admin.conf" "$@"; }
drained=2
mkdir -p "$M1/raw/day2" || die "mkdir day2"
for i in 1 2 3 4; do
	f=$(mnt $drained)/raw/day2/L0.$i # written on the host to drain: a replica there
	head -c $((500000 * i + 1)) /dev/urandom >"$STATE/src2.$i"
	cp "$STATE/src2.$i" "$f" || die "cannot write $f"
	SUM[$M1/raw/day2/L0.$i]=$(sha256sum <"$STATE/src2.$i" | cut -d' ' -f1)
	FILES+=("$M1/raw/day2/L0.$i")
done
head -c 700001 /dev/urandom >"$STATE/src.solo"
cp "$STATE/src.solo" "$(mnt $drained)/solo" || die "cannot write solo" # count 1, only there
SUM[$M1/solo]=$(sha256sum <"$STATE/src.solo" | cut -d' ' -f1)
poll_until "$GF_WAIT_SECS" all_have 2 "${FILES[@]:6}" || fail "day2 files did not reach 2 replicas"
expect_eq "solo lies on node$drained only" "node$drained" "$(hosts_of "$M1/solo")"
readers=()
for k in 1 3; do
	(
		errs=0
		for _ in 1 2 3 4 5; do
			for f in "${FILES[@]}" "$M1/solo"; do
				[[ $(sha256sum <"$(mnt "$k")/${f#"$M1"/}" | cut -d' ' -f1) == "${SUM[$f]}" ]] ||
					errs=$((errs + 1))
			done
		done
		echo "$errs" >"$STATE/dreader$k.errors"
	) &
	readers+=($!)
done
out=$(gf_in gfmd timeout $((GF_WAIT_SECS * 2)) "$(gf_bin gfhost)" -c "$STATE/admin.conf" --wait \
	drain node$drained 2>&1)
rc=$?
if [[ $rc == 0 && $out == *"node$drained holds no replica: it can be removed"* ]]; then
	ok "gfhost --wait drain node$drained ends saying it can be removed"
else
	fail "gfhost drain: rc $rc: $out"
fi
wait "${readers[@]}"
for k in 1 3; do
	expect_eq "reader on node$k during the drain: no error" 0 "$(cat "$STATE/dreader$k.errors" 2>/dev/null)"
done
row=$(gfhost -H list | awk -v h="node$drained" '$2 == h')
expect_eq "gfhost list: node$drained is draining and holds 0 replicas" "draining 0" \
	"$(awk '{ print $5, $9 }' <<<"$row")"
bad=
for f in "${FILES[@]}" "$M1/solo"; do
	[[ " $(hosts_of "$f") " == *" node$drained "* ]] && bad+=" ${f##*/}"
done
expect_eq "no file has a replica on node$drained" "" "$bad"
low=
for f in "${FILES[@]}"; do
	want=$(getfattr --absolute-names --only-values -n user.gfarm.ncopy "$f" 2>/dev/null)
	[[ $(up_count "$f") -ge ${want:-1} ]] || low+=" ${f##*/}"
done
expect_eq "every file still has its count" "" "$low"
expect_eq "solo (count 1) moved: 1 replica, elsewhere" 1 "$(up_count "$M1/solo")"
expect_eq "solo reads right" "${SUM[$M1/solo]}" "$(sha256sum <"$(mnt 4)/solo" | cut -d' ' -f1)"
spool_empty() { [[ -z $(find "$(spool "$drained")/data" -type f) ]]; }
if poll_until "$GF_WAIT_SECS" spool_empty; then
	ok "node$drained's spool holds no replica file any more"
else
	fail "node$drained's spool: $(find "$(spool $drained)/data" -type f | head)"
fi
echo new >"$(mnt $drained)/after-drain" || fail "cannot write on node$drained's mount"
h=$(hosts_of "$M1/after-drain")
if [[ -n $h && $h != *"node$drained"* ]]; then ok "new data written on node$drained goes elsewhere ($h)"; else fail "after-drain on: $h"; fi
rc=$(as_user nobody "$(gf_bin gfhost)" -c "$STATE/admin.conf" undrain node$drained >/dev/null 2>&1; echo $?)
expect_eq "undrain by a non-root user is refused" 1 "$rc"
check "gfhost undrain" gfhost undrain node$drained
row=$(gfhost -H list | awk -v h="node$drained" '$2 == h')
expect_eq "  node$drained is up again" up "$(awk '{ print $5 }' <<<"$row")"

it_done
