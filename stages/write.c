/* write.c -- the matrices, the term list and the statement list
 *
 * In: the counts and TF-IDF matrices, the vocabulary, the units and the
 * clustering held by struct ctx.  Out, through the staged output files of
 * common.c (output/README.md documents each one for R and gnuplot users):
 *
 *   tfidf.mtx.gz   Matrix Market coordinate real: statements x terms, the
 *                  TF-IDF weights (only kept terms have entries)
 *   counts.mtx.gz  Matrix Market coordinate integer: statements x terms,
 *                  occurrences of every term, kept or not
 *   terms.tsv.gz   one line per term; line j (after the header) describes
 *                  matrix column j
 *   docs.tsv       one line per statement; line i (after the header)
 *                  describes matrix row i
 *
 * The two matrices are written through write_mtx() by the stages that
 * hold them at their fullest: counts.mtx.gz by the counts stage
 * (stages/counts.c), tfidf.mtx.gz by the tfidf stage before it keeps the
 * weights in single precision; this stage writes the two lists.
 *
 * Every matrix has one column per term, pruned or not, so a column means the
 * same term whatever min_df/max_df/max_features say.  Real values are
 * written with "%.17g", which reads back to the identical double.
 *
 * TSV text fields escape backslash, tab, newline and carriage return as the
 * two-character sequences \\ \t \n \r; nothing else is quoted or escaped.
 *
 * The matrices may hold tens of millions of entries, so their lines are
 * formatted by hand into a 64 KiB buffer handed to out_write() a block at a
 * time: numbers two digits at a time, each row's "row " once, and weights
 * in the usual TF-IDF range get an exact "%.17g" from integer arithmetic
 * (put_g17) instead of snprintf(), which is the slow part of printing a
 * double.  Compression, most of the work, runs in the gzip writer's
 * threads (pipeline/gz.h) while the lines are being formatted.
 */
#include "stages.h"

#include <inttypes.h>
#include <math.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "../pipeline/gz.h"

/* Lines are collected here and written a block at a time. */
#define BLOCK_BYTES (1u << 16)

/* Room a matrix line needs: two 20-digit integers, a %.17g number (at
 * most 24 bytes, 32 reserved), two spaces and a newline. */
#define LINE_MAX_BYTES 80

/* The 8 digits of v < 10^8, leading zeros included, at d. */
static void put_8digits(char *d, uint32_t v)
{
	uint32_t hi = v / 10000, lo = v % 10000;

	memcpy(d, pl_digit_pairs + 2 * (hi / 100), 2);
	memcpy(d + 2, pl_digit_pairs + 2 * (hi % 100), 2);
	memcpy(d + 4, pl_digit_pairs + 2 * (lo / 100), 2);
	memcpy(d + 6, pl_digit_pairs + 2 * (lo % 100), 2);
}

#ifdef __SIZEOF_INT128__
__extension__ typedef unsigned __int128 u128;

/* v * 10^k rounded half to even, for v = m * 2^-s exactly (0 < s < 128,
 * k <= 21, so m * 10^k < 2^123 fits). */
static uint64_t scaled(uint64_t m, int s, int k)
{
	static const uint64_t p10[20] = {
		1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull, 1000000ull,
		10000000ull, 100000000ull, 1000000000ull, 10000000000ull,
		100000000000ull, 1000000000000ull, 10000000000000ull,
		100000000000000ull, 1000000000000000ull, 10000000000000000ull,
		100000000000000000ull, 1000000000000000000ull,
		10000000000000000000ull
	};
	u128 p = (u128)m * p10[k < 19 ? k : 19], q, r, half;

	if (k > 19)
		p *= p10[k - 19];
	q = p >> s;
	r = p & (((u128)1 << s) - 1);
	half = (u128)1 << (s - 1);
	if (r > half || (r == half && (q & 1)))
		q++;
	return (uint64_t)q;
}

/* The bytes snprintf("%.17g") writes, for 1e-4 <= v < 1e4 (where %.17g
 * uses fixed notation), about seven times faster: the 17 significant
 * digits come from exact integer arithmetic with the same rounding (half
 * to even on the exact binary value).  Returns the end, or NULL when v is
 * outside that range. */
