/* run.h -- the driver: stage table, run, report */
#ifndef PL_RUN_H
#define PL_RUN_H

#include "../stages/stages.h"

#define PIPELINE_VERSION "0.1.0"
/* Debian's libinih exports no version; the build passes the package's. */
#ifndef PIPELINE_INIH_VERSION
#define PIPELINE_INIH_VERSION "unknown"
#endif

/* Initialise every stage (validates the whole config, reads list files)
 * without reading the corpus; `pipeline check` stops here.  0 or -1. */
int ctx_prepare(struct ctx *ctx, struct pl_error *err);

#endif
