/* outdir.c -- the output folder: lock, published sets, run history
 *
 * See outdir.h for the layout and its promises.  The order of a publish,
 * and why:
 *  1. every output is written and closed in sets/ID (the staging set;
 *     stages/common.c's out_* functions), its writeback started;
 *  2. manifest.tsv lists each file of the set with its size and XXH3-128
 *     hash (`pipeline verify` checks them); each file, the manifest last,
 *     is fsynced (common.c, "Durability"), then the set folder;
 *  3. the top-level links NAME -> current/NAME are made where missing (a
 *     regular file left by an older version's flat layout is replaced by
 *     its link; any other file or folder in a link's place fails the run
 *     before the first link is made: link_place_free);
 *  4. a new link `current` -> sets/ID is made under a temporary name and
 *     renamed over `current`: the one atomic step, after which the run is
 *     published; the output folder is synced;
 *  5. best effort, after the switch: runs/ID.json (a hard link to the
 *     set's run.json), pruning of runs/ and of the sets older than the
 *     one just replaced.
 * A failure or a kill before 4 leaves `current`, and so every output, as
 * it was; the next run removes the dead set (outdir_begin).
 */
#define _GNU_SOURCE /* statx */
#include "outdir.h"
#include "cache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

int pl_hash_file(const char *path, uint64_t limit, char hex[33], uint64_t *size,
		 struct pl_error *err)
{
	uint8_t h[16];

	if (pl_hash_path(path, limit, h, size, err))
		return -1;
	pl_hash_hex(h, hex);
	return 0;
}

/* Is `name` one of the files that get a top-level link?  The cache stays
 * inside the set: it is for the next run, not for readers. */
static int is_public(const char *name)
{
	return strncmp(name, "cache", 5) != 0;
}

/*
 * A run ends once: published (outdir_publish), failed with its report
 * written (outdir_record_failure), or stopped by a signal (the watcher,
 * below).  end_lock makes it one of them: each takes it and sets `ended`,
 * so a SIGTERM that comes while current is being switched waits for the
 * switch and then finds the run published, and a run that failed and a
 * signal never both write runs/ID.json.  It also guards the ctx fields
 * the watcher reads (run_id, lockfd), which outdir_lock and outdir_begin
 * set.
 */
static pthread_mutex_t end_lock = PTHREAD_MUTEX_INITIALIZER;
static int ended;

int outdir_lock(struct ctx *ctx, struct pl_error *err)
{
	struct strbuf sb = STRBUF_INIT;
	char pid[32];
	struct tm tm;
	time_t now = time(NULL);
	int fd, n;

	if (out_make_dir(ctx->outdir, err))
		return -1;
	if (strbuf_addf(&sb, "%s/.lock", ctx->outdir))
		return pl_oom(err);
	fd = open(sb.buf, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
	if (fd < 0) {
		pl_fail(err, PL_EX_CANTCREAT, "%s: cannot create the lock: %s",
			sb.buf, strerror(errno));
		strbuf_release(&sb);
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int e = errno;

		n = (int)pread(fd, pid, sizeof(pid) - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		close(fd);
		if (e == EWOULDBLOCK)
			pl_fail(err, PL_EX_TEMPFAIL,
				"%s: another run (pid %s) is writing this output folder; "
				"try again when it has finished", sb.buf, pid[0] ? pid : "?");
		else
			pl_fail(err, PL_EX_CANTCREAT, "%s: cannot lock: %s", sb.buf,
				strerror(e));
		strbuf_release(&sb);
		return -1;
	}
	/* The pid is only for the message above; the lock is the flock. */
	n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
		/* Harmless: the message would show "?". */
	}
	strbuf_release(&sb);
	gmtime_r(&now, &tm);
	pthread_mutex_lock(&end_lock);
	ctx->lockfd = fd;
	ended = 0;
	if (strbuf_addf(&sb, "%04d%02d%02dT%02d%02d%02dZ-%ld", tm.tm_year + 1900,
			tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
			(long)getpid())) {
		pthread_mutex_unlock(&end_lock);
		return pl_oom(err);
	}
	ctx->run_id = sb.buf;
	pthread_mutex_unlock(&end_lock);
	return 0;
}

void outdir_release(struct ctx *ctx)
{
	if (ctx->lockfd >= 0) {
		close(ctx->lockfd); /* drops the flock */
		ctx->lockfd = -1;
	}
	pl_free(ctx->run_id);
	ctx->run_id = NULL;
	pl_free(ctx->cur_set);
	ctx->cur_set = NULL;
}

int outdir_current(const char *outdir, char **path, struct pl_error *err)
{
	struct strbuf link = STRBUF_INIT, sb = STRBUF_INIT;
	char target[512];
	ssize_t n;

	*path = NULL;
	if (strbuf_addf(&link, "%s/current", outdir))
		return pl_oom(err);
	n = readlink(link.buf, target, sizeof(target) - 1);
	if (n < 0) {
		int e = errno;

		strbuf_release(&link);
		if (e == ENOENT)
			return 0;
		return pl_fail(err, PL_EX_NOINPUT, "%s/current: cannot read the link: %s",
			       outdir, strerror(e));
	}
	target[n] = '\0';
	strbuf_release(&link);
	/* Only links this program makes are followed: "sets/ID". */
	if (strncmp(target, "sets/", 5) != 0 || strchr(target + 5, '/') ||
	    !target[5] || target[5] == '.')
		return pl_fail(err, PL_EX_DATAERR,
			       "%s/current: points to '%s', not to a set this program made",
			       outdir, target);
	if (strbuf_addf(&sb, "%s/%s", outdir, target))
		return pl_oom(err);
	*path = sb.buf;
	return 0;
}

/*
 * Pruning removes what this program made and nothing else, and only
 * inside the output folder:
 *  - by name: in sets/ only names that are run ids (is_run_id), in runs/
 *    only ID.json and ID.json.tmp (outdir_record_failure's).  Whatever
 *    else is there, a user's file or folder, or the sets/ and runs/ of a
 *    folder that [output] dir was pointed at, is left as it is;
 *  - through handles: below sets/ and runs/ everything is opened and
 *    removed by openat and unlinkat relative to an open folder, with
 *    O_NOFOLLOW, so a symbolic link is removed, never followed, at any
 *    depth, and a folder swapped for a link while pruning runs is not
 *    entered.  sets/ and runs/ themselves may be links to folders
 *    elsewhere (another disk) that a user made on purpose: they are
 *    followed, and only the names above are removed in them;
 *  - on one file system: a folder on another device than sets/, or the
 *    root of a mount (a bind mount of the same file system included,
 *    statx's STATX_ATTR_MOUNT_ROOT), is not entered and not removed.
 */

/* How deep remove_tree goes into folders in a set.  A run's sets hold
 * files only; a folder is there because someone made it (the test suite
 * does, turning cache.idx into one), and a set that holds it must still be
 * pruned, or every run after leaves one more set behind.  What lies deeper
 * is left, and so is the set that holds it; each later run tries again. */
#define SET_DEPTH 16

/* The digits at s[*i] onwards, up to len: how many (and *i past them). */
static size_t skip_digits(const char *s, size_t len, size_t *i)
{
	size_t n = 0;

	while (*i < len && s[*i] >= '0' && s[*i] <= '9') {
		(*i)++;
		n++;
	}
	return n;
}

/* Is s[0 .. len) a run id as outdir_lock and outdir_begin make them:
 * YYYYMMDDTHHMMSSZ-PID, or that and ".N"? */
static int is_run_id(const char *s, size_t len)
{
	size_t i = 0;

	if (skip_digits(s, len, &i) != 8 || i >= len || s[i++] != 'T' ||
	    skip_digits(s, len, &i) != 6 || len - i < 3 || s[i] != 'Z' ||
	    s[i + 1] != '-')
		return 0;
	i += 2;
	if (skip_digits(s, len, &i) == 0)
		return 0;
	if (i < len && s[i] == '.') {
		i++;
		if (skip_digits(s, len, &i) == 0)
			return 0;
	}
	return i == len;
}

/* The length of the run id that report name `name` is of (ID.json or
 * ID.json.tmp), or 0 when it is not a report's name. */
static size_t report_id_len(const char *name)
{
	size_t len = strlen(name);

	if (len > 9 && strcmp(name + len - 9, ".json.tmp") == 0)
		len -= 9;
	else if (len > 5 && strcmp(name + len - 5, ".json") == 0)
		len -= 5;
	else
		return 0;
	return is_run_id(name, len) ? len : 0;
}

/* Is the folder open as fd the root of a mount?  0 when the system
 * cannot tell (statx before Linux 5.8): the device check stands alone. */
static int is_mount_root(int fd)
{
#ifdef STATX_ATTR_MOUNT_ROOT
	struct statx sx;

	if (statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &sx) == 0 &&
	    (sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT))
		return (sx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
#else
	(void)fd;
#endif
	return 0;
}

/* Open folder `name` of the folder open as dirfd for removing what it
 * holds: not through a symbolic link, and only on device `dev` and not
 * the root of a mount.  The fd, or -1 (errno ELOOP or ENOTDIR when name
 * is not a folder, EXDEV when it is one not to enter). */
static int open_inside(int dirfd, const char *name, dev_t dev)
{
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) != 0 || st.st_dev != dev || is_mount_root(fd)) {
		close(fd);
		errno = EXDEV;
		return -1;
	}
	return fd;
}

