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

  redis    (--redis) the rate runs once more with every call's state
           published in Redis (mediagate.redis.url, a redis-server of this run
           on a unix socket): mode 'gw+redis' against 'gateway' (the
           baseline, same run): control CPU per call and the writes Redis
           itself counted (INFO commandstats: SET + DEL), per second.

  soak     (--soak SECS) calls at --soak-rate/s (default 100, 1 s hold) for
           SECS; every SECS/10 s the resident size of both daemons and the
           calls completed: growth that keeps going would be a leak.

  overload (--overload) the capacity first: the highest rate (doubling from
           --ovl-start, then bisecting) at which >= 99 % of the calls asked
           for complete, mediagate.calls.maxRate unset, --ovl-cap-secs per
           trial. Then the gateway is restarted configured to shed as an
           operator would (maxRate = the capacity, maxLoopLagMs at its
           default 250 ms) and offered 1x, 2x and 4x the capacity for
           --duration s each (default 30), then SIPp -> SIPp directly at 4x
           (the baseline: what the two SIPp processes do alone here). Per
           level: offered rate (INVITEs SIPp placed), goodput (calls
           completed per second), 503s, admitted calls (no 503) that failed
           (any other final answer, timeout, 481, 408), INVITE
           retransmissions, p50/p99 INVITE->200 of completed calls, CPU of
           both daemons and of both SIPp processes, peak RSS of both daemons
           (and per third of the level: flat or growing), whether each
           daemon is alive, the gateway's own /metrics counts.

  ramp     (--ramp) call setup capacity: the offered rate doubled, then
           bisected, until calls fail, over UDP (SIPp) and TLS
           (sip-load-client, mutual TLS through the gateway), each against
           its direct caller -> callee baseline; see call_ramp.py.

usage: call-bench [--rates 50,100,200,400] [--secs 10] [--held 1000,5000] [--redis]
                  [--soak SECS [--soak-rate R]] [--csv FILE] [--build DIR]
       call-bench --overload [--duration 30] [--ovl-cap-secs 10]
                  [--ovl-capacity R] [--ovl-max-rate R] [--csv FILE]
       call-bench --ramp [--transport udp,udp-sofia,tls] [--ramp-start 50]
                  [--ramp-max 6400] [--ramp-secs 10] [--bisect 3] [--retry 1]
                  [--fail-pct 1] [--p99-ms 250] [--csv FILE]
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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import call_ramp  # noqa: E402  (beside this file, in bench/ and build/bench/)

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

    def __init__(self, build, src, base, max_sessions=65536, extra="", tls=None, redis=False):
        self.build, self.src, self.base = build, src, base
        self.redis, self.rd = redis, None
        self.max_sessions = max_sessions
        self.extra = extra  # more gw.properties lines (--overload: maxRate)
        self.p_gw, self.p_uas, self.p_uac, self.p_metrics = base, base + 1, base + 2, base + 3
        # SIP/TLS beside UDP (--ramp): the gateway's TLS user agent, the TLS
        # callee and caller; tls = {"dir": certificates}
        self.tls = tls
        self.p_gw_tls, self.p_uas_tls, self.p_uac_tls = base + 4, base + 5, base + 6
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
                    '  </out_leg>\n</rule>\n'
                    '<rule name="to_tls_uas" outbound_interface="sip">\n'
                    '  <condition param="sip.in.requestUri.user" expr="tls([0-9]*)"/>\n'
                    '  <out_leg name="" media_type="sendrecv">\n'
                    '    <param name="sip.out.requestUri" expr="sip:tls%%0@127.0.0.1:%d"/>\n'
                    '    <param name="sip.out.transport" expr="tls"/>\n'
                    '  </out_leg>\n</rule>\n</routing_rules>\n' % (self.p_uas, self.p_uas_tls))
        conf = RUN + "/gw.properties"
        if self.redis:
            self.rd = subprocess.Popen(["redis-server", "--port", "0", "--unixsocket",
                                        RUN + "/redis.sock", "--save", "", "--appendonly", "no",
                                        "--dir", RUN], stdout=open(RUN + "/redis.log", "w"),
                                       stderr=subprocess.STDOUT)
            for _ in range(100):
                if os.path.exists(RUN + "/redis.sock"):
                    break
                time.sleep(0.05)
        with open(conf, "w") as f:
            if self.redis:
                f.write("mediagate.redis.url=unix:%s/redis.sock\nmediagate.redis.node=bench\n"
                        "mediagate.control.cliSocket=%s/cli.sock\n" % (RUN, RUN))
            if self.tls:
                d = self.tls["dir"]
                f.write("netborder.sip.userAgent.IPAddress=127.0.0.1:%d/udp,127.0.0.1:%d/tls\n"
                        "netborder.sip.tls.serverCertificateFile=%s/gw.crt\n"
                        "netborder.sip.tls.serverCertificatePrivateKeyFile=%s/gw.key\n"
                        "netborder.sip.tls.trustedRootCertificatesStore=%s/ca.pem\n"
                        "mediagate.sip.tls.clientAuth=require\n"
                        % (self.p_gw, self.p_gw_tls, d, d, d))
            else:
                f.write("netborder.sip.userAgent.IPAddress=127.0.0.1:%d/udp\n" % self.p_gw)
            f.write("netborder.media.srtp.mode=as-needed\n"
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
                    "mediagate.metrics.listen=127.0.0.1:%d\n"
                    % (RUN, RUN, os.getpid(), self.max_sessions, self.p_metrics))
            f.write(self.extra)
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
            log = open(RUN + "/control.log").read()
            # SIP opens after the Redis read-back (docs/ha-state.md)
            if "connected to dataplane" in log and "user agent listening" in log:
                break
            if self.ctl.poll() is not None:
                raise RuntimeError("control exited: " + open(RUN + "/control.log").read())
            time.sleep(0.1)
        self.uac_xml = uac_scenario(self.src)
        self.start_uas()

    def start_uas(self):
        stop(self.uas)
        uas_xml = getattr(self, "uas_xml", None) or self.src + "/tests/interop/call_uas.xml"
        self.uas = subprocess.Popen(["sipp", "-sf", uas_xml,
                                     "-t", "u1", "-i", "127.0.0.1", "-p", str(self.p_uas),
                                     "-nostdin", "-max_socket", "60000", "-trace_err",
                                     "-error_file", "%s/uas-%d.err" % (RUN, time.time() * 1000)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=RUN)
        time.sleep(0.5)

    def stop_uas(self):
        stop(self.uas)
        self.uas = None

    def stop(self):
        stop(self.uas)
        stop(self.ctl)
        stop(self.dp)
        stop(self.rd)
        # the EAL's runtime directory of this run's prefix outlives the process
        shutil.rmtree("/var/run/dpdk/mg-call-bench-%x" % os.getpid(), ignore_errors=True)

    def metrics(self):
        """mediagate-control's /metrics as {'name{labels}': value}; {} if unreachable."""
        import urllib.request
        out = {}
        try:
            body = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.p_metrics,
                                          timeout=5).read().decode()
        except OSError:
            return out
        for line in body.splitlines():
            if line and not line.startswith("#"):
                k, _, v = line.rpartition(" ")
                try:
                    out[k] = float(v)
                except ValueError:
                    pass
        return out

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


