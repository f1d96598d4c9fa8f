#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Suite 'interop', SIP <-> PSTN through the call engine (docs/calls.md), run
# under tests/dahdi-emu/tdm-emu-run with tests/tdm/pri_system.conf: the
# emulator joins span 1 and span 2 back to back, the gateway runs span 1 as
# the network side and span 2 as the user side, so one SIP call goes
#
#   SIPp UAC --INVITE--> gateway --SETUP span 2--> emulator --> span 1 --> gateway --INVITE--> SIPp UAS
#
# i.e. a SIP-to-PSTN call (call A) and a PSTN-to-SIP call (call B) chained.
# Checks ALERTING/CONNECT relayed as 180/200, sessions installed with the
# B-channels bound (TDM_BIND) on the dataplane's TDM thread, frames moving
# through both channels, the hang-up crossing PSTN both ways (cause 16), a
# late-offer SIP caller (offer in our 200 on CONNECT, span law first; the
# ACK's answer installs the session and binds the channel), a
# refused PSTN call (no route: cause 1 -> 404), a PSTN call over
# mediagate.calls.maxCalls (cause 42 -> 503), and nothing left afterwards.
#
#   call_pstn.sh BUILD_DIR SRC_DIR SYSTEM_CONF
set -uo pipefail
BUILD=$1 SRC=$2 CONF=$3
CONTROL=$BUILD/control/mediagate-control
DATAPLANE=$BUILD/dataplane/mediagate-dataplane
DPCTL=$BUILD/dataplane/dpctl/mediagate-dpctl
X=$SRC/tests/interop
: "${MG_TDM_EMU_DIR:?run through tdm-emu-run}"
command -v sipp > /dev/null || { echo "sipp is not installed (scripts/setup installs sip-tester)"; exit 1; }
W=$(mktemp -d /tmp/call-pstn.XXXXXX)
PIDS=()
BASE=$((34000 + ($$ % 3000) * 4))
P_GW=$BASE P_UAC=$((BASE + 1)) P_UAS=$((BASE + 2)) P_RAW=$((BASE + 3))
PREFIX=call-pstn-$$
. "$SRC/tests/interop/call_lib.sh"
trap call_cleanup EXIT
cd "$W" || exit 1

cat > rules.xml << EOF
<?xml version="1.0" encoding="UTF-8"?>
<routing_rules>
<rule name="sip_to_pstn" outbound_interface="pstn" qvalue="0.5">
  <condition param="sip.in.requestUri.user" expr="uas([0-9]+)"/>
  <out_leg name="">
    <param name="pstn.out.group" expr="span2"/>
    <param name="pstn.out.dnis" expr="555%0"/>
    <param name="pstn.out.ani" expr="4000"/>
    <param name="pstn.out.callerName" expr="Call &quot;Test\\"/>
  </out_leg>
</rule>
<rule name="sip_to_pstn_nowhere" outbound_interface="pstn" qvalue="0.5">
  <condition param="sip.in.requestUri.user" expr="nr([0-9]+)"/>
  <out_leg name="">
    <param name="pstn.out.group" expr="span2"/>
    <param name="pstn.out.dnis" expr="777%0"/>
  </out_leg>
</rule>
<rule name="pstn_to_sip" outbound_interface="sip" qvalue="0.5">
  <condition param="pstn.in.channelName" expr="span1/.*"/>
  <condition param="pstn.in.dnis" expr="555([0-9]+)"/>
  <out_leg name="" media_type="sendrecv">
    <param name="sip.out.requestUri" expr="sip:uas%0@127.0.0.1:$P_UAS"/>
    <param name="sip.out.transport" expr="udp"/>
  </out_leg>
</rule>
</routing_rules>
EOF
cat > gw.properties << EOF
netborder.sip.userAgent.IPAddress=127.0.0.1:$P_GW/udp
netborder.media.srtp.mode=as-needed
mediagate.routing.rulesFile=$W/rules.xml
mediagate.control.socket=$W/dp.sock
mediagate.control.allowedUids=0
mediagate.log.level=${CALL_LOG_LEVEL:-info}
mediagate.tdm.systemConf=$CONF
mediagate.tdm.devicePath=$MG_TDM_EMU_DIR
mediagate.tdm.span.0.role=network
mediagate.tdm.span.0.switchType=euroisdn_e1
mediagate.tdm.span.1.role=user
mediagate.tdm.span.1.switchType=euroisdn_e1
mediagate.dataplane.eal=--no-huge -m 256 --no-shconf --no-pci --no-telemetry -l 0,1 --file-prefix $PREFIX
mediagate.dataplane.port.0.device=net_ring0
mediagate.dataplane.port.0.addresses=192.0.2.1/24
mediagate.dataplane.idleSleepUs=200
mediagate.media.portRange=46000-46199
EOF
"$DATAPLANE" --config gw.properties > dataplane.log 2>&1 &
DP=$!
PIDS+=($DP)
for _ in $(seq 200); do "$DPCTL" --socket dp.sock ping > /dev/null 2>&1 && break; sleep 0.1; done
"$CONTROL" --config gw.properties > control.log 2>&1 &
CTL=$!
PIDS+=($CTL)
for _ in $(seq 100); do
	grep -q 'pri: span 1: D-channel up' control.log && grep -q 'pri: span 2: D-channel up' control.log &&
		grep -q "connected to dataplane" control.log && break
	kill -0 "$CTL" 2> /dev/null || break
	sleep 0.1