/* Remove everything in the folder open as fd, and folders in it up to
 * `depth` levels down (see above).  Best effort, as pruning is.  Closes
 * fd. */
static void remove_tree(int fd, int depth, dev_t dev)
{
	DIR *d = fdopendir(fd);
	struct dirent *de;

	if (!d) {
		close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		struct stat st;
		int sub;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISDIR(st.st_mode)) {
			/* Left as it is when not entered, but for an empty
			 * folder at the depth limit (rmdir removes only that). */
			if (depth > 0) {
				sub = open_inside(dirfd(d), de->d_name, dev);
				if (sub < 0)
					continue;
				remove_tree(sub, depth - 1, dev);
			}
			unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR);
		} else {
			unlinkat(dirfd(d), de->d_name, 0);
		}
	}
	closedir(d);
}

/* Open OUTDIR/sub (sets or runs) as a folder; its device in *dev.  The
 * fd, or -1 (errno ENOTDIR when it is not a folder, ENOENT when it is not
 * there). */
static int open_sub(const char *outdir, const char *sub, dev_t *dev)
{
	int ofd = open(outdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), fd, e;
	struct stat st;

	/* No allocation: a run failing for want of memory still removes
	 * its staging set (outdir_abandon). */
	if (ofd < 0)
		return -1;
	fd = openat(ofd, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	e = errno;
	close(ofd);
	errno = e;
	if (fd >= 0 && fstat(fd, &st) != 0) {
		close(fd);
		return -1;
	}
	if (fd >= 0)
		*dev = st.st_dev;
	return fd;
}

/* Remove set `name` of the sets folder open as sfd (device dev) and what
 * it holds (see remove_tree); a set name that is a symbolic link or a
 * file is removed itself. */
static void remove_set_at(const char *outdir, int sfd, const char *name, dev_t dev)
{
	int fd = open_inside(sfd, name, dev);

	if (fd < 0) {
		if (errno == ENOTDIR || errno == ELOOP)
			unlinkat(sfd, name, 0);
		return;
	}
	remove_tree(fd, SET_DEPTH, dev);
	/* A set that stays (one a run as another user made, as root by
	 * sudo; a mount inside it) would stay for good, unsaid, one more
	 * each time: every run that tries says so. */
	if (unlinkat(sfd, name, AT_REMOVEDIR) != 0 && errno != ENOENT)
		fprintf(stderr, "pipeline: warning: cannot remove %s/sets/%s: %s%s\n",
			outdir, name, strerror(errno),
			errno == EACCES || errno == EPERM || errno == ENOTEMPTY ?
			" (made by another user, or a mount inside it?)" : "");
}

/* Remove every set but `keep1` and `keep2` (names, may be NULL). */
static void prune_sets(const char *outdir, const char *keep1, const char *keep2)
{
	dev_t dev = 0;
	int sfd = open_sub(outdir, "sets", &dev), lfd;
	DIR *d;
	struct dirent *de;

	if (sfd < 0)
		return;
	lfd = dup(sfd);
	d = lfd >= 0 ? fdopendir(lfd) : NULL;
	if (!d && lfd >= 0)
		close(lfd);
	while (d && (de = readdir(d)) != NULL) {
		if (!is_run_id(de->d_name, strlen(de->d_name)))
			continue;
		if ((keep1 && strcmp(de->d_name, keep1) == 0) ||
		    (keep2 && strcmp(de->d_name, keep2) == 0))
			continue;
		remove_set_at(outdir, sfd, de->d_name, dev);
	}
	if (d)
		closedir(d);
	close(sfd);
}

/* The "# previous" line of a set's manifest.tsv, or NULL. */
static char *manifest_previous(const char *set)
{
	struct strbuf sb = STRBUF_INIT;
	char line[512], *prev = NULL;
	FILE *fp;

	if (strbuf_addf(&sb, "%s/manifest.tsv", set))
		return NULL;
	fp = fopen(sb.buf, "r");
	strbuf_release(&sb);
	while (fp && fgets(line, sizeof(line), fp) && line[0] == '#') {
		if (strncmp(line, "# previous\t", 11) == 0) {
			line[strcspn(line, "\n")] = '\0';
			prev = pl_strdup(line + 11);
			break;
		}
	}
	if (fp)
		fclose(fp);
	return prev;
}

static void prune_links(const char *outdir);

/* A migration from the flat layout is under way: made (and synced)
 * before the first .NAME.flat, removed after the last (outdir_publish).
 * Only while it is there are .NAME.flat files this program's. */
#define FLAT_MARK ".flat-migration"

/* What a run killed (SIGKILL, a power cut) while it replaced an older
 * version's flat layout by links left: FLAT_MARK, each replaced file kept
 * as .NAME.flat (flat_backup), NAME perhaps a link already.  Without
 * `current` that publish never happened: each file goes back to NAME and
 * the links it made to nothing are removed, so the folder is the flat
 * layout again and this run migrates it.  With `current` it did happen
 * (killed before the second names went): they go.  Best effort, under
 * the lock.  Without FLAT_MARK nothing is touched (a .NAME.flat is then a
 * user's file); nor is a .NAME.flat that is not a regular file, or whose
 * NAME is neither the link current/NAME nor the same file. */
static void flat_recover(const char *outdir)
{
	DIR *d = opendir(outdir);
	struct dirent *de;
	struct stat keep, st;
	int published, found = 0;

	if (!d)
		return;
	if (fstatat(dirfd(d), FLAT_MARK, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
	    !S_ISREG(st.st_mode)) {
		closedir(d);
		return;
	}
	published = fstatat(dirfd(d), "current", &st, AT_SYMLINK_NOFOLLOW) == 0;
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		char name[256];
		int linked;

		if (len < 7 || de->d_name[0] != '.' ||
		    strcmp(de->d_name + len - 5, ".flat") != 0)
			continue;
		memcpy(name, de->d_name + 1, len - 6);
		name[len - 6] = '\0';
		if (fstatat(dirfd(d), de->d_name, &keep, AT_SYMLINK_NOFOLLOW) != 0 ||
		    !S_ISREG(keep.st_mode))
			continue;
		if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) != 0)
			continue;
		if (S_ISLNK(st.st_mode)) {
			char target[300];
			ssize_t n = readlinkat(dirfd(d), name, target, sizeof(target));

			linked = n == (ssize_t)(8 + strlen(name)) &&
				 memcmp(target, "current/", 8) == 0 &&
				 memcmp(target + 8, name, (size_t)n - 8) == 0;
			if (!linked)
				continue;
		} else if (st.st_ino == keep.st_ino && st.st_dev == keep.st_dev) {
			linked = 0;
		} else {
			continue;
		}
		found = 1;
		if (published || !linked)
			/* done, or its link was never made: both names are
			 * the one file */
			unlinkat(dirfd(d), de->d_name, 0);
		else
			(void)renameat(dirfd(d), de->d_name, dirfd(d), name);
	}
	if (found && !published)
		prune_links(outdir);
	unlinkat(dirfd(d), FLAT_MARK, 0);
	closedir(d);
}

