# SPDX-License-Identifier: BSD-3-Clause
"""Dataplane relay smoke test: real packets through mediagate-dataplane on
net_af_packet in network namespaces, checked by libsrtp2 peers.

usage: dp_relay.py BUILD_DIR [CASE...]
Prints one line per case and 'N passed, N failed'; exit 1 on any failure.
"""
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dp_bed  # noqa: E402
from dp_bed import A, A2, B, C, DP_A, DP_B, DP_C, check  # noqa: E402

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
WORKERS = int(os.environ.get("MGDP_WORKERS", "1"))
dp = dp_bed.Dataplane(BUILD)
peer = dp_bed.Peer(BUILD)
KEYS = {n: dp_bed.new_key() for n in ("k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8")}
S80 = "AES_CM_128_HMAC_SHA1_80"


def drops(st, leg, d, reason):
    return st["legs"][leg][d]["drops"][reason]


def session_add(sid, leg0, leg1, op="add"):
    dp.ctl("session", op, str(sid), "leg0", *leg0, "leg1", *leg1)


def relay(src_ns, bind, to, dst_ns, dst_bind, send_key=None, recv_key=None, count=20, **kw):
    rx = peer.recv_start(dst_ns, dst_bind, key=recv_key, timeout_ms=700,
                         rtcp=kw.get("rtcp", False))
    sent = peer.send(src_ns, bind, to, key=send_key, count=count, interval_us=200, **kw)
    return sent, peer.recv_end(rx)


# ------------------------------------------------------------------ cases

def case_arp_ping():
    r = dp_bed.nsx(dp_bed.NS_A, "ping", "-c", "3", "-i", "0.2", "-W", "1", DP_A, check=False,
                   capture=True)
    check(r.returncode == 0 and " 0% packet loss" in r.stdout, "ping: " + r.stdout[-200:])
    n = dp_bed.nsx(dp_bed.NS_A, "ip", "neigh", "show", DP_A, capture=True).stdout
    check("lladdr" in n, "no ARP entry for the dataplane in %s: %s" % (dp_bed.NS_A, n))
    # B and C too, so that later cases do not start with unresolved neighbours
    for ns, addr in ((dp_bed.NS_B, DP_B), (dp_bed.NS_C, DP_C)):
        dp_bed.nsx(ns, "ping", "-c", "1", "-W", "1", addr)
    t = dp.telemetry("/mediagate/net")["/mediagate/net"]
    check(t["icmp_echo_replies"] >= 3 and t["arp_in"] >= 1, "telemetry: %s" % t)
    ne = dp.telemetry("/mediagate/neigh")["/mediagate/neigh"]
    check(any(e.startswith(A + " ") and "reachable" in e for e in ne), "neighbours: %s" % ne)


def case_arp_resolve():
    # A2 never sent anything: the first packets toward it wait for our ARP request
    session_add(6, ["local=%s:20050" % DP_B, "remote=%s:30050" % B],
                ["local=%s:20052" % DP_A, "remote=%s:30052" % A2])
    before = dp.telemetry("/mediagate/net")["/mediagate/net"]["arp_out"]
    sent, r = relay("b", B + ":30050", DP_B + ":20050", "a", A2 + ":30052", count=5)
    check(r["ok"] == 5, "packets held for ARP were not sent: %s" % r)
    after = dp.telemetry("/mediagate/net")["/mediagate/net"]["arp_out"]
    check(after > before, "no ARP request sent")
    ne = dp.telemetry("/mediagate/neigh")["/mediagate/neigh"]
    check(any(e.startswith(A2 + " ") for e in ne), "A2 not in the table: %s" % ne)
    dp.ctl("session", "del", "6")


def setup_sessions():
    k = KEYS
    # 1: A plain <-> B SRTP (RTP->SRTP toward B, SRTP->RTP toward A)
    session_add(1, ["local=%s:20000" % DP_A, "remote=%s:30000" % A],
                ["local=%s:20002" % DP_B, "remote=%s:30002" % B,
                 "tx=" + S80, "tx-key=" + k["k1"][0], "rx=" + S80, "rx-key=" + k["k2"][0]])
    # 2: A SRTP <-> B SRTP, different keys each side (re-key)
    session_add(2, ["local=%s:20010" % DP_A, "remote=%s:30010" % A,
                    "rx=" + S80, "rx-key=" + k["k3"][0], "tx=" + S80, "tx-key=" + k["k4"][0]],
                ["local=%s:20012" % DP_B, "remote=%s:30012" % B,
                 "rx=" + S80, "rx-key=" + k["k5"][0], "tx=" + S80, "tx-key=" + k["k6"][0]])
    # 3: pass-through
    session_add(3, ["local=%s:20020" % DP_A, "remote=%s:30020" % A],
                ["local=%s:20022" % DP_B, "remote=%s:30022" % B])


