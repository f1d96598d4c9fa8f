#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Suite 'interop', TLS part: the guide's certificate procedure with
# mediagate-cert and a throw-away CA (openssl ca), then mediagate-control
# probed from outside on loopback with openssl s_client, SIPp and a sofia-sip
# client; bad configurations must exit 2 with the expected message.
#
#   tls_interop.sh MEDIAGATE_CONTROL MEDIAGATE_CERT TLS_SIP_CLIENT SRCDIR
set -uo pipefail

CONTROL=$1 CERT=$2 CLIENT=$3 SRC=$4
W=$(mktemp -d /tmp/tls_interop.XXXXXX)
GW_PIDS=()
cleanup() {
	for p in "${GW_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${GW_PIDS[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$W"
}
trap cleanup EXIT
cd "$W" || exit 1

pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok - $1"; }
bad() { fail=$((fail + 1)); echo "not ok - $1"; [ -n "${2:-}" ] && sed 's/^/    | /' "$2" | tail -n 25; }
# check NAME FILE REGEX: the file matches
check() { if grep -Eq -- "$3" "$2"; then ok "$1"; else bad "$1 (no /$3/)" "$2"; fi; }
# check_not NAME FILE REGEX: the file does not match
check_not() { if grep -Eq -- "$3" "$2"; then bad "$1 (found /$3/)" "$2"; else ok "$1"; fi; }

# Ports from the PID so parallel runs on one machine do not collide; below
# 32768, Linux's ephemeral range.
BASE=$((21000 + ($$ % 700) * 16))
P_TLS=$BASE P_TLS2=$((BASE + 1)) P_UDP=$((BASE + 2)) P_TCP=$((BASE + 3)) P_CLASH=$((BASE + 4)) P_ANY=$((BASE + 5)) P_V6=$((BASE + 6)) P_BS=$((BASE + 7)) P_SIPP=$((BASE + 8))

# ---- 1. certificates: the guide's procedure, mediagate-cert + openssl ca ----
. "$SRC/test_ca.sh"
mkdir other
test_ca_init tls-interop-ca 30
sign() { test_ca_sign "$@" > /dev/null 2>&1; }

echo 'step1 pass phrase' > p1
echo 'gateway key password' > gwpw
chmod 600 gwpw
"$CERT" req --cn gw.mediagate.test --san DNS:gw.mediagate.test,IP:127.0.0.1 \
	--key-out new-private-key.pem --csr-out new-certificate-request.pem --pass-file p1 > req.out 2>&1
check "mediagate-cert req makes an encrypted key and a request" new-private-key.pem 'BEGIN ENCRYPTED PRIVATE KEY'
openssl req -in new-certificate-request.pem -noout -text > req.txt 2>&1
check "request: CN = FQDN, SAN, RSA 2048" req.txt 'Subject: CN *= *gw.mediagate.test'
check "request carries the SAN" req.txt 'DNS:gw.mediagate.test, IP Address:127.0.0.1'
check "request key is RSA >= 2048" req.txt 'Public-Key: \(2048 bit\)'
sign new-certificate-request.pem certnew.cer
# The CA's chain as AD CS serves it (certnew.p7b): DER, and base64 as well.
openssl crl2pkcs7 -nocrl -certfile ca.pem -certfile certnew.cer -outform DER -out certnew.p7b
openssl crl2pkcs7 -nocrl -certfile ca.pem -certfile certnew.cer -out certnew-b64.p7b
"$CERT" p7b-to-pem --in certnew.p7b --out newTrustedRootCertificatesStore.pem > p7b.out 2>&1
"$CERT" p7b-to-pem --in certnew-b64.p7b --out store-b64.pem >> p7b.out 2>&1
check "p7b-to-pem keeps the CA and skips the gateway's own certificate" p7b.out 'skipped end-entity certificate /CN=gw.mediagate.test'
if cmp -s newTrustedRootCertificatesStore.pem store-b64.pem; then ok "p7b-to-pem: DER and base64 give the same store"; else bad "p7b-to-pem: DER and base64 differ"; fi
"$CERT" protect-key --in new-private-key.pem --in-pass-file p1 --out new-private-key-protected.pem \
	--password-file gwpw > protect.out 2>&1
