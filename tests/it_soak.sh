#!/bin/bash
# shellcheck disable=SC2317  # helpers are called through check/poll_until
# A soak: random writers on two mounts (writes, appends, truncates, renames,
# unlinks, reads checked against what they wrote) while gfsd, gfmd and
# PostgreSQL are killed with kill -9 and started again, in an order drawn from a seed.
# Then, with every daemon up: every file whose last mutation succeeded has
# exactly its bytes, read through either mount and in every current
# replica's spool file; each has its 2 copies; gffsck --verify finds no
# replica missing, short or corrupt.
#   GF_SOAK_SECS  how long the writers run (default 40)
#   GF_SOAK_SEED  the seed of the writers' operations and of the kills (default 1)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
it_require sha256sum
SECS=${GF_SOAK_SECS:-40} SEED=${GF_SOAK_SEED:-1}
[[ $SECS =~ ^[1-9][0-9]*$ && $SEED =~ ^[0-9]+$ ]] ||
	die "GF_SOAK_SECS must be a positive number of seconds, GF_SOAK_SEED a number (got '$SECS', '$SEED')"
it_cluster_up --gfsd 3 --mounts 2
GFWHERE=$(gf_bin gfwhere)
export GFARMFS_CONFIG=$STATE/admin.conf
it_say "seed $SEED, writers for ${SECS}s"

mkdir "$MOUNT/soak" || die "mkdir soak"
check "the soak directory keeps 2 copies" "$(gf_bin gfncopy)" -c "$STATE/admin.conf" -s 2 "$MOUNT/soak"

STOP=$STATE/soak.stop
pids=()
for w in 1 2 3 4; do
	(cd "$STATE" && exec "$PY" "$IT_DIR/soak.py" "$MOUNT,$MOUNT2" soak "$SECS" "$w" 10 "$SEED" "$STOP") \
		>"$STATE/soak.w$w.out" 2>&1 &
	pids+=($!)
done
IT_CLEANUP+=("touch '$STOP'")

# The kills, while the writers run: a gfsd (7 in 10), gfmd (2 in 10), or
# PostgreSQL and gfmd, started again after a pause; 2-5 s between them.
RANDOM=$SEED
writers_running() {
	local p
	for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && return 0; done
	return 1
}
kills=0
while writers_running; do
	sleep "$((2 + RANDOM % 4))"
	writers_running || break
	r=$((RANDOM % 10))
	if ((r < 2)); then
		it_say "kill -9 gfmd"
		gf_gfmd_kill9 || fail "kill -9 gfmd"
		sleep "0.$((RANDOM % 9))"
		gf_gfmd_start >/dev/null || die "gfmd does not start again"
	elif ((r == 2)); then
		it_say "kill -9 PostgreSQL, then gfmd"
		gf_pg_kill9 || fail "kill -9 PostgreSQL"
		gf_gfmd_kill9 2>/dev/null # (it may have exited on its failed commit already)
		gf_pg_start >/dev/null || die "PostgreSQL does not start again"
		gf_gfmd_start >/dev/null || die "gfmd does not start again"
	else
		k=$((1 + RANDOM % 3))
		it_say "kill -9 gfsd node$k"
		gf_gfsd_kill9 "$k" || fail "kill -9 gfsd node$k"
		sleep "$((RANDOM % 3)).$((RANDOM % 9))"
		gf_gfsd_start "$k" >/dev/null || die "gfsd node$k does not start again"
	fi
	kills=$((kills + 1))
done
bad=0
for i in "${!pids[@]}"; do
	wait "${pids[$i]}" || bad=1
	sed "s/^/it_soak: /" "$STATE/soak.w$((i + 1)).out"
done
((bad == 0)) && ok "no read during the soak differed from what was written ($kills kills)" ||
	fail "reads during the soak differed from what was written: $(grep -h MISMATCH "$STATE"/soak.w*.out | head -5)"

check_here "every host is up" gf_wait_hosts_up
# The files the writers know, as "NAME SHA256" lines.
"$PY" -c '
import glob, json, sys
for j in sorted(glob.glob(sys.argv[1] + "/soak.w*.json")):
    for name, h in sorted(json.load(open(j)).items()):
        print(name, h)' "$STATE" >"$STATE/known" || die "reading what the writers know"
n=$(wc -l <"$STATE/known")
((n > 0)) || die "the writers know no file"

two_copies() {
	local name h
	while read -r name h; do
		[[ $(current "$MOUNT/soak/$name") == 2 ]] || return 1
	done <"$STATE/known"
}
check "each of the $n known files gets its 2 copies" poll_until "$GF_WAIT_SECS" two_copies

drop_caches
wrong=()
while read -r name h; do
	for m in "$MOUNT" "$MOUNT2"; do
		[[ $(sha256sum <"$m/soak/$name" | cut -d' ' -f1) == "$h" ]] || wrong+=("$m/soak/$name")
	done
	ino=$(stat -c %i "$MOUNT/soak/$name")
	while read -r host file; do
		f=$(printf '%s/%s/spool/data/%02x/%016x-%s' "$STATE" "$host" $((ino & 255)) "$ino" "$file")
		[[ $(sha256sum <"$f" | cut -d' ' -f1) == "$h" ]] || {
			wrong+=("$name on $host")
			it_say "$name (inode $ino) on $host: $(stat -c %s "$f" 2>&1) bytes, not the ones written; its replicas:"
			"$GFWHERE" -l "$MOUNT/soak/$name" | sed 's/^/it_soak:   /'
			it_say "what was done to it last:"
			grep -h " $name " "$STATE"/soak.w*.hist | tail -n 12 | sed 's/^/it_soak:   /'
		}
	done < <("$GFWHERE" -l "$MOUNT/soak/$name" | awk 'NR > 1 && $4 == "current" { print $2, $6 }')
done <"$STATE/known"
((${#wrong[@]} == 0)) && ok "all $n known files have their bytes, through both mounts and in every replica" ||
	fail "files with other bytes than written: ${wrong[*]:0:5}"

out=$("$(gf_bin gffsck)" -c "$STATE/admin.conf" --verify 2>&1 | tail -n 1)
it_say "$out"
[[ $out =~ \ 0\ missing,\ 0\ short,.*\ 0\ corrupt ]] && ok "gffsck --verify: nothing missing, short or corrupt" ||
	fail "gffsck --verify: $out"
it_done
