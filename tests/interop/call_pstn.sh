#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Suite 'interop', SIP <-> PSTN through the call engine (docs/calls.md), run
# under tests/dahdi-emu/tdm-emu-run with call_pstn_e1.conf (two full E1s): the
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
# Then three sections (docs/pri.md "Tests"), each ending with nothing left
# (calls, sessions, timeslots held, channels bound): a caller's CANCEL
# while the SIP callee rings (DISCONNECT across the PRI, CANCEL + 487 on
# the far SIP side, 487 to the caller), and again during early media; early media (callee 183 with SDP ->
# PROGRESS with progress indicator 8 -> 183 with SDP to the caller, both
# sessions installed before the CONNECT); 20 parallel calls (10/s, 2 s
# each: every call completes, no timeslot or channel used by two calls at
# once, no glare).
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
mediagate.control.cliSocket=$W/cli.sock
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
mediagate.media.portRange=46000-46399
EOF
"$DATAPLANE" --config gw.properties > dataplane.log 2>&1 &
DP=$!
PIDS+=($DP)
wait_dp dp.sock
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

sipp_bg uas.out -sf "$X/call_uas.xml" -t u1 -i 127.0.0.1 -p "$P_UAS" -m 1 -trace_msg \
	-message_file uas.msg
UAS=$SIPP_PID
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
if wait_gw_idle gw.properties; then ok "after the call: 0 calls, 0 media sessions, 0 dataplane sessions (mgctl stats)"; else bad "after the call: $GW_STATE (mgctl stats)"; fi

# Late offer to the PSTN: the SIP caller sends no SDP; the call goes out on
# span 2 at once; on CONNECT the caller's 200 offers the span's law first
# (E1: PCMA, PCMU, telephone-event); the caller answers PCMU in its ACK
# (127.0.0.1:7090), which installs the session and binds the B-channel.
n0=$(wc -l < control.log)
sipp_bg late_uas.out -sf "$X/call_uas.xml" -t u1 -i 127.0.0.1 -p "$P_UAS" -m 1
p=$SIPP_PID
timeout 40 sipp -sf "$X/call_late_uac.xml" "127.0.0.1:$P_GW" -t u1 -i 127.0.0.1 -p "$P_UAC" -m 1 -d 500 \
	-nostdin -trace_msg -message_file late.msg -trace_err -error_file late.err > late.out 2>&1
rc=$?
wait_gone "$p"
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

# Helpers of the sections below. since N OUT: control.log after line N.
since() { tail -n +$(($1 + 1)) control.log > "$2"; }
# wait_idle: up to 10 s for mgctl stats to say 0 calls, 0 media sessions
# and 0 sessions in the dataplane (the PRI releases trail the SIP side);
# what it said last is in GW_STATE.
wait_idle() { wait_gw_idle gw.properties 100; }
# uas_done PID: 5 s for a section's SIPp callee to finish its calls; one
# still running is a failure and is stopped, so that it cannot take the
# next section's calls.
uas_done() {
	wait_gone "$1" 50 && return 0
	bad "SIPp callee $1 still running 5 s after its caller finished: stopped"
	kill "$1" 2> /dev/null
}
# pstn_call NAME N0 UAS UAC [caller options]: one call through both spans,
# a one-call SIPp callee (scenario UAS, its messages in NAME_uas.msg) and
# caller (UAC, messages NAME.msg, errors NAME.err; its exit in rc); then the
# callee done (uas_done), the gateway idle, and in NAME_log what control.log
# got after line N0.
pstn_call() {
	local name=$1 n0=$2 uas=$3 uac=$4 p
	shift 4
	sipp_bg "${name}_uas.out" -sf "$X/$uas" -t u1 -i 127.0.0.1 -p "$P_UAS" -m 1 -trace_msg \
		-message_file "${name}_uas.msg"
	p=$SIPP_PID
	timeout 30 sipp -sf "$X/$uac" "127.0.0.1:$P_GW" -t u1 -i 127.0.0.1 -p "$P_UAC" -m 1 \
		"$@" -nostdin -trace_msg -message_file "$name.msg" -trace_err -error_file "$name.err" > "$name.out" 2>&1
	rc=$?
	uas_done "$p"
	wait_idle
	since "$n0" "${name}_log"
}
# Follows B-channels through a log: the PRI manager's seizure ("incoming/
# outgoing call ... on spanS/T") and release ("spanS/T released") and the
# call engine's TDM binding ("channel N bound/unbound"). A timeslot seized
# or a channel bound while it is still held by another call is an error.
cat > pstn_chans.py << 'EOF'
import re, sys
held, bound, maxheld, errors, used, chans = {}, {}, {}, [], set(), set()
maxbound = 0
for ln in open(sys.argv[1]):
    m = re.search(r"pri: span (\d+): (?:incoming|outgoing) call .* on (span\d+/\d+)$", ln)
    if m:
        sp, ts = m.groups()
        if ts in held:
            errors.append("%s seized again while held" % ts)
        held[ts] = sp
        used.add(ts)
        maxheld[sp] = max(maxheld.get(sp, 0), sum(1 for v in held.values() if v == sp))
        continue
    m = re.search(r"pri: span \d+: (span\d+/\d+) released, channel \d+ free", ln)
    if m:
        if held.pop(m.group(1), None) is None:
            errors.append("%s released but not held" % m.group(1))
        continue
    m = re.search(r"call (\d+): channel (\d+) bound to session", ln)
    if m:
        call, ch = m.groups()
        if ch in bound:
            errors.append("channel %s bound to call %s while call %s holds it" % (ch, call, bound[ch]))
        bound[ch] = call
        chans.add(ch)
        maxbound = max(maxbound, len(bound))
        continue
    m = re.search(r"call (\d+): channel (\d+) unbound", ln)
    if m:
        call, ch = m.groups()
        if bound.get(ch) != call:
            errors.append("channel %s unbound by call %s, bound to %s" % (ch, call, bound.get(ch)))
        bound.pop(ch, None)
