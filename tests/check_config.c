/* check_config.c -- tests of config_load, config_override, config_validate
 *
 * One table of config files, each beside the exit code and the message it
 * must produce: the place ("FILE:LINE: ") and substrings a user relies on
 * to fix the file.  Files that load are checked through config_dump(), the
 * canonical "section.key = value" text, so the table also says what each
 * file means.  Then -c overrides (a second table), relative paths, the
 * cross-key checks, and the shipped pipeline.conf: it loads, and it
 * documents every key of config.def with its default.
 *
 * To debug one case: CK_RUN_SUITE=config CK_RUN_CASE=files CK_FORK=no; the
 * failure message names the table row.
 */
#include "lib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Long lines, built from literals so the table can hold them. */
#define X5 "xxxxx"
#define X10 X5 X5
#define X50 X10 X10 X10 X10 X10
#define X100 X50 X50
/* "f = " (4 bytes) plus 195 x: a line of exactly 199 bytes. */
#define LINE199 "f = " X100 X50 X10 X10 X10 X10 X5

struct file_case {
	const char *name;
	const char *text;    /* the config file, byte for byte */
	int code;            /* expected error code; 0: loads */
	int line;            /* the message starts with "FILE:line: "; 0: none */
	const char *msg[3];  /* substrings of the message */
	const char *dump;    /* when it loads: a substring of config_dump() */
};

