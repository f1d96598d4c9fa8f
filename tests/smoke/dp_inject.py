# SPDX-License-Identifier: BSD-3-Clause
"""No media injection after latching ("RTP Bleed", SPEC 12, issue 11 item 1).

An injector in a third namespace sprays every media port of live sessions
(RTP and RTCP ports of plain, SRTP and rtcp-mux legs) with marked packets
(SSRC 0xbadbad0N; "INJECTED" payload; SRTP-shaped forgeries), before and
after the legs learned their sources, while the peers' real media flows.
Checked from the peers (libsrtp2, payload pattern and SSRC: not one injected
packet arrives) and from the dataplane's per-session drop counters
(mediagate-dpctl JSON: every injected packet is counted, `source_mismatch`
once the leg has learned its source, `auth` before that on an SRTP leg).

Bed: tests/smoke/dp_bed.py, plus namespace mgdp-T-x (the injector) whose two
veths are bridged into A's and B's links (192.0.2.5 on A's /28, 192.0.2.21 on
B's), so it reaches the dataplane's ports like a host on the peers' LANs.

Before the first packet a plain leg cannot tell the peer from an injector (the
first well-formed packet wins, SPEC 12): it is sprayed only once learned. SRTP
legs are sprayed before too: a forgery never authenticates, so never latches.
The TDM-bridged leg is covered by dp-worker-unit (the TDM side takes only the
TDM thread's frames) and by tests/tdm/tdmm_e2e.py (sprayed while streaming).

usage: dp_inject.py BUILD_DIR       (MGDP_WORKERS=2: two workers)
       dp_inject.py --spray N[/MS] SRC_IP:PORT,DST_IP:PORT,KIND...   (the injector:
       N rounds, one packet to each target, MS milliseconds apart, default 1;
       KIND rtp, rtcp or srtp; also used by tests/tdm/tdmm_e2e.py)
"""
import os
import random
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dp_bed  # noqa: E402
from dp_bed import A, B, DP_A, DP_B  # noqa: E402

NS_X = dp_bed.ns("x")
X_A, X_B = "192.0.2.5", "192.0.2.21"  # the injector on A's and on B's link
S80 = "AES_CM_128_HMAC_SHA1_80"
MARK = 0xbadbad00
KINDS = ("rtp", "rtcp", "srtp")
N = 40  # packets per target and kind


# ------------------------------------------------------------- injector

def packet(kind, i):
    """An injected packet: marked plain RTP, a marked RTCP SR, or an
    SRTP-shaped forgery (RTP header, random payload, random 10-byte tag)."""
    if kind == "rtp":
        return struct.pack("!BBHII", 0x80, 0, i, 1000 + 160 * i, MARK) + b"INJECTED" * 20
    if kind == "rtcp":
        return struct.pack("!BBHI", 0x80, 200, 6, MARK | 1) + bytes(20)
    return (struct.pack("!BBHII", 0x80, 0, 7000 + i, 1000 + 160 * i, MARK | 2)
            + random.randbytes(160 + 10))


def spray(n, targets, every_ms=1):
    socks = {}
    for i in range(n):
        for t in targets:
            src, dst, kind = t
            s = socks.get(src)
            if s is None:
                s = socks[src] = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                ip, port = src.rsplit(":", 1)
                s.bind((ip, int(port)))
            ip, port = dst.rsplit(":", 1)
            s.sendto(packet(kind, i), (ip, int(port)))
        time.sleep(every_ms / 1000)


# ------------------------------------------------------------------ bed

def injector_up():
    """Namespace X, bridged into A's and B's links (their addresses move to
    the bridge; the dataplane never sees the difference)."""
    dp_bed.NS.append(NS_X)  # dp_bed.down() removes it with the others
    dp_bed.sh("ip", "netns", "add", NS_X)
    dp_bed.nsx(NS_X, "ip", "link", "set", "lo", "up")
    for p, xaddr in (("a", X_A), ("b", X_B)):
        pns, link, br = dp_bed.ns(p), "mgdp-%s1" % p, "mgdp-%sbr" % p
        addrs = dp_bed.PEERS[p][0]
        dp_bed.nsx(pns, "ip", "link", "add", br, "type", "bridge")
        dp_bed.nsx(pns, "sysctl", "-qw", "net.ipv6.conf.%s.disable_ipv6=1" % br)
        dp_bed.nsx(pns, "ip", "addr", "flush", "dev", link)
        dp_bed.nsx(pns, "ip", "link", "set", link, "master", br)
        for a in addrs:
            dp_bed.nsx(pns, "ip", "addr", "add", a + "/28", "dev", br)
        dp_bed.nsx(pns, "ip", "link", "set", br, "up")
        pif, xif = "mgdp-%sx" % p, "mgdp-x%s" % p
        dp_bed.sh("ip", "link", "add", pif, "netns", pns, "type", "veth",
                  "peer", "name", xif, "netns", NS_X)
        for n, dev in ((pns, pif), (NS_X, xif)):
            dp_bed.nsx(n, "sysctl", "-qw", "net.ipv6.conf.%s.disable_ipv6=1" % dev)
        dp_bed.nsx(pns, "ip", "link", "set", pif, "master", br)
        dp_bed.nsx(pns, "ip", "link", "set", pif, "up")
        dp_bed.nsx(NS_X, "ip", "addr", "add", xaddr + "/28", "dev", xif)
        dp_bed.nsx(NS_X, "ip", "link", "set", xif, "up")