def case_rtp_to_srtp():
    sent, r = relay("a", A + ":30000", DP_A + ":20000", "b", B + ":30002",
                    recv_key=KEYS["k1"][1], count=50, ssrc=0x1234abcd)
    check(r["ok"] == 50 and r["unprotect_fail"] == 0 and r["bad"] == 0, "B got %s" % r)
    check(r["ssrc"] == 0x1234abcd and r["first_seq"] == 0 and r["last_seq"] == 49,
          "seq/ssrc changed: %s" % r)
    check(r["source"] == DP_B + ":20002", "source %s" % r["source"])
    st = dp.stats(1)
    check(st["legs"][0]["rx"]["packets"] == 50 and st["legs"][1]["tx"]["packets"] == 50,
          "counters %s" % st["legs"])


def case_srtp_to_rtp():
    sent, r = relay("b", B + ":30002", DP_B + ":20002", "a", A + ":30000",
                    send_key=KEYS["k2"][1], count=30, seq=65530)
    check(r["ok"] == 30 and r["bad"] == 0, "A got %s" % r)
    check(r["first_seq"] == 65530 and r["last_seq"] == (65530 + 29) & 0xffff,
          "seq wrap: %s" % r)


def case_srtp_rekey():
    sent, r = relay("a", A + ":30010", DP_A + ":20010", "b", B + ":30012",
                    send_key=KEYS["k3"][1], recv_key=KEYS["k6"][1], count=40)
    check(r["ok"] == 40 and r["unprotect_fail"] == 0, "B got %s" % r)
    sent, r = relay("b", B + ":30012", DP_B + ":20012", "a", A + ":30010",
                    send_key=KEYS["k5"][1], recv_key=KEYS["k4"][1], count=40)
    check(r["ok"] == 40 and r["unprotect_fail"] == 0, "A got %s" % r)


def case_modify():
    # re-INVITE: leg 1 gets a new tx key (ROC restarts); counters survive
    before = dp.stats(2)["legs"][1]["tx"]["packets"]
    k9 = dp_bed.new_key()
    session_add(2, ["local=%s:20010" % DP_A, "remote=%s:30010" % A,
                    "rx=" + S80, "rx-key=" + KEYS["k3"][0], "tx=" + S80, "tx-key=" + KEYS["k4"][0]],
                ["local=%s:20012" % DP_B, "remote=%s:30012" % B,
                 "rx=" + S80, "rx-key=" + KEYS["k5"][0], "tx=" + S80, "tx-key=" + k9[0]],
                op="modify")
    sent, r = relay("a", A + ":30010", DP_A + ":20010", "b", B + ":30012",
                    send_key=KEYS["k3"][1], recv_key=k9[1], count=20, seq=40, ssrc=0x999)
    check(r["ok"] == 20 and r["unprotect_fail"] == 0, "B with the new key: %s" % r)
    after = dp.stats(2)["legs"][1]["tx"]["packets"]
    check(after == before + 20, "counters across MODIFY: %d -> %d" % (before, after))
    rc, out = dp.ctl_rc("session", "modify", "4242", "leg0", "local=%s:20300" % DP_A,
                        "leg1", "local=%s:20302" % DP_B)
    check(rc == 1, "MODIFY of an unknown session accepted: %s" % out)


def case_pass_through():
    # plain RTP, and SRTP passed through untouched (B decrypts with A's key)
    sent, r = relay("a", A + ":30020", DP_A + ":20020", "b", B + ":30022", count=20)
    check(r["ok"] == 20, "plain: %s" % r)
    sent, r = relay("a", A + ":30020", DP_A + ":20020", "b", B + ":30022",
                    send_key=KEYS["k7"][1], recv_key=KEYS["k7"][1], count=20, seq=100)
    check(r["ok"] == 20 and r["unprotect_fail"] == 0, "srtp through: %s" % r)


