/* check_faults.c -- the whole pipeline under injected failures
 *
 * A tiny corpus (3 short files) and config in a temporary folder; every
 * run goes through config_init, config_load, the -c overrides
 * run.threads=1 (so the allocation sequence is the same each time) and
 * output.dir=..., ctx_run, ctx_release and config_release, as `pipeline
 * run` does.  After one good run the outputs are copied; then
 *
 *   out of memory  every allocation in turn fails, once (sticky = 0) and
 *                  from there on (sticky = 1): the run succeeds, or fails
 *                  with 71;
 *   out of disk    every output operation in turn (open, write, start
 *                  of writeback, close, each file's fsync before publish,
 *                  publish's backup link and rename, the folder fsync;
 *                  pl_io_fail_at) fails with ENOSPC, then EIO: the run
 *                  fails with 73 (open, link, rename: "cannot create") or
 *                  74 (write, writeback, close: "write error"; fsync), and the
 *                  message names the errno;
 *
 * and after each run the previous outputs are byte-identical (a run that
 * succeeded must give the same bytes; run.json is re-copied then), there
 * is no .staging.* folder left, and `make check SANITIZE=1` finds no
 * leak.  Allocations made by libraries with plain malloc (GSL, libstemmer,
 * zlib) cannot be injected.
 *
 * The case "blocks" checks the allocator's big blocks (util.c): a block of
 * PL_BIG_MIN bytes or more is a 2 MiB-aligned mapping that keeps its
 * bytes when it grows in place, when it has to move, when it shrinks (to
 * below PL_BIG_MIN too) and when it comes from malloc, from several
 * threads at once.  Under AddressSanitizer every block is malloc's; the checks of the
 * bytes still run.
 *
 * To debug one case: CK_RUN_SUITE=faults CK_RUN_CASE=memory CK_FORK=no.
 * FAULTS_VERBOSE=1 prints the counts.
 */
/* MAP_ANONYMOUS */
#define _GNU_SOURCE
#include "lib.h"
#include "../pipeline/outdir.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static char *dir;               /* the test's folder (malloc) */
static char conf[4096];         /* dir/faults.conf */
static char outdir[4096];       /* dir/out */
static char outset[4200];       /* "output.dir=dir/out" */

/* A copy of the output folder: plain malloc, never pl_malloc, so that the
 * copies do not move the allocation count. */
struct snap {
	size_t n;
	char *name[64];
	char *data[64];
	size_t len[64];
};
/* Full runs for the output tests (each run rewrites every output); the
 * rerun tests switch the cache on. */
static const char *incremental = "output.incremental=no";
static struct snap good;  /* the previous outputs, as now on disk */
static struct snap real;  /* what a good run writes */

static const char conf_text[] =
	"[corpus]\n"
	"dir = corpus\n"
	"unit = paragraph\n"
	"[phrases]\n"
	"ngram = 1..2\n"
	"backdoor = backdoor, back door\n"
	"double_standard = double standard\n"
	"[kmeans]\n"
	"k = 2..3\n"
	"restarts = 2\n"
	"[frames]\n"
	"surveillance = surveillance, spy, intercept\n"
	"double_standard = double standard, hypocrisy\n"
	"[output]\n"
	"snippets = 1\n";

static void setup(void)
{
	dir = test_tmpdir();
	test_write(dir, "corpus/a.txt",
		   "We will not build backdoors into encryption. Surveillance must be lawful.\n"
		   "\n"
		   "Critics call it a double standard: surveillance for us, not them.\n");
	test_write(dir, "corpus/b.txt",
		   "China rejects the double standard of the Five Eyes who demand back doors.\n"
		   "\n"
		   "Spying and intercepting data threaten privacy and security.\n");
	test_write(dir, "corpus/sub/c.txt",
		   "Encryption protects users; back door demands are hypocrisy.\n"
		   "\n"
		   "Lawful access and surveillance of encrypted apps.\n");
	test_write(dir, "faults.conf", conf_text);
	incremental = "output.incremental=no";
	snprintf(conf, sizeof(conf), "%s/faults.conf", dir);
	snprintf(outdir, sizeof(outdir), "%s/out", dir);
	snprintf(outset, sizeof(outset), "output.dir=%s", outdir);
	memset(&good, 0, sizeof(good));
}

