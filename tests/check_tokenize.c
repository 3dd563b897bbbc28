/* check_tokenize.c -- tests of stage_tokenize
 *
 * Each case builds a config from the defaults plus -c style overrides,
 * initialises the tokenize stage alone, runs its unit hook on one text and
 * compares the surfaces it produced (joined by "|") with tokens worked out
 * by hand, together with the run report's invalid_bytes and long_tokens.
 * Most cases are rows of one table, input and expected output side by
 * side; the rest need more than a string (a million-letter word, a stop
 * word file, surface flags).
 *
 * Invalid UTF-8 is counted one byte at a time: the decoder rejects the
 * lead byte of a bad sequence, skips that one byte and tries again, so
 * every byte of an overlong form, a surrogate or a truncated sequence is
 * rejected on its own (a continuation byte is never a valid start).
 *
 * To debug one case: CK_RUN_SUITE=tokenize CK_RUN_CASE=table CK_FORK=no.
 */
#include "lib.h"

#include <stdlib.h>
#include <string.h>

/* The state of one case: a checked fixture creates it, the case adds
 * overrides and starts the stage, the fixture's teardown frees it. */
static struct config cfg;
static struct ctx ctx;
static struct unit u;
static struct pl_error err;
static struct strbuf joined;

static void setup(void)
{
	memset(&u, 0, sizeof(u));
	memset(&err, 0, sizeof(err));
	strbuf_reset(&joined);
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
	ck_assert_msg(stage_tokenize.init(&ctx, &err) == 0,
		      "tokenize init: %s", err.msg);
}

/* Tokenize `len` bytes of text as a counted statement. */
static void run(const char *text, size_t len)
{
	u.text = text;
	u.len = len;
	u.counted = 1;
	ck_assert_msg(stage_tokenize.unit(&ctx, &u, &err) == 0,
		      "tokenize: %s", err.msg);
}

/* The unit's surfaces joined by "|" ("" when there are none). */
static const char *tokens(void)
{
	strbuf_reset(&joined);
	ck_assert_int_eq(strbuf_addstr(&joined, ""), 0);
	for (size_t i = 0; i < u.tok.n; i++) {
		ck_assert_uint_ne(u.tok.surf[i], ID_NONE);
		ck_assert_uint_eq(u.tok.stem[i], ID_NONE);
		ck_assert_int_eq(strbuf_addstr(&joined, i ? "|" : ""), 0);
		ck_assert_int_eq(strbuf_addstr(&joined, strtab_str(&ctx.surf.tab,
								   u.tok.surf[i])), 0);
	}
	return joined.buf;
}

/* The flags of surface `s`; the surface must exist. */
static unsigned flags_of(const char *s)
{
	uint32_t id = strtab_find(&ctx.surf.tab, s, strlen(s));

	ck_assert_msg(id != STRTAB_NONE, "no surface '%s'", s);
	return ctx.surf.flags[id];
}

/* ---------------------------------------------------------------------- */

struct row {
	const char *name;
	const char *opt[3];    /* overrides, up to the first NULL */
	const char *text;
	size_t len;            /* bytes of text; 0 means strlen(text) */
	const char *want;      /* the surfaces, joined by "|" */
	uint64_t invalid;      /* rep.invalid_bytes afterwards */
	uint64_t longtok;      /* rep.long_tokens afterwards */
};

