#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Listen to baresip's ctrl_tcp events for tdme_two_gateways.sh.

  tdme_events.py PORT SECONDS OUTFILE

Connects to ctrl_tcp on 127.0.0.1:PORT (run it inside the peer's namespace),
reads netstring-framed JSON messages for SECONDS (or until the connection is
closed) and writes one line per CALL_DTMF_START event to OUTFILE: the key
baresip got as an RFC 4733 telephone-event. ctrl_tcp keeps one client, so
nothing else may talk to that baresip meanwhile.
"""
import json
import socket
import sys
import time

port, secs, out = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
s = socket.create_connection(("127.0.0.1", port), timeout=2)
end = time.monotonic() + secs
buf = b""
with open(out, "w") as f:
    f.write("listening\n")
    f.flush()
    while time.monotonic() < end:
        s.settimeout(max(0.05, end - time.monotonic()))
        try:
            d = s.recv(4096)
        except socket.timeout:
            break
        if not d:
            break
        buf += d
        while b":" in buf:
            n, _, rest = buf.partition(b":")
            if not n.isdigit() or len(rest) < int(n) + 1:
                break
            msg, buf = rest[:int(n)], rest[int(n) + 1:]
            try:
                m = json.loads(msg)
            except ValueError:
                continue
            if m.get("type") == "CALL_DTMF_START":
                f.write("DTMF %s\n" % m.get("param", ""))
                f.flush()
