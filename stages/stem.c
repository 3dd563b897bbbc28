/* stem.c -- map each surface to its Snowball stem, once
 *
 * In: u->tok with surface ids.  Out: u->tok with stem ids.  Stemming goes
 * through libstemmer ([stem] language, any of sb_stemmer_list(), or none),
 * and is memoised on the surface: each distinct surface is stemmed the
 * first time it is seen and never again, so the cost follows the size of
 * the vocabulary, not of the corpus.  Summaries show a term by its most
 * frequent surface ("surveillance"), never by its stem ("surveil").
 */
/* dladdr */
#define _GNU_SOURCE
#include "stages.h"

#include <dlfcn.h>
#include <libstemmer.h>
#include <stdint.h>
#include <string.h>

struct stemmer {
	struct sb_stemmer *sb;   /* NULL for language = none */
};

static int stem_unit(struct ctx *ctx, struct unit *u, struct pl_error *err)
{
	struct surfaces *sf = &ctx->surf;
	struct sb_stemmer *sb = ctx->stemmer->sb;

	for (size_t i = 0; i < u->tok.n; i++) {
		uint32_t s = u->tok.surf[i];

		if (s == ID_NONE || u->tok.stem[i] != ID_NONE)
			continue;
		if (sf->stem[s] == ID_NONE) {
			const char *w = strtab_str(&sf->tab, s);
			int wlen = (int)strtab_len(&sf->tab, s);
			const sb_symbol *st = (const sb_symbol *)w;
			uint32_t id;

			if (sb) {
				st = sb_stemmer_stem(sb, (const sb_symbol *)w, wlen);
				if (!st)
					return pl_oom(err);
				wlen = sb_stemmer_length(sb);
			}
			if (stems_intern(&ctx->stems, (const char *)st,
					 (size_t)wlen, TERM_WORD, &id))
				return pl_oom(err);
			sf->stem[s] = id;
		}
		u->tok.stem[i] = sf->stem[s];
	}
	return 0;
}

/* Is `lang` a name libstemmer knows (canonical names and ISO codes)? */
static int stem_init(struct ctx *ctx, struct pl_error *err)
{
	const char *lang = ctx->cfg->v[CFG_stem_language].text;
	struct stemmer *s = pl_calloc(1, sizeof(*s));
	char where[4200];

	if (!s)
		return pl_oom(err);
	ctx->stemmer = s;
	if (strcmp(lang, "none") == 0)
		return 0;
	s->sb = sb_stemmer_new(lang, "UTF_8");
	if (!s->sb) {
		const char **l = sb_stemmer_list();
		int known = 0;

		for (size_t i = 0; l[i]; i++)
			known |= strcmp(l[i], lang) == 0;
		if (known)
			return pl_oom(err);
		return pl_fail(err, PL_EX_CONFIG,
			       "%s: [stem] language: '%s' is not a libstemmer language "
			       "(pipeline help stem lists them; none turns stemming off)",
			       config_where(ctx->cfg, CFG_stem_language, where,
					    sizeof(where)), lang);
	}
	return 0;
}

static void stem_release(struct ctx *ctx)
{
	if (ctx->stemmer) {
		sb_stemmer_delete(ctx->stemmer->sb);
		pl_free(ctx->stemmer);
		ctx->stemmer = NULL;
	}
	stems_release(&ctx->stems);
}

const struct stage stage_stem = {
	.name = "stem",
	.help = "Snowball stems through libstemmer, each distinct surface once",
	.init = stem_init,
	.unit = stem_unit,
	.release = stem_release,
	.analysis = 1,
};

const char *stem_library_path(void)
{
	Dl_info info;

	if (dladdr((void *)(uintptr_t)sb_stemmer_new, &info) && info.dli_fname &&
	    info.dli_fname[0])
		return info.dli_fname;
	return NULL;
}
