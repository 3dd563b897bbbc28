/* summary.c -- what each cluster is about, for people and for programs
 *
 * In: the TF-IDF matrix, the clustering and the frame hits held by struct
 * ctx, and the statements' text, re-read for a few quotes.  Out, through the
 * staged output files of common.c (output/README.md documents each one):
 *
 *   clusters.tsv   one row per cluster: size, top terms, top frames
 *   frames.tsv     one row per (frame, cluster), long format for R
 *   summary.md     the report for people: the corpus, how k was chosen
 *                  (ctx->ksweep, from the kmeans stage), each cluster's terms,
 *                  frames and most representative statements, the frames by
 *                  cluster, their co-occurrence and a few plain sentences
 *   summary.json   the same content for programs
 *
 * Definitions used throughout:
 *  - a cluster's mean TF-IDF of a term averages over all its statements
 *    (statements without the term count as 0);
 *  - a term's discriminating score in a cluster is its mean there minus its
 *    mean over the other clustered statements;
 *  - a statement carries a frame when it has at least one hit of it; a
 *    frame's hit share in a cluster is the cluster's hits over the frame's
 *    hits in the whole corpus (unclustered statements included, so a
 *    frame's shares can add up to less than 1);
 *  - the representative statements of a cluster are those most similar to
 *    its centroid, ties going to the earlier statement.
 * Ties between terms go to the lower term id, between frames to the one
 * listed first in the config, between clusters to the lower number, so the
 * files depend only on the input.  Clusters are listed largest first and
 * shown by their ids (cluster_id: 1..k on a first run; a rerun keeps the
 * previous run's ids, see kmeans.c).
 *
 * With a previous run to compare with (its cache, pipeline/cache.h), the
 * stage also writes changes.tsv (statements new, moved to another cluster,
 * or removed), the "Since the last run" section of summary.md and the same
 * figures as summary.json's "since" (null on a first run).
 *
 * Memory stays proportional to the vocabulary plus k x frames x frames: each
 * cluster's terms are ranked and written before the next cluster's.
 */
#include "stages.h"
#include "../pipeline/cache.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The id a cluster is shown with (stable across reruns, see kmeans.c). */
#define CID(s, c) cluster_id(&(s)->ctx->km, (int32_t)(c))

/* Quotes are cut to about this many bytes of cleaned text. */
#define SNIPPET_BYTES 240

/* A term's weights in one cluster. */
struct term_score {
	uint32_t term;
	double mean;        /* mean TF-IDF in the cluster */
	double other;       /* mean TF-IDF over the other clustered statements */
	double score;       /* mean - other */
};

/* What the four files share, computed once by summary_prepare(). */
struct summary {
	struct ctx *ctx;
	size_t nu, nt, nf;
	uint32_t k;
	int document;               /* corpus.unit = document */
	int prev_document;          /* the same, in the previous run (its
				       cache's analysis text) */
	size_t ntop, nrep;          /* output.top_terms, output.snippets */
	size_t nclustered;
	uint32_t *size;             /* k: statements per cluster */
	uint32_t *order;            /* clustered statements grouped by cluster,
				     * ascending within each */
	size_t *start;              /* k + 1 offsets into order */
	double *total;              /* nt: TF-IDF summed over clustered units */
	uint64_t *fhits;            /* nf: hits in the corpus */
	uint32_t *funits;           /* nf: statements carrying the frame */
	uint64_t *uhits;            /* nf: hits in unclustered statements */
	uint32_t *uunits;           /* nf: unclustered statements carrying it */
	uint64_t *chits;            /* k x nf */
	uint32_t *cunits;           /* k x nf */
	uint32_t *co;               /* nf x nf over all statements */
	uint32_t *cco;              /* k x nf x nf */
	int any_unclustered_hits;

	/* Per-cluster scratch, reused cluster after cluster. */
	double *sum;                /* nt, zero between clusters */
	uint8_t *mark;              /* nt: term is in cand, zero between */
	struct term_score *cand;    /* nt */
	struct term_score *top;     /* ntop, by mean */
	struct term_score *disc;    /* ntop, by score */
	size_t ntopc, ndiscc;
	uint32_t *rep;              /* nrep statement ids */
	size_t nrepc;
	struct strbuf *snippet;     /* nrep cleaned quotes */
	struct strbuf line;         /* one line of changes.tsv (emit) */
};

static double ratio(double a, double b)
{
	return b > 0 ? a / b : 0;
}

/* calloc for a x b elements of `size` bytes, failing on overflow. */
static void *alloc2(size_t a, size_t b, size_t size)
{
	if (b && a > SIZE_MAX / b)
		return NULL;
	return pl_calloc(a * b, size);
}

/* ---- escaping ---- */


static int tsv_addstr(struct strbuf *sb, const char *s)
{
	return strbuf_add_tsv(sb, s, strlen(s));
}

static int word_byte(unsigned c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	       (c >= 'A' && c <= 'Z') || c >= 0x80;
}

/* Append s as Markdown inline text, safe inside a table cell: control
 * characters become spaces; \ ` * [ ] < | are backslash-escaped (CommonMark
 * escapes, and \| in GFM tables); '_' only at a word's edge, since an
 * intraword '_' never starts emphasis (double_standard stays readable). */
static int md_add(struct strbuf *sb, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t run = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned c = p[i];
		int esc;

		if (c < 0x20 || c == 0x7f) {
			if (strbuf_add(sb, s + run, i - run) || strbuf_addch(sb, ' '))
				return -1;
			run = i + 1;
			continue;
		}
		if (c == '_')
			esc = i == 0 || i + 1 == len || !word_byte(p[i - 1]) ||
			      !word_byte(p[i + 1]);
		else
			esc = strchr("\\`*[]<|", (int)c) != NULL;
		if (esc) {
			if (strbuf_add(sb, s + run, i - run) || strbuf_addch(sb, '\\'))
				return -1;
			run = i;
		}
	}
	return strbuf_add(sb, s + run, len - run);
}

static int md_addstr(struct strbuf *sb, const char *s)
{
	return md_add(sb, s, strlen(s));
}

static int json_str(struct strbuf *sb, const char *s)
{
	return strbuf_add_json(sb, s, strlen(s));
}

/* Reals in JSON: exact ("%.17g") or a share ("%.6g"); null if not finite. */
static int json_exact(struct strbuf *sb, double v)
{
	return isfinite(v) ? strbuf_addf(sb, "%.17g", v) : strbuf_addstr(sb, "null");
}

static int json_share(struct strbuf *sb, double v)
{
	return isfinite(v) ? strbuf_addf(sb, "%.6g", v) : strbuf_addstr(sb, "null");
}

/* ---- statistics ---- */

static int summary_prepare(struct summary *s, struct pl_error *err)
{
	struct ctx *ctx = s->ctx;
	const struct csr *m = &ctx->tfidf;
	const int32_t *assign = ctx->km.assign;
	size_t *pos = NULL;
	uint32_t *carry = NULL;
	size_t nf = s->nf;

	s->size = pl_calloc(s->k, sizeof(*s->size));
	s->start = pl_calloc((size_t)s->k + 1, sizeof(*s->start));
	s->order = pl_calloc(s->nu, sizeof(*s->order));
	pos = pl_calloc((size_t)s->k + 1, sizeof(*pos));
	s->total = pl_calloc(s->nt, sizeof(*s->total));
	s->sum = pl_calloc(s->nt, sizeof(*s->sum));
	s->mark = pl_calloc(s->nt, sizeof(*s->mark));
	s->cand = pl_calloc(s->nt, sizeof(*s->cand));
	s->top = pl_calloc(s->ntop, sizeof(*s->top));
	s->disc = pl_calloc(s->ntop, sizeof(*s->disc));
	s->rep = pl_calloc(s->nrep, sizeof(*s->rep));
	s->snippet = pl_calloc(s->nrep, sizeof(*s->snippet));
	s->fhits = pl_calloc(nf, sizeof(*s->fhits));
	s->funits = pl_calloc(nf, sizeof(*s->funits));
	s->uhits = pl_calloc(nf, sizeof(*s->uhits));
	s->uunits = pl_calloc(nf, sizeof(*s->uunits));
	s->chits = alloc2(s->k, nf, sizeof(*s->chits));
	s->cunits = alloc2(s->k, nf, sizeof(*s->cunits));
	s->co = alloc2(nf, nf, sizeof(*s->co));
	s->cco = alloc2((size_t)s->k * nf, nf, sizeof(*s->cco));
	carry = pl_calloc(nf, sizeof(*carry));
	if (!s->size || !s->start || !s->order || !pos || !s->total ||
	    !s->sum || !s->mark || !s->cand || !s->top || !s->disc ||
	    !s->rep || !s->snippet || !s->fhits || !s->funits || !s->uhits ||
	    !s->uunits || !s->chits || !s->cunits || !s->co || !s->cco ||
	    !carry) {
		pl_oom(err);
		goto fail;
	}
	if (m->nrows != s->nu || m->ncols != s->nt) {
		pl_fail(err, PL_EX_SOFTWARE,
			"summary: TF-IDF matrix is %zu x %zu, expected %zu x %zu",
			m->nrows, m->ncols, s->nu, s->nt);
		goto fail;
	}

	/* Group the clustered statements by cluster (a counting sort keeps
	 * them in ascending order within each cluster). */
	for (size_t u = 0; s->k && u < s->nu; u++) {
		if (assign[u] < -1 || assign[u] >= (int32_t)s->k) {
			pl_fail(err, PL_EX_SOFTWARE,
				"summary: statement %zu is in cluster %" PRId32 " of %" PRIu32,
				u + 1, assign[u] + 1, s->k);
			goto fail;
		}
		if (assign[u] >= 0) {
			s->size[assign[u]]++;
			s->nclustered++;
		}
	}
	for (uint32_t c = 0; c < s->k; c++)
		s->start[c + 1] = s->start[c] + s->size[c];
	memcpy(pos, s->start, ((size_t)s->k + 1) * sizeof(*pos));
	for (size_t u = 0; s->k && u < s->nu; u++) {
		if (assign[u] < 0)
			continue;
		s->order[pos[assign[u]]++] = (uint32_t)u;
		for (uint64_t e = m->rowptr[u]; e < m->rowptr[u + 1]; e++)
			s->total[m->col[e]] += m->fval[e];
	}

	/* Frames: per statement, the frames it carries, then every pair. */
	for (size_t u = 0; nf && u < s->nu; u++) {
		const uint32_t *h = ctx->frames.hits + u * nf;
		int32_t c = s->k ? assign[u] : -1;
		size_t n = 0;

		for (size_t f = 0; f < nf; f++) {
			if (!h[f])
				continue;
			carry[n++] = (uint32_t)f;
			s->fhits[f] += h[f];
			s->funits[f]++;
			if (c >= 0) {
				s->chits[(size_t)c * nf + f] += h[f];
				s->cunits[(size_t)c * nf + f]++;
			} else {
				s->uhits[f] += h[f];
				s->uunits[f]++;
				s->any_unclustered_hits = 1;
			}
		}
		for (size_t a = 0; a < n; a++) {
			for (size_t b = 0; b < n; b++) {
				s->co[carry[a] * nf + carry[b]]++;
				if (c >= 0)
					s->cco[((size_t)c * nf + carry[a]) * nf + carry[b]]++;
			}
		}
	}
	pl_free(pos);
	pl_free(carry);
	return 0;
fail:
	pl_free(pos);
	pl_free(carry);
	return -1;
}

