/* gz.c -- gzip output compressed in parallel, as independent members
 *
 * The producer (the thread calling gzw_write) fills the chunk of sequence
 * number next_seq in a ring of slots; a full chunk is handed to the
 * workers, which compress it with their own libdeflate compressor.  A
 * worker that finishes a chunk then hands every member that is ready, in
 * sequence order, to the sink (one worker at a time does that: `writing`),
 * and marks the slots free again.  The producer waits only when the slot
 * it is to fill next still holds a member not yet written, so at most
 * nslot chunks are in memory.
 *
 * Until a second chunk is needed no thread is started and no lock is
 * taken: the caller compresses its one chunk itself (synchronous mode,
 * also used when workers <= 1 or a thread cannot be started).
 *
 * Allocations are made by the producer only, so that the order of
 * allocations (and pl_alloc_fail_at's numbering) does not depend on the
 * threads; libdeflate allocates its compressors with plain malloc.
 */
#include "gz.h"

#include <libdeflate.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

enum { SLOT_FREE, SLOT_FULL, SLOT_DONE };

struct slot {
	char *in;           /* uncompressed bytes of the chunk */
	size_t len, cap;
	char *out;          /* its gzip member */
	size_t olen, ocap;
	int state;          /* SLOT_*; the producer fills only a free slot */
};

struct worker {
	struct gzw *w;
	struct libdeflate_compressor *comp;
	pthread_t tid;
};

struct gzw {
	int level;
	size_t chunk;
	unsigned want;      /* workers to start when a second chunk comes */
	gzw_sink *sink;
	void *arg;
	struct libdeflate_compressor *comp; /* the producer's (synchronous) */
	struct slot *slot;  /* chunk number s lives in slot[s % nslot] */
	size_t nslot;
	uint64_t next_seq;  /* the chunk being filled; all before are handed on */
	uint64_t next_job;  /* the next chunk a worker compresses */
	uint64_t next_out;  /* the next member to give to the sink */
	struct worker *wk;
	unsigned nworkers;  /* running */
	int locks;          /* mu, work and room are initialised */
	pthread_mutex_t mu;
	pthread_cond_t work; /* a chunk to compress, or stop */
	pthread_cond_t room; /* a member was written, or a failure */
	int stop, writing;
	int finished;       /* gzw_finish ran */
	_Atomic int failed;
	struct pl_error err; /* the first failure */
	uint64_t *msize;    /* compressed bytes of each member handed on,
			       by sequence number (grown by the producer,
			       filled as members reach the sink, under mu) */
	size_t mcap;
};

static struct slot *current(struct gzw *w)
{
	return &w->slot[w->next_seq % w->nslot];
}

/* The sticky failure, copied to err; -1. */
static int report(struct gzw *w, struct pl_error *err)
{
	if (w->locks)
		pthread_mutex_lock(&w->mu);
	if (err)
		*err = w->err;
	if (w->locks)
		pthread_mutex_unlock(&w->mu);
	return -1;
}

/* Record a failure of the producer (out of memory and the like); -1. */
static int fail_oom(struct gzw *w, struct pl_error *err)
{
	if (w->locks)
		pthread_mutex_lock(&w->mu);
	if (!w->failed) {
		pl_oom(&w->err);
		w->failed = 1;
	}
	if (w->locks) {
		pthread_cond_broadcast(&w->room);
		pthread_mutex_unlock(&w->mu);
	}
	return report(w, err);
}

/* Room for `need` bytes of input in s, growing by doubling up to max. */
static int reserve(struct slot *s, size_t need, size_t max)
{
	size_t cap = s->cap ? s->cap : 4096;
	char *p;

	if (need <= s->cap)
		return 0;
	while (cap < need)
		cap = cap > max / 2 ? max : cap * 2;
	p = pl_realloc(s->in, cap);
	if (!p)
		return -1;
	s->in = p;
	s->cap = cap;
	return 0;
}

