/* stages.h -- the stage interface and the state that flows between stages
 *
 * A run is a chain of stages listed once, in order, in pipeline/stages.c.
 * Each stage is one file in stages/ exporting one `struct stage`:
 *
 *   init   builds the stage's state from the config (a bad value is a
 *          PL_EX_CONFIG error naming the key);
 *   unit   transforms one statement's token stream; the read stage calls
 *          the unit hooks of every later stage, in order, for each unit it
 *          reads, so the raw text is never all held in memory;
 *   run    whole-corpus work once every unit has been read;
 *   release frees the state (safe after a failed or missing init).
 *
 * Every hook is optional.  Hooks return 0 or -1 with `err` filled (util.h).
 *
 * How text becomes numbers:
 *   read      file -> units (statements) with their origin
 *   tokenize  unit text -> surface ids (interned normalised tokens)
 *   stem      surface id -> stem id (each distinct surface stemmed once)
 *   phrases   stem ids -> phrase terms joined, stop words dropped, n-grams
 *   vocabulary stem ids -> term ids (first occurrence order) -> count rows
 *   frames, counts, tfidf, kmeans, project, summary, write: whole-corpus
 *   stages; frames and counts are the last to read ctx->counts, which the
 *   tfidf stage then turns into ctx->tfidf in place
 *
 * Ids: a *surface* is a token as normalised (NFKC, case folded); a *stem* is
 * any analysed string (word stem, phrase, n-gram), including those that
 * come only from the config's phrase and frame lists; a *term* is a stem
 * that occurs in the corpus.  Term ids are assigned in order of first
 * occurrence (files in path order, units and tokens in text order), so
 * they are the matrix columns and stable while the corpus only grows.
 */
#ifndef PL_STAGES_H
#define PL_STAGES_H

#include "../pipeline/config.h"
#include "../pipeline/util.h"

#include <stdint.h>

#define ID_NONE UINT32_MAX
#define READLEN_UNKNOWN UINT64_MAX

/* Surface flags. */
enum { SURF_STOP = 1, SURF_NUMBER = 2, SURF_PHRASE = 4 };
/* Term kinds, as written in terms.tsv.gz. */
enum { TERM_WORD = 0, TERM_PHRASE = 1, TERM_NGRAM = 2 };

/* The files of the corpus, sorted by path. */
struct files {
	char *root;         /* the corpus folder as configured */
	char **path;        /* full path of each file */
	const char **rel;   /* as the outputs show it: the path relative to
			       root, with U+FFFD for bytes not UTF-8 */
	uint64_t *bytes;    /* bytes read (after decompression) */
	struct fileinfo *info; /* what the cache compares (pipeline/cache.h) */
	size_t rootlen;     /* path[i] + rootlen is the raw relative path */
	size_t n, cap;
	char **block;       /* what path[] and rel[] point into (owned) */
	size_t nblock, blockcap;
	uint64_t digest[2]; /* of the listing as stat'ed (cache.h) */
	int digest_only;    /* read_list_digest: count and sum, keep only
			       the folders' names and stat data (kept) */
	struct batch **kept; /* those (struct batch of read.c), for
			       read_list to build the listing from without
			       a second walk */
	size_t nkept, keptcap;
};

/* A corpus file as found on disk and as the cache sees it. */
struct fileinfo {
	uint64_t size;      /* on disk */
	uint64_t readlen;   /* what [corpus] max_file_mb limits: its bytes,
			       or a gzip file's once inflated, once read;
			       READLEN_UNKNOWN for a gzip file in an index
			       that predates PLCIDX03 (read_plan) */
	int64_t mtime_ns, ctime_ns;
	uint64_t ino, dev;
	uint8_t hash[16];   /* XXH3-128 of the bytes on disk, once hashed */
	int64_t hashed_ns;  /* when it was hashed (wall clock), 0: not yet */
	uint32_t cached;    /* index in ctx->cache->files to replay, or
			       CACHE_NONE (UINT32_MAX): read it */
	uint32_t old;       /* index in ctx->cache->files of the same path
			       (changed or not), or UINT32_MAX */
	uint32_t seg;       /* its record: segment (in the new index) */
	uint64_t off, len;
};