static const struct row rows[] = {
	/* Apostrophes: ’ (U+2019), ʼ (U+02BC) and ' are one apostrophe, kept
	 * only between two letters; possessive = strip drops a final 's. */
	{ "curly possessive", { NULL }, "China’s rise", 0, "china|rise", 0, 0 },
	{ "straight possessive", { NULL }, "China's rise", 0, "china|rise", 0, 0 },
	{ "modifier letter apostrophe", { NULL }, "China\xCA\xBC" "s", 0,
	  "china", 0, 0 },
	{ "possessive kept", { "tokenize.possessive=keep" }, "China’s China's",
	  0, "china's|china's", 0, 0 },
	{ "curly contraction", { NULL }, "doesn’t", 0, "doesn't", 0, 0 },
	{ "straight contraction", { NULL }, "doesn't", 0, "doesn't", 0, 0 },
	{ "apostrophes outside words", { NULL },
	  "students’ 'quoted' rock’n’roll", 0, "students|quoted|rock'n'roll", 0, 0 },
	{ "apostrophe before a digit", { NULL }, "it'5", 0, "it", 0, 0 },

	/* Hyphens: - (U+002D), ‐ (U+2010) and ‑ (U+2011) between word
	 * characters; "e" alone is shorter than min_length 2. */
	{ "hyphens split", { NULL }, "cross-border back‐door e‑mail", 0,
	  "cross|border|back|door|mail", 0, 0 },
	{ "hyphens keep", { "tokenize.hyphens=keep" },
	  "cross-border back‐door e‑mail", 0,
	  "cross-border|back-door|e-mail", 0, 0 },
	{ "hyphens join", { "tokenize.hyphens=join" },
	  "cross-border back‐door e‑mail", 0, "crossborder|backdoor|email", 0, 0 },
	{ "hyphens at word edges", { "tokenize.hyphens=keep" },
	  "well- known -ish --", 0, "well|known|ish", 0, 0 },
	{ "hyphen before digits, split", { NULL }, "covid-19", 0, "covid", 0, 0 },
	{ "hyphen before digits, keep", { "tokenize.hyphens=keep" }, "covid-19",
	  0, "covid-19", 0, 0 },

	/* Numbers: only all-digit tokens are dropped; NFKC makes fullwidth
	 * digits ASCII. */
	{ "numbers dropped", { NULL }, "in 2020 the 5G rollout", 0,
	  "in|the|5g|rollout", 0, 0 },
	{ "numbers kept", { "tokenize.numbers=keep" }, "in 2020 the 5G rollout",
	  0, "in|2020|the|5g|rollout", 0, 0 },
	{ "fullwidth digits dropped", { NULL }, "２０２０ year", 0, "year", 0, 0 },
	{ "fullwidth digits kept", { "tokenize.numbers=keep" }, "２０２０", 0,
	  "2020", 0, 0 },

	/* Lengths, in characters before normalisation: "ﬁx" is two, so it
	 * is dropped at min_length 3 although "fix" has three; a combining
	 * mark is part of its letter and not counted. */
	{ "min_length default 2", { NULL }, "a I ok", 0, "ok", 0, 0 },
	{ "min_length 1", { "tokenize.min_length=1" }, "a I ok", 0, "a|i|ok", 0, 0 },
	{ "min_length 3", { "tokenize.min_length=3" }, "ab abc abcd", 0,
	  "abc|abcd", 0, 0 },
	{ "min_length before NFKC", { "tokenize.min_length=3" }, "ﬁx fix", 0,
	  "fix", 0, 0 },
	{ "max_length 5", { "tokenize.max_length=5" }, "abcde abcdef abcdefg x1",
	  0, "abcde|x1", 0, 2 },
	{ "max_length counts letters, not marks", { "tokenize.max_length=4" },
	  "Cafe\xCC\x81", 0, "caf\xC3\xA9", 0, 0 },
	/* Stacked combining marks: 30 after a letter are kept (UAX #15's
	 * limit for real text), a 31st makes the token too long: without
	 * the cap a letter and 40,000 marks took utf8proc 23 s to reorder. */
	{ "30 stacked marks kept", { NULL }, "ok ab" "\xCC\x81\xCC\x81\xCC\x81\xCC\x81\xCC\x81\xCC\x81\xCC\x81\xCC\x81\xCC\x81\xCC\x81\xCC\x81\xCC\x81\xCC\x81\xCC\x81\xCC\x81\xCC\x81\xCC\x81\xCC\x81\xCC\x81\xCC\x81\xCC\x81\xCC\x81\xCC\x81\xCC\x81\xCC\x81\xCC\x81\xCC\x81\xCC\x81\xCC\x81\xCC\x81" " fine",
	  0, "ok|ab\xCC\x81\xCC\x81\xCC\x81\xCC\x81\xCC\x81\xCC\x81\xCC\x81\xCC\x81\xCC\x81\xCC\x81\xCC\x81\xCC\x81\xCC\x81\xCC\x81\xCC\x81\xCC\x81\xCC\x81\xCC\x81\xCC\x81\xCC\x81\xCC\x81\xCC\x81\xCC\x81\xCC\x81\xCC\x81\xCC\x81\xCC\x81\xCC\x81\xCC\x81\xCC\x81|fine", 0, 0 },
	{ "31 stacked marks: too long", { NULL }, "ok ab" "\xCC\x81\xCC\x81\xCC\x81\xCC\x81\xCC\x81\xCC\x81\xCC\x81\xCC\x81\xCC\x81\xCC\x81\xCC\x81\xCC\x81\xCC\x81\xCC\x81\xCC\x81\xCC\x81\xCC\x81\xCC\x81\xCC\x81\xCC\x81\xCC\x81\xCC\x81\xCC\x81\xCC\x81\xCC\x81\xCC\x81\xCC\x81\xCC\x81\xCC\x81\xCC\x81\xCC\x81" " fine",
	  0, "ok|fine", 0, 1 },

	/* NFKC and full case folding. */
	{ "fullwidth letters", { NULL }, "ＡＢＣ", 0, "abc", 0, 0 },
	{ "ligature", { NULL }, "ﬁnance", 0, "finance", 0, 0 },
	{ "superscript digit", { NULL }, "km²", 0, "km2", 0, 0 },
	{ "sharp s folds to ss", { NULL }, "Straße STRASSE", 0,
	  "strasse|strasse", 0, 0 },
	{ "combining acute composes", { NULL },
	  "Cafe\xCC\x81 CAFE\xCC\x81 café", 0,
	  "caf\xC3\xA9|caf\xC3\xA9|caf\xC3\xA9", 0, 0 },
	{ "accented capitals", { NULL }, "ÉCOLE", 0, "école", 0, 0 },
	{ "mark with no letter before it", { NULL }, "\xCC\x81" "ab", 0, "ab", 0, 0 },

	/* CJK: overlapping bigrams; a lone character is one character long. */
	{ "han bigrams", { NULL }, "数据安全", 0, "数据|据安|安全", 0, 0 },
	{ "han chars", { "tokenize.cjk=char", "tokenize.min_length=1" },
	  "数据安全", 0, "数|据|安|全", 0, 0 },
	{ "han chars below min_length", { "tokenize.cjk=char" }, "数据安全", 0,
	  "", 0, 0 },
	{ "lone han char", { NULL }, "数 data", 0, "data", 0, 0 },
	{ "lone han char, min_length 1", { "tokenize.min_length=1" }, "数 data",
	  0, "数|data", 0, 0 },
	{ "latin then han", { NULL }, "China中国", 0, "china|中国", 0, 0 },
	{ "han then latin", { NULL }, "中国China", 0, "中国|china", 0, 0 },
	{ "han runs split by punctuation", { NULL }, "数据，安全", 0,
	  "数据|安全", 0, 0 },
	{ "kana and hangul", { NULL }, "カタカナ 한국어", 0,
	  "カタ|タカ|カナ|한국|국어", 0, 0 },

	/* Invalid UTF-8.  C0 is never a lead byte: C0 AF is 2 bytes.  E0 80
	 * AF decodes to U+002F in three bytes (overlong): E0 rejected, then
	 * 80 and AF as lone continuations: 3.  ED A0 80 is the surrogate
	 * U+D800: 3.  A trailing C3 lacks its continuation: 1; a trailing
	 * E6 95 lacks one of two: E6 then 95, 2.  NUL is valid UTF-8 (U+0000,
	 * not a letter): 0.  F0 9F 98 80 is U+1F600, valid, not a letter. */
	{ "overlong 2-byte", { NULL }, "ab\xC0\xAF" "cd", 0, "ab|cd", 2, 0 },
	{ "overlong 3-byte", { NULL }, "ab\xE0\x80\xAF" "cd", 0, "ab|cd", 3, 0 },
	{ "surrogate", { NULL }, "ab\xED\xA0\x80" "cd", 0, "ab|cd", 3, 0 },
	{ "truncated 2-byte at end", { NULL }, "ok caf\xC3", 0, "ok|caf", 1, 0 },
	{ "truncated 3-byte at end", { NULL }, "data\xE6\x95", 0, "data", 2, 0 },
	{ "lone continuation bytes", { NULL }, "ab\x80\xBF" "cd", 0, "ab|cd", 2, 0 },
	{ "bytes never in UTF-8", { NULL }, "ab\xFF\xFE" "cd", 0, "ab|cd", 2, 0 },
	{ "NUL byte", { NULL }, "ab\0cd", 5, "ab|cd", 0, 0 },
	{ "apostrophe before a bad byte", { NULL }, "can'\xC3", 0, "can", 1, 0 },
	{ "emoji separates words", { NULL }, "hi\xF0\x9F\x98\x80there", 0,
	  "hi|there", 0, 0 },
	{ "invalid bytes mixed", { NULL },
	  "one\xC0\xAF" "two\xED\xA0\x80" "three\x80" "four\0five\xE6\x95", 28,
	  "one|two|three|four|five", 2 + 3 + 1 + 0 + 2, 0 },

	/* pattern = sklearn: Python's str.lower(), then (?u)\b\w\w+\b.  The
	 * expected tokens are Python 3.11's:
	 *   re.findall(r"(?u)\b\w\w+\b",
	 *              b.decode("utf-8", "replace").lower())
	 * \w is L*, N* and '_' (a combining mark is not), nothing is
	 * normalised, and no apostrophe, hyphen, number or length rule
	 * applies.  U+0130 lowers to "i" + U+0307; capital sigma lowers to ς
	 * after a cased letter when no cased letter follows, skipping
	 * case-ignorable characters (' U+00AD ^ :) both ways, ʰ is one of
	 * those, and U+FFFD (an invalid byte) is neither.  Invalid bytes
	 * count one each, as in the unicode pattern. */
	{ "sklearn: words", { "tokenize.pattern=sklearn" },
	  "Don't stop-words CAFÉ café a_b x 12", 0,
	  "don|stop|words|café|café|a_b|12", 0, 0 },
	{ "sklearn: a combining mark ends a token", { "tokenize.pattern=sklearn" },
	  "Cafe\xCC\x81 CAFE\xCC\x81S", 0, "cafe|cafe", 0, 0 },
	{ "sklearn: dotted capital I", { "tokenize.pattern=sklearn" },
	  "İstanbul İİ", 0, "stanbul", 0, 0 },
	{ "sklearn: final sigma", { "tokenize.pattern=sklearn" },
	  "ΣΑΣ ΟΔΟΣ. ΌΣΟΣ ΣΑ", 0, "σας|οδος|όσος|σα", 0, 0 },
	{ "sklearn: sigma context skips case-ignorables", { "tokenize.pattern=sklearn" },
	  "AΣ'A AΣ\xC2\xAD" "A ʰΣ AΣ^ AΣ:", 0, "aσ|aσ|ʰσ|aς|aς", 0, 0 },
	{ "sklearn: sigma next to an invalid byte", { "tokenize.pattern=sklearn" },
	  "AΣ\xFF \xFFΣA", 0, "aς|σa", 2, 0 },
	{ "sklearn: no NFKC", { "tokenize.pattern=sklearn" },
	  "ﬁnance ＡＢＣ km² Straße ⅫⅫ ǅemal", 0,
	  "ﬁnance|ａｂｃ|km²|straße|ⅻⅻ|ǆemal", 0, 0 },
	{ "sklearn: a CJK run is one token", { "tokenize.pattern=sklearn" },
	  "数据安全 data", 0, "数据安全|data", 0, 0 },
	{ "sklearn: numbers and underscores", { "tokenize.pattern=sklearn" },
	  "__ _a 1 12 ½½ ²³ x_", 0, "__|_a|12|½½|²³|x_", 0, 0 },
	{ "sklearn: no length rules", { "tokenize.pattern=sklearn",
					 "tokenize.max_length=3" },
	  "abcdefgh 2020", 0, "abcdefgh|2020", 0, 0 },
	/* C0 AF: 2; C3 before a space: 1; EF before "v": 1; ED A0 80: 3;
	 * E6 95 at the end: 2. */
	{ "sklearn: invalid bytes split tokens", { "tokenize.pattern=sklearn" },
	  "ab\xC0\xAF" "cd caf\xC3 na\xEFve ok\xED\xA0\x80ok end\xE6\x95", 0,
	  "ab|cd|caf|na|ve|ok|ok|end", 9, 0 },
	{ "sklearn: NUL and emoji split", { "tokenize.pattern=sklearn" },
	  "ab\x00" "cd hi😀there", 17, "ab|cd|hi|there", 0, 0 },
	/* The ASCII fast path takes 16 bytes at a time: tokens of 15, 16,
	 * 18 and 33 bytes, one running into a multibyte letter (which the
	 * fast path hands to the general one) and one of 18 at the end. */
	{ "sklearn: long ASCII tokens", { "tokenize.pattern=sklearn" },
	  "ABCDEFGHIJKLMNO abcdefghijklmnoP Q_RSTUVWXYZ012345x "
	  "0123456789ABCDEF0123456789abcdefZ,ABCDEFGHIJKLMNOPQRSTÉ done "
	  "XYZXYZXYZXYZXYZXYZ", 0,
	  "abcdefghijklmno|abcdefghijklmnop|q_rstuvwxyz012345x|"
	  "0123456789abcdef0123456789abcdefz|abcdefghijklmnopqrsté|done|"
	  "xyzxyzxyzxyzxyzxyz", 0, 0 },
};

