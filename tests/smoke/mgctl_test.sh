#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# mgctl against both daemons (docs/operations.md "mgctl", "Drain and rolling
# upgrade"): mediagate-dataplane on a net_ring port (signalling and sessions
# are real, no RTP flows) and mediagate-control with SIP/UDP and NG/UDP on
# loopback, SIPp as caller and callee. Every check reads `mgctl --json`,
# an NG reply or a SIP status line, never a log line:
#   version, stats; calls list/show; calls terminate (SIPp gets the BYE);
#   maxcalls 1 (a second INVITE gets 503); NG sessions (list, show, an NG
#   command through mgctl ng); drain on: an NG
#   offer for a new call gets `load limit`, an INVITE 503 + Retry-After,
#   the call up stays listed and ends normally; drain --wait returns when
#   the last call and session are gone; log level; exit codes; drain on
#   --exit stops the control plane.
#
#   mgctl_test.sh BUILD_DIR SRC_DIR
set -uo pipefail
BUILD=$(cd "$1" && pwd) || { echo "mgctl_test: no build directory $1"; exit 1; }
SRC=$(cd "$2" && pwd) || { echo "mgctl_test: no source directory $2"; exit 1; }
CONTROL=$BUILD/control/mediagate-control
DATAPLANE=$BUILD/dataplane/mediagate-dataplane
DPCTL=$BUILD/dataplane/dpctl/mediagate-dpctl
MGCTL=$BUILD/control/mgctl/mgctl
X=$SRC/tests/interop
W=$(mktemp -d /tmp/mgctl-test.XXXXXX)
PIDS=()
BASE=$((20000 + ($$ % 1000) * 8))
P_GW=$BASE P_NG=$((BASE + 1)) P_UAC=$((BASE + 2)) P_UAS=$((BASE + 3)) P_RAW=$((BASE + 4)) P_UAC2=$((BASE + 5))
PREFIX=mgctl-test-$$

command -v sipp > /dev/null || { echo "sipp is not installed (scripts/setup installs sip-tester)"; exit 1; }
. "$SRC/tests/interop/call_lib.sh"
trap call_cleanup EXIT
trap 'exit 1' INT TERM
cd "$W" || exit 1

cat > rules.xml << EOF
<?xml version="1.0" encoding="UTF-8"?>
<routing_rules>
<rule name="to_uas" outbound_interface="sip" qvalue="0.5">
  <condition param="sip.in.requestUri.user" expr="uas([0-9]*)"/>
  <out_leg name="" media_type="sendrecv">
    <param name="sip.out.requestUri" expr="sip:uas%0@127.0.0.1:$P_UAS"/>
    <param name="sip.out.transport" expr="udp"/>
  </out_leg>
</rule>
</routing_rules>
EOF
# mediagate.control.cliSocket is left out: control.sock beside dp.sock.
cat > gw.properties << EOF
netborder.sip.userAgent.IPAddress=127.0.0.1:$P_GW/udp
netborder.media.srtp.mode=as-needed
mediagate.routing.rulesFile=$W/rules.xml
mediagate.control.socket=$W/dp.sock
mediagate.control.allowedUids=0
mediagate.log.level=info
mediagate.dataplane.eal=--no-huge -m 256 --no-shconf --no-pci --no-telemetry -l 0,1 --file-prefix $PREFIX
mediagate.dataplane.port.0.device=net_ring0
mediagate.dataplane.port.0.addresses=192.0.2.1/24
mediagate.dataplane.idleSleepUs=1000
mediagate.media.portRange=43000-43199
mediagate.dataplane.captureDir=$W/capture
mediagate.ng.listen=127.0.0.1:$P_NG/udp
EOF

