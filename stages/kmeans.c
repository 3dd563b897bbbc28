/* kmeans.c -- k-means clustering of the sparse TF-IDF rows
 *
 * In: the TF-IDF matrix (units x kept terms, CSR, `fval` weights) and the
 * [kmeans] options.  Out: struct clustering (stages.h): a cluster per unit,
 * its cosine similarity to the centroid, the dense k x terms centroids and
 * the cluster sizes, numbered by size.  Rows stay sparse throughout; only
 * the centroids are dense, so memory is O(nnz + k * terms + units * k),
 * and an iteration costs O(nnz * k) at worst; bounds (see "the
 * assignment step") skip most of that work without changing any result.
 *
 * The algorithm, exactly:
 *  - Rows with norm 0 (no terms) are left out: assign -1, sim 0.  Fewer
 *    such rows than k is a PL_EX_DATAERR.
 *  - cosine (spherical k-means): every row is used at unit length (through
 *    a per-row inverse norm; X is not modified), a centroid is the mean of
 *    its unit rows scaled to unit length, a row goes to the centroid with
 *    the largest dot product, and the objective is the sum of (1 - cos).
 *    euclidean (Lloyd): raw rows, squared distance |x|^2 - 2 x.c + |c|^2
 *    (clamped at 0), centroid = mean, objective = the sum of squared
 *    distances (scikit-learn's inertia_).  Ties go to the lowest cluster.
 *  - Seeding: greedy kmeans++, as scikit-learn's: a first centre uniformly
 *    among the rows with terms, then for each next one 2 + ln k candidates
 *    drawn with probability proportional to their cost to the nearest
 *    centre so far (1 - cos, which is half the squared distance between
 *    unit rows; or the squared distance), keeping the one that lowers the
 *    total cost most; when every cost is 0 it takes one uniformly among the
 *    rows not yet taken.  random takes k
 *    distinct rows uniformly (gsl_ran_choose).
 *  - One iteration: assign every row to its nearest centroid (a loop with
 *    no shared writes, split across threads), then recompute the
 *    centroids, each one's sum in row order (the clusters are shared out
 *    among the threads, whole, so the bits do not depend on how many
 *    there are).  Before that, each empty cluster
 *    takes the row with the largest cost to its current centroid among rows
 *    whose cluster has more than one member (ties: lowest row).  Stop when
 *    no assignment changed or the objective improved by no more than
 *    tol * |previous| (both count as converged), or after max_iter.  The
 *    centroids returned are those of the last update, the objective is the
 *    one of the returned assignment against them, and no cluster is empty.
 *  - restarts runs are made; the lowest objective is kept (ties: the
 *    earliest).  A warm start (opts.warm) makes one run from the given
 *    centroids instead (kmeans.h).  All randomness comes from one
 *    gsl_rng_mt19937 seeded with opts.seed and drawn in sequence through
 *    the restarts, and every sum is taken in a fixed order: same input and
 *    seed, same bits out.
 *  - The clusters are renumbered by size, largest first, ties by the lowest
 *    row index among their members.
 * Every work array is allocated once per fit, before the first restart.
 *
 * Choosing k: kmeans_quality() scores a clustering by the silhouette,
 * Calinski-Harabasz and Davies-Bouldin indices (the definitions, and the
 * scikit-learn function each reproduces, are above it), and kmeans_sweep()
 * fits every k of a range and keeps the one [kmeans] select prefers.  The
 * stage always sweeps (a single k is a sweep of one), so ksweep.tsv always
 * carries the quality figures of the k in use.  kmeans_match() pairs the
 * clusters of two fits by an optimal assignment of their centroids.
 */
#include "kmeans.h"
#include "../pipeline/cache.h"

#include <float.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* The state of one fit.  Per-row arrays have X->nrows entries; cluster
 * labels are -1 for rows without terms in every label array. */
struct km {
	const struct csr *X;
	const struct kmeans_opts *o;
	size_t n, d, m;       /* rows, columns, rows with terms */
	uint32_t k;
	int cosine;
	size_t *rows;         /* the m rows with terms, ascending */
	const double *nrm2;   /* squared norm of each raw row: o->nrm2, or */
	double *own_nrm2;     /* computed here (when o->nrm2 is NULL) */
	double *scale;        /* 1 / norm (cosine) or 1 (euclidean); 0 if empty */
	int32_t *lab;         /* labels after the last centroid update */
	int32_t *nxt;         /* labels from the assignment step */
	int32_t *best_lab;    /* labels of the best restart so far */
	double *cost;         /* 1 - cos or squared distance to own centroid */
	double *C;            /* k x d centroids of the current restart; NULL
				 until a restart after the first needs it */
	double *best_C;       /* k x d centroids of the best restart (NULL
				 before the first ends); renumber() permutes
				 them in place and hands them to the result */
	double *cn2;          /* squared norm of each centroid in C */
	double *Ct;           /* d x k: C transposed, for the assignment step */
	double *trial;        /* kmeans++: weights if the current candidate won */
	double *trial_best;   /* kmeans++: weights for the best candidate */
	double *dots;         /* nthreads x k scratch for the assignment */
	uint32_t *cand;       /* nthreads x k scratch: centroids to compute */
	double *bnd;          /* m x k bounds, row t for rows[t] (see "the
				 assignment step"); NULL for opts.plain */
	double *move;         /* k: how far each centroid moved in the last
				 update step, rounded up */
	double *gown;         /* m: x . C_j for j = glab[t], from the last
				 assignment step (bounds only) */
	int32_t *glab;        /* m: the centroid gown is for */
	int ct_current;       /* Ct already holds C (compute_moves copied it) */
	size_t *order;        /* m: rows (as t) in the order assigned */
	unsigned char *dirty; /* k: clusters whose members changed in this
				 iteration (bounds only; NULL for plain) */
	size_t *cnt;          /* nthreads x (k + 1) scratch for that order */
	double eta;           /* relative rounding margin of a cost */
	double cmax;          /* largest centroid norm, rounded up */
	unsigned char *zero;  /* warm start: 1 for each all-zero centroid */
	const unsigned char *skip; /* centroids the assignment step ignores:
				 zero in a warm start's first step, else NULL */
	int nthreads;
	size_t *count;        /* members per cluster */
	struct load *load;    /* k: the clusters by their rows' entries */
	uint64_t *share;      /* nthreads: entries each share sums */
	uint32_t *owner;      /* k: the share that sums each cluster */
	size_t bound[PL_MAX_THREADS + 1]; /* final_costs' shares */
	size_t *pick;         /* the k rows chosen as initial centres */
	unsigned char *taken; /* per row: already an initial centre */
	struct order *ord;    /* k entries, for the final numbering */
	gsl_rng *rng;
};

/* A cluster as the update step shares them out. */
struct load {
	uint64_t entries;     /* of its rows */
	uint32_t j;
};

/* A cluster as sorted for the final numbering. */
struct order {
	size_t size, first;   /* members, lowest member row */
	uint32_t old;         /* label before renumbering */
};

/* |x_i|^2, summed in double in column order. */
static double row_norm2(const struct csr *X, size_t i)
{
	double s = 0;

	for (uint64_t p = X->rowptr[i]; p < X->rowptr[i + 1]; p++)
		s += (double)X->fval[p] * X->fval[p];
	return s;
}

/* x_i . c for a dense centroid row c, summed in column order. */
static double row_dot(const struct csr *X, size_t i, const double *c)
{
	double s = 0;
	uint64_t p;

	for (p = X->rowptr[i]; p < X->rowptr[i + 1]; p++)
		s += X->fval[p] * c[X->col[p]];
	return s;
}

/* The cost of row i in cluster j, given dot = x_i . C_j (raw row). */
static double row_cost(const struct km *km, size_t i, uint32_t j, double dot)
{
	double c;

	if (km->cosine)
		c = 1.0 - km->scale[i] * dot;
	else
		c = km->nrm2[i] - 2.0 * dot + km->cn2[j];
	return c > 0 ? c : 0;  /* rounding can dip below 0 */
}

/* Squared norm of a dense row of length d. */
static double dense_norm2(const double *c, size_t d)
{
	double s = 0;
	size_t t;

	for (t = 0; t < d; t++)
		s += c[t] * c[t];
	return s;
}

/* Make row i (unit length for cosine) the centroid of cluster j. */
static void set_centre(struct km *km, uint32_t j, size_t i)
{
	const struct csr *X = km->X;
	double *c = km->C + (size_t)j * km->d;
	uint64_t p;

	memset(c, 0, km->d * sizeof(*c));
	for (p = X->rowptr[i]; p < X->rowptr[i + 1]; p++)
		c[X->col[p]] = km->scale[i] * X->fval[p];
	km->cn2[j] = dense_norm2(c, km->d);
}

/* The kmeans++ weights if row i became centre j: each row's cost to its
 * nearest centre so far (km->cost) or to i, whichever is lower, into out;
 * returns their sum (the potential).  Uses C's row j as scratch. */
static double trial_costs(struct km *km, uint32_t j, size_t i, double *out)
{
	const double *c = km->C + (size_t)j * km->d;
	double pot = 0;

	set_centre(km, j, i);
	for (size_t t = 0; t < km->m; t++) {
		size_t r = km->rows[t];
		double w;

		if (km->taken[r] || r == i) {
			out[r] = 0;
			continue;
		}
		w = row_cost(km, r, j, row_dot(km->X, r, c));
		out[r] = j == 0 || w < km->cost[r] ? w : km->cost[r];
		pot += out[r];
	}
	return pot;
}

/* A row drawn with probability proportional to its weight in km->cost
 * (total > 0): the first row whose running sum passes u * total. */
static size_t draw_weighted(struct km *km, double total)
{
	double u = gsl_rng_uniform(km->rng) * total;
	double cum = 0;
	size_t t, last = SIZE_MAX;

	for (t = 0; t < km->m; t++) {
		size_t r = km->rows[t];

		if (km->cost[r] > 0)
			last = r;
		cum += km->cost[r];
		if (cum > u && km->cost[r] > 0)
			return r;
	}
	return last; /* u rounded up to total: the last candidate */
}

/*
 * Greedy kmeans++ seeding, as scikit-learn's KMeans does it: the first
 * centre uniformly among the rows; each next one by drawing 2 + ln k
 * candidates with probability proportional to their cost to the nearest
 * centre so far (D^2; 1 - cos for cosine, half the squared distance of
 * unit rows) and keeping the candidate that lowers the total cost most
 * (ties: the earlier draw).  The weights live in km->cost.
 */
static void init_plusplus(struct km *km)
{
	int trials = 2 + (int)log((double)km->k);
	size_t t, i = 0;
	uint32_t j;

	memset(km->taken, 0, km->n);
	for (j = 0; j < km->k; j++) {
		double total = 0;

		for (t = 0; j > 0 && t < km->m; t++)
			total += km->cost[km->rows[t]];
		if (!(total > 0)) {
			/* uniformly among the rows not yet taken */
			unsigned long r = gsl_rng_uniform_int(km->rng, km->m - j);

			for (t = 0; t < km->m; t++) {
				i = km->rows[t];
				if (km->taken[i])
					continue;
				if (r == 0)
					break;
				r--;
			}
			trial_costs(km, j, i, km->trial_best);
		} else {
			double best_pot = 0;
			size_t best = SIZE_MAX;

			for (int tr = 0; tr < trials; tr++) {
				size_t cand = draw_weighted(km, total);
				double pot = trial_costs(km, j, cand, km->trial);

				if (best == SIZE_MAX || pot < best_pot) {
					double *sw = km->trial_best;

					km->trial_best = km->trial;
					km->trial = sw;
					best_pot = pot;
					best = cand;
				}
			}
			i = best;
		}
		km->taken[i] = 1;
		km->pick[j] = i;
		set_centre(km, j, i);
		/* the new weights: each row's cost to its nearest centre */
		for (t = 0; t < km->m; t++)
			km->cost[km->rows[t]] = km->trial_best[km->rows[t]];
	}
}

/* Seed the centroids of one restart.  0 or -1. */
static int init_centres(struct km *km, struct pl_error *err)
{
	uint32_t j;
	int status;

	if (km->o->init == KMEANS_INIT_PLUSPLUS) {
		init_plusplus(km);
		return 0;
	}
	status = gsl_ran_choose(km->rng, km->pick, km->k, km->rows, km->m,
				sizeof(*km->pick));
	if (status)
		return pl_fail(err, PL_EX_SOFTWARE, "kmeans: random seeding: %s",
			       gsl_strerror(status));
	for (j = 0; j < km->k; j++)
		set_centre(km, j, km->pick[j]);
	return 0;
}

