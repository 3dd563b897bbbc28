#!/bin/sh
# incremental.sh -- incremental reruns: the output folder's sets, the cache,
# and every rerun against a fresh run on the same corpus
#
# Run from the top of the repository:
#   PIPELINE=build/bin/pipeline sh tests/incremental.sh
# Every case copies corpus/ (or a larger corpus made from it) into a
# temporary folder and runs `pipeline -c output.dir=... -c corpus.dir=...
# run pipeline.conf`.  A rerun is compared with a fresh run (`-c
# output.incremental=no` into a new folder) on the same corpus and config
# by tests/incremental_equal.py: by (file, paragraph, term) keys, never by
# ids, since a rerun keeps the old term ids and appends new ones.  Cases:
#   a growth, b same-size edit with the mtime put back, c removal,
#   d rename, e several reruns in a row (each in unit = paragraph and
#   unit = document), f 1 vs 3 threads (also with every file touched, so
#   every file is hashed again), g nothing new (also through
#   cache.key, the listing digest), h config changes,
#   i status and verify, j the lock, k SIGKILL during reruns, l a damaged
#   cache, m runs/ history and failed runs, n the old flat layout.
# Cases whose name starts with "[changes.tsv]" need changes.tsv and the
# "Since the last run" section of summary.md (stable cluster ids).
# One line per case ("ok", "FAIL" with the reason, "skip", or "note" for
# what is reported but not judged), then "incremental: N passed, M failed";
# exit 1 when a case failed.  KILL_ROUNDS (8) and KILL_SEED (1) set the
# SIGKILL case; KEEP=1 keeps the temporary folder.

P=${PIPELINE:-build/bin/pipeline}
if [ ! -x "$P" ]; then
	echo "incremental.sh: $P is not an executable; build it first (make)" >&2
	exit 1
fi
case $P in
/*) ;;
*) P=$(pwd)/$P ;;
esac
TOP=$(cd "$(dirname "$0")/.." && pwd)
CONF=$TOP/pipeline.conf
EQ=$TOP/tests/incremental_equal.py
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
if ! "$PY" -c 'import gzip' 2>/dev/null; then
	echo "incremental.sh: needs python3 (standard library only)" >&2
	exit 1
fi
T=$(mktemp -d "${TMPDIR:-/tmp}/pipeline-inc.XXXXXX") || exit 1
BG=
MOUNTS=
cleanup() {
	for p in $BG; do kill -9 "$p" 2>/dev/null; done
	for m in $MOUNTS; do umount "$m" 2>/dev/null; done
	chmod -R u+rwx "$T" 2>/dev/null
	if [ "${KEEP:-0}" = 1 ]; then echo "incremental.sh: kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
pass=0
fail=0
nfresh=0
UNIT=paragraph

ok() {
	pass=$((pass + 1))
	echo "ok   $1"
}

# bad NAME WHY [FILE]: FILE's first lines (default: the last stderr) shown.
bad() {
	fail=$((fail + 1))
	echo "FAIL $1: $2"
	if [ -s "${3:-$T/stderr}" ]; then
		sed -n '1,8s/^/     | /p' "${3:-$T/stderr}"
	fi
}

result() { # NAME WHY
	if [ -z "$2" ]; then ok "$1"; else bad "$1" "$2"; fi
}

skip() { echo "skip $1 ($2)"; }
note() { echo "note $1"; }

# pl OUT CORPUS ARG...: run the pipeline on CORPUS into OUT in unit $UNIT;
# rc, $T/stdout and $T/stderr hold what it did.
pl() {
	_o=$1 _c=$2
	shift 2
	"$P" -c output.dir="$_o" -c corpus.dir="$_c" -c corpus.unit="$UNIT" "$@" \
		>"$T/stdout" 2>"$T/stderr" </dev/null
	rc=$?
}

# expect NAME CODE [TEXT [WHERE]]: the last pl exited CODE and TEXT is on
# stderr (or on stdout when WHERE is out).
expect() {
	why=
	[ "$rc" -eq "$2" ] || why="exit $rc, expected $2"
	if [ -n "${3-}" ]; then
		_f=$T/stderr
		[ "${4-}" = out ] && _f=$T/stdout
		grep -qF -e "$3" "$_f" || why="${why:+$why; }${4:-stderr} lacks '$3'"
	fi
	result "$1" "$why"
}

# newcorpus DIR: a writable copy of the bundled corpus (its *.txt only).
newcorpus() {
	mkdir -p "$1" && cp "$TOP"/corpus/*.txt "$1/" && chmod u+w "$1"/*.txt
}

# A paragraph-rich statement with words the bundled corpus lacks.
newtext() { # SEED
	printf 'Quantum %s computing threatens every encryption backdoor, the ministry said.\n' "$1"
	printf 'Officials %s warned about zebra-crossing surveillance and lighthouse espionage.\n\n' "$1"
	printf 'The spokesperson %s called the blockchain proposal a double standard.\n' "$1"
	printf 'Nobody mentioned %s the walrus protocol again.\n\n' "$1"
	printf 'Five Eyes %s partners rejected the saxophone initiative.\n' "$1"
}

cur() { readlink "$1/current"; } # sets/ID

# prevset OUT: the set folder the next publish will replace.
prevset() { echo "$1/$(cur "$1")"; }

# compare NAME OUT CORPUS PREV [OPTION...]: OUT equals a fresh run on CORPUS
# with the OPTIONs (by keys); PREV (a set folder or "") is the set OUT
# followed, whose term ids OUT must keep.  Also checks OUT's files agree
# with each other.
compare() {
	_n=$1 _o=$2 _c=$3 _p=$4
	shift 4
	nfresh=$((nfresh + 1))
	_f=$T/fresh.$nfresh
	if ! "$P" -q -c output.dir="$_f" -c corpus.dir="$_c" -c corpus.unit="$UNIT" \
		-c output.incremental=no "$@" run "$CONF" 2>"$T/stderr" </dev/null; then
		bad "$_n" "the fresh run failed"
		return
	fi
	if "$PY" "$EQ" equal "$_o" "$_f" $_p >"$T/eq" 2>&1; then
		ok "$_n"
	else
		bad "$_n" "differs from a fresh run or is not sound:" "$T/eq"
	fi
	rm -rf "$_f"
}

# layout NAME OUT: current is a link to an existing set, every top-level
# output name links to current/NAME, at most current and the set before it
# are kept, nothing else is there, and `pipeline verify` passes.
layout() {
	_n=$1 _o=$2
	why=
	_s=$(cur "$_o")
	case $_s in
	sets/*) [ -d "$_o/$_s" ] || why="current -> $_s is missing" ;;
	*) why="current -> '$_s', not sets/ID" ;;
	esac
	for _e in "$_o"/* "$_o"/.[!.]*; do
		[ -e "$_e" ] || [ -L "$_e" ] || continue
		_b=${_e##*/}
		case $_b in
		.lock | runs | sets | current) continue ;;
		esac
		if [ -L "$_e" ]; then
			[ "$(readlink "$_e")" = "current/$_b" ] ||
				why="${why:+$why; }$_b -> $(readlink "$_e")"
			[ -e "$_e" ] || why="${why:+$why; }$_b dangles"
		else
			why="${why:+$why; }stray $_b"
		fi
	done
	_k=$(ls "$_o/sets" | wc -l)
	[ "$_k" -le 2 ] || why="${why:+$why; }$_k sets kept: $(ls "$_o/sets" | tr '\n' ' ')"
	"$P" -c output.dir="$_o" verify "$CONF" >"$T/verify" 2>&1 ||
		why="${why:+$why; }verify: exit $?"
	result "$_n" "$why"
	[ -z "$why" ] || sed -n '1,5s/^/     | /p' "$T/verify"
}

# changes OUT PREV: changes.tsv of OUT's current set says what changed
# since the set folder PREV; $T/changes gets the figures (or the problems).
changes() {
	if "$PY" "$EQ" changes "$1/current" "$2" >"$T/changes" 2>&1; then
		return 0
	fi
	return 1
}

# field NAME: the figure NAME=N that `incremental_equal.py changes` printed.
field() { tr ' ' '\n' <"$T/changes" | sed -n "s/^$1=//p"; }

# most_keep NAME: $O's changes.tsv agrees with its set and $prev's, and
# fewer than half the statements both runs have moved cluster.
most_keep() {
	if changes "$O" "$prev"; then
		e=$(field existing)
		m=$(field moved)
		result "$1: most statements keep their cluster id ($(cat "$T/changes"))" \
			"$([ $((2 * m)) -lt "$e" ] || echo "$m of $e existing statements moved")"
	else
		bad "$1: changes.tsv" "wrong:" "$T/changes"
	fi
}

# snap DIR: every entry with its type, size, mtime, link target and
# content hash (.lock: only that it is there).
snap() {
	(
		cd "$1" || exit 1
		find . ! -type d ! -path ./.lock -printf '%p %y %s %T@ %l\n' | LC_ALL=C sort
		find . -type d -printf '%p/\n' | LC_ALL=C sort
		find . -type f ! -path ./.lock -exec md5sum {} + | LC_ALL=C sort -k 2
		[ -e .lock ] && echo ".lock present"
	)
}
# snapdirs DIR: the folders' mtimes (a folder changes when an entry is
# created or removed in it, even for a moment).
snapdirs() { (cd "$1" && find . -type d -printf '%p %T@\n' | LC_ALL=C sort); }
# unchanged NAME: $O snapped again equals $T/snap.before; the difference
# is shown when it does not.
unchanged() {
	snap "$O" >"$T/snap.after"
	if cmp -s "$T/snap.before" "$T/snap.after"; then
		ok "$1"
	else
		diff "$T/snap.before" "$T/snap.after" >"$T/diff"
		bad "$1" "changed:" "$T/diff"
	fi
}

# outputs OUT: the hashes of the files the top-level links show.
outputs() {
	(cd "$1" && for f in *; do [ -L "$f" ] && [ "$f" != current ] && md5sum "$f"; done)
}

# waitfor SECONDS COMMAND...: poll COMMAND every 10 ms until it succeeds.
waitfor() {
	_t=$1
	shift
	_i=0
	while [ "$_i" -lt $((_t * 100)) ]; do
		"$@" && return 0
		sleep 0.01
		_i=$((_i + 1))
	done
	return 1
}

# The "since run ..." line a rerun prints: "N new, M changed, ...".
since() { grep -o '[0-9]* new, [0-9]* changed, [0-9]* removed, [0-9]* unchanged' "$T/stderr"; }

# ---------------------------------------------------------------------
# a-e, in both units
# ---------------------------------------------------------------------

case_growth() {
	D=$T/growth.$UNIT C=$D/c O=$D/out
	newcorpus "$C"
	pl "$O" "$C" run "$CONF"
	expect "[$UNIT] a growth: first run" 0
	prev=$(prevset "$O")
	mkdir "$C/sub"
	newtext one >"$C/sub/added.txt"
	# sorts first: a fresh run numbers its terms before every other
	newtext two | gzip -n >"$C/000-added.txt.gz"
	sed 's/China/Sino/g' "$C/2015_news_china-defends-back-door-demands-obama.txt" \
		>"$C/2015_news_copy-edited.txt"
	pl "$O" "$C" run "$CONF"
	expect "[$UNIT] a growth: rerun" 0
	s=$(since)
	result "[$UNIT] a growth: reads only the 3 new files" \
		"$([ "$s" = "3 new, 0 changed, 0 removed, 5 unchanged" ] || echo "stderr says '$s'")"
	compare "[$UNIT] a growth: equals a fresh run, old ids kept" "$O" "$C" "$prev"
	layout "[$UNIT] a growth: layout" "$O"
	if changes "$O" "$prev"; then
		n=$(field new)
		case $UNIT in
		paragraph) want=$(cat "$O/docs.tsv" | awk -F '\t' '$2 ~ /added|copy-edited/' | wc -l) ;;
		document) want=3 ;;
		esac
		result "[changes.tsv] [$UNIT] a growth: changes.tsv lists the new statements ($(cat "$T/changes"))" \
			"$([ "$n" -eq "$want" ] || echo "new=$n, docs.tsv has $want")"
	else
		bad "[changes.tsv] [$UNIT] a growth: changes.tsv" "wrong:" "$T/changes"
	fi
	result "[changes.tsv] [$UNIT] a growth: summary.md has 'Since the last run'" \
		"$(grep -q '^## Since the last run' "$O/summary.md" || echo "no such section")"
	# summary.json's "since" holds the figures of summary.md's section, and
	# they agree with changes.tsv and the two sets' terms.tsv.gz.
	"$PY" -c '
import gzip, json, re, sys
cur, prev, figures = sys.argv[1], sys.argv[2], sys.argv[3]
bad = []
s = json.load(open(cur + "/summary.json", encoding="utf-8"))
md = open(cur + "/summary.md", encoding="utf-8").read()
if not isinstance(s.get("since"), dict):
    sys.exit("summary.json: since is %r, not an object" % (s.get("since"),))
j = s["since"]
fig = dict(kv.split("=") for kv in figures.split())
for key in ("new", "removed", "moved"):
    if str(j[key]) != fig[key]:
        bad.append("since.%s = %s, changes.tsv says %s" % (key, j[key], fig[key]))
def rows(path):
    with (gzip.open if path.endswith(".gz") else open)(path, "rt", encoding="utf-8") as f:
        return [l.rstrip("\n").split("\t") for l in f][1:]
if j["units_now"] != len(rows(cur + "/docs.tsv")) or j["units_then"] != len(rows(prev + "/docs.tsv")):
    bad.append("units_then/units_now %s/%s do not match the two docs.tsv" % (j["units_then"], j["units_now"]))
