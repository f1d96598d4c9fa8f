#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# A real call through mediagate (docs/calls.md): two baresip instances in two
# network namespaces call each other over SIP/TLS with SRTP on both legs
# (different keys per leg); the dataplane relays the media on net_af_packet.
#
#   ns call-T-a (baresip alice)     ns call-T-gw (gateway)     ns call-T-b (baresip bob)
#     call-ma1 203.0.113.2/28 ---media--- call-ma | dataplane | call-mb ---media--- call-mb1 203.0.113.18/28
#     call-sa1 (no address) --SIP/TLS---- call-sa 10.199.0.1 (control) call-sb ----- call-sb1
#
# T is this run's tag (its PID in hex): the three namespaces, the EAL file
# prefix call-bed-T and the work directory /tmp/call-bed.XXXXXX are this
# run's own, and the veths are made inside the namespaces (the host never
# sees them), so two runs side by side share no name, address or port. The
# dataplane owns 203.0.113.1 (port 0) and 203.0.113.17 (port 1); SIP runs
# over separate veths to mediagate-control on 10.199.0.1:5061/tls (routes to
# each peer's address, /32 both ways).
#
#   call_bed.sh BUILD_DIR SRC_DIR [SECONDS]
# Prints the call summary; exit 0 when every check passed (TAP-like lines).
set -uo pipefail
BUILD=$1 SRC=$2 SECS=${3:-10}
# The script works in its own directory: make both paths absolute first
# (scripts/run passes the README's relative build/).
BUILD=$(cd "$BUILD" && pwd) || { echo "call_bed: no build directory $1"; exit 1; }
SRC=$(cd "$SRC" && pwd) || { echo "call_bed: no source directory $2"; exit 1; }
CONTROL=$BUILD/control/mediagate-control
DATAPLANE=$BUILD/dataplane/mediagate-dataplane
DPCTL=$BUILD/dataplane/dpctl/mediagate-dpctl
CERT=$BUILD/control/cert/mediagate-cert
W=$(mktemp -d /tmp/call-bed.XXXXXX)
PIDS=()
GW=10.199.0.1
A=203.0.113.2 B=203.0.113.18 DPA=203.0.113.1 DPB=203.0.113.17

if [ "$(id -u)" -ne 0 ]; then
	echo "call_bed: needs root (network namespaces, AF_PACKET)"
	exit 1
fi
for b in "$CONTROL" "$DATAPLANE" "$DPCTL" "$CERT"; do
	[ -x "$b" ] || { echo "call_bed: $b was not built"; exit 1; }
done
command -v baresip > /dev/null || { echo "call_bed: baresip is not installed (scripts/setup installs baresip-core)"; exit 1; }

. "$SRC/tests/interop/call_lib.sh"
T=$(printf %x $$)
BED_TAG=call-$T PREFIX=call-bed-$T
NS_A=$BED_TAG-a NS_B=$BED_TAG-b NS_GW=$BED_TAG-gw
trap call_cleanup EXIT
trap 'exit 1' INT TERM

# ---- test bed ---------------------------------------------------------------
set -e
bed_up call
ip -n $NS_GW addr add $GW/32 dev call-sa
ip -n $NS_GW addr add $GW/32 dev call-sb
ip -n $NS_A addr add $A/28 dev call-ma1
ip -n $NS_B addr add $B/28 dev call-mb1
ip -n $NS_GW route add $A/32 dev call-sa
ip -n $NS_GW route add $B/32 dev call-sb
ip -n $NS_A route add $GW/32 dev call-sa1 src $A
ip -n $NS_B route add $GW/32 dev call-sb1 src $B
set +e

# ---- certificates: the guide's procedure for the gateway, a CA for all ------
cd "$W" || exit 1
. "$SRC/tests/interop/test_ca.sh"
test_ca_init call-bed-ca 2
echo 'call bed key password' > gwpw
chmod 600 gwpw
"$CERT" req --cn gw.call.test --san "DNS:gw.call.test,IP:$GW" --key-out gw.key --csr-out gw.csr \
	--pass-file gwpw > cert.log 2>&1
