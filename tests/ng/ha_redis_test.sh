#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Session state in Redis (issue 12 items 1-2, docs/ha-state.md), on NG
# sessions: a redis-server of this run (unix socket in the work directory).
#  1. Redis down at start: SRTP<->SRTP NG calls are set up all the same; the
#     records wait (mgctl --json stats: redis.connected 0, queued); Redis
#     started: connected, every record written (the keys hold the sessions'
#     ports), nothing queued.
#  2. Redis killed mid-call: a new call and a delete go on; Redis back: the
#     new call's key is there, the deleted call's key is gone.
#  3. kill -9 of mediagate-control with an SRTP stream flowing through call 1
#     (libsrtp2 peers), then started again: the sessions are read back and
#     checked against the dataplane (adopted 2, dropped 0); NG list and
#     query show them with the same ports and tags; the stream got through to
#     its last packet with no SRTP failure; NG delete of an adopted call works
#     (its dataplane session and key go); a record for a session the dataplane
#     does not hold is dropped (adopt_dropped), a damaged one refused.
#   [BUILD=dir] ha_redis_test.sh
. "$(dirname "$0")/_init.sh"
[ "$RELAY" = mediagate ] || { echo "# ha_redis: mediagate's Redis state (RELAY=$RELAY)"; exit 77; }
PEER=$BUILD/tests/smoke/dp_srtp_peer
[ -x "$PEER" ] || { echo "# ha_redis: $PEER was not built"; exit 1; }
scenario_begin ha_redis redis-server redis-cli
RSOCK=$W/redis.sock
NODE=hatest-$T
redis_up() { redis_start "$RSOCK" "$W"; }
rcli() { redis-cli -s "$RSOCK" "$@"; }
export MG_EXTRA_CONF="mediagate.redis.url=unix:$RSOCK
mediagate.redis.node=$NODE
mediagate.control.cliSocket=$W/mg1/cli.sock
mediagate.dataplane.orphanTimeout=60"
relay_start 1 && ok "relay 1 (mediagate) up, Redis not running" || { bad "relay 1 up" "$W/relay1.log"; scenario_end; }
D=$W/mg1
dpctl() { ip netns exec $NS_GW "$DPCTL" --socket "$D/dp.sock" "$@"; }
mgctl() { "$BUILD/control/mgctl/mgctl" --json --socket "$D/cli.sock" "$@"; }
rstat() { mgctl stats | jq_py "$1"; }
MEDIA=$(relay_media 1)

# calls N FIRST: N SRTP<->SRTP calls ha-FIRST.. (srtp_calls.py: one line each,
# CALL PORT_A PORT_B KEY_A KEY_B KEY_TO_A KEY_TO_B MEDIA)
calls() {
	ip netns exec $NS_GW python3 "$NG_DIR/srtp_calls.py" "$(relay_ng 1)" $ADDR_A $ADDR_B ha "$2" "$1" 4000 5000
}
# key_ports CALL: the local RTP ports the call's record holds, sorted ("" if no key)
key_ports() {
	rcli get "mg:$NODE:ng:$1" | jq_py '" ".join(str(p) for p in sorted(int(x["local"].rsplit(":",1)[1]) for s in d["sides"] for x in s["ports"] if x["ok"]))' 2> /dev/null
}

# ---- 1. Redis down at start ----
calls 2 1 > "$W/calls.txt" 2> "$W/calls.err"
[ "$(wc -l < "$W/calls.txt")" = 2 ] && ok "2 SRTP<->SRTP NG calls set up with Redis down" ||
	{ bad "NG calls with Redis down" "$W/calls.err"; scenario_end; }
st=$(rstat '"%s %s %s" % (d["redis"]["enabled"], d["redis"]["connected"], d["redis"]["queued"])')
[ "$st" = "1 0 2" ] && ok "mgctl stats: Redis enabled, not connected, 2 records queued" || bad "mgctl stats with Redis down: $st"
redis_up && ok "redis-server started (unix socket)" || { bad "redis-server" "$W/redis.log"; scenario_end; }
for ((t = 0; t < 100; t++)); do
	[ "$(rstat '"%s %s" % (d["redis"]["connected"], d["redis"]["queued"])')" = "1 0" ] && break
	sleep 0.1
