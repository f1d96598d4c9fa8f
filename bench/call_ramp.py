# SPDX-License-Identifier: BSD-3-Clause
"""call-bench --ramp: call setup capacity, the offered rate ramped until
calls fail (issue 14 item 4).

Targets, each a caller -> callee pair on loopback, 1 s hold:

  udp        SIPp -> SIPp ('direct', the baseline), SIPp -> mediagate -> SIPp
  udp-sofia  the same over UDP with sip-load-client on both ends (what the
             TLS rows' tool does without TLS)
  tls        sip-load-client -> sip-load-client over TLS ('direct', the
             baseline), and through mediagate over mutual TLS (both legs:
             the gateway's TLS user agent, clientAuth=require)

Debian's SIPp has no TLS and the archive here serves no sip-tester source to
rebuild it with, so TLS uses sip-load-client (bench/sip_load_client.c,
sofia-sip with the gateway's own TLS module).

A step offers R calls/s for SECS; it passes when at most FAIL_PCT % of the
calls offered did not get a 200 (failed or no answer), the INVITE -> 200 p99
is at most P99_MS and the 200s came at >= 90 % of R ('cps': the 200s over the
time from the caller's start to the last 200). A failed step runs
again (RETRY times, default 1) before it counts as failed: the machine is
shared and a neighbour's burst can stall one step (every attempt is a row).
R doubles from START until a step fails (or MAX), then BISECT steps halve
the interval between the last pass and the first failure (from 0 when START
already fails). 'max sustained' = the highest passing R.
Never asserts: prints the steps, the summary and CSV rows.
"""
import json
import os
import subprocess
import time

HZ = os.sysconf("SC_CLK_TCK")


def _cpu(pid):
    try:
        f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / HZ
    except OSError:
        return 0.0


def _stop(p):
    """SIGTERM, wait, return stdout (the sofia UAS prints its counts)."""
    if p is None:
        return ""
    if p.poll() is None:
        p.terminate()
    try:
        out, _ = p.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate()
    return out or ""


def _wait_cpu(p, timeout):
    """Wait for a child; its CPU seconds from wait4's rusage."""
    deadline = time.time() + timeout
    while True:
        pid, status, ru = os.wait4(p.pid, os.WNOHANG)
        if pid == p.pid:
            p.returncode = os.waitstatus_to_exitcode(status)
            return ru.ru_utime + ru.ru_stime
        if time.time() > deadline:
            p.kill()
            _, status, ru = os.wait4(p.pid, 0)
            p.returncode = os.waitstatus_to_exitcode(status)
            return ru.ru_utime + ru.ru_stime
        time.sleep(0.05)


def make_certs(d, src):
    """A throw-away CA (tests/interop/test_ca.sh) and certificates for the
    gateway and both load tools in D, SAN IP:127.0.0.1 (the peers verify it)."""
    os.makedirs(d, exist_ok=True)
    sh = (". %s/tests/interop/test_ca.sh; test_ca_init call-bench-ca 2; "
          "for n in gw uac uas; do test_ca_peer $n 127.0.0.1 bench.test; done"
          % src)
    subprocess.run(["bash", "-c", sh], cwd=d, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=True)
    return d


