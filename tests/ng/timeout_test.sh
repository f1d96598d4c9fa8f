#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# NG session timeouts (docs/ng.md "Timeouts"): relay 1 (mediagate) with
# mediagate.ng.timeout=2 and offerTimeout=4, driven by ng_client.py:
#   idle    offer + answer, no media at all
#   live    offer + answer, the caller sends RTP (20 packets/s from its
#           namespace to the relay's port) until told to stop
#   offered an offer never answered (the proxy gave this node up)
# idle is deleted (NG list, query "Unknown call-id", the dataplane's
# session gone), offered too; live stays while its RTP flows (checked
# after idle went, and again after several more timeout periods), then goes
# once the sender stops. Counted by reason in NG statistics, mgctl --json
# stats and /metrics. Every wait polls structured state with a bound; no
# duration is asserted.
#   [BUILD=dir] timeout_test.sh
. "$(dirname "$0")/_init.sh"
[ "$RELAY" = mediagate ] || { echo "# timeout: mediagate.ng.* timeouts (RELAY=$RELAY)"; exit 77; }
scenario_begin timeout
export MG_EXTRA_CONF="mediagate.ng.timeout=2
mediagate.ng.offerTimeout=4"
relay_start 1 && ok "relay 1 (mediagate) answers ping, ng.timeout=2 s, offerTimeout=4 s" ||
	{ bad "relay 1 answers ping" "$W/relay1.log"; scenario_end; }
D=$W/mg1
MGCTL=$BUILD/control/mgctl/mgctl
dpctl() { ip netns exec $NS_GW "$DPCTL" --socket "$D/dp.sock" "$@"; }
mg_stats() { "$MGCTL" --config "$D/gw.properties" --json stats; }
# the NG statistics' counters: "timeout offer_timeout"
ng_expired() { ng 1 '{"command":"statistics"}' |
	jq_py '"%s %s" % (d["statistics"]["totalstatistics"]["timeoutsessions"], d["statistics"]["totalstatistics"]["offertimeoutsessions"])'; }
metrics_get() { ip netns exec $NS_GW python3 -c 'import urllib.request,sys; sys.stdout.write(urllib.request.urlopen("http://127.0.0.1:9102/metrics", timeout=3).read().decode())'; }
prom() { metrics_get | sed -n "s/^mediagate_closed_sessions_total{reason=\"$1\"} //p"; }
listed() { ng_calls 1 | grep -qx "$1"; }
# wait_gone_ng CALL TENTHS: until relay 1 no longer lists CALL
wait_gone_ng() {
	local t
	for ((t = 0; t < $2; t++)); do
		listed "$1" || return 0
		sleep 0.1
	done
	return 1
}
MEDIA=$(relay_media 1)
read -r E0_TO E0_OFFER <<< "$(ng_expired)"
[ "$E0_TO $E0_OFFER" = "0 0" ] && ok "NG statistics: 0 sessions expired at start" || bad "NG statistics at start: '$E0_TO $E0_OFFER'"

# ---- the sessions ----
ip netns exec $NS_GW python3 - "$NG_DIR" "$(relay_ng 1)" $ADDR_A $ADDR_B > "$W/calls.txt" 2> "$W/calls.err" << 'PY'
import re, sys
sys.path.insert(0, sys.argv[1])
from ng_client import NG
ng, a, b = NG(sys.argv[2]), sys.argv[3], sys.argv[4]
def sdp(addr, port):
    return "\r\n".join(["v=0", "o=- 1 1 IN IP4 %s" % addr, "s=-", "c=IN IP4 %s" % addr, "t=0 0",
                        "m=audio %d RTP/AVP 0" % port, "a=rtpmap:0 PCMU/8000", "a=sendrecv"]) + "\r\n"
port = lambda s: int(re.search(r"m=audio (\d+)", s).group(1))
for i, cid in enumerate(("to-idle", "to-live", "to-offered")):
    o = ng.request({"command": "offer", "call-id": cid, "from-tag": "ta", "sdp": sdp(a, 4000 + 2 * i)})
    assert o["result"] == "ok", o
    if cid == "to-offered":
        print(cid, 0)
        continue
    r = ng.request({"command": "answer", "call-id": cid, "from-tag": "ta", "to-tag": "tb",
                    "sdp": sdp(b, 5000 + 2 * i)})
    assert r["result"] == "ok", r
    print(cid, port(r["sdp"]))  # the relay's port facing the caller
PY
[ "$(wc -l < "$W/calls.txt")" = 3 ] && ok "NG: two calls offered and answered, one offered only" ||
	{ bad "NG calls set up" "$W/calls.err"; scenario_end; }
