#!/bin/sh
# cli.sh -- table-driven tests of the pipeline command line
#
# Run from the top of the repository, as `make check-cli` does:
#   PIPELINE=build/bin/pipeline sh tests/cli.sh
# Each row of a table is one case:
#   name|exit code|where|text|command
# where:  out    `text` must appear on stdout
#         err    `text` must appear on stderr
#         quiet  nothing at all on stdout or stderr
#         any    only the exit code is checked
# `text` and `command` are evaluated by the shell, so they may use $P (the
# program), $T (this run's temporary folder) and $VERSION; `text` must not
# contain "|" (the command may).  One line is printed per case, then
# "N passed, M failed"; the exit status is 1 when a case failed.

P=${PIPELINE:-build/bin/pipeline}
if [ ! -x "$P" ]; then
	echo "cli.sh: $P is not an executable; build it first (make)" >&2
	exit 1
fi
# Absolute, so that a case may cd (as tests/incremental.sh has it).
case $P in
/*) ;;
*) P=$(pwd)/$P ;;
esac
VERSION=$(sed -n 's/^#define PIPELINE_VERSION "\(.*\)"$/\1/p' pipeline/run.h)
T=$(mktemp -d "${TMPDIR:-/tmp}/pipeline-cli.XXXXXX") || exit 1
# (The mounts some cases make, if they were interrupted.)
trap 'umount "$T/inodes" "$T/xdev/mnt" "$T/full" 2>/dev/null; rm -rf "$T"' EXIT
trap 'umount "$T/inodes" "$T/xdev/mnt" "$T/full" 2>/dev/null; rm -rf "$T"; exit 130' INT TERM
pass=0
fail=0

# The files a run publishes (stages/write.c, stages/summary.c, run.json).
OUTPUTS="tfidf.mtx.gz counts.mtx.gz terms.tsv.gz docs.tsv clusters.tsv
frames.tsv ksweep.tsv projection.tsv summary.md summary.json run.json"

# run_case NAME CODE WHERE TEXT COMMAND
run_case() {
	name=$1 code=$2 where=$3 text=$4 cmd=$5
	eval "$cmd" >"$T/stdout" 2>"$T/stderr" </dev/null
	got=$?
	eval "text=\"$text\""
	why=
	[ "$got" -eq "$code" ] || why="exit $got, expected $code"
	case $where in
	out)
		grep -qF -e "$text" "$T/stdout" ||
			why="${why:+$why; }stdout lacks '$text'" ;;
	err)
		grep -qF -e "$text" "$T/stderr" ||
			why="${why:+$why; }stderr lacks '$text'" ;;
	quiet)
		if [ -s "$T/stdout" ] || [ -s "$T/stderr" ]; then
			why="${why:+$why; }printed something"
		fi ;;
	any) ;;
	*) why="bad table row: where is '$where'" ;;
	esac
	if [ -z "$why" ]; then
		pass=$((pass + 1))
		echo "ok   $name"
	else
		fail=$((fail + 1))
		echo "FAIL $name: $why"
		sed -n '1,5s/^/     stderr| /p' "$T/stderr"
	fi
}

# Run every row read from stdin; blank lines and # comments are skipped.
run_table() {
	while IFS='|' read -r name code where text cmd; do
		case $name in
		'' | '#'*) continue ;;
		esac
		run_case "$name" "$code" "$where" "$text" "$cmd"
	done
}

# The line of pipeline.conf that sets min_length, which a message names.
MINLEN_LINE=$(grep -n '^min_length *=' pipeline.conf | cut -d: -f1)
printf '[kmeans]\nk = 3\nkk = 4\n' >"$T/bad.conf"
touch "$T/not-a-folder"

run_table <<'EOF'
# Usage, help and version: nothing is read or written.
--help|0|out|usage: pipeline|"$P" --help
-h|0|out|Quick start: pipeline run pipeline.conf|"$P" -h
--help wins over a command|0|out|usage: pipeline|"$P" run pipeline.conf --help
no arguments|64|err|usage: pipeline|"$P"
unknown command|64|err|'frobnicate' is not a command|"$P" frobnicate pipeline.conf
unknown option|64|err|unknown option '--frobnicate'|"$P" --frobnicate check pipeline.conf
unknown option shows the usage|64|err|usage: pipeline|"$P" -x check pipeline.conf
a config that is a symbolic link: its paths from the folder of the file it leads to|0|out|pipeline.conf: ok|mkdir -p "$T/linkdir" && ln -sf "$PWD/pipeline.conf" "$T/linkdir/pipeline.conf" && (cd "$T/linkdir" && "$P" check pipeline.conf)
a config named -x.conf after --|0|any||cp pipeline.conf "$T/-x.conf" && sed -i "s#^dir = corpus\$#dir = $PWD/corpus#; s#^boilerplate = corpus/#boilerplate = $PWD/corpus/#; s#^dir = output\$#dir = $T/dash-out#" -- "$T/-x.conf" && (cd "$T" && "$P" -q check -- -x.conf)
-c without a value|64|err|-c needs section.key=value|"$P" check pipeline.conf -c
run without a config file|64|err|expected one config file|"$P" run
too many arguments|64|err|too many arguments|"$P" check a b c d e
help run|0|out|Example: pipeline -c kmeans.k=6 run pipeline.conf|"$P" help run
help run lists the exit codes|0|out|65  the corpus cannot be analysed|"$P" help run
help check|0|out|Prints 'CONF: ok'|"$P" help check
help on an unknown topic|64|err|no command or topic 'nosuch'|"$P" help nosuch
help stem lists english|0|out|  english|"$P" help stem
help stem offers none|0|out|  none (no stemming)|"$P" help stem
help exit|0|out|78  configuration error|"$P" help exit
help exit explains 66|0|out|66  the config file, corpus folder|"$P" help exit
--version|0|out|pipeline $VERSION|"$P" --version
version: the libraries with their versions|0|out|  libdeflate |"$P" version
version|0|out|pipeline $VERSION|"$P" version

# check: the config and the corpus folder, nothing written.
check pipeline.conf|0|out|pipeline.conf: ok|"$P" check pipeline.conf
check writes nothing|0|any||"$P" -c output.dir="$T/chk" check pipeline.conf && test ! -e "$T/chk"
check a missing file|66|err|$T/missing.conf: cannot read|"$P" check "$T/missing.conf"
-c kmeans.k=abc|78|err|-c kmeans.k=abc: [kmeans] k: 'abc' is not a whole number|"$P" -c kmeans.k=abc check pipeline.conf
-c nonsense|64|err|-c 'nonsense': expected section.key=value|"$P" -c nonsense check pipeline.conf
-c unknown key gets a hint|78|err|unknown key 'kk' in [kmeans]; did you mean 'k'?|"$P" -c kmeans.kk=3 check pipeline.conf
-c unknown section|78|err|unknown section [nosuch]|"$P" -c nosuch.k=1 check pipeline.conf
config with an unknown key|78|err|$T/bad.conf:3: unknown key 'kk' in [kmeans]|"$P" check "$T/bad.conf"
missing corpus folder|66|err|cannot open the corpus folder|"$P" -c corpus.dir="$T/nocorpus" check pipeline.conf
min_length above max_length|78|err|min_length 9 is larger than max_length 3|"$P" -c tokenize.min_length=9 -c tokenize.max_length=3 check pipeline.conf
an override is named as such, not blamed on the file|78|err|pipeline.conf:$MINLEN_LINE: [tokenize] min_length 2 is larger than max_length 1 (max_length from -c tokenize.max_length)|"$P" -c tokenize.max_length=1 check pipeline.conf
EOF

# help config: every section of config.def, plus the free [phrases] and
# [frames], has its header.
for s in $( (sed -n 's/^CFG(\([a-z_]*\),.*/\1/p' pipeline/config.def;
	     echo phrases; echo frames) | awk '!seen[$0]++'); do
	run_case "help config lists [$s]" 0 out "[$s]" '"$P" help config'
