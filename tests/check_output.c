/* check_output.c -- tests of the write and summary stages (the output files)
 *
 * A tiny corpus is built by hand, in memory and on disk, with every number
 * chosen so that the files can be written out in full below:
 *
 *   files  press/2019-03.txt             (2 paragraphs)
 *          press/back\slash<TAB>tab|pipe.txt  (2 paragraphs; the name
 *                                          tests TSV and Markdown escaping)
 *   units  1: file 1 ¶1 line 1   cluster 1  similarity 0.9
 *          2: file 1 ¶2 line 3   cluster 2  similarity 1.0
 *          3: file 2 ¶1 line 1   no kept term, unclustered
 *          4: file 2 ¶2 line 4   cluster 1  similarity 0.9 (long: cut)
 *   terms  1 backdoor (backdoors)  2 surveil (surveillance)
 *          3 double_standard (a phrase)  4 encrypt (pruned)  5 china
 *   tfidf  1: t1 0.8, t2 0.6    2: t2 0.6, t3 0.8    3: -
 *          4: t1 0.5, t3 0.5, t5 0.1
 *   frames surveillance: hits 1, 1, 1, 2    double_standard: 0, 1, 0, 1
 *
 * Cluster 1 = {1, 4}: mean TF-IDF backdoor 0.65, surveil 0.3,
 * double_standard 0.25, china 0.05; against cluster 2 (statement 2 alone)
 * backdoor scores 0.65 and china 0.05, the others are negative.
 * surveillance has 5 hits: 3 in cluster 1 (share 0.6), 1 in cluster 2
 * (0.2), 1 unclustered.  double_standard has 2: one in each cluster.
 *
 * The statements' text is re-read from the files by read_unit_text (the
 * read stage), so the fixture runs stage_read.init for its reader.
 *
 * The "gzip" case tests the writer behind the .gz files (pipeline/gz.c):
 * members, their independence from threads and write sizes, failures.
 *
 * To debug one case: CK_RUN_SUITE=output CK_RUN_CASE=files CK_FORK=no.
 */
#include "lib.h"
#include "../pipeline/cache.h"
#include "../pipeline/gz.h"

#include <errno.h>
#include <libdeflate.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define FILE0 "press/2019-03.txt"
#define FILE1 "press/back\\slash\ttab|pipe.txt"

#define TEXT0 "We will not build backdoors into encryption. Surveillance must be lawful.\n" \
	"\n" \
	"Critics call it a double standard: surveillance for us, not for them.\n"
#define LONG1 "China rejects the double standard of the Five Eyes, who demand " \
	"backdoors in encrypted apps while accusing others of surveillance; the " \
	"spokesperson said this hypocrisy"
#define LONG2 "exposes their real motives, and that such practices threaten " \
	"supply chain security and personal privacy all over the world, again " \
	"and again."
#define TEXT1 "Encryption.\n\n\n" LONG1 "\n" LONG2 "\n"

static struct config cfg;
static struct ctx ctx;
static char *dir;      /* the test's folder (malloc) */
static char *corpus;   /* dir/corpus */

static char *path_in(const char *folder, const char *name)
{
	struct strbuf sb = STRBUF_INIT;

	ck_assert_int_eq(strbuf_addf(&sb, "%s/%s", folder, name), 0);
	return sb.buf;
}

/* An output file, gunzipped when it ends in .gz; the caller frees it. */
static char *slurp(const char *name)
{
	char *p = path_in(ctx.outdir, name);
	char *text = test_slurp(p);

	ck_assert_msg(text != NULL, "%s: cannot read", p);
	pl_free(p);
	return text;
}

/* Line `n` (0-based) of text, without its newline, in a static buffer. */
static const char *line_of(const char *text, int n)
{
	static char line[2048];
	const char *p = text, *nl;

	while (n-- > 0) {
		p = strchr(p, '\n');
		ck_assert_ptr_nonnull(p);
		p++;
	}
	nl = strchr(p, '\n');
	ck_assert_ptr_nonnull(nl);
	ck_assert_uint_lt((size_t)(nl - p), sizeof(line));
	memcpy(line, p, (size_t)(nl - p));
	line[nl - p] = '\0';
	return line;
}

static int count_lines(const char *text)
{
	int n = 0;

	for (; *text; text++)
		n += *text == '\n';
	return n;
}

#define ck_assert_contains(hay, needle) \
	ck_assert_msg(strstr((hay), (needle)) != NULL, \
		      "expected to find [%s] in:\n%s", (needle), (hay))

/* ---- the hand-built ctx ---- */

static void add_file(const char *rel)
{
	struct files *f = &ctx.files;
	size_t i = f->n++;

	f->path[i] = path_in(corpus, rel);
	f->rel[i] = f->path[i] + strlen(corpus) + 1;
	f->bytes[i] = 0;
	/* files_release frees the blocks the paths point into. */
	ck_assert_int_eq(pl_grow(&f->block, &f->blockcap, f->nblock + 1,
				 sizeof(*f->block)), 0);
	f->block[f->nblock++] = f->path[i];
}

static void add_unit(uint32_t file, uint32_t para, uint32_t line,
		     uint32_t ntok)
{
	struct units *u = &ctx.units;
	size_t i = u->n++;

	u->file[i] = file;
	u->para[i] = ctx.cfg->v[CFG_corpus_unit].i == 0 ? 0 : para;
	u->line[i] = line;
	u->ntok[i] = ntok;
}

static void add_term(const char *stem, const char *surface, int kind,
		     uint32_t df, uint64_t cf, double idf, int kept)
{
	struct vocab *v = &ctx.vocab;
	uint32_t id, sid = ID_NONE;
	int added;

	ck_assert_int_eq(strtab_intern(&v->tab, stem, strlen(stem), &id), 1);
	if (surface)
		ck_assert_int_eq(surfaces_intern(&ctx.surf, surface, strlen(surface),
						 &sid, &added), 0);
	v->kind[id] = (uint8_t)kind;
	v->df[id] = df;
	v->cf[id] = cf;
	v->surface[id] = sid;
	v->kept[id] = (uint8_t)kept;
	v->idf[id] = idf;
	v->nkept += kept != 0;
}

/* The fixture's TF-IDF weights in double, as the tfidf stage hands them
 * to tfidf_write (it computes them from the counts as each line is
 * written); ctx.tfidf keeps them as floats. */
static double *tfidf_val;

static double val_at(const void *arg, size_t r, uint64_t e)
{
	(void)r;
	return ((const double *)arg)[e];
}

/* tfidf_write with the fixture's weights. */
static int write_tfidf(struct pl_error *err)
{
	const struct mtx_real real = { val_at, tfidf_val };

	return tfidf_write(&ctx, &real, err);
}

/* A CSR from rows written as (column, value) pairs; `integer` fills cnt,
 * else fval, and tfidf_val holds the doubles. */
static void make_csr(struct csr *m, size_t nrows, size_t ncols,
		     const uint64_t *rowptr, const uint32_t *col,
		     const double *val, int integer)
{
	size_t nnz = rowptr[nrows];

	m->nrows = nrows;
	m->ncols = ncols;
	m->nnz = m->cap = nnz;
	m->rowptr = pl_malloc((nrows + 1) * sizeof(*m->rowptr));
	m->col = pl_malloc(nnz * sizeof(*m->col));
	ck_assert(m->rowptr && m->col);
	memcpy(m->rowptr, rowptr, (nrows + 1) * sizeof(*rowptr));
	memcpy(m->col, col, nnz * sizeof(*col));
	if (integer) {
		m->cnt = pl_malloc(nnz * sizeof(*m->cnt));
		ck_assert_ptr_nonnull(m->cnt);
		for (size_t i = 0; i < nnz; i++)
			m->cnt[i] = (uint32_t)val[i];
	} else {
		/* The weights as the tfidf stage leaves them: doubles for
		 * tfidf.mtx.gz, floats for the stages after it. */
		pl_free(tfidf_val);
		tfidf_val = pl_malloc(nnz * sizeof(*tfidf_val));
		m->fval = pl_malloc(nnz * sizeof(*m->fval));
		ck_assert(tfidf_val && m->fval);
		memcpy(tfidf_val, val, nnz * sizeof(*val));
		for (size_t i = 0; i < nnz; i++)
			m->fval[i] = (float)val[i];
	}
}

