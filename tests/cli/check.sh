#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# --check of both daemons on good and bad configurations: exit codes and
# messages (file:line, key, value, what is allowed).
# usage: check.sh SOURCE_DIR BINARY...
set -u
src=$1
shift
dir=$src/tests/cli
tmp=$(mktemp -d /tmp/cfg-cli.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0

ok() { pass=$((pass + 1)); }
ko() { fail=$((fail + 1)); echo "FAIL: $*"; }

# run BIN ARGS...: stdout in $tmp/out, stderr in $tmp/err, exit code in $rc
run() {
	"$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
}

expect_rc() {
	if [ "$rc" -eq "$1" ]; then ok; else ko "$2: exit $rc, wanted $1"; sed 's/^/  | /' "$tmp/err"; fi
}

# has FILE STRING: fixed-string search
has() {
	if grep -qF -- "$2" "$tmp/$1"; then ok; else ko "$3: $1 lacks: $2"; sed 's/^/  | /' "$tmp/$1"; fi
}

count() { grep -cF -- "$2" "$tmp/$1"; }

[ $# -gt 0 ] || { echo "no binaries to test"; exit 1; }

# Real TLS credentials for the configurations that must pass mediagate-control's
# --check (it checks them as the start does): a CA, the gateway's certificate
# and its key encrypted with the password in a root-only file.
pki=$tmp/pki
mkdir -p "$pki"
printf 'cli check key password\n' >"$pki/pw"
chmod 600 "$pki/pw"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$pki/ca.key" -out "$pki/ca.pem" -days 2 \
	-subj /CN=cfg-cli-ca 2>/dev/null &&
	openssl req -newkey rsa:2048 -keyout "$pki/gw.key" -passout "file:$pki/pw" -out "$pki/gw.csr" \
		-subj /CN=gw.cli.test 2>/dev/null &&
	openssl x509 -req -in "$pki/gw.csr" -CA "$pki/ca.pem" -CAkey "$pki/ca.key" -CAcreateserial \
		-out "$pki/gw.pem" -days 2 2>/dev/null || { echo "FAIL: openssl could not make test credentials"; exit 1; }
for bin in "$@"; do
	name=$(basename "$bin")

	# no file: embedded defaults
	run "$bin" --check
	expect_rc 0 "$name defaults"
	has out "netborder.sip.userAgent.IPAddress=INADDR_ANY:5060/udp,INADDR_ANY:5060/tcp	# default" "$name defaults"

	# the shipped example loads without a single message
	run "$bin" --config "$src/configs/gw.properties" --check
	expect_rc 0 "$name configs/gw.properties"
	if [ -s "$tmp/err" ]; then ko "$name configs/gw.properties: stderr not empty"; sed 's/^/  | /' "$tmp/err"; else ok; fi
	has out "netborder.media.srtp.mode=as-needed	# $src/configs/gw.properties:" "$name example origin"

	# a good file: values, expansion, and file:line origins; its installation
	# directory is made here so the files it names exist
	inst=$tmp/inst
	mkdir -p "$inst/config/certs"
	cp "$pki/gw.pem" "$inst/config/certs/certnew.cer"
	cp "$pki/gw.key" "$inst/config/certs/new-private-key-protected.pem"
	cp "$pki/ca.pem" "$inst/config/certs/newTrustedRootCertificatesStore.pem"
	f=$tmp/good.properties
	sed "s#/opt/mediagate#$inst#" "$dir/good.properties" >"$f"
	echo "mediagate.sip.tls.keyPasswordFile=$pki/pw" >>"$f"
	run "$bin" --config "$f" --check
	expect_rc 0 "$name good"
	has out "netborder.sip.tls.serverCertificateFile=$inst/config/certs/certnew.cer	# $f:5" "$name good"
	has out "netborder.sip.tls.serverCertificatePrivateKeyFile=$inst/config/certs/new-private-key-protected.pem	# $f:6" "$name good"
	has out "netborder.sip.tls.trustedRootCertificatesStore=$inst/config/certs/newTrustedRootCertificatesStore.pem	# $f:7" "$name good"
	has out "netborder.sip.tls.cypherSuites=TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_RSA_WITH_AES_128_CBC_SHA	# $f:8" "$name good"
	has out "# derived: OpenSSL TLS 1.0-1.2 cipher list: ECDHE-RSA-AES128-GCM-SHA256:AES128-SHA" "$name good"
	has out "mediagate.dataplane.port.0.device=net_null0	# $f:14" "$name good"
	has out "mediagate.log.level=info	# default" "$name good"
	if [ -s "$tmp/err" ]; then ko "$name good: stderr not empty"; sed 's/^/  | /' "$tmp/err"; else ok; fi

	# warnings, each naming file:line; the dataplane starts (exit 0), the
	# control plane would not: the certificate files it names do not exist
	f=$dir/warn.properties
	run "$bin" --config "$f" --check
	case $name in
	mediagate-control)
		expect_rc 2 "$name warn"
		has err "error: netborder.sip.tls.serverCertificateFile /etc/mediagate/cert.pem: No such file or directory" "$name warn" ;;
	*) expect_rc 0 "$name warn" ;;
	esac
	has err "$f:3: netborder.sip.userAgent.IPAddress=INADDR_ANY:5060/udp,INADDR_ANY:5061/tls: warning: a SIP/TLS user agent runs beside" "$name warn"
	has err "$f:6: netborder.sip.tls.supportSSLv2ClientHello=true: warning: " "$name warn"
	has err "this setting has no effect" "$name warn"
	has err "$f:7: netborder.mdedia.srtp.cryptoSuite=AES_CM_128_HMAC_SHA1_32: warning: both netborder.media.srtp.cryptoSuite ($f:8)" "$name warn"
	has err "netborder.media.srtp.cryptoSuite wins" "$name warn"
	has err "$f:10: mediagate.sip.tls.minProtocol=TLSv1: warning: TLS versions below 1.2" "$name warn"
	has err "$f:11: netborder.media.srtp.mod=always: warning: unknown key, ignored (did you mean netborder.media.srtp.mode?)" "$name warn"
	has out "netborder.media.srtp.cryptoSuite=AES_CM_128_HMAC_SHA1_80	# $f:8" "$name warn"
	# the control plane opens the certificate files: it warns that they are missing
	case $name in
	mediagate-control)
		has err "$f:4: netborder.sip.tls.serverCertificateFile=/etc/mediagate/cert.pem: warning: /etc/mediagate/cert.pem: No such file or directory" "$name warn" ;;
	*)
		if grep -qF "No such file" "$tmp/err"; then ko "$name warn: checks files it does not open"; else ok; fi ;;
	esac

	# TCP and TLS on one port: refused, both entries named
	f=$dir/bad-tcp-tls.properties
	run "$bin" --config "$f" --check
	expect_rc 2 "$name tcp+tls"
	has err "$f:5: netborder.sip.userAgent.IPAddress=INADDR_ANY:5066/tcp,INADDR_ANY:5066/tls: error: TCP and TLS user agents share port 5066: entry 1 (INADDR_ANY:5066/tcp) and entry 2 (INADDR_ANY:5066/tls) (allowed: " "$name tcp+tls"
	if [ -s "$tmp/out" ]; then ko "$name tcp+tls: printed a configuration"; else ok; fi

	# many errors: every one reported with file:line, key=value and what is allowed
	f=$dir/bad-values.properties
	run "$bin" --config "$f" --check
	expect_rc 2 "$name bad values"
	has err "$f:3: netborder.sip.tls.cypherSuites=TLS_RSA_WITH_AES_128_CBC_SHA,TLS_RSA_WITH_FOO: error: unknown cipher suite \"TLS_RSA_WITH_FOO\" (allowed: " "$name bad values"
	has err "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" "$name bad values"
	has err "$f:4: netborder.mdedia.srtp.cryptoSuite=AES_CM_128_HMAC_SHA1_80,AES_256_CM_HMAC_SHA1_80: error: unknown crypto suite \"AES_256_CM_HMAC_SHA1_80\" (allowed: AES_CM_128_HMAC_SHA1_80, AES_CM_128_HMAC_SHA1_32)" "$name bad values"
	has err "$f:5: netborder.media.srtp.mode=sometimes: error: unknown SRTP mode (allowed: always, as-needed, never)" "$name bad values"
	has err "$f:6: mediagate.media.portRange=16385-32767: error: range must start on an even port and end on an odd one (allowed: " "$name bad values"
	has err "$f:7: mediagate.sip.tls.minProtocol=TLSv1.3: error: minimum TLS version TLSv1.3 is above the maximum TLSv1.2" "$name bad values"
	has err "$f:9: netborder.sip.tls.trustedRootCertificatesStore=\${undefined.key}/ca.pem: error: \${undefined.key}: undefined key" "$name bad values"
	has err "$f:10: mediagate.log.level=\${mediagate.log.level}: error: expansion cycle: \${mediagate.log.level} -> \${mediagate.log.level}" "$name bad values"
	has err "$f:11: bad\\u12=1: error: malformed \\uXXXX escape" "$name bad values"
	has err "$f: 8 errors, 0 warnings: configuration refused" "$name bad values"
	n=$(count err ": error: ")
	if [ "$n" -eq 8 ]; then ok; else ko "$name bad values: $n error lines, wanted 8"; fi

	# an IPv6 media address: refused at load, not ignored at run time
	f=$dir/bad-ipv6.properties
	run "$bin" --config "$f" --check
	expect_rc 2 "$name ipv6 address"
	has err "$f:5: mediagate.dataplane.port.0.addresses=192.0.2.1/24,2001:db8::1/64: error: IPv6 address \"2001:db8::1/64\": the dataplane handles IPv4 only (allowed: comma list of IPv4 addresses with optional /prefix (CIDR" "$name ipv6 address"
	if [ -s "$tmp/out" ]; then ko "$name ipv6 address: printed a configuration"; else ok; fi

	# a UTF-8 BOM (Windows editors) before the first key: the key still counts
	f=$tmp/bom.properties
	printf '\357\273\277netborder.media.srtp.mode=always\r\nmediagate.log.level=debug\r\n' >"$f"
	run "$bin" --config "$f" --check
	expect_rc 0 "$name bom"
	has out "netborder.media.srtp.mode=always	# $f:1" "$name bom"
	has out "mediagate.log.level=debug	# $f:2" "$name bom"
	if [ -s "$tmp/err" ]; then ko "$name bom: stderr not empty"; sed 's/^/  | /' "$tmp/err"; else ok; fi

	# a file that is not there
	run "$bin" --config "$tmp/missing.properties" --check
	expect_rc 2 "$name missing file"
	has err "$tmp/missing.properties: error: cannot open: No such file or directory" "$name missing file"
done

echo "cli --check: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
