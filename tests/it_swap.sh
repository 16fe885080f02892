#!/bin/bash
# Network swap (issue 8): gfswap pages into other gfsd's RAM.
#   A process in a memory cgroup (v1) touches three times its limit with a
#   pattern and verifies it after it was swapped out and back:
#     - with no idle memory anywhere (every gfsd lends 0): every page falls
#       back to the owner's disk file, still correct;
#     - with room on three page servers: every page on two of them (gfsd
#       counters), none on the disk, none on the owner's own gfsd;
#     - kill -9 of one page server mid-workload: the workload completes
#       with correct data (every page had a second copy);
#     - pages moved twice (a server that got them only from another's
#       punt, which names the owner's host, moves them on): never onto
#       the owner's own host;
#   gfswap off leaves no swap, loop device, mount or daemon, also after the
#   daemon was killed, and the dead daemon's pages leave the servers when
#   its lease runs out; bad arguments, bad configuration values and
#   malformed or unauthorized page requests are refused with a clear
#   message, and gfsd goes on serving.
# On the test bed (network namespaces, tests/netbed.sh): gfswap runs on
# host node1 (its network), so node2..node4 are its page servers; the swap
# device, the cgroup and the workload are the one kernel's.
# shellcheck disable=SC2317  # helpers are called through poll_until
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=netbed.sh
. "$IT_DIR/netbed.sh"
it_require losetup mkswap swapon swapoff fusermount3 ip nsenter
ip netns list >/dev/null 2>&1 || it_unmet "network namespaces are not available"
CGROOT=/sys/fs/cgroup/memory
[[ -w $CGROOT/cgroup.procs ]] || it_unmet "no writable memory cgroup (v1) at $CGROOT"
GFSWAP=$(gf_bin gfswap) || die "gfswap not built"
GFHOST=$(gf_bin gfhost) || die "gfhost not built"

it_say "starting a test bed of 4 hosts"
export GF_HEARTBEAT_MS=300 GF_HOST_DOWN_MS=1500 GF_GFSD_CONF_EXTRA='swap_cache_mb = 0'
nb_up --hosts 4 || die "test bed up failed"
it_say "test bed in $STATE, prefix $NETBED_PREFIX (KEEP=1 keeps the state)"
export GFSWAP_RUNDIR=$STATE/gfswap
NAME=it$$
CG=$CGROOT/gfswap-it$$
CONF=$CONFIG_node1 # host node1's client configuration
# gfswap on host node1: its network, everyone's mounts (not ip netns exec,
# which would hide the FUSE mount in a mount namespace of its own)
GFSWAP_BIN=$GFSWAP
gfswap1() { nsenter "--net=$(nb_nsfile node1)" -- "$GFSWAP_BIN" "$@"; }
GFSWAP=gfswap1
mkdir -p "$CG" && echo 24M >"$CG/memory.limit_in_bytes" || die "cannot make cgroup $CG"
IT_CLEANUP+=("$GFSWAP off --name $NAME" "rmdir $CG")

# touch MB [ROUNDS]: a process in the cgroup writes a pattern over MB MiB,
# page by page, and reads it all back, ROUNDS times; exit 0 when all right.
TOUCH=$STATE/touch.py
cat >"$TOUCH" <<'EOF'
import sys
n = int(sys.argv[1]) * 256
rounds = int(sys.argv[2])
hold = sys.argv[3] if len(sys.argv) > 3 else None
buf = bytearray(n * 4096)
mv = memoryview(buf)
for r in range(rounds):
    for i in range(n):
        mv[i * 4096:i * 4096 + 16] = (i * 7919 + r).to_bytes(8, "little") * 2
    bad = sum(1 for i in range(n)
              if mv[i * 4096:i * 4096 + 16] != (i * 7919 + r).to_bytes(8, "little") * 2)
    print(f"round {r}: {bad} bad pages of {n}", flush=True)
    if bad:
        sys.exit(1)
if hold:  # say so, wait for the go, then check every page once more
    import os, time
    open(hold + ".ready", "w").close()
    while not os.path.exists(hold + ".go"):
        time.sleep(0.05)
    r = rounds - 1
    bad = sum(1 for i in range(n)
              if mv[i * 4096:i * 4096 + 16] != (i * 7919 + r).to_bytes(8, "little") * 2)
    print(f"after the hold: {bad} bad pages of {n}", flush=True)
    sys.exit(1 if bad else 0)