terms = {r[1]: int(r[4]) for r in rows(cur + "/terms.tsv.gz")}
old = {r[1] for r in rows(prev + "/terms.tsv.gz")}
if j["new_terms"] != len(set(terms) - old):
    bad.append("new_terms = %s, the terms.tsv.gz differ by %d" % (j["new_terms"], len(set(terms) - old)))
for t in j["top_new_terms"]:
    if t["term"] in old or terms.get(t["term"]) != t["df"]:
        bad.append("top_new_terms: %r is not new or its df is not terms.tsv.gz df" % t)
dfs = [t["df"] for t in j["top_new_terms"]]
if dfs != sorted(dfs, reverse=True) or not 0 < len(dfs) <= min(10, j["new_terms"]):
    bad.append("top_new_terms: df %s not descending, or a wrong count" % dfs)
sec = md.split("\n## Since the last run\n", 1)[-1].split("\n## ", 1)[0]
m = re.search(r"run (\S+) \((\d+) statements then, (\d+) now\): (\d+) new statements?, (\d+) removed, (\d+) moved .*?; (\d+) new terms?", sec)
if not m or list(m.groups()) != [j["previous_run"]] + [str(j[k]) for k in ("units_then", "units_now", "new", "removed", "moved", "new_terms")]:
    bad.append("summary.md says %r" % (m.groups() if m else sec[:200],))
line = [l for l in sec.split("\n") if l.startswith("Compared with")] + [""]
listed = re.findall(r"(?:: |, )([^,:]+?) \((\d+)\)", line[0].split("contain", 1)[-1])
want = [(t["surface"], str(t["df"])) for t in j["top_new_terms"]]
if [(re.sub(r"\\(.)", r"\1", a), b) for a, b in listed] != want:
    bad.append("summary.md lists %s, summary.json %s" % (listed, want))
m = re.search(r"Clusters: (\d+) of (\d+) kept", sec)
if not m or int(m.group(1)) != j["clusters_kept_id"] or int(m.group(2)) != s["corpus"]["k"]:
    bad.append("clusters_kept_id %s; summary.md: %s" % (j["clusters_kept_id"], m and m.group(0)))
table = re.findall(r"^\| (\S+) \| (\d+) \| ([0-9.]+%) \| ([0-9.]+%) \| ([-+][0-9.]+) \|$", sec, re.M)
mine = [(r["frame"], str(r["cluster"]), "%.1f%%" % (100 * r["then"]), "%.1f%%" % (100 * r["now"]),
         "%+.1f" % (100 * r["change"])) for r in j["frame_shares"]]
if table != mine or (j["clusters_kept_id"] and not mine):
    bad.append("frame shares: summary.md %s, summary.json %s" % (table[:3], mine[:3]))
share = {(c["cluster"], f): v["unit_share"] for c in s["clusters"] for f, v in c["frames"].items()}
for r in j["frame_shares"]:
    if r["change"] != r["now"] - r["then"] or float("%.6g" % r["now"]) != share[(r["cluster"], r["frame"])]:
        bad.append("frame_shares: %r: change is not now - then, or now is not the unit_share" % r)
if bad:
    print("\n".join(bad[:10]))
' "$O/current" "$prev" "$(cat "$T/changes")" >"$T/since" 2>&1
	result "[changes.tsv] [$UNIT] a growth: summary.json's since has summary.md's figures" \
		"$([ -s "$T/since" ] && sed -n 1,3p "$T/since" | tr '\n' ' ')"
}

# sameedit FILE: change FILE's content keeping its size, inode and mtime
# (to the nanosecond); its ctime moves, which nobody can prevent.
sameedit() {
	cp -p "$1" "$T/ref" &&
	sed 's/\([Tt]\)he /\1hx /' "$1" >"$T/edited" &&
	cat "$T/edited" >"$1" &&
	touch -r "$T/ref" "$1"
	if [ "$(stat -c '%s %Y.%y' "$1")" != "$(stat -c '%s %Y.%y' "$T/ref")" ] ||
	   cmp -s "$1" "$T/ref"; then
		echo "incremental.sh: sameedit $1 did not work" >&2
		return 1
	fi
}

# Sleep until the start of the next second.
nextsecond() {
	ns=$(date +%N)
	sleep "$(awk -v ns="$ns" 'BEGIN { printf "%.3f", 1 - ns / 1e9 + 0.005 }')"
}

case_edit() {
	D=$T/edit.$UNIT C=$D/c O=$D/out
	newcorpus "$C"
	F=$C/2020-10-13_global-times_five-eyes-backdoors-double-standards.txt
	# Files older than a second when hashed: the next run may trust their
	# stat data.
	sleep 1.1
	pl "$O" "$C" run "$CONF"
	expect "[$UNIT] b edit: first run" 0
	prev=$(prevset "$O")
	sameedit "$F" || return
	pl "$O" "$C" run "$CONF"
	expect "[$UNIT] b edit: same size, same mtime (old second): rerun" 0
	s=$(since)
	result "[$UNIT] b edit: same size, same mtime (old second): detected" \
		"$([ "$s" = "0 new, 1 changed, 0 removed, 4 unchanged" ] || echo "stderr says '$s'")"
	compare "[$UNIT] b edit: same size, same mtime (old second): equals a fresh run" \
		"$O" "$C" "$prev"
	# Now within the second of a run: a run that hashes F again (F was
	# edited), then at once another same-size edit of F.
	sameedit "$F" || return
	nextsecond
	ts=$(date +%s)
	pl "$O" "$C" run "$CONF"
	expect "[$UNIT] b edit: a run that hashes the file again" 0
	prev=$(prevset "$O")
	sameedit "$F" || return
	[ "$(date +%s)" = "$ts" ] ||
		note "[$UNIT] b edit: the run and the edit were not within one second (slow machine)"
	pl "$O" "$C" run "$CONF"
	s=$(since)
	result "[$UNIT] b edit: same size, same mtime, in the second of the last run: detected" \
		"$([ "$rc" -eq 0 ] || echo "exit $rc"; [ "$s" = "0 new, 1 changed, 0 removed, 4 unchanged" ] || echo "stderr says '$s'")"
	compare "[$UNIT] b edit: in the same second: equals a fresh run" "$O" "$C" "$prev"
	layout "[$UNIT] b edit: layout" "$O"
}

case_remove() {
	D=$T/remove.$UNIT C=$D/c O=$D/out
	newcorpus "$C"
	pl "$O" "$C" run "$CONF"
	expect "[$UNIT] c removal: first run" 0
	prev=$(prevset "$O")
	rm "$C/2015_news_china-defends-back-door-demands-obama.txt"
	pl "$O" "$C" run "$CONF"
	expect "[$UNIT] c removal: rerun" 0
	s=$(since)
	result "[$UNIT] c removal: reads nothing" \
		"$([ "$s" = "0 new, 0 changed, 1 removed, 4 unchanged" ] || echo "stderr says '$s'")"
	compare "[$UNIT] c removal: equals a fresh run" "$O" "$C" "$prev"
	n0=$(gzip -dc "$O/terms.tsv.gz" | awk -F '\t' 'NR > 1 && $5 == 0' | wc -l)
	result "[$UNIT] c removal: the removed file's own terms stay, with df 0 ($n0)" \
		"$([ "$n0" -gt 0 ] || echo "no term with df 0")"
	if changes "$O" "$prev"; then
		r=$(field removed)
		result "[changes.tsv] [$UNIT] c removal: changes.tsv lists the removed statements ($(cat "$T/changes"))" \
			"$([ "$r" -gt 0 ] || echo "none removed")"
	else
		bad "[changes.tsv] [$UNIT] c removal: changes.tsv" "wrong:" "$T/changes"
	fi
	layout "[$UNIT] c removal: layout" "$O"
}

case_rename() {
	D=$T/rename.$UNIT C=$D/c O=$D/out
	newcorpus "$C"
	pl "$O" "$C" run "$CONF"
	expect "[$UNIT] d rename: first run" 0
	prev=$(prevset "$O")
	mv "$C/2015_news_china-defends-back-door-demands-obama.txt" "$C/zz-renamed.txt"
	pl "$O" "$C" -v status "$CONF"
	got=$(grep -E '^(new|changed|removed)	' "$T/stdout" | LC_ALL=C sort | tr '\t\n' ' |')
	want="new zz-renamed.txt|removed 2015_news_china-defends-back-door-demands-obama.txt|"
	result "[$UNIT] d rename: status -v: one new, one removed" \
		"$([ "$got" = "$want" ] || echo "got '$got'")"
	pl "$O" "$C" run "$CONF"
	expect "[$UNIT] d rename: rerun" 0
	compare "[$UNIT] d rename: equals a fresh run" "$O" "$C" "$prev"
	layout "[$UNIT] d rename: layout" "$O"
}

case_series() {
	D=$T/series.$UNIT C=$D/c O=$D/out
	newcorpus "$C"
	pl "$O" "$C" run "$CONF"
	expect "[$UNIT] e series: first run" 0
	mkdir -p "$D/first"
	cp "$O/current/terms.tsv.gz" "$O/current/docs.tsv" "$D/first/"
	newtext three >"$C/2019_added.txt"
	mkdir "$C/deeper"
	newtext four | gzip -n >"$C/deeper/a.txt.gz"
	pl "$O" "$C" run "$CONF"
	r1=$rc
	printf '\nAn appended paragraph about the xylophone backdoor.\n' \
		>>"$C/2020-09-12_trn-online_global-data-security-initiative.txt"
	pl "$O" "$C" run "$CONF"
	r2=$rc
	rm "$C/2020-10_mfa-press-conference_india-border_five-eyes-backdoors.txt"
	pl "$O" "$C" run "$CONF"
	r3=$rc
	result "[$UNIT] e series: growth, edit, removal: three reruns" \
		"$([ "$r1$r2$r3" = 000 ] || echo "exits $r1 $r2 $r3")"
	compare "[$UNIT] e series: equals one fresh run, the first run's ids kept" \
		"$O" "$C" "$D/first"
	layout "[$UNIT] e series: layout" "$O"
}

# The rerun copies counts.mtx.gz's rows before the first change from the
# previous file (stages/counts.c).  PIPELINE_TEST_CUT_BYTES cuts the
# small corpus's file every few rows, as a large one is cut every 512 KiB.
case_tail() {
	D=$T/tail.$UNIT C=$D/c O=$D/out
	newcorpus "$C"
	export PIPELINE_TEST_CUT_BYTES=300
	pl "$O" "$C" run "$CONF"
	expect "[$UNIT] a2 growth at the end: first run" 0
	prev=$(prevset "$O")
	newtext tail1 >"$C/zz-tail-1.txt"
	pl "$O" "$C" -v run "$CONF"
	expect "[$UNIT] a2 growth at the end: rerun" 0
	result "[$UNIT] a2 growth at the end: counts.mtx.gz's old rows copied" \
		"$(grep -q 'counts: rows 1 to [1-9][0-9]* as the last run wrote them' "$T/stderr" ||
			echo "stderr does not say so")"
	compare "[$UNIT] a2 growth at the end: equals a fresh run" "$O" "$C" "$prev"
	# New files last in path order: the fresh run numbers the terms as
	# the rerun does, so the text is the same, line for line.
	pl "$D/fresh" "$C" -c output.incremental=no run "$CONF"
	result "[$UNIT] a2 growth at the end: the counts text of a fresh run" \
		"$(gzip -dc "$O/counts.mtx.gz" >"$T/c1" && gzip -dc "$D/fresh/counts.mtx.gz" >"$T/c2" &&
			cmp -s "$T/c1" "$T/c2" || echo "decompressed, they differ")"
	# Again: the copied stretches kept their hashes in the new index.
	prev=$(prevset "$O")
	newtext tail1b >"$C/zz-tail-1b.txt"
	pl "$O" "$C" -v run "$CONF"
	expect "[$UNIT] a2 growth at the end again: rows copied from a copy" 0 \
		"as the last run wrote them"
	compare "[$UNIT] a2 growth at the end again: equals a fresh run" "$O" "$C" "$prev"
	# A changed byte in the old file: its stretch's hash no longer
	# matches, so nothing of it is copied.
	prev=$(prevset "$O")
	f=$(readlink -f "$O/counts.mtx.gz")
	chmod u+w "$f"
	printf 'X' | dd of="$f" bs=1 seek=$(($(wc -c <"$f") / 2)) conv=notrunc 2>/dev/null
	newtext tail2 >"$C/zz-tail-2.txt"
	pl "$O" "$C" -v run "$CONF"
	expect "[$UNIT] a2 a damaged old counts.mtx.gz is not copied" 0 \
		"counts: writing every row (counts.mtx.gz has changed since it was written)"
	compare "[$UNIT] a2 after the damaged file: equals a fresh run" "$O" "$C" "$prev"
	# A damaged index: not used either.
	prev=$(prevset "$O")
	f=$(readlink -f "$O/current")/cache-counts.idx
	chmod u+w "$f"
	printf 'X' | dd of="$f" bs=1 seek=40 conv=notrunc 2>/dev/null
	newtext tail3 >"$C/zz-tail-3.txt"
	pl "$O" "$C" -v run "$CONF"
	expect "[$UNIT] a2 a damaged cache-counts.idx is not used" 0 \
		"counts: writing every row (cache-counts.idx is damaged)"
	compare "[$UNIT] a2 after the damaged index: equals a fresh run" "$O" "$C" "$prev"
	# A file in the middle changes: the rows before it are copied.
	prev=$(prevset "$O")
	printf '\nA late paragraph on the walrus protocol.\n' >>"$C/zz-tail-1.txt"
	pl "$O" "$C" -v run "$CONF"
	expect "[$UNIT] a2 an edit before the last file: rerun" 0 \
		"as the last run wrote them"
	compare "[$UNIT] a2 an edit before the last file: equals a fresh run" "$O" "$C" "$prev"
	unset PIPELINE_TEST_CUT_BYTES
}

