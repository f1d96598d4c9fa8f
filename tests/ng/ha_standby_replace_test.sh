#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Standby node: a session being replaced when `mgctl ha promote` runs
# (docs/standby.md, "What the standby does"). Node 1 active, node 2 standby
# (the ha_standby_test.sh pair, without keepalived and media):
#  1. an SRTP<->SRTP NG session on node 1; node 2 pre-installs it.
#  2. node 2's dataplane is stopped (SIGSTOP) so that the removal of the old
#     session waits; node 1 takes a re-offer that moves the caller's port (the
#     record changes: node 2 replaces its copy, ha.replaced +1); node 1 is
#     killed; `mgctl ha promote` on node 2; its dataplane continued.
#  3. Node 2 holds the session with the new record, forwarding (legs not
#     blocked, the caller's new port), counted as taken over, and Redis holds
#     its key with the new port. Before the fix the new record waited in the
#     watch's read-again list, which the promote dropped, and the old
#     session's removal deleted the key: session and key gone.
#   [BUILD=dir] ha_standby_replace_test.sh
. "$(dirname "$0")/_init.sh"
[ "$RELAY" = mediagate ] || { echo "# ha_standby_replace: mediagate's standby node (RELAY=$RELAY)"; exit 77; }
MGCTL=$BUILD/control/mgctl/mgctl
scenario_begin ha_standby_replace redis-server redis-cli
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
mediagate.dataplane.port.0.sharedAddress=$VIP"
export MG_EXTRA_CONF="$common
mediagate.control.cliSocket=$W/mg1/cli.sock"
relay_start 1 && ok "node 1 (active) up" || { bad "node 1 up" "$W/relay1.log"; scenario_end; }
export MG_EXTRA_CONF="$common
mediagate.redis.role=standby
mediagate.control.cliSocket=$W/mg2/cli.sock"
relay_start 2 && ok "node 2 (standby) up" || { bad "node 2 up" "$W/relay2.log"; scenario_end; }

# offer PORT_A: node 1's offer (call sr-1, caller key fixed); then answer
cat > "$W/ngpy.py" << 'PY'
import base64, sys
sys.path.insert(0, sys.argv[1])
from ng_client import NG
ng, a, b, what, pa = NG(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6])
S80 = "AES_CM_128_HMAC_SHA1_80"
def sdp(addr, port, key, ver):
    return "\r\n".join(["v=0", "o=- 1 %d IN IP4 %s" % (ver, addr), "s=-", "c=IN IP4 %s" % addr, "t=0 0",
                        "m=audio %d RTP/SAVP 0" % port, "a=rtpmap:0 PCMU/8000", "a=sendrecv",
                        "a=crypto:1 %s inline:%s" % (S80, base64.b64encode(key).decode())]) + "\r\n"
ka, kb = bytes(range(30)), bytes(range(30, 60))
if what == "reoffer":
    sys.stdin.readline()  # go (started beforehand: no interpreter start-up in the window)
o = ng.request({"command": "offer", "call-id": "sr-1", "from-tag": "ta", "sdp": sdp(a, pa, ka, pa),
                "transport-protocol": "RTP/SAVP"} | ({"to-tag": "tb"} if what == "reoffer" else {}))
assert o["result"] == "ok", o
r = ng.request({"command": "answer", "call-id": "sr-1", "from-tag": "ta", "to-tag": "tb", "sdp": sdp(b, 7000, kb, pa)})
assert r["result"] == "ok", r
print("ok")
PY
ngpy() { ip netns exec $NS_GW python3 "$W/ngpy.py" "$NG_DIR" "$(relay_ng 1)" $ADDR_A $ADDR_B "$@"; }
# the caller's remote port in node 2's dataplane session (and its legs' blocked flags)
dp2_leg() {
	local id
	id=$(dpctl 2 session list | jq_py '" ".join(str(s["id"]) for s in d["sessions"])')
	[ -n "$id" ] && [ "$id" = "${id%% *}" ] || { echo "sessions: '$id'"; return; }
	dpctl 2 session get "$id" | jq_py '"%s %s %s" % (d["legs"][0]["remote"], d["legs"][0]["blocked"], d["legs"][1]["blocked"])'
}
key_port() { rcli get "mg:$NODE:ng:sr-1" | jq_py '" ".join(l["remote"] for p in d["sides"][0]["parties"] for l in p["legs"])'; }

[ "$(ngpy offer 6000 2> "$W/ng.err")" = ok ] && ok "SRTP<->SRTP session sr-1 on node 1 (caller port 6000)" ||
	{ bad "session on node 1" "$W/ng.err"; scenario_end; }