test_ca_sign gw.csr gw.pem >> cert.log 2>&1
test_ca_peer alice $A call.test >> cert.log 2>&1
test_ca_peer bob $B call.test >> cert.log 2>&1
[ -s gw.pem ] && [ -s alice.pem ] && [ -s bob.pem ] || { bad "certificates" cert.log; exit 1; }

# ---- gateway ----------------------------------------------------------------
cat > rules.xml << EOF
<?xml version="1.0" encoding="UTF-8"?>
<routing_rules>
<rule name="to_bob" outbound_interface="sip" qvalue="0.5">
  <condition param="sip.in.requestUri.user" expr="(bob)"/>
  <condition param="sip.in.from.user" expr="(.*)"/>
  <out_leg name="" media_type="sendrecv">
    <param name="sip.out.requestUri" expr="sip:%0@$B:5061"/>
    <param name="sip.out.from.uri" expr="sip:%1@GW_HOST_IP:GW_SIP_PORT"/>
    <param name="sip.out.transport" expr="tls"/>
  </out_leg>
</rule>
</routing_rules>
EOF
cat > gw.properties << EOF
netborder.sip.userAgent.IPAddress=$GW:5061/tls
netborder.sip.tls.serverCertificateFile=$W/gw.pem
netborder.sip.tls.serverCertificatePrivateKeyFile=$W/gw.key
netborder.sip.tls.trustedRootCertificatesStore=$W/ca.pem
mediagate.sip.tls.keyPasswordFile=$W/gwpw
mediagate.sip.contactHost=$GW
netborder.media.srtp.mode=always
netborder.media.rtp.lockOnSDP=true
mediagate.routing.rulesFile=$W/rules.xml
mediagate.log.level=${CALL_LOG_LEVEL:-info}
mediagate.control.socket=$W/dp.sock
mediagate.control.cliSocket=$W/cli.sock
mediagate.control.allowedUids=0
mediagate.dataplane.eal=--no-huge -m 256 --no-shconf --no-pci --no-telemetry -l 0,1 --file-prefix $PREFIX
mediagate.dataplane.port.0.device=net_af_packet0,iface=call-ma
mediagate.dataplane.port.0.addresses=$DPA/28
mediagate.dataplane.port.1.device=net_af_packet1,iface=call-mb
mediagate.dataplane.port.1.addresses=$DPB/28
mediagate.dataplane.idleSleepUs=1000
mediagate.media.portRange=40000-40999
# Short, so that the ~10 s call with audio both ways shows that media keeps
# a call up: a wrongly fired timeout would end it before alice's BYE.
mediagate.calls.mediaTimeout=3
EOF
# Both daemons in the gateway's namespace (ip netns exec execs in place: the
# pids are the daemons'); dpctl reaches the dataplane's socket from anywhere.
ip netns exec $NS_GW "$DATAPLANE" --config gw.properties > dataplane.log 2>&1 &
PIDS+=($!)
wait_dp dp.sock
ip netns exec $NS_GW "$CONTROL" --config gw.properties > control.log 2>&1 &
CTL=$!
PIDS+=($CTL)
for _ in $(seq 100); do
	grep -qs "connected to dataplane" control.log && grep -qs "user agent listening" control.log && break
	sleep 0.1
done
check "dataplane and control are up" control.log "connected to dataplane"