static char *put_g17_fast(char *p, double v)
{
	static const double p10[] = { 1e-4, 1e-3, 1e-2, 1e-1, 1, 1e1, 1e2, 1e3 };
	uint64_t bits, m, n;
	int s, x, k, nd;
	char d[17];

	if (!(v >= 1e-4 && v < 1e4))
		return NULL;
	memcpy(&bits, &v, sizeof(bits));
	m = (bits & ((1ull << 52) - 1)) | (1ull << 52);
	s = 1075 - (int)((bits >> 52) & 0x7ff);      /* v = m * 2^-s, s > 0 */
	for (x = -4; x < 3 && v >= p10[x + 5]; x++)   /* x = floor(log10 v) */
		;
	k = 16 - x;
	n = scaled(m, s, k);
	if (n >= 100000000000000000ull) {             /* rounded up to 10^17 */
		x++;
		k--;
		n = scaled(m, s, k);
	} else if (n < 10000000000000000ull) {
		x--;
		k++;
		n = scaled(m, s, k);
	}
	/* n < 10^17: one digit, then two groups of 8 */
	d[0] = (char)('0' + n / 10000000000000000ull);
	n %= 10000000000000000ull;
	put_8digits(d + 1, (uint32_t)(n / 100000000));
	put_8digits(d + 9, (uint32_t)(n % 100000000));
	for (nd = 17; nd > 1 && d[nd - 1] == '0'; nd--)
		;
	if (x < 0) {
		*p++ = '0';
		*p++ = '.';
		for (int i = 0; i < -x - 1; i++)
			*p++ = '0';
		memcpy(p, d, (size_t)nd);
		return p + nd;
	}
	memcpy(p, d, (size_t)x + 1);
	p += x + 1;
	if (nd > x + 1) {
		*p++ = '.';
		memcpy(p, d + x + 1, (size_t)(nd - x - 1));
		p += nd - x - 1;
	}
	return p;
}
#else
static char *put_g17_fast(char *p, double v)
{
	(void)p;
	(void)v;
	return NULL;
}
#endif

/* Write v as "%.17g" at p (room for 32 bytes); returns the end. */
static char *put_g17(char *p, double v)
{
	char *end = put_g17_fast(p, v);
	int n;

	if (end)
		return end;
	n = snprintf(p, 32, "%.17g", v);
	return p + (n > 0 && n < 32 ? n : 0);
}


/* Append v as "%.17g" to sb.  0 or -1 (out of memory). */
static int put_g17_buf(struct strbuf *sb, double v)
{
	char num[32];

	return strbuf_add(sb, num, (size_t)(put_g17(num, v) - num));
}

/* Check that m has the shape the files promise: one row per unit, one
 * column per term, columns ascending within each row. */
static int check_matrix(const struct ctx *ctx, const char *name,
			const struct csr *m, struct pl_error *err)
{
	if (m->nrows != ctx->units.n || m->ncols != ctx->vocab.tab.n)
		return pl_fail(err, PL_EX_SOFTWARE,
			       "%s: matrix is %zu x %zu, expected %zu x %zu", name,
			       m->nrows, m->ncols, ctx->units.n, ctx->vocab.tab.n);
	if (m->nrows && !m->rowptr)
		return pl_fail(err, PL_EX_SOFTWARE, "%s: matrix has no rows", name);
	for (size_t u = 0; u < m->nrows; u++) {
		for (uint64_t e = m->rowptr[u]; e < m->rowptr[u + 1]; e++) {
			if (m->col[e] >= m->ncols ||
			    (e > m->rowptr[u] && m->col[e] <= m->col[e - 1]))
				return pl_fail(err, PL_EX_SOFTWARE,
					       "%s: row %zu: columns out of order",
					       name, u + 1);
		}
	}
	return 0;
}

/* Record a cut: row `row` starts `delta` bytes into the member numbered
 * `member` (write_mtx turns that into a byte offset at the end; the
 * delta waits in hash[] until then). */
static int cut_add(struct mtx_cuts *c, uint64_t row, uint64_t member,
		   uint64_t delta, struct pl_error *err)
{
	if (c->n == c->cap) {
		size_t a = c->cap, b = c->cap, d = c->cap;

		if (pl_grow(&c->row, &a, c->n + 1, sizeof(*c->row)) ||
		    pl_grow(&c->off, &b, c->n + 1, sizeof(*c->off)) ||
		    pl_grow(&c->hash, &d, c->n + 1, sizeof(*c->hash)))
			return pl_oom(err);
		c->cap = a < b ? (a < d ? a : d) : (b < d ? b : d);
	}
	c->row[c->n] = row;
	c->off[c->n] = member;
	c->hash[c->n] = delta;
	c->n++;
	return 0;
}