def rtt_values(pid, name="bench_uac"):
    """INVITE -> 200 times of every call that got its 200 (SIPp -trace_rtt;
    whole ms), sorted."""
    try:
        with open("%s/%s_%d_rtt.csv" % (RUN, name, pid)) as f:
            return sorted(float(l.split(";")[1]) for l in list(f)[1:] if l.count(";") >= 2)
    except OSError:
        return []


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


def redis_cpu_s(bed):
    """Control CPU spent in its Redis code (mgctl stats redis.cpu_us: thread
    CPU time around building records and hiredis' socket handling)."""
    if bed.rd is None:
        return 0.0
    r = subprocess.run([bed.build + "/control/mgctl/mgctl", "--json", "--socket", RUN + "/cli.sock",
                        "stats"], capture_output=True, text=True)
    try:
        return json.loads(r.stdout)["redis"]["cpu_us"] / 1e6
    except (ValueError, KeyError):
        return float("nan")


def redis_writes(bed):
    """SET + DEL calls Redis itself counted (INFO commandstats)."""
    if bed.rd is None:
        return 0
    r = subprocess.run(["redis-cli", "-s", RUN + "/redis.sock", "info", "commandstats"],
                       capture_output=True, text=True)
    n = 0
    for line in r.stdout.splitlines():
        if line.startswith("cmdstat_set:") or line.startswith("cmdstat_del:"):
            n += int(line.split("calls=")[1].split(",")[0])
    return n


