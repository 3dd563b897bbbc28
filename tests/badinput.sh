#!/bin/sh
# badinput.sh -- bad configs, bad text, bad gzip and degenerate corpora
#
# Run from the top of the repository:
#   PIPELINE=build/bin/pipeline sh tests/badinput.sh
# Every case builds a corpus and/or a config in a temporary folder, then
# runs `pipeline -q -c output.dir=$OUT run CONF` where $OUT already holds
# the outputs of a previous good run, and checks:
#   - the exit code (README.md, "Exit codes");
#   - for a failure, a piece of the one-line message on stderr (the file
#     and line, the document or the key it names), and that every previous
#     output, run.json included, is byte-identical afterwards;
#   - for a success, that no output holds NaN or Inf, that the text outputs
#     are valid UTF-8, and that summary.json and run.json parse (when
#     python3 is installed).
# One line is printed per case, then "N passed, M failed"; the exit status
# is 1 when a case failed.  Cases that cannot be set up here (unreadable
# files when running as root) print "skip" and count as neither.

P=${PIPELINE:-build/bin/pipeline}
if [ ! -x "$P" ]; then
	echo "badinput.sh: $P is not an executable; build it first (make)" >&2
	exit 1
fi
case $P in
/*) ;;
*) P=$(pwd)/$P ;;
esac
T=$(mktemp -d "${TMPDIR:-/tmp}/pipeline-bad.XXXXXX") || exit 1
trap 'chmod -R u+rwx "$T" 2>/dev/null; rm -rf "$T"' EXIT
trap 'chmod -R u+rwx "$T" 2>/dev/null; rm -rf "$T"; exit 130' INT TERM
pass=0
fail=0
ncase=0
HAVE_PY=0
command -v python3 >/dev/null 2>&1 && HAVE_PY=1
HAVE_TIME=0
[ -x /usr/bin/time ] && /usr/bin/time -f %M true 2>/dev/null && HAVE_TIME=1

# Three ordinary statements, added to most corpora so that a run can
# succeed around the one bad file.
base() {
	mkdir -p "$1"
	echo "encryption backdoor surveillance policy of the agency" >"$1/base1.txt"
	echo "double standard hypocrisy espionage accusation" >"$1/base2.txt"
	echo "network security cyber attack report encryption" >"$1/base3.txt"
}

# conf FILE DIR [LINE...]: a config reading DIR whole files, k = 2,
# followed by the given lines (each its own line, in [kmeans] unless a
# line opens another section).
conf() {
	f=$1 d=$2
	shift 2
	{
		printf '[corpus]\ndir = %s\nunit = document\n[kmeans]\nk = 2\n' "$d"
		for l in "$@"; do
			printf '%s\n' "$l"
		done
	} >"$f"
}

# The previous good run every case starts from.
base "$T/good"
conf "$T/good.conf" good
if ! "$P" -q -c output.dir="$T/ref" run "$T/good.conf" 2>"$T/err"; then
	echo "badinput.sh: the reference run failed:" >&2
	cat "$T/err" >&2
	exit 1
fi

ok() {
	pass=$((pass + 1))
	echo "ok   $1"
}

bad() {
	fail=$((fail + 1))
	echo "FAIL $1: $2"
	sed -n '1,3s/^/     stderr| /p' "$T/stderr"
}

skip() {
	echo "skip $1 ($2)"
}

# Every output of $1 unchanged against the reference run.
# The outputs are links through `current` (output/README.md): the same
# bytes behind every name, `current` not switched, and nothing added: no
# new name and no set left behind (runs/ gains the failed run's report,
# which is what it is for).
same_as_ref() {
	for f in "$T/ref"/*; do
		[ -d "$f" ] && continue # current, sets, runs
		cmp -s "$f" "$1/${f##*/}" || {
			echo "${f##*/} changed"
			return
		}
	done
	[ "$(readlink "$1/current")" = "$(readlink "$T/ref/current")" ] || {
		echo "current switched to $(readlink "$1/current")"
		return
	}
	[ "$(ls -A "$1" | wc -l)" -eq "$(ls -A "$T/ref" | wc -l)" ] ||
		echo "files added: $(ls -A "$1" | tr '\n' ' ')"
	[ "$(ls -A "$1/sets" | wc -l)" -eq "$(ls -A "$T/ref/sets" | wc -l)" ] ||
		echo "sets left behind: $(ls -A "$1/sets" | tr '\n' ' ')"
}

# Why the outputs in $1 of a successful run are not sound, or nothing.
sound() {
	for f in "$1"/*; do
		case $f in
		*.gz) zcat "$f" ;;
		*) cat "$f" ;;
		esac >"$T/plain" 2>/dev/null
		if grep -Eiwq -e '[-+]?(nan|inf|infinity)' "$T/plain"; then
			echo "${f##*/} holds NaN or Inf"
			return
		fi
		if command -v iconv >/dev/null 2>&1 &&
		   ! iconv -f UTF-8 -t UTF-8 "$T/plain" >/dev/null 2>&1; then
			echo "${f##*/} is not valid UTF-8"
			return
		fi
	done
	# One python3 for both files (as python3 -m json.tool would parse them,
	# but NaN and Infinity rejected too): python3 starts slowly.
	if [ $HAVE_PY = 1 ] && ! python3 -c '
import json, sys
for f in sys.argv[1:]:
    with open(f, encoding="utf-8") as fp:
        json.load(fp, parse_constant=lambda c: sys.exit(f + ": " + c))
' "$1/summary.json" "$1/run.json" >/dev/null 2>&1; then
		echo "summary.json or run.json does not parse"
	fi
}