if openssl pkey -in new-private-key-protected.pem -passin file:gwpw -noout 2>/dev/null &&
	! openssl pkey -in new-private-key-protected.pem -passin file:p1 -noout 2>/dev/null; then
	ok "protect-key re-encrypts the key with the gateway key password"
else
	bad "protect-key" protect.out
fi
"$CERT" show certnew.cer newTrustedRootCertificatesStore.pem > show.out 2>&1
check "show: subject, SAN, validity, fingerprint" show.out 'SAN: +DNS:gw.mediagate.test, IP Address:127.0.0.1'
check "show: validity status" show.out 'status: +valid now'
check "show: SHA-256 fingerprint" show.out 'SHA-256: +([0-9A-F]{2}:){31}[0-9A-F]{2}'
"$CERT" show certnew.p7b > show_p7b.out 2>&1
check "show reads a DER .p7b chain too" show_p7b.out 'certnew.p7b: 2 certificate\(s\)'
"$CERT" req --cn ec.mediagate.test --key-type ec --key-out ec.key --csr-out ec.csr --no-encrypt > ec.out 2>&1
openssl req -in ec.csr -noout -text > ec.txt 2>&1
check "req --key-type ec: EC P-256 request" ec.txt 'prime256v1|P-256'
"$CERT" req --cn weak.mediagate.test --bits 1024 --key-out weak.key --csr-out weak.csr --no-encrypt > weak.out 2>&1
[ $? -eq 2 ] && grep -q 'allowed: 2048' weak.out && ok "req refuses RSA below 2048 bits" || bad "req --bits 1024" weak.out

# Peers: a client of the same CA, one of another CA, an expired one.
openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr -subj /CN=ms.mediagate.test \
	-addext subjectAltName=DNS:ms.mediagate.test 2>/dev/null
sign client.csr client.pem
openssl req -newkey rsa:2048 -nodes -keyout old.key -out old.csr -subj /CN=old.mediagate.test 2>/dev/null
sign old.csr old.pem -startdate 20200101000000Z -enddate 20200102000000Z
openssl req -x509 -newkey rsa:2048 -nodes -keyout other/ca.key -out other/ca.pem -days 30 \
	-subj /CN=tls-other-ca 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout intruder.key -out intruder.csr -subj /CN=intruder 2>/dev/null
openssl x509 -req -in intruder.csr -CA other/ca.pem -CAkey other/ca.key -CAcreateserial \
	-out intruder.pem -days 5 2>/dev/null
# An expired gateway certificate for the start-up checks.
openssl req -new -key new-private-key.pem -passin file:p1 -out gw-old.csr -subj /CN=gw.mediagate.test 2>/dev/null
sign gw-old.csr gw-old.pem -startdate 20200101000000Z -enddate 20200102000000Z
openssl req -newkey rsa:2048 -nodes -keyout stranger.key -out stranger.csr -subj /CN=x 2>/dev/null
echo '# nothing' > empty-store.pem
cp gwpw gwpw-open
chmod 644 gwpw-open
echo 'not the password' > gwpw-wrong
chmod 600 gwpw-wrong

