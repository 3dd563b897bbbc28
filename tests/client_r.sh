#!/bin/sh
# client_r.sh -- R reads our outputs through contrib/load.R
#
# Run from the top of the repository, as tests/clients.sh does:
#   PIPELINE=build/bin/pipeline sh tests/client_r.sh
# Runs the pipeline into a temporary folder several ways, then has Rscript
# source contrib/load.R (from another working directory) and check
# load_pipeline() against the pipeline's own files: matrix class, shape and
# names, values exactly as written in the .mtx text, unit row norms, column
# sums and document frequencies against terms.tsv.gz, NA clusters and
# paragraphs where docs.tsv has them, cluster sizes, the frames table,
# kept_only, the optional tables and JSON, and file names with every TSV
# escape.  The expected numbers are taken from the files with awk, not
# through the loader.  One line is printed per check.
#
# Exit status: 0 every check passed, 1 a check or a run failed, 77 Rscript
# or the R package Matrix is not installed (apt-get install r-base-core
# r-cran-matrix, or `make check-deps-clients`).

P=${PIPELINE:-build/bin/pipeline}
LOADER=$PWD/contrib/load.R
if ! command -v Rscript >/dev/null 2>&1; then
	echo "client_r: Rscript not found; install r-base-core"
	exit 77
fi
Rscript -e 'quit(status = if (requireNamespace("Matrix", quietly = TRUE)) 0 else 77)'
rc=$?
if [ $rc = 77 ]; then
	echo "client_r: the R package Matrix is not installed; install r-cran-matrix"
	exit 77
elif [ $rc != 0 ]; then
	echo "client_r: Rscript does not run (exit $rc)"
	exit 1
fi
if [ ! -x "$P" ]; then
	echo "client_r: $P is not an executable; build it first (make)" >&2
	exit 1
fi
if [ ! -f "$LOADER" ]; then
	echo "client_r: $LOADER not found; run from the top of the repository" >&2
	exit 1
