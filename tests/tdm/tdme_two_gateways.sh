#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Suite 'tdm' (area tdme): two gateways joined by an emulated E1 PRI line,
# real SIP endpoints at both ends (issue 7, "End to end"). Run under
# tests/dahdi-emu/tdm-emu-run -c tests/tdm/pri_system.conf: the emulator joins
# DAHDI span 1 and span 2 back to back; gateway A runs span 1 as the network
# side (mediagate.tdm.span.0), gateway B span 2 as the user side
# (mediagate.tdm.span.1 alone), each with its own mediagate-control and
# mediagate-dataplane, config, socket and EAL file prefix:
#
#   ns tdme-T-a: baresip alice --SIP/TLS+SRTP--> gateway A --PRI span 1 (NT)-->
#     emulator --> span 2 (TE) gateway B --SIP/TLS+SRTP--> baresip bob :ns tdme-T-b
#
#   tdme-ma1 203.0.113.34/28 -- tdme-ma | dataplane A 203.0.113.33 (TDM chan 1-3)
#   tdme-mb1 203.0.113.50/28 -- tdme-mb | dataplane B 203.0.113.49 (TDM chan 32-34)
#   SIP: tdme-sa1 -- tdme-sa 10.199.8.1 control A ; tdme-sb1 -- tdme-sb 10.199.8.2 control B
#
# Both gateways (tdme-m*, tdme-s* and the four daemons) run in namespace
# tdme-T-gw. T is this run's tag (its PID in hex): namespaces, EAL file
# prefixes tdme-T-a / tdme-T-b and the work directory are this run's own, and
# the veths are made inside the namespaces, so two runs side by side share no
# name, address or port.
#
# Checks: the call connects through both gateways; alice's 440 Hz (ausine)
# is measured in bob's decoded audio (baresip sndfile, Goertzel) and bob's
# 880 Hz in alice's; DTMF sent by alice as RFC 4733 is received by bob as
# RFC 4733 (it crossed the E1 as tones: A generates, B detects); hang-up from
# alice and from bob clears both gateways (0 calls active, session removed,
# B-channel unbound, no dataplane session left); bob rejecting the call
# (486) and a number B has no route for (cause 1) reach alice as 486 / 404.
#
#   tdme_two_gateways.sh BUILD_DIR SRC_DIR
set -uo pipefail
BUILD=$1 SRC=$2
CONTROL=$BUILD/control/mediagate-control
DATAPLANE=$BUILD/dataplane/mediagate-dataplane
DPCTL=$BUILD/dataplane/dpctl/mediagate-dpctl
CERT=$BUILD/control/cert/mediagate-cert
CONF=$SRC/tests/tdm/pri_system.conf
CHECK=$SRC/tests/tdm/tdme_audio.py
: "${MG_TDM_EMU_DIR:?run through tdm-emu-run}"
GA=10.199.8.1 GB=10.199.8.2
A=203.0.113.34 B=203.0.113.50 DPA=203.0.113.33 DPB=203.0.113.49
PIDS=()

if [ "$(id -u)" -ne 0 ]; then
	echo "tdme: needs root (network namespaces, AF_PACKET)"
	exit 1
fi
for b in "$CONTROL" "$DATAPLANE" "$DPCTL" "$CERT"; do
	[ -x "$b" ] || { echo "tdme: $b was not built"; exit 1; }
done
command -v baresip > /dev/null || { echo "tdme: baresip is not installed (scripts/setup installs baresip-core)"; exit 1; }
W=$(mktemp -d /tmp/tdme.XXXXXX)

. "$SRC/tests/interop/call_lib.sh"
T=$(printf %x $$)
BED_TAG=tdme-$T PREFIX="tdme-$T-a tdme-$T-b" KEEP=${TDME_KEEP:-0}
NS_A=$BED_TAG-a NS_B=$BED_TAG-b NS_GW=$BED_TAG-gw
trap call_cleanup EXIT
trap 'exit 1' INT TERM

