#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# mediagate-control runs PRI in its event loop: with span 1 (network) and
# span 2 (user) of pri_system.conf configured over the DAHDI emulator
# (MG_TDM_EMU_DIR, set by tdm-emu-run), Q.921 comes up on both spans, and
# the daemon stops cleanly on SIGINT. A span missing from system.conf stops
# the daemon at start with exit 2 and a message naming the key.
#
#   pri_daemon.sh MEDIAGATE_CONTROL SYSTEM_CONF RULES_XML
set -uo pipefail
ctl=$1 conf=$2 rules=$3
: "${MG_TDM_EMU_DIR:?run through tdm-emu-run}"
dir=$(mktemp -d /tmp/pri-daemon.XXXXXX)
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "pri_daemon: FAIL: $*" >&2; echo "--- daemon log:" >&2; cat "$dir/log" >&2; exit 1; }

port=$((20000 + $$ % 10000))
props() {
  cat <<P
netborder.sip.userAgent.IPAddress=127.0.0.1:$port/udp
mediagate.control.socket=$dir/dp.sock
mediagate.routing.rulesFile=$rules
mediagate.tdm.systemConf=$conf
mediagate.tdm.devicePath=$MG_TDM_EMU_DIR
mediagate.tdm.span.0.role=network
mediagate.tdm.span.0.switchType=euroisdn_e1
mediagate.tdm.span.1.role=user
mediagate.tdm.span.1.switchType=euroisdn_e1
mediagate.log.level=info
P
}

props > "$dir/gw.properties"
"$ctl" --config "$dir/gw.properties" > "$dir/log" 2>&1 &
pid=$!
up=0
for _ in $(seq 100); do
  if grep -q 'pri: span 1: D-channel up' "$dir/log" && grep -q 'pri: span 2: D-channel up' "$dir/log"; then
    up=1; break
  fi
  kill -0 "$pid" 2>/dev/null || fail "mediagate-control exited"
  sleep 0.1
done
[ $up = 1 ] || fail "Q.921 not up on both spans within 10 s"
grep -q 'pri: span 1: network side, D-channel 16, 3 B-channels in group span1' "$dir/log" || fail "span 1 not started as configured"
grep -q 'pri: span 2: user side, D-channel 47, 3 B-channels in group span2' "$dir/log" || fail "span 2 not started as configured"
kill -INT "$pid"
wait "$pid"; rc=$?; pid=
[ $rc = 0 ] || fail "exit status $rc after SIGINT (expected 0)"
echo "ok: Q.921 up on spans 1 and 2 inside mediagate-control; clean stop"

# config span 2 = DAHDI span 3, which pri_system.conf does not define
{ props; echo "mediagate.tdm.span.2.role=user"; } > "$dir/gw.properties"
"$ctl" --config "$dir/gw.properties" > "$dir/log" 2>&1
rc=$?
[ $rc = 2 ] || fail "exit status $rc with an undefined span (expected 2)"
grep -q 'mediagate.tdm.span.2: DAHDI span 3 is not defined in' "$dir/log" || fail "no message naming mediagate.tdm.span.2"
echo "ok: an undefined span stops the start with exit 2 and names the key"
