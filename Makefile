# Makefile for pipeline.  `make run` and `make check` install missing build
# dependencies (Debian/Ubuntu, through apt-get; sudo when not root) first.
#
#   make            build bin/pipeline
#   make run        run the pipeline on corpus/ with pipeline.conf
#   make check      every test (Check suites, command-line and end-to-end)
#   make check SANITIZE=1   the same under AddressSanitizer and UBSan
#   make install    PREFIX=/usr/local DESTDIR= honoured
#   V=1             show the full compiler commands
#
# Your CFLAGS, CPPFLAGS and LDFLAGS are added to, never replaced.

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
DATADIR ?= $(PREFIX)/share/pipeline
PKG_CONFIG ?= pkg-config
CFLAGS ?= -O2 -g
STEMMER_LIBS ?= -lstemmer
PKGS = gsl zlib libutf8proc inih libxxhash libdeflate
TEST_PKGS = check

# What `make deps` installs when missing (Debian package names).
DEB_BUILD = build-essential pkg-config libgsl-dev zlib1g-dev libutf8proc-dev \
	libinih-dev libstemmer-dev libxxhash-dev libdeflate-dev
DEB_CHECK = check valgrind
DEB_CLIENTS = python3-sklearn python3-stemmer python3-scipy r-base-core r-cran-matrix r-cran-jsonlite gnuplot-nox

ifeq ($(SANITIZE),1)
BUILD = build-san
SAN = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
BUILD = build
SAN =
endif

PL_CFLAGS = -std=c11 -pthread -Wall -Wextra -Wshadow -Wstrict-prototypes -Wformat=2 \
	-D_POSIX_C_SOURCE=200809L \
	-DPIPELINE_INIH_VERSION='"$(shell $(PKG_CONFIG) --modversion inih 2>/dev/null)"' \
	$(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null) $(SAN)
PL_LIBS = $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null) $(STEMMER_LIBS) -lm -pthread
TEST_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(TEST_PKGS) 2>/dev/null)
TEST_LIBS = $(shell $(PKG_CONFIG) --libs $(TEST_PKGS) 2>/dev/null)

