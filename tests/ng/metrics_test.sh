#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# /metrics scraped by a real Prometheus (Debian's prometheus package): relay 1
# (mediagate, /metrics on its default 127.0.0.1:9102 in the gateway's
# namespace) carries NG calls with media through the dataplane; Prometheus,
# started here with its own configuration and storage in the work directory,
# scrapes every second, and its query API must return:
#  - call 1, plain RTP both ways (python peers, metrics_rtp.py): the call's
#    packets and bytes per direction, 0 SRTP authentication failures, the NG
#    commands and their latency histogram, the ports in use, the totals kept
#    after the call is deleted;
#  - call 2, SRTP toward B (libsrtp2, dp_srtp_peer): the SRTP leg's packets
#    and bytes, 0 authentication failures, then tampered packets counted as
#    such;
#  - a hung dataplane (SIGSTOP): scrapes still answered in time, with
#    mediagate_dataplane_up 0; back (SIGCONT) over a reconnection; gone: 0
#    again, the totals kept.
#   [BUILD=dir] metrics_test.sh
. "$(dirname "$0")/_init.sh"
[ "$RELAY" = mediagate ] || { echo "# metrics: mediagate's /metrics (RELAY=$RELAY)"; exit 77; }
command -v prometheus > /dev/null || { echo "# metrics: prometheus is not installed (scripts/setup)"; exit 77; }
[ -x "$BUILD/tests/smoke/dp_srtp_peer" ] || { echo "# metrics: $BUILD/tests/smoke/dp_srtp_peer was not built"; exit 1; }
scenario_begin metrics prometheus promtool

N_A=60 N_B=45 PAYLOAD=172 # RTP header 12 + 160 bytes of PCMU

relay_start 1 && ok "relay 1 (mediagate) answers ping" || { bad "relay 1 answers ping" "$W/relay1.log"; scenario_end; }
# scrape URL: the default mediagate.metrics.listen, loopback of the gateway's namespace
metrics_get() { ip netns exec $NS_GW python3 -c 'import urllib.request,sys; sys.stdout.write(urllib.request.urlopen("http://127.0.0.1:9102/metrics", timeout=3).read().decode())'; }
metrics_get > "$W/metrics0.txt" 2>&1 && grep -q '^mediagate_uptime_seconds ' "$W/metrics0.txt" &&
	ok "mediagate-control serves /metrics on its default 127.0.0.1:9102" || bad "GET /metrics on 127.0.0.1:9102" "$W/metrics0.txt"