done
check "gateway up: both PRI spans and the dataplane" control.log "pri: span 2: D-channel up"

sipp -sf "$X/call_uas.xml" -t u1 -i 127.0.0.1 -p "$P_UAS" -m 1 -nostdin -bg -trace_msg \
	-message_file uas.msg > uas.out 2>&1
UAS=$(sed -n 's/.*PID=\[\([0-9]*\)\].*/\1/p' uas.out | head -n 1)
[ -n "$UAS" ] && PIDS+=($UAS)
timeout 40 sipp -sf "$X/call_uac.xml" "127.0.0.1:$P_GW" -t u1 -i 127.0.0.1 -p "$P_UAC" -m 1 -d 2000 \
	-nostdin -trace_msg -message_file uac.msg -trace_err -error_file uac.err > uac.out 2>&1
rc=$?
sleep 1
if [ "$rc" -eq 0 ]; then ok "SIP -> PSTN -> SIP call completed (INVITE, 180, 200, ACK, 2 s, BYE)"; else bad "SIPp caller: exit $rc" uac.err; fi
check "call A routed to the PSTN on span 2" control.log "call 1: routed by rule sip_to_pstn to the PSTN: 5551 on span2/"
check "call B: PSTN SETUP arrives on span 1" control.log "call 2: PSTN SETUP 5551 from 4000 on span1/"
check "call B routed to SIP" control.log "call 2: routed by rule pstn_to_sip to sip:uas1@127.0.0.1"
check "call B: the ISDN calling name is the SIP From's display name, quoted and escaped" uas.msg \
	'^From: "Call \\"Test\\\\" <sip:4000@'
check "callee's 180 reached the SIP caller (via ALERTING)" uac.msg "^SIP/2.0 180 "
check "call B: session with its B-channel bound" control.log "call 2: channel [0-9]+ bound to session"
check "call A: session with its B-channel bound" control.log "call 1: channel [0-9]+ bound to session"
check "call A: the SIP caller's SRTP was answered" uac.msg "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:"
check "hang-up crossed the PSTN: call B ended by the PSTN caller's release (16)" control.log "call 2: ending in state active: PSTN caller released: cause 16"
check "  and the SIP callee got BYE" uas.msg "^BYE sip:"
for n in 1 2; do
	line=$(grep "call $n: channel [0-9]* unbound" control.log | head -n 1)
	fr=$(sed -n 's/.*unbound: \([0-9]*\) frames from TDM, \([0-9]*\) RTP out.*/\1 \2/p' <<< "$line")
	set -- $fr
	if [ "${1:-0}" -gt 20 ] && [ "${2:-0}" -gt 20 ]; then
		ok "call $n: its channel carried media ($1 frames from TDM, $2 RTP packets out)"
	else
		bad "call $n: channel counters '$line'" control.log
	fi
done

# Late offer to the PSTN: the SIP caller sends no SDP; the call goes out on
# span 2 at once; on CONNECT the caller's 200 offers the span's law first
# (E1: PCMA, PCMU, telephone-event); the caller answers PCMU in its ACK
# (127.0.0.1:7090), which installs the session and binds the B-channel.
n0=$(wc -l < control.log)
sipp -sf "$X/call_uas.xml" -t u1 -i 127.0.0.1 -p "$P_UAS" -m 1 -nostdin -bg > late_uas.out 2>&1
p=$(sed -n 's/.*PID=\[\([0-9]*\)\].*/\1/p' late_uas.out | head -n 1)
[ -n "$p" ] && PIDS+=($p)
timeout 40 sipp -sf "$X/call_late_uac.xml" "127.0.0.1:$P_GW" -t u1 -i 127.0.0.1 -p "$P_UAC" -m 1 -d 500 \
	-nostdin -trace_msg -message_file late.msg -trace_err -error_file late.err > late.out 2>&1
