/* read.c -- find the corpus files and cut them into statements
 *
 * In: [corpus] dir, unit, boilerplate, max_file_mb.  Out: ctx->files (every
 * *.txt and *.txt.gz under the folder, recursively, sorted by path) and, for
 * each statement, a row in ctx->units; each statement's text is handed to
 * the later stages' unit hooks and then forgotten, so only one file's text
 * is in memory at a time.
 *
 * Plain files are read with read(2) into one buffer sized from the file;
 * *.txt.gz files are streamed through zlib's gzread in large blocks.  A statement is the whole file (unit = document) or each
 * run of non-blank lines (unit = paragraph), numbered from 1 in the file,
 * counting paragraphs that turned out to be all boilerplate, so that
 * "file ¶7" is the 7th paragraph a reader sees.  Boilerplate lines (POSIX
 * extended regular expressions from [corpus] boilerplate) are dropped
 * before anything else looks at them.
 *
 * Hidden entries (names starting with ".") are skipped.  A symbolic link
 * to a file is read; a symbolic link to a folder is not followed, so a
 * link loop cannot make the walk endless.
 */
/* readdir's d_type (DT_REG, DT_LNK, DT_DIR) saves a stat per entry. */
#define _DEFAULT_SOURCE
#include "stages.h"
#include "../pipeline/cache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <regex.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <utf8proc.h>
#include <xxhash.h>
#include <zlib.h>

/* Files and bytes read so far by every thread, for the progress line the
 * main thread prints. */
struct progress {
	atomic_size_t files;
	atomic_uint_least64_t bytes;
	size_t total;
	double t0;
};

struct reader {
	struct progress own;        /* the main ctx's */
	struct progress *prog;      /* the run's (the main ctx's own) */
	regex_t *re;
	size_t nre, recap;
	struct segwriter *seg;      /* where records of files read go, or NULL */
	struct replaymaps *maps;    /* cache ids -> this ctx's ids */
	struct strbuf file;  /* the current file's bytes */
	struct strbuf raw;   /* a gzip file's bytes on disk */
	struct strbuf unit;  /* the current statement's kept lines */
};

static struct reader *reader_of(struct ctx *ctx)
{
	return ctx->reader;
}

/* A file over [corpus] max_file_mb (`limit` bytes) on disk, or once
 * inflated: the run stops, whether the file is being read or would be
 * replayed from the cache (read_plan), as a fresh run would. */
static int too_large(const char *path, uint64_t limit, int inflated,
		     struct pl_error *err)
{
	return pl_fail(err, PL_EX_DATAERR,
		       "%s: larger than [corpus] max_file_mb = %llu MiB%s; "
		       "raise the limit or remove the file", path,
		       (unsigned long long)(limit >> 20),
		       inflated ? " (after decompression)" : "");
}

/* [run] threads, or the cores present for 0 (at least 1). */
static long configured_threads(const struct ctx *ctx)
{
	long n = ctx->cfg->v[CFG_run_threads].i;

	if (n == 0)
		n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n;
}

/* Room for `more` files after the f->n listed. */
static int files_reserve(struct files *f, size_t more)
{
	size_t c1 = f->cap, c2 = f->cap, c3 = f->cap, c4 = f->cap;

	if (f->n + more <= f->cap)
		return 0;
	if (pl_grow(&f->path, &c1, f->n + more, sizeof(*f->path)) ||
	    pl_grow(&f->rel, &c2, f->n + more, sizeof(*f->rel)) ||
	    pl_grow(&f->bytes, &c3, f->n + more, sizeof(*f->bytes)) ||
	    pl_grow(&f->info, &c4, f->n + more, sizeof(*f->info)))
		return -1;
	f->cap = c1 < c2 ? (c1 < c3 ? c1 : c3) : (c2 < c3 ? c2 : c3);
	f->cap = f->cap < c4 ? f->cap : c4;
	return 0;
}

/* Keep an allocation that path[] or rel[] point into. */
static int files_own(struct files *f, char *block)
{
	if (pl_grow(&f->block, &f->blockcap, f->nblock + 1, sizeof(*f->block))) {
		pl_free(block);
		return -1;
	}
	f->block[f->nblock++] = block;
	return 0;
}

/* What a walk keeps of a file's stat data. */
struct statrec {
	uint64_t size, ino, dev;
	int64_t mtime_ns, ctime_ns;
};

/* A folder being walked, open for stat'ing its files relative to: closed
 * when the walk has read it and every file queued from it is stat'ed. */
struct dirref {
	DIR *d;
	size_t refs;        /* the walk's while it reads, and each batch's */
};

/*
 * Up to WALK_CHUNK files of one folder, as a walk found them and stat'ed
 * them.  A rerun with nothing new spends most of its time listing the
 * corpus (a stat per file, as git's index does), so the walk reads a
 * folder on its own thread while the run's other threads stat the files
 * of the batches it has queued (struct walkq); each sums the listing
 * digest of what it stat'ed (cache.h), a sum that does not depend on who
 * stat'ed what.
 *
 * The walk keeps every batch (names and 40 bytes of stat data per file,
 * in struct files' kept[]).  A digest-only walk (the quick check of a
 * scheduled run) stops there; read_list builds the listing from the kept
 * batches when the digest did not match, or at once after a full walk,
 * without a second walk of the corpus.  On the benchmark's 96,736 files
 * that second walk was 0.15 s of wall time and 0.33 s of CPU beside the
 * index load; keeping the batches takes 4 MB.
 */
struct batch {
	struct dirref *ref;     /* its folder, until its files are stat'ed */
	const char *dir;        /* the folder's path (owned) */
	size_t dirlen;
	struct strbuf names;    /* NUL-terminated names */
	size_t *off;            /* of each name in names */
	size_t *pathoff;        /* of each full path in block */
	uint8_t *link;          /* 1: a symbolic link, to be followed */
	uint8_t *ok;            /* 1: a regular file (or a link to one) */
	char *block;            /* the full paths, while the listing is built */
	struct statrec *st;     /* each file's stat data */
	size_t n, cap[3], blocklen;
	size_t left;            /* files not stat'ed yet (walkq's lock) */
	size_t slot;            /* list_from_kept: its first slot */
};

/* Files a walk queues at a time, a thread stats at a time, and folders
 * read whose files are not all stat'ed yet (each an open descriptor; the
 * environment's PIPELINE_TEST_WALK_LINGER, for tests, sets another). */
#define WALK_CHUNK 4096
#define WALK_UNIT 256
#define WALK_LINGER 64

/* One thread stat'ing a walk's files; walker 0 is the walk's own. */
struct walker {
	struct walkq *q;
	pthread_t tid;
	uint64_t sum[2];        /* listing digest of the files it stat'ed */
	char *path;             /* a file's path, for the digest */
	size_t pathcap;
	int oom;                /* its path could not grow: the walk fails */
	int serr;               /* errno of the failed stat of spath */
	char *spath;            /* the first by path of the files it could
				   not stat (stat_failed), or NULL */
};

/*
 * The files a walk has found, waiting to be stat'ed.  The walk's thread
 * reads folders (getdents is a third of the kernel time of the listing on
 * the benchmark's folder of 96,736 files) and queues their files a batch
 * at a time; the other threads take WALK_UNIT files at a time in queue
 * order.  The walk's thread stats too: all along when it is alone, when
 * WALK_LINGER folders are waiting, and at the end.
 */
struct walkq {
	pthread_mutex_t mu;
	pthread_cond_t more;    /* a batch was queued, or the walk ended */
	pthread_cond_t done;    /* files were stat'ed */
	struct batch **b;       /* queued, in walk order */
	size_t nb, cap;
	size_t next, at;        /* the first file not taken: b[next], at */
	size_t pending;         /* files taken or not, not stat'ed yet */
	size_t untaken;         /* files not taken yet */
	size_t linger;          /* folders read, files pending */
	size_t max_linger;      /* WALK_LINGER */
	int ended;              /* the walk has queued its last batch */
	size_t rootlen;
	struct walker *w;
	size_t nw;              /* walkers running (the walk's included) */
	size_t maxw;            /* walkers at most: [run] threads */
};

static void batch_release(struct batch *b)
{
	strbuf_release(&b->names);
	pl_free((char *)b->dir);
	pl_free(b->off);
	pl_free(b->pathoff);
	pl_free(b->link);
	pl_free(b->ok);
	pl_free(b->st);
	pl_free(b);
}

/* Drop a reference to a folder (q->mu held); the last one closes it. */
static void dirref_drop(struct walkq *q, struct dirref *r, int reading_ended)
{
	if (--r->refs) {
		q->linger += reading_ended;
		return;
	}
	q->linger -= !reading_ended;
	closedir(r->d);
	pl_free(r);
}

/* The full path of b's file i into out, which holds b's pathoff[i + 1]
 * - pathoff[i] bytes (the path and its NUL). */
static void batch_path(const struct batch *b, size_t i, char *out)
{
	memcpy(out, b->dir, b->dirlen);
	out[b->dirlen] = '/';
	memcpy(out + b->dirlen + 1, b->names.buf + b->off[i],
	       b->pathoff[i + 1] - b->pathoff[i] - b->dirlen - 1);
}

/* fi (zeroed first) with the stat data sr, nothing cached. */
static void info_of(const struct statrec *sr, struct fileinfo *fi)
{
	memset(fi, 0, sizeof(*fi));
	fi->size = sr->size;
	fi->mtime_ns = sr->mtime_ns;
	fi->ctime_ns = sr->ctime_ns;
	fi->ino = sr->ino;
	fi->dev = sr->dev;
	fi->cached = fi->old = CACHE_NONE;
}

/* Does a failed stat with errno e mean there is no file to read?  One
 * gone since its folder was read (ENOENT, ENOTDIR), a dangling link
 * (ENOENT) or a loop of links (ELOOP) is not a file of the corpus.
 * Anything else, above all EACCES from a folder that can be listed but
 * not searched, would drop a file from the outputs without a word: the
 * walk fails instead, naming it. */
static int stat_gone(int e)
{
	return e == ENOENT || e == ENOTDIR || e == ELOOP;
}