/* Write m's entries from row `from` on to `of`, one "row column value"
 * line each, 1-based: counts (`cnt`) when `real` is NULL, else the values
 * it gives.  With `cuts` (a gzip file), a member starts at the first row
 * end `every` bytes of text after the last cut, and each such cut is
 * recorded (by member number).  0 or -1. */
static int mtx_body(struct outfile *of, const char *name, const struct csr *m,
		    size_t from, const struct mtx_real *real,
		    struct mtx_cuts *cuts, uint64_t every, struct pl_error *err)
{
	char *blk = pl_malloc(BLOCK_BYTES), *p;
	uint64_t flushed = 0, start = 0; /* text bytes written; where the
					    current member began */
	int rc = -1;

	if (!blk)
		return pl_oom(err);
	p = blk;
	for (size_t u = from; u < m->nrows; u++) {
		if (cuts && u > from) {
			uint64_t at = flushed + (uint64_t)(p - blk);

			/* The writer starts a member every GZW_CHUNK bytes
			 * after the last cut on its own. */
			start += (at - start) / GZW_CHUNK * GZW_CHUNK;
			if (at - start >= every) {
				if (out_write(of, blk, (size_t)(p - blk), err) ||
				    gzw_cut(of->gz, err) ||
				    cut_add(cuts, u, gzw_members(of->gz), 0, err))
					goto out;
				flushed = start = at;
				p = blk;
			}
		}
		/* "row " is the same on every line of the row; it is copied
		 * whole (24 bytes, fewer used) since lines have room. */
		char row[24] = { 0 };
		size_t rowlen = (size_t)(pl_put_u64(row, (uint64_t)u + 1) - row);

		row[rowlen++] = ' ';
		for (uint64_t e = m->rowptr[u]; e < m->rowptr[u + 1]; e++) {
			if ((size_t)(p - blk) + LINE_MAX_BYTES > BLOCK_BYTES) {
				if (out_write(of, blk, (size_t)(p - blk), err))
					goto out;
				flushed += (uint64_t)(p - blk);
				p = blk;
			}
			memcpy(p, row, sizeof(row));
			p += rowlen;
			p = pl_put_u64(p, (uint64_t)m->col[e] + 1);
			*p++ = ' ';
			if (!real) {
				p = pl_put_u64(p, m->cnt[e]);
			} else {
				double v = real->at(real->arg, u, e);

				if (!isfinite(v)) {
					pl_fail(err, PL_EX_SOFTWARE,
						"%s: row %zu: weight is not a finite number",
						name, u + 1);
					goto out;
				}
				p = put_g17(p, v);
			}
			*p++ = '\n';
		}
	}
	if (p > blk && out_write(of, blk, (size_t)(p - blk), err))
		goto out;
	rc = 0;
out:
	pl_free(blk);
	return rc;
}

/* Once every member is written: the cuts' (member, delta) become byte
 * offsets, from the members' sizes. */
static void cuts_place(const struct gzw *gz, struct mtx_cuts *c, size_t nrows)
{
	const uint64_t *size = gzw_member_sizes(gz);
	uint64_t n = gzw_members(gz), at = 0, k = 0;

	for (size_t i = 0; i < c->n; i++) {
		for (; k < c->off[i] && k < n; k++)
			at += size[k];
		c->off[i] = at + c->hash[i];
	}
	for (; k < n; k++)
		at += size[k];
	c->size = at;
	c->nrows = nrows;
}

void mtx_cuts_release(struct mtx_cuts *c)
{
	pl_free(c->row);
	pl_free(c->off);
	pl_free(c->hash);
	memset(c, 0, sizeof(*c));
}

/* Each stretch between two cuts from cut `from` on gets its XXH64, read
 * back from the written file `path` (those before are copied bytes whose
 * hashes are known).  0 or -1. */
static int cuts_hash(const char *path, struct mtx_cuts *c, size_t from,
		     struct pl_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return pl_fail(err, PL_EX_IOERR, "%s: cannot open: %s", path,
			       strerror(errno));
	for (size_t i = from; rc == 0 && i < c->n; i++) {
		uint64_t end = i + 1 < c->n ? c->off[i + 1] : c->size;

		if (pl_hash_range(fd, c->off[i], end - c->off[i], &c->hash[i]))
			rc = errno == ENOMEM ? pl_oom(err) :
			     pl_fail(err, PL_EX_IOERR, "%s: reading back: %s", path,
				     strerror(errno));
	}
	close(fd);
	return rc;
}

