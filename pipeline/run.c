/* run.c -- chain the stages and report what ran
 *
 * The one table of stages, in run order, and the driver that initialises
 * them all (so every config error shows before any work), opens the staged
 * output folder, runs them, writes run.json, and publishes the outputs only
 * when everything succeeded.  A new stage is one file in stages/ and one row
 * here.
 */
#include "run.h"
#include "cache.h"
#include "outdir.h"

#include <gsl/gsl_version.h>
#include <libdeflate.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <utf8proc.h>
#include <xxhash.h>
#include <zlib.h>

const struct stage *const stages[] = {
	&stage_read,
	&stage_tokenize,
	&stage_stem,
	&stage_phrases,
	&stage_vocabulary,
	&stage_frames,
	&stage_counts,
	&stage_tfidf,
	&stage_kmeans,
	&stage_project,
	&stage_summary,
	&stage_write,
	NULL,
};

void ctx_init(struct ctx *ctx, const struct config *cfg)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->cfg = cfg;
	ctx->stage = -1;
	ctx->lockfd = -1;
}

int stages_unit(struct ctx *ctx, struct unit *u, struct pl_error *err)
{
	for (int i = ctx->stage + 1; stages[i]; i++) {
		double t0;

		if (!stages[i]->unit)
			continue;
		t0 = pl_now();
		if (stages[i]->unit(ctx, u, err))
			return -1;
		ctx->rep.seconds[i] += pl_now() - t0;
	}
	return 0;
}

int stages_analyze(struct ctx *ctx, struct unit *u, struct pl_error *err)
{
	u->counted = 0;
	u->tok.n = 0;
	for (int i = 0; stages[i]; i++)
		if (stages[i]->analysis && stages[i]->unit &&
		    stages[i]->unit(ctx, u, err))
			return -1;
	return 0;
}

int ctx_prepare(struct ctx *ctx, struct pl_error *err)
{
	for (int i = 0; stages[i]; i++) {
		double t0 = pl_now();

		if (stages[i]->init && stages[i]->init(ctx, err))
			return -1;
		ctx->rep.seconds[i] += pl_now() - t0;
	}
	return 0;
}

size_t pipeline_libraries(struct pl_library lib[PL_NLIBS])
{
	unsigned x = XXH_versionNumber();
	size_t n = 0;

	lib[n].name = "gsl";
	snprintf(lib[n++].version, sizeof(lib->version), "%s", gsl_version);
	lib[n].name = "zlib";
	snprintf(lib[n++].version, sizeof(lib->version), "%s", zlibVersion());
	lib[n].name = "libdeflate";
	snprintf(lib[n++].version, sizeof(lib->version), "%s", LIBDEFLATE_VERSION_STRING);
	lib[n].name = "utf8proc";
	snprintf(lib[n++].version, sizeof(lib->version), "%s", utf8proc_version());
	lib[n].name = "xxhash";
	snprintf(lib[n++].version, sizeof(lib->version), "%u.%u.%u", x / 10000,
		 x / 100 % 100, x % 100);
	lib[n].name = "libstemmer";
	snprintf(lib[n++].version, sizeof(lib->version), "%s",
		 "libstemmer_c (Snowball; no version exported)");
	lib[n].name = "inih";
	snprintf(lib[n++].version, sizeof(lib->version), "r%s", PIPELINE_INIH_VERSION);
	return n;
}

/* run.json's "previous": the run this one followed, what it found changed
 * since, and why it read every file when it did (output/README.md). */
static int write_previous(const struct ctx *ctx, struct strbuf *sb)
{
	const struct plan *p = &ctx->plan;
	const struct cache *c = ctx->cache;
	const char *prev = ctx_prev_id(ctx), *why = NULL;

	if (!prev)
		return strbuf_addstr(sb, "  \"previous\": null,\n");
	if (c && c->stale)
		why = c->stale;
	else if (p->why)
		why = p->why;
	else if (!c && ctx->cfg->v[CFG_output_incremental].i)
		why = "output.incremental = no";
	else if (!c)
		why = "that run left no cache in its set";
	else if (p->rebuild)
		why = "the cache was mostly stale";
	if (strbuf_addstr(sb, "  \"previous\": {\"run\": ") ||
	    strbuf_add_json(sb, prev, strlen(prev)) ||
	    (c ? strbuf_addf(sb, ", \"new\": %zu, \"changed\": %zu, \"removed\": %zu, "
			     "\"unchanged\": %zu", p->fresh, p->changed, p->removed, p->same)
	       : /* without its cache, nothing says what changed */
	       strbuf_addstr(sb, ", \"new\": null, \"changed\": null, \"removed\": null, "
			     "\"unchanged\": null")) ||
	    strbuf_addstr(sb, ", \"read_all\": "))
		return -1;
	if (!why)
		return strbuf_addstr(sb, "null},\n");
	return strbuf_add_json(sb, why, strlen(why)) || strbuf_addstr(sb, "},\n");
}

