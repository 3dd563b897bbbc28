/* config.c -- read pipeline.conf (through inih) and -c overrides
 *
 * In: a config file path and "section.key=value" overrides.  Out: a struct
 * config with one typed value per key of config.def and the free [phrases]
 * and [frames] entries.  inih does the INI syntax; this file knows the keys.
 * Because inih's handler is not told the line number, the line reader given
 * to ini_parse_stream() counts lines itself; it also rejects lines longer
 * than inih's 200-byte buffer instead of letting inih cut them silently.
 */
/* realpath */
#define _DEFAULT_SOURCE
#include "config.h"

#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

const struct cfg_key cfg_keys[] = {
#define CFG(sec, key, type, def, min, max, choices, help) \
	{ #sec, #key, CFG_##type, def, (double)(min), (double)(max), choices, help },
#include "config.def"
#undef CFG
};

/* Sections whose keys are free names (each a list of items). */
static const char *const free_sections[] = { "phrases", "frames", NULL };

static void value_release(struct cfg_value *v)
{
	pl_free(v->text);
	pl_free(v->path);
	v->text = v->path = NULL;
}

const char *config_choice(enum cfg_id id, long i, char *buf, size_t size)
{
	const char *p = cfg_keys[id].choices;
	long n = 0;

	buf[0] = '\0';
	while (p && *p) {
		size_t len = strcspn(p, "|");

		if (n == i) {
			snprintf(buf, size, "%.*s", (int)len, p);
			break;
		}
		n++;
		p += len + (p[len] == '|');
	}
	return buf;
}

static int enum_index(enum cfg_id id, const char *s)
{
	const char *p = cfg_keys[id].choices;
	size_t slen = strlen(s);
	int n = 0;

	while (p && *p) {
		size_t len = strcspn(p, "|");

		if (len == slen && memcmp(p, s, len) == 0)
			return n;
		n++;
		p += len + (p[len] == '|');
	}
	return -1;
}

static int join_path(const char *dir, const char *path, char **out)
{
	struct strbuf sb = STRBUF_INIT;

	if (path[0] == '/' || !dir || !dir[0] || strcmp(dir, ".") == 0) {
		*out = pl_strdup(path);
		return *out ? 0 : -1;
	}
	if (strbuf_addstr(&sb, dir) || strbuf_addch(&sb, '/') ||
	    strbuf_addstr(&sb, path)) {
		strbuf_release(&sb);
		return -1;
	}
	*out = sb.buf;
	return 0;
}

/* Parse `text` as the value of key `id`.  `where` prefixes messages, `base`
 * is the folder relative paths start from. */
static int set_value(struct config *cfg, enum cfg_id id, const char *text,
		     const char *where, const char *base, int line,
		     struct pl_error *err)
{
	const struct cfg_key *k = &cfg_keys[id];
	struct cfg_value nv = { 0 };
	char choice[64];

	nv.line = line;
	switch (k->type) {
	case CFG_INT:
		if (pl_parse_long(text, (long)k->min, (long)k->max, &nv.i))
			return pl_fail(err, PL_EX_CONFIG,
				       "%s: [%s] %s: '%s' is not a whole number from %.0f to %.0f",
				       where, k->section, k->name, text, k->min, k->max);
		break;
	case CFG_REAL:
		if (pl_parse_double(text, k->min, k->max, &nv.r))
			return pl_fail(err, PL_EX_CONFIG,
				       "%s: [%s] %s: '%s' is not a number from %g to %g",
				       where, k->section, k->name, text, k->min, k->max);
		break;
	case CFG_RANGE: {
		const char *dots = strstr(text, "..");
		char lo[64];
		int bad;

		if (dots && (size_t)(dots - text) < sizeof(lo)) {
			memcpy(lo, text, (size_t)(dots - text));
			lo[dots - text] = '\0';
			bad = pl_parse_long(lo, (long)k->min, (long)k->max, &nv.i) ||
			      pl_parse_long(dots + 2, (long)k->min, (long)k->max, &nv.hi);
		} else {
			bad = dots != NULL ||
			      pl_parse_long(text, (long)k->min, (long)k->max, &nv.i);
			nv.hi = nv.i;
		}
		if (bad)
			return pl_fail(err, PL_EX_CONFIG,
				       "%s: [%s] %s: '%s' is not a whole number from %.0f to %.0f, "
				       "or a range N..M of them",
				       where, k->section, k->name, text, k->min, k->max);
		if (nv.hi < nv.i)
			return pl_fail(err, PL_EX_CONFIG,
				       "%s: [%s] %s: range '%s' runs backwards; write %ld..%ld",
				       where, k->section, k->name, text, nv.hi, nv.i);
		break;
	}
	case CFG_ENUM: {
		int idx = enum_index(id, text);

		if (idx < 0) {
			struct strbuf sb = STRBUF_INIT;

			for (long i = 0; config_choice(id, i, choice, sizeof(choice))[0]; i++)
				if (strbuf_addf(&sb, "%s%s", i ? ", " : "", choice))
					break;
			pl_fail(err, PL_EX_CONFIG,
				"%s: [%s] %s: '%s' is not one of: %s",
				where, k->section, k->name, text, sb.buf ? sb.buf : "");
			strbuf_release(&sb);
			return -1;
		}
		nv.i = idx;
		break;
	}
	case CFG_STR:
		if (!text[0])
			return pl_fail(err, PL_EX_CONFIG, "%s: [%s] %s: empty value",
				       where, k->section, k->name);
		break;
	case CFG_PATH:
		if (text[0] && join_path(base, text, &nv.path))
			return pl_oom(err);
		break;
	}
	nv.text = pl_strdup(text);
	if (!nv.text) {
		pl_free(nv.path);
		return pl_oom(err);
	}
	value_release(&cfg->v[id]);
	cfg->v[id] = nv;
	return 0;
}

int config_init(struct config *cfg, struct pl_error *err)
{
	memset(cfg, 0, sizeof(*cfg));
	for (int id = 0; id < CFG_NKEYS; id++)
		if (set_value(cfg, (enum cfg_id)id, cfg_keys[id].def, "default",
			      ".", 0, err))
			return -1;
	return 0;
}

static void entries_release(struct cfg_entries *e)
{
	for (size_t i = 0; i < e->n; i++) {
		pl_free(e->v[i].name);
		pl_free(e->v[i].value);
	}
	pl_free(e->v);
	memset(e, 0, sizeof(*e));
}

void config_release(struct config *cfg)
{
	for (int id = 0; id < CFG_NKEYS; id++)
		value_release(&cfg->v[id]);
	entries_release(&cfg->phrases);
	entries_release(&cfg->frames);
	pl_free(cfg->file);
	pl_free(cfg->dir);
	memset(cfg, 0, sizeof(*cfg));
}

static int find_key(const char *section, const char *name)
{
	for (int id = 0; id < CFG_NKEYS; id++)
		if (strcmp(cfg_keys[id].section, section) == 0 &&
		    strcmp(cfg_keys[id].name, name) == 0)
			return id;
	return -1;
}

static int is_section(const char *section)
{
	for (int id = 0; id < CFG_NKEYS; id++)
		if (strcmp(cfg_keys[id].section, section) == 0)
			return 1;
	for (int i = 0; free_sections[i]; i++)
		if (strcmp(free_sections[i], section) == 0)
			return 1;
	return 0;
}

static struct cfg_entries *free_section(struct config *cfg, const char *section)
{
	if (strcmp(section, "phrases") == 0)
		return &cfg->phrases;
	if (strcmp(section, "frames") == 0)
		return &cfg->frames;
	return NULL;
}

/* Edit distance, for "did you mean" hints; names are short. */
static size_t distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[64];

	if (la >= 63 || lb >= 63)
		return 99;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t prev = row[0];

		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t cur = row[j];
			size_t best = prev + (a[i - 1] != b[j - 1]);

			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			prev = cur;
		}
	}
	return row[lb];
}