def case_rtcp():
    # A plain RTCP -> B SRTCP (k1), B SRTCP (k2) -> A plain RTCP
    sent, r = relay("a", A + ":30001", DP_A + ":20001", "b", B + ":30003",
                    recv_key=KEYS["k1"][1], count=10, rtcp=True, ssrc=0x55)
    check(r["ok"] == 10 and r["unprotect_fail"] == 0 and r["ssrc"] == 0x55, "SRTCP at B: %s" % r)
    sent, r = relay("b", B + ":30003", DP_B + ":20003", "a", A + ":30001",
                    send_key=KEYS["k2"][1], count=10, rtcp=True, ssrc=0x66)
    check(r["ok"] == 10 and r["ssrc"] == 0x66, "RTCP at A: %s" % r)
    st = dp.stats(1)
    check(st["legs"][0]["rx"]["rtcp_packets"] >= 10, "rtcp counter %s" % st["legs"][0])


def case_rtcp_mux():
    # leg 1 multiplexes RTCP on its RTP port (RFC 5761), leg 0 does not; SRTP toward B
    session_add(7, ["local=%s:20060" % DP_A, "remote=%s:30060" % A],
                ["local=%s:20062" % DP_B, "remote=%s:30062" % B, "mux",
                 "tx=" + S80, "tx-key=" + KEYS["k1"][0], "rx=" + S80, "rx-key=" + KEYS["k2"][0]])
    # B -> one port: RTP must reach A's RTP port, RTCP A's RTCP port
    a_rtp = peer.recv_start("a", A + ":30060", timeout_ms=700)
    a_rtcp = peer.recv_start("a", A + ":30061", timeout_ms=700, rtcp=True)
    peer.send("b", B + ":30062", DP_B + ":20062", key=KEYS["k2"][1], count=6, ssrc=0x71,
              interval_us=200)
    peer.send("b", B + ":30062", DP_B + ":20062", key=KEYS["k2"][1], count=4, ssrc=0x72,
              interval_us=200, rtcp=True)
    r1, r2 = peer.recv_end(a_rtp), peer.recv_end(a_rtcp)
    check(r1["ok"] == 6 and r1["received"] == 6, "RTP via mux port: %s" % r1)
    check(r2["ok"] == 4 and r2["received"] == 4, "RTCP via mux port: %s" % r2)
    # A's RTCP port -> B's single port, SRTCP
    sent, r = relay("a", A + ":30061", DP_A + ":20061", "b", B + ":30062",
                    recv_key=KEYS["k1"][1], count=3, rtcp=True)
    check(r["ok"] == 3, "RTCP to the mux leg: %s" % r)
    dp.ctl("session", "del", "7")


def case_fork():
    # copies of what leg 0 of session 1 receives: plain and re-encrypted (k8), to C
    dp.ctl("fork", "add", "1", "7", "leg=0", "local=%s:20100" % DP_C, "remote=%s:30100" % C)
    dp.ctl("fork", "add", "1", "8", "leg=0", "local=%s:20102" % DP_C, "remote=%s:30102" % C,
           "suite=" + S80, "key=" + KEYS["k8"][0])
    # session 3 (pass-through): the plain fork shares the payload (mbuf clone)
    dp.ctl("fork", "add", "3", "9", "leg=0", "local=%s:20104" % DP_C, "remote=%s:30104" % C)
    c1 = peer.recv_start("c", C + ":30100", timeout_ms=700)
    c2 = peer.recv_start("c", C + ":30102", key=KEYS["k8"][1], timeout_ms=700)
    c3 = peer.recv_start("c", C + ":30104", timeout_ms=700)
    b = peer.recv_start("b", B + ":30002", key=KEYS["k1"][1], timeout_ms=700)
    peer.send("a", A + ":30000", DP_A + ":20000", count=25, seq=1000, interval_us=200)
    peer.send("a", A + ":30020", DP_A + ":20020", count=15, seq=2000, interval_us=200)
    r1, r2, r3, rb = (peer.recv_end(p) for p in (c1, c2, c3, b))
    check(rb["ok"] == 25, "main path with forks: %s" % rb)
    check(r1["ok"] == 25 and r1["source"] == DP_C + ":20100", "plain fork: %s" % r1)
    check(r2["ok"] == 25 and r2["unprotect_fail"] == 0, "encrypted fork: %s" % r2)
    check(r3["ok"] == 15, "clone fork: %s" % r3)
    st = dp.stats(1)
    check(len(st["forks"]) == 2 and all(f["packets"] == 25 for f in st["forks"]),
          "fork counters %s" % st["forks"])
    dp.ctl("fork", "del", "1", "7")
    dp.ctl("fork", "del", "1", "8")
    c1 = peer.recv_start("c", C + ":30100", timeout_ms=500)
    peer.send("a", A + ":30000", DP_A + ":20000", count=5, seq=3000)
    r1 = peer.recv_end(c1)
    check(r1["received"] == 0, "deleted fork still copies: %s" % r1)


