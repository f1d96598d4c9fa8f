#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Standby media node (issue 12 item 3, docs/standby.md): two mediagate nodes
# (control + dataplane each) on one segment share the media address
# 192.0.2.100 (mediagate.dataplane.port.0.sharedAddress), a redis-server of
# this run (unix socket), keepalived on each node (VRRPv3, unicast, in a
# namespace of its own on the bridge; notify_master runs `mgctl ha promote`,
# configs/keepalived-mediagate.conf).
#  1. keepalived 1 becomes master: node 1's dataplane owns the shared address.
#  2. N (default 50) SRTP<->SRTP NG sessions set up on node 1; the standby
#     (mediagate.redis.role=standby) pre-installs every one in its own
#     dataplane, same ports, every leg blocked, nothing forwarded.
#  3. An SRTP stream A->B per session (libsrtp2 peers; half of them past a
#     sequence number wrap, ROC 1, before node 1 dies); kill -9 of node 1's
#     keepalived, control and dataplane mid-stream (the node dies).
#     keepalived 2 takes over, node 2 is promoted: every stream gets through
#     to its last packet (0 auth/replay failures at the peers, 0 SRTP drops
#     in node 2's dataplane), every session on node 2 (NG list), none lost.
#     The media gap at the receivers is printed (median, max), not judged.
#  4. NG delete on node 2 ends every session: dataplane empty, keys gone.
#   [HA_SESSIONS=N] [BUILD=dir] ha_standby_test.sh
. "$(dirname "$0")/_init.sh"
[ "$RELAY" = mediagate ] || { echo "# ha_standby: mediagate's standby node (RELAY=$RELAY)"; exit 77; }
PEER=$BUILD/tests/smoke/dp_srtp_peer
MGCTL=$BUILD/control/mgctl/mgctl
[ -x "$PEER" ] || { echo "# ha_standby: $PEER was not built"; exit 1; }
N=${HA_SESSIONS:-50}
COUNT=${HA_PACKETS:-900} # per stream, every 20 ms: 18 s (50 senders start one by one: slow under load)
# VRRP advert interval: 0.3 s tolerates a loaded CI machine (a node whose
# adverts stop for 1 s is declared dead); bench/failover-bench uses 0.1
ADVERT=${HA_ADVERT:-0.3}
scenario_begin ha_standby redis-server redis-cli keepalived
RSOCK=$W/redis.sock
NODE=pair-$T
VIP=192.0.2.100
redis_start "$RSOCK" "$W"
rcli() { redis-cli -s "$RSOCK" "$@"; }
rcli ping | grep -q PONG && ok "redis-server up" || { bad "redis-server" "$W/redis.log"; scenario_end; }
mgctl() { "$MGCTL" --json --socket "$W/mg$1/cli.sock" "${@:2}"; }
dpctl() { ip netns exec $NS_GW "$DPCTL" --socket "$W/mg$1/dp.sock" "${@:2}"; }
hstat() { mgctl "$1" stats | jq_py "$2"; }
export MG_PORT_RANGE=40000-40999
common="mediagate.redis.url=unix:$RSOCK
mediagate.redis.node=$NODE
mediagate.redis.expire=60
mediagate.dataplane.port.0.sharedAddress=$VIP
mediagate.dataplane.orphanTimeout=60"
export MG_EXTRA_CONF="$common
mediagate.control.cliSocket=$W/mg1/cli.sock"
relay_start 1 && ok "node 1 (active) up" || { bad "node 1 up" "$W/relay1.log"; scenario_end; }
export MG_EXTRA_CONF="$common
mediagate.redis.role=standby
mediagate.control.cliSocket=$W/mg2/cli.sock"
relay_start 2 && ok "node 2 (standby) up" || { bad "node 2 up" "$W/relay2.log"; scenario_end; }
st=$(hstat 2 '"%s %s" % (d["ha"]["role"], d["ha"]["watch_connected"])')
[ "$st" = "standby 1" ] && ok "node 2: role standby, watching Redis" || bad "node 2 ha state: $st" "$W/relay2.log"
ev=$(rcli config get notify-keyspace-events | sed -n 2p)
case "$ev" in *K*) ok "notify-keyspace-events set by the standby ('$ev')" ;; *) bad "notify-keyspace-events '$ev'" ;; esac

