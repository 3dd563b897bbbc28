/* truncate_shim.c -- LD_PRELOAD shim for tests/incremental.sh: a cache
 * file cut short by another program while a run has it mapped.
 *
 * The run maps cache.idx and the cache's segments (pipeline/cache.c).  If
 * another program truncates one then (a restore with rsync --inplace, a
 * user's `> file`), or the disk fails to read one of its pages, the next
 * read of such a page is a SIGBUS.  With SHIM_TRUNCATE=SUFFIX, every
 * mmap of a file whose name ends with SUFFIX is followed at once by a
 * truncate of that file to half its size, so the run's next read past
 * the half faults.  With SHIM_KILL_SELF=1 as well, the shim sends the
 * process a SIGBUS with kill(2) instead of truncating: a signal sent, not
 * a fault, which the run's handler must leave to its default action.
 * Anything else passes through.
 *
 * Built by the test (not linked into run_tests, which takes the C files
 * directly in tests/): cc -shared -fPIC -o truncate_shim.so
 * truncate_shim.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static void cut(int fd)
{
	const char *suffix = getenv("SHIM_TRUNCATE");
	char link[64], path[PATH_MAX];
	struct stat st;
	ssize_t n;
	size_t ls;

	if (!suffix || fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
		return;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof(path) - 1);
	if (n <= 0)
		return;
	path[n] = '\0';
	ls = strlen(suffix);
	if ((size_t)n < ls || strcmp(path + n - ls, suffix) != 0)
		return;
	if (getenv("SHIM_KILL_SELF"))
		kill(getpid(), SIGBUS);
	else
		(void)truncate(path, st.st_size / 2);
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	static void *(*real)(void *, size_t, int, int, int, off_t);
	void *p;

	if (!real)
		real = (void *(*)(void *, size_t, int, int, int, off_t))dlsym(RTLD_NEXT, "mmap");
	p = real(addr, len, prot, flags, fd, off);
	if (p != MAP_FAILED && !(flags & MAP_ANONYMOUS))
		cut(fd);
	return p;
}

void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return mmap(addr, len, prot, flags, fd, off);
}
