#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The privileges the systemd units give the daemons are enough, and the
# dataplane's are needed (docs/operations.md, "systemd units"). No systemd
# here: the capability bounding sets are read from the units generated for
# this build and applied with setpriv, in a network namespace of our own:
#  - the dataplane, root with the unit's bounding set, starts on a
#    net_af_packet port, answers dpctl ping and an ICMP echo from the peer
#  - the control plane, as nobody (the unit's user needs the package) with
#    the unit's bounding set (empty) and no new privileges, binds SIP on 5060
#    udp+tcp and is accepted on the dataplane's socket
#  - without CAP_NET_RAW, then without CAP_NET_ADMIN, the dataplane fails
#    (the reasons the unit's comments give)
#
#   units_privileges.sh BUILD-DIR
set -uo pipefail

B=$1
DP_BIN=$B/dataplane/mediagate-dataplane
CTL_BIN=$B/control/mediagate-control
DPCTL=$B/dataplane/dpctl/mediagate-dpctl
TAG=upriv-$(printf %x $$)
NS=$TAG
T=$(mktemp -d /tmp/upriv.XXXXXX)
chmod 755 "$T" # the control plane connects as nobody
DP_PID= CTL_PID=
failures=0

cleanup() {
	for p in $DP_PID $CTL_PID; do
		kill -9 "$p" 2>/dev/null
	done
	wait 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	rm -rf "$T" "/var/run/dpdk/$TAG"
}
trap cleanup EXIT INT TERM

ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; failures=$((failures + 1)); }
check() { # check "description" command...
	local what=$1; shift
	if "$@"; then ok "$what"; else not_ok "$what"; fi
}
wait_for() { # wait_for SECONDS command...: poll every 0.1 s
	local n=$(($1 * 10)); shift
	while [ $n -gt 0 ]; do
		"$@" && return 0
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}

# "CAP_NET_RAW CAP_NET_ADMIN" from a unit -> setpriv's "-all,+net_raw,+net_admin"
bounding_set() { # UNIT [CAP_TO_DROP]
	local caps set=-all c
	caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$1" | tail -n 1)
	for c in $caps; do
		[ "$c" = "${2:-}" ] && continue
		c=${c#CAP_}
		set+=",+${c,,}"
	done
	echo "$set"
}

DP_UNIT=$B/systemd/mediagate-dataplane.service
CTL_UNIT=$B/systemd/mediagate-control.service
check "the dataplane unit bounds its capabilities" grep -q '^CapabilityBoundingSet=CAP_' "$DP_UNIT"
check "the control unit runs as mediagate with no capability" \
	bash -c "grep -qx 'User=mediagate' '$CTL_UNIT' && grep -qx 'CapabilityBoundingSet=' '$CTL_UNIT'"
check "both units set NoNewPrivileges" \
	bash -c "grep -qx 'NoNewPrivileges=yes' '$DP_UNIT' && grep -qx 'NoNewPrivileges=yes' '$CTL_UNIT'"

ip netns add "$NS" || exit 1
ip -n "$NS" link add up-dp type veth peer name up-pe
ip -n "$NS" link set lo up
ip -n "$NS" link set up-dp up
ip -n "$NS" link set up-pe up
ip -n "$NS" addr add 192.0.2.2/24 dev up-pe

cat >"$T/gw.properties" <<EOP
netborder.sip.userAgent.IPAddress=127.0.0.1:5060/udp,127.0.0.1:5060/tcp
mediagate.routing.rulesFile=$(cd "$(dirname "$0")/../.." && pwd)/configs/routing-rules.xml
mediagate.control.socket=$T/dataplane.sock
mediagate.control.allowedUids=0,nobody
mediagate.dataplane.eal=--no-huge -m 256 --no-shconf --no-pci --no-telemetry -l 0,1 --file-prefix $TAG
mediagate.dataplane.port.0.device=net_af_packet0,iface=up-dp
mediagate.dataplane.port.0.addresses=192.0.2.1/24
mediagate.dataplane.idleSleepUs=1000
EOP
chmod 644 "$T/gw.properties"

start_dp() { # BOUNDING-SET LOG
	ip netns exec "$NS" setpriv --bounding-set "$1" --inh-caps=-all --no-new-privs \
		"$DP_BIN" --config "$T/gw.properties" >"$2" 2>&1 &
	DP_PID=$!
}
dp_answers() { "$DPCTL" --socket "$T/dataplane.sock" --timeout 500 ping >/dev/null 2>&1; }
dp_gone() { ! kill -0 "$DP_PID" 2>/dev/null; }

# 1. the unit's set: works
SET=$(bounding_set "$DP_UNIT")
start_dp "$SET" "$T/dp.log"
check "dataplane with bounding set $SET answers dpctl ping" wait_for 20 dp_answers
check "the dataplane's port answers ICMP echo from the peer" \
	bash -c "ip netns exec '$NS' ping -c 1 -W 2 192.0.2.1 >/dev/null"

CTL_CAPS=$(bounding_set "$CTL_UNIT")
ip netns exec "$NS" setpriv --reuid=nobody --regid=nogroup --clear-groups --no-new-privs \
	--inh-caps=-all --bounding-set "$CTL_CAPS" \
	"$CTL_BIN" --config "$T/gw.properties" >"$T/ctl.log" 2>&1 &
CTL_PID=$!
check "control as nobody, bounding set $CTL_CAPS, is accepted on the socket" \
	wait_for 10 grep -q "connected to dataplane" "$T/ctl.log"
check "control as nobody binds SIP on 5060 udp and tcp" \
	bash -c "ip netns exec '$NS' ss -Hlnup 'sport = :5060' | grep -q mediagate && \
		 ip netns exec '$NS' ss -Hlntp 'sport = :5060' | grep -q mediagate"
kill "$CTL_PID" 2>/dev/null
wait "$CTL_PID" 2>/dev/null
CTL_PID=
kill "$DP_PID" 2>/dev/null
wait "$DP_PID"
check "the dataplane stops with status 0" test $? -eq 0
DP_PID=

# 2. one capability less: refused
for cap in CAP_NET_RAW CAP_NET_ADMIN; do
	SET=$(bounding_set "$DP_UNIT" "$cap")
	start_dp "$SET" "$T/dp-no-$cap.log"
	if wait_for 20 dp_gone; then
		wait "$DP_PID"
		rc=$?
		check "without $cap the dataplane exits non-zero (status $rc)" test $rc -ne 0
	else
		not_ok "without $cap the dataplane still runs"
		kill -9 "$DP_PID" 2>/dev/null
		wait "$DP_PID" 2>/dev/null
	fi
	DP_PID=
done

if [ $failures -ne 0 ]; then
	for f in "$T"/*.log; do
		echo "--- $f"
		tail -n 20 "$f"
	done
fi
echo "$failures failed"
exit $((failures != 0))
