#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# A B2BUA call survives mediagate-control's kill -9 (issue 12 item 2,
# docs/ha-state.md "Control restart"): baresip alice calls baresip bob
# through the gateway (SIP over UDP, SRTP on both legs, keys per leg), the
# call's state is in Redis (a redis-server of this run, unix socket). Twice:
#   kill -9 of the control plane mid-call, started again: the call is read
#   back and taken over (mgctl --json: listed, same session and ports,
#   redis.calls_adopted), media keeps flowing both ways (dataplane counters),
#   then a BYE from alice (round 1) or bob (round 2) is answered 200 (not 481)
#   and the gateway's BYE to the other side too (SIP read from a capture of
#   the gateway's SIP interfaces), and nothing is left (mgctl, dpctl, Redis).
# Round 3: taken over, then bob stops (SIGSTOP): the media timeout ends the
#   call (mgctl stats calls.media_timeout +1), no session left.
# Round 4: alice hangs up while the control plane is dead: at the restart
#   the call is read back and ends (alice refuses the take-over re-INVITE,
#   481), bob's leg is sent a BYE answered 200 (capture), nothing left.
#
#   call_ha.sh BUILD_DIR SRC_DIR
set -uo pipefail
BUILD=$(cd "$1" && pwd) || { echo "call_ha: no build directory $1"; exit 1; }
SRC=$(cd "$2" && pwd) || { echo "call_ha: no source directory $2"; exit 1; }
CONTROL=$BUILD/control/mediagate-control
DATAPLANE=$BUILD/dataplane/mediagate-dataplane
DPCTL=$BUILD/dataplane/dpctl/mediagate-dpctl
MGCTL=$BUILD/control/mgctl/mgctl
W=$(mktemp -d /tmp/call-ha.XXXXXX)
PIDS=()
GW=10.199.0.1
A=203.0.113.2 B=203.0.113.18 DPA=203.0.113.1 DPB=203.0.113.17

[ "$(id -u)" -eq 0 ] || { echo "call_ha: needs root (network namespaces, AF_PACKET)"; exit 1; }
for b in "$CONTROL" "$DATAPLANE" "$DPCTL" "$MGCTL"; do
	[ -x "$b" ] || { echo "call_ha: $b was not built"; exit 1; }
done
for p in baresip redis-server redis-cli tshark; do
	command -v $p > /dev/null || { echo "call_ha: $p is not installed (scripts/setup)"; exit 1; }
done

