/* check_stem.c -- tests of stage_stem
 *
 * Each case runs the tokenize and stem unit hooks on one text and compares
 * the stems (joined by "|") with Snowball's, worked out from its rules
 * ("surveillance": Step 4 removes -ance in R2, leaving "surveil").  The
 * memoisation case proves that a surface is stemmed once by giving a
 * known surface a different stem and seeing it reused.
 *
 * To debug one case: CK_RUN_SUITE=stem CK_RUN_CASE=stem CK_FORK=no.
 */
#include "lib.h"

#include <inttypes.h>

#include <string.h>

static struct config cfg;
static struct ctx ctx;
static struct unit u;
static struct pl_error err;
static struct strbuf joined;

static void setup(void)
{
	memset(&u, 0, sizeof(u));
	memset(&err, 0, sizeof(err));
	ck_assert_int_eq(config_init(&cfg, &err), 0);
	ctx_init(&ctx, &cfg);
}

static void teardown(void)
{
	tokens_release(&u.tok);
	ctx_release(&ctx);
	config_release(&cfg);
	strbuf_release(&joined);
}

static void set(const char *assignment)
{
	ck_assert_msg(config_override(&cfg, assignment, &err) == 0,
		      "%s: %s", assignment, err.msg);
}

static void start(void)
{
	ck_assert_msg(stage_tokenize.init(&ctx, &err) == 0, "tokenize: %s", err.msg);
	ck_assert_msg(stage_stem.init(&ctx, &err) == 0, "stem: %s", err.msg);
}

static void run(const char *text)
{
	u.text = text;
	u.len = strlen(text);
	u.counted = 1;
	ck_assert_msg(stage_tokenize.unit(&ctx, &u, &err) == 0, "%s", err.msg);
	ck_assert_msg(stage_stem.unit(&ctx, &u, &err) == 0, "%s", err.msg);
}

/* The unit's stems joined by "|". */
static const char *stems(void)
{
	strbuf_reset(&joined);
	ck_assert_int_eq(strbuf_addstr(&joined, ""), 0);
	for (size_t i = 0; i < u.tok.n; i++) {
		ck_assert_uint_ne(u.tok.stem[i], ID_NONE);
		ck_assert_int_eq(strbuf_addstr(&joined, i ? "|" : ""), 0);
		ck_assert_int_eq(strbuf_addstr(&joined, strtab_str(&ctx.stems.tab,
								   u.tok.stem[i])), 0);
	}
	return joined.buf;
}

struct row {
	const char *language;
	const char *text;
	const char *want;
};

static const struct row rows[] = {
	{ "english", "surveillance backdoors standards", "surveil|backdoor|standard" },
	/* The tokenizer folds case before stemming. */
	{ "english", "Citizens CAMERAS doubled", "citizen|camera|doubl" },
	{ "none", "Surveillance backdoors standards",
	  "surveillance|backdoors|standards" },
	{ "french", "nationales surveillance", "national|surveil" },
	{ "german", "Häuser", "haus" },
	/* libstemmer's ISO 639 codes name the same stemmers. */
	{ "de", "Häuser", "haus" },
	{ "porter", "running", "run" },
};

START_TEST(test_languages)
{
	char assignment[64];

	snprintf(assignment, sizeof(assignment), "stem.language=%s",
		 rows[_i].language);
	set(assignment);
	start();
	run(rows[_i].text);
	ck_assert_msg(strcmp(stems(), rows[_i].want) == 0,
		      "%s '%s': got '%s', want '%s'", rows[_i].language,
		      rows[_i].text, joined.buf, rows[_i].want);
}
END_TEST

