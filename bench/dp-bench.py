#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""dp-bench: mediagate-dataplane on one worker core against a DPDK generator
(dp_bench_gen) over net_memif on the other core, each with its own
--file-prefix and --no-shconf.

For K sessions and each mode (plain, encrypt, decrypt, srtp-srtp; 172-byte
RTP packets) it finds the highest rate at which < 0.01% of the packets the
generator was to send are not carried back and verified (every returning
packet: its session's address and port, SRTP authenticated and decrypted by
the generator with our engine when the dataplane's output is SRTP, the
payload, the sequence number in order per stream). Packets the generator
could not send (no mbuf, short tx burst, behind its schedule) are loss. Each
row runs --repeat times: median and min-max of the carried and verified rate
and of the worker's busy cycles per packet over the whole trial at that rate
(DP_STATS before and after). 'gen ceiling' is the generator's own rate in a
loopback run with no dataplane (net_ring): a row within 10% of it measures
the generator, not the dataplane. Never asserts.

usage: dp-bench [--k 1,1000,10000,50000] [--modes plain,encrypt,...]
                [--ms 400] [--repeat 3] [--csv FILE] [--build DIR]
"""
import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time

# per run: two dp-benches (or run-all beside another helper's) must not share it
RUN = "/tmp/mgdp-bench-%x" % os.getpid()
CYC_GOALS = {"plain": 300, "encrypt": 1000, "decrypt": 1000, "srtp-srtp": 1000}
FEATURES = ("aes", "vaes", "vpclmulqdq", "sha_ni", "avx512f", "avx2")


def rate_goal(mode, k):
    """Issue 14's goals in Mpps carried and verified on one worker, or None."""
    if mode == "encrypt":
        return 3.0 if k <= 10000 else 2.5
    if mode == "srtp-srtp" and k <= 10000:
        return 2.0
    return None


def cpu_line():
    model, flags = "?", set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and model == "?":
                    model = line.split(":", 1)[1].strip()
                elif line.startswith("flags") and not flags:
                    flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    feat = " ".join(("+" if x in flags else "-") + x for x in FEATURES)
    return model, "%s (%s), %d online" % (model, feat, os.cpu_count() or 0)


def start_dataplane(build, idle_us):
    shutil.rmtree(RUN, ignore_errors=True)
    os.makedirs(RUN)
    conf = RUN + "/gw.properties"
    with open(conf, "w") as f:
        f.write("mediagate.log.level=warning\n"
                "mediagate.control.socket=%s/dp.sock\n"
                "mediagate.dataplane.eal=--no-huge -m 1024 --no-shconf --no-pci "
                "--file-prefix mgdp-bench-%x -l 0,1 --log-level=*:error\n"
                "mediagate.dataplane.workerLcores=1\n"
                "mediagate.dataplane.idleSleepUs=%d\n"
                "mediagate.dataplane.maxSessions=60000\n"
                "mediagate.dataplane.port.0.device=net_memif0,role=server,socket=%s/memif.sock,"
                "rsize=13\n"
                "mediagate.dataplane.port.0.addresses=192.0.2.1/24,192.0.2.2/24,"
                "192.0.2.3/24,192.0.2.4/24\n" % (RUN, os.getpid(), idle_us, RUN))
    log = open(RUN + "/dataplane.log", "w")
    p = subprocess.Popen([build + "/dataplane/mediagate-dataplane", "--config", conf],
                         stdout=log, stderr=subprocess.STDOUT)
    for _ in range(100):
        if p.poll() is not None:
            raise RuntimeError("dataplane exited:\n" + open(RUN + "/dataplane.log").read())
        if os.path.exists(RUN + "/dp.sock"):
            time.sleep(0.2)
            return p
        time.sleep(0.05)
    stop(p)
    raise RuntimeError("dataplane did not start")


