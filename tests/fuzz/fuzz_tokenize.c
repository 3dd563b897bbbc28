/* fuzz_tokenize.c -- libFuzzer harness for tokenize, stem and phrases
 *
 * Each input is one statement.  The first byte picks one of four configs
 * (bit 0: tokenize.pattern unicode or sklearn; bit 1: the defaults or a
 * variant with min_length 1, max_length 8, numbers, hyphens and
 * possessives kept, cjk = char, ngram 1..2); the rest is the text.  The
 * text goes once through the tokenize hook as a counted statement, then
 * through stages_analyze() (tokenize, stem, phrases) as config text, and
 * these must hold, else the harness aborts:
 *
 *  - every surface and every stem is valid UTF-8, non-empty and has no NUL;
 *  - with pattern = unicode a surface is at most SURF_MAX(max_length)
 *    bytes (see there); with sklearn (no length rules) at most twice the
 *    input plus 4 bytes (lower-casing can grow a character by a byte);
 *  - invalid_bytes grows by at most the input length, tokens by the
 *    tokens of the unit, and the analysed stream is no longer than the
 *    tokenized one plus its n-grams.
 *
 * The configs and contexts are built once, in LLVMFuzzerInitialize, and a
 * context is rebuilt every RENEW executions so the surface and stem
 * tables (which grow with every distinct token) stay bounded.
 *
 * Build and run: `make fuzz` (tests/fuzz.sh); replay one file:
 *   build-fuzz/fuzz_tokenize tests/fuzz/crashes/tokenize/FILE
 */
#include "../../pipeline/config.h"
#include "../../pipeline/run.h"
#include "../../stages/stages.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { NCFG = 4, RENEW = 4096 };

/* Per counted character a surface holds at most one letter's NFKC and
 * case-folded expansion (U+FDFA gives 33 bytes) and the marks after it;
 * a letter with more marks than UAX #15's stream-safe limit of 30 makes
 * the token too long (tokenize.c).  A mark can double under NFKC (U+0F73:
 * 3 bytes, 6 after).  Bigrams, apostrophes and hyphens stay within this. */
#define SURF_MAX(maxlen) ((size_t)(maxlen) * (33 + 30 * 6) + 64)

static const char *const overrides[NCFG][10] = {
	{ "tokenize.pattern=unicode", NULL },
	{ "tokenize.pattern=sklearn", NULL },
	{ "tokenize.pattern=unicode", "tokenize.min_length=1",
	  "tokenize.max_length=8", "tokenize.numbers=keep",
	  "tokenize.hyphens=keep", "tokenize.possessive=keep",
	  "tokenize.cjk=char", "phrases.ngram=1..2", NULL },
	{ "tokenize.pattern=sklearn", "tokenize.stopwords=none",
	  "phrases.ngram=1..2", NULL },
};

static struct config cfg[NCFG];
static struct ctx ctx[NCFG];
static unsigned long runs[NCFG];
static struct unit u;

static void die(const char *what, const struct pl_error *err)
{
	fprintf(stderr, "fuzz_tokenize: %s: %s\n", what, err ? err->msg : "");
	abort();
}

static void ctx_start(int i)
{
	struct pl_error err = { 0 };

	ctx_init(&ctx[i], &cfg[i]);
	if (stage_tokenize.init(&ctx[i], &err) || stage_stem.init(&ctx[i], &err) ||
	    stage_phrases.init(&ctx[i], &err))
		die("stage init", &err);
}

static void cleanup(void)
{
	for (int i = 0; i < NCFG; i++) {
		ctx_release(&ctx[i]);
		config_release(&cfg[i]);
	}
	tokens_release(&u.tok);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct pl_error err = { 0 };
	static const char *const phrases[] = {
		"phrases.five_eyes=five eyes",
		"phrases.backdoor=backdoor, back door",
		"phrases.data_security=data security, données sécurité",
		NULL
	};

	(void)argc;
	(void)argv;
	for (int i = 0; i < NCFG; i++) {
		if (config_init(&cfg[i], &err))
			die("config_init", &err);
		for (int k = 0; phrases[k]; k++)
			if (config_override(&cfg[i], phrases[k], &err))
				die(phrases[k], &err);
		for (int k = 0; overrides[i][k]; k++)
			if (config_override(&cfg[i], overrides[i][k], &err))
				die(overrides[i][k], &err);
		if (config_validate(&cfg[i], &err))
			die("config_validate", &err);
		ctx_start(i);
	}
	atexit(cleanup);
	return 0;
}

