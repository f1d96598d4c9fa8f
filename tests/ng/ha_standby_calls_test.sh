#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Standby node for B2BUA calls (issue 12 item 3, docs/standby.md, "B2BUA
# calls"): the bed of ha_standby_test.sh (two nodes on one bridge sharing the
# media address 192.0.2.100, one redis-server, keepalived in a namespace per
# node), each node's mediagate-control in its keepalived namespace, on the
# SIP address 192.0.2.110 that keepalived holds there as a kernel address
# (both controls bind it: ip_nonlocal_bind) and moves with mastership.
#  1. keepalived 1 master: node 1 owns the media address and has the SIP one.
#  2. N (default 50) SRTP calls by SIPp through node 1 (a=crypto per call),
#     half to a callee that waits for the caller's BYE, half to one that
#     sends its own; node 2 pre-installs every call's media from its record
#     (same ports, both legs blocked), marked standby in mgctl calls.
#  3. An SRTP stream caller->callee per call (libsrtp2 peers, the keys from
#     the SDP SIPp saw; half of them past a sequence number wrap, ROC 1 in
#     node 1's call records, before node 1 dies); node 1 dies: SIGSTOP then kill -9 of its keepalived,
#     control and dataplane, its link cut;
#     keepalived 2 promotes node 2: N calls taken over, each of its legs gets
#     a re-INVITE (SIPp answers it with the same session), every stream gets
#     to its last packet with 0 auth/replay failures, 0 SRTP drops at node 2.
#  4. The BYEs (callers' and callees') reach node 2 and get 200 (SIPp:
#     every call successful on all four), the other leg gets node 2's BYE;
#     node 2 holds 0 calls, 0 dataplane sessions, no key left in Redis.
# The media gap at the receivers is printed (median, max), not judged.
#   [HA_CALLS=N] [BUILD=dir] ha_standby_calls_test.sh
. "$(dirname "$0")/_init.sh"
[ "$RELAY" = mediagate ] || { echo "# ha_standby_calls: mediagate's standby node (RELAY=$RELAY)"; exit 77; }
PEER=$BUILD/tests/smoke/dp_srtp_peer
MGCTL=$BUILD/control/mgctl/mgctl
[ -x "$PEER" ] || { echo "# ha_standby_calls: $PEER was not built"; exit 1; }
N=${HA_CALLS:-50}
N=$(((N + 1) / 2 * 2))
H=$((N / 2))
COUNT=${HA_PACKETS:-900} # per stream, every 20 ms: 18 s (50 senders start one by one: slow under load)
ADVERT=${HA_ADVERT:-0.3}
# the calls' BYEs: HOLD_MS after the take-over's re-INVITE (the streams end
# before: their last packets and node 2's counters are read first). A stream
# paced by usleep on a loaded machine takes longer than COUNT x 20 ms, so the
# hold is the streams' whole nominal length plus 8 s, not what is left of it
# after the kill (12 s raced the counters' read: sessions already gone)
HOLD_MS=${HA_HOLD_MS:-$((COUNT * 20 + 8000))}
scenario_begin ha_standby_calls redis-server redis-cli keepalived sipp
export LC_ALL=C # sort and join
RSOCK=$W/redis.sock
NODE=pair-$T
VIP=192.0.2.100 SIPVIP=192.0.2.110
redis_start "$RSOCK" "$W"
rcli() { redis-cli -s "$RSOCK" "$@"; }
rcli ping | grep -q PONG && ok "redis-server up" || { bad "redis-server" "$W/redis.log"; scenario_end; }
mgctl() { "$MGCTL" --json --socket "$W/mg$1/cli.sock" "${@:2}"; }
dpctl() { ip netns exec $NS_GW "$DPCTL" --socket "$W/mg$1/dp.sock" "${@:2}"; }
hstat() { mgctl "$1" stats | jq_py "$2"; }

