/*
 * sealer.c — background sealing of replicas (sealer.h).
 */
#include "sealer.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"

struct job {
	struct job *next;
	uint64_t ino, fgen;
	int fd;
	unsigned tries;
	uint64_t due_ms; /* CLOCK_MONOTONIC: not to run before */
};

struct sealer {
	sealer_fn fn;
	void *arg;
	char *gate; /* NULL, or held while a file exists there */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct job *head, *tail;
	uint64_t pending; /* queued + running */
	bool stopping;
	unsigned nthreads;
	pthread_t *threads;
};

/* The first job that may run now (unlinked), or NULL and *next_ms, the
 * soonest a waiting one may (0: none waits). s->mu held. */
static struct job *take_due(struct sealer *s, uint64_t now, uint64_t *next_ms)
{
	struct job *j, *prev = NULL;

	*next_ms = 0;
	for (j = s->head; j; prev = j, j = j->next) {
		if (j->due_ms <= now || s->stopping)
			break;
		if (!*next_ms || j->due_ms < *next_ms)
			*next_ms = j->due_ms;
	}
	if (!j)
		return NULL;
	if (prev)
		prev->next = j->next;
	else
		s->head = j->next;
	if (s->tail == j)
		s->tail = prev;
	j->next = NULL;
	return j;
}

static void *worker(void *arg)
{
	struct sealer *s = arg;

	pthread_mutex_lock(&s->mu);
	for (;;) {
		while (!s->head && !s->stopping)
			pthread_cond_wait(&s->cv, &s->mu);
		if (!s->head)
			break; /* stopping, and nothing left */
		/* the gate is a test knob: a stopping sealer does not wait */
		if (!s->stopping && s->gate && access(s->gate, F_OK) == 0) {
			struct timespec until = gf_mono_in_ms(SEALER_GATE_POLL_MS);
			pthread_cond_timedwait(&s->cv, &s->mu, &until);
			continue;
		}
		uint64_t next_ms;
		struct job *j = take_due(s, (uint64_t)gf_mono_ms(), &next_ms);
		if (!j) {
			uint64_t now = (uint64_t)gf_mono_ms();
			struct timespec until = gf_mono_in_ms(next_ms > now ? next_ms - now : 1);
			pthread_cond_timedwait(&s->cv, &s->mu, &until);
			continue;
		}
		bool last = s->stopping;
		pthread_mutex_unlock(&s->mu);
		unsigned again = s->fn(s->arg, j->ino, j->fgen, &j->fd, j->tries, last);
		pthread_mutex_lock(&s->mu);
		if (again && !last) {
			j->tries++;
			j->due_ms = (uint64_t)gf_mono_ms() + again;
			if (s->tail)
				s->tail->next = j;
			else
				s->head = j;
			s->tail = j;
			continue;
		}
		free(j);
		s->pending--;
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

int sealer_start(sealer_fn fn, void *arg, unsigned threads, const char *gate,
		 struct sealer **out)
{
	struct sealer *s = calloc(1, sizeof(*s));
	pthread_condattr_t ca;
	int rc;

	if (!s || threads == 0 || !(s->threads = calloc(threads, sizeof(*s->threads))) ||
	    (gate && !(s->gate = strdup(gate)))) {
		if (s)
			free(s->threads);
		free(s);
		return threads == 0 ? -EINVAL : -ENOMEM;
	}
	s->fn = fn;
	s->arg = arg;
	pthread_mutex_init(&s->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cv, &ca);
	pthread_condattr_destroy(&ca);
	for (; s->nthreads < threads; s->nthreads++) {
		if ((rc = pthread_create(&s->threads[s->nthreads], NULL, worker, s)) != 0) {
			sealer_stop(s);
			return -rc;
		}
	}
	*out = s;
	return 0;
}

int sealer_submit(struct sealer *s, uint64_t ino, uint64_t fgen, int fd)
{
	struct job *j = malloc(sizeof(*j));

	if (!j) {
		close(fd);
		return -ENOMEM;
	}
	*j = (struct job){ .ino = ino, .fgen = fgen, .fd = fd };
	pthread_mutex_lock(&s->mu);
	if (s->stopping) {
		pthread_mutex_unlock(&s->mu);
		close(fd);
		free(j);
		return -ESHUTDOWN;
	}
	if (s->tail)
		s->tail->next = j;
	else
		s->head = j;
	s->tail = j;
	s->pending++;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	return 0;
}

uint64_t sealer_pending(struct sealer *s)
{
	pthread_mutex_lock(&s->mu);
	uint64_t n = s->pending;
	pthread_mutex_unlock(&s->mu);
	return n;
}

void sealer_stop(struct sealer *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	s->stopping = true;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	for (unsigned i = 0; i < s->nthreads; i++)
		pthread_join(s->threads[i], NULL);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	free(s->threads);
	free(s->gate);
	free(s);
}
