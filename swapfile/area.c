/*
 * area.c — pages of a swap area on page servers and the fall-back disk
 * (area.h).
 */
#include "area.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define ADD(a, field, n) __atomic_add_fetch(&(a)->c.field, (n), __ATOMIC_RELAXED)

int area_init(struct area *a, struct servers *srv, int disk_fd, uint64_t nslots, int copies)
{
	struct timespec ts;
	int r;

	memset(a, 0, sizeof(*a));
	if ((r = slotmap_init(&a->map, nslots)) < 0)
		return r;
	a->srv = srv;
	a->disk_fd = disk_fd;
	a->nslots = nslots;
	a->copies = copies < 1 ? 1 : copies > SLOT_COPIES ? SLOT_COPIES : copies;
	/* stamps only grow, across restarts too: start from the clock */
	clock_gettime(CLOCK_REALTIME, &ts);
	a->stamp = ((uint64_t)ts.tv_sec << 20) + 1;
	return 0;
}

void area_destroy(struct area *a)
{
	slotmap_destroy(&a->map);
}

static int is_server(uint16_t loc)
{
	return loc >= LOC_SERVER;
}

static int disk_write(struct area *a, uint64_t slot, uint32_t n, const uint8_t *data)
{
	size_t len = (size_t)n * GF_PAGE_SIZE;
	ssize_t w = pwrite(a->disk_fd, data, len, (off_t)(slot * GF_PAGE_SIZE));

	if (w != (ssize_t)len)
		return w < 0 ? -errno : -EIO;
	ADD(a, disk_out, n);
	return 0;
}

static int disk_read(struct area *a, uint64_t slot, uint32_t n, uint8_t *out)
{
	size_t len = (size_t)n * GF_PAGE_SIZE;
	ssize_t r = pread(a->disk_fd, out, len, (off_t)(slot * GF_PAGE_SIZE));

	if (r != (ssize_t)len)
		return r < 0 ? -errno : -EIO;
	ADD(a, disk_in, n);
	return 0;
}

static void disk_punch(struct area *a, uint64_t slot, uint64_t n)
{
	fallocate(a->disk_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		  (off_t)(slot * GF_PAGE_SIZE), (off_t)(n * GF_PAGE_SIZE));
}

/* Drop the copy at loc of slots slot..slot+n-1, not newer than stamp. */
static void drop_copy(struct area *a, uint16_t loc, uint64_t slot, uint32_t n, uint64_t stamp)
{
	if (loc == LOC_DISK)
		disk_punch(a, slot, n);
	else if (is_server(loc)) {
		/* a server that is gone drops it anyway */
		page_inval(a->srv, loc - LOC_SERVER, slot, n, stamp);
	}
}

static int has_loc(const uint16_t *locs, uint16_t loc)
{
	for (int k = 0; k < SLOT_COPIES; k++)
		if (locs[k] == loc)
			return 1;
	return 0;
}

/* Where the batch was, if all its slots were in the same two places. */
static int same_places(struct area *a, uint64_t slot, uint32_t n, uint16_t *locs)
{
	const struct slot *s0 = &a->map.v[slot];

	if (!s0->in_use)
		return 0;
	for (uint32_t k = 1; k < n; k++) {
		const struct slot *s = &a->map.v[slot + k];
		if (!s->in_use || memcmp(s->loc, s0->loc, sizeof(s0->loc)))
			return 0;
	}
	memcpy(locs, s0->loc, sizeof(s0->loc));
	return 1;
}