# run NAME CODE TEXT CONF [ARG...]: run CONF over a copy of the reference
# outputs with extra arguments ARG; expect exit CODE and TEXT on stderr
# (for CODE 0, TEXT may be empty).  The outputs are left in $OUT.
run() {
	name=$1 code=$2 text=$3 cf=$4
	shift 4
	ncase=$((ncase + 1))
	OUT=$T/out.$ncase
	cp -p -R "$T/ref" "$OUT"
	"$P" -q -c output.dir="$OUT" "$@" run "$cf" >"$T/stdout" 2>"$T/stderr" </dev/null
	got=$?
	why=
	[ "$got" -eq "$code" ] || why="exit $got, expected $code"
	if [ -n "$text" ] && ! grep -qF -e "$text" "$T/stderr"; then
		why="${why:+$why; }stderr lacks '$text'"
	fi
	if [ "$code" -ne 0 ]; then
		w=$(same_as_ref "$OUT")
		[ -z "$w" ] || why="${why:+$why; }previous outputs: $w"
		[ "$(wc -l <"$T/stderr")" -le 1 ] || why="${why:+$why; }more than one line on stderr"
	elif [ "$got" -eq 0 ]; then
		w=$(sound "$OUT")
		[ -z "$w" ] || why="${why:+$why; }$w"
	fi
	if [ -z "$why" ]; then ok "$name"; else bad "$name" "$why"; fi
}

# expect NAME COMMAND: a further check on the last run (COMMAND is eval'd
# and must succeed; it may use $OUT).
expect() {
	if eval "$2" >/dev/null 2>&1; then ok "$1"; else bad "$1" "$2 failed"; fi
}

# docs_has OUT TEXT: docs.tsv of OUT holds TEXT.
docs_has() {
	grep -qF -e "$2" "$1/docs.tsv"
}

# report KEY: the number after "KEY": in run.json of $OUT.
report() {
	sed -n "s/.*\"$1\": *\([0-9][0-9]*\).*/\1/p" "$OUT/run.json" | head -n 1
}