print("seized=%d span1max=%d span2max=%d boundmax=%d held=%d bound=%d errors=%d"
      % (len(used), maxheld.get("1", 0), maxheld.get("2", 0), maxbound, len(held), len(bound), len(errors)))
print("channels=" + ",".join(sorted(chans, key=int)))
for e in errors[:10]:
    print("error: " + e)
EOF
# chan_stat LOG KEY: one figure of pstn_chans.py
chan_stat() { python3 pstn_chans.py "$1" | sed -n "s/.*\b$2=\([0-9,]*\).*/\1/p" | head -n 1; }
# nothing_left NAME LOG N0: every call ended, no session in the dataplane, every
# timeslot seized in LOG released, every channel bound in LOG unbound there
# and not bound in the dataplane (TDM_UNBIND answers "not bound").
nothing_left() { # NAME LOG N0 (LOG: control.log after line N0)
	local ch left=""
	if wait_idle; then ok "$1: 0 calls, 0 media sessions, 0 sessions in the dataplane (mgctl stats)"; else bad "$1: left: $GW_STATE (mgctl stats)"; fi
	since "$3" "$2"
	python3 pstn_chans.py "$2" > "$2.chans"
	check "$1: every B-channel seized was released, every binding undone, none twice at once" "$2.chans" \
		"held=0 bound=0 errors=0"
	for ch in $(chan_stat "$2" channels | tr , ' '); do
		"$DPCTL" --socket dp.sock tdm unbind "$ch" > /dev/null 2>&1 && left="$left $ch"
	done
	if [ -z "$left" ]; then ok "$1: no channel left bound in the dataplane"; else bad "$1: channels still bound:$left"; fi
}

