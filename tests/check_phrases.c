/* check_phrases.c -- tests of stage_phrases
 *
 * Each case initialises tokenize, stem and phrases from the defaults plus
 * -c style [phrases] entries, runs the analysis hooks on one text and
 * compares the resulting stems (joined by "|") with ones worked out by
 * hand from the English Snowball stems: "standards" -> "standard",
 * "doors" -> "door", "eyes" -> "eye", "alliance" -> "allianc",
 * "surveillance" -> "surveil", "cameras" -> "camera", "citizens" ->
 * "citizen", "double" -> "doubl", "security" -> "secur".  A phrase term is
 * the entry's name and is not stemmed again; an n-gram is its stems joined
 * by one space.
 *
 * To debug one case: CK_RUN_SUITE=phrases CK_RUN_CASE=table CK_FORK=no.
 */
#include "lib.h"

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

/* Initialise the three analysis stages; the phrases init result. */
static int start(void)
{
	ck_assert_msg(stage_tokenize.init(&ctx, &err) == 0, "tokenize: %s", err.msg);
	ck_assert_msg(stage_stem.init(&ctx, &err) == 0, "stem: %s", err.msg);
	return stage_phrases.init(&ctx, &err);
}

/* Analyse text as config text (stages_analyze: no n-grams) or as a
 * counted statement (the unit hooks in order, as the read stage does). */
static void run(const char *text, int counted)
{
	u.text = text;
	u.len = strlen(text);
	if (!counted) {
		ck_assert_msg(stages_analyze(&ctx, &u, &err) == 0, "%s", err.msg);
		ck_assert_int_eq(u.counted, 0);
		return;
	}
	u.counted = 1;
	u.tok.n = 0;
	ck_assert_msg(stage_tokenize.unit(&ctx, &u, &err) == 0, "%s", err.msg);
	ck_assert_msg(stage_stem.unit(&ctx, &u, &err) == 0, "%s", err.msg);
	ck_assert_msg(stage_phrases.unit(&ctx, &u, &err) == 0, "%s", err.msg);
}

static const char *stems(void)
{
	strbuf_reset(&joined);
	ck_assert_int_eq(strbuf_addstr(&joined, ""), 0);
	for (size_t i = 0; i < u.tok.n; i++) {
		ck_assert_int_eq(strbuf_addstr(&joined, i ? "|" : ""), 0);
		ck_assert_int_eq(strbuf_addstr(&joined, strtab_str(&ctx.stems.tab,
								   u.tok.stem[i])), 0);
	}
	return joined.buf;
}

/* The phrases most rows use. */
#define DOUBLE "phrases.double_standard=double standard"
#define BACKDOOR "phrases.backdoor=backdoor, back door"
#define EYES "phrases.five_eyes=five eyes"

struct row {
	const char *name;
	const char *opt[5];   /* overrides, up to the first NULL */
	const char *text;
	int counted;          /* 1: as a statement (n-grams), 0: stages_analyze */
	const char *want;     /* stems joined by "|" */
};