/* Per-unit metadata: where each statement came from. */
struct units {
	uint32_t *file;     /* index into files */
	uint32_t *para;     /* 1-based paragraph number; 0 in document mode */
	uint32_t *line;     /* 1-based line where the unit starts */
	uint32_t *ntok;     /* tokens counted (after stop words, with n-grams) */
	uint64_t *hash;     /* XXH3-64 of its text as cut (its kept lines):
			       changes.tsv knows a statement by it when
			       its file changed (stages/summary.c) */
	size_t n, cap;
};

/* Interned surfaces and what each maps to. */
struct surfaces {
	struct strtab tab;
	uint32_t *stem;     /* stem id, ID_NONE until stemmed */
	uint64_t *count;    /* occurrences in counted units */
	uint8_t *flags;     /* SURF_* */
	size_t cap;
};

/* Every analysed string; see "Ids" above. */
struct stems {
	struct strtab tab;
	uint32_t *term;     /* term id, ID_NONE until it occurs in a unit */
	uint8_t *kind;      /* TERM_* */
	size_t cap;
};

/* Terms: the columns of the output matrices. */
struct vocab {
	struct strtab tab;
	uint8_t *kind;      /* TERM_* */
	uint32_t *df;       /* units containing the term */
	uint64_t *cf;       /* total occurrences */
	uint32_t *surface;  /* most frequent surface id, ID_NONE for n-grams */
	uint8_t *kept;      /* 1 when it survives min_df, max_df, max_features */
	double *idf;
	size_t cap;
	size_t nkept;
};

/* Compressed sparse rows: units by terms.  Columns are term ids and are
 * sorted within each row.  `cnt` holds counts: the counts matrix's, and
 * the TF-IDF matrix's kept counts while the tfidf stage writes the weights
 * it computes from them; then the TF-IDF matrix holds its weights in
 * `fval`, single precision, for the stages after it (kmeans, project,
 * summary), in the same memory. */
struct csr {
	size_t nrows, ncols, nnz, cap;
	uint64_t *rowptr;   /* nrows + 1 entries */
	uint32_t *col;
	uint32_t *cnt;
	float *fval;
};

/* The token stream of the unit being analysed.  Buffers are reused. */
struct tokens {
	uint32_t *surf;     /* surface id, ID_NONE for n-grams */
	uint32_t *stem;     /* stem id */
	size_t n, cap;
};

/* One statement on its way through the unit hooks. */
struct unit {
	const char *text;   /* raw UTF-8 bytes, valid during the hooks only */
	size_t len;
	uint32_t id;        /* unit index (rows of the matrices) */
	uint32_t file, para, line;
	int counted;        /* 0 when analysing config text (frames, phrases) */
	struct tokens tok;
};

/* k-means output, in the final cluster numbering (1..k by size). */
struct clustering {
	uint32_t k;
	int32_t *assign;    /* per unit: 0-based cluster, -1 for empty rows */
	double *sim;        /* per unit: cosine similarity to its centroid */
	double *centroid;   /* k x d, row-major, dense (see below) */
	size_t d;           /* centroid columns */
	uint32_t *col;      /* d: each centroid column's term id */
	uint32_t *size;     /* units per cluster */
	double objective;   /* sum of (1 - cos) or of squared distances */
	int iterations;     /* of the kept restart */
	int restart;        /* which restart was kept, 0-based */
	int converged;
	double seconds;     /* wall time of the whole fit (every restart) */
	int all_iterations; /* iterations summed over the restarts */
	uint32_t *label;    /* per cluster: the id the outputs show, or NULL
			       for 1..k.  A rerun keeps the previous run's
			       ids (stages/kmeans.c, kmeans_run) */
	uint32_t next_label; /* the id a new cluster would get next */
	int warm;           /* 1 when started from the previous centroids */
	/* centroid columns are the columns of ctx->tfidf that have entries
	 * (the kept terms), in id order: pruned terms are zero in every
	 * centroid and are left out, so column c is term col[c], the c-th
	 * kept term, not term id c.  kmeans_run sets d and col; a clustering
	 * from kmeans_fit alone has d = its matrix's columns and col NULL. */
};

