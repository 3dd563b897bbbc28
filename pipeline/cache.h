/* cache.h -- what a run keeps for the next one
 *
 * A rerun reads only the files that are new or changed; everything else
 * comes from the cache the previous run published in its set (outdir.h):
 *
 *  - cache.idx: the index.  The config lines that decide the counts (and
 *    the hash of the list files they name), the program version, the term
 *    table in id order (ids are append-only: a rerun interns these first,
 *    so a term keeps its column forever), and per source file: its raw
 *    relative path, size, mtime, ctime, inode, device, XXH3-128 content
 *    hash, where its record is and its number of statements, then (from
 *    "PLCIDX03" on) its length as [corpus] max_file_mb counts it
 *    (inflated, for gzip); before the files (from "PLCIDX04" on) the
 *    compaction's counters (struct cache's dead and runs); then per
 *    statement of every file its
 *    paragraph number, cluster and text hash (XXH3-64; an index of the
 *    first format, "PLCIDX01", has none and still serves, as "PLCIDX02",
 *    without lengths, does); then the previous clustering (labels and
 *    centroids, for the warm start and for matching cluster ids), the
 *    frame shares per cluster and the totals "since the last run"
 *    compares with.
 *  - cache.key: the digest of the listing a rerun with nothing new
 *    recognises without loading cache.idx (below, cache_key_matches).
 *  - cache-ID-N.seg: segments, written by read thread N of run ID while it
 *    reads, never modified after.  A record per file read: its statements
 *    (paragraph, line, tokens, the count row), its surface counts, its
 *    phrase (term, surface) counts and its report counters; at the end,
 *    the tables of the surfaces and terms the records name by number.  A
 *    rerun hard-links the segments that still hold a live record into its
 *    new set, so a small rerun writes little.
 *  - cache-counts.idx and cache-axes.bin: where counts.mtx.gz is cut, and
 *    the projection's axes (both below).
 *
 * Integers are little-endian; every file ends with an XXH64 of what came
 * before it, checked on load: a damaged cache is reported and the run
 * reads every file instead (it never trusts what it cannot check).
 *
 * All functions return 0 or -1 with err filled, as util.h says.
 */
#ifndef PL_CACHE_H
#define PL_CACHE_H

#include "../stages/stages.h"

#include <time.h>
#include <xxhash.h>

#define CACHE_NONE UINT32_MAX

/* One source file as the cache knows it. */
struct cache_file {
	const char *rel;     /* raw relative path (points into the index) */
	uint64_t size;
	uint64_t readlen;    /* struct fileinfo's */
	int64_t mtime_ns, ctime_ns, hashed_ns;
	uint64_t ino, dev;
	uint8_t hash[16];
	uint32_t seg;        /* segment index */
	uint64_t off, len;   /* its record in the segment */
	uint32_t nunits;
	uint64_t unit0;      /* its first statement in para[] and label[] */
};

/* A segment, mapped when a rerun replays records from it. */
struct cache_seg {
	char *name;
	uint64_t size;
	const uint8_t *map;  /* NULL until mapped */
	uint64_t tables;     /* offset of the tables, once mapped */
	uint64_t records;    /* bytes of records it holds, live or not */
	uint64_t live;       /* bytes of records still in use (this run) */
};