static const char *suggest_key(const char *section, const char *name)
{
	const char *best = NULL;
	size_t bestd = 3;

	for (int id = 0; id < CFG_NKEYS; id++) {
		size_t d;

		if (strcmp(cfg_keys[id].section, section))
			continue;
		d = distance(name, cfg_keys[id].name);
		if (d < bestd) {
			bestd = d;
			best = cfg_keys[id].name;
		}
	}
	return best;
}

static int unknown_key(const char *where, const char *section, const char *name,
		       struct pl_error *err)
{
	const char *hint = suggest_key(section, name);

	if (hint)
		return pl_fail(err, PL_EX_CONFIG,
			       "%s: unknown key '%s' in [%s]; did you mean '%s'?",
			       where, name, section, hint);
	return pl_fail(err, PL_EX_CONFIG,
		       "%s: unknown key '%s' in [%s] (pipeline help config lists the keys)",
		       where, name, section);
}

static int unknown_section(const char *where, const char *section,
			   struct pl_error *err)
{
	return pl_fail(err, PL_EX_CONFIG,
		       "%s: unknown section [%s]; the sections are corpus, tokenize, "
		       "stem, phrases, vocabulary, tfidf, kmeans, frames, output, run",
		       where, section);
}

static int add_entry(struct cfg_entries *e, const char *name, const char *value,
		     int line, int replace)
{
	char *v;

	for (size_t i = 0; i < e->n; i++) {
		if (strcmp(e->v[i].name, name))
			continue;
		if (!replace)
			return 1;
		v = pl_strdup(value);
		if (!v)
			return -1;
		pl_free(e->v[i].value);
		e->v[i].value = v;
		e->v[i].line = line;
		return 0;
	}
	if (pl_grow(&e->v, &e->cap, e->n + 1, sizeof(*e->v)))
		return -1;
	e->v[e->n].name = pl_strdup(name);
	e->v[e->n].value = pl_strdup(value);
	e->v[e->n].line = line;
	if (!e->v[e->n].name || !e->v[e->n].value) {
		pl_free(e->v[e->n].name);
		pl_free(e->v[e->n].value);
		return -1;
	}
	e->n++;
	return 0;
}