LIVE_PORT=$(awk '$1 == "to-live" { print $2 }' "$W/calls.txt")
# the caller of to-live: 172-byte RTP every 50 ms from its SDP's address and port
ip netns exec $NS_A python3 - $ADDR_A 4002 $MEDIA "$LIVE_PORT" "$W/stop-rtp" > "$W/rtp.log" 2>&1 << 'PY' &
import os, socket, struct, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
dst, stop, seq = (sys.argv[3], int(sys.argv[4])), sys.argv[5], 0
while not os.path.exists(stop) and seq < 20 * 120:
    s.sendto(struct.pack("!BBHII", 0x80, 0, seq & 0xffff, 160 * seq, 0x5eed) + b"\xff" * 160, dst)
    seq += 1
    time.sleep(0.05)
print(seq)
PY
RTP_PID=$!
PIDS+=($RTP_PID)

# ---- idle and offered go, live stays ----
wait_gone_ng to-idle 150 && ok "to-idle (answered, no media) is deleted after ng.timeout (no longer listed)" ||
	bad "to-idle deleted within 15 s (list: $(ng_calls 1 | tr '\n' ' '))" "$W/relay1.log"
[ "$(ng 1 '{"command":"query","call-id":"to-idle"}' | jq_py 'd["result"]')" = error ] &&
	ok "NG query of to-idle: result error (unknown call-id)" || bad "NG query of to-idle after its timeout"
listed to-live && ok "to-live (RTP flowing) is still listed when to-idle went" || bad "to-live was deleted with its media flowing" "$W/relay1.log"
wait_gone_ng to-offered 150 && ok "to-offered (never answered) is deleted after ng.offerTimeout" ||
	bad "to-offered deleted within 15 s" "$W/relay1.log"
# several more timeout periods (and counter reads) with media flowing
pk0=$(ng 1 '{"command":"query","call-id":"to-live"}' | jq_py 'd["totals"]["RTP"]["packets"]')
sleep 6
pk1=$(ng 1 '{"command":"query","call-id":"to-live"}' | jq_py 'd["totals"]["RTP"]["packets"]')
if listed to-live && [ -n "$pk1" ] && [ "$pk1" != None ] && [ "$pk1" -gt "${pk0:-0}" ] 2> /dev/null; then
	ok "to-live is kept 3 more timeout periods while its RTP flows (relay counted $pk0 -> $pk1 packets)"
else
	bad "to-live kept while its RTP flows (listed: $(listed to-live && echo yes || echo no), packets $pk0 -> $pk1)" "$W/relay1.log"
fi
read -r E1_TO E1_OFFER <<< "$(ng_expired)"
[ "$E1_TO $E1_OFFER" = "1 1" ] && ok "NG statistics: timeoutsessions 1, offertimeoutsessions 1" ||
	bad "NG statistics after idle and offered went: '$E1_TO $E1_OFFER' (want '1 1')"

# ---- the sender stops: live goes ----
touch "$W/stop-rtp"
wait "$RTP_PID" 2> /dev/null
wait_gone_ng to-live 150 && ok "to-live is deleted once its RTP stopped (sent $(cat "$W/rtp.log") packets)" ||
	bad "to-live deleted within 15 s after its RTP stopped" "$W/relay1.log"
read -r E2_TO E2_OFFER <<< "$(ng_expired)"
[ "$E2_TO $E2_OFFER" = "2 1" ] && ok "NG statistics: timeoutsessions 2, offertimeoutsessions 1" ||
	bad "NG statistics at the end: '$E2_TO $E2_OFFER' (want '2 1')"
st=$(mg_stats | jq_py '"%s %s %s %s %s" % (d["media"]["sessions"], d["media"]["timeout"]["timeout"], d["media"]["timeout"]["offer_timeout"], d["media"]["timeout"]["silent_timeout"], d["media"]["timeout"]["final_timeout"])')
[ "$st" = "0 2 1 0 0" ] && ok "mgctl --json stats: media.sessions 0, media.timeout {timeout 2, offer_timeout 1, silent 0, final 0}" ||
	bad "mgctl --json stats media: '$st' (want '0 2 1 0 0')"
pm="$(prom timeout) $(prom offer_timeout) $(prom terminated)"
[ "$pm" = "2 1 0" ] && ok "/metrics: mediagate_closed_sessions_total{reason=timeout} 2, offer_timeout 1, terminated 0" ||
	bad "/metrics closed sessions timeout/offer_timeout/terminated: '$pm' (want '2 1 0')"
dps=$(dpctl stats | jq_py '"%s %s" % (d["sessions"], d["media_ports_used"])')
[ "$dps" = "0 0" ] && ok "dataplane: 0 sessions, 0 media ports left (dpctl stats)" || bad "dataplane after the timeouts: sessions/ports '$dps'"
scenario_end
