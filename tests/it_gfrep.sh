#!/bin/bash
# Replication on the multi-host test bed (tests/netbed.sh, 4 compute hosts):
# - gfrep -N 3 -r on a tree: every file on 3 hosts, every spool copy
#   byte-identical to what was written (sparse files stay sparse); run again,
#   nothing to do; -x trims back (and the spool files go); -D, -S, gfarm:/
#   paths, impossible counts and bad command lines give clear errors and exit
#   statuses;
# - a file open for writing is not copied (until it is closed, or until the
#   mount holding it open dies: kill -9);
# - a source replica that lost bytes is not copied, and leaves nothing behind;
# - readers of 2-replica files see no error when one replica's gfsd is
#   killed mid-read (kill -9): they move to the other;
# - a file overwritten while a replica's host was down: that old replica is
#   never served and its file is removed once the host is back;
# - only gfmd may ask a gfsd for a copy (GFS_REPLICATE from a client: EPERM).
# shellcheck disable=SC2317  # helpers are called through poll_until
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=netbed.sh
. "$IT_DIR/netbed.sh"
it_require ip nsenter cmp du truncate
ip netns list >/dev/null 2>&1 || it_unmet "network namespaces are not available"
GFREP=$(gf_bin gfrep) || die "gfrep is not built"
GFWHERE=$(gf_bin gfwhere) || die "gfwhere is not built"

it_say "starting a test bed of 4 hosts"
nb_up --hosts 4 || die "test bed up failed"
it_say "test bed in $STATE, prefix $NETBED_PREFIX (KEEP=1 keeps the state)"

mnt() { local v=MOUNT_node$1; echo "${!v}"; }
conf() { local v=CONFIG_node$1; echo "${!v}"; }
spool() { local v=SPOOL_node$1; echo "${!v}"; }
# rep K ARGS...: gfrep run on host K; where K ARGS...: gfwhere.
rep() { local k=$1; shift; nb_exec "$k" "$GFREP" -c "$(conf "$k")" "$@"; }
where() { local k=$1; shift; nb_exec "$k" "$GFWHERE" -c "$(conf "$k")" "$@"; }
# nrep PATH: how many hosts gfwhere names for PATH.
nrep() { where 1 "$1" 2>/dev/null | awk '{ print NF - 1 }'; }
hosts_of() { where 1 "$1" 2>/dev/null | cut -d' ' -f2-; }
# spool_files INO: every spool file of inode INO, on every host.
spool_files() {
	local k name
	name=$(printf '%016x-' "$1")
	for k in 1 2 3 4; do
		find "$(spool "$k")/data" -type f -name "$name????????????????"
	done
}
nspool() { spool_files "$1" | wc -l; }
ino_of() { stat -c %i "$1"; }
M1=$(mnt 1)