/* The exit code of a stat that failed otherwise: 66 when the file may
 * not be looked at (EACCES, EPERM), 74 for an error of the system. */
static int stat_code(int e)
{
	return e == EACCES || e == EPERM ? PL_EX_NOINPUT : PL_EX_IOERR;
}

/* Record that file i of b could not be stat'ed (errno e): the walker
 * keeps the first such file by path, so that the error does not depend
 * on which thread met which file first. */
static void stat_failed(struct walker *w, struct batch *b, size_t i, int e)
{
	size_t need = b->pathoff[i + 1] - b->pathoff[i];
	char *copy;

	if (need > w->pathcap && pl_grow(&w->path, &w->pathcap, need, 1)) {
		w->oom = 1;
		return;
	}
	batch_path(b, i, w->path);
	if (w->spath && strcmp(w->path, w->spath) >= 0)
		return;
	if (!(copy = pl_strdup(w->path))) {
		w->oom = 1;
		return;
	}
	pl_free(w->spath);
	w->spath = copy;
	w->serr = e;
}

/* Stat files i0 .. i1 - 1 of b. */
static void stat_range(struct walker *w, struct batch *b, size_t i0, size_t i1)
{
	for (size_t i = i0; i < i1; i++) {
		size_t need = b->pathoff[i + 1] - b->pathoff[i];
		struct statrec *sr = &b->st[i];
		struct fileinfo fi;
		struct stat st;

		b->ok[i] = 0;
		if (fstatat(dirfd(b->ref->d), b->names.buf + b->off[i], &st,
			    b->link[i] ? 0 : AT_SYMLINK_NOFOLLOW) != 0) {
			if (!stat_gone(errno))
				stat_failed(w, b, i, errno);
			continue;
		}
		b->ok[i] = S_ISREG(st.st_mode);
		if (!b->ok[i])
			continue; /* a link to a folder, a FIFO, a device */
		sr->size = (uint64_t)st.st_size;
		sr->mtime_ns = cache_ts_ns(&st.st_mtim);
		sr->ctime_ns = cache_ts_ns(&st.st_ctim);
		sr->ino = (uint64_t)st.st_ino;
		sr->dev = (uint64_t)st.st_dev;
		if (need > w->pathcap && pl_grow(&w->path, &w->pathcap, need, 1)) {
			w->oom = 1;
			continue;
		}
		batch_path(b, i, w->path);
		info_of(sr, &fi);
		cache_listing_add(w->sum, w->path + w->q->rootlen, &fi);
	}
}

/* With q->mu held: stat the next WALK_UNIT files not taken, the lock
 * released meanwhile.  1 when it did, 0 when every file was taken. */
static int walkq_step(struct walkq *q, struct walker *w)
{
	struct batch *b;
	size_t i0, i1;

	while (q->next < q->nb && q->at == q->b[q->next]->n) {
		q->next++;
		q->at = 0;
	}
	if (q->next == q->nb)
		return 0;
	b = q->b[q->next];
	i0 = q->at;
	i1 = b->n - i0 < WALK_UNIT ? b->n : i0 + WALK_UNIT;
	q->at = i1;
	q->untaken -= i1 - i0;
	pthread_mutex_unlock(&q->mu);
	stat_range(w, b, i0, i1);
	pthread_mutex_lock(&q->mu);
	b->left -= i1 - i0;
	q->pending -= i1 - i0;
	if (!b->left) {
		dirref_drop(q, b->ref, 0);
		b->ref = NULL;
	}
	pthread_cond_broadcast(&q->done);
	return 1;
}

static void *walker_main(void *arg)
{
	struct walker *w = arg;
	struct walkq *q = w->q;

	pthread_mutex_lock(&q->mu);
	for (;;) {
		if (walkq_step(q, w))
			continue;
		if (q->ended)
			break;
		pthread_cond_wait(&q->more, &q->mu);
	}
	pthread_mutex_unlock(&q->mu);
	return NULL;
}

/* The walk's thread, between folders and batches: stat what is queued
 * when alone, and while WALK_LINGER folders are waiting. */
static void walkq_help(struct walkq *q)
{
	pthread_mutex_lock(&q->mu);
	for (;;) {
		int alone = q->nw == 1;

		if (!alone && q->linger < q->max_linger)
			break;
		if (walkq_step(q, &q->w[0]))
			continue;
		if (alone)
			break;
		pthread_cond_wait(&q->done, &q->mu);
	}
	pthread_mutex_unlock(&q->mu);
}

/*
 * Queue b's files (it holds a reference to its folder).  Helpers are
 * started, and woken, one per WALK_UNIT files not taken yet, up to [run]
 * threads: waking a thread costs more than stat'ing a few files, so the
 * files of small folders wait until there are a unit's worth of them, or
 * until the walking thread takes them itself (WALK_LINGER folders waiting,
 * or the end).  A corpus of 3,000 folders of one file each is walked as
 * fast as by one thread, and a folder of 96,736 files on every thread.
 * 0, or -1 when out of memory (b is released).
 */
static int walkq_add(struct walkq *q, struct batch *b)
{
	size_t want;
	int rc = 0;

	pthread_mutex_lock(&q->mu);
	if (pl_grow(&q->b, &q->cap, q->nb + 1, sizeof(*q->b))) {
		rc = -1;
	} else {
		b->ref->refs++;
		b->left = b->n;
		q->pending += b->n;
		q->untaken += b->n;
		q->b[q->nb++] = b;
		for (size_t u = WALK_UNIT; u <= q->untaken && u < q->nw * WALK_UNIT;
		     u += WALK_UNIT)
			pthread_cond_signal(&q->more);
	}
	want = q->untaken / WALK_UNIT;
	pthread_mutex_unlock(&q->mu);
	if (rc) {
		batch_release(b);
		return rc;
	}
	/* Only this thread starts helpers: nw changes under its hand alone.
	 * A helper that does not start leaves its share to the others. */
	while (q->nw < q->maxw && q->nw - 1 < want) {
		struct walker *w = &q->w[q->nw];

		if (pthread_create(&w->tid, NULL, walker_main, w) != 0) {
			q->maxw = q->nw;
			break;
		}
		pthread_mutex_lock(&q->mu);
		q->nw++;
		pthread_mutex_unlock(&q->mu);
	}
	walkq_help(q);
	return 0;
}

/* A new batch of the folder `dir` (ref): NULL when out of memory. */
static struct batch *batch_new(struct dirref *ref, const char *dir, size_t dirlen)
{
	struct batch *b = pl_calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	b->ref = ref;
	b->dirlen = dirlen;
	b->dir = pl_strdup(dir);
	if (!b->dir) {
		batch_release(b);
		return NULL;
	}
	return b;
}

/* Give b's files room for their stat data and queue them, or release an
 * empty b.  0, or -1 when out of memory. */
static int batch_queue(struct walkq *q, struct batch *b)
{
	if (!b->n) {
		batch_release(b);
		return 0;
	}
	b->ok = pl_malloc(b->n * sizeof(*b->ok));
	b->st = pl_malloc(b->n * sizeof(*b->st));
	if (!b->ok || !b->st) {
		batch_release(b);
		return -1;
	}
	return walkq_add(q, b);
}

void files_release_kept(struct files *f)
{
	for (size_t i = 0; i < f->nkept; i++)
		batch_release(f->kept[i]);
	pl_free(f->kept);
	f->kept = NULL;
	f->nkept = f->keptcap = 0;
}

/* Fill a share of the slots of list_from_kept: each file's full path and
 * stat data. */
static void slot_share(void *arg, size_t t, size_t nt)
{
	struct files *f = arg;
	size_t total = f->kept[f->nkept - 1]->slot + f->kept[f->nkept - 1]->n;
	size_t from = total * t / nt, to = total * (t + 1) / nt, k = 0;

	for (size_t s = from; s < to; s++) {
		struct batch *b;
		size_t i;

		while (s >= f->kept[k]->slot + f->kept[k]->n)
			k++;
		b = f->kept[k];
		i = s - b->slot;
		if (!b->ok[i])
			continue;
		f->path[s] = b->block + b->pathoff[i];
		batch_path(b, i, f->path[s]);
		info_of(&b->st[i], &f->info[s]);
	}
}

/* Below this many files the listing is built on the calling thread. */
#define SLOT_PARALLEL_MIN 2048

/* The listing from the batches a walk kept, without a system call; the
 * kept batches are given back.  0 or -1 (out of memory). */
static int list_from_kept(struct files *f, size_t nt)
{
	size_t total = 0, j = 0;
	int rc = 0;

	f->digest_only = 0;
	f->n = 0;
	for (size_t k = 0; k < f->nkept; k++) {
		struct batch *b = f->kept[k];

		b->slot = total;
		total += b->n;
		b->block = pl_malloc(b->blocklen);
		if (!b->block || files_own(f, b->block)) {
			rc = -1;
			break;
		}
		/* All of it is written next, by the slot threads: map it at
		 * once (a large folder's listing is megabytes of fresh
		 * memory). */
		pl_prefault(b->block, b->blocklen);
	}
	if (rc == 0 && total && files_reserve(f, total))
		rc = -1;
	if (rc == 0 && total) {
		pl_prefault(f->info, total * sizeof(*f->info));
		pl_prefault(f->path, total * sizeof(*f->path));
		pl_parallel(total < SLOT_PARALLEL_MIN ? 1 : nt, slot_share, f);
		/* Keep the slots of files, in walk order. */
		for (size_t k = 0; k < f->nkept; k++) {
			struct batch *b = f->kept[k];

			for (size_t i = 0; i < b->n; i++) {
				if (!b->ok[i])
					continue;
				f->info[j] = f->info[b->slot + i];
				f->path[j] = f->path[b->slot + i];
				f->bytes[j] = f->info[j].size; /* on disk, until read */
				f->rel[j] = NULL;              /* named in list_sort */
				j++;
			}
		}
		f->n = j;
	}
	files_release_kept(f);
	return rc;
}

/* Walk `path` (a folder under the root): queue its files on q a batch at
 * a time, and walk its folders. */
