#!/bin/bash
# Locality on the multi-host test bed (tests/netbed.sh, 4 compute hosts, each
# its own network namespace with its own gfsd and mount):
# - a file written on host k has its replica on host k (gfsched, the spools);
# - `gfrun -f F -- sha256sum F` runs on the host holding F (its address and
#   working directory say so), gives the right checksum, and the counters
#   (host k's gfsd, host k's client) show that none of F crossed the network;
#   the same read through another host's mount does cross it;
# - files a gfrun command creates land on the host it ran on;
# - two hosts reading and writing one directory see each other's files.
# shellcheck disable=SC2317  # helpers are called through poll_until
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=netbed.sh
. "$IT_DIR/netbed.sh"
it_require ip tc nsenter getfattr cmp
ip netns list >/dev/null 2>&1 || it_unmet "network namespaces are not available"
GFSCHED=$(gf_bin gfsched) || die "gfsched is not built"
GFRUN=$(gf_bin gfrun) || die "gfrun is not built"

it_say "starting a test bed of 4 hosts"
nb_up --hosts 4 || die "test bed up failed"
it_say "test bed in $STATE, prefix $NETBED_PREFIX (KEEP=1 keeps the state)"

mnt() { local v=MOUNT_node$1; echo "${!v}"; }
conf() { local v=CONFIG_node$1; echo "${!v}"; }
addr() { local v=ADDR_node$1; echo "${!v}"; }
spool() { local v=SPOOL_node$1; echo "${!v}"; }
# on K CMD...: CMD on host K, in its mount's root directory.
on() { local k=$1; shift; (cd "$(mnt "$k")" && nb_exec "$k" "$@"); }
sched() { local k=$1; shift; on "$k" "$GFSCHED" -c "$(conf "$k")" "$@"; }

gfsd_stat() { gf_stat_value "node$1" "$2" || echo "?"; }
# client_stat K KEY: a counter of host K's mount (user.gfarmfs.stats).
client_stat() {
	getfattr --absolute-names --only-values -n user.gfarmfs.stats "$(mnt "$1")" 2>/dev/null |
		awk -v k="$2" '$1 == k { print $2; f = 1 } END { if (!f) print "?" }'
}
grown_by_at_least() { local v; v=$("$1" "$2" "$3"); [[ $v =~ ^[0-9]+$ ]] && ((v - $4 >= $5)); }
numeric() { [[ $1 =~ ^[0-9]+$ ]]; }
cold() { sync && echo 3 >/proc/sys/vm/drop_caches; }
# copies_in K SHA256: how many replicas in host K's spool have that content.
copies_in() {
	find "$(spool "$1")" -type f -size "${SZ}c" -exec sha256sum {} + | awk -v s="$2" '$1 == s' | wc -l
}

SZ=$((4 * 1024 * 1024 + 4097))
declare -A SUM

# ---- a file written on host k has its replica on host k ------------------------------
for k in 1 2 3 4; do
	head -c $SZ /dev/urandom >"$STATE/src$k"
	SUM[$k]=$(sha256sum <"$STATE/src$k" | cut -d' ' -f1)
	cp "$STATE/src$k" "$(mnt "$k")/f$k" || die "cannot write f$k on node$k"
done
for k in 1 2 3 4; do
	j=$((k % 4 + 1))
	expect_eq "f$k written on node$k: gfsched (asked on node$j) names node$k" "node$k" "$(sched "$j" f$k 2>&1)"
	expect_eq "f$k lies in node$k's spool" 1 "$(copies_in "$k" "${SUM[$k]}")"
	n=0
	for i in 1 2 3 4; do
		((i == k)) || n=$((n + $(copies_in "$i" "${SUM[$k]}")))
	done
	expect_eq "f$k is in no other spool" 0 "$n"
done
json=$(sched 1 --format=json f3 2>&1)
if [[ $json == *'"host": "node3"'* && $json == *"\"bytes\": $SZ"* ]]; then
	ok "gfsched --format=json credits node3 with f3's $SZ bytes"
else
	fail "gfsched --format=json f3: $json"
fi

# ---- gfrun runs on the data; no byte of it crosses the network ------------------------
# F = f1 (on node1); gfrun is started on node2.
for v in "$(gfsd_stat 1 read_local)" "$(gfsd_stat 1 read_remote)" "$(client_stat 1 read_local)" \
	"$(client_stat 1 read_remote)" "$(client_stat 2 read_remote)"; do
	numeric "$v" || die "counters are not readable: gfhost stats: $(gf_in gfmd "$(gf_bin gfhost)" -c "$ADMIN_CONFIG" stats node1 2>&1); xattr: $(getfattr --only-values -n user.gfarmfs.stats "$(mnt 1)" 2>&1)"
done
cold
s_rl=$(gfsd_stat 1 read_local) s_rr=$(gfsd_stat 1 read_remote)
c_rl=$(client_stat 1 read_local) c_rr=$(client_stat 1 read_remote)
dry=$(on 2 "$GFRUN" -c "$(conf 2)" -n -f f1 -- sha256sum f1 2>&1)
if grep -qx 'host node1' <<<"$dry"; then ok "gfrun -n on node2 picks node1 for f1"; else fail "gfrun -n -f f1: $dry"; fi
out=$(on 2 "$GFRUN" -c "$(conf 2)" -f f1 -- sh -c 'ip -4 -o addr show dev eth0; pwd; sha256sum f1' 2>&1)
rc=$?
expect_eq "gfrun exits with the command's status" 0 "$rc"
if grep -qF " $(addr 1)/" <<<"$out"; then
	ok "the command ran in node1's network (address $(addr 1))"
