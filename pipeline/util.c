/* util.c -- errors, allocation, growable buffers and the string table
 *
 * Small building blocks shared by the driver and the stages; see util.h for
 * the rules every caller relies on (status returns, fault injection).
 */
/* madvise, MADV_POPULATE_WRITE, copy_file_range */
#define _GNU_SOURCE
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <math.h>
#include <stdlib.h>
#include <malloc.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

/* The bytes a message byte c is shown as (at most 4, at out): itself, or
 * for a control character \n, \t, \r or \xNN.  A file name may hold any
 * byte but / and NUL; a newline or a terminal's escape sequence in one
 * must not make an error two lines, or a line that reads as another. */
static size_t esc_byte(unsigned char c, char *out)
{
	static const char hex[] = "0123456789abcdef";

	if (c >= 0x20 && c != 0x7f) {
		out[0] = (char)c;
		return 1;
	}
	out[0] = '\\';
	out[1] = c == '\n' ? 'n' : c == '\t' ? 't' : c == '\r' ? 'r' : 'x';
	if (out[1] != 'x')
		return 2;
	out[2] = hex[c >> 4];
	out[3] = hex[c & 15];
	return 4;
}

/* src, its control characters escaped, into dst (cap bytes, NUL-ended).
 * When that is too long, its start and its end with " ... " between: an
 * error is "PATH: what went wrong", and a long path must not push the
 * reason out.  Cuts fall between UTF-8 characters. */
#define MSG_HEAD 256
static void set_message(char *dst, size_t cap, const char *src)
{
	const unsigned char *u = (const unsigned char *)src;
	size_t len = strlen(src), total = 0, h = 0, t = len, w = 0, hb, tb, k;
	char e[4];

	for (k = 0; k < len; k++)
		total += esc_byte(u[k], e);
	if (total < cap) {
		for (k = 0; k < len; k++)
			w += esc_byte(u[k], dst + w);
		dst[w] = '\0';
		return;
	}
	hb = MSG_HEAD;
	tb = cap - 1 - hb - 5;
	/* The head: whole characters whose escapes fit in hb. */
	for (k = 0, w = 0; k < len; k++) {
		size_t n = esc_byte(u[k], e);

		if (w + n > hb)
			break;
		w += n;
		if (k + 1 == len || (u[k + 1] & 0xc0) != 0x80)
			h = k + 1;
	}
	/* The tail likewise, from the end. */
	for (k = len, w = 0; k > h; k--) {
		size_t n = esc_byte(u[k - 1], e);

		if (w + n > tb)
			break;
		w += n;
		if ((u[k - 1] & 0xc0) != 0x80)
			t = k - 1;
	}
	for (k = 0, w = 0; k < h; k++)
		w += esc_byte(u[k], dst + w);
	memcpy(dst + w, " ... ", 5);
	w += 5;
	for (k = t; k < len; k++)
		w += esc_byte(u[k], dst + w);
	dst[w] = '\0';
}

int pl_fail(struct pl_error *err, int code, const char *fmt, ...)
{
	char small[4096], *text = small, *big = NULL;
	va_list ap, again;
	int n;

	if (!err)
		return -1;
	err->code = code;
	va_start(ap, fmt);
	va_copy(again, ap);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	/* A message longer than that (paths nest deeper than PATH_MAX) is
	 * made whole, so that its end, the reason, is kept; plain malloc:
	 * a failure may be the report of an injected one. */
	if (n >= (int)sizeof(small) && (big = malloc((size_t)n + 1)) != NULL) {
		vsnprintf(big, (size_t)n + 1, fmt, again);
		text = big;
	}
	va_end(again);
	if (n < 0)
		small[0] = '\0';
	set_message(err->msg, sizeof(err->msg), text);
	free(big);
	return -1;
}

int pl_open_code(int e)
{
	return e == EMFILE || e == ENFILE || e == ENOMEM ? PL_EX_OSERR : PL_EX_NOINPUT;
}

const char *pl_open_hint(int e)
{
	return e == EMFILE || e == ENFILE ? " (raise the limit: ulimit -n)" : "";
}

int pl_open_nowait(const char *path, struct pl_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	int e = errno;

	if (fd < 0)
		return pl_fail(err, pl_open_code(e), "%s: cannot read: %s%s", path,
			       strerror(e), pl_open_hint(e));
	return fd;
}

int pl_check_regular(int fd, const char *path, struct stat *st,
		     struct pl_error *err)
{
	if (fstat(fd, st) != 0)
		return pl_fail(err, PL_EX_IOERR, "%s: cannot stat: %s", path,
			       strerror(errno));
	if (!S_ISREG(st->st_mode))
		return pl_fail(err, PL_EX_NOINPUT, "%s: not a regular file (a FIFO, a device "
			       "or a folder is where a file was)", path);
	return 0;
}