done
st=$(rstat '"%s %s %s" % (d["redis"]["connected"], d["redis"]["queued"], d["redis"]["writes"] >= 2)')
[ "$st" = "1 0 True" ] && ok "reconnected by itself: every queued record written" || bad "after Redis started: $st"
read -r cid1 pa1 pb1 ka1 kb1 kra1 krb1 _ < <(sed -n 1p "$W/calls.txt")
read -r cid2 pa2 pb2 _ < <(sed -n 2p "$W/calls.txt")
want1=$(printf '%s\n' "$pa1" "$pb1" | sort -n | tr '\n' ' ' | sed 's/ $//')
[ "$(key_ports "$cid1")" = "$want1" ] && ok "the key of $cid1 holds its ports ($want1)" ||
	bad "key of $cid1: '$(key_ports "$cid1")', want '$want1'"
ttl=$(rcli ttl "mg:$NODE:ng:$cid1")
[ "$ttl" -gt 0 ] 2> /dev/null && ok "the key expires (TTL $ttl s)" || bad "TTL of the key: $ttl"

# ---- 2. Redis killed mid-call ----
err0=$(rstat 'd["redis"]["errors"]')
kill -9 $REDIS_PID; wait $REDIS_PID 2> /dev/null
calls 1 3 > "$W/calls3.txt" 2> "$W/calls3.err" && ok "a call is set up while Redis is down" || bad "call with Redis down" "$W/calls3.err"
r=$(ng 1 "{\"command\":\"delete\",\"call-id\":\"$cid2\"}" | jq_py 'd["result"]')
[ "$r" = ok ] && ok "NG delete of $cid2 while Redis is down" || bad "NG delete with Redis down: $r"
st=$(rstat '"%s %s" % (d["redis"]["connected"], d["redis"]["queued"])')
[ "$st" = "0 2" ] && ok "mgctl stats: not connected, 2 writes queued (the new call, the delete)" || bad "mgctl stats: $st"
rm -f "$RSOCK"
redis_up || bad "redis-server again" "$W/redis.log"
for ((t = 0; t < 200; t++)); do
	[ "$(rstat '"%s %s" % (d["redis"]["connected"], d["redis"]["queued"])')" = "1 0" ] && break
	sleep 0.1
done
# a fresh server: what comes back is what was republished or queued
[ -n "$(key_ports ha-3)" ] && [ -n "$(key_ports "$cid1")" ] && [ "$(rcli exists "mg:$NODE:ng:$cid2")" = 0 ] &&
	ok "Redis back: the new call's and the older call's keys written, the deleted call's absent" ||
	bad "keys after Redis came back: $(rcli keys "mg:$NODE:*" | tr '\n' ' ')"
st=$(rstat '"%s %s" % (d["redis"]["connects"], d["redis"]["dropped"])')
[ "$st" = "2 0" ] && ok "two connections counted, nothing dropped" || bad "connects/dropped: $st"

# ---- 3. control kill -9 and restart with a stream flowing ----
sessions_before=$(dpctl session list | jq_py '" ".join(sorted(str(s["id"]) for s in d["sessions"]))')
ip netns exec $NS_B "$PEER" recv $ADDR_B:5002 --key "$krb1" --suite 80 --ssrc 0x3001 --count 0 --timeout-ms 3000 \
	> "$W/recv.json" 2>&1 &
rp=$!
PIDS+=($rp)
sleep 0.2
ip netns exec $NS_A "$PEER" send $ADDR_A:4002 $MEDIA:$pa1 --key "$ka1" --suite 80 --ssrc 0x3001 --count 300 \
	--seq 100 --interval-us 20000 > "$W/send.json" 2>&1 &
sp=$!
PIDS+=($sp)
# a record the dataplane has no session for, and one that is damaged
# (ports and dataplane session of a call that ended: the dataplane holds neither)
rcli set "mg:$NODE:ng:ghost" "$(rcli get "mg:$NODE:ng:ha-3" | python3 -c '
import json, sys
d = json.load(sys.stdin)
d["key"] = "ghost"
for e in d["dp"]: e["id"] = "00000000000000aa"
for s in d["sides"]:
    for p in s["ports"]:
        if p["ok"]:
            a, n = p["local"].rsplit(":", 1)
            p["local"] = "%s:%d" % (a, int(n) + 500)
            p["rtcp"] = int(n) + 501
print(json.dumps(d))')" > /dev/null
rcli set "mg:$NODE:ng:broken" '{"v":1,"kind":"ng","key":"broken","streams":9}' > /dev/null
sleep 1.5
kill -9 "${RELAY_PID[1]}"; wait "${RELAY_PID[1]}" 2> /dev/null
! kill -0 "${RELAY_PID[1]}" 2> /dev/null && ok "mediagate-control killed (kill -9) mid-stream" ||
	bad "mediagate-control ${RELAY_PID[1]} still alive after kill -9"