/* Surfaces are not changed by stemming; several surfaces share a stem. */
START_TEST(test_surfaces_share_stem)
{
	start();
	run("standards standard Standards");
	ck_assert_str_eq(stems(), "standard|standard|standard");
	ck_assert_uint_eq(ctx.surf.tab.n, 2);
	ck_assert_str_eq(strtab_str(&ctx.surf.tab, u.tok.surf[0]), "standards");
	ck_assert_str_eq(strtab_str(&ctx.surf.tab, u.tok.surf[1]), "standard");
	ck_assert_uint_eq(ctx.stems.tab.n, 1);
	ck_assert_uint_eq(ctx.stems.kind[u.tok.stem[0]], TERM_WORD);
	ck_assert_uint_eq(ctx.stems.term[u.tok.stem[0]], ID_NONE);
	ck_assert_uint_eq(ctx.surf.stem[u.tok.surf[0]], u.tok.stem[0]);
	ck_assert_uint_eq(ctx.surf.stem[u.tok.surf[1]], u.tok.stem[0]);
}
END_TEST

/* Each distinct surface is stemmed once: analysing the same text again
 * adds no stem, and a surface's memoised stem is used as it is. */
START_TEST(test_memoised)
{
	uint32_t backdoors, mark;

	start();
	run("backdoors surveillance");
	ck_assert_str_eq(stems(), "backdoor|surveil");
	ck_assert_uint_eq(ctx.stems.tab.n, 2);
	run("backdoors surveillance backdoors");
	ck_assert_str_eq(stems(), "backdoor|surveil|backdoor");
	ck_assert_uint_eq(ctx.stems.tab.n, 2);
	ck_assert_uint_eq(ctx.surf.tab.n, 2);
	/* Swap in another stem for "backdoors": it must not be stemmed anew. */
	backdoors = strtab_find(&ctx.surf.tab, "backdoors", 9);
	ck_assert_uint_ne(backdoors, STRTAB_NONE);
	ck_assert_int_eq(stems_intern(&ctx.stems, "MARK", 4, TERM_WORD, &mark), 0);
	ctx.surf.stem[backdoors] = mark;
	run("backdoors surveillance");
	ck_assert_str_eq(stems(), "MARK|surveil");
}
END_TEST

/* A token that already has a stem (a phrase joined earlier) is left. */
START_TEST(test_stemmed_token_left)
{
	uint32_t s, st;
	int added;

	start();
	ck_assert_int_eq(surfaces_intern(&ctx.surf, "doors", 5, &s, &added), 0);
	ck_assert_int_eq(stems_intern(&ctx.stems, "kept", 4, TERM_PHRASE, &st), 0);
	ck_assert_int_eq(tokens_push(&u.tok, s, st), 0);
	ck_assert_int_eq(stage_stem.unit(&ctx, &u, &err), 0);
	ck_assert_uint_eq(u.tok.stem[0], st);
	ck_assert_uint_eq(ctx.surf.stem[s], ID_NONE);
}
END_TEST

START_TEST(test_unknown_language)
{
	set("stem.language=klingon");
	ck_assert_int_eq(stage_tokenize.init(&ctx, &err), 0);
	ck_assert_int_eq(stage_stem.init(&ctx, &err), -1);
	ck_assert_int_eq(err.code, PL_EX_CONFIG);
	ck_assert_msg(strncmp(err.msg, "-c stem.language: ", 18) == 0,
		      "message: %s", err.msg);
	ck_assert_msg(strstr(err.msg, "'klingon'") != NULL, "message: %s", err.msg);
	ck_assert_msg(strstr(err.msg, "pipeline help stem") != NULL,
		      "message: %s", err.msg);
}
END_TEST

/* Language names are case sensitive, as libstemmer's are. */
START_TEST(test_language_case)
{
	set("stem.language=English");
	ck_assert_int_eq(stage_stem.init(&ctx, &err), -1);
	ck_assert_int_eq(err.code, PL_EX_CONFIG);
	ck_assert_msg(strstr(err.msg, "'English'") != NULL, "message: %s", err.msg);
}
END_TEST

/* strtab_reserve (the preload of a rerun's cached terms): interning what
 * was reserved for neither moves the pool nor grows the slots, and gives
 * the ids and answers of a table that grew as it went, from empty and
 * from a table that already holds strings. */