static int walk(struct walkq *q, struct files *f, struct strbuf *path, int depth,
		struct pl_error *err)
{
	struct batch *b = NULL;
	struct dirref *ref;
	size_t base = path->len;
	struct dirent *de;
	DIR *d;
	int rc = 0;

	if (depth > 64)
		return pl_fail(err, PL_EX_DATAERR, "%s: folders nested deeper than 64",
			       path->buf);
	d = opendir(path->buf);
	if (!d) {
		int e = errno;

		return pl_fail(err, pl_open_code(e), "%s: cannot open folder: %s%s",
			       path->buf, strerror(e), pl_open_hint(e));
	}
	ref = pl_malloc(sizeof(*ref));
	if (!ref) {
		closedir(d);
		return pl_oom(err);
	}
	ref->d = d;
	ref->refs = 1;
	for (;;) {
		struct stat st;
		size_t len;
		int named, type;

		errno = 0;
		de = readdir(d);
		if (!de) {
			if (errno)
				rc = pl_fail(err, PL_EX_IOERR, "%s: cannot list: %s",
					     path->buf, strerror(errno));
			break;
		}
		if (de->d_name[0] == '.')
			continue;
		named = pl_has_suffix(de->d_name, ".txt") || pl_has_suffix(de->d_name, ".txt.gz");
		type = de->d_type;
		if ((type == DT_REG || type == DT_LNK) && !named)
			continue;
		if (type == DT_UNKNOWN) {
			if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
				int e = errno;

				if (stat_gone(e))
					continue; /* vanished while we looked */
				rc = pl_fail(err, stat_code(e), "%s/%s: cannot stat: %s",
					     path->buf, de->d_name, strerror(e));
				break;
			}
			type = S_ISLNK(st.st_mode) ? DT_LNK : S_ISDIR(st.st_mode) ? DT_DIR :
			       S_ISREG(st.st_mode) ? DT_REG : DT_UNKNOWN;
			if (type == DT_UNKNOWN || ((type == DT_REG || type == DT_LNK) && !named))
				continue;
		}
		if (type == DT_DIR) {
			if (strbuf_addch(path, '/') || strbuf_addstr(path, de->d_name)) {
				rc = pl_oom(err);
				break;
			}
			rc = walk(q, f, path, depth + 1, err);
			path->len = base;
			path->buf[base] = '\0';
			if (rc)
				break;
			continue;
		}
		if (type != DT_REG && type != DT_LNK)
			continue;
		/* Files are stat'ed relative to the open folder, by the
		 * queue's threads. */
		len = strlen(de->d_name);
		if (!b && !(b = batch_new(ref, path->buf, base))) {
			rc = pl_oom(err);
			break;
		}
		if (pl_grow(&b->off, &b->cap[0], b->n + 1, sizeof(*b->off)) ||
		    pl_grow(&b->pathoff, &b->cap[1], b->n + 2, sizeof(*b->pathoff)) ||
		    pl_grow(&b->link, &b->cap[2], b->n + 1, sizeof(*b->link)) ||
		    strbuf_add(&b->names, de->d_name, len + 1)) {
			rc = pl_oom(err);
			break;
		}
		b->off[b->n] = b->names.len - len - 1;
		b->pathoff[b->n] = b->blocklen;
		b->blocklen += base + 1 + len + 1;
		b->pathoff[b->n + 1] = b->blocklen;
		/* A link is followed to a file, never to a folder. */
		b->link[b->n] = type == DT_LNK;
		if (++b->n == WALK_CHUNK) {
			struct batch *full = b;

			b = NULL;
			if (batch_queue(q, full)) {
				rc = pl_oom(err);
				break;
			}
		}
	}
	if (b && rc == 0 && batch_queue(q, b))
		rc = pl_oom(err);
	else if (b && rc)
		batch_release(b);
	pthread_mutex_lock(&q->mu);
	dirref_drop(q, ref, 1);
	pthread_mutex_unlock(&q->mu);
	walkq_help(q);
	return rc;
}

/* Walk the corpus from `path` (its root) on nt threads: f->kept gets the
 * batches, f->digest the listing's digest, f->n the files found. */
static int walk_all(struct files *f, struct strbuf *path, size_t nt, struct pl_error *err)
{
	struct walkq q = { .rootlen = f->rootlen, .nw = 1, .max_linger = WALK_LINGER };
	const char *linger = getenv("PIPELINE_TEST_WALK_LINGER");
	int rc;

	nt = nt < 1 ? 1 : nt > PL_MAX_THREADS ? PL_MAX_THREADS : nt;
	if (!(q.w = pl_calloc(nt, sizeof(*q.w))))
		return pl_oom(err);
	if (linger && atoi(linger) > 0)
		q.max_linger = (size_t)atoi(linger);
	pthread_mutex_init(&q.mu, NULL);
	pthread_cond_init(&q.more, NULL);
	pthread_cond_init(&q.done, NULL);
	for (size_t t = 0; t < nt; t++)
		q.w[t].q = &q;
	q.maxw = nt;
	rc = walk(&q, f, path, 0, err);
	pthread_mutex_lock(&q.mu);
	q.ended = 1;
	pthread_cond_broadcast(&q.more);
	while (walkq_step(&q, &q.w[0]))
		;
	while (q.pending)
		pthread_cond_wait(&q.done, &q.mu);
	pthread_mutex_unlock(&q.mu);
	for (size_t t = 1; t < q.nw; t++)
		pthread_join(q.w[t].tid, NULL);
	{
		struct walker *bad = NULL;

		for (size_t t = 0; t < q.nw; t++)
			if (q.w[t].spath && (!bad || strcmp(q.w[t].spath, bad->spath) < 0))
				bad = &q.w[t];
		if (bad && !rc)
			rc = pl_fail(err, stat_code(bad->serr), "%s: cannot stat: %s",
				     bad->spath, strerror(bad->serr));
	}
	for (size_t t = 0; t < q.nw; t++) {
		f->digest[0] += q.w[t].sum[0];
		f->digest[1] += q.w[t].sum[1];
		if (q.w[t].oom && !rc)
			rc = pl_oom(err);
		pl_free(q.w[t].path);
		pl_free(q.w[t].spath);
	}
	pthread_cond_destroy(&q.done);
	pthread_cond_destroy(&q.more);
	pthread_mutex_destroy(&q.mu);
	pl_free(q.w);
	f->kept = q.b;
	f->nkept = q.nb;
	f->keptcap = q.cap;
	if (rc) {
		files_release_kept(f);
		return rc;
	}
	for (size_t k = 0; k < f->nkept; k++)
		for (size_t i = 0; i < f->kept[k]->n; i++)
			f->n += f->kept[k]->ok[i];
	return 0;
}

static char **sort_paths;
static int cmp_ix(const void *a, const void *b)
{
	return strcmp(sort_paths[*(const size_t *)a], sort_paths[*(const size_t *)b]);
}

/* The relative name as the outputs show it: `rel` with every byte that is
 * not part of valid UTF-8 replaced by U+FFFD, since every output is UTF-8
 * (output/README.md) and a file name on Linux is any bytes.  Appended to sb
 * with its NUL; *same is 1 when that is `rel` itself.  0, or -1 when out
 * of memory. */
static int display_name(struct strbuf *sb, const char *rel, int *same)
{
	const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)rel;
	utf8proc_ssize_t left = (utf8proc_ssize_t)strlen(rel);

	*same = 1;
	while (left > 0) {
		utf8proc_int32_t cp;
		utf8proc_ssize_t n = *p < 0x80 ? 1 : utf8proc_iterate(p, left, &cp);

		if (n > 0 ? strbuf_add(sb, (const char *)p, (size_t)n)
			  : strbuf_addstr(sb, "\xEF\xBF\xBD"))
			return -1;
		*same &= n > 0;
		n = n > 0 ? n : 1;
		p += n;
		left -= n;
	}
	return strbuf_add(sb, "", 1);
}

