/* check_project.c -- tests of project_fit() and stage_project
 *
 * The oracle is a dense SVD of the same column-centred matrix, computed
 * here with gsl_linalg_SV_decomp (the matrices are small, so forming them
 * densely is fine in a test): the axes and coordinates must agree with it
 * once both are turned by the documented sign rule (largest |component| of
 * each axis positive), the squared singular values and the explained-
 * variance shares too.  The tolerance is stated in check_against_dense():
 * 1e-8, widened where two eigenvalues are close by the bound on how far an
 * eigenvector can be from a vector whose residual is within PROJECT_TOL.
 * The matrices: a line plus noise, a wide one, random sparse ones of
 * several shapes and densities, and planted ones whose first and second,
 * or second and third, eigenvalues are within 2% of each other (where the
 * former subspace iteration needed thousands of iterations) or equal.  Then the
 * rules a user relies on: a statement with no terms sits at -mu.v and is
 * NA in projection.tsv, the same input gives the same bytes whatever the
 * number of threads, axes the data do not have are 0, and running out of
 * memory is an error, not a crash or a leak.
 *
 * To debug one case: CK_RUN_SUITE=project CK_RUN_CASE=svd CK_FORK=no.
 */
#include "lib.h"

#include "../stages/project.h"
#include "../pipeline/cache.h"

#include <gsl/gsl_linalg.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_vector.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TOL 1e-8  /* axes and coordinates, well separated eigenvalues */

/* Points along a line (direction a, spread 3) and a weaker second
 * direction b (spread about 0.8), plus a little noise, in 6 columns; a
 * third of the entries are then zeroed to make the matrix sparse, and
 * row 3 is left empty. */
#define LN 10
#define LD 6
static void line_plus_noise(double *a)
{
	static const double dir1[LD] = { 1, 0.5, 0, 0.2, 0, 0.3 };
	static const double dir2[LD] = { 0, 0.3, 1, 0, 0.1, -0.4 };

	for (int i = 0; i < LN; i++) {
		double t = 0.6 * (i - 4.5), u = 0.8 * sin(1.7 * i);

		for (int j = 0; j < LD; j++) {
			double v = 2 + t * dir1[j] + u * dir2[j] +
				   0.05 * cos(3.1 * i + 1.3 * j);

			a[i * LD + j] = (i + 2 * j) % 3 == 0 || i == 3 ? 0 : v;
		}
	}
}

/* The dense oracle: the top two right singular vectors of A = X - 1 mu^T
 * (d x 2, in axis[j * d + t]), the coordinates A v (n x 2) and the squared
 * singular values, with the documented sign rule; sigma2[2] is the third
 * (0 when A has only two columns or rows). */
static void dense_pca(const double *a, size_t n, size_t d, double *axis,
		      double *coord, double *sigma2)
{
	int tall = n >= d;
	size_t m = tall ? n : d, k = tall ? d : n;
	gsl_matrix *M = gsl_matrix_alloc(m, k), *V = gsl_matrix_alloc(k, k);
	gsl_vector *s = gsl_vector_alloc(k), *w = gsl_vector_alloc(k);
	double *mu = calloc(d, sizeof(*mu));

	ck_assert(M && V && s && w && mu && k >= 2);
	for (size_t i = 0; i < n; i++)
		for (size_t t = 0; t < d; t++)
			mu[t] += a[i * d + t] / (double)n;
	for (size_t i = 0; i < n; i++)
		for (size_t t = 0; t < d; t++) {
			double v = a[i * d + t] - mu[t];

			if (tall)
				gsl_matrix_set(M, i, t, v);
			else
				gsl_matrix_set(M, t, i, v);
		}
	/* M = U S V^T; for A itself (tall) the right vectors are V's
	 * columns, for A^T (wide) they are U's (left in M). */
	ck_assert_int_eq(gsl_linalg_SV_decomp(M, V, s, w), 0);
	sigma2[2] = k > 2 ? gsl_vector_get(s, 2) * gsl_vector_get(s, 2) : 0;
	for (size_t j = 0; j < 2; j++) {
		double big = 0;
		int flip = 0;

		sigma2[j] = gsl_vector_get(s, j) * gsl_vector_get(s, j);
		for (size_t t = 0; t < d; t++) {
			double v = tall ? gsl_matrix_get(V, t, j) : gsl_matrix_get(M, t, j);

			axis[j * d + t] = v;
			if (fabs(v) > big) {
				big = fabs(v);
				flip = v < 0;
			}
		}
		for (size_t t = 0; flip && t < d; t++)
			axis[j * d + t] = -axis[j * d + t];
		for (size_t i = 0; i < n; i++) {
			double c = 0;

			for (size_t t = 0; t < d; t++)
				c += (a[i * d + t] - mu[t]) * axis[j * d + t];
			coord[2 * i + j] = c;
		}
	}
	gsl_matrix_free(M);
	gsl_matrix_free(V);
	gsl_vector_free(s);
	gsl_vector_free(w);
	free(mu);
}

static void fit_ok(const struct csr *X, unsigned long seed, struct projection *p)
{
	struct pl_error err = { 0, "" };

	ck_assert_msg(project_fit(X, seed, p, &err) == 0, "project_fit: %d %s",
		      err.code, err.msg);
}