EOF
# (exec: run in the background, its pid is the workload's own, for kill)
touch_in_cgroup() { exec bash -c 'echo $$ >"$1/cgroup.procs" && exec "$2" "$3" "$4" "$5" ${6:+"$6"}' _ "$CG" "$PY" "$TOUCH" "$@"; }
status_value() { "$GFSWAP" status --name "$NAME" | awk -v k="$1" '$1 == k { print $2 }'; }
gfhost() { nb_exec meta "$GFHOST" -c "$STATE/admin.conf" "$@"; }
server_value() { gfhost stats "$1" | awk -v k="$2" '$1 == k { print $2 }'; }
# HOST's gfsd answers (a gfsd just started listens a moment later)
answers() { gfhost stats "$1" >/dev/null 2>&1; }
loop_dev() { cat "$GFSWAP_RUNDIR/$NAME/loop" 2>/dev/null; }
swap_used_kb() { awk -v d="$(loop_dev)" '$1 == d { print $4 }' /proc/swaps; }
swapping() { [[ $(swap_used_kb) -gt 16384 ]]; }
# on failure: what the gfswap daemon logged (fd 3: the clean-up hooks' own
# output goes nowhere)
exec 3>&2
IT_CLEANUP=("((IT_FAIL > 0)) && tail -n 60 $STATE/gfswap/$NAME/gfswapd.log $STATE/gfswap/*.last.log >&3" "${IT_CLEANUP[@]}")
nothing_left() {
	! grep -q "$GFSWAP_RUNDIR/$NAME" /proc/mounts &&
		! losetup -a | grep -q "$GFSWAP_RUNDIR/$NAME" &&
		! pgrep -f "gfswap serve .*--name $NAME " >/dev/null &&
		[[ ! -e $GFSWAP_RUNDIR/$NAME ]]
}

# ---- bad arguments -------------------------------------------------------------------
expect_exit() {
	local desc=$1 want=$2 out rc
	shift 2
	out=$("$@" 2>&1)
	rc=$?
	if [[ $rc == "$want" && -n $out ]]; then ok "$desc (exit $rc: ${out%%$'\n'*})"; else fail "$desc: exit $rc, want $want: $out"; fi
}
expect_exit "on without --size: usage error" 2 "$GFSWAP" on -c "$CONF" --name "$NAME"
expect_exit "--size 1K: too small" 2 "$GFSWAP" on -c "$CONF" --name "$NAME" --size 1K
expect_exit "--size 12Q: not a size" 2 "$GFSWAP" on -c "$CONF" --name "$NAME" --size 12Q
expect_exit "--copies 3: refused" 2 "$GFSWAP" on -c "$CONF" --name "$NAME" --size 64M --copies 3
expect_exit "--name with a slash: refused" 2 "$GFSWAP" on -c "$CONF" --name a/b --size 64M
expect_exit "an unknown command" 2 "$GFSWAP" frobnicate
expect_exit "off of an area that is not on" 1 "$GFSWAP" off --name nosuch$$
check "--help is a manual page" bash -c "'$GFSWAP_BIN' --help | grep -q '^DESCRIPTION'"

# ---- no idle memory anywhere: every page on the owner's disk ------------------------------
# (with write-behind and read-ahead off: every page-out and page-in waits
# for its pages, the path they bypass)
{ cat "$CONF"; printf 'swap_write_behind_mb = 0\nswap_read_ahead_mb = 0\n'; } >"$STATE/plain.conf"
check "gfswap on with no page server lending memory (no write-behind, no read-ahead)" \
	"$GFSWAP" on -c "$STATE/plain.conf" --name "$NAME" --size 256M --fallback-dir "$STATE/fallback"