for UNIT in paragraph document; do
	case_tail
	case_growth
	case_edit
	case_remove
	case_rename
	case_series
done
UNIT=paragraph

# Stable cluster ids (warm start, matching): one small file added to the
# bundled corpus, k = 4; most statements must keep their cluster id.
D=$T/stable C=$D/c O=$D/out
newcorpus "$C"
pl "$O" "$C" run "$CONF"
expect "[changes.tsv] stable ids: first run (k = 4)" 0
result "[changes.tsv] stable ids: a first run's changes.tsv is its header alone" \
	"$([ "$(cat "$O/current/changes.tsv" 2>/dev/null)" = "$(printf 'change\tfile\tparagraph\tstatement\tcluster\tprevious_cluster')" ] ||
	   echo "changes.tsv: $(head -c 200 "$O/current/changes.tsv" 2>&1 | tr '\t\n' ' |')")"
prev=$(prevset "$O")
printf 'A small new statement about encryption backdoors and surveillance.\n' >"$C/zz-small.txt"
pl "$O" "$C" run "$CONF"
expect "[changes.tsv] stable ids: rerun with one small file" 0
most_keep "[changes.tsv] stable ids"

# Statements are matched by their text in a file that changed: a
# paragraph put in at the top or taken out of the middle is one new or one
# removed statement, not a shift of every paragraph after it (each "moved"
# must be the same text's cluster change: its previous cluster is that of
# the paragraph it was before).
D=$T/align C=$D/c O=$D/out
newcorpus "$C"
f=2020-09-12_trn-online_global-data-security-initiative.txt
pl "$O" "$C" run "$CONF"
expect "[changes.tsv] align: first run" 0
cp "$O/docs.tsv" "$D/docs.before"
{ printf "Editor's note: this transcript was corrected on 14 September.\n\n"; cat "$C/$f"; } >"$D/t" && mv "$D/t" "$C/$f"
pl "$O" "$C" run "$CONF"
expect "[changes.tsv] align: a paragraph put in at the top" 0
# aligned F SHIFT: the lines of changes.tsv for file F are one "new" at
# paragraph 1 (SHIFT 1) or one "removed" (SHIFT -1), and "moved" lines
# whose previous cluster is the cluster of paragraph p - SHIFT before
# (for SHIFT -1: p + 1 from the removed one on).
aligned() {
	awk -F '\t' -v f="$1" -v sh="$2" -v gone="${3:-0}" '
		FNR == 1 { next }
		NR == FNR { if ($2 == f) old[$3] = $6; next }
		$2 != f { next }
		$1 == "new" { nnew++; if (sh != 1 || $3 != 1) bad = bad " new at " $3; next }
		$1 == "removed" { nrem++; if (sh != -1 || $3 != gone) bad = bad " removed " $3; next }
		$1 == "moved" {
			p = (sh == 1) ? $3 - 1 : ($3 >= gone ? $3 + 1 : $3)
			if (old[p] != $6) bad = bad " moved " $3 " from " $6 " (was " old[p] ")"
			next
		}
		END {
			if (sh == 1 && (nnew != 1 || nrem)) bad = bad " new=" nnew " removed=" nrem
			if (sh == -1 && (nrem != 1 || nnew)) bad = bad " new=" nnew " removed=" nrem
			print bad
		}' "$D/docs.before" "$O/changes.tsv"
}
result "[changes.tsv] align: one new statement, nothing shifted" "$(aligned "$f" 1)"
# The third paragraph (of four or more) taken out again.
cp "$O/docs.tsv" "$D/docs.before"
awk 'BEGIN { RS = ""; ORS = "\n\n" } NR != 3' "$C/$f" >"$D/t" && mv "$D/t" "$C/$f"
pl "$O" "$C" run "$CONF"
expect "[changes.tsv] align: a paragraph taken out of the middle" 0
result "[changes.tsv] align: one removed statement, nothing shifted" "$(aligned "$f" -1 3)"
# A word changed in place: the same statement, edited (no new, no removed).
cp "$O/docs.tsv" "$D/docs.before"
sed 's/data security/data-security/' "$C/$f" >"$D/t" && mv "$D/t" "$C/$f"
pl "$O" "$C" run "$CONF"
expect "[changes.tsv] align: a word changed" 0 "0 new, 1 changed"
result "[changes.tsv] align: an edited paragraph is the same statement" \
	"$(awk -F '\t' -v f="$f" '$2 == f && $1 != "moved" { print $1 " " $3 }' "$O/changes.tsv")"

# An index of the format before text hashes (PLCIDX01): a file replayed
# from it has no hash of its statements, so when it changes later it is
# matched by paragraph, as that format was (the oracle's rules), not
# paired in order against unknown hashes.  Needs Python's xxhash.
if "$PY" -c 'import xxhash' 2>/dev/null; then
	D=$T/alignv1 C=$D/c O=$D/out
	newcorpus "$C"
	pl "$O" "$C" run "$CONF"
	"$PY" "$EQ" to_v1 "$O/current/cache.idx" >"$T/eq" 2>&1 &&
		[ "$(head -c 8 "$O/current/cache.idx")" = PLCIDX01 ] ||
		bad "[changes.tsv] align v1: the index rewritten as PLCIDX01" "failed:" "$T/eq"
	pl "$O" "$C" status "$CONF"
	expect "[changes.tsv] align v1: an index of the first format serves" 0 "a run now would: change nothing" out
	g=$(ls "$C" | tail -n 1)
	echo "One more line about trade." >>"$C/$g"
	pl "$O" "$C" run "$CONF"
	expect "[changes.tsv] align v1: another file changed" 0 "1 changed"
	prev=$(prevset "$O")
	f=2015_news_china-defends-back-door-demands-obama.txt
	{ printf "Editor's note: corrected.\n\n"; cat "$C/$f"; } >"$D/t" && mv "$D/t" "$C/$f"
	pl "$O" "$C" run "$CONF"
	expect "[changes.tsv] align v1: a paragraph put in a file replayed from it" 0
	result "[changes.tsv] align v1: that file matched by paragraph" \
		"$(changes "$O" "$prev" || cat "$T/changes")"
else
	skip "[changes.tsv] align v1: an index of the first format" "Python's xxhash module is missing"
fi

# ---------------------------------------------------------------------
# f threads
# ---------------------------------------------------------------------
D=$T/threads C=$D/c
newcorpus "$C"
pl "$D/base" "$C" run "$CONF"
expect "f threads: first run" 0
cp -a "$D/base" "$D/t1" && cp -a "$D/base" "$D/t3" || exit 1
newtext five >"$C/added-1.txt"
mkdir "$C/more" && newtext six >"$C/more/added-2.txt" && newtext seven >"$C/more/added-3.txt"
pl "$D/t1" "$C" -c run.threads=1 run "$CONF"
r1=$rc
pl "$D/t3" "$C" -c run.threads=3 run "$CONF"
expect "f threads: reruns with 1 and 3 threads" 0
[ "$r1" -eq 0 ] || bad "f threads: rerun with 1 thread" "exit $r1"
# The cache files are named after the run and written one per read thread,
# so they differ by design; run.json holds timings, manifest.tsv run ids.
IGN="run.json manifest.tsv cache.idx cache-*.seg"
if "$PY" "$EQ" same "$D/t1/current" "$D/t3/current" $IGN >"$T/eq" 2>&1; then
	ok "f threads: 1 and 3 threads, same bytes ($(cat "$T/eq"))"
else
	bad "f threads: 1 and 3 threads, same bytes" "differ:" "$T/eq"
fi
compare "f threads: 3 threads equal a fresh run" "$D/t3" "$C" "$D/base/current" -c run.threads=3
# A second rerun from each: the two caches serve alike.
printf '\nOne more paragraph, on the ocelot accord.\n' >>"$C/more/added-2.txt"
pl "$D/t1" "$C" -c run.threads=1 run "$CONF"
r1=$rc
pl "$D/t3" "$C" -c run.threads=3 run "$CONF"
if [ "$r1$rc" = 00 ] && "$PY" "$EQ" same "$D/t1/current" "$D/t3/current" $IGN >"$T/eq" 2>&1; then
	ok "f threads: a second rerun from each cache, same bytes"
else
	bad "f threads: a second rerun from each cache, same bytes" "exits $r1 $rc:" "$T/eq"
