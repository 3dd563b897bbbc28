/* common.c -- tables, buffers and output files shared by the stages
 *
 * The surface, stem and term tables with their side arrays, the reusable
 * token buffer, the release functions for everything struct ctx owns, and
 * the staged output files that make a run's outputs appear all at once.
 */
#define _GNU_SOURCE /* sync_file_range */
#include "stages.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../pipeline/gz.h"

int tokens_push(struct tokens *t, uint32_t surf, uint32_t stem)
{
	if (t->n == t->cap) {
		size_t c1 = t->cap, c2 = t->cap;

		if (pl_grow(&t->surf, &c1, t->n + 1, sizeof(*t->surf)) ||
		    pl_grow(&t->stem, &c2, t->n + 1, sizeof(*t->stem)))
			return -1;
		t->cap = c1 < c2 ? c1 : c2;
	}
	t->surf[t->n] = surf;
	t->stem[t->n] = stem;
	t->n++;
	return 0;
}

void tokens_release(struct tokens *t)
{
	pl_free(t->surf);
	pl_free(t->stem);
	memset(t, 0, sizeof(*t));
}

int surfaces_intern(struct surfaces *s, const char *str, size_t len,
		    uint32_t *id, int *added)
{
	return surfaces_intern_hash(s, str, len, (uint32_t)pl_hash(str, len), id,
				    added);
}

int surfaces_intern_hash(struct surfaces *s, const char *str, size_t len,
			 uint32_t h, uint32_t *id, int *added)
{
	int rc = strtab_intern_hash(&s->tab, str, len, h, id);

	*added = rc == 1;
	if (rc < 0)
		return -1;
	if (rc == 1) {
		if (s->tab.n > s->cap) {
			size_t c1 = s->cap, c2 = s->cap, c3 = s->cap;

			if (pl_grow(&s->stem, &c1, s->tab.n, sizeof(*s->stem)) ||
			    pl_grow(&s->count, &c2, s->tab.n, sizeof(*s->count)) ||
			    pl_grow(&s->flags, &c3, s->tab.n, sizeof(*s->flags)))
				return -1;
			s->cap = c1 < c2 ? (c1 < c3 ? c1 : c3) : (c2 < c3 ? c2 : c3);
		}
		s->stem[*id] = ID_NONE;
		s->count[*id] = 0;
		s->flags[*id] = 0;
	}
	return 0;
}

int stems_intern(struct stems *s, const char *str, size_t len, int kind,
		 uint32_t *id)
{
	return stems_intern_hash(s, str, len, (uint32_t)pl_hash(str, len), kind, id);
}

int stems_reserve(struct stems *s, size_t n)
{
	size_t c1 = s->cap, c2 = s->cap;

	if (n <= s->cap)
		return 0;
	if (pl_grow(&s->term, &c1, n, sizeof(*s->term)) ||
	    pl_grow(&s->kind, &c2, n, sizeof(*s->kind)))
		return -1;
	s->cap = c1 < c2 ? c1 : c2;
	return 0;
}

int stems_intern_hash(struct stems *s, const char *str, size_t len, uint32_t h,
		      int kind, uint32_t *id)
{
	int rc = strtab_intern_hash(&s->tab, str, len, h, id);

	if (rc < 0)
		return -1;
	if (rc == 1) {
		if (stems_reserve(s, s->tab.n))
			return -1;
		s->term[*id] = ID_NONE;
		s->kind[*id] = (uint8_t)kind;
	} else if (kind == TERM_PHRASE) {
		/* A phrase named like an existing word takes the word over. */
		s->kind[*id] = TERM_PHRASE;
	}
	return 0;
}

/*
 * A merge looks every string of the source up in the destination, a table
 * of megabytes: one at a time, each lookup waits for memory twice (the
 * slot, then the entry it names).  The strings go in batches of
 * STRTAB_BATCH: the slots of the next batch are asked for before the
 * entries of this one, and both have arrived by the time they are looked
 * up.  Ids are given in the source's order, as one at a time.
 */