static const struct file_case file_cases[] = {
	{ "valid minimal file", "[kmeans]\nk = 6\n", 0, 0, { NULL },
	  "kmeans.k = 6\n" },
	{ "keys not set keep their defaults", "[kmeans]\nk = 6\n", 0, 0, { NULL },
	  "kmeans.restarts = 10\n" },
	{ "comments and an inline comment",
	  "# hash\n; semicolon\n[kmeans]\n# inside\nk = 6 ; six clusters\n", 0, 0,
	  { NULL }, "kmeans.k = 6\n" },
	{ "empty file: all defaults", "", 0, 0, { NULL },
	  "kmeans.k = 4\nkmeans.init = kmeans++\n" },
	{ "BOM at the start of the file", "\xEF\xBB\xBF[kmeans]\nk = 6\n", 0, 0,
	  { NULL }, "kmeans.k = 6\n" },
	{ "CRLF line ends", "[kmeans]\r\nk = 6\r\n\r\nmetric = euclidean\r\n", 0, 0,
	  { NULL }, "kmeans.k = 6\nkmeans.init = kmeans++\nkmeans.restarts = 10\n"
	  "kmeans.max_iter = 100\nkmeans.tol = 1e-6\nkmeans.seed = 1\n"
	  "kmeans.metric = euclidean\n" },
	{ "unknown section (named at its header)",
	  "[kmeans]\nk = 6\n[kmean]\nk = 2\n", PL_EX_CONFIG, 3,
	  { "unknown section [kmean]", "the sections are corpus," }, NULL },
	{ "unknown section with no keys", "[kmeans]\nk = 6\n[nosuch]\n",
	  PL_EX_CONFIG, 3, { "unknown section [nosuch]" }, NULL },
	{ "indented first entry has nothing to continue",
	  "[frames]\n    f = spy, mole\n", PL_EX_CONFIG, 2,
	  { "indented line with no entry before it" }, NULL },
	{ "unknown key with a hint", "[kmeans]\nrestart = 5\n", PL_EX_CONFIG, 2,
	  { "unknown key 'restart' in [kmeans]", "did you mean 'restarts'?" }, NULL },
	{ "unknown key without a hint", "[output]\ncolour = red\n", PL_EX_CONFIG, 2,
	  { "unknown key 'colour' in [output]", "pipeline help config" }, NULL },
	{ "key of another section", "[kmeans]\ntop_terms = 5\n", PL_EX_CONFIG, 2,
	  { "unknown key 'top_terms' in [kmeans]" }, NULL },
	{ "duplicate key names both lines", "[kmeans]\nk = 2\nseed = 3\nk = 3\n",
	  PL_EX_CONFIG, 4, { "duplicate key 'k' in [kmeans]", "line 2" }, NULL },
	{ "duplicate frame", "[frames]\nf = spy\nf = mole\n", PL_EX_CONFIG, 3,
	  { "duplicate entry 'f' in [frames]" }, NULL },
	{ "k = abc", "[kmeans]\nk = abc\n", PL_EX_CONFIG, 2,
	  { "[kmeans] k: 'abc' is not a whole number from 1 to 100000" }, NULL },
	{ "k = 0", "[kmeans]\nk = 0\n", PL_EX_CONFIG, 2,
	  { "[kmeans] k: '0' is not a whole number from 1" }, NULL },
	{ "k = 1.5", "[kmeans]\nk = 1.5\n", PL_EX_CONFIG, 2,
	  { "[kmeans] k: '1.5' is not a whole number" }, NULL },
	{ "k = 6x", "[kmeans]\nk = 6x\n", PL_EX_CONFIG, 2,
	  { "[kmeans] k: '6x' is not a whole number" }, NULL },
	{ "k empty", "[kmeans]\nk =\n", PL_EX_CONFIG, 2,
	  { "[kmeans] k: '' is not a whole number" }, NULL },
	{ "k overflows long", "[kmeans]\nk = 99999999999999999999999\n",
	  PL_EX_CONFIG, 2, { "[kmeans] k: '99999999999999999999999'" }, NULL },
	{ "tol = x", "[kmeans]\ntol = x\n", PL_EX_CONFIG, 2,
	  { "[kmeans] tol: 'x' is not a number from 0 to 1" }, NULL },
	{ "tol = nan", "[kmeans]\ntol = nan\n", PL_EX_CONFIG, 2,
	  { "[kmeans] tol: 'nan' is not a number" }, NULL },
	{ "max_df = 1.5", "[vocabulary]\nmax_df = 1.5\n", PL_EX_CONFIG, 2,
	  { "[vocabulary] max_df: '1.5' is not a number from" }, NULL },
	{ "max_df = 0", "[vocabulary]\nmax_df = 0\n", PL_EX_CONFIG, 2,
	  { "[vocabulary] max_df: '0' is not a number from" }, NULL },
	{ "max_df = 0.5 loads", "[vocabulary]\nmax_df = 0.5\n", 0, 0, { NULL },
	  "vocabulary.max_df = 0.5\n" },
	{ "min_df = -1", "[vocabulary]\nmin_df = -1\n", PL_EX_CONFIG, 2,
	  { "[vocabulary] min_df: '-1' is not a whole number from 1" }, NULL },
	{ "seed at its maximum", "[kmeans]\nseed = 4294967295\n", 0, 0, { NULL },
	  "kmeans.seed = 4294967295\n" },
	{ "seed above its maximum", "[kmeans]\nseed = 4294967296\n", PL_EX_CONFIG,
	  2, { "[kmeans] seed: '4294967296'" }, NULL },
	{ "enum typo lists the choices", "[kmeans]\nmetric = cosin\n", PL_EX_CONFIG,
	  2, { "[kmeans] metric: 'cosin' is not one of: cosine, euclidean" }, NULL },
	{ "enum is case sensitive", "[tfidf]\nnorm = L2\n", PL_EX_CONFIG, 2,
	  { "[tfidf] norm: 'L2' is not one of: l2, l1, none" }, NULL },
	{ "ngram range loads", "[phrases]\nngram = 1..2\n", 0, 0, { NULL },
	  "phrases.ngram = 1..2\n" },
	{ "ngram runs backwards", "[phrases]\nngram = 3..1\n", PL_EX_CONFIG, 2,
	  { "[phrases] ngram: range '3..1' runs backwards; write 1..3" }, NULL },
	{ "ngram out of range", "[phrases]\nngram = 1..4\n", PL_EX_CONFIG, 2,
	  { "[phrases] ngram: '1..4' is not a whole number from 1 to 3, or a range N..M", "from 1 to 3" }, NULL },
	{ "ngram 0", "[phrases]\nngram = 0\n", PL_EX_CONFIG, 2,
	  { "[phrases] ngram: '0' is not a whole number from 1 to 3, or a range N..M" }, NULL },
	{ "ngram open range", "[phrases]\nngram = 1..\n", PL_EX_CONFIG, 2,
	  { "[phrases] ngram: '1..' is not a whole number from 1 to 3, or a range N..M" }, NULL },
	{ "key before any section", "k = 6\n[kmeans]\n", PL_EX_CONFIG, 1,
	  { "key 'k' before any [section]" }, NULL },
	{ "line without '='", "[kmeans]\nk = 6\nrestarts 5\n", PL_EX_CONFIG, 3,
	  { "syntax error" }, NULL },
	{ "unclosed section header", "[kmeans\nk = 6\n", PL_EX_CONFIG, 1,
	  { "syntax error" }, NULL },
	{ "the first error is the one reported",
	  "[kmeans]\nk 6\nbogus = 1\n", PL_EX_CONFIG, 2, { "syntax error" }, NULL },
	{ "a 199-byte line loads", "[frames]\n" LINE199 "\n", 0, 0, { NULL },
	  "frames.f = " X100 },
	{ "a 200-byte line is too long", "[frames]\n" LINE199 "x\n", PL_EX_CONFIG, 2,
	  { "line longer than 199 bytes", "continuation lines" }, NULL },
	{ "a 250-byte line is too long", "[frames]\n" LINE199 X50 "y\n",
	  PL_EX_CONFIG, 2, { "line longer than 199 bytes", "continuation lines" },
	  NULL },
	{ "continuation lines join a [frames] list",
	  "[frames]\nf = spy, mole\n    wiretap\n\tsecret thief, monitor\ng = hypocrisy\n",
	  0, 0, { NULL },
	  "frames.f = spy, mole, wiretap, secret thief, monitor\nframes.g = hypocrisy\n" },
	{ "continuation lines join a [phrases] list",
	  "[phrases]\nbackdoor = backdoor\n    back door\n", 0, 0, { NULL },
	  "phrases.backdoor = backdoor, back door\n" },
	{ "CRLF continuation lines", "[frames]\r\nf = spy\r\n    mole\r\n", 0, 0,
	  { NULL }, "frames.f = spy, mole\n" },
	{ "a line ending in a comma, then a continuation: one comma",
	  "[frames]\nf = spy, mole,\n    wiretap,\n    thief\n", 0, 0, { NULL },
	  "frames.f = spy, mole, wiretap, thief\n" },
	{ "continuation under a scalar key", "[kmeans]\nk = 4\n    5\n",
	  PL_EX_CONFIG, 3, { "[kmeans] k: indented continuation line" }, NULL },
	{ "indented key after a scalar key", "[kmeans]\nk = 4\n  seed = 5\n",
	  PL_EX_CONFIG, 3, { "indented continuation line" }, NULL },
};