static const struct row rows[] = {
	{ "inflected phrase", { DOUBLE, BACKDOOR, EYES }, "double standards", 0,
	  "double_standard" },
	{ "phrase in capitals", { DOUBLE }, "Double STANDARD", 0, "double_standard" },
	{ "two words", { DOUBLE, BACKDOOR, EYES }, "back doors", 0, "backdoor" },
	{ "hyphenated", { DOUBLE, BACKDOOR, EYES }, "back-door", 0, "backdoor" },
	{ "one word, plural", { DOUBLE, BACKDOOR, EYES }, "backdoors", 0, "backdoor" },
	{ "one word, capital", { DOUBLE, BACKDOOR, EYES }, "Backdoor", 0, "backdoor" },
	{ "every spelling in one text", { BACKDOOR },
	  "a back door, a Backdoor and back-doors", 0, "backdoor|backdoor|backdoor" },
	/* "back" is a stop word: without the phrase only "door" is left. */
	{ "no phrase: stop word dropped", { NULL }, "back door", 0, "door" },
	{ "stop word starts a phrase", { DOUBLE, BACKDOOR, EYES },
	  "the Five Eyes alliance", 0, "five_eyes|allianc" },
	{ "no phrase: five dropped", { NULL }, "the Five Eyes alliance", 0,
	  "eye|allianc" },
	{ "stop word inside a phrase", { "phrases.rule_of_law=rule of law" },
	  "the rule of law", 0, "rule_of_law" },

	{ "spaces in the name", { "phrases.five eyes=five eyes" }, "Five Eyes", 0,
	  "five_eyes" },
	{ "only the words in the text", { DOUBLE }, "double", 0, "doubl" },
	/* Longest form first, whatever the order of the entries. */
	{ "longest match", { "phrases.cyber_security=cyber security",
			     "phrases.cyber_security_law=cyber security law" },
	  "cyber security law; cyber security; cyber attack", 0,
	  "cyber_security_law|cyber_security|cyber|attack" },
	{ "longest match, entries reversed",
	  { "phrases.cyber_security_law=cyber security law",
	    "phrases.cyber_security=cyber security" },
	  "cyber security law; cyber security; cyber attack", 0,
	  "cyber_security_law|cyber_security|cyber|attack" },
	{ "longer form cut off by the end", { "phrases.new_york=new york",
					      "phrases.new_york_times=new york times" },
	  "the New York Times and New York", 0, "new_york_times|new_york" },
	/* One name, forms that stem alike: listed once, no error. */
	{ "same form twice for one name", { "phrases.backdoor=back door, back doors" },
	  "back door", 0, "backdoor" },

	/* N-grams, from the tokens left once stop words are dropped. */
	{ "unigrams and bigrams", { "phrases.ngram=1..2" },
	  "surveillance cameras watch citizens", 1,
	  "surveil|camera|watch|citizen|surveil camera|camera watch|watch citizen" },
	{ "bigrams only", { "phrases.ngram=2..2" },
	  "surveillance cameras watch citizens", 1,
	  "surveil camera|camera watch|watch citizen" },
	{ "up to trigrams", { "phrases.ngram=1..3" },
	  "surveillance cameras watch citizens", 1,
	  "surveil|camera|watch|citizen|surveil camera|camera watch|watch citizen|"
	  "surveil camera watch|camera watch citizen" },
	{ "bigrams and trigrams", { "phrases.ngram=2..3" },
	  "surveillance cameras watch", 1,
	  "surveil camera|camera watch|surveil camera watch" },
	{ "n-grams skip stop words", { "phrases.ngram=1..2" },
	  "the surveillance of citizens", 1, "surveil|citizen|surveil citizen" },
	{ "n-grams over a phrase", { DOUBLE, "phrases.ngram=1..2" },
	  "double standards exist", 1,
	  "double_standard|exist|double_standard exist" },
	{ "one word, bigrams only", { "phrases.ngram=2..2" }, "surveillance", 1, "" },
	{ "config text gets no n-grams", { "phrases.ngram=1..2" },
	  "surveillance cameras watch citizens", 0, "surveil|camera|watch|citizen" },
	{ "unigrams by default", { NULL }, "surveillance cameras", 1,
	  "surveil|camera" },
};

START_TEST(test_table)
{
	const struct row *r = &rows[_i];

	for (size_t k = 0; k < 5 && r->opt[k]; k++)
		set(r->opt[k]);
	ck_assert_msg(start() == 0, "%s: phrases init: %s", r->name, err.msg);
	run(r->text, r->counted);
	ck_assert_msg(strcmp(stems(), r->want) == 0, "%s: got '%s', want '%s'",
		      r->name, joined.buf, r->want);
}
END_TEST

/* From its second statement on, a stop word comes from the tokenizer's
 * memo, which leaves it out when no phrase form could need it.  Either
 * way it counts in run.json's tokens, and the statement's terms are the
 * same. */
START_TEST(test_stop_words_counted)
{
	for (int k = 0; k < 2; k++) {
		if (k == 1)
			set(EYES); /* a form, not in the text */
		ck_assert_int_eq(start(), 0);
		run("the back door of the back door", 1);
		ck_assert_str_eq(stems(), "door|door");
		ck_assert_uint_eq(ctx.rep.tokens, 7);
		run("the back door of the back door", 1);
		ck_assert_str_eq(stems(), "door|door");
		ck_assert_uint_eq(ctx.rep.tokens, 14);
		teardown();
		setup();
	}
}
END_TEST

/* A form holding a stop word matches in every statement: the memo keeps
 * stop words in the tokens while any form exists. */
START_TEST(test_stop_word_in_form_seen_before)
{
	set("phrases.rule_of_law=rule of law");
	ck_assert_int_eq(start(), 0);
	for (int k = 0; k < 3; k++) {
		run("the rule of law, the rule of law", 1);
		ck_assert_str_eq(stems(), "rule_of_law|rule_of_law");
	}
}
END_TEST

