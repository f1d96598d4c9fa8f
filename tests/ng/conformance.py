#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""NG conformance, table-driven (SPEC §8, docs/ng.md): every command and flag,
both key spellings, a retransmitted cookie executed once, malformed input of
every kind. Talks raw UDP to one relay so that broken messages can be sent.

  conformance.py NG_ADDR:PORT MAX_CALLS

The relay must hold no call at the start and be configured with
mediagate.calls.maxCalls = MAX_CALLS (>= 2). Prints "ok - ..." / "not ok - ..."
lines and exits with the number of failed checks (0 = all passed).
"""
import os
import re
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ng_client import bencode, bdecode  # noqa: E402

ADDR = sys.argv[1].rsplit(":", 1)
ADDR = (ADDR[0], int(ADDR[1]))
MAX_CALLS = int(sys.argv[2])
fails = 0
seq = 0
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.settimeout(2.0)


def check(cond, what, detail=""):
    global fails
    if cond:
        print("ok - %s" % what)
    else:
        fails += 1
        print("not ok - %s" % what)
        if detail:
            print("    | %s" % str(detail)[:600])


def raw(payload):
    """Send bytes, return the raw reply bytes (b'' if none in 2 s)."""
    sock.sendto(payload, ADDR)
    try:
        data, _ = sock.recvfrom(65536)
        return data
    except socket.timeout:
        return b""


def req(d, cookie=None):
    """One request as a dict; the reply dict (None if none/undecodable)."""
    global seq
    seq += 1
    cookie = cookie or ("conf%d" % seq)
    data = raw(cookie.encode() + b" " + bencode(d))
    if not data.startswith(cookie.encode() + b" "):
        return None
    try:
        return bdecode(data[len(cookie) + 1:])
    except Exception:
        return None


def sdp(addr, port, proto="RTP/AVP", extra=""):
    return ("v=0\r\no=- 1 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\n"
            "m=audio %d %s 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
            "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=ptime:20\r\n%s"
            % (addr, addr, port, proto, extra))


KEY_A = "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz"
KEY_B = "PS1uQCVoW1FLc3BwbEFaaERTbUJFNCp6b0JXKj1h"


def m_line(s):
    m = re.search(r"^m=audio (\d+) (\S+)", s or "", re.M)
    return (int(m.group(1)), m.group(2)) if m else (None, None)


def cryptos(s):
    return re.findall(r"^a=crypto:(\d+) (\S+) inline:", s or "", re.M)


def result(r):
    return r.get("result") if isinstance(r, dict) else None


def reason(r):
    return (r or {}).get("error-reason", "")


def stat(name):
    r = req({"command": "statistics"})
    return r["statistics"]["control"][name]


def delete(cid):
    return req({"command": "delete", "call-id": cid})


# ---- ping, unknown commands, malformed input -----------------------------------
r = req({"command": "ping"})
check(result(r) == "pong", "ping -> pong", r)
r = req({"command": "frobnicate"})
check(result(r) == "error" and "Unrecognized command" in reason(r), "unknown command -> error naming it", r)
r = req({"command": "block DTMF", "call-id": "x"})
check(result(r) == "error" and "Unsupported" in reason(r), "block DTMF -> error: unsupported", r)
r = req({"command": "block media", "call-id": "x"})
check(result(r) == "error" and "call-id" in reason(r).lower().replace(" ", "-"), "block media of an unknown call -> error", r)

MALFORMED = [
    (b"c1 d7:command4:ping", "truncated dictionary"),
    (b"c2 i42e", "not a dictionary"),
    (b"c3 d3:foo3:bare", "no command key"),
    (b"c4 d7:command4:pingxe", "garbage inside"),
    (b"c5 d7:command4:pinge trailing", "trailing bytes"),
    (b"c6 d7:command99999999999:ping", "string length past the end"),
    (b"c7 d7:commandi03ee", "integer with a leading zero"),
    (b"c8 " + b"l" * 200 + b"e" * 200, "nesting deeper than the limit"),
    (b"c9 d7:command4:ping3:key" + b"l" * 5000 + b"e" * 5000 + b"e", "deep nesting in a value"),
    (b"c10 d" + b"1:ai1e" * 6000 + b"e", "more items than the limit"),
]
for payload, what in MALFORMED:
    cookie = payload.split(b" ", 1)[0]
    data = raw(payload)
    ok = data.startswith(cookie + b" ")
    rep = None
    if ok:
        try:
            rep = bdecode(data[len(cookie) + 1:])
        except Exception:
            rep = None
    check(result(rep) == "error" and reason(rep), "malformed (%s) -> result error with a reason" % what,
          data[:200])
r = req({"command": "ping"})
check(result(r) == "pong", "still answering after the malformed input", r)

# ---- offer / answer, key spellings, mandatory keys -----------------------------
for missing in ("call-id", "from-tag", "sdp"):
    d = {"command": "offer", "call-id": "m1", "from-tag": "fa", "sdp": sdp("10.9.0.1", 4000)}
    del d[missing]
    r = req(d)
    check(result(r) == "error" and missing.split("-")[0] in reason(r).lower().replace(" ", "-").replace("_", "-"),
          "offer without %s -> error naming it" % missing, r)
r = req({"command": "answer", "call-id": "m1", "from-tag": "fa", "sdp": sdp("10.9.0.2", 5000)})
check(result(r) == "error" and "to-tag" in reason(r).lower(), "answer without to-tag -> error naming it", r)
r = req({"command": "answer", "call-id": "nosuch", "from-tag": "fa", "to-tag": "tb", "sdp": sdp("10.9.0.2", 5000)})
check(result(r) == "error", "answer to an unknown call -> error", r)

r = req({"command": "offer", "call id": "sp1", "from tag": "fa", "sdp": sdp("10.9.0.1", 4000),
         "some-unknown-key": "ignored", "another": ["x", 1]})
check(result(r) == "ok" and m_line(r.get("sdp"))[0], "offer with space spellings and unknown keys -> ok", r)
delete("sp1")
r = req({"command": "offer", "call_id": "us1", "from_tag": "fa", "sdp": sdp("10.9.0.1", 4000)})
check(result(r) == "ok", "offer with underscore spellings -> ok", r)
delete("us1")

# ---- the cookie cache: a retransmission is answered, not executed again -----------
before = stat("offer")
body = bencode({"command": "offer", "call-id": "rt1", "from-tag": "fa", "sdp": sdp("10.9.0.1", 4000)})
a = raw(b"retrans1 " + body)
b = raw(b"retrans1 " + body)
after = stat("offer")
check(a and a == b, "retransmitted cookie -> the same reply bytes", (a[:80], b[:80]))
check(after - before == 1, "retransmitted cookie -> executed once (offer counter +%d)" % (after - before))
r = req({"command": "list"})
check(r and r.get("calls", []).count("rt1") == 1, "retransmitted offer -> one call in list", r)
delete("rt1")

# ---- flags ----------------------------------------------------------------------
def offer(cid, extra_sdp="", proto="RTP/AVP", **kw):
    d = {"command": "offer", "call-id": cid, "from-tag": "fa", "sdp": sdp("10.9.0.1", 4000, proto, extra_sdp)}
    d.update(kw)
    return req(d)


CASES = [
    # name, offer kwargs, sdp extra, proto, check(reply sdp) -> bool
    ("transport-protocol RTP/SAVP -> SAVP with 2 crypto lines",
     {"transport-protocol": "RTP/SAVP"}, "", "RTP/AVP",
     lambda s: m_line(s)[1] == "RTP/SAVP" and len(cryptos(s)) == 2),
    ("flag word RTP/SAVP (Kamailio style) -> SAVP",
     {"flags": ["RTP/SAVP"]}, "", "RTP/AVP", lambda s: m_line(s)[1] == "RTP/SAVP"),
    ("rtpp-flags string -> SAVP and origin replaced",
     {"rtpp-flags": "RTP/SAVP replace-origin ICE=remove"}, "", "RTP/AVP",
     lambda s: m_line(s)[1] == "RTP/SAVP" and "o=- 1 1 IN IP4 10.9.0.1" not in s),
    ("SAVP -> AVP: crypto removed",
     {"transport-protocol": "RTP/AVP"}, "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:%s\r\n" % KEY_A, "RTP/SAVP",
     lambda s: m_line(s)[1] == "RTP/AVP" and not cryptos(s)),
    ("SAVP -> SAVP: our keys, never the offerer's",
     {}, "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:%s\r\n" % KEY_A, "RTP/SAVP",
     lambda s: m_line(s)[1] == "RTP/SAVP" and len(cryptos(s)) >= 1 and KEY_A not in s),
    ("AVPF -> SAVPF", {"transport-protocol": "RTP/SAVPF"}, "", "RTP/AVPF",
     lambda s: m_line(s)[1] == "RTP/SAVPF"),
    ("SDES no-AES_CM_128_HMAC_SHA1_32 -> one suite",
     {"transport-protocol": "RTP/SAVP", "SDES": ["no-AES_CM_128_HMAC_SHA1_32"]}, "", "RTP/AVP",
     lambda s: [c[1] for c in cryptos(s)] == ["AES_CM_128_HMAC_SHA1_80"]),
    ("SDES only-AES_CM_128_HMAC_SHA1_32 -> that suite",
     {"transport-protocol": "RTP/SAVP", "SDES": ["only-AES_CM_128_HMAC_SHA1_32"]}, "", "RTP/AVP",
     lambda s: [c[1] for c in cryptos(s)] == ["AES_CM_128_HMAC_SHA1_32"]),
    ("SDES-no- flag word", {"flags": ["RTP/SAVP", "SDES-no-AES_CM_128_HMAC_SHA1_80"]}, "", "RTP/AVP",
     lambda s: [c[1] for c in cryptos(s)] == ["AES_CM_128_HMAC_SHA1_32"]),
    ("SDES off with RTP/SAVP -> no crypto, no fingerprint (no DTLS either)",
     {"transport-protocol": "RTP/SAVP", "SDES": ["off"]}, "", "RTP/AVP",
     lambda s: not cryptos(s) and "a=fingerprint" not in s),
    ("SDES lifetime -> keys with a lifetime",
     {"transport-protocol": "RTP/SAVP", "SDES": ["lifetime"]}, "", "RTP/AVP",
     lambda s: re.search(r"a=crypto:\S+ \S+ inline:[^|\r]+\|2\^31", s) is not None),
    ("rtcp-mux offered is passed on", {}, "a=rtcp-mux\r\n", "RTP/AVP", lambda s: "a=rtcp-mux" in s),
    ("rtcp-mux demux -> not passed on", {"rtcp-mux": ["demux"]}, "a=rtcp-mux\r\n", "RTP/AVP",
     lambda s: "a=rtcp-mux" not in s),
    ("rtcp-mux offer -> offered", {"rtcp-mux": ["offer"]}, "", "RTP/AVP", lambda s: "a=rtcp-mux" in s),
    ("a=rtcp is ours", {}, "a=rtcp:4001\r\n", "RTP/AVP",
     lambda s: re.search(r"^a=rtcp:(\d+)", s, re.M) and int(re.search(r"^a=rtcp:(\d+)", s, re.M).group(1)) ==
     m_line(s)[0] + 1),
    ("no-rtcp-attribute -> no a=rtcp", {"flags": ["no-rtcp-attribute"]}, "a=rtcp:4001\r\n", "RTP/AVP",
     lambda s: "a=rtcp:" not in s),
    ("ICE remove -> candidates gone", {"ICE": "remove"},
     "a=ice-ufrag:abcd\r\na=ice-pwd:0123456789abcdef012345\r\na=candidate:1 1 UDP 2130706431 10.9.0.1 4000 typ host\r\n",
     "RTP/AVP", lambda s: "a=candidate" not in s and "a=ice-" not in s),
    ("DTLS with SDES too -> SDES only", {},
     "a=fingerprint:sha-256 AB:CD:EF\r\na=setup:actpass\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:%s\r\n" % KEY_A,
     "RTP/SAVP", lambda s: "a=fingerprint" not in s and "a=setup" not in s and len(cryptos(s)) >= 1),
    ("replace origin -> o= is ours", {"replace": ["origin"]}, "", "RTP/AVP",
     lambda s: "o=- 1 1 IN IP4 10.9.0.1" not in s),
    ("without replace origin -> o= kept", {}, "", "RTP/AVP", lambda s: "o=- 1 1 IN IP4 10.9.0.1" in s),
    ("c= is ours", {}, "", "RTP/AVP", lambda s: "c=IN IP4 10.9.0.1" not in s),
    ("codec strip PCMA -> its payload type and rtpmap gone",
     {"codec": {"strip": ["PCMA"]}}, "", "RTP/AVP",
     lambda s: re.search(r"^m=audio \d+ RTP/AVP 0 101\r$", s, re.M) and "a=rtpmap:8 " not in s),
    ("codec-mask- flag word -> the codec is not offered",
     {"flags": ["codec-mask-telephone-event"]}, "", "RTP/AVP",
     lambda s: re.search(r"^m=audio \d+ RTP/AVP 0 8\r$", s, re.M) and "a=fmtp:101" not in s),
    ("codec strip all except PCMU", {"codec": {"strip": ["all"], "except": ["PCMU"]}}, "", "RTP/AVP",
     lambda s: re.search(r"^m=audio \d+ RTP/AVP 0\r$", s, re.M) is not None),
    ("codec lines kept byte for byte", {}, "", "RTP/AVP",
     lambda s: "a=fmtp:101 0-15\r\n" in s and "a=rtpmap:8 PCMA/8000\r\n" in s and "a=ptime:20\r\n" in s),
]
for i, (name, kw, extra, proto, ok) in enumerate(CASES):
    cid = "flag%d" % i
    r = offer(cid, extra, proto, **kw)
    s = (r or {}).get("sdp", "")
    good = result(r) == "ok" and ok(s)
    check(good, "offer: " + name, r)
    delete(cid)

for name, kw, want in [
    ("always-transcode -> warning", {"flags": ["always-transcode"]}, "transcode"),
    ("codec transcode -> refused with a warning", {"codec": {"transcode": ["G722"]}}, "transcode"),
    ("unknown flag -> warning naming it", {"flags": ["no-such-flag"]}, "no-such-flag"),
    ("SDES unencrypted_srtp -> refused with a warning", {"SDES": ["unencrypted_srtp"]}, "unencrypted_srtp"),
]:
    r = offer("w1", **kw)
    check(result(r) == "ok" and want in (r or {}).get("warning", ""), "offer: " + name, r)
    delete("w1")

r = offer("dtls1", "a=fingerprint:sha-256 AB:CD:EF\r\na=setup:actpass\r\n", "UDP/TLS/RTP/SAVP")
check(result(r) == "error" and "DTLS" in reason(r), "offer: DTLS-SRTP only -> error with the reason", r)
r = req({"command": "list"})
check(r and "dtls1" not in r.get("calls", []), "a refused offer leaves no call behind", r)

# ---- a whole call: answer, query, list, fork, recording, delete ---------------------
r = offer("call1", proto="RTP/AVP", **{"transport-protocol": "RTP/SAVP"})
check(result(r) == "ok", "call1 offer", r)
ours = cryptos(r.get("sdp", "") if r else "")
tag = ours[0][0] if ours else "1"
r = req({"command": "answer", "call-id": "call1", "from-tag": "fa", "to-tag": "tb",
         "sdp": sdp("10.9.0.2", 5000, "RTP/SAVP",
                    "a=crypto:%s AES_CM_128_HMAC_SHA1_80 inline:%s\r\n" % (tag, KEY_B))})
check(result(r) == "ok" and m_line(r.get("sdp"))[1] == "RTP/AVP" and not cryptos(r.get("sdp")),
      "call1 answer: plain RTP/AVP back to the offerer", r)
r = req({"command": "query", "call-id": "call1"})
check(result(r) == "ok" and set(r.get("tags", {})) == {"fa", "tb"} and "totals" in r,
      "query: both tags and totals", r)
check(r and r["tags"]["tb"]["medias"][0]["streams"][0].get("crypto suite") == "AES_CM_128_HMAC_SHA1_80",
      "query: the callee stream's crypto suite", r)
r = req({"command": "answer", "call-id": "call1", "from-tag": "fa", "to-tag": "tc",
         "sdp": sdp("10.9.0.3", 6000, "RTP/SAVP",
                    "a=crypto:%s AES_CM_128_HMAC_SHA1_80 inline:%s\r\n" % (tag, KEY_A))})
check(result(r) == "ok", "a second to-tag answering (fork) -> ok", r)
r = req({"command": "query", "call-id": "call1"})
check(r and set(r.get("tags", {})) == {"fa", "tb", "tc"}, "query: three tags with the fork", r)
r = req({"command": "delete", "call-id": "call1", "from-tag": "fa", "to-tag": "tb"})
check(result(r) == "ok", "delete of the fork that is not installed -> ok", r)
r = req({"command": "query", "call-id": "call1"})
check(r and set(r.get("tags", {})) == {"fa", "tc"}, "query: that fork is gone, the call stays", r)
r = req({"command": "start recording", "call-id": "call1"})
check(result(r) == "error" and "recording-destination" in reason(r),
      "start recording without a destination -> error saying how", r)
r = req({"command": "start recording", "call-id": "call1", "recording-destination": "127.0.0.1:9000"})
check(result(r) == "ok", "start recording to a destination -> ok", r)
r = req({"command": "stop recording", "call-id": "call1"})
check(result(r) == "ok", "stop recording -> ok", r)
r = req({"command": "block media", "call-id": "call1", "from-tag": "fa"})
check(result(r) == "ok", "block media of the caller -> ok", r)
r = req({"command": "block media", "call-id": "call1", "from-tag": "nobody"})
check(result(r) == "error", "block media of an unknown tag -> error", r)
r = req({"command": "unblock media", "call-id": "call1", "flags": ["all"]})
check(result(r) == "ok", "unblock media (all) -> ok", r)
r = req({"command": "list"})
check(r and r.get("calls") == ["call1"], "list: call1 only", r)
r = delete("call1")
check(result(r) == "ok" and "totals" in r, "delete: ok with the final counters", r)
r = delete("call1")
check(result(r) == "ok" and r.get("warning"), "delete of an unknown call -> ok with a warning", r)
r = req({"command": "query", "call-id": "call1"})
check(result(r) == "error", "query of a deleted call -> error", r)

# ---- delete-delay ----------------------------------------------------------------
import time  # noqa: E402
offer("dd1")
r = req({"command": "delete", "call-id": "dd1", "from-tag": "fa", "delete-delay": 1})
check(result(r) == "ok" and "totals" in r, "delete with delete-delay 1 -> ok with the counters", r)
r = req({"command": "list"})
check(r and "dd1" in r.get("calls", []), "delete-delay: the call stays meanwhile", r)
for _ in range(50):  # due after 1 s; polled up to 5 s (a loaded machine)
    time.sleep(0.1)
    r = req({"command": "list"})
    if r and "dd1" not in r.get("calls", []):
        break
check(r and "dd1" not in r.get("calls", []), "delete-delay: gone after the delay", r)

# ---- load limit -----------------------------------------------------------------
for i in range(MAX_CALLS):
    offer("load%d" % i)
r = offer("over1", supports=["load limit"])
check(result(r) == "load limit", "over maxCalls with supports load limit -> result load limit", r)
r = offer("over2")
check(result(r) == "error" and reason(r) == "Parallel session limit reached",
      "over maxCalls without it -> error 'Parallel session limit reached'", r)
for i in range(MAX_CALLS):
    delete("load%d" % i)
r = req({"command": "statistics"})
check(result(r) == "ok" and r["statistics"]["currentstatistics"]["sessionsown"] == 0,
      "statistics: 0 sessions at the end", r)
check(r and r["statistics"]["control"]["load limit"] >= 1, "statistics: load limits counted", r)
sys.exit(min(fails, 100))
