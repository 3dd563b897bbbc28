/* project.c -- a 2-D map of the statements: the first two principal axes
 *
 * In: the TF-IDF matrix (units x terms, CSR, `fval` weights) and the
 * clustering.  Out: projection.tsv, one line per statement with its
 * coordinates on the first two principal axes of the column-centred TF-IDF
 * matrix and its cluster (output/README.md documents it), and
 * ctx->rep.proj_var, the share of the total variance each axis explains.
 *
 * The algorithm, exactly:
 *  - A = X - 1 mu^T, mu the column means over all n statements, those with
 *    no terms included (their row of X is 0, so their row of A is -mu).  A
 *    is never formed: A v = X v - (mu . v) 1 and A^T u = X^T u - (1 . u) mu,
 *    each one pass over the rows of X, O(nnz + n + d), taken on a pair of
 *    vectors at once.
 *  - Block Lanczos, blocks of two vectors, with full reorthogonalisation
 *    and thick restarts, on B = A A^T when n < d (vectors of n: the
 *    statements side) and on B = A^T A otherwise (vectors of d), so that
 *    the basis and its Gram-Schmidt cost O(min(n, d)) per vector.  The
 *    basis q_0, q_1, ... (at most PJ_BASIS vectors) is orthonormal; B has
 *    been applied to the first k ("closed"), not yet to the last two
 *    ("open"), and C[i][j] = q_i . B q_j as Gram-Schmidt finds them.
 *     - Start: q_0 and q_1 from uniform draws in [-0.5, 0.5) of a GSL
 *       mt19937 seeded with [kmeans] seed (entry t of q_j is draw 2t + j),
 *       orthonormalised as a new pair is.  A rerun starts from the
 *       previous run's axes instead (see struct projector, and start()).
 *     - A step: w_j = B q_j for the open pair (a product by A and one by
 *       A^T).  Each w_j loses its components along every basis vector by
 *       classical Gram-Schmidt applied twice (the two coefficients, summed,
 *       are C[i][j]); then w_1, once w_0 is the new basis vector, loses
 *       its components along every basis vector again, that one included,
 *       the same way (taking w_0's alone off would leave the rounding of
 *       that step along the others: a w_1 that is mostly w_0 then becomes
 *       a basis vector far from orthogonal to them; see extend()); and
 *       each is divided by its norm, C[new][j].  A w_j left with
 *       PJ_DEFLATE of its norm or less brings no new direction (the basis
 *       holds an invariant subspace): its C is 0 and it is replaced by
 *       fresh draws made orthogonal to the basis the same way, or by 0 when
 *       nothing is left (the basis spans every direction).  The pair is
 *       closed, the new one open.
 *     - Rayleigh-Ritz: the k x k symmetric H, H_ij = C[min(i,j)][max(i,j)],
 *       and its eigenpairs (theta_j, s_j), descending (gsl_eigen_symmv).
 *       Ritz vector y_j = Q s_j has B y_j - theta_j y_j = (the open pair)
 *       E s_j, E the open pair's two rows of C, so its residual is |E s_j|.
 *     - When theta_0 is below the rank threshold (below), or |E s_j| <=
 *       tol theta_0 for j = 0 and 1 (tol = PROJECT_TOL at first): check.
 *       Else, when the basis is full, restart: the basis becomes the
 *       PJ_KEEP leading Ritz vectors, H diag(theta), and the open pair.
 *     - Check: the axes V are y_0, y_1 (terms side) or A^T y_j / |A^T y_j|
 *       (statements side; 0 for a zero vector); U = A V are the
 *       coordinates, sigma_j^2 = |U_j|^2 and W = A^T U.  Converged, by
 *       project.h's criterion, when |W_j - sigma_j^2 V_j| <= PROJECT_TOL
 *       sigma_0^2 for both, or sigma_0^2 is below the rank threshold.  If
 *       not (the estimate was off by rounding), the steps go on with tol a
 *       hundred times smaller.
 *    Each step and each check is an iteration; at PROJECT_MAX_ITER the
 *    last check's V and U are the result, with converged = 0.
 *    Why: subspace iteration on two vectors, as before, gains lambda_3 /
 *    lambda_2 per iteration: 0.88 on the bundled corpus (174 iterations;
 *    21 here) and 0.78 on 97,000 documents (90; 14 here), while a Krylov
 *    space gets to the top of the spectrum far sooner.  A pair costs
 *    little more than one vector (a product is bound by reading X and
 *    its gathers and scatters, which a pair shares) and,
 *    unlike one vector, finds both axes even when lambda_1 = lambda_2.
 *    Memory: O(nnz + n + d + PJ_BASIS min(n, d) + PJ_CHUNKS d), allocated
 *    once, but for the GSL workspace of each Rayleigh-Ritz step.
 *  - Threads: the rows are cut into chunks by the data alone (see
 *    cut_chunks), at most PJ_CHUNKS.  A product gives each thread (the
 *    stage's ctx->rep.threads, as k-means) a run of chunks; for A^T u each
 *    chunk sums its rows into its own vector and those are added in chunk
 *    order, so the bits do not depend on the number of threads.
 *  - The axes are the last check's V and the coordinates its U.  Each axis
 *    is turned so that its largest |component| is positive, and its
 *    coordinates with it.  Components within SIGN_TIE of the largest tie
 *    (exact ties are common: two words of one statement each), and the
 *    first of them by the term's bytes decides (without names, the
 *    lowest term id): not the lowest id, since a rerun's ids are
 *    append-only and a fresh run's in order of first occurrence, and not
 *    an exact comparison, since a rerun's axes agree with a fresh run's
 *    to the fit's tolerance, not to the bit.
 *  - Rank: an axis with sigma_j^2 <= (PROJECT_RANK_TOL |X|_F)^2 is one the
 *    data do not have (fewer than 3 distinct statements, fewer than 2
 *    terms): its axis, coordinates and sigma2 are exactly 0.
 *  - Variance: |A|_F^2 = sum_i |x_i|^2 - n |mu|^2, and var_j = sigma_j^2 /
 *    |A|_F^2 (0 when that is 0 to within the rank tolerance).
 * Every sum is taken in a fixed order (no BLAS, whose summation order
 * depends on the implementation linked; a dot product of basis vectors as
 * four partial sums over t mod 4, added pairwise), so the same matrix and
 * seed give the same bits.
 */
