#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# man-pages-render: every manual page renders without a single warning, the
# way lintian and a terminal read it, and has a NAME line apropos can index.
# Then proves it would notice: a page with an unknown macro must be refused.
#   check-man.sh PAGE...
set -u
fail=0

check() { # PAGE -> prints the problems, nothing if none
	# man-db with groff: the warnings lintian asks for, at 80 columns
	MANWIDTH=80 LC_ALL=C.UTF-8 man --warnings -E UTF-8 -l "$1" 2>&1 >/dev/null
	# groff with every warning (-ww), at its own line length
	groff -man -Tutf8 -ww -z "$1" 2>&1
	lexgrog "$1" >/dev/null 2>&1 || echo "lexgrog: no parsable NAME section"
}

for p in "$@"; do
	out=$(check "$p")
	if [ -n "$out" ]; then
		echo "FAIL: $p:"
		echo "$out"
		fail=1
	else
		echo "ok: $p"
	fi
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
cp "$1" "$tmp/broken.8"
printf '.XB no such macro\n' >>"$tmp/broken.8"
if [ -z "$(check "$tmp/broken.8")" ]; then
	echo "FAIL: a page with an unknown macro rendered without a warning: the test is blind"
	fail=1
else
	echo "ok: a page with an unknown macro is refused"
fi
exit $fail