/* project_fit against the dense oracle.  The fit stops when the residual
 * |A^T A v - lambda v| of each axis is at most PROJECT_TOL lambda_1, and a
 * unit vector with residual r is within about r / gap of the eigenvector
 * (Davis-Kahan), gap the distance from lambda_j to the nearest other
 * eigenvalue; so axis j must agree to TOL + 10 PROJECT_TOL lambda_1 /
 * gap_j, its coordinates to that times sigma_1 (|A v - A v'| <= sigma_1
 * |v - v'|), the squared singular values to 1e-9 lambda_1 and the variance
 * shares to 1e-9. */
/* check_against_dense, with the fit started from `start` (2 x wd, see
 * project_fit_from) unless it is NULL; the fit's iterations are returned. */
static int check_against_dense_from(const double *a, size_t n, size_t d,
				    const double *start, size_t wd)
{
	struct csr X;
	struct projection p;
	struct pl_error err = { 0, "" };
	int iterations;
	double *axis = malloc(2 * d * sizeof(*axis));
	double *coord = malloc(2 * n * sizeof(*coord));
	double sigma2[3], total = 0, mu, gap[2], tol[2];

	double *af = malloc(n * d * sizeof(*af));

	ck_assert(axis && coord && af);
	/* The oracle sees the weights as the projection does: as floats. */
	memcpy(af, a, n * d * sizeof(*af));
	round_to_float(af, n * d);
	a = af;
	csr_dense(&X, a, n, d);
	dense_pca(a, n, d, axis, coord, sigma2);
	gap[0] = sigma2[0] - sigma2[1];
	gap[1] = fmin(sigma2[0] - sigma2[1], sigma2[1] - sigma2[2]);
	ck_assert_msg(project_fit_from(&X, 1, start, wd, &p, &err) == 0,
		      "project_fit_from: %d %s", err.code, err.msg);
	ck_assert(p.converged);
	ck_assert_int_le(p.iterations, PROJECT_MAX_ITER);
	ck_assert_uint_eq(p.n, n);
	ck_assert_uint_eq(p.d, d);
	for (size_t j = 0; j < 2; j++) {
		tol[j] = TOL + 10 * PROJECT_TOL * sigma2[0] / gap[j];
		ck_assert_msg(tol[j] < 1e-6, "eigenvalues too close for this test");
		for (size_t t = 0; t < d; t++)
			ck_assert_msg(fabs(p.axis[j * d + t] - axis[j * d + t]) < tol[j],
				      "axis %zu term %zu: %.12g, dense %.12g", j, t,
				      p.axis[j * d + t], axis[j * d + t]);
		for (size_t i = 0; i < n; i++)
			ck_assert_msg(fabs(p.coord[2 * i + j] - coord[2 * i + j]) <
				      tol[j] * fmax(1, sqrt(sigma2[0])),
				      "statement %zu axis %zu: %.12g, dense %.12g", i, j,
				      p.coord[2 * i + j], coord[2 * i + j]);
		ck_assert_double_eq_tol(p.sigma2[j], sigma2[j], 1e-9 * fmax(1, sigma2[0]));
	}
	for (size_t t = 0; t < d; t++) {
		mu = 0;
		for (size_t i = 0; i < n; i++)
			mu += a[i * d + t] / (double)n;
		for (size_t i = 0; i < n; i++)
			total += (a[i * d + t] - mu) * (a[i * d + t] - mu);
	}
	ck_assert_double_eq_tol(p.total, total, 1e-10 * fmax(1, total));
	ck_assert_double_eq_tol(p.var[0], sigma2[0] / total, 1e-9);
	ck_assert_double_eq_tol(p.var[1], sigma2[1] / total, 1e-9);
	iterations = p.iterations;
	projection_release(&p);
	csr_done(&X);
	free(axis);
	free(coord);
	free(af);
	return iterations;
}

static void check_against_dense(const double *a, size_t n, size_t d)
{
	check_against_dense_from(a, n, d, NULL, 0);
}

/* An n x d matrix (caller frees) whose entries are nonzero with
 * probability `density`, then uniform in (0, 1] like TF-IDF weights;
 * a GSL mt19937 seeded with `seed` draws them. */
static double *random_sparse(size_t n, size_t d, double density, unsigned long seed)
{
	gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
	double *a = malloc(n * d * sizeof(*a));

	ck_assert(rng && a);
	gsl_rng_set(rng, seed);
	for (size_t i = 0; i < n * d; i++)
		a[i] = gsl_rng_uniform(rng) < density ? 1 - gsl_rng_uniform(rng) : 0;
	gsl_rng_free(rng);
	return a;
}

/* Planted topics: `groups` blocks of r statements, block g using m terms
 * of its own with the weights scale[g] R, R one r x m random sparse block
 * (density 0.5) that all share, then 4 more terms of sparse noise (density
 * 0.3, up to 0.1) in every statement.  Blocks with the same scale are
 * interchangeable, so their contrasts have equal eigenvalues; scales a
 * little apart make them close.  Caller frees; n = groups r, d = groups m
 * + 4. */