int area_write(struct area *a, uint64_t slot, uint32_t n, const uint8_t *data)
{
	uint16_t prev[SLOT_COPIES] = { 0 }, now[SLOT_COPIES] = { 0 };
	int target[SLOT_COPIES] = { -1, -1 }, tried[16], ntried = 0, got = 0;
	uint64_t stamp;
	int r[SLOT_COPIES];
	uint8_t epoch_at[SLOT_COPIES] = { 0 };

	if (n == 0 || n > GF_PAGE_BATCH || slot + n > a->nslots)
		return -EINVAL;
	slotmap_lock(&a->map, slot, n);
	stamp = __atomic_add_fetch(&a->stamp, 1, __ATOMIC_RELAXED);
	/* the servers it was on, if they still answer; else new ones */
	if (same_places(a, slot, n, prev))
		for (int k = 0; k < a->copies; k++)
			if (is_server(prev[k]) &&
			    servers_holds(a->srv, prev[k] - LOC_SERVER, servers_epoch(a->srv, prev[k] - LOC_SERVER)))
				target[k] = prev[k] - LOC_SERVER;
	for (int k = 0; k < a->copies; k++)
		if (target[k] >= 0)
			tried[ntried++] = target[k];
	for (int k = 0; k < a->copies; k++)
		if (target[k] < 0 && (target[k] = servers_pick(a->srv, n, tried, ntried)) >= 0)
			tried[ntried++] = target[k];
	/* send to both at once; a copy that fails goes to another server */
	for (int round = 0; round < 4; round++) {
		int want = 0;
		for (int k = 0; k < a->copies; k++)
			want += target[k] >= 0 && !now[k];
		if (!want)
			break;
		int ta = -1, tb = -1, ka = -1, kb = -1;
		for (int k = 0; k < a->copies; k++) {
			if (target[k] < 0 || now[k])
				continue;
			if (ka < 0) {
				ka = k;
				ta = target[k];
			} else {
				kb = k;
				tb = target[k];
			}
		}
		/* the epoch the servers are in as the pages go: a restart seen
		 * after this makes these copies count as gone */
		epoch_at[ka] = servers_epoch(a->srv, ta);
		if (kb >= 0)
			epoch_at[kb] = servers_epoch(a->srv, tb);
		page_put2(a->srv, ta, tb, slot, stamp, n, data, &r[0], &r[1]);
		int ks[2] = { ka, kb }, rs[2] = { r[0], r[1] };
		for (int j = 0; j < 2; j++) {
			int k = ks[j];
			if (k < 0)
				continue;
			if (rs[j] == 0) {
				now[k] = (uint16_t)(target[k] + LOC_SERVER);
				got++;
				ADD(a, remote_out, n);
				continue;
			}
			target[k] = ntried < (int)(sizeof(tried) / sizeof(tried[0]))
					    ? servers_pick(a->srv, n, tried, ntried)
					    : -1;
			if (target[k] >= 0)
				tried[ntried++] = target[k];
		}
	}
	if (got < a->copies) {
		/* fewer servers than copies took it: the owner's disk keeps one */
		int k;
		for (k = 0; k < a->copies && now[k]; k++)
			;
		int e = disk_write(a, slot, n, data);
		if (e == 0)
			now[k] = LOC_DISK;
		else if (got == 0) {
			slotmap_unlock(&a->map, slot, n);
			gf_err("gfswap: pages %llu..%llu: no page server took them and the "
			       "fall-back disk failed: %s",
			       (unsigned long long)slot, (unsigned long long)(slot + n - 1),
			       strerror(-e));
			return -EIO;
		}
		ADD(a, fallbacks, n);
	}
	/* copies in places the pages left are dropped, with the stamp they had */
	for (uint32_t k = 0; k < n;) {
		struct slot *s = &a->map.v[slot + k];
		uint32_t run = 1;
		if (s->in_use) {
			while (k + run < n && a->map.v[slot + k + run].in_use &&
			       !memcmp(a->map.v[slot + k + run].loc, s->loc, sizeof(s->loc)))
				run++;
			uint64_t old = 0;
			for (uint32_t j = 0; j < run; j++)
				if (a->map.v[slot + k + j].stamp > old)
					old = a->map.v[slot + k + j].stamp;
			for (int c = 0; c < SLOT_COPIES; c++)
				if (s->loc[c] != LOC_NONE && !has_loc(now, s->loc[c])) {
					drop_copy(a, s->loc[c], slot + k, run, old);
					if (c == 0)
						ADD(a, moved, run);
				}
		}
		k += run;
	}
	for (uint32_t k = 0; k < n; k++) {
		struct slot *s = &a->map.v[slot + k];
		s->stamp = stamp;
		memcpy(s->loc, now, sizeof(now));
		memcpy(s->epoch, epoch_at, sizeof(epoch_at)); /* (a disk copy's is unused) */
		s->hops = 0;
		s->in_use = 1;
	}
	slotmap_unlock(&a->map, slot, n);
	ADD(a, pages_out, n);
	return 0;
}

/* Read slots slot..slot+n-1 (same first copy) from loc into out; per page
 * whether it came good (stamp matches) in ok[]. */
