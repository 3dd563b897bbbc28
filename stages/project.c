/* project.c -- a 2-D map of the statements: the first two principal axes
 *
 * In: the TF-IDF matrix (units x terms, CSR, `val` weights) and the
 * clustering.  Out: projection.tsv, one line per statement with its
 * coordinates on the first two principal axes of the column-centred TF-IDF
 * matrix and its cluster (output/README.md documents it), and
 * ctx->rep.proj_var, the share of the total variance each axis explains.
 *
 * The algorithm, exactly:
 *  - A = X - 1 mu^T, mu the column means over all n statements, those with
 *    no terms included (their row of X is 0, so their row of A is -mu).  A
 *    is never formed: A v = X v - (mu . v) 1 and A^T u = X^T u - (1 . u) mu,
 *    so an iteration costs O(nnz + n + d) time and the whole fit
 *    O(nnz + n + d) memory, allocated once.
 *  - Subspace (block power) iteration on A^T A with a block of two vectors.
 *    V (d x 2, orthonormal) starts from uniform draws in [-0.5, 0.5) of a
 *    GSL mt19937 seeded with [kmeans] seed.  Each iteration computes
 *    U = A V, the 2 x 2 matrix H = U^T U = V^T A^T A V and its eigenpairs
 *    (lambda_j, q_j), descending (gsl_eigen_symmv: the Rayleigh-Ritz step),
 *    then W = A^T U and the residuals r_j = W q_j - lambda_j V q_j of the
 *    Ritz vectors V q_j.  It stops when |r_j| <= PROJECT_TOL * lambda_1 for
 *    both, or after PROJECT_MAX_ITER iterations; otherwise V becomes W Q
 *    orthonormalised by Gram-Schmidt, applied twice for the second vector.
 *  - The axes are V Q and the coordinates U Q (= A V Q, no further
 *    product); sigma_j^2 is the sum of squares of coordinate column j.
 *    Each axis is turned so that its largest |component| is positive (ties:
 *    the lowest term id), and its coordinates with it.
 *  - Rank: an axis with sigma_j^2 <= (PROJECT_RANK_TOL |X|_F)^2 is one the
 *    data do not have (fewer than 3 distinct statements, fewer than 2
 *    terms): its axis, coordinates and sigma2 are exactly 0.  A vector that
 *    Gram-Schmidt reduces to that size is replaced by the first unit vector
 *    e_t that is independent of the one before it, or by 0 when none is.
 *  - Variance: |A|_F^2 = sum_i |x_i|^2 - n |mu|^2, and var_j = sigma_j^2 /
 *    |A|_F^2 (0 when that is 0 to within the rank tolerance).
 * Every sum is taken in a fixed order (no BLAS, whose summation order
 * depends on the implementation linked), so the same matrix and seed give
 * the same bits.
 */
#include "project.h"

#include <gsl/gsl_eigen.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_vector.h>
#include <math.h>
#include <string.h>

/* The state of one fit.  Blocks of two vectors are stored interleaved:
 * entry t of vector j is at [2 * t + j]. */
struct pj {
	const struct csr *X;
	size_t n, d;
	double *mu;         /* d: column means */
	double *V;          /* d x 2: the current orthonormal block */
	double *W;          /* d x 2: A^T U */
	double *U;          /* n x 2: A V */
	double thr;         /* sigma^2 (and |A^T A v|) below which an axis
			       is not there */
	gsl_matrix *H, *Q;  /* 2 x 2: U^T U, its eigenvectors */
	gsl_vector *lam;    /* 2: its eigenvalues, descending */
	gsl_eigen_symmv_workspace *ws;
};

/* U = A V = X V - 1 (mu^T V). */
static void times_a(struct pj *pj)
{
	const struct csr *X = pj->X;
	const double *V = pj->V;
	double mv0 = 0, mv1 = 0;
	size_t i, t;

	for (t = 0; t < pj->d; t++) {
		mv0 += pj->mu[t] * V[2 * t];
		mv1 += pj->mu[t] * V[2 * t + 1];
	}
	for (i = 0; i < pj->n; i++) {
		double s0 = 0, s1 = 0;
		uint64_t p;

		for (p = X->rowptr[i]; p < X->rowptr[i + 1]; p++) {
			size_t c = X->col[p];

			s0 += X->val[p] * V[2 * c];
			s1 += X->val[p] * V[2 * c + 1];
		}
		pj->U[2 * i] = s0 - mv0;
		pj->U[2 * i + 1] = s1 - mv1;
	}
}