static double *planted(size_t groups, size_t r, size_t m, const double *scale,
		       unsigned long seed)
{
	size_t n = groups * r, d = groups * m + 4;
	double *R = random_sparse(r, m, 0.5, seed);
	double *noise = random_sparse(n, 4, 0.3, seed + 1);
	double *a = calloc(n * d, sizeof(*a));

	ck_assert(a);
	for (size_t g = 0; g < groups; g++)
		for (size_t i = 0; i < r; i++)
			for (size_t t = 0; t < m; t++)
				a[(g * r + i) * d + g * m + t] = scale[g] * R[i * m + t];
	for (size_t i = 0; i < n; i++)
		for (size_t t = 0; t < 4; t++)
			a[i * d + groups * m + t] = 0.1 * noise[i * 4 + t];
	free(R);
	free(noise);
	return a;
}

/* The squared singular values of the centred a, from the oracle. */
static void dense_sigma2(const double *a, size_t n, size_t d, double *sigma2)
{
	double *axis = malloc(2 * d * sizeof(*axis));
	double *coord = malloc(2 * n * sizeof(*coord));

	ck_assert(axis && coord);
	dense_pca(a, n, d, axis, coord, sigma2);
	free(axis);
	free(coord);
}

START_TEST(tall_matrix)
{
	double a[LN * LD];

	line_plus_noise(a);
	check_against_dense(a, LN, LD);
}
END_TEST

/* More terms than statements (the usual shape of text), with an empty
 * column and a row of a single term. */
START_TEST(wide_matrix)
{
	static const double a[5 * 8] = {
		0.8, 0.6, 0, 0, 0, 0, 0, 0,
		0.7, 0.5, 0.1, 0, 0, 0.5, 0, 0,
		0, 0, 0.9, 0.3, 0, 0.2, 0, 0.25,
		0, 0.1, 0.8, 0.5, 0, 0, 0, 0.3,
		0, 0, 0, 0, 0, 1.0, 0, 0,
	};

	check_against_dense(a, 5, 8);
}
END_TEST

/* Random sparse matrices, tall and wide, sparse and dense, the last one
 * big enough to be swept in two chunks of rows. */
START_TEST(random_sparse_matrices)
{
	static const struct {
		size_t n, d;
		double density;
	} cases[] = {
		{ 40, 25, 0.3 }, { 25, 60, 0.2 }, { 120, 90, 0.1 }, { 8, 300, 0.05 },
		{ 300, 8, 0.5 }, { 60, 60, 0.02 }, { 400, 340, 0.5 },
	};

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		double *a = random_sparse(cases[c].n, cases[c].d, cases[c].density,
					  100 + c);

		check_against_dense(a, cases[c].n, cases[c].d);
		free(a);
	}
}
END_TEST

/* Close eigenvalues: lambda_2 within 2% of lambda_1 (three
 * interchangeable topics, scales 1, 1.005, 1.01), and lambda_3 within 2%
 * of lambda_2 (a heavier topic and three such), tall and wide (the fit
 * works on the shorter side), small and large.  Subspace iteration with
 * two vectors gains lambda_3 / lambda_2 (or lambda_2 / lambda_1) per
 * iteration: 1,000 to 2,000 iterations for 1e-10 here, 5 to 10 times
 * PROJECT_MAX_ITER; the fit must converge. */
START_TEST(close_eigenvalues)
{
	static const double three[3] = { 1, 1.005, 1.01 };
	static const double four[4] = { 1.3, 1, 1.005, 1.01 };
	static const struct {
		size_t groups, r, m;
		const double *scale;
		int close;  /* 0: lambda_2 / lambda_1; 1: lambda_3 / lambda_2 */
	} cases[] = {
		{ 3, 8, 6, three, 0 }, { 4, 8, 6, four, 1 },
		{ 3, 40, 30, three, 0 }, { 4, 40, 30, four, 1 },
		{ 3, 6, 12, three, 0 }, { 4, 8, 14, four, 1 },   /* wide */
		{ 4, 30, 50, four, 1 },
	};

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		size_t n = cases[c].groups * cases[c].r;
		size_t d = cases[c].groups * cases[c].m + 4;
		double *a = planted(cases[c].groups, cases[c].r, cases[c].m,
				    cases[c].scale, 200 + c), s[3];
		int close = cases[c].close;

		dense_sigma2(a, n, d, s);
		ck_assert_msg(s[close + 1] / s[close] > 0.98 &&
			      s[close + 1] / s[close] < 0.999,
			      "case %zu: ratio %g", c, s[close + 1] / s[close]);
		check_against_dense(a, n, d);
		free(a);
	}
}
END_TEST

/* lambda_1 = lambda_2 exactly: three statements of unit norm with no term
 * in common.  The centred rows are x_i - mu, and A A^T = I - J/3 has
 * eigenvalues 1, 1, 0: any two orthonormal axes in the plane of the three
 * points are right, so the test asserts what does not depend on the
 * choice: sigma2 = (1, 1), half the variance each, orthonormal axes, and
 * the points at their true distances, |x_i - x_j| = sqrt(2). */
