#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Dataplane restart drops no call (issue 11 item 2, docs/reliability.md):
# relay 1 (mediagate) carries NG_CALLS SRTP<->SRTP calls (each leg its own
# SDES keys: the relay decrypts and re-encrypts), one stream per call from a
# libsrtp2 peer (dp_srtp_peer) to another, half of them A->B, half B->A,
# three in four started below a sequence-number rollover so that the wrap
# falls before the last index read, between it and the kill, or during the
# outage (a re-install that did not carry the index fails on the first two).
# Then:
#  1. kill -9 of mediagate-dataplane mid-stream, started again at once: the
#     control plane re-installs every session (same ports, keys, SRTP
#     indexes); every receiver gets its stream to the last packet with 0
#     libsrtp authentication or replay failures, no call is ended (NG list),
#     the new dataplane holds every session on the ports the SDPs named.
#     The media gap after the new dataplane's HELLO is printed (measured,
#     not asserted).
#  2. kill -9 of mediagate-control: the dataplane keeps forwarding (a new
#     stream goes through), then after mediagate.dataplane.orphanTimeout it
#     removes every session and port, counted (dpctl stats JSON).
#   [BUILD=dir] [NG_CALLS=10] dp_restart_test.sh
. "$(dirname "$0")/_init.sh"
[ "$RELAY" = mediagate ] || { echo "# dp_restart: mediagate's dataplane restart (RELAY=$RELAY)"; exit 77; }
PEER=$BUILD/tests/smoke/dp_srtp_peer
[ -x "$PEER" ] || { echo "# dp_restart: $PEER was not built"; exit 1; }
scenario_begin dp_restart
N=${NG_CALLS:-10}
ORPHAN=6
RATE_US=20000  # 50 packets/s per stream
COUNT=750      # 15 s of stream
KILL_AFTER=7.5 # s after the streams start: an index read (every 5 s) is in

export MG_EXTRA_CONF="mediagate.dataplane.restartWait=20
mediagate.dataplane.orphanTimeout=$ORPHAN"
relay_start 1 && ok "relay 1 (mediagate) answers ping" || { bad "relay 1 answers ping" "$W/relay1.log"; scenario_end; }
D=$W/mg1
dpctl() { ip netns exec $NS_GW "$DPCTL" --socket "$D/dp.sock" "$@"; }
MEDIA=$(relay_media 1)

# ---- the calls: NG offer (A, SRTP) and answer (B, SRTP) ----
# one line per call: CALL PORT_A PORT_B KEY_A KEY_B KEY_RELAY_TO_A KEY_RELAY_TO_B (hex) MEDIA
ip netns exec $NS_GW python3 "$NG_DIR/srtp_calls.py" "$(relay_ng 1)" $ADDR_A $ADDR_B restart 0 "$N" 4000 5000 \
	> "$W/calls.txt" 2> "$W/calls.err"
[ "$(wc -l < "$W/calls.txt")" = "$N" ] && ok "$N SRTP<->SRTP NG calls set up (SDES keys per leg)" ||
	{ bad "NG calls set up" "$W/calls.err"; scenario_end; }

# ---- the streams: call i even A->B, odd B->A; every third just below a wrap ----
SENDERS=()
i=0
while read -r cid pa pb ka kb kra krb _; do
	# the sequence number wraps (ROC 0 -> 1): 0 at 2 s (before the index
	# read at about 5.5 s: the read says ROC 1), 1 at 7 s (between the read
	# and the kill: the new dataplane's estimate must catch it), 2 at about
	# 7.7 s (during the outage); 3 does not wrap
	case $((i % 4)) in
	0) seq=$((65536 - 100)) ;;
	1) seq=$((65536 - 350)) ;;
	2) seq=$((65536 - 385)) ;;
	*) seq=$((1000 * i + 100)) ;;
	esac
	if [ $((i % 2)) = 0 ]; then
		src_ns=$NS_A src=$ADDR_A:$((4000 + 2 * i)) to=$MEDIA:$pa key=$ka
		dst_ns=$NS_B dst=$ADDR_B:$((5000 + 2 * i)) dkey=$krb
	else
		src_ns=$NS_B src=$ADDR_B:$((5000 + 2 * i)) to=$MEDIA:$pb key=$kb
		dst_ns=$NS_A dst=$ADDR_A:$((4000 + 2 * i)) dkey=$kra
	fi
	ip netns exec $dst_ns "$PEER" recv $dst --key "$dkey" --suite 80 --ssrc $((0x1000 + i)) \
		--count 0 --timeout-ms 6000 > "$W/recv$i.json" 2>&1 &
	PIDS+=($!)
	ip netns exec $src_ns "$PEER" send $src $to --key "$key" --suite 80 --ssrc $((0x1000 + i)) \
		--count $COUNT --seq $seq --interval-us $RATE_US > "$W/send$i.json" 2>&1 &
	SENDERS+=($!)
	PIDS+=($!)
	echo "$i $seq" >> "$W/seq.txt"
	i=$((i + 1))
