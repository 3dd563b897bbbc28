/* plot.c -- PNG plots of a run's outputs, drawn by gnuplot
 *
 * In: the files a run published in [output] dir (output/README.md):
 * projection.tsv, summary.json, frames.tsv, tfidf.mtx.gz, and ksweep.tsv
 * when the run swept k.  Out: plots/ in that folder, with one gnuplot
 * script per plot, the small data files the scripts read, and the PNGs
 * gnuplot draws from them (plot.h lists them).  Nothing is recomputed but
 * the total variance of the TF-IDF matrix, for the axis labels of the
 * cluster map: |X - 1 mu^T|_F^2 = sum of squared weights - |column sums|^2
 * / n, one pass over tfidf.mtx.gz.  The share of an axis is then the sum
 * of squares of its coordinates in projection.tsv over that total.
 *
 * Each script starts from the same prelude: PNG through pngcairo when the
 * gnuplot at hand has it (Debian's gnuplot-nox does), else the libgd png
 * terminal; text without enhanced-text markup, so an '_' or '^' in a term
 * prints as it is; tab-separated data.  Labels taken from the outputs
 * (terms, frame names) are written with control characters as spaces, '"'
 * as '\'' (gnuplot would take a field starting with '"' as quoted) and cut
 * to LABEL_CHARS characters; in the scripts they are single-quoted, where
 * only '' needs escaping.
 *
 * gnuplot runs as a child process (fork, chdir to plots/, execvp) with its
 * stdout sent to our stderr, so stdout carries only the PNG paths.  A
 * close-on-exec pipe tells a failed exec (gnuplot not installed) from
 * gnuplot failing on a script.
 */
#include "plot.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

/* Labels are cut to this many characters (then "..."). */
#define LABEL_CHARS 40
/* The cluster map numbers its points when there are at most this many. */
#define MAP_NUMBERED 60

/* Cluster colours (Tableau 10 without its grey, kept for unclustered
 * statements) and, past nine clusters, point shapes: cluster c is colour
 * c % 9 and shape c / 9 % 5. */
static const char *const colours[] = {
	"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
	"#edc948", "#b07aa1", "#ff9da7", "#9c755f",
};
#define NCOLOURS (sizeof(colours) / sizeof(colours[0]))
static const int shapes[] = { 7, 5, 9, 11, 13 };
#define NSHAPES (sizeof(shapes) / sizeof(shapes[0]))
#define GREY "#9a9a9a"

/* The quality columns of ksweep.tsv, in panel order. */
static const struct {
	const char *col, *title;
} kq_cols[] = {
	{ "silhouette", "silhouette (higher is better)" },
	{ "calinski_harabasz", "Calinski-Harabasz (higher is better)" },
	{ "davies_bouldin", "Davies-Bouldin (lower is better)" },
	{ "inertia", "inertia, the k-means objective (look for an elbow)" },
	{ "objective", "the k-means objective (look for an elbow)" },
};
#define NKQ (sizeof(kq_cols) / sizeof(kq_cols[0]))

/* ---- the script texts ---- */

/* Every script begins with this, after its comment lines and the canvas
 * size in pixels, which it takes from the gnuplot variables W and H. */
static const char gp_prelude[] =
	"if (strstrt(GPVAL_TERMINALS, \"pngcairo\") > 0) {\n"
	"\tset terminal pngcairo noenhanced size W, H font \"Sans,11\"\n"
	"} else {\n"
	"\tset terminal png noenhanced size W, H\n"
	"}\n"
	"set datafile separator \"\\t\"\n"
	"set encoding utf8\n";

static const char gp_cluster_map[] =
	"set xlabel sprintf(\"first principal axis (%.1f%% of the variance)\", 100 * var1)\n"
	"set ylabel sprintf(\"second principal axis (%.1f%% of the variance)\", 100 * var2)\n"
	"set key outside right top vertical Left reverse samplen 1 spacing 1.3\n"
	"set key title \"cluster: top terms (statements)\" left\n"
	"set grid back lc rgb \"#e5e5e5\"\n"
	"set xzeroaxis lt 0\n"
	"set yzeroaxis lt 0\n"
	"set size ratio -1\n"
	"set autoscale fix\n"
	"set offsets graph 0.05, graph 0.05, graph 0.05, graph 0.05\n"
	"data = \"../projection.tsv\"\n";

static const char gp_top_terms[] =
	"set style fill solid 0.85 noborder\n"
	"set xlabel \"mean TF-IDF in the cluster\" offset 0, 0.5\n"
	"set xtics nomirror out font \",9\"\n"
	"set ytics nomirror scale 0\n"
	"set grid xtics back lc rgb \"#e5e5e5\"\n"
	"set border 3\n"
	"unset key\n"
	"data = \"top_terms.tsv\"\n";

static const char gp_frames_heatmap[] =
	"set title \"Share of each frame's hits that falls in each cluster, and how many\\n"
	"of the cluster's statements carry the frame (a row adds up to less\\n"
	"than 100% when statements left unclustered have hits)\"\n"
	"set xlabel \"cluster (statements)\" offset 0, -0.8\n"
	"set ylabel \"frame\"\n"
	"set cbrange [0:1]\n"
	/* tic labels are formats: %% prints % */
	"set cbtics (\"0%%\" 0, \"25%%\" 0.25, \"50%%\" 0.5, \"75%%\" 0.75, \"100%%\" 1)\n"
	"set cblabel \"share of the frame's hits\"\n"
	"set palette defined (0 \"#f7fbff\", 0.35 \"#9ecae1\", 0.7 \"#3182bd\", 1 \"#08306b\")\n"
	"set tics scale 0\n"
	"unset key\n"
	"data = \"frames_heatmap.tsv\"\n"
	"plot data using 1:2:(0.5):(0.5):3 with boxxyerror fs solid 1 noborder lc palette, \\\n"
	"     data using 1:2:(sprintf(\"%.0f%%\\n%d of %d statement%s\", 100 * $3, $4, $5, $5 == 1 ? \"\" : \"s\")):"
	"($3 < 0.5 ? 0x202020 : 0xffffff) with labels tc rgb variable font \",10\"\n";

static const char gp_ksweep[] =
	"set datafile missing \"NA\"\n"
	"set grid back lc rgb \"#e5e5e5\"\n"
	"set xlabel \"k (clusters)\"\n"
	"set offsets 0, 0, graph 0.08, graph 0.08\n"
	"unset key\n"
	"data = \"../ksweep.tsv\"\n";

/* ---- reading the outputs ---- */

/* Lines of a plain or gzip file (zlib reads both). */
struct reader {
	gzFile gz;
	const char *path;
	struct strbuf line;   /* the current line, without its newline */
	unsigned long lineno;
};

static int reader_open(struct reader *r, const char *path, struct pl_error *err)
{
	memset(r, 0, sizeof(*r));
	r->path = path;
	r->gz = gzopen(path, "rb");
	if (!r->gz)
		return pl_fail(err, errno == ENOENT ? PL_EX_NOINPUT : PL_EX_IOERR,
			       "%s: cannot open: %s", path,
			       errno ? strerror(errno) : "out of memory");
	return 0;
}

