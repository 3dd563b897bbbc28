/* tfidf.c -- weight the counts: TF-IDF rows
 *
 * In: ctx->counts, vocab.df and vocab.kept.  Out: vocab.idf for every term
 * and ctx->tfidf, the same units-by-terms shape with entries for kept terms
 * only, made in the counts' memory (ctx->counts is empty afterwards; see
 * tfidf_run), written to tfidf.mtx.gz in double precision ("%.17g")
 * unless [output] tfidf_matrix = no, and then kept in single precision for
 * the later stages (tfidf_narrow).  Each row's divisor (its norm) is kept
 * in ctx->norm for docs.tsv: with counts.mtx.gz and the idf of
 * terms.tsv.gz it gives every weight back exactly (weight_at), which is
 * how a run with tfidf_matrix = no publishes them.
 * With n statements and a term in df of them, count c in a row, and
 * len the row's total count over every term (the statement's `tokens` in
 * docs.tsv, pruned terms included):
 *
 *   tf  = raw: c     log: 1 + ln(c)     binary: 1     relative: c / len
 *   idf = smooth:  ln((1 + n) / (1 + df)) + 1     plain: ln(n / df) + 1
 *         none:    1                              log2:  log2(n / df)
 *         smooth0: ln((1 + n) / (1 + df))
 *   w   = tf * idf, then the row scaled to unit L2 or L1 norm, or left as is.
 *
 * The defaults (raw, smooth, l2) are scikit-learn's TfidfVectorizer.
 * [tfidf] preset sets all three the way another tool does, checked against
 * each tool's documentation and source:
 *
 *   sklearn  raw, smooth, l2.  TfidfVectorizer(): smooth_idf=True gives
 *            idf = ln((1 + n) / (1 + df)) + 1; sublinear_tf=False; norm="l2".
 *   tm       relative, log2, none.  R tm's weightTfIdf(m, normalize = TRUE):
 *            tf = n_ij / sum_k n_kj (the column sums of the term-document
 *            matrix), idf = log2(|D| / df), no row normalisation.
 *   gensim   raw, log2, l2.  TfidfModel() defaults: wlocal = identity,
 *            wglobal = df2idf(log_base = 2, add = 0) = log2(D / df),
 *            normalize = True (unit Euclidean length).
 *   spark    raw, smooth0, none.  MLlib IDF: idf = ln((m + 1) / (df + 1)),
 *            applied to raw term counts (HashingTF or CountVectorizer); no
 *            normalisation unless a Normalizer follows.
 *
 * Two choices to know when comparing:
 *  - relative divides by the statement's length before pruning.  tm divides
 *    by the column sums of its own matrix, so the two agree while nothing
 *    is pruned (min_df 1, max_df 1.0, max_features 0, the defaults); with
 *    pruning, tm run on the pruned matrix divides by the kept tokens only.
 *  - An entry whose weight is 0 (a term in every statement has log2 and
 *    smooth0 idf 0) is still written, so tfidf.mtx.gz has exactly the
 *    entries of counts.mtx.gz in its kept columns, and a row with entries
 *    is a statement with kept terms.  gensim leaves such entries out of its
 *    sparse vectors; Spark and tm keep them.
 *
 * A preset together with tf, idf or norm set in the config file or with -c
 * is a configuration error: one of the two would be silently ignored.  A
 * row without kept terms stays empty (nothing to normalise).
 */
#include "stages.h"

#include <math.h>
#include <string.h>

/* Indices into the choices of the [tfidf] keys (config.def). */
enum { TF_RAW, TF_LOG, TF_BINARY, TF_RELATIVE };
enum { IDF_SMOOTH, IDF_PLAIN, IDF_NONE, IDF_LOG2, IDF_SMOOTH0 };
enum { NORM_L2, NORM_L1, NORM_NONE };
enum { PRESET_NONE, PRESET_SKLEARN, PRESET_TM, PRESET_GENSIM, PRESET_SPARK };

/* The weighting a run uses. */