START_TEST(equal_eigenvalues)
{
	static const double a[3 * 6] = {
		0.6, 0.8, 0, 0, 0, 0,
		0, 0, 1, 0, 0, 0,
		0, 0, 0, 0.48, 0.64, 0.6,
	};
	struct csr X;
	struct projection p;
	double dot = 0, n0 = 0, n1 = 0;

	csr_dense(&X, a, 3, 6);
	fit_ok(&X, 1, &p);
	ck_assert(p.converged);
	/* Unit rows in double are unit to about 1e-7 as floats. */
	ck_assert_double_eq_tol(p.sigma2[0], 1, 1e-6);
	ck_assert_double_eq_tol(p.sigma2[1], 1, 1e-6);
	ck_assert_double_eq_tol(p.total, 2, 1e-6);
	ck_assert_double_eq_tol(p.var[0], 0.5, 1e-6);
	ck_assert_double_eq_tol(p.var[1], 0.5, 1e-6);
	for (size_t t = 0; t < 6; t++) {
		dot += p.axis[t] * p.axis[6 + t];
		n0 += p.axis[t] * p.axis[t];
		n1 += p.axis[6 + t] * p.axis[6 + t];
	}
	ck_assert_double_eq_tol(dot, 0, 1e-10);
	ck_assert_double_eq_tol(n0, 1, 1e-10);
	ck_assert_double_eq_tol(n1, 1, 1e-10);
	for (size_t i = 0; i < 3; i++)
		for (size_t k = i + 1; k < 3; k++)
			ck_assert_double_eq_tol(hypot(p.coord[2 * i] - p.coord[2 * k],
						      p.coord[2 * i + 1] - p.coord[2 * k + 1]),
						sqrt(2), 1e-6);
	projection_release(&p);
	csr_done(&X);
}
END_TEST

/* Six identical statements ("Thank you.") and four of one word each, no
 * two alike: the centred matrix has rank 4, one eigenvalue above three
 * equal ones.  The basis soon spans the whole statements side and the
 * check's residual stays at what rounding allows, above PROJECT_TOL: the
 * fit used to go on to PROJECT_MAX_ITER, restart on rounding noise and
 * return the axes swapped (variances 1.004 and 2.93).  It now stops at
 * the check that no longer improves: the axes in order, the variances
 * right, converged or not. */
START_TEST(exhausted_basis)
{
	/* the TF-IDF rows of such a corpus, as a review ran it through the
	 * pipeline: "thank" alone, or a paragraph of its own words, some
	 * twice */
	static const double w1[] = { 1, 2, 1, 2 }, w2[] = { 1, 2, 1, 1, 1 },
			    w3[] = { 1, 2, 1, 2 }, w4[] = { 1, 1, 1, 1, 1, 1 };
	static const double *const w[4] = { w1, w2, w3, w4 };
	static const size_t nw[4] = { 4, 5, 4, 6 }, row[4] = { 1, 3, 4, 7 };
	double a[10 * 20] = { 0 }, sigma2[3];
	struct csr X;
	struct projection p;
	size_t col = 1;

	for (size_t i = 0; i < 10; i++)
		a[i * 20] = 1;
	for (size_t g = 0; g < 4; g++) {
		double nrm = 0;

		for (size_t t = 0; t < nw[g]; t++)
			nrm += w[g][t] * w[g][t];
		a[row[g] * 20] = 0;
		for (size_t t = 0; t < nw[g]; t++)
			a[row[g] * 20 + col + t] = w[g][t] / sqrt(nrm);
		col += nw[g];
	}
	round_to_float(a, 10 * 20);
	dense_sigma2(a, 10, 20, sigma2);
	csr_dense(&X, a, 10, 20);
	fit_ok(&X, 1, &p);
	ck_assert_int_lt(p.iterations, PROJECT_MAX_ITER);
	/* Its eigenvalues below the first differ in the 8th digit (the
	 * weights are floats): a basis vector made from such a near-copy was
	 * 3.4e-9 off orthogonal until extend() took the pair's second vector
	 * against the whole basis again, and the check's residual stayed at
	 * 5e-10 sigma_0^2, above PROJECT_TOL (converged 0). */
	ck_assert_int_eq(p.converged, 1);
	ck_assert_msg(p.sigma2[0] >= p.sigma2[1], "axes out of order: %g, %g",
		      p.sigma2[0], p.sigma2[1]);
	ck_assert_double_eq_tol(p.sigma2[0], sigma2[0], 1e-6);
	ck_assert_double_eq_tol(p.sigma2[1], sigma2[1], 1e-6);
	projection_release(&p);
	csr_done(&X);
}
END_TEST

/* A statement with no terms is at -mu.v on each axis (its row of the
 * centred matrix is -mu). */
START_TEST(empty_row)
{
	double a[LN * LD], mu[LD] = { 0 };
	struct csr X;
	struct projection p;

	line_plus_noise(a);
	round_to_float(a, LN * LD);
	csr_dense(&X, a, LN, LD);
	ck_assert_uint_eq(X.rowptr[3], X.rowptr[4]);  /* row 3 is empty */
	fit_ok(&X, 1, &p);
	for (size_t i = 0; i < LN; i++)
		for (size_t t = 0; t < LD; t++)
			mu[t] += a[i * LD + t] / LN;
	for (size_t j = 0; j < 2; j++) {
		double mv = 0;

		for (size_t t = 0; t < LD; t++)
			mv += mu[t] * p.axis[j * LD + t];
		ck_assert_double_eq_tol(p.coord[2 * 3 + j], -mv, 1e-12);
	}
	projection_release(&p);
	csr_done(&X);
}
END_TEST

/* Same input and seed, same bits; another seed, the same answer to 1e-8
 * (the start vectors differ, the converged axes do not). */
