#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Suite 'interop', call engine over SIP/UDP on loopback (docs/calls.md):
#   1. SIPp: the 488 cells of SPEC section 4's answer table (mode=always with
#      an RTP-only offer, mode=never with an SRTP-only offer), Warning checked
#   2. raw SIP: no route -> 404, dataplane down -> 503 (with and without SDP)
#   3. SIPp load: RATE calls/s for SECONDS s through control + dataplane
#      (net_ring port: signalling and sessions are real, no RTP flows), every
#      call must complete; prints the setup rate, response times and the CPU
#      time of both daemons; afterwards no call or session is left. The port
#      range holds 400 pairs (a call takes 2 for about 1 s): leaked ports
#      would make later calls fail.
#   4. one call with early media from two forks, re-key, hold and resume.
#   5. callee errors mapped to the caller, CANCEL, SIGHUP rule reload, call
#      admission (mediagate.calls.maxCalls: 503 + Retry-After), media
#      timeout; 5e. late offer (INVITE without SDP: offer in our 200, answer
#      in the ACK; offerless re-INVITEs; ACK without / with an unusable
#      answer); 5f. dataplane stall: the call waits, the live dataplane kept
#      it; 6. dataplane killed during a call and started again: the call goes
#      on, its session re-installed on the same ports (mgctl, dpctl JSON).
#
#   call_sipp.sh BUILD_DIR SRC_DIR [RATE] [SECONDS]
set -uo pipefail
BUILD=$1 SRC=$2 RATE=${3:-50} SECS=${4:-10}
CONTROL=$BUILD/control/mediagate-control
DATAPLANE=$BUILD/dataplane/mediagate-dataplane
DPCTL=$BUILD/dataplane/dpctl/mediagate-dpctl
X=$SRC/tests/interop
W=$(mktemp -d /tmp/call-sipp.XXXXXX)
PIDS=()
BASE=$((30000 + ($$ % 3000) * 8))
P_GW=$BASE P_GW2=$((BASE + 1)) P_UAC=$((BASE + 2)) P_UAS=$((BASE + 3)) P_RAW=$((BASE + 4))
PREFIX=call-sipp-$$

command -v sipp > /dev/null || { echo "sipp is not installed (scripts/setup installs sip-tester)"; exit 1; }
. "$SRC/tests/interop/call_lib.sh"
trap call_cleanup EXIT
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
props() { # FILE PORT MODE [more lines]
	local f=$1 port=$2 mode=$3
	shift 3
	{
		echo "netborder.sip.userAgent.IPAddress=127.0.0.1:$port/udp"
		echo "netborder.media.srtp.mode=$mode"
		echo "mediagate.routing.rulesFile=$W/rules.xml"
		echo "mediagate.control.socket=$W/dp.sock"
		echo "mediagate.control.cliSocket=$W/cli-$port.sock"
		echo "mediagate.control.allowedUids=0"
		echo "mediagate.log.level=${CALL_LOG_LEVEL:-info}"
		for l in "$@"; do echo "$l"; done
	} > "$f"
}
start_ctl() { # CONFIG LOG
	"$CONTROL" --config "$1" > "$2" 2>&1 &
	PIDS+=($!)
	for _ in $(seq 100); do
		grep -q "user agent listening" "$2" && return 0
		sleep 0.05
	done
	return 1
}
sipp_1() { # NAME PORT ARGS...: one call with call_488.xml
	local name=$1 port=$2
	shift 2
	timeout 20 sipp -sf "$X/call_488.xml" -m 1 -t u1 "127.0.0.1:$port" -i 127.0.0.1 -p "$P_UAC" \
		-nostdin -trace_msg -message_file "$name.msg" -trace_logs -log_file "$name.log" "$@" \
		> "$name.out" 2>&1
}

# ---- 1. SIPp: the 488 cells, the gateway without a dataplane ---------------
props always.properties $P_GW always
props never.properties $P_GW2 never
start_ctl always.properties always.log || bad "control (mode=always) starts" always.log
start_ctl never.properties never.log || bad "control (mode=never) starts" never.log
if sipp_1 c488_always $P_GW -key proto RTP/AVP -key crypto "a=x-none:1"; then
	ok "SIPp: mode=always, RTP-only offer -> 488 with Warning"
else
	bad "SIPp: mode=always, RTP-only offer -> 488" c488_always.msg
fi
check "  Warning names the policy" c488_always.log "488 .*SRTP is required"
if sipp_1 c488_never $P_GW2 -key proto RTP/SAVP \
	-key crypto "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz"; then
	ok "SIPp: mode=never, SRTP-only offer -> 488 with Warning"
else
	bad "SIPp: mode=never, SRTP-only offer -> 488" c488_never.msg
fi
check "  Warning names the policy" c488_never.log "488 .*(SRTP|never)"