# ---- 2. gateway configurations -------------------------------------------
props() { # FILE UA-LIST [extra key=value lines...]
	local f=$1 ua=$2
	shift 2
	{
		echo "netborder.sip.userAgent.IPAddress=$ua"
		echo "netborder.sip.tls.serverCertificateFile=$W/certnew.cer"
		echo "netborder.sip.tls.serverCertificatePrivateKeyFile=$W/new-private-key-protected.pem"
		echo "netborder.sip.tls.trustedRootCertificatesStore=$W/newTrustedRootCertificatesStore.pem"
		echo "mediagate.sip.tls.keyPasswordFile=$W/gwpw"
		echo "mediagate.control.socket=$W/dp.sock"
		echo "mediagate.log.level=info"
		for kv in "$@"; do echo "$kv"; done
	} > "$f"
}
# start_gw CONFIG LOG: start, wait until every user agent listens.
start_gw() {
	"$CONTROL" --config "$1" > "$2" 2>&1 &
	local pid=$! n=0 want
	GW_PIDS+=("$pid")
	want=$(grep -c . <<< "$(grep '^netborder.sip.userAgent.IPAddress' "$1" | tr ',' '\n')")
	while [ $n -lt 100 ]; do
		[ "$(grep -c 'user agent listening' "$2")" -ge "$want" ] && return 0
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.05
		n=$((n + 1))
	done
	return 1
}
options_req() { # PORT: one OPTIONS as a Mediation Server probe
	printf 'OPTIONS sip:127.0.0.1:%s SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:5061;branch=z9hG4bK-tls-%s\r\nMax-Forwards: 70\r\nFrom: <sip:probe@127.0.0.1>;tag=1\r\nTo: <sip:127.0.0.1:%s>\r\nCall-ID: tls-interop-%s\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n' \
		"$1" "$RANDOM" "$1" "$RANDOM"
}
# s_client_probe PORT OUT [s_client args...]: handshake, send OPTIONS, read.
s_client_probe() {
	local port=$1 out=$2
	shift 2
	(options_req "$port"; sleep 1) | timeout 10 openssl s_client -connect "127.0.0.1:$port" \
		-CAfile ca.pem -verify_return_error "$@" > "$out" 2>&1
}

props gw1.properties "127.0.0.1:$P_TLS/tls,INADDR_ANY:$P_ANY/tls,[::1]:$P_V6/tls"
if start_gw gw1.properties gw1.log; then ok "gateway starts with the certificates of the procedure"; else bad "gateway start" gw1.log; fi
check_not "no private key password in the log" gw1.log 'gateway key password'

# ---- 3. openssl s_client against the defaults ------------------------------
s_client_probe $P_TLS c_default.out -cert client.pem -key client.key
check "TLS 1.3 by default" c_default.out 'Protocol *: TLSv1\.3'
check "server certificate verifies against the CA" c_default.out 'Verify return code: 0 \(ok\)'
check "OPTIONS over TLS with a client certificate: 200" c_default.out 'SIP/2.0 200 OK'
check "Contact in answers is sip:...;transport=tls, not sips:" c_default.out "^Contact: <sip:127\.0\.0\.1:$P_TLS;transport=tls>"
check "200 carries Allow" c_default.out '^Allow: .*OPTIONS'
check "200 carries Accept" c_default.out '^Accept: application/sdp'
check "200 carries Supported" c_default.out '^Supported: '
s_client_probe $P_ANY c_any.out -cert client.pem -key client.key
check "INADDR_ANY user agent: 200, Contact names the address the peer used" c_any.out "^Contact: <sip:127\.0\.0\.1:$P_ANY;transport=tls>"
(options_req "$P_V6" | sed "s/127\.0\.0\.1/[::1]/g"; sleep 1) | timeout 10 openssl s_client \
	-connect "[::1]:$P_V6" -CAfile ca.pem -cert client.pem -key client.key > c_v6.out 2>&1
check "IPv6 user agent: 200 with an IPv6 Contact" c_v6.out "^Contact: <sip:\[::1\]:$P_V6;transport=tls>"
s_client_probe $P_TLS c_nocert.out
check_not "no client certificate: no answer" c_nocert.out 'SIP/2.0 [0-9]'
check "no client certificate: refused (certificate required)" c_nocert.out 'alert certificate required|alert handshake failure'
s_client_probe $P_TLS c_other.out -cert intruder.pem -key intruder.key
check_not "certificate of another CA: no answer" c_other.out 'SIP/2.0 [0-9]'
check "certificate of another CA: refused (unknown ca)" c_other.out 'alert unknown ca'
s_client_probe $P_TLS c_old.out -cert old.pem -key old.key
check_not "expired client certificate: no answer" c_old.out 'SIP/2.0 [0-9]'
check "expired client certificate: refused (certificate expired)" c_old.out 'alert certificate expired'
check "the gateway logs why it refused" gw1.log 'client certificate rejected .*certificate has expired'