/* List the corpus once, unsorted, with each file's stat data. */
int read_list(struct ctx *ctx, struct pl_error *err)
{
	struct files *f = &ctx->files;
	struct strbuf path = STRBUF_INIT;
	const char *root = ctx->cfg->v[CFG_corpus_dir].path;
	struct stat st;
	size_t nt;

	/* After a digest-only walk (run.c's quick check): its batches. */
	if (f->root && f->digest_only)
		return list_from_kept(f, (size_t)configured_threads(ctx)) ? pl_oom(err) : 0;
	if (f->root)
		return 0;
	if (stat(root, &st) != 0)
		return pl_fail(err, PL_EX_NOINPUT,
			       "%s: cannot open the corpus folder: %s (set [corpus] dir)",
			       root, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return pl_fail(err, PL_EX_NOINPUT,
			       "%s: [corpus] dir is not a folder", root);
	f->root = pl_strdup(root);
	if (!f->root || strbuf_addstr(&path, root))
		return pl_oom(err);
	while (path.len > 1 && path.buf[path.len - 1] == '/')
		path.buf[--path.len] = '\0';
	f->rootlen = path.len + 1;
	nt = (size_t)configured_threads(ctx);
	if (walk_all(f, &path, nt, err)) {
		strbuf_release(&path);
		return -1;
	}
	strbuf_release(&path);
	if (!f->digest_only && list_from_kept(f, nt))
		return pl_oom(err);
	if (f->n == 0)
		return pl_fail(err, PL_EX_NOINPUT,
			       "%s: no *.txt or *.txt.gz files in the corpus folder", root);
	return 0;
}

int read_list_digest(struct ctx *ctx, struct pl_error *err)
{
	ctx->files.digest_only = 1;
	return read_list(ctx, err);
}

/* Is s all ASCII? */
static int is_ascii(const char *s)
{
	while (*s && (unsigned char)*s < 0x80)
		s++;
	return *s == '\0';
}

/*
 * The paths copied into one block in file order, the walk's blocks given
 * back.  Every later pass over the files (matching the index, the
 * listing's digest, sources.tsv, the cache index) goes in file order,
 * and in the walk's order the strings lay scattered over its batches
 * (a folder's hash order): a cache miss per path per pass, which perf
 * showed as strlen in the index stage.  `len` has room for f->n sizes.
 * Called before rel[] points anywhere.  0 or -1 (out of memory; the
 * paths are untouched then).
 */
static int repack_paths(struct files *f, size_t *len)
{
	size_t bytes = 0;
	char *block, *p;

	for (size_t i = 0; i < f->n; i++) {
		len[i] = strlen(f->path[i]) + 1;
		bytes += len[i];
	}
	block = pl_malloc(bytes);
	if (!block || pl_grow(&f->block, &f->blockcap, 1, sizeof(*f->block))) {
		pl_free(block);
		return -1;
	}
	pl_prefault(block, bytes);
	p = block;
	for (size_t i = 0; i < f->n; i++) {
		memcpy(p, f->path[i], len[i]);
		f->path[i] = p;
		p += len[i];
	}
	/* Only the walk's batches are owned so far (list_from_kept). */
	for (size_t b = 0; b < f->nblock; b++)
		pl_free(f->block[b]);
	f->block[0] = block;
	f->nblock = 1;
	return 0;
}

/* Sort the listing by path relative to the root, and name each file as
 * the outputs show it. */
static int list_sort(struct ctx *ctx, struct pl_error *err)
{
	struct files *f = &ctx->files;
	struct strbuf name = STRBUF_INIT;
	size_t *ix = pl_malloc(f->n * sizeof(*ix));

	if (!ix)
		goto oom;
	for (size_t i = 0; i < f->n; i++)
		ix[i] = i;
	sort_paths = f->path;
	qsort(ix, f->n, sizeof(*ix), cmp_ix);
	/* Slot i takes what was at ix[i]: moved in place along the
	 * permutation's cycles (a copy of info[] would be megabytes of fresh
	 * memory for a large corpus), each slot marked done with ix[i] = i. */
	for (size_t i = 0; i < f->n; i++) {
		struct fileinfo info;
		char *path;
		size_t j = i;

		if (ix[i] == i)
			continue;
		info = f->info[i];
		path = f->path[i];
		while (ix[j] != i) {
			size_t from = ix[j];

			f->info[j] = f->info[from];
			f->path[j] = f->path[from];
			ix[j] = j;
			j = from;
		}
		f->info[j] = info;
		f->path[j] = path;
		ix[j] = j;
	}
	for (size_t i = 0; i < f->n; i++)
		f->bytes[i] = f->info[i].size;
	if (f->n && repack_paths(f, ix))
		goto oom;
	/* A name that is not valid UTF-8 is shown with U+FFFD. */
	for (size_t i = 0; i < f->n; i++) {
		int same;
		char *shown;

		f->rel[i] = f->path[i] + f->rootlen;
		if (is_ascii(f->rel[i]))
			continue;
		strbuf_reset(&name);
		if (display_name(&name, f->rel[i], &same))
			goto oom;
		if (same)
			continue;
		shown = pl_strdup(name.buf);
		if (!shown || files_own(f, shown))
			goto oom;
		f->rel[i] = shown;
	}
	pl_free(ix);
	strbuf_release(&name);
	return 0;
oom:
	pl_free(ix);
	strbuf_release(&name);
	return pl_oom(err);
}

/*
 * A file the cache knows whose stat data changed is hashed, to see whether
 * its content did.  A restore from a backup, a fresh checkout or a chown
 * -R changes every file's ctime, and then every file is hashed: 520 MB
 * took 0.98 s on one thread.  So they are hashed on the run's threads,
 * each taking a run of them in file order of about equal bytes; a thread
 * stops at its first failure, and the first failing run reports, which is
 * the first failing file, as one thread would have it.
 */
struct hash_job {
	struct files *f;
	const struct cache *c;   /* the files' fileinfo.old index into it */
	const uint32_t *idx;     /* the files to hash, in file order */
	uint64_t *size;          /* bytes hashed, per entry of idx */
	size_t bound[PL_MAX_THREADS + 1];
	size_t failed[PL_MAX_THREADS]; /* entry of idx, or SIZE_MAX */
	struct pl_error err[PL_MAX_THREADS];
};

static void hash_share(void *arg, size_t t, size_t nt)
{
	struct hash_job *job = arg;

	(void)nt;
	job->failed[t] = SIZE_MAX;
	for (size_t j = job->bound[t]; j < job->bound[t + 1]; j++) {
		size_t i = job->idx[j];
		struct fileinfo *fi = &job->f->info[i];

		/* Past its cached size a file has changed, whatever follows
		 * (and one that keeps growing must not keep this going). */
		fi->hashed_ns = cache_wall_ns();
		if (pl_hash_path(job->f->path[i], job->c->files[fi->old].size, fi->hash,
				 &job->size[j], &job->err[t])) {
			job->failed[t] = j;
			return;
		}
	}
}

/* Hash the n files idx[] names into their fileinfo, sizes into size[].
 * 0, or -1 with the first failing file's error. */
static int hash_files(struct ctx *ctx, const uint32_t *idx, size_t n,
		      uint64_t *size, struct pl_error *err)
{
	struct hash_job *job;
	uint64_t total = 0, acc = 0;
	size_t nt = (size_t)configured_threads(ctx), j = 0;
	int rc = 0;

	if (n == 0)
		return 0;
	job = pl_malloc(sizeof(*job));
	if (!job)
		return pl_oom(err);
	job->f = &ctx->files;
	job->c = ctx->cache;
	job->idx = idx;
	job->size = size;
	if (nt > n)
		nt = n;
	if (nt > PL_MAX_THREADS)
		nt = PL_MAX_THREADS;
	for (size_t k = 0; k < n; k++)
		total += ctx->files.info[idx[k]].size + 1;
	job->bound[0] = 0;
	for (size_t t = 0; t < nt; t++) {
		uint64_t goal = total / nt * (t + 1);

		while (j < n && (t == nt - 1 || acc < goal))
			acc += ctx->files.info[idx[j++]].size + 1;
		job->bound[t + 1] = j;
	}
	pl_parallel(nt, hash_share, job);
	for (size_t t = 0; t < nt; t++)
		if (job->failed[t] != SIZE_MAX) {
			*err = job->err[t];
			rc = -1;
			break;
		}
	pl_free(job);
	return rc;
}

/*
 * Which files a run must read.  A file whose path the cache knows is
 * unchanged when its content hash is the cached one.  Hashing every file
 * on every run would cost a read of the whole corpus, so the stat data
 * stands in for the hash when it proves the file untouched: same size,
 * mtime, ctime, inode and device, and a ctime at least a second older than
 * the moment the cached hash was taken.  ctime cannot be set by a user
 * (touch -d sets mtime, and moves ctime to now), and every write moves
 * it; the second guards against writes within the file system's timestamp
 * granularity of the hash (git's "racily clean" entries).  Anything else
 * is hashed.
 */
int read_plan(struct ctx *ctx, struct pl_error *err)
{
	struct cache *c = ctx->cache;
	struct files *f = &ctx->files;
	struct plan *p = &ctx->plan;
	uint8_t *seen = NULL;
	uint32_t *idx = NULL;
	uint64_t *size = NULL;
	uint64_t live = 0, dead;
	uint64_t limit = (uint64_t)ctx->cfg->v[CFG_corpus_max_file_mb].i << 20;
	size_t nhash = 0, h = 0;
	int rc = -1;

	if (p->done)
		return 0;
	if (read_list(ctx, err) || list_sort(ctx, err))
		return -1;
	/* A file larger on disk than max_file_mb stops a run when it is read,
	 * and one the cache holds would stop a fresh run: either way, here,
	 * so that status (which plans as a run does) says so too. */
	for (size_t i = 0; i < f->n; i++)
		if (f->info[i].size > limit)
			return too_large(f->path[i], limit, 0, err);
	p->done = 1;
	if (!c) {
		p->fresh = f->n;
		return 0;
	}
	seen = pl_calloc(c->nfiles ? c->nfiles : 1, 1);
	idx = pl_malloc((f->n ? f->n : 1) * sizeof(*idx));
	if (!seen || !idx) {
		rc = pl_oom(err);
		goto out;
	}
	/* First the files the cache knows, and which of them to hash.  Both
	 * lists are sorted by strcmp of the relative path (list_sort; the
	 * index is written so), so they are matched in one pass over each,
	 * not by a binary search per file, whose probes into the index miss
	 * the cache. */
	for (size_t i = 0, at = 0; i < f->n; i++) {
		struct fileinfo *fi = &f->info[i];
		const char *rel = f->path[i] + f->rootlen;
		const struct cache_file *cf = NULL;
		int d = 1;

		while (at < c->nfiles && (d = strcmp(c->files[at].rel, rel)) < 0)
			at++;
		if (at < c->nfiles && d == 0)
			cf = &c->files[at];
		fi->old = cf ? (uint32_t)(cf - c->files) : CACHE_NONE;
		if (!cf)
			continue;
		seen[fi->old] = 1;
		if (cf->size == fi->size && cf->mtime_ns == fi->mtime_ns &&
		    cf->ctime_ns == fi->ctime_ns && cf->ino == fi->ino &&
		    cf->dev == fi->dev && cache_ctime_settled(cf->ctime_ns, cf->hashed_ns))
			fi->hashed_ns = cf->hashed_ns;
		else
			idx[nhash++] = (uint32_t)i;
	}
	size = pl_malloc((nhash ? nhash : 1) * sizeof(*size));
	if (!size) {
		rc = pl_oom(err);
		goto out;
	}
	if (hash_files(ctx, idx, nhash, size, err))
		goto out;
	for (size_t i = 0; i < f->n; i++) {
		struct fileinfo *fi = &f->info[i];
		const struct cache_file *cf;
		int same = 1;

		if (fi->old == CACHE_NONE) {
			p->fresh++;
			continue;
		}
		cf = &c->files[fi->old];
		if (h < nhash && idx[h] == i) {
			same = size[h] == cf->size && memcmp(fi->hash, cf->hash, 16) == 0;
			fi->size = size[h++];
		}
		if (same) {
			memcpy(fi->hash, cf->hash, 16);
			fi->readlen = cf->readlen;
			/* A gzip file from an index that predates PLCIDX03: its
			 * inflated length is unknown (its record has its text's
			 * length, which differs for UTF-16), so it is read
			 * again, once, and the new index has it. */
			if (fi->readlen == READLEN_UNKNOWN) {
				f->bytes[i] = fi->size;
				p->same++;
				p->reread++;
				seen[fi->old] = 2; /* its record is superseded */
				continue;
			}
			/* Not read, but a fresh run would stop on it (on a
			 * gzip file's inflated length): so does this one, when
			 * max_file_mb was lowered since, not only when the
			 * summary happens to quote it. */
			if (fi->readlen > limit) {
				rc = too_large(f->path[i], limit, 1, err);
				goto out;
			}
			fi->cached = fi->old;
			f->bytes[i] = cf->len; /* what replaying costs, for balance */
			live += cache_weight(cf->readlen, cf->size);
			p->same++;
		} else {
			seen[fi->old] = 2;
			p->changed++;
		}
	}
	/* The records superseded: of the files removed, changed or read
	 * again, on top of those before (struct cache's dead). */
	dead = c->dead;
	for (size_t j = 0; j < c->nfiles; j++) {
		p->removed += !seen[j];
		if (seen[j] != 1)
			dead += cache_weight(c->files[j].readlen, c->files[j].size);
	}
	p->dead = dead;
	/* Mostly dead records, or segments of too many runs, or counts the
	 * config no longer makes (c->stale): read everything again, which
	 * writes one compact cache (term ids are kept all the same). */
	if ((p->same && cache_compact(live, dead, c->runs)) || c->stale) {
		p->rebuild = 1;
		p->reread = 0;
		for (size_t i = 0; i < f->n; i++)
			if (f->info[i].cached != CACHE_NONE) {
				f->info[i].cached = CACHE_NONE;
				f->bytes[i] = f->info[i].size;
			}
	}
	rc = 0;
out:
	pl_free(seen);
	pl_free(idx);
	pl_free(size);
	return rc;
}

/* The segments a run replays are mapped and checked on the run's
 * threads (cache_map_segment): which ones, and the error of each that
 * is not mapped after. */
struct segcheck {
	struct pl_error e;
	int want;    /* replayed, not mapped yet */
};

struct segcheck_job {
	struct cache *c;
	struct segcheck *sc;
};

static void check_share(void *arg, size_t t, size_t nt)
{
	struct segcheck_job *job = arg;

	for (size_t s = t; s < job->c->nsegs; s += nt)
		if (job->sc[s].want)
			(void)cache_map_segment(job->c, s, &job->sc[s].e); /* map or e */
}

int read_check_cache(struct ctx *ctx, struct pl_error *err)
{
	struct cache *c = ctx->cache;
	struct files *f = &ctx->files;
	struct plan *p = &ctx->plan;
	struct segcheck_job job = { c, NULL };
	size_t nwant = 0, nt;

	if (!c || !c->nsegs)
		return 0;
	/* A damaged segment costs a re-read of its files, never the run:
	 * check each one this run replays (its XXH64).  Hashing is most of
	 * it (118 MB on the 520 MB benchmark corpus), so the segments are
	 * shared out over the threads; what each one turned out to be is
	 * then dealt with in the order of the files, as one thread would. */
	job.sc = pl_calloc(c->nsegs, sizeof(*job.sc));
	if (!job.sc)
		return pl_oom(err);
	for (size_t i = 0; i < f->n; i++) {
		uint32_t cf = f->info[i].cached, s;

		if (cf == CACHE_NONE)
			continue;
		s = c->files[cf].seg;
		if (!job.sc[s].want && !c->segs[s].map) {
			job.sc[s].want = 1;
			nwant++;
		}
	}
	nt = (size_t)configured_threads(ctx);
	pl_parallel(nt < nwant ? nt : nwant, check_share, &job);
	for (size_t i = 0; i < f->n; i++) {
		struct fileinfo *fi = &f->info[i];
		struct pl_error *e;
		uint32_t s;

		if (fi->cached == CACHE_NONE)
			continue;
		s = c->files[fi->cached].seg;
		if (c->segs[s].map)
			continue;
		e = &job.sc[s].e;
		if (e->code == PL_EX_OSERR) {
			pl_fail(err, e->code, "%s", e->msg);
			pl_free(job.sc);
			return -1;
		}
		if (!ctx->quiet)
			fprintf(stderr, "pipeline: %s; reading its files again\n", e->msg);
		for (size_t j = i; j < f->n; j++)
			if (f->info[j].cached != CACHE_NONE &&
			    c->files[f->info[j].cached].seg == s) {
				const struct cache_file *cf = &c->files[f->info[j].cached];

				f->info[j].cached = CACHE_NONE;
				f->bytes[j] = f->info[j].size;
				p->same--;
				p->changed++;
				p->dead += cache_weight(cf->readlen, cf->size);
			}
	}
	pl_free(job.sc);
	return 0;
}

/* The size of a file not yet stat'ed. */
#define SIZE_UNKNOWN UINT64_MAX

/* Read a plain file into sb with read(2), whole, up to `limit` bytes.
 * `size` is its size when listed, or SIZE_UNKNOWN: then it is fstat'ed
 * here. */
#define SLURP_PREFAULT ((uint64_t)1 << 20)
static int slurp_plain(const char *path, uint64_t size, uint64_t limit,
		       struct strbuf *sb, struct pl_error *err)
{
	struct stat st;
	int fd, checked = size == SIZE_UNKNOWN;
	ssize_t n;

	/* A file of the listing is checked to be still a regular file
	 * only when it does not give the bytes it was listed with (a FIFO
	 * put in its place reads as empty, a device without end): an fstat
	 * per file is 0.13 s of CPU on the benchmark's full run. */
	fd = checked ? pl_open_file(path, &st, err) : pl_open_nowait(path, err);
	if (fd < 0)
		return -1;
	if (size == SIZE_UNKNOWN && st.st_size > 0)
		size = (uint64_t)st.st_size;
	/* Size the buffer once from the file's size when it is known, with
	 * a byte to spare (see below). */
	if (size != SIZE_UNKNOWN && size > 0 && size <= limit &&
	    pl_grow(&sb->buf, &sb->cap, (size_t)size + 2, 1)) {
		close(fd);
		return pl_oom(err);
	}
	/* A large file (the cache index: 21 MB on the benchmark) goes into
	 * memory mapped in one call rather than a fault per page as read()
	 * copies (pl_prefault); a statement's file is rarely this big. */
	if (size != SIZE_UNKNOWN && size >= SLURP_PREFAULT && size <= limit &&
	    sb->cap > sb->len)
		pl_prefault(sb->buf + sb->len, (size_t)size < sb->cap - sb->len ?
			    (size_t)size : sb->cap - sb->len);
	for (;;) {
		size_t want;

		if (pl_grow(&sb->buf, &sb->cap, sb->len + (1 << 16) + 1, 1)) {
			close(fd);
			return pl_oom(err);
		}
		want = sb->cap - sb->len - 1;
		n = read(fd, sb->buf + sb->len, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			pl_fail(err, PL_EX_IOERR, "%s: read error: %s", path,
				strerror(errno));
			close(fd);
			return -1;
		}
		if (n == 0)
			break;
		sb->len += (size_t)n;
		if (!checked && sb->len > size) {
			checked = 1;
			if (pl_check_regular(fd, path, &st, err)) {
				close(fd);
				return -1;
			}
		}
		if (sb->len > limit) {
			close(fd);
			return too_large(path, limit, 0, err);
		}
		/* A read of a regular file comes back short only at its
		 * end: one that gave all the size it was listed with and
		 * less than was asked is done, without a read to see the
		 * end (a syscall per file).  A file that grew since is
		 * read on, to its end; one that shrank sees its end. */
		if (sb->len == size && (size_t)n < want)
			break;
	}
	if (!checked && sb->len != size && pl_check_regular(fd, path, &st, err)) {
		close(fd);
		return -1;
	}
	close(fd);
	sb->buf[sb->len] = '\0';
	return 0;
}

/* Inflate the gzip file `in` (its bytes on disk) into sb, as gzread
 * would: members one after another, anything after the last member that
 * does not start another ignored.  0 or -1 (PL_EX_DATAERR: not gzip,
 * corrupt, truncated, or larger than `limit`; PL_EX_OSERR). */
static int inflate_gz(const char *path, const struct strbuf *in, uint64_t limit,
		      struct strbuf *sb, struct pl_error *err)
{
	const uint8_t *p = (const uint8_t *)in->buf;
	z_stream z;
	int zrc, rc = 0;

	/* zlib would pass a file that is not gzip through as it is; a
	 * *.txt.gz that is not gzip (or empty) is as corrupt as a damaged
	 * one. */
	if (in->len < 2 || p[0] != 0x1f || p[1] != 0x8b)
		return pl_fail(err, PL_EX_DATAERR,
			       "%s: not gzip data; rename it to *.txt if it is text", path);
	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
		return pl_oom(err);
	z.next_in = (Bytef *)p;
	z.avail_in = 0;
	for (size_t left = in->len;;) {
		size_t room;

		if (pl_grow(&sb->buf, &sb->cap, sb->len + (1 << 16) + 1, 1)) {
			rc = pl_oom(err);
			break;
		}
		/* (avail_in is 32 bits: a larger file goes in parts.) */
		if (z.avail_in == 0 && left) {
			z.avail_in = left > (1u << 30) ? 1u << 30 : (uInt)left;
			left -= z.avail_in;
		}
		/* 64 KiB at a time, so that a file over the limit (a
		 * decompression bomb) is stopped having written little past
		 * it, not the whole of a doubled buffer. */
		room = sb->cap - sb->len - 1;
		z.next_out = (Bytef *)sb->buf + sb->len;
		z.avail_out = room > (1u << 16) ? 1u << 16 : (uInt)room;
		room = z.avail_out;
		zrc = inflate(&z, Z_NO_FLUSH);
		sb->len += room - z.avail_out;
		if (sb->len > limit) {
			rc = too_large(path, limit, 1, err);
			break;
		}
		if (zrc == Z_STREAM_END) {
			/* Another member follows, or the end.  (The input is
			 * one block: next_in runs on past avail_in.) */
			if (z.avail_in + left < 2 || z.next_in[0] != 0x1f ||
			    z.next_in[1] != 0x8b)
				break;
			if (inflateReset(&z) != Z_OK) {
				rc = pl_oom(err);
				break;
			}
			continue;
		}
		if (zrc == Z_MEM_ERROR) {
			rc = pl_oom(err);
			break;
		}
		if (zrc == Z_BUF_ERROR && z.avail_in == 0 && left == 0) {
			rc = pl_fail(err, PL_EX_DATAERR, "%s: corrupt gzip data: %s", path,
				     "unexpected end of file");
			break;
		}
		if (zrc != Z_OK && zrc != Z_BUF_ERROR) {
			rc = pl_fail(err, PL_EX_DATAERR, "%s: corrupt gzip data: %s", path,
				     z.msg ? z.msg : "inflate failed");
			break;
		}
	}
	inflateEnd(&z);
	if (rc == 0)
		sb->buf[sb->len] = '\0';
	return rc;
}

/* read_file_bytes, for a file listed with `size` bytes (the stat data of
 * the listing: a plain file needs no fstat).  A gzip file is read whole
 * into `raw` (its bytes on disk, kept for the caller to hash: one read
 * gives both, so the hash is of the very bytes counted) and inflated from
 * there. */
static int read_listed_file(const char *path, uint64_t size, uint64_t limit,
			    struct strbuf *sb, struct strbuf *raw,
			    struct pl_error *err)
{
	strbuf_reset(sb);
	if (!pl_has_suffix(path, ".gz"))
		return slurp_plain(path, size, limit, sb, err);
	strbuf_reset(raw);
	if (slurp_plain(path, size, limit, raw, err))
		return -1;
	return inflate_gz(path, raw, limit, sb, err);
}

int read_file_bytes(const char *path, uint64_t limit, struct strbuf *sb,
		    struct pl_error *err)
{
	struct strbuf raw = STRBUF_INIT;
	int rc = read_listed_file(path, SIZE_UNKNOWN, limit, sb, &raw, err);

	strbuf_release(&raw);
	return rc;
}

/*
 * What the statements of a file are read from: its bytes as UTF-8 text.
 * A file that starts with a UTF-16 byte-order mark (FF FE little-endian,
 * FE FF big-endian: what Windows tools write as "Unicode" text) is
 * decoded to UTF-8; an unpaired surrogate or an odd last byte becomes
 * U+FFFD and its bytes count as invalid.  Then a NUL byte among the first
 * TEXT_PROBE bytes marks the file as no text at all (an executable, a
 * PDF, an image, text in UTF-16 or UTF-32 without a mark: git's test for
 * binary files): PL_EX_DATAERR naming the file, rather than a cluster of
 * byte soup.  A NUL further on is read as a separator, as before.
 * `text` holds the bytes (its hash is taken before: the bytes on disk),
 * `tmp` is scratch; *invalid counts the replaced bytes.  0 or -1.
 */
#define TEXT_PROBE 8192

static int utf16_to_utf8(const unsigned char *p, size_t n, int be,
			 struct strbuf *out, uint64_t *invalid)
{
	size_t i = 0, o = 0;
	char *q;

	/* 3 bytes per unit at most (a pair of 2 units makes 4) */
	if (pl_grow(&out->buf, &out->cap, 3 * (n / 2) + 4, 1))
		return -1;
	q = out->buf;
	while (i + 2 <= n) {
		uint32_t c = be ? (uint32_t)p[i] << 8 | p[i + 1] : (uint32_t)p[i + 1] << 8 | p[i];

		i += 2;
		if (c >= 0xD800 && c <= 0xDBFF && i + 2 <= n) {
			uint32_t d = be ? (uint32_t)p[i] << 8 | p[i + 1]
					: (uint32_t)p[i + 1] << 8 | p[i];

			if (d >= 0xDC00 && d <= 0xDFFF) {
				c = 0x10000 + ((c - 0xD800) << 10) + (d - 0xDC00);
				i += 2;
			}
		}
		if (c >= 0xD800 && c <= 0xDFFF) {
			c = 0xFFFD; /* a surrogate left unpaired */
			*invalid += 2;
		}
		if (c < 0x80) {
			q[o++] = (char)c;
		} else if (c < 0x800) {
			q[o++] = (char)(0xC0 | c >> 6);
			q[o++] = (char)(0x80 | (c & 0x3F));
		} else if (c < 0x10000) {
			q[o++] = (char)(0xE0 | c >> 12);
			q[o++] = (char)(0x80 | (c >> 6 & 0x3F));
			q[o++] = (char)(0x80 | (c & 0x3F));
		} else {
			q[o++] = (char)(0xF0 | c >> 18);
			q[o++] = (char)(0x80 | (c >> 12 & 0x3F));
			q[o++] = (char)(0x80 | (c >> 6 & 0x3F));
			q[o++] = (char)(0x80 | (c & 0x3F));
		}
	}
	if (i < n) { /* an odd byte at the end */
		memcpy(q + o, "\xEF\xBF\xBD", 3);
		o += 3;
		*invalid += 1;
	}
	q[o] = '\0';
	out->len = o;
	return 0;
}

static int as_text(const char *path, struct strbuf *text, struct strbuf *tmp,
		   uint64_t *invalid, struct pl_error *err)
{
	const unsigned char *p = (const unsigned char *)text->buf;
	const char *how = "";
	const void *nul;

	if (text->len >= 4 && ((p[0] == 0xFF && p[1] == 0xFE && p[2] == 0 && p[3] == 0) ||
			       (p[0] == 0 && p[1] == 0 && p[2] == 0xFE && p[3] == 0xFF)))
		return pl_fail(err, PL_EX_DATAERR, "%s: UTF-32 text (its byte-order mark "
			       "says so) is not read; convert it to UTF-8", path);
	if (text->len >= 2 && ((p[0] == 0xFF && p[1] == 0xFE) || (p[0] == 0xFE && p[1] == 0xFF))) {
		struct strbuf t;

		strbuf_reset(tmp);
		if (utf16_to_utf8(p + 2, text->len - 2, p[0] == 0xFE, tmp, invalid))
			return pl_oom(err);
		t = *text;
		*text = *tmp;
		*tmp = t;
		how = " once decoded from UTF-16";
	}
	nul = text->len ? memchr(text->buf, 0, text->len < TEXT_PROBE ? text->len : TEXT_PROBE)
			: NULL;
	if (nul)
		return pl_fail(err, PL_EX_DATAERR, "%s: not text: a NUL byte at byte %zu of "
			       "its text%s (a binary file, or UTF-16 or UTF-32 text without "
			       "a byte-order mark); convert it to UTF-8 or move it out of "
			       "the corpus", path, (size_t)((const char *)nul - text->buf) + 1,
			       how);
	return 0;
}

static int is_blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\f' &&
		    s[i] != '\v')
			return 0;
	return 1;
}

