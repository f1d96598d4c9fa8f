#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Scale-out of the media (docs/scale-out-kamailio.md, part A): two mediagate
# media nodes in one rtpengine relay set with weights 3:1.
#  1. N short calls (SIPp through Kamailio, SDP only): each node's NG
#     `statistics` (totalstatistics.managedsessions, read before and after)
#     says how many sessions it created; the split must be within a binomial
#     bound of 3:1 (the module picks a node from a hash of the Call-ID, so
#     the count on node 1 is taken as Binomial(N, 3/4): mean +- 4.5 sd, a
#     false alarm about 1 run in 100000 if the hash is uniform).
#  2. node 1 is killed (SIGKILL to mediagate-control and mediagate-dataplane,
#     a crashed machine); M more calls: every one completes, node 2's
#     managedsessions grows by M, rtpengine.show (Kamailio JSON-RPC) says node 1
#     is disabled. The per-call setup times (SIPp's rtt file) of both batches
#     are printed as "# SETUP" lines for the document; nothing is asserted on
#     them.
# failover_kill_test.sh covers the one-call version (weights 255:1, control
# only killed); this one covers the weighted spread and a whole node dying.
# RS_SILENT=1 also drops node 1's NG port (iptables in the namespace), as a
# machine that is gone would be silent: without it the kernel answers the
# module's next NG request with ICMP port-unreachable and the module gives up
# on node 1 at once; with it the module waits rtpengine_tout_ms x
# rtpengine_retr (one wait of 1 s here), and Kamailio's SIP workers wait with
# it. For the measurements in the document.
#   [BUILD=dir] [N=160] [M=40] [RS_SILENT=1] relayset_weights_test.sh
. "$(dirname "$0")/_init.sh"
scenario_begin relayset_weights sipp
cd "$W" || exit 1
N=${N:-160} M=${M:-40}
# The module's wait for one NG reply. The suite's 300 ms is short on a loaded
# 2-core CI machine: an offer the live node answers late is taken as a dead
# node too (503 to the caller, and the session that node created is left to
# its timeout). A killed node is noticed at once anyway (ICMP, see RS_SILENT).
export NG_TOUT_MS=${NG_TOUT_MS:-1000}
F="replace-origin replace-session-connection ICE=remove"
U1="udp:$(relay_ng 1)" U2="udp:$(relay_ng 2)"
relay_start 1 mediagate && ok "node 1 (mediagate) answers ping" || { bad "node 1 answers ping" "$W/relay1.log"; scenario_end; }
relay_start 2 mediagate && ok "node 2 (mediagate) answers ping" || { bad "node 2 answers ping" "$W/relay2.log"; scenario_end; }
kam_start "$U1=3 $U2=1" "RTP/AVP $F" "RTP/AVP $F" && ok "Kamailio started with the set '$U1=3 $U2=1'" ||
	{ bad "Kamailio started" "$W/kamailio.log"; scenario_end; }

# managed N: node N's sessions created so far (NG statistics), -1 if no answer
managed() {
	local r
	r=$(ng "$1" '{"command":"statistics"}') || { echo -1; return; }
	echo "$r" | jq_py 'd["statistics"]["totalstatistics"]["managedsessions"]'
}
# setup_times NAME: "count median max" of the INVITE->200 times (ms) of SIPp's rtt file
setup_times() {
	python3 - "$W/$1" << 'EOF'
import glob, statistics, sys
v = []
for f in glob.glob(sys.argv[1] + "/*_rtt.csv"):
    for l in open(f):
        p = l.strip().split(";")
        if len(p) >= 2 and p[1].replace(".", "", 1).isdigit():
            v.append(float(p[1]))
print("%d %.1f %.1f" % (len(v), statistics.median(v), max(v)) if v else "0 - -")
EOF
}
# batch NAME CALLS: CALLS calls of 200 ms, 40/s, SIPp's rtt file in $W/NAME/;
# the Call-IDs carry SIPp's pid, so each run draws other hashes.
batch() {
	mkdir -p "$W/$1"
	cd "$W/$1" || return 1
	sipp_call "$1" uac_call.xml 200 "$2" -r 40 -l 40 -trace_rtt -rtt_freq 1 -cid_str "ng-$1-%u-%p@%s"
	cd "$W" || return 1
}

