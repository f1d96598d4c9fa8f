#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# /metrics scraped by a real Prometheus (Debian's prometheus package): relay 1
# (mediagate, /metrics on its default 127.0.0.1:9102 in the gateway's
# namespace) carries one NG call (offer from A, answer from B, plain RTP both
# ways through the dataplane: python peers, metrics_rtp.py); Prometheus, started
# here with its own configuration and storage in the work directory, scrapes
# every second; its query API must return the call's packets and bytes per
# direction, 0 SRTP authentication failures, the NG offer in the latency
# histogram, the totals kept after the call is deleted, and
# mediagate_dataplane_up 0 (with the scrape still answered) once the
# dataplane is gone.
#   [BUILD=dir] metrics_test.sh
. "$(dirname "$0")/_init.sh"
[ "$RELAY" = mediagate ] || { echo "# metrics: mediagate's /metrics (RELAY=$RELAY)"; exit 77; }
command -v prometheus > /dev/null || { echo "# metrics: prometheus is not installed (scripts/setup)"; exit 77; }
scenario_begin metrics prometheus

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

# ---- the call: NG offer (A) and answer (B), then RTP both ways ----
ip netns exec $NS_GW python3 - "$NG_DIR" "$(relay_ng 1)" $ADDR_A $ADDR_B > "$W/call.out" 2> "$W/call.err" << 'EOF'
import re, sys
sys.path.insert(0, sys.argv[1])
from ng_client import NG
ng, a, b = NG(sys.argv[2]), sys.argv[3], sys.argv[4]
def sdp(addr, port):
    return "\r\n".join(["v=0", "o=- 1 1 IN IP4 %s" % addr, "s=-", "c=IN IP4 %s" % addr, "t=0 0",
                        "m=audio %d RTP/AVP 0" % port, "a=rtpmap:0 PCMU/8000", "a=sendrecv"]) + "\r\n"
o = ng.request({"command": "offer", "call-id": "metrics-1", "from-tag": "ta", "sdp": sdp(a, 4000)})
r = ng.request({"command": "answer", "call-id": "metrics-1", "from-tag": "ta", "to-tag": "tb",
                "sdp": sdp(b, 5000)})
port = lambda s: int(re.search(r"m=audio (\d+)", s).group(1))
print(o["result"], r["result"], port(r["sdp"]), port(o["sdp"]))
EOF
read -r res_o res_a PORT_A PORT_B < "$W/call.out"
[ "$res_o $res_a" = "ok ok" ] && ok "NG offer and answer (relay ports: A $PORT_A, B $PORT_B)" ||
	{ bad "NG offer and answer" "$W/call.err"; scenario_end; }
MEDIA=$(relay_media 1)
ip netns exec $NS_A python3 "$NG_DIR/metrics_rtp.py" $ADDR_A:4000 "$MEDIA:$PORT_A" $N_A 0x1111 3 > "$W/rtp_a.out" &
pa=$!
ip netns exec $NS_B python3 "$NG_DIR/metrics_rtp.py" $ADDR_B:5000 "$MEDIA:$PORT_B" $N_B 0x2222 3 > "$W/rtp_b.out" &
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
wait_prom 'mediagate_dataplane_sessions' 0 && ok "the call deleted: no dataplane session" || bad "dataplane sessions after delete"
wait_prom 'mediagate_closed_sessions_total' 1 30 && ok "Prometheus: 1 closed session" || bad "Prometheus: closed sessions"
wait_prom 'mediagate_ports_used' 0 30 && ok "Prometheus: the call's ports freed" || bad "Prometheus: ports after the call"
sleep 1.5 # a scrape or two after the session is gone
[ "$(prom_q 'sum(mediagate_packets_total{direction="rx"})')" = $total ] &&
	ok "Prometheus: packets received still $total after the call ended" ||
	bad "Prometheus: packets received after the call is $(prom_q 'sum(mediagate_packets_total{direction="rx"})')"
[ "$(prom_q 'sum(resets(mediagate_packets_total[1m]))')" = 0 ] && ok "Prometheus: no counter reset seen" ||
	bad "Prometheus: counter resets $(prom_q 'sum(resets(mediagate_packets_total[1m]))')"

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
sleep 3.5 # the control's PINGs time out (3 s): the connection is dropped
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
[ "$(count "$W/prometheus.log" 'level=error')" = 0 ] && ok "Prometheus logged no error" ||
	bad "Prometheus logged errors" "$W/prometheus.log"
scenario_end