static char *tmp;

static void tmp_setup(void)
{
	tmp = test_tmpdir();
}

static void tmp_teardown(void)
{
	test_rmtree(tmp);
	free(tmp);
	tmp = NULL;
}

/* The message must begin with "path:line: ". */
static void assert_place(const struct pl_error *err, const char *path, int line,
			 const char *label)
{
	char prefix[4200];

	snprintf(prefix, sizeof(prefix), "%s:%d: ", path, line);
	ck_assert_msg(strncmp(err->msg, prefix, strlen(prefix)) == 0,
		      "%s: message '%s' does not start with '%s'", label, err->msg,
		      prefix);
}

static void assert_dump_has(const struct config *cfg, const char *want,
			    const char *label)
{
	struct strbuf sb = STRBUF_INIT;

	ck_assert_int_eq(config_dump(cfg, &sb), 0);
	ck_assert_msg(sb.buf && strstr(sb.buf, want),
		      "%s: config_dump lacks '%s' in:\n%s", label, want,
		      sb.buf ? sb.buf : "");
	strbuf_release(&sb);
}

START_TEST(files)
{
	const struct file_case *c = &file_cases[_i];
	struct pl_error err = { 0, "" };
	struct config cfg;
	char path[4200];
	int rc;

	snprintf(path, sizeof(path), "%s/p.conf", tmp);
	test_write(tmp, "p.conf", c->text);
	ck_assert_int_eq(config_init(&cfg, &err), 0);
	rc = config_load(&cfg, path, &err);
	if (c->code == 0) {
		ck_assert_msg(rc == 0, "%s: rejected: %s", c->name, err.msg);
		assert_dump_has(&cfg, c->dump, c->name);
	} else {
		ck_assert_msg(rc == -1, "%s: loaded, expected exit %d", c->name,
			      c->code);
		ck_assert_msg(err.code == c->code, "%s: exit %d, expected %d (%s)",
			      c->name, err.code, c->code, err.msg);
		if (c->line)
			assert_place(&err, path, c->line, c->name);
		for (int i = 0; i < 3 && c->msg[i]; i++)
			ck_assert_msg(strstr(err.msg, c->msg[i]),
				      "%s: message '%s' lacks '%s'", c->name,
				      err.msg, c->msg[i]);
	}
	config_release(&cfg);
}
END_TEST

