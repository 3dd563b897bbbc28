#!/usr/bin/python3
"""incremental_equal.py -- compare pipeline outputs by keys, not by ids

usage:
  incremental_equal.py equal RERUN FRESH [PREV]
  incremental_equal.py sound DIR
  incremental_equal.py changes DIR PREV
  incremental_equal.py same DIR1 DIR2 [IGNORED...]
  incremental_equal.py to_v1 CACHE_IDX

RERUN, FRESH, PREV and DIR are output folders (or set folders: anything
holding docs.tsv, terms.tsv.gz, counts.mtx.gz, tfidf.mtx.gz).

equal    A rerun's term ids are append-only and may differ from a fresh
         run's, so the two are compared by keys (output/README.md):
         - docs.tsv: the same statements (file, paragraph) in the same row
           order, with the same line and tokens;
         - counts.mtx.gz: the same (file, paragraph, term) -> count;
         - tfidf.mtx.gz: the same keys, weights within 1e-12;
         - terms.tsv.gz: the terms with df > 0 in RERUN are exactly FRESH's
           terms, with the same surface, kind, df, cf, idf (1e-12) and
           kept; a term with df 0 in RERUN (its files were removed) has no
           entry in either matrix.
         - projection.tsv: the same coordinates within 1e-6 of the
           largest (a rerun starts the fit from the previous axes).
         With PREV (the set RERUN followed), every term of PREV keeps its
         id in RERUN (ids are append-only).  Clusters are not compared: a
         rerun warm-starts k-means, a fresh run does not.  Then RERUN must
         be sound (below).
sound    The files of one set agree with each other: matrix sizes match
         docs.tsv and terms.tsv.gz; a statement's tokens are its row sum of
         counts; a term's cf and df are its column's sum and entries;
         tfidf entries are the counts entries in kept columns; docs.tsv,
         projection.tsv and clusters.tsv agree on every statement's
         cluster and every cluster's size.
changes  DIR's changes.tsv against DIR's docs.tsv and PREV's docs.tsv
         (the set it followed): one `new` line per statement whose (file,
         paragraph) PREV lacks, one `moved` line per statement whose cluster
         differs, one `removed` line per statement of PREV that DIR lacks,
         nothing else.  Prints "existing=N moved=M" (statements in both
         sets, and how many of them moved).  These are the rules of a file
         that did not change, or of one matched by paragraph (an index
         without text hashes); a changed file whose statements were put in
         or taken out is matched by text (output/README.md, changes.tsv),
         which incremental.sh's "align" cases check on their own.
to_v1    Rewrite CACHE_IDX (a cache.idx of format PLCIDX04, 03 or 02) as the
         first format, PLCIDX01: without the compaction's counters
         (PLCIDX04), the files' lengths as max_file_mb counts them
         (PLCIDX03 on), and the statements' text hashes
         (needs Python's xxhash module for the checksum).
same     Every regular file in DIR1 is byte-identical to the one of the same
         name in DIR2 and neither has a file the other lacks, except the
         IGNORED names (shell patterns).  Run ids (YYYYMMDDTHHMMSSZ-PID,
         which summary.md names in "Since the last run") count as equal.

Prints one line per problem (at most 10 per kind) and exits 1 when there
is any; exit 0 and a summary line when all agree.  Python's standard
library only.
"""
import fnmatch
import gzip
import os
import re
import sys

TOL = 1e-12
PROJ_TOL = 1e-6
RUNID = re.compile(rb"[0-9]{8}T[0-9]{6}Z-[0-9]+")
problems = []
shown = {}


def problem(kind, msg):
    problems.append(msg)
    shown[kind] = shown.get(kind, 0) + 1
    if shown[kind] <= 10:
        print(msg)
    elif shown[kind] == 11:
        print("... (more %s problems)" % kind)


def opentext(path):
    if path.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8", newline="\n")
    return open(path, "rt", encoding="utf-8", newline="\n")


def read_tsv(path):
    """Header and rows of a TSV file (no quoting: output/README.md)."""
    with opentext(path) as f:
        lines = f.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines:
        raise SystemExit("%s: empty" % path)
    head = lines[0].split("\t")
    rows = []
    for n, line in enumerate(lines[1:], 2):
        r = line.split("\t")
        if len(r) != len(head):
            problem("tsv", "%s:%d: %d fields, header has %d" % (path, n, len(r), len(head)))
            continue
        rows.append(dict(zip(head, r)))
    return head, rows


