#!/bin/sh
# bench.sh -- pipeline against scikit-learn on the same corpora, same job
#
# usage: sh tests/bench.sh [RUNS]        (make bench; RUNS defaults to 3)
#
# Builds the benchmark corpora with ../shared/bench/corpora.sh when they are
# missing (BENCH_DIR, default $TMPDIR/corpora), then for the SpamAssassin
# corpus and for 1/16, 1/4 and all of the ~520 MB scale-up runs
# pipeline and ../shared/bench/peer_sklearn.py --stem RUNS times each with
# the same settings: documents as units, scikit-learn's tokenizer
# (tokenize.pattern = sklearn: str.lower() and (?u)\b\w\w+\b), English
# stop words and Snowball stemming, min_df 2, max_df 0.95, k = 20, one
# k-means++ restart, Lloyd (euclidean).  With the same tokenizer both
# build the same matrix, so the k-means objectives are comparable.
# Prints medians and the ratios the project's goals are stated in (and
# each run's own figures on stderr, "bench: LABEL run I: ..."):
#   tfidf x   = peer (read + TF-IDF) seconds / ours (run.json
#               wall_seconds.to_tfidf: reading to TF-IDF, all threads)
#   iter x    = peer k-means seconds per iteration / ours (run.json
#               kmeans.fit_seconds / iterations_all_restarts: the fit
#               alone, without the quality figures of ksweep.tsv)
#   obj       = our k-means objective / peer inertia (<= 1.01 is the goal)
#   rss %     = our max RSS / peer max RSS (both measured by GNU time)
# Timings vary with the machine and its load: compare ratios from one run
# of this script, never absolute seconds across machines.
set -eu
runs=${1:-3}
top=$(cd "$(dirname "$0")/.." && pwd)
shared=${SHARED:-$top/../shared}
bdir=${BENCH_DIR:-${TMPDIR:-/tmp}/corpora}
bin=$top/bin/pipeline
py=/usr/bin/python3
peer=$shared/bench/peer_sklearn.py
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

[ -x "$bin" ] || { echo "bench: build first (make)" >&2; exit 1; }
[ -f "$peer" ] || { echo "bench: $peer not found (set SHARED)" >&2; exit 1; }
if [ ! -d "$bdir/spam" ] || [ ! -d "$bdir/big" ] || \
   [ "$(ls "$bdir/big" | wc -l)" -lt 90000 ]; then
	echo "bench: building corpora in $bdir" >&2
	sh "$shared/bench/corpora.sh" "$bdir" >&2
fi

# Subsets of big/ as folders of symbolic links (pipeline follows links to
# files; peer_sklearn.py opens them by name).
mksub() { # name fraction-denominator
	d=$work/$1
	mkdir -p "$d"
	ls "$bdir/big" | grep '\.txt$' | awk -v n="$2" 'NR % n == 1' |
		while read -r f; do ln -s "$bdir/big/$f" "$d/$f"; done
	echo "$d"
}

median() { sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

cp "$top/tests/bench.conf" "$work/bench.conf"

printf '%-8s %7s %6s | %8s %8s %7s | %9s %9s %6s | %6s | %8s %8s %6s\n' \
	corpus docs MB ours_s peer_s tfidf_x ours_it peer_it iter_x obj \
	ours_MB peer_MB rss_%
bench_one() { # label dir
	label=$1 dir=$2
	: > "$work/ours" ; : > "$work/peer"
	i=0
	while [ $i -lt "$runs" ]; do
		rm -rf "$work/out"
		/usr/bin/time -f '%M' -o "$work/rss" "$bin" -q \
			-c corpus.dir="$dir" -c output.dir="$work/out" \
			run "$work/bench.conf"
		$py -c 'import json, sys
d = json.load(open(sys.argv[1])); s = d["seconds"]
k = d["kmeans"]
print(d["wall_seconds"]["to_tfidf"], k["fit_seconds"], k["iterations_all_restarts"],
      k["objective"], sys.argv[2])' \
			"$work/out/run.json" "$(cat "$work/rss")" >> "$work/ours"
		/usr/bin/time -f '%M' -o "$work/prss" $py "$peer" "$dir" 20 --stem > "$work/p.txt"
		pt=$(echo "$(grep '^read_s' "$work/p.txt" | cut -d' ' -f2) + $(grep '^tfidf_s' "$work/p.txt" | cut -d' ' -f2)" | bc -l)
		echo "$pt $(grep '^kmeans_s' "$work/p.txt" | cut -d' ' -f2) $(grep '^kmeans_iter' "$work/p.txt" | cut -d' ' -f2) $(grep '^inertia' "$work/p.txt" | cut -d' ' -f2) $(cat "$work/prss")" >> "$work/peer"
		i=$((i + 1))
		# Each run's figures, for the spread behind the medians.
		echo "$label $i $(tail -n 1 "$work/ours") $(tail -n 1 "$work/peer")" |
			awk '{printf "bench: %s run %s: ours %.2f s, peer %.2f s, tfidf x %.1f; k-means s/iter ours %.4f, peer %.4f; RSS MB ours %.0f, peer %.0f\n",
				$1, $2, $3, $8, $8 / $3, $4 / $5, $9 / $10, $7 / 1024, $12 / 1024}' >&2
	done
	ot=$(cut -d' ' -f1 "$work/ours" | median)
	pt=$(cut -d' ' -f1 "$work/peer" | median)
	oit=$(awk '{print $2/$3}' "$work/ours" | median)
	pit=$(awk '{print $2/$3}' "$work/peer" | median)
	oobj=$(cut -d' ' -f4 "$work/ours" | median)
	pobj=$(cut -d' ' -f4 "$work/peer" | median)
	orss=$(cut -d' ' -f5 "$work/ours" | median)
	prss=$(cut -d' ' -f5 "$work/peer" | median)
	docs=$(grep '^docs' "$work/p.txt" | cut -d' ' -f2)
	mb=$(echo "$(grep '^bytes' "$work/p.txt" | cut -d' ' -f2) / 1000000" | bc -l)
	printf '%-8s %7d %6.0f | %8.2f %8.2f %7.1f | %9.4f %9.4f %6.1f | %6.3f | %8.0f %8.0f %6.1f\n' \
		"$label" "$docs" "$mb" "$ot" "$pt" "$(echo "$pt / $ot" | bc -l)" \
		"$oit" "$pit" "$(echo "$pit / $oit" | bc -l)" \
		"$(echo "$oobj / $pobj" | bc -l)" \
		"$(echo "$orss / 1024" | bc -l)" "$(echo "$prss / 1024" | bc -l)" \
		"$(echo "100 * $orss / $prss" | bc -l)"
}

bench_one spam "$bdir/spam"
bench_one big/16 "$(mksub s16 16)"
bench_one big/4 "$(mksub s4 4)"
bench_one big "$bdir/big"
echo "medians of $runs runs; $(nproc) cores; $(uname -m); $(date -u +%Y-%m-%d)"

# The k-means objective at k = 20 with 10 restarts (scikit-learn n_init=10)
# on SpamAssassin: ours must be no worse than 1.01 x scikit-learn's inertia.
rm -rf "$work/out"
"$bin" -q -c corpus.dir="$bdir/spam" -c output.dir="$work/out" \
	-c kmeans.restarts=10 run "$work/bench.conf"
ours=$($py -c 'import json, sys; print(json.load(open(sys.argv[1]))["kmeans"]["objective"])' "$work/out/run.json")
peer=$($py "$peer" "$bdir/spam" 20 --stem --n-init 10 | grep '^inertia' | cut -d' ' -f2)
printf 'k-means, SpamAssassin, k = 20, 10 restarts: ours %.4f, scikit-learn %.4f, ratio %.4f (goal <= 1.01)\n' \
	"$ours" "$peer" "$(echo "$ours / $peer" | bc -l)"

# Threads change no output byte: the SpamAssassin run with 1 and 2 threads.
for t in 1 2; do
	rm -rf "$work/t$t"
	"$bin" -q -c corpus.dir="$bdir/spam" -c output.dir="$work/t$t" \
		-c run.threads=$t run "$work/bench.conf"
done
same=yes
for f in "$work/t1"/*; do
	b=$(basename "$f")
	[ -d "$f" ] && continue # current, sets, runs
	case $b in run.json | manifest.tsv) continue ;; esac # timings, run ids
	cmp -s "$f" "$work/t2/$b" || same=no
done
echo "1 and 2 threads give byte-identical outputs on SpamAssassin: $same"