START_TEST(test_table)
{
	const struct row *r = &rows[_i];

	for (size_t k = 0; k < 3 && r->opt[k]; k++)
		set(r->opt[k]);
	start();
	run(r->text, r->len ? r->len : strlen(r->text));
	ck_assert_msg(strcmp(tokens(), r->want) == 0,
		      "%s: got '%s', want '%s'", r->name, joined.buf, r->want);
	ck_assert_msg(ctx.rep.invalid_bytes == r->invalid,
		      "%s: invalid_bytes %llu, want %llu", r->name,
		      (unsigned long long)ctx.rep.invalid_bytes,
		      (unsigned long long)r->invalid);
	ck_assert_msg(ctx.rep.long_tokens == r->longtok,
		      "%s: long_tokens %llu, want %llu", r->name,
		      (unsigned long long)ctx.rep.long_tokens,
		      (unsigned long long)r->longtok);
	ck_assert_msg(ctx.rep.tokens == u.tok.n, "%s: rep.tokens %llu, want %zu",
		      r->name, (unsigned long long)ctx.rep.tokens, u.tok.n);
}
END_TEST

/* ---------------------------------------------------------------------- */

/* A word of a million letters is dropped, counted once, and the words
 * around it survive. */
START_TEST(test_million_letters)
{
	const size_t big = 1000000;
	const char *head = "ok ", *tail = " fine";
	size_t len = strlen(head) + big + strlen(tail);
	char *text = malloc(len + 1);

	ck_assert_ptr_nonnull(text);
	memcpy(text, head, strlen(head));
	memset(text + strlen(head), 'a', big);
	memcpy(text + strlen(head) + big, tail, strlen(tail) + 1);
	start();
	run(text, len);
	ck_assert_str_eq(tokens(), "ok|fine");
	ck_assert_uint_eq(ctx.rep.long_tokens, 1);
	ck_assert_uint_eq(ctx.rep.tokens, 2);
	ck_assert_uint_eq(ctx.rep.invalid_bytes, 0);
	/* Only the two short words became surfaces. */
	ck_assert_uint_eq(ctx.surf.tab.n, 2);
	free(text);
}
END_TEST