# mg ARGS...: mgctl --json with this bed's configuration; its exit status
mg() { "$MGCTL" --config "$W/gw.properties" --json "$@"; }
# js EXPR: EXPR evaluated on the JSON read from stdin (as d)
js() { python3 -c 'import json,sys
try: d=json.loads(sys.stdin.readline())
except ValueError: d=None
try: v=eval(sys.argv[1])
except Exception: v=None
print(json.dumps(v) if isinstance(v,(dict,list)) else v)' "$1"; }
# expect NAME EXPECTED ACTUAL
expect() { if [ "$2" = "$3" ]; then ok "$1"; else bad "$1 (expected '$2', got '$3')"; fi; }
# ng 'JSON': the NG reply (one JSON line)
ng() { python3 "$SRC/tests/ng/ng_client.py" --compact --timeout 0.5 "127.0.0.1:$P_NG" "$1"; }
SDP='v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n'
offer() { ng "{\"command\":\"offer\",\"call-id\":\"$1\",\"from-tag\":\"ft-$1\",\"supports\":[\"load limit\"],\"sdp\":\"$SDP\"}" | js 'd["result"]'; }
# wait_calls N [TENTHS]: until mgctl lists N calls (all active when N > 0)
wait_calls() {
	local t
	for ((t = 0; t < ${2:-50}; t++)); do
		[ "$(mg calls list | js "len(d['calls']) if all(c['state']=='active' for c in d['calls']) else -1")" = "$1" ] && return 0
		sleep 0.1
	done
	return 1
}
# invite USER: one INVITE from a raw UDP socket; "STATUS RETRY-AFTER" of the final answer
invite() {
	python3 - "$P_GW" "$1" "$P_RAW" << 'EOF'
import socket, sys, random
port, user, me = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
body = "v=0\r\no=x 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"
tag, cid = random.randrange(1 << 30), random.randrange(1 << 30)
def req(method):
    b = body if method == "INVITE" else ""
    return ("%s sip:%s@127.0.0.1:%d SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK%d\r\n"
            "From: <sip:raw@127.0.0.1:%d>;tag=%d\r\nTo: <sip:%s@127.0.0.1:%d>\r\nCall-ID: raw%d\r\n"
            "CSeq: 1 %s\r\nContact: <sip:raw@127.0.0.1:%d>\r\nMax-Forwards: 70\r\n%s"
            "Content-Length: %d\r\n\r\n%s" % (method, user, port, me, cid, me, tag, user, port, cid,
            method, me, "Content-Type: application/sdp\r\n" if b else "", len(b), b))
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", me))
s.settimeout(5)
s.sendto(req("INVITE").encode(), ("127.0.0.1", port))
while True:
    try:
        m = s.recv(65535).decode(errors="replace")
    except socket.timeout:
        print("timeout")
        break
    lines = m.split("\r\n")
    code = int(lines[0].split()[1]) if lines[0].startswith("SIP/2.0") else 0
    if code >= 200:
        retry = [l.split(":", 1)[1].strip() for l in lines if l.lower().startswith("retry-after:")]
        print(code, retry[0] if retry else "none")
        s.sendto(req("ACK").encode(), ("127.0.0.1", port))
        break
EOF
}

# ---- the daemons ---------------------------------------------------------------
"$DATAPLANE" --config gw.properties > dataplane.log 2>&1 &
PIDS+=($!)
wait_dp dp.sock
"$CONTROL" --config gw.properties > control.log 2>&1 &
CTL=$!
PIDS+=($CTL)
for _ in $(seq 100); do
	[ "$(mg version 2> /dev/null | js 'd["dataplane_up"]')" = 1 ] && break
	sleep 0.1
done

# ---- version, stats, exit codes -------------------------------------------------
r=$(mg version)
expect "version: mediagate-control answers on control.sock beside dp.sock, dataplane up" \
	"ok mediagate-control 1" "$(echo "$r" | js '"%s %s %s" % (d["result"], d["software"].split()[0], d["dataplane_up"])')"
expect "the socket is mode 0660" 660 "$(stat -c %a "$W/control.sock")"
r=$(mg stats)
expect "stats: 0 calls, 0 sessions, the dataplane's counters (1 port)" "0 0 1" \
	"$(echo "$r" | js '"%d %d %d" % (d["calls"]["active"], d["media"]["sessions"], d["dataplane"]["ports"])')"
expect "dp ping (mediagate-dpctl's commands): 0 sessions" 0 "$(mg dp ping | js 'd["sessions"]')"
mg calls show 999 > /dev/null 2>&1
expect "calls show of an unknown call: exit 1" 1 $?
"$MGCTL" --config gw.properties calls frobnicate > /dev/null 2>&1
expect "an unknown subcommand: exit 2" 2 $?
"$MGCTL" --socket "$W/nothing.sock" --json version > /dev/null 2>&1
expect "no control plane at the socket: exit 3" 3 $?
if command -v setpriv > /dev/null && id nobody > /dev/null 2>&1; then
	chmod 755 "$W"
	nobody() { setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups "$MGCTL" --socket "$W/control.sock" --json version > /dev/null 2>&1; }
	nobody
	expect "uid nobody, not in the socket's group: exit 3" 3 $?
	chmod 666 "$W/control.sock" # the file mode out of the way: the uid check alone
	nobody
	expect "uid nobody, not in allowedUids: refused by SO_PEERCRED, exit 3" 3 $?
	chmod 660 "$W/control.sock"
fi
# The socket's framing, as any client may use it: two requests in one
# write, one request in two writes, a line that is not JSON, a JSON that is
# not an object: one reply per line, in order.
expect "socket: pipelined, split, bad and non-object lines answered in order" \
	"ok:mediagate-control ok:drain ok:1 error error ok:mediagate-control" "$(python3 - "$W/control.sock" << 'EOF'
import json, socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
f = s.makefile("r")
s.sendall(b'{"command":"version"}\n{"command":"drain"}\n')
s.sendall(b'{"command":"max')
time.sleep(0.2)
s.sendall(b'calls"}\nnot json\n[1]\n\n{"command":"version"}\n')
out = []
for want in ("software", "draining", "max_calls", None, None, "software"):
    d = json.loads(f.readline())
    if d["result"] != "ok":
        out.append("error")
    elif want == "software":
        out.append("ok:" + d["software"].split()[0])
    elif want == "draining":
        out.append("ok:drain")
    else:
        out.append("ok:%d" % ("max_calls" in d))
print(" ".join(out))
EOF
)"
mg capture start > /dev/null 2>&1
expect "capture start without CALL|SESSION FILE: usage, exit 2" 2 $?
mg capture start 1 relative.pcapng > /dev/null 2>&1
expect "capture start with a relative FILE: usage, exit 2" 2 $?

