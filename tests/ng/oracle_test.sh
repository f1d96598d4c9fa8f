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
# mediagate offers the configured suites (the two AES_CM_128 ones by
# default), rtpengine every suite it knows: compared on the common set. The
# known differences are docs/ng.md's "Differences from rtpengine"; what
# mediagate does in those cases is checked by conformance_test.sh.
EXTRA=()
if [ "$RELAY" = mediagate ]; then
	EXTRA=(--common-suites AES_CM_128_HMAC_SHA1_80,AES_CM_128_HMAC_SHA1_32
		--expect-diff "sdes-off=rtpengine offers DTLS-SRTP instead; mediagate does no DTLS (no crypto, no fingerprint)"
		--expect-diff "dtls-offer-to-sdes=rtpengine bridges a DTLS-only offer; mediagate refuses it with the reason"
		--expect-diff "sdes-only-suite=rtpengine 10.5 ignores SDES only-SUITE; mediagate offers only that suite")
fi
ip netns exec $NS_GW python3 "$NG_DIR/oracle.py" "$(relay_ng 1)" "$(relay_ng 2)" --names "$RELAY,rtpengine" \
	"${EXTRA[@]}" --json "$W/oracle.json" > "$W/oracle.out" 2>&1
rc=$?
sed 's/^/# /' "$W/oracle.out"
[ $rc = 0 ] && ok "oracle: $RELAY and rtpengine rewrite every case's SDP alike" ||
	bad "oracle: $RELAY and rtpengine differ (exit $rc, $W/oracle.json)"
wait_ng_count 1 0 10 && ok "relay 1 holds no session after the oracle's deletes" || bad "relay 1 holds $(ng_count 1) sessions"
scenario_end
