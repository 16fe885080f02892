#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static int ready_fd = -1; /* write end of the pipe to the waiting parent */

int gf_daemonize(void)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) != 0)
		return -errno;
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0) {
		/* Parent: wait for the grandchild's word, then exit with it. */
		close(p[1]);
		char c = 0;
		ssize_t n;
		do
			n = read(p[0], &c, 1);
		while (n < 0 && errno == EINTR);
		waitpid(pid, NULL, 0);
		_exit(n == 1 && c == 'R' ? 0 : 1);
	}
	close(p[0]);
	if (setsid() < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0)
		_exit(0);
	ready_fd = p[1];
	if (chdir("/") != 0)
		return -errno;
	int devnull = open("/dev/null", O_RDWR);
	if (devnull >= 0) {
		dup2(devnull, STDIN_FILENO);
		dup2(devnull, STDOUT_FILENO);
		/* stderr stays until ready, so start-up failures reach the shell. */
		if (devnull > STDERR_FILENO)
			close(devnull);
	}
	return 0;
}

void gf_daemon_ready(void)
{
	if (ready_fd < 0)
		return;
	ssize_t w = write(ready_fd, "R", 1);
	(void)w;
	close(ready_fd);
	ready_fd = -1;
	int devnull = open("/dev/null", O_WRONLY);
	if (devnull >= 0) {
		dup2(devnull, STDERR_FILENO);
		close(devnull);
	}
}

int gf_pidfile_write(const char *path)
{
	char buf[32];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	int n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	int rc = write(fd, buf, (size_t)n) == n ? 0 : -EIO;
	close(fd);
	return rc;
}

void gf_signals_block(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
}

int gf_signals_wait(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	for (;;) {
		int sig;
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGHUP)
			continue;
		return sig;
	}
}
