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
 * cache-counts.idx (little-endian): "PLCUTS1\n", then u64 size of
 * counts.mtx.gz, u64 rows, u64 n, then n cuts of (u64 row, u64 offset,
 * u64 XXH64 of the bytes up to the next cut or the end), then the XXH64
 * of everything before it.  A cut whose bytes do not hash as recorded, or
 * an index that does not match its file or the cache, is not used: the
 * run writes the whole file, as a first run does.
 */
#include "stages.h"
#include "../pipeline/cache.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CUTS_NAME "cache-counts.idx"
#define CUTS_MAGIC "PLCUTS1\n"

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

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* The previous run's cuts and file, while they serve this run. */
struct previous {
	uint8_t *idx;
	uint64_t idx_size;
	int fd;             /* the previous counts.mtx.gz, or -1 */
	struct strbuf path;
	uint64_t *row, *off;
};

static void previous_release(struct previous *p)
{
	pl_unmap_file(p->idx, p->idx_size);
	if (p->fd >= 0)
		close(p->fd);
	strbuf_release(&p->path);
	pl_free(p->row);
	pl_free(p->off);
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
	struct strbuf *path = &p->path;
	struct pl_error e;
	struct stat st;
	uint64_t size, nrows, n, r0 = rows_unchanged(ctx);
	const char *why = NULL;
	size_t m;

	memset(p, 0, sizeof(*p));
	p->fd = -1;
	if (r0 == 0 || !ctx->cur_set)
		return 0;
	if (strbuf_addf(path, "%s/" CUTS_NAME, ctx->cur_set) ||
	    pl_map_file(path->buf, &p->idx, &p->idx_size, &e)) {
		why = "no " CUTS_NAME;
		goto none;
	}
	if (p->idx_size < 48 || memcmp(p->idx, CUTS_MAGIC, 8) != 0 ||
	    get64(p->idx + p->idx_size - 8) != XXH64(p->idx, p->idx_size - 8, 0)) {
		why = CUTS_NAME " is damaged";
		goto none;
	}
	size = get64(p->idx + 8);
	nrows = get64(p->idx + 16);
	n = get64(p->idx + 24);
	if (n == 0 || n > (p->idx_size - 40) / 24 || 40 + n * 24 != p->idx_size ||
	    nrows != ctx->cache->nunits) {
		why = CUTS_NAME " does not match the cache";
		goto none;
	}
	p->row = pl_malloc(n * sizeof(*p->row));
	p->off = pl_malloc(n * sizeof(*p->off));
	if (!p->row || !p->off) {
		why = "out of memory";
		goto none;
	}
	for (uint64_t i = 0; i < n; i++) {
		p->row[i] = get64(p->idx + 32 + 24 * i);
		p->off[i] = get64(p->idx + 32 + 24 * i + 8);
		if ((i > 0 && (p->row[i] <= p->row[i - 1] || p->off[i] <= p->off[i - 1])) ||
		    p->off[i] > size || p->row[i] > nrows) {
			why = CUTS_NAME " is damaged";
			goto none;
		}
	}
	/* The last cut at or before the first changed row. */
	for (m = 0; m + 1 < n && p->row[m + 1] <= r0; m++)
		;
	if (p->row[m] == 0) {
		why = "no cut before the first change";
		goto none;
	}
	strbuf_reset(path);
	if (strbuf_addf(path, "%s/counts.mtx.gz", ctx->cur_set) ||
	    (p->fd = open(path->buf, O_RDONLY | O_CLOEXEC)) < 0 ||
	    fstat(p->fd, &st) != 0 || (uint64_t)st.st_size != size) {
		why = "counts.mtx.gz is not the one " CUTS_NAME " describes";
		goto none;
	}
	for (size_t i = 0; i < m; i++) {
		uint64_t h;

		if (pl_hash_range(p->fd, p->off[i], p->off[i + 1] - p->off[i], &h) ||
		    h != get64(p->idx + 32 + 24 * i + 16)) {
			why = "counts.mtx.gz has changed since it was written";
			goto none;
		}
	}
	prev->fd = p->fd;
	prev->path = path->buf;
	prev->end = p->off[m];
	prev->rows = p->row[m];
	prev->row = p->row;
	prev->off = p->off;
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

static int write_cuts(struct ctx *ctx, const struct mtx_cuts *c,
		      struct pl_error *err)
{
	size_t len = 40 + c->n * 24;
	uint8_t *buf = pl_malloc(len);
	int rc;

	if (!buf)
		return pl_oom(err);
	memcpy(buf, CUTS_MAGIC, 8);
	put64(buf + 8, c->size);
	put64(buf + 16, c->nrows);
	put64(buf + 24, c->n);
	for (size_t i = 0; i < c->n; i++) {
		put64(buf + 32 + 24 * i, c->row[i]);
		put64(buf + 32 + 24 * i + 8, c->off[i]);
		put64(buf + 32 + 24 * i + 16, c->hash[i]);
	}
	put64(buf + len - 8, XXH64(buf, len - 8, 0));
	rc = out_file(ctx, CUTS_NAME, buf, len, err);
	pl_free(buf);
	return rc;
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
		rc = write_cuts(ctx, &cuts, err);
	pl_free(cuts.row);
	pl_free(cuts.off);
	pl_free(cuts.hash);
	return rc;
}

const struct stage stage_counts = {
	.name = "counts",
	.help = "write counts.mtx.gz (before TF-IDF reuses the counts' memory); "
		"a rerun copies the rows it wrote last time",
	.run = counts_run,
};