static void snap_release(struct snap *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->name[i]);
		free(s->data[i]);
	}
	memset(s, 0, sizeof(*s));
}

static void teardown(void)
{
	pl_alloc_fail_at(0, 0);
	pl_io_fail_at(0, 0);
	snap_release(&good);
	snap_release(&real);
	test_rmtree(dir);
	free(dir);
}

/* One `pipeline -c run.threads=1 -c output.dir=OUT run faults.conf`. */
static int run_pipeline(struct pl_error *err)
{
	struct config cfg;
	struct ctx ctx;
	int rc;

	memset(&cfg, 0, sizeof(cfg));
	memset(err, 0, sizeof(*err));
	rc = config_init(&cfg, err);
	if (rc == 0)
		rc = config_load(&cfg, conf, err);
	if (rc == 0)
		rc = config_override(&cfg, "run.threads=1", err);
	if (rc == 0)
		rc = config_override(&cfg, incremental, err);
	if (rc == 0)
		rc = config_override(&cfg, outset, err);
	if (rc == 0)
		rc = config_validate(&cfg, err);
	if (rc == 0) {
		ctx_init(&ctx, &cfg);
		ctx.quiet = 1;
		rc = ctx_run(&ctx, err);
		ctx_release(&ctx);
	}
	config_release(&cfg);
	return rc;
}

static char *read_raw(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	size_t cap = 1 << 14, n = 0, got;
	char *buf;

	ck_assert_msg(fp != NULL, "%s: cannot open", path);
	buf = malloc(cap);
	ck_assert_ptr_nonnull(buf);
	while ((got = fread(buf + n, 1, cap - n, fp)) > 0) {
		n += got;
		if (n == cap) {
			cap *= 2;
			buf = realloc(buf, cap);
			ck_assert_ptr_nonnull(buf);
		}
	}
	fclose(fp);
	*len = n;
	return buf;
}

/* Copy every output of the output folder (each a link through `current`,
 * output/README.md); the only dot entry may be the lock, and sets/ may
 * hold only the current set and the one it replaced: no dead set. */
static void snap_take(struct snap *s)
{
	DIR *d = opendir(outdir);
	struct dirent *de;
	char path[8192];
	struct stat st;

	ck_assert_ptr_nonnull(d);
	snap_release(s);
	/* No half-written set: each one left has its manifest (pruning the
	 * old ones is best effort, so there may be more than two). */
	snprintf(path, sizeof(path), "%s/sets", outdir);
	{
		DIR *sd = opendir(path);
		struct dirent *se;

		while (sd && (se = readdir(sd)) != NULL) {
			char m[8192 + 300];
			struct stat ms;

			if (se->d_name[0] == '.')
				continue;
			snprintf(m, sizeof(m), "%s/%s/manifest.tsv", path, se->d_name);
			ck_assert_msg(stat(m, &ms) == 0, "%s/%s: a half-written set left",
				      path, se->d_name);
		}
		if (sd)
			closedir(sd);
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
		    strcmp(de->d_name, ".lock") == 0)
			continue;
		ck_assert_msg(de->d_name[0] != '.', "%s/%s left behind", outdir,
			      de->d_name);
		ck_assert_uint_lt(s->n, 64);
		snprintf(path, sizeof(path), "%s/%s", outdir, de->d_name);
		if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
			continue; /* current, sets, runs */
		s->name[s->n] = strdup(de->d_name);
		s->data[s->n] = read_raw(path, &s->len[s->n]);
		s->n++;
	}
	closedir(d);
}

static const char *what;  /* the case being run, for messages */

/* The output folder holds exactly the files of `s`, with the same bytes
 * (run.json too unless `any_report`); no staging folder. */