/* W = A^T U = X^T U - mu (1^T U). */
static void times_at(struct pj *pj)
{
	const struct csr *X = pj->X;
	const double *U = pj->U;
	double *W = pj->W;
	double su0 = 0, su1 = 0;
	size_t i, t;

	memset(W, 0, 2 * pj->d * sizeof(*W));
	for (i = 0; i < pj->n; i++) {
		double u0 = U[2 * i], u1 = U[2 * i + 1];
		uint64_t p;

		su0 += u0;
		su1 += u1;
		for (p = X->rowptr[i]; p < X->rowptr[i + 1]; p++) {
			size_t c = X->col[p];

			W[2 * c] += X->val[p] * u0;
			W[2 * c + 1] += X->val[p] * u1;
		}
	}
	for (t = 0; t < pj->d; t++) {
		W[2 * t] -= pj->mu[t] * su0;
		W[2 * t + 1] -= pj->mu[t] * su1;
	}
}

/* Make vector j of the block B (d x 2) orthogonal to vector 0 (when j is
 * 1): subtract its component, twice, which keeps it orthogonal to working
 * precision.  Returns its norm afterwards. */
static double orthogonalise(double *B, size_t d, int j)
{
	double s;
	size_t t;

	for (int pass = 0; j == 1 && pass < 2; pass++) {
		double a = 0;

		for (t = 0; t < d; t++)
			a += B[2 * t] * B[2 * t + 1];
		for (t = 0; t < d; t++)
			B[2 * t + 1] -= a * B[2 * t];
	}
	s = 0;
	for (t = 0; t < d; t++)
		s += B[2 * t + j] * B[2 * t + j];
	return sqrt(s);
}

/* Orthonormalise the block B in place (see "Rank" above). */
static void orthonormalise(struct pj *pj, double *B)
{
	size_t d = pj->d, t;

	for (int j = 0; j < 2; j++) {
		double nrm = orthogonalise(B, d, j);

		if (!(nrm > pj->thr)) {
			/* a direction the data do not have: the first e_t
			 * independent of vector 0, or 0 */
			nrm = 0;
			for (size_t e = 0; e < d && nrm < 0.5; e++) {
				for (t = 0; t < d; t++)
					B[2 * t + j] = t == e;
				nrm = orthogonalise(B, d, j);
			}
			if (nrm < 0.5) {
				for (t = 0; t < d; t++)
					B[2 * t + j] = 0;
				continue;
			}
		}
		for (t = 0; t < d; t++)
			B[2 * t + j] /= nrm;
	}
}

/* The Rayleigh-Ritz step: H = U^T U, its eigenpairs into lam and Q,
 * descending.  0 or -1. */
static int ritz(struct pj *pj, struct pl_error *err)
{
	double h00 = 0, h01 = 0, h11 = 0;
	int status;

	for (size_t i = 0; i < pj->n; i++) {
		double u0 = pj->U[2 * i], u1 = pj->U[2 * i + 1];

		h00 += u0 * u0;
		h01 += u0 * u1;
		h11 += u1 * u1;
	}
	gsl_matrix_set(pj->H, 0, 0, h00);
	gsl_matrix_set(pj->H, 0, 1, h01);
	gsl_matrix_set(pj->H, 1, 0, h01);
	gsl_matrix_set(pj->H, 1, 1, h11);
	status = gsl_eigen_symmv(pj->H, pj->lam, pj->Q, pj->ws);
	if (status == 0)
		status = gsl_eigen_symmv_sort(pj->lam, pj->Q, GSL_EIGEN_SORT_VAL_DESC);
	if (status)
		return pl_fail(err, PL_EX_SOFTWARE, "project: 2 x 2 eigenproblem: %s",
			       gsl_strerror(status));
	return 0;
}

/* Has the Ritz pair j converged?  |W q_j - lambda_j V q_j| against
 * PROJECT_TOL * lambda_1. */
static int converged(const struct pj *pj, int j)
{
	double q0 = gsl_matrix_get(pj->Q, 0, (size_t)j);
	double q1 = gsl_matrix_get(pj->Q, 1, (size_t)j);
	double lj = gsl_vector_get(pj->lam, (size_t)j);
	double l1 = gsl_vector_get(pj->lam, 0);
	double r = 0;

	if (!(l1 > pj->thr))
		return 1;  /* nothing left to find */
	for (size_t t = 0; t < pj->d; t++) {
		double w = pj->W[2 * t] * q0 + pj->W[2 * t + 1] * q1;
		double v = pj->V[2 * t] * q0 + pj->V[2 * t + 1] * q1;

		r += (w - lj * v) * (w - lj * v);
	}
	return sqrt(r) <= PROJECT_TOL * l1;
}