static void add_frame(const char *name, const char *entries)
{
	struct frames *fr = &ctx.frames;
	size_t i = fr->n++;

	fr->name[i] = pl_strdup(name);
	fr->entries[i] = pl_strdup(entries);
	ck_assert(fr->name[i] && fr->entries[i]);
}

static void build_ctx(void)
{
	static const uint64_t crow[] = { 0, 2, 4, 5, 8 };
	static const uint32_t ccol[] = { 0, 1, 1, 2, 3, 0, 2, 4 };
	static const double ccnt[] = { 2, 1, 1, 1, 1, 1, 1, 1 };
	static const uint64_t trow[] = { 0, 2, 4, 4, 7 };
	static const uint32_t tcol[] = { 0, 1, 1, 2, 0, 2, 4 };
	static const double tval[] = { 0.8, 0.6, 0.6, 0.8, 0.5, 0.5, 0.1 };
	static const int32_t assign[] = { 0, 1, -1, 0 };
	static const double sim[] = { 0.9, 1.0, 0.0, 0.9 };
	static const double norm[] = { 2.5, 1.4142135623730951, 0, 0.1 };
	static const uint32_t hits[] = { 1, 0, 1, 1, 1, 0, 2, 1 };
	struct vocab *v = &ctx.vocab;
	struct clustering *km = &ctx.km;
	struct frames *fr = &ctx.frames;

	ctx.files.root = pl_strdup(corpus);
	ctx.files.path = pl_calloc(2, sizeof(*ctx.files.path));
	ctx.files.rel = pl_calloc(2, sizeof(*ctx.files.rel));
	ctx.files.bytes = pl_calloc(2, sizeof(*ctx.files.bytes));
	ck_assert(ctx.files.root && ctx.files.path && ctx.files.rel &&
		  ctx.files.bytes);
	ctx.files.cap = 2;
	add_file(FILE0);
	add_file(FILE1);

	ctx.units.file = pl_calloc(4, sizeof(uint32_t));
	ctx.units.para = pl_calloc(4, sizeof(uint32_t));
	ctx.units.line = pl_calloc(4, sizeof(uint32_t));
	ctx.units.ntok = pl_calloc(4, sizeof(uint32_t));
	ck_assert(ctx.units.file && ctx.units.para && ctx.units.line &&
		  ctx.units.ntok);
	ctx.units.cap = 4;
	add_unit(0, 1, 1, 3);
	add_unit(0, 2, 3, 2);
	add_unit(1, 1, 1, 1);
	add_unit(1, 2, 4, 3);

	v->cap = 5;
	v->kind = pl_calloc(5, sizeof(*v->kind));
	v->df = pl_calloc(5, sizeof(*v->df));
	v->cf = pl_calloc(5, sizeof(*v->cf));
	v->surface = pl_calloc(5, sizeof(*v->surface));
	v->kept = pl_calloc(5, sizeof(*v->kept));
	v->idf = pl_calloc(5, sizeof(*v->idf));
	ck_assert(v->kind && v->df && v->cf && v->surface && v->kept && v->idf);
	add_term("backdoor", "backdoors", TERM_WORD, 2, 3, 1.25, 1);
	add_term("surveil", "surveillance", TERM_WORD, 2, 2, 1.25, 1);
	add_term("double_standard", NULL, TERM_PHRASE, 2, 2, 1.25, 1);
	add_term("encrypt", "encryption", TERM_WORD, 1, 1, 1.1, 0);
	add_term("china", "china", TERM_WORD, 1, 1, 1.5, 1);

	make_csr(&ctx.counts, 4, 5, crow, ccol, ccnt, 1);
	make_csr(&ctx.tfidf, 4, 5, trow, tcol, tval, 0);
	ctx.norm = pl_malloc(sizeof(norm));
	ck_assert(ctx.norm);
	memcpy(ctx.norm, norm, sizeof(norm));

	km->k = 2;
	km->assign = pl_malloc(sizeof(assign));
	km->sim = pl_malloc(sizeof(sim));
	km->centroid = pl_calloc(2 * 5, sizeof(double));
	km->size = pl_calloc(2, sizeof(uint32_t));
	ck_assert(km->assign && km->sim && km->centroid && km->size);
	memcpy(km->assign, assign, sizeof(assign));
	memcpy(km->sim, sim, sizeof(sim));
	km->size[0] = 2;
	km->size[1] = 1;
	km->objective = 0.25;
	km->iterations = 3;
	km->restart = 1;
	km->converged = 1;

	fr->name = pl_calloc(2, sizeof(*fr->name));
	fr->entries = pl_calloc(2, sizeof(*fr->entries));
	fr->stems = pl_calloc(2, sizeof(*fr->stems));
	fr->nstems = pl_calloc(2, sizeof(*fr->nstems));
	fr->hits = pl_malloc(sizeof(hits));
	ck_assert(fr->name && fr->entries && fr->stems && fr->nstems && fr->hits);
	memcpy(fr->hits, hits, sizeof(hits));
	add_frame("surveillance", "surveillance, spying");
	add_frame("double_standard", "double standard, hypocrisy");
}

static void setup_mode(const char *unit)
{
	struct pl_error err = { 0 };

	memset(&ctx, 0, sizeof(ctx));
	dir = test_tmpdir();
	corpus = path_in(dir, "corpus");
	test_write(dir, "corpus/" FILE0, TEXT0);
	test_write(dir, "corpus/" FILE1, TEXT1);

	ck_assert_int_eq(config_init(&cfg, &err), 0);
	if (unit) {
		struct strbuf sb = STRBUF_INIT;

		ck_assert_int_eq(strbuf_addf(&sb, "corpus.unit=%s", unit), 0);
		ck_assert_msg(config_override(&cfg, sb.buf, &err) == 0, "%s", err.msg);
		strbuf_release(&sb);
	}
	ctx_init(&ctx, &cfg);
	ctx.outdir = path_in(dir, "out");
	build_ctx();
	ck_assert_msg(stage_read.init(&ctx, &err) == 0, "%s", err.msg);
	ck_assert_msg(out_begin(&ctx, &err) == 0, "%s", err.msg);
}

static void setup(void)
{
	setup_mode(NULL);
}

static void setup_document(void)
{
	setup_mode("document");
}

static void teardown(void)
{
	pl_alloc_fail_at(0, 0);
	out_abandon(&ctx);
	stage_read.release(&ctx); /* the reader, files and units */
	files_release(&ctx.files);
	units_release(&ctx.units);
	surfaces_release(&ctx.surf);
	vocab_release(&ctx.vocab);
	csr_release(&ctx.counts);
	csr_release(&ctx.tfidf);
	pl_free(ctx.norm);
	pl_free(tfidf_val);
	tfidf_val = NULL;
	clustering_release(&ctx.km);
	frames_release(&ctx.frames);
	pl_free(ctx.outdir);
	pl_free(corpus);
	config_release(&cfg);
	test_rmtree(dir);
	free(dir);
}

/* Run the writing stages and publish; fails the test on an error. */
static void run_stages(void)
{
	struct pl_error err = { 0 };

	ck_assert_msg(stage_counts.run(&ctx, &err) == 0, "%s", err.msg);
	ck_assert_msg(write_tfidf(&err) == 0, "%s", err.msg);
	ck_assert_msg(stage_write.run(&ctx, &err) == 0, "%s", err.msg);
	ck_assert_msg(stage_summary.run(&ctx, &err) == 0, "%s", err.msg);
	ck_assert_msg(out_publish(&ctx, &err) == 0, "%s", err.msg);
}

