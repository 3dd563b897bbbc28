/* check_tfidf.c -- tests of stage_tfidf (and the pruning of stage_vocabulary)
 *
 * A corpus of three one-statement files (corpus.unit = document), read by
 * the real read, tokenize, stem, phrases and vocabulary stages with stop
 * words and stemming off, so the terms are the words themselves:
 *
 *   a.txt  "apple apple banana"       row 0: apple 2, banana 1
 *   b.txt  "banana cherry"            row 1: banana 1, cherry 1
 *   c.txt  "cherry cherry cherry durian"  row 2: cherry 3, durian 1
 *
 * Term ids in order of first occurrence: apple 0, banana 1, cherry 2,
 * durian 3.  n = 3; df = 1, 2, 2, 1; cf = 2, 2, 4, 1.
 *
 *   smooth idf: df 1: ln(4/2) + 1 = 1.6931471805599454
 *               df 2: ln(4/3) + 1 = 1.2876820724517808
 *   plain idf:  df 1: ln(3/1) + 1 = 2.09861228866811
 *               df 2: ln(3/2) + 1 = 1.4054651081081644
 *   log2 idf:   df 1: log2(3/1) = 1.5849625007211561
 *               df 2: log2(3/2) = 0.58496250072115619
 *   smooth0:    df 1: ln(4/2) = 0.69314718055994529
 *               df 2: ln(4/3) = 0.28768207245178085
 *
 * Statement lengths (for tf = relative) are 3, 2 and 4 tokens.
 *
 * The expected weights in the table below were worked out from these by
 * hand (and checked in Python to 17 digits); the comment over each row
 * gives the formula.
 *
 * To debug one case: CK_RUN_SUITE=tfidf CK_RUN_CASE=weights CK_FORK=no.
 */
#include "lib.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define NT 4   /* terms */
#define NR 3   /* statements */

static struct config cfg;
static struct ctx ctx;
static struct pl_error err;
static char *dir;

static void setup(void)
{
	char assignment[4200];

	memset(&err, 0, sizeof(err));
	dir = test_tmpdir();
	test_write(dir, "corpus/a.txt", "apple apple banana\n");
	test_write(dir, "corpus/b.txt", "banana cherry\n");
	test_write(dir, "corpus/c.txt", "cherry cherry cherry durian\n");
	ck_assert_int_eq(config_init(&cfg, &err), 0);
	snprintf(assignment, sizeof(assignment), "corpus.dir=%s/corpus", dir);
	ck_assert_int_eq(config_override(&cfg, assignment, &err), 0);
	ck_assert_int_eq(config_override(&cfg, "corpus.unit=document", &err), 0);
	ck_assert_int_eq(config_override(&cfg, "tokenize.stopwords=none", &err), 0);
	ck_assert_int_eq(config_override(&cfg, "stem.language=none", &err), 0);
	ctx_init(&ctx, &cfg);
	/* The stage writes tfidf.mtx.gz: a staging folder to write it in. */
	snprintf(assignment, sizeof(assignment), "%s/out", dir);
	ctx.outdir = pl_strdup(assignment);
	ck_assert_ptr_nonnull(ctx.outdir);
	ck_assert_int_eq(mkdir(ctx.outdir, 0777), 0);
	ck_assert_msg(out_begin(&ctx, &err) == 0, "%s", err.msg);
}

static void teardown(void)
{
	out_abandon(&ctx);
	pl_free(ctx.outdir);
	ctx_release(&ctx);
	config_release(&cfg);
	test_rmtree(dir);
	free(dir);
}

static void set(const char *assignment)
{
	ck_assert_msg(config_override(&cfg, assignment, &err) == 0,
		      "%s: %s", assignment, err.msg);
}

/* Run one stage's run hook the way ctx_run does: with ctx.stage set to
 * its row in the table, so the read stage runs the later unit hooks. */