# ---------------------------------------------------------------- config
C=$T/cfg
base "$C/corpus"
printf 'the\nand\n' >"$C/stop.txt"
cfgcase() { # NAME CODE TEXT CONTENT (printf format)
	printf "$4" >"$C/$ncase.conf"
	run "$1" "$2" "$3" "$C/$ncase.conf"
}
h='[corpus]\ndir = corpus\nunit = document\n'
cfgcase "config: unknown section" 78 ".conf:6: unknown section [nosuch]" "$h[kmeans]\nk = 2\n[nosuch]\nx = 1\n"
cfgcase "config: unknown key with a hint" 78 ":6: unknown key 'restart' in [kmeans]; did you mean 'restarts'?" "$h[kmeans]\nk = 2\nrestart = 3\n"
cfgcase "config: unknown key, no hint" 78 ":6: unknown key 'frobnicate' in [kmeans]" "$h[kmeans]\nk = 2\nfrobnicate = 3\n"
cfgcase "config: duplicate key" 78 ":6: duplicate key 'k' in [kmeans] (first set on line 5)" "$h[kmeans]\nk = 2\nk = 3\n"
cfgcase "config: duplicate key across two [kmeans] headers" 78 "duplicate key 'k' in [kmeans]" "$h[kmeans]\nk = 2\n[kmeans]\nk = 3\n"
cfgcase "config: k is not a number" 78 ":5: [kmeans] k: 'abc' is not a whole number" "$h[kmeans]\nk = abc\n"
cfgcase "config: k with trailing junk" 78 "[kmeans] k: '2x'" "$h[kmeans]\nk = 2x\n"
cfgcase "config: max_df is not a number" 78 "[vocabulary] max_df: 'lots'" "$h[vocabulary]\nmax_df = lots\n[kmeans]\nk = 2\n"
cfgcase "config: enum value unknown" 78 "[kmeans] metric: 'manhattan' is not one of: cosine, euclidean" "$h[kmeans]\nk = 2\nmetric = manhattan\n"
cfgcase "config: k = 0" 78 "[kmeans] k: '0' is not a whole number from 1" "$h[kmeans]\nk = 0\n"
cfgcase "config: negative min_df" 78 "[vocabulary] min_df: '-1'" "$h[vocabulary]\nmin_df = -1\n[kmeans]\nk = 2\n"
cfgcase "config: max_df above 1" 78 "[vocabulary] max_df: '1.5' is not a number from" "$h[vocabulary]\nmax_df = 1.5\n[kmeans]\nk = 2\n"
cfgcase "config: max_df = nan" 78 "[vocabulary] max_df: 'nan'" "$h[vocabulary]\nmax_df = nan\n[kmeans]\nk = 2\n"
cfgcase "config: tol = inf" 78 "[kmeans] tol: 'inf'" "$h[kmeans]\nk = 2\ntol = inf\n"
cfgcase "config: k huge" 78 "[kmeans] k: '99999999999999999999'" "$h[kmeans]\nk = 99999999999999999999\n"
cfgcase "config: range k = 9..3" 78 "range '9..3' runs backwards; write 3..9" "$h[kmeans]\nk = 9..3\n"
cfgcase "config: range k = 3.." 78 "[kmeans] k: '3..'" "$h[kmeans]\nk = 3..\n"
cfgcase "config: range k = 2..3..4" 78 "[kmeans] k: '2..3..4'" "$h[kmeans]\nk = 2..3..4\n"
cfgcase "config: key before any section" 78 ".conf:1: key 'k' before any [section]" "k = 2\n$h"
cfgcase "config: a line that is not key = value" 78 ".conf:4: syntax error" "$h""just words\n"
cfgcase "config: unterminated section header" 78 ".conf:4: syntax error" "$h[kmeans\nk = 2\n"
cfgcase "config: preset with tf" 78 "preset" "$h[tfidf]\npreset = sklearn\ntf = log\n[kmeans]\nk = 2\n"
cfgcase "config: unknown stemmer" 78 "klingon" "$h[stem]\nlanguage = klingon\n[kmeans]\nk = 2\n"
cfgcase "config: empty corpus dir" 78 "[corpus] dir is empty" "[corpus]\ndir =\n"
cfgcase "config: min_length above max_length" 78 "min_length 9 is larger than max_length 3" "$h[tokenize]\nmin_length = 9\nmax_length = 3\n[kmeans]\nk = 2\n"
cfgcase "config: missing corpus folder" 66 "/nosuch: cannot open the corpus folder" "[corpus]\ndir = nosuch\n[kmeans]\nk = 2\n"
cfgcase "config: corpus dir is a file" 66 "stop.txt: [corpus] dir is not a folder" "[corpus]\ndir = stop.txt\n[kmeans]\nk = 2\n"
cfgcase "config: missing stop-word file" 66 "[tokenize] stopwords: cannot read" "$h[tokenize]\nstopwords = nosuch.txt\n[kmeans]\nk = 2\n"
cfgcase "config: missing boilerplate file" 66 "cannot read the [corpus] boilerplate file" "${h}boilerplate = nosuch.regex\n[kmeans]\nk = 2\n"
printf 'ok line\n(unclosed\n' >"$C/bad.regex"
cfgcase "config: bad boilerplate pattern names file:line" 78 "bad.regex:2: bad pattern '(unclosed'" "${h}boilerplate = bad.regex\n[kmeans]\nk = 2\n"
cfgcase "config: line of 300 bytes" 78 ".conf:5: line longer than" "$h[frames]\nlong = $(printf '%0290d' 0 | tr 0 x)\n"
# inih's line buffer is 200 bytes: 199 bytes (without the newline) fit.
cfgcase "config: line of 199 bytes is fine" 0 "" "$h[kmeans]\nk = 2\n# $(printf '%0197d' 0 | tr 0 x)\n"
cfgcase "config: line of 200 bytes is not" 78 ".conf:6: line longer than 199 bytes" "$h[kmeans]\nk = 2\n# $(printf '%0198d' 0 | tr 0 x)\n"
printf "$h[kmeans]\nk = 2\n" >"$C/nul.conf"
printf '; a comment with a NUL \000 byte\n' >>"$C/nul.conf"
run "config: NUL byte" 78 "nul.conf:6: NUL byte in the line" "$C/nul.conf"
run "config: missing config file" 66 "nosuch.conf: cannot read" "$C/nosuch.conf"
mkdir "$C/dir.conf"
run "config: config is a folder" 66 "dir.conf" "$C/dir.conf"
# A FIFO or a device where the config or a list file belongs fails at once
# (the build before waited on the FIFO for ever, and read /dev/zero until
# memory ran out: these run under timeout 60).
mkfifo "$C/fifo"
Pbare=$P P=$T/pl-timeout
printf '#!/bin/sh
exec timeout 60 "%s" "$@"
' "$Pbare" >"$P" && chmod +x "$P"
cfgcase "config: stop-word file a FIFO" 66 "stopwords: cannot read" "$h[tokenize]\nstopwords = fifo\n[kmeans]\nk = 2\n"
expect "config: stop-word file a FIFO: says what it is" "grep -qF 'not a regular file (a FIFO or a device)' '$T/stderr'"
cfgcase "config: stop-word file /dev/zero" 66 "'/dev/zero': not a regular file" "$h[tokenize]\nstopwords = /dev/zero\n[kmeans]\nk = 2\n"
cfgcase "config: boilerplate file a FIFO" 66 "boilerplate file: not a regular file" "${h}boilerplate = fifo\n[kmeans]\nk = 2\n"
# A list whose read fails is an I/O error, never a list cut short: /proc's
# files say 0 bytes and /proc/self/mem fails its first read with EIO.  And
# one that says 0 bytes and reads more than the limit (a list that grows
# while it is read) is refused as too large, not read on to its end.
cfgcase "config: stop-word file that fails to read" 74 "stopwords: cannot read '/proc/self/mem': Input/output error" "$h[tokenize]\nstopwords = /proc/self/mem\n[kmeans]\nk = 2\n"
cfgcase "config: boilerplate file that fails to read" 74 "boilerplate file: Input/output error" "${h}boilerplate = /proc/self/mem\n[kmeans]\nk = 2\n"
run "config: config that fails to read" 74 "/proc/self/mem: cannot read: Input/output error" /proc/self/mem
run "config: config a FIFO" 66 "fifo: cannot read: not a regular file" "$C/fifo"
run "config: config /dev/zero" 66 "/dev/zero: cannot read: not a regular file" /dev/zero
P=$Pbare
{ printf "$h[kmeans]\nk = 2\n"; yes '# padding' | head -c 1100000; } >"$C/big.conf"
run "config: a config over 1 MiB" 78 "big.conf: cannot read: 1100053 bytes, more than the 1048576" "$C/big.conf"
run "config: -c with a bad value" 78 "-c kmeans.k=x: [kmeans] k: 'x'" "$T/good.conf" -c kmeans.k=x
cfgcase "config: a phrase with no forms" 78 ".conf:5: [phrases] foo: no forms" "$h[phrases]\nfoo =\n[kmeans]\nk = 2\n"
cfgcase "config: a frame with no entries" 78 ".conf:5: [frames] foo: no entries" "$h[frames]\nfoo =\n[kmeans]\nk = 2\n"
cfgcase "config: a frame entry of stop words only" 78 "[frames] foo: entry 'the of' is only stop words" "$h[frames]\nfoo = the of\n[kmeans]\nk = 2\n"
cfgcase "config: 33 frames" 78 "[frames] has 33 frames; at most 32" "$h[frames]\n$(for i in $(seq 33); do printf 'f%d = word%d\\n' $i $i; done)\n"
cfgcase "config: an empty stopwords value" 78 "[tokenize] stopwords: empty value" "$h[tokenize]\nstopwords =\n[kmeans]\nk = 2\n"
cfgcase "config: an indented line continuing a key" 78 "indented continuation line" "$h[kmeans]\nk = 2\n  restarts = 3\n"
: >"$C/empty.stop"
cfgcase "config: an empty stop-word file (no stop words)" 0 "" "$h[tokenize]\nstopwords = empty.stop\n[kmeans]\nk = 2\n"
printf 'the\r\n\377\376junk\nof\n' >"$C/odd.stop"
cfgcase "config: a stop-word file with CRLF and invalid bytes" 0 "" "$h[tokenize]\nstopwords = odd.stop\n[kmeans]\nk = 2\n"
cfgcase "config: corpus dir with trailing slashes" 0 "" "[corpus]\ndir = corpus//\nunit = document\n[kmeans]\nk = 2\n"
expect "config: trailing slashes do not reach the file names" 'grep -q "^1	base1.txt	" "$OUT/docs.tsv"'
ncase=$((ncase + 1))
"$P" -q -c output.dir="$T/nosuch/out" run "$T/good.conf" >/dev/null 2>"$T/stderr"
got=$?
if [ "$got" -eq 73 ] && grep -qF "$T/nosuch/out" "$T/stderr" && [ ! -e "$T/nosuch" ]; then
	ok "config: output folder whose parent is missing"
