#!/bin/sh
# bench_rerun_ab.sh -- two builds on the same rerun, alternated
#
# usage: sh tests/bench_rerun_ab.sh OLD NEW [PAIRS]     (PAIRS defaults to 6)
#
# For a change to the rerun path: its wall time moves by less than this
# shared machine does between two runs, so a change is judged on runs of
# the two builds taken in turn, on the same saved state.  On the ~520 MB
# corpus of tests/bench_incremental.sh (BENCH_DIR, default
# $TMPDIR/corpora), with tests/bench.conf and [output] tfidf_matrix = no:
#   - one full run by OLD into a base folder, which is then left alone;
#   - PAIRS times, OLD then NEW: a copy of the base, the 1% new files
#     moved in, a rerun into the copy (GNU time), the new files moved out.
# Prints each rerun (wall, user and system seconds, max RSS, the
# run.json seconds of read, kmeans and project, and the projection's
# iterations), then per build the
# median and range of wall time and the median of each stage.
#
# Both builds must read the same cache (the same program version and
# format), or the rerun reads every file: the script stops if a rerun did
# anything but read the new files.  The base is made here, once, because
# a saved one goes stale: a hard link made to a corpus file (as
# bench_incremental.sh makes, `cp -l`) moves that file's ctime, and a
# rerun then hashes every file whose ctime moved (stages/read.c,
# read_plan) -- on this corpus, 520 MB read and hashed on top of the
# rerun, which hides what a change does.
set -eu
[ $# -ge 2 ] || { echo "usage: sh tests/bench_rerun_ab.sh OLD NEW [PAIRS]" >&2; exit 2; }
top=$(cd "$(dirname "$0")/.." && pwd)
abs() { case $1 in /*) echo "$1" ;; *) echo "$(pwd)/$1" ;; esac; }
old=$(abs "$1")
new=$(abs "$2")
pairs=${3:-6}
bdir=${BENCH_DIR:-${TMPDIR:-/tmp}/corpora}
py=/usr/bin/python3
[ -x "$py" ] || py=python3
for b in "$old" "$new"; do
	[ -x "$b" ] || { echo "bench_rerun_ab: $b: not an executable" >&2; exit 1; }
done
[ -x /usr/bin/time ] || { echo "bench_rerun_ab: needs GNU time (apt-get install time)" >&2; exit 1; }
[ -d "$bdir/big" ] || {
	echo "bench_rerun_ab: no corpus in $bdir/big (sh tests/bench_incremental.sh builds it)" >&2
	exit 1
}
work=$(mktemp -d "${TMPDIR:-/tmp}/pipeline-ab.XXXXXX")
trap 'rm -rf "$work"' EXIT

# The corpus and the 1% new files, as bench_incremental.sh makes them.
. "$top/tests/bench_corpus.sh"
rerun_corpus "$bdir/big" "$work"
conf="$top/tests/bench.conf"
set -- -q -c corpus.dir="$work/corpus" -c output.tfidf_matrix=no
# A second after the links, so that the full run hashes no file in the
# second of its last change (read_plan's "racily clean" files).
sleep 1
"$old" "$@" -c output.dir="$work/base" run "$conf"

# rerun BIN LABEL: one rerun from a copy of the base; a line of figures
# appended to $work/t.LABEL.
rerun() {
	rm -rf "$work/out"
	cp -a "$work/base" "$work/out"
	mv "$work/new" "$work/corpus/new"
	/usr/bin/time -f '%e %U %S %M' -o "$work/time" "$1" -c corpus.dir="$work/corpus" \
		-c output.tfidf_matrix=no -c output.dir="$work/out" run "$conf" \
		2>"$work/stderr" || {
		mv "$work/corpus/new" "$work/new"
		echo "bench_rerun_ab: $1 failed:" >&2
		cat "$work/stderr" >&2
		exit 1
	}
	mv "$work/corpus/new" "$work/new"
	grep -q "$nnew new, 0 changed, 0 removed, $n unchanged" "$work/stderr" || {
		echo "bench_rerun_ab: $1 did not read just the new files:" >&2
		cat "$work/stderr" >&2
		exit 1
	}
	line="$(tail -n 1 "$work/time") $("$py" -c 'import json, sys
j = json.load(open(sys.argv[1]))
s = j["seconds"]
print("%.3f %.3f %.3f %d" % (s["read"], s["kmeans"], s["project"], j["project"]["iterations"]))' "$work/out/run.json")"
	echo "$line" >>"$work/t.$2"
	echo "$2 $line"
}

echo "bench_rerun_ab: $n files + $nnew new; load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "build wall user sys maxrss_kB read kmeans project iterations"
i=1
while [ "$i" -le "$pairs" ]; do
	rerun "$old" old
	rerun "$new" new
	i=$((i + 1))
done
echo "median (min-max) of $pairs; load $(cut -d' ' -f1-3 /proc/loadavg) after"
for b in old new; do
	"$py" -c 'import sys, statistics as st
rows = [list(map(float, l.split())) for l in open(sys.argv[1])]
col = lambda j: [r[j] for r in rows]
w = col(0)
print("%s wall %.2f (%.2f-%.2f) user %.2f sys %.2f read %.3f kmeans %.3f project %.3f (%g iterations)"
      % (sys.argv[2], st.median(w), min(w), max(w), st.median(col(1)), st.median(col(2)),
         st.median(col(4)), st.median(col(5)), st.median(col(6)), st.median(col(7))))' "$work/t.$b" "$b"
done
