/* tmpfile.h -- the one temporary file a harness rewrites for each input
 *
 * Included by the harnesses that hand their input to code reading a path
 * (fuzz_config, fuzz_gzip, fuzz_cache): a private folder under $TMPDIR
 * (or /tmp), made once, and `path`, the file in it, removed at exit.
 */
#ifndef PL_FUZZ_TMPFILE_H
#define PL_FUZZ_TMPFILE_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char dir[4096], path[4200];

static void tmpfile_cleanup(void)
{
	unlink(path);
	rmdir(dir);
}

/* Make the folder for harness `name` and set path to its file `file`;
 * aborts when the folder cannot be made. */
static void tmpfile_setup(const char *name, const char *file)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(dir, sizeof(dir), "%s/%s.XXXXXX", tmp && *tmp ? tmp : "/tmp", name);
	if (!mkdtemp(dir)) {
		fprintf(stderr, "%s: ", name);
		perror("mkdtemp");
		abort();
	}
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	atexit(tmpfile_cleanup);
}

#endif
