/* phrases.c -- join multi-word expressions, drop stop words, add n-grams
 *
 * In: u->tok with stem ids, stop words still present.  Out: u->tok with
 * each matched expression replaced by one phrase term, the remaining stop
 * words dropped, and n-grams appended ([phrases] ngram = 1..N).
 *
 * [phrases] entries read `name = form, form, ...`.  Each form goes through
 * the same tokenizer and stemmer as the text, and the text is matched stem
 * by stem, longest form first, so "double standards" matches the form
 * "double standard", "back-door" (hyphens split) matches "back door", and
 * a one-word form such as "backdoor" makes the two spellings one feature.
 * Matching runs before stop words are dropped, so "Five Eyes" survives
 * although "five" is a stop word.  The phrase term is the entry's name
 * with spaces as underscores; it is not stemmed again.  The order is
 * tokenize -> stem -> phrases (not phrases -> stem) precisely so that
 * inflected forms match without listing every one.
 *
 * N-grams follow scikit-learn: built from the tokens left after stop words
 * are dropped, parts joined by one space; with ngram = 2..3 the single
 * words are not counted.
 */
#include "stages.h"

#include <string.h>

struct alt {
	uint32_t *seq;      /* stem ids of the form */
	uint32_t len;
	uint32_t target;    /* stem id of the phrase term */
	uint32_t next;      /* next form with the same first stem, or ID_NONE */
};

struct phraser {
	struct alt *alt;
	size_t nalt, altcap;
	uint32_t *first;    /* stem id -> first form starting with it */
	size_t nfirst;
	long ng_lo, ng_hi;
	struct tokens out;
	struct strbuf sb;
};

int phraser_add(struct ctx *ctx, const char *name, const uint32_t *seq,
		size_t len, struct pl_error *err)
{
	struct phraser *p = ctx->phraser;
	uint32_t target, after;
	struct alt *a;

	if (stems_intern(&ctx->stems, name, strlen(name), TERM_PHRASE, &target))
		return pl_oom(err);
	if (seq[0] >= p->nfirst) {
		size_t old = p->nfirst;

		if (pl_grow(&p->first, &p->nfirst, (size_t)seq[0] + 1,
			    sizeof(*p->first)))
			return pl_oom(err);
		for (size_t i = old; i < p->nfirst; i++)
			p->first[i] = ID_NONE;
	}
	/* Keep each list longest first; equal forms are a config error.
	 * `after` is the form the new one goes behind (ID_NONE: the head);
	 * indexes, not pointers, because p->alt may move when it grows. */
	after = ID_NONE;
	for (uint32_t k = p->first[seq[0]]; k != ID_NONE; k = p->alt[k].next) {
		const struct alt *o = &p->alt[k];

		if (o->len == len && memcmp(o->seq, seq, len * sizeof(*seq)) == 0) {
			if (o->target == target)
				return 0;
			return pl_fail(err, PL_EX_CONFIG,
				       "the form is already listed for '%s'",
				       strtab_str(&ctx->stems.tab, o->target));
		}
		if (o->len < len)
			break;
		after = k;
	}
	if (pl_grow(&p->alt, &p->altcap, p->nalt + 1, sizeof(*p->alt)))
		return pl_oom(err);
	a = &p->alt[p->nalt];
	a->seq = pl_malloc(len * sizeof(*seq));
	if (!a->seq)
		return pl_oom(err);
	memcpy(a->seq, seq, len * sizeof(*seq));
	a->len = (uint32_t)len;
	a->target = target;
	if (after == ID_NONE) {
		a->next = p->first[seq[0]];
		p->first[seq[0]] = (uint32_t)p->nalt;
	} else {
		a->next = p->alt[after].next;
		p->alt[after].next = (uint32_t)p->nalt;
	}
	p->nalt++;
	return 0;
}

/* The longest form starting at token i, or ID_NONE. */
static uint32_t match_at(const struct phraser *p, const struct tokens *t,
			 size_t i)
{
	uint32_t s = t->stem[i];

	if (s >= p->nfirst)
		return ID_NONE;
	for (uint32_t a = p->first[s]; a != ID_NONE; a = p->alt[a].next) {
		const struct alt *f = &p->alt[a];
		uint32_t j;

		if (f->len > t->n - i)
			continue;
		for (j = 1; j < f->len && t->stem[i + j] == f->seq[j]; j++)
			;
		if (j == f->len)
			return a;
	}
	return ID_NONE;
}

/* The surface of a matched multi-word phrase: its words joined by spaces. */
static int phrase_surface(struct ctx *ctx, const struct tokens *t, size_t i,
			  size_t len, uint32_t target, uint32_t *out)
{
	struct strbuf *sb = &ctx->phraser->sb;
	int added;

	strbuf_reset(sb);
	for (size_t j = 0; j < len; j++)
		if ((j && strbuf_addch(sb, ' ')) ||
		    strbuf_addstr(sb, strtab_str(&ctx->surf.tab, t->surf[i + j])))
			return -1;
	if (surfaces_intern(&ctx->surf, sb->buf, sb->len, out, &added))
		return -1;
	if (added) {
		ctx->surf.flags[*out] |= SURF_PHRASE;
		ctx->surf.stem[*out] = target;
	}
	return 0;
}