/* Room for the member of a chunk of `len` bytes in s->out. */
static int reserve_out(struct slot *s, size_t len)
{
	size_t need = libdeflate_gzip_compress_bound(NULL, len);
	char *p;

	if (need <= s->ocap)
		return 0;
	p = pl_realloc(s->out, need);
	if (!p)
		return -1;
	s->out = p;
	s->ocap = need;
	return 0;
}

/* s->in into s->out as one gzip member (libdeflate writes no name, time
 * stamp 0); 0, or -1 if it did not fit, which the bound rules out. */
static int compress_slot(struct libdeflate_compressor *comp, struct slot *s)
{
	static const char empty[1];

	s->olen = libdeflate_gzip_compress(comp, s->in ? s->in : empty, s->len,
					   s->out, s->ocap);
	return s->olen ? 0 : -1;
}

/* Hand every member that is ready, in order, to the sink; with mu held,
 * by one thread at a time.  After a failure members are dropped. */
static void drain(struct gzw *w)
{
	if (w->writing)
		return;
	w->writing = 1;
	while (w->next_out < w->next_seq) {
		struct slot *s = &w->slot[w->next_out % w->nslot];

		if (s->state != SLOT_DONE)
			break;
		w->msize[w->next_out] = s->olen;
		if (!w->failed) {
			struct pl_error e;
			int rc;

			pthread_mutex_unlock(&w->mu);
			rc = w->sink(w->arg, s->out, s->olen, &e);
			pthread_mutex_lock(&w->mu);
			if (rc && !w->failed) {
				w->err = e;
				w->failed = 1;
			}
		}
		s->len = 0;
		s->state = SLOT_FREE;
		w->next_out++;
		pthread_cond_broadcast(&w->room);
	}
	w->writing = 0;
}