else
	bad "config: output folder whose parent is missing" "exit $got, expected 73 naming the folder, nothing created"
fi
ln -s loop "$C/loop"
cfgcase "config: corpus dir is a link loop" 66 "loop: cannot open the corpus folder" "[corpus]\ndir = loop\n[kmeans]\nk = 2\n"
ln -s corpus "$C/corpuslink"
cfgcase "config: corpus dir is a link to a folder (followed)" 0 "" "[corpus]\ndir = corpuslink\nunit = document\n[kmeans]\nk = 2\n"
run "config: -c corpus.dir= (empty)" 78 "[corpus] dir is empty" "$T/good.conf" -c corpus.dir=
# Valid configs: defaults, a byte-order mark, CRLF line ends.
mkdir "$C/empty"
base "$C/empty/corpus"
echo "intelligence wiretap snowden leak" >"$C/empty/corpus/base4.txt"
: >"$C/empty/empty.conf"
run "config: empty file means every default" 0 "" "$C/empty/empty.conf"
expect "config: empty file reads [corpus] dir = corpus beside it" 'docs_has "$OUT" base4.txt'
cfgcase "config: UTF-8 byte-order mark" 0 "" "\357\273\277$h[kmeans]\nk = 2\n"
cfgcase "config: CRLF line ends" 0 "" "[corpus]\r\ndir = corpus\r\nunit = document\r\n[kmeans]\r\nk = 2\r\nmetric = euclidean\r\n"
expect "config: CRLF values read without the CR" 'grep -q "\"metric\": \"euclidean\"" "$OUT/run.json"'
# Unreadable files: root reads them anyway, so check before relying on it.
cp "$C/stop.txt" "$C/locked.txt"
chmod 000 "$C/locked.txt"
if cat "$C/locked.txt" >/dev/null 2>&1; then
	skip "config: unreadable stop-word file" "running as root: chmod 000 does not stop reading"
else
	cfgcase "config: unreadable stop-word file" 66 "locked.txt" "$h[tokenize]\nstopwords = locked.txt\n[kmeans]\nk = 2\n"
fi
base "$C/lockeddir"
chmod 000 "$C/lockeddir"
if ls "$C/lockeddir" >/dev/null 2>&1; then
	skip "config: unreadable corpus folder" "running as root: chmod 000 does not stop reading"
else
	cfgcase "config: unreadable corpus folder" 66 "lockeddir: cannot open folder" "[corpus]\ndir = lockeddir\n[kmeans]\nk = 2\n"
fi
chmod 755 "$C/lockeddir"

# ------------------------------------------------------------------ text
# textcase NAME CODE TEXT: run the corpus in $D (3 base files + whatever the
# case added) with k = 2.
n=0
newd() { n=$((n + 1)); D=$T/text$n; base "$D"; conf "$D.conf" "text$n"; }
textcase() { run "$1" "$2" "$3" "$D.conf"; }

newd; : >"$D/empty.txt"
textcase "text: empty file" 0 ""
expect "text: empty file is an unclustered statement" 'grep -q "empty.txt	NA	1	0	NA	NA" "$OUT/docs.tsv"'
newd; printf '  \n\t\n\r\n' >"$D/blank.txt"
textcase "text: blank lines only" 0 ""
newd; echo "the and of to which would could" >"$D/stop.txt"
textcase "text: a file of stop words only" 0 ""
expect "text: stop words only: the statement is NA" 'grep -q "stop.txt	NA	1	0	NA	NA" "$OUT/docs.tsv"'
# A boilerplate pattern tried on a 2 MiB line (a scraped page saved on
# one line) with its prefix every 97 bytes and no match: regexec tries it
# from every position, and the run took 23 s at 1 MiB, 4 times that at
# 2 MiB (a 100 MB line: days, holding the lock).  A line over 4096 bytes
# is text, never boilerplate: not tested, kept, even one that would match
# (credit.txt, which the pattern used to drop whole); a short credit line
# is still dropped.
newd
printf '# image credits\nPhoto: .*Getty Images\n' >"$D.regex"
conf "$D.conf" "text$n" "[corpus]" "boilerplate = $D.regex"
{ yes 'The foreign ministry spokesperson said the allegations were groundless. Photo: Reuters/AFP. ' |
	head -c 2097152 | tr -d '\n'; echo; } >"$D/page.txt"
{ yes 'Officials rejected the surveillance accusations. Photo: Reuters. ' |
	head -c 8192 | tr -d '\n'; echo 'Photo: staff / Getty Images'; } >"$D/credit.txt"