. "$SRC/tests/interop/call_lib.sh"
T=$(printf %x $$)
BED_TAG=cha-$T PREFIX=call-ha-$T
NS_A=$BED_TAG-a NS_B=$BED_TAG-b NS_GW=$BED_TAG-gw
NODE=callha-$T
trap call_cleanup EXIT
trap 'exit 1' INT TERM
jq_py() { python3 -c 'import json,sys
try: d=json.load(sys.stdin)
except ValueError: d=None
try: v=eval(sys.argv[1])
except Exception as e: v="ERR %s" % e
print(json.dumps(v) if isinstance(v,(dict,list)) else v)' "$1"; }

set -e
bed_up cha
ip -n $NS_GW addr add $GW/32 dev cha-sa
ip -n $NS_GW addr add $GW/32 dev cha-sb
ip -n $NS_A addr add $A/28 dev cha-ma1
ip -n $NS_B addr add $B/28 dev cha-mb1
ip -n $NS_GW route add $A/32 dev cha-sa
ip -n $NS_GW route add $B/32 dev cha-sb
ip -n $NS_A route add $GW/32 dev cha-sa1 src $A
ip -n $NS_B route add $GW/32 dev cha-sb1 src $B
set +e
cd "$W" || exit 1

redis_start "$W/redis.sock" "$W"
rcli() { redis-cli -s "$W/redis.sock" "$@"; }

cat > rules.xml << EOF
<?xml version="1.0" encoding="UTF-8"?>
<routing_rules>
<rule name="to_bob" outbound_interface="sip" qvalue="0.5">
  <condition param="sip.in.requestUri.user" expr="(bob)"/>
  <condition param="sip.in.from.user" expr="(.*)"/>
  <out_leg name="" media_type="sendrecv">
    <param name="sip.out.requestUri" expr="sip:%0@$B:5060"/>
    <param name="sip.out.from.uri" expr="sip:%1@GW_HOST_IP:GW_SIP_PORT"/>
    <param name="sip.out.transport" expr="udp"/>
  </out_leg>
</rule>
</routing_rules>
EOF
cat > gw.properties << EOF
netborder.sip.userAgent.IPAddress=$GW:5060/udp
mediagate.sip.contactHost=$GW
netborder.media.srtp.mode=always
mediagate.routing.rulesFile=$W/rules.xml
mediagate.log.level=info
mediagate.control.socket=$W/dp.sock
mediagate.control.cliSocket=$W/cli.sock
mediagate.control.allowedUids=0
mediagate.dataplane.eal=--no-huge -m 256 --no-shconf --no-pci --no-telemetry -l 0,1 --file-prefix $PREFIX
mediagate.dataplane.port.0.device=net_af_packet0,iface=cha-ma
mediagate.dataplane.port.0.addresses=$DPA/28
mediagate.dataplane.port.1.device=net_af_packet1,iface=cha-mb
mediagate.dataplane.port.1.addresses=$DPB/28
mediagate.dataplane.idleSleepUs=1000
mediagate.dataplane.orphanTimeout=60
mediagate.media.portRange=41000-41999
mediagate.calls.mediaTimeout=4
mediagate.redis.url=unix:$W/redis.sock
mediagate.redis.node=$NODE
EOF
ip netns exec $NS_GW "$DATAPLANE" --config gw.properties > dataplane.log 2>&1 &
PIDS+=($!)
wait_dp dp.sock
ip netns exec $NS_GW tshark -q -i cha-sa -i cha-sb -f "udp port 5060" -w "$W/sip.pcap" > tshark.log 2>&1 &
TSHARK=$!
PIDS+=($TSHARK)
CTL=
mgctl() { "$MGCTL" --json --socket "$W/cli.sock" "$@"; }
dpctl() { "$DPCTL" --socket "$W/dp.sock" "$@"; }
# ctl_up: mgctl stats carries the dataplane's figures (its DP_STATS answered)
ctl_up() { [ "$(mgctl stats 2> /dev/null | jq_py '"dataplane" in d')" = True ]; }
ctl_start() { # LOG: up within 10 s
	ip netns exec $NS_GW "$CONTROL" --config gw.properties > "$1" 2>&1 &
	CTL=$!
	PIDS+=($CTL)
	wait_until 100 ctl_up
}
ctl_start control1.log && ok "dataplane and control up (Redis $W/redis.sock)" || bad "control up" control1.log

mkbaresip() { # NAME ADDR TONE CTRLPORT AOR
	mkdir -p "$W/$1"
	cat > "$W/$1/config" << EOF
poll_method		epoll
sip_listen		$2:5060
net_interface		cha-m${1:0:1}1
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
module			account.so
ctrl_tcp_listen		127.0.0.1:$4
EOF
	echo "$5" > "$W/$1/accounts"
	: > "$W/$1/contacts"
}
mkbaresip bob $B 880 4455 "<sip:bob@$B;transport=udp>;regint=0;answermode=auto;mediaenc=srtp-mand"
mkbaresip alice $A 440 4454 "<sip:alice@$A;transport=udp>;regint=0;mediaenc=srtp-mand;audio_codecs=PCMU"
ip netns exec $NS_B baresip -s -f "$W/bob" > bob.log 2>&1 &
PIDS+=($!)
ip netns exec $NS_A baresip -s -f "$W/alice" > alice.log 2>&1 &
PIDS+=($!)
# both baresips up: each lists its account (ctrl_tcp reginfo), at most 10 s
ua_up() { [ "$(ctrl_tcp "$1" "$2" reginfo | jq_py "'sip:$3@' in d['data']")" = True ]; }
wait_until 100 ua_up $NS_A 4454 alice
wait_until 100 ua_up $NS_B 4455 bob
# calls_view: "SESSION LOCAL0 LOCAL1 STATE" of the only call ("" none)
calls_view() { mgctl calls list | jq_py '(lambda c: " ".join([str(c["session"]), c["legs"][0]["local"], c["legs"][1]["local"], c["state"]]))(d["calls"][0]) if d["count"] == 1 else d["count"]'; }
# rx packets of both legs of the only dataplane session
dp_rx() {
	local id
	id=$(dpctl session list | jq_py 'd["sessions"][0]["id"]')
	dpctl session stats "$id" | jq_py '"%d %d" % (d["legs"][0]["rx"]["packets"], d["legs"][1]["rx"]["packets"])'
}
# grew RX1 RX2: both legs' counts of RX2 above RX1's
grew() { python3 -c "import sys; a=list(map(int,'$1'.split())); b=list(map(int,'$2'.split())); sys.exit(0 if b[0]>a[0] and b[1]>a[1] else 1)" 2> /dev/null; }
# settled: media flowing both ways through the only session, and nothing
# queued for or in flight to Redis (the call's record as it stands)
settled() {
	grew "0 0" "$(dp_rx)" &&
		[ "$(mgctl stats | jq_py '"%d %d" % (d["redis"]["queued"], d["redis"]["inflight"])')" = "0 0" ]
}
# ctl_gone: the dataplane has seen the killed control plane go (dpctl stats)
ctl_gone() { [ "$(dpctl stats | jq_py 'd["control_connected"]')" = False ]; }
# reinvited KEY: each dialog of the call's record has a 200 to a second
# INVITE in the SIP capture (the re-INVITE after the take-over)
reinvited() {
	local cid
	for cid in $(rcli get "$1" | jq_py '" ".join(l["call_id"] for l in d["legs"])'); do
		[ "$(tshark -r "$W/sip.pcap" -Y "sip.Call-ID == \"$cid\" && sip.CSeq.method == \"INVITE\" && sip.Status-Code == 200" \
			-T fields -e ip.src -e sip.CSeq.seq 2> /dev/null | sort -u | wc -l)" -ge 2 ] || return 1
	done
}
# call_active: the only call is active; no_calls: there is none
call_active() { [ "$(calls_view | awk '{print $4}')" = active ]; }
no_calls() { [ "$(calls_view)" = 0 ]; }
# key_is KEY 0|1: whether Redis holds KEY
key_is() { [ "$(rcli exists "$1")" = "$2" ]; }
# stat_is EXPR VALUE: jq_py EXPR of mgctl stats is VALUE
stat_is() { [ "$(mgctl stats | jq_py "$1")" = "$2" ]; }
# no_sessions: the dataplane holds no session
no_sessions() { [ "$(dpctl session list | jq_py 'len(d["sessions"])')" = 0 ]; }
# byes_answered: the capture holds an answer to the BYE of every dialog of
# callids.txt but alice's of round 4 (hers went while the gateway was away)
bye_ids() { awk '{ if ($1 != 4) print $2; print $3 }' callids.txt; }
byes_answered() {
	[ "$(tshark -r sip.pcap -Y 'sip.CSeq.method == "BYE" && sip.Status-Code' -T fields -e sip.Call-ID 2> /dev/null |
		sort -u | grep -cxFf <(bye_ids))" -ge "$(bye_ids | wc -l)" ]
}
# bye_sent CALL-ID: the capture holds a BYE of that dialog
bye_sent() {
	[ "$(tshark -r "$W/sip.pcap" -Y "sip.Call-ID == \"$1\" && sip.Method == \"BYE\"" -T fields -e sip.Call-ID 2> /dev/null | wc -l)" -ge 1 ]
}

round() { # N HANGUP_NS HANGUP_PORT WHO
	local n=$1 before after t rx1 rx2 key
	ctrl_tcp $NS_A 4454 dial "sip:bob@$GW:5060" > /dev/null
	wait_until 100 call_active
	before=$(calls_view)
	[ "${before##* }" = active ] && ok "round $n: alice's call to bob is active ($before)" ||
		{ bad "round $n: call not active: $before" control$n.log; return; }
	key=mg:$NODE:call:$(printf %016x "${before%% *}")
	wait_until 50 key_is "$key" 1
	rcli get "$key" > rec$n.json
	[ "$(jq_py '"%s %s" % (bool(d["legs"][0]["call_id"] and d["legs"][0]["local_tag"] and d["legs"][0]["remote_tag"]), bool(d["legs"][1]["call_id"] and d["legs"][1]["remote_tag"]))' < rec$n.json)" = "True True" ] &&
		ok "round $n: the call's key holds both dialogs (Call-ID, tags)" || bad "round $n: record" rec$n.json
	local want=1
	if [ "$n" = 1 ]; then
		# a stale record too: a call whose session and ports the dataplane does not hold
		python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
d["sess"] = "00000000000000ab"
for i, l in enumerate(d["legs"]):
    l["call_id"] = "ghost-%d" % i
    a, p = l["port"]["local"].rsplit(":", 1)
    l["port"]["local"] = "%s:%d" % (a, int(p) + 500)
print(json.dumps(d))' rec$n.json > ghost.json
		rcli set "mg:$NODE:call:00000000000000ab" "$(cat ghost.json)" > /dev/null
		want=2
	fi
	wait_until 50 settled
	kill -9 $CTL; wait $CTL 2> /dev/null
	! kill -0 "$CTL" 2> /dev/null && ok "round $n: mediagate-control killed (kill -9)" ||
		bad "round $n: mediagate-control $CTL still alive after kill -9" control$n.log
	wait_until 50 ctl_gone
	ctl_start control$((n + 1)).log && ok "round $n: mediagate-control started again" ||
		bad "round $n: control restart" control$((n + 1)).log
	wait_until 50 stat_is 'd["redis"]["calls_adopted"]' $want
	if [ "$n" = 1 ]; then
		wait_until 50 stat_is 'd["redis"]["calls_adopt_dropped"]' 1
		st=$(mgctl stats | jq_py '"%s %s" % (d["redis"]["calls_adopted"], d["redis"]["calls_adopt_dropped"])')
		[ "$st" = "2 1" ] && [ "$(rcli exists "mg:$NODE:call:00000000000000ab")" = 0 ] &&
			ok "round 1: the stale record was read, not held by the dataplane: dropped, its key gone" ||
			bad "round 1: stale record: adopted/dropped $st, key $(rcli exists "mg:$NODE:call:00000000000000ab")" control2.log
	fi
	after=$(calls_view)
	[ "$after" = "$before" ] && ok "round $n: the call is taken over: same session, ports and state ($after)" ||
		bad "round $n: after the restart: '$after', before: '$before'" control$((n + 1)).log
	wait_until 30 reinvited "$key"
	rx1=$(dp_rx)
	rx_grew() { rx2=$(dp_rx); grew "$rx1" "$rx2"; }
	wait_until 50 rx_grew &&
		ok "round $n: media flows both ways after the restart (rx $rx1 -> $rx2)" ||
		bad "round $n: media after the restart: rx $rx1 -> $rx2" control$((n + 1)).log
	ctrl_tcp $2 $3 hangup > /dev/null
	wait_until 50 no_calls
	[ "$(calls_view)" = 0 ] && ok "round $n: BYE from $4: the call ended (0 calls)" || bad "round $n: calls left: $(calls_view)" control$((n + 1)).log
	wait_until 50 no_sessions && ok "round $n: no dataplane session left" ||
		bad "round $n: dataplane sessions left" control$((n + 1)).log
	[ "$(rcli exists "$key")" = 0 ] && ok "round $n: the call's key is gone" || bad "round $n: key $key left"
	echo "$n $(jq_py 'd["legs"][0]["call_id"]' < rec$n.json) $(jq_py 'd["legs"][1]["call_id"]' < rec$n.json)" >> callids.txt
}
round 1 $NS_A 4454 alice
round 2 $NS_B 4455 bob

# ---- round 3: the media timeout ends a taken-over call ----
ctrl_tcp $NS_A 4454 dial "sip:bob@$GW:5060" > /dev/null
wait_until 100 call_active
key3=mg:$NODE:call:$(printf %016x "$(calls_view | cut -d' ' -f1)")
wait_until 50 key_is "$key3" 1
wait_until 50 settled
kill -9 $CTL; wait $CTL 2> /dev/null
wait_until 50 ctl_gone
ctl_start control4.log || bad "round 3: control restart" control4.log
wait_until 50 stat_is 'd["redis"]["calls_adopted"]' 1
[ "$(calls_view | awk "{print \$4}")" = active ] && ok "round 3: the call is taken over" || bad "round 3: not taken over: $(calls_view)" control4.log
wait_until 30 reinvited "$key3"
BOB=$(ip netns pids $NS_B | head -1)
mt0=$(mgctl stats | jq_py 'd["calls"]["media_timeout"]')
kill -STOP $BOB # bob sends nothing any more
mt_up() { mt1=$(mgctl stats | jq_py 'd["calls"]["media_timeout"]'); [ "$((mt1 - mt0))" = 1 ]; }
wait_until 150 mt_up
kill -CONT $BOB # it answers the gateway's BYE (retransmitted)
wait_until 100 no_calls
[ "$(calls_view)" = 0 ] && [ "$((mt1 - mt0))" = 1 ] &&
	ok "round 3: bob silent: mediagate.calls.mediaTimeout ended the taken-over call (media_timeout +1)" ||
	bad "round 3: calls $(calls_view), media_timeout $mt0 -> $mt1" control4.log
wait_until 50 no_sessions && ok "round 3: no dataplane session left" ||
	bad "round 3: dataplane sessions left" control4.log

# ---- round 4: alice's BYE while the control plane is away ----
# The gateway was killed; alice hangs up meanwhile: her BYE finds no socket
# and is retransmitted (UDP, RFC 3261 timer E). At the restart SIP opens
# only after the read-back and the dataplane's verdict, and the take-over
# re-INVITEs go before any request is read; alice, whose dialog is over,
# answers hers 481: the call ends and bob's leg is sent a BYE, once his
# re-INVITE is answered (bob is stopped meanwhile, so that it is answered
# after alice's 481; nua would CANCEL it). Before, bob was never told (the
# call stayed 'ending', no BYE on his leg).
ctrl_tcp $NS_A 4454 dial "sip:bob@$GW:5060" > /dev/null
wait_until 100 call_active
before=$(calls_view)
[ "${before##* }" = active ] && ok "round 4: alice's call to bob is active ($before)" || bad "round 4: call not active: $before" control4.log
key=mg:$NODE:call:$(printf %016x "${before%% *}")
wait_until 50 key_is "$key" 1
rcli get "$key" > rec4.json
wait_until 50 settled
kill -9 $CTL; wait $CTL 2> /dev/null
! kill -0 "$CTL" 2> /dev/null && ok "round 4: mediagate-control killed (kill -9)" || bad "round 4: control still alive" control4.log
wait_until 50 ctl_gone
ctrl_tcp $NS_A 4454 hangup > /dev/null # alice's BYE: nobody listens on $GW:5060 now
# bob answers his take-over re-INVITE only after alice has refused hers
BOB=$(ip netns pids $NS_B | head -1)
kill -STOP $BOB
# alice's BYE is on the wire (the capture) before the control starts again
wait_until 30 bye_sent "$(jq_py 'd["legs"][0]["call_id"]' < rec4.json)"
ctl_start control5.log && ok "round 4: mediagate-control started again" || bad "round 4: control restart" control5.log
# alice's 481 to her re-INVITE ends the call (mgctl: state ending) while
# bob, stopped, has not answered his
calls_ending() { [ "$(mgctl calls list | jq_py '[c["state"] for c in d["calls"]]')" = '["ending"]' ]; }
wait_until 50 calls_ending
kill -CONT $BOB
ended_adopted() { [ "$(mgctl calls list | jq_py 'd["count"]')" = 0 ] && stat_is 'd["redis"]["calls_adopted"]' 1; }
wait_until 100 ended_adopted
st=$(mgctl stats | jq_py '"%s %s" % (d["redis"]["calls_adopted"], d["redis"]["calls_adopt_dropped"])')
n4=$(mgctl calls list | jq_py 'd["count"]')
[ "$n4" = 0 ] && [ "$st" = "1 0" ] &&
	ok "round 4: the call was read back (calls_adopted 1, dropped 0) and ended on both legs (0 calls)" ||
	bad "round 4: $n4 call(s) left ($(mgctl calls list | jq_py '[c["state"] for c in d["calls"]]')), adopted/dropped $st" control5.log
wait_until 50 no_sessions && ok "round 4: no dataplane session left" ||
	bad "round 4: dataplane sessions left" control5.log
[ "$(rcli exists "$key")" = 0 ] && ok "round 4: the call's key is gone" || bad "round 4: key $key left"
echo "4 $(jq_py 'd["legs"][0]["call_id"]' < rec4.json) $(jq_py 'd["legs"][1]["call_id"]' < rec4.json)" >> callids.txt

# the BYEs the verdict below expects answered are in the capture before it stops
wait_until 30 byes_answered
kill $TSHARK; wait $TSHARK 2> /dev/null
# every BYE and its final answer, per Call-ID
tshark -r sip.pcap -Y sip -T fields -e sip.Call-ID -e sip.CSeq.method -e sip.Method -e sip.Status-Code \
	> sip.txt 2> /dev/null
python3 - callids.txt sip.txt > sip_verdict.txt << 'PY'
import sys
calls = [l.split() for l in open(sys.argv[1])]
seen = {}
for l in open(sys.argv[2]):
    f = l.rstrip("\n").split("\t")
    if len(f) < 4 or f[1] not in ("BYE", "INVITE"):
        continue
    cid, method, status = f[0], f[2], f[3]
    s = seen.setdefault(cid, {"bye": 0, "codes": set(), "inv": set()})
    if method == "BYE":
        s["bye"] += 1
    elif status and f[1] == "BYE":
        s["codes"].add(int(status))
    elif status and int(status) >= 200:
        s["inv"].add(int(status))
for n, c0, c1 in calls:
    for leg, cid in ((0, c0), (1, c1)):
        s = seen.get(cid, {"bye": 0, "codes": set(), "inv": set()})
        print(n, leg, s["bye"] > 0, "".join(str(sorted(s["codes"])).split()), "".join(str(sorted(s["inv"])).split()))
PY
while read -r n leg gotbye codes inv; do
	if [ "$n" = 4 ] && [ "$leg" = 0 ]; then
		# alice's BYE went while the gateway was away: her answer 481 to the
		# take-over re-INVITE (the dialog ended on her side) ended the call;
		# her BYE's retransmission meets no dialog any more (481, RFC 3261
		# 15.1.1: the dialog is over for her either way)
		[ "$gotbye" = True ] && [[ $inv == *481* ]] &&
			ok "round 4 leg 0: alice's BYE sent while the gateway was away; she answered the take-over re-INVITE 481 (INVITE answers $inv, BYE answers $codes)" ||
			bad "round 4 leg 0: BYE seen $gotbye, BYE answers $codes, INVITE answers $inv" sip.txt
		continue
	fi
	[ "$gotbye" = True ] && [ "$codes" = "[200]" ] && ok "round $n leg $leg: the BYE was answered 200 (answers: $codes)" ||
		bad "round $n leg $leg: BYE seen $gotbye, answers $codes" sip.txt
done < sip_verdict.txt
[ "$(wc -l < sip_verdict.txt)" = 6 ] || bad "SIP verdict lines: $(wc -l < sip_verdict.txt)" sip.txt
[ "$(grep -c '^ghost-' sip.txt)" = 0 ] && ok "no SIP request sent for the stale record (re-INVITEs only once the dataplane holds the media)" ||
	bad "SIP messages for the stale record's dialogs" sip.txt
kill -0 "$CTL" 2> /dev/null && ok "mediagate-control still running" || bad "mediagate-control died" control5.log
ctrl_tcp $NS_A 4454 quit > /dev/null; ctrl_tcp $NS_B 4455 quit > /dev/null
echo "# call_ha: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