static int read_from(struct area *a, uint16_t loc, uint64_t slot, uint32_t n, uint8_t *out,
		     uint8_t *ok)
{
	uint64_t stamps[GF_PAGE_BATCH];
	int r;

	memset(ok, 0, n);
	if (loc == LOC_DISK) {
		if ((r = disk_read(a, slot, n, out)) == 0)
			memset(ok, 1, n);
		return r;
	}
	if (!is_server(loc))
		return -ENOENT;
	if ((r = page_get(a->srv, loc - LOC_SERVER, slot, n, stamps, out)) < 0)
		return r;
	for (uint32_t k = 0; k < n; k++)
		ok[k] = stamps[k] == a->map.v[slot + k].stamp;
	ADD(a, remote_in, n);
	return 0; /* the server answered: ok[] says which pages it has */
}

/* area_read and area_peek: good[k] (if not NULL) says whether page k came
 * good; quiet: a speculative read (no loss counted or logged, no page-in). */
static int read_slots(struct area *a, uint64_t slot, uint32_t n, uint8_t *out, uint8_t *good,
		      int quiet)
{
	uint8_t ok[GF_PAGE_BATCH];
	int err = 0;

	if (n == 0 || n > GF_PAGE_BATCH || slot + n > a->nslots)
		return -EINVAL;
	slotmap_lock(&a->map, slot, n);
	for (uint32_t k = 0; k < n;) {
		struct slot *s = &a->map.v[slot + k];
		uint8_t *dst = out + (size_t)k * GF_PAGE_SIZE;
		uint32_t run = 1;
		if (!s->in_use) {
			memset(dst, 0, GF_PAGE_SIZE); /* never written, or discarded */
			if (good)
				good[k] = 1;
			k++;
			continue;
		}
		while (k + run < n && a->map.v[slot + k + run].in_use &&
		       a->map.v[slot + k + run].loc[0] == s->loc[0])
			run++;
		int answered = read_from(a, s->loc[0], slot + k, run, dst, ok) == 0;
		for (uint32_t j = 0; j < run; j++) {
			if (good)
				good[k + j] = 1;
			if (ok[j])
				continue;
			struct slot *t = &a->map.v[slot + k + j];
			uint8_t one;
			ADD(a, second_copy_reads, 1);
			/* a server that answers without the page does not have it
			 * (a move not learnt yet): forget it, the keeper copies again */
			if (answered && is_server(t->loc[0]))
				t->loc[0] = LOC_NONE;
			if (t->loc[1] != LOC_NONE) {
				read_from(a, t->loc[1], slot + k + j, 1, dst + (size_t)j * GF_PAGE_SIZE,
					  &one);
				if (one)
					continue;
			}
			if (good)
				good[k + j] = 0;
			err = -EIO;
			if (quiet)
				continue;
			ADD(a, lost, 1);
			gf_err("gfswap: page %llu: no copy could be read (first on %u, second on "
			       "%u)",
			       (unsigned long long)(slot + k + j), t->loc[0], t->loc[1]);
		}
		k += run;
	}
	slotmap_unlock(&a->map, slot, n);
	if (err == 0 && !quiet)
		ADD(a, pages_in, n);
	return err;
}

int area_read(struct area *a, uint64_t slot, uint32_t n, uint8_t *out)
{
	return read_slots(a, slot, n, out, NULL, 0);
}

int area_peek(struct area *a, uint64_t slot, uint32_t n, uint8_t *out, uint8_t *good)
{
	int r = read_slots(a, slot, n, out, good, 1);

	return r == -EIO ? 0 : r;
}

int area_discard(struct area *a, uint64_t slot, uint64_t n)
{
	if (slot > a->nslots || n > a->nslots - slot)
		return -EINVAL;
	while (n > 0) {
		uint32_t b = n > GF_PAGE_BATCH ? GF_PAGE_BATCH : (uint32_t)n;
		slotmap_lock(&a->map, slot, b);
		for (uint32_t k = 0; k < b;) {
			struct slot *s = &a->map.v[slot + k];
			uint32_t run = 1;
			if (!s->in_use) {
				k++;
				continue;
			}
			uint64_t old = s->stamp;
			while (k + run < b && a->map.v[slot + k + run].in_use &&
			       !memcmp(a->map.v[slot + k + run].loc, s->loc, sizeof(s->loc))) {
				if (a->map.v[slot + k + run].stamp > old)
					old = a->map.v[slot + k + run].stamp;
				run++;
			}
			for (int c = 0; c < SLOT_COPIES; c++)
				if (s->loc[c] != LOC_NONE)
					drop_copy(a, s->loc[c], slot + k, run, old);
			for (uint32_t j = 0; j < run; j++)
				memset(&a->map.v[slot + k + j], 0, sizeof(struct slot));
			ADD(a, discarded, run);
			k += run;
		}
		slotmap_unlock(&a->map, slot, b);
		slot += b;
		n -= b;
	}
	return 0;
}