static int run_stage(const struct stage *st)
{
	int i, rc;

	for (i = 0; stages[i] && stages[i] != st; i++)
		;
	ck_assert_ptr_nonnull(stages[i]);
	ctx.stage = i;
	rc = st->run(&ctx, &err);
	ctx.stage = -1;
	return rc;
}

/* Read the corpus and count it: everything tfidf needs. */
static void count(void)
{
	ck_assert_msg(ctx_prepare(&ctx, &err) == 0, "prepare: %s", err.msg);
	ck_assert_msg(run_stage(&stage_read) == 0, "read: %s", err.msg);
	ck_assert_msg(run_stage(&stage_vocabulary) == 0, "vocabulary: %s", err.msg);
}

/* Count, then weigh: the weights are made in the counts' memory, so
 * ctx.counts is empty afterwards (its entries, as the tfidf stage saw
 * them, are left in *nnz). */
static void weigh_n(uint64_t *nnz)
{
	count();
	*nnz = ctx.counts.nnz;
	ck_assert_msg(run_stage(&stage_tfidf) == 0, "tfidf: %s", err.msg);
	ck_assert_msg(ctx.counts.nnz == 0 && !ctx.counts.col && !ctx.counts.cnt &&
		      !ctx.counts.rowptr, "the counts were not handed over");
}

static void weigh(void)
{
	uint64_t nnz;

	weigh_n(&nnz);
}

/* Row r of the TF-IDF matrix, dense, as the later stages see it (single
 * precision); checks the columns are ascending and that only kept terms
 * have entries.  Returns the row's entry count. */
static size_t dense_row(size_t r, double *out)
{
	const struct csr *m = &ctx.tfidf;
	size_t n = 0;

	for (size_t t = 0; t < NT; t++)
		out[t] = 0;
	for (uint64_t j = m->rowptr[r]; j < m->rowptr[r + 1]; j++) {
		ck_assert_uint_lt(m->col[j], NT);
		if (j > m->rowptr[r])
			ck_assert_uint_lt(m->col[j - 1], m->col[j]);
		ck_assert_msg(ctx.vocab.kept[m->col[j]],
			      "row %zu: entry for pruned term %u", r, m->col[j]);
		out[m->col[j]] = m->fval[j];
		n++;
	}
	return n;
}

/* A weight kept in single precision: the float nearest the double. */
static int near_float(double got, double want)
{
	return fabs(got - want) <= fabs(want) * 0x1p-24;
}

/* The weights tfidf.mtx.gz holds (written from the doubles before they
 * were narrowed), dense: out[row * NT + term]; returns the entries. */
static size_t written(double out[NR * NT])
{
	char path[4300], *t, *p;
	size_t rows, cols, n, got = 0;

	ck_assert_msg(out_publish(&ctx, &err) == 0, "%s", err.msg);
	snprintf(path, sizeof(path), "%s/tfidf.mtx.gz", ctx.outdir);
	t = test_slurp(path);
	ck_assert_ptr_nonnull(t);
	for (size_t i = 0; i < NR * NT; i++)
		out[i] = 0;
	p = t;
	while (*p == '%')
		p = strchr(p, '\n') + 1;
	ck_assert_int_eq(sscanf(p, "%zu %zu %zu", &rows, &cols, &n), 3);
	ck_assert(rows == NR && cols == NT);
	for (p = strchr(p, '\n') + 1; *p; p = strchr(p, '\n') + 1) {
		size_t r, c;
		double v;

		ck_assert_int_eq(sscanf(p, "%zu %zu %lf", &r, &c, &v), 3);
		ck_assert(r >= 1 && r <= NR && c >= 1 && c <= NT);
		out[(r - 1) * NT + c - 1] = v;
		got++;
	}
	ck_assert_uint_eq(got, n);
	free(t);
	return n;
}

