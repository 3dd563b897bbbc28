#!/usr/bin/python3
"""sklearn_equal.py -- is our TF-IDF matrix scikit-learn's?

usage: sklearn_equal.py OUTDIR CORPUSDIR

OUTDIR holds a run of ours with tokenize.pattern = sklearn, stop words and
stemming off, no pruning, no phrases, corpus.unit = document and
tfidf.preset = sklearn.  This script reads its docs.tsv, terms.tsv.gz and
tfidf.mtx.gz, runs TfidfVectorizer() with its defaults on the same files
(read as UTF-8 with invalid bytes replaced, in our row order), and checks
that the two matrices are the same: the same set of terms, the same
entries, and weights within 1e-9.  It prints the figures; exit 0 when
equal, 1 when not.
"""
import gzip
import os
import sys

import numpy as np
import scipy.io
import scipy.sparse
from sklearn.feature_extraction.text import TfidfVectorizer

TOL = 1e-9


def unescape(s):
    """Undo the TSV escapes of output/README.md (\\\\, \\t, \\n, \\r)."""
    out, i = [], 0
    while i < len(s):
        if s[i] == "\\" and i + 1 < len(s):
            out.append({"\\": "\\", "t": "\t", "n": "\n", "r": "\r"}.get(s[i + 1], s[i + 1]))
            i += 2
        else:
            out.append(s[i])
            i += 1
    return "".join(out)


def read_tsv(f):
    """Rows of a TSV file as dicts keyed by the header."""
    lines = f.read().split("\n")
    head = lines[0].split("\t")
    return [dict(zip(head, l.split("\t"))) for l in lines[1:] if l]


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    out, corpus = sys.argv[1], sys.argv[2]
    with open(os.path.join(out, "docs.tsv"), encoding="utf-8") as f:
        docs = read_tsv(f)
    with gzip.open(os.path.join(out, "terms.tsv.gz"), "rt", encoding="utf-8") as f:
        terms = read_tsv(f)
    with gzip.open(os.path.join(out, "tfidf.mtx.gz"), "rb") as f:
        ours = scipy.io.mmread(f).tocsr()

    texts = []
    for d in docs:
        with open(os.path.join(corpus, unescape(d["file"])), "rb") as f:
            texts.append(f.read().decode("utf-8", errors="replace"))
    vec = TfidfVectorizer()
    theirs = vec.fit_transform(texts).tocsr()
    names = vec.get_feature_names_out()

    ok = True
    kept = [unescape(t["term"]) for t in terms if t["kept"] == "1"]
    print(f"documents: ours {ours.shape[0]}, sklearn {theirs.shape[0]}")
    print(f"vocabulary: ours {len(kept)} kept of {len(terms)}, sklearn {len(names)}")
    only_ours = sorted(set(kept) - set(names))
    only_theirs = sorted(set(names) - set(kept))
    if only_ours or only_theirs or len(kept) != len(terms):
        ok = False
        print(f"FAIL: terms only ours ({len(only_ours)}): {only_ours[:20]!r}")
        print(f"FAIL: terms only sklearn's ({len(only_theirs)}): {only_theirs[:20]!r}")
    if ours.shape[0] != theirs.shape[0]:
        print("FAIL: different numbers of documents")
        return 1
    if not ok:
        return 1

    # Our column j is term j of terms.tsv.gz; sklearn's are alphabetical.
    index = {t: i for i, t in enumerate(names)}
    perm = np.array([index[unescape(t["term"])] for t in terms], dtype=np.int64)
    coo = ours.tocoo()
    mapped = scipy.sparse.csr_matrix((coo.data, (coo.row, perm[coo.col])),
                                     shape=theirs.shape)
    mapped.sort_indices()
    theirs.sort_indices()
    print(f"nnz: ours {ours.nnz}, sklearn {theirs.nnz}")
    if ours.nnz != theirs.nnz:
        ok = False
        print("FAIL: different numbers of entries")
    pattern = (mapped != 0).astype(np.int8) - (theirs != 0).astype(np.int8)
    if pattern.count_nonzero():
        ok = False
        r, c = pattern.nonzero()
        print(f"FAIL: {len(r)} entries in one matrix only, first: "
              f"document {docs[r[0]]['file']}, term {names[c[0]]!r}")
    diff = abs(mapped - theirs)
    maxdiff = diff.max() if diff.nnz else 0.0
    print(f"max abs difference: {maxdiff:.3g}")
    if maxdiff > TOL:
        ok = False
        dc = diff.tocoo()
        worst = np.argmax(dc.data)
        print(f"FAIL: difference above {TOL:g}, worst: document "
              f"{docs[dc.row[worst]]['file']}, term {names[dc.col[worst]]!r}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