# ------------------------------------------------------------------ test

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
WORKERS = int(os.environ.get("MGDP_WORKERS", "1"))
dp = dp_bed.Dataplane(BUILD)
peer = dp_bed.Peer(BUILD)
K = {n: dp_bed.new_key() for n in ("k1", "k2", "k3", "k4")}
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def sessions():
    # 1: A plain <-> B SRTP; 2: A SRTP with rtcp-mux <-> B plain
    dp.ctl("session", "add", "1", "leg0", "local=%s:20000" % DP_A, "remote=%s:30000" % A,
           "leg1", "local=%s:20002" % DP_B, "remote=%s:30002" % B,
           "tx=" + S80, "tx-key=" + K["k1"][0], "rx=" + S80, "rx-key=" + K["k2"][0])
    dp.ctl("session", "add", "2", "leg0", "local=%s:20010" % DP_A, "remote=%s:30010" % A, "mux",
           "rx=" + S80, "rx-key=" + K["k3"][0], "tx=" + S80, "tx-key=" + K["k4"][0],
           "leg1", "local=%s:20012" % DP_B, "remote=%s:30012" % B)


# (session, leg, dataplane port, injector's address): every media port
PORTS = [(1, 0, DP_A + ":20000", X_A), (1, 0, DP_A + ":20001", X_A),
         (1, 1, DP_B + ":20002", X_B), (1, 1, DP_B + ":20003", X_B),
         (2, 0, DP_A + ":20010", X_A),
         (2, 1, DP_B + ":20012", X_B), (2, 1, DP_B + ":20013", X_B)]
SRTP_LEGS = {(1, 1), (2, 0)}


def run_spray(ports):
    """Spray @ports (N of each kind each); returns {(sid, leg): packets sent}."""
    targets, sent = [], {}
    for i, (sid, leg, to, src) in enumerate(ports):
        for kind in KINDS:
            targets.append("%s:%d,%s,%s" % (src, 31000 + i, to, kind))
        sent[(sid, leg)] = sent.get((sid, leg), 0) + N * len(KINDS)
    return sent, subprocess.Popen(["ip", "netns", "exec", NS_X, sys.executable,
                                   os.path.abspath(__file__), "--spray", str(N)] + targets)


def drops(sid, leg):
    d = dp.stats(sid)["legs"][leg]["rx"]["drops"]
    return {k: v for k, v in d.items() if v}


def learned(sid, leg):
    t = dp.telemetry("/mediagate/session,%d" % sid)["/mediagate/session"]
    return t["leg%d_source_learned" % leg]


# receivers: (namespace, bind, key, rtcp, legitimate SSRC; 0 = not checked:
# every run of an SRTCP sender starts its index again, so each uses an SSRC of
# its own, which the dataplane's replay check keeps apart)
RECV = [("a", A + ":30000", None, False, 0x1a), ("a", A + ":30001", None, True, 0),
        ("b", B + ":30002", "k1", False, 0x1c), ("b", B + ":30003", "k1", True, 0),
        ("a", A + ":30010", "k4", False, 0x2a),
        ("b", B + ":30012", None, False, 0x2c), ("b", B + ":30013", None, True, 0)]
runs = [0]
# senders of the legitimate media, toward the receiver in the same row of RECV
# on the other side: (namespace, bind, to, key, rtcp, SSRC)
SEND = [("b", B + ":30002", DP_B + ":20002", "k2", False, 0x1a),
        ("b", B + ":30003", DP_B + ":20003", "k2", True, 0x1b),
        ("a", A + ":30000", DP_A + ":20000", None, False, 0x1c),
        ("a", A + ":30001", DP_A + ":20001", None, True, 0x1d),
        ("b", B + ":30012", DP_B + ":20012", None, False, 0x2a),
        ("a", A + ":30010", DP_A + ":20010", "k3", False, 0x2c),
        ("a", A + ":30010", DP_A + ":20010", "k3", True, 0x2d)]


