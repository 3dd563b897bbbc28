/* tokenize.c -- split UTF-8 text into normalised tokens
 *
 * In: one statement's bytes.  Out: u->tok, one surface id per token (the
 * token interned in ctx->surf), stems still unset.  A token is a run of
 * letters and numbers (Unicode categories L* and N*, with combining marks
 * M* inside a word), normalised with NFKC and Unicode case folding through
 * utf8proc.  Decisions, each a [tokenize] key where people disagree:
 *
 *  - Apostrophes (' U+2019 U+02BC) between two letters stay in the word as
 *    ASCII ', so "China’s" and "China's" are one token; possessive = strip
 *    then drops a final 's ("china").
 *  - Hyphens (- U+2010 U+2011) between letters or digits split the word
 *    (default, so "back-door" meets the phrase "back door"), stay (keep), or
 *    vanish (join: "crossborder").
 *  - Tokens of digits only are dropped by default (numbers = drop).
 *  - Han, kana and hangul have no spaces between words: each run becomes
 *    overlapping bigrams (as Lucene's CJK analyser does) or single
 *    characters (cjk = char).
 *  - Lengths are counted in characters before normalisation; a token longer
 *    than max_length is dropped and counted, and is never copied whole, so
 *    a million-letter "word" costs no memory.  A letter followed by more
 *    than 30 combining marks makes the token too long as well.
 *  - Invalid UTF-8 (overlong forms, surrogates, truncated sequences) counts
 *    as one replaced byte each in the run report and separates tokens.
 *
 * With pattern = sklearn none of the above applies: tokenize_sklearn()
 * reproduces scikit-learn's default analyzer instead (see there).
 *
 * Stop words are marked on the surface (SURF_STOP) rather than dropped
 * here, so that phrases such as "five eyes" can still match across them;
 * the phrases stage drops the ones left over.  Only when no phrase form is
 * configured does a counted statement leave out here the stop words the
 * memo knows (phrases_need_stop_words).  The built-in English list is
 * scikit-learn's (ENGLISH_STOP_WORDS, 318 words), so runs can be compared.
 *
 * No allocation per token: the token is built in a reused buffer and
 * interned (a hash lookup); only a new distinct surface grows the tables.
 */
#include "stages.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>
#if defined(__SSE2__) && defined(__GNUC__)
#include <emmintrin.h>
#endif

static const char *const english_stopwords[] = {
	"a", "about", "above", "across", "after", "afterwards", "again", "against",
	"all", "almost", "alone", "along", "already", "also", "although", "always",
	"am", "among", "amongst", "amoungst", "amount", "an", "and", "another",
	"any", "anyhow", "anyone", "anything", "anyway", "anywhere", "are",
	"around", "as", "at", "back", "be", "became", "because", "become",
	"becomes", "becoming", "been", "before", "beforehand", "behind", "being",
	"below", "beside", "besides", "between", "beyond", "bill", "both", "bottom",
	"but", "by", "call", "can", "cannot", "cant", "co", "con", "could",
	"couldnt", "cry", "de", "describe", "detail", "do", "done", "down", "due",
	"during", "each", "eg", "eight", "either", "eleven", "else", "elsewhere",
	"empty", "enough", "etc", "even", "ever", "every", "everyone", "everything",
	"everywhere", "except", "few", "fifteen", "fifty", "fill", "find", "fire",
	"first", "five", "for", "former", "formerly", "forty", "found", "four",
	"from", "front", "full", "further", "get", "give", "go", "had", "has",
	"hasnt", "have", "he", "hence", "her", "here", "hereafter", "hereby",
	"herein", "hereupon", "hers", "herself", "him", "himself", "his", "how",
	"however", "hundred", "i", "ie", "if", "in", "inc", "indeed", "interest",
	"into", "is", "it", "its", "itself", "keep", "last", "latter", "latterly",
	"least", "less", "ltd", "made", "many", "may", "me", "meanwhile", "might",
	"mill", "mine", "more", "moreover", "most", "mostly", "move", "much",
	"must", "my", "myself", "name", "namely", "neither", "never",
	"nevertheless", "next", "nine", "no", "nobody", "none", "noone", "nor",
	"not", "nothing", "now", "nowhere", "of", "off", "often", "on", "once",
	"one", "only", "onto", "or", "other", "others", "otherwise", "our", "ours",
	"ourselves", "out", "over", "own", "part", "per", "perhaps", "please",
	"put", "rather", "re", "same", "see", "seem", "seemed", "seeming", "seems",
	"serious", "several", "she", "should", "show", "side", "since", "sincere",
	"six", "sixty", "so", "some", "somehow", "someone", "something", "sometime",
	"sometimes", "somewhere", "still", "such", "system", "take", "ten", "than",
	"that", "the", "their", "them", "themselves", "then", "thence", "there",
	"thereafter", "thereby", "therefore", "therein", "thereupon", "these",
	"they", "thick", "thin", "third", "this", "those", "though", "three",
	"through", "throughout", "thru", "thus", "to", "together", "too", "top",
	"toward", "towards", "twelve", "twenty", "two", "un", "under", "until",
	"up", "upon", "us", "very", "via", "was", "we", "well", "were", "what",
	"whatever", "when", "whence", "whenever", "where", "whereafter", "whereas",
	"whereby", "wherein", "whereupon", "wherever", "whether", "which", "while",
	"whither", "who", "whoever", "whole", "whom", "whose", "why", "will",
	"with", "within", "without", "would", "yet", "you", "your", "yours",
	"yourself", "yourselves",
	NULL
};