START_TEST(deterministic)
{
	double a[LN * LD];
	struct csr X;
	struct projection p, q, r;

	line_plus_noise(a);
	csr_dense(&X, a, LN, LD);
	fit_ok(&X, 7, &p);
	fit_ok(&X, 7, &q);
	fit_ok(&X, 12345, &r);
	ck_assert_int_eq(memcmp(p.coord, q.coord, 2 * LN * sizeof(double)), 0);
	ck_assert_int_eq(memcmp(p.axis, q.axis, 2 * LD * sizeof(double)), 0);
	ck_assert_int_eq(p.iterations, q.iterations);
	for (size_t i = 0; i < 2 * LN; i++)
		ck_assert_double_eq_tol(p.coord[i], r.coord[i], TOL);
	projection_release(&p);
	projection_release(&q);
	projection_release(&r);
	csr_done(&X);
}
END_TEST

/* Axes the data do not have are exactly 0: identical statements (no
 * variance at all), points on one line (rank 1), a single term. */
START_TEST(rank_deficient)
{
	static const double same[3 * 3] = { 0.6, 0.8, 0, 0.6, 0.8, 0, 0.6, 0.8, 0 };
	static const double line[4 * 3] = {
		1, 2, 0, 2, 4, 0, 3, 6, 0, 0.5, 1, 0,
	};
	static const double one[3 * 1] = { 1, 2, 0 };
	struct csr X;
	struct projection p;

	csr_dense(&X, same, 3, 3);
	fit_ok(&X, 1, &p);
	ck_assert(p.converged);
	for (size_t i = 0; i < 6; i++)
		ck_assert(p.coord[i] == 0);
	ck_assert(p.var[0] == 0 && p.var[1] == 0 && p.total == 0);
	projection_release(&p);
	csr_done(&X);

	/* rows t (1, 2, 0), t = 1, 2, 3, 0.5: mean t 1.625, the axis
	 * (1, 2, 0)/sqrt(5), coordinates (t - 1.625) sqrt(5) */
	csr_dense(&X, line, 4, 3);
	fit_ok(&X, 1, &p);
	ck_assert(p.converged);
	ck_assert_double_eq_tol(p.axis[0], 1 / sqrt(5), 1e-12);
	ck_assert_double_eq_tol(p.axis[1], 2 / sqrt(5), 1e-12);
	ck_assert_double_eq_tol(p.coord[0], (1 - 1.625) * sqrt(5), 1e-12);
	ck_assert_double_eq_tol(p.coord[2], (2 - 1.625) * sqrt(5), 1e-12);
	ck_assert_double_eq_tol(p.coord[6], (0.5 - 1.625) * sqrt(5), 1e-12);
	ck_assert_double_eq_tol(p.var[0], 1, 1e-12);
	for (size_t i = 0; i < 4; i++)
		ck_assert(p.coord[2 * i + 1] == 0);
	ck_assert(p.sigma2[1] == 0 && p.var[1] == 0);
	projection_release(&p);
	csr_done(&X);

	/* one column: values 1, 2, 0, mean 1 */
	csr_dense(&X, one, 3, 1);
	fit_ok(&X, 1, &p);
	ck_assert_double_eq_tol(p.coord[0], 0, 1e-12);
	ck_assert_double_eq_tol(p.coord[2], 1, 1e-12);
	ck_assert_double_eq_tol(p.coord[4], -1, 1e-12);
	ck_assert(p.coord[1] == 0 && p.coord[3] == 0 && p.coord[5] == 0);
	projection_release(&p);
	csr_done(&X);
}
END_TEST

/* Every allocation failing in turn: PL_EX_OSERR and a zeroed result,
 * never a crash or a leak (valgrind and ASan see to the last). */
START_TEST(out_of_memory)
{
	double a[LN * LD];
	struct csr X;
	struct projection p;
	int ok = 0;

	line_plus_noise(a);
	csr_dense(&X, a, LN, LD);
	for (unsigned long n = 1; !ok && n < 100; n++) {
		struct pl_error err = { 0, "" };

		pl_alloc_fail_at(n, 0);
		if (project_fit(&X, 1, &p, &err) == 0) {
			ok = 1;
			projection_release(&p);
		} else {
			ck_assert_int_eq(err.code, PL_EX_OSERR);
			ck_assert_ptr_null(p.coord);
		}
	}
	pl_alloc_fail_at(0, 0);
	ck_assert(ok);
	csr_done(&X);
}
END_TEST

/* A start from given axes (a rerun starts from the previous run's) meets
 * the same test as a start from draws, so it must agree with the dense
 * oracle just as well, whatever it starts from: the answer itself (in
 * fewer iterations than from draws), the answer blurred by noise of 0.05
 * per entry, the axes of an earlier matrix with fewer terms (a corpus
 * that grew), zero (nothing to start from: draws instead), and axes for
 * more terms than the matrix has (ignored: exactly the bits of a start
 * from draws).  Tall and wide, so both sides of the Lanczos are started. */