/* The hashes of src's strings [i, i + STRTAB_BATCH) (fewer at the end),
 * with dst's slots for them asked for. */
static void merge_hashes(const struct strtab *src, const struct strtab *dst,
			 size_t i, uint32_t *h)
{
	for (size_t k = 0; k < STRTAB_BATCH && i + k < src->n; k++) {
		uint32_t id = (uint32_t)(i + k);

		h[k] = (uint32_t)pl_hash(strtab_str(src, id), strtab_len(src, id));
		strtab_prefetch(dst, h[k]);
	}
}

/* Start batch i (a multiple of STRTAB_BATCH) of src: ask for the next
 * batch's slots and this one's entries.  Returns this batch's hashes. */
static const uint32_t *merge_batch(const struct strtab *src, const struct strtab *dst,
				   size_t i, uint32_t h[2][STRTAB_BATCH])
{
	uint32_t *cur = h[(i / STRTAB_BATCH) & 1];

	if (i == 0)
		merge_hashes(src, dst, 0, cur);
	if (i + STRTAB_BATCH < src->n)
		merge_hashes(src, dst, i + STRTAB_BATCH, h[(i / STRTAB_BATCH + 1) & 1]);
	for (size_t k = 0; k < STRTAB_BATCH && i + k < src->n; k++)
		strtab_prefetch_entry(dst, cur[k]);
	return cur;
}

int stems_merge(struct stems *dst, const struct stems *src, uint32_t *map)
{
	uint32_t h[2][STRTAB_BATCH];

	for (size_t i = 0; i < src->tab.n; i += STRTAB_BATCH) {
		const uint32_t *hb = merge_batch(&src->tab, &dst->tab, i, h);

		for (size_t k = 0; k < STRTAB_BATCH && i + k < src->tab.n; k++) {
			uint32_t id = (uint32_t)(i + k);

			if (stems_intern_hash(dst, strtab_str(&src->tab, id),
					      strtab_len(&src->tab, id), hb[k],
					      src->kind[id], &map[id]))
				return -1;
		}
	}
	return 0;
}

int surfaces_merge(struct surfaces *dst, const struct surfaces *src,
		   const uint32_t *map_stem, uint32_t *map)
{
	uint32_t h[2][STRTAB_BATCH];

	for (size_t i = 0; i < src->tab.n; i += STRTAB_BATCH) {
		const uint32_t *hb = merge_batch(&src->tab, &dst->tab, i, h);

		for (size_t k = 0; k < STRTAB_BATCH && i + k < src->tab.n; k++) {
			uint32_t id = (uint32_t)(i + k), g;
			int added;

			if (surfaces_intern_hash(dst, strtab_str(&src->tab, id),
						 strtab_len(&src->tab, id), hb[k], &g,
						 &added))
				return -1;
			if (added)
				dst->flags[g] = src->flags[id];
			if (dst->stem[g] == ID_NONE && src->stem[id] != ID_NONE)
				dst->stem[g] = map_stem[src->stem[id]];
			dst->count[g] += src->count[id];
			map[id] = g;
		}
	}
	return 0;
}

void surfaces_release(struct surfaces *s)
{
	strtab_release(&s->tab);
	pl_free(s->stem);
	pl_free(s->count);
	pl_free(s->flags);
	memset(s, 0, sizeof(*s));
}

void stems_release(struct stems *s)
{
	strtab_release(&s->tab);
	pl_free(s->term);
	pl_free(s->kind);
	memset(s, 0, sizeof(*s));
}

/*
 * After the frames stage nothing maps text to ids any more: the stems, the
 * surfaces' stem ids, counts and flags and the vocabulary stage's counter
 * (the per-unit accumulators, the (term, surface) pair counts, the cache's
 * per-file tracking) have had their last reader.  Giving them back before
 * TF-IDF and k-means lowers the run's peak (on the 520 MB benchmark
 * corpus, about 13 MB).  The surface strings stay: the summaries show each
 * term by its most frequent surface.
 */