# ---- calls list/show, terminate ---------------------------------------------------
sipp_bg uas.out -sf "$X/call_uas.xml" -t u1 -i 127.0.0.1 -p "$P_UAS" -trace_err -error_file uas.err
timeout 40 sipp -sf "$SRC/tests/smoke/mgctl_bye_uac.xml" "127.0.0.1:$P_GW" -t u1 -i 127.0.0.1 -p "$P_UAC" \
	-m 1 -nostdin -trace_err -error_file term.err > term.out 2>&1 &
TERM_UAC=$!
wait_calls 1 || bad "a call is up (calls list)"
r=$(mg calls list)
ID=$(echo "$r" | js 'd["calls"][0]["id"]')
expect "calls list: 1 active call, caller's leg SRTP, callee's plain RTP" \
	"active AES_CM_128_HMAC_SHA1_80 RTP" \
	"$(echo "$r" | js '"%s %s %s" % (d["calls"][0]["state"], d["calls"][0]["legs"][0]["srtp"], d["calls"][0]["legs"][1]["srtp"])')"
expect "calls show $ID: the legs' remote media endpoints" "1 1" \
	"$(mg calls show "$ID" | js '"%d %d" % (d["call"]["legs"][0]["remote"].startswith("127.0.0.1:"), d["call"]["legs"][1]["remote"].startswith("127.0.0.1:"))')"
# capture (docs/operations.md "Capture"): the call's dataplane session; no RTP
# flows on this bed (dp-capture checks the packets), the file is a pcapng
mkdir -p "$W/capture"
expect "capture start $ID FILE --decrypted: the call's one dataplane session" "ok 1" \
	"$(mg capture start "$ID" "$W/capture/call.pcapng" --decrypted | js '"%s %d" % (d["result"], len(d["captures"]))')"
mg capture start "$ID" "$W/capture/again.pcapng" > again.json 2> /dev/null
expect "  a second capture of the call: refused, exit 1" "1 error" "$? $(js 'd["result"]' < again.json)"
mg capture start "$ID" "$W/elsewhere.pcapng" > out.json 2> /dev/null
expect "  a file outside captureDir: refused, exit 1, nothing created" "1 error 0" \
	"$? $(js 'd["result"]' < out.json) $(test -e "$W/elsewhere.pcapng"; echo $((! $?)))"