enum { HYPHEN_SPLIT, HYPHEN_KEEP, HYPHEN_JOIN };

struct tokenizer {
	struct strtab stop;
	long min_len, max_len;
	int keep_numbers, hyphens, strip_possessive, cjk_bigram;
	/* Leave out of a counted statement the stop words the memo knows
	 * (phrases_need_stop_words): -1 until the first one, then 0 or 1.
	 * Else each is copied, stemmed and copied again, only for the
	 * phrases stage to drop it. */
	int drop_stop;
	int drop_now;               /* this statement's */
	size_t dropped;             /* tokens left out of it */
	int sklearn;                /* pattern = sklearn: tokenize_sklearn() */
	struct strbuf tok;          /* the token being built, raw bytes */
	int32_t *cps;               /* normalisation buffer */
	size_t cpscap;
	int32_t cjk[2];             /* CJK run state: previous character */
	size_t cjklen;
	struct memo *memo;          /* TOKENIZE_MEMO_SLOTS recent short surfaces */
	struct pending *pend;       /* PENDING tokens the memo did not know */
	size_t npend;
	struct strbuf pbytes;       /* their bytes, one after the other */
};

/*
 * A direct-mapped memo of recently interned short surfaces in front of the
 * surface table.  The table of a mail corpus holds hundreds of thousands
 * of surfaces (megabytes of slots, a cache miss per token); the few
 * thousand frequent words that make up most tokens fit in this one (256
 * KiB).  A hit gives the same id the table would: surfaces are never
 * removed and ids never change within a ctx.
 */
#define MEMO_MAX 23         /* longest surface the memo holds */
struct memo {
	uint64_t w[2];      /* the first 16 bytes (memo_words) */
	uint32_t id;
	uint8_t len;        /* 0: empty */
	uint8_t stop;       /* a stop word */
	char tail[MEMO_MAX - 16]; /* bytes 16 and on */
};

/*
 * Tokens the memo does not know are interned in batches of PENDING: each
 * asks for its table slot when it is queued, the batch then asks for the
 * entries those slots name, and only then are they looked up, in token
 * order.  One at a time, each such lookup waited for memory twice (the
 * slot, then the entry: about a tenth of a mail corpus's tokens, and the
 * largest single cost of reading it); in a batch the waits overlap.  The
 * ids are the ones a lookup per token gives: new surfaces are still added
 * in token order, and a queued token's place in the unit is filled in
 * before the tokenizer returns.
 */
#define PENDING 32
struct pending {
	size_t at;          /* its index in u->tok */
	size_t off, len;    /* its bytes in pbytes */
	uint32_t hash;
	int digits;
};

