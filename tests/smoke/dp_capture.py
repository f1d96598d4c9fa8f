# SPDX-License-Identifier: BSD-3-Clause
"""Per-session pcapng capture (issue 13 item 3), on the dataplane smoke bed.

A plain RTP (A) <-> SRTP (B) session carries traffic both ways while it is
captured with the decrypted copies; tshark reads the file: the RTP streams,
their packet counts against the session's counters (mediagate-dpctl JSON),
and the decrypted payload against what the peer sent. Also the path policy
(captureDir) and the refusals.

usage: dp_capture.py BUILD_DIR
"""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dp_bed  # noqa: E402
from dp_bed import A, B, DP_A, DP_B, check  # noqa: E402

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
WORKERS = int(os.environ.get("MGDP_WORKERS", "1"))
CAPDIR = dp_bed.RUN + "/capture"
S80 = "AES_CM_128_HMAC_SHA1_80"
dp = dp_bed.Dataplane(BUILD)
peer = dp_bed.Peer(BUILD)


def relay(src, bind, to, dst, dst_bind, send_key=None, recv_key=None, count=20, **kw):
    rx = peer.recv_start(dst, dst_bind, key=recv_key, timeout_ms=700)
    sent = peer.send(src, bind, to, key=send_key, count=count, interval_us=200, **kw)
    return sent, peer.recv_end(rx)


