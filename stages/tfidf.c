/* tfidf.c -- weight the counts: TF-IDF rows
 *
 * In: ctx->counts, vocab.df and vocab.kept.  Out: vocab.idf for every term
 * and ctx->tfidf, the same units-by-terms shape with entries for kept terms
 * only.  With n statements and a term in df of them, count c in a row, and
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

/* The rows [r0, r1) of a thread's share, cut evenly by entries. */
struct tfidf_job {
	const struct ctx *ctx;
	struct tfidf_weighting wt;
	size_t *bound;      /* nt + 1 row bounds */
	int fill;           /* 0: count each row's kept entries; 1: weigh */
};

static void tfidf_rows(void *arg, size_t t, size_t nt)
{
	struct tfidf_job *job = arg;
	const struct ctx *ctx = job->ctx;
	const struct tfidf_weighting wt = job->wt;
	const struct csr *c = &ctx->counts;
	const struct csr *m = &ctx->tfidf;
	const struct vocab *v = &ctx->vocab;

	(void)nt;
	for (size_t r = job->bound[t]; r < job->bound[t + 1]; r++) {
		uint64_t start, e;
		double sum = 0, len = 0;

		if (!job->fill) {
			uint64_t k = 0;

			for (uint64_t j = c->rowptr[r]; j < c->rowptr[r + 1]; j++)
				k += v->kept[c->col[j]];
			m->rowptr[r + 1] = k;
			continue;
		}
		start = e = m->rowptr[r];
		if (wt.tf == TF_RELATIVE)
			for (uint64_t j = c->rowptr[r]; j < c->rowptr[r + 1]; j++)
				len += (double)c->cnt[j];
		for (uint64_t j = c->rowptr[r]; j < c->rowptr[r + 1]; j++) {
			uint32_t tm = c->col[j];
			double w, cnt = (double)c->cnt[j];

			if (!v->kept[tm])
				continue;
			switch (wt.tf) {
			case TF_LOG:
				w = 1.0 + log(cnt);
				break;
			case TF_BINARY:
				w = 1.0;
				break;
			case TF_RELATIVE:
				w = cnt / len;
				break;
			default:
				w = cnt;
			}
			w *= v->idf[tm];
			m->col[e] = tm;
			m->val[e] = w;
			e++;
			sum += wt.norm == NORM_L2 ? w * w : fabs(w);
		}
		if (wt.norm != NORM_NONE && sum > 0) {
			/* Divide (as scikit-learn does) rather than multiply
			 * by the inverse, so values agree to the last bit more
			 * often. */
			double d = wt.norm == NORM_L2 ? sqrt(sum) : sum;

			for (uint64_t j = start; j < e; j++)
				m->val[j] /= d;
		}
	}
}

/* Each row is weighed on its own, so the threads (cut by entries) give
 * the same bytes as one. */
static int tfidf_run(struct ctx *ctx, struct pl_error *err)
{
	const struct csr *c = &ctx->counts;
	struct csr *m = &ctx->tfidf;
	struct vocab *v = &ctx->vocab;
	double n = (double)c->nrows;
	size_t bound[PL_MAX_THREADS + 1], nt;
	struct tfidf_job job = { ctx, tfidf_weighting_of(ctx->cfg), bound, 0 };

	for (size_t t = 0; t < v->tab.n; t++)
		v->idf[t] = idf_of(job.wt.idf, n, (double)v->df[t]);
	nt = ctx->rep.threads > 0 ? (size_t)ctx->rep.threads : 1;
	if (nt > PL_MAX_THREADS)
		nt = PL_MAX_THREADS;
	if (nt > c->nnz / 65536 + 1)
		nt = c->nnz / 65536 + 1;  /* not worth a thread */
	bound[0] = 0;
	for (size_t t = 1, r = 0; t <= nt; t++) {
		uint64_t goal = c->nnz / nt * t;

		while (r < c->nrows && (t == nt || c->rowptr[r + 1] <= goal))
			r++;
		bound[t] = r;
	}
	m->nrows = c->nrows;
	m->ncols = c->ncols;
	m->rowptr = pl_malloc((c->nrows + 1) * sizeof(*m->rowptr));
	if (!m->rowptr)
		return pl_oom(err);
	m->rowptr[0] = 0;
	pl_parallel(nt, tfidf_rows, &job);
	for (size_t r = 0; r < c->nrows; r++)
		m->rowptr[r + 1] += m->rowptr[r];
	m->nnz = m->cap = m->rowptr[c->nrows];
	m->col = pl_malloc((m->nnz ? m->nnz : 1) * sizeof(*m->col));
	m->val = pl_malloc((m->nnz ? m->nnz : 1) * sizeof(*m->val));
	if (!m->col || !m->val)
		return pl_oom(err);
	job.fill = 1;
	pl_parallel(nt, tfidf_rows, &job);
	return 0;
}

static void tfidf_release(struct ctx *ctx)
{
	csr_release(&ctx->tfidf);
}

const struct stage stage_tfidf = {
	.name = "tfidf",
	.help = "TF-IDF weights (default: scikit-learn's raw tf, smooth idf, L2 rows; "
		"presets for tm, gensim, Spark)",
	.init = tfidf_init,
	.run = tfidf_run,
	.release = tfidf_release,
};
