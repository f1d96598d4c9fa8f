#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""NG oracle: the same offer/answer sequences to two relays, their rewritten
SDPs compared by STRUCTURE (SPEC.md §8).

  oracle.py A_ADDR B_ADDR [--names A,B] [--case NAME ...] [--json FILE] [-v]

For every case: offer (case flags) with the caller's SDP, then an answer with
an SDP the callee would send back to what the relay offered (same profile;
one a=crypto of the first suite offered when SRTP; a=rtcp-mux when offered),
then delete. Each rewritten SDP is reduced to its structure: per m= the
profile, payload types, number of a=crypto and their suites in order, c=
family and whether the address is the input's or the relay's, a=rtcp-mux,
a=rtcp, ICE, DTLS (fingerprint, setup), direction, the other attribute
names; at session level o= and c= the same way. Keys, ports and the
relay's own address are not compared. A relay that refuses is compared by
its `result` only.

Prints a table of cases (same / DIFF) and every difference; exit 1 when
any case differs, 2 when a relay does not answer. Run a relay against itself
to check the oracle (two rtpengines must agree), then rtpengine vs mediagate.
"""
import argparse
import base64
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ng_client import NG, NGTimeout  # noqa: E402

CALLER, CALLEE = "192.0.2.10", "192.0.2.20"
KEY80 = "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz"
KEY32 = "VAzLKvoE3jG9cdH/AZsl/ZqWNXrUzyM4Gw6chrFr"
FPR = ("sha-256 9F:17:75:91:FF:F8:FE:C5:14:16:9B:1E:0B:D6:17:AB:"
       "4A:F0:9A:C0:1D:B3:82:03:93:9F:B4:DF:B0:45:43:96")


def sdp(lines):
    return "\r\n".join(lines) + "\r\n"


def offer_sdp(proto="RTP/AVP", crypto=(), extra=(), addr=CALLER, port=4000):
    out = ["v=0", "o=- 1545997027 1 IN IP4 %s" % addr, "s=tester", "c=IN IP4 %s" % addr,
           "t=0 0", "m=audio %d %s 0 8 101" % (port, proto),
           "a=rtpmap:0 PCMU/8000", "a=rtpmap:8 PCMA/8000",
           "a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-15", "a=sendrecv"]
    for i, (suite, key) in enumerate(crypto, 1):
        out.append("a=crypto:%d %s inline:%s" % (i, suite, key))
    out.extend(extra)
    return sdp(out)


ICE = ["a=ice-ufrag:F7gI", "a=ice-pwd:x9cml/YzichV2+XlhiMu8g",
       "a=candidate:1 1 UDP 2130706431 %s 4000 typ host" % CALLER,
       "a=candidate:1 2 UDP 2130706430 %s 4001 typ host" % CALLER]
SRTP2 = [("AES_CM_128_HMAC_SHA1_80", KEY80), ("AES_CM_128_HMAC_SHA1_32", KEY32)]
REPL = {"replace": ["origin", "session-connection"]}

# name: (offer SDP, offer keys, answer keys)
CASES = {
    "avp-to-savp": (offer_sdp(), dict(REPL, **{"transport-protocol": "RTP/SAVP", "DTLS": "off"}),
                    dict(REPL, **{"transport-protocol": "RTP/AVP"})),
    "savp-to-avp": (offer_sdp("RTP/SAVP", SRTP2), dict(REPL, **{"transport-protocol": "RTP/AVP"}),
                    dict(REPL, **{"transport-protocol": "RTP/SAVP"})),
    "savp-to-savp": (offer_sdp("RTP/SAVP", SRTP2), dict(REPL, **{"transport-protocol": "RTP/SAVP", "DTLS": "off"}),
                     dict(REPL)),
    "avpf-to-savpf": (offer_sdp("RTP/AVPF"), dict(REPL, **{"transport-protocol": "RTP/SAVPF", "DTLS": "off"}),
                      dict(REPL, **{"transport-protocol": "RTP/AVPF"})),
    "sdes-no-suite": (offer_sdp(), dict(REPL, **{"transport-protocol": "RTP/SAVP", "DTLS": "off",
                                                 "SDES": ["no-AES_CM_128_HMAC_SHA1_32", "no-NULL_HMAC_SHA1_80",
                                                          "no-NULL_HMAC_SHA1_32"]}),
                      dict(REPL)),
    "sdes-only-suite": (offer_sdp(), dict(REPL, **{"transport-protocol": "RTP/SAVP", "DTLS": "off",
                                                   "SDES": ["only-AES_CM_128_HMAC_SHA1_80"]}),
                        dict(REPL)),
    "sdes-off": (offer_sdp(), dict(REPL, **{"transport-protocol": "RTP/SAVP", "SDES": ["off"]}),
                 dict(REPL)),
    "rtcp-mux-offer": (offer_sdp(), dict(REPL, **{"rtcp-mux": ["offer"]}), dict(REPL)),
    "rtcp-mux-demux": (offer_sdp(extra=["a=rtcp-mux"]), dict(REPL, **{"rtcp-mux": ["demux"]}), dict(REPL)),
    "ice-remove": (offer_sdp(extra=ICE), dict(REPL, **{"ICE": "remove"}), dict(REPL, **{"ICE": "remove"})),
    "dtls-offer-to-sdes": (offer_sdp("UDP/TLS/RTP/SAVP", extra=["a=setup:actpass", "a=fingerprint:" + FPR]),
                           dict(REPL, **{"transport-protocol": "RTP/SAVP", "DTLS": "off"}),
                           dict(REPL, **{"transport-protocol": "UDP/TLS/RTP/SAVP"})),
    "no-replace": (offer_sdp(), {"transport-protocol": "RTP/AVP"}, {}),
    "replace-origin-only": (offer_sdp(), {"replace": ["origin"]}, {"replace": ["origin"]}),
    "ipv4-address-family": (offer_sdp(), dict(REPL, **{"address-family": "IP4"}), dict(REPL)),
}


def parse(text):
    """SDP text -> (session lines, [media sections]) as lists of (type, value)."""
    sess, medias, cur = [], [], None
    for line in text.replace("\r\n", "\n").split("\n"):
        if len(line) < 2 or line[1] != "=":
            continue
        t, v = line[0], line[2:]
        if t == "m":
            cur = [("m", v)]
            medias.append(cur)
        elif cur is None:
            sess.append((t, v))
        else:
            cur.append((t, v))
    return sess, medias


def addr_class(addr, inputs):
    return "input" if addr in inputs else "relay"


def conn(v, inputs):
    p = v.split()
    return "%s/%s" % (p[1] if len(p) > 1 else "?", addr_class(p[2], inputs) if len(p) > 2 else "?")


def structure(text, inputs):
    sess, medias = parse(text)
    s = {}
    for t, v in sess:
        if t == "o":
            p = v.split()
            s["o="] = "%s/%s" % (p[4], addr_class(p[5], inputs)) if len(p) > 5 else v
        elif t == "c":
            s["c="] = conn(v, inputs)
    s.setdefault("c=", "-")
    out = {"session": s, "media": []}
    for m in medias:
        f = m[0][1].split()
        d = {"media": f[0], "port0": f[1] == "0", "proto": f[2], "pt": " ".join(f[3:])}
        attrs = [v for t, v in m if t == "a"]
        names = [a.split(":", 1)[0] for a in attrs]
        d["c="] = next((conn(v, inputs) for t, v in m if t == "c"), "-")
        crypto = [a.split()[1] for a in attrs if a.startswith("crypto:")]
        d["crypto"] = len(crypto)
        d["suites"] = " ".join(crypto) or "-"
        d["rtcp-mux"] = "rtcp-mux" in names
        d["a=rtcp"] = "rtcp" in names
        d["ice"] = any(n in ("ice-ufrag", "ice-pwd", "candidate") for n in names)
        d["fingerprint"] = "fingerprint" in names
        d["setup"] = next((a.split(":", 1)[1] for a in attrs if a.startswith("setup:")), "-")
        d["direction"] = next((n for n in names if n in ("sendrecv", "sendonly", "recvonly", "inactive")), "-")
        known = {"crypto", "rtcp-mux", "rtcp", "ice-ufrag", "ice-pwd", "candidate", "fingerprint",
                 "setup", "sendrecv", "sendonly", "recvonly", "inactive"}
        d["other attrs"] = " ".join(sorted(set(n for n in names if n not in known))) or "-"
        out["media"].append(d)
    return out


# master key + salt bytes per SDES suite (RFC 4568, 6188, 7714)
KEYLEN = (("AES_CM_128", 30), ("F8_128", 30), ("NULL", 30), ("AES_192_CM", 38),
          ("AES_256_CM", 46), ("AEAD_AES_128_GCM", 28), ("AEAD_AES_256_GCM", 44))


def answer_sdp(offer_out):
    """What a callee answers to the relay's offer: same profile, first suite."""
    _, medias = parse(offer_out)
    lines = ["v=0", "o=- 2890844527 1 IN IP4 %s" % CALLEE, "s=callee", "c=IN IP4 %s" % CALLEE, "t=0 0"]
    for i, m in enumerate(medias):
        f = m[0][1].split()
        proto = f[2]
        lines.append("m=%s %d %s %s" % (f[0], 5000 + 2 * i, proto, f[3] if len(f) > 3 else "0"))
        attrs = [v for t, v in m if t == "a"]
        lines.append("a=sendrecv")
        if "rtcp-mux" in attrs:
            lines.append("a=rtcp-mux")
        crypto = [a for a in attrs if a.startswith("crypto:")]
        if "SAVP" in proto and crypto and "UDP/TLS" not in proto:
            tag, suite = crypto[0].split()[0].split(":")[1], crypto[0].split()[1]
            n = next((n for p, n in KEYLEN if suite.startswith(p)), 30)
            key = base64.b64encode(bytes(range(7, 7 + n))).decode().rstrip("=")
            lines.append("a=crypto:%s %s inline:%s" % (tag, suite, key))
        if "UDP/TLS" in proto:
            lines += ["a=setup:active", "a=fingerprint:" + FPR]
    return sdp(lines)


