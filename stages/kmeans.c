/* kmeans.c -- k-means clustering of the sparse TF-IDF rows
 *
 * In: the TF-IDF matrix (units x kept terms, CSR, `val` weights) and the
 * [kmeans] options.  Out: struct clustering (stages.h): a cluster per unit,
 * its cosine similarity to the centroid, the dense k x terms centroids and
 * the cluster sizes, numbered by size.  Rows stay sparse throughout; only
 * the centroids are dense, so memory is O(nnz + k * terms), and each
 * iteration costs O(nnz * k).
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
 *    no shared writes, ready to be split across threads), then recompute
 *    the centroids serially in row order.  Before that, each empty cluster
 *    takes the row with the largest cost to its current centroid among rows
 *    whose cluster has more than one member (ties: lowest row).  Stop when
 *    no assignment changed or the objective improved by no more than
 *    tol * |previous| (both count as converged), or after max_iter.  The
 *    centroids returned are those of the last update, the objective is the
 *    one of the returned assignment against them, and no cluster is empty.
 *  - restarts runs are made; the lowest objective is kept (ties: the
 *    earliest).  All randomness comes from one gsl_rng_mt19937 seeded with
 *    opts.seed and drawn in sequence through the restarts, and every sum is
 *    taken in a fixed order: same input and seed, same bits out.
 *  - The clusters are renumbered by size, largest first, ties by the lowest
 *    row index among their members.
 * Every work array is allocated once per fit, before the first restart.
 *
 * Choosing k: kmeans_quality() scores a clustering by the silhouette,
 * Calinski-Harabasz and Davies-Bouldin indices (the definitions, and the
 * scikit-learn function each reproduces, are above it), and kmeans_sweep()
 * fits every k of a range and keeps the one [kmeans] select prefers.  The
 * stage always sweeps (a single k is a sweep of one), so ksweep.tsv always
 * carries the quality figures of the k in use.
 */
#include "kmeans.h"

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
	double *nrm2;         /* squared norm of each raw row */
	double *scale;        /* 1 / norm (cosine) or 1 (euclidean); 0 if empty */
	int32_t *lab;         /* labels after the last centroid update */
	int32_t *nxt;         /* labels from the assignment step */
	int32_t *best_lab;    /* labels of the best restart so far */
	double *cost;         /* 1 - cos or squared distance to own centroid */
	double *C;            /* k x d centroids of the current restart */
	double *best_C;       /* k x d centroids of the best restart */
	double *cn2;          /* squared norm of each centroid in C */
	double *Ct;           /* d x k: C transposed, for the assignment step */
	double *trial;        /* kmeans++: weights if the current candidate won */
	double *trial_best;   /* kmeans++: weights for the best candidate */
	double *dots;         /* nthreads x k scratch for the assignment */
	int nthreads;
	size_t *count;        /* members per cluster */
	size_t *pick;         /* the k rows chosen as initial centres */
	unsigned char *taken; /* per row: already an initial centre */
	struct order *ord;    /* k entries, for the final numbering */
	gsl_rng *rng;
};

/* A cluster as sorted for the final numbering. */
struct order {
	size_t size, first;   /* members, lowest member row */
	uint32_t old;         /* label before renumbering */
};