# ---- keepalived namespaces first: the controls run in them ----
cat > "$W/notify.sh" << EOF
#!/bin/sh
case "\$2" in
master) a=promote ;;
*) a=release ;;
esac
echo "\$(date +%s%3N) \$2" >> "$W/notify-\$1.log"
exec "$MGCTL" --json --socket "$W/mg\$1/cli.sock" ha \$a >> "$W/notify-\$1.log" 2>&1
EOF
chmod 755 "$W/notify.sh"
ka_net() {
	local n=$1 ns=ng-$T-k$1
	ip netns add $ns
	ip -n $ns link set lo up
	ip -n $NS_GW link add vk$n type veth peer name k$n netns $ns
	ip -n $NS_GW link set vk$n master br0
	ip -n $NS_GW link set vk$n up
	ip -n $ns addr add 192.0.2.$((200 + n))/24 dev k$n
	ip -n $ns link set k$n up
	# the SIP address is bound before keepalived puts it here
	ip netns exec $ns sysctl -qw net.ipv4.ip_nonlocal_bind=1
}
ka_start() {
	local n=$1 prio=$2 me=192.0.2.$((200 + $1)) peer=192.0.2.$((203 - $1))
	# configs/keepalived-mediagate.conf with the SIP address as its virtual one
	sed -e "s|@NODE@|mg$n|; s|@IF@|k$n|; s|@PRIO@|$prio|; s|@SRC@|$me|; s|@PEER@|$peer|; s|@ADVERT@|$ADVERT|" \
		-e "s|169.254.251.1/32 dev lo|$SIPVIP/24 dev k$n|" \
		-e "s|@NOTIFY@|$W/notify.sh $n|" "$SRC/configs/keepalived-mediagate.conf" > "$W/keepalived$n.conf"
	ip netns exec ng-$T-k$n keepalived --vrrp -n -l -D -f "$W/keepalived$n.conf" -p "$W/ka$n.pid" \
		-r "$W/ka$n-vrrp.pid" > "$W/keepalived$n.log" 2>&1 &
	PIDS+=($!)
}
cleanup_ka() { for n in 1 2; do ip netns del ng-$T-k$n 2> /dev/null; done; }
trap 'ng_cleanup; cleanup_ka' EXIT
ka_net 1
ka_net 2
ip netns exec ng-$T-k1 ping -c 1 -W 1 192.0.2.202 > /dev/null && ok "the two nodes' VRRP interfaces reach each other" ||
	bad "VRRP interfaces: ping 192.0.2.202 from k1"
sip_on() { ip -j -n ng-$T-k$1 addr show dev k$1 | jq_py "int(any(a.get('local')=='$SIPVIP' for i in d for a in i.get('addr_info',[])))"; }

# ---- the two nodes: routing bob* to a callee waiting for BYE, carol* to one sending it ----
cat > "$W/rules.xml" << EOF
<?xml version="1.0" encoding="UTF-8"?>
<routing_rules>
<rule name="to_bob" outbound_interface="sip" qvalue="0.5">
  <condition param="sip.in.requestUri.user" expr="(bob[0-9]+)"/>
  <out_leg name="" media_type="sendrecv">
    <param name="sip.out.requestUri" expr="sip:%0@$ADDR_B:5060"/>
    <param name="sip.out.transport" expr="udp"/>
  </out_leg>
</rule>
<rule name="to_carol" outbound_interface="sip" qvalue="0.5">
  <condition param="sip.in.requestUri.user" expr="(carol[0-9]+)"/>
  <out_leg name="" media_type="sendrecv">
    <param name="sip.out.requestUri" expr="sip:%0@$ADDR_B:5062"/>
    <param name="sip.out.transport" expr="udp"/>
  </out_leg>
</rule>
</routing_rules>
EOF
export MG_PORT_RANGE=40000-40999 MG_SIP_UA=$SIPVIP:5060/udp MG_RULES=$W/rules.xml
common="mediagate.redis.url=unix:$RSOCK
mediagate.redis.node=$NODE
mediagate.redis.expire=300
mediagate.dataplane.port.0.sharedAddress=$VIP
mediagate.dataplane.orphanTimeout=60"
MG_CTL_NS=ng-$T-k1 MG_EXTRA_CONF="$common
mediagate.control.cliSocket=$W/mg1/cli.sock" relay_start_mediagate 1 &&
	ok "node 1 (active) up" || { bad "node 1 up" "$W/relay1.log"; scenario_end; }
