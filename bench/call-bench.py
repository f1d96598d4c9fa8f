#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""call-bench: call setup rate and calls held, SIP through mediagate, with
SIPp on both ends (loopback, UDP).

Two measurements, each against a baseline in the same run:

  rate     SIPp caller -> SIPp callee at R calls/s for S seconds (1 s hold),
           first directly ('direct', the baseline: what SIPp and the machine
           do alone), then through mediagate-control + mediagate-dataplane
           ('gateway': route, SDP/SRTP negotiation on both legs, PORT_ALLOC x2,
           SESSION_ADD, DEL, PORT_FREE x2 per call). Per rate: calls completed
           and failed, INVITE->200 response time, CPU of each daemon.
  held     N calls set up at 200/s and held; once all are up: calls and
           dataplane sessions counted, resident memory of both daemons
           against their idle size before the run ('idle', the baseline),
           bytes per held call; then all hang up and the counts go back to 0.

The dataplane runs on a net_ring port (signalling and sessions real, no RTP
flows: media cost is dp-bench's business) with a 1 ms idle sleep; logging
at warning. Prints tables, writes --csv. Never asserts.

  soak     (--soak SECS) calls at --soak-rate/s (default 100, 1 s hold) for
           SECS; every SECS/10 s the resident size of both daemons and the
           calls completed: growth that keeps going would be a leak.

usage: call-bench [--rates 50,100,200,400] [--secs 10] [--held 1000,5000]
                  [--soak SECS [--soak-rate R]] [--csv FILE] [--build DIR]
"""
import argparse
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time

# per run, so two benches (or a bench beside the tests) do not collide
RUN = "/tmp/mg-call-bench-%x" % os.getpid()
HZ = os.sysconf("SC_CLK_TCK")


def cpu_s(pid):
    try:
        f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / HZ
    except OSError:
        return 0.0


def rss_kb(pid):
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def stop(p):
    if p is not None and p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


class Bed:
    """mediagate (control + dataplane) and a SIPp callee on loopback."""

    def __init__(self, build, src, base, max_sessions=65536):
        self.build, self.src, self.base = build, src, base
        self.max_sessions = max_sessions
        self.p_gw, self.p_uas, self.p_uac = base, base + 1, base + 2
        self.dp = self.ctl = self.uas = None

    def start(self):
        shutil.rmtree(RUN, ignore_errors=True)
        os.makedirs(RUN)
        with open(RUN + "/rules.xml", "w") as f:
            f.write('<?xml version="1.0"?>\n<routing_rules>\n'
                    '<rule name="to_uas" outbound_interface="sip">\n'
                    '  <condition param="sip.in.requestUri.user" expr="uas([0-9]*)"/>\n'
                    '  <out_leg name="" media_type="sendrecv">\n'
                    '    <param name="sip.out.requestUri" expr="sip:uas%%0@127.0.0.1:%d"/>\n'
                    '    <param name="sip.out.transport" expr="udp"/>\n'
                    '  </out_leg>\n</rule>\n</routing_rules>\n' % self.p_uas)
        conf = RUN + "/gw.properties"
        with open(conf, "w") as f:
            f.write("netborder.sip.userAgent.IPAddress=127.0.0.1:%d/udp\n"
                    "netborder.media.srtp.mode=as-needed\n"
                    "mediagate.routing.rulesFile=%s/rules.xml\n"
                    "mediagate.control.socket=%s/dp.sock\n"
                    "mediagate.control.allowedUids=0\n"
                    "mediagate.log.level=warning\n"
                    "mediagate.calls.mediaTimeout=0\n"
                    "mediagate.dataplane.eal=--no-huge -m 512 --no-shconf --no-pci "
                    "--no-telemetry -l 0,1 --file-prefix mg-call-bench-%x --log-level=*:error\n"
                    "mediagate.dataplane.port.0.device=net_ring0\n"
                    "mediagate.dataplane.port.0.addresses=192.0.2.1/24\n"
                    "mediagate.dataplane.idleSleepUs=1000\n"
                    "mediagate.dataplane.maxSessions=%d\n"
                    "mediagate.media.portRange=10000-59999\n"
                    % (self.p_gw, RUN, RUN, os.getpid(), self.max_sessions))
        self.dp = subprocess.Popen([self.build + "/dataplane/mediagate-dataplane", "--config",
                                    conf], stdout=open(RUN + "/dataplane.log", "w"),
                                   stderr=subprocess.STDOUT)
        for _ in range(200):
            if os.path.exists(RUN + "/dp.sock"):
                break
            if self.dp.poll() is not None:
                raise RuntimeError("dataplane exited: " + open(RUN + "/dataplane.log").read())
            time.sleep(0.05)
        time.sleep(0.3)
        self.ctl = subprocess.Popen([self.build + "/control/mediagate-control", "--config", conf],
                                    stdout=open(RUN + "/control.log", "w"),
                                    stderr=subprocess.STDOUT)
        for _ in range(100):
            if "connected to dataplane" in open(RUN + "/control.log").read():
                break
            if self.ctl.poll() is not None:
                raise RuntimeError("control exited: " + open(RUN + "/control.log").read())
            time.sleep(0.1)
        self.uac_xml = uac_scenario(self.src)
        self.start_uas()

    def start_uas(self):
        stop(self.uas)
        self.uas = subprocess.Popen(["sipp", "-sf", self.src + "/tests/interop/call_uas.xml",
                                     "-t", "u1", "-i", "127.0.0.1", "-p", str(self.p_uas),
                                     "-nostdin", "-max_socket", "60000"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)

    def stop(self):
        stop(self.uas)
        stop(self.ctl)
        stop(self.dp)
        # the EAL's runtime directory of this run's prefix outlives the process
        shutil.rmtree("/var/run/dpdk/mg-call-bench-%x" % os.getpid(), ignore_errors=True)

    def sessions(self):
        r = subprocess.run([self.build + "/dataplane/dpctl/mediagate-dpctl", "--socket",
                            RUN + "/dp.sock", "session", "list"], capture_output=True, text=True)
        try:
            return json.loads(r.stdout).get("total", -1)
        except ValueError:
            return -1



def uac_scenario(src):
    """call_uac.xml of the interop tests without its checks of the answer
    (SRTP from the gateway; the SIPp callee answers plain RTP when called
    directly): the same messages in both modes."""
    import re
    x = open(src + "/tests/interop/call_uac.xml").read()
    x = re.sub(r"<action>.*?</action>", "", x, flags=re.S)
    x = re.sub(r"<Reference variables=\"[^\"]*\"/>", "", x)
    path = RUN + "/bench_uac.xml"
    open(path, "w").write(x)
    return path


def uac(bed, target, rate, n, hold_ms, limit, stf, timeout):
    cmd = ["sipp", "-sf", bed.uac_xml, target, "-t", "u1",
           "-i", "127.0.0.1", "-p", str(bed.p_uac), "-r", str(rate), "-m", str(n),
           "-l", str(limit), "-d", str(hold_ms), "-nostdin", "-max_socket", "60000",
           "-trace_stat", "-stf", stf, "-fd", "1", "-trace_rtt", "-rtt_freq", "1",
           "-trace_err", "-error_file", stf.replace(".csv", ".err")]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            cwd=RUN), timeout


def sipp_totals(stf):
    rows = list(csv.reader(open(stf), delimiter=";"))
    h, last = rows[0], rows[-1]
    col = lambda name: last[h.index(name)] if name in h else "0"
    return int(col("SuccessfulCall(C)") or 0), int(col("FailedCall(C)") or 0), None


def rtt_stats(pid):
    """INVITE -> 200 times of every call (SIPp -trace_rtt; whole ms)."""
    try:
        with open("%s/bench_uac_%d_rtt.csv" % (RUN, pid)) as f:
            v = sorted(float(l.split(";")[1]) for l in list(f)[1:] if l.count(";") >= 2)
    except OSError:
        v = []
    if not v:
        return float("nan"), float("nan")
    return sum(v) / len(v), v[min(len(v) - 1, int(len(v) * 0.99))]


def rate_run(bed, direct, rate, secs):
    target = "127.0.0.1:%d" % (bed.p_uas if direct else bed.p_gw)
    stf = "%s/rate-%s-%d.csv" % (RUN, "direct" if direct else "gw", rate)
    bed.start_uas()
    c0, d0, t0 = cpu_s(bed.ctl.pid), cpu_s(bed.dp.pid), time.time()
    p, to = uac(bed, target, rate, rate * secs, 1000, rate * 4, stf, secs + 60)
    try:
        p.wait(to)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    el = time.time() - t0
    c1, d1 = cpu_s(bed.ctl.pid), cpu_s(bed.dp.pid)
    ok, failed, _ = sipp_totals(stf)
    mean, p99 = rtt_stats(p.pid)
    return {"mode": "direct" if direct else "gateway", "rate": rate, "offered": rate * secs,
            "ok": ok, "failed": failed, "setup_ms": mean, "setup_p99_ms": p99,
            "cps": ok / max(el - 1.0, 0.001),
            "ctl_cpu_pct": 0.0 if direct else 100.0 * (c1 - c0) / el,
            "dp_cpu_pct": 0.0 if direct else 100.0 * (d1 - d0) / el}


def held_run(bed, n):
    bed.start_uas()
    time.sleep(1)
    r0c, r0d = rss_kb(bed.ctl.pid), rss_kb(bed.dp.pid)
    rate = 200
    up_s = n / rate + 5
    stf = "%s/held-%d.csv" % (RUN, n)
    p, _ = uac(bed, "127.0.0.1:%d" % bed.p_gw, rate, n, int((up_s + 10) * 1000), n + 10, stf, 0)
    # wait until every call is up (sessions in the dataplane) or the build-up time passed
    deadline = time.time() + up_s + 5
    sess = 0
    while time.time() < deadline:
        sess = bed.sessions()
        if sess >= n:
            break
        time.sleep(1)
    time.sleep(1)
    sess = bed.sessions()
    r1c, r1d = rss_kb(bed.ctl.pid), rss_kb(bed.dp.pid)
    c0, d0 = cpu_s(bed.ctl.pid), cpu_s(bed.dp.pid)
    time.sleep(5)
    c1, d1 = cpu_s(bed.ctl.pid), cpu_s(bed.dp.pid)
    try:
        p.wait(up_s + 60)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    time.sleep(3)
    ok, failed, _ = sipp_totals(stf)
    return {"calls": n, "sessions_up": sess, "ok": ok, "failed": failed,
            "ctl_idle_kb": r0c, "ctl_kb": r1c, "dp_idle_kb": r0d, "dp_kb": r1d,
            "ctl_b_per_call": (r1c - r0c) * 1024.0 / max(sess, 1),
            "dp_b_per_call": (r1d - r0d) * 1024.0 / max(sess, 1),
            "ctl_cpu_held_pct": 100.0 * (c1 - c0) / 5, "dp_cpu_held_pct": 100.0 * (d1 - d0) / 5,
            "sessions_after": bed.sessions()}


def soak_run(bed, rate, secs, every):
    """RATE calls/s (1 s hold) for SECS through the gateway; every EVERY s the
    resident size of both daemons and the calls completed so far. The first
    sample (after the first interval) is the baseline: a leak shows as growth
    that keeps going, steady state as a flat line."""
    bed.start_uas()
    stf = "%s/soak.csv" % RUN
    p, _ = uac(bed, "127.0.0.1:%d" % bed.p_gw, rate, rate * secs, 1000, rate * 4, stf, 0)
    t0, out = time.time(), []
    c0, d0 = cpu_s(bed.ctl.pid), cpu_s(bed.dp.pid)
    while p.poll() is None:
        time.sleep(every)
        try:
            ok, failed, _ = sipp_totals(stf)
        except (OSError, IndexError, ValueError):
            ok, failed = 0, 0
        out.append({"t": time.time() - t0, "ok": ok, "failed": failed,
                    "ctl_kb": rss_kb(bed.ctl.pid), "dp_kb": rss_kb(bed.dp.pid),
                    "sessions": bed.sessions()})
        print("  soak %4.0f s: %d calls, ctl %d kB, dp %d kB" % (
            out[-1]["t"], ok, out[-1]["ctl_kb"], out[-1]["dp_kb"]), file=sys.stderr)
    time.sleep(3)
    ok, failed, _ = sipp_totals(stf)
    el = time.time() - t0
    out.append({"t": el, "ok": ok, "failed": failed, "ctl_kb": rss_kb(bed.ctl.pid),
                "dp_kb": rss_kb(bed.dp.pid), "sessions": bed.sessions()})
    return out, 100.0 * (cpu_s(bed.ctl.pid) - c0) / el, 100.0 * (cpu_s(bed.dp.pid) - d0) / el


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description="SIP call setup rate and held calls through mediagate")
    ap.add_argument("--rates", default="50,100,200,400")
    ap.add_argument("--secs", type=int, default=10)
    ap.add_argument("--held", default="1000,5000")
    ap.add_argument("--soak", type=int, default=0, metavar="SECS",
                    help="instead: calls at --soak-rate/s for SECS, memory sampled (leak check)")
    ap.add_argument("--soak-rate", type=int, default=100)
    ap.add_argument("--max-sessions", type=int, default=65536,
                    help="mediagate.dataplane.maxSessions of the bed (default 65536)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (logs, SIPp files)")
    ap.add_argument("--csv")
    ap.add_argument("--build", default=os.path.dirname(here))
    ap.add_argument("--src", default=None)
    a = ap.parse_args()
    src = a.src
    if src is None:
        src = json.load(open(os.path.join(a.build, "meson-info", "meson-info.json")))[
            "directories"]["source"]
    if os.geteuid() != 0:
        print("call-bench: run as root (the dataplane needs it)", file=sys.stderr)
        return 2
    if shutil.which("sipp") is None:
        print("call-bench: sipp is not installed (scripts/setup installs sip-tester)",
              file=sys.stderr)
        return 2
    bed = Bed(a.build, src, 41000 + (os.getpid() % 1000) * 4, a.max_sessions)
    rates = [int(x) for x in a.rates.split(",") if x]
    helds = [int(x) for x in a.held.split(",") if x]
    rows, hrows = [], []
    if a.soak:
        try:
            bed.start()
            samples, ccpu, dcpu = soak_run(bed, a.soak_rate, a.soak, max(10, a.soak // 10))
        finally:
            bed.stop()
        b = samples[0]
        print("\nsoak: %d calls/s for %d s, 1 s hold (baseline: the first sample)" % (
            a.soak_rate, a.soak))
        print("%7s %9s %7s %9s %9s %11s %9s %9s %10s" % (
            "time s", "calls ok", "failed", "sessions", "ctl kB", "ctl vs base", "dp kB",
            "dp vs base", "B/1k calls"))
        print("-" * 92)
        for x in samples:
            dk = x["ok"] - b["ok"]
            print("%7.0f %9d %7d %9d %9d %+11d %9d %+9d %10s" % (
                x["t"], x["ok"], x["failed"], x["sessions"], x["ctl_kb"], x["ctl_kb"] - b["ctl_kb"],
                x["dp_kb"], x["dp_kb"] - b["dp_kb"],
                "%.0f" % ((x["ctl_kb"] - b["ctl_kb"]) * 1024.0 * 1000 / dk) if dk > 0 else "-"))
        print("(B/1k calls = control growth since the baseline per 1,000 calls completed; "
              "CPU over the run: ctl %.1f%%, dp %.1f%%)" % (ccpu, dcpu))
        if a.csv:
            with open(a.csv, "w", newline="") as f:
                w = csv.writer(f)
                w.writerow(["t_s", "ok", "failed", "sessions", "ctl_kb", "dp_kb"])
                for x in samples:
                    w.writerow(["%.0f" % x["t"], x["ok"], x["failed"], x["sessions"], x["ctl_kb"],
                                x["dp_kb"]])
        if not a.keep:
            shutil.rmtree(RUN, ignore_errors=True)
        return 0
    try:
        bed.start()
        for r in rates:
            for direct in (True, False):
                row = rate_run(bed, direct, r, a.secs)
                rows.append(row)
                print("  %-8s %4d/s: %d ok, %d failed" % (row["mode"], r, row["ok"], row["failed"]),
                      file=sys.stderr)
        for n in helds:
            row = held_run(bed, n)
            hrows.append(row)
            print("  held %d: %d sessions up" % (n, row["sessions_up"]), file=sys.stderr)
    finally:
        bed.stop()

    print("\nsetup rate (%d s per rate, 1 s hold; 'direct' = SIPp to SIPp, the baseline)" % a.secs)
    print("%-8s %7s %8s %8s %7s %9s %9s %9s %9s %9s" % (
        "mode", "rate/s", "offered", "ok", "failed", "cps", "setup ms", "p99 ms", "ctl %CPU",
        "dp %CPU"))
    print("-" * 96)
    for r in rows:
        print("%-8s %7d %8d %8d %7d %9.1f %9.2f %9.0f %9.1f %9.1f" % (
            r["mode"], r["rate"], r["offered"], r["ok"], r["failed"], r["cps"], r["setup_ms"],
            r["setup_p99_ms"], r["ctl_cpu_pct"], r["dp_cpu_pct"]))
    print("(setup = INVITE -> 200 at the caller, SIPp's whole-ms clock; CPU = share of one "
          "core over the run)")
    print("\ncalls held (set up at 200/s; 'idle' = the daemons' size before, the baseline)")
    print("%7s %8s %8s %11s %11s %10s %10s %9s %9s %8s" % (
        "calls", "sessions", "failed", "ctl idle kB", "ctl up kB", "ctl B/call", "dp idle kB",
        "dp up kB", "dp B/call", "sess end"))
    print("-" * 100)
    for r in hrows:
        print("%7d %8d %8d %11d %11d %10.0f %10d %9d %9.0f %8s" % (
            r["calls"], r["sessions_up"], r["failed"], r["ctl_idle_kb"], r["ctl_kb"],
            r["ctl_b_per_call"], r["dp_idle_kb"], r["dp_kb"], r["dp_b_per_call"],
            r["sessions_after"]))
    print("(sess end = dataplane sessions once every call hung up; "
          "CPU while held: ctl %s, dp %s)" % (
              ", ".join("%.1f%%" % r["ctl_cpu_held_pct"] for r in hrows) or "-",
              ", ".join("%.1f%%" % r["dp_cpu_held_pct"] for r in hrows) or "-"))
    if a.csv:
        with open(a.csv, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["table", "mode", "rate", "offered", "ok", "failed", "cps", "setup_ms",
                        "setup_p99_ms", "ctl_cpu_pct", "dp_cpu_pct"])
            for r in rows:
                w.writerow(["rate", r["mode"], r["rate"], r["offered"], r["ok"], r["failed"],
                            "%.1f" % r["cps"], "%.2f" % r["setup_ms"], "%.0f" % r["setup_p99_ms"],
                            "%.1f" % r["ctl_cpu_pct"], "%.1f" % r["dp_cpu_pct"]])
            w.writerow(["table", "calls", "sessions_up", "failed", "ctl_idle_kb", "ctl_kb",
                        "ctl_b_per_call", "dp_idle_kb", "dp_kb", "dp_b_per_call",
                        "sessions_after"])
            for r in hrows:
                w.writerow(["held", r["calls"], r["sessions_up"], r["failed"], r["ctl_idle_kb"],
                            r["ctl_kb"], "%.0f" % r["ctl_b_per_call"], r["dp_idle_kb"], r["dp_kb"],
                            "%.0f" % r["dp_b_per_call"], r["sessions_after"]])
    if not a.keep:
        shutil.rmtree(RUN, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