def tshark(path):
    """Frames of the capture: (interface, src, sport, dst, dport, ssrc, seq, payload)."""
    r = subprocess.run(
        ["tshark", "-r", path, "-o", "rtp.heuristic_rtp:FALSE",
         "-d", "udp.port==20000,rtp", "-d", "udp.port==20002,rtp",
         "-T", "fields", "-E", "separator=|",
         "-e", "frame.interface_name", "-e", "ip.src", "-e", "udp.srcport",
         "-e", "ip.dst", "-e", "udp.dstport", "-e", "rtp.ssrc", "-e", "rtp.seq",
         "-e", "rtp.payload", "-e", "frame.time_epoch"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
    check(r.returncode == 0, "tshark: %s" % r.stderr)
    out = []
    for line in r.stdout.splitlines():
        f = line.split("|")
        check(abs(float(f[8]) - time.time()) < 600, "frame time %s is not now" % f[8])
        out.append((f[0], f[1], int(f[2]), f[3], int(f[4]), f[5], int(f[6]) if f[6] else -1,
                    f[7].replace(":", "")))
    return out


def payload_of(seq):
    """dp_srtp_peer's RTP payload of sequence number seq (160 bytes)."""
    return bytes(((seq + i) & 0xff) for i in range(160)).hex()


def main():
    k_tx, k_rx = dp_bed.new_key(), dp_bed.new_key()

    def refusals():
        os.makedirs(CAPDIR, exist_ok=True)
        # relative: refused by the protocol's own check before anything is sent
        rc, out = dp.ctl_rc("capture", "start", "1", "x.pcapng")
        check(rc == 2 and "absolute" in out, "relative path: %d %s" % (rc, out))
        rc, out = dp.ctl_rc("capture", "start", "1", dp_bed.RUN + "/outside.pcapng")
        check(rc == 1 and '"errno": 13' in out, "outside captureDir: %d %s" % (rc, out))
        rc, out = dp.ctl_rc("capture", "start", "1", CAPDIR + "/../capture/../x.pcapng")
        check(rc == 1 and '"errno": 13' in out, "dot-dot: %d %s" % (rc, out))
        rc, out = dp.ctl_rc("capture", "start", "99", CAPDIR + "/none.pcapng")
        check(rc == 1 and '"errno": 2' in out, "unknown session: %d %s" % (rc, out))
        rc, out = dp.ctl_rc("capture", "stop", "1")
        check(rc == 1 and '"errno": 2' in out, "stop without start: %d %s" % (rc, out))
        check(not os.path.exists(dp_bed.RUN + "/outside.pcapng"), "file made outside")

    def capture():
        path = CAPDIR + "/s1.pcapng"
        dp.ctl("capture", "start", "1", path, "decrypted")
        rc, out = dp.ctl_rc("capture", "start", "1", CAPDIR + "/again.pcapng")
        check(rc == 1 and '"errno": 16' in out, "second capture of a session: %d %s" % (rc, out))
        t = dp.telemetry("/mediagate/capture")["/mediagate/capture"]
        check(t["active"] == 1 and t["sessions"] == [1], "telemetry: %s" % t)
        # A -> B: plain in, SRTP out; B -> A: SRTP in (decrypted copy), plain out
        _, r = relay("a", A + ":30000", DP_A + ":20000", "b", B + ":30002",
                     recv_key=k_tx[1], count=40, ssrc=0x1111aaaa, seq=100)
        check(r["ok"] == 40, "B got %s" % r)
        _, r = relay("b", B + ":30002", DP_B + ":20002", "a", A + ":30000",
                     send_key=k_rx[1], count=30, ssrc=0x2222bbbb, seq=65530)
        check(r["ok"] == 30, "A got %s" % r)
        st = dp.stats(1)
        stop = dp.ctl("capture", "stop", "1")
        legs = st["legs"]
        n_wire = sum(legs[g][d]["packets"] for g in (0, 1) for d in ("rx", "tx"))
        n_dec = legs[1]["rx"]["packets"]
        check(stop["packets"] == n_wire + n_dec, "written %s, session %s" % (stop, legs))
        check(stop["drops"] == {"capture_ring_full": 0, "capture_no_mbuf": 0,
                                "capture_write_error": 0}, "drops %s" % stop)
        # after stop: nothing more is written
        size = os.path.getsize(path)
        relay("a", A + ":30000", DP_A + ":20000", "b", B + ":30002", recv_key=k_tx[1],
              count=5, ssrc=0x1111aaaa, seq=200)
        check(os.path.getsize(path) == size, "the file grew after stop")
        frames = tshark(path)
        check(len(frames) == stop["packets"], "tshark read %d frames, %d written"
              % (len(frames), stop["packets"]))
        wire = [f for f in frames if f[0] != "mediagate-decrypted"]
        dec = [f for f in frames if f[0] == "mediagate-decrypted"]

        def flow(fr, src, sport, dst, dport):
            return [f for f in fr if f[1:5] == (src, sport, dst, dport)]
        a_in = flow(wire, A, 30000, DP_A, 20000)
        b_out = flow(wire, DP_B, 20002, B, 30002)
        b_in = flow(wire, B, 30002, DP_B, 20002)
        a_out = flow(wire, DP_A, 20000, A, 30000)
        check(len(a_in) == legs[0]["rx"]["packets"] == 40, "A->gw %d %s" % (len(a_in), legs))
        check(len(b_out) == legs[1]["tx"]["packets"] == 40, "gw->B %d" % len(b_out))
        check(len(b_in) == legs[1]["rx"]["packets"] == 30, "B->gw %d" % len(b_in))
        check(len(a_out) == legs[0]["tx"]["packets"] == 30, "gw->A %d" % len(a_out))
        check(len(wire) == n_wire, "other frames on the wire interfaces: %d" % len(wire))
        # RTP streams: one SSRC each way, sequence numbers as sent
        check({f[5] for f in a_in + b_out} == {"0x1111aaaa"}, "A's stream SSRC")
        check({f[5] for f in b_in + a_out} == {"0x2222bbbb"}, "B's stream SSRC")
        check([f[6] for f in a_in] == list(range(100, 140)), "A's sequence numbers")
        check([f[6] for f in b_in] == [(65530 + i) & 0xffff for i in range(30)],
              "B's sequence numbers")
        # SRTP on B's wire, plaintext on A's: the same stream, encrypted or not
        check(all(f[7][:320] != payload_of(f[6]) for f in b_in), "SRTP payload in clear")
        check(all(f[7] == payload_of(f[6]) for f in a_out), "gw->A payload")
        # decrypted: exactly what B sent, one copy per packet received from B
        check(len(dec) == 30 and all(f[1:5] == (B, 30002, DP_B, 20002) for f in dec),
              "decrypted frames %s" % dec[:2])
        check(all(f[7] == payload_of(f[6]) for f in dec), "decrypted payload differs")
        t = dp.telemetry("/mediagate/capture")["/mediagate/capture"]
        check(t["active"] == 0 and t["packets"] >= stop["packets"], "telemetry: %s" % t)
        rc, out = dp.ctl_rc("capture", "start", "1", path)
        check(rc == 1 and '"errno": 17' in out, "existing file: %d %s" % (rc, out))

    def session_deleted():
        # a capture of a session that goes away ends cleanly on stop
        path = CAPDIR + "/s2.pcapng"
        dp.ctl("session", "add", "2", "leg0", "local=%s:20010" % DP_A, "remote=%s:30010" % A,
               "leg1", "local=%s:20012" % DP_B, "remote=%s:30012" % B)
        dp.ctl("capture", "start", "2", path)
        relay("a", A + ":30010", DP_A + ":20010", "b", B + ":30012", count=10)
        dp.ctl("session", "del", "2")
        stop = dp.ctl("capture", "stop", "2")
        check(stop["packets"] == 20, "written %s" % stop)
        check(len(tshark(path)) == 20, "frames")

    def start():
        dp.start(workers=WORKERS, extra="mediagate.dataplane.captureDir=%s\n" % CAPDIR)
        print("dataplane with %d worker(s)" % WORKERS)
        dp.ctl("session", "add", "1", "leg0", "local=%s:20000" % DP_A, "remote=%s:30000" % A,
               "leg1", "local=%s:20002" % DP_B, "remote=%s:30002" % B,
               "tx=" + S80, "tx-key=" + k_tx[0], "rx=" + S80, "rx-key=" + k_rx[0])
        for ns, addr in ((dp_bed.NS_A, DP_A), (dp_bed.NS_B, DP_B)):
            dp_bed.nsx(ns, "ping", "-c", "1", "-W", "1", addr, check=False)
    return dp_bed.run_cases(dp, start, [("refusals", refusals), ("capture", capture),
                                        ("session-deleted", session_deleted)])


if __name__ == "__main__":
    dp_bed.exit_on_sigterm()
    sys.exit(main())