MG_CTL_NS=ng-$T-k2 MG_EXTRA_CONF="$common
mediagate.redis.role=standby
mediagate.control.cliSocket=$W/mg2/cli.sock" relay_start_mediagate 2 &&
	ok "node 2 (standby) up" || { bad "node 2 up" "$W/relay2.log"; scenario_end; }
st=$(hstat 2 '"%s %s" % (d["ha"]["role"], d["ha"]["watch_connected"])')
[ "$st" = "standby 1" ] && ok "node 2: role standby, watching Redis" || bad "node 2 ha state: $st" "$W/relay2.log"

ka_start 1 150
for ((t = 0; t < 100; t++)); do
	[ "$(dpctl 1 shared | jq_py 'd["on"]')" = True ] && [ "$(sip_on 1)" = 1 ] && break
	sleep 0.1
done
[ "$(dpctl 1 shared | jq_py 'd["on"]') $(sip_on 1)" = "True 1" ] &&
	ok "keepalived 1 master: node 1's dataplane owns $VIP, $SIPVIP is on node 1" ||
	bad "node 1 owns the addresses: $(dpctl 1 shared) sip $(sip_on 1)" "$W/keepalived1.log"
ka_start 2 100
for ((t = 0; t < 100; t++)); do grep -q backup "$W/notify-2.log" 2> /dev/null && break; sleep 0.1; done
sleep 0.5
st="$(dpctl 2 shared | jq_py 'd["on"]') $(sip_on 2) $(hstat 2 'd["ha"]["role"]')"
[ "$st" = "False 0 standby" ] && ok "keepalived 2 backup: node 2 stays standby, owns neither address" ||
	bad "node 2 (shared sip role): $st" "$W/keepalived2.log"

# ---- N SRTP calls through node 1 ----
b64key() { head -c 30 /dev/urandom | base64; }
{
	echo SEQUENTIAL
	for ((i = 1; i <= H; i++)); do echo "bob$i;$((12000 + 2 * i));$(b64key)"; done
} > "$W/caller1.csv"
{
	echo SEQUENTIAL
	for ((i = H + 1; i <= N; i++)); do echo "carol$i;$((12000 + 2 * i));$(b64key)"; done
} > "$W/caller2.csv"
for c in 1 2; do
	{
		echo SEQUENTIAL
		for ((i = 1; i <= N; i++)); do echo "$((13000 + 2 * i + 200 * c));$(b64key)"; done
	} > "$W/callee$c.csv"
done
# callee 1 (bob*, port 5060) waits for the caller's BYE; callee 2 (carol*,
# port 5062) sends its own HOLD_MS after the take-over
sipp_in $NS_B "$W/callee1.out" -sf "$NG_DIR/sipp/sb_uas.xml" -i $ADDR_B -p 5060 -inf "$W/callee1.csv" \
	-trace_err -error_file "$W/callee1.err" -trace_stat -stf "$W/callee1.csv.stat" -fd 1 \
	-trace_logs -log_file "$W/callee1.log"
sipp_in $NS_B "$W/callee2.out" -sf "$NG_DIR/sipp/sb_uas_bye.xml" -i $ADDR_B -p 5062 -inf "$W/callee2.csv" \
	-d "$HOLD_MS" -trace_err -error_file "$W/callee2.err" -trace_stat -stf "$W/callee2.csv.stat" -fd 1 \
	-trace_logs -log_file "$W/callee2.log"
caller() {
	local c=$1 sf=$2
	(
		ip netns exec $NS_A sipp $SIPVIP:5060 -sf "$NG_DIR/sipp/$sf" -i $ADDR_A -p $((5060 + c)) \
			-inf "$W/caller$c.csv" -d "$HOLD_MS" -m $H -l $H -r 20 -timeout 120 -nostdin \
			-cid_str "sb-$c-%u@%s" -trace_err -error_file "$W/caller$c.err" -trace_stat \
			-stf "$W/caller$c.csv.stat" -fd 1 -trace_logs -log_file "$W/caller$c.log" > "$W/caller$c.out" 2>&1
		echo $? > "$W/caller$c.rc"
	) &
	PIDS+=($!)
}
caller 1 sb_uac.xml
caller 2 sb_uac_wait.xml
for ((t = 0; t < 200; t++)); do
	[ "$(hstat 1 'd["calls"]["active"]')" = "$N" ] && [ "$(grep -c '^A ' "$W"/caller?.log 2> /dev/null | awk -F: '{s += $2} END {print s}')" = "$N" ] && break
	sleep 0.1
