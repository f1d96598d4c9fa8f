#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The checked-in seeds of a generated corpus are what its generator writes
# with today's code: run GENERATOR into a temporary directory and compare
# file by file (names and bytes) with SEED_DIR.
#
#   check-seeds.sh GENERATOR SEED_DIR
set -uo pipefail
gen=$1 dir=$2
out=$(mktemp -d "${TMPDIR:-/tmp}/mg-seeds.XXXXXX") || exit 2
trap 'rm -rf "$out"' EXIT
"$gen" "$out" || { echo "FAIL $gen exited $?"; exit 1; }
n=$(find "$out" -type f | wc -l)
[ "$n" -gt 0 ] || { echo "FAIL $gen wrote no seed"; exit 1; }
if diff -r "$out" "$dir" > "$out.diff" 2>&1; then
	echo "ok   the $n seeds in $dir are what $(basename "$gen") writes"
	rm -f "$out.diff"
	exit 0
fi
echo "FAIL $dir is stale; regenerate with: $(basename "$gen") $dir"
sed 's/^/  /' "$out.diff" | head -20
rm -f "$out.diff"
exit 1
