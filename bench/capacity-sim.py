#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""capacity-sim: cores and nodes for a target load, and a replay of failures.

  bench/capacity-sim [--sessions 150000] [--cps 2000] [--profile srtp-srtp]
                     [--role ng|b2bua] [--topology standby|active]
                     [--fail KIND:SLOT@T[,key=value...]]... [--seed N]
                     [--csv FILE] [--json FILE] [--series FILE] [--plan-only]

1. Plan. From the measured per-core figures (--figures, default
   capacity-figures.txt beside this program: each figure cites the line of
   docs/benchmarks.md it comes from), for every dataplane profile: packets per
   second (sessions x 2 directions x 50 packets/s), worker cores at
   --max-util of a core, nodes of --cores-per-node (--reserved-cores of them
   not workers: the dataplane's main lcore, the control thread) for the media
   and for the set-up rate, and the total with --spare nodes (N+1).

2. Replay (capacity_replay.py). Poisson arrivals at --cps, exponential hold
   times (mean --hold-s, default sessions / cps, so the target is the mean
   number of calls up), weighted over the plan's nodes, each admitting up to
   its capacity (mediagate.calls.maxCalls / maxRate; --no-admit: no limit),
   failures at given times. Topology "standby": N active slots and --spare
   standby machines that take a failed slot over (Redis state, keepalived
   address); "active": N + spare slots all carrying calls.
   The same seed without the failures runs first: the baseline row.

--fail KIND:SLOT@T[,mode=lose|standby|survivors][,detect=S][,failover=S]
       [,gap=S][,lag=S][,repair=S][,readopt=0|1]
   KIND node (detect, failover, lag, repair, mode; mode defaults to standby
   in the standby topology, lose otherwise), dataplane (gap, default the
   measured restart gap), control (gap, readopt).

Output: tables; --csv FILE (section,run,item,metric,value rows), --json FILE
(everything), --series FILE (t and each slot's calls up per step).
Nothing here is measured by this program: it replays figures measured by
dp-bench, ng-bench, call-bench and the dp-restart test, and design values
(detection, failover, publication lag) given as parameters.
"""
import argparse
import csv
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import capacity_plan  # noqa: E402
import capacity_replay  # noqa: E402

PLAN_COLS = [("profile", "%-18s", "profile"), ("core_pps", "%9.3f", "Mpps/core"),
             ("sessions_per_core", "%9d", "sess/core"), ("worker_cores", "%7d", "workers"),
             ("nodes_media", "%6d", "n media"), ("nodes_setup", "%6d", "n setup"),
             ("nodes", "%6d", "N+spare"), ("cores_total", "%6d", "cores"),
             ("cap_sessions_node", "%9d", "sess/node"), ("node_gbps_each_way", "%8.1f", "Gb/s/nd"),
             ("node_mem_gb", "%6.2f", "GB/nd")]
TOT_COLS = [("initial", "initial"), ("offered", "offered"), ("admitted", "admitted"),
            ("rejected", "rejected"), ("ended", "ended"), ("active_end", "up at end"), ("lost", "lost"),
            ("setup_retried", "retried"), ("media_gap_s", "gap call-s"), ("media_lost_s", "lost call-s"),
            ("leaked_sessions", "leaked"), ("over_capacity", "over cap"),
            ("over_capacity_after_failure", "over after")]


def parse_fail(text, args, figs):
    try:
        head, _, rest = text.partition(",")
        kind, _, where = head.partition(":")
        slot, _, t = where.partition("@")
        kv = dict(p.split("=", 1) for p in rest.split(",") if p)
        f = capacity_replay.Failure(
            kind, int(slot), float(t),
            mode=kv.pop("mode", "standby" if args.topology == "standby" else "lose"),
            detect_s=float(kv.pop("detect", args.detect_s)),
            failover_s=float(kv.pop("failover", args.failover_s)),
            gap_s=float(kv.pop("gap", figs["dp_restart_gap_s"] if kind == "dataplane"
                               else args.ctl_restart_s)),
            publish_lag_s=float(kv.pop("lag", args.publish_lag_s)),
            repair_s=float(kv["repair"]) if "repair" in kv else None,
            readopt=kv.pop("readopt", "0") == "1")
        kv.pop("repair", None)
        if kv:
            raise ValueError("unknown keys %s" % ", ".join(sorted(kv)))
        return f
    except ValueError as e:
        sys.exit("--fail %r: %s (KIND:SLOT@T[,mode=..,detect=S,failover=S,gap=S,lag=S,repair=S,readopt=0|1])"
                 % (text, e))


def print_plan(rows, args):
    print("# plan: %d sessions (2 x %d pkt/s of %d B), %d set-ups/s, role %s, %d cores/node "
          "(%d reserved), %.0f %% of a core, hand-off factor %.2f, spare %d"
          % (args.sessions, args.pps, args.bytes, args.cps, args.role, args.cores_per_node,
             args.reserved_cores, 100 * args.max_util, args.handoff_factor, args.spare))
    widths = [len(fmt % (0 if "s" not in fmt else "")) for _, fmt, _ in PLAN_COLS]
    print(" ".join(h.ljust(w) if i == 0 else h.rjust(w)
                   for i, ((_, _, h), w) in enumerate(zip(PLAN_COLS, widths))))
    for r in rows:
        vals = []
        for key, fmt, _ in PLAN_COLS:
            v = r[key] / 1e6 if key == "core_pps" else r[key]
            vals.append(fmt % v)
        print(" ".join(vals))


def print_run(name, res):
    t = res["totals"]
    print("%-9s " % name + " ".join(
        ("%11.1f" % t[c]) if isinstance(t[c], float) else ("%11s" % t[c]) for c, _ in TOT_COLS))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--figures", default=os.path.join(here, "capacity-figures.txt"))
    ap.add_argument("--sessions", type=int, default=150000)
    ap.add_argument("--cps", type=float, default=2000)
    ap.add_argument("--pps", type=int, default=50, help="packets/s per direction")
    ap.add_argument("--bytes", type=int, default=172, help="RTP packet size (for Gbit/s)")
    ap.add_argument("--profile", default="srtp-srtp",
                    choices=[p[0] for p in capacity_plan.PROFILES])
    ap.add_argument("--role", default="ng", choices=["ng", "b2bua"])
    ap.add_argument("--cores-per-node", type=int, default=16)
    ap.add_argument("--reserved-cores", type=int, default=2)
    ap.add_argument("--max-util", type=float, default=0.8)
    ap.add_argument("--handoff-factor", type=float, default=1.0)
    ap.add_argument("--spare", type=int, default=1)
    ap.add_argument("--topology", default="standby", choices=["standby", "active"])
    ap.add_argument("--nodes", type=int, help="active slots (default: the plan's)")
    ap.add_argument("--cap-sessions", type=int, help="per-node sessions (default: the plan's)")
    ap.add_argument("--cap-cps", type=float, help="per-node set-ups/s (default: the plan's)")
    ap.add_argument("--no-admit", action="store_true", help="nodes take every call (no load limit)")
    ap.add_argument("--hold-s", type=float, help="mean hold time (default sessions / cps)")
    ap.add_argument("--duration", type=float, default=300.0)
    ap.add_argument("--dt", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--fail", action="append", default=[])
    ap.add_argument("--detect-s", type=float, default=3.0,
                    help="node loss detection (design: VRRP 3 x advert_int 1 s)")
    ap.add_argument("--failover-s", type=float, default=0.5,
                    help="after detection until the standby forwards (design)")
    ap.add_argument("--publish-lag-s", type=float, default=0.1,
                    help="set-up to state in Redis (design)")
    ap.add_argument("--ctl-restart-s", type=float, default=2.0,
                    help="control plane restart (design: systemd Restart=)")
    ap.add_argument("--plan-only", action="store_true")
    ap.add_argument("--csv")
    ap.add_argument("--json")
    ap.add_argument("--series")
    args = ap.parse_args()

    try:
        figs = capacity_plan.load_figures(args.figures)
    except (OSError, ValueError) as e:
        sys.exit("capacity-sim: %s" % e)
    common = dict(sessions=args.sessions, cps=args.cps, pps_per_dir=args.pps, pkt_bytes=args.bytes,
                  cores_per_node=args.cores_per_node, reserved_cores=args.reserved_cores,
                  max_util=args.max_util, handoff_factor=args.handoff_factor, role=args.role,
                  spare=args.spare)
    try:
        rows = [capacity_plan.plan(figs, p[0], **common) for p in capacity_plan.PROFILES]
    except (KeyError, ValueError) as e:
        sys.exit("capacity-sim: %s: %s" % (args.figures, e))
    print("# figures: %s" % args.figures)
    print_plan(rows, args)
    used = next(r for r in rows if r["profile"] == args.profile)
    out = dict(figures_file=args.figures, figures=figs, plan=rows, plan_used=used, params=vars(args))
    runs = {}
    if not args.plan_only:
        n_active = args.nodes or (used["nodes_load"] if args.topology == "standby" else used["nodes"])
        cap_s = args.cap_sessions or used["cap_sessions_node"]
        cap_c = args.cap_cps or used["cap_cps_node"]
        hold = args.hold_s or args.sessions / args.cps
        fails = [parse_fail(x, args, figs) for x in args.fail]
        print("# replay: %d active slots x (%d sessions, %.0f set-ups/s), %d standby, %.0f calls/s, "
              "hold %.1f s mean, %.0f s, dt %.2f s, seed %d, profile %s"
              % (n_active, cap_s, cap_c, args.spare if args.topology == "standby" else 0,
                 args.cps, hold, args.duration, args.dt, args.seed, args.profile))
        print("%-9s " % "run" + " ".join("%11s" % h for _, h in TOT_COLS))
        for name, fl in (("baseline", []), ("scenario", fails)):
            if name == "scenario" and not fails:
                break
            t0 = time.monotonic()
            rp = capacity_replay.Replay([(1.0, cap_s, cap_c)] * n_active, args.cps, hold, args.duration,
                                        args.seed, dt=args.dt, admit=not args.no_admit, role=args.role,
                                        standby=args.spare if args.topology == "standby" else 0,
                                        series=bool(args.series))
            try:
                res = rp.run(fl)
            except ValueError as e:
                sys.exit("capacity-sim: %s" % e)
            res["wall_s"] = time.monotonic() - t0
            runs[name] = res
            print_run(name, res)
            if args.series:
                base, ext = os.path.splitext(args.series)
                with open("%s-%s%s" % (base, name, ext or ".csv"), "w", newline="") as f:
                    w = csv.writer(f)
                    w.writerow(["t"] + ["slot%d" % i for i in range(n_active)])
                    for t, v in rp.series:
                        w.writerow(["%.3f" % t] + v)
        for name, res in runs.items():
            for e in res["events"]:
                print("# %s event: %s slot %d at %.1f s (%s): %d up, %d lost, %d kept, %d moved, "
                      "%.1f s media gap, %.1f s media lost, %d leaked"
                      % (name, e["kind"], e["slot"], e["t"], e["mode"], e["active_at_failure"], e["lost"],
                         e["kept"], e["moved"], e["media_gap_s"], e["media_lost_s"], e["leaked"]))
            for s in res["slots"]:
                print("# %s slot %d: peak %d / %d sessions (%.0f %%), after failure %d, peak %d / %.0f "
                      "set-ups/s, refused %d (%d after the failure)%s"
                      % (name, s["slot"], s["peak_active"], s["cap_sessions"], 100 * s["peak_load"],
                         s["peak_active_after_failure"], s["peak_cps"], s["cap_cps"], s["refused"],
                         s["refused_after_failure"],
                         "  OVER CAPACITY" if s["over_capacity"] else ""))
    out["runs"] = runs
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1, default=str)
    if args.csv:
        with open(args.csv, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["section", "run", "item", "metric", "value"])
            for r in rows:
                for k, v in r.items():
                    w.writerow(["plan", "", r["profile"], k, v])
            for name, res in runs.items():
                for k, v in res["totals"].items():
                    w.writerow(["totals", name, "", k, v])
                for i, e in enumerate(res["events"]):
                    for k, v in e.items():
                        w.writerow(["event", name, i, k, v])
                for s in res["slots"]:
                    for k, v in s.items():
                        w.writerow(["slot", name, s["slot"], k, v])


if __name__ == "__main__":
    main()