static void summary_release(struct summary *s)
{
	for (size_t i = 0; s->snippet && i < s->nrep; i++)
		strbuf_release(&s->snippet[i]);
	pl_free(s->snippet);
	strbuf_release(&s->line);
	pl_free(s->size);
	pl_free(s->order);
	pl_free(s->start);
	pl_free(s->total);
	pl_free(s->fhits);
	pl_free(s->funits);
	pl_free(s->uhits);
	pl_free(s->uunits);
	pl_free(s->chits);
	pl_free(s->cunits);
	pl_free(s->co);
	pl_free(s->cco);
	pl_free(s->sum);
	pl_free(s->mark);
	pl_free(s->cand);
	pl_free(s->top);
	pl_free(s->disc);
	pl_free(s->rep);
}

static int by_mean(const void *a, const void *b)
{
	const struct term_score *x = a, *y = b;

	if (x->mean != y->mean)
		return x->mean > y->mean ? -1 : 1;
	return x->term < y->term ? -1 : x->term > y->term;
}

static int by_score(const void *a, const void *b)
{
	const struct term_score *x = a, *y = b;

	if (x->score != y->score)
		return x->score > y->score ? -1 : 1;
	return x->term < y->term ? -1 : x->term > y->term;
}

static int mean_positive(const struct term_score *x)
{
	return x->mean > 0;
}

static int score_positive(const struct term_score *x)
{
	return x->score > 0;
}

/* Restore the heap below slot i of top[0 .. n - 1], whose root is the
 * entry that ranks last under `cmp`. */
static void sift_down(struct term_score *top, size_t n, size_t i,
		      int (*cmp)(const void *, const void *))
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, w = i;
		struct term_score tmp;

		if (l < n && cmp(&top[l], &top[w]) > 0)
			w = l;
		if (r < n && cmp(&top[r], &top[w]) > 0)
			w = r;
		if (w == i)
			return;
		tmp = top[i];
		top[i] = top[w];
		top[w] = tmp;
		i = w;
	}
}

/* The first `keep` (at most) of the n candidates that pass `ok`, in the
 * order of `cmp`, into top; returns how many.  What sorting them all and
 * taking the head gives (cmp is a total order: ties go by term id), in
 * O(n log keep): a heap of the best so far, the one that ranks last at
 * its root, sorted at the end.  A cluster has up to every term as a
 * candidate (163,747 on the benchmark corpus) and keeps 10. */
static size_t top_terms(const struct term_score *cand, size_t n, size_t keep,
			int (*cmp)(const void *, const void *),
			int (*ok)(const struct term_score *), struct term_score *top)
{
	size_t m = 0;

	for (size_t i = 0; i < n; i++) {
		if (!ok(&cand[i]))
			continue;
		if (m < keep) {
			size_t j = m++;

			top[j] = cand[i];
			while (j > 0 && cmp(&top[(j - 1) / 2], &top[j]) < 0) {
				struct term_score tmp = top[j];

				top[j] = top[(j - 1) / 2];
				top[(j - 1) / 2] = tmp;
				j = (j - 1) / 2;
			}
		} else if (m && cmp(&cand[i], &top[0]) < 0) {
			top[0] = cand[i];
			sift_down(top, m, 0, cmp);
		}
	}
	qsort(top, m, sizeof(*top), cmp);
	return m;
}

/* Rank cluster c's terms into s->top (by mean) and s->disc (by positive
 * score).  Only terms present in the cluster can have a positive mean or
 * score, so only those are ranked. */
static void cluster_terms(struct summary *s, uint32_t c)
{
	const struct csr *m = &s->ctx->tfidf;
	size_t n = 0, rest = s->nclustered - s->size[c];

	for (size_t i = s->start[c]; i < s->start[c + 1]; i++) {
		uint32_t u = s->order[i];

		for (uint64_t e = m->rowptr[u]; e < m->rowptr[u + 1]; e++) {
			uint32_t t = m->col[e];

			if (!s->mark[t]) {
				s->mark[t] = 1;
				s->cand[n++].term = t;
			}
			s->sum[t] += m->fval[e];
		}
	}
	for (size_t i = 0; i < n; i++) {
		struct term_score *ts = &s->cand[i];
		uint32_t t = ts->term;
		double other;

		ts->mean = s->sum[t] / s->size[c];
		other = rest ? (s->total[t] - s->sum[t]) / (double)rest : 0;
		ts->other = other > 0 ? other : 0; /* rounding can go below 0 */
		ts->score = ts->mean - ts->other;
		s->sum[t] = 0;
		s->mark[t] = 0;
	}

	s->ntopc = top_terms(s->cand, n, s->ntop, by_mean, mean_positive, s->top);
	s->ndiscc = top_terms(s->cand, n, s->ntop, by_score, score_positive, s->disc);
}

static double sim_of(const struct summary *s, uint32_t u)
{
	const double *sim = s->ctx->km.sim;

	return sim && isfinite(sim[u]) ? sim[u] : -INFINITY;
}

/* Cut a cleaned quote to SNIPPET_BYTES at a character boundary, at a space
 * when one is near the end, and mark the cut with an ellipsis. */
static int snippet_cut(struct strbuf *sb)
{
	size_t cut = SNIPPET_BYTES;

	if (sb->len <= SNIPPET_BYTES)
		return 0;
	while (cut > 0 && ((unsigned char)sb->buf[cut] & 0xc0) == 0x80)
		cut--;
	for (size_t i = cut; i > SNIPPET_BYTES * 3 / 4; i--) {
		if (sb->buf[i] == ' ') {
			cut = i;
			break;
		}
	}
	while (cut > 0 && sb->buf[cut - 1] == ' ')
		cut--;
	sb->len = cut;
	sb->buf[cut] = '\0';
	return strbuf_addstr(sb, "\xe2\x80\xa6"); /* U+2026 */
}

/* Pick cluster c's representative statements into s->rep and read their
 * quotes into s->snippet. */
static int cluster_reps(struct summary *s, uint32_t c, struct pl_error *err)
{
	s->nrepc = 0;
	for (size_t i = s->start[c]; s->nrep && i < s->start[c + 1]; i++) {
		uint32_t u = s->order[i];
		double v = sim_of(s, u);
		size_t at;

		if (s->nrepc == s->nrep && !(v > sim_of(s, s->rep[s->nrep - 1])))
			continue;
		/* Statements come in ascending order, so an equal similarity
		 * goes after the ones already there. */
		at = s->nrepc < s->nrep ? s->nrepc : s->nrep - 1;
		while (at > 0 && v > sim_of(s, s->rep[at - 1])) {
			s->rep[at] = s->rep[at - 1];
			at--;
		}
		s->rep[at] = u;
		if (s->nrepc < s->nrep)
			s->nrepc++;
	}
	for (size_t r = 0; r < s->nrepc; r++) {
		char *text = NULL;
		size_t len = 0;
		int rc;

		strbuf_reset(&s->snippet[r]);
		if (read_unit_text(s->ctx, s->rep[r], &text, &len, err))
			return -1;
		/* A few bytes more than the cut, so a cleaned text that fits
		 * is known to be whole. */
		rc = strbuf_add_clean(&s->snippet[r], text ? text : "", len,
				      SNIPPET_BYTES + 8) ||
		     snippet_cut(&s->snippet[r]);
		pl_free(text);
		if (rc)
			return pl_oom(err);
		if (!s->snippet[r].buf && strbuf_addstr(&s->snippet[r], ""))
			return pl_oom(err);
	}
	return 0;
}