/* max_length 40 (the default) keeps 40 letters and drops 41, also for
 * two-byte letters. */
START_TEST(test_max_length_edge)
{
	char text[4 * 41 + 8];
	size_t n = 0;

	start();
	memset(text, 'x', 40);
	text[40] = ' ';
	memset(text + 41, 'y', 41);
	run(text, 82);
	ck_assert_uint_eq(u.tok.n, 1);
	ck_assert_uint_eq(strtab_len(&ctx.surf.tab, u.tok.surf[0]), 40);
	ck_assert_uint_eq(ctx.rep.long_tokens, 1);
	/* 41 × "é" (C3 A9) is 41 characters, 82 bytes: too long. */
	for (int k = 0; k < 41; k++) {
		text[n++] = '\xC3';
		text[n++] = '\xA9';
	}
	run(text, n);
	ck_assert_uint_eq(u.tok.n, 0);
	ck_assert_uint_eq(ctx.rep.long_tokens, 2);
}
END_TEST

/* Letters outside the Basic Multilingual Plane are four bytes each: 16
 * Deseret capitals (U+10400 F0 90 90 80 ...) fold to 16 small letters
 * (U+10428 F0 90 90 A8 ...), 64 bytes.  utf8proc_reencode() writes a NUL
 * after them, so its buffer needs 4 * 16 + 1 bytes; libutf8proc is not
 * built with ASan, so an overflow there shows only under valgrind:
 *   CK_FORK=no CK_RUN_SUITE=tokenize CK_RUN_CASE=long valgrind build/run_tests */
