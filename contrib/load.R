# load.R -- read every output of `pipeline run` into R in one call
#
#   source("contrib/load.R"); p <- load_pipeline("output")
#
# Needs base R and the Matrix package (attached by load_pipeline, so that
# colSums(), t(), crossprod() and friends work on the matrices); jsonlite is
# used for summary.json and run.json when it is installed.  Works from any
# working directory: `dir` is the output folder, relative to the current
# one or absolute.  output/README.md documents every file read here.
#
# load_pipeline(dir = "output", kept_only = FALSE) returns a list:
#
#   tfidf     dgCMatrix, statements x terms, TF-IDF weights (tfidf.mtx.gz);
#             rownames = docs$unit (as text), colnames = terms$term.  A run
#             with [output] tfidf_matrix = no writes no tfidf.mtx.gz: the
#             weights are then rebuilt from their factors (counts, the idf
#             of terms.tsv.gz, the norm of docs.tsv, the tf run.json
#             names), to the bit, as output/README.md describes
#   counts    dgCMatrix, the same shape and names, occurrences (counts.mtx.gz)
#   terms     data frame, one row per term = matrix column (terms.tsv.gz)
#   docs      data frame, one row per statement = matrix row (docs.tsv);
#             cluster and similarity are NA for unclustered statements,
#             paragraph is NA in document mode
#   clusters  data frame, one row per cluster (clusters.tsv)
#   frames    data frame, one row per frame and cluster (frames.tsv)
#   kept      logical, one per term: TRUE when the term survived pruning
#             (terms$kept == 1) and so has TF-IDF weights
#   projection, ksweep
#             data frames from projection.tsv and ksweep.tsv, or NULL when
#             the run did not write them
#   summary   summary.json as jsonlite::fromJSON() returns it, or NULL when
#             jsonlite is not installed (or the file is missing)
#   run       run.json likewise
#
# kept_only = TRUE drops the pruned columns (kept == FALSE) from both
# matrices; `terms` and `kept` still describe every term, so
# p$terms[p$kept, ] lines up with the columns then, and terms$id is the
# column in the files.
#
# Text fields arrive decoded: the files escape backslash, tab, newline and
# carriage return as \\ \t \n \r, and load_pipeline undoes that.  Every
# value is read exactly as written (weights are %.17g in the files, which
# read back to the identical double).
#
# Examples, after the line above:
#
#   table(p$docs$cluster, useNA = "ifany")       # statements per cluster
#   in1 <- which(p$docs$cluster == 1)             # top terms of cluster 1
#   head(sort(colMeans(p$tfidf[in1, , drop = FALSE]), decreasing = TRUE), 10)
#   xtabs(hit_share ~ frame + cluster, p$frames)  # frames x clusters
#   S <- tcrossprod(p$tfidf)                      # cosine similarities (norm = l2)

