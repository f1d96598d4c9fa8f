#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Smoke test of bench/relay-bench (no rate asserted): a tiny run (K=2, one
150 ms step at 20 kpps) for rtpengine and mediagate, plain and encrypt, read
from its --json output:
  - a row for every relay x mode, each with steps, and the CSV's rows too
  - every step: nothing failed authentication, no packet from the wrong
    address/port or with a wrong payload, no duplicate
  - every relay x mode carried some packets the generator verified (in
    encrypt mode that means SRTP that authenticated with the relay's key:
    plain RTP would fail authentication)
  - the relay CPU figures are present (>= 0; mediagate's worker busy share
    from mediagate-dpctl is > 0 once it carried packets)
Then the generator's own check is shown to bite: with --wrong-key (every
SRTP key one bit off) mediagate's encrypt packets all fail authentication
and none is verified.
"""
import json
import os
import subprocess
import sys
import tempfile

BUILD = os.environ.get("BUILD", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
BENCH = os.path.join(BUILD, "bench", "relay-bench")
fails = 0


def check(cond, what):
    global fails
    print("%s - %s" % ("ok" if cond else "not ok", what))
    fails += 0 if cond else 1


def run(extra, out):
    cmd = [sys.executable, BENCH, "--quick", "--k", "2", "--ms", "150", "--max-pps", "20000",
           "--no-ceiling", "--json", out] + extra
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    print("\n".join("# " + x for x in (r.stdout + r.stderr).splitlines()[-14:]))
    if r.returncode != 0:
        return None
    with open(out) as f:
        return json.load(f)


def main():
    if os.geteuid() != 0:
        print("1..0 # SKIP needs root (network namespaces)")
        return 77
    for b in (BENCH, os.path.join(BUILD, "bench", "relay_bench_gen")):
        if not os.path.exists(b):
            print("1..0 # SKIP %s not built" % b)
            return 77
    w = tempfile.mkdtemp(prefix="relay-bench-test.")
    csv = os.path.join(w, "out.csv")
    d = run(["--csv", csv], os.path.join(w, "out.json"))
    check(d is not None, "relay-bench ran and wrote its JSON")
    if d is None:
        return 1
    for relay in ("rtpengine", "mediagate"):
        for mode in ("plain", "encrypt"):
            rows = [r for r in d["rows"] if r["relay"] == relay and r["mode"] == mode and r["k"] == 2]
            steps = [x for x in d["steps"] if x["relay"] == relay and x["mode"] == mode]
            name = "%s %s" % (relay, mode)
            check(len(rows) == 1 and len(steps) >= 1, name + ": one row, its steps")
            if not steps:
                continue
            check(all(x["auth_fail"] == 0 for x in steps), name + ": 0 authentication failures")
            check(all(x["bad"] == 0 for x in steps), name + ": 0 packets from a wrong port or with a wrong payload")
            check(all(x["dup"] == 0 and x["replay"] == 0 for x in steps), name + ": 0 duplicates")
            check(sum(x["verified"] for x in steps) > 0, name + ": packets carried and verified")
            check(all(x["relay_cores"] >= 0 for x in steps), name + ": relay CPU measured")
            if relay == "mediagate":
                check(any(x["dp_busy_cores"] > 0 for x in steps if x["verified"] > 0),
                      name + ": the dataplane worker's busy share read from mediagate-dpctl")
    with open(csv) as f:
        lines = [x.split(",") for x in f.read().splitlines()]
    check(len(lines) == 5 and lines[0][0] == "relay" and "carried_verified_pps" in lines[0],
          "CSV: a header and 4 rows (2 relays x 2 modes)")
    check(sorted((x[0], x[2]) for x in lines[1:]) ==
          [("mediagate", "encrypt"), ("mediagate", "plain"), ("rtpengine", "encrypt"),
           ("rtpengine", "plain")], "CSV: one row per relay x mode")

    d = run(["--relays", "mediagate", "--modes", "encrypt", "--wrong-key"],
            os.path.join(w, "wrong.json"))
    check(d is not None, "relay-bench --wrong-key ran")
    if d is not None:
        steps = d["steps"]
        check(sum(x["verified"] for x in steps) == 0, "wrong key: nothing verified")
        check(sum(x["auth_fail"] for x in steps) > 0, "wrong key: authentication failures counted")
    for f in os.listdir(w):
        os.unlink(os.path.join(w, f))
    os.rmdir(w)
    print("# %d failed" % fails)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
