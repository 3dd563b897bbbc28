/* vocabulary.c -- give terms their ids, count them, and prune
 *
 * In: u->tok with final stem ids (words, phrases, n-grams).  Out: one row
 * of ctx->counts per unit (term id, count; ids ascending), and at the end
 * of the run the document frequencies, collection frequencies, the most
 * frequent surface of each term, and the kept mask from [vocabulary]
 * min_df, max_df and max_features.
 *
 * Term ids are handed out when a stem first occurs in a counted unit, so
 * they follow the corpus order and never depend on what the config lists.
 * Pruning only sets vocab.kept: the columns keep their ids.
 *
 * Counting uses a dense accumulator over term ids with a list of the ids
 * touched in the current unit: O(tokens) per unit, no hashing, and no
 * allocation once the arrays have grown to the vocabulary's size.
 */
#include "stages.h"

#include <stdlib.h>
#include <string.h>

/* (term, surface) occurrence counts for phrase tokens, whose surface does
 * not determine the term; word tokens are counted on the surface itself. */
struct pairmap {
	uint64_t *key;       /* term << 32 | surface, plus 1; 0 is empty */
	uint64_t *count;
	size_t n, nslot;
};

struct counter {
	uint32_t *acc;       /* term id -> count in the current unit */
	size_t acccap;
	uint32_t *touched;   /* term ids seen in the current unit */
	size_t ntouched, touchedcap;
	size_t rowcap;       /* capacity of ctx->counts.rowptr */
	uint64_t faulted;    /* entries of ctx->counts' col and cnt mapped
				ahead with pl_prefault */
	uint32_t *sortbuf;   /* scratch for sort_u32 */
	size_t sortcap;
	struct pairmap pairs;
	/* Per-file tracking for the cache (vocabulary_file_begin): the
	 * surfaces counted since the file began, each with its count then,
	 * and every phrase (term, surface) occurrence. */
	int track;
	uint32_t epoch;
	uint32_t *stamp;     /* surface id -> epoch it was last touched in */
	uint64_t *base;      /* surface id -> its count when first touched */
	size_t stampcap;
	uint32_t *fsurf;
	size_t nfsurf, fsurfcap;
	uint64_t *fpair;     /* term << 32 | surface */
	size_t nfpair, fpaircap;
	uint64_t *fout;      /* vocabulary_file_stats' result */
	size_t foutcap;
};

static int pair_add(struct pairmap *m, uint32_t term, uint32_t surf, uint64_t n)
{
	uint64_t key = ((uint64_t)term << 32 | surf) + 1;
	size_t i;

	if (2 * (m->n + 1) > m->nslot) {
		size_t nslot = m->nslot ? m->nslot * 2 : 256;
		uint64_t *k = pl_calloc(nslot, sizeof(*k));
		uint64_t *c = pl_calloc(nslot, sizeof(*c));

		if (!k || !c) {
			pl_free(k);
			pl_free(c);
			return -1;
		}
		for (size_t j = 0; j < m->nslot; j++) {
			if (!m->key[j])
				continue;
			i = pl_hash(&m->key[j], 8) & (nslot - 1);
			while (k[i])
				i = (i + 1) & (nslot - 1);
			k[i] = m->key[j];
			c[i] = m->count[j];
		}
		pl_free(m->key);
		pl_free(m->count);
		m->key = k;
		m->count = c;
		m->nslot = nslot;
	}
	i = pl_hash(&key, 8) & (m->nslot - 1);
	while (m->key[i] && m->key[i] != key)
		i = (i + 1) & (m->nslot - 1);
	if (!m->key[i]) {
		m->key[i] = key;
		m->n++;
	}
	m->count[i] += n;
	return 0;
}

/* Make sure every per-term array has room for term id `t`. */
static int vocab_reserve(struct vocab *v, size_t n)
{
	size_t c[6];

	if (n <= v->cap)
		return 0;
	for (int i = 0; i < 6; i++)
		c[i] = v->cap;
	if (pl_grow(&v->kind, &c[0], n, sizeof(*v->kind)) ||
	    pl_grow(&v->df, &c[1], n, sizeof(*v->df)) ||
	    pl_grow(&v->cf, &c[2], n, sizeof(*v->cf)) ||
	    pl_grow(&v->surface, &c[3], n, sizeof(*v->surface)) ||
	    pl_grow(&v->kept, &c[4], n, sizeof(*v->kept)) ||
	    pl_grow(&v->idf, &c[5], n, sizeof(*v->idf)))
		return -1;
	v->cap = c[0];
	for (int i = 1; i < 6; i++)
		if (c[i] < v->cap)
			v->cap = c[i];
	return 0;
}

