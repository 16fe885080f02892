#!/bin/bash
# bench/everyday.sh — what a new user does on a file system, timed on a
# gfarmfs mount beside a local directory in the same run, each with a final
# `sync` included: `tar -x` of a tree of small files, `rm -rf` of it,
# `rsync -a` of it onto the file system, `git clone` of a repository of
# many files, and SQLite's small transactions (each its own commit, the
# default rollback journal). Medians of R rounds, and the ratio
# gfarmfs/local; for the mount also FUSE requests and gfmd calls per file
# (user.gfarmfs.stats), to show where the time goes. Not a test: no pass/fail.
#
# usage: bench/everyday.sh [-f FILES] [-g GITFILES] [-q TRANSACTIONS] [-r ROUNDS]
#                          [--mount DIR] [--local DIR] [--fast | --journal]
#   -f FILES       files in the tree for tar, rm and rsync (default 37000)
#   -g GITFILES    files in the git repository (default 5000)
#   -q TRANSACTIONS SQLite transactions (default 1000)
#   --mount DIR    an existing gfarmfs mount (default: start a cluster with
#                  3 gfsd and one mount, and stop it afterwards)
#   --local DIR    local directory to compare with (default: /var/tmp/…)
#   --fast         the cluster started runs gfmd in the fast mode
#                  (durability = fsync with a journal: README, "journal")
#   --journal      the cluster started runs gfmd in the default mode with a
#                  journal (a reply waits for its record's flush there)
set -uo pipefail
BENCH=everyday
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
FILES=37000 GITFILES=5000 TX=1000 R=3 MNT='' LOCAL='' FAST=0 JOURNAL=0
while (($#)); do
	case $1 in
	-f) FILES=$2; shift 2 ;;
	-g) GITFILES=$2; shift 2 ;;
	-q) TX=$2; shift 2 ;;
	-r) R=$2; shift 2 ;;
	--mount) MNT=$2; shift 2 ;;
	--local) LOCAL=$2; shift 2 ;;
	--fast) FAST=1; shift ;;
	--journal) JOURNAL=1; shift ;;
	-h | --help) bench_help 22; exit 0 ;;
	*) echo "everyday: unknown option $1 (see --help)" >&2; exit 2 ;;
	esac
done
for v in "$FILES" "$GITFILES" "$TX" "$R"; do
	[[ $v =~ ^[1-9][0-9]*$ ]] || { echo "everyday: counts must be positive integers" >&2; exit 2; }
done
for t in tar rsync git sync; do
	command -v "$t" >/dev/null || { echo "everyday: needs $t (apt-get install $t)" >&2; exit 1; }
done
PY=/usr/bin/python3
[[ -x $PY ]] || PY=$(command -v python3)

SRC=$(mktemp -d /var/tmp/everyday.src.XXXXXX)
bench_cleanup_extra() { rm -rf "$SRC"; }
bench_targets "$FILES files (tar, rm, rsync), git $GITFILES files, SQLite $TX transactions, median of $R"

