#include "hosts.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "clock.h"

struct host {
	struct gf_change_host row;
	uint32_t load_milli;
	uint64_t swap_total, swap_free; /* the page service, as last heard */
	int64_t last_seen_ms;	/* monotonic; 0 = never since start */
	int64_t last_seen_unix; /* for the host list */
	int was_up;
};

struct gf_hosts {
	pthread_mutex_t mu;
	struct host *v;
	size_t n;
	uint32_t down_ms;
	int64_t started_ms; /* monotonic, at gf_hosts_new */
	uint64_t reserve_bytes;	  /* new data goes elsewhere below this ... */
	uint32_t reserve_percent; /* ... or below this share of the capacity */
	gf_sink_fn sink;
	void *sink_arg;
};

static int is_up(const struct gf_hosts *h, const struct host *x, int64_t now)
{
	return x->last_seen_ms && now - x->last_seen_ms < (int64_t)h->down_ms;
}

/* gfmd started less than down_ms ago and x has not spoken since: it may well
 * be up (its gfsd reconnects after a restart of gfmd); nobody can tell yet. */
static int unknown(const struct gf_hosts *h, const struct host *x, int64_t now)
{
	return !x->last_seen_ms && now - h->started_ms < (int64_t)h->down_ms;
}

/* Log up→down transitions (caller holds mu). */
static void refresh(struct gf_hosts *h, int64_t now)
{
	for (size_t i = 0; i < h->n; i++) {
		struct host *x = &h->v[i];
		if (x->was_up && !is_up(h, x, now)) {
			x->was_up = 0;
			gf_warn("gfmd: host %s (id %u) is down: no heartbeat for %lld ms",
				x->row.name, x->row.host_id,
				(long long)(now - x->last_seen_ms));
		}
	}
}

static void seen(struct gf_hosts *h, struct host *x, int64_t now)
{
	x->last_seen_ms = now;
	x->last_seen_unix = time(NULL);
	if (!x->was_up) {
		x->was_up = 1;
		gf_info("gfmd: host %s (id %u, %s:%u) is up", x->row.name, x->row.host_id,
			x->row.addr, x->row.port);
	}
}

static struct host *find_id(struct gf_hosts *h, uint32_t id)
{
	for (size_t i = 0; i < h->n; i++)
		if (h->v[i].row.host_id == id)
			return &h->v[i];
	return NULL;
}

static struct host *find_name(struct gf_hosts *h, const char *name)
{
	for (size_t i = 0; i < h->n; i++)
		if (strcmp(h->v[i].row.name, name) == 0)
			return &h->v[i];
	return NULL;
}

struct gf_hosts *gf_hosts_new(uint32_t host_down_ms)
{
	struct gf_hosts *h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	pthread_mutex_init(&h->mu, NULL);
	h->down_ms = host_down_ms ? host_down_ms : 5000;
	h->reserve_percent = 1;
	h->started_ms = gf_mono_ms();
	return h;
}

void gf_hosts_free(struct gf_hosts *h)
{
	if (!h)
		return;
	pthread_mutex_destroy(&h->mu);
	free(h->v);
	free(h);
}

void gf_hosts_set_sink(struct gf_hosts *h, gf_sink_fn sink, void *arg)
{
	pthread_mutex_lock(&h->mu);
	h->sink = sink;
	h->sink_arg = arg;
	pthread_mutex_unlock(&h->mu);
}

static struct host *append(struct gf_hosts *h)
{
	struct host *v = realloc(h->v, (h->n + 1) * sizeof(*v));
	if (!v)
		return NULL;
	h->v = v;
	memset(&v[h->n], 0, sizeof(*v));
	return &v[h->n++];
}

int gf_hosts_load(struct gf_hosts *h, const struct gf_change_host *row)
{
	pthread_mutex_lock(&h->mu);
	int rc = 0;
	if (find_id(h, row->host_id) || find_name(h, row->name)) {
		rc = -EEXIST;
	} else {
		struct host *x = append(h);
		if (!x)
			rc = -ENOMEM;
		else
			x->row = *row;
	}
	pthread_mutex_unlock(&h->mu);
	return rc;
}

int gf_hosts_valid_name(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (*s <= ' ' || *s >= 127 || *s == '"' || *s == '\'' || *s == '\\')
			return 0;
	return 1;
}