# CANCEL while ringing across the PSTN: the SIP callee answers 180 and
# waits; the SIP caller CANCELs. Call A (SIP in) sends DISCONNECT 16 on
# span 2, span 1 gets it and releases, call B (PSTN in) CANCELs its SIP
# callee, which answers 487; the caller gets 487.
can_log_n0=$(wc -l < control.log)
pstn_call can "$can_log_n0" call_cancel_uas.xml call_pstn_cancel_uac.xml
ca=$(sed -n 's/.*call \([0-9]*\): routed by rule sip_to_pstn to the PSTN.*/\1/p' can_log | head -n 1)
cb=$(sed -n 's/.*call \([0-9]*\): PSTN SETUP .* on span1\/.*/\1/p' can_log | head -n 1)
ta=$(sed -n "s/.*call ${ca:-X}: routed by rule sip_to_pstn to the PSTN: [0-9]* on span2\/\([0-9]*\) .*/\1/p" can_log | head -n 1)
if [ "$rc" -eq 0 ]; then ok "CANCEL across the PSTN: INVITE, 180, CANCEL, 200, 487, ACK"; else bad "CANCEL SIPp caller: exit $rc" can.err; fi
check "  the SIP caller got 487" can.msg "^SIP/2.0 487 "
check "  call A ended by the caller's CANCEL while ringing" can_log "call ${ca:-X}: ending in state early: caller cancelled"
check "  call A's PSTN leg sent DISCONNECT cause 16 on span 2" can_log "pri: span 2: DISCONNECT on span2/${ta:-X}, cause 16 "
check "  span 1 got the DISCONNECT (cause 16) on the same timeslot" can_log "pri: span 1: DISCONNECT received on span1/${ta:-X}, cause 16 "
check "  span 1 released (RELEASE sent)" can_log "pri: span 1: RELEASE sent on span1/${ta:-X}, cause 16 "
check "  call B ended by the PSTN caller's release" can_log "call ${cb:-X}: ending in state early: PSTN caller released: cause 16"
check "  the SIP callee got CANCEL" can_uas.msg "^CANCEL sip:"
check "  and answered 487" can_uas.msg "^SIP/2.0 487 "
check "  both timeslots released" can_log "pri: span 1: span1/${ta:-X} released, channel"
check "  (span 2 too)" can_log "pri: span 2: span2/${ta:-X} released, channel"
nothing_left "CANCEL" can_log "$can_log_n0"

# Early media over the PRI: the SIP callee answers 183 with SDP, 1 s later
# 200. Call B (PSTN in) installs its session on the 183 and sends PROGRESS
# with in-band information (progress indicator 8) on span 1; span 2 gets
# it, call A installs its session and binds its channel, and the SIP
# caller gets 183 with the SDP answer, all before the CONNECT; then 200.
early_log_n0=$(wc -l < control.log)
pstn_call early "$early_log_n0" call_pstn_early_uas.xml call_pstn_early_uac.xml -d 500
ea=$(sed -n 's/.*call \([0-9]*\): routed by rule sip_to_pstn to the PSTN.*/\1/p' early_log | head -n 1)
eb=$(sed -n 's/.*call \([0-9]*\): PSTN SETUP .* on span1\/.*/\1/p' early_log | head -n 1)
te=$(sed -n "s/.*call ${ea:-X}: routed by rule sip_to_pstn to the PSTN: [0-9]* on span2\/\([0-9]*\) .*/\1/p" early_log | head -n 1)
if [ "$rc" -eq 0 ]; then ok "early media across the PSTN: INVITE, 183 with SDP (SRTP answer), 200, ACK, BYE"; else bad "early media SIPp caller: exit $rc" early.err; fi
# line number of the first match of REGEX in FILE (0: none)
first() { grep -n -m 1 -E -- "$2" "$1" | cut -d: -f1 | grep . || echo 0; }
in_order() { # NAME FILE REGEX1 REGEX2: both there, the first one first
	local a b
	a=$(first "$2" "$3") b=$(first "$2" "$4")
	if [ "$a" -gt 0 ] && [ "$b" -gt 0 ] && [ "$a" -lt "$b" ]; then ok "$1"; else bad "$1 (/$3/ at line $a, /$4/ at line $b of $(basename "$2"))" "$2"; fi
}
check "  call B: session installed on the callee's 183" early_log "call ${eb:-X}: SESSION_ADD [0-9]+ \(early media\): caller TDM channel"
check "  span 1 sent PROGRESS with in-band information (PI 8)" early_log "pri: span 1: PROGRESS sent on span1/${te:-X} \(in-band information, PI 8\)"
check "  span 2 received PROGRESS with in-band information (PI 8)" early_log "pri: span 2: PROGRESS received on span2/${te:-X} \(in-band information, PI 8\)"
in_order "  call A: session installed (early media) before the CONNECT" early_log \
	"call ${ea:-X}: SESSION_ADD [0-9]+ \(early media\): caller 127\.0\.0\.1:[0-9]+ SRTP, callee TDM channel" \
	"pri: span 2: CONNECT received on span2/${te:-X}"
in_order "  call A: B-channel bound before the CONNECT" early_log \
	"call ${ea:-X}: channel [0-9]+ bound to session" "pri: span 2: CONNECT received on span2/${te:-X}"
in_order "  the SIP caller got 183 with SDP, then 200" early.msg "^SIP/2.0 183 " "^SIP/2.0 200 "
if [ "$(grep -c "call ${ea:-X}: SESSION_ADD" early_log)" = 1 ]; then ok "  call A: one SESSION_ADD"; else bad "  call A: SESSION_ADD count" early_log; fi
nothing_left "early media" early_log "$early_log_n0"