def case_strict_source():
    session_add(4, ["local=%s:20030" % DP_A, "remote=%s:30030" % A, "cand=%s:30031" % A2,
                    "policy=strict"],
                ["local=%s:20032" % DP_B, "remote=%s:30032" % B])
    # wrong port from the SDP address: dropped
    sent, r = relay("a", A + ":30099", DP_A + ":20030", "b", B + ":30032", count=10)
    check(r["received"] == 0, "stranger passed: %s" % r)
    check(drops(dp.stats(4), 0, "rx", "source_mismatch") == 10, "mismatch not counted")
    # the candidate sends first: it wins
    sent, r = relay("a", A2 + ":30031", DP_A + ":20030", "b", B + ":30032", count=10)
    check(r["ok"] == 10, "candidate dropped: %s" % r)
    # now the SDP address is a loser
    sent, r = relay("a", A + ":30030", DP_A + ":20030", "b", B + ":30032", count=10, seq=50)
    check(r["received"] == 0, "second source passed after lock: %s" % r)
    check(drops(dp.stats(4), 0, "rx", "source_mismatch") == 20, "mismatch count")
    # B's answer goes to the winner
    sent, r = relay("b", B + ":30032", DP_B + ":20032", "a", A2 + ":30031", count=5)
    check(r["ok"] == 5, "reverse to winner: %s" % r)


def rtcp_sources(sid, to, b_rtcp, bad, good, n=5):
    """RTCP to the dataplane's @to from each of @bad (must be dropped as
    source_mismatch) then from @good (None: nobody; must reach B's @b_rtcp)."""
    before = drops(dp.stats(sid), 0, "rx", "source_mismatch")
    rx = peer.recv_start("b", b_rtcp, timeout_ms=500, rtcp=True, ssrc=0x5151)
    for src in bad:
        peer.send("a", src, to, count=n, rtcp=True, ssrc=0xbad0, interval_us=200)
    if good is not None:
        peer.send("a", good, to, count=n, rtcp=True, ssrc=0x5151, interval_us=200)
    r = peer.recv_end(rx)
    want = n if good is not None else 0
    check(r["received"] == want and r["ok"] == want and r["ssrc_bad"] == 0,
          "RTCP from %s (bad: %s) at B: %s" % (good, bad, r))
    d = drops(dp.stats(sid), 0, "rx", "source_mismatch") - before
    check(d == n * len(bad), "source_mismatch +%d, want +%d (bad: %s)" % (d, n * len(bad), bad))


def case_strict_rtcp():
    # SPEC 5: RTCP too only from the SDP's address AND port: the remote's
    # RTCP port (here explicit, a=rtcp:30075), a candidate's port + 1
    session_add(8, ["local=%s:20070" % DP_A, "remote=%s:30070" % A, "rtcp-port=30075",
                    "cand=%s:30072" % A2, "policy=strict"],
                ["local=%s:20072" % DP_B, "remote=%s:30072" % B])
    to, b_rtcp = DP_A + ":20071", B + ":30073"
    # before any RTP: the remote from its RTCP port only (not RTP + 1, not
    # another port), the candidate from its port + 1 only
    rtcp_sources(8, to, b_rtcp, [A + ":30071", A + ":30099", A + ":30070"], A + ":30075")
    rtcp_sources(8, to, b_rtcp, [A2 + ":30099", A2 + ":30075"], A2 + ":30073")
    # the candidate's RTP wins; then only its RTCP port is accepted
    sent, r = relay("a", A2 + ":30072", DP_A + ":20070", "b", B + ":30072", count=3)
    check(r["ok"] == 3, "candidate RTP: %s" % r)
    rtcp_sources(8, to, b_rtcp, [A + ":30075", A2 + ":30099"], A2 + ":30073")
    dp.ctl("session", "del", "8")
    # rtcp-mux: RTCP only from the RTP port
    session_add(9, ["local=%s:20080" % DP_A, "remote=%s:30080" % A, "mux", "policy=strict"],
                ["local=%s:20082" % DP_B, "remote=%s:30082" % B])
    rtcp_sources(9, DP_A + ":20080", B + ":30083", [A + ":30081"], A + ":30080")
    dp.ctl("session", "del", "9")