static void setup_run(void)
{
	setup();
	run_stages();
}

/* Every Markdown table row has as many unescaped pipes as its header. */
static void check_md_tables(const char *md)
{
	int want = -1;

	for (const char *p = md; *p; ) {
		const char *nl = strchr(p, '\n');
		int n = 0;

		ck_assert_ptr_nonnull(nl);
		if (*p == '|') {
			for (const char *q = p; q < nl; q++) {
				if (*q == '\\')
					q++;
				else if (*q == '|')
					n++;
			}
			if (want < 0)
				want = n;
			ck_assert_msg(n == want, "table row with %d cells, header %d: %.*s",
				      n - 1, want - 1, (int)(nl - p), p);
		} else {
			want = -1;
		}
		p = nl + 1;
	}
}

/* ---- write ---- */

START_TEST(test_tfidf_mtx)
{
	char *t = slurp("tfidf.mtx.gz");
	int hdr = 5; /* banner and 4 comment lines */

	ck_assert_str_eq(line_of(t, 0), "%%MatrixMarket matrix coordinate real general");
	for (int i = 1; i < hdr; i++)
		ck_assert_msg(line_of(t, i)[0] == '%', "line %d: %s", i, line_of(t, i));
	ck_assert_str_eq(line_of(t, hdr), "4 5 7");
	ck_assert_str_eq(line_of(t, hdr + 1), "1 1 0.80000000000000004");
	ck_assert_str_eq(line_of(t, hdr + 2), "1 2 0.59999999999999998");
	ck_assert_str_eq(line_of(t, hdr + 5), "4 1 0.5");
	ck_assert_str_eq(line_of(t, hdr + 7), "4 5 0.10000000000000001");
	ck_assert_int_eq(count_lines(t), hdr + 1 + 7);
	/* %.17g reads back to the same double. */
	ck_assert(strtod(strrchr(line_of(t, hdr + 7), ' '), NULL) == 0.1);
	free(t);
}
END_TEST

START_TEST(test_counts_mtx)
{
	char *t = slurp("counts.mtx.gz");
	int hdr = 4; /* banner and 3 comment lines */

	ck_assert_str_eq(line_of(t, 0), "%%MatrixMarket matrix coordinate integer general");
	ck_assert_str_eq(line_of(t, hdr), "4 5 8");
	ck_assert_str_eq(line_of(t, hdr + 1), "1 1 2");
	/* The pruned term (column 4) is counted in statement 3. */
	ck_assert_str_eq(line_of(t, hdr + 5), "3 4 1");
	ck_assert_int_eq(count_lines(t), hdr + 1 + 8);
	free(t);
}
END_TEST

START_TEST(test_terms_tsv)
{
	char *t = slurp("terms.tsv.gz");

	ck_assert_str_eq(t,
		"id\tterm\tsurface\tkind\tdf\tcf\tidf\tkept\n"
		"1\tbackdoor\tbackdoors\tword\t2\t3\t1.25\t1\n"
		"2\tsurveil\tsurveillance\tword\t2\t2\t1.25\t1\n"
		"3\tdouble_standard\tdouble_standard\tphrase\t2\t2\t1.25\t1\n"
		"4\tencrypt\tencryption\tword\t1\t1\t1.1000000000000001\t0\n"
		"5\tchina\tchina\tword\t1\t1\t1.5\t1\n");
	free(t);
}
END_TEST

START_TEST(test_docs_tsv)
{
	char *t = slurp("docs.tsv");

	ck_assert_str_eq(t,
		"unit\tfile\tparagraph\tline\ttokens\tcluster\tsimilarity\tnorm\n"
		"1\tpress/2019-03.txt\t1\t1\t3\t1\t0.900000\t2.5\n"
		"2\tpress/2019-03.txt\t2\t3\t2\t2\t1.000000\t1.4142135623730951\n"
		"3\tpress/back\\\\slash\\ttab|pipe.txt\t1\t1\t1\tNA\tNA\t0\n"
		"4\tpress/back\\\\slash\\ttab|pipe.txt\t2\t4\t3\t1\t0.900000\t0.10000000000000001\n");
	free(t);
}
END_TEST

/* ---- summary ---- */

START_TEST(test_clusters_tsv)
{
	char *t = slurp("clusters.tsv");

	ck_assert_str_eq(t,
		"cluster\tsize\ttop_terms\ttop_frames\n"
		"1\t2\tbackdoors, surveillance, double_standard, china\t"
		"surveillance:0.60, double_standard:0.50\n"
		"2\t1\tdouble_standard, surveillance\t"
		"double_standard:0.50, surveillance:0.20\n");
	free(t);
}
END_TEST

START_TEST(test_frames_tsv)
{
	char *t = slurp("frames.tsv");

	ck_assert_str_eq(t,
		"frame\tcluster\tunits\tunit_share\thits\thit_share\tcooccurs\n"
		"surveillance\t1\t2\t1\t3\t0.6\tdouble_standard:1\n"
		"surveillance\t2\t1\t1\t1\t0.2\tdouble_standard:1\n"
		"double_standard\t1\t1\t0.5\t1\t0.5\tsurveillance:1\n"
		"double_standard\t2\t1\t1\t1\t0.5\tsurveillance:1\n");
	free(t);
}
END_TEST

START_TEST(test_summary_md)
{
	char *t = slurp("summary.md");

	ck_assert_contains(t, "2 files, 4 statements (one per paragraph), 4 of 5 terms kept.");
	ck_assert_contains(t, "k = 2, cosine metric, objective 0.25 after 3 iterations "
			   "(restart 2 of 10, converged).");
	ck_assert_contains(t, "1 statement had no kept terms and was left unclustered.");
	ck_assert_contains(t, "\n## Cluster 1 (2 statements)\n");
	ck_assert_contains(t, "\n## Cluster 2 (1 statement)\n");
	ck_assert_contains(t, "**Top terms** (mean TF-IDF): backdoors (0.65), "
			   "surveillance (0.3), double_standard (0.25), china (0.05).");
	ck_assert_contains(t, "\n| backdoors | 0.65 | 0 | 0.65 |\n| china | 0.05 | 0 | 0.05 |\n");
	ck_assert_contains(t, "\n| surveillance | 2 | 100.0% | 3 | 60.0% |\n");
	ck_assert_contains(t, "\n- \xe2\x80\x9cWe will not build backdoors into encryption. "
			   "Surveillance must be lawful.\xe2\x80\x9d \xe2\x80\x94 "
			   "press/2019-03.txt \xc2\xb6" "1, line 1 (similarity 0.900)\n");
	/* The long statement: whitespace folded, cut with an ellipsis, its
	 * source name escaped for Markdown. */
	ck_assert_contains(t, "\xe2\x80\x9c" "China rejects the double standard of the Five Eyes");
	ck_assert_contains(t, "\xe2\x80\xa6\xe2\x80\x9d \xe2\x80\x94 "
			   "press/back\\\\slash tab\\|pipe.txt \xc2\xb6" "2, line 4 "
			   "(similarity 0.900)\n");
	ck_assert_ptr_null(strstr(t, "again and again"));
	/* Statement 3 is unclustered, so never quoted. */
	ck_assert_ptr_null(strstr(t, "Encryption."));
	ck_assert_contains(t, "| frame | hits | cluster 1 | cluster 2 | unclustered |");
	ck_assert_contains(t, "\n| surveillance | 5 | 60.0% (2) | 20.0% (1) | 20.0% (1) |\n");
	ck_assert_contains(t, "\n| double_standard | 2 | 50.0% (1) | 50.0% (1) | 0.0% (0) |\n");
	ck_assert_contains(t, "\n| frame | surveillance | double_standard |\n");
	ck_assert_contains(t, "\n| surveillance | 4 | 2 |\n| double_standard | 2 | 2 |\n");
	ck_assert_contains(t, "- surveillance: cluster 1 has the most hits (60.0%, 3 of 5); "
			   "it shares statements most often with double_standard "
			   "(2 statements).\n");
	ck_assert_contains(t, "- double_standard: cluster 1 has the most hits (50.0%, 1 of 2)");
	ck_assert_contains(t, "\n## Since the last run\n\nNothing to compare with: ");
	check_md_tables(t);
	free(t);
}
END_TEST