# CANCEL during early media: the SIP callee answers 183 with SDP and never
# answers; the caller CANCELs while both sessions are installed and both
# B-channels bound: the same clearing as above, plus both channels unbound
# and both sessions removed.
ec_log_n0=$(wc -l < control.log)
pstn_call ec "$ec_log_n0" call_pstn_early_cancel_uas.xml call_pstn_cancel_uac.xml
xa=$(sed -n 's/.*call \([0-9]*\): routed by rule sip_to_pstn to the PSTN.*/\1/p' ec_log | head -n 1)
xb=$(sed -n 's/.*call \([0-9]*\): PSTN SETUP .* on span1\/.*/\1/p' ec_log | head -n 1)
tx=$(sed -n "s/.*call ${xa:-X}: routed by rule sip_to_pstn to the PSTN: [0-9]* on span2\/\([0-9]*\) .*/\1/p" ec_log | head -n 1)
if [ "$rc" -eq 0 ]; then ok "CANCEL during early media: INVITE, 183, CANCEL, 200, 487, ACK"; else bad "early-media CANCEL SIPp caller: exit $rc" ec.err; fi
check "  the caller's 183 carried the SDP answer" ec.msg "^m=audio [0-9]+ RTP/SAVP"
check "  the SIP caller got 487" ec.msg "^SIP/2.0 487 "
check "  call A: early media session and channel in place" ec_log "call ${xa:-X}: channel [0-9]+ bound to session"
check "  call B: early media session and channel in place" ec_log "call ${xb:-X}: channel [0-9]+ bound to session"
check "  call A ended by the caller's CANCEL in early media" ec_log "call ${xa:-X}: ending in state early: caller cancelled"
check "  DISCONNECT cause 16 sent on span 2" ec_log "pri: span 2: DISCONNECT on span2/${tx:-X}, cause 16 "
check "  span 1 got it and released" ec_log "pri: span 1: RELEASE sent on span1/${tx:-X}, cause 16 "
check "  call B ended by the PSTN caller's release" ec_log "call ${xb:-X}: ending in state early: PSTN caller released: cause 16"
check "  the SIP callee got CANCEL" ec_uas.msg "^CANCEL sip:"
check "  and answered 487" ec_uas.msg "^SIP/2.0 487 "
check "  call A: channel unbound" ec_log "call ${xa:-X}: channel [0-9]+ unbound"
check "  call B: channel unbound" ec_log "call ${xb:-X}: channel [0-9]+ unbound"
nothing_left "CANCEL in early media" ec_log "$ec_log_n0"

# Parallel calls over the PRI: 20 SIP calls at 10/s, each held 2 s, through
# the chain, so up to ~20 of them are up at once on span 2's 30 B-channels
# (and their 20 PSTN-in twins on span 1). Every call completes; no
# timeslot is seized, nor a channel bound, while another call holds it; no
# glare or all-busy (cause 34); nothing left.
par_log_n0=$(wc -l < control.log)
par_ended0=$(gw_stat gw.properties ended)
sipp_bg par_uas.out -sf "$X/call_uas.xml" -t u1 -i 127.0.0.1 -p "$P_UAS" -m 20
p=$SIPP_PID
timeout 60 sipp -sf "$X/call_uac.xml" "127.0.0.1:$P_GW" -t u1 -i 127.0.0.1 -p "$P_UAC" -r 10 -m 20 -l 30 \
	-d 2000 -nostdin -trace_err -error_file par.err > par.out 2>&1
rc=$?
uas_done "$p"
wait_idle
since "$par_log_n0" par_log
if [ "$rc" -eq 0 ]; then ok "20 parallel calls (10/s, 2 s each) through the PRI: all completed"; else bad "parallel SIPp caller: exit $rc" par.err; fi
n=$(grep -c "routed by rule sip_to_pstn to the PSTN" par_log)
m=$(grep -c "PSTN SETUP .* on span1/" par_log)
e=$(($(gw_stat gw.properties ended) - par_ended0))
if [ "$n" = 20 ] && [ "$m" = 20 ] && [ "$e" = 40 ]; then ok "  20 calls out on span 2, 20 in on span 1, 40 ended (mgctl stats calls.ended)"; else bad "  $n out, $m in, $e ended (want 20, 20, 40)" par_log; fi
python3 pstn_chans.py par_log > par_chans
s1=$(chan_stat par_log span1max) s2=$(chan_stat par_log span2max) bm=$(chan_stat par_log boundmax) sz=$(chan_stat par_log seized)
echo "# parallel: $sz timeslots used, up to $s2 held at once on span 2, $s1 on span 1, $bm channels bound at once"
if [ "${sz:-0}" -ge 20 ] && [ "${s2:-0}" -ge 10 ] && [ "${bm:-0}" -ge 20 ]; then
	ok "  the calls overlapped: up to $s2 B-channels held at once on span 2, $bm channels bound at once"
