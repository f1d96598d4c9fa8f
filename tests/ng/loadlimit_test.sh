#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Two relays in one set (weights 255:1: relay 1 first for these fixed
# Call-IDs); relay 1 takes one session at most (rtpengine --max-sessions=1,
# mediagate.calls.maxCalls=1). A first call is held on relay 1; the second
# call's offer is answered `load limit` (Kamailio's module says it supports
# it) and the module sends it to relay 2 without disabling relay 1.
#   [RELAY=rtpengine|mediagate] [RELAY2=rtpengine] [BUILD=dir] loadlimit_test.sh
. "$(dirname "$0")/_init.sh"
scenario_begin loadlimit sipp
F="replace-origin replace-session-connection ICE=remove"
U1="udp:$(relay_ng 1)" U2="udp:$(relay_ng 2)"
relay_start 1 "" --max-sessions=1 && ok "relay 1 ($RELAY, at most 1 session) answers ping" ||
	{ bad "relay 1 ($RELAY) answers ping" "$W/relay1.log"; scenario_end; }
relay_start 2 && ok "relay 2 ($RELAY2) answers ping" || { bad "relay 2 ($RELAY2) answers ping" "$W/relay2.log"; scenario_end; }
kam_start "$U1=255 $U2=1" "RTP/SAVP DTLS=off $F" "RTP/AVP $F" && ok "Kamailio started with the set '$U1=255 $U2=1'" ||
	{ bad "Kamailio started" "$W/kamailio.log"; scenario_end; }
# What relay 1 answers an offer over its limit, asked directly the way the
# module asks (supports: load limit).
SDP='v=0\r\no=- 1 1 IN IP4 192.0.2.99\r\ns=-\r\nc=IN IP4 192.0.2.99\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n'
callee_sipp uas.xml
sipp_call held uac_call.xml 8000 1
wait_ng_count 1 1 30 && ok "the first call is held on relay 1 ($(ng_calls 1 | tr '\n' ' '))" ||
	bad "the first call on relay 1 (relay 1: $(ng_count 1), relay 2: $(ng_count 2))"
r=$(ng 1 "{\"command\":\"offer\",\"call-id\":\"probe-$T\",\"from-tag\":\"p\",\"supports\":[\"load limit\"],\"sdp\":\"$SDP\"}")
[ "$(echo "$r" | jq_py 'd["result"]')" = "load limit" ] && ok "relay 1 answers an offer over its limit: result 'load limit'" ||
	bad "relay 1 answers 'load limit' ($r)"
sipp_call over uac_call.xml 2000 1
wait_ng_count 2 1 50 && ok "the second call went to relay 2 ($(ng_calls 2 | tr '\n' ' '))" ||
	bad "the second call on relay 2 (relay 2: $(ng_count 2))" "$W/kamailio.log"
[ "$(ng_count 1)" = 1 ] && ok "relay 1 still holds only the first call" || bad "relay 1 holds only the first call ($(ng_calls 1 | tr '\n' ' '))"
kam_rpc rtpengine.show all > "$W/show.json"
[ "$(kam_relay_disabled "$U1")" = 0 ] && ok "rtpengine.show: relay 1 not disabled by a load limit" || bad "relay 1 not disabled" "$W/show.json"
[ "$(sipp_wait over 100)" = 0 ] && ok "the second call completed through relay 2" || bad "the second call completed" "$W/over.err"
[ "$(sipp_wait held 150)" = 0 ] && ok "the first call completed through relay 1" || bad "the first call completed" "$W/held.err"
wait_ng_count 1 0 30 && wait_ng_count 2 0 30 && ok "both relays hold 0 sessions after the BYEs" ||
	bad "0 sessions left (relay 1: $(ng_count 1), relay 2: $(ng_count 2))"
scenario_end
