/* check_read.c -- tests of the read stage: files, statements, boilerplate
 *
 * Each test builds a small corpus in a fresh temporary folder and runs the
 * real stages through the driver API, the way `pipeline run` does up to
 * the end of reading: config_init, -c overrides, ctx_init, ctx_prepare
 * (every stage's init, since read hands each statement to the later
 * stages' unit hooks), then stage_read.run with ctx.stage = 0.  What is
 * checked is what a user sees: which files are read and in what order,
 * where each statement starts (file, paragraph, line), the exact text
 * quoted back from it, the boilerplate count, and the exit code and file
 * named when a file cannot be read.
 *
 * To debug one case: CK_RUN_SUITE=read CK_RUN_CASE=files CK_FORK=no.
 */
#include "lib.h"
#include "../pipeline/cache.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

static char *tmp;      /* the test's folder */
static char root[4200]; /* tmp/c: the corpus folder */

static void tmp_setup(void)
{
	tmp = test_tmpdir();
	snprintf(root, sizeof(root), "%s/c", tmp);
	ck_assert_int_eq(mkdir(root, 0777), 0);
}

static void tmp_teardown(void)
{
	test_rmtree(tmp);
	free(tmp);
	tmp = NULL;
}

/* A run of the read stage; release with read_done(). */
struct readrun {
	struct config cfg;
	struct ctx ctx;
	struct pl_error err;
	int rc;
};

/* Set a ctx up for the corpus at `dir` with the overrides in `extra`
 * (NULL-ended, may be NULL).  rc is 0 or -1 with err filled, from
 * ctx_prepare. */
static void prepare_corpus(struct readrun *r, const char *dir,
			   const char *const *extra)
{
	char o[4300];

	memset(r, 0, sizeof(*r));
	ck_assert_int_eq(config_init(&r->cfg, &r->err), 0);
	snprintf(o, sizeof(o), "corpus.dir=%s", dir);
	ck_assert_int_eq(config_override(&r->cfg, o, &r->err), 0);
	for (; extra && *extra; extra++)
		ck_assert_msg(config_override(&r->cfg, *extra, &r->err) == 0,
			      "-c %s: %s", *extra, r->err.msg);
	ck_assert_msg(config_validate(&r->cfg, &r->err) == 0, "%s", r->err.msg);
	ctx_init(&r->ctx, &r->cfg);
	r->rc = ctx_prepare(&r->ctx, &r->err);
}

/* Read the corpus at `dir` with the overrides in `extra` (NULL-ended, may
 * be NULL).  rc is 0 or -1 with err filled, from ctx_prepare or the read. */
static void read_corpus(struct readrun *r, const char *dir,
			const char *const *extra)
{
	prepare_corpus(r, dir, extra);
	if (r->rc == 0) {
		r->ctx.stage = 0;
		r->rc = stage_read.run(&r->ctx, &r->err);
		r->ctx.stage = -1;
	}
}

static void read_done(struct readrun *r)
{
	ctx_release(&r->ctx);
	config_release(&r->cfg);
}

static void assert_read_ok(const struct readrun *r)
{
	ck_assert_msg(r->rc == 0, "read failed (exit %d): %s", r->err.code,
		      r->err.msg);
}

/* The listing's file count and digest as a run with nothing new takes
 * them (read_list_digest, keeping no listing), on `extra`'s threads.  Then,
 * as when the digest does not match, the listing built from what that walk
 * kept, which must be `ref`'s (a read of the same folder) file for file. */
static void list_digest(const char *dir, const char *const *extra, size_t *n,
			uint64_t d[2], const struct readrun *ref)
{
	const struct files *a = &ref->ctx.files, *b;
	struct readrun r;

	prepare_corpus(&r, dir, extra);
	assert_read_ok(&r);
	ck_assert_msg(read_list_digest(&r.ctx, &r.err) == 0, "%s", r.err.msg);
	ck_assert_ptr_null(r.ctx.files.info);
	*n = r.ctx.files.n;
	d[0] = r.ctx.files.digest[0];
	d[1] = r.ctx.files.digest[1];
	ck_assert_msg(read_plan(&r.ctx, &r.err) == 0, "%s", r.err.msg);
	b = &r.ctx.files;
	ck_assert_uint_eq(b->nkept, 0);
	ck_assert_uint_eq(b->n, a->n);
	ck_assert(b->digest[0] == d[0] && b->digest[1] == d[1]);
	for (size_t i = 0; i < a->n; i++) {
		const struct fileinfo *x = &a->info[i], *y = &b->info[i];

		ck_assert_str_eq(a->path[i], b->path[i]);
		ck_assert_str_eq(a->rel[i], b->rel[i]);
		ck_assert_uint_eq(a->bytes[i], b->bytes[i]);
		ck_assert_msg(x->size == y->size && x->mtime_ns == y->mtime_ns &&
			      x->ctime_ns == y->ctime_ns && x->ino == y->ino &&
			      x->dev == y->dev && y->cached == CACHE_NONE &&
			      y->old == CACHE_NONE, "file %zu: stat data differ", i);
	}
	read_done(&r);
}

static void assert_read_fails(const struct readrun *r, int code,
			      const char *needle1, const char *needle2)
{
	ck_assert_msg(r->rc == -1, "read succeeded, expected exit %d", code);
	ck_assert_msg(r->err.code == code, "exit %d, expected %d: %s",
		      r->err.code, code, r->err.msg);
	ck_assert_msg(strstr(r->err.msg, needle1), "message '%s' lacks '%s'",
		      r->err.msg, needle1);
	if (needle2)
		ck_assert_msg(strstr(r->err.msg, needle2),
			      "message '%s' lacks '%s'", r->err.msg, needle2);
}

/* The files read, as "rel|rel|...", for one readable comparison. */
static void assert_files(const struct readrun *r, const char *want)
{
	char got[4096] = "";
	size_t len = 0;

	for (size_t i = 0; i < r->ctx.files.n; i++) {
		char full[4300];

		len += (size_t)snprintf(got + len, sizeof(got) - len, "%s%s",
					i ? "|" : "", r->ctx.files.rel[i]);
		ck_assert_uint_lt(len, sizeof(got));
		snprintf(full, sizeof(full), "%s/%s", root, r->ctx.files.rel[i]);
		ck_assert_str_eq(r->ctx.files.path[i], full);
	}
	ck_assert_str_eq(got, want);
}

