#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""A small NG control protocol client (rtpengine's protocol, SPEC.md §8).

  ng_client.py ADDR:PORT 'JSON-DICT'          one request over UDP, reply as JSON
  ng_client.py --http ADDR:PORT 'JSON-DICT'   POST /ng-plain (JSON in, JSON out)
  ng_client.py --http-ng ADDR:PORT 'JSON'     POST /ng (cookie + bencode over HTTP)
  ng_client.py ADDR:PORT -                    the request dict from stdin

UDP: "COOKIE SP bencode-dict", retransmitted with the same cookie every
--timeout/--retries seconds (a relay must answer a retransmission from its
cookie cache, not execute it twice). Exit status: 0 when a reply came (whatever
its result), 2 when none did, 3 on a malformed reply. Strings in the reply are
decoded as UTF-8 (invalid bytes replaced) so the output is always JSON.

As a module: NG(addr).request({"command": "ping"}) -> dict.
"""
import argparse
import json
import os
import socket
import sys
import time
import urllib.request


# ---- bencode ----------------------------------------------------------------
def bencode(v):
    if isinstance(v, bool):
        v = int(v)
    if isinstance(v, int):
        return b"i%de" % v
    if isinstance(v, str):
        v = v.encode()
    if isinstance(v, (bytes, bytearray)):
        return b"%d:%s" % (len(v), bytes(v))
    if isinstance(v, (list, tuple)):
        return b"l" + b"".join(bencode(x) for x in v) + b"e"
    if isinstance(v, dict):
        out = [b"d"]
        # Sorted as bencode wants; relays must not depend on it (SPEC: any order).
        for k in sorted(v, key=lambda k: k.encode() if isinstance(k, str) else k):
            out.append(bencode(k))
            out.append(bencode(v[k]))
        out.append(b"e")
        return b"".join(out)
    raise TypeError("cannot bencode %r" % type(v))


class BencodeError(ValueError):
    pass


def bdecode(data, text=True):
    """Decode one bencoded value that fills @data; strings as str when @text."""
    def dec(i):
        if i >= len(data):
            raise BencodeError("truncated at %d" % i)
        c = data[i:i + 1]
        if c == b"i":
            j = data.index(b"e", i)
            return int(data[i + 1:j]), j + 1
        if c == b"l":
            i += 1
            out = []
            while data[i:i + 1] != b"e":
                x, i = dec(i)
                out.append(x)
            return out, i + 1
        if c == b"d":
            i += 1
            out = {}
            while data[i:i + 1] != b"e":
                k, i = dec(i)
                if not isinstance(k, (str, bytes)):
                    raise BencodeError("dict key not a string at %d" % i)
                v, i = dec(i)
                out[k] = v
            return out, i + 1
        if c.isdigit():
            j = data.index(b":", i)
            n = int(data[i:j])
            s = data[j + 1:j + 1 + n]
            if len(s) != n:
                raise BencodeError("string truncated at %d" % i)
            return (s.decode("utf-8", "replace") if text else s), j + 1 + n
        raise BencodeError("bad byte %r at %d" % (c, i))
    try:
        v, end = dec(0)
    except (ValueError, IndexError) as e:
        raise BencodeError(str(e))
    if end != len(data):
        raise BencodeError("%d trailing bytes" % (len(data) - end))
    return v


# ---- transports ----------------------------------------------------------------
def split_addr(addr):
    host, _, port = addr.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    return host, int(port)


class NGTimeout(Exception):
    pass


class NG:
    """One NG relay over UDP (or HTTP with http=True / http_ng=True)."""

    def __init__(self, addr, timeout=1.0, retries=3, http=False, http_ng=False):
        self.addr = addr
        self.host, self.port = split_addr(addr)
        self.timeout, self.retries = timeout, retries
        self.http, self.http_ng = http, http_ng
        self.seq = 0
        self.sock = None

    def _cookie(self):
        self.seq += 1
        return "%x_%d_%d" % (os.getpid(), int(time.time() * 1000) % 10**8, self.seq)

    def request(self, req):
        if self.http:
            return self._http_plain(req)
        if self.http_ng:
            return self._http_ng(req)
        return self._udp(req)

    def _udp(self, req):
        if self.sock is None:
            fam = socket.AF_INET6 if ":" in self.host else socket.AF_INET
            self.sock = socket.socket(fam, socket.SOCK_DGRAM)
            self.sock.connect((self.host, self.port))
        cookie = self._cookie().encode()
        msg = cookie + b" " + bencode(req)
        for _ in range(max(1, self.retries)):
            self.sock.send(msg)
            deadline = time.monotonic() + self.timeout
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.sock.settimeout(left)
                try:
                    data = self.sock.recv(65536)
                except socket.timeout:
                    break
                except ConnectionRefusedError:
                    time.sleep(min(left, 0.05))
                    continue
                c, _, body = data.partition(b" ")
                if c != cookie:
                    continue  # a late reply to an earlier request
                return bdecode(body)
        raise NGTimeout("no reply from %s after %d tries" % (self.addr, self.retries))

    def _http_plain(self, req):
        r = urllib.request.Request("http://%s:%d/ng-plain" % (self.host, self.port),
                                   data=json.dumps(req).encode(), method="POST",
                                   headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(r, timeout=self.timeout * self.retries) as f:
            return json.loads(f.read())

    def _http_ng(self, req):
        cookie = self._cookie().encode()
        r = urllib.request.Request("http://%s:%d/ng" % (self.host, self.port),
                                   data=cookie + b" " + bencode(req), method="POST",
                                   headers={"Content-Type": "application/x-rtpengine-ng"})
        with urllib.request.urlopen(r, timeout=self.timeout * self.retries) as f:
            c, _, body = f.read().partition(b" ")
        return bdecode(body)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("addr", help="relay's NG address, HOST:PORT")
    ap.add_argument("request", help="request dict as JSON, or - for stdin")
    ap.add_argument("--http", action="store_true", help="POST /ng-plain (JSON)")
    ap.add_argument("--http-ng", action="store_true", help="POST /ng (cookie + bencode)")
    ap.add_argument("--timeout", type=float, default=1.0, help="seconds per try (1)")
    ap.add_argument("--retries", type=int, default=3, help="tries, same cookie (3)")
    ap.add_argument("--compact", action="store_true", help="one line of JSON")
    a = ap.parse_args()
    text = sys.stdin.read() if a.request == "-" else a.request
    try:
        req = json.loads(text)
    except ValueError as e:
        print("ng_client: request is not JSON: %s" % e, file=sys.stderr)
        return 64
    if not isinstance(req, dict) or "command" not in req:
        print("ng_client: the request must be a JSON object with a \"command\"", file=sys.stderr)
        return 64
    try:
        rep = NG(a.addr, a.timeout, a.retries, a.http, a.http_ng).request(req)
    except NGTimeout as e:
        print("ng_client: %s" % e, file=sys.stderr)
        return 2
    except OSError as e:
        print("ng_client: %s: %s" % (a.addr, e), file=sys.stderr)
        return 2
    except (BencodeError, ValueError) as e:
        print("ng_client: malformed reply: %s" % e, file=sys.stderr)
        return 3
    print(json.dumps(rep, indent=None if a.compact else 1, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