check "the loop device is swap" grep -q "^$(loop_dev) " /proc/swaps
check "a cgroup process touches 3x its limit; every page right" touch_in_cgroup 72 2
expect_eq "it was swapped: pages went out" yes "$([[ $(status_value pages_out) -gt 0 ]] && echo yes)"
expect_eq "no page server took any" 0 "$(status_value remote_out)"
expect_eq "every page fell back to the disk" yes "$([[ $(status_value fallbacks) -gt 0 && $(status_value disk_out) -gt 0 ]] && echo yes)"
expect_eq "no page lost" 0 "$(status_value lost)"
expect_eq "  (write-behind and read-ahead were off)" "" \
	"$(status_value write_behind_pending)$(status_value read_ahead_pages)"
check "gfswap off" "$GFSWAP" off --name "$NAME"
check "off left no swap, loop device, mount or daemon" nothing_left

# ---- idle memory on three servers ------------------------------------------------------------
for k in 1 2 3 4; do
	sed -i 's/^swap_cache_mb = 0$/swap_cache_mb = 128\nswap_owner_lease_s = 20/' "$STATE/node$k/gfsd.conf"
	gf_gfsd_stop "$k" && gf_gfsd_start "$k" || die "gfsd node$k did not restart"
done
servers_lend() {
	local k
	for k in 2 3 4; do [[ $(server_value "node$k" swap_pages_free) -gt 0 ]] || return 1; done
	gfhost list >/dev/null
}
poll_until "$GF_WAIT_SECS" servers_lend || die "no gfsd lends memory"
check "gfswap on" "$GFSWAP" on -c "$CONF" --name "$NAME" --size 256M --fallback-dir "$STATE/fallback"
heard_of_servers() { "$GFSWAP" status --name "$NAME" | grep -c ' up ' | grep -qx 3; }
poll_until "$GF_WAIT_SECS" heard_of_servers ||
	fail "gfswap does not list three page servers: $("$GFSWAP" status --name "$NAME")"
check "a cgroup process touches 3x its limit; every page right" touch_in_cgroup 72 2
expect_eq "pages went to page servers" yes "$([[ $(status_value remote_out) -gt 0 ]] && echo yes)"
expect_eq "none to the disk" 0 "$(status_value disk_out)"
[[ $(status_value disk_out) == 0 ]] || it_say "$("$GFSWAP" status --name "$NAME")"
expect_eq "pages came back from servers" yes "$([[ $(status_value remote_in) -gt 0 ]] && echo yes)"
expect_eq "no page lost" 0 "$(status_value lost)"
# the workload pages in page by page, in order: read-ahead fetched ahead,
# and the kernel's reads found the pages there
expect_eq "sequential page-ins came from read-ahead" yes \
	"$([[ $(status_value read_ahead_hits) -gt 0 ]] && echo yes)"
expect_eq "page-outs went through the write-behind buffer, all written on" 0 \
	"$(status_value write_behind_pending)"
puts=0
for k in 2 3 4; do puts=$((puts + $(server_value "node$k" swap_puts))); done
expect_eq "the servers' own counters: page puts there, two copies each" yes \
	"$([[ $puts -ge $(( 2 * $(status_value pages_out) )) ]] && echo yes)"
expect_eq "none on the owner's own gfsd" 0 "$(server_value node1 swap_puts)"

# ---- a server shrinks while pages are on it ----------------------------------------------------
# held_on HOST: it holds pages now. hold_start TAG: a process in the cgroup
# touches 3x its limit, checks it, and waits for $STATE/TAG.go to check
# every page once more (hold_end TAG: the go, and its exit status).
held_on() { [[ $(server_value "$1" swap_pages_used) -gt 0 ]]; }
hold_start() {
	touch_in_cgroup 72 1 "$STATE/$1" >"$STATE/$1.out" 2>&1 &
	HOLD_PID=$!
	ready() { [[ -e $STATE/$1.ready ]]; }
	poll_until "$GF_WAIT_SECS" ready "$1" || fail "the holder did not get ready: $(cat "$STATE/$1.out")"
}
hold_end() {
	local rc
	touch "$STATE/$1.go"
	wait "$HOLD_PID"
	rc=$?
	[[ $rc == 0 ]] || it_say "$(cat "$STATE/$1.out")"
	return $rc
}
hold_start shrink
poll_until "$GF_WAIT_SECS" held_on node3 || fail "no page on node3"
check "gfhost swap-lend node3 0 while pages are on it" \
	gfhost swap-lend node3 0
