# tests/lib.sh — assertions and cluster life cycle for tests/it_*.sh.
# shellcheck shell=bash
#
#     . "$(dirname "$0")/lib.sh"
#     it_cluster_up --gfsd 3 --mounts 2     # cluster down is guaranteed on exit
#     check "a file can be created" touch "$MOUNT/f"
#     expect_errno "mkdir twice" EEXIST 'os.mkdir(M + "/d")'
#     it_done                                # "N passed, N failed", exit status
#
# Exit status follows automake: 0 pass, 1 fail, 77 skip, 99 hard error.
# Not root or no /dev/fuse: skip, unless GF_IT_REQUIRE=1 (./quickstart test,
# CI) where that is an error. Other missing prerequisites are errors.

set -u
set -o pipefail

IT_NAME=$(basename "$0" .sh)
IT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
IT_PASS=0
IT_FAIL=0
IT_FINISHED=0
IT_CLEANUP=()
# shellcheck source-path=SCRIPTDIR source=cluster.sh
. "$IT_DIR/cluster.sh"
# shellcheck source-path=SCRIPTDIR source=fault.sh
. "$IT_DIR/fault.sh"

# python3 that every user can run (not a per-user shim under /root).
if [[ -x /usr/bin/python3 ]]; then PY=/usr/bin/python3; else PY=$(command -v python3 || true); fi

it_say() { printf '%s: %s\n' "$IT_NAME" "$*"; }

ok() {
	IT_PASS=$((IT_PASS + 1))
	printf 'ok   %s\n' "$*"
}

fail() {
	IT_FAIL=$((IT_FAIL + 1))
	printf 'FAIL %s\n' "$*"
}

# A step the rest of the test depends on failed: stop here (hard error).
die() {
	IT_FAIL=$((IT_FAIL + 1))
	printf 'ERROR %s\n' "$*"
	exit 99
}

it_unmet() {
	IT_FINISHED=1
	if [[ ${GF_IT_REQUIRE:-0} == 1 ]]; then
		printf 'ERROR %s (required: GF_IT_REQUIRE=1)\n' "$*"
		exit 99
	fi
	printf 'SKIP %s\n' "$*"
	exit 77
}

it_require() {
	local c
	[[ $(id -u) == 0 ]] || it_unmet "integration tests need root"
	[[ -c /dev/fuse ]] || it_unmet "integration tests need /dev/fuse"
	for c in fusermount3 mountpoint runuser setpriv sha256sum "$@"; do
		command -v "$c" >/dev/null 2>&1 || die "missing prerequisite: $c"
	done
	[[ -n $PY ]] || die "missing prerequisite: python3"
}

# check DESC CMD...: passes when CMD exits 0.
check() {
	local desc=$1 out rc
	shift
	out=$("$@" 2>&1)
	rc=$?
	if ((rc == 0)); then
		ok "$desc"
	else
		fail "$desc: \`$*' exited $rc${out:+: ${out:0:2000}}"
	fi
	return $rc
}

# check_here DESC CMD...: as check, but CMD runs in this shell, not in the
# subshell of $(...): for what starts, kills or reaps this shell's children
# or sets variables (gf_gfmd_start, gf_*_kill9, gf_pg_pause, ...). Its
# output is not captured.
check_here() {
	local desc=$1 rc
	shift
	"$@"
	rc=$?
	if ((rc == 0)); then
		ok "$desc"
	else
		fail "$desc: \`$*' exited $rc"
	fi
	return $rc
}

# check_fails DESC CMD...: passes when CMD exits non-zero.
check_fails() {
	local desc=$1 out rc
	shift
	out=$("$@" 2>&1)
	rc=$?
	if ((rc != 0)); then
		ok "$desc"
		return 0
	fi
	fail "$desc: \`$*' succeeded but should have failed${out:+: ${out:0:500}}"
	return 1
}

# expect_eq DESC EXPECTED ACTUAL
expect_eq() {
	if [[ $2 == "$3" ]]; then
		ok "$1"
		return 0
	fi
	fail "$1: expected '${2:0:500}', got '${3:0:500}'"
	return 1
}

# Python prelude for the errno checks: os, errno, stat, plus helpers.
IT_PY_PRELUDE='
import os, sys, errno, stat, ctypes
_libc = ctypes.CDLL(None, use_errno=True)
def _raise(p):
    e = ctypes.get_errno()
    raise OSError(e, os.strerror(e), p)