#include "project.h"
#include "../pipeline/cache.h"

#include <gsl/gsl_eigen.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_vector.h>
#include <math.h>
#include <pthread.h>
#include <string.h>

#define PJ_BASIS 32      /* basis vectors at most (even) */
#define PJ_KEEP 16       /* Ritz vectors kept at a restart (even, <= PJ_BASIS - 4) */
#define PJ_DEFLATE 1e-12 /* a new vector this small (relative) is no new direction */
#define PJ_TILE 512      /* entries per tile in Gram-Schmidt (a multiple of 4) */
#define PJ_CHUNKS 4      /* row chunks at most: threads a product can use */
#define PJ_CHUNK_MIN 32768 /* entries of X per chunk at least (and 4 d) */

/* A run of rows of X that one thread takes at a time. */
struct chunk {
	size_t r0, r1;      /* rows r0 .. r1 - 1 */
	double *W;          /* d x 2: their share of X^T U (chunks 1 ..) */
	double su[2];       /* their share of 1 . U */
};

/* The state of one fit.  Pairs of vectors that a product reads or writes
 * are interleaved: entry t of vector j is at [2 * t + j]. */
struct pj {
	const struct csr *X;
	const struct strtab *names; /* the terms, for the sign's ties, or NULL */
	size_t n, d;
	double *mu;         /* d: column means */
	double thr;         /* sigma^2 below which an axis is not there */
	int rows;           /* 1: Lanczos on A A^T (vectors of n), 0: on A^T A */
	size_t L;           /* the basis vectors' length: n or d */
	double *Q;          /* PJ_BASIS x L: basis vector i at Q + i * L */
	size_t K, k;        /* vectors in Q; closed ones (K - k = 2 open) */
	double *C;          /* PJ_BASIS x PJ_BASIS, row-major: q_i . B q_j */
	double *V;          /* d x 2: a pair of the terms side */
	double *W;          /* d x 2: A^T U */
	double *U;          /* n x 2: A V */
	double *Z;          /* n x 2: A W (rows only) */
	double *h;          /* 2 PJ_BASIS: Gram-Schmidt coefficients */
	double *acc;        /* 8 PJ_BASIS: their partial sums */
	double *sk;         /* PJ_BASIS x PJ_KEEP: S's columns at a restart */
	gsl_matrix *H, *S;  /* PJ_BASIS x PJ_BASIS; the k x k corner is used */
	gsl_vector *theta;  /* PJ_BASIS: Ritz values, descending */
	gsl_rng *rng;
	double mv[2];       /* mu . V of the product being taken */
	struct chunk chunk[PJ_CHUNKS];
	size_t nchunks;
	size_t threads;     /* at most this many threads take the chunks */
	double *Wc;         /* (nchunks - 1) x d x 2: chunks 1 .. */
};

#define CIJ(pj, i, j) ((pj)->C[(size_t)(i) * PJ_BASIS + (j)])

/* Add the products x[t] y[t], t0 <= t < t1, to the four partial sums
 * a[t mod 4] of a dot product (t0 a multiple of 4; a tail past the last
 * multiple of 4 goes to a[0]).  Going through x and y tile by tile this way
 * gives the bits of dot(), which is one tile. */
static void dot_tile(const double *x, const double *y, size_t t0, size_t t1,
		     double *a)
{
	double s0 = a[0], s1 = a[1], s2 = a[2], s3 = a[3];
	size_t t = t0;

	for (; t + 4 <= t1; t += 4) {
		s0 += x[t] * y[t];
		s1 += x[t + 1] * y[t + 1];
		s2 += x[t + 2] * y[t + 2];
		s3 += x[t + 3] * y[t + 3];
	}
	for (; t < t1; t++)
		s0 += x[t] * y[t];
	a[0] = s0;
	a[1] = s1;
	a[2] = s2;
	a[3] = s3;
}

/* x . y over n entries: four partial sums over t mod 4, then (s0 + s1) +
 * (s2 + s3).  Fixed order, and four times the speed of one chain. */
static double dot(const double *x, const double *y, size_t n)
{
	double a[4] = { 0, 0, 0, 0 };

	dot_tile(x, y, 0, n, a);
	return (a[0] + a[1]) + (a[2] + a[3]);
}

/* Rows r0 .. r1 - 1 of out (n x 2) = A in (in d x 2): x_i . v - mu . v,
 * each row's terms in column order. */
static void a_rows(const struct pj *pj, size_t r0, size_t r1, const double *in,
		   double *out)
{
	const struct csr *X = pj->X;

	for (size_t i = r0; i < r1; i++) {
		double s0 = 0, s1 = 0;

		for (uint64_t p = X->rowptr[i]; p < X->rowptr[i + 1]; p++) {
			size_t c = X->col[p];

			s0 += X->fval[p] * in[2 * c];
			s1 += X->fval[p] * in[2 * c + 1];
		}
		out[2 * i] = s0 - pj->mv[0];
		out[2 * i + 1] = s1 - pj->mv[1];
	}
}

/* A chunk's share of X^T in (in n x 2) into W (d x 2), and of 1 . in; the
 * rows in order, each row's terms in column order. */
static void at_rows(const struct pj *pj, struct chunk *ch, const double *in,
		    double *W)
{
	const struct csr *X = pj->X;
	double su0 = 0, su1 = 0;

	memset(W, 0, 2 * pj->d * sizeof(*W));
	for (size_t i = ch->r0; i < ch->r1; i++) {
		double u0 = in[2 * i], u1 = in[2 * i + 1];

		su0 += u0;
		su1 += u1;
		for (uint64_t p = X->rowptr[i]; p < X->rowptr[i + 1]; p++) {
			size_t c = X->col[p];

			W[2 * c] += X->fval[p] * u0;
			W[2 * c + 1] += X->fval[p] * u1;
		}
	}
	ch->su[0] = su0;
	ch->su[1] = su1;
}