def case_latching():
    session_add(5, ["local=%s:20040" % DP_A, "remote=%s:30040" % A],
                ["local=%s:20042" % DP_B, "remote=%s:30042" % B])
    # A actually sends from another address: accepted and learned
    sent, r = relay("a", A2 + ":30041", DP_A + ":20040", "b", B + ":30042", count=10)
    check(r["ok"] == 10, "latch forward: %s" % r)
    sent, r = relay("b", B + ":30042", DP_B + ":20042", "a", A2 + ":30041", count=10)
    check(r["ok"] == 10, "not sent to the learned source: %s" % r)
    g = dp.ctl("session", "get", "5")
    check("%s" % A2 in str(g), "GET does not show the learned remote: %s" % g)


def case_replay_tamper():
    before = dp.stats(1)
    sent, r = relay("b", B + ":30002", DP_B + ":20002", "a", A + ":30000",
                    send_key=KEYS["k2"][1], count=10, seq=5000, replay=True,
                    ssrc=0x777)
    check(r["ok"] == 10 and r["received"] == 10, "replayed copies reached A: %s" % r)
    sent, r = relay("b", B + ":30002", DP_B + ":20002", "a", A + ":30000",
                    send_key=KEYS["k2"][1], count=7, seq=6000, tamper=True,
                    ssrc=0x778)
    check(r["received"] == 0, "tampered packets reached A: %s" % r)
    st = dp.stats(1)
    d_replay = drops(st, 1, "rx", "replay") - drops(before, 1, "rx", "replay")
    d_auth = drops(st, 1, "rx", "auth") - drops(before, 1, "rx", "auth")
    check(d_replay == 10 and d_auth == 7, "replay %d auth %d" % (d_replay, d_auth))


def case_malformed():
    before = drops(dp.stats(3), 0, "rx", "malformed")
    code = (
        "import socket\n"
        "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
        "s.bind(('%s',30020))\n"
        "d=('%s',20020)\n"
        "s.sendto(b'\\x80\\x00\\x01',d)\n"                       # truncated
        "s.sendto(b'\\x40'+bytes(171),d)\n"                      # version 1
        "s.sendto(b'\\x8f'+bytes(15),d)\n"                       # 15 CSRCs in 16 bytes
        "s.sendto(b'\\x90'+bytes(11)+b'\\x00\\x00\\x00\\x09',d)\n"  # extension past the end
    ) % (A, DP_A)
    dp_bed.nsx(dp_bed.NS_A, "python3", "-c", code)
    time.sleep(0.3)
    n = drops(dp.stats(3), 0, "rx", "malformed") - before
    check(n == 4, "malformed counted %d of 4" % n)