/* The k sweep of the kmeans stage (stages/kmeans.c, kmeans_sweep): one
 * entry per k fitted, ascending.  Figures a k does not define (k = 1, or k
 * = the statements with terms) are NAN, written NA or null.  With a single
 * configured k, n is 1.  n is 0 when the stage has not run. */
struct ksweep {
	size_t n;
	uint32_t *k;
	double *objective;  /* as struct clustering's */
	double *silhouette; /* cosine silhouette */
	double *ch;         /* Calinski-Harabasz */
	double *db;         /* Davies-Bouldin */
	size_t chosen;      /* index of the k kept in ctx->km */
	int select;         /* [kmeans] select: 0 silhouette, 1 CH, 2 DB */
	uint32_t lo, hi;    /* the range asked for */
	size_t m;           /* statements with terms; the sweep stops there */
	size_t sampled;     /* statements the silhouette averages over */
};

/* Frames: named lexicons, matched as terms. */
struct frames {
	size_t n;
	char **name;
	char **entries;     /* the config text of each frame */
	uint32_t **stems;   /* per frame, the stem ids its entries resolve to */
	size_t *nstems;
	uint32_t *hits;     /* units x n, occurrences of the frame's terms */
};

/* What a run reports in run.json. */
struct report {
	uint64_t bytes, tokens, invalid_bytes, long_tokens, boilerplate_lines;
	uint64_t empty_units;  /* units with no kept term, left unclustered */
	double proj_var[2];    /* variance share of the 2 projection axes */
	int proj_iterations;   /* the projection's fit: iterations, */
	int proj_converged;    /* converged (1/0), */
	int proj_warm;         /* started from the previous axes (1/0) */
	double seconds[32];
	double total_seconds;  /* while running: the start time */
	double wall_to_tfidf;  /* wall seconds from start to TF-IDF done */
	long threads;          /* read threads used */
};

/* Private state of the stages that keep some between hooks; each is
 * defined in its stage's file and owned by it (freed by its release). */
struct reader;
struct tokenizer;

/* The tokenizer's memo of recent short surfaces (tokenize.c) is direct
 * mapped: a surface whose (32-bit) pl_hash is h has the one slot below.
 * Here so tests can find surfaces that share one. */
#define TOKENIZE_MEMO_SLOTS 8192
static inline uint32_t tokenize_memo_slot(uint32_t h)
{
	return (h >> 19) & (TOKENIZE_MEMO_SLOTS - 1);
}
struct stemmer;
struct phraser;
struct counter;
struct projector;
struct cache;
struct newcache;

