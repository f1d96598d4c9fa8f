#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""ng-bench: NG session setup rate of media relays (SPEC.md §8, §9).

  sudo bench/ng-bench [--sessions N] [--window W] [--csv FILE]
                      [--mediagate HOST:PORT --mediagate-pid PID]
                      [--rtpengine-log-level L] [--no-rtpengine] [--client PATH]

Per implementation, ng-bench-client (C, one thread, non-blocking, W requests
in flight) sets up N SRTP sessions (offer RTP/AVP -> RTP/SAVP with SDES keys,
answer RTP/SAVP + a=crypto -> RTP/AVP), holds them all, reads the relay's
RSS, then deletes them. Rows:

  client-ceiling  the same client against an in-process responder that does
                  nothing: what this client can drive on this machine (it
                  must be far above the relays' figures, or the client is the
                  bottleneck)
  rtpengine       rtpengine-daemon (userspace, --table=-1), started here in a
                  network namespace of its own (ngb-<pid>), NG on its
                  127.0.0.1:2223: the baseline, same run, same client
  mediagate       mediagate started here (--start-mediagate BUILD: its
                  dataplane on net_af_packet over a veth and mediagate-control
                  as a pure NG media node, in a network namespace of their
                  own), or a running one (--mediagate HOST:PORT with
                  --mediagate-pid: mediagate-control's pid, for the RSS)

Columns: impl, sessions, sessions_per_s (N / time of all offers, answers
and deletes), p50_us / p99_us (round trip of every request), and
ctl_bytes_per_session (relay RSS growth while the N sessions are held / N).
--csv FILE writes the same rows with those columns.
"""
import argparse
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time

COLS = ["impl", "sessions", "sessions_per_s", "p50_us", "p99_us", "ctl_bytes_per_session"]


def ping(netns, port, tries=100):
    code = ("import socket,sys\n"
            "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.settimeout(0.2)\n"
            "s.sendto(b'p1 d7:command4:pinge',('127.0.0.1',%d))\n"
            "try: print(s.recv(999))\n"
            "except Exception: sys.exit(1)\n" % port)
    for _ in range(tries):
        r = subprocess.run(["ip", "netns", "exec", netns, "python3", "-c", code],
                           capture_output=True, text=True)
        if r.returncode == 0 and "pong" in r.stdout:
            return True
        time.sleep(0.1)
    return False


def more_fds():
    """rtpengine holds 4 sockets per session: lift the fd limit if allowed."""
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (262144, 262144))
    except (ValueError, OSError):
        pass


MG_CONF = """# ng-bench: mediagate as a pure NG media node
netborder.sip.userAgent.IPAddress=
netborder.media.srtp.mode=as-needed
mediagate.log.level=warning
mediagate.control.socket={w}/dp.sock
mediagate.control.allowedUids=0
mediagate.dataplane.eal=--no-huge -m 256 --no-shconf --no-pci --no-telemetry -l 0,1 --file-prefix {ns}
mediagate.dataplane.port.0.device=net_af_packet0,iface=mgb0
mediagate.dataplane.port.0.addresses=192.0.2.1/24
mediagate.dataplane.idleSleepUs=1000
mediagate.dataplane.maxSessions={maxs}
mediagate.media.portRange=10000-65001
mediagate.ng.listen=127.0.0.1:2223/udp
"""


def start_mediagate(build, ns, w, sessions):
    """Dataplane + control in @ns; returns (control Popen, dataplane Popen)."""
    for cmd in (["ip", "netns", "add", ns], ["ip", "-n", ns, "link", "set", "lo", "up"],
                ["ip", "-n", ns, "link", "add", "mgb0", "type", "veth", "peer", "name", "mgb1"],
                ["ip", "-n", ns, "link", "set", "mgb0", "up"], ["ip", "-n", ns, "link", "set", "mgb1", "up"]):
        subprocess.run(cmd, check=True)
    conf = os.path.join(w, "gw.properties")
    with open(conf, "w") as f:
        f.write(MG_CONF.format(w=w, ns=ns, maxs=max(2 * sessions + 100, 1000)))
    dp = subprocess.Popen(["ip", "netns", "exec", ns, os.path.join(build, "dataplane", "mediagate-dataplane"),
                           "--config", conf], stdout=open(os.path.join(w, "dataplane.log"), "w"),
                          stderr=subprocess.STDOUT)
    for _ in range(100):
        if os.path.exists(os.path.join(w, "dp.sock")):
            break
        time.sleep(0.1)
    ctl = subprocess.Popen(["ip", "netns", "exec", ns, os.path.join(build, "control", "mediagate-control"),
                            "--config", conf], stdout=open(os.path.join(w, "control.log"), "w"),
                           stderr=subprocess.STDOUT)
    if not ping(ns, 2223):
        sys.exit("ng-bench: mediagate does not answer (%s)" % w)
    time.sleep(0.5)  # dataplane HELLO
    return ctl, dp


def run_client(client, args, netns=None):
    cmd = ([client] if not netns else ["ip", "netns", "exec", netns, client]) + args
    r = subprocess.run(cmd, capture_output=True, text=True)
    try:
        res = json.loads(r.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        sys.exit("ng-bench: %s failed: %s %s" % (" ".join(cmd), r.stdout, r.stderr))
    if r.returncode != 0:
        print("ng-bench: %s: %d of %d sessions completed, %d errors (first: %s)" % (
            " ".join(cmd[-6:]), res["completed"], res["sessions"], res["errors"], res["first_error"]),
            file=sys.stderr)
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessions", type=int, default=2000, help="sessions per implementation (2000)")
    ap.add_argument("--window", type=int, default=64, help="requests in flight (64)")
    ap.add_argument("--csv", help="write the rows here")
    ap.add_argument("--mediagate", help="mediagate's NG address HOST:PORT (UDP)")
    ap.add_argument("--mediagate-pid", type=int, default=0, help="mediagate-control's pid (RSS)")
    ap.add_argument("--start-mediagate", metavar="BUILD",
                    help="start mediagate from this meson build directory (root: a network namespace)")
    ap.add_argument("--no-rtpengine", action="store_true", help="no rtpengine baseline")
    ap.add_argument("--rtpengine-log-level", type=int, default=4,
                    help="rtpengine --log-level (4: warnings; 6 logs every command)")
    ap.add_argument("--client", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                      "ng-bench-client"))
    a = ap.parse_args()
    if not os.access(a.client, os.X_OK):
        sys.exit("ng-bench: no client %s (meson compile -C build builds bench/ng-bench-client)" % a.client)
    if not a.no_rtpengine:
        # rtpengine holds 4 sockets per session (RTP+RTCP, both legs) and
        # reserves about 8 ports: its fd limit (inherited; raised when this
        # process may) and the port range 10000-65000 bound the sessions.
        more_fds()
        cap = min(6500, resource.getrlimit(resource.RLIMIT_NOFILE)[1] // 4 - 200)
        if a.sessions > cap:
            sys.exit("ng-bench: at most %d sessions with rtpengine here (fd limit %d, 4 per session)" % (
                cap, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
    common = ["--sessions", str(a.sessions), "--window", str(a.window)]
    rows = []

    # The client's own ceiling: 10x the sessions, a responder that does nothing.
    r = run_client(a.client, ["--sink", "--sessions", str(max(10 * a.sessions, 20000)),
                              "--window", str(a.window)])
    rows.append(dict(r, impl="client-ceiling"))

    if not a.no_rtpengine:
        if os.geteuid() != 0:
            sys.exit("ng-bench: needs root for rtpengine's network namespace (or --no-rtpengine)")
        ns = "ngb-%x" % os.getpid()
        w = tempfile.mkdtemp(prefix="ng-bench.")
        proc = None
        try:
            subprocess.run(["ip", "netns", "add", ns], check=True)
            subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
            log = open(os.path.join(w, "rtpengine.log"), "w")
            # ip netns exec execs in place: proc.pid is rtpengine's.
            proc = subprocess.Popen(
                ["ip", "netns", "exec", ns, "rtpengine", "--config-file=none", "--table=-1",
                 "--foreground", "--log-stderr", "--log-level=%d" % a.rtpengine_log_level,
                 "--interface=127.0.0.1", "--listen-ng=127.0.0.1:2223", "--listen-cli=127.0.0.1:2224",
                 "--port-min=10000", "--port-max=65000", "--delete-delay=0",
                 "--pidfile=" + os.path.join(w, "rtpengine.pid")],
                stdout=log, stderr=subprocess.STDOUT, preexec_fn=more_fds)
            if not ping(ns, 2223):
                sys.exit("ng-bench: rtpengine does not answer (%s/rtpengine.log)" % w)
            ver = subprocess.run(["rtpengine", "--version"], capture_output=True, text=True)
            ver = (ver.stdout + ver.stderr).strip()
            r = run_client(a.client, ["--addr", "127.0.0.1:2223", "--pid", str(proc.pid), "--tag", "r"] + common,
                           netns=ns)
            rows.append(dict(r, impl="rtpengine"))
            print("# rtpengine: %s, userspace, --log-level=%d" % (ver.replace("Version: ", ""),
                                                                  a.rtpengine_log_level))
        finally:
            if proc:
                proc.terminate()
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
            subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL)
            shutil.rmtree(w, ignore_errors=True)

    if a.start_mediagate:
        ns = "ngbm-%x" % os.getpid()
        w = tempfile.mkdtemp(prefix="ng-bench-mg.")
        ctl = dp = None
        try:
            ctl, dp = start_mediagate(a.start_mediagate, ns, w, a.sessions)
            r = run_client(a.client, ["--addr", "127.0.0.1:2223", "--pid", str(ctl.pid), "--tag",
                                      "m%x" % os.getpid()] + common, netns=ns)
            rows.append(dict(r, impl="mediagate"))
            print("# mediagate: %s, pure NG media node, dataplane net_af_packet, 1 worker" %
                  subprocess.run([os.path.join(a.start_mediagate, "control", "mediagate-control"), "--version"],
                                 capture_output=True, text=True).stdout.strip())
        finally:
            for p in (ctl, dp):
                if p:
                    p.terminate()
                    try:
                        p.wait(5)
                    except subprocess.TimeoutExpired:
                        p.kill()
            subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL)
            shutil.rmtree("/var/run/dpdk/" + ns, ignore_errors=True)
            shutil.rmtree(w, ignore_errors=True)
    if a.mediagate:
        r = run_client(a.client, ["--addr", a.mediagate, "--pid", str(a.mediagate_pid), "--tag",
                                  "m%x" % os.getpid()] + common)
        rows.append(dict(r, impl="mediagate"))

    print("# %d SRTP sessions per relay (offer+answer+delete), %d requests in flight, %d CPUs" % (
        a.sessions, a.window, os.cpu_count()))
    print("%-15s %9s %15s %8s %8s %22s %7s %8s" % (tuple(COLS) + ("errors", "retrans")))
    for r in rows:
        per = r["ctl_bytes_per_session"]
        print("%-15s %9d %15.0f %8d %8d %22s %7d %8d" % (
            r["impl"], r["completed"], r["sessions_per_s"], r["p50_us"], r["p99_us"],
            "-" if per < 0 else "%.0f" % per, r["errors"], r["retrans"]))
    if a.csv:
        with open(a.csv, "w") as f:
            f.write(",".join(COLS) + "\n")
            for r in rows:
                per = r["ctl_bytes_per_session"]
                f.write("%s,%d,%.1f,%d,%d,%s\n" % (r["impl"], r["completed"], r["sessions_per_s"],
                                                   r["p50_us"], r["p99_us"], "" if per < 0 else "%.0f" % per))
    return 0 if all(r["completed"] == r["sessions"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