/* ---- the assignment step ----
 *
 * Each row with terms goes to the centroid with the lowest cost (cosine:
 * the largest dot product x . C_j of the raw row; euclidean: the smallest
 * |x|^2 - 2 x.C_j + |C_j|^2, clamped at 0), ties to the lowest cluster,
 * and cost[i] is that cost.  Plain Lloyd (opts.plain) computes every dot
 * product: O(nnz k) per iteration.  By default bounds skip most of them,
 * in Elkan's way, and the result is still plain Lloyd's, bit for bit:
 *
 *  - For row t (rows[t]) and every centroid j, bnd[t k + j] holds a bound
 *    that says how far C_j is at least:
 *      euclidean   b <= |x - C_j|       (a distance)
 *      cosine      b <= -x . C_j        (x the raw row, C_j unit or 0)
 *    It is set whenever x . C_j is computed, and after each update step
 *    lowered by move[j] >= |C_j' - C_j| (times |x| for cosine): the
 *    triangle inequality and Cauchy-Schwarz keep it a bound.
 *  - A row whose centroid a is known (every iteration but a run's first)
 *    computes x . C_a, which it needs anyway (the objective sums every
 *    row's exact cost, and the convergence test uses it), then x . C_j
 *    only for the j whose bound does not prove C_j worse than C_a; among
 *    those and a it picks as plain Lloyd does, and refreshes their
 *    bounds.  With half of them or more left, it computes them all.
 *  - Rounding: the cost plain Lloyd compares differs from the exact one
 *    by at most E = eta (|x| + max|C|)^2 (cosine: the dot product, by eta
 *    |x| max|C|), with eta = 8 (n + 4) DBL_EPSILON, n = max(columns,
 *    longest row): twice the textbook worst case of the rounding of
 *    sums of n products (Higham, "Accuracy and Stability of Numerical
 *    Algorithms", 3.1), whatever the order of the sums.  A centroid is
 *    skipped only when its bound beats C_a's computed cost by more than
 *    E, every bound being rounded outward (up(), dn()); so a skipped
 *    centroid's computed cost is strictly above C_a's, and plain Lloyd
 *    could not have picked it, not even on a tie.  Anything nearer a tie
 *    than that is computed exactly.  The dot products computed are summed
 *    in the row's column order, as plain Lloyd sums them.  So the labels,
 *    costs, centroids, objectives and iteration counts are plain Lloyd's,
 *    whatever the number of threads.
 *
 * The bounds take m x k doubles.  When that would be more than the
 * matrix (nnz doubles), the centroids (k x d) and 2^25 doubles (256 MiB)
 * all, the fit runs plain Lloyd instead (the same result, more time), so
 * pruning never costs much more memory than the fit already holds.
 *
 * Why Elkan's bounds, one per row and centroid, and not Hamerly's single
 * bound per row: on TF-IDF rows most centroids
 * are at nearly the same distance from a row, and after the first few
 * iterations most centroids barely move while a few still move a lot.
 * Hamerly's one bound (on the second-nearest centroid) drops by the
 * largest move of any centroid, so a row fails its test as soon as one
 * centroid moves much, and then costs all k dot products; Elkan's bound
 * on C_j drops by C_j's own move, and a row computes only the few
 * centroids that come near it.  Measured on the SpamAssassin benchmark
 * (6,046 mails, 40,179 kept terms, k = 20, kmeans++, tol 1e-6), dot
 * products besides each row's own, as a share of plain Lloyd's, averaged
 * over iterations 2 to the end: euclidean, Hamerly 56%, Elkan 12%;
 * cosine, Hamerly 37%, Elkan 8%.  Elkan's centroid-to-centroid distances
 * are left out: they cost O(k^2 d) per iteration, as much as a plain
 * iteration here.
 *
 * The rest of an iteration is kept small too, still to the bit:
 *  - x . C_a is reused from the last step when C_a has not changed (gown,
 *    glab): the same numbers summed in the same order;
 *  - each thread takes its rows cluster by cluster, so that the row C_a
 *    the own dot products read stays in cache (the order of rows does not
 *    change any row's result);
 *  - the update step recomputes only the clusters whose members changed
 *    (km->dirty), and compute_moves() transposes only those into Ct.
 */

/* v with a margin of 4 DBL_EPSILON |v| + DBL_MIN added (up) or taken off
 * (dn): more than the rounding of the one or two operations that gave v,
 * so an upper (lower) bound computed in floating point stays one. */
static double up(double v)
{
	return v + fabs(v) * (4 * DBL_EPSILON) + DBL_MIN;
}

static double dn(double v)
{
	return v - fabs(v) * (4 * DBL_EPSILON) - DBL_MIN;
}

/* The most by which a computed cost of row i (cosine: a dot product) can
 * differ from the exact one, for the current centroids. */
static double row_margin(const struct km *km, size_t i)
{
	double xn = sqrt(km->nrm2[i]);

	if (km->cosine)
		return km->eta * xn * km->cmax + DBL_MIN;
	return km->eta * (xn + km->cmax) * (xn + km->cmax) + DBL_MIN;
}

/* The bound on centroid j for row i from g = x_i . C_j as computed, with
 * E = row_margin(km, i). */
static double bound_of(const struct km *km, size_t i, uint32_t j, double g,
		       double E)
{
	double v;

	if (km->cosine)
		return dn(-g - E);
	v = dn(row_cost(km, i, j, g) - E);
	return v > 0 ? dn(sqrt(v)) : 0;
}

/*
 * dots[j] = x_i . C_j for every j, from Ct (C transposed: the k values of
 * one column adjacent), each summed over the row's terms in column order
 * from 0, as row_dot sums it, so each is row_dot's to the bit (C11 does
 * not contract a * b + c into a fused multiply-add unless asked to).  The
 * centroids are taken eight, then four, then one at a time, each group's
 * sums held in locals over the whole row: the row (a few kilobytes) is
 * read once per group from cache, and the sums are not loaded from and
 * stored back to dots for every term, which made this the slowest loop of
 * a fit (the first assignment of every run does it for every row).  The
 * eight and the four sums are written out by hand: as a loop over an
 * array of sums, GCC at -O2 keeps the array on the stack and loads and
 * stores it for every term again.
 */
static void row_dots(const struct csr *X, size_t i, const double *Ct,
		     uint32_t k, double *restrict dots)
{
	const uint64_t p0 = X->rowptr[i], p1 = X->rowptr[i + 1];
	const uint32_t *restrict col = X->col;
	const float *restrict val = X->fval;
	uint32_t j = 0;

	for (; j + 8 <= k; j += 8) {
		double a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0;

		for (uint64_t p = p0; p < p1; p++) {
			const double v = val[p];
			const double *ct = Ct + (size_t)col[p] * k + j;

			a0 += v * ct[0];
			a1 += v * ct[1];
			a2 += v * ct[2];
			a3 += v * ct[3];
			a4 += v * ct[4];
			a5 += v * ct[5];
			a6 += v * ct[6];
			a7 += v * ct[7];
		}
		dots[j] = a0;
		dots[j + 1] = a1;
		dots[j + 2] = a2;
		dots[j + 3] = a3;
		dots[j + 4] = a4;
		dots[j + 5] = a5;
		dots[j + 6] = a6;
		dots[j + 7] = a7;
	}
	for (; j + 4 <= k; j += 4) {
		double a0 = 0, a1 = 0, a2 = 0, a3 = 0;

		for (uint64_t p = p0; p < p1; p++) {
			const double v = val[p];
			const double *ct = Ct + (size_t)col[p] * k + j;

			a0 += v * ct[0];
			a1 += v * ct[1];
			a2 += v * ct[2];
			a3 += v * ct[3];
		}
		dots[j] = a0;
		dots[j + 1] = a1;
		dots[j + 2] = a2;
		dots[j + 3] = a3;
	}
	for (; j < k; j++) {
		double a = 0;

		for (uint64_t p = p0; p < p1; p++)
			a += val[p] * Ct[(size_t)col[p] * k + j];
		dots[j] = a;
	}
}

/* Row rows[t] against every centroid (but those in km->skip), as plain
 * Lloyd does: nxt and cost; with bounds on, sets every bound of the row.
 * The dot products run over C transposed (the k centroid values of one
 * column are adjacent), adding the row's terms in column order as
 * row_dot does, so they are row_dot's to the bit. */
static void assign_all(struct km *km, size_t t, double *dots)
{
	const struct csr *X = km->X;
	const uint32_t k = km->k;
	const size_t i = km->rows[t];
	uint32_t j, best = 0;
	double best_v = 0;
	int have = 0;

	row_dots(X, i, km->Ct, k, dots);
	for (j = 0; j < k; j++) {
		double v;

		if (km->skip && km->skip[j])
			continue;
		/* cosine: largest dot; euclidean: smallest distance */
		v = km->cosine ? -dots[j] : row_cost(km, i, j, dots[j]);
		if (!have || v < best_v) {
			best = j;
			best_v = v;
			have = 1;
		}
	}
	km->nxt[i] = (int32_t)best;
	km->cost[i] = km->cosine ? row_cost(km, i, best, -best_v) : best_v;
	if (km->bnd) {
		const double E = row_margin(km, i);
		double *b = km->bnd + t * k;

		for (j = 0; j < k; j++)
			b[j] = bound_of(km, i, j, dots[j], E);
		km->gown[t] = dots[best];
		km->glab[t] = (int32_t)best;
	}
}

/* Row rows[t], whose centroid is lab[i], with its bounds (see above):
 * the same nxt and cost as assign_all. cand is k entries of scratch. */
static void assign_bounded(struct km *km, size_t t, double *dots,
			   uint32_t *cand)
{
	const struct csr *X = km->X;
	const uint32_t k = km->k;
	const size_t i = km->rows[t];
	const uint32_t a = (uint32_t)km->lab[i];
	const double E = row_margin(km, i);
	double *b = km->bnd + t * k;
	double w = 1, ga = 0, va, best_v;
	uint32_t j, best, s, nc = 0;

	if (km->cosine)
		w = up(sqrt(km->nrm2[i]) * (1 + km->eta));  /* >= |x| */
	if (km->glab[t] == (int32_t)a && km->move[a] == 0) {
		ga = km->gown[t];  /* C_a has not changed: the same sum */
	} else {
		ga = row_dot(X, i, km->C + (size_t)a * km->d);
	}
	va = km->cosine ? ga : row_cost(km, i, a, ga);
	for (j = 0; j < k; j++) {
		double bj;

		if (j == a)
			continue;
		bj = dn(b[j] - w * km->move[j]);
		b[j] = bj;
		/* skipped when computed cost j > computed cost a, surely:
		 * cosine  g_j <= -bj + E < g_a;
		 * euclid  v_j >= bj^2 - E > v_a */
		if (km->cosine ? !(dn(ga) > up(E - bj))
			       : !(bj > 0 && dn(bj * bj) > up(va + E)))
			cand[nc++] = j;
	}
	if (2 * nc >= k) {
		assign_all(km, t, dots);
		return;
	}
	best = a;
	best_v = km->cosine ? -ga : va;
	for (s = 0; s < nc; s++) {
		const double *ct = km->Ct + cand[s];
		double g = 0, v;

		/* one centroid at a time: g stays in a register, and the
		 * column values share cache lines with the other centroids' */
		for (uint64_t p = X->rowptr[i]; p < X->rowptr[i + 1]; p++)
			g += X->fval[p] * ct[(size_t)X->col[p] * k];
		j = cand[s];
		dots[j] = g;
		v = km->cosine ? -g : row_cost(km, i, j, g);
		if (v < best_v || (v == best_v && j < best)) {
			best = j;
			best_v = v;
		}
		b[j] = bound_of(km, i, j, g, E);
	}
	b[a] = bound_of(km, i, a, ga, E);
	km->gown[t] = best == a ? ga : dots[best];
	km->glab[t] = (int32_t)best;
	km->nxt[i] = (int32_t)best;
	km->cost[i] = km->cosine ? row_cost(km, i, best, -best_v) : best_v;
}

/* The assignment step: nxt[i] and cost[i] for every row with terms, from
 * C.  Each row writes only its own entries (labels, cost, bounds), so rows
 * are split among threads, and the result does not depend on how. */
struct assign_job {
	struct km *km;
	size_t t0, t1;
	double *dots;
	uint32_t *cand;
	size_t *cnt;
	pthread_t tid;
};