expect "capture stop $ID: written, no copy lost" "ok 0 0 0" \
	"$(mg capture stop "$ID" | js '"%s %d %d %d" % ((d["result"],) + tuple(d["captures"][0]["drops"][k] for k in ("capture_ring_full", "capture_no_mbuf", "capture_write_error")))')"
tshark -r "$W/capture/call.pcapng" > /dev/null 2>&1
expect "  tshark reads the file" 0 $?
mg capture stop "$ID" > /dev/null 2>&1
expect "  capture stop again: exit 1" 1 $?
expect "calls terminate $ID" ok "$(mg calls terminate "$ID" | js 'd["result"]')"
wait "$TERM_UAC"
expect "  the caller got the gateway's BYE (SIPp exit 0)" 0 $?
wait_calls 0 30
expect "  the call is gone from calls list" 0 "$(mg calls list | js 'len(d["calls"])')"

# ---- maxcalls at run time -------------------------------------------------------------
expect "maxcalls 1" 1 "$(mg maxcalls 1 | js 'd["max_calls"]')"
timeout 40 sipp -sf "$X/call_uac.xml" "127.0.0.1:$P_GW" -t u1 -i 127.0.0.1 -p "$P_UAC2" -m 1 -d 2000 \
	-nostdin -trace_err -error_file mc.err > mc.out 2>&1 &
MC_UAC=$!
wait_calls 1 || bad "the call under maxcalls 1 is up"
expect "  with 1 call up the next INVITE gets 503 + Retry-After" "503 5" "$(invite uas7)"
expect "  counted as overload" 1 "$(mg stats | js 'd["calls"]["overload"]')"
expect "maxcalls 0 lifts the limit" 0 "$(mg maxcalls 0 | js 'd["max_calls"]')"
wait "$MC_UAC"
expect "  the call under the limit completed (SIPp exit 0)" 0 $?
wait_calls 0 30

# ---- delete-delay ---------------------------------------------------------------------
# One timer per call however many deletes; a new offer for the Call-ID
# (Kamailio's next serial fork) takes the call back: the timer must not end
# it (before: the session went when the first delay ran out).
DEL1='{"command":"delete","call-id":"mgctl-dd","from-tag":"ft-mgctl-dd","delete-delay":1}'
expect "NG offer mgctl-dd" ok "$(offer mgctl-dd)"
expect "NG delete with delete-delay 1, twice: ok, ok" "ok ok" \
	"$(ng "$DEL1" | js 'd["result"]') $(ng "$DEL1" | js 'd["result"]')"
expect "  stats: one delete waits out its delay" 1 "$(mg stats | js 'd["ng"]["delete_delayed"]')"
expect "  an offer for the Call-ID again: ok, no delete waits" "ok 0" \
	"$(offer mgctl-dd) $(mg stats | js 'd["ng"]["delete_delayed"]')"
sleep 1.5 # past the delay
expect "  the session is still there after the delay" ok "$(mg sessions show mgctl-dd | js 'd["result"]')"
expect "  NG delete (no delay): gone" "ok 0" \
	"$(ng '{"command":"delete","call-id":"mgctl-dd","from-tag":"ft-mgctl-dd"}' | js 'd["result"]') $(mg sessions | js 'd["count"]')"

# ---- drain ----------------------------------------------------------------------------
timeout 40 sipp -sf "$X/call_uac.xml" "127.0.0.1:$P_GW" -t u1 -i 127.0.0.1 -p "$P_UAC2" -m 1 -d 5000 \
	-nostdin -trace_err -error_file held.err > held.out 2>&1 &
HELD=$!
wait_calls 1 || bad "the held call is up"
expect "NG offer before the drain: a session" ok "$(offer mgctl-ng-1)"
expect "capture start CALL-ID before the answer: no dataplane session yet, exit 1" "error" \
	"$(mg capture start mgctl-ng-1 "$W/capture/ng.pcapng" 2> /dev/null | js 'd["result"]')"
