/* kmeans.h -- k-means clustering of the sparse TF-IDF rows
 *
 * kmeans_fit() clusters the rows of a CSR matrix (the statements) into k
 * groups, either by spherical k-means on unit-length rows (cosine) or by
 * Lloyd's k-means on the raw rows (euclidean).  Rows stay sparse; only the
 * k centroids are dense.  The result is deterministic: the same matrix,
 * options and seed give the same clustering, bit for bit.  stage_kmeans
 * (stages.h) runs kmeans_sweep() on ctx->tfidf with the [kmeans]
 * configuration (a single k is a sweep of one), keeps the chosen fit in
 * ctx->km and the figures of every k in ctx->ksweep, and writes them to
 * ksweep.tsv.
 */
#ifndef PL_KMEANS_H
#define PL_KMEANS_H

#include "stages.h"

#include <stdint.h>
#include <stdio.h>

/* Values of kmeans_opts.init and .metric: the index of the choice in
 * config.def's [kmeans] init and metric keys. */
enum { KMEANS_INIT_PLUSPLUS = 0, KMEANS_INIT_RANDOM = 1 };
enum { KMEANS_COSINE = 0, KMEANS_EUCLIDEAN = 1 };

struct kmeans_opts {
	uint32_t k;             /* clusters, >= 1 */
	int init;               /* 0 kmeans++, 1 random */
	int restarts;           /* independent seedings, >= 1; best kept */
	int max_iter;           /* iterations per restart, >= 1 */
	double tol;             /* stop when the objective improves by no more
				   than tol * |previous objective|; >= 0 */
	unsigned long seed;     /* seeds one GSL mt19937 for the whole fit
				   (GSL maps seed 0 to its default, 4357) */
	int metric;             /* 0 cosine, 1 euclidean */
	FILE *progress;         /* NULL = silent */
	int threads;            /* threads for the assignment step; 0 or 1:
				   the calling thread only.  The result does
				   not depend on it */
	int plain;              /* 0 (default): the assignment step skips
				   the centroids that bounds prove too far
				   (kmeans.c, "the assignment step"; it
				   needs rows x k doubles, and runs plain
				   when those would be more than the matrix,
				   the centroids and 256 MiB); 1: plain
				   Lloyd, every row against every centroid.
				   Both give the same result, bit for bit;
				   1 is there to check that */
	const double *warm;     /* NULL (default): seed as init says.
				   Otherwise k x ncols initial centroids,
				   dense, row-major, in the columns of the X
				   given to kmeans_fit (for the stage: the
				   kept terms); see kmeans_fit.  Not owned:
				   read during the call only */
	const double *nrm2;     /* NULL (default): kmeans_fit computes the
				   rows' squared norms.  Otherwise those of
				   every row of X, as kmeans_row_norms gives
				   them (kmeans_sweep passes its own, which
				   its quality figures use too).  Not owned */
};

/*
 * The squared norm |x_i|^2 of every row of X (X->fval, summed in double in
 * column order) into nrm2[0 .. X->nrows), on up to `threads` threads (the
 * bits do not depend on them).  Returns the rows with a positive norm.
 */
size_t kmeans_row_norms(const struct csr *X, int threads, double *nrm2);

/*
 * Cluster the rows of X (X->fval holds the weights; columns sorted within
 * each row; X is not modified).
 *
 * Rows whose norm is 0 are not clustered: out->assign is -1 and out->sim 0
 * for them.  The clusters are numbered by size, largest first (ties: the
 * cluster holding the lower row index first); out->centroid (k x ncols,
 * row-major), out->size and out->assign use that numbering.  out->sim[i] is
 * the cosine similarity of row i to its centroid, for either metric.
 * out->objective is the sum of (1 - cos) (cosine) or of squared distances
 * (euclidean, scikit-learn's inertia_) over the clustered rows, for the
 * returned centroids and assignment.  Every cluster has at least one row.
 *
 * Warm start (o->warm not NULL): no seeding and one run only (restarts,
 * init and seed are ignored; out->restart is 0).  The first assignment
 * step is made against the k given centroids: as given for euclidean;
 * for cosine each is scaled to unit length (one whose squared norm is
 * already within 8 (ncols + 4) DBL_EPSILON of 1, as kmeans_fit's own
 * centroids are, is used as given).  A warm centroid that is all zeros is
 * an empty cluster, for either metric: no row is assigned to it in that
 * first step, and the update step gives it a row as it gives one to any
 * cluster left empty.  Besides the usual tests, a warm fit also converges
 * after its first iteration when the update step gives back exactly the
 * centroids it started from (the next assignment could not change
 * anything), so a warm start from the centroids of a fit that converged
 * with no change reports 1 iteration and the same clustering.
 *
 * On success returns 0 and *out owns new arrays (free them with
 * clustering_release()); whatever *out held before is overwritten, not
 * freed.  On failure returns -1 with err filled and *out zeroed:
 *   PL_EX_CONFIG   k, restarts, max_iter, tol, init or metric out of range;
 *   PL_EX_DATAERR  fewer rows with terms than k, or a non-finite weight;
 *                  a warm centroid with a non-finite value, or every warm
 *                  centroid zero (nothing to start from);
 *   PL_EX_OSERR    out of memory.
 */
int kmeans_fit(const struct csr *X, const struct kmeans_opts *o,
	       struct clustering *out, struct pl_error *err);

/* Values of [kmeans] select: the index of the choice in config.def. */
enum { KMEANS_SELECT_SILHOUETTE = 0, KMEANS_SELECT_CH = 1,
       KMEANS_SELECT_DB = 2 };