/* Unit u came from file f, paragraph p, starting on line l. */
static void assert_unit(const struct readrun *r, uint32_t u, uint32_t f,
			uint32_t p, uint32_t l)
{
	ck_assert_uint_lt(u, r->ctx.units.n);
	ck_assert_msg(r->ctx.units.file[u] == f && r->ctx.units.para[u] == p &&
		      r->ctx.units.line[u] == l,
		      "unit %u: file %u paragraph %u line %u, expected %u %u %u",
		      u, r->ctx.units.file[u], r->ctx.units.para[u],
		      r->ctx.units.line[u], f, p, l);
}

/* read_unit_text(u) gives exactly `want`. */
static void assert_text(struct readrun *r, uint32_t u, const char *want)
{
	struct pl_error err = { 0, "" };
	char *text = NULL;
	size_t len = 0;

	ck_assert_msg(read_unit_text(&r->ctx, u, &text, &len, &err) == 0,
		      "unit %u: %s", u, err.msg);
	ck_assert_ptr_nonnull(text);
	ck_assert_uint_eq(len, strlen(want));
	ck_assert_str_eq(text, want);
	pl_free(text);
}

/* A symbolic link root/name -> target (relative targets start from the
 * link's folder). */
static void link_in_root(const char *target, const char *name)
{
	char path[4300];

	snprintf(path, sizeof(path), "%s/%s", root, name);
	ck_assert_msg(symlink(target, path) == 0, "symlink %s", path);
}

static void write_bytes(const char *path, const void *data, size_t len)
{
	FILE *fp = fopen(path, "wb");

	ck_assert_ptr_nonnull(fp);
	ck_assert_uint_eq(fwrite(data, 1, len, fp), len);
	ck_assert_int_eq(fclose(fp), 0);
}

static void write_gz(const char *path, const char *data, size_t len)
{
	gzFile gz = gzopen(path, "wb");

	ck_assert_ptr_nonnull(gz);
	ck_assert_int_eq(gzwrite(gz, data, (unsigned)len), (int)len);
	ck_assert_int_eq(gzclose(gz), Z_OK);
}

/* `n` bytes of text: short lines of words, one paragraph. */
static char *filler(size_t n)
{
	static const char line[] = "the quick brown fox jumps over the lazy dog\n";
	char *s = malloc(n + 1);

	ck_assert_ptr_nonnull(s);
	for (size_t i = 0; i < n; i++)
		s[i] = line[i % (sizeof(line) - 1)];
	s[n] = '\0';
	return s;
}

START_TEST(sorted_recursive)
{
	struct readrun r;

	test_write(root, "b.txt", "Bee.\n");
	test_write(root, "a/b.txt", "Ay bee.\n");
	test_write(root, "a/c/d.txt", "Ay see dee.\n");
	test_write(root, "A.txt", "Capital ay.\n");
	test_write(root, ".hidden.txt", "Hidden.\n");
	test_write(root, ".git/x.txt", "In a hidden folder.\n");
	test_write(root, "a/.cache/y.txt", "In a nested hidden folder.\n");
	test_write(root, "notes.md", "Not text.\n");
	test_write(root, "b.txt.bak", "A backup.\n");
	test_write(root, "txt", "No suffix.\n");
	test_write(root, "a/c/e.txt.gz.part", "Partial download.\n");
	read_corpus(&r, root, NULL);
	assert_read_ok(&r);
	/* Byte order of the path under the root: "a/b.txt" before "b.txt". */
	assert_files(&r, "A.txt|a/b.txt|a/c/d.txt|b.txt");
	ck_assert_uint_eq(r.ctx.units.n, 4);
	for (uint32_t u = 0; u < 4; u++)
		assert_unit(&r, u, u, 1, 1);
	assert_text(&r, 1, "Ay bee.");
	read_done(&r);
}
END_TEST

/* A trailing slash on the folder does not change the relative paths. */
START_TEST(trailing_slash)
{
	struct readrun r;
	char dir[4300];

	test_write(root, "x/y.txt", "Yonder hills.\n");
	snprintf(dir, sizeof(dir), "%s/", root);
	read_corpus(&r, dir, NULL);
	assert_read_ok(&r);
	ck_assert_uint_eq(r.ctx.files.n, 1);
	ck_assert_str_eq(r.ctx.files.rel[0], "x/y.txt");
	read_done(&r);
}
END_TEST

START_TEST(symlinks)
{
	struct readrun r;
	char outside[4300];

	test_write(root, "real.txt", "Real.\n");
	test_write(root, "sub/s.txt", "In sub.\n");
	test_write(tmp, "outside.txt", "Outside the corpus.\n");
	snprintf(outside, sizeof(outside), "%s/outside.txt", tmp);
	link_in_root("real.txt", "link.txt");
	link_in_root(outside, "out.txt");
	link_in_root("sub", "sublink");         /* a folder */
	link_in_root(".", "loop");              /* the root itself */
	link_in_root("..", "sub/up");           /* back up to the root */
	link_in_root("nowhere.txt", "dangling.txt");
	link_in_root("sub", "dirlink.txt");     /* a folder named *.txt */
	read_corpus(&r, root, NULL);
	assert_read_ok(&r);
	assert_files(&r, "link.txt|out.txt|real.txt|sub/s.txt");
	ck_assert_uint_eq(r.ctx.units.n, 4);
	assert_text(&r, 0, "Real.");
	assert_text(&r, 1, "Outside the corpus.");
	read_done(&r);
}
END_TEST

/* A folder large enough to be stat'ed on several threads (read.c,
 * STAT_PARALLEL_MIN = 2048) lists the same files, in the same order with
 * the same stat data and listing digest, on 1, 3 and 100 threads; links that
 * are not files and names that do not match are left out on both. */