static void *assign_range(void *arg)
{
	struct assign_job *a = arg;
	struct km *km = a->km;
	size_t *cnt = a->cnt, *order = km->order, t, s;

	if (!km->bnd) {
		for (t = a->t0; t < a->t1; t++)
			assign_all(km, t, a->dots);
		return NULL;
	}
	/* cluster by cluster, so that C_a stays in cache */
	memset(cnt, 0, ((size_t)km->k + 1) * sizeof(*cnt));
	for (t = a->t0; t < a->t1; t++)
		cnt[km->lab[km->rows[t]] + 1]++;
	for (s = 0, t = a->t0; s <= km->k; s++) {
		size_t c = cnt[s];

		cnt[s] = t;
		t += c;
	}
	for (t = a->t0; t < a->t1; t++)
		order[cnt[km->lab[km->rows[t]] + 1]++] = t;
	for (s = a->t0; s < a->t1; s++) {
		t = order[s];
		if (km->lab[km->rows[t]] >= 0)
			assign_bounded(km, t, a->dots, a->cand);
		else
			assign_all(km, t, a->dots);
	}
	return NULL;
}

static void assign_rows(struct km *km)
{
	struct assign_job job[64];
	int n = km->nthreads;
	size_t d = km->d;
	double c2 = 0;

	for (uint32_t j = 0; j < km->k; j++)
		if (km->cn2[j] > c2)
			c2 = km->cn2[j];
	km->cmax = up(sqrt(c2) * (1 + km->eta));
	if (!km->ct_current)
		for (size_t c = 0; c < d; c++)
			for (uint32_t j = 0; j < km->k; j++)
				km->Ct[c * km->k + j] = km->C[(size_t)j * d + c];
	km->ct_current = 0;
	if ((size_t)n > km->m / 256 + 1)
		n = (int)(km->m / 256 + 1);  /* not worth a thread */
	for (int t = 0; t < n; t++) {
		job[t].km = km;
		job[t].t0 = km->m * (size_t)t / (size_t)n;
		job[t].t1 = km->m * (size_t)(t + 1) / (size_t)n;
		job[t].dots = km->dots + (size_t)t * km->k;
		job[t].cand = km->cand ? km->cand + (size_t)t * km->k : NULL;
		job[t].cnt = km->cnt ? km->cnt + (size_t)t * (km->k + 1) : NULL;
	}
	for (int t = 1; t < n; t++)
		if (pthread_create(&job[t].tid, NULL, assign_range, &job[t]) != 0) {
			assign_range(&job[t]);  /* no thread: do it here */
			job[t].km = NULL;
		}
	assign_range(&job[0]);
	for (int t = 1; t < n; t++)
		if (job[t].km)
			pthread_join(job[t].tid, NULL);
}

/* After an update step, while Ct still holds the centroids of the
 * assignment step: move[j] >= |C_j(new) - C_j(old)|, rounded up (a
 * difference below 2^-537 may square to 0, hence the last term), and 0
 * for a centroid that did not change; and Ct = C transposed for the next
 * assignment step.  Only the clusters in km->dirty (all without it) can
 * have changed.  Returns whether any did.  Uses dots and cand as
 * scratch (cand may be NULL without km->dirty). */
static int compute_moves(struct km *km)
{
	const size_t d = km->d;
	const uint32_t k = km->k;
	const double tiny = sqrt((double)d) * 0x1p-536;
	double *mx = km->dots;
	uint32_t *list = km->cand, n = 0, j, s;
	int moved = 0;

	memset(km->move, 0, k * sizeof(*km->move));
	memset(mx, 0, k * sizeof(*mx));
	if (km->dirty)
		for (j = 0; j < k; j++)
			if (km->dirty[j])
				list[n++] = j;
	for (size_t c = 0; c < d; c++) {
		double *ct = km->Ct + c * k;

		for (s = 0; s < (km->dirty ? n : k); s++) {
			double now, diff;

			j = km->dirty ? list[s] : s;
			now = km->C[(size_t)j * d + c];
			diff = now - ct[j];
			km->move[j] += diff * diff;
			if (fabs(diff) > mx[j])
				mx[j] = fabs(diff);
			ct[j] = now;
		}
	}
	km->ct_current = 1;
	for (j = 0; j < k; j++) {
		if (mx[j] > 0) {
			moved = 1;
			km->move[j] = up(sqrt(km->move[j]) * (1 + km->eta) + tiny);
		} else {
			km->move[j] = 0;
		}
	}
	return moved;
}

/* Give each empty cluster the row with the largest cost among rows whose
 * cluster has more than one member (ties: lowest row).  Needs count[]. */
static void fill_empty(struct km *km)
{
	uint32_t j;
	size_t t;

	for (j = 0; j < km->k; j++) {
		size_t far = SIZE_MAX;

		if (km->count[j])
			continue;
		for (t = 0; t < km->m; t++) {
			size_t i = km->rows[t];

			if (km->count[km->lab[i]] < 2)
				continue;
			if (far == SIZE_MAX || km->cost[i] > km->cost[far])
				far = i;
		}
		if (far == SIZE_MAX)
			break;  /* cannot happen: m >= k */
		if (km->dirty)
			km->dirty[km->lab[far]] = km->dirty[j] = 1;
		km->count[km->lab[far]]--;
		km->lab[far] = (int32_t)j;
		km->count[j] = 1;
		km->cost[far] = 0;
	}
}

/* The update step's sums and norms for the clusters of share `s` (each
 * cluster has one owner, km->owner): its rows in row order, as one thread
 * would take them, so the bits do not depend on how the clusters are
 * shared out. */
static void update_share(void *arg, size_t s, size_t ns)
{
	struct km *km = arg;
	const struct csr *X = km->X;
	size_t t, d = km->d;
	uint32_t j;

	(void)ns;
	for (j = 0; j < km->k; j++)
		if (km->owner[j] == s)
			memset(km->C + (size_t)j * d, 0, d * sizeof(*km->C));
	for (t = 0; t < km->m; t++) {
		size_t i = km->rows[t];
		double *c, sc;
		uint64_t p;

		j = (uint32_t)km->lab[i];
		if (km->owner[j] != s)
			continue;
		c = km->C + (size_t)j * d;
		sc = km->scale[i];
		for (p = X->rowptr[i]; p < X->rowptr[i + 1]; p++)
			c[X->col[p]] += sc * X->fval[p];
	}
	for (j = 0; j < km->k; j++) {
		double *c = km->C + (size_t)j * d;
		double div, n2 = 0;

		if (km->owner[j] != s)
			continue;
		if (km->cosine)
			div = sqrt(dense_norm2(c, d));
		else
			div = (double)km->count[j];
		if (div > 0) {
			/* dense_norm2 of the result, in the same order */
			for (t = 0; t < d; t++) {
				c[t] /= div;
				n2 += c[t] * c[t];
			}
		} else {
			n2 = dense_norm2(c, d);
		}
		km->cn2[j] = n2;
	}
}

/* Largest first, then by cluster. */
static int load_cmp(const void *pa, const void *pb)
{
	const struct load *a = pa, *b = pb;

	if (a->entries != b->entries)
		return a->entries > b->entries ? -1 : 1;
	return a->j < b->j ? -1 : a->j > b->j;
}

/* The update step: fill empty clusters, then C = the (normalised) means of
 * the clusters in lab, summed in row order, and cn2.  With km->dirty (not
 * for opts.plain), only the clusters flagged there, those whose members
 * changed, are recomputed: the others have the same rows in the same
 * order, so they would come out the same to the bit.  The clusters to
 * recompute are shared out among the threads, largest first, each to the
 * share with the fewest entries so far (update_share). */
static void update_centroids(struct km *km)
{
	const unsigned char *dirty = km->dirty;
	uint64_t total = 0;
	size_t t, ns = (size_t)km->nthreads, n = 0;
	uint32_t j;

	memset(km->count, 0, km->k * sizeof(*km->count));
	for (t = 0; t < km->m; t++)
		km->count[km->lab[km->rows[t]]]++;
	fill_empty(km);

	for (j = 0; j < km->k; j++) {
		km->owner[j] = UINT32_MAX;
		km->load[j].entries = 0;
		km->load[j].j = j;
	}
	for (t = 0; t < km->m; t++) {
		size_t i = km->rows[t];

		km->load[km->lab[i]].entries += km->X->rowptr[i + 1] - km->X->rowptr[i];
	}
	for (j = 0; j < km->k; j++)
		if (!dirty || dirty[j]) {
			total += km->load[j].entries;
			km->load[n++] = km->load[j];
		}
	/* Not worth a thread below CSR_SHARE_MIN entries (as csr_shares). */
	if (ns > total / CSR_SHARE_MIN + 1)
		ns = (size_t)(total / CSR_SHARE_MIN + 1);
	qsort(km->load, n, sizeof(*km->load), load_cmp);
	memset(km->share, 0, ns * sizeof(*km->share));
	for (size_t c = 0; c < n; c++) {
		size_t least = 0;

		for (t = 1; t < ns; t++)
			if (km->share[t] < km->share[least])
				least = t;
		km->owner[km->load[c].j] = (uint32_t)least;
		km->share[least] += km->load[c].entries;
	}
	pl_parallel(ns, update_share, km);
}

/* One progress line, padded so that it covers a longer previous one. */
static void progress(const struct kmeans_opts *o, int restart, int it,
		     double obj)
{
	char line[128];

	snprintf(line, sizeof(line),
		 "kmeans: restart %d/%d iteration %d objective %.6g",
		 restart + 1, o->warm ? 1 : o->restarts, it, obj);
	fprintf(o->progress, "\r%-72s", line);
	fflush(o->progress);
}

/* A warm start's centroids (see kmeans.h; check_warm has vetted them):
 * copied, scaled to unit length for cosine unless they are already unit
 * to within eta, the all-zero ones flagged and skipped by the first
 * assignment step. */
static void warm_centres(struct km *km)
{
	const size_t d = km->d;

	for (uint32_t j = 0; j < km->k; j++) {
		double *c = km->C + (size_t)j * d;
		double n2;

		memcpy(c, km->o->warm + (size_t)j * d, d * sizeof(*c));
		n2 = dense_norm2(c, d);
		km->zero[j] = n2 == 0;
		if (km->cosine && n2 > 0 && fabs(n2 - 1) > km->eta) {
			double div = sqrt(n2);

			for (size_t t = 0; t < d; t++)
				c[t] /= div;
		}
		km->cn2[j] = dense_norm2(c, d);
	}
	km->skip = km->zero;
}

/* Share s of the final costs (rows km->bound[s] .. km->bound[s + 1] - 1,
 * csr_shares): each row with terms against its own centroid. */
static void final_costs(void *arg, size_t s, size_t ns)
{
	struct km *km = arg;

	(void)ns;
	for (size_t i = km->bound[s]; i < km->bound[s + 1]; i++) {
		uint32_t j = (uint32_t)km->lab[i];

		if (km->nrm2[i] <= 0)
			continue; /* not in rows[]: no label, no cost */
		km->cost[i] = row_cost(km, i, j,
				       row_dot(km->X, i, km->C + (size_t)j * km->d));
	}
}

/* One restart, from seeding to convergence.  Leaves the result in lab and
 * C and its objective in *obj.  0 or -1. */
static int run_once(struct km *km, int restart, double *obj, int *iters,
		    int *converged, struct pl_error *err)
{
	const struct kmeans_opts *o = km->o;
	double prev = 0, cur;
	size_t t;
	int it;

	if (o->warm)
		warm_centres(km);
	else if (init_centres(km, err) < 0)
		return -1;
	km->ct_current = 0;
	for (t = 0; t < km->m; t++)
		km->lab[km->rows[t]] = -1;
	*converged = 0;
	for (it = 1;; it++) {
		size_t changed = 0;
		int32_t *swap;

		assign_rows(km);
		cur = 0;
		if (km->dirty)
			memset(km->dirty, it == 1, km->k);
		for (t = 0; t < km->m; t++) {
			size_t i = km->rows[t];

			if (km->nxt[i] != km->lab[i]) {
				changed++;
				if (km->dirty && km->lab[i] >= 0)
					km->dirty[km->lab[i]] = km->dirty[km->nxt[i]] = 1;
			}
			cur += km->cost[i];
		}
		swap = km->lab;
		km->lab = km->nxt;
		km->nxt = swap;
		if (changed == 0)
			*converged = 1;
		else if (it > 1 && prev - cur <= o->tol * fabs(prev))
			*converged = 1;
		update_centroids(km);
		/* the bounds need the moves; a warm start whose first update
		 * gives back its centroids has converged */
		if (km->bnd || (o->warm && it == 1)) {
			int moved = compute_moves(km);

			if (o->warm && it == 1 && !moved)
				*converged = 1;
		}
		km->skip = NULL;
		if (o->progress)
			progress(o, restart, it, cur);
		if (*converged || it >= o->max_iter)
			break;
		prev = cur;
	}
	*iters = it;

	/* the objective of the returned labels against the returned
	 * centroids: the costs on the threads, summed here in row order */
	pl_parallel(csr_shares(km->X, km->nthreads, km->bound), final_costs, km);
	cur = 0;
	for (t = 0; t < km->m; t++)
		cur += km->cost[km->rows[t]];
	*obj = cur;
	return 0;
}

