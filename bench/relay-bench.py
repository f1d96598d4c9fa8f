#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""relay-bench: mediagate and rtpengine-daemon relaying the same RTP, same run.

  sudo bench/relay-bench [--k 1,100,1000] [--modes plain,encrypt] [--ms 1000]
                         [--relays rtpengine,mediagate] [--quick] [--csv FILE]
                         [--json FILE]

Test bed (T = this run's pid in hex):

  ns rlb-T-g (generator)                  ns rlb-T-r (relay)
   g0: relay_bench_gen (DPDK net_af_packet) <-veth-> r0: the relay, 192.0.2.1
       answers ARP for 192.0.2.10 (caller)                NG on 127.0.0.1:2223
       and 192.0.2.20 (callee); CPU 0                     CPU 1

For each relay in turn, in the same namespace and on the same veth end:
  rtpengine  rtpengine-daemon, userspace only (--table=-1, no kernel module),
             --num-threads=1, kernel UDP sockets on 192.0.2.1 (r0); the whole
             process pinned to the relay CPU (taskset)
  mediagate  mediagate-dataplane owning r0 through net_af_packet (it answers
             ARP for 192.0.2.1), one worker busy-polling (idleSleepUs=0), EAL
             main and worker lcore both on the relay CPU (--lcores 0@C,1@C);
             mediagate-control as a pure NG media node, pinned there too

K sessions are set up over NG with identical requests for both relays:
  plain    offer RTP/AVP, answer RTP/AVP: a plain relay
  encrypt  offer RTP/AVP + transport-protocol RTP/SAVP (the relay offers SDES
           keys to the callee), answer RTP/SAVP + a=crypto
           AES_CM_128_HMAC_SHA1_80 + transport-protocol RTP/AVP: RTP in from
           the caller, SRTP out to the callee with the relay's offered key
(ICE remove, DTLS off, replace origin + session-connection). Caller and callee
are 192.0.2.10:4000 and 192.0.2.20:6000 for every session. The generator
sends 172-byte RTP from the caller to each session's relay port (round
robin) at stepped offered rates (x sqrt2 a step, x2 with --quick) and
verifies what reaches the callee (its session's relay port, SRTP
authenticated and decrypted with the relay's key, payload, order: see
bench/relay_bench_gen.c). A step losing more than 0.1% (unsent counts) is
tried again up to 3 times (this machine is shared; the attempt where the
relay lost least counts); the search stops after a step where the relay lost
more than 5% of what it was sent, or the generator sent less than half.

Per step: offered, carried+verified pps, loss, latency p50/p99 (send time in
the payload), and the relay's CPU over the step, in cores: its processes'
utime+stime (/proc/PID/stat; for mediagate mediagate-control only) + the
softirq time of the relay CPU (/proc/stat) + for mediagate the dataplane
worker's busy cycles (mediagate-dpctl stats: the worker busy-polls, so its OS
time is always one core; busy cycles are what the packets took).

Row per (relay, K, mode): the highest step where the relay lost <= 0.1% of
what it was sent (rloss; unsent% = what the generator, preempted on a shared
machine, could not send: not carried, not counted in the rate either).
  per-core = carried+verified pps / relay cores at that step
  ratio    = mediagate per-core / rtpengine per-core (same K, mode, run);
             the encrypt rows are judged against issue 14's goal (>= 30x)
  limit    = what ended the search at the step above: 'relay' (it lost
             more than 0.1% of what it was sent, more than the generator left
             unsent), 'gen' (the generator fell behind), 'none' (--max-pps
             reached); 'gen' and 'none' rows are marked GEN-BOUND
  latency  = at the step nearest half that rate
  kernel floor (printed under the table, kernel_ns_per_pkt and ratio_bound
             in CSV/JSON): the relay CPU's softirq per packet carried, and
             the highest ratio a mediagate costing nothing but that could
             reach against the same rtpengine row (1e9 / that / rtpengine's
             per-core)
  gen ceil = the generator alone, no veth, no relay (--direct over net_ring:
             it sends what the relay would, SRTP-protected in encrypt mode):
             what it can build and verify, not what it can push through
             af_packet (information only)