def media(count, seq, with_spray=None):
    """Legitimate media one direction at a time (a peer sends from the port it
    receives on, which is the source its leg learns), a spray of every port
    meanwhile; returns what each receiver of RECV got and what was sprayed."""
    got, sent = {}, {}
    for side in ("b", "a"):  # receivers on `side`, senders on the other
        rows = [i for i, r in enumerate(RECV) if r[0] == side]
        rx = {i: peer.recv_start(side, RECV[i][1], key=K[RECV[i][2]][1] if RECV[i][2] else None,
                                 rtcp=RECV[i][3], ssrc=RECV[i][4], timeout_ms=1500)
              for i in rows}
        sp = None
        if with_spray:
            n, sp = run_spray(with_spray)
            for k, v in n.items():
                sent[k] = sent.get(k, 0) + v
        for half in (0, 1):
            runs[0] += 1
            for ns, bind, to, key, rtcp, ssrc in SEND:
                if ns == side:
                    continue
                peer.send(ns, bind, to, key=K[key][1] if key else None, rtcp=rtcp,
                          ssrc=ssrc << 8 | runs[0] if rtcp else ssrc,
                          count=count, seq=seq + half * count, interval_us=500)
            if half == 0 and sp is not None:
                sp.wait(60)  # the rest of the media after the spray: receivers stay up
        for i in rows:
            got[i] = peer.recv_end(rx[i])
    return [got[i] for i in range(len(RECV))], sent


def main():
    try:
        dp_bed.up()
        injector_up()
        dp.start(workers=WORKERS)
        print("dataplane with %d worker(s)" % WORKERS)
        # neighbours resolved both ways before anything is counted
        for ns, addr in ((dp_bed.NS_A, DP_A), (dp_bed.NS_B, DP_B), (NS_X, DP_A), (NS_X, DP_B)):
            dp_bed.nsx(ns, "ping", "-c", "1", "-W", "1", addr)
        sessions()

        # 1: the SRTP legs before any packet: forgeries teach them nothing
        rx = [peer.recv_start(ns, bind, timeout_ms=1500) for ns, bind, *_ in RECV]
        sent, sp = run_spray([p for p in PORTS if (p[0], p[1]) in SRTP_LEGS])
        sp.wait(60)
        got = [peer.recv_end(p) for p in rx]
        check(all(g["received"] == 0 for g in got),
              "before latching: nothing reached a peer (%s)" % [g["received"] for g in got])
        for (sid, leg), n in sorted(sent.items()):
            d = drops(sid, leg)
            check(learned(sid, leg) == 0 and sum(d.values()) == n
                  and d.get("auth", 0) + d.get("malformed", 0) == n,
                  "session %d leg %d (SRTP) before latching: learned nothing, %d injected "
                  "packets counted as drops %s" % (sid, leg, n, d))

        # 2: the peers' media latches every leg, RTP and RTCP, both ways
        got, _ = media(5, 0)  # (twice 5 packets per stream)
        check(all(g["received"] == 10 and g["ok"] == 10 and g["ssrc_bad"] == 0 for g in got),
              "latching: every stream relayed %s" % [g["ok"] for g in got])
        # (session 2's leg 1 gets no RTCP from B: its RTCP port stays unlearned,
        # its address is bound all the same)
        for sid, leg, want in ((1, 0, 3), (1, 1, 3), (2, 0, 3), (2, 1, 1)):
            check(learned(sid, leg) == want, "session %d leg %d learned %s (%d)"
                  % (sid, leg, "RTP and RTCP" if want == 3 else "RTP", learned(sid, leg)))
        before = {(sid, leg): drops(sid, leg) for sid in (1, 2) for leg in (0, 1)}

        # 3: sprayed on every port while the media flows: none of it arrives
        got, sent = media(30, 100, with_spray=PORTS)
        for (ns, bind, *_), g in zip(RECV, got):
            check(g["received"] == 60 and g["ok"] == 60 and g["bad"] == 0
                  and g["ssrc_bad"] == 0 and g["unprotect_fail"] == 0,
                  "after latching: %s got its 60 packets and nothing else: %s" % (bind, g))
        for (sid, leg), n in sorted(sent.items()):
            d, b = drops(sid, leg), before[(sid, leg)]
            delta = {k: v - b.get(k, 0) for k, v in d.items() if v != b.get(k, 0)}
            check(delta == {"source_mismatch": n},
                  "session %d leg %d after latching: %d injected, dropped as %s"
                  % (sid, leg, n, delta))
        for sid in (1, 2):
            st = dp.stats(sid)["legs"]
            check(all(st[leg]["tx"]["packets"] == st[leg ^ 1]["rx"]["packets"]
                      for leg in (0, 1)),
                  "session %d: what was sent is what was accepted (%s)"
                  % (sid, [(st[leg]["rx"]["packets"], st[leg ^ 1]["tx"]["packets"])
                           for leg in (0, 1)]))
    except Exception as e:  # noqa: BLE001 - report, clean up
        import traceback
        traceback.print_exc()
        failures.append(str(e))
    finally:
        dp_bed.finish(dp, failures)
    print("%d failed" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--spray":
        n, _, ms = sys.argv[2].partition("/")
        spray(int(n), [t.split(",") for t in sys.argv[3:]], float(ms or 1))
        sys.exit(0)
    dp_bed.exit_on_sigterm()
    sys.exit(main())
