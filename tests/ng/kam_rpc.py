#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Kamailio JSON-RPC over its unix datagram socket (jsonrpcs, transport 4).

  kam_rpc.py SOCKET METHOD [PARAM...]     prints the "result" as JSON

e.g. kam_rpc.py /tmp/ng-1a2b/kam/rpc.sock rtpengine.show all
Params that look like integers are sent as integers. Exit 1 on an RPC error
(printed on stderr), 2 when Kamailio did not answer within 3 s.
"""
import json
import os
import socket
import sys
import tempfile


def call(sock_path, method, *params, timeout=3.0):
    d = tempfile.mkdtemp(prefix="kamrpc.")
    me = os.path.join(d, "s")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        s.bind(me)
        s.settimeout(timeout)
        req = {"jsonrpc": "2.0", "method": method, "id": 1,
               "params": [int(p) if isinstance(p, str) and p.lstrip("-").isdigit() else p
                          for p in params]}
        s.sendto(json.dumps(req).encode(), sock_path)
        data = s.recv(1 << 20)
    finally:
        s.close()
        try:
            os.unlink(me)
        except OSError:
            pass
        os.rmdir(d)
    return json.loads(data)


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 64
    try:
        rep = call(sys.argv[1], sys.argv[2], *sys.argv[3:])
    except socket.timeout:
        print("kam_rpc: no answer from %s" % sys.argv[1], file=sys.stderr)
        return 2
    except OSError as e:
        print("kam_rpc: %s: %s" % (sys.argv[1], e), file=sys.stderr)
        return 2
    if "error" in rep:
        print("kam_rpc: %s: %s" % (sys.argv[2], json.dumps(rep["error"])), file=sys.stderr)
        return 1
    print(json.dumps(rep.get("result"), indent=1, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