def read_mtx(path):
    """(rows, cols, {(i, j): value string}) of a Matrix Market file."""
    ent = {}
    size = None
    with opentext(path) as f:
        for line in f:
            if size is None:
                if not line.startswith("%"):
                    size = [int(x) for x in line.split()]
                continue
            a, b, v = line.split()
            ent[(int(a), int(b))] = v
    if size is None:
        raise SystemExit("%s: no size line" % path)
    if len(ent) != size[2]:
        problem("mtx", "%s: size line says %d entries, found %d distinct" % (path, size[2], len(ent)))
    return size[0], size[1], ent


class Run:
    def __init__(self, d):
        self.dir = d
        _, self.docs = read_tsv(os.path.join(d, "docs.tsv"))
        _, self.terms = read_tsv(os.path.join(d, "terms.tsv.gz"))
        self.key = [(r["file"], r["paragraph"]) for r in self.docs]
        self.term = [r["term"] for r in self.terms]
        self._counts = self._tfidf = None

    def counts(self):
        if self._counts is None:
            self._counts = read_mtx(os.path.join(self.dir, "counts.mtx.gz"))
        return self._counts

    def tfidf(self):
        if self._tfidf is None:
            self._tfidf = read_mtx(os.path.join(self.dir, "tfidf.mtx.gz"))
        return self._tfidf


def close(a, b):
    return abs(float(a) - float(b)) <= TOL


def cmd_equal(rerun, fresh, prev=None):
    r, f = Run(rerun), Run(fresh)
    # statements
    if r.key != f.key:
        rs, fs = set(r.key), set(f.key)
        for k in sorted(rs - fs):
            problem("docs", "docs.tsv: rerun has %s, fresh run has not" % (k,))
        for k in sorted(fs - rs):
            problem("docs", "docs.tsv: fresh run has %s, rerun has not" % (k,))
        if rs == fs:
            problem("docs", "docs.tsv: same statements in another row order")
    fd = dict(zip(f.key, f.docs))
    for k, row in zip(r.key, r.docs):
        g = fd.get(k)
        if g is None:
            continue
        for c in ("line", "tokens"):
            if row[c] != g[c]:
                problem("docs", "docs.tsv %s: %s %s, fresh run %s" % (k, c, row[c], g[c]))
    # terms
    rt = {t["term"]: t for t in r.terms}
    ft = {t["term"]: t for t in f.terms}
    if len(rt) != len(r.terms):
        problem("terms", "terms.tsv.gz of the rerun repeats a term")
    live = {t for t, row in rt.items() if row["df"] != "0"}
    for t in sorted(live - set(ft)):
        problem("terms", "term %r: df %s in the rerun, absent from the fresh run" % (t, rt[t]["df"]))
    for t in sorted(set(ft) - live):
        problem("terms", "term %r: df %s in the fresh run, %s in the rerun"
                % (t, ft[t]["df"], "df 0" if t in rt else "absent"))
    for t in sorted(live & set(ft)):
        a, b = rt[t], ft[t]
        for c in ("surface", "kind", "df", "cf", "kept"):
            if a[c] != b[c]:
                problem("terms", "term %r: %s %r, fresh run %r" % (t, c, a[c], b[c]))
        if not close(a["idf"], b["idf"]):
            problem("terms", "term %r: idf %s, fresh run %s" % (t, a["idf"], b["idf"]))
    for i, row in enumerate(r.terms, 1):
        if row["id"] != str(i):
            problem("terms", "terms.tsv.gz of the rerun: line %d has id %s" % (i, row["id"]))
            break
    # matrices: the rerun's (row, column) mapped to the fresh run's by key
    frow = {k: i for i, k in enumerate(f.key, 1)}
    fcol = {t: j for j, t in enumerate(f.term, 1)}
    rowmap = [0] + [frow.get(k, 0) for k in r.key]
    colmap = [0] + [fcol.get(t, 0) for t in r.term]

    def mapped(m):
        out = {}
        for (i, j), v in m[2].items():
            if not (1 <= i < len(rowmap) and 1 <= j < len(colmap)):
                problem("mtx", "%s: entry (%d, %d) outside the matrix" % (rerun, i, j))
                continue
            fi, fj = rowmap[i], colmap[j]
            if fi == 0 or fj == 0:
                problem("mtx", "rerun entry %s, term %r: not in the fresh run"
                        % (r.key[i - 1], r.term[j - 1]))
                continue
            out[(fi, fj)] = v
        return out

    def name(k):
        return f.key[k[0] - 1] + (f.term[k[1] - 1],)

    rc, fc = mapped(r.counts()), f.counts()[2]
    if rc != fc:
        for k in sorted(set(rc) | set(fc)):
            if rc.get(k) != fc.get(k):
                problem("counts", "counts %s: rerun %s, fresh run %s" % (name(k), rc.get(k), fc.get(k)))
    rw, fw = mapped(r.tfidf()), f.tfidf()[2]
    if set(rw) != set(fw):
        for k in sorted(set(rw) ^ set(fw)):
            problem("tfidf", "tfidf %s: rerun %s, fresh run %s" % (name(k), rw.get(k), fw.get(k)))
    for k in set(rw) & set(fw):
        if not close(rw[k], fw[k]):
            problem("tfidf", "tfidf %s: rerun %s, fresh run %s" % (name(k), rw[k], fw[k]))
    # projection: a rerun starts the fit from the previous axes, a fresh
    # run from draws; both stop within the same tolerance (1e-10 of the
    # largest eigenvalue), so the coordinates agree far below PROJ_TOL
    # (relative to the largest one) unless two eigenvalues are nearly equal
    if r.key == f.key:
        _, rp = read_tsv(os.path.join(rerun, "projection.tsv"))
        _, fp = read_tsv(os.path.join(fresh, "projection.tsv"))
        scale = max([1e-300] + [abs(float(x[c])) for x in fp for c in ("x", "y")])
        for k, a, b in zip(r.key, rp, fp):
            for c in ("x", "y"):
                if abs(float(a[c]) - float(b[c])) > PROJ_TOL * scale:
                    problem("projection", "projection.tsv %s: %s %s, fresh run %s"
                            % (k, c, a[c], b[c]))
    # append-only ids
    if prev:
        p = Run(prev)
        for i, t in enumerate(p.term):
            if i >= len(r.term) or r.term[i] != t:
                problem("ids", "term %r: id %d before, %s now" % (
                    t, i + 1, r.term.index(t) + 1 if t in r.term else "gone"))
    if not problems:
        print("equal: %d statements, %d terms live (%d columns), %d entries"
              % (len(r.key), len(live), len(r.term), len(rw)))
    cmd_sound(rerun, r)


