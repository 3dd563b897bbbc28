#!/bin/sh
# fuzz.sh -- run the libFuzzer harnesses of tests/fuzz/ (make fuzz, make fuzz-ci)
#
#   sh tests/fuzz.sh fuzz NAME...   fuzz each harness build-fuzz/fuzz_NAME for
#                                   FUZZ_SECONDS [300] on a copy of its seed
#                                   corpus tests/fuzz/corpus/NAME
#   sh tests/fuzz.sh ci NAME...     first replay every file of
#                                   tests/fuzz/corpus/NAME and
#                                   tests/fuzz/crashes/NAME, then fuzz as
#                                   above for FUZZ_SECONDS [30]
#
# The harnesses are built by the Makefile (make fuzz builds them first).
# The seed corpus is copied to a temporary working corpus, so the
# repository is not modified; what libFuzzer finds (crash-*, leak-*,
# timeout-*, oom-*) is saved in tests/fuzz/crashes/NAME/: keep it there as
# a regression case once the bug is fixed.  Prints per harness the
# executions (libFuzzer's stat::number_of_executed_units) and last
# `fuzz: N passed, M failed`; exits 1 when a harness failed.
#
# FUZZ_ARGS adds libFuzzer flags (e.g. FUZZ_ARGS=-jobs=4 or -dict=FILE);
# FUZZ_BIN is the folder of the binaries [build-fuzz].

mode=${1:-}
[ $# -gt 0 ] && shift
case $mode in
fuzz) seconds=${FUZZ_SECONDS:-300} ;;
ci) seconds=${FUZZ_SECONDS:-30} ;;
*)
	echo "usage: sh tests/fuzz.sh fuzz|ci NAME..." >&2
	exit 64
	;;
esac
[ $# -gt 0 ] || set -- tokenize config gzip cache
bin=${FUZZ_BIN:-build-fuzz}
here=$(pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/fuzz.XXXXXX") || exit 71
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
pass=0
fail=0

# The files of a folder, one a line, .gitkeep left out.
files_of() {
	[ -d "$1" ] && find "$1" -type f ! -name .gitkeep | LC_ALL=C sort
}

# Keys and section names of pipeline/config.def as a libFuzzer dictionary.
config_dict() {
	sed -n 's/^CFG(\([a-z_]*\), *\([a-z_]*\),.*/"[\1]"\n"\1.\2="\n"\2 = "/p' \
		pipeline/config.def | sort -u
	printf '"[phrases]"\n"[frames]"\n"\\x0A  "\n" ;"\n"#"\n".."\n'
}

for name in "$@"; do
	exe=$bin/fuzz_$name
	seeds=tests/fuzz/corpus/$name
	crashes=tests/fuzz/crashes/$name
	ok=1
	if [ ! -x "$exe" ]; then
		echo "fuzz_$name: $exe missing (make fuzz builds it)"
		fail=$((fail + 1))
		continue
	fi
	mkdir -p "$crashes"

	if [ "$mode" = ci ]; then
		files_of "$seeds" >"$work/list"
		files_of "$crashes" >>"$work/list"
		n=$(wc -l <"$work/list")
		# With files as arguments libFuzzer runs each once and stops.
		if [ "$n" -gt 0 ] &&
		   ! tr '\n' '\0' <"$work/list" |
		     xargs -0 "$exe" -runs=1 >"$work/replay.log" 2>&1; then
			tail -n 40 "$work/replay.log"
			echo "fuzz_$name: replaying $n files FAILED (log above)"
			ok=0
		else
			echo "fuzz_$name: replayed $n files"
		fi
	fi

	dict=
	if [ "$name" = config ]; then
		config_dict >"$work/config.dict"
		dict=-dict=$work/config.dict
	fi
	rm -rf "$work/corpus"
	mkdir -p "$work/corpus"
	if [ -d "$seeds" ]; then
		cp -R "$seeds/." "$work/corpus/"
		rm -f "$work/corpus/.gitkeep"
	fi
	# The harnesses rewrite a temporary file every execution: in memory
	# when /dev/shm is there, which is faster and spares the disk.
	ftmp=${TMPDIR:-/tmp}
	[ -d /dev/shm ] && [ -w /dev/shm ] && ftmp=/dev/shm
	# shellcheck disable=SC2086
	TMPDIR=$ftmp "$exe" -max_total_time="$seconds" -print_final_stats=1 -timeout=30 \
		-rss_limit_mb=2048 -artifact_prefix="$here/$crashes/" $dict \
		${FUZZ_ARGS:-} "$work/corpus" >"$work/fuzz.log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/fuzz.log" | tail -n 1)
	if [ $rc -ne 0 ]; then
		tail -n 60 "$work/fuzz.log"
		echo "fuzz_$name: FAILED after ${execs:-?} executions in ${seconds} s" \
			"(exit $rc; the input is saved in $crashes/)"
		ok=0
	else
		echo "fuzz_$name: ${execs:-?} executions in ${seconds} s, no failure"
	fi
	if [ $ok = 1 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); fi
done
echo "fuzz: $pass passed, $fail failed"
[ $fail = 0 ]