static int write_report(struct ctx *ctx, struct pl_error *err)
{
	const struct config *cfg = ctx->cfg;
	struct strbuf sb = STRBUF_INIT, conf = STRBUF_INIT;
	char metric[32];
	int rc = -1;

	if (config_dump(cfg, &conf))
		goto oom;
	if (strbuf_addstr(&sb, "{\n  \"program\": \"pipeline\",\n  \"version\": ") ||
	    strbuf_add_json(&sb, PIPELINE_VERSION, strlen(PIPELINE_VERSION)) ||
	    strbuf_addstr(&sb, ",\n  \"config_file\": ") ||
	    strbuf_add_json(&sb, cfg->file ? cfg->file : "", cfg->file ? strlen(cfg->file) : 0) ||
	    strbuf_addf(&sb, ",\n  \"config_hash\": \"%016llx\",\n  \"seed\": %ld,\n",
			(unsigned long long)pl_fnv1a(PL_FNV_OFFSET, conf.buf, conf.len),
			cfg->v[CFG_kmeans_seed].i) ||
	    strbuf_addstr(&sb, "  \"libraries\": {"))
		goto oom;
	{
		struct pl_library lib[PL_NLIBS];
		size_t n = pipeline_libraries(lib);

		for (size_t i = 0; i < n; i++)
			if (strbuf_addf(&sb, "%s\"%s\": ", i ? ", " : "", lib[i].name) ||
			    strbuf_add_json(&sb, lib[i].version, strlen(lib[i].version)))
				goto oom;
		if (strbuf_addstr(&sb, "},\n"))
			goto oom;
	}
	if (strbuf_addf(&sb, "  \"counts\": {\"files\": %zu, \"units\": %zu, "
			"\"bytes\": %llu, \"tokens\": %llu, \"terms\": %zu, "
			"\"terms_kept\": %zu, \"invalid_bytes\": %llu, "
			"\"long_tokens\": %llu, \"boilerplate_lines\": %llu, "
			"\"empty_units\": %llu},\n",
			ctx->files.n, ctx->units.n,
			(unsigned long long)ctx->rep.bytes,
			(unsigned long long)ctx->rep.tokens, ctx->vocab.tab.n,
			ctx->vocab.nkept,
			(unsigned long long)ctx->rep.invalid_bytes,
			(unsigned long long)ctx->rep.long_tokens,
			(unsigned long long)ctx->rep.boilerplate_lines,
			(unsigned long long)ctx->rep.empty_units))
		goto oom;
	if (write_previous(ctx, &sb))
		goto oom;
	{
		char tf[16], idf[16], norm[16];

		tfidf_weighting_names(cfg, tf, idf, norm);
		if (strbuf_addf(&sb, "  \"tfidf\": {\"tf\": \"%s\", \"idf\": \"%s\", "
				"\"norm\": \"%s\", \"matrix\": %s},\n", tf, idf, norm,
				tfidf_matrix_written(cfg) ? "true" : "false"))
			goto oom;
	}
	if (strbuf_addf(&sb, "  \"kmeans\": {\"k\": %u, \"metric\": \"%s\", "
			"\"objective\": %.17g, \"iterations\": %d, \"restart\": %d, "
			"\"converged\": %s, \"fit_seconds\": %.3f, "
			"\"iterations_all_restarts\": %d},\n  \"project\": "
			"{\"iterations\": %d, \"converged\": %s, \"warm\": %s},\n"
			"  \"seconds\": {",
			ctx->km.k,
			config_choice(CFG_kmeans_metric, cfg->v[CFG_kmeans_metric].i,
				      metric, sizeof(metric)),
			ctx->km.objective, ctx->km.iterations, ctx->km.restart,
			ctx->km.converged ? "true" : "false", ctx->km.seconds,
			ctx->km.all_iterations, ctx->rep.proj_iterations,
			ctx->rep.proj_converged ? "true" : "false",
			ctx->rep.proj_warm ? "true" : "false"))
		goto oom;
	for (int i = 0; stages[i]; i++)
		if (strbuf_addf(&sb, "\"%s\": %.3f, ", stages[i]->name,
				ctx->rep.seconds[i]))
			goto oom;
	if (strbuf_addf(&sb, "\"total\": %.3f},\n  \"wall_seconds\": {\"to_tfidf\": %.3f, "
			"\"total\": %.3f},\n  \"threads\": %ld\n}\n",
			pl_now() - ctx->rep.total_seconds, ctx->rep.wall_to_tfidf,
			pl_now() - ctx->rep.total_seconds, ctx->rep.threads))
		goto oom;
	rc = out_file(ctx, "run.json", sb.buf, sb.len, err);
	goto out;
oom:
	rc = pl_oom(err);
out:
	strbuf_release(&sb);
	strbuf_release(&conf);
	return rc;
}

