#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Send one NG offer (flags from a JSON file, SDP from a file) to rtpengine
# and print the SDP it returns: ng.py FLAGS.json OFFER.sdp
import os, socket, sys, json, random, string
def benc(x):
    if isinstance(x, int): return b"i%de" % x
    if isinstance(x, str): x = x.encode()
    if isinstance(x, bytes): return b"%d:%s" % (len(x), x)
    if isinstance(x, list): return b"l" + b"".join(benc(i) for i in x) + b"e"
    if isinstance(x, dict): return b"d" + b"".join(benc(k) + benc(v) for k, v in sorted(x.items())) + b"e"
def bdec(b, i=0):
    c = b[i:i+1]
    if c == b"i":
        j = b.index(b"e", i); return int(b[i+1:j]), j+1
    if c == b"l":
        i += 1; r = []
        while b[i:i+1] != b"e":
            v, i = bdec(b, i); r.append(v)
        return r, i+1
    if c == b"d":
        i += 1; r = {}
        while b[i:i+1] != b"e":
            k, i = bdec(b, i); v, i = bdec(b, i); r[k.decode()] = v
        return r, i+1
    j = b.index(b":", i); n = int(b[i:j]); return b[j+1:j+1+n], j+1+n
def ng(cmd):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(3)
    cookie = "".join(random.choice(string.ascii_lowercase) for _ in range(8))
    s.sendto(cookie.encode() + b" " + benc(cmd), (os.environ.get("NG_HOST", "127.0.0.1"), int(os.environ.get("NG_PORT", "22399"))))
    d = s.recv(65535); c, rest = d.split(b" ", 1)
    return bdec(rest)[0]
if __name__ == "__main__":
    cmd = json.load(open(sys.argv[1])); sdpf = sys.argv[2]
    cmd["sdp"] = open(sdpf, "rb").read().decode()
    cmd.setdefault("call-id", "c" + str(random.randint(0, 1 << 30)))
    cmd.setdefault("from-tag", "ft1")
    cmd.setdefault("command", "offer")
    r = ng(cmd)
    if r.get("result") != b"ok": print(r, file=sys.stderr); sys.exit(1)
    sys.stdout.write(r["sdp"].decode())