static const struct tfidf_weighting presets[] = {
	[PRESET_SKLEARN] = { TF_RAW, IDF_SMOOTH, NORM_L2 },
	[PRESET_TM] = { TF_RELATIVE, IDF_LOG2, NORM_NONE },
	[PRESET_GENSIM] = { TF_RAW, IDF_LOG2, NORM_L2 },
	[PRESET_SPARK] = { TF_RAW, IDF_SMOOTH0, NORM_NONE },
};

/* The preset's weighting, or tf, idf and norm as configured. */
struct tfidf_weighting tfidf_weighting_of(const struct config *cfg)
{
	long preset = cfg->v[CFG_tfidf_preset].i;
	struct tfidf_weighting w;

	if (preset > PRESET_NONE && preset <= PRESET_SPARK)
		return presets[preset];
	w.tf = (int)cfg->v[CFG_tfidf_tf].i;
	w.idf = (int)cfg->v[CFG_tfidf_idf].i;
	w.norm = (int)cfg->v[CFG_tfidf_norm].i;
	return w;
}

/* A preset decides tf, idf and norm: setting one of them as well is an
 * error naming both places. */
static int tfidf_init(struct ctx *ctx, struct pl_error *err)
{
	static const enum cfg_id keys[] = { CFG_tfidf_tf, CFG_tfidf_idf, CFG_tfidf_norm };
	const struct config *cfg = ctx->cfg;
	char where[4200], also[4200], preset[16], value[16];

	if (cfg->v[CFG_tfidf_preset].i == PRESET_NONE)
		return 0;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		enum cfg_id id = keys[i];

		if (cfg->v[id].line == 0)
			continue;
		return pl_fail(err, PL_EX_CONFIG,
			       "%s: [tfidf] preset = %s sets tf, idf and norm, but %s also "
			       "sets %s = %s; remove one of the two (or set preset = none)",
			       config_where(cfg, CFG_tfidf_preset, where, sizeof(where)),
			       config_choice(CFG_tfidf_preset, cfg->v[CFG_tfidf_preset].i,
					     preset, sizeof(preset)),
			       config_where(cfg, id, also, sizeof(also)), cfg_keys[id].name,
			       config_choice(id, cfg->v[id].i, value, sizeof(value)));
	}
	return 0;
}

static double idf_of(int idf, double n, double df)
{
	switch (idf) {
	case IDF_SMOOTH:
		return log((1.0 + n) / (1.0 + df)) + 1.0;
	case IDF_PLAIN:
		return df > 0 ? log(n / df) + 1.0 : 1.0;
	case IDF_LOG2:
		return df > 0 ? log2(n / df) : 0.0;
	case IDF_SMOOTH0:
		return log((1.0 + n) / (1.0 + df));
	default:
		return 1.0;
	}
}

/* The weighing of ctx->tfidf's kept counts, shared by the threads: the
 * rows [bound[t], bound[t + 1]) are thread t's share, cut evenly by
 * entries. */
struct tfidf_job {
	const struct ctx *ctx;
	struct tfidf_weighting wt;
	size_t *bound;      /* nt + 1 row bounds */
	const struct csr *m; /* kept terms only, their counts in m->cnt */
	const double *len;  /* tf = relative: each row's count over every
			       term, pruned ones included */
	double *div;        /* per row: what each of its tf * idf is divided
			       by (ctx->norm): its L2 or L1 norm, 1 under
			       norm = none or when that norm is 0 (every
			       weight 0), 0 for a row without entries */
};

/* Entry j's tf * idf (row r). */
static double tf_idf(const struct tfidf_job *job, size_t r, uint64_t j)
{
	double w, cnt = (double)job->m->cnt[j];

	switch (job->wt.tf) {
	case TF_LOG:
		w = 1.0 + log(cnt);
		break;
	case TF_BINARY:
		w = 1.0;
		break;
	case TF_RELATIVE:
		w = cnt / job->len[r];
		break;
	default:
		w = cnt;
	}
	return w * job->ctx->vocab.idf[job->m->col[j]];
}