printf 'Photo: staff / Getty Images\nA statement about encryption.\n' >"$D/short.txt"
Pbare=$P P=$T/pl-timeout
textcase "text: a boilerplate pattern on a 2 MiB line: done at once" 0 ""
P=$Pbare
expect "text: lines over 4096 bytes are kept, the short credit line dropped" \
	'[ "$(report boilerplate_lines)" -eq 1 ] &&
	 awk -F "\t" "\$2 == \"page.txt\" && \$5 > 1000 { p = 1 } \$2 == \"credit.txt\" && \$5 > 100 { c = 1 } END { exit !(p && c) }" "$OUT/docs.tsv"'
newd; printf 'bad\300\257overlong encryption\n' >"$D/x.txt"
textcase "text: overlong C0 AF" 0 ""
expect "text: overlong bytes counted" '[ "$(report invalid_bytes)" -ge 2 ]'
newd; printf 'bad\355\240\200surrogate encryption\n' >"$D/x.txt"
textcase "text: surrogate ED A0 80" 0 ""
expect "text: surrogate bytes counted" '[ "$(report invalid_bytes)" -ge 1 ]'
newd; printf 'above \364\220\200\200 max and lone \200\277 continuation\n' >"$D/x.txt"
textcase "text: above U+10FFFF and lone continuation bytes" 0 ""
newd; printf 'truncated at the end \342\202' >"$D/x.txt"
textcase "text: sequence truncated at end of file" 0 ""
expect "text: truncated sequence counted" '[ "$(report invalid_bytes)" -ge 1 ]'
# A 3-byte character straddling offset 65536 (a read(2) or gzread block
# boundary): "€" is E2 82 AC, placed at offsets 65535..65537.
newd
{ head -c 65534 /dev/zero | tr '\0' ' '; printf 'x\342\202\254y word\n'; } >"$D/edge.txt"
textcase "text: 3-byte character across offset 65536" 0 ""
expect "text: no invalid bytes at the 64 KiB boundary" '[ "$(report invalid_bytes)" -eq 0 ]'
gzip -c "$D/edge.txt" >"$D/edge2.txt.gz"
textcase "text: the same across a gzip block boundary" 0 ""
expect "text: no invalid bytes at the gzip boundary" '[ "$(report invalid_bytes)" -eq 0 ]'
# A NUL among the first 8 KiB: no text (git's test for a binary file).
newd; printf 'nul\000bytes in\000 the encryption text\n\000\000\n' >"$D/nul.txt"
textcase "text: NUL bytes at the start: not text, 65" 65 "nul.txt: not text: a NUL byte at byte 4 of its text"
newd; head -c 100000 /bin/ls >"$D/binary.txt"
textcase "text: a binary file: 65 naming it" 65 "binary.txt: not text: a NUL byte"
newd; head -c 100000 /bin/ls | gzip -c >"$D/binary.txt.gz"
textcase "text: a gzip of a binary file: 65 naming it" 65 "binary.txt.gz: not text: a NUL byte"
# Further on, a NUL is read as a separator.
newd; { head -c 9000 /dev/zero | tr '\0' ' '; printf 'nul\000bytes in\000 the encryption text\n'; } >"$D/latenul.txt"
textcase "text: NUL bytes after the first 8 KiB: read as separators" 0 ""
expect "text: late NULs: the words are there" 'zcat "$OUT/terms.tsv.gz" | cut -f2 | grep -qx "nul"'
# UTF-16 with a byte-order mark (Windows' "Unicode" text) is decoded: the
# outputs equal those of the same text in UTF-8.
if command -v iconv >/dev/null 2>&1; then
	newd; printf 'Encryption backdoors \360\237\224\222 and surveillance.\n\nA second paragraph, caf\303\251.\n' >"$D/u8.txt"
	textcase "text: the UTF-8 reference" 0 ""
	cp "$OUT/terms.tsv.gz" "$T/u8.terms.gz"
	cut -f2- "$OUT/docs.tsv" | sed 's/u8[.]txt/X/' >"$T/u8.docs"
	newd; { printf '\377\376'; printf 'Encryption backdoors \360\237\224\222 and surveillance.\n\nA second paragraph, caf\303\251.\n' | iconv -f UTF-8 -t UTF-16LE; } >"$D/u8.txt"
	textcase "text: UTF-16LE with a byte-order mark" 0 ""
	expect "text: UTF-16LE: the same terms and statements as UTF-8" \
		'cmp -s "$OUT/terms.tsv.gz" "$T/u8.terms.gz" && cut -f2- "$OUT/docs.tsv" | sed "s/u8[.]txt/X/" | cmp -s - "$T/u8.docs"'
	expect "text: UTF-16LE: no invalid bytes" '[ "$(report invalid_bytes)" -eq 0 ]'
	newd; { printf '\376\377'; printf 'Encryption backdoors \360\237\224\222 and surveillance.\n\nA second paragraph, caf\303\251.\n' | iconv -f UTF-8 -t UTF-16BE; } >"$D/u8.txt"
	textcase "text: UTF-16BE with a byte-order mark" 0 ""
	expect "text: UTF-16BE: the same terms and statements as UTF-8" \
		'cmp -s "$OUT/terms.tsv.gz" "$T/u8.terms.gz" && cut -f2- "$OUT/docs.tsv" | sed "s/u8[.]txt/X/" | cmp -s - "$T/u8.docs"'
	newd; printf 'Encryption backdoors and surveillance.\n' | iconv -f UTF-8 -t UTF-16LE >"$D/nobom.txt"
	textcase "text: UTF-16 without a byte-order mark: 65, says so" 65 "UTF-16 or UTF-32 text without a byte-order mark"
	newd; { printf '\377\376\000\000'; printf 'Encryption backdoors.\n' | iconv -f UTF-8 -t UTF-32LE; } >"$D/u32.txt"
	textcase "text: UTF-32 with a byte-order mark: 65, says so" 65 "u32.txt: UTF-32 text (its byte-order mark says so) is not read"
