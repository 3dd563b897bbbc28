#!/bin/sh
# deps.sh -- install the Debian packages named as arguments when missing.
# Used by `make run` and `make check`; apt-get through sudo when not root.
# Does nothing on a system without dpkg (install the libraries yourself).
set -eu
command -v dpkg >/dev/null 2>&1 || { echo "deps.sh: no dpkg; install the build dependencies by hand (see README)" >&2; exit 0; }
missing=""
for p in "$@"; do
	dpkg -s "$p" 2>/dev/null | grep -q '^Status: install ok installed' || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing:$missing" >&2
if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >&2
