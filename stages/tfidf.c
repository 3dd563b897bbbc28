/* tfidf.c -- weight the counts: TF-IDF rows
 *
 * In: ctx->counts, vocab.df and vocab.kept.  Out: vocab.idf for every term
 * and ctx->tfidf, the same units-by-terms shape with entries for kept terms
 * only.  With n statements and a term in df of them, count c in a row:
 *
 *   tf  = raw: c           log: 1 + ln(c)              binary: 1
 *   idf = smooth: ln((1 + n) / (1 + df)) + 1   plain: ln(n / df) + 1   none: 1
 *   w   = tf * idf, then the row scaled to unit L2 or L1 norm, or left as is.
 *
 * The defaults (raw, smooth, l2) are scikit-learn's TfidfVectorizer.  A row
 * without kept terms stays empty (nothing to normalise).
 */
#include "stages.h"

#include <math.h>
#include <string.h>

enum { TF_RAW, TF_LOG, TF_BINARY };
enum { IDF_SMOOTH, IDF_PLAIN, IDF_NONE };
enum { NORM_L2, NORM_L1, NORM_NONE };

static int tfidf_run(struct ctx *ctx, struct pl_error *err)
{
	const struct config *cfg = ctx->cfg;
	const struct csr *c = &ctx->counts;
	struct csr *m = &ctx->tfidf;
	struct vocab *v = &ctx->vocab;
	int tf = (int)cfg->v[CFG_tfidf_tf].i, idf = (int)cfg->v[CFG_tfidf_idf].i;
	int norm = (int)cfg->v[CFG_tfidf_norm].i;
	double n = (double)c->nrows;
	size_t nnz = 0;

	for (size_t t = 0; t < v->tab.n; t++) {
		double df = (double)v->df[t];

		switch (idf) {
		case IDF_SMOOTH:
			v->idf[t] = log((1.0 + n) / (1.0 + df)) + 1.0;
			break;
		case IDF_PLAIN:
			v->idf[t] = df > 0 ? log(n / df) + 1.0 : 1.0;
			break;
		default:
			v->idf[t] = 1.0;
		}
	}
	for (size_t i = 0; i < c->nnz; i++)
		nnz += v->kept[c->col[i]];
	m->nrows = c->nrows;
	m->ncols = c->ncols;
	m->rowptr = pl_malloc((c->nrows + 1) * sizeof(*m->rowptr));
	m->col = pl_malloc((nnz ? nnz : 1) * sizeof(*m->col));
	m->val = pl_malloc((nnz ? nnz : 1) * sizeof(*m->val));
	if (!m->rowptr || !m->col || !m->val)
		return pl_oom(err);
	m->cap = nnz;
	m->rowptr[0] = 0;
	for (size_t r = 0; r < c->nrows; r++) {
		uint64_t start = m->nnz;
		double sum = 0;

		for (uint64_t j = c->rowptr[r]; j < c->rowptr[r + 1]; j++) {
			uint32_t t = c->col[j];
			double w;

			if (!v->kept[t])
				continue;
			w = tf == TF_RAW ? (double)c->cnt[j] :
			    tf == TF_LOG ? 1.0 + log((double)c->cnt[j]) : 1.0;
			w *= v->idf[t];
			m->col[m->nnz] = t;
			m->val[m->nnz] = w;
			m->nnz++;
			sum += norm == NORM_L2 ? w * w : fabs(w);
		}
		if (norm != NORM_NONE && sum > 0) {
			/* Divide (as scikit-learn does) rather than multiply
			 * by the inverse, so values agree to the last bit more
			 * often. */
			double d = norm == NORM_L2 ? sqrt(sum) : sum;

			for (uint64_t j = start; j < m->nnz; j++)
				m->val[j] /= d;
		}
		m->rowptr[r + 1] = m->nnz;
	}
	return 0;
}

static void tfidf_release(struct ctx *ctx)
{
	csr_release(&ctx->tfidf);
}

const struct stage stage_tfidf = {
	.name = "tfidf",
	.help = "TF-IDF weights (default: scikit-learn's raw tf, smooth idf, L2 rows)",
	.run = tfidf_run,
	.release = tfidf_release,
};