struct ctx {
	const struct config *cfg;
	int verbose;        /* -v */
	int quiet;          /* -q */
	int progress;       /* stderr is a terminal and not -q */
	struct files files;
	struct units units;
	struct surfaces surf;
	struct stems stems;
	struct vocab vocab;
	struct csr counts;  /* units x terms, every term; empty after the
			       tfidf stage, which turns it into tfidf */
	struct csr tfidf;   /* units x terms, kept terms only */
	double *norm;       /* per unit: what each tf * idf of its row is
			       divided by (docs.tsv's norm; tfidf stage) */
	struct clustering km;
	struct ksweep ksweep; /* the figures behind km's k (kmeans stage) */
	struct frames frames;
	struct report rep;
	struct reader *reader;
	struct tokenizer *tokenizer;
	struct stemmer *stemmer;
	struct phraser *phraser;
	struct counter *counter;
	struct projector *projector; /* the project stage's fit, while it runs */
	char *outdir;       /* [output] dir */
	char *staging;      /* staging folder while a run writes, else NULL */
	char **staged;      /* names written into staging */
	size_t nstaged, staged_cap;
	struct staged_sum *sums; /* what outdir_settle found (pipeline/outdir.h) */
	size_t nsums, sums_cap;
	int stage;          /* index of the stage being run, for timing */
	/* The output folder (pipeline/outdir.h) and what the previous run
	 * left (pipeline/cache.h); the driver owns them. */
	char *run_id;       /* this run's id, YYYYMMDDTHHMMSSZ-PID */
	int lockfd;         /* the held .lock, or -1 */
	char *cur_set;      /* OUTDIR/sets/ID `current` named at the start, or NULL */
	/* cache_config_hash of ctx->cfg with analysis = 0, 1, 2, and the
	 * analysis text (cache_config_text, 1: it holds the stop-word and
	 * boilerplate files' hashes), taken once by cache_hash_config: a run
	 * takes them before its stages load those files (ctx_run), so the
	 * manifest, cache.idx, cache.key and the comparison with the last
	 * cache all name one config, the one read, even if a list file is
	 * edited while the run goes on.  (An edit between this and the
	 * stages' own read, microseconds later, is not caught.) */
	uint64_t config_hash[3];
	struct strbuf config_text;
	int config_hashed;
	struct cache *cache;    /* the previous run's cache, or NULL */
	int owns_cache;         /* 1 in the ctx that loaded it (read shards
				   borrow it) */
	struct plan {           /* what read_plan found */
		int done;
		size_t fresh, changed, same, removed;
		size_t reread;  /* of the same: read again all the same (gzip
				   files whose inflated length the cache
				   lacks, read_plan) */
		uint64_t dead;  /* the length of the files whose records
				   are superseded (struct cache's dead,
				   this run's included) */
		int rebuild;    /* the cache is mostly dead: read everything */
		int unchanged;  /* the listing matched cache.key: nothing new,
				   and ctx->cache was not loaded */
		char *why;      /* why the previous run's cache could not serve
				   at all (damaged, another version), or NULL;
				   owned */
	} plan;
	struct newcache *ncache; /* what this run adds to the cache, or NULL */
};

struct stage {
	const char *name;
	const char *help;
	int (*init)(struct ctx *ctx, struct pl_error *err);
	int (*unit)(struct ctx *ctx, struct unit *u, struct pl_error *err);
	int (*run)(struct ctx *ctx, struct pl_error *err);
	/* Optional: a stage whose run started work on a thread of its own,
	 * beside the later stages, completes it here (waits, writes its
	 * outputs).  The driver calls every finish hook, in stage order,
	 * after the last stage's run and the cache index; a run that fails
	 * before that leaves the thread to the release hook, which must wait
	 * for it.  Such work may only read what the earlier stages made and
	 * write its own state: the project stage's fit (stages/project.c). */
	int (*finish)(struct ctx *ctx, struct pl_error *err);
	void (*release)(struct ctx *ctx);
	int analysis;       /* part of text analysis: also run on config text */
};

extern const struct stage stage_read, stage_tokenize, stage_stem,
	stage_phrases, stage_vocabulary, stage_frames, stage_counts,
	stage_tfidf, stage_kmeans, stage_project, stage_summary, stage_write;

/* The chain, NULL-terminated, in run order (pipeline/stages.c). */
extern const struct stage *const stages[];

/* Run every later stage's unit hook on u (called by the read stage for each
 * unit).  0 or -1. */
int stages_unit(struct ctx *ctx, struct unit *u, struct pl_error *err);
/* Run only the analysis hooks (tokenize, stem, phrases) on config text and
 * leave the stems in u->tok.  0 or -1. */
int stages_analyze(struct ctx *ctx, struct unit *u, struct pl_error *err);

void ctx_init(struct ctx *ctx, const struct config *cfg);
/* Initialise every stage (validates the whole config, reads list files)
 * without reading the corpus; `pipeline check` stops here, and each read
 * thread's shard starts here.  0 or -1. */
int ctx_prepare(struct ctx *ctx, struct pl_error *err);
/* Runs every stage in order; 0 or -1. */
int ctx_run(struct ctx *ctx, struct pl_error *err);
void ctx_release(struct ctx *ctx);

