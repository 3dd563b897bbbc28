/* cache.c -- what a run keeps for the next one: index, segments, replay
 *
 * The formats are described in cache.h; this file reads and writes them.
 * Reading never trusts a byte: every length and id is checked against the
 * data it indexes, and a file whose XXH64 trailer does not match is
 * "damaged", which makes the run read every file instead.
 */
/* madvise(MADV_DONTNEED), to give back replayed segment pages. */
#define _DEFAULT_SOURCE
#include "cache.h"
#include "outdir.h"
#include "run.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <utf8proc.h>

#define IDX_MAGIC "PLCIDX04"
/* The formats before the compaction's counters (PLCIDX03), before files
 * had their length as max_file_mb counts it (PLCIDX02) and before
 * statements had their text's hash (PLCIDX01): read all the same.
 * Without counters they start at 0; without lengths, a gzip file is read
 * again (read_plan); without hashes, changes.tsv matches statements by
 * paragraph. */
#define IDX_MAGIC_3 "PLCIDX03"
#define IDX_MAGIC_2 "PLCIDX02"
#define IDX_MAGIC_1 "PLCIDX01"
#define SEG_MAGIC "PLCSEG01"
#define KEY_MAGIC "PLCKEY01"

/* By hand, not snprintf("%02x") per byte: sources.tsv has one per file
 * (97,700 on the benchmark corpus), and 16 calls each took 0.06 s. */
void pl_hash_hex(const uint8_t hash[16], char hex[33])
{
	static const char digit[] = "0123456789abcdef";

	for (int i = 0; i < 16; i++) {
		hex[2 * i] = digit[hash[i] >> 4];
		hex[2 * i + 1] = digit[hash[i] & 15];
	}
	hex[32] = '\0';
}

void pl_hash_bytes(const void *data, size_t len, uint8_t hash[16])
{
	XXH128_canonical_t c;

	XXH128_canonicalFromHash(&c, XXH3_128bits(data, len));
	memcpy(hash, c.digest, 16);
}

/* Read in blocks of HASH_BLOCK: below malloc's mapping threshold (1 MiB,
 * main.c), so the buffer is the heap's, used again by the next call,
 * rather than a fresh mapping per file (a rerun after a chown -R hashes
 * every file of the corpus). */
#define HASH_BLOCK ((size_t)128 << 10)