done < "$W/calls.txt"
sleep $KILL_AFTER

# ---- 1. kill -9 of the dataplane, started again at once ----
hellos=$(grep -c "connected to dataplane" "$W/relay1.log")
kill -9 "${RELAY_DP_PID[1]}" 2> /dev/null
wait "${RELAY_DP_PID[1]}" 2> /dev/null
KILL_MS=$(date +%s%3N)
ok "mediagate-dataplane killed (kill -9) mid-stream"
ip netns exec $NS_GW "$BUILD/dataplane/mediagate-dataplane" --config "$D/gw.properties" > "$D/dataplane2.log" 2>&1 &
RELAY_DP_PID[1]=$!
PIDS+=($!)
wait_log "$W/relay1.log" "connected to dataplane" $((hellos + 1)) 200 &&
	ok "mediagate-control connected to the new dataplane" ||
	bad "control did not connect to the new dataplane" "$W/relay1.log"
# the new HELLO's time, from the control's log (ISO 8601, UTC)
HELLO_MS=$(grep "connected to dataplane" "$W/relay1.log" | tail -1 | python3 -c '
import datetime, sys
t = sys.stdin.read().split()[0].rstrip("Z")
print(int(datetime.datetime.fromisoformat(t).replace(tzinfo=datetime.timezone.utc).timestamp() * 1000))' 2> /dev/null)
wait "${SENDERS[@]}" 2> /dev/null
sleep 6.5 # the receivers stop 6 s after their last packet

python3 - "$W" "$N" "$COUNT" "$KILL_MS" "${HELLO_MS:-0}" > "$W/verdict.txt" 2> "$W/verdict.err" << 'PY'
import json, sys
w, n, count, kill_ms, hello_ms = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
seq0 = dict(tuple(map(int, l.split())) for l in open(w + "/seq.txt"))
auth = replay = bad = short = 0
gaps, after = [], []
for i in range(n):
    try:
        r = json.load(open("%s/recv%d.json" % (w, i)))
    except ValueError:
        short += 1
        continue
    auth += r["auth_fail"]
    replay += r["replay_fail"]
    bad += r["bad"] + r["ssrc_bad"]
    last = (seq0[i] + count - 1) & 0xffff
    if r["last_seq"] != last:
        short += 1
        print("# stream %d: last seq %d, sent up to %d: %s" % (i, r["last_seq"], last, r), file=sys.stderr)
    gaps.append(r["max_gap_ms"])
    if hello_ms and r["resume_ms"]:
        after.append(r["resume_ms"] - hello_ms)
print(auth, replay, bad, short, max(gaps or [-1]), min(gaps or [-1]), max(after or [-1]),
      min(after or [-1]), (hello_ms - kill_ms) if hello_ms else -1)
PY
read -r AUTH REPLAY BAD SHORT GAP_MAX GAP_MIN AFTER_MAX AFTER_MIN KILL_TO_HELLO < "$W/verdict.txt"
[ "$AUTH" = 0 ] && ok "libsrtp2 receivers: 0 authentication failures" || bad "libsrtp2 receivers: $AUTH authentication failures"
[ "$REPLAY" = 0 ] && ok "libsrtp2 receivers: 0 replay failures" || bad "libsrtp2 receivers: $REPLAY replay failures"
[ "$BAD" = 0 ] && ok "every packet received intact (payload, timestamp, SSRC)" || bad "$BAD damaged packets"
[ "$SHORT" = 0 ] && ok "every stream got through to its last packet after the restart (some across a rollover)" ||
	bad "$SHORT stream(s) did not get through to the end" "$W/verdict.err"
echo "# media gap: kill -9 -> new HELLO ${KILL_TO_HELLO} ms; largest gap per stream ${GAP_MIN}..${GAP_MAX} ms;" \
	"first packet after the new HELLO ${AFTER_MIN}..${AFTER_MAX} ms"
# (NG list answers 32 calls unless given a limit, as rtpengine's)
n_list=$(ng 1 '{"command":"list","limit":1000}' | jq_py 'len(d["calls"])')
[ "$n_list" = "$N" ] && ok "no call ended: relay 1 still lists $N calls" || bad "relay 1 lists $n_list calls"
dpctl session list > "$W/list.json" 2>&1
python3 - "$W/list.json" "$W/calls.txt" << 'PY' && ok "the new dataplane holds the $N sessions on the ports the SDPs named" ||
import json, sys
d = json.load(open(sys.argv[1]))
want = {tuple(sorted((int(l.split()[1]), int(l.split()[2])))) for l in open(sys.argv[2])}
got = {tuple(sorted(s["local_ports"])) for s in d["sessions"]}
sys.exit(0 if want == got and len(d["sessions"]) == len(want) else 1)
PY
	bad "sessions in the new dataplane" "$W/list.json"
[ "$(grep -c "re-install after the dataplane restart failed\|restartWait over" "$W/relay1.log")" = 0 ] &&
	ok "no re-install failed" || bad "a re-install failed" "$W/relay1.log"

# ---- 2. kill -9 of the control plane: the dataplane goes on, then removes (counted) ----
kill -9 "${RELAY_PID[1]}" 2> /dev/null
wait "${RELAY_PID[1]}" 2> /dev/null
CTL_KILL=$(date +%s%3N)
ok "mediagate-control killed (kill -9)"
# call 1 A->B (its stream went B->A: this direction is new, ROC 0 on both
# sides, as for the new libsrtp2 sender)
read -r cid pa pb ka kb kra krb _ < <(sed -n 2p "$W/calls.txt")
ip netns exec $NS_B "$PEER" recv $ADDR_B:5002 --key "$krb" --suite 80 --ssrc 0x2001 --count 0 --timeout-ms 1500 \
	> "$W/orphan-recv.json" 2>&1 &
rp=$!
sleep 0.2
ip netns exec $NS_A "$PEER" send $ADDR_A:4002 $MEDIA:$pa --key "$ka" --suite 80 --ssrc 0x2001 --count 50 \
	--seq 100 --interval-us $RATE_US > /dev/null 2>&1
wait $rp
for s in $(jq_py '" ".join(str(x["id"]) for x in d["sessions"])' < "$W/list.json"); do dpctl session stats $s; done > "$W/orphan-stats.json" 2>&1
got=$(jq_py 'd["ok"]' < "$W/orphan-recv.json")
fails=$(jq_py 'd["unprotect_fail"]' < "$W/orphan-recv.json")
[ "$got" = 50 ] && [ "$fails" = 0 ] && ok "without a control plane the dataplane still forwards (50 of 50 SRTP packets)" ||
	bad "forwarding without a control plane: $got of 50, $fails unprotect failures" "$W/orphan-recv.json"
dpctl stats > "$W/stats1.json" 2>&1
st=$(jq_py '"%s %s %s" % (d["control_connected"], d["sessions"], d["orphans_removed"])' < "$W/stats1.json")
[ "$st" = "False $N 0" ] && ok "dpctl stats: no control plane, $N sessions kept, 0 removed" ||
	bad "dpctl stats before orphanTimeout: $st" "$W/stats1.json"
removed=
for ((t = 0; t < 150; t++)); do
	dpctl stats > "$W/stats2.json" 2>&1
	[ "$(jq_py 'd["orphan_sweeps"]' < "$W/stats2.json")" = 1 ] && { removed=$(date +%s%3N); break; }
	sleep 0.1
done
[ -n "$removed" ] && ok "orphanTimeout $ORPHAN s: the sessions were removed $(((removed - CTL_KILL) / 100))/10 s after the kill" ||
	bad "no orphan sweep within 15 s" "$W/stats2.json"
st=$(jq_py '"%s %s %s %s" % (d["orphans_removed"], d["orphan_ports_removed"], d["sessions"], d["media_ports_used"])' < "$W/stats2.json")
[ "$st" = "$N $((2 * N)) 0 0" ] && ok "dpctl stats: $N sessions and $((2 * N)) ports removed (counted), none left" ||
	bad "dpctl stats after orphanTimeout: $st" "$W/stats2.json"
scenario_end
