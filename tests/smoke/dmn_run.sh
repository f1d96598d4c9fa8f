#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The README's run command, non-interactively: scripts/run with
# MG_RUN_SECONDS on an already built tree, under a test bed tag of its own.
# Checks it shows the connection, PINGs, stops by itself with status 0 and
# leaves no namespace, interface or daemon behind.
#
#   dmn_run.sh SOURCE_ROOT BUILD_ROOT
set -uo pipefail
SRC=$1 BUILD=$2
TAG=dmnrun
out=$(mktemp /tmp/dmn-run.XXXXXX)
failures=0
cleanup() {
	"$SRC/scripts/testbed" destroy "$TAG" >/dev/null 2>&1
	rm -f "$out"
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
MG_RUN_SECONDS=2 MG_RUN_SKIP_SETUP=1 MG_BUILD_DIR=$BUILD MG_RUN_TAG=$TAG \
	MG_RUN_SIP_PORT=$((20000 + $$ % 20000)) MG_TESTBED_NET=198.51.100 \
	timeout 60 "$SRC/scripts/run" daemons >"$out" 2>&1
rc=$?
cat "$out"
rundir=$(sed -n 's/^configuration: \(.*\)\/gw.properties$/\1/p' "$out")
check "scripts/run exits 0 by itself (got $rc)" test "$rc" -eq 0
check "control logged the connection" grep -q "connected to dataplane (version [0-9]*, [0-9]* message types)" "$out"
check "dpctl ping answered 3 times" grep -q '"seq": 3' "$out"
check "the dataplane answered ICMP from the namespace" grep -q "2 received" "$out"
check "stopped cleanly" grep -q "== stopped" "$out"
check "dataplane logged its clean stop" grep -q "mediagate-dataplane\[info\] stopping" "$rundir/dataplane.log"
check "namespace removed" bash -c "! ip netns list | grep -q '^$TAG-peer'"
check "veth removed" bash -c "! ip link show $TAG-dp >/dev/null 2>&1"
check "no daemon left on this socket" bash -c "! pgrep -f -- '$rundir/gw.propertie[s]' >/dev/null"
rm -rf "$rundir"
[ "$failures" -eq 0 ]
