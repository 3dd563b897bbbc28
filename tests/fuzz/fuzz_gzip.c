/* fuzz_gzip.c -- libFuzzer harness for reading (gzip) corpus files
 *
 * Each input is written to one temporary file named x.txt.gz (created
 * once, rewritten every run) and read with read_file_bytes() and a limit
 * of 1 MiB, as the read stage reads a *.txt.gz corpus file (zlib reads a
 * file that is not gzip as it is).  Invariants, else the harness aborts:
 *
 *  - 0: at most the limit was kept (sb.len <= limit) and the buffer is
 *    NUL-terminated;
 *  - -1: the code is PL_EX_DATAERR (corrupt, or over the limit),
 *    PL_EX_IOERR or PL_EX_OSERR, and the message starts with the path;
 *  - either way the buffer never grew past twice the limit plus one read
 *    block (it doubles; a decompression bomb stops at the limit).
 *
 * Build and run: `make fuzz` (tests/fuzz.sh); replay one file:
 *   build-fuzz/fuzz_gzip tests/fuzz/crashes/gzip/FILE
 */
#include "../../stages/stages.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tmpfile.h"

#define LIMIT ((uint64_t)1 << 20)
#define BLOCK ((size_t)1 << 16)   /* read.c's inflate step (inflate_gz) */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	tmpfile_setup("fuzz_gzip", "x.txt.gz");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct strbuf sb = STRBUF_INIT;
	struct pl_error err = { 0 };
	FILE *fp;
	int rc;

	fp = fopen(path, "wb");
	if (!fp || fwrite(data, 1, size, fp) != size || fclose(fp)) {
		perror("fuzz_gzip: cannot write the input");
		abort();
	}
	rc = read_file_bytes(path, LIMIT, &sb, &err);
	if (rc == 0) {
		if (sb.len > LIMIT || (sb.buf && sb.buf[sb.len] != '\0')) {
			fprintf(stderr, "fuzz_gzip: kept %zu bytes\n", sb.len);
			abort();
		}
	} else if (rc != -1 ||
		   (err.code != PL_EX_DATAERR && err.code != PL_EX_IOERR &&
		    err.code != PL_EX_OSERR) ||
		   strncmp(err.msg, path, strlen(path)) != 0) {
		fprintf(stderr, "fuzz_gzip: rc %d, code %d, message '%s'\n", rc,
			err.code, err.msg);
		abort();
	}
	if (sb.cap > 2 * (LIMIT + BLOCK + 1)) {
		fprintf(stderr, "fuzz_gzip: buffer grew to %zu bytes\n", sb.cap);
		abort();
	}
	strbuf_release(&sb);
	return 0;
}