/* 1 when run id `id` is in use by something other than a set of that
 * name: a report runs/ID.json (an earlier run's, which the new one would
 * overwrite), or a cache segment cache-ID-N.seg in the current set (a
 * segment the new run would write under the same name as one it carries
 * over).  Both happen when an id comes round again: the clock set back
 * (a VM snapshot restored, an NTP step) in a container where the run is
 * always pid 1.  0 when the id is free, or the folders cannot be read
 * (mkdir then decides, as before). */
static int id_taken(const struct ctx *ctx, const char *id)
{
	struct strbuf path = STRBUF_INIT;
	size_t idlen = strlen(id);
	struct stat st;
	struct dirent *de;
	DIR *d;
	int taken = 0;

	if (strbuf_addf(&path, "%s/runs/%s.json", ctx->outdir, id) == 0)
		taken = lstat(path.buf, &st) == 0;
	strbuf_release(&path);
	if (taken || !ctx->cur_set || !(d = opendir(ctx->cur_set)))
		return taken;
	while (!taken && (de = readdir(d)) != NULL)
		taken = strncmp(de->d_name, "cache-", 6) == 0 &&
			strncmp(de->d_name + 6, id, idlen) == 0 && de->d_name[6 + idlen] == '-';
	closedir(d);
	return taken;
}

int outdir_begin(struct ctx *ctx, struct pl_error *err)
{
	struct strbuf sb = STRBUF_INIT;

	/* ctx_plan found the current set already (run.c). */
	if (!ctx->cur_set && outdir_current(ctx->outdir, &ctx->cur_set, err))
		return -1;
	outdir_tidy(ctx);
	if (strbuf_addf(&sb, "%s/sets", ctx->outdir))
		return pl_oom(err);
	if (pl_mkdir(sb.buf, err)) {
		strbuf_release(&sb);
		return -1;
	}
	/* Two runs of one process within a second (a program using the
	 * library) would get the same id: the later one takes ID.2, ID.3...
	 * So does a run whose id an earlier run's report or cache segments
	 * still use (id_taken). */
	for (int n = 1;; n++) {
		size_t len = sb.len;
		int taken;

		if ((n == 1 ? strbuf_addf(&sb, "/%s", ctx->run_id)
			    : strbuf_addf(&sb, "/%s.%d", ctx->run_id, n)))
			return pl_oom(err);
		taken = id_taken(ctx, strrchr(sb.buf, '/') + 1);
		if (!taken && mkdir(sb.buf, 0777) == 0)
			break;
		if ((!taken && errno != EEXIST) || n == 1000) {
			pl_fail(err, PL_EX_CANTCREAT, "%s: cannot create: %s", sb.buf,
				strerror(errno));
			strbuf_release(&sb);
			return -1;
		}
		sb.len = len;
		sb.buf[len] = '\0';
	}
	{
		char *id = pl_strdup(strrchr(sb.buf, '/') + 1);

		if (!id) {
			rmdir(sb.buf);
			strbuf_release(&sb);
			return pl_oom(err);
		}
		pthread_mutex_lock(&end_lock);
		pl_free(ctx->run_id);
		ctx->run_id = id;
		pthread_mutex_unlock(&end_lock);
	}
	ctx->staging = sb.buf;
	return 0;
}

void outdir_tidy(struct ctx *ctx)
{
	char *before;

	flat_recover(ctx->outdir);
	if (!ctx->cur_set)
		return;
	/* Keep the current set and the one it replaced: a reader may still
	 * be reading either.  Anything else is older, or a dead run's. */
	before = manifest_previous(ctx->cur_set);
	prune_sets(ctx->outdir, ctx_prev_id(ctx), before);
	pl_free(before);
}

static int add_staged(struct ctx *ctx, const char *name, struct pl_error *err)
{
	char *copy = pl_strdup(name);

	if (!copy || pl_grow(&ctx->staged, &ctx->staged_cap, ctx->nstaged + 1,
			     sizeof(*ctx->staged))) {
		pl_free(copy);
		return pl_oom(err);
	}
	ctx->staged[ctx->nstaged++] = copy;
	return 0;
}

int outdir_adopt(struct ctx *ctx, const char *src, const char *name,
		 struct pl_error *err)
{
	struct strbuf to = STRBUF_INIT, data = STRBUF_INIT;
	int rc = 0;

