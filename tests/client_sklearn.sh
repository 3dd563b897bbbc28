#!/bin/sh
# client_sklearn.sh -- our TF-IDF matrix is scikit-learn's, term for term
#
# Run from the top of the repository, as tests/clients.sh does:
#   PIPELINE=build/bin/pipeline sh tests/client_sklearn.sh
# Runs the pipeline with scikit-learn's analyzer and weighting
# (tokenize.pattern = sklearn, tfidf.preset = sklearn), stop words,
# stemming, phrases and pruning off, one statement per file, then has
# tests/sklearn_equal.py run TfidfVectorizer() on the same files and
# compare: the same terms, the same entries, weights within 1e-9.  Three
# corpora:
#   - a few made-up files with the hard cases (Greek final sigma, U+0130,
#     combining marks, Nl and No numbers, CJK, invalid UTF-8, empty files);
#   - every character Python's Unicode database knows, in five contexts;
#   - SpamAssassin mail (raw MIME, HTML, Latin-1 bytes): the first 300
#     files, or all 6,046 with CI=true.  It is built by corpora.sh from the
#     shared bench folder ($SHARED, else ../shared next to the repository)
#     into ${BENCH_DIR:-${TMPDIR:-/tmp}/corpora} when missing.
#
# Exit status: 0 equal, 1 a difference or a failed run, 77 /usr/bin/python3
# lacks scikit-learn, SciPy or NumPy (apt-get install python3-sklearn
# python3-scipy, or `make check-deps-clients`), or the mail corpus is
# missing and cannot be built (no npm, no network).

P=${PIPELINE:-build/bin/pipeline}
PY=/usr/bin/python3
HERE=$(cd "$(dirname "$0")" && pwd)
if [ ! -x "$PY" ]; then
	echo "client_sklearn: $PY not found; install python3-sklearn python3-scipy"
	exit 77
