#include "load.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define DECAY_SEC 60.0

struct load_meter {
	int netns;
	char ns[64];
	double avg;
	struct timespec last;
};

static int read_ns(const char *path, char *out, size_t len)
{
	ssize_t n = readlink(path, out, len - 1);
	if (n < 0)
		return -errno;
	out[n] = '\0';
	return 0;
}

/* State letter of /proc/PID/task/TID/stat: after the ") " that ends comm. */
static int task_running(const char *statpath)
{
	char buf[512];
	FILE *f = fopen(statpath, "re");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] == 'R';
}

int load_count_runnable(const char *ns)
{
	DIR *proc = opendir("/proc");
	if (!proc)
		return -errno;
	long self = syscall(SYS_gettid);
	int count = 0;
	struct dirent *de;
	while ((de = readdir(proc))) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		char path[300], tns[64];
		snprintf(path, sizeof(path), "/proc/%s/ns/net", de->d_name);
		if (read_ns(path, tns, sizeof(tns)) != 0 || strcmp(tns, ns) != 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%s/task", de->d_name);
		DIR *tasks = opendir(path);
		if (!tasks)
			continue;
		struct dirent *te;
		while ((te = readdir(tasks))) {
			if (!isdigit((unsigned char)te->d_name[0]) || atol(te->d_name) == self)
				continue;
			char sp[600];
			snprintf(sp, sizeof(sp), "/proc/%s/task/%s/stat", de->d_name, te->d_name);
			count += task_running(sp);
		}
		closedir(tasks);
	}
	closedir(proc);
	return count;
}

int load_meter_new(const char *source, struct load_meter **out)
{
	struct load_meter *m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	if (!source || strcmp(source, "system") == 0) {
		m->netns = 0;
	} else if (strcmp(source, "netns") == 0) {
		m->netns = 1;
		int rc = read_ns("/proc/self/ns/net", m->ns, sizeof(m->ns));
		if (rc) {
			free(m);
			return rc;
		}
		clock_gettime(CLOCK_MONOTONIC, &m->last);
	} else {
		free(m);
		return -EINVAL;
	}
	*out = m;
	return 0;
}

static uint32_t to_milli(double v)
{
	if (v <= 0)
		return 0;
	return v * 1000 >= UINT32_MAX ? UINT32_MAX : (uint32_t)(v * 1000);
}

uint32_t load_meter_sample(struct load_meter *m)
{
	if (!m->netns) {
		double l[1];
		return getloadavg(l, 1) == 1 ? to_milli(l[0]) : 0;
	}
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	double dt = (double)(now.tv_sec - m->last.tv_sec) +
		    (double)(now.tv_nsec - m->last.tv_nsec) / 1e9;
	m->last = now;
	int n = load_count_runnable(m->ns);
	if (n < 0)
		n = 0;
	double e = exp(-dt / DECAY_SEC);
	m->avg = m->avg * e + (double)n * (1 - e);
	return to_milli(m->avg);
}

void load_meter_free(struct load_meter *m)
{
	free(m);
}