int pl_hash_path(const char *path, uint64_t limit, uint8_t hash[16],
		 uint64_t *size, struct pl_error *err)
{
	XXH3_state_t *st;
	XXH128_canonical_t c;
	struct stat sb;
	char *buf;
	ssize_t n;
	int fd, rc = 0;

	*size = 0;
	fd = pl_open_file(path, &sb, err);
	if (fd < 0)
		return -1;
	st = XXH3_createState();
	buf = pl_malloc(HASH_BLOCK);
	if (!st || !buf) {
		rc = pl_oom(err);
		goto out;
	}
	XXH3_128bits_reset(st);
	/* Never past limit + 1 bytes: a file that is still being written
	 * (a log, a download) would otherwise keep the run reading as long
	 * as its writer writes. */
	while (*size <= limit) {
		size_t want = HASH_BLOCK;

		if (limit - *size < want)
			want = (size_t)(limit - *size) + 1;
		n = read(fd, buf, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = pl_fail(err, PL_EX_IOERR, "%s: read error: %s", path,
				     strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		XXH3_128bits_update(st, buf, (size_t)n);
		*size += (uint64_t)n;
	}
	XXH128_canonicalFromHash(&c, XXH3_128bits_digest(st));
	memcpy(hash, c.digest, 16);
out:
	if (st)
		XXH3_freeState(st);
	pl_free(buf);
	close(fd);
	return rc;
}

void newcache_free(struct newcache *nc)
{
	if (!nc)
		return;
	for (size_t i = 0; i < nc->n; i++)
		pl_free(nc->name[i]);
	pl_free(nc->name);
	pl_free(nc->records);
	pl_free(nc->index);
	pl_free(nc);
}

/* ---- config ---- */

static int add_file_hash(struct strbuf *text, const char *what, const char *path)
{
	struct strbuf data = STRBUF_INIT;
	struct pl_error e;
	int rc;

	/* An unreadable list file fails the run later, with a message; here
	 * it only has to hash differently from a readable one.  So does one
	 * over the limit: it is read no further than that. */
	if (read_file_bytes(path, (uint64_t)PL_LIST_MAX, &data, &e) != 0)
		rc = strbuf_addf(text, "%s = unreadable %s\n", what, path);
	else
		rc = strbuf_addf(text, "%s = %016llx\n", what,
				 (unsigned long long)XXH3_64bits(data.buf, data.len));
	strbuf_release(&data);
	return rc;
}

int cache_config_text(const struct config *cfg, int analysis, struct strbuf *text)
{
	const char *sw;

	if (analysis != 1) {
		/* 2: what changes outputs, that is all but [run] threads. */
		size_t at = text->len;
		char *line;

		if (config_dump(cfg, text))
			return -1;
		line = analysis == 2 && text->buf ? strstr(text->buf + at, "run.threads = ") : NULL;
		if (line) {
			char *end = strchr(line, '\n');
			size_t cut = end ? (size_t)(end + 1 - line) : strlen(line);

			memmove(line, line + cut, strlen(line + cut) + 1);
			text->len -= cut;
		}
		return 0;
	}
	/* "text 2": UTF-16 files decoded, files with a NUL early refused
	 * (stages/read.c, as_text): a cache of counts made before says so. */
	if (strbuf_addf(text, "program = pipeline %s (text 2), utf8proc %s\n",
			PIPELINE_VERSION, utf8proc_version()))
		return -1;
	for (int id = 0; id < CFG_NKEYS; id++) {
		const char *sec = cfg_keys[id].section;

		/* Where the corpus and the boilerplate list are does not change
		 * counts; the list's contents are hashed below. */
		if (id == CFG_corpus_dir || id == CFG_corpus_max_file_mb ||
		    id == CFG_corpus_boilerplate)
			continue;
		if (strcmp(sec, "corpus") && strcmp(sec, "tokenize") &&
		    strcmp(sec, "stem") && strcmp(sec, "phrases"))
			continue;
		if (strbuf_addf(text, "%s.%s = %s\n", sec, cfg_keys[id].name,
				cfg->v[id].text))
			return -1;
	}
	for (size_t i = 0; i < cfg->phrases.n; i++)
		if (strbuf_addf(text, "phrases.%s = %s\n", cfg->phrases.v[i].name,
				cfg->phrases.v[i].value))
			return -1;
	/* Frame entries of several words become phrases: they change counts. */
	for (size_t i = 0; i < cfg->frames.n; i++)
		if (strbuf_addf(text, "frames.%s = %s\n", cfg->frames.v[i].name,
				cfg->frames.v[i].value))
			return -1;
	if (cfg->v[CFG_corpus_boilerplate].path &&
	    add_file_hash(text, "corpus.boilerplate contents",
			  cfg->v[CFG_corpus_boilerplate].path))
		return -1;
	sw = cfg->v[CFG_tokenize_stopwords].text;
	if (strcmp(sw, "english") && strcmp(sw, "none")) {
		struct strbuf path = STRBUF_INIT;
		int rc;

		rc = (sw[0] != '/' && cfg->dir && cfg->v[CFG_tokenize_stopwords].line >= 0 &&
		      (strbuf_addstr(&path, cfg->dir) || strbuf_addch(&path, '/'))) ||
		     strbuf_addstr(&path, sw) ||
		     add_file_hash(text, "tokenize.stopwords contents", path.buf);
		strbuf_release(&path);
		if (rc)
			return -1;
	}
	/* libstemmer has no version to ask: its file stands for it (a
	 * distribution's new libstemmer, with revised Snowball rules,
	 * changes stems; so, harmlessly, does a rebuild of the same rules:
	 * the run then reads every file once, ids kept).  Last, so that a
	 * change of [stem] language is named as that, not as this line's
	 * coming or going. */
	if (strcmp(cfg->v[CFG_stem_language].text, "none") != 0) {
		const char *lib = stem_library_path();

		if (lib ? add_file_hash(text, "stem.library", lib)
			: strbuf_addstr(text, "stem.library = unknown\n"))
			return -1;
	}
	return 0;
}

int cache_config_hash(const struct config *cfg, int analysis, uint64_t *hash)
{
	struct strbuf text = STRBUF_INIT;
	int rc = cache_config_text(cfg, analysis, &text);

	if (rc == 0)
		*hash = pl_fnv1a(PL_FNV_OFFSET, text.buf, text.len);
	strbuf_release(&text);
	return rc;
}

int cache_hash_config(struct ctx *ctx, struct pl_error *err)
{
	struct strbuf *t = &ctx->config_text;

	if (ctx->config_hashed)
		return 0;
	strbuf_reset(t);
	if (cache_config_text(ctx->cfg, 1, t) ||
	    cache_config_hash(ctx->cfg, 0, &ctx->config_hash[0]) ||
	    cache_config_hash(ctx->cfg, 2, &ctx->config_hash[2]))
		return pl_oom(err);
	ctx->config_hash[1] = pl_fnv1a(PL_FNV_OFFSET, t->buf ? t->buf : "", t->len);
	ctx->config_hashed = 1;
	return 0;
}

/* ---- encoding ---- */

static int put(struct strbuf *b, const void *p, size_t n)
{
	return strbuf_add(b, p, n);
}

static int put_u32(struct strbuf *b, uint32_t v)
{
	uint8_t x[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16),
			 (uint8_t)(v >> 24) };

	return put(b, x, 4);
}

static int put_u64(struct strbuf *b, uint64_t v)
{
	return put_u32(b, (uint32_t)v) || put_u32(b, (uint32_t)(v >> 32));
}

static int put_str(struct strbuf *b, const char *s, size_t len)
{
	return put_u32(b, (uint32_t)len) || put(b, s, len);
}

/* A varint (7 bits a byte, low first, the top bit set on all but the
 * last) written at p, which has room for 10 bytes: where the next byte
 * goes.  Loops over many values reserve their room once (room). */
static inline uint8_t *var_at(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

static int put_var(struct strbuf *b, uint64_t v)
{
	uint8_t x[10];

	return put(b, x, (size_t)(var_at(x, v) - x));
}

/* Room for n more bytes at the end of b: where they go, or NULL (out of
 * memory).  The caller then sets b->len past what it wrote. */
static uint8_t *room(struct strbuf *b, size_t n)
{
	if (pl_grow(&b->buf, &b->cap, b->len + n + 1, 1))
		return NULL;
	return (uint8_t *)b->buf + b->len;
}

/* Set b's length to end at p, which room() handed out. */
static void room_done(struct strbuf *b, const uint8_t *p)
{
	b->len = (size_t)(p - (const uint8_t *)b->buf);
	b->buf[b->len] = '\0';
}

static int put_f64(struct strbuf *b, double d)
{
	uint64_t v;

	memcpy(&v, &d, 8);
	return put_u64(b, v);
}

/* A bounds-checked reader; `bad` sticks once anything overruns. */
struct rd {
	const uint8_t *p, *end;
	int bad;
};

static uint32_t get_u32(struct rd *r)
{
	uint32_t v;

	if (r->end - r->p < 4) {
		r->bad = 1;
		r->p = r->end;
		return 0;
	}
	v = (uint32_t)r->p[0] | (uint32_t)r->p[1] << 8 | (uint32_t)r->p[2] << 16 |
	    (uint32_t)r->p[3] << 24;
	r->p += 4;
	return v;
}

static uint64_t get_u64(struct rd *r)
{
	uint64_t lo = get_u32(r);

	return lo | (uint64_t)get_u32(r) << 32;
}

static double get_f64(struct rd *r)
{
	uint64_t v = get_u64(r);
	double d;

	memcpy(&d, &v, 8);
	return d;
}

static const char *get_str(struct rd *r, size_t *len)
{
	uint32_t n = get_u32(r);
	const char *s = (const char *)r->p;

	if ((size_t)(r->end - r->p) < n) {
		r->bad = 1;
		r->p = r->end;
		*len = 0;
		return "";
	}
	r->p += n;
	*len = n;
	return s;
}

static inline uint64_t get_var(struct rd *r)
{
	uint64_t v = 0;
	int shift = 0;

	while (r->p < r->end) {
		uint8_t b = *r->p++;

		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return v;
		shift += 7;
		if (shift > 63)
			break;
	}
	r->bad = 1;
	r->p = r->end;
	return 0;
}

/* ---- loading ---- */

void cache_unmap_segments(struct cache *c)
{
	for (size_t s = 0; c && s < c->nsegs; s++) {
		if (c->segs[s].map) {
			pl_map_unguard(c->segs[s].map);
			munmap((void *)c->segs[s].map, c->segs[s].size);
		}
		c->segs[s].map = NULL;
	}
}

/* Under AddressSanitizer the mapped index is copied into a block of its
 * exact size and unmapped (unmap_index frees the copy): a read past its
 * end inside the mapping's last page would go unseen, and the fuzz
 * harness of cache.idx (tests/fuzz/fuzz_cache.c) is there to see it. */
static void unmap_index(uint8_t *raw, size_t len)
{
	if (PL_ASAN) {
		pl_free(raw);
	} else if (raw) {
		pl_map_unguard(raw);
		munmap(raw, len);
	}
}

void cache_free(struct cache *c)
{
	if (!c)
		return;
	cache_unmap_segments(c);
	for (size_t s = 0; s < c->nsegs; s++)
		pl_free(c->segs[s].name);
	pl_free(c->segs);
	for (size_t f = 0; f < c->nframes; f++)
		pl_free(c->frame[f]);
	pl_free(c->frame);
	pl_free(c->share);
	pl_free(c->set);
	pl_free(c->analysis_text);
	pl_free(c->stale);
	pl_free(c->version);
	pl_free(c->run_id);
	strtab_release(&c->terms);
	pl_free(c->term_kind);
	pl_free(c->files);
	pl_free(c->para);
	pl_free(c->label);
	pl_free(c->uhash);
	pl_free(c->clabel);
	pl_free(c->cptr);
	pl_free(c->cterm);
	pl_free(c->cval);
	unmap_index(c->raw, c->rawlen);
	pl_free(c);
}

/* The key of a line "KEY = VALUE" of an analysis text (the whole line
 * when it has no " = "): its length. */
static size_t key_len(const char *line, size_t len)
{
	for (size_t i = 0; i + 3 <= len; i++)
		if (memcmp(line + i, " = ", 3) == 0)
			return i;
	return len;
}

/* The line of `text` whose key is key[0..klen), or NULL; *len its length. */
static const char *find_key_line(const char *text, const char *key, size_t klen,
				 size_t *len)
{
	while (*text) {
		size_t n = strcspn(text, "\n");

		if (key_len(text, n) == klen && memcmp(text, key, klen) == 0) {
			*len = n;
			return text;
		}
		text += n + (text[n] == '\n');
	}
	return NULL;
}

/* The first key whose line differs between two analysis texts, for
 * "tokenize.min_length changed": by key, not by position, so a phrase or
 * frame taken out names itself, not the line after it.  The old text's
 * keys in order (changed or gone), then the new text's (added).  Returns
 * a new string, or NULL (out of memory, or no difference). */
static char *first_difference(const char *old, const char *now)
{
	for (int pass = 0; pass < 2; pass++) {
		const char *a = pass ? now : old, *b = pass ? old : now;

		while (*a) {
			size_t n = strcspn(a, "\n"), k = key_len(a, n), m;
			const char *other = find_key_line(b, a, k, &m);

			if (!other || (!pass && (m != n || memcmp(other, a, n) != 0)))
				return pl_strndup(a, k);
			a += n + (a[n] == '\n');
		}
	}
	return NULL;
}

static int parse_index(struct cache *c, const struct config *cfg,
		       const char *analysis_text, char **why)
{
	struct rd r = { c->raw, c->raw + c->rawlen, 0 };
	struct strbuf now = STRBUF_INIT;
	const char *s;
	size_t len;
	uint64_t n, total = 0;
	uint32_t nfields;
	int format, hashes;

	if (c->rawlen < 16)
		goto damaged;
	format = memcmp(c->raw, IDX_MAGIC, 8) == 0 ? 4 :
		 memcmp(c->raw, IDX_MAGIC_3, 8) == 0 ? 3 :
		 memcmp(c->raw, IDX_MAGIC_2, 8) == 0 ? 2 :
		 memcmp(c->raw, IDX_MAGIC_1, 8) == 0 ? 1 : 0;
	hashes = format >= 2;
	if (!format) {
		struct strbuf m = STRBUF_INIT;

		if (memcmp(c->raw, IDX_MAGIC, 6) != 0)
			goto damaged;
		if (strbuf_addf(&m, "its format (%.8s) is not one pipeline %s reads "
				"(another version made it)", (const char *)c->raw,
				PIPELINE_VERSION))
			return -1;
		*why = m.buf;
		return 1;
	}
	{
		uint64_t want;
		const uint8_t *t = c->raw + c->rawlen - 8;

		want = (uint64_t)t[0] | (uint64_t)t[1] << 8 | (uint64_t)t[2] << 16 |
		       (uint64_t)t[3] << 24 | (uint64_t)t[4] << 32 |
		       (uint64_t)t[5] << 40 | (uint64_t)t[6] << 48 | (uint64_t)t[7] << 56;
		if (XXH64(c->raw, c->rawlen - 8, 0) != want)
			goto damaged;
	}
	r.p += 8;
	r.end -= 8;
	s = get_str(&r, &len);
	c->version = pl_strndup(s, len);
	s = get_str(&r, &len);
	c->run_id = pl_strndup(s, len);
	c->analysis_hash = get_u64(&r);
	c->config_hash = get_u64(&r);
	s = get_str(&r, &len);
	c->analysis_text = pl_strndup(s, len);
	if (!c->version || !c->run_id || !c->analysis_text)
		return -1;
	/* Another program version: its analysis text's first line
	 * ("program = pipeline VERSION ...") differs, so the cache is stale
	 * below (every file read again, ids kept).  What this version cannot
	 * parse has another IDX_MAGIC: a new layout of cache.idx takes a new
	 * magic, as PLCIDX02 did. */
	if (analysis_text ? strbuf_addstr(&now, analysis_text)
			  : cache_config_text(cfg, 1, &now)) {
		strbuf_release(&now);
		return -1;
	}
	if (strcmp(now.buf ? now.buf : "", c->analysis_text) != 0) {
		char *key = first_difference(c->analysis_text, now.buf ? now.buf : "");
		struct strbuf m = STRBUF_INIT;
		int rc = strbuf_addf(&m, "%s changed since the last run, and it "
				     "changes the counts", key ? key : "the config");

		pl_free(key);
		if (rc) {
			strbuf_release(&now);
			return -1;
		}
		/* The counts are stale, not the ids: the rest is read as
		 * usual, for the terms and the clustering (cache.h). */
		c->stale = m.buf;
	}
	strbuf_release(&now);
	/* terms */
	n = get_u64(&r);
	if (n > (uint64_t)(r.end - r.p) / 5)
		goto damaged;
	c->term_kind = pl_malloc(n ? n : 1);
	if (!c->term_kind)
		return -1;
	/* The table at its size at once (a first pass sums the bytes), not
	 * rehashed and copied as it doubles, and filled STRTAB_BATCH terms
	 * at a time with their slots prefetched (as build_map does); the
	 * benchmark's index has 163,747 terms. */
	{
		struct rd scan = r;
		uint64_t bytes = 0;

		for (uint64_t t = 0; t < n && !scan.bad; t++) {
			scan.p += scan.p < scan.end;
			get_str(&scan, &len);
			bytes += len;
		}
		if (scan.bad)
			goto damaged;
		if (strtab_reserve(&c->terms, (size_t)n, (size_t)bytes))
			return -1;
	}
	for (uint64_t t = 0; t < n && !r.bad; t += STRTAB_BATCH) {
		size_t m = n - t < STRTAB_BATCH ? (size_t)(n - t) : STRTAB_BATCH;
		const char *str[STRTAB_BATCH];
		size_t slen[STRTAB_BATCH];
		uint32_t h[STRTAB_BATCH], id;

		for (size_t k = 0; k < m; k++) {
			c->term_kind[t + k] = r.p < r.end ? *r.p++ : 0;
			str[k] = get_str(&r, &slen[k]);
			if (c->term_kind[t + k] > TERM_NGRAM)
				goto damaged;
			h[k] = (uint32_t)pl_hash(str[k], slen[k]);
			strtab_prefetch(&c->terms, h[k]);
		}
		for (size_t k = 0; k < m; k++) {
			if (strtab_intern_hash(&c->terms, str[k], slen[k], h[k], &id) < 0)
				return -1;
			if (id != t + k)
				goto damaged;
		}
	}
	/* A phrase the config that made the cache had may be gone: its name
	 * is preloaded as a word, which the phrases stage (its init comes
	 * first) makes a phrase again if it is still one (stems_intern_hash),
	 * so a term's kind is what a fresh run would give it. */
	for (size_t t = 0; c->stale && t < c->terms.n; t++)
		if (c->term_kind[t] == TERM_PHRASE)
			c->term_kind[t] = TERM_WORD;
	/* segments */
	n = get_u64(&r);
	if (n > (uint64_t)(r.end - r.p) / 12)
		goto damaged;
	c->segs = pl_calloc(n ? n : 1, sizeof(*c->segs));
	if (!c->segs)
		return -1;
	c->nsegs = n;
	for (size_t i = 0; i < c->nsegs && !r.bad; i++) {
		s = get_str(&r, &len);
		c->segs[i].name = pl_strndup(s, len);
		if (!c->segs[i].name)
			return -1;
		if (!len || memchr(s, '/', len) || s[0] == '.')
			goto damaged;
		c->segs[i].size = get_u64(&r);
		c->segs[i].records = get_u64(&r);
	}
	if (format >= 4) {
		c->dead = get_u64(&r);
		c->runs = get_u32(&r);
	}
	/* files */
	n = get_u64(&r);
	if (n > (uint64_t)(r.end - r.p) / 100)
		goto damaged;
	c->files = pl_calloc(n ? n : 1, sizeof(*c->files));
	if (!c->files)
		return -1;
	c->nfiles = n;
	nfields = 0;
	for (size_t i = 0; i < c->nfiles && !r.bad; i++) {
		struct cache_file *f = &c->files[i];

		s = get_str(&r, &len);
		/* The strings are stored with their NUL: rel points in place. */
		if (!len || s[len - 1] != '\0' || memchr(s, '\0', len - 1))
			goto damaged;
		f->rel = s;
		f->size = get_u64(&r);
		f->mtime_ns = (int64_t)get_u64(&r);
		f->ctime_ns = (int64_t)get_u64(&r);
		f->hashed_ns = (int64_t)get_u64(&r);
		f->ino = get_u64(&r);
		f->dev = get_u64(&r);
		if (r.end - r.p < 16)
			goto damaged;
		memcpy(f->hash, r.p, 16);
		r.p += 16;
		f->seg = get_u32(&r);
		f->off = get_u64(&r);
		f->len = get_u64(&r);
		f->nunits = get_u32(&r);
		f->readlen = format >= 3 ? get_u64(&r) :
			     pl_has_suffix(f->rel, ".gz") ? READLEN_UNKNOWN : f->size;
		f->unit0 = total;
		total += f->nunits;
		if (f->seg >= c->nsegs || f->off > c->segs[f->seg].size ||
		    f->len > c->segs[f->seg].size - f->off)
			goto damaged;
		if (i && strcmp(c->files[i - 1].rel, f->rel) >= 0)
			goto damaged;
		nfields++;
	}
	if (total > (uint64_t)(r.end - r.p) / (hashes ? 16 : 8))
		goto damaged;
	c->nunits = total;
	c->para = pl_malloc((total ? total : 1) * sizeof(*c->para));
	c->label = pl_malloc((total ? total : 1) * sizeof(*c->label));
	if (hashes)
		c->uhash = pl_malloc((total ? total : 1) * sizeof(*c->uhash));
	if (!c->para || !c->label || (hashes && !c->uhash))
		return -1;
	for (uint64_t u = 0; u < total; u++) {
		c->para[u] = get_u32(&r);
		c->label[u] = (int32_t)get_u32(&r);
		if (hashes)
			c->uhash[u] = get_u64(&r);
	}
	/* the previous clustering */
	c->k = get_u32(&r);
	c->metric = get_u32(&r);
	c->next_label = get_u32(&r);
	if (c->k > (uint64_t)(r.end - r.p) / 12)
		goto damaged;
	c->clabel = pl_malloc((c->k + 1) * sizeof(*c->clabel));
	c->cptr = pl_calloc(c->k + 1, sizeof(*c->cptr));
	if (!c->clabel || !c->cptr)
		return -1;
	for (uint32_t j = 0; j < c->k && !r.bad; j++) {
		c->clabel[j] = get_u32(&r);
		n = get_u64(&r);
		if (n > (uint64_t)(r.end - r.p) / 12)
			goto damaged;
		c->cptr[j + 1] = c->cptr[j] + n;
		{
			uint32_t *ct = pl_realloc(c->cterm, (c->cptr[j + 1] + 1) * sizeof(*ct));
			double *cv;

			if (!ct)
				return -1;
			c->cterm = ct;
			cv = pl_realloc(c->cval, (c->cptr[j + 1] + 1) * sizeof(*cv));
			if (!cv)
				return -1;
			c->cval = cv;
		}
		for (uint64_t e = c->cptr[j]; e < c->cptr[j + 1]; e++) {
			c->cterm[e] = get_u32(&r);
			c->cval[e] = get_f64(&r);
			if (c->cterm[e] >= c->terms.n)
				goto damaged;
		}
	}
	/* frames */
	n = get_u32(&r);
	if (n > 1024 || n > (uint64_t)(r.end - r.p) / 4)
		goto damaged;
	c->frame = pl_calloc(n ? n : 1, sizeof(*c->frame));
	c->share = pl_calloc(n * c->k + 1, sizeof(*c->share));
	if (!c->frame || !c->share)
		return -1;
	c->nframes = n;
	for (size_t f = 0; f < c->nframes && !r.bad; f++) {
		s = get_str(&r, &len);
		c->frame[f] = pl_strndup(s, len);
		if (!c->frame[f])
			return -1;
	}
	for (size_t i = 0; i < c->nframes * c->k; i++)
		c->share[i] = get_f64(&r);
	c->prev_units = get_u64(&r);
	c->prev_terms = get_u64(&r);
	if (r.bad || r.p != r.end)
		goto damaged;
	return 0;
damaged:
	{
		struct strbuf m = STRBUF_INIT;

		if (strbuf_addf(&m, "%s/cache.idx is damaged", c->set))
			return -1;
		*why = m.buf;
	}
	return 1;
}

/*
 * cache.idx is mapped, not read: its pages are in the page cache since the
 * run that wrote it, and a copy would be 21 MB of fresh memory on the
 * benchmark's rerun, which a virtual machine whose host reclaims the
 * guest's free memory (free page reporting) backs again at first touch,
 * at about 0.5 GB/s.  A set is never modified after it is published, so
 * the mapping is as stable as the segments' (cache_map_segment).  Returns
 * 0 with *raw set, or 1 with *why (an index that cannot be opened or
 * mapped, or is empty), or -1 out of memory.
 */
static int map_index(const char *path, uint8_t **raw, size_t *len, char **why)
{
	struct strbuf m = STRBUF_INIT;
	struct stat st;
	void *p = MAP_FAILED;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK), e = errno, empty = 0;

	if (fd >= 0 && fstat(fd, &st) != 0)
		e = errno;
	else if (fd >= 0 && (!S_ISREG(st.st_mode) || st.st_size == 0))
		empty = 1;
	else if (fd >= 0 && (p = mmap(NULL, (size_t)st.st_size, PROT_READ,
				      MAP_PRIVATE | MAP_POPULATE, fd, 0)) == MAP_FAILED)
		e = errno;
	if (fd >= 0)
		close(fd);
	if (p != MAP_FAILED) {
		*raw = p;
		*len = (size_t)st.st_size;
		/* (a failure only leaves it unguarded) */
		(void)pl_map_guard(p, *len, path);
		if (PL_ASAN) {
			*raw = pl_malloc(*len);
			if (*raw)
				memcpy(*raw, p, *len);
			pl_map_unguard(p);
			munmap(p, *len);
			if (!*raw)
				return -1;
		}
		return 0;
	}
	if (empty ? strbuf_addf(&m, "%s is damaged", path) :
		    strbuf_addf(&m, "%s: %s", path, strerror(e)))
		return -1;
	*why = m.buf;
	return 1;
}

int cache_load(const char *set, const struct config *cfg, const char *analysis_text,
	       struct cache **out, char **why, struct pl_error *err)
{
	struct strbuf path = STRBUF_INIT;
	struct cache *c;
	uint8_t *raw = NULL;
	size_t rawlen = 0;
	int rc;

	*out = NULL;
	*why = NULL;
	if (strbuf_addf(&path, "%s/cache.idx", set))
		return pl_oom(err);
	if (access(path.buf, F_OK) != 0) {
		strbuf_release(&path);
		return 0; /* none: a first run, or output.incremental = no */
	}
	rc = map_index(path.buf, &raw, &rawlen, why);
	strbuf_release(&path);
	if (rc)
		return rc < 0 ? pl_oom(err) : 0;
	c = pl_calloc(1, sizeof(*c));
	if (!c || !(c->set = pl_strdup(set))) {
		pl_free(c);
		unmap_index(raw, rawlen);
		return pl_oom(err);
	}
	c->raw = raw;
	c->rawlen = rawlen;
	rc = parse_index(c, cfg, analysis_text, why);
	if (rc != 0) {
		cache_free(c);
		return rc < 0 ? pl_oom(err) : 0;
	}
	*out = c;
	return 0;
}

/* ---- the key: a rerun with nothing new ---- */

void cache_listing_add(uint64_t acc[2], const char *rel, const struct fileinfo *fi)
{
	uint64_t v[5] = { fi->size, (uint64_t)fi->mtime_ns, (uint64_t)fi->ctime_ns,
			  fi->ino, fi->dev };
	XXH128_hash_t h;
	uint8_t x[40];

	for (int j = 0; j < 5; j++)
		for (int k = 0; k < 8; k++)
			x[8 * j + k] = (uint8_t)(v[j] >> 8 * k);
	h = XXH3_128bits_withSeed(rel, strlen(rel), XXH3_64bits(x, sizeof(x)));
	acc[0] += h.low64;
	acc[1] += h.high64;
}

void cache_listing_digest(const struct files *f, uint64_t out[2])
{
	out[0] = out[1] = 0;
	for (size_t i = 0; i < f->n; i++)
		cache_listing_add(out, f->path[i] + f->rootlen, &f->info[i]);
}

int cache_key_matches(struct ctx *ctx, const char *set, struct pl_error *err)
{
	struct strbuf path = STRBUF_INIT, data = STRBUF_INIT, now = STRBUF_INIT;
	struct pl_error e;
	struct rd r;
	const char *s;
	size_t len;
	uint64_t want, n, digest[2];
	int rc = 0;

	if (strbuf_addf(&path, "%s/cache.key", set))
		return pl_oom(err);
	if (access(path.buf, F_OK) != 0 ||
	    read_file_bytes(path.buf, (uint64_t)1 << 24, &data, &e) || data.len < 16)
		goto out; /* none, unreadable or truncated: the slow way says why */
	r.p = (const uint8_t *)data.buf + 8;
	r.end = (const uint8_t *)data.buf + data.len - 8;
	r.bad = 0;
	{
		struct rd t = { r.end, r.end + 8, 0 };

		want = get_u64(&t);
	}
	if (memcmp(data.buf, KEY_MAGIC, 8) != 0 ||
	    XXH64(data.buf, data.len - 8, 0) != want)
		goto out;
	s = get_str(&r, &len);
	if (r.bad || len != strlen(PIPELINE_VERSION) || memcmp(s, PIPELINE_VERSION, len))
		goto out;
	s = get_str(&r, &len);
	if (cache_hash_config(ctx, err)) {
		rc = -1;
		goto out;
	}
	if (r.bad || len != ctx->config_text.len ||
	    (len && memcmp(s, ctx->config_text.buf, len)))
		goto out;
	if (get_u64(&r) != ctx->config_hash[2])
		goto out;
	n = get_u64(&r);
	digest[0] = get_u64(&r);
	digest[1] = get_u64(&r);
	if (r.bad || r.p != r.end || n != ctx->files.n)
		goto out;
	rc = ctx->files.digest[0] == digest[0] && ctx->files.digest[1] == digest[1];
out:
	strbuf_release(&path);
	strbuf_release(&data);
	strbuf_release(&now);
	return rc;
}

/* A file hashed within a second of its last change (ctime) is "racily
 * clean" (read_plan): its stat data cannot stand in for its hash, so the
 * run writes no cache.key and every later run would hash it again, and
 * take the slow way to "nothing new", until something else changed.  That
 * is the usual case for a scheduled run: files land just before it starts.
 * At the end of a run, more than a second after such a file's change, it
 * is hashed again: when its stat data is still the listing's (before and
 * after the read) and the bytes hash as before, the new moment of hashing
 * is recorded, and the stat data proves it unchanged from then on.  Only
 * such files are read again (the newest ones), and a file that cannot be
 * read or changed is left as it was: no key, as before. */
int64_t cache_wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return cache_ts_ns(&ts);
}