Never asserts a rate. --csv writes the rows, --steps-csv every step (same
columns; the rate column is carried_verified_pps), --json both as JSON.
"""
import argparse
import base64
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time

NG_PORT = 2223
CALLER = ("192.0.2.10", 4000)
CALLEE = ("192.0.2.20", 6000)
RELAY_IP = "192.0.2.1"
GOAL_RATIO = 30.0
MG_DEVICES = {"af_packet": "net_af_packet0,iface=r0,framecnt=4096",
              "af_xdp": "net_af_xdp0,iface=r0"}
LOSS_OK = 0.1  # % : a step counts as sustained at or below this
STOP_LOSS = 5.0  # % : the step search stops after a step above this


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "?"


def src_dir(build):
    """The source tree (for tests/ng/ng_client.py) from the meson build dir."""
    try:
        with open(os.path.join(build, "meson-info", "meson-info.json")) as f:
            return json.load(f)["directories"]["source"]
    except (OSError, ValueError, KeyError):
        return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def sh(*cmd, check=True):
    return subprocess.run(list(cmd), check=check, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL if not check else None)


# ---- NG session setup (runs inside the relay's namespace: --setup) -------------
SDP = ("v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n"
       "m=audio {port} {proto} 0\r\na=rtpmap:0 PCMU/8000\r\n{extra}a=sendrecv\r\n")


def sdp_media(sdp):
    """(address, port, {tag: (suite, key+salt bytes)}) of the first audio stream."""
    ip = port = None
    crypto = {}
    for line in sdp.replace("\r", "").split("\n"):
        m = re.match(r"c=IN IP4 (\S+)", line)
        if m:
            ip = m.group(1)
        m = re.match(r"m=audio (\d+) ", line)
        if m and port is None:
            port = int(m.group(1))
        m = re.match(r"a=crypto:(\d+) (\S+) inline:([A-Za-z0-9+/=]+)", line)
        if m:
            crypto[int(m.group(1))] = (m.group(2), base64.b64decode(m.group(3) + "=" * (-len(m.group(3)) % 4)))
    return ip, port, crypto


def setup_sessions(src, k, mode, out, tag):
    sys.path.insert(0, os.path.join(src, "tests", "ng"))
    from ng_client import NG
    ng = NG("127.0.0.1:%d" % NG_PORT, timeout=2.0, retries=5)
    common = {"ICE": "remove", "DTLS": "off", "replace": ["origin", "session-connection"]}
    lines = []
    for i in range(k):
        cid = "rlb-%s-%d" % (tag, i)
        req = dict(common, command="offer", **{"call-id": cid, "from-tag": "a%d" % i})
        req["sdp"] = SDP.format(ip=CALLER[0], port=CALLER[1], proto="RTP/AVP", extra="")
        if mode == "encrypt":
            req["transport-protocol"] = "RTP/SAVP"
        r = ng.request(req)
        if r.get("result") != "ok":
            sys.exit("relay-bench: offer %d: %s" % (i, r))
        b_ip, b_port, crypto = sdp_media(r["sdp"])
        extra, key = "", "-"
        if mode == "encrypt":
            tags = [t for t, (s, _) in sorted(crypto.items()) if s == "AES_CM_128_HMAC_SHA1_80"]
            if not tags:
                sys.exit("relay-bench: offer %d: no AES_CM_128_HMAC_SHA1_80 key in %r" % (i, r["sdp"]))
            key = crypto[tags[0]][1].hex()
            ours = base64.b64encode(os.urandom(30)).decode()
            extra = "a=crypto:%d AES_CM_128_HMAC_SHA1_80 inline:%s\r\n" % (tags[0], ours)
        req = dict(common, command="answer", **{"call-id": cid, "from-tag": "a%d" % i,
                                                  "to-tag": "b%d" % i})
        req["sdp"] = SDP.format(ip=CALLEE[0], port=CALLEE[1],
                                proto="RTP/SAVP" if mode == "encrypt" else "RTP/AVP", extra=extra)
        if mode == "encrypt":
            req["transport-protocol"] = "RTP/AVP"
        r = ng.request(req)
        if r.get("result") != "ok":
            sys.exit("relay-bench: answer %d: %s" % (i, r))
        a_ip, a_port, _ = sdp_media(r["sdp"])
        if len(key) not in (1, 60):
            sys.exit("relay-bench: offer %d: key of %d bytes" % (i, len(key) // 2))
        lines.append("%s %d %s %d %s\n" % (a_ip, a_port, b_ip, b_port, key))
    with open(out, "w") as f:
        f.writelines(lines)


def delete_sessions(src, k, tag):
    sys.path.insert(0, os.path.join(src, "tests", "ng"))
    from ng_client import NG
    ng = NG("127.0.0.1:%d" % NG_PORT)
    for i in range(k):
        ng.request({"command": "delete", "call-id": "rlb-%s-%d" % (tag, i), "from-tag": "a%d" % i})


# ---- the bed ---------------------------------------------------------------------
class Bed:
    def __init__(self, build, relay_cpu, gen_cpu, wrong_key=False, nice=0, mg_device=None):
        self.t = "%x" % os.getpid()
        self.g, self.r = "rlb-%s-g" % self.t, "rlb-%s-r" % self.t
        self.build, self.relay_cpu, self.gen_cpu = build, relay_cpu, gen_cpu
        self.src = src_dir(build)
        self.w = tempfile.mkdtemp(prefix="relay-bench.")
        self.procs = []
        self.wrong_key = wrong_key
        self.mg_device = mg_device or MG_DEVICES["af_packet"]
        self.nice = ["nice", "-n", str(nice)] if nice else []

    def up(self):
        for ns in (self.g, self.r):
            sh("ip", "netns", "add", ns)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "-n", self.g, "link", "add", "g0", "type", "veth", "peer", "name", "r0",
           "netns", self.r)
        for ns, dev in ((self.g, "g0"), (self.r, "r0")):
            sh("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.%s.disable_ipv6=1" % dev)
            sh("ip", "-n", ns, "link", "set", dev, "up")

    def down(self):
        self.stop()
        for ns in (self.g, self.r):
            r = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True)
            for p in r.stdout.split():
                try:
                    os.kill(int(p), signal.SIGKILL)
                except (OSError, ValueError):
                    pass
            sh("ip", "netns", "del", ns, check=False)
        for prefix in ("rlb-%s" % self.t, "rlb-%s-gen" % self.t):  # dataplane, generator
            shutil.rmtree("/var/run/dpdk/" + prefix, ignore_errors=True)
        if os.environ.get("RELAY_BENCH_KEEP"):
            print("# files kept in %s" % self.w)
        else:
            shutil.rmtree(self.w, ignore_errors=True)

    def spawn(self, name, cmd, cpu):
        log = open(os.path.join(self.w, name + ".log"), "w")
        p = subprocess.Popen(["ip", "netns", "exec", self.r, "taskset", "-c", str(cpu)] + self.nice + cmd,
                             stdout=log, stderr=subprocess.STDOUT, preexec_fn=more_fds)
        self.procs.append(p)
        return p

    def stop(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(8)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        self.procs = []

    def ng_free(self):
        """Nothing answers NG in the relay namespace (the last relay is gone)."""
        for _ in range(50):
            if not self.ng_ping(None, 1):
                return
            time.sleep(0.2)
        raise RuntimeError("a relay still answers NG on 127.0.0.1:%d" % NG_PORT)

    def ng_ping(self, proc, tries=150):
        code = ("import socket,sys\n"
                "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.settimeout(0.2)\n"
                "s.sendto(b'p1 d7:command4:pinge',('127.0.0.1',%d))\n"
                "try: print(s.recv(999))\n"
                "except Exception: sys.exit(1)\n" % NG_PORT)
        for _ in range(tries):
            if proc is not None and proc.poll() is not None:
                return False
            r = subprocess.run(["ip", "netns", "exec", self.r, "python3", "-c", code],
                               capture_output=True, text=True)
            if r.returncode == 0 and "pong" in r.stdout:
                return True
            time.sleep(0.1)
        return False

    def start_rtpengine(self, k):
        self.ng_free()
        sh("ip", "-n", self.r, "addr", "add", RELAY_IP + "/24", "dev", "r0")
        p = self.spawn("rtpengine", [
            "rtpengine", "--config-file=none", "--table=-1", "--foreground", "--log-stderr",
            "--log-level=4", "--num-threads=1", "--interface=" + RELAY_IP,
            "--listen-ng=127.0.0.1:%d" % NG_PORT, "--listen-cli=127.0.0.1:%d" % (NG_PORT + 1),
            "--port-min=20000", "--port-max=%d" % (20000 + 8 * k + 100), "--delete-delay=0",
            "--timeout=600", "--pidfile=" + os.path.join(self.w, "rtpengine.pid")], self.relay_cpu)
        if not self.ng_ping(p):
            raise RuntimeError("rtpengine does not answer NG:\n" + self.log("rtpengine"))
        return [p.pid], None, p

    def stop_rtpengine(self):
        self.stop()
        sh("ip", "-n", self.r, "addr", "flush", "dev", "r0", check=False)

    def start_mediagate(self, k):
        self.ng_free()
        conf = os.path.join(self.w, "gw.properties")
        c = self.relay_cpu
        with open(conf, "w") as f:
            f.write("# relay-bench: mediagate as a pure NG media node\n"
                    "netborder.sip.userAgent.IPAddress=\n"
                    "netborder.media.srtp.mode=as-needed\n"
                    "mediagate.log.level=warning\n"
                    "mediagate.control.socket=%s/dp.sock\n"
                    "mediagate.control.allowedUids=0\n"
                    "mediagate.dataplane.eal=--no-huge -m 256 --no-shconf --no-pci --no-telemetry "
                    "--lcores 0@%d,1@%d --file-prefix rlb-%s --log-level=*:error\n"
                    "mediagate.dataplane.workerLcores=1\n"
                    "mediagate.dataplane.port.0.device=%s\n"
                    "mediagate.dataplane.port.0.addresses=%s/24\n"
                    "mediagate.dataplane.idleSleepUs=0\n"
                    "mediagate.dataplane.maxSessions=%d\n"
                    "mediagate.media.portRange=20000-40001\n"
                    "mediagate.ng.listen=127.0.0.1:%d/udp\n"
                    "# the bench measures media, not admission: no refusal on event-loop lag\n"
                    "mediagate.calls.maxLoopLagMs=0\n"
                    % (self.w, c, c, self.t, self.mg_device, RELAY_IP, max(2 * k + 100, 1000), NG_PORT))
        dp = self.spawn("dataplane", [os.path.join(self.build, "dataplane", "mediagate-dataplane"),
                                      "--config", conf], c)
        for _ in range(150):
            if os.path.exists(os.path.join(self.w, "dp.sock")) or dp.poll() is not None:
                break
            time.sleep(0.1)
        ctl = self.spawn("control", [os.path.join(self.build, "control", "mediagate-control"),
                                     "--config", conf], c)
        if not self.ng_ping(ctl):
            raise RuntimeError("mediagate does not answer NG:\n" + self.log("dataplane") +
                               self.log("control"))
        time.sleep(0.5)  # the dataplane's HELLO
        dpctl = "%s --socket %s stats" % (
            os.path.join(self.build, "dataplane", "dpctl", "mediagate-dpctl"),
            os.path.join(self.w, "dp.sock"))
        return [ctl.pid], dpctl, dp

    def dp_drops(self, cmd):
        """The dataplane's drops by reason over the whole run (mediagate-dpctl stats)."""
        r = subprocess.run(cmd.split(), capture_output=True, text=True)
        try:
            d = json.loads(r.stdout)
        except ValueError:
            return "?"
        return " ".join("%s:%d" % (k, v) for k, v in sorted(d.get("drops", {}).items()) if v)

    def log(self, name):
        try:
            with open(os.path.join(self.w, name + ".log")) as f:
                return "".join(f.readlines()[-15:])
        except OSError:
            return ""

    def setup(self, k, mode, tag):
        out = os.path.join(self.w, "sessions-%s" % tag)
        r = subprocess.run(["ip", "netns", "exec", self.r, sys.executable, os.path.abspath(__file__),
                            "--setup", out, "--k", str(k), "--modes", mode, "--tag", tag,
                            "--build", self.build], capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError("NG setup failed: %s %s" % (r.stdout, r.stderr))
        if self.wrong_key:  # the generator's check must fail: one key bit off
            with open(out) as f:
                lines = f.read().split("\n")
            for i, line in enumerate(lines):
                w = line.split()
                if len(w) == 5 and w[4] != "-":
                    w[4] = "%02x" % (int(w[4][:2], 16) ^ 1) + w[4][2:]
                    lines[i] = " ".join(w)
            with open(out, "w") as f:
                f.write("\n".join(lines))
        return out

    def delete(self, k, tag):
        subprocess.run(["ip", "netns", "exec", self.r, sys.executable, os.path.abspath(__file__),
                        "--delete", "--k", str(k), "--tag", tag, "--build", self.build],
                       capture_output=True, text=True)

    def gen(self, sessions, rates, ms, pids, dp_stats=None, direct=False):
        cmd = ["ip", "netns", "exec", self.g] + self.nice + [
               os.path.join(self.build, "bench", "relay_bench_gen"),
               "--sessions", sessions, "--a", "%s:%d" % CALLER, "--b", "%s:%d" % CALLEE,
               "--rates", ",".join("%.0f" % r for r in rates), "--ms", str(ms),
               "--stop-loss", str(STOP_LOSS), "--relay-cpu", str(self.relay_cpu),
               "--pass-loss", str(LOSS_OK), "--lcore", str(self.gen_cpu), "--file-prefix", "rlb-%s-gen" % self.t]
        cmd += ["--direct"] if direct else ["--vdev", "net_af_packet0,iface=g0,framecnt=4096"]
        if pids:
            cmd += ["--pids", ",".join(str(p) for p in pids)]
        if dp_stats:
            cmd += ["--dp-stats", dp_stats]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=1200)
        steps = []
        for line in r.stdout.splitlines():
            try:
                steps.append(json.loads(line))
            except ValueError:
                pass
        if r.returncode != 0 or not steps:
            raise RuntimeError("relay_bench_gen failed (%d): %s" % (r.returncode, r.stderr[-300:]))
        if os.environ.get("RELAY_BENCH_VERBOSE"):
            print("# %s" % " ".join(cmd[3:]), file=sys.stderr)
            for x in steps:
                print("#   %s" % json.dumps(x), file=sys.stderr)
        best = {}
        key = lambda x: (x["relay_loss_pct"], x["loss_pct"])
        for x in steps:  # per step, the attempt where the relay lost least
            b = best.get(x["step"])
            x["attempts"] = x["attempt"]
            if b is None or key(x) <= key(b):
                best[x["step"]] = x
            else:
                b["attempts"] = x["attempt"]
        steps = [best[i] for i in sorted(best)]
        for x in steps:
            # the relay's CPU: its processes (for mediagate: mediagate-control; the
            # dataplane's worker busy-polls, so its busy cycles, not its OS time)
            # plus the softirq time of its CPU (the receive path of its veth end)
            x["relay_cores"] = x["proc_cores"] + x["softirq_cores"] + x["dp_busy_cores"]
        return steps