def case_garbage():
    # 3,000 random and half-valid frames straight onto the wire (AF_PACKET in
    # mgdp-a); afterwards the dataplane must still answer and relay
    mac = dp_bed.nsx(dp_bed.NS_DP, "cat", "/sys/class/net/mgdp-a0/address", capture=True).stdout
    code = (
        "import random,socket,struct\n"
        "random.seed(4)\n"
        "s=socket.socket(socket.AF_PACKET,socket.SOCK_RAW)\n"
        "s.bind(('mgdp-a1',0))\n"
        "dst=bytes.fromhex('%s'.replace(':',''))\n"
        "src=bytes.fromhex('020000000001')\n"
        "dip=socket.inet_aton('%s'); sip=socket.inet_aton('%s')\n"
        "def ck(h):\n"
        "  t=sum(struct.unpack('!10H',h)); t=(t&0xffff)+(t>>16); t=(t&0xffff)+(t>>16)\n"
        "  return struct.pack('!H',~t&0xffff)\n"
        "for i in range(3000):\n"
        "  k=i%%4\n"
        "  if k==0:\n"
        "    f=dst+src+bytes(random.getrandbits(8) for _ in range(random.randint(0,80)))\n"
        "  else:\n"
        "    pl=bytes(random.getrandbits(8) for _ in range(random.randint(0,60)))\n"
        "    if k==3: pl=bytes([0x80|random.getrandbits(4)])+pl\n"
        "    ul=8+len(pl)+random.choice([0,0,-3,5])\n"
        "    udp=struct.pack('!HHHH',30020,random.choice([20020,20000,20001,9]),ul&0xffff,0)+pl\n"
        "    ihl=random.choice([5,5,5,4,6,15])\n"
        "    tl=20+len(udp)+random.choice([0,0,0,7,-2])\n"
        "    h=struct.pack('!BBHHHBBH4s4s',0x40|ihl,0,tl&0xffff,i,random.choice([0,0,0x2000,0x0010]),64,random.choice([17,17,1,6,250]),0,sip,dip)\n"
        "    h=h[:10]+ck(h)+h[12:]\n"
        "    if k==2: h=h[:10]+b'\\x00\\x01'+h[12:]\n"
        "    f=dst+src+b'\\x08\\x00'+h+udp\n"
        "  s.send(f[:1514] if len(f)>=14 else f+bytes(14-len(f)))\n"
    ) % (mac.strip(), DP_A, A)
    dp_bed.nsx(dp_bed.NS_A, "python3", "-c", code, timeout=60)
    # until the dataplane has counted them (it reads the af_packet ring at its
    # pace on a loaded machine), at most 5 s
    for _ in range(50):
        t = dp.telemetry("/mediagate/net")["/mediagate/net"]
        dropped = sum(t["drops"].values())
        if dropped >= 1000:
            break
        time.sleep(0.1)
    check(dropped >= 1000, "garbage not counted as drops: %s" % t["drops"])
    r = dp_bed.nsx(dp_bed.NS_A, "ping", "-c", "2", "-i", "0.2", "-W", "1", DP_A, check=False,
                   capture=True)
    check(r.returncode == 0, "no ping after garbage")
    sent, r = relay("a", A + ":30000", DP_A + ":20000", "b", B + ":30002",
                    recv_key=KEYS["k1"][1], count=10, seq=7000, ssrc=0xabc)
    check(r["ok"] == 10, "no relay after garbage: %s" % r)


def case_udp_shorter_than_ip():
    # UDP length 4 bytes shorter than the IP payload: relayed with the UDP
    # payload only, whichever worker receives it (a hand-off used to restore
    # the trimmed frame, which the owner then dropped as ip_malformed)
    # (all from one source port: a latching leg accepts only the source it
    # learned from the first packet)
    n = 24
    for sid, port in ((40, 20400), (41, 20410)):  # owners 0 and 1 with two workers
        session_add(sid, ["local=%s:%d" % (DP_A, port), "remote=%s:30400" % A],
                    ["local=%s:%d" % (DP_B, port + 2), "remote=%s:30402" % B])
    mac = dp_bed.nsx(dp_bed.NS_DP, "cat", "/sys/class/net/mgdp-a0/address", capture=True).stdout
    code = (
        "import socket,struct\n"
        "s=socket.socket(socket.AF_PACKET,socket.SOCK_RAW)\n"
        "s.bind(('mgdp-a1',0))\n"
        "dst=bytes.fromhex('%s'.replace(':',''))\n"
        "src=bytes.fromhex('020000000001')\n"
        "dip=socket.inet_aton('%s'); sip=socket.inet_aton('%s')\n"
        "def ck(h):\n"
        "  t=sum(struct.unpack('!10H',h)); t=(t&0xffff)+(t>>16); t=(t&0xffff)+(t>>16)\n"
        "  return struct.pack('!H',~t&0xffff)\n"
        "for i in range(%d):\n"
        "  for dport in (20400,20410):\n"
        "    rtp=struct.pack('!BBHII',0x80,0,i,i*160,0x4000+dport)+bytes(20)\n"
        "    udp=struct.pack('!HHHH',30400,dport,8+len(rtp),0)+rtp+b'JUNK'\n"
        "    h=struct.pack('!BBHHHBBH4s4s',0x45,0,20+len(udp),i,0,64,17,0,sip,dip)\n"
        "    s.send(dst+src+b'\\x08\\x00'+h[:10]+ck(h)+h[12:]+udp)\n"
    ) % (mac.strip(), DP_A, A, n)
    dp_bed.nsx(dp_bed.NS_A, "python3", "-c", code)
    time.sleep(0.3)
    for sid in (40, 41):
        tx = dp.stats(sid)["legs"][1]["tx"]
        check(tx["packets"] == n and tx["bytes"] == n * 32,
              "session %d relayed %d packets, %d bytes (want %d, %d)"
              % (sid, tx["packets"], tx["bytes"], n, n * 32))
        dp.ctl("session", "del", str(sid))