/* The weighting a run uses: [tfidf] tf, idf and norm, or what `preset`
 * stands for; indices into the choices of those keys (stages/tfidf.c). */
struct tfidf_weighting {
	int tf, idf, norm;
};
struct tfidf_weighting tfidf_weighting_of(const struct config *cfg);
/* Its tf, idf and norm as the config writes them ("raw", "smooth", ...). */
void tfidf_weighting_names(const struct config *cfg, char tf[16], char idf[16],
			   char norm[16]);
/* 1 when the run writes tfidf.mtx.gz ([output] tfidf_matrix = yes); with
 * no, the weights are published only as their factors (stages/tfidf.c). */
int tfidf_matrix_written(const struct config *cfg);
/* Write ctx->tfidf's rows and columns as tfidf.mtx.gz with the double
 * weights `real` gives, and the weighting in its comment lines; the tfidf
 * stage does it before keeping the weights in single precision.  0 or -1
 * (stages/tfidf.c). */
struct mtx_real;
int tfidf_write(struct ctx *ctx, const struct mtx_real *real,
		struct pl_error *err);

/* Phrases (stages/phrases.c): add a form (a sequence of stem ids) of the
 * phrase term `name`; tokenize and stem config text with stop words kept.
 * Both 0 or -1; the frames stage uses them for multi-word frame entries. */
int phraser_add(struct ctx *ctx, const char *name, const uint32_t *seq,
		size_t len, struct pl_error *err);
int phrases_analyze_form(struct ctx *ctx, const char *text, struct unit *u,
			 struct pl_error *err);
/* Does a counted statement's token stream need its stop words after
 * tokenizing?  Only to match phrase forms, which may hold them: the
 * phrases stage drops every other one.  Asked once the stages are set
 * up; with no form, the tokenizer leaves out the stop words it knows. */
int phrases_need_stop_words(const struct ctx *ctx);

/* Shared helpers (stages/common.c). */
int tokens_push(struct tokens *t, uint32_t surf, uint32_t stem);
void tokens_release(struct tokens *t);
/* Intern into the surface and stem tables, growing their side arrays. */
int surfaces_intern(struct surfaces *s, const char *str, size_t len,
		    uint32_t *id, int *added);
/* The same with h = (uint32_t)pl_hash(str, len) already computed. */
int surfaces_intern_hash(struct surfaces *s, const char *str, size_t len,
			 uint32_t h, uint32_t *id, int *added);
int stems_intern(struct stems *s, const char *str, size_t len, int kind,
		 uint32_t *id);
int stems_intern_hash(struct stems *s, const char *str, size_t len, uint32_t h,
		      int kind, uint32_t *id);
/* Room in term[] and kind[] for n stems.  0 or -1 (out of memory). */
int stems_reserve(struct stems *s, size_t n);
/* Merging a shard (a ctx that analysed a contiguous run of files in a
 * thread) into the main ctx, in file order, so that every id comes out as
 * one pass over all the files would give it.  Each fills map[src id] =
 * dst id; all 0 or -1 (out of memory).  vocabulary_merge reads
 * term_stem[src term id] = the dst stem id of the term's stem (ID_NONE for
 * none: a damaged shard). */
int stems_merge(struct stems *dst, const struct stems *src, uint32_t *map);
int surfaces_merge(struct surfaces *dst, const struct surfaces *src,
		   const uint32_t *map_stem, uint32_t *map);
int vocabulary_merge(struct ctx *dst, struct ctx *src, const uint32_t *map_surf,
		     const uint32_t *term_stem, struct pl_error *err);
/* The vocabulary stage's side doors, for the cache (pipeline/cache.c):
 *  - vocabulary_file_begin: start counting a file's own surface and phrase
 *    counts (word surfaces and (term, surface) phrase pairs);
 *  - vocabulary_file_stats: those counts since vocabulary_file_begin, sorted
 *    by id: surf[i] was counted scount[i] times; pairs[j] is term << 32 |
 *    surface, counted scount[nsurf + j] times.  Owned by the stage, valid
 *    until its next call.  0 or -1 (out of memory);
 *  - vocabulary_preload: create the terms of `terms` (in its id order, with
 *    kinds) so they get ids 0, 1, ...; 0, -1 out of memory, -2 a repeat;
 *  - vocabulary_term: the term id of a string, created if new (ID_NONE
 *    when out of memory);
 *  - vocabulary_row: append the count row of statement `unit` (its terms in
 *    any order, each once); vocabulary_pair: add to a (term, surface) count.
 *    Both update df and cf as reading the statement would. */