START_TEST(test_supplementary_letters)
{
	char text[16 * 4 + 1], want[16 * 4 + 1];

	for (int k = 0; k < 16; k++) {
		memcpy(text + 4 * k, "\xF0\x90\x90\x80", 4);
		memcpy(want + 4 * k, "\xF0\x90\x90\xA8", 4);
	}
	text[64] = want[64] = '\0';
	start();
	run(text, 64);
	ck_assert_str_eq(tokens(), want);
	ck_assert_uint_eq(ctx.rep.invalid_bytes, 0);
}
END_TEST

/* Config text (counted = 0) is tokenized but not reported. */
START_TEST(test_uncounted_not_reported)
{
	set("tokenize.max_length=3");
	start();
	u.text = "abcd ab\xC0";
	u.len = strlen(u.text);
	u.counted = 0;
	ck_assert_int_eq(stage_tokenize.unit(&ctx, &u, &err), 0);
	ck_assert_str_eq(tokens(), "ab");
	ck_assert_uint_eq(ctx.rep.long_tokens, 0);
	ck_assert_uint_eq(ctx.rep.invalid_bytes, 0);
	ck_assert_uint_eq(ctx.rep.tokens, 0);
}
END_TEST

/* ---------------------------------------------------------------------- */

/* Stop words are marked, not dropped: the phrases stage drops them. */
START_TEST(test_stop_english)
{
	start();
	run("The data of the state", strlen("The data of the state"));
	ck_assert_str_eq(tokens(), "the|data|of|the|state");
	ck_assert_uint_eq(flags_of("the") & SURF_STOP, SURF_STOP);
	ck_assert_uint_eq(flags_of("of") & SURF_STOP, SURF_STOP);
	ck_assert_uint_eq(flags_of("data") & SURF_STOP, 0);
	ck_assert_uint_eq(flags_of("state") & SURF_STOP, 0);
}
END_TEST

