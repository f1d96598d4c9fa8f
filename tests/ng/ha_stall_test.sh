#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# A stalled Redis never stalls SIP (docs/ha-state.md "Control restart",
# "A dead gateway's calls", "Liveness"). mediagate-control with a SIP user
# agent on loopback and Redis on a unix socket (a redis-server of this run;
# no dataplane: not needed here). Redis is stopped (SIGSTOP: it accepts and
# never answers):
#  1. `mgctl ha adopt ghost` (its heartbeat read hangs): meanwhile `mgctl
#     stats` answers and shows the read in flight (redis.reads_pending 1; a
#     blocking read would hold the loop, and this answer, until it ended),
#     and a SIP OPTIONS is answered 200 before mgctl's answer comes; that
#     is an error at mediagate.redis.readTimeout: exit 1, result error,
#     redis.read_timeouts +1, ha.peer_read_failed +1.
#  2. a restart with Redis stopped: SIP opens at readTimeout without the
#     read-back (OPTIONS answered while Redis is still stopped;
#     redis.sip_held_timeout 1, read_timeouts 1).
#  3. Redis back: the heartbeat mg:NODE:alive is written (PTTL > 0); a clean
#     stop (SIGTERM) deletes it.
#   [BUILD=dir] [SRC=dir] ha_stall_test.sh
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=${SRC:-$(cd "$HERE/../.." && pwd)}
BUILD=${BUILD:-$SRC/build}
. "$SRC/tests/interop/call_lib.sh"
CONTROL=$BUILD/control/mediagate-control
MGCTL=$BUILD/control/mgctl/mgctl
for b in "$CONTROL" "$MGCTL"; do [ -x "$b" ] || { echo "ha_stall: $b was not built"; exit 1; }; done
for p in redis-server redis-cli python3; do command -v $p > /dev/null || { echo "ha_stall: $p is not installed"; exit 1; }; done
W=$(mktemp -d /tmp/ha-stall.XXXXXX)
PIDS=()
NODE=stall-$$
SIP_PORT=$((20000 + $$ % 20000))
cleanup() {
	[ -n "${REDIS_PID:-}" ] && kill -CONT "$REDIS_PID" 2> /dev/null
	stop_pids
	[ "${fail:-0}" -ne 0 ] && echo "# files kept in $W" || rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
cd "$W" || exit 1
redis_start "$W/redis.sock" "$W" || { echo "ha_stall: redis-server did not start"; exit 1; }
rcli() { redis-cli -s "$W/redis.sock" "$@"; }
cat > gw.properties << EOF
netborder.sip.userAgent.IPAddress=127.0.0.1:$SIP_PORT/udp
mediagate.log.level=info
mediagate.control.socket=$W/dp.sock
mediagate.control.cliSocket=$W/cli.sock
mediagate.control.allowedUids=0
mediagate.metrics.listen=
mediagate.redis.url=unix:$W/redis.sock
mediagate.redis.node=$NODE
mediagate.redis.readTimeout=5000
EOF
mgctl() { "$MGCTL" --json --socket "$W/cli.sock" "$@"; }
st() { mgctl stats 2> /dev/null | jq_py "$1"; }
# options TAG: a SIP OPTIONS to the gateway; "TAG STATUS" appended to order.txt
# when the answer comes (10 s at most: "TAG none")
options() {
	python3 - "$SIP_PORT" "$1" "$W/order.txt" << 'PY'
import random, socket, sys
port, tag, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
lp = s.getsockname()[1]
b = "z9hG4bK%08x" % random.getrandbits(32)
msg = ("OPTIONS sip:ping@127.0.0.1:%d SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=%s;rport\r\n"
       "From: <sip:t@127.0.0.1:%d>;tag=%s\r\nTo: <sip:ping@127.0.0.1:%d>\r\nCall-ID: %s@stall\r\n"
       "CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n") % (port, lp, b, lp, b[7:], port, b)
s.settimeout(0.5)
code = "none"
for i in range(20):  # retransmitted every 0.5 s, 10 s at most
    s.sendto(msg.encode(), ("127.0.0.1", port))
    try:
        d = s.recv(65535).decode(errors="replace")
        code = d.split(" ", 2)[1]
        break
    except socket.timeout:
        pass
open(out, "a").write("%s %s\n" % (tag, code))
PY
}
ctl_start() { # LOG
	"$CONTROL" --config gw.properties > "$1" 2>&1 &
	CTL=$!
	PIDS+=($CTL)
	for ((t = 0; t < 100; t++)); do [ "$(st 'd["redis"]["enabled"]')" = 1 ] && return 0; sleep 0.1; done
	return 1
}
ctl_start control1.log && ok "control up (Redis $W/redis.sock, SIP 127.0.0.1:$SIP_PORT)" || bad "control up" control1.log
: > order.txt
options warm
[ "$(cat order.txt)" = "warm 200" ] && ok "SIP OPTIONS answered 200" || bad "OPTIONS: $(cat order.txt)" control1.log

# ---- 1. ha adopt with Redis stalled: SIP and mgctl go on ----
num() { [[ $1 =~ ^[0-9]+$ ]] && echo "$1" || echo -100; }
rt0=$(num "$(st 'd["redis"]["read_timeouts"]')") pf0=$(num "$(st 'd["ha"]["peer_read_failed"]')")
kill -STOP "$REDIS_PID"
: > order.txt
( mgctl --timeout 20000 ha adopt ghost > adopt.json 2> adopt.err; echo "adopt $?" >> order.txt ) &
ADOPT=$!
sleep 0.3 # the adopt request is in (sequencing only)
# while its read waits for Redis (readTimeout 5 s), the loop answers: mgctl
# stats shows the read in flight, a SIP OPTIONS is answered before the adopt
pend=$(st 'd["redis"]["reads_pending"]')
options during
wait $ADOPT
kill -CONT "$REDIS_PID"
[ "$pend" = 1 ] && ok "Redis stalled, ha adopt waiting: mgctl stats answered meanwhile (redis.reads_pending 1)" ||
	bad "mgctl stats during the adopt: reads_pending '$pend'" control1.log
[ "$(head -n 1 order.txt)" = "during 200" ] && [ "$(sed -n 2p order.txt)" = "adopt 1" ] &&
	ok "  SIP OPTIONS answered 200 before ha adopt's answer (order: $(tr '\n' ' ' < order.txt))" ||
	bad "Redis stalled: answers in the order: $(tr '\n' ' ' < order.txt)" control1.log
[ "$(jq_py 'd["result"]' < adopt.json)" = error ] && [ "$(st 'd["redis"]["read_timeouts"]')" = $((rt0 + 1)) ] &&
	[ "$(st 'd["ha"]["peer_read_failed"]')" = $((pf0 + 1)) ] && [ "$(st 'd["redis"]["reads_pending"]')" = 0 ] &&
	ok "  ha adopt answered an error at readTimeout (exit 1), read_timeouts +1, peer_read_failed +1, 0 reads pending" ||
	bad "ha adopt: $(cat adopt.json), read_timeouts $rt0 -> $(st 'd["redis"]["read_timeouts"]'), peer_read_failed $pf0 -> $(st 'd["ha"]["peer_read_failed"]')" control1.log

# ---- 2. a restart with Redis stalled: SIP opens at readTimeout ----
kill "$CTL"; wait "$CTL" 2> /dev/null
kill -STOP "$REDIS_PID"
ctl_start control2.log && ok "control started again with Redis stalled (mgctl answers)" || bad "control restart" control2.log
: > order.txt
options held
[ "$(cat order.txt)" = "held 200" ] && ok "  SIP opened without the read-back (OPTIONS 200 while Redis is stalled)" || bad "OPTIONS: $(cat order.txt)" control2.log
v=$(st '"%s %s %s" % (d["redis"]["read_timeouts"], d["redis"]["read_back"], d["redis"]["reads_pending"])')
[ "$v" = "1 0 0" ] && ok "  the read-back was given up at readTimeout (redis.read_timeouts 1, read_back 0, reads_pending 0)" ||
	bad "read_timeouts/read_back/reads_pending: $v" control2.log
kill -CONT "$REDIS_PID"

# ---- 3. the heartbeat ----
for ((t = 0; t < 50; t++)); do [ "$(rcli pttl "mg:$NODE:alive")" -gt 0 ] 2> /dev/null && break; sleep 0.1; done
p=$(rcli pttl "mg:$NODE:alive")
[ "$p" -gt 0 ] 2> /dev/null && [ "$(st 'd["redis"]["alive_sent"]')" -ge 1 ] &&
	ok "Redis back: heartbeat mg:$NODE:alive written (PTTL $p ms, alive_sent $(st 'd["redis"]["alive_sent"]'))" ||
	bad "heartbeat: PTTL $p" control2.log
kill "$CTL"; wait "$CTL" 2> /dev/null
[ "$(rcli exists "mg:$NODE:alive")" = 0 ] && ok "a clean stop (SIGTERM) deleted the heartbeat" || bad "heartbeat left after SIGTERM" control2.log
echo "# ha_stall: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
