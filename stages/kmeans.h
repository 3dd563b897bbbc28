/* kmeans.h -- k-means clustering of the sparse TF-IDF rows
 *
 * kmeans_fit() clusters the rows of a CSR matrix (the statements) into k
 * groups, either by spherical k-means on unit-length rows (cosine) or by
 * Lloyd's k-means on the raw rows (euclidean).  Rows stay sparse; only the
 * k centroids are dense.  The result is deterministic: the same matrix,
 * options and seed give the same clustering, bit for bit.  stage_kmeans
 * (stages.h) runs it on ctx->tfidf with the [kmeans] configuration.
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

#endif