/* State shared by the line reader and the handler during one parse. */
struct parse_state {
	struct config *cfg;
	FILE *fp;
	const char *path;
	int line;            /* lines read so far: the one inih is handling */
	int continuation;    /* the current line starts with blank space */
	int failed;          /* line of the first error, 0 while none */
	struct pl_error *err;
	char where[4200];
	char *buf;           /* getline buffer */
	size_t bufcap;
};

/* inih calls the handler only for keys, so a section header with no keys
 * would pass unseen: check every header as it is read.  1 on error. */
static int check_section_line(struct parse_state *st, const char *p)
{
	const char *end = strchr(p, ']');
	char name[128];
	size_t len;

	if (!end)
		return 0; /* inih reports the syntax error */
	p++;
	p += strspn(p, " \t");
	len = (size_t)(end - p);
	while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
		len--;
	if (len >= sizeof(name)) {
		len = sizeof(name) - 1;
	}
	memcpy(name, p, len);
	name[len] = '\0';
	if (is_section(name))
		return 0;
	snprintf(st->where, sizeof(st->where), "%s:%d", st->path, st->line);
	unknown_section(st->where, name, st->err);
	st->failed = st->line;
	return 1;
}

static char *reader(char *str, int num, void *stream)
{
	struct parse_state *st = stream;
	ssize_t n;
	const char *p;

	if (st->failed)
		return NULL;
	errno = 0;
	n = getline(&st->buf, &st->bufcap, st->fp);
	if (n < 0) {
		if (errno == ENOMEM) {
			st->failed = st->line ? st->line : 1;
			pl_oom(st->err);
		}
		return NULL;
	}
	st->line++;
	/* inih rstrips the line anyway; without the newline a line may use
	 * all num - 1 bytes of its buffer. */
	while (n > 0 && (st->buf[n - 1] == '\n' || st->buf[n - 1] == '\r'))
		st->buf[--n] = '\0';
	if (memchr(st->buf, '\0', (size_t)n)) {
		st->failed = st->line ? st->line : 1;
		pl_fail(st->err, PL_EX_CONFIG, "%s:%d: NUL byte in the line; "
			"is this a text file?", st->path, st->line);
		return NULL;
	}
	if (n >= num) {
		st->failed = st->line ? st->line : 1;
		pl_fail(st->err, PL_EX_CONFIG,
			"%s:%d: line longer than %d bytes; split a long list over "
			"indented continuation lines", st->path, st->line, num - 1);
		return NULL;
	}
	p = st->buf + strspn(st->buf, " \t");
	if (*p == '[' && check_section_line(st, p))
		return NULL;
	p = st->buf;
	st->continuation = (*p == ' ' || *p == '\t') &&
			   p[strspn(p, " \t\r\n")] != '\0' &&
			   p[strspn(p, " \t")] != ';' && p[strspn(p, " \t")] != '#';
	memcpy(str, st->buf, (size_t)n + 1);
	return str;
}

