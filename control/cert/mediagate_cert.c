/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mediagate-cert: the certificate steps of the gateway's TLS procedure
 * (docs/tls.md), with libcrypto only:
 *   req          new key pair + PKCS#10 request (CN = FQDN, SAN)
 *   protect-key  decrypt a key with its passphrase, re-encrypt it with the
 *                gateway's key password (the guide's netborder-protect-key)
 *   p7b-to-pem   a CA's PKCS#7 chain (base64 or DER) into a PEM trust store
 *   show         subject, issuer, SAN, validity, fingerprint of certificates
 * Secrets come from files or the terminal, never from the command line.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "mg_build_config.h"

#define CERT_SECRET_MAX 512

static const char *cert_prog = "mediagate-cert";

static void cert_usage(FILE *out)
{
	fprintf(out,
		"usage: %s COMMAND [options]\n"
		"  req [--cn FQDN] [--san LIST] [--key-type rsa|ec] [--bits N]\n"
		"      [--key-out FILE] [--csr-out FILE] [--pass-file FILE | --no-encrypt]\n"
		"      new key pair and PKCS#10 request; CN = the gateway's FQDN, SAN =\n"
		"      LIST (e.g. DNS:gw.example.com,IP:192.0.2.5; default DNS:<cn>).\n"
		"      Missing values are asked for on the terminal.\n"
		"  protect-key --in KEY --out FILE [--in-pass-file FILE] [--password-file FILE]\n"
		"      decrypt KEY with its passphrase and write it encrypted (AES-256) with\n"
		"      the gateway's key password (the file named by\n"
		"      mediagate.sip.tls.keyPasswordFile).\n"
		"  p7b-to-pem --in CHAIN.p7b --out STORE.pem [--all]\n"
		"      the CA's PKCS#7 certificate chain (base64 or DER) into a PEM trust\n"
		"      store; only CA certificates unless --all.\n"
		"  show FILE...\n"
		"      subject, issuer, SAN, validity and SHA-256 fingerprint of every\n"
		"      certificate in PEM/DER certificate files, trust stores and .p7b files.\n",
		cert_prog);
}

static void cert_ossl_err(const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256];

	if (e) {
		ERR_error_string_n(e, buf, sizeof(buf));
		fprintf(stderr, "%s: %s: %s\n", cert_prog, what, buf);
	} else {
		fprintf(stderr, "%s: %s\n", cert_prog, what);
	}
	ERR_clear_error();
}

/* A secret from the first line of a file, or from the terminal without echo. */
static int cert_secret(const char *file, const char *prompt, bool confirm, char *buf,
		       size_t len)
{
	if (file != NULL) {
		FILE *f = fopen(file, "r");

		if (f == NULL) {
			int e = errno;

			fprintf(stderr, "%s: %s: %s\n", cert_prog, file, strerror(e));
			return -e;
		}
		if (fgets(buf, (int)len, f) == NULL)
			buf[0] = '\0';
		fclose(f);
		buf[strcspn(buf, "\r\n")] = '\0';
		if (buf[0] == '\0') {
			fprintf(stderr, "%s: %s: empty password\n", cert_prog, file);
			return -EINVAL;
		}
		return 0;
	}

	FILE *tty = fopen("/dev/tty", "r+");
	struct termios old, quiet;
	char again[CERT_SECRET_MAX];

	if (tty == NULL) {
		fprintf(stderr, "%s: %s: no terminal to ask on; give it in a file\n", cert_prog,
			prompt);
		return -ENOTTY;
	}
	for (int round = 0; round < (confirm ? 2 : 1); round++) {
		char *dst = round ? again : buf;
		size_t dlen = round ? sizeof(again) : len;

		fprintf(tty, "%s%s: ", round ? "Verifying - " : "", prompt);
		fflush(tty);
		tcgetattr(fileno(tty), &old);
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(fileno(tty), TCSAFLUSH, &quiet);
		if (fgets(dst, (int)dlen, tty) == NULL)
			dst[0] = '\0';
		tcsetattr(fileno(tty), TCSAFLUSH, &old);
		fprintf(tty, "\n");
		dst[strcspn(dst, "\r\n")] = '\0';
	}
	fclose(tty);
	if (buf[0] == '\0' || (confirm && strcmp(buf, again) != 0)) {
		fprintf(stderr, "%s: %s\n", cert_prog,
			buf[0] ? "the two entries differ" : "empty password");
		OPENSSL_cleanse(again, sizeof(again));
		return -EINVAL;
	}
	OPENSSL_cleanse(again, sizeof(again));
	return 0;
}

