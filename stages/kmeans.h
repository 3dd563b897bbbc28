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
};

/*
 * Cluster the rows of X (X->val holds the weights; columns sorted within
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
 * On success returns 0 and *out owns new arrays (free them with
 * clustering_release()); whatever *out held before is overwritten, not
 * freed.  On failure returns -1 with err filled and *out zeroed:
 *   PL_EX_CONFIG   k, restarts, max_iter, tol, init or metric out of range;
 *   PL_EX_DATAERR  fewer rows with terms than k, or a non-finite weight;
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
 * Costs O(nnz + sample * nnz-per-row * k + k^2 * ncols) time and
 * O(k * ncols) memory: no pairwise matrix.  Always fills *q (NAN figures
 * and sampled 0 on failure).  0, or -1 with err filled: PL_EX_SOFTWARE for
 * a label out of range or an empty cluster, PL_EX_OSERR when out of
 * memory.
 */
int kmeans_quality(const struct csr *X, const int32_t *assign, uint32_t k,
		   int metric, size_t sample, unsigned long seed,
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
 * On success returns 0, *best holds the kept clustering
 * (clustering_release) and *sw the figures of every k, in ascending k
 * (ksweep_release); both are overwritten, not freed.  On failure returns
 * -1 with err filled as kmeans_fit fills it, PL_EX_CONFIG for lo > hi or
 * an unknown select, and *best and *sw zeroed.
 */
int kmeans_sweep(const struct csr *X, const struct kmeans_opts *o,
		 uint32_t lo, uint32_t hi, int select, size_t sample,
		 struct clustering *best, struct ksweep *sw,
		 struct pl_error *err);

/* Free what sw holds and zero it; safe on a zeroed struct. */
void ksweep_release(struct ksweep *sw);

#endif