# ---- gfrep -N 3 -r: a tree, every copy identical ------------------------------------------
mkdir -p "$M1/tree/a" "$M1/tree/b/c" || die "mkdir on node1"
declare -A SUM SIZE
mk() { # mk NAME SIZE: random bytes written on node1
	local src=$STATE/src.${1//\//_}
	head -c "$2" /dev/urandom >"$src" || return 1
	cp "$src" "$M1/tree/$1" || return 1
	SUM[$1]=$(sha256sum <"$src" | cut -d' ' -f1)
	SIZE[$1]=$2
}
mk one 1 && mk a/small 4097 && mk a/mid $((1024 * 1024 + 3)) && mk b/big $((5 * 1024 * 1024 + 11)) &&
	mk b/c/deep 65536 || die "cannot write the tree"
: >"$M1/tree/b/empty" || die "cannot create an empty file"
# sparse: 16 MiB with 8 KiB of data at 4 MiB
truncate -s 16M "$STATE/src.sparse" && head -c 8192 /dev/urandom |
	dd of="$STATE/src.sparse" bs=1M seek=4 conv=notrunc status=none || die "sparse source"
cp --sparse=always "$STATE/src.sparse" "$M1/tree/sparse" || die "cannot write the sparse file"
SUM[sparse]=$(sha256sum <"$STATE/src.sparse" | cut -d' ' -f1)
SIZE[sparse]=$((16 * 1024 * 1024))
FILES="one a/small a/mid b/big b/c/deep sparse"

expect_eq "before: gfwhere names node1 only for a file written there" "node1" "$(hosts_of "$M1/tree/b/big")"
out=$(rep 2 -N 3 -r "$M1/tree" 2>&1)
expect_eq "gfrep -N 3 -r (run on node2) exits 0" 0 "$?"
if grep -q "7 files: 0 complete already, 7 with new replicas, 0 failed; 14 replicas made" <<<"$out"; then
	ok "its summary counts 7 files and 14 new replicas"
else
	fail "gfrep summary: $out"
fi
for f in $FILES b/empty; do
	expect_eq "$f has 3 replicas (gfwhere)" 3 "$(nrep "$M1/tree/$f")"
done
for f in $FILES; do
	ino=$(ino_of "$M1/tree/$f")
	files=$(spool_files "$ino")
	n=$(wc -l <<<"$files")
	same=$(xargs -r sha256sum <<<"$files" | awk -v s="${SUM[$f]}" '$1 == s' | wc -l)
	expect_eq "$f: 3 spool files on 3 hosts, each byte-identical to what was written" "3 3" "$n $same"
done
ino=$(ino_of "$M1/tree/sparse")
big=0
while read -r p; do
	(($(du -k "$p" | cut -f1) > 1024)) && big=$((big + 1))
done < <(spool_files "$ino")
expect_eq "the sparse file's copies stay sparse (none takes over 1 MiB)" 0 "$big"
for k in 2 3 4; do
	expect_eq "b/big read through node$k's mount is what was written" "${SUM[b/big]}" \
		"$(sha256sum <"$(mnt "$k")/tree/b/big" | cut -d' ' -f1)"
done

out=$(rep 3 -N 3 -r "$M1/tree" 2>&1)
expect_eq "gfrep -N 3 again exits 0" 0 "$?"
if grep -q "7 files: 7 complete already, 0 with new replicas, 0 failed; 0 replicas made" <<<"$out"; then
	ok "  and finds nothing to do"
else
	fail "gfrep again: $out"
fi

# ---- -x trims back; the files go from the spools ---------------------------------------------
out=$(rep 3 -N 1 -x -r "$M1/tree" 2>&1)
expect_eq "gfrep -N 1 -x -r exits 0" 0 "$?"
grep -q ", [0-9]* removed" <<<"$out" && ok "  and says how many it removed" || fail "gfrep -x: $out"
for f in $FILES; do
	expect_eq "$f: 1 replica after -x" 1 "$(nrep "$M1/tree/$f")"
	ino=$(ino_of "$M1/tree/$f")
	one_left() { [[ $(nspool "$1") == 1 ]]; }
	if poll_until "$GF_WAIT_SECS" one_left "$ino"; then
		ok "$f: the removed replicas' spool files are deleted"
	else
		fail "$f: spool files left: $(spool_files "$ino" | tr '\n' ' ')"
	fi
	expect_eq "$f still reads as written (node3)" "${SUM[$f]}" "$(sha256sum <"$(mnt 3)/tree/$f" | cut -d' ' -f1)"
done

# ---- -D, -S, gfarm:/ paths, impossible asks ---------------------------------------------------
# (which host kept a/mid's one replica after -x is not fixed: take another)
dh=
for k in 4 3 2 1; do [[ -z $dh && " $(hosts_of "$M1/tree/a/mid") " != *" node$k "* ]] && dh=node$k; done
check "gfrep -D $dh puts a copy on $dh" rep 1 -q -D "$dh" "$M1/tree/a/mid"
hs=$(hosts_of "$M1/tree/a/mid")
if [[ " $hs " == *" $dh "* && $(wc -w <<<"$hs") == 2 ]]; then ok "  gfwhere: 2 hosts, $dh among them"; else fail "  gfwhere: $hs"; fi
check "gfrep -N 3 -S $dh copies from $dh" rep 1 -q -N 3 -S "$dh" "$M1/tree/a/mid"
expect_eq "  3 replicas now" 3 "$(nrep "$M1/tree/a/mid")"
nothere=
for k in 1 2 3 4; do [[ " $(hosts_of "$M1/tree/one") " == *" node$k "* ]] || nothere=node$k; done
out=$(rep 1 -N 2 -S "$nothere" "$M1/tree/one" 2>&1)
rc=$?
expect_eq "gfrep -S with a host that holds no replica exits 1" 1 "$rc"
grep -q "tree/one" <<<"$out" && ok "  naming the file" || fail "  message: $out"
check "gfrep on a gfarm:/ path (no mount needed)" rep 2 -q -N 2 gfarm:/tree/one
expect_eq "  2 replicas now" 2 "$(nrep "$M1/tree/one")"
out=$(rep 1 -N 5 "$M1/tree/a/small" 2>&1)
rc=$?
expect_eq "gfrep -N 5 with 4 hosts exits 1" 1 "$rc"
if grep -q "4 of 5 replicas: no up host without a replica has room" <<<"$out"; then
	ok "  saying why, after making the 4 it could"
else
	fail "  message: $out"
fi
expect_eq "  (4 replicas made)" 4 "$(nrep "$M1/tree/a/small")"
rc=$(rep 1 >/dev/null 2>&1; echo $?)
expect_eq "gfrep without arguments: usage error (2)" 2 "$rc"
rc=$(rep 1 -N 0 "$M1/tree/one" >/dev/null 2>&1; echo $?)
expect_eq "gfrep -N 0: usage error (2)" 2 "$rc"
rc=$(rep 1 -x "$M1/tree/one" >/dev/null 2>&1; echo $?)
expect_eq "gfrep -x without -N: usage error (2)" 2 "$rc"
out=$(rep 1 -N 2 "$M1/tree/a" 2>&1)
rc=$?
if [[ $rc == 1 && $out == *"is a directory (use -r)"* ]]; then ok "a directory without -r: exit 1, says to use -r"; else fail "dir without -r: $rc $out"; fi
out=$(rep 1 -N 2 "$M1/tree/nonexistent" 2>&1)
rc=$?
if [[ $rc == 1 && $out == *"No such file"* ]]; then ok "a missing file: exit 1, 'No such file'"; else fail "missing file: $rc $out"; fi
out=$(rep 1 -N 2 -D node9 "$M1/tree/one" 2>&1)
rc=$?
if [[ $rc == 1 && $out == *"node9: no such host"* ]]; then ok "-D with an unknown host: exit 1"; else fail "-D node9: $rc $out"; fi
check "gfrep --help" rep 1 --help
check "gfwhere --help" where 1 --help

# ---- a file open for writing is not copied -------------------------------------------------
exec 7>>"$M1/tree/b/c/deep" || die "cannot open deep for writing"
out=$(rep 2 -N 2 "$M1/tree/b/c/deep" 2>&1)
rc=$?
if [[ $rc == 1 && $out == *"open for writing"* ]]; then
	ok "a file open for writing is not copied (exit 1, says why)"
else
	fail "copy of a file open for writing: $rc $out"
fi
expect_eq "  it still has 1 replica" 1 "$(nrep "$M1/tree/b/c/deep")"
exec 7>&-
copies_ok() { rep 2 -q -N 2 "$1" >/dev/null 2>&1; }
if poll_until "$GF_WAIT_SECS" copies_ok "$M1/tree/b/c/deep"; then
	ok "  once closed, it is copied"
else
	fail "  still refused after close: $(rep 2 -N 2 "$M1/tree/b/c/deep" 2>&1)"
fi
# a truncate by path (truncate(2), no descriptor) opens it for writing
# inside the mount for a moment: that is released too
"$PY" -c "import os; os.truncate('$M1/tree/b/c/deep', 1000)" || fail "truncate(2) of deep"
check "a file cut by truncate(2) can be copied at once" rep 2 -q -N 3 "$M1/tree/b/c/deep"
# the writer's mount dies (kill -9): gfmd forgets its writer with its connection
nb_exec 3 sh -c "exec 8>>'$(mnt 3)/tree/b/big'; echo ready; exec sleep 600" >"$STATE/holder.out" 2>&1 &
holder=$!
poll_until "$GF_WAIT_SECS" grep -q ready "$STATE/holder.out" || die "holder did not start"
rc=$(rep 2 -q -N 2 "$M1/tree/b/big" >/dev/null 2>&1; echo $?)
expect_eq "a file held open for writing on node3's mount is not copied" 1 "$rc"
pid=$(gf_mount_pid 3)
kill -KILL "$pid" && gf_wait_dead "$pid" 2>/dev/null
kill -KILL "$holder" 2>/dev/null
wait "$holder" 2>/dev/null
fusermount3 -uz "$(mnt 3)" 2>/dev/null
if poll_until "$GF_WAIT_SECS" copies_ok "$M1/tree/b/big"; then
	ok "  after kill -9 of that mount it is copied"
else
	fail "  still refused: $(rep 2 -N 2 "$M1/tree/b/big" 2>&1)"
fi
gf_mount 3 || die "cannot mount node3 again"

# ---- a damaged source is not copied -------------------------------------------------------------
mk lost 300000 || die "cannot write lost"
ino=$(ino_of "$M1/tree/lost")
src=$(spool_files "$ino")
truncate -s 1000 "$src" || die "cannot damage the replica"
out=$(rep 1 -N 2 "$M1/tree/lost" 2>&1)
rc=$?
if [[ $rc == 1 && $out == *"Input/output error"* ]]; then
	ok "a source replica shorter than the file is not copied (EIO)"
else
	fail "copy of a damaged replica: $rc $out"
fi
expect_eq "  the file keeps 1 replica" 1 "$(nrep "$M1/tree/lost")"
expect_eq "  and no other spool holds a file of it" 1 "$(nspool "$ino")"

# ---- readers move to the other replica when a gfsd dies ------------------------------------
head -c $((48 * 1024 * 1024)) /dev/urandom >"$STATE/src.r" || die "source"
cp "$STATE/src.r" "$(mnt 2)/tree/r" || die "cannot write r on node2"
check "r written on node2 gets a copy on node3" rep 2 -q -D node3 "$M1/tree/r"
expect_eq "r is on node2 and node3" "node2 node3" "$(hosts_of "$M1/tree/r" | tr ' ' '\n' | sort | xargs)"
# (readers of a file with one replica would wait for its dead gfsd for ever)
[[ $(hosts_of "$M1/tree/r" | wc -w) == 2 ]] || die "r has no second replica: the readers' test cannot run"
# readers on node1 and node4 (neither holds r): 6 whole reads each
readers=()
for k in 1 4; do
	(
		errs=0
		for i in 1 2 3 4 5 6; do
			cmp -s "$STATE/src.r" "$(mnt "$k")/tree/r" || errs=$((errs + 1))
			echo "read $i" >>"$STATE/reader$k.progress"
		done
		echo "$errs" >"$STATE/reader$k.errors"
	) &
	readers+=($!)
done
# kill -9 whichever of node2/node3 is serving, once reads are under way
served() { local a b; a=$(gf_stat_value node2 read_remote); b=$(gf_stat_value node3 read_remote); ((a + b > 8 * 1024 * 1024)); }
poll_until "$GF_WAIT_SECS" served || fail "no reads of r began"
a=$(gf_stat_value node2 read_remote) b=$(gf_stat_value node3 read_remote)
victim=2
((b > a)) && victim=3
it_say "killing gfsd node$victim under the readers"
check_here "kill -9 of gfsd node$victim" gf_gfsd_kill9 "$victim"
wait "${readers[@]}"
for k in 1 4; do
	expect_eq "reader on node$k: 6 reads, no error, every byte right" "0" "$(cat "$STATE/reader$k.errors" 2>/dev/null)"
done
check_here "gfsd node$victim restarts" gf_gfsd_start "$victim"
gf_wait_hosts_up || die "hosts not up again"

# ---- an old replica of an overwritten file is never served ---------------------------------
mk ow 200000 || die "cannot write ow"
check "ow on node1 and node4" rep 1 -q -D node4 "$M1/tree/ow"
ino=$(ino_of "$M1/tree/ow")
check_here "gfsd node4 stops" gf_gfsd_stop 4
head -c 150000 /dev/urandom >"$STATE/src.ow2"
cp "$STATE/src.ow2" "$M1/tree/ow" || fail "cannot overwrite ow"
new=$(sha256sum <"$STATE/src.ow2" | cut -d' ' -f1)
check_here "gfsd node4 starts again" gf_gfsd_start 4
gf_wait_hosts_up || die "hosts not up again"
expect_eq "gfwhere: ow is on node1 only" "node1" "$(hosts_of "$M1/tree/ow")"
expect_eq "ow read on node4 (which held the old data) is the new data" "$new" \
	"$(sha256sum <"$(mnt 4)/tree/ow" | cut -d' ' -f1)"
old_gone() { [[ -z $(find "$(spool 4)/data" -type f -name "$(printf '%016x-' "$ino")????????????????") ]]; }
if poll_until "$GF_WAIT_SECS" old_gone; then
	ok "the old replica's file on node4 is removed"
else
	fail "node4 still holds: $(find "$(spool 4)/data" -type f -name "$(printf '%016x-' "$ino")????????????????")"
fi

# ---- only gfmd may ask for a copy ------------------------------------------------------------
port=$(awk '$1 == "gfsd_port" { print $3 }' "$STATE/node2/gfsd.conf")
addr=$(awk '$1 == "gfsd_addr" { print $3 }' "$STATE/node2/gfsd.conf")
out=$(nb_exec 1 "$PY" "$IT_DIR/peer.py" --key "$KEY" --op replicate --count 1 --statuses --hold 0 \
	"tcp:$addr:$port" 2>&1)
if grep -qx "status -1" <<<"$out"; then
	ok "GFS_REPLICATE from a client is refused (EPERM)"
else
	fail "GFS_REPLICATE from a client: $out"
fi
check "gfsd node2 still serves" gf_stat_value node2 heartbeats

it_done