uint64_t area_slots_on(struct area *a, int server)
{
	uint16_t loc = server < 0 ? LOC_DISK : (uint16_t)(server + LOC_SERVER);
	uint64_t n = 0;

	for (uint64_t i = 0; i < a->nslots; i++)
		if (a->map.v[i].in_use && has_loc(a->map.v[i].loc, loc))
			n++;
	return n;
}

uint32_t area_apply_moves(struct area *a, int from, const struct gfs_page_move *moves,
			  uint32_t n)
{
	uint16_t src = (uint16_t)(from + LOC_SERVER);
	uint32_t applied = 0;

	for (uint32_t i = 0; i < n; i++) {
		uint64_t slot = moves[i].slot;
		if (slot >= a->nslots)
			continue;
		int to = moves[i].host[0] ? servers_find(a->srv, moves[i].host) : -1;
		slotmap_lock(&a->map, slot, 1);
		struct slot *s = &a->map.v[slot];
		if (!s->in_use || s->stamp != moves[i].stamp) {
			/* the page was rewritten or discarded since: the moved copy
			 * is of no use, and nobody else would drop it */
			if (to >= 0)
				page_inval(a->srv, to, slot, 1, moves[i].stamp);
		} else {
			int c, found = 0;
			uint16_t dst = to >= 0 ? (uint16_t)(to + LOC_SERVER) : LOC_NONE;
			for (c = 0; c < SLOT_COPIES && !found; c++)
				found = s->loc[c] == src;
			if (!found && dst != LOC_NONE && !has_loc(s->loc, dst)) {
				/* the copy there was already forgotten (a read found it
				 * gone): it is here, in a free place if there is one */
				for (c = 0; c < SLOT_COPIES && s->loc[c] != LOC_NONE; c++)
					;
				if (c < SLOT_COPIES) {
					s->loc[c] = dst;
					s->epoch[c] = servers_epoch(a->srv, to);
					applied++;
				} else {
					page_inval(a->srv, to, slot, 1, moves[i].stamp); /* copied again meanwhile */
				}
			}
			for (c = 0; c < SLOT_COPIES && found; c++) {
				if (s->loc[c] != src)
					continue;
				/* never two copies in one place: the repair finds it a new one */
				s->loc[c] = has_loc(s->loc, dst) ? LOC_NONE : dst;
				if (s->loc[c] != LOC_NONE)
					s->epoch[c] = servers_epoch(a->srv, to);
				if (s->hops < UINT8_MAX)
					s->hops++;
				applied++;
				break;
			}
		}
		slotmap_unlock(&a->map, slot, 1);
	}
	ADD(a, updates, applied);
	return applied;
}

/* Whether copy c of slot s can be counted on. */
static int good_copy(struct area *a, const struct slot *s, int c)
{
	if (s->loc[c] == LOC_DISK)
		return 1;
	return is_server(s->loc[c]) &&
	       servers_holds(a->srv, s->loc[c] - LOC_SERVER, s->epoch[c]);
}

static int good_copies(struct area *a, const struct slot *s)
{
	int n = 0;

	for (int c = 0; c < SLOT_COPIES; c++)
		if (s->loc[c] != LOC_NONE && good_copy(a, s, c) &&
		    (c == 0 || s->loc[c] != s->loc[0]))
			n++;
	return n;
}

/* Slots slot..slot+n-1 (locked, same stamp and places, short of copies):
 * read them from a good copy and put them somewhere new. */
