# SPDX-License-Identifier: BSD-3-Clause
"""N SRTP<->SRTP calls set up over NG (offer from A, answer from B, both
AES_CM_128_HMAC_SHA1_80 with fresh SDES keys), for the tests that stream
SRTP through them (dp_restart, ha_redis, ha_standby).

  srtp_calls.py NG_ADDR A B PREFIX FIRST N PORT_A0 PORT_B0

Call i (FIRST .. FIRST+N-1): Call-ID PREFIX-i, tags ta<i>/tb<i>, A's SDP port
PORT_A0 + 2i, B's PORT_B0 + 2i. One line per call:
  CALL PORT_A PORT_B KEY_A KEY_B KEY_TO_A KEY_TO_B MEDIA
PORT_A/PORT_B: the relay's ports facing A (answer SDP) and B (offer SDP);
keys (hex, 30 bytes): A's and B's own, the relay's toward A and toward B;
MEDIA: the relay's media address in the answer to A.
"""
import base64
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ng_client import NG  # noqa: E402

S80 = "AES_CM_128_HMAC_SHA1_80"


def sdp(addr, port, key, tag=1):
    return "\r\n".join(["v=0", "o=- 1 1 IN IP4 %s" % addr, "s=-", "c=IN IP4 %s" % addr, "t=0 0",
                        "m=audio %d RTP/SAVP 0" % port, "a=rtpmap:0 PCMU/8000", "a=sendrecv",
                        "a=crypto:%d %s inline:%s" % (tag, S80, base64.b64encode(key).decode())]) + "\r\n"


def crypto80(s):
    m = re.search(r"a=crypto:(\d+) " + S80 + r" inline:([A-Za-z0-9+/=]{40})", s)
    return int(m.group(1)), base64.b64decode(m.group(2))


def port(s):
    return int(re.search(r"m=audio (\d+)", s).group(1))


def addr(s):
    return re.search(r"c=IN IP4 (\S+)", s).group(1)


def main(argv):
    ng, a, b, prefix = NG(argv[1]), argv[2], argv[3], argv[4]
    first, n, pa0, pb0 = int(argv[5]), int(argv[6]), int(argv[7]), int(argv[8])
    for i in range(first, first + n):
        ka, kb = os.urandom(30), os.urandom(30)
        cid = "%s-%d" % (prefix, i)
        o = ng.request({"command": "offer", "call-id": cid, "from-tag": "ta%d" % i,
                        "sdp": sdp(a, pa0 + 2 * i, ka), "transport-protocol": "RTP/SAVP"})
        assert o["result"] == "ok", o
        tag_b, k_to_b = crypto80(o["sdp"])
        r = ng.request({"command": "answer", "call-id": cid, "from-tag": "ta%d" % i,
                        "to-tag": "tb%d" % i, "sdp": sdp(b, pb0 + 2 * i, kb, tag_b)})
        assert r["result"] == "ok", r
        _, k_to_a = crypto80(r["sdp"])
        print(cid, port(r["sdp"]), port(o["sdp"]), ka.hex(), kb.hex(), k_to_a.hex(), k_to_b.hex(),
              addr(r["sdp"]), flush=True)
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 9:
        sys.exit(__doc__)
    sys.exit(main(sys.argv))
