# bench_corpus.sh -- sourced by bench_incremental.sh and bench_rerun_ab.sh
#
# rerun_corpus BIG WORK: WORK/corpus, a hard link to every file of BIG
# (cp -l; symbolic links, cp -s, on another file system), and WORK/new,
# 1% new files (copies of every 100th file of BIG with a line added, so
# new content) kept aside until a rerun moves them in as corpus/new.
# Hard links are real files to the pipeline, as a user's corpus is; a
# symbolic link costs a second path lookup per file, which is most of a
# run with nothing new.  Sets n (the files of BIG) and nnew.
rerun_corpus() {
	cp -rl "$1" "$2/corpus" 2>/dev/null || {
		rm -rf "$2/corpus"
		cp -rs "$1" "$2/corpus"
	}
	n=$(ls "$2/corpus" | wc -l)
	nnew=$(((n + 50) / 100))
	mkdir "$2/new"
	ls "$1" | awk -v m=$((n / nnew)) 'NR % m == 1' | head -n "$nnew" |
		while read -r f; do
			{ cat "$1/$f"; echo "incremental bench addition: $f"; } >"$2/new/new-$f"
		done
}
