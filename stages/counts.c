/* counts.c -- write counts.mtx.gz
 *
 * In: ctx->counts (the vocabulary stage's matrix).  Out: counts.mtx.gz,
 * Matrix Market coordinate integer, statements x terms, the occurrences of
 * every term, kept or not (output/README.md).
 *
 * Its own stage, run just before TF-IDF, because the TF-IDF stage turns
 * the counts into the weights in place (stages/tfidf.c): the counts
 * matrix and the TF-IDF matrix are never in memory together.  Its time is
 * not part of run.json's wall_seconds.to_tfidf.
 *
 * A rerun does not format and compress again what it wrote last time.
 * Rows follow the files in path order and a term keeps its column, so the
 * rows of the files before the first new, changed or removed one (in
 * path order) are line for line those of the previous counts.mtx.gz.  The
 * file is cut into gzip members at row ends (write_mtx), and
 * cache-counts.idx, beside the cache, records where: a rerun copies the
 * previous file's members up to the last cut before the first changed
 * row, as they are, behind a new header member, and formats only the rows
 * after it.  A corpus that grows at the end of path order (dated file
 * names, a folder per day) so rewrites only its new rows.
 *
 * cache-counts.idx is written and read by pipeline/cache.c (its format is
 * in cache.h).  A cut whose bytes do not hash as recorded, or an index
 * that does not match its file or the cache, is not used: the run writes
 * the whole file, as a first run does.
 */
#include "stages.h"
#include "../pipeline/cache.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Rows [0, n) of this run are those of the previous run: the rows of the
 * files before the first one that is not the previous run's file at the
 * same place in path order, unchanged. */
static uint64_t rows_unchanged(const struct ctx *ctx)
{
	const struct cache *c = ctx->cache;
	size_t i;

	if (!c || ctx->plan.rebuild)
		return 0;
	for (i = 0; i < ctx->files.n && i < c->nfiles; i++)
		if (ctx->files.info[i].cached != i)
			break;
	return i < c->nfiles ? c->files[i].unit0 : c->nunits;
}

/* The previous run's cuts and file, while they serve this run. */
struct previous {
	struct mtx_cuts cuts;
	int fd;             /* the previous counts.mtx.gz, or -1 */
	struct strbuf path;
};

static void previous_release(struct previous *p)
{
	if (p->fd >= 0)
		close(p->fd);
	strbuf_release(&p->path);
	mtx_cuts_release(&p->cuts);
	memset(p, 0, sizeof(*p));
	p->fd = -1;
}

/* When the previous run's cuts and file can serve: *prev filled (its
 * arrays and file held in *p, which the caller releases), 1; 0 when there
 * is nothing to reuse.  Never fails: what cannot be used is written again
 * (said with -v). */
static int previous_prefix(struct ctx *ctx, struct previous *p,
			   struct mtx_prefix *prev)
{
	struct mtx_cuts *c = &p->cuts;
	struct stat st;
	uint64_t r0 = rows_unchanged(ctx);
	const char *why = NULL;
	size_t m;

	memset(p, 0, sizeof(*p));
	p->fd = -1;
	if (r0 == 0 || !ctx->cur_set)
		return 0;
	if (!cache_read_cuts(ctx->cur_set, c, &why))
		goto none;
	if (c->nrows != ctx->cache->nunits) {
		why = "cache-counts.idx does not match the cache";
		goto none;
	}
	/* The last cut at or before the first changed row. */
	for (m = 0; m + 1 < c->n && c->row[m + 1] <= r0; m++)
		;
	if (c->row[m] == 0) {
		why = "no cut before the first change";
		goto none;
	}
	if (strbuf_addf(&p->path, "%s/counts.mtx.gz", ctx->cur_set) ||
	    (p->fd = open(p->path.buf, O_RDONLY | O_CLOEXEC)) < 0 ||
	    fstat(p->fd, &st) != 0 || (uint64_t)st.st_size != c->size) {
		why = "counts.mtx.gz is not the one cache-counts.idx describes";
		goto none;
	}
	for (size_t i = 0; i < m; i++) {
		uint64_t h;

		if (pl_hash_range(p->fd, c->off[i], c->off[i + 1] - c->off[i], &h) ||
		    h != c->hash[i]) {
			why = "counts.mtx.gz has changed since it was written";
			goto none;
		}
	}
	prev->fd = p->fd;
	prev->path = p->path.buf;
	prev->end = c->off[m];
	prev->rows = c->row[m];
	prev->row = c->row;
	prev->off = c->off;
	prev->hash = c->hash;
	prev->ncuts = m;
	if (ctx->verbose)
		fprintf(stderr, "pipeline: counts: rows 1 to %llu as the last run wrote them\n",
			(unsigned long long)prev->rows);
	return 1;
none:
	if (ctx->verbose && why)
		fprintf(stderr, "pipeline: counts: writing every row (%s)\n", why);
	previous_release(p);
	return 0;
}

static int counts_run(struct ctx *ctx, struct pl_error *err)
{
	static const char comment[] =
		"% rows: statements; row i is statement i of docs.tsv\n"
		"% columns: terms; column j is term j of terms.tsv.gz\n"
		"% values: occurrences of the term in the statement, every term kept or not\n";
	int incremental = ctx->cfg->v[CFG_output_incremental].i == 0;
	struct mtx_cuts cuts;
	struct mtx_prefix prev;
	struct previous p;
	const char *every = getenv("PIPELINE_TEST_CUT_BYTES");
	int have, rc;

	if (!incremental)
		return write_mtx(ctx, "counts.mtx.gz", comment, &ctx->counts,
				 NULL, NULL, NULL, err);
	memset(&cuts, 0, sizeof(cuts));
	/* Tests cut small corpora often enough to reuse something. */
	if (every)
		cuts.every = strtoull(every, NULL, 10);
	have = previous_prefix(ctx, &p, &prev);
	rc = write_mtx(ctx, "counts.mtx.gz", comment, &ctx->counts, NULL,
		       have ? &prev : NULL, &cuts, err);
	previous_release(&p);
	if (rc == 0 && cuts.n)
		rc = cache_write_cuts(ctx, &cuts, err);
	mtx_cuts_release(&cuts);
	return rc;
}

const struct stage stage_counts = {
	.name = "counts",
	.help = "write counts.mtx.gz (before TF-IDF reuses the counts' memory); "
		"a rerun copies the rows it wrote last time",
	.run = counts_run,
};