fi
# An unpaired surrogate (D800 then a letter) and an odd last byte.
newd; printf '\377\376e\000n\000\000\330c\000r\000y\000p\000t\000 \000w\000o\000r\000d\000\n\000x' >"$D/bad16.txt"
textcase "text: UTF-16 with an unpaired surrogate and an odd last byte" 0 ""
expect "text: their bytes counted as invalid (2 + 1)" '[ "$(report invalid_bytes)" -eq 3 ]'

newd; head -c 1000000 /dev/zero | tr '\0' a >"$D/long.txt"
textcase "text: a token of a million letters" 0 ""
expect "text: the million-letter token counted as long" '[ "$(report long_tokens)" -eq 1 ]'
newd; head -c 1000000 /dev/zero | tr '\0' '-' >"$D/dashes.txt"
textcase "text: a million hyphens" 0 ""
newd; awk 'BEGIN { for (i = 0; i < 200000; i++) printf "\n"; print "late word" }' >"$D/lines.txt"
textcase "text: 200000 blank lines then a word" 0 ""
expect "text: its line number" 'grep -q "lines.txt	NA	200001	" "$OUT/docs.tsv"'
# One line of words: 200 MB, or 50 MB on a machine with fewer than 4
# cores (a 200 MB line takes about 16 s and 1 GB on 2 busy cores).
mb=200
[ "$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)" -ge 4 ] || mb=50
newd
yes 'word' | head -c $((mb * 1000000)) | tr '\n' ' ' >"$D/huge.txt"
start=$(date +%s)
textcase "text: one $mb MB line" 0 ""
secs=$(($(date +%s) - start))
expect "text: one $mb MB line in under 20 s (took ${secs} s)" '[ "$secs" -lt 20 ]'
rm -f "$D/huge.txt"
# Odd file names.
newd
echo "name with spaces" >"$D/with space.txt"
echo "name with quotes" >"$D/it's \"quoted\".txt"
echo "name with a newline" >"$D/new
line.txt"
echo "name with a tab" >"$D/tab	name.txt"
echo "name with a leading dash" >"$D/-dash.txt"
echo "name in utf-8" >"$D/été.txt"
echo "name with a backslash" >"$D/back\\slash.txt"
textcase "names: spaces, quotes, newline, tab, dash, UTF-8, backslash" 0 ""
expect "names: all 10 statements listed" '[ "$(wc -l <"$OUT/docs.tsv")" -eq 11 ]'
expect "names: newline escaped in docs.tsv" 'docs_has "$OUT" "new\\nline.txt"'
expect "names: tab escaped in docs.tsv" 'docs_has "$OUT" "tab\\tname.txt"'
expect "names: backslash escaped in docs.tsv" 'docs_has "$OUT" "back\\\\slash.txt"'
newd
echo "latin one name" >"$D/$(printf 'caf\351').txt"
textcase "names: invalid UTF-8 bytes in a file name" 0 ""
# Symbolic links.
newd
mkdir "$T/elsewhere"
echo "linked statement about wiretap" >"$T/elsewhere/target.txt"
echo "statement in a linked folder" >"$T/elsewhere/infolder.txt"
ln -s "$T/elsewhere/target.txt" "$D/link.txt"
ln -s "$T/elsewhere" "$D/folderlink"
ln -s "$D/loop1.txt" "$D/loop2.txt"
ln -s "$D/loop2.txt" "$D/loop1.txt"
ln -s "$D/self.txt" "$D/self.txt"
mkdir "$D/sub"
ln -s .. "$D/sub/up"
ln -s "$T/nosuch.txt" "$D/dangling.txt"
textcase "links: to a file, a folder, loops, dangling" 0 ""
expect "links: a link to a file is read" 'docs_has "$OUT" link.txt'
expect "links: a link to a folder is not followed" '! docs_has "$OUT" infolder.txt'
expect "links: loops and dangling links skipped" '[ "$(wc -l <"$OUT/docs.tsv")" -eq 5 ]'
newd
echo "statement in a hidden file" >"$D/.hidden.txt"
echo "not a txt file" >"$D/notes.md"
mkdir "$D/folder.txt"
echo "nested statement" >"$D/folder.txt/inner.txt"
textcase "names: hidden files and other suffixes skipped, a folder named .txt walked" 0 ""
expect "names: exactly the base files and inner.txt" '[ "$(wc -l <"$OUT/docs.tsv")" -eq 5 ] && docs_has "$OUT" folder.txt/inner.txt'
newd
mkfifo "$D/fifo.txt"
ln -s /dev/zero "$D/zero.txt"
textcase "names: a FIFO and a link to a device named *.txt are skipped, no hang" 0 ""
expect "names: neither is a statement" '[ "$(wc -l <"$OUT/docs.tsv")" -eq 4 ]'
newd
deep=$D
for i in $(seq 70); do deep=$deep/d; done
mkdir -p "$deep"
echo "deep down" >"$deep/deep.txt"
textcase "names: folders nested 70 deep" 65 "folders nested deeper than 64"
# Out of file descriptors (ulimit -n 16; the walk holds a folder open at
# each level of 30): 71, a resource of the system, not 66 as though the
# corpus were missing; the message says which limit.
newd
deep=$D
for i in $(seq 30); do deep=$deep/d$i; mkdir "$deep"; echo "level $i text" >"$deep/f.txt"; done
Pbare=$P P=$T/pl-fd16
printf '#!/bin/sh\nulimit -n 16\nexec "%s" "$@"\n' "$Pbare" >"$P" && chmod +x "$P"
textcase "names: out of file descriptors: 71, not 66" 71 "Too many open files (raise the limit: ulimit -n)"
P=$Pbare
# Paragraphs: CRLF text, lines of only CR or spaces between paragraphs.
newd
printf 'first paragraph encryption\r\nstill first\r\n\r\nsecond paragraph wiretap\r\n \t\r\nthird paragraph hypocrisy\r\n' >"$D/crlf.txt"
run "paragraphs: CRLF text and blank lines of CR, space, tab" 0 "" "$D.conf" -c corpus.unit=paragraph
expect "paragraphs: three of them, at lines 1, 4 and 6" 'grep -q "crlf.txt	1	1	" "$OUT/docs.tsv" && grep -q "crlf.txt	2	4	" "$OUT/docs.tsv" && grep -q "crlf.txt	3	6	" "$OUT/docs.tsv"'
newd
awk 'BEGIN { for (i = 0; i < 50000; i++) printf "paragraph %d about encryption\n\n", i }' >"$D/many.txt"
run "paragraphs: 50000 in one file" 0 "" "$D.conf" -c corpus.unit=paragraph
newd; cp "$D/base1.txt" "$D/locked.txt"; chmod 000 "$D/locked.txt"
if cat "$D/locked.txt" >/dev/null 2>&1; then
	skip "text: unreadable file" "running as root: chmod 000 does not stop reading"