/* A chunk's share of A^T A in (in d x 2) in one pass over its rows: each
 * row's entry of U = A in (out, n x 2), as a_rows makes it, added into W
 * and 1 . U at once, as at_rows adds it.  The same operations in the same
 * order as a_rows then at_rows, so the same bits, reading X once, not
 * twice (the check, on either side, and a step on the terms side). */
static void ata_rows(const struct pj *pj, struct chunk *ch, const double *in,
		     double *out, double *W)
{
	const struct csr *X = pj->X;
	double su0 = 0, su1 = 0;

	memset(W, 0, 2 * pj->d * sizeof(*W));
	for (size_t i = ch->r0; i < ch->r1; i++) {
		const uint64_t p0 = X->rowptr[i], p1 = X->rowptr[i + 1];
		double s0 = 0, s1 = 0, u0, u1;

		for (uint64_t p = p0; p < p1; p++) {
			size_t c = X->col[p];

			s0 += X->fval[p] * in[2 * c];
			s1 += X->fval[p] * in[2 * c + 1];
		}
		u0 = out[2 * i] = s0 - pj->mv[0];
		u1 = out[2 * i + 1] = s1 - pj->mv[1];
		su0 += u0;
		su1 += u1;
		for (uint64_t p = p0; p < p1; p++) {
			size_t c = X->col[p];

			W[2 * c] += X->fval[p] * u0;
			W[2 * c + 1] += X->fval[p] * u1;
		}
	}
	ch->su[0] = su0;
	ch->su[1] = su1;
}

/* A product by A (JOB_A), by A^T (JOB_AT), or both in one pass (JOB_ATA:
 * out = A in and W = A^T out), cut into the chunks. */
enum { JOB_A, JOB_AT, JOB_ATA };
struct job {
	struct pj *pj;
	int kind;
	const double *in;
	double *out;
	double *W;          /* JOB_ATA: chunk 0's share of A^T out */
};

/* Thread t of nt: its run of the chunks. */
static void run_job(void *arg, size_t t, size_t nt)
{
	struct job *job = arg;
	struct pj *pj = job->pj;
	size_t nc = pj->nchunks;

	for (size_t c = nc * t / nt; c < nc * (t + 1) / nt; c++) {
		struct chunk *ch = &pj->chunk[c];

		if (job->kind == JOB_AT)
			at_rows(pj, ch, job->in, c ? ch->W : job->out);
		else if (job->kind == JOB_ATA)
			ata_rows(pj, ch, job->in, job->out, c ? ch->W : job->W);
		else
			a_rows(pj, ch->r0, ch->r1, job->in, job->out);
	}
}

/* The chunks of a product on up to pj->threads threads. */
static void run_chunks(struct pj *pj, int kind, const double *in, double *out,
		       double *W)
{
	struct job job = { pj, kind, in, out, W };
	size_t nc = pj->nchunks;

	pl_parallel(pj->threads < nc ? pj->threads : nc, run_job, &job);
}

/* pj->mv = mu . in (d x 2), for A in. */
static void mu_dot(struct pj *pj, const double *in)
{
	pj->mv[0] = 0;
	pj->mv[1] = 0;
	for (size_t t = 0; t < pj->d; t++) {
		pj->mv[0] += pj->mu[t] * in[2 * t];
		pj->mv[1] += pj->mu[t] * in[2 * t + 1];
	}
}

/* out (n x 2) = A in (d x 2) = X in - 1 (mu^T in). */
static void times_a(struct pj *pj, const double *in, double *out)
{
	mu_dot(pj, in);
	run_chunks(pj, JOB_A, in, out, NULL);
}

/* A^T U into out (d x 2), which holds chunk 0's share of X^T U: the
 * other chunks' shares added in chunk order, then mu (1^T U) taken off,
 * 1^T U summed over the chunks in order. */
static void at_sum(struct pj *pj, double *out)
{
	const size_t nc = pj->nchunks;
	double su0 = 0, su1 = 0;

	for (size_t c = 0; c < nc; c++) {
		su0 += pj->chunk[c].su[0];
		su1 += pj->chunk[c].su[1];
	}
	for (size_t t = 0; t < pj->d; t++) {
		double w0 = out[2 * t], w1 = out[2 * t + 1];

		for (size_t c = 1; c < nc; c++) {
			w0 += pj->chunk[c].W[2 * t];
			w1 += pj->chunk[c].W[2 * t + 1];
		}
		out[2 * t] = w0 - pj->mu[t] * su0;
		out[2 * t + 1] = w1 - pj->mu[t] * su1;
	}
}

/* out (d x 2) = A^T in (n x 2) = X^T in - mu (1^T in). */
static void times_at(struct pj *pj, const double *in, double *out)
{
	run_chunks(pj, JOB_AT, in, out, NULL);
	at_sum(pj, out);
}

/* U (n x 2) = A in (d x 2) and W (d x 2) = A^T U, in one pass over X:
 * the bits of times_a(in, U) then times_at(U, W). */
static void times_ata(struct pj *pj, const double *in, double *U, double *W)
{
	mu_dot(pj, in);
	run_chunks(pj, JOB_ATA, in, U, W);
	at_sum(pj, W);
}

/* B applied to the open pair: A^T A V (d x 2, in W) or, on the statements
 * side, A A^T U (n x 2, in Z).  Returns the result. */
static const double *apply(struct pj *pj)
{
	const size_t L = pj->L;
	const double *q0 = pj->Q + pj->k * L, *q1 = q0 + L;
	double *in = pj->rows ? pj->U : pj->V;

	for (size_t t = 0; t < L; t++) {
		in[2 * t] = q0[t];
		in[2 * t + 1] = q1[t];
	}
	if (pj->rows) {
		times_at(pj, pj->U, pj->W);
		times_a(pj, pj->W, pj->Z);
		return pj->Z;
	}
	times_ata(pj, pj->V, pj->U, pj->W);
	return pj->W;
}

/* Classical Gram-Schmidt, twice: the nx (1 or 2) vectors at x (x + L the
 * second) lose their components along basis vectors i0 .. i1 - 1.  The
 * coefficients, summed over both passes, are added to c[i * cs + j] (i the
 * basis vector, j the vector of x) when c is not NULL.  The dot products
 * and the updates go tile by tile, so that the tile of x stays in cache
 * while the basis streams past, in the order of a vector at a time: dot()
 * for the products, the basis vectors in turn for the updates. */
