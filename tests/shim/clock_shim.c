/* clock_shim.c -- LD_PRELOAD shim for tests/incremental.sh: a run whose
 * id comes round again.
 *
 * A run's id is the UTC second it took the lock and its pid.  In a
 * container where the program is always pid 1, a clock set back (a VM
 * snapshot restored, an NTP step) gives a later run an earlier run's id.
 * With SHIM_TIME=SECONDS the wall clock (time, gettimeofday,
 * clock_gettime's CLOCK_REALTIME) reads that second; anything else
 * passes through.  The test makes the pid 1 with unshare(1) (a getpid
 * that lied would also fool the run's signal thread, which knows its own
 * wake-up signal by the sender's pid).
 *
 * Built by the test (not linked into run_tests, which takes the C files
 * directly in tests/): cc -shared -fPIC -o clock_shim.so clock_shim.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>

static const char *fixed(void)
{
	return getenv("SHIM_TIME");
}

int clock_gettime(clockid_t id, struct timespec *ts)
{
	static int (*real)(clockid_t, struct timespec *);
	int rc;

	if (!real)
		real = (int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT, "clock_gettime");
	rc = real(id, ts);
	if (rc == 0 && fixed() && (id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE))
		ts->tv_sec = (time_t)atoll(fixed());
	return rc;
}

time_t time(time_t *t)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (t)
		*t = ts.tv_sec;
	return ts.tv_sec;
}

int gettimeofday(struct timeval *restrict tv, void *restrict tz)
{
	struct timespec ts;

	(void)tz;
	clock_gettime(CLOCK_REALTIME, &ts);
	tv->tv_sec = ts.tv_sec;
	tv->tv_usec = ts.tv_nsec / 1000;
	return 0;
}