/* Entry j's weight (row r), in double: the value tfidf.mtx.gz holds.
 * Each row is weighed on its own, so the threads give the same bits as
 * one. */
static double weight_at(const void *arg, size_t r, uint64_t j)
{
	const struct tfidf_job *job = arg;
	/* Divide (as scikit-learn does) rather than multiply by the
	 * inverse, so values agree to the last bit more often.  This one
	 * division of tf * idf by the row's divisor is also the recipe
	 * output/README.md gives for rebuilding a weight from counts.mtx.gz,
	 * terms.tsv.gz's idf and docs.tsv's norm, so the rebuilt weight is
	 * the one tfidf.mtx.gz holds, to the bit. */
	return tf_idf(job, r, j) / job->div[r];
}

/* The norms of the share's rows. */
static void tfidf_norms(void *arg, size_t t, size_t nt)
{
	struct tfidf_job *job = arg;
	const struct csr *m = job->m;
	const int norm = job->wt.norm;

	(void)nt;
	for (size_t r = job->bound[t]; r < job->bound[t + 1]; r++) {
		double sum = 0;

		for (uint64_t j = m->rowptr[r]; j < m->rowptr[r + 1]; j++) {
			double w = tf_idf(job, r, j);

			sum += norm == NORM_L2 ? w * w : fabs(w);
		}
		job->div[r] = m->rowptr[r] == m->rowptr[r + 1] ? 0 :
			      norm == NORM_NONE || !(sum > 0) ? 1 :
			      norm == NORM_L2 ? sqrt(sum) : sum;
	}
}

/*
 * Keep the share's weights in single precision, in the counts' memory:
 * k-means, the projection and the summaries read m->fval.  Each weight is
 * the double tfidf.mtx.gz holds, rounded to the nearest float, a relative
 * error of at most 2^-24 (6e-8); every sum over them is still taken in
 * double.  A float takes the 4 bytes of the count it is computed from.
 */
static void tfidf_narrow(void *arg, size_t t, size_t nt)
{
	struct tfidf_job *job = arg;
	const struct csr *m = job->m;

	(void)nt;
	for (size_t r = job->bound[t]; r < job->bound[t + 1]; r++)
		for (uint64_t j = m->rowptr[r]; j < m->rowptr[r + 1]; j++) {
			float f = (float)weight_at(job, r, j);

			memcpy(&m->cnt[j], &f, sizeof(f));
		}
}

int tfidf_matrix_written(const struct config *cfg)
{
	return cfg->v[CFG_output_tfidf_matrix].i == 0;
}

void tfidf_weighting_names(const struct config *cfg, char tf[16], char idf[16],
			   char norm[16])
{
	const struct tfidf_weighting w = tfidf_weighting_of(cfg);

	config_choice(CFG_tfidf_tf, w.tf, tf, 16);
	config_choice(CFG_tfidf_idf, w.idf, idf, 16);
	config_choice(CFG_tfidf_norm, w.norm, norm, 16);
}

int tfidf_write(struct ctx *ctx, const struct mtx_real *real,
		struct pl_error *err)
{
	struct strbuf sb = STRBUF_INIT;
	char tf[16], idf[16], norm[16];
	int rc;

	tfidf_weighting_names(ctx->cfg, tf, idf, norm);
	if (strbuf_addf(&sb,
			"%% rows: statements; row i is statement i of docs.tsv\n"
			"%% columns: terms; column j is term j of terms.tsv.gz\n"
			"%% values: TF-IDF weights (tf = %s, idf = %s, norm = %s)\n"
			"%% pruned terms are empty columns; a statement without kept terms is an empty row\n",
			tf, idf, norm))
		return pl_oom(err);
	rc = write_mtx(ctx, "tfidf.mtx.gz", sb.buf, &ctx->tfidf, real, NULL, NULL, err);
	strbuf_release(&sb);
	return rc;
}

