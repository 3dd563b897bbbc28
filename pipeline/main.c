/* main.c -- the pipeline command: parse the command line, run a command
 *
 * Commands come from one table (name, function, usage, help), the way git
 * and bcftools list theirs.  Only this file exits: everything below returns
 * a status and a message, and main turns them into one line on stderr,
 * "pipeline: <place>: <problem>", and one documented exit code.
 */
#include "plot.h"
#include "run.h"
#include "cache.h"
#include "outdir.h"

#include <gsl/gsl_errno.h>
#include <libstemmer.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct options {
	int quiet, verbose;
	const char **overrides;   /* -c section.key=value, in order */
	size_t noverrides;
	const char *args[4];      /* positional arguments after the command */
	int nargs;
};

struct command {
	const char *name;
	int (*fn)(const struct options *o, struct pl_error *err);
	const char *usage;
	const char *help;
};

static int cmd_run(const struct options *o, struct pl_error *err);
static int cmd_check(const struct options *o, struct pl_error *err);
static int cmd_plot(const struct options *o, struct pl_error *err);
static int cmd_help(const struct options *o, struct pl_error *err);
static int cmd_status(const struct options *o, struct pl_error *err);
static int cmd_verify(const struct options *o, struct pl_error *err);
static int cmd_version(const struct options *o, struct pl_error *err);

static const struct command commands[] = {
	{ "run", cmd_run, "pipeline [-q|-v] [-c section.key=value]... run CONF",
	  "Read the corpus named in CONF, run every stage, and publish the outputs\n"
	  "(matrices, tables, summary.md, run.json) into [output] dir.  The outputs\n"
	  "appear all at once, only when the run succeeds.\n"
	  "Example: pipeline -c kmeans.k=6 run pipeline.conf" },
	{ "check", cmd_check, "pipeline [-c section.key=value]... check CONF",
	  "Validate CONF: every key and value, the stop-word, boilerplate, phrase\n"
	  "and frame lists, the stemmer language, and that the corpus folder can\n"
	  "be opened.  Reads no corpus file and writes nothing, so an empty corpus\n"
	  "or an output folder that cannot be created shows only in a run.\n"
	  "Prints 'CONF: ok' and exits 0, or the first error." },
	{ "plot", cmd_plot, "pipeline [-q] [-c section.key=value]... plot CONF",
	  "Draw PNG plots of the outputs a run left in CONF's [output] dir, with\n"
	  "gnuplot, into [output] dir/plots/: cluster_map.png (the statements on\n"
	  "the first two principal axes, by cluster), top_terms.png, frames_heatmap.png\n"
	  "and, after a k sweep, ksweep.png; beside each, the gnuplot script that\n"
	  "draws it.  Does not run the pipeline: exits 66 when the outputs are\n"
	  "missing (run first) or gnuplot is not installed (install gnuplot-nox).\n"
	  "Prints the path of each PNG drawn.\n"
	  "Example: pipeline run pipeline.conf && pipeline plot pipeline.conf" },
	{ "status", cmd_status, "pipeline [-v] [-c section.key=value]... status CONF",
	  "Say what `pipeline run CONF` would do now, without doing it: the files\n"
	  "that are new, changed or removed since the published run, whether the\n"
	  "config still lets the cache serve, and whether a run would change\n"
	  "anything.  With -v, one line per file that is new, changed or removed\n"
	  "(new, changed, removed, then a tab and the path).  Takes no lock and\n"
	  "writes nothing; hashes the files whose stat data cannot prove them\n"
	  "unchanged.  Exits 0, or as a run would for what stops it from\n"
	  "looking: 66 when the config, the corpus folder or a list file is\n"
	  "missing or the corpus is empty, 78 for a config error." },
	{ "verify", cmd_verify, "pipeline [-c section.key=value]... verify CONF",
	  "Check the published outputs in CONF's [output] dir against the sizes\n"
	  "and XXH3-128 hashes in their manifest.tsv, and that every top-level\n"
	  "name links to current/.  Prints one line per problem and a count.\n"
	  "Exits 0 when all is well, 65 when a file differs or is missing, 66\n"
	  "when nothing was published yet." },
	{ "help", cmd_help, "pipeline help [COMMAND|config|stem|exit]",
	  "Show help for a command, every config key with its default (config),\n"
	  "the stemmer languages (stem), or the exit codes (exit)." },
	{ "version", cmd_version, "pipeline version (or --version)",
	  "Print the version of pipeline and of the libraries it uses." },
	{ NULL, NULL, NULL, NULL },
};