/* What the phrase and n-gram tokens carry besides their stem. */
START_TEST(test_token_kinds)
{
	uint32_t s;

	set(EYES);
	set(BACKDOOR);
	set("phrases.ngram=1..2");
	ck_assert_int_eq(start(), 0);
	run("Five Eyes backdoors", 1);
	ck_assert_str_eq(stems(), "five_eyes|backdoor|five_eyes backdoor");
	/* A multi-word match gets a surface of its own: its words. */
	s = u.tok.surf[0];
	ck_assert_str_eq(strtab_str(&ctx.surf.tab, s), "five eyes");
	ck_assert_uint_eq(ctx.surf.flags[s] & SURF_PHRASE, SURF_PHRASE);
	ck_assert_uint_eq(ctx.surf.stem[s], u.tok.stem[0]);
	ck_assert_uint_eq(ctx.stems.kind[u.tok.stem[0]], TERM_PHRASE);
	/* A one-word match keeps the word's surface. */
	ck_assert_str_eq(strtab_str(&ctx.surf.tab, u.tok.surf[1]), "backdoors");
	ck_assert_uint_eq(ctx.stems.kind[u.tok.stem[1]], TERM_PHRASE);
	/* An n-gram has no surface. */
	ck_assert_uint_eq(u.tok.surf[2], ID_NONE);
	ck_assert_uint_eq(ctx.stems.kind[u.tok.stem[2]], TERM_NGRAM);
}
END_TEST

/* Stop words still dropped after a second unit reuses the buffers. */
START_TEST(test_buffers_reused)
{
	set(EYES);
	ck_assert_int_eq(start(), 0);
	run("the Five Eyes and the others", 0);
	ck_assert_str_eq(stems(), "five_eyes");
	run("eyes of five", 0);
	ck_assert_str_eq(stems(), "eye");
	run("five eyes five eyes", 1);
	ck_assert_str_eq(stems(), "five_eyes|five_eyes");
}
END_TEST

START_TEST(test_form_without_words)
{
	set("phrases.x=!!!");
	ck_assert_int_eq(start(), -1);
	ck_assert_int_eq(err.code, PL_EX_CONFIG);
	ck_assert_str_eq(err.msg, "-c phrases.x: [phrases] x: form '!!!' has no "
			 "words after tokenizing");
}
END_TEST

START_TEST(test_no_forms)
{
	set("phrases.x= , ");
	ck_assert_int_eq(start(), -1);
	ck_assert_int_eq(err.code, PL_EX_CONFIG);
	ck_assert_msg(strstr(err.msg, "-c phrases.x: [phrases] x: no forms") == err.msg,
		      "message: %s", err.msg);
}
END_TEST

/* "back doors" stems to the form "back door" that a names already. */
START_TEST(test_form_under_two_names)
{
	set("phrases.a=back door");
	set("phrases.b=back doors");
	ck_assert_int_eq(start(), -1);
	ck_assert_int_eq(err.code, PL_EX_CONFIG);
	ck_assert_msg(strstr(err.msg, "-c phrases.b: [phrases] b: "
			     "'back doors': ") == err.msg, "message: %s", err.msg);
	ck_assert_msg(strstr(err.msg, "already listed for 'a'") != NULL,
		      "message: %s", err.msg);
}
END_TEST

/* The same one-word form under two names, listed in one entry each. */
START_TEST(test_word_under_two_names)
{
	set("phrases.x=standards");
	set("phrases.y=standard");
	ck_assert_int_eq(start(), -1);
	ck_assert_int_eq(err.code, PL_EX_CONFIG);
	ck_assert_msg(strstr(err.msg, "already listed for 'x'") != NULL,
		      "message: %s", err.msg);
}
END_TEST

Suite *suite_phrases(void)
{
	Suite *s = suite_create("phrases");
	TCase *tc;

	tc = tcase_create("table");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_table, 0, (int)(sizeof(rows) / sizeof(rows[0])));
	suite_add_tcase(s, tc);

	tc = tcase_create("tokens");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_token_kinds);
	tcase_add_test(tc, test_stop_words_counted);
	tcase_add_test(tc, test_stop_word_in_form_seen_before);
	tcase_add_test(tc, test_buffers_reused);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_form_without_words);
	tcase_add_test(tc, test_no_forms);
	tcase_add_test(tc, test_form_under_two_names);
	tcase_add_test(tc, test_word_under_two_names);
	suite_add_tcase(s, tc);
	return s;
}