ip netns exec $NS_GW "$BUILD/control/mediagate-control" --config "$D/gw.properties" > "$W/relay1b.log" 2>&1 &
RELAY_PID[1]=$!
PIDS+=($!)
wait_log "$W/relay1b.log" "connected to dataplane" 1 100 && ok "mediagate-control started again" ||
	bad "control restart" "$W/relay1b.log"
for ((t = 0; t < 50; t++)); do
	[ "$(rstat 'd["redis"]["adopted"] + d["redis"]["adopt_dropped"]')" = 3 ] && break
	sleep 0.1
done
st=$(rstat '"%s %s %s %s" % (d["redis"]["read_back"], d["redis"]["adopted"], d["redis"]["adopt_dropped"], d["redis"]["read_bad"])')
[ "$st" = "4 2 1 1" ] && ok "read back 4 keys: 2 sessions re-adopted, the ghost dropped, the damaged one refused" ||
	bad "read-back counters (read adopted dropped bad): $st" "$W/relay1b.log"
lst=$(ng 1 '{"command":"list"}' | jq_py '" ".join(sorted(d["calls"]))')
[ "$lst" = "$cid1 ha-3" ] && ok "NG list after the restart: $lst" || bad "NG list after the restart: '$lst'"
q=$(ng 1 "{\"command\":\"query\",\"call-id\":\"$cid1\"}")
qp=$(echo "$q" | jq_py '" ".join(str(p) for p in sorted(m["streams"][0]["local port"] for t in d["tags"].values() for m in t["medias"]))')
[ "$qp" = "$want1" ] && ok "NG query of $cid1: same ports ($qp)" || bad "NG query ports '$qp', want '$want1': $q"
sessions_after=$(dpctl session list | jq_py '" ".join(sorted(str(s["id"]) for s in d["sessions"]))')
[ "$sessions_after" = "$sessions_before" ] && ok "the dataplane holds the same sessions (nothing installed twice)" ||
	bad "dataplane sessions before '$sessions_before' after '$sessions_after'"
[ "$(rcli exists "mg:$NODE:ng:ghost")" = 0 ] && ok "the ghost's key deleted" || bad "the ghost's key is still there"
wait $sp; wait $rp
rs=$(jq_py '"%s %s %s %s" % (d["ok"], d["auth_fail"], d["replay_fail"], d["last_seq"])' < "$W/recv.json")
[ "$rs" = "300 0 0 399" ] && ok "the SRTP stream of $cid1 got through the restart: 300 of 300, 0 failures" ||
	bad "stream through the restart (ok auth replay last_seq): $rs" "$W/recv.json"
# delete of an adopted call: its dataplane session and key go
id1=$(dpctl session list | jq_py "[s['id'] for s in d['sessions'] if $pa1 in s['local_ports']][0]")
r=$(ng 1 "{\"command\":\"delete\",\"call-id\":\"$cid1\"}" | jq_py 'd["result"]')
[ "$r" = ok ] && ok "NG delete of the adopted $cid1" || bad "NG delete of the adopted call: $r"
gone1() { [ "$(dpctl session list | jq_py "len([s for s in d['sessions'] if s['id'] == $id1])")" = 0 ] && [ "$(rcli exists "mg:$NODE:ng:$cid1")" = 0 ]; }
wait_until 30 gone1
left=$(dpctl session list | jq_py "len([s for s in d['sessions'] if s['id'] == $id1])")
[ "$left" = 0 ] && [ "$(rcli exists "mg:$NODE:ng:$cid1")" = 0 ] &&
	ok "its dataplane session and its key are gone" || bad "after delete: session left $left, key $(rcli exists "mg:$NODE:ng:$cid1")"
a=$(ng 1 '{"command":"answer","call-id":"ha-3","from-tag":"ta3","to-tag":"tb3","sdp":"v=0\r\no=- 1 2 IN IP4 192.0.2.20\r\ns=-\r\nc=IN IP4 192.0.2.20\r\nt=0 0\r\nm=audio 5006 RTP/AVP 0\r\na=sendrecv\r\n"}' | jq_py 'd["result"]')
[ "$a" = ok ] && ok "NG answer (re-answer) on the adopted ha-3" || bad "NG answer on the adopted call: $a"
scenario_end