static void orth(struct pj *pj, size_t i0, size_t i1, double *x, int nx,
		 double *c, size_t cs)
{
	const size_t L = pj->L, m = i1 - i0;
	double *h = pj->h, *acc = pj->acc;
	size_t i, t0, t1;
	int j;

	for (int pass = 0; pass < 2; pass++) {
		memset(acc, 0, 4 * 2 * m * sizeof(*acc));
		for (t0 = 0; t0 < L; t0 = t1) {
			t1 = t0 + PJ_TILE < L ? t0 + PJ_TILE : L;
			for (i = 0; i < m; i++)
				for (j = 0; j < nx; j++)
					dot_tile(pj->Q + (i0 + i) * L, x + (size_t)j * L,
						 t0, t1, acc + 4 * (2 * i + (size_t)j));
		}
		for (i = 0; i < 2 * m; i++)
			h[i] = (acc[4 * i] + acc[4 * i + 1]) +
			       (acc[4 * i + 2] + acc[4 * i + 3]);
		for (t0 = 0; t0 < L; t0 = t1) {
			t1 = t0 + PJ_TILE < L ? t0 + PJ_TILE : L;
			for (i = 0; i < m; i++) {
				const double *q = pj->Q + (i0 + i) * L;

				for (j = 0; j < nx; j++) {
					double *y = x + (size_t)j * L;
					double a = h[2 * i + (size_t)j];

					for (size_t t = t0; t < t1; t++)
						y[t] -= a * q[t];
				}
			}
		}
		for (i = 0; c && i < m; i++)
			for (j = 0; j < nx; j++)
				c[(i0 + i) * cs + (size_t)j] += h[2 * i + (size_t)j];
	}
}

/* Scale x (L) by 1/its norm; return the norm, or 0 and zero x when the norm
 * is at most PJ_DEFLATE * before. */
static double normalise(const struct pj *pj, double *x, double before)
{
	double nrm = sqrt(dot(x, x, pj->L));

	if (!(nrm > PJ_DEFLATE * before)) {
		memset(x, 0, pj->L * sizeof(*x));
		return 0;
	}
	for (size_t t = 0; t < pj->L; t++)
		x[t] /= nrm;
	return nrm;
}

/* Basis vector K + j is a deflated direction: make it L fresh draws
 * orthogonal to every vector before it, or 0 when none survives. */
static void replace(struct pj *pj, size_t j)
{
	double *x = pj->Q + (pj->K + j) * pj->L, before;

	for (size_t t = 0; t < pj->L; t++)
		x[t] = gsl_rng_uniform(pj->rng) - 0.5;
	before = sqrt(dot(x, x, pj->L));
	orth(pj, 0, pj->K + j, x, 1, NULL, 0);
	normalise(pj, x, before);
}

/* Append the pair bq (L x 2: B q_k, B q_{k+1}) to the basis as q_K,
 * q_{K+1} and record its coefficients in C; the open pair becomes
 * closed. */
static void extend(struct pj *pj, const double *bq)
{
	const size_t L = pj->L, K = pj->K, k = pj->k;
	double *x = pj->Q + K * L, before[2];

	pl_prefault(x, 2 * L * sizeof(*x));
	for (int j = 0; j < 2; j++) {
		double *y = x + (size_t)j * L;

		for (size_t t = 0; t < L; t++)
			y[t] = bq[2 * t + (size_t)j];
		before[j] = sqrt(dot(y, y, L));
	}
	orth(pj, 0, K, x, 2, &CIJ(pj, 0, k), PJ_BASIS);
	CIJ(pj, K, k) = normalise(pj, x, before[0]);
	if (CIJ(pj, K, k) == 0)
		replace(pj, 0);
	/* w_1 against the whole basis again, the new q_K included, not
	 * against q_K alone: taking q_K's component off a w_1 that is mostly
	 * q_K leaves that step's rounding (eps |w_1|) along every basis
	 * vector, and a remainder of 3.7e-9 |w_1| (eigenvalues that differ in
	 * the 8th digit: TF-IDF weights are floats) became a basis vector
	 * 3.4e-9 off orthogonal.  The Ritz pairs were then off by as much, and
	 * the check's residual stayed at 5e-10 sigma_0^2 on a ten-statement
	 * corpus (check_project's exhausted_basis).  The coefficients along
	 * q_0 .. q_{K-1} that this pass finds are rounding; they are summed
	 * into C like the rest. */
	orth(pj, 0, K + 1, x + L, 1, &CIJ(pj, 0, k + 1), PJ_BASIS);
	CIJ(pj, K + 1, k + 1) = normalise(pj, x + L, before[1]);
	if (CIJ(pj, K + 1, k + 1) == 0)
		replace(pj, 1);
	pj->k += 2;
	pj->K += 2;
}

/* Rayleigh-Ritz on the closed part: theta and S for H (k x k).  0 or -1. */
static int ritz(struct pj *pj, struct pl_error *err)
{
	const size_t k = pj->k;
	gsl_matrix_view H = gsl_matrix_submatrix(pj->H, 0, 0, k, k);
	gsl_matrix_view S = gsl_matrix_submatrix(pj->S, 0, 0, k, k);
	gsl_vector_view th = gsl_vector_subvector(pj->theta, 0, k);
	gsl_eigen_symmv_workspace *ws = gsl_eigen_symmv_alloc(k);
	int status;

	if (!ws)
		return pl_oom(err);
	for (size_t i = 0; i < k; i++)
		for (size_t j = 0; j < k; j++)
			gsl_matrix_set(&H.matrix, i, j,
				       i < j ? CIJ(pj, i, j) : CIJ(pj, j, i));
	status = gsl_eigen_symmv(&H.matrix, &th.vector, &S.matrix, ws);
	gsl_eigen_symmv_free(ws);
	if (status == 0)
		status = gsl_eigen_symmv_sort(&th.vector, &S.matrix,
					      GSL_EIGEN_SORT_VAL_DESC);
	if (status)
		return pl_fail(err, PL_EX_SOFTWARE, "project: %zu x %zu eigenproblem: %s",
			       k, k, gsl_strerror(status));
	return 0;
}