# ---- 3b. SIGHUP: new certificate, key and trust store, no restart ----------
served_serial() { sed -n '/BEGIN CERTIFICATE/,/END CERTIFICATE/p' "$1" | openssl x509 -noout -serial 2>/dev/null; }
hup_wait() { # N: the Nth reload result in gw1.log
	kill -HUP "${GW_PIDS[0]}"
	for _ in $(seq 50); do
		[ "$(grep -Ec 'tls: SIGHUP: new connections|keeping the running TLS' gw1.log)" -ge "$1" ] && return
		sleep 0.1
	done
}
openssl req -newkey rsa:2048 -keyout gw2.key -passout file:gwpw -out gw2.csr -subj /CN=gw.mediagate.test \
	-addext subjectAltName=DNS:gw.mediagate.test,IP:127.0.0.1 2>/dev/null
sign gw2.csr gw2.pem
for f in certnew.cer new-private-key-protected.pem newTrustedRootCertificatesStore.pem; do cp "$f" "$f.orig"; done
s_client_probe $P_TLS c_hup0.out -cert client.pem -key client.key -showcerts
serial0=$(served_serial c_hup0.out) serial1=$(openssl x509 -in certnew.cer -noout -serial)
serial2=$(openssl x509 -in gw2.pem -noout -serial)
if [ -n "$serial0" ] && [ "$serial0" = "$serial1" ]; then ok "before: the gateway serves certnew.cer ($serial0)"; else bad "before: served '$serial0', certnew.cer $serial1" c_hup0.out; fi
cp gw2.pem certnew.cer
cp gw2.key new-private-key-protected.pem
hup_wait 1
check "SIGHUP: the new certificate and key are loaded" gw1.log "tls: SIGHUP: new connections get the certificate /CN=gw.mediagate.test"
s_client_probe $P_TLS c_hup1.out -cert client.pem -key client.key -showcerts
if [ "$(served_serial c_hup1.out)" = "$serial2" ] && [ "$serial2" != "$serial0" ]; then
	ok "  a new connection gets the new certificate ($serial2), no restart"
else
	bad "  after SIGHUP the gateway serves '$(served_serial c_hup1.out)', want $serial2" c_hup1.out
fi
check "  and OPTIONS still gets 200" c_hup1.out 'SIP/2.0 200 OK'
# a key that does not match: refused, the running certificate stays
cp new-private-key-protected.pem.orig new-private-key-protected.pem
hup_wait 2
check "SIGHUP with a key that does not match: refused with the reason" gw1.log "SIGHUP: .*the key does not match the certificate.*; keeping the running TLS certificate"
s_client_probe $P_TLS c_hup2.out -cert client.pem -key client.key -showcerts
if [ "$(served_serial c_hup2.out)" = "$serial2" ]; then ok "  the running certificate stays in use"; else bad "  after a refused reload: '$(served_serial c_hup2.out)'" c_hup2.out; fi
# another trust store: its CA's clients get in, ours no longer
cp gw2.key new-private-key-protected.pem
cp other/ca.pem newTrustedRootCertificatesStore.pem
hup_wait 3
s_client_probe $P_TLS c_hup3.out -cert client.pem -key client.key
s_client_probe $P_TLS c_hup4.out -cert intruder.pem -key intruder.key
check "SIGHUP with another trust store: our CA's client is now refused (unknown ca)" c_hup3.out 'alert unknown ca'
check "  and the new CA's client gets 200" c_hup4.out 'SIP/2.0 200 OK'
for f in certnew.cer new-private-key-protected.pem newTrustedRootCertificatesStore.pem; do cp "$f.orig" "$f"; done
hup_wait 4
s_client_probe $P_TLS c_hup5.out -cert client.pem -key client.key -showcerts
if [ "$(served_serial c_hup5.out)" = "$serial0" ] && grep -q 'SIP/2.0 200 OK' c_hup5.out; then ok "  files restored + SIGHUP: back to certnew.cer and our CA"; else bad "  restore" c_hup5.out; fi

