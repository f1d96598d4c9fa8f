/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the TLS policy module: key password file rules, start-up
 * credential checks (each failure the guide's procedure can produce), and the
 * per-SSL hook overriding what a library set on its SSL_CTX afterwards.
 * Certificates are made here with libcrypto (EC P-256: fast).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "tlscfg.h"

static char tdir[64];

static void path_of(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", tdir, name);
}

static void write_text(const char *name, const char *text, mode_t mode)
{
	char p[128];
	int fd;

	path_of(p, sizeof(p), name);
	unlink(p);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, mode);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	fchmod(fd, mode);
	close(fd);
}

static EVP_PKEY *new_key(void)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");

	assert_non_null(k);
	return k;
}

/* A certificate for @cn signed by @ca_key (self-signed when @ca is NULL). */
static X509 *new_cert(const char *cn, EVP_PKEY *key, X509 *ca, EVP_PKEY *ca_key, long from,
		      long to, bool is_ca)
{
	X509 *x = X509_new();
	X509V3_CTX v3;
	X509_EXTENSION *e;

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), (long)rand());
	X509_gmtime_adj(X509_getm_notBefore(x), from);
	X509_gmtime_adj(X509_getm_notAfter(x), to);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
				   (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, ca ? X509_get_subject_name(ca) : X509_get_subject_name(x));
	X509_set_pubkey(x, key);
	X509V3_set_ctx(&v3, ca ? ca : x, x, NULL, NULL, 0);
	e = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints,
				is_ca ? "critical,CA:TRUE" : "CA:FALSE");
	X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
	assert_true(X509_sign(x, ca_key, EVP_sha256()) > 0);
	return x;
}

static void write_cert(const char *name, X509 *x)
{
	char p[128];
	FILE *f;

	path_of(p, sizeof(p), name);
	f = fopen(p, "w");
	assert_non_null(f);
	PEM_write_X509(f, x);
	fclose(f);
}

static void write_key(const char *name, EVP_PKEY *k, const char *pass)
{
	char p[128];
	FILE *f;

	path_of(p, sizeof(p), name);
	f = fopen(p, "w");
	assert_non_null(f);
	PEM_write_PKCS8PrivateKey(f, k, pass ? EVP_aes_256_cbc() : NULL, NULL, 0, NULL,
				  (void *)(uintptr_t)pass);
	fclose(f);
}

static EVP_PKEY *ca_key, *gw_key, *other_key;
static X509 *ca, *gw, *gw_expired;