	if (strbuf_addf(&to, "%s/%s", ctx->staging, name))
		return pl_oom(err);
	if (link(src, to.buf) == 0) {
		rc = add_staged(ctx, name, err);
	} else if (errno == EEXIST) {
		/* Never copied over a file of this run's own (outdir_begin
		 * picks an id no segment carried over has). */
		rc = pl_fail(err, PL_EX_SOFTWARE, "%s: already in the new set", to.buf);
	} else {
		/* No hard links here (or another file system): copy. */
		rc = read_file_bytes(src, UINT64_MAX, &data, err) ||
		     out_file(ctx, name, data.buf, data.len, err) ? -1 : 0;
	}
	strbuf_release(&to);
	strbuf_release(&data);
	return rc;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The sum outdir_settle made of staged name `name` (that very string), or
 * NULL. */
static const struct staged_sum *sum_of(const struct ctx *ctx, const char *name)
{
	for (size_t i = 0; i < ctx->nsums; i++)
		if (ctx->sums[i].name == name)
			return &ctx->sums[i];
	return NULL;
}

int outdir_settle(struct ctx *ctx, struct pl_error *err)
{
	struct strbuf path = STRBUF_INIT;
	int rc = 0;

	if (pl_grow(&ctx->sums, &ctx->sums_cap, ctx->nstaged + 1, sizeof(*ctx->sums)))
		return pl_oom(err);
	for (size_t i = 0; i < ctx->nstaged && rc == 0; i++) {
		struct staged_sum *s = &ctx->sums[ctx->nsums];

		if (sum_of(ctx, ctx->staged[i]))
			continue;
		strbuf_reset(&path);
		if (strbuf_addf(&path, "%s/%s", ctx->staging, ctx->staged[i])) {
			rc = pl_oom(err);
			break;
		}
		if (pl_hash_file(path.buf, UINT64_MAX, s->hex, &s->size, err) ||
		    out_sync_path(path.buf, err)) {
			rc = -1;
			break;
		}
		s->name = ctx->staged[i];
		ctx->nsums++;
	}
	strbuf_release(&path);
	return rc;
}

static int write_manifest(struct ctx *ctx, struct pl_error *err)
{
	struct strbuf sb = STRBUF_INIT, path = STRBUF_INIT;
	int rc = -1;

	if (cache_hash_config(ctx, err))
		goto out;
	if (ctx->nstaged > 1)
		qsort(ctx->staged, ctx->nstaged, sizeof(*ctx->staged), cmp_str);
	if (strbuf_addf(&sb, "# pipeline manifest 1\n# run\t%s\n# previous\t%s\n"
			"# config_hash\t%016llx\n# analysis_hash\t%016llx\n"
			"file\tbytes\txxh3_128\n", ctx->run_id,
			ctx_prev_id(ctx) ? ctx_prev_id(ctx) : "",
			(unsigned long long)ctx->config_hash[0],
			(unsigned long long)ctx->config_hash[1]))
		goto oom;
	/* Every staged file hashed and synced (those outdir_settle did
	 * while the fit ran already are). */
	if (outdir_settle(ctx, err))
		goto out;
	for (size_t i = 0; i < ctx->nstaged; i++) {
		const struct staged_sum *sum = sum_of(ctx, ctx->staged[i]);

		if (strbuf_addf(&sb, "%s\t%llu\t%s\n", ctx->staged[i],
				(unsigned long long)sum->size, sum->hex))
			goto oom;
	}
	strbuf_reset(&path);
	if (strbuf_addf(&path, "%s/manifest.tsv", ctx->staging))
		goto oom;
	rc = out_file(ctx, "manifest.tsv", sb.buf, sb.len, err) ||
	     out_sync_path(path.buf, err) ? -1 : 0;
	goto out;
oom:
	rc = pl_oom(err);
out:
	strbuf_release(&sb);
	strbuf_release(&path);
	return rc;
}

static int sync_dir(const char *path, struct pl_error *err)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0)
		return pl_fail(err, PL_EX_IOERR, "%s: cannot open: %s", path,
			       strerror(errno));
	if (fsync(fd) != 0 && errno != EINVAL)
		rc = pl_fail(err, PL_EX_IOERR, "%s: fsync: %s", path, strerror(errno));
	close(fd);
	return rc;
}

/* Does OUTDIR hold the flat layout of an older version of this program:
 * its outputs as plain files, run.json among them?  Its files named as
 * outputs are then this program's, to be replaced by links. */
static int old_flat_layout(const char *outdir)
{
	static const char mark[] = "{\n  \"program\": \"pipeline\"";
	struct strbuf path = STRBUF_INIT;
	char head[sizeof(mark) - 1];
	struct stat st;
	int fd, flat = 0;

	if (strbuf_addf(&path, "%s/run.json", outdir))
		return 0;
	fd = open(path.buf, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	strbuf_release(&path);
	if (fd < 0)
		return 0;
	flat = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	       pread(fd, head, sizeof(head), 0) == (ssize_t)sizeof(head) &&
	       memcmp(head, mark, sizeof(head)) == 0;
	close(fd);
	return flat;
}

/* May OUTDIR/name become a link?  It may when nothing is there, when a
 * symbolic link is (ours, from an earlier run), or a file of an older
 * version's flat layout (flat).  Anything else is somebody's file or
 * folder, never replaced: PL_EX_CANTCREAT, before any link is made, so
 * the run fails with `current` and every output as they were. */
static int link_place_free(const char *outdir, const char *name, int flat,
			   struct pl_error *err)
{
	struct strbuf path = STRBUF_INIT;
	struct stat st;
	int rc = 0;

	if (strbuf_addf(&path, "%s/%s", outdir, name))
		return pl_oom(err);
	if (lstat(path.buf, &st) == 0 && !S_ISLNK(st.st_mode) &&
	    !(flat && S_ISREG(st.st_mode)))
		rc = pl_fail(err, PL_EX_CANTCREAT, "%s: a %s that this program did not "
			     "make is where its link to the output goes; move it away or "
			     "choose another [output] dir", path.buf,
			     S_ISDIR(st.st_mode) ? "folder" : "file");
	strbuf_release(&path);
	return rc;
}

/* Make OUTDIR/name a link to `target`, atomically replacing what is there
 * (unless it already is that link). */
static int put_link(const char *outdir, const char *name, const char *target,
		    struct pl_error *err)
{
	struct strbuf path = STRBUF_INIT, tmp = STRBUF_INIT;
	char now[512];
	ssize_t n;
	int rc = 0;

	if (strbuf_addf(&path, "%s/%s", outdir, name) ||
	    strbuf_addf(&tmp, "%s/.%s.link.%ld", outdir, name, (long)getpid())) {
		rc = pl_oom(err);
		goto out;
	}
	n = readlink(path.buf, now, sizeof(now) - 1);
	if (n >= 0 && (size_t)n == strlen(target) && memcmp(now, target, (size_t)n) == 0)
		goto out;
	unlink(tmp.buf);
	if (symlink(target, tmp.buf) != 0 || rename(tmp.buf, path.buf) != 0) {
		rc = pl_fail(err, PL_EX_CANTCREAT, "%s: cannot link to %s: %s",
			     path.buf, target, strerror(errno));
		unlink(tmp.buf);
	}
out:
	strbuf_release(&path);
	strbuf_release(&tmp);
	return rc;
}

/* Remove the top-level links current/NAME whose file the current set
 * does not have: a file an earlier run wrote and this one did not
 * (tfidf.mtx.gz after [output] tfidf_matrix = no, projection.tsv after
 * a run that wrote none).  Best effort; readers then find no file rather
 * than a dangling link. */
static void prune_links(const char *outdir)
{
	DIR *d = opendir(outdir);
	struct dirent *de;
	struct stat st;

	if (!d)
		return;
	while ((de = readdir(d)) != NULL) {
		char target[512];
		ssize_t n = readlinkat(dirfd(d), de->d_name, target, sizeof(target) - 1);

		if (n < 8 || memcmp(target, "current/", 8) != 0 ||
		    strcmp(de->d_name, "current") == 0)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, 0) != 0 && errno == ENOENT)
			unlinkat(dirfd(d), de->d_name, 0);
	}
	closedir(d);
}