START_TEST(test_summary_json)
{
	char *t = slurp("summary.json");
	const char *snip, *end;

	ck_assert_contains(t, "{\"corpus\":{\"files\":2,\"units\":4,\"unit\":\"paragraph\","
			   "\"terms\":5,\"terms_kept\":4,\"k\":2,\"metric\":\"cosine\","
			   "\"objective\":0.25,\"iterations\":3,\"restart\":1,"
			   "\"converged\":true,\"clustered\":3,\"unclustered\":1}");
	/* Means of the single-precision weights the stages after tfidf read:
	 * (0.8f + 0.5f) / 2, 0.8f - 0.25, 0.8f, in double. */
	ck_assert_contains(t, "{\"cluster\":1,\"size\":2,\"top_terms\":[{\"term\":\"backdoor\","
			   "\"surface\":\"backdoors\",\"weight\":0.65000000596046448}");
	ck_assert_contains(t, "\"discriminating_terms\":[{\"term\":\"double_standard\","
			   "\"surface\":\"double_standard\",\"score\":0.55000001192092896,"
			   "\"mean_in\":0.80000001192092896,\"mean_out\":0.25}");
	ck_assert_contains(t, "\"surveillance\":{\"units\":2,\"unit_share\":1,\"hits\":3,"
			   "\"hit_share\":0.6,\"cooccurs\":{\"double_standard\":1}}");
	ck_assert_contains(t, "{\"unit\":1,\"file\":\"press/2019-03.txt\",\"paragraph\":1,"
			   "\"line\":1,\"similarity\":0.90000000000000002,\"snippet\":"
			   "\"We will not build backdoors into encryption. Surveillance "
			   "must be lawful.\"}");
	ck_assert_contains(t, "\"file\":\"press/back\\\\slash\\ttab|pipe.txt\"");
	ck_assert_contains(t, "{\"name\":\"surveillance\",\"entries\":\"surveillance, spying\","
			   "\"hits\":5,\"units\":4,\"unclustered_hits\":1,"
			   "\"unclustered_units\":1,\"by_cluster\":[{\"cluster\":1,"
			   "\"units\":2,\"unit_share\":1,\"hits\":3,\"hit_share\":0.6}");
	/* A first run: nothing to compare with. */
	ck_assert_contains(t, "],\n\"since\":null,\n\"clusters\":[\n");
	ck_assert_contains(t, "\"cooccurrence\":{\"frames\":[\"surveillance\","
			   "\"double_standard\"],\"units\":[[4,2],[2,2]]}}\n");
	/* The cut quote is at most 240 bytes plus the ellipsis. */
	snip = strstr(t, "\"snippet\":\"China");
	ck_assert_ptr_nonnull(snip);
	snip += strlen("\"snippet\":\"");
	end = strchr(snip, '"');
	ck_assert_uint_le((size_t)(end - snip), 243);
	ck_assert(memcmp(end - 3, "\xe2\x80\xa6", 3) == 0);
	ck_assert_ptr_null(strstr(t, "nan"));
	ck_assert_ptr_null(strstr(t, "inf"));
	free(t);
}
END_TEST

/* top_terms below the number of candidates: the head of the full
 * ranking, in its order (summary.c keeps it with a heap). */
START_TEST(test_top_terms_cut)
{
	char *t;

	cfg.v[CFG_output_top_terms].i = 2;
	run_stages();
	t = slurp("clusters.tsv");
	ck_assert_str_eq(line_of(t, 1), "1\t2\tbackdoors, surveillance\t"
			 "surveillance:0.60, double_standard:0.50");
	ck_assert_str_eq(line_of(t, 2), "2\t1\tdouble_standard, surveillance\t"
			 "double_standard:0.50, surveillance:0.20");
	free(t);
	t = slurp("summary.json");
	/* Of cluster 1's four terms, the two highest means; of their scores,
	 * only two are positive, in order. */
	ck_assert_contains(t, "{\"cluster\":1,\"size\":2,\"top_terms\":[{\"term\":\"backdoor\","
			   "\"surface\":\"backdoors\",\"weight\":0.65000000596046448},"
			   "{\"term\":\"surveil\",\"surface\":\"surveillance\","
			   "\"weight\":0.30000001192092896}],\"discriminating_terms\":"
			   "[{\"term\":\"backdoor\",");
	ck_assert_contains(t, "\"mean_out\":0},{\"term\":\"china\",\"surface\":\"china\","
			   "\"score\":0.05000000074505806,\"mean_in\":0.05000000074505806,"
			   "\"mean_out\":0}],\"frames\"");
	free(t);
}
END_TEST

/* ---- document mode, and a run without clusters or frames ---- */

START_TEST(test_document_mode)
{
	char *t;

	run_stages();
	t = slurp("docs.tsv");
	ck_assert_str_eq(line_of(t, 1), "1\tpress/2019-03.txt\tNA\t1\t3\t1\t0.900000\t2.5");
	ck_assert_str_eq(line_of(t, 3), "3\tpress/back\\\\slash\\ttab|pipe.txt\tNA\t1\t1\tNA\tNA\t0");
	free(t);
	t = slurp("summary.md");
	ck_assert_contains(t, "(one per file)");
	ck_assert_contains(t, "\xe2\x80\x94 press/2019-03.txt (similarity 0.900)\n");
	ck_assert_ptr_null(strstr(t, "\xc2\xb6"));
	free(t);
	t = slurp("summary.json");
	ck_assert_contains(t, "\"unit\":\"document\"");
	ck_assert_contains(t, "\"paragraph\":null");
	free(t);
}
END_TEST

START_TEST(test_no_clusters_no_frames)
{
	char *t;

	clustering_release(&ctx.km);
	frames_release(&ctx.frames);
	run_stages();
	t = slurp("docs.tsv");
	ck_assert_str_eq(line_of(t, 1), "1\tpress/2019-03.txt\t1\t1\t3\tNA\tNA\t2.5");
	free(t);
	t = slurp("clusters.tsv");
	ck_assert_str_eq(t, "cluster\tsize\ttop_terms\ttop_frames\n");
	free(t);
	t = slurp("frames.tsv");
	ck_assert_str_eq(t, "frame\tcluster\tunits\tunit_share\thits\thit_share\tcooccurs\n");
	free(t);
	t = slurp("summary.md");
	ck_assert_contains(t, "**Clustering:** none.");
	ck_assert_contains(t, "No frames are configured.");
	ck_assert_ptr_null(strstr(t, "## Cluster"));
	check_md_tables(t);
	free(t);
	t = slurp("summary.json");
	ck_assert_contains(t, "\"clusters\":[],\n\"frames\":[],\n\"cooccurrence\":"
			   "{\"frames\":[],\"units\":[]}}\n");
	free(t);
}
END_TEST

/* ---- a rerun: "Since the last run" and summary.json's "since" ---- */

/* The previous run, as its cache tells it: FILE0's two statements, both in
 * cluster 1, and press/old.txt's one, since removed; terms 1-3; frame
 * shares 0.5 (surveillance) and 0.1 (double_standard) in cluster 1.  Now
 * statement 2 is in cluster 2 (moved), FILE1's two statements are new, and
 * terms 4 (encrypt, df 1) and 5 (china, df 1) are new. */