/* A plain value from the terminal (echoed), with a default. */
static int cert_ask(const char *prompt, const char *def, char *buf, size_t len)
{
	FILE *tty = fopen("/dev/tty", "r+");

	if (tty == NULL) {
		fprintf(stderr, "%s: %s: not given and no terminal to ask on\n", cert_prog,
			prompt);
		return -ENOTTY;
	}
	fprintf(tty, "%s [%s]: ", prompt, def ? def : "");
	fflush(tty);
	if (fgets(buf, (int)len, tty) == NULL)
		buf[0] = '\0';
	fclose(tty);
	buf[strcspn(buf, "\r\n")] = '\0';
	if (buf[0] == '\0' && def)
		snprintf(buf, len, "%s", def);
	return buf[0] ? 0 : -EINVAL;
}

static BIO *cert_open_out(const char *path, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	BIO *b;

	if (fd < 0) {
		fprintf(stderr, "%s: %s: %s\n", cert_prog, path, strerror(errno));
		return NULL;
	}
	fchmod(fd, mode); /* an existing file keeps its mode otherwise */
	b = BIO_new_fd(fd, BIO_CLOSE);
	if (b == NULL)
		close(fd);
	return b;
}

static int cert_pw_cb(char *buf, int size, int rwflag, void *u)
{
	const char *pw = u;
	size_t n = pw ? strlen(pw) : 0;

	(void)rwflag;
	if (pw == NULL || n > (size_t)size)
		return -1;
	memcpy(buf, pw, n);
	return (int)n;
}

/* ---- req ---------------------------------------------------------------- */

static EVP_PKEY *cert_keygen(const char *type, int bits)
{
	if (strcmp(type, "ec") == 0)
		return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
}