fi
# Every file touched (as a restore or a chown -R leaves them) and one
# edited keeping its size and mtime: every file is hashed again, on 1 and
# on 3 threads, and only the edited one is read.
prev=$(prevset "$D/t3")
touch "$C"/*.txt "$C"/more/*.txt
sameedit "$C/2020-10-13_global-times_five-eyes-backdoors-double-standards.txt" || exit 1
pl "$D/t1" "$C" -c run.threads=1 run "$CONF"
r1=$rc s1=$(since)
pl "$D/t3" "$C" -c run.threads=3 run "$CONF"
s=$(since)
result "f threads: every file touched, one edited: 1 and 3 threads hash them alike" \
	"$([ "$r1$rc" = 00 ] || echo "exits $r1 $rc"
	   [ "$s1" = "0 new, 1 changed, 0 removed, 7 unchanged" ] || echo "1 thread: '$s1'"
	   [ "$s" = "0 new, 1 changed, 0 removed, 7 unchanged" ] || echo "3 threads: '$s'")"
if "$PY" "$EQ" same "$D/t1/current" "$D/t3/current" $IGN >"$T/eq" 2>&1; then
	ok "f threads: every file touched, one edited: same bytes"
else
	bad "f threads: every file touched, one edited: same bytes" "differ:" "$T/eq"
fi
compare "f threads: every file touched, one edited: equals a fresh run" "$D/t3" "$C" "$prev" -c run.threads=3

# ---------------------------------------------------------------------
# g nothing new
# ---------------------------------------------------------------------
D=$T/nothing C=$D/c O=$D/out
newcorpus "$C"
pl "$O" "$C" run "$CONF"
expect "g nothing new: first run" 0
id=$(cur "$O")
id=${id#sets/}
snap "$O" >"$T/snap.before"
snapdirs "$O" >"$T/dirs.before"
pl "$O" "$C" run "$CONF"
expect "g nothing new: second run exits 0 and says so" 0 "pipeline: nothing new since run $id"
unchanged "g nothing new: not a byte changed in the output folder"
snapdirs "$O" >"$T/dirs.after"
result "g nothing new: no folder of the output folder modified" \
	"$(cmp -s "$T/dirs.before" "$T/dirs.after" || diff "$T/dirs.before" "$T/dirs.after" | grep '^>' | tr '\n' ' ')"
pl "$O" "$C" -c kmeans.k=4 run "$CONF"
expect "g nothing new: the same config spelt with -c (kmeans.k=4)" 0 "nothing new since run $id"
# touch: a new mtime and ctime, the same content
sleep 0.02
touch "$C/2020-09-12_trn-online_global-data-security-initiative.txt"
pl "$O" "$C" status "$CONF"
expect "g nothing new: status after touch: would change nothing" 0 "a run now would: change nothing" out
pl "$O" "$C" run "$CONF"
expect "g nothing new: after touch, exit 0 and the message" 0 "pipeline: nothing new since run $id"
unchanged "g nothing new: after touch, not a byte changed"
# and with the file's whole inode replaced by an identical copy
cp "$C/2021-07-05_mfa_wang-wenbin_us-back-doors-user-data.txt" "$T/copy" &&
	mv "$T/copy" "$C/2021-07-05_mfa_wang-wenbin_us-back-doors-user-data.txt"
pl "$O" "$C" run "$CONF"
expect "g nothing new: a file replaced by an identical copy (new inode)" 0 "nothing new since run $id"
unchanged "g nothing new: after the copy, not a byte changed"
# run.threads changes no output byte, but it is part of the config.
pl "$O" "$C" -c run.threads=1 run "$CONF"
if grep -q 'nothing new' "$T/stderr"; then
	note "g nothing new: another run.threads: nothing new"
else
	note "g nothing new: another run.threads publishes a new set ($(since))"
fi

# ---------------------------------------------------------------------
# g the listing key: cache.key lets a rerun with nothing new stop after
# listing the corpus; every other rerun must ignore it
# ---------------------------------------------------------------------
D=$T/key C=$D/c O=$D/out
keyused() { grep -q 'the corpus listing matches .*cache.key' "$T/stderr"; }
t0=$(date +%s%N)
newcorpus "$C"
pl "$O" "$C" run "$CONF"
t1=$(date +%s%N)
expect "g key: first run on files copied just now" 0
ms=$(( (t1 - t0) / 1000000 ))
# The run ends within the second of the files' change (it cannot settle
# them: no key), or after it (cache_settle_racy hashes them again, finds
# them unchanged, and the key is written); which one depends on the
# machine's speed.  (check_read's settle_racy tests the settling itself.)
if [ "$ms" -lt 900 ]; then
	result "g key: files changed less than a second before the run ended: no cache.key" \
		"$([ ! -e "$O/current/cache.key" ] || echo "cache.key was written")"
	pl "$O" "$C" -v run "$CONF"
	expect "g key: without a key, a rerun still finds nothing new" 0 "nothing new since run"
	result "g key: without a key, the rerun compares with the cache" "$(! keyused || echo 'a key was used')"
elif [ -e "$O/current/cache.key" ]; then
	pl "$O" "$C" -v run "$CONF"
	expect "g key: files settled at the run's end: a rerun finds nothing new" 0 "nothing new since run"
	result "g key: files settled at the run's end: the rerun takes the key" \
		"$(keyused || echo 'the key was not used')"
else
	skip "g key: no cache.key for files changed just before" "copying and running took $ms ms"
fi
# A new file, and a second for every file: the next run's key is written.
sleep 1.1
newtext key1 >"$C/zz-key-1.txt"
sleep 1.1
pl "$O" "$C" -v run "$CONF"
expect "g key: a new file is read" 0 "1 new, 0 changed, 0 removed"
result "g key: every file older than a second when hashed: cache.key written" \
	"$([ -s "$O/current/cache.key" ] || echo "no cache.key in $(cur "$O")")"
id=$(cur "$O")
id=${id#sets/}
snap "$O" >"$T/snap.before"
pl "$O" "$C" -v run "$CONF"
expect "g key: rerun: nothing new" 0 "pipeline: nothing new since run $id"
result "g key: rerun: the listing matched the key" "$(keyused || echo 'the key was not used')"
unchanged "g key: rerun by the key: not a byte changed"
pl "$O" "$C" -v -c run.threads=1 run "$CONF"
result "g key: run.threads=1 lists alike: the key matches" "$(keyused || echo 'the key was not used')"
pl "$O" "$C" -v -c kmeans.k=3 run "$CONF"
expect "g key: another k: a new set, from the cache" 0 "0 new, 0 changed, 0 removed"
result "g key: another k: the key is not used" "$(! keyused || echo 'the key was used')"
pl "$O" "$C" run "$CONF"
expect "g key: back to k = 4" 0 "0 new, 0 changed, 0 removed"
pl "$O" "$C" -v run "$CONF"
result "g key: back to k = 4: its key matches" "$(keyused || echo 'the key was not used')"
# A damaged key is ignored, not trusted.
cp "$O/current/cache.key" "$T/key.good"
"$PY" -c 'import sys; b = bytearray(open(sys.argv[1], "rb").read()); b[-20] ^= 1; open(sys.argv[1], "wb").write(b)' \
	"$O/current/cache.key"
pl "$O" "$C" -v run "$CONF"
expect "g key: damaged key: nothing new all the same" 0 "nothing new since run"
result "g key: damaged key: not used" "$(! keyused || echo 'the damaged key was used')"
cp "$T/key.good" "$O/current/cache.key"
# touch: new stat data, same content: the key does not match, the cache
# (hashing the file) finds nothing new.
touch "$C/zz-key-1.txt"
pl "$O" "$C" -v run "$CONF"
expect "g key: after touch: nothing new" 0 "nothing new since run"
result "g key: after touch: the key is not used" "$(! keyused || echo 'the key was used')"
# A removal: one file fewer.
sleep 1.1
rm "$C/zz-key-1.txt"
pl "$O" "$C" -v run "$CONF"
expect "g key: a removal is seen" 0 "0 new, 0 changed, 1 removed"
result "g key: a removal: the key is not used" "$(! keyused || echo 'the key was used')"
# A rename: same count, same stat data, another path.
sleep 1.1
pl "$O" "$C" run "$CONF"
f=$(ls "$C" | head -n 1)
mv "$C/$f" "$C/renamed-$f"
pl "$O" "$C" -v run "$CONF"
expect "g key: a rename is seen" 0 "1 new, 0 changed, 1 removed"
result "g key: a rename: the key is not used" "$(! keyused || echo 'the key was used')"
# The stop-word list's contents decide the counts: the key holds them.
printf 'the\nof\nand\n' >"$D/stop.txt"
sleep 1.1
pl "$O" "$C" -c tokenize.stopwords="$D/stop.txt" run "$CONF"
expect "g key: a stop-word file" 0
pl "$O" "$C" -v -c tokenize.stopwords="$D/stop.txt" run "$CONF"
result "g key: a stop-word file: its key matches" "$(keyused || echo 'the key was not used')"
printf 'the\nof\nand\nbackdoor\n' >"$D/stop.txt"
pl "$O" "$C" -v -c tokenize.stopwords="$D/stop.txt" run "$CONF"
expect "g key: stop-word file edited: every file is read again" 0 "tokenize.stopwords contents changed"
result "g key: stop-word file edited: the key is not used" "$(! keyused || echo 'the key was used')"

# ---------------------------------------------------------------------
# h config changes
# ---------------------------------------------------------------------
D=$T/config C=$D/c O=$D/out
newcorpus "$C"
pl "$O" "$C" run "$CONF"
expect "h config: first run" 0
result "h config: first run: run.json's previous is null" \
	"$(grep -q '^  "previous": null,$' "$O/run.json" || echo 'previous is not null')"
pl "$O" "$C" -c tokenize.min_length=3 status "$CONF"
expect "h config: status names tokenize.min_length" 0 "tokenize.min_length" out
prev=$(prevset "$O")
pl "$O" "$C" -c tokenize.min_length=3 run "$CONF"
# A key that changes the counts: every file is read again, but the term
# ids, the cluster ids and "Since the last run" carry over (a stop-word
# or boilerplate edit must not renumber what users track over time).
expect "h config: min_length 3: the message names the key" 0 "tokenize.min_length changed"
expect "h config: min_length 3: every file is read again, ids kept" 0 \
	"reading every file again (term and cluster ids are kept)"
most_keep "[changes.tsv] h config: min_length 3"
result "h config: min_length 3: run.json says why every file was read (-q prints nothing)" \
	"$(grep -q '"read_all": "tokenize.min_length changed since the last run, and it changes the counts"}' "$O/run.json" ||
	   grep '"previous"' "$O/run.json" || echo 'no "previous" in run.json')"
result "h config: min_length 3: summary.md compares with the last run" \
	"$(grep -q '^Compared with run ' "$O/summary.md" || echo 'no comparison in summary.md')"
compare "h config: min_length 3: equals a fresh run with min_length 3, the old term ids kept" \
	"$O" "$C" "$prev" -c tokenize.min_length=3
# kmeans.k: the counts stand, the cache serves
before=$(cur "$O")
pl "$O" "$C" -c tokenize.min_length=3 -c kmeans.k=3 status "$CONF"
expect "h config: k = 3: status: cache usable, config changed" 0 \
	"cache: usable; config changed, not in a way that changes the counts" out
expect "h config: k = 3: status: reads no file, publishes" 0 \
	"a run now would: read 0 of 5 files and publish a new set" out
pl "$O" "$C" -c tokenize.min_length=3 -c kmeans.k=3 run "$CONF"
expect "h config: k = 3: rerun reads nothing" 0 "0 new, 0 changed, 0 removed, 5 unchanged"
result "h config: k = 3: run.json: 5 unchanged, nothing read again" \
	"$(grep -q '"new": 0, "changed": 0, "removed": 0, "unchanged": 5, "read_all": null}' "$O/run.json" ||
	   grep '"previous"' "$O/run.json" || echo 'no "previous" in run.json')"
result "h config: k = 3: the cache served (no 'cannot be used')" \
	"$(! grep 'cannot be used' "$T/stderr")"
result "h config: k = 3: a new set is published" \
	"$([ "$(cur "$O")" != "$before" ] || echo "current still $before")"
result "h config: k = 3: 3 clusters" \
	"$([ "$(($(wc -l <"$O/clusters.tsv") - 1))" -eq 3 ] || echo "clusters.tsv: $(wc -l <"$O/clusters.tsv") lines")"
compare "h config: k = 3: equals a fresh run with k = 3" "$O" "$C" "" \
	-c tokenize.min_length=3 -c kmeans.k=3
pl "$O" "$C" -c tokenize.min_length=3 -c kmeans.k=3 run "$CONF"
expect "h config: k = 3 again: nothing new" 0 "nothing new since run"
# The boilerplate file's content decides the counts, its name does not.
cp "$TOP/corpus/boilerplate.regex" "$D/bp.regex"
pl "$O" "$C" -c tokenize.min_length=3 -c kmeans.k=3 -c corpus.boilerplate="$D/bp.regex" run "$CONF"
if grep -q 'cannot be used' "$T/stderr"; then
	note "h config: the same boilerplate from a file of another name: the cache is not used ($(grep -o 'cannot be used: .*' "$T/stderr" | head -n 1))"
else
	expect "h config: the same boilerplate from a file of another name: cache used" 0 "0 new, 0 changed, 0 removed, 5 unchanged"
fi
echo '^.*[Ss]pokesperson.*$' >>"$D/bp.regex"
prev=$(prevset "$O")
pl "$O" "$C" -c tokenize.min_length=3 -c kmeans.k=3 -c corpus.boilerplate="$D/bp.regex" run "$CONF"
expect "h config: boilerplate content changed: every file is read again, ids kept" 0 \
	"corpus.boilerplate contents changed since the last run, and it changes the counts: reading every file again (term and cluster ids are kept)"
compare "h config: boilerplate content changed: equals a fresh run, the old term ids kept" "$O" "$C" "$prev" \
	-c tokenize.min_length=3 -c kmeans.k=3 -c corpus.boilerplate="$D/bp.regex"
result "[changes.tsv] h config: boilerplate content changed: changes.tsv agrees with both runs' clusters" \
	"$(changes "$O" "$prev" || cat "$T/changes")"
# A phrase taken out whose name is also a word ("backdoor = backdoor,
# back door"): the term keeps its id and becomes a word, as in a fresh run;
# the message names the phrase, not the line after it.
grep -v '^backdoor = backdoor, back door$' "$CONF" >"$D/nophrase.conf"
pl "$O" "$C" -c tokenize.min_length=3 -c kmeans.k=3 -c corpus.boilerplate="$D/bp.regex" \
	status "$D/nophrase.conf"
expect "h config: a phrase taken out: status names it" 0 "cache: phrases.backdoor changed" out
prev=$(prevset "$O")
pl "$O" "$C" -c tokenize.min_length=3 -c kmeans.k=3 -c corpus.boilerplate="$D/bp.regex" \
	run "$D/nophrase.conf"
expect "h config: a phrase taken out: read again" 0 "phrases.backdoor changed since the last run"
CONF_SAVED=$CONF CONF=$D/nophrase.conf
compare "h config: a phrase taken out: equals a fresh run (backdoor a word), ids kept" "$O" "$C" "$prev" \
	-c tokenize.min_length=3 -c kmeans.k=3 -c corpus.boilerplate="$D/bp.regex"
CONF=$CONF_SAVED
# [corpus] unit switched: no statement is the one it was (all removed,
# all new, each removed one with its paragraph as it was), and the frame
# shares of paragraphs and of files are not compared.
for to in document paragraph; do
	prev=$(prevset "$O")
	pl "$O" "$C" -c tokenize.min_length=3 -c kmeans.k=3 -c corpus.boilerplate="$D/bp.regex" \
		-c corpus.unit=$to run "$CONF"
	expect "h config: unit switched to $to: read again" 0 "corpus.unit changed since the last run"
	result "[changes.tsv] h config: unit switched to $to: changes.tsv agrees with both runs" \
		"$(changes "$O" "$prev" || cat "$T/changes")"
	result "h config: unit switched to $to: no share table, says why" \
		"$(grep -q 'corpus\] unit changed): their frame shares are not compared' "$O/summary.md" || echo 'no such sentence';
		   ! grep -q '^| frame | cluster | then | now' "$O/summary.md" || echo 'a share table')"
done
# status as a run would: a missing stop-word file is 66; with a key that
# changes the counts and a file edited, -v lists it as changed.
pl "$O" "$C" -c tokenize.stopwords="$D/no-such-list.txt" status "$CONF"
expect "h config: status with a missing stop-word file: 66 as a run" 66 "no-such-list.txt"
f=$(ls "$C" | head -n 1)
cp "$C/$f" "$D/saved"
echo "One more sentence about encryption." >>"$C/$f"
pl "$O" "$C" -v -c tokenize.numbers=keep status "$CONF"
expect "h config: status -v under a config change lists the edited file" 0 "$(printf 'changed\t%s' "$f")" out
cat "$D/saved" >"$C/$f" # the same bytes again: unchanged by its hash
# corpus.dir is not part of the counts: a moved corpus is served
cp -a "$C" "$D/moved"
pl "$O" "$D/moved" -c tokenize.min_length=3 -c kmeans.k=3 -c corpus.boilerplate="$D/bp.regex" run "$CONF"
expect "h config: the corpus moved to another folder: cache used" 0 "0 new, 0 changed, 0 removed, 5 unchanged"
# A new libstemmer (a distribution's update with revised Snowball rules
# changes stems, and the library exports no version): the cache knows
# the library by its file's hash, so a different file makes the run read
# every file again, ids kept.  Here a copy with a byte appended, found
# first through LD_LIBRARY_PATH.
lib=$(ldd "$P" 2>/dev/null | awk '/libstemmer/ { print $3 }')
if [ -f "$lib" ]; then
	D=$T/stemlib C=$D/c O=$D/out
	newcorpus "$C"
	mkdir -p "$D/lib" && cp "$lib" "$D/lib/" && printf 'x' >>"$D/lib/${lib##*/}"
	pl "$O" "$C" run "$CONF"
	expect "h config: libstemmer: first run" 0
	prev=$(prevset "$O")
	LD_LIBRARY_PATH=$D/lib "$P" -c output.dir="$O" -c corpus.dir="$C" -c corpus.unit="$UNIT" \
		run "$CONF" >"$T/stdout" 2>"$T/stderr" </dev/null
	rc=$?
	expect "h config: another libstemmer file: every file read again, ids kept" 0 \
		"stem.library changed since the last run, and it changes the counts: reading every file again (term and cluster ids are kept)"
	compare "h config: another libstemmer file: equals a fresh run" "$O" "$C" "$prev"
	pl "$O" "$C" run "$CONF"
	expect "h config: the first libstemmer again: every file read again" 0 "stem.library changed"
	pl "$O" "$C" -c stem.language=none run "$CONF"
	expect "h config: no stemmer: the library is not part of the counts" 0 "stem.language changed"
	LD_LIBRARY_PATH=$D/lib "$P" -c output.dir="$O" -c corpus.dir="$C" -c corpus.unit="$UNIT" \
		-c stem.language=none run "$CONF" >"$T/stdout" 2>"$T/stderr" </dev/null
	rc=$?
	expect "h config: no stemmer, another libstemmer file: nothing new" 0 "nothing new since run"