else
	textcase "text: unreadable file" 66 "locked.txt: cannot read"
fi
chmod 644 "$D/locked.txt"
# A folder that can be listed but not searched (mode 644): its files are
# found but cannot be stat'ed.  That fails the run naming the file; it
# must not drop them from the outputs without a word.  Root reads through
# any mode, so as root the run goes without the capabilities that allow
# it (setpriv, util-linux).
newd; mkdir "$D/sub"; cp "$D/base1.txt" "$D/sub/inside.txt"; chmod 644 "$D/sub"
PREAL=$P
if [ "$(id -u)" -eq 0 ]; then
	if command -v setpriv >/dev/null 2>&1 &&
		setpriv --bounding-set=-dac_override,-dac_read_search --inh-caps=-all true 2>/dev/null; then
		printf '#!/bin/sh\nexec setpriv --bounding-set=-dac_override,-dac_read_search --inh-caps=-all "%s" "$@"\n' \
			"$PREAL" >"$T/nodac"
		chmod 755 "$T/nodac"
		P=$T/nodac
	else
		P=
	fi
fi
if [ -n "$P" ]; then
	textcase "text: a folder that lists but cannot be searched" 66 "sub/inside.txt: cannot stat: Permission denied"
else
	skip "text: a folder that lists but cannot be searched" "running as root without setpriv"
fi
P=$PREAL
chmod 755 "$D/sub"

# ------------------------------------------------------------------ gzip
printf 'zebra member about encryption\n' | gzip -c >"$T/a.gz"
printf 'quokka member about espionage\n' | gzip -c >"$T/b.gz"
size=$(wc -c <"$T/a.gz")
newd; head -c $((size - 5)) "$T/a.gz" >"$D/trunc.txt.gz"
textcase "gzip: truncated" 65 "trunc.txt.gz: corrupt gzip data"
run "gzip: truncated, read by 3 threads" 65 "trunc.txt.gz: corrupt gzip data" "$D.conf" -c run.threads=3
newd; head -c 12 "$T/a.gz" >"$D/trunc.txt.gz"
textcase "gzip: only a header" 65 "trunc.txt.gz: corrupt gzip data"
newd
# Flip the last byte of the CRC-32 (offset size - 5).
{ head -c $((size - 5)) "$T/a.gz"; tail -c 5 "$T/a.gz" | head -c 1 | tr '\000-\377' '\001-\377\000'; tail -c 4 "$T/a.gz"; } >"$D/crc.txt.gz"
textcase "gzip: bad CRC" 65 "crc.txt.gz: corrupt gzip data"
newd
{ head -c $((size - 1)) "$T/a.gz"; tail -c 1 "$T/a.gz" | tr '\000-\377' '\001-\377\000'; } >"$D/len.txt.gz"
textcase "gzip: bad length in the trailer" 65 "len.txt.gz: corrupt gzip data"
newd; { cat "$T/a.gz"; printf 'trailing garbage'; } >"$D/trail.txt.gz"
textcase "gzip: trailing garbage after the member is ignored, as zlib does" 0 ""
expect "gzip: the garbage is not read as text" '! zcat "$OUT/terms.tsv.gz" | grep -q garbag'
newd; cat "$T/a.gz" "$T/b.gz" >"$D/multi.txt.gz"
textcase "gzip: two members" 0 ""
expect "gzip: both members read" 'zcat "$OUT/terms.tsv.gz" | grep -q "	zebra	" && zcat "$OUT/terms.tsv.gz" | grep -q "	quokka	"'
newd; echo "plain text in a gz name" >"$D/plain.txt.gz"
textcase "gzip: a .txt.gz that is not gzip" 65 "plain.txt.gz: not gzip data"
newd; : >"$D/zero.txt.gz"
textcase "gzip: an empty .txt.gz" 65 "zero.txt.gz: not gzip data"
newd; printf '' | gzip -c >"$D/emptymember.txt.gz"
textcase "gzip: a gzip file of nothing" 0 ""
# A decompression bomb: 300 MB of zeros, about 300 KB compressed.
newd
head -c 300000000 /dev/zero | gzip -1 >"$D/bomb.txt.gz"
conf "$D.conf" "text$n" "[corpus]" "max_file_mb = 16"
start=$(date +%s)
if [ $HAVE_TIME = 1 ]; then
	ncase=$((ncase + 1))
	OUT=$T/out.$ncase
	cp -p -R "$T/ref" "$OUT"
	/usr/bin/time -f %M -o "$T/rss" "$P" -q -c output.dir="$OUT" run "$D.conf" 2>"$T/stderr"
	got=$?
	secs=$(($(date +%s) - start))
	rss=$(tail -n 1 "$T/rss")
	why=
	[ "$got" -eq 65 ] || why="exit $got, expected 65"
	grep -qF "bomb.txt.gz: larger than [corpus] max_file_mb = 16 MiB (after decompression)" "$T/stderr" ||
		why="${why:+$why; }stderr lacks the file and the limit"
	w=$(same_as_ref "$OUT")
	[ -z "$w" ] || why="${why:+$why; }previous outputs: $w"
	if [ -z "$why" ]; then ok "gzip: 300 MB bomb, max_file_mb = 16"; else bad "gzip: 300 MB bomb, max_file_mb = 16" "$why"; fi
	expect "gzip: bomb stopped in under 5 s (took $secs s)" '[ "$secs" -lt 5 ]'
	expect "gzip: bomb stopped under 100 MB of memory (max RSS $rss KB)" '[ "$rss" -lt 100000 ]'