/* 1 with the next line in r->line, 0 at the end, -1 on error. */
static int reader_next(struct reader *r, struct pl_error *err)
{
	char chunk[4096];
	int errnum;

	strbuf_reset(&r->line);
	for (;;) {
		size_t n;

		if (!gzgets(r->gz, chunk, sizeof(chunk))) {
			const char *msg = gzerror(r->gz, &errnum);

			if (errnum != Z_OK && errnum != Z_STREAM_END)
				return pl_fail(err, PL_EX_IOERR, "%s: %s", r->path, msg);
			if (r->line.len == 0)
				return 0;
			break;
		}
		n = strlen(chunk);
		if (strbuf_add(&r->line, chunk, n))
			return pl_oom(err);
		if (n && chunk[n - 1] == '\n')
			break;
	}
	if (r->line.len && r->line.buf[r->line.len - 1] == '\n')
		r->line.buf[--r->line.len] = '\0';
	r->lineno++;
	return 1;
}

static void reader_close(struct reader *r)
{
	if (r->gz)
		gzclose(r->gz);
	r->gz = NULL;
	strbuf_release(&r->line);
}

/* Split a line in place at tabs; returns the number of fields (at most
 * max; the last one keeps any further tabs). */
static int split_tabs(char *line, char **f, int max)
{
	int n = 0;

	f[n++] = line;
	while (n < max) {
		char *t = strchr(f[n - 1], '\t');

		if (!t)
			break;
		*t = '\0';
		f[n++] = t + 1;
	}
	return n;
}

/* The index of `name` among the n header fields, or -1. */
static int column(char *const *f, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (strcmp(f[i], name) == 0)
			return i;
	return -1;
}

static int parse_real(const char *s, double *v)
{
	char *end;

	errno = 0;
	*v = strtod(s, &end);
	return end != s && *end == '\0' && errno != ERANGE && isfinite(*v) ? 0 : -1;
}

static int parse_count(const char *s, long max, long *v)
{
	char *end;

	errno = 0;
	if (*s < '0' || *s > '9')
		return -1;
	*v = strtol(s, &end, 10);
	return *end == '\0' && errno == 0 && *v <= max ? 0 : -1;
}

/* ---- what the plots need ---- */

struct bar {
	size_t label;         /* offset of the term in pool */
	double weight;
};

struct cluster {
	long id;              /* its id in the outputs (1..k, or kept across
				 reruns: output/README.md) */
	long size;            /* statements, from summary.json */
	size_t first, nbars;  /* its top terms in bars[] */
	size_t points;        /* its statements in projection.tsv */
};

struct plot {
	const char *outdir;
	struct strbuf plotdir;
	struct strbuf pool;       /* labels, each NUL-terminated */
	struct cluster *cl;       /* k clusters, from summary.json */
	size_t k, clcap;
	struct bar *bars;
	size_t nbars, barcap;
	double wmax;              /* the largest top-term weight */
	size_t ntop;              /* the most top terms of a cluster */
	size_t widest;            /* characters of the longest term label */
	size_t n, unclustered;    /* statements in projection.tsv */
	double ss[2];             /* sums of squared coordinates */
	double lo[2], hi[2];      /* their ranges */
	double total;             /* |X - 1 mu^T|_F^2 */
	size_t *frames;           /* offsets of the frame names in pool */
	size_t nframes, framecap;
	struct strbuf heat;       /* frames_heatmap.tsv */
	size_t krows;             /* rows of ksweep.tsv (0: none) */
	int kcol[NKQ];            /* its quality columns present */
	long kmin, kmax, ksel;    /* ksel: the selected k, 0 if none */
};

/* Append a cleaned label to pool (see the top of this file); stores its
 * offset and width in characters.  0 or -1 (out of memory). */
static int add_label(struct plot *pl, const char *s, size_t len, size_t *off,
		     size_t *chars)
{
	size_t n = 0, i;

	*off = pl->pool.len;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c & 0xc0) != 0x80 && n++ == LABEL_CHARS) {
			if (strbuf_addstr(&pl->pool, "..."))
				return -1;
			n += 2;
			break;
		}
		if (c < 0x20 || c == 0x7f)
			c = ' ';
		else if (c == '"')
			c = '\'';
		if (strbuf_addch(&pl->pool, c))
			return -1;
	}
	if (chars)
		*chars = n;
	return strbuf_addch(&pl->pool, '\0');
}

static const char *label(const struct plot *pl, size_t off)
{
	return pl->pool.buf + off;
}

/* Append s as a gnuplot single-quoted string; a tic label (`tic`) is
 * also a format, where '%' is written '%%'. */
static int gp_quote(struct strbuf *sb, const char *s, int tic)
{
	if (strbuf_addch(sb, '\''))
		return -1;
	for (; *s; s++)
		if (strbuf_addch(sb, *s) || (*s == '\'' && strbuf_addch(sb, '\'')) ||
		    (tic && *s == '%' && strbuf_addch(sb, '%')))
			return -1;
	return strbuf_addch(sb, '\'');
}

/* ---- summary.json: clusters, sizes, top terms ---- */

/* Just enough JSON for summary.json: any value can be skipped; strings
 * are decoded (escapes included) where they are wanted. */
struct json {
	const char *p, *end;
	int depth, oom;
};

/* Record running out of memory (not a parse error); returns -1. */
static int json_oom(struct json *j)
{
	j->oom = 1;
	return -1;
}

static int json_peek(struct json *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' ||
				 *j->p == '\n' || *j->p == '\r'))
		j->p++;
	return j->p < j->end ? (unsigned char)*j->p : -1;
}

static int json_eat(struct json *j, int c)
{
	if (json_peek(j) != c)
		return -1;
	j->p++;
	return 0;
}