void vocabulary_file_begin(struct ctx *ctx);
int vocabulary_file_stats(struct ctx *ctx, const uint32_t **surf,
			  const uint64_t **scount, size_t *nsurf,
			  const uint64_t **pairs, size_t *npairs);
int vocabulary_preload(struct ctx *ctx, const struct strtab *terms,
		       const uint8_t *kind);
uint32_t vocabulary_term(struct ctx *ctx, const char *s, size_t len, int kind);
/* The same, given s's pl_hash (truncated to 32 bits). */
uint32_t vocabulary_term_hash(struct ctx *ctx, const char *s, size_t len,
			      uint32_t h, int kind);
int vocabulary_row(struct ctx *ctx, uint32_t unit, const uint32_t *term,
		   const uint32_t *cnt, size_t n, struct pl_error *err);
int vocabulary_pair(struct ctx *ctx, uint32_t term, uint32_t surf, uint64_t n);
void surfaces_release(struct surfaces *s);
/* After the frames stage: give back the stems, the surfaces' per-id
 * arrays (not their strings) and the vocabulary stage's counter, whose
 * last reader that was (common.c).  The driver calls it. */
void ctx_shed_text_maps(struct ctx *ctx);
/* Free the vocabulary stage's counter (vocabulary.c). */
void vocabulary_counter_free(struct ctx *ctx);
void stems_release(struct stems *s);
void vocab_release(struct vocab *v);
void csr_release(struct csr *m);
/* Cut m's col and cnt arrays to n > 0 entries, giving back what lies
 * beyond; a failed shrink keeps the larger array, which is harmless.
 * m->cap follows when both shrank. */
void csr_shrink(struct csr *m, uint64_t n);
/* Cut m's rows into shares of about equal entries for up to `threads`
 * threads (at most PL_MAX_THREADS, and one per CSR_SHARE_MIN entries):
 * share t is rows [bound[t], bound[t + 1]).  Returns the number of
 * shares. */
#define CSR_SHARE_MIN 65536
size_t csr_shares(const struct csr *m, long threads,
		  size_t bound[PL_MAX_THREADS + 1]);
/* The same for rows [begin, end) of m: bound[0] = begin (one empty share
 * when begin == end). */
size_t csr_shares_of(const struct csr *m, size_t begin, size_t end, long threads,
		     size_t bound[PL_MAX_THREADS + 1]);
void files_release(struct files *f);
/* The batches a digest-only listing kept (read.c; files_release calls it). */
void files_release_kept(struct files *f);
void units_release(struct units *u);
void clustering_release(struct clustering *c);
void frames_release(struct frames *f);

/*
 * Output files.  Stages write through these into a staging folder inside
 * the output folder; the driver publishes the set (rename into place) only
 * after every stage succeeded, so a failed or killed run never leaves a
 * half-written file under a final name.
 */
struct outfile {
	char *tmp;          /* path in the staging folder (owned) */
	struct gzw *gz;     /* gzip writer (pipeline/gz.h), else NULL */
	int fd;             /* the gzip file, while gz is set */
	FILE *fp;           /* plain file, else NULL */
	struct strbuf buf;  /* a plain file's pending bytes, flushed in large
			     * blocks */
};

/* A staged file already synced to disk, with its size and XXH3-128, so
 * that manifest.tsv need not read it again (pipeline/outdir.c). */
struct staged_sum {
	const char *name;   /* the ctx->staged string it is of */
	uint64_t size;
	char hex[33];
};