expect "NG answer: the session goes to the dataplane" ok \
	"$(ng "{\"command\":\"answer\",\"call-id\":\"mgctl-ng-1\",\"from-tag\":\"ft-mgctl-ng-1\",\"to-tag\":\"tt-mgctl-ng-1\",\"sdp\":\"$SDP\"}" | js 'd["result"]')"
expect "capture start CALL-ID FILE: the NG session's one stream" "ok 1" \
	"$(mg capture start mgctl-ng-1 "$W/capture/ng.pcapng" | js '"%s %d" % (d["result"], len(d["captures"]))')"
expect "capture stop CALL-ID" "ok 1" "$(mg capture stop mgctl-ng-1 | js '"%s %d" % (d["result"], len(d["captures"]))')"
expect "sessions: 1 NG session listed" "1 mgctl-ng-1" "$(mg sessions | js '"%d %s" % (d["count"], d["sessions"][0]["call-id"])')"
expect "sessions show: its streams, the offerer's tag" "1 ft-mgctl-ng-1" \
	"$(mg sessions show mgctl-ng-1 | js '"%d %s" % (d["session"]["streams"], d["session"]["sides"][0]["parties"][0]["tag"])')"
expect "ng: an NG query through mgctl, rtpengine's reply" "ok 1" \
	"$(mg ng '{"command":"query","call-id":"mgctl-ng-1"}' | js '"%s %d" % (d["result"], "ft-mgctl-ng-1" in d["tags"])')"
expect "ng: ping" pong "$(mg ng '{"command":"ping"}' | js 'd["result"]')"
expect "drain on" "1 1 1" "$(mg drain on | js '"%d %d %d" % (d["draining"], d["calls"], d["sessions"])')"
expect "  an NG offer for a new call gets load limit" "load limit" "$(offer mgctl-ng-2)"
expect "  an INVITE gets 503 + Retry-After" "503 5" "$(invite uas8)"
r=$(mg stats)
expect "  stats: 1 INVITE refused by the drain, 1 NG load limit, still draining" "1 1 1" \
	"$(echo "$r" | js '"%d %d %d" % (d["calls"]["drain_refused"], d["ng"]["load_limit"], d["draining"])')"
expect "  the call up is still listed, active" "1 active" "$(mg calls list | js '"%d %s" % (len(d["calls"]), d["calls"][0]["state"])')"
expect "  the NG session is still listed" 1 "$(mg sessions | js 'd["count"]')"
mg drain --wait --timeout 1 > wait1.json 2> /dev/null
expect "  drain --wait --timeout 1 with a call up: exit 1" 1 $?
mg drain --wait --timeout 30 > wait.json 2> wait.err &
WAITER=$!
sleep 0.5
kill -0 "$WAITER" 2> /dev/null && ok "  drain --wait waits while the call and the session are up" || bad "drain --wait returned early" wait.json
expect "  the session's NG delete" ok "$(ng '{"command":"delete","call-id":"mgctl-ng-1","from-tag":"ft-mgctl-ng-1"}' | js 'd["result"]')"
wait "$HELD"
expect "  the call up finished normally (SIPp exit 0: its BYE answered)" 0 $?
wait "$WAITER"
expect "  drain --wait returned 0 once the last call ended" 0 $?
expect "  ... with 0 calls and 0 sessions" "0 0" "$(js '"%d %d" % (d["calls"], d["sessions"])' < wait.json)"

# ---- log level ---------------------------------------------------------------------------
expect "log level debug" debug "$(mg log level debug | js 'd["level"]')"
expect "log level (read back)" debug "$(mg log level | js 'd["level"]')"
expect "log level info" info "$(mg log level info | js 'd["level"]')"

# ---- drain on --exit: the control plane stops by itself at 0 calls ------------------------
expect "drain off" 0 "$(mg drain off | js 'd["draining"]')"
expect "drain on --exit --wait returns 0" 0 "$(mg drain on --exit --wait --timeout 20 > exit.json; echo $?)"
wait_gone "$CTL" 50 && ok "  mediagate-control exited by itself" || bad "mediagate-control still runs" control.log
wait "$CTL"
expect "  ... with status 0" 0 $?
echo "# mgctl: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