static int handler(void *user, const char *section, const char *name,
		   const char *value)
{
	struct parse_state *st = user;
	struct config *cfg = st->cfg;
	char where[4200];
	struct cfg_entries *fe;
	int id;

	if (st->failed)
		return 0;
	snprintf(where, sizeof(where), "%s:%d", st->path, st->line);
	if (!section[0]) {
		pl_fail(st->err, PL_EX_CONFIG,
			"%s: key '%s' before any [section]", where, name);
		goto fail;
	}
	if (!is_section(section)) {
		unknown_section(where, section, st->err);
		goto fail;
	}
	fe = free_section(cfg, section);
	id = find_key(section, name);
	if (fe && id < 0) {
		if (st->continuation && fe->n == 0) {
			pl_fail(st->err, PL_EX_CONFIG,
				"%s: indented line with no entry before it to continue; "
				"start the entry at the beginning of the line", where);
			goto fail;
		}
		if (st->continuation) {
			/* An indented line continues the previous entry's list. */
			struct cfg_entry *e = &fe->v[fe->n - 1];
			struct strbuf sb = STRBUF_INIT;
			size_t len = strlen(e->value);
			/* "a, b," then "c": one comma (the list reads the same
			 * either way; the text is what summary.json shows) */
			const char *sep = !len ? "" : e->value[len - 1] == ',' ? " " : ", ";

			if (strbuf_addstr(&sb, e->value) ||
			    strbuf_addstr(&sb, sep) ||
			    strbuf_addstr(&sb, value)) {
				strbuf_release(&sb);
				pl_oom(st->err);
				goto fail;
			}
			pl_free(e->value);
			e->value = sb.buf;
			return 1;
		}
		switch (add_entry(fe, name, value, st->line, 0)) {
		case 0:
			return 1;
		case 1:
			pl_fail(st->err, PL_EX_CONFIG,
				"%s: duplicate entry '%s' in [%s]", where, name, section);
			goto fail;
		default:
			pl_oom(st->err);
			goto fail;
		}
	}
	if (id < 0) {
		unknown_key(where, section, name, st->err);
		goto fail;
	}
	if (st->continuation) {
		pl_fail(st->err, PL_EX_CONFIG,
			"%s: [%s] %s: indented continuation line; only [phrases] and "
			"[frames] lists may continue", where, section, name);
		goto fail;
	}
	if (cfg->v[id].line > 0) {
		pl_fail(st->err, PL_EX_CONFIG,
			"%s: duplicate key '%s' in [%s] (first set on line %d)",
			where, name, section, cfg->v[id].line);
		goto fail;
	}
	if (set_value(cfg, (enum cfg_id)id, value, where, cfg->dir, st->line,
		      st->err))
		goto fail;
	return 1;
fail:
	st->failed = st->line ? st->line : 1;
	return 0;
}

static char *dirname_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return pl_strdup(".");
	if (slash == path)
		return pl_strdup("/");
	return pl_strndup(path, (size_t)(slash - path));
}

int config_load(struct config *cfg, const char *path, struct pl_error *err)
{
	const char *why;
	int code;
	struct parse_state st = { 0 };
	int rc;

	pl_free(cfg->file);
	pl_free(cfg->dir);
	cfg->file = pl_strdup(path);
	/* Relative paths in it start from the folder the config file is in:
	 * for a symbolic link (~/pipeline.conf -> /srv/pipeline/pipeline.conf),
	 * the folder of the file it leads to, where its corpus and lists are,
	 * not the link's.  Otherwise the path as given (./output stays
	 * relative in messages). */
	{
		struct stat ls;
		char *real = lstat(path, &ls) == 0 && S_ISLNK(ls.st_mode) ?
			     realpath(path, NULL) : NULL;

		cfg->dir = dirname_of(real ? real : path);
		free(real); /* realpath's, from malloc */
	}
	if (!cfg->file || !cfg->dir)
		return pl_oom(err);
	/* The defaults' relative paths start from the config file too. */
	for (int id = 0; id < CFG_NKEYS; id++) {
		if (cfg_keys[id].type != CFG_PATH || !cfg->v[id].path ||
		    cfg->v[id].line != 0)
			continue;
		if (set_value(cfg, (enum cfg_id)id, cfg->v[id].text, "default",
			      cfg->dir, 0, err))
			return -1;
	}
	st.fp = pl_fopen_small(path, PL_CONFIG_MAX, PL_EX_CONFIG, &why, &code);
	if (!st.fp)
		return pl_fail(err, code, "%s: cannot read: %s", path, why);
	st.cfg = cfg;
	st.path = path;
	st.err = err;
	rc = ini_parse_stream(reader, &st, handler, &st);
	fclose(st.fp);
	free(st.buf); /* getline's buffer comes from malloc */
	/* inih goes on after a syntax error, so a later line may have
	 * failed in the handler: report whichever came first. */
	if (st.failed && !(rc > 0 && rc < st.failed))
		return -1;
	if (rc > 0)
		return pl_fail(err, PL_EX_CONFIG,
			       "%s:%d: syntax error: expected [section], key = value, "
			       "or a comment starting with ; or #", path, rc);
	if (rc < 0)
		return pl_oom(err);
	return 0;
}