void cache_settle_racy(struct ctx *ctx)
{
	struct files *f = &ctx->files;

	for (size_t i = 0; i < f->n; i++) {
		struct fileinfo *fi = &f->info[i];
		struct pl_error e;
		struct stat st;
		uint8_t hash[16];
		uint64_t size;
		int64_t now;
		int same = 1;

		if (cache_ctime_settled(fi->ctime_ns, fi->hashed_ns))
			continue;
		now = cache_wall_ns();
		if (!cache_ctime_settled(fi->ctime_ns, now))
			continue; /* still racy: a hash now proves nothing more */
		for (int pass = 0; pass < 2 && same; pass++) {
			same = stat(f->path[i], &st) == 0 &&
			       (uint64_t)st.st_ino == fi->ino && (uint64_t)st.st_dev == fi->dev &&
			       cache_ts_ns(&st.st_mtim) == fi->mtime_ns &&
			       cache_ts_ns(&st.st_ctim) == fi->ctime_ns;
			if (same && pass == 0)
				same = pl_hash_path(f->path[i], fi->size, hash, &size, &e) == 0 &&
				       size == fi->size && memcmp(hash, fi->hash, 16) == 0;
		}
		if (same)
			fi->hashed_ns = now;
	}
}

/* Write cache.key for the index just written, when a rerun may trust it:
 * every file's stat data proves it unchanged as read_plan would (a ctime
 * a second older than its hash), and a rerun would not rebuild the cache
 * (cache_compact, as read_plan asks it).  The config's text and
 * hashes are the index's (cache_write_index took them). */