else
	skip "h config: libstemmer" "not linked to a shared libstemmer"
fi

# ---------------------------------------------------------------------
# i status and verify
# ---------------------------------------------------------------------
D=$T/status C=$D/c O=$D/out
newcorpus "$C"
pl "$O" "$C" -v status "$CONF"
expect "i status: nothing published" 0 "published: nothing yet" out
expect "i status: nothing published: 5 new" 0 "files: 5 new, 0 changed, 0 removed, 0 unchanged" out
pl "$O" "$C" verify "$CONF"
expect "i verify: nothing published: 66" 66 "nothing published"
pl "$O" "$C" run "$CONF"
expect "i status: first run" 0
pl "$O" "$C" -v status "$CONF"
expect "i status: after the run: would change nothing" 0 "a run now would: change nothing" out
result "i status -v: after the run: no file listed" \
	"$(! grep -E '^(new|changed|removed)	' "$T/stdout")"
pl "$O" "$C" verify "$CONF"
expect "i verify: a good set: 0" 0
echo "the encryption of the walrus" >"$C/a-new.txt"
mkdir "$C/sub" && echo "zebra surveillance" >"$C/sub/b-new.txt"
echo "appended line" >>"$C/2021-07-05_mfa_wang-wenbin_us-back-doors-user-data.txt"
rm "$C/2015_news_china-defends-back-door-demands-obama.txt"
pl "$O" "$C" -v status "$CONF"
expect "i status: 2 new, 1 changed, 1 removed" 0 "files: 2 new, 1 changed, 1 removed, 3 unchanged" out
got=$(grep -E '^(new|changed|removed)	' "$T/stdout" | LC_ALL=C sort | tr '\t\n' ' |')
want="changed 2021-07-05_mfa_wang-wenbin_us-back-doors-user-data.txt|new a-new.txt|new sub/b-new.txt|removed 2015_news_china-defends-back-door-demands-obama.txt|"
result "i status -v: one line per new, changed, removed file" \
	"$([ "$got" = "$want" ] || echo "got '$got'")"
snap "$O" >"$T/snap.before"
pl "$O" "$C" status "$CONF"
unchanged "i status writes nothing"
pl "$O" "$C" run "$CONF"
pl "$O" "$C" -v status "$CONF"
expect "i status: after the rerun: would change nothing" 0 "a run now would: change nothing" out
pl "$O" "$C" verify "$CONF"
expect "i verify: after a rerun: 0" 0
cp -a "$O" "$D/tamper"
printf 'x' >>"$D/tamper/current/docs.tsv"
pl "$D/tamper" "$C" verify "$CONF"
expect "i verify: a published file changed: 65" 65
result "i verify: names the file" "$(grep -q docs.tsv "$T/stdout" "$T/stderr" || echo "docs.tsv not named")"
# It reads no further than the length the manifest gives and a byte (a
# file something keeps writing must not keep verify reading), so it says
# "longer", not a length and a hash of part of the file.
result "i verify: a longer file is called longer" "$(grep -q "docs.tsv: differs from the manifest (longer than the [0-9]* bytes it lists)" "$T/stdout" || { echo "got:"; cat "$T/stdout"; })"
rm -rf "$D/tamper" && cp -a "$O" "$D/tamper"
rm "$D/tamper/current/ksweep.tsv"
pl "$D/tamper" "$C" verify "$CONF"
expect "i verify: a published file missing: 65" 65
result "i verify: names the missing file" "$(grep -q ksweep.tsv "$T/stdout" "$T/stderr" || echo "ksweep.tsv not named")"
rm -rf "$D/tamper" && cp -a "$O" "$D/tamper"
rm "$D/tamper/clusters.tsv"
pl "$D/tamper" "$C" verify "$CONF"
expect "i verify: a top-level link missing: 65" 65
result "i verify: names the link" "$(grep -q clusters.tsv "$T/stdout" "$T/stderr" || echo "clusters.tsv not named")"
# A manifest that lists less than the set holds: its header line gone, or
# cut at a line end.  Neither may pass for a shorter list.
rm -rf "$D/tamper" && cp -a "$O" "$D/tamper"
sed -i '/^file	bytes/d' "$D/tamper/current/manifest.tsv"
pl "$D/tamper" "$C" verify "$CONF"
expect "i verify: the manifest's header line gone: 65" 65
result "i verify: says so" "$(grep -q "not the header" "$T/stdout" || echo "$(head -c 300 "$T/stdout")")"
rm -rf "$D/tamper" && cp -a "$O" "$D/tamper"
head -n 8 "$D/tamper/current/manifest.tsv" >"$T/m" && cat "$T/m" >"$D/tamper/current/manifest.tsv"
pl "$D/tamper" "$C" verify "$CONF"
expect "i verify: the manifest cut at a line end: 65" 65
result "i verify: names a file the manifest lost" \
	"$(grep -q "in the set but not in manifest.tsv" "$T/stdout" || echo "$(head -c 300 "$T/stdout")")"
# A length field that is not a number (its digits then more): the line is
# malformed, not a file "longer than" part of the field.
rm -rf "$D/tamper" && cp -a "$O" "$D/tamper"
sed -i 's/^\(clusters\.tsv\t[0-9]*\)\t/\1x\t/' "$D/tamper/current/manifest.tsv"
pl "$D/tamper" "$C" verify "$CONF"
expect "i verify: a length field that is not a number: 65" 65
result "i verify: calls the line malformed" \
	"$(grep -q "manifest.tsv:[0-9]*: malformed line" "$T/stdout" || echo "$(head -c 300 "$T/stdout")")"
# A symbolic link where a file of the set belongs, to an identical copy
# outside: the set is what is checked, not what a link leads to.
rm -rf "$D/tamper" && cp -a "$O" "$D/tamper"
cp "$D/tamper/current/frames.tsv" "$D/frames.copy"
rm "$D/tamper/current/frames.tsv" && ln -s "$D/frames.copy" "$D/tamper/current/frames.tsv"
pl "$D/tamper" "$C" verify "$CONF"
expect "i verify: a link to an identical copy where a file belongs: 65" 65
result "i verify: names it" "$(grep -q "frames.tsv: a symbolic link" "$T/stdout" || echo "$(head -c 300 "$T/stdout")")"
# manifest.tsv a FIFO: refused at once (under timeout: it used to wait
# for a writer forever).
rm -rf "$D/tamper" && cp -a "$O" "$D/tamper"
rm "$D/tamper/current/manifest.tsv" && mkfifo "$D/tamper/current/manifest.tsv"
timeout 60 "$P" -c output.dir="$D/tamper" verify "$CONF" >"$T/stdout" 2>"$T/stderr" </dev/null
rc=$?
expect "i verify: manifest.tsv a FIFO: 66 at once" 66 "manifest.tsv: not a regular file"
rm -rf "$D/tamper"
# status with cache.idx damaged and cache.key intact says what a run does:
# the key matches, so nothing (a run does not read the index then).
# (A fresh folder, two seconds after the corpus last changed, so that the
# run's files are settled and it writes the key: see cache.h.)
sleep 2
pl "$D/keyed" "$C" run "$CONF"
if [ -f "$D/keyed/current/cache.key" ]; then
	printf 'X' | dd of="$D/keyed/current/cache.idx" bs=1 seek=100 conv=notrunc 2>/dev/null
	pl "$D/keyed" "$C" status "$CONF"
	expect "i status: cache.idx damaged, cache.key matching: a run would change nothing" 0 \
		"a run now would: change nothing" out
	expect "i status: and does not call the files new" 0 \
		" unchanged, by cache.key" out
	pl "$D/keyed" "$C" run "$CONF"
	expect "i status: and a run indeed changes nothing" 0 "nothing new since run"
else
	skip "i status: cache.idx damaged, cache.key matching" "no cache.key (files changed within a second of the run)"
fi
# current naming a set that is gone: status says so (verify fails, 66)
set_dir=$(cd "$D/keyed" && readlink current)
mv "$D/keyed/$set_dir" "$D/keyed.gone"
pl "$D/keyed" "$C" status "$CONF"
expect "i status: the published set missing: says so" 0 "is missing" out
pl "$D/keyed" "$C" verify "$CONF"
expect "i status: and verify fails" 66 "manifest.tsv"
rm -rf "$D/keyed" "$D/keyed.gone"

# [corpus] max_file_mb lowered below a file the cache holds: a fresh run
# would stop on it (65), so status and the rerun do, naming it, whether or
# not the summary quotes it, and the published outputs stay.  A gzip
# file's limit is on its inflated length, which cache.idx records.
# stops_at_limit WHAT TEXT: with max_file_mb = 1, status and then a run
# both stop with 65 and TEXT on stderr.
stops_at_limit() {
	pl "$O" "$C" -c corpus.max_file_mb=1 status "$CONF"
	expect "i max_file_mb lowered, $1: status stops as the run will (65)" 65 "$2"
	pl "$O" "$C" -c corpus.max_file_mb=1 run "$CONF"
	expect "i max_file_mb lowered, $1: the run stops (65)" 65 "$2"
}
D=$T/limit C=$D/c O=$D/out
newcorpus "$C"
yes "Encryption backdoor surveillance, the spokesperson said again." | head -c 1300000 >"$C/zz-big.txt"
yes "A double standard on surveillance, the ministry said again." | head -c 1300000 | gzip >"$C/zz-gz.txt.gz"
pl "$O" "$C" run "$CONF"
expect "i max_file_mb: a first run with the default limit" 0
outputs "$O" >"$T/out.before"
stops_at_limit "a cached file" "zz-big.txt: larger than [corpus] max_file_mb = 1 MiB; raise"
outputs "$O" >"$T/out.after"
result "i max_file_mb lowered: the published outputs stay" \
	"$(cmp -s "$T/out.before" "$T/out.after" || echo "the outputs changed")"
rm "$C/zz-big.txt"
pl "$O" "$C" run "$CONF"
expect "i max_file_mb: a rerun with the default limit" 0
stops_at_limit "a cached gzip file (its inflated length)" \
	"zz-gz.txt.gz: larger than [corpus] max_file_mb = 1 MiB (after decompression)"
pl "$O" "$C" -c corpus.max_file_mb=2 run "$CONF"
expect "i max_file_mb: raised above it, the cache serves" 0 "0 new, 0 changed, 0 removed"
# An index without lengths (PLCIDX02 and 01, made by older builds): a
# gzip file's inflated length is unknown (its record has its text's
# length, which for UTF-16 is another), so a run reads such a file again,
# once, status says so, and the next index has the length.
if "$PY" -c 'import xxhash' 2>/dev/null; then
	"$PY" "$EQ" to_v1 "$O/current/cache.idx" >"$T/eq" 2>&1 &&
		[ "$(head -c 8 "$O/current/cache.idx")" = PLCIDX01 ] ||
		bad "i max_file_mb: the index rewritten as PLCIDX01" "failed:" "$T/eq"
	pl "$O" "$C" -c corpus.max_file_mb=1 status "$CONF"
	expect "i max_file_mb, an index without lengths: status says the gzip file is read again" 0 \
		"lacks the inflated length of 1 gzip file: a run reads it again, once" out
	expect "i max_file_mb, an index without lengths: status counts it among the files read" 0 \
		"a run now would: read 1 of 6 files" out
	pl "$O" "$C" -c corpus.max_file_mb=1 run "$CONF"
	expect "i max_file_mb lowered, an index without lengths: the rerun reads it and stops" 65 \
		"zz-gz.txt.gz: larger than [corpus] max_file_mb = 1 MiB (after decompression)"
	expect "i max_file_mb lowered, an index without lengths: the cache served the rest" 65 \
		"0 new, 0 changed, 0 removed, 6 unchanged files (reading unchanged gzip files again"
	# UTF-16 text: as UTF-8 it is half its inflated length for ASCII,
	# half as much again for Chinese.  The length recorded after such a
	# run is the inflated one.
	rm "$C/zz-gz.txt.gz"
	{ printf '\377\376'; yes "Backdoors in encrypted products." | head -c 650000 |
		iconv -f UTF-8 -t UTF-16LE; } | gzip >"$C/zz-u16.txt.gz"
	{ printf '\377\376'; yes "加密产品中的后门与双重标准。" | head -c 1350000 |
		iconv -f UTF-8 -t UTF-16LE; } | gzip >"$C/zz-u16zh.txt.gz"
	pl "$O" "$C" run "$CONF"
	expect "i max_file_mb: two UTF-16 gzip files" 0
	"$PY" "$EQ" to_v1 "$O/current/cache.idx" >"$T/eq" 2>&1 ||
		bad "i max_file_mb: the index rewritten as PLCIDX01" "failed:" "$T/eq"
	newtext limit >"$C/zz-added.txt"
	pl "$O" "$C" run "$CONF"
	expect "i max_file_mb: a rerun from an index without lengths reads them again" 0 \
		"1 new, 0 changed, 0 removed, 7 unchanged files (reading unchanged gzip files again"
	stops_at_limit "then: UTF-16 ASCII's inflated length (1.3 MB, 0.65 MB as UTF-8)" \
		"zz-u16.txt.gz: larger than [corpus] max_file_mb = 1 MiB (after decompression)"
	rm "$C/zz-u16.txt.gz"
	pl "$O" "$C" -c corpus.max_file_mb=1 run "$CONF"
	expect "i max_file_mb lowered after it: UTF-16 Chinese under the limit passes (0.9 MB, 1.35 MB as UTF-8)" 0 \
		"0 new, 0 changed, 1 removed, 7 unchanged files"
	# A new file over the limit: status stops as the run will, by its size
	yes "A new and very long statement on surveillance." | head -c 1300000 >"$C/zz-new.txt"
	stops_at_limit "a new file" "zz-new.txt: larger than [corpus] max_file_mb = 1 MiB; raise"