static int cert_cmd_req(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "cn", required_argument, NULL, 'c' },
		{ "san", required_argument, NULL, 's' },
		{ "key-type", required_argument, NULL, 't' },
		{ "bits", required_argument, NULL, 'b' },
		{ "key-out", required_argument, NULL, 'k' },
		{ "csr-out", required_argument, NULL, 'r' },
		{ "pass-file", required_argument, NULL, 'p' },
		{ "no-encrypt", no_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cn = NULL, *san = NULL, *type = "rsa", *pass_file = NULL;
	const char *key_out = "new-private-key.pem", *csr_out = "new-certificate-request.pem";
	char cnbuf[256], sanbuf[1024], host[256], pass[CERT_SECRET_MAX] = "";
	bool encrypt = true;
	const char *bits_arg = "2048";
	int bits = 2048, opt, rc = 1;
	EVP_PKEY *key = NULL;
	X509_REQ *req = NULL;
	BIO *out = NULL;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': cn = optarg; break;
		case 's': san = optarg; break;
		case 't': type = optarg; break;
		case 'b': {
			char *end;
			long v = strtol(optarg, &end, 10);

			bits_arg = optarg;
			/* "2048x" or "" is no size; out of range is refused below */
			bits = end == optarg || *end != '\0' || v < 0 || v > 1000000 ? 0 : (int)v;
			break;
		}
		case 'k': key_out = optarg; break;
		case 'r': csr_out = optarg; break;
		case 'p': pass_file = optarg; break;
		case 'n': encrypt = false; break;
		default: cert_usage(stderr); return 2;
		}
	}
	if (strcmp(type, "rsa") != 0 && strcmp(type, "ec") != 0) {
		fprintf(stderr, "%s: --key-type %s: unknown (allowed: rsa, ec)\n", cert_prog, type);
		return 2;
	}
	if (strcmp(type, "rsa") == 0 && (bits < 2048 || bits > 16384)) {
		fprintf(stderr, "%s: --bits %s: too weak, too large or not a number (allowed: 2048..16384)\n",
			cert_prog, bits_arg);
		return 2;
	}
	if (cn == NULL) {
		if (gethostname(host, sizeof(host)) < 0)
			host[0] = '\0';
		host[sizeof(host) - 1] = '\0';
		if (cert_ask("Common Name (the gateway's fully qualified domain name)", host, cnbuf,
			     sizeof(cnbuf)) < 0)
			return 2;
		cn = cnbuf;
		if (san == NULL) {
			char def[300];

			snprintf(def, sizeof(def), "DNS:%s", cn);
			if (cert_ask("subjectAltName (DNS:name,IP:address,...)", def, sanbuf,
				     sizeof(sanbuf)) < 0)
				return 2;
			san = sanbuf;
		}
	}
	if (strchr(cn, '/') || strlen(cn) > 64 || cn[0] == '\0') {
		fprintf(stderr, "%s: --cn %s: not a host name (allowed: an FQDN up to 64 characters)\n",
			cert_prog, cn);
		return 2;
	}
	if (san == NULL) {
		snprintf(sanbuf, sizeof(sanbuf), "DNS:%s", cn);
		san = sanbuf;
	}
	if (encrypt && cert_secret(pass_file, "Enter PEM pass phrase", true, pass, sizeof(pass)) < 0)
		return 2;

	key = cert_keygen(type, bits);
	if (key == NULL) {
		cert_ossl_err("key generation failed");
		goto out;
	}
	req = X509_REQ_new();
	X509_NAME *name = X509_REQ_get_subject_name(req);

	if (!X509_REQ_set_version(req, 0) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1,
					-1, 0)) {
		cert_ossl_err("cannot build the request subject");
		goto out;
	}
	{
		STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
		X509V3_CTX v3;
		X509_EXTENSION *e;

		X509V3_set_ctx(&v3, NULL, NULL, req, NULL, 0);
		e = X509V3_EXT_nconf_nid(NULL, &v3, NID_subject_alt_name, san);
		if (e == NULL) {
			fprintf(stderr, "%s: --san %s: not a valid subjectAltName list (e.g. DNS:gw.example.com,IP:192.0.2.5)\n",
				cert_prog, san);
			ERR_clear_error();
			sk_X509_EXTENSION_free(exts);
			rc = 2;
			goto out;
		}
		sk_X509_EXTENSION_push(exts, e);
		/* The gateway is TLS server to inbound and client to outbound peers. */
		e = X509V3_EXT_nconf_nid(NULL, &v3, NID_ext_key_usage, "serverAuth,clientAuth");
		if (e)
			sk_X509_EXTENSION_push(exts, e);
		if (!X509_REQ_add_extensions(req, exts)) {
			cert_ossl_err("cannot add the request extensions");
			sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
			goto out;
		}
		sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	}
	if (!X509_REQ_set_pubkey(req, key) || !X509_REQ_sign(req, key, EVP_sha256())) {
		cert_ossl_err("cannot sign the request");
		goto out;
	}

	out = cert_open_out(key_out, 0600);
	if (out == NULL)
		goto out;
	if (!PEM_write_bio_PKCS8PrivateKey(out, key, encrypt ? EVP_aes_256_cbc() : NULL, NULL, 0,
					   NULL, encrypt ? pass : NULL)) {
		cert_ossl_err("cannot write the private key");
		goto out;
	}
	BIO_free(out);
	out = cert_open_out(csr_out, 0644);
	if (out == NULL || !PEM_write_bio_X509_REQ(out, req)) {
		cert_ossl_err("cannot write the request");
		goto out;
	}
	printf("private key: %s (%s%s)\nrequest:     %s (CN=%s, %s)\n", key_out,
	       strcmp(type, "ec") == 0 ? "EC P-256" : "RSA",
	       encrypt ? ", encrypted" : ", NOT encrypted", csr_out, cn, san);
	rc = 0;
out:
	OPENSSL_cleanse(pass, sizeof(pass));
	BIO_free(out);
	X509_REQ_free(req);
	EVP_PKEY_free(key);
	return rc;
}

/* ---- protect-key -------------------------------------------------------- */