static void set_prev_cache(struct cache *c)
{
	static struct cache_file files[2];
	static uint32_t para[] = { 1, 2, 1 };
	static int32_t label[] = { 1, 1, 1 };
	static uint32_t clabel[] = { 1 };
	static char *frame[] = { "surveillance", "double_standard" };
	static double share[] = { 0.5, 0.1 };

	memset(c, 0, sizeof(*c));
	memset(files, 0, sizeof(files));
	files[0].rel = FILE0;
	files[0].nunits = 2;
	files[1].rel = "press/old.txt";
	files[1].nunits = 1;
	files[1].unit0 = 2;
	c->files = files;
	c->nfiles = 2;
	c->para = para;
	c->label = label;
	c->nunits = 3;
	c->k = 1;
	c->clabel = clabel;
	c->nframes = 2;
	c->frame = frame;
	c->share = share;
	c->prev_units = 3;
	c->prev_terms = 3;
	ctx.files.info = pl_calloc(2, sizeof(*ctx.files.info));
	ck_assert_ptr_nonnull(ctx.files.info);
	ctx.files.info[0].old = 0;
	ctx.files.info[1].old = CACHE_NONE;
}

/* Run `run` (after out_begin) with allocation 1, 2, ... failing in
 * turn until one run needs no more: each failure must be "out of memory"
 * and leak nothing (the sanitizer build checks the leaks).  The number of
 * the allocation that was not made, a run's allocations plus one. */
static unsigned long each_allocation_fails(int (*run)(struct pl_error *))
{
	unsigned long n;

	for (n = 1; n < 100000; n++) {
		struct pl_error err = { 0 };
		int rc;

		pl_alloc_fail_at(n, 0);
		rc = out_begin(&ctx, &err);
		if (rc == 0)
			rc = run(&err);
		pl_alloc_fail_at(0, 0);
		out_abandon(&ctx);
		if (rc == 0)
			break;
		ck_assert_msg(err.code == PL_EX_OSERR, "allocation %lu: %d %s", n,
			      err.code, err.msg);
	}
	ck_assert_uint_lt(n, 100000);
	return n;
}

/* test_since's previous run, for summary_since. */
static struct cache *since_prev;

static int summary_since(struct pl_error *err)
{
	int rc;

	ctx.cache = since_prev;
	rc = stage_summary.run(&ctx, err);
	ctx.cache = NULL;
	return rc;
}

START_TEST(test_since)
{
	struct pl_error err = { 0 };
	struct cache prev;
	char *t;

	set_prev_cache(&prev);
	ck_assert_msg(stage_counts.run(&ctx, &err) == 0, "%s", err.msg);
	ck_assert_msg(write_tfidf(&err) == 0, "%s", err.msg);
	ck_assert_msg(stage_write.run(&ctx, &err) == 0, "%s", err.msg);
	ctx.cache = &prev;
	ck_assert_msg(stage_summary.run(&ctx, &err) == 0, "%s", err.msg);
	ctx.cache = NULL;
	ck_assert_msg(out_publish(&ctx, &err) == 0, "%s", err.msg);

	t = slurp("changes.tsv");
	ck_assert_str_eq(t, "change\tfile\tparagraph\tstatement\tcluster\tprevious_cluster\n"
			 "moved\t" "press/2019-03.txt\t2\t2\t2\t1\n"
			 "new\tpress/back\\\\slash\\ttab|pipe.txt\t1\t3\tNA\tNA\n"
			 "new\tpress/back\\\\slash\\ttab|pipe.txt\t2\t4\t1\tNA\n"
			 "removed\tpress/old.txt\t1\tNA\tNA\t1\n");
	free(t);
	t = slurp("summary.md");
	ck_assert_contains(t, "\n## Since the last run\n\nCompared with run ? (3 statements "
			   "then, 4 now): 2 new statements, 1 removed, 1 moved to another "
			   "cluster (changes.tsv lists them); 2 new terms (in brackets: how "
			   "many statements contain each, most first): encryption (1), "
			   "china (1).\n\nClusters: 1 of 2 kept the id of a previous "
			   "cluster (the best match by centroid similarity, at least 0.5).\n");
	ck_assert_contains(t, "then and now, and the change in percentage points:\n\n"
			   "| frame | cluster | then | now | change |\n"
			   "| --- | ---: | ---: | ---: | ---: |\n"
			   "| surveillance | 1 | 50.0% | 100.0% | +50.0 |\n"
			   "| double_standard | 1 | 10.0% | 50.0% | +40.0 |\n\n## Cluster 1");
	check_md_tables(t);
	free(t);
	/* The same figures, shares as fractions to the last bit: then 0.1,
	 * now 0.5, change 0.5 - 0.1. */
	t = slurp("summary.json");
	ck_assert_contains(t, "],\n\"since\":{\"previous_run\":null,\"units_then\":3,"
			   "\"units_now\":4,\"new\":2,\"removed\":1,\"moved\":1,"
			   "\"new_terms\":2,\"top_new_terms\":[{\"term\":\"encrypt\","
			   "\"surface\":\"encryption\",\"df\":1},{\"term\":\"china\","
			   "\"surface\":\"china\",\"df\":1}],\"clusters_kept_id\":1,"
			   "\"match_min\":0.5,\"warm\":false,\"frame_shares\":[\n"
			   "{\"frame\":\"surveillance\",\"cluster\":1,\"then\":0.5,"
			   "\"now\":1,\"change\":0.5},\n"
			   "{\"frame\":\"double_standard\",\"cluster\":1,"
			   "\"then\":0.10000000000000001,\"now\":0.5,"
			   "\"change\":0.40000000000000002}]},\n\"clusters\":[\n");
	free(t);

	/* Every allocation in turn fails: "out of memory", nothing leaked. */
	since_prev = &prev;
	each_allocation_fails(summary_since);
	since_prev = NULL;
}
END_TEST

START_TEST(test_bad_matrix)
{
	struct pl_error err = { 0 };

	/* A column out of range is a bug upstream, not a file to publish. */
	ctx.tfidf.col[1] = 7;
	ck_assert_int_eq(write_tfidf(&err), -1);
	ck_assert_int_eq(err.code, PL_EX_SOFTWARE);
	ck_assert_str_eq(err.msg, "tfidf.mtx.gz: row 1: columns out of order");
	/* The counts stage checks its matrix alike. */
	ctx.counts.col[1] = 7;
	ck_assert_int_eq(stage_counts.run(&ctx, &err), -1);
	ck_assert_int_eq(err.code, PL_EX_SOFTWARE);
	ck_assert_str_eq(err.msg, "counts.mtx.gz: row 1: columns out of order");
}
END_TEST

/* A wide spread of doubles, each written to tfidf.mtx.gz, must come out as
 * the very bytes of "%.17g" (write.c formats the usual range by hand). */