/* The pid and the N of ".N" (1 without) of report name x, after its
 * time (report_id_len(x) > 0). */
static void report_pid(const char *x, unsigned long long *pid, unsigned long long *n)
{
	char *e;

	*pid = strtoull(x + 17, &e, 10);
	*n = e[0] == '.' && e[1] >= '0' && e[1] <= '9' ? strtoull(e + 1, NULL, 10) : 1;
}

/* Oldest first: by the time in the run ids, then the pid, then the N of
 * a later run of one process within the same second (ID.2 is newer than
 * ID, though "ID.2.json" sorts before "ID.json"), then the name. */
static int cmp_report(const void *a, const void *b)
{
	const char *x = *(const char *const *)a, *y = *(const char *const *)b;
	unsigned long long px, nx, py, ny;
	int c = strncmp(x, y, 16);  /* YYYYMMDDTHHMMSSZ */

	if (c)
		return c;
	report_pid(x, &px, &nx);
	report_pid(y, &py, &ny);
	if (px != py)
		return px < py ? -1 : 1;
	if (nx != ny)
		return nx < ny ? -1 : 1;
	return strcmp(x, y);
}

/* Keep the newest `keep` reports in OUTDIR/runs (names as above); the
 * report of run `self` (may be NULL) is one of them whatever its name
 * says, as the clock may have been set back since an older one. */
static void prune_runs(const char *outdir, long keep, const char *self)
{
	size_t selflen = self ? strlen(self) : 0, n = 0, cap = 0, drop;
	char **names = NULL;
	dev_t dev;
	int rfd = open_sub(outdir, "runs", &dev), lfd;
	DIR *d;
	struct dirent *de;

	if (rfd < 0)
		return;
	lfd = dup(rfd);
	d = lfd >= 0 ? fdopendir(lfd) : NULL;
	if (!d && lfd >= 0)
		close(lfd);
	while (d && (de = readdir(d)) != NULL) {
		size_t idlen = report_id_len(de->d_name);
		char *copy;

		if (idlen == 0)
			continue;
		if (idlen == selflen && strncmp(de->d_name, self, idlen) == 0) {
			keep -= strcmp(de->d_name + idlen, ".json") == 0;
			continue;
		}
		copy = pl_strdup(de->d_name);
		if (!copy || pl_grow(&names, &cap, n + 1, sizeof(*names))) {
			/* Prune nothing rather than by a partial list. */
			pl_free(copy);
			while (n)
				pl_free(names[--n]);
			break;
		}
		names[n++] = copy;
	}
	if (d)
		closedir(d);
	if (n > 1)
		qsort(names, n, sizeof(*names), cmp_report);
	drop = keep < 0 ? n : (size_t)keep < n ? n - (size_t)keep : 0;
	for (size_t i = 0; i < n; i++) {
		if (i < drop)
			unlinkat(rfd, names[i], 0);
		pl_free(names[i]);
	}
	pl_free(names);
	close(rfd);
}

static void warn(const char *what, const struct pl_error *e)
{
	fprintf(stderr, "pipeline: warning: %s: %s\n", what, e->msg);
}

/* Write report `path` (runs/ID.json) as len bytes of data, through
 * PATH.tmp and rename(2): runs/ID.json may be a hard link into a
 * published set (a run of the same process that had the same id), which
 * must never be written through.  0, or -1 with errno set. */
static int put_report(const char *path, const char *data, size_t len)
{
	struct strbuf tmp = STRBUF_INIT;
	FILE *fp;
	int e = 0;

	if (strbuf_addf(&tmp, "%s.tmp", path)) {
		errno = ENOMEM;
		return -1;
	}
	if (!(fp = fopen(tmp.buf, "w"))) {
		e = errno;
	} else {
		if (fwrite(data, 1, len, fp) != len)
			e = errno ? errno : EIO;
		if (fclose(fp) != 0 && !e)
			e = errno;
		if (!e && rename(tmp.buf, path) != 0)
			e = errno;
		if (e)
			unlink(tmp.buf);
	}
	strbuf_release(&tmp);
	errno = e;
	return e ? -1 : 0;
}

/* A copy of the published run.json `from` as report `to`, where a hard
 * link cannot be made (runs/ on another file system).  0 or -1 (w). */
static int copy_report(const char *from, const char *to, struct pl_error *w)
{
	struct strbuf data = STRBUF_INIT;
	int rc = read_file_bytes(from, (uint64_t)64 << 20, &data, w);

	if (rc == 0 && put_report(to, data.buf, data.len))
		rc = pl_fail(w, PL_EX_CANTCREAT, "%s: %s", to, strerror(errno));
	strbuf_release(&data);
	return rc;
}

/* The old flat layout's file OUTDIR/NAME while its link replaces it:
 * how 0 keeps it (a hard link, OUTDIR/.NAME.flat, no byte copied), 1
 * puts it back over the link (the publish failed), 2 drops the second
 * name (the publish is done).  0, or -1 with err set. */
static int flat_backup(const char *outdir, const char *name, int how,
		       struct pl_error *err)
{
	struct strbuf path = STRBUF_INIT, keep = STRBUF_INIT;
	int rc = 0;

	if (strbuf_addf(&path, "%s/%s", outdir, name) ||
	    strbuf_addf(&keep, "%s/.%s.flat", outdir, name)) {
		rc = pl_oom(err);
	} else if (how == 0) {
		/* A killed run's is gone already (flat_recover, under
		 * FLAT_MARK); one that is there now is a user's: the link
		 * fails (EEXIST) rather than lose it. */
		if (link(path.buf, keep.buf) != 0)
			rc = pl_fail(err, PL_EX_CANTCREAT, "%s: cannot keep the old "
				     "layout's file as %s: %s", path.buf, keep.buf,
				     strerror(errno));
	} else if (how == 1 ? rename(keep.buf, path.buf) : unlink(keep.buf)) {
		rc = pl_fail(err, PL_EX_CANTCREAT, "%s: %s", keep.buf, strerror(errno));
	} else if (how == 1) {
		/* rename(2) of a name onto another of the same file (the
		 * link was not made yet) leaves both */
		unlink(keep.buf);
	}
	strbuf_release(&path);
	strbuf_release(&keep);
	return rc;
}