struct cache {
	char *set;               /* the set folder it was read from */
	uint64_t analysis_hash;
	char *analysis_text;     /* the lines the hash is of */
	char *version;
	uint64_t config_hash;    /* of the whole config */
	/* terms, in id order */
	struct strtab terms;
	uint8_t *term_kind;
	/* files, sorted by rel (strcmp) */
	struct cache_file *files;
	size_t nfiles;
	uint32_t *para;          /* per statement of every file, in order */
	int32_t *label;          /* its cluster id, 0 when not clustered */
	uint64_t *uhash;         /* its text's hash (struct units' hash), or
				    NULL from an index that predates them */
	uint64_t nunits;
	struct cache_seg *segs;
	size_t nsegs;
	/* What decides when a rerun reads everything again to compact the
	 * cache (read_plan), counted in file lengths (readlen; on disk for
	 * a gzip file of unknown length), not in bytes of records, whose
	 * encoding and segments depend on the number of read threads: the
	 * length of the files whose records were superseded since the
	 * last such run (removed, changed or read again; they stay in
	 * their segments until every record of a segment is), and the runs
	 * since that wrote segments.  0 and 0 from an index before
	 * PLCIDX04. */
	uint64_t dead;
	uint32_t runs;
	/* the previous clustering: k clusters, ids label[], centroids as
	 * sparse rows over term ids */
	uint32_t k, metric, next_label;
	uint32_t *clabel;
	uint64_t *cptr;          /* k + 1 */
	uint32_t *cterm;
	double *cval;
	/* frames: unit_share of frame f in cluster c (k x nframes) */
	size_t nframes;
	char **frame;
	double *share;
	uint64_t prev_units, prev_terms;
	char *run_id;            /* the run that wrote it */
	/* Not NULL when a config line that decides the counts changed since
	 * (it says which, as "KEY changed since the last run, and it
	 * changes the counts"): no record is replayed, every file is read
	 * again (read_plan sets plan.rebuild), but the term table, the
	 * previous clustering and the totals serve as always, so term ids,
	 * cluster ids and "Since the last run" carry over. */
	char *stale;
	uint8_t *raw;            /* the index bytes, mapped; rel points in here */
	size_t rawlen;
};

/* The hash of the config lines that decide the counts (analysis = 1:
 * [corpus] but dir, max_file_mb and the boilerplate file's path, [tokenize],
 * [stem], [phrases], [frames], the contents of the stop-word and
 * boilerplate files, the program and utf8proc versions, and unless
 * [stem] language = none the hash of the libstemmer file), of the whole
 * config (analysis = 0, the config_hash of run.json), or of everything that
 * changes an output (analysis = 2: all but [run] threads).
 * 0 or -1 (out of memory).  cache_config_text appends the lines hashed
 * to `text`. */
int cache_config_hash(const struct config *cfg, int analysis, uint64_t *hash);
int cache_config_text(const struct config *cfg, int analysis, struct strbuf *text);
/* Fill ctx->config_hash, once per ctx.  0 or -1 (out of memory). */
int cache_hash_config(struct ctx *ctx, struct pl_error *err);

/*
 * Load the cache of the set folder `set`.  *out is NULL (and 0 returned)
 * when there is none, or when it cannot serve at all: then *why says in
 * one line why (a damaged file, an index format this version does not
 * read), to be reported before every file is read.  A config that
 * changes the counts, or
 * another program version (the analysis text's first line), loads it all
 * the same, with (*out)->stale saying which key changed.  analysis_text
 * is the config's text to compare (a run's ctx->config_text), or NULL:
 * cache_config_text(cfg, 1) now.  The caller frees *why and
 * cache_free()s *out.  -1 only when out of memory.
 */
int cache_load(const char *set, const struct config *cfg, const char *analysis_text,
	       struct cache **out, char **why, struct pl_error *err);
void cache_free(struct cache *c);

/*
 * cache.key: what a rerun checks before anything else.  The program
 * version, the config lines that decide the counts (as cache.idx has
 * them), the hash of every config key that changes an output, the number
 * of files and a digest of their listing: the sum (mod 2^64, each half) of
 * each file's XXH3-128 of its raw relative path, seeded with XXH3-64 of
 * its size, mtime, ctime, inode and device (5 little-endian u64, as
 * cache.idx records them).  A sum does not depend on the order, so a rerun checks its listing
 * before sorting it.  The key is written only when read_plan would take
 * every file of that listing as unchanged without hashing it (each ctime a
 * second older than its hash) and would not rebuild the cache, so a match
 * means exactly what read_plan would conclude: nothing is new.
 */