START_TEST(large_folder)
{
	static const char *const one[] = { "run.threads=1", NULL };
	static const char *const three[] = { "run.threads=3", NULL };
	/* More than PL_MAX_THREADS (64): the listing runs 64 shares. */
	static const char *const many[] = { "run.threads=100", NULL };
	struct readrun a, b, c;
	char name[64];
	size_t want = 2500 + 2 + 1;

	for (int i = 0; i < 2500; i++) {
		snprintf(name, sizeof(name), "f%04d.txt", (i * 7919) % 2500);
		test_write(root, name, "Words.\n");
	}
	test_write(root, "skip.md", "Not text.\n");
	test_write(root, "sub/in.txt", "In sub.\n");
	link_in_root("f0001.txt", "link.txt");
	link_in_root("nowhere.txt", "dangling.txt");
	link_in_root("sub", "dirlink.txt");
	test_write(root, "z\xff.txt", "Not UTF-8 in the name.\n");
	read_corpus(&a, root, one);
	assert_read_ok(&a);
	read_corpus(&b, root, three);
	assert_read_ok(&b);
	ck_assert_uint_eq(a.ctx.files.n, want);
	ck_assert_uint_eq(b.ctx.files.n, want);
	ck_assert_str_eq(a.ctx.files.rel[0], "f0000.txt");
	ck_assert_str_eq(a.ctx.files.rel[want - 3], "link.txt");
	ck_assert_str_eq(a.ctx.files.rel[want - 2], "sub/in.txt");
	ck_assert_str_eq(a.ctx.files.rel[want - 1], "z\xEF\xBF\xBD.txt");
	for (size_t i = 0; i < want; i++) {
		const struct fileinfo *x = &a.ctx.files.info[i], *y = &b.ctx.files.info[i];

		ck_assert_str_eq(a.ctx.files.path[i], b.ctx.files.path[i]);
		ck_assert_str_eq(a.ctx.files.rel[i], b.ctx.files.rel[i]);
		ck_assert_msg(x->size == y->size && x->mtime_ns == y->mtime_ns &&
			      x->ctime_ns == y->ctime_ns && x->ino == y->ino &&
			      x->dev == y->dev, "file %zu: stat data differ", i);
	}
	ck_assert(a.ctx.files.digest[0] == b.ctx.files.digest[0] &&
		  a.ctx.files.digest[1] == b.ctx.files.digest[1]);
	/* Without building the listing: the same count and digest. */
	for (int k = 0; k < 2; k++) {
		size_t n;
		uint64_t d[2];

		list_digest(root, k ? many : one, &n, d, &a);
		ck_assert_uint_eq(n, want);
		ck_assert(d[0] == a.ctx.files.digest[0] && d[1] == a.ctx.files.digest[1]);
	}
	read_corpus(&c, root, many);
	assert_read_ok(&c);
	ck_assert_uint_eq(c.ctx.files.n, want);
	ck_assert(a.ctx.files.digest[0] == c.ctx.files.digest[0] &&
		  a.ctx.files.digest[1] == c.ctx.files.digest[1]);
	read_done(&c);
	{
		uint64_t d[2];

		/* The digest summed while listing is the one cache.key holds. */
		cache_listing_digest(&a.ctx.files, d);
		ck_assert(d[0] == a.ctx.files.digest[0] && d[1] == a.ctx.files.digest[1]);
	}
	ck_assert_uint_eq(a.ctx.units.n, want);
	read_done(&a);
	read_done(&b);
}
END_TEST

/* Descriptors this process has open. */
static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* A corpus for the walk's queue: a folder of more than read.c's
 * WALK_CHUNK (4096) files and 70 folders with a subfolder each, more
 * than WALK_LINGER (64).  Its file count. */
static size_t walk_corpus(void)
{
	char name[64];

	for (int i = 0; i < 4101; i++) {
		snprintf(name, sizeof(name), "big/f%05d.txt", i);
		test_write(root, name, "Words.\n");
	}
	for (int i = 0; i < 70; i++)
		for (int j = 0; j < 4; j++) {
			snprintf(name, sizeof(name), j < 3 ? "d%02d/g%d.txt" : "d%02d/sub/h.txt", i, j);
			test_write(root, name, "More words.\n");
		}
	return 4101 + 70 * 4;
}

/* The walk queues a folder's files WALK_CHUNK at a time for the stat
 * threads, and lets at most WALK_LINGER folders wait with their files not
 * all stat'ed (1 with PIPELINE_TEST_WALK_LINGER=1, so that the walking
 * thread waits at that bound all along): the same listing and digest on
 * any thread count, the stat data stat(2)'s. */
START_TEST(walk_queue)
{
	static const char *const one[] = { "run.threads=1", NULL };
	static const char *const two[] = { "run.threads=2", NULL };
	static const char *const many[] = { "run.threads=100", NULL };
	const char *const *conf[] = { one, two, many, two, many };
	enum { NCONF = 5 };
	struct readrun r[NCONF];
	size_t want = walk_corpus();

	for (int k = 0; k < NCONF; k++) {
		int fds = open_fds();
		uint64_t d[2];
		size_t n;

		if (k >= 3)
			setenv("PIPELINE_TEST_WALK_LINGER", "1", 1);
		read_corpus(&r[k], root, conf[k]);
		assert_read_ok(&r[k]);
		ck_assert_uint_eq(r[k].ctx.files.n, want);
		cache_listing_digest(&r[k].ctx.files, d);
		ck_assert(d[0] == r[k].ctx.files.digest[0] && d[1] == r[k].ctx.files.digest[1]);
		list_digest(root, conf[k], &n, d, &r[k]);
		ck_assert_uint_eq(n, want);
		ck_assert(d[0] == r[k].ctx.files.digest[0] && d[1] == r[k].ctx.files.digest[1]);
		unsetenv("PIPELINE_TEST_WALK_LINGER");
		/* Every folder the walks opened is closed. */
		ck_assert_int_eq(open_fds(), fds);
	}
	ck_assert_str_eq(r[0].ctx.files.rel[0], "big/f00000.txt");
	ck_assert_str_eq(r[0].ctx.files.rel[4100], "big/f04100.txt");
	ck_assert_str_eq(r[0].ctx.files.rel[want - 1], "d69/sub/h.txt");
	for (size_t i = 0; i < want; i++) {
		const struct fileinfo *x = &r[0].ctx.files.info[i];
		struct stat st;

		ck_assert_int_eq(stat(r[0].ctx.files.path[i], &st), 0);
		ck_assert_msg(x->size == (uint64_t)st.st_size &&
			      x->mtime_ns == cache_ts_ns(&st.st_mtim) &&
			      x->ctime_ns == cache_ts_ns(&st.st_ctim) &&
			      x->ino == (uint64_t)st.st_ino && x->dev == (uint64_t)st.st_dev,
			      "%s: not stat(2)'s data", r[0].ctx.files.rel[i]);
	}
	for (int k = 1; k < NCONF; k++)
		for (size_t i = 0; i < want; i++) {
			const struct fileinfo *x = &r[0].ctx.files.info[i];
			const struct fileinfo *y = &r[k].ctx.files.info[i];

			ck_assert_str_eq(r[0].ctx.files.rel[i], r[k].ctx.files.rel[i]);
			ck_assert_msg(x->size == y->size && x->mtime_ns == y->mtime_ns &&
				      x->ctime_ns == y->ctime_ns && x->ino == y->ino &&
				      x->dev == y->dev, "file %zu: stat data differ", i);
		}
	for (int k = 0; k < NCONF; k++)
		read_done(&r[k]);
}
END_TEST