/* Size descending, then lowest member row ascending (a total order, as no
 * two clusters share a row, so qsort's result does not depend on its
 * algorithm; gsl_sort_index sorts by one double key only). */
static int order_cmp(const void *pa, const void *pb)
{
	const struct order *a = pa, *b = pb;

	if (a->size != b->size)
		return a->size > b->size ? -1 : 1;
	if (a->first != b->first)
		return a->first < b->first ? -1 : 1;
	return 0;
}

/* Put best_C's rows in the order `ord` gives (row j becomes the old row
 * ord[j].old) in place, one cycle of the permutation at a time through the
 * d doubles at tmp; done[] (k bytes) marks the rows placed. */
static void permute_rows(double *C, size_t d, const struct order *ord,
			 uint32_t k, double *tmp, unsigned char *done)
{
	memset(done, 0, k);
	for (uint32_t s = 0; s < k; s++) {
		uint32_t j = s;

		if (done[s] || ord[s].old == s) {
			done[s] = 1;
			continue;
		}
		memcpy(tmp, C + (size_t)s * d, d * sizeof(*tmp));
		for (;;) {
			uint32_t from = ord[j].old;

			done[j] = 1;
			if (from == s) {
				memcpy(C + (size_t)j * d, tmp, d * sizeof(*tmp));
				break;
			}
			memcpy(C + (size_t)j * d, C + (size_t)from * d, d * sizeof(*C));
			j = from;
		}
	}
}

/* Share s of renumber's rows (km->bound[s] .. km->bound[s + 1] - 1,
 * csr_shares): each row's cluster in the final numbering and its cosine
 * similarity to that centroid.  Rows are independent: the same bits on
 * any number of threads. */
struct renumber_job {
	struct km *km;
	struct clustering *out;
};

static void renumber_rows(void *arg, size_t s, size_t ns)
{
	const struct renumber_job *job = arg;
	const struct km *km = job->km;
	struct clustering *out = job->out;
	const size_t d = km->d;

	(void)ns;
	for (size_t i = km->bound[s]; i < km->bound[s + 1]; i++) {
		double dot, den, v;
		uint32_t j;

		if (km->best_lab[i] < 0) {
			out->assign[i] = -1;
			out->sim[i] = 0;
			continue;
		}
		j = (uint32_t)km->count[km->best_lab[i]];
		out->assign[i] = (int32_t)j;
		dot = row_dot(km->X, i, out->centroid + (size_t)j * d);
		den = sqrt(km->nrm2[i]) * sqrt(km->cn2[j]);
		v = den > 0 ? dot / den : 0;
		out->sim[i] = v > 1 ? 1 : v < -1 ? -1 : v;
	}
}

/* Write best_lab and best_C into out in the final numbering: best_C's
 * rows are reordered in place and become out->centroid (a copy would be
 * another k x d of fresh memory, faulted in at the end of every fit).
 * The counts array is reused to map old labels to new ones.  0 or -1 (out
 * of memory: the one row of scratch the reordering needs). */
static int renumber(struct km *km, struct clustering *out)
{
	struct renumber_job job = { km, out };
	size_t t, i, d = km->d;
	uint32_t j;
	double *tmp = km->C;

	for (j = 0; j < km->k; j++) {
		km->ord[j].size = 0;
		km->ord[j].first = SIZE_MAX;
		km->ord[j].old = j;
	}
	for (t = 0; t < km->m; t++) {
		struct order *c;

		i = km->rows[t];
		c = &km->ord[km->best_lab[i]];
		if (c->size++ == 0)
			c->first = i;
	}
	qsort(km->ord, km->k, sizeof(*km->ord), order_cmp);
	/* A later restart's centroids, when there was one, are scratch now. */
	if (!tmp && !(tmp = pl_malloc((d ? d : 1) * sizeof(*tmp))))
		return -1;
	permute_rows(km->best_C, d, km->ord, km->k, tmp, km->taken);
	if (tmp != km->C)
		pl_free(tmp);
	out->centroid = km->best_C;
	km->best_C = NULL;
	for (j = 0; j < km->k; j++) {
		uint32_t old = km->ord[j].old;

		km->count[old] = j;
		out->size[j] = (uint32_t)km->ord[j].size;
		km->cn2[j] = dense_norm2(out->centroid + (size_t)j * d, d);
	}
	pl_parallel(csr_shares(km->X, km->nthreads, km->bound), renumber_rows, &job);
	return 0;
}

static int check_opts(const struct kmeans_opts *o, struct pl_error *err)
{
	if (o->k < 1 || o->k > INT32_MAX)
		return pl_fail(err, PL_EX_CONFIG,
			       "[kmeans] k = %lu is out of range (1..%ld)",
			       (unsigned long)o->k, (long)INT32_MAX);
	if (o->restarts < 1 && !o->warm)
		return pl_fail(err, PL_EX_CONFIG,
			       "[kmeans] restarts must be at least 1");
	if (o->max_iter < 1)
		return pl_fail(err, PL_EX_CONFIG,
			       "[kmeans] max_iter must be at least 1");
	if (!(o->tol >= 0) || isinf(o->tol))
		return pl_fail(err, PL_EX_CONFIG,
			       "[kmeans] tol must be a number >= 0");
	if (o->init != KMEANS_INIT_PLUSPLUS && o->init != KMEANS_INIT_RANDOM &&
	    !o->warm)
		return pl_fail(err, PL_EX_CONFIG, "[kmeans] unknown init %d",
			       o->init);
	if (o->metric != KMEANS_COSINE && o->metric != KMEANS_EUCLIDEAN)
		return pl_fail(err, PL_EX_CONFIG, "[kmeans] unknown metric %d",
			       o->metric);
	return 0;
}

/* A warm start's centroids (k x d): finite, not all zero.  0 or -1. */
static int check_warm(const struct kmeans_opts *o, size_t d,
		      struct pl_error *err)
{
	int any = 0;

	for (uint32_t j = 0; j < o->k; j++) {
		const double *c = o->warm + (size_t)j * d;

		if (!isfinite(dense_norm2(c, d)))
			return pl_fail(err, PL_EX_DATAERR,
				       "kmeans: warm-start centroid %lu has values that are not finite or too large",
				       (unsigned long)j + 1);
		for (size_t t = 0; t < d && !any; t++)
			any = c[t] != 0;
	}
	if (!any)
		return pl_fail(err, PL_EX_DATAERR,
			       "kmeans: every warm-start centroid is zero, so there is nothing to start from");
	return 0;
}

/* Whether the m x k bounds are worth their memory (see "the assignment
 * step"). */
static int bounds_fit(const struct km *km)
{
	size_t cap = (size_t)1 << 25, nnz = (size_t)km->X->rowptr[km->n];

	if (nnz > cap)
		cap = nnz;
	if ((size_t)km->k * km->d > cap)
		cap = (size_t)km->k * km->d;  /* kmeans_fit checked the product */
	return km->k <= cap / km->m;
}

/* scan_rows on the threads: share s takes rows [bound[s], bound[s + 1]). */
struct scan_job {
	struct km *km;
	size_t bound[PL_MAX_THREADS + 1];
	size_t m[PL_MAX_THREADS];        /* rows with terms */
	uint64_t longest[PL_MAX_THREADS];
	size_t bad[PL_MAX_THREADS];      /* first row not finite, or SIZE_MAX */
};

static void scan_share(void *arg, size_t s, size_t ns)
{
	struct scan_job *job = arg;
	struct km *km = job->km;
	const struct csr *X = km->X;

	(void)ns;
	job->m[s] = 0;
	job->longest[s] = 0;
	job->bad[s] = SIZE_MAX;
	for (size_t i = job->bound[s]; i < job->bound[s + 1]; i++) {
		double v = km->own_nrm2 ? row_norm2(X, i) : km->nrm2[i];

		if (X->rowptr[i + 1] - X->rowptr[i] > job->longest[s])
			job->longest[s] = X->rowptr[i + 1] - X->rowptr[i];
		if (!isfinite(v)) {
			job->bad[s] = i;
			return;
		}
		if (km->own_nrm2)
			km->own_nrm2[i] = v;
		km->scale[i] = v > 0 ? (km->cosine ? 1.0 / sqrt(v) : 1.0) : 0;
		if (v > 0)
			job->m[s]++;
	}
}

/* Row norms, scales, the number of rows with terms and eta.  0 or -1. */
static int scan_rows(struct km *km, struct pl_error *err)
{
	const struct csr *X = km->X;
	struct scan_job *job;
	uint64_t longest = km->d;
	size_t ns;

	if (X->nnz && !X->fval)
		return pl_fail(err, PL_EX_SOFTWARE,
			       "kmeans: the matrix has no weights");
	job = pl_malloc(sizeof(*job));
	if (!job)
		return pl_oom(err);
	job->km = km;
	ns = csr_shares(X, km->nthreads, job->bound);
	pl_parallel(ns, scan_share, job);
	km->m = 0;
	for (size_t s = 0; s < ns; s++) {
		if (job->bad[s] != SIZE_MAX) {
			size_t i = job->bad[s];

			pl_free(job);
			return pl_fail(err, PL_EX_DATAERR,
				       "kmeans: statement %zu has weights that are not finite",
				       i + 1);
		}
		km->m += job->m[s];
		if (job->longest[s] > longest)
			longest = job->longest[s];
	}
	pl_free(job);
	km->eta = 8 * ((double)longest + 4) * DBL_EPSILON;
	return 0;
}

static void km_release(struct km *km)
{
	pl_free(km->rows);
	pl_free(km->own_nrm2);
	pl_free(km->scale);
	pl_free(km->lab);
	pl_free(km->nxt);
	pl_free(km->best_lab);
	pl_free(km->cost);
	pl_free(km->C);
	pl_free(km->best_C);
	pl_free(km->cn2);
	pl_free(km->Ct);
	pl_free(km->trial);
	pl_free(km->trial_best);
	pl_free(km->dots);
	pl_free(km->cand);
	pl_free(km->bnd);
	pl_free(km->gown);
	pl_free(km->glab);
	pl_free(km->order);
	pl_free(km->dirty);
	pl_free(km->cnt);
	pl_free(km->move);
	pl_free(km->zero);
	pl_free(km->count);
	pl_free(km->load);
	pl_free(km->share);
	pl_free(km->owner);
	pl_free(km->pick);
	pl_free(km->taken);
	pl_free(km->ord);
	if (km->rng)
		gsl_rng_free(km->rng);
}

int kmeans_fit(const struct csr *X, const struct kmeans_opts *o,
	       struct clustering *out, struct pl_error *err)
{
	struct km km;
	size_t n = X->nrows, kd, i, t;
	double best_obj = 0;
	int r, ret = -1, all_iters = 0, restarts = o->warm ? 1 : o->restarts;
	double t_start = pl_now();

	memset(out, 0, sizeof(*out));
	memset(&km, 0, sizeof(km));
	if (check_opts(o, err) < 0 ||
	    (o->warm && check_warm(o, X->ncols, err) < 0))
		return -1;
	km.X = X;
	km.o = o;
	km.n = n;
	km.d = X->ncols;
	km.k = o->k;
	km.cosine = o->metric == KMEANS_COSINE;
	km.nthreads = o->threads < 1 ? 1 : o->threads;
	if (km.nthreads > PL_MAX_THREADS)
		km.nthreads = PL_MAX_THREADS; /* the size of the share arrays */

	if (!o->nrm2)
		km.nrm2 = km.own_nrm2 = pl_malloc(n * sizeof(*km.own_nrm2));
	else
		km.nrm2 = o->nrm2;
	km.scale = pl_malloc(n * sizeof(*km.scale));
	if (!km.nrm2 || !km.scale)
		goto oom;
	if (scan_rows(&km, err) < 0)
		goto fail;
	if (km.m == 0) {
		pl_fail(err, PL_EX_DATAERR,
			"no statement has a non-zero TF-IDF weight, so nothing can be "
			"clustered (a term in every statement weighs 0 under idf = "
			"log2 or smooth0)");
		goto fail;
	}
	if (km.m < km.k) {
		pl_fail(err, PL_EX_DATAERR,
			"k = %lu is larger than the %zu statement%s that %s terms; lower [kmeans] k",
			(unsigned long)km.k, km.m, km.m == 1 ? "" : "s",
			km.m == 1 ? "has" : "have");
		goto fail;
	}
	if (km.d && km.k > SIZE_MAX / sizeof(double) / km.d)
		goto oom;
	kd = (size_t)km.k * km.d;