# ---- 4. a real SIP client over TLS (sofia-sip, own outbound policy) --------
"$CLIENT" --target "sip:127.0.0.1:$P_TLS;transport=tls" --cert client.pem --key client.key \
	--ca ca.pem > sc.out 2>&1
rc=$?
if [ $rc -eq 0 ]; then ok "sofia-sip client with a client certificate: 200 to OPTIONS"; else bad "sofia-sip client OPTIONS (rc=$rc)" sc.out; fi
check "sofia-sip client sees a sip: Contact" sc.out "^Contact: <sip:127\.0\.0\.1:$P_TLS;transport=tls>"
"$CLIENT" --target "sip:127.0.0.1:$P_TLS;transport=tls" --cert client.pem --key client.key \
	--ca ca.pem --expect-host gw.mediagate.test > sc_name.out 2>&1 &&
	ok "outbound: server name matches the certificate SAN" || bad "outbound name match" sc_name.out
"$CLIENT" --target "sip:127.0.0.1:$P_TLS;transport=tls" --cert client.pem --key client.key \
	--ca ca.pem --expect-host mediation.example.com --timeout 3 > sc_wrong.out 2>&1 &&
	bad "outbound: wrong server name accepted" sc_wrong.out || ok "outbound: server name mismatch refused"
check "outbound: mismatch is logged" sc_wrong.out 'does not match host name mediation.example.com'
"$CLIENT" --target "sip:127.0.0.1:$P_TLS;transport=tls" --cert client.pem --key client.key \
	--ca other/ca.pem --timeout 3 > sc_ca.out 2>&1 &&
	bad "outbound: server of an untrusted CA accepted" sc_ca.out || ok "outbound: server chain not trusted, refused"

# baresip (headless: menu + account modules, -e command, -t to quit).
baresip_options() { # CONFDIR OUT [certificate]
	mkdir -p "$1"
	{
		echo "sip_listen 127.0.0.1:$P_BS"
		[ -n "${3:-}" ] && echo "sip_certificate $3"
		echo "sip_cafile $W/ca.pem"
		echo "module_path /usr/lib/baresip/modules"
		echo "module menu.so"
		echo "module g711.so"
		echo "module_app account.so"
		echo "audio_player aufile,/dev/null"
		echo "audio_source aufile,/dev/null"
	} > "$1/config"
	echo '<sip:probe@127.0.0.1;transport=tls>;regint=0' > "$1/accounts"
	: > "$1/contacts"
	HOME=$W timeout 20 baresip -s -f "$1" -e "/options sip:gw@127.0.0.1:$P_TLS;transport=tls" -t 3 \
		< /dev/null > "$2" 2>&1
}
cat client.pem client.key > client-bundle.pem
baresip_options bs_cert bs_cert.out "$W/client-bundle.pem"
check "baresip with a client certificate: 200 to OPTIONS over TLS" bs_cert.out 'SIP/2.0 200 OK'
baresip_options bs_nocert bs_nocert.out
check "baresip without a client certificate: it did send OPTIONS" bs_nocert.out "OPTIONS sip:gw@127.0.0.1:$P_TLS"
check_not "baresip without a client certificate: no answer" bs_nocert.out 'SIP/2.0 200 OK'

# ---- 5. the guide's cipher suite, TLS 1.2, legacy opt-in, UDP/TCP beside --
props gw2.properties "127.0.0.1:$P_TLS2/tls,127.0.0.1:$P_UDP/udp,127.0.0.1:$P_TCP/tcp" \
	"netborder.sip.tls.cypherSuites=TLS_RSA_WITH_AES_128_CBC_SHA,AES256-SHA" \
	"mediagate.sip.tls.minProtocol=TLSv1" "mediagate.sip.tls.maxProtocol=TLSv1.2" \
	"netborder.sip.tls.supportSSLv2ClientHello=true" "mediagate.sip.tls.clientAuth=optional"
