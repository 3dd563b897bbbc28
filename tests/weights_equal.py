#!/usr/bin/env python3
"""weights_equal.py -- the TF-IDF weights rebuilt from their factors equal
tfidf.mtx.gz, to the bit

usage: weights_equal.py FACTORS MATRIX

FACTORS is an output folder (any run; [output] tfidf_matrix = no leaves
tfidf.mtx.gz out of it), MATRIX one of a run on the same corpus with the
same settings and tfidf_matrix = yes.  Each weight is rebuilt the way
output/README.md ("Weights from their factors") tells a reader to: from
counts.mtx.gz, the idf and kept columns of terms.tsv.gz, the norm column of
docs.tsv and the weighting run.json names, as

    tf(count) * idf / norm

and compared with MATRIX's tfidf.mtx.gz with ==: the same entries, the same
doubles.  Prints one line and exits 0 when they agree, 1 when not.
"""
import gzip
import json
import math
import os
import sys


def fail(msg):
    print("weights_equal: " + msg)
    sys.exit(1)


def read_mtx(path):
    """The size line and the entries, as (row, col) -> value text."""
    with gzip.open(path, "rt", encoding="utf-8") as f:
        banner = f.readline()
        line = f.readline()
        while line.startswith("%"):
            line = f.readline()
        size = tuple(int(x) for x in line.split())
        entries = {}
        for line in f:
            r, c, v = line.split()
            entries[(int(r), int(c))] = v
    return banner, size, entries


def tsv(path, opener=open):
    with opener(path, "rt", encoding="utf-8") as f:
        head = f.readline().rstrip("\n").split("\t")
        return [dict(zip(head, line.rstrip("\n").split("\t"))) for line in f]


def main():
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        sys.exit(2)
    fac, mat = (os.path.join(d, "current") if os.path.isdir(os.path.join(d, "current"))
                else d for d in sys.argv[1:])
    with open(os.path.join(fac, "run.json"), encoding="utf-8") as f:
        w = json.load(f)["tfidf"]
    terms = tsv(os.path.join(fac, "terms.tsv.gz"), gzip.open)
    docs = tsv(os.path.join(fac, "docs.tsv"))
    idf = [float(t["idf"]) for t in terms]
    kept = [t["kept"] == "1" for t in terms]
    norm = [float(d["norm"]) for d in docs]
    _, csize, counts = read_mtx(os.path.join(fac, "counts.mtx.gz"))
    _, wsize, weights = read_mtx(os.path.join(mat, "tfidf.mtx.gz"))
    if csize[:2] != wsize[:2]:
        fail("counts.mtx.gz is %d x %d, tfidf.mtx.gz %d x %d" % (csize[:2] + wsize[:2]))
    rowlen = [0.0] * csize[0]
    for (r, c), v in counts.items():
        rowlen[r - 1] += float(v)
    rebuilt = {}
    for (r, c), v in counts.items():
        if not kept[c - 1]:
            continue
        n = float(v)  # an entry's count is at least 1
        tf = (n if w["tf"] == "raw" else 1.0 + math.log(n) if w["tf"] == "log"
              else 1.0 if w["tf"] == "binary" else n / rowlen[r - 1])
        rebuilt[(r, c)] = tf * idf[c - 1] / norm[r - 1]
    if set(rebuilt) != set(weights):
        extra = sorted(set(rebuilt) - set(weights))[:3]
        missing = sorted(set(weights) - set(rebuilt))[:3]
        fail("entries differ: rebuilt only %s, tfidf.mtx.gz only %s" % (extra, missing))
    bad = [(k, rebuilt[k], weights[k]) for k in sorted(rebuilt)
           if rebuilt[k] != float(weights[k])]
    if bad:
        fail("%d of %d weights differ, first: entry %s rebuilt %r, tfidf.mtx.gz %s"
             % (len(bad), len(rebuilt), bad[0][0], bad[0][1], bad[0][2]))
    print("weights_equal: %d weights (tf = %s, idf = %s, norm = %s) rebuilt to the bit"
          % (len(rebuilt), w["tf"], w["idf"], w["norm"]))


main()