	km.rows = pl_malloc(km.m * sizeof(*km.rows));
	km.lab = pl_malloc(n * sizeof(*km.lab));
	km.nxt = pl_malloc(n * sizeof(*km.nxt));
	km.best_lab = pl_malloc(n * sizeof(*km.best_lab));
	km.cost = pl_calloc(n, sizeof(*km.cost));
	km.C = pl_malloc(kd * sizeof(*km.C));
	km.cn2 = pl_malloc(km.k * sizeof(*km.cn2));
	km.Ct = pl_malloc(kd * sizeof(*km.Ct));
	km.trial = pl_calloc(n, sizeof(*km.trial));
	km.trial_best = pl_calloc(n, sizeof(*km.trial_best));
	km.dots = pl_malloc((size_t)km.nthreads * km.k * sizeof(*km.dots));
	km.count = pl_malloc(km.k * sizeof(*km.count));
	km.load = pl_malloc(km.k * sizeof(*km.load));
	km.share = pl_malloc((size_t)km.nthreads * sizeof(*km.share));
	km.owner = pl_malloc(km.k * sizeof(*km.owner));
	km.pick = pl_malloc(km.k * sizeof(*km.pick));
	km.taken = pl_malloc(n);
	km.ord = pl_malloc(km.k * sizeof(*km.ord));
	km.move = pl_malloc(km.k * sizeof(*km.move));
	if (!o->plain && bounds_fit(&km)) {
		km.bnd = pl_malloc(km.m * km.k * sizeof(*km.bnd));
		km.cand = pl_malloc((size_t)km.nthreads * km.k * sizeof(*km.cand));
		km.gown = pl_malloc(km.m * sizeof(*km.gown));
		km.glab = pl_malloc(km.m * sizeof(*km.glab));
		km.order = pl_malloc(km.m * sizeof(*km.order));
		km.dirty = pl_malloc(km.k);
		km.cnt = pl_malloc((size_t)km.nthreads * (km.k + 1) *
				   sizeof(*km.cnt));
		if (!km.bnd || !km.cand || !km.gown || !km.glab || !km.order ||
		    !km.cnt || !km.dirty)
			goto oom;
	}
	if (o->warm) {
		km.zero = pl_malloc(km.k);
		if (!km.zero)
			goto oom;
	}
	out->assign = pl_malloc(n * sizeof(*out->assign));
	out->sim = pl_malloc(n * sizeof(*out->sim));
	out->size = pl_malloc(km.k * sizeof(*out->size));
	if (!km.rows || !km.lab || !km.nxt || !km.best_lab || !km.cost ||
	    !km.C || !km.cn2 || !km.Ct || !km.dots ||
	    !km.trial || !km.trial_best ||
	    !km.count || !km.load || !km.share || !km.owner || !km.pick ||
	    !km.taken || !km.ord || !km.move || !out->assign || !out->sim ||
	    !out->size)
		goto oom;
	/* The k x d arrays are written whole at once: mapped in one call each
	 * (26 MB each on the benchmark; see pl_prefault). */
	pl_prefault(km.C, kd * sizeof(*km.C));
	pl_prefault(km.Ct, kd * sizeof(*km.Ct));
	km.rng = gsl_rng_alloc(gsl_rng_mt19937);
	if (!km.rng)
		goto oom;
	gsl_rng_set(km.rng, o->seed);
	if (km.m > gsl_rng_max(km.rng) - gsl_rng_min(km.rng)) {
		pl_fail(err, PL_EX_DATAERR,
			"kmeans: %zu statements are more than can be sampled",
			km.m);
		goto fail;
	}

	for (i = 0, t = 0; i < n; i++) {
		km.lab[i] = km.nxt[i] = km.best_lab[i] = -1;
		if (km.nrm2[i] > 0)
			km.rows[t++] = i;
	}
	for (r = 0; r < restarts; r++) {
		double obj;
		int iters, conv;

		if (!km.C) {
			if (!(km.C = pl_malloc(kd * sizeof(*km.C))))
				goto oom;
			pl_prefault(km.C, kd * sizeof(*km.C));
		}
		if (run_once(&km, r, &obj, &iters, &conv, err) < 0)
			goto fail;
		all_iters += iters;
		if (r == 0 || obj < best_obj) {
			int32_t *sl = km.best_lab;
			double *sc = km.best_C;

			km.best_lab = km.lab;
			km.lab = sl;
			km.best_C = km.C;
			km.C = sc;
			best_obj = obj;
			out->iterations = iters;
			out->restart = r;
			out->converged = conv;
		}
	}
	if (o->progress) {
		/* The last progress line was the last restart's: say which
		 * one is kept. */
		char line[160];

		if (o->warm || o->restarts == 1)
			snprintf(line, sizeof(line), "kmeans: objective %.6g after %d "
				 "iterations", best_obj, out->iterations);
		else
			snprintf(line, sizeof(line), "kmeans: kept restart %d of %d: "
				 "objective %.6g after %d iterations", out->restart + 1,
				 o->restarts, best_obj, out->iterations);
		fprintf(o->progress, "\r%-72s\n", line);
	}
	/* The transposed centroids are done with: give their memory back
	 * before renumber(), which may take a row of scratch. */
	pl_free(km.Ct);
	km.Ct = NULL;
	if (renumber(&km, out) < 0)
		goto oom;
	out->k = km.k;
	out->d = km.d;
	out->objective = best_obj;
	out->seconds = pl_now() - t_start;
	out->all_iterations = all_iters;
	ret = 0;
	goto done;
oom:
	pl_oom(err);
fail:
	pl_free(out->assign);
	pl_free(out->sim);
	pl_free(out->centroid);
	pl_free(out->size);
	memset(out, 0, sizeof(*out));
done:
	km_release(&km);
	return ret;
}

/* ---- the quality of a clustering ---- */

/*
 * The three figures of kmeans_quality(), each reproducing one function of
 * scikit-learn (checked against 1.2 in tests/check_kmeans.c) on the
 * labelled rows only.  Write z_i for row i as k-means sees it (x_i / |x_i|
 * for cosine, x_i for euclidean), u_i = x_i / |x_i| for its unit row,
 * n_j for the size of cluster j, m for the labelled rows.
 *
 *  - Silhouette: sklearn.metrics.silhouette_score(X, labels,
 *    metric="cosine"), on either metric (cosine distances ignore row
 *    lengths, so raw and unit rows give the same value).  For the unit
 *    rows S of a set, the mean of 1 - u.v over v in S is 1 - u.(sum S)/|S|,
 *    so with T_j the sum of cluster j's unit rows:
 *      a_i = 1 - (u_i.T_own - u_i.u_i) / (n_own - 1)  (i's own cluster
 *            without i),
 *      b_i = min over j != own of 1 - u_i.T_j / n_j,
 *      s_i = (b_i - a_i) / max(a_i, b_i), 0 when both are 0 or when i is
 *            alone in its cluster;
 *    the score is the mean of s_i over every labelled row, or over a
 *    seeded sample of them: O(sample * nnz-per-row * k), no pairwise
 *    matrix, whatever m is.  a and b are clamped at 0 as sklearn clamps
 *    each distance.
 *  - Calinski-Harabasz: sklearn.metrics.calinski_harabasz_score(Z,
 *    labels), Z the rows z_i (for cosine: normalize(X)).  With M_j the mean
 *    of cluster j's z and M the mean of all z,
 *      B = sum_j n_j |M_j - M|^2,  W = sum_i |z_i - M_own|^2,
 *      CH = B (m - k) / (W (k - 1)), and 1 when W = 0 (as sklearn);
 *    |z - M_j|^2 is taken as |z|^2 - 2 z.M_j + |M_j|^2 (clamped at 0), so
 *    rows stay sparse.
 *  - Davies-Bouldin: sklearn.metrics.davies_bouldin_score(Z, labels):
 *      s_j = mean over cluster j of |z_i - M_j| (Euclidean distance),
 *      DB = mean over j of max over l != j of (s_j + s_l) / |M_j - M_l|,
 *    a pair of coincident centroids contributing 0, and DB = 0 when every
 *    s_j or every centroid distance is within 1e-8 of 0 (sklearn's
 *    np.allclose test).
 * All three need 2 <= k <= m - 1 (sklearn's check_number_of_labels);
 * outside that they are NAN.  Every sum runs in row, cluster and column
 * order, so the figures are deterministic.
 */
struct kq {
	const struct csr *X;
	const int32_t *assign;
	uint32_t k;
	size_t n, d, m;
	int cosine;
	const double *nrm2;   /* n: squared norm of each raw row, given or */
	double *own_nrm2;     /* computed here */
	size_t *count;        /* k: rows per cluster */
	size_t *rows;         /* m: the labelled rows, ascending */
	size_t *pick;         /* the rows the silhouette averages over */
	double *S;            /* k x d: T_j, then M_j */
	double *mean;         /* d: M */
	double *cn2;          /* k: |M_j|^2 */
	double *spread;       /* k: s_j, then DB's max ratio per cluster */
	size_t threads;       /* pl_parallel shares (see kq_run) */
	double *val;          /* per labelled row or pick, or per pair of
				 clusters: what a share computed, summed
				 afterwards in order on one thread */
	size_t npick;
	int unit;             /* cluster_sums: unit rows (1) or raw (0) */
	int phase;            /* what kq_run's shares do, */
	size_t items;         /* over how many rows, picks or pairs */
};

static void kq_release(struct kq *q)
{
	pl_free(q->own_nrm2);
	pl_free(q->count);
	pl_free(q->rows);
	pl_free(q->pick);
	pl_free(q->S);
	pl_free(q->mean);
	pl_free(q->cn2);
	pl_free(q->spread);
	pl_free(q->val);
}

/*
 * Threads.  Each figure is the same sum in the same order whatever the
 * number of shares: a cluster's sum S_j is taken by one share (clusters
 * j = share mod shares), in row order; the per-row and per-pair terms of
 * the silhouette, W, s_j and DB are computed by shares of the rows (or
 * pairs) into q->val and added up afterwards on one thread, in row (pair)
 * order.  So the figures are the bits one thread gives.
 */
enum { KQ_NORMS, KQ_SUMS, KQ_SILHOUETTE, KQ_WITHIN, KQ_PAIRS };

/* S_j = sum of f_i x_i over cluster j, with f_i = 1/|x_i| (unit) or 1,
 * for the clusters j = t mod nt. */
static void cluster_sums_share(struct kq *q, size_t t, size_t nt)
{
	const struct csr *X = q->X;

	for (size_t j = t; j < q->k; j += nt)
		memset(q->S + j * q->d, 0, q->d * sizeof(*q->S));
	for (size_t r = 0; r < q->m; r++) {
		size_t i = q->rows[r];
		double *c, f;

		if ((size_t)q->assign[i] % nt != t)
			continue;
		c = q->S + (size_t)q->assign[i] * q->d;
		f = q->unit ? (q->nrm2[i] > 0 ? 1 / sqrt(q->nrm2[i]) : 0) : 1;
		for (uint64_t p = X->rowptr[i]; p < X->rowptr[i + 1]; p++)
			c[X->col[p]] += f * X->fval[p];
	}
}

/* s_i of picks [from, to) into val (0 for a pick that adds nothing: adding
 * +0.0 leaves a sum that is not -0.0 as it is, and a sum of these never
 * is); S must hold T_j. */
static void silhouette_share(struct kq *q, size_t from, size_t to)
{
	for (size_t t = from; t < to; t++) {
		size_t i = q->pick[t];
		uint32_t own = (uint32_t)q->assign[i], j;
		double f = q->nrm2[i] > 0 ? 1 / sqrt(q->nrm2[i]) : 0;
		double a, b = 0, top;
		int have_b = 0;

		q->val[t] = 0;
		if (q->count[own] < 2)
			continue;  /* alone in its cluster: s = 0 */
		a = 1 - (f * row_dot(q->X, i, q->S + (size_t)own * q->d) -
			 f * f * q->nrm2[i]) / (double)(q->count[own] - 1);
		for (j = 0; j < q->k; j++) {
			double v;

			if (j == own)
				continue;
			v = 1 - f * row_dot(q->X, i, q->S + (size_t)j * q->d) /
				(double)q->count[j];
			if (!have_b || v < b)
				b = v;
			have_b = 1;
		}
		a = a > 0 ? a : 0;
		b = b > 0 ? b : 0;
		top = a > b ? a : b;
		if (top > 0)
			q->val[t] = (b - a) / top;
	}
}

