#!/bin/bash
# A directory of 10,000 entries: create, list (count and names), stat some,
# rename some, remove all. Also listed from a second mount.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
it_require find
it_cluster_up --gfsd 3 --mounts 2

N=10000
D=$MOUNT/big
check "mkdir" mkdir "$D" || die "cannot mkdir on the mount"

t0=$(now)
expect_errno "create $N files" OK "
d = M + '/big'
for i in range($N):
    fd = os.open('%s/entry-%05d' % (d, i), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    if i % 1000 == 0:
        os.write(fd, b'%d' % i)
    os.close(fd)"
it_say "created $N files in $(since "$t0") s"

seq -f 'entry-%05g' 0 $((N - 1)) >"$STATE/expected"
find "$D" -mindepth 1 -maxdepth 1 -printf '%f\n' | sort >"$STATE/listed"
expect_eq "readdir returns $N entries" $N "$(wc -l <"$STATE/listed")"
check "readdir returns every name exactly once" cmp "$STATE/expected" "$STATE/listed"
# shellcheck disable=SC2012  # ls is the point
expect_eq "ls counts $N" $N "$(ls "$D" | wc -l)"
expect_eq "the directory's link count is 2" 2 "$(stat -c %h "$D")"

for i in 0 1 4999 9998 9999; do
	expect_errno "stat entry $i: a regular file" OK "assert stat.S_ISREG(os.stat(M + '/big/entry-%05d' % $i).st_mode)"
done
expect_eq "content of entry 5000" 5000 "$(cat "$D/entry-05000" 2>&1)"
expect_errno "entry $N does not exist" ENOENT "os.stat(M + '/big/entry-$N')"

# The second mount (another client) sees the whole directory.
find "$MOUNT2/big" -mindepth 1 -maxdepth 1 -printf '%f\n' | sort >"$STATE/listed2"
check "the second mount lists the same $N names" cmp "$STATE/expected" "$STATE/listed2"

# Readdir stays consistent while entries go away between reads.
expect_errno "listing while removing every other entry sees each survivor once" OK "
d = M + '/big'
seen = []
it = os.scandir(d)
n = 0
for e in it:
    seen.append(e.name)
    n += 1
    if n == 100:
        for i in range(1, $N, 2):
            os.unlink('%s/entry-%05d' % (d, i))
it.close()
survivors = ['entry-%05d' % i for i in range(0, $N, 2)]
missing = set(survivors) - set(seen)
assert not missing, 'missing %d, e.g. %s' % (len(missing), sorted(missing)[:3])
assert len(seen) == len(set(seen)), 'duplicates in readdir'"
expect_eq "half the entries remain" $((N / 2)) "$(find "$D" -mindepth 1 -maxdepth 1 | wc -l)"

expect_errno "rename 1000 entries" OK "
d = M + '/big'
for i in range(0, 2000, 2):
    os.rename('%s/entry-%05d' % (d, i), '%s/renamed-%05d' % (d, i))"
expect_eq "renamed names listed" 1000 "$(find "$D" -mindepth 1 -maxdepth 1 -name 'renamed-*' | wc -l)"

t0=$(now)
check "remove everything" find "$D" -mindepth 1 -delete
it_say "removed in $(since "$t0") s"
expect_eq "directory is empty" "" "$(find "$D" -mindepth 1 2>&1)"
check "rmdir of the emptied directory" rmdir "$D"
expect_errno "second mount sees it gone (after the cache timeout)" OK "
import time
end = time.monotonic() + $GF_WAIT_SECS  # only a guard against a hang
while os.path.exists(M2 + '/big'):
    if time.monotonic() > end:
        raise AssertionError('still there on the second mount after $GF_WAIT_SECS s')
    time.sleep(0.1)"

it_done