int pl_open_file(const char *path, struct stat *st, struct pl_error *err)
{
	int fd = pl_open_nowait(path, err);

	if (fd >= 0 && pl_check_regular(fd, path, st, err)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The stream pl_fopen_small returns: its copy of the file, read-only
 * (fopencookie, so that fclose frees the copy). */
struct small_file {
	char *buf;
	size_t len, at;
};

static ssize_t small_read(void *cookie, char *out, size_t n)
{
	struct small_file *m = cookie;

	if (n > m->len - m->at)
		n = m->len - m->at;
	memcpy(out, m->buf + m->at, n);
	m->at += n;
	return (ssize_t)n;
}

static int small_close(void *cookie)
{
	struct small_file *m = cookie;

	pl_free(m->buf);
	pl_free(m);
	return 0;
}

static const cookie_io_functions_t small_io = {
	.read = small_read,
	.close = small_close,
};

FILE *pl_fopen_small(const char *path, long long max, int big_code, const char **why,
		     int *code)
{
	struct small_file *mem;
	static char big[96];
	struct stat st;
	FILE *fp;
	char *buf;
	size_t len, cap;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);

	*code = PL_EX_NOINPUT;
	if (fd < 0) {
		*why = strerror(errno);
		*code = pl_open_code(errno);
		return NULL;
	}
	if (fstat(fd, &st) != 0) {
		*why = strerror(errno);
		close(fd);
		return NULL;
	}
	if (!S_ISREG(st.st_mode)) {
		*why = S_ISDIR(st.st_mode) ? "a folder, not a file" :
		       "not a regular file (a FIFO or a device)";
		close(fd);
		return NULL;
	}
	if ((long long)st.st_size > max) {
		snprintf(big, sizeof(big), "%lld bytes, more than the %lld such a file may have",
			 (long long)st.st_size, max);
		*why = big;
		*code = big_code;
		close(fd);
		return NULL;
	}
	/* Read here, to max + 1 bytes at most, and handed over as a stream
	 * in memory: the size checked above says nothing of a file that
	 * grows while it is read (a list something keeps appending to),
	 * and getline on the file itself would read on as long as it grows. */
	len = 0;
	cap = (size_t)st.st_size + 1;
	buf = pl_malloc(cap);
	while (buf) {
		ssize_t n;
		size_t want;

		if (len == cap && (long long)len <= max) {
			char *more = pl_realloc(buf, cap * 2);

			if (!more) {
				pl_free(buf);
				buf = NULL;
				break;
			}
			buf = more;
			cap *= 2;
		}
		if ((long long)len > max) {
			snprintf(big, sizeof(big), "more than the %lld bytes such a file may "
				 "have (more than its size said)", max);
			*why = big;
			*code = big_code;
			pl_free(buf);
			close(fd);
			return NULL;
		}
		want = cap - len;
		if ((long long)want > max + 1 - (long long)len)
			want = (size_t)(max + 1 - (long long)len);
		n = read(fd, buf + len, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			/* EIO; EAGAIN from a file whose reads would block
			 * (/proc/kmsg): not a list cut short. */
			*why = strerror(errno);
			*code = PL_EX_IOERR;
			pl_free(buf);
			close(fd);
			return NULL;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (!buf || !(mem = pl_malloc(sizeof(*mem)))) {
		*why = strerror(ENOMEM);
		*code = PL_EX_OSERR;
		pl_free(buf);
		return NULL;
	}
	mem->buf = buf;
	mem->len = len;
	mem->at = 0;
	if (!(fp = fopencookie(mem, "r", small_io))) {
		*why = strerror(ENOMEM);
		*code = PL_EX_OSERR;
		small_close(mem);
	}
	return fp;
}

int pl_mkdir(const char *path, struct pl_error *err)
{
	if (mkdir(path, 0777) != 0 && errno != EEXIST)
		return pl_fail(err, PL_EX_CANTCREAT, "%s: cannot create: %s", path,
			       strerror(errno));
	return 0;
}

int pl_oom(struct pl_error *err)
{
	return pl_fail(err, PL_EX_OSERR, "out of memory");
}

/* Fault injection state: allocations counted since the last
 * pl_alloc_fail_at() call; fail_at == 0 means never fail. */
static _Atomic unsigned long alloc_count;
static unsigned long fail_at;
static int fail_sticky;

unsigned long pl_alloc_fail_at(unsigned long n, int sticky)
{
	unsigned long made = alloc_count;

	alloc_count = 0;
	fail_at = n;
	fail_sticky = sticky;
	return made;
}

static int injected_failure(void)
{
	unsigned long n = ++alloc_count; /* read threads allocate too */

	if (fail_at == 0)
		return 0;
	if (n == fail_at)
		return 1;
	return fail_sticky && n > fail_at;
}

/*
 * Large blocks are mappings of their own, in huge pages.
 *
 * A block of many megabytes (the counts and weights of a corpus, k-means'
 * centroids and their transpose, the string tables) comes from the kernel
 * as fresh pages, and each 4 KiB page costs a trap when it is first
 * written.  On the virtual machine this is measured on that trap is dear:
 * 180 MB written a page at a time took 0.7 s, 0.19 s when mapped ahead
 * with MADV_POPULATE_WRITE (pl_prefault), and 0.012 s in 2 MiB pages
 * (README, "Speed and memory").  So a block of BIG_MIN bytes or more is
 * not malloc's: it is a mapping of its own that starts on a 2 MiB
 * boundary, advised MADV_HUGEPAGE (with transparent huge pages in
 * "madvise" mode, the Debian default, the kernel then faults it in 2 MiB
 * at a time; where THP is "never" the advice fails and the block is in
 * small pages).  It ends at the page after its last byte, so a partly used last
 * 2 MiB stays in small pages and costs no more than the bytes written.
 *
 * Growing one is mremap(2): in place when the addresses after it are free,
 * else moved whole to a fresh 2 MiB-aligned address, which moves its page
 * tables, huge pages included, without copying a byte.  (glibc's realloc
 * of a mapped chunk also calls mremap, but its chunks start 16 bytes into
 * a page, so a moved huge page is split into small ones: advising those
 * chunks made the read stage's growing arrays twice as slow.)  A block
 * that grows past BIG_MIN from malloc is copied once into a mapping; one
 * that shrinks stays a mapping, its tail unmapped.
 *
 * The blocks are found again by address: their pointers are 2 MiB-aligned,
 * which malloc's pointers (16 bytes into a chunk) are not but by a rare
 * chance, and a table of the live ones says which are ours.  Under
 * AddressSanitizer, ThreadSanitizer and valgrind every block is malloc's,
 * so their checks and leak reports cover the big arrays too.
 */
#define HUGE_PAGE ((uintptr_t)2 << 20)
#define BIG_MIN PL_BIG_MIN
#define BIG_MAX 1024 /* live big blocks at most; more come from malloc */

#if defined(__SANITIZE_THREAD__)
#define PL_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define PL_TSAN 1
#endif
#endif
#ifndef PL_TSAN
#define PL_TSAN 0
#endif
#define BIG_BLOCKS (!PL_ASAN && !PL_TSAN)
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

static struct big {
	uintptr_t at;
	size_t len;         /* mapped bytes, whole pages */
} big_tab[BIG_MAX];
static size_t big_n;
static pthread_mutex_t big_lock = PTHREAD_MUTEX_INITIALIZER;

/* Under valgrind every block is malloc's too: its leak report then covers
 * them, and valgrind 3.19 mistracks a mapping moved by mremap onto
 * another (MREMAP_FIXED) when a mapping follows the old one.  Known from
 * the client request where valgrind's header was there at build time,
 * else from the preload valgrind sets. */
static int under_valgrind(void)
{
	static _Atomic int known = -1;
	int v = known;

	if (v < 0) {
		const char *pre = getenv("LD_PRELOAD");

		v = RUNNING_ON_VALGRIND || (pre && strstr(pre, "vgpreload"));
		known = v;
	}
	return v;
}

static size_t page_size(void)
{
	long ps = sysconf(_SC_PAGESIZE);

	return ps > 0 ? (size_t)ps : 4096;
}

/* n rounded up to whole pages, or 0 when that overflows. */
static size_t big_len(size_t n)
{
	size_t page = page_size();

	return n > SIZE_MAX - HUGE_PAGE ? 0 : (n + page - 1) & ~(page - 1);
}

/* A fresh mapping of len bytes starting on a 2 MiB boundary, advised into
 * huge pages; NULL when the system has none to give. */
static void *big_map(size_t len)
{
	uint8_t *p = mmap(NULL, len + HUGE_PAGE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uintptr_t a, e;

	if (p == MAP_FAILED)
		return NULL;
	a = ((uintptr_t)p + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
	e = (uintptr_t)p + len + HUGE_PAGE;
	if (a > (uintptr_t)p)
		munmap(p, a - (uintptr_t)p);
	if (e > a + len)
		munmap((void *)(a + len), e - (a + len));
#ifdef MADV_HUGEPAGE
	(void)madvise((void *)a, len, MADV_HUGEPAGE);
#endif
	return (void *)a;
}

/* The index of big block p in big_tab, or -1 (the caller holds the lock). */
static long big_find(const void *p)
{
	if (!p || ((uintptr_t)p & (HUGE_PAGE - 1)))
		return -1;
	for (size_t i = 0; i < big_n; i++)
		if (big_tab[i].at == (uintptr_t)p)
			return (long)i;
	return -1;
}

/* A new big block of n bytes (zeroed, as every fresh mapping is), or NULL
 * when there is no room in the table or no mapping to be had: then the
 * caller asks malloc. */
static void *big_alloc(size_t n)
{
	size_t len = big_len(n);
	void *p;

	if (!BIG_BLOCKS || len == 0 || under_valgrind())
		return NULL;
	pthread_mutex_lock(&big_lock);
	p = big_n < BIG_MAX ? big_map(len) : NULL;
	if (p)
		big_tab[big_n++] = (struct big){ (uintptr_t)p, len };
	pthread_mutex_unlock(&big_lock);
	return p;
}

/* Unmap big block i (the caller holds the lock). */
static void big_drop(long i)
{
	munmap((void *)big_tab[i].at, big_tab[i].len);
	big_tab[i] = big_tab[--big_n];
}

/* Resize big block i to n > 0 bytes: its address, or NULL (the block
 * untouched).  The caller holds the lock. */
static void *big_resize(long i, size_t n)
{
	struct big *b = &big_tab[i];
	size_t len = big_len(n);
	void *p, *to;

	if (len == 0)
		return NULL;
	if (len <= b->len) {
		if (len < b->len)
			munmap((void *)(b->at + len), b->len - len);
		b->len = len;
		return (void *)b->at;
	}
	p = mremap((void *)b->at, b->len, len, 0);
	if (p == MAP_FAILED) {
		/* Moved to a fresh aligned place, which mremap takes over. */
		to = big_map(len);
		if (!to)
			return NULL;
		p = mremap((void *)b->at, b->len, len, MREMAP_MAYMOVE | MREMAP_FIXED, to);
		if (p == MAP_FAILED) {
			munmap(to, len);
			return NULL;
		}
	}
	b->at = (uintptr_t)p;
	b->len = len;
	return p;
}

size_t pl_alloc_mapped(const void *p)
{
	size_t len = 0;
	long i;

	pthread_mutex_lock(&big_lock);
	i = big_find(p);
	if (i >= 0)
		len = big_tab[i].len;
	pthread_mutex_unlock(&big_lock);
	return len;
}

void *pl_malloc(size_t n)
{
	void *p;

	if (injected_failure())
		return NULL;
	if (n >= BIG_MIN && (p = big_alloc(n)))
		return p;
	return malloc(n ? n : 1);
}

void *pl_calloc(size_t n, size_t size)
{
	void *p;

	if (injected_failure())
		return NULL;
	if (n == 0 || size == 0)
		return calloc(1, 1);
	if (n <= SIZE_MAX / size && n * size >= BIG_MIN && (p = big_alloc(n * size)))
		return p;
	return calloc(n, size);
}

void *pl_realloc(void *p, size_t n)
{
	size_t old;
	void *q;
	long i;

	if (injected_failure())
		return NULL;
	if (!BIG_BLOCKS || !p)
		return n >= BIG_MIN && (q = big_alloc(n)) ? q : realloc(p, n ? n : 1);
	if (!((uintptr_t)p & (HUGE_PAGE - 1))) {
		pthread_mutex_lock(&big_lock);
		i = big_find(p);
		/* A big block stays one when it shrinks: its tail is
		 * unmapped, and nothing is copied back into malloc's heap. */
		q = i >= 0 ? big_resize(i, n ? n : 1) : NULL;
		pthread_mutex_unlock(&big_lock);
		if (i >= 0)
			return q;
	}
	if (n < BIG_MIN || !(q = big_alloc(n)))
		return realloc(p, n ? n : 1);
	/* From malloc to a big block: copied once. */
	old = malloc_usable_size(p);
	memcpy(q, p, old < n ? old : n);
	free(p);
	return q;
}

char *pl_strndup(const char *s, size_t n)
{
	char *d = pl_malloc(n + 1);

	if (!d)
		return NULL;
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

int pl_has_suffix(const char *s, const char *suf)
{
	size_t ls = strlen(s), lf = strlen(suf);

	return ls > lf && strcmp(s + ls - lf, suf) == 0;
}

char *pl_strdup(const char *s)
{
	return pl_strndup(s, strlen(s));
}

void pl_free(void *p)
{
	long i;

	if (BIG_BLOCKS && p && !((uintptr_t)p & (HUGE_PAGE - 1))) {
		pthread_mutex_lock(&big_lock);
		i = big_find(p);
		if (i >= 0)
			big_drop(i);
		pthread_mutex_unlock(&big_lock);
		if (i >= 0)
			return;
	}
	free(p);
}

int pl_grow(void *p, size_t *cap, size_t need, size_t size)
{
	void **pp = p;
	size_t ncap;
	void *np;

	if (need <= *cap)
		return 0;
	ncap = *cap ? *cap : 16;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2)
			return -1;
		ncap *= 2;
	}
	if (ncap > SIZE_MAX / size)
		return -1;
	np = pl_realloc(*pp, ncap * size);
	if (!np)
		return -1;
	*pp = np;
	*cap = ncap;
	return 0;
}

int strbuf_add(struct strbuf *sb, const void *data, size_t len)
{
	if (pl_grow(&sb->buf, &sb->cap, sb->len + len + 1, 1))
		return -1;
	if (len)
		memcpy(sb->buf + sb->len, data, len);
	sb->len += len;
	sb->buf[sb->len] = '\0';
	return 0;
}

int strbuf_addstr(struct strbuf *sb, const char *s)
{
	return strbuf_add(sb, s, strlen(s));
}

int strbuf_addch(struct strbuf *sb, int c)
{
	char ch = (char)c;

	return strbuf_add(sb, &ch, 1);
}

const char pl_digit_pairs[201] =
	"00010203040506070809101112131415161718192021222324252627282930313233"
	"34353637383940414243444546474849505152535455565758596061626364656667"
	"6869707172737475767778798081828384858687888990919293949596979899";

int strbuf_add_u64(struct strbuf *sb, uint64_t v)
{
	char num[20];

	return strbuf_add(sb, num, (size_t)(pl_put_u64(num, v) - num));
}

int strbuf_addf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	if (pl_grow(&sb->buf, &sb->cap, sb->len + (size_t)n + 1, 1))
		return -1;
	va_start(ap, fmt);
	vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	sb->len += (size_t)n;
	return 0;
}

void strbuf_reset(struct strbuf *sb)
{
	sb->len = 0;
	if (sb->buf)
		sb->buf[0] = '\0';
}

void strbuf_release(struct strbuf *sb)
{
	pl_free(sb->buf);
	sb->buf = NULL;
	sb->len = sb->cap = 0;
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if it is invalid:
 * overlong forms, surrogates, code points above U+10FFFF and truncated
 * sequences are all rejected. */
static size_t utf8_valid_len(const unsigned char *s, size_t n)
{
	unsigned c = s[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return n >= 2 && (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		if (n < 3 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
			return 0;
		if (c == 0xe0 && s[1] < 0xa0)
			return 0;
		if (c == 0xed && s[1] >= 0xa0)
			return 0;
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if (n < 4 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 ||
		    (s[3] & 0xc0) != 0x80)
			return 0;
		if (c == 0xf0 && s[1] < 0x90)
			return 0;
		if (c == 0xf4 && s[1] >= 0x90)
			return 0;
		return 4;
	}
	return 0;
}

int strbuf_add_json(struct strbuf *sb, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	if (strbuf_addch(sb, '"'))
		return -1;
	while (i < len) {
		unsigned c = p[i];
		size_t l = utf8_valid_len(p + i, len - i);
		int rc;

		if (l == 0) {
			rc = strbuf_addstr(sb, "\\ufffd");
			l = 1;
		} else if (c == '"' || c == '\\') {
			char esc[2] = { '\\', (char)c };
			rc = strbuf_add(sb, esc, 2);
		} else if (c == '\n') {
			rc = strbuf_addstr(sb, "\\n");
		} else if (c == '\t') {
			rc = strbuf_addstr(sb, "\\t");
		} else if (c < 0x20 || c == 0x7f) {
			rc = strbuf_addf(sb, "\\u%04x", c);
		} else {
			rc = strbuf_add(sb, p + i, l);
		}
		if (rc)
			return -1;
		i += l;
	}
	return strbuf_addch(sb, '"');
}

int strbuf_add_tsv(struct strbuf *sb, const char *s, size_t len)
{
	size_t run = 0;

	for (size_t i = 0; i < len; i++) {
		char esc;

		switch (s[i]) {
		case '\\': esc = '\\'; break;
		case '\t': esc = 't'; break;
		case '\n': esc = 'n'; break;
		case '\r': esc = 'r'; break;
		default: continue;
		}
		if (strbuf_add(sb, s + run, i - run) || strbuf_addch(sb, '\\') ||
		    strbuf_addch(sb, esc))
			return -1;
		run = i + 1;
	}
	return strbuf_add(sb, s + run, len - run);
}

int strbuf_add_clean(struct strbuf *sb, const char *s, size_t len, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, added = 0;
	int space = 0;

	while (i < len) {
		size_t l = utf8_valid_len(p + i, len - i);
		int rc;

		if (l == 1 && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' ||
			       p[i] == '\r' || p[i] == '\f' || p[i] == '\v' ||
			       p[i] == '\0')) {
			space = added > 0;
			i++;
			continue;
		}
		if (added + (l ? l : 3) + space > max)
			break;
		if (space) {
			if (strbuf_addch(sb, ' '))
				return -1;
			added++;
			space = 0;
		}
		if (l == 0) {
			rc = strbuf_add(sb, "\xef\xbf\xbd", 3);
			added += 3;
			l = 1;
		} else if (l == 1 && p[i] < 0x20) {
			rc = strbuf_addch(sb, ' ');
			added++;
		} else {
			rc = strbuf_add(sb, p + i, l);
			added += l;
		}
		if (rc)
			return -1;
		i += l;
	}
	return 0;
}

/* The 64-bit hash of pl_hash: 16 bytes at a time, each pair of words
 * through a 64 x 64 -> 128-bit multiply folded to 64 bits (pl_mum, in
 * util.h), then the last 1 to 16 bytes, zero-padded, through
 * pl_hash_tail.  pl_hash16 gives the same value for a string of at most 16
 * bytes from two word loads, without a loop.  Only used inside the
 * process, never published. */
static inline uint64_t load64(const unsigned char *p)
{
	uint64_t w;

	memcpy(&w, p, 8);
	return w;
}

/* The n (0..8) bytes at p as a little-endian word, zero above them, read
 * without going past p + n (8 bytes: a plain load, the same on a
 * little-endian machine). */
static uint64_t load_upto8(const unsigned char *p, size_t n)
{
	uint64_t w = 0;

	if (n == 8)
		return load64(p);
	for (size_t i = 0; i < n; i++)
		w |= (uint64_t)p[i] << (8 * i);
	return w;
}

uint64_t pl_hash(const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t seed = PL_HASH_K2;
	size_t n = len;

	while (n > 16) {
		seed = pl_mum(load64(p) ^ PL_HASH_K0, load64(p + 8) ^ PL_HASH_K1 ^ seed) + seed;
		p += 16;
		n -= 16;
	}
	/* On a little-endian machine these are pl_hash16's words; elsewhere
	 * pl_hash16 is not used (PL_HASH16). */
	if (n > 8)
		return pl_hash_tail(seed, load64(p), load_upto8(p + 8, n - 8), len);
	return pl_hash_tail(seed, load_upto8(p, n), 0, len);
}

const uint64_t pl_hash_mask16[17][2] = {
	{ 0, 0 },
	{ 0xffULL, 0 },
	{ 0xffffULL, 0 },
	{ 0xffffffULL, 0 },
	{ 0xffffffffULL, 0 },
	{ 0xffffffffffULL, 0 },
	{ 0xffffffffffffULL, 0 },
	{ 0xffffffffffffffULL, 0 },
	{ ~0ULL, 0 },
	{ ~0ULL, 0xffULL },
	{ ~0ULL, 0xffffULL },
	{ ~0ULL, 0xffffffULL },
	{ ~0ULL, 0xffffffffULL },
	{ ~0ULL, 0xffffffffffULL },
	{ ~0ULL, 0xffffffffffffULL },
	{ ~0ULL, 0xffffffffffffffULL },
	{ ~0ULL, ~0ULL },
};

uint64_t pl_fnv1a(uint64_t h, const void *data, size_t len)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

void strtab_init(struct strtab *t)
{
	memset(t, 0, sizeof(*t));
}

void strtab_release(struct strtab *t)
{
	pl_free(t->pool);
	pl_free(t->off);
	pl_free(t->slot);
	strtab_init(t);
}

/* The entry a (non-empty) slot points to. */
static const char *slot_entry(const struct strtab *t, uint64_t e)
{
	return t->pool + ((uint64_t)(uint32_t)e - 1) * 4;
}

/* Move every entry into a table of nslot slots; each slot carries its
 * hash, so no string is read or hashed again. */
static int strtab_rehash(struct strtab *t, size_t nslot)
{
	uint64_t *slot = pl_calloc(nslot, sizeof(*slot));

	if (!slot)
		return -1;
	/* Every page of a large table is written below, all over it: map
	 * them in one call rather than a fault each (fresh pages cost
	 * several times more one by one on some virtual machines). */
	if (nslot * sizeof(*slot) >= ((size_t)1 << 20))
		pl_prefault(slot, nslot * sizeof(*slot));
	for (size_t j = 0; j < t->nslot; j++) {
		size_t i;

		if (!t->slot[j])
			continue;
		i = (uint32_t)(t->slot[j] >> 32) & (nslot - 1);
		while (slot[i])
			i = (i + 1) & (nslot - 1);
		slot[i] = t->slot[j];
	}
	pl_free(t->slot);
	t->slot = slot;
	t->nslot = nslot;
	return 0;
}

/* The slot holding s, or the empty slot where it would go.  A slot keeps
 * the hash beside the entry's place, so a probe reads an entry only when
 * the full 32-bit hash matches. */
static size_t strtab_probe(const struct strtab *t, const char *s, size_t len,
			   uint32_t h)
{
	size_t i = h & (t->nslot - 1);

	while (t->slot[i]) {
		uint64_t e = t->slot[i];

		if ((uint32_t)(e >> 32) == h) {
			const char *p = slot_entry(t, e);
			uint32_t l;

			memcpy(&l, p, sizeof(l));
			if (l == len && memcmp(p + STRTAB_HDR, s, len) == 0)
				return i;
		}
		i = (i + 1) & (t->nslot - 1);
	}
	return i;
}

/* The id of the string in a (non-empty) slot. */
static uint32_t slot_id(const struct strtab *t, uint64_t e)
{
	uint32_t id;

	memcpy(&id, slot_entry(t, e) + 4, sizeof(id));
	return id;
}

uint32_t strtab_find(const struct strtab *t, const char *s, size_t len)
{
	uint32_t h;
	size_t i;

	if (!t->nslot)
		return STRTAB_NONE;
	h = (uint32_t)pl_hash(s, len);
	i = strtab_probe(t, s, len, h);
	return t->slot[i] ? slot_id(t, t->slot[i]) : STRTAB_NONE;
}

int strtab_reserve(struct strtab *t, size_t more, size_t bytes)
{
	size_t n = t->n + more, nslot = t->nslot ? t->nslot : 1024;

	if (!more)
		return 0; /* nothing to make room for (and maybe no pool yet) */
	if (n < t->n || n > UINT32_MAX || bytes > SIZE_MAX / 2 - t->pool_len)
		return -1;
	/* strtab_intern_hash doubles the slots when n * 2 > nslot */
	while (n * 2 > nslot)
		nslot *= 2;
	if (nslot > t->nslot && strtab_rehash(t, nslot))
		return -1;
	/* each entry: its header, bytes, NUL, padded to 4 */
	if (pl_grow(&t->pool, &t->pool_cap, t->pool_len + bytes +
		    more * (STRTAB_HDR + 4), 1) ||
	    pl_grow(&t->off, &t->cap, n, sizeof(*t->off)))
		return -1;
	/* The caller is about to fill them (see pl_prefault); `bytes` of the
	 * pool, not the headers' margin, which may go unused. */
	pl_prefault(t->pool + t->pool_len, bytes);
	pl_prefault(t->off + t->n, more * sizeof(*t->off));
	return 0;
}

int strtab_intern(struct strtab *t, const char *s, size_t len, uint32_t *id)
{
	return strtab_intern_hash(t, s, len, (uint32_t)pl_hash(s, len), id);
}

int strtab_intern_hash(struct strtab *t, const char *s, size_t len, uint32_t h,
		       uint32_t *id)
{
	size_t i, size = (STRTAB_HDR + len + 1 + 3) & ~(size_t)3;
	uint32_t l32 = (uint32_t)len, id32;
	char *p;

	if (len > UINT32_MAX - 16 || len > SIZE_MAX - 16)
		return -1;
	if (!t->nslot && strtab_rehash(t, 1024))
		return -1;
	i = strtab_probe(t, s, len, h);
	if (t->slot[i]) {
		*id = slot_id(t, t->slot[i]);
		return 0;
	}
	/* Room for the id, and for the entry's place in a slot. */
	if (t->n >= UINT32_MAX - 2 || t->pool_len / 4 + 1 >= UINT32_MAX)
		return -1;
	if (pl_grow(&t->pool, &t->pool_cap, t->pool_len + size, 1) ||
	    pl_grow(&t->off, &t->cap, t->n + 1, sizeof(*t->off)))
		return -1;
	id32 = (uint32_t)t->n;
	p = t->pool + t->pool_len;
	memcpy(p, &l32, sizeof(l32));
	memcpy(p + 4, &id32, sizeof(id32));
	memcpy(p + STRTAB_HDR, s, len);
	memset(p + STRTAB_HDR + len, 0, size - STRTAB_HDR - len);
	t->off[t->n] = t->pool_len + STRTAB_HDR;
	t->slot[i] = (uint64_t)h << 32 | (uint32_t)(t->pool_len / 4 + 1);
	t->pool_len += size;
	*id = id32;
	t->n++;
	if (t->n * 2 > t->nslot && strtab_rehash(t, t->nslot * 2)) {
		/* The string is in; only the table could not grow.  Keep it
		 * consistent and report the failure. */
		return -1;
	}
	return 1;
}

void pl_prefault(void *p, size_t n)
{
#ifdef MADV_POPULATE_WRITE
	const uintptr_t page = page_size();
	uintptr_t a = ((uintptr_t)p + page - 1) & ~(page - 1);
	uintptr_t e = ((uintptr_t)p + n) & ~(page - 1);

	if (p && e > a)
		(void)madvise((void *)a, e - a, MADV_POPULATE_WRITE);
#else
	(void)p;
	(void)n;
#endif
}

double pl_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int pl_parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (end == s || *end != '\0' || errno == ERANGE || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int pl_parse_double(const char *s, double min, double max, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || *end != '\0' || errno == ERANGE || !isfinite(v) ||
	    v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

struct par_job {
	void (*fn)(void *arg, size_t t, size_t nt);
	void *arg;
	size_t t, nt;
	pthread_t tid;
	int threaded;
};

static void *par_main(void *p)
{
	struct par_job *j = p;

	j->fn(j->arg, j->t, j->nt);
	return NULL;
}

void pl_parallel(size_t nt, void (*fn)(void *arg, size_t t, size_t nt),
		 void *arg)
{
	struct par_job job[PL_MAX_THREADS];

	if (nt < 1)
		nt = 1;
	if (nt > PL_MAX_THREADS)
		nt = PL_MAX_THREADS;
	for (size_t t = 1; t < nt; t++) {
		job[t] = (struct par_job){ fn, arg, t, nt, 0, 0 };
		job[t].threaded = pthread_create(&job[t].tid, NULL, par_main,
						 &job[t]) == 0;
	}
	fn(arg, 0, nt);
	for (size_t t = 1; t < nt; t++) {
		if (job[t].threaded)
			pthread_join(job[t].tid, NULL);
		else
			fn(arg, t, nt);  /* no thread: its share is done here */
	}
}

/* Blocks pl_hash_range and pl_copy_range read at a time. */
#define RANGE_BLOCK ((size_t)1 << 20)

/* Up to the next RANGE_BLOCK of the `len` bytes at `off` of fd into buf:
 * the bytes read, or -1 with errno set (EIO at the end of the file). */
static ssize_t read_block(int fd, char *buf, uint64_t off, uint64_t len)
{
	size_t want = len < RANGE_BLOCK ? (size_t)len : RANGE_BLOCK;

	for (;;) {
		ssize_t n = pread(fd, buf, want, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0)
			errno = EIO;
		return n > 0 ? n : -1;
	}
}

int pl_hash_range(int fd, uint64_t off, uint64_t len, uint64_t *hash)
{
	XXH64_state_t *st = XXH64_createState();
	char *buf = pl_malloc(RANGE_BLOCK);
	int rc = -1;

	if (!st || !buf) {
		errno = ENOMEM;
		goto out;
	}
	XXH64_reset(st, 0);
	while (len) {
		ssize_t n = read_block(fd, buf, off, len);

		if (n < 0)
			goto out;
		XXH64_update(st, buf, (size_t)n);
		off += (uint64_t)n;
		len -= (uint64_t)n;
	}
	*hash = XXH64_digest(st);
	rc = 0;
out:
	XXH64_freeState(st);
	pl_free(buf);
	return rc;
}

/* pl_map_guard's notes.  A place is taken once and never reused, and its
 * length and path are written before its start (release order; 0: not
 * in use, or no longer), so the handler, which may run on any thread
 * while others note and drop mappings, never reads a field being
 * written.  A run maps its index and at most 64 segments per cache it
 * loads. */
#define MAP_GUARDS 256
#define MAP_GUARD_PATH 512
static struct {
	_Atomic uintptr_t base;
	size_t len;
	char path[MAP_GUARD_PATH];
} map_guard[MAP_GUARDS];
static atomic_size_t map_guards;  /* places taken */
static atomic_int map_faulted;    /* a thread is reporting */

/* Async-signal-safe only: atomics, memcpy, strlen, write, sigaction,
 * raise, pause, _exit.  Only a fault (si_code > 0) in a noted mapping is
 * ours; the first thread to fault reports in one write and ends the
 * process, and a second waits for that.  Anything else gets the default
 * action: a fault elsewhere when the access is retried, a SIGBUS sent by
 * kill(2) at once. */
static void on_sigbus(int sig, siginfo_t *si, void *uctx)
{
	static const char head[] = "pipeline: ",
		tail[] = ": could not be read while the run had it mapped (another "
			 "program cut it short, or the disk failed to read it); "
			 "stopped before publishing, the previous outputs are as they "
			 "were\n";
	size_t n = atomic_load_explicit(&map_guards, memory_order_acquire);
	struct sigaction dfl;

	(void)uctx;
	for (size_t i = 0; si->si_code > 0 && i < n && i < MAP_GUARDS; i++) {
		uintptr_t a = (uintptr_t)si->si_addr,
			  b = atomic_load_explicit(&map_guard[i].base, memory_order_acquire);
		char msg[sizeof(head) + MAP_GUARD_PATH + sizeof(tail)];
		size_t len = 0, k;

		if (!b || a - b >= map_guard[i].len)
			continue;
		if (atomic_exchange(&map_faulted, 1))
			for (;;)
				pause();
		memcpy(msg, head, sizeof(head) - 1);
		len = sizeof(head) - 1;
		k = strlen(map_guard[i].path);
		memcpy(msg + len, map_guard[i].path, k);
		len += k;
		memcpy(msg + len, tail, sizeof(tail) - 1);
		len += sizeof(tail) - 1;
		if (write(2, msg, len) < 0) {
			/* nothing to report it on */
		}
		_exit(PL_EX_IOERR);
	}
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	sigaction(sig, &dfl, NULL);
	if (si->si_code <= 0)
		raise(sig); /* delivered when the handler returns */
}

int pl_map_guard_install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigbus;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	return sigaction(SIGBUS, &sa, NULL);
}

int pl_map_guard(const void *base, size_t len, const char *path)
{
	size_t i = atomic_fetch_add(&map_guards, 1), k = strlen(path);

	if (i >= MAP_GUARDS || !base)
		return -1;
	map_guard[i].len = len;
	if (k < MAP_GUARD_PATH) {
		memcpy(map_guard[i].path, path, k + 1);
	} else {
		/* the end of a long path names the file */
		memcpy(map_guard[i].path, "...", 3);
		memcpy(map_guard[i].path + 3, path + k - (MAP_GUARD_PATH - 4),
		       MAP_GUARD_PATH - 3);
	}
	atomic_store_explicit(&map_guard[i].base, (uintptr_t)base, memory_order_release);
	return 0;
}

void pl_map_unguard(const void *base)
{
	size_t n = atomic_load_explicit(&map_guards, memory_order_acquire);

	for (size_t i = 0; base && i < n && i < MAP_GUARDS; i++)
		if (atomic_load_explicit(&map_guard[i].base, memory_order_relaxed) ==
		    (uintptr_t)base) {
			atomic_store_explicit(&map_guard[i].base, 0, memory_order_release);
			break;
		}
}

int pl_copy_range(int in, uint64_t off, uint64_t len, int out)
{
	char *buf;
	int rc = -1;

	while (len) {
		loff_t from = (loff_t)off;
		ssize_t n = copy_file_range(in, &from, out, NULL, len, 0);

		if (n > 0) {
			off += (uint64_t)n;
			len -= (uint64_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0) {
			errno = EIO; /* the file is shorter than it should be */
			return -1;
		}
		/* Not between these files (another file system, an old
		 * kernel): read and write instead. */
		if (errno == EXDEV || errno == ENOSYS || errno == EINVAL ||
		    errno == EOPNOTSUPP)
			break;
		return -1;
	}
	if (!len)
		return 0;
	buf = pl_malloc(RANGE_BLOCK);
	if (!buf) {
		errno = ENOMEM;
		return -1;
	}
	while (len) {
		ssize_t n = read_block(in, buf, off, len);

		if (n < 0)
			goto out;
		for (ssize_t done = 0, w; done < n; done += w) {
			w = write(out, buf + done, (size_t)(n - done));
			if (w < 0 && errno == EINTR)
				w = 0;
			else if (w <= 0) {
				if (w == 0)
					errno = EIO;
				goto out;
			}
		}
		off += (uint64_t)n;
		len -= (uint64_t)n;
	}
	rc = 0;
out:
	pl_free(buf);
	return rc;
}