/* |z_i - M_own|^2 (clamped at 0) of labelled rows [a, b) into val; S must
 * hold the means M_j and cn2 their squared norms. */
static void within_share(struct kq *q, size_t a, size_t b)
{
	for (size_t t = a; t < b; t++) {
		size_t i = q->rows[t];
		uint32_t own = (uint32_t)q->assign[i];
		double f = q->cosine ? (q->nrm2[i] > 0 ? 1 / sqrt(q->nrm2[i]) : 0) : 1;
		double d2 = f * f * q->nrm2[i] -
			    2 * f * row_dot(q->X, i, q->S + (size_t)own * q->d) +
			    q->cn2[own];

		q->val[t] = d2 > 0 ? d2 : 0;
	}
}

/* The distance |M_j - M_l| of pairs [a, b) (j < l, in the order j, then
 * l) into val. */
static void pairs_share(struct kq *q, size_t a, size_t b)
{
	size_t p = 0;

	for (uint32_t j = 0; j < q->k && p < b; j++)
		for (uint32_t l = j + 1; l < q->k && p < b; l++, p++) {
			const double *x = q->S + (size_t)j * q->d, *y = q->S + (size_t)l * q->d;
			double dist = 0;

			if (p < a)
				continue;
			for (size_t c = 0; c < q->d; c++)
				dist += (x[c] - y[c]) * (x[c] - y[c]);
			q->val[p] = sqrt(dist);
		}
}

static void kq_run(void *arg, size_t t, size_t nt)
{
	struct kq *q = arg;
	size_t a = q->items * t / nt, b = q->items * (t + 1) / nt;

	switch (q->phase) {
	case KQ_NORMS:
		for (size_t i = a; i < b; i++)
			q->own_nrm2[i] = row_norm2(q->X, i);
		break;
	case KQ_SUMS:
		cluster_sums_share(q, t, nt);
		break;
	case KQ_SILHOUETTE:
		silhouette_share(q, a, b);
		break;
	case KQ_WITHIN:
		within_share(q, a, b);
		break;
	default:
		pairs_share(q, a, b);
		break;
	}
}

/* Phase `phase` over n items (rows, picks, pairs; clusters for the sums)
 * on up to q->threads shares, no more than n. */
static void kq_parallel(struct kq *q, int phase, size_t n)
{
	size_t nt = q->threads < n ? q->threads : n;

	q->phase = phase;
	q->items = n;
	pl_parallel(nt ? nt : 1, kq_run, q);
}

static void cluster_sums(struct kq *q, int unit)
{
	q->unit = unit;
	kq_parallel(q, KQ_SUMS, q->k);
}

/* The cosine silhouette over q->pick[0..npick); S must hold T_j. */
static double silhouette(struct kq *q)
{
	double total = 0;

	kq_parallel(q, KQ_SILHOUETTE, q->npick);
	for (size_t t = 0; t < q->npick; t++)
		total += q->val[t];
	return total / (double)q->npick;
}

/* Calinski-Harabasz and Davies-Bouldin on the rows z_i; S must hold the
 * cluster sums of z (turned into the means M_j here). */
static void ch_db(struct kq *q, double *ch, double *db)
{
	size_t d = q->d, t, c, p = 0, npairs = (size_t)q->k * (q->k - 1) / 2;
	double between = 0, within = 0, smax = 0, dmax = 0, sum = 0;
	uint32_t j, l;

	memset(q->mean, 0, d * sizeof(*q->mean));
	for (j = 0; j < q->k; j++) {
		double *mj = q->S + (size_t)j * d;

		for (c = 0; c < d; c++)
			q->mean[c] += mj[c];
	}
	for (c = 0; c < d; c++)
		q->mean[c] /= (double)q->m;
	for (j = 0; j < q->k; j++) {
		double *mj = q->S + (size_t)j * d, b = 0;

		for (c = 0; c < d; c++) {
			double v;

			mj[c] /= (double)q->count[j];
			v = mj[c] - q->mean[c];
			b += v * v;
		}
		between += (double)q->count[j] * b;
		q->cn2[j] = dense_norm2(mj, d);
		q->spread[j] = 0;
	}
	kq_parallel(q, KQ_WITHIN, q->m);
	for (t = 0; t < q->m; t++) {
		within += q->val[t];
		q->spread[q->assign[q->rows[t]]] += sqrt(q->val[t]);
	}
	*ch = within > 0 ? between * (double)(q->m - q->k) /
			   (within * (double)(q->k - 1)) : 1;

	for (j = 0; j < q->k; j++) {
		q->spread[j] /= (double)q->count[j];
		if (q->spread[j] > smax)
			smax = q->spread[j];
	}
	/* cn2 is free now: it holds each cluster's largest ratio */
	for (j = 0; j < q->k; j++)
		q->cn2[j] = 0;
	kq_parallel(q, KQ_PAIRS, npairs);
	for (j = 0; j < q->k; j++) {
		for (l = j + 1; l < q->k; l++) {
			double dist = q->val[p++], r;

			if (dist > dmax)
				dmax = dist;
			if (!(dist > 0))
				continue;
			r = (q->spread[j] + q->spread[l]) / dist;
			if (r > q->cn2[j])
				q->cn2[j] = r;
			if (r > q->cn2[l])
				q->cn2[l] = r;
		}
		sum += q->cn2[j];
	}
	*db = smax <= 1e-8 || dmax <= 1e-8 ? 0 : sum / (double)q->k;
}

/* kmeans_quality, with the rows' squared norms given (kmeans_row_norms)
 * or NULL: computed here. */
static int quality(const struct csr *X, const double *nrm2,
		   const int32_t *assign, uint32_t k, int metric, size_t sample,
		   unsigned long seed, int threads, struct kmeans_quality *out,
		   struct pl_error *err)
{
	struct kq q;
	gsl_rng *rng = NULL;
	size_t i, npick, npairs;
	uint32_t j;
	int ret = -1;

	memset(&q, 0, sizeof(q));
	out->silhouette = out->ch = out->db = NAN;
	out->sampled = 0;
	if (X->nnz && !X->fval)
		return pl_fail(err, PL_EX_SOFTWARE,
			       "kmeans: the matrix has no weights");
	q.X = X;
	q.assign = assign;
	q.k = k;
	q.n = X->nrows;
	q.d = X->ncols;
	q.cosine = metric == KMEANS_COSINE;
	q.threads = threads < 1 ? 1 : threads > PL_MAX_THREADS ? PL_MAX_THREADS :
		    (size_t)threads;
	if (!nrm2)
		q.nrm2 = q.own_nrm2 = pl_malloc((q.n ? q.n : 1) * sizeof(*q.own_nrm2));
	else
		q.nrm2 = nrm2;
	q.count = pl_calloc(k ? k : 1, sizeof(*q.count));
	q.rows = pl_malloc((q.n ? q.n : 1) * sizeof(*q.rows));
	if (!q.nrm2 || !q.count || !q.rows)
		goto oom;
	if (q.own_nrm2)
		kq_parallel(&q, KQ_NORMS, q.n);
	for (i = 0; i < q.n; i++) {
		if (assign[i] < -1 || assign[i] >= (int64_t)k) {
			pl_fail(err, PL_EX_SOFTWARE,
				"kmeans: statement %zu is in cluster %ld of %lu",
				i + 1, (long)assign[i] + 1, (unsigned long)k);
			goto fail;
		}
		if (assign[i] >= 0) {
			q.rows[q.m++] = i;
			q.count[assign[i]]++;
		}
	}
	for (j = 0; j < k; j++) {
		if (!q.count[j]) {
			pl_fail(err, PL_EX_SOFTWARE, "kmeans: cluster %lu is empty",
				(unsigned long)j + 1);
			goto fail;
		}
	}
	if (k < 2 || k >= q.m) {
		ret = 0;  /* undefined, as in scikit-learn */
		goto done;
	}
	if (q.d && k > SIZE_MAX / sizeof(double) / q.d)
		goto oom;
	npick = sample && sample < q.m ? sample : q.m;
	q.pick = pl_malloc((npick ? npick : 1) * sizeof(*q.pick));
	q.S = pl_malloc(((size_t)k * q.d + 1) * sizeof(*q.S));
	q.mean = pl_malloc((q.d ? q.d : 1) * sizeof(*q.mean));
	q.cn2 = pl_malloc(k * sizeof(*q.cn2));
	q.spread = pl_malloc(k * sizeof(*q.spread));
	npairs = (size_t)k * (k - 1) / 2;
	q.val = pl_malloc((q.m > npairs ? q.m : npairs) * sizeof(*q.val));
	if (!q.pick || !q.S || !q.mean || !q.cn2 || !q.spread || !q.val)
		goto oom;
	pl_prefault(q.S, (size_t)k * q.d * sizeof(*q.S));
	q.npick = npick;
	if (npick == q.m) {
		memcpy(q.pick, q.rows, q.m * sizeof(*q.pick));
	} else {
		int status;

		rng = gsl_rng_alloc(gsl_rng_mt19937);
		if (!rng)
			goto oom;
		gsl_rng_set(rng, seed);
		/* gsl_ran_choose keeps the rows in ascending order */
		status = gsl_ran_choose(rng, q.pick, npick, q.rows, q.m,
					sizeof(*q.pick));
		if (status) {
			pl_fail(err, PL_EX_SOFTWARE, "kmeans: silhouette sample: %s",
				gsl_strerror(status));
			goto fail;
		}
	}
	cluster_sums(&q, 1);
	out->silhouette = silhouette(&q);
	out->sampled = npick;
	if (!q.cosine)
		cluster_sums(&q, 0);
	ch_db(&q, &out->ch, &out->db);
	ret = 0;
	goto done;
oom:
	pl_oom(err);
fail:
	out->silhouette = out->ch = out->db = NAN;
	out->sampled = 0;
done:
	if (rng)
		gsl_rng_free(rng);
	kq_release(&q);
	return ret;
}

int kmeans_quality(const struct csr *X, const int32_t *assign, uint32_t k,
		   int metric, size_t sample, unsigned long seed, int threads,
		   struct kmeans_quality *out, struct pl_error *err)
{
	return quality(X, NULL, assign, k, metric, sample, seed, threads, out, err);
}

/* ---- sweeping k ---- */

void ksweep_release(struct ksweep *sw)
{
	pl_free(sw->k);
	pl_free(sw->objective);
	pl_free(sw->silhouette);
	pl_free(sw->ch);
	pl_free(sw->db);
	memset(sw, 0, sizeof(*sw));
}

/* Whether figure v beats the kept figure w under `select` (undefined
 * figures never win; equal ones keep the smaller k). */
static int beats(int select, double v, double w)
{
	if (!isfinite(v))
		return 0;
	if (!isfinite(w))
		return 1;
	return select == KMEANS_SELECT_DB ? v < w : v > w;
}

static double figure(const struct ksweep *sw, size_t i)
{
	switch (sw->select) {
	case KMEANS_SELECT_CH:
		return sw->ch[i];
	case KMEANS_SELECT_DB:
		return sw->db[i];
	default:
		return sw->silhouette[i];
	}
}

/* kmeans_row_norms' shares: rows [bound[s], bound[s + 1]). */
struct norms_job {
	const struct csr *X;
	double *nrm2;
	size_t bound[PL_MAX_THREADS + 1];
	size_t m[PL_MAX_THREADS];
};

static void norms_share(void *arg, size_t s, size_t ns)
{
	struct norms_job *job = arg;

	(void)ns;
	job->m[s] = 0;
	for (size_t i = job->bound[s]; i < job->bound[s + 1]; i++) {
		job->nrm2[i] = row_norm2(job->X, i);
		job->m[s] += job->nrm2[i] > 0;
	}
}

size_t kmeans_row_norms(const struct csr *X, int threads, double *nrm2)
{
	struct norms_job job;
	size_t ns, m = 0;

	job.X = X;
	job.nrm2 = nrm2;
	ns = csr_shares(X, threads < 1 ? 1 : threads, job.bound);
	pl_parallel(ns, norms_share, &job);
	for (size_t s = 0; s < ns; s++)
		m += job.m[s];
	return m;
}

