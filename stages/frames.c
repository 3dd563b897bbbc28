/* frames.c -- find the configured framings in each statement
 *
 * In: [frames] entries `name = entry, entry, ...` (at most 32 frames), and
 * after the corpus is read, ctx->counts.  Out: ctx->frames, with hits[u][f],
 * the occurrences of frame f's terms in unit u.
 *
 * Each entry goes through the same tokenizer, stemmer and phrase joiner as
 * the text, so "spying" in a lexicon matches "spy", "spies" and "spied", and
 * "back door" matches whatever [phrases] made of it.  An entry of several
 * words that [phrases] does not already join becomes a phrase of its own
 * (its words joined by "_"), so "mass surveillance" is one feature in the
 * text too; an entry made only of stop words is an error, since it could
 * never match.  Matching on counts (not raw text) keeps frames exact under
 * any pruning: a frame term counts even when min_df drops its column.
 */
#include "stages.h"

#include <string.h>

#define MAX_FRAMES 32

/* Resolve one entry to a single stem id, adding a phrase when needed. */
static int resolve(struct ctx *ctx, const char *entry, struct unit *u,
		   uint32_t *stem, const char *where, const char *frame,
		   struct pl_error *err)
{
	struct strbuf name = STRBUF_INIT;
	struct unit raw = { 0 };
	int rc = 0;

	if (phrases_analyze_form(ctx, entry, &raw, err))
		goto fail;
	if (raw.tok.n == 0) {
		rc = pl_fail(err, PL_EX_CONFIG,
			     "%s: [frames] %s: entry '%s' has no words after tokenizing",
			     where, frame, entry);
		goto out;
	}
	/* Run the phrase joiner (which also drops stop words) on a copy. */
	u->tok.n = 0;
	for (size_t i = 0; i < raw.tok.n; i++)
		if (tokens_push(&u->tok, raw.tok.surf[i], raw.tok.stem[i]))
			goto oom;
	u->counted = 0;
	if (stage_phrases.unit(ctx, u, err))
		goto fail;
	if (u->tok.n == 1) {
		*stem = u->tok.stem[0];
		goto out;
	}
	if (u->tok.n == 0) {
		rc = pl_fail(err, PL_EX_CONFIG,
			     "%s: [frames] %s: entry '%s' is only stop words and "
			     "would never match", where, frame, entry);
		goto out;
	}
	/* Several terms: join the whole entry (stop words included) as a
	 * phrase named by its normalised words. */
	for (size_t i = 0; i < raw.tok.n; i++)
		if ((i && strbuf_addch(&name, '_')) ||
		    strbuf_addstr(&name, strtab_str(&ctx->surf.tab, raw.tok.surf[i])))
			goto oom;
	if (phraser_add(ctx, name.buf, raw.tok.stem, raw.tok.n, err))
		goto fail;
	*stem = strtab_find(&ctx->stems.tab, name.buf, name.len);
	goto out;
oom:
	rc = pl_oom(err);
	goto out;
fail:
	rc = -1;
out:
	tokens_release(&raw.tok);
	strbuf_release(&name);
	return rc;
}

static int frames_init(struct ctx *ctx, struct pl_error *err)
{
	const struct config *cfg = ctx->cfg;
	const struct cfg_entries *e = &cfg->frames;
	struct frames *f = &ctx->frames;
	struct strbuf item = STRBUF_INIT;
	struct unit u = { 0 };
	char where[4200];
	int rc = 0;

	if (e->n > MAX_FRAMES)
		return pl_fail(err, PL_EX_CONFIG,
			       "%s: [frames] has %zu frames; at most %d are supported",
			       cfg->file, e->n, MAX_FRAMES);
	if (e->n == 0)
		return 0;
	f->name = pl_calloc(e->n, sizeof(*f->name));
	f->entries = pl_calloc(e->n, sizeof(*f->entries));
	f->stems = pl_calloc(e->n, sizeof(*f->stems));
	f->nstems = pl_calloc(e->n, sizeof(*f->nstems));
	if (!f->name || !f->entries || !f->stems || !f->nstems)
		return pl_oom(err);
	f->n = e->n;
	for (size_t i = 0; i < e->n && rc == 0; i++) {
		const char *p = e->v[i].value;
		size_t cap = 0;

		if (e->v[i].line > 0)
			snprintf(where, sizeof(where), "%s:%d", cfg->file, e->v[i].line);
		else
			snprintf(where, sizeof(where), "-c frames.%s", e->v[i].name);
		f->name[i] = pl_strdup(e->v[i].name);
		f->entries[i] = pl_strdup(e->v[i].value);
		if (!f->name[i] || !f->entries[i]) {
			rc = pl_oom(err);
			break;
		}
		while (*p && rc == 0) {
			size_t len = strcspn(p, ",");
			uint32_t stem = ID_NONE;

			strbuf_reset(&item);
			if (strbuf_add(&item, p, len)) {
				rc = pl_oom(err);
				break;
			}
			p += len + (p[len] == ',');
			if (strspn(item.buf, " \t") == item.len)
				continue;
			rc = resolve(ctx, item.buf, &u, &stem, where, f->name[i], err);
			if (rc)
				break;
			if (pl_grow(&f->stems[i], &cap, f->nstems[i] + 1,
				    sizeof(*f->stems[i]))) {
				rc = pl_oom(err);
				break;
			}
			f->stems[i][f->nstems[i]++] = stem;
		}
		if (rc == 0 && f->nstems[i] == 0)
			rc = pl_fail(err, PL_EX_CONFIG,
				     "%s: [frames] %s: no entries; write %s = word, phrase, ...",
				     where, f->name[i], f->name[i]);
	}
	tokens_release(&u.tok);
	strbuf_release(&item);
	return rc;
}

static int frames_run(struct ctx *ctx, struct pl_error *err)
{
	struct frames *f = &ctx->frames;
	const struct csr *c = &ctx->counts;
	uint32_t *mask;

	if (f->n == 0)
		return 0;
	mask = pl_calloc(c->ncols ? c->ncols : 1, sizeof(*mask));
	f->hits = pl_calloc(c->nrows ? c->nrows * f->n : 1, sizeof(*f->hits));
	if (!mask || !f->hits) {
		pl_free(mask);
		return pl_oom(err);
	}
	for (size_t i = 0; i < f->n; i++)
		for (size_t j = 0; j < f->nstems[i]; j++) {
			uint32_t t = ctx->stems.term[f->stems[i][j]];

			if (t != ID_NONE)
				mask[t] |= 1u << i;
		}
	for (size_t r = 0; r < c->nrows; r++)
		for (uint64_t j = c->rowptr[r]; j < c->rowptr[r + 1]; j++) {
			uint32_t m = mask[c->col[j]];

			for (size_t i = 0; m; i++, m >>= 1)
				if (m & 1)
					f->hits[r * f->n + i] += c->cnt[j];
		}
	pl_free(mask);
	return 0;
}

static void frames_stage_release(struct ctx *ctx)
{
	frames_release(&ctx->frames);
}

const struct stage stage_frames = {
	.name = "frames",
	.help = "occurrences of each [frames] lexicon per statement",
	.init = frames_init,
	.run = frames_run,
	.release = frames_stage_release,
};