/* The term id of stem `s`, creating the term on first occurrence; h is
 * the stem's pl_hash (truncated to 32 bits).  term_of hashes it only when
 * the term is new. */
static int term_of_hash(struct ctx *ctx, struct counter *k, uint32_t s,
			uint32_t h, uint32_t *t)
{
	struct vocab *v = &ctx->vocab;
	uint32_t id;

	if (ctx->stems.term[s] != ID_NONE) {
		*t = ctx->stems.term[s];
		return 0;
	}
	if (strtab_intern_hash(&v->tab, strtab_str(&ctx->stems.tab, s),
			       strtab_len(&ctx->stems.tab, s), h, &id) < 0 ||
	    vocab_reserve(v, v->tab.n))
		return -1;
	if (pl_grow(&k->acc, &k->acccap, v->tab.n, sizeof(*k->acc)))
		return -1;
	v->kind[id] = ctx->stems.kind[s];
	v->df[id] = 0;
	v->cf[id] = 0;
	v->surface[id] = ID_NONE;
	v->kept[id] = 0;
	v->idf[id] = 0;
	k->acc[id] = 0;
	ctx->stems.term[s] = id;
	*t = id;
	return 0;
}

static int term_of(struct ctx *ctx, struct counter *k, uint32_t s, uint32_t *t)
{
	if (ctx->stems.term[s] != ID_NONE) {
		*t = ctx->stems.term[s];
		return 0;
	}
	return term_of_hash(ctx, k, s, (uint32_t)pl_hash(strtab_str(&ctx->stems.tab, s),
							 strtab_len(&ctx->stems.tab, s)), t);
}

/* Sort a unit's term ids ascending: insertion sort for the short lists
 * most statements have, an LSD radix sort (8-bit digits through a reused
 * buffer) for long ones; qsort's comparator calls cost more than the
 * counting itself.  The four digits are counted in one pass, and a digit
 * all the ids share (the top one, below 2^24 terms) is not moved.  0 or
 * -1 (out of memory). */
static int sort_u32(uint32_t *a, size_t n, uint32_t **buf, size_t *cap)
{
	size_t count[4][256];
	uint32_t *src = a, *dst;

	if (n < 64) {
		for (size_t i = 1; i < n; i++) {
			uint32_t v = a[i];
			size_t j = i;

			while (j > 0 && a[j - 1] > v) {
				a[j] = a[j - 1];
				j--;
			}
			a[j] = v;
		}
		return 0;
	}
	if (pl_grow(buf, cap, n, sizeof(**buf)))
		return -1;
	dst = *buf;
	memset(count, 0, sizeof(count));
	for (size_t i = 0; i < n; i++) {
		uint32_t v = a[i];

		count[0][v & 0xff]++;
		count[1][(v >> 8) & 0xff]++;
		count[2][(v >> 16) & 0xff]++;
		count[3][v >> 24]++;
	}
	for (int d = 0; d < 4; d++) {
		size_t *c = count[d], sum = 0;
		int shift = 8 * d;

		if (c[(a[0] >> shift) & 0xff] == n)
			continue; /* every id has this digit */
		for (size_t b = 0; b < 256; b++) {
			size_t k = c[b];

			c[b] = sum;
			sum += k;
		}
		for (size_t i = 0; i < n; i++)
			dst[c[(src[i] >> shift) & 0xff]++] = src[i];
		src = dst;
		dst = src == a ? *buf : a;
	}
	if (src != a)
		memcpy(a, src, n * sizeof(*a));
	return 0;
}

/* Entries of the counts arrays mapped at a time ahead of the rows (1 MiB
 * of each). */
#define PREFAULT_ENTRIES ((uint64_t)1 << 18)

/* Append the row whose sorted term ids are k->touched[0..n) with counts
 * in k->acc (cleared as they are copied) to ctx->counts, and count them in
 * df and cf.  Unit ids are dense and arrive in order.  0 or -1. */