START_TEST(test_weights_exact)
{
	enum { ROWS = 4, COLS = 5000 };
	static const double special[] = {
		1e-4, 0.1, 0.2, 0.3, 0.5, 0.6, 0.8, 1, 1.1, 1.25, 2.5, 7.5, 1000,
		9999.999999999998, 0.0099999999999999985, 0.099999999999999992,
		0.99999999999999989, 1.0000000000000002, 0.70710678118654757,
		0, 1e-5, 5e-324, 1e4, 12345.678, 1e20, 1.7976931348623157e308
	};
	struct pl_error err = { 0 };
	struct csr *m = &ctx.tfidf;
	uint64_t x = 88172645463325252ull;
	size_t nnz = (size_t)ROWS * COLS;
	char *t, *p;

	/* Replace the vocabulary and the matrices by ROWS x COLS dense ones. */
	vocab_release(&ctx.vocab);
	csr_release(&ctx.counts);
	csr_release(&ctx.tfidf);
	ctx.vocab.cap = COLS;
	ctx.vocab.kind = pl_calloc(COLS, 1);
	ctx.vocab.df = pl_calloc(COLS, sizeof(uint32_t));
	ctx.vocab.cf = pl_calloc(COLS, sizeof(uint64_t));
	ctx.vocab.surface = pl_calloc(COLS, sizeof(uint32_t));
	ctx.vocab.kept = pl_calloc(COLS, 1);
	ctx.vocab.idf = pl_calloc(COLS, sizeof(double));
	for (int j = 0; j < COLS; j++) {
		char name[16];
		uint32_t id;

		snprintf(name, sizeof(name), "t%d", j);
		ck_assert_int_eq(strtab_intern(&ctx.vocab.tab, name, strlen(name), &id), 1);
		ctx.vocab.surface[id] = ID_NONE;
	}
	m->nrows = ctx.counts.nrows = ROWS;
	m->ncols = ctx.counts.ncols = COLS;
	m->rowptr = pl_malloc((ROWS + 1) * sizeof(*m->rowptr));
	m->col = pl_malloc(nnz * sizeof(*m->col));
	pl_free(tfidf_val);
	tfidf_val = pl_malloc(nnz * sizeof(*tfidf_val));
	ctx.counts.rowptr = pl_calloc(ROWS + 1, sizeof(uint64_t));
	ck_assert(m->rowptr && m->col && tfidf_val && ctx.counts.rowptr);
	for (size_t i = 0; i < nnz; i++) {
		uint64_t r, bits;
		double v;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		r = x;
		if (i < sizeof(special) / sizeof(special[0])) {
			v = special[i];
		} else if (i % 4 == 0) {
			v = (double)(r >> 11) / 9007199254740992.0;
		} else if (i % 4 == 1) {
			/* any bit pattern between 2^-20 and 2^20 */
			bits = (r & ((1ull << 52) - 1)) | ((1003ull + (r >> 58) % 40) << 52);
			memcpy(&v, &bits, sizeof(v));
		} else if (i % 4 == 2) {
			v = 1.0 / (double)(1 + (r >> 20) % 100000000);
		} else {
			v = nextafter(1e-4 * (double)(1 + (r >> 40) % 8), (r & 1) ? 0 : 1);
		}
		m->col[i] = (uint32_t)(i % COLS);
		tfidf_val[i] = v;
	}
	for (size_t u = 0; u <= ROWS; u++)
		m->rowptr[u] = u * COLS;
	ck_assert_msg(write_tfidf(&err) == 0, "%s", err.msg);
	ck_assert_msg(out_publish(&ctx, &err) == 0, "%s", err.msg);

	t = slurp("tfidf.mtx.gz");
	p = strstr(t, "\n4 5000 20000\n");
	ck_assert_ptr_nonnull(p);
	p += strlen("\n4 5000 20000\n");
	for (size_t i = 0; i < nnz; i++) {
		char want[64], *nl = strchr(p, '\n'), *v;

		ck_assert_ptr_nonnull(nl);
		*nl = '\0';
		v = strrchr(p, ' ') + 1;
		snprintf(want, sizeof(want), "%.17g", tfidf_val[i]);
		ck_assert_msg(strcmp(v, want) == 0, "entry %zu: %s, want %s", i, v, want);
		ck_assert(strtod(v, NULL) == tfidf_val[i]);
		p = nl + 1;
	}
	ck_assert_str_eq(p, "");
	free(t);
}
END_TEST

/* Every allocation in turn fails: the stages report "out of memory" and
 * leak nothing (the sanitizer build checks the leaks). */
static int output_stages(struct pl_error *err)
{
	return stage_counts.run(&ctx, err) || write_tfidf(err) ||
	       stage_write.run(&ctx, err) || stage_summary.run(&ctx, err) ? -1 : 0;
}

START_TEST(test_out_of_memory)
{
	ck_assert_uint_gt(each_allocation_fails(output_stages), 10);
}
END_TEST

/* ---- the gzip writer (pipeline/gz.c) ---- */

/* A sink that keeps the members in memory (plain malloc, out of fault
 * injection) and can fail at member number `fail_at` (1-based). */
struct mem_sink {
	char *buf;
	size_t len, cap;
	size_t members, fail_at;
};

static int mem_sink_write(void *arg, const void *data, size_t len,
			  struct pl_error *err)
{
	struct mem_sink *s = arg;

	if (++s->members == s->fail_at)
		return pl_fail(err, PL_EX_IOERR, "sink: member %zu: %s",
			       s->members, strerror(ENOSPC));
	if (s->len + len > s->cap) {
		s->cap = (s->len + len) * 2;
		s->buf = realloc(s->buf, s->cap);
		ck_assert_ptr_nonnull(s->buf);
	}
	memcpy(s->buf + s->len, data, len);
	s->len += len;
	return 0;
}

/* n bytes of Matrix Market-like lines, the same every time. */
static char *gz_text(size_t n)
{
	char *t = malloc(n + 64);
	uint64_t x = 88172645463325252ull;
	size_t len = 0, row = 1;

	ck_assert_ptr_nonnull(t);
	while (len < n) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		row += x % 7 == 0;
		len += (size_t)snprintf(t + len, 64, "%zu %u 0.%017llu\n", row,
					(unsigned)(x % 5000),
					(unsigned long long)(x % 100000000000000000ull));
	}
	return t;
}

/* Write text[0..n) through a gzw in pieces of `piece` bytes; 0 or -1. */
static int gz_run(struct mem_sink *s, const char *text, size_t n, size_t chunk,
		  unsigned workers, size_t piece, struct pl_error *err)
{
	struct gzw *w = gzw_new(1, chunk, workers, mem_sink_write, s, err);
	int rc = 0;

	if (!w)
		return -1;
	for (size_t off = 0; rc == 0 && off < n; off += piece)
		rc = gzw_write(w, text + off, n - off < piece ? n - off : piece, err);
	if (rc == 0)
		rc = gzw_finish(w, err);
	gzw_free(w);
	return rc;
}

/* zlib's gzread (test_slurp) reads the stream in s, saved as a file, as
 * the n bytes of text, members and all. */
static void check_reads_back(const struct mem_sink *s, const char *text, size_t n)
{
	char *path = path_in(dir, "members.gz"), *back;
	FILE *fp = fopen(path, "wb");

	ck_assert_ptr_nonnull(fp);
	ck_assert_uint_eq(fwrite(s->buf, 1, s->len, fp), s->len);
	ck_assert_int_eq(fclose(fp), 0);
	back = test_slurp(path);
	ck_assert_ptr_nonnull(back);
	ck_assert(strlen(back) == n && memcmp(back, text, n) == 0);
	free(back);
	pl_free(path);
}

/* The stream in s is members of `chunk` bytes of text each (the last one
 * shorter; one empty member for no text), each with no name and time 0;
 * zlib's gzread reads them all as one stream.  Returns the members. */
static size_t check_members(const struct mem_sink *s, const char *text,
			    size_t n, size_t chunk)
{
	struct libdeflate_decompressor *d = libdeflate_alloc_decompressor();
	char *out = malloc(chunk);
	size_t in = 0, got = 0, members = 0;

	ck_assert(d && out);
	while (in < s->len) {
		const unsigned char *h = (const unsigned char *)s->buf + in;
		size_t used, olen, want = n - got < chunk ? n - got : chunk;

		ck_assert_uint_ge(s->len - in, 18);
		ck_assert(h[0] == 0x1f && h[1] == 0x8b && h[2] == 8);
		ck_assert_uint_eq(h[3], 0);                  /* no name */
		ck_assert(!h[4] && !h[5] && !h[6] && !h[7]); /* time 0 */
		ck_assert_int_eq(libdeflate_gzip_decompress_ex(d, h, s->len - in, out,
							       chunk, &used, &olen),
				 LIBDEFLATE_SUCCESS);
		ck_assert_uint_eq(olen, want);
		ck_assert(olen == 0 || memcmp(out, text + got, olen) == 0);
		in += used;
		got += olen;
		members++;
	}
	ck_assert_uint_eq(got, n);
	ck_assert_uint_eq(members, n ? (n + chunk - 1) / chunk : 1);
	libdeflate_free_decompressor(d);
	free(out);
	check_reads_back(s, text, n);
	return members;
}