static int cert_cmd_protect(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "in", required_argument, NULL, 'i' },
		{ "out", required_argument, NULL, 'o' },
		{ "in-pass-file", required_argument, NULL, 'p' },
		{ "password-file", required_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 },
	};
	const char *in = NULL, *outp = NULL, *in_pass_file = NULL, *pw_file = NULL;
	char in_pass[CERT_SECRET_MAX] = "", pw[CERT_SECRET_MAX] = "";
	EVP_PKEY *key = NULL;
	BIO *b = NULL;
	int opt, rc = 1;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'i': in = optarg; break;
		case 'o': outp = optarg; break;
		case 'p': in_pass_file = optarg; break;
		case 'w': pw_file = optarg; break;
		default: cert_usage(stderr); return 2;
		}
	}
	if (in == NULL || outp == NULL) {
		fprintf(stderr, "%s: protect-key needs --in KEY and --out FILE\n", cert_prog);
		return 2;
	}
	b = BIO_new_file(in, "r");
	if (b == NULL) {
		fprintf(stderr, "%s: %s: %s\n", cert_prog, in, strerror(errno));
		return 1;
	}
	/* Ask for the input passphrase only if the key is encrypted. */
	{
		char head[4096];
		int n = BIO_read(b, head, sizeof(head) - 1);
		bool enc;

		head[n > 0 ? n : 0] = '\0';
		enc = strstr(head, "ENCRYPTED") != NULL;
		BIO_reset(b);
		if (enc && cert_secret(in_pass_file, "Pass phrase of the input key", false,
				       in_pass, sizeof(in_pass)) < 0)
			goto out;
	}
	key = PEM_read_bio_PrivateKey(b, NULL, cert_pw_cb, in_pass);
	BIO_free(b);
	b = NULL;
	if (key == NULL) {
		cert_ossl_err(in_pass[0] ? "cannot read the key (wrong pass phrase?)" :
					   "cannot read the key (not a PEM private key?)");
		goto out;
	}
	if (cert_secret(pw_file, "Gateway key password", pw_file == NULL, pw, sizeof(pw)) < 0)
		goto out;
	b = cert_open_out(outp, 0600);
	if (b == NULL)
		goto out;
	if (!PEM_write_bio_PKCS8PrivateKey(b, key, EVP_aes_256_cbc(), NULL, 0, NULL, pw)) {
		cert_ossl_err("cannot write the protected key");
		goto out;
	}
	printf("%s: key protected with the gateway key password (AES-256-CBC, mode 0600)\n",
	       outp);
	rc = 0;
out:
	OPENSSL_cleanse(in_pass, sizeof(in_pass));
	OPENSSL_cleanse(pw, sizeof(pw));
	BIO_free(b);
	EVP_PKEY_free(key);
	return rc;
}

/* ---- reading certificates in any of the usual wrappings ------------------- */

static char *cert_slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0, r;

	if (f == NULL) {
		fprintf(stderr, "%s: %s: %s\n", cert_prog, path, strerror(errno));
		return NULL;
	}
	do {
		if (n + 65536 + 1 > cap) {
			char *nb = realloc(buf, cap = cap * 2 + 65536 + 1);

			if (nb == NULL) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
		}
		r = fread(buf + n, 1, 65536, f);
		n += r;
	} while (r > 0 && n < 64u << 20);
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* PKCS#7 from PEM ("-----BEGIN PKCS7-----"), bare base64 (as some CAs serve
 * certnew.p7b), or DER. */
static PKCS7 *cert_parse_p7(const char *buf, size_t len)
{
	PKCS7 *p7 = NULL;
	BIO *b;

	if (strstr(buf, "-----BEGIN PKCS7-----") || strstr(buf, "-----BEGIN CERTIFICATE-----")) {
		b = BIO_new_mem_buf(buf, (int)len);
		p7 = PEM_read_bio_PKCS7(b, NULL, NULL, NULL);
		BIO_free(b);
		ERR_clear_error();
		return p7;
	}
	{
		const unsigned char *p = (const unsigned char *)buf;

		p7 = d2i_PKCS7(NULL, &p, (long)len);
		if (p7)
			return p7;
		ERR_clear_error();
	}
	/* bare base64 */
	b = BIO_new_mem_buf(buf, (int)len);
	BIO *b64 = BIO_new(BIO_f_base64());

	if (b && b64) {
		b = BIO_push(b64, b);
		p7 = d2i_PKCS7_bio(b, NULL);
		BIO_free_all(b);
	} else {
		BIO_free(b);
		BIO_free(b64);
	}
	ERR_clear_error();
	return p7;
}

