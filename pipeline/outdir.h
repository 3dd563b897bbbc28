/* outdir.h -- the output folder: lock, published sets, run history
 *
 * Layout of [output] dir (output/README.md has the reader's view):
 *
 *   .lock               held with flock(2) by the run that writes; a second
 *                       run exits 75 (PL_EX_TEMPFAIL) at once.  The kernel
 *                       drops the lock when its holder dies, so a killed
 *                       run never leaves a lock that blocks the next.
 *   sets/ID/            one published set: every output, manifest.tsv,
 *                       sources.tsv and the cache (pipeline/cache.h).  ID is
 *                       the run id, YYYYMMDDTHHMMSSZ-PID, sortable by time.
 *   current             symbolic link to sets/ID, the set readers see.  A
 *                       run writes a new set beside it and switches the link
 *                       with rename(2): readers see the old set or the new
 *                       one, never a mix, and a run that fails or is killed
 *                       at any point leaves `current` as it was.
 *   NAME                for each output NAME, a symbolic link to
 *                       current/NAME, made once, so output/docs.tsv keeps
 *                       working as a path.
 *   runs/ID.json        the report (run.json) of each run that published,
 *                       and of each run that failed after taking the lock;
 *                       the newest [output] keep_runs are kept.
 *
 * The set that `current` replaced stays until the next run publishes, so a
 * reader that resolved `current` just before a switch can finish reading
 * it; older sets, and the half-written sets of killed runs, are removed by
 * the next run that holds the lock.  Pruning removes only names this
 * program makes, through open folders, on one file system (outdir.c says
 * exactly what).
 *
 * All functions return 0 or -1 with err filled, as util.h says.
 */
#ifndef PL_OUTDIR_H
#define PL_OUTDIR_H

#include "../stages/stages.h"

/* Take the lock of ctx->outdir (creating the folder, not its parents):
 * PL_EX_TEMPFAIL when another run holds it, naming that run's pid.
 * Sets ctx->run_id.  Released by outdir_release. */
int outdir_lock(struct ctx *ctx, struct pl_error *err);

/* The current set's folder (OUTDIR/sets/ID) in *path (caller frees), or
 * NULL when nothing was published yet.  0 or -1. */
int outdir_current(const char *outdir, char **path, struct pl_error *err);

/* Create the new set's folder and point ctx->staging at it, after
 * outdir_tidy.  The folder is sets/ID, or sets/ID.N when a run of the same
 * process made sets/ID within the same second; ctx->run_id follows. */
int outdir_begin(struct ctx *ctx, struct pl_error *err);

/* Remove the sets that are neither current nor the one it replaced (old
 * ones, and those of killed runs), and put right what a run killed while
 * it replaced an older version's flat layout left (outdir.c,
 * flat_recover).  Needs the lock; best effort. */
void outdir_tidy(struct ctx *ctx);

/* Hard-link the file `src` into the new set as `name` (a cache segment a
 * rerun keeps); copies when the file system has no hard links. */
int outdir_adopt(struct ctx *ctx, const char *src, const char *name,
		 struct pl_error *err);

/* Hash and fsync every file staged so far that is not yet (each must be
 * closed, and is hashed again if it is opened again): what publishing
 * does to each, done early, while a stage works on its own thread (run.c
 * calls it before waiting for the projection), so that publishing waits
 * for the disk and reads the files only for those written after.  0 or
 * -1 (PL_EX_IOERR). */
int outdir_settle(struct ctx *ctx, struct pl_error *err);

/* Write manifest.tsv, make the top-level links, switch `current` to the
 * new set, then (best effort, warnings on stderr) record runs/ID.json and
 * prune old sets and reports. */
int outdir_publish(struct ctx *ctx, struct pl_error *err);

/* Remove the new set's folder (after a failure); allocates nothing. */
void outdir_abandon(struct ctx *ctx);

/* Record runs/ID.json for a run that failed with `e` (best effort). */
void outdir_record_failure(struct ctx *ctx, const struct pl_error *e);

/* Watch for SIGTERM, SIGINT and SIGHUP (those not ignored) on a thread of
 * their own while a run goes on: one that comes before the run published
 * records its failure in runs/ and kills the process with that signal.
 * Call before any other thread is started (they must inherit the blocked
 * signals), and outdir_unwatch when the run has ended, before releasing
 * ctx.  0 or -1. */
int outdir_watch(struct ctx *ctx, struct pl_error *err);
void outdir_unwatch(void);
/* The run will write nothing more (nothing was new): a signal from here
 * on kills it without a report. */
void outdir_ended(void);

/* Drop the lock and free what outdir_lock set. */
void outdir_release(struct ctx *ctx);

/* `pipeline verify`: check every file of the current set against the
 * sizes and XXH3-128 hashes of its manifest.tsv, and the top-level links.
 * Prints one line per problem to `out`; *bad counts them.  0, or -1 when
 * there is nothing to verify or it cannot be read. */
int outdir_verify(const char *outdir, FILE *out, size_t *bad,
		  struct pl_error *err);

/* XXH3-128 of a file's bytes as 32 hex digits (hex has room for 33);
 * *size gets its length.  At most limit + 1 bytes are read (as
 * pl_hash_path).  0 or -1 (PL_EX_NOINPUT, PL_EX_IOERR). */
int pl_hash_file(const char *path, uint64_t limit, char hex[33], uint64_t *size,
		 struct pl_error *err);

#endif