START_TEST(test_strtab_reserve)
{
	struct strtab a, b;
	char name[32];
	size_t bytes = 0, nslot;
	const char *pool;
	uint32_t ia, ib;

	strtab_init(&a);
	strtab_init(&b);
	for (int start = 0; start < 2; start++) {
		int lo = start ? 5000 : 0, hi = start ? 70000 : 5000;

		bytes = 0;
		for (int i = lo; i < hi; i++)
			bytes += (size_t)snprintf(name, sizeof(name), "term%d", i * 7919);
		ck_assert_int_eq(strtab_reserve(&a, (size_t)(hi - lo), bytes), 0);
		pool = a.pool;
		nslot = a.nslot;
		for (int i = lo; i < hi; i++) {
			int len = snprintf(name, sizeof(name), "term%d", i * 7919);

			ck_assert_int_eq(strtab_intern(&a, name, (size_t)len, &ia), 1);
			ck_assert_int_eq(strtab_intern(&b, name, (size_t)len, &ib), 1);
			ck_assert_uint_eq(ia, ib);
			ck_assert_uint_eq(ia, (uint32_t)i);
		}
		ck_assert_ptr_eq(a.pool, pool);
		ck_assert_uint_eq(a.nslot, nslot);
	}
	ck_assert_uint_eq(a.n, b.n);
	for (int i = 0; i < 70000; i += 997) {
		int len = snprintf(name, sizeof(name), "term%d", i * 7919);

		ck_assert_uint_eq(strtab_find(&a, name, (size_t)len), (uint32_t)i);
		ck_assert_str_eq(strtab_str(&a, (uint32_t)i), name);
		ck_assert_int_eq(strtab_intern(&a, name, (size_t)len, &ia), 0);
		ck_assert_uint_eq(ia, (uint32_t)i);
	}
	ck_assert_uint_eq(strtab_find(&a, "term1", 5), STRTAB_NONE);
	strtab_release(&a);
	strtab_release(&b);
}
END_TEST

/* strbuf_add_u64 writes what "%" PRIu64 writes: 0, each power of ten and
 * its neighbours, and the largest value. */
START_TEST(test_strbuf_add_u64)
{
	struct strbuf a = STRBUF_INIT, b = STRBUF_INIT;
	uint64_t p = 1;

	for (int i = 0; i < 20; i++, p *= 10) {
		uint64_t v[3] = { p - 1, p, p + 1 };

		for (int j = 0; j < 3; j++) {
			ck_assert_int_eq(strbuf_add_u64(&a, v[j]), 0);
			ck_assert_int_eq(strbuf_addch(&a, ' '), 0);
			ck_assert_int_eq(strbuf_addf(&b, "%" PRIu64 " ", v[j]), 0);
		}
	}
	ck_assert_int_eq(strbuf_add_u64(&a, UINT64_MAX), 0);
	ck_assert_int_eq(strbuf_addf(&b, "%" PRIu64, UINT64_MAX), 0);
	ck_assert_str_eq(a.buf, b.buf);
	ck_assert_uint_eq(a.len, b.len);
	strbuf_release(&a);
	strbuf_release(&b);
}
END_TEST

Suite *suite_stem(void)
{
	Suite *s = suite_create("stem");
	TCase *tc = tcase_create("stem");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_languages, 0,
			    (int)(sizeof(rows) / sizeof(rows[0])));
	tcase_add_test(tc, test_surfaces_share_stem);
	tcase_add_test(tc, test_memoised);
	tcase_add_test(tc, test_stemmed_token_left);
	tcase_add_test(tc, test_unknown_language);
	tcase_add_test(tc, test_language_case);
	tcase_add_test(tc, test_strtab_reserve);
	tcase_add_test(tc, test_strbuf_add_u64);
	suite_add_tcase(s, tc);
	return s;
}