LIB_SRC = $(filter-out pipeline/main.c,$(sort $(wildcard pipeline/*.c))) \
	$(sort $(wildcard stages/*.c))
LIB_OBJ = $(LIB_SRC:%.c=$(BUILD)/%.o)
TEST_SRC = $(sort $(wildcard tests/*.c))
TEST_OBJ = $(TEST_SRC:%.c=$(BUILD)/%.o)

ifeq ($(V),1)
Q =
else
Q = @
endif

.PHONY: all deps deps-check run check check-unit check-cli check-badinput check-incremental check-kill check-valgrind check-clients check-deps-clients install uninstall clean bench bench-incremental

all: bin/pipeline

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(PL_CFLAGS) $(if $(filter tests/%,$<),$(TEST_CFLAGS)) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libpipeline.a: $(LIB_OBJ)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(BUILD)/bin/pipeline: $(BUILD)/pipeline/main.o $(BUILD)/libpipeline.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(SAN) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(PL_LIBS)

bin/pipeline: $(BUILD)/bin/pipeline
	@mkdir -p bin
	$(Q)cp $< $@

$(BUILD)/run_tests: $(TEST_OBJ) $(BUILD)/libpipeline.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(SAN) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(TEST_LIBS) $(PL_LIBS)

-include $(LIB_OBJ:.o=.d) $(TEST_OBJ:.o=.d) $(BUILD)/pipeline/main.d

# Install what is missing; a no-op when everything is there.
deps:
	@sh tests/deps.sh $(DEB_BUILD)

deps-check:
	@sh tests/deps.sh $(DEB_BUILD) $(DEB_CHECK)

run: deps
	@$(MAKE) --no-print-directory all
	./bin/pipeline run pipeline.conf

check: deps-check
	@$(MAKE) --no-print-directory $(BUILD)/bin/pipeline $(BUILD)/run_tests
	@$(MAKE) --no-print-directory check-unit check-cli check-badinput check-incremental check-clients $(if $(SAN),,check-valgrind)

# Each check target builds what it runs, so that running one alone never
# tests a stale binary.
check-unit: $(BUILD)/run_tests
	$(BUILD)/run_tests

check-cli: $(BUILD)/bin/pipeline
	PIPELINE=$(BUILD)/bin/pipeline sh tests/cli.sh

# Reruns against fresh runs: growth, edits, removals, nothing new, lock,
# kills during reruns, damaged caches (tests/incremental.sh).
check-incremental: $(BUILD)/bin/pipeline
	PIPELINE=$(BUILD)/bin/pipeline sh tests/incremental.sh

# SIGKILL at random points of runs (about a minute; CI runs it).
check-kill: $(BUILD)/bin/pipeline
	PIPELINE=$(BUILD)/bin/pipeline sh tests/kill.sh

# Bad input: every case's exit code, message, and the previous outputs kept.
check-badinput: $(BUILD)/bin/pipeline
	PIPELINE=$(BUILD)/bin/pipeline sh tests/badinput.sh

# Our outputs read by scikit-learn, R and gnuplot (skipped, and said so,
# where a tool is not installed; `make check-deps-clients` installs them).
check-clients: $(BUILD)/bin/pipeline
	PIPELINE=$(BUILD)/bin/pipeline sh tests/clients.sh

check-deps-clients:
	@sh tests/deps.sh $(DEB_CLIENTS)

# The end-to-end run under valgrind: no errors, no leaks of any kind.
check-valgrind: $(BUILD)/bin/pipeline
	@d=$$(mktemp -d) && \
	valgrind -q --leak-check=full --show-leak-kinds=all --errors-for-leak-kinds=all \
		--error-exitcode=99 $(BUILD)/bin/pipeline -q -c output.dir=$$d run pipeline.conf; \
	rc=$$?; rm -rf $$d; \
	if [ $$rc = 0 ]; then echo "valgrind: 1 passed, 0 failed"; else echo "valgrind: 0 passed, 1 failed"; exit 1; fi

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(DATADIR)
	install -m 755 bin/pipeline $(DESTDIR)$(BINDIR)/pipeline
	install -m 644 contrib/load.R $(DESTDIR)$(DATADIR)/load.R
	install -m 644 README.md $(DESTDIR)$(DATADIR)/README.md
	install -m 644 output/README.md $(DESTDIR)$(DATADIR)/outputs.md
	install -m 644 pipeline.conf $(DESTDIR)$(DATADIR)/pipeline.conf.example
	install -m 644 corpus/boilerplate.regex $(DESTDIR)$(DATADIR)/boilerplate.regex
	install -d $(DESTDIR)$(DATADIR)/cron $(DESTDIR)$(DATADIR)/systemd
	install -m 644 contrib/cron/pipeline.crontab $(DESTDIR)$(DATADIR)/cron/
	install -m 644 contrib/systemd/pipeline.service contrib/systemd/pipeline.timer \
		$(DESTDIR)$(DATADIR)/systemd/

# Removes what install put there, then $(DATADIR) itself when that left it empty.
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/pipeline $(DESTDIR)$(DATADIR)/load.R \
		$(DESTDIR)$(DATADIR)/README.md $(DESTDIR)$(DATADIR)/outputs.md \
		$(DESTDIR)$(DATADIR)/pipeline.conf.example $(DESTDIR)$(DATADIR)/boilerplate.regex
	rm -rf $(DESTDIR)$(DATADIR)/cron $(DESTDIR)$(DATADIR)/systemd
	rmdir $(DESTDIR)$(DATADIR) 2>/dev/null || true

clean:
	rm -rf build build-san build-fuzz bin

# Speed and memory against scikit-learn on the same corpora (see
# tests/bench.sh; prints medians of 3 runs and the ratios).
BENCH_DEBS = python3-sklearn python3-stemmer bc time
bench: deps
	@sh tests/deps.sh $(BENCH_DEBS)
	@$(MAKE) --no-print-directory all
	sh tests/bench.sh
	sh tests/bench_incremental.sh

# Full run, 1% rerun and no-change rerun on the 520 MB corpus alone.
bench-incremental: deps
	@sh tests/deps.sh $(BENCH_DEBS)
	@$(MAKE) --no-print-directory all
	sh tests/bench_incremental.sh

# libFuzzer harnesses (tests/fuzz/; needs clang and libclang-rt-14-dev).
# `make fuzz` fuzzes each for FUZZ_SECONDS [300]; `make fuzz-ci` replays
# the seeds and saved crashes, then fuzzes each for FUZZ_SECONDS [30].
# Debian packages the fuzzers need (make fuzz-deps installs them).
DEB_FUZZ = clang libclang-rt-14-dev
FUZZ_CC ?= clang
FUZZ_CFLAGS ?= -g -O1
FUZZ_SECONDS ?= 300
FUZZ_NAMES = tokenize config gzip cache
FUZZ_SAN = -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=undefined
FUZZ_OBJ = $(LIB_SRC:%.c=build-fuzz/%.o)
FUZZ_BINS = $(FUZZ_NAMES:%=build-fuzz/fuzz_%)

.PHONY: fuzz fuzz-ci fuzz-build fuzz-deps

fuzz-deps:
	@sh tests/deps.sh $(DEB_FUZZ)

build-fuzz/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $< (fuzz)")
	$(Q)$(FUZZ_CC) $(PL_CFLAGS) $(FUZZ_SAN) $(if $(filter tests/fuzz/%,$<),-fsanitize=fuzzer,-fsanitize=fuzzer-no-link) \
		$(CPPFLAGS) $(FUZZ_CFLAGS) -MMD -MP -c $< -o $@

build-fuzz/libpipeline.a: $(FUZZ_OBJ)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

build-fuzz/fuzz_%: build-fuzz/tests/fuzz/fuzz_%.o build-fuzz/libpipeline.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer $(FUZZ_CFLAGS) $(LDFLAGS) -o $@ $^ $(PL_LIBS)

-include $(FUZZ_OBJ:.o=.d) $(FUZZ_NAMES:%=build-fuzz/tests/fuzz/fuzz_%.d)

fuzz-build: $(FUZZ_BINS)

# Keep the harness objects (make would delete them as intermediates).
.SECONDARY: $(FUZZ_NAMES:%=build-fuzz/tests/fuzz/fuzz_%.o)

fuzz: fuzz-build
	FUZZ_SECONDS=$(FUZZ_SECONDS) sh tests/fuzz.sh fuzz $(FUZZ_NAMES)

fuzz-ci: fuzz-build
	FUZZ_SECONDS=$(if $(filter command line environment,$(origin FUZZ_SECONDS)),$(FUZZ_SECONDS),30) \
		sh tests/fuzz.sh ci $(FUZZ_NAMES)