static void *worker_main(void *arg)
{
	struct worker *wk = arg;
	struct gzw *w = wk->w;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		struct slot *s;

		while (!w->stop && w->next_job == w->next_seq)
			pthread_cond_wait(&w->work, &w->mu);
		if (w->next_job == w->next_seq)
			break;
		s = &w->slot[w->next_job++ % w->nslot];
		if (!w->failed) {
			int rc;

			pthread_mutex_unlock(&w->mu);
			rc = compress_slot(wk->comp, s);
			pthread_mutex_lock(&w->mu);
			if (rc && !w->failed) {
				pl_fail(&w->err, PL_EX_SOFTWARE, "gzip: compression failed");
				w->failed = 1;
			}
		}
		s->state = SLOT_DONE;
		drain(w);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

static void stop_workers(struct gzw *w)
{
	pthread_mutex_lock(&w->mu);
	w->stop = 1;
	pthread_cond_broadcast(&w->work);
	pthread_mutex_unlock(&w->mu);
	for (unsigned i = 0; i < w->nworkers; i++)
		pthread_join(w->wk[i].tid, NULL);
	w->nworkers = 0;
}

/* Go parallel, before the first chunk is handed on: want + 2 slots, each
 * with room for a whole member, and the threads.  When no thread starts,
 * the writer stays synchronous (with the slots); -1 only when out of
 * memory. */
static int start_workers(struct gzw *w, struct pl_error *err)
{
	size_t n = (size_t)w->want + 2;
	struct slot *slot;

	w->want = 0; /* one try */
	slot = pl_realloc(w->slot, n * sizeof(*slot));
	if (!slot)
		return fail_oom(w, err);
	w->slot = slot;
	memset(slot + w->nslot, 0, (n - w->nslot) * sizeof(*slot));
	w->nslot = n;
	/* Synchronous until now, so the chunk being filled is the one slot
	 * there was; chunk s lives in slot[s % n] from here on. */
	if (w->next_seq % n) {
		struct slot t = slot[0];

		slot[0] = slot[w->next_seq % n];
		slot[w->next_seq % n] = t;
	}
	w->wk = pl_calloc(n - 2, sizeof(*w->wk));
	if (!w->wk)
		return fail_oom(w, err);
	for (size_t i = 0; i < n; i++)
		if (reserve_out(&slot[i], w->chunk))
			return fail_oom(w, err);
	if (pthread_mutex_init(&w->mu, NULL) != 0)
		return 0;
	if (pthread_cond_init(&w->work, NULL) != 0) {
		pthread_mutex_destroy(&w->mu);
		return 0;
	}
	if (pthread_cond_init(&w->room, NULL) != 0) {
		pthread_cond_destroy(&w->work);
		pthread_mutex_destroy(&w->mu);
		return 0;
	}
	w->locks = 1;
	for (size_t i = 0; i < n - 2; i++) {
		struct worker *wk = &w->wk[w->nworkers];

		wk->w = w;
		wk->comp = libdeflate_alloc_compressor(w->level);
		if (!wk->comp)
			return fail_oom(w, err);
		if (pthread_create(&wk->tid, NULL, worker_main, wk) != 0) {
			libdeflate_free_compressor(wk->comp);
			wk->comp = NULL;
			break;
		}
		w->nworkers++;
	}
	return 0;
}

/* Room in msize for the member about to be handed on (next_seq); the
 * producer grows it, under mu once workers read it.  0 or -1. */
static int msize_reserve(struct gzw *w)
{
	size_t cap = w->mcap;
	uint64_t *p = w->msize;
	int rc = 0;

	if (w->next_seq < w->mcap)
		return 0;
	if (w->locks)
		pthread_mutex_lock(&w->mu);
	if (pl_grow(&p, &cap, (size_t)w->next_seq + 1, sizeof(*p)))
		rc = -1;
	else {
		w->msize = p;
		w->mcap = cap;
	}
	if (w->locks)
		pthread_mutex_unlock(&w->mu);
	return rc;
}

/* Wait until the sink has every member handed on so far. */
static void wait_written(struct gzw *w)
{
	if (!w->nworkers)
		return;
	pthread_mutex_lock(&w->mu);
	while (w->next_out != w->next_seq && !w->failed)
		pthread_cond_wait(&w->room, &w->mu);
	pthread_mutex_unlock(&w->mu);
}

/* The chunk being filled is complete: compress and write it here, or hand
 * it to the workers and wait until the next slot is free.  The workers
 * start with the first chunk that is more than a small file's (a full one,
 * or a quarter of one cut off by gzw_cut) and is not the last.  0 or -1. */
static int submit(struct gzw *w, int last, struct pl_error *err)
{
	struct slot *s;

	if (w->want > 1 && !last && current(w)->len >= w->chunk / 4 &&
	    start_workers(w, err))
		return -1;
	if (msize_reserve(w))
		return fail_oom(w, err);
	s = current(w); /* start_workers moves the slots */
	if (w->nworkers == 0) {
		if (!w->comp)
			w->comp = libdeflate_alloc_compressor(w->level);
		if (!w->comp || reserve_out(s, s->len))
			return fail_oom(w, err);
		if (compress_slot(w->comp, s)) {
			pl_fail(&w->err, PL_EX_SOFTWARE, "gzip: compression failed");
			w->failed = 1;
			return report(w, err);
		}
		if (w->sink(w->arg, s->out, s->olen, &w->err)) {
			w->failed = 1;
			return report(w, err);
		}
		w->msize[w->next_seq] = s->olen;
		s->len = 0;
		w->next_seq++;
		w->next_job = w->next_out = w->next_seq;
		return 0;
	}
	pthread_mutex_lock(&w->mu);
	s->state = SLOT_FULL;
	w->next_seq++;
	pthread_cond_signal(&w->work);
	while (current(w)->state != SLOT_FREE && !w->failed)
		pthread_cond_wait(&w->room, &w->mu);
	pthread_mutex_unlock(&w->mu);
	return w->failed ? report(w, err) : 0;
}

struct gzw *gzw_new(int level, size_t chunk, unsigned workers, gzw_sink *sink,
		    void *arg, struct pl_error *err)
{
	struct gzw *w;

	if (level < 0 || level > 12 || chunk == 0 || !sink) {
		pl_fail(err, PL_EX_SOFTWARE, "gzip: bad level %d or chunk size %zu",
			level, chunk);
		return NULL;
	}
	w = pl_calloc(1, sizeof(*w));
	if (!w) {
		pl_oom(err);
		return NULL;
	}
	w->slot = pl_calloc(1, sizeof(*w->slot));
	if (!w->slot) {
		pl_free(w);
		pl_oom(err);
		return NULL;
	}
	w->nslot = 1;
	w->level = level;
	w->chunk = chunk;
	w->want = workers > 64 ? 64 : workers;
	w->sink = sink;
	w->arg = arg;
	return w;
}

int gzw_write(struct gzw *w, const void *data, size_t len,
	      struct pl_error *err)
{
	const char *p = data;

	if (w->failed)
		return report(w, err);
	while (len) {
		struct slot *s = current(w);
		size_t take = w->chunk - s->len;

		if (take > len)
			take = len;
		if (reserve(s, s->len + take, w->chunk))
			return fail_oom(w, err);
		memcpy(s->in + s->len, p, take);
		s->len += take;
		p += take;
		len -= take;
		if (s->len == w->chunk && submit(w, 0, err))
			return -1;
	}
	return 0;
}

int gzw_cut(struct gzw *w, struct pl_error *err)
{
	if (w->failed)
		return report(w, err);
	return current(w)->len ? submit(w, 0, err) : 0;
}

uint64_t gzw_members(const struct gzw *w)
{
	return w->next_seq;
}

int gzw_raw_begin(struct gzw *w, struct pl_error *err)
{
	if (gzw_cut(w, err))
		return -1;
	wait_written(w);
	if (w->failed)
		return report(w, err);
	return msize_reserve(w) ? fail_oom(w, err) : 0;
}

void gzw_raw_end(struct gzw *w, uint64_t len)
{
	/* Every member before it is written and no worker holds a chunk:
	 * the raw bytes take the next sequence number, and the slot it
	 * would have used stays free for the one after. */
	if (w->locks)
		pthread_mutex_lock(&w->mu);
	w->msize[w->next_seq] = len;
	w->next_seq++;
	w->next_job = w->next_out = w->next_seq;
	if (w->locks)
		pthread_mutex_unlock(&w->mu);
}

const uint64_t *gzw_member_sizes(const struct gzw *w)
{
	return w->msize;
}

int gzw_finish(struct gzw *w, struct pl_error *err)
{
	if (w->failed)
		return report(w, err);
	if (w->finished)
		return 0;
	w->finished = 1;
	if ((current(w)->len || w->next_seq == 0) && submit(w, 1, err))
		return -1;
	if (w->nworkers) {
		wait_written(w);
		stop_workers(w);
	}
	return w->failed ? report(w, err) : 0;
}

void gzw_free(struct gzw *w)
{
	if (!w)
		return;
	if (w->nworkers) {
		/* Abandoned: the workers drop what is left and stop. */
		pthread_mutex_lock(&w->mu);
		w->failed = 1;
		pthread_mutex_unlock(&w->mu);
		stop_workers(w);
	}
	if (w->wk)
		for (size_t i = 0; i + 2 < w->nslot; i++)
			libdeflate_free_compressor(w->wk[i].comp);
	if (w->locks) {
		pthread_cond_destroy(&w->room);
		pthread_cond_destroy(&w->work);
		pthread_mutex_destroy(&w->mu);
	}
	for (size_t i = 0; i < w->nslot; i++) {
		pl_free(w->slot[i].in);
		pl_free(w->slot[i].out);
	}
	libdeflate_free_compressor(w->comp);
	pl_free(w->msize);
	pl_free(w->slot);
	pl_free(w->wk);
	pl_free(w);
}
