#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# `mediagate-control --route` against the example rules file (configs/):
# the guide's PSTN->SIP rule, the SIP->PSTN rule, no route, bad input; the
# SPEC §2 example verbatim (route-spec-example.xml beside this script); the
# warnings: no user agent for a rule's transport, parameters no rule can see,
# and the parameter names the call engine's sources set are all known.
# usage: route_dry_run.sh MEDIAGATE_CONTROL RULES_XML
set -u
bin=$1 rules=$2
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
dir=$(mktemp -d /tmp/sdp-route-cli-XXXXXX)
trap 'rm -rf "$dir"' EXIT
trap 'rm -rf "$dir"; exit 1' HUP INT TERM PIPE
fail=0
cat > "$dir/gw.properties" <<CONF
netborder.sip.userAgent.IPAddress=192.0.2.5:5060/udp,192.0.2.5:5062/tcp
mediagate.routing.rulesFile=$rules
CONF

# stderr of the last check() must (has) or must not (lacks) hold a text
has() { grep -qF -- "$2" "$dir/err" || { echo "FAIL $1: stderr lacks: $2"; cat "$dir/err"; fail=1; }; }
lacks() { ! grep -qF -- "$2" "$dir/err" || { echo "FAIL $1: stderr has: $2"; cat "$dir/err"; fail=1; }; }

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
# udp and tcp user agents only: GW_SIP_PORT of a tls rule is 5061, said so
has no_tls_ua "$rules:$line: rule default_sip_out: sip.out.transport tls but no tls user agent is configured (netborder.sip.userAgent.IPAddress has: udp tcp): calls it routes cannot be placed, and GW_SIP_PORT names a port nobody listens on"
lacks no_tls_ua "--route:"

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

# a typo and a name nothing reads: routed all the same, warned about
check typo_params 0 "" 'pstn.in.dnsi=5551234,foo.bar=1'
has typo_params "--route: pstn.in.dnsi is not a call parameter and no rule reads it: it is ignored; did you mean pstn.in.dnis? (the engine sets: transfer, pstn.in.dnis,"
has typo_params "--route: foo.bar is not a call parameter and no rule reads it: it is ignored (the engine sets:"

# every name the engine's sources put in a call's parameter list is known
# to the routing module (a new one there needs adding to route.c)
names=$(grep -ho '"\(sip\|pstn\)\.in\.[A-Za-z.]*"' "$src/control/calls/calls_sip.c" "$src/control/pri/pri_mgr.c" |
	tr -d '"' | sort -u)
if [ "$(echo "$names" | wc -w)" -lt 10 ]; then
	echo "FAIL engine_names: found only: $names"; fail=1
else
	spec=$(echo "$names" | sed 's/$/=x/' | paste -sd, -)
	check engine_names 0 "" "$spec,transfer=false"
	lacks engine_names "is not a call parameter"
	lacks engine_names "never sets it"
fi

# SPEC §2's example verbatim: %2 names no capture-bearing condition; it
# loads, %2 is "", and the load says so at the param's line. A TLS user
# agent this time: GW_SIP_PORT is its port and nothing is said about it.
: > "$dir/c.pem"
cat > "$dir/gw.properties" <<CONF
netborder.sip.userAgent.IPAddress=192.0.2.5:5071/tls
netborder.sip.tls.serverCertificateFile=$dir/c.pem
netborder.sip.tls.serverCertificatePrivateKeyFile=$dir/c.pem
netborder.sip.tls.trustedRootCertificatesStore=$dir/c.pem
mediagate.routing.rulesFile=$here/route-spec-example.xml
CONF
spec_rules=$here/route-spec-example.xml
# the fixture is the SPEC's block (docs/routing.md quotes the same rule)
sed -n '/^<rule name="default_sip_out"/,/^<\/rule>/p' "$spec_rules" > "$dir/spec_rule"
if [ "$(wc -l < "$dir/spec_rule")" != 11 ] || ! grep -qF '<param name="sip.out.from.displayName" expr="%2"/>' "$dir/spec_rule"; then
	echo "FAIL spec_example: fixture is not the SPEC §2 rule"; fail=1
fi
line=$(grep -n 'name="default_sip_out"' "$spec_rules" | cut -d: -f1)
pline=$(grep -n 'sip.out.from.displayName' "$spec_rules" | cut -d: -f1)
cat > "$dir/want4" <<OUT
rule: default_sip_out ($spec_rules:$line)
outbound_interface: sip
qvalue: 0.001
out_leg: name="" media_type=sendrecv
sip.out.requestUri=sip:5551234@192.0.2.10:5060
sip.out.from.uri=sip:5145550000@192.0.2.5:5071
sip.out.from.displayName=
sip.out.transport=tls
OUT
check spec_example 0 "$dir/want4" 'pstn.in.dnis=5551234,pstn.in.ani=5145550000'
has spec_example "$spec_rules:$pline: param sip.out.from.displayName uses %2 but rule default_sip_out has 2 capture-bearing conditions (defined: %0..%1): %2 expands to \"\""
lacks spec_example "no tls user agent"
check spec_example_transfer 1 "" 'pstn.in.dnis=5551234,transfer=true'

exit $fail