static int setup(void **state)
{
	(void)state;
	snprintf(tdir, sizeof(tdir), "/tmp/tls_unit.XXXXXX");
	assert_non_null(mkdtemp(tdir));
	setenv("TMPDIR", tdir, 1);
	ca_key = new_key();
	gw_key = new_key();
	other_key = new_key();
	ca = new_cert("tls-unit-ca", ca_key, NULL, ca_key, -3600, 86400, true);
	gw = new_cert("gw.unit.test", gw_key, ca, ca_key, -3600, 86400, false);
	gw_expired = new_cert("gw.unit.test", gw_key, ca, ca_key, -7200, -3600, false);
	write_cert("ca.pem", ca);
	write_cert("gw.pem", gw);
	write_cert("gw-expired.pem", gw_expired);
	write_key("gw-key.pem", gw_key, "right-password");
	write_key("other-key.pem", other_key, "right-password");
	write_text("empty.pem", "# no certificates here\n", 0644);
	write_text("pw", "right-password\n", 0600);
	write_text("pw-wrong", "wrong-password\n", 0600);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	tlscfg_fini();
	X509_free(ca);
	X509_free(gw);
	X509_free(gw_expired);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(gw_key);
	EVP_PKEY_free(other_key);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void settings(struct mg_settings *s, const char *cert, const char *key,
		     const char *trust, const char *pw)
{
	memset(s, 0, sizeof(*s));
	if (cert)
		path_of(s->tls_cert_file, sizeof(s->tls_cert_file), cert);
	if (key)
		path_of(s->tls_key_file, sizeof(s->tls_key_file), key);
	if (trust)
		path_of(s->tls_trust_store, sizeof(s->tls_trust_store), trust);
	if (pw)
		path_of(s->tls_key_password_file, sizeof(s->tls_key_password_file), pw);
	snprintf(s->tls12_ciphers, sizeof(s->tls12_ciphers), "ECDHE-ECDSA-AES128-GCM-SHA256");
	snprintf(s->tls13_ciphersuites, sizeof(s->tls13_ciphersuites), "TLS_AES_128_GCM_SHA256");
	s->tls_min_version = TLS1_2_VERSION;
	s->tls_max_version = TLS1_3_VERSION;
}

static void expect_init_error(struct mg_settings *s, const char *needle)
{
	char err[512] = "";

	assert_true(tlscfg_init(s, err, sizeof(err)) < 0);
	if (strstr(err, needle) == NULL)
		fail_msg("error \"%s\" does not contain \"%s\"", err, needle);
	assert_null(tlscfg_sofia());
}

static void test_password_file_modes(void **state)
{
	char pw[64], err[256], p[128];

	(void)state;
	path_of(p, sizeof(p), "pw");
	assert_int_equal(tlscfg_read_password_file(p, pw, sizeof(pw), err, sizeof(err)), 0);
	assert_string_equal(pw, "right-password");

	write_text("pw-group", "secret\n", 0640);
	path_of(p, sizeof(p), "pw-group");
	assert_int_equal(tlscfg_read_password_file(p, pw, sizeof(pw), err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "mode 0640"));
	/* the message never carries the password */
	assert_null(strstr(err, "secret"));

	write_text("pw-world", "secret\n", 0604);
	path_of(p, sizeof(p), "pw-world");
	assert_int_equal(tlscfg_read_password_file(p, pw, sizeof(pw), err, sizeof(err)), -EPERM);

	write_text("pw-empty", "\n", 0600);
	path_of(p, sizeof(p), "pw-empty");
	assert_int_equal(tlscfg_read_password_file(p, pw, sizeof(pw), err, sizeof(err)), -EINVAL);

	path_of(p, sizeof(p), "pw-missing");
	assert_int_equal(tlscfg_read_password_file(p, pw, sizeof(pw), err, sizeof(err)), -ENOENT);
}

static void test_credentials_good(void **state)
{
	struct mg_settings s;
	char err[512] = "", p[PATH_MAX + 16];
	const struct tlscfg_sofia *tc;
	struct stat st;

	(void)state;
	settings(&s, "gw.pem", "gw-key.pem", "ca.pem", "pw");
	assert_int_equal(tlscfg_init(&s, err, sizeof(err)), 0);
	tc = tlscfg_sofia();
	assert_non_null(tc);
	assert_string_equal(tc->passphrase, "right-password");
	assert_int_equal(tc->verify_policy, 0x3); /* TPTLS_VERIFY_ALL: require */
	snprintf(p, sizeof(p), "%s/agent.pem", tc->cert_dir);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	snprintf(p, sizeof(p), "%s/cafile.pem", tc->cert_dir);
	assert_int_equal(stat(p, &st), 0);
	tlscfg_fini();
	assert_int_equal(stat(p, &st), -1); /* the private directory is gone */

	s.tls_client_auth = MG_TLS_CLIENT_AUTH_OPTIONAL;
	assert_int_equal(tlscfg_init(&s, err, sizeof(err)), 0);
	assert_int_equal(tlscfg_sofia()->verify_policy, 0x2); /* outgoing only */
	tlscfg_fini();
}

static void test_credentials_bad(void **state)
{
	struct mg_settings s;

	(void)state;
	settings(&s, "missing.pem", "gw-key.pem", "ca.pem", "pw");
	expect_init_error(&s, "No such file");
	settings(&s, "gw.pem", "gw-key.pem", "ca.pem", "pw-wrong");
	expect_init_error(&s, "wrong key password");
	settings(&s, "gw.pem", "gw-key.pem", "ca.pem", NULL);
	expect_init_error(&s, "keyPasswordFile is not set");
	settings(&s, "gw.pem", "other-key.pem", "ca.pem", "pw");
	expect_init_error(&s, "does not match the certificate");
	settings(&s, "gw-expired.pem", "gw-key.pem", "ca.pem", "pw");
	expect_init_error(&s, "certificate expired on");
	settings(&s, "gw.pem", "gw-key.pem", "empty.pem", "pw");
	expect_init_error(&s, "empty trust store");
	settings(&s, "gw.pem", "gw-key.pem", NULL, "pw");
	expect_init_error(&s, "trustedRootCertificatesStore is not set");
	settings(&s, "gw.pem", "gw-key.pem", "no-store.pem", "pw");
	expect_init_error(&s, "no-store.pem: No such file");
	settings(&s, "gw.pem", "gw-key.pem", "ca.pem", "pw");
	snprintf(s.tls12_ciphers, sizeof(s.tls12_ciphers), "NO-SUCH-CIPHER");
	expect_init_error(&s, "netborder.sip.tls.cypherSuites");
}

/* What sofia does: its own cipher list and verify mode on the context, then
 * SSL_new() per connection. The hook must win. */
static void test_hook_overrides_context(void **state)
{
	struct mg_settings s;
	char err[512] = "";
	SSL_CTX *ctx;
	SSL *ssl;

	(void)state;
	settings(&s, "gw.pem", "gw-key.pem", "ca.pem", "pw");
	snprintf(s.tls12_ciphers, sizeof(s.tls12_ciphers), "AES128-SHA");
	s.tls_max_version = TLS1_2_VERSION;
	assert_int_equal(tlscfg_init(&s, err, sizeof(err)), 0);

	ctx = SSL_CTX_new(TLS_method());
	assert_non_null(ctx);
	assert_int_equal(SSL_CTX_set_cipher_list(ctx, "ALL:!ADH:!LOW:!EXP:!MD5:@STRENGTH"), 1);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);

	ssl = SSL_new(ctx);
	assert_non_null(ssl);
	assert_string_equal(SSL_get_cipher_list(ssl, 0), "AES128-SHA");
	assert_null(SSL_get_cipher_list(ssl, 1));
	assert_int_equal(SSL_get_min_proto_version(ssl), TLS1_2_VERSION);
	assert_int_equal(SSL_get_max_proto_version(ssl), TLS1_2_VERSION);
	assert_true(SSL_get_options(ssl) & SSL_OP_CIPHER_SERVER_PREFERENCE);
	assert_true(SSL_get_verify_mode(ssl) & SSL_VERIFY_FAIL_IF_NO_PEER_CERT);
	assert_non_null(SSL_get_certificate(ssl));
	assert_int_equal(X509_cmp(SSL_get_certificate(ssl), gw), 0);
	SSL_free(ssl);

	/* Inert once finished: the context's own settings apply again. */
	tlscfg_fini();
	ssl = SSL_new(ctx);
	assert_non_null(ssl);
	assert_string_not_equal(SSL_get_cipher_list(ssl, 0), "AES128-SHA");
	assert_int_equal(SSL_get_verify_mode(ssl), SSL_VERIFY_NONE);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_password_file_modes),
		cmocka_unit_test(test_credentials_good),
		cmocka_unit_test(test_credentials_bad),
		cmocka_unit_test(test_hook_overrides_context),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