static int write_key(struct ctx *ctx, uint64_t dead, uint32_t runs,
		     struct pl_error *err)
{
	const struct strbuf *text = &ctx->config_text;
	struct strbuf b = STRBUF_INIT;
	uint64_t digest[2], live = 0;
	int rc;

	for (size_t i = 0; i < ctx->files.n; i++)
		live += cache_weight(ctx->files.info[i].readlen, ctx->files.info[i].size);
	if (cache_compact(live, dead, runs))
		return 0;
	for (size_t i = 0; i < ctx->files.n; i++) {
		const struct fileinfo *fi = &ctx->files.info[i];

		if (!cache_ctime_settled(fi->ctime_ns, fi->hashed_ns))
			return 0;
	}
	cache_listing_digest(&ctx->files, digest);
	if (put(&b, KEY_MAGIC, 8) ||
	    put_str(&b, PIPELINE_VERSION, strlen(PIPELINE_VERSION)) ||
	    put_str(&b, text->buf ? text->buf : "", text->len) ||
	    put_u64(&b, ctx->config_hash[2]) ||
	    put_u64(&b, ctx->files.n) || put_u64(&b, digest[0]) ||
	    put_u64(&b, digest[1]) || put_u64(&b, XXH64(b.buf, b.len, 0))) {
		strbuf_release(&b);
		return pl_oom(err);
	}
	rc = out_file(ctx, "cache.key", b.buf, b.len, err);
	strbuf_release(&b);
	return rc;
}

/* ---- small checked files: cache-counts.idx, cache-axes.bin ---- */

/* Read set/name, a file of `magic` (8 bytes), then at least `min` bytes,
 * then the XXH64 of everything before it, into *data, with *r over what
 * lies between magic and checksum.  CHECKED_OK, CHECKED_NONE (absent or
 * unreadable) or CHECKED_DAMAGED. */
enum { CHECKED_OK, CHECKED_NONE, CHECKED_DAMAGED };
static int read_checked(const char *set, const char *name, const char *magic,
			size_t min, struct strbuf *data, struct rd *r)
{
	struct strbuf path = STRBUF_INIT;
	struct pl_error e;
	struct rd t;
	int none;

	none = strbuf_addf(&path, "%s/%s", set, name) ||
	       access(path.buf, F_OK) != 0 ||
	       read_file_bytes(path.buf, (uint64_t)1 << 34, data, &e);
	strbuf_release(&path);
	if (none)
		return CHECKED_NONE;
	if (data->len < 16 + min || memcmp(data->buf, magic, 8) != 0)
		return CHECKED_DAMAGED;
	r->p = (const uint8_t *)data->buf + 8;
	r->end = (const uint8_t *)data->buf + data->len - 8;
	r->bad = 0;
	t.p = r->end;
	t.end = r->end + 8;
	t.bad = 0;
	if (XXH64(data->buf, data->len - 8, 0) != get_u64(&t))
		return CHECKED_DAMAGED;
	return CHECKED_OK;
}

/* ---- cache-counts.idx ---- */

#define CUTS_NAME "cache-counts.idx"
#define CUTS_MAGIC "PLCUTS1\n"

int cache_write_cuts(struct ctx *ctx, const struct mtx_cuts *c,
		     struct pl_error *err)
{
	struct strbuf b = STRBUF_INIT;
	int rc = put(&b, CUTS_MAGIC, 8) || put_u64(&b, c->size) ||
		 put_u64(&b, c->nrows) || put_u64(&b, c->n);

	for (size_t i = 0; !rc && i < c->n; i++)
		rc = put_u64(&b, c->row[i]) || put_u64(&b, c->off[i]) ||
		     put_u64(&b, c->hash[i]);
	rc = rc || put_u64(&b, XXH64(b.buf, b.len, 0)) ? pl_oom(err) :
	     out_file(ctx, CUTS_NAME, b.buf, b.len, err);
	strbuf_release(&b);
	return rc;
}

