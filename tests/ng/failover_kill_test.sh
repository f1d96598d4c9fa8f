#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Two relays in one set (weights 255:1, so relay 1 takes every call while it
# lives: the module picks by a hash of the Call-ID, and these Call-IDs are
# fixed, none maps to relay 2). A call is held on relay 1; relay 1 is killed
# (SIGKILL, a crash); the next calls time out on relay 1
# (rtpengine_tout_ms x rtpengine_retr), the module disables it and they go to
# relay 2: relay 2's NG list holds them, rtpengine.show says relay 1 disabled.
#   [RELAY=rtpengine|mediagate] [RELAY2=rtpengine] [BUILD=dir] failover_kill_test.sh
. "$(dirname "$0")/_init.sh"
scenario_begin failover_kill sipp
F="replace-origin replace-session-connection ICE=remove"
U1="udp:$(relay_ng 1)" U2="udp:$(relay_ng 2)"
relay_start 1 && ok "relay 1 ($RELAY) answers ping" || { bad "relay 1 ($RELAY) answers ping" "$W/relay1.log"; scenario_end; }
relay_start 2 && ok "relay 2 ($RELAY2) answers ping" || { bad "relay 2 ($RELAY2) answers ping" "$W/relay2.log"; scenario_end; }
kam_start "$U1=255 $U2=1" "RTP/SAVP DTLS=off $F" "RTP/AVP $F" && ok "Kamailio started with the set '$U1=255 $U2=1'" ||
	{ bad "Kamailio started" "$W/kamailio.log"; scenario_end; }
callee_sipp uas.xml
sipp_call a uac_call.xml 1500 1
wait_ng_count 1 1 30 && ok "before the crash the call is on relay 1 (its list: $(ng_calls 1 | tr '\n' ' '))" ||
	bad "the call is on relay 1 (relay 1: $(ng_count 1), relay 2: $(ng_count 2))"
[ "$(sipp_wait a 100)" = 0 ] && ok "that call ended normally" || bad "call a ended normally" "$W/a.err"
wait_ng_count 1 0 30 || bad "relay 1 deleted call a"
relay_kill 1 && ok "relay 1 killed (SIGKILL)" || bad "relay 1 killed"
t0=$(date +%s%N)
sipp_call b uac_call.xml 3000 3
wait_ng_count 2 3 100 && ok "the 3 new calls went to relay 2 (its list: $(ng_calls 2 | tr '\n' ' '))" ||
	bad "the new calls went to relay 2 (relay 2 holds $(ng_count 2))" "$W/kamailio.log"
echo "# first new call set up through relay 2 after $((($(date +%s%N) - t0) / 1000000)) ms"
kam_rpc rtpengine.show all > "$W/show.json"
[ "$(kam_relay_disabled "$U1")" = 1 ] && ok "rtpengine.show: the module disabled relay 1" || bad "relay 1 disabled" "$W/show.json"
[ "$(kam_relay_disabled "$U2")" = 0 ] && ok "rtpengine.show: relay 2 enabled" || bad "relay 2 enabled" "$W/show.json"
[ "$(sipp_wait b 150)" = 0 ] && ok "the 3 calls completed (INVITE/200/ACK/BYE) through relay 2" || bad "the 3 calls completed" "$W/b.err"
wait_ng_count 2 0 30 && ok "BYE: relay 2 holds 0 sessions" || bad "relay 2 holds 0 sessions (list: $(ng_calls 2 | tr '\n' ' '))"
scenario_end