else
	textcase "gzip: 300 MB bomb, max_file_mb = 16" 65 "bomb.txt.gz: larger than [corpus] max_file_mb = 16 MiB"
	skip "gzip: bomb memory" "no /usr/bin/time"
fi
rm -f "$D/bomb.txt.gz"
newd; head -c 17000000 /dev/zero | tr '\0' a >"$D/big.txt"
conf "$D.conf" "text$n" "[corpus]" "max_file_mb = 16"
textcase "text: plain file over max_file_mb" 65 "big.txt: larger than [corpus] max_file_mb = 16 MiB"
rm -f "$D/big.txt"

# ---------------------------------------------------------- corpus level
mkdir "$T/none"
conf "$T/none.conf" none
run "corpus: empty folder" 66 "no *.txt or *.txt.gz files in the corpus folder" "$T/none.conf"
mkdir "$T/other"
echo "x" >"$T/other/a.md"
conf "$T/other.conf" other
run "corpus: no .txt files" 66 "no *.txt or *.txt.gz files" "$T/other.conf"
run "corpus: fewer statements than k" 65 "k = 5 is larger than" "$T/good.conf" -c kmeans.k=5
run "corpus: k range past the statements stops there" 0 "" "$T/good.conf" -c kmeans.k=2..9
mkdir "$T/same"
for i in 1 2 3 4; do echo "encryption backdoor surveillance" >"$T/same/s$i.txt"; done
conf "$T/same.conf" same
run "corpus: every statement identical, cosine" 0 "" "$T/same.conf"
run "corpus: every statement identical, euclidean" 0 "" "$T/same.conf" -c kmeans.metric=euclidean
run "corpus: every statement identical, sweep 2..4" 0 "" "$T/same.conf" -c kmeans.k=2..4
run "corpus: every statement identical, select davies_bouldin" 0 "" "$T/same.conf" -c kmeans.k=2..3 -c kmeans.select=davies_bouldin
run "corpus: every statement identical, idf = log2 (all weights 0)" 65 "no statement has a non-zero TF-IDF weight" "$T/same.conf" -c tfidf.idf=log2
mkdir "$T/one"
for i in 1 2 3; do echo "encryption" >"$T/one/o$i.txt"; done
echo "encryption encryption" >"$T/one/o4.txt"
conf "$T/one.conf" one
run "corpus: one-term vocabulary, k = 1" 0 "" "$T/one.conf" -c kmeans.k=1
run "corpus: one-term vocabulary, k = 2" 0 "" "$T/one.conf"
run "corpus: one-term vocabulary, euclidean k = 2" 0 "" "$T/one.conf" -c kmeans.metric=euclidean -c tfidf.norm=none
mkdir "$T/empties"
for i in 1 2 3; do : >"$T/empties/e$i.txt"; done
conf "$T/empties.conf" empties
run "corpus: every file empty, unit = document" 65 "empties: no terms: every statement is empty" "$T/empties.conf"
run "corpus: every file empty, unit = paragraph" 65 "no statements" "$T/empties.conf" -c corpus.unit=paragraph
base "$T/mixed"
for i in 1 2 3; do : >"$T/mixed/e$i.txt"; done
conf "$T/mixed.conf" mixed
run "corpus: unit = document with empty files" 0 "" "$T/mixed.conf"
mkdir "$T/stops"
for i in 1 2 3; do echo "the of and which" >"$T/stops/s$i.txt"; done
conf "$T/stops.conf" stops
run "corpus: every file only stop words" 65 "stops: no terms: every statement is empty, or only stop words" "$T/stops.conf"
run "corpus: every term pruned by min_df" 65 "no terms left" "$T/good.conf" -c vocabulary.min_df=100
run "corpus: every term pruned by max_df" 65 "no terms left" "$T/same.conf" -c vocabulary.max_df=0.5
run "corpus: k above the statements that still have terms" 65 "k = 3 is larger than" "$T/mixed.conf" -c kmeans.k=3 -c vocabulary.min_df=2

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ] || exit 1
exit 0