emptied() { [[ $(server_value node3 swap_pages_used) == 0 && $(server_value node3 swap_locked_bytes) == 0 ]]; }
poll_until "$GF_WAIT_SECS" emptied ||
	fail "node3 still holds pages or memory: $(gfhost stats node3 | grep swap_)"
expect_eq "node3 moved pages on (PUNTPAGE)" yes "$([[ $(server_value node3 swap_punted) -gt 0 ]] && echo yes)"
expect_eq "none of them to the owner's own gfsd (the host that ran short)" 0 \
	"$(server_value node1 swap_puts)"
learnt() { [[ $(status_value updates) -gt 0 && $(status_value slots_short) == 0 ]]; }
poll_until "$GF_WAIT_SECS" learnt ||
	fail "gfswap did not learn where the pages went: $("$GFSWAP" status --name "$NAME")"
hold_end shrink
expect_eq "the holder read every page right from where they went" 0 "$?"
expect_eq "no page lost" 0 "$(status_value lost)"
# gfhost list's SWAP column (heartbeats carry it to gfmd)
list_swap() { gfhost list | awk -v h="$1" '$2 == h { print $11 }'; }
lends_none() { [[ $(list_swap node3) == 0 ]]; }
poll_until "$GF_WAIT_SECS" lends_none && ok "gfhost list: node3 lends no swap RAM now" ||
	fail "gfhost list after swap-lend node3 0: $(gfhost list)"
[[ $(list_swap node2) -gt 0 ]] && ok "  node2 lends some ($(list_swap node2) bytes)" ||
	fail "  node2's SWAP column: $(gfhost list)"
check "gfhost swap-lend node3 all" gfhost swap-lend node3 all
check_fails "swap-lend of a bad size is refused" gfhost swap-lend node3 -5

# ---- a server restarts under held pages, then another dies ------------------------------------
hold_start restart
poll_until "$GF_WAIT_SECS" held_on node2 || fail "no page on node2"
check_here "kill -9 gfsd node2 under held pages" gf_gfsd_kill9 2
check_here "gfsd node2 back, empty" gf_gfsd_start 2
poll_until "$GF_WAIT_SECS" answers node2 || fail "gfsd node2 does not answer"
restart_seen() { "$GFSWAP" status --name "$NAME" | awk '$1 == "node2" && $10 > 0 { f = 1 } END { exit !f }'; }
poll_until "$GF_WAIT_SECS" restart_seen || fail "gfswap did not see node2 restart"
copied_again() { [[ $(status_value recopied) -gt 0 && $(status_value slots_short) == 0 ]]; }
poll_until "$GF_WAIT_SECS" copied_again ||
	fail "pages not copied again: $("$GFSWAP" status --name "$NAME")"
check_here "kill -9 gfsd node3 too" gf_gfsd_kill9 3
hold_end restart
expect_eq "every held page reads right after one restart and one death" 0 "$?"
expect_eq "no page lost" 0 "$(status_value lost)"
check_here "gfsd node3 back" gf_gfsd_start 3
poll_until "$GF_WAIT_SECS" answers node3 || fail "gfsd node3 does not answer"

# ---- kill -9 of a page server mid-workload -------------------------------------------------
touch_in_cgroup 72 4 >"$STATE/touch.out" 2>&1 &
TOUCH_PID=$!
poll_until "$GF_WAIT_SECS" swapping || fail "no swap in use: $(cat /proc/swaps; cat "$STATE/touch.out")"
check_here "kill -9 gfsd node2 while pages are on it" gf_gfsd_kill9 2
wait "$TOUCH_PID"
rc=$?
expect_eq "the workload completed with every page right" 0 "$rc"
[[ $rc == 0 ]] || it_say "$(cat "$STATE/touch.out")"
expect_eq "no page lost" 0 "$(status_value lost)"
expect_eq "the dead server was noticed" yes \
	"$("$GFSWAP" status --name "$NAME" | awk '$1 == "node2" && $8 > 0 { print "yes" }')"
check_here "gfsd node2 back" gf_gfsd_start 2
poll_until "$GF_WAIT_SECS" answers node2 || fail "gfsd node2 does not answer"

