/* util.h -- errors, allocation, growable buffers and the string table
 *
 * API-wide rules, stated once:
 *  - Functions that can fail return 0 on success and -1 on failure, and
 *    fill the caller's `struct pl_error` with an exit code (one of the
 *    PL_EX_* below) and a message without the program name.  Nothing in
 *    here or in stages/ ever exits or aborts; only main() does.
 *  - Every allocation goes through pl_malloc/pl_realloc/pl_calloc so that a
 *    test can make the Nth allocation fail (pl_alloc_fail_at).
 *  - `_init` prepares a struct on the caller's storage, `_release` frees
 *    what it owns and leaves it re-initialisable, `_free` also frees the
 *    struct itself (git's convention).
 */
#ifndef PL_UTIL_H
#define PL_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Exit codes, one meaning each (sysexits.h vocabulary); README lists them. */
enum {
	PL_EX_OK = 0,
	PL_EX_USAGE = 64,     /* bad command line */
	PL_EX_DATAERR = 65,   /* the corpus cannot be analysed as asked */
	PL_EX_NOINPUT = 66,   /* config, corpus or list file missing or unreadable */
	PL_EX_SOFTWARE = 70,  /* internal error (a bug) */
	PL_EX_OSERR = 71,     /* out of memory or another system failure */
	PL_EX_CANTCREAT = 73, /* cannot create the output directory or files */
	PL_EX_IOERR = 74,     /* read or write error */
	PL_EX_TEMPFAIL = 75,  /* another run holds the lock; try again */
	PL_EX_CONFIG = 78     /* configuration error */
};

struct pl_error {
	int code;
	char msg[1024];
};

/* Record an error and return -1, so callers can write
 * `return pl_fail(err, PL_EX_IOERR, "%s: %s", path, strerror(errno));`.
 * A NULL err is allowed and records nothing. */