/* The corpus came through as described at the top. */
static void check_counts(void)
{
	static const char *const terms[NT] = { "apple", "banana", "cherry", "durian" };
	static const uint32_t df[NT] = { 1, 2, 2, 1 };
	static const uint64_t cf[NT] = { 2, 2, 4, 1 };
	static const uint64_t rowptr[NR + 1] = { 0, 2, 4, 6 };
	static const uint32_t col[6] = { 0, 1, 1, 2, 2, 3 };
	static const uint32_t cnt[6] = { 2, 1, 1, 1, 3, 1 };

	ck_assert_uint_eq(ctx.units.n, NR);
	ck_assert_uint_eq(ctx.vocab.tab.n, NT);
	for (size_t t = 0; t < NT; t++) {
		ck_assert_str_eq(strtab_str(&ctx.vocab.tab, (uint32_t)t), terms[t]);
		ck_assert_uint_eq(ctx.vocab.df[t], df[t]);
		ck_assert_uint_eq(ctx.vocab.cf[t], cf[t]);
	}
	ck_assert_uint_eq(ctx.counts.nrows, NR);
	ck_assert_uint_eq(ctx.counts.ncols, NT);
	ck_assert_uint_eq(ctx.counts.nnz, 6);
	for (size_t r = 0; r <= NR; r++)
		ck_assert_uint_eq(ctx.counts.rowptr[r], rowptr[r]);
	for (size_t j = 0; j < 6; j++) {
		ck_assert_uint_eq(ctx.counts.col[j], col[j]);
		ck_assert_uint_eq(ctx.counts.cnt[j], cnt[j]);
	}
}

START_TEST(test_corpus)
{
	count();
	check_counts();
}
END_TEST

/* ---------------------------------------------------------------------- */

struct row {
	const char *name;
	const char *opt[3];       /* overrides, up to the first NULL */
	int norm;                 /* 2: rows of L2 norm 1, 1: L1, 0: none */
	double idf[NT];
	unsigned char kept[NT];
	double w[NR][NT];         /* 0 where there is no entry */
};

#define I1 1.6931471805599454     /* smooth idf, df 1 */
#define I2 1.2876820724517808     /* smooth idf, df 2 */
#define P1 2.09861228866811       /* plain idf, df 1 */
#define P2 1.4054651081081644     /* plain idf, df 2 */
#define L1 1.5849625007211561     /* log2 idf, df 1 */
#define L2 0.58496250072115619    /* log2 idf, df 2 */
#define S1 0.69314718055994529    /* smooth0 idf, df 1 */
#define S2 0.28768207245178085    /* smooth0 idf, df 2 */
#define R2 0.70710678118654757    /* 1 / sqrt(2) */
#define SMOOTH { I1, I2, I2, I1 }
#define ALL { 1, 1, 1, 1 }