/* FLAT_MARK made and on disk before a .NAME.flat can be; 0 or -1. */
static int flat_mark(const char *outdir, struct pl_error *err)
{
	struct strbuf path = STRBUF_INIT;
	int fd, rc = 0;

	if (strbuf_addf(&path, "%s/%s", outdir, FLAT_MARK))
		return pl_oom(err);
	fd = open(path.buf, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0666);
	if (fd < 0)
		rc = pl_fail(err, PL_EX_CANTCREAT, "%s: cannot create: %s", path.buf,
			     strerror(errno));
	else
		close(fd);
	strbuf_release(&path);
	return rc ? rc : sync_dir(outdir, err);
}

static void flat_unmark(const char *outdir)
{
	struct strbuf path = STRBUF_INIT;

	if (strbuf_addf(&path, "%s/%s", outdir, FLAT_MARK) == 0)
		unlink(path.buf);
	strbuf_release(&path);
}

int outdir_publish(struct ctx *ctx, struct pl_error *err)
{
	struct strbuf target = STRBUF_INIT, path = STRBUF_INIT;
	struct pl_error w;
	uint8_t *fresh = NULL;
	int rc = -1, locked = 0, marked = 0;

	if (write_manifest(ctx, err) || sync_dir(ctx->staging, err))
		goto out;
	{
		int flat = old_flat_layout(ctx->outdir);

		for (size_t i = 0; i < ctx->nstaged; i++)
			if (is_public(ctx->staged[i]) &&
			    link_place_free(ctx->outdir, ctx->staged[i], flat, err))
				goto out;
		if (link_place_free(ctx->outdir, "current", 0, err))
			goto out;
	}
	/* Every link is current/NAME, so one that is there already stays as
	 * it is; a new name's link leads nowhere until current moves.  If
	 * the publish fails before that, the links it made go again (fresh
	 * marks them), so a failed run leaves the folder as it found it. */
	if (!(fresh = pl_calloc(ctx->nstaged + 1, 1))) {
		pl_oom(err);
		goto out;
	}
	/* From the first link to the report in runs/: a signal waits. */
	pthread_mutex_lock(&end_lock);
	locked = 1;
	for (size_t i = 0; i < ctx->nstaged; i++) {
		struct stat st;
		int there;

		if (!is_public(ctx->staged[i]))
			continue;
		strbuf_reset(&target);
		strbuf_reset(&path);
		if (strbuf_addf(&target, "current/%s", ctx->staged[i]) ||
		    strbuf_addf(&path, "%s/%s", ctx->outdir, ctx->staged[i])) {
			pl_oom(err);
			goto unlink_fresh;
		}
		there = lstat(path.buf, &st) == 0;
		if (there && !S_ISLNK(st.st_mode)) {
			/* A file of the old flat layout (link_place_free let
			 * it pass): kept under a second name until the publish
			 * is done, and put back if it fails. */
			if (!marked && flat_mark(ctx->outdir, err))
				goto unlink_fresh;
			marked = 1;
			if (flat_backup(ctx->outdir, ctx->staged[i], 0, err))
				goto unlink_fresh;
			fresh[i] = 2;
		} else {
			fresh[i] = !there && errno == ENOENT;
		}
		if (put_link(ctx->outdir, ctx->staged[i], target.buf, err))
			goto unlink_fresh; /* put_link removed its own temporary */
	}
	strbuf_reset(&target);
	if (strbuf_addf(&target, "sets/%s", ctx->run_id)) {
		pl_oom(err);
		goto unlink_fresh;
	}
	if (put_link(ctx->outdir, "current", target.buf, err))
		goto unlink_fresh;
	/* Published.  What follows cannot undo that, so it only warns. */
	rc = 0;
	ended = 1;
	for (size_t i = 0; i < ctx->nstaged; i++)
		if (fresh[i] == 2)
			(void)flat_backup(ctx->outdir, ctx->staged[i], 2, &w);
	if (marked)
		flat_unmark(ctx->outdir);
	if (sync_dir(ctx->outdir, &w))
		warn("syncing the output folder", &w);
	strbuf_reset(&path);
	strbuf_reset(&target);
	if (strbuf_addf(&path, "%s/runs", ctx->outdir) == 0 &&
	    (mkdir(path.buf, 0777) == 0 || errno == EEXIST) &&
	    strbuf_addf(&path, "/%s.json", ctx->run_id) == 0 &&
	    strbuf_addf(&target, "%s/run.json", ctx->staging) == 0 &&
	    link(target.buf, path.buf) != 0 &&
	    (errno != EEXIST || unlink(path.buf) != 0 || link(target.buf, path.buf) != 0) &&
	    copy_report(target.buf, path.buf, &w))
		/* runs/ on another disk than sets/ (both may be links, as
		 * output/README.md says) takes a copy; only if that fails too: */
		warn("recording the run", &w);
	prune_runs(ctx->outdir, ctx->cfg->v[CFG_output_keep_runs].i, ctx->run_id);
	prune_sets(ctx->outdir, ctx->run_id, ctx_prev_id(ctx));
	prune_links(ctx->outdir);
	/* The set is now the current one: nothing to abandon. */
	out_staged_release(ctx);
	pl_free(ctx->staging);
	ctx->staging = NULL;
	goto out;
unlink_fresh:
	for (size_t i = 0; fresh && i < ctx->nstaged; i++) {
		if (fresh[i] == 2) {
			/* a file not put back keeps the mark, for the next
			 * run's flat_recover */
			if (flat_backup(ctx->outdir, ctx->staged[i], 1, &w))
				marked = 0;
			continue;
		}
		if (fresh[i] != 1)
			continue;
		strbuf_reset(&path);
		if (strbuf_addf(&path, "%s/%s", ctx->outdir, ctx->staged[i]) == 0)
			unlink(path.buf);
	}
	if (marked)
		flat_unmark(ctx->outdir);
out:
	if (locked)
		pthread_mutex_unlock(&end_lock);
	pl_free(fresh);
	strbuf_release(&target);
	strbuf_release(&path);
	return rc;
}

void outdir_abandon(struct ctx *ctx)
{
	if (ctx->staging) {
		dev_t dev = 0;
		int sfd = open_sub(ctx->outdir, "sets", &dev);

		/* The staging set is sets/RUN_ID (outdir_begin). */
		if (sfd >= 0) {
			remove_set_at(ctx->outdir, sfd, ctx->run_id, dev);
			close(sfd);
		}
		pl_free(ctx->staging);
		ctx->staging = NULL;
	}
	out_staged_release(ctx);
}

/* outdir_record_failure's work; the caller holds end_lock.  0, or -1
 * with errno set when runs/ID.json could not be written. */
