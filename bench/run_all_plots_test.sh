#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# bench/run-all's plotting (bench_plots.py) on the small CSVs of
# bench/testdata: every plot is written as a non-empty PNG; with relay.csv
# gone its plot is skipped with a note and the others are still made.
# Measures nothing (suite unit).
#   run_all_plots_test.sh RUN_ALL TESTDATA
set -u
RUN_ALL=$1
DATA=$2
W=$(mktemp -d /tmp/mg-run-all-plots-XXXXXX)
trap 'rm -rf "$W"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }

is_png() { [ -s "$1" ] && [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]; }

cp "$DATA"/*.csv "$W"/
"$RUN_ALL" --plot-only "$W" > "$W/out.txt" 2>&1 || bad "run-all --plot-only exited $?: $(cat "$W/out.txt")"
for p in relay-rate cycles setup-rate memory; do
	is_png "$W/$p.png" || bad "$p.png missing, empty or not a PNG"
	grep -q "^wrote $W/$p.png$" "$W/out.txt" || bad "$p.png not reported as written"
	[ "$(stat -c %s "$W/$p.png" 2>/dev/null || echo 0)" -gt 5000 ] || bad "$p.png under 5 kB: no plot drawn"
done

rm -f "$W"/*.png "$W/relay.csv"
"$RUN_ALL" --plot-only "$W" > "$W/out2.txt" 2>&1 || bad "run-all --plot-only (no relay.csv) exited $?"
[ -e "$W/relay-rate.png" ] && bad "relay-rate.png written without relay.csv"
grep -q "^skipped relay-rate.png: relay.csv missing" "$W/out2.txt" || bad "no note for the skipped relay plot: $(cat "$W/out2.txt")"
for p in cycles setup-rate memory; do
	is_png "$W/$p.png" || bad "$p.png missing without relay.csv"
done
[ $fail = 0 ] && echo "run-all plots: 4 PNGs from the fixtures; relay plot skipped with a note when its CSV is absent"
exit $fail