int gf_hosts_register(struct gf_hosts *h, const struct gfm_host_register_req *req,
		      uint32_t *host_id, uint64_t *ticket)
{
	*ticket = 0;
	if (!gf_hosts_valid_name(req->name) || !gf_hosts_valid_name(req->addr))
		return -EINVAL;
	pthread_mutex_lock(&h->mu);
	int64_t now = gf_mono_ms();
	refresh(h, now);
	struct host *x = find_name(h, req->name);
	if (!x) {
		uint32_t id = 1;
		for (size_t i = 0; i < h->n; i++)
			if (h->v[i].row.host_id >= id)
				id = h->v[i].row.host_id + 1;
		x = append(h);
		if (!x) {
			pthread_mutex_unlock(&h->mu);
			return -ENOMEM;
		}
		x->row.host_id = id;
		strcpy(x->row.name, req->name);
		gf_info("gfmd: new host %s gets id %u", req->name, id);
	}
	strcpy(x->row.addr, req->addr);
	x->row.port = req->port;
	x->row.capacity = req->capacity;
	x->row.free = req->free;
	seen(h, x, now);
	*host_id = x->row.host_id;
	if (h->sink) {
		struct gf_changes c;
		gf_changes_init(&c);
		struct gf_change *ch =
			gf_changes_add(&c, GF_CHG_HOST_PUT, 0, 0, 0, NULL, 0, NULL, 0, 0);
		if (!ch) {
			pthread_mutex_unlock(&h->mu);
			gf_changes_free(&c);
			return -ENOMEM;
		}
		ch->host = x->row;
		*ticket = h->sink(h->sink_arg, &c);
		gf_changes_free(&c);
	}
	pthread_mutex_unlock(&h->mu);
	return 0;
}

int gf_hosts_heartbeat(struct gf_hosts *h, const struct gfm_heartbeat_req *req)
{
	pthread_mutex_lock(&h->mu);
	int64_t now = gf_mono_ms();
	refresh(h, now);
	struct host *x = find_id(h, req->host_id);
	if (x) {
		x->row.capacity = req->capacity;
		x->row.free = req->free;
		x->load_milli = req->load_milli;
		x->swap_total = req->swap_total;
		x->swap_free = req->swap_free;
		seen(h, x, now);
	}
	pthread_mutex_unlock(&h->mu);
	return x ? 0 : -ENOENT;
}

int gf_hosts_list(struct gf_hosts *h, struct gf_host_info **out, uint32_t *count)
{
	pthread_mutex_lock(&h->mu);
	int64_t now = gf_mono_ms();
	refresh(h, now);
	struct gf_host_info *v = calloc(h->n ? h->n : 1, sizeof(*v));
	if (!v) {
		pthread_mutex_unlock(&h->mu);
		return -ENOMEM;
	}
	for (size_t i = 0; i < h->n; i++) {
		const struct host *x = &h->v[i];
		v[i].host_id = x->row.host_id;
		strcpy(v[i].name, x->row.name);
		strcpy(v[i].addr, x->row.addr);
		v[i].port = x->row.port;
		v[i].up = (uint8_t)is_up(h, x, now);
		v[i].capacity = x->row.capacity;
		v[i].free = x->row.free;
		v[i].load_milli = x->load_milli;
		v[i].last_seen = x->last_seen_unix;
		v[i].draining = x->row.draining;
		v[i].swap_total = x->swap_total;
		v[i].swap_free = x->swap_free;
	}
	*out = v;
	*count = (uint32_t)h->n;
	pthread_mutex_unlock(&h->mu);
	return 0;
}

int gf_hosts_replica_info(struct gf_hosts *h, uint32_t host_id, uint64_t gen,
			  struct gf_replica *out)
{
	pthread_mutex_lock(&h->mu);
	int64_t now = gf_mono_ms();
	refresh(h, now);
	struct host *x = find_id(h, host_id);
	int rc = -ENOENT;
	if (x) {
		memset(out, 0, sizeof(*out));
		out->host_id = host_id;
		out->gen = gen;
		out->port = x->row.port;
		strcpy(out->host, x->row.name);
		strcpy(out->addr, x->row.addr);
		rc = is_up(h, x, now);
	}
	pthread_mutex_unlock(&h->mu);
	return rc;
}

void gf_hosts_totals(struct gf_hosts *h, uint64_t *capacity, uint64_t *free,
		     uint32_t *nup)
{
	*capacity = *free = 0;
	*nup = 0;
	pthread_mutex_lock(&h->mu);
	int64_t now = gf_mono_ms();
	refresh(h, now);
	for (size_t i = 0; i < h->n; i++) {
		if (!is_up(h, &h->v[i], now))
			continue;
		*capacity += h->v[i].row.capacity;
		*free += h->v[i].row.free;
		(*nup)++;
	}
	pthread_mutex_unlock(&h->mu);
}

void gf_hosts_set_reserve(struct gf_hosts *h, uint64_t bytes, uint32_t percent)
{
	pthread_mutex_lock(&h->mu);
	h->reserve_bytes = bytes;
	h->reserve_percent = percent;
	pthread_mutex_unlock(&h->mu);
}