done
[ "$(hstat 1 'd["calls"]["active"]')" = "$N" ] && ok "$N SRTP calls up through node 1 (mgctl stats calls.active)" ||
	{ bad "calls on node 1: $(hstat 1 'd["calls"]["active"]') of $N" "$W/relay1.log"; scenario_end; }
for ((t = 0; t < 100; t++)); do
	[ "$(hstat 2 'd["ha"]["standby_calls"]')" = "$N" ] && [ "$(dpctl 2 session list | jq_py 'd["count"]')" = "$N" ] && break
	sleep 0.1
done
st=$(hstat 2 '"%s %s" % (d["ha"]["standby_calls"], d["ha"]["calls_installed"] - d["ha"]["calls_replaced"])')
[ "$st" = "$N $N" ] && ok "node 2 pre-installed the $N calls from their records (standby_calls, installed - replaced)" ||
	bad "node 2 standby calls, installed - replaced: $st" "$W/relay2.log"
p1=$(dpctl 1 session list | jq_py '" ".join(sorted("%d-%d" % tuple(s["local_ports"]) for s in d["sessions"]))')
p2=$(dpctl 2 session list | jq_py '" ".join(sorted("%d-%d" % tuple(s["local_ports"]) for s in d["sessions"]))')
[ -n "$p1" ] && [ "$p1" = "$p2" ] && ok "node 2's dataplane holds them on the same ports" || bad "ports node 1 '$p1' node 2 '$p2'"
bl=$(dpctl 2 session list | jq_py '" ".join(str(s["id"]) for s in d["sessions"])' | tr ' ' '\n' |
	while read -r id; do dpctl 2 session get "$id" | jq_py '"%s%s" % (d["legs"][0]["blocked"], d["legs"][1]["blocked"])'; done | sort | uniq -c | awk '{print $1, $2}')
[ "$bl" = "$N TrueTrue" ] && ok "every pre-installed call has both legs blocked (not forwarding)" || bad "legs blocked: $bl"
sb=$(mgctl 2 calls | jq_py 'sum(1 for c in d["calls"] if c["standby"])')
[ "$sb" = "$N" ] && ok "mgctl calls on node 2: $N, each marked standby" || bad "standby calls in mgctl calls: $sb"

# ---- streams caller -> callee, then node 1 dies ----
# A USER PORT (caller log: node 1's port toward the caller), B USER PORT KEY
# (callee log: its own port, the gateway's key toward it)
cat "$W"/caller?.log | awk '$1 == "A" {print $2, $3}' | sort > "$W/a.txt"
cat "$W"/callee?.log | awk '$1 == "B" {print $2, $3, $4}' | sort > "$W/b.txt"
join "$W/a.txt" "$W/b.txt" > "$W/streams-in.txt"
cat "$W"/caller?.csv | grep ';' | tr ';' ' ' | sort > "$W/keys.txt"
join "$W/streams-in.txt" "$W/keys.txt" > "$W/calls.txt" # USER GWPORT BPORT BKEY APORT AKEY
[ "$(wc -l < "$W/calls.txt")" = "$N" ] && ok "the $N calls' ports and keys from SIPp's logs" ||
	{ bad "calls matched in SIPp's logs: $(wc -l < "$W/calls.txt") of $N" "$W/caller1.log"; scenario_end; }
hexkey() { echo "$1" | base64 -d | od -An -tx1 | tr -d ' \n'; }
# odd streams start 100+i packets before their sequence number wraps: their
# ROC is 1 when node 1 dies, and node 2 must go on from it (the call record's
# index, read by node 1 every 5 s and published when a ROC moves)
first_seq() { if (($1 % 2)); then echo $((65536 - 100 - $1)); else echo $((1000 * $1)); fi; }
i=0
while read -r user pg pb kb pa ka; do
	i=$((i + 1))
	echo "$i $user" >> "$W/idx.txt"
	ip netns exec $NS_B "$PEER" recv $ADDR_B:$pb --key "$(hexkey "$kb")" --suite 80 --ssrc $((0x6000 + i)) \
		--count 0 --timeout-ms 5000 > "$W/recv-$i.json" 2>&1 &
	RECV+=($!)
	PIDS+=($!)
	ip netns exec $NS_A "$PEER" send $ADDR_A:$pa $VIP:$pg --key "$(hexkey "$ka")" --suite 80 --ssrc $((0x6000 + i)) \
		--count $COUNT --seq $(first_seq $i) --interval-us 20000 > "$W/send-$i.json" 2>&1 &
	SEND+=($!)
	PIDS+=($!)