static void snap_check(const struct snap *s, int any_report)
{
	struct snap now = { 0 };

	snap_take(&now);
	ck_assert_msg(now.n == s->n, "%s: %zu files, expected %zu", what, now.n, s->n);
	for (size_t i = 0; i < s->n; i++) {
		size_t j = 0;

		while (j < now.n && strcmp(now.name[j], s->name[i]) != 0)
			j++;
		ck_assert_msg(j < now.n, "%s: %s missing", what, s->name[i]);
		/* run.json holds timings, manifest.tsv the run's id */
		if (any_report && (strcmp(s->name[i], "run.json") == 0 ||
				   strcmp(s->name[i], "manifest.tsv") == 0))
			continue;
		ck_assert_msg(now.len[j] == s->len[i] &&
			      memcmp(now.data[j], s->data[i], s->len[i]) == 0,
			      "%s: %s changed", what, s->name[i]);
	}
	snap_release(&now);
}

static int verbose(void)
{
	const char *v = getenv("FAULTS_VERBOSE");

	return v && v[0] && strcmp(v, "0") != 0;
}

/* Make the previous outputs differ from what a run writes (a line added
 * to each), so that a file left published by a failed run shows, and copy
 * them into `good`. */
static void mark_outputs(void)
{
	char path[8192];

	for (size_t i = 0; i < real.n; i++) {
		FILE *fp;

		snprintf(path, sizeof(path), "%s/%s", outdir, real.name[i]);
		fp = fopen(path, "ab");
		ck_assert_ptr_nonnull(fp);
		fputs("previous\n", fp);
		ck_assert_int_eq(fclose(fp), 0);
	}
	snap_take(&good);
}

/* A good run, its outputs copied into `real`, then marked as previous
 * outputs (`good`); returns the allocations (and through *io the output
 * operations) it made. */
static unsigned long good_run(unsigned long *io)
{
	struct pl_error err;
	unsigned long n;

	pl_alloc_fail_at(0, 0);
	pl_io_fail_at(0, 0);
	ck_assert_msg(run_pipeline(&err) == 0, "%s", err.msg);
	n = pl_alloc_fail_at(0, 0);
	*io = pl_io_fail_at(0, 0);
	snap_take(&real);
	ck_assert_uint_ge(real.n, 10);
	mark_outputs();
	return n;
}

START_TEST(test_out_of_memory)
{
	unsigned long io, count = good_run(&io), failed = 0, ok = 0;
	char msg[128];

	ck_assert_uint_gt(count, 100);
	what = msg;
	for (int sticky = 0; sticky <= 1; sticky++) {
		for (unsigned long n = 1; n <= count; n++) {
			struct pl_error err;
			int rc;

			snprintf(msg, sizeof(msg), "allocation %lu of %lu%s", n,
				 count, sticky ? " on" : "");
			pl_alloc_fail_at(n, sticky);
			rc = run_pipeline(&err);
			pl_alloc_fail_at(0, 0);
			if (rc == 0) {
				/* The failure was absorbed: same outputs. */
				snap_check(&real, 1);
				snap_take(&real);
				mark_outputs();
				ok++;
				continue;
			}
			ck_assert_msg(rc == -1 && err.code == PL_EX_OSERR,
				      "%s: rc %d, exit code %d: %s", msg, rc,
				      err.code, err.msg);
			snap_check(&good, 0);
			failed++;
		}
	}
	if (verbose())
		fprintf(stderr, "faults: %lu allocations; %lu runs failed with 71, "
			"%lu succeeded\n", count, failed, ok);
	/* Every allocation of the run matters except a few absorbed ones. */
	ck_assert_uint_gt(failed, count);
}
END_TEST

/* Whether an fsync of `name` failed among the messages in fsynced[]. */
static int was_fsynced(char (*fsynced)[1024], size_t n, const char *name)
{
	char want[1100];

	snprintf(want, sizeof(want), "/%s: fsync: ", name);
	for (size_t i = 0; i < n; i++)
		if (strstr(fsynced[i], want))
			return 1;
	return 0;
}

