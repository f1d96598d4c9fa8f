#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# CANCEL: SIPp alice calls SIPp bob through Kamailio + the relay; bob rings,
# alice CANCELs after 2 s. While it rings the relay holds the offer; after the
# CANCEL (rtpengine_manage() -> delete) and the 487 it holds no session.
#   [RELAY=rtpengine|mediagate] [BUILD=dir] cancel_test.sh
. "$(dirname "$0")/_init.sh"
scenario_begin cancel sipp
F="replace-origin replace-session-connection ICE=remove"
relay_start 1 && ok "relay 1 ($RELAY) answers ping" || { bad "relay 1 ($RELAY) answers ping" "$W/relay1.log"; scenario_end; }
kam_start "udp:$(relay_ng 1)" "RTP/SAVP DTLS=off $F" "RTP/AVP $F" && ok "Kamailio started" ||
	{ bad "Kamailio started" "$W/kamailio.log"; scenario_end; }
callee_sipp uas_ring.xml -m 1
sipp_call alice uac_cancel.xml 2000 1
wait_ng_count 1 1 50 && ok "while bob rings the relay holds the offer (list: 1 call)" ||
	bad "the relay holds the offer while ringing (list: $(ng_count 1))" "$W/kamailio.log"
rc=$(sipp_wait alice 100)
[ "$rc" = 0 ] && ok "alice's CANCEL got its 200 and the INVITE its 487" || bad "alice's CANCEL/487 (sipp exit '$rc')" "$W/alice.err"
wait_ng_count 1 0 30 && ok "after the CANCEL the relay holds 0 sessions (list)" ||
	bad "0 sessions after the CANCEL (list: $(ng_calls 1 | tr '\n' ' '))" "$W/relay1.log"
scenario_end