void cache_listing_digest(const struct files *f, uint64_t out[2]);
/* Add one file's hash to a digest (acc[] starts at 0). */
void cache_listing_add(uint64_t acc[2], const char *rel, const struct fileinfo *fi);
/* 1 when cache.key of set `set` matches ctx's config and the digest of its
 * listing (ctx->files.digest, summed by read_list): a run would change
 * nothing.  0 otherwise
 * (no key, another version or config, another listing, a damaged key);
 * -1 out of memory. */
int cache_key_matches(struct ctx *ctx, const char *set, struct pl_error *err);

/*
 * cache-counts.idx: where counts.mtx.gz of the same set is cut between
 * rows (write_mtx), so that a rerun can copy its unchanged start
 * (stages/counts.c).  "PLCUTS1\n", u64 size of counts.mtx.gz, u64 rows,
 * u64 n, then n cuts of (u64 row, u64 offset, u64 XXH64 of the bytes up to
 * the next cut or the end), then the XXH64 of everything before it.
 *
 * cache_write_cuts stages it for cuts c; 0 or -1.  cache_read_cuts reads
 * set's into *c (row, off and hash allocated, the caller pl_frees them):
 * 1; or 0 and *why (a constant string) when there is none, it is damaged
 * or memory runs out, which only means nothing is copied.
 */
int cache_write_cuts(struct ctx *ctx, const struct mtx_cuts *c,
		     struct pl_error *err);
int cache_read_cuts(const char *set, struct mtx_cuts *c, const char **why);

/*
 * cache-axes.bin: the projection's two axes of the same set's run
 * (stages/project.c), the start of the next run's fit.  "PLAXES1\n", u64
 * d (the terms of that run: its index's term table), then axis 0 and axis
 * 1, d IEEE single-precision floats each, term id order, then the XXH64
 * of everything before it.  Single precision: it is only a starting
 * point, which the fit refines to its tolerance whatever it starts from.
 *
 * cache_write_axes stages it for axis (2 x d doubles, struct projection's
 * layout); 0 or -1.  cache_read_axes reads set's into *axis (2 x d
 * doubles, pl_malloc'ed, the caller frees) when its d is `d`: 1; or 0 and
 * *why (a constant string) when there is none, it is damaged, has another
 * d, or memory runs out, which only means the fit starts from draws.
 */
int cache_write_axes(struct ctx *ctx, const double *axis, size_t d,
		     struct pl_error *err);
int cache_read_axes(const char *set, size_t d, double **axis, const char **why);

/* Map segment s for replay (read-only, shared by every thread); 0 or -1
 * (a damaged segment: PL_EX_DATAERR). */
int cache_map_segment(struct cache *c, size_t s, struct pl_error *err);
/* Unmap every mapped segment (c may be NULL).  The read stage does it once
 * every record is replayed: the mapped pages count in the run's memory
 * (122 MB on the 520 MB benchmark corpus) and nothing later reads them. */
void cache_unmap_segments(struct cache *c);


/*
 * Writing.  A segment writer collects records as a read thread produces
 * them (in its ctx's own ids) and the tables they need; cache_seg_close
 * appends the tables and the checksum.  cache_write_index writes cache.idx
 * and sources.tsv for the whole run into the staging set and hard-links
 * the old segments that still hold live records; first it settles racily
 * clean files (cache_settle_racy, which may move files.info[].hashed_ns).
 */
/* The segments this run writes, in the new index's order after the old
 * ones it keeps; index[n] is the position of read thread n's segment. */
struct newcache {
	size_t n;
	char **name;
	uint64_t *records;   /* bytes of records in each */
	uint32_t *index;
	size_t nthreads;
};
void newcache_free(struct newcache *nc);

/* Replay (read.c): add the statements, counts and surface counts of
 * cached file `cf` to ctx, as if file `file` had been read.  *maps holds
 * the id maps of ctx (created on first use; cache_maps_free); *bytes gets
 * the file's length as read.  The
 * segment must be mapped.  0 or -1 (PL_EX_DATAERR: damaged). */
