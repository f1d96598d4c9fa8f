#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The rtpengine module's health check: Kamailio's set is relay 1 (running)
# and relay 3 (nothing listening yet). Read over Kamailio's JSON-RPC
# (rtpengine.show all): relay 1 answered the module's ping and is enabled,
# relay 3 is disabled. Relay 3 is then started; once rtpengine_disable_tout
# (NG_DISABLE_S, 3 s) has passed, the next call makes the module ping it
# again and it is enabled. rtpengine.ping URL succeeds for both.
#   [RELAY=rtpengine|mediagate] [RELAY2=rtpengine] [BUILD=dir] ping_test.sh
. "$(dirname "$0")/_init.sh"
scenario_begin ping sipp
F="replace-origin replace-session-connection ICE=remove"
U1="udp:$(relay_ng 1)" U3="udp:$(relay_ng 3)"
relay_start 1 && ok "relay 1 ($RELAY) answers ping" || { bad "relay 1 ($RELAY) answers ping" "$W/relay1.log"; scenario_end; }
pings0=$(ng 1 '{"command":"statistics"}' | jq_py 'd["statistics"]["controlstatistics"]["proxies"][0]["pingcount"]')
kam_start "$U1=1 $U3=1" "$F" "$F" && ok "Kamailio started with the set '$U1 $U3'" ||
	{ bad "Kamailio started" "$W/kamailio.log"; scenario_end; }
kam_rpc rtpengine.show all > "$W/show0.json"
[ "$(kam_relay_disabled "$U1")" = 0 ] && ok "rtpengine.show: relay 1 enabled (it answered the module's ping)" ||
	bad "relay 1 enabled in rtpengine.show" "$W/show0.json"
[ "$(kam_relay_disabled "$U3")" = 1 ] && ok "rtpengine.show: relay 3 (no answer) disabled" ||
	bad "relay 3 disabled in rtpengine.show" "$W/show0.json"
pings1=$(ng 1 '{"command":"statistics"}' | jq_py 'd["statistics"]["controlstatistics"]["proxies"][0]["pingcount"]')
if [ -n "$pings0" ] && [ "$pings0" != None ]; then
	# relay_start's own ping is in pings0; Kamailio's are what came after.
	[ "$pings1" -gt "$pings0" ] && ok "relay 1 counted Kamailio's ping (statistics: pings $pings0 -> $pings1)" ||
		bad "relay 1 counted Kamailio's ping ($pings0 -> $pings1)"
fi
relay_start 3 && ok "relay 3 (${RELAY_KIND[3]}) started" || bad "relay 3 started" "$W/relay3.log"
# A disabled relay is pinged again by the next request after
# rtpengine_disable_tout. The first such ping can fail on the module's side:
# its connected UDP socket still holds the ICMP port-unreachable from when
# nothing listened (send() returns ECONNREFUSED once), so the relay stays
# disabled one more period. Up to 3 periods, one call each.
callee_sipp uas.xml
en="" r=0
for r in 1 2 3; do
	sleep $((${NG_DISABLE_S:-3} + 1))
	sipp_call c$r uac_call.xml 0 1
	[ "$(sipp_wait c$r 100)" = 0 ] || bad "call $r after rtpengine_disable_tout" "$W/c$r.err"
	kam_rpc rtpengine.show all > "$W/show1.json"
	en=$(kam_relay_disabled "$U3")
	[ "$en" = 0 ] && break
done
[ "$en" = 0 ] && ok "rtpengine.show: relay 3 re-enabled by the module's ping ($r disable period(s), one call each)" ||
	bad "relay 3 re-enabled after 3 disable periods" "$W/show1.json"
for u in $U1 $U3; do
	kam_rpc rtpengine.ping "$u" > "$W/ping.json"
	[ "$(jq_py 'd["status"]' < "$W/ping.json")" = success ] && ok "rtpengine.ping $u: success" ||
		bad "rtpengine.ping $u: success" "$W/ping.json"
done
scenario_end
