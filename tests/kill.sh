#!/bin/sh
# kill.sh -- a run killed with SIGKILL at a random moment never leaves a
# half-written output, and the next run cleans up after it
#
#   PIPELINE=build/bin/pipeline sh tests/kill.sh
#
# Generates a ~20 MB corpus (200 files of random words; KILL_MB to change
# the size), makes the "old" output folder from its first 20 files, and
# the "new" one by rerunning on all of it from a copy of the old (a rerun:
# 20 files replayed from the cache, 180 read).  Then ROUNDS (20) times it
# puts a copy of the old folder into OUT, starts that same rerun into OUT,
# kills it with -9 after a random 0 .. KILL_MAX seconds (by default 1.5,
# or the length of a whole run when that is longer; seeded by KILL_SEED,
# so repeatable), and checks OUT: every output is there, and they are all
# the old ones or all the new ones (a set is switched in by one rename);
# `pipeline verify` passes; every .gz passes gzip -t; nothing stray; at
# most one dead set (the killed run's) beside the current one and the one
# it replaced.  At the end a last run succeeds, gives the new outputs and
# removes the dead sets.
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
start=$(date +%s)
if ! "$P" -q -c output.dir="$OLD" -c corpus.dir="$T/small" run "$T/kill.conf"; then
	echo "kill.sh: the run on the small corpus failed" >&2
	exit 1
fi
cp -a "$OLD" "$NEW" || exit 1
if ! "$P" -q -c output.dir="$NEW" run "$T/kill.conf"; then
	echo "kill.sh: the good rerun failed" >&2
	exit 1
fi
took=$(($(date +%s) - start))
KILL_MAX=${KILL_MAX:-$(awk -v t="$took" 'BEGIN { print (t > 1.5 ? t : 1.5) }')}
echo "kill.sh: a run takes about ${took}s; killing after 0..${KILL_MAX}s"
# The delays, from one seeded generator (KILL_SEED).
DELAYS=$(awk -v n="$ROUNDS" -v m="$KILL_MAX" -v s="${KILL_SEED:-1}" \
	'BEGIN { srand(s); for (i = 0; i < n; i++) printf "%.2f ", rand() * m }')

