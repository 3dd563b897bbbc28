#!/bin/sh
# client_gnuplot.sh -- `pipeline plot` draws PNGs of a run's outputs with gnuplot
#
# Run from the top of the repository, as tests/clients.sh does:
#   PIPELINE=build/bin/pipeline sh tests/client_gnuplot.sh
# Runs the pipeline on the bundled corpus into a temporary folder, then
# `pipeline plot`, and checks that every PNG exists, is a PNG (magic bytes,
# a sane size in its header) and is not trivially small; that the scripts
# and their data files are the same bytes from a second run; that a k
# sweep gets ksweep.png and a run without one says it skipped it (and
# drops an old one); and the failures: no outputs (66), gnuplot not on the
# PATH (66), a damaged output (65).  One line is printed per check.
#
# Exit status: 0 every check passed, 1 a check failed, 77 gnuplot is not
# installed (apt-get install gnuplot-nox, or `make check-deps-clients`).

P=${PIPELINE:-build/bin/pipeline}
if ! command -v gnuplot >/dev/null 2>&1; then
	echo "client_gnuplot: gnuplot not found; install gnuplot-nox"
	exit 77
fi
if [ ! -x "$P" ]; then
	echo "client_gnuplot: $P is not an executable; build it first (make)" >&2
	exit 1
fi
case $P in
/*) ;;
*) P=$PWD/$P ;;
esac
T=$(mktemp -d "${TMPDIR:-/tmp}/pipeline-gnuplot.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
trap 'rm -rf "$T"; exit 130' INT TERM
pass=0
fail=0

check() { # what, then a command that must succeed
	what=$1
	shift
	if "$@"; then
		pass=$((pass + 1))
		echo "ok   gnuplot: $what"
	else
		fail=$((fail + 1))
		echo "FAIL gnuplot: $what"
	fi
}

# A PNG: the 8 magic bytes, width and height (IHDR) of at least 300
# pixels, and more than 10 kB (a plot with text, not an empty frame).
is_png() {
	[ -f "$1" ] || return 1
	[ "$(od -An -tx1 -N8 "$1" | tr -d ' \n')" = 89504e470d0a1a0a ] || return 1
	set -- "$1" $(od -An -tu1 -j16 -N8 "$1")
	w=$(($2 * 16777216 + $3 * 65536 + $4 * 256 + $5))
	h=$(($6 * 16777216 + $7 * 65536 + $8 * 256 + $9))
	[ "$w" -ge 300 ] && [ "$h" -ge 300 ] || return 1
	[ "$(wc -c <"$1")" -gt 10000 ]
}

# exit_is CODE command...: the command exits with CODE (output to $T/err).
exit_is() {
	code=$1
	shift
	"$@" >"$T/out" 2>"$T/err"
	[ $? -eq "$code" ]
}

# The last exit_is printed nothing at all.
silent() {
	[ ! -s "$T/out" ] && [ ! -s "$T/err" ]
}

plots="cluster_map top_terms frames_heatmap"

for run in one two; do
	if ! "$P" -q -c output.dir="$T/$run" run pipeline.conf; then
		echo "FAIL gnuplot: the pipeline run into $T/$run failed"
		exit 1
	fi
done
check "plot exits 0" exit_is 0 "$P" -c output.dir="$T/one" plot pipeline.conf
cp "$T/out" "$T/plot.stdout"
cp "$T/err" "$T/plot.stderr"
for p in $plots; do
	check "$p.png is a PNG of a plot" is_png "$T/one/plots/$p.png"
	check "$p.gp is written beside it" test -s "$T/one/plots/$p.gp"
	check "plot prints the path of $p.png" grep -qF "$T/one/plots/$p.png" "$T/plot.stdout"
done
check "no sweep: says ksweep.png is not drawn" \
	grep -qF "ksweep.png not drawn" "$T/plot.stderr"
check "no sweep: no ksweep.png" test ! -e "$T/one/plots/ksweep.png"
check "-q: plot prints nothing" exit_is 0 "$P" -q -c output.dir="$T/two" plot pipeline.conf
check "-q: stdout and stderr empty" silent

# Determinism: the scripts and their data depend only on the outputs.
check "same bytes twice: projection.tsv" cmp "$T/one/projection.tsv" "$T/two/projection.tsv"
for f in cluster_map.gp top_terms.gp top_terms.tsv frames_heatmap.gp frames_heatmap.tsv; do
	check "same bytes twice: plots/$f" cmp "$T/one/plots/$f" "$T/two/plots/$f"
done
check "the scripts name no temporary path" \
	eval "! grep -qF '$T' '$T'/one/plots/*.gp"

# The failures.
mkdir "$T/empty"
check "no outputs: exit 66" exit_is 66 "$P" -c output.dir="$T/empty" plot pipeline.conf
check "no outputs: says to run first" grep -qF "pipeline run pipeline.conf" "$T/err"
check "no outputs: nothing written" test -z "$(ls -A "$T/empty")"
check "no gnuplot: exit 66" exit_is 66 env PATH=/nonexistent "$P" \
	-c output.dir="$T/two" plot pipeline.conf
check "no gnuplot: says to install gnuplot-nox" grep -qF "install gnuplot-nox" "$T/err"
cp -R "$T/two" "$T/bad"
printf 'unit\tx\n1\t2\n' >"$T/bad/projection.tsv"
check "a damaged projection.tsv: exit 65" exit_is 65 "$P" -c output.dir="$T/bad" plot pipeline.conf
check "a damaged projection.tsv: names the file" grep -qF "projection.tsv:1:" "$T/err"

# A k sweep: the run's own when this build sweeps, and a hand-written
# ksweep.tsv in the documented columns, with a missing value.
if "$P" -q -c output.dir="$T/sweep" -c kmeans.k=2..6 run pipeline.conf 2>/dev/null &&
   [ "$(wc -l <"$T/sweep/ksweep.tsv" 2>/dev/null || echo 0)" -ge 3 ]; then
	check "sweep: plot exits 0" exit_is 0 "$P" -c output.dir="$T/sweep" plot pipeline.conf
	check "sweep: ksweep.png is a PNG of a plot" is_png "$T/sweep/plots/ksweep.png"
else
	echo "skip gnuplot: this build writes no ksweep.tsv for k = 2..6; the run's own sweep not plotted"
fi
cp -R "$T/two" "$T/fake"
printf 'k\tinertia\tsilhouette\tcalinski_harabasz\tdavies_bouldin\tselected\n%s\n%s\n%s\n%s\n' \
	'2	30.5	0.031	2.1	4.4	0' '3	28.25	NA	2.0	4.0	0' \
	'4	26	0.052	2.2	3.6	1' '5	25.1	0.047	1.9	3.7	0' >"$T/fake/ksweep.tsv"
check "ksweep.tsv: plot exits 0" exit_is 0 "$P" -c output.dir="$T/fake" plot pipeline.conf
check "ksweep.tsv: ksweep.png is a PNG of a plot" is_png "$T/fake/plots/ksweep.png"
check "ksweep.tsv: the selected k is marked" grep -qF "selected k = 4" "$T/fake/plots/ksweep.gp"
rm "$T/fake/ksweep.tsv"
check "sweep gone: plot exits 0" exit_is 0 "$P" -c output.dir="$T/fake" plot pipeline.conf
check "sweep gone: the old ksweep.png is removed" test ! -e "$T/fake/plots/ksweep.png"

echo "client_gnuplot: $pass passed, $fail failed"
[ $fail = 0 ]