static const struct row rows[] = {
	/* Row 0: (2 I1, I2) / sqrt(4 I1^2 + I2^2); row 1: (I2, I2) /
	 * (sqrt 2 I2); row 2: (3 I2, I1) / sqrt(9 I2^2 + I1^2). */
	{ "default: raw, smooth, l2", { NULL }, 2, SMOOTH, ALL,
	  { { 0.93470196362143265, 0.35543246785041743, 0, 0 },
	    { 0, R2, R2, 0 },
	    { 0, 0, 0.91589033196946545, 0.40142857372745955 } } },
	/* tf 1 + ln 2 = 1.6931 for apple, 1 + ln 3 = 2.0986 for cherry. */
	{ "tf log", { "tfidf.tf=log" }, 2, SMOOTH, ALL,
	  { { 0.91220162959715423, 0.40974160999378162, 0, 0 },
	    { 0, R2, R2, 0 },
	    { 0, 0, 0.84740848522026524, 0.5309414837594586 } } },
	/* tf 1: rows 0 and 2 are (I1, I2) and (I2, I1) over sqrt(I1^2 + I2^2). */
	{ "tf binary", { "tfidf.tf=binary" }, 2, SMOOTH, ALL,
	  { { 0.7959605415681652, 0.60534850810629159, 0, 0 },
	    { 0, R2, R2, 0 },
	    { 0, 0, 0.60534850810629159, 0.7959605415681652 } } },
	/* (2 P1, P2) and (3 P2, P1), normalised. */
	{ "idf plain", { "tfidf.idf=plain" }, 2, { P1, P2, P2, P1 }, ALL,
	  { { 0.94824929711169825, 0.31752680284846835, 0, 0 },
	    { 0, R2, R2, 0 },
	    { 0, 0, 0.89523978909597679, 0.44558469455243965 } } },
	/* The counts normalised: (2, 1)/sqrt 5, (1, 1)/sqrt 2, (3, 1)/sqrt 10. */
	{ "idf none", { "tfidf.idf=none" }, 2, { 1, 1, 1, 1 }, ALL,
	  { { 2 / 2.2360679774997897, 1 / 2.2360679774997897, 0, 0 },
	    { 0, R2, R2, 0 },
	    { 0, 0, 3 / 3.1622776601683795, 1 / 3.1622776601683795 } } },
	/* (2 I1, I2) / (2 I1 + I2), ... */
	{ "norm l1", { "tfidf.norm=l1" }, 1, SMOOTH, ALL,
	  { { 0.72449966516673592, 0.27550033483326403, 0, 0 },
	    { 0, 0.5, 0.5, 0 },
	    { 0, 0, 0.69526849421850168, 0.30473150578149832 } } },
	{ "norm none", { "tfidf.norm=none" }, 0, SMOOTH, ALL,
	  { { 2 * I1, I2, 0, 0 },
	    { 0, I2, I2, 0 },
	    { 0, 0, 3 * I2, I1 } } },
	{ "raw, no idf, no norm: the counts", { "tfidf.idf=none", "tfidf.norm=none" },
	  0, { 1, 1, 1, 1 }, ALL,
	  { { 2, 1, 0, 0 }, { 0, 1, 1, 0 }, { 0, 0, 3, 1 } } },

	/* tf relative: the count over the statement's length (3, 2, 4).
	 * Under a norm the length cancels, so these are left unnormalised:
	 * (2/3 I1, 1/3 I2), (1/2 I2, 1/2 I2), (3/4 I2, 1/4 I1). */
	{ "tf relative", { "tfidf.tf=relative", "tfidf.norm=none" }, 0, SMOOTH, ALL,
	  { { 1.1287647870399635, 0.42922735748392693, 0, 0 },
	    { 0, 0.6438410362258904, 0.6438410362258904, 0 },
	    { 0, 0, 0.96576155433883559, 0.42328679513998635 } } },
	/* The length counts pruned terms too: apple (df 1) is pruned at
	 * min_df 2 and banana is still 1/3 of statement 0. */
	{ "tf relative, pruned", { "tfidf.tf=relative", "tfidf.norm=none",
				   "vocabulary.min_df=2" }, 0, SMOOTH, { 0, 1, 1, 0 },
	  { { 0, 0.42922735748392693, 0, 0 },
	    { 0, 0.6438410362258904, 0.6438410362258904, 0 },
	    { 0, 0, 0.96576155433883559, 0 } } },
	/* (2 L1, L2) and (3 L2, L1), normalised. */
	{ "idf log2", { "tfidf.idf=log2" }, 2, { L1, L2, L2, L1 }, ALL,
	  { { 0.983396268620918, 0.18147115159841573, 0, 0 },
	    { 0, R2, R2, 0 },
	    { 0, 0, 0.74212308433267604, 0.67026362552398444 } } },
	{ "idf smooth0", { "tfidf.idf=smooth0", "tfidf.norm=none" }, 0,
	  { S1, S2, S2, S1 }, ALL,
	  { { 2 * S1, S2, 0, 0 },
	    { 0, S2, S2, 0 },
	    { 0, 0, 3 * S2, S1 } } },

	/* Presets: the tool's tf, idf and norm, whatever the defaults of
	 * the three keys are. */
	{ "preset sklearn: raw, smooth, l2", { "tfidf.preset=sklearn" }, 2, SMOOTH, ALL,
	  { { 0.93470196362143265, 0.35543246785041743, 0, 0 },
	    { 0, R2, R2, 0 },
	    { 0, 0, 0.91589033196946545, 0.40142857372745955 } } },
	/* (2/3 L1, 1/3 L2), (1/2 L2, 1/2 L2), (3/4 L2, 1/4 L1). */
	{ "preset tm: relative, log2, none", { "tfidf.preset=tm" }, 0,
	  { L1, L2, L2, L1 }, ALL,
	  { { 1.0566416671474372, 0.19498750024038539, 0, 0 },
	    { 0, 0.29248125036057809, 0.29248125036057809, 0 },
	    { 0, 0, 0.43872187554086717, 0.39624062518028902 } } },
	{ "preset gensim: raw, log2, l2", { "tfidf.preset=gensim" }, 2,
	  { L1, L2, L2, L1 }, ALL,
	  { { 0.983396268620918, 0.18147115159841573, 0, 0 },
	    { 0, R2, R2, 0 },
	    { 0, 0, 0.74212308433267604, 0.67026362552398444 } } },
	{ "preset spark: raw, smooth0, none", { "tfidf.preset=spark" }, 0,
	  { S1, S2, S2, S1 }, ALL,
	  { { 2 * S1, S2, 0, 0 },
	    { 0, S2, S2, 0 },
	    { 0, 0, 3 * S2, S1 } } },

	/* Pruning keeps the column ids; idf is still computed for every
	 * term.  min_df 2: banana and cherry; a row left with one term
	 * normalises to 1. */
	{ "min_df 2", { "vocabulary.min_df=2" }, 2, SMOOTH, { 0, 1, 1, 0 },
	  { { 0, 1, 0, 0 }, { 0, R2, R2, 0 }, { 0, 0, 1, 0 } } },
	/* max_df 0.5: at most 1.5 of 3 statements, so apple and durian; row
	 * 1 has neither and stays empty. */
	{ "max_df 0.5", { "vocabulary.max_df=0.5" }, 2, SMOOTH, { 1, 0, 0, 1 },
	  { { 1, 0, 0, 0 }, { 0, 0, 0, 0 }, { 0, 0, 0, 1 } } },
	/* max_features 2: by cf, cherry (4), then apple and banana tie at 2
	 * and the lower id, apple, wins. */
	{ "max_features 2", { "vocabulary.max_features=2" }, 2, SMOOTH, { 1, 0, 1, 0 },
	  { { 1, 0, 0, 0 }, { 0, 0, 1, 0 }, { 0, 0, 1, 0 } } },
	{ "max_features 3", { "vocabulary.max_features=3" }, 2, SMOOTH, { 1, 1, 1, 0 },
	  { { 0.93470196362143265, 0.35543246785041743, 0, 0 },
	    { 0, R2, R2, 0 },
	    { 0, 0, 1, 0 } } },
	/* max_df 1.0 keeps a term in every statement: none here, so all. */
	{ "max_df 1.0 keeps all", { "vocabulary.max_df=1.0" }, 2, SMOOTH, ALL,
	  { { 0.93470196362143265, 0.35543246785041743, 0, 0 },
	    { 0, R2, R2, 0 },
	    { 0, 0, 0.91589033196946545, 0.40142857372745955 } } },
};

