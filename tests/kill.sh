#!/bin/sh
# kill.sh -- a run killed with SIGKILL at a random moment never leaves a
# half-written output, and the next run cleans up after it
#
#   PIPELINE=build/bin/pipeline sh tests/kill.sh
#
# Generates a ~20 MB corpus (200 files of random words; KILL_MB to change
# the size), makes the "old" outputs from its first 20 files into OUT and
# the "new" outputs from all of it into another folder, then ROUNDS (20)
# times starts the pipeline on the whole corpus into OUT, kills it with -9
# after a random 0 .. KILL_MAX seconds (by default 1.5, or the length of a
# whole run when that is longer; seeded by KILL_SEED, so repeatable),
# having put the old outputs back into OUT first, and checks OUT:
# every output is there and byte-identical to the old or to the new one
# (each file is renamed into place on its own, so a kill during publication
# may leave a mix of old and new files, never a partial one); run.json,
# which holds timings, must parse as JSON; every .gz passes gzip -t.  At
# the end a last run succeeds, gives the new outputs and leaves no
# .staging.* folder (each run removes those of the killed runs before it,
# so at most one is ever there).
# Prints one line per round, then "N passed, M failed"; exit 1 on failure.

P=${PIPELINE:-build/bin/pipeline}
ROUNDS=${ROUNDS:-20}
KILL_MB=${KILL_MB:-20}
if [ ! -x "$P" ]; then
	echo "kill.sh: $P is not an executable; build it first (make)" >&2
	exit 1
fi
T=$(mktemp -d "${TMPDIR:-/tmp}/pipeline-kill.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
trap 'rm -rf "$T"; exit 130' INT TERM
pass=0
fail=0
OUTPUTS="tfidf.mtx.gz counts.mtx.gz terms.tsv.gz docs.tsv clusters.tsv
frames.tsv ksweep.tsv projection.tsv summary.md summary.json run.json"

ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1: $2"; }

# run.json parses as JSON (python3, else jq, else a crude check).
json_ok() {
	if command -v python3 >/dev/null 2>&1; then
		python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$1" 2>/dev/null
	elif command -v jq >/dev/null 2>&1; then
		jq -e . "$1" >/dev/null 2>&1
	else
		[ "$(head -c 1 "$1")" = "{" ] && [ "$(tail -n 1 "$1")" = "}" ]
	fi
}

# The corpus: many files of random-ish words (a small common vocabulary
# and a few thousand made-up words), sentences, blank-line paragraphs.
mkdir -p "$T/corpus" "$T/small" || exit 1
awk -v dir="$T/corpus" -v nfiles=200 -v bytes=$((KILL_MB * 5000)) 'BEGIN {
	srand(42)
	nw = split("china security data backdoor encryption surveillance privacy " \
		"state law network cyber attack spy intelligence government policy " \
		"double standard five eyes united states national supply chain user " \
		"access key market trade internet cloud company technology report " \
		"official ministry foreign press conference said would could should " \
		"they them their this that with from have been will not", w, " ")
	for (i = 0; i < 3000; i++) {
		s = ""
		l = 3 + int(rand() * 6)
		for (j = 0; j < l; j++)
			s = s sprintf("%c", 97 + int(rand() * 26))
		w[++nw] = s
	}
	for (f = 1; f <= nfiles; f++) {
		path = sprintf("%s/f%04d.txt", dir, f)
		n = 0
		while (n < bytes) {
			line = ""
			k = 8 + int(rand() * 20)
			for (j = 0; j < k; j++)
				line = line w[1 + int(rand() * rand() * nw)] " "
			print line "." > path
			n += length(line) + 2
			if (rand() < 0.2) {
				print "" > path
				n++
			}
		}
		close(path)
	}
}' || exit 1
cp "$T"/corpus/f000?.txt "$T"/corpus/f001?.txt "$T/small/" || exit 1
cat >"$T/kill.conf" <<EOF
[corpus]
dir = corpus
unit = document
[kmeans]
k = 3
restarts = 1
[frames]
surveillance = surveillance, spy, intelligence
double_standard = double standard
EOF

OUT=$T/out NEW=$T/new OLD=$T/old
mkdir -p "$OUT" "$NEW" "$OLD" || exit 1
start=$(date +%s)
if ! "$P" -q -c output.dir="$NEW" run "$T/kill.conf"; then
	echo "kill.sh: the good run failed" >&2
	exit 1