int cache_read_cuts(const char *set, struct mtx_cuts *c, const char **why)
{
	struct strbuf data = STRBUF_INIT;
	struct rd r;
	uint64_t n;
	int ok = 0, got;

	memset(c, 0, sizeof(*c));
	got = read_checked(set, CUTS_NAME, CUTS_MAGIC, 32, &data, &r);
	*why = got == CHECKED_NONE ? "no " CUTS_NAME : CUTS_NAME " is damaged";
	if (got != CHECKED_OK)
		goto out;
	c->size = get_u64(&r);
	c->nrows = get_u64(&r);
	n = get_u64(&r);
	if (n == 0 || n != (uint64_t)(r.end - r.p) / 24 || (r.end - r.p) % 24)
		goto out;
	c->row = pl_malloc(n * sizeof(*c->row));
	c->off = pl_malloc(n * sizeof(*c->off));
	c->hash = pl_malloc(n * sizeof(*c->hash));
	if (!c->row || !c->off || !c->hash) {
		*why = "out of memory";
		goto out;
	}
	c->n = c->cap = n;
	for (uint64_t i = 0; i < n; i++) {
		c->row[i] = get_u64(&r);
		c->off[i] = get_u64(&r);
		c->hash[i] = get_u64(&r);
		if ((i > 0 && (c->row[i] <= c->row[i - 1] || c->off[i] <= c->off[i - 1])) ||
		    c->off[i] > c->size || c->row[i] > c->nrows)
			goto out;
	}
	ok = 1;
	*why = NULL;
out:
	if (!ok)
		mtx_cuts_release(c);
	strbuf_release(&data);
	return ok;
}

/* ---- cache-axes.bin ---- */

#define AXES_NAME "cache-axes.bin"
#define AXES_MAGIC "PLAXES1\n"

int cache_write_axes(struct ctx *ctx, const double *axis, size_t d,
		     struct pl_error *err)
{
	struct strbuf b = STRBUF_INIT;
	int rc = put(&b, AXES_MAGIC, 8) || put_u64(&b, d);

	for (size_t i = 0; !rc && i < 2 * d; i++) {
		float f = (float)axis[i];
		uint32_t v;

		memcpy(&v, &f, 4);
		rc = put_u32(&b, v);
	}
	rc = rc || put_u64(&b, XXH64(b.buf, b.len, 0)) ? pl_oom(err) :
	     out_file(ctx, AXES_NAME, b.buf, b.len, err);
	strbuf_release(&b);
	return rc;
}

int cache_read_axes(const char *set, size_t d, double **axis, const char **why)
{
	struct strbuf data = STRBUF_INIT;
	struct rd r;
	double *a = NULL;
	int ok = 0, got;

	*axis = NULL;
	got = read_checked(set, AXES_NAME, AXES_MAGIC, 8, &data, &r);
	*why = got == CHECKED_NONE ? "no " AXES_NAME : AXES_NAME " is damaged";
	if (got != CHECKED_OK)
		goto out;
	if (get_u64(&r) != d || (uint64_t)(r.end - r.p) != 8 * (uint64_t)d) {
		*why = AXES_NAME " is not for this cache's terms";
		goto out;
	}
	a = pl_malloc((d ? 2 * d : 1) * sizeof(*a));
	if (!a) {
		*why = "out of memory";
		goto out;
	}
	for (size_t i = 0; i < 2 * d; i++) {
		uint32_t v = get_u32(&r);
		float f;

		memcpy(&f, &v, 4);
		a[i] = f;
		if (!isfinite(a[i]))
			goto out;
	}
	*axis = a;
	a = NULL;
	ok = 1;
	*why = NULL;
out:
	pl_free(a);
	strbuf_release(&data);
	return ok;
}