START_TEST(test_weights)
{
	const struct row *r = &rows[_i];
	size_t nkept = 0, nnz = 0;
	double w[NT];

	for (size_t k = 0; k < 3 && r->opt[k]; k++)
		set(r->opt[k]);
	count();
	check_counts();
	ck_assert_msg(run_stage(&stage_tfidf) == 0, "tfidf: %s", err.msg);
	for (size_t t = 0; t < NT; t++) {
		ck_assert_msg(ctx.vocab.kept[t] == r->kept[t], "%s: kept[%zu] = %u",
			      r->name, t, ctx.vocab.kept[t]);
		nkept += r->kept[t];
		ck_assert_double_eq_tol(ctx.vocab.idf[t], r->idf[t], 1e-12);
	}
	ck_assert_uint_eq(ctx.vocab.nkept, nkept);
	ck_assert_uint_eq(ctx.tfidf.nrows, NR);
	ck_assert_uint_eq(ctx.tfidf.ncols, NT);
	ck_assert_uint_eq(ctx.tfidf.rowptr[0], 0);
	for (size_t i = 0; i < NR; i++) {
		size_t want_n = 0;
		double sum = 0;

		for (size_t t = 0; t < NT; t++)
			want_n += r->w[i][t] != 0;
		ck_assert_msg(dense_row(i, w) == want_n, "%s: row %zu has %zu entries",
			      r->name, i,
			      (size_t)(ctx.tfidf.rowptr[i + 1] - ctx.tfidf.rowptr[i]));
		nnz += want_n;
		for (size_t t = 0; t < NT; t++) {
			ck_assert_msg(near_float(w[t], r->w[i][t]),
				      "%s: w[%zu][%zu] = %.17g, want %.17g",
				      r->name, i, t, w[t], r->w[i][t]);
			sum += r->norm == 2 ? w[t] * w[t] : w[t];
		}
		if (r->norm && want_n)
			ck_assert_double_eq_tol(sum, 1.0, 1e-6);
	}
	ck_assert_uint_eq(ctx.tfidf.nnz, nnz);
	ck_assert_uint_eq(ctx.tfidf.rowptr[NR], nnz);
	/* tfidf.mtx.gz has the double weights, to 1e-12. */
	{
		double out[NR * NT];

		ck_assert_uint_eq(written(out), nnz);
		for (size_t i = 0; i < NR; i++)
			for (size_t t = 0; t < NT; t++)
				ck_assert_msg(fabs(out[i * NT + t] - r->w[i][t]) <= 1e-12,
					      "%s: tfidf.mtx.gz [%zu][%zu] = %.17g, want %.17g",
					      r->name, i, t, out[i * NT + t], r->w[i][t]);
	}
}
END_TEST