done < "$W/calls.txt"
# until node 1 has published every odd stream's ROC 1 (what node 2 reads)
wrapped() {
	# one MGET: a GET per key (50 redis-cli runs a round) made a round take
	# seconds under load, and the kill came after the streams had ended
	rcli mget $(rcli --scan --pattern "mg:$NODE:call:*") | python3 -c 'import json, sys
print(sum(1 for l in sys.stdin if l.strip() and any(x[0] >= 1 and x[2] for x in json.loads(l)["index"])))'
}
sleep 2
for ((t = 0; t < 150; t++)); do [ "$(wrapped)" = $((N / 2)) ] && break; sleep 0.1; done
[ "$(wrapped)" = $((N / 2)) ] && ok "the $((N / 2)) wrapped streams' call records hold ROC 1" || bad "call records with ROC 1: $(wrapped)"
tx2=$(dpctl 2 stats | jq_py 'd["tx_packets"] - d["arp_tx"]')
role2=$(hstat 2 'd["ha"]["role"]')
alive=0
for p in "${SEND[@]}"; do kill -0 "$p" 2> /dev/null && alive=$((alive + 1)); done
t_kill=$(date +%s%3N)
# node 1 dies as a machine does: stopped first (keepalived's VRRP child would
# otherwise see its parent go and send a goodbye advert), then killed, and
# its link cut (its kernel would still answer ARP for the SIP address)
k1pids=$(ip netns pids ng-$T-k1)
kill -STOP $k1pids "${RELAY_DP_PID[1]}"
kill -9 $k1pids "${RELAY_DP_PID[1]}"
ip -n ng-$T-k1 link set k1 down
wait "${RELAY_PID[1]}" "${RELAY_DP_PID[1]}" 2> /dev/null
! kill -0 "${RELAY_PID[1]}" 2> /dev/null && ! kill -0 "${RELAY_DP_PID[1]}" 2> /dev/null &&
	ok "node 1 killed (kill -9 of keepalived, mediagate-control, mediagate-dataplane) mid-stream" ||
	bad "node 1: mediagate-control or mediagate-dataplane still alive after kill -9"
[ "$alive" = "$N" ] && ok "all $N streams still sending at the kill" ||
	bad "only $alive of $N streams still sending at the kill (the test bed was too slow to reach it in time)"
[ "$tx2 $role2" = "0 standby" ] && ok "node 2 was still standby and forwarded nothing before (tx 0 besides ARP)" ||
	bad "node 2 before the kill: role $role2, sent $tx2 packets"
for ((t = 0; t < 100; t++)); do grep -q '"result"' "$W/notify-2.log" 2> /dev/null && break; sleep 0.05; done
for ((t = 0; t < 100; t++)); do [ "$(sip_on 2)" = 1 ] && break; sleep 0.05; done
st=$(hstat 2 '"%s %s %s" % (d["ha"]["role"], d["ha"]["promoted_calls"], d["ha"]["promote_failed"])')
[ "$st" = "promoted $N 0" ] && ok "keepalived 2 promoted node 2: $N calls taken over, 0 failed" ||
	bad "node 2 after the failover (role promoted_calls failed): $st" "$W/notify-2.log"
[ "$(dpctl 2 shared | jq_py 'd["on"]') $(sip_on 2)" = "True 1" ] && ok "node 2 owns $VIP and has $SIPVIP" ||
	bad "node 2 addresses: $(dpctl 2 shared) sip $(sip_on 2)"
for ((t = 0; t < 100; t++)); do
	[ "$(rcli --scan --pattern "mg:$NODE:call:*" | wc -l)" = "$N" ] && [ "$(hstat 2 'd["redis"]["writes"]')" -ge "$N" ] && break
	sleep 0.1