/* B (rows x 2) = B Q, in place. */
static void rotate(const gsl_matrix *Q, double *B, size_t rows)
{
	double q00 = gsl_matrix_get(Q, 0, 0), q01 = gsl_matrix_get(Q, 0, 1);
	double q10 = gsl_matrix_get(Q, 1, 0), q11 = gsl_matrix_get(Q, 1, 1);

	for (size_t t = 0; t < rows; t++) {
		double b0 = B[2 * t], b1 = B[2 * t + 1];

		B[2 * t] = b0 * q00 + b1 * q10;
		B[2 * t + 1] = b0 * q01 + b1 * q11;
	}
}

/* Column means and sums of squares; fills pj->mu, out->total and pj->thr.
 * 0 or -1. */
static int scan(struct pj *pj, struct projection *out, struct pl_error *err)
{
	const struct csr *X = pj->X;
	double sumsq = 0, mu2 = 0;
	size_t t;

	memset(pj->mu, 0, pj->d * sizeof(*pj->mu));
	for (uint64_t p = 0; p < X->rowptr[pj->n]; p++) {
		pj->mu[X->col[p]] += X->val[p];
		sumsq += X->val[p] * X->val[p];
	}
	if (!isfinite(sumsq))
		return pl_fail(err, PL_EX_DATAERR,
			       "project: the TF-IDF weights are not all finite");
	for (t = 0; pj->n && t < pj->d; t++) {
		pj->mu[t] /= (double)pj->n;
		mu2 += pj->mu[t] * pj->mu[t];
	}
	pj->thr = PROJECT_RANK_TOL * PROJECT_RANK_TOL * sumsq;
	out->total = sumsq - (double)pj->n * mu2;
	if (!(out->total > pj->thr))
		out->total = 0;
	return 0;
}

/* The final axes and coordinates from the last V, U and Q. */
static void finish(struct pj *pj, struct projection *out)
{
	size_t n = pj->n, d = pj->d, t, i;

	rotate(pj->Q, pj->V, d);
	rotate(pj->Q, pj->U, n);
	for (int j = 0; j < 2; j++) {
		double *axis = out->axis + (size_t)j * d;
		double s = 0, big = 0;
		int flip = 0;

		for (i = 0; i < n; i++)
			s += pj->U[2 * i + j] * pj->U[2 * i + j];
		if (!(s > pj->thr)) {
			memset(axis, 0, d * sizeof(*axis));
			for (i = 0; i < n; i++)
				out->coord[2 * i + j] = 0;
			out->sigma2[j] = 0;
			out->var[j] = 0;
			continue;
		}
		for (t = 0; t < d; t++) {
			axis[t] = pj->V[2 * t + j];
			if (fabs(axis[t]) > big) {
				big = fabs(axis[t]);
				flip = axis[t] < 0;
			}
		}
		for (t = 0; flip && t < d; t++)
			axis[t] = -axis[t];
		for (i = 0; i < n; i++) {
			double c = pj->U[2 * i + j];

			/* + 0.0 turns -0 into 0 */
			out->coord[2 * i + j] = (flip ? -c : c) + 0.0;
		}
		out->sigma2[j] = s;
		out->var[j] = out->total > 0 ? s / out->total : 0;
		if (out->var[j] > 1)
			out->var[j] = 1;  /* rounding */
	}
}

static void pj_release(struct pj *pj)
{
	pl_free(pj->mu);
	pl_free(pj->V);
	pl_free(pj->W);
	pl_free(pj->U);
	if (pj->H)
		gsl_matrix_free(pj->H);
	if (pj->Q)
		gsl_matrix_free(pj->Q);
	if (pj->lam)
		gsl_vector_free(pj->lam);
	if (pj->ws)
		gsl_eigen_symmv_free(pj->ws);
}

int project_fit(const struct csr *X, unsigned long seed,
		struct projection *out, struct pl_error *err)
{
	struct pj pj;
	gsl_rng *rng = NULL;
	size_t n = X->nrows, d = X->ncols, t;
	int it, ret = -1;