static int record_failure(struct ctx *ctx, const struct pl_error *e)
{
	struct strbuf path = STRBUF_INIT, sb = STRBUF_INIT;
	int rc = -1;

	if (!ctx->run_id || ctx->lockfd < 0)
		return 0;
	errno = ENOMEM;
	if (strbuf_addf(&path, "%s/runs", ctx->outdir) ||
	    (mkdir(path.buf, 0777) != 0 && errno != EEXIST) ||
	    strbuf_addf(&path, "/%s.json", ctx->run_id) ||
	    strbuf_addf(&sb, "{\n  \"program\": \"pipeline\",\n  \"run\": \"%s\",\n"
			"  \"status\": \"failed\",\n  \"exit\": %d,\n  \"error\": ",
			ctx->run_id, e->code) ||
	    strbuf_add_json(&sb, e->msg, strlen(e->msg)) ||
	    strbuf_addstr(&sb, "\n}\n"))
		goto out;
	rc = put_report(path.buf, sb.buf, sb.len);
	if (rc == 0)
		prune_runs(ctx->outdir, ctx->cfg->v[CFG_output_keep_runs].i, ctx->run_id);
out:
	strbuf_release(&path);
	strbuf_release(&sb);
	return rc;
}

void outdir_record_failure(struct ctx *ctx, const struct pl_error *e)
{
	pthread_mutex_lock(&end_lock);
	if (!ended) {
		/* A run that failed for want of room (ENOSPC, a quota) may
		 * have filled the disk with its own half-written set: that
		 * goes first, and the report is tried again.  If it still
		 * cannot be written, say so: the scheduler's log then has
		 * the reason the report is missing. */
		if (record_failure(ctx, e) != 0) {
			struct pl_error w;

			outdir_abandon(ctx);
			if (record_failure(ctx, e) != 0) {
				pl_fail(&w, PL_EX_IOERR, "%s/runs/%s.json: %s", ctx->outdir,
					ctx->run_id, strerror(errno));
				warn("recording the run", &w);
			}
		}
		ended = 1;
	}
	pthread_mutex_unlock(&end_lock);
}

/*
 * The watcher: a thread that waits (sigwait) for SIGTERM, SIGINT and
 * SIGHUP, which every other thread of the run has blocked.  systemd's
 * stop and its TimeoutStartSec, `timeout`, a shutdown and Ctrl-C stop a
 * run that way; without the watcher it died with no report in runs/.
 * With it, the run that has not published writes its failure report
 * ("exit": 128 + the signal, as a shell shows it; "error": "stopped by
 * SIGTERM ..."), says so on stderr, and dies of the signal as before, so
 * that its parent sees what it sent.  Its half-written set is left for
 * the next run to remove (outdir_begin), as a SIGKILL's is.  A signal
 * the run was started with ignored (nohup's SIGHUP; SIGINT for a
 * shell's background job) stays ignored.
 */
static struct {
	pthread_t tid;
	sigset_t set, old;
	struct ctx *ctx;
	int on, first;
	atomic_int quit;
} watcher;

/* Seconds the watcher gives the report and the message (see watch_main). */
#define WATCH_GRACE 30

static const char *sig_name(int sig)
{
	return sig == SIGTERM ? "SIGTERM" : sig == SIGINT ? "SIGINT" :
	       sig == SIGHUP ? "SIGHUP" : "a signal";
}

static void *watch_main(void *arg)
{
	(void)arg;
	for (;;) {
		siginfo_t info;
		sigset_t one;
		int sig = sigwaitinfo(&watcher.set, &info);

		if (sig < 0)
			continue;
		/* outdir_unwatch's own signal (pthread_kill: sent by this
		 * process, which sends these signals for nothing else) ends
		 * the watch; any other, even one that comes after the run
		 * ended, is a real one and kills the process below.  (The
		 * si_code of a pthread_kill is SI_TKILL on some systems and
		 * SI_USER on others; si_pid is ours on both.) */
		if (atomic_load(&watcher.quit) && info.si_pid == getpid())
			return NULL;
		/* Should writing the report or the message hang (a stderr
		 * pipe nobody reads, runs/ on a hung mount), or the main
		 * thread hold end_lock too long, the process still dies, and
		 * its lock with it: of SIGALRM, after WATCH_GRACE seconds. */
		signal(SIGALRM, SIG_DFL);
		alarm(WATCH_GRACE);
		pthread_mutex_lock(&end_lock);
		if (!ended) {
			struct pl_error e;

			pl_fail(&e, 128 + sig, "%s: stopped by %s before it published; "
				"the previous outputs are as they were",
				watcher.ctx->cfg->v[CFG_output_dir].path, sig_name(sig));
			if (watcher.ctx->run_id && watcher.ctx->lockfd >= 0)
				record_failure(watcher.ctx, &e);
			fprintf(stderr, "pipeline: %s\n", e.msg);
		}
		ended = 1;
		/* Die of it, end_lock held: nothing else ends the run now. */
		signal(sig, SIG_DFL);
		sigemptyset(&one);
		sigaddset(&one, sig);
		pthread_sigmask(SIG_UNBLOCK, &one, NULL);
		raise(sig);
		_exit(128 + sig); /* not reached */
	}
}

void outdir_ended(void)
{
	pthread_mutex_lock(&end_lock);
	ended = 1;
	pthread_mutex_unlock(&end_lock);
}

int outdir_watch(struct ctx *ctx, struct pl_error *err)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP };
	struct sigaction sa;
	int e;

	watcher.on = 0;
	watcher.first = 0;
	watcher.ctx = ctx;
	atomic_store(&watcher.quit, 0);
	sigemptyset(&watcher.set);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(*sigs); i++) {
		if (sigaction(sigs[i], NULL, &sa) != 0 || sa.sa_handler == SIG_IGN)
			continue;
		sigaddset(&watcher.set, sigs[i]);
		if (!watcher.first)
			watcher.first = sigs[i];
	}
	if (!watcher.first)
		return 0;
	if ((e = pthread_sigmask(SIG_BLOCK, &watcher.set, &watcher.old)) != 0)
		return pl_fail(err, PL_EX_OSERR, "blocking signals: %s", strerror(e));
	if ((e = pthread_create(&watcher.tid, NULL, watch_main, NULL)) != 0) {
		pthread_sigmask(SIG_SETMASK, &watcher.old, NULL);
		return pl_fail(err, PL_EX_OSERR, "starting the signal thread: %s",
			       strerror(e));
	}
	watcher.on = 1;
	return 0;
}

void outdir_unwatch(void)
{
	if (!watcher.on)
		return;
	/* The run has ended: a signal from here on kills it as usual. */
	outdir_ended();
	atomic_store(&watcher.quit, 1);
	pthread_kill(watcher.tid, watcher.first);
	pthread_join(watcher.tid, NULL);
	pthread_sigmask(SIG_SETMASK, &watcher.old, NULL);
	watcher.on = 0;
}

/* manifest.tsv's header line, and the most bytes one can have: a line per
 * file of the set, a few dozen. */
#define MANIFEST_HEADER "file\tbytes\txxh3_128"
#define MANIFEST_MAX ((off_t)1 << 20)

/* Is name among the n names of listed? */
static int listed_has(char *const *listed, size_t n, const char *name)
{
	for (size_t k = 0; k < n; k++)
		if (strcmp(listed[k], name) == 0)
			return 1;
	return 0;
}

/* Add name to the names *listed (n of them, cap): 0, 1 when it is there
 * already, -1 when out of memory. */