/* Open `name` (e.g. "docs.tsv", "tfidf.mtx.gz") for writing; gzip when the
 * name ends in ".gz": independent members compressed in threads, which
 * refer to `of`, so an open outfile must not be moved or copied.  0 or -1
 * (PL_EX_CANTCREAT, PL_EX_OSERR); after a failure `of` holds nothing
 * (out_close on it is harmless). */
int out_open(struct ctx *ctx, const char *name, struct outfile *of,
	     struct pl_error *err);
/* Append bytes or formatted text; -1 on write error (PL_EX_IOERR). */
int out_write(struct outfile *of, const void *data, size_t len,
	      struct pl_error *err);
int out_printf(struct pl_error *err, struct outfile *of, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Create the output folder (not its parents) unless it is there.  0 or
 * -1 (PL_EX_CANTCREAT, also when the path is not a folder). */
int out_make_dir(const char *outdir, struct pl_error *err);
/* out_open, out_write and out_close of a whole buffer.  0 or -1. */
int out_file(struct ctx *ctx, const char *name, const void *data, size_t len,
	     struct pl_error *err);
/* Forget the names staged so far (ctx->staged); allocates nothing. */
void out_staged_release(struct ctx *ctx);
/* Flush, start writing to disk, and close; the file stays staged.  0 or
 * -1.  Always frees what `of` holds, so it is safe to call once after any
 * failure. */
int out_close(struct outfile *of, struct pl_error *err);
/* fsync the file at `path`: what publishing does to every staged file
 * first (see common.c, "Durability").  0 or -1 (PL_EX_IOERR). */
int out_sync_path(const char *path, struct pl_error *err);
/* A flat staging folder, for the unit tests of single stages (a run
 * publishes whole sets through pipeline/outdir.h instead): create
 * OUTDIR/.staging.PID (first removing those of dead processes); publish
 * every staged file into OUTDIR itself, rolled back on failure (see
 * common.c); or throw the staging folder away. */
int out_begin(struct ctx *ctx, struct pl_error *err);
int out_publish(struct ctx *ctx, struct pl_error *err);
void out_abandon(struct ctx *ctx);
/* I/O fault injection for tests, like pl_alloc_fail_at: the output
 * operation numbered `n` (1-based, counted from this call) fails with
 * errno `err_no`.  Counted: out_open's open, each write (a plain file's
 * flush, each gzip member), out_close's start of writeback, each close,
 * each out_sync_path fsync, out_publish's backup links and renames and
 * its folder fsync.  n = 0 switches it off.
 * Returns the number of operations since the previous call. */
unsigned long pl_io_fail_at(unsigned long n, int err_no);

/* The values of a "real" matrix as write_mtx takes them: entry e, in row
 * r, is at(arg, r, e).  The rows come in order, on the calling thread. */
struct mtx_real {
	double (*at)(const void *arg, size_t r, uint64_t e);
	const void *arg;
};

/* Row-aligned places in a gzip matrix file that write_mtx cut it at:
 * a gzip member starts at byte off[i] with the line of row row[i]
 * (0-based), and hash[i] is the XXH64 of bytes [off[i], off[i + 1]) (the
 * last: to `size`).  Cut 0 is row 0, right after the header, which is a
 * member of its own.  `every`: bytes of text between cuts, 0 for the
 * default (half a gzip chunk); set by the caller. */
struct mtx_cuts {
	uint64_t *row, *off, *hash;
	size_t n, cap;
	uint64_t size;      /* bytes of the file */
	uint64_t nrows;     /* rows of the matrix */
	uint64_t every;
};

/* Free c's arrays and zero it. */
void mtx_cuts_release(struct mtx_cuts *c);

/* Rows [0, rows) of a matrix as an earlier version of its file has them:
 * the complete gzip members from that file's cut 0 to its cut of row
 * `rows` (bytes [off[0], end) of the open file fd), and that file's cuts
 * before row `rows` (row[], off[], hash[]; ncuts of them), which the new
 * file keeps with the same bytes. */
struct mtx_prefix {
	int fd;
	const char *path;   /* for messages */
	uint64_t end, rows;
	const uint64_t *row, *off, *hash;
	size_t ncuts;
};

/* Write matrix m as the Matrix Market file `name` (gzip when it ends in
 * .gz): "integer" with m->cnt when `real` is NULL, else "real" with the
 * values `real` gives in "%.17g"; `comment` holds the lines after the
 * banner, each starting with "%".  Checks the shape (units x terms,
 * columns ascending in each row): PL_EX_SOFTWARE.  With `cuts` (NULL for
 * none) a gzip file is cut at row ends and the cuts recorded there; with
 * `prev` as well, rows [0, prev->rows), which the caller knows to be the
 * same, are the earlier file's bytes, copied, and only the rows after are
 * formatted and compressed.  The text is the same either way.  0 or -1
 * (write.c). */
int write_mtx(struct ctx *ctx, const char *name, const char *comment,
	      const struct csr *m, const struct mtx_real *real,
	      const struct mtx_prefix *prev, struct mtx_cuts *cuts,
	      struct pl_error *err);

/* Read a whole corpus file into sb (replacing its contents), up to
 * `limit` bytes: *.gz files are decompressed, and the limit applies to the
 * decompressed bytes; other files are read as they are.  0, or -1 with
 * PL_EX_NOINPUT (cannot open), PL_EX_IOERR, PL_EX_DATAERR (corrupt gzip,
 * over the limit) or PL_EX_OSERR (read.c). */
int read_file_bytes(const char *path, uint64_t limit, struct strbuf *sb,
		    struct pl_error *err);

/* The text of unit `id`, re-read from its file (for snippets).  The caller
 * owns *text.  0 or -1 (read.c). */
int read_unit_text(struct ctx *ctx, uint32_t id, char **text, size_t *len,
		   struct pl_error *err);

/* The display form of a term: its most frequent surface, or for n-grams
 * the display forms of its parts joined by spaces.  Appends to sb. */
int term_display(const struct ctx *ctx, uint32_t term, struct strbuf *sb);

/* The id the outputs show for cluster c (0-based, ctx->km's numbering). */
static inline uint32_t cluster_id(const struct clustering *km, int32_t c)
{
	return km->label ? km->label[c] : (uint32_t)c + 1;
}

/* List the corpus into ctx->files once (unsorted until read_plan), with
 * each file's stat data: one thread reads the folders, the others of [run]
 * threads stat the files it finds.  0 or -1 (read.c). */
int read_list(struct ctx *ctx, struct pl_error *err);
/* The same walk and stat calls, keeping only files.n and files.digest
 * (what cache.key is compared with), and each folder's names and stat data
 * (files.kept): none of the listing's arrays, which for a large corpus are
 * megabytes of fresh memory.  A read_list after it builds the listing from
 * what it kept.  0 or -1 (read.c). */
int read_list_digest(struct ctx *ctx, struct pl_error *err);
/* List the corpus and compare each file with ctx->cache (when there is
 * one): sets files.info[i].cached/old and ctx->plan.  Hashes the files
 * whose stat data cannot prove them unchanged.  0 or -1 (read.c). */
int read_plan(struct ctx *ctx, struct pl_error *err);
/* Check the cache segments the plan replays (their XXH64); the files of a
 * damaged one are read again instead (said on stderr).  0 or -1 (out of
 * memory).  Run it when there is work to do: a run with nothing new does
 * not need the segments. */
int read_check_cache(struct ctx *ctx, struct pl_error *err);

/* The id of the set `current` named when the run began (the previous
 * run's), or NULL: the last part of ctx->cur_set (common.c). */
const char *ctx_prev_id(const struct ctx *ctx);

/* The file libstemmer was loaded from (the shared object that holds
 * sb_stemmer_new; the program itself when linked statically), or NULL
 * (stem.c).  libstemmer exports no version, and a new one (new Snowball
 * rules) changes the stems, so the cache's config text carries this
 * file's hash instead. */
const char *stem_library_path(void);

/* Statements (read.c): append one to ctx->units; 0 or -1 (out of memory). */
int units_add(struct ctx *ctx, uint32_t file, uint32_t para, uint32_t line);

#endif
