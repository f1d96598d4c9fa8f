# SPDX-License-Identifier: BSD-3-Clause
"""Summary and media checks of the baresip call of call_bed.sh.

  python3 call_summary.py WORKDIR

Reads what call_bed.sh left in WORKDIR: session.json (SESSION_GET while the
call was up), stats.json (SESSION_STATS then), control.log (the final
counters of SESSION_DEL), alice.log and bob.log (baresip with SIP trace and
its end-of-call RTP statistics). Prints the call summary, then one TAP-like
line per check; exit status = number of failed checks.
"""
import json
import os
import re
import sys

W = sys.argv[1]
fails = 0


def check(name, cond, detail=""):
    global fails
    if cond:
        print("ok - " + name)
    else:
        fails += 1
        print("not ok - " + name + (" (" + detail + ")" if detail else ""))


def read(name):
    try:
        with open(os.path.join(W, name), errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def load(name):
    try:
        return json.loads(read(name))
    except ValueError:
        return {}


def baresip_stats(text):
    """(sent, received, rx errors) from baresip's end-of-call table."""
    m = re.search(r"packets:\s+(\d+)\s+(\d+)", text)
    e = re.search(r"errors:\s+(\d+)\s+(\d+)", text)
    if not m:
        return None
    return int(m.group(1)), int(m.group(2)), int(e.group(2)) if e else -1


def keys(text):
    return set(re.findall(r"a=crypto:\d+ \S+ inline:([A-Za-z0-9+/=]+)", text))


session, stats = load("session.json"), load("stats.json")
ctl, alice, bob = read("control.log"), read("alice.log"), read("bob.log")
final = re.search(r"session (\d+) removed: caller->gw (\d+), gw->callee (\d+), "
                  r"callee->gw (\d+), gw->caller (\d+) packets; drops:(.*)", ctl)
ba, bb = baresip_stats(alice), baresip_stats(bob)

print("==== call summary")
for i, leg in enumerate(session.get("legs", [])):
    who = ("caller alice", "callee bob")[i]
    print("  leg %d (%s): %s <-> %s, source %s, %s rx / %s tx%s" % (
        i, who, leg.get("remote"), leg.get("local"), leg.get("policy"),
        leg["rx"]["suite"], leg["tx"]["suite"], ", rtcp-mux" if leg.get("rtcp_mux") else ""))
if final:
    c2g, g2e, e2g, g2c = (int(final.group(k)) for k in range(2, 6))
    print("  packets (RTP+RTCP, final): alice->gw %d, gw->bob %d, bob->gw %d, gw->alice %d"
          % (c2g, g2e, e2g, g2c))
    print("  drops by reason:%s" % final.group(6))
if stats:
    for i, leg in enumerate(stats.get("legs", [])):
        for d in ("rx", "tx"):
            nz = {k: v for k, v in leg[d]["drops"].items() if v}
            print("  leg %d %s while up: %d packets (%d RTCP), drops %s" % (
                i, d, leg[d]["packets"], leg[d]["rtcp_packets"], nz or "none"))
if ba and bb:
    print("  baresip alice: sent %d, received %d RTP (receive errors %d)" % ba)
    print("  baresip bob:   sent %d, received %d RTP (receive errors %d)" % bb)
print("====")

legs = session.get("legs", [])
check("both legs SRTP in the dataplane",
      len(legs) == 2 and all(l["rx"]["suite"] != "NONE" and l["tx"]["suite"] != "NONE"
                             for l in legs), str([(l["rx"]["suite"], l["tx"]["suite"]) for l in legs]))
ka, kb = keys(alice), keys(bob)
check("SDES keys: each leg its own (alice's and bob's a=crypto keys disjoint)",
      len(ka) >= 2 and len(kb) >= 2 and not (ka & kb), "%d/%d keys, %d shared" % (len(ka), len(kb), len(ka & kb)))
check("lockOnSDP=true: strict source on both legs",
      len(legs) == 2 and all(l.get("policy") == "strict" for l in legs))
check("baresip printed its RTP statistics at both ends", ba is not None and bb is not None)
if ba and bb and final:
    check("alice received audio (>= 100 packets)", ba[1] >= 100, str(ba))
    check("bob received audio (>= 100 packets)", bb[1] >= 100, str(bb))
    check("no receive errors at either end", ba[2] == 0 and bb[2] == 0, "%s %s" % (ba, bb))
    srtp_err = [l for l in (alice + bob).splitlines()
                if re.search(r"srtp.*(fail|error|unprotect)|unprotect.*fail", l, re.I)]
    check("no SRTP unprotect failure at either end", not srtp_err, "; ".join(srtp_err[:3]))
    # The dataplane counts RTP+RTCP; baresip counts RTP. Packets in flight
    # at hang-up and a few RTCP reports make the small allowed difference.
    tol = 8
    for what, dp, peer in (("alice->gw vs alice sent", c2g, ba[0]),
                           ("gw->bob vs bob received", g2e, bb[1]),
                           ("bob->gw vs bob sent", e2g, bb[0]),
                           ("gw->alice vs alice received", g2c, ba[1])):
        check("counters agree: %s (%d vs %d)" % (what, dp, peer), abs(dp - peer) <= tol)
    # While the call is up nothing may fail authentication, replay or the
    # source check.
    up = {"leg%d.%s.%s" % (i, d, k): v for i, leg in enumerate(stats.get("legs", []) if stats else [])
          for d in ("rx", "tx") for k, v in leg[d]["drops"].items()
          if v and k in ("auth", "replay", "source_mismatch")}
    check("nothing dropped for auth/replay/source while the call is up", stats and not up, str(up))
    # At hang-up baresip sends its RTCP BYE in the clear (its SRTP context is
    # already gone): the caller when it hangs up, the callee when our SIP BYE
    # reaches it. When that packet reaches the dataplane before the session
    # is removed, the leg's SRTCP check rightly drops it as auth. One such
    # packet per leg, and nothing else, is allowed in the final counters.
    final_bad = re.findall(r"(leg\d\.\w+\.(?:auth|replay|source_mismatch))=(\d+)", final.group(6))
    check("final counters: no auth/replay/source drop beyond each party's clear RTCP BYE",
          all(k in ("leg0.rx.auth", "leg1.rx.auth") and int(v) <= 1 for k, v in final_bad), final.group(6))
else:
    check("final counters logged by the gateway", final is not None)
sys.exit(fails)