/* Every file of the published set (as its manifest lists them, and the
 * manifest itself) is fsynced before it is published: a failure was
 * injected into an fsync of each (common.c, "Durability"). */
static void check_all_fsynced(char (*fsynced)[1024], size_t n)
{
	char path[8192], line[1024];
	FILE *fp;
	size_t files = 0;

	snprintf(path, sizeof(path), "%s/current/manifest.tsv", outdir);
	fp = fopen(path, "r");
	ck_assert_msg(fp != NULL, "%s: cannot open", path);
	while (fgets(line, sizeof(line), fp)) {
		char *tab = strchr(line, '\t');

		if (line[0] == '#' || !tab || strncmp(line, "file\t", 5) == 0)
			continue;
		*tab = '\0';
		ck_assert_msg(was_fsynced(fsynced, n, line),
			      "%s is published without an fsync", line);
		files++;
	}
	fclose(fp);
	ck_assert_uint_gt(files, 5);
	ck_assert_msg(was_fsynced(fsynced, n, "manifest.tsv"),
		      "manifest.tsv is published without an fsync");
}

/* Every output operation fails in turn with `e`; with `fresh`, the output
 * folder is emptied first, and must stay empty. */
static unsigned long io_faults(int e, int fresh)
{
	unsigned long io, n;
	char msg[128];
	struct snap empty = { 0 };
	static char fsynced[256][1024];
	size_t nfsynced = 0;

	good_run(&io);
	ck_assert_uint_gt(io, 20);
	what = msg;
	if (fresh) {
		test_rmtree(outdir);
		ck_assert_int_eq(mkdir(outdir, 0777), 0);
	}
	for (n = 1; n <= io; n++) {
		struct pl_error err;
		int rc;

		snprintf(msg, sizeof(msg), "%soutput operation %lu of %lu, %s",
			 fresh ? "fresh folder, " : "", n, io, strerror(e));
		pl_io_fail_at(n, e);
		rc = run_pipeline(&err);
		ck_assert_uint_ge(pl_io_fail_at(0, 0), n);
		ck_assert_msg(rc == -1, "%s: the run succeeded", msg);
		ck_assert_msg(err.code == PL_EX_IOERR || err.code == PL_EX_CANTCREAT,
			      "%s: exit code %d: %s", msg, err.code, err.msg);
		ck_assert_msg((err.code == PL_EX_CANTCREAT) ==
			      (strstr(err.msg, "cannot create") ||
			       strstr(err.msg, "cannot back up") ||
			       strstr(err.msg, "cannot publish")),
			      "%s: exit code %d for: %s", msg, err.code, err.msg);
		ck_assert_msg(strstr(err.msg, strerror(e)) != NULL,
			      "%s: message lacks the errno: %s", msg, err.msg);
		if (strstr(err.msg, ": fsync: ") && nfsynced < 256)
			snprintf(fsynced[nfsynced++], sizeof(fsynced[0]), "%s", err.msg);
		snap_check(fresh ? &empty : &good, 0);
	}
	if (!fresh)
		check_all_fsynced(fsynced, nfsynced);
	if (verbose())
		fprintf(stderr, "faults: %lu output operations failed with %s%s\n",
			io, strerror(e), fresh ? " (fresh folder)" : "");
	return io;
}

START_TEST(test_out_of_disk)
{
	io_faults(ENOSPC, 0);
}
END_TEST

START_TEST(test_io_error)
{
	io_faults(EIO, 0);
}
END_TEST

START_TEST(test_io_fresh)
{
	io_faults(ENOSPC, 1);
}
END_TEST

/* A killed run's half-written set is removed by the next run, and the
 * outputs are the last good run's. */