# ---- 2. raw SIP: 404, 503, 488 without SDP ----------------------------------
raw() { # PORT USER SDP(yes|no) [cancel] -> prints the final status line and Warning
	python3 - "$1" "$2" "$3" "$P_RAW" "${4:-}" << 'EOF'
import socket, sys, random
port, user, sdp, me = int(sys.argv[1]), sys.argv[2], sys.argv[3] == "yes", int(sys.argv[4])
cancel = sys.argv[5] == "cancel"
body = ("v=0\r\no=x 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        "m=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n") if sdp else ""
tag, cid = random.randrange(1 << 30), random.randrange(1 << 30)
def req(method, cseq):
    # CANCEL and the ACK of a non-2xx share the INVITE's branch.
    return ("%s sip:%s@127.0.0.1:%d SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK%d\r\n"
            "From: <sip:raw@127.0.0.1:%d>;tag=%d\r\nTo: <sip:%s@127.0.0.1:%d>\r\nCall-ID: raw%d\r\n"
            "CSeq: %d %s\r\nContact: <sip:raw@127.0.0.1:%d>\r\nMax-Forwards: 70\r\n%s"
            "Content-Length: %d\r\n\r\n%s" % (method, user, port, me, cid, me, tag, user, port, cid,
            cseq, method, me, "Content-Type: application/sdp\r\n" if body and method == "INVITE" else "",
            len(body) if method == "INVITE" else 0, body if method == "INVITE" else ""))
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", me))
s.settimeout(5)
s.sendto(req("INVITE", 1).encode(), ("127.0.0.1", port))
while True:
    try:
        m = s.recv(65535).decode(errors="replace")
    except socket.timeout:
        print("timeout")
        break
    first = m.split("\r\n", 1)[0]
    code = int(first.split()[1]) if first.startswith("SIP/2.0") else 0
    if code == 180 and cancel:
        s.sendto(req("CANCEL", 1).encode(), ("127.0.0.1", port))
        cancel = False
        continue
    if code >= 200 and " CANCEL" in m.split("CSeq:", 1)[1].split("\r\n", 1)[0]:
        print("CANCEL answered", code)
        continue
    if code >= 200:
        warn = [l for l in m.split("\r\n") if l.lower().startswith("warning:")]
        retry = [l for l in m.split("\r\n") if l.lower().startswith("retry-after:")]
        print(first, "|", warn[0] if warn else "no Warning", "|", retry[0] if retry else "no Retry-After")
        s.sendto(req("ACK", 1).encode(), ("127.0.0.1", port))
        break
EOF
}
# refused_ended GW N: the N calls gateway GW refused all ended, none is left
refused_ended() {
	local e
	wait_gw_calls $1.properties "0 " 30
	e=$(gw_stat $1.properties ended)
	if [ "$GW_CALLS" = "0 " ] && [ "$e" = "$2" ]; then ok "$1: the $2 refused call(s) ended, 0 calls (mgctl calls list, stats)"; else bad "$1: calls '$GW_CALLS', $e ended (want $2) (mgctl)" $1.log; fi
}
refused_ended always 1
props asneeded.properties $P_GW as-needed
kill -TERM "${PIDS[0]}" 2> /dev/null
wait "${PIDS[0]}" 2> /dev/null
start_ctl asneeded.properties asneeded.log || bad "control (mode=as-needed) starts" asneeded.log
raw $P_GW nobody yes > r404.out
check "no routing rule matches -> 404 with Warning" r404.out "^SIP/2.0 404 .*Warning: 399 mediagate \"no routing rule matches\""
raw $P_GW uas7 yes > r503.out
check "dataplane not connected -> 503 with Warning" r503.out "^SIP/2.0 503 .*Warning: 399 mediagate \"dataplane is not connected\""
raw $P_GW uas8 no > rlate.out
check "INVITE without SDP is not refused as such (late offer): routed, 503 here for want of a dataplane" \
	rlate.out "^SIP/2.0 503 .*Warning: 399 mediagate \"dataplane is not connected\""
refused_ended never 1
refused_ended asneeded 3

# ---- 3. SIPp load through control + dataplane --------------------------------
cat > load.properties << EOF
netborder.sip.userAgent.IPAddress=127.0.0.1:$P_GW2/udp
netborder.media.srtp.mode=as-needed
mediagate.routing.rulesFile=$W/rules.xml
mediagate.control.socket=$W/dpl.sock
mediagate.control.cliSocket=$W/load-cli.sock
mediagate.control.allowedUids=0
mediagate.log.level=${CALL_LOG_LEVEL:-info}
mediagate.dataplane.eal=--no-huge -m 256 --no-shconf --no-pci --no-telemetry -l 0,1 --file-prefix $PREFIX
mediagate.dataplane.port.0.device=net_ring0
mediagate.dataplane.port.0.addresses=192.0.2.1/24
mediagate.dataplane.idleSleepUs=1000
mediagate.media.portRange=42000-42799
EOF
# The mode=never gateway gives its port to the load gateway.
kill -TERM "${PIDS[1]}" 2> /dev/null
wait "${PIDS[1]}" 2> /dev/null
"$DATAPLANE" --config load.properties > dataplane.log 2>&1 &
DP=$!
PIDS+=($DP)
wait_dp dpl.sock
"$CONTROL" --config load.properties > load.log 2>&1 &
CTL=$!
PIDS+=($CTL)
wait_log load.log "connected to dataplane" 1 100
check "load gateway connected to its dataplane" load.log "connected to dataplane"

# mgctl --json on the load gateway (its socket: load-cli.sock)
mgl() { "$BUILD/control/mgctl/mgctl" --config load.properties --json "$@"; }
# idle_check NAME: the load gateway idle after a step (mgctl stats: 0 calls,
# 0 media sessions, 0 sessions in its dataplane), polled up to 5 s
idle_check() {
	if wait_gw_idle load.properties 50; then ok "$1: 0 calls, 0 media sessions, 0 dataplane sessions (mgctl stats)"; else bad "$1: $GW_STATE (mgctl stats)" load.log; fi
}
# calls_state: "N STATE..." of the calls mgctl lists now
calls_state() { mgl calls list | js '"%d %s" % (len(d["calls"]), " ".join(c["state"] for c in d["calls"]))'; }

sipp_bg uas.out -sf "$X/call_uas.xml" -t u1 -i 127.0.0.1 -p "$P_UAS" -trace_err \
	-error_file uas.err
UAS=$SIPP_PID
N=$((RATE * SECS))
cpu() { awk '{print $14 + $15}' "/proc/$1/stat" 2> /dev/null || echo 0; }
c0=$(cpu "$CTL") d0=$(cpu "$DP") t0=$(date +%s.%N)
timeout $((SECS + 60)) sipp -sf "$X/call_uac.xml" "127.0.0.1:$P_GW2" -t u1 -i 127.0.0.1 -p "$P_UAC" \
	-r "$RATE" -m "$N" -l $((RATE * 4)) -d 1000 -nostdin -trace_err -error_file uac.err \
	-trace_stat -stf uac.csv -fd 1 ${CALL_TRACE:+-trace_msg -message_file uac.msg} > uac.out 2>&1
rc=$?
t1=$(date +%s.%N) c1=$(cpu "$CTL") d1=$(cpu "$DP")
sleep 1
hz=$(getconf CLK_TCK)
succ=$(tail -n 1 uac.csv | awk -F';' '{print $16}')
failed=$(tail -n 1 uac.csv | awk -F';' '{print $18}')
if [ "$rc" -eq 0 ]; then ok "SIPp load: $N calls at $RATE/s, every call completed"; else bad "SIPp load: exit $rc" uac.err; fi
python3 - "$N" "$t0" "$t1" "$c0" "$c1" "$d0" "$d1" "$hz" uac.csv << 'EOF'
import csv, sys
n, t0, t1 = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
c0, c1, d0, d1, hz = (int(x) for x in sys.argv[4:9])
rows = list(csv.reader(open(sys.argv[9]), delimiter=";"))
h, last = rows[0], rows[-1]
col = lambda name: last[h.index(name)] if name in h else "?"
el = t1 - t0
print("==== SIPp load summary")
print("  calls: %s successful, %s failed of %d; %.1f s wall" % (
    col("SuccessfulCall(C)"), col("FailedCall(C)"), n, el))
ok_calls = int(col("SuccessfulCall(C)")) if col("SuccessfulCall(C)").isdigit() else 0
print("  setup rate: %.1f calls/s sustained (completed calls / (wall - 1 s hold of the last call))"
      % (ok_calls / max(el - 1.0, 0.001)))
print("  response time INVITE->200 (rtd): %s avg, %s stdev" % (
    col("ResponseTime1(C)"), col("ResponseTime1StDev(C)")))
print("  CPU mediagate-control: %.1f%% of one core (%.2f s)" % (100.0 * (c1 - c0) / hz / el, (c1 - c0) / hz))
print("  CPU mediagate-dataplane: %.1f%% of one core (%.2f s; idle sleep 1 ms)" % (
    100.0 * (d1 - d0) / hz / el, (d1 - d0) / hz))
print("====")
EOF
[ -n "$UAS" ] && kill -TERM "$UAS" 2> /dev/null
idle_check "load: every call ended"
answered=$(mgl stats | js 'd["calls"]["answered"]') ended=$(mgl stats | js 'd["calls"]["ended"]')
if [ "$answered" = "$N" ] && [ "$ended" = "$N" ]; then ok "load: $answered calls answered by the gateway, $ended ended (mgctl stats)"; else bad "load: $answered answered, $ended ended of $N (mgctl stats)" load.log; fi
t=$(dp_total dpl.sock)
if [ "$t" = 0 ]; then ok "load: no session left in the dataplane (mediagate-dpctl)"; else bad "load: $t sessions left in the dataplane"; fi

# ---- 4. one call with early media from two forks, re-key, hold, resume ------
n0=$(wc -l < load.log)
sipp_bg feat_uas.out -sf "$X/call_feat_uas.xml" -t u1 -i 127.0.0.1 -p "$P_UAS" -m 1 \
	-trace_err -error_file feat_uas.err
timeout 30 sipp -sf "$X/call_feat_uac.xml" "127.0.0.1:$P_GW2" -t u1 -i 127.0.0.1 -p "$P_UAC" -m 1 \
	-nostdin -trace_err -error_file feat.err -trace_msg -message_file feat.msg \
	-trace_logs -log_file feat.log > feat.out 2>&1
rc=$?
sleep 0.5
tail -n +$((n0 + 1)) load.log > feat_gw.log
if [ "$rc" -eq 0 ]; then ok "features call: early media, re-key, hold, resume, BYE all answered"; else bad "features call: exit $rc" feat.err; fi
check "183 with SDP from the callee: session installed before the answer" feat_gw.log "SESSION_ADD [0-9]+ \(early media\)"
check "second fork's 183: its address becomes an RFC 3960 candidate" feat_gw.log "SESSION_MODIFY [0-9]+ \(early media\).*127\.0\.0\.1:7080 RTP, 1 extra source"
check "re-INVITE with a new key: new keys, MODIFY with ROC reset" feat_gw.log "re-INVITE on leg 0: new keys \(ROC reset\)"
check "  MODIFY carries the ROC reset flag" feat_gw.log "SESSION_MODIFY .*rx ROC reset, tx ROC reset"
k1=$(sed -n "s/.*key1 inline://p" feat.log) k2=$(sed -n "s/.*key2 inline://p" feat.log)
if [ -n "$k1" ] && [ -n "$k2" ] && [ "$k1" != "$k2" ]; then ok "re-key: the gateway answered with a new key of its own"; else bad "re-key: gateway key before '$k1' after '$k2'" feat.log; fi
check "hold (sendonly) answered recvonly" feat_gw.log "re-INVITE on leg 0: same keys, on hold"
check "resume (sendrecv)" feat_gw.log "re-INVITE on leg 0: same keys, resumed"
check "hold passed on to the callee (re-INVITE sendonly, answered recvonly)" feat_gw.log "re-INVITE to leg 1: hold \(sendonly\)"
check "resume passed on to the callee" feat_gw.log "re-INVITE to leg 1: resume"
if grep -qs "Aborting\|unexpected" feat_uas.err; then bad "the callee's scenario (hold and resume re-INVITEs) failed" feat_uas.err; else ok "the callee got hold and resume re-INVITEs with the expected directions"; fi
idle_check "features call ended"

# ---- 4b. lockOnSDP=true (SIGHUP): early media to the first known source ---
# SPEC 5: the callee leg sends early media to the first source a 183 named
# (fork 2 on 7070), the later fork (7080) is a candidate; the 200's fork
# (7080) is the callee's address once the call is answered.
echo "netborder.media.rtp.lockOnSDP=true" >> load.properties
kill -HUP "$CTL"
wait_log load.log "SIGHUP: netborder.media.rtp.lockOnSDP=true"
n0=$(wc -l < load.log)
sipp_bg feat2_uas.out -sf "$X/call_feat_uas.xml" -t u1 -i 127.0.0.1 -p "$P_UAS" -m 1 \
	-trace_err -error_file feat2_uas.err
timeout 30 sipp -sf "$X/call_feat_uac.xml" "127.0.0.1:$P_GW2" -t u1 -i 127.0.0.1 -p "$P_UAC" -m 1 \
	-nostdin -trace_err -error_file feat2.err > feat2.out 2>&1
rc=$?
sleep 0.5
tail -n +$((n0 + 1)) load.log > feat2_gw.log
if [ "$rc" -eq 0 ]; then ok "lockOnSDP=true (SIGHUP): the features call completes"; else bad "lockOnSDP=true features call: exit $rc" feat2.err; fi
check "  after the second fork's 183 the callee leg still sends to the first known source (7070); the later fork is a candidate" feat2_gw.log "SESSION_MODIFY [0-9]+ \(early media\).*callee 127\.0\.0\.1:7070 RTP, 1 extra source"
check "  after the 200 the answering fork (7080) is the callee's address" feat2_gw.log "SESSION_MODIFY [0-9]+: caller .*callee 127\.0\.0\.1:7080 RTP"
idle_check "  lockOnSDP call ended"
sed -i '/^netborder.media.rtp.lockOnSDP=/d' load.properties
kill -HUP "$CTL"
wait_log load.log "SIGHUP: netborder.media.rtp.lockOnSDP=false"

# ---- 5. callee errors mapped to the caller, caller CANCEL ------------------
err_call() { # NAME STATUS PHRASE [cancel]
	local sf=$W/$1_uas.xml p
	if [ "${4:-}" = cancel ]; then
		sf=$X/call_cancel_uas.xml
	else
		sed "s/@STATUS@/$2/; s/@PHRASE@/$3/" "$X/call_err_uas.xml" > "$sf"
	fi
	sipp_bg "$1_uas.out" -sf "$sf" -t u1 -i 127.0.0.1 -p "$P_UAS" -m 1 -trace_msg \
		-message_file "$1_uas.msg" -trace_err -error_file "$1_uas.err"
	p=$SIPP_PID
	sleep 0.2
	raw $P_GW2 uas9 yes ${4:-} > "$1.out"
	wait_gone "$p"
}
err_call busy 486 "Busy Here"
check "callee 486 -> caller 486" busy.out "^SIP/2.0 486 .*Warning: 399 mediagate \"callee answered 486"
err_call unavail 503 "Service Unavailable"
check "callee 503 -> caller 502 (RFC 3261 16.7)" unavail.out "^SIP/2.0 502 .*callee answered 503"
check "  (the 503 came from the callee)" unavail_uas.msg "^SIP/2.0 503 Service Unavailable"
err_call auth 407 "Proxy Authentication Required"
check "callee 407 -> caller 403" auth.out "^SIP/2.0 403 "
err_call cancel 0 x cancel
check "caller CANCEL while the callee rings -> 487" cancel.out "^SIP/2.0 487 "
check "  the gateway logged the caller's CANCEL" load.log "ending in state early: caller cancelled"
check "  the callee got the gateway's CANCEL and answered 487" cancel_uas.msg "^SIP/2.0 487 Request Terminated"
idle_check "after the errors and the CANCEL"

# held_call NAME MS [caller options]: a one-call SIPp callee (NAME_uas.out)
# and, in the background, a caller that holds the call MS ms (NAME_uac.out,
# its pid in HELD_PID); back when the gateway logged the call active (at
# most 5 s).
held_call() {
	local name=$1 ms=$2 n
	shift 2
	n=$(count load.log ': active$')
	sipp_bg "${name}_uas.out" -sf "$X/call_uas.xml" -t u1 -i 127.0.0.1 -p "$P_UAS" -m 1
	timeout 30 sipp -sf "$X/call_uac.xml" "127.0.0.1:$P_GW2" -t u1 -i 127.0.0.1 -p "$P_UAC" -m 1 \
		-d "$ms" -nostdin "$@" > "${name}_uac.out" 2>&1 &
	HELD_PID=$!
	wait_log load.log ': active$' $((n + 1)) 50
}

# ---- 5b. SIGHUP reloads the rules; the call in progress keeps its route ----
held_call hup 3000 -trace_err -error_file hup_uac.err
HUAC=$HELD_PID
cp rules.xml rules.orig
printf '<?xml version="1.0"?>\n<routing_rules>\n</routing_rules>\n' > rules.xml
printf '<routing_rules><rule name="x"' > bad-rules.xml
kill -HUP "$CTL"
wait_log load.log "SIGHUP: 0 routing rules"
raw $P_GW2 uas5 yes > hup_new.out
wait "$HUAC"
rc=$?
if [ "$rc" -eq 0 ]; then ok "SIGHUP during a call: the call in progress completes on its route"; else bad "call across SIGHUP: exit $rc" hup_uac.err; fi
check "  a new call after the reload follows the new (empty) rules: 404" hup_new.out "^SIP/2.0 404 "
cp bad-rules.xml rules.xml
kill -HUP "$CTL"
wait_log load.log "keeping the previous rules"
check "  a broken rules file on SIGHUP is refused, the previous rules stay" load.log "SIGHUP: mediagate.routing.rulesFile: .*keeping the previous rules"
cp rules.orig rules.xml
kill -HUP "$CTL"
wait_log load.log 'SIGHUP: 1 routing rules'

# ---- 5b2. long values reach the rules and the callee whole ----------------
# A 400-digit Request-URI user and a 300-character From user: the rule
# uas([0-9]*) routes the call on the whole user, the out INVITE's Request-URI
# and the call's From (mgctl) carry them whole. A Request-URI over 2048
# bytes is answered 414 and not routed.
LONG=$(printf '%0400d' 7)
FLONG=$(printf 'f%.0s' $(seq 300))
sed "s/uas\[call_number\]/uas$LONG/g; s/uac\[call_number\]@/$FLONG@/" "$X/call_uac.xml" > long_uac.xml
sipp_bg long_uas.out -sf "$X/call_uas.xml" -t u1 -i 127.0.0.1 -p "$P_UAS" -m 1
timeout 30 sipp -sf long_uac.xml "127.0.0.1:$P_GW2" -t u1 -i 127.0.0.1 -p "$P_UAC" -m 1 -d 3000 \
	-nostdin -trace_err -error_file long_uac.err > long_uac.out 2>&1 &
LUAC=$!
for _ in $(seq 50); do [ "$(calls_state)" = "1 active" ] && break; sleep 0.1; done
mgl calls list > long_calls.json
want="sip:uas$LONG@127.0.0.1:$P_UAS;transport=udp"
got=$(js 'd["calls"][0]["target"]' < long_calls.json)
if [ "$got" = "$want" ]; then ok "400-digit Request-URI user: routed whole (mgctl: the out INVITE's target is sip:uas<400 digits>@...)"; else bad "long Request-URI user: target ${#got} bytes, want ${#want}: ${got:0:80}..." long_calls.json; fi
got=$(js 'd["calls"][0]["from"]' < long_calls.json)
if [ "$got" = "$FLONG" ]; then ok "  the 300-character From user is whole (mgctl calls list: from)"; else bad "  From user: ${#got} characters, want 300" long_calls.json; fi
wait "$LUAC"
rc=$?
if [ "$rc" -eq 0 ]; then ok "  the call completes"; else bad "  long-value call: sipp exit $rc" long_uac.err; fi
raw $P_GW2 "uas$(printf '%02100d' 7)" yes > long414.out
check "a Request-URI over 2048 bytes: 414 with Warning, not routed" long414.out \
	'^SIP/2.0 414 Request-URI Too Long \| Warning: 399 mediagate "the Request-URI is 2[0-9]{3} bytes \(allowed: up to 2048\)"'

# ---- 5c. call admission: one call over mediagate.calls.maxCalls -----------
# The limit comes with a SIGHUP (no restart); one call is held in progress,
# the next one is refused before routing with 503 + Retry-After. The calls
# of 5b are all gone first (a call still ending counts against the limit).
wait_gw_calls load.properties "0 " 30
echo "mediagate.calls.maxCalls=1" >> load.properties
kill -HUP "$CTL"
wait_log load.log "SIGHUP: mediagate.calls.maxCalls=1,"
check "SIGHUP: mediagate.calls.maxCalls=1 takes effect at once" load.log "SIGHUP: mediagate.calls.maxCalls=1, retryAfter=5 s"
held_call limit 3000 -trace_err -error_file limit_uac.err
MUAC=$HELD_PID
raw $P_GW2 uas6 yes > limit.out
wait "$MUAC"
rc=$?
check "maxCalls=1 with one call up: the next INVITE gets 503 with Warning and Retry-After" limit.out \
	"^SIP/2.0 503 .*Warning: 399 mediagate \"over mediagate.calls.maxCalls=1\" \| Retry-After: 5"
if [ "$rc" -eq 0 ]; then ok "  the call in progress is not disturbed and completes"; else bad "held call under maxCalls: exit $rc" limit_uac.err; fi
sed -i '/^mediagate.calls.maxCalls=/d' load.properties
kill -HUP "$CTL"
wait_log load.log "SIGHUP: mediagate.calls.maxCalls=0,"
check "  SIGHUP without the key lifts the limit" load.log "SIGHUP: mediagate.calls.maxCalls=0, retryAfter=5 s"

# ---- 5d. media timeout: an answered call whose peers send nothing ends ----
# The load port is net_ring: no RTP reaches the dataplane, so with
# mediagate.calls.mediaTimeout=2 (SIGHUP) an answered call is ended by the
# gateway (BYE both ways) about 2-3 s after the answer, long before the
# caller's own BYE after 10 s.
echo "mediagate.calls.mediaTimeout=2" >> load.properties
kill -HUP "$CTL"
wait_log load.log "SIGHUP: mediagate.calls.mediaTimeout=2 s"
sipp_bg mt_uas.out -sf "$X/call_uas.xml" -t u1 -i 127.0.0.1 -p "$P_UAS" -m 1 -trace_msg \
	-message_file mt_uas.msg
n_mt=$(grep -c "no media from" load.log)
timeout 30 sipp -sf "$X/call_uac.xml" "127.0.0.1:$P_GW2" -t u1 -i 127.0.0.1 -p "$P_UAC" -m 1 \
	-d 10000 -nostdin -trace_msg -message_file mt_uac.msg > mt_uac.out 2>&1 &
TUAC=$!
wait_log load.log "no media from" $((n_mt + 1)) 100
sleep 0.5
check "mediaTimeout=2: the silent call is ended by the gateway" load.log "ending in state active: no media from the caller for 2 s \(mediagate.calls.mediaTimeout; 0 packets in all\)"
# SIPp's message trace: what the caller received (not its own BYE at 10 s)
grep -A3 "message received" mt_uac.msg > mt_uac_rx.txt 2> /dev/null
check "  the caller received the gateway's BYE (before sending its own)" mt_uac_rx.txt "^BYE sip:"
check "  the callee got the gateway's BYE" mt_uas.msg "^BYE sip:"
idle_check "  the timed-out call is gone"
kill "$TUAC" 2> /dev/null
wait "$TUAC" 2> /dev/null
# a call on hold sends nothing and must not be cut: the features call holds
# (sendonly) for 5 s under the same 2 s timeout, then resumes and hangs up
n_mt=$(grep -c "no media from" load.log)
sipp_bg mth_uas.out -sf "$X/call_feat_uas.xml" -t u1 -i 127.0.0.1 -p "$P_UAS" -m 1
timeout 30 sipp -sf "$X/call_feat_uac.xml" "127.0.0.1:$P_GW2" -t u1 -i 127.0.0.1 -p "$P_UAC" -m 1 \
	-d 5000 -nostdin -trace_err -error_file mth.err > mth.out 2>&1
rc=$?
if [ "$rc" -eq 0 ] && [ "$(grep -c "no media from" load.log)" -eq "$n_mt" ]; then
	ok "  a call held 5 s (sendonly, no RTP) is not cut by the 2 s media timeout"
else
	bad "  held call under the media timeout: exit $rc" load.log
fi
sed -i '/^mediagate.calls.mediaTimeout=/d' load.properties
kill -HUP "$CTL"
wait_log load.log "SIGHUP: mediagate.calls.mediaTimeout=60 s"

# ---- 5e. late offer: INVITE without SDP (RFC 3261 13.2.1, RFC 3264) -----
# The callee gets an offer of ours (PCMU, PCMA, telephone-event, a=crypto),
# answers PCMU + telephone-event in a 183 (early SDP: a caller that made no
# offer just gets 180) and the 200; the caller's 200 carries our offer with
# the callee's codecs, the caller answers in its ACK from 127.0.0.1:7090, and
# only then is the session installed, with that address. Two re-INVITEs
# without SDP: each 200 offers the session as it stands, same key; o= version
# +1 the first time (the SDP differs from our first offer), the same the
# second time (RFC 3264 §8); the first ACK moves the caller to 7092
# (SESSION_MODIFY), the second changes nothing. Then an ACK without an answer
# and one with a codec we did not offer: BYE both ways, nothing left.
late_log() { tail -n +$((n0 + 1)) load.log > "$1"; }
sipp_bg_uas() { # SCENARIO NAME: a one-call SIPp callee in the background
	sipp_bg "$2_uas.out" -sf "$1" -t u1 -i 127.0.0.1 -p "$P_UAS" -m 1 -trace_msg \
		-message_file "$2_uas.msg" -trace_err -error_file "$2_uas.err"
	UASP=$SIPP_PID
}
n0=$(wc -l < load.log)
sipp_bg_uas "$X/call_late_uas.xml" late
timeout 30 sipp -sf "$X/call_late_uac.xml" "127.0.0.1:$P_GW2" -t u1 -i 127.0.0.1 -p "$P_UAC" -m 1 \
	-d 200 -nostdin -trace_err -error_file late.err -trace_msg -message_file late.msg \
	-trace_logs -log_file late.log > late.out 2>&1 &
LUAC=$!
for _ in $(seq 50); do grep -q "SESSION_ADD" <(tail -n +$((n0 + 1)) load.log) && break; sleep 0.1; done
sid=$(tail -n +$((n0 + 1)) load.log | sed -n 's/.*SESSION_ADD \([0-9]*\):.*/\1/p' | head -n 1)
"$DPCTL" --socket dpl.sock session get "${sid:-0}" > late_session.json 2>&1
wait "$LUAC"
rc=$?
wait_gone "$UASP"
sleep 0.3
late_log late_gw.log
if [ "$rc" -eq 0 ]; then ok "late offer: INVITE without SDP, 180, 200 with our offer, ACK with the answer, 2 re-INVITEs without SDP, BYE"; else bad "late offer call: exit $rc" late.err; fi
check "the callee got an INVITE with an offer of ours: PCMU, PCMA, telephone-event" late_uas.msg "^m=audio [0-9]+ RTP/AVP 0 8 101"
check "  with a=crypto (SRTP as-needed)" late_uas.msg "^a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:"
# the caller's messages as received: 180 without a body, the 200's offer
python3 - late.msg > late_rx.txt << 'EOF'
import re, sys
txt = open(sys.argv[1], errors="replace").read()
for blk in re.split(r"-{10,}.*\n", txt):
    if "message received" not in blk and not re.search(r"^SIP/2.0 \d+", blk, re.M):
        continue
    m = re.search(r"^SIP/2\.0 (\d+).*?$", blk, re.M)
    if not m or "CSeq: 1 INVITE" not in blk:
        continue
    cl = re.search(r"^Content-Length:\s*(\d+)", blk, re.M | re.I)
    ma = re.search(r"^m=audio \d+ (\S+(?: \d+)+)", blk, re.M)
    print("status %s len %s m %s crypto %d" % (m.group(1), cl.group(1) if cl else "?",
          ma.group(1) if ma else "-", len(re.findall(r"^a=crypto:", blk, re.M))))
EOF
check "  the caller got 180 without SDP (no early media without its offer)" late_rx.txt "^status 180 len 0 m -"
check "  the caller's 200 offers the callee's codecs (PCMU + telephone-event, no PCMA) with a=crypto" late_rx.txt "^status 200 len [1-9][0-9]* m RTP/AVP 0 101 crypto 2\$"
check "  the session is installed only after the ACK's answer" late_gw.log "the caller answered in the ACK \(SRTP AES_CM_128_HMAC_SHA1_80\)"
if grep -n "SESSION_ADD\|the caller answered in the ACK" late_gw.log | head -n 1 | grep -q "answered in the ACK"; then ok "  (the answer came before the SESSION_ADD)"; else bad "SESSION_ADD before the ACK's answer" late_gw.log; fi
check "  SESSION_ADD with the caller's address from the ACK (127.0.0.1:7090, SRTP)" late_gw.log "SESSION_ADD [0-9]+: caller 127\.0\.0\.1:7090 SRTP, callee 127\.0\.0\.1:[0-9]+ RTP"
python3 - late_session.json > late_sess.txt << 'EOF'
import json, sys
try:
    d = json.load(open(sys.argv[1]))
    d = d.get("session", d)
    l0 = d["legs"][0]
    print("leg0 remote %s rtcp %s rx %s tx %s" % (l0["remote"], l0["remote_rtcp_port"], l0["rx"]["suite"], l0["tx"]["suite"]))
except Exception as e:
    print("no session in the JSON:", repr(e))
EOF
check "  dataplane session: caller leg remote 127.0.0.1:7090 (RTCP 7091), SRTP both ways" late_sess.txt \
	"^leg0 remote 127\.0\.0\.1:7090 rtcp 7091 rx AES_CM_128_HMAC_SHA1_80 tx AES_CM_128_HMAC_SHA1_80\$"
v0=$(sed -n 's/.*offer0 version \([0-9]*\) key.*/\1/p' late.log) k0=$(sed -n 's/.*offer0 version [0-9]* key //p' late.log)
v1=$(sed -n 's/.*offer1 version \([0-9]*\) key.*/\1/p' late.log) k1=$(sed -n 's/.*offer1 version [0-9]* key //p' late.log)
v2=$(sed -n 's/.*offer2 version \([0-9]*\) key.*/\1/p' late.log) k2=$(sed -n 's/.*offer2 version [0-9]* key //p' late.log)
if [ -n "$v0" ] && [ -n "$v1" ] && [ -n "$v2" ] && [ "$v1" -eq $((v0 + 1)) ] && [ "$v2" -eq "$v1" ]; then
	ok "re-INVITEs without SDP: 200 with an offer; o= version $v0 -> $v1 (SDP changed) -> $v2 (unchanged)"
else
	bad "o= versions of our offers: '$v0' '$v1' '$v2' (want v1 = v0 + 1, v2 = v1)" late.log
fi
if [ -n "$k0" ] && [ "$k0" = "$k1" ] && [ "$k1" = "$k2" ]; then ok "  every offer of the session has the same key of ours"; else bad "  our key changed: '$k0' '$k1' '$k2'" late.log; fi
check "  the first re-INVITE's ACK moved the caller: SESSION_MODIFY to 127.0.0.1:7092" late_gw.log "leg 0's answer in the ACK: session changed"
check "  (MODIFY with the new address)" late_gw.log "SESSION_MODIFY [0-9]+: caller 127\.0\.0\.1:7092 SRTP"
check "  the second ACK changed nothing: no MODIFY" late_gw.log "leg 0's answer in the ACK: session unchanged"
if [ "$(grep -c "SESSION_MODIFY" late_gw.log)" -eq 1 ]; then ok "  (exactly one SESSION_MODIFY)"; else bad "  $(grep -c SESSION_MODIFY late_gw.log) SESSION_MODIFYs" late_gw.log; fi
check "  the call ended with the caller's BYE" late_gw.log "ended after .*\(BYE from the caller\)"
idle_check "  late-offer call ended"

for case in noans badans; do
	n0=$(wc -l < load.log)
	sipp_bg_uas "$X/call_uas.xml" "$case"
	timeout 20 sipp -sf "$X/call_late_${case}_uac.xml" "127.0.0.1:$P_GW2" -t u1 -i 127.0.0.1 -p "$P_UAC" \
		-m 1 -nostdin -trace_err -error_file "$case.err" -trace_msg -message_file "$case.msg" > "$case.out" 2>&1
	rc=$?
	wait_gone "$UASP"
	sleep 0.3
	late_log "${case}_gw.log"
	if [ "$rc" -eq 0 ]; then ok "late offer, $case: the caller got BYE with Reason: SIP;cause=488"; else bad "late offer, $case: exit $rc" "$case.err"; fi
	check "  the callee got BYE" "${case}_uas.msg" "^BYE sip:"
	if grep -q "SESSION_ADD" "${case}_gw.log"; then bad "  a session was installed" "${case}_gw.log"; else ok "  no session was installed"; fi
	idle_check "  $case call ended"
done
check "ACK without SDP: the call ends, reason logged" noans_gw.log "ending in state answered: the caller's ACK has no SDP answer to our offer"
check "ACK with a codec we did not offer: the call ends, reason logged" badans_gw.log "ending in state answered: the caller's SDP answer in the ACK refused: the answer names no audio codec we offered"
"$DPCTL" --socket dpl.sock session list > late_sessions2.json 2>&1
check "late offer: no session left in the dataplane" late_sessions2.json '"total": 0'

# dp_ports FILE: the sessions' local port pairs in a dpctl session list
dp_ports() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["total"], sorted(tuple(s["local_ports"]) for s in d["sessions"]))' "$1"; }

