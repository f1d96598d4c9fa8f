#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The operator's socket (mediagate.control.cliSocket) under clients that
# pipeline: mediagate-control alone (no dataplane). Requests are read 64 KB
# ahead of their execution, however many arrive at once (a burst of complete
# lines is not "a line too long"); over 4 MiB of unread replies the next
# requests wait, so a client that does not read stalls instead of piling
# replies up in the daemon. Then the daemon still answers mgctl.
# Checks read the socket and mgctl's JSON, not the log.
#   cli_sock_test.sh CONTROL MGCTL
set -uo pipefail
CONTROL=$1 MGCTL=$2
W=$(mktemp -d /tmp/cli-sock-test.XXXXXX)
PID=
fail=0
cleanup() { [ -n "$PID" ] && kill "$PID" 2> /dev/null && wait "$PID" 2> /dev/null; rm -rf "$W"; }
trap cleanup EXIT
ok() { echo "ok - $1"; }
bad() { echo "not ok - $1"; fail=1; [ -n "${2:-}" ] && sed 's/^/  | /' "$2" | tail -20; }

cat > "$W/rules.xml" << EOF2
<?xml version="1.0" encoding="UTF-8"?>
<routing_rules>
</routing_rules>
EOF2
start() {
	# a SIP port of its own: another run may hold the one tried first
	local port
	for _ in 1 2 3 4 5; do
		port=$((40000 + RANDOM % 20000))
		cat > "$W/gw.properties" << EOF2
netborder.sip.userAgent.IPAddress=127.0.0.1:$port/udp
mediagate.routing.rulesFile=$W/rules.xml
mediagate.control.socket=$W/dp.sock
mediagate.control.cliSocket=$W/control.sock
mediagate.control.allowedUids=$(id -u)
mediagate.log.level=info
EOF2
		"$CONTROL" --config "$W/gw.properties" > "$W/control.log" 2>&1 &
		PID=$!
		for _ in $(seq 100); do
			[ -S "$W/control.sock" ] && return 0
			kill -0 "$PID" 2> /dev/null || break
			sleep 0.1
		done
		kill "$PID" 2> /dev/null
		wait "$PID" 2> /dev/null
		PID=
	done
	return 1
}
version_ok() { "$MGCTL" --config "$W/gw.properties" --json version | python3 -c 'import json,sys; print(json.load(sys.stdin)["result"])'; }

start && ok "mediagate-control serves $W/control.sock" || { bad "mediagate-control started" "$W/control.log"; exit 1; }
[ "$(version_ok)" = ok ] && ok "mgctl version answered" || bad "mgctl version answered"

# 30000 bad requests in one write: each answered with an error, in order
python3 - "$W/control.sock" > "$W/lines.out" << 'EOF2'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.settimeout(20)
s.sendall(b"x\n" * 30000)
got, buf = 0, b""
while got < 30000:
    d = s.recv(1 << 20)
    if not d:
        break
    got += d.count(b"\n")
    buf = (buf + d)[-4096:]
print(got, b'"result":"error"' in buf)
EOF2
[ "$(cat "$W/lines.out")" = "30000 True" ] && ok "30000 bad lines in one write: 30000 error replies" ||
	bad "30000 bad lines answered ($(cat "$W/lines.out"))"

# 150000 requests in one send (300 KB, the socket takes 200 KB of it at once),
# replies read meanwhile: all answered (the connection used to be closed as
# "more than 65536 bytes without a newline" when 64 KB of lines came at once)
python3 - "$W/control.sock" > "$W/pipe.out" << 'EOF2'
import socket, sys, threading
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.settimeout(30)
got = [0]
def reader():
    try:
        while got[0] < 150000:
            d = s.recv(1 << 20)
            if not d:
                break
            got[0] += d.count(b"\n")
    except OSError:
        pass
t = threading.Thread(target=reader)
t.start()
try:
    s.sendall(b"x\n" * 150000)
except OSError:
    pass
t.join()
print(got[0])
EOF2
[ "$(cat "$W/pipe.out")" = 150000 ] && ok "150000 pipelined requests in one write, replies read meanwhile: 150000 replies" ||
	bad "150000 pipelined requests answered (got $(cat "$W/pipe.out"))"

# 150000 requests (about 14 MB of replies), nothing read: the daemon stops
# executing them at 4 MiB of unread replies and then stops reading, so the
# client's writes block (before: the replies piled up in the daemon for as
# long as it wrote, or a burst over 64 KB closed it); reading, it gets all
python3 - "$W/control.sock" > "$W/noread.out" << 'EOF2'
import select, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
data, off = b"x\n" * 150000, 0
s.settimeout(3)
try:
    while off < len(data):
        off += s.send(data[off:off + 65536])
except socket.timeout:
    pass
except OSError:
    print("closed", off, 0)
    sys.exit(0)
stalled_at = off
got = 0
s.setblocking(False)
try:
    while got < 150000:
        try:
            d = s.recv(1 << 20)
            if not d:
                break
            got += d.count(b"\n")
        except BlockingIOError:
            if off < len(data):
                try:
                    off += s.send(data[off:off + 65536])
                except BlockingIOError:
                    select.select([s], [s], [], 5)
            elif not select.select([s], [], [], 5)[0]:
                break
except OSError:
    pass
print("stalled" if stalled_at < len(data) else "served", stalled_at, got)
EOF2
read -r verdict sent got < "$W/noread.out"
[ "$verdict" = stalled ] && ok "a client that does not read: its writes block after $sent of 300000 bytes" ||
	bad "a client that does not read is held back ($verdict after $sent bytes)"
[ "$got" = 150000 ] && ok "  reading, it gets all 150000 replies" || bad "  reading, it gets all 150000 replies (got $got)"
kill -0 "$PID" 2> /dev/null && [ "$(version_ok)" = ok ] && ok "mediagate-control still answers mgctl" ||
	bad "mediagate-control still answers mgctl" "$W/control.log"
exit $fail