START_TEST(test_stale_staging)
{
	struct pl_error err;
	char path[8192];
	struct stat st;
	unsigned long io;

	good_run(&io);
	snprintf(path, sizeof(path), "%s/sets/20000101T000000Z-999999999", outdir);
	ck_assert_int_eq(mkdir(path, 0777), 0);
	test_write(path, "docs.tsv", "half a file");
	test_write(path, "cache.idx", "half an index");
	ck_assert_msg(run_pipeline(&err) == 0, "%s", err.msg);
	ck_assert_int_ne(stat(path, &st), 0);
	what = "after a killed run's set";
	snap_check(&real, 1);
}
END_TEST

/* The target of out/current. */
static void current_of(char *buf, size_t size)
{
	char path[8192];
	ssize_t n;

	snprintf(path, sizeof(path), "%s/current", outdir);
	n = readlink(path, buf, size - 1);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
}

/* Point out/current back to `target` (a rerun that succeeded published
 * another set; the next case starts from the first one again). */
static void restore_current(const char *target)
{
	char path[8192], tmp[8192], now[512];

	current_of(now, sizeof(now));
	snprintf(tmp, sizeof(tmp), "%s/current.tmp", outdir);
	snprintf(path, sizeof(path), "%s/current", outdir);
	ck_assert_int_eq(symlink(target, tmp), 0);
	ck_assert_int_eq(rename(tmp, path), 0);
	snprintf(path, sizeof(path), "%s/%s", outdir, now);
	test_rmtree(path);
	/* and its report, so that a rerun in the same second may reuse the id */
	snprintf(path, sizeof(path), "%s/runs/%s.json", outdir, now + 5);
	unlink(path);
}

/*
 * A rerun (the cache replays three files, one new file is read) with every
 * allocation (memory) or every output operation (errno e) failing in turn:
 * each failed rerun exits 71, or 73/74, and leaves `current` on the last
 * good set, which still matches its manifest (outdir_verify); a rerun
 * that absorbs the failure publishes a sound set.  The loop ends at the
 * first rerun with nothing left to fail.  Returns the reruns that failed.
 */
static unsigned long rerun_faults(int memory, int e)
{
	char first[512], now[512], msg[256];
	unsigned long n, failed = 0;
	FILE *null = fopen("/dev/null", "w");

	incremental = "output.incremental=yes";
	{
		struct pl_error err;

		ck_assert_msg(run_pipeline(&err) == 0, "%s", err.msg);
	}
	current_of(first, sizeof(first));
	test_write(dir, "corpus/d.txt",
		   "A new statement on surveillance and back doors.\n\n"
		   "Five Eyes partners deny any double standard.\n");
	what = msg;
	for (n = 1;; n++) {
		struct pl_error err;
		unsigned long made;
		size_t bad = 0;
		int rc;

		snprintf(msg, sizeof(msg), "rerun, %s %lu", memory ? "allocation" :
			 strerror(e), n);
		if (memory)
			pl_alloc_fail_at(n, 0);
		else
			pl_io_fail_at(n, e);
		rc = run_pipeline(&err);
		made = memory ? pl_alloc_fail_at(0, 0) : pl_io_fail_at(0, 0);
		current_of(now, sizeof(now));
		if (rc == 0) {
			ck_assert_msg(strcmp(now, first) != 0, "%s: nothing published", msg);
			ck_assert_msg(outdir_verify(outdir, null, &bad, &err) == 0 &&
				      bad == 0, "%s: the new set does not verify", msg);
			if (made < n)
				break;
			restore_current(first);
			continue;
		}
		failed++;
		ck_assert_msg(memory ? err.code == PL_EX_OSERR :
			      err.code == PL_EX_IOERR || err.code == PL_EX_CANTCREAT,
			      "%s: exit code %d: %s", msg, err.code, err.msg);
		ck_assert_msg(strcmp(now, first) == 0, "%s: current switched to %s",
			      msg, now);
		if (outdir_verify(outdir, null, &bad, &err) != 0 || bad)
			outdir_verify(outdir, stderr, &bad, &err);
		ck_assert_msg(bad == 0, "%s: the last good set is damaged", msg);
	}
	fclose(null);
	if (verbose())
		fprintf(stderr, "faults: rerun, %lu %s; %lu failed\n", n - 1,
			memory ? "allocations" : "output operations", failed);
	return failed;
}

