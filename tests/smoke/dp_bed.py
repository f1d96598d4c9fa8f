# SPDX-License-Identifier: BSD-3-Clause
"""Test bed for the dataplane smoke tests (area tag mgdp).

Network namespaces (T = this run's tag, the PID in hex, or $MGDP_TAG):
  mgdp-T-dp  the dataplane; veths mgdp-a0, mgdp-b0, mgdp-c0 without addresses
             (the kernel must not answer ARP for the dataplane)
  mgdp-T-a   peer A on mgdp-a1: 192.0.2.2/28 and 192.0.2.3/28 (a second source)
  mgdp-T-b   peer B on mgdp-b1: 192.0.2.18/28
  mgdp-T-c   peer C on mgdp-c1: 192.0.2.34/28 (fork destination)
The dataplane owns 192.0.2.1 (port 0), 192.0.2.17 (port 1), 192.0.2.33
(port 2) on net_af_packet, EAL --no-huge -m 256 --no-shconf --file-prefix
mgdp-smoke-T, work directory /tmp/mgdp-smoke-T. The veths are created inside
the namespaces (never in the host's), so their names need no tag: two runs
side by side share no name, address, port or file.

Standalone: MGDP_TAG=x python3 dp_bed.py up|down   (up leaves the bed in place)
"""
import base64
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import traceback

TAG = os.environ.get("MGDP_TAG") or "%x" % os.getpid()


def ns(name):
    """The namespace 'dp', 'a', 'b' or 'c' of this run."""
    return "mgdp-%s-%s" % (TAG, name)


NS_DP, NS_A, NS_B, NS_C = ns("dp"), ns("a"), ns("b"), ns("c")
NS = [NS_DP, NS_A, NS_B, NS_C]
PEERS = {  # name: (peer addresses, dataplane address)
    "a": (["192.0.2.2", "192.0.2.3"], "192.0.2.1"),
    "b": (["192.0.2.18"], "192.0.2.17"),
    "c": (["192.0.2.34"], "192.0.2.33"),
}
DP_A, DP_B, DP_C = "192.0.2.1", "192.0.2.17", "192.0.2.33"
A, A2, B, C = "192.0.2.2", "192.0.2.3", "192.0.2.18", "192.0.2.34"
RUN = "/tmp/mgdp-smoke-" + TAG
SOCK = RUN + "/dp.sock"
PREFIX = "mgdp-smoke-" + TAG


def sh(*cmd, check=True, capture=False, timeout=30):
    r = subprocess.run(list(cmd), check=False, timeout=timeout,
                       stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
                       stderr=subprocess.PIPE if capture else subprocess.DEVNULL,
                       text=True)
    if check and r.returncode != 0:
        raise RuntimeError("%s: exit %d %s" % (" ".join(cmd), r.returncode,
                                                (r.stderr or "").strip()))
    return r


def nsx(name, *cmd, **kw):
    """cmd in namespace `name` (a full name: NS_A, ns("b"), ...)."""
    return sh("ip", "netns", "exec", name, *cmd, **kw)


def down():
    for n in NS:
        # whatever still runs in our namespaces was started by these tests
        r = sh("ip", "netns", "pids", n, check=False, capture=True)
        for pid in (r.stdout or "").split():
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
        sh("ip", "netns", "del", n, check=False)
    shutil.rmtree(RUN, ignore_errors=True)
    shutil.rmtree("/var/run/dpdk/" + PREFIX, ignore_errors=True)


def up():
    down()
    os.makedirs(RUN, exist_ok=True)
    for n in NS:
        sh("ip", "netns", "add", n)
        nsx(n, "ip", "link", "set", "lo", "up")
    for p, (addrs, _) in PEERS.items():
        dp_if, peer_if = "mgdp-%s0" % p, "mgdp-%s1" % p
        # made in the namespaces directly: the host never sees these names
        sh("ip", "link", "add", dp_if, "netns", NS_DP, "type", "veth",
           "peer", "name", peer_if, "netns", ns(p))
        nsx(NS_DP, "sysctl", "-qw", "net.ipv6.conf.%s.disable_ipv6=1" % dp_if)
        nsx(ns(p), "sysctl", "-qw", "net.ipv6.conf.%s.disable_ipv6=1" % peer_if)
        nsx(NS_DP, "ip", "link", "set", dp_if, "up")
        for a in addrs:
            nsx(ns(p), "ip", "addr", "add", a + "/28", "dev", peer_if)
        nsx(ns(p), "ip", "link", "set", peer_if, "up")


def write_config(path, idle_us=100, max_sessions=16384, workers=1, extra=""):
    """workers=2: two worker lcores on one CPU (--lcores 1@1,2@1); af_packet has no
    RSS, so worker 0 receives everything and hands odd sessions to worker 1."""
    ports = ""
    for i, p in enumerate("abc"):
        ports += ("mediagate.dataplane.port.%d.device=net_af_packet%d,iface=mgdp-%s0%s\n"
                  "mediagate.dataplane.port.%d.addresses=%s/28\n"
                  % (i, i, p, ",qpairs=%d" % workers if workers > 1 else "", i, PEERS[p][1]))
    lcores = "-l 0,1" if workers == 1 else "--lcores 0@0,1@1,2@1"
    wl = "1" if workers == 1 else "1,2"
    with open(path, "w") as f:
        f.write("mediagate.log.level=info\n"
                "mediagate.control.socket=%s\n"
                "mediagate.dataplane.eal=--no-huge -m 256 --no-shconf --no-pci "
                "--file-prefix %s %s --log-level=*:notice\n"
                "mediagate.dataplane.workerLcores=%s\n"
                "mediagate.dataplane.idleSleepUs=%d\n"
                "mediagate.dataplane.maxSessions=%d\n"
                "mediagate.media.portRange=20000-21999\n" % (SOCK, PREFIX, lcores, wl, idle_us,
                                                            max_sessions)
                + ports + extra)