void ctx_shed_text_maps(struct ctx *ctx)
{
	stems_release(&ctx->stems);
	pl_free(ctx->surf.stem);
	pl_free(ctx->surf.count);
	pl_free(ctx->surf.flags);
	ctx->surf.stem = NULL;
	ctx->surf.count = NULL;
	ctx->surf.flags = NULL;
	ctx->surf.cap = 0;
	vocabulary_counter_free(ctx);
}

void vocab_release(struct vocab *v)
{
	strtab_release(&v->tab);
	pl_free(v->kind);
	pl_free(v->df);
	pl_free(v->cf);
	pl_free(v->surface);
	pl_free(v->kept);
	pl_free(v->idf);
	memset(v, 0, sizeof(*v));
}

void csr_release(struct csr *m)
{
	pl_free(m->rowptr);
	pl_free(m->col);
	pl_free(m->cnt);
	pl_free(m->fval);
	memset(m, 0, sizeof(*m));
}

void csr_shrink(struct csr *m, uint64_t n)
{
	uint32_t *col = pl_realloc(m->col, n * sizeof(*m->col));
	uint32_t *cnt = pl_realloc(m->cnt, n * sizeof(*m->cnt));

	if (col)
		m->col = col;
	if (cnt)
		m->cnt = cnt;
	if (col && cnt)
		m->cap = n;
}

size_t csr_shares(const struct csr *m, long threads,
		  size_t bound[PL_MAX_THREADS + 1])
{
	return csr_shares_of(m, 0, m->nrows, threads, bound);
}

size_t csr_shares_of(const struct csr *m, size_t begin, size_t end, long threads,
		     size_t bound[PL_MAX_THREADS + 1])
{
	uint64_t first, nnz;
	size_t nt = threads > 0 ? (size_t)threads : 1;

	if (begin == end) {
		/* No rows (and rowptr may be NULL): one empty share. */
		bound[0] = bound[1] = begin;
		return 1;
	}
	first = m->rowptr[begin];
	nnz = m->rowptr[end] - first;

	if (nt > PL_MAX_THREADS)
		nt = PL_MAX_THREADS;
	if (nt > nnz / CSR_SHARE_MIN + 1)
		nt = nnz / CSR_SHARE_MIN + 1;  /* not worth a thread */
	bound[0] = begin;
	for (size_t t = 1, r = begin; t <= nt; t++) {
		uint64_t goal = first + nnz / nt * t;

		while (r < end && (t == nt || m->rowptr[r + 1] <= goal))
			r++;
		bound[t] = r;
	}
	return nt;
}

void files_release(struct files *f)
{
	files_release_kept(f);
	for (size_t i = 0; i < f->nblock; i++)
		pl_free(f->block[i]);
	pl_free(f->block);
	pl_free(f->path);
	pl_free(f->rel);
	pl_free(f->bytes);
	pl_free(f->info);
	pl_free(f->root);
	memset(f, 0, sizeof(*f));
}

void units_release(struct units *u)
{
	pl_free(u->file);
	pl_free(u->para);
	pl_free(u->line);
	pl_free(u->ntok);
	pl_free(u->hash);
	memset(u, 0, sizeof(*u));
}

void clustering_release(struct clustering *c)
{
	pl_free(c->assign);
	pl_free(c->sim);
	pl_free(c->centroid);
	pl_free(c->col);
	pl_free(c->size);
	pl_free(c->label);
	memset(c, 0, sizeof(*c));
}

void frames_release(struct frames *f)
{
	for (size_t i = 0; i < f->n; i++) {
		pl_free(f->name[i]);
		pl_free(f->entries[i]);
		pl_free(f->stems[i]);
	}
	pl_free(f->name);
	pl_free(f->entries);
	pl_free(f->stems);
	pl_free(f->nstems);
	pl_free(f->hits);
	memset(f, 0, sizeof(*f));
}

