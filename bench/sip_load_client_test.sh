#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# sip-load-client (call-bench --ramp's load tool) against itself on
# loopback, over UDP and over mutual TLS (a throw-away CA from
# tests/interop/test_ca.sh): every call placed is answered 200, ACKed and hung
# up, by the caller's counts and the callee's; over TLS, a caller without a
# certificate the callee trusts gets no call through. Counts only, no timing.
#   sip_load_client_test.sh SIP_LOAD_CLIENT SRC
set -u
TOOL=$1
SRC=$2
W=$(mktemp -d /tmp/mg-sip-load-XXXXXX)
U=
trap '[ -n "$U" ] && kill "$U" 2>/dev/null; rm -rf "$W"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }
field() { python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])[sys.argv[2]])' "$1" "$2"; }

cd "$W" || exit 1
. "$SRC/tests/interop/test_ca.sh"
{ test_ca_init sip-load-ca 1; for n in uac uas; do test_ca_peer $n 127.0.0.1 load.test; done; } > ca.log 2>&1
mkdir other && (cd other && { test_ca_init other-ca 1; test_ca_peer rogue 127.0.0.1 load.test; } > ca.log 2>&1)
[ -s uac.crt ] && [ -s uas.crt ] && [ -s other/rogue.crt ] || { echo "FAIL: certificates"; cat ca.log; exit 1; }

# free port pair: 30000-59999, per run
base=$((30000 + (($$ + RANDOM) % 14000) * 2))
run() { # NAME TRANSPORT UAC-CERT-PREFIX CALLS
	local name=$1 tr=$2 who=$3 n=$4 p=$((base)) tls_uas=() tls_uac=()
	base=$((base + 2))
	if [ "$tr" = tls ]; then
		tls_uas=(--cert uas.crt --key uas.key --ca ca.pem)
		tls_uac=(--cert "$who.crt" --key "$who.key" --ca ca.pem)
	fi
	"$TOOL" --mode uas --transport "$tr" --bind 127.0.0.1:$p "${tls_uas[@]}" > "$name-uas.json" 2> "$name-uas.err" &
	U=$!
	# the callee's socket in the kernel's table (UDP bound, TLS listening), at most 10 s
	local ssp=-u t
	[ "$tr" = tls ] && ssp=-t
	for ((t = 0; t < 100; t++)); do
		[ -n "$(ss -Hln $ssp src 127.0.0.1:$p)" ] && break
		kill -0 "$U" 2> /dev/null || break
		sleep 0.1
	done
	[ -n "$(ss -Hln $ssp src 127.0.0.1:$p)" ] || bad "$name: callee not on 127.0.0.1:$p: $(cat "$name-uas.err")"
	"$TOOL" --mode uac --transport "$tr" --bind 127.0.0.1:$((p + 1)) --target 127.0.0.1:$p \
		--rate 50 --calls "$n" --hold-ms 200 --timeout 3 "${tls_uac[@]}" > "$name-uac.json" 2> "$name-uac.err" ||
		bad "$name: uac exited $?: $(cat "$name-uac.err")"
	kill "$U"; wait "$U"; U=
}

for tr in udp tls; do
	run "$tr" "$tr" uac 40
	[ "$(field "$tr-uac.json" ok)" = 40 ] || bad "$tr: caller's 200s: $(cat "$tr-uac.json")"
	[ "$(field "$tr-uac.json" byes_ok)" = 40 ] || bad "$tr: caller's BYEs answered: $(cat "$tr-uac.json")"
	[ "$(field "$tr-uac.json" failed)" = 0 ] || bad "$tr: failures: $(cat "$tr-uac.json")"
	[ "$(field "$tr-uas.json" invites)" = 40 ] || bad "$tr: callee's INVITEs: $(cat "$tr-uas.json")"
	[ "$(field "$tr-uas.json" byes)" = 40 ] || bad "$tr: callee's BYEs: $(cat "$tr-uas.json")"
done

# a client certificate from another CA: the callee refuses the connection
cp other/rogue.crt other/rogue.key .
run rogue tls rogue 5
[ "$(field rogue-uac.json ok)" = 0 ] || bad "rogue: a call got through: $(cat rogue-uac.json)"
[ "$(field rogue-uas.json invites)" = 0 ] || bad "rogue: callee saw INVITEs: $(cat rogue-uas.json)"
[ $fail = 0 ] && echo "sip-load-client: 40 calls over UDP and 40 over mutual TLS complete on both ends; a foreign client certificate gets none through"
exit $fail