def more_fds():
    """rtpengine holds 4 sockets per session."""
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (65536, 65536))
    except (ValueError, OSError):
        pass


def rates_from(start, stop, factor):
    r, out = start, []
    while r <= stop:
        out.append(r)
        r *= factor
    return out


def summarize(relay, k, mode, steps, ceil):
    # the relay's rate: steps where it carried what it was sent (a generator
    # preempted on this shared machine sends less than offered: unsent_pct)
    ok = [s for s in steps if s["relay_loss_pct"] <= LOSS_OK and s["verified"] > 0]
    s = {"relay": relay, "k": k, "mode": mode, "steps": len(steps),
         "peak_verified_pps": max(x["verified_pps"] for x in steps),
         "auth_fail": sum(x["auth_fail"] for x in steps),
         "bad": sum(x["bad"] for x in steps), "dup": sum(x["dup"] + x["replay"] for x in steps),
         "reorder": sum(x["reorder"] for x in steps), "gen_ceiling_pps": ceil}
    if not ok:
        s.update(verified_pps=0.0, offered_pps=steps[0]["offered_pps"], loss_pct=steps[0]["loss_pct"],
                 relay_loss_pct=steps[0]["relay_loss_pct"],
                 unsent_pct=100.0 * (steps[0]["offered"] - steps[0]["sent"]) / max(1, steps[0]["offered"]),
                 relay_cores=steps[0]["relay_cores"], per_core_pps=0.0, lat_p50_us=0.0,
                 lat_p99_us=0.0, gen_bound=False, limit="relay")
        return s
    best = max(ok, key=lambda x: x["verified_pps"])
    s.update({c: best[c] for c in ("proc_cores", "softirq_cores", "dp_busy_cores")})
    # what stopped the search, from the step above the best one: 'relay' when
    # the relay lost more than LOSS_OK of what it was sent there and that is
    # more than the generator left unsent; 'gen' otherwise (the generator
    # sent less than offered); 'none' when no step was above (--max-pps).
    above = [x for x in steps if x["step"] > best["step"]]
    if not above:
        s["limit"] = "none"
    else:
        f = above[0]
        s["limit"] = ("relay" if f["relay_loss_pct"] > LOSS_OK and
                      f["sent"] - f["verified"] >= f["offered"] - f["sent"] else "gen")
    half = min(steps, key=lambda x: abs(x["offered_pps"] - best["offered_pps"] / 2))
    s.update(verified_pps=best["verified_pps"], offered_pps=best["offered_pps"],
             loss_pct=best["loss_pct"], relay_loss_pct=best["relay_loss_pct"],
             unsent_pct=100.0 * (best["offered"] - best["sent"]) / best["offered"],
             relay_cores=best["relay_cores"],
             per_core_pps=best["verified_pps"] / best["relay_cores"] if best["relay_cores"] > 0 else 0.0,
             lat_p50_us=half["lat_p50_us"], lat_p99_us=half["lat_p99_us"],
             gen_bound=s["limit"] in ("gen", "none"))
    return s