static int listed_add(char ***listed, size_t *n, size_t *cap, const char *name)
{
	char *copy;

	if (listed_has(*listed, *n, name))
		return 1;
	if (!(copy = pl_strdup(name)) || pl_grow(listed, cap, *n + 1, sizeof(**listed))) {
		pl_free(copy);
		return -1;
	}
	(*listed)[(*n)++] = copy;
	return 0;
}

int outdir_verify(const char *outdir, FILE *out, size_t *bad,
		  struct pl_error *err)
{
	struct strbuf path = STRBUF_INIT;
	char *set = NULL, *line = NULL, **listed = NULL;
	size_t cap = 0, files = 0, nlisted = 0, listedcap = 0;
	ssize_t n;
	FILE *fp = NULL;
	struct dirent **ents = NULL;
	struct stat st;
	int rc = -1, lineno = 0, header = 0, fd, nents = 0;

	*bad = 0;
	if (outdir_current(outdir, &set, err))
		return -1;
	if (!set)
		return pl_fail(err, PL_EX_NOINPUT,
			       "%s: nothing published yet (no 'current' link): run first",
			       outdir);
	if (strbuf_addf(&path, "%s/manifest.tsv", set)) {
		rc = pl_oom(err);
		goto out;
	}
	/* A regular file of a manifest's size, opened without waiting (a
	 * FIFO or a device in its place must not hang or flood verify). */
	fd = pl_open_file(path.buf, &st, err);
	if (fd < 0)
		goto out;
	if (st.st_size > MANIFEST_MAX) {
		close(fd);
		rc = pl_fail(err, PL_EX_DATAERR, "%s: %lld bytes, too large to be a manifest",
			     path.buf, (long long)st.st_size);
		goto out;
	}
	if (!(fp = fdopen(fd, "r"))) {
		close(fd);
		rc = pl_oom(err);
		goto out;
	}
	while ((n = getline(&line, &cap, fp)) >= 0) {
		char *tab1, *tab2, *end, hex[33];
		unsigned long long want;
		uint64_t size;
		struct pl_error e;
		struct stat ls;

		lineno++;
		if (n && line[n - 1] == '\n')
			line[--n] = '\0';
		if (line[0] == '#' && memchr(line, '\0', (size_t)n) == NULL)
			continue;
		if (!header) {
			/* The header, exactly: a manifest whose first lines are
			 * gone must not pass for one that lists fewer files. */
			header = 1;
			if (strcmp(line, MANIFEST_HEADER) != 0 || (size_t)n != strlen(line)) {
				fprintf(out, "%s/manifest.tsv:%d: not the header '%s'\n", set,
					lineno, "file\\tbytes\\txxh3_128");
				++*bad;
			}
			continue;
		}
		tab1 = strchr(line, '\t');
		tab2 = tab1 ? strchr(tab1 + 1, '\t') : NULL;
		if (!tab2 || strchr(tab2 + 1, '\t') || strchr(line, '/') ||
		    strchr(line, '\r') || (size_t)n != strlen(line) || tab1 == line ||
		    !(tab1[1] >= '0' && tab1[1] <= '9')) {
			fprintf(out, "%s/manifest.tsv:%d: malformed line\n", set, lineno);
			++*bad;
			continue;
		}
		*tab1 = *tab2 = '\0';
		errno = 0;
		want = strtoull(tab1 + 1, &end, 10);
		if (*end || errno) {
			fprintf(out, "%s/manifest.tsv:%d: malformed line\n", set, lineno);
			++*bad;
			continue;
		}
		strbuf_reset(&path);
		if (strbuf_addf(&path, "%s/%s", set, line)) {
			rc = pl_oom(err);
			goto out;
		}
		files++;
		switch (listed_add(&listed, &nlisted, &listedcap, line)) {
		case -1:
			rc = pl_oom(err);
			goto out;
		case 1:
			fprintf(out, "%s/manifest.tsv:%d: %s listed twice\n", set, lineno, line);
			++*bad;
			continue;
		}
		if (lstat(path.buf, &ls) == 0 && S_ISLNK(ls.st_mode)) {
			/* What the set holds, not what a link leads to. */
			fprintf(out, "%s: a symbolic link where a file of the set belongs\n",
				path.buf);
			++*bad;
		} else if (pl_hash_file(path.buf, want, hex, &size, &e)) {
			fprintf(out, "%s: %s\n", line, e.msg);
			++*bad;
		} else if (size > want) {
			/* Read no further than that proves: the file may be
			 * one that something keeps writing. */
			fprintf(out, "%s: differs from the manifest (longer than "
				"the %llu bytes it lists)\n", path.buf, want);
			++*bad;
		} else if (size != want || strcmp(hex, tab2 + 1) != 0) {
			fprintf(out, "%s: differs from the manifest (%llu bytes, "
				"xxh3_128 %s; manifest: %s bytes, %s)\n", path.buf,
				(unsigned long long)size, hex, tab1 + 1, tab2 + 1);
			++*bad;
		} else if (is_public(line)) {
			/* The top-level link readers use. */
			char target[512];
			ssize_t t;

			strbuf_reset(&path);
			if (strbuf_addf(&path, "%s/%s", outdir, line)) {
				rc = pl_oom(err);
				goto out;
			}
			t = readlink(path.buf, target, sizeof(target) - 1);
			if (t >= 0)
				target[t] = '\0';
			if (t < 0 || strncmp(target, "current/", 8) != 0 ||
			    strcmp(target + 8, line) != 0) {
				fprintf(out, "%s: not a link to current/%s\n", path.buf, line);
				++*bad;
			}
		}
	}
	if (ferror(fp)) {
		rc = pl_fail(err, PL_EX_IOERR, "%s/manifest.tsv: read error: %s", set,
			     strerror(errno));
		goto out;
	}
	if (!files) {
		fprintf(out, "%s/manifest.tsv: lists no files\n", set);
		++*bad;
	}
	/* Every file of the set must be listed: a manifest cut at a line
	 * end, or with a line deleted, leaves files out. */
	if ((nents = scandir(set, &ents, NULL, alphasort)) < 0) {
		rc = errno == ENOMEM ? pl_oom(err) :
			pl_fail(err, PL_EX_IOERR, "%s: cannot list: %s", set, strerror(errno));
		goto out;
	}
	for (int i = 0; i < nents; i++) {
		const char *name = ents[i]->d_name;

		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
		    strcmp(name, "manifest.tsv") == 0)
			continue;
		if (!listed_has(listed, nlisted, name)) {
			fprintf(out, "%s/%s: in the set but not in manifest.tsv\n", set, name);
			++*bad;
		}
	}
	fprintf(out, "%s: %zu files checked, %zu problem%s\n", set, files, *bad,
		*bad == 1 ? "" : "s");
	rc = 0;
out:
	if (fp)
		fclose(fp);
	free(line);
	pl_free(set);
	for (size_t k = 0; k < nlisted; k++)
		pl_free(listed[k]);
	pl_free(listed);
	for (int i = 0; i < nents; i++)
		free(ents[i]);
	free(ents);
	strbuf_release(&path);
	return rc;
}