/* Frames with hits in cluster c, by share of the frame's hits, into idx;
 * returns how many. */
static size_t cluster_top_frames(const struct summary *s, uint32_t c,
				 uint32_t *idx)
{
	size_t n = 0;

	for (size_t f = 0; f < s->nf; f++) {
		double share;
		size_t at;

		if (!s->chits[(size_t)c * s->nf + f])
			continue;
		share = ratio((double)s->chits[(size_t)c * s->nf + f],
			      (double)s->fhits[f]);
		at = n++;
		while (at > 0 &&
		       share > ratio((double)s->chits[(size_t)c * s->nf + idx[at - 1]],
				     (double)s->fhits[idx[at - 1]])) {
			idx[at] = idx[at - 1];
			at--;
		}
		idx[at] = (uint32_t)f;
	}
	return n;
}

/* ---- frames.tsv ---- */

static int write_frames_tsv(struct summary *s, struct pl_error *err)
{
	struct outfile of;
	struct strbuf sb = STRBUF_INIT;
	size_t nf = s->nf;

	memset(&of, 0, sizeof(of));
	if (out_open(s->ctx, "frames.tsv", &of, err) ||
	    out_printf(err, &of, "frame\tcluster\tunits\tunit_share\thits\t"
		       "hit_share\tcooccurs\n"))
		goto fail;
	for (size_t f = 0; f < nf; f++) {
		for (uint32_t c = 0; c < s->k; c++) {
			size_t cf = (size_t)c * nf + f;
			int rc;

			strbuf_reset(&sb);
			rc = tsv_addstr(&sb, s->ctx->frames.name[f]) ||
			     strbuf_addf(&sb, "\t%" PRIu32 "\t%" PRIu32 "\t%.6g\t%"
					 PRIu64 "\t%.6g\t", CID(s, c), s->cunits[cf],
					 ratio(s->cunits[cf], s->size[c]),
					 s->chits[cf],
					 ratio((double)s->chits[cf], (double)s->fhits[f]));
			for (size_t g = 0, first = 1; !rc && g < nf; g++) {
				if (g == f)
					continue;
				rc = (!first && strbuf_addstr(&sb, ", ")) ||
				     tsv_addstr(&sb, s->ctx->frames.name[g]) ||
				     strbuf_addf(&sb, ":%" PRIu32,
						 s->cco[cf * nf + g]);
				first = 0;
			}
			if (rc || strbuf_addch(&sb, '\n')) {
				pl_oom(err);
				goto fail;
			}
			if (out_write(&of, sb.buf, sb.len, err))
				goto fail;
		}
	}
	strbuf_release(&sb);
	return out_close(&of, err);
fail:
	strbuf_release(&sb);
	out_close(&of, NULL);
	return -1;
}

/* ---- clusters.tsv, summary.md and summary.json, cluster by cluster ---- */

static int tsv_cluster(struct summary *s, uint32_t c, struct strbuf *sb,
		       uint32_t *idx)
{
	struct strbuf disp = STRBUF_INIT;
	size_t n;
	int rc;

	rc = strbuf_addf(sb, "%" PRIu32 "\t%" PRIu32 "\t", CID(s, c), s->size[c]);
	for (size_t i = 0; !rc && i < s->ntopc; i++) {
		strbuf_reset(&disp);
		rc = (i && strbuf_addstr(sb, ", ")) ||
		     term_display(s->ctx, s->top[i].term, &disp) ||
		     strbuf_add_tsv(sb, disp.buf ? disp.buf : "", disp.len);
	}
	rc = rc || strbuf_addch(sb, '\t');
	n = cluster_top_frames(s, c, idx);
	for (size_t i = 0; !rc && i < n; i++) {
		size_t f = idx[i];

		rc = (i && strbuf_addstr(sb, ", ")) ||
		     tsv_addstr(sb, s->ctx->frames.name[f]) ||
		     strbuf_addf(sb, ":%.2f",
				 ratio((double)s->chits[(size_t)c * s->nf + f],
				       (double)s->fhits[f]));
	}
	rc = rc || strbuf_addch(sb, '\n');
	strbuf_release(&disp);
	return rc;
}

/* "file ¶P, line L", or "file" in document mode. */
static int md_source(const struct summary *s, uint32_t u, struct strbuf *sb)
{
	const struct units *un = &s->ctx->units;

	if (md_addstr(sb, s->ctx->files.rel[un->file[u]]))
		return -1;
	if (s->document)
		return 0;
	return strbuf_addf(sb, " \xc2\xb6%" PRIu32 ", line %" PRIu32,
			   un->para[u], un->line[u]);
}

