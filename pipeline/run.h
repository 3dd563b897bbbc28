/* run.h -- the driver: stage table, run, report */
#ifndef PL_RUN_H
#define PL_RUN_H

#include "../stages/stages.h"

#define PIPELINE_VERSION "0.1.0"
/* Debian's libinih exports no version; the build passes the package's. */
#ifndef PIPELINE_INIH_VERSION
#define PIPELINE_INIH_VERSION "unknown"
#endif

#endif