def stop(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def gen(build, args):
    r = subprocess.run([build + "/bench/dp_bench_gen"] + args, stdout=subprocess.PIPE,
                       stderr=None if os.environ.get("DP_BENCH_VERBOSE") else subprocess.PIPE,
                       text=True, timeout=600)
    if r.returncode != 0:
        return {"error": (r.stderr or "").strip()[-200:] or "exit %d" % r.returncode}
    return json.loads(r.stdout.strip().splitlines()[-1])


def one(build, k, mode, ms, idle_us):
    dp = start_dataplane(build, idle_us)
    try:
        r = gen(build, ["--ctl", RUN + "/dp.sock", "--memif", RUN + "/memif.sock",
                        "--k", str(k), "--mode", mode, "--ms", str(ms),
                        "--dp-pid", str(dp.pid), "--lcore", "0"])
    finally:
        stop(dp)
    r.update(k=k, mode=mode)
    return r


def ceiling(build, k, mode, ms):
    """The generator alone (net_ring loopback): its carried+verified rate."""
    r = gen(build, ["--loopback", "--k", str(k), "--mode", mode, "--ms", str(ms),
                    "--lcore", "0"])
    return r.get("gen_ceiling_pps", 0.0)


def summarize(k, mode, runs, ceil):
    ok = [r for r in runs if "error" not in r]
    if not ok:
        return {"k": k, "mode": mode, "error": runs[-1]["error"]}
    # a run where no rate passed carried nothing verified
    rate = lambda r: r["carried_verified_pps"] if r["pass"] else 0.0
    ok.sort(key=rate)
    med = ok[(len(ok) - 1) // 2]  # the median run (lower middle): its other figures
    rates = [rate(r) for r in ok]
    cyc = [r["cycles_per_pkt"] for r in ok if r["cycles_per_pkt"] > 0]
    s = {
        "k": k, "mode": mode, "repeats": len(ok),
        "offered_pps": med["offered_pps"], "sent_pps": med["sent_pps"],
        "carried_verified_pps": statistics.median(rates),
        "carried_verified_pps_min": min(rates), "carried_verified_pps_max": max(rates),
        "loss_pct": med["loss_pct"],
        # over every trial of every repeat's rate search, passing or not
        "auth_fail": sum(r["search_auth_fail"] for r in ok),
        "reorder": sum(r["search_reorder"] + r["search_late"] for r in ok),
        "dup": sum(r["search_dup"] + r["search_replay"] for r in ok),
        "bad": sum(r["search_bad"] for r in ok),
        "cycles_per_pkt": statistics.median(cyc) if cyc else 0.0,
        "cycles_per_pkt_min": min(cyc) if cyc else 0.0,
        "cycles_per_pkt_max": max(cyc) if cyc else 0.0,
        "pkts_per_poll": med.get("pkts_per_poll", 0.0),
        "lat_p50_us": med["lat_p50_us"], "lat_p99_us": med["lat_p99_us"],
        "bytes_per_session": med["bytes_per_session"],
        "gen_ceiling_pps": ceil, "search_cap": any(r["gen_limited"] for r in ok),
        "tsc_hz": med["tsc_hz"],
    }
    s["core_mpps"] = s["tsc_hz"] / s["cycles_per_pkt"] / 1e6 if s["cycles_per_pkt"] else 0.0
    s["gen_bound"] = bool(ceil) and s["carried_verified_pps"] >= 0.9 * ceil
    g = rate_goal(mode, k)
    s["goal_mpps"] = g
    if g is None:
        s["verdict"] = ""
    elif s["carried_verified_pps"] >= g * 1e6:
        s["verdict"] = "met"
    elif s["gen_bound"] or (ceil and ceil < g * 1e6):
        s["verdict"] = "not shown (gen)"
    else:
        s["verdict"] = "NOT met"
    return s


CSV_COLS = ["k", "mode", "repeats", "offered_pps", "sent_pps", "carried_verified_pps",
            "carried_verified_pps_min", "carried_verified_pps_max", "loss_pct", "auth_fail",
            "reorder", "dup", "bad", "cycles_per_pkt", "cycles_per_pkt_min",
            "cycles_per_pkt_max", "pkts_per_poll", "core_mpps", "lat_p50_us", "lat_p99_us",
            "bytes_per_session", "gen_ceiling_pps", "gen_bound", "goal_mpps", "verdict",
            "tsc_hz", "cpu_model"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--k", default="1,1000,10000,50000")
    ap.add_argument("--modes", default="plain,encrypt,decrypt,srtp-srtp")
    ap.add_argument("--ms", type=int, default=400, help="duration of one rate trial")
    ap.add_argument("--idle-us", type=int, default=0, help="dataplane idleSleepUs")
    ap.add_argument("--repeat", type=int, default=3,
                    help="runs per row: median and min-max of rate and cycles")
    ap.add_argument("--no-ceiling", action="store_true",
                    help="skip the generator's loopback ceiling runs")
    ap.add_argument("--csv", help="also write the rows as CSV to this file ('-' = stdout)")
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--build", default=os.path.dirname(here))
    a = ap.parse_args()
    model, cpu = cpu_line()
    print("# cpu: %s" % cpu)
    print("# load average at start: %s" % " ".join(open("/proc/loadavg").read().split()[:3]))
    print("# one worker (lcore 1) vs the generator (lcore 0) over net_memif; %d ms trials, "
          "%d repeats per row: median [min-max]" % (a.ms, a.repeat))
    rows = []
    hdr = "%-6s %-9s %-22s %6s %6s %7s %5s %5s %-16s %5s %7s %6s %8s %-16s %7s %7s %7s" % (
        "K", "mode", "carried+verified Mpps", "offer", "sent", "loss%", "auth", "reord",
        "cyc/pkt", "burst", "x plain", "core", "gen ceil", "goal", "p50 us", "p99 us",
        "B/sess")
    print(hdr)
    print("-" * len(hdr))
    for k in [int(x) for x in a.k.split(",")]:
        base = None
        for mode in a.modes.split(","):
            ceil = 0.0 if a.no_ceiling else ceiling(a.build, k, mode, a.ms)
            runs = [one(a.build, k, mode, a.ms, a.idle_us) for _ in range(max(1, a.repeat))]
            s = summarize(k, mode, runs, ceil)
            s["cpu_model"] = model
            rows.append(s)
            if "error" in s:
                print("%-6d %-9s error: %s" % (k, mode, s["error"]), flush=True)
                continue
            if mode == "plain":
                base = s["cycles_per_pkt"]
            ratio = s["cycles_per_pkt"] / base if base else float("nan")
            g = s["goal_mpps"]
            print("%-6d %-9s %-22s %6.2f %6.2f %7.4f %5d %5d %-16s %5.1f %7.2f %6.2f %8s %-16s "
                  "%7.1f %7.1f %7.0f%s%s" % (
                      k, mode, "%.2f [%.2f-%.2f]" % (s["carried_verified_pps"] / 1e6,
                                                    s["carried_verified_pps_min"] / 1e6,
                                                    s["carried_verified_pps_max"] / 1e6),
                      s["offered_pps"] / 1e6, s["sent_pps"] / 1e6, s["loss_pct"],
                      s["auth_fail"], s["reorder"],
                      "%.0f [%.0f-%.0f]" % (s["cycles_per_pkt"], s["cycles_per_pkt_min"],
                                            s["cycles_per_pkt_max"]),
                      s["pkts_per_poll"], ratio, s["core_mpps"],
                      "%.2f" % (ceil / 1e6) if ceil else "-",
                      (">=%.1f %s" % (g, s["verdict"])) if g else "-",
                      s["lat_p50_us"], s["lat_p99_us"], s["bytes_per_session"],
                      "  GEN-BOUND" if s["gen_bound"] else "",
                      "  (search cap)" if s["search_cap"] else ""), flush=True)
    print("# load average at end: %s" % " ".join(open("/proc/loadavg").read().split()[:3]))
    if a.csv:
        out = sys.stdout if a.csv == "-" else open(a.csv, "w")
        out.write(",".join(CSV_COLS) + "\n")
        for r in rows:
            if "error" in r:
                continue
            vals = []
            for c in CSV_COLS:
                v = r[c]
                if isinstance(v, float):
                    v = ("%.4f" % v if c == "loss_pct" else
                         "%.0f" % v if c.endswith("_pps") or v > 100 else "%.2f" % v)
                elif v is None:
                    v = ""
                vals.append(str(v).replace(",", " "))
            out.write(",".join(vals) + "\n")
        if out is not sys.stdout:
            out.close()
    shutil.rmtree(RUN, ignore_errors=True)
    shutil.rmtree("/var/run/dpdk/mgdp-bench-%x" % os.getpid(), ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