/* Is the Lanczos estimate |E s_j| of both residuals at most tol theta_0? */
static int estimate_ok(const struct pj *pj, double tol)
{
	const size_t k = pj->k;
	double l1 = gsl_vector_get(pj->theta, 0);

	if (!(l1 > pj->thr))
		return 1;  /* nothing left to find */
	for (size_t j = 0; j < 2; j++) {
		double r = 0;

		for (size_t a = k; a < k + 2; a++) {
			double e = 0;

			for (size_t c = 0; c < k; c++)
				e += CIJ(pj, a, c) * gsl_matrix_get(pj->S, c, j);
			r += e * e;
		}
		if (!(sqrt(r) <= tol * l1))
			return 0;
	}
	return 1;
}

/* Row t of the closed basis times the k x m matrix s (row-major: the
 * first m columns of S) into out[0], out[1], ... out[m - 1]. */
static void ritz_row(const struct pj *pj, size_t t, const double *s, size_t m,
		     double *out)
{
	const size_t L = pj->L, k = pj->k;

	for (size_t j = 0; j < m; j++) {
		double v = 0;

		for (size_t r = 0; r < k; r++)
			v += pj->Q[r * L + t] * s[r * m + j];
		out[j] = v;
	}
}

/* Restart: the basis becomes the PJ_KEEP leading Ritz vectors and the open
 * pair, with H = diag(theta).  The Ritz vectors overwrite the basis entry
 * by entry (entry t of the new vectors needs only entry t of the old). */
static void restart(struct pj *pj)
{
	const size_t L = pj->L, k = pj->k, l = PJ_KEEP;
	double *s = pj->sk, row[PJ_KEEP];

	for (size_t r = 0; r < k; r++)
		for (size_t j = 0; j < l; j++)
			s[r * l + j] = gsl_matrix_get(pj->S, r, j);
	for (size_t t = 0; t < L; t++) {
		ritz_row(pj, t, s, l, row);
		for (size_t j = 0; j < l; j++)
			pj->Q[j * L + t] = row[j];
	}
	memmove(pj->Q + l * L, pj->Q + k * L, 2 * L * sizeof(*pj->Q));
	memset(pj->C, 0, PJ_BASIS * PJ_BASIS * sizeof(*pj->C));
	for (size_t j = 0; j < l; j++)
		CIJ(pj, j, j) = gsl_vector_get(pj->theta, j);
	pj->k = l;
	pj->K = l + 2;
}

/* The check: the axes V, the coordinates U = A V, W = A^T U, and the true
 * residuals |W_j - sigma_j^2 V_j|, sigma_j^2 = |U_j|^2.  V is the leading
 * Ritz pair or, on the statements side, A^T of it, each vector divided by
 * its norm (left 0 when that is 0).  Returns 1 when both residuals are
 * within PROJECT_TOL sigma_0^2, or sigma_0^2 is below the rank threshold;
 * *res is the larger residual over sigma_0^2. */