fi
took=$(($(date +%s) - start))
if ! "$P" -q -c output.dir="$OUT" -c corpus.dir="$T/small" run "$T/kill.conf"; then
	echo "kill.sh: the run on the small corpus failed" >&2
	exit 1
fi
cp "$OUT"/* "$OLD/" || exit 1
KILL_MAX=${KILL_MAX:-$(awk -v t="$took" 'BEGIN { print (t > 1.5 ? t : 1.5) }')}
echo "kill.sh: a run takes about ${took}s; killing after 0..${KILL_MAX}s"
# The delays, from one seeded generator (KILL_SEED).
DELAYS=$(awk -v n="$ROUNDS" -v m="$KILL_MAX" -v s="${KILL_SEED:-1}" \
	'BEGIN { srand(s); for (i = 0; i < n; i++) printf "%.2f ", rand() * m }')

# check_out WHAT: every output whole, old or new.
check_out() {
	why= nold=0 nnew=0 nstaging=0
	for f in $OUTPUTS; do
		if [ ! -f "$OUT/$f" ]; then
			why="${why:+$why; }$f missing"
			continue
		fi
		case $f in
		*.gz)
			gzip -t "$OUT/$f" 2>/dev/null || why="${why:+$why; }$f: corrupt gzip" ;;
		esac
		if [ "$f" = run.json ]; then
			json_ok "$OUT/$f" || why="${why:+$why; }run.json is not JSON"
		elif cmp -s "$OUT/$f" "$OLD/$f"; then
			nold=$((nold + 1))
		elif cmp -s "$OUT/$f" "$NEW/$f"; then
			nnew=$((nnew + 1))
		else
			why="${why:+$why; }$f is neither the old nor the new file"
		fi
	done
	for f in "$OUT"/* "$OUT"/.[!.]*; do
		[ -e "$f" ] || continue
		b=${f##*/}
		case " $(echo $OUTPUTS) " in *" $b "*) continue ;; esac
		case $b in .staging.*) nstaging=$((nstaging + 1)); continue ;; esac
		why="${why:+$why; }stray $b"
	done
	# Each run removes the staging folders of the killed ones before it:
	# at most the last killed run's is left.
	[ "$nstaging" -le 1 ] ||
		why="${why:+$why; }$nstaging staging folders (stale ones not removed)"
	if [ "$nnew" -eq 0 ]; then set -- "$1, old outputs"
	elif [ "$nold" -eq 0 ]; then set -- "$1, new outputs"
	else set -- "$1, $nold old and $nnew new outputs"
	fi
	if [ -z "$why" ]; then ok "$1"; else bad "$1" "$why"; fi
}

i=1
for delay in $DELAYS; do
	# Each round replaces the old outputs (a killed run's staging folder
	# stays, for the last run to remove).
	rm -f "$OUT"/* && cp "$OLD"/* "$OUT/" || exit 1
	"$P" -q -c output.dir="$OUT" run "$T/kill.conf" 2>"$T/stderr" &
	pid=$!
	sleep "$delay"
	kill -9 "$pid" 2>/dev/null
	{ wait "$pid"; } 2>/dev/null # no "Killed" from the shell
	rc=$?
	case $rc in
	0) state="finished" ;;
	137) state="killed" ;;
	*) state="exit $rc: $(head -n 1 "$T/stderr")" ;;
	esac
	check_out "round $i: kill after ${delay}s ($state)"
	i=$((i + 1))
done

# A last run: succeeds, gives the new outputs, cleans up the staging
# folders of the killed runs.
stale=$(ls -d "$OUT"/.staging.* 2>/dev/null | wc -l | tr -d ' ')
if "$P" -q -c output.dir="$OUT" run "$T/kill.conf"; then
	why=
	for f in $OUTPUTS; do
		[ "$f" = run.json ] && continue
		cmp -s "$OUT/$f" "$NEW/$f" || why="${why:+$why; }$f differs"
	done
	for f in "$OUT"/.staging.*; do
		[ -e "$f" ] && why="${why:+$why; }${f##*/} left behind"
	done
	if [ -z "$why" ]; then
		ok "the run after the kills (removed $stale stale staging folders)"
	else
		bad "the run after the kills" "$why"
	fi
else
	bad "the run after the kills" "exit $?"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