const char *ctx_prev_id(const struct ctx *ctx)
{
	return ctx->cur_set ? strrchr(ctx->cur_set, '/') + 1 : NULL;
}

int term_display(const struct ctx *ctx, uint32_t term, struct strbuf *sb)
{
	const struct vocab *v = &ctx->vocab;
	const char *s, *sp;

	if (v->surface[term] != ID_NONE)
		return strbuf_addstr(sb, strtab_str(&ctx->surf.tab, v->surface[term]));
	if (v->kind[term] != TERM_NGRAM)
		return strbuf_addstr(sb, strtab_str(&v->tab, term));
	/* An n-gram's parts are stems joined by single spaces; show each part
	 * by its own display form when it is a term. */
	s = strtab_str(&v->tab, term);
	for (;;) {
		uint32_t part;

		sp = strchr(s, ' ');
		part = strtab_find(&v->tab, s, sp ? (size_t)(sp - s) : strlen(s));
		if (part != STRTAB_NONE && v->surface[part] != ID_NONE) {
			if (strbuf_addstr(sb, strtab_str(&ctx->surf.tab, v->surface[part])))
				return -1;
		} else if (strbuf_add(sb, s, sp ? (size_t)(sp - s) : strlen(s))) {
			return -1;
		}
		if (!sp)
			return 0;
		if (strbuf_addch(sb, ' '))
			return -1;
		s = sp + 1;
	}
}

/* ---- staged output files ---- */

/* I/O fault injection (pl_io_fail_at): the output operations counted since
 * the last call; io_fail_at == 0 means never fail.  Atomic because several
 * threads write (the two matrices, each with its gzip workers). */
static _Atomic unsigned long io_count;
static _Atomic unsigned long io_fail_n;
static _Atomic int io_errno;

unsigned long pl_io_fail_at(unsigned long n, int err_no)
{
	unsigned long made = io_count;

	io_count = 0;
	io_errno = err_no;
	io_fail_n = n;
	return made;
}

/* Count one output operation; 1 (with errno set) when it is to fail. */
static int io_injected(void)
{
	unsigned long n = ++io_count;

	if (io_fail_n == 0 || n != io_fail_n)
		return 0;
	errno = io_errno;
	return 1;
}

/* Remove the staging folders of runs that were killed: .staging.PID where
 * no process PID exists any more.  Their files are flat (no subfolders).
 * Best effort: what cannot be removed stays, and is harmless. */
static void remove_stale_staging(const char *outdir)
{
	DIR *d = opendir(outdir);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d)) != NULL) {
		const char *p = de->d_name;
		char *end;
		long pid;
		DIR *sd;
		struct dirent *se;
		int fd;

		if (strncmp(p, ".staging.", 9) != 0)
			continue;
		errno = 0;
		pid = strtol(p + 9, &end, 10);
		if (end == p + 9 || *end != '\0' || errno || pid <= 0 ||
		    pid == (long)getpid())
			continue;
		if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue; /* alive, or not ours to judge (EPERM) */
		/* Through the open folders, never a symbolic link: a link
		 * named .staging.PID is not followed (and stays). */
		fd = openat(dirfd(d), p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		sd = fd >= 0 ? fdopendir(fd) : NULL;
		if (!sd) {
			if (fd >= 0)
				close(fd);
			continue;
		}
		while ((se = readdir(sd)) != NULL)
			if (strcmp(se->d_name, ".") != 0 && strcmp(se->d_name, "..") != 0)
				unlinkat(dirfd(sd), se->d_name, 0);
		closedir(sd);
		unlinkat(dirfd(d), p, AT_REMOVEDIR);
	}
	closedir(d);
}

