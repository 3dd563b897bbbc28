/* main.c -- run every Check suite of pipeline
 *
 * `make check` runs this binary from the top of the repository.  See lib.h
 * for CK_RUN_SUITE, CK_RUN_CASE and CK_FORK=no when debugging a failure.
 */
/* nftw() is XSI. */
#define _XOPEN_SOURCE 700

#include "lib.h"

#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

const char *test_srcdir(void)
{
	const char *d = getenv("PIPELINE_SRCDIR");

	return d && d[0] ? d : ".";
}

char *test_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char *path = malloc(4096);

	ck_assert_ptr_nonnull(path);
	snprintf(path, 4096, "%s/pipeline-test.XXXXXX", base && base[0] ? base : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(path));
	return path;
}

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void test_rmtree(const char *path)
{
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

void test_write(const char *dir, const char *name, const char *text)
{
	char path[4096];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	for (char *p = path + strlen(dir) + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		mkdir(path, 0777);
		*p = '/';
	}
	fp = fopen(path, "wb");
	ck_assert_msg(fp != NULL, "cannot create %s", path);
	ck_assert_uint_eq(fwrite(text, 1, strlen(text), fp), strlen(text));
	ck_assert_int_eq(fclose(fp), 0);
}

char *test_slurp(const char *path)
{
	gzFile gz = gzopen(path, "rb");
	size_t len = 0, cap = 1 << 16;
	char *buf;
	int n;

	if (!gz)
		return NULL;
	buf = malloc(cap + 1);
	ck_assert_ptr_nonnull(buf);
	while ((n = gzread(gz, buf + len, (unsigned)(cap - len))) > 0) {
		len += (size_t)n;
		if (len == cap) {
			cap *= 2;
			buf = realloc(buf, cap + 1);
			ck_assert_ptr_nonnull(buf);
		}
	}
	gzclose(gz);
	buf[len] = '\0';
	return buf;
}

void csr_dense(struct csr *X, const double *a, size_t nrows,
		      size_t ncols)
{
	size_t i, j, nnz = 0;

	for (i = 0; i < nrows * ncols; i++)
		nnz += a[i] != 0;
	memset(X, 0, sizeof(*X));
	X->nrows = nrows;
	X->ncols = ncols;
	X->nnz = X->cap = nnz;
	X->rowptr = malloc((nrows + 1) * sizeof(*X->rowptr));
	X->col = malloc((nnz ? nnz : 1) * sizeof(*X->col));
	X->fval = malloc((nnz ? nnz : 1) * sizeof(*X->fval));
	ck_assert(X->rowptr && X->col && X->fval);
	nnz = 0;
	for (i = 0; i < nrows; i++) {
		X->rowptr[i] = nnz;
		for (j = 0; j < ncols; j++) {
			if (a[i * ncols + j] == 0)
				continue;
			X->col[nnz] = (uint32_t)j;
			X->fval[nnz] = (float)a[i * ncols + j];
			nnz++;
		}
	}
	X->rowptr[nrows] = nnz;
}

void round_to_float(double *a, size_t n)
{
	for (size_t i = 0; i < n; i++)
		a[i] = (float)a[i];
}

void csr_done(struct csr *X)
{
	free(X->rowptr);
	free(X->col);
	free(X->fval);
	memset(X, 0, sizeof(*X));
}

int main(void)
{
	Suite *(*const suites[])(void) = {
		suite_config, suite_tokenize, suite_stem, suite_phrases,
		suite_read, suite_tfidf, suite_kmeans, suite_project,
		suite_output, suite_e2e, suite_faults,
	};
	SRunner *sr = srunner_create(NULL);
	int failed;

	for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++)
		srunner_add_suite(sr, suites[i]());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