else
	skip "i max_file_mb lowered, an index without lengths" "Python's xxhash module is missing"
fi

# ---------------------------------------------------------------------
# The larger corpus for j and k: the bundled corpus BIG_COPIES (400)
# times, each copy with its own marker word so that no two files are
# identical (2000 files, 5 MB; a rerun with a few files added takes about
# a second).
# ---------------------------------------------------------------------
BIG=$T/big
BIG_COPIES=${BIG_COPIES:-400}
i=0
while [ $((i * 100)) -lt "$BIG_COPIES" ]; do
	mkdir -p "$BIG/c$i" || exit 1
	i=$((i + 1))
done
awk -v dir="$BIG" -v n="$BIG_COPIES" '
FNR == 1 { nf++; name[nf] = FILENAME; sub(/.*\//, "", name[nf]) }
{ text[nf] = text[nf] $0 "\n" }
END {
	for (i = 0; i < n; i++) {
		d = sprintf("%s/c%d", dir, int(i / 100))
		for (f = 1; f <= nf; f++) {
			path = sprintf("%s/%d-%s", d, i, name[f])
			printf "%s\nmarker%d\n", text[f], i > path
			close(path)
		}
	}
}' "$TOP"/corpus/*.txt || exit 1

# ---------------------------------------------------------------------
# j the lock
# ---------------------------------------------------------------------
D=$T/lock O=$D/out
newcorpus "$D/c"
pl "$O" "$D/c" run "$CONF"
expect "j lock: first run" 0
if command -v flock >/dev/null 2>&1; then
	echo "a new statement about the lighthouse" >"$D/c/new.txt"
	snap "$O" >"$T/snap.before"
	(
		exec 9<>"$O/.lock" || exit 1
		flock 9 || exit 1
		: >"$D/held"
		exec sleep 30
	) &
	holder=$!
	BG="$BG $holder"
	if waitfor 5 test -e "$D/held"; then
		pl "$O" "$D/c" run "$CONF"
		expect "j lock: held by flock(1): exit 75" 75
		expect "j lock: the message names the lock" 75 "$O/.lock"
		expect "j lock: and says another run (pid ...)" 75 "another run (pid "
		unchanged "j lock: nothing written while locked"
		pl "$O" "$D/c" status "$CONF"
		expect "j lock: status works while locked" 0 "files: 1 new" out
	else
		bad "j lock: flock(1) did not take the lock" "in 5 s"
	fi
	kill "$holder" 2>/dev/null
	wait "$holder" 2>/dev/null
	pl "$O" "$D/c" run "$CONF"
	expect "j lock: the run after the holder died" 0
else
	skip "j lock: held by flock(1)" "no flock command (util-linux)"
fi

# Two real runs.  Deterministic: B starts only once A holds the lock (A
# writes its pid into .lock right after taking it), and B's refusal counts
# only if A was still running when B had finished; the corpus (2000 files)
# makes A take far longer than B's refusal.
O=$D/two
"$P" -c output.dir="$O" -c corpus.dir="$BIG" run "$CONF" >"$D/a.out" 2>"$D/a.err" </dev/null &
A=$!
BG="$BG $A"
if waitfor 20 sh -c '[ "$(cat "$1" 2>/dev/null)" = "$2" ] || ! kill -0 "$2" 2>/dev/null' sh "$O/.lock" "$A" &&
   kill -0 "$A" 2>/dev/null; then
	pl "$O" "$BIG" run "$CONF"
	alive=no
	kill -0 "$A" 2>/dev/null && alive=yes
	wait "$A"
	ra=$?
	if [ "$alive" = yes ]; then
		expect "j lock: a second run while the first holds the lock: exit 75" 75 "(pid $A)"
		result "j lock: the first run succeeds" "$([ "$ra" -eq 0 ] || echo "exit $ra")"
	else
		skip "j lock: a second run while the first holds the lock" \
			"inconclusive: the first run finished before the second (exits $ra, $rc)"
	fi
else
	wait "$A"
	skip "j lock: a second run while the first holds the lock" "the first run ended before it could be seen holding the lock"
fi
layout "j lock: the first run's set" "$O"
# Started at once: one wins, the other exits 75 -- or, if one finished
# before the other began, the second finds nothing new.  Either way
# exactly one publishes.
O=$D/three
echo "a new statement for the race" >"$BIG/race.txt"
"$P" -c output.dir="$O" -c corpus.dir="$BIG" run "$CONF" >/dev/null 2>"$D/r1.err" </dev/null &
A=$!
"$P" -c output.dir="$O" -c corpus.dir="$BIG" run "$CONF" >/dev/null 2>"$D/r2.err" </dev/null &
B=$!
BG="$BG $A $B"
wait "$A"
ra=$?
wait "$B"
rb=$?
rm "$BIG/race.txt"
nruns=$(ls "$O/runs" 2>/dev/null | wc -l)
case "$ra $rb" in
"0 75" | "75 0") why= ;;
"0 0") why=$(grep -qh 'nothing new' "$D/r1.err" "$D/r2.err" || echo "both exited 0 and neither found nothing new") ;;
*) why="exits $ra and $rb" ;;
esac
[ "$nruns" -eq 1 ] || why="${why:+$why; }$nruns reports in runs/"
result "j lock: two runs started at once: one publishes, the other exits 75 (exits $ra, $rb)" "$why"

# ---------------------------------------------------------------------
# k SIGKILL during reruns
# ---------------------------------------------------------------------
D=$T/kill C=$D/c O=$D/out
mkdir -p "$D" && cp -R "$BIG" "$C" || exit 1
pl "$O" "$C" run "$CONF"
expect "k kill: first run ($(find "$C" -type f | wc -l) files)" 0
[ "$rc" -eq 0 ] || exit 1
# How long a rerun takes: one on a copy.
cp -a "$O" "$D/trial"
newtext trial >"$C/trial.txt"
t0=$(date +%s.%N)
pl "$D/trial" "$C" run "$CONF"
t1=$(date +%s.%N)
rm -rf "$D/trial" "$C/trial.txt"
# a little past the end, so that some kills land in the publication
KMAX=$(awk -v a="$t0" -v b="$t1" 'BEGIN { d = 1.1 * (b - a); printf "%.2f", d < 0.3 ? 0.3 : d }')
echo "     a rerun takes ${KMAX}s; killing after 0..${KMAX}s"
DELAYS=$(awk -v n="${KILL_ROUNDS:-8}" -v m="$KMAX" -v s="${KILL_SEED:-1}" \
	'BEGIN { srand(s); for (i = 0; i < n; i++) printf "%.3f ", rand() * m }')
r=1
for delay in $DELAYS; do
	# new files every round, so that each run is a rerun with work to do
	mkdir -p "$C/round$r"
	newtext "round$r" >"$C/round$r/a.txt"
	newtext "round$r again" | gzip -n >"$C/round$r/b.txt.gz"
	before=$(cur "$O")
	outputs "$O" >"$T/out.before"
	"$P" -q -c output.dir="$O" -c corpus.dir="$C" run "$CONF" 2>"$T/stderr" </dev/null &
	pid=$!
	sleep "$delay"
	kill -9 "$pid" 2>/dev/null
	{ wait "$pid"; } 2>/dev/null
	rc=$?
	case $rc in
	0) state=finished ;;
	137) state=killed ;;
	*) state="exit $rc" ;;
	esac
	why=
	"$P" -c output.dir="$O" verify "$CONF" >"$T/verify" 2>&1 || why="verify: exit $?"
	for f in "$O"/*.gz; do
		gzip -t "$f" 2>/dev/null || why="${why:+$why; }${f##*/}: corrupt gzip"
	done
	outputs "$O" >"$T/out.after"
	case $state in
	killed)
		if [ "$(cur "$O")" = "$before" ]; then
			cmp -s "$T/out.before" "$T/out.after" || why="${why:+$why; }current unchanged but the outputs changed"
		else
			# killed after the switch of `current`: the new set is
			# whole (verify above) and must be right
			state="killed after publishing"
			"$P" -q -c output.dir="$D/fresh" -c corpus.dir="$C" -c output.incremental=no \
				run "$CONF" 2>/dev/null </dev/null
			"$PY" "$EQ" equal "$O" "$D/fresh" >"$T/eq" 2>&1 ||
				why="${why:+$why; }the set published before the kill differs from a fresh run: $(head -n 3 "$T/eq" | tr '\n' ' ')"
			rm -rf "$D/fresh"
		fi
		;;
	finished)
		[ "$(cur "$O")" != "$before" ] || why="${why:+$why; }finished, current unchanged"
		;;
	*)
		why="${why:+$why; }$state"
		;;
	esac
	result "k kill: round $r, SIGKILL after ${delay}s ($state)" "$why"
	[ -z "$why" ] || sed -n '1,5s/^/     | /p' "$T/verify"
	r=$((r + 1))
done
prev=$(prevset "$O")
nsets=$(ls "$O/sets" | wc -l)
pl "$O" "$C" run "$CONF"
expect "k kill: the run after the kills succeeds ($nsets sets before it)" 0
compare "k kill: and equals a fresh run" "$O" "$C" "$prev"
layout "k kill: no set left beyond current and previous" "$O"

# ---------------------------------------------------------------------
# l a damaged cache
# ---------------------------------------------------------------------
# flip FILE: invert the byte in the middle of FILE, in place.
flip() {
	"$PY" -c 'import os, sys
f = open(sys.argv[1], "r+b")
off = os.path.getsize(sys.argv[1]) // 2
f.seek(off)
b = f.read(1)
f.seek(off)
f.write(bytes([b[0] ^ 0xff]))' "$1"
}

D=$T/damage C=$D/c
newcorpus "$C"
for how in truncated corrupted empty folder; do
	O=$D/idx.$how
	pl "$O" "$C" run "$CONF"
	expect "l damaged cache.idx ($how): first run" 0
	before=$(cur "$O")
	case $how in
	truncated) truncate -s $(($(stat -c %s "$O/current/cache.idx") / 2)) "$O/current/cache.idx" ;;
	corrupted) flip "$O/current/cache.idx" ;;
	empty) : >"$O/current/cache.idx" ;;
	folder) rm "$O/current/cache.idx" && mkdir "$O/current/cache.idx" ;;
	esac
	# A cache.key that matches stops a run with nothing new before it
	# reads the index (the outputs stay as they are, and stay right).
	# Whether the first run wrote one depends on the machine's speed (its
	# files are settled a second after their change): without it, the
	# run reads the index.
	rm -f "$O/current/cache.key"
	pl "$O" "$C" run "$CONF"
	expect "l damaged cache.idx ($how): reported, every file read" 0 "the cache cannot be used: "
	expect "l damaged cache.idx ($how): the message names cache.idx" 0 "cache.idx"
	result "l damaged cache.idx ($how): a new set" "$([ "$(cur "$O")" != "$before" ] || echo "current unchanged")"
	compare "l damaged cache.idx ($how): equals a fresh run" "$O" "$C" ""
	pl "$O" "$C" run "$CONF"
	expect "l damaged cache.idx ($how): the new cache serves: nothing new" 0 "nothing new since run"
done
# The set with a folder in it (the last case above, $before) is pruned as
# any other once two newer sets are published; a symbolic link among the
# sets is removed, and the folder it points to is left as it was.
O=$D/idx.folder
mkdir "$D/elsewhere" && echo keep >"$D/elsewhere/file"
ln -s "$D/elsewhere" "$O/sets/20000101T000000Z-1"
newtext prune >"$C/added.txt"
pl "$O" "$C" run "$CONF"
expect "l pruning: a rerun with a new file" 0
result "l pruning: the set with a folder in it is removed" \
	"$([ ! -e "$O/$before" ] || echo "$before is still there: $(ls -R "$O/$before" | tr '\n' ' ')")"
result "l pruning: a link among the sets is removed, not followed" \
	"$([ ! -L "$O/sets/20000101T000000Z-1" ] || echo "the link is still there";
	   [ "$(cat "$D/elsewhere/file" 2>/dev/null)" = keep ] || echo "the folder it points to was emptied")"
# Pruning removes only what this program made: in sets/ the names that
# are run ids, in runs/ the reports ID.json.  A user's files and folders
# there stay; the report of the run that prunes stays, though one from a
# clock set ahead sorts after it.
mkdir "$O/sets/experiment1" && echo keep >"$O/sets/experiment1/results.csv"
echo keep >"$O/sets/notes.txt"
echo keep >"$O/runs/zz-notes.txt"
echo '{}' >"$O/runs/29990101T000000Z-1.json"
newtext prune2 >"$C/added2.txt"
pl "$O" "$C" -c output.keep_runs=1 run "$CONF"
expect "l pruning: a rerun after files were put in sets/ and runs/ by hand" 0
result "l pruning: files and folders not named as runs stay in sets/ and runs/" \
	"$([ "$(cat "$O/sets/experiment1/results.csv" 2>/dev/null)" = keep ] || echo "sets/experiment1/results.csv is gone";
	   [ "$(cat "$O/sets/notes.txt" 2>/dev/null)" = keep ] || echo "sets/notes.txt is gone";
	   [ "$(cat "$O/runs/zz-notes.txt" 2>/dev/null)" = keep ] || echo "runs/zz-notes.txt is gone")"
id=$(cur "$O")
id=${id#sets/}
result "l pruning: keep_runs = 1 keeps this run's report, not the one sorting after it" \
	"$(n=$(ls "$O/runs" | grep -c '[.]json$'); [ "$n" -eq 1 ] && [ -f "$O/runs/$id.json" ] ||
	   echo "runs/ has $(ls "$O/runs" | tr '\n' ' ')")"
