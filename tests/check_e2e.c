/* check_e2e.c -- the whole pipeline on the bundled corpus, in process
 *
 * Loads the shipped pipeline.conf (from test_srcdir(), so corpus/ and its
 * boilerplate list are the real ones), sends the outputs to a temporary
 * folder with -c output.dir=..., and runs ctx_run as `pipeline run` does.
 * Then checks what the README promises a user: every output file is
 * there, the framing phrases are single terms, the summary names the
 * frames, the tables agree with each other and with run.json, two runs give
 * the same bytes, and a failed run leaves the previous outputs untouched.
 *
 * To debug one case: CK_RUN_SUITE=e2e CK_RUN_CASE=outputs CK_FORK=no
 * (run from the top of the repository, or set PIPELINE_SRCDIR).
 */
#include "lib.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Every file a run publishes (write.c, summary.c, run.c). */
static const char *const outputs[] = {
	"tfidf.mtx.gz", "counts.mtx.gz", "terms.tsv.gz", "docs.tsv",
	"clusters.tsv", "frames.tsv", "ksweep.tsv", "projection.tsv",
	"summary.md", "summary.json", "run.json",
};
#define NOUTPUTS (sizeof(outputs) / sizeof(outputs[0]))

static char *tmp;
static char outa[4200]; /* the first run's output folder */

/* Run the shipped config into `outdir` with one extra override (or NULL). */
static int run_pipeline(const char *outdir, const char *extra,
			struct pl_error *err)
{
	struct config cfg;
	struct ctx ctx;
	char conf[4200], o[4300];
	int rc;

	snprintf(conf, sizeof(conf), "%s/pipeline.conf", test_srcdir());
	snprintf(o, sizeof(o), "output.dir=%s", outdir);
	ck_assert_int_eq(config_init(&cfg, err), 0);
	ck_assert_msg(config_load(&cfg, conf, err) == 0, "%s", err->msg);
	ck_assert_int_eq(config_override(&cfg, o, err), 0);
	if (extra)
		ck_assert_msg(config_override(&cfg, extra, err) == 0, "%s", err->msg);
	ck_assert_msg(config_validate(&cfg, err) == 0, "%s", err->msg);
	ctx_init(&ctx, &cfg);
	rc = ctx_run(&ctx, err);
	ctx_release(&ctx);
	config_release(&cfg);
	return rc;
}

/* Each test starts with one good run into tmp/a. */
static void run_setup(void)
{
	struct pl_error err = { 0, "" };

	tmp = test_tmpdir();
	snprintf(outa, sizeof(outa), "%s/a", tmp);
	ck_assert_msg(run_pipeline(outa, NULL, &err) == 0, "run failed (exit %d): %s",
		      err.code, err.msg);
}

static void run_teardown(void)
{
	test_rmtree(tmp);
	free(tmp);
	tmp = NULL;
}