static int emit_row(struct ctx *ctx, struct counter *k, size_t n)
{
	struct csr *m = &ctx->counts;
	size_t need = m->nnz + n;

	if (need > m->cap) {
		size_t c1 = m->cap, c2 = m->cap;

		if (pl_grow(&m->col, &c1, need, sizeof(*m->col)) ||
		    pl_grow(&m->cnt, &c2, need, sizeof(*m->cnt)))
			return -1;
		m->cap = c1 < c2 ? c1 : c2;
	}
	if (pl_grow(&m->rowptr, &k->rowcap, m->nrows + 2, sizeof(*m->rowptr)))
		return -1;
	if (need > k->faulted) {
		/* Map the next megabyte of each array ahead of the rows. */
		uint64_t to = need + PREFAULT_ENTRIES < m->cap ? need + PREFAULT_ENTRIES
							       : m->cap;

		pl_prefault(m->col + k->faulted, (size_t)(to - k->faulted) * sizeof(*m->col));
		pl_prefault(m->cnt + k->faulted, (size_t)(to - k->faulted) * sizeof(*m->cnt));
		k->faulted = to;
	}
	for (size_t i = 0; i < n; i++) {
		uint32_t t = k->touched[i];

		m->col[m->nnz] = t;
		m->cnt[m->nnz] = k->acc[t];
		m->nnz++;
		ctx->vocab.df[t]++;
		ctx->vocab.cf[t] += k->acc[t];
		k->acc[t] = 0;
	}
	m->rowptr[0] = 0;
	m->rowptr[++m->nrows] = m->nnz;
	return 0;
}

/* Note that `surf` is counted in the current file (see struct counter). */
static int track_surface(struct ctx *ctx, struct counter *k, uint32_t surf)
{
	if (surf >= k->stampcap) {
		size_t c1 = k->stampcap, c2 = k->stampcap, old = k->stampcap;

		if (pl_grow(&k->stamp, &c1, (size_t)surf + 1, sizeof(*k->stamp)) ||
		    pl_grow(&k->base, &c2, (size_t)surf + 1, sizeof(*k->base)))
			return -1;
		k->stampcap = c1 < c2 ? c1 : c2;
		memset(k->stamp + old, 0, (k->stampcap - old) * sizeof(*k->stamp));
	}
	if (k->stamp[surf] == k->epoch)
		return 0;
	if (pl_grow(&k->fsurf, &k->fsurfcap, k->nfsurf + 1, sizeof(*k->fsurf)))
		return -1;
	k->stamp[surf] = k->epoch;
	k->base[surf] = ctx->surf.count[surf];
	k->fsurf[k->nfsurf++] = surf;
	return 0;
}