/* A walk that fails after queueing work (a folder nested too deep, found
 * after the large folder and while others wait for their stats) drains
 * its queue, joins its threads and closes every folder it opened. */
START_TEST(walk_error)
{
	static const char *const two[] = { "run.threads=2", NULL };
	static const char *const many[] = { "run.threads=100", NULL };
	const char *const *conf[] = { two, many, two };
	char deep[4200];
	size_t len;

	(void)walk_corpus();
	len = (size_t)snprintf(deep, sizeof(deep), "zz");
	for (int i = 0; i < 70; i++)
		len += (size_t)snprintf(deep + len, sizeof(deep) - len, "/n");
	snprintf(deep + len, sizeof(deep) - len, "/deep.txt");
	test_write(root, deep, "Too deep.\n");
	for (int k = 0; k < 3; k++) {
		struct readrun r;
		int before = open_fds();

		if (k == 2)
			setenv("PIPELINE_TEST_WALK_LINGER", "1", 1);
		read_corpus(&r, root, conf[k]);
		unsetenv("PIPELINE_TEST_WALK_LINGER");
		assert_read_fails(&r, PL_EX_DATAERR, "nested deeper than 64", NULL);
		ck_assert_int_eq(open_fds(), before);
		read_done(&r);
	}
}
END_TEST


/* Out of memory at each allocation of a listing on 2 threads, helpers
 * running (a folder of 600 files is more than a unit of the queue), once
 * and from then on: the walk fails with exit 71 or succeeds, and leaves
 * no descriptor open (and nothing allocated: the sanitizer build's leak
 * check). */
START_TEST(walk_out_of_memory)
{
	static const char *const two[] = { "run.threads=2", NULL };
	unsigned long count;
	struct readrun r;
	char name[64];
	int fds;

	for (int i = 0; i < 600; i++) {
		snprintf(name, sizeof(name), "big/f%03d.txt", i);
		test_write(root, name, "Words.\n");
	}
	for (int i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "d%d/sub/g.txt", i);
		test_write(root, name, "More words.\n");
	}
	fds = open_fds();
	prepare_corpus(&r, root, two);
	assert_read_ok(&r);
	pl_alloc_fail_at(0, 0);
	ck_assert_int_eq(read_list_digest(&r.ctx, &r.err), 0);
	ck_assert_int_eq(read_plan(&r.ctx, &r.err), 0);
	count = pl_alloc_fail_at(0, 0);
	ck_assert_uint_eq(r.ctx.files.n, 610);
	read_done(&r);
	ck_assert_uint_gt(count, 20);
	for (int sticky = 0; sticky <= 1; sticky++)
		for (unsigned long n = 1; n <= count; n++) {
			int rc;

			prepare_corpus(&r, root, two);
			assert_read_ok(&r);
			pl_alloc_fail_at(n, sticky);
			rc = read_list_digest(&r.ctx, &r.err);
			if (rc == 0)
				rc = read_plan(&r.ctx, &r.err);
			pl_alloc_fail_at(0, 0);
			ck_assert_msg(rc == 0 ? r.ctx.files.n == 610 : r.err.code == PL_EX_OSERR,
				      "allocation %lu%s: rc %d, %zu files, exit %d: %s", n,
				      sticky ? " on" : "", rc, r.ctx.files.n, r.err.code,
				      r.err.msg);
			read_done(&r);
			ck_assert_int_eq(open_fds(), fds);
		}
}
END_TEST

/* A file read within a second of its change is settled at the end of a
 * run (cache_settle_racy) only when it is still the file that was read:
 * same stat data, same size and hash (of the bytes on disk, for gzip). */
START_TEST(settle_racy)
{
	/* In path order; old.txt was written a second before the others. */
	static const char *const names[] = { "kept.txt", "kept.txt.gz", "misread.txt",
					     "old.txt", "removed.txt", "rewritten.txt" };
	enum { KEPT, KEPT_GZ, MISREAD, OLD, REMOVED, REWRITTEN, N };
	static const char text[] = "Written just before the read.\n";
	struct fileinfo *info;
	struct readrun r;
	struct timespec ts;
	int64_t before[N], now;
	char path[4300];
	int young = 0;

	test_write(root, "old.txt", "Written a second before the read.\n");
	nanosleep(&(struct timespec){ 1, 100000000 }, NULL);
	for (int i = 0; i < N; i++) {
		snprintf(path, sizeof(path), "%s/%s", root, names[i]);
		if (i == KEPT_GZ)
			write_gz(path, text, sizeof(text) - 1);
		else if (i != OLD)
			test_write(root, names[i], text);
	}
	read_corpus(&r, root, NULL);
	assert_read_ok(&r);
	ck_assert_uint_eq(r.ctx.files.n, N);
	info = r.ctx.files.info;
	for (int i = 0; i < N; i++) {
		ck_assert_str_eq(r.ctx.files.rel[i], names[i]);
		ck_assert_msg(info[i].hashed_ns > 0, "%s: not hashed", names[i]);
		ck_assert_msg((info[i].ctime_ns < info[i].hashed_ns - 1000000000) == (i == OLD),
			      "%s: racy or not as written", names[i]);
		before[i] = info[i].hashed_ns;
	}
	/* A file changed less than a second before now cannot be settled. */
	cache_settle_racy(&r.ctx);
	clock_gettime(CLOCK_REALTIME, &ts);
	now = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	for (int i = 0; i < N; i++)
		if (info[i].ctime_ns >= now - 1000000000) {
			young++;
			ck_assert_msg(info[i].hashed_ns == before[i], "%s: settled too soon",
				      names[i]);
		}
	ck_assert_int_gt(young, 0); /* (else the machine was too slow to tell) */
	nanosleep(&(struct timespec){ 1, 100000000 }, NULL);
	/* Same bytes, new ctime; bytes that hash unlike what was read; gone. */
	test_write(root, "rewritten.txt", text);
	info[MISREAD].hash[0] ^= 1;
	snprintf(path, sizeof(path), "%s/removed.txt", root);
	ck_assert_int_eq(unlink(path), 0);
	cache_settle_racy(&r.ctx);
	for (int i = 0; i < N; i++) {
		int settled = i == KEPT || i == KEPT_GZ;

		ck_assert_msg((info[i].hashed_ns != before[i]) == settled,
			      "%s: hashed_ns %s", names[i], settled ? "kept" : "moved");
		if (settled)
			ck_assert(info[i].ctime_ns < info[i].hashed_ns - 1000000000);
	}
	read_done(&r);
}
END_TEST