int cache_map_segment(struct cache *c, size_t s, struct pl_error *err)
{
	struct cache_seg *g = &c->segs[s];
	struct strbuf path = STRBUF_INIT;
	struct stat st;
	const uint8_t *m, *t;
	uint64_t want;
	int fd;

	if (g->map)
		return 0;
	if (strbuf_addf(&path, "%s/%s", c->set, g->name))
		return pl_oom(err);
	fd = open(path.buf, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size != g->size || g->size < 40) {
		pl_fail(err, PL_EX_DATAERR, "%s: missing or of the wrong size", path.buf);
		goto fail;
	}
	m = mmap(NULL, g->size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (m == MAP_FAILED) {
		pl_fail(err, PL_EX_OSERR, "%s: cannot map: %s", path.buf, strerror(errno));
		goto fail;
	}
	(void)pl_map_guard(m, g->size, path.buf); /* (as map_index) */
	t = m + g->size - 24;
	want = 0;
	for (int i = 7; i >= 0; i--)
		want = want << 8 | t[8 + i];
	g->tables = 0;
	for (int i = 7; i >= 0; i--)
		g->tables = g->tables << 8 | t[i];
	if (memcmp(m, SEG_MAGIC, 8) != 0 || memcmp(t + 16, "PLCSEGEN", 8) != 0 ||
	    XXH64(m, g->size - 16, 0) != want || g->tables < 8 ||
	    g->tables > g->size - 24) {
		pl_map_unguard(m);
		munmap((void *)m, g->size);
		pl_fail(err, PL_EX_DATAERR, "%s: damaged (checksum)", path.buf);
		goto fail;
	}
	g->map = m;
	close(fd);
	strbuf_release(&path);
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	strbuf_release(&path);
	return -1;
}

/* ---- writing segments ---- */

struct segwriter {
	struct outfile of;
	char *name;
	int n;               /* its number among this run's segments */
	struct newcache *nc; /* where its record bytes are noted */
	uint64_t off;        /* bytes written so far */
	struct strbuf rec;
	XXH64_state_t *xs;   /* of every byte written */
	uint8_t *usurf, *uterm; /* which of the ctx's ids the records name */
	size_t usurfcap, utermcap;
};

static int seg_write(struct segwriter *w, const void *p, size_t n,
		     struct pl_error *err)
{
	XXH64_update(w->xs, p, n);
	return out_write(&w->of, p, n, err);
}

int cache_seg_open(struct ctx *main, struct segwriter **out, int n,
		   struct pl_error *err)
{
	struct segwriter *w = pl_calloc(1, sizeof(*w));
	struct strbuf name = STRBUF_INIT;

	*out = NULL;
	if (!w || strbuf_addf(&name, "cache-%s-%d.seg", main->run_id, n)) {
		pl_free(w);
		return pl_oom(err);
	}
	w->name = name.buf;
	w->n = n;
	w->xs = XXH64_createState();
	if (!w->xs) {
		cache_seg_abandon(w);
		return pl_oom(err);
	}
	XXH64_reset(w->xs, 0);
	if (out_open(main, w->name, &w->of, err) || seg_write(w, SEG_MAGIC, 8, err)) {
		cache_seg_abandon(w);
		return -1;
	}
	/* Register it: the index lists the segments in opening order. */
	if (!main->ncache && !(main->ncache = pl_calloc(1, sizeof(*main->ncache))))
		goto oom;
	{
		struct newcache *nc = main->ncache;
		size_t cap = nc->n, icap = nc->nthreads;
		size_t rcap = nc->n;
		char *copy = pl_strdup(w->name);

		if (!copy || pl_grow(&nc->name, &cap, nc->n + 1, sizeof(*nc->name)) ||
		    pl_grow(&nc->records, &rcap, nc->n + 1, sizeof(*nc->records)) ||
		    pl_grow(&nc->index, &icap, (size_t)n + 1, sizeof(*nc->index))) {
			pl_free(copy);
			goto oom;
		}
		nc->nthreads = icap;
		nc->index[n] = (uint32_t)nc->n;
		nc->records[nc->n] = 0;
		nc->name[nc->n++] = copy;
		w->nc = nc;
	}
	w->off = 8;
	*out = w;
	return 0;
oom:
	cache_seg_abandon(w);
	return pl_oom(err);
}

void cache_seg_abandon(struct segwriter *w)
{
	if (!w)
		return;
	out_close(&w->of, NULL);
	if (w->xs)
		XXH64_freeState(w->xs);
	strbuf_release(&w->rec);
	pl_free(w->usurf);
	pl_free(w->uterm);
	pl_free(w->name);
	pl_free(w);
}

static int mark(uint8_t **m, size_t *cap, uint32_t id)
{
	if (id >= *cap) {
		size_t old = *cap;

		if (pl_grow(m, cap, (size_t)id + 1, 1))
			return -1;
		memset(*m + old, 0, *cap - old);
	}
	(*m)[id] = 1;
	return 0;
}

int cache_seg_record(struct segwriter *w, struct ctx *ctx, struct fileinfo *fi,
		     size_t unit0, const struct report *rep, struct pl_error *err)
{
	struct strbuf *b = &w->rec;
	const struct csr *m = &ctx->counts;
	const uint32_t *surf;
	const uint64_t *sc, *pairs;
	size_t ns, np;

	strbuf_reset(b);
	if (put_var(b, rep->bytes) || put_var(b, rep->tokens) ||
	    put_var(b, rep->invalid_bytes) || put_var(b, rep->long_tokens) ||
	    put_var(b, rep->boilerplate_lines) || put_var(b, ctx->units.n - unit0))
		return pl_oom(err);
	/* Every term id of the rows is below the vocabulary's size: the
	 * marks are sized once, and each row's bytes reserved once (5 for
	 * a 32-bit varint, 10 for a 64-bit one). */
	if (ctx->vocab.tab.n && mark(&w->uterm, &w->utermcap, (uint32_t)ctx->vocab.tab.n - 1))
		return pl_oom(err);
	for (size_t u = unit0; u < ctx->units.n; u++) {
		uint64_t a = m->rowptr[u], z = m->rowptr[u + 1];
		uint32_t prev = 0;
		uint8_t *p = room(b, 40 + (size_t)(z - a) * 10);

		if (!p)
			return pl_oom(err);
		p = var_at(p, ctx->units.para[u]);
		p = var_at(p, ctx->units.line[u]);
		p = var_at(p, ctx->units.ntok[u]);
		p = var_at(p, z - a);
		for (uint64_t e = a; e < z; e++) {
			p = var_at(p, m->col[e] - prev);
			p = var_at(p, m->cnt[e]);
			w->uterm[m->col[e]] = 1;
			prev = m->col[e];
		}
		room_done(b, p);
	}
	if (vocabulary_file_stats(ctx, &surf, &sc, &ns, &pairs, &np) ||
	    put_var(b, ns))
		return pl_oom(err);
	if (ns) {
		uint8_t *p = room(b, ns * 15);

		/* The surfaces come sorted: the last is the largest id. */
		if (!p || mark(&w->usurf, &w->usurfcap, surf[ns - 1]))
			return pl_oom(err);
		for (size_t i = 0; i < ns; i++) {
			p = var_at(p, surf[i] - (i ? surf[i - 1] : 0));
			p = var_at(p, sc[i]);
			w->usurf[surf[i]] = 1;
		}
		room_done(b, p);
	}
	if (put_var(b, np))
		return pl_oom(err);
	for (size_t i = 0; i < np; i++)
		if (put_var(b, pairs[i] >> 32) || put_var(b, (uint32_t)pairs[i]) ||
		    put_var(b, sc[ns + i]) ||
		    mark(&w->uterm, &w->utermcap, (uint32_t)(pairs[i] >> 32)) ||
		    mark(&w->usurf, &w->usurfcap, (uint32_t)pairs[i]))
			return pl_oom(err);
	fi->seg = (uint32_t)w->n;
	fi->off = w->off;
	fi->len = b->len;
	w->off += b->len;
	return seg_write(w, b->buf, b->len, err);
}

/* Write the bytes in b through `of` once it holds `min` bytes or more
 * (any, for min 0), adding them to the XXH64 state xs and to *written
 * (when not NULL), and empty b.  The index and a segment's tables are
 * written this way, a megabyte at a time: on a large corpus they run to
 * megabytes, and held whole they and their copy in the output buffer would
 * add to the run's peak.  0 or -1. */
static int hashed_flush(struct outfile *of, XXH64_state_t *xs, struct strbuf *b,
			size_t min, uint64_t *written, struct pl_error *err)
{
	if (b->len < min || b->len == 0)
		return 0;
	XXH64_update(xs, b->buf, b->len);
	if (out_write(of, b->buf, b->len, err))
		return -1;
	if (written)
		*written += b->len;
	strbuf_reset(b);
	return 0;
}

/* What hashed_flush waits for. */
#define FLUSH_BYTES ((size_t)1 << 20)

int cache_seg_close(struct segwriter *w, struct ctx *ctx, struct pl_error *err)
{
	struct strbuf *b = &w->rec;
	uint64_t tables = w->off, n = 0;
	int rc = -1;

	w->nc->records[w->nc->index[w->n]] = tables - 8;
	/* The tables: the surfaces and terms the records name, by the
	 * writing ctx's ids.  A surface carries its flags and the string of
	 * its stem, so a replay can map it the way reading would have. */
	strbuf_reset(b);
	for (size_t i = 0; i < w->usurfcap; i++)
		n += w->usurf[i];
	if (put_u64(b, n))
		goto oom;
	for (size_t i = 0; i < w->usurfcap; i++) {
		uint32_t st;

		if (!w->usurf[i])
			continue;
		st = ctx->surf.stem[i];
		if (put_u32(b, (uint32_t)i) || put(b, &ctx->surf.flags[i], 1) ||
		    put_str(b, strtab_str(&ctx->surf.tab, (uint32_t)i),
			    strtab_len(&ctx->surf.tab, (uint32_t)i)) ||
		    put_str(b, st == ID_NONE ? "" : strtab_str(&ctx->stems.tab, st),
			    st == ID_NONE ? 0 : strtab_len(&ctx->stems.tab, st)) ||
		    put(b, st == ID_NONE ? &(uint8_t){ 255 } : &ctx->stems.kind[st], 1))
			goto oom;
		if (hashed_flush(&w->of, w->xs, b, FLUSH_BYTES, &w->off, err))
			goto out;
	}
	n = 0;
	for (size_t i = 0; i < w->utermcap; i++)
		n += w->uterm[i];
	if (put_u64(b, n))
		goto oom;
	for (size_t i = 0; i < w->utermcap; i++) {
		if (!w->uterm[i])
			continue;
		if (put_u32(b, (uint32_t)i) || put(b, &ctx->vocab.kind[i], 1) ||
		    put_str(b, strtab_str(&ctx->vocab.tab, (uint32_t)i),
			    strtab_len(&ctx->vocab.tab, (uint32_t)i)))
			goto oom;
		if (hashed_flush(&w->of, w->xs, b, FLUSH_BYTES, &w->off, err))
			goto out;
	}
	if (hashed_flush(&w->of, w->xs, b, 0, &w->off, err))
		goto out;
	/* Trailer: the tables' offset, the XXH64 of every byte before the
	 * hash itself, and a magic. */
	strbuf_reset(b);
	if (put_u64(b, tables) || seg_write(w, b->buf, b->len, err))
		goto out;
	strbuf_reset(b);
	if (put_u64(b, XXH64_digest(w->xs)) || put(b, "PLCSEGEN", 8))
		goto oom;
	if (out_write(&w->of, b->buf, b->len, err))
		goto out;
	rc = out_close(&w->of, err);
	goto out;
oom:
	pl_oom(err);
out:
	cache_seg_abandon(w);
	return rc;
}

/* ---- replay ---- */

struct segmap {
	int ready;
	uint32_t *surf;      /* segment surface id -> ctx surface id */
	uint32_t *term;      /* segment term id -> ctx term id */
	size_t nsurf, nterm;
	uint64_t released;   /* this ctx gave back the pages below this */
};

/* Pages of replayed records are given back this many bytes at a time. */
#define REPLAY_RELEASE ((uint64_t)4 << 20)

struct replaymaps {
	size_t n;
	struct segmap *m;
	uint32_t *term, *cnt;   /* one statement's row */
	size_t cap;
};

void cache_maps_free(struct replaymaps *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++) {
		pl_free(r->m[i].surf);
		pl_free(r->m[i].term);
	}
	pl_free(r->m);
	pl_free(r->term);
	pl_free(r->cnt);
	pl_free(r);
}

static int damaged_seg(const struct cache *c, size_t s, struct pl_error *err)
{
	return pl_fail(err, PL_EX_DATAERR, "%s/%s: damaged (inconsistent record)",
		       c->set, c->segs[s].name);
}

/* Grow the id map *map (*n entries) to hold segment id `id`; new entries
 * are ID_NONE until the segment's table names them.  0 or -1. */
static int idmap_reach(uint32_t **map, size_t *n, uint32_t id)
{
	size_t old = *n;

	if (id < old)
		return 0;
	if (pl_grow(map, n, (size_t)id + 1, sizeof(**map)))
		return -1;
	for (size_t j = old; j < *n; j++)
		(*map)[j] = ID_NONE;
	return 0;
}

/*
 * Interning a segment's tables is most of what a read thread does before
 * its first record (175,000 surfaces and 162,000 terms on the benchmark:
 * 0.1 to 0.18 s a table).  Each lookup would wait for memory twice (the
 * slot, then the entry it names), so the entries go in batches of
 * STRTAB_BATCH, parsed and hashed first with their slots asked for, then
 * their entries asked for, then interned in table order (as common.c's
 * merges do).  The ids given are those of one entry at a time.
 */

/* An entry of a segment's surfaces table (flags and stem too) or of its
 * terms table. */
struct table_entry {
	uint32_t id, h;
	uint8_t flags, kind;
	const char *str, *stem;
	size_t len, slen;
};

/* The bytes of the surfaces' strings in a table of n entries from r on
 * (r is not moved; a damaged table gives what it can, build_map finds
 * the damage). */
static size_t surf_bytes(struct rd r, uint64_t n)
{
	size_t bytes = 0;

	for (uint64_t i = 0; i < n && !r.bad; i++) {
		size_t len, slen;

		(void)get_u32(&r);
		r.p += r.p < r.end;                  /* flags */
		(void)get_str(&r, &len);
		(void)get_str(&r, &slen);
		r.p += r.p < r.end;                  /* kind */
		bytes += len;
	}
	return bytes;
}

/* Read the next entry of the surfaces (terms = 0) or terms table into x.
 * 0, or -1 when it is damaged. */
static int parse_entry(struct rd *r, int terms, struct table_entry *x)
{
	x->id = get_u32(r);
	if (terms) {
		x->kind = r->p < r->end ? *r->p++ : 0;
		x->str = get_str(r, &x->len);
		return r->bad || x->id >= (1u << 31) || x->kind > TERM_NGRAM ? -1 : 0;
	}
	x->flags = r->p < r->end ? *r->p++ : 0;
	x->str = get_str(r, &x->len);
	x->stem = get_str(r, &x->slen);
	x->kind = r->p < r->end ? *r->p++ : 0;
	return r->bad || x->id >= (1u << 31) ? -1 : 0;
}

/* Map entry x of segment s's surfaces (terms = 0) or terms table to
 * ctx's: a surface is interned (and its stem, when ctx has none for it
 * yet); a term is the cache's, preloaded, looked up by its stem.  0 or
 * -1. */
static int intern_entry(struct ctx *ctx, struct cache *c, size_t s,
			struct segmap *sm, int terms, const struct table_entry *x,
			struct pl_error *err)
{
	uint32_t sid, st;
	int added;

