/* counts.c -- write counts.mtx.gz
 *
 * In: ctx->counts (the vocabulary stage's matrix).  Out: counts.mtx.gz,
 * Matrix Market coordinate integer, statements x terms, the occurrences of
 * every term, kept or not (output/README.md).
 *
 * Its own stage, run just before TF-IDF, because the TF-IDF stage turns
 * the counts into the weights in place (stages/tfidf.c): the counts
 * matrix and the TF-IDF matrix are never in memory together.  Its time is
 * not part of run.json's wall_seconds.to_tfidf.
 */
#include "stages.h"

static int counts_run(struct ctx *ctx, struct pl_error *err)
{
	return write_mtx(ctx, "counts.mtx.gz",
			 "% rows: statements; row i is statement i of docs.tsv\n"
			 "% columns: terms; column j is term j of terms.tsv.gz\n"
			 "% values: occurrences of the term in the statement, every term kept or not\n",
			 &ctx->counts, NULL, err);
}

const struct stage stage_counts = {
	.name = "counts",
	.help = "write counts.mtx.gz (before TF-IDF reuses the counts' memory)",
	.run = counts_run,
};
