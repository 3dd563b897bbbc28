/* lib.h -- helpers shared by the Check suites
 *
 * Each tests/check_<unit>.c exports `Suite *suite_<unit>(void)`; main.c
 * runs them all.  To debug one failure:
 *   CK_RUN_SUITE=tokenize CK_RUN_CASE=apostrophes CK_FORK=no \
 *     gdb --args build/run_tests
 * (CK_FORK=no runs the tests in one process, so breakpoints work; see
 * Check's manual, "Selective running of tests" and "No fork mode").
 */
#ifndef PL_TESTS_LIB_H
#define PL_TESTS_LIB_H

#include <check.h>

#include "../pipeline/config.h"
#include "../pipeline/run.h"
#include "../stages/stages.h"

Suite *suite_config(void);
Suite *suite_tokenize(void);
Suite *suite_stem(void);
Suite *suite_phrases(void);
Suite *suite_read(void);
Suite *suite_tfidf(void);
Suite *suite_kmeans(void);
Suite *suite_project(void);
Suite *suite_output(void);
Suite *suite_e2e(void);
Suite *suite_faults(void);

/* Where the tests find the repository's files (corpus/, pipeline.conf):
 * $PIPELINE_SRCDIR, or "." when unset (make check runs from the top). */
const char *test_srcdir(void);

/* A fresh empty folder under $TMPDIR; the caller frees the string and
 * removes the folder with test_rmtree(). */
char *test_tmpdir(void);
void test_rmtree(const char *path);
/* Write `text` to `dir/name` (creating folders on the way); abort the test
 * on failure. */
void test_write(const char *dir, const char *name, const char *text);
/* Read a whole file (gunzipping .gz); caller frees.  NULL if missing. */
char *test_slurp(const char *path);

/* A CSR matrix built from a dense row-major array (zeros are not stored),
 * values in `fval` (as floats, what the stages after tfidf read); the test owns it and frees it with csr_done.  Plain
 * malloc keeps it out of fault injection. */
void csr_dense(struct csr *X, const double *a, size_t nrows, size_t ncols);
/* Round each of a[0..n) to the nearest float, as csr_dense stores it, so
 * that an oracle computed in double from `a` sees the same numbers. */
void round_to_float(double *a, size_t n);
void csr_done(struct csr *X);

#endif
