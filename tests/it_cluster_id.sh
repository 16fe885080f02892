#!/bin/bash
# shellcheck disable=SC2317  # helpers are called through check
# A gfsd whose spool belongs to cluster A, pointed by mistake at cluster B's
# gfmd, must not serve there: inode numbers collide across clusters, so B's
# dead-replica list would delete A's data. gfmd hands out its cluster id at
# registration, the spool keeps the one it was first given in
# SPOOL/cluster_id, and on a mismatch gfsd logs both, deletes nothing and
# exits 1. Here B even has a dead replica queued for its own node1 with the
# same inode number as A's file.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
it_require sha256sum
it_cluster_up --gfsd 1 --mounts 1

A_SPOOL=$STATE/node1/spool
A_GFSD_CONF=$STATE/node1/gfsd.conf

# ---- cluster A: a file with a replica on node1 -------------------------------------
head -c 300000 /dev/urandom >"$STATE/data" || die "cannot make test data"
check "write a file in cluster A" cp "$STATE/data" "$MOUNT/f" || die "cannot write in A"
A_INO=$(stat -c %i "$MOUNT/f")
check "A's spool holds the replica" test -n "$(find "$A_SPOOL/data" -type f -print -quit)"
A_ID=$(tr -d '\n' <"$A_SPOOL/cluster_id" 2>/dev/null)
if [[ $A_ID =~ ^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$ ]]; then
	ok "A's spool records its cluster id ($A_ID)"
else
	die "A's spool has no cluster_id file with a UUID: '$A_ID'"
fi
check "gfmd A logs the same cluster id" grep -q "cluster $A_ID" "$STATE/gfmd.log"

# Everything in A's spool, bytes included.
spool_manifest() {
	(cd "$A_SPOOL" && find . -type f ! -name gfsd.sock -printf '%p %s\n' | sort &&
		find . -type f ! -name gfsd.sock -print0 | sort -z | xargs -0 -r sha256sum)
}

# ---- cluster B, beside A --------------------------------------------------------------
B_STATE=$(mktemp -d /tmp/gfarmfs-b.XXXXXXXX) || die "mktemp"
IT_CLEANUP+=("GF_CLUSTER_POINTER='$B_STATE.pointer' bash '$IT_DIR/cluster.sh' down --state '$B_STATE'; rm -f '$B_STATE.pointer'")
it_say "starting cluster B in $B_STATE"
GF_CLUSTER_POINTER=$B_STATE.pointer GF_HOST_DOWN_MS=2000 \
	bash "$IT_DIR/cluster.sh" up --gfsd 1 --mounts 1 --state "$B_STATE" \
	>"$STATE/b.env" 2>"$STATE/b.err" || die "cluster B up failed: $(tail -n 20 "$STATE/b.err")"
B_MOUNT=$(gf_env_value "$B_STATE" MOUNT)
B_GFMD_PORT=$(gf_env_value "$B_STATE" GFMD_PORT)
B_ID=$(sed -n 's/.*gfmd: cluster \([0-9a-f-]*\) serving on.*/\1/p' "$B_STATE/gfmd.log" | tail -n 1)
[[ -n $B_ID && $B_ID != "$A_ID" ]] && ok "B is another cluster ($B_ID)" ||
	die "B's cluster id '$B_ID' (A: $A_ID)"

# In B, a file with the same inode number on B's node1, deleted while B's gfsd
# is down: B's gfmd keeps a dead replica for "node1" that names A's inode.
check "write a file in cluster B" cp "$STATE/data" "$B_MOUNT/f"
B_INO=$(stat -c %i "$B_MOUNT/f")
if [[ $B_INO == "$A_INO" ]]; then
	ok "the inode numbers collide across the clusters ($A_INO)"
else
	it_say "note: inode numbers differ (A $A_INO, B $B_INO); the test still checks the refusal"
fi
b_gfsd_stop() { STATE=$B_STATE gf_gfsd_stop 1; }
check "stop B's gfsd" b_gfsd_stop
check "delete the file in B (its replica becomes a dead replica of node1)" rm "$B_MOUNT/f"

# ---- A's gfsd pointed at B's gfmd ------------------------------------------------------
check "stop A's gfsd" gf_gfsd_stop 1
sync
spool_manifest >"$STATE/spool.before" || die "cannot read A's spool"

WRONG_CONF=$STATE/node1/gfsd-wrong.conf
WRONG_LOG=$STATE/node1/gfsd-wrong.log
# Each test cluster has its own key, which alone would stop the registration
# (EPERM); the dangerous case is clusters sharing a key (one site key), so the
# copy takes B's key too.
B_KEY=$(gf_env_value "$B_STATE" KEY)
sed -e "s/^gfmd_port = .*/gfmd_port = $B_GFMD_PORT/" -e "s|^key_file = .*|key_file = $B_KEY|" \
	"$A_GFSD_CONF" >"$WRONG_CONF"
check "the copied config points at B's gfmd" grep -qx "gfmd_port = $B_GFMD_PORT" "$WRONG_CONF"
T0=$(now)
"$(gf_bin gfsd)" -c "$WRONG_CONF" -f -l "$WRONG_LOG" </dev/null >"$STATE/node1/gfsd-wrong.out" 2>&1 &
WRONG_PID=$!
if gf_wait_dead "$WRONG_PID"; then
	ok "gfsd pointed at the wrong cluster exits by itself ($(since "$T0") s)"
	expect_eq "with exit status 1" 1 "$GF_EXIT_STATUS"
else
	fail "gfsd pointed at the wrong cluster still runs after ${GF_WAIT_SECS}s"
	kill -TERM "$WRONG_PID" 2>/dev/null
	gf_wait_dead "$WRONG_PID" 10 || kill -KILL "$WRONG_PID" 2>/dev/null
	gf_wait_dead "$WRONG_PID"
fi
MSG="gfsd: spool $A_SPOOL belongs to cluster $A_ID, but gfmd 127.0.0.1:$B_GFMD_PORT is cluster $B_ID; refusing to serve it (delete $A_SPOOL/cluster_id only if this spool's data is to be discarded)"
if grep -qF -- "$MSG" "$WRONG_LOG"; then
	ok "its log says what is wrong"
else
	fail "no refusal message in $WRONG_LOG; it says: $(tail -n 5 "$WRONG_LOG")"
fi
check_fails "it never heartbeated (no 'registered with gfmd' line)" grep -q "registered with gfmd" "$WRONG_LOG"
spool_manifest >"$STATE/spool.after"
check "A's spool is byte-identical (nothing deleted, cluster_id kept)" diff "$STATE/spool.before" "$STATE/spool.after"
expect_eq "A's spool still names cluster A" "$A_ID" "$(tr -d '\n' <"$A_SPOOL/cluster_id")"
b_node1_down() { ! STATE=$B_STATE gf_host_is_up node1; }
check "B does not list node1 as up (after B's host_down_ms)" poll_until "$GF_WAIT_SECS" b_node1_down

# ---- A's gfsd back home -------------------------------------------------------------------
check "A's gfsd starts again with its own config" gf_gfsd_start 1
check "and comes up in A" gf_wait_hosts_up
check "A still reads the file" cmp "$STATE/data" "$MOUNT/f"
check "A's gfsd did not refuse its own cluster" test -z "$(grep refusing "$STATE/node1/gfsd.log")"

it_done
