#!/bin/bash
# Bad input to every program: wrong arguments, missing or broken
# configuration, an unusable key, an unreachable gfmd or PostgreSQL. Each must
# fail with its documented exit status (daemons and the mount 1; commands 2
# for a usage error, 1 for a runtime error) and a message that names the
# problem, and must leave nothing behind (no mount, no process). No cluster:
# a closed local port stands in for every unreachable service.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck disable=SC2119  # it_require takes extra tools, none needed here
it_require

T=$(mktemp -d /tmp/gfbadinput.XXXXXX) || die "mktemp failed"
IT_CLEANUP+=("fusermount3 -uz '$T/mnt'; rm -rf '$T'")
if ! { GFMD=$(gf_bin gfmd) && GFSD=$(gf_bin gfsd) && MOUNT_BIN=$(gf_bin mount.gfarmfs) &&
	GFKEY=$(gf_bin gfkey) && GFHOST=$(gf_bin gfhost) && GFDF=$(gf_bin gfdf) &&
	GFSCHED=$(gf_bin gfsched) && GFRUN=$(gf_bin gfrun) && GFUSER=$(gf_bin gfuser); }; then
	die "programs not built"
fi

# A TCP port on loopback that nothing listens on.
CLOSED=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$GFKEY" "$T/key" >/dev/null || die "gfkey failed"
printf 'short\n' >"$T/short.key"
mkdir -p "$T/spool" "$T/mnt"

conf() { # conf NAME LINE... : write $T/NAME.conf
	local name=$1
	shift
	printf '%s\n' "$@" >"$T/$name.conf"
}
conf good "key_file = $T/key" "gfmd_host = 127.0.0.1" "gfmd_port = $CLOSED" \
	"spool = $T/spool" "postgresql = \"host=$T port=$CLOSED dbname=gfarmfs\"" "hostname = n1"
conf unknown "gfmd_hots = 127.0.0.1"
conf notnum "key_file = $T/key" "gfmd_port = abc" "spool = $T/spool" "postgresql = \"dbname=x\""
conf nokey "spool = $T/spool" "postgresql = \"dbname=x\""
conf shortkey "key_file = $T/short.key" "spool = $T/spool" "postgresql = \"dbname=x\""
conf nospool "key_file = $T/key"
conf badload "key_file = $T/key" "spool = $T/spool" "load_source = bogus"
conf quote "spool = \"unterminated"
conf longlease "key_file = $T/key" "gfmd_port = $CLOSED" "lease_ms = 60001" \
	"postgresql = \"host=$T port=$CLOSED dbname=gfarmfs\""
conf leasesmaybe "key_file = $T/key" "gfmd_host = 127.0.0.1" "gfmd_port = $CLOSED" "leases = maybe"

# expect DESC RC PATTERN CMD...: CMD exits RC ("nz": any non-zero) and its
# output (stdout and stderr) contains PATTERN (a fixed string).
expect() {
	local desc=$1 want=$2 pat=$3 out rc
	shift 3
	out=$(timeout "$GF_WAIT_SECS" "$@" 2>&1)
	rc=$?
	if ((rc == 124)); then
		fail "$desc: \`$*' hangs (still running after ${GF_WAIT_SECS}s)"
	elif [[ $want == nz && $rc == 0 ]] || [[ $want != nz && $rc != "$want" ]]; then
		fail "$desc: \`$*' exited $rc, expected $want: ${out:0:500}"
	elif [[ $out != *"$pat"* ]]; then
		fail "$desc: output lacks '$pat': ${out:0:500}"
	else
		ok "$desc"
	fi
}

# ---- daemons ---------------------------------------------------------------------
for d in gfmd gfsd; do
	bin=$GFMD
	[[ $d == gfsd ]] && bin=$GFSD
	expect "$d without -c" 1 "--help" "$bin" -f
	expect "$d with an unknown option" 1 "--help" "$bin" -f --bogus
	expect "$d with a missing config file" 1 "$T/nope.conf: No such file" "$bin" -f -c "$T/nope.conf"
	expect "$d with an unknown config key" 1 "unknown.conf:1: unknown key 'gfmd_hots'" "$bin" -f -c "$T/unknown.conf"
	expect "$d with an unterminated quote" 1 "unterminated quote" "$bin" -f -c "$T/quote.conf"
	expect "$d with a port that is not a number" 1 "gfmd_port = abc: not a number" "$bin" -f -c "$T/notnum.conf"
	expect "$d without key_file" 1 "'key_file' is not set" "$bin" -f -c "$T/nokey.conf"
	expect "$d with a key shorter than 32 bytes" 1 "shorter than 32 bytes" "$bin" -f -c "$T/shortkey.conf"