# ---- 5f. the dataplane stalls (connection lost, dataplane alive) -----------
# mediagate.dataplane.restartWait (default 30 s): the call waits; the live
# dataplane still has its session when the connection is back (docs/reliability.md)
held_call stall 20000
SUAC=$HELD_PID
"$DPCTL" --socket dpl.sock session list > stall_before.json 2>&1
kill -STOP "$DP"
# the control plane's own view (mgctl version: dataplane_up), polled
dp_up() { mgl version | js 'd["dataplane_up"]'; }
for _ in $(seq 100); do [ "$(dp_up)" = 0 ] && break; sleep 0.1; done
if [ "$(dp_up)" = 0 ]; then ok "dataplane stalled past the PING timeout: the control plane sees it down (mgctl)"; else bad "dataplane stalled: mgctl says dataplane_up $(dp_up)"; fi
lost_state=$(calls_state)
kill -CONT "$DP"
wait_log load.log "still in the dataplane" 1 100
sleep 0.3
if [ "$lost_state" = "1 active" ]; then ok "  while the dataplane is away the call stays active (mgctl)"; else bad "  calls while away: $lost_state"; fi
if [ "$(calls_state)" = "1 active" ]; then ok "  back: the call is still active (mgctl)"; else bad "  calls after the stall: $(calls_state)"; fi
"$DPCTL" --socket dpl.sock session list > sessions3.json 2>&1
if [ "$(dp_ports sessions3.json)" = "$(dp_ports stall_before.json)" ]; then ok "  the live dataplane kept its session and ports (nothing re-installed: same sessions, same ports)"; else bad "  sessions after the stall: $(dp_ports sessions3.json), before: $(dp_ports stall_before.json)"; fi
ID=$(mgl calls list | js 'd["calls"][0]["id"]')
if [ "$(mgl calls terminate "$ID" | js 'd["result"]')" = ok ]; then ok "  mgctl calls terminate $ID"; else bad "  mgctl calls terminate $ID"; fi
if wait_gw_calls load.properties "0 " 50; then ok "  then 0 calls (mgctl)"; else bad "  calls after terminate: $GW_CALLS"; fi
"$DPCTL" --socket dpl.sock session list > sessions3b.json 2>&1
check "  no session left in the dataplane" sessions3b.json '"total": 0'
kill "$SUAC" 2> /dev/null
wait "$SUAC" 2> /dev/null