/* x_i . c for a dense centroid row c, summed in column order. */
static double row_dot(const struct csr *X, size_t i, const double *c)
{
	double s = 0;
	uint64_t p;

	for (p = X->rowptr[i]; p < X->rowptr[i + 1]; p++)
		s += X->val[p] * c[X->col[p]];
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
		c[X->col[p]] = km->scale[i] * X->val[p];
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

/* The assignment step: nxt[i] and cost[i] for every row with terms, from
 * C.  Each row writes only its own entries, so rows are split among
 * threads; the dot products run over C transposed (the k centroid values
 * of one column are adjacent), adding each row's terms in column order as
 * row_dot does, so the result is the same to the bit whatever the layout
 * or the number of threads. */
struct assign_job {
	struct km *km;
	size_t t0, t1;
	double *dots;
	pthread_t tid;
};

static void *assign_range(void *arg)
{
	struct assign_job *a = arg;
	struct km *km = a->km;
	const struct csr *X = km->X;
	const uint32_t k = km->k;
	double *dots = a->dots;

	for (size_t t = a->t0; t < a->t1; t++) {
		size_t i = km->rows[t];
		uint32_t j, best = 0;
		double best_v = 0;

		memset(dots, 0, k * sizeof(*dots));
		for (uint64_t p = X->rowptr[i]; p < X->rowptr[i + 1]; p++) {
			const double v = X->val[p];
			const double *ct = km->Ct + (size_t)X->col[p] * k;

			for (j = 0; j < k; j++)
				dots[j] += v * ct[j];
		}
		for (j = 0; j < k; j++) {
			/* cosine: largest dot; euclidean: smallest distance */
			double v = km->cosine ? -dots[j] : row_cost(km, i, j, dots[j]);

			if (j == 0 || v < best_v) {
				best = j;
				best_v = v;
			}
		}
		km->nxt[i] = (int32_t)best;
		km->cost[i] = km->cosine ? row_cost(km, i, best, -best_v)
					 : best_v;
	}
	return NULL;
}

static void assign_rows(struct km *km)
{
	struct assign_job job[64];
	int n = km->nthreads;
	size_t d = km->d;

	for (size_t c = 0; c < d; c++)
		for (uint32_t j = 0; j < km->k; j++)
			km->Ct[c * km->k + j] = km->C[(size_t)j * d + c];
	if ((size_t)n > km->m / 256 + 1)
		n = (int)(km->m / 256 + 1);  /* not worth a thread */
	for (int t = 0; t < n; t++) {
		job[t].km = km;
		job[t].t0 = km->m * (size_t)t / (size_t)n;
		job[t].t1 = km->m * (size_t)(t + 1) / (size_t)n;
		job[t].dots = km->dots + (size_t)t * km->k;
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
		km->count[km->lab[far]]--;
		km->lab[far] = (int32_t)j;
		km->count[j] = 1;
		km->cost[far] = 0;
	}
}

/* The update step: fill empty clusters, then C = the (normalised) means of
 * the clusters in lab, summed in row order. */
static void update_centroids(struct km *km)
{
	size_t t, d = km->d;
	uint32_t j;

	memset(km->count, 0, km->k * sizeof(*km->count));
	for (t = 0; t < km->m; t++)
		km->count[km->lab[km->rows[t]]]++;
	fill_empty(km);

	memset(km->C, 0, (size_t)km->k * d * sizeof(*km->C));
	for (t = 0; t < km->m; t++) {
		size_t i = km->rows[t];
		double *c = km->C + (size_t)km->lab[i] * d;
		double s = km->scale[i];
		uint64_t p;

		for (p = km->X->rowptr[i]; p < km->X->rowptr[i + 1]; p++)
			c[km->X->col[p]] += s * km->X->val[p];
	}
	for (j = 0; j < km->k; j++) {
		double *c = km->C + (size_t)j * d;
		double div;

		if (km->cosine)
			div = sqrt(dense_norm2(c, d));
		else
			div = (double)km->count[j];
		if (div > 0) {
			for (t = 0; t < d; t++)
				c[t] /= div;
		}
		km->cn2[j] = dense_norm2(c, d);
	}
}

/* One progress line, padded so that it covers a longer previous one. */
static void progress(const struct kmeans_opts *o, int restart, int it,
		     double obj)
{
	char line[128];

	snprintf(line, sizeof(line),
		 "kmeans: restart %d/%d iteration %d objective %.6g",
		 restart + 1, o->restarts, it, obj);
	fprintf(o->progress, "\r%-72s", line);
	fflush(o->progress);
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

	if (init_centres(km, err) < 0)
		return -1;
	for (t = 0; t < km->m; t++)
		km->lab[km->rows[t]] = -1;
	*converged = 0;
	for (it = 1;; it++) {
		size_t changed = 0;
		int32_t *swap;

		assign_rows(km);
		cur = 0;
		for (t = 0; t < km->m; t++) {
			size_t i = km->rows[t];

			changed += km->nxt[i] != km->lab[i];
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
		if (o->progress)
			progress(o, restart, it, cur);
		if (*converged || it >= o->max_iter)
			break;
		prev = cur;
	}
	*iters = it;

	/* the objective of the returned labels against the returned centroids */
	cur = 0;
	for (t = 0; t < km->m; t++) {
		size_t i = km->rows[t];
		uint32_t j = (uint32_t)km->lab[i];

		km->cost[i] = row_cost(km, i, j,
				       row_dot(km->X, i, km->C + (size_t)j * km->d));
		cur += km->cost[i];
	}
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

/* Write best_lab and best_C into out in the final numbering.  The
 * counts array is reused to map old labels to new ones. */
static void renumber(struct km *km, struct clustering *out)
{
	size_t t, i, d = km->d;
	uint32_t j;

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
	for (j = 0; j < km->k; j++) {
		uint32_t old = km->ord[j].old;

		km->count[old] = j;
		out->size[j] = (uint32_t)km->ord[j].size;
		memcpy(out->centroid + (size_t)j * d, km->best_C + (size_t)old * d,
		       d * sizeof(*out->centroid));
		km->cn2[j] = dense_norm2(out->centroid + (size_t)j * d, d);
	}
	for (i = 0; i < km->n; i++) {
		double dot, den, s;

		if (km->best_lab[i] < 0) {
			out->assign[i] = -1;
			out->sim[i] = 0;
			continue;
		}
		j = (uint32_t)km->count[km->best_lab[i]];
		out->assign[i] = (int32_t)j;
		dot = row_dot(km->X, i, out->centroid + (size_t)j * d);
		den = sqrt(km->nrm2[i]) * sqrt(km->cn2[j]);
		s = den > 0 ? dot / den : 0;
		out->sim[i] = s > 1 ? 1 : s < -1 ? -1 : s;
	}
}

static int check_opts(const struct kmeans_opts *o, struct pl_error *err)
{
	if (o->k < 1 || o->k > INT32_MAX)
		return pl_fail(err, PL_EX_CONFIG,
			       "[kmeans] k = %lu is out of range (1..%ld)",
			       (unsigned long)o->k, (long)INT32_MAX);
	if (o->restarts < 1)
		return pl_fail(err, PL_EX_CONFIG,
			       "[kmeans] restarts must be at least 1");
	if (o->max_iter < 1)
		return pl_fail(err, PL_EX_CONFIG,
			       "[kmeans] max_iter must be at least 1");
	if (!(o->tol >= 0) || isinf(o->tol))
		return pl_fail(err, PL_EX_CONFIG,
			       "[kmeans] tol must be a number >= 0");
	if (o->init != KMEANS_INIT_PLUSPLUS && o->init != KMEANS_INIT_RANDOM)
		return pl_fail(err, PL_EX_CONFIG, "[kmeans] unknown init %d",
			       o->init);
	if (o->metric != KMEANS_COSINE && o->metric != KMEANS_EUCLIDEAN)
		return pl_fail(err, PL_EX_CONFIG, "[kmeans] unknown metric %d",
			       o->metric);
	return 0;
}

/* Row norms, scales and the list of rows with terms.  0 or -1. */
static int scan_rows(struct km *km, struct pl_error *err)
{
	const struct csr *X = km->X;
	size_t i;

	if (X->nnz && !X->val)
		return pl_fail(err, PL_EX_SOFTWARE,
			       "kmeans: the matrix has no weights");
	km->m = 0;
	for (i = 0; i < km->n; i++) {
		double s = 0;
		uint64_t p;

		for (p = X->rowptr[i]; p < X->rowptr[i + 1]; p++)
			s += X->val[p] * X->val[p];
		if (!isfinite(s))
			return pl_fail(err, PL_EX_DATAERR,
				       "kmeans: statement %zu has weights that are not finite",
				       i + 1);
		km->nrm2[i] = s;
		km->scale[i] = s > 0 ? (km->cosine ? 1.0 / sqrt(s) : 1.0) : 0;
		if (s > 0)
			km->m++;
	}
	return 0;
}

static void km_release(struct km *km)
{
	pl_free(km->rows);
	pl_free(km->nrm2);
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
	pl_free(km->count);
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
	int r, ret = -1, all_iters = 0;
	double t_start = pl_now();

	memset(out, 0, sizeof(*out));
	memset(&km, 0, sizeof(km));
	if (check_opts(o, err) < 0)
		return -1;
	km.X = X;
	km.o = o;
	km.n = n;
	km.d = X->ncols;
	km.k = o->k;
	km.cosine = o->metric == KMEANS_COSINE;

	km.nrm2 = pl_malloc(n * sizeof(*km.nrm2));
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
	km.best_C = pl_malloc(kd * sizeof(*km.best_C));
	km.cn2 = pl_malloc(km.k * sizeof(*km.cn2));
	km.nthreads = o->threads < 1 ? 1 : o->threads > 64 ? 64 : o->threads;
	km.Ct = pl_malloc(kd * sizeof(*km.Ct));
	km.trial = pl_calloc(n, sizeof(*km.trial));
	km.trial_best = pl_calloc(n, sizeof(*km.trial_best));
	km.dots = pl_malloc((size_t)km.nthreads * km.k * sizeof(*km.dots));
	km.count = pl_malloc(km.k * sizeof(*km.count));
	km.pick = pl_malloc(km.k * sizeof(*km.pick));
	km.taken = pl_malloc(n);
	km.ord = pl_malloc(km.k * sizeof(*km.ord));
	out->assign = pl_malloc(n * sizeof(*out->assign));
	out->sim = pl_malloc(n * sizeof(*out->sim));
	out->centroid = pl_malloc(kd * sizeof(*out->centroid));
	out->size = pl_malloc(km.k * sizeof(*out->size));
	if (!km.rows || !km.lab || !km.nxt || !km.best_lab || !km.cost ||
	    !km.C || !km.best_C || !km.cn2 || !km.Ct || !km.dots ||
	    !km.trial || !km.trial_best ||
	    !km.count || !km.pick ||
	    !km.taken || !km.ord || !out->assign || !out->sim ||
	    !out->centroid || !out->size)
		goto oom;
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
	for (r = 0; r < o->restarts; r++) {
		double obj;
		int iters, conv;

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
	if (o->progress)
		fputc('\n', o->progress);

	renumber(&km, out);
	out->k = km.k;
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
	double *nrm2;         /* n: squared norm of each raw row */
	size_t *count;        /* k: rows per cluster */
	size_t *rows;         /* m: the labelled rows, ascending */
	size_t *pick;         /* the rows the silhouette averages over */
	double *S;            /* k x d: T_j, then M_j */
	double *mean;         /* d: M */
	double *cn2;          /* k: |M_j|^2 */
	double *spread;       /* k: s_j, then DB's max ratio per cluster */
};

static void kq_release(struct kq *q)
{
	pl_free(q->nrm2);
	pl_free(q->count);
	pl_free(q->rows);
	pl_free(q->pick);
	pl_free(q->S);
	pl_free(q->mean);
	pl_free(q->cn2);
	pl_free(q->spread);
}

/* S_j = sum of f_i x_i over cluster j, with f_i = 1/|x_i| (unit) or 1. */
static void cluster_sums(struct kq *q, int unit)
{
	const struct csr *X = q->X;
	size_t t;

	memset(q->S, 0, (size_t)q->k * q->d * sizeof(*q->S));
	for (t = 0; t < q->m; t++) {
		size_t i = q->rows[t];
		double *c = q->S + (size_t)q->assign[i] * q->d;
		double f = unit ? (q->nrm2[i] > 0 ? 1 / sqrt(q->nrm2[i]) : 0) : 1;
		uint64_t p;

		for (p = X->rowptr[i]; p < X->rowptr[i + 1]; p++)
			c[X->col[p]] += f * X->val[p];
	}
}

/* The cosine silhouette over q->pick[0..npick); S must hold T_j. */
static double silhouette(const struct kq *q, size_t npick)
{
	double total = 0;
	size_t t;

	for (t = 0; t < npick; t++) {
		size_t i = q->pick[t];
		uint32_t own = (uint32_t)q->assign[i], j;
		double f = q->nrm2[i] > 0 ? 1 / sqrt(q->nrm2[i]) : 0;
		double a, b = 0, top;
		int have_b = 0;

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
			total += (b - a) / top;
	}
	return total / (double)npick;
}

/* Calinski-Harabasz and Davies-Bouldin on the rows z_i; S must hold the
 * cluster sums of z (turned into the means M_j here). */
static void ch_db(struct kq *q, double *ch, double *db)
{
	const struct csr *X = q->X;
	size_t d = q->d, t, c;
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
	for (t = 0; t < q->m; t++) {
		size_t i = q->rows[t];
		uint32_t own = (uint32_t)q->assign[i];
		double f = q->cosine ? (q->nrm2[i] > 0 ? 1 / sqrt(q->nrm2[i]) : 0) : 1;
		double d2 = f * f * q->nrm2[i] -
			    2 * f * row_dot(X, i, q->S + (size_t)own * d) + q->cn2[own];

		d2 = d2 > 0 ? d2 : 0;
		within += d2;
		q->spread[own] += sqrt(d2);
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
	for (j = 0; j < q->k; j++) {
		for (l = j + 1; l < q->k; l++) {
			const double *a = q->S + (size_t)j * d, *b = q->S + (size_t)l * d;
			double dist = 0, r;

			for (c = 0; c < d; c++)
				dist += (a[c] - b[c]) * (a[c] - b[c]);
			dist = sqrt(dist);
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

int kmeans_quality(const struct csr *X, const int32_t *assign, uint32_t k,
		   int metric, size_t sample, unsigned long seed,
		   struct kmeans_quality *out, struct pl_error *err)
{
	struct kq q;
	gsl_rng *rng = NULL;
	size_t i, npick;
	uint32_t j;
	int ret = -1;

	memset(&q, 0, sizeof(q));
	out->silhouette = out->ch = out->db = NAN;
	out->sampled = 0;
	if (X->nnz && !X->val)
		return pl_fail(err, PL_EX_SOFTWARE,
			       "kmeans: the matrix has no weights");
	q.X = X;
	q.assign = assign;
	q.k = k;
	q.n = X->nrows;
	q.d = X->ncols;
	q.cosine = metric == KMEANS_COSINE;
	q.nrm2 = pl_malloc(q.n * sizeof(*q.nrm2));
	q.count = pl_calloc(k ? k : 1, sizeof(*q.count));
	q.rows = pl_malloc(q.n * sizeof(*q.rows));
	if (!q.nrm2 || !q.count || !q.rows)
		goto oom;
	for (i = 0; i < q.n; i++) {
		uint64_t p;
		double s2 = 0;

		if (assign[i] < -1 || assign[i] >= (int64_t)k) {
			pl_fail(err, PL_EX_SOFTWARE,
				"kmeans: statement %zu is in cluster %ld of %lu",
				i + 1, (long)assign[i] + 1, (unsigned long)k);
			goto fail;
		}
		for (p = X->rowptr[i]; p < X->rowptr[i + 1]; p++)
			s2 += X->val[p] * X->val[p];
		q.nrm2[i] = s2;
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
	if (!q.pick || !q.S || !q.mean || !q.cn2 || !q.spread)
		goto oom;
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
	out->silhouette = silhouette(&q, npick);
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

int kmeans_sweep(const struct csr *X, const struct kmeans_opts *o,
		 uint32_t lo, uint32_t hi, int select, size_t sample,
		 struct clustering *best, struct ksweep *sw,
		 struct pl_error *err)
{
	struct kmeans_opts ko = *o;
	struct clustering cur;
	size_t m = 0, n, i, top;

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
	if (X->nnz && !X->val)
		return pl_fail(err, PL_EX_SOFTWARE,
			       "kmeans: the matrix has no weights");
	for (i = 0; i < X->nrows; i++) {
		double s2 = 0;
		uint64_t p;

		for (p = X->rowptr[i]; p < X->rowptr[i + 1]; p++)
			s2 += X->val[p] * X->val[p];
		m += s2 > 0;
	}
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
		    kmeans_quality(X, cur.assign, cur.k, o->metric, sample,
				   o->seed, &q, err) < 0)
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
	return 0;
fail:
	clustering_release(&cur);
	clustering_release(best);
	ksweep_release(sw);
	return -1;
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
static int kmeans_run(struct ctx *ctx, struct pl_error *err)
{
	const struct cfg_value *v = ctx->cfg->v;
	struct kmeans_opts o;
	struct csr X;
	uint32_t *rank, *kept;
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
	for (size_t e = 0; e < nnz; e++)
		ctx->tfidf.col[e] = rank[ctx->tfidf.col[e]];
	pl_free(rank);
	rc = kmeans_sweep(&X, &o, (uint32_t)v[CFG_kmeans_k].i,
			  (uint32_t)v[CFG_kmeans_k].hi,
			  (int)v[CFG_kmeans_select].i,
			  (size_t)v[CFG_kmeans_silhouette_sample].i, &ctx->km,
			  &ctx->ksweep, err);
	for (size_t e = 0; e < nnz; e++)
		ctx->tfidf.col[e] = kept[ctx->tfidf.col[e]];
	pl_free(kept);
	if (rc < 0)
		return -1;
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
