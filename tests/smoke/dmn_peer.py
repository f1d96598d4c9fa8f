#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Misbehaving peers of the control socket, for the daemons smoke test.

  dmn_peer.py client SOCKET SIZES.json CASE   act as a bad client of the dataplane
  dmn_peer.py fake-dp SOCKET SIZES.json       act as a dataplane with other sizes

SIZES.json is `mediagate-dpctl info` output: the real size table, so this
script never hard-codes what the C headers define; it only perturbs it.
Prints one line per observation; exit 0 when the peer behaved as expected.
"""
import json
import os
import socket
import struct
import sys

HDR = struct.Struct("<HHHHIiII")  # version type flags reserved req_id result length reserved2
HELLO_HEAD = struct.Struct("<IIIIII32s")
SIZE = struct.Struct("<HHII")
MAX_TYPES = 32
F_REPLY = 1
T_HELLO, T_PING = 1, 2
EACCES, EPROTO, EMSGSIZE = 13, 71, 90


def load_sizes(path):
    info = json.load(open(path))
    names = {m["type"]: i + 1 for i, m in enumerate(info["messages"])}
    sizes = [(names[m["type"]], m["request"], m["reply"]) for m in info["messages"]]
    return info["protocol_version"], info["header_size"], sizes, names


def hello_body(version, hdr_size, sizes, role=3, name=b"dmn_peer.py"):
    body = HELLO_HEAD.pack(version, role, os.getpid(), hdr_size, len(sizes), 0, name)
    table = b"".join(SIZE.pack(t, 0, rq, rp) for t, rq, rp in sizes)
    table += b"\0" * (SIZE.size * (MAX_TYPES - len(sizes)))
    return body + table


def msg(version, mtype, req_id, body, flags=0, result=0):
    return HDR.pack(version, mtype, flags, 0, req_id, result, len(body), 0) + body


def recv_hdr(sock):
    data = sock.recv(65536)
    if not data:
        return None, b""
    return HDR.unpack_from(data), data[HDR.size:]


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(5)
    s.connect(path)
    return s


def client(path, sizes_file, case):
    version, hdr_size, sizes, names = load_sizes(sizes_file)
    s = connect(path)
    if case == "size-mismatch":
        bad = [(t, rq + 8 if t == names["SESSION_ADD"] else rq, rp) for t, rq, rp in sizes]
        s.send(msg(version, T_HELLO, 7, hello_body(version, hdr_size, bad)))
        h, body = recv_hdr(s)
        print("reply type=%d flags=%d id=%d result=%d length=%d" % (h[1], h[2], h[4], h[5], h[6]))
        ok = h[1] == T_HELLO and h[2] & F_REPLY and h[4] == 7 and h[5] == -EPROTO
        # The refusal carries the dataplane's own table, and then it hangs up.
        ok = ok and h[6] == len(hello_body(version, hdr_size, sizes))
        ok = ok and recv_hdr(s)[0] is None
    elif case == "version-mismatch":
        bogus = 99 if version != 99 else 98  # a version nobody speaks (the check reads 99)
        s.send(msg(bogus, T_HELLO, 8, hello_body(bogus, hdr_size, sizes)))
        h, body = recv_hdr(s)
        print("reply type=%d id=%d result=%d" % (h[1], h[4], h[5]))
        ok = h[1] == T_HELLO and h[5] == -EPROTO and recv_hdr(s)[0] is None
    elif case == "garbage":
        s.send(b"\x01\x02\x03\x04\x05")  # shorter than a header
        h, _ = recv_hdr(s)
        print("after garbage: %s" % ("closed" if h is None else "answered"))
        ok = h is None
    elif case == "bad-requests":
        s.send(msg(version, T_HELLO, 1, hello_body(version, hdr_size, sizes)))
        h, _ = recv_hdr(s)
        ok = h[5] == 0
        # Oversized datagram, truncated PING, unknown type: each answered, link kept.
        s.send(msg(version, T_PING, 2, b"\0" * 5000))
        h, _ = recv_hdr(s)
        print("oversized: result=%d" % h[5])
        ok = ok and h[4] == 2 and h[5] == -EMSGSIZE
        s.send(msg(version, T_PING, 3, b"\0" * 8))
        h, _ = recv_hdr(s)
        print("truncated ping: result=%d" % h[5])
        ok = ok and h[4] == 3 and h[5] == -EMSGSIZE
        s.send(msg(version, 999, 4, b""))
        h, _ = recv_hdr(s)
        print("unknown type: result=%d" % h[5])
        ok = ok and h[4] == 4 and h[5] == -EPROTO
        s.send(msg(version, T_PING, 5, b"\0" * 16))
        h, body = recv_hdr(s)
        print("ping after all that: result=%d" % h[5])
        ok = ok and h[4] == 5 and h[5] == 0 and h[2] & F_REPLY
    elif case == "oversized-before-hello":
        # An oversized datagram before HELLO: no answer at all, the link closed.
        s.send(msg(version, T_PING, 9, b"\0" * 5000))
        h, _ = recv_hdr(s)
        print("oversized before HELLO: %s" % ("closed" if h is None else
                                              "answered result=%d" % h[5]))
        ok = h is None
    elif case == "oversized-refused":
        # As a uid that is not allowed: refused (EACCES) and closed, like any
        # other message of that peer; never -EMSGSIZE, never kept open.
        s.send(msg(version, T_PING, 9, b"\0" * 5000))
        h, _ = recv_hdr(s)
        print("oversized from a refused uid: %s" % ("closed" if h is None else
                                                    "answered result=%d" % h[5]))
        ok = h is not None and h[5] == -EACCES and recv_hdr(s)[0] is None
    elif case == "pipeline":
        # 3000 PINGs without waiting for answers, reading whatever comes back:
        # the dataplane pushes back instead of dropping replies.
        import selectors
        s.send(msg(version, T_HELLO, 1, hello_body(version, hdr_size, sizes)))
        ok = recv_hdr(s)[0][5] == 0
        s.setblocking(False)
        total, sent, got = 3000, 0, []
        # Phase 1: send without reading until the socket refuses more. The
        # answers fill our receive queue, so the dataplane must hold its
        # reply and stop reading us, which is what stops our sends.
        while sent < total:
            try:
                s.send(msg(version, T_PING, 2 + sent, struct.pack("<QQ", sent, 0)))
                sent += 1
            except BlockingIOError:
                break
        blocked_at = sent
        # Phase 2: read and send as room appears.
        sel = selectors.DefaultSelector()
        sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
        while len(got) < total:
            events = sel.select(timeout=10)
            if not events:
                break
            for _, ev in events:
                if ev & selectors.EVENT_WRITE and sent < total:
                    try:
                        s.send(msg(version, T_PING, 2 + sent, struct.pack("<QQ", sent, 0)))
                        sent += 1
                    except BlockingIOError:
                        pass
                if ev & selectors.EVENT_READ:
                    try:
                        data = s.recv(65536)
                    except BlockingIOError:
                        continue
                    got.append(HDR.unpack_from(data)[4])
            if sent == total:
                sel.modify(s, selectors.EVENT_READ)
        print("pipeline: first %d sent before the socket pushed back" % blocked_at)
        ok = ok and blocked_at < total
        print("pipeline: sent %d, answered %d" % (sent, len(got)))
        ok = ok and got == list(range(2, 2 + total))
    elif case == "ping-ahead":
        # Liveness is not queued behind work: thousands of requests sent
        # without waiting (read only when the socket pushes back, as a busy
        # control plane would), then a PING. The dataplane reads ahead and
        # answers the PING before the replies of the backlog; every other
        # request is answered once, in the order sent.
        s.send(msg(version, T_HELLO, 1, hello_body(version, hdr_size, sizes)))
        ok = recv_hdr(s)[0][5] == 0
        stats_type = names["SESSION_STATS"]
        stats_len = [rq for t, rq, rp in sizes if t == stats_type][0]
        total, first_id, ping_id = 4000, 100, 99
        got = []  # (req_id, type) in arrival order

        def read_one():
            s.setblocking(True)
            s.settimeout(10)
            data = s.recv(65536)
            s.setblocking(False)
            h = HDR.unpack_from(data)
            got.append((h[4], h[1], h[5]))

        def send_pushed(m):
            while True:
                try:
                    s.send(m)
                    return
                except BlockingIOError:
                    read_one()

        s.setblocking(False)
        for i in range(total):
            send_pushed(msg(version, stats_type, first_id + i, b"\0" * stats_len))
        send_pushed(msg(version, T_PING, ping_id, struct.pack("<QQ", 7, 0)))
        while len(got) < total + 1:
            read_one()
        pongs = [k for k, g in enumerate(got) if g[0] == ping_id]
        backlog = [g[0] for g in got if g[0] != ping_id]
        ok = ok and len(pongs) == 1 and got[pongs[0]][1] == T_PING and got[pongs[0]][2] == 0
        overtaken = len(got) - 1 - pongs[0] if pongs else 0
        print("ping-ahead: %d requests then a PING; the PONG came back before %d of their "
              "replies" % (total, overtaken))
        ok = ok and overtaken > 0
        ok = ok and backlog == list(range(first_id, first_id + total))
        print("ping-ahead: the other replies: %d, in the order sent: %s"
              % (len(backlog), backlog == list(range(first_id, first_id + total))))
    elif case == "silent":
        # Never says HELLO: the dataplane must free the slot after its timeout.
        s.settimeout(15)
        h, _ = recv_hdr(s)
        print("silent peer: %s" % ("closed by the dataplane" if h is None else "answered"))
        ok = h is None
    else:
        raise SystemExit("unknown case " + case)
    print("%s: %s" % (case, "as expected" if ok else "UNEXPECTED"))
    return 0 if ok else 1


def fake_dp(path, sizes_file):
    """Answer every HELLO with a table whose SESSION_ADD is 8 bytes longer."""
    version, hdr_size, sizes, names = load_sizes(sizes_file)
    bad = [(t, rq + 8 if t == names["SESSION_ADD"] else rq, rp) for t, rq, rp in sizes]
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    srv.bind(path)
    srv.listen(4)
    srv.settimeout(20)
    served = 0
    while served < 1:
        conn, _ = srv.accept()
        conn.settimeout(5)
        h, _ = recv_hdr(conn)
        if h is not None and h[1] == T_HELLO:
            conn.send(msg(version, T_HELLO, h[4], hello_body(version, hdr_size, bad, role=2,
                                                                name=b"fake-dataplane"),
                          flags=F_REPLY))
            served += 1
            print("fake-dp: answered HELLO %d with a bad table" % served, flush=True)
        # The control plane must hang up on us.
        h2, _ = recv_hdr(conn)
        print("fake-dp: peer %s" % ("hung up" if h2 is None else "sent more"), flush=True)
        conn.close()
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "client":
        sys.exit(client(sys.argv[2], sys.argv[3], sys.argv[4]))
    if len(sys.argv) == 4 and sys.argv[1] == "fake-dp":
        sys.exit(fake_dp(sys.argv[2], sys.argv[3]))
    sys.exit(__doc__)