def cmd_sound(d, r=None):
    r = r or Run(d)
    nr, nc, ce = r.counts()
    tr, tc, te = r.tfidf()
    n, m = len(r.docs), len(r.terms)
    if (nr, nc) != (n, m) or (tr, tc) != (n, m):
        problem("size", "matrices are %dx%d and %dx%d; docs.tsv has %d, terms.tsv.gz %d"
                % (nr, nc, tr, tc, n, m))
    rowsum = [0] * (n + 1)
    colsum = [0] * (m + 1)
    coldf = [0] * (m + 1)
    for (i, j), v in ce.items():
        if 1 <= i <= n and 1 <= j <= m:
            rowsum[i] += int(v)
            colsum[j] += int(v)
            coldf[j] += 1
    for i, row in enumerate(r.docs, 1):
        if row["unit"] != str(i):
            problem("docs", "docs.tsv line %d: unit %s" % (i + 1, row["unit"]))
        if int(row["tokens"]) != rowsum[i]:
            problem("docs", "docs.tsv unit %d: tokens %s, row sum of counts %d"
                    % (i, row["tokens"], rowsum[i]))
    for j, row in enumerate(r.terms, 1):
        if int(row["cf"]) != colsum[j] or int(row["df"]) != coldf[j]:
            problem("terms", "term %s: cf %s df %s, column has sum %d in %d entries"
                    % (row["term"], row["cf"], row["df"], colsum[j], coldf[j]))
    kept = {j for j, row in enumerate(r.terms, 1) if row["kept"] == "1"}
    want = {k for k in ce if k[1] in kept}
    if set(te) != want:
        problem("tfidf", "tfidf.mtx.gz: %d entries, counts.mtx.gz has %d in kept columns"
                % (len(te), len(want)))
    # clusters
    _, proj = read_tsv(os.path.join(d, "projection.tsv"))
    _, cl = read_tsv(os.path.join(d, "clusters.tsv"))
    if [p["cluster"] for p in proj] != [x["cluster"] for x in r.docs]:
        problem("clusters", "projection.tsv and docs.tsv disagree on clusters")
    size = {}
    for x in r.docs:
        if x["cluster"] != "NA":
            size[x["cluster"]] = size.get(x["cluster"], 0) + 1
    listed = {c["cluster"]: int(c["size"]) for c in cl}
    if listed != size:
        problem("clusters", "clusters.tsv sizes %s, docs.tsv counts %s"
                % (sorted(listed.items()), sorted(size.items())))
    if not problems:
        print("sound: %d statements, %d terms, %d clusters" % (n, m, len(listed)))