# ---- test bed ---------------------------------------------------------------
set -e
bed_up tdme
ip -n $NS_GW addr add $GA/32 dev tdme-sa
ip -n $NS_GW addr add $GB/32 dev tdme-sb
ip -n $NS_A addr add $A/28 dev tdme-ma1
ip -n $NS_B addr add $B/28 dev tdme-mb1
ip -n $NS_GW route add $A/32 dev tdme-sa src $GA
ip -n $NS_GW route add $B/32 dev tdme-sb src $GB
ip -n $NS_A route add $GA/32 dev tdme-sa1 src $A
ip -n $NS_B route add $GB/32 dev tdme-sb1 src $B
set +e

# ---- certificates: a throw-away CA, mediagate-cert for the gateways ----------
cd "$W" || exit 1
. "$SRC/tests/interop/test_ca.sh"
test_ca_init tdme-ca 2
echo 'tdme key password' > gwpw
chmod 600 gwpw
for g in gwa:$GA gwb:$GB; do
	n=${g%%:*} ip=${g#*:}
	"$CERT" req --cn $n.tdme.test --san "DNS:$n.tdme.test,IP:$ip" --key-out $n.key --csr-out $n.csr \
		--pass-file gwpw >> cert.log 2>&1
	test_ca_sign $n.csr $n.pem >> cert.log 2>&1
done
test_ca_peer alice $A tdme.test >> cert.log 2>&1
test_ca_peer bob $B tdme.test >> cert.log 2>&1
[ -s gwa.pem ] && [ -s gwb.pem ] && [ -s alice.pem ] && [ -s bob.pem ] || { bad "certificates" cert.log; exit 1; }

# ---- gateways -----------------------------------------------------------------
# A: SIP numbers 2xxx go out on span 1 with the number as called number.
cat > rules-a.xml << 'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<routing_rules>
<rule name="to_pstn" outbound_interface="pstn" qvalue="0.5">
  <condition param="sip.in.requestUri.user" expr="(2[0-9]+)"/>
  <out_leg name="">
    <param name="pstn.out.group" expr="span1"/>
    <param name="pstn.out.dnis" expr="%0"/>
    <param name="pstn.out.ani" expr="1001"/>
    <param name="pstn.out.callerName" expr="Alice"/>
  </out_leg>
</rule>
</routing_rules>
EOF
# B: only 2001 from span 2 has a route (to bob); anything else: cause 1.
cat > rules-b.xml << EOF
<?xml version="1.0" encoding="UTF-8"?>
<routing_rules>
<rule name="to_bob" outbound_interface="sip" qvalue="0.5">
  <condition param="pstn.in.channelName" expr="span2/.*"/>
  <condition param="pstn.in.dnis" expr="2001"/>
  <condition param="pstn.in.ani" expr="(.*)"/>
  <out_leg name="" media_type="sendrecv">
    <param name="sip.out.requestUri" expr="sip:bob@$B:5061"/>
    <param name="sip.out.from.uri" expr="sip:%0@GW_HOST_IP:GW_SIP_PORT"/>
    <param name="sip.out.transport" expr="tls"/>
  </out_leg>
</rule>
</routing_rules>
EOF
mkgw() { # NAME SIPIP SPANKEY ROLE DPDEV DPADDR PORTS EXTRA-LINE
	cat > $1.properties << EOF
netborder.sip.userAgent.IPAddress=$2:5061/tls
netborder.sip.tls.serverCertificateFile=$W/$1.pem
netborder.sip.tls.serverCertificatePrivateKeyFile=$W/$1.key
netborder.sip.tls.trustedRootCertificatesStore=$W/ca.pem
mediagate.sip.tls.keyPasswordFile=$W/gwpw
mediagate.sip.contactHost=$2
netborder.media.srtp.mode=always
mediagate.routing.rulesFile=$W/rules-${1:2:1}.xml
mediagate.log.level=${TDME_LOG_LEVEL:-info}
mediagate.control.socket=$W/$1.sock
mediagate.control.cliSocket=$W/$1-cli.sock
mediagate.control.allowedUids=0
mediagate.tdm.systemConf=$CONF
mediagate.tdm.devicePath=$MG_TDM_EMU_DIR
mediagate.tdm.$3.role=$4
mediagate.tdm.$3.switchType=euroisdn_e1
mediagate.dataplane.eal=--no-huge -m 256 --no-shconf --no-pci --no-telemetry -l 0,1 --file-prefix tdme-$T-${1:2:1}
mediagate.dataplane.port.0.device=$5
mediagate.dataplane.port.0.addresses=$6/28
mediagate.dataplane.idleSleepUs=1000
mediagate.media.portRange=$7
${TDME_EXTRA:-}
$8
EOF
}
mkgw gwa $GA span.0 network net_af_packet0,iface=tdme-ma $DPA 41000-41199 "${TDME_EXTRA_A:-}"
mkgw gwb $GB span.1 user net_af_packet0,iface=tdme-mb $DPB 41200-41399 "${TDME_EXTRA_B:-}"
for g in gwa gwb; do
	ip netns exec $NS_GW "$DATAPLANE" --config $g.properties > $g-dataplane.log 2>&1 &
	PIDS+=($!)
done
wait_dp gwa.sock
wait_dp gwb.sock
ip netns exec $NS_GW "$CONTROL" --config gwa.properties > gwa.log 2>&1 &
CTLA=$!
PIDS+=($CTLA)
ip netns exec $NS_GW "$CONTROL" --config gwb.properties > gwb.log 2>&1 &
CTLB=$!
PIDS+=($CTLB)
wait_log gwa.log "pri: span 1: D-channel up" 1 100
wait_log gwb.log "pri: span 2: D-channel up" 1 100
wait_log gwa.log "connected to dataplane" 1 100
wait_log gwb.log "connected to dataplane" 1 100
check "gateway A: PRI span 1 (network) up, dataplane connected" gwa.log "pri: span 1: D-channel up"
check "gateway B: PRI span 2 (user) up, dataplane connected" gwb.log "pri: span 2: D-channel up"
if grep -q "pri: span 2" gwa.log || grep -q "pri: span 1" gwb.log; then
	bad "each gateway runs only its own span"
else
	ok "each gateway runs only its own span"
fi

# ---- baresip -------------------------------------------------------------------
mkbaresip() { # NAME ADDR TONE CTRLPORT AOR
	mkdir -p "$W/$1/snd"
	cat > "$W/$1/config" << EOF
poll_method		epoll
sip_listen		$2:5060
sip_certificate		$W/$1.pem
sip_cafile		$W/ca.pem
net_interface		tdme-m${1:0:1}1
audio_source		ausine,$3
ausrc_srate		48000
auplay_srate		48000
ausrc_channels		2
auplay_channels		2
audio_player		aubridge,$1-out
audio_alert		aubridge,$1-alert
snd_path		$W/$1/snd
module_path		/usr/lib/baresip/modules
module			menu.so
module			g711.so
module			ausine.so
module			aubridge.so
module			sndfile.so
module			srtp.so
module			ctrl_tcp.so
module			account.so
ctrl_tcp_listen		127.0.0.1:$4
EOF
	echo "$5" > "$W/$1/accounts"
	: > "$W/$1/contacts"
}
# bob answers (or rejects) when told to, through ctrl_tcp.
mkbaresip bob $B 880 4447 "<sip:bob@$B>;regint=0;answermode=manual;mediaenc=srtp-mand;audio_codecs=PCMA,PCMU"
mkbaresip alice $A 440 4446 "<sip:alice@$A>;regint=0;mediaenc=srtp-mand;audio_codecs=PCMU"
if [ -n "${TDME_PCAP:-}" ]; then
	# Media of both SIP legs as the peers see them (debugging aid).
	for s in a b; do
		ip netns exec $BED_TAG-$s tshark -q -i tdme-m${s}1 -f udp -w "$W/$s.pcap" > /dev/null 2>&1 &
		PIDS+=($!)
	done
fi
ip netns exec $NS_B baresip -v -s -f "$W/bob" > bob.log 2>&1 < /dev/null &
PIDS+=($!)
ip netns exec $NS_A baresip -v -s -f "$W/alice" > alice.log 2>&1 < /dev/null &
PIDS+=($!)
ctrl() { # NS PORT COMMAND [PARAMS]: one ctrl_tcp netstring
	local j="{\"command\":\"$3\",\"params\":\"${4:-}\",\"token\":\"t\"}"
	ip netns exec "$1" bash -c "exec 3<>/dev/tcp/127.0.0.1/$2 && printf '%d:%s,' ${#j} '$j' >&3 && sleep 0.2" 2> /dev/null
}
for p in 4446:$NS_A 4447:$NS_B; do
	for _ in $(seq 50); do
		ip netns exec "${p#*:}" bash -c "exec 3<>/dev/tcp/127.0.0.1/${p%%:*}" 2> /dev/null && break
		sleep 0.1
	done
done
dial() { ctrl $NS_A 4446 dial "sip:$1@$GA:5061;transport=tls"; }
# dtmf FROM TO DIGITS SECS (FROM, TO: alice or bob): TO's ctrl_tcp events are
# recorded in TO-events.txt for SECS s while FROM sends DIGITS, one digit per
# command, spaced, as a person would press them; the digits TO received as
# telephone-events are left in got.
dtmf() {
	local -A ns=([alice]=$NS_A [bob]=$NS_B) port=([alice]=4446 [bob]=4447)
	local ev i
	ip netns exec ${ns[$2]} python3 "$SRC/tests/tdm/tdme_events.py" ${port[$2]} $4 "$W/$2-events.txt" 2>> $2-events.err &
	ev=$!
	PIDS+=($ev)
	wait_log $2-events.txt "listening" 1 30
	for ((i = 0; i < ${#3}; i++)); do
		ctrl ${ns[$1]} ${port[$1]} sndcode "${3:i:1}"
		sleep 0.6
	done
	wait "$ev"
	got=$(sed -n "s/^DTMF \(.\).*/\1/p" $2-events.txt | tr -d '\n')
}

# ---- call 1: alice calls 2001, bob answers; tone, DTMF; alice hangs up ------------
dial 2001
wait_log bob.log "Incoming call from" 1 150 || bad "bob was not called" bob.log
ctrl $NS_B 4447 accept
# up: each gateway has one call, active (mgctl calls list), routed by its rule
for g in gwa gwb; do
	if wait_gw_calls $g.properties "1 active" 100; then ok "call 1 active at gateway ${g:2:1} (mgctl calls list)"; else bad "call 1 at gateway ${g:2:1}: mgctl calls list says '$GW_CALLS'" $g.log; fi
done
rule_a=$(mgj gwa.properties calls list | js 'd["calls"][0]["rule"]')
rule_b=$(mgj gwb.properties calls list | js 'd["calls"][0]["rule"]')
target_b=$(mgj gwb.properties calls list | js 'd["calls"][0]["target"]')
if [ "$rule_a" = to_pstn ]; then ok "call 1 routed by gateway A to the PSTN (rule to_pstn, mgctl)"; else bad "call 1 at A: rule '$rule_a'"; fi
if [ "$rule_b" = to_bob ] && [ "$target_b" = "sip:bob@$B:5061;transport=tls" ]; then ok "call 1: gateway B routes the SETUP to bob (rule to_bob, target $target_b)"; else bad "call 1 at B: rule '$rule_b', target '$target_b'"; fi
check "  gateway A placed it on span 1" gwa.log "routed by rule to_pstn to the PSTN: 2001 on span1/"
check "  B-channel bound on gateway A" gwa.log "call [0-9]+: channel [0-9]+ bound to session"
check "  B-channel bound on gateway B" gwb.log "call [0-9]+: channel [0-9]+ bound to session"
check "  alice's leg is SRTP (crypto answered)" alice.log "a=crypto:[0-9]+ AES_CM_128_HMAC_SHA1_80 inline:"
check "  bob's leg is SRTP (crypto offered)" bob.log "a=crypto:[0-9]+ AES_CM_128_HMAC_SHA1_80 inline:"
sleep 3
# DTMF: one digit per command, spaced, as a person would press them; bob's
# ctrl_tcp events say which telephone-events it received.
DIGITS=159#
dtmf alice bob "$DIGITS" 5
sent=$(sed -n "s/.*send DTMF digit: '\(.\)'.*/\1/p" alice.log | tr -d '\n')
if [ "$sent" = "$DIGITS" ]; then ok "alice sent $DIGITS as RFC 4733"; else bad "alice sent '$sent', not $DIGITS" alice.log; fi
if [ "$got" = "$DIGITS" ]; then ok "bob received $DIGITS as RFC 4733 (across the E1 as tones)"; else bad "bob received DTMF '$got', wanted $DIGITS" bob.log; fi
# and back: bob -> B (tones on the line) -> A (detected) -> alice
DIGITS2='*07'
dtmf bob alice "$DIGITS2" 4
if [ "$got" = "$DIGITS2" ]; then ok "alice received $DIGITS2 from bob as RFC 4733 (the other direction)"; else bad "alice received DTMF '$got', wanted $DIGITS2" alice.log; fi
# step_start: before a step, each gateway's log length and calls.ended
step_start() {
	local g
	for g in gwa gwb; do
		eval "n0_$g=\$(wc -l < $g.log) ended0_$g=\$(gw_stat $g.properties ended)"
	done
}
# step_idle NAME: after a step, each gateway idle (mgctl stats: 0 calls, 0
# media sessions, 0 dataplane sessions; dpctl: 0 sessions) with one more
# call ended, and what it logged in the step in STEP-$g.log
step_idle() {
	local g n0 e0 e t
	for g in gwa gwb; do
		eval "n0=\$n0_$g e0=\$ended0_$g"
		if wait_gw_idle $g.properties 100; then ok "  $g: 0 calls, 0 media sessions, 0 dataplane sessions (mgctl stats)"; else bad "  $g: left after $1: $GW_STATE (mgctl stats)" $g.log; fi
		e=$(($(gw_stat $g.properties ended) - e0))
		if [ "$e" = 1 ]; then ok "  $g: one call ended (mgctl stats calls.ended +1)"; else bad "  $g: calls.ended went up by $e in $1, want 1"; fi
		t=$(dp_total $g.sock)
		if [ "$t" = 0 ]; then ok "  $g: no session left in the dataplane (mediagate-dpctl)"; else bad "  $g: $t sessions in the dataplane"; fi
		log_since $g.log "$n0" "$1-$g.log"
	done
}
step_start
ctrl $NS_A 4446 hangup
step_idle call1
check "alice hung up: gateway A ended its call (BYE from the caller)" call1-gwa.log "ended after [0-9]+s \(BYE from the caller\)"
check "  gateway B ended its call by the PSTN caller's release (16)" call1-gwb.log "ending in state active: PSTN caller released: cause 16"
check "  bob got BYE" bob.log "^BYE sip:"
for g in gwa gwb; do
	check "  $g: B-channel unbound with media counted" call1-$g.log "channel [0-9]+ unbound: [1-9][0-9]+ frames from TDM, [1-9][0-9]+ RTP out, [1-9][0-9]+ RTP in"
	check "  $g: session removed" call1-$g.log "session [0-9]+ removed: "
done
# The recordings: baresip's sndfile writes dump-<time>-dec.wav (what it
# played, i.e. received and decoded) per call.
mv bob/snd bob/call1 && mv alice/snd alice/call1 && mkdir bob/snd alice/snd
python3 "$CHECK" bob/call1 alice/call1
rc=$?
if [ "$rc" -eq 0 ]; then ok "tones measured (alice 440 Hz at bob, bob 880 Hz at alice)"; else bad "tone measurement (tdme_audio.py exit $rc)"; fi

# ---- call 2: bob hangs up ------------------------------------------------------------
step_start
dial 2001
wait_log bob.log "Incoming call from" 2 150
ctrl $NS_B 4447 accept
wait_gw_calls gwa.properties "1 active" 100
wait_gw_calls gwb.properties "1 active" 50
if [ "$GW_CALLS" = "1 active" ]; then ok "call 2 active at both gateways (mgctl calls list)"; else bad "call 2: gateway B says '$GW_CALLS'" gwb.log; fi
sleep 1
ctrl $NS_B 4447 hangup
step_idle call2
check "call 2: bob hung up; gateway B ended by bob's BYE" call2-gwb.log "ended after [0-9]+s \(BYE from the callee\)"
check "  gateway A: the PSTN callee released (16)" call2-gwa.log "PSTN callee released: cause 16"
for g in gwa gwb; do
	check "  $g: B-channel of call 2 unbound" call2-$g.log "channel [0-9]+ unbound"
done

# ---- call 3: bob rejects (486) ---------------------------------------------------------
step_start
n0_alice=$(wc -l < alice.log)
dial 2001
wait_log bob.log "Incoming call from" 3 150
ctrl $NS_B 4447 hangup
wait_log alice.log "^SIP/2.0 486 " 1 100
step_idle call3
log_since alice.log "$n0_alice" call3-alice.log
check "busy: bob's 486 crossed the PSTN as cause 17" call3-gwb.log "PSTN leg [0-9]+ released with cause 17 "
check "  gateway A: PSTN callee released with 17, caller gets 486" call3-gwa.log "PSTN callee released: cause 17 \(user busy\), caller gets Busy Here"
check "  alice got 486" call3-alice.log "^SIP/2.0 486 "

# ---- call 4: unallocated number (no route on gateway B) ----------------------------------
step_start
n0_alice=$(wc -l < alice.log)
dial 2999
wait_log alice.log "^SIP/2.0 404 " 1 100
step_idle call4
log_since alice.log "$n0_alice" call4-alice.log
check "unallocated: gateway B refused 2999 with cause 1" call4-gwb.log "PSTN leg [0-9]+ released with cause 1 "
check "  gateway A: PSTN callee released with 1" call4-gwa.log "PSTN callee released: cause 1 \(unallocated"
check "  alice got 404" call4-alice.log "^SIP/2.0 404 "
# B-channels given back: A hunts span 1 from the top (network side), so
# every call takes timeslot 3 only if the previous one released it; B must
# have accepted each SETUP on that timeslot (it refuses a busy one with 44).
n=$(count gwa.log "pri: span 1: outgoing call 1001 -> 2[0-9]+ on span1/3\$")
if [ "$n" -eq 4 ]; then ok "gateway A placed all 4 calls on span1/3: each released its B-channel"; else bad "gateway A: $n of 4 calls on span1/3" gwa.log; fi
n=$(count gwb.log "pri: span 2: incoming call 1001 -> 2[0-9]+ on span2/3\$")
if [ "$n" -eq 4 ]; then ok "gateway B took all 4 SETUPs on span2/3"; else bad "gateway B: $n of 4 SETUPs on span2/3" gwb.log; fi
for g in gwa gwb; do
	e=$(gw_stat $g.properties ended) o=$(gw_stat $g.properties offered)
	if [ "$e" = 4 ] && [ "$(gw_state $g.properties)" = "calls=0 sessions=0 dp=0" ]; then ok "$g: all 4 calls ended, nothing left (mgctl stats: $o offered, $e ended)"; else bad "$g: $e of 4 calls ended, $(gw_state $g.properties)"; fi
done
for p in $CTLA $CTLB; do
	if kill -0 "$p" 2> /dev/null; then ok "mediagate-control $p still running"; else bad "mediagate-control $p died"; fi
done
echo "passed $pass, failed $fail"
[ "$fail" -eq 0 ]