if start_gw gw2.properties gw2.log; then ok "gateway starts with TLS beside UDP and TCP"; else bad "gateway 2 start" gw2.log; fi
check "TLS beside UDP/TCP: warned" gw2.log 'not recommended'
if [ "$(grep -c 'SSLv2' gw2.log)" -eq 1 ]; then ok "supportSSLv2ClientHello=true: started, warned once"; else bad "SSLv2 warning count" gw2.log; fi
check "TLS 1.0 opt-in: warned" gw2.log 'below 1\.2'
s_client_probe $P_TLS2 c12.out -tls1_2 -cert client.pem -key client.key
check "cypherSuites=TLS_RSA_WITH_AES_128_CBC_SHA over TLS 1.2: AES128-SHA negotiated" c12.out 'Cipher is AES128-SHA$'
check "... and OPTIONS answered 200" c12.out 'SIP/2.0 200 OK'
s_client_probe $P_TLS2 c12_pref.out -tls1_2 -cipher 'AES256-SHA:AES128-SHA' -cert client.pem -key client.key
check "server preference wins (client prefers AES256-SHA, gets AES128-SHA)" c12_pref.out 'Cipher is AES128-SHA$'
s_client_probe $P_TLS2 c12_other.out -tls1_2 -cipher 'ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384' -cert client.pem -key client.key
check_not "client offering only other suites: no answer" c12_other.out 'SIP/2.0 [0-9]'
check "client offering only other suites: handshake failure" c12_other.out 'alert handshake failure'
s_client_probe $P_TLS2 c13.out -tls1_3 -cert client.pem -key client.key
check "maxProtocol=TLSv1.2: a TLS 1.3-only client is refused" c13.out 'alert protocol version'
s_client_probe $P_TLS2 c10.out -tls1 -cipher 'AES128-SHA@SECLEVEL=0' -cert client.pem -key client.key
check "minProtocol=TLSv1: an OCS 2007 R2-style TLS 1.0 client gets 200" c10.out 'SIP/2.0 200 OK'

s_client_probe $P_TLS2 c_opt_none.out -tls1_2
check "clientAuth=optional: a client without certificate gets 200" c_opt_none.out 'SIP/2.0 200 OK'
s_client_probe $P_TLS2 c_opt_other.out -tls1_2 -cert intruder.pem -key intruder.key
check "clientAuth=optional: a certificate of another CA is still refused" c_opt_other.out 'alert unknown ca'

# SIPp over UDP and TCP.
for t in u1:$P_UDP:udp t1:$P_TCP:tcp; do
	IFS=: read -r mode port name <<< "$t"
	timeout 20 sipp -sf "$SRC/tls_options.xml" -m 1 -t "$mode" "127.0.0.1:$port" -i 127.0.0.1 \
		-p $P_SIPP -nostdin -trace_msg -message_file "sipp_$name.msg" \
		-trace_err -error_file "sipp_$name.err" > "sipp_$name.out" 2>&1
	if [ $? -eq 0 ]; then ok "SIPp over $name: 200 to OPTIONS"; else bad "SIPp over $name" "sipp_$name.msg"; fi
done
timeout 20 sipp -sf "$SRC/tls_invite.xml" -m 1 -t u1 "127.0.0.1:$P_UDP" -i 127.0.0.1 \
	-p $P_SIPP -nostdin -trace_msg -message_file sipp_invite.msg > sipp_invite.out 2>&1
if [ $? -eq 0 ]; then ok "INVITE while the routing rules file does not exist: 503 with Warning (call handling not enabled)"; else bad "INVITE answer" sipp_invite.msg; fi
for mc in MESSAGE:405 SUBSCRIBE:405 INFO:405 FOO:501; do
	IFS=: read -r m code <<< "$mc"
	sed "s/@METHOD@/$m/g; s/@CODE@/$code/g" "$SRC/tls_method.xml" > "method_$m.xml"
	timeout 20 sipp -sf "method_$m.xml" -m 1 -t u1 "127.0.0.1:$P_UDP" -i 127.0.0.1 \
		-p $P_SIPP -nostdin -trace_msg -message_file "sipp_$m.msg" > "sipp_$m.out" 2>&1
	if [ $? -eq 0 ]; then ok "$m: $code with Allow"; else bad "$m answer" "sipp_$m.msg"; fi