static int recopy(struct area *a, uint64_t slot, uint32_t n, uint8_t *buf)
{
	struct slot *s = &a->map.v[slot];
	uint16_t keep[SLOT_COPIES + 1] = { 0 };
	uint8_t kep[SLOT_COPIES + 1] = { 0 };
	int nkeep = 0, avoid[SERVERS_MAX], navoid = 0;
	uint8_t ok[GF_PAGE_BATCH];

	for (int c = 0; c < SLOT_COPIES; c++)
		if (s->loc[c] != LOC_NONE && good_copy(a, s, c) && !has_loc(keep, s->loc[c])) {
			kep[nkeep] = s->epoch[c];
			keep[nkeep++] = s->loc[c];
		}
	if (nkeep == 0)
		return 0; /* nothing to copy from: a read will say so */
	/* read from the first good copy that gives every page; one that does
	 * not hold them all is not a copy of them (a move never learnt): it
	 * is forgotten for the pages it lacks, which the next pass takes from
	 * their other copy, or counts lost */
	int have = 0;
	for (int k = 0; k < nkeep && !have; k++) {
		int answered = read_from(a, keep[k], slot, n, buf, ok) == 0;
		have = answered && memchr(ok, 0, n) == NULL;
		if (have || !answered || !is_server(keep[k]))
			continue;
		int any = 0;
		for (uint32_t j = 0; j < n; j++) {
			if (ok[j])
				continue;
			struct slot *x = &a->map.v[slot + j];
			for (int c = 0; c < SLOT_COPIES; c++)
				if (x->loc[c] == keep[k]) {
					x->loc[c] = LOC_NONE;
					any = 1;
				}
		}
		if (any) {
			gf_warn("gfswap: pages %llu..%llu: some were not where the slot map said "
				"(server %u); taking their other copy",
				(unsigned long long)slot, (unsigned long long)(slot + n - 1),
				keep[k] - LOC_SERVER);
			return 0; /* the run is not uniform any more: the next pass */
		}
	}
	if (!have)
		return 0;
	for (int k = 0; k < nkeep; k++)
		if (is_server(keep[k]))
			avoid[navoid++] = keep[k] - LOC_SERVER;
	int t = servers_pick(a->srv, n, avoid, navoid), r0 = -1, r1;
	uint16_t dst = LOC_NONE;
	uint8_t dep = 0;
	if (t >= 0) {
		dep = servers_epoch(a->srv, t);
		page_put2(a->srv, t, -1, slot, s->stamp, n, buf, &r0, &r1);
		if (r0 == 0) {
			dst = (uint16_t)(t + LOC_SERVER);
			ADD(a, remote_out, n);
		}
	}
	if (dst == LOC_NONE && !has_loc(keep, LOC_DISK) && disk_write(a, slot, n, buf) == 0) {
		dst = LOC_DISK;
		ADD(a, fallbacks, n);
	}
	if (dst == LOC_NONE)
		return 0;
	kep[nkeep] = dep;
	keep[nkeep++] = dst;
	/* copies given up on are dropped where they may still be (the run
	 * shares its places and stamp) */
	for (int c = 0; c < SLOT_COPIES; c++)
		if (s->loc[c] != LOC_NONE && !has_loc(keep, s->loc[c]))
			drop_copy(a, s->loc[c], slot, n, s->stamp);
	for (uint32_t j = 0; j < n; j++) {
		struct slot *x = &a->map.v[slot + j];
		memset(x->loc, 0, sizeof(x->loc));
		memset(x->epoch, 0, sizeof(x->epoch));
		for (int c = 0; c < nkeep && c < SLOT_COPIES; c++) {
			x->loc[c] = keep[c];
			x->epoch[c] = kep[c];
		}
	}
	ADD(a, recopied, n);
	return (int)n;
}

int64_t area_repair(struct area *a, uint8_t *buf, uint64_t max)
{
	uint64_t done = 0, looked = 0;

	while (looked < a->nslots && done < max) {
		uint64_t slot = a->repair_at;
		uint32_t n = 1;
		if (slot >= a->nslots) {
			a->repair_at = 0;
			continue;
		}
		slotmap_lock(&a->map, slot, GF_PAGE_BATCH / 2);
		struct slot *s = &a->map.v[slot];
		if (s->in_use && good_copies(a, s) < a->copies) {
			/* the run of slots in the same state, same stamp, same stripe pair */
			while (n < GF_PAGE_BATCH / 2 && slot + n < a->nslots) {
				const struct slot *t = &a->map.v[slot + n];
				if (!t->in_use || t->stamp != s->stamp || memcmp(t->loc, s->loc, sizeof(s->loc)))
					break;
				n++;
			}
			done += (uint64_t)recopy(a, slot, n, buf);
		}
		slotmap_unlock(&a->map, slot, GF_PAGE_BATCH / 2);
		a->repair_at = slot + n;
		looked += n;
	}
	return (int64_t)done;
}

void area_short(struct area *a, uint64_t *repairable, uint64_t *without_copy)
{
	*repairable = *without_copy = 0;
	for (uint64_t i = 0; i < a->nslots; i++) {
		if (!a->map.v[i].in_use)
			continue;
		int good = good_copies(a, &a->map.v[i]);
		if (good == 0)
			(*without_copy)++;
		else if (good < a->copies)
			(*repairable)++;
	}
}

void area_count_in(struct area *a, uint64_t n)
{
	ADD(a, pages_in, n);
}