done
st=$(mgctl 2 calls | jq_py '"%d %d" % (len(d["calls"]), sum(1 for c in d["calls"] if not c["standby"] and c["state"] == "active"))')
[ "$st" = "$N $N" ] && ok "mgctl calls on node 2: the $N calls active, none standby (none dropped)" || bad "calls on node 2 (all, active): $st"
w=$(hstat 2 'd["redis"]["writes"]')
k=$(rcli --scan --pattern "mg:$NODE:call:*" | wc -l)
[ "$k" = "$N" ] && [ "$w" -ge "$N" ] && ok "node 2 publishes the $N calls as node $NODE ($w writes)" || bad "call keys of $NODE: $k, node 2's writes $w"
for p in "${SEND[@]}"; do wait "$p"; done
# before the BYEs (HOLD_MS after the take-over): the sessions are still there
drops=$(srtp_drops 2)
[ "$drops" = "$N 0" ] && ok "node 2's dataplane: $N sessions, 0 SRTP auth/replay drops" || bad "node 2 sessions, SRTP drops: $drops"
for p in "${RECV[@]}"; do wait "$p"; done
python3 "$NG_DIR/stream_verdict.py" "$W" "$N" "$COUNT" "$t_kill" > "$W/streams.txt"
read -r sgood sbad gmed gmax < <(head -1 "$W/streams.txt")
[ "$sgood" = "$N" ] && ok "all $N SRTP streams resumed through node 2 to their last packet, 0 auth/replay failures at the peers" ||
	bad "streams ok $sgood of $N: $(sed -n '2,6p' "$W/streams.txt")"
echo "# media gap at the receivers (kill -9 to the first packet through node 2): median $gmed ms, max $gmax ms over $N streams"
[ -n "${HA_RESULT:-}" ] && python3 -c 'import json, sys
d = json.load(open(sys.argv[1])); d["advert_s"] = float(sys.argv[2]); d["kind"] = "calls"
m = [int(l.split()[0]) - int(sys.argv[4]) for l in open(sys.argv[3]) if l.split()[1:2] == ["master"]]
d["notify_master_ms"] = m[-1] if m else -1
print(json.dumps(d))' "$W/result.json" "$ADVERT" "$W/notify-2.log" "$t_kill" >> "$HA_RESULT"

# ---- BYE from both sides: 200, both legs end on node 2 ----
for c in 1 2; do
	r=$(sipp_wait caller$c 400)
	[ "$r" = 0 ] && ok "caller $c: its $H calls successful (re-INVITE answered, BYE $([ $c = 1 ] && echo sent and answered 200 || echo received))" ||
		bad "caller $c SIPp exit status '$r'" "$W/caller$c.err"
done
csucc() { python3 -c 'import csv,sys
r=list(csv.reader(open(sys.argv[1]),delimiter=";")); print(r[-1][r[0].index("SuccessfulCall(C)")], r[-1][r[0].index("FailedCall(C)")])' "$1" 2> /dev/null; }
for c in 1 2; do
	for ((t = 0; t < 30; t++)); do [ "$(csucc "$W/callee$c.csv.stat")" = "$H 0" ] && break; sleep 0.1; done
	[ "$(csucc "$W/callee$c.csv.stat")" = "$H 0" ] && ok "callee $c: its $H calls successful (BYE $([ $c = 2 ] && echo sent and answered 200 || echo received))" ||
		bad "callee $c successful failed: $(csucc "$W/callee$c.csv.stat")" "$W/callee$c.err"
done
for ((t = 0; t < 50; t++)); do [ "$(hstat 2 'd["calls"]["active"]')" = 0 ] && break; sleep 0.1; done
# (the heartbeat mg:NODE:alive aside: node 2, promoted, lives as that node)
st="$(hstat 2 'd["calls"]["active"]') $(dpctl 2 session list | jq_py 'd["count"]') $(rcli --scan --pattern "mg:$NODE:*" | grep -vc ":alive$")"
[ "$st" = "0 0 0" ] && ok "node 2: 0 calls, its dataplane empty, 0 keys left" || bad "after the BYEs (calls, dataplane, keys): $st"
scenario_end