int write_mtx(struct ctx *ctx, const char *name, const char *comment,
	      const struct csr *m, const struct mtx_real *real,
	      const struct mtx_prefix *prev, struct mtx_cuts *cuts,
	      struct pl_error *err)
{
	uint64_t nnz = m->nrows && m->rowptr ? m->rowptr[m->nrows] : 0;
	uint64_t every = cuts && cuts->every ? cuts->every : GZW_CHUNK / 2;
	struct strbuf path = STRBUF_INIT;
	size_t from = 0, known = 0; /* cuts whose stretch is copied */
	struct outfile of;
	int rc;

	memset(&of, 0, sizeof(of));
	if (check_matrix(ctx, name, m, err))
		return -1;
	rc = out_open(ctx, name, &of, err) ||
	     out_printf(err, &of, "%%%%MatrixMarket matrix coordinate %s general\n%s"
			"%zu %zu %" PRIu64 "\n", real ? "real" : "integer",
			comment, m->nrows, m->ncols, nnz) ? -1 : 0;
	if (rc == 0 && cuts && !of.gz)
		cuts = NULL; /* cuts are between gzip members */
	if (rc == 0 && cuts) {
		uint64_t raw;

		/* The header is a member of its own: it changes with every
		 * rerun, the rows before the first change do not. */
		cuts->n = 0;
		rc = gzw_cut(of.gz, err) || cut_add(cuts, 0, gzw_members(of.gz), 0, err) ? -1 : 0;
		if (rc == 0 && strbuf_addf(&path, "%s/%s", ctx->staging, name))
			rc = pl_oom(err);
		raw = gzw_members(of.gz);
		if (rc == 0 && prev && prev->rows > 0 && prev->rows <= m->nrows) {
			/* The previous file's members of rows [0, rows), as
			 * they are, and its cuts among them. */
			for (size_t i = 1; rc == 0 && i < prev->ncuts; i++)
				rc = cut_add(cuts, prev->row[i], raw,
					     prev->off[i] - prev->off[0], err);
			rc = rc || gzw_raw_begin(of.gz, err) ? -1 : 0;
			if (rc == 0 && pl_copy_range(prev->fd, prev->off[0],
						     prev->end - prev->off[0], of.fd))
				rc = errno == ENOMEM ? pl_oom(err) :
				     pl_fail(err, PL_EX_IOERR, "%s: copying from %s: %s",
					     of.tmp, prev->path, strerror(errno));
			if (rc == 0) {
				gzw_raw_end(of.gz, prev->end - prev->off[0]);
				rc = cut_add(cuts, prev->rows, gzw_members(of.gz), 0, err);
			}
			from = prev->rows;
			known = prev->ncuts;
		}
	}
	if (rc == 0)
		rc = mtx_body(&of, name, m, from, real, cuts, every, err);
	if (rc == 0 && cuts) {
		rc = gzw_finish(of.gz, err);
		if (rc == 0) {
			cuts_place(of.gz, cuts, m->nrows);
			/* Cut i < known starts the same bytes as the earlier
			 * file's cut i, up to the same next cut. */
			for (size_t i = 0; i < known; i++)
				cuts->hash[i] = prev->hash[i];
		}
	}
	if (out_close(&of, rc ? NULL : err))
		rc = -1;
	if (rc == 0 && cuts)
		rc = cuts_hash(path.buf, cuts, known, err);
	strbuf_release(&path);
	return rc;
}

static const char *kind_name(int kind)
{
	switch (kind) {
	case TERM_PHRASE: return "phrase";
	case TERM_NGRAM: return "ngram";
	default: return "word";
	}
}