	memset(out, 0, sizeof(*out));
	memset(&pj, 0, sizeof(pj));
	if (X->rowptr && X->rowptr[n] && !X->val)
		return pl_fail(err, PL_EX_SOFTWARE,
			       "project: the matrix has no weights");
	pj.X = X;
	pj.n = out->n = n;
	pj.d = out->d = d;
	if (d > SIZE_MAX / 2 / sizeof(double) || n > SIZE_MAX / 2 / sizeof(double))
		goto oom;
	pj.mu = pl_malloc((d ? d : 1) * sizeof(*pj.mu));
	pj.V = pl_malloc((d ? 2 * d : 1) * sizeof(*pj.V));
	pj.W = pl_malloc((d ? 2 * d : 1) * sizeof(*pj.W));
	pj.U = pl_malloc((n ? 2 * n : 1) * sizeof(*pj.U));
	out->coord = pl_malloc((n ? 2 * n : 1) * sizeof(*out->coord));
	out->axis = pl_malloc((d ? 2 * d : 1) * sizeof(*out->axis));
	if (!pj.mu || !pj.V || !pj.W || !pj.U || !out->coord || !out->axis)
		goto oom;
	pj.H = gsl_matrix_alloc(2, 2);
	pj.Q = gsl_matrix_alloc(2, 2);
	pj.lam = gsl_vector_alloc(2);
	pj.ws = gsl_eigen_symmv_alloc(2);
	rng = gsl_rng_alloc(gsl_rng_mt19937);
	if (!pj.H || !pj.Q || !pj.lam || !pj.ws || !rng)
		goto oom;
	if (n == 0 || !X->rowptr) {
		out->converged = 1;
		ret = 0;
		goto done;
	}
	if (scan(&pj, out, err) < 0)
		goto fail;

	gsl_rng_set(rng, seed);
	for (t = 0; t < 2 * d; t++)
		pj.V[t] = gsl_rng_uniform(rng) - 0.5;
	orthonormalise(&pj, pj.V);
	for (it = 1;; it++) {
		int done;

		times_a(&pj);
		if (ritz(&pj, err) < 0)
			goto fail;
		times_at(&pj);
		done = converged(&pj, 0) && converged(&pj, 1);
		if (done || it >= PROJECT_MAX_ITER) {
			out->converged = done;
			break;
		}
		/* V = W Q, orthonormalised */
		memcpy(pj.V, pj.W, 2 * d * sizeof(*pj.V));
		rotate(pj.Q, pj.V, d);
		orthonormalise(&pj, pj.V);
	}
	out->iterations = it;
	finish(&pj, out);
	ret = 0;
	goto done;
oom:
	pl_oom(err);
fail:
	projection_release(out);
done:
	if (rng)
		gsl_rng_free(rng);
	pj_release(&pj);
	return ret;
}

void projection_release(struct projection *p)
{
	pl_free(p->coord);
	pl_free(p->axis);
	memset(p, 0, sizeof(*p));
}

/* The stage: project ctx->tfidf, write projection.tsv. */
static int project_run(struct ctx *ctx, struct pl_error *err)
{
	const int32_t *assign = ctx->km.assign;
	struct projection p;
	struct outfile of;
	int rc;

	if (project_fit(&ctx->tfidf, (unsigned long)ctx->cfg->v[CFG_kmeans_seed].i,
			&p, err) < 0)
		return -1;
	ctx->rep.proj_var[0] = p.var[0];
	ctx->rep.proj_var[1] = p.var[1];
	if (ctx->verbose)
		fprintf(stderr, "pipeline: project: %s after %d iteration%s; "
			"the axes explain %.1f%% and %.1f%% of the variance\n",
			p.converged ? "converged" : "not converged", p.iterations,
			p.iterations == 1 ? "" : "s", 100 * p.var[0], 100 * p.var[1]);
	if (out_open(ctx, "projection.tsv", &of, err) < 0) {
		projection_release(&p);
		return -1;
	}
	rc = out_printf(err, &of, "unit\tx\ty\tcluster\n");
	for (size_t i = 0; rc == 0 && i < p.n; i++) {
		rc = out_printf(err, &of, "%zu\t%.9g\t%.9g\t", i + 1,
				p.coord[2 * i], p.coord[2 * i + 1]);
		if (rc == 0 && assign && assign[i] >= 0)
			rc = out_printf(err, &of, "%ld\n", (long)assign[i] + 1);
		else if (rc == 0)
			rc = out_write(&of, "NA\n", 3, err);
	}
	if (out_close(&of, rc ? NULL : err) < 0)
		rc = -1;
	projection_release(&p);
	return rc;
}

const struct stage stage_project = {
	.name = "project",
	.help = "place the statements on the first two principal axes of the "
		"centred TF-IDF matrix (projection.tsv)",
	.run = project_run,
};
