#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The README's run command, non-interactively: scripts/run with
# MG_RUN_SECONDS on an already built tree, under a test bed tag of its own.
# Checks it shows the connection, PINGs, stops by itself with status 0 and
# leaves no namespace, interface, lock or daemon behind. A second run on the
# same tag while the first lives is refused (it would remake the first one's
# bed) and leaves the first one alone.
#
#   dmn_run.sh SOURCE_ROOT BUILD_ROOT
set -uo pipefail
SRC=$1 BUILD=$2
TAG=dr$(printf %x $$) # <= 8 characters: dr + the PID in hex, this run's own
out=$(mktemp /tmp/dmn-run.XXXXXX)
out2=$(mktemp /tmp/dmn-run2.XXXXXX)
failures=0
cleanup() {
	[ -n "${RUN_PID:-}" ] && kill "$RUN_PID" 2>/dev/null && wait "$RUN_PID" 2>/dev/null
	"$SRC/scripts/testbed" destroy "$TAG" >/dev/null 2>&1
	rm -rf "$out" "$out2" "/run/lock/mediagate-testbed-$TAG" "/var/run/dpdk/$TAG"
}
trap cleanup EXIT
check() {
	local what=$1; shift
	if "$@"; then echo "ok - $what"; else echo "not ok - $what"; failures=$((failures + 1)); fi
}

if [ "$(id -u)" -ne 0 ]; then
	echo "scripts/run needs root (network namespaces, AF_PACKET)"
	exit 1
fi
MG_RUN_SECONDS=3 MG_RUN_SKIP_SETUP=1 MG_BUILD_DIR=$BUILD MG_RUN_TAG=$TAG \
	MG_RUN_SIP_PORT=$((20000 + $$ % 20000)) MG_TESTBED_NET=198.51.100 \
	timeout 60 "$SRC/scripts/run" daemons >"$out" 2>&1 &
RUN_PID=$!
for _ in $(seq 300); do
	grep -q "starting mediagate-control" "$out" && break
	kill -0 "$RUN_PID" 2>/dev/null || break
	sleep 0.1
done
# the same tag again while the first run is up
MG_RUN_SECONDS=1 MG_RUN_SKIP_SETUP=1 MG_BUILD_DIR=$BUILD MG_RUN_TAG=$TAG \
	MG_RUN_SIP_PORT=$((20001 + $$ % 20000)) MG_TESTBED_NET=198.51.100 \
	timeout 30 "$SRC/scripts/run" daemons >"$out2" 2>&1
rc2=$?
wait "$RUN_PID"
rc=$?
RUN_PID=
cat "$out"
echo "--- second run on tag $TAG while the first was up:"
cat "$out2"
check "a second run on the same tag is refused (exit $rc2)" test "$rc2" -eq 1
check "  saying who holds the bed and what to set" grep -q "test bed '$TAG' is in use by scripts/run pid [0-9]*; run a second one with MG_RUN_TAG" "$out2"
check "  and without touching it (no test bed made or removed)" bash -c "! grep -q '== test bed\|== stopping' '$out2'"
rundir=$(sed -n 's/^configuration: \(.*\)\/gw.properties$/\1/p' "$out")
check "scripts/run exits 0 by itself (got $rc)" test "$rc" -eq 0
check "control logged the connection" grep -q "connected to dataplane (version [0-9]*, [0-9]* message types)" "$out"
check "dpctl ping answered 3 times" grep -q '"seq": 3' "$out"
check "the dataplane answered ICMP from the namespace" grep -q "2 received" "$out"
check "stopped cleanly" grep -q "== stopped" "$out"
check "dataplane logged its clean stop" grep -q "mediagate-dataplane\[info\] stopping" "$rundir/dataplane.log"
check "namespace removed" bash -c "! ip netns list | grep -q '^$TAG-peer'"
check "veth removed" bash -c "! ip link show $TAG-dp >/dev/null 2>&1"
check "lock and EAL runtime directory removed" bash -c "! ls -d /run/lock/mediagate-testbed-$TAG /var/run/dpdk/$TAG 2>/dev/null"
check "no daemon left on this socket" bash -c "! pgrep -f -- '$rundir/gw.propertie[s]' >/dev/null"
rm -rf "$rundir"
[ "$failures" -eq 0 ]
