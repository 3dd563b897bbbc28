/* gz.h -- gzip output compressed in parallel, as independent members
 *
 * A gzip file may be a series of complete gzip members, one after the
 * other; gzip -d, zcat, zlib's gzread, R's gzfile and Python's gzip all
 * read such a file as one stream (RFC 1952, section 2.2).  A gzw cuts what
 * is written to it into chunks of exactly `chunk` bytes (the last one
 * shorter) and compresses each chunk into one member with libdeflate, in
 * worker threads while the caller goes on producing the next chunks; the
 * members are handed to a sink in order.
 *
 * The bytes depend only on what is written, the chunk size and the level:
 * never on the number of workers, on timing, or on how the writes were
 * split.  The members carry no file name and time stamp 0.
 *
 * Memory is bounded: at most workers + 2 chunks, with their compressed
 * forms, are held at once.  Small files (one chunk) start no thread.
 *
 * A gzw is used by one thread at a time (the producer); the sink may be
 * called from a worker thread, but never by two threads at once for one
 * gzw.  Functions that can fail return 0 or -1 with `err` filled
 * (pipeline/util.h); the first failure is sticky: every later call returns
 * the same error.
 */
#ifndef PL_GZ_H
#define PL_GZ_H

#include "util.h"

#include <stddef.h>

/* The chunk size the output files use: 1 MiB of text per member. */
#define GZW_CHUNK ((size_t)1 << 20)

/* Where the members go: write all `len` bytes of `data`, 0; or -1 with
 * err filled (for example PL_EX_IOERR naming the file and errno). */
typedef int gzw_sink(void *arg, const void *data, size_t len,
		     struct pl_error *err);

struct gzw;

/* A new writer compressing at libdeflate `level` (0..12) into members of
 * `chunk` bytes of input each (at least 1), with up to `workers`
 * compression threads (0 or 1: every chunk is compressed by the caller, in
 * gzw_write and gzw_finish).  The caller frees it with gzw_free.  NULL
 * when out of memory (err filled, PL_EX_OSERR) or for a bad level
 * (PL_EX_SOFTWARE). */
struct gzw *gzw_new(int level, size_t chunk, unsigned workers, gzw_sink *sink,
		    void *arg, struct pl_error *err);

/* Append `len` bytes.  0 or -1 (out of memory, or a sink failure, which
 * may be reported one chunk late). */
int gzw_write(struct gzw *w, const void *data, size_t len,
	      struct pl_error *err);

/* End the current member here, so that the next byte written starts a
 * new one (nothing happens when the current member is empty).  A file
 * cut at content-defined places is still the same bytes whatever the
 * workers.  0 or -1. */
int gzw_cut(struct gzw *w, struct pl_error *err);

/* The number of members handed on so far: after gzw_cut, the sequence
 * number of the member the next byte goes into. */
uint64_t gzw_members(const struct gzw *w);

/* Bytes that are not compressed here: complete gzip members taken from
 * another file (the unchanged start of the previous version of this
 * one).  gzw_raw_begin cuts and waits until the sink has every member
 * (0 or -1); then the caller appends the bytes to where the sink writes,
 * itself, and gzw_raw_end(w, len) counts them as one member of
 * gzw_member_sizes. */
int gzw_raw_begin(struct gzw *w, struct pl_error *err);
void gzw_raw_end(struct gzw *w, uint64_t len);

/* After gzw_finish: the bytes the sink had for each member, by sequence
 * number (gzw_members of them).  Owned by w. */
const uint64_t *gzw_member_sizes(const struct gzw *w);

/* Compress and hand over everything written, wait until the sink has had
 * every member, and stop the workers.  An empty stream still gives one
 * (empty) member, so the file is valid gzip.  0 or -1.  Only
 * gzw_member_sizes, gzw_members, gzw_free and gzw_finish again (which
 * does nothing more) may follow. */
int gzw_finish(struct gzw *w, struct pl_error *err);

/* Stop the workers, drop what was not handed to the sink yet, and free w.
 * NULL is allowed. */
void gzw_free(struct gzw *w);

#endif