START_TEST(test_stop_none)
{
	set("tokenize.stopwords=none");
	start();
	run("the data", 8);
	ck_assert_str_eq(tokens(), "the|data");
	ck_assert_uint_eq(flags_of("the"), 0);
	ck_assert_uint_eq(flags_of("data"), 0);
}
END_TEST

START_TEST(test_number_flag)
{
	const char *text = "in 2020 5G";

	set("tokenize.numbers=keep");
	start();
	run(text, strlen(text));
	ck_assert_str_eq(tokens(), "in|2020|5g");
	ck_assert_uint_eq(flags_of("2020"), SURF_NUMBER);
	ck_assert_uint_eq(flags_of("5g"), 0);
	ck_assert_uint_eq(flags_of("in"), SURF_STOP);
}
END_TEST

/* pattern = sklearn flags all-digit tokens too, however long: the fast
 * path's 16-byte steps see a letter past the 16th byte. */
START_TEST(test_number_flag_sklearn)
{
	const char *text = "12345678901234567890 1234567890123456x7 0123456789012345";

	set("tokenize.pattern=sklearn");
	start();
	run(text, strlen(text));
	ck_assert_str_eq(tokens(), "12345678901234567890|1234567890123456x7|0123456789012345");
	ck_assert_uint_eq(flags_of("12345678901234567890"), SURF_NUMBER);
	ck_assert_uint_eq(flags_of("1234567890123456x7"), 0);
	ck_assert_uint_eq(flags_of("0123456789012345"), SURF_NUMBER);
}
END_TEST

/* A stop word file replaces the built-in list; its words are normalised
 * as text is (case folding, NFKC), comments, blank lines, CR and trailing
 * blanks are ignored. */
START_TEST(test_stop_file)
{
	char *dir = test_tmpdir();
	char assignment[4200];
	const char *text = "Security État ÉTAT etat finance ﬁnance the data";

	test_write(dir, "stop.txt",
		   "# my list\nSecurity\r\nE\xCC\x81tat\n\xEF\xAC\x81nance  \n\n");
	snprintf(assignment, sizeof(assignment), "tokenize.stopwords=%s/stop.txt",
		 dir);
	set(assignment);
	start();
	run(text, strlen(text));
	ck_assert_str_eq(tokens(), "security|état|état|etat|finance|finance|the|data");
	ck_assert_uint_eq(flags_of("security"), SURF_STOP);
	ck_assert_uint_eq(flags_of("état"), SURF_STOP);
	ck_assert_uint_eq(flags_of("finance"), SURF_STOP);
	ck_assert_uint_eq(flags_of("etat"), 0);
	ck_assert_uint_eq(flags_of("the"), 0);
	ck_assert_uint_eq(flags_of("data"), 0);
	test_rmtree(dir);
	free(dir);
}
END_TEST

/* In a config file, a relative stop word path starts from the file's
 * folder, not from the current one. */
