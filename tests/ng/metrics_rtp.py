#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""One plain RTP peer for metrics_test.sh: bind LOCAL, send COUNT PCMU
packets (12-byte header + 160 bytes of payload) to REMOTE 5 ms apart, from
0.5 s after the start (the other peer binds meanwhile), while receiving, keep receiving until SECS have passed, print how many RTP packets
arrived (one line, an integer).

  metrics_rtp.py LOCAL_IP:PORT REMOTE_IP:PORT COUNT SSRC [SECS]
"""
import socket
import struct
import sys
import time


def addr(s):
    host, port = s.rsplit(":", 1)
    return host, int(port)


def main():
    local, remote = addr(sys.argv[1]), addr(sys.argv[2])
    count, ssrc = int(sys.argv[3]), int(sys.argv[4], 0)
    secs = float(sys.argv[5]) if len(sys.argv) > 5 else 3.0
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(local)
    s.settimeout(0.005)
    got = sent = 0
    end = time.monotonic() + secs
    # the other peer is started at the same time: give it time to bind its
    # socket before anything is sent its way (a port not yet bound loses it)
    nxt = time.monotonic() + 0.5
    while time.monotonic() < end:
        now = time.monotonic()
        if sent < count and now >= nxt:
            hdr = struct.pack("!BBHII", 0x80, 0, sent & 0xFFFF, sent * 160, ssrc)
            s.sendto(hdr + b"\xff" * 160, remote)
            sent += 1
            nxt = now + 0.005
        try:
            data = s.recv(2048)
        except socket.timeout:
            continue
        if len(data) >= 12 and data[0] >> 6 == 2:
            got += 1
    print(got)


if __name__ == "__main__":
    main()
