#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# bench/run-all's plotting (bench_plots.py) on the small CSVs of
# bench/testdata: every plot is written as a non-empty PNG and listed as
# written in plots.json; with relay.csv gone its plot is skipped (plots.json
# says why) and the others are still made.
# Measures nothing (suite unit).
#   run_all_plots_test.sh RUN_ALL TESTDATA
set -u
RUN_ALL=$1
DATA=$2
W=$(mktemp -d /tmp/mg-run-all-plots-XXXXXX)
trap 'rm -rf "$W"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }

# plots.json of this run: "written" holds PNG, "skipped" PNG's note begins with WHY
plots() { python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
print(sys.argv[2] in d["written"] if sys.argv[3] == "written" else d["skipped"].get(sys.argv[2], "").startswith(sys.argv[3]))' "$W/plots.json" "$@" 2> /dev/null; }
is_png() { [ -s "$1" ] && [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]; }

cp "$DATA"/*.csv "$W"/
"$RUN_ALL" --plot-only "$W" > "$W/out.txt" 2>&1 || bad "run-all --plot-only exited $?: $(cat "$W/out.txt")"
for p in relay-rate cycles setup-rate memory; do
	is_png "$W/$p.png" || bad "$p.png missing, empty or not a PNG"
	[ "$(plots "$p.png" written)" = True ] || bad "$p.png not listed as written in plots.json"
	[ "$(stat -c %s "$W/$p.png" 2>/dev/null || echo 0)" -gt 5000 ] || bad "$p.png under 5 kB: no plot drawn"
done

rm -f "$W"/*.png "$W/relay.csv" "$W/plots.json"
"$RUN_ALL" --plot-only "$W" > "$W/out2.txt" 2>&1 || bad "run-all --plot-only (no relay.csv) exited $?"
[ -e "$W/relay-rate.png" ] && bad "relay-rate.png written without relay.csv"
[ "$(plots relay-rate.png "relay.csv missing")" = True ] && [ "$(plots relay-rate.png written)" = False ] ||
	bad "plots.json: relay-rate.png not skipped with its note: $(cat "$W/plots.json" 2> /dev/null)"
for p in cycles setup-rate memory; do
	is_png "$W/$p.png" || bad "$p.png missing without relay.csv"
done
[ $fail = 0 ] && echo "run-all plots: 4 PNGs from the fixtures; relay plot skipped with a note when its CSV is absent"
exit $fail
