#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# `mediagate-control --route` against the example rules file (configs/):
# the guide's PSTN->SIP rule, the SIP->PSTN rule, no route, bad input.
# usage: route_dry_run.sh MEDIAGATE_CONTROL RULES_XML
set -u
bin=$1 rules=$2
dir=$(mktemp -d /tmp/sdp-route-cli-XXXXXX)
trap 'rm -rf "$dir"' EXIT
trap 'rm -rf "$dir"; exit 1' HUP INT TERM PIPE
fail=0
cat > "$dir/gw.properties" <<CONF
netborder.sip.userAgent.IPAddress=192.0.2.5:5060/udp,192.0.2.5:5062/tcp
mediagate.routing.rulesFile=$rules
CONF

check() { # name expected_exit expected_output_file -- args
	name=$1 want_rc=$2 want=$3; shift 3
	"$bin" --config "$dir/gw.properties" --route "$@" > "$dir/out" 2> "$dir/err"
	rc=$?
	if [ "$rc" != "$want_rc" ]; then
		echo "FAIL $name: exit $rc, expected $want_rc"; cat "$dir/err"; fail=1; return
	fi
	if [ -n "$want" ] && ! diff -u "$want" "$dir/out"; then
		echo "FAIL $name: output differs"; fail=1; return
	fi
	echo "ok   $name"
}

line=$(grep -n 'name="default_sip_out"' "$rules" | cut -d: -f1)
cat > "$dir/want1" <<OUT
rule: default_sip_out ($rules:$line)
outbound_interface: sip
qvalue: 0.001
out_leg: name="" media_type=sendrecv
sip.out.requestUri=sip:5551234@mediation-server-ip-address:5060
sip.out.from.uri=sip:5145550000@192.0.2.5:5061
sip.out.from.displayName=
sip.out.transport=tls
OUT
check pstn_to_sip 0 "$dir/want1" 'pstn.in.dnis=5551234,pstn.in.ani=5145550000'

line=$(grep -n 'name="default_pstn_out"' "$rules" | cut -d: -f1)
cat > "$dir/want2" <<OUT
rule: default_pstn_out ($rules:$line)
outbound_interface: pstn
qvalue: 0.01
out_leg: name="" media_type=sendrecv
pstn.out.dnis=15145550000
pstn.out.ani=alice
pstn.out.callerName=Alice, A.
OUT
check sip_to_pstn 0 "$dir/want2" 'sip.in.requestUri.user=+15145550000,sip.in.from.user=alice,sip.in.from.displayName=Alice\, A.'

cat > "$dir/want3" <<OUT
no route: 2 rules in $rules, none matches; the call is refused (SIP 404, PSTN cause 1)
OUT
check transfer_no_route 1 "$dir/want3" 'pstn.in.dnis=5551234,transfer=true'
check bad_params 2 "" 'pstn.in.dnis'
grep -q 'allowed: name=value' "$dir/err" || { echo "FAIL bad_params: message"; fail=1; }

exit $fail