done
expect "gfmd when PostgreSQL is unreachable" 1 "cannot connect to PostgreSQL" "$GFMD" -f -c "$T/good.conf"
expect "gfmd with a lease_ms out of range" 1 "lease_ms = 60001: not a number in [0, 60000]" \
	"$GFMD" -f -c "$T/longlease.conf"
expect "gfsd without spool" 1 "'spool' is not set" "$GFSD" -f -c "$T/nospool.conf"
expect "gfsd with an unknown load_source" 1 "expected 'system' or 'netns'" "$GFSD" -f -c "$T/badload.conf"

# ---- the mount ---------------------------------------------------------------------
expect "mount.gfarmfs without arguments" 1 "--help" "$MOUNT_BIN"
expect "mount.gfarmfs with a missing config file" 1 "$T/nope.conf: No such file" "$MOUNT_BIN" "$T/nope.conf" "$T/mnt"
expect "mount.gfarmfs when gfmd is unreachable" 1 "cannot connect to gfmd at 127.0.0.1:$CLOSED" \
	"$MOUNT_BIN" "$T/good.conf" "$T/mnt"
if mountpoint -q "$T/mnt"; then fail "a failed mount left a mount behind"; else ok "a failed mount leaves nothing mounted"; fi
expect "mount.gfarmfs on a missing mount point" 1 "$T/absent" "$MOUNT_BIN" "$T/good.conf" "$T/absent"
expect "mount.gfarmfs with leases neither yes nor no" 1 "leases 'maybe': expected yes or no" \
	"$MOUNT_BIN" "$T/leasesmaybe.conf" "$T/mnt"
expect "mount.gfarmfs with a gfmd_timeout that is not a number" 1 \
	"gfmd_timeout: not a number of seconds" "$MOUNT_BIN" "$T/good.conf" "$T/mnt" -o gfmd_timeout=soon
expect "mount.gfarmfs with a gfsd_timeout out of range" 1 \
	"gfsd_timeout: not a number of seconds" "$MOUNT_BIN" "$T/good.conf" "$T/mnt" -o gfsd_timeout=-1

# ---- commands ----------------------------------------------------------------------
export GFARMFS_CONFIG=$T/good.conf
expect "gfhost with an unknown subcommand" 2 "gfhost --help" "$GFHOST" bogus
expect "gfhost list with an extra argument" 2 "list takes no arguments" "$GFHOST" list extra
expect "gfhost with a missing config" 1 "$T/nope.conf: No such file" "$GFHOST" -c "$T/nope.conf"
expect "gfhost when gfmd is unreachable" 1 "cannot connect to gfmd at 127.0.0.1:$CLOSED" "$GFHOST" list
expect "gfdf with an unknown option" 2 "gfdf --help" "$GFDF" --bogus
expect "gfkey refuses to overwrite a key" 1 "already exists" "$GFKEY" "$T/key"
expect "gfsched without PATH or -w" 2 "gfsched --help" "$GFSCHED"
expect "gfsched -n with a non-number" 2 "gfsched --help" "$GFSCHED" -n x -w
expect "gfrun without a command" 2 "gfrun --help" "$GFRUN"
expect "gfuser add with an invalid name" 2 "is not a valid user name" "$GFUSER" add 'bad name!' 5
expect "gfuser add with an id that is not a number (before contacting gfmd)" 2 \
	"'notanumber' is not a UID" "$GFUSER" add alice notanumber
expect "gfuser add with id 0" 2 "'0' is not a UID" "$GFUSER" add alice 0
expect "gfuser add with an id too large" 2 "is not a UID" "$GFUSER" add alice 4294967295
expect "gfuser del with too many arguments" 2 "del needs one NAME" "$GFUSER" del a b

# Nothing that failed may still be running.
if pgrep -f "$T/" >/dev/null; then
	fail "a process of this test is still running: $(pgrep -af "$T/")"
else
	ok "no process left behind"
fi
it_done