/*
 * A line longer than BOILERPLATE_LINE_MAX bytes is never boilerplate.
 * Boilerplate is page furniture (a credit, a share button, a copyright
 * line): short lines.  A longer one is text, often a whole scraped page on
 * one line, and dropping it because a pattern matches somewhere inside
 * would drop the statement.  It also bounds the time: regexec tries a
 * pattern from each position of the line, and one such as "Photo: .*Getty
 * Images" on a 1 MiB line with a caption every 150 bytes took 23 s (a
 * helper's measure; 5.7 s at 512 KiB: quadratic), so a 100 MB line would
 * have held the lock for days.  Up to this length the cost of a line is
 * bounded by a constant times its length.
 */
#define BOILERPLATE_LINE_MAX 4096

static int is_boilerplate(const struct reader *r, char *line, size_t len)
{
	char save;
	int hit = 0;

	if (!r->nre || len > BOILERPLATE_LINE_MAX)
		return 0;
	save = line[len];
	line[len] = '\0';
	for (size_t i = 0; i < r->nre && !hit; i++)
		hit = regexec(&r->re[i], line, 0, NULL, 0) == 0;
	line[len] = save;
	return hit;
}

/* Called for each statement of a file: (ctx, arg, text, len, para, line). */
typedef int (*unit_fn)(struct ctx *, void *, const char *, size_t, uint32_t,
		       uint32_t, struct pl_error *);