	if (terms) {
		if (idmap_reach(&sm->term, &sm->nterm, x->id))
			return pl_oom(err);
		sm->term[x->id] = vocabulary_term_hash(ctx, x->str, x->len, x->h, x->kind);
		return sm->term[x->id] == ID_NONE ? pl_oom(err) : 0;
	}
	if (idmap_reach(&sm->surf, &sm->nsurf, x->id) ||
	    surfaces_intern_hash(&ctx->surf, x->str, x->len, x->h, &sid, &added))
		return pl_oom(err);
	if (added)
		ctx->surf.flags[sid] = x->flags;
	if (x->kind != 255 && ctx->surf.stem[sid] == ID_NONE) {
		if (x->kind > TERM_NGRAM)
			return damaged_seg(c, s, err);
		if (stems_intern(&ctx->stems, x->stem, x->slen, x->kind, &st))
			return pl_oom(err);
		ctx->surf.stem[sid] = st;
	}
	sm->surf[x->id] = sid;
	return 0;
}

/* Intern segment s's tables into ctx: the map from its ids to ctx's. */
static int build_map(struct ctx *ctx, struct cache *c, size_t s,
		     struct segmap *sm, struct pl_error *err)
{
	const struct cache_seg *g = &c->segs[s];
	struct rd r = { g->map + g->tables, g->map + g->size - 24, 0 };
	struct table_entry e[STRTAB_BATCH];

	for (int terms = 0; terms < 2; terms++) {
		/* A term's lookup is its stem's (vocabulary_term_hash). */
		struct strtab *tab = terms ? &ctx->stems.tab : &ctx->surf.tab;
		uint64_t n = get_u64(&r);

		if (r.bad || n > (uint64_t)(r.end - r.p) / (terms ? 9 : 14))
			return damaged_seg(c, s, err);
		/* A ctx's first segment fills its surfaces: their table at
		 * its size at once, rather than rehashed as it doubles. */
		if (!terms && tab->n < n / 4 && strtab_reserve(tab, n, surf_bytes(r, n)))
			return pl_oom(err);
		for (uint64_t i = 0; i < n; i += STRTAB_BATCH) {
			size_t m = n - i < STRTAB_BATCH ? (size_t)(n - i) : STRTAB_BATCH;

			for (size_t k = 0; k < m; k++) {
				if (parse_entry(&r, terms, &e[k]))
					return damaged_seg(c, s, err);
				e[k].h = (uint32_t)pl_hash(e[k].str, e[k].len);
				strtab_prefetch(tab, e[k].h);
			}
			for (size_t k = 0; k < m; k++)
				strtab_prefetch_entry(tab, e[k].h);
			for (size_t k = 0; k < m; k++)
				if (intern_entry(ctx, c, s, sm, terms, &e[k], err))
					return -1;
		}
	}
	if (r.bad || r.p != r.end)
		return damaged_seg(c, s, err);
	sm->ready = 1;
	return 0;
}

int cache_replay(struct ctx *ctx, struct cache *c, struct replaymaps **maps,
		 uint32_t cf, uint32_t file, uint64_t *bytes,
		 struct pl_error *err)
{
	const struct cache_file *f = &c->files[cf];
	struct replaymaps *rm = *maps;
	struct segmap *sm;
	struct rd r;
	uint64_t nunits, n;
	struct report *rep = &ctx->rep;

	if (!rm) {
		rm = pl_calloc(1, sizeof(*rm));
		if (!rm || !(rm->m = pl_calloc(c->nsegs ? c->nsegs : 1, sizeof(*rm->m)))) {
			pl_free(rm);
			return pl_oom(err);
		}
		rm->n = c->nsegs;
		*maps = rm;
	}
	sm = &rm->m[f->seg];
	if (!sm->ready && build_map(ctx, c, f->seg, sm, err))
		return -1;
	r.p = c->segs[f->seg].map + f->off;
	r.end = r.p + f->len;
	r.bad = 0;
	if (f->off < 8 || f->off + f->len > c->segs[f->seg].tables)
		return damaged_seg(c, f->seg, err);
	n = get_var(&r);
	*bytes = n;
	rep->bytes += n;
	rep->tokens += get_var(&r);
	rep->invalid_bytes += get_var(&r);
	rep->long_tokens += get_var(&r);
	rep->boilerplate_lines += get_var(&r);
	nunits = get_var(&r);
	if (nunits != f->nunits)
		return damaged_seg(c, f->seg, err);
	for (uint64_t u = 0; u < nunits && !r.bad; u++) {
		uint32_t para = (uint32_t)get_var(&r), line = (uint32_t)get_var(&r);
		uint32_t ntok = (uint32_t)get_var(&r), prev = 0, id;

		n = get_var(&r);
		if (n > (uint64_t)(r.end - r.p) / 2)
			return damaged_seg(c, f->seg, err);
		if (n + 1 > rm->cap) {
			size_t c1 = rm->cap, c2 = rm->cap;

			if (pl_grow(&rm->term, &c1, n + 1, sizeof(*rm->term)) ||
			    pl_grow(&rm->cnt, &c2, n + 1, sizeof(*rm->cnt)))
				return pl_oom(err);
			rm->cap = c1 < c2 ? c1 : c2;
		}
		for (uint64_t e = 0; e < n; e++) {
			uint64_t t = prev + get_var(&r);

			if (t >= sm->nterm || sm->term[t] == ID_NONE)
				return damaged_seg(c, f->seg, err);
			prev = (uint32_t)t;
			rm->term[e] = sm->term[t];
			rm->cnt[e] = (uint32_t)get_var(&r);
		}
		if (r.bad || units_add(ctx, file, para, line))
			return r.bad ? damaged_seg(c, f->seg, err) : pl_oom(err);
		id = (uint32_t)ctx->units.n - 1;
		ctx->units.ntok[id] = ntok;
		/* the text's hash is the index's (segments do not hold it); 0
		 * from an index that has none: unknown (summary.c) */
		ctx->units.hash[id] = c->uhash ? c->uhash[f->unit0 + u] : 0;
		if (vocabulary_row(ctx, id, rm->term, rm->cnt, n, err))
			return err->code == PL_EX_DATAERR ? damaged_seg(c, f->seg, err) : -1;
	}
	n = get_var(&r);
	for (uint64_t i = 0, prev = 0; i < n && !r.bad; i++) {
		uint64_t s = prev + get_var(&r), k = get_var(&r);

		if (s >= sm->nsurf || sm->surf[s] == ID_NONE)
			return damaged_seg(c, f->seg, err);
		ctx->surf.count[sm->surf[s]] += k;
		prev = s;
	}
	n = get_var(&r);
	for (uint64_t i = 0; i < n && !r.bad; i++) {
		uint64_t t = get_var(&r), s = get_var(&r), k = get_var(&r);

		if (t >= sm->nterm || sm->term[t] == ID_NONE || s >= sm->nsurf ||
		    sm->surf[s] == ID_NONE)
			return damaged_seg(c, f->seg, err);
		if (vocabulary_pair(ctx, sm->term[t], sm->surf[s], k))
			return pl_oom(err);
	}
	if (r.bad || r.p != r.end)
		return damaged_seg(c, f->seg, err);
	/* A ctx replays its files in path order, which is the order their
	 * records were written in: give back the pages behind it, or the
	 * whole mapped segment stays in the run's memory beside the counts
	 * being built until the read is done.  A page wanted again (another
	 * thread's record on it, a renamed file out of order) is read from
	 * the file again. */
	{
		const uint8_t *map = c->segs[f->seg].map;
		uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
		uint64_t end = (f->off + f->len) / page * page;

		if (end >= sm->released + REPLAY_RELEASE) {
			madvise((void *)(map + sm->released), end - sm->released,
				MADV_DONTNEED);
			sm->released = end;
		}
	}
	return 0;
}

/* ---- the index ---- */

/* unit_share of each frame in each cluster (k x nframes, ctx->km's
 * cluster numbering), as frames.tsv computes it.  NULL when out of memory
 * or when there is no clustering or no frame (then *out is NULL and 0 is
 * returned). */
int cache_frame_shares(const struct ctx *ctx, double **out)
{
	const struct clustering *km = &ctx->km;
	size_t nf = ctx->frames.n, k = km->k;
	double *sh;

	*out = NULL;
	if (!nf || !k || !km->assign || !ctx->frames.hits)
		return 0;
	sh = pl_calloc(k * nf, sizeof(*sh));
	if (!sh)
		return -1;
	for (size_t u = 0; u < ctx->units.n; u++) {
		int32_t c = km->assign[u];

		if (c < 0)
			continue;
		for (size_t f = 0; f < nf; f++)
			sh[(size_t)c * nf + f] += ctx->frames.hits[u * nf + f] > 0;
	}
	for (size_t c = 0; c < k; c++)
		for (size_t f = 0; f < nf; f++)
			sh[c * nf + f] = km->size[c] ? sh[c * nf + f] / km->size[c] : 0;
	*out = sh;
	return 0;
}

int cache_write_sources(struct ctx *ctx, struct pl_error *err)
{
	struct strbuf sb = STRBUF_INIT;
	struct outfile of;
	size_t *units = pl_calloc(ctx->files.n ? ctx->files.n : 1, sizeof(*units));
	int rc = -1;

	if (!units)
		return pl_oom(err);
	for (size_t u = 0; u < ctx->units.n; u++)
		units[ctx->units.file[u]]++;
	if (out_open(ctx, "sources.tsv", &of, err))
		goto out;
	if (out_printf(err, &of, "file\tbytes\txxh3_128\tstatements\tread\n"))
		goto fail;
	for (size_t i = 0; i < ctx->files.n; i++) {
		const struct fileinfo *fi = &ctx->files.info[i];
		char hex[33];

		pl_hash_hex(fi->hash, hex);
		strbuf_reset(&sb);
		/* file, bytes, xxh3_128, statements, read */
		if (strbuf_add_tsv(&sb, ctx->files.rel[i], strlen(ctx->files.rel[i])) ||
		    strbuf_addch(&sb, '\t') || strbuf_add_u64(&sb, fi->size) ||
		    strbuf_addch(&sb, '\t') || strbuf_add(&sb, hex, 32) ||
		    strbuf_addch(&sb, '\t') || strbuf_add_u64(&sb, units[i]) ||
		    strbuf_addstr(&sb, fi->cached == CACHE_NONE ? "\tthis run\n" : "\tcache\n")) {
			pl_oom(err);
			goto fail;
		}
		if (out_write(&of, sb.buf, sb.len, err))
			goto fail;
	}
	rc = out_close(&of, err);
	goto out;
fail:
	out_close(&of, NULL);
out:
	strbuf_release(&sb);
	pl_free(units);
	return rc;
}