int pl_fail(struct pl_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Shorthand for the out-of-memory failure. */
int pl_oom(struct pl_error *err);
/* Open `path` for reading a file of the corpus or of the cache: the fd,
 * with its stat data in *st; or -1 with PL_EX_NOINPUT when it cannot be
 * opened or is not a regular file (a FIFO, a device or a folder put
 * where a file was listed), PL_EX_IOERR when fstat fails.  Never waits:
 * the open is O_NONBLOCK, so a FIFO does not wait for a writer, and a
 * file whose reads would block (/proc/kmsg) fails them with EAGAIN
 * rather than hang a run that holds the output folder's lock. */
struct stat;
int pl_open_file(const char *path, struct stat *st, struct pl_error *err);
/* The exit code for an open(2) or opendir(3) that failed with errno e:
 * 71 (PL_EX_OSERR) when the process or system ran out of descriptors or
 * memory (EMFILE, ENFILE, ENOMEM: nothing is wrong with the file), else
 * 66; and a hint for the message ("" or " (raise the limit: ulimit -n)"). */
int pl_open_code(int e);
const char *pl_open_hint(int e);
/* A small text file the config names (the config itself, a stop-word or
 * boilerplate list), for getline: opened as pl_open_file does (never
 * waiting on a FIFO, regular files only), read whole, to max + 1 bytes at
 * most, and handed back as a stream that reads that copy in memory (its
 * reads cannot fail).  So neither a FIFO nor /dev/zero given as one can
 * hang a run or fill its memory, nor can a file that grows while it is
 * read.  NULL with *why the reason, for the caller's message (strerror's,
 * "not a regular file ...", "... more than ...") and *code the exit code:
 * PL_EX_NOINPUT (missing, not a regular file, unreadable), big_code
 * (over max bytes), PL_EX_IOERR (a read failed: EIO, or EAGAIN from a file
 * whose reads would block, as /proc/kmsg's) or PL_EX_OSERR (memory). */
FILE *pl_fopen_small(const char *path, long long max, int big_code, const char **why,
		     int *code);
/* The most bytes such a file may have: the config (a few kB as shipped),
 * a stop-word or boilerplate list (README, "Bad input"). */
#define PL_CONFIG_MAX (1LL << 20)
#define PL_LIST_MAX (64LL << 20)
/* Its two halves, for a reader that checks the type only when the bytes
 * it gets are not what the listing said (a system call less per file):
 * the O_NONBLOCK open (fd, or -1 with PL_EX_NOINPUT), and the check of
 * an open fd (0, or -1 as above; *st filled). */
int pl_open_nowait(const char *path, struct pl_error *err);
int pl_check_regular(int fd, const char *path, struct stat *st,
		     struct pl_error *err);
/* Create the folder `path` (its parent must exist) unless it is there
 * already, also when another process just made it.  0, or -1 with
 * PL_EX_CANTCREAT "PATH: cannot create: REASON". */
int pl_mkdir(const char *path, struct pl_error *err);
/* XXH64 (seed 0) of bytes [off, off + len) of the open file fd, read a
 * block at a time.  0, or -1 with errno set (a short file: EIO). */
int pl_hash_range(int fd, uint64_t off, uint64_t len, uint64_t *hash);
/* Append bytes [off, off + len) of the open file `in` to `out` (at its
 * file offset): copy_file_range(2), which can share or copy the blocks in
 * the kernel, or read and write.  0, or -1 with errno set. */
int pl_copy_range(int in, uint64_t off, uint64_t len, int out);

/*
 * Files read through a mapping (cache.c: cache.idx and the segments).  A
 * page of one that cannot be read, because another program cut the file
 * short while it was mapped or the disk failed to read it, is a SIGBUS,
 * which would kill the run without a word.  pl_map_guard notes the
 * mapping [base, base + len) of `path` (copied; a path of 512 bytes or
 * more, its end); the handler main installs (pl_map_guard_install; 0 or
 * -1 with errno) then writes "pipeline: PATH: ..." to stderr in one
 * write and ends the process at once with PL_EX_IOERR: the one exit
 * outside main, since the faulting read can neither go on nor return an
 * error.  That is as safe as a SIGKILL at the same moment (README, "Bad
 * input, faults and fuzzing"): nothing is published, the lock goes with
 * the process, and the next run clears the staging folder.  A SIGBUS
 * outside a noted mapping, or one sent by kill(2), kills the process as
 * before.  pl_map_guard returns 0, or -1 when its 256 places (never
 * reused) are used up: the mapping then goes unguarded.
 * pl_map_unguard(base) before unmapping.  Thread-safe.
 */
int pl_map_guard_install(void);
int pl_map_guard(const void *base, size_t len, const char *path);
void pl_map_unguard(const void *base);

/* Allocation.  NULL means out of memory (or an injected failure). */
void *pl_malloc(size_t n);
void *pl_calloc(size_t n, size_t size);
void *pl_realloc(void *p, size_t n);
char *pl_strdup(const char *s);
char *pl_strndup(const char *s, size_t n);
/* 1 when s ends with suf and is longer than it ("x.gz", not ".gz"). */
int pl_has_suffix(const char *s, const char *suf);
void pl_free(void *p);
/* Blocks of PL_BIG_MIN bytes or more are mappings of their own, 2 MiB
 * aligned and in huge pages where the system has them (util.c says why);
 * the bytes block p has mapped, or 0 when it is malloc's.  Under
 * AddressSanitizer, ThreadSanitizer and valgrind every block is malloc's. */
#define PL_BIG_MIN ((size_t)4 << 20)
/* 1 in a build with AddressSanitizer (GCC's macro, or clang's feature
 * test): the big blocks, and cache.c's copy of its index, are malloc's
 * then, so that its checks cover them. */
#if defined(__SANITIZE_ADDRESS__)
#define PL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PL_ASAN 1
#endif
#endif
#ifndef PL_ASAN
#define PL_ASAN 0
#endif
size_t pl_alloc_mapped(const void *p);
/* Fault injection for tests: the allocation numbered `n` (1-based, counted
 * from this call) fails; with `sticky`, every later one fails too.  n = 0
 * switches injection off.  Returns the number of allocations made since the
 * previous call. */
unsigned long pl_alloc_fail_at(unsigned long n, int sticky);

/* Grow *p (an array of `size`-byte elements with capacity *cap) so that it
 * holds at least `need` elements.  Doubling; 0 or -1 (out of memory, or the
 * size would overflow), and *p is untouched on failure. */
int pl_grow(void *p, size_t *cap, size_t need, size_t size);

/* A growable byte buffer; always NUL-terminated after a successful append. */
struct strbuf {
	char *buf;
	size_t len, cap;
};
#define STRBUF_INIT { NULL, 0, 0 }
int strbuf_add(struct strbuf *sb, const void *data, size_t len);
int strbuf_addstr(struct strbuf *sb, const char *s);
int strbuf_addf(struct strbuf *sb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int strbuf_addch(struct strbuf *sb, int c);
/* "00" "01" ... "99": numbers are written two digits at a time. */
extern const char pl_digit_pairs[201];
/* Write v in decimal at p (room for 20 bytes), as "%" PRIu64 would;
 * returns the end.  Inline: the matrix writers call it three times per
 * entry (stages/write.c). */
static inline char *pl_put_u64(char *p, uint64_t v)
{
	char tmp[20], *q = tmp + sizeof(tmp);
	size_t n;

	while (v >= 100) {
		q -= 2;
		memcpy(q, pl_digit_pairs + 2 * (v % 100), 2);
		v /= 100;
	}
	if (v >= 10) {
		q -= 2;
		memcpy(q, pl_digit_pairs + 2 * v, 2);
	} else {
		*--q = (char)('0' + v);
	}
	n = (size_t)(tmp + sizeof(tmp) - q);
	memcpy(p, q, n);
	return p + n;
}
/* Appends v with pl_put_u64, without printf's parsing: the per-line
 * integers of docs.tsv, terms.tsv.gz and sources.tsv. */
int strbuf_add_u64(struct strbuf *sb, uint64_t v);
/* Appends s as a JSON string literal, quotes included; invalid UTF-8 is
 * written as U+FFFD. */
int strbuf_add_json(struct strbuf *sb, const char *s, size_t len);
void strbuf_reset(struct strbuf *sb);
void strbuf_release(struct strbuf *sb);

/* Appends s as a TSV field: backslash, tab, newline and CR become the
 * two-character escapes \\ \t \n \r (output/README.md). */
int strbuf_add_tsv(struct strbuf *sb, const char *s, size_t len);

/* Copy at most `max` bytes of valid UTF-8 from s into sb, replacing invalid
 * sequences with U+FFFD and cutting only at a character boundary.  Runs of
 * whitespace (including newlines) become one space. */
int strbuf_add_clean(struct strbuf *sb, const char *s, size_t len, size_t max);

/* 64-bit hash of a byte string (deterministic across runs and machines).
 * For hash tables only: never published, and not made to resist inputs
 * chosen to collide. */
uint64_t pl_hash(const void *data, size_t len);

#define PL_HASH_K0 0xa0761d6478bd642fULL
#define PL_HASH_K1 0xe7037ed1a0b428dbULL
#define PL_HASH_K2 0x8ebc6af09c88c6e3ULL
#define PL_HASH_K3 0x589965cc75374cc3ULL

/* a * b, 128 bits, folded: the low half xor the high half. */
static inline uint64_t pl_mum(uint64_t a, uint64_t b)
{
#ifdef __SIZEOF_INT128__
	__uint128_t r = (__uint128_t)a * b;

	return (uint64_t)r ^ (uint64_t)(r >> 64);
#else
	uint64_t al = (uint32_t)a, ah = a >> 32, bl = (uint32_t)b, bh = b >> 32;
	uint64_t ll = al * bl, lh = al * bh, hl = ah * bl, hh = ah * bh;
	uint64_t mid = (ll >> 32) + (uint32_t)lh + (uint32_t)hl;
	uint64_t lo = (mid << 32) | (uint32_t)ll;
	uint64_t hi = hh + (lh >> 32) + (hl >> 32) + (mid >> 32);

	return lo ^ hi;
#endif
}

/* pl_hash's last step: the last 1 to 16 bytes as two little-endian words,
 * zero past the string (w1 = 0 for 8 bytes or fewer), and the length. */
static inline uint64_t pl_hash_tail(uint64_t seed, uint64_t w0, uint64_t w1,
				    size_t len)
{
	uint64_t a = pl_mum(w0 ^ PL_HASH_K0, w1 ^ PL_HASH_K1 ^ seed);

	return pl_mum(a ^ PL_HASH_K2 ^ (uint64_t)len, (a >> 29) ^ PL_HASH_K3);
}

/* Masks that keep the first n (0..16) bytes of two little-endian words. */
extern const uint64_t pl_hash_mask16[17][2];

/* The words pl_hash16 hashes for the len (<= 16) bytes at p, when 16 bytes
 * may be read there (the bytes past len must be initialised, their value
 * does not matter).  Little-endian only: see PL_HASH16. */
static inline void pl_hash16_words(const void *p, size_t len, uint64_t w[2])
{
	memcpy(w, p, 16);
	w[0] &= pl_hash_mask16[len][0];
	w[1] &= pl_hash_mask16[len][1];
}

/* pl_hash(p, len) of a string of at most 16 bytes, from its words. */
static inline uint64_t pl_hash16(const uint64_t w[2], size_t len)
{
	return pl_hash_tail(PL_HASH_K2, w[0], w[1], len);
}
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define PL_HASH16 1
#else
#define PL_HASH16 0
#endif
/* FNV-1a 64, used where the value is published (config hash). */
uint64_t pl_fnv1a(uint64_t h, const void *data, size_t len);
#define PL_FNV_OFFSET 0xcbf29ce484222325ULL

/*
 * struct strtab -- interns byte strings, giving each distinct string a dense
 * id 0, 1, 2, ... in order of first insertion.  The bytes live in one pool
 * (no allocation per string); lookups use open addressing.  Strings may
 * contain any byte except that they are also stored NUL-terminated, so
 * strtab_str() can be used as a C string for text without NULs.
 *
 * Each pool entry is the string's length and id (32 bits each), its bytes
 * and a NUL, padded to a multiple of 4 bytes, and a slot holds the hash
 * and the entry's place: a lookup reads the slot and then one entry, two
 * cache lines, where a slot holding an id would add the id's offset and
 * length from two more arrays.  A tokenizer looks up every token, so this
 * is the cost of a corpus's rarer words.  The pool can reach 16 GiB.
 */
struct strtab {
	char *pool;           /* the entries: length, id, bytes, NUL, pad */
	size_t pool_len, pool_cap;
	uint64_t *off;        /* id -> offset of its bytes in pool */
	size_t n, cap;        /* ids in use, capacity of off */
	uint64_t *slot;       /* open addressing: hash << 32 | (entry offset
			       * / 4 + 1); 0 is empty */
	size_t nslot;         /* power of two */
};
#define STRTAB_NONE UINT32_MAX
/* An entry's length and id, before its bytes. */
#define STRTAB_HDR 8

void strtab_init(struct strtab *t);
void strtab_release(struct strtab *t);
/* Look s up and add it when absent.  On success stores its id in *id and
 * returns 1 if it was added, 0 if it was there; -1 when out of memory, or
 * when the table would exceed 2^32 - 2 strings or a 16 GiB pool, or s is
 * 4 GiB long. */
int strtab_intern(struct strtab *t, const char *s, size_t len, uint32_t *id);
/* The same, with h = (uint32_t)pl_hash(s, len) already computed. */
int strtab_intern_hash(struct strtab *t, const char *s, size_t len, uint32_t h,
		       uint32_t *id);
/* Room for `more` strings of `bytes` in all (their lengths) beyond those
 * in t, so that interning them neither grows the table nor moves its
 * pool.  Ids and contents are as without it.  0 or -1 (out of memory). */
int strtab_reserve(struct strtab *t, size_t more, size_t bytes);
/* The id of s, or STRTAB_NONE. */
uint32_t strtab_find(const struct strtab *t, const char *s, size_t len);
/* The string with this id, NUL-terminated, owned by the table; valid until
 * the next strtab_intern (the pool may move). */
static inline const char *strtab_str(const struct strtab *t, uint32_t id)
{
	return t->pool + t->off[id];
}
static inline uint32_t strtab_len(const struct strtab *t, uint32_t id)
{
	uint32_t len;

	memcpy(&len, t->pool + t->off[id] - STRTAB_HDR, sizeof(len));
	return len;
}

/* Hints for a caller that looks many strings up: strtab_prefetch asks for
 * the cache line of the slot where a string of hash h would be, and, once
 * that has arrived, strtab_prefetch_entry for the entry that slot (or the
 * three after it) names when its hash is h.  A lookup then finds both in
 * the cache instead of waiting for memory twice.  They change nothing and
 * may be called with any h.  Such callers go STRTAB_BATCH strings at a
 * time: hashes and slots asked for, then entries, then the lookups (the
 * merges of common.c, the preload of vocabulary.c, build_map of cache.c). */
#define STRTAB_BATCH 32
static inline void strtab_prefetch(const struct strtab *t, uint32_t h)
{
#if defined(__GNUC__)
	if (t->nslot)
		__builtin_prefetch(&t->slot[h & (t->nslot - 1)]);
#else
	(void)t;
	(void)h;
#endif
}
static inline void strtab_prefetch_entry(const struct strtab *t, uint32_t h)
{
#if defined(__GNUC__)
	for (size_t k = 0; k < 4 && t->nslot; k++) {
		uint64_t e = t->slot[(h + k) & (t->nslot - 1)];

		if (!e)
			return;
		if ((uint32_t)(e >> 32) == h) {
			__builtin_prefetch(t->pool + ((uint64_t)(uint32_t)e - 1) * 4);
			return;
		}
	}
#else
	(void)t;
	(void)h;
#endif
}

/* Map the pages of [p, p + n) (whole pages inside it) writable now, with
 * one madvise(MADV_POPULATE_WRITE) rather than a page fault per 4 KiB on
 * first write: under the virtual machines this runs on, a fault costs
 * about 10 us, and a large run writes hundreds of megabytes of fresh
 * memory.  For memory that is about to be written whole.  Without the
 * call (Linux before 5.14) the pages simply fault as before. */
void pl_prefault(void *p, size_t n);

/* Run fn(arg, t, nt) for t = 0 .. nt-1, each on a thread of its own (t = 0
 * on the caller's); returns when all are done.  A share whose thread cannot
 * start runs on the caller's thread afterwards, so fn must not wait for its
 * siblings.  nt is clamped to 1 .. PL_MAX_THREADS. */
#define PL_MAX_THREADS 64
void pl_parallel(size_t nt, void (*fn)(void *arg, size_t t, size_t nt),
		 void *arg);
/* Monotonic clock in seconds. */
double pl_now(void);

/* Parse helpers for config values: the whole string must be consumed. */
int pl_parse_long(const char *s, long min, long max, long *out);
int pl_parse_double(const char *s, double min, double max, double *out);

#endif