# ---- a page moved twice: never onto its owner's host --------------------------------------------
# A swap owner, played by tests/peer.py on host node1, puts 8 pages on node3.
# node3 moves them on to node4 (the only other server with room besides
# node1, the owner's host). node4 never heard from the owner: it learns the
# owner's host from node3's punt (GFS_PAGE_PUNT names it), so when node4
# must move them on too, node1, which has room, does not get them.
empty_on() { [[ $(server_value "$1" swap_pages_used) == 0 ]]; }
list_free() { gfhost list | awk -v h="$1" '$2 == h { print $12 }'; }
advertises_room() { [[ $(list_free "$1") -gt 0 ]]; }
port_of() { local c="GFSD_CONFIG_$1"; awk '$1 == "gfsd_port" { print $3 }' "${!c}"; }
owner_peer() { nb_exec 1 "$PY" "$IT_DIR/peer.py" --key "$KEY" --as-host node1 --statuses --hold 0 "$@" 2>&1; }
check "gfhost swap-lend node2 0" gfhost swap-lend node2 0
check "gfhost swap-lend node4 0" gfhost swap-lend node4 0
poll_until "$GF_WAIT_SECS" empty_on node4 || fail "node4 still holds pages"
out=$(owner_peer --op page-put --count 8 "tcp:$ADDR_node3:$(port_of node3)")
expect_eq "the owner put 8 pages on node3" 8 "$(grep -cx 'status 0' <<<"$out")"
check "gfhost swap-lend node4 all" gfhost swap-lend node4 all
poll_until "$GF_WAIT_SECS" advertises_room node4 || fail "gfmd does not list room on node4: $(gfhost list)"
node1_puts=$(server_value node1 swap_puts)
check "gfhost swap-lend node3 0: its pages move on" gfhost swap-lend node3 0
poll_until "$GF_WAIT_SECS" empty_on node3 || fail "node3 still holds pages: $(gfhost stats node3 | grep swap_)"
expect_eq "  not to node1, the owner's host" "$node1_puts" "$(server_value node1 swap_puts)"
expect_eq "  node4 holds them" yes "$(held_on node4 && echo yes)"
expect_eq "  and knows the host of every owner it holds pages of" "$(server_value node4 swap_owners)" \
	"$(server_value node4 swap_owners_located)"
check "gfhost swap-lend node4 0: the pages must move a second time" gfhost swap-lend node4 0
poll_until "$GF_WAIT_SECS" empty_on node4 || fail "node4 still holds pages: $(gfhost stats node4 | grep swap_)"
expect_eq "  none of them to node1, the owner's host, which has room" "$node1_puts" \
	"$(server_value node1 swap_puts)"
for k in 2 3 4; do check "gfhost swap-lend node$k all" gfhost swap-lend "node$k" all; done
# a client may not punt: PUNTPAGE comes from a gfsd only
out=$(owner_peer --op page-punt --count 1 "tcp:$ADDR_node4:$(port_of node4)")
grep -qx "status -1" <<<"$out" && ok "GFS_PAGE_PUNT from a client connection: EPERM" ||
	fail "page-punt from a client: $out"

# ---- bad input to the page service and bad configuration --------------------------------------
port2=$(awk '$1 == "gfsd_port" { print $3 }' "$GFSD_CONFIG_node2")
peer() { nb_exec 1 "$PY" "$IT_DIR/peer.py" --key "$KEY" --count 1 --statuses --hold 0 "$@" "tcp:$ADDR_node2:$port2" 2>&1; }
out=$(peer --op page-cap)
grep -qx "status -1" <<<"$out" && ok "GFS_PAGE_CAP from a client connection: EPERM" || fail "page-cap from a client: $out"
out=$(peer --kind admin --op page-cap)
grep -qx "status 0" <<<"$out" && ok "  from an admin connection: served" || fail "page-cap from an admin: $out"
out=$(peer --op page-put-short)
grep -q "closed by server" <<<"$out" && ok "a GFS_PAGE_PUT with less data than it names closes the connection" ||
	fail "page-put-short: $out"
out=$(peer --kind gfsd --op page-punt-short)
grep -q "closed by server" <<<"$out" && ok "a GFS_PAGE_PUNT (from a gfsd) with less data than it names closes the connection" ||
	fail "page-punt-short: $out"
