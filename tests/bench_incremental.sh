#!/bin/sh
# bench_incremental.sh -- a full run against incremental reruns, ~520 MB
#
# usage: sh tests/bench_incremental.sh [RUNS]     (RUNS defaults to 3)
#
# On the ~520 MB scale-up corpus of tests/bench.sh (BENCH_DIR, default
# $TMPDIR/corpora; built with ../shared/bench/corpora.sh when missing), with
# the settings of tests/bench.sh (documents, scikit-learn's tokenizer,
# min_df 2, max_df 0.95, k = 20, one restart, euclidean), RUNS times:
#   full       a run into a fresh output folder (writing the cache);
#   rerun +1%  the same folder after adding 1% more files (copies of
#              existing ones with one line added, so new content);
#   no change  the same folder again, nothing new.
# big/ is never modified: the corpus read is a folder of links to big/'s
# files plus a subfolder of the new files, moved in and out.
# Twice: with tests/bench.conf as it is (tfidf.mtx.gz written), then with
# [output] tfidf_matrix = no (the weights as their factors only, which a
# rerun does not rewrite in full).  Each prints the medians of wall time
# (GNU time %e), the ratios to the full run (goals: rerun +1% <= 10%, no
# change <= 2%) and the median max RSS, then the stage seconds of the last
# rerun (run.json); then the load average.
# Timings vary with the machine and its load: compare ratios, not seconds.
# PIPELINE names the binary (default bin/pipeline).
set -eu
runs=${1:-3}
top=$(cd "$(dirname "$0")/.." && pwd)
shared=${SHARED:-$top/../shared}
bdir=${BENCH_DIR:-${TMPDIR:-/tmp}/corpora}
bin=${PIPELINE:-$top/bin/pipeline}
case $bin in /*) ;; *) bin=$(pwd)/$bin ;; esac
py=/usr/bin/python3
[ -x "$py" ] || py=python3

[ -x "$bin" ] || { echo "bench_incremental: build first (make)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "bench_incremental: needs GNU time (apt-get install time)" >&2; exit 1; }
if [ ! -d "$bdir/big" ] || [ "$(ls "$bdir/big" | wc -l)" -lt 90000 ]; then
	echo "bench_incremental: building corpora in $bdir" >&2
	sh "$shared/bench/corpora.sh" "$bdir" >&2
fi
bdir=$(cd "$bdir" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/pipeline-benchinc.XXXXXX")
trap 'rm -rf "$work"' EXIT

load() { cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || uptime; }
echo "bench_incremental: load average $(load) on $(nproc) cores before"

# The corpus, and 1% new files kept aside until a rerun needs them.
. "$top/tests/bench_corpus.sh"
rerun_corpus "$bdir/big" "$work"
echo "bench_incremental: $n files, $(ls "$work/new" | wc -l) new ones for the rerun"

cp "$top/tests/bench.conf" "$work/bench.conf"

# one LABEL: run once into $work/out with $extra, append "seconds rss_kB"
# to $work/LABEL
one() {
	/usr/bin/time -f '%e %M' -o "$work/time" "$bin" \
		-c corpus.dir="$work/corpus" -c output.dir="$work/out" $extra \
		run "$work/bench.conf" 2>"$work/stderr" || {
		echo "bench_incremental: the $1 run failed:" >&2
		cat "$work/stderr" "$work/time" >&2
		exit 1
	}
	tail -n 1 "$work/time" >>"$work/$1"
}

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# bench NAME OPTION...: the three cases, $runs rounds, with the options
# (-c key=value) on every run, then the table.
bench() {
	name=$1
	shift
	extra="$*"
	: >"$work/full"
	: >"$work/rerun"
	: >"$work/same"
	i=1
	while [ $i -le "$runs" ]; do
		rm -rf "$work/out"
		[ ! -d "$work/corpus/new" ] || mv "$work/corpus/new" "$work/new"
		one full
		mv "$work/new" "$work/corpus/new"
		one rerun
		grep -q "$nnew new, 0 changed, 0 removed, $n unchanged" "$work/stderr" || {
			echo "bench_incremental: the rerun did not read just the new files:" >&2
			cat "$work/stderr" >&2
			exit 1
		}
		cp "$work/out/run.json" "$work/rerun.json"
		rows=$(($(wc -l <"$work/out/docs.tsv") - 1))
		[ "$rows" -eq $((n + nnew)) ] || {
			echo "bench_incremental: the rerun has $rows statements, not $((n + nnew))" >&2
			exit 1
		}
		one same
		grep -q 'nothing new since run' "$work/stderr" || {
			echo "bench_incremental: the run with nothing new did something:" >&2
			cat "$work/stderr" >&2
			exit 1
		}
		echo "bench_incremental: $name round $i: full $(cut -d' ' -f1 "$work/full" | tail -n 1) s," \
			"rerun $(cut -d' ' -f1 "$work/rerun" | tail -n 1) s," \
			"no change $(cut -d' ' -f1 "$work/same" | tail -n 1) s; load $(load)"
		i=$((i + 1))
	done
	ft=$(cut -d' ' -f1 "$work/full" | median)
	printf '\n%s (%s)\n' "$name" "${extra:-tests/bench.conf as it is}"
	printf '%-10s %9s %9s %9s %8s %8s %9s\n' case median_s min_s max_s ratio goal maxrss_MB
	for c in full rerun same; do
		case $c in
		full) label=full goal=- ;;
		rerun) label="rerun +1%" goal="<= 0.10" ;;
		same) label="no change" goal="<= 0.02" ;;
		esac
		t=$(cut -d' ' -f1 "$work/$c" | median)
		lo=$(cut -d' ' -f1 "$work/$c" | sort -g | head -n 1)
		hi=$(cut -d' ' -f1 "$work/$c" | sort -g | tail -n 1)
		rss=$(cut -d' ' -f2 "$work/$c" | median)
		printf '%-10s %9.2f %9.2f %9.2f %8.3f %8s %9.0f\n' "$label" "$t" "$lo" "$hi" \
			"$(echo "$t / $ft" | bc -l)" "$goal" "$(echo "$rss / 1024" | bc -l)"
	done
	echo "medians of $runs runs; $n files + $nnew new; $(nproc) cores; $(uname -m); $(date -u +%Y-%m-%d)"
	echo "the last rerun's stages (run.json seconds): $($py -c 'import json, sys
d = json.load(open(sys.argv[1]))
print(", ".join("%s %.2f" % kv for kv in d["seconds"].items()))' "$work/rerun.json")"
	echo
}

# The weights as a matrix (the default), then as their factors only,
# which is what a rerun can avoid rewriting (README, Scheduled reruns).
bench matrix
bench factors -c output.tfidf_matrix=no
echo "bench_incremental: load average $(load) after"
