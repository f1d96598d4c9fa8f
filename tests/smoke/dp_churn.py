# SPDX-License-Identifier: BSD-3-Clause
"""Session churn under traffic: 10,000 sessions added and removed (three times) over
the control socket while one unchanged session carries RTP from A to B; not one
packet of that session may be lost, and the tables must end as they began.

usage: dp_churn.py BUILD_DIR [N_SESSIONS]
"""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dp_bed  # noqa: E402
from dp_bed import A, B, DP_A, DP_B  # noqa: E402

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
N = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
ROUNDS = 3  # three waves of N adds then N deletes, all inside the traffic window


def main():
    dp = dp_bed.Dataplane(BUILD)
    peer = dp_bed.Peer(BUILD)
    ok = False
    try:
        dp_bed.up()
        dp.start(workers=int(os.environ.get("MGDP_WORKERS", "1")))
        for ns, addr in (("mgdp-a", DP_A), ("mgdp-b", DP_B)):
            dp_bed.nsx(ns, "ping", "-c", "1", "-W", "1", addr)
        dp.ctl("session", "add", "1", "leg0", "local=%s:20000" % DP_A, "remote=%s:30000" % A,
               "leg1", "local=%s:20002" % DP_B, "remote=%s:30002" % B)
        rx = peer.recv_start("b", B + ":30002", timeout_ms=1500)
        t0 = time.time()
        churn = subprocess.Popen([BUILD + "/tests/smoke/dp_churn", dp_bed.SOCK, str(ROUNDS), str(N),
                                  "1000", DP_A, "22000", A],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        sent = peer.send("a", A + ":30000", DP_A + ":20000", count=4000, interval_us=250)
        t_send = time.time() - t0
        out, err = churn.communicate(timeout=90)
        if churn.returncode != 0:
            raise RuntimeError("dp_churn: " + err)
        c = json.loads(out)
        r = peer.recv_end(rx)
        st = dp.stats(1)
        after = dp.ctl("stats")
        print("churn: %d added, %d deleted in %d ms; traffic %.1f s: sent %d, B got %d ok "
              "(%d bad), session drops %s" % (c["added"], c["deleted"], c["ms"], t_send,
                                              sent["sent"], r["ok"], r["bad"],
                                              st["legs"][0]["rx"]["drops"]))
        problems = []
        if c["added"] != N * ROUNDS or c["deleted"] != N * ROUNDS:
            problems.append("churn incomplete")
        if r["ok"] != sent["sent"] or r["bad"] != 0:
            problems.append("lost %d packets of the unchanged session" % (sent["sent"] - r["ok"]))
        if r["first_seq"] != 0 or r["last_seq"] != sent["sent"] - 1:
            problems.append("sequence %s..%s" % (r["first_seq"], r["last_seq"]))
        if after["sessions"] != 1:
            problems.append("%d sessions left (1 expected)" % after["sessions"])
        if c["ms"] / 1000.0 < 0.2 or t_send < 0.2:
            problems.append("churn or traffic too short to overlap")
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