class Sofia:
    """sip-load-client on both ends, UDP or TLS."""

    def __init__(self, bed, tool, transport, certs):
        self.bed, self.tool, self.transport, self.certs = bed, tool, transport, certs

    def _tls(self, who):
        if self.transport != "tls":
            return []
        return ["--cert", "%s/%s.crt" % (self.certs, who), "--key",
                "%s/%s.key" % (self.certs, who), "--ca", self.certs + "/ca.pem"]

    def ports(self):
        b = self.bed
        if self.transport == "tls":
            return b.p_gw_tls, b.p_uas_tls, b.p_uac_tls, "tls"
        return b.p_gw, b.p_uas, b.p_uac, "uas"

    def step(self, direct, rate, secs, hold_ms):
        gw, uas_p, uac_p, prefix = self.ports()
        uas = subprocess.Popen([self.tool, "--mode", "uas", "--transport", self.transport,
                                "--bind", "127.0.0.1:%d" % uas_p] + self._tls("uas"),
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        time.sleep(0.5)
        uac = subprocess.Popen([self.tool, "--mode", "uac", "--transport", self.transport,
                                "--bind", "127.0.0.1:%d" % uac_p, "--target",
                                "127.0.0.1:%d" % (uas_p if direct else gw),
                                "--user-prefix", prefix, "--rate", str(rate),
                                "--calls", str(rate * secs), "--hold-ms", str(hold_ms),
                                "--timeout", "10"] + self._tls("uac"),
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        return uas, uac

    def finish(self, uas, uac, secs):
        uac_cpu = _wait_cpu(uac, secs + 60)
        out = uac.stdout.read()
        uas_cpu = _cpu(uas.pid)
        _stop(uas)
        try:
            r = json.loads(out.strip().splitlines()[-1])
        except (ValueError, IndexError):
            r = {"ok": 0, "setup_p50_ms": None, "setup_p99_ms": None, "setup_mean_ms": None,
                 "last_200_s": None}
        return (r["ok"], r["setup_mean_ms"], r["setup_p50_ms"], r["setup_p99_ms"],
                r["last_200_s"], uac_cpu, uas_cpu)


class Sipp:
    """SIPp on both ends over UDP (call-bench's scenarios)."""

    def __init__(self, bed, sipp):
        self.bed, self.sipp = bed, sipp
        self.transport = "udp"

    def step(self, direct, rate, secs, hold_ms):
        b = self.bed
        b.start_uas()
        self.stf = "%s/ramp-%s-%d-%d.csv" % (self.sipp["run"], "direct" if direct else "gw",
                                            rate, time.time())
        target = "127.0.0.1:%d" % (b.p_uas if direct else b.p_gw)
        uac, _ = self.sipp["uac"](b, target, rate, rate * secs, hold_ms, rate * 4, self.stf,
                                  secs + 60)
        return b.uas, uac

    def finish(self, uas, uac, secs):
        uac_cpu = _wait_cpu(uac, secs + 60)
        uas_cpu = _cpu(uas.pid)
        try:
            ok = self.sipp["totals"](self.stf)[0]
        except (OSError, IndexError, ValueError):
            ok = 0
        # -trace_rtt: "Date_ms;response_time_ms;rtd_no", Date_ms since SIPp's
        # start, whole ms
        try:
            with open("%s/bench_uac_%d_rtt.csv" % (self.sipp["run"], uac.pid)) as f:
                rows = [l.split(";") for l in list(f)[1:] if l.count(";") >= 2]
            last = max(float(r[0]) for r in rows) / 1000.0 if rows else None
            v = sorted(float(r[1]) for r in rows)
        except (OSError, ValueError):
            last, v = None, []
        if not v:
            return ok, None, None, None, None, uac_cpu, uas_cpu
        pct = lambda p: v[min(len(v) - 1, int(len(v) * p))]
        return ok, sum(v) / len(v), pct(0.5), pct(0.99), last, uac_cpu, uas_cpu


def step_run(bed, tool, direct, rate, secs, hold_ms, o):
    c0, d0, t0 = _cpu(bed.ctl.pid), _cpu(bed.dp.pid), time.time()
    uas, uac = tool.step(direct, rate, secs, hold_ms)
    try:
        ok, mean, p50, p99, last, uac_cpu, uas_cpu = tool.finish(uas, uac, secs)
    except BaseException:  # interrupted: leave no load tool behind
        for p in (uac, uas):
            if p.poll() is None:
                p.kill()
        raise
    el = max(time.time() - t0, 0.001)
    c1, d1 = _cpu(bed.ctl.pid), _cpu(bed.dp.pid)
    offered = rate * secs
    lost = 100.0 * (offered - ok) / max(offered, 1)
    # the rate the 200s came at: over the caller's time from its start to the last 200
    cps = ok / last if last else 0.0
    why = []
    if lost > o["fail_pct"]:
        why.append("%.1f%% no 200" % lost)
    if p99 is None or p99 > o["p99_ms"]:
        why.append("p99 %s ms" % ("-" if p99 is None else "%.0f" % p99))
    if cps < 0.9 * rate:
        why.append("%.0f/s" % cps)
    time.sleep(1)  # the gateway's last BYEs and session deletes
    return {"tool": "sipp" if isinstance(tool, Sipp) else "sip-load-client",
            "transport": tool.transport, "mode": "direct" if direct else "gateway",
            "rate": rate, "offered": offered, "ok": ok, "fail_pct": lost, "cps": cps,
            "setup_mean_ms": mean, "setup_p50_ms": p50, "setup_p99_ms": p99,
            "ctl_cpu_pct": 0.0 if direct else 100.0 * (c1 - c0) / el,
            "dp_cpu_pct": 0.0 if direct else 100.0 * (d1 - d0) / el,
            "uac_cpu_pct": 100.0 * uac_cpu / el, "uas_cpu_pct": 100.0 * uas_cpu / el,
            "pass": not why, "why": ", ".join(why)}


def step_retry(bed, tool, direct, r, o, rows, log):
    """One step; a failed one runs again (--retry times) before it counts
    as failed: the machine is shared, a neighbour's burst can stall a step."""
    for i in range(1 + o["retry"]):
        row = step_run(bed, tool, direct, r, o["secs"], o["hold_ms"], o)
        row["attempt"] = i + 1
        rows.append(row)
        log(row)
        if row["pass"]:
            break
    return row


def ramp(bed, tool, direct, o, log):
    """Double, then bisect; every step's row, and the highest passing rate."""
    rows, good, bad, r = [], 0, 0, o["start"]
    while r <= o["max"]:
        row = step_retry(bed, tool, direct, r, o, rows, log)
        if not row["pass"]:
            bad = r
            break
        good, r = r, r * 2
    for _ in range(o["bisect"] if bad else 0):
        r = (good + bad) // 2
        if r <= good or r >= bad:
            break
        row = step_retry(bed, tool, direct, r, o, rows, log)
        if row["pass"]:
            good = r
        else:
            bad = r
    return rows, good, bad


FIELDS = ["tool", "transport", "mode", "rate", "offered", "ok", "fail_pct", "cps",
          "setup_mean_ms", "setup_p50_ms", "setup_p99_ms", "ctl_cpu_pct", "dp_cpu_pct",
          "uac_cpu_pct", "uas_cpu_pct", "attempt", "pass", "why"]


def fmt(v, f="%.1f"):
    return "-" if v is None else f % v


def print_steps(rows):
    print("%-15s %-9s %-7s %6s %2s %7s %7s %6s %7s %7s %7s %6s %6s %6s %6s %-4s %s" % (
        "tool", "transport", "mode", "rate/s", "#", "offered", "ok", "lost%", "cps", "p50 ms",
        "p99 ms", "ctl%", "dp%", "uac%", "uas%", "ok?", "why not"))
    print("-" * 133)
    for r in rows:
        print("%-15s %-9s %-7s %6d %2d %7d %7d %6.1f %7.1f %7s %7s %6.1f %6.1f %6.1f %6.1f %-4s %s" % (
            r["tool"], r["transport"], r["mode"], r["rate"], r["attempt"], r["offered"], r["ok"],
            r["fail_pct"], r["cps"], fmt(r["setup_p50_ms"]), fmt(r["setup_p99_ms"], "%.0f"),
            r["ctl_cpu_pct"], r["dp_cpu_pct"], r["uac_cpu_pct"], r["uas_cpu_pct"],
            "yes" if r["pass"] else "no", r["why"]))


def csv_rows(rows):
    out = []
    for r in rows:
        out.append([("%.3f" % r[k]) if isinstance(r[k], float) else
                    ("" if r[k] is None else r[k]) for k in FIELDS])
    return out