/* Cut the bytes of the current file (in r->file) into statements. */
static int split_units(struct ctx *ctx, unit_fn fn, void *arg,
		       struct pl_error *err)
{
	struct reader *r = reader_of(ctx);
	int paragraphs = ctx->cfg->v[CFG_corpus_unit].i == 1;
	char *p = r->file.buf, *end = r->file.buf + r->file.len;
	uint32_t lineno = 0, para = 0, start_line = 0;
	int in_para = 0;

	strbuf_reset(&r->unit);
	while (p < end || in_para) {
		char *nl = p < end ? memchr(p, '\n', (size_t)(end - p)) : NULL;
		size_t len = p < end ? (size_t)((nl ? nl : end) - p) : 0;
		int eof = p >= end;
		int blank;

		if (!eof)
			lineno++;
		if (len && p[len - 1] == '\r')
			len--;
		blank = eof || is_blank(p, len);
		if (!blank && !in_para) {
			in_para = 1;
			para++;
			if (paragraphs)
				start_line = 0;
		}
		if (!blank) {
			if (is_boilerplate(r, p, len)) {
				ctx->rep.boilerplate_lines++;
			} else {
				if (!start_line)
					start_line = lineno;
				if ((r->unit.len && strbuf_addch(&r->unit, '\n')) ||
				    strbuf_add(&r->unit, p, len))
					return pl_oom(err);
			}
		}
		if (paragraphs && blank && in_para) {
			in_para = 0;
			if (r->unit.len && fn(ctx, arg, r->unit.buf, r->unit.len,
					      para, start_line, err))
				return -1;
			strbuf_reset(&r->unit);
		}
		if (eof)
			break;
		p = nl ? nl + 1 : end;
	}
	if (!paragraphs) {
		/* Every file is one statement, even an empty one. */
		if (fn(ctx, arg, r->unit.buf ? r->unit.buf : "", r->unit.len, 0,
		       start_line ? start_line : 1, err))
			return -1;
	}
	return 0;
}