/* An indented entry right after [frames] continues nothing; it must not be
 * glued to an entry that does not exist.  Either reading is acceptable: the
 * entry itself, or a message naming the line. */
START_TEST(indented_first_entry)
{
	struct pl_error err = { 0, "" };
	struct config cfg;
	char path[4200];

	snprintf(path, sizeof(path), "%s/p.conf", tmp);
	test_write(tmp, "p.conf", "[frames]\n    f = spy, mole\n");
	ck_assert_int_eq(config_init(&cfg, &err), 0);
	if (config_load(&cfg, path, &err) == 0) {
		ck_assert_uint_eq(cfg.frames.n, 1);
		ck_assert_str_eq(cfg.frames.v[0].name, "f");
		ck_assert_str_eq(cfg.frames.v[0].value, "spy, mole");
	} else {
		ck_assert_int_eq(err.code, PL_EX_CONFIG);
		assert_place(&err, path, 2, "indented first entry");
	}
	config_release(&cfg);
}
END_TEST

/* Where a value was set, as the messages of later stages report it. */
START_TEST(where)
{
	struct pl_error err = { 0, "" };
	struct config cfg;
	char path[4200], buf[4300], want[4300];

	snprintf(path, sizeof(path), "%s/p.conf", tmp);
	test_write(tmp, "p.conf", "[kmeans]\n\nk = 6\n");
	ck_assert_int_eq(config_init(&cfg, &err), 0);
	ck_assert_int_eq(config_load(&cfg, path, &err), 0);
	ck_assert_int_eq(config_override(&cfg, "kmeans.seed=9", &err), 0);
	snprintf(want, sizeof(want), "%s:3", path);
	ck_assert_str_eq(config_where(&cfg, CFG_kmeans_k, buf, sizeof(buf)), want);
	ck_assert_int_eq(cfg.v[CFG_kmeans_k].line, 3);
	ck_assert_str_eq(config_where(&cfg, CFG_kmeans_seed, buf, sizeof(buf)),
			 "-c kmeans.seed");
	ck_assert_int_eq(cfg.v[CFG_kmeans_seed].i, 9);
	ck_assert_int_eq(cfg.v[CFG_kmeans_restarts].line, 0);
	config_release(&cfg);
}
END_TEST

START_TEST(missing_file)
{
	struct pl_error err = { 0, "" };
	struct config cfg;
	char path[4200];

	snprintf(path, sizeof(path), "%s/nope.conf", tmp);
	ck_assert_int_eq(config_init(&cfg, &err), 0);
	ck_assert_int_eq(config_load(&cfg, path, &err), -1);
	ck_assert_int_eq(err.code, PL_EX_NOINPUT);
	ck_assert_msg(strstr(err.msg, path) && strstr(err.msg, "cannot read"),
		      "message '%s'", err.msg);
	config_release(&cfg);
}
END_TEST

/* Relative paths in the file start from the file's folder, and so do the
 * defaults; absolute paths stay; -c paths start from the current folder. */