# ---- 6. the dataplane dies during a call and is started again: the call goes on ----
held_call lost 20000
LUAC=$HELD_PID
"$DPCTL" --socket dpl.sock session list > lost_before.json 2>&1
ended_before=$(mgl stats | js 'd["calls"]["ended"]')
n_hello=$(count load.log "connected to dataplane")
kill -9 "$DP"
wait "$DP" 2> /dev/null
wait_log load.log "dataplane connection lost: 1 call\\(s\\) wait up to" 2 50
lost_state=$(calls_state)
"$DATAPLANE" --config load.properties > dataplane2.log 2>&1 &
DP=$!
PIDS+=($DP)
wait_log load.log "connected to dataplane" $((n_hello + 1)) 200
wait_log load.log "re-installed in the dataplane" 1 50
sleep 0.3
if [ "$lost_state" = "1 active" ]; then ok "dataplane killed during a call: the call waits, active (mgctl)"; else bad "dataplane killed: calls $lost_state"; fi
if [ "$(calls_state)" = "1 active" ]; then ok "  a new dataplane: the call is still active (mgctl)"; else bad "  calls after the restart: $(calls_state)"; fi
"$DPCTL" --socket dpl.sock session list > sessions4.json 2>&1
if [ "$(dp_ports sessions4.json)" = "$(dp_ports lost_before.json)" ]; then ok "  its session re-installed in the new dataplane on the same ports"; else bad "  sessions after the restart: $(dp_ports sessions4.json), before: $(dp_ports lost_before.json)" dataplane2.log; fi
ended_after=$(mgl stats | js 'd["calls"]["ended"]')
if [ "$ended_after" = "$ended_before" ]; then ok "  no call ended for the dataplane's death (mgctl stats: $ended_after ended)"; else bad "  calls ended: $ended_before before, $ended_after after"; fi
ID=$(mgl calls list | js 'd["calls"][0]["id"]')
mgl calls terminate "$ID" > /dev/null 2>&1
wait_gw_calls load.properties "0 " 50
"$DPCTL" --socket dpl.sock session list > sessions5.json 2>&1
check "  terminated: no session left in the new dataplane" sessions5.json '"total": 0'
kill "$LUAC" 2> /dev/null
wait "$LUAC" 2> /dev/null
if kill -0 "$CTL" 2> /dev/null; then ok "mediagate-control survived the dataplane's death"; else bad "mediagate-control died" load.log; fi
echo "passed $pass, failed $fail"
[ "$fail" -eq 0 ]