else
	fail "the command did not run on node1: $out"
fi
if grep -qxF "$(mnt 1)" <<<"$out"; then
	ok "its working directory is node1's mount"
else
	fail "working directory is not $(mnt 1): $out"
fi
expect_eq "sha256sum through gfrun is f1's" "${SUM[1]}  f1" "$(grep ' f1$' <<<"$out")"
if poll_until "$GF_WAIT_SECS" grown_by_at_least gfsd_stat 1 read_local "$s_rl" "$SZ"; then
	ok "node1's gfsd: read_local grew by f1's size"
else
	fail "node1's gfsd: read_local grew by $(($(gfsd_stat 1 read_local) - s_rl)), not >= $SZ"
fi
if poll_until "$GF_WAIT_SECS" grown_by_at_least client_stat 1 read_local "$c_rl" "$SZ"; then
	ok "node1's client: read_local grew by f1's size"
else
	fail "node1's client: read_local grew by $(($(client_stat 1 read_local) - c_rl)), not >= $SZ"
fi
expect_eq "node1's gfsd: read_remote did not grow (nothing crossed the network)" "$s_rr" "$(gfsd_stat 1 read_remote)"
expect_eq "node1's client: read_remote did not grow" "$c_rr" "$(client_stat 1 read_remote)"
check_fails "gfrun passes the command's exit status on" on 2 "$GFRUN" -c "$(conf 2)" -f f1 -- sh -c 'exit 3'
rc=$(on 2 "$GFRUN" -c "$(conf 2)" -f f1 -- sh -c 'exit 3' >/dev/null 2>&1; echo $?)
expect_eq "  (status 3)" 3 "$rc"

# ---- the same read from another host crosses the network ------------------------------
cold
s_rl=$(gfsd_stat 1 read_local) s_rr=$(gfsd_stat 1 read_remote) c2_rr=$(client_stat 2 read_remote)
expect_eq "f1 read on node2 through its own mount" "${SUM[1]}" "$(sha256sum <"$(mnt 2)/f1" | cut -d' ' -f1)"
if poll_until "$GF_WAIT_SECS" grown_by_at_least gfsd_stat 1 read_remote "$s_rr" "$SZ"; then
	ok "node1's gfsd: read_remote grew by f1's size"
else
	fail "node1's gfsd: read_remote grew by $(($(gfsd_stat 1 read_remote) - s_rr)), not >= $SZ"
fi
if poll_until "$GF_WAIT_SECS" grown_by_at_least client_stat 2 read_remote "$c2_rr" "$SZ"; then
	ok "node2's client: read_remote grew by f1's size"
else
	fail "node2's client: read_remote grew by $(($(client_stat 2 read_remote) - c2_rr)), not >= $SZ"
fi
expect_eq "node1's gfsd: read_local did not grow" "$s_rl" "$(gfsd_stat 1 read_local)"

# ---- what a gfrun command creates lands where it ran ----------------------------------
out=$(on 4 "$GFRUN" -c "$(conf 4)" -f f3 -- sh -c 'sha256sum f3 >f3.sum && cat f3.sum' 2>&1)
expect_eq "gfrun from node4 for f3 checksums f3" "${SUM[3]}  f3" "$out"
expect_eq "f3.sum, written by the command, lies on node3" node3 "$(sched 4 f3.sum 2>&1)"
echo small >"$(mnt 4)/g4" || fail "cannot write g4 on node4"
out=$(on 1 "$GFRUN" -c "$(conf 1)" -n -f f2 -f f4 -f g4 -- true 2>&1)
if grep -qx 'host node4' <<<"$out"; then
	ok "gfrun -f f2 -f f4 -f g4 picks node4, which holds most of their bytes"
else
	fail "gfrun -n -f f2 -f f4 -f g4: $out"
fi

# ---- two hosts, one directory -------------------------------------------------------
LIMIT=${GF_VISIBLE_SECS:-$GF_WAIT_SECS} # only a guard against a hang
content_is() { [[ $(cat "$1" 2>/dev/null) == "$2" ]]; }
absent() { [[ ! -e $1 ]]; }
listed() { [[ -n $(find "$1" -mindepth 1 -maxdepth 1 -name "$2" 2>/dev/null) ]]; }
visible() {
	local desc=$1 t0
	shift
	t0=$(now)
	if poll_until "$LIMIT" "$@"; then ok "$desc (after $(since "$t0") s)"; else fail "$desc: not within $LIMIT s"; fi
}
A=$(mnt 1)/shared B=$(mnt 3)/shared
mkdir "$A" || die "mkdir on node1"
visible "directory made on node1 seen on node3" test -d "$B"
ls "$B" >/dev/null
echo from-node3 >"$B/by3"
visible "file written on node3 listed on node1" listed "$A" by3
visible "and read there" content_is "$A/by3" from-node3
echo from-node1 >"$A/by1"
visible "file written on node1 listed on node3" listed "$B" by1
visible "and read there" content_is "$B/by1" from-node1
echo more >>"$A/by3"
visible "node1 appends to node3's file; node3 reads both lines" content_is "$B/by3" "from-node3
more"
expect_eq "by3 is stored on node3" node3 "$(sched 2 shared/by3 2>&1)"
expect_eq "by1 is stored on node1" node1 "$(sched 2 shared/by1 2>&1)"
rm "$B/by1"
visible "node3 removes node1's file; node1 sees it gone" absent "$A/by1"

it_done