# ---- Prometheus, in the gateway's namespace (its loopback is this run's) ----
PROM_PORT=$(ip netns exec $NS_GW python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$W/prom/data"
cat > "$W/prom/prometheus.yml" << EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: mediagate
    static_configs:
      - targets: ['127.0.0.1:9102']
EOF
ip netns exec $NS_GW prometheus --config.file="$W/prom/prometheus.yml" --storage.tsdb.path="$W/prom/data" \
	--web.listen-address="127.0.0.1:$PROM_PORT" --log.level=warn > "$W/prometheus.log" 2>&1 &
PIDS+=($!)

# prom_q EXPR: the value of an instant query (the sum of its series), "none"
# when it returns nothing, "error" when Prometheus does not answer.
prom_q() {
	ip netns exec $NS_GW python3 - "$PROM_PORT" "$1" << 'EOF'
import json, sys, urllib.parse, urllib.request
url = "http://127.0.0.1:%s/api/v1/query?query=%s" % (sys.argv[1], urllib.parse.quote(sys.argv[2]))
try:
    d = json.load(urllib.request.urlopen(url, timeout=2))
except Exception:
    print("error"); sys.exit(0)
r = d.get("data", {}).get("result", [])
if d.get("status") != "success" or not r:
    print("none")
else:
    v = sum(float(x["value"][1]) for x in r)
    print(int(v) if v == int(v) else v)
EOF
}
# wait_prom EXPR WANT [TENTHS]: until the query returns WANT (default 15 s)
wait_prom() {
	local t v
	for ((t = 0; t < ${3:-150}; t++)); do
		v=$(prom_q "$1")
		[ "$v" = "$2" ] && return 0
		sleep 0.1
	done
	echo "# $1 = $v (wanted $2)"
	return 1
}

wait_prom 'up{job="mediagate"}' 1 && ok "Prometheus scrapes mediagate-control's /metrics" ||
	bad "Prometheus scrapes /metrics" "$W/prometheus.log"
[ "$(prom_q 'mediagate_dataplane_up')" = 1 ] && ok "mediagate_dataplane_up 1" || bad "mediagate_dataplane_up is $(prom_q mediagate_dataplane_up)"

# ng_call CALL-ID [B_KEY_BASE64]: NG offer from A (plain RTP, port 4000) and
# answer from B (port 5000: plain, or SRTP AES_CM_128_HMAC_SHA1_80 with B's
# key when given: the relay is asked to offer RTP/SAVP to B); prints the two
# results and the relay's ports facing A and B.
ng_call() {
	ip netns exec $NS_GW python3 - "$NG_DIR" "$(relay_ng 1)" $ADDR_A $ADDR_B "$1" "${2:-}" << 'EOF'
import re, sys
sys.path.insert(0, sys.argv[1])
from ng_client import NG
ng, a, b, cid, key = NG(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
# the plain call has four declined video streams after its audio: m= lines
# past the fourth are never relayed, their counters are nobody's
off = key == ""
def sdp(addr, port, proto="RTP/AVP", extra=()):
    return "\r\n".join(["v=0", "o=- 1 1 IN IP4 %s" % addr, "s=-", "c=IN IP4 %s" % addr, "t=0 0",
                        "m=audio %d %s 0" % (port, proto), "a=rtpmap:0 PCMU/8000", "a=sendrecv"]
                       + list(extra) + (["m=video 0 RTP/AVP 31"] * 4 if off else [])) + "\r\n"
req = {"command": "offer", "call-id": cid, "from-tag": "ta", "sdp": sdp(a, 4000)}
if key:
    req["transport-protocol"] = "RTP/SAVP"
o = ng.request(req)
bsdp = sdp(b, 5000, "RTP/SAVP", ["a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" + key]) if key else sdp(b, 5000)
r = ng.request({"command": "answer", "call-id": cid, "from-tag": "ta", "to-tag": "tb", "sdp": bsdp})
port = lambda s: int(re.search(r"m=audio (\d+)", s).group(1))
print(o["result"], r["result"], port(r["sdp"]), port(o["sdp"]))
EOF
}

# ---- the call: NG offer (A) and answer (B), then RTP both ways ----
ng_call metrics-1 > "$W/call.out" 2> "$W/call.err"
read -r res_o res_a PORT_A PORT_B < "$W/call.out"
[ "$res_o $res_a" = "ok ok" ] && ok "NG offer and answer (relay ports: A $PORT_A, B $PORT_B)" ||
	{ bad "NG offer and answer" "$W/call.err"; scenario_end; }
MEDIA=$(relay_media 1)
ip netns exec $NS_A python3 "$NG_DIR/metrics_rtp.py" $ADDR_A:4000 "$MEDIA:$PORT_A" $N_A 0x1111 1.5 > "$W/rtp_a.out" &
pa=$!
ip netns exec $NS_B python3 "$NG_DIR/metrics_rtp.py" $ADDR_B:5000 "$MEDIA:$PORT_B" $N_B 0x2222 1.5 > "$W/rtp_b.out" &
pb=$!
wait $pa $pb
got_a=$(cat "$W/rtp_a.out") got_b=$(cat "$W/rtp_b.out")
[ "$got_b" = $N_A ] && ok "B received A's $N_A packets through the dataplane" || bad "B received $got_b of $N_A packets"
[ "$got_a" = $N_B ] && ok "A received B's $N_B packets through the dataplane" || bad "A received $got_a of $N_B packets"

# ---- what Prometheus has ----
total=$((N_A + N_B))
wait_prom 'sum(mediagate_packets_total{direction="rx"})' $total &&
	ok "Prometheus: packets received = $total (A's $N_A + B's $N_B)" || bad "Prometheus: packets received"
wait_prom 'sum(mediagate_packets_total{direction="tx"})' $total 30 &&
	ok "Prometheus: packets sent = $total" || bad "Prometheus: packets sent"
wait_prom 'mediagate_packets_total{leg_type="rtp",direction="rx"}' $total 30 &&
	ok "Prometheus: all of them on plain RTP legs" || bad "Prometheus: plain RTP legs"
wait_prom 'sum(mediagate_bytes_total{direction="rx"})' $((total * PAYLOAD)) 30 &&
	ok "Prometheus: bytes received = $((total * PAYLOAD))" || bad "Prometheus: bytes received"
wait_prom 'mediagate_srtp_auth_failures_total' 0 30 && ok "Prometheus: 0 SRTP authentication failures" ||
	bad "Prometheus: SRTP authentication failures"
wait_prom 'mediagate_srtp_replay_failures_total' 0 30 && ok "Prometheus: 0 SRTP replay failures" ||
	bad "Prometheus: SRTP replay failures"
wait_prom 'sum(mediagate_drops_total{scope="session"})' 0 30 && ok "Prometheus: no session packet dropped" ||
	bad "Prometheus: session drops"
wait_prom 'mediagate_sessions{state="answered"}' 1 30 && ok "Prometheus: 1 answered NG session" ||
	bad "Prometheus: answered sessions"
wait_prom 'mediagate_requests_total{request="offer"}' 1 30 && ok "Prometheus: 1 NG offer" || bad "Prometheus: NG offers"
wait_prom 'mediagate_ng_request_duration_seconds_count{request="answer"}' 1 30 &&
	ok "Prometheus: the NG answer is in the latency histogram" || bad "Prometheus: NG latency histogram"
wait_prom 'mediagate_dataplane_sessions' 1 30 && ok "Prometheus: 1 dataplane session" || bad "Prometheus: dataplane sessions"
wait_prom 'mediagate_ports_used' 4 30 && ok "Prometheus: 4 media ports used (an RTP/RTCP pair per side)" ||
	bad "Prometheus: media ports used"
wait_prom 'mediagate_ports_free' 996 30 && ok "Prometheus: 996 of the range's 1000 ports free" ||
	bad "Prometheus: media ports free"
wait_prom 'mediagate_dataplane_scrape_complete' 1 30 && ok "Prometheus: every session's counters read" ||
	bad "Prometheus: scrape complete"
wait_prom 'count(mediagate_worker_busy_cycles_per_packet)' 1 30 && ok "Prometheus: worker busy cycles per packet" ||
	bad "Prometheus: worker cycles per packet"

# ---- the call ends: the totals stay (counters never go back) ----
ng 1 '{"command":"delete","call-id":"metrics-1","from-tag":"ta"}' > "$W/delete.json"
# the delete's totals (Kamailio's $rtpstat): the audio's packets once; the
# fifth m= line reported the first's counters again before
del_rtp=$(jq_py 'd["totals"]["RTP"]["packets"]' < "$W/delete.json")
[ "$del_rtp" = $total ] && ok "NG delete: totals.RTP.packets = $total (5 m= lines, 1 relayed)" ||
	bad "NG delete: totals.RTP.packets $del_rtp, wanted $total" "$W/delete.json"
wait_prom 'mediagate_dataplane_sessions' 0 && ok "the call deleted: no dataplane session" || bad "dataplane sessions after delete"
wait_prom 'mediagate_closed_sessions_total' 1 30 && ok "Prometheus: 1 closed session" || bad "Prometheus: closed sessions"
wait_prom 'mediagate_ports_used' 0 30 && ok "Prometheus: the call's ports freed" || bad "Prometheus: ports after the call"
sleep 1.5 # a scrape or two after the session is gone
[ "$(prom_q 'sum(mediagate_packets_total{direction="rx"})')" = $total ] &&
	ok "Prometheus: packets received still $total after the call ended" ||
	bad "Prometheus: packets received after the call is $(prom_q 'sum(mediagate_packets_total{direction="rx"})')"
[ "$(prom_q 'sum(resets(mediagate_packets_total[1m]))')" = 0 ] && ok "Prometheus: no counter reset seen" ||
	bad "Prometheus: counter resets $(prom_q 'sum(resets(mediagate_packets_total[1m]))')"

# ---- a second call, SRTP toward B: B's SRTP (Debian's libsrtp2, the
# dp_srtp_peer of tests/smoke) decrypted by the dataplane for A, counted on
# the SRTP leg, 0 authentication failures; then B sends packets whose tag
# does not verify: counted as authentication failures, by reason too ----
SRTP_PEER=$BUILD/tests/smoke/dp_srtp_peer
N2_A=40 N2_B=30 N2_BAD=5 TAG=10 # AES_CM_128_HMAC_SHA1_80: a 10-byte tag
KEY_B=$(python3 -c 'import os; print(os.urandom(30).hex())')
KEY_B64=$(python3 -c 'import base64, sys; print(base64.b64encode(bytes.fromhex(sys.argv[1])).decode())' "$KEY_B")
ng_call metrics-2 "$KEY_B64" > "$W/call2.out" 2> "$W/call2.err"
read -r res_o res_a PORT_A PORT_B < "$W/call2.out"
[ "$res_o $res_a" = "ok ok" ] && ok "SRTP call: NG offer (RTP/SAVP to B) and answer with B's key" ||
	{ bad "SRTP call: NG offer and answer" "$W/call2.err"; scenario_end; }
ip netns exec $NS_A python3 "$NG_DIR/metrics_rtp.py" $ADDR_A:4000 "$MEDIA:$PORT_A" $N2_A 0x3333 1.5 > "$W/rtp2_a.out" &
pa=$!
sleep 0.3 # A's socket bound before B's packets come through
ip netns exec $NS_B "$SRTP_PEER" send $ADDR_B:5000 "$MEDIA:$PORT_B" --key "$KEY_B" --count $N2_B \
	--ssrc 0x4444 --interval-us 5000 > "$W/srtp_b.out" 2>&1
wait $pa
got_a=$(cat "$W/rtp2_a.out")
[ "$got_a" = $N2_B ] && ok "A received B's $N2_B SRTP packets decrypted" || bad "A received $got_a of $N2_B decrypted packets" "$W/srtp_b.out"
wait_prom 'mediagate_packets_total{leg_type="srtp",direction="rx"}' $N2_B &&
	ok "Prometheus: $N2_B packets received on the SRTP leg" || bad "Prometheus: SRTP leg rx packets"
# bytes received: as relayed (decrypted); sent: as sent (with the tag)
wait_prom 'mediagate_bytes_total{leg_type="srtp",direction="rx"}' $((N2_B * PAYLOAD)) 30 &&
	ok "Prometheus: their bytes as relayed ($((N2_B * PAYLOAD)))" || bad "Prometheus: SRTP leg rx bytes"
wait_prom 'mediagate_packets_total{leg_type="srtp",direction="tx"}' $N2_A 30 &&
	ok "Prometheus: A's $N2_A packets sent encrypted to B" || bad "Prometheus: SRTP leg tx packets"
wait_prom 'mediagate_bytes_total{leg_type="srtp",direction="tx"}' $((N2_A * (PAYLOAD + TAG))) 30 &&
	ok "Prometheus: their bytes as sent, tag included ($((N2_A * (PAYLOAD + TAG))))" || bad "Prometheus: SRTP leg tx bytes"
total=$((total + N2_A + N2_B))
wait_prom 'sum(mediagate_packets_total{direction="rx"})' $total 30 &&
	ok "Prometheus: packets received = $total, both calls" || bad "Prometheus: packets received, both calls"
wait_prom 'mediagate_srtp_auth_failures_total' 0 30 && ok "Prometheus: 0 SRTP authentication failures after the SRTP call" ||
	bad "Prometheus: SRTP authentication failures"
ip netns exec $NS_B "$SRTP_PEER" send $ADDR_B:5000 "$MEDIA:$PORT_B" --key "$KEY_B" --count $N2_BAD \
	--seq $N2_B --ssrc 0x4444 --interval-us 5000 --tamper > "$W/srtp_bad.out" 2>&1
wait_prom 'mediagate_srtp_auth_failures_total' $N2_BAD &&
	ok "Prometheus: B's $N2_BAD tampered packets are $N2_BAD authentication failures" || bad "Prometheus: tampered packets"
wait_prom 'mediagate_drops_total{reason="auth",scope="session"}' $N2_BAD 30 &&
	ok "Prometheus: and $N2_BAD drops with reason auth" || bad "Prometheus: auth drops"
ng 1 '{"command":"delete","call-id":"metrics-2","from-tag":"ta"}' > "$W/delete2.json"
wait_prom 'mediagate_dataplane_sessions' 0 && ok "the SRTP call deleted" || bad "dataplane sessions after the SRTP call"

# ---- the live text is valid exposition ----
metrics_get > "$W/metrics.txt"
promtool check metrics < "$W/metrics.txt" > "$W/promtool.out" 2>&1 && [ ! -s "$W/promtool.out" ] &&
	ok "promtool check metrics: the live /metrics is clean" || bad "promtool check metrics on the live /metrics" "$W/promtool.out"

# ---- the dataplane hangs (SIGSTOP): scrapes answered in time, dataplane_up 0;
# SIGCONT: back to 1 (over a reconnection if the PINGs timed out meanwhile) ----
kill -STOP "${RELAY_DP_PID[1]}"
wait_prom 'mediagate_dataplane_up' 0 && ok "dataplane hung: mediagate_dataplane_up 0" || bad "mediagate_dataplane_up with the dataplane hung"
[ "$(prom_q 'up{job="mediagate"}')" = 1 ] && ok "the scrape is answered in time while the dataplane hangs" ||
	bad "scrape with the dataplane hung"
# five scrapes at once share one reading of the dataplane: each answered at
# its deadline (2 s without Prometheus' timeout header), with dataplane_up 0
par=()
for i in 1 2 3 4 5; do
	metrics_get > "$W/par$i.txt" 2>&1 &
	par+=($!)
done
wait "${par[@]}"
n=0
for i in 1 2 3 4 5; do grep -q '^mediagate_dataplane_up 0$' "$W/par$i.txt" && n=$((n + 1)); done
[ $n = 5 ] && ok "5 concurrent scrapes answered with dataplane_up 0" || bad "concurrent scrapes: $n of 5" "$W/par1.txt"
sleep 1.5 # hung > 3 s in all: the control's PINGs time out, the connection is dropped
kill -CONT "${RELAY_DP_PID[1]}"
wait_prom 'mediagate_dataplane_up' 1 && ok "dataplane back: mediagate_dataplane_up 1" || bad "mediagate_dataplane_up after SIGCONT"
wait_prom 'mediagate_dataplane_reconnects_total' 1 30 && ok "Prometheus: 1 dataplane reconnection" ||
	bad "Prometheus: dataplane reconnections"

# ---- the dataplane goes away: /metrics still answers, dataplane_up 0 ----
kill -TERM "${RELAY_DP_PID[1]}"
wait_gone "${RELAY_DP_PID[1]}" 50 || kill -9 "${RELAY_DP_PID[1]}"
wait_prom 'mediagate_dataplane_up' 0 && ok "dataplane stopped: mediagate_dataplane_up 0" || bad "mediagate_dataplane_up after the dataplane stopped"
[ "$(prom_q 'up{job="mediagate"}')" = 1 ] && ok "the scrape still succeeds without the dataplane" || bad "scrape without the dataplane"
[ "$(prom_q 'sum(mediagate_packets_total{direction="rx"})')" = $total ] &&
	ok "Prometheus: packets received still $total without the dataplane" || bad "packets without the dataplane"
# Prometheus' own counters of samples it rejected from a scrape (out of
# order, duplicate timestamps, out of bounds, over the limit), read from its
# /metrics rather than from the wording of its log
rej=$(ip netns exec $NS_GW python3 - "$PROM_PORT" << 'EOF'
import re, sys, urllib.request
t = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1], timeout=5).read().decode()
v = re.findall(r"^prometheus_target_scrapes_(?:sample_out_of_order|sample_duplicate_timestamp|"
               r"sample_out_of_bounds|exceeded_sample_limit)_total\S* (\S+)$", t, re.M)
# all four counters must be there, or this check would prove nothing
print(int(sum(float(x) for x in v)) if len(v) == 4 else "missing (%d of 4 counters)" % len(v))
EOF
)
[ "$rej" = 0 ] && ok "Prometheus rejected no sample of ours (its scrape counters)" ||
	bad "Prometheus rejected samples: '$rej'" "$W/prometheus.log"
scenario_end