START_TEST(relative_paths)
{
	struct pl_error err = { 0, "" };
	struct config cfg;
	char path[4200], want[4300];

	test_write(tmp, "d/p.conf",
		   "[corpus]\ndir = x\nboilerplate = lists/bp.regex\n"
		   "[output]\ndir = /abs/out\n");
	snprintf(path, sizeof(path), "%s/d/p.conf", tmp);
	ck_assert_int_eq(config_init(&cfg, &err), 0);
	ck_assert_msg(config_load(&cfg, path, &err) == 0, "%s", err.msg);
	snprintf(want, sizeof(want), "%s/d/x", tmp);
	ck_assert_str_eq(cfg.v[CFG_corpus_dir].path, want);
	ck_assert_str_eq(cfg.v[CFG_corpus_dir].text, "x");
	snprintf(want, sizeof(want), "%s/d/lists/bp.regex", tmp);
	ck_assert_str_eq(cfg.v[CFG_corpus_boilerplate].path, want);
	ck_assert_str_eq(cfg.v[CFG_output_dir].path, "/abs/out");
	ck_assert_int_eq(config_override(&cfg, "output.dir=rel/out", &err), 0);
	ck_assert_str_eq(cfg.v[CFG_output_dir].path, "rel/out");
	config_release(&cfg);

	/* A default path ("output") is taken from the config's folder too;
	 * an empty boilerplate means none. */
	test_write(tmp, "d/q.conf", "[kmeans]\nk = 2\n");
	snprintf(path, sizeof(path), "%s/d/q.conf", tmp);
	ck_assert_int_eq(config_init(&cfg, &err), 0);
	ck_assert_msg(config_load(&cfg, path, &err) == 0, "%s", err.msg);
	snprintf(want, sizeof(want), "%s/d/output", tmp);
	ck_assert_str_eq(cfg.v[CFG_output_dir].path, want);
	snprintf(want, sizeof(want), "%s/d/corpus", tmp);
	ck_assert_str_eq(cfg.v[CFG_corpus_dir].path, want);
	ck_assert_ptr_null(cfg.v[CFG_corpus_boilerplate].path);
	config_release(&cfg);
}
END_TEST

struct override_case {
	const char *assignment;
	int code;            /* 0: accepted */
	const char *msg[2];  /* substrings of the message */
	const char *dump;    /* when accepted: a substring of config_dump() */
};

static const struct override_case override_cases[] = {
	{ "kmeans.k=6", 0, { NULL }, "kmeans.k = 6\n" },
	{ "phrases.ngram=1..3", 0, { NULL }, "phrases.ngram = 1..3\n" },
	{ "frames.spying=spy, mole", 0, { NULL }, "frames.spying = spy, mole\n" },
	{ "kmeans.kk=6", PL_EX_CONFIG,
	  { "-c kmeans.kk=6: unknown key 'kk' in [kmeans]", "did you mean 'k'?" },
	  NULL },
	{ "nosuch.k=1", PL_EX_CONFIG, { "-c nosuch.k=1: unknown section [nosuch]" },
	  NULL },
	{ "kmeans.k=abc", PL_EX_CONFIG,
	  { "-c kmeans.k=abc: [kmeans] k: 'abc' is not a whole number" }, NULL },
	{ "kmeans.metric=manhattan", PL_EX_CONFIG,
	  { "'manhattan' is not one of: cosine, euclidean" }, NULL },
	{ "kmeans", PL_EX_USAGE, { "-c 'kmeans': expected section.key=value" },
	  NULL },
	{ "kmeans.k", PL_EX_USAGE, { "expected section.key=value" }, NULL },
	{ "k=6", PL_EX_USAGE, { "expected section.key=value" }, NULL },
	{ ".k=6", PL_EX_USAGE, { "expected section.key=value" }, NULL },
	{ "kmeans.=6", PL_EX_USAGE, { "expected section.key=value" }, NULL },
};

START_TEST(overrides)
{
	const struct override_case *c = &override_cases[_i];
	struct pl_error err = { 0, "" };
	struct config cfg;
	int rc;

	ck_assert_int_eq(config_init(&cfg, &err), 0);
	rc = config_override(&cfg, c->assignment, &err);
	if (c->code == 0) {
		ck_assert_msg(rc == 0, "-c %s: rejected: %s", c->assignment, err.msg);
		assert_dump_has(&cfg, c->dump, c->assignment);
	} else {
		ck_assert_msg(rc == -1, "-c %s: accepted", c->assignment);
		ck_assert_msg(err.code == c->code, "-c %s: exit %d, expected %d (%s)",
			      c->assignment, err.code, c->code, err.msg);
		for (int i = 0; i < 2 && c->msg[i]; i++)
			ck_assert_msg(strstr(err.msg, c->msg[i]),
				      "-c %s: message '%s' lacks '%s'", c->assignment,
				      err.msg, c->msg[i]);
	}
	config_release(&cfg);
}
END_TEST