# A folder mounted at a set's name, or inside a set (a bind mount of the
# same file system too), is neither entered nor emptied.
if [ "$(id -u)" -eq 0 ] && mkdir -p "$D/mnt1" "$D/mnt2" "$O/sets/20000101T000000Z-2" \
	"$O/sets/20000101T000000Z-3/inner" && echo keep >"$D/mnt1/file" && echo keep >"$D/mnt2/file" &&
	mount --bind "$D/mnt1" "$O/sets/20000101T000000Z-2" 2>/dev/null; then
	MOUNTS="$O/sets/20000101T000000Z-2"
	mount --bind "$D/mnt2" "$O/sets/20000101T000000Z-3/inner" 2>/dev/null &&
		MOUNTS="$O/sets/20000101T000000Z-3/inner $MOUNTS"
	newtext prune3 >"$C/added2.txt"
	pl "$O" "$C" run "$CONF"
	expect "l pruning: a rerun with folders mounted among the sets" 0
	result "l pruning: a set left with a mount inside is said (every run that tries)" \
		"$(grep -q 'warning: cannot remove .*/sets/20000101T000000Z-3: ' "$T/stderr" || { echo "no warning; stderr:"; cat "$T/stderr"; })"
	for m in $MOUNTS; do umount "$m"; done
	MOUNTS=
	result "l pruning: a folder mounted at a set's name is not emptied" \
		"$([ "$(cat "$D/mnt1/file" 2>/dev/null)" = keep ] || echo "its file is gone")"
	result "l pruning: a folder mounted inside a set is not emptied" \
		"$([ "$(cat "$D/mnt2/file" 2>/dev/null)" = keep ] || echo "its file is gone")"
else
	skip "l pruning: folders mounted among the sets" "needs root and mount --bind"
fi
rm -f "$C/added2.txt"
# [output] dir pointed at a folder that has a sets/ and a runs/ of its
# own: nothing of theirs goes.
O=$D/existing
mkdir -p "$O/sets/experiment1" "$O/runs"
echo keep >"$O/sets/experiment1/results.csv"
for i in 1 2 3; do echo keep >"$O/runs/run$i.log"; done
pl "$O" "$C" -c output.keep_runs=1 run "$CONF"
expect "l pruning: a first run into a folder with sets/ and runs/ of its own" 0
result "l pruning: their files stay" \
	"$([ "$(cat "$O/sets/experiment1/results.csv" 2>/dev/null)" = keep ] || echo "sets/experiment1/results.csv is gone";
	   [ "$(ls "$O/runs" | grep -c '^run[123][.]log$')" -eq 3 ] || echo "runs/ has $(ls "$O/runs" | tr '\n' ' ')")"
# sets/ a link to a folder elsewhere (another disk, say): followed, the
# old sets in it pruned, and nothing else there touched.
O=$D/linked
mkdir -p "$D/setsdir/userdir" "$O" && echo keep >"$D/setsdir/userdir/data.csv"
ln -s "$D/setsdir" "$O/sets"
for i in 1 2 3 4; do
	newtext "linked$i" >"$C/added2.txt"
	pl "$O" "$C" run "$CONF"
	[ "$rc" -eq 0 ] || bad "l pruning: run $i with sets/ a link" "exit $rc"
done
rm -f "$C/added2.txt"
result "l pruning: sets/ a link: the two newest sets kept, the folder's own files too" \
	"$(n=$(ls "$D/setsdir" | grep -c '^[0-9]\{8\}T[0-9]\{6\}Z-[0-9]'); [ "$n" -eq 2 ] || echo "$n sets";
	   [ "$(cat "$D/setsdir/userdir/data.csv" 2>/dev/null)" = keep ] || echo "userdir/data.csv is gone")"
O=$D/idx.folder
rm -f "$C/added.txt"
for how in corrupted truncated; do
	O=$D/seg.$how
	rm -f "$C/added.txt"
	pl "$O" "$C" run "$CONF"
	expect "l damaged segment ($how): first run" 0
	newtext seg >"$C/added.txt"
	seg=$(ls -S "$O/current"/cache-*.seg | head -n 1)
	segname=${seg##*/}
	case $how in
	truncated) truncate -s $(($(stat -c %s "$seg") / 2)) "$seg" ;;
	corrupted) flip "$seg" ;;
	esac
	before=$(cur "$O")
	outputs "$O" >"$T/out.before"
	pl "$O" "$C" run "$CONF"
	outputs "$O" >"$T/out.after"
	if [ "$rc" -eq 0 ]; then
		note "l damaged segment ($how): the run succeeded (read everything again)"
		result "l damaged segment ($how): reported on stderr, naming $segname" \
			"$(grep -q "$segname" "$T/stderr" || echo "stderr does not name it")"
		compare "l damaged segment ($how): equals a fresh run" "$O" "$C" ""
	elif [ "$rc" -eq 65 ]; then
		note "l damaged segment ($how): the run failed with exit 65"
		result "l damaged segment ($how): exit 65 names $segname" \
			"$(grep -q "$segname" "$T/stderr" || echo "stderr does not name it")"
		result "l damaged segment ($how): the previous outputs intact" \
			"$([ "$(cur "$O")" = "$before" ] || echo "current moved";
			   cmp -s "$T/out.before" "$T/out.after" || echo "outputs changed")"
		cp "$T/stderr" "$T/stderr.65"
		pl "$O" "$C" run "$CONF"
		if [ "$rc" -eq 0 ]; then
			note "l damaged segment ($how): the run after it recovers"
		else
			note "l damaged segment ($how): the run after it fails again (exit $rc): the damaged cache blocks every run until output.incremental=no"
		fi
		cp "$T/stderr.65" "$T/stderr"
	else
		bad "l damaged segment ($how): exit $rc" "neither a correct run nor exit 65"
	fi
done
rm -f "$C/added.txt"
# A cache file cut short by another program while a run has it mapped
# (tests/shim/truncate_shim.c truncates it to half right after the mmap):
# reading past the half is a SIGBUS, which killed the run without a word
# (exit 135).  The run now says which file and exits 74; the published
# outputs stay, and the next run reads every file again.
if ${CC:-cc} -shared -fPIC -o "$T/truncate_shim.so" "$TOP/tests/shim/truncate_shim.c" -ldl 2>"$T/cc.err"; then
	for what in cache.idx .seg; do
		O=$D/sigbus$what
		pl "$O" "$C" run "$CONF"
		expect "l cut short while mapped ($what): first run" 0
		newtext sigbus >"$C/added.txt"
		before=$(cur "$O")
		outputs "$O" >"$T/out.before"
		# (not through pl: an assignment before a shell function may
		# outlive the call in some shells; ASan wants its runtime first
		# among the preloaded libraries unless told otherwise)
		env LD_PRELOAD="$T/truncate_shim.so" SHIM_TRUNCATE="$what" \
			ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
			"$P" -c output.dir="$O" -c corpus.dir="$C" -c corpus.unit="$UNIT" \
			run "$CONF" >"$T/stdout" 2>"$T/stderr" </dev/null
		rc=$?
		expect "l cut short while mapped ($what): exit 74, naming the file" 74 \
			"$what: could not be read while the run had it mapped"
		# (two read threads may fault at once: one message, whole)
		result "l cut short while mapped ($what): one message" \
			"$(n=$(grep -c "could not be read while" "$T/stderr"); [ "$n" -eq 1 ] ||
			   { echo "$n lines:"; head -c 600 "$T/stderr"; })"
		outputs "$O" >"$T/out.after"
		result "l cut short while mapped ($what): the published outputs stay" \
			"$([ "$(cur "$O")" = "$before" ] || echo "current moved";
			   cmp -s "$T/out.before" "$T/out.after" || echo "outputs changed")"
		pl "$O" "$C" run "$CONF"
		case $what in
		.seg) again="missing or of the wrong size; reading its files again" ;;
		*) again="reading every file" ;;
		esac
		expect "l cut short while mapped ($what): the next run reads the files again" 0 "$again"
		compare "l cut short while mapped ($what): and equals a fresh run" "$O" "$C" ""
		rm -f "$C/added.txt"
	done
	# A SIGBUS sent by kill(2), not a fault: the default action, as
	# before (the handler took it for a fault elsewhere and the run went
	# on, its guard gone).
	newtext sigbus >"$C/added.txt"
	env LD_PRELOAD="$T/truncate_shim.so" SHIM_TRUNCATE=cache.idx SHIM_KILL_SELF=1 \
		ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0:handle_sigbus=0" \
		"$P" -c output.dir="$O" -c corpus.dir="$C" -c corpus.unit="$UNIT" \
		run "$CONF" >"$T/stdout" 2>"$T/stderr" </dev/null
	rc=$?
	expect "l a SIGBUS sent by kill: dies of it (135)" 135
	rm -f "$C/added.txt"
else
	skip "l cut short while mapped" "no C compiler for the shim: $(head -n 1 "$T/cc.err")"
fi

# ---------------------------------------------------------------------
# m runs/ history, failed runs
# ---------------------------------------------------------------------
D=$T/runs C=$D/c O=$D/out
newcorpus "$C"
for k in 4 3 2; do
	pl "$O" "$C" -c output.keep_runs=2 -c kmeans.k=$k run "$CONF"
	[ "$rc" -eq 0 ] || bad "m runs: run with k = $k" "exit $rc"
done
previd=$(awk -F '\t' '$1 == "# previous" { print $2 }' "$O/current/manifest.tsv")
curid=$(cur "$O")
curid=${curid#sets/}
got=$(ls "$O/runs" | tr '\n' ' ')
want=$(printf '%s.json\n%s.json\n' "$previd" "$curid" | LC_ALL=C sort | tr '\n' ' ')
result "m runs: keep_runs = 2 keeps the 2 newest reports" \
	"$([ "$got" = "$want" ] || echo "runs/ has '$got', expected '$want'")"
before=$(cur "$O")
outputs "$O" >"$T/out.before"
printf 'this is not gzip data at all, only its name says so\n' >"$C/broken.txt.gz"
pl "$O" "$C" -c output.keep_runs=2 -c kmeans.k=2 run "$CONF"
expect "m runs: a corrupt .txt.gz: exit 65 naming it" 65 "broken.txt.gz"
# (newest by time, then by pid as a number, as the program orders them:
# within one second pid 1003 comes after pid 964)
newest=$(ls "$O/runs" | LC_ALL=C sort -t- -k1,1 -k2,2n | tail -n 1)
result "m runs: the failed run's report: status failed, exit 65" \
	"$(grep -q '"status": "failed"' "$O/runs/$newest" && grep -q '"exit": 65' "$O/runs/$newest" ||
	   echo "runs/$newest: $(tr '\n' ' ' <"$O/runs/$newest")")"
result "m runs: still 2 reports" "$([ "$(ls "$O/runs" | wc -l)" -eq 2 ] || echo "$(ls "$O/runs" | tr '\n' ' ')")"
outputs "$O" >"$T/out.after"
result "m runs: the failed run left current and the outputs as they were" \
	"$([ "$(cur "$O")" = "$before" ] || echo "current moved"; cmp -s "$T/out.before" "$T/out.after" || echo "outputs changed")"
layout "m runs: layout after the failed run" "$O"
rm "$C/broken.txt.gz"
pl "$O" "$C" -c output.keep_runs=2 -c kmeans.k=2 run "$CONF"
expect "m runs: the corrupt file removed: nothing new" 0 "nothing new since run"
if [ "$(id -u)" -ne 0 ]; then
	mkdir "$C/locked" && echo "text" >"$C/locked/x.txt" && chmod 000 "$C/locked"
	pl "$O" "$C" -c output.keep_runs=2 -c kmeans.k=2 run "$CONF"
	result "m runs: an unreadable subfolder fails the run (exit $rc)" "$([ "$rc" -ne 0 ] || echo "exit 0")"
	chmod 700 "$C/locked"
	rm -rf "$C/locked"
else
	skip "m runs: an unreadable subfolder" "running as root, who reads everything"
fi

# The run id comes round again: the program always pid 1 (a container)
# and the clock set back to a second it has used (unshare makes the run
# pid 1, tests/shim/clock_shim.c fixes its clock).  Four runs with one id,
# each reading a new file, two read threads: the fourth's own new segment
# cache-ID-1.seg has the name of one it carries over from the first, and
# its report that of the first's.
# It must pick another id (ID.2, ...), not copy the old segment over its
# own (which made the set fail verify and every later run exit 65) nor
# overwrite the first run's report.
D=$T/sameid C=$D/c O=$D/out
newcorpus "$C"
if ! unshare --pid --fork --mount-proc true 2>"$T/cc.err"; then
	skip "m same id" "no PID namespace for pid 1: $(head -n 1 "$T/cc.err")"
elif ${CC:-cc} -shared -fPIC -o "$T/clock_shim.so" "$TOP/tests/shim/clock_shim.c" -ldl 2>"$T/cc.err"; then
	for i in 1 2 3 4; do
		[ "$i" -eq 1 ] || newtext "sameid$i" >"$C/sameid$i.txt"
		# (not through pl: an assignment before a shell function may
		# outlive the call in some shells)
		# (ASan, in `make check SANITIZE=1`, wants its runtime first
		# among the preloaded libraries unless told otherwise)
		unshare --pid --fork --mount-proc \
			env LD_PRELOAD="$T/clock_shim.so" SHIM_TIME=1790000000 \
			ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
			"$P" -c output.dir="$O" -c corpus.dir="$C" -c corpus.unit="$UNIT" \
			-c run.threads=2 run "$CONF" >"$T/stdout" 2>"$T/stderr" </dev/null
		rc=$?
		[ "$rc" -eq 0 ] || bad "m same id: run $i" "exit $rc: $(tail -n 2 "$T/stderr" | tr '\n' ' ')"
	done
	result "m same id: each run got an id of its own" \
		"$([ "$(ls "$O/runs" | wc -l)" -eq 4 ] || echo "runs/ has $(ls "$O/runs" | tr '\n' ' ')")"
	layout "m same id: the fourth set passes verify" "$O"
	prev=$(prevset "$O")
	newtext sameid5 >"$C/sameid5.txt"
	pl "$O" "$C" run "$CONF"
	expect "m same id: the next run, at the real time, reads its cache" 0 "1 new, 0 changed, 0 removed"
	compare "m same id: and equals a fresh run" "$O" "$C" "$prev"