static int add_ngrams(struct ctx *ctx, struct tokens *t, struct pl_error *err)
{
	struct phraser *p = ctx->phraser;
	size_t nuni = t->n;

	for (long n = p->ng_lo > 2 ? p->ng_lo : 2; n <= p->ng_hi; n++) {
		for (size_t i = 0; i + (size_t)n <= nuni; i++) {
			uint32_t id;

			strbuf_reset(&p->sb);
			for (long j = 0; j < n; j++)
				if ((j && strbuf_addch(&p->sb, ' ')) ||
				    strbuf_addstr(&p->sb, strtab_str(&ctx->stems.tab,
								     t->stem[i + j])))
					return pl_oom(err);
			if (stems_intern(&ctx->stems, p->sb.buf, p->sb.len,
					 TERM_NGRAM, &id) ||
			    tokens_push(t, ID_NONE, id))
				return pl_oom(err);
		}
	}
	if (p->ng_lo >= 2) {
		memmove(t->surf, t->surf + nuni, (t->n - nuni) * sizeof(*t->surf));
		memmove(t->stem, t->stem + nuni, (t->n - nuni) * sizeof(*t->stem));
		t->n -= nuni;
	}
	return 0;
}

static int phrases_unit(struct ctx *ctx, struct unit *u, struct pl_error *err)
{
	struct phraser *p = ctx->phraser;
	struct tokens *in = &u->tok, *out = &p->out, swap;
	size_t i = 0;

	out->n = 0;
	while (i < in->n) {
		uint32_t a = match_at(p, in, i);

		if (a != ID_NONE) {
			uint32_t len = p->alt[a].len, surf = in->surf[i];

			if (len > 1 && phrase_surface(ctx, in, i, len,
						      p->alt[a].target, &surf))
				return pl_oom(err);
			if (tokens_push(out, surf, p->alt[a].target))
				return pl_oom(err);
			i += len;
			continue;
		}
		if (!(ctx->surf.flags[in->surf[i]] & SURF_STOP) &&
		    tokens_push(out, in->surf[i], in->stem[i]))
			return pl_oom(err);
		i++;
	}
	if (u->counted && p->ng_hi >= 2 && add_ngrams(ctx, out, err))
		return -1;
	swap = *in;
	*in = *out;
	*out = swap;
	return 0;
}

int phrases_need_stop_words(const struct ctx *ctx)
{
	return !ctx->phraser || ctx->phraser->nalt > 0;
}

/* Tokenize and stem config text (stop words kept) into u->tok. */
int phrases_analyze_form(struct ctx *ctx, const char *text, struct unit *u,
			 struct pl_error *err)
{
	u->text = text;
	u->len = strlen(text);
	u->counted = 0;
	u->tok.n = 0;
	if (stage_tokenize.unit(ctx, u, err) || stage_stem.unit(ctx, u, err))
		return -1;
	return 0;
}

static int compile_entry(struct ctx *ctx, const struct cfg_entry *e,
			 struct unit *u, struct pl_error *err)
{
	const struct config *cfg = ctx->cfg;
	struct strbuf name = STRBUF_INIT, form = STRBUF_INIT;
	const char *p = e->value;
	char where[4200];
	int rc = 0, nforms = 0;

	if (e->line > 0)
		snprintf(where, sizeof(where), "%s:%d", cfg->file, e->line);
	else
		snprintf(where, sizeof(where), "-c phrases.%s", e->name);
	for (const char *c = e->name; *c; c++)
		if (strbuf_addch(&name, *c == ' ' ? '_' : *c)) {
			rc = pl_oom(err);
			goto out;
		}
	while (*p && rc == 0) {
		size_t len = strcspn(p, ",");
		struct pl_error sub;

		strbuf_reset(&form);
		if (strbuf_add(&form, p, len)) {
			rc = pl_oom(err);
			break;
		}
		p += len + (p[len] == ',');
		if (form.len == 0 || strspn(form.buf, " \t") == form.len)
			continue;
		if (phrases_analyze_form(ctx, form.buf, u, err)) {
			rc = -1;
			break;
		}
		if (u->tok.n == 0) {
			rc = pl_fail(err, PL_EX_CONFIG,
				     "%s: [phrases] %s: form '%s' has no words after "
				     "tokenizing", where, e->name, form.buf);
			break;
		}
		if (phraser_add(ctx, name.buf, u->tok.stem, u->tok.n, &sub)) {
			rc = pl_fail(err, sub.code, "%s: [phrases] %s: '%s': %s",
				     where, e->name, form.buf, sub.msg);
			break;
		}
		nforms++;
	}
	if (rc == 0 && nforms == 0)
		rc = pl_fail(err, PL_EX_CONFIG,
			     "%s: [phrases] %s: no forms; write %s = form, form, ...",
			     where, e->name, e->name);
out:
	strbuf_release(&name);
	strbuf_release(&form);
	return rc;
}

static int phrases_init(struct ctx *ctx, struct pl_error *err)
{
	struct phraser *p = pl_calloc(1, sizeof(*p));
	struct unit u = { 0 };
	int rc = 0;

	if (!p)
		return pl_oom(err);
	ctx->phraser = p;
	p->ng_lo = ctx->cfg->v[CFG_phrases_ngram].i;
	p->ng_hi = ctx->cfg->v[CFG_phrases_ngram].hi;
	for (size_t i = 0; i < ctx->cfg->phrases.n && rc == 0; i++)
		rc = compile_entry(ctx, &ctx->cfg->phrases.v[i], &u, err);
	tokens_release(&u.tok);
	return rc;
}

static void phrases_release(struct ctx *ctx)
{
	struct phraser *p = ctx->phraser;

	if (!p)
		return;
	for (size_t i = 0; i < p->nalt; i++)
		pl_free(p->alt[i].seq);
	pl_free(p->alt);
	pl_free(p->first);
	tokens_release(&p->out);
	strbuf_release(&p->sb);
	pl_free(p);
	ctx->phraser = NULL;
}

const struct stage stage_phrases = {
	.name = "phrases",
	.help = "join configured expressions, drop stop words, add n-grams",
	.init = phrases_init,
	.unit = phrases_unit,
	.release = phrases_release,
	.analysis = 1,
};