START_TEST(warm_start)
{
	static const size_t shape[2][2] = { { 120, 90 }, { 40, 150 } };

	for (int s = 0; s < 2; s++) {
		const size_t n = shape[s][0], d = shape[s][1];
		double *a = random_sparse(n, d, 0.2, 300 + (unsigned long)s);
		double *start = calloc(2 * (d + 5), sizeof(*start));
		double *fewer = calloc(2 * (d - 10), sizeof(*fewer));
		struct projection p, q;
		struct pl_error err = { 0, "" };
		gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
		int cold, warm;
		struct csr X;

		ck_assert(a && start && fewer && rng);
		round_to_float(a, n * d);
		cold = check_against_dense_from(a, n, d, NULL, 0);
		csr_dense(&X, a, n, d);
		fit_ok(&X, 1, &p);

		warm = check_against_dense_from(a, n, d, p.axis, d);
		ck_assert_msg(warm < cold, "from the answer: %d iterations, "
			      "from draws %d", warm, cold);

		gsl_rng_set(rng, 5);
		for (size_t i = 0; i < 2 * d; i++)
			start[i] = p.axis[i] + 0.05 * (gsl_rng_uniform(rng) - 0.5);
		check_against_dense_from(a, n, d, start, d);

		/* The earlier matrix: these rows, 10 terms fewer. */
		{
			double *b = malloc(n * (d - 10) * sizeof(*b));
			struct csr Y;
			struct projection r;

			ck_assert_ptr_nonnull(b);
			for (size_t i = 0; i < n; i++)
				memcpy(b + i * (d - 10), a + i * d, (d - 10) * sizeof(*b));
			csr_dense(&Y, b, n, d - 10);
			fit_ok(&Y, 1, &r);
			memcpy(fewer, r.axis, 2 * (d - 10) * sizeof(*fewer));
			projection_release(&r);
			csr_done(&Y);
			free(b);
		}
		check_against_dense_from(a, n, d, fewer, d - 10);

		memset(start, 0, 2 * (d + 5) * sizeof(*start));
		check_against_dense_from(a, n, d, start, d);

		for (size_t i = 0; i < 2 * (d + 5); i++)
			start[i] = 1;
		ck_assert_int_eq(project_fit_from(&X, 1, start, d + 5, &q, &err), 0);
		ck_assert_int_eq(q.iterations, p.iterations);
		ck_assert_mem_eq(q.coord, p.coord, 2 * n * sizeof(*q.coord));
		ck_assert_mem_eq(q.axis, p.axis, 2 * d * sizeof(*q.axis));
		projection_release(&q);

		projection_release(&p);
		csr_done(&X);
		gsl_rng_free(rng);
		free(fewer);
		free(start);
		free(a);
	}
}
END_TEST

/* ---- the stage: projection.tsv ---- */

/* Run stage_project on the n x d matrix a with the clusters in assign
 * (NULL: none) and ctx->rep.threads = threads, into dir/out; returns
 * projection.tsv (caller frees). */
static char *run_stage(const char *dir, const double *a, size_t n, size_t d,
		       const int32_t *assign, long threads)
{
	struct pl_error err = { 0, "" };
	struct config cfg;
	struct ctx ctx;
	char path[4200], *text;

	ck_assert_int_eq(config_init(&cfg, &err), 0);
	ctx_init(&ctx, &cfg);
	snprintf(path, sizeof(path), "%s/out", dir);
	ctx.outdir = path;
	ctx.rep.threads = threads;
	csr_dense(&ctx.tfidf, a, n, d);
	ctx.km.k = assign ? 2 : 0;
	ctx.km.assign = (int32_t *)assign;
	ck_assert_msg(out_begin(&ctx, &err) == 0, "%s", err.msg);
	ck_assert_msg(stage_project.run(&ctx, &err) == 0, "%s", err.msg);
	ck_assert_msg(stage_project.finish(&ctx, &err) == 0, "%s", err.msg);
	ck_assert_ptr_null(ctx.projector);
	ck_assert_msg(out_publish(&ctx, &err) == 0, "%s", err.msg);
	ck_assert(ctx.rep.proj_var[0] > ctx.rep.proj_var[1]);
	ck_assert(ctx.rep.proj_var[1] > 0);
	ck_assert(ctx.rep.proj_var[0] + ctx.rep.proj_var[1] <= 1);
	csr_done(&ctx.tfidf);
	config_release(&cfg);
	snprintf(path, sizeof(path), "%s/out/projection.tsv", dir);
	text = test_slurp(path);
	ck_assert_ptr_nonnull(text);
	return text;
}

/* A fresh folder dir/name (caller frees the path). */
static char *subdir(const char *dir, const char *name)
{
	size_t len = strlen(dir) + strlen(name) + 2;
	char *sub = malloc(len);

	ck_assert_ptr_nonnull(sub);
	snprintf(sub, len, "%s/%s", dir, name);
	ck_assert_int_eq(mkdir(sub, 0777), 0);
	return sub;
}

