# SPDX-License-Identifier: BSD-3-Clause
# A throw-away CA in the current directory for the end-to-end tests (sourced
# by tls_interop.sh, call_bed.sh and tdm/tdme_two_gateways.sh): `openssl ca`
# signs the requests that mediagate-cert (the guide's procedure) and the peers
# make.
#
#   test_ca_init CN DAYS      ca.cnf, ca.key, ca.pem and the CA's database
#   test_ca_sign CSR OUT [openssl ca options...]
#   test_ca_peer NAME IP DOMAIN   NAME.pem: key and certificate of a SIP peer
#                                 (CN and SAN DNS NAME.DOMAIN, SAN IP), signed
# The signed certificates keep the request's extensions (SAN) and get
# CA:FALSE, digitalSignature + keyEncipherment.

test_ca_init() {
	cat > ca.cnf << EOF
[ ca ]
default_ca = test_ca
[ test_ca ]
dir = .
database = \$dir/index.txt
serial = \$dir/serial
new_certs_dir = \$dir/newcerts
certificate = \$dir/ca.pem
private_key = \$dir/ca.key
default_md = sha256
default_days = $2
policy = test_ca_policy
copy_extensions = copy
unique_subject = no
x509_extensions = test_ca_ext
[ test_ca_policy ]
commonName = supplied
[ test_ca_ext ]
basicConstraints = CA:FALSE
keyUsage = digitalSignature, keyEncipherment
EOF
	mkdir -p newcerts
	: > index.txt
	echo 01 > serial
	openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days "$2" -subj "/CN=$1" 2> /dev/null
}

test_ca_sign() {
	openssl ca -batch -config ca.cnf -in "$1" -out "$2" "${@:3}"
}

test_ca_peer() {
	openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "/CN=$1.$3" \
		-addext "subjectAltName=DNS:$1.$3,IP:$2"
	test_ca_sign "$1.csr" "$1.crt"
	cat "$1.crt" "$1.key" > "$1.pem"
}