fi
T=$(mktemp -d "${TMPDIR:-/tmp}/pipeline-r.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
trap 'rm -rf "$T"; exit 130' INT TERM
fail=0

# The checks, in R.  Arguments are key=value; the expectations come from
# the files (see check_run below).
cat >"$T/check.R" <<'EOF'
a <- commandArgs(TRUE)
arg <- setNames(sub("^[^=]*=", "", a), sub("=.*$", "", a))
ints <- function(k) {
  if (nzchar(arg[[k]])) as.integer(strsplit(arg[[k]], ",")[[1]]) else integer(0)
}
label <- arg[["label"]]
out <- arg[["out"]]
failed <- 0L
check <- function(what, ok, got = NULL) {
  ok <- isTRUE(ok)
  cat(if (ok) "ok  " else "FAIL", " ", label, ": ", what,
      if (!ok && length(got)) paste0(" (got ", paste(got, collapse = " "), ")"),
      "\n", sep = "")
  if (!ok) failed <<- failed + 1L
}
classes <- function(d) vapply(d, function(x) class(x)[1], "")

source(arg[["loader"]])
p <- load_pipeline(out)
X <- p$tfidf
N <- p$counts
units <- as.integer(arg[["units"]])
nterms <- as.integer(arg[["terms"]])
nkept <- as.integer(arg[["kept"]])

# Class, shape, names.
check("tfidf is a dgCMatrix", identical(as.character(class(X)), "dgCMatrix"),
      class(X))
check("counts is a dgCMatrix", identical(as.character(class(N)), "dgCMatrix"),
      class(N))
check(sprintf("tfidf and counts are %d x %d (docs.tsv rows x terms.tsv.gz rows)",
              units, nterms),
      identical(dim(X), c(units, nterms)) && identical(dim(N), c(units, nterms)),
      c(dim(X), dim(N)))
check("rownames are docs$unit, colnames terms$term, same on both",
      identical(rownames(X), as.character(p$docs$unit)) &&
        identical(colnames(X), p$terms$term) &&
        identical(dimnames(N), dimnames(X)))
i <- as.integer(arg[["ti"]]); j <- as.integer(arg[["tj"]]); v <- arg[["tv"]]
check(sprintf("row %d is unit %s, column %d is term '%s' as in the files",
              i, arg[["unit"]], j, arg[["term"]]),
      rownames(X)[i] == arg[["unit"]] && colnames(X)[j] == arg[["term"]],
      c(rownames(X)[i], colnames(X)[j]))

# Values: one entry parsed by the shell, then every entry of both files.
check(sprintf("tfidf[%d, %d] and tfidf['%s', '%s'] are %s, bit for bit",
              i, j, arg[["unit"]], arg[["term"]], v),
      identical(X[i, j], as.numeric(v)) &&
        identical(X[arg[["unit"]], arg[["term"]]], as.numeric(v)) &&
        sprintf("%.17g", X[i, j]) == v,
      sprintf("%.17g", X[i, j]))
ci <- as.integer(arg[["ci"]]); cj <- as.integer(arg[["cj"]])
check(sprintf("counts[%d, %d] is %s", ci, cj, arg[["cv"]]),
      identical(N[ci, cj], as.numeric(arg[["cv"]])), N[ci, cj])
entries <- function(name) {
  con <- gzfile(file.path(out, name))
  l <- readLines(con)
  close(con)
  l <- l[!startsWith(l, "%")][-1]
  matrix(unlist(strsplit(l, " ", fixed = TRUE)), ncol = 3, byrow = TRUE)
}
e <- entries("tfidf.mtx.gz")
ij <- cbind(as.integer(e[, 1]), as.integer(e[, 2]))
check(sprintf("all %d tfidf entries equal the text of tfidf.mtx.gz (%%.17g)",
              nrow(e)),
      length(X@x) == nrow(e) && all(sprintf("%.17g", X[ij]) == e[, 3]))
e <- entries("counts.mtx.gz")
ij <- cbind(as.integer(e[, 1]), as.integer(e[, 2]))
check(sprintf("all %d counts entries equal counts.mtx.gz", nrow(e)),
      length(N@x) == nrow(e) && all(N[ij] == as.numeric(e[, 3])))

# What the format promises.
rn <- tabulate(X@i + 1L, nrow(X))
norms <- sqrt(rowSums(X^2))
check(sprintf("the %d rows with kept terms have L2 norm 1", sum(rn > 0)),
      all(abs(norms[rn > 0] - 1) < 1e-12), range(norms[rn > 0]))
check("rows without entries are exactly the unclustered statements",
      identical(which(rn == 0), which(is.na(p$docs$cluster))))
check("tfidf has entries only in kept columns",
      all(p$kept[rep(seq_len(ncol(X)), diff(X@p))]))
check("counts column sums equal terms$cf", all(colSums(N) == p$terms$cf))
check("counts entries per column equal terms$df",
      all(diff(N@p) == p$terms$df))
check(sprintf("kept is logical, %d TRUE as in terms.tsv.gz", nkept),
      is.logical(p$kept) && identical(p$kept, p$terms$kept == 1L) &&
        sum(p$kept) == nkept, sum(p$kept))

# The tables.
check("terms columns and classes",
      identical(classes(p$terms),
                c(id = "integer", term = "character", surface = "character",
                  kind = "character", df = "integer", cf = "numeric",
                  idf = "numeric", kept = "integer")), classes(p$terms))
check("docs columns and classes",
      identical(classes(p$docs),
                c(unit = "integer", file = "character", paragraph = "integer",
                  line = "integer", tokens = "integer", cluster = "integer",
                  similarity = "numeric", norm = "numeric")), classes(p$docs))
na <- ints("na_cluster")
check(sprintf("docs$cluster is NA exactly where docs.tsv says NA (%d)",
              length(na)),
      identical(which(is.na(p$docs$cluster)), na) &&
        identical(which(is.na(p$docs$similarity)), na))
check(sprintf("docs$paragraph is NA exactly where docs.tsv says NA (%d)",
              length(ints("na_paragraph"))),
      identical(which(is.na(p$docs$paragraph)), ints("na_paragraph")))
check("clusters columns and classes",
      identical(classes(p$clusters),
                c(cluster = "integer", size = "integer",
                  top_terms = "character", top_frames = "character")),
      classes(p$clusters))
check(sprintf("clusters$size sums to the %d clustered statements",
              units - length(na)),
      sum(p$clusters$size) == units - length(na) &&
        all(tabulate(p$docs$cluster, nrow(p$clusters)) == p$clusters$size),
      sum(p$clusters$size))
check("frames columns are the header of frames.tsv, with their classes",
      identical(names(p$frames), strsplit(arg[["frames_header"]], "\t")[[1]]) &&
        identical(classes(p$frames),
                  c(frame = "character", cluster = "integer",
                    units = "integer", unit_share = "numeric",
                    hits = "numeric", hit_share = "numeric",
                    cooccurs = "character")), classes(p$frames))
check("frames has one row per frame and cluster",
      nrow(p$frames) == length(unique(p$frames$frame)) * nrow(p$clusters) &&
        all(p$frames$cluster %in% p$clusters$cluster), nrow(p$frames))

# kept_only.
q <- load_pipeline(out, kept_only = TRUE)
check(sprintf("kept_only = TRUE: ncol is %d = sum(terms$kept) on both", nkept),
      ncol(q$tfidf) == nkept && ncol(q$counts) == nkept &&
        nrow(q$tfidf) == units && nrow(q$counts) == units,
      c(dim(q$tfidf), dim(q$counts)))
check("kept_only = TRUE: the kept columns, names and values unchanged",
      identical(q$tfidf, X[, p$kept, drop = FALSE]) &&
        identical(q$counts, N[, p$kept, drop = FALSE]) &&
        identical(colnames(q$tfidf), p$terms$term[p$kept]) &&
        identical(q$terms, p$terms))

# Optional tables and JSON.
for (name in c("projection", "ksweep")) {
  f <- file.path(out, paste0(name, ".tsv"))
  if (file.exists(f)) {
    l <- readLines(f, encoding = "UTF-8")
    check(sprintf("%s.tsv read: %d rows, its header as names", name,
                  length(l) - 1L),
          is.data.frame(p[[name]]) && nrow(p[[name]]) == length(l) - 1L &&
            identical(names(p[[name]]), strsplit(l[1], "\t")[[1]]),
          dim(p[[name]]))
  } else {
    check(sprintf("no %s.tsv, %s is NULL", name, name),
          name %in% names(p) && is.null(p[[name]]))
  }
}
if (requireNamespace("jsonlite", quietly = TRUE)) {
  check("summary and run parsed with jsonlite",
        p$summary$corpus$units == units && p$summary$corpus$terms == nterms &&
          p$run$counts$units == units && p$run$counts$terms == nterms)
} else {
  check("jsonlite not installed: summary and run are NULL",
        all(c("summary", "run") %in% names(p)) &&
          is.null(p$summary) && is.null(p$run))
}

# Run-specific checks.
if ("corpus" %in% names(arg)) {
  files <- list.files(arg[["corpus"]], recursive = TRUE)
  check("docs$file decodes \\\\ \\t \\n \\r to the names on disk",
        setequal(unique(p$docs$file), files), unique(p$docs$file))
  check("terms that look like numbers stay text ('007', '2019')",
        all(c("007", "2019") %in% colnames(X)))
}
if ("made_optional" %in% names(arg)) {
  check("projection.tsv: text unescaped, NA read, numbers numeric",
        identical(p$projection$file, c("a\tb.txt", "c\\td.txt")) &&
          is.numeric(p$projection$x) &&
          identical(is.na(p$projection$cluster), c(FALSE, TRUE)),
        p$projection$file)
  check("ksweep.tsv: columns and rows",
        identical(p$ksweep$k, 2:3) && is.numeric(p$ksweep$silhouette))
}
quit(status = if (failed) 1 else 0)
EOF

# field FILE N ROW: field N of data row ROW of a TSV file (gzip or not)
field() {
	gzip -dcf "$1" | awk -F '\t' -v n="$2" -v r="$3" 'NR == r + 1 { print $n; exit }'
}

# middle FILE.mtx.gz: "row column value" of the middle entry
middle() {
	gzip -dc "$1" | awk '/^%/ { next }
		!size { size = 1; mid = int(($3 + 1) / 2); next }
		++n == mid { print $1, $2, $3; exit }'
}

# na_rows FILE N: the data rows whose field N is NA, comma-separated
na_rows() {
	awk -F '\t' -v n="$2" 'NR > 1 && $n == "NA" { printf "%s%s", s, NR - 1; s = "," }' "$1"
}

# check_run LABEL DIR [key=value...]: the R checks on the outputs in DIR
# (relative to $T, where Rscript runs).
check_run() {
	label=$1 out=$T/$2
	shift 2
	t=$(middle "$out/tfidf.mtx.gz") c=$(middle "$out/counts.mtx.gz")
	if [ -z "$t" ] || [ -z "$c" ]; then
		echo "FAIL $label: no entries in $out/tfidf.mtx.gz or counts.mtx.gz"
		fail=1
		return
	fi
	ti=${t%% *} tv=${t##* } tj=${t#* } tj=${tj%% *}
	ci=${c%% *} cv=${c##* } cj=${c#* } cj=${cj%% *}
	(cd "$T" && Rscript check.R loader="$LOADER" out="$(basename "$out")" \
		label="$label" \
		units=$(($(wc -l <"$out/docs.tsv") - 1)) \
		terms=$(($(gzip -dc "$out/terms.tsv.gz" | wc -l) - 1)) \
		kept="$(gzip -dc "$out/terms.tsv.gz" | awk -F '\t' 'NR > 1 && $8 == 1' | wc -l)" \
		ti="$ti" tj="$tj" tv="$tv" ci="$ci" cj="$cj" cv="$cv" \
		unit="$(field "$out/docs.tsv" 1 "$ti")" \
		term="$(field "$out/terms.tsv.gz" 2 "$tj")" \
		na_cluster="$(na_rows "$out/docs.tsv" 6)" \
		na_paragraph="$(na_rows "$out/docs.tsv" 3)" \
		frames_header="$(head -n 1 "$out/frames.tsv")" \
		"$@") || fail=1
}

# run DIR ARGS...: the pipeline into $T/DIR
run() {
	dir=$1
	shift
	"$P" -q -c output.dir="$T/$dir" "$@" run pipeline.conf
	rc=$?
	if [ $rc != 0 ]; then
		echo "FAIL $dir: $P $* run pipeline.conf exited $rc"
		fail=1
		return 1
	fi
}

# 1. The bundled corpus as configured.
run default && check_run default default

# 2. Pruned terms, a statement left without kept terms (NA cluster), and a
#    k range (ksweep.tsv once sweeps write it).
run pruned -c vocabulary.max_features=15 -c kmeans.k=2..5 &&
	check_run pruned pruned

# 3. Document mode: paragraph is NA everywhere.
run document -c corpus.unit=document -c kmeans.k=2 &&
	check_run document document

# 4. File names needing every TSV escape (and one that looks like an
#    escape), terms made of digits.
mkdir "$T/odd" || exit 1
tab=$(printf '\t') cr=$(printf '\r') nl=$(printf '\nx') nl=${nl%x}
for name in "tab${tab}name" 'back\tslash' "new${nl}line" "cr${cr}x" \
	"it's \"quoted\" #1" NA; do
	printf '%s\n\n%s\n\n%s\n' \
		'Agent 007 met spies in 2019 about backdoors.' \
		'Hypocrisy and double standards on surveillance.' \
		'Encryption keys and lawful access demanded.' >"$T/odd/$name.txt" ||
		exit 1
done
run escapes -c corpus.dir="$T/odd" -c tokenize.numbers=keep -c kmeans.k=2 &&
	check_run escapes escapes corpus="$T/odd"

# 5. The reader of the optional tables, on hand-written ones with text to
#    unescape and an NA (runs 1-4 check the pipeline's own, when it writes
#    them): a copy of run 1 where they replace whatever the run wrote.
if [ -d "$T/default" ]; then
	cp -R "$T/default" "$T/optional"
	printf 'unit\tfile\tx\ty\tcluster\n1\ta\\tb.txt\t0.5\t-0.25\t1\n2\tc\\\\td.txt\t0.125\t2\tNA\n' \
		>"$T/optional/projection.tsv"
	printf 'k\tsilhouette\tselected\n2\t0.25\t0\n3\t0.5\t1\n' \
		>"$T/optional/ksweep.tsv"
	check_run optional optional made_optional=1
fi

# 6. [output] tfidf_matrix = no: load_pipeline rebuilds the weights from
#    counts, idf and norm; they must be the matrix run 1 read from
#    tfidf.mtx.gz, entry for entry and bit for bit (tf = log and norm = l1
#    as well, for the other arithmetic).
factors() {
	label=$1
	shift
	run "$label-matrix" "$@" && run "$label-factors" -c output.tfidf_matrix=no "$@" &&
		(cd "$T" && Rscript -e '
a <- commandArgs(TRUE)
source(a[1])
m <- load_pipeline(a[2])$tfidf
f <- load_pipeline(a[3])$tfidf
ok <- identical(dim(m), dim(f)) && identical(dimnames(m), dimnames(f)) &&
  identical(m@i, f@i) && identical(m@p, f@p) && identical(m@x, f@x)
cat(if (ok) "ok  " else "FAIL", " ", a[4], ": tfidf rebuilt from its factors is ",
    "identical to tfidf.mtx.gz (", length(m@x), " weights)\n", sep = "")
quit(status = if (ok) 0 else 1)' "$LOADER" "$label-matrix" "$label-factors" "$label") || fail=1
}
factors factors
factors factors-log -c tfidf.tf=log -c tfidf.norm=l1 -c vocabulary.max_features=15

if [ $fail = 0 ]; then
	echo "client_r: every check passed"
else
	echo "client_r: some checks failed"
fi
exit $fail