# ---- keepalived: one namespace per node on the bridge, unicast VRRPv3 ----
cat > "$W/notify.sh" << EOF
#!/bin/sh
# keepalived notify (configs/keepalived-mediagate.conf): \$1 node, \$2 state
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
}
ka_start() {
	local n=$1 prio=$2 me=192.0.2.$((200 + $1)) peer=192.0.2.$((203 - $1))
	sed -e "s|@NODE@|mg$n|; s|@IF@|k$n|; s|@PRIO@|$prio|; s|@SRC@|$me|; s|@PEER@|$peer|; s|@ADVERT@|$ADVERT|" \
		-e "s|@NOTIFY@|$W/notify.sh $n|" "$SRC/configs/keepalived-mediagate.conf" > "$W/keepalived$n.conf"
	ip netns exec ng-$T-k$n keepalived --vrrp -n -l -D -f "$W/keepalived$n.conf" -p "$W/ka$n.pid" \
		-r "$W/ka$n-vrrp.pid" > "$W/keepalived$n.log" 2>&1 &
	PIDS+=($!)
}
cleanup_ka() { for n in 1 2; do ip netns del ng-$T-k$n 2> /dev/null; done; }
trap 'ng_cleanup; cleanup_ka' EXIT
# both VRRP interfaces up and their neighbours known before keepalived runs:
# adverts to a peer whose ARP failed would be lost and both become master
ka_net 1
ka_net 2
# (a ping of 1 s at most, up to 5 of them: on a loaded machine the first can be lost)
vrrp_reach() { ip netns exec ng-$T-k1 ping -c 1 -W 1 192.0.2.202 > /dev/null; }
wait_until 5 vrrp_reach && ok "the two nodes' VRRP interfaces reach each other" ||
	bad "VRRP interfaces: ping 192.0.2.202 from k1"
ka_start 1 150
for ((t = 0; t < 100; t++)); do
	[ "$(dpctl 1 shared | jq_py 'd["on"]')" = True ] && break
	sleep 0.1
done
[ "$(dpctl 1 shared | jq_py '"%s %s" % (d["on"], d["garps"] >= 1)')" = "True True" ] &&
	ok "keepalived 1 master: node 1's dataplane owns $VIP (gratuitous ARP sent)" ||
	bad "node 1 owns the shared address: $(dpctl 1 shared)" "$W/keepalived1.log"
ka_start 2 100
for ((t = 0; t < 100; t++)); do grep -q backup "$W/notify-2.log" 2> /dev/null && break; sleep 0.1; done
sleep 0.5
st="$(dpctl 2 shared | jq_py 'd["on"]') $(hstat 2 'd["ha"]["role"]') $(grep -c master "$W/notify-2.log")"
[ "$st" = "False standby 0" ] && ok "keepalived 2 backup: node 2 stays standby, does not own $VIP" ||
	bad "node 2 (shared role masters): $st" "$W/keepalived2.log"

# ---- N SRTP<->SRTP sessions on node 1 ----
ip netns exec $NS_GW python3 "$NG_DIR/srtp_calls.py" "$(relay_ng 1)" $ADDR_A $ADDR_B sb 1 "$N" 6000 7000 \
	> "$W/calls.txt" 2> "$W/calls.err"
[ "$(wc -l < "$W/calls.txt")" = "$N" ] && ok "$N SRTP<->SRTP NG sessions set up on node 1" ||
	{ bad "NG sessions on node 1" "$W/calls.err"; scenario_end; }
[ "$(cut -d' ' -f8 "$W/calls.txt" | sort -u)" = "$VIP" ] && ok "their media address is the shared $VIP" ||
	bad "media addresses: $(cut -d' ' -f8 "$W/calls.txt" | sort -u | tr '\n' ' ')"
# (until each answer's record replaced its offer's: the last offer's copy
# alone makes the counts right for a moment)
for ((t = 0; t < 300; t++)); do # 30 s and more: 47 of 50 after 10 s was seen at load 30
	[ "$(hstat 2 '"%s %s" % (d["ha"]["standby_sessions"], d["ha"]["installed"] - d["ha"]["replaced"])')" = "$N $N" ] &&
		[ "$(dpctl 2 session list | jq_py 'd["count"]')" = "$N" ] && break
	sleep 0.1
done
# an offer's record, then the answer's: installed, replaced (removed, read again)
st=$(hstat 2 '"%s %s %s" % (d["ha"]["standby_sessions"], d["ha"]["installed"] - d["ha"]["replaced"], d["ha"]["watch_events"] > 0)')
[ "$st" = "$N $N True" ] && ok "node 2 pre-installed the $N sessions (keyspace notifications; $(hstat 2 'd["ha"]["replaced"]') replaced by their answer)" ||
	bad "node 2 standby sessions, installed - replaced, events: $st" "$W/relay2.log"
