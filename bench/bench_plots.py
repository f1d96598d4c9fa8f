#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""bench_plots: PNG plots from the CSV files bench/run-all writes (issue 14
item 5), with matplotlib (Debian's python3-matplotlib, hence /usr/bin/python3).

  bench/bench_plots.py DIR      reads DIR/*.csv, writes DIR/*.png, prints
                                the files written and the plots skipped,
                                and writes the same to DIR/plots.json:
                                {"written": [PNG, ...], "skipped": {PNG: why}}

Plots, each from the CSV named (a missing or empty CSV: that plot is
skipped with a note, the others are still made):

  relay-rate.png     rate vs sessions, mediagate vs rtpengine
                     (relay.csv: a column naming the implementation - impl,
                     relay or implementation -, a sessions column - sessions
                     or k - and a rate column - carried_verified_pps,
                     carried_pps, pps, rate_pps or mpps)
  cycles.png         dataplane worker cycles per packet by mode and sessions
                     (dp.csv: k, mode, cycles_per_pkt[_min/_max])
  setup-rate.png     call setup rate achieved vs offered, per target
                     (call-ramp.csv: tool, transport, mode, rate, cps, pass)
  memory.png         bytes per session: dataplane, plain and SRTP->SRTP
                     sessions (dp.csv bytes_per_session),
                     NG control plane per relay (ng.csv ctl_bytes_per_session),
                     SIP calls held (call-held.csv ctl/dp_b_per_call)
"""
import csv
import json
import os
import sys


def read(path):
    """The rows of a CSV as dicts; [] when missing or empty."""
    try:
        with open(path, newline="") as f:
            return [r for r in csv.DictReader(f)]
    except OSError:
        return []


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def pick(cols, names):
    for n in names:
        if n in cols:
            return n
    return None


def plot_relay(d, plt):
    rows = read(os.path.join(d, "relay.csv"))
    if not rows:
        return "relay.csv missing or empty (the relay bench did not run)"
    cols = rows[0].keys()
    ic = pick(cols, ("impl", "relay", "implementation"))
    sc = pick(cols, ("sessions", "k"))
    rc = pick(cols, ("carried_verified_pps", "carried_pps", "pps", "rate_pps", "mpps"))
    if not (ic and sc and rc):
        return "relay.csv has no implementation/sessions/rate columns: %s" % ", ".join(cols)
    series = {}
    for r in rows:
        x, y = num(r[sc]), num(r[rc])
        if x is not None and y is not None:
            # one line per implementation and mode when the CSV has modes (relay-bench)
            name = r[ic] + (" " + r["mode"] if r.get("mode") else "")
            series.setdefault(name, []).append((x, y / 1e6 if rc != "mpps" else y))
    fig, ax = plt.subplots(figsize=(6.4, 4))
    for name, pts in sorted(series.items()):
        pts.sort()
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=name)
    ax.set_xscale("log")
    ax.set_xlabel("sessions")
    ax.set_ylabel("Mpps carried and verified")
    ax.set_title("RTP relay rate vs sessions")
    ax.grid(True, alpha=0.3)
    ax.legend()
    return fig


def plot_cycles(d, plt):
    rows = [r for r in read(os.path.join(d, "dp.csv")) if num(r.get("cycles_per_pkt"))]
    if not rows:
        return "dp.csv missing or empty (dp-bench did not run)"
    ks = sorted({int(num(r["k"])) for r in rows})
    modes = []
    for r in rows:
        if r["mode"] not in modes:
            modes.append(r["mode"])
    fig, ax = plt.subplots(figsize=(6.4, 4))
    w = 0.8 / max(len(ks), 1)
    for i, k in enumerate(ks):
        ys, lo, hi = [], [], []
        for m in modes:
            r = next((x for x in rows if int(num(x["k"])) == k and x["mode"] == m), None)
            y = num(r["cycles_per_pkt"]) if r else 0.0
            ys.append(y)
            lo.append(max(0.0, y - (num(r.get("cycles_per_pkt_min")) or y)) if r else 0.0)
            hi.append(max(0.0, (num(r.get("cycles_per_pkt_max")) or y) - y) if r else 0.0)
        xs = [j + (i - (len(ks) - 1) / 2) * w for j in range(len(modes))]
        ax.bar(xs, ys, w, yerr=[lo, hi], capsize=2, label="%d session%s" % (k, "" if k == 1 else "s"))
    ax.set_xticks(range(len(modes)))
    ax.set_xticklabels(modes)
    ax.set_ylabel("worker cycles per packet")
    ax.set_title("dataplane cost per packet (median, min-max)")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend()
    return fig


def plot_setup(d, plt):
    rows = [r for r in read(os.path.join(d, "call-ramp.csv")) if num(r.get("rate"))]
    if not rows:
        return "call-ramp.csv missing or empty (call-bench --ramp did not run)"
    series = {}
    for r in rows:  # a step run again (attempt 2): its last attempt counts
        key = "%s %s %s" % (r["transport"], r["mode"], "(SIPp)" if r["tool"] == "sipp" else
                            "(sip-load-client)")
        series.setdefault(key, {})[num(r["rate"])] = (num(r["rate"]), num(r["cps"]) or 0.0,
                                                      r["pass"] in ("True", "true", "1"))
    series = {k: list(v.values()) for k, v in series.items()}
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    low, top = float("inf"), 1.0
    for name, pts in sorted(series.items()):
        pts.sort()
        low, top = min(low, pts[0][0]), max(top, pts[-1][0])
        line, = ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o",
                        linestyle="--" if "direct" in name else "-", label=name)
        bad = [p for p in pts if not p[2]]
        if bad:
            ax.plot([p[0] for p in bad], [p[1] for p in bad], "x", color=line.get_color(),
                    markersize=10)
    ax.plot([low, top], [low, top], color="grey", linewidth=0.8, label="offered")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("offered calls/s")
    ax.set_ylabel("calls/s answered 200 (x: step failed)")
    ax.set_title("call setup rate vs offered load (1 s hold)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    return fig


def plot_memory(d, plt):
    bars = []
    for r in read(os.path.join(d, "dp.csv")):  # -1: not measured (K = 1)
        v = num(r.get("bytes_per_session"))
        if v is not None and v > 0 and r.get("mode") in ("plain", "srtp-srtp"):
            bars.append(("dataplane %s\n%s sess" % (r["mode"], r["k"]), v))
    for r in read(os.path.join(d, "ng.csv")):
        v = num(r.get("ctl_bytes_per_session"))
        if v is not None and r.get("impl") != "client-ceiling":
            bars.append(("NG %s\n%s sess" % (r["impl"], r.get("sessions", "?")), v))
    for r in read(os.path.join(d, "call-held.csv")):
        for col, who in (("ctl_b_per_call", "control"), ("dp_b_per_call", "dataplane")):
            v = num(r.get(col))
            if v is not None:
                bars.append(("SIP %s\n%s calls" % (who, r.get("calls", "?")), v))
    if not bars:
        return "no memory figures (dp.csv, ng.csv, call-held.csv missing or empty)"
    fig, ax = plt.subplots(figsize=(max(6.4, 0.9 * len(bars)), 4.2))
    ax.bar(range(len(bars)), [b[1] / 1024.0 for b in bars], color="tab:blue")
    ax.set_xticks(range(len(bars)))
    ax.set_xticklabels([b[0] for b in bars], fontsize=7)
    ax.set_ylabel("KiB per session (RSS growth / sessions)")
    ax.set_title("memory per session")
    ax.grid(True, axis="y", alpha=0.3)
    return fig


PLOTS = [("relay-rate.png", plot_relay), ("cycles.png", plot_cycles),
         ("setup-rate.png", plot_setup), ("memory.png", plot_memory)]


def make_all(d):
    """Write every plot it has data for, and d/plots.json: the file names
    written, the plots skipped with why; returns (written paths, skipped notes)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    written, skipped = [], {}
    for name, fn in PLOTS:
        fig = fn(d, plt)
        if isinstance(fig, str):
            skipped[name] = fig
            continue
        fig.tight_layout()
        fig.savefig(os.path.join(d, name), dpi=80)
        plt.close(fig)
        written.append(name)
    with open(os.path.join(d, "plots.json"), "w") as f:
        json.dump({"written": written, "skipped": skipped}, f, indent=1)
    return ([os.path.join(d, n) for n in written],
            ["%s: %s" % (n, why) for n, why in skipped.items()])


def main():
    if len(sys.argv) != 2:
        print("usage: bench_plots.py DIR", file=sys.stderr)
        return 2
    written, skipped = make_all(sys.argv[1])
    for w in written:
        print("wrote %s" % w)
    for s in skipped:
        print("skipped %s" % s)
    return 0


if __name__ == "__main__":
    sys.exit(main())