/* Shards large enough that merging remaps and sorts their rows on two
 * threads (vocabulary_merge gives a thread 65536 entries or more): 1 and 3
 * read threads must give the same counts, term for term, every row's
 * columns ascending.  Runs of statements of stop words alone (empty rows)
 * sit where the shares begin and end. */
START_TEST(merge_threads)
{
	static const char *const one[] = { "run.threads=1", NULL };
	static const char *const three[] = { "run.threads=3", NULL };
	struct readrun a, b;
	uint64_t x = 12345;
	struct strbuf text = STRBUF_INIT;
	char name[64], word[16];

	for (int f = 0; f < 600; f++) {
		strbuf_reset(&text);
		if ((f >= 190 && f < 215) || (f >= 390 && f < 415) || f >= 590 ||
		    f % 50 == 7) {
			snprintf(name, sizeof(name), "d%03d.txt", f);
			test_write(root, name, "the and of the");
			continue;
		}
		for (int w = 0; w < 500; w++) {
			/* Words "wXXXX" from a skewed draw over 6000, so each
			 * shard meets the common ones in its own order. */
			x = x * 6364136223846793005ull + 1442695040888963407ull;
			snprintf(word, sizeof(word), "w%llu ",
				 (unsigned long long)((x >> 33) % (1 + (x >> 20) % 6000)));
			ck_assert_int_eq(strbuf_addstr(&text, word), 0);
		}
		snprintf(name, sizeof(name), "d%03d.txt", f);
		test_write(root, name, text.buf);
	}
	strbuf_release(&text);
	read_corpus(&a, root, one);
	assert_read_ok(&a);
	read_corpus(&b, root, three);
	assert_read_ok(&b);
	/* Each of the two shards holds about a third of the entries. */
	ck_assert_uint_gt(a.ctx.counts.nnz / 3, 65536);
	ck_assert_uint_eq(a.ctx.counts.rowptr[200], a.ctx.counts.rowptr[190]);
	ck_assert_uint_eq(a.ctx.counts.nrows, b.ctx.counts.nrows);
	ck_assert_uint_eq(a.ctx.counts.nnz, b.ctx.counts.nnz);
	ck_assert_uint_eq(a.ctx.vocab.tab.n, b.ctx.vocab.tab.n);
	for (size_t t = 0; t < a.ctx.vocab.tab.n; t++)
		ck_assert_str_eq(strtab_str(&a.ctx.vocab.tab, (uint32_t)t),
				 strtab_str(&b.ctx.vocab.tab, (uint32_t)t));
	for (size_t r = 0; r <= a.ctx.counts.nrows; r++)
		ck_assert_uint_eq(a.ctx.counts.rowptr[r], b.ctx.counts.rowptr[r]);
	for (size_t r = 0; r < b.ctx.counts.nrows; r++)
		for (uint64_t e = b.ctx.counts.rowptr[r]; e < b.ctx.counts.rowptr[r + 1]; e++) {
			ck_assert_uint_eq(a.ctx.counts.col[e], b.ctx.counts.col[e]);
			ck_assert_uint_eq(a.ctx.counts.cnt[e], b.ctx.counts.cnt[e]);
			ck_assert(e == b.ctx.counts.rowptr[r] ||
				  b.ctx.counts.col[e] > b.ctx.counts.col[e - 1]);
		}
	read_done(&a);
	read_done(&b);
}
END_TEST

START_TEST(gzip)
{
	static const char gz_text[] = "Gzip first.\n\nGzip second,\nstill second.\n";
	static const char plain[] = "Plain.\n";
	struct readrun r;
	char path[4300];

	snprintf(path, sizeof(path), "%s/g.txt.gz", root);
	write_gz(path, gz_text, strlen(gz_text));
	test_write(root, "p.txt", plain);
	read_corpus(&r, root, NULL);
	assert_read_ok(&r);
	assert_files(&r, "g.txt.gz|p.txt");
	ck_assert_uint_eq(r.ctx.files.bytes[0], strlen(gz_text));
	ck_assert_uint_eq(r.ctx.files.bytes[1], strlen(plain));
	ck_assert_uint_eq(r.ctx.rep.bytes, strlen(gz_text) + strlen(plain));
	ck_assert_uint_eq(r.ctx.units.n, 3);
	assert_unit(&r, 0, 0, 1, 1);
	assert_unit(&r, 1, 0, 2, 3);
	assert_unit(&r, 2, 1, 1, 1);
	assert_text(&r, 1, "Gzip second,\nstill second.");
	read_done(&r);
}
END_TEST

/* Damaged gzip files: cut in the middle, cut in the trailer, garbage after
 * a valid header.  Each is bad data naming the file. */