/* A file's raw bytes; caller frees.  NULL if it cannot be read. */
static char *read_raw(const char *dir, const char *name, size_t *len)
{
	char path[4400];
	FILE *fp;
	char *buf;
	long n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fp = fopen(path, "rb");
	if (!fp)
		return NULL;
	ck_assert_int_eq(fseek(fp, 0, SEEK_END), 0);
	n = ftell(fp);
	ck_assert_int_ge(n, 0);
	rewind(fp);
	buf = malloc((size_t)n + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(fread(buf, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	buf[n] = '\0';
	*len = (size_t)n;
	return buf;
}

/* A file's text, gunzipped when it ends in .gz; caller frees. */
static char *slurp_out(const char *dir, const char *name)
{
	char path[4400];
	char *text;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	text = test_slurp(path);
	ck_assert_msg(text != NULL, "cannot read %s", path);
	return text;
}

/* The line after the one p is on; the file must end with a newline. */
static const char *next_line(const char *p)
{
	const char *nl = strchr(p, '\n');

	ck_assert_msg(nl != NULL, "line without a newline: '%.60s'", p);
	return nl + 1;
}

static size_t count_lines(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* Field `n` (0-based) of a tab-separated line, copied into buf. */
static const char *field(const char *line, int n, char *buf, size_t size)
{
	const char *p = line;
	size_t len;

	for (int i = 0; i < n; i++) {
		p += strcspn(p, "\t\n");
		if (*p != '\t')
			return NULL;
		p++;
	}
	len = strcspn(p, "\t\n");
	if (len >= size)
		len = size - 1;
	memcpy(buf, p, len);
	buf[len] = '\0';
	return buf;
}

/* The terms.tsv.gz row whose term column is exactly `term`, or NULL. */
static const char *term_row(const char *terms, const char *term)
{
	for (const char *p = terms; *p;) {
		char buf[256];
		const char *nl = strchr(p, '\n');

		if (field(p, 1, buf, sizeof(buf)) && strcmp(buf, term) == 0)
			return p;
		if (!nl)
			break;
		p = nl + 1;
	}
	return NULL;
}

static long term_df(const char *terms, const char *term)
{
	const char *row = term_row(terms, term);
	char buf[64];

	ck_assert_msg(row != NULL, "terms.tsv.gz has no term '%s'", term);
	ck_assert_ptr_nonnull(field(row, 4, buf, sizeof(buf)));
	return strtol(buf, NULL, 10);
}

/* run.json's "counts": {"<key>": N}. */
static long run_count(const char *dir, const char *key)
{
	char *json = slurp_out(dir, "run.json");
	char needle[64];
	const char *p;
	long v;

	snprintf(needle, sizeof(needle), "\"%s\": ", key);
	p = strstr(json, needle);
	ck_assert_msg(p != NULL, "run.json has no %s", needle);
	v = strtol(p + strlen(needle), NULL, 10);
	free(json);
	return v;
}

static int has_staging(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int found = 0;

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)))
		if (strncmp(de->d_name, ".staging", 8) == 0)
			found = 1;
	closedir(d);
	return found;
}

START_TEST(outputs_exist)
{
	for (size_t i = 0; i < NOUTPUTS; i++) {
		char path[4400];
		struct stat st;

		snprintf(path, sizeof(path), "%s/%s", outa, outputs[i]);
		ck_assert_msg(stat(path, &st) == 0, "%s is missing", path);
		ck_assert_msg(S_ISREG(st.st_mode) && st.st_size > 0, "%s is empty",
			      path);
	}
	ck_assert_msg(!has_staging(outa), "a staging folder is left in %s", outa);
}
END_TEST

/* The [phrases] of pipeline.conf join "back door(s)", "double
 * standard(s)" and "Five Eyes" into one term each.  In the bundled corpus
 * "door", "standard", "double" and "eyes" occur only inside those phrases,
 * so none of their single-word stems may be a term. */
START_TEST(framing_terms)
{
	static const char *const split[] = { "door", "back door", "doubl",
					     "double", "standard", "eye",
					     "double standard" };
	char *terms = slurp_out(outa, "terms.tsv.gz");

	ck_assert_msg(strncmp(terms, "id\tterm\tsurface\tkind\tdf\t", 22) == 0,
		      "terms.tsv.gz header: %.60s", terms);
	ck_assert_int_ge(term_df(terms, "backdoor"), 5);
	ck_assert_int_ge(term_df(terms, "double_standard"), 2);
	ck_assert_int_ge(term_df(terms, "five_eyes"), 2);
	for (size_t i = 0; i < sizeof(split) / sizeof(split[0]); i++)
		ck_assert_msg(term_row(terms, split[i]) == NULL,
			      "'%s' is a term of its own", split[i]);
	free(terms);
}
END_TEST

START_TEST(summary_names_frames)
{
	static const char *const frames[] = { "backdoor", "surveillance",
					      "double_standard" };
	char *md = slurp_out(outa, "summary.md");
	char *tsv = slurp_out(outa, "frames.tsv");

	for (size_t i = 0; i < 3; i++) {
		char row[64], line[64];

		/* A row of a frames table: "| backdoor | ...". */
		snprintf(row, sizeof(row), "\n| %s |", frames[i]);
		ck_assert_msg(strstr(md, row), "summary.md has no row '%s'", row + 1);
		snprintf(line, sizeof(line), "\n%s\t", frames[i]);
		ck_assert_msg(strstr(tsv, line), "frames.tsv has no '%s' rows",
			      frames[i]);
	}
	free(md);
	free(tsv);
}
END_TEST

/* docs.tsv: a header and one line per statement, numbered in order, as
 * many as run.json counts. */
START_TEST(docs_rows)
{
	char *docs = slurp_out(outa, "docs.tsv");
	long units = run_count(outa, "units");
	const char *p;
	long n = 0;

	ck_assert_int_gt(units, 5);   /* paragraphs, not the 5 files */
	ck_assert_int_eq(run_count(outa, "files"), 5);
	ck_assert_uint_eq(count_lines(docs), (size_t)units + 1);
	ck_assert_msg(strncmp(docs, "unit\tfile\tparagraph\tline\t", 24) == 0,
		      "docs.tsv header: %.60s", docs);
	for (p = next_line(docs); *p; p = next_line(p)) {
		char buf[32];

		n++;
		ck_assert_ptr_nonnull(field(p, 0, buf, sizeof(buf)));
		ck_assert_int_eq(strtol(buf, NULL, 10), n);
	}
	ck_assert_int_eq(n, units);
	free(docs);
}
END_TEST

/* The matrices' header and size line agree with docs.tsv and terms.tsv.gz,
 * and the entry count with the lines that follow. */
static void check_mtx(const char *name, const char *kind, size_t rows,
		      size_t cols)
{
	char *mtx = slurp_out(outa, name);
	char header[80];
	const char *p = mtx;
	unsigned long r, c, nnz;
	size_t entries;

	snprintf(header, sizeof(header), "%%%%MatrixMarket matrix coordinate %s general\n",
		 kind);
	ck_assert_msg(strncmp(mtx, header, strlen(header)) == 0,
		      "%s: first line '%.60s'", name, mtx);
	while (*p == '%')
		p = next_line(p);
	ck_assert_int_eq(sscanf(p, "%lu %lu %lu", &r, &c, &nnz), 3);
	ck_assert_uint_eq(r, rows);
	ck_assert_uint_eq(c, cols);
	entries = count_lines(next_line(p));
	ck_assert_uint_eq(nnz, entries);
	ck_assert_uint_gt(nnz, 0);
	free(mtx);
}

START_TEST(matrices)
{
	char *docs = slurp_out(outa, "docs.tsv");
	char *terms = slurp_out(outa, "terms.tsv.gz");
	size_t rows = count_lines(docs) - 1, cols = count_lines(terms) - 1;

	ck_assert_uint_eq(cols, (size_t)run_count(outa, "terms"));
	check_mtx("tfidf.mtx.gz", "real", rows, cols);
	check_mtx("counts.mtx.gz", "integer", rows, cols);
	free(docs);
	free(terms);
}
END_TEST

/* Same corpus, config and seed: the same bytes in every file but run.json
 * (which holds timings). */
START_TEST(deterministic)
{
	struct pl_error err = { 0, "" };
	char outb[4200];

	snprintf(outb, sizeof(outb), "%s/b", tmp);
	ck_assert_msg(run_pipeline(outb, NULL, &err) == 0, "%s", err.msg);
	for (size_t i = 0; i < NOUTPUTS; i++) {
		size_t la = 0, lb = 0;
		char *a, *b;

		if (strcmp(outputs[i], "run.json") == 0)
			continue;
		a = read_raw(outa, outputs[i], &la);
		b = read_raw(outb, outputs[i], &lb);
		ck_assert_msg(a && b, "%s missing", outputs[i]);
		ck_assert_msg(la == lb && memcmp(a, b, la) == 0,
			      "%s differs between two runs", outputs[i]);
		free(a);
		free(b);
	}
	ck_assert_int_eq(run_count(outa, "units"), run_count(outb, "units"));
}
END_TEST

/* A run that fails (k above the statements) publishes nothing: the
 * previous outputs keep their bytes, and no staging folder is left. */
START_TEST(failed_run_keeps_outputs)
{
	struct pl_error err = { 0, "" };
	char *before[NOUTPUTS];
	size_t len[NOUTPUTS];

	for (size_t i = 0; i < NOUTPUTS; i++) {
		before[i] = read_raw(outa, outputs[i], &len[i]);
		ck_assert_ptr_nonnull(before[i]);
	}
	ck_assert_int_eq(run_pipeline(outa, "kmeans.k=1000", &err), -1);
	ck_assert_msg(err.code == PL_EX_DATAERR, "exit %d: %s", err.code, err.msg);
	for (size_t i = 0; i < NOUTPUTS; i++) {
		size_t n = 0;
		char *after = read_raw(outa, outputs[i], &n);

		ck_assert_msg(after != NULL, "%s is gone after a failed run",
			      outputs[i]);
		ck_assert_msg(n == len[i] && memcmp(after, before[i], n) == 0,
			      "%s changed in a failed run", outputs[i]);
		free(after);
		free(before[i]);
	}
	ck_assert_msg(!has_staging(outa), "a staging folder is left in %s", outa);
}
END_TEST

Suite *suite_e2e(void)
{
	Suite *s = suite_create("e2e");
	TCase *tc = tcase_create("outputs");

	tcase_add_checked_fixture(tc, run_setup, run_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, outputs_exist);
	tcase_add_test(tc, framing_terms);
	tcase_add_test(tc, summary_names_frames);
	tcase_add_test(tc, docs_rows);
	tcase_add_test(tc, matrices);
	tcase_add_test(tc, deterministic);
	tcase_add_test(tc, failed_run_keeps_outputs);
	suite_add_tcase(s, tc);
	return s;
}