static const char exit_codes[] =
	"Exit codes:\n"
	"   0  success\n"
	"  64  bad command line\n"
	"  65  the corpus cannot be analysed as asked (e.g. k larger than the\n"
	"      number of statements, a corrupt gzip file, a file over max_file_mb)\n"
	"  66  the config file, corpus folder or a list file is missing or unreadable\n"
	"  70  internal error (a bug: please report it)\n"
	"  71  out of memory, or of file descriptors (ulimit -n)\n"
	"  73  the output folder or a file in it cannot be created, backed up\n"
	"      or renamed into place\n"
	"  74  read or write error (a write, flush, fsync or close failed; a\n"
	"      cache file cut short or unreadable while the run had it mapped)\n"
	"  75  another run holds the output folder's lock: try again later\n"
	"  78  configuration error (the message names file, line and key)\n";

static void usage(FILE *fp)
{
	fprintf(fp, "usage: pipeline [-q|-v] [-c section.key=value]... COMMAND [CONF]\n\n"
		    "Commands:\n");
	for (const struct command *c = commands; c->name; c++)
		fprintf(fp, "  %-8s %s\n", c->name, c->usage);
	fprintf(fp, "\nOptions:\n"
		    "  -c section.key=value  override a key of CONF for this run (repeatable)\n"
		    "  -q                    no progress output\n"
		    "  -v                    name each stage as it runs\n"
		    "  -h, --help            this help\n"
		    "  --version             print the version\n"
		    "  --                    what follows is not an option (a CONF named -x.conf)\n\n"
		    "Quick start: pipeline run pipeline.conf\n");
}