START_TEST(gzip_damaged)
{
	struct readrun r;
	char path[4300];
	static const char junk[] = "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03"
				   "this is not deflate data at all, not at all";
	char *text = filler(50000);
	struct stat st;

	snprintf(path, sizeof(path), "%s/a/bad.txt.gz", root);
	test_write(root, "0.txt", "A good file first.\n");
	test_write(root, "a/bad.txt.gz", "");
	write_gz(path, text, strlen(text));
	ck_assert_int_eq(stat(path, &st), 0);
	switch (_i) {
	case 0: /* cut in half */
		ck_assert_int_eq(truncate(path, st.st_size / 2), 0);
		break;
	case 1: /* the last 4 bytes (ISIZE) missing */
		ck_assert_int_eq(truncate(path, st.st_size - 4), 0);
		break;
	default: /* a gzip header, then bytes that are not deflate data */
		write_bytes(path, junk, sizeof(junk) - 1);
		break;
	}
	read_corpus(&r, root, NULL);
	assert_read_fails(&r, PL_EX_DATAERR, path, NULL);
	read_done(&r);
	free(text);
}
END_TEST

/* max_file_mb = 1: exactly 1 MiB is read, one byte more is bad data naming
 * the file and the key; for gzip the limit is on the decompressed size. */
START_TEST(max_file_mb)
{
	static const char *const one_mb[] = { "corpus.max_file_mb=1", NULL };
	struct readrun r;
	char path[4300];
	char *text = filler(1u << 20);

	test_write(root, "ok.txt", text);
	read_corpus(&r, root, one_mb);
	assert_read_ok(&r);
	ck_assert_uint_eq(r.ctx.files.bytes[0], 1u << 20);
	read_done(&r);
	free(text);

	text = filler((1u << 20) + (1u << 20) / 10); /* 1.1 MiB */
	test_write(root, "z/big.txt", text);
	snprintf(path, sizeof(path), "%s/z/big.txt", root);
	read_corpus(&r, root, one_mb);
	assert_read_fails(&r, PL_EX_DATAERR, path, "max_file_mb");
	read_done(&r);
	ck_assert_int_eq(unlink(path), 0);

	snprintf(path, sizeof(path), "%s/z/big.txt.gz", root);
	write_gz(path, text, strlen(text));
	read_corpus(&r, root, one_mb);
	assert_read_fails(&r, PL_EX_DATAERR, path, "max_file_mb");
	read_done(&r);
	free(text);
}
END_TEST

static const char para_file[] =
	"First para line one.\n"   /* 1  paragraph 1 */
	"first para line two.\n"   /* 2 */
	"\n"                       /* 3 */
	"   \t\n"                  /* 4  blank: spaces and a tab */
	"Share now\n"              /* 5  paragraph 2, all boilerplate */
	"\n"                       /* 6 */
	"Share now\n"              /* 7  paragraph 3 starts with boilerplate */
	"Third para text.\n"       /* 8  ... so its text starts here */
	"\n"                       /* 9 */
	"Fourth one.\n"            /* 10 paragraph 4 */
	"Share now\n"              /* 11 boilerplate inside a paragraph */
	"Fourth two.\n"            /* 12 */
	"\n\n"                     /* 13, 14 */
	"Fifth.";                  /* 15 paragraph 5, no final newline */

START_TEST(paragraphs)
{
	struct readrun r;
	char bp[4300], o[4400];
	const char *extra[] = { "corpus.unit=paragraph", o, NULL };

	test_write(tmp, "bp.regex", "# furniture\n\n^Share now$\n");
	snprintf(bp, sizeof(bp), "%s/bp.regex", tmp);
	snprintf(o, sizeof(o), "corpus.boilerplate=%s", bp);
	test_write(root, "1.txt", para_file);
	test_write(root, "2.txt", "\n\nSecond file, paragraph one.\n\n");
	read_corpus(&r, root, extra);
	assert_read_ok(&r);
	ck_assert_uint_eq(r.ctx.units.n, 5);
	/* Paragraph 2 was all boilerplate: no statement, but it is counted,
	 * so the next one is paragraph 3, as a reader of the file counts. */
	assert_unit(&r, 0, 0, 1, 1);
	assert_unit(&r, 1, 0, 3, 8);
	assert_unit(&r, 2, 0, 4, 10);
	assert_unit(&r, 3, 0, 5, 15);
	assert_unit(&r, 4, 1, 1, 3);   /* numbering starts again per file */
	ck_assert_uint_eq(r.ctx.rep.boilerplate_lines, 3);
	assert_text(&r, 0, "First para line one.\nfirst para line two.");
	assert_text(&r, 1, "Third para text.");
	assert_text(&r, 2, "Fourth one.\nFourth two.");
	assert_text(&r, 3, "Fifth.");
	assert_text(&r, 4, "Second file, paragraph one.");
	/* Quoting a statement does not count its boilerplate again. */
	ck_assert_uint_eq(r.ctx.rep.boilerplate_lines, 3);
	read_done(&r);
}
END_TEST

START_TEST(crlf)
{
	struct readrun r;
	char o[4400];
	const char *extra[] = { o, NULL };

	test_write(tmp, "bp.regex", "^Share now$\r\n");
	snprintf(o, sizeof(o), "corpus.boilerplate=%s/bp.regex", tmp);
	test_write(root, "w.txt",
		   "Alpha line.\r\nBeta line.\r\n\r\n"  /* lines 1-3 */
		   "Share now\r\n \r\n"                /* lines 4-5 */
		   "Gamma.\r\n");                      /* line 6 */
	read_corpus(&r, root, extra);
	assert_read_ok(&r);
	ck_assert_uint_eq(r.ctx.units.n, 2);
	assert_unit(&r, 0, 0, 1, 1);
	assert_unit(&r, 1, 0, 3, 6);
	ck_assert_uint_eq(r.ctx.rep.boilerplate_lines, 1);
	assert_text(&r, 0, "Alpha line.\nBeta line.");
	assert_text(&r, 1, "Gamma.");
	read_done(&r);
}
END_TEST