int out_make_dir(const char *outdir, struct pl_error *err)
{
	struct stat st;

	if (stat(outdir, &st) != 0) {
		/* EEXIST: another run made it between the stat and now. */
		if (errno != ENOENT || (mkdir(outdir, 0777) != 0 && errno != EEXIST))
			return pl_fail(err, PL_EX_CANTCREAT,
				       "%s: cannot create the output folder: %s",
				       outdir, strerror(errno));
	} else if (!S_ISDIR(st.st_mode)) {
		return pl_fail(err, PL_EX_CANTCREAT,
			       "%s: output path exists and is not a folder", outdir);
	}
	return 0;
}

int out_begin(struct ctx *ctx, struct pl_error *err)
{
	struct strbuf sb = STRBUF_INIT;

	if (out_make_dir(ctx->outdir, err))
		return -1;
	remove_stale_staging(ctx->outdir);
	if (strbuf_addf(&sb, "%s/.staging.%ld", ctx->outdir, (long)getpid()))
		return pl_oom(err);
	if (pl_mkdir(sb.buf, err)) {
		strbuf_release(&sb);
		return -1;
	}
	ctx->staging = sb.buf;
	return 0;
}

/* Compression threads for each gzip output: [run] threads, 0 meaning one
 * per core.  The bytes written do not depend on it. */
static unsigned out_workers(const struct ctx *ctx)
{
	long n = ctx->cfg ? ctx->cfg->v[CFG_run_threads].i : 0;

	if (n <= 0)
		n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > 64 ? 64 : (unsigned)n;
}

/* Where a gzip output's members go (gzw_sink): each member is one counted
 * output operation, as a flush of a plain file is.  Called from the
 * writer's threads too, never two at once for one file. */
static int gz_sink(void *arg, const void *data, size_t len,
		   struct pl_error *err)
{
	const struct outfile *of = arg;
	const char *p = data;