# check_out WHAT: every output whole, all old or all new.
check_out() {
	why= nold=0 nnew=0 ndead=0
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
	[ "$nold" -eq 0 ] || [ "$nnew" -eq 0 ] ||
		why="${why:+$why; }a mix of $nold old and $nnew new outputs"
	"$P" -c output.dir="$OUT" verify "$T/kill.conf" >"$T/verify" 2>&1 ||
		why="${why:+$why; }verify: $(head -n 1 "$T/verify")"
	for f in "$OUT"/* "$OUT"/.[!.]*; do
		[ -e "$f" ] || [ -L "$f" ] || continue
		b=${f##*/}
		case " $(echo $OUTPUTS) changes.tsv sources.tsv manifest.tsv current sets runs .lock " in
		*" $b "*) continue ;;
		esac
		why="${why:+$why; }stray $b"
	done
	# Sets: the current one, the one it replaced, and at most the killed
	# run's half-written one (each run removes those before it).
	cur=$(readlink "$OUT/current")
	for d in "$OUT"/sets/*; do
		[ -e "$d/manifest.tsv" ] || ndead=$((ndead + 1))
	done
	[ "$ndead" -le 1 ] || why="${why:+$why; }$ndead half-written sets"
	[ -e "$OUT/$cur/manifest.tsv" ] || why="${why:+$why; }current ($cur) has no manifest"
	if [ "$nnew" -eq 0 ]; then set -- "$1, old outputs"
	else set -- "$1, new outputs"
	fi
	if [ -z "$why" ]; then ok "$1"; else bad "$1" "$why"; fi
}

i=1
for delay in $DELAYS; do
	# Each round starts from the old folder, plus the half-written set
	# of the previous round's killed run, for the next run to remove.
	if [ -d "$OUT/sets" ]; then
		mv "$OUT/sets" "$T/sets.prev" || exit 1
	fi
	rm -rf "$OUT" && cp -a "$OLD" "$OUT" || exit 1
	for d in "$T"/sets.prev/*; do
		[ -d "$d" ] && [ ! -e "$d/manifest.tsv" ] && mv "$d" "$OUT/sets/"
	done
	rm -rf "$T/sets.prev"
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

# SIGTERM and SIGHUP (systemctl stop, a timeout, a hang-up) once the run
# holds the lock: it dies of the signal, leaves the old outputs, and its
# report in runs/ says what stopped it (outdir.c, the watcher).  Started
# with SIGHUP ignored (nohup), a SIGHUP does not stop it.
# wait_locked PID: until run PID has written its pid into $OUT/.lock
# (it holds the lock), 10 s at most.
wait_locked() {
	n=0
	while [ "$(cat "$OUT/.lock" 2>/dev/null)" != "$1" ] && [ $n -lt 200 ]; do
		sleep 0.05
		n=$((n + 1))
	done
}
OUT_KILLED=$OUT OUT=$T/sig
for sig in TERM HUP nohup; do
	rm -rf "$OUT" && cp -a "$OLD" "$OUT" || exit 1
	if [ $sig = nohup ]; then
		sh -c 'trap "" HUP; exec "$@"' sh "$P" -q -c output.dir="$OUT" run "$T/kill.conf" \
			2>"$T/stderr" &
	else
		"$P" -q -c output.dir="$OUT" run "$T/kill.conf" 2>"$T/stderr" &
	fi
	pid=$!
	wait_locked "$pid"
	kill -s "${sig#no}" "$pid" 2>/dev/null
	{ wait "$pid"; } 2>/dev/null
	rc=$?
	if [ $sig = nohup ]; then
		why=
		[ $rc -eq 0 ] || why="exit $rc: $(head -n 1 "$T/stderr")"
		[ "$(readlink "$OUT/current")" != "$(readlink "$OLD/current")" ] ||
			why="${why:+$why; }nothing published"
		if [ -z "$why" ]; then ok "SIGHUP with SIGHUP ignored (nohup): the run publishes"
		else bad "SIGHUP with SIGHUP ignored (nohup): the run publishes" "$why"
		fi
		continue
	fi
	check_out "SIG$sig after the lock: exit $rc"
	case $sig in TERM) want=15 ;; HUP) want=1 ;; esac
	report=$(ls -t "$OUT"/runs/*.json 2>/dev/null | head -n 1)
	why=
	[ $rc -eq $((128 + want)) ] || why="exit $rc, expected $((128 + want))"
	[ "$(readlink "$OUT/current")" = "$(readlink "$OLD/current")" ] ||
		why="${why:+$why; }current moved"
	grep -q '"status": "failed"' "$report" 2>/dev/null &&
		grep -q "\"exit\": $((128 + want))," "$report" &&
		grep -q "stopped by SIG$sig" "$report" ||
		why="${why:+$why; }no report of the stop in runs/ (newest: ${report:-none})"
	grep -q "stopped by SIG$sig before it published" "$T/stderr" ||
		why="${why:+$why; }stderr lacks 'stopped by SIG$sig'"
	if [ -z "$why" ]; then ok "SIG$sig after the lock: dies of it, reports it in runs/"
	else bad "SIG$sig after the lock: dies of it, reports it in runs/" "$why"
	fi
	if "$P" -q -c output.dir="$OUT" run "$T/kill.conf"; then
		ok "SIG$sig: the next run succeeds"
	else
		bad "SIG$sig: the next run succeeds" "exit $?"
	fi
done
# The same SIGTERM with stderr a full pipe nobody reads (a stalled
# logger): writing "stopped by SIGTERM" blocks, and the run must still
# die (of SIGALRM, 30 s on: outdir.c, WATCH_GRACE) with its report
# written and its lock gone, not hang holding the lock.
rm -rf "$OUT" && cp -a "$OLD" "$OUT" || exit 1
rm -f "$T/full" && mkfifo "$T/full" && exec 3<>"$T/full" && head -c 65536 /dev/zero >&3
start=$(date +%s)
"$P" -q -c output.dir="$OUT" run "$T/kill.conf" 2>"$T/full" &
pid=$!
wait_locked "$pid"
kill -s TERM "$pid" 2>/dev/null
# (a build that hangs here fails the check instead of hanging the test)
(sleep 90; kill -9 "$pid") >/dev/null 2>&1 </dev/null &
guard=$!
{ wait "$pid"; } 2>/dev/null
rc=$?
kill "$guard" 2>/dev/null
exec 3>&-
took=$(($(date +%s) - start))
why=
case $rc in 142 | 143) ;; *) why="exit $rc, expected 142 (SIGALRM) or 143" ;; esac
[ "$took" -lt 90 ] || why="${why:+$why; }took ${took}s"
grep -qs "stopped by SIGTERM" "$(ls -t "$OUT"/runs/*.json | head -n 1)" ||
	why="${why:+$why; }no report of the stop in runs/"
if command -v flock >/dev/null 2>&1; then
	flock -n "$OUT/.lock" true || why="${why:+$why; }the lock is still held"
fi
if [ -z "$why" ]; then ok "SIGTERM with stderr a full pipe: dies within the grace, report written (exit $rc, ${took}s)"
else bad "SIGTERM with stderr a full pipe: dies within the grace, report written" "$why"
fi
OUT=$OUT_KILLED

# A last run (from the old folder again, with the last killed run's set):
# succeeds, gives the new outputs, removes the dead set.
dead=0
for d in "$OUT"/sets/*; do [ -e "$d/manifest.tsv" ] || dead=$((dead + 1)); done
if [ -d "$OUT/sets" ]; then mv "$OUT/sets" "$T/sets.prev" || exit 1; fi
rm -rf "$OUT" && cp -a "$OLD" "$OUT" || exit 1
for d in "$T"/sets.prev/*; do
	[ -d "$d" ] && [ ! -e "$d/manifest.tsv" ] && mv "$d" "$OUT/sets/"
done
if "$P" -q -c output.dir="$OUT" run "$T/kill.conf"; then
	why=
	for f in $OUTPUTS; do
		[ "$f" = run.json ] && continue
		cmp -s "$OUT/$f" "$NEW/$f" || why="${why:+$why; }$f differs"
	done
	for d in "$OUT"/sets/*; do
		[ -e "$d/manifest.tsv" ] || why="${why:+$why; }${d##*/} left behind"
	done
	if [ -z "$why" ]; then
		ok "the run after the kills (removed $dead dead set)"
	else
		bad "the run after the kills" "$why"
	fi
else
	bad "the run after the kills" "exit $?"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