else
	bad "  too little overlap for a parallel test: $sz timeslots, $s2 at once on span 2, $bm bound" par_chans
fi
# every one of the 40 channels moved audio both ways while bound (a 2 s call
# is ~100 frames; > 20 each way says the TDM thread served them all)
nm=$(sed -n 's/.*channel [0-9]* unbound: \([0-9]*\) frames from TDM, \([0-9]*\) RTP out, [0-9]* RTP in, \([0-9]*\) frames to TDM.*/\1 \2 \3/p' par_log |
	awk '$1 > 20 && $2 > 20 && $3 > 20' | wc -l)
if [ "$nm" = 40 ]; then ok "  all 40 B-channels carried media (> 20 frames from and to TDM, > 20 RTP out)"; else bad "  $nm of 40 channels carried media" par_log; fi
if grep -Eq "cause 34 |refused: cause" par_log; then bad "  glare or all-busy during the parallel calls" par_log; else ok "  no glare, no all-busy refusal"; fi
nothing_left "parallel" par_log "$par_log_n0"

# No protocol trouble on the D-channels in any of the above: libpri warns
# about what it rejects (missing or bad IEs, unexpected messages, timers
# expired), the manager about channels not held or records dropped.
if grep -E "\[(warning|error)\] (libpri|pri):" control.log > pri_warn.log; then
	bad "PRI warnings during the calls" pri_warn.log
else
	ok "no libpri / PRI manager warning during the calls"
fi

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
    # a retransmitted answer to an earlier INVITE from this port is not ours
    if ("\r\nCall-ID: %s\r\n" % cid) not in m:
        continue
    code = int(m.split()[1])
    if code >= 200:
        print(m.split("\r\n", 1)[0])
        break
EOF
nr_n0=$(wc -l < control.log)
python3 raw_invite.py "$P_GW" "$P_RAW" nr5 noroute1 > noroute.out
wait_idle
log_since control.log "$nr_n0" noroute_log
check "PSTN side has no route (cause 1): the SIP caller gets 404" noroute.out "^SIP/2.0 404"
check "  span 1 refused the SETUP with cause 1" noroute_log "call [0-9]+: PSTN leg 0 released with cause 1 "

# Call admission on the PSTN side: with mediagate.calls.maxCalls=1 (SIGHUP)
# the SIP call to uas7 is admitted and goes out on span 2; its SETUP arrives
# on span 1 as a second call, one too many: released with cause 42
# (switching equipment congestion), which reaches the SIP caller as 503.
echo "mediagate.calls.maxCalls=1" >> gw.properties
kill -HUP "$CTL"
wait_log control.log "SIGHUP: mediagate.calls.maxCalls=1,"
ov_n0=$(wc -l < control.log)
ov0=$(gw_stat gw.properties overload)
python3 raw_invite.py "$P_GW" "$P_RAW" uas7 overload1 > overload.out
ov=$(($(gw_stat gw.properties overload) - ov0))
if [ "$ov" = 1 ]; then ok "maxCalls=1: the PSTN call beyond it is refused before routing (mgctl stats calls.overload +1)"; else bad "maxCalls=1: calls.overload went up by $ov, want 1" control.log; fi
log_since control.log "$ov_n0" overload_log
check "  span 1 released it with cause 42 (switching equipment congestion)" overload_log "call [0-9]+: PSTN leg 0 released with cause 42 "
check "  the SIP caller of the chain gets 503" overload.out "^SIP/2.0 503"
if wait_idle; then ok "every call ended: 0 calls, 0 media sessions (mgctl stats), 0 sessions in the dataplane"; else bad "calls or sessions left: $GW_STATE (mgctl stats)"; fi
t=$(dp_total dp.sock)
if [ "$t" = 0 ]; then ok "no session left in the dataplane (mediagate-dpctl session list)"; else bad "dataplane sessions: $t"; fi
echo "passed $pass, failed $fail"
[ "$fail" -eq 0 ]