static int hex4(const char *p, unsigned *v)
{
	*v = 0;
	for (int i = 0; i < 4; i++) {
		int c = p[i];

		*v <<= 4;
		if (c >= '0' && c <= '9')
			*v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			*v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			*v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	return 0;
}

static int add_utf8(struct strbuf *sb, unsigned cp)
{
	unsigned char b[4];
	size_t n;

	if (cp < 0x80) {
		b[0] = (unsigned char)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (unsigned char)(0xc0 | cp >> 6);
		b[1] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (unsigned char)(0xe0 | cp >> 12);
		b[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		b[2] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		b[0] = (unsigned char)(0xf0 | cp >> 18);
		b[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
		b[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		b[3] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return strbuf_add(sb, b, n);
}

/* A string, decoded into sb (reset first), or skipped when sb is NULL. */
static int json_string(struct json *j, struct strbuf *sb)
{
	if (sb)
		strbuf_reset(sb);
	if (json_eat(j, '"'))
		return -1;
	while (j->p < j->end) {
		unsigned char c = (unsigned char)*j->p++;
		unsigned cp;

		if (c == '"') {
			/* "" too leaves sb->buf a string */
			if (sb && !sb->buf && strbuf_addstr(sb, ""))
				return json_oom(j);
			return 0;
		}
		if (c < 0x20)
			return -1;
		if (c != '\\') {
			if (sb && strbuf_addch(sb, c))
				return json_oom(j);
			continue;
		}
		if (j->p >= j->end)
			return -1;
		c = (unsigned char)*j->p++;
		switch (c) {
		case '"': case '\\': case '/': cp = c; break;
		case 'b': cp = '\b'; break;
		case 'f': cp = '\f'; break;
		case 'n': cp = '\n'; break;
		case 'r': cp = '\r'; break;
		case 't': cp = '\t'; break;
		case 'u':
			if (j->end - j->p < 4 || hex4(j->p, &cp))
				return -1;
			j->p += 4;
			if (cp >= 0xd800 && cp < 0xdc00 && j->end - j->p >= 6 &&
			    j->p[0] == '\\' && j->p[1] == 'u') {
				unsigned lo;

				if (hex4(j->p + 2, &lo) == 0 && lo >= 0xdc00 && lo < 0xe000) {
					cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
					j->p += 6;
				}
			}
			if (cp >= 0xd800 && cp < 0xe000)
				cp = 0xfffd;  /* a lone surrogate */
			break;
		default:
			return -1;
		}
		if (sb && add_utf8(sb, cp))
			return json_oom(j);
	}
	return -1;
}

static int json_number(struct json *j, double *v)
{
	char *end;

	if (json_peek(j) < 0)
		return -1;
	errno = 0;
	*v = strtod(j->p, &end);  /* the text is NUL-terminated */
	if (end == j->p || end > j->end || errno == ERANGE || !isfinite(*v))
		return -1;
	j->p = end;
	return 0;
}

static int json_skip(struct json *j)
{
	int c = json_peek(j), close;

	if (c == '"')
		return json_string(j, NULL);
	if (c != '{' && c != '[') {
		const char *start = j->p;

		while (j->p < j->end && strchr("+-.0123456789Eaeflnrstu", *j->p))
			j->p++;
		return j->p > start ? 0 : -1;
	}
	if (++j->depth > 64)
		return -1;
	close = c == '{' ? '}' : ']';
	j->p++;
	if (json_peek(j) == close) {
		j->p++;
		j->depth--;
		return 0;
	}
	for (;;) {
		if (c == '{' && (json_string(j, NULL) || json_eat(j, ':')))
			return -1;
		if (json_skip(j))
			return -1;
		if (json_peek(j) == ',') {
			j->p++;
			continue;
		}
		if (json_eat(j, close))
			return -1;
		j->depth--;
		return 0;
	}
}

static int key_is(const struct strbuf *key, const char *name)
{
	return key->len == strlen(name) && memcmp(key->buf, name, key->len) == 0;
}

/* Call fn for each member of an object (j at its '{'), with the key in
 * key and j at the value; fn must consume the value.  0 or -1. */
static int json_object(struct json *j, struct strbuf *key,
		       int (*fn)(struct json *j, const struct strbuf *key, void *arg),
		       void *arg)
{
	if (json_eat(j, '{'))
		return -1;
	if (json_peek(j) == '}') {
		j->p++;
		return 0;
	}
	for (;;) {
		if (json_string(j, key) || json_eat(j, ':') || fn(j, key, arg))
			return -1;
		if (json_peek(j) == ',') {
			j->p++;
			continue;
		}
		return json_eat(j, '}');
	}
}

/* The same for the elements of an array. */
static int json_array(struct json *j, int (*fn)(struct json *j, void *arg),
		      void *arg)
{
	if (json_eat(j, '['))
		return -1;
	if (json_peek(j) == ']') {
		j->p++;
		return 0;
	}
	for (;;) {
		if (fn(j, arg))
			return -1;
		if (json_peek(j) == ',') {
			j->p++;
			continue;
		}
		return json_eat(j, ']');
	}
}

/* What parsing one top term collects. */
struct term_seen {
	struct strbuf text;       /* surface, or term when there is none */
	int have_surface, have_weight;
	double weight;
};

static int term_member(struct json *j, const struct strbuf *key, void *arg)
{
	struct term_seen *t = arg;

	if (key_is(key, "surface")) {
		t->have_surface = 1;
		return json_string(j, &t->text);
	}
	if (key_is(key, "term") && !t->have_surface)
		return json_string(j, &t->text);
	if (key_is(key, "weight")) {
		t->have_weight = 1;
		return json_number(j, &t->weight);
	}
	return json_skip(j);
}

static int term_element(struct json *j, void *arg)
{
	struct term_seen t;
	struct plot *pl = arg;
	struct strbuf key = STRBUF_INIT;
	struct bar *b;
	size_t chars;
	int rc;

	memset(&t, 0, sizeof(t));
	rc = json_object(j, &key, term_member, &t);
	strbuf_release(&key);
	if (rc == 0 && (!t.have_weight || !t.text.buf || t.weight < 0))
		rc = -1;
	if (rc == 0 && pl_grow(&pl->bars, &pl->barcap, pl->nbars + 1, sizeof(*pl->bars)))
		rc = json_oom(j);
	if (rc == 0) {
		b = &pl->bars[pl->nbars++];
		b->weight = t.weight;
		if (add_label(pl, t.text.buf, t.text.len, &b->label, &chars))
			rc = json_oom(j);
		else if (chars > pl->widest)
			pl->widest = chars;
		if (t.weight > pl->wmax)
			pl->wmax = t.weight;
	}
	strbuf_release(&t.text);
	return rc;
}

/* The position in pl->cl of the cluster with this id, or -1. */
static long cluster_index(const struct plot *pl, long id)
{
	for (size_t c = 0; c < pl->k; c++)
		if (pl->cl[c].id == id)
			return (long)c;
	return -1;
}

static int cluster_member(struct json *j, const struct strbuf *key, void *arg)
{
	struct plot *pl = arg;
	struct cluster *c = &pl->cl[pl->k];
	double v;

	if (key_is(key, "cluster")) {
		/* an id: 1..k on a first run, anything >= 1 after reruns */
		if (json_number(j, &v) || v < 1 || v > (double)LONG_MAX ||
		    v != (double)(long)v)
			return -1;
		c->id = (long)v;
		return 0;
	}
	if (key_is(key, "size")) {
		if (json_number(j, &v) || v < 0 || v > (double)LONG_MAX)
			return -1;
		c->size = (long)v;
		return 0;
	}
	if (key_is(key, "top_terms")) {
		c->first = pl->nbars;
		if (json_array(j, term_element, pl))
			return -1;
		c->nbars = pl->nbars - c->first;
		if (c->nbars > pl->ntop)
			pl->ntop = c->nbars;
		return 0;
	}
	return json_skip(j);
}

static int cluster_element(struct json *j, void *arg)
{
	struct plot *pl = arg;
	struct strbuf key = STRBUF_INIT;
	int rc;

	if (pl_grow(&pl->cl, &pl->clcap, pl->k + 1, sizeof(*pl->cl)))
		return json_oom(j);
	memset(&pl->cl[pl->k], 0, sizeof(*pl->cl));
	rc = json_object(j, &key, cluster_member, pl);
	strbuf_release(&key);
	if (rc == 0)
		pl->k++;
	return rc;
}

static int summary_member(struct json *j, const struct strbuf *key, void *arg)
{
	if (key_is(key, "clusters"))
		return json_array(j, cluster_element, arg);
	return json_skip(j);
}

static int read_summary(struct plot *pl, const char *path, struct pl_error *err)
{
	struct strbuf text = STRBUF_INIT, key = STRBUF_INIT;
	struct json j;
	gzFile gz = gzopen(path, "rb");
	char buf[1 << 14];
	int n, errnum, rc = -1;

	if (!gz)
		return pl_fail(err, PL_EX_IOERR, "%s: cannot open: %s", path,
			       errno ? strerror(errno) : "out of memory");
	while ((n = gzread(gz, buf, sizeof(buf))) > 0)
		if (strbuf_add(&text, buf, (size_t)n)) {
			rc = pl_oom(err);
			goto out;
		}
	if (n < 0) {
		pl_fail(err, PL_EX_IOERR, "%s: %s", path, gzerror(gz, &errnum));
		goto out;
	}
	if (strbuf_addstr(&text, "")) {
		rc = pl_oom(err);
		goto out;
	}
	memset(&j, 0, sizeof(j));
	j.p = text.buf;
	j.end = text.buf + text.len;
	if (json_object(&j, &key, summary_member, pl) || json_peek(&j) != -1) {
		if (j.oom)
			rc = pl_oom(err);
		else
			pl_fail(err, PL_EX_DATAERR,
				"%s: byte %zu: not the summary.json of a run; run the pipeline again",
				path, (size_t)(j.p - text.buf) + 1);
		goto out;
	}
	if (pl->k == 0) {
		pl_fail(err, PL_EX_DATAERR, "%s: no clusters", path);
		goto out;
	}
	rc = 0;
out:
	gzclose(gz);
	strbuf_release(&text);
	strbuf_release(&key);
	return rc;
}

/* ---- projection.tsv, tfidf.mtx.gz, frames.tsv, ksweep.tsv ---- */

static int bad_line(const struct reader *r, struct pl_error *err,
		    const char *what)
{
	return pl_fail(err, PL_EX_DATAERR, "%s:%lu: %s", r->path, r->lineno, what);
}

static int read_projection(struct plot *pl, const char *path,
			   struct pl_error *err)
{
	struct reader r;
	int rc;

	if (reader_open(&r, path, err))
		return -1;
	rc = reader_next(&r, err);
	if (rc == 1 && strcmp(r.line.buf, "unit\tx\ty\tcluster") != 0)
		rc = bad_line(&r, err, "expected the header unit, x, y, cluster");
	else if (rc == 0)
		rc = pl_fail(err, PL_EX_DATAERR, "%s: empty", path);
	while (rc == 1 && (rc = reader_next(&r, err)) == 1) {
		char *f[5];
		double x, y;
		long c;

		if (split_tabs(r.line.buf, f, 5) != 4 || parse_real(f[1], &x) ||
		    parse_real(f[2], &y)) {
			rc = bad_line(&r, err, "expected unit, x, y, cluster");
			break;
		}
		if (strcmp(f[3], "NA") == 0) {
			pl->unclustered++;
		} else if (parse_count(f[3], LONG_MAX, &c) ||
			   (c = cluster_index(pl, c)) < 0) {
			rc = bad_line(&r, err, "a cluster that summary.json does not "
				      "have; the outputs come from different runs");
			break;
		} else {
			pl->cl[c].points++;
		}
		if (pl->n == 0 || x < pl->lo[0])
			pl->lo[0] = x;
		if (pl->n == 0 || x > pl->hi[0])
			pl->hi[0] = x;
		if (pl->n == 0 || y < pl->lo[1])
			pl->lo[1] = y;
		if (pl->n == 0 || y > pl->hi[1])
			pl->hi[1] = y;
		pl->n++;
		pl->ss[0] += x * x;
		pl->ss[1] += y * y;
	}
	reader_close(&r);
	if (rc == 0 && pl->n == 0)
		rc = pl_fail(err, PL_EX_DATAERR, "%s: no statements", path);
	return rc;
}

/* The total sum of squares of the column-centred TF-IDF matrix. */
static int read_total(struct plot *pl, const char *path, struct pl_error *err)
{
	struct reader r;
	double *colsum = NULL, sumsq = 0, c2 = 0;
	unsigned long long rows = 0, cols = 0, entries = 0, seen = 0;
	int rc, sized = 0;

	if (reader_open(&r, path, err))
		return -1;
	rc = reader_next(&r, err);
	if (rc == 1 && strncmp(r.line.buf, "%%MatrixMarket matrix coordinate real", 37))
		rc = bad_line(&r, err, "not a Matrix Market real coordinate matrix");
	else if (rc == 0)
		rc = pl_fail(err, PL_EX_DATAERR, "%s: empty", path);
	while (rc == 1 && (rc = reader_next(&r, err)) == 1) {
		unsigned long long i, jj;
		char *end;
		double v;

		if (r.line.buf[0] == '%')
			continue;
		errno = 0;
		i = strtoull(r.line.buf, &end, 10);
		jj = strtoull(end, &end, 10);
		if (!sized) {
			entries = strtoull(end, &end, 10);
			if (errno || *end || i == 0 || jj > SIZE_MAX / sizeof(*colsum)) {
				rc = bad_line(&r, err, "expected rows, columns, entries");
				break;
			}
			rows = i;
			cols = jj;
			sized = 1;
			colsum = pl_calloc(cols ? (size_t)cols : 1, sizeof(*colsum));
			if (!colsum) {
				rc = pl_oom(err);
				break;
			}
			continue;
		}
		v = strtod(end, &end);
		if (errno || *end || i < 1 || i > rows || jj < 1 || jj > cols ||
		    !isfinite(v)) {
			rc = bad_line(&r, err, "expected row, column, weight");
			break;
		}
		colsum[jj - 1] += v;
		sumsq += v * v;
		seen++;
	}
	reader_close(&r);
	if (rc == 0 && (!sized || seen != entries))
		rc = pl_fail(err, PL_EX_DATAERR, "%s: truncated", path);
	if (rc == 0) {
		for (unsigned long long t = 0; t < cols; t++)
			c2 += colsum[t] * colsum[t];
		pl->total = sumsq - c2 / (double)rows;
		if (rows != pl->n)
			rc = pl_fail(err, PL_EX_DATAERR,
				     "%s has %llu statements and projection.tsv %zu; "
				     "the outputs come from different runs", path, rows, pl->n);
	}
	pl_free(colsum);
	return rc;
}

/* frames.tsv into frames_heatmap.tsv: cluster, frame row, hit share,
 * statements carrying the frame.  Frame rows are numbered from 0 in order
 * of first appearance (the config's order). */
static int read_frames(struct plot *pl, const char *path, struct pl_error *err)
{
	struct reader r;
	char *f[16];
	int rc, nf, cf = -1, cc = -1, cu = -1, cs = -1;

	if (reader_open(&r, path, err))
		return -1;
	rc = reader_next(&r, err);
	if (rc == 1) {
		nf = split_tabs(r.line.buf, f, 16);
		cf = column(f, nf, "frame");
		cc = column(f, nf, "cluster");
		cu = column(f, nf, "units");
		cs = column(f, nf, "hit_share");
		if (cf < 0 || cc < 0 || cu < 0 || cs < 0)
			rc = bad_line(&r, err, "expected the columns frame, cluster, "
				      "units and hit_share");
	} else if (rc == 0) {
		rc = pl_fail(err, PL_EX_DATAERR, "%s: empty", path);
	}
	/* column 1 is the cluster's position (the x axis), 1..k */
	if (rc == 1 && strbuf_addstr(&pl->heat, "# position\tframe\thit_share\tunits\tsize\tname\n"))
		rc = pl_oom(err);
	while (rc == 1 && (rc = reader_next(&r, err)) == 1) {
		struct strbuf name = STRBUF_INIT;
		long c, units;
		double share;
		size_t fi, off;
		int got = split_tabs(r.line.buf, f, 16);

		if (got <= cf || got <= cc || got <= cu || got <= cs ||
		    parse_count(f[cc], LONG_MAX, &c) || (c = cluster_index(pl, c)) < 0 ||
		    parse_count(f[cu], LONG_MAX, &units) ||
		    parse_real(f[cs], &share) || share < 0 || share > 1) {
			rc = bad_line(&r, err, "expected a frame, a cluster of summary.json, "
				      "a count and a share");
			break;
		}
		/* undo the TSV escapes of the name */
		for (const char *s = f[cf]; rc == 1 && *s; s++) {
			char ch = *s;

			if (ch == '\\' && s[1]) {
				s++;
				ch = *s == 't' || *s == 'n' || *s == 'r' ? ' ' : *s;
			}
			if (strbuf_addch(&name, ch))
				rc = pl_oom(err);
		}
		if (rc == 1 && !name.buf && strbuf_addstr(&name, ""))
			rc = pl_oom(err);
		for (fi = 0; rc == 1 && fi < pl->nframes; fi++)
			if (strcmp(label(pl, pl->frames[fi]), name.buf) == 0)
				break;
		if (rc == 1 && fi == pl->nframes) {
			if (pl_grow(&pl->frames, &pl->framecap, fi + 1, sizeof(*pl->frames)) ||
			    add_label(pl, name.buf, name.len, &off, NULL))
				rc = pl_oom(err);
			else
				pl->frames[pl->nframes++] = off;
		}
		if (rc == 1 && strbuf_addf(&pl->heat, "%ld\t%zu\t%.6g\t%ld\t%ld\t%s\n",
					   c + 1, fi, share, units, pl->cl[c].size,
					   label(pl, pl->frames[fi])))
			rc = pl_oom(err);
		strbuf_release(&name);
	}
	reader_close(&r);
	return rc;
}

/* Is a ksweep.tsv `selected` value a yes? */
static int is_selected(const char *s)
{
	return strcmp(s, "1") == 0 || strcmp(s, "true") == 0 ||
	       strcmp(s, "yes") == 0 || strcmp(s, "*") == 0;
}

static int read_ksweep(struct plot *pl, const char *path, struct pl_error *err)
{
	struct reader r;
	char *f[16];
	int rc, nf, ck = -1, csel = -1, any = 0;

	if (reader_open(&r, path, err))
		return -1;
	rc = reader_next(&r, err);
	if (rc == 1) {
		nf = split_tabs(r.line.buf, f, 16);
		ck = column(f, nf, "k");
		csel = column(f, nf, "selected");
		for (size_t q = 0; q < NKQ; q++) {
			pl->kcol[q] = column(f, nf, kq_cols[q].col) >= 0;
			any |= pl->kcol[q];
		}
		if (ck < 0 || !any)
			rc = bad_line(&r, err, "expected a column k and at least one of "
				      "silhouette, calinski_harabasz, davies_bouldin, inertia");
	}
	while (rc == 1 && (rc = reader_next(&r, err)) == 1) {
		int got = split_tabs(r.line.buf, f, 16);
		long k;

		if (got <= ck || parse_count(f[ck], LONG_MAX, &k)) {
			rc = bad_line(&r, err, "expected k, a whole number");
			break;
		}
		if (!pl->krows || k < pl->kmin)
			pl->kmin = k;
		if (!pl->krows || k > pl->kmax)
			pl->kmax = k;
		pl->krows++;
		if (csel >= 0 && got > csel && is_selected(f[csel]))
			pl->ksel = k;
	}
	reader_close(&r);
	return rc;
}

/* ---- writing the scripts ---- */

/* The first lines of every script. */
static int script_begin(struct strbuf *sb, const char *name, const char *what,
			long w, long h)
{
	return strbuf_addf(sb, "# %s.gp -- %s\n# Written by `pipeline plot`; "
			   "redraw with: cd plots && gnuplot %s.gp\n"
			   "W = %ld\nH = %ld\n", name, what, name, w, h) ||
	       strbuf_addstr(sb, gp_prelude) ||
	       strbuf_addf(sb, "set output \"%s.png\"\n", name);
}

/* Characters (not bytes) of a UTF-8 string. */
static size_t utf8_chars(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

/* The cluster map.  The plot keeps one unit the same length on both axes
 * (set size ratio -1), so the canvas height follows the data's aspect:
 * about 7 pixels per character of the widest key entry, 110 for the
 * margins, 160 for title and labels. */
static int script_cluster_map(const struct plot *pl, struct strbuf *sb)
{
	double v1 = pl->total > 0 ? pl->ss[0] / pl->total : 0;
	double v2 = pl->total > 0 ? pl->ss[1] / pl->total : 0;
	double xr = pl->hi[0] - pl->lo[0], yr = pl->hi[1] - pl->lo[1];
	struct strbuf cmd = STRBUF_INIT, title = STRBUF_INIT;
	size_t widest = 32, w;
	long width, plotw, height;
	int rc = 0;

	for (size_t c = 0; rc == 0 && c < pl->k; c++) {
		const struct cluster *cl = &pl->cl[c];

		if (!cl->points)
			continue;
		strbuf_reset(&title);
		rc = strbuf_addf(&title, "%ld: ", cl->id);
		for (size_t t = 0; rc == 0 && t < cl->nbars && t < 3; t++)
			rc = strbuf_addf(&title, "%s%s", t ? ", " : "",
					 label(pl, pl->bars[cl->first + t].label));
		rc = rc || strbuf_addf(&title, " (%zu)", cl->points);
		rc = rc || strbuf_addf(&cmd, "%s\\\n     data skip 1 using 2:(strcol(4) eq \"%ld\" ? $3 : NaN) "
				       "with points pt %d ps 1.6 lc rgb \"%s\" title ",
				       cmd.len ? ", " : "", cl->id,
				       shapes[c / NCOLOURS % NSHAPES], colours[c % NCOLOURS]);
		rc = rc || gp_quote(&cmd, title.buf, 0);
		if (rc == 0 && (w = utf8_chars(title.buf)) > widest)
			widest = w;
	}
	if (rc == 0 && pl->unclustered)
		rc = strbuf_addf(&cmd, "%s\\\n     data skip 1 using 2:(strcol(4) eq \"NA\" ? $3 : NaN) "
				 "with points pt 6 ps 1.6 lc rgb \"" GREY "\" "
				 "title 'unclustered: no kept term (%zu)'",
				 cmd.len ? ", " : "", pl->unclustered);
	if (rc == 0 && pl->n <= MAP_NUMBERED)
		rc = strbuf_addstr(&cmd, ", \\\n     data skip 1 using 2:3:1 with labels "
				   "offset char 0.9, 0.6 font \",8\" tc rgb \"#606060\" notitle");
	strbuf_release(&title);

	plotw = 1300 - (long)(7 * widest + 70) - 110;
	if (plotw < 600)
		plotw = 600;
	width = plotw + (long)(7 * widest + 70) + 110;
	height = xr > 0 && yr > 0 ? (long)((double)plotw * (yr / xr)) + 160 : 850;
	height = height < 450 ? 450 : height > 1400 ? 1400 : height;
	rc = rc || script_begin(sb, "cluster_map", "the statements on the first two "
				"principal axes of the TF-IDF matrix", width, height);
	rc = rc || strbuf_addf(sb, "var1 = %.6f\nvar2 = %.6f\n", v1 > 1 ? 1 : v1,
			       v2 > 1 ? 1 : v2);
	rc = rc || strbuf_addf(sb, "set title sprintf(\"The statements on the first two "
			       "principal axes of their TF-IDF vectors (PCA)\\n"
			       "%zu statement%s, %zu cluster%s; the two axes explain "
			       "%%.1f%%%% of the variance\", 100 * (var1 + var2))\n",
			       pl->n, pl->n == 1 ? "" : "s", pl->k, pl->k == 1 ? "" : "s");
	rc = rc || strbuf_addstr(sb, gp_cluster_map);
	rc = rc || strbuf_addstr(sb, "plot ");
	rc = rc || strbuf_add(sb, cmd.buf, cmd.len);
	rc = rc || strbuf_addstr(sb, "\n");
	strbuf_release(&cmd);
	return rc ? -1 : 0;
}

/* A tic step of 1, 2 or 5 times a power of ten giving about 5 tics. */
static double tic_step(double range)
{
	double raw = range / 5, p, m;

	if (!(raw > 0))
		return 1;
	p = pow(10, floor(log10(raw)));
	m = raw / p;
	return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

/* Widths of the panel grid for n panels. */
static size_t grid_cols(size_t n)
{
	return n <= 1 ? 1 : n <= 4 ? 2 : 3;
}

static int script_top_terms(const struct plot *pl, struct strbuf *sb,
			    struct strbuf *data)
{
	size_t cols = grid_cols(pl->k), rows = (pl->k + cols - 1) / cols;
	size_t ntop = pl->ntop ? pl->ntop : 1;
	long lmargin = (long)(pl->widest < 8 ? 8 : pl->widest) + 2;
	double xmax = pl->wmax > 0 ? pl->wmax * 1.08 : 1;

	if (strbuf_addstr(data, "# cluster\trank\tterm\tweight\n"))
		return -1;
	for (size_t c = 0; c < pl->k; c++) {
		const struct cluster *cl = &pl->cl[c];

		if (c && strbuf_addstr(data, "\n\n"))
			return -1;
		for (size_t t = 0; t < cl->nbars; t++) {
			const struct bar *b = &pl->bars[cl->first + t];

			if (strbuf_addf(data, "%ld\t%zu\t%s\t%.9g\n", cl->id, t + 1,
					label(pl, b->label), b->weight))
				return -1;
		}
	}
	if (script_begin(sb, "top_terms", "the top terms of each cluster by mean TF-IDF",
			 (long)(cols * (size_t)(330 + 8 * lmargin)),
			 (long)(rows * (90 + 21 * ntop) + 60)) ||
	    strbuf_addstr(sb, gp_top_terms) ||
	    strbuf_addf(sb, "set xrange [0:%.6g]\nset xtics %.6g\n"
			"set yrange [-%zu.6:-0.4]\nset lmargin %ld\n", xmax,
			tic_step(xmax), ntop, lmargin) ||
	    strbuf_addf(sb, "set multiplot layout %zu, %zu title \"Top terms of each "
			"cluster: mean TF-IDF over the cluster's statements\" "
			"font \",14\"\n", rows, cols))
		return -1;
	for (size_t c = 0; c < pl->k; c++) {
		const struct cluster *cl = &pl->cl[c];

		if (strbuf_addf(sb, "set title \"cluster %ld (%ld statement%s)\"\n",
				cl->id, cl->size, cl->size == 1 ? "" : "s"))
			return -1;
		if (!cl->nbars) {
			if (strbuf_addstr(sb, "set multiplot next\n"))
				return -1;
			continue;
		}
		if (strbuf_addf(sb, "plot data index %zu using ($4 / 2):(-$2):($4 / 2):(0.38):"
				"ytic(3) with boxxyerror lc rgb \"%s\"\n", c,
				colours[c % NCOLOURS]))
			return -1;
	}
	return strbuf_addstr(sb, "unset multiplot\n");
}

static int script_frames_heatmap(const struct plot *pl, struct strbuf *sb)
{
	long w = 260 + 120 * (long)pl->k, h = 230 + 80 * (long)pl->nframes;

	if (script_begin(sb, "frames_heatmap", "frames x clusters, the share of "
			 "each frame's hits in each cluster", w < 900 ? 900 : w,
			 h < 420 ? 420 : h) ||
	    strbuf_addf(sb, "set xrange [0.5:%zu.5]\nset yrange [%zu.5:-0.5]\n",
			pl->k, pl->nframes - 1) ||
	    strbuf_addstr(sb, "set xtics ("))
		return -1;
	for (size_t c = 0; c < pl->k; c++)
		if (strbuf_addf(sb, "%s\"%ld\\n(%ld)\" %zu", c ? ", " : "", pl->cl[c].id,
				pl->cl[c].size, c + 1))
			return -1;
	if (strbuf_addstr(sb, ")\nset ytics ("))
		return -1;
	for (size_t f = 0; f < pl->nframes; f++)
		if ((f && strbuf_addstr(sb, ", ")) ||
		    gp_quote(sb, label(pl, pl->frames[f]), 1) ||
		    strbuf_addf(sb, " %zu", f))
			return -1;
	return strbuf_addstr(sb, ")\n") || strbuf_addstr(sb, gp_frames_heatmap);
}

static int script_ksweep(const struct plot *pl, struct strbuf *sb)
{
	size_t n = 0, cols, rows;

	for (size_t q = 0; q < NKQ; q++)
		n += (size_t)pl->kcol[q];
	cols = grid_cols(n);
	rows = (n + cols - 1) / cols;
	if (script_begin(sb, "ksweep", "the quality of the clustering against k",
			 (long)(cols * 600), (long)(rows * 420 + 60)) ||
	    strbuf_addstr(sb, gp_ksweep) ||
	    strbuf_addf(sb, "set xrange [%ld:%ld]\n", pl->kmin - (pl->kmin > 1),
			pl->kmax + 1) ||
	    (pl->kmax - pl->kmin <= 20 && strbuf_addstr(sb, "set xtics 1\n")) ||
	    (pl->ksel && strbuf_addf(sb, "set arrow 1 from %ld, graph 0 to %ld, graph 1 "
				     "nohead dt 2 lw 1.5 lc rgb \"%s\" back\n",
				     pl->ksel, pl->ksel, colours[2])))
		return -1;
	if (strbuf_addstr(sb, "set multiplot layout ") ||
	    strbuf_addf(sb, "%zu, %zu title \"Cluster quality against k", rows, cols) ||
	    (pl->ksel && strbuf_addf(sb, " (in red: the selected k = %ld)", pl->ksel)) ||
	    strbuf_addstr(sb, "\" font \",14\"\n"))
		return -1;
	for (size_t q = 0; q < NKQ; q++) {
		if (!pl->kcol[q])
			continue;
		if (strbuf_addf(sb, "set title \"%s\"\nset ylabel \"%s\"\n"
				"plot data using \"k\":\"%s\" with linespoints pt 7 "
				"lw 1.5 lc rgb \"%s\"", kq_cols[q].title,
				kq_cols[q].col, kq_cols[q].col, colours[0]) ||
		    (pl->ksel && strbuf_addf(sb, ", \\\n     data using \"k\":"
					     "(column(\"k\") == %ld ? column(\"%s\") : NaN) "
					     "with points pt 7 ps 2.2 lc rgb \"%s\"",
					     pl->ksel, kq_cols[q].col, colours[2])) ||
		    strbuf_addch(sb, '\n'))
			return -1;
	}
	return strbuf_addstr(sb, "unset multiplot\n");
}

/* ---- files and gnuplot ---- */

/* The path of plots/NAME, built in sb; NULL when out of memory. */
static const char *in_plots(const struct plot *pl, struct strbuf *sb,
			    const char *name)
{
	strbuf_reset(sb);
	if (strbuf_addf(sb, "%s/%s", pl->plotdir.buf, name))
		return NULL;
	return sb->buf;
}

/* Write sb to plots/name through a temporary file and a rename. */
static int write_file(const struct plot *pl, const char *name, const struct strbuf *sb,
		      struct pl_error *err)
{
	struct strbuf path = STRBUF_INIT, tmp = STRBUF_INIT;
	FILE *fp = NULL;
	int rc = -1;

	if (!in_plots(pl, &path, name) || strbuf_addf(&tmp, "%s.tmp", path.buf)) {
		rc = pl_oom(err);
		goto out;
	}
	fp = fopen(tmp.buf, "wb");
	if (!fp) {
		pl_fail(err, PL_EX_CANTCREAT, "%s: cannot create: %s", tmp.buf,
			strerror(errno));
		goto out;
	}
	if ((sb->len && fwrite(sb->buf, 1, sb->len, fp) != sb->len) || fclose(fp)) {
		fp = NULL;
		pl_fail(err, PL_EX_IOERR, "%s: cannot write: %s", tmp.buf, strerror(errno));
		remove(tmp.buf);
		goto out;
	}
	fp = NULL;
	if (rename(tmp.buf, path.buf)) {
		pl_fail(err, PL_EX_IOERR, "%s: cannot rename into place: %s", path.buf,
			strerror(errno));
		remove(tmp.buf);
		goto out;
	}
	rc = 0;
out:
	if (fp)
		fclose(fp);
	strbuf_release(&path);
	strbuf_release(&tmp);
	return rc;
}

/* Remove plots/NAME.gp, .tsv and .png, left from an earlier run that had
 * them. */
static void remove_stale(const struct plot *pl, const char *name)
{
	struct strbuf sb = STRBUF_INIT, file = STRBUF_INIT;
	static const char *const ext[] = { ".gp", ".tsv", ".png" };

	for (size_t i = 0; i < sizeof(ext) / sizeof(ext[0]); i++) {
		strbuf_reset(&file);
		if (strbuf_addf(&file, "%s%s", name, ext[i]) == 0 &&
		    in_plots(pl, &sb, file.buf))
			remove(sb.buf);
	}
	strbuf_release(&sb);
	strbuf_release(&file);
}

/* Is there an executable `name` on the PATH (as execvp would search it)? */
static int on_path(const char *name)
{
	const char *path = getenv("PATH"), *p;
	struct strbuf sb = STRBUF_INIT;
	struct stat st;
	int found = 0;

	if (!path)
		path = "/usr/bin:/bin";
	for (p = path; !found; p++) {
		const char *end = strchr(p, ':');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		strbuf_reset(&sb);
		if (strbuf_add(&sb, len ? p : ".", len ? len : 1) ||
		    strbuf_addf(&sb, "/%s", name))
			break;
		found = stat(sb.buf, &st) == 0 && S_ISREG(st.st_mode) &&
			access(sb.buf, X_OK) == 0;
		if (!end)
			break;
		p = end;
	}
	strbuf_release(&sb);
	return found;
}

static int no_gnuplot(const struct plot *pl, struct pl_error *err)
{
	return pl_fail(err, PL_EX_NOINPUT, "gnuplot not found; install gnuplot-nox "
		       "(apt-get install gnuplot-nox), then run pipeline plot again; "
		       "the scripts are in %s", pl->plotdir.buf);
}

/* Run `gnuplot NAME.gp` in plots/ and check that NAME.png was drawn. */
static int run_gnuplot(struct plot *pl, const char *name, struct pl_error *err)
{
	struct strbuf script = STRBUF_INIT, png = STRBUF_INIT;
	int fds[2] = { -1, -1 }, child_errno = 0, status = 0, rc = -1;
	ssize_t got;
	struct stat st;
	pid_t pid;

	if (strbuf_addf(&script, "%s.gp", name) || strbuf_addf(&png, "%s/%s.png",
							       pl->plotdir.buf, name)) {
		rc = pl_oom(err);
		goto out;
	}
	if (pipe(fds) || fcntl(fds[0], F_SETFD, FD_CLOEXEC) ||
	    fcntl(fds[1], F_SETFD, FD_CLOEXEC)) {
		pl_fail(err, PL_EX_OSERR, "plot: pipe: %s", strerror(errno));
		goto out;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		pl_fail(err, PL_EX_OSERR, "plot: cannot start gnuplot: %s", strerror(errno));
		goto out;
	}
	if (pid == 0) {
		char *argv[3];

		argv[0] = "gnuplot";
		argv[1] = script.buf;
		argv[2] = NULL;
		/* main ignores these (sane_process); gnuplot gets the usual */
		signal(SIGPIPE, SIG_DFL);
		signal(SIGXFSZ, SIG_DFL);
		if (chdir(pl->plotdir.buf) == 0 && dup2(STDERR_FILENO, STDOUT_FILENO) >= 0)
			execvp(argv[0], argv);
		child_errno = errno;
		if (write(fds[1], &child_errno, sizeof(child_errno)) < 0)
			_exit(127);
		_exit(127);
	}
	close(fds[1]);
	fds[1] = -1;
	do
		got = read(fds[0], &child_errno, sizeof(child_errno));
	while (got < 0 && errno == EINTR);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			pl_fail(err, PL_EX_OSERR, "plot: waiting for gnuplot: %s",
				strerror(errno));
			goto out;
		}
	}
	if (got == (ssize_t)sizeof(child_errno)) {
		if (child_errno == ENOENT)
			no_gnuplot(pl, err);
		else
			pl_fail(err, PL_EX_OSERR, "plot: cannot run gnuplot in %s: %s",
				pl->plotdir.buf, strerror(child_errno));
		goto out;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		remove(png.buf);
		pl_fail(err, PL_EX_SOFTWARE, "gnuplot failed on %s/%s.gp (%s %d); "
			"its message is above", pl->plotdir.buf, name,
			WIFEXITED(status) ? "exit" : "signal",
			WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
		goto out;
	}
	if (stat(png.buf, &st) != 0 || st.st_size == 0) {
		pl_fail(err, PL_EX_SOFTWARE, "gnuplot drew nothing into %s", png.buf);
		goto out;
	}
	rc = 0;
out:
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	strbuf_release(&script);
	strbuf_release(&png);
	return rc;
}

static void plot_release(struct plot *pl)
{
	strbuf_release(&pl->plotdir);
	strbuf_release(&pl->pool);
	strbuf_release(&pl->heat);
	pl_free(pl->cl);
	pl_free(pl->bars);
	pl_free(pl->frames);
}

/* The path of OUTDIR/NAME, built in sb; NULL when out of memory. */
static const char *in_out(const char *outdir, struct strbuf *sb, const char *name)
{
	strbuf_reset(sb);
	return strbuf_addf(sb, "%s/%s", outdir, name) ? NULL : sb->buf;
}

int plot_render(const char *outdir, const char *conf, int quiet,
		struct pl_error *err)
{
	static const char *const needed[] = {
		"summary.json", "projection.tsv", "tfidf.mtx.gz", "frames.tsv",
	};
	struct plot pl;
	struct strbuf path = STRBUF_INIT, script = STRBUF_INIT, data = STRBUF_INIT;
	const char *drawn[4];
	size_t ndrawn = 0;
	struct stat st;
	int rc = -1;

	memset(&pl, 0, sizeof(pl));
	pl.outdir = outdir;
	for (size_t i = 0; i < sizeof(needed) / sizeof(needed[0]); i++) {
		if (!in_out(outdir, &path, needed[i]))
			goto oom;
		if (access(path.buf, R_OK) != 0) {
			pl_fail(err, PL_EX_NOINPUT, "%s: %s; plot draws the outputs of "
				"a run, so run `pipeline run %s` first", path.buf,
				errno == ENOENT ? "not found" : strerror(errno), conf);
			goto out;
		}
	}
	if (!in_out(outdir, &path, "summary.json"))
		goto oom;
	if (read_summary(&pl, path.buf, err))
		goto out;
	if (!in_out(outdir, &path, "projection.tsv"))
		goto oom;
	if (read_projection(&pl, path.buf, err))
		goto out;
	if (!in_out(outdir, &path, "tfidf.mtx.gz"))
		goto oom;
	if (read_total(&pl, path.buf, err))
		goto out;
	if (!in_out(outdir, &path, "frames.tsv"))
		goto oom;
	if (read_frames(&pl, path.buf, err))
		goto out;
	if (!in_out(outdir, &path, "ksweep.tsv"))
		goto oom;
	if (stat(path.buf, &st) == 0 && read_ksweep(&pl, path.buf, err))
		goto out;

	if (strbuf_addf(&pl.plotdir, "%s/plots", outdir))
		goto oom;
	if (pl_mkdir(pl.plotdir.buf, err))
		goto out;
	if (stat(pl.plotdir.buf, &st) != 0 || !S_ISDIR(st.st_mode)) {
		pl_fail(err, PL_EX_CANTCREAT, "%s: exists and is not a folder",
			pl.plotdir.buf);
		goto out;
	}

	if (script_cluster_map(&pl, &script))
		goto oom;
	if (write_file(&pl, "cluster_map.gp", &script, err))
		goto out;
	drawn[ndrawn++] = "cluster_map";
	strbuf_reset(&script);
	if (script_top_terms(&pl, &script, &data))
		goto oom;
	if (write_file(&pl, "top_terms.tsv", &data, err) ||
	    write_file(&pl, "top_terms.gp", &script, err))
		goto out;
	drawn[ndrawn++] = "top_terms";
	if (pl.nframes) {
		strbuf_reset(&script);
		if (script_frames_heatmap(&pl, &script))
			goto oom;
		if (write_file(&pl, "frames_heatmap.tsv", &pl.heat, err) ||
		    write_file(&pl, "frames_heatmap.gp", &script, err))
			goto out;
		drawn[ndrawn++] = "frames_heatmap";
	} else {
		remove_stale(&pl, "frames_heatmap");
		if (!quiet)
			fprintf(stderr, "pipeline: plot: no frames in %s/frames.tsv; "
				"frames_heatmap.png not drawn\n", outdir);
	}
	if (pl.krows >= 2) {
		strbuf_reset(&script);
		if (script_ksweep(&pl, &script))
			goto oom;
		if (write_file(&pl, "ksweep.gp", &script, err))
			goto out;
		drawn[ndrawn++] = "ksweep";
	} else {
		remove_stale(&pl, "ksweep");
		if (!quiet)
			fprintf(stderr, "pipeline: plot: no k sweep in %s (%s; set "
				"[kmeans] k to a range such as 2..12 to make one); "
				"ksweep.png not drawn\n", outdir, pl.krows ?
				"ksweep.tsv has a single k" : "no ksweep.tsv");
	}

	/* Looked up before forking, so that the usual failure needs no
	 * child; the exec's own error still covers a race. */
	if (!on_path("gnuplot")) {
		no_gnuplot(&pl, err);
		goto out;
	}
	for (size_t i = 0; i < ndrawn; i++) {
		if (run_gnuplot(&pl, drawn[i], err))
			goto out;
		if (!quiet)
			printf("%s/%s.png\n", pl.plotdir.buf, drawn[i]);
	}
	rc = 0;
	goto out;
oom:
	rc = pl_oom(err);
out:
	strbuf_release(&path);
	strbuf_release(&script);
	strbuf_release(&data);
	plot_release(&pl);
	return rc;
}