static const struct command *find_command(const char *name)
{
	for (const struct command *c = commands; c->name; c++)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

/* Load CONF and the -c overrides into cfg and validate them.  0, or -1
 * with err filled and cfg already released (nothing for the caller to
 * free). */
static int load_config(const struct options *o, struct config *cfg,
		       struct pl_error *err)
{
	memset(cfg, 0, sizeof(*cfg));
	if (o->nargs != 1)
		return pl_fail(err, PL_EX_USAGE,
			       "expected one config file, e.g. pipeline run pipeline.conf");
	if (config_init(cfg, err) || config_load(cfg, o->args[0], err))
		goto fail;
	for (size_t i = 0; i < o->noverrides; i++)
		if (config_override(cfg, o->overrides[i], err))
			goto fail;
	if (config_validate(cfg, err) == 0)
		return 0;
fail:
	config_release(cfg);
	return -1;
}

static int cmd_run(const struct options *o, struct pl_error *err)
{
	struct config cfg;
	struct ctx ctx;
	int rc;

	if (load_config(o, &cfg, err))
		return -1;
	ctx_init(&ctx, &cfg);
	ctx.verbose = o->verbose;
	ctx.quiet = o->quiet;
	ctx.progress = !o->quiet && isatty(STDERR_FILENO);
	rc = outdir_watch(&ctx, err);
	if (rc == 0)
		rc = ctx_run(&ctx, err);
	outdir_unwatch();
	if (rc == 0 && !o->quiet && !ctx_nothing_new(&ctx))
		/* The last word of a run at a terminal, or in a log: where
		 * its results are. */
		fprintf(stderr, "pipeline: published run %s: %zu statements from %zu "
			"files, %u cluster%s; start with %s/summary.md\n", ctx.run_id,
			ctx.units.n, ctx.files.n, ctx.km.k, ctx.km.k == 1 ? "" : "s",
			ctx.outdir);
	ctx_release(&ctx);
	config_release(&cfg);
	return rc;
}

static int cmd_check(const struct options *o, struct pl_error *err)
{
	struct config cfg;
	struct ctx ctx;
	int rc;

	if (load_config(o, &cfg, err))
		return -1;
	ctx_init(&ctx, &cfg);
	rc = ctx_prepare(&ctx, err);
	if (rc == 0 && access(cfg.v[CFG_corpus_dir].path, R_OK | X_OK) != 0)
		rc = pl_fail(err, PL_EX_NOINPUT,
			     "%s: cannot open the corpus folder (set [corpus] dir)",
			     cfg.v[CFG_corpus_dir].path);
	if (rc == 0)
		printf("%s: ok\n", o->args[0]);
	ctx_release(&ctx);
	config_release(&cfg);
	return rc;
}

static int cmd_plot(const struct options *o, struct pl_error *err)
{
	struct config cfg;
	int rc;

	if (load_config(o, &cfg, err))
		return -1;
	rc = plot_render(cfg.v[CFG_output_dir].path, o->args[0], o->quiet, err);
	config_release(&cfg);
	return rc;
}

static int cmd_status(const struct options *o, struct pl_error *err)
{
	struct config cfg;
	struct ctx ctx;
	const struct plan *p = &ctx.plan;
	char *why = NULL;
	int rc;

	if (load_config(o, &cfg, err))
		return -1;
	ctx_init(&ctx, &cfg);
	ctx.quiet = 1; /* status says it below */
	int keyed = 0;

	/* As a run does first: a list file that is missing or unreadable,
	 * or a bad stemmer language, is the error a run would stop on. */
	rc = ctx_prepare(&ctx, err);
	if (rc == 0)
		rc = ctx_plan(&ctx, 0, &why, err);
	/* A run first compares the listing with cache.key (ctx_plan's quick
	 * path) and, when they match, stops there without reading the
	 * index: status, which builds the whole listing for -v, asks the
	 * key too, so that it says what a run would do even when the index
	 * is damaged and the key is not. */
	if (rc == 0 && ctx.cur_set && cfg.v[CFG_output_incremental].i == 0 &&
	    (keyed = cache_key_matches(&ctx, ctx.cur_set, err)) < 0)
		rc = -1;
	if (rc == 0 && !keyed && !ctx_nothing_new(&ctx))
		rc = read_check_cache(&ctx, err);
	if (rc == 0) {
		const struct cache *c = ctx.cache;
		size_t toread = p->fresh + p->changed + (p->rebuild ? p->same : p->reread);

		printf("output: %s\n", cfg.v[CFG_output_dir].path);
		if (!ctx_prev_id(&ctx))
			printf("published: nothing yet\n");
		else if (access(ctx.cur_set, F_OK) != 0)
			/* current names a set that is gone: verify fails (66),
			 * and a run reads every file and publishes a new set. */
			printf("published: run %s, but its set %s is missing: %s\n",
			       ctx_prev_id(&ctx), ctx.cur_set, strerror(errno));
		else
			printf("published: run %s\n", ctx_prev_id(&ctx));
		if (why)
			printf("cache: cannot serve: %s\n", why);
		else if (c && c->stale)
			printf("cache: %s: a run reads every file again, keeping the "
			       "term and cluster ids\n", c->stale);
		else if (!c)
			printf("cache: none%s\n", cfg.v[CFG_output_incremental].i ?
			       " ([output] incremental = no)" : "");
		else
			printf("cache: usable; %s%s\n", c->config_hash ==
			       ctx.config_hash[2] ? "config unchanged" :
			       "config changed, not in a way that changes the counts",
			       p->rebuild && !ctx_nothing_new(&ctx) ?
			       "; but mostly stale: a run reads every file again, "
			       "to write it compact" : "");
		if (p->reread && !ctx_nothing_new(&ctx))
			printf("cache: made by an older build, it lacks the inflated length of "
			       "%zu gzip file%s: a run reads %s again, once\n", p->reread,
			       p->reread == 1 ? "" : "s", p->reread == 1 ? "it" : "them");
		if (keyed && !c)
			/* The key matched, the index cannot say file by file:
			 * a run changes nothing now, and the first one that
			 * finds a change reads every file. */
			printf("files: %zu unchanged, by cache.key (cache.idx cannot "
			       "list them file by file)\n", ctx.files.n);
		else
			printf("files: %zu new, %zu changed, %zu removed, %zu unchanged\n",
			       p->fresh, p->changed, p->removed, p->same);
		if (keyed)
			printf("a run now would: change nothing (the corpus listing "
			       "matches cache.key)\n");
		else if (ctx_nothing_new(&ctx))
			printf("a run now would: change nothing\n");
		else
			printf("a run now would: read %zu of %zu files and publish a new set\n",
			       toread, ctx.files.n);
		if (o->verbose) {
			uint8_t *seen = c ? pl_calloc(c->nfiles + 1, 1) : NULL;

			for (size_t i = 0; i < ctx.files.n; i++) {
				const struct fileinfo *fi = &ctx.files.info[i];

				if (seen && fi->old != CACHE_NONE)
					seen[fi->old] = 1;
				if (c && fi->old == CACHE_NONE)
					printf("new\t%s\n", ctx.files.rel[i]);
				else if (c && (memcmp(fi->hash, c->files[fi->old].hash, 16) != 0 ||
					       fi->size != c->files[fi->old].size))
					/* (not "not cached": a run that reads every
					 * file again, or a gzip file to learn its
					 * length, has unchanged files it reads) */
					printf("changed\t%s\n", ctx.files.rel[i]);
			}
			for (size_t j = 0; seen && j < c->nfiles; j++)
				if (!seen[j])
					printf("removed\t%s\n", c->files[j].rel);
			pl_free(seen);
		}
	}
	pl_free(why);
	ctx_release(&ctx);
	config_release(&cfg);
	return rc;
}

static int cmd_verify(const struct options *o, struct pl_error *err)
{
	struct config cfg;
	size_t bad = 0;
	int rc;

	if (load_config(o, &cfg, err))
		return -1;
	rc = outdir_verify(cfg.v[CFG_output_dir].path, stdout, &bad, err);
	if (rc == 0 && bad)
		rc = pl_fail(err, PL_EX_DATAERR, "%s: %zu problem%s with the published outputs",
			     cfg.v[CFG_output_dir].path, bad, bad == 1 ? "" : "s");
	config_release(&cfg);
	return rc;
}

static void help_config(void)
{
	const char *section = "";

	printf("Config keys (pipeline.conf documents each one):\n");
	for (int id = 0; id < CFG_NKEYS; id++) {
		const struct cfg_key *k = &cfg_keys[id];

		if (strcmp(section, k->section)) {
			section = k->section;
			printf("\n[%s]\n", section);
		}
		printf("  %-13s %s [%s]\n", k->name, k->help,
		       k->def[0] ? k->def : "none");
		if (k->type == CFG_ENUM)
			printf("  %-13s one of: %s\n", "", k->choices);
	}
	printf("\n[phrases]  name = form, form, ...   (joined into one term)\n"
	       "[frames]   name = entry, entry, ...  (a lexicon counted per statement)\n");
}

static int cmd_help(const struct options *o, struct pl_error *err)
{
	const struct command *c;

	if (o->nargs == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(o->args[0], "config") == 0) {
		help_config();
		return 0;
	}
	if (strcmp(o->args[0], "stem") == 0) {
		const char **l = sb_stemmer_list();

		printf("[stem] language is one of:\n");
		for (size_t i = 0; l[i]; i++)
			printf("  %s\n", l[i]);
		printf("  none (no stemming)\n");
		return 0;
	}
	if (strcmp(o->args[0], "exit") == 0) {
		fputs(exit_codes, stdout);
		return 0;
	}
	c = find_command(o->args[0]);
	if (!c)
		return pl_fail(err, PL_EX_USAGE,
			       "help: no command or topic '%s'; try pipeline help",
			       o->args[0]);
	printf("usage: %s\n\n%s\n", c->usage, c->help);
	if (c->fn == cmd_run || c->fn == cmd_check)
		printf("\n%s", exit_codes);
	return 0;
}

static int cmd_version(const struct options *o, struct pl_error *err)
{
	struct pl_library lib[PL_NLIBS];
	size_t n = pipeline_libraries(lib);

	(void)o;
	(void)err;
	printf("pipeline %s\n", PIPELINE_VERSION);
	for (size_t i = 0; i < n; i++)
		printf("  %s %s\n", lib[i].name, lib[i].version);
	return 0;
}

/*
 * What a run unattended needs from the process it is started in:
 *  - descriptors 0, 1 and 2 open.  Started with one closed (cron and
 *    shells can do that: `2>&-`), the next open() would get it, and the
 *    lock file opened as descriptor 2 would take every message written
 *    to stderr in place of its pid.  A closed one is opened on /dev/null.
 *  - SIGPIPE and SIGXFSZ ignored.  A run whose stderr is a pipe that
 *    closed (`pipeline run conf 2>&1 | head -1`) would be killed by its
 *    next message, before it publishes, and one over `ulimit -f` at its
 *    next write, with no message.  Ignored, the write fails with EPIPE or
 *    EFBIG instead: a message that cannot be shown is lost, the run goes
 *    on, and a file that cannot be written fails the run with 74, naming
 *    it, as any write error does.  (gnuplot's child gets the defaults
 *    back, plot.c.)
 *  - SIGBUS on a mapped cache file: a message and exit 74 (util.h,
 *    pl_map_guard).
 * 0, or -1 when a descriptor cannot be opened or a signal's action cannot
 * be set (nothing to report it on, or nothing safe to run with).
 */
static int sane_process(void)
{
	struct sigaction sa;

	for (int fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		int nfd = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);

		if (nfd < 0)
			return -1;
		if (nfd != fd) {
			/* a lower one was closed too, and is open now */
			if (dup2(nfd, fd) < 0)
				return -1;
			close(nfd);
		}
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGPIPE, &sa, NULL) || sigaction(SIGXFSZ, &sa, NULL))
		return -1;
	return pl_map_guard_install();
}

