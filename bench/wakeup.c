/*
 * wakeup — what one request/reply round trip between two threads costs on
 * this machine, with nothing else in it: the floor under every remote call
 * (a page-in from a gfsd, a gfmd call, a FUSE request). A benchmark tool
 * (bench/), not a test: it prints figures, never pass/fail.
 *
 *   wakeup [-n N] [-s BYTES]
 *
 * A client thread sends a 64-byte request over a loopback TCP connection
 * (TCP_NODELAY) and waits for a BYTES-byte reply (default 4096: a swap
 * page) from a server thread, N times (default 20000), in four ways:
 *
 *   sleep      both threads sleep in recv(2) while they wait (what the
 *              daemons do): each message wakes a thread, on a VM usually on
 *              the other CPU, which may be halted
 *   poll-cl    the client polls for the reply (MSG_DONTWAIT) for up to
 *              200 us before it sleeps
 *   poll-both  both poll: no thread ever sleeps, so no wake-up is paid
 *   one-cpu    both sleep, both pinned to CPU 0: a wake-up never crosses
 *              CPUs (the waker gives its CPU to the thread it woke)
 *
 * and prints, for each, the median, 90th and 99th percentile in
 * microseconds: "sleep p50 77.1 p90 99.4 p99 130.2".
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pthread_setaffinity_np, CPU_SET */
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "config.h" /* gf_parse_int */

#define REQ_BYTES 64
#define POLL_US 200

struct mode {
	const char *name;
	int client_poll, server_poll, one_cpu;
};

static const struct mode modes[] = {
	{ "sleep", 0, 0, 0 },
	{ "poll-cl", 1, 0, 0 },
	{ "poll-both", 1, 1, 0 },
	{ "one-cpu", 0, 0, 1 },
};

struct side {
	int fd;
	int poll;
	int one_cpu;
	size_t reply_bytes;
};

static double now_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static void pin_cpu0(void)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(0, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

/* len bytes into buf; polling first for up to POLL_US when poll. 0 or -1
 * (EOF or an error). */
static int recv_all(int fd, char *buf, size_t len, int poll)
{
	size_t got = 0;
	double until = 0;

	while (got < len) {
		int flags = 0;
		if (poll) {
			if (until == 0)
				until = now_us() + POLL_US;
			else if (now_us() >= until)
				poll = 0;
			flags = poll ? MSG_DONTWAIT : 0;
		}
		ssize_t n = recv(fd, buf + got, len - got, flags);
		if (n > 0)
			got += (size_t)n;
		else if (n == 0)
			return -1;
		else if (errno != EAGAIN && errno != EINTR)
			return -1;
	}
	return 0;
}

static int send_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static void *server(void *arg)
{
	struct side *s = arg;
	char *buf = calloc(1, s->reply_bytes);

	if (!buf)
		return NULL;
	if (s->one_cpu)
		pin_cpu0();
	while (recv_all(s->fd, buf, REQ_BYTES, s->poll) == 0 &&
	       send_all(s->fd, buf, s->reply_bytes) == 0)
		;
	free(buf);
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* A connected pair over loopback TCP: *cl and *sv. 0 or -1. */
static int tcp_pair(int *cl, int *sv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	int one = 1, l = socket(AF_INET, SOCK_STREAM, 0);

	if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(l, 1) < 0 ||
	    getsockname(l, (struct sockaddr *)&sa, &sl) < 0)
		return -1;
	*cl = socket(AF_INET, SOCK_STREAM, 0);
	if (*cl < 0 || connect(*cl, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -1;
	*sv = accept(l, NULL, NULL);
	close(l);
	if (*sv < 0)
		return -1;
	setsockopt(*cl, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(*sv, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return 0;
}

static int run(const struct mode *m, int n, size_t reply_bytes)
{
	int cl, sv;
	char req[REQ_BYTES] = { 0 };
	char *buf = malloc(reply_bytes);
	double *lat = malloc(sizeof(*lat) * (size_t)n);
	pthread_t th;

	if (!buf || !lat || tcp_pair(&cl, &sv) < 0) {
		fprintf(stderr, "wakeup: %s: %s\n", m->name, strerror(errno));
		return -1;
	}
	struct side s = { .fd = sv, .poll = m->server_poll, .one_cpu = m->one_cpu,
			  .reply_bytes = reply_bytes };
	if (pthread_create(&th, NULL, server, &s) != 0) {
		fprintf(stderr, "wakeup: cannot start a thread\n");
		return -1;
	}
	cpu_set_t was;
	pthread_getaffinity_np(pthread_self(), sizeof(was), &was);
	if (m->one_cpu)
		pin_cpu0();
	for (int i = 0; i < n; i++) {
		double t0 = now_us();
		if (send_all(cl, req, sizeof(req)) < 0 ||
		    recv_all(cl, buf, reply_bytes, m->client_poll) < 0) {
			fprintf(stderr, "wakeup: %s: the connection failed\n", m->name);
			return -1;
		}
		lat[i] = now_us() - t0;
	}
	shutdown(cl, SHUT_RDWR);
	pthread_join(th, NULL);
	close(cl);
	close(sv);
	if (m->one_cpu)
		pthread_setaffinity_np(pthread_self(), sizeof(was), &was);
	qsort(lat, (size_t)n, sizeof(*lat), cmp_double);
	printf("%-10s p50 %.1f p90 %.1f p99 %.1f\n", m->name, lat[n / 2], lat[n * 9 / 10],
	       lat[n * 99 / 100]);
	free(lat);
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	long long n = 20000, size = 4096;
	int c;

	while ((c = getopt(argc, argv, "n:s:h")) != -1) {
		switch (c) {
		case 'n':
			if (gf_parse_int(optarg, 100, 10000000, &n) < 0) {
				fprintf(stderr, "wakeup: -n '%s': expected 100 to 10000000\n", optarg);
				return 2;
			}
			break;
		case 's':
			if (gf_parse_int(optarg, 1, 64LL << 20, &size) < 0) {
				fprintf(stderr, "wakeup: -s '%s': expected 1 to %lld bytes\n", optarg,
					64LL << 20);
				return 2;
			}
			break;
		case 'h':
			printf("usage: wakeup [-n N] [-s BYTES]\n"
			       "  round trips between two threads over loopback TCP, N of them\n"
			       "  (default 20000), each a 64-byte request and a BYTES-byte reply\n"
			       "  (default 4096); prints p50/p90/p99 in microseconds with both\n"
			       "  threads sleeping (sleep), the client polling (poll-cl), both\n"
			       "  polling (poll-both), both sleeping on CPU 0 (one-cpu)\n");
			return 0;
		default: return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "wakeup: unexpected argument '%s' (see -h)\n", argv[optind]);
		return 2;
	}
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		if (run(&modes[i], (int)n, (size_t)size) < 0)
			return 1;
	return 0;
}
