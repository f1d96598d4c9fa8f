#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The SIPp callers of tests/ng (and tests/scale) take provisional responses
# in any order: Kamailio with two UDP workers can relay a callee's 180 after
# its 200, and a 183 may come before or instead of the 180. Each caller
# scenario is run straight against a callee that does that (no proxy, no
# relay: the scenarios themselves are under test):
#   uac_call.xml   vs uas_late.xml      183, 200, ACK, then a late 180 and 183
#   uac_fail.xml   vs uas_late_486.xml  183, 486, ACK, then a late 180
#   uac_cancel.xml vs uas_late_ring.xml 183, 180, 183 while ringing, CANCEL, 487
# Each must count every call successful (SIPp's statistics file), none
# failed or aborted on an unexpected message. The previous scenarios
# failed every call of the first two and of the third.
#   [BUILD=dir] sipp_order_test.sh
. "$(dirname "$0")/_init.sh"
scenario_begin sipp_order sipp
N=3
# order UAC UAS HOLD_MS PORT: N calls of UAC from ng-T-a to UAS on ng-T-b
order() {
	local uac=$1 uas=$2 hold=$3 port=$4 name=${1%.xml}
	sipp_in $NS_B "$W/$name-uas.out" -sf "$NG_DIR/sipp/$uas" -i $ADDR_B -p $port \
		-trace_err -error_file "$W/$name-uas.err"
	local uas_pid=$SIPP_PID
	ip netns exec $NS_A timeout 60 sipp $ADDR_B:$port -sf "$NG_DIR/sipp/$uac" -i $ADDR_A -p $port -s bob \
		-d "$hold" -m $N -l $N -r 10 -timeout 30 -nostdin -cid_str "order-$name-%u@%s" \
		-trace_err -error_file "$W/$name.err" -trace_stat -stf "$W/$name.csv" > "$W/$name.out" 2>&1
	local rc=$?
	kill "$uas_pid" 2> /dev/null
	# the last line of SIPp's statistics: SuccessfulCall(C), FailedCall(C)
	local st
	st=$(python3 - "$W/$name.csv" << 'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1]), delimiter=";"))
h, last = rows[0], rows[-1]
print(last[h.index("SuccessfulCall(C)")], last[h.index("FailedCall(C)")])
PY
)
	if [ "$rc" = 0 ] && [ "$st" = "$N 0" ]; then
		ok "$uac against $uas: $N of $N calls successful, 0 failed"
	else
		bad "$uac against $uas: exit $rc, successful/failed '$st' (want '$N 0')" "$W/$name.err"
	fi
}
order uac_call.xml uas_late.xml 200 5071
order uac_fail.xml uas_late_486.xml 0 5072
order uac_cancel.xml uas_late_ring.xml 300 5073
scenario_end