int config_override(struct config *cfg, const char *assignment,
		    struct pl_error *err)
{
	const char *eq = strchr(assignment, '=');
	const char *dot = strchr(assignment, '.');
	char section[64], name[128], where[256];
	size_t slen, nlen;
	struct cfg_entries *fe;
	int id;

	snprintf(where, sizeof(where), "-c %s", assignment);
	if (!eq || !dot || dot > eq)
		return pl_fail(err, PL_EX_USAGE,
			       "-c '%s': expected section.key=value, e.g. -c kmeans.k=6",
			       assignment);
	slen = (size_t)(dot - assignment);
	nlen = (size_t)(eq - dot - 1);
	if (slen == 0 || slen >= sizeof(section) || nlen == 0 || nlen >= sizeof(name))
		return pl_fail(err, PL_EX_USAGE,
			       "-c '%s': expected section.key=value, e.g. -c kmeans.k=6",
			       assignment);
	memcpy(section, assignment, slen);
	section[slen] = '\0';
	memcpy(name, dot + 1, nlen);
	name[nlen] = '\0';
	if (!is_section(section))
		return unknown_section(where, section, err);
	id = find_key(section, name);
	fe = free_section(cfg, section);
	if (id < 0 && fe)
		return add_entry(fe, name, eq + 1, -1, 1) ? pl_oom(err) : 0;
	if (id < 0)
		return unknown_key(where, section, name, err);
	return set_value(cfg, (enum cfg_id)id, eq + 1, where, ".", -1, err);
}

const char *config_where(const struct config *cfg, enum cfg_id id, char *buf,
			 size_t size)
{
	int line = cfg->v[id].line;

	if (line > 0)
		snprintf(buf, size, "%s:%d", cfg->file ? cfg->file : "?", line);
	else if (line < 0)
		snprintf(buf, size, "-c %s.%s", cfg_keys[id].section, cfg_keys[id].name);
	else /* not set: the default */
		snprintf(buf, size, "the default (not set in %s)",
			 cfg->file ? cfg->file : "the config");
	return buf;
}

int config_validate(const struct config *cfg, struct pl_error *err)
{
	char where[4200], other[4200];

	/* Two keys: each named where it was set (the file's line, a -c
	 * override, or the default), so an override is not blamed on the
	 * file. */
	if (cfg->v[CFG_tokenize_min_length].i > cfg->v[CFG_tokenize_max_length].i)
		return pl_fail(err, PL_EX_CONFIG,
			       "%s: [tokenize] min_length %ld is larger than max_length %ld "
			       "(max_length from %s)",
			       config_where(cfg, CFG_tokenize_min_length, where, sizeof(where)),
			       cfg->v[CFG_tokenize_min_length].i,
			       cfg->v[CFG_tokenize_max_length].i,
			       config_where(cfg, CFG_tokenize_max_length, other, sizeof(other)));
	if (!cfg->v[CFG_corpus_dir].path)
		return pl_fail(err, PL_EX_CONFIG, "%s: [corpus] dir is empty",
			       config_where(cfg, CFG_corpus_dir, where, sizeof(where)));
	if (!cfg->v[CFG_output_dir].path)
		return pl_fail(err, PL_EX_CONFIG, "%s: [output] dir is empty",
			       config_where(cfg, CFG_output_dir, where, sizeof(where)));
	return 0;
}

int config_dump(const struct config *cfg, struct strbuf *sb)
{
	for (int id = 0; id < CFG_NKEYS; id++)
		if (strbuf_addf(sb, "%s.%s = %s\n", cfg_keys[id].section,
				cfg_keys[id].name, cfg->v[id].text))
			return -1;
	for (size_t i = 0; i < cfg->phrases.n; i++)
		if (strbuf_addf(sb, "phrases.%s = %s\n", cfg->phrases.v[i].name,
				cfg->phrases.v[i].value))
			return -1;
	for (size_t i = 0; i < cfg->frames.n; i++)
		if (strbuf_addf(sb, "frames.%s = %s\n", cfg->frames.v[i].name,
				cfg->frames.v[i].value))
			return -1;
	return 0;
}