done

run_table <<'EOF'
# Runs, always into $T (never the repository's output/).
-q run|0|quiet||"$P" -q -c output.dir="$T/one" run pipeline.conf
second run|0|quiet||"$P" -q -c output.dir="$T/two" run pipeline.conf
without -q, the last line says where the results are|0|err|/pub/summary.md|"$P" -c output.dir="$T/pub" run pipeline.conf 2>&1 >/dev/null | tail -n 1 | grep '^pipeline: published run .*: 42 statements from 5 files, 4 clusters; start with ' >&2
-v names the stages|0|err|pipeline: kmeans|"$P" -v -c output.dir="$T/three" run pipeline.conf
k above the statements|65|err|k = 1000 is larger than the|"$P" -q -c kmeans.k=1000 -c output.dir="$T/fail" run pipeline.conf
a failed run publishes nothing|0|any||test ! -e "$T/fail/current" && test ! -e "$T/fail/docs.tsv" && test -z "$(ls -A "$T/fail/sets")" && grep -q "\"status\": \"failed\"" "$T"/fail/runs/*.json
output path is a file|73|err|output path exists and is not a folder|"$P" -q -c output.dir="$T/not-a-folder" run pipeline.conf
EOF

for f in $OUTPUTS; do
	run_case "run writes $f" 0 any "" "test -s \"\$T/one/$f\""
done
# Determinism: same corpus, config and seed, same bytes (run.json holds
# timings, so it alone may differ).
for f in $OUTPUTS; do
	[ "$f" = run.json ] && continue
	run_case "same bytes twice: $f" 0 any "" "cmp \"\$T/one/$f\" \"\$T/two/$f\""
done
# Threads: 1, 2 and 3 read threads give the same bytes.  The bundled
# corpus has 5 files, so 3 threads get uneven runs of files.
run_table <<'EOF'
one thread|0|quiet||"$P" -q -c run.threads=1 -c output.dir="$T/t1" run pipeline.conf
two threads|0|quiet||"$P" -q -c run.threads=2 -c output.dir="$T/t2" run pipeline.conf
three threads|0|quiet||"$P" -q -c run.threads=3 -c output.dir="$T/t3" run pipeline.conf
run.json says how many threads read|0|any||grep -q '"threads": 3' "$T/t3/run.json"
EOF
for f in $OUTPUTS; do
	[ "$f" = run.json ] && continue
	run_case "1 and 2 threads, same bytes: $f" 0 any "" "cmp \"\$T/t1/$f\" \"\$T/t2/$f\""
	run_case "1 and 3 threads, same bytes: $f" 0 any "" "cmp \"\$T/t1/$f\" \"\$T/t3/$f\""
done
# [output] tfidf_matrix = no: the weights only as their factors.  The
# other files are those of a run with the matrix; the matrix's weights
# come back to the bit from counts, idf and norm (tests/weights_equal.py,
# every tf and norm choice).  Into a folder that had a matrix, the link
# to it goes with it.
run_table <<'EOF'
tfidf_matrix = no|0|quiet||"$P" -q -c output.tfidf_matrix=no -c output.dir="$T/nomat" run pipeline.conf
tfidf_matrix = no writes no tfidf.mtx.gz|0|any||test ! -e "$T/nomat/current/tfidf.mtx.gz" && test ! -e "$T/nomat/tfidf.mtx.gz"
run.json says the matrix was left out|0|any||grep -q '"matrix": false' "$T/nomat/run.json" && grep -q '"matrix": true' "$T/one/run.json"
tfidf_matrix = no over a set with a matrix|0|quiet||"$P" -q -c output.dir="$T/swap" run pipeline.conf && test -L "$T/swap/tfidf.mtx.gz" && "$P" -q -c output.tfidf_matrix=no -c output.dir="$T/swap" run pipeline.conf
the link to the old tfidf.mtx.gz is gone|0|any||test ! -e "$T/swap/tfidf.mtx.gz" && test ! -L "$T/swap/tfidf.mtx.gz" && test -e "$T/swap/docs.tsv"
and comes back with the matrix|0|quiet||"$P" -q -c output.dir="$T/swap" run pipeline.conf && test -s "$T/swap/tfidf.mtx.gz"
EOF
for f in $OUTPUTS; do
	case $f in run.json | tfidf.mtx.gz) continue ;; esac
	run_case "tfidf_matrix = no, same bytes: $f" 0 any "" "cmp \"\$T/one/$f\" \"\$T/nomat/$f\""
done
if command -v python3 >/dev/null 2>&1; then
	for w in "tf=raw norm=l2" "tf=log norm=l1" "tf=relative norm=none idf=log2" "tf=binary norm=l2 idf=plain"; do
		set -- $w
		o="$T/w-$1-$2"
		run_case "weights from factors to the bit: $w" 0 out "rebuilt to the bit" \
			"(for m in yes no; do \"\$P\" -q -c tfidf.$1 -c tfidf.$2 ${3:+-c tfidf.$3} -c output.tfidf_matrix=\$m -c output.dir=\"$o-\$m\" run pipeline.conf || exit 1; done) && python3 tests/weights_equal.py \"$o-no\" \"$o-yes\""
	done
	run_table <<'EOF'
run.json is valid JSON|0|any||python3 -m json.tool "$T/one/run.json"
summary.json is valid JSON|0|any||python3 -m json.tool "$T/one/summary.json"
EOF
else
	echo "skip run.json is valid JSON (no python3)"
	echo "skip summary.json is valid JSON (no python3)"
fi

run_table <<'EOF'
# A failed run over good outputs leaves them as they were.
keep a copy of run.json|0|any||cp "$T/one/run.json" "$T/run.json.before"
k above the statements over good outputs|65|err|lower [kmeans] k|"$P" -q -c kmeans.k=1000 -c output.dir="$T/one" run pipeline.conf
run.json untouched by the failed run|0|any||cmp "$T/one/run.json" "$T/run.json.before"
no staging folder left|0|any||! ls -A "$T/one" | grep -q staging
EOF
for f in $OUTPUTS; do
	[ "$f" = run.json ] && continue
	run_case "untouched by the failed run: $f" 0 any "" "cmp \"\$T/one/$f\" \"\$T/two/$f\""
done

# The process a scheduler starts: its stdout or stderr closed, a pipe
# that closes, a file size limit (main.c, sane_process).
run_table <<'EOF'
# (Reruns with another k, which say "since run ..." on stderr.)
a first run for the two below|0|quiet||"$P" -q -c output.dir="$T/pipe" run pipeline.conf && "$P" -q -c output.dir="$T/nostderr" run pipeline.conf && readlink "$T/pipe/current" >"$T/pipe.before"
stderr a pipe that closes: the run still publishes|0|out|rc 0 published|{ "$P" -c kmeans.k=2 -c output.dir="$T/pipe" run pipeline.conf 2>&1; echo "rc $?" >"$T/pipe.rc"; } | true; test "$(readlink "$T/pipe/current")" != "$(cat "$T/pipe.before")" && echo "$(cat "$T/pipe.rc") published"
stderr closed: the lock file holds its pid alone|0|out|lock clean|"$P" -c kmeans.k=2 -c output.dir="$T/nostderr" run pipeline.conf 2>&- && grep -qx '[0-9]*' "$T/nostderr/.lock" && echo "lock clean"
over ulimit -f: exit 74 naming the file|74|err|File too large|(ulimit -f 8; "$P" -q -c output.dir="$T/fsize" run pipeline.conf)
over ulimit -f: nothing published|0|any||test ! -e "$T/fsize/current"
verify into a full device: exit 74|74|err|standard output: No space left on device|"$P" -c output.dir="$T/one" verify pipeline.conf >/dev/full
status into a full device: exit 74|74|err|standard output|"$P" -c output.dir="$T/one" status pipeline.conf >/dev/full
--help into a full device: exit 74|74|err|standard output|"$P" --help >/dev/full
EOF

# sets/ a link to another file system (output/README.md allows it): the
# report in runs/ cannot be a hard link into the set, so it is a copy,
# and the run says nothing under -q.
if [ "$(id -u)" -eq 0 ] && mkdir -p "$T/xdev/mnt" "$T/xdev/out" &&
	mount -t tmpfs tmpfs "$T/xdev/mnt" 2>/dev/null; then
	mkdir "$T/xdev/mnt/sets" && ln -s "$T/xdev/mnt/sets" "$T/xdev/out/sets"
	run_case "sets/ on another file system: a quiet run" 0 quiet "" \
		"\"\$P\" -q -c output.dir=\"\$T/xdev/out\" run pipeline.conf"
	run_case "sets/ on another file system: the run's report in runs/" 0 any "" \
		"cmp \"\$T/xdev/out/runs/\"*.json \"\$T/xdev/out/current/run.json\""
	umount "$T/xdev/mnt"
else
	echo "skip sets/ on another file system (needs root and a tmpfs mount)"
fi

# The output disk full: the run stops with 74 naming the error, and still
# leaves its report in runs/ ("exit": 74).  The report used to be tried
# while the run's half-written set still filled the disk, and its
# failure went unsaid; the set is now removed first and the report tried
# again.  (outdir.c, outdir_record_failure.)
if [ "$(id -u)" -eq 0 ] && mkdir -p "$T/full" &&
	mount -t tmpfs -o size=20m tmpfs "$T/full" 2>/dev/null; then
	"$P" -q -c output.dir="$T/full/o" run pipeline.conf
	used=$(df -k "$T/full" | awk 'NR == 2 { print $3 }')
	mount -o remount,size=$((used + 64))k "$T/full"
	run_case "output disk full: exit 74, the error named" 74 err "No space left on device" \
		"\"\$P\" -q -c output.dir=\"\$T/full/o\" -c kmeans.k=3 run pipeline.conf"
	cp "$T/stderr" "$T/full.err"
	run_case "output disk full: no warning that the report is missing" 0 any "" \
		"! grep 'recording the run' \"\$T/full.err\" >&2"
	run_case "output disk full: the failed run's report is in runs/" 0 any "" \
		"grep -l '\"exit\": 74' \"\$T/full/o/runs/\"*.json | grep -q json"
	umount "$T/full"
else
	echo "skip output disk full (needs root and a tmpfs mount)"
fi

# Inodes run out at each step of a rerun that publishes a new name
# (tfidf.mtx.gz, after a run without it): whatever step fails, the run
# exits non-zero with current where it was and no link leading nowhere;
# with enough inodes it publishes.  (outdir.c, outdir_publish.)
if [ "$(id -u)" -eq 0 ] && mkdir -p "$T/inodes" &&
	mount -t tmpfs -o size=50m tmpfs "$T/inodes" 2>/dev/null; then
	umount "$T/inodes"
	bad= failed=0 published=0 extra=8
	while [ $extra -le 40 ]; do
		mount -t tmpfs -o size=50m tmpfs "$T/inodes" || break
		o=$T/inodes/o
		"$P" -q -c output.dir="$o" -c output.tfidf_matrix=no run pipeline.conf
		used=$(df -i "$T/inodes" | awk 'NR == 2 { print $3 }')
		mount -o remount,nr_inodes=$((used + extra)) "$T/inodes"
		before=$(readlink "$o/current")
		"$P" -q -c output.dir="$o" run pipeline.conf 2>/dev/null
		rc=$?
		for l in "$o"/*; do
			if [ -L "$l" ] && [ ! -e "$l" ]; then bad="$bad; +$extra: $l leads nowhere"; fi
		done
		if [ $rc -eq 0 ]; then
			published=$((published + 1))
		else
			failed=$((failed + 1))
			[ "$(readlink "$o/current")" = "$before" ] || bad="$bad; +$extra: current moved"
		fi
		umount "$T/inodes"
		extra=$((extra + 1))
	done
	run_case "inodes run out at each step of a publish: no dangling link, current kept" 0 any "" \
		"test -z \"\$bad\" || { echo \"\$bad\" >&2; false; }"
	run_case "inodes run out: both failed and published runs were seen" 0 any "" \
		"test \$failed -gt 0 && test \$published -gt 0"
	# The same over an older version's flat layout (plain files, which
	# a publish replaces with links): a failed publish leaves every one
	# of them as it was.
	"$P" -q -c output.dir="$T/flatref" run pipeline.conf
	bad= failed=0 published=0 extra=8
	while [ $extra -le 40 ]; do
		mount -t tmpfs -o size=50m tmpfs "$T/inodes" || break
		o=$T/inodes/o
		mkdir "$o"
		names=
		for f in "$T/flatref"/*; do
			b=${f##*/}
			[ -L "$f" ] && [ "$b" != current ] || continue
			case $b in manifest.tsv | sources.tsv | changes.tsv) continue ;; esac
			cp -L "$f" "$o/$b"
			names="$names $b"
		done
		used=$(df -i "$T/inodes" | awk 'NR == 2 { print $3 }')
		mount -o remount,nr_inodes=$((used + extra)) "$T/inodes"
		"$P" -q -c output.dir="$o" -c kmeans.k=3 run pipeline.conf 2>/dev/null
		rc=$?
		for b in $names; do
			f=$o/$b
			if [ $rc -eq 0 ]; then
				[ "$(readlink "$f")" = "current/$b" ] || bad="$bad; +$extra: $b not a link"
			elif [ -L "$f" ] || ! cmp -s "$f" "$T/flatref/$b"; then
				bad="$bad; +$extra: $b is not the old file"
			fi
		done
		if [ $rc -eq 0 ]; then published=$((published + 1)); else failed=$((failed + 1)); fi
		! ls -A "$o" | grep -q '[.]flat$' || bad="$bad; +$extra: a .flat file left"
		umount "$T/inodes"
		extra=$((extra + 1))
	done
	run_case "inodes run out over the flat layout: a failed publish keeps its files" 0 any "" \
		"test -z \"\$bad\" || { echo \"\$bad\" >&2; false; }"
	run_case "inodes run out over the flat layout: both failed and published runs were seen" 0 any "" \
		"test \$failed -gt 0 && test \$published -gt 0"
else
	echo "skip inodes run out at each step of a publish (needs root and a tmpfs mount)"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ] || exit 1
exit 0