int kmeans_sweep(const struct csr *X, const struct kmeans_opts *o,
		 uint32_t lo, uint32_t hi, int select, size_t sample,
		 struct clustering *best, struct ksweep *sw,
		 struct pl_error *err)
{
	struct kmeans_opts ko = *o;
	struct clustering cur;
	size_t m = 0, n, i, top;
	double *nrm2;

	memset(best, 0, sizeof(*best));
	memset(sw, 0, sizeof(*sw));
	memset(&cur, 0, sizeof(cur));
	if (lo < 1 || hi < lo)
		return pl_fail(err, PL_EX_CONFIG,
			       "[kmeans] k = %lu..%lu is not a range of at least 1",
			       (unsigned long)lo, (unsigned long)hi);
	if (select != KMEANS_SELECT_SILHOUETTE && select != KMEANS_SELECT_CH &&
	    select != KMEANS_SELECT_DB)
		return pl_fail(err, PL_EX_CONFIG, "[kmeans] unknown select %d",
			       select);
	if (o->warm && lo < hi)
		return pl_fail(err, PL_EX_SOFTWARE,
			       "kmeans: a warm start needs a single k, not %lu..%lu",
			       (unsigned long)lo, (unsigned long)hi);
	if (X->nnz && !X->fval)
		return pl_fail(err, PL_EX_SOFTWARE,
			       "kmeans: the matrix has no weights");
	/* The rows' norms, once for every fit and its figures. */
	nrm2 = pl_malloc((X->nrows ? X->nrows : 1) * sizeof(*nrm2));
	if (!nrm2)
		return pl_oom(err);
	m = kmeans_row_norms(X, o->threads, nrm2);
	ko.nrm2 = nrm2;
	/* hi above the rows with terms: stop there; lo above them fails in
	 * kmeans_fit with its message */
	top = hi;
	if (lo <= m && hi > m)
		top = m;
	n = lo <= m ? top - lo + 1 : 1;
	sw->k = pl_malloc(n * sizeof(*sw->k));
	sw->objective = pl_malloc(n * sizeof(*sw->objective));
	sw->silhouette = pl_malloc(n * sizeof(*sw->silhouette));
	sw->ch = pl_malloc(n * sizeof(*sw->ch));
	sw->db = pl_malloc(n * sizeof(*sw->db));
	if (!sw->k || !sw->objective || !sw->silhouette || !sw->ch || !sw->db) {
		pl_oom(err);
		goto fail;
	}
	sw->select = select;
	sw->lo = lo;
	sw->hi = hi;
	sw->m = m;
	for (i = 0; i < n; i++) {
		struct kmeans_quality q;

		ko.k = lo + (uint32_t)i;
		if (o->progress && n > 1)
			fprintf(o->progress, "kmeans: k = %lu (%lu..%lu)\n",
				(unsigned long)ko.k, (unsigned long)lo,
				(unsigned long)top);
		if (kmeans_fit(X, &ko, &cur, err) < 0 ||
		    quality(X, nrm2, cur.assign, cur.k, o->metric, sample,
			    o->seed, o->threads, &q, err) < 0)
			goto fail;
		sw->k[i] = ko.k;
		sw->objective[i] = cur.objective;
		sw->silhouette[i] = q.silhouette;
		sw->ch[i] = q.ch;
		sw->db[i] = q.db;
		if (q.sampled > sw->sampled)
			sw->sampled = q.sampled;
		sw->n = i + 1;
		if (i == 0 || beats(select, figure(sw, i), figure(sw, sw->chosen))) {
			clustering_release(best);
			*best = cur;
			sw->chosen = i;
		} else {
			clustering_release(&cur);
		}
		memset(&cur, 0, sizeof(cur));
	}
	pl_free(nrm2);
	return 0;
fail:
	pl_free(nrm2);
	clustering_release(&cur);
	clustering_release(best);
	ksweep_release(sw);
	return -1;
}

/* ---- matching the clusters of two fits ----
 *
 * kmeans_match (kmeans.h) solves the assignment problem exactly, on
 * integers: each cosine is rounded to a whole number of 2^-40, the
 * problem is made square, n = max(k, kprev), with zeros for the padding
 * (a cur cluster given a padding column is left over; padding rows take
 * the prev clusters nobody gets), and the cost of a pair is minus its
 * rounded similarity, at most 2^40 in magnitude.  The potentials below
 * are shortest-path distances over costs of that size, within n 2^41 in
 * magnitude: with n <= 2^16 they and the reduced costs stay far below
 * KMATCH_INF (2^61) in an int64.  Then:
 *  - the Hungarian algorithm in its O(n^3) shortest-augmenting-path form
 *    (Kuhn-Munkres with potentials): rows added one at a time, each by a
 *    Dijkstra-like search over reduced costs.  It ends with potentials u,
 *    v such that cost(i, j) >= u_i + v_j for every pair, with equality
 *    ("tight") on the pairs of the assignment;
 *  - by LP duality every optimal assignment uses tight pairs only, and
 *    every perfect matching of tight pairs is optimal.  So the
 *    lexicographically smallest optimal assignment is found row by row:
 *    row i takes the lowest free column c, tight with i, for which the
 *    rows and columns not yet fixed still have a perfect matching of
 *    tight pairs, i.e. the current matching has an alternating cycle
 *    through (i, c), found by a breadth-first search (O(n^2)) from the
 *    row holding c.  Few searches are needed unless many assignments
 *    tie; O(n^4) at worst.
 * Arrays are 1-based as in the usual statement of the algorithm: row or
 * column 0 is the search's virtual start.
 */
struct kmatch {
	size_t n, k, kprev;
	const int64_t *q;     /* k x kprev rounded similarities */
	int64_t *u, *v;       /* n + 1 potentials of rows and columns */
	int64_t *minv;        /* n + 1: the search's reduced distances */
	size_t *p;            /* n + 1: the row holding column j, 0 none */
	size_t *way;          /* n + 1: the search's previous column */
	size_t *colof;        /* n + 1: the column held by row i */
	size_t *queue;        /* n + 1: rows, for the breadth-first search */
	unsigned char *used;  /* n + 1: columns reached */
	unsigned char *fixed; /* n + 1: columns fixed for good */
};

#define KMATCH_INF (INT64_MAX / 4)
#define KMATCH_MAX ((size_t)1 << 16)

/* The cost of row i, column j (1-based). */
static int64_t kmatch_cost(const struct kmatch *mt, size_t i, size_t j)
{
	if (i > mt->k || j > mt->kprev)
		return 0;
	return -mt->q[(i - 1) * mt->kprev + (j - 1)];
}

static int kmatch_tight(const struct kmatch *mt, size_t i, size_t j)
{
	return kmatch_cost(mt, i, j) - mt->u[i] - mt->v[j] == 0;
}

/* An optimal assignment into p, with its potentials u, v. */
static void kmatch_hungarian(struct kmatch *mt)
{
	const size_t n = mt->n;
	size_t i, j;

	for (i = 1; i <= n; i++) {
		size_t j0 = 0;

		mt->p[0] = i;
		for (j = 0; j <= n; j++) {
			mt->minv[j] = KMATCH_INF;
			mt->used[j] = 0;
		}
		do {
			size_t i0 = mt->p[j0], j1 = 0;
			int64_t delta = KMATCH_INF;

			mt->used[j0] = 1;
			for (j = 1; j <= n; j++) {
				int64_t c;

				if (mt->used[j])
					continue;
				c = kmatch_cost(mt, i0, j) - mt->u[i0] - mt->v[j];
				if (c < mt->minv[j]) {
					mt->minv[j] = c;
					mt->way[j] = j0;
				}
				if (mt->minv[j] < delta) {
					delta = mt->minv[j];
					j1 = j;
				}
			}
			for (j = 0; j <= n; j++) {
				if (mt->used[j]) {
					mt->u[mt->p[j]] += delta;
					mt->v[j] -= delta;
				} else {
					mt->minv[j] -= delta;
				}
			}
			j0 = j1;
		} while (mt->p[j0] != 0);
		do {
			size_t j1 = mt->way[j0];

			mt->p[j0] = mt->p[j1];
			j0 = j1;
		} while (j0);
	}
	for (j = 1; j <= n; j++)
		mt->colof[mt->p[j]] = j;
}

/* Give column c to row i, keeping a perfect matching of tight pairs over
 * the rows and columns not fixed: an alternating path of tight pairs from
 * the row holding c to the column i holds.  Returns whether there is
 * one (the matching is then changed along it). */
static int kmatch_reroute(struct kmatch *mt, size_t i, size_t c)
{
	const size_t n = mt->n, r0 = mt->p[c], target = mt->colof[i];
	size_t head = 0, tail = 0, j;

	memset(mt->used, 0, n + 1);
	mt->used[c] = 1;
	mt->queue[tail++] = r0;
	while (head < tail) {
		size_t r = mt->queue[head++];

		for (j = 1; j <= n; j++) {
			if (mt->used[j] || mt->fixed[j] || !kmatch_tight(mt, r, j))
				continue;
			mt->used[j] = 1;
			mt->way[j] = r;
			if (j == target) {
				size_t col = target;

				for (;;) {
					size_t row = mt->way[col], old = mt->colof[row];

					mt->colof[row] = col;
					mt->p[col] = row;
					if (row == r0)
						break;
					col = old;
				}
				mt->colof[i] = c;
				mt->p[c] = i;
				return 1;
			}
			mt->queue[tail++] = mt->p[j];
		}
	}
	return 0;
}

/* The lexicographically smallest optimal assignment (see above). */
static void kmatch_smallest(struct kmatch *mt)
{
	const size_t n = mt->n;

	memset(mt->fixed, 0, n + 1);
	for (size_t i = 1; i <= n; i++) {
		for (size_t c = 1; c <= n; c++) {
			if (mt->fixed[c] || !kmatch_tight(mt, i, c))
				continue;
			if (c == mt->colof[i] || kmatch_reroute(mt, i, c))
				break;
		}
		mt->fixed[mt->colof[i]] = 1;
	}
}

/*
 * dot[i * kprev + j] = cur_i . prev_j (rows of d), each summed over t in
 * ascending order with one accumulator, so the bits are those of the plain
 * loop over t for each pair.  The plain loop, pair after pair, read every
 * row once per pair (400 times for k = 20) and waited on each addition
 * before the next: 0.07 s on the benchmark's 163,000 terms.  Here the
 * columns go a tile at a time, prev's tile transposed into tp (MATCH_TILE
 * * kprev doubles) so that prev_j..prev_j+3 at one column are adjacent,
 * and four pairs are summed side by side in registers.
 */
#define MATCH_TILE 256

static void match_dots(const double *prev, size_t kprev, const double *cur,
		       size_t k, size_t d, double *tp, double *dot)
{
	memset(dot, 0, k * kprev * sizeof(*dot));
	for (size_t t0 = 0; t0 < d; t0 += MATCH_TILE) {
		size_t nt = d - t0 < MATCH_TILE ? d - t0 : MATCH_TILE;

		for (size_t j = 0; j < kprev; j++)
			for (size_t u = 0; u < nt; u++)
				tp[u * kprev + j] = prev[j * d + t0 + u];
		for (size_t i = 0; i < k; i++) {
			const double *c = cur + i * d + t0;
			double *a = dot + i * kprev;
			size_t j = 0;

			for (; j + 4 <= kprev; j += 4) {
				double a0 = a[j], a1 = a[j + 1], a2 = a[j + 2], a3 = a[j + 3];

				for (size_t u = 0; u < nt; u++) {
					const double *pu = tp + u * kprev + j;

					a0 += c[u] * pu[0];
					a1 += c[u] * pu[1];
					a2 += c[u] * pu[2];
					a3 += c[u] * pu[3];
				}
				a[j] = a0;
				a[j + 1] = a1;
				a[j + 2] = a2;
				a[j + 3] = a3;
			}
			for (; j < kprev; j++) {
				double a0 = a[j];

				for (size_t u = 0; u < nt; u++)
					a0 += c[u] * tp[u * kprev + j];
				a[j] = a0;
			}
		}
	}
}

int kmeans_match(const double *prev, size_t kprev, const double *cur,
		 size_t k, size_t d, double min_sim, int32_t *match,
		 struct pl_error *err)
{
	struct kmatch mt;
	double *sim = NULL, *pn = NULL, *tp = NULL;
	int64_t *q = NULL;
	size_t i, j, n1;
	int ret = -1;

