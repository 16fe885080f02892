/*
 * memguard.c — see memguard.h. A thread inside memguard_csum_check points
 * its thread-local guard at a sigjmp_buf; the SIGBUS handler jumps back
 * there. SIGBUS from a memory access is synchronous: it is delivered to
 * the thread that touched the page, so the guard it finds is its own.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <string.h>

#include "csum.h"
#include "memguard.h"

static _Thread_local sigjmp_buf *volatile guard;
static struct sigaction old_bus;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int init_err = -EFAULT;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	sigjmp_buf *g = guard;

	(void)sig;
	(void)si;
	(void)uc;
	if (g) {
		guard = NULL;
		siglongjmp(*g, 1);
	}
	/* not ours: the handler there was before takes it; the access that
	 * faulted faults again when this returns */
	sigaction(SIGBUS, &old_bus, NULL);
}

static void install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigbus;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	init_err = sigaction(SIGBUS, &sa, &old_bus) < 0 ? -errno : 0;
}

int memguard_init(void)
{
	pthread_once(&once, install);
	return init_err;
}

int memguard_csum_check(const void *mem, size_t len, uint64_t first, const uint64_t *want)
{
	sigjmp_buf env;
	volatile int r = -EFAULT;

	if (init_err < 0)
		return -EFAULT;
	if (sigsetjmp(env, 1) == 0) {
		guard = &env;
		r = gf_csum_check(mem, len, first, want) == 0 ? 0 : 1;
	}
	guard = NULL;
	return r;
}