static STACK_OF(X509) *cert_p7_certs(PKCS7 *p7)
{
	int nid = OBJ_obj2nid(p7->type);

	if (nid == NID_pkcs7_signed && p7->d.sign)
		return p7->d.sign->cert;
	if (nid == NID_pkcs7_signedAndEnveloped && p7->d.signed_and_enveloped)
		return p7->d.signed_and_enveloped->cert;
	return NULL;
}

/* Every certificate of a PEM bundle, a DER certificate or a PKCS#7 file. */
static STACK_OF(X509) *cert_load_any(const char *path)
{
	STACK_OF(X509) *out = sk_X509_new_null();
	size_t len = 0;
	char *buf = cert_slurp(path, &len);
	X509 *x;
	BIO *b;

	if (buf == NULL || out == NULL) {
		free(buf);
		sk_X509_free(out);
		return NULL;
	}
	if (strstr(buf, "-----BEGIN CERTIFICATE-----") || strstr(buf, "-----BEGIN TRUSTED CERTIFICATE-----")) {
		b = BIO_new_mem_buf(buf, (int)len);
		while ((x = PEM_read_bio_X509_AUX(b, NULL, NULL, NULL)) != NULL)
			sk_X509_push(out, x);
		BIO_free(b);
	} else {
		const unsigned char *p = (const unsigned char *)buf;

		x = d2i_X509(NULL, &p, (long)len);
		if (x != NULL && p == (const unsigned char *)buf + len) {
			sk_X509_push(out, x);
		} else {
			X509_free(x);
			ERR_clear_error();
			PKCS7 *p7 = cert_parse_p7(buf, len);
			STACK_OF(X509) *in = p7 ? cert_p7_certs(p7) : NULL;

			for (int i = 0; in && i < sk_X509_num(in); i++) {
				X509_up_ref(sk_X509_value(in, i));
				sk_X509_push(out, sk_X509_value(in, i));
			}
			PKCS7_free(p7);
		}
	}
	ERR_clear_error();
	free(buf);
	return out;
}

/* ---- p7b-to-pem --------------------------------------------------------- */

static int cert_cmd_p7b(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "in", required_argument, NULL, 'i' },
		{ "out", required_argument, NULL, 'o' },
		{ "all", no_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 },
	};
	const char *in = NULL, *outp = NULL;
	bool all = false;
	int written = 0;
	STACK_OF(X509) *certs = NULL;
	PKCS7 *p7 = NULL;
	char *buf = NULL;
	size_t len = 0;
	BIO *b = NULL;
	int opt, rc = 1;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'i': in = optarg; break;
		case 'o': outp = optarg; break;
		case 'a': all = true; break;
		default: cert_usage(stderr); return 2;
		}
	}
	if (in == NULL || outp == NULL) {
		fprintf(stderr, "%s: p7b-to-pem needs --in CHAIN.p7b and --out STORE.pem\n",
			cert_prog);
		return 2;
	}
	buf = cert_slurp(in, &len);
	if (buf == NULL)
		return 1;
	p7 = cert_parse_p7(buf, len);
	certs = p7 ? cert_p7_certs(p7) : NULL;
	if (certs == NULL || sk_X509_num(certs) == 0) {
		fprintf(stderr, "%s: %s: not a PKCS#7 certificate chain (allowed: base64 or DER .p7b holding certificates)\n",
			cert_prog, in);
		goto out;
	}
	b = cert_open_out(outp, 0644);
	if (b == NULL)
		goto out;
	for (int i = 0; i < sk_X509_num(certs); i++) {
		X509 *x = sk_X509_value(certs, i);
		char s[256];

		X509_NAME_oneline(X509_get_subject_name(x), s, sizeof(s));
		/* A CA's chain file also holds the gateway's own certificate; a trust
		 * store holding it would trust anyone presenting it. */
		if (!all && !X509_check_ca(x)) {
			printf("%s: skipped end-entity certificate %s (--all keeps it)\n", outp, s);
			continue;
		}
		written++;
		BIO_printf(b, "# subject: %s\n", s);
		X509_NAME_oneline(X509_get_issuer_name(x), s, sizeof(s));
		BIO_printf(b, "# issuer:  %s\n", s);
		if (!PEM_write_bio_X509(b, x)) {
			cert_ossl_err("cannot write the store");
			goto out;
		}
	}
	printf("%s: %d certificate(s) written\n", outp, written);
	rc = written > 0 ? 0 : 1;
	if (written == 0)
		fprintf(stderr, "%s: %s: no CA certificate in the chain\n", cert_prog, in);