fi
missing=$("$PY" -c 'import importlib.util as u
print(" ".join(m for m in ("sklearn", "scipy", "numpy") if u.find_spec(m) is None))')
if [ -n "$missing" ]; then
	echo "client_sklearn: $PY lacks $missing; install python3-sklearn python3-scipy"
	exit 77
fi
if [ ! -x "$P" ]; then
	echo "client_sklearn: $P is not an executable; build it first (make)" >&2
	exit 1
fi
T=$(mktemp -d "${TMPDIR:-/tmp}/pipeline-sklearn.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
trap 'rm -rf "$T"; exit 130' INT TERM

# No phrases, no frames (the shipped ones would join words), two clusters.
cat >"$T/sklearn.conf" <<'EOF'
[phrases]
[frames]
[kmeans]
k = 2
restarts = 1
EOF

# compare NAME CORPUS_DIR [LABEL]: run ours on the folder, then compare.
compare() {
	out="$T/out-$1"
	echo "${3:-$1}:"
	if ! "$P" -q -c corpus.dir="$2" -c output.dir="$out" \
		-c corpus.unit=document -c tokenize.pattern=sklearn \
		-c tokenize.stopwords=none -c stem.language=none \
		-c vocabulary.min_df=1 -c vocabulary.max_df=1.0 \
		-c vocabulary.max_features=0 -c phrases.ngram=1 \
		-c tfidf.preset=sklearn run "$T/sklearn.conf"; then
		echo "  FAIL: the pipeline failed"
		return 1
	fi
	"$PY" "$HERE/sklearn_equal.py" "$out" "$2" >"$T/log" 2>&1
	rc=$?
	sed 's/^/  /' "$T/log"
	return $rc
}

# The hard cases, one file each.
mkdir "$T/tricky"
"$PY" - "$T/tricky" <<'EOF'
import os, sys
d = sys.argv[1]
docs = [
    "Don't stop-words CAFÉ café Cafe\u0301 a_b x 12 ΣΑΣ ΟΔΟΣ. ΣΑ Σ ΌΣΟΣ",
    "İstanbul İİ ǅemal ⅫⅫ km² ＡＢＣ ﬁnance Straße ẞẞ 数据安全 hi😀there __ _a",
    "AΣ'A AΣ\u00adA AΣ\u0301 ʰΣ ΑΣ\u200b ΣΣΣ AΣ.B AΣ^A AΣ`A 1Σ ΣA ªΣ ⓐΣ Ⅷ Σ",
    "café café café data data ΣΑΣ",
    "",
    "a b c ' - .",
]
raw = [
    b"ab\xc0\xafcd caf\xc3 na\xefve ok\xed\xa0\x80ok A\xce\xa3\xff \xff\xce\xa3A end\xe6\x95",
    b"A\xce\xa3\r\n\r\n\xce\xa3A \x00nul\x00 tab\there \xef\xbb\xbfbom",
]
for i, t in enumerate(docs):
    with open(os.path.join(d, "t%d.txt" % i), "w", encoding="utf-8") as f:
        f.write(t)
# 8 KiB of spaces first (no token): a NUL among a file's first 8 KiB
# marks it as no text (README, "Bad input"), further on it separates.
for i, b in enumerate(raw):
    with open(os.path.join(d, "r%d.txt" % i), "wb") as f:
        f.write(b" " * 8192 + b)
EOF
fail=0
compare tricky "$T/tricky" "the hard cases" || fail=1

# Every code point this Python's Unicode database assigns (of the large
# blocks of Han, Hangul, Yi, Tangut ... letters above U+3400 every 64th,
# of the private use areas every 256th), each in five contexts: after and
# before a sigma, inside a word, doubled, at the end.  A difference that
# names characters new in one Unicode version is a version skew between
# utf8proc and Python, not a bug.
mkdir "$T/unicode"
"$PY" - "$T/unicode" <<'EOF'
import os, sys, unicodedata as ud
cps = []
for c in range(0x110000):
    cat = ud.category(chr(c))
    if cat in ("Cn", "Cs") or (cat == "Lo" and c >= 0x3400 and c % 64) or \
            (cat == "Co" and c % 256):
        continue
    cps.append(chr(c))
for k in range(0, len(cps), 500):
    with open(os.path.join(sys.argv[1], "u%03d.txt" % (k // 500)), "w",
              encoding="utf-8") as f:
        # (8 KiB of spaces first: U+0000 is among the characters, see r*.txt)
        f.write(" " * 8192 + "".join(f"A\u03a3{c}A {c}\u03a3A xx{c}yy {c}{c} A\u03a3{c}\n"
                                     for c in cps[k:k + 500]))
EOF
compare unicode "$T/unicode" \
	"every Unicode character (Python's Unicode $("$PY" -c 'import unicodedata; print(unicodedata.unidata_version)'))" || fail=1

# The mail.
corpora=${BENCH_DIR:-${TMPDIR:-/tmp}/corpora}
# skip WHY: the mail corpus cannot be had; 77 unless something failed.
skip() {
	echo "client_sklearn: $1"
	[ $fail = 0 ] && exit 77
	exit 1
}
if [ ! -f "$corpora/spam/labels.tsv" ]; then
	shared=${SHARED:-$(git rev-parse --show-toplevel 2>/dev/null)/../shared}
	[ -f "$shared/bench/corpora.sh" ] ||
		skip "no mail corpus in $corpora/spam and no corpora.sh in $shared/bench (set SHARED)"
	command -v npm >/dev/null 2>&1 ||
		skip "no mail corpus in $corpora/spam, and corpora.sh needs npm to build it"
	# spam/ only: big/ (16 copies, for tests/bench.sh) is not needed here.
	echo "client_sklearn: building the mail corpus in $corpora with corpora.sh"
	BIG_COPIES=0 sh "$shared/bench/corpora.sh" "$corpora" >/dev/null ||
		skip "corpora.sh failed (no network to the npm registry?)"
fi
if [ "${CI:-}" = true ]; then
	compare spam "$corpora/spam" "spam (all $(ls "$corpora/spam" | grep -c '\.txt$') files)" || fail=1
else
	mkdir "$T/slice"
	(cd "$corpora/spam" && LC_ALL=C ls | grep '\.txt$' | head -n 300) |
	while IFS= read -r f; do
		ln -s "$corpora/spam/$f" "$T/slice/$f"
	done
	compare slice "$T/slice" "spam (the first 300 files; CI=true for all)" || fail=1
fi
exit $fail