for ((t = 0; t < 50; t++)); do [ "$(hstat 2 'd["ha"]["standby_sessions"]')" = 1 ] && break; sleep 0.1; done
st="$(hstat 2 'd["ha"]["standby_sessions"]') $(dp2_leg)"
[ "$st" = "1 $ADDR_A:6000 True True" ] && ok "node 2 pre-installed it (caller $ADDR_A:6000, both legs blocked)" ||
	bad "node 2 standby (sessions remote blocked blocked): $st" "$W/relay2.log"

# ---- the record changes while node 2's dataplane is slow; promote meanwhile ----
r0=$(hstat 2 'd["ha"]["replaced"]')
mkfifo "$W/go"
ngpy reoffer 6100 < "$W/go" > "$W/ng2.out" 2> "$W/ng2.err" &
exec 5> "$W/go"
sleep 1
kill -STOP "${RELAY_DP_PID[2]}"
echo go >&5
exec 5>&-
# until node 2 took the changed record (a wait, not the check: that one follows)
for ((t = 0; t < 100; t++)); do
	[ "$(hstat 2 'd["ha"]["replaced"]')" = $((r0 + 1)) ] && break
	sleep 0.02
done
# quickly: a dataplane silent for 3 s is dropped by its control plane
# (no PONG), whose re-install would then not be this case
kill -9 "${RELAY_PID[1]}" "${RELAY_DP_PID[1]}"
"$MGCTL" --json --socket "$W/mg2/cli.sock" --timeout 5000 ha promote > "$W/promote.json" 2>&1 &
pp=$!
sleep 0.2
kill -CONT "${RELAY_DP_PID[2]}"
wait $pp
wait "${RELAY_PID[1]}" "${RELAY_DP_PID[1]}" 2> /dev/null
lost=$(grep -c "lost the dataplane connection" "$W/relay2.log")
[ "$lost" = 0 ] && ok "node 2 kept its dataplane connection meanwhile (else this is a re-install, not the case)" ||
	bad "node 2 lost its dataplane connection while it was stopped (a loaded machine)"
[ "$(cat "$W/ng2.out")" = ok ] && ok "re-offer on node 1 while node 2's dataplane was stopped: the caller moves to port 6100" ||
	bad "re-offer on node 1" "$W/ng2.err"
[ "$(hstat 2 'd["ha"]["replaced"]')" = $((r0 + 1)) ] && ok "node 2 replaced its copy before the promote (ha.replaced +1; the old one's removal waited for its dataplane)" ||
	bad "node 2 ha.replaced: $(hstat 2 'd["ha"]["replaced"]') (was $r0)" "$W/relay2.log"
[ "$(jq_py 'd["result"]' < "$W/promote.json")" = ok ] && ok "mgctl ha promote on node 2 (node 1 killed)" ||
	bad "promote: $(cat "$W/promote.json")"

# ---- the new record is there, forwarding, published ----
for ((t = 0; t < 50; t++)); do [ "$(dp2_leg)" = "$ADDR_A:6100 False False" ] && break; sleep 0.1; done
st="$(dp2_leg)"
[ "$st" = "$ADDR_A:6100 False False" ] && ok "node 2's dataplane: the session with the new record (caller $ADDR_A:6100), forwarding" ||
	bad "node 2's dataplane session (remote blocked blocked): $st" "$W/relay2.log"
st=$(mgctl 2 sessions | jq_py '"%d %s" % (d["count"], [bool(s["standby"]) for s in d["sessions"]])')
[ "$st" = "1 [False]" ] && ok "mgctl sessions on node 2: sr-1, not standby" || bad "sessions on node 2: $st"
st=$(hstat 2 '"%s %s" % (d["ha"]["promoted_sessions"], d["ha"]["promote_failed"])')
[ "$st" = "1 0" ] && ok "counted as taken over (promoted_sessions 1, 0 failed)" || bad "promoted, failed: $st"
for ((t = 0; t < 30; t++)); do [ "$(key_port)" = "$ADDR_A:6100" ] && break; sleep 0.1; done
[ "$(key_port)" = "$ADDR_A:6100" ] && ok "Redis holds sr-1's key with the new record" ||
	bad "key mg:$NODE:ng:sr-1: '$(key_port)'"
ng 2 '{"command":"delete","call-id":"sr-1"}' > /dev/null
sleep 0.3
# (the heartbeat mg:NODE:alive aside: node 2, promoted, lives as that node)
st="$(mgctl 2 sessions | jq_py 'd["count"]') $(dpctl 2 session list | jq_py 'd["count"]') $(rcli --scan --pattern "mg:$NODE:*" | grep -vc ":alive$")"
[ "$st" = "0 0 0" ] && ok "NG delete on node 2: 0 sessions, dataplane empty, no key" || bad "after delete: $st"
scenario_end