int gf_hosts_set_draining(struct gf_hosts *h, uint32_t host_id, int on, uint64_t *ticket)
{
	*ticket = 0;
	pthread_mutex_lock(&h->mu);
	struct host *x = find_id(h, host_id);
	if (!x) {
		pthread_mutex_unlock(&h->mu);
		return -ENOENT;
	}
	if (x->row.draining != (on != 0)) {
		x->row.draining = on != 0;
		gf_info("gfmd: host %s %s", x->row.name,
			on ? "is draining: its replicas move to other hosts, new data goes elsewhere"
			   : "is no longer draining");
		if (h->sink) {
			struct gf_changes c;
			gf_changes_init(&c);
			struct gf_change *ch =
				gf_changes_add(&c, GF_CHG_HOST_PUT, 0, 0, 0, NULL, 0, NULL, 0, 0);
			if (!ch) {
				x->row.draining = on == 0;
				pthread_mutex_unlock(&h->mu);
				gf_changes_free(&c);
				return -ENOMEM;
			}
			ch->host = x->row;
			*ticket = h->sink(h->sink_arg, &c);
			gf_changes_free(&c);
		}
	}
	pthread_mutex_unlock(&h->mu);
	return 0;
}

uint64_t gf_hosts_reserve(struct gf_hosts *h, uint64_t capacity)
{
	pthread_mutex_lock(&h->mu);
	uint64_t r = h->reserve_percent ? capacity / 100 * h->reserve_percent : h->reserve_bytes;
	pthread_mutex_unlock(&h->mu);
	return r;
}

/* Has x room for new data beyond the reserve? (caller holds mu) */
static int has_room(const struct gf_hosts *h, const struct host *x)
{
	uint64_t reserve = h->reserve_percent
				   ? x->row.capacity / 100 * h->reserve_percent
				   : h->reserve_bytes;
	return x->row.free > reserve;
}

/* Candidate x (up) for *best: the client's own host wins (1: look no
 * further) while it has room, else the one with the most free space. */
static int prefer(const struct gf_hosts *h, struct host **best, struct host *x,
		  const char *me)
{
	if (strcmp(x->row.name, me) == 0 && has_room(h, x)) {
		*best = x;
		return 1;
	}
	if (!*best || x->row.free > (*best)->row.free)
		*best = x;
	return 0;
}

int gf_hosts_place(void *placement, const struct gf_ns_replica *have, size_t nhave,
		   uint32_t *host_id)
{
	const struct gf_hosts_placement *pl = placement;
	struct gf_hosts *h = pl->hosts;
	const char *me = pl->client_host ? pl->client_host : "";
	struct host *best = NULL;
	pthread_mutex_lock(&h->mu);
	int64_t now = gf_mono_ms();
	refresh(h, now);
	/* right after a start: wait for the hosts that matter to report
	 * rather than take them for down (the data's, or the client's own) */
	for (size_t i = 0; i < h->n; i++) {
		struct host *x = &h->v[i];
		int matters = strcmp(x->row.name, me) == 0;
		for (size_t j = 0; j < nhave && !matters; j++)
			matters = have[j].host_id == x->row.host_id;
		if (matters && unknown(h, x, now)) {
			pthread_mutex_unlock(&h->mu);
			gf_info("gfmd: host %s has not reported since gfmd started; the client "
				"on %s is asked to try again", x->row.name, me);
			return -EAGAIN;
		}
	}
	/* a replica that exists: the client's own, else the roomiest up one;
	 * one on a draining host only when there is no other */
	for (int drain = 0; drain < 2 && !best; drain++)
		for (size_t i = 0; i < nhave; i++) {
			struct host *x = find_id(h, have[i].host_id);
			if (x && is_up(h, x, now) && x->row.draining == drain &&
			    prefer(h, &best, x, me))
				break;
		}
	/* else any up host: the client's own, else the roomiest; a draining
	 * host takes new data only when every up host drains */
	for (int drain = 0; drain < 2 && !best; drain++)
		for (size_t i = 0; i < h->n; i++)
			if (is_up(h, &h->v[i], now) && h->v[i].row.draining == drain &&
			    prefer(h, &best, &h->v[i], me))
				break;
	if (best && strcmp(best->row.name, me) != 0 && !has_room(h, best) && nhave == 0)
		gf_info("gfmd: every gfsd is below its space reserve; placing new data for %s "
			"on %s (%llu bytes free)", me, best->row.name,
			(unsigned long long)best->row.free);
	int maybe = 0; /* none up yet, but one may be */
	for (size_t i = 0; i < h->n && !best; i++)
		maybe |= unknown(h, &h->v[i], now);
	if (best)
		*host_id = best->row.host_id;
	pthread_mutex_unlock(&h->mu);
	if (!best && maybe)
		return -EAGAIN;
	if (!best) {
		static struct gf_ratelimit rl = GF_RATELIMIT(10, 60000);
		gf_log_limited(&rl, GF_LOG_WARN,
			       "gfmd: cannot place new data for a client on %s: no gfsd is up", me);
		return -ENOSPC;
	}
	return 0;
}