/* cache.idx is written as it is made, a megabyte at a time (hashed_flush),
 * so that the index (21 MB on the 520 MB benchmark corpus) is never held
 * whole at the end of a run, where k-means' results and the matrix still
 * are. */
struct idxout {
	struct outfile of;
	int open;
	XXH64_state_t *xs;   /* of every byte written */
};

int cache_write_index(struct ctx *ctx, struct pl_error *err)
{
	struct cache *c = ctx->cache;
	struct newcache *nc = ctx->ncache;
	const struct clustering *km = &ctx->km;
	struct strbuf b = STRBUF_INIT, path = STRBUF_INIT;
	const struct strbuf *text;
	uint32_t *segmap = NULL;   /* old segment -> new index, or NONE */
	size_t nsegs = 0;
	double *shares = NULL;
	uint64_t dead = 0;
	uint32_t runs = 0;
	struct idxout o = { .open = 0 };
	int rc = -1;

	cache_settle_racy(ctx);
	if (cache_write_sources(ctx, err))
		return -1;
	o.xs = XXH64_createState();
	if (!o.xs)
		return pl_oom(err);
	XXH64_reset(o.xs, 0);
	if (out_open(ctx, "cache.idx", &o.of, err))
		goto out;
	o.open = 1;
	if (c && c->nsegs) {
		segmap = pl_malloc(c->nsegs * sizeof(*segmap));
		if (!segmap)
			goto oom;
		for (size_t s = 0; s < c->nsegs; s++)
			segmap[s] = CACHE_NONE;
		for (size_t i = 0; i < ctx->files.n; i++) {
			uint32_t cf = ctx->files.info[i].cached;

			if (cf != CACHE_NONE && segmap[c->files[cf].seg] == CACHE_NONE)
				segmap[c->files[cf].seg] = 0;
		}
		/* Keep the live old segments, in their old order. */
		for (size_t s = 0; s < c->nsegs; s++) {
			if (segmap[s] == CACHE_NONE)
				continue;
			strbuf_reset(&path);
			if (strbuf_addf(&path, "%s/%s", c->set, c->segs[s].name))
				goto oom;
			if (outdir_adopt(ctx, path.buf, c->segs[s].name, err))
				goto out;
			segmap[s] = (uint32_t)nsegs++;
		}
	}
	if (cache_hash_config(ctx, err))
		goto out;
	text = &ctx->config_text;
	if (put(&b, IDX_MAGIC, 8) ||
	    put_str(&b, PIPELINE_VERSION, strlen(PIPELINE_VERSION)) ||
	    put_str(&b, ctx->run_id, strlen(ctx->run_id)) ||
	    put_u64(&b, ctx->config_hash[1]) ||
	    put_u64(&b, ctx->config_hash[2]) ||
	    put_str(&b, text->buf ? text->buf : "", text->len))
		goto oom;
	if (put_u64(&b, ctx->vocab.tab.n))
		goto oom;
	for (size_t t = 0; t < ctx->vocab.tab.n; t++)
		if (put(&b, &ctx->vocab.kind[t], 1) ||
		    put_str(&b, strtab_str(&ctx->vocab.tab, (uint32_t)t),
			    strtab_len(&ctx->vocab.tab, (uint32_t)t)))
			goto oom;
	if (put_u64(&b, nsegs + (nc ? nc->n : 0)))
		goto oom;
	for (size_t s = 0; c && s < c->nsegs; s++)
		if (segmap[s] != CACHE_NONE &&
		    (put_str(&b, c->segs[s].name, strlen(c->segs[s].name)) ||
		     put_u64(&b, c->segs[s].size) || put_u64(&b, c->segs[s].records)))
			goto oom;
	for (size_t s = 0; nc && s < nc->n; s++) {
		struct stat st;

		strbuf_reset(&path);
		if (strbuf_addf(&path, "%s/%s", ctx->staging, nc->name[s]))
			goto oom;
		if (stat(path.buf, &st) != 0) {
			pl_fail(err, PL_EX_IOERR, "%s: %s", path.buf, strerror(errno));
			goto out;
		}
		if (put_str(&b, nc->name[s], strlen(nc->name[s])) ||
		    put_u64(&b, (uint64_t)st.st_size) || put_u64(&b, nc->records[s]))
			goto oom;
	}
	/* The compaction's counters (struct cache): from 0 after a run
	 * that replayed nothing (it read everything, and keeps no old
	 * segment: none holds a live record). */
	if (nsegs > 0) {
		dead = ctx->plan.dead;
		runs = c->runs;
	}
	runs += nc && nc->n;
	if (put_u64(&b, dead) || put_u32(&b, runs))
		goto oom;
	if (put_u64(&b, ctx->files.n))
		goto oom;
	{
		size_t u = 0;

		for (size_t i = 0; i < ctx->files.n; i++) {
			const struct fileinfo *fi = &ctx->files.info[i];
			const char *rel = ctx->files.path[i] + ctx->files.rootlen;
			uint32_t seg;
			uint64_t off, len, nu = 0;

			while (u + nu < ctx->units.n && ctx->units.file[u + nu] == i)
				nu++;
			u += nu;
			if (fi->cached != CACHE_NONE) {
				const struct cache_file *f = &c->files[fi->cached];

				seg = segmap[f->seg];
				off = f->off;
				len = f->len;
			} else {
				seg = (uint32_t)(nsegs + nc->index[fi->seg]);
				off = fi->off;
				len = fi->len;
			}
			if (put_str(&b, rel, strlen(rel) + 1) ||
			    put_u64(&b, fi->size) || put_u64(&b, (uint64_t)fi->mtime_ns) ||
			    put_u64(&b, (uint64_t)fi->ctime_ns) ||
			    put_u64(&b, (uint64_t)fi->hashed_ns) || put_u64(&b, fi->ino) ||
			    put_u64(&b, fi->dev) || put(&b, fi->hash, 16) ||
			    put_u32(&b, seg) || put_u64(&b, off) || put_u64(&b, len) ||
			    put_u32(&b, (uint32_t)nu) || put_u64(&b, fi->readlen))
				goto oom;
			if (hashed_flush(&o.of, o.xs, &b, FLUSH_BYTES, NULL, err))
				goto out;
		}
	}
	for (size_t u = 0; u < ctx->units.n; u++) {
		int32_t a = km->assign && km->k ? km->assign[u] : -1;

		if (put_u32(&b, ctx->units.para[u]) ||
		    put_u32(&b, a >= 0 ? cluster_id(km, a) : 0) ||
		    put_u64(&b, ctx->units.hash[u]))
			goto oom;
		if (hashed_flush(&o.of, o.xs, &b, FLUSH_BYTES, NULL, err))
			goto out;
	}
	/* The clustering: centroids over the kept columns, as term ids. */
	if (put_u32(&b, km->assign ? km->k : 0) ||
	    put_u32(&b, (uint32_t)ctx->cfg->v[CFG_kmeans_metric].i) ||
	    put_u32(&b, km->next_label ? km->next_label : km->k + 1))
		goto oom;
	if (km->assign && km->k) {
		const size_t d = km->d;

		for (uint32_t j = 0; j < km->k; j++) {
			const double *row = km->centroid + (size_t)j * d;
			uint64_t nnz = 0;

			for (size_t i = 0; i < d; i++)
				nnz += row[i] != 0;
			if (put_u32(&b, cluster_id(km, (int32_t)j)) || put_u64(&b, nnz))
				goto oom;
			for (size_t i = 0; i < d; i++)
				if (row[i] != 0 && (put_u32(&b, km->col[i]) ||
						    put_f64(&b, row[i])))
					goto oom;
			if (hashed_flush(&o.of, o.xs, &b, FLUSH_BYTES, NULL, err))
				goto out;
		}
	}
	if (cache_frame_shares(ctx, &shares))
		goto oom;
	if (put_u32(&b, (uint32_t)ctx->frames.n))
		goto oom;
	for (size_t f = 0; f < ctx->frames.n; f++)
		if (put_str(&b, ctx->frames.name[f], strlen(ctx->frames.name[f])))
			goto oom;
	if (km->assign && km->k)
		for (size_t i = 0; i < (size_t)km->k * ctx->frames.n; i++)
			if (put_f64(&b, shares ? shares[i] : 0))
				goto oom;
	if (put_u64(&b, ctx->units.n) || put_u64(&b, ctx->vocab.tab.n))
		goto oom;
	if (hashed_flush(&o.of, o.xs, &b, 0, NULL, err))
		goto out;
	if (put_u64(&b, XXH64_digest(o.xs)))
		goto oom;
	if (out_write(&o.of, b.buf, b.len, err))
		goto out;
	o.open = 0;
	if (out_close(&o.of, err))
		goto out;
	rc = write_key(ctx, dead, runs, err);
	goto out;
oom:
	rc = pl_oom(err);
out:
	if (o.open)
		out_close(&o.of, NULL);
	XXH64_freeState(o.xs);
	pl_free(segmap);
	pl_free(shares);
	strbuf_release(&b);
	strbuf_release(&path);
	return rc;
}