done

# ---- 6. bad configurations: exit 2 with a clear message --------------------
# expect_exit2 NAME REGEX UA [key=value...]
expect_exit2() {
	local name=$1 re=$2 ua=$3
	shift 3
	props bad.properties "$ua" "$@"
	timeout 10 "$CONTROL" --config bad.properties > bad.log 2>&1
	local rc=$?
	if [ $rc -eq 2 ] && grep -Eq -- "$re" bad.log; then
		ok "bad config: $name -> exit 2"
	else
		bad "bad config: $name (rc=$rc, want 2 and /$re/)" bad.log
	fi
	# --check refuses what the start refuses, with the same reason
	timeout 10 "$CONTROL" --config bad.properties --check > bad-check.log 2>&1
	rc=$?
	if [ $rc -eq 2 ] && grep -Eq -- "$re" bad-check.log; then
		ok "  --check says the same -> exit 2"
	else
		bad "  --check (rc=$rc, want 2 and /$re/)" bad-check.log
	fi
}
U="127.0.0.1:$P_CLASH/tls"
expect_exit2 "missing certificate file" "missing\.pem.*(No such file|does not exist)" "$U" \
	"netborder.sip.tls.serverCertificateFile=$W/missing.pem"
expect_exit2 "wrong key password" "wrong key password" "$U" \
	"mediagate.sip.tls.keyPasswordFile=$W/gwpw-wrong"
expect_exit2 "key does not match the certificate" "does not match the certificate" "$U" \
	"netborder.sip.tls.serverCertificateFile=$W/client.pem"
expect_exit2 "expired certificate" "certificate expired on" "$U" \
	"netborder.sip.tls.serverCertificateFile=$W/gw-old.pem"
expect_exit2 "empty trust store" "empty trust store" "$U" \
	"netborder.sip.tls.trustedRootCertificatesStore=$W/empty-store.pem"
expect_exit2 "key password file readable by others" "mode 0644 gives access to group or others" "$U" \
	"mediagate.sip.tls.keyPasswordFile=$W/gwpw-open"
expect_exit2 "TCP and TLS on one port" "TCP and TLS" "127.0.0.1:$P_CLASH/tcp,127.0.0.1:$P_CLASH/tls"
expect_exit2 "unknown cipher suite" "cypherSuites" "$U" \
	"netborder.sip.tls.cypherSuites=TLS_NO_SUCH_SUITE"
check_not "no password ever logged" bad.log 'gateway key password|not the password'
check_not "  nor printed by --check" bad-check.log 'gateway key password|not the password'
# --check of a good TLS configuration with a broken rules file: exit 2, file:line
printf '<routing_rules><rule name="x" outbound_interface="sip" qvalue="x"><out_leg><param name="sip.out.requestUri" expr="sip:a@b"/></out_leg></rule></routing_rules>\n' > bad-rules.xml
props check-rules.properties "$U" "mediagate.routing.rulesFile=$W/bad-rules.xml"
timeout 10 "$CONTROL" --config check-rules.properties --check > check-rules.log 2>&1
rc=$?
if [ $rc -eq 2 ] && grep -q "bad-rules.xml:1: rule x: qvalue \"x\"" check-rules.log; then
	ok "--check loads the routing rules: a bad file -> exit 2 naming file:line"
else
	bad "--check with a bad rules file (rc=$rc)" check-rules.log
fi
props check-good.properties "$U" "mediagate.routing.rulesFile=$W/no-such-rules.xml"
timeout 10 "$CONTROL" --config check-good.properties --check > check-good.log 2>&1
rc=$?
if [ $rc -eq 0 ] && grep -q "no-such-rules.xml does not exist" check-good.log; then
	ok "--check of good TLS credentials and a missing rules file: exit 0 with a warning (as the start)"
else
	bad "--check of a good configuration (rc=$rc)" check-good.log
fi

echo "${pass} passed, ${fail} failed"
[ "$fail" -eq 0 ]
