/* fuzz_config.c -- libFuzzer harness for the config parser
 *
 * Each input is written to one temporary file (created once, rewritten
 * every run) and read with config_init + config_load; the input's first
 * line is then applied as a `-c` override (config_override), and
 * config_validate and config_dump run on what loaded.  Invariants, else
 * the harness aborts:
 *
 *  - every call returns 0 or -1;
 *  - on -1 the error code is one config.h and util.h allow there:
 *    config_load PL_EX_CONFIG, PL_EX_NOINPUT or PL_EX_OSERR; the override
 *    PL_EX_CONFIG, PL_EX_USAGE or PL_EX_OSERR; config_validate
 *    PL_EX_CONFIG;
 *  - the message is non-empty and says where: config_load's starts with
 *    the file's path, the override's with "-c", config_validate's with the
 *    path (a key set in the file, or a default) or "-c" (an override);
 *  - config_release frees everything (LeakSanitizer checks).
 *
 * Build and run: `make fuzz` (tests/fuzz.sh); replay one file:
 *   build-fuzz/fuzz_config tests/fuzz/crashes/config/FILE
 */
#include "../../pipeline/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tmpfile.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	tmpfile_setup("fuzz_config", "pipeline.conf");
	return 0;
}

static void check(const char *what, int rc, const struct pl_error *err,
		  const int *codes, const char *prefix, const char *prefix2)
{
	int ok = 0;

	if (rc == 0)
		return;
	if (rc != -1) {
		fprintf(stderr, "fuzz_config: %s returned %d\n", what, rc);
		abort();
	}
	for (int i = 0; codes[i]; i++)
		ok |= err->code == codes[i];
	if (!ok || !err->msg[0] ||
	    (strncmp(err->msg, prefix, strlen(prefix)) != 0 &&
	     (!prefix2 || strncmp(err->msg, prefix2, strlen(prefix2)) != 0))) {
		fprintf(stderr, "fuzz_config: %s: code %d, message '%s'\n", what,
			err->code, err->msg);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int load_codes[] = { PL_EX_CONFIG, PL_EX_NOINPUT, PL_EX_OSERR, 0 };
	static const int override_codes[] = { PL_EX_CONFIG, PL_EX_USAGE, PL_EX_OSERR, 0 };
	static const int validate_codes[] = { PL_EX_CONFIG, 0 };
	struct config cfg;
	struct pl_error err = { 0 };
	struct strbuf sb = STRBUF_INIT;
	const uint8_t *nl = memchr(data, '\n', size);
	char *line;
	FILE *fp;
	int rc;

	fp = fopen(path, "wb");
	if (!fp || fwrite(data, 1, size, fp) != size || fclose(fp)) {
		perror("fuzz_config: cannot write the input");
		abort();
	}
	/* The first line as a C string (it ends at a NUL byte too). */
	line = strndup((const char *)data, nl ? (size_t)(nl - data) : size);
	if (!line)
		abort();

	if (config_init(&cfg, &err))
		abort(); /* only out of memory, which a fuzzer does not cause */
	rc = config_load(&cfg, path, &err);
	check("config_load", rc, &err, load_codes, path, NULL);
	if (rc == 0) {
		memset(&err, 0, sizeof(err));
		rc = config_override(&cfg, line, &err);
		check("config_override", rc, &err, override_codes, "-c", NULL);
		memset(&err, 0, sizeof(err));
		rc = config_validate(&cfg, &err);
		check("config_validate", rc, &err, validate_codes, path, "-c");
		if (config_dump(&cfg, &sb))
			abort();
		strbuf_release(&sb);
	}
	config_release(&cfg);
	free(line);
	return 0;
}