/* How good a clustering is, by the three usual internal criteria.  Each
 * is NAN where scikit-learn refuses to compute it: fewer than 2 clusters,
 * or as many clusters as clustered rows. */
struct kmeans_quality {
	double silhouette;  /* cosine silhouette, -1..1, higher is better */
	double ch;          /* Calinski-Harabasz, higher is better */
	double db;          /* Davies-Bouldin, >= 0, lower is better */
	size_t sampled;     /* rows the silhouette averages over */
};

/*
 * The quality of the labels `assign` (per row of X: 0..k-1, or -1 for a
 * row left out, as kmeans_fit leaves rows with no terms) for the given
 * metric.  Rows labelled -1 take no part in any figure.
 *
 *  - silhouette: the cosine silhouette, whatever the metric (it ignores
 *    row lengths, so it is the same on raw and on unit rows);
 *    scikit-learn's silhouette_score(X, labels, metric="cosine").  With
 *    more than `sample` labelled rows (sample > 0) it averages over
 *    `sample` of them drawn with gsl_ran_choose from a GSL mt19937 seeded
 *    with `seed` (the same rows for every k), each still measured against
 *    all rows; sample = 0 uses every row;
 *  - ch, db: calinski_harabasz_score and davies_bouldin_score on the rows
 *    as k-means clusters them: unit-length rows for KMEANS_COSINE, the raw
 *    rows for KMEANS_EUCLIDEAN.
 *
 * Costs O(nnz + sample * nnz-per-row * k + k^2 * ncols) time, on up to
 * `threads` threads (the figures are the same bits whatever their number),
 * and O(k * ncols + rows) memory: no pairwise matrix.  Always fills *q
 * (NAN figures and sampled 0 on failure).  0, or -1 with err filled:
 * PL_EX_SOFTWARE for a label out of range or an empty cluster, PL_EX_OSERR
 * when out of memory.
 */
int kmeans_quality(const struct csr *X, const int32_t *assign, uint32_t k,
		   int metric, size_t sample, unsigned long seed, int threads,
		   struct kmeans_quality *q, struct pl_error *err);

/*
 * Fit every k from lo to hi (o->k is ignored; every other option, the
 * seed included, is used as it is for each k, so each fit is the one
 * kmeans_fit gives for that k alone), compute each one's quality with
 * kmeans_quality(X, ..., o->metric, sample, o->seed) and keep the one that
 * `select` (KMEANS_SELECT_*) picks: highest silhouette, highest
 * Calinski-Harabasz or lowest Davies-Bouldin; ties and undefined figures
 * go to the smaller k, so when no k has the figure, lo is kept.  lo == hi
 * is a sweep of one.
 *
 * When hi is above the number of rows with terms, the sweep stops there
 * (sw->hi keeps the asked-for hi, sw->m the rows with terms); lo above it
 * fails as kmeans_fit does.
 *
 * o->warm is passed through when lo == hi (it must then hold lo
 * centroids); with lo < hi it must be NULL (PL_EX_SOFTWARE otherwise).
 *
 * On success returns 0, *best holds the kept clustering
 * (clustering_release) and *sw the figures of every k, in ascending k
 * (ksweep_release); both are overwritten, not freed.  On failure returns
 * -1 with err filled as kmeans_fit fills it, PL_EX_CONFIG for lo > hi or
 * an unknown select, PL_EX_SOFTWARE for a warm start with lo < hi, and
 * *best and *sw zeroed.
 */
int kmeans_sweep(const struct csr *X, const struct kmeans_opts *o,
		 uint32_t lo, uint32_t hi, int select, size_t sample,
		 struct clustering *best, struct ksweep *sw,
		 struct pl_error *err);

/* Free what sw holds and zero it; safe on a zeroed struct. */
void ksweep_release(struct ksweep *sw);

/*
 * Match the clusters of one fit (cur, k x d) to those of an earlier one
 * (prev, kprev x d): both dense, row-major, in the same d columns; only
 * read.  match (k entries, the caller's) gets, for each cur cluster i,
 * the prev cluster j it continues, or -1.
 *
 * The similarity of a pair is the cosine of the two centroids (0 when
 * either is all zeros; a pair whose cosine is not a number, from
 * non-finite input, counts as 0 and is never matched).  The cur clusters
 * are given distinct prev clusters so that the sum of the similarities is
 * largest (an optimal assignment, by Kuhn-Munkres on the square problem
 * padded with zero similarities: min(k, kprev) pairs, the others left
 * over).  Then match[i] = j for the pairs whose similarity is >= min_sim,
 * and -1 for the cur clusters below min_sim or left over (k > kprev).
 *
 * Ties, deterministically: the similarities are rounded to multiples of
 * 2^-40 for the assignment, so sums and ties are exact (the sum found is
 * within min(k, kprev) 2^-40 of the largest unrounded one); among the
 * assignments with the largest rounded sum, the one whose match array
 * (before the min_sim cut, a left-over cur cluster counting after every
 * prev index) is lexicographically smallest: cur cluster 0 gets the
 * lowest-numbered prev cluster any optimal assignment gives it, then
 * cluster 1 the lowest given that, and so on.  As clusters are numbered
 * by size, larger clusters win ties.
 *
 * Costs O(k kprev d + max(k, kprev)^3) time (up to max(k, kprev)^4 when
 * many assignments tie) and O(k kprev + k + kprev) memory.  kprev = 0
 * sets every match to -1; k = 0 does nothing.  Returns 0, or -1 with
 * PL_EX_OSERR in err when out of memory or with more than 65536 clusters
 * on either side (match is then all -1).
 */
int kmeans_match(const double *prev, size_t kprev, const double *cur,
		 size_t k, size_t d, double min_sim, int32_t *match,
		 struct pl_error *err);

#endif