START_TEST(test_rerun_memory)
{
	ck_assert_uint_gt(rerun_faults(1, 0), 100);
}
END_TEST

START_TEST(test_rerun_disk)
{
	ck_assert_uint_gt(rerun_faults(0, ENOSPC), 10);
}
END_TEST

/* ---- big blocks ---- */

#define MIB ((size_t)1 << 20)

/* Fill n bytes of p with a pattern that depends on the offset and seed. */
static void pattern_fill(unsigned char *p, size_t from, size_t n, unsigned seed)
{
	for (size_t i = from; i < n; i++)
		p[i] = (unsigned char)((i * 2654435761u >> 13) ^ seed);
}

/* The first offset in [0, n) where p does not hold the pattern, or n. */
static size_t pattern_check(const unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != (unsigned char)((i * 2654435761u >> 13) ^ seed))
			return i;
	return n;
}

/* What a big block must be when the allocator makes them (not under
 * AddressSanitizer): mapped, at least n bytes, 2 MiB-aligned. */
static void assert_big(const void *p, size_t n)
{
	size_t len = pl_alloc_mapped(p);

	if (len == 0 && (uintptr_t)p % (2 * MIB) != 0)
		return; /* malloc's: a sanitizer build */
	ck_assert_uint_ge(len, n);
	ck_assert_uint_eq((uintptr_t)p % (2 * MIB), 0);
}

START_TEST(test_big_grow_shrink)
{
	size_t n = PL_BIG_MIN + 12345;
	unsigned char *p = pl_malloc(n), *q;

	ck_assert_ptr_nonnull(p);
	assert_big(p, n);
	pattern_fill(p, 0, n, 7);
	/* Grown to three times its size, in place or moved. */
	q = pl_realloc(p, 3 * n);
	ck_assert_ptr_nonnull(q);
	assert_big(q, 3 * n);
	ck_assert_uint_eq(pattern_check(q, n, 7), n);
	pattern_fill(q, n, 3 * n, 7);
	/* Shrunk but still big: the same address (malloc may move it). */
	p = pl_realloc(q, PL_BIG_MIN + 1);
	ck_assert_ptr_nonnull(p);
	if (pl_alloc_mapped(p))
		ck_assert_ptr_eq(p, q);
	assert_big(p, PL_BIG_MIN + 1);
	if (pl_alloc_mapped(p))
		ck_assert_uint_lt(pl_alloc_mapped(p), 3 * n);
	ck_assert_uint_eq(pattern_check(p, PL_BIG_MIN + 1, 7), PL_BIG_MIN + 1);
	/* Below PL_BIG_MIN: still the same mapping, cut to whole pages. */
	q = pl_realloc(p, 100000);
	ck_assert_ptr_nonnull(q);
	if (pl_alloc_mapped(p)) {
		ck_assert_ptr_eq(q, p);
		ck_assert_uint_ge(pl_alloc_mapped(q), 100000);
		ck_assert_uint_lt(pl_alloc_mapped(q), 100000 + 65536);
	}
	ck_assert_uint_eq(pattern_check(q, 100000, 7), 100000);
	pl_free(q);
	/* From malloc to a big block. */
	q = pl_malloc(100000);
	ck_assert_ptr_nonnull(q);
	ck_assert_uint_eq(pl_alloc_mapped(q), 0);
	pattern_fill(q, 0, 100000, 7);
	/* And back from malloc to a big block. */
	p = pl_realloc(q, 2 * PL_BIG_MIN);
	ck_assert_ptr_nonnull(p);
	assert_big(p, 2 * PL_BIG_MIN);
	ck_assert_uint_eq(pattern_check(p, 100000, 7), 100000);
	pl_free(p);
}
END_TEST

