#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The NG oracle (oracle.py): the same offers/answers to relay 1 ($RELAY) and
# relay 2 (rtpengine, the reference), the rewritten SDPs compared by
# structure; passes when they agree in every case. RELAY=rtpengine checks the
# oracle itself (rtpengine must agree with rtpengine).
#   [RELAY=rtpengine|mediagate] [BUILD=dir] oracle_test.sh
. "$(dirname "$0")/_init.sh"
RELAY2=rtpengine
scenario_begin oracle
relay_start 1 && ok "relay 1 ($RELAY) answers ping" || { bad "relay 1 ($RELAY) answers ping" "$W/relay1.log"; scenario_end; }
relay_start 2 && ok "relay 2 (rtpengine) answers ping" || { bad "relay 2 (rtpengine) answers ping" "$W/relay2.log"; scenario_end; }
ip netns exec $NS_GW python3 "$NG_DIR/oracle.py" "$(relay_ng 1)" "$(relay_ng 2)" --names "$RELAY,rtpengine" \
	--json "$W/oracle.json" > "$W/oracle.out" 2>&1
rc=$?
sed 's/^/# /' "$W/oracle.out"
[ $rc = 0 ] && ok "oracle: $RELAY and rtpengine rewrite every case's SDP alike" ||
	bad "oracle: $RELAY and rtpengine differ (exit $rc, $W/oracle.json)"
wait_ng_count 1 0 10 && ok "relay 1 holds no session after the oracle's deletes" || bad "relay 1 holds $(ng_count 1) sessions"
scenario_end
