/* run.h -- the driver: stage table, run, report */
#ifndef PL_RUN_H
#define PL_RUN_H

#include "../stages/stages.h"

#define PIPELINE_VERSION "0.1.0"
/* Debian's libinih exports no version; the build passes the package's. */
#ifndef PIPELINE_INIH_VERSION
#define PIPELINE_INIH_VERSION "unknown"
#endif

/* The libraries a run uses and their versions (run.json's "libraries",
 * `pipeline version`): up to PL_NLIBS entries, names fixed, versions as
 * the library reports them at run time where it can (libdeflate: the
 * header's, at build time).  Returns how many. */
#define PL_NLIBS 8
struct pl_library {
	const char *name;
	char version[64];
};
size_t pipeline_libraries(struct pl_library lib[PL_NLIBS]);

/* What a run would do now (pipeline status, and the start of a run): list
 * the corpus, load the cache of the current set and compare the corpus
 * with it (ctx->plan, ctx->files.info).  With `quick`, a listing that
 * matches the set's cache.key (pipeline/cache.h) ends it there: the plan
 * says nothing is new, and no cache is loaded.  *why: why the cache
 * cannot serve, or NULL (caller frees).  0 or -1. */
int ctx_plan(struct ctx *ctx, int quick, char **why, struct pl_error *err);
/* Same files, contents, config and program as the published run. */
int ctx_nothing_new(const struct ctx *ctx);

#endif