callee_sipp uas.xml
b1=$(managed 1) b2=$(managed 2)
batch w "$N"
[ "$(sipp_wait w 600)" = 0 ] && ok "$N calls completed (INVITE/200/ACK/BYE)" || bad "$N calls completed" "$W/w.err"
wait_ng_count 1 0 30 && wait_ng_count 2 0 30 && ok "BYE: both nodes hold 0 sessions" ||
	bad "both nodes hold 0 sessions (node 1: $(ng_count 1), node 2: $(ng_count 2))"
a1=$(managed 1) a2=$(managed 2)
n1=$((a1 - b1)) n2=$((a2 - b2))
echo "# SPLIT node1=$n1 node2=$n2 of $N (weights 3:1)"
[ $((n1 + n2)) -eq "$N" ] && ok "the nodes created $N sessions between them ($n1 + $n2)" ||
	bad "the nodes created $N sessions (node 1: $n1, node 2: $n2)"
read -r lo hi < <(python3 -c 'import math,sys
n=int(sys.argv[1]); p=0.75; sd=math.sqrt(n*p*(1-p))
print(math.ceil(n*p-4.5*sd), math.floor(n*p+4.5*sd))' "$N")
[ "$n1" -ge "$lo" ] && [ "$n1" -le "$hi" ] && ok "node 1 (weight 3) took $n1 of $N, within [$lo, $hi]" ||
	bad "node 1 (weight 3) took $n1 of $N, not within [$lo, $hi] (Binomial(N, 3/4) +- 4.5 sd)"
[ "$n2" -gt 0 ] && ok "node 2 (weight 1) took $n2 (> 0)" || bad "node 2 (weight 1) took $n2"
echo "# SETUP before-kill $(setup_times w)"

# ---- node 1 dies: both processes, SIGKILL ------------------------------------
if [ "${RS_SILENT:-0}" = 1 ]; then
	ip netns exec $NS_GW iptables -I INPUT -p udp -d 127.0.0.1 --dport "${U1##*:}" -j DROP &&
		ok "node 1's NG port silenced (iptables DROP)" || bad "iptables DROP on node 1's NG port"
fi
relay_kill 1
kill -9 "${RELAY_DP_PID[1]}" 2> /dev/null
wait "${RELAY_DP_PID[1]}" 2> /dev/null
! kill -0 "${RELAY_PID[1]}" 2> /dev/null && ! kill -0 "${RELAY_DP_PID[1]}" 2> /dev/null &&
	ok "node 1 killed (mediagate-control and mediagate-dataplane, SIGKILL)" || bad "node 1 killed"
[ "$(kam_relay_disabled "$U1")" = 0 ] && ok "rtpengine.show: node 1 still enabled (the module has not used it yet)" ||
	bad "node 1 enabled before any call" "$W/kamailio.log"
b2=$(managed 2)
batch k "$M"
[ "$(sipp_wait k 600)" = 0 ] && ok "the $M calls after the kill all completed" || bad "the $M calls after the kill completed" "$W/k.err"
kam_rpc rtpengine.show all > "$W/show.json"
[ "$(kam_relay_disabled "$U1")" = 1 ] && ok "rtpengine.show: the module disabled node 1" || bad "node 1 disabled" "$W/show.json"
[ "$(kam_relay_disabled "$U2")" = 0 ] && ok "rtpengine.show: node 2 enabled" || bad "node 2 enabled" "$W/show.json"
a2=$(managed 2)
[ $((a2 - b2)) -eq "$M" ] && ok "node 2 created all $M sessions after the kill" || bad "node 2 created $((a2 - b2)) of $M sessions"
wait_ng_count 2 0 30 && ok "BYE: node 2 holds 0 sessions" || bad "node 2 holds 0 sessions (list: $(ng_calls 2 | tr '\n' ' '))"
echo "# SETUP after-kill $(setup_times k) (count median max ms; tout ${NG_TOUT_MS:-300} ms, retr ${NG_RETR:-1}: the calls queued behind the one that met node 1)"
scenario_end
