#!/bin/sh
# clients.sh -- run the tests that use real client tools (scikit-learn, R,
# gnuplot): every tests/client_*.sh, each run as
#   PIPELINE=path/to/pipeline sh tests/client_NAME.sh
# A client script exits 0 when it passed, 77 when a tool it needs is not
# installed (it says which), and anything else when it failed.  On CI
# (CI=true) a skip counts as a failure: .ci/run installs every tool.
set -u
pass=0 fail=0 skip=0
for t in tests/client_*.sh; do
	[ -f "$t" ] || continue
	name=$(basename "$t" .sh)
	sh "$t"
	rc=$?
	if [ $rc = 0 ]; then
		echo "ok   $name"; pass=$((pass + 1))
	elif [ $rc = 77 ] && [ "${CI:-}" != true ]; then
		echo "skip $name (a tool it needs is missing; see above)"; skip=$((skip + 1))
	else
		echo "FAIL $name (exit $rc)"; fail=$((fail + 1))
	fi
done
echo "clients: $pass passed, $fail failed, $skip skipped"
[ $fail = 0 ]