	if (io_injected())
		return pl_fail(err, PL_EX_IOERR, "%s: write error: %s", of->tmp,
			       strerror(errno));
	while (len) {
		ssize_t n = write(of->fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return pl_fail(err, PL_EX_IOERR, "%s: write error: %s",
				       of->tmp, strerror(n < 0 ? errno : EIO));
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int out_open(struct ctx *ctx, const char *name, struct outfile *of,
	     struct pl_error *err)
{
	struct strbuf sb = STRBUF_INIT;
	size_t nl = strlen(name);
	char *copy;
	int fd;

	memset(of, 0, sizeof(*of));
	if (!ctx->staging)
		return pl_fail(err, PL_EX_SOFTWARE, "%s: no staging folder", name);
	if (strbuf_addf(&sb, "%s/%s", ctx->staging, name))
		return pl_oom(err);
	copy = pl_strdup(name);
	if (!copy || pl_grow(&ctx->staged, &ctx->staged_cap, ctx->nstaged + 1,
			     sizeof(*ctx->staged))) {
		pl_free(copy);
		strbuf_release(&sb);
		return pl_oom(err);
	}
	ctx->staged[ctx->nstaged++] = copy;
	/* A file written again after outdir_settle is hashed again. */
	for (size_t i = ctx->nsums; i-- > 0;)
		if (strcmp(ctx->sums[i].name, name) == 0)
			ctx->sums[i] = ctx->sums[--ctx->nsums];
	/* On failure `of` holds nothing: callers need not out_close it. */
	fd = io_injected() ? -1 :
		open(sb.buf, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	if (fd < 0) {
		pl_fail(err, PL_EX_CANTCREAT, "%s: cannot create: %s", sb.buf,
			strerror(errno));
		strbuf_release(&sb);
		return -1;
	}
	of->tmp = sb.buf;
	if (nl > 3 && strcmp(name + nl - 3, ".gz") == 0) {
		/* Members of GZW_CHUNK bytes at libdeflate level 1, with no
		 * name and time stamp 0: the bytes depend only on the
		 * content (pipeline/gz.h). */
		of->fd = fd;
		of->gz = gzw_new(1, GZW_CHUNK, out_workers(ctx), gz_sink, of, err);
		if (!of->gz)
			goto fail;
	} else {
		of->fp = fdopen(fd, "wb");
		if (!of->fp) {
			pl_oom(err);
			goto fail;
		}
	}
	return 0;
fail:
	close(fd);
	strbuf_release(&sb);
	memset(of, 0, sizeof(*of));
	return -1;
}

/* Write a plain file's pending bytes; a gzip file has none (its writer
 * takes every byte at once). */
static int out_flush(struct outfile *of, struct pl_error *err)
{
	if (!of->buf.len || !of->fp)
		return 0;
	if (io_injected())
		return pl_fail(err, PL_EX_IOERR, "%s: write error: %s", of->tmp,
			       strerror(errno));
	if (fwrite(of->buf.buf, 1, of->buf.len, of->fp) != of->buf.len)
		return pl_fail(err, PL_EX_IOERR, "%s: write error: %s", of->tmp,
			       strerror(errno));
	strbuf_reset(&of->buf);
	return 0;
}

int out_write(struct outfile *of, const void *data, size_t len,
	      struct pl_error *err)
{
	if (of->gz)
		return gzw_write(of->gz, data, len, err);
	if (strbuf_add(&of->buf, data, len))
		return pl_oom(err);
	if (of->buf.len >= (1u << 20))
		return out_flush(of, err);
	return 0;
}

int out_printf(struct pl_error *err, struct outfile *of, const char *fmt, ...)
{
	va_list ap;
	char small[512];
	int n, rc;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return pl_fail(err, PL_EX_SOFTWARE, "bad format");
	if ((size_t)n < sizeof(small))
		return out_write(of, small, (size_t)n, err);
	if (pl_grow(&of->buf.buf, &of->buf.cap, of->buf.len + (size_t)n + 1, 1))
		return pl_oom(err);
	va_start(ap, fmt);
	vsnprintf(of->buf.buf + of->buf.len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	of->buf.len += (size_t)n;
	if (of->gz) {
		/* buf is only scratch space here. */
		rc = gzw_write(of->gz, of->buf.buf, of->buf.len, err);
		strbuf_reset(&of->buf);
		return rc;
	}
	if (of->buf.len >= (1u << 20))
		return out_flush(of, err);
	return 0;
}

/*
 * Durability, and when it is paid for.  A staged file must be on disk
 * before the step that publishes it (a rename), and no sooner: fsyncing
 * each output as it is closed made the run wait for the disk once per
 * file, in turn (the 71 MB counts.mtx.gz of a large corpus: 0.2-0.3 s
 * before k-means could start).  So out_close only starts the writeback
 * (sync_file_range SYNC_FILE_RANGE_WRITE: the kernel begins writing the
 * dirty pages and returns), and out_sync_path, called on every staged file
 * just before publishing (pipeline/outdir.c's manifest step, out_publish
 * here), waits for it with fsync; by then the disk has been writing while
 * the later stages computed.  The guarantee is the one fsync-at-close
 * gave: nothing is published that is not on disk.  A file system without
 * sync_file_range (EINVAL, ENOSYS, ESPIPE) just leaves it to the fsync.
 */
static int start_writeback(int fd)
{
	if (sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE) == 0)
		return 0;
	return errno == EINVAL || errno == ENOSYS || errno == ESPIPE ? 0 : -1;
}

int out_sync_path(const char *path, struct pl_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return pl_fail(err, PL_EX_IOERR, "%s: cannot open to sync: %s", path,
			       strerror(errno));
	if (io_injected() || fsync(fd) != 0)
		rc = pl_fail(err, PL_EX_IOERR, "%s: fsync: %s", path, strerror(errno));
	close(fd);
	return rc;
}

int out_close(struct outfile *of, struct pl_error *err)
{
	int rc = 0;

	if (of->gz) {
		/* The last members, then fsync and close, each counted. */
		int injected, saved;

		rc = gzw_finish(of->gz, err);
		gzw_free(of->gz);
		if (rc == 0 && (io_injected() || start_writeback(of->fd) != 0))
			rc = pl_fail(err, PL_EX_IOERR, "%s: write error: %s", of->tmp,
				     strerror(errno));
		injected = io_injected();
		saved = errno;
		if (close(of->fd) != 0 && !injected)
			saved = errno, injected = 1;
		if (injected && rc == 0)
			rc = pl_fail(err, PL_EX_IOERR, "%s: write error: %s",
				     of->tmp, strerror(saved));
	} else if (of->fp) {
		if (out_flush(of, err))
			rc = -1;
		/* fflush is where small files are really written. */
		if ((io_injected() || fflush(of->fp) != 0) && rc == 0)
			rc = pl_fail(err, PL_EX_IOERR, "%s: write error: %s",
				     of->tmp, strerror(errno));
		if (rc == 0 && (io_injected() || start_writeback(fileno(of->fp)) != 0))
			rc = pl_fail(err, PL_EX_IOERR, "%s: write error: %s", of->tmp,
				     strerror(errno));
		{
			int injected = io_injected(), saved = errno;

			/* fclose always releases the stream, even on error. */
			if (fclose(of->fp) != 0 && !injected)
				saved = errno, injected = 1;
			if (injected && rc == 0)
				rc = pl_fail(err, PL_EX_IOERR, "%s: write error: %s",
					     of->tmp, strerror(saved));
		}
	}
	strbuf_release(&of->buf);
	pl_free(of->tmp);
	memset(of, 0, sizeof(*of));
	return rc;
}

/* What out_publish knows of the previous version of each output. */
enum { PREV_NONE, PREV_LINKED, PREV_UNLINKABLE };

/*
 * Publish every staged file into the output folder.  Each rename(2) is
 * atomic but the set is not, so a failure part-way is rolled back:
 *  1. backups: each existing DIR/name is hard-linked (link(2), no copy) to
 *     STAGING/name.prev.  ENOENT: there was no previous file.  A file
 *     system without hard links (EPERM, EOPNOTSUPP, ...): that file has no
 *     backup and cannot be rolled back.  Any other failure stops the run
 *     before anything was moved (73).
 *  2. each STAGING/name is renamed onto DIR/name (a failure is 73), then
 *     the output folder is fsynced (a failure other than EINVAL, which
 *     some file systems give for folders, is 74);
 *  3. on a failure in 2, the files already moved are put back: the backup
 *     renamed onto DIR/name, or DIR/name removed when there was no
 *     previous file.  The error reported is the first one.
 * out_abandon then removes the staging folder with the backups.  A run
 * killed during step 2 still leaves every file whole (old or new) but the
 * set may be mixed; the next run removes the dead run's staging folder
 * (out_begin).  Atomic publication of the whole set is a separate issue.
 */
int out_publish(struct ctx *ctx, struct pl_error *err)
{
	struct strbuf from = STRBUF_INIT, to = STRBUF_INIT, prev = STRBUF_INIT;
	unsigned char *state = NULL;
	size_t moved = 0;
	int rc = 0;
	int dfd;

	if (ctx->nstaged && !(state = pl_calloc(ctx->nstaged, 1)))
		rc = pl_oom(err);
	/* 0. every staged file is on disk (see out_sync_path) */
	for (size_t i = 0; i < ctx->nstaged && rc == 0; i++) {
		strbuf_reset(&from);
		if (strbuf_addf(&from, "%s/%s", ctx->staging, ctx->staged[i]))
			rc = pl_oom(err);
		else
			rc = out_sync_path(from.buf, err);
	}
	for (size_t i = 0; i < ctx->nstaged && rc == 0; i++) {
		strbuf_reset(&to);
		strbuf_reset(&prev);
		if (strbuf_addf(&to, "%s/%s", ctx->outdir, ctx->staged[i]) ||
		    strbuf_addf(&prev, "%s/%s.prev", ctx->staging, ctx->staged[i]))
			rc = pl_oom(err);
		else if (!io_injected() && link(to.buf, prev.buf) == 0)
			state[i] = PREV_LINKED;
		else if (errno == ENOENT)
			state[i] = PREV_NONE;
		else if (errno == EPERM || errno == EOPNOTSUPP || errno == ENOSYS ||
			 errno == EMLINK)
			state[i] = PREV_UNLINKABLE;
		else
			rc = pl_fail(err, PL_EX_CANTCREAT, "%s: cannot back up: %s",
				     to.buf, strerror(errno));
	}
	for (; moved < ctx->nstaged && rc == 0; moved++) {
		strbuf_reset(&from);
		strbuf_reset(&to);
		if (strbuf_addf(&from, "%s/%s", ctx->staging, ctx->staged[moved]) ||
		    strbuf_addf(&to, "%s/%s", ctx->outdir, ctx->staged[moved]))
			rc = pl_oom(err);
		else if (io_injected() || rename(from.buf, to.buf) != 0)
			rc = pl_fail(err, PL_EX_CANTCREAT, "%s: cannot publish: %s",
				     to.buf, strerror(errno));
		if (rc)
			break;
	}
	if (rc == 0) {
		dfd = open(ctx->outdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0) {
			if ((io_injected() || fsync(dfd) != 0) && errno != EINVAL)
				rc = pl_fail(err, PL_EX_IOERR, "%s: fsync: %s",
					     ctx->outdir, strerror(errno));
			close(dfd);
		}
	}
	/* Roll back: `moved` files are in place; the paths are rebuilt with
	 * the buffers' capacity from above, so this cannot run out of
	 * memory for the names (they were all formatted once already). */
	if (rc)
		for (size_t i = moved; i-- > 0;) {
			strbuf_reset(&to);
			strbuf_reset(&prev);
			if (strbuf_addf(&to, "%s/%s", ctx->outdir, ctx->staged[i]) ||
			    strbuf_addf(&prev, "%s/%s.prev", ctx->staging, ctx->staged[i]))
				continue;
			if (state[i] == PREV_LINKED)
				rename(prev.buf, to.buf);
			else if (state[i] == PREV_NONE)
				unlink(to.buf);
		}
	strbuf_release(&from);
	strbuf_release(&to);
	strbuf_release(&prev);
	pl_free(state);
	out_abandon(ctx);
	return rc;
}

int out_file(struct ctx *ctx, const char *name, const void *data, size_t len,
	     struct pl_error *err)
{
	struct outfile of;
	int rc;

	if (out_open(ctx, name, &of, err))
		return -1;
	rc = out_write(&of, data, len, err);
	if (out_close(&of, rc ? NULL : err))
		rc = -1;
	return rc;
}

void out_staged_release(struct ctx *ctx)
{
	for (size_t i = 0; i < ctx->nstaged; i++)
		pl_free(ctx->staged[i]);
	pl_free(ctx->staged);
	ctx->staged = NULL;
	ctx->nstaged = ctx->staged_cap = 0;
	pl_free(ctx->sums);
	ctx->sums = NULL;
	ctx->nsums = ctx->sums_cap = 0;
}

/* Allocates nothing, so that it works after any out-of-memory failure. */
void out_abandon(struct ctx *ctx)
{
	if (ctx->staging) {
		int dfd = open(ctx->staging, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		for (size_t i = 0; dfd >= 0 && i < ctx->nstaged; i++) {
			char prev[512];

			unlinkat(dfd, ctx->staged[i], 0); /* gone once published */
			if ((size_t)snprintf(prev, sizeof(prev), "%s.prev",
					     ctx->staged[i]) < sizeof(prev))
				unlinkat(dfd, prev, 0); /* out_publish's backup */
		}
		if (dfd >= 0)
			close(dfd);
		rmdir(ctx->staging);
		pl_free(ctx->staging);
		ctx->staging = NULL;
	}
	out_staged_release(ctx);
}