check "  node2's gfsd still lends memory" server_value node2 swap_pages_total
bad=$STATE/bad-gfsd.conf
sed 's/^swap_cache_mb = .*/swap_cache_mb = -5/' "$GFSD_CONFIG_node2" >"$bad"
out=$(nb_exec 2 timeout 60 "$(gf_bin gfsd)" -c "$bad" -f 2>&1) # (timeout: only against a hang)
rc=$?
[[ $rc != 0 && $out == *swap_cache_mb* ]] && ok "gfsd refuses swap_cache_mb = -5, naming it (exit $rc)" ||
	fail "gfsd with swap_cache_mb = -5: exit $rc: $out"
sed 's/^gfmd_port = .*/gfmd_port = nope/' "$CONF" >"$STATE/bad-client.conf"
expect_exit "gfswap on with gfmd_port = nope fails" 1 "$GFSWAP" on -c "$STATE/bad-client.conf" --name bad$$ \
	--size 64M --fallback-dir "$STATE/fallback"
grep -q "gfmd_port" "$GFSWAP_RUNDIR/bad$$.last.log" 2>/dev/null && ok "  and its log says gfmd_port" ||
	fail "  the log does not name gfmd_port: $(cat "$GFSWAP_RUNDIR/bad$$.last.log" 2>&1)"
for bad in "swap_write_behind_mb = 2000" "swap_read_ahead_mb = x"; do
	{ cat "$CONF"; echo "$bad"; } >"$STATE/bad-client.conf"
	expect_exit "gfswap on with $bad fails" 1 "$GFSWAP" on -c "$STATE/bad-client.conf" --name bad$$ \
		--size 64M --fallback-dir "$STATE/fallback"
	grep -q "${bad%% *}" "$GFSWAP_RUNDIR/bad$$.last.log" 2>/dev/null && ok "  and its log names ${bad%% *}" ||
		fail "  the log does not name ${bad%% *}: $(cat "$GFSWAP_RUNDIR/bad$$.last.log" 2>&1)"
done

# ---- off after the daemon was killed; its pages expire on the servers --------------------------
# the servers lend again (swap-lend ... all above): once gfswap's table says
# so, the holder's pages go to them, not to the disk
room_known() { "$GFSWAP" status --name "$NAME" | awk '$3 == "up" && $7 > 0 { n++ } END { exit n < 2 }'; }
poll_until "$GF_WAIT_SECS" room_known || fail "gfswap sees no room: $("$GFSWAP" status --name "$NAME")"
hold_start crash
held_anywhere() { held_on node2 || held_on node3 || held_on node4; }
poll_until "$GF_WAIT_SECS" held_anywhere || fail "the holder's pages are on no server"
pid=$(cat "$GFSWAP_RUNDIR/$NAME/pid")
check "kill -9 of the gfswap daemon while a process holds pages" kill -9 "$pid"
gone() { ! kill -0 "$pid" 2>/dev/null; }
poll_until "$GF_WAIT_SECS" gone
kill -9 "$HOLD_PID" 2>/dev/null # (it may have died already: its page-ins fail)
wait "$HOLD_PID" 2>/dev/null
check "the process that held the pages is gone" bash -c "! kill -0 $HOLD_PID 2>/dev/null"
all_expired() {
	local k
	for k in 2 3 4; do [[ $(server_value "node$k" swap_pages_used) == 0 ]] || return 1; done
}
poll_until "$GF_WAIT_SECS" all_expired ||
	fail "a dead gfswap's pages stay on the servers: $(for k in 2 3 4; do server_value node$k swap_pages_used; done)"
expired=0
for k in 2 3 4; do expired=$((expired + $(server_value "node$k" swap_expired))); done
expect_eq "its pages were dropped when its lease ran out" yes "$([[ $expired -gt 0 ]] && echo yes)"
check "gfswap off cleans up after it" "$GFSWAP" off --name "$NAME" ||
	it_say "swap: $(cat /proc/swaps); VmSwap: $(grep -H 'VmSwap:[[:space:]]*[1-9]' /proc/[0-9]*/status 2>/dev/null | head)"
check "off left no swap, loop device, mount or daemon" nothing_left
it_done