class Dataplane:
    def __init__(self, build):
        self.build = build
        self.proc = None
        self.log = RUN + "/dataplane.log"

    def start(self, **cfg):
        conf = RUN + "/gw.properties"
        write_config(conf, **cfg)
        logf = open(self.log, "w")
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", NS_DP,
             self.build + "/dataplane/mediagate-dataplane", "--config", conf],
            stdout=logf, stderr=subprocess.STDOUT)
        for _ in range(100):
            if self.proc.poll() is not None:
                raise RuntimeError("dataplane exited %d:\n%s" % (self.proc.returncode,
                                                                open(self.log).read()))
            if os.path.exists(SOCK):
                r = self.ctl("ping", check=False)
                if r is not None:
                    return
            time.sleep(0.1)
        raise RuntimeError("dataplane did not come up:\n" + open(self.log).read())

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def ctl(self, *args, check=True):
        r = sh(self.build + "/dataplane/dpctl/mediagate-dpctl", "--socket", SOCK, *args,
               check=False, capture=True)
        if r.returncode != 0:
            if check:
                raise RuntimeError("dpctl %s: exit %d: %s %s" % (" ".join(args), r.returncode,
                                                                 r.stdout.strip(), r.stderr.strip()))
            return None
        return json.loads(r.stdout) if r.stdout.strip() else {}

    def ctl_rc(self, *args):
        r = sh(self.build + "/dataplane/dpctl/mediagate-dpctl", "--socket", SOCK, *args,
               check=False, capture=True)
        return r.returncode, r.stdout + r.stderr

    def stats(self, sid):
        return self.ctl("session", "stats", str(sid))

    def telemetry(self, cmd):
        path = "/var/run/dpdk/%s/dpdk_telemetry.v2" % PREFIX
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.settimeout(3)
        s.connect(path)
        s.recv(4096)  # greeting
        s.send(cmd.encode())
        out = b""
        while True:
            chunk = s.recv(65536)
            out += chunk
            try:
                return json.loads(out.decode())
            except ValueError:
                if not chunk:
                    raise


def new_key():
    """(base64 for dpctl, hex for the libsrtp2 peer) of a fresh key||salt."""
    k = secrets.token_bytes(30)
    return base64.b64encode(k).decode(), k.hex()


class Peer:
    """dp_srtp_peer in a peer namespace."""

    def __init__(self, build):
        self.exe = build + "/tests/smoke/dp_srtp_peer"

    def send(self, peer, bind, to, key=None, **opt):
        cmd = ["ip", "netns", "exec", ns(peer), self.exe, "send", bind, to]
        cmd += self._opts(key, opt)
        r = sh(*cmd, capture=True, timeout=60)
        return json.loads(r.stdout)

    def recv_start(self, peer, bind, key=None, **opt):
        cmd = ["ip", "netns", "exec", ns(peer), self.exe, "recv", bind]
        opt.setdefault("count", 0)
        cmd += self._opts(key, opt)
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(0.15)  # bound before anyone sends
        return p

    @staticmethod
    def recv_end(p):
        out, err = p.communicate(timeout=60)
        if p.returncode != 0:
            raise RuntimeError("peer recv: %s" % err)
        return json.loads(out)

    @staticmethod
    def _opts(key, opt):
        out = []
        if key is not None:
            out += ["--key", key]
        for k, v in opt.items():
            flag = "--" + k.replace("_", "-")
            if v is True:
                out.append(flag)
            elif v is not False and v is not None:
                out += [flag, str(v)]
        return out


class Fail(Exception):
    """A check that did not hold: reported by its message, without a traceback."""


def check(cond, what):
    if not cond:
        raise Fail(what)


def finish(dp, failed):
    """The dataplane stopped (its log's tail printed if anything failed), the bed down."""
    dp.stop()
    if failed and os.path.exists(dp.log):
        print("--- dataplane log (tail)")
        print(open(dp.log).read()[-3000:])
    down()


def run_cases(dp, start, cases):
    """The bed up, start() (the dataplane and what every case needs), then each
    (name, fn) of cases: 'ok   NAME secs', or 'FAIL NAME why' (with a traceback
    for anything but a Fail) and on to the next; then finish(), and
    'N passed, N failed'. Returns the exit status: 1 on a failure or if nothing
    passed."""
    passed = failed = 0
    try:
        up()
        start()
        for name, fn in cases:
            t0 = time.time()
            try:
                fn()
                passed += 1
                print("ok   %-24s %.1fs" % (name, time.time() - t0), flush=True)
            except Exception as e:  # noqa: BLE001 - report and go on
                failed += 1
                print("FAIL %-24s %s" % (name, e), flush=True)
                if not isinstance(e, Fail):
                    traceback.print_exc()
    finally:
        finish(dp, failed)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed or passed == 0 else 0


def exit_on_sigterm():
    """meson's timeout sends SIGTERM: unwind through finally blocks (cleanup)."""
    def handler(signum, frame):
        raise SystemExit(1)
    signal.signal(signal.SIGTERM, handler)


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in ("up", "down"):
        print("usage: dp_bed.py up|down", file=sys.stderr)
        sys.exit(2)
    if "MGDP_TAG" not in os.environ:
        # the default tag is this process's pid: `down` later would not find it
        print("dp_bed.py: set MGDP_TAG (e.g. MGDP_TAG=me), the same for up and down",
              file=sys.stderr)
        sys.exit(2)
    up() if sys.argv[1] == "up" else down()