/* The same bytes whatever the workers and however the writes are cut. */
START_TEST(test_gzip_members)
{
	enum { CHUNK = 4096 };
	static const unsigned workers[] = { 0, 1, 2, 5 };
	static const size_t pieces[] = { 1, 7, CHUNK, 3 * CHUNK + 5, 100000 };
	size_t n = 10 * CHUNK + 123;
	char *text = gz_text(n);
	struct mem_sink first = { 0 };
	struct pl_error err = { 0 };

	ck_assert_msg(gz_run(&first, text, n, CHUNK, 0, n, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(check_members(&first, text, n, CHUNK), 11);
	for (size_t i = 0; i < sizeof(workers) / sizeof(workers[0]); i++) {
		for (size_t j = 0; j < sizeof(pieces) / sizeof(pieces[0]); j++) {
			struct mem_sink s = { 0 };

			ck_assert_msg(gz_run(&s, text, n, CHUNK, workers[i], pieces[j],
					     &err) == 0, "%s", err.msg);
			ck_assert_msg(s.len == first.len &&
				      memcmp(s.buf, first.buf, s.len) == 0,
				      "%u workers, writes of %zu: other bytes",
				      workers[i], pieces[j]);
			free(s.buf);
		}
	}
	free(first.buf);
	free(text);
}
END_TEST

/* Cuts and raw members: text, a cut, members copied as they are (those
 * of another stream), then more text.  The stream reads back as the three
 * texts in order; each cut starts a member; gzw_member_sizes gives every
 * member's bytes, the copied ones as one; and the bytes are the same
 * whatever the workers (they start at the first big chunk after a cut,
 * where the slot being filled is not the first). */
START_TEST(test_gzip_cut_raw)
{
	enum { CHUNK = 4096 };
	static const unsigned workers[] = { 0, 1, 2, 5 };
	size_t n = 9 * CHUNK + 77, head = 100, mid = 3 * CHUNK + 11;
	char *text = gz_text(n);
	struct mem_sink other = { 0 }, first = { 0 };
	struct pl_error err = { 0 };

	/* The members to copy: text[head, head + mid) in chunks. */
	ck_assert_msg(gz_run(&other, text + head, mid, CHUNK, 0, mid, &err) == 0,
		      "%s", err.msg);
	for (size_t i = 0; i < sizeof(workers) / sizeof(workers[0]); i++) {
		struct mem_sink s = { 0 };
		struct gzw *w = gzw_new(1, CHUNK, workers[i], mem_sink_write, &s, &err);
		const uint64_t *size;
		uint64_t sum = 0;
		size_t members;

		ck_assert_ptr_nonnull(w);
		ck_assert(gzw_write(w, text, head, &err) == 0);
		ck_assert(gzw_cut(w, &err) == 0);
		ck_assert_uint_eq(gzw_members(w), 1);
		ck_assert(gzw_cut(w, &err) == 0); /* nothing to cut */
		ck_assert_uint_eq(gzw_members(w), 1);
		ck_assert(gzw_raw_begin(w, &err) == 0);
		ck_assert(mem_sink_write(&s, other.buf, other.len, &err) == 0);
		gzw_raw_end(w, other.len);
		ck_assert_uint_eq(gzw_members(w), 2);
		ck_assert(gzw_write(w, text + head + mid, n - head - mid, &err) == 0);
		ck_assert_msg(gzw_finish(w, &err) == 0, "%s", err.msg);
		ck_assert(gzw_finish(w, &err) == 0); /* again: nothing more */
		members = gzw_members(w);
		ck_assert_uint_eq(members, 2 + (n - head - mid + CHUNK - 1) / CHUNK);
		size = gzw_member_sizes(w);
		for (size_t m = 0; m < members; m++)
			sum += size[m];
		ck_assert_uint_eq(size[1], other.len);
		ck_assert_uint_eq(sum, s.len);
		gzw_free(w);

		check_reads_back(&s, text, n);
		if (i == 0) {
			first = s;
			continue;
		}
		ck_assert_msg(s.len == first.len && memcmp(s.buf, first.buf, s.len) == 0,
			      "%u workers: other bytes", workers[i]);
		free(s.buf);
	}
	free(first.buf);
	free(other.buf);
	free(text);
}
END_TEST

/* No text is one empty member; a multiple of the chunk size has no empty
 * member at the end. */
START_TEST(test_gzip_sizes)
{
	enum { CHUNK = 1000 };
	static const size_t sizes[] = { 0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK };
	char *text = gz_text(3 * CHUNK);
	struct pl_error err = { 0 };

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		for (unsigned workers = 0; workers <= 3; workers += 3) {
			struct mem_sink s = { 0 };

			ck_assert_msg(gz_run(&s, text, sizes[i], CHUNK, workers, 333,
					     &err) == 0, "%s", err.msg);
			check_members(&s, text, sizes[i], CHUNK);
			free(s.buf);
		}
	}
	free(text);
}
END_TEST

/* The sink failing at each member in turn: the sink's error comes back,
 * nothing more reaches the sink, nothing leaks. */
START_TEST(test_gzip_sink_fails)
{
	enum { CHUNK = 2048 };
	size_t n = 8 * CHUNK + 10;
	char *text = gz_text(n);

	for (unsigned workers = 0; workers <= 4; workers += 2) {
		for (size_t k = 1; k <= 9; k++) {
			struct mem_sink s = { .fail_at = k };
			struct pl_error err = { 0 };
			char want[64];

			ck_assert_int_eq(gz_run(&s, text, n, CHUNK, workers, 1000, &err), -1);
			ck_assert_int_eq(err.code, PL_EX_IOERR);
			snprintf(want, sizeof(want), "sink: member %zu: %s", k,
				 strerror(ENOSPC));
			ck_assert_str_eq(err.msg, want);
			ck_assert_uint_eq(s.members, k);
			free(s.buf);
		}
	}
	free(text);
}
END_TEST

/* Every allocation in turn fails: "out of memory", nothing leaks (the
 * sanitizer build and valgrind check that). */
START_TEST(test_gzip_out_of_memory)
{
	enum { CHUNK = 1024 };
	size_t n = 6 * CHUNK + 1, k;
	char *text = gz_text(n);

	for (k = 1; k < 1000; k++) {
		struct mem_sink s = { 0 };
		struct pl_error err = { 0 };
		int rc;

		pl_alloc_fail_at(k, 0);
		rc = gz_run(&s, text, n, CHUNK, 3, 500, &err);
		pl_alloc_fail_at(0, 0);
		free(s.buf);
		if (rc == 0)
			break;
		ck_assert_msg(err.code == PL_EX_OSERR, "allocation %zu: %d %s", k,
			      err.code, err.msg);
	}
	ck_assert_uint_gt(k, 3);
	ck_assert_uint_lt(k, 1000);
	free(text);
}
END_TEST

/* A .gz output of several members through out_write and out_printf: the
 * same bytes with one thread or several, and gzread gives the text. */
START_TEST(test_gzip_outfile)
{
	size_t n = 3 * GZW_CHUNK + 12345;
	char *text = gz_text(n), *raw[2] = { NULL, NULL }, *path, *back;
	size_t len[2] = { 0, 0 };
	char big[1000];

	memset(big, 'x', sizeof(big) - 2);
	big[sizeof(big) - 2] = '\n';
	big[sizeof(big) - 1] = '\0';
	for (int i = 0; i < 2; i++) {
		struct pl_error err = { 0 };
		struct outfile of;
		FILE *fp;

		cfg.v[CFG_run_threads].i = i ? 3 : 1;
		ck_assert_msg(out_open(&ctx, "big.tsv.gz", &of, &err) == 0, "%s", err.msg);
		ck_assert_int_eq(out_printf(&err, &of, "%s", big), 0);
		for (size_t off = 0; off < n; off += 70000)
			ck_assert_int_eq(out_write(&of, text + off,
						   n - off < 70000 ? n - off : 70000, &err), 0);
		ck_assert_int_eq(out_printf(&err, &of, "%s", big), 0);
		ck_assert_msg(out_close(&of, &err) == 0, "%s", err.msg);

		path = path_in(ctx.staging, "big.tsv.gz");
		fp = fopen(path, "rb");
		ck_assert_ptr_nonnull(fp);
		raw[i] = malloc(n);
		ck_assert_ptr_nonnull(raw[i]);
		len[i] = fread(raw[i], 1, n, fp);
		ck_assert(len[i] > 0 && len[i] < n);
		fclose(fp);
		back = test_slurp(path);
		ck_assert_ptr_nonnull(back);
		ck_assert_uint_eq(strlen(back), n + 2 * strlen(big));
		ck_assert(memcmp(back, big, strlen(big)) == 0);
		ck_assert(memcmp(back + strlen(big), text, n) == 0);
		ck_assert_str_eq(back + strlen(big) + n, big);
		free(back);
		pl_free(path);
	}
	ck_assert(len[0] == len[1] && memcmp(raw[0], raw[1], len[0]) == 0);
	cfg.v[CFG_run_threads].i = 0;
	free(raw[0]);
	free(raw[1]);
	free(text);
}
END_TEST

/* Every output operation of a .gz output written by threads fails in
 * turn (pl_io_fail_at): open with 73, each member write, the start of
 * writeback and the close with 74, each message naming the file and the
 * errno. */
START_TEST(test_gzip_outfile_faults)
{
	size_t n = 3 * GZW_CHUNK + 10;
	char *text = gz_text(n);
	unsigned long ops = 0;

	cfg.v[CFG_run_threads].i = 3;
	for (unsigned long k = 0; k == 0 || k <= ops; k++) {
		struct pl_error err = { 0 };
		struct outfile of;
		int rc;

		pl_io_fail_at(k, ENOSPC);
		rc = out_open(&ctx, "faults.tsv.gz", &of, &err);
		if (rc == 0) {
			for (size_t off = 0; rc == 0 && off < n; off += 100000)
				rc = out_write(&of, text + off,
					       n - off < 100000 ? n - off : 100000, &err);
			if (out_close(&of, rc ? NULL : &err))
				rc = -1;
		}
		if (k == 0) {
			ck_assert_msg(rc == 0, "%s", err.msg);
			ops = pl_io_fail_at(0, 0);
			/* open, 4 members, start of writeback, close */
			ck_assert_uint_eq(ops, 7);
			continue;
		}
		ck_assert_uint_ge(pl_io_fail_at(0, 0), k);
		ck_assert_msg(rc == -1, "operation %lu: no failure", k);
		ck_assert_int_eq(err.code, k == 1 ? PL_EX_CANTCREAT : PL_EX_IOERR);
		ck_assert_msg(strstr(err.msg, "faults.tsv.gz: ") &&
			      strstr(err.msg, strerror(ENOSPC)),
			      "operation %lu: %s", k, err.msg);
	}
	cfg.v[CFG_run_threads].i = 0;
	free(text);
}
END_TEST

/* Is s valid UTF-8 (any code point, no overlong check needed here)? */
static int utf8_whole(const char *s)
{
	const unsigned char *u = (const unsigned char *)s;

	while (*u) {
		int n = *u < 0x80 ? 0 : (*u & 0xe0) == 0xc0 ? 1 : (*u & 0xf0) == 0xe0 ? 2 :
			(*u & 0xf8) == 0xf0 ? 3 : -1;

		if (n < 0)
			return 0;
		for (u++; n > 0; n--, u++)
			if ((*u & 0xc0) != 0x80)
				return 0;
	}
	return 1;
}

/* Error messages are one line, whatever bytes a file name holds, and a
 * path too long for the message keeps its start and the reason. */
START_TEST(test_error_messages)
{
	struct pl_error err;
	char path[6000];
	size_t k = 0;

	pl_fail(&err, PL_EX_DATAERR, "%s: not gzip", "corpus/evil\npipeline: fake\x1b[31m\t.txt.gz");
	ck_assert_int_eq(err.code, PL_EX_DATAERR);
	ck_assert_str_eq(err.msg, "corpus/evil\\npipeline: fake\\x1b[31m\\t.txt.gz: not gzip");

	/* corpus/ then "é/" (2 bytes) nested until about 5,900 bytes. */
	k = (size_t)snprintf(path, sizeof(path), "corpus");
	while (k + 4 < 5900) {
		memcpy(path + k, "/\xc3\xa9", 3);
		k += 3;
	}
	path[k] = '\0';
	pl_fail(&err, PL_EX_NOINPUT, "%s/x.txt: cannot read: %s", path, "File name too long");
	ck_assert_int_eq(err.code, PL_EX_NOINPUT);
	ck_assert_uint_lt(strlen(err.msg), sizeof(err.msg));
	ck_assert_msg(strncmp(err.msg, "corpus/\xc3\xa9/", 9) == 0, "%s", err.msg);
	ck_assert_msg(strstr(err.msg, " ... "), "%s", err.msg);
	ck_assert_msg(strlen(err.msg) > 900, "only %zu bytes kept", strlen(err.msg));
	k = strlen(err.msg);
	ck_assert_str_eq(err.msg + k - strlen("/x.txt: cannot read: File name too long"),
			 "/x.txt: cannot read: File name too long");
	ck_assert_msg(utf8_whole(err.msg), "a character was cut: %s", err.msg);
}
END_TEST

Suite *suite_output(void)
{
	Suite *s = suite_create("output");
	TCase *tc = tcase_create("files");

	/* Each case reads the files of one run of write and summary. */
	tcase_add_checked_fixture(tc, setup_run, teardown);
	tcase_add_test(tc, test_tfidf_mtx);
	tcase_add_test(tc, test_counts_mtx);
	tcase_add_test(tc, test_terms_tsv);
	tcase_add_test(tc, test_docs_tsv);
	tcase_add_test(tc, test_clusters_tsv);
	tcase_add_test(tc, test_frames_tsv);
	tcase_add_test(tc, test_summary_md);
	tcase_add_test(tc, test_summary_json);
	suite_add_tcase(s, tc);

	tc = tcase_create("edges");
	/* Failing every allocation in turn takes a few seconds under ASan on
	 * a busy machine: more than Check's default 4 s. */
	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_no_clusters_no_frames);
	tcase_add_test(tc, test_bad_matrix);
	tcase_add_test(tc, test_weights_exact);
	tcase_add_test(tc, test_out_of_memory);
	tcase_add_test(tc, test_top_terms_cut);
	tcase_add_test(tc, test_since);
	tcase_add_test(tc, test_error_messages);
	suite_add_tcase(s, tc);

	tc = tcase_create("gzip");
	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_gzip_members);
	tcase_add_test(tc, test_gzip_cut_raw);
	tcase_add_test(tc, test_gzip_sizes);
	tcase_add_test(tc, test_gzip_sink_fails);
	tcase_add_test(tc, test_gzip_out_of_memory);
	tcase_add_test(tc, test_gzip_outfile);
	tcase_add_test(tc, test_gzip_outfile_faults);
	suite_add_tcase(s, tc);

	tc = tcase_create("document");
	tcase_add_checked_fixture(tc, setup_document, teardown);
	tcase_add_test(tc, test_document_mode);
	suite_add_tcase(s, tc);
	return s;
}