int units_add(struct ctx *ctx, uint32_t file, uint32_t para, uint32_t line)
{
	struct units *u = &ctx->units;

	if (u->n >= UINT32_MAX - 1)
		return -1;
	if (u->n == u->cap) {
		size_t c1 = u->cap, c2 = u->cap, c3 = u->cap, c4 = u->cap, c5 = u->cap;

		if (pl_grow(&u->file, &c1, u->n + 1, sizeof(*u->file)) ||
		    pl_grow(&u->para, &c2, u->n + 1, sizeof(*u->para)) ||
		    pl_grow(&u->line, &c3, u->n + 1, sizeof(*u->line)) ||
		    pl_grow(&u->ntok, &c4, u->n + 1, sizeof(*u->ntok)) ||
		    pl_grow(&u->hash, &c5, u->n + 1, sizeof(*u->hash)))
			return -1;
		u->cap = c1 < c2 ? c1 : c2;
		u->cap = u->cap < c3 ? u->cap : c3;
		u->cap = u->cap < c4 ? u->cap : c4;
		u->cap = u->cap < c5 ? u->cap : c5;
	}
	u->file[u->n] = file;
	u->para[u->n] = para;
	u->line[u->n] = line;
	u->ntok[u->n] = 0;
	u->hash[u->n] = 0;
	u->n++;
	return 0;
}

/* The per-statement callback of a run: record it and analyse it. */
static int on_unit(struct ctx *ctx, void *arg, const char *text, size_t len,
		   uint32_t para, uint32_t line, struct pl_error *err)
{
	struct unit *u = arg;

	if (units_add(ctx, u->file, para, line))
		return pl_oom(err);
	u->id = (uint32_t)ctx->units.n - 1;
	ctx->units.hash[u->id] = XXH3_64bits(text, len);
	u->text = text;
	u->len = len;
	u->para = para;
	u->line = line;
	u->counted = 1;
	u->tok.n = 0;
	return stages_unit(ctx, u, err);
}

static int load_boilerplate(struct reader *r, const char *path,
			    struct pl_error *err)
{
	const char *why;
	int code;
	FILE *fp = pl_fopen_small(path, PL_LIST_MAX, PL_EX_DATAERR, &why, &code);
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int lineno = 0, rc = 0;

	if (!fp)
		return pl_fail(err, code, "%s: cannot read the [corpus] boilerplate file: %s",
			       path, why);
	while ((n = getline(&line, &cap, fp)) >= 0) {
		int e;

		lineno++;
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (n == 0 || line[0] == '#')
			continue;
		if (pl_grow(&r->re, &r->recap, r->nre + 1, sizeof(*r->re))) {
			rc = pl_oom(err);
			break;
		}
		e = regcomp(&r->re[r->nre], line, REG_EXTENDED | REG_NOSUB);
		if (e) {
			char msg[256];

			regerror(e, &r->re[r->nre], msg, sizeof(msg));
			rc = pl_fail(err, PL_EX_CONFIG, "%s:%d: bad pattern '%s': %s",
				     path, lineno, line, msg);
			break;
		}
		r->nre++;
	}
	free(line);
	fclose(fp);
	return rc;
}

static void read_release(struct ctx *ctx)
{
	struct reader *r = reader_of(ctx);

	if (r) {
		cache_seg_abandon(r->seg);
		cache_maps_free(r->maps);
		for (size_t i = 0; i < r->nre; i++)
			regfree(&r->re[i]);
		pl_free(r->re);
		strbuf_release(&r->file);
		strbuf_release(&r->raw);
		strbuf_release(&r->unit);
		pl_free(r);
		ctx->reader = NULL;
	}
	files_release(&ctx->files);
	units_release(&ctx->units);
}

static int read_init(struct ctx *ctx, struct pl_error *err)
{
	struct reader *r = pl_calloc(1, sizeof(*r));
	const char *bp = ctx->cfg->v[CFG_corpus_boilerplate].path;

	if (!r)
		return pl_oom(err);
	r->prog = &r->own;
	ctx->reader = r;
	if (bp && load_boilerplate(r, bp, err))
		return -1;
	return 0;
}

/* Read files [a, b) of `files` into ctx: cut them into statements and run
 * the later stages' unit hooks on each.  ctx is the main context or, with
 * several threads, a shard with its own tables. */
static int read_range(struct ctx *ctx, struct files *files, size_t a, size_t b,
		      struct pl_error *err)
{
	struct reader *r = reader_of(ctx);
	uint64_t limit = (uint64_t)ctx->cfg->v[CFG_corpus_max_file_mb].i << 20;
	struct unit u = { 0 };
	int rc = 0;

	for (size_t i = a; i < b && rc == 0; i++) {
		struct fileinfo *fi = &files->info[i];
		struct report before;
		size_t unit0 = ctx->units.n;

		if (fi->cached != CACHE_NONE) {
			rc = cache_replay(ctx, ctx->cache, &r->maps, fi->cached,
					  (uint32_t)i, &files->bytes[i], err);
			if (rc)
				break;
			goto progress;
		}
		before = ctx->rep;
		if (r->seg)
			vocabulary_file_begin(ctx);
		fi->hashed_ns = cache_wall_ns();
		rc = read_listed_file(files->path[i], fi->size, limit, &r->file,
				      &r->raw, err);
		if (rc)
			break;
		fi->readlen = r->file.len;
		/* The content hash of what was read: the bytes themselves, or
		 * for gzip the bytes on disk they were inflated from. */
		if (pl_has_suffix(files->path[i], ".gz")) {
			pl_hash_bytes(r->raw.buf, r->raw.len, fi->hash);
			fi->size = r->raw.len;
		} else {
			pl_hash_bytes(r->file.buf, r->file.len, fi->hash);
			fi->size = r->file.len;
		}
		rc = as_text(files->path[i], &r->file, &r->raw, &ctx->rep.invalid_bytes, err);
		if (rc)
			break;
		files->bytes[i] = r->file.len;
		ctx->rep.bytes += r->file.len;
		u.file = (uint32_t)i;
		rc = split_units(ctx, on_unit, &u, err);
		if (rc == 0 && r->seg) {
			struct report d = ctx->rep;

			d.bytes -= before.bytes;
			d.tokens -= before.tokens;
			d.invalid_bytes -= before.invalid_bytes;
			d.long_tokens -= before.long_tokens;
			d.boilerplate_lines -= before.boilerplate_lines;
			rc = cache_seg_record(r->seg, ctx, fi, unit0, &d, err);
		}
progress:
		atomic_fetch_add(&r->prog->files, 1);
		atomic_fetch_add(&r->prog->bytes, files->bytes[i]);
		if (ctx->progress && (i + 1 == b || (i & 63) == 0)) {
			struct progress *pg = r->prog;
			double dt = pl_now() - pg->t0;
			double mb = (double)atomic_load(&pg->bytes) / 1e6;

			fprintf(stderr, "\rread: %zu/%zu files, %.1f MB, %.1f MB/s   ",
				atomic_load(&pg->files), pg->total, mb,
				dt > 0 ? mb / dt : 0.0);
		}
	}
	tokens_release(&u.tok);
	strbuf_release(&r->file);
	strbuf_release(&r->raw);
	return rc;
}

/* The cached terms first, in their id order, so that every ctx gives them
 * the same ids and new terms come after.  Each ctx does this on the thread
 * that reads its files (0.1 s each for a large corpus).  0 or -1. */
static int ctx_preload(struct ctx *ctx, struct pl_error *err)
{
	int rc;

	if (!ctx->cache)
		return 0;
	rc = vocabulary_preload(ctx, &ctx->cache->terms, ctx->cache->term_kind);
	if (rc == -2)
		return pl_fail(err, PL_EX_DATAERR, "%s/cache.idx: a term is listed twice",
			       ctx->cache->set);
	return rc ? pl_oom(err) : 0;
}

/*
 * Threads.  The files are cut into one contiguous run per thread, balanced
 * by size; each thread analyses its run in a shard: a ctx of its own, set
 * up by the same stage inits as the main one, so the ids of everything the
 * config defines agree.  The shards are then merged into the main ctx in
 * file order (stems, surfaces, terms, rows, statements), which hands out
 * every id exactly as one pass over all the files would: the outputs are
 * byte-identical whatever the thread count (tests/cli.sh checks 1, 2, 3).
 */
struct shard {
	struct ctx ctx;
	struct files *files;
	size_t a, b;
	struct pl_error err;
	int rc;
	pthread_t tid;
	int started;
};

/* A shard's thread: read its files, then finish its cache segment. */
static void *shard_main(void *arg)
{
	struct shard *sh = arg;
	struct reader *r = sh->ctx.reader;

	sh->rc = ctx_preload(&sh->ctx, &sh->err);
	if (sh->rc == 0)
		sh->rc = read_range(&sh->ctx, sh->files, sh->a, sh->b, &sh->err);
	if (r->seg) {
		struct segwriter *w = r->seg;

		r->seg = NULL;
		if (sh->rc == 0)
			sh->rc = cache_seg_close(w, &sh->ctx, &sh->err);
		else
			cache_seg_abandon(w);
	}
	return NULL;
}