/* ASCII letters (1) and digits (2), for the fast path. */
static const unsigned char ascii_word[128] = {
	['0'] = 2, ['1'] = 2, ['2'] = 2, ['3'] = 2, ['4'] = 2,
	['5'] = 2, ['6'] = 2, ['7'] = 2, ['8'] = 2, ['9'] = 2,
	['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1,
	['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1,
	['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1,
	['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
	['Y'] = 1, ['Z'] = 1,
	['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1,
	['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1,
	['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1,
	['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
	['y'] = 1, ['z'] = 1,
};

/* Python's \w among single bytes, for pattern = sklearn's fast path:
 * 1 for ASCII letters and '_', 2 for ASCII digits, 0 for everything else
 * (bytes from 0x80 start a multibyte character and leave the fast path). */
static const unsigned char py_ascii[256] = {
	['_'] = 1, ['0'] = 2, ['1'] = 2, ['2'] = 2, ['3'] = 2, ['4'] = 2, ['5'] = 2,
	['6'] = 2, ['7'] = 2, ['8'] = 2, ['9'] = 2, ['A'] = 1, ['B'] = 1, ['C'] = 1,
	['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1,
	['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1,
	['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
	['Y'] = 1, ['Z'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1,
	['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1,
	['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1,
	['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
};

/*
 * The fast paths' byte classes, 16 bytes at a time where the compiler
 * targets SSE2 (every x86-64): a bit per byte of the ASCII letters, digits
 * and '_' (Python's \w among single bytes, as py_ascii) and of the
 * digits alone, and the 16 bytes lowercased (A-Z only).  Without SSE2 the
 * fast paths go a byte at a time, with the same result.
 */
#if defined(__SSE2__) && defined(__GNUC__)
#define TOKENIZE_SSE2 1
static inline void classes16(const unsigned char *p, unsigned *word, unsigned *digit)
{
	const __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
	const __m128i a = _mm_sub_epi8(_mm_or_si128(v, _mm_set1_epi8(0x20)),
				       _mm_set1_epi8('a'));
	const __m128i letter = _mm_cmpeq_epi8(_mm_min_epu8(a, _mm_set1_epi8(25)), a);
	const __m128i z = _mm_sub_epi8(v, _mm_set1_epi8('0'));
	const __m128i dig = _mm_cmpeq_epi8(_mm_min_epu8(z, _mm_set1_epi8(9)), z);
	const __m128i us = _mm_cmpeq_epi8(v, _mm_set1_epi8('_'));

	*digit = (unsigned)_mm_movemask_epi8(dig);
	*word = (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(letter, dig), us));
}

/* ... and the words pl_hash16 takes for its first len (<= 16) bytes, from
 * the register: loaded back from d, they would wait for the stores to
 * d (the 16 bytes and then the NUL inside them) to leave the core. */
static inline void lower16(const unsigned char *p, char *d, size_t len, uint64_t w[2])
{
	const __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
	const __m128i a = _mm_sub_epi8(v, _mm_set1_epi8('A'));
	const __m128i up = _mm_cmpeq_epi8(_mm_min_epu8(a, _mm_set1_epi8(25)), a);
	const __m128i low = _mm_add_epi8(v, _mm_and_si128(up, _mm_set1_epi8(0x20)));
	const __m128i keep = _mm_loadu_si128((const __m128i *)(const void *)pl_hash_mask16[len]);

	_mm_storeu_si128((__m128i *)(void *)d, low);
	_mm_storeu_si128((__m128i *)(void *)w, _mm_and_si128(low, keep));
}
#endif

/* What a code point is to the tokenizer. */
enum cls { C_OTHER, C_LETTER, C_MARK, C_NUMBER, C_APOS, C_HYPHEN, C_CJK };

static int is_cjk(int32_t c)
{
	return (c >= 0x3040 && c <= 0x30ff) ||   /* hiragana, katakana */
	       (c >= 0x3400 && c <= 0x4dbf) ||   /* Han extension A */
	       (c >= 0x4e00 && c <= 0x9fff) ||   /* Han */
	       (c >= 0xac00 && c <= 0xd7af) ||   /* hangul syllables */
	       (c >= 0xf900 && c <= 0xfaff) ||   /* Han compatibility */
	       (c >= 0x20000 && c <= 0x3134f);   /* Han extensions B-G */
}

static enum cls classify(int32_t c)
{
	if (c < 0x80) {
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
			return C_LETTER;
		if (c >= '0' && c <= '9')
			return C_NUMBER;
		if (c == '\'')
			return C_APOS;
		if (c == '-')
			return C_HYPHEN;
		return C_OTHER;
	}
	if (c == 0x2019 || c == 0x02bc)
		return C_APOS;
	if (c == 0x2010 || c == 0x2011)
		return C_HYPHEN;
	if (is_cjk(c))
		return C_CJK;
	switch (utf8proc_category(c)) {
	case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL:
	case UTF8PROC_CATEGORY_LT: case UTF8PROC_CATEGORY_LM:
	case UTF8PROC_CATEGORY_LO:
		return C_LETTER;
	case UTF8PROC_CATEGORY_MN: case UTF8PROC_CATEGORY_MC:
	case UTF8PROC_CATEGORY_ME:
		return C_MARK;
	case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL:
	case UTF8PROC_CATEGORY_NO:
		return C_NUMBER;
	default:
		return C_OTHER;
	}
}

/* Decode the code point at p; *n gets its length.  Invalid bytes come back
 * as -1 with *n = 1. */
static int32_t decode(const unsigned char *p, size_t left, size_t *n)
{
	int32_t c;
	utf8proc_ssize_t l;

	if (p[0] < 0x80) {
		*n = 1;
		return p[0];
	}
	l = utf8proc_iterate(p, (utf8proc_ssize_t)(left > 4 ? 4 : left), &c);
	if (l <= 0) {
		*n = 1;
		return -1;
	}
	*n = (size_t)l;
	return c;
}

/* Normalise t->tok in place (NFKC + case folding). */
static int normalise(struct tokenizer *t, int ascii)
{
	const utf8proc_option_t opt = UTF8PROC_STABLE | UTF8PROC_COMPAT |
				      UTF8PROC_CASEFOLD | UTF8PROC_COMPOSE;
	utf8proc_ssize_t n, m;

	if (ascii) {
		for (size_t i = 0; i < t->tok.len; i++)
			if (t->tok.buf[i] >= 'A' && t->tok.buf[i] <= 'Z')
				t->tok.buf[i] = (char)(t->tok.buf[i] + 32);
		return 0;
	}
	for (;;) {
		/* COMPAT only takes effect together with DECOMPOSE. */
		n = utf8proc_decompose((const utf8proc_uint8_t *)t->tok.buf,
				       (utf8proc_ssize_t)t->tok.len, t->cps,
				       (utf8proc_ssize_t)t->cpscap,
				       (opt & ~UTF8PROC_COMPOSE) | UTF8PROC_DECOMPOSE);
		if (n < 0)
			return 1; /* cannot happen for valid input: skip it */
		/* utf8proc_reencode writes up to 4n bytes and a NUL into the
		 * same buffer: keep one code point spare. */
		if ((size_t)n < t->cpscap)
			break;
		if (pl_grow(&t->cps, &t->cpscap, (size_t)n + 1, sizeof(*t->cps)))
			return -1;
	}
	m = utf8proc_reencode(t->cps, n, opt);
	if (m < 0)
		return 1;
	strbuf_reset(&t->tok);
	if (strbuf_add(&t->tok, t->cps, (size_t)m))
		return -1;
	return 0;
}

/* memcmp(a, b, n) == 0 for the short strings of the memo, without a call. */
static inline int same_bytes(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (a[i] != b[i])
			return 0;
	return 1;
}

/* The first 16 of the len bytes at s as the memo keeps them: two words,
 * zero past len (what pl_hash16_words gives), read without going past
 * s + len. */
static void memo_words(const char *s, size_t len, uint64_t w[2])
{
	w[0] = w[1] = 0;
	memcpy(w, s, len < 16 ? len : 16);
}

/* Does memo entry m hold the len bytes at s, whose first 16 are the words
 * w (memo_words)? */
static inline int memo_holds(const struct memo *m, const uint64_t w[2],
			     const char *s, size_t len)
{
	return m->len == len && len && m->w[0] == w[0] && m->w[1] == w[1] &&
	       (len <= 16 || same_bytes(m->tail, s + 16, len - 16));
}

/* Append surface `id` to the tokens, or with drop 1 write it past their
 * end and leave it out: stop words and other words come in no order a
 * branch could guess, and a wrong guess cost more than the token. */
static inline int push_known(struct tokens *tk, uint32_t id, unsigned drop)
{
	if (tk->n == tk->cap) {
		if (tokens_push(tk, id, ID_NONE))
			return -1;
		tk->n -= drop;
		return 0;
	}
	tk->surf[tk->n] = id;
	tk->stem[tk->n] = ID_NONE;
	tk->n += 1 - drop;
	return 0;
}

/* Intern the queued tokens, in order, into their places in u->tok,
 * marking stop words and numbers the first time a surface is seen and
 * remembering the short ones in the memo.  0 or -1. */
static int flush_pending(struct ctx *ctx, struct tokenizer *t, struct unit *u,
			 struct pl_error *err)
{
	struct surfaces *sf = &ctx->surf;

	for (size_t i = 0; i < t->npend; i++)
		strtab_prefetch_entry(&sf->tab, t->pend[i].hash);
	for (size_t i = 0; i < t->npend; i++) {
		const struct pending *p = &t->pend[i];
		const char *s = t->pbytes.buf + p->off;
		uint32_t id;
		int added;

		if (surfaces_intern_hash(sf, s, p->len, p->hash, &id, &added))
			return pl_oom(err);
		if (added && strtab_find(&t->stop, s, p->len) != STRTAB_NONE)
			sf->flags[id] |= SURF_STOP;
		if (added && p->digits)
			sf->flags[id] |= SURF_NUMBER;
		if (p->len && p->len <= MEMO_MAX) {
			struct memo *m = &t->memo[tokenize_memo_slot(p->hash)];

			memo_words(s, p->len, m->w);
			if (p->len > 16)
				memcpy(m->tail, s + 16, p->len - 16);
			m->id = id;
			m->len = (uint8_t)p->len;
			/* After the flags: a stop word is one from its first time. */
			m->stop = (sf->flags[id] & SURF_STOP) != 0;
		}
		u->tok.surf[p->at] = id;
	}
	t->npend = 0;
	strbuf_reset(&t->pbytes);
	return 0;
}

/* Append the finished token in t->tok to the unit: its surface id at once
 * when the memo knows it, else a place the next flush_pending fills. */
static inline int add_token_words(struct ctx *ctx, struct tokenizer *t,
				  struct unit *u, int digits, const uint64_t w[2],
				  uint32_t h, struct pl_error *err)
{
	const struct memo *m = &t->memo[tokenize_memo_slot(h)];
	struct pending *p;

	if (memo_holds(m, w, t->tok.buf, t->tok.len)) {
		unsigned drop = m->stop & (unsigned)t->drop_now;

		t->dropped += drop;
		return push_known(&u->tok, m->id, drop) ? pl_oom(err) : 0;
	}
	p = &t->pend[t->npend++];
	p->at = u->tok.n;
	p->off = t->pbytes.len;
	p->len = t->tok.len;
	p->hash = h;
	p->digits = digits;
	if (strbuf_add(&t->pbytes, t->tok.buf, t->tok.len) ||
	    tokens_push(&u->tok, ID_NONE, ID_NONE))
		return pl_oom(err);
	strtab_prefetch(&ctx->surf.tab, h);
	return t->npend == PENDING ? flush_pending(ctx, t, u, err) : 0;
}

/* The same for a token whose words and hash are still to be found: the
 * memo compares a token's first 16 bytes as two words (pl_hash16_words),
 * and a short token's hash is taken from them without a loop. */
static int add_token(struct ctx *ctx, struct tokenizer *t, struct unit *u,
		     int digits, struct pl_error *err)
{
	const size_t len = t->tok.len;
	uint64_t w[2];

	/* The token buffer always has 32 initialised bytes (tokenize_init). */
	if (PL_HASH16 && len <= 16) {
		pl_hash16_words(t->tok.buf, len, w);
		return add_token_words(ctx, t, u, digits, w, (uint32_t)pl_hash16(w, len), err);
	}
	memo_words(t->tok.buf, len, w);
	return add_token_words(ctx, t, u, digits, w, (uint32_t)pl_hash(t->tok.buf, len), err);
}

/* Finish the token in t->tok and add it to the unit. */
static int emit(struct ctx *ctx, struct tokenizer *t, struct unit *u,
		size_t nchars, int ascii, int digits, struct pl_error *err)
{
	int rc;

	if (nchars > (size_t)t->max_len) {
		ctx->rep.long_tokens += u->counted;
		return 0;
	}
	if (digits && !t->keep_numbers)
		return 0;
	rc = normalise(t, ascii);
	if (rc < 0)
		return pl_oom(err);
	if (rc > 0)
		return 0;
	if (t->strip_possessive && t->tok.len > 2 &&
	    memcmp(t->tok.buf + t->tok.len - 2, "'s", 2) == 0) {
		t->tok.len -= 2;
		nchars -= 2;
		/* "1990's" is the number 1990. */
		digits = strspn(t->tok.buf, "0123456789") == t->tok.len;
		if (digits && !t->keep_numbers)
			return 0;
	}
	if (nchars < (size_t)t->min_len || t->tok.len == 0)
		return 0;
	return add_token(ctx, t, u, digits, err);
}

/* One CJK character arrives: emit a bigram with the previous one, or the
 * character itself in char mode. */
static int cjk_char(struct ctx *ctx, struct tokenizer *t, struct unit *u,
		    int32_t c, struct pl_error *err)
{
	utf8proc_uint8_t enc[8];
	utf8proc_ssize_t l;

	if (!t->cjk_bigram || t->cjklen >= 1) {
		strbuf_reset(&t->tok);
		if (t->cjk_bigram) {
			l = utf8proc_encode_char(t->cjk[0], enc);
			if (strbuf_add(&t->tok, enc, (size_t)l))
				return pl_oom(err);
		}
		l = utf8proc_encode_char(c, enc);
		if (strbuf_add(&t->tok, enc, (size_t)l))
			return pl_oom(err);
		if (emit(ctx, t, u, t->cjk_bigram ? 2 : 1, 0, 0, err))
			return -1;
	}
	t->cjk[0] = c;
	t->cjklen++;
	return 0;
}

/* A CJK run ended: a lone character is a token of its own in bigram mode. */
static int cjk_end(struct ctx *ctx, struct tokenizer *t, struct unit *u,
		   struct pl_error *err)
{
	utf8proc_uint8_t enc[8];
	utf8proc_ssize_t l;

	if (t->cjk_bigram && t->cjklen == 1) {
		strbuf_reset(&t->tok);
		l = utf8proc_encode_char(t->cjk[0], enc);
		if (strbuf_add(&t->tok, enc, (size_t)l))
			return pl_oom(err);
		if (emit(ctx, t, u, 1, 0, 0, err))
			return -1;
	}
	t->cjklen = 0;
	return 0;
}

/*
 * pattern = sklearn: scikit-learn's default analyzer, exactly.  Python's
 * str.lower() of the whole statement, then every maximal run of two or
 * more word characters, which is what (?u)\b\w\w+\b finds.  Nothing else:
 * no NFKC, no apostrophe, hyphen, number, length or CJK rule.
 * tests/client_sklearn.sh checks it against TfidfVectorizer on every
 * Unicode character and on real mail.
 *
 *  - Python's \w is str.isalnum() or '_': the categories L* and N* (every
 *    Nd, Nl and No character has a numeric value).  Combining marks are
 *    not \w, so "cafe\u0301" is the token "cafe".
 *  - str.lower() is the simple lowercase mapping (utf8proc_tolower) with
 *    two exceptions from SpecialCasing.txt: U+0130 İ becomes "i\u0307"
 *    (the dot is a mark and ends the token), and capital sigma becomes
 *    final ς when a Cased letter precedes it and none follows, skipping
 *    Case_Ignorable characters either way (CPython's handle_capital_sigma,
 *    which looks at the original text), σ otherwise.
 *  - Invalid UTF-8: Python decodes with errors="replace", so each bad
 *    sequence is U+FFFD, neither \w nor cased; here each bad byte ends a
 *    token and counts in invalid_bytes, which splits tokens identically.
 *
 * Code points assigned after the Unicode version of the Python that runs
 * scikit-learn can differ (utf8proc may already know them).
 */

/* Python's \w for a code point c >= 0: 0 no, 1 a letter or '_', 2 a
 * number (N*). */
static int py_word(int32_t c)
{
	if (c < 0x80)
		return c == '_' ? 1 : ascii_word[c];
	switch (utf8proc_category(c)) {
	case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL:
	case UTF8PROC_CATEGORY_LT: case UTF8PROC_CATEGORY_LM:
	case UTF8PROC_CATEGORY_LO:
		return 1;
	case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL:
	case UTF8PROC_CATEGORY_NO:
		return 2;
	default:
		return 0;
	}
}

/* What the final-sigma rule sees in a code point (-1: an invalid byte,
 * U+FFFD to Python).  Case_Ignorable is Mn, Me, Cf, Lm, Sk and the
 * Word_Break classes MidLetter, MidNumLet and Single_Quote; Cased is Lu,
 * Ll, Lt and the Other_Lowercase and Other_Uppercase letters, which
 * utf8proc_islower and utf8proc_isupper report.  A character that is both
 * (U+0345, modifier letters) is skipped, as in CPython.  Compared with
 * Python 3.11 over every code point it assigns: no difference. */
enum { SIGMA_OTHER, SIGMA_CASED, SIGMA_IGNORABLE };

/* Is ASCII c Case_Ignorable?  Inline, for the runs between tokens. */
static inline int ascii_ignorable(unsigned c)
{
	return c == '\'' || c == '.' || c == ':' || c == '^' || c == '`';
}

static int sigma_class(int32_t c)
{
	if (c < 0x80) {
		if (ascii_ignorable((unsigned)c))
			return SIGMA_IGNORABLE;
		return c >= 0 && ascii_word[c] == 1 ? SIGMA_CASED : SIGMA_OTHER;
	}
	switch (c) {
	case 0x00b7: case 0x0387: case 0x055f: case 0x05f4: case 0x2018:
	case 0x2019: case 0x2024: case 0x2027: case 0xfe13: case 0xfe52:
	case 0xfe55: case 0xff07: case 0xff0e: case 0xff1a:
		return SIGMA_IGNORABLE;
	default:
		break;
	}
	switch (utf8proc_category(c)) {
	case UTF8PROC_CATEGORY_MN: case UTF8PROC_CATEGORY_ME:
	case UTF8PROC_CATEGORY_CF: case UTF8PROC_CATEGORY_LM:
	case UTF8PROC_CATEGORY_SK:
		return SIGMA_IGNORABLE;
	case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL:
	case UTF8PROC_CATEGORY_LT:
		return SIGMA_CASED;
	default:
		return utf8proc_islower(c) || utf8proc_isupper(c) ? SIGMA_CASED :
		       SIGMA_OTHER;
	}
}

/* Does a Cased character follow p, past Case_Ignorable ones? */
static int cased_follows(const unsigned char *p, size_t left)
{
	size_t i = 0, n;

	while (i < left) {
		int k = sigma_class(decode(p + i, left - i, &n));

		if (k != SIGMA_IGNORABLE)
			return k == SIGMA_CASED;
		i += n;
	}
	return 0;
}

/* Intern the token in t->tok (nchars code points) and add it to the unit:
 * (?u)\b\w\w+\b wants two or more.  w: its words when lower16 made them,
 * else NULL. */
static int emit_sklearn(struct ctx *ctx, struct tokenizer *t, struct unit *u,
			size_t nchars, int digits, const uint64_t *w,
			struct pl_error *err)
{
	if (nchars < 2)
		return 0;
	if (w)
		return add_token_words(ctx, t, u, digits, w,
				       (uint32_t)pl_hash16(w, t->tok.len), err);
	return add_token(ctx, t, u, digits, err);
}

static int tokenize_sklearn(struct ctx *ctx, struct tokenizer *t,
			    struct unit *u, struct pl_error *err)
{
	const unsigned char *p = (const unsigned char *)u->text;
	size_t len = u->len, i = 0, n;
	size_t nchars = 0;     /* code points in the current token */
	int digits = 1;        /* the token is all numbers so far */
	int after_cased = 0;   /* the last character not Case_Ignorable was Cased */

	while (i < len) {
		int32_t c, low[2];
		int nlow = 1, k;

		/* Fast path: at a token start, a run of ASCII [A-Za-z0-9_]
		 * followed by an ASCII non-word byte (or the end) is a whole
		 * token.  Digits and '_' are neither cased nor case-ignorable,
		 * letters are cased: that is all the final-sigma state needs. */
		if (!nchars && py_ascii[p[i]]) {
			size_t j = i, tl;
			unsigned dig = 2;
			char *d;
			uint64_t words[2];
			int have_w;

#ifdef TOKENIZE_SSE2
			/* The run's end in the first 16 bytes that are
			 * not all word bytes, without a branch per byte. */
			while (j + 16 <= len) {
				unsigned w, dg, run, bits;

				classes16(p + j, &w, &dg);
				run = w == 0xffff ? 16 : (unsigned)__builtin_ctz(~w);
				bits = run == 16 ? 0xffff : (1u << run) - 1;
				if ((dg & bits) != bits)
					dig = 0;
				j += run;
				if (run < 16)
					break;
			}
#endif
			while (j < len && py_ascii[p[j]]) {
				dig &= py_ascii[p[j]];
				j++;
			}
			if (j == len || p[j] < 0x80) {
				/* Copied and lowercased in one pass into the
				 * token buffer, grown only for a longer token
				 * than any before. */
				tl = j - i;
				if (tl >= t->tok.cap &&
				    pl_grow(&t->tok.buf, &t->tok.cap, tl + 1, 1))
					return pl_oom(err);
				d = t->tok.buf;
				have_w = 0;
#ifdef TOKENIZE_SSE2
				if (tl <= 16 && i + 16 <= len) {
					lower16(p + i, d, tl, words);
					have_w = 1;
				} else
#endif
				for (size_t q = 0; q < tl; q++) {
					unsigned char ch = p[i + q];

					d[q] = (char)(ch + ((unsigned)(ch - 'A') < 26 ? 32 : 0));
				}
				d[tl] = '\0';
				t->tok.len = tl;
				if (emit_sklearn(ctx, t, u, tl, dig != 0,
						 have_w ? words : NULL, err))
					return -1;
				t->tok.len = 0;
				after_cased = ascii_word[p[j - 1]] == 1;
				i = j;
				continue;
			}
		}
		/* Between tokens, a run of ASCII bytes that are not \w (spaces,
		 * punctuation) only moves the final-sigma state: each is Other
		 * or, for ' . : ^ `, Case_Ignorable (sigma_class). */
		if (!nchars && p[i] < 0x80 && !py_ascii[p[i]]) {
			do {
				if (!ascii_ignorable(p[i]))
					after_cased = 0;
				i++;
			} while (i < len && p[i] < 0x80 && !py_ascii[p[i]]);
			continue;
		}
		c = decode(p + i, len - i, &n);
		if (c < 0) {
			ctx->rep.invalid_bytes += u->counted;
			low[0] = -1;
		} else if (c < 0x80) {
			low[0] = c >= 'A' && c <= 'Z' ? c + 32 : c;
		} else if (c == 0x130) {
			low[0] = 'i';
			low[1] = 0x307;
			nlow = 2;
		} else if (c == 0x3a3) {
			low[0] = after_cased && !cased_follows(p + i + n, len - i - n) ?
				 0x3c2 : 0x3c3;
		} else {
			low[0] = utf8proc_tolower(c);
		}
		k = sigma_class(c);
		if (k != SIGMA_IGNORABLE)
			after_cased = k == SIGMA_CASED;
		for (int j = 0; j < nlow; j++) {
			int w = low[j] < 0 ? 0 : py_word(low[j]);

			if (w) {
				utf8proc_uint8_t enc[4];
				utf8proc_ssize_t l = 1;

				if (low[j] < 0x80)
					enc[0] = (utf8proc_uint8_t)low[j];
				else
					l = utf8proc_encode_char(low[j], enc);
				if (strbuf_add(&t->tok, enc, (size_t)l))
					return pl_oom(err);
				nchars++;
				digits &= w == 2;
				continue;
			}
			if (nchars && emit_sklearn(ctx, t, u, nchars, digits, NULL, err))
				return -1;
			strbuf_reset(&t->tok);
			nchars = 0;
			digits = 1;
		}
		i += n;
	}
	if (nchars && emit_sklearn(ctx, t, u, nchars, digits, NULL, err))
		return -1;
	return 0;
}

/* The default pattern: words with NFKC case folding, hyphens, apostrophes,
 * numbers and CJK as the config says (the top of this file). */
static int tokenize_default(struct ctx *ctx, struct tokenizer *t,
			    struct unit *u, struct pl_error *err)
{
	const unsigned char *p = (const unsigned char *)u->text;
	size_t len = u->len, i = 0, n = 1;
	size_t nchars = 0;     /* characters in the current token, 0 = none */
	size_t marks = 0;      /* combining marks since its last character */
	int ascii = 1, digits = 1;

	t->cjklen = 0;
	while (i <= len) {
		int32_t c;
		enum cls k = C_OTHER;

		/* Fast path: outside a token, a run of ASCII letters and digits
		 * that ends in plain ASCII punctuation, space or the end of the
		 * text is a whole token; most English text is only that. */
		if (!nchars && !t->cjklen && i < len && p[i] < 0x80 &&
		    ascii_word[p[i]]) {
			size_t j = i;
			int dig = 1;

			while (j < len && p[j] < 0x80 && ascii_word[p[j]]) {
				dig &= ascii_word[p[j]] == 2;
				j++;
			}
			if (j == len || (p[j] < 0x80 && p[j] != '\'' && p[j] != '-')) {
				strbuf_reset(&t->tok);
				if (j - i <= (size_t)t->max_len &&
				    strbuf_add(&t->tok, p + i, j - i))
					return pl_oom(err);
				if (emit(ctx, t, u, j - i, 1, dig, err))
					return -1;
				i = j;
				continue;
			}
		}
		/* Outside a token, ASCII bytes that are neither letters nor
		 * digits separate and nothing more (an apostrophe or hyphen
		 * joins only inside a word). */
		if (!nchars && !t->cjklen && i < len && p[i] < 0x80 && !ascii_word[p[i]]) {
			do
				i++;
			while (i < len && p[i] < 0x80 && !ascii_word[p[i]]);
			continue;
		}
		c = i < len ? decode(p + i, len - i, &n) : 0;
		if (i == len)
			n = 1;
		else if (c < 0)
			ctx->rep.invalid_bytes += u->counted;
		else
			k = classify(c);
		if (k == C_CJK) {
			if (nchars && emit(ctx, t, u, nchars, ascii, digits, err))
				return -1;
			nchars = 0;
			if (cjk_char(ctx, t, u, c, err))
				return -1;
			i += n;
			continue;
		}
		if (t->cjklen && cjk_end(ctx, t, u, err))
			return -1;
		if (nchars && (k == C_APOS || k == C_HYPHEN) && i + n < len) {
			/* Inside a word only when a word character follows. */
			size_t n2;
			int32_t c2 = decode(p + i + n, len - i - n, &n2);
			enum cls k2 = c2 < 0 ? C_OTHER : classify(c2);
			int joins = k == C_APOS ? k2 == C_LETTER :
				    (k2 == C_LETTER || k2 == C_NUMBER) &&
				    t->hyphens != HYPHEN_SPLIT;

			if (joins) {
				if (k == C_APOS || t->hyphens == HYPHEN_KEEP) {
					if (nchars <= (size_t)t->max_len &&
					    strbuf_addch(&t->tok, k == C_APOS ? '\'' : '-'))
						return pl_oom(err);
					nchars++;
					digits = 0;
				}
				i += n;
				continue;
			}
		}
		if (k == C_LETTER || k == C_NUMBER || (k == C_MARK && nchars)) {
			if (!nchars) {
				strbuf_reset(&t->tok);
				ascii = digits = 1;
			}
			/* Past max_length the token is only counted, not kept. */
			if (nchars <= (size_t)t->max_len &&
			    strbuf_add(&t->tok, p + i, n))
				return pl_oom(err);
			if (k != C_MARK) {
				nchars++;
				marks = 0;
			} else if (++marks > 30 && nchars <= (size_t)t->max_len) {
				/* More marks on one letter than UAX #15's
				 * stream-safe limit (30) is not text: too long,
				 * and normalise() would sort them in O(n^2). */
				nchars = (size_t)t->max_len + 1;
			}
			ascii &= c < 0x80;
			digits &= k == C_NUMBER;
			i += n;
			continue;
		}
		if (nchars && emit(ctx, t, u, nchars, ascii, digits, err))
			return -1;
		nchars = 0;
		i += n;
	}
	return 0;
}

static int tokenize_unit(struct ctx *ctx, struct unit *u, struct pl_error *err)
{
	struct tokenizer *t = ctx->tokenizer;

	u->tok.n = 0;
	t->npend = 0;
	strbuf_reset(&t->pbytes);
	strbuf_reset(&t->tok);
	/* Whether stop words may be left out is decided at the first counted
	 * statement: while the stages set up, forms are still being added. */
	if (u->counted && t->drop_stop < 0)
		t->drop_stop = !phrases_need_stop_words(ctx);
	t->drop_now = u->counted && t->drop_stop > 0;
	t->dropped = 0;
	if ((t->sklearn ? tokenize_sklearn(ctx, t, u, err) :
			  tokenize_default(ctx, t, u, err)) ||
	    flush_pending(ctx, t, u, err))
		return -1;
	if (u->counted)
		ctx->rep.tokens += u->tok.n + t->dropped;
	return 0;
}

static int load_stopwords(struct tokenizer *t, const struct config *cfg,
			  struct pl_error *err)
{
	const char *spec = cfg->v[CFG_tokenize_stopwords].text;
	char where[4200];
	struct strbuf path = STRBUF_INIT;
	const char *why;
	int code;
	FILE *fp;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	uint32_t id;
	int rc = 0;

	if (strcmp(spec, "none") == 0)
		return 0;
	if (strcmp(spec, "english") == 0) {
		for (size_t i = 0; english_stopwords[i]; i++)
			if (strtab_intern(&t->stop, english_stopwords[i],
					  strlen(english_stopwords[i]), &id) < 0)
				return pl_oom(err);
		return 0;
	}
	/* A file, relative to the config file's folder. */
	if (spec[0] != '/' && cfg->dir && cfg->v[CFG_tokenize_stopwords].line >= 0 &&
	    (strbuf_addstr(&path, cfg->dir) || strbuf_addch(&path, '/')))
		return pl_oom(err);
	if (strbuf_addstr(&path, spec))
		return pl_oom(err);
	fp = pl_fopen_small(path.buf, PL_LIST_MAX, PL_EX_DATAERR, &why, &code);
	if (!fp) {
		pl_fail(err, code,
			"%s: [tokenize] stopwords: cannot read '%s': %s "
			"(use english, none, or a file with one word a line)",
			config_where(cfg, CFG_tokenize_stopwords, where, sizeof(where)),
			path.buf, why);
		strbuf_release(&path);
		return -1;
	}
	while ((n = getline(&line, &cap, fp)) >= 0) {
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' ||
				 line[n - 1] == ' ' || line[n - 1] == '\t'))
			line[--n] = '\0';
		if (n == 0 || line[0] == '#')
			continue;
		/* Normalise each word the way text is normalised; with
		 * pattern = sklearn, as scikit-learn does, compare tokens with
		 * the words as given. */
		strbuf_reset(&t->tok);
		if (strbuf_add(&t->tok, line, (size_t)n)) {
			rc = pl_oom(err);
			break;
		}
		if ((!t->sklearn && normalise(t, 0) < 0) ||
		    strtab_intern(&t->stop, t->tok.buf, t->tok.len, &id) < 0) {
			rc = pl_oom(err);
			break;
		}
	}
	free(line);
	fclose(fp);
	strbuf_release(&path);
	return rc;
}

static void tokenize_release(struct ctx *ctx)
{
	struct tokenizer *t = ctx->tokenizer;

	if (t) {
		strtab_release(&t->stop);
		strbuf_release(&t->tok);
		strbuf_release(&t->pbytes);
		pl_free(t->pend);
		pl_free(t->memo);
		pl_free(t->cps);
		pl_free(t);
		ctx->tokenizer = NULL;
	}
	surfaces_release(&ctx->surf);
}

static int tokenize_init(struct ctx *ctx, struct pl_error *err)
{
	const struct config *cfg = ctx->cfg;
	struct tokenizer *t = pl_calloc(1, sizeof(*t));

	if (!t)
		return pl_oom(err);
	ctx->tokenizer = t;
	t->min_len = cfg->v[CFG_tokenize_min_length].i;
	t->max_len = cfg->v[CFG_tokenize_max_length].i;
	t->keep_numbers = cfg->v[CFG_tokenize_numbers].i == 1;
	t->hyphens = (int)cfg->v[CFG_tokenize_hyphens].i;
	t->strip_possessive = cfg->v[CFG_tokenize_possessive].i == 0;
	t->cjk_bigram = cfg->v[CFG_tokenize_cjk].i == 0;
	t->sklearn = cfg->v[CFG_tokenize_pattern].i == 1;
	t->drop_stop = -1;
	t->memo = pl_calloc(TOKENIZE_MEMO_SLOTS, sizeof(*t->memo));
	t->pend = pl_calloc(PENDING, sizeof(*t->pend));
	/* The token buffer never has fewer than 32 bytes (lower16 writes
	 * 16 of them whatever the token's length); a strbuf only grows. */
	if (!t->memo || !t->pend || pl_grow(&t->tok.buf, &t->tok.cap, 32, 1))
		return pl_oom(err);
	/* add_token reads a short token's 16 bytes whatever its length. */
	memset(t->tok.buf, 0, t->tok.cap);
	return load_stopwords(t, cfg, err);
}

const struct stage stage_tokenize = {
	.name = "tokenize",
	.help = "UTF-8 -> NFKC case-folded tokens; stop words marked",
	.init = tokenize_init,
	.unit = tokenize_unit,
	.release = tokenize_release,
	.analysis = 1,
};