def case_rtcp_port_65535():
    # leg 0 latches a source on port 65535 (no rtcp-mux, no remote given):
    # there is no RTCP port after it, so RTCP toward it is dropped as
    # unknown_destination instead of being sent to port 0
    session_add(50, ["local=%s:20500" % DP_A], ["local=%s:20502" % DP_B,
                                                "remote=%s:30502" % B])
    code = (
        "import socket,struct\n"
        "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
        "s.bind(('%s',65535))\n"
        "s.sendto(struct.pack('!BBHII',0x80,0,1,160,0x650)+bytes(20),('%s',20500))\n"
    ) % (A, DP_A)
    dp_bed.nsx(dp_bed.NS_A, "python3", "-c", code)
    time.sleep(0.2)
    got = dp.ctl("session", "get", "50")["legs"][0]["remote"]
    check(got.endswith(":65535"), "leg 0 did not latch A:65535: %s" % got)
    code = (
        "import socket,struct\n"
        "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
        "s.bind(('%s',30503))\n"
        "for i in range(5): s.sendto(struct.pack('!BBHI',0x80,200,6,0x651)+bytes(20),"
        "('%s',20503))\n"
    ) % (B, DP_B)
    dp_bed.nsx(dp_bed.NS_B, "python3", "-c", code)
    time.sleep(0.2)
    tx = dp.stats(50)["legs"][0]["tx"]
    dp.ctl("session", "del", "50")
    check(tx["rtcp_packets"] == 0 and tx["drops"]["unknown_destination"] == 5,
          "RTCP toward a source on 65535: %s" % tx)


def case_tdm_idle():
    # no channel bound (this bed has no TDM): the TDM thread serves no periods
    # and sleeps until a command instead of waking every 20 ms
    pid = dp.proc.pid  # ip netns exec execs the dataplane in place
    tid = None
    for t in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/comm" % (pid, t)) as f:
            if f.read().strip() == "mg-tdm":
                tid = t
    check(tid is not None, "no mg-tdm thread in the dataplane")

    def wakeups():
        with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
            st = dict(line.split(":", 1) for line in f if ":" in line)
        return int(st["voluntary_ctxt_switches"]) + int(st["nonvoluntary_ctxt_switches"])

    p0 = dp.telemetry("/mediagate/tdm")["/mediagate/tdm"]["periods"]
    w0 = wakeups()
    time.sleep(1.0)
    w = wakeups() - w0
    p = dp.telemetry("/mediagate/tdm")["/mediagate/tdm"]["periods"] - p0
    check(p == 0 and w <= 5, "idle TDM thread: %d periods, %d wake-ups in 1 s" % (p, w))


def case_errors():
    rc, out = dp.ctl_rc("session", "add", "1", "leg0", "local=%s:20200" % DP_A,
                        "leg1", "local=%s:20202" % DP_B)
    check(rc == 1, "duplicate id accepted: %s" % out)
    rc, out = dp.ctl_rc("session", "add", "77", "leg0", "local=198.51.100.1:20200",
                        "leg1", "local=%s:20202" % DP_B)
    check(rc == 1, "foreign local address accepted: %s" % out)
    rc, out = dp.ctl_rc("session", "add", "78", "leg0", "local=%s:20000" % DP_A,
                        "leg1", "local=%s:20202" % DP_B)
    check(rc == 1, "port in use accepted: %s" % out)
    rc, out = dp.ctl_rc("session", "stats", "4242")
    check(rc == 1, "stats of unknown session: %s" % out)
    p = dp.ctl("port-alloc", "4")
    q = dp.ctl("port-alloc", "4", "mux")
    check(p["rtp_port"] % 2 == 0 and p["rtcp_port"] == p["rtp_port"] + 1, "port-alloc %s" % p)
    check(q["rtp_port"] != p["rtp_port"] and q["rtcp_port"] == q["rtp_port"], "mux %s" % q)
    check(20000 <= p["rtp_port"] <= 21998, "port outside range %s" % p)
    dp.ctl("port-free", "%s:%d" % (DP_A, p["rtp_port"]))
    rc, out = dp.ctl_rc("port-free", "%s:%d" % (DP_A, p["rtp_port"]))
    check(rc == 1, "double free accepted: %s" % out)
    st = dp.ctl("stats")
    check(st["sessions"] >= 3, "dp stats %s" % st)
    ls = dp.ctl("session", "list")
    ids = sorted(e["id"] for e in ls["sessions"])
    check(ls["total"] == st["sessions"] and len(ids) == st["sessions"] and 1 in ids,
          "list %s vs %d sessions" % (ids, st["sessions"]))
    g = dp.ctl("session", "get", "1")
    check(KEYS["k1"][0] not in str(g), "GET shows a key")