/* An empty statement is a row with no entries and still counts in n:
 * with four statements the smooth idf of df 1 is ln(5/2) + 1. */
START_TEST(test_empty_statement)
{
	double w[NT];

	test_write(dir, "corpus/d.txt", "");
	weigh();
	ck_assert_uint_eq(ctx.units.n, 4);
	ck_assert_uint_eq(ctx.tfidf.nrows, 4);
	ck_assert_uint_eq(ctx.tfidf.rowptr[4], ctx.tfidf.rowptr[3]);
	ck_assert_double_eq_tol(ctx.vocab.idf[0], 1.916290731874155, 1e-12);
	ck_assert_double_eq_tol(ctx.vocab.idf[1], log(5.0 / 3.0) + 1, 1e-12);
	/* Row 1 is unchanged: two terms of equal weight. */
	ck_assert_uint_eq(dense_row(1, w), 2);
	ck_assert(near_float(w[1], R2));
	ck_assert(near_float(w[2], R2));
}
END_TEST

/* A term in every statement has log2 idf 0; its entries are still
 * written (as 0), so the TF-IDF matrix has the counts' entries.  Here
 * banana is added to c.txt: rows (2 L1, 0), (0, L2), (0, 3 L2, L1), then
 * normalised. */
START_TEST(test_zero_weight_kept)
{
	static const uint32_t col[7] = { 0, 1, 1, 2, 1, 2, 3 };
	static const double val[7] = { 1, 0, 0, 1, 0, 0.74212308433267604,
				       0.67026362552398444 };

	test_write(dir, "corpus/c.txt", "cherry cherry cherry durian banana\n");
	uint64_t counted;

	set("tfidf.preset=gensim");
	weigh_n(&counted);
	ck_assert_uint_eq(ctx.vocab.df[1], 3);
	ck_assert_double_eq(ctx.vocab.idf[1], 0);
	ck_assert_uint_eq(ctx.tfidf.nnz, 7);
	ck_assert_uint_eq(ctx.tfidf.nnz, counted);
	ck_assert_uint_eq(ctx.tfidf.rowptr[1], 2);
	ck_assert_uint_eq(ctx.tfidf.rowptr[2], 4);
	for (size_t j = 0; j < 7; j++) {
		ck_assert_uint_eq(ctx.tfidf.col[j], col[j]);
		ck_assert_msg(near_float(ctx.tfidf.fval[j], val[j]),
			      "entry %zu: %.17g, want %.17g", j, ctx.tfidf.fval[j], val[j]);
	}
}
END_TEST