START_TEST(projection_tsv)
{
	static const int32_t assign[LN] = { 0, 0, 1, -1, 1, 0, 1, 1, 0, 1 };
	char *dir = test_tmpdir(), *sub1, *sub2, *a, *b, *line;
	double x, y, m[LN * LD];
	int n = 0;

	line_plus_noise(m);
	sub1 = subdir(dir, "1");
	sub2 = subdir(dir, "2");
	a = run_stage(sub1, m, LN, LD, assign, 1);
	b = run_stage(sub2, m, LN, LD, assign, 1);
	ck_assert_str_eq(a, b);  /* same input, same bytes */

	ck_assert_int_eq(strncmp(a, "unit\tx\ty\tcluster\n", 17), 0);
	for (line = strchr(a, '\n') + 1; *line; line = strchr(line, '\n') + 1) {
		int unit;
		char cluster[8];

		ck_assert_int_eq(sscanf(line, "%d\t%lf\t%lf\t%7s", &unit, &x, &y,
					cluster), 4);
		ck_assert_int_eq(unit, ++n);
		if (unit == 4)
			ck_assert_str_eq(cluster, "NA");
		else
			ck_assert_str_eq(cluster, unit == 1 || unit == 2 || unit == 6 ||
						  unit == 9 ? "1" : "2");
	}
	ck_assert_int_eq(n, LN);
	free(a);
	free(b);
	test_rmtree(dir);
	free(sub1);
	free(sub2);
	free(dir);
}
END_TEST

/* The stage takes the rows on ctx->rep.threads threads: a tall and a wide
 * matrix of about 136,000 entries (four chunks of rows; the tall one
 * iterates on A^T A, the wide one on A A^T) give the same projection.tsv
 * on 1, 2, 3 and 4 threads, and the bits project_fit() gives on one. */
START_TEST(threads)
{
	static const size_t shape[2][2] = { { 620, 440 }, { 300, 900 } };

	for (int s = 0; s < 2; s++) {
		const size_t n = shape[s][0], d = shape[s][1];
		double *m = random_sparse(n, d, 0.5, 7 + (unsigned long)s);
		char *dir = test_tmpdir(), *text[4], *want, *w;
		struct projection p;
		struct csr X;

		for (long t = 1; t <= 4; t++) {
			char name[8], *sub;

			snprintf(name, sizeof(name), "%ld", t);
			sub = subdir(dir, name);
			text[t - 1] = run_stage(sub, m, n, d, NULL, t);
			free(sub);
		}
		csr_dense(&X, m, n, d);
		fit_ok(&X, 1, &p);
		want = malloc(64 * (n + 1));
		ck_assert_ptr_nonnull(want);
		w = want + snprintf(want, 64, "unit\tx\ty\tcluster\n");
		for (size_t i = 0; i < n; i++)
			w += snprintf(w, 64, "%zu\t%.9g\t%.9g\tNA\n", i + 1,
				      p.coord[2 * i], p.coord[2 * i + 1]);
		for (int t = 0; t < 4; t++) {
			ck_assert_str_eq(text[t], want);
			free(text[t]);
		}
		free(want);
		projection_release(&p);
		csr_done(&X);
		free(m);
		test_rmtree(dir);
		free(dir);
	}
}
END_TEST

/* The fit runs beside the later stages, so its failure shows when the
 * driver finishes the stage: run succeeds, finish reports the error (a
 * weight that is not finite) and writes nothing.  A run that fails
 * before finishing leaves the fit to the release hook, which waits for
 * it and frees everything (ASan and valgrind check the freeing). */