struct replaymaps;
int cache_replay(struct ctx *ctx, struct cache *c, struct replaymaps **maps,
		 uint32_t cf, uint32_t file, uint64_t *bytes,
		 struct pl_error *err);
void cache_maps_free(struct replaymaps *r);

/* Hash again, before the cache index is written, the files read within a
 * second of their last change, and record the new moment of hashing when
 * they are unchanged (see cache.c).  Errors leave a file as it was. */
void cache_settle_racy(struct ctx *ctx);

/* Should a rerun that replays files of `live` length, with `dead` of
 * superseded records and `runs` runs' segments in the cache (struct
 * cache), read everything again instead, writing one compact cache?
 * When there is more dead than live (the cache is then over twice the
 * size it needs), or segments of CACHE_RUNS_MAX runs (each replayed one
 * is mapped and checked).  Neither depends on the number of threads, so
 * neither does which files a run reads. */
#define CACHE_RUNS_MAX 32
static inline int cache_compact(uint64_t live, uint64_t dead, uint32_t runs)
{
	return live < dead || runs >= CACHE_RUNS_MAX;
}
/* A file's weight in those: its length as max_file_mb counts it, or on
 * disk when that is unknown (a gzip file in an index before PLCIDX03). */
static inline uint64_t cache_weight(uint64_t readlen, uint64_t size)
{
	return readlen != READLEN_UNKNOWN ? readlen : size;
}

/* Does a file's stat data prove it unchanged since it was hashed?  Only
 * when its last change (ctime) is a second or more older than the hash:
 * a write in the second of the hash could keep its size and times
 * ("racily clean", read_plan). */
static inline int cache_ctime_settled(int64_t ctime_ns, int64_t hashed_ns)
{
	return ctime_ns < hashed_ns - 1000000000;
}
/* A stat time, and the wall clock (what hashed_ns records), in ns. */
static inline int64_t cache_ts_ns(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
}
int64_t cache_wall_ns(void);

/* XXH3-128 of the file at `path`, canonical (big-endian) bytes, and its
 * length in *size.  It reads at most limit + 1 bytes: when *size comes
 * back over limit, the hash is of that much only (the caller knows the
 * file is too long, or not the one it expected, and the read ends even
 * when a writer keeps the file growing).  0 or -1 (PL_EX_NOINPUT,
 * PL_EX_IOERR, PL_EX_OSERR). */
int pl_hash_path(const char *path, uint64_t limit, uint8_t hash[16],
		 uint64_t *size, struct pl_error *err);
void pl_hash_bytes(const void *data, size_t len, uint8_t hash[16]);
/* The 32 hex digits of a hash, and a NUL. */
void pl_hash_hex(const uint8_t hash[16], char hex[33]);

/* unit_share of each frame in each cluster (k x frames, ctx->km's order);
 * *out NULL when there is no clustering or no frame.  0 or -1 (memory). */
int cache_frame_shares(const struct ctx *ctx, double **out);

struct segwriter;
int cache_seg_open(struct ctx *main, struct segwriter **out, int n,
		   struct pl_error *err);
/* Append the record of the file `fi` whose statements are units
 * [unit0, ctx->units.n) of ctx (a shard or the main ctx), with the report
 * counters `rep` counted while reading it. */
int cache_seg_record(struct segwriter *w, struct ctx *ctx, struct fileinfo *fi,
		     size_t unit0, const struct report *rep, struct pl_error *err);
/* Append the tables and close.  Always frees w. */
int cache_seg_close(struct segwriter *w, struct ctx *ctx, struct pl_error *err);
void cache_seg_abandon(struct segwriter *w);
/* Stage cache.idx (and sources.tsv, which it writes first). */
int cache_write_index(struct ctx *ctx, struct pl_error *err);
/* Stage sources.tsv alone: a run without a cache (incremental = no). */
int cache_write_sources(struct ctx *ctx, struct pl_error *err);

#endif
