/* config.h -- the run configuration: pipeline.conf plus -c overrides
 *
 * Keys and their types live in config.def.  Loading fills one value per key
 * (the default until the file or an override sets it), and the free-form
 * [phrases] and [frames] entries in file order.  Errors name the file, the
 * line and the key, and return PL_EX_CONFIG (PL_EX_NOINPUT when the file
 * cannot be read).
 */
#ifndef PL_CONFIG_H
#define PL_CONFIG_H

#include "util.h"

enum cfg_type { CFG_INT, CFG_REAL, CFG_RANGE, CFG_ENUM, CFG_STR, CFG_PATH };

enum cfg_id {
#define CFG(sec, key, type, def, min, max, choices, help) CFG_##sec##_##key,
#include "config.def"
#undef CFG
	CFG_NKEYS
};

struct cfg_key {
	const char *section, *name;
	enum cfg_type type;
	const char *def;
	double min, max;
	const char *choices; /* "a|b|c" for ENUM */
	const char *help;
};
/* The table generated from config.def, CFG_NKEYS entries. */
extern const struct cfg_key cfg_keys[];

struct cfg_value {
	char *text;      /* the value as written (owned) */
	long i;          /* INT, ENUM (index into choices), RANGE low */
	long hi;         /* RANGE high */
	double r;        /* REAL */
	char *path;      /* PATH, resolved (owned), NULL when "" */
	int line;        /* where it was set: 0 default, -1 override */
};

/* A [phrases] or [frames] entry: `name = item, item, ...`. */
struct cfg_entry {
	char *name;
	char *value;     /* items joined by ", " across continuation lines */
	int line;
};

struct cfg_entries {
	struct cfg_entry *v;
	size_t n, cap;
};

struct config {
	char *file;      /* path of the config file as given */
	char *dir;       /* its folder, for relative paths */
	struct cfg_value v[CFG_NKEYS];
	struct cfg_entries phrases, frames;
};

/* Defaults for every key; no file needed.  0 or -1 (out of memory). */
int config_init(struct config *cfg, struct pl_error *err);
/* Read `path` over the current values.  Unknown sections or keys, duplicate
 * keys, bad values and syntax errors fail with "FILE:LINE: ..." messages. */
int config_load(struct config *cfg, const char *path, struct pl_error *err);
/* Apply one "section.key=value" override (pipeline -c). */
int config_override(struct config *cfg, const char *assignment,
		    struct pl_error *err);
/* Checks that span keys (min_length <= max_length, ...). */
int config_validate(const struct config *cfg, struct pl_error *err);
void config_release(struct config *cfg);

/* Where a key was set, for messages: "pipeline.conf:12", "-c
 * section.key", or "the default (not set in pipeline.conf)".  Returns
 * buf. */
const char *config_where(const struct config *cfg, enum cfg_id id,
			 char *buf, size_t size);

/* Canonical text of the effective configuration ("section.key = value"
 * lines in table order, then phrases and frames); its FNV-1a 64 hash is the
 * config hash in run.json.  Appends to sb. */
int config_dump(const struct config *cfg, struct strbuf *sb);

/* The i-th choice of an ENUM key, for messages and reports. */
const char *config_choice(enum cfg_id id, long i, char *buf, size_t size);

#endif