static const char *plural(uint64_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

static int md_cluster(struct summary *s, uint32_t c, struct strbuf *sb)
{
	struct strbuf disp = STRBUF_INIT;
	size_t nf = s->nf;
	int rc;

	rc = strbuf_addf(sb, "\n## Cluster %" PRIu32 " (%" PRIu32 " %s)\n\n", CID(s, c),
			 s->size[c], plural(s->size[c], "statement", "statements"));
	if (!rc && !s->size[c])
		rc = strbuf_addstr(sb, "No statements.\n");
	if (rc || !s->size[c])
		goto done;

	rc = strbuf_addstr(sb, "**Top terms** (mean TF-IDF): ");
	for (size_t i = 0; !rc && i < s->ntopc; i++) {
		strbuf_reset(&disp);
		rc = (i && strbuf_addstr(sb, ", ")) ||
		     term_display(s->ctx, s->top[i].term, &disp) ||
		     md_add(sb, disp.buf ? disp.buf : "", disp.len) ||
		     strbuf_addf(sb, " (%.3g)", s->top[i].mean);
	}
	if (!rc && !s->ntopc)
		rc = strbuf_addstr(sb, "none");
	rc = rc || strbuf_addstr(sb, ".\n\n**Discriminating terms** (mean TF-IDF "
				 "in this cluster minus the mean in the other "
				 "clustered statements):\n\n");
	if (!rc && !s->ndiscc)
		rc = strbuf_addstr(sb, "None.\n");
	else if (!rc)
		rc = strbuf_addstr(sb, "| term | in cluster | elsewhere | difference |\n"
				   "| --- | ---: | ---: | ---: |\n");
	for (size_t i = 0; !rc && i < s->ndiscc; i++) {
		const struct term_score *ts = &s->disc[i];

		strbuf_reset(&disp);
		rc = strbuf_addstr(sb, "| ") ||
		     term_display(s->ctx, ts->term, &disp) ||
		     md_add(sb, disp.buf ? disp.buf : "", disp.len) ||
		     strbuf_addf(sb, " | %.3g | %.3g | %.3g |\n", ts->mean,
				 ts->other, ts->score);
	}

	if (!rc && nf)
		rc = strbuf_addstr(sb, "\n**Frames**\n\n"
				   "| frame | statements carrying it | share of the cluster "
				   "| hits | share of the frame's hits |\n"
				   "| --- | ---: | ---: | ---: | ---: |\n");
	for (size_t f = 0; !rc && f < nf; f++) {
		size_t cf = (size_t)c * nf + f;

		rc = strbuf_addstr(sb, "| ") ||
		     md_addstr(sb, s->ctx->frames.name[f]) ||
		     strbuf_addf(sb, " | %" PRIu32 " | %.1f%% | %" PRIu64 " | %.1f%% |\n",
				 s->cunits[cf], 100 * ratio(s->cunits[cf], s->size[c]),
				 s->chits[cf],
				 100 * ratio((double)s->chits[cf], (double)s->fhits[f]));
	}

	if (!rc && s->nrepc)
		rc = strbuf_addstr(sb, "\n**Most representative statements**\n\n");
	for (size_t r = 0; !rc && r < s->nrepc; r++) {
		const struct strbuf *q = &s->snippet[r];

		/* Inside curly quotes nothing can start a block (heading,
		 * list, quote), so inline escaping is enough. */
		rc = strbuf_addstr(sb, "- \xe2\x80\x9c") ||
		     md_add(sb, q->buf, q->len) ||
		     strbuf_addstr(sb, "\xe2\x80\x9d \xe2\x80\x94 ") ||
		     md_source(s, s->rep[r], sb);
		if (!rc && isfinite(sim_of(s, s->rep[r])))
			rc = strbuf_addf(sb, " (similarity %.3f)", sim_of(s, s->rep[r]));
		rc = rc || strbuf_addch(sb, '\n');
	}
done:
	strbuf_release(&disp);
	return rc;
}

static int json_terms(struct summary *s, const struct term_score *ts,
		      size_t n, int disc, struct strbuf *sb)
{
	struct strbuf disp = STRBUF_INIT;
	int rc = strbuf_addch(sb, '[');

	for (size_t i = 0; !rc && i < n; i++) {
		uint32_t t = ts[i].term;

		strbuf_reset(&disp);
		rc = strbuf_addstr(sb, i ? ",{\"term\":" : "{\"term\":") ||
		     strbuf_add_json(sb, strtab_str(&s->ctx->vocab.tab, t),
				     strtab_len(&s->ctx->vocab.tab, t)) ||
		     strbuf_addstr(sb, ",\"surface\":") ||
		     term_display(s->ctx, t, &disp) ||
		     strbuf_add_json(sb, disp.buf ? disp.buf : "", disp.len);
		if (!rc && !disc)
			rc = strbuf_addstr(sb, ",\"weight\":") ||
			     json_exact(sb, ts[i].mean);
		else if (!rc)
			rc = strbuf_addstr(sb, ",\"score\":") ||
			     json_exact(sb, ts[i].score) ||
			     strbuf_addstr(sb, ",\"mean_in\":") ||
			     json_exact(sb, ts[i].mean) ||
			     strbuf_addstr(sb, ",\"mean_out\":") ||
			     json_exact(sb, ts[i].other);
		rc = rc || strbuf_addch(sb, '}');
	}
	rc = rc || strbuf_addch(sb, ']');
	strbuf_release(&disp);
	return rc;
}

static int json_cluster(struct summary *s, uint32_t c, struct strbuf *sb)
{
	const struct units *un = &s->ctx->units;
	size_t nf = s->nf;
	int rc;

	rc = strbuf_addf(sb, "%s{\"cluster\":%" PRIu32 ",\"size\":%" PRIu32
			 ",\"top_terms\":", c ? ",\n" : "\n", CID(s, c), s->size[c]) ||
	     json_terms(s, s->top, s->ntopc, 0, sb) ||
	     strbuf_addstr(sb, ",\"discriminating_terms\":") ||
	     json_terms(s, s->disc, s->ndiscc, 1, sb) ||
	     strbuf_addstr(sb, ",\"frames\":{");
	for (size_t f = 0; !rc && f < nf; f++) {
		size_t cf = (size_t)c * nf + f;

		rc = (f && strbuf_addch(sb, ',')) ||
		     json_str(sb, s->ctx->frames.name[f]) ||
		     strbuf_addf(sb, ":{\"units\":%" PRIu32 ",\"unit_share\":",
				 s->cunits[cf]) ||
		     json_share(sb, ratio(s->cunits[cf], s->size[c])) ||
		     strbuf_addf(sb, ",\"hits\":%" PRIu64 ",\"hit_share\":",
				 s->chits[cf]) ||
		     json_share(sb, ratio((double)s->chits[cf], (double)s->fhits[f])) ||
		     strbuf_addstr(sb, ",\"cooccurs\":{");
		for (size_t g = 0, first = 1; !rc && g < nf; g++) {
			if (g == f)
				continue;
			rc = (!first && strbuf_addch(sb, ',')) ||
			     json_str(sb, s->ctx->frames.name[g]) ||
			     strbuf_addf(sb, ":%" PRIu32, s->cco[cf * nf + g]);
			first = 0;
		}
		rc = rc || strbuf_addstr(sb, "}}");
	}
	rc = rc || strbuf_addstr(sb, "},\"representatives\":[");
	for (size_t r = 0; !rc && r < s->nrepc; r++) {
		uint32_t u = s->rep[r];

		rc = strbuf_addf(sb, "%s{\"unit\":%" PRIu32 ",\"file\":", r ? "," : "",
				 u + 1) ||
		     json_str(sb, s->ctx->files.rel[un->file[u]]);
		if (!rc && s->document)
			rc = strbuf_addstr(sb, ",\"paragraph\":null");
		else if (!rc)
			rc = strbuf_addf(sb, ",\"paragraph\":%" PRIu32, un->para[u]);
		rc = rc || strbuf_addf(sb, ",\"line\":%" PRIu32 ",\"similarity\":",
				       un->line[u]) ||
		     json_exact(sb, sim_of(s, u)) ||
		     strbuf_addstr(sb, ",\"snippet\":") ||
		     strbuf_add_json(sb, s->snippet[r].buf, s->snippet[r].len) ||
		     strbuf_addch(sb, '}');
	}
	rc = rc || strbuf_addstr(sb, "]}");
	return rc;
}

/* ---- choosing k (the kmeans stage's sweep, ctx->ksweep) ---- */

static const char *const select_what[] = {
	"highest silhouette", "highest Calinski-Harabasz index",
	"lowest Davies-Bouldin index",
};
static const char *const select_name[] = {
	"silhouette", "calinski_harabasz", "davies_bouldin",
};

static int md_figure(struct strbuf *sb, double v)
{
	return isfinite(v) ? strbuf_addf(sb, " %.3g |", v) : strbuf_addstr(sb, " NA |");
}

/* "## Choosing k": the rule, why the kept k won, and the figures per k. */
static int md_ksweep(struct summary *s, struct strbuf *sb)
{
	const struct ksweep *sw = &s->ctx->ksweep;
	const char *what, *name;
	uint32_t first, last, kept;
	double v;
	int rc, any_na = 0, sel;

	if (!sw->n)
		return 0;
	sel = sw->select >= 0 && sw->select <= 2 ? sw->select : 0;
	what = select_what[sel];
	name = select_name[sel];
	first = sw->k[0];
	last = sw->k[sw->n - 1];
	kept = sw->k[sw->chosen];
	v = sel == 1 ? sw->ch[sw->chosen] :
	    sel == 2 ? sw->db[sw->chosen] : sw->silhouette[sw->chosen];
	rc = strbuf_addstr(sb, "\n## Choosing k\n\n");
	if (!rc && sw->lo == sw->hi)
		rc = strbuf_addf(sb, "k = %" PRIu32 " is set in the configuration, so "
				 "nothing was compared; with a range such as `k = "
				 "2..8` every k in it is fitted and the one with "
				 "the %s kept (`[kmeans] select = %s`).", kept,
				 what, name);
	else if (!rc && isfinite(v))
		rc = strbuf_addf(sb, "**k = %" PRIu32 ":** %s %.3g of k = %" PRIu32
				 "..%" PRIu32 ".", kept, what, v, first, last);
	else if (!rc)
		rc = strbuf_addf(sb, "**k = %" PRIu32 ":** no k of %" PRIu32 "..%"
				 PRIu32 " has a defined %s, so the smallest was "
				 "kept.", kept, first, last, name);
	if (!rc && sw->lo != sw->hi)
		rc = strbuf_addf(sb, " Every k from %" PRIu32 " to %" PRIu32 " was "
				 "fitted with the same options and seed; the rule "
				 "(`[kmeans] select = %s`) keeps the k with the %s, "
				 "ties going to the smaller k, and the rest of this "
				 "summary describes that k.", first, last, name,
				 what);
	if (!rc && sw->hi > last)
		rc = strbuf_addf(sb, " k = %" PRIu32 "..%" PRIu32 " was asked for, "
				 "but only %zu %s terms, so the sweep stopped at "
				 "k = %" PRIu32 ".", sw->lo, sw->hi, sw->m,
				 plural(sw->m, "statement has", "statements have"),
				 last);
	else if (!rc && sw->n > 1 && isfinite(v) && sw->chosen == sw->n - 1)
		rc = strbuf_addf(sb, " The best figure is at the top of the range: a "
				 "k above %" PRIu32 " may do better still.", last);
	if (!rc && sw->n > 1 && isfinite(v) && sw->chosen == 0 && first > 2)
		rc = strbuf_addf(sb, " The best figure is at the bottom of the range: "
				 "a k below %" PRIu32 " may do better still.", first);
	rc = rc || strbuf_addstr(sb, " The silhouette (-1 to 1, higher is better) "
				 "sets each statement's mean cosine distance to "
				 "its own cluster against that to the nearest "
				 "other; Calinski-Harabasz (higher is better) and "
				 "Davies-Bouldin (lower is better) weigh the spread "
				 "between clusters against the spread within "
				 "them.");
	if (!rc && sw->sampled && sw->sampled < sw->m)
		rc = strbuf_addf(sb, " The silhouette averages over a seeded sample "
				 "of %zu of the %zu statements with terms.",
				 sw->sampled, sw->m);
	rc = rc || strbuf_addstr(sb, "\n\n| k | objective | silhouette | "
				 "Calinski-Harabasz | Davies-Bouldin | kept |\n"
				 "| ---: | ---: | ---: | ---: | ---: | --- |\n");
	for (size_t i = 0; !rc && i < sw->n; i++) {
		any_na |= !isfinite(sw->silhouette[i]) || !isfinite(sw->ch[i]) ||
			  !isfinite(sw->db[i]);
		rc = strbuf_addf(sb, "| %" PRIu32 " |", sw->k[i]) ||
		     md_figure(sb, sw->objective[i]) ||
		     md_figure(sb, sw->silhouette[i]) || md_figure(sb, sw->ch[i]) ||
		     md_figure(sb, sw->db[i]) ||
		     strbuf_addstr(sb, i == sw->chosen ? " yes |\n" : " |\n");
	}
	if (!rc && any_na)
		rc = strbuf_addstr(sb, "\nNA: not defined for that k (it needs at "
				   "least 2 clusters and fewer clusters than "
				   "statements with terms).\n");
	return rc;
}

/* "ksweep": one object per k fitted, ascending; [] when none. */
static int json_ksweep(struct summary *s, struct strbuf *sb)
{
	const struct ksweep *sw = &s->ctx->ksweep;
	int rc = strbuf_addstr(sb, "\"ksweep\":[");

	for (size_t i = 0; !rc && i < sw->n; i++)
		rc = strbuf_addf(sb, "%s{\"k\":%" PRIu32 ",\"objective\":",
				 i ? ",\n" : "\n", sw->k[i]) ||
		     json_exact(sb, sw->objective[i]) ||
		     strbuf_addstr(sb, ",\"silhouette\":") ||
		     json_exact(sb, sw->silhouette[i]) ||
		     strbuf_addstr(sb, ",\"calinski_harabasz\":") ||
		     json_exact(sb, sw->ch[i]) ||
		     strbuf_addstr(sb, ",\"davies_bouldin\":") ||
		     json_exact(sb, sw->db[i]) ||
		     strbuf_addf(sb, ",\"selected\":%s}",
				 i == sw->chosen ? "true" : "false");
	return rc || strbuf_addstr(sb, "],\n");
}

/* ---- the heads and tails of summary.md and summary.json ---- */

static int md_head(struct summary *s, struct strbuf *sb)
{
	const struct ctx *ctx = s->ctx;
	char metric[32];
	size_t unclustered = s->nu - s->nclustered;
	int rc;

	config_choice(CFG_kmeans_metric, ctx->cfg->v[CFG_kmeans_metric].i,
		      metric, sizeof(metric));
	rc = strbuf_addf(sb, "# Summary of the statements and their clusters\n\n"
			 "**Corpus:** %zu %s, %zu %s (%s), %zu of %zu terms kept.",
			 ctx->files.n, plural(ctx->files.n, "file", "files"),
			 s->nu, plural(s->nu, "statement", "statements"),
			 s->document ? "one per file" : "one per paragraph",
			 ctx->vocab.nkept, ctx->vocab.tab.n);
	if (!rc && s->k)
		rc = strbuf_addf(sb, " **Clustering:** k = %" PRIu32 ", %s metric, "
				 "objective %.6g after %d %s (restart %d of %ld, %s).",
				 s->k, metric, ctx->km.objective, ctx->km.iterations,
				 plural((uint64_t)ctx->km.iterations, "iteration", "iterations"),
				 ctx->km.restart + 1, ctx->cfg->v[CFG_kmeans_restarts].i,
				 ctx->km.converged ? "converged" : "not converged");
	else if (!rc)
		rc = strbuf_addstr(sb, " **Clustering:** none.");
	if (!rc && unclustered)
		rc = strbuf_addf(sb, " %zu %s no kept terms and %s left unclustered.",
				 unclustered, plural(unclustered, "statement had",
						     "statements had"),
				 plural(unclustered, "was", "were"));
	return rc || strbuf_addch(sb, '\n') || md_ksweep(s, sb);
}

static int md_cell_share(struct strbuf *sb, uint64_t hits, uint64_t total,
			 uint32_t units)
{
	return strbuf_addf(sb, " %.1f%% (%" PRIu32 ") |",
			   100 * ratio((double)hits, (double)total), units);
}

static int md_tail(struct summary *s, struct strbuf *sb)
{
	const struct frames *fr = &s->ctx->frames;
	size_t nf = s->nf;
	int rc;

	if (!nf)
		return strbuf_addstr(sb, "\n## Frames\n\nNo frames are configured.\n");

	rc = strbuf_addstr(sb, "\n## Frames by cluster\n\n"
			   "Share of each frame's hits that falls in each cluster, "
			   "with the number of statements carrying the frame in "
			   "parentheses.\n\n| frame | hits |");
	for (uint32_t c = 0; !rc && c < s->k; c++)
		rc = strbuf_addf(sb, " cluster %" PRIu32 " |", CID(s, c));
	if (!rc && s->any_unclustered_hits)
		rc = strbuf_addstr(sb, " unclustered |");
	rc = rc || strbuf_addstr(sb, "\n| --- | ---: |");
	for (uint32_t c = 0; !rc && c < s->k + (uint32_t)s->any_unclustered_hits; c++)
		rc = strbuf_addstr(sb, " ---: |");
	rc = rc || strbuf_addch(sb, '\n');
	for (size_t f = 0; !rc && f < nf; f++) {
		rc = strbuf_addstr(sb, "| ") || md_addstr(sb, fr->name[f]) ||
		     strbuf_addf(sb, " | %" PRIu64 " |", s->fhits[f]);
		for (uint32_t c = 0; !rc && c < s->k; c++)
			rc = md_cell_share(sb, s->chits[(size_t)c * nf + f],
					   s->fhits[f], s->cunits[(size_t)c * nf + f]);
		if (!rc && s->any_unclustered_hits)
			rc = md_cell_share(sb, s->uhits[f], s->fhits[f], s->uunits[f]);
		rc = rc || strbuf_addch(sb, '\n');
	}

	rc = rc || strbuf_addstr(sb, "\n## Frame co-occurrence\n\n"
				 "Statements carrying both frames, over all "
				 "statements; the diagonal counts the statements "
				 "carrying the frame.\n\n| frame |");
	for (size_t g = 0; !rc && g < nf; g++)
		rc = strbuf_addch(sb, ' ') || md_addstr(sb, fr->name[g]) ||
		     strbuf_addstr(sb, " |");
	rc = rc || strbuf_addstr(sb, "\n| --- |");
	for (size_t g = 0; !rc && g < nf; g++)
		rc = strbuf_addstr(sb, " ---: |");
	rc = rc || strbuf_addch(sb, '\n');
	for (size_t f = 0; !rc && f < nf; f++) {
		rc = strbuf_addstr(sb, "| ") || md_addstr(sb, fr->name[f]) ||
		     strbuf_addstr(sb, " |");
		for (size_t g = 0; !rc && g < nf; g++)
			rc = strbuf_addf(sb, " %" PRIu32 " |", s->co[f * nf + g]);
		rc = rc || strbuf_addch(sb, '\n');
	}

	/* One sentence per frame: where most of its hits are, and the frame
	 * it shares statements with most. */
	rc = rc || strbuf_addstr(sb, "\n## In short\n\n");
	for (size_t f = 0; !rc && f < nf; f++) {
		uint32_t best = 0;
		size_t partner = f;

		for (uint32_t c = 1; c < s->k; c++)
			if (s->chits[(size_t)c * nf + f] > s->chits[(size_t)best * nf + f])
				best = c;
		for (size_t g = 0; g < nf; g++)
			if (g != f && (partner == f ||
				       s->co[f * nf + g] > s->co[f * nf + partner]))
				partner = g;
		rc = strbuf_addstr(sb, "- ") || md_addstr(sb, fr->name[f]);
		if (rc)
			break;
		if (!s->fhits[f]) {
			rc = strbuf_addstr(sb, " has no hits.\n");
			continue;
		}
		if (!s->k || !s->chits[(size_t)best * nf + f])
			rc = strbuf_addf(sb, ": all %" PRIu64 " %s in unclustered "
					 "statements", s->fhits[f],
					 plural(s->fhits[f], "hit is", "hits are"));
		else
			rc = strbuf_addf(sb, ": cluster %" PRIu32 " has the most "
					 "hits (%.1f%%, %" PRIu64 " of %" PRIu64 ")",
					 CID(s, best),
					 100 * ratio((double)s->chits[(size_t)best * nf + f],
						     (double)s->fhits[f]),
					 s->chits[(size_t)best * nf + f], s->fhits[f]);
		if (!rc && partner != f && s->co[f * nf + partner])
			rc = strbuf_addstr(sb, "; it shares statements most often with ") ||
			     md_addstr(sb, fr->name[partner]) ||
			     strbuf_addf(sb, " (%" PRIu32 " %s)", s->co[f * nf + partner],
					 plural(s->co[f * nf + partner], "statement",
						"statements"));
		else if (!rc && partner != f)
			rc = strbuf_addstr(sb, "; it shares no statement with another frame");
		rc = rc || strbuf_addstr(sb, ".\n");
	}
	return rc;
}

static int json_head(struct summary *s, struct strbuf *sb)
{
	const struct ctx *ctx = s->ctx;
	char metric[32];
	int rc;

	config_choice(CFG_kmeans_metric, ctx->cfg->v[CFG_kmeans_metric].i,
		      metric, sizeof(metric));
	rc = strbuf_addf(sb, "{\"corpus\":{\"files\":%zu,\"units\":%zu,\"unit\":\"%s\","
			 "\"terms\":%zu,\"terms_kept\":%zu,\"k\":%" PRIu32
			 ",\"metric\":\"%s\",\"objective\":",
			 ctx->files.n, s->nu, s->document ? "document" : "paragraph",
			 ctx->vocab.tab.n, ctx->vocab.nkept, s->k, metric) ||
	     json_exact(sb, s->k ? ctx->km.objective : 0) ||
	     strbuf_addf(sb, ",\"iterations\":%d,\"restart\":%d,\"converged\":%s,"
			 "\"clustered\":%zu,\"unclustered\":%zu},\n",
			 s->k ? ctx->km.iterations : 0, s->k ? ctx->km.restart : 0,
			 s->k && ctx->km.converged ? "true" : "false",
			 s->nclustered, s->nu - s->nclustered) ||
	     json_ksweep(s, sb);
	return rc;
}

static int json_tail(struct summary *s, struct strbuf *sb)
{
	const struct frames *fr = &s->ctx->frames;
	size_t nf = s->nf;
	int rc = strbuf_addstr(sb, "],\n\"frames\":[");

	for (size_t f = 0; !rc && f < nf; f++) {
		rc = strbuf_addstr(sb, f ? ",\n{\"name\":" : "\n{\"name\":") ||
		     json_str(sb, fr->name[f]) ||
		     strbuf_addstr(sb, ",\"entries\":") ||
		     json_str(sb, fr->entries[f] ? fr->entries[f] : "") ||
		     strbuf_addf(sb, ",\"hits\":%" PRIu64 ",\"units\":%" PRIu32
				 ",\"unclustered_hits\":%" PRIu64
				 ",\"unclustered_units\":%" PRIu32 ",\"by_cluster\":[",
				 s->fhits[f], s->funits[f], s->uhits[f], s->uunits[f]);
		for (uint32_t c = 0; !rc && c < s->k; c++) {
			size_t cf = (size_t)c * nf + f;

			rc = strbuf_addf(sb, "%s{\"cluster\":%" PRIu32 ",\"units\":%"
					 PRIu32 ",\"unit_share\":", c ? "," : "",
					 CID(s, c), s->cunits[cf]) ||
			     json_share(sb, ratio(s->cunits[cf], s->size[c])) ||
			     strbuf_addf(sb, ",\"hits\":%" PRIu64 ",\"hit_share\":",
					 s->chits[cf]) ||
			     json_share(sb, ratio((double)s->chits[cf],
						  (double)s->fhits[f])) ||
			     strbuf_addch(sb, '}');
		}
		rc = rc || strbuf_addstr(sb, "]}");
	}
	rc = rc || strbuf_addstr(sb, "],\n\"cooccurrence\":{\"frames\":[");
	for (size_t f = 0; !rc && f < nf; f++)
		rc = (f && strbuf_addch(sb, ',')) || json_str(sb, fr->name[f]);
	rc = rc || strbuf_addstr(sb, "],\"units\":[");
	for (size_t f = 0; !rc && f < nf; f++) {
		rc = strbuf_addstr(sb, f ? ",[" : "[");
		for (size_t g = 0; !rc && g < nf; g++)
			rc = strbuf_addf(sb, "%s%" PRIu32, g ? "," : "", s->co[f * nf + g]);
		rc = rc || strbuf_addch(sb, ']');
	}
	return rc || strbuf_addstr(sb, "]}}\n");
}

/* ---- the stage ---- */

/* Write what sb holds to of and empty it. */
/* The cluster id of statement u now, 0 when it is not clustered. */
static uint32_t unit_label(const struct summary *s, size_t u)
{
	const struct clustering *km = &s->ctx->km;

	return s->k && km->assign[u] >= 0 ? cluster_id(km, km->assign[u]) : 0;
}

static int add_label(struct strbuf *sb, uint32_t label)
{
	return label ? strbuf_addf(sb, "\t%" PRIu32, label) : strbuf_addstr(sb, "\tNA");
}

/* One line of changes.tsv: statement `now` (0-based, or SIZE_MAX when
 * removed) of file `file`, paragraph `para`. */
static int change_line(struct summary *s, struct strbuf *sb, const char *what,
		       const char *file, uint32_t para, size_t now, uint32_t before)
{
	int rc = strbuf_addstr(sb, what) || strbuf_addch(sb, '\t') ||
		 strbuf_add_tsv(sb, file, strlen(file));

	/* A removed statement's paragraph is as the previous run cut it. */
	if (!rc && (now == SIZE_MAX ? s->prev_document : s->document))
		rc = strbuf_addstr(sb, "\tNA");
	else if (!rc)
		rc = strbuf_addf(sb, "\t%" PRIu32, para);
	if (!rc && now != SIZE_MAX)
		rc = strbuf_addf(sb, "\t%zu", now + 1) || add_label(sb, unit_label(s, now));
	else if (!rc)
		rc = strbuf_addstr(sb, "\tNA\tNA");
	return rc || add_label(sb, before) || strbuf_addch(sb, '\n');
}

/* For qsort: term ids by document frequency, descending, then by id. */
static const uint32_t *sort_df;
static int by_df_desc(const void *a, const void *b)
{
	const uint32_t *df = sort_df;
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	if (df[x] != df[y])
		return df[x] < df[y] ? 1 : -1;
	return (x > y) - (x < y);
}

/* The new terms listed under "Since the last run". */
#define SINCE_TERMS 10

/* What "Since the last run" says, computed once for summary.md and
 * summary.json alike. */
struct since {
	size_t nnew, nmoved, nremoved;  /* the lines of changes.tsv */
	size_t newterms;                /* term ids the previous run lacked */
	uint32_t term[SINCE_TERMS];     /* the new terms in the most statements,
					 * by df descending, then by id */
	size_t nterm;
	size_t kept_ids;                /* clusters that kept a previous id */
	double *now;                    /* k x nf unit shares, or NULL when
					 * there is no share table; owned */
};

/* Fill sn's terms, kept ids and shares (its counts are already there);
 * 0 or -1 (out of memory). */
static int since_prepare(struct summary *s, struct since *sn)
{
	const struct ctx *ctx = s->ctx;
	const struct cache *c = ctx->cache;
	const struct vocab *v = &ctx->vocab;

	sn->newterms = v->tab.n > c->prev_terms ? v->tab.n - c->prev_terms : 0;
	if (sn->newterms) {
		uint32_t *ids = pl_malloc(sn->newterms * sizeof(*ids));

		if (!ids)
			return -1;
		for (size_t i = 0; i < sn->newterms; i++)
			ids[i] = (uint32_t)(c->prev_terms + i);
		sort_df = v->df;
		qsort(ids, sn->newterms, sizeof(*ids), by_df_desc);
		while (sn->nterm < sn->newterms && sn->nterm < SINCE_TERMS &&
		       v->df[ids[sn->nterm]]) {
			sn->term[sn->nterm] = ids[sn->nterm];
			sn->nterm++;
		}
		pl_free(ids);
	}
	for (uint32_t j = 0; j < s->k; j++)
		for (uint32_t i = 0; i < c->k; i++)
			sn->kept_ids += c->clabel[i] == CID(s, j);
	/* Shares of paragraphs then and of documents now (or the other way)
	 * do not compare: no table (md_since says why). */
	if (!s->k || !s->nf || !c->nframes || !sn->kept_ids ||
	    s->prev_document != s->document)
		return 0;
	return cache_frame_shares(ctx, &sn->now);
}

/* The share of cluster j's statements that carried frame f in the previous
 * run, into *then: 1 when the previous run had both the frame and a cluster
 * with j's id, else 0. */
static int since_then(const struct summary *s, size_t f, uint32_t j, double *then)
{
	const struct cache *c = s->ctx->cache;
	size_t g = 0;
	uint32_t i = 0;

	while (g < c->nframes && strcmp(c->frame[g], s->ctx->frames.name[f]))
		g++;
	while (i < c->k && c->clabel[i] != CID(s, j))
		i++;
	if (g == c->nframes || i == c->k)
		return 0;
	*then = c->share[(size_t)i * c->nframes + g];
	return 1;
}

/* The "Since the last run" section of summary.md: what changed, in
 * numbers, and how each frame's share of statements moved in each cluster
 * that kept its id. */
static int md_since(struct summary *s, const struct since *sn, struct strbuf *md)
{
	const struct ctx *ctx = s->ctx;
	const struct cache *c = ctx->cache;
	int rc;

	rc = strbuf_addf(md, "\n## Since the last run\n\nCompared with run %s "
			 "(%" PRIu64 " statements then, %zu now): %zu new %s, %zu "
			 "removed, %zu moved to another cluster (changes.tsv lists them); "
			 "%zu new %s",
			 ctx_prev_id(ctx) ? ctx_prev_id(ctx) : "?", c->prev_units, s->nu,
			 sn->nnew, plural(sn->nnew, "statement", "statements"),
			 sn->nremoved, sn->nmoved,
			 sn->newterms, plural(sn->newterms, "term", "terms"));
	/* The number after each term is its df, not its occurrences. */
	if (!rc && sn->nterm && sn->nterm == sn->newterms)
		rc = strbuf_addf(md, " (in brackets: how many statements contain %s)",
				 plural(sn->nterm, "it", "each, most first"));
	else if (!rc && sn->nterm)
		rc = strbuf_addf(md, ", the %zu in the most statements (in brackets: "
				 "how many statements contain each)", sn->nterm);
	rc = rc || (sn->nterm && strbuf_addstr(md, ": "));
	for (size_t i = 0; !rc && i < sn->nterm; i++) {
		struct strbuf d = STRBUF_INIT;

		rc = term_display(ctx, sn->term[i], &d) ||
		     strbuf_addstr(md, i ? ", " : "") ||
		     md_add(md, d.buf ? d.buf : "", d.len) ||
		     strbuf_addf(md, " (%" PRIu32 ")", ctx->vocab.df[sn->term[i]]);
		strbuf_release(&d);
	}
	rc = rc || strbuf_addstr(md, ".\n");
	if (rc || !s->k)
		return rc;
	rc = strbuf_addf(md, "\nClusters: %zu of %" PRIu32 " kept the id of a previous "
			 "cluster (the best match by centroid similarity, at least "
			 "%g)%s.\n", sn->kept_ids, s->k,
			 ctx->cfg->v[CFG_kmeans_match_min].r,
			 ctx->km.warm ? "; k-means started from the previous centroids" : "");
	if (!rc && s->prev_document != s->document)
		rc = strbuf_addf(md, "\nThe statements were %s then, %s now ([corpus] unit "
				 "changed): their frame shares are not compared.\n",
				 s->prev_document ? "whole files" : "paragraphs",
				 s->document ? "whole files" : "paragraphs");
	if (rc || !sn->now)
		return rc;
	rc = strbuf_addstr(md, "\nShare of each cluster's statements that carry the "
			   "frame, then and now, and the change in percentage "
			   "points:\n\n| frame | cluster | then | now | "
			   "change |\n| --- | ---: | ---: | ---: | ---: |\n");
	for (size_t f = 0; !rc && f < s->nf; f++) {
		for (uint32_t j = 0; !rc && j < s->k; j++) {
			double then, x = sn->now[(size_t)j * s->nf + f];

			if (!since_then(s, f, j, &then))
				continue;
			rc = strbuf_addstr(md, "| ") || md_addstr(md, ctx->frames.name[f]) ||
			     strbuf_addf(md, " | %" PRIu32 " | %.1f%% | %.1f%% | %+.1f |\n",
					 CID(s, j), 100 * then, 100 * x, 100 * (x - then));
		}
	}
	return rc;
}

/* summary.json's "since": the same figures as md_since, shares as
 * fractions at full precision (output/README.md, summary.json). */
static int json_since(struct summary *s, const struct since *sn, struct strbuf *sb)
{
	const struct ctx *ctx = s->ctx;
	const struct cache *c = ctx->cache;
	struct strbuf d = STRBUF_INIT;
	int rc, first = 1;

	rc = strbuf_addstr(sb, "\"since\":{\"previous_run\":") ||
	     (ctx_prev_id(ctx) ? json_str(sb, ctx_prev_id(ctx)) :
				 strbuf_addstr(sb, "null")) ||
	     strbuf_addf(sb, ",\"units_then\":%" PRIu64 ",\"units_now\":%zu,"
			 "\"new\":%zu,\"removed\":%zu,\"moved\":%zu,"
			 "\"new_terms\":%zu,\"top_new_terms\":[",
			 c->prev_units, s->nu, sn->nnew, sn->nremoved, sn->nmoved,
			 sn->newterms);
	for (size_t i = 0; !rc && i < sn->nterm; i++) {
		uint32_t t = sn->term[i];

		strbuf_reset(&d);
		rc = strbuf_addstr(sb, i ? ",{\"term\":" : "{\"term\":") ||
		     strbuf_add_json(sb, strtab_str(&ctx->vocab.tab, t),
				     strtab_len(&ctx->vocab.tab, t)) ||
		     strbuf_addstr(sb, ",\"surface\":") ||
		     term_display(ctx, t, &d) ||
		     strbuf_add_json(sb, d.buf ? d.buf : "", d.len) ||
		     strbuf_addf(sb, ",\"df\":%" PRIu32 "}", ctx->vocab.df[t]);
	}
	strbuf_release(&d);
	rc = rc || strbuf_addf(sb, "],\"clusters_kept_id\":%zu,\"match_min\":",
			       sn->kept_ids) ||
	     json_exact(sb, ctx->cfg->v[CFG_kmeans_match_min].r) ||
	     strbuf_addf(sb, ",\"warm\":%s,\"frame_shares\":[",
			 s->k && ctx->km.warm ? "true" : "false");
	for (size_t f = 0; !rc && sn->now && f < s->nf; f++) {
		for (uint32_t j = 0; !rc && j < s->k; j++) {
			double then, x = sn->now[(size_t)j * s->nf + f];

			if (!since_then(s, f, j, &then))
				continue;
			rc = strbuf_addstr(sb, first ? "\n{\"frame\":" : ",\n{\"frame\":") ||
			     json_str(sb, ctx->frames.name[f]) ||
			     strbuf_addf(sb, ",\"cluster\":%" PRIu32 ",\"then\":", CID(s, j)) ||
			     json_exact(sb, then) ||
			     strbuf_addstr(sb, ",\"now\":") || json_exact(sb, x) ||
			     strbuf_addstr(sb, ",\"change\":") || json_exact(sb, x - then) ||
			     strbuf_addch(sb, '}');
			first = 0;
		}
	}
	return rc || strbuf_addstr(sb, "]},\n");
}

/* changes.tsv, the "Since the last run" section of summary.md and the
 * "since" member of summary.json ("since":null with nothing to compare
 * with). */
/* The lines of changes.tsv for one file: its statements now, nu of them
 * from row u, against the pn the previous run had from pu in its index.
 * 0 or -1 (err filled).  emit() writes one line and counts it. */
static int emit(struct summary *s, struct outfile *of, struct since *sn,
		const char *what, const char *file, uint32_t para, size_t now,
		uint32_t before, struct pl_error *err)
{
	int rc;

	strbuf_reset(&s->line);
	rc = change_line(s, &s->line, what, file, para, now, before);
	if (rc)
		rc = pl_oom(err);
	else
		rc = out_write(of, s->line.buf, s->line.len, err);
	if (rc == 0)
		*(what[0] == 'n' ? &sn->nnew : what[0] == 'm' ? &sn->nmoved : &sn->nremoved) += 1;
	return rc;
}

/* The same statement then (old, index in the previous run) and now: a
 * line only when its cluster changed. */
/* "removed": statement `old` of the previous run (its index in the
 * cache's para[] and label[]); "new": statement `now` of this run. */
static int emit_removed(struct summary *s, struct outfile *of, struct since *sn,
			const char *file, uint64_t old, struct pl_error *err)
{
	const struct cache *c = s->ctx->cache;

	return emit(s, of, sn, "removed", file, c->para[old], SIZE_MAX,
		    (uint32_t)c->label[old], err);
}

static int emit_new(struct summary *s, struct outfile *of, struct since *sn,
		    const char *file, size_t now, struct pl_error *err)
{
	return emit(s, of, sn, "new", file, s->ctx->units.para[now], now, 0, err);
}

static int emit_pair(struct summary *s, struct outfile *of, struct since *sn,
		     const char *file, size_t now, uint64_t old, struct pl_error *err)
{
	const struct cache *c = s->ctx->cache;
	uint32_t before = (uint32_t)c->label[old];

	if (unit_label(s, now) == before)
		return 0;
	return emit(s, of, sn, "moved", file, s->ctx->units.para[now], now, before, err);
}

/* An unchanged file, or an index without text hashes: statement p then is
 * statement p now (paragraph numbers ascend in both lists: merge them). */
static int merge_paragraphs(struct summary *s, struct outfile *of, struct since *sn,
			    const char *file, size_t u, size_t nu, uint64_t pu,
			    size_t pn, struct pl_error *err)
{
	const struct ctx *ctx = s->ctx;
	const struct cache *c = ctx->cache;
	size_t a = u, b = 0;
	int rc = 0;

	while (rc == 0 && (a < u + nu || b < pn)) {
		uint32_t pa = a < u + nu ? ctx->units.para[a] : UINT32_MAX;
		uint32_t pb = b < pn ? c->para[pu + b] : UINT32_MAX;

		if (a < u + nu && b < pn && pa == pb)
			rc = emit_pair(s, of, sn, file, a++, pu + b++, err);
		else if (a < u + nu && (b >= pn || pa < pb))
			rc = emit_new(s, of, sn, file, a++, err);
		else
			rc = emit_removed(s, of, sn, file, pu + b++, err);
	}
	return rc;
}

/* Does the previous run's index have the text hash of statements pu ..
 * pu + pn - 1?  Not when it predates them (PLCIDX01), nor when they were
 * replayed from such an index since (0, which XXH3-64 of a text is not in
 * practice): those match by paragraph until their file is read again. */
static int hashes_known(const struct cache *c, uint64_t pu, size_t pn)
{
	if (!c->uhash)
		return 0;
	for (size_t j = 0; j < pn; j++)
		if (c->uhash[pu + j] == 0)
			return 0;
	return 1;
}

/* [corpus] unit changed: paragraphs then, whole files now, or the other
 * way.  No statement is the one it was: every one then is removed, every
 * one now is new. */
static int cut_otherwise(struct summary *s, struct outfile *of, struct since *sn,
			 const char *file, size_t u, size_t nu, uint64_t pu,
			 size_t pn, struct pl_error *err)
{
	int rc = 0;

	for (size_t j = 0; rc == 0 && j < pn; j++)
		rc = emit_removed(s, of, sn, file, pu + j, err);
	for (size_t i = 0; rc == 0 && i < nu; i++)
		rc = emit_new(s, of, sn, file, u + i, err);
	return rc;
}

/* Cells of the alignment table at most (4 bytes each): a file whose
 * changed middle is larger matches only its unchanged start and end. */
#define ALIGN_CELLS ((uint64_t)4 << 20)

/*
 * A file that changed: its statements then and now are matched by their
 * text (struct units' hash), as diff matches lines, so that a paragraph
 * put in or taken out does not shift every one after it.  The unchanged
 * start and end match first; between them, a longest common subsequence
 * (a table of LCS lengths, within ALIGN_CELLS).  Between two matched
 * statements, the statements left on both sides are paired in order (the
 * same statement, edited: a line only when its cluster changed); those
 * left over are removed (then) or new (now).  Lines go in that order.
 */
static int align_file(struct summary *s, struct outfile *of, struct since *sn,
		      const char *file, size_t u, size_t nu, uint64_t pu,
		      size_t pn, struct pl_error *err)
{
	const struct ctx *ctx = s->ctx;
	const struct cache *c = ctx->cache;
	const uint64_t *hn = ctx->units.hash + u, *ho = c->uhash + pu;
	size_t pre = 0, suf = 0, m, n, po = 0, pw = 0;
	uint32_t *L = NULL;
	size_t *mo = NULL; /* the old statement matched to each new one */
	int rc = 0;

	while (pre < nu && pre < pn && hn[pre] == ho[pre])
		pre++;
	while (suf < nu - pre && suf < pn - pre && hn[nu - 1 - suf] == ho[pn - 1 - suf])
		suf++;
	m = pn - pre - suf;
	n = nu - pre - suf;
	if (!(mo = pl_malloc(nu * sizeof(*mo))))
		return pl_oom(err);
	for (size_t i = 0; i < nu; i++)
		mo[i] = SIZE_MAX;
	for (size_t i = 0; i < pre; i++)
		mo[i] = i;
	for (size_t i = 0; i < suf; i++)
		mo[nu - 1 - i] = pn - 1 - i;
	if (m && n && (uint64_t)(m + 1) * (n + 1) <= ALIGN_CELLS) {
		/* L[i][j]: LCS of old pre+i.. and new pre+j.. (the middles) */
		const size_t w = n + 1;

		if (!(L = pl_calloc((m + 1) * w, sizeof(*L)))) {
			pl_free(mo);
			return pl_oom(err);
		}
		for (size_t i = m; i-- > 0;)
			for (size_t j = n; j-- > 0;)
				L[i * w + j] = ho[pre + i] == hn[pre + j] ?
					L[(i + 1) * w + j + 1] + 1 :
					L[(i + 1) * w + j] >= L[i * w + j + 1] ?
					L[(i + 1) * w + j] : L[i * w + j + 1];
		for (size_t i = 0, j = 0; i < m && j < n;) {
			if (ho[pre + i] == hn[pre + j]) {
				mo[pre + j] = pre + i;
				i++;
				j++;
			} else if (L[(i + 1) * w + j] >= L[i * w + j + 1]) {
				i++;
			} else {
				j++;
			}
		}
		pl_free(L);
	}
	/* The matches, in order, then an end mark: the gaps between. */
	for (size_t i = 0; rc == 0 && i <= nu; i++) {
		size_t o = i < nu ? mo[i] : pn, k;

		if (o == SIZE_MAX)
			continue;
		for (k = 0; rc == 0 && po + k < o && pw + k < i; k++)
			rc = emit_pair(s, of, sn, file, u + pw + k, pu + po + k, err);
		for (size_t j = po + k; rc == 0 && j < o; j++)
			rc = emit_removed(s, of, sn, file, pu + j, err);
		for (size_t j = pw + k; rc == 0 && j < i; j++)
			rc = emit_new(s, of, sn, file, u + j, err);
		if (rc == 0 && i < nu)
			rc = emit_pair(s, of, sn, file, u + i, pu + o, err);
		po = o + 1;
		pw = i + 1;
	}
	pl_free(mo);
	return rc;
}

static int write_changes(struct summary *s, struct strbuf *md, struct strbuf *json,
			 struct pl_error *err)
{
	struct ctx *ctx = s->ctx;
	const struct cache *c = ctx->cache;
	const struct files *fl = &ctx->files;
	struct outfile of;
	struct since sn;
	size_t u = 0;
	uint8_t *seen = NULL;
	int rc = -1;

	memset(&sn, 0, sizeof(sn));
	if (out_open(ctx, "changes.tsv", &of, err))
		return -1;
	if (out_printf(err, &of, "change\tfile\tparagraph\tstatement\tcluster\t"
		       "previous_cluster\n"))
		goto fail;
	if (!c) {
		const char *why = ctx->plan.why;

		/* Without a cache the text does not depend on the folder's
		 * history, so such a run gives the same bytes every time. */
		if (strbuf_addstr(md, "\n## Since the last run\n\nNothing to compare with: ") ||
		    (ctx->cfg->v[CFG_output_incremental].i ?
		     strbuf_addstr(md, "this run does not use the cache "
				   "(output.incremental = no).\n") :
		     !ctx_prev_id(ctx) ? strbuf_addstr(md, "this is the first run into "
						       "this output folder.\n") :
		     why ? strbuf_addf(md, "the cache of run %s could not serve this "
				       "run: %s.\n", ctx_prev_id(ctx), why) :
		     strbuf_addf(md, "run %s left no cache in its set.\n",
				 ctx_prev_id(ctx))) ||
		    strbuf_addstr(json, "\"since\":null,\n"))
			goto oom;
		return out_close(&of, err);
	}
	seen = pl_calloc(c->nfiles + 1, 1);
	if (!seen)
		goto oom;
	for (size_t i = 0; i < fl->n; i++) {
		const struct fileinfo *fi = &fl->info[i];
		size_t nu = 0, pn = 0;
		uint64_t pu = 0;
		int r;

		while (u + nu < s->nu && ctx->units.file[u + nu] == i)
			nu++;
		if (fi->old != CACHE_NONE) {
			seen[fi->old] = 1;
			pu = c->files[fi->old].unit0;
			pn = c->files[fi->old].nunits;
		}
		if (s->prev_document != s->document)
			r = cut_otherwise(s, &of, &sn, fl->rel[i], u, nu, pu, pn, err);
		else if (fi->old != CACHE_NONE && nu && pn &&
			 (memcmp(fi->hash, c->files[fi->old].hash, 16) != 0 ||
			  fi->size != c->files[fi->old].size) &&
			 hashes_known(c, pu, pn))
			/* (by its bytes, not "read this run": a file read
			 * again with the same bytes, after a change of
			 * boilerplate say, has the same paragraphs, whatever
			 * text of theirs is kept now) */
			r = align_file(s, &of, &sn, fl->rel[i], u, nu, pu, pn, err);
		else
			r = merge_paragraphs(s, &of, &sn, fl->rel[i], u, nu, pu, pn, err);
		if (r)
			goto fail;
		u += nu;
	}
	for (size_t j = 0; j < c->nfiles; j++) {
		if (seen[j])
			continue;
		for (uint32_t k = 0; k < c->files[j].nunits; k++)
			if (emit_removed(s, &of, &sn, c->files[j].rel,
					 c->files[j].unit0 + k, err))
				goto fail;
	}
	if (since_prepare(s, &sn) || md_since(s, &sn, md) ||
	    json_since(s, &sn, json))
		goto oom;
	pl_free(sn.now);
	pl_free(seen);
	return out_close(&of, err);
oom:
	pl_oom(err);
fail:
	pl_free(sn.now);
	pl_free(seen);
	out_close(&of, NULL);
	return rc;
}

static int flush_sb(struct outfile *of, struct strbuf *sb, struct pl_error *err)
{
	int rc = sb->len ? out_write(of, sb->buf, sb->len, err) : 0;

	strbuf_reset(sb);
	return rc;
}

static int summary_run(struct ctx *ctx, struct pl_error *err)
{
	const struct config *cfg = ctx->cfg;
	struct summary s;
	struct outfile tsv, md, json;
	struct strbuf tb = STRBUF_INIT, mb = STRBUF_INIT, jb = STRBUF_INIT;
	uint32_t *idx = NULL;
	int rc = -1;

	memset(&s, 0, sizeof(s));
	memset(&tsv, 0, sizeof(tsv));
	memset(&md, 0, sizeof(md));
	memset(&json, 0, sizeof(json));
	s.ctx = ctx;
	s.nu = ctx->units.n;
	s.nt = ctx->vocab.tab.n;
	s.nf = ctx->frames.n;
	s.k = ctx->km.assign ? ctx->km.k : 0;
	s.document = cfg->v[CFG_corpus_unit].i == 0;
	s.prev_document = ctx->cache && ctx->cache->analysis_text ?
		strstr(ctx->cache->analysis_text, "\ncorpus.unit = document\n") != NULL :
		s.document;
	s.ntop = (size_t)cfg->v[CFG_output_top_terms].i;
	s.nrep = (size_t)cfg->v[CFG_output_snippets].i;
	if (summary_prepare(&s, err))
		goto done;
	idx = pl_calloc(s.nf, sizeof(*idx));
	if (!idx) {
		pl_oom(err);
		goto done;
	}
	if (write_frames_tsv(&s, err))
		goto done;
	if (out_open(ctx, "clusters.tsv", &tsv, err) ||
	    out_open(ctx, "summary.md", &md, err) ||
	    out_open(ctx, "summary.json", &json, err))
		goto done;
	if (strbuf_addstr(&tb, "cluster\tsize\ttop_terms\ttop_frames\n") ||
	    md_head(&s, &mb) || json_head(&s, &jb)) {
		pl_oom(err);
		goto done;
	}
	if (write_changes(&s, &mb, &jb, err))
		goto done;
	if (strbuf_addstr(&jb, "\"clusters\":[")) {
		pl_oom(err);
		goto done;
	}
	for (uint32_t c = 0; c < s.k; c++) {
		cluster_terms(&s, c);
		if (cluster_reps(&s, c, err))
			goto done;
		if (tsv_cluster(&s, c, &tb, idx) || md_cluster(&s, c, &mb) ||
		    json_cluster(&s, c, &jb)) {
			pl_oom(err);
			goto done;
		}
		if (flush_sb(&tsv, &tb, err) || flush_sb(&md, &mb, err) ||
		    flush_sb(&json, &jb, err))
			goto done;
	}
	if (md_tail(&s, &mb) || json_tail(&s, &jb)) {
		pl_oom(err);
		goto done;
	}
	if (flush_sb(&tsv, &tb, err) || flush_sb(&md, &mb, err) ||
	    flush_sb(&json, &jb, err))
		goto done;
	if (out_close(&tsv, err) || out_close(&md, err) || out_close(&json, err))
		goto done;
	rc = 0;
done:
	out_close(&tsv, NULL);
	out_close(&md, NULL);
	out_close(&json, NULL);
	strbuf_release(&tb);
	strbuf_release(&mb);
	strbuf_release(&jb);
	pl_free(idx);
	summary_release(&s);
	return rc;
}

/* The summary stage: run() writes clusters.tsv, frames.tsv, summary.md and
 * summary.json into the staging folder (0, or -1 with err filled: out of
 * memory, a write error, a statement whose text cannot be re-read, or an
 * inconsistent clustering, PL_EX_SOFTWARE).  It only reads struct ctx. */
const struct stage stage_summary = {
	.name = "summary",
	.help = "write clusters.tsv, frames.tsv, summary.md and summary.json: "
		"each cluster's terms, frames and representative statements",
	.run = summary_run,
};
