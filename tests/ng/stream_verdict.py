#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""The standby tests' verdict on their SRTP streams across a failover.

    stream_verdict.py DIR N COUNT T_KILL_MS

Reads DIR/recv-1.json .. DIR/recv-N.json (dp_srtp_peer recv; stream i starts
at sequence 65536-100-i when i is odd, 1000*i when even, COUNT packets) and
prints "GOOD FAILED GAP_MEDIAN GAP_MAX" then up to five failures ("# ...");
writes DIR/result.json (bench/failover-bench reads it). A stream is good when
it authenticated, had no replay or malformed packet, arrived to its last
packet, and had a gap across the kill.
"""
import json
import statistics
import sys

w, n, count, t_kill = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
good, gaps, fails, before = 0, [], [], []
for i in range(1, n + 1):
    try:
        r = json.load(open("%s/recv-%d.json" % (w, i)))
    except Exception as e:
        fails.append("%d: %s" % (i, e))
        continue
    last = ((65536 - 100 - i) if i % 2 else 1000 * i) + count - 1 & 0xffff
    # the gap across the kill: from the last packet through node 1 (a few
    # may still come after t_kill: the processes take a moment to die) to
    # the first through node 2, the first gap that ends after t_kill
    across = [g for end, g in r["gaps"] if end > t_kill][:1]
    if r["auth_fail"] or r["replay_fail"] or r["bad"] or r["ssrc_bad"] or r["last_seq"] != last or not across:
        fails.append("%d: %s" % (i, r))
        continue
    good += 1
    gaps.append(across[0])
    # the baseline of the same stream: its largest gap before the kill (machine noise)
    before.append(max([g for end, g in r["gaps"] if end <= t_kill] or [0]))
print(good, len(fails), int(statistics.median(gaps)) if gaps else -1, max(gaps) if gaps else -1)
for f in fails[:5]:
    print("#", f)
json.dump({"streams": n, "good": good, "gap_ms": gaps, "before_max_gap_ms": before},
          open("%s/result.json" % w, "w"))
