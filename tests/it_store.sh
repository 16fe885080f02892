#!/bin/bash
# gfmd's store (gfmd/store_pg.c) against a real PostgreSQL: runs the Check
# program tests/unit/check_store (see there for what it covers) with
# GF_TEST_PGCONN pointing at a throwaway server started here. Each of its
# tests makes and drops a database of its own. Needs root (initdb runs as
# the postgres user), not FUSE.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
[[ $(id -u) == 0 ]] || it_unmet "the store tests need root (initdb as the postgres user)"
id postgres >/dev/null 2>&1 || die "missing prerequisite: a postgres user (apt-get install postgresql)"
CHECK_STORE=$top_builddir/tests/unit/check_store
[[ -x $CHECK_STORE ]] || die "$CHECK_STORE is not built (make check builds it)"

# A state directory that gf_cluster_down (run on exit by it_finish, however
# this script ends) knows how to stop and remove: PostgreSQL only.
STATE=$(mktemp -d /tmp/gfarmfs-store.XXXXXXXX) || die "mktemp"
chmod 755 "$STATE"
: >"$STATE/.gfarmfs-cluster"
NGFSD=0 NMOUNTS=0 GFMD_PORT='' KEY='' PGDIR=$STATE/pg PGBIN='' PGPORT=''
gf_pg_init
rc=$?
gf_write_env
((rc == 0)) || die "the throwaway PostgreSQL did not start (log: $PGDIR/log)"
# Nothing here outlives the server: no flushes to disk.
(cd / && runuser -u postgres -- "$PGBIN/psql" -h "$PGDIR/sock" -p "$PGPORT" -d postgres -XAtq \
	-c "ALTER SYSTEM SET fsync = off" -c "ALTER SYSTEM SET synchronous_commit = off" \
	-c "SELECT pg_reload_conf()") >/dev/null || die "cannot configure PostgreSQL"
it_say "PostgreSQL on port $PGPORT ($PGDIR)"

T0=$(now)
# (the log files of its tests, kept when one fails, go with the state dir)
mkdir -p "$STATE/tmp"
TMPDIR=$STATE/tmp GF_TEST_PGCONN="host=$PGDIR/sock port=$PGPORT user=postgres dbname=postgres" \
	CK_VERBOSITY=${CK_VERBOSITY:-verbose} "$CHECK_STORE"
rc=$?
case $rc in
0) ok "check_store: every store test passed ($(since "$T0") s)" ;;
77) fail "check_store skipped itself although GF_TEST_PGCONN was set" ;;
*) fail "check_store failed (exit status $rc; see above)" ;;
esac
# (a failed test leaves its database for a look: Check skips its teardown)
((rc == 0)) && check "no test database is left behind" test "$(cd / && runuser -u postgres -- "$PGBIN/psql" \
	-h "$PGDIR/sock" -p "$PGPORT" -d postgres -XAtq \
	-c "SELECT count(*) FROM pg_database WHERE datname LIKE 'gfst\_%'")" = 0

it_done