static int check(struct pj *pj, double *res)
{
	const size_t d = pj->d, n = pj->n;
	double s[2] = { 0, 0 }, sv[2 * PJ_BASIS];
	double *y = pj->rows ? pj->U : pj->V;

	for (size_t r = 0; r < pj->k; r++)
		for (size_t j = 0; j < 2; j++)
			sv[r * 2 + j] = gsl_matrix_get(pj->S, r, j);
	for (size_t t = 0; t < pj->L; t++)
		ritz_row(pj, t, sv, 2, y + 2 * t);
	if (pj->rows) {
		times_at(pj, pj->U, pj->V);
		for (size_t j = 0; j < 2; j++) {
			double nrm = 0;

			for (size_t t = 0; t < d; t++)
				nrm += pj->V[2 * t + j] * pj->V[2 * t + j];
			nrm = sqrt(nrm);
			for (size_t t = 0; t < d; t++)
				pj->V[2 * t + j] = nrm > 0 ? pj->V[2 * t + j] / nrm : 0;
		}
	}
	times_ata(pj, pj->V, pj->U, pj->W);
	for (size_t i = 0; i < n; i++) {
		s[0] += pj->U[2 * i] * pj->U[2 * i];
		s[1] += pj->U[2 * i + 1] * pj->U[2 * i + 1];
	}
	*res = 0;
	if (!(s[0] > pj->thr))
		return 1;
	for (size_t j = 0; j < 2; j++) {
		double r = 0;

		for (size_t t = 0; t < d; t++) {
			double e = pj->W[2 * t + j] - s[j] * pj->V[2 * t + j];

			r += e * e;
		}
		if (!(sqrt(r) / s[0] <= *res))
			*res = sqrt(r) / s[0];
	}
	return *res <= PROJECT_TOL;
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
		pj->mu[X->col[p]] += X->fval[p];
		sumsq += (double)X->fval[p] * X->fval[p];
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

/* The final axes and coordinates from the last check's V and U. */
#define SIGN_TIE 1e-6

/* Does term a sort before term b (by bytes; a shorter prefix first)? */
static int name_before(const struct strtab *tab, size_t a, size_t b)
{
	size_t la = strtab_len(tab, (uint32_t)a), lb = strtab_len(tab, (uint32_t)b);
	int c = memcmp(strtab_str(tab, (uint32_t)a), strtab_str(tab, (uint32_t)b),
		       la < lb ? la : lb);

	return c ? c < 0 : la < lb;
}

static void finish(struct pj *pj, struct projection *out)
{
	size_t n = pj->n, d = pj->d, t, i;

	for (int j = 0; j < 2; j++) {
		double *axis = out->axis + (size_t)j * d;
		double s = 0, big = 0;
		size_t first = SIZE_MAX;
		int flip;

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
			if (fabs(axis[t]) > big)
				big = fabs(axis[t]);
		}
		for (t = 0; t < d; t++)
			if (fabs(axis[t]) >= big * (1 - SIGN_TIE) &&
			    (first == SIZE_MAX ||
			     (pj->names && name_before(pj->names, t, first))))
				first = t;
		flip = first != SIZE_MAX && axis[first] < 0;
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
	pl_free(pj->Q);
	pl_free(pj->C);
	pl_free(pj->V);
	pl_free(pj->W);
	pl_free(pj->U);
	pl_free(pj->Z);
	pl_free(pj->h);
	pl_free(pj->acc);
	pl_free(pj->sk);
	pl_free(pj->Wc);
	if (pj->H)
		gsl_matrix_free(pj->H);
	if (pj->S)
		gsl_matrix_free(pj->S);
	if (pj->theta)
		gsl_vector_free(pj->theta);
	if (pj->rng)
		gsl_rng_free(pj->rng);
}

/* The start pair, orthonormalised like a new pair (see above): draws or,
 * given a previous run's axes (2 x wd, struct projection's layout, terms
 * wd and up 0), those axes on the terms side and A of them on the
 * statements side, where they would be the coordinates.  A start that
 * leaves nothing (every term it weights gone) is replaced by draws. */
/*
 * A warm start is the previous axis with draws mixed in, WARM_MIX of its
 * length.  The previous axes alone lack what the corpus gained: two new
 * statements with words of their own made the rerun's answer a pair of
 * eigenvectors of the old statements' part, met to the tolerance
 * (a check proves an eigenpair, not the first two), while a fresh run,
 * whose draws weigh every direction, found the new statements' axis
 * first (a helper's differential test).  With draws in, every direction
 * has a weight, as from a cold start, and the axes keep the rest.
 */
#define WARM_MIX 0.1
static void warm_mix(struct pj *pj, double *q, double *r)
{
	const size_t L = pj->L;
	double nq = sqrt(dot(q, q, L)), nr = 0;

	for (size_t t = 0; t < L; t++) {
		r[t] = gsl_rng_uniform(pj->rng) - 0.5;
		nr += r[t] * r[t];
	}
	nr = sqrt(nr);
	if (!(nr > 0))
		return;
	for (size_t t = 0; t < L; t++)
		q[t] = (nq > 0 ? q[t] / nq : 0) + WARM_MIX * r[t] / nr;
}

static void start(struct pj *pj, const double *warm, size_t wd)
{
	const size_t L = pj->L;
	double *q0 = pj->Q, *q1 = pj->Q + L, before[2];

	if (warm) {
		double *in = pj->V;

		for (size_t t = 0; t < pj->d; t++) {
			pj->V[2 * t] = t < wd ? warm[t] : 0;
			pj->V[2 * t + 1] = t < wd ? warm[wd + t] : 0;
		}
		if (pj->rows) {
			times_a(pj, pj->V, pj->U);
			in = pj->U;
		}
		for (size_t t = 0; t < L; t++) {
			q0[t] = in[2 * t];
			q1[t] = in[2 * t + 1];
		}
		/* (in: the L x 2 start, copied out; its first L for draws) */
		warm_mix(pj, q0, (double *)in);
		warm_mix(pj, q1, (double *)in);
	} else {
		for (size_t t = 0; t < L; t++) {
			q0[t] = gsl_rng_uniform(pj->rng) - 0.5;
			q1[t] = gsl_rng_uniform(pj->rng) - 0.5;
		}
	}
	before[0] = sqrt(dot(q0, q0, L));
	before[1] = sqrt(dot(q1, q1, L));
	pj->K = 0;  /* for replace() */
	pj->k = 0;
	if (normalise(pj, q0, before[0]) == 0)
		replace(pj, 0);
	orth(pj, 0, 1, q1, 1, NULL, 0);
	if (normalise(pj, q1, before[1]) == 0)
		replace(pj, 1);
	pj->K = 2;
}

/* Cut the rows into chunks of about equal entries: one per PJ_CHUNK_MIN
 * entries of X, and per 4 d (a chunk's own W costs O(d) to clear and add),
 * at least 1, at most PJ_CHUNKS; chunk c ends before the first row whose
 * entries start at (c + 1) nnz / chunks or later.  This depends on X alone,
 * so the sums, and the result, do not depend on the number of threads.
 * 0 or -1 (out of memory). */
static int cut_chunks(struct pj *pj)
{
	const uint64_t *rowptr = pj->X->rowptr;
	uint64_t nnz = rowptr[pj->n], per = PJ_CHUNK_MIN;
	size_t nc, r = 0;

	if (per < 4 * (uint64_t)pj->d)
		per = 4 * (uint64_t)pj->d;
	nc = nnz / per < PJ_CHUNKS ? (size_t)(nnz / per) : PJ_CHUNKS;
	if (nc < 1)
		nc = 1;
	if (nc > 1) {
		pj->Wc = pl_malloc((nc - 1) * 2 * pj->d * sizeof(*pj->Wc));
		if (!pj->Wc)
			return -1;
		pl_prefault(pj->Wc, (nc - 1) * 2 * pj->d * sizeof(*pj->Wc));
	}
	for (size_t c = 0; c < nc; c++) {
		struct chunk *ch = &pj->chunk[c];
		/* (c + 1) nnz / nc, without overflow */
		uint64_t end = nnz / nc * (c + 1) + nnz % nc * (c + 1) / nc;

		ch->r0 = r;
		if (c + 1 == nc)
			r = pj->n;
		while (r < pj->n && rowptr[r] < end)
			r++;
		ch->r1 = r;
		ch->W = c ? pj->Wc + (c - 1) * 2 * pj->d : NULL;
	}
	pj->nchunks = nc;
	return 0;
}

/* project_fit_from() on up to `threads` threads; the result does not
 * depend on their number. */
static int fit(const struct csr *X, const struct strtab *names,
	       unsigned long seed, long threads, const double *warm, size_t wd,
	       struct projection *out, struct pl_error *err)
{
	struct pj pj;
	size_t n = X->nrows, d = X->ncols;
	double tol = PROJECT_TOL, last_res = INFINITY;
	int it = 0, ret = -1;

	memset(out, 0, sizeof(*out));
	memset(&pj, 0, sizeof(pj));
	if (X->rowptr && X->rowptr[n] && !X->fval)
		return pl_fail(err, PL_EX_SOFTWARE,
			       "project: the matrix has no weights");
	pj.X = X;
	pj.names = names;
	pj.n = out->n = n;
	pj.d = out->d = d;
	/* The side (see the top of the file).  Tried: the terms side
	 * whenever 2 PJ_BASIS (d - n) < nnz, since a step there reads X
	 * once (times_ata) where the statements side reads it twice; on the
	 * benchmark's rerun (n 97,703, d 163,747, nnz 22.6 million) the fit
	 * took as long (0.62-0.67 s against 0.57-0.63 s) and an iteration
	 * more: a product is bound by its gathers and scatters into vectors
	 * of d, which both sides make once a step, not by reading X. */
	pj.rows = n < d;
	pj.L = pj.rows ? n : d;
	if (d > SIZE_MAX / PJ_BASIS / sizeof(double) ||
	    n > SIZE_MAX / PJ_BASIS / sizeof(double))
		goto oom;
	pj.mu = pl_malloc((d ? d : 1) * sizeof(*pj.mu));
	pj.Q = pl_malloc((pj.L ? PJ_BASIS * pj.L : 1) * sizeof(*pj.Q));
	pj.C = pl_calloc(PJ_BASIS * PJ_BASIS, sizeof(*pj.C));
	pj.V = pl_malloc((d ? 2 * d : 1) * sizeof(*pj.V));
	pj.W = pl_malloc((d ? 2 * d : 1) * sizeof(*pj.W));
	pj.U = pl_malloc((n ? 2 * n : 1) * sizeof(*pj.U));
	pj.Z = pl_malloc((pj.rows ? 2 * n : 1) * sizeof(*pj.Z));
	pj.h = pl_malloc(2 * PJ_BASIS * sizeof(*pj.h));
	pj.acc = pl_malloc(8 * PJ_BASIS * sizeof(*pj.acc));
	pj.sk = pl_malloc(PJ_BASIS * PJ_KEEP * sizeof(*pj.sk));
	out->coord = pl_malloc((n ? 2 * n : 1) * sizeof(*out->coord));
	out->axis = pl_malloc((d ? 2 * d : 1) * sizeof(*out->axis));
	if (!pj.mu || !pj.Q || !pj.C || !pj.V || !pj.W || !pj.U || !pj.Z ||
	    !pj.h || !pj.acc || !pj.sk || !out->coord || !out->axis)
		goto oom;
	/* Mapped in one call each, the arrays written whole (pl_prefault);
	 * Q a pair at a time as the basis grows (extend). */
	pl_prefault(pj.mu, d * sizeof(*pj.mu));
	pl_prefault(pj.V, 2 * d * sizeof(*pj.V));
	pl_prefault(pj.W, 2 * d * sizeof(*pj.W));
	pl_prefault(pj.U, 2 * n * sizeof(*pj.U));
	pl_prefault(pj.Q, 2 * pj.L * sizeof(*pj.Q));
	if (pj.rows)
		pl_prefault(pj.Z, 2 * n * sizeof(*pj.Z));
	pj.H = gsl_matrix_alloc(PJ_BASIS, PJ_BASIS);
	pj.S = gsl_matrix_alloc(PJ_BASIS, PJ_BASIS);
	pj.theta = gsl_vector_alloc(PJ_BASIS);
	pj.rng = gsl_rng_alloc(gsl_rng_mt19937);
	if (!pj.H || !pj.S || !pj.theta || !pj.rng)
		goto oom;
	if (n == 0 || !X->rowptr) {
		out->converged = 1;
		ret = 0;
		goto done;
	}
	if (cut_chunks(&pj) < 0)
		goto oom;
	pj.threads = threads < 1 ? 1 : threads > PJ_CHUNKS ? PJ_CHUNKS : (size_t)threads;
	if (scan(&pj, out, err) < 0)
		goto fail;

	gsl_rng_set(pj.rng, seed);
	start(&pj, warm && wd <= d ? warm : NULL, wd);
	for (;;) {
		extend(&pj, apply(&pj));
		it++;
		if (ritz(&pj, err) < 0)
			goto fail;
		if (estimate_ok(&pj, tol) || it + 1 >= PROJECT_MAX_ITER) {
			double res;
			int ok = check(&pj, &res);

			it++;
			/* A check no better than half the one before: the
			 * residual is at what rounding allows (a basis that
			 * spans the whole of a small matrix, near-equal
			 * eigenvalues).  More steps would fill the basis with
			 * rounding noise and restart on it, and the last
			 * check's axes could then be worse; these are kept,
			 * with converged = 0. */
			if (ok || it >= PROJECT_MAX_ITER || !(res < last_res / 2)) {
				out->converged = ok;
				break;
			}
			last_res = res;
			tol /= 100;
		}
		if (pj.K + 2 > PJ_BASIS)
			restart(&pj);
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
	pj_release(&pj);
	return ret;
}

int project_fit(const struct csr *X, unsigned long seed,
		struct projection *out, struct pl_error *err)
{
	return fit(X, NULL, seed, 1, NULL, 0, out, err);
}

int project_fit_from(const struct csr *X, unsigned long seed,
		     const double *axis, size_t wd, struct projection *out,
		     struct pl_error *err)
{
	return fit(X, NULL, seed, 1, axis, wd, out, err);
}

void projection_release(struct projection *p)
{
	pl_free(p->coord);
	pl_free(p->axis);
	memset(p, 0, sizeof(*p));
}

/*
 * The stage.  Its run starts the fit on a thread of its own and returns:
 * the stages after it (summary, write) and the cache index need neither
 * the axes nor the coordinates, and the fit only reads ctx->tfidf, which
 * nothing changes after k-means (k-means renumbers its columns and puts
 * them back before this stage runs).  The driver calls project_finish
 * after them (struct stage's finish), which waits for the fit and writes
 * projection.tsv.  On the benchmark's 97,703 statements the fit keeps
 * about 1.5 of the 2 cores busy for 0.55 s; the summaries, the tables and
 * the index, about 0.35 s on one core, used to wait for it.  The result
 * is the same bits either way: the fit's threads are ctx->rep.threads, as
 * before, and its sums do not depend on them.
 *
 * A rerun starts the fit from the previous run's axes (cache-axes.bin in
 * the previous set, pipeline/cache.h), as k-means starts from its
 * centroids, unless [kmeans] warm_start = no.  Term ids are append-only,
 * so the axes' entries are this run's columns; a corpus grown by 1% moves
 * the axes little, and on the benchmark's rerun the fit took 10 iterations
 * instead of 14 (11 with the draws warm_mix adds).  The answer meets the
 * same test (project.h), so it
 * differs from a fresh run's by less than that tolerance; a run that
 * writes the cache stages its axes for the next one.
 */
struct projector {
	const struct csr *X;
	const struct strtab *names; /* ctx->vocab.tab: X's columns' terms */
	unsigned long seed;
	long threads;
	char *warm_set;       /* the set to start from, or NULL */
	size_t warm_d;        /* its run's terms */
	int warm;             /* 1: the fit started from its axes */
	const char *why;      /* why it did not, when it did not */
	struct projection p;
	struct pl_error err;
	int rc;
	double seconds;       /* the fit's wall time */
	pthread_t tid;
	int joinable;
};

static void *project_thread(void *arg)
{
	struct projector *pr = arg;
	double t0 = pl_now(), *axis = NULL;

	if (pr->warm_set && cache_read_axes(pr->warm_set, pr->warm_d, &axis, &pr->why)) {
		pr->warm = pr->warm_d <= pr->X->ncols;
		if (!pr->warm)
			pr->why = "the previous axes have more terms than this run";
	}
	pr->rc = fit(pr->X, pr->names, pr->seed, pr->threads, pr->warm ? axis : NULL,
		     pr->warm_d, &pr->p, &pr->err);
	pl_free(axis);
	pr->seconds = pl_now() - t0;
	return NULL;
}

/* Wait for the fit, if it still runs, and give everything back. */
static void project_release(struct ctx *ctx)
{
	struct projector *pr = ctx->projector;

	if (!pr)
		return;
	if (pr->joinable)
		pthread_join(pr->tid, NULL);
	projection_release(&pr->p);
	pl_free(pr->warm_set);
	pl_free(pr);
	ctx->projector = NULL;
}

static int project_run(struct ctx *ctx, struct pl_error *err)
{
	struct projector *pr;

	project_release(ctx);
	pr = pl_calloc(1, sizeof(*pr));
	if (!pr)
		return pl_oom(err);
	pr->X = &ctx->tfidf;
	pr->names = &ctx->vocab.tab;
	pr->seed = (unsigned long)ctx->cfg->v[CFG_kmeans_seed].i;
	pr->threads = ctx->rep.threads;
	ctx->projector = pr;
	/* The cache's terms keep their ids in this run (read.c preloads
	 * them), so its set's axes index this run's columns. */
	if (ctx->cache && ctx->cfg->v[CFG_kmeans_warm_start].i == 0) {
		pr->warm_d = ctx->cache->terms.n;
		if (!(pr->warm_set = pl_strdup(ctx->cache->set)))
			return pl_oom(err);
	}
	/* Without a thread, the fit runs here; nothing else changes. */
	if (pthread_create(&pr->tid, NULL, project_thread, pr) == 0)
		pr->joinable = 1;
	else
		project_thread(pr);
	return 0;
}

/* Wait for the fit and write projection.tsv; ctx->stage is this stage,
 * whose seconds get the fit's wall time and the writing's. */
static int project_finish(struct ctx *ctx, struct pl_error *err)
{
	const int32_t *assign = ctx->km.assign;
	struct projector *pr = ctx->projector;
	struct projection *p;
	struct outfile of;
	double t0;
	int rc;

	if (!pr)
		return 0; /* the stage did not run */
	if (pr->joinable)
		pthread_join(pr->tid, NULL);
	pr->joinable = 0;
	t0 = pl_now();
	if (pr->rc) {
		*err = pr->err;
		project_release(ctx);
		return -1;
	}
	p = &pr->p;
	ctx->rep.proj_var[0] = p->var[0];
	ctx->rep.proj_var[1] = p->var[1];
	ctx->rep.proj_iterations = p->iterations;
	ctx->rep.proj_converged = p->converged;
	ctx->rep.proj_warm = pr->warm;
	if (ctx->verbose && pr->warm_set)
		fprintf(stderr, "pipeline: project: %s\n", pr->warm ?
			"starting from the previous run's axes" : pr->why);
	if (ctx->verbose)
		fprintf(stderr, "pipeline: project: %s after %d iteration%s; "
			"the axes explain %.1f%% and %.1f%% of the variance\n",
			p->converged ? "converged" : "not converged", p->iterations,
			p->iterations == 1 ? "" : "s", 100 * p->var[0], 100 * p->var[1]);
	if (out_open(ctx, "projection.tsv", &of, err) < 0) {
		project_release(ctx);
		return -1;
	}
	rc = out_printf(err, &of, "unit\tx\ty\tcluster\n");
	for (size_t i = 0; rc == 0 && i < p->n; i++) {
		rc = out_printf(err, &of, "%zu\t%.9g\t%.9g\t", i + 1,
				p->coord[2 * i], p->coord[2 * i + 1]);
		if (rc == 0 && assign && assign[i] >= 0)
			rc = out_printf(err, &of, "%lu\n",
					(unsigned long)cluster_id(&ctx->km, assign[i]));
		else if (rc == 0)
			rc = out_write(&of, "NA\n", 3, err);
	}
	if (out_close(&of, rc ? NULL : err) < 0)
		rc = -1;
	/* For the next run's start (see struct projector). */
	if (rc == 0 && ctx->cfg->v[CFG_output_incremental].i == 0 && ctx->run_id)
		rc = cache_write_axes(ctx, p->axis, p->d, err);
	if (ctx->stage >= 0)
		ctx->rep.seconds[ctx->stage] += pr->seconds + (pl_now() - t0);
	project_release(ctx);
	return rc;
}

const struct stage stage_project = {
	.name = "project",
	.help = "place the statements on the first two principal axes of the "
		"centred TF-IDF matrix (projection.tsv)",
	.run = project_run,
	.finish = project_finish,
	.release = project_release,
};