p1=$(dpctl 1 session list | jq_py '" ".join(sorted("%d-%d" % tuple(s["local_ports"]) for s in d["sessions"]))')
p2=$(dpctl 2 session list | jq_py '" ".join(sorted("%d-%d" % tuple(s["local_ports"]) for s in d["sessions"]))')
[ -n "$p1" ] && [ "$p1" = "$p2" ] && ok "node 2's dataplane holds them on the same ports" || bad "ports node 1 '$p1' node 2 '$p2'"
id2=$(dpctl 2 session list | jq_py 'd["sessions"][0]["id"]')
bl=$(dpctl 2 session get "$id2" | jq_py '"%s %s" % (d["legs"][0]["blocked"], d["legs"][1]["blocked"])')
[ "$bl" = "True True" ] && ok "pre-installed with both legs blocked (not forwarding)" || bad "legs blocked: $bl"
sb=$(mgctl 2 sessions | jq_py 'sum(1 for s in d["sessions"] if s["standby"])')
[ "$sb" = "$N" ] && ok "mgctl sessions on node 2: $N, each marked standby" || bad "standby sessions in mgctl sessions: $sb"

# ---- streams, then node 1 dies ----
# odd streams start 100+i packets before their sequence number wraps: their
# ROC is 1 when node 1 dies, and node 2 must go on from it (the record's
# index, read back by node 1 every 5 s and published when a ROC moves)
first_seq() { if (($1 % 2)); then echo $((65536 - 100 - $1)); else echo $((1000 * $1)); fi; }
# each receiver, then its sender (started one after the other, they would
# otherwise wait longer than their timeout on a loaded machine)
while read -r cid pa pb ka _ _ krb _; do
	i=${cid#sb-}
	ip netns exec $NS_B "$PEER" recv $ADDR_B:$((7000 + 2 * i)) --key "$krb" --suite 80 --ssrc $((0x5000 + i)) \
		--count 0 --timeout-ms 5000 > "$W/recv-$i.json" 2>&1 &
	RECV+=($!)
	PIDS+=($!)
	ip netns exec $NS_A "$PEER" send $ADDR_A:$((6000 + 2 * i)) $VIP:$pa --key "$ka" --suite 80 --ssrc $((0x5000 + i)) \
		--count $COUNT --seq $(first_seq $i) --interval-us 20000 > "$W/send-$i.json" 2>&1 &
	SEND+=($!)
	PIDS+=($!)
done < "$W/calls.txt"
# until node 1 has published every odd stream's ROC 1 (what node 2 reads)
wrapped() {
	rcli mget $(for ((i = 1; i <= N; i += 2)); do echo "mg:$NODE:ng:sb-$i"; done) | python3 -c 'import json, sys
print(sum(1 for l in sys.stdin if l.strip() and any(x[0] >= 1 and x[2] for e in json.loads(l)["dp"] for x in e["index"])))'
}
for ((t = 0; t < 150; t++)); do [ "$(wrapped)" = $(((N + 1) / 2)) ] && break; sleep 0.1; done
[ "$(wrapped)" = $(((N + 1) / 2)) ] && ok "the $(((N + 1) / 2)) wrapped streams' records hold ROC 1" || bad "records with ROC 1: $(wrapped)"
sleep 0.5
tx2=$(dpctl 2 stats | jq_py 'd["tx_packets"] - d["arp_tx"]')
role2=$(hstat 2 'd["ha"]["role"]')
alive=0
for p in "${SEND[@]}"; do kill -0 "$p" 2> /dev/null && alive=$((alive + 1)); done
t_kill=$(date +%s%3N)
# node 1 dies as a machine does: stopped first, then killed (keepalived's
# VRRP child otherwise sees its parent go and can send a goodbye advert, a
# priority-0 handover faster than any real death is detected)
k1pids=$(ip netns pids ng-$T-k1)
kill -STOP $k1pids "${RELAY_PID[1]}" "${RELAY_DP_PID[1]}"
kill -9 $k1pids "${RELAY_PID[1]}" "${RELAY_DP_PID[1]}"
wait "${RELAY_PID[1]}" "${RELAY_DP_PID[1]}" 2> /dev/null
! kill -0 "${RELAY_PID[1]}" 2> /dev/null && ! kill -0 "${RELAY_DP_PID[1]}" 2> /dev/null &&
	ok "node 1 killed (kill -9 of keepalived, mediagate-control, mediagate-dataplane) mid-stream" ||
	bad "node 1: mediagate-control or mediagate-dataplane still alive after kill -9"
[ "$alive" = "$N" ] && ok "all $N streams still sending at the kill" ||
	bad "only $alive of $N streams still sending at the kill (the test bed was too slow to reach it in time)"
[ "$tx2 $role2" = "0 standby" ] && ok "node 2 was still standby and forwarded nothing before (tx 0 besides ARP)" ||
	bad "node 2 before the kill: role $role2, sent $tx2 packets (a VRRP master before node 1 died: $(grep -c master "$W/notify-2.log"))"
for ((t = 0; t < 100; t++)); do [ -s "$W/notify-2.log" ] && grep -q '"result"' "$W/notify-2.log" && break; sleep 0.05; done
for p in "${SEND[@]}" "${RECV[@]}"; do wait "$p"; done # receivers: 5 s after their last packet
st=$(hstat 2 '"%s %s %s" % (d["ha"]["role"], d["ha"]["promoted_sessions"], d["ha"]["promote_failed"])')
[ "$st" = "promoted $N 0" ] && ok "keepalived 2 promoted node 2: $N sessions taken over, 0 failed" ||
	bad "node 2 after the failover (role promoted failed): $st" "$W/notify-2.log"
[ "$(dpctl 2 shared | jq_py 'd["on"]')" = True ] && ok "node 2's dataplane owns $VIP" || bad "node 2 shared: $(dpctl 2 shared)"
python3 "$NG_DIR/stream_verdict.py" "$W" "$N" "$COUNT" "$t_kill" > "$W/streams.txt"
read -r sgood sbad gmed gmax < <(head -1 "$W/streams.txt")
[ "$sgood" = "$N" ] && ok "all $N SRTP streams resumed through node 2 to their last packet, 0 auth/replay failures at the peers" ||
	bad "streams ok $sgood of $N: $(sed -n '2,6p' "$W/streams.txt")"
echo "# media gap at the receivers (kill -9 to the first packet through node 2): median $gmed ms, max $gmax ms over $N streams"
# bench/failover-bench: the run's figures (with the VRRP timing) to HA_RESULT
[ -n "${HA_RESULT:-}" ] && python3 -c 'import json, sys
d = json.load(open(sys.argv[1])); d["advert_s"] = float(sys.argv[2]); d["promoted"] = sys.argv[3]
m = [int(l.split()[0]) - int(sys.argv[5]) for l in open(sys.argv[4]) if l.split()[1:2] == ["master"]]
d["notify_master_ms"] = m[-1] if m else -1  # kill -9 to keepalived 2 running notify_master
print(json.dumps(d))' "$W/result.json" "$ADVERT" "$st" "$W/notify-2.log" "$t_kill" >> "$HA_RESULT"
read -r _ drops < <(srtp_drops 2)
[ "$drops" = 0 ] && ok "node 2's dataplane: 0 SRTP auth/replay drops" || bad "node 2 SRTP drops: $drops"
cnt=$(mgctl 2 sessions | jq_py '"%d %d" % (d["count"], len(set(s["call-id"] for s in d["sessions"] if not s["standby"]) & set("sb-%d" % i for i in range(1, '$N' + 1))))')
[ "$cnt" = "$N $N" ] && ok "mgctl sessions on node 2: the $N sessions, none standby any more (none dropped)" || bad "sessions on node 2 (count, ours): $cnt"
w=$(hstat 2 'd["redis"]["writes"]')
[ "${w:-0}" -ge "$N" ] 2> /dev/null && ok "node 2 publishes them as node $NODE ($w writes)" || bad "node 2 Redis writes: $w"

# ---- BYE: NG delete on node 2 ends them ----
while read -r cid _; do ng 2 "{\"command\":\"delete\",\"call-id\":\"$cid\"}" > /dev/null; done < "$W/calls.txt"
none_left() { st="$(mgctl 2 sessions | jq_py 'd["count"]') $(dpctl 2 session list | jq_py 'd["count"]') $(rcli --scan --pattern "mg:$NODE:ng:*" | wc -l)"; [ "$st" = "0 0 0" ]; }
wait_until 50 none_left
[ "$st" = "0 0 0" ] && ok "NG delete on node 2: 0 sessions, its dataplane empty, 0 keys left" ||
	bad "after delete (sessions, dataplane, keys): $st"
scenario_end