# ---- baresip: alice calls bob through the gateway -----------------------------
mkbaresip() { # NAME ADDR TONE CTRLPORT AOR
	mkdir -p "$W/$1"
	cat > "$W/$1/config" << EOF
poll_method		epoll
sip_listen		$2:5060
sip_certificate		$W/$1.pem
sip_cafile		$W/ca.pem
net_interface		call-m${1:0:1}1
audio_source		ausine,$3
ausrc_srate		48000
auplay_srate		48000
ausrc_channels		2
auplay_channels		2
audio_player		aubridge,$1-out
audio_alert		aubridge,$1-alert
module_path		/usr/lib/baresip/modules
module			menu.so
module			g711.so
module			ausine.so
module			aubridge.so
module			srtp.so
module			ctrl_tcp.so
module			rtcpsummary.so
module			account.so
ctrl_tcp_listen		127.0.0.1:$4
rtp_stats		yes
EOF
	echo "$5" > "$W/$1/accounts"
	: > "$W/$1/contacts"
}
# bob answers by itself; both insist on SRTP (mediaenc=srtp-mand), each leg
# negotiates its own keys with the gateway.
if [ -n "${CALL_PCAP:-}" ]; then
	# Media of both legs as the peers see them (debugging aid).
	ip netns exec $NS_A tshark -q -i call-ma1 -f udp -w "$W/alice.pcap" > /dev/null 2>&1 &
	PIDS+=($!)
	ip netns exec $NS_B tshark -q -i call-mb1 -f udp -w "$W/bob.pcap" > /dev/null 2>&1 &
	PIDS+=($!)
fi
mkbaresip bob $B 880 4445 "<sip:bob@$B>;regint=0;answermode=auto;mediaenc=srtp-mand"
mkbaresip alice $A 440 4444 "<sip:alice@$A>;regint=0;mediaenc=srtp-mand;audio_codecs=PCMU"
ip netns exec $NS_B baresip -s -f "$W/bob" > bob.log 2>&1 &
PIDS+=($!)
sleep 1
ip netns exec $NS_A baresip -s -f "$W/alice" -e "/dial sip:bob@$GW:5061;transport=tls" > alice.log 2>&1 &
ALICE=$!
PIDS+=($ALICE)
ctrl() { ctrl_tcp "$@" > /dev/null; } # NS PORT COMMAND (call_lib.sh)
if wait_gw_calls gw.properties "1 active" 100; then ok "the gateway answered alice after bob answered: one call, active (mgctl calls list)"; else bad "calls at the gateway: '$GW_CALLS' (mgctl calls list)" control.log; fi
sleep "$SECS"
# Counters while the call is up: what the summary shows.
sid=$("$DPCTL" --socket dp.sock session list 2> /dev/null | python3 -c "import json,sys; d=json.load(sys.stdin); e=(d.get(\"entries\") or d.get(\"sessions\") or [{}]); print(e[0].get(\"id\",\"\"))")
[ -n "$sid" ] && "$DPCTL" --socket dp.sock session stats "$sid" > stats.json 2>&1
"$DPCTL" --socket dp.sock session get "$sid" > session.json 2>&1
n0=$(wc -l < control.log)
ctrl $NS_A 4444 hangup
wait_gw_idle gw.properties 50
ended=$(gw_stat gw.properties ended)
ctrl $NS_A 4444 quit
ctrl $NS_B 4445 quit
sleep 1
log_since control.log "$n0" hangup.log
if [ "$GW_STATE" = "calls=0 sessions=0 dp=0" ] && [ "$ended" = 1 ]; then ok "the call ended and left no call state (mgctl stats: 1 ended, $GW_STATE)"; else bad "after the hang-up: $GW_STATE, $ended ended (mgctl stats)" control.log; fi
check "  it ended by alice's BYE" hangup.log "ended after [0-9]+s \(BYE from the caller\)"
check "the dataplane session was removed with its final counters" hangup.log "session [0-9]+ removed: "
if kill -0 "$CTL" 2> /dev/null; then ok "mediagate-control still running"; else bad "mediagate-control died" control.log; fi
python3 "$SRC/tests/interop/call_summary.py" "$W"
n=$?
fail=$((fail + n))
echo "passed $pass checks here, $n failed in the summary, $fail failed in all"
[ "$fail" -eq 0 ]