ROW_COLS = ["relay", "k", "mode", "offered_pps", "verified_pps", "loss_pct", "relay_loss_pct",
            "unsent_pct", "relay_cores",
            "per_core_pps", "ratio", "goal", "lat_p50_us", "lat_p99_us", "peak_verified_pps",
            "auth_fail", "bad", "dup", "reorder", "gen_ceiling_pps", "limit", "gen_bound", "relay_drops", "proc_cores",
            "softirq_cores", "dp_busy_cores", "kernel_ns_per_pkt", "ratio_bound",
            "cpu_model"]


def fmt(v):
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, float):
        return "%.4f" % v if abs(v) < 100 else "%.0f" % v
    return "" if v is None else str(v).replace(",", " ")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--k", default=None, help="sessions per row (1,100,1000; --quick 1,100)")
    ap.add_argument("--modes", default="plain,encrypt")
    ap.add_argument("--relays", default="rtpengine,mediagate")
    ap.add_argument("--ms", type=int, default=None, help="one step's duration (1000; --quick 300)")
    ap.add_argument("--start-pps", type=float, default=None, help="first step (5000; --quick 20000)")
    ap.add_argument("--max-pps", type=float, default=4e6)
    ap.add_argument("--quick", action="store_true", help="fewer, shorter steps (x2), K 1,100")
    ap.add_argument("--no-ceiling", action="store_true", help="skip the generator-alone runs")
    ap.add_argument("--nice", type=int, default=0,
                    help="run the relays and the generator at this nice value (e.g. -10 on a "
                         "shared machine: less preemption by neighbours; same for both relays)")
    ap.add_argument("--mg-port", choices=sorted(MG_DEVICES), default="af_packet",
                    help="mediagate's DPDK port on the veth end")
    ap.add_argument("--relay-cpu", type=int, default=1)
    ap.add_argument("--gen-cpu", type=int, default=0)
    ap.add_argument("--csv", help="write the rows here (one per relay, K, mode)")
    ap.add_argument("--steps-csv", help="write every step here (same columns)")
    ap.add_argument("--json", help="write the rows and steps as JSON here")
    ap.add_argument("--wrong-key", action="store_true",
                    help="self-check: the generator gets every SRTP key with one bit flipped "
                         "(every encrypt packet must fail authentication)")
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--build", default=os.path.dirname(here))
    # internal: run inside the relay's namespace
    ap.add_argument("--setup", help=argparse.SUPPRESS)
    ap.add_argument("--delete", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--tag", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.setup:
        setup_sessions(src_dir(a.build), int(a.k), a.modes, a.setup, a.tag)
        return 0
    if a.delete:
        delete_sessions(src_dir(a.build), int(a.k), a.tag)
        return 0
    if os.geteuid() != 0:
        sys.exit("relay-bench: needs root (network namespaces)")
    ks = [int(x) for x in (a.k or ("1,100" if a.quick else "1,100,1000")).split(",")]
    ms = a.ms or (300 if a.quick else 1000)
    factor = 2.0 if a.quick else 2 ** 0.5
    start = a.start_pps or (20000 if a.quick else 5000)
    rates = rates_from(start, a.max_pps, factor)
    relays = a.relays.split(",")
    modes = a.modes.split(",")
    for b in (os.path.join(a.build, "bench", "relay_bench_gen"),):
        if not os.access(b, os.X_OK):
            sys.exit("relay-bench: %s not built" % b)
    if "rtpengine" in relays and shutil.which("rtpengine") is None:
        sys.exit("relay-bench: rtpengine is not installed (scripts/setup)")
    more_fds()
    model = cpu_model()
    ver = subprocess.run(["rtpengine", "--version"], capture_output=True, text=True)
    print("# cpu: %s, %d online; relay pinned to CPU %d, generator to CPU %d, nice %d" % (
        model, os.cpu_count() or 0, a.relay_cpu, a.gen_cpu, a.nice))
    print("# load average at start: %s" % " ".join(open("/proc/loadavg").read().split()[:3]))
    print("# rtpengine %s userspace (--table=-1, --num-threads=1); mediagate dataplane "
          "%s on the veth, 1 worker busy-polling" %
          ((ver.stdout + ver.stderr).strip().replace("Version: ", ""), MG_DEVICES[a.mg_port]))
    print("# 172-byte RTP, %d ms steps from %.0f pps x%.2f; row = highest step where the relay lost "
          "<= %.1f%% of what it was sent (rloss; unsent = what the generator could not send)" % (
        ms, start, factor, LOSS_OK))
    bed = Bed(a.build, a.relay_cpu, a.gen_cpu, a.wrong_key, a.nice, MG_DEVICES[a.mg_port])
    steps_all, rows = [], []
    try:
        bed.up()
        ceil = {}
        for relay in relays:
            for k in ks:
                for mode in modes:
                    tag = "%s%d%s" % (relay[0], k, mode[0])
                    if relay == "rtpengine":
                        pids, dp_stats, _ = bed.start_rtpengine(k)
                    else:
                        pids, dp_stats, _ = bed.start_mediagate(k)
                    try:
                        sess = bed.setup(k, mode, tag)
                        if (k, mode) not in ceil and not a.no_ceiling:
                            st = bed.gen(sess, rates, ms, [], direct=True)
                            ceil[(k, mode)] = max([x["verified_pps"] for x in st
                                                   if x["relay_loss_pct"] <= LOSS_OK] + [0.0])
                        steps = bed.gen(sess, rates, ms, pids, dp_stats)
                        drops = bed.dp_drops(dp_stats) if dp_stats else ""
                        bed.delete(k, tag)
                    finally:
                        if relay == "rtpengine":
                            bed.stop_rtpengine()
                        else:
                            bed.stop()
                    for x in steps:
                        x.update(relay=relay, mode=mode)
                    steps_all += steps
                    s = summarize(relay, k, mode, steps, ceil.get((k, mode), 0.0))
                    s["relay_drops"] = drops
                    rows.append(s)
                    print("# %-9s K=%-5d %-7s %2d steps, best %.0f pps at %.2f cores, peak %.0f pps, "
                          "auth-fail %d bad %d%s" % (relay, k, mode, len(steps), s["verified_pps"],
                                                     s["relay_cores"], s["peak_verified_pps"],
                                                     s["auth_fail"], s["bad"],
                                                     ", dataplane drops: " + drops if drops else ""),
                          flush=True)
    finally:
        bed.down()

    for s in rows:
        s["ratio"] = None
        s["goal"] = ""
        if s["relay"] == "mediagate":
            base = [x for x in rows if x["relay"] == "rtpengine" and x["k"] == s["k"]
                    and x["mode"] == s["mode"]]
            if base and base[0]["per_core_pps"] > 0 and s["per_core_pps"] > 0:
                s["ratio"] = s["per_core_pps"] / base[0]["per_core_pps"]
                if s["mode"] == "encrypt":
                    s["goal"] = ">=%.0fx %s" % (GOAL_RATIO, "met" if s["ratio"] >= GOAL_RATIO
                                                else "NOT met")
            # the kernel floor: the relay CPU's softirq per packet carried (paid
            # whatever the dataplane does: on a veth chiefly the generator's
            # receive of the frames the relay sends, see the CPU paragraph in
            # docs/benchmarks.md); a dataplane costing nothing would still be
            # at most 1 / that per core
            if base and base[0]["per_core_pps"] > 0 and s.get("softirq_cores", 0) > 0 and s["verified_pps"] > 0:
                s["kernel_ns_per_pkt"] = 1e9 * s["softirq_cores"] / s["verified_pps"]
                s["ratio_bound"] = 1e9 / s["kernel_ns_per_pkt"] / base[0]["per_core_pps"]
                s["goal_ns_per_pkt"] = 1e9 / (GOAL_RATIO * base[0]["per_core_pps"])
    hdr = "%-9s %5s %-7s %10s %10s %7s %7s %6s %11s %7s %-14s %8s %8s %10s %5s %4s %-6s %10s" % (
        "relay", "K", "mode", "offered", "verified", "rloss%", "unsent%", "cores", "per-core", "ratio", "goal",
        "p50 us", "p99 us", "peak pps", "auth", "bad", "limit", "gen ceil")
    print(hdr)
    print("-" * len(hdr))
    for s in rows:
        print("%-9s %5d %-7s %10.0f %10.0f %7.3f %7.2f %6.2f %11.0f %7s %-14s %8.1f %8.1f %10.0f %5d %4d %-6s %10s%s" % (
            s["relay"], s["k"], s["mode"], s["offered_pps"], s["verified_pps"], s["relay_loss_pct"],
            s["unsent_pct"],
            s["relay_cores"], s["per_core_pps"], "%.1fx" % s["ratio"] if s["ratio"] else "-",
            s["goal"] or "-", s["lat_p50_us"], s["lat_p99_us"], s["peak_verified_pps"], s["auth_fail"],
            s["bad"], s["limit"], "%.0f" % s["gen_ceiling_pps"] if s["gen_ceiling_pps"] else "-",
            "  GEN-BOUND" if s["gen_bound"] else ""))
    for s in rows:
        if s.get("ratio_bound"):
            print("# kernel floor, mediagate K=%d %s: the relay CPU's softirq alone %.0f ns/pkt carried, so even a "
                  "dataplane costing nothing is at most %.1fx rtpengine per core on this path (%.0fx needs <= "
                  "%.0f ns/pkt in all)" % (s["k"], s["mode"], s["kernel_ns_per_pkt"], s["ratio_bound"], GOAL_RATIO,
                                           s["goal_ns_per_pkt"]))
    print("# load average at end: %s" % " ".join(open("/proc/loadavg").read().split()[:3]))
    # CSV: the rate column is carried_verified_pps, as in dp-bench
    head = ",".join("carried_verified_pps" if c == "verified_pps" else c for c in ROW_COLS) + "\n"
    if a.csv:
        with open(a.csv, "w") as f:
            f.write(head)
            for s in rows:
                s["cpu_model"] = model
                f.write(",".join(fmt(s.get(c)) for c in ROW_COLS) + "\n")
    if a.steps_csv:
        with open(a.steps_csv, "w") as f:
            f.write(head)
            for x in steps_all:
                d = {"relay": x["relay"], "k": x["k"], "mode": x["mode"],
                     "offered_pps": x["offered_pps"], "verified_pps": x["verified_pps"],
                     "loss_pct": x["loss_pct"], "relay_loss_pct": x["relay_loss_pct"],
                     "unsent_pct": 100.0 * (x["offered"] - x["sent"]) / max(1, x["offered"]),
                     "relay_cores": x["relay_cores"],
                     "per_core_pps": x["verified_pps"] / x["relay_cores"] if x["relay_cores"] else 0.0,
                     "lat_p50_us": x["lat_p50_us"], "lat_p99_us": x["lat_p99_us"],
                     "auth_fail": x["auth_fail"], "bad": x["bad"], "dup": x["dup"] + x["replay"],
                     "reorder": x["reorder"], "proc_cores": x["proc_cores"],
                     "softirq_cores": x["softirq_cores"], "dp_busy_cores": x["dp_busy_cores"],
                     "cpu_model": model}
                f.write(",".join(fmt(d.get(c)) for c in ROW_COLS) + "\n")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"rows": rows, "steps": steps_all, "cpu_model": model}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
