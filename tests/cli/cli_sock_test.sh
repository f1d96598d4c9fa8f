#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The operator's socket (mediagate.control.cliSocket) under clients that
# pipeline: mediagate-control alone (no dataplane). Requests are read 64 KB
# ahead of their execution, however many arrive at once (a burst of complete
# lines is not "a line too long"); a client that does not read its replies
# is closed once 4 MiB of them wait unsent (as NG over TCP), instead of the
# replies piling up in the daemon. Then the daemon still answers mgctl.
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

# 150000 requests (about 14 MB of replies), nothing read until the end
python3 - "$W/control.sock" > "$W/noread.out" << 'EOF2'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.settimeout(20)
closed = False
for i in range(5):
    try:
        s.sendall(b"x\n" * 30000)
    except OSError:
        closed = True
        break
got = 0
while True:
    try:
        d = s.recv(1 << 20)
    except OSError:
        closed = True
        break
    if not d:
        break
    got += d.count(b"\n")
print("closed" if closed or got < 150000 else "served", got)
EOF2
read -r verdict got < "$W/noread.out"
[ "$verdict" = closed ] && ok "a client that does not read its replies is closed ($got of 150000 replies sent)" ||
	bad "a client that does not read its replies is closed (all $got replies were buffered for it)"
kill -0 "$PID" 2> /dev/null && [ "$(version_ok)" = ok ] && ok "mediagate-control still answers mgctl" ||
	bad "mediagate-control still answers mgctl" "$W/control.log"
exit $fail