def case_delete_stops():
    dp.ctl("session", "del", "3")
    before = dp.telemetry("/mediagate/net")["/mediagate/net"]["drops"]["no_session"]
    sent, r = relay("a", A + ":30020", DP_A + ":20020", "b", B + ":30022", count=10)
    check(r["received"] == 0, "deleted session still forwards: %s" % r)
    after = dp.telemetry("/mediagate/net")["/mediagate/net"]["drops"]["no_session"]
    check(after - before == 10, "no_session drops %d" % (after - before))
    rc, out = dp.ctl_rc("session", "get", "3")
    check(rc == 1, "GET after DEL: %s" % out)


def case_telemetry():
    w = dp.telemetry("/mediagate/workers")["/mediagate/workers"]
    check(w["worker0"]["packets"] > 0 and w["worker0"]["cycles_per_packet"] > 0, "%s" % w)
    # DP_STATS carries the preempted-loop count telemetry shows (mod 2^32):
    # read between two telemetry reads, it lies between them
    st = dp.ctl("stats")
    w1 = dp.telemetry("/mediagate/workers")["/mediagate/workers"]
    for i, x in enumerate(st["workers"]):
        lo, hi = w["worker%d" % i]["preempted_loops"], w1["worker%d" % i]["preempted_loops"]
        check(isinstance(x.get("preempted"), int) and lo % 2**32 <= x["preempted"] <= hi % 2**32,
              "dpctl stats worker %d preempted %s, telemetry %d..%d" % (i, x.get("preempted"), lo, hi))
    if WORKERS > 1:
        # odd session ids belong to worker 1: it must have been handed packets
        hand = sum(w["worker%d" % i]["handoffs"] for i in range(WORKERS))
        check(hand > 0 and w["worker1"]["packets"] > 0, "no hand-off: %s" % w)
    pt = dp.telemetry("/mediagate/ports")["/mediagate/ports"]
    check(pt["port0"]["ipackets"] > 0 and pt["port0"]["neighbours"] >= 1
          and pt["port1"]["opackets"] > 0, "ports: %s" % pt)
    s = dp.telemetry("/mediagate/session,1")["/mediagate/session"]
    check(s["leg0_rx"]["packets"] > 0, "%s" % s)


CASES = [
    ("arp+ping", case_arp_ping),
    ("setup", setup_sessions),
    ("arp resolution", case_arp_resolve),
    ("rtp->srtp", case_rtp_to_srtp),
    ("srtp->rtp", case_srtp_to_rtp),
    ("srtp->srtp re-key", case_srtp_rekey),
    ("modify re-key", case_modify),
    ("pass-through", case_pass_through),
    ("rtcp/srtcp", case_rtcp),
    ("rtcp-mux", case_rtcp_mux),
    ("fork", case_fork),
    ("strict source", case_strict_source),
    ("strict source rtcp", case_strict_rtcp),
    ("latching", case_latching),
    ("replay+tamper", case_replay_tamper),
    ("malformed", case_malformed),
    ("garbage frames", case_garbage),
    ("udp shorter than ip", case_udp_shorter_than_ip),
    ("rtcp to a source on 65535", case_rtcp_port_65535),
    ("tdm thread idle", case_tdm_idle),
    ("control errors", case_errors),
    ("telemetry", case_telemetry),
    ("delete stops forwarding", case_delete_stops),
]


def main():
    want = set(sys.argv[2:])

    def start():
        dp.start(workers=WORKERS)
        print("dataplane with %d worker(s)" % WORKERS)
    return dp_bed.run_cases(dp, start, [(name, fn) for name, fn in CASES
                                        if not want or name in want or name == "setup"])


if __name__ == "__main__":
    dp_bed.exit_on_sigterm()
    sys.exit(main())