/* What a command printed on stdout (status, verify, help) must have
 * reached it: a full disk or a broken pipe is an error (74), not an exit
 * 0 with the report lost.  (A stdout closed at the start is /dev/null by
 * then, as sane_process says: output thrown away on purpose.) */
static int flush_stdout(struct pl_error *err)
{
	if (fflush(stdout) != 0)
		return pl_fail(err, PL_EX_IOERR, "standard output: %s", strerror(errno));
	if (ferror(stdout))
		return pl_fail(err, PL_EX_IOERR, "standard output: a write failed");
	return 0;
}

int main(int argc, char **argv)
{
	struct options o;
	struct pl_error err = { 0, "" };
	const struct command *cmd = NULL;
	const char *name = NULL;
	int rc;

	memset(&o, 0, sizeof(o));
	if (sane_process())
		return PL_EX_OSERR;
	gsl_set_error_handler_off();
	/* Arrays of a megabyte or more get their own mappings, which free()
	 * gives back to the system at once.  glibc's default threshold rises
	 * to the size of each mapping freed (up to 32 MiB), after which such
	 * arrays come from the heap and stay resident when freed: the
	 * matrices and k-means' k x terms arrays then add up in the peak. */
	mallopt(M_MMAP_THRESHOLD, 1 << 20);
	o.overrides = calloc((size_t)argc, sizeof(*o.overrides));
	if (!o.overrides) {
		fprintf(stderr, "pipeline: out of memory\n");
		return PL_EX_OSERR;
	}
	for (int i = 1, opts = 1; i < argc; i++) {
		const char *a = argv[i];

		if (opts && strcmp(a, "--") == 0) {
			/* The rest are words, not options: a config -x.conf. */
			opts = 0;
		} else if (!opts || a[0] != '-' || !a[1]) {
			if (!name) {
				name = a;
			} else if (o.nargs < 4) {
				o.args[o.nargs++] = a;
			} else {
				fprintf(stderr, "pipeline: too many arguments\n");
				free(o.overrides);
				return PL_EX_USAGE;
			}
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			free(o.overrides);
			if (flush_stdout(&err)) {
				fprintf(stderr, "pipeline: %s\n", err.msg);
				return err.code;
			}
			return 0;
		} else if (strcmp(a, "--version") == 0) {
			name = "version";
		} else if (strcmp(a, "-q") == 0) {
			o.quiet = 1;
		} else if (strcmp(a, "-v") == 0) {
			o.verbose = 1;
		} else if (strcmp(a, "-c") == 0 || strncmp(a, "-c", 2) == 0) {
			const char *v = a[2] ? a + 2 : (i + 1 < argc ? argv[++i] : NULL);

			if (!v) {
				fprintf(stderr, "pipeline: -c needs section.key=value\n");
				usage(stderr);
				free(o.overrides);
				return PL_EX_USAGE;
			}
			o.overrides[o.noverrides++] = v;
		} else {
			fprintf(stderr, "pipeline: unknown option '%s'\n", a);
			usage(stderr);
			free(o.overrides);
			return PL_EX_USAGE;
		}
	}
	if (!name) {
		usage(stderr);
		free(o.overrides);
		return PL_EX_USAGE;
	}
	cmd = find_command(name);
	if (!cmd) {
		fprintf(stderr, "pipeline: '%s' is not a command; see pipeline help\n",
			name);
		free(o.overrides);
		return PL_EX_USAGE;
	}
	rc = cmd->fn(&o, &err);
	free(o.overrides);
	if (rc == 0)
		rc = flush_stdout(&err);
	if (rc == 0)
		return 0;
	fprintf(stderr, "pipeline: %s\n", err.msg);
	if (err.code == PL_EX_USAGE)
		fprintf(stderr, "usage: %s\n", cmd->usage);
	return err.code ? err.code : PL_EX_SOFTWARE;
}