/* A block whose next addresses are taken has to move to grow: its bytes
 * go with it, and it lands 2 MiB-aligned. */
START_TEST(test_big_moves)
{
	size_t n = PL_BIG_MIN, len;
	unsigned char *p = pl_malloc(n), *q;
	void *guard = MAP_FAILED;

	ck_assert_ptr_nonnull(p);
	pattern_fill(p, 0, n, 99);
	len = pl_alloc_mapped(p);
	if (len) {
		/* The page after a fresh block is free (util.c's big_map
		 * unmaps what follows it), so the hint is taken. */
		guard = mmap(p + len, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		ck_assert_msg(guard == (void *)(p + len), "cannot map the page after the block");
	}
	q = pl_realloc(p, 4 * n);
	ck_assert_ptr_nonnull(q);
	if (guard != MAP_FAILED)
		ck_assert_ptr_ne(q, p);
	assert_big(q, 4 * n);
	ck_assert_uint_eq(pattern_check(q, n, 99), n);
	pattern_fill(q, n, 4 * n, 99);
	ck_assert_uint_eq(pattern_check(q, 4 * n, 99), 4 * n);
	pl_free(q);
	if (guard != MAP_FAILED)
		munmap(guard, 4096);
}
END_TEST

START_TEST(test_big_zeroed)
{
	size_t n = PL_BIG_MIN / 8 + 3;
	uint64_t *p = pl_calloc(n, sizeof(*p)), or = 0;

	ck_assert_ptr_nonnull(p);
	assert_big(p, n * sizeof(*p));
	for (size_t i = 0; i < n; i++)
		or |= p[i];
	ck_assert_uint_eq(or, 0);
	pl_free(p);
	/* An injected failure fails a big block as any other. */
	pl_alloc_fail_at(1, 0);
	p = pl_malloc(PL_BIG_MIN);
	pl_alloc_fail_at(0, 0);
	ck_assert_ptr_null(p);
}
END_TEST

/* Threads growing and freeing blocks of their own at once, the table of
 * blocks shared: each keeps its bytes. */
static void *big_worker(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;
	uintptr_t bad = 0;

	for (int round = 0; round < 3 && !bad; round++) {
		size_t n = 64 * 1024;
		unsigned char *p = pl_malloc(n);

		if (!p)
			return (void *)1;
		pattern_fill(p, 0, n, seed + round);
		while (n < 2 * PL_BIG_MIN && !bad) {
			unsigned char *q = pl_realloc(p, 2 * n);

			if (!q) {
				pl_free(p);
				return (void *)1;
			}
			p = q;
			bad = pattern_check(p, n, seed + round) != n;
			pattern_fill(p, n, 2 * n, seed + round);
			n *= 2;
		}
		pl_free(p);
	}
	return (void *)bad;
}

START_TEST(test_big_threads)
{
	pthread_t t[4];

	for (uintptr_t i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, big_worker, (void *)(i * 17)), 0);
	for (int i = 0; i < 4; i++) {
		void *bad;

		ck_assert_int_eq(pthread_join(t[i], &bad), 0);
		ck_assert_msg(bad == NULL, "thread %d lost bytes or memory", i);
	}
}
END_TEST

Suite *suite_faults(void)
{
	Suite *s = suite_create("faults");
	TCase *tc = tcase_create("memory");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_out_of_memory);
	tcase_add_test(tc, test_rerun_memory);
	suite_add_tcase(s, tc);

	tc = tcase_create("disk");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_out_of_disk);
	tcase_add_test(tc, test_io_error);
	tcase_add_test(tc, test_io_fresh);
	tcase_add_test(tc, test_stale_staging);
	tcase_add_test(tc, test_rerun_disk);
	suite_add_tcase(s, tc);

	tc = tcase_create("blocks");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_big_grow_shrink);
	tcase_add_test(tc, test_big_moves);
	tcase_add_test(tc, test_big_zeroed);
	tcase_add_test(tc, test_big_threads);
	suite_add_tcase(s, tc);
	return s;
}