def rate_run(bed, direct, rate, secs):
    target = "127.0.0.1:%d" % (bed.p_uas if direct else bed.p_gw)
    stf = "%s/rate-%s-%d.csv" % (RUN, "direct" if direct else "gw", rate)
    bed.start_uas()
    c0, d0, t0 = cpu_s(bed.ctl.pid), cpu_s(bed.dp.pid), time.time()
    w0, h0 = redis_writes(bed), redis_cpu_s(bed)
    p, to = uac(bed, target, rate, rate * secs, 1000, rate * 4, stf, secs + 60)
    try:
        p.wait(to)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    el = time.time() - t0
    c1, d1 = cpu_s(bed.ctl.pid), cpu_s(bed.dp.pid)
    time.sleep(0.5)  # the last writes answered
    w1, h1 = redis_writes(bed), redis_cpu_s(bed)
    ok, failed, _ = sipp_totals(stf)
    mean, p99 = rtt_stats(p.pid)
    mode = "direct" if direct else "gw+redis" if bed.redis else "gateway"
    return {"mode": mode, "rate": rate, "offered": rate * secs,
            "redis_writes": w1 - w0, "redis_wps": (w1 - w0) / max(el, 0.001),
            "redis_cpu_pct": 100.0 * (h1 - h0) / (c1 - c0) if c1 > c0 and bed.rd else 0.0,
            "redis_us_per_call": 1e6 * (h1 - h0) / ok if ok and bed.rd else 0.0,
            "ctl_ms_per_call": 1000.0 * (c1 - c0) / ok if ok and not direct else 0.0,
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


# ------------------------------------------------------------------ --overload

ACK_503 = """  <label id="shed"/>
  <send>
    <![CDATA[
ACK sip:uas[call_number]@[remote_ip]:[remote_port] SIP/2.0
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
CSeq: 1 ACK
Max-Forwards: 70
Content-Length: 0

]]>
  </send>
  <label id="end"/>
"""


def ovl_scenario():
    """The bench caller (uac_scenario()) with a way out for a shed call: a
    503 is ACKed and ends the call as SIPp's 'successful' (it is counted
    from the 503's own receive counter); anything else that is not the
    expected 100/180/200 fails the call, as does a timeout (-recv_timeout,
    SIPp's INVITE/BYE retransmission limit)."""
    import re
    x = open(RUN + "/bench_uac.xml").read()
    x = x.replace('<scenario name="call_uac">', '<scenario name="ovl_uac">')
    x = x.replace('<recv response="183" optional="true"/>',
                  '<recv response="183" optional="true"/>\n'
                  '  <recv response="503" optional="true" next="shed"/>')
    x = re.sub(r'<recv response="200" crlf="true"/>',
               '<recv response="200" crlf="true" next="end"/>\n' + ACK_503.replace("\\", "\\\\"),
               x)
    path = RUN + "/ovl_uac.xml"
    open(path, "w").write(x)
    return path


def ovl_uas_scenario(src):
    """The interop callee (call_uas.xml) made as tolerant as a real user
    agent's server transaction, for --overload: an INVITE retransmitted
    while the callee waits for the ACK (the gateway saw no answer within
    T1) is answered with the 200 again instead of aborting the call, and a
    BYE is taken without the ACK having arrived (a lost ACK). SIPp's strict
    callee counted both as the gateway's failures under load although SIP
    absorbs them. No check of the offer (the caller's is dropped too)."""
    import re
    x = open(src + "/tests/interop/call_uas.xml").read()
    x = re.sub(r"<action>.*?</action>", "", x, flags=re.S)
    x = re.sub(r"<Reference variables=\"[^\"]*\"/>", "", x)
    x = x.replace('<scenario name="call_uas">', '<scenario name="ovl_uas">')
    x = x.replace('  <send retrans="500">', '  <label id="answer"/>\n  <send retrans="500">', 1)
    x = x.replace('<recv request="ACK" crlf="true"/>',
                  '<recv request="INVITE" optional="true" next="answer"/>\n'
                  '  <recv request="ACK" optional="true" crlf="true"/>')
    path = RUN + "/ovl_uas.xml"
    open(path, "w").write(x)
    return path


def sipp_last_row(path):
    """The last row of a SIPp -trace_stat / -trace_counts file as {column: text}."""
    rows = list(csv.reader(open(path), delimiter=";"))
    return dict(zip(rows[0], rows[-1]))


def udp_drops(ports):
    """Datagrams the kernel dropped at each of our UDP sockets (full receive
    buffer), from `ss -uanm` (skmem d<N>), by local port; and their buffers."""
    out = {}
    try:
        txt = subprocess.run(["ss", "-uanm"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return out
    lines = txt.splitlines()
    for i, line in enumerate(lines):
        f = line.split()
        if len(f) < 4 or ":" not in f[3]:
            continue
        try:
            port = int(f[3].rsplit(":", 1)[1])
        except ValueError:
            continue
        if port not in ports:
            continue
        mem = line if "skmem" in line else (lines[i + 1] if i + 1 < len(lines) else "")
        import re
        d = re.search(r"skmem:\(([^)]*)\)", mem)
        if d:
            kv = dict((m.group(1), int(m.group(2))) for m in re.finditer(r"([a-z_]+)(\d+)", d.group(1)))
            out[port] = kv
    return out


def pct(v, q):
    return v[min(len(v) - 1, int(len(v) * q))] if v else float("nan")


def ovl_trial(bed, direct, rate, secs, hold_ms=1000):
    """@rate calls/s for @secs (calls of @hold_ms) from a fresh SIPp caller,
    waiting for every call to end. Returns what the caller saw (offered,
    completed, 503s, failures of the others), the gateway's counters over
    the trial, CPU of all four processes and the daemons' peak RSS."""
    import resource
    target = "127.0.0.1:%d" % (bed.p_uas if direct else bed.p_gw)
    tag = "%s-%d-%d" % ("direct" if direct else "gw", rate, int(time.time() * 1000) % 100000)
    stf = "%s/ovl-%s.csv" % (RUN, tag)
    bed.start_uas()
    n = rate * secs
    m0 = {} if direct else bed.metrics()
    ports = (bed.p_gw, bed.p_uas, bed.p_uac)
    u0 = udp_drops(ports)
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    c0, d0, s0 = cpu_s(bed.ctl.pid), cpu_s(bed.dp.pid), cpu_s(bed.uas.pid)
    t0 = time.time()
    # -l: never the limit (calls that hang stay up to 32 s); -recv_timeout:
    # an admitted call that gets no answer fails after SIP's timer B.
    p = subprocess.Popen(["sipp", "-sf", bed.ovl_xml, target, "-t", "u1", "-i", "127.0.0.1",
                          "-p", str(bed.p_uac), "-r", str(rate), "-m", str(n),
                          "-l", str(rate * 40 + 100), "-d", str(hold_ms), "-nostdin",
                          "-max_socket", "60000", "-recv_timeout", "32000",
                          "-trace_stat", "-stf", stf, "-fd", "1", "-trace_counts",
                          "-trace_rtt", "-rtt_freq", "1",
                          "-trace_err", "-error_file", stf.replace(".csv", ".err")],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=RUN)
    peak_c = peak_d = 0
    thirds = [[0, 0], [0, 0], [0, 0]]  # peak (ctl, dp) kB in each third of the level
    gen_end = None
    deadline = t0 + secs + 90
    while p.poll() is None and time.time() < deadline:
        kc = rss_kb(bed.ctl.pid) if bed.ctl.poll() is None else 0
        kd = rss_kb(bed.dp.pid) if bed.dp.poll() is None else 0
        peak_c, peak_d = max(peak_c, kc), max(peak_d, kd)
        third = int(3 * (time.time() - t0) / secs)
        if third < 3:
            thirds[third] = [max(thirds[third][0], kc), max(thirds[third][1], kd)]
        if gen_end is None and time.time() - t0 >= secs:
            gen_end = time.time()
        time.sleep(0.25)
    if p.poll() is None:
        p.kill()
    p.wait()
    el = time.time() - t0
    u1 = udp_drops(ports)
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    uac_cpu = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
    ctl_alive, dp_alive = bed.ctl.poll() is None, bed.dp.poll() is None
    c1 = cpu_s(bed.ctl.pid) if ctl_alive else c0
    d1 = cpu_s(bed.dp.pid) if dp_alive else d0
    s1 = cpu_s(bed.uas.pid)
    m1 = {} if direct or not ctl_alive else bed.metrics()
    st = sipp_last_row(stf)
    counts = {}
    try:
        counts = sipp_last_row("%s/ovl_uac_%d_counts.csv" % (RUN, p.pid))
    except (OSError, IndexError):
        pass
    num = lambda d, k: int(float(d.get(k, "0") or 0))
    created = num(st, "OutgoingCall(C)")
    ok = num(st, "SuccessfulCall(C)")
    failed = num(st, "FailedCall(C)")
    shed = num(counts, "4_503_Recv")
    rtt = rtt_values(p.pid, "ovl_uac")
    gen_s = (gen_end or time.time()) - t0
    md = lambda k: m1.get(k, float("nan")) - m0.get(k, float("nan"))
    return {
        "mode": "direct" if direct else "gateway", "rate": rate, "secs": secs,
        "created": created, "offered_cps": created / max(min(gen_s, secs), 0.001),
        "completed": ok - shed, "goodput_cps": (ok - shed) / secs, "shed_503": shed,
        "admitted": created - shed, "failed_admitted": failed,
        "failed_timeout": num(st, "FailedMaxUDPRetrans(C)") + num(st, "FailedTimeoutOnRecv(C)")
        + num(st, "FailedTimeoutOnSend(C)"),
        "failed_unexpected": num(st, "FailedUnexpectedMsg(C)") + num(st, "FailedCallRejected(C)"),
        "invite_retrans": num(counts, "0_INVITE_Retrans"),
        "setup_p50_ms": pct(rtt, 0.5), "setup_p99_ms": pct(rtt, 0.99), "n_rtt": len(rtt),
        # CPU over the offered period (what the drain costs included): the
        # drain of a level with timeouts lasts 32 s more and would dilute it
        "ctl_cpu_pct": 100.0 * (c1 - c0) / secs, "dp_cpu_pct": 100.0 * (d1 - d0) / secs,
        "uac_cpu_pct": 100.0 * uac_cpu / secs, "uas_cpu_pct": 100.0 * (s1 - s0) / secs,
        "ctl_peak_kb": peak_c, "dp_peak_kb": peak_d,
        "ctl_kb_thirds": [x[0] for x in thirds], "dp_kb_thirds": [x[1] for x in thirds],
        "ctl_alive": ctl_alive, "dp_alive": dp_alive,
        "gw_refused": md('mediagate_calls_total{outcome="failed",cause="max_calls"}'),
        "gw_answered": md('mediagate_calls_total{outcome="answered",cause="answered"}'),
        "dp_up": m1.get("mediagate_dataplane_up", float("nan")),
        "elapsed_s": el,
        # kernel drops at the gateway's SIP socket and at the callee's (the
        # caller's socket is new for each trial: its drops are all this trial's)
        "drops_gw": u1.get(bed.p_gw, {}).get("d", 0) - u0.get(bed.p_gw, {}).get("d", 0),
        "drops_uas": u1.get(bed.p_uas, {}).get("d", 0) - u0.get(bed.p_uas, {}).get("d", 0),
        "rcvbuf_gw": u1.get(bed.p_gw, {}).get("rb", 0),
    }


def ovl_good(r, max_fail=0.01):
    """Capacity criterion: the calls asked for were placed and completed,
    all but under max_fail of them (a 503 counts as not completed), and
    99 % of them were answered within SIP's T1 (500 ms, before any
    retransmission): a rate that passes only with retransmissions does not
    last (seen: 10 s trials passing at a rate that collapsed over 30 s)."""
    asked = r["rate"] * r["secs"]
    return r["completed"] >= (1.0 - max_fail) * asked and r["setup_p99_ms"] < 500


def ovl_capacity(bed, start, top, secs, log):
    """The highest rate the gateway completes with < 1 % of the calls lost
    (shed or failed): doubling from @start until a rate fails (or @top),
    then halving the interval until it is within 10 %."""
    trials = []
    lo, hi, r = 0, None, start
    while r <= top:
        t = ovl_trial(bed, False, r, secs)
        trials.append(t)
        log(t)
        if not ovl_good(t) or not (t["ctl_alive"] and t["dp_alive"]):
            hi = r
            break
        lo, r = r, r * 2
    if hi is None:
        return lo, trials, True  # never failed up to --ovl-top: SIPp's or the flag's limit
    while lo > 0 and hi - lo > max(10, lo // 10):
        mid = (lo + hi) // 2
        t = ovl_trial(bed, False, mid, secs)
        trials.append(t)
        log(t)
        if ovl_good(t) and t["ctl_alive"] and t["dp_alive"]:
            lo = mid
        else:
            hi = mid
    return lo, trials, False


def ovl_row_line(r):
    return ("%-8s %7d %8.0f %8.1f %7d %8d %7d %6d %7d %6.0f %6.0f %7.0f %7.0f %6.0f %6.0f "
            "%8d %8d %4s/%-3s" % (
                r.get("level", "-"), r["rate"], r["offered_cps"], r["goodput_cps"], r["shed_503"],
                r["admitted"], r["failed_admitted"], r["failed_timeout"], r["invite_retrans"],
                r["setup_p50_ms"], r["setup_p99_ms"], r["ctl_cpu_pct"], r["dp_cpu_pct"],
                r["uac_cpu_pct"], r["uas_cpu_pct"], r["ctl_peak_kb"], r["dp_peak_kb"],
                "yes" if r["ctl_alive"] else "NO", "yes" if r["dp_alive"] else "NO"))


OVL_HEAD = ("%-8s %7s %8s %8s %7s %8s %7s %6s %7s %6s %6s %7s %7s %6s %6s %8s %8s %8s" % (
    "level", "rate/s", "offered", "goodput", "503s", "admitted", "failed", "t/o", "INV rtx",
    "p50ms", "p99ms", "ctl%CPU", "dp%CPU", "uac%", "uas%", "ctl pkKB", "dp pkKB", "alive"))

OVL_CSV = ["table", "level", "mode", "rate", "secs", "created", "offered_cps", "completed",
           "goodput_cps", "shed_503", "admitted", "failed_admitted", "failed_timeout",
           "failed_unexpected", "invite_retrans", "setup_p50_ms", "setup_p99_ms", "ctl_cpu_pct",
           "dp_cpu_pct", "uac_cpu_pct", "uas_cpu_pct", "ctl_peak_kb", "dp_peak_kb", "ctl_alive",
           "dp_alive", "gw_refused", "gw_answered", "dp_up", "ctl_kb_third1", "ctl_kb_third2",
           "ctl_kb_third3", "dp_kb_third1", "dp_kb_third2", "dp_kb_third3", "drops_gw",
           "drops_uas"]


def overload_main(a, src):
    """--overload: capacity (maxRate unset), then 1x, 2x, 4x of it with the
    gateway configured to shed (maxRate = the capacity, maxLoopLagMs at its
    default), and SIPp -> SIPp directly at 4x as the baseline of what the two
    SIPp processes do alone on this machine."""
    base = 41000 + (os.getpid() % 1000) * 4
    log = lambda t: print("  %-7s %5d/s: offered %.0f/s, completed %d, 503 %d, failed %d, "
                          "p99 %.0f ms, uac %.0f%% uas %.0f%% ctl %.0f%% CPU, drops gw %d "
                          "uas %d" % (
                              t["mode"], t["rate"], t["offered_cps"], t["completed"],
                              t["shed_503"], t["failed_admitted"], t["setup_p99_ms"],
                              t["uac_cpu_pct"], t["uas_cpu_pct"], t["ctl_cpu_pct"],
                              t["drops_gw"], t["drops_uas"]),
                          file=sys.stderr, flush=True)
    cap = a.ovl_capacity
    trials = []
    capped = False
    if cap <= 0:
        bed = Bed(a.build, src, base, a.max_sessions)
        try:
            bed.start()
            bed.ovl_xml = ovl_scenario()
            bed.uas_xml = ovl_uas_scenario(src)
            print("capacity search (maxRate unset, %d s per trial)" % a.ovl_cap_secs,
                  file=sys.stderr)
            cap, trials, capped = ovl_capacity(bed, a.ovl_start, a.ovl_top, a.ovl_cap_secs, log)
        finally:
            bed.stop()
    if cap <= 0:
        print("call-bench --overload: no rate passed (even %d/s lost > 1 %% of the calls)"
              % a.ovl_start, file=sys.stderr)
        return 1
    max_rate = a.ovl_max_rate if a.ovl_max_rate > 0 else cap
    extra = "mediagate.calls.maxRate=%d\n" % max_rate
    levels = []
    bed = Bed(a.build, src, base, a.max_sessions, extra)
    try:
        bed.start()
        bed.ovl_xml = ovl_scenario()
        bed.uas_xml = ovl_uas_scenario(src)
        for k in (1, 2, 4):
            print("level %dx: %d calls/s for %d s (maxRate=%d)" % (k, cap * k, a.duration, max_rate),
                  file=sys.stderr)
            r = ovl_trial(bed, False, cap * k, a.duration)
            r["level"] = "%dx" % k
            levels.append(r)
            log(r)
        r = ovl_trial(bed, True, cap * 4, min(a.duration, 10))
        r["level"] = "direct4x"
        levels.append(r)
        log(r)
    finally:
        bed.stop()

    print("\ncapacity search (maxRate unset; a trial passes when >= 99 %% of the calls asked for "
          "completed and p99 setup < 500 ms; %d s each)" % a.ovl_cap_secs)
    print(OVL_HEAD)
    print("-" * len(OVL_HEAD))
    for t in trials:
        print(ovl_row_line(t))
    print("capacity: %d calls/s%s" % (cap, " (given with --ovl-capacity)" if not trials else
                                      " (never failed up to --ovl-top: not the gateway's limit)"
                                      if capped else ""))
    print("\noverload: 1x, 2x, 4x the capacity for %d s each, mediagate.calls.maxRate=%d, "
          "maxLoopLagMs default; direct4x = SIPp -> SIPp, the baseline" % (a.duration, max_rate))
    print(OVL_HEAD)
    print("-" * len(OVL_HEAD))
    for r in levels:
        print(ovl_row_line(r))
    print("(offered = INVITEs SIPp placed per second; goodput = calls completed (200, ACK, BYE "
          "answered) per second of the level; failed = admitted calls (no 503) SIPp failed, "
          "t/o = of which timeouts; p50/p99 = INVITE->200 of completed calls, SIPp's whole ms; "
          "%CPU = CPU time until every call ended / the offered period, in % of one core; "
          "pkKB = peak RSS sampled every 0.25 s)")
    print("\nmemory over each level: peak RSS in each third of the offered period, then the "
          "peak including the drain (kB)")
    print("%-8s %9s %9s %9s %9s   %9s %9s %9s %9s" % ("level", "ctl 1/3", "ctl 2/3", "ctl 3/3",
                                                   "ctl peak", "dp 1/3", "dp 2/3", "dp 3/3",
                                                   "dp peak"))
    for r in levels:
        if r["mode"] == "gateway":
            print("%-8s %9d %9d %9d %9d   %9d %9d %9d %9d" % tuple(
                [r["level"]] + r["ctl_kb_thirds"] + [r["ctl_peak_kb"]] + r["dp_kb_thirds"]
                + [r["dp_peak_kb"]]))
    print()
    for r in levels:
        if r["mode"] == "gateway":
            print("  %s: the gateway's /metrics: %.0f calls refused (503), %.0f answered; "
                  "mediagate_dataplane_up %.0f; kernel drops (full receive buffer): gateway SIP "
                  "socket %d (buffer %d B), callee %d" % (
                      r["level"], r["gw_refused"], r["gw_answered"], r["dp_up"], r["drops_gw"],
                      r["rcvbuf_gw"], r["drops_uas"]))
    g4 = [r for r in levels if r["level"] == "4x"][0]
    print("4x: goodput %.0f/s = %.0f %% of the capacity; %d admitted calls failed; both daemons %s"
          % (g4["goodput_cps"], 100.0 * g4["goodput_cps"] / cap, g4["failed_admitted"],
             "alive" if g4["ctl_alive"] and g4["dp_alive"] else "NOT alive"))
    if a.csv:
        with open(a.csv, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(OVL_CSV)
            for name, rows_ in (("capacity", trials), ("overload", levels)):
                for r in rows_:
                    w.writerow([name, r.get("level", ""), r["mode"], r["rate"], r["secs"],
                                r["created"], "%.1f" % r["offered_cps"], r["completed"],
                                "%.1f" % r["goodput_cps"], r["shed_503"], r["admitted"],
                                r["failed_admitted"], r["failed_timeout"], r["failed_unexpected"],
                                r["invite_retrans"], "%.0f" % r["setup_p50_ms"],
                                "%.0f" % r["setup_p99_ms"], "%.1f" % r["ctl_cpu_pct"],
                                "%.1f" % r["dp_cpu_pct"], "%.1f" % r["uac_cpu_pct"],
                                "%.1f" % r["uas_cpu_pct"], r["ctl_peak_kb"], r["dp_peak_kb"],
                                int(r["ctl_alive"]), int(r["dp_alive"]), "%.0f" % r["gw_refused"],
                                "%.0f" % r["gw_answered"], "%.0f" % r["dp_up"]]
                               + r["ctl_kb_thirds"] + r["dp_kb_thirds"]
                               + [r["drops_gw"], r["drops_uas"]])
    if not a.keep:
        shutil.rmtree(RUN, ignore_errors=True)
    return 0


def ramp_main(a, src):
    transports = [t for t in a.transport.split(",") if t]
    tool = os.path.join(a.build, "bench", "sip-load-client")
    if any(t != "udp" for t in transports) and not os.access(tool, os.X_OK):
        print("call-bench: %s is not built (needs sofia-sip and the control plane)" % tool,
              file=sys.stderr)
        return 2
    certs = call_ramp.make_certs(RUN + "-certs", src)  # Bed.start() empties RUN
    bed = Bed(a.build, src, 41000 + (os.getpid() % 1000) * 8, a.max_sessions,
              tls={"dir": certs})
    o = {"start": a.ramp_start, "max": a.ramp_max, "secs": a.ramp_secs, "hold_ms": 1000,
         "bisect": a.bisect, "retry": a.retry, "fail_pct": a.fail_pct, "p99_ms": a.p99_ms}
    sipp = {"run": RUN, "uac": uac, "totals": sipp_totals}
    log = lambda r: print("  %-15s %-4s %-7s %5d/s: %d/%d ok, p99 %s ms %s" % (
        r["tool"], r["transport"], r["mode"], r["rate"], r["ok"], r["offered"],
        call_ramp.fmt(r["setup_p99_ms"], "%.0f"), "" if r["pass"] else "-> " + r["why"]),
        file=sys.stderr)
    steps, summary = [], []
    try:
        bed.start()
        for t in transports:
            if t == "udp":
                tl = call_ramp.Sipp(bed, sipp)
            else:
                bed.stop_uas()
                tl = call_ramp.Sofia(bed, tool, "tls" if t == "tls" else "udp", certs)
            for direct in (True, False):
                r, good, bad = call_ramp.ramp(bed, tl, direct, o, log)
                steps += r
                summary.append((r[0]["tool"], tl.transport, "direct" if direct else "gateway",
                                good, bad, [x for x in r if x["rate"] == good]))
    finally:
        bed.stop()
        shutil.rmtree(certs, ignore_errors=True)
    print("\ncall setup ramp (%d s per step, 1 s hold; pass: <= %.1f%% without a 200, "
          "p99 <= %.0f ms, >= 90%% of the rate; 'direct' = caller to callee, the baseline)"
          % (a.ramp_secs, a.fail_pct, a.p99_ms))
    call_ramp.print_steps(steps)
    print("\nmax sustained setup rate")
    print("%-15s %-9s %-7s %10s %12s %7s %6s %6s %6s %6s" % (
        "tool", "transport", "mode", "max rate/s", "first fail/s", "p99 ms", "ctl%", "dp%",
        "uac%", "uas%"))
    print("-" * 96)
    for tname, tr, mode, good, bad, at in summary:
        x = at[-1] if at else None
        print("%-15s %-9s %-7s %10s %12s %7s %6s %6s %6s %6s" % (
            tname, tr, mode, good or "-", bad or "-",
            call_ramp.fmt(x and x["setup_p99_ms"], "%.0f"),
            call_ramp.fmt(x and x["ctl_cpu_pct"]), call_ramp.fmt(x and x["dp_cpu_pct"]),
            call_ramp.fmt(x and x["uac_cpu_pct"]), call_ramp.fmt(x and x["uas_cpu_pct"])))
    print("(CPU = share of one core over the step at the max rate; 'first fail' - = none "
          "up to --ramp-max)")
    if a.csv:
        with open(a.csv, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(call_ramp.FIELDS)
            w.writerows(call_ramp.csv_rows(steps))
    if not a.keep:
        shutil.rmtree(RUN, ignore_errors=True)
    return 0


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
    ap.add_argument("--overload", action="store_true",
                    help="instead: capacity, then 1x/2x/4x of it with shedding configured")
    ap.add_argument("--duration", type=int, default=30,
                    help="--overload: seconds per level (default 30)")
    ap.add_argument("--ovl-cap-secs", type=int, default=10,
                    help="--overload: seconds per capacity trial (default 10)")
    ap.add_argument("--ovl-start", type=int, default=100,
                    help="--overload: first rate of the capacity search (default 100)")
    ap.add_argument("--ovl-top", type=int, default=12800,
                    help="--overload: highest rate the capacity search tries (default 12800)")
    ap.add_argument("--ovl-capacity", type=int, default=0,
                    help="--overload: skip the search, take this capacity")
    ap.add_argument("--ovl-max-rate", type=int, default=0,
                    help="--overload: mediagate.calls.maxRate (default: the capacity)")
    ap.add_argument("--ramp", action="store_true",
                    help="instead: setup rate ramped until failures, UDP and TLS")
    ap.add_argument("--transport", default="udp,udp-sofia,tls",
                    help="ramp targets: udp (SIPp), udp-sofia, tls (sip-load-client)")
    ap.add_argument("--ramp-start", type=int, default=50)
    ap.add_argument("--ramp-max", type=int, default=6400)
    ap.add_argument("--ramp-secs", type=int, default=10)
    ap.add_argument("--bisect", type=int, default=3)
    ap.add_argument("--retry", type=int, default=1, help="runs again of a failed step")
    ap.add_argument("--fail-pct", type=float, default=1.0)
    ap.add_argument("--p99-ms", type=float, default=250.0)
    ap.add_argument("--keep", action="store_true", help="keep the work directory (logs, SIPp files)")
    ap.add_argument("--redis", action="store_true",
                    help="the rates again with the state in Redis (mode gw+redis)")
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
    if a.overload:
        return overload_main(a, src)
    if a.ramp:
        return ramp_main(a, src)
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
    if a.redis:
        if shutil.which("redis-server") is None:
            print("call-bench: redis-server is not installed (scripts/setup)", file=sys.stderr)
            return 2
        bed = Bed(a.build, src, 41000 + (os.getpid() % 1000) * 4, a.max_sessions, redis=True)
        try:
            bed.start()
            for r in rates:
                row = rate_run(bed, False, r, a.secs)
                rows.append(row)
                print("  %-8s %4d/s: %d ok, %d failed, %d Redis writes" % (
                    row["mode"], r, row["ok"], row["failed"], row["redis_writes"]), file=sys.stderr)
        finally:
            bed.stop()

    model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                  if l.startswith("model name")), "?")
    print("\nCPU: %s, %d cores" % (model, os.cpu_count() or 0))
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
    if a.redis:
        base = {r["rate"]: r for r in rows if r["mode"] == "gateway"}
        print("\nstate in Redis ('gateway' = the same rate without Redis, the baseline)")
        print("%-8s %7s %9s %12s %13s %12s %10s %10s %9s %9s" % (
            "mode", "rate/s", "cps", "ctl ms/call", "base ms/call", "ctl added %", "redis us/c",
            "redis %ctl", "writes", "writes/s"))
        print("-" * 110)
        for r in rows:
            if r["mode"] != "gw+redis":
                continue
            b = base.get(r["rate"])
            bm = b["ctl_ms_per_call"] if b else float("nan")
            print("%-8s %7d %9.1f %12.3f %13.3f %+12.1f %10.1f %10.2f %9d %9.1f" % (
                r["mode"], r["rate"], r["cps"], r["ctl_ms_per_call"], bm,
                100.0 * (r["ctl_ms_per_call"] - bm) / bm if bm else float("nan"),
                r["redis_us_per_call"], r["redis_cpu_pct"], r["redis_writes"], r["redis_wps"]))
        print("(ctl ms/call = control CPU over the run / calls completed, against 'gateway' of "
              "this run: noisy on a shared machine; redis us/c and %ctl = the control's thread "
              "CPU time inside its Redis code (records, hiredis, socket), per call and as a share "
              "of its CPU; writes = SET + DEL counted by Redis)")
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
                        "setup_p99_ms", "ctl_cpu_pct", "dp_cpu_pct", "ctl_ms_per_call",
                        "redis_writes", "redis_us_per_call", "redis_cpu_pct"])
            for r in rows:
                w.writerow(["rate", r["mode"], r["rate"], r["offered"], r["ok"], r["failed"],
                            "%.1f" % r["cps"], "%.2f" % r["setup_ms"], "%.0f" % r["setup_p99_ms"],
                            "%.1f" % r["ctl_cpu_pct"], "%.1f" % r["dp_cpu_pct"],
                            "%.3f" % r["ctl_ms_per_call"], r["redis_writes"],
                            "%.1f" % r.get("redis_us_per_call", 0.0),
                            "%.2f" % r.get("redis_cpu_pct", 0.0)])
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
