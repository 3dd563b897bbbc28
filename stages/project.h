/* project.h -- a 2-D map of the statements: their first two principal axes
 *
 * project_fit() computes the top two right singular vectors of the
 * column-centred TF-IDF matrix (principal component analysis; on centred
 * data that is also LSA's truncated SVD) and every statement's coordinates
 * on them, without ever forming the dense statements x terms matrix.
 * stage_project (stages.h) runs it on ctx->tfidf and writes projection.tsv.
 * The result is deterministic: the same matrix and seed give the same bits.
 */
#ifndef PL_PROJECT_H
#define PL_PROJECT_H

#include "stages.h"

/* The iteration stops when both Ritz pairs (lambda_j, v_j) of A^T A have
 * |A^T A v_j - lambda_j v_j| <= PROJECT_TOL * lambda_1, or after
 * PROJECT_MAX_ITER iterations (the result is then still returned, with
 * converged = 0).  An axis whose singular value is at most
 * PROJECT_RANK_TOL * |X|_F (X uncentred) is one the data do not have: its
 * coordinates, axis and sigma2 are 0. */
#define PROJECT_TOL 1e-10
#define PROJECT_MAX_ITER 200
#define PROJECT_RANK_TOL 1e-10

struct projection {
	size_t n, d;        /* statements (rows), terms (columns) */
	double *coord;      /* n x 2, row-major: statement i is at
			       (coord[2i], coord[2i+1]) */
	double *axis;       /* 2 x d, row-major: the two unit right singular
			       vectors, each with its largest |component|
			       positive (ties, within 1e-6 of it: the lowest
			       term id here, the first term by its bytes in
			       stage_project; project.c) */
	double sigma2[2];   /* squared singular values, descending: the sum
			       of squares of each coordinate column */
	double total;       /* |X - 1 mu^T|_F^2, the total sum of squares */
	double var[2];      /* sigma2[j] / total, 0 when total is 0 */
	int iterations;
	int converged;
};

/*
 * Project the rows of X (X->fval holds the weights; columns sorted within
 * each row; X is not modified) onto the first two principal axes of
 * A = X - 1 mu^T, mu the column means over all X->nrows rows.  A row with
 * no entries is projected too (its row of A is -mu).  The start vectors
 * come from a GSL mt19937 seeded with `seed`.
 *
 * On success returns 0 and *out owns new arrays (free them with
 * projection_release()); whatever *out held before is overwritten, not
 * freed.  On failure returns -1 with err filled and *out zeroed:
 *   PL_EX_DATAERR  a weight is not finite;
 *   PL_EX_SOFTWARE the matrix has no weights, or GSL's eigensolver failed;
 *   PL_EX_OSERR    out of memory.
 */
int project_fit(const struct csr *X, unsigned long seed,
		struct projection *out, struct pl_error *err);

/*
 * project_fit, started from given axes instead of draws: `axis` holds two
 * vectors of wd entries (struct projection's layout; terms wd and up are
 * 0), typically the previous run's axes (term ids are append-only).  The
 * result meets the same convergence test, so it agrees with a start from
 * draws to within that tolerance, not to the bit; from axes near the
 * answer it takes fewer iterations.  wd > X->ncols, or axis NULL, starts
 * from draws as project_fit does.  A start that gives nothing (every term
 * it weights gone) is replaced by draws.
 */
int project_fit_from(const struct csr *X, unsigned long seed,
		     const double *axis, size_t wd, struct projection *out,
		     struct pl_error *err);
/* Free what p owns and zero it; safe on a zeroed struct. */
void projection_release(struct projection *p);

#endif