	memset(&mt, 0, sizeof(mt));
	for (i = 0; i < k; i++)
		match[i] = -1;
	if (k == 0 || kprev == 0)
		return 0;
	if (k > KMATCH_MAX || kprev > KMATCH_MAX ||
	    k > SIZE_MAX / sizeof(double) / kprev)
		return pl_fail(err, PL_EX_OSERR,
			       "kmeans: %zu and %zu clusters are too many to match",
			       kprev, k);
	mt.n = k > kprev ? k : kprev;
	mt.k = k;
	mt.kprev = kprev;
	n1 = mt.n + 1;
	sim = pl_malloc(k * kprev * sizeof(*sim));
	q = pl_malloc(k * kprev * sizeof(*q));
	pn = pl_malloc(kprev * sizeof(*pn));
	tp = pl_malloc(MATCH_TILE * kprev * sizeof(*tp));
	mt.u = pl_calloc(n1, sizeof(*mt.u));
	mt.v = pl_calloc(n1, sizeof(*mt.v));
	mt.minv = pl_malloc(n1 * sizeof(*mt.minv));
	mt.p = pl_calloc(n1, sizeof(*mt.p));
	mt.way = pl_calloc(n1, sizeof(*mt.way));
	mt.colof = pl_calloc(n1, sizeof(*mt.colof));
	mt.queue = pl_malloc(n1 * sizeof(*mt.queue));
	mt.used = pl_malloc(n1);
	mt.fixed = pl_malloc(n1);
	if (!sim || !q || !pn || !tp ||
	    !mt.u || !mt.v || !mt.minv || !mt.p ||
	    !mt.way || !mt.colof || !mt.queue || !mt.used || !mt.fixed) {
		pl_oom(err);
		goto done;
	}
	mt.q = q;

	for (j = 0; j < kprev; j++)
		pn[j] = sqrt(dense_norm2(prev + j * d, d));
	/* The dot products, turned into similarities in place. */
	match_dots(prev, kprev, cur, k, d, tp, sim);
	for (i = 0; i < k; i++) {
		double cn = sqrt(dense_norm2(cur + i * d, d));

		for (j = 0; j < kprev; j++) {
			double s = 0;

			if (cn > 0 && pn[j] > 0) {
				s = sim[i * kprev + j] / (cn * pn[j]);
				s = s > 1 ? 1 : s < -1 ? -1 : s;
			}
			sim[i * kprev + j] = s;
			q[i * kprev + j] = isnan(s) ? 0 : llround(s * 0x1p40);
		}
	}
	kmatch_hungarian(&mt);
	kmatch_smallest(&mt);
	for (i = 0; i < k; i++) {
		j = mt.colof[i + 1];
		if (j <= kprev && sim[i * kprev + j - 1] >= min_sim)
			match[i] = (int32_t)(j - 1);
	}
	ret = 0;
done:
	pl_free(sim);
	pl_free(q);
	pl_free(pn);
	pl_free(tp);
	pl_free(mt.u);
	pl_free(mt.v);
	pl_free(mt.minv);
	pl_free(mt.p);
	pl_free(mt.way);
	pl_free(mt.colof);
	pl_free(mt.queue);
	pl_free(mt.used);
	pl_free(mt.fixed);
	return ret;
}

/* ksweep.tsv: one row per k of ctx->ksweep.  0 or -1. */
static int write_ksweep(struct ctx *ctx, struct pl_error *err)
{
	const struct ksweep *sw = &ctx->ksweep;
	struct outfile of;
	size_t i;

	if (out_open(ctx, "ksweep.tsv", &of, err) ||
	    out_printf(err, &of, "k\tobjective\tsilhouette\tcalinski_harabasz\t"
		       "davies_bouldin\tselected\n"))
		goto fail;
	for (i = 0; i < sw->n; i++) {
		const double v[4] = { sw->objective[i], sw->silhouette[i],
				      sw->ch[i], sw->db[i] };
		size_t f;

		if (out_printf(err, &of, "%lu", (unsigned long)sw->k[i]))
			goto fail;
		for (f = 0; f < 4; f++) {
			int rc = isfinite(v[f]) ? out_printf(err, &of, "\t%.9g", v[f])
						: out_printf(err, &of, "\tNA");

			if (rc)
				goto fail;
		}
		if (out_printf(err, &of, "\t%d\n", i == sw->chosen))
			goto fail;
	}
	return out_close(&of, err);
fail:
	out_close(&of, NULL);
	return -1;
}

/* The stage: cluster ctx->tfidf into ctx->km with the [kmeans] keys,
 * sweeping k when it is a range, and write ksweep.tsv. */
/* previous_centroids' answer when out of memory. */
static double prev_oom;
#define PREV_OOM (&prev_oom)

/*
 * The previous run's centroids (ctx->cache, pipeline/cache.h: sparse rows
 * over term ids, which are append-only) as dense rows over the d columns
 * kmeans_run clusters on: column i is term kept[i], and rank[t] is term
 * t's column when it has one.  Terms without entries now are dropped.  NULL when there is
 * no previous clustering, PREV_OOM when out of memory.  Caller frees.
 */
static double *previous_centroids(const struct ctx *ctx, const uint32_t *rank,
				  const uint32_t *kept, size_t d)
{
	const struct cache *c = ctx->cache;
	size_t ncols = ctx->tfidf.ncols;
	double *p;

	if (!c || !c->k || !d)
		return NULL;
	p = pl_calloc((size_t)c->k * d, sizeof(*p));
	if (!p)
		return PREV_OOM;
	for (uint32_t j = 0; j < c->k; j++)
		for (uint64_t e = c->cptr[j]; e < c->cptr[j + 1]; e++) {
			uint32_t t = c->cterm[e];

			/* t has a column when the column's term is t. */
			if (t < ncols && rank[t] < d && kept[rank[t]] == t)
				p[(size_t)j * d + rank[t]] = c->cval[e];
		}
	return p;
}

/*
 * Cluster ids (struct clustering's label): a first run numbers them 1..k
 * (label NULL).  A rerun matches the new centroids to the previous ones
 * (kmeans_match: an optimal one-to-one assignment on cosine similarity);
 * a cluster matched with similarity >= [kmeans] match_min keeps the
 * previous id, any other gets the next id never used in this output
 * folder.  0 or -1 (out of memory).
 */
static int label_clusters(struct ctx *ctx, const double *prev, size_t d,
			  struct pl_error *err)
{
	const struct cache *c = ctx->cache;
	struct clustering *km = &ctx->km;
	int32_t *match;
	uint32_t next;

	pl_free(km->label);
	km->label = NULL;
	km->next_label = km->k + 1;
	if (!prev || !km->k)
		return 0;
	match = pl_malloc(km->k * sizeof(*match));
	km->label = pl_malloc(km->k * sizeof(*km->label));
	if (!match || !km->label) {
		pl_free(match);
		return pl_oom(err);
	}
	if (kmeans_match(prev, c->k, km->centroid, km->k, d,
			 ctx->cfg->v[CFG_kmeans_match_min].r, match, err)) {
		pl_free(match);
		return -1;
	}
	next = c->next_label;
	for (uint32_t j = 0; j < c->k; j++)
		if (c->clabel[j] >= next)
			next = c->clabel[j] + 1;
	/* New ids in cluster order (largest first), so they are deterministic. */
	for (uint32_t i = 0; i < km->k; i++)
		km->label[i] = match[i] >= 0 ? c->clabel[match[i]] : next++;
	km->next_label = next;
	pl_free(match);
	return 0;
}

/* m's column ids c become map[c], on `threads` threads. */
struct relabel_job {
	struct csr *m;
	const uint32_t *map;
	size_t bound[PL_MAX_THREADS + 1];
};

static void relabel_share(void *arg, size_t s, size_t ns)
{
	struct relabel_job *job = arg;
	uint32_t *col = job->m->col;

	(void)ns;
	for (uint64_t e = job->m->rowptr[job->bound[s]];
	     e < job->m->rowptr[job->bound[s + 1]]; e++)
		col[e] = job->map[col[e]];
}

static void relabel_columns(struct csr *m, const uint32_t *map, long threads)
{
	struct relabel_job job;

	if (!m->nrows)
		return;
	job.m = m;
	job.map = map;
	pl_parallel(csr_shares(m, threads, job.bound), relabel_share, &job);
}

static int kmeans_run(struct ctx *ctx, struct pl_error *err)
{
	const struct cfg_value *v = ctx->cfg->v;
	struct kmeans_opts o;
	struct csr X;
	uint32_t *rank, *kept;
	double *prev;
	uint64_t empty = 0, nnz;
	size_t i;
	int rc;

	memset(&o, 0, sizeof(o));
	o.init = (int)v[CFG_kmeans_init].i;
	o.restarts = (int)v[CFG_kmeans_restarts].i;
	o.max_iter = (int)v[CFG_kmeans_max_iter].i;
	o.tol = v[CFG_kmeans_tol].r;
	o.seed = (unsigned long)v[CFG_kmeans_seed].i;
	o.metric = (int)v[CFG_kmeans_metric].i;
	o.progress = ctx->progress ? stderr : NULL;
	o.threads = (int)(ctx->rep.threads > 0 ? ctx->rep.threads : 1);
	clustering_release(&ctx->km);
	ksweep_release(&ctx->ksweep);
	/* Cluster on the columns that have entries (the kept terms) only:
	 * pruned terms are zero in every row, and dense centroids over them
	 * would cost k x all terms.  The column indices are renumbered in
	 * place (the order is kept) and restored afterwards, on every path,
	 * so no second copy of the largest array is needed. */
	nnz = ctx->tfidf.nrows ? ctx->tfidf.rowptr[ctx->tfidf.nrows] : 0;
	kept = pl_malloc((ctx->tfidf.ncols ? ctx->tfidf.ncols : 1) * sizeof(*kept));
	rank = pl_calloc(ctx->tfidf.ncols ? ctx->tfidf.ncols : 1, sizeof(*rank));
	if (!kept || !rank) {
		pl_free(kept);
		pl_free(rank);
		return pl_oom(err);
	}
	for (size_t e = 0; e < nnz; e++)
		rank[ctx->tfidf.col[e]] = 1;
	X = ctx->tfidf;
	X.nnz = nnz;
	X.ncols = 0;
	for (size_t t = 0; t < ctx->tfidf.ncols; t++)
		if (rank[t]) {
			kept[X.ncols] = (uint32_t)t;
			rank[t] = (uint32_t)X.ncols++;
		}
	relabel_columns(&ctx->tfidf, rank, (long)o.threads);
	/* The previous run's centroids, in these columns: the warm start. */
	prev = previous_centroids(ctx, rank, kept, X.ncols);
	if (prev == PREV_OOM) {
		prev = NULL;
		rc = pl_oom(err);
		goto restore;
	}
	if (prev && v[CFG_kmeans_warm_start].i == 0 &&
	    v[CFG_kmeans_k].i == v[CFG_kmeans_k].hi &&
	    ctx->cache->k == (uint32_t)v[CFG_kmeans_k].i &&
	    ctx->cache->metric == (uint32_t)o.metric)
		o.warm = prev;
	for (;;) {
		rc = kmeans_sweep(&X, &o, (uint32_t)v[CFG_kmeans_k].i,
				  (uint32_t)v[CFG_kmeans_k].hi,
				  (int)v[CFG_kmeans_select].i,
				  (size_t)v[CFG_kmeans_silhouette_sample].i, &ctx->km,
				  &ctx->ksweep, err);
		/* A warm start with every previous centroid gone (all its
		 * terms pruned now) cannot run: seed afresh. */
		if (rc == 0 || !o.warm || err->code != PL_EX_DATAERR)
			break;
		o.warm = NULL;
	}
	if (rc == 0) {
		ctx->km.warm = o.warm != NULL;
		rc = label_clusters(ctx, prev, X.ncols, err);
	}
restore:
	pl_free(prev);
	pl_free(rank);
	relabel_columns(&ctx->tfidf, kept, (long)o.threads);
	if (rc < 0) {
		pl_free(kept);
		return -1;
	}
	/* The centroids' columns, for the cache index (pipeline/cache.c). */
	ctx->km.col = kept;
	ctx->km.d = X.ncols;
	for (i = 0; i < ctx->tfidf.nrows; i++)
		empty += ctx->km.assign[i] < 0;
	ctx->rep.empty_units = empty;
	return write_ksweep(ctx, err);
}

static void kmeans_release(struct ctx *ctx)
{
	clustering_release(&ctx->km);
	ksweep_release(&ctx->ksweep);
}

const struct stage stage_kmeans = {
	.name = "kmeans",
	.help = "cluster the statements' TF-IDF rows with k-means "
		"(spherical for cosine, Lloyd's for euclidean), sweeping k "
		"over a range; write ksweep.tsv",
	.run = kmeans_run,
	.release = kmeans_release,
};