static int merge_shard(struct ctx *ctx, struct shard *sh, struct pl_error *err)
{
	struct ctx *src = &sh->ctx;
	struct units *ud = &ctx->units, *us = &src->units;
	uint32_t *map_stem, *map_surf, *term_stem;
	int rc = -1;

	map_stem = pl_malloc((src->stems.tab.n + 1) * sizeof(*map_stem));
	map_surf = pl_malloc((src->surf.tab.n + 1) * sizeof(*map_surf));
	term_stem = pl_malloc((src->vocab.tab.n + 1) * sizeof(*term_stem));
	if (!map_stem || !map_surf || !term_stem ||
	    stems_merge(&ctx->stems, &src->stems, map_stem) ||
	    surfaces_merge(&ctx->surf, &src->surf, map_stem, map_surf)) {
		rc = pl_oom(err);
		goto out;
	}
	/* A term is named by its stem: the merged stem of each of the
	 * shard's terms, so its terms need no lookup by name. */
	for (size_t t = 0; t < src->vocab.tab.n; t++)
		term_stem[t] = ID_NONE;
	for (size_t s = 0; s < src->stems.tab.n; s++)
		if (src->stems.term[s] != ID_NONE)
			term_stem[src->stems.term[s]] = map_stem[s];
	/* The maps are what the rest of the merge reads: the shard's stems
	 * and surfaces go before its rows are copied (vocabulary_merge gives
	 * back its terms likewise), so they and the merged tables are not
	 * all held at the merge's fullest. */
	stems_release(&src->stems);
	surfaces_release(&src->surf);
	if (vocabulary_merge(ctx, src, map_surf, term_stem, err))
		goto out;
	for (size_t i = 0; i < us->n; i++) {
		if (units_add(ctx, us->file[i], us->para[i], us->line[i])) {
			rc = pl_oom(err);
			goto out;
		}
		ud->ntok[ud->n - 1] = us->ntok[i];
		ud->hash[ud->n - 1] = us->hash[i];
	}
	ctx->rep.bytes += src->rep.bytes;
	ctx->rep.tokens += src->rep.tokens;
	ctx->rep.invalid_bytes += src->rep.invalid_bytes;
	ctx->rep.long_tokens += src->rep.long_tokens;
	ctx->rep.boilerplate_lines += src->rep.boilerplate_lines;
	for (size_t i = 0; i < sizeof(ctx->rep.seconds) / sizeof(ctx->rep.seconds[0]); i++)
		if (i != 0)
			ctx->rep.seconds[i] += src->rep.seconds[i];
	rc = 0;
out:
	pl_free(map_stem);
	pl_free(map_surf);
	pl_free(term_stem);
	return rc;
}

/* Read threads: the configured ones, no more than there are files. */
static long thread_count(const struct ctx *ctx)
{
	long n = configured_threads(ctx);

	if ((size_t)n > ctx->files.n)
		n = (long)ctx->files.n;
	return n < 1 ? 1 : n;
}

/* Does the run write a cache for the next one? */
static int writes_cache(const struct ctx *ctx)
{
	return ctx->cfg->v[CFG_output_incremental].i == 0 && ctx->run_id;
}

/* Set a ctx up for the cache (ctx_preload is still to run), and open a
 * segment writer when files [a, b) include one to read.  0 or -1. */
static int ctx_cache(struct ctx *main, struct ctx *ctx, size_t a, size_t b,
		     int n, struct pl_error *err)
{
	struct reader *r = reader_of(ctx);
	size_t i = a;

	ctx->cache = main->cache;
	while (i < b && main->files.info[i].cached != CACHE_NONE)
		i++;
	if (i < b && writes_cache(main))
		return cache_seg_open(main, &r->seg, n, err);
	return 0;
}

/* What reading file i costs, for sharing the files out: its bytes, and a
 * file to tokenize costs FRESH_COST times what a record of as many bytes
 * costs to replay.  On the benchmark's rerun the thread with the 967 new
 * files (5 MB, 0.1 s to tokenize) ran 0.07 s longer than the other with
 * bytes counted alike; a full run reads every file alike either way. */
#define FRESH_COST 4

static uint64_t read_cost(const struct files *f, size_t i)
{
	return (f->info[i].cached == CACHE_NONE ? FRESH_COST : 1) * f->bytes[i] + 1;
}

/* The first share of the files is read by the calling thread into ctx
 * itself (the main ctx, so its ids need no mapping); every other share in
 * a shard on a thread of its own, merged into ctx afterwards in file
 * order. */
static int read_threads(struct ctx *ctx, long n, struct pl_error *err)
{
	struct shard *sh = pl_calloc((size_t)n, sizeof(*sh));
	struct reader *r = reader_of(ctx);
	uint64_t total = 0, acc = 0;
	size_t next = 0;
	int rc = 0;

	if (!sh)
		return pl_oom(err);
	for (size_t i = 0; i < ctx->files.n; i++)
		total += read_cost(&ctx->files, i);
	for (long t = 0; t < n; t++) {
		/* Files up to the t+1-th equal share of the cost. */
		uint64_t goal = total / (uint64_t)n * (uint64_t)(t + 1);

		sh[t].a = next;
		for (; next < ctx->files.n; next++) {
			uint64_t cost = read_cost(&ctx->files, next);

			if (t < n - 1 && acc + cost > goal && next > sh[t].a)
				break;
			acc += cost;
		}
		sh[t].b = next;
		sh[t].files = &ctx->files;
	}
	/* Every ctx is set up, and its segment opened (in file order: the
	 * segments' registry grows as they open), before a thread starts. */
	rc = ctx_cache(ctx, ctx, sh[0].a, sh[0].b, 0, err);
	for (long t = 1; t < n && rc == 0; t++) {
		ctx_init(&sh[t].ctx, ctx->cfg);
		if (ctx_prepare(&sh[t].ctx, err) ||
		    ctx_cache(ctx, &sh[t].ctx, sh[t].a, sh[t].b, (int)t, err)) {
			rc = -1;
			break;
		}
		sh[t].ctx.stage = ctx->stage;
		sh[t].ctx.reader->prog = r->prog;
	}
	for (long t = 1; t < n && rc == 0; t++) {
		if (pthread_create(&sh[t].tid, NULL, shard_main, &sh[t]) != 0) {
			rc = pl_fail(err, PL_EX_OSERR, "cannot start a thread");
			break;
		}
		sh[t].started = 1;
	}
	if (rc == 0)
		rc = ctx_preload(ctx, err);
	if (rc == 0)
		rc = read_range(ctx, &ctx->files, sh[0].a, sh[0].b, err);
	if (rc == 0 && r->seg) {
		struct segwriter *w = r->seg;

		r->seg = NULL;
		rc = cache_seg_close(w, ctx, err);
	}
	for (long t = 1; t < n; t++)
		if (sh[t].started)
			pthread_join(sh[t].tid, NULL);
	/* The first failing share in file order reports. */
	for (long t = 1; t < n && rc == 0; t++)
		if (sh[t].started && sh[t].rc) {
			*err = sh[t].err;
			rc = -1;
		}
	for (long t = 1; t < n; t++) {
		if (rc == 0 && merge_shard(ctx, &sh[t], err))
			rc = -1;
		ctx_release(&sh[t].ctx);
	}
	pl_free(sh);
	if (rc == 0 && ctx->progress)
		fprintf(stderr, "\rread: %zu files, %.1f MB, %.1f s, %ld threads   \n",
			ctx->files.n, (double)ctx->rep.bytes / 1e6,
			pl_now() - r->prog->t0, n);
	return rc;
}

static int read_run(struct ctx *ctx, struct pl_error *err)
{
	struct reader *r = reader_of(ctx);
	long n;
	int rc;

	if (read_plan(ctx, err))
		return -1;
	n = thread_count(ctx);
	ctx->rep.threads = n;
	r->prog->total = ctx->files.n;
	r->prog->t0 = pl_now();
	/* ctx_run has checked the segments already; this maps nothing
	 * then, and checks them when the stage runs on its own. */
	if (read_check_cache(ctx, err))
		return -1;
	if (n == 1) {
		struct segwriter *w;

		if (ctx_cache(ctx, ctx, 0, ctx->files.n, 0, err) ||
		    ctx_preload(ctx, err) ||
		    read_range(ctx, &ctx->files, 0, ctx->files.n, err))
			return -1;
		w = r->seg;
		r->seg = NULL;
		if (ctx->progress)
			fprintf(stderr, "\rread: %zu files, %.1f MB, %.1f s   \n",
				ctx->files.n, (double)ctx->rep.bytes / 1e6,
				pl_now() - r->prog->t0);
		rc = w ? cache_seg_close(w, ctx, err) : 0;
	} else {
		rc = read_threads(ctx, n, err);
	}
	/* Every record is replayed (into the run's own tables). */
	cache_unmap_segments(ctx->cache);
	return rc;
}

/* Snippet lookup: keep the text of the statement whose paragraph matches. */
struct find {
	uint32_t para;
	char *text;
	size_t len;
};

static int on_find(struct ctx *ctx, void *arg, const char *text, size_t len,
		   uint32_t para, uint32_t line, struct pl_error *err)
{
	struct find *f = arg;

	(void)ctx;
	(void)line;
	if (f->text || para != f->para)
		return 0;
	f->text = pl_strndup(text, len);
	f->len = len;
	return f->text ? 0 : pl_oom(err);
}

int read_unit_text(struct ctx *ctx, uint32_t id, char **text, size_t *len,
		   struct pl_error *err)
{
	struct reader *r = reader_of(ctx);
	uint64_t limit = (uint64_t)ctx->cfg->v[CFG_corpus_max_file_mb].i << 20;
	struct find f = { 0 };
	uint32_t fi;
	uint64_t before = ctx->rep.boilerplate_lines, invalid = 0;
	int rc;

	*text = NULL;
	*len = 0;
	if (!r || id >= ctx->units.n)
		return pl_fail(err, PL_EX_SOFTWARE, "unit %u: no such statement", id + 1);
	fi = ctx->units.file[id];
	f.para = ctx->units.para[id];
	rc = read_file_bytes(ctx->files.path[fi], limit, &r->file, err);
	if (rc == 0)
		rc = as_text(ctx->files.path[fi], &r->file, &r->raw, &invalid, err);
	if (rc == 0)
		rc = split_units(ctx, on_find, &f, err);
	ctx->rep.boilerplate_lines = before; /* counted once, by the run */
	strbuf_release(&r->file);
	strbuf_release(&r->raw);
	if (rc) {
		pl_free(f.text);
		return -1;
	}
	if (!f.text)
		return pl_fail(err, PL_EX_IOERR,
			       "%s: statement %u changed while the run read it",
			       ctx->files.path[fi], id + 1);
	*text = f.text;
	*len = f.len;
	return 0;
}

const struct stage stage_read = {
	.name = "read",
	.help = "find *.txt and *.txt.gz files, drop boilerplate, cut statements",
	.init = read_init,
	.run = read_run,
	.release = read_release,
};