void vocabulary_file_begin(struct ctx *ctx)
{
	struct counter *k = ctx->counter;

	k->track = 1;
	if (++k->epoch == 0) {
		/* Wrapped: no stamp may equal the new epoch. */
		memset(k->stamp, 0, k->stampcap * sizeof(*k->stamp));
		k->epoch = 1;
	}
	k->nfsurf = 0;
	k->nfpair = 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

int vocabulary_file_stats(struct ctx *ctx, const uint32_t **surf,
			  const uint64_t **scount, size_t *nsurf,
			  const uint64_t **pairs, size_t *npairs)
{
	struct counter *k = ctx->counter;
	size_t n = 0;

	if (sort_u32(k->fsurf, k->nfsurf, &k->sortbuf, &k->sortcap) ||
	    pl_grow(&k->fout, &k->foutcap, k->nfsurf + k->nfpair + 1,
		    sizeof(*k->fout)))
		return -1;
	for (size_t i = 0; i < k->nfsurf; i++) {
		uint32_t s = k->fsurf[i];

		k->fout[i] = ctx->surf.count[s] - k->base[s];
	}
	*surf = k->fsurf;
	*scount = k->fout;
	*nsurf = k->nfsurf;
	/* Pairs: sorted, then run-length counted in place. */
	if (k->nfpair > 1)
		qsort(k->fpair, k->nfpair, sizeof(*k->fpair), cmp_u64);
	for (size_t i = 0; i < k->nfpair;) {
		size_t j = i;

		while (j < k->nfpair && k->fpair[j] == k->fpair[i])
			j++;
		k->fpair[n] = k->fpair[i];
		k->fout[k->nfsurf + n] = j - i;
		n++;
		i = j;
	}
	k->nfpair = n;
	*pairs = k->fpair;
	*npairs = n;
	return 0;
}

int vocabulary_preload(struct ctx *ctx, const struct strtab *terms,
		       const uint8_t *kind)
{
	struct counter *k = ctx->counter;
	struct stems *sm = &ctx->stems;
	struct vocab *v = &ctx->vocab;
	size_t n = terms->n;

	/* Every table and array at its size at once: a rerun of a large
	 * corpus preloads 160,000 terms, and growing by doubling rehashed
	 * and copied each table ten times over.  (terms' pool length, with
	 * its entries' headers, bounds the bytes of the strings.) */
	if (strtab_reserve(&sm->tab, n, terms->pool_len) ||
	    strtab_reserve(&v->tab, n, terms->pool_len) ||
	    stems_reserve(sm, sm->tab.n + n) ||
	    vocab_reserve(v, v->tab.n + n) ||
	    pl_grow(&k->acc, &k->acccap, v->tab.n + n, sizeof(*k->acc)))
		return -1;
	/* ... and mapped at once: faulting their pages in one by one was most
	 * of the preload's time on the benchmark's machine (pl_prefault). */
	pl_prefault(sm->term + sm->tab.n, n * sizeof(*sm->term));
	pl_prefault(sm->kind + sm->tab.n, n * sizeof(*sm->kind));
	pl_prefault(v->kind + v->tab.n, n * sizeof(*v->kind));
	pl_prefault(v->df + v->tab.n, n * sizeof(*v->df));
	pl_prefault(v->cf + v->tab.n, n * sizeof(*v->cf));
	pl_prefault(v->surface + v->tab.n, n * sizeof(*v->surface));
	pl_prefault(v->kept + v->tab.n, n * sizeof(*v->kept));
	pl_prefault(v->idf + v->tab.n, n * sizeof(*v->idf));
	pl_prefault(k->acc + v->tab.n, n * sizeof(*k->acc));
	/* In batches, as cache.c's build_map: a term's stem and the term
	 * are the same string, so one hash asks for both tables' slots. */
	for (size_t i = 0; i < n; i += STRTAB_BATCH) {
		size_t m = n - i < STRTAB_BATCH ? n - i : STRTAB_BATCH;
		uint32_t h[STRTAB_BATCH];

		for (size_t j = 0; j < m; j++) {
			uint32_t id = (uint32_t)(i + j);

			h[j] = (uint32_t)pl_hash(strtab_str(terms, id), strtab_len(terms, id));
			strtab_prefetch(&sm->tab, h[j]);
			strtab_prefetch(&v->tab, h[j]);
		}
		for (size_t j = 0; j < m; j++) {
			uint32_t id = (uint32_t)(i + j), st, t;

			if (stems_intern_hash(sm, strtab_str(terms, id), strtab_len(terms, id),
					      h[j], kind[id], &st) ||
			    term_of_hash(ctx, k, st, h[j], &t))
				return -1;
			if (t != id)
				return -2; /* a repeated term: the table is damaged */
		}
	}
	return 0;
}

uint32_t vocabulary_term(struct ctx *ctx, const char *s, size_t len, int kind)
{
	return vocabulary_term_hash(ctx, s, len, (uint32_t)pl_hash(s, len), kind);
}

uint32_t vocabulary_term_hash(struct ctx *ctx, const char *s, size_t len,
			      uint32_t h, int kind)
{
	uint32_t st, t;

	/* The term is named by its stem, s itself: h is its hash too. */
	if (stems_intern_hash(&ctx->stems, s, len, h, kind, &st) ||
	    term_of_hash(ctx, ctx->counter, st, h, &t))
		return ID_NONE;
	return t;
}

int vocabulary_row(struct ctx *ctx, uint32_t unit, const uint32_t *term,
		   const uint32_t *cnt, size_t n, struct pl_error *err)
{
	struct counter *k = ctx->counter;

	if (pl_grow(&k->touched, &k->touchedcap, n ? n : 1, sizeof(*k->touched)))
		return pl_oom(err);
	int sorted = 1;

	for (size_t i = 0; i < n; i++) {
		if (term[i] >= ctx->vocab.tab.n || k->acc[term[i]] || !cnt[i]) {
			for (size_t j = 0; j < i; j++)
				k->acc[term[j]] = 0;
			return pl_fail(err, PL_EX_DATAERR,
				       "statement %u: a repeated or unknown term", unit + 1);
		}
		k->touched[i] = term[i];
		k->acc[term[i]] = cnt[i];
		sorted &= i == 0 || term[i] > term[i - 1];
	}
	if (!sorted && sort_u32(k->touched, n, &k->sortbuf, &k->sortcap))
		return pl_oom(err);
	return emit_row(ctx, k, n) ? pl_oom(err) : 0;
}

int vocabulary_pair(struct ctx *ctx, uint32_t term, uint32_t surf, uint64_t n)
{
	return pair_add(&ctx->counter->pairs, term, surf, n);
}

static int vocabulary_unit(struct ctx *ctx, struct unit *u, struct pl_error *err)
{
	struct counter *k = ctx->counter;

	if (!u->counted)
		return 0;
	k->ntouched = 0;
	for (size_t i = 0; i < u->tok.n; i++) {
		uint32_t s = u->tok.stem[i], surf = u->tok.surf[i], t;

		t = ctx->stems.term[s];
		if (t == ID_NONE && term_of(ctx, k, s, &t))
			return pl_oom(err);
		if (k->acc[t]++ == 0) {
			if (k->ntouched == k->touchedcap &&
			    pl_grow(&k->touched, &k->touchedcap, k->ntouched + 1,
				    sizeof(*k->touched)))
				return pl_oom(err);
			k->touched[k->ntouched++] = t;
		}
		if (surf == ID_NONE)
			continue;
		if (ctx->stems.kind[s] == TERM_PHRASE) {
			if (pair_add(&k->pairs, t, surf, 1))
				return pl_oom(err);
			if (k->track && (pl_grow(&k->fpair, &k->fpaircap, k->nfpair + 1,
						 sizeof(*k->fpair))))
				return pl_oom(err);
			if (k->track)
				k->fpair[k->nfpair++] = (uint64_t)t << 32 | surf;
		} else {
			if (k->track && track_surface(ctx, k, surf))
				return pl_oom(err);
			ctx->surf.count[surf]++;
		}
	}
	if (sort_u32(k->touched, k->ntouched, &k->sortbuf, &k->sortcap))
		return pl_oom(err);
	ctx->units.ntok[u->id] = (uint32_t)u->tok.n;
	return emit_row(ctx, k, k->ntouched) ? pl_oom(err) : 0;
}

/* Source entries copied between two cuts of the source's arrays. */
#define MERGE_RELEASE ((uint64_t)1 << 20)

/* Rows [bound[0], bound[nt]) of the source, given dst's term ids, sorted,
 * and written to dst's arrays at `base` past each entry's place in the
 * source, on the run's threads: thread t takes rows [bound[t],
 * bound[t + 1]) with its own accumulator (dst's vocabulary wide, zero
 * between rows) and scratch.  Each row is done on its own, so the bytes do
 * not depend on the threads. */
struct remap_job {
	const struct csr *ms;
	struct csr *md;
	uint64_t base;
	const uint32_t *map;
	size_t bound[PL_MAX_THREADS + 1];
	uint32_t *acc[PL_MAX_THREADS];
	uint32_t *ids[PL_MAX_THREADS];   /* a row's new ids, longest row long */
	uint32_t *buf[PL_MAX_THREADS];   /* sort_u32's buffer, as long */
	size_t cap[PL_MAX_THREADS];
};

static void remap_rows(void *arg, size_t t, size_t nt)
{
	struct remap_job *job = arg;
	const struct csr *ms = job->ms;
	uint32_t *acc = job->acc[t], *ids = job->ids[t];
	uint64_t from = ms->rowptr[job->bound[t]], to = ms->rowptr[job->bound[t + 1]];
	uint32_t *dcol, *dcnt;

	(void)nt;
	if (from == to)
		return; /* empty rows only (and the arrays may be NULL) */
	dcol = job->md->col + job->base;
	dcnt = job->md->cnt + job->base;
	/* This share of dst's fresh memory, mapped in one call. */
	pl_prefault(dcol + from, (size_t)(to - from) * sizeof(*dcol));
	pl_prefault(dcnt + from, (size_t)(to - from) * sizeof(*dcnt));
	for (size_t r = job->bound[t]; r < job->bound[t + 1]; r++) {
		uint64_t e0 = ms->rowptr[r];
		size_t n = ms->rowptr[r + 1] - e0;
		int sorted = 1;

		if (n == 0)
			continue;
		for (size_t j = 0; j < n; j++) {
			ids[j] = job->map[ms->col[e0 + j]];
			sorted &= j == 0 || ids[j] > ids[j - 1];
		}
		/* Terms the shard shares with dst in the same order (a
		 * rerun's cached terms) map in order: the counts go as they
		 * are.  The buffer is as long as the longest row: no
		 * allocation. */
		if (sorted) {
			memcpy(dcol + e0, ids, n * sizeof(*ids));
			memcpy(dcnt + e0, ms->cnt + e0, n * sizeof(*dcnt));
			continue;
		}
		for (size_t j = 0; j < n; j++)
			acc[ids[j]] = ms->cnt[e0 + j];
		(void)sort_u32(ids, n, &job->buf[t], &job->cap[t]);
		for (size_t j = 0; j < n; j++) {
			dcol[e0 + j] = ids[j];
			dcnt[e0 + j] = acc[ids[j]];
			acc[ids[j]] = 0;
		}
	}
}

int vocabulary_merge(struct ctx *dst, struct ctx *src, const uint32_t *map_surf,
		     const uint32_t *term_stem, struct pl_error *err)
{
	struct counter *kd = dst->counter, *ks = src->counter;
	struct vocab *vs = &src->vocab;
	struct csr *md = &dst->counts;
	struct csr *ms = &src->counts;
	struct remap_job *job = NULL;
	uint32_t *map_term = NULL;
	uint64_t base;
	size_t nt, longest = 1;
	int rc = -1;

	map_term = pl_malloc((vs->tab.n ? vs->tab.n : 1) * sizeof(*map_term));
	if (!map_term)
		goto oom;
	/* The source's terms in its id order are in its first-occurrence
	 * order; interning them after everything dst has seen gives the ids a
	 * single pass over dst's and then src's statements would give. */
	for (size_t t = 0; t < vs->tab.n; t++) {
		if (term_stem[t] == ID_NONE || term_of(dst, kd, term_stem[t], &map_term[t]))
			goto oom;
		dst->vocab.df[map_term[t]] += vs->df[t];
		dst->vocab.cf[map_term[t]] += vs->cf[t];
	}
	/* map_term is all the rest reads of the source's terms. */
	vocab_release(vs);
	for (size_t r = 0; r < ms->nrows; r++)
		if (ms->rowptr[r + 1] - ms->rowptr[r] > longest)
			longest = ms->rowptr[r + 1] - ms->rowptr[r];
	job = pl_calloc(1, sizeof(*job));
	if (!job)
		goto oom;
	/* As many threads as the whole of the rows would get: a run of them
	 * never gets more. */
	nt = csr_shares(ms, dst->rep.threads, job->bound);
	for (size_t t = 0; t < nt; t++) {
		job->acc[t] = pl_calloc(dst->vocab.tab.n ? dst->vocab.tab.n : 1,
					sizeof(*job->acc[t]));
		job->ids[t] = pl_malloc(longest * sizeof(*job->ids[t]));
		if (!job->acc[t] || !job->ids[t] ||
		    pl_grow(&job->buf[t], &job->cap[t], longest, sizeof(*job->buf[t])))
			goto oom;
	}
	if (pl_grow(&md->rowptr, &kd->rowcap, md->nrows + ms->nrows + 2,
		    sizeof(*md->rowptr)))
		goto oom;
	if (md->nnz + ms->nnz > md->cap) {
		size_t c1 = md->cap, c2 = md->cap;

		if (pl_grow(&md->col, &c1, md->nnz + ms->nnz, sizeof(*md->col)) ||
		    pl_grow(&md->cnt, &c2, md->nnz + ms->nnz, sizeof(*md->cnt)))
			goto oom;
		md->cap = c1 < c2 ? c1 : c2;
	}
	md->rowptr[0] = 0;
	base = md->nnz;
	for (size_t r = 0; r < ms->nrows; r++)
		md->rowptr[md->nrows + r + 1] = base + ms->rowptr[r + 1];
	/* The rows go over in runs of about MERGE_RELEASE entries from the
	 * last down, each run remapped straight into dst on the threads,
	 * and after each the source's arrays are cut to the entries not yet
	 * done: the shard's counts and their copy are not both held whole,
	 * so merging adds little to the run's peak memory. */
	job->ms = ms;
	job->md = md;
	job->base = base;
	job->map = map_term;
	for (size_t end = ms->nrows; end > 0;) {
		uint64_t goal = ms->rowptr[end] > MERGE_RELEASE ? ms->rowptr[end] - MERGE_RELEASE : 0;
		size_t begin = end - 1;

		/* (Empty rows, which some statements give, go with the rest.) */
		while (begin > 0 && (goal == 0 || ms->rowptr[begin] > goal))
			begin--;
		pl_parallel(csr_shares_of(ms, begin, end, (long)nt, job->bound),
			    remap_rows, job);
		end = begin;
		if (ms->rowptr[end] > 0)
			csr_shrink(ms, ms->rowptr[end]);
	}
	md->nnz = base + ms->nnz;
	md->nrows += ms->nrows;
	ms->nnz = 0; /* its arrays hold only a part now */
	for (size_t i = 0; i < ks->pairs.nslot; i++) {
		uint64_t key = ks->pairs.key[i];

		if (!key)
			continue;
		key--;
		if (pair_add(&kd->pairs, map_term[key >> 32], map_surf[(uint32_t)key],
			     ks->pairs.count[i]))
			goto oom;
	}
	rc = 0;
	goto out;
oom:
	rc = pl_oom(err);
out:
	if (job)
		for (size_t t = 0; t < PL_MAX_THREADS; t++) {
			pl_free(job->acc[t]);
			pl_free(job->ids[t]);
			pl_free(job->buf[t]);
		}
	pl_free(job);
	pl_free(map_term);
	return rc;
}

/* Most frequent surface per term; ties go to the smaller string so the
 * choice does not depend on the order the corpus was read in. */
static void pick_surfaces(struct ctx *ctx, struct counter *k, uint64_t *best)
{
	struct vocab *v = &ctx->vocab;
	const struct surfaces *sf = &ctx->surf;

	for (size_t t = 0; t < v->tab.n; t++) {
		v->surface[t] = ID_NONE;
		best[t] = 0;
	}
	for (size_t s = 0; s < sf->tab.n; s++) {
		uint32_t st, t;

		if (!sf->count[s] || sf->stem[s] == ID_NONE)
			continue;
		st = sf->stem[s];
		t = ctx->stems.term[st];
		if (t == ID_NONE)
			continue;
		if (sf->count[s] > best[t] ||
		    (sf->count[s] == best[t] &&
		     strcmp(strtab_str(&sf->tab, (uint32_t)s),
			    strtab_str(&sf->tab, v->surface[t])) < 0)) {
			best[t] = sf->count[s];
			v->surface[t] = (uint32_t)s;
		}
	}
	for (size_t i = 0; i < k->pairs.nslot; i++) {
		uint64_t key = k->pairs.key[i];
		uint32_t t, s;

		if (!key)
			continue;
		key--;
		t = (uint32_t)(key >> 32);
		s = (uint32_t)key;
		if (k->pairs.count[i] > best[t] ||
		    (k->pairs.count[i] == best[t] && v->surface[t] != ID_NONE &&
		     strcmp(strtab_str(&sf->tab, s),
			    strtab_str(&sf->tab, v->surface[t])) < 0)) {
			best[t] = k->pairs.count[i];
			v->surface[t] = s;
		}
	}
}

/* For max_features: order term ids by collection frequency, then by the
 * term's bytes (code point order), not by id: a rerun's ids are
 * append-only, a fresh run's in order of first occurrence, and both must
 * keep the same terms.  (scikit-learn, whose columns are sorted by term
 * before it limits them, leaves the order of ties to numpy's unstable
 * argsort.) */
static const uint64_t *sort_cf;
static const struct strtab *sort_tab;
static int cmp_cf(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	size_t lx, ly;
	int c;

	if (sort_cf[x] != sort_cf[y])
		return sort_cf[x] < sort_cf[y] ? 1 : -1;
	lx = strtab_len(sort_tab, x);
	ly = strtab_len(sort_tab, y);
	c = memcmp(strtab_str(sort_tab, x), strtab_str(sort_tab, y), lx < ly ? lx : ly);
	return c ? c : (lx > ly) - (lx < ly);
}

static int vocabulary_run(struct ctx *ctx, struct pl_error *err)
{
	const struct config *cfg = ctx->cfg;
	struct vocab *v = &ctx->vocab;
	struct counter *k = ctx->counter;
	long min_df = cfg->v[CFG_vocabulary_min_df].i;
	double max_df = cfg->v[CFG_vocabulary_max_df].r;
	long max_features = cfg->v[CFG_vocabulary_max_features].i;
	double max_count = max_df * (double)ctx->units.n;
	uint64_t *best;

	size_t present = 0;

	ctx->counts.ncols = v->tab.n;
	/* A rerun keeps the columns of terms no statement has any more
	 * (append-only ids, df 0): what counts here is the terms present. */
	for (size_t t = 0; t < v->tab.n; t++)
		present += v->df[t] > 0;
	if (ctx->units.n == 0)
		return pl_fail(err, PL_EX_DATAERR,
			       "%s: no statements: every file is empty or boilerplate",
			       ctx->files.root);
	/* No term at all is not a pruning problem: say what left none, rather
	 * than "min_df = 1, max_df = 1 remove them all". */
	if (present == 0)
		return pl_fail(err, PL_EX_DATAERR,
			       "%s: no terms: every statement is empty, or only stop words, "
			       "numbers or tokens outside [tokenize] min_length..max_length",
			       ctx->files.root);
	if (vocab_reserve(v, v->tab.n ? v->tab.n : 1))
		return pl_oom(err);
	best = pl_calloc(v->tab.n ? v->tab.n : 1, sizeof(*best));
	if (!best)
		return pl_oom(err);
	pick_surfaces(ctx, k, best);
	pl_free(best);
	v->nkept = 0;
	for (size_t t = 0; t < v->tab.n; t++) {
		v->kept[t] = v->df[t] >= (uint32_t)min_df &&
			     (double)v->df[t] <= max_count;
		v->nkept += v->kept[t];
	}
	if (max_features > 0 && v->nkept > (size_t)max_features) {
		uint32_t *ids = pl_malloc(v->nkept * sizeof(*ids));
		size_t n = 0;

		if (!ids)
			return pl_oom(err);
		for (size_t t = 0; t < v->tab.n; t++)
			if (v->kept[t])
				ids[n++] = (uint32_t)t;
		sort_cf = v->cf;
		sort_tab = &v->tab;
		qsort(ids, n, sizeof(*ids), cmp_cf);
		for (size_t i = (size_t)max_features; i < n; i++)
			v->kept[ids[i]] = 0;
		v->nkept = (size_t)max_features;
		pl_free(ids);
	}
	if (v->nkept == 0)
		return pl_fail(err, PL_EX_DATAERR,
			       "no terms left: the corpus has %zu distinct terms and "
			       "[vocabulary] min_df = %ld, max_df = %g remove them all",
			       present, min_df, max_df);
	return 0;
}

static int vocabulary_init(struct ctx *ctx, struct pl_error *err)
{
	ctx->counter = pl_calloc(1, sizeof(*ctx->counter));
	return ctx->counter ? 0 : pl_oom(err);
}

void vocabulary_counter_free(struct ctx *ctx)
{
	struct counter *k = ctx->counter;

	if (k) {
		pl_free(k->acc);
		pl_free(k->touched);
		pl_free(k->sortbuf);
		pl_free(k->pairs.key);
		pl_free(k->pairs.count);
		pl_free(k->stamp);
		pl_free(k->base);
		pl_free(k->fsurf);
		pl_free(k->fpair);
		pl_free(k->fout);
		pl_free(k);
		ctx->counter = NULL;
	}
}

static void vocabulary_release(struct ctx *ctx)
{
	vocabulary_counter_free(ctx);
	vocab_release(&ctx->vocab);
	csr_release(&ctx->counts);
}

const struct stage stage_vocabulary = {
	.name = "vocabulary",
	.help = "term ids in corpus order, counts per statement, min_df/max_df pruning",
	.init = vocabulary_init,
	.unit = vocabulary_unit,
	.run = vocabulary_run,
	.release = vocabulary_release,
};
