/* fuzz_cache.c -- libFuzzer harness for the rerun cache's index reader
 *
 * Each input is written as cache.idx into a temporary set folder (after
 * its XXH64 trailer is recomputed, so that mutations reach the parser
 * instead of stopping at the checksum) and read with cache_load under the
 * default config.  When it loads, the files must be in strictly
 * increasing strcmp order of their names (what read_plan's one-pass match
 * of the listing relies on) and every segment is mapped (there are none
 * in the folder, so each must fail cleanly with PL_EX_DATAERR).  Invariants, else the
 * harness aborts:
 *
 *  - cache_load returns 0 (with a cache, or none and a reason) or -1 with
 *    PL_EX_OSERR; a damaged index is "none, and why", never a crash;
 *  - a loaded cache's files are sorted, without duplicates, and every
 *    record lies inside its segment;
 *  - cache_free frees everything (LeakSanitizer checks).
 *
 * The seeds (tests/fuzz/corpus/cache) are indexes written by real runs
 * under the default config.  Build and run: `make fuzz`; replay one file:
 *   build-fuzz/fuzz_cache tests/fuzz/crashes/cache/FILE
 */
#include "../../pipeline/cache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tmpfile.h"

static struct config cfg;

static void cfg_cleanup(void)
{
	config_release(&cfg);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct pl_error err;

	(void)argc;
	(void)argv;
	tmpfile_setup("fuzz_cache", "cache.idx");
	if (config_init(&cfg, &err) != 0) {
		fprintf(stderr, "fuzz_cache: %s\n", err.msg);
		abort();
	}
	atexit(cfg_cleanup);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pl_error err = { 0, "" };
	struct cache *c = NULL;
	char *why = NULL;
	uint8_t *copy;
	FILE *fp;
	int rc;

	copy = malloc(size + 1);
	if (!copy)
		abort();
	memcpy(copy, data, size);
	if (size >= 16) {
		uint64_t h = XXH64(copy, size - 8, 0);

		for (int i = 0; i < 8; i++)
			copy[size - 8 + i] = (uint8_t)(h >> (8 * i));
	}
	fp = fopen(path, "wb");
	if (!fp || fwrite(copy, 1, size, fp) != size || fclose(fp) != 0)
		abort();
	free(copy);
	rc = cache_load(dir, &cfg, NULL, &c, &why, &err);
	if (rc != 0 && rc != -1)
		abort();
	if (rc == -1 && (err.code != PL_EX_OSERR || !err.msg[0]))
		abort();
	if (rc == 0 && c && why)
		abort(); /* a cache, or a reason: never both */
	if (c) {
		for (size_t i = 0; i < c->nfiles; i++) {
			const struct cache_file *f = &c->files[i];

			if (i > 0 && strcmp(c->files[i - 1].rel, f->rel) >= 0)
				abort();
			if (f->seg >= c->nsegs || f->off > c->segs[f->seg].size ||
			    f->len > c->segs[f->seg].size - f->off)
				abort();
		}
		for (size_t s = 0; s < c->nsegs; s++)
			if (cache_map_segment(c, s, &err) != -1 ||
			    err.code != PL_EX_DATAERR)
				abort();
	}
	cache_free(c);
	pl_free(why);
	return 0;
}