out:
	BIO_free(b);
	PKCS7_free(p7);
	free(buf);
	return rc;
}

/* ---- show --------------------------------------------------------------- */

static void cert_print_time(const char *label, const ASN1_TIME *t)
{
	BIO *o = BIO_new_fp(stdout, BIO_NOCLOSE);

	BIO_printf(o, "  %s", label);
	ASN1_TIME_print(o, t);
	BIO_printf(o, "\n");
	BIO_free(o);
}

static void cert_show_one(X509 *x, int idx)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	char s[512];
	GENERAL_NAMES *sans;

	printf("certificate %d:\n", idx);
	X509_NAME_oneline(X509_get_subject_name(x), s, sizeof(s));
	printf("  subject:     %s\n", s);
	X509_NAME_oneline(X509_get_issuer_name(x), s, sizeof(s));
	printf("  issuer:      %s\n", s);
	sans = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	printf("  SAN:        ");
	for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans); i++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);
		BIO *o = BIO_new_fp(stdout, BIO_NOCLOSE);

		BIO_printf(o, "%s", i ? ", " : " ");
		GENERAL_NAME_print(o, g);
		BIO_free(o);
	}
	printf("%s\n", sans && sk_GENERAL_NAME_num(sans) ? "" : " (none)");
	GENERAL_NAMES_free(sans);
	cert_print_time("not before:  ", X509_get0_notBefore(x));
	cert_print_time("not after:   ", X509_get0_notAfter(x));
	printf("  status:      %s\n",
	       X509_cmp_current_time(X509_get0_notAfter(x)) < 0 ? "EXPIRED" :
	       X509_cmp_current_time(X509_get0_notBefore(x)) > 0 ? "NOT YET VALID" :
								   "valid now");
	printf("  CA:          %s\n", X509_check_ca(x) ? "yes" : "no");
	X509_digest(x, EVP_sha256(), md, &mdlen);
	printf("  SHA-256:     ");
	for (unsigned i = 0; i < mdlen; i++)
		printf("%02X%s", md[i], i + 1 < mdlen ? ":" : "\n");
}

static int cert_cmd_show(int argc, char **argv)
{
	int rc = 0;

	if (argc < 2) {
		fprintf(stderr, "%s: show needs at least one FILE\n", cert_prog);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		STACK_OF(X509) *certs = cert_load_any(argv[i]);

		if (certs == NULL || sk_X509_num(certs) == 0) {
			fprintf(stderr, "%s: %s: no certificate found (allowed: PEM or DER certificate, PEM bundle, PKCS#7)\n",
				cert_prog, argv[i]);
			rc = 1;
		} else {
			printf("%s: %d certificate(s)\n", argv[i], sk_X509_num(certs));
			for (int j = 0; j < sk_X509_num(certs); j++)
				cert_show_one(sk_X509_value(certs, j), j + 1);
		}
		sk_X509_pop_free(certs, X509_free);
	}
	return rc;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		cert_usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		cert_usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("mediagate-cert %s\n", MG_VERSION);
		return 0;
	}
	umask(077);
	if (!strcmp(argv[1], "req"))
		return cert_cmd_req(argc - 1, argv + 1);
	if (!strcmp(argv[1], "protect-key"))
		return cert_cmd_protect(argc - 1, argv + 1);
	if (!strcmp(argv[1], "p7b-to-pem"))
		return cert_cmd_p7b(argc - 1, argv + 1);
	if (!strcmp(argv[1], "show"))
		return cert_cmd_show(argc - 1, argv + 1);
	fprintf(stderr, "%s: unknown command %s (allowed: req, protect-key, p7b-to-pem, show)\n",
		cert_prog, argv[1]);
	return 2;
}