START_TEST(bad_boilerplate)
{
	struct readrun r;
	char bp[4300], where[4400], o[4400];
	const char *extra[] = { o, NULL };

	test_write(root, "a.txt", "Text.\n");
	test_write(tmp, "bp.regex", "# patterns\n^ok$\n([unclosed\n^fine$\n");
	snprintf(bp, sizeof(bp), "%s/bp.regex", tmp);
	snprintf(o, sizeof(o), "corpus.boilerplate=%s", bp);
	snprintf(where, sizeof(where), "%s:3: ", bp);
	read_corpus(&r, root, extra);
	assert_read_fails(&r, PL_EX_CONFIG, where, "bad pattern '([unclosed'");
	read_done(&r);

	snprintf(o, sizeof(o), "corpus.boilerplate=%s/missing.regex", tmp);
	snprintf(where, sizeof(where), "%s/missing.regex", tmp);
	read_corpus(&r, root, extra);
	assert_read_fails(&r, PL_EX_NOINPUT, where, "boilerplate");
	read_done(&r);
}
END_TEST

START_TEST(documents)
{
	static const char *const doc[] = { "corpus.unit=document", NULL };
	struct readrun r;
	struct pl_error err = { 0, "" };
	char *text = NULL;
	size_t len = 0;

	test_write(root, "a.txt", "Ex.\n\nWhy.\n");
	test_write(root, "b.txt", "");
	test_write(root, "c.txt", "\n\nZed.\n");
	test_write(root, "d.txt", "\n \n");
	read_corpus(&r, root, doc);
	assert_read_ok(&r);
	ck_assert_uint_eq(r.ctx.units.n, 4);   /* even the empty files */
	assert_unit(&r, 0, 0, 0, 1);
	assert_unit(&r, 1, 1, 0, 1);
	assert_unit(&r, 2, 2, 0, 3);
	assert_unit(&r, 3, 3, 0, 1);
	ck_assert_int_eq(read_unit_text(&r.ctx, 0, &text, &len, &err), 0);
	ck_assert_msg(strstr(text, "Ex.") && strstr(text, "Why."), "'%s'", text);
	ck_assert_msg(strstr(text, "Why.") > strstr(text, "Ex."), "'%s'", text);
	pl_free(text);
	assert_text(&r, 1, "");
	assert_text(&r, 2, "Zed.");
	read_done(&r);
}
END_TEST

START_TEST(no_input)
{
	struct readrun r;
	char dir[4300];

	read_corpus(&r, root, NULL);
	assert_read_fails(&r, PL_EX_NOINPUT, root, "no *.txt");
	read_done(&r);

	test_write(root, ".hidden.txt", "Hidden.\n");
	test_write(root, "sub/notes.md", "Markdown.\n");
	read_corpus(&r, root, NULL);
	assert_read_fails(&r, PL_EX_NOINPUT, root, "no *.txt");
	read_done(&r);

	snprintf(dir, sizeof(dir), "%s/absent", tmp);
	read_corpus(&r, dir, NULL);
	assert_read_fails(&r, PL_EX_NOINPUT, dir, "corpus folder");
	read_done(&r);

	snprintf(dir, sizeof(dir), "%s/sub/notes.md", root);
	read_corpus(&r, dir, NULL);
	assert_read_fails(&r, PL_EX_NOINPUT, dir, "not a folder");
	read_done(&r);
}
END_TEST

/* A corpus of root's files with path (one of them, "Second statement.")
 * listed and planned, then swapped for a FIFO (link NULL) or a symbolic
 * link to `link` before the read: the read fails, naming path as not a
 * regular file. */
static void read_swapped(struct readrun *r, const char *path, const char *link)
{
	const char *base = strrchr(path, '/') + 1;

	test_write(root, base, "Second statement.\n");
	prepare_corpus(r, root, NULL);
	assert_read_ok(r);
	ck_assert_msg(read_plan(&r->ctx, &r->err) == 0, "%s", r->err.msg);
	ck_assert_uint_eq(r->ctx.files.n, 2);
	ck_assert_int_eq(unlink(path), 0);
	if (link)
		ck_assert_int_eq(symlink(link, path), 0);
	else
		ck_assert_int_eq(mkfifo(path, 0666), 0);
	r->ctx.stage = 0;
	r->rc = stage_read.run(&r->ctx, &r->err);
	r->ctx.stage = -1;
	assert_read_fails(r, PL_EX_NOINPUT, path, "not a regular file");
	read_done(r);
}

/* A FIFO where a file was listed: the read fails at once, naming it,
 * rather than wait for a writer forever while the run holds the output
 * folder's lock.  So do the content hash of a rerun and a read of a list
 * file. */
START_TEST(never_waits)
{
	struct readrun r;
	struct strbuf sb = STRBUF_INIT;
	struct pl_error err = { 0, "" };
	uint8_t hash[16];
	uint64_t size;
	char path[4300];

	test_write(root, "a.txt", "First statement.\n");
	snprintf(path, sizeof(path), "%s/b.txt", root);
	read_swapped(&r, path, NULL);
	/* A device without end (a link to /dev/zero) in a file's place:
	 * not read to max_file_mb, but named as what it is. */
	ck_assert_int_eq(unlink(path), 0);
	read_swapped(&r, path, "/dev/zero");
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(mkfifo(path, 0666), 0);

	ck_assert_int_eq(pl_hash_path(path, UINT64_MAX, hash, &size, &err), -1);
	ck_assert_int_eq(err.code, PL_EX_NOINPUT);
	ck_assert_msg(strstr(err.msg, "not a regular file"), "%s", err.msg);
	ck_assert_int_eq(read_file_bytes(path, 1 << 20, &sb, &err), -1);
	ck_assert_int_eq(err.code, PL_EX_NOINPUT);
	strbuf_release(&sb);
}
END_TEST

/* The content hash reads no more than its limit and one byte: a file
 * that a writer keeps growing (a log in the corpus folder) must not keep
 * a rerun hashing it for as long as it grows.  What it returns is the
 * hash of what it read, and that length, over the limit. */
