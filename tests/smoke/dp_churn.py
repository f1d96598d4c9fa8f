# SPDX-License-Identifier: BSD-3-Clause
"""Session churn under traffic: 10,000 sessions added and removed (three times) over
the control socket while one unchanged session carries RTP from A to B; not one
packet of that session may be lost, and the tables must end as they began.

That the two overlapped is proved from the dataplane, not from wall time: a
sampler reads the session count, then the unchanged session's received-packet
counter, then the session count again. The churn only ever has sessions beyond
the unchanged one between its first add and its last delete, so two samples
whose session counts are all above 1 bracket a stretch of the churn; if the
packet counter grew between them, packets were relayed during the churn.

usage: dp_churn.py BUILD_DIR [N_SESSIONS]
"""
import json
import os
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dp_bed  # noqa: E402
from dp_bed import A, B, DP_A, DP_B  # noqa: E402

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
N = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
ROUNDS = 3  # three waves of N adds then N deletes, all inside the traffic window


class Sampler(threading.Thread):
    """(sessions before, session 1 rx packets, sessions after) until stopped."""

    def __init__(self, dp):
        super().__init__(daemon=True)
        self.dp = dp
        self.samples = []
        self.stop = threading.Event()
        self.error = None

    def run(self):
        try:
            while not self.stop.is_set():
                n0 = self.dp.ctl("stats")["sessions"]
                p = self.dp.stats(1)["legs"][0]["rx"]["packets"]
                n1 = self.dp.ctl("stats")["sessions"]
                self.samples.append((n0, p, n1))
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.error = e


def overlap(samples):
    """Packets relayed between the first and the last sample taken entirely
    inside the churn (session counts above 1 before and after the read)."""
    inside = [p for n0, p, n1 in samples if n0 > 1 and n1 > 1]
    return (inside[-1] - inside[0] if len(inside) >= 2 else 0), len(inside)


def main():
    dp = dp_bed.Dataplane(BUILD)
    peer = dp_bed.Peer(BUILD)
    ok = False
    try:
        dp_bed.up()
        dp.start(workers=int(os.environ.get("MGDP_WORKERS", "1")))
        for ns, addr in ((dp_bed.NS_A, DP_A), (dp_bed.NS_B, DP_B)):
            dp_bed.nsx(ns, "ping", "-c", "1", "-W", "1", addr)
        dp.ctl("session", "add", "1", "leg0", "local=%s:20000" % DP_A, "remote=%s:30000" % A,
               "leg1", "local=%s:20002" % DP_B, "remote=%s:30002" % B)
        rx = peer.recv_start("b", B + ":30002", timeout_ms=1500)
        sampler = Sampler(dp)
        sampler.start()
        # traffic first; the churn starts once the dataplane has relayed some of it
        res = {}
        sender = threading.Thread(target=lambda: res.update(peer.send(
            "a", A + ":30000", DP_A + ":20000", count=4000, interval_us=250)))
        sender.start()
        while sender.is_alive() and not any(x[1] > 0 for x in sampler.samples[-3:]):
            sender.join(0.01)
        churn = subprocess.Popen([BUILD + "/tests/smoke/dp_churn", dp_bed.SOCK, str(ROUNDS), str(N),
                                  "1000", DP_A, "22000", A],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        sender.join(90)
        sent = res
        out, err = churn.communicate(timeout=90)
        sampler.stop.set()
        sampler.join(10)
        if churn.returncode != 0:
            raise RuntimeError("dp_churn: " + err)
        if sampler.error is not None:
            raise RuntimeError("sampler: %s" % sampler.error)
        c = json.loads(out)
        r = peer.recv_end(rx)
        st = dp.stats(1)
        after = dp.ctl("stats")
        during, n_inside = overlap(sampler.samples)
        print("churn: %d added, %d deleted in %d ms; traffic: sent %d, B got %d ok (%d bad), "
              "session drops %s; %d packets relayed between %d of %d samples taken during "
              "the churn (max %d sessions seen)"
              % (c["added"], c["deleted"], c["ms"], sent["sent"], r["ok"], r["bad"],
                 st["legs"][0]["rx"]["drops"], during, n_inside, len(sampler.samples),
                 max((x[0] for x in sampler.samples), default=0)))
        problems = []
        if c["added"] != N * ROUNDS or c["deleted"] != N * ROUNDS:
            problems.append("churn incomplete")
        if r["ok"] != sent["sent"] or r["bad"] != 0:
            problems.append("lost %d packets of the unchanged session" % (sent["sent"] - r["ok"]))
        if r["first_seq"] != 0 or r["last_seq"] != sent["sent"] - 1:
            problems.append("sequence %s..%s" % (r["first_seq"], r["last_seq"]))
        if after["sessions"] != 1:
            problems.append("%d sessions left (1 expected)" % after["sessions"])
        if during == 0:
            problems.append("no packet relayed while the churn was in progress (not shown "
                            "to overlap)")
        ok = not problems
        for p in problems:
            print("FAIL", p)
    finally:
        dp.stop()
        if not ok and os.path.exists(dp.log):
            print(open(dp.log).read()[-2000:])
        dp_bed.down()
    print("%d passed, %d failed" % (1 if ok else 0, 0 if ok else 1))
    return 0 if ok else 1


if __name__ == "__main__":
    dp_bed.exit_on_sigterm()
    sys.exit(main())