else
	skip "m same id" "no C compiler for the clock shim: $(head -n 1 "$T/cc.err")"
fi

# ---------------------------------------------------------------------
# n the old flat layout
# ---------------------------------------------------------------------
D=$T/flat C=$D/c O=$D/out
newcorpus "$C"
pl "$D/ref" "$C" run "$CONF"
mkdir -p "$O"
names=
for f in "$D/ref"/*; do
	b=${f##*/}
	[ -L "$f" ] && [ "$b" != current ] || continue
	case $b in manifest.tsv | sources.tsv | changes.tsv) continue ;; esac
	cp -L "$f" "$O/$b"
	names="$names $b"
done
echo "my own notes" >"$O/notes.txt"
pl "$O" "$C" run "$CONF"
expect "n flat layout: the first run over plain files" 0
why=
for b in $names; do
	[ -L "$O/$b" ] && [ "$(readlink "$O/$b")" = "current/$b" ] || why="${why:+$why; }$b is not a link to current/$b"
done
result "n flat layout: every output is now a link" "$why"
result "n flat layout: a file of the user's is left alone" \
	"$([ "$(cat "$O/notes.txt" 2>/dev/null)" = "my own notes" ] || echo "notes.txt changed or gone")"
rm -f "$O/notes.txt"
layout "n flat layout: layout" "$O"
compare "n flat layout: equals a fresh run" "$O" "$C" ""
# A run killed (SIGKILL) while it replaced the flat layout by links: its
# mark .flat-migration, some files kept as .NAME.flat with NAME a link
# already (run.json), or not yet (docs.tsv), a new name's link made
# (changes.tsv), no `current`.  The next run puts the layout back and
# migrates it.
O=$D/killed
mkdir -p "$O"
for b in $names; do cp -L "$D/ref/$b" "$O/$b"; done
: >"$O/.flat-migration"
ln "$O/run.json" "$O/.run.json.flat" && ln -sfn current/run.json "$O/run.json"
ln "$O/docs.tsv" "$O/.docs.tsv.flat"
ln -s current/changes.tsv "$O/changes.tsv"
pl "$O" "$C" run "$CONF"
expect "n flat layout, a migration killed: the next run publishes" 0
why=
for b in $names; do
	[ "$(readlink "$O/$b")" = "current/$b" ] || why="${why:+$why; }$b is not a link to current/$b"
done
! ls -A "$O" | grep -q '[.]flat$' || why="${why:+$why; }a .flat file left: $(ls -A "$O" | grep '[.]flat$' | tr '\n' ' ')"
[ ! -e "$O/.flat-migration" ] || why="${why:+$why; }the mark is left"
result "n flat layout, a migration killed: every output a link, no .flat left" "$why"
compare "n flat layout, a migration killed: equals a fresh run" "$O" "$C" ""
# Without the mark, a .NAME.flat is a user's file: left alone, whether
# NAME is the link current/NAME or `current` is missing.
echo "my notes" >"$O/.summary.md.flat"
pl "$O" "$C" run "$CONF"
expect "n flat layout: a user's .summary.md.flat, no mark: the run succeeds" 0
result "n flat layout: a user's .summary.md.flat, no mark: left alone" \
	"$([ "$(cat "$O/.summary.md.flat" 2>/dev/null)" = "my notes" ] || echo ".summary.md.flat changed or gone")"
rm -f "$O/.summary.md.flat"
mkdir -p "$D/nocur" && ln -s current/summary.md "$D/nocur/summary.md" && echo mine >"$D/nocur/.summary.md.flat"
pl "$D/nocur" "$C" run "$CONF"
expect "n flat layout: no current, a user's .summary.md.flat, no mark: the run succeeds" 0
result "n flat layout: no current, a user's .summary.md.flat, no mark: left alone" \
	"$([ "$(cat "$D/nocur/.summary.md.flat" 2>/dev/null)" = mine ] || echo ".summary.md.flat changed or gone")"
# Killed after `current` moved, before the second names went: they go.
: >"$O/.flat-migration"
cp "$D/ref/summary.md" "$O/.summary.md.flat"
echo "a note" >"$O/.notes.flat"
ln -s elsewhere "$O/.terms.tsv.gz.flat"
pl "$O" "$C" run "$CONF"
expect "n flat layout, killed after publishing: the next run (nothing new) succeeds" 0 "nothing new since run"
result "n flat layout, killed after publishing: the old file's second name goes, others stay" \
	"$([ ! -e "$O/.summary.md.flat" ] || echo ".summary.md.flat left";
	   [ "$(cat "$O/.notes.flat" 2>/dev/null)" = "a note" ] || echo ".notes.flat (no such output) touched";
	   [ -L "$O/.terms.tsv.gz.flat" ] || echo ".terms.tsv.gz.flat (a link) touched")"
rm -f "$O/.notes.flat" "$O/.terms.tsv.gz.flat"
# A user's .summary.md.flat in a flat layout, no mark: the migration
# needs that name and does not take it (73 naming it; the file kept).
O=$D/usersflat
mkdir -p "$O"
for b in $names; do cp -L "$D/ref/$b" "$O/$b"; done
echo "my notes" >"$O/.summary.md.flat"
pl "$O" "$C" run "$CONF"
expect "n flat layout with a user's .summary.md.flat: 73 naming it" 73 ".summary.md.flat"
result "n flat layout with a user's .summary.md.flat: kept, the layout as it was" \
	"$([ "$(cat "$O/.summary.md.flat" 2>/dev/null)" = "my notes" ] || echo ".summary.md.flat changed or gone";
	   [ ! -L "$O/summary.md" ] || echo "summary.md is a link";
	   [ ! -e "$O/.flat-migration" ] || echo "the mark is left")"
# A folder with a summary.md of the user's and no older version's
# run.json: not this program's layout, so the file is not replaced by a
# link.  The run fails before the first link, and publishes nothing.
O=$D/mine
mkdir -p "$O" && echo "my own summary" >"$O/summary.md"
pl "$O" "$C" run "$CONF"
expect "n not ours: a file of the user's named as an output: exit 73 naming it" 73 "summary.md: a file that this program did not make"
result "n not ours: the file is left as it was, nothing published" \
	"$([ "$(cat "$O/summary.md" 2>/dev/null)" = "my own summary" ] || echo "summary.md changed or gone";
	   [ ! -e "$O/current" ] && [ ! -L "$O/current" ] || echo "current was made";
	   [ ! -L "$O/docs.tsv" ] || echo "a link was made before the failure")"
rm "$O/summary.md"
pl "$O" "$C" run "$CONF"
expect "n not ours: moved away, the next run publishes" 0

# ---------------------------------------------------------------------
# o what a randomized differential test of reruns found (each case a
#   rerun against a fresh run): ties broken by term id, which a rerun
#   keeps append-only; a warm start blind to what the corpus gained;
#   changes.tsv of an unchanged file read again; when to read everything
#   again decided by segments, so by the number of threads
# ---------------------------------------------------------------------
UNIT=document
# The projection's sign: an axis whose largest components are two words
# of equal weight and opposite sign (one in each of two statements).
D=$T/sign C=$D/c O=$D/out
mkdir -p "$C"
printf 'apple banana cherry delta echo foxtrot golf hotel india juliet\n' >"$C/a.txt"
printf 'kilo lima mike november oscar papa quebec romeo sierra tango\n' >"$C/b.txt"
cp "$C/a.txt" "$C/x.txt"
pl "$O" "$C" -c kmeans.k=2 run "$CONF"
expect "o sign: first run" 0
prev=$(prevset "$O")
sed -i 's/juliet/zephyr/' "$C/a.txt"
pl "$O" "$C" -c kmeans.k=2 run "$CONF"
expect "o sign: a word replaced by a new one" 0
compare "o sign: tied components turn the axis as in a fresh run" "$O" "$C" "$prev" -c kmeans.k=2
# max_features: terms tied on frequency
D=$T/maxf C=$D/c O=$D/out
mkdir -p "$C"
printf 'apple banana\n' >"$C/a.txt"
printf 'cherry cherry\n' >"$C/b.txt"
pl "$O" "$C" -c kmeans.k=2 -c vocabulary.max_features=2 run "$CONF"
expect "o max_features: first run" 0
prev=$(prevset "$O")
printf 'banana apple\n' >"$C/a.txt"
pl "$O" "$C" -c kmeans.k=2 -c vocabulary.max_features=2 run "$CONF"
expect "o max_features: the same words in another order" 0
compare "o max_features: a tie keeps the term a fresh run keeps" "$O" "$C" "$prev" \
	-c kmeans.k=2 -c vocabulary.max_features=2
# The warm start: two new statements with words of their own, the new
# first axis; the previous axes alone have no weight on it.
D=$T/warm C=$D/c O=$D/out
mkdir -p "$C"
for i in 1 2 3 4 5 6; do
	printf 'encryption backdoor surveillance privacy ministry statement users products word%s word%s\n' \
		"$i" $((i + 1)) >"$C/a$i.txt"
done
pl "$O" "$C" -c kmeans.k=2 run "$CONF"
expect "o warm start: first run" 0
prev=$(prevset "$O")
printf 'zebra zebrax\n' >"$C/b1.txt"
printf 'walrus walrusx\n' >"$C/b2.txt"
pl "$O" "$C" -c kmeans.k=2 run "$CONF"
expect "o warm start: two statements with words of their own" 0
result "o warm start: the fit started from the previous axes" \
	"$(grep -q '"warm": true' "$O/run.json" || grep -o '"project": {[^}]*}' "$O/run.json")"
compare "o warm start: the rerun finds the first two axes, as a fresh run" "$O" "$C" "$prev" -c kmeans.k=2
UNIT=paragraph
# changes.tsv: boilerplate changed, no file did.  Paragraph 2 of a.txt
# then is paragraph 2 now, though its kept text changed; paragraph 1,
# boilerplate alone before, is the one new statement.
D=$T/bpchange C=$D/c O=$D/out
mkdir -p "$C"
printf 'Share now\n' >"$D/bp.regex"
printf 'Share now\n\nShare now\nThe ministry rejected the backdoor demand of the Five Eyes.\n\nSurveillance of users is a double standard, the spokesperson said.\n' >"$C/a.txt"
printf 'Encryption keys and lawful access were discussed again.\n\nPrivacy groups warned about espionage.\n' >"$C/b.txt"
pl "$O" "$C" -c kmeans.k=2 -c corpus.boilerplate="$D/bp.regex" run "$CONF"
expect "o changes.tsv, boilerplate changed: first run" 0
pl "$O" "$C" -c kmeans.k=2 -c corpus.boilerplate= run "$CONF"
expect "o changes.tsv, boilerplate changed: every file read again" 0 "reading every file again"
result "o changes.tsv, boilerplate changed: an unchanged file's statements are matched by paragraph" \
	"$(got=$(awk -F '\t' 'NR > 1 { print $1 " " $2 " " $3 }' "$O/changes.tsv" | tr '\n' '|')
	   [ "$got" = "new a.txt 1|" ] || echo "changes.tsv: $got")"
# Threads: the same runs with 1 and with 2 threads publish the same
# sources.tsv (which files were read, which replayed), also when a run
# reads everything again to compact the cache.
D=$T/compact
for n in 1 2; do
	C=$D/c$n
	mkdir -p "$C"
	awk 'BEGIN { for (i = 0; i < 20; i++) printf "%sxw%d", (i ? " " : ""), (i * 7 + 1) % 300; print "" }' >"$C/a.txt"
	awk 'BEGIN { for (i = 0; i < 150; i++) printf "%sxw%d", (i ? " " : ""), (i * 13 + 3) % 300; print "" }' >"$C/b.txt"
	awk 'BEGIN { for (i = 0; i < 150; i++) printf "%sxw%d", (i ? " " : ""), (i * 29 + 5) % 300; print "" }' >"$C/c.txt"
	awk 'BEGIN { for (i = 0; i < 5; i++) printf "%sxw%d", (i ? " " : ""), (i * 11) % 300; print "" }' >"$C/d.txt"
	pl "$D/out$n" "$C" -c kmeans.k=2 -c run.threads=$n run "$CONF"
	rm "$C/a.txt"
	pl "$D/out$n" "$C" -c kmeans.k=2 -c run.threads=$n run "$CONF"
	rm "$C/b.txt"
	echo "xw1 xw2 xw3 new words here" >"$C/e.txt"
	pl "$D/out$n" "$C" -c kmeans.k=2 -c run.threads=$n status "$CONF"
	expect "o threads = $n: status says the cache is mostly stale" 0 \
		"but mostly stale: a run reads every file again" out
	pl "$D/out$n" "$C" -c kmeans.k=2 -c run.threads=$n run "$CONF"
	expect "o threads = $n: three runs, the third reads every file again" 0 "mostly stale"
done
result "o threads: 1 and 2 publish the same sources.tsv" \
	"$(cmp "$D/out1/sources.tsv" "$D/out2/sources.tsv" 2>&1 && cmp "$D/out1/docs.tsv" "$D/out2/docs.tsv" 2>&1)"
# incremental = no publishes sources.tsv too (output/README.md)
pl "$D/noinc" "$D/c1" -c kmeans.k=2 -c output.incremental=no run "$CONF"
result "o incremental = no: sources.tsv published" \
	"$([ -f "$D/noinc/sources.tsv" ] || echo "no sources.tsv: $(ls "$D/noinc" | tr '\n' ' ')")"

echo "incremental: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