START_TEST(hash_stops_past_limit)
{
	struct pl_error err = { 0, "" };
	uint8_t hash[16], want[16];
	uint64_t size;
	size_t len = (size_t)300 << 10;
	char *data = malloc(len), path[4300];
	FILE *fp;

	ck_assert_ptr_nonnull(data);
	for (size_t i = 0; i < len; i++)
		data[i] = (char)('a' + i * 7 % 26);
	snprintf(path, sizeof(path), "%s/long.txt", root);
	fp = fopen(path, "wb");
	ck_assert_ptr_nonnull(fp);
	ck_assert_uint_eq(fwrite(data, 1, len, fp), len);
	ck_assert_int_eq(fclose(fp), 0);

	/* Under the limit (and at it): the whole file. */
	pl_hash_bytes(data, len, want);
	ck_assert_int_eq(pl_hash_path(path, len, hash, &size, &err), 0);
	ck_assert_uint_eq(size, len);
	ck_assert_mem_eq(hash, want, 16);
	ck_assert_int_eq(pl_hash_path(path, UINT64_MAX, hash, &size, &err), 0);
	ck_assert_uint_eq(size, len);
	ck_assert_mem_eq(hash, want, 16);
	/* Over it, within the first block and past it. */
	for (uint64_t limit = 0; limit < len; limit += 150001) {
		ck_assert_int_eq(pl_hash_path(path, limit, hash, &size, &err), 0);
		ck_assert_uint_eq(size, limit + 1);
		pl_hash_bytes(data, (size_t)limit + 1, want);
		ck_assert_mem_eq(hash, want, 16);
	}
	ck_assert_int_eq(pl_hash_path(path, len - 1, hash, &size, &err), 0);
	ck_assert_uint_eq(size, len);
	free(data);
}
END_TEST

/* A list or config file is read to its limit and one byte at most,
 * whatever its size said when it was opened: a file that grows while it
 * is read must not keep a run reading.  /proc/self/status stands in for
 * one: stat gives it 0 bytes and a read gives more than 100. */
START_TEST(small_file_capped_as_read)
{
	const char *why = NULL;
	int code = 0;
	FILE *fp = pl_fopen_small("/proc/self/status", 100, PL_EX_DATAERR, &why, &code);
	char *line = NULL;
	size_t cap = 0, lines = 0;

	ck_assert_ptr_null(fp);
	ck_assert_int_eq(code, PL_EX_DATAERR);
	ck_assert_msg(strstr(why, "more than its size said"), "%s", why);
	/* Within its limit, the stream reads the whole file, line by line. */
	fp = pl_fopen_small("/proc/self/status", 1 << 20, PL_EX_DATAERR, &why, &code);
	ck_assert_ptr_nonnull(fp);
	while (getline(&line, &cap, fp) >= 0)
		lines += strncmp(line, "Name:", 5) == 0 || strncmp(line, "Pid:", 4) == 0;
	ck_assert_uint_eq(lines, 2);
	ck_assert_int_eq(ferror(fp), 0);
	fclose(fp);
	free(line);
	/* A read that fails (/proc/self/mem at address 0: EIO) is an I/O
	 * error, not a list that ends there. */
	fp = pl_fopen_small("/proc/self/mem", 1 << 20, PL_EX_DATAERR, &why, &code);
	ck_assert_ptr_null(fp);
	ck_assert_int_eq(code, PL_EX_IOERR);
	ck_assert_msg(strstr(why, "Input/output error"), "%s", why);
	/* An empty file: a stream at its end. */
	{
		char path[4300];

		snprintf(path, sizeof(path), "%s/empty.lst", root);
		fp = fopen(path, "w");
		ck_assert_ptr_nonnull(fp);
		fclose(fp);
		fp = pl_fopen_small(path, 100, PL_EX_DATAERR, &why, &code);
		ck_assert_ptr_nonnull(fp);
		ck_assert_int_eq(fgetc(fp), EOF);
		ck_assert_int_eq(ferror(fp), 0);
		fclose(fp);
	}
}
END_TEST

START_TEST(unit_text_bad_id)
{
	struct readrun r;
	struct pl_error err = { 0, "" };
	char *text = (char *)"x";
	size_t len = 1;

	test_write(root, "a.txt", "Solitary statement.\n");
	read_corpus(&r, root, NULL);
	assert_read_ok(&r);
	ck_assert_int_eq(read_unit_text(&r.ctx, 1, &text, &len, &err), -1);
	ck_assert_ptr_null(text);
	ck_assert_uint_eq(len, 0);
	ck_assert_int_eq(err.code, PL_EX_SOFTWARE);
	read_done(&r);
}
END_TEST

/* A statement with no kept word (only stop words, or too short) is still a
 * statement, also when it is the first one read. */
START_TEST(no_words_first)
{
	struct readrun r;

	test_write(root, "a.txt", "Why?\n\nThe.\n\nA backdoor debate.\n");
	test_write(root, "b.txt", "Is it?\n");
	read_corpus(&r, root, NULL);
	assert_read_ok(&r);
	ck_assert_uint_eq(r.ctx.units.n, 4);
	assert_unit(&r, 0, 0, 1, 1);
	assert_unit(&r, 1, 0, 2, 3);
	assert_unit(&r, 2, 0, 3, 5);
	assert_unit(&r, 3, 1, 1, 1);
	ck_assert_uint_eq(r.ctx.units.ntok[0], 0);
	ck_assert_uint_gt(r.ctx.units.ntok[2], 0);
	assert_text(&r, 0, "Why?");
	read_done(&r);
}
END_TEST

Suite *suite_read(void)
{
	Suite *s = suite_create("read");
	TCase *tc;

	tc = tcase_create("files");
	tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
	tcase_add_test(tc, sorted_recursive);
	tcase_add_test(tc, trailing_slash);
	tcase_add_test(tc, symlinks);
	tcase_add_test(tc, large_folder);
	tcase_add_test(tc, walk_queue);
	tcase_add_test(tc, walk_error);
	tcase_add_test(tc, walk_out_of_memory);
	tcase_add_test(tc, settle_racy);
	tcase_add_test(tc, merge_threads);
	tcase_add_test(tc, gzip);
	tcase_add_loop_test(tc, gzip_damaged, 0, 3);
	tcase_add_test(tc, max_file_mb);
	tcase_add_test(tc, no_input);
	tcase_add_test(tc, never_waits);
	tcase_add_test(tc, hash_stops_past_limit);
	tcase_add_test(tc, small_file_capped_as_read);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);

	tc = tcase_create("statements");
	tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
	tcase_add_test(tc, paragraphs);
	tcase_add_test(tc, crlf);
	tcase_add_test(tc, bad_boilerplate);
	tcase_add_test(tc, documents);
	tcase_add_test(tc, unit_text_bad_id);
	tcase_add_test(tc, no_words_first);
	suite_add_tcase(s, tc);
	return s;
}
