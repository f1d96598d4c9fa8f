/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the configuration loader: defaults, every validator, every
 * rule across keys, aliases, pattern keys, --check output and the message
 * format "file:line: key=value: error: problem (allowed: ...)".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/ssl.h>

#include "mg_build_config.h"
#include "mg_config.h"
#include "mg_config_int.h"
#include "mg_tls_ciphers.h"

struct loaded {
	struct mg_config *cfg;
	char *diag;
	size_t diag_len;
	int err;
};

static void load_role(struct loaded *l, const char *text, enum mg_config_role role)
{
	FILE *d;

	l->diag = NULL;
	d = open_memstream(&l->diag, &l->diag_len);
	assert_non_null(d);
	errno = 0;
	l->cfg = mg_config_load_string(text, "t.properties", role, d);
	l->err = errno;
	fclose(d);
}

static void load(struct loaded *l, const char *text)
{
	load_role(l, text, MG_CONFIG_ROLE_CONTROL);
}

static void unload(struct loaded *l)
{
	mg_config_free(l->cfg);
	free(l->diag);
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

/* The load must succeed, and the diagnostics must contain @p want (if not NULL). */
static const struct mg_settings *ok(struct loaded *l, const char *text, const char *want)
{
	load(l, text);
	if (l->cfg == NULL)
		fprintf(stderr, "unexpected failure:\n%s", l->diag);
	assert_non_null(l->cfg);
	if (want != NULL) {
		if (strstr(l->diag, want) == NULL)
			fprintf(stderr, "wanted \"%s\" in:\n%s", want, l->diag);
		assert_non_null(strstr(l->diag, want));
	}
	return mg_config_settings(l->cfg);
}

/* The load must fail with EINVAL and the diagnostics must contain @p want. */
static void fails(const char *text, const char *want)
{
	struct loaded l;

	load(&l, text);
	if (l.cfg != NULL || strstr(l.diag, want) == NULL)
		fprintf(stderr, "config:\n%s\nwanted failure with \"%s\", got:\n%s", text, want,
			l.diag);
	assert_null(l.cfg);
	assert_int_equal(l.err, EINVAL);
	assert_non_null(strstr(l.diag, want));
	assert_non_null(strstr(l.diag, "configuration refused"));
	unload(&l);
}

static void test_defaults(void **state)
{
	struct loaded l;
	const struct mg_settings *s = ok(&l, "", NULL);
	(void)state;

	assert_int_equal(mg_config_warnings(l.cfg), 0);
	assert_string_equal(s->install_dir, MG_PREFIX);
	assert_int_equal(s->n_ua, 2);
	assert_int_equal(s->ua[0].transport, MG_TRANSPORT_UDP);
	assert_int_equal(s->ua[0].port, 5060);
	assert_string_equal(s->ua[0].addr, "");
	assert_int_equal(s->ua[0].family, AF_INET);
	assert_int_equal(s->ua[1].transport, MG_TRANSPORT_TCP);
	assert_int_equal(s->srtp_mode, MG_SRTP_MODE_AS_NEEDED);
	assert_int_equal(s->n_crypto_suites, 2);
	assert_int_equal(s->crypto_suites[0], MG_SRTP_AES_CM_128_HMAC_SHA1_80);
	assert_int_equal(s->crypto_suites[1], MG_SRTP_AES_CM_128_HMAC_SHA1_32);
	assert_false(s->lock_on_sdp);
	assert_false(s->ssl2_client_hello);
	assert_int_equal(s->tls_min_version, TLS1_2_VERSION);
	assert_int_equal(s->tls_max_version, TLS1_3_VERSION);
	assert_int_equal(s->tls_client_auth, MG_TLS_CLIENT_AUTH_REQUIRE);
	/* modern suites first, the guide's suite last */
	assert_true(strncmp(s->tls12_ciphers, "ECDHE-ECDSA-AES256-GCM-SHA384:", 30) == 0);
	assert_non_null(strstr(s->tls12_ciphers, "ECDHE-RSA-CHACHA20-POLY1305"));
	assert_non_null(strstr(s->tls12_ciphers, ":AES128-SHA"));
	assert_string_equal(s->tls13_ciphersuites,
			    "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:"
			    "TLS_AES_128_GCM_SHA256");
	assert_int_equal(s->media_port_min, 16384);
	assert_int_equal(s->media_port_max, 32767);
	assert_int_equal(s->log_level, MG_LOG_INFO);
	assert_int_equal(s->n_allowed_uids, 1);
	assert_int_equal(s->allowed_uids[0], 0);
	assert_int_equal(s->n_ports, 0);
	assert_int_equal(s->n_tdm_spans, 0);
	assert_int_equal(s->idle_sleep_us, 100);
	assert_true(s->tdm_echo_cancel);
	char want[PATH_MAX + 64];
	snprintf(want, sizeof(want), "%s/routing-rules.xml", MG_CONFDIR);
	assert_string_equal(s->routing_rules_file, want);
	assert_string_equal(mg_config_get(l.cfg, "mediagate.routing.rulesFile"), want);
	assert_null(mg_config_get(l.cfg, "no.such.key"));
	unsigned line = 99;
	assert_string_equal(mg_config_origin(l.cfg, "netborder.media.srtp.mode", &line),
			    "default");
	unload(&l);
}

static void test_guide_example(void **state)
{
	struct loaded l;
	const struct mg_settings *s;
	(void)state;

	/* the vendor guide's settings, with its spellings, load unchanged */
	s = ok(&l,
	       "netborder.Installation.Directory=/opt/nbe\n"
	       "netborder.sip.userAgent.IPAddress=INADDR_ANY:5066/tcp,INADDR_ANY:5067/tls\n"
	       "netborder.sip.tls.serverCertificateFile=$\\\n"
	       "{netborder.Installation.Directory}/config/certs/certnew.cer\n"
	       "netborder.sip.tls.serverCertificatePrivateKeyFile=${netborder.Installation."
	       "Directory}/config/certs/new-private-key-protected.pem\n"
	       "netborder.sip.tls.trustedRootCertificatesStore=${netborder.Installation."
	       "Directory}/config/certs/newTrustedRootCertificatesStore.pem\n"
	       "netborder.sip.tls.cypherSuites=TLS_RSA_WITH_AES_128_CBC_SHA\n"
	       "netborder.media.srtp.mode=always\n"
	       "netborder.mdedia.srtp.cryptoSuite=AES_CM_128_HMAC_SHA1_32,AES_CM_128_HMAC_SHA1_80\n"
	       "netborder.media.rtp.lockOnSDP=true\n",
	       "TLS user agent runs beside");
	assert_string_equal(s->tls_cert_file, "/opt/nbe/config/certs/certnew.cer");
	assert_string_equal(s->tls_key_file, "/opt/nbe/config/certs/new-private-key-protected.pem");
	assert_string_equal(s->tls_trust_store,
			    "/opt/nbe/config/certs/newTrustedRootCertificatesStore.pem");
	assert_string_equal(s->tls12_ciphers, "AES128-SHA");
	/* a guide-era list restricts TLS 1.0-1.2 only; TLS 1.3 keeps its default */
	assert_non_null(strstr(s->tls13_ciphersuites, "TLS_AES_128_GCM_SHA256"));
	assert_int_equal(s->srtp_mode, MG_SRTP_MODE_ALWAYS);
	assert_int_equal(s->crypto_suites[0], MG_SRTP_AES_CM_128_HMAC_SHA1_32);
	assert_int_equal(s->crypto_suites[1], MG_SRTP_AES_CM_128_HMAC_SHA1_80);
	assert_true(s->lock_on_sdp);
	assert_int_equal(s->n_ua, 2);
	assert_int_equal(s->ua[1].transport, MG_TRANSPORT_TLS);
	assert_int_equal(s->ua[1].port, 5067);
	/* the alias feeds the real key and --check says so */
	assert_string_equal(mg_config_get(l.cfg, "netborder.media.srtp.cryptoSuite"),
			    "AES_CM_128_HMAC_SHA1_32,AES_CM_128_HMAC_SHA1_80");
	assert_string_equal(mg_config_get(l.cfg, "netborder.mdedia.srtp.cryptoSuite"),
			    "AES_CM_128_HMAC_SHA1_32,AES_CM_128_HMAC_SHA1_80");
	unsigned line = 0;
	assert_string_equal(mg_config_origin(l.cfg, "netborder.media.srtp.cryptoSuite", &line),
			    "t.properties");
	assert_int_equal(line, 9);
	/* the unknown-key check knows the alias */
	assert_null(strstr(l.diag, "unknown key"));
	/* line numbers follow the continuation */
	assert_string_equal(
		mg_config_origin(l.cfg, "netborder.sip.tls.serverCertificatePrivateKeyFile", &line),
		"t.properties");
	assert_int_equal(line, 5);
	unload(&l);
}

static void test_alias_both_given(void **state)
{
	struct loaded l;
	const struct mg_settings *s;
	(void)state;

	s = ok(&l,
	       "netborder.mdedia.srtp.cryptoSuite=AES_CM_128_HMAC_SHA1_32\n"
	       "netborder.media.srtp.cryptoSuite=AES_CM_128_HMAC_SHA1_80\n",
	       "t.properties:1: netborder.mdedia.srtp.cryptoSuite=AES_CM_128_HMAC_SHA1_32: "
	       "warning: both netborder.media.srtp.cryptoSuite (t.properties:2) and its "
	       "misspelt alias netborder.mdedia.srtp.cryptoSuite are set; "
	       "netborder.media.srtp.cryptoSuite wins");
	assert_int_equal(s->n_crypto_suites, 1);
	assert_int_equal(s->crypto_suites[0], MG_SRTP_AES_CM_128_HMAC_SHA1_80);
	assert_int_equal(mg_config_warnings(l.cfg), 1);
	unload(&l);

	/* the alias is validated like the key */
	fails("netborder.mdedia.srtp.cryptoSuite=AES_CM_128_HMAC_SHA1_80,F8_128_HMAC_SHA1_80\n",
	      "t.properties:1: netborder.mdedia.srtp.cryptoSuite=AES_CM_128_HMAC_SHA1_80,"
	      "F8_128_HMAC_SHA1_80: error: unknown crypto suite \"F8_128_HMAC_SHA1_80\" "
	      "(allowed: AES_CM_128_HMAC_SHA1_80, AES_CM_128_HMAC_SHA1_32)");
}

static void test_crypto_suite_errors(void **state)
{
	(void)state;
	fails("netborder.media.srtp.cryptoSuite=AES_CM_128_HMAC_SHA1_80,AES_CM_128_HMAC_SHA1_80\n",
	      "listed twice");
	fails("netborder.media.srtp.cryptoSuite=\n", "empty list (allowed: AES_CM_128_HMAC_SHA1_80");
	fails("netborder.media.srtp.cryptoSuite=aes_cm_128_hmac_sha1_80\n",
	      "unknown crypto suite \"aes_cm_128_hmac_sha1_80\"");
	/* in the suite table, but not one gw.properties may name */
	fails("netborder.media.srtp.cryptoSuite=AEAD_AES_128_GCM\n",
	      "(allowed: AES_CM_128_HMAC_SHA1_80, AES_CM_128_HMAC_SHA1_32)");
	fails("netborder.media.srtp.mode=sometimes\n",
	      "t.properties:1: netborder.media.srtp.mode=sometimes: error: unknown SRTP mode "
	      "(allowed: always, as-needed, never)");
}

static void test_user_agents(void **state)
{
	struct loaded l;
	const struct mg_settings *s;
	(void)state;

	s = ok(&l,
	       "netborder.sip.userAgent.IPAddress = 192.0.2.5:5060/UDP, [2001:db8::5]:5062/tcp ,"
	       "0.0.0.0:5070/udp\n",
	       NULL);
	assert_int_equal(s->n_ua, 3);
	assert_string_equal(s->ua[0].addr, "192.0.2.5");
	assert_int_equal(s->ua[0].family, AF_INET);
	assert_string_equal(s->ua[1].addr, "2001:db8::5");
	assert_int_equal(s->ua[1].family, AF_INET6);
	assert_int_equal(s->ua[1].port, 5062);
	assert_string_equal(s->ua[2].addr, "");
	assert_int_equal(mg_config_warnings(l.cfg), 0);
	unload(&l);

	/* the guide's rule: no TCP and TLS on one port; both entries named */
	fails("netborder.sip.tls.serverCertificateFile=/dev/null\n"
	      "netborder.sip.tls.serverCertificatePrivateKeyFile=/dev/null\n"
	      "netborder.sip.tls.trustedRootCertificatesStore=/dev/null\n"
	      "netborder.sip.userAgent.IPAddress=INADDR_ANY:5061/tls,INADDR_ANY:5061/tcp\n",
	      "t.properties:4: netborder.sip.userAgent.IPAddress=INADDR_ANY:5061/tls,"
	      "INADDR_ANY:5061/tcp: error: TCP and TLS user agents share port 5061: entry 1 "
	      "(INADDR_ANY:5061/tls) and entry 2 (INADDR_ANY:5061/tcp) (allowed: ");
	/* a specific address overlaps INADDR_ANY */
	fails("netborder.sip.tls.serverCertificateFile=/dev/null\n"
	      "netborder.sip.tls.serverCertificatePrivateKeyFile=/dev/null\n"
	      "netborder.sip.tls.trustedRootCertificatesStore=/dev/null\n"
	      "netborder.sip.userAgent.IPAddress=192.0.2.1:5061/tcp,INADDR_ANY:5061/tls\n",
	      "entry 1 (192.0.2.1:5061/tcp) and entry 2 (INADDR_ANY:5061/tls)");
	/* different addresses on one port are fine */
	s = ok(&l,
	       "netborder.sip.tls.serverCertificateFile=/dev/null\n"
	       "netborder.sip.tls.serverCertificatePrivateKeyFile=/dev/null\n"
	      "netborder.sip.tls.trustedRootCertificatesStore=/dev/null\n"
	       "netborder.sip.userAgent.IPAddress=192.0.2.1:5061/tcp,192.0.2.2:5061/tls\n",
	       "not recommended");
	unload(&l);
	/* UDP and TLS on one port are fine too (different protocols) */
	s = ok(&l,
	       "netborder.sip.tls.serverCertificateFile=/dev/null\n"
	       "netborder.sip.tls.serverCertificatePrivateKeyFile=/dev/null\n"
	      "netborder.sip.tls.trustedRootCertificatesStore=/dev/null\n"
	       "netborder.sip.userAgent.IPAddress=INADDR_ANY:5061/udp,INADDR_ANY:5061/tls\n",
	       "t.properties:4: netborder.sip.userAgent.IPAddress=INADDR_ANY:5061/udp,"
	       "INADDR_ANY:5061/tls: warning: a SIP/TLS user agent runs beside SIP/UDP or "
	       "SIP/TCP user agents; not recommended");
	unload(&l);
	/* TLS alone: no warning */
	s = ok(&l,
	       "netborder.sip.tls.serverCertificateFile=/dev/null\n"
	       "netborder.sip.tls.serverCertificatePrivateKeyFile=/dev/null\n"
	      "netborder.sip.tls.trustedRootCertificatesStore=/dev/null\n"
	       "netborder.sip.userAgent.IPAddress=INADDR_ANY:5067/tls\n",
	       NULL);
	assert_int_equal(mg_config_warnings(l.cfg), 0);
	unload(&l);

	fails("netborder.sip.userAgent.IPAddress=INADDR_ANY:5060/udp,INADDR_ANY:5060/udp\n",
	      "listen on the same address, port and transport");
	fails("netborder.sip.userAgent.IPAddress=INADDR_ANY:5060/sctp\n",
	      "unknown transport \"sctp\" (allowed: comma list of ADDR:PORT/TRANSPORT");
	fails("netborder.sip.userAgent.IPAddress=INADDR_ANY:5060\n", "has no /transport");
	fails("netborder.sip.userAgent.IPAddress=INADDR_ANY:0/udp\n", "missing or bad port");
	fails("netborder.sip.userAgent.IPAddress=INADDR_ANY:65536/udp\n", "missing or bad port");
	fails("netborder.sip.userAgent.IPAddress=gw.example.com:5060/udp\n", "bad address");
	fails("netborder.sip.userAgent.IPAddress=2001:db8::1:5060/udp\n", "bad address");
	fails("netborder.sip.userAgent.IPAddress=\n", "empty list and no NG listener");
	/* a pure NG media node: no SIP, an NG listener */
	{
		struct mg_config *c = mg_config_load_string(
			"netborder.sip.userAgent.IPAddress=\nmediagate.ng.listen=127.0.0.1:2223/udp\n", "t.properties",
			MG_CONFIG_ROLE_CONTROL, NULL);

		assert_non_null(c);
		assert_int_equal(mg_config_settings(c)->n_ua, 0);
		mg_config_free(c);
	}
	fails("netborder.sip.userAgent.IPAddress=INADDR_ANY:5060/udp,,INADDR_ANY:5062/udp\n",
	      "error");
}

/* mediagate.metrics.listen: loopback by default, empty = off, IPv6 too. */
static void test_metrics_listen(void **state)
{
	struct loaded l;
	const struct mg_settings *s;
	(void)state;

	s = ok(&l, "", NULL);
	assert_string_equal(s->metrics_addr, "127.0.0.1");
	assert_int_equal(s->metrics_port, 9102);
	unload(&l);
	s = ok(&l, "mediagate.metrics.listen=\n", NULL);
	assert_string_equal(s->metrics_addr, "");
	assert_int_equal(s->metrics_port, 0);
	unload(&l);
	s = ok(&l, "mediagate.metrics.listen=[::1]:9200\n", NULL);
	assert_string_equal(s->metrics_addr, "::1");
	assert_int_equal(s->metrics_port, 9200);
	unload(&l);
	fails("mediagate.metrics.listen=127.0.0.1\n", "missing or bad port");
	fails("mediagate.metrics.listen=metrics.example.com:9102\n", "bad address");
}

/* mediagate.redis.* (docs/ha-state.md) */
static void test_redis_keys(void **state)
{
	struct loaded l;
	const struct mg_settings *s;
	(void)state;

	s = ok(&l, "", NULL);
	assert_string_equal(s->redis_url, "");
	assert_int_equal(s->redis_role, MG_REDIS_ACTIVE);
	assert_int_equal(s->redis_db, 0);
	assert_string_equal(s->redis_node, "");
	assert_int_equal(s->redis_expire_s, 86400);
	assert_int_equal(s->redis_queue, 4096);
	assert_int_equal(s->redis_read_timeout_ms, 2000);
	assert_int_equal(s->redis_alive_ms, 3000);
	unload(&l);
	s = ok(&l, "mediagate.redis.url=redis://10.0.0.5:6380\nmediagate.redis.role=standby\n"
		   "mediagate.redis.db=3\nmediagate.redis.node=gw-1.a_b\nmediagate.redis.expire=600\n"
		   "mediagate.redis.queue=16\n", NULL);
	assert_string_equal(s->redis_url, "redis://10.0.0.5:6380");
	assert_int_equal(s->redis_role, MG_REDIS_STANDBY);
	assert_int_equal(s->redis_db, 3);
	assert_string_equal(s->redis_node, "gw-1.a_b");
	assert_int_equal(s->redis_expire_s, 600);
	assert_int_equal(s->redis_queue, 16);
	unload(&l);
	s = ok(&l, "mediagate.redis.url=unix:/run/redis/redis.sock\n", NULL);
	assert_string_equal(s->redis_url, "unix:/run/redis/redis.sock");
	unload(&l);
	fails("mediagate.redis.url=10.0.0.5:6379\n", "not a Redis URL");
	fails("mediagate.redis.url=unix:redis.sock\n", "the socket path must be absolute");
	fails("mediagate.redis.role=primary\n", "unknown Redis role");
	fails("mediagate.redis.node=gw 1\n", "character ' ' not allowed");
	fails("mediagate.redis.node=gw:1\n", "character ':' not allowed");
	fails("mediagate.redis.db=1024\n", "1024");
	fails("mediagate.redis.expire=10\n", "10");
	fails("mediagate.redis.queue=0\n", "0");
	fails("mediagate.redis.aliveTtl=1000\n", "1500-60000");
	fails("mediagate.redis.readTimeout=10\n", "10");
	s = ok(&l, "mediagate.redis.aliveTtl=0\nmediagate.redis.readTimeout=500\n", NULL);
	assert_int_equal(s->redis_alive_ms, 0);
	assert_int_equal(s->redis_read_timeout_ms, 500);
	unload(&l);
}

static void test_ng_keys(void **state)
{
	struct loaded l;
	const struct mg_settings *s;
	uint8_t a[16];
	(void)state;

	/* defaults: no listener, loopback only */
	s = ok(&l, "", NULL);
	assert_int_equal(s->n_ng_listen, 0);
	assert_string_equal(s->ng_http_addr, "");
	assert_int_equal(s->ng_http_port, 0);
	assert_int_equal(s->n_ng_allowed, 2);
	assert_int_equal(s->ng_allowed[0].family, AF_INET);
	assert_int_equal(s->ng_allowed[0].prefix_len, 8);
	inet_pton(AF_INET, "127.0.0.0", a);
	assert_memory_equal(s->ng_allowed[0].addr, a, 4);
	assert_int_equal(s->ng_allowed[1].family, AF_INET6);
	assert_int_equal(s->ng_allowed[1].prefix_len, 128);
	inet_pton(AF_INET6, "::1", a);
	assert_memory_equal(s->ng_allowed[1].addr, a, 16);
	unload(&l);

	s = ok(&l,
	       "mediagate.ng.listen = 127.0.0.1:2223/udp, [::1]:2223/UDP ,INADDR_ANY:2224/tcp,"
	       "[::]:2224/tcp\n"
	       "mediagate.ng.http=[::1]:8080\n"
	       "mediagate.ng.allowedSources=10.0.0.0/8, 192.0.2.7 ,2001:db8::/32,::/0\n",
	       NULL);
	assert_int_equal(mg_config_warnings(l.cfg), 0);
	assert_int_equal(s->n_ng_listen, 4);
	assert_string_equal(s->ng_listen[0].addr, "127.0.0.1");
	assert_int_equal(s->ng_listen[0].port, 2223);
	assert_false(s->ng_listen[0].tcp);
	assert_string_equal(s->ng_listen[1].addr, "::1");
	assert_false(s->ng_listen[1].tcp);
	assert_string_equal(s->ng_listen[2].addr, "0.0.0.0");
	assert_true(s->ng_listen[2].tcp);
	assert_int_equal(s->ng_listen[2].port, 2224);
	assert_string_equal(s->ng_listen[3].addr, "::");
	assert_string_equal(s->ng_http_addr, "::1");
	assert_int_equal(s->ng_http_port, 8080);
	assert_int_equal(s->n_ng_allowed, 4);
	assert_int_equal(s->ng_allowed[0].prefix_len, 8);
	assert_int_equal(s->ng_allowed[1].prefix_len, 32); /* a plain address: itself only */
	assert_int_equal(s->ng_allowed[2].family, AF_INET6);
	assert_int_equal(s->ng_allowed[2].prefix_len, 32);
	assert_int_equal(s->ng_allowed[3].prefix_len, 0);
	unload(&l);
	s = ok(&l, "mediagate.ng.http=127.0.0.1:2225\nmediagate.ng.allowedSources=0.0.0.0/0\n",
	       NULL);
	assert_string_equal(s->ng_http_addr, "127.0.0.1");
	assert_int_equal(s->ng_http_port, 2225);
	assert_int_equal(s->n_ng_allowed, 1);
	assert_int_equal(s->ng_allowed[0].prefix_len, 0);
	unload(&l);

	/* bad values: file:line, key, value, the problem and what is allowed */
	fails("\nmediagate.ng.listen=127.0.0.1:2223\n",
	      "t.properties:2: mediagate.ng.listen=127.0.0.1:2223: error: entry \"127.0.0.1:2223\" "
	      "has no /udp or /tcp (allowed: comma list of ADDR:PORT/TRANSPORT (at most 8), ADDR "
	      "an IPv4 address, [IPv6] or INADDR_ANY, PORT 1-65535, TRANSPORT udp or tcp; "
	      "empty: none)");
	fails("mediagate.ng.listen=127.0.0.1:2223/tls\n",
	      "entry \"127.0.0.1:2223/tls\": unknown transport \"tls\"");
	fails("mediagate.ng.listen=127.0.0.1:0/udp\n", "entry \"127.0.0.1:0\": missing or bad port");
	fails("mediagate.ng.listen=127.0.0.1:65536/udp\n", "missing or bad port");
	fails("mediagate.ng.listen=127.0.0.1/udp\n", "missing or bad port");
	fails("mediagate.ng.listen=localhost:2223/udp\n",
	      "entry \"localhost:2223\": bad address (an IPv4 address, [IPv6] or INADDR_ANY)");
	fails("mediagate.ng.listen=::1:2223/udp\n", "bad address");
	fails("mediagate.ng.listen=[::1:2223/udp\n", "bad address");
	fails("mediagate.ng.listen=127.0.0.1:2223/udp,,127.0.0.1:2224/udp\n", "empty entry");
	fails("mediagate.ng.listen=127.0.0.1:2223/udp,127.0.0.1:2223/udp\n",
	      "entry 1 (127.0.0.1:2223/udp) is given twice");
	fails("mediagate.ng.listen=127.0.0.1:1/udp,127.0.0.1:2/udp,127.0.0.1:3/udp,"
	      "127.0.0.1:4/udp,127.0.0.1:5/udp,127.0.0.1:6/udp,127.0.0.1:7/udp,127.0.0.1:8/udp,"
	      "127.0.0.1:9/udp\n",
	      "more than 8 entries");
	fails("mediagate.ng.http=127.0.0.1\n", "missing or bad port");
	fails("mediagate.ng.http=127.0.0.1:2225/tcp\n", "missing or bad port");
	fails("mediagate.ng.http=ng.example.com:80\n",
	      "t.properties:1: mediagate.ng.http=ng.example.com:80: error: entry "
	      "\"ng.example.com:80\": bad address (an IPv4 address, [IPv6] or INADDR_ANY)");
	fails("mediagate.ng.allowedSources=\n",
	      "t.properties:1: mediagate.ng.allowedSources=: error: empty list (0.0.0.0/0,::/0 "
	      "allows anyone)");
	fails("mediagate.ng.allowedSources=10.0.0.0/33\n",
	      "entry \"10.0.0.0/33\" is not an address or ADDRESS/PREFIX (allowed: comma list of "
	      "IPv4/IPv6 addresses or ADDRESS/PREFIX (at most 16); 0.0.0.0/0,::/0 allows anyone)");
	fails("mediagate.ng.allowedSources=::1/129\n", "entry \"::1/129\" is not an address");
	fails("mediagate.ng.allowedSources=10.0.0.0/\n", "entry \"10.0.0.0/\" is not an address");
	fails("mediagate.ng.allowedSources=10.0.0.0/8/8\n", "is not an address");
	fails("mediagate.ng.allowedSources=kamailio.example.com\n",
	      "entry \"kamailio.example.com\" is not an address");
	fails("mediagate.ng.allowedSources=10.0.0.1,,10.0.0.2\n", "empty entry");
	fails("mediagate.ng.allowedSources=1.0.0.1,1.0.0.2,1.0.0.3,1.0.0.4,1.0.0.5,1.0.0.6,"
	      "1.0.0.7,1.0.0.8,1.0.0.9,1.0.0.10,1.0.0.11,1.0.0.12,1.0.0.13,1.0.0.14,1.0.0.15,"
	      "1.0.0.16,1.0.0.17\n",
	      "more than 16 entries");
}

static void test_tls_needs_certificate(void **state)
{
	struct loaded l;
	(void)state;

	fails("netborder.sip.userAgent.IPAddress=INADDR_ANY:5067/tls\n",
	      "a TLS user agent needs netborder.sip.tls.serverCertificateFile "
	      "netborder.sip.tls.serverCertificatePrivateKeyFile "
	      "netborder.sip.tls.trustedRootCertificatesStore (allowed: ");
	fails("netborder.sip.userAgent.IPAddress=INADDR_ANY:5067/tls\n"
	      "netborder.sip.tls.serverCertificateFile=/dev/null\n"
	      "netborder.sip.tls.serverCertificatePrivateKeyFile=/dev/null\n",
	      "t.properties:1: netborder.sip.userAgent.IPAddress=INADDR_ANY:5067/tls: error: a TLS "
	      "user agent needs netborder.sip.tls.trustedRootCertificatesStore (allowed: ");
	/* only the control plane needs them: the dataplane just warns */
	load_role(&l, "netborder.sip.userAgent.IPAddress=INADDR_ANY:5067/tls\n",
		  MG_CONFIG_ROLE_DATAPLANE);
	assert_non_null(l.cfg);
	assert_non_null(strstr(l.diag, "warning: a TLS user agent needs"));
	unload(&l);
}

static void test_missing_files(void **state)
{
	struct loaded l;
	static const char text[] =
		"netborder.sip.tls.trustedRootCertificatesStore=/nonexistent/cfg-ca.pem\n"
		"mediagate.routing.rulesFile=/nonexistent/cfg-rules.xml\n"
		"mediagate.tdm.systemConf=/nonexistent/cfg-system.conf\n"
		"mediagate.sip.tls.keyPasswordFile=/dev/null\n";
	(void)state;

	/* each role checks the files it opens, and only warns */
	load_role(&l, text, MG_CONFIG_ROLE_CONTROL);
	assert_non_null(l.cfg);
	assert_non_null(strstr(l.diag, "t.properties:1: netborder.sip.tls.trustedRootCertificatesStore="
				       "/nonexistent/cfg-ca.pem: warning: /nonexistent/cfg-ca.pem: No "
				       "such file or directory (the daemon will fail to open it)"));
	assert_non_null(strstr(l.diag, "t.properties:2: mediagate.routing.rulesFile="));
	/* system.conf is read by the control plane's PRI code, not the dataplane */
	assert_non_null(strstr(l.diag, "t.properties:3: mediagate.tdm.systemConf="));
	assert_int_equal(mg_config_warnings(l.cfg), 3);
	unload(&l);
	load_role(&l, text, MG_CONFIG_ROLE_DATAPLANE);
	assert_non_null(l.cfg);
	assert_null(strstr(l.diag, "cfg-system.conf"));
	assert_int_equal(mg_config_warnings(l.cfg), 0);
	unload(&l);
	load_role(&l, text, MG_CONFIG_ROLE_TOOL);
	assert_non_null(l.cfg);
	assert_int_equal(mg_config_warnings(l.cfg), 0);
	unload(&l);
	/* defaults are not checked: they may be installed later */
	load_role(&l, "", MG_CONFIG_ROLE_CONTROL);
	assert_int_equal(mg_config_warnings(l.cfg), 0);
	unload(&l);
}

static void test_ssl2_hello(void **state)
{
	struct loaded l;
	const struct mg_settings *s;
	(void)state;

	s = ok(&l, "netborder.sip.tls.supportSSLv2ClientHello=true\n",
	       "t.properties:1: netborder.sip.tls.supportSSLv2ClientHello=true: warning: "
	       "SSLv2-format ClientHello cannot be accepted by current TLS libraries; this "
	       "setting has no effect");
	assert_true(s->ssl2_client_hello);
	unload(&l);
	s = ok(&l, "netborder.sip.tls.supportSSLv2ClientHello=FALSE\n", NULL);
	assert_int_equal(mg_config_warnings(l.cfg), 0);
	unload(&l);
	fails("netborder.sip.tls.supportSSLv2ClientHello=yes\n",
	      "t.properties:1: netborder.sip.tls.supportSSLv2ClientHello=yes: error: not a "
	      "boolean (allowed: true, false)");
}

static void test_cipher_suites(void **state)
{
	struct loaded l;
	const struct mg_settings *s;
	(void)state;

	/* IANA and OpenSSL spellings, order kept, TLS 1.3 names split off */
	s = ok(&l,
	       "netborder.sip.tls.cypherSuites=ECDHE-RSA-AES128-GCM-SHA256, "
	       "TLS_RSA_WITH_AES_128_CBC_SHA,TLS_AES_128_GCM_SHA256\n",
	       NULL);
	assert_string_equal(s->tls12_ciphers, "ECDHE-RSA-AES128-GCM-SHA256:AES128-SHA");
	assert_string_equal(s->tls13_ciphersuites, "TLS_AES_128_GCM_SHA256");
	assert_int_equal(mg_config_warnings(l.cfg), 0);
	unload(&l);

	/* both places name TLS 1.3 suites: the specific key wins, with a warning */
	s = ok(&l,
	       "netborder.sip.tls.cypherSuites=AES128-SHA,TLS_AES_128_GCM_SHA256\n"
	       "mediagate.sip.tls.tls13CipherSuites=TLS_CHACHA20_POLY1305_SHA256\n",
	       "t.properties:2: mediagate.sip.tls.tls13CipherSuites=TLS_CHACHA20_POLY1305_SHA256: "
	       "warning: TLS 1.3 suites are also named in netborder.sip.tls.cypherSuites "
	       "(t.properties:1); mediagate.sip.tls.tls13CipherSuites wins");
	assert_string_equal(s->tls13_ciphersuites, "TLS_CHACHA20_POLY1305_SHA256");
	unload(&l);

	/* the guide's 3DES suite: accepted by name; dropped if this libssl lacks it */
	load(&l, "netborder.sip.tls.cypherSuites=TLS_RSA_WITH_AES_128_CBC_SHA,"
		 "TLS_RSA_WITH_3DES_EDE_CBC_SHA\n");
	assert_non_null(l.cfg);
	s = mg_config_settings(l.cfg);
	if (mg_tls_cipher_lookup("DES-CBC3-SHA", NULL) == MG_TLS_CIPHER_TLS12) {
		assert_string_equal(s->tls12_ciphers, "AES128-SHA:DES-CBC3-SHA");
	} else {
		assert_string_equal(s->tls12_ciphers, "AES128-SHA");
		assert_non_null(strstr(l.diag, "warning: TLS_RSA_WITH_3DES_EDE_CBC_SHA not offered "
					       "by this OpenSSL build"));
	}
	unload(&l);

	fails("netborder.sip.tls.cypherSuites=TLS_RSA_WITH_AES_128_CBC_SHA,TLS_RSA_WITH_IDEA\n",
	      "t.properties:1: netborder.sip.tls.cypherSuites=TLS_RSA_WITH_AES_128_CBC_SHA,"
	      "TLS_RSA_WITH_IDEA: error: unknown cipher suite \"TLS_RSA_WITH_IDEA\" (allowed: ");
	/* the allowed list names the suites the library offers, guide's included */
	fails("netborder.sip.tls.cypherSuites=nope\n", "TLS_RSA_WITH_AES_128_CBC_SHA");
	fails("netborder.sip.tls.cypherSuites=nope\n", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
	/* anonymous and PSK suites are not for a certificate-based SIP server */
	fails("netborder.sip.tls.cypherSuites=ADH-AES128-SHA\n", "unknown cipher suite");
	fails("netborder.sip.tls.cypherSuites=PSK-AES128-CBC-SHA\n", "unknown cipher suite");
	fails("netborder.sip.tls.cypherSuites=AES128-SHA,TLS_RSA_WITH_AES_128_CBC_SHA\n",
	      "listed twice");
	fails("netborder.sip.tls.cypherSuites=AES128-SHA,,AES256-SHA\n", "empty name");
	/* only TLS 1.3 suites, but TLS 1.2 allowed */
	fails("netborder.sip.tls.cypherSuites=TLS_AES_128_GCM_SHA256\n",
	      "no usable TLS 1.0-1.2 cipher suite left");
	s = ok(&l,
	       "netborder.sip.tls.cypherSuites=TLS_AES_128_GCM_SHA256\n"
	       "mediagate.sip.tls.minProtocol=TLSv1.3\n",
	       NULL);
	assert_string_equal(s->tls12_ciphers, "");
	unload(&l);
	fails("mediagate.sip.tls.tls13CipherSuites=AES128-SHA\n",
	      "AES128-SHA is not a TLS 1.3 suite (allowed: TLS_AES_128_GCM_SHA256");
}

static void test_tls_versions(void **state)
{
	struct loaded l;
	const struct mg_settings *s;
	(void)state;

	s = ok(&l,
	       "netborder.sip.tls.cypherSuites=TLS_RSA_WITH_AES_128_CBC_SHA\n"
	       "mediagate.sip.tls.minProtocol=TLSv1\n",
	       "t.properties:2: mediagate.sip.tls.minProtocol=TLSv1: warning: TLS versions below "
	       "1.2 enabled: an explicit opt-in for legacy peers such as OCS 2007 R2");
	assert_int_equal(s->tls_min_version, TLS1_VERSION);
	/* OpenSSL 3 refuses TLS 1.0/1.1 above security level 0 */
	assert_string_equal(s->tls12_ciphers, "AES128-SHA:@SECLEVEL=0");
	unload(&l);

	s = ok(&l, "mediagate.sip.tls.minProtocol=TLSv1.3\nmediagate.sip.tls.maxProtocol=TLSv1.3\n",
	       NULL);
	assert_int_equal(s->tls_min_version, TLS1_3_VERSION);
	assert_int_equal(mg_config_warnings(l.cfg), 0);
	unload(&l);

	fails("mediagate.sip.tls.minProtocol=TLSv1.3\nmediagate.sip.tls.maxProtocol=TLSv1.2\n",
	      "t.properties:1: mediagate.sip.tls.minProtocol=TLSv1.3: error: minimum TLS version "
	      "TLSv1.3 is above the maximum TLSv1.2 (allowed: minProtocol <= maxProtocol)");
	fails("mediagate.sip.tls.maxProtocol=SSLv3\n",
	      "error: unknown protocol version (allowed: TLSv1, TLSv1.1, TLSv1.2, TLSv1.3)");
	fails("mediagate.sip.tls.clientAuth=maybe\n", "(allowed: require, optional)");
	s = ok(&l, "mediagate.sip.tls.clientAuth=optional\n", NULL);
	assert_int_equal(s->tls_client_auth, MG_TLS_CLIENT_AUTH_OPTIONAL);
	unload(&l);
}

static void test_port_range(void **state)
{
	struct loaded l;
	const struct mg_settings *s;
	(void)state;

	s = ok(&l, "mediagate.media.portRange=1024-65535\n", NULL);
	assert_int_equal(s->media_port_min, 1024);
	assert_int_equal(s->media_port_max, 65535);
	unload(&l);
	s = ok(&l, "mediagate.media.portRange=20000-20001\n", NULL);
	assert_int_equal(s->media_port_min, 20000);
	unload(&l);

	static const char *const bad[] = {
		"1023-2001", "1024-65536", "20001-20011", "20000-20010", "20000", "-20001",
		"a-b",	     "20001-20000", "20000-20000", "20000 - 20001", "1e4-20001",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[96], want[96];
		snprintf(text, sizeof(text), "mediagate.media.portRange=%s\n", bad[i]);
		snprintf(want, sizeof(want), "t.properties:1: mediagate.media.portRange=%s: error: ",
			 bad[i]);
		fails(text, want);
		fails(text, "(allowed: LOW-HIGH within 1024-65535, LOW even, HIGH odd)");
	}
}

static void test_pattern_keys(void **state)
{
	struct loaded l;
	const struct mg_settings *s;
	(void)state;

	s = ok(&l,
	       "mediagate.dataplane.port.1.device=net_ring1\n"
	       "mediagate.dataplane.port.0.device=net_af_packet0,iface=cfg-veth0\n"
	       "mediagate.dataplane.port.0.addresses=192.0.2.1/24, 192.0.2.200/25 ,198.51.100.7\n"
	       "mediagate.dataplane.port.0.nexthop=192.0.2.254\n"
	       "mediagate.tdm.span.0.role=network\n"
	       "mediagate.tdm.span.1.switchType=euroisdn_e1\n",
	       NULL);
	assert_int_equal(s->n_ports, 2);
	assert_string_equal(s->ports[0].devargs, "net_af_packet0,iface=cfg-veth0");
	assert_string_equal(s->ports[1].devargs, "net_ring1");
	assert_int_equal(s->ports[0].n_addrs, 3);
	assert_int_equal(s->ports[0].addrs[0].family, AF_INET);
	assert_int_equal(s->ports[0].addrs[0].prefix_len, 24);
	assert_memory_equal(s->ports[0].addrs[0].addr, "\xc0\x00\x02\x01", 4);
	assert_int_equal(s->ports[0].addrs[1].family, AF_INET);
	assert_int_equal(s->ports[0].addrs[1].prefix_len, 25);
	assert_memory_equal(s->ports[0].addrs[1].addr, "\xc0\x00\x02\xc8", 4);
	assert_int_equal(s->ports[0].addrs[2].prefix_len, 32);
	assert_int_equal(s->ports[0].nexthop.family, AF_INET);
	assert_int_equal(s->ports[1].n_addrs, 0);
	assert_int_equal(s->ports[1].nexthop.family, 0);
	assert_int_equal(s->n_tdm_spans, 2);
	assert_int_equal(s->tdm_spans[0].role, MG_TDM_SPAN_NETWORK);
	assert_string_equal(s->tdm_spans[0].switch_type, "national");
	assert_int_equal(s->tdm_spans[1].role, MG_TDM_SPAN_USER);
	assert_string_equal(s->tdm_spans[1].switch_type, "euroisdn_e1");
	/* instances print and read under their own names */
	assert_string_equal(mg_config_get(l.cfg, "mediagate.dataplane.port.1.device"),
			    "net_ring1");
	assert_string_equal(mg_config_get(l.cfg, "mediagate.tdm.span.0.switchType"), "national");
	unsigned line = 0;
	assert_string_equal(mg_config_origin(l.cfg, "mediagate.tdm.span.0.switchType", &line),
			    "default");
	assert_null(mg_config_get(l.cfg, "mediagate.dataplane.port.2.device"));
	assert_null(mg_config_get(l.cfg, "mediagate.dataplane.port.N.device"));
	unload(&l);

	fails("mediagate.dataplane.port.8.device=net_null0\n",
	      "t.properties:1: mediagate.dataplane.port.8.device=net_null0: error: index 8 out "
	      "of range (allowed: 0..7)");
	fails("mediagate.dataplane.port.1.device=net_null0\n",
	      "port 0 is missing (allowed: set mediagate.dataplane.port.0.device)");
	fails("mediagate.dataplane.port.0.addresses=192.0.2.1\n",
	      "t.properties:1: mediagate.dataplane.port.0.addresses=192.0.2.1: error: port 0 has "
	      "no mediagate.dataplane.port.0.device");
	fails("mediagate.dataplane.port.0.device=x\nmediagate.dataplane.port.0.addresses=192.0.2.1/33\n",
	      "bad address \"192.0.2.1/33\"");
	fails("mediagate.dataplane.port.0.device=x\nmediagate.dataplane.port.0.nexthop=192.0.2.1/24\n",
	      "mediagate.dataplane.port.0.nexthop=192.0.2.1/24: error: bad address");
	fails("mediagate.dataplane.port.0.device=\n", "empty device");
	/* the dataplane is IPv4-only: an IPv6 media address or next hop would be
	 * ignored at run time (a port with no address), so it is refused at load */
	fails("mediagate.dataplane.port.0.device=x\n"
	      "mediagate.dataplane.port.0.addresses=192.0.2.1/24,2001:db8::1/64\n",
	      "t.properties:2: mediagate.dataplane.port.0.addresses=192.0.2.1/24,2001:db8::1/64: "
	      "error: IPv6 address \"2001:db8::1/64\": the dataplane handles IPv4 only "
	      "(allowed: comma list of IPv4 addresses with optional /prefix (CIDR");
	fails("mediagate.dataplane.port.0.device=x\nmediagate.dataplane.port.0.addresses=::1\n",
	      "t.properties:2: mediagate.dataplane.port.0.addresses=::1: error: IPv6 address "
	      "\"::1\"");
	fails("mediagate.dataplane.port.0.device=x\nmediagate.dataplane.port.0.nexthop=fe80::1\n",
	      "t.properties:2: mediagate.dataplane.port.0.nexthop=fe80::1: error: IPv6 next hop: "
	      "the dataplane handles IPv4 only (allowed: an IPv4 address");
	/* span.N is DAHDI span N+1: PRI on span 2 only leaves span.0 out */
	{
		struct loaded g;
		const struct mg_settings *gs = ok(&g, "mediagate.tdm.span.1.role=user\n", NULL);

		assert_int_equal(gs->n_tdm_spans, 2);
		assert_false(gs->tdm_spans[0].configured);
		assert_true(gs->tdm_spans[1].configured);
		assert_int_equal(gs->tdm_spans[1].role, MG_TDM_SPAN_USER);
		unload(&g);
	}
	fails("mediagate.tdm.span.0.switchType=dms250\n",
	      "unknown ISDN switch type (allowed: national, ni1");
	fails("mediagate.tdm.span.0.role=master\n", "unknown span role (allowed: user (alias cpe), "
						    "network)");

	/* leading zeros and non-digits are not an index: unknown key, a warning */
	s = ok(&l, "mediagate.dataplane.port.01.device=x\nmediagate.dataplane.port.a.device=x\n",
	       "t.properties:1: mediagate.dataplane.port.01.device=x: warning: unknown key, "
	       "ignored");
	assert_int_equal(s->n_ports, 0);
	assert_int_equal(mg_config_warnings(l.cfg), 2);
	unload(&l);
}

/* A UTF-8 BOM (Windows editors) must not turn the first key into an unknown one. */
static void test_utf8_bom(void **state)
{
	struct loaded l;
	const struct mg_settings *s;
	(void)state;

	s = ok(&l, "\xef\xbb\xbfnetborder.media.srtp.mode=always\r\n", NULL);
	assert_int_equal(s->srtp_mode, MG_SRTP_MODE_ALWAYS);
	assert_int_equal(mg_config_warnings(l.cfg), 0);
	assert_null(strstr(l.diag, "unknown key"));
	unsigned line = 0;
	assert_string_equal(mg_config_origin(l.cfg, "netborder.media.srtp.mode", &line),
			    "t.properties");
	assert_int_equal(line, 1);
	unload(&l);
	/* and a bad first value is still reported under its own key */
	fails("\xef\xbb\xbfnetborder.media.srtp.mode=sometimes\n",
	      "t.properties:1: netborder.media.srtp.mode=sometimes: error: unknown SRTP mode");
}

static void test_unknown_keys_and_duplicates(void **state)
{
	struct loaded l;
	const struct mg_settings *s;
	(void)state;

	s = ok(&l,
	       "# comment\n"
	       "netborder.media.srtp.mod=always\n"
	       "netborder.media.srtp.mode=never\n"
	       "totally.unrelated=1\n"
	       "netborder.media.srtp.mode=always\n",
	       "t.properties:2: netborder.media.srtp.mod=always: warning: unknown key, ignored (did "
	       "you mean netborder.media.srtp.mode?)");
	assert_non_null(strstr(l.diag, "t.properties:4: totally.unrelated=1: warning: unknown "
				       "key, ignored\n"));
	assert_non_null(strstr(l.diag, "t.properties:5: netborder.media.srtp.mode=always: warning: "
				       "duplicate key, first defined at t.properties:3"));
	assert_int_equal(s->srtp_mode, MG_SRTP_MODE_ALWAYS);
	assert_int_equal(mg_config_warnings(l.cfg), 3);
	unsigned line = 0;
	mg_config_origin(l.cfg, "netborder.media.srtp.mode", &line);
	assert_int_equal(line, 5);
	unload(&l);
}

static void test_expansion(void **state)
{
	struct loaded l;
	const struct mg_settings *s;
	(void)state;

	s = ok(&l,
	       "netborder.Installation.Directory=/srv/mg\n"
	       "my.certs=${netborder.Installation.Directory}/certs\n"
	       "netborder.sip.tls.trustedRootCertificatesStore=${my.certs}/ca.pem\n",
	       "t.properties:2: my.certs=${netborder.Installation.Directory}/certs: warning: "
	       "unknown key");
	assert_string_equal(s->tls_trust_store, "/srv/mg/certs/ca.pem");
	/* defaults that refer to the directory follow it (a build for /usr has
	 * its rules in /etc/mediagate instead) */
	if (MG_CONFDIR_IN_PREFIX)
		assert_string_equal(s->routing_rules_file,
				    "/srv/mg/etc/mediagate/routing-rules.xml");
	unload(&l);

	/* a known key not in the file expands to its default */
	s = ok(&l, "mediagate.sip.contactHost=${mediagate.media.portRange}\n", NULL);
	assert_string_equal(s->sip_contact_host, "16384-32767");
	unload(&l);

	fails("a=${b}\nb=${a}\nnetborder.sip.tls.trustedRootCertificatesStore=${a}\n",
	      "t.properties:3: netborder.sip.tls.trustedRootCertificatesStore=${a}: error: "
	      "expansion cycle: ${a} -> ${b} -> ${a}");
	fails("netborder.Installation.Directory=${netborder.Installation.Directory}/x\n",
	      "expansion cycle: ${netborder.Installation.Directory} -> "
	      "${netborder.Installation.Directory}");
	/* the cycle also breaks every default that refers to the key */
	if (MG_CONFDIR_IN_PREFIX)
		fails("netborder.Installation.Directory=${netborder.Installation.Directory}/x\n",
		      "(default): mediagate.routing.rulesFile=${netborder.Installation.Directory}/"
		      "etc/mediagate/routing-rules.xml: error: expansion cycle");
	fails("mediagate.sip.contactHost=${nowhere}\n",
	      "error: ${nowhere}: undefined key");
	fails("netborder.Installation.Directory=relative/dir\n", "relative path");
}

static void test_other_values(void **state)
{
	struct loaded l;
	const struct mg_settings *s;
	(void)state;

	s = ok(&l,
	       "mediagate.log.level=debug\n"
	       "mediagate.log.syslog=true\n"
	       "mediagate.control.socket=/tmp/cfg-test.sock\n"
	       "mediagate.control.allowedUids=0, root ,1000\n"
	       "mediagate.dataplane.workerLcores=1,3-5\n"
	       "mediagate.dataplane.idleSleepUs=0\n"
	       "mediagate.dataplane.maxSessions=1048576\n"
	       "mediagate.tdm.echoCancel=false\n",
	       NULL);
	assert_int_equal(s->log_level, MG_LOG_DEBUG);
	assert_true(s->log_syslog);
	assert_string_equal(s->control_socket, "/tmp/cfg-test.sock");
	assert_int_equal(s->n_allowed_uids, 3);
	assert_int_equal(s->allowed_uids[1], 0);
	assert_int_equal(s->allowed_uids[2], 1000);
	assert_string_equal(s->worker_lcores, "1,3-5");
	assert_int_equal(s->idle_sleep_us, 0);
	assert_int_equal(s->max_sessions, 1048576);
	assert_false(s->tdm_echo_cancel);
	unload(&l);

	fails("mediagate.log.level=loud\n",
	      "t.properties:1: mediagate.log.level=loud: error: unknown log level (allowed: "
	      "error, warning, info, debug)");
	fails("mediagate.control.socket=relative.sock\n", "not an absolute path");
	char longsock[200] = "mediagate.control.socket=/";
	memset(longsock + strlen(longsock), 'x', 120);
	fails(longsock, "(allowed: at most 107 characters)");
	fails("mediagate.control.allowedUids=no-such-user-cfg\n",
	      "\"no-such-user-cfg\" is neither a uid nor a known user name");
	fails("mediagate.control.allowedUids=1,2,3,4,5,6,7,8,9\n", "more than 8 entries");
	fails("mediagate.dataplane.workerLcores=3-1\n", "bad lcore list");
	fails("mediagate.dataplane.workerLcores=1,\n", "bad lcore list");
	fails("mediagate.dataplane.idleSleepUs=-1\n", "(allowed: 0-1000000 (0 = busy poll))");
	fails("mediagate.dataplane.idleSleepUs=1000001\n", "not a whole number in range");
	fails("mediagate.dataplane.maxSessions=0\n", "(allowed: 1-1048576)");
	fails("mediagate.dataplane.maxSessions=10k\n", "not a whole number");
	fails("netborder.media.rtp.lockOnSDP=1\n", "not a boolean (allowed: true, false)");
}

static void test_collects_every_error(void **state)
{
	struct loaded l;
	(void)state;

	load(&l, "mediagate.log.level=loud\n"
		 "netborder.media.srtp.mode=sometimes\n"
		 "bad\\u12=1\n"
		 "mediagate.media.portRange=1-2\n"
		 "mediagate.sip.tls.minProtocol=TLSv1.3\n"
		 "mediagate.sip.tls.maxProtocol=TLSv1.2\n");
	assert_null(l.cfg);
	assert_int_equal(l.err, EINVAL);
	assert_non_null(strstr(l.diag, "t.properties:1: "));
	assert_non_null(strstr(l.diag, "t.properties:2: "));
	assert_non_null(strstr(l.diag, "t.properties:3: "));
	assert_non_null(strstr(l.diag, "t.properties:4: "));
	assert_non_null(strstr(l.diag, "t.properties:5: "));
	assert_int_equal(count(l.diag, ": error: "), 5);
	assert_non_null(strstr(l.diag, "t.properties: 5 errors, 0 warnings: configuration "
				       "refused"));
	unload(&l);
}

static void test_file_errors(void **state)
{
	FILE *d;
	char *diag = NULL;
	size_t dl;
	(void)state;

	d = open_memstream(&diag, &dl);
	errno = 0;
	assert_null(mg_config_load("/nonexistent/cfg/gw.properties", MG_CONFIG_ROLE_TOOL, d));
	assert_int_equal(errno, EINVAL);
	fclose(d);
	assert_non_null(strstr(diag, "/nonexistent/cfg/gw.properties: error: cannot open"));
	free(diag);

	/* a directory opens but cannot be read */
	diag = NULL;
	d = open_memstream(&diag, &dl);
	assert_null(mg_config_load("/", MG_CONFIG_ROLE_TOOL, d));
	assert_int_equal(errno, EINVAL);
	fclose(d);
	assert_non_null(strstr(diag, "/: error: cannot read: Is a directory"));
	free(diag);
}

static void test_print(void **state)
{
	struct loaded l;
	char *out = NULL;
	size_t ol;
	FILE *f;
	(void)state;

	ok(&l,
	   "netborder.media.srtp.mode=never\n"
	   "netborder.mdedia.srtp.cryptoSuite=AES_CM_128_HMAC_SHA1_32\n"
	   "mediagate.dataplane.port.0.device=net_null0\n",
	   NULL);
	f = open_memstream(&out, &ol);
	mg_config_print(l.cfg, f);
	fclose(f);
	assert_non_null(strstr(out, "\nnetborder.media.srtp.mode=never\t# t.properties:1\n"));
	assert_non_null(strstr(out, "\nnetborder.media.srtp.cryptoSuite=AES_CM_128_HMAC_SHA1_32\t"
				    "# t.properties:2 (as netborder.mdedia.srtp.cryptoSuite)\n"));
	assert_non_null(strstr(out, "\nmediagate.log.level=info\t# default\n"));
	assert_non_null(strstr(out, "\nmediagate.dataplane.port.0.device=net_null0\t# "
				    "t.properties:3\n"));
	assert_non_null(strstr(out, "\nmediagate.dataplane.port.0.addresses=\t# default\n"));
	assert_non_null(strstr(out, "# derived: OpenSSL TLS 1.0-1.2 cipher list: "));
	/* every non-pattern key of the schema is printed exactly once */
	size_t n;
	const struct mg_config_key *t = mg_config_schema(&n);
	for (size_t i = 0; i < n; i++) {
		char key[160];
		if (strstr(t[i].name, ".N.") != NULL || t[i].alias_of != NULL)
			continue;
		snprintf(key, sizeof(key), "\n%s=", t[i].name);
		assert_int_equal(count(out, key), 1);
	}
	free(out);
	unload(&l);
}

static void test_schema_consistent(void **state)
{
	size_t n;
	const struct mg_config_key *t = mg_config_schema(&n);
	(void)state;

	for (size_t i = 0; i < n; i++) {
		assert_non_null(t[i].name);
		assert_non_null(t[i].help);
		assert_non_null(t[i].type);
		assert_null(strchr(t[i].help, '\n'));
		if (t[i].alias_of != NULL)
			continue;
		assert_non_null(t[i].apply);
		assert_non_null(t[i].allowed);
		assert_int_equal(strstr(t[i].name, ".N.") != NULL, t[i].max_index != 0);
		for (size_t j = i + 1; j < n; j++)
			assert_string_not_equal(t[i].name, t[j].name);
	}
}

static void test_example_file_loads_cleanly(void **state)
{
	char path[PATH_MAX];
	char *diag = NULL;
	size_t dl;
	FILE *d;
	struct mg_config *cfg;
	(void)state;

	snprintf(path, sizeof(path), "%s/configs/gw.properties", MG_SOURCE_ROOT);
	d = open_memstream(&diag, &dl);
	cfg = mg_config_load(path, MG_CONFIG_ROLE_CONTROL, d);
	fclose(d);
	if (cfg == NULL || dl != 0)
		fprintf(stderr, "%s", diag);
	assert_non_null(cfg);
	assert_int_equal(dl, 0);
	assert_int_equal(mg_config_warnings(cfg), 0);
	mg_config_free(cfg);
	free(diag);
}

/*
 * Bad input never crashes: random text built from the characters the parser
 * treats specially, plus real key prefixes. Deterministic (fixed seed); run
 * under the ASan/UBSan test setup this catches out-of-bounds reads.
 */
static void test_random_input(void **state)
{
	static const char *const atoms[] = {
		"=",	"::",	" ",	"\t",	"\n", "\r\n", "\\", "\\\n", "#",    "!",
		"${",	"}",	"$",	"\\u", "00e9", "D83D", "x",	 ",",	    "/tls", ":5060",
		"INADDR_ANY", "netborder.media.srtp.mode", "netborder.sip.userAgent.IPAddress",
		"mediagate.dataplane.port.", "0", "7", "9", ".device", ".addresses",
		"netborder.sip.tls.cypherSuites", "AES128-SHA", "mediagate.media.portRange",
		"netborder.Installation.Directory", "mediagate.tdm.span.", ".role",
	};
	unsigned seed = 12345;
	(void)state;

	for (int iter = 0; iter < 3000; iter++) {
		char text[512];
		size_t o = 0;
		int n = 1 + (int)(rand_r(&seed) % 40);

		for (int i = 0; i < n; i++) {
			const char *a = atoms[rand_r(&seed) % (sizeof(atoms) / sizeof(atoms[0]))];
			size_t l = strlen(a);
			if (o + l + 1 >= sizeof(text))
				break;
			memcpy(text + o, a, l);
			o += l;
		}
		text[o] = '\0';

		struct loaded l;
		load(&l, text);
		if (l.cfg == NULL) {
			assert_int_equal(l.err, EINVAL);
			assert_non_null(strstr(l.diag, "configuration refused"));
		}
		unload(&l);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_guide_example),
		cmocka_unit_test(test_alias_both_given),
		cmocka_unit_test(test_crypto_suite_errors),
		cmocka_unit_test(test_user_agents),
		cmocka_unit_test(test_redis_keys),
		cmocka_unit_test(test_ng_keys),
		cmocka_unit_test(test_tls_needs_certificate),
		cmocka_unit_test(test_missing_files),
		cmocka_unit_test(test_ssl2_hello),
		cmocka_unit_test(test_cipher_suites),
		cmocka_unit_test(test_tls_versions),
		cmocka_unit_test(test_port_range),
		cmocka_unit_test(test_metrics_listen),
		cmocka_unit_test(test_pattern_keys),
		cmocka_unit_test(test_utf8_bom),
		cmocka_unit_test(test_unknown_keys_and_duplicates),
		cmocka_unit_test(test_expansion),
		cmocka_unit_test(test_other_values),
		cmocka_unit_test(test_collects_every_error),
		cmocka_unit_test(test_file_errors),
		cmocka_unit_test(test_print),
		cmocka_unit_test(test_schema_consistent),
		cmocka_unit_test(test_example_file_loads_cleanly),
		cmocka_unit_test(test_random_input),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