/*
 * The weights are made in the counts' own memory, so that the counts and
 * the weights are never held side by side (on a large corpus they are the
 * two largest things a run holds): the entries of pruned terms are
 * dropped, and ctx->tfidf takes the rows, columns and kept counts
 * (ctx->counts is empty afterwards: the frames and counts stages, the last
 * to read it, ran before).  The rows' norms are computed on the run's
 * threads; tfidf.mtx.gz is written from the double weights, each computed
 * from its count as the line is formatted; then each count is replaced by
 * its weight in single precision, on the threads again.  No array of
 * double weights is ever held: on the 520 MB benchmark corpus that would
 * be 172 MB, the largest thing a run holds.
 */
static int tfidf_run(struct ctx *ctx, struct pl_error *err)
{
	struct csr *c = &ctx->counts;
	struct csr *m = &ctx->tfidf;
	struct vocab *v = &ctx->vocab;
	double n = (double)c->nrows, *len = NULL, t0, written;
	size_t bound[PL_MAX_THREADS + 1], nt;
	struct tfidf_job job = { ctx, tfidf_weighting_of(ctx->cfg), bound, m, NULL, NULL };
	const struct mtx_real real = { weight_at, &job };
	uint64_t k = 0;
	int rc;

	for (size_t t = 0; t < v->tab.n; t++)
		v->idf[t] = idf_of(job.wt.idf, n, (double)v->df[t]);
	if (job.wt.tf == TF_RELATIVE) {
		len = pl_calloc(c->nrows ? c->nrows : 1, sizeof(*len));
		if (!len)
			return pl_oom(err);
		for (size_t r = 0; r < c->nrows; r++)
			for (uint64_t j = c->rowptr[r]; j < c->rowptr[r + 1]; j++)
				len[r] += (double)c->cnt[j];
	}
	job.len = len;
	pl_free(ctx->norm);
	ctx->norm = job.div = pl_malloc((c->nrows ? c->nrows : 1) * sizeof(*job.div));
	if (!job.div) {
		pl_free(len);
		return pl_oom(err);
	}
	/* Drop the entries of pruned terms, rows in order. */
	for (size_t r = 0, start = 0; r < c->nrows; r++) {
		uint64_t end = c->rowptr[r + 1];

		for (uint64_t j = start; j < end; j++)
			if (v->kept[c->col[j]]) {
				c->col[k] = c->col[j];
				c->cnt[k] = c->cnt[j];
				k++;
			}
		start = end;
		c->rowptr[r + 1] = k;
	}
	if (k > 0)
		csr_shrink(c, k); /* what the dropped entries held */
	*m = *c;
	m->nnz = m->cap = k;
	memset(c, 0, sizeof(*c));
	nt = csr_shares(m, ctx->rep.threads, bound);
	pl_parallel(nt, tfidf_norms, &job);
	t0 = pl_now();
	rc = tfidf_matrix_written(ctx->cfg) ? tfidf_write(ctx, &real, err) : 0;
	written = pl_now() - t0;
	if (rc == 0) {
		pl_parallel(nt, tfidf_narrow, &job);
		m->fval = (float *)(void *)m->cnt;
		m->cnt = NULL;
		/* The TF-IDF matrix is complete: what run.json's to_tfidf
		 * measures, without writing tfidf.mtx.gz (the driver also
		 * takes out the counts stage's time). */
		ctx->rep.wall_to_tfidf = pl_now() - ctx->rep.total_seconds -
					 written;
	}
	pl_free(len);
	return rc;
}

static void tfidf_release(struct ctx *ctx)
{
	csr_release(&ctx->tfidf);
	pl_free(ctx->norm);
	ctx->norm = NULL;
}

const struct stage stage_tfidf = {
	.name = "tfidf",
	.help = "TF-IDF weights (default: scikit-learn's raw tf, smooth idf, L2 rows; "
		"presets for tm, gensim, Spark)",
	.init = tfidf_init,
	.run = tfidf_run,
	.release = tfidf_release,
};