rc=$?
for _ in $(seq 30); do kill -0 "$p" 2> /dev/null || break; sleep 0.1; done
sleep 0.5
tail -n +$((n0 + 1)) control.log > late_gw.log
lc=$(sed -n 's/.*call \([0-9]*\): no SDP in the INVITE (late offer).*/\1/p' late_gw.log | head -n 1)
if [ "$rc" -eq 0 ]; then ok "late offer SIP -> PSTN: INVITE without SDP, 180, 200 with our offer, ACK with the answer, BYE"; else bad "late offer SIPp caller: exit $rc" late.err; fi
check "  routed to the PSTN before any SDP" late_gw.log "call ${lc:-X}: routed by rule sip_to_pstn to the PSTN"
check "  the caller's 200 offers the span's law first (PCMA, PCMU, telephone-event)" late.msg "^m=audio [0-9]+ RTP/AVP 8 0 101"
check "  session with the caller's address from the ACK" late_gw.log "call ${lc:-X}: SESSION_ADD [0-9]+: caller 127\.0\.0\.1:7090 SRTP, callee TDM channel"
if grep -E "call ${lc:-X}: (the caller answered in the ACK|channel [0-9]+ bound)" late_gw.log | head -n 1 | grep -q "answered in the ACK"; then
	ok "  the B-channel is bound after the ACK's answer"
else
	bad "  B-channel of call ${lc:-X} not bound after the answer" late_gw.log
fi
check "  B-channel bound" late_gw.log "call ${lc:-X}: channel [0-9]+ bound to session"
check "  the call ends by the caller's BYE, released with cause 16" late_gw.log "call ${lc:-X}: PSTN leg 1 released with cause 16 "

# A SIP call to nr5 goes out on span 2 as 7775; span 1 has no rule for it:
# released with cause 1 there, which the SIP caller gets as 404.
cat > raw_invite.py << 'EOF'
import socket, sys
port, me, user, cid = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
body = ("v=0\r\no=x 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        "m=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")
def inv(user):
    return ("INVITE sip:%s@127.0.0.1:%d SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK%s\r\n"
            "From: <sip:raw@127.0.0.1>;tag=1\r\nTo: <sip:%s@127.0.0.1>\r\nCall-ID: %s\r\n"
            "CSeq: 1 INVITE\r\nContact: <sip:raw@127.0.0.1:%d>\r\nContent-Type: application/sdp\r\n"
            "Content-Length: %d\r\n\r\n%s" % (user, port, me, cid, user, cid, me, len(body), body))
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", me))
s.settimeout(5)
s.sendto(inv(user).encode(), ("127.0.0.1", port))
while True:
    m = s.recv(65535).decode(errors="replace")
    code = int(m.split()[1])
    if code >= 200:
        print(m.split("\r\n", 1)[0])
        break
EOF
python3 raw_invite.py "$P_GW" "$P_RAW" nr5 noroute1 > noroute.out
check "PSTN side has no route (cause 1): the SIP caller gets 404" noroute.out "^SIP/2.0 404"
check "  span 1 refused the SETUP with cause 1" control.log "call [0-9]+: PSTN leg 0 released with cause 1 "

# Call admission on the PSTN side: with mediagate.calls.maxCalls=1 (SIGHUP)
# the SIP call to uas7 is admitted and goes out on span 2; its SETUP arrives
# on span 1 as a second call, one too many: released with cause 42
# (switching equipment congestion), which reaches the SIP caller as 503.
sleep 0.3
echo "mediagate.calls.maxCalls=1" >> gw.properties
kill -HUP "$CTL"
for _ in $(seq 30); do grep -q "SIGHUP: mediagate.calls.maxCalls=1," control.log && break; sleep 0.1; done
python3 raw_invite.py "$P_GW" "$P_RAW" uas7 overload1 > overload.out
check "maxCalls=1: the PSTN call beyond it is refused before routing" control.log "call [0-9]+: ending in state routing: over mediagate.calls.maxCalls=1"
check "  span 1 released it with cause 42 (switching equipment congestion)" control.log "call [0-9]+: PSTN leg 0 released with cause 42 "
check "  the SIP caller of the chain gets 503" overload.out "^SIP/2.0 503"
sleep 0.5
check "every call ended: 0 calls active" control.log "ended after .*; 0 calls active\$"
"$DPCTL" --socket dp.sock session list > sessions.json 2>&1
check "no session left in the dataplane" sessions.json '"total": 0'
echo "passed $pass, failed $fail"
[ "$fail" -eq 0 ]