def run_case(ng, name, cid, case):
    offer_in, oflags, aflags = case
    res = {}
    req = dict(oflags, command="offer", sdp=offer_in, **{"call-id": cid, "from-tag": "ft-" + cid})
    rep = ng.request(req)
    if rep.get("result") != "ok":
        res["offer"] = {"result": rep.get("result")}
        return res, rep
    res["offer"] = structure(rep["sdp"], {CALLER})
    req = dict(aflags, command="answer", sdp=answer_sdp(rep["sdp"]),
               **{"call-id": cid, "from-tag": "ft-" + cid, "to-tag": "tt-" + cid})
    rep2 = ng.request(req)
    if rep2.get("result") != "ok":
        res["answer"] = {"result": rep2.get("result")}
    else:
        res["answer"] = structure(rep2["sdp"], {CALLEE})
    ng.request({"command": "delete", "call-id": cid, "from-tag": "ft-" + cid})
    return res, rep2


def flatten(d, prefix=""):
    out = {}
    if isinstance(d, dict):
        for k, v in d.items():
            out.update(flatten(v, "%s.%s" % (prefix, k) if prefix else k))
    elif isinstance(d, list):
        out[prefix + ".count"] = len(d)
        for i, v in enumerate(d):
            out.update(flatten(v, "%s[%d]" % (prefix, i)))
    else:
        out[prefix] = d
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--names", default="A,B", help="labels of the two relays (A,B)")
    ap.add_argument("--case", action="append", help="only these cases (repeat); default all")
    ap.add_argument("--json", help="write both relays' structures here")
    ap.add_argument("-v", action="store_true", help="print each case's structure")
    a = ap.parse_args()
    na, nb = (a.names.split(",") + ["B"])[:2]
    relays = [NG(a.a, timeout=1.0, retries=2), NG(a.b, timeout=1.0, retries=2)]
    cases = a.case or list(CASES)
    run = "%x%d" % (os.getpid(), int.from_bytes(os.urandom(2), "big"))
    diffs, table, dump = [], [], {}
    for name in cases:
        if name not in CASES:
            print("oracle: no case %s (have: %s)" % (name, ", ".join(CASES)), file=sys.stderr)
            return 64
        got = []
        for label, ng in zip((na, nb), relays):
            try:
                s, _ = run_case(ng, name, "oracle-%s-%s-%s" % (run, name, label), CASES[name])
            except NGTimeout as e:
                print("oracle: %s (%s): %s" % (label, ng.addr, e), file=sys.stderr)
                return 2
            got.append(s)
        dump[name] = {na: got[0], nb: got[1]}
        fa, fb = flatten(got[0]), flatten(got[1])
        d = [(k, fa.get(k, "(none)"), fb.get(k, "(none)")) for k in sorted(set(fa) | set(fb))
             if fa.get(k, "(none)") != fb.get(k, "(none)")]
        summary = []
        for phase in ("offer", "answer"):
            st = got[0].get(phase, {})
            if "result" in st:
                summary.append("%s %s" % (phase, st["result"]))
            elif st:
                m = st["media"][0] if st.get("media") else {}
                summary.append("%s %s c=%s crypto=%s%s%s" % (
                    phase, m.get("proto"), m.get("c=") if m.get("c=") != "-" else st["session"]["c="],
                    m.get("crypto"), " mux" if m.get("rtcp-mux") else "", " ice" if m.get("ice") else ""))
        table.append((name, "same" if not d else "DIFF", "; ".join(summary)))
        diffs += [(name,) + x for x in d]
        if a.v:
            print(json.dumps(dump[name], indent=1, sort_keys=True))
    w = max(len(t[0]) for t in table)
    print("%-*s  %-4s  %s" % (w, "case", "", "%s's structure (offer; answer)" % na))
    for name, st, s in table:
        print("%-*s  %-4s  %s" % (w, name, st, s))
    if diffs:
        print("\ndifferences (%s vs %s):" % (na, nb))
        cw = max(len(x[0]) for x in diffs)
        kw = max(len(x[1]) for x in diffs)
        for c, k, va, vb in diffs:
            print("  %-*s  %-*s  %s: %s | %s: %s" % (cw, c, kw, k, na, va, nb, vb))
    print("\n%d cases, %d differ" % (len(table), sum(1 for t in table if t[1] != "same")))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(dump, f, indent=1, sort_keys=True)
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