/*
 * Loading the previous run's cache index (cache_load) on a thread of its
 * own, beside the listing of the corpus (read_list), which it does not
 * depend on: on the benchmark's rerun the 21 MB index took 0.15-0.18 s
 * on one core, and the walk and stat of 97,703 files 0.2-0.3 s on both.
 * (After the quick check below the listing is built from what its walk
 * kept, 0.03 s, and the load is most of this step: 0.11-0.14 s.)
 * Only cache_load's own results are written here; the listing goes into
 * ctx->files on the calling thread.
 */
struct loader {
	const char *set;
	const struct config *cfg;
	const char *text;
	struct cache *cache;
	char *why;
	struct pl_error err;
	int rc;
};

static void *load_main(void *arg)
{
	struct loader *ld = arg;

	ld->rc = cache_load(ld->set, ld->cfg, ld->text, &ld->cache, &ld->why,
			    &ld->err);
	return NULL;
}

int ctx_plan(struct ctx *ctx, int quick, char **why, struct pl_error *err)
{
	int incremental = ctx->cfg->v[CFG_output_incremental].i == 0;

	*why = NULL;
	ctx->outdir = ctx->cfg->v[CFG_output_dir].path;
	if (cache_hash_config(ctx, err))
		return -1;
	if (outdir_current(ctx->outdir, &ctx->cur_set, err))
		return -1;
	if (ctx->cur_set && incremental && quick) {
		int rc;

		/* Most scheduled runs find nothing new: the listing's digest
		 * alone decides that, without building the listing. */
		if (read_list_digest(ctx, err))
			return -1;
		rc = cache_key_matches(ctx, ctx->cur_set, err);
		if (rc < 0)
			return -1;
		if (rc) {
			if (ctx->verbose)
				fprintf(stderr, "pipeline: the corpus listing matches %s/cache.key\n",
					ctx->cur_set);
			ctx->plan.done = 1;
			ctx->plan.unchanged = 1;
			ctx->plan.same = ctx->files.n;
			return 0;
		}
		/* Something changed: the listing is next (read_list), built
		 * from what the walk kept, without a second one. */
	}
	if (ctx->cur_set && incremental) {
		struct loader ld = { ctx->cur_set, ctx->cfg,
				     ctx->config_text.buf ? ctx->config_text.buf : "",
				     NULL, NULL, { 0, "" }, 0 };
		pthread_t tid;
		int threaded = pthread_create(&tid, NULL, load_main, &ld) == 0, rc;

		/* The index loads on its own thread while the corpus is
		 * listed, on the [run] threads (see struct loader). */
		if (!threaded)
			load_main(&ld);
		rc = read_list(ctx, err);
		if (threaded)
			pthread_join(tid, NULL);
		ctx->cache = ld.cache;
		ctx->owns_cache = ctx->cache != NULL;
		*why = ld.why;
		if (ld.rc) {
			*err = ld.err; /* out of memory, reported first as before */
			return -1;
		}
		if (rc)
			return -1;
	}
	return read_plan(ctx, err);
}

int ctx_nothing_new(const struct ctx *ctx)
{
	const struct plan *p = &ctx->plan;

	if (p->unchanged)
		return 1;
	/* (gzip files read_plan would read again to learn their inflated
	 * length are no reason to run: the config is the same, max_file_mb
	 * too, so the previous run's verdict on them stands) */
	return ctx->cache && !p->fresh && !p->changed && !p->removed &&
	       !p->rebuild && ctx->config_hashed &&
	       ctx->cache->config_hash == ctx->config_hash[2];
}

/* Load the cache of the current set and compare the corpus with it. */
static int plan_run(struct ctx *ctx, struct pl_error *err)
{
	char *why = NULL;

	if (ctx_plan(ctx, 1, &why, err)) {
		pl_free(why);
		return -1;
	}
	if (why && !ctx->quiet)
		fprintf(stderr, "pipeline: the cache cannot be used: %s; "
			"reading every file\n", why);
	pl_free(ctx->plan.why);
	ctx->plan.why = why; /* for run.json and summary.md */
	return 0;
}

