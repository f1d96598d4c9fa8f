#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""capacity-sim on tiny scenarios (suite unit, a few seconds): the plan's
arithmetic and the replay's accounting, read from its --json and --series
output. Every check compares two things the program computes separately
(a run with and one without the failure, a total and its parts, a plan and
the plan one node smaller); none compares against a stored figure.
"""
import csv
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SIM = os.path.join(HERE, "capacity-sim.py")
sys.path.insert(0, HERE)
import capacity_plan  # noqa: E402

FAILS = []


def check(cond, what):
    if not cond:
        FAILS.append(what)
        print("FAIL: " + what)


def run(tmp, name, *args):
    js = os.path.join(tmp, name + ".json")
    series = os.path.join(tmp, name + ".csv")
    cmd = [sys.executable, SIM, "--sessions", "500", "--cps", "50", "--duration", "60",
           "--seed", "7", "--json", js, "--series", series] + list(args)
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        print(r.stdout + r.stderr)
        raise SystemExit("capacity-sim %s exited %d" % (" ".join(args), r.returncode))
    with open(js) as f:
        out = json.load(f)
    out["series"] = {}
    for run_name in out["runs"]:
        with open(os.path.join(tmp, "%s-%s.csv" % (name, run_name))) as f:
            out["series"][run_name] = {round(float(row["t"]), 3): row for row in csv.DictReader(f)}
    return out


def conserved(out, label):
    for name, res in out["runs"].items():
        t = res["totals"]
        check(t["initial"] + t["admitted"] == t["ended"] + t["active_end"] + t["lost"],
              "%s %s: initial %d + admitted %d != ended %d + active %d + lost %d"
              % (label, name, t["initial"], t["admitted"], t["ended"], t["active_end"], t["lost"]))
        check(t["offered"] == t["admitted"] + t["rejected"],
              "%s %s: offered %d != admitted %d + rejected %d"
              % (label, name, t["offered"], t["admitted"], t["rejected"]))
        check(sum(s["active_end"] for s in res["slots"]) == t["active_end"],
              "%s %s: slots' calls up do not add up to the total" % (label, name))
        check(t["initial"] > 0 and t["offered"] > 0, "%s %s: no calls at all" % (label, name))


def baseline_up(out, slot, t):
    return int(out["series"]["baseline"][round(t, 3)]["slot%d" % slot])


def test_plan():
    figs = capacity_plan.load_figures(os.path.join(HERE, "capacity-figures.txt"))
    for name, _, _ in capacity_plan.PROFILES:
        for role in ("ng", "b2bua"):
            p = capacity_plan.plan(figs, name, 150000, 2000, role=role)
            per_core = p["core_pps"] * p["max_util"]
            check(p["worker_cores"] * per_core >= p["pps_total"] > (p["worker_cores"] - 1) * per_core,
                  "plan %s: %d worker cores is not the least that carries %d pkt/s"
                  % (name, p["worker_cores"], p["pps_total"]))
            check(p["nodes_media"] * p["workers_per_node"] >= p["worker_cores"]
                  > (p["nodes_media"] - 1) * p["workers_per_node"],
                  "plan %s: %d media nodes is not the least for %d workers"
                  % (name, p["nodes_media"], p["worker_cores"]))
            check(p["nodes_load"] * p["cap_cps_node"] >= 2000, "plan %s %s: set-up rate not covered" % (name, role))
            check(p["nodes"] == p["nodes_load"] + 1, "plan %s: no N+1" % name)
    # the hand-off factor costs cores; one worker per node has no hand-off
    a = capacity_plan.plan(figs, "srtp-srtp", 150000, 2000)
    b = capacity_plan.plan(figs, "srtp-srtp", 150000, 2000, handoff_factor=1.5)
    check(b["worker_cores"] > a["worker_cores"], "hand-off factor 1.5 did not add worker cores")
    c = capacity_plan.plan(figs, "srtp-srtp", 150000, 2000, cores_per_node=3, handoff_factor=1.5)
    check(c["worker_cores"] == a["worker_cores"], "hand-off factor applied to a single-worker node")


def test_bad_figures(tmp):
    bad = os.path.join(tmp, "bad.txt")
    with open(bad, "w") as f:
        f.write("# ok\ntsc_hz 2.6e9\ncycles_srtp_srtp lots\n")
    r = subprocess.run([sys.executable, SIM, "--figures", bad, "--plan-only"], capture_output=True, text=True)
    check(r.returncode != 0 and "bad.txt:3" in r.stderr and "cycles_srtp_srtp" in r.stderr,
          "a bad figures line is not refused with file:line and key: rc %d, %r" % (r.returncode, r.stderr))


def main():
    test_plan()
    with tempfile.TemporaryDirectory(prefix="capsim-") as tmp:
        test_bad_figures(tmp)
        common = ["--topology", "active", "--nodes", "3", "--cap-sessions", "1000", "--cap-cps", "1000"]

        # no failure: nothing lost, no gap; the scenario row is not even run
        out = run(tmp, "none", *common)
        conserved(out, "none")
        t = out["runs"]["baseline"]["totals"]
        check(t["lost"] == 0 and t["media_gap_s"] == 0 and t["setup_retried"] == 0,
              "no failure but lost %d, gap %.1f, retried %d" % (t["lost"], t["media_gap_s"], t["setup_retried"]))
        check("scenario" not in out["runs"], "a scenario run without failures")

        # node lost, no standby: its calls at that moment are lost, exactly the
        # calls the run without the failure had on it then
        out = run(tmp, "lose", *common, "--fail", "node:1@30,detect=1")
        conserved(out, "lose")
        e = out["runs"]["scenario"]["events"][0]
        t = out["runs"]["scenario"]["totals"]
        check(e["mode"] == "lose" and e["active_at_failure"] > 0, "lose: event %r" % e)
        check(t["lost"] == e["lost"] == e["active_at_failure"] == baseline_up(out, 1, 30.0),
              "lose: lost %d, event lost %d, up at failure %d, baseline up %d"
              % (t["lost"], e["lost"], e["active_at_failure"], baseline_up(out, 1, 30.0)))
        check(t["media_lost_s"] > 0 and t["media_gap_s"] == 0, "lose: media lost %.1f gap %.1f"
              % (t["media_lost_s"], t["media_gap_s"]))
        check(t["setup_retried"] > 0, "lose: no set-up was sent to the dead node before detection")
        check(out["runs"]["scenario"]["slots"][1]["active_end"] == 0, "lose: the dead node took calls after detection")
        check(out["runs"]["baseline"]["totals"]["offered"] == t["offered"], "lose: not the same arrivals")
        check(not t["over_capacity_after_failure"], "lose: two of three nodes at 1000 each over capacity")

        # standby: calls kept after detect + failover, those newer than the
        # publication lag lost; the second failure finds no standby left
        out = run(tmp, "standby", "--topology", "standby", "--nodes", "2", "--spare", "1",
                  "--cap-sessions", "1000", "--cap-cps", "1000",
                  "--fail", "node:0@20,detect=1,failover=0.5,lag=2", "--fail", "node:1@40,detect=1")
        conserved(out, "standby")
        e0, e1 = out["runs"]["scenario"]["events"]
        t = out["runs"]["scenario"]["totals"]
        check(e0["mode"] == "standby" and e0["kept"] + e0["lost"] == e0["active_at_failure"]
              == baseline_up(out, 0, 20.0), "standby: event %r, baseline up %d" % (e0, baseline_up(out, 0, 20.0)))
        check(0 < e0["lost"] < e0["active_at_failure"], "standby: lag 2 s lost %d of %d"
              % (e0["lost"], e0["active_at_failure"]))
        check(0 < e0["media_gap_s"] <= 1.5 * e0["kept"], "standby: gap %.1f s for %d calls kept"
              % (e0["media_gap_s"], e0["kept"]))
        check(e1["mode"] == "standby-none-left" and e1["lost"] == e1["active_at_failure"] > 0,
              "standby: second failure %r" % e1)
        check(t["standby_left"] == 0, "standby: %d standby left" % t["standby_left"])

        # survivors: the dead node's calls are re-offered to the others
        out = run(tmp, "surv", *common, "--fail", "node:2@30,mode=survivors,detect=1,failover=1")
        conserved(out, "surv")
        e = out["runs"]["scenario"]["events"][0]
        check(e["lost"] == 0 and 0 < e["moved"] <= e["active_at_failure"]
              and e["media_gap_s"] <= 2 * e["active_at_failure"],
              "survivors: %r" % e)

        # too little capacity after a failure: two nodes that each hold the
        # load's half but not all of it (500 up on average, 400 per node)
        small = ["--topology", "active", "--nodes", "2", "--cap-sessions", "400", "--cap-cps", "1000"]
        out = run(tmp, "over", *small, "--fail", "node:0@20,detect=1")
        conserved(out, "over")
        check(not out["runs"]["baseline"]["totals"]["over_capacity"], "over: baseline over capacity")
        check(out["runs"]["scenario"]["totals"]["over_capacity"]
              and out["runs"]["scenario"]["totals"]["rejected"] > 0
              and out["runs"]["scenario"]["slots"][1]["peak_active"] <= 400,
              "over: one node left for the load, nothing refused")
        check(out["runs"]["scenario"]["totals"]["over_capacity_after_failure"]
              and not out["runs"]["baseline"]["totals"]["over_capacity_after_failure"],
              "over: not flagged over capacity after the failure")
        out = run(tmp, "noadmit", *small, "--no-admit", "--fail", "node:0@20,detect=1")
        conserved(out, "noadmit")
        s1 = out["runs"]["scenario"]["slots"][1]
        check(s1["over_capacity_after_failure"] and s1["peak_active_after_failure"] > 400 and out["runs"]["scenario"]["totals"]["rejected"] == 0,
              "noadmit: survivor %r" % s1)

        # dataplane restart: every call kept, gap at most the restart gap each
        out = run(tmp, "dp", *common, "--fail", "dataplane:0@30,gap=0.5")
        conserved(out, "dp")
        e = out["runs"]["scenario"]["events"][0]
        check(e["lost"] == 0 and e["kept"] == e["active_at_failure"] == baseline_up(out, 0, 30.0)
              and 0 < e["media_gap_s"] <= 0.5 * e["kept"], "dataplane: %r" % e)

        # control restart without re-adoption: a B2BUA node's calls lose their
        # SIP state, an NG node's sessions are leaked; with re-adoption neither
        for role, readopt in (("b2bua", "0"), ("ng", "0"), ("b2bua", "1")):
            out = run(tmp, "ctl-%s-%s" % (role, readopt), *common, "--role", role,
                      "--fail", "control:0@30,gap=2,readopt=" + readopt)
            conserved(out, "ctl")
            e = out["runs"]["scenario"]["events"][0]
            n = e["active_at_failure"]
            want_lost = n if (role == "b2bua" and readopt == "0") else 0
            want_leak = n if readopt == "0" else 0
            check(n > 0 and e["lost"] == want_lost and e["leaked"] == want_leak and e["media_gap_s"] == 0,
                  "control %s readopt %s: %r" % (role, readopt, e))

    print("capacity-sim: %d failed check(s)" % len(FAILS) if FAILS else "capacity-sim: all checks passed")
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