static int write_terms(struct ctx *ctx, struct pl_error *err)
{
	const struct vocab *v = &ctx->vocab;
	struct strbuf line = STRBUF_INIT, disp = STRBUF_INIT;
	struct outfile of;

	memset(&of, 0, sizeof(of));
	if (out_open(ctx, "terms.tsv.gz", &of, err) ||
	    out_printf(err, &of, "id\tterm\tsurface\tkind\tdf\tcf\tidf\tkept\n"))
		goto fail;
	for (uint32_t t = 0; t < v->tab.n; t++) {
		strbuf_reset(&line);
		strbuf_reset(&disp);
		if (!isfinite(v->idf[t])) {
			pl_fail(err, PL_EX_SOFTWARE,
				"terms.tsv.gz: term %" PRIu32 ": idf is not a finite number",
				t + 1);
			goto fail;
		}
		/* id, term, surface, kind, df, cf, idf (%.17g), kept */
		if (strbuf_add_u64(&line, (uint64_t)t + 1) || strbuf_addch(&line, '\t') ||
		    strbuf_add_tsv(&line, strtab_str(&v->tab, t), strtab_len(&v->tab, t)) ||
		    strbuf_addch(&line, '\t') ||
		    term_display(ctx, t, &disp) ||
		    strbuf_add_tsv(&line, disp.buf ? disp.buf : "", disp.len) ||
		    strbuf_addch(&line, '\t') ||
		    strbuf_addstr(&line, kind_name(v->kind[t])) || strbuf_addch(&line, '\t') ||
		    strbuf_add_u64(&line, v->df[t]) || strbuf_addch(&line, '\t') ||
		    strbuf_add_u64(&line, v->cf[t]) || strbuf_addch(&line, '\t') ||
		    put_g17_buf(&line, v->idf[t]) ||
		    strbuf_addstr(&line, v->kept[t] ? "\t1\n" : "\t0\n")) {
			pl_oom(err);
			goto fail;
		}
		if (out_write(&of, line.buf, line.len, err))
			goto fail;
	}
	strbuf_release(&line);
	strbuf_release(&disp);
	return out_close(&of, err);
fail:
	strbuf_release(&line);
	strbuf_release(&disp);
	out_close(&of, NULL);
	return -1;
}

static int write_docs(struct ctx *ctx, struct pl_error *err)
{
	const struct units *un = &ctx->units;
	const struct clustering *km = &ctx->km;
	int document = ctx->cfg->v[CFG_corpus_unit].i == 0;
	struct strbuf line = STRBUF_INIT;
	struct outfile of;

	memset(&of, 0, sizeof(of));
	if (out_open(ctx, "docs.tsv", &of, err) ||
	    out_printf(err, &of,
		       "unit\tfile\tparagraph\tline\ttokens\tcluster\tsimilarity\tnorm\n"))
		goto fail;
	for (size_t u = 0; u < un->n; u++) {
		const char *rel = ctx->files.rel[un->file[u]];
		int32_t c = km->assign && km->k ? km->assign[u] : -1;
		int rc;

		strbuf_reset(&line);
		rc = strbuf_add_u64(&line, (uint64_t)u + 1) || strbuf_addch(&line, '\t') ||
		     strbuf_add_tsv(&line, rel, strlen(rel));
		if (!rc && document)
			rc = strbuf_addstr(&line, "\tNA");
		else if (!rc)
			rc = strbuf_addch(&line, '\t') || strbuf_add_u64(&line, un->para[u]);
		if (!rc)
			rc = strbuf_addch(&line, '\t') || strbuf_add_u64(&line, un->line[u]) ||
			     strbuf_addch(&line, '\t') || strbuf_add_u64(&line, un->ntok[u]);
		if (!rc && c >= 0)
			rc = strbuf_addch(&line, '\t') ||
			     strbuf_add_u64(&line, cluster_id(km, c));
		if (!rc && c >= 0 && km->sim && isfinite(km->sim[u]))
			rc = strbuf_addf(&line, "\t%.6f", km->sim[u]);
		else if (!rc && c >= 0)
			rc = strbuf_addstr(&line, "\tNA");
		else if (!rc)
			rc = strbuf_addstr(&line, "\tNA\tNA");
		/* The row's divisor, to the bit (stages/tfidf.c); 0 when the
		 * TF-IDF stage did not run. */
		if (!rc)
			rc = strbuf_addch(&line, '\t') ||
			     put_g17_buf(&line, ctx->norm ? ctx->norm[u] : 0) ||
			     strbuf_addch(&line, '\n');
		if (rc) {
			pl_oom(err);
			goto fail;
		}
		if (out_write(&of, line.buf, line.len, err))
			goto fail;
	}
	strbuf_release(&line);
	return out_close(&of, err);
fail:
	strbuf_release(&line);
	out_close(&of, NULL);
	return -1;
}

static int write_run(struct ctx *ctx, struct pl_error *err)
{
	if (write_terms(ctx, err) ||
	    write_docs(ctx, err))
		return -1;
	return 0;
}

/* The write stage: run() writes terms.tsv.gz and docs.tsv into the staging folder (0, or -1 with err filled: out of
 * memory, a write error, or a matrix whose shape or column order breaks
 * the promises above, PL_EX_SOFTWARE).  It only reads struct ctx. */
const struct stage stage_write = {
	.name = "write",
	.help = "write terms.tsv.gz and docs.tsv",
	.run = write_run,
};