load_pipeline <- function(dir = "output", kept_only = FALSE) {
  if (!requireNamespace("Matrix", quietly = TRUE))
    stop("load_pipeline: the Matrix package is not installed; ",
         "install.packages(\"Matrix\") or apt-get install r-cran-matrix",
         call. = FALSE)
  # Attached, not only loaded: base colSums() and t() fail on a dgCMatrix
  # unless Matrix's methods are on the search path.
  suppressPackageStartupMessages(library("Matrix"))

  # One consistent set: resolve the `current` link once (a rerun may
  # switch it while we read; the set it pointed to stays until the run
  # after next).  Older output folders have no link: read them as they are.
  if (file.exists(file.path(dir, "current")))
    dir <- normalizePath(file.path(dir, "current"))
  path <- function(name) file.path(dir, name)
  need <- function(name) {
    if (!file.exists(path(name)))
      stop("load_pipeline: ", path(name), " not found; run ",
           "`pipeline run pipeline.conf` first, or give the output folder",
           call. = FALSE)
    path(name)
  }

  # \\ \t \n \r back to the characters they stand for, in one pass from left
  # to right, so that an escaped backslash followed by `t` stays "\t" as two
  # characters.
  unescape <- function(x) {
    hit <- !is.na(x) & grepl("\\", x, fixed = TRUE)
    if (!any(hit))
      return(x)
    map <- c("\\\\" = "\\", "\\t" = "\t", "\\n" = "\n", "\\r" = "\r")
    y <- x[hit]
    m <- gregexpr("\\\\[\\\\tnr]", y)
    regmatches(y, m) <- lapply(regmatches(y, m), function(s) unname(map[s]))
    x[hit] <- y
    x
  }

  # A TSV file as output/README.md describes it: one header line, nothing
  # quoted, no comments.  `na` is "NA" only where the format has missing
  # values (docs.tsv); elsewhere a term, frame or phrase spelt NA stays text.
  # Every character column is unescaped.
  tsv <- function(file, classes = NA, na = character(0)) {
    d <- utils::read.delim(file, quote = "", comment.char = "",
                           na.strings = na, colClasses = classes,
                           encoding = "UTF-8", check.names = FALSE)
    for (col in names(d))
      if (is.character(d[[col]]))
        d[[col]] <- unescape(d[[col]])
    d
  }
  optional_tsv <- function(name) {
    if (file.exists(path(name))) tsv(path(name), na = "NA") else NULL
  }
  json <- function(name) {
    if (!file.exists(path(name)) ||
        !requireNamespace("jsonlite", quietly = TRUE))
      return(NULL)
    jsonlite::fromJSON(path(name))
  }
  # gzfile() reads plain files as well; readMM closes the connection.
  mtx <- function(name) {
    m <- Matrix::readMM(gzfile(need(name)))
    as(m, "CsparseMatrix")      # a dgCMatrix: readMM gives a general, double one
  }

  # Named colClasses: ids, counts and flags as integers; text as text even
  # when it looks like a number (a term `2019`, a file `007.txt`).  cf and
  # hits are 64-bit counts in the files, so numeric.
  terms <- tsv(gzfile(need("terms.tsv.gz")),
               c(id = "integer", term = "character", surface = "character",
                 kind = "character", df = "integer", cf = "numeric",
                 idf = "numeric", kept = "integer"))
  docs <- tsv(need("docs.tsv"),
              c(unit = "integer", file = "character", paragraph = "integer",
                line = "integer", tokens = "integer", cluster = "integer",
                similarity = "numeric", norm = "numeric"), na = "NA")
  clusters <- tsv(need("clusters.tsv"),
                  c(cluster = "integer", size = "integer",
                    top_terms = "character", top_frames = "character"))
  frames <- tsv(need("frames.tsv"),
                c(frame = "character", cluster = "integer", units = "integer",
                  unit_share = "numeric", hits = "numeric",
                  hit_share = "numeric", cooccurs = "character"))

  # The weights from their factors (output/README.md, "Weights from their
  # factors"): tf(count) * idf / norm for each count in a kept column, in
  # that order of operations, which is the pipeline's own, so each weight
  # is the double tfidf.mtx.gz would hold.  run.json is written by the
  # pipeline with the "tfidf" object on one line, so a pattern finds tf
  # without jsonlite.
  from_factors <- function(counts) {
    run <- paste(readLines(need("run.json"), warn = FALSE), collapse = " ")
    tf <- sub('.*"tfidf": *\\{[^}]*"tf": *"([a-z]+)".*', "\\1", run)
    if (identical(tf, run) || is.null(docs$norm))
      stop("load_pipeline: ", dir, " has no tfidf.mtx.gz, and its run.json ",
           "or docs.tsv does not name the factors; was it written by an ",
           "older version?", call. = FALSE)
    m <- as(counts, "TsparseMatrix")
    keep <- terms$kept[m@j + 1L] == 1L
    i <- m@i[keep] + 1L
    j <- m@j[keep] + 1L
    n <- m@x[keep]
    w <- switch(tf, raw = n, log = 1 + log(n), binary = rep(1, length(n)),
                relative = n / Matrix::rowSums(counts)[i],
                stop("load_pipeline: unknown tf '", tf, "' in run.json",
                     call. = FALSE))
    Matrix::sparseMatrix(i = i, j = j, x = w * terms$idf[j] / docs$norm[i],
                         dims = dim(counts))
  }

  counts <- mtx("counts.mtx.gz")
  tfidf <- if (file.exists(path("tfidf.mtx.gz"))) mtx("tfidf.mtx.gz") else
    from_factors(counts)
  shape <- c(nrow(docs), nrow(terms))
  for (m in list(tfidf = tfidf, counts = counts))
    if (!identical(dim(m), as.integer(shape)))
      stop("load_pipeline: a matrix is ", nrow(m), " x ", ncol(m),
           " but docs.tsv and terms.tsv.gz describe ", shape[1], " x ",
           shape[2], "; are the files from one run?", call. = FALSE)
  dn <- list(as.character(docs$unit), terms$term)
  dimnames(tfidf) <- dn
  dimnames(counts) <- dn

  kept <- terms$kept == 1L
  if (kept_only) {
    tfidf <- tfidf[, kept, drop = FALSE]
    counts <- counts[, kept, drop = FALSE]
  }

  list(tfidf = tfidf, counts = counts, terms = terms, docs = docs,
       clusters = clusters, frames = frames, kept = kept,
       projection = optional_tsv("projection.tsv"),
       ksweep = optional_tsv("ksweep.tsv"),
       summary = json("summary.json"), run = json("run.json"))
}
