#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# NG conformance against one relay (no Kamailio): tests/ng/conformance.py,
# table-driven, every command and flag, both key spellings, a retransmitted
# cookie executed once, malformed input of every kind, load limit (the relay
# runs with maxCalls 2).
#   [RELAY=mediagate] [BUILD=dir] conformance_test.sh
. "$(dirname "$0")/_init.sh"
scenario_begin conformance
relay_start 1 "$RELAY" 2 && ok "relay 1 ($RELAY) answers ping" || { bad "relay 1 ($RELAY) answers ping" "$W/relay1.log"; scenario_end; }
ip netns exec $NS_GW python3 "$NG_DIR/conformance.py" "$(relay_ng 1)" 2 > "$W/conformance.out" 2>&1
while IFS= read -r line; do
	case "$line" in
	"ok - "*) ok "${line#ok - }" ;;
	"not ok - "*) bad "${line#not ok - }" ;;
	*) echo "$line" ;;
	esac
done < "$W/conformance.out"
grep -q '^ok - ' "$W/conformance.out" || bad "conformance.py ran (no check printed)" "$W/conformance.out"
kill -0 "$(relay_pid 1)" 2> /dev/null && ok "the relay is still running after all of it" || bad "the relay is still running" "$W/relay1.log"
scenario_end