def renameat2(a, b, flags):
    if _libc.renameat2(-100, a.encode(), -100, b.encode(), flags) != 0:
        _raise(a)
RENAME_NOREPLACE, RENAME_EXCHANGE = 1, 2
def creat_excl(p, mode=0o644):
    os.close(os.open(p, os.O_CREAT | os.O_EXCL | os.O_WRONLY, mode))
def write_file(p, data, flags=os.O_WRONLY | os.O_CREAT | os.O_TRUNC):
    fd = os.open(p, flags, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
def read_file(p):
    with open(p, "rb") as f:
        return f.read()
'

# py [--as USER] CODE: run python with the prelude; M is $MOUNT.
py() {
	local pre=()
	if [[ $1 == --as ]]; then
		pre=(setpriv --reuid="$(id -u "$2")" --regid="$(id -g "$2")" --clear-groups)
		shift 2
	fi
	(cd / && M=${MOUNT:-} M2=${MOUNT2:-} "${pre[@]}" "$PY" -c "$IT_PY_PRELUDE
M = os.environ.get('M', '')
M2 = os.environ.get('M2', '')
$1")
}

# expect_errno [--as USER] DESC ERRNO-NAME CODE: CODE raises OSError ERRNO.
# ERRNO-NAME "OK" means it must succeed.
expect_errno() {
	local as=() desc want got
	if [[ $1 == --as ]]; then
		as=(--as "$2")
		shift 2
	fi
	desc=$1 want=$2
	got=$(py "${as[@]}" "try:
$(printf '%s\n' "$3" | sed 's/^/    /')
except OSError as e:
    print(errno.errorcode.get(e.errno, e.errno))
else:
    print('OK')" 2>&1)
	expect_eq "$desc" "$want" "$got"
}

# as_user USER CMD...: run a command as an unprivileged user.
as_user() {
	local u=$1
	shift
	(cd / && setpriv --reuid="$(id -u "$u")" --regid="$(id -g "$u")" --clear-groups "$@")
}

# poll_until SECS CMD...: 0 as soon as CMD succeeds, 1 after SECS seconds.
# SECS only guards against a hang (GF_WAIT_SECS, unless a test has reason
# for more): what a test asserts is that CMD comes true, never how soon.
poll_until() { gf_poll "$@"; }

# Replicas, through gfwhere (set GFWHERE, and GFARMFS_CONFIG to an admin
# configuration): current PATH prints how many current replicas the file
# has; spools_match PATH SRC [N] succeeds when every current replica's
# spool file has SRC's bytes, and there are N of them (default: at least 1).
current() { "$GFWHERE" -l "$1" 2>/dev/null | awk 'NR > 1 && $4 == "current"' | wc -l; }
spools_match() {
	local ino host file n=0
	ino=$(stat -c %i "$1")
	while read -r host file; do
		cmp -s "$2" "$(printf '%s/%s/spool/data/%02x/%016x-%s' "$STATE" "$host" $((ino & 255)) "$ino" "$file")" || return 1
		n=$((n + 1))
	done < <("$GFWHERE" -l "$1" | awk 'NR > 1 && $4 == "current" { print $2, $6 }')
	if [[ -n ${3:-} ]]; then ((n == $3)); else ((n > 0)); fi
}

# spool_of K PATH: PATH's replica files (not their .sum) in nodeK's spool;
# K empty: in every node's.
spool_of() {
	local ino dirs=("$STATE"/node*/spool/data)
	ino=$(stat -c %i "$2") || return 1
	[[ -n $1 ]] && dirs=("$STATE/node$1/spool/data")
	find "${dirs[@]}" -type f -name "$(printf '%016x' "$ino")-????????????????" 2>/dev/null
}

# all_sealed PATH: every replica file of PATH in the cluster's spools has
# its checksums beside it. gfsd writes them in the background after the
# last writer's close (gfsd/sealer.h): poll this before damaging a replica
# on purpose, or the sums would describe the damage.
all_sealed() {
	local f n=0
	while read -r f; do
		[[ -s $f.sum ]] || return 1
		n=$((n + 1))
	done < <(spool_of "" "$1")
	((n > 0))
}

# all_dirty FILE: every page of FILE is in the page cache and dirty (not
# written back since it was written; cachestat(2), Linux 6.5).
all_dirty() {
	"$PY" - "$1" <<'PYEOF'
import ctypes, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
rng, cs = (ctypes.c_uint64 * 2)(0, 0), (ctypes.c_uint64 * 5)()
libc = ctypes.CDLL(None, use_errno=True)
if libc.syscall(451, fd, rng, cs, 0) != 0:
    sys.exit(2)
page = os.sysconf("SC_PAGE_SIZE")
pages = (os.fstat(fd).st_size + page - 1) // page
sys.exit(0 if pages and cs[0] >= pages and cs[1] >= pages else 1)
PYEOF
}

# drop_caches: the kernel's page cache, after writing back what is dirty.
drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches; }
# flip FILE OFFSET: invert one byte of FILE in place (damage for checksums
# to find; written through the page cache, so FILE's ctime moves).
flip() {
	"$PY" - "$1" "$2" <<'PYEOF'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(int(sys.argv[2])); b = f.read(1); f.seek(int(sys.argv[2])); f.write(bytes([b[0] ^ 0xff]))
PYEOF
}

# mount_stat MOUNT KEY: a counter of the mount's user.gfarmfs.stats (0 when
# the mount does not report it).
mount_stat() {
	getfattr --absolute-names --only-values -n user.gfarmfs.stats "$1" |
		awk -v k="$2" '$1 == k { v = $2 } END { print v + 0 }'
}
# mount_refuses KEY VALUE MESSAGE: mount 1's configuration with KEY = VALUE
# (instead of its own KEY lines) makes mount.gfarmfs refuse to start with
# MESSAGE in what it says, and nothing is mounted.
mount_refuses() {
	local out rc
	{ grep -v "^$1" "$STATE/client1.conf"; echo "$1 = $2"; } >"$STATE/bad.conf"
	mkdir -p "$STATE/mnt-bad"
	out=$("$(gf_bin mount.gfarmfs)" "$STATE/bad.conf" "$STATE/mnt-bad" -f 2>&1)
	rc=$?
	((rc != 0)) && [[ $out == *"$3"* ]] && ok "$1 = $2: refused, saying why" ||
		fail "$1 = $2: rc $rc: $out"
	mountpoint -q "$STATE/mnt-bad" && fail "and something is mounted" && fusermount3 -uz "$STATE/mnt-bad"
}
# need_passthrough MOUNT: the test is unmet unless MOUNT runs FUSE passthrough.
need_passthrough() {
	[[ $(mount_stat "$1" passthrough) == 1 ]] ||
		it_unmet "no FUSE passthrough here (Linux 6.9 or later, as root)"
}

# Seconds since the epoch with nanoseconds; since T0 for how long it took.
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

it_cluster_up() {
	it_say "starting cluster $*"
	gf_cluster_up "$@" || die "cluster up failed"
	it_say "cluster in $STATE (KEEP=1 keeps it)"
}

# Always runs: test hooks, logs on failure, cluster down, summary line.
it_finish() {
	local h
	((IT_FINISHED)) && return 0
	IT_FINISHED=1
	for h in "${IT_CLEANUP[@]}"; do
		eval "$h" >/dev/null 2>&1
	done
	if [[ -n ${STATE:-} && -d $STATE ]]; then
		((IT_FAIL > 0)) && gf_dump_logs 2>&1
		if gf_cluster_down "$STATE"; then
			ok "cluster down left no process or mount behind"
		else
			fail "cluster down was not clean (a daemon did not exit cleanly on SIGTERM, or something was left behind; see above)"
		fi
	fi
	printf '%s: %d passed, %d failed\n' "$IT_NAME" "$IT_PASS" "$IT_FAIL"
}

it_on_exit() {
	local rc=$?
	if ((!IT_FINISHED)); then
		it_finish
		((rc == 0 || rc == 77)) && rc=99 # left without it_done
	fi
	exit "$rc"
}
trap it_on_exit EXIT
trap 'printf "ERROR interrupted\n"; exit 99' INT TERM HUP

it_done() {
	it_finish
	((IT_FAIL > 0)) && exit 1
	((IT_PASS > 0)) || exit 99
	exit 0
}
