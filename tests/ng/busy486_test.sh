#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# 486 Busy Here: SIPp bob refuses the call; Kamailio's failure route
# (rtpengine_manage() -> delete) leaves no session in the relay, though the
# offer had made one.
#   [RELAY=rtpengine|mediagate] [BUILD=dir] busy486_test.sh
. "$(dirname "$0")/_init.sh"
scenario_begin busy486 sipp
F="replace-origin replace-session-connection ICE=remove"
relay_start 1 && ok "relay 1 ($RELAY) answers ping" || { bad "relay 1 ($RELAY) answers ping" "$W/relay1.log"; scenario_end; }
kam_start "udp:$(relay_ng 1)" "RTP/SAVP DTLS=off $F" "RTP/AVP $F" && ok "Kamailio started" ||
	{ bad "Kamailio started" "$W/kamailio.log"; scenario_end; }
offers0=$(ng 1 '{"command":"statistics"}' | jq_py 'd["statistics"]["controlstatistics"]["proxies"][0]["offercount"]')
callee_sipp uas_486.xml -m 1
sipp_call alice uac_fail.xml 0 1
rc=$(sipp_wait alice 100)
[ "$rc" = 0 ] && ok "alice got 486 Busy Here (and ACKed it)" || bad "alice got 486 (sipp exit '$rc')" "$W/alice.err"
offers1=$(ng 1 '{"command":"statistics"}' | jq_py 'd["statistics"]["controlstatistics"]["proxies"][0]["offercount"]')
if [ "$offers0" != None ] && [ -n "$offers0" ]; then
	[ "$offers1" -gt "$offers0" ] && ok "the relay took the offer (statistics: offers $offers0 -> $offers1)" ||
		bad "the relay took the offer (statistics: offers $offers0 -> $offers1)"
fi
wait_ng_count 1 0 30 && ok "after the 486 the relay holds 0 sessions (list)" ||
	bad "0 sessions after the 486 (list: $(ng_calls 1 | tr '\n' ' '))" "$W/relay1.log"
scenario_end