/* A preset sets tf, idf and norm: one of them set as well, with -c or in
 * the file, is a configuration error naming both places. */
START_TEST(test_preset_conflict_override)
{
	set("tfidf.preset=tm");
	set("tfidf.tf=raw");
	ck_assert_int_eq(ctx_prepare(&ctx, &err), -1);
	ck_assert_int_eq(err.code, PL_EX_CONFIG);
	ck_assert_str_eq(err.msg, "-c tfidf.preset: [tfidf] preset = tm sets tf, idf "
			 "and norm, but -c tfidf.tf also sets tf = raw; remove one of "
			 "the two (or set preset = none)");
}
END_TEST

START_TEST(test_preset_conflict_file)
{
	char conf[4200], want[9000];

	test_write(dir, "p.conf", "[tfidf]\npreset = gensim\n# l2 anyway\nnorm = l2\n");
	snprintf(conf, sizeof(conf), "%s/p.conf", dir);
	ck_assert_msg(config_load(&cfg, conf, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(stage_tfidf.init(&ctx, &err), -1);
	ck_assert_int_eq(err.code, PL_EX_CONFIG);
	snprintf(want, sizeof(want), "%s:2: [tfidf] preset = gensim sets tf, idf and "
		 "norm, but %s:4 also sets norm = l2; remove one of the two (or set "
		 "preset = none)", conf, conf);
	ck_assert_str_eq(err.msg, want);
}
END_TEST

/* Without tf, idf or norm set, a preset is fine; so is any of them with
 * preset = none. */
START_TEST(test_preset_alone)
{
	set("tfidf.preset=spark");
	ck_assert_msg(stage_tfidf.init(&ctx, &err) == 0, "%s", err.msg);
	set("tfidf.preset=none");
	set("tfidf.idf=log2");
	ck_assert_msg(stage_tfidf.init(&ctx, &err) == 0, "%s", err.msg);
}
END_TEST

/* Pruning every term is a data error, not an empty matrix. */
START_TEST(test_nothing_left)
{
	set("vocabulary.min_df=4");
	ck_assert_msg(ctx_prepare(&ctx, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(run_stage(&stage_read), 0);
	ck_assert_int_eq(run_stage(&stage_vocabulary), -1);
	ck_assert_int_eq(err.code, PL_EX_DATAERR);
	ck_assert_msg(strstr(err.msg, "no terms left") == err.msg,
		      "message: %s", err.msg);
}
END_TEST

Suite *suite_tfidf(void)
{
	Suite *s = suite_create("tfidf");
	TCase *tc = tcase_create("weights");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_corpus);
	tcase_add_loop_test(tc, test_weights, 0, (int)(sizeof(rows) / sizeof(rows[0])));
	tcase_add_test(tc, test_empty_statement);
	tcase_add_test(tc, test_nothing_left);
	tcase_add_test(tc, test_zero_weight_kept);
	tcase_add_test(tc, test_preset_conflict_override);
	tcase_add_test(tc, test_preset_conflict_file);
	tcase_add_test(tc, test_preset_alone);
	suite_add_tcase(s, tc);
	return s;
}