START_TEST(test_stop_file_relative)
{
	char *dir = test_tmpdir();
	char conf[4200];

	test_write(dir, "lists/stop.txt", "data\n");
	test_write(dir, "pipeline.conf", "[tokenize]\nstopwords = lists/stop.txt\n");
	snprintf(conf, sizeof(conf), "%s/pipeline.conf", dir);
	ck_assert_msg(config_load(&cfg, conf, &err) == 0, "%s", err.msg);
	start();
	run("the data", 8);
	ck_assert_str_eq(tokens(), "the|data");
	ck_assert_uint_eq(flags_of("data"), SURF_STOP);
	ck_assert_uint_eq(flags_of("the"), 0);
	test_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(test_stop_file_missing)
{
	set("tokenize.stopwords=/nonexistent/pipeline-stop.txt");
	ck_assert_int_eq(stage_tokenize.init(&ctx, &err), -1);
	ck_assert_int_eq(err.code, PL_EX_NOINPUT);
	ck_assert_msg(strstr(err.msg, "-c tokenize.stopwords: [tokenize] stopwords: "
			     "cannot read '/nonexistent/pipeline-stop.txt'") == err.msg,
		      "message: %s", err.msg);
}
END_TEST

/* pattern = sklearn marks stop words too, and, as scikit-learn does,
 * compares tokens with a stop word file's words as written: "Data" never
 * matches the lowercased token "data", "état" matches "ÉTAT", and the
 * decomposed "e\u0301tat" matches nothing. */
START_TEST(test_stop_sklearn)
{
	char *dir = test_tmpdir();
	char assignment[4200];
	const char *text = "The data of ÉTAT";

	set("tokenize.pattern=sklearn");
	start();
	run(text, strlen(text));
	ck_assert_str_eq(tokens(), "the|data|of|état");
	ck_assert_uint_eq(flags_of("the"), SURF_STOP);
	ck_assert_uint_eq(flags_of("of"), SURF_STOP);
	ck_assert_uint_eq(flags_of("data"), 0);
	ctx_release(&ctx);
	ctx_init(&ctx, &cfg);

	test_write(dir, "stop.txt", "Data\n\xC3\xA9tat\nE\xCC\x81tat\n");
	snprintf(assignment, sizeof(assignment), "tokenize.stopwords=%s/stop.txt",
		 dir);
	set(assignment);
	start();
	run(text, strlen(text));
	ck_assert_str_eq(tokens(), "the|data|of|état");
	ck_assert_uint_eq(flags_of("data"), 0);
	ck_assert_uint_eq(flags_of("état"), SURF_STOP);
	ck_assert_uint_eq(flags_of("the"), 0);
	test_rmtree(dir);
	free(dir);
}
END_TEST

/* Surfaces are interned: the same word twice is one id. */
START_TEST(test_interned)
{
	start();
	run("Data DATA data", 14);
	ck_assert_uint_eq(u.tok.n, 3);
	ck_assert_uint_eq(u.tok.surf[0], u.tok.surf[1]);
	ck_assert_uint_eq(u.tok.surf[1], u.tok.surf[2]);
	ck_assert_uint_eq(ctx.surf.tab.n, 1);
	ck_assert_uint_eq(ctx.surf.stem[u.tok.surf[0]], ID_NONE);
	/* A second unit reuses the buffers and starts from no tokens. */
	run("more", 4);
	ck_assert_str_eq(tokens(), "more");
	ck_assert_uint_eq(ctx.rep.tokens, 4);
}
END_TEST

/* The tokenizer hashes each token itself (add_token) and interns it
 * with that hash; strtab_find, as merges and the cache do, hashes again.
 * Both must name the same surface, for tokens short and long. */
START_TEST(test_found_by_pl_hash)
{
	const char *text = "a ab abcdefg abcdefgh abcdefghi abcdefghijklmno "
			   "abcdefghijklmnop abcdefghijklmnopq";

	set("tokenize.pattern=sklearn");
	start();
	run(text, strlen(text));
	ck_assert_str_eq(tokens(), "ab|abcdefg|abcdefgh|abcdefghi|abcdefghijklmno|"
			 "abcdefghijklmnop|abcdefghijklmnopq");
	for (size_t i = 0; i < u.tok.n; i++) {
		const char *s = strtab_str(&ctx.surf.tab, u.tok.surf[i]);

		ck_assert_uint_eq(strtab_find(&ctx.surf.tab, s, strlen(s)), u.tok.surf[i]);
	}
	ck_assert_uint_eq(ctx.surf.tab.n, 7);
}
END_TEST

/* pl_hash16, from two word loads, is pl_hash for every length up to 16,
 * whatever bytes follow the string; and the memo, which compares those
 * words, tells apart tokens that differ only past byte 16 or only in
 * length. */
START_TEST(test_hash16_is_pl_hash)
{
	unsigned char buf[32];
	uint64_t seed = 12345, w[2];

	for (int round = 0; round < 200; round++) {
		for (size_t i = 0; i < sizeof(buf); i++) {
			seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
			buf[i] = (unsigned char)(seed >> 56);
		}
		for (size_t len = 0; len <= 16; len++) {
			uint64_t h = pl_hash(buf, len);

			if (!PL_HASH16)
				continue;
			pl_hash16_words(buf, len, w);
			ck_assert_uint_eq(pl_hash16(w, len), h);
			/* Other bytes past the string change nothing. */
			buf[len < 16 ? len : 31] ^= 0x5a;
			pl_hash16_words(buf, len, w);
			ck_assert_uint_eq(pl_hash16(w, len), h);
		}
	}
	/* A zero byte is part of the string: lengths differ, hashes too. */
	memset(buf, 0, sizeof(buf));
	for (size_t len = 0; len < 17; len++)
		for (size_t l2 = len + 1; l2 <= 24; l2++)
			ck_assert_uint_ne(pl_hash(buf, len), pl_hash(buf, l2));

	const char *text = "abcdefghijklmnopq abcdefghijklmnopr abcdefghijklmnopq "
			   "abcdefghijklmnop abcdefghijklmnopr abcdefghijklmnop";

	uint32_t first[6];

	set("tokenize.pattern=sklearn");
	start();
	run(text, strlen(text));
	ck_assert_uint_eq(u.tok.n, 6);
	memcpy(first, u.tok.surf, sizeof(first));
	/* The second time every token is in the memo. */
	run(text, strlen(text));
	ck_assert_uint_eq(u.tok.n, 6);
	ck_assert_mem_eq(first, u.tok.surf, sizeof(first));
	ck_assert_uint_eq(ctx.surf.tab.n, 3);
	ck_assert_uint_eq(u.tok.surf[0], u.tok.surf[2]);
	ck_assert_uint_eq(u.tok.surf[1], u.tok.surf[4]);
	ck_assert_uint_eq(u.tok.surf[3], u.tok.surf[5]);
	ck_assert_uint_ne(u.tok.surf[0], u.tok.surf[1]);
	ck_assert_uint_ne(u.tok.surf[0], u.tok.surf[3]);
	ck_assert_uint_ne(u.tok.surf[1], u.tok.surf[3]);
	ck_assert_str_eq(tokens(), "abcdefghijklmnopq|abcdefghijklmnopr|abcdefghijklmnopq|"
			 "abcdefghijklmnop|abcdefghijklmnopr|abcdefghijklmnop");
}
END_TEST

/* Two strings of `len` bytes, `prefix` then letters, differing only from
 * byte `from` on and sharing a memo slot: found by trying 26^3 endings. */
static void memo_pair(const char *prefix, size_t from, size_t len, char *a, char *b)
{
	static int32_t seen[TOKENIZE_MEMO_SLOTS];
	char s[32];

	ck_assert_uint_eq(strlen(prefix), from);
	ck_assert_uint_le(len, sizeof(s) - 1);
	for (size_t i = 0; i < TOKENIZE_MEMO_SLOTS; i++)
		seen[i] = -1;
	memcpy(s, prefix, from);
	for (int32_t k = 0; k < 26 * 26 * 26; k++) {
		uint32_t slot;

		for (size_t i = from; i < len; i++)
			s[i] = 'a';
		s[len - 1] = (char)('a' + k % 26);
		s[len - 2] = (char)('a' + k / 26 % 26);
		s[len - 3] = (char)('a' + k / 676);
		s[len] = '\0';
		slot = tokenize_memo_slot((uint32_t)pl_hash(s, len));
		if (seen[slot] >= 0) {
			int32_t j = seen[slot];

			memcpy(a, s, len + 1);
			a[len - 1] = (char)('a' + j % 26);
			a[len - 2] = (char)('a' + j / 26 % 26);
			a[len - 3] = (char)('a' + j / 676);
			memcpy(b, s, len + 1);
			return;
		}
		seen[slot] = k;
	}
	ck_abort_msg("no two endings share a memo slot");
}

/* A memo slot holding another surface is a miss: strings that share a
 * slot and differ in the first word, the second word, or past byte 16
 * each get their own surface, read from the memo and not. */
START_TEST(test_memo_same_slot)
{
	static const struct { const char *prefix; size_t from, len; } c[] = {
		{ "", 0, 7 },                    /* in the first word */
		{ "abcdefghijk", 11, 15 },       /* in the second */
		{ "abcdefghijklmnopq", 17, 21 }, /* past byte 16 */
	};
	char a[32], b[32];

	set("tokenize.pattern=sklearn");
	start();
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		memo_pair(c[i].prefix, c[i].from, c[i].len, a, b);
		ck_assert_str_ne(a, b);
		run(a, strlen(a));
		ck_assert_str_eq(tokens(), a);
		run(a, strlen(a)); /* from the memo */
		ck_assert_str_eq(tokens(), a);
		run(b, strlen(b)); /* same slot, another string */
		ck_assert_str_eq(tokens(), b);
		run(a, strlen(a));
		ck_assert_str_eq(tokens(), a);
	}
}
END_TEST

Suite *suite_tokenize(void)
{
	Suite *s = suite_create("tokenize");
	TCase *tc;

	tc = tcase_create("table");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_table, 0, (int)(sizeof(rows) / sizeof(rows[0])));
	suite_add_tcase(s, tc);

	tc = tcase_create("long");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_million_letters);
	tcase_add_test(tc, test_max_length_edge);
	tcase_add_test(tc, test_supplementary_letters);
	tcase_add_test(tc, test_uncounted_not_reported);
	suite_add_tcase(s, tc);

	tc = tcase_create("stopwords");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_stop_english);
	tcase_add_test(tc, test_stop_none);
	tcase_add_test(tc, test_number_flag);
	tcase_add_test(tc, test_stop_file);
	tcase_add_test(tc, test_stop_file_relative);
	tcase_add_test(tc, test_stop_file_missing);
	tcase_add_test(tc, test_stop_sklearn);
	tcase_add_test(tc, test_number_flag_sklearn);
	tcase_add_test(tc, test_interned);
	tcase_add_test(tc, test_found_by_pl_hash);
	tcase_add_test(tc, test_hash16_is_pl_hash);
	tcase_add_test(tc, test_memo_same_slot);
	suite_add_tcase(s, tc);
	return s;
}