# the tree: source-like files of 0.2-8 KiB in directories of about 100
"$PY" - "$SRC/tree" "$FILES" <<'PYEOF'
import os, sys, random
root, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(1)
for i in range(n):
    d = os.path.join(root, "d%03d" % (i // 1000), "s%02d" % (i % 1000 // 100))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%05d.c" % i), "wb") as f:
        f.write(rnd.randbytes(rnd.randint(200, 8192)))
PYEOF
tar -C "$SRC" -cf "$SRC/tree.tar" tree || exit 1
# the repository: GITFILES files, one commit
mkdir -p "$SRC/repo"
"$PY" - "$SRC/repo" "$GITFILES" <<'PYEOF'
import os, sys, random
root, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(2)
for i in range(n):
    d = os.path.join(root, "m%02d" % (i // 200))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "x%05d.py" % i), "w") as f:
        f.write("".join("line %d of %d\n" % (k, i) for k in range(rnd.randint(5, 200))))
PYEOF
(cd "$SRC/repo" && git init -q && git add -A && git -c user.name=b -c user.email=b@b commit -qm init) ||
	exit 1

stats() { getfattr --absolute-names --only-values -n user.gfarmfs.stats "$MNT" 2>/dev/null; }
# FUSE requests and gfmd calls in stats text S
totals() {
	awk '$1 == "fuse_requests" { f = $2 } $1 == "gfmd_calls" { g = $2 } END { print f + 0, g + 0 }' <<<"$1"
}

# run NAME TARGET-DIR CMD...: seconds for CMD plus a sync; appends to results
# (and for the mount, the last round's requests and calls by kind: KINDS)
declare -A T=() REQ=() CALLS=() KINDS=()
run() {
	local name=$1 where=$2 t0 c0 c1 s0 s1
	shift 2
	[[ $where == gfarmfs ]] && s0=$(stats) && c0=$(totals "$s0")
	# (untimed: what the last run left dirty is not this one's to write)
	sync
	t0=$(now)
	"$@" >/dev/null 2>&1 || { echo "everyday: $name on $where failed: $*" >&2; return 1; }
	sync
	T[$name.$where]+="$(secs "$t0") "
	if [[ $where == gfarmfs ]]; then
		s1=$(stats)
		c1=$(totals "$s1")
		REQ[$name]+="$(awk -v a="${c0% *}" -v b="${c1% *}" 'BEGIN { print b - a }') "
		CALLS[$name]+="$(awk -v a="${c0#* }" -v b="${c1#* }" 'BEGIN { print b - a }') "
		KINDS[$name]=$(awk 'NR == FNR { a[$1] = $2; next }
			$1 ~ /^(fuse|gfmd)\./ && $2 - a[$1] > 0 { print $1, $2 - a[$1] }' \
			<(echo "$s0") <(echo "$s1"))
	fi
}

sqlite_tx() { # DB N: N small transactions, each committed
	"$PY" - "$1" "$2" <<'PYEOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)")
for i in range(int(sys.argv[2])):
    db.execute("BEGIN")
    db.execute("INSERT INTO t (v) VALUES (?)", ("row %d" % i,))
    db.execute("COMMIT")
db.close()
PYEOF
}

for ((r = 1; r <= R; r++)); do
	for where in gfarmfs local; do
		if [[ $where == gfarmfs ]]; then D=$MNT/everyday.$$; else D=$LOCAL/everyday.$$; fi
		mkdir -p "$D" || exit 1
		run "tar -x" "$where" tar -C "$D" -xf "$SRC/tree.tar"
		run "rm -rf" "$where" rm -rf "$D/tree"
		run "rsync -a" "$where" rsync -a "$SRC/tree" "$D/"
		run "git clone" "$where" git clone -q --no-hardlinks "$SRC/repo" "$D/repo"
		run "sqlite" "$where" sqlite_tx "$D/db.sqlite" "$TX"
		rm -rf "$D"
	done
	echo "  round $r done"
done

med() { tr ' ' '\n' <<<"$1" | grep -v '^$' | median; }
printf '\n%-10s %12s %12s %9s %12s %12s\n' "workload" "gfarmfs s" "local s" "ratio" "FUSE req" "gfmd calls"
for w in "tar -x" "rm -rf" "rsync -a" "git clone" "sqlite"; do
	g=$(med "${T[$w.gfarmfs]}") l=$(med "${T[$w.local]}")
	case $w in
	git*) per=$GITFILES unit="/file" ;;
	sqlite) per=$TX unit="/tx" ;;
	*) per=$FILES unit="/file" ;;
	esac
	rq=$(med "${REQ[$w]}") gc=$(med "${CALLS[$w]}")
	printf '%-10s %12.2f %12.2f %8.2fx %9.1f%-5s %7.1f%s\n' "$w" "$g" "$l" \
		"$(awk -v a="$g" -v b="$l" 'BEGIN { print (b > 0) ? a / b : 0 }')" \
		"$(awk -v a="$rq" -v n="$per" 'BEGIN { print a / n }')" "$unit" \
		"$(awk -v a="$gc" -v n="$per" 'BEGIN { print a / n }')" "$unit"
done
# where the requests and calls go (the mount's last round), per file or tx
printf '\nby kind (gfarmfs, last round)%s\n' ""
for w in "tar -x" "rm -rf" "rsync -a" "git clone" "sqlite"; do
	case $w in
	git*) per=$GITFILES ;;
	sqlite) per=$TX ;;
	*) per=$FILES ;;
	esac
	for k in fuse gfmd; do
		printf '  %-10s %s' "$w" "$k:"
		awk -v k="$k" -v n="$per" 'index($1, k ".") == 1 && $2 / n >= 0.05 {
			printf "%s %.1f\n", substr($1, length(k) + 2), $2 / n }' <<<"${KINDS[$w]}" |
			sort -k2 -g -r | awk '{ printf " %s %s", $1, $2 } END { print "" }'
	done
done