/* Length of the valid UTF-8 prefix of s (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF). */
static size_t utf8_valid(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		size_t n;
		unsigned lo = 0x80, hi = 0xBF;

		if (c < 0x80)
			n = 1;
		else if (c >= 0xC2 && c <= 0xDF)
			n = 2;
		else if (c >= 0xE0 && c <= 0xEF) {
			n = 3;
			if (c == 0xE0)
				lo = 0xA0;
			if (c == 0xED)
				hi = 0x9F;
		} else if (c >= 0xF0 && c <= 0xF4) {
			n = 4;
			if (c == 0xF0)
				lo = 0x90;
			if (c == 0xF4)
				hi = 0x8F;
		} else
			return i;
		if (i + n > len)
			return i;
		for (size_t k = 1; k < n; k++) {
			unsigned b = s[i + k];

			if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xBF))
				return i;
		}
		i += n;
	}
	return i;
}

static void check_string(const struct strtab *t, uint32_t id, size_t max,
			 const char *kind)
{
	const char *s;
	size_t len;

	if (id >= t->n) {
		fprintf(stderr, "fuzz_tokenize: %s id %u out of range\n", kind, id);
		abort();
	}
	s = strtab_str(t, id);
	len = strtab_len(t, id);
	if (len == 0 || len > max || memchr(s, '\0', len) ||
	    utf8_valid((const unsigned char *)s, len) != len) {
		fprintf(stderr, "fuzz_tokenize: bad %s (%zu bytes, at most %zu): "
			"'%.*s'\n", kind, len, max, (int)(len > 200 ? 200 : len), s);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pl_error err = { 0 };
	struct ctx *c;
	int i;
	size_t maxsurf, ntok;
	uint64_t invalid0, tokens0;

	if (size == 0)
		return 0;
	i = data[0] % NCFG;
	c = &ctx[i];
	if (++runs[i] % RENEW == 0) {
		ctx_release(c);
		ctx_start(i);
	}
	if (cfg[i].v[CFG_tokenize_pattern].i == 1)
		maxsurf = 2 * size + 4;
	else
		maxsurf = SURF_MAX(cfg[i].v[CFG_tokenize_max_length].i);

	/* A counted statement through tokenize alone. */
	invalid0 = c->rep.invalid_bytes;
	tokens0 = c->rep.tokens;
	u.text = (const char *)data + 1;
	u.len = size - 1;
	u.counted = 1;
	if (stage_tokenize.unit(c, &u, &err))
		die("tokenize", &err);
	if (c->rep.invalid_bytes - invalid0 > u.len)
		die("invalid_bytes grew by more than the input", NULL);
	if (c->rep.tokens - tokens0 != u.tok.n)
		die("rep.tokens is not the tokens of the unit", NULL);
	for (size_t k = 0; k < u.tok.n; k++)
		check_string(&c->surf.tab, u.tok.surf[k], maxsurf, "surface");
	ntok = u.tok.n;

	/* The same text as config text through tokenize, stem and phrases. */
	if (stages_analyze(c, &u, &err))
		die("stages_analyze", &err);
	if (u.tok.n > ntok)
		die("phrases made more tokens than tokenize", NULL);
	for (size_t k = 0; k < u.tok.n; k++) {
		/* A phrase's surface joins up to two words with a space. */
		if (u.tok.surf[k] != ID_NONE)
			check_string(&c->surf.tab, u.tok.surf[k], 2 * maxsurf + 1,
				     "phrase surface");
		check_string(&c->stems.tab, u.tok.stem[k], 2 * maxsurf + 1, "stem");
	}
	return 0;
}
