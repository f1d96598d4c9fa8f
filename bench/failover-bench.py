#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""failover-bench: media gap of a standby takeover (docs/standby.md).

  sudo bench/failover-bench [--runs 10] [--sessions 50] [--advert 0.1]
                            [--kind ng|calls] [--build DIR] [--csv FILE]

Runs tests/ng/ha_standby_test.sh --runs times (each: two mediagate nodes
with keepalived, N SRTP<->SRTP NG sessions on node 1, an SRTP stream per
session at 50 packets/s from a libsrtp2 peer, kill -9 of node 1's
keepalived, control and dataplane; keepalived on node 2 runs `mgctl ha
promote`). What the receivers measured, per run:

  gap_p50_ms / gap_max_ms   media gap across the kill over the N streams:
                            last packet through node 1 to the first through
                            node 2 (what a listener hears as silence)
  notify_ms                 kill -9 to keepalived 2 running notify_master
  base_max_ms               the baseline of the same run: the largest gap of
                            the streams before the kill (20 ms packets: what
                            the machine's load alone makes)
  ok                        streams that got through to their last packet
                            with 0 SRTP auth/replay failures

--kind calls runs tests/ng/ha_standby_calls_test.sh instead: N B2BUA
calls by SIPp (SRTP, a=crypto) through node 1, a stream per call, node 1
stopped and killed (SIGSTOP, kill -9, its link cut), node 2 takes the calls
over (media unblocked, then a re-INVITE per leg); the same columns.

Then the median and max of the per-run gap_max_ms over all runs (the figure
of docs/benchmarks.md). The VRRP advert interval (--advert) sets the
detection time (master down after 3 x advert + skew).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "?"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--sessions", type=int, default=50)
    ap.add_argument("--advert", type=float, default=0.1)
    ap.add_argument("--build", default=os.path.dirname(here))
    ap.add_argument("--src", default=None)
    ap.add_argument("--kind", choices=("ng", "calls"), default="ng")
    ap.add_argument("--csv")
    a = ap.parse_args()
    sys.stdout.reconfigure(line_buffering=True)
    src = a.src
    if src is None:
        # run from the source tree (bench/) or the build tree (build/bench/)
        cand = [os.path.join(here, "..", "tests"), os.path.join(here, "..", "..", "tests")]
        src = next(os.path.dirname(os.path.abspath(c)) for c in cand
                   if os.path.exists(os.path.join(c, "ng", "ha_standby_test.sh")))
    test = os.path.join(src, "tests", "ng", "ha_standby_test.sh" if a.kind == "ng" else "ha_standby_calls_test.sh")
    rows = []
    print("# failover-bench: %d runs, %d SRTP %s, VRRP advert %.2f s; CPU %s, %d cores"
          % (a.runs, a.sessions, "NG sessions" if a.kind == "ng" else "B2BUA calls", a.advert, cpu_model(),
             os.cpu_count()))
    print("%-4s %5s %10s %10s %10s %12s %s" % ("run", "ok", "gap_p50_ms", "gap_max_ms", "notify_ms",
                                             "base_max_ms", "result"))
    for run in range(1, a.runs + 1):
        with tempfile.NamedTemporaryFile(prefix="failover-bench-", suffix=".json", delete=False) as f:
            out = f.name
        env = dict(os.environ, BUILD=a.build, SRC=src, HA_SESSIONS=str(a.sessions), HA_CALLS=str(a.sessions),
                   HA_ADVERT=str(a.advert), HA_RESULT=out)
        p = subprocess.run(["bash", test], env=env, capture_output=True, text=True)
        try:
            d = json.loads(open(out).read().strip().splitlines()[-1])
        except (OSError, IndexError, ValueError):
            d = None
        os.unlink(out)
        if d is None or not d["gap_ms"]:
            print("%-4d %5s %10s %10s %10s %12s test failed (status %d)" % (run, "-", "-", "-", "-", "-",
                                                                          p.returncode))
            sys.stdout.write("".join("#   " + l[:300] + "\n" for l in p.stdout.splitlines() if l.startswith("not ok")))
            continue
        r = {"run": run, "ok": d["good"], "streams": d["streams"],
             "gap_p50_ms": int(statistics.median(d["gap_ms"])), "gap_max_ms": max(d["gap_ms"]),
             "notify_ms": d["notify_master_ms"], "base_max_ms": max(d["before_max_gap_ms"]),
             "test_status": p.returncode}
        rows.append(r)
        print("%-4d %2d/%-2d %10d %10d %10d %12d %s" % (run, r["ok"], r["streams"], r["gap_p50_ms"], r["gap_max_ms"],
                                                       r["notify_ms"], r["base_max_ms"],
                                                       "pass" if p.returncode == 0 else "test status %d" % p.returncode))
        if p.returncode != 0:
            sys.stdout.write("".join("#   " + l[:300] + "\n" for l in p.stdout.splitlines() if l.startswith("not ok")))
    if rows:
        g = [r["gap_max_ms"] for r in rows]
        b = [r["base_max_ms"] for r in rows]
        print("# over %d runs: media gap (per-run max over the streams) median %d ms, max %d ms; "
              "baseline (largest gap before the kill) median %d ms, max %d ms"
              % (len(rows), statistics.median(g), max(g), statistics.median(b), max(b)))
    if a.csv:
        with open(a.csv, "w") as f:
            cols = ["run", "ok", "streams", "gap_p50_ms", "gap_max_ms", "notify_ms", "base_max_ms", "test_status"]
            f.write(",".join(cols + ["advert_s", "kind", "cpu_model"]) + "\n")
            for r in rows:
                f.write(",".join(str(r[c]) for c in cols) + ",%s,%s,\"%s\"\n" % (a.advert, a.kind, cpu_model()))
    return 0 if len(rows) == a.runs else 1


if __name__ == "__main__":
    sys.exit(main())