START_TEST(stage_errors)
{
	double m[LN * LD];
	struct pl_error err = { 0, "" };
	struct config cfg;
	struct ctx ctx;
	char *dir = test_tmpdir(), path[4200];

	line_plus_noise(m);
	m[3] = NAN;
	ck_assert_int_eq(config_init(&cfg, &err), 0);
	ctx_init(&ctx, &cfg);
	snprintf(path, sizeof(path), "%s/out", dir);
	ctx.outdir = path;
	ctx.rep.threads = 2;
	csr_dense(&ctx.tfidf, m, LN, LD);
	ck_assert_msg(out_begin(&ctx, &err) == 0, "%s", err.msg);
	ck_assert_msg(stage_project.run(&ctx, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(stage_project.finish(&ctx, &err), -1);
	ck_assert_int_eq(err.code, PL_EX_DATAERR);
	ck_assert_msg(strstr(err.msg, "not all finite"), "%s", err.msg);
	ck_assert_ptr_null(ctx.projector);
	ck_assert_int_eq(ctx.nstaged, 0);

	/* Started and never finished: released. */
	m[3] = 0.5;
	csr_done(&ctx.tfidf);
	csr_dense(&ctx.tfidf, m, LN, LD);
	ck_assert_msg(stage_project.run(&ctx, &err) == 0, "%s", err.msg);
	ck_assert_ptr_nonnull(ctx.projector);
	stage_project.release(&ctx);
	ck_assert_ptr_null(ctx.projector);
	/* Finishing a stage that did not run writes nothing. */
	ck_assert_int_eq(stage_project.finish(&ctx, &err), 0);
	ck_assert_int_eq(ctx.nstaged, 0);
	ck_assert_msg(out_publish(&ctx, &err) == 0, "%s", err.msg);
	csr_done(&ctx.tfidf);
	config_release(&cfg);
	test_rmtree(dir);
	free(dir);
}
END_TEST

/* One stage run on the n x d matrix m into dir/out, as a run that writes
 * the cache (run_id set) when `cache` is NULL, else as a rerun whose
 * previous cache is `cache`; warm_flag is [kmeans] warm_start's value.
 * Returns the fit's iterations, *warm whether it started from the axes. */
static int stage_once(const char *dir, const double *m, size_t n, size_t d,
		      struct cache *cache, const char *warm_flag, int *warm)
{
	struct pl_error err = { 0, "" };
	struct config cfg;
	struct ctx ctx;
	char path[4200], run_id[] = "20261124T000000Z-1";
	int it;

	ck_assert_int_eq(config_init(&cfg, &err), 0);
	snprintf(path, sizeof(path), "kmeans.warm_start=%s", warm_flag);
	ck_assert_msg(config_override(&cfg, path, &err) == 0, "%s", err.msg);
	ctx_init(&ctx, &cfg);
	snprintf(path, sizeof(path), "%s/out", dir);
	ctx.outdir = path;
	ctx.rep.threads = 2;
	ctx.cache = cache;
	ctx.run_id = cache ? NULL : run_id;
	csr_dense(&ctx.tfidf, m, n, d);
	ck_assert_msg(out_begin(&ctx, &err) == 0, "%s", err.msg);
	ck_assert_msg(stage_project.run(&ctx, &err) == 0, "%s", err.msg);
	ck_assert_msg(stage_project.finish(&ctx, &err) == 0, "%s", err.msg);
	ck_assert_msg(out_publish(&ctx, &err) == 0, "%s", err.msg);
	out_abandon(&ctx);
	it = ctx.rep.proj_iterations;
	*warm = ctx.rep.proj_warm;
	ck_assert(ctx.rep.proj_converged);
	ctx.run_id = NULL;
	csr_done(&ctx.tfidf);
	config_release(&cfg);
	return it;
}

/* A run that writes the cache stages cache-axes.bin (pipeline/cache.h); a
 * rerun whose cache is that set's, with as many terms, starts the fit
 * from those axes (fewer iterations on the same matrix); one that does
 * not start from them: [kmeans] warm_start = no, a file for another
 * number of terms, a damaged file (one flipped byte) or none.  Every one
 * of them succeeds. */
START_TEST(stage_warm_start)
{
	const size_t n = 120, d = 90;
	double *m = random_sparse(n, d, 0.2, 300);
	char *dir = test_tmpdir(), path[4200];
	struct cache c;
	int cold, it, warm;
	FILE *f;
	long size;

	memset(&c, 0, sizeof(c));
	snprintf(path, sizeof(path), "%s/out", dir);
	c.set = path;
	c.terms.n = d;
	cold = stage_once(dir, m, n, d, NULL, "yes", &warm);
	ck_assert_int_eq(warm, 0);
	snprintf(path, sizeof(path), "%s/out/cache-axes.bin", dir);
	f = fopen(path, "rb");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	size = ftell(f);
	fclose(f);
	ck_assert_int_eq(size, 24 + 8 * (long)d);
	snprintf(path, sizeof(path), "%s/out", dir);

	it = stage_once(dir, m, n, d, &c, "yes", &warm);
	ck_assert_int_eq(warm, 1);
	ck_assert_msg(it < cold, "warm %d iterations, cold %d", it, cold);
	/* That rerun wrote no axes (no run id): the file is still there. */
	ck_assert_int_eq(stage_once(dir, m, n, d, &c, "no", &warm), cold);
	ck_assert_int_eq(warm, 0);
	c.terms.n = d - 1;
	ck_assert_int_eq(stage_once(dir, m, n, d, &c, "yes", &warm), cold);
	ck_assert_int_eq(warm, 0);
	c.terms.n = d;
	snprintf(path, sizeof(path), "%s/out/cache-axes.bin", dir);
	f = fopen(path, "r+b");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fseek(f, 40, SEEK_SET), 0);
	ck_assert_int_eq(fputc(0x55, f), 0x55);
	fclose(f);
	snprintf(path, sizeof(path), "%s/out", dir);
	ck_assert_int_eq(stage_once(dir, m, n, d, &c, "yes", &warm), cold);
	ck_assert_int_eq(warm, 0);
	snprintf(path, sizeof(path), "%s/out/cache-axes.bin", dir);
	ck_assert_int_eq(unlink(path), 0);
	snprintf(path, sizeof(path), "%s/out", dir);
	ck_assert_int_eq(stage_once(dir, m, n, d, &c, "yes", &warm), cold);
	ck_assert_int_eq(warm, 0);
	free(m);
	test_rmtree(dir);
	free(dir);
}
END_TEST

Suite *suite_project(void)
{
	Suite *s = suite_create("project");
	TCase *tc = tcase_create("svd");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, tall_matrix);
	tcase_add_test(tc, wide_matrix);
	tcase_add_test(tc, random_sparse_matrices);
	tcase_add_test(tc, close_eigenvalues);
	tcase_add_test(tc, equal_eigenvalues);
	tcase_add_test(tc, exhausted_basis);
	tcase_add_test(tc, empty_row);
	tcase_add_test(tc, deterministic);
	tcase_add_test(tc, rank_deficient);
	tcase_add_test(tc, warm_start);
	suite_add_tcase(s, tc);
	tc = tcase_create("errors");
	tcase_add_test(tc, out_of_memory);
	suite_add_tcase(s, tc);
	tc = tcase_create("stage");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, projection_tsv);
	tcase_add_test(tc, threads);
	tcase_add_test(tc, stage_errors);
	tcase_add_test(tc, stage_warm_start);
	suite_add_tcase(s, tc);
	return s;
}