int ctx_run(struct ctx *ctx, struct pl_error *err)
{
	const struct plan *p = &ctx->plan;
	double written = 0; /* wall seconds of the counts stage */

	ctx->rep.total_seconds = pl_now();
	ctx->outdir = ctx->cfg->v[CFG_output_dir].path;
	/* Before the stages load the list files the config names. */
	if (cache_hash_config(ctx, err) || ctx_prepare(ctx, err))
		return -1;
	if (outdir_lock(ctx, err))
		return -1;
	if (plan_run(ctx, err))
		goto fail;
	if (ctx_nothing_new(ctx)) {
		outdir_ended(); /* it writes no report: a signal leaves none */
		outdir_tidy(ctx); /* a killed run's set, if any */
		if (!ctx->quiet)
			fprintf(stderr, "pipeline: nothing new since run %s (%zu files "
				"unchanged, same config): the outputs are left as they are\n",
				ctx_prev_id(ctx), p->same);
		return 0;
	}
	if (read_check_cache(ctx, err))
		goto fail;
	if (!ctx->quiet && ctx->cache && ctx->cache->stale)
		fprintf(stderr, "pipeline: since run %s: %zu new, %zu changed, %zu removed, "
			"%zu unchanged files; %s: reading every file again (term and "
			"cluster ids are kept)\n", ctx_prev_id(ctx), p->fresh, p->changed,
			p->removed, p->same, ctx->cache->stale);
	else if (!ctx->quiet && ctx->cache)
		fprintf(stderr, "pipeline: since run %s: %zu new, %zu changed, %zu removed, "
			"%zu unchanged files%s\n", ctx_prev_id(ctx), p->fresh, p->changed,
			p->removed, p->same,
			p->rebuild ? " (the cache is mostly stale: reading every file)" :
			p->reread ? " (reading unchanged gzip files again, once: the cache "
			"an older build made lacks their inflated length)" : "");
	if (outdir_begin(ctx, err))
		goto fail;
	for (int i = 0; stages[i]; i++) {
		double t0 = pl_now(), nested = 0;

		if (!stages[i]->run)
			continue;
		for (int j = i + 1; stages[j]; j++)
			nested += ctx->rep.seconds[j];
		ctx->stage = i;
		if (ctx->verbose)
			fprintf(stderr, "pipeline: %s\n", stages[i]->name);
		if (stages[i]->run(ctx, err))
			goto fail;
		/* The read stage runs the later stages' unit hooks; their
		 * time is theirs, not read's. */
		for (int j = i + 1; stages[j]; j++)
			nested -= ctx->rep.seconds[j];
		/* With threads the nested hooks' seconds are summed over the
		 * threads and can exceed the wall time. */
		if (pl_now() - t0 + nested > 0)
			ctx->rep.seconds[i] += pl_now() - t0 + nested;
		/* Writing counts.mtx.gz comes before TF-IDF (counts.c) but
		 * is not part of computing it. */
		if (stages[i] == &stage_counts)
			written = pl_now() - t0;
		if (stages[i] == &stage_frames)
			ctx_shed_text_maps(ctx);
		if (stages[i] == &stage_tfidf)
			ctx->rep.wall_to_tfidf -= written; /* set by the stage */
	}
	ctx->stage = -1;
	if (ctx->cfg->v[CFG_output_incremental].i == 0 ? cache_write_index(ctx, err) :
	    cache_write_sources(ctx, err))
		goto fail;
	/* While the projection's fit still runs: every file written so far
	 * is hashed for the manifest and synced to disk (on the benchmark's
	 * rerun the first fsync waited 0.064 s for the disk). */
	if (ctx->projector && outdir_settle(ctx, err))
		goto fail;
	/* Work a stage left running on its own thread (the projection,
	 * beside the summaries, the tables and the cache index). */
	for (int i = 0; stages[i]; i++) {
		if (!stages[i]->finish)
			continue;
		ctx->stage = i;
		if (stages[i]->finish(ctx, err))
			goto fail;
	}
	ctx->stage = -1;
	if (write_report(ctx, err) || outdir_publish(ctx, err))
		goto fail;
	return 0;
fail:
	ctx->stage = -1;
	outdir_record_failure(ctx, err);
	outdir_abandon(ctx);
	return -1;
}

void ctx_release(struct ctx *ctx)
{
	int n = 0;

	while (stages[n])
		n++;
	outdir_abandon(ctx);
	for (int i = n - 1; i >= 0; i--)
		if (stages[i]->release)
			stages[i]->release(ctx);
	if (ctx->owns_cache)
		cache_free(ctx->cache);
	pl_free(ctx->plan.why);
	ctx->plan.why = NULL;
	newcache_free(ctx->ncache); /* only the main ctx has one */
	strbuf_release(&ctx->config_text);
	ctx->config_hashed = 0;
	ctx->cache = NULL;
	ctx->ncache = NULL;
	outdir_release(ctx);
}