/* An override replaces what the file set, and a frame given with -c
 * replaces the file's frame of that name instead of being a duplicate. */
START_TEST(override_after_file)
{
	struct pl_error err = { 0, "" };
	struct config cfg;
	char path[4200];

	snprintf(path, sizeof(path), "%s/p.conf", tmp);
	test_write(tmp, "p.conf", "[kmeans]\nk = 3\n[frames]\nf = spy\n");
	ck_assert_int_eq(config_init(&cfg, &err), 0);
	ck_assert_int_eq(config_load(&cfg, path, &err), 0);
	ck_assert_int_eq(config_override(&cfg, "kmeans.k=7", &err), 0);
	ck_assert_int_eq(config_override(&cfg, "frames.f=mole", &err), 0);
	ck_assert_int_eq(cfg.v[CFG_kmeans_k].i, 7);
	ck_assert_uint_eq(cfg.frames.n, 1);
	ck_assert_str_eq(cfg.frames.v[0].value, "mole");
	config_release(&cfg);
}
END_TEST

START_TEST(validate)
{
	struct pl_error err = { 0, "" };
	struct config cfg;

	ck_assert_int_eq(config_init(&cfg, &err), 0);
	ck_assert_int_eq(config_validate(&cfg, &err), 0);
	ck_assert_int_eq(config_override(&cfg, "tokenize.min_length=5", &err), 0);
	ck_assert_int_eq(config_override(&cfg, "tokenize.max_length=5", &err), 0);
	ck_assert_msg(config_validate(&cfg, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(config_override(&cfg, "tokenize.max_length=3", &err), 0);
	ck_assert_int_eq(config_validate(&cfg, &err), -1);
	ck_assert_int_eq(err.code, PL_EX_CONFIG);
	ck_assert_msg(strstr(err.msg, "-c tokenize.min_length") &&
		      strstr(err.msg, "min_length 5 is larger than max_length 3"),
		      "message '%s'", err.msg);
	config_release(&cfg);

	ck_assert_int_eq(config_init(&cfg, &err), 0);
	ck_assert_int_eq(config_override(&cfg, "corpus.dir=", &err), 0);
	ck_assert_int_eq(config_validate(&cfg, &err), -1);
	ck_assert_int_eq(err.code, PL_EX_CONFIG);
	ck_assert_msg(strstr(err.msg, "[corpus] dir is empty"), "message '%s'",
		      err.msg);
	config_release(&cfg);
}
END_TEST

/* The shipped pipeline.conf, read as text: section -> its "key =" lines and
 * the comments above them.  Returns the file's text; caller frees. */
static char *shipped_conf(char *path, size_t size)
{
	char *text;

	snprintf(path, size, "%s/pipeline.conf", test_srcdir());
	text = test_slurp(path);
	ck_assert_msg(text != NULL, "cannot read %s", path);
	return text;
}

/* The text of [section] in `text`, up to the next section header (a
 * pointer into text and a length). */
static const char *section_of(const char *text, const char *section,
			      size_t *len)
{
	char header[80];
	size_t hl;
	const char *start = NULL;

	hl = (size_t)snprintf(header, sizeof(header), "[%s]", section);
	for (const char *p = text; *p;) {
		const char *nl = strchr(p, '\n');
		const char *next = nl ? nl + 1 : p + strlen(p);

		if (start && *p == '[') {
			*len = (size_t)(p - start);
			return start;
		}
		if (!start && strncmp(p, header, hl) == 0 &&
		    (p[hl] == '\n' || p[hl] == '\0'))
			start = next;
		p = next;
	}
	if (start)
		*len = strlen(start);
	return start;
}

/* Does the block hold a line starting "key ="? */
static int has_key_line(const char *block, size_t len, const char *key)
{
	size_t kl = strlen(key);

	for (const char *p = block; p < block + len;) {
		const char *nl = memchr(p, '\n', (size_t)(block + len - p));

		/* A key may be documented commented out ("#tf = raw"), for
		 * keys that must stay unset for another key to work. */
		const char *q = *p == '#' ? p + 1 : p;

		if (strncmp(q, key, kl) == 0 && strncmp(q + kl, " =", 2) == 0)
			return 1;
		if (!nl)
			break;
		p = nl + 1;
	}
	return 0;
}

START_TEST(shipped_documents_every_key)
{
	char path[4200];
	char *text = shipped_conf(path, sizeof(path));

	for (int id = 0; id < CFG_NKEYS; id++) {
		const struct cfg_key *k = &cfg_keys[id];
		size_t len = 0;
		const char *block = section_of(text, k->section, &len);

		ck_assert_msg(block != NULL, "%s has no [%s] section", path,
			      k->section);
		ck_assert_msg(has_key_line(block, len, k->name),
			      "%s: [%s] does not document '%s ='", path, k->section,
			      k->name);
	}
	free(text);
}
END_TEST

/* "Every key is listed here with its default in brackets": the section's
 * comments hold "[default]" for each of its keys. */
START_TEST(shipped_documents_defaults)
{
	char path[4200];
	char *text = shipped_conf(path, sizeof(path));

	for (int id = 0; id < CFG_NKEYS; id++) {
		const struct cfg_key *k = &cfg_keys[id];
		size_t len = 0;
		const char *block = section_of(text, k->section, &len);
		char want[128];
		char *copy;

		ck_assert_ptr_nonnull(block);
		copy = strndup(block, len);
		ck_assert_ptr_nonnull(copy);
		snprintf(want, sizeof(want), "[%s]", k->def);
		ck_assert_msg(strstr(copy, want), "%s: [%s] %s: default '%s' is not "
			      "documented", path, k->section, k->name, want);
		free(copy);
	}
	free(text);
}
END_TEST

START_TEST(shipped_loads)
{
	struct pl_error err = { 0, "" };
	struct config cfg;
	char path[4200];

	snprintf(path, sizeof(path), "%s/pipeline.conf", test_srcdir());
	ck_assert_int_eq(config_init(&cfg, &err), 0);
	ck_assert_msg(config_load(&cfg, path, &err) == 0, "%s", err.msg);
	ck_assert_msg(config_validate(&cfg, &err) == 0, "%s", err.msg);
	/* The three frames the summary reports, with their continuation
	 * lines joined. */
	ck_assert_uint_eq(cfg.frames.n, 3);
	ck_assert_str_eq(cfg.frames.v[0].name, "backdoor");
	ck_assert_str_eq(cfg.frames.v[1].name, "surveillance");
	ck_assert_str_eq(cfg.frames.v[2].name, "double_standard");
	ck_assert_ptr_nonnull(strstr(cfg.frames.v[0].value, "decrypt"));
	ck_assert_ptr_nonnull(strstr(cfg.frames.v[1].value, "secret thief"));
	ck_assert_ptr_nonnull(strstr(cfg.frames.v[2].value, "double talk"));
	config_release(&cfg);
}
END_TEST

Suite *suite_config(void)
{
	Suite *s = suite_create("config");
	TCase *tc;

	tc = tcase_create("files");
	tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
	tcase_add_loop_test(tc, files, 0,
			    (int)(sizeof(file_cases) / sizeof(file_cases[0])));
	tcase_add_test(tc, indented_first_entry);
	tcase_add_test(tc, where);
	tcase_add_test(tc, missing_file);
	tcase_add_test(tc, relative_paths);
	suite_add_tcase(s, tc);

	tc = tcase_create("overrides");
	tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
	tcase_add_loop_test(tc, overrides, 0,
			    (int)(sizeof(override_cases) / sizeof(override_cases[0])));
	tcase_add_test(tc, override_after_file);
	tcase_add_test(tc, validate);
	suite_add_tcase(s, tc);

	tc = tcase_create("shipped");
	tcase_add_test(tc, shipped_documents_every_key);
	tcase_add_test(tc, shipped_documents_defaults);
	tcase_add_test(tc, shipped_loads);
	suite_add_tcase(s, tc);
	return s;
}