def cmd_changes(d, prev):
    path = os.path.join(d, "changes.tsv")
    if not os.path.exists(path):
        problem("changes", "%s: missing" % path)
        return
    head, rows = read_tsv(path)
    want = ["change", "file", "paragraph", "statement", "cluster", "previous_cluster"]
    if head != want:
        problem("changes", "changes.tsv header %r, expected %r" % (head, want))
        return
    cur, old = Run(d), Run(prev)
    now = {k: (str(i), row["cluster"]) for i, (k, row) in enumerate(zip(cur.key, cur.docs), 1)}
    was = {k: row["cluster"] for k, row in zip(old.key, old.docs)}
    expect = {}
    for k, (unit, c) in now.items():
        if k not in was:
            expect[("new",) + k] = (unit, c, "NA")
        elif was[k] != c:
            expect[("moved",) + k] = (unit, c, was[k])
    for k, c in was.items():
        if k not in now:
            expect[("removed",) + k] = ("NA", "NA", c)
    got = {}
    for row in rows:
        k = (row["change"], row["file"], row["paragraph"])
        if k in got:
            problem("changes", "changes.tsv: %s listed twice" % (k,))
        got[k] = (row["statement"], row["cluster"], row["previous_cluster"])
    for k in sorted(set(expect) | set(got)):
        if expect.get(k) != got.get(k):
            problem("changes", "changes.tsv %s: (statement, cluster, previous_cluster) = %s, expected %s"
                    % (k, got.get(k), expect.get(k)))
    existing = sum(1 for k in now if k in was)
    moved = sum(1 for k in expect if k[0] == "moved")
    print("existing=%d moved=%d new=%d removed=%d" % (
        existing, moved, sum(1 for k in expect if k[0] == "new"),
        sum(1 for k in expect if k[0] == "removed")))


def cmd_same(d1, d2, ignored):
    def files(d):
        out = set()
        for name in os.listdir(d):
            if any(fnmatch.fnmatchcase(name, p) for p in ignored):
                continue
            if os.path.isfile(os.path.join(d, name)):
                out.add(name)
        return out
    a, b = files(d1), files(d2)
    for name in sorted(a ^ b):
        problem("same", "%s only in %s" % (name, d1 if name in a else d2))
    for name in sorted(a & b):
        with open(os.path.join(d1, name), "rb") as f1, open(os.path.join(d2, name), "rb") as f2:
            a1, a2 = (RUNID.sub(b"RUNID", f.read()) for f in (f1, f2))
            if a1 != a2:
                problem("same", "%s differs" % name)
    if not problems:
        print("same: %d files" % len(a & b))


def cmd_to_v1(path):
    import struct
    import xxhash
    b = open(path, "rb").read()
    if b[:8] not in (b"PLCIDX02", b"PLCIDX03", b"PLCIDX04"):
        problem("to_v1", "%s: not a PLCIDX02, 03 or 04 index" % path)
        return
    lengths = b[:8] in (b"PLCIDX03", b"PLCIDX04")
    counters = b[:8] == b"PLCIDX04"
    body, o = b[:-8], 8

    def u32():
        nonlocal o
        o += 4
        return struct.unpack_from("<I", body, o - 4)[0]

    def u64():
        nonlocal o
        o += 8
        return struct.unpack_from("<Q", body, o - 8)[0]

    def skip_str():
        nonlocal o
        n = u32()
        o += n

    skip_str(); skip_str(); u64(); u64(); skip_str()  # version, run, hashes, text
    for _ in range(u64()):      # terms: kind, string
        o += 1
        skip_str()
    for _ in range(u64()):      # segments: name, size, records
        skip_str(); u64(); u64()
    nunits = 0
    out = bytearray(b"PLCIDX01")
    at = 8
    if counters:                # the compaction's counters: dropped
        out += body[at:o]
        o += 8 + 4
        at = o
    for _ in range(u64()):      # files: path, 6 x u64, hash, seg, off, len,
        skip_str()              # units, [length: dropped]
        o += 8 * 6 + 16
        u32(); u64(); u64()
        nunits += u32()
        if lengths:
            out += body[at:o]
            o += 8
            at = o
    out += body[at:o]
    for _ in range(nunits):     # (para, label, hash) -> (para, label)
        out += body[o:o + 8]
        o += 16
    out += body[o:]
    out += struct.pack("<Q", xxhash.xxh64_intdigest(bytes(out), 0))
    open(path, "wb").write(out)


def main(argv):
    if len(argv) >= 4 and argv[1] == "equal" and len(argv) <= 5:
        cmd_equal(*argv[2:])
    elif len(argv) == 3 and argv[1] == "sound":
        cmd_sound(argv[2])
    elif len(argv) == 4 and argv[1] == "changes":
        cmd_changes(argv[2], argv[3])
    elif len(argv) >= 4 and argv[1] == "same":
        cmd_same(argv[2], argv[3], argv[4:])
    elif len(argv) == 3 and argv[1] == "to_v1":
        cmd_to_v1(argv[2])
    else:
        sys.stderr.write(__doc__)
        return 2
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
