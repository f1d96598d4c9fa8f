/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The one schema table of gw.properties, its validators and the rules that
 * span several keys. Adding a key: one row here plus its field in struct
 * mg_settings; parsing, --check, docs/configuration.md and the example
 * configs/gw.properties follow from the row.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <pwd.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "mg_build_config.h"
#include "mg_config_int.h"
#include "mg_tls_ciphers.h"

#define FIELD(f) .off = offsetof(struct mg_settings, f), .size = sizeof(((struct mg_settings *)0)->f)
#define SET(cfg, k, type) ((type *)((char *)&(cfg)->s + (k)->off))

/* ---- generic validators ---- */

static int v_string(struct mg_config *cfg, const struct mg_cfg_entry *e, char *why, size_t wl)
{
	const struct mg_config_key *k = e->def;

	if (strlen(e->value) >= k->size) {
		snprintf(why, wl, "value is %zu characters long", strlen(e->value));
		snprintf(why + strlen(why), wl - strlen(why), " (allowed: at most %zu characters)",
			 k->size - 1);
		return -EINVAL;
	}
	memcpy(SET(cfg, k, char), e->value, strlen(e->value) + 1);
	return 0;
}

static int v_path(struct mg_config *cfg, const struct mg_cfg_entry *e, char *why, size_t wl)
{
	if (e->value[0] != '\0' && e->value[0] != '/') {
		snprintf(why, wl, "relative path");
		return -EINVAL;
	}
	return v_string(cfg, e, why, wl);
}

static int parse_bool(const char *v, bool *out)
{
	if (strcasecmp(v, "true") == 0)
		*out = true;
	else if (strcasecmp(v, "false") == 0)
		*out = false;
	else
		return -EINVAL;
	return 0;
}

static int v_bool(struct mg_config *cfg, const struct mg_cfg_entry *e, char *why, size_t wl)
{
	if (parse_bool(e->value, SET(cfg, e->def, bool)) < 0) {
		snprintf(why, wl, "not a boolean");
		return -EINVAL;
	}
	return 0;
}

static int parse_ulong(const char *v, unsigned long min, unsigned long max, unsigned long *out)
{
	char *end;

	if (!isdigit((unsigned char)v[0]))
		return -EINVAL;
	errno = 0;
	*out = strtoul(v, &end, 10);
	if (errno != 0 || *end != '\0' || *out < min || *out > max)
		return -EINVAL;
	return 0;
}

static int v_uint(struct mg_config *cfg, const struct mg_cfg_entry *e, char *why, size_t wl)
{
	unsigned long v;

	if (parse_ulong(e->value, e->def->min, e->def->max, &v) < 0) {
		snprintf(why, wl, "not a whole number in range");
		return -EINVAL;
	}
	*SET(cfg, e->def, unsigned) = (unsigned)v;
	return 0;
}

/* mediagate.redis.aliveTtl: 0 (off) or at least 1500 ms (refreshed every ttl/3) */
static int v_alive(struct mg_config *cfg, const struct mg_cfg_entry *e, char *why, size_t wl)
{
	unsigned long v;

	if (parse_ulong(e->value, e->def->min, e->def->max, &v) < 0 || (v != 0 && v < 1500)) {
		snprintf(why, wl, "not 0 nor a whole number of milliseconds in 1500-60000");
		return -EINVAL;
	}
	*SET(cfg, e->def, unsigned) = (unsigned)v;
	return 0;
}

/* ---- netborder.* keys ---- */

int mg_cfg_parse_ua(const char *s, size_t n, struct mg_sip_ua *ua, char *why, size_t wl)
{
	char buf[128], *slash, *colon, *host;
	unsigned long port;

	memset(ua, 0, sizeof(*ua));
	if (n >= sizeof(buf)) {
		snprintf(why, wl, "entry too long");
		return -EINVAL;
	}
	memcpy(buf, s, n);
	buf[n] = '\0';
	slash = strrchr(buf, '/');
	if (slash == NULL) {
		snprintf(why, wl, "entry \"%s\" has no /transport", buf);
		return -EINVAL;
	}
	*slash = '\0';
	if (strcasecmp(slash + 1, "udp") == 0)
		ua->transport = MG_TRANSPORT_UDP;
	else if (strcasecmp(slash + 1, "tcp") == 0)
		ua->transport = MG_TRANSPORT_TCP;
	else if (strcasecmp(slash + 1, "tls") == 0)
		ua->transport = MG_TRANSPORT_TLS;
	else {
		snprintf(why, wl, "entry \"%.*s\": unknown transport \"%s\"", (int)n, s, slash + 1);
		return -EINVAL;
	}
	colon = strrchr(buf, ':');
	if (colon == NULL || parse_ulong(colon + 1, 1, 65535, &port) < 0) {
		snprintf(why, wl, "entry \"%.*s\": missing or bad port", (int)n, s);
		return -EINVAL;
	}
	*colon = '\0';
	ua->port = (uint16_t)port;
	host = buf;
	if (strcmp(host, "INADDR_ANY") == 0) {
		ua->family = AF_INET;
		return 0;
	}
	if (host[0] == '[') {
		size_t hl = strlen(host);
		uint8_t a6[16];
		if (hl < 3 || host[hl - 1] != ']')
			goto bad_addr;
		host[hl - 1] = '\0';
		host++;
		if (inet_pton(AF_INET6, host, a6) != 1)
			goto bad_addr;
		ua->family = AF_INET6;
	} else {
		uint8_t a4[4];
		if (inet_pton(AF_INET, host, a4) != 1)
			goto bad_addr;
		ua->family = AF_INET;
		if (a4[0] == 0 && a4[1] == 0 && a4[2] == 0 && a4[3] == 0)
			return 0; /* 0.0.0.0 is INADDR_ANY */
	}
	if (strlen(host) >= sizeof(ua->addr))
		goto bad_addr;
	memcpy(ua->addr, host, strlen(host) + 1);
	return 0;
bad_addr:
	snprintf(why, wl, "entry \"%.*s\": bad address", (int)n, s);
	return -EINVAL;
}

static int v_ua(struct mg_config *cfg, const struct mg_cfg_entry *e, char *why, size_t wl)
{
	const char *p = e->value;

	cfg->s.n_ua = 0;
	/* empty: no SIP at all, a pure NG media node (check_ua() wants an
	 * NG listener then) */
	while (*p != '\0') {
		const char *c = strchr(p, ',');
		size_t n = c ? (size_t)(c - p) : strlen(p);
		const char *s = p;

		p = c ? c + 1 : p + n;
		while (n > 0 && isblank((unsigned char)*s)) {
			s++;
			n--;
		}
		while (n > 0 && isblank((unsigned char)s[n - 1]))
			n--;
		if (cfg->s.n_ua == MG_CFG_MAX_UA) {
			snprintf(why, wl, "more than %d entries", MG_CFG_MAX_UA);
			return -EINVAL;
		}
		if (mg_cfg_parse_ua(s, n, &cfg->s.ua[cfg->s.n_ua], why, wl) < 0)
			return -EINVAL;
		cfg->s.n_ua++;
	}
	return 0;
}

static int v_cypher_suites(struct mg_config *cfg, const struct mg_cfg_entry *e, char *why,
			   size_t wl)
{
	char missing[256], t13[sizeof(cfg->s.tls13_ciphersuites)];
	int rc;

	rc = mg_tls_ciphers_resolve(e->value, cfg->s.tls12_ciphers, sizeof(cfg->s.tls12_ciphers),
				    t13, sizeof(t13), missing, sizeof(missing), why, wl);
	if (rc == -ENOSPC)
		snprintf(why, wl, "list too long");
	if (rc < 0)
		return rc;
	if (missing[0] != '\0' && e->file != NULL)
		mg_cfg_warn(cfg, e,
			    "%s not offered by this OpenSSL build (%s), dropped from the list",
			    missing, OpenSSL_version(OPENSSL_VERSION));
	cfg->tls13_from_cypher_suites = t13[0] != '\0';
	if (t13[0] != '\0')
		memcpy(cfg->s.tls13_ciphersuites, t13, sizeof(t13));
	return 0;
}

static int v_tls13_suites(struct mg_config *cfg, const struct mg_cfg_entry *e, char *why,
			  size_t wl)
{
	char t12[sizeof(cfg->s.tls12_ciphers)], t13[sizeof(cfg->s.tls13_ciphersuites)];
	int rc;

	rc = mg_tls_ciphers_resolve(e->value, t12, sizeof(t12), t13, sizeof(t13), NULL, 0, why,
				    wl);
	if (rc == -ENOSPC)
		snprintf(why, wl, "list too long");
	if (rc < 0)
		return rc;
	if (t12[0] != '\0') {
		snprintf(why, wl, "%s is not a TLS 1.3 suite (allowed: TLS_AES_128_GCM_SHA256, "
				  "TLS_AES_256_GCM_SHA384, TLS_CHACHA20_POLY1305_SHA256, "
				  "TLS_AES_128_CCM_SHA256, TLS_AES_128_CCM_8_SHA256)",
			 t12);
		return -EINVAL;
	}
	/* the default yields to TLS 1.3 suites named in netborder.sip.tls.cypherSuites */
	if (e->file == NULL && cfg->tls13_from_cypher_suites)
		return 0;
	memcpy(cfg->s.tls13_ciphersuites, t13, sizeof(t13));
	return 0;
}

static int v_srtp_mode(struct mg_config *cfg, const struct mg_cfg_entry *e, char *why, size_t wl)
{
	if (strcmp(e->value, "always") == 0)
		cfg->s.srtp_mode = MG_SRTP_MODE_ALWAYS;
	else if (strcmp(e->value, "as-needed") == 0)
		cfg->s.srtp_mode = MG_SRTP_MODE_AS_NEEDED;
	else if (strcmp(e->value, "never") == 0)
		cfg->s.srtp_mode = MG_SRTP_MODE_NEVER;
	else {
		snprintf(why, wl, "unknown SRTP mode");
		return -EINVAL;
	}
	return 0;
}

static int v_redis_role(struct mg_config *cfg, const struct mg_cfg_entry *e, char *why, size_t wl)
{
	if (strcmp(e->value, "active") == 0)
		cfg->s.redis_role = MG_REDIS_ACTIVE;
	else if (strcmp(e->value, "standby") == 0)
		cfg->s.redis_role = MG_REDIS_STANDBY;
	else {
		snprintf(why, wl, "unknown Redis role");
		return -EINVAL;
	}
	return 0;
}

static int v_redis_url(struct mg_config *cfg, const struct mg_cfg_entry *e, char *why, size_t wl)
{
	const char *v = e->value;

	if (v[0] != '\0' && strncmp(v, "redis://", 8) != 0 && strncmp(v, "unix:", 5) != 0) {
		snprintf(why, wl, "not a Redis URL");
		return -EINVAL;
	}
	if (strncmp(v, "unix:", 5) == 0 && v[5] != '/') {
		snprintf(why, wl, "the socket path must be absolute");
		return -EINVAL;
	}
	return v_string(cfg, e, why, wl);
}

static int v_redis_node(struct mg_config *cfg, const struct mg_cfg_entry *e, char *why, size_t wl)
{
	for (const char *p = e->value; *p; p++)
		if (!(isalnum((unsigned char)*p) || *p == '.' || *p == '_' || *p == '-')) {
			snprintf(why, wl, "character '%c' not allowed", *p);
			return -EINVAL;
		}
	return v_string(cfg, e, why, wl);
}

static int v_crypto_suites(struct mg_config *cfg, const struct mg_cfg_entry *e, char *why,
			   size_t wl)
{
	const char *p = e->value;

	cfg->s.n_crypto_suites = 0;
	while (*p != '\0') {
		const char *c = strchr(p, ',');
		size_t n = c ? (size_t)(c - p) : strlen(p);
		const char *s = p;
		const struct mg_srtp_suite_info *si;

		p = c ? c + 1 : p + n;
		while (n > 0 && isblank((unsigned char)*s)) {
			s++;
			n--;
		}
		while (n > 0 && isblank((unsigned char)s[n - 1]))
			n--;
		si = mg_srtp_suite_by_name_n(s, n);
		if (si == NULL || !si->configurable) {
			snprintf(why, wl, "unknown crypto suite \"%.*s\" (allowed: %s)", (int)n, s,
				 mg_srtp_suite_names(1));
			return -EINVAL;
		}
		for (unsigned i = 0; i < cfg->s.n_crypto_suites; i++) {
			if (cfg->s.crypto_suites[i] == si->id) {
				snprintf(why, wl, "crypto suite %s is listed twice", si->sdes_name);
				return -EINVAL;
			}
		}
		if (cfg->s.n_crypto_suites == MG_CFG_MAX_SUITES) {
			snprintf(why, wl, "more than %d suites", MG_CFG_MAX_SUITES);
			return -EINVAL;
		}
		cfg->s.crypto_suites[cfg->s.n_crypto_suites++] = si->id;
	}
	if (cfg->s.n_crypto_suites == 0) {
		snprintf(why, wl, "empty list (allowed: %s)", mg_srtp_suite_names(1));
		return -EINVAL;
	}
	return 0;
}

/* ---- mediagate.* keys ---- */

static int v_tls_version(struct mg_config *cfg, const struct mg_cfg_entry *e, char *why,
			 size_t wl)
{
	static const struct {
		const char *name;
		int v;
	} names[] = {
		{ "TLSv1", TLS1_VERSION },     { "TLSv1.0", TLS1_VERSION },
		{ "TLSv1.1", TLS1_1_VERSION }, { "TLSv1.2", TLS1_2_VERSION },
		{ "TLSv1.3", TLS1_3_VERSION },
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(e->value, names[i].name) == 0) {
			*SET(cfg, e->def, int) = names[i].v;
			return 0;
		}
	}
	snprintf(why, wl, "unknown protocol version");
	return -EINVAL;
}

static int v_client_auth(struct mg_config *cfg, const struct mg_cfg_entry *e, char *why,
			 size_t wl)
{
	if (strcmp(e->value, "require") == 0)
		cfg->s.tls_client_auth = MG_TLS_CLIENT_AUTH_REQUIRE;
	else if (strcmp(e->value, "optional") == 0)
		cfg->s.tls_client_auth = MG_TLS_CLIENT_AUTH_OPTIONAL;
	else {
		snprintf(why, wl, "unknown client authentication mode");
		return -EINVAL;
	}
	return 0;
}

static int v_log_level(struct mg_config *cfg, const struct mg_cfg_entry *e, char *why, size_t wl)
{
	if (mg_log_level_parse(e->value, &cfg->s.log_level) < 0) {
		snprintf(why, wl, "unknown log level");
		return -EINVAL;
	}
	return 0;
}

static int v_socket(struct mg_config *cfg, const struct mg_cfg_entry *e, char *why, size_t wl)
{
	if (e->value[0] != '/') {
		snprintf(why, wl, "not an absolute path");
		return -EINVAL;
	}
	return v_string(cfg, e, why, wl);
}

/* "" is the default: control.sock beside mediagate.control.socket (set by
 * derive_cli_socket(), once every key is read), so a test bed that moves
 * the dataplane's socket moves this one too. */
static int v_cli_socket(struct mg_config *cfg, const struct mg_cfg_entry *e, char *why, size_t wl)
{
	if (e->value[0] == '\0') {
		cfg->s.cli_socket[0] = '\0';
		return 0;
	}
	return v_socket(cfg, e, why, wl);
}

static int v_uids(struct mg_config *cfg, const struct mg_cfg_entry *e, char *why, size_t wl)
{
	const char *p = e->value;

	cfg->s.n_allowed_uids = 0;
	while (*p != '\0') {
		const char *c = strchr(p, ',');
		size_t n = c ? (size_t)(c - p) : strlen(p);
		char name[64];
		unsigned long uid;

		while (n > 0 && isblank((unsigned char)*p)) {
			p++;
			n--;
		}
		snprintf(name, sizeof(name), "%.*s", (int)n, p);
		for (size_t i = strlen(name); i > 0 && isblank((unsigned char)name[i - 1]); i--)
			name[i - 1] = '\0';
		p = c ? c + 1 : p + n;
		if (parse_ulong(name, 0, 0xfffffffeUL, &uid) < 0) {
			struct passwd pw, *res = NULL;
			char buf[1024];
			if (name[0] == '\0' || getpwnam_r(name, &pw, buf, sizeof(buf), &res) != 0 ||
			    res == NULL) {
				snprintf(why, wl, "\"%s\" is neither a uid nor a known user name",
					 name);
				return -EINVAL;
			}
			uid = res->pw_uid;
		}
		if (cfg->s.n_allowed_uids == MG_CFG_MAX_UIDS) {
			snprintf(why, wl, "more than %d entries", MG_CFG_MAX_UIDS);
			return -EINVAL;
		}
		cfg->s.allowed_uids[cfg->s.n_allowed_uids++] = (uid_t)uid;
	}
	if (cfg->s.n_allowed_uids == 0) {
		snprintf(why, wl, "empty list");
		return -EINVAL;
	}
	return 0;
}

int mg_cfg_parse_cidr(const char *s, struct mg_cidr *out, int allow_prefix)
{
	char buf[64], *slash;
	unsigned long pl;
	unsigned max;

	memset(out, 0, sizeof(*out));
	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash != NULL) {
		if (!allow_prefix)
			return -EINVAL;
		*slash = '\0';
	}
	if (inet_pton(AF_INET, buf, out->addr) == 1) {
		out->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, buf, out->addr) == 1) {
		out->family = AF_INET6;
		max = 128;
	} else {
		return -EINVAL;
	}
	out->prefix_len = (uint8_t)max;
	if (slash != NULL) {
		if (parse_ulong(slash + 1, 1, max, &pl) < 0)
			return -EINVAL;
		out->prefix_len = (uint8_t)pl;
	}
	return 0;
}

static struct mg_dp_port *port_of(struct mg_config *cfg, const struct mg_cfg_entry *e)
{
	if (e->index + 1 > cfg->s.n_ports)
		cfg->s.n_ports = e->index + 1;
	return &cfg->s.ports[e->index];
}

static int v_port_device(struct mg_config *cfg, const struct mg_cfg_entry *e, char *why,
			 size_t wl)
{
	struct mg_dp_port *p = port_of(cfg, e);

	if (e->value[0] == '\0' || strlen(e->value) >= sizeof(p->devargs)) {
		snprintf(why, wl, e->value[0] ? "too long" : "empty device");
		return -EINVAL;
	}
	strcpy(p->devargs, e->value);
	return 0;
}

static int v_port_addrs(struct mg_config *cfg, const struct mg_cfg_entry *e, char *why,
			size_t wl)
{
	struct mg_dp_port *pt = port_of(cfg, e);
	const char *p = e->value;

	pt->n_addrs = 0;
	while (*p != '\0') {
		const char *c = strchr(p, ',');
		size_t n = c ? (size_t)(c - p) : strlen(p);
		char a[64];

		while (n > 0 && isblank((unsigned char)*p)) {
			p++;
			n--;
		}
		snprintf(a, sizeof(a), "%.*s", (int)n, p);
		for (size_t i = strlen(a); i > 0 && isblank((unsigned char)a[i - 1]); i--)
			a[i - 1] = '\0';
		p = c ? c + 1 : p + n;
		if (pt->n_addrs == MG_CFG_MAX_ADDRS) {
			snprintf(why, wl, "more than %d addresses", MG_CFG_MAX_ADDRS);
			return -EINVAL;
		}
		if (mg_cfg_parse_cidr(a, &pt->addrs[pt->n_addrs], 1) < 0) {
			snprintf(why, wl, "bad address \"%s\"", a);
			return -EINVAL;
		}
		/* the dataplane is IPv4-only: accepted here, it would run without it */
		if (pt->addrs[pt->n_addrs].family != AF_INET) {
			snprintf(why, wl, "IPv6 address \"%s\": the dataplane handles IPv4 only", a);
			return -EINVAL;
		}
		pt->n_addrs++;
	}
	return 0;
}

static int v_port_nexthop(struct mg_config *cfg, const struct mg_cfg_entry *e, char *why,
			  size_t wl)
{
	struct mg_dp_port *pt = port_of(cfg, e);

	memset(&pt->nexthop, 0, sizeof(pt->nexthop));
	if (e->value[0] == '\0')
		return 0;
	if (mg_cfg_parse_cidr(e->value, &pt->nexthop, 0) < 0) {
		snprintf(why, wl, "bad address");
		return -EINVAL;
	}
	if (pt->nexthop.family != AF_INET) {
		snprintf(why, wl, "IPv6 next hop: the dataplane handles IPv4 only");
		return -EINVAL;
	}
	return 0;
}

static int v_port_shared(struct mg_config *cfg, const struct mg_cfg_entry *e, char *why,
			 size_t wl)
{
	struct mg_dp_port *pt = port_of(cfg, e);

	memset(&pt->shared, 0, sizeof(pt->shared));
	if (e->value[0] == '\0')
		return 0;
	if (mg_cfg_parse_cidr(e->value, &pt->shared, 0) < 0) {
		snprintf(why, wl, "bad address");
		return -EINVAL;
	}
	if (pt->shared.family != AF_INET) {
		snprintf(why, wl, "IPv6 address: the dataplane handles IPv4 only");
		return -EINVAL;
	}
	pt->shared.prefix_len = 32;
	return 0;
}

static int v_lcores(struct mg_config *cfg, const struct mg_cfg_entry *e, char *why, size_t wl)
{
	const char *p = e->value;

	/* "1,3-5": the dataplane maps it onto its EAL lcore set */
	while (*p != '\0') {
		unsigned long a, b;
		char *end;

		if (!isdigit((unsigned char)*p))
			goto bad;
		a = strtoul(p, &end, 10);
		b = a;
		p = end;
		if (*p == '-') {
			if (!isdigit((unsigned char)p[1]))
				goto bad;
			b = strtoul(p + 1, &end, 10);
			p = end;
		}
		if (a > b || b >= 1024)
			goto bad;
		if (*p == ',' && p[1] != '\0')
			p++;
		else if (*p != '\0')
			goto bad;
	}
	return v_string(cfg, e, why, wl);
bad:
	snprintf(why, wl, "bad lcore list");
	return -EINVAL;
}

static int v_port_range(struct mg_config *cfg, const struct mg_cfg_entry *e, char *why,
			size_t wl)
{
	const char *dash = strchr(e->value, '-');
	char lo[16];
	unsigned long a, b;

	if (dash == NULL || (size_t)(dash - e->value) >= sizeof(lo))
		goto bad;
	snprintf(lo, sizeof(lo), "%.*s", (int)(dash - e->value), e->value);
	if (parse_ulong(lo, 0, 65535, &a) < 0 || parse_ulong(dash + 1, 0, 65535, &b) < 0)
		goto bad;
	if (a < 1024 || b > 65535 || a >= b) {
		snprintf(why, wl, "range %lu-%lu outside 1024-65535 or empty", a, b);
		return -EINVAL;
	}
	if (a % 2 != 0 || b % 2 != 1) {
		snprintf(why, wl, "range must start on an even port and end on an odd one");
		return -EINVAL;
	}
	cfg->s.media_port_min = (uint16_t)a;
	cfg->s.media_port_max = (uint16_t)b;
	return 0;
bad:
	snprintf(why, wl, "not a range LOW-HIGH");
	return -EINVAL;
}

static struct mg_tdm_span *span_of(struct mg_config *cfg, const struct mg_cfg_entry *e)
{
	if (e->index + 1 > cfg->s.n_tdm_spans)
		cfg->s.n_tdm_spans = e->index + 1;
	cfg->s.tdm_spans[e->index].configured = true;
	return &cfg->s.tdm_spans[e->index];
}

static int v_span_role(struct mg_config *cfg, const struct mg_cfg_entry *e, char *why, size_t wl)
{
	struct mg_tdm_span *sp = span_of(cfg, e);

	if (strcmp(e->value, "user") == 0 || strcmp(e->value, "cpe") == 0)
		sp->role = MG_TDM_SPAN_USER;
	else if (strcmp(e->value, "network") == 0)
		sp->role = MG_TDM_SPAN_NETWORK;
	else {
		snprintf(why, wl, "unknown span role");
		return -EINVAL;
	}
	return 0;
}

#define SWITCH_TYPES "national, ni1, dms100, 4ess, 5ess, euroisdn_e1, euroisdn_t1, qsig"

static int v_span_switch(struct mg_config *cfg, const struct mg_cfg_entry *e, char *why,
			 size_t wl)
{
	static const char *const types[] = { "national",    "ni1",	    "dms100", "4ess",
					      "5ess",	     "euroisdn_e1", "euroisdn_t1", "qsig" };
	struct mg_tdm_span *sp = span_of(cfg, e);

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		if (strcmp(e->value, types[i]) == 0) {
			snprintf(sp->switch_type, sizeof(sp->switch_type), "%s", types[i]);
			return 0;
		}
	}
	snprintf(why, wl, "unknown ISDN switch type");
	return -EINVAL;
}

/* ---- mediagate.ng.* (the NG control API) ---- */

/* "ADDR:PORT", ADDR an IPv4 address, [IPv6] or INADDR_ANY (0.0.0.0). */
static int parse_host_port(const char *s, size_t n, char *addr, size_t alen, uint16_t *port,
			   char *why, size_t wl)
{
	char buf[96], *colon, *host = buf;
	const char *h;
	unsigned long p;
	uint8_t a[16];

	if (n >= sizeof(buf)) {
		snprintf(why, wl, "entry \"%.*s...\" too long", 32, s);
		return -EINVAL;
	}
	memcpy(buf, s, n);
	buf[n] = '\0';
	colon = strrchr(buf, ':');
	if (colon == NULL || parse_ulong(colon + 1, 1, 65535, &p) < 0) {
		snprintf(why, wl, "entry \"%s\": missing or bad port", buf);
		return -EINVAL;
	}
	*colon = '\0';
	h = host;
	if (strcmp(host, "INADDR_ANY") == 0) {
		h = "0.0.0.0";
	} else if (host[0] == '[') {
		size_t hl = strlen(host);

		if (hl < 3 || host[hl - 1] != ']')
			goto bad;
		host[hl - 1] = '\0';
		h = host + 1;
		if (inet_pton(AF_INET6, h, a) != 1)
			goto bad;
	} else if (inet_pton(AF_INET, host, a) != 1) {
		goto bad;
	}
	if (strlen(h) >= alen)
		goto bad;
	strcpy(addr, h);
	*port = (uint16_t)p;
	return 0;
bad:
	snprintf(why, wl, "entry \"%.*s\": bad address (an IPv4 address, [IPv6] or INADDR_ANY)",
		 (int)n, s);
	return -EINVAL;
}

/* Next item of a comma list, blanks around it trimmed; false at the end. */
static bool next_item(const char **p, const char **s, size_t *n)
{
	const char *c;

	if (**p == '\0')
		return false;
	c = strchr(*p, ',');
	*s = *p;
	*n = c ? (size_t)(c - *p) : strlen(*p);
	*p = c ? c + 1 : *p + *n;
	while (*n > 0 && isblank((unsigned char)**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n > 0 && isblank((unsigned char)(*s)[*n - 1]))
		(*n)--;
	return true;
}

static int v_ng_listen(struct mg_config *cfg, const struct mg_cfg_entry *e, char *why, size_t wl)
{
	const char *p = e->value, *s;
	size_t n;

	cfg->s.n_ng_listen = 0;
	while (next_item(&p, &s, &n)) {
		struct mg_ng_listen *l = &cfg->s.ng_listen[cfg->s.n_ng_listen];
		const char *slash = memchr(s, '/', n);
		size_t tl;

		if (n == 0) {
			snprintf(why, wl, "empty entry");
			return -EINVAL;
		}
		if (cfg->s.n_ng_listen == MG_CFG_MAX_NG_LISTEN) {
			snprintf(why, wl, "more than %d entries", MG_CFG_MAX_NG_LISTEN);
			return -EINVAL;
		}
		if (slash == NULL) {
			snprintf(why, wl, "entry \"%.*s\" has no /udp or /tcp", (int)n, s);
			return -EINVAL;
		}
		tl = n - (size_t)(slash + 1 - s);
		if (tl == 3 && strncasecmp(slash + 1, "udp", 3) == 0) {
			l->tcp = false;
		} else if (tl == 3 && strncasecmp(slash + 1, "tcp", 3) == 0) {
			l->tcp = true;
		} else {
			snprintf(why, wl, "entry \"%.*s\": unknown transport \"%.*s\"", (int)n, s,
				 (int)tl, slash + 1);
			return -EINVAL;
		}
		if (parse_host_port(s, (size_t)(slash - s), l->addr, sizeof(l->addr), &l->port, why,
				    wl) < 0)
			return -EINVAL;
		for (unsigned i = 0; i < cfg->s.n_ng_listen; i++) {
			const struct mg_ng_listen *o = &cfg->s.ng_listen[i];

			if (o->tcp == l->tcp && o->port == l->port && strcmp(o->addr, l->addr) == 0) {
				snprintf(why, wl, "entry %u (%.*s) is given twice", i + 1, (int)n, s);
				return -EINVAL;
			}
		}
		cfg->s.n_ng_listen++;
	}
	return 0;
}

static int v_ng_http(struct mg_config *cfg, const struct mg_cfg_entry *e, char *why, size_t wl)
{
	cfg->s.ng_http_addr[0] = '\0';
	cfg->s.ng_http_port = 0;
	if (e->value[0] == '\0')
		return 0;
	return parse_host_port(e->value, strlen(e->value), cfg->s.ng_http_addr,
			       sizeof(cfg->s.ng_http_addr), &cfg->s.ng_http_port, why, wl);
}

static int v_metrics_listen(struct mg_config *cfg, const struct mg_cfg_entry *e, char *why,
			    size_t wl)
{
	cfg->s.metrics_addr[0] = '\0';
	cfg->s.metrics_port = 0;
	if (e->value[0] == '\0')
		return 0;
	return parse_host_port(e->value, strlen(e->value), cfg->s.metrics_addr,
			       sizeof(cfg->s.metrics_addr), &cfg->s.metrics_port, why, wl);
}

static int v_ng_allowed(struct mg_config *cfg, const struct mg_cfg_entry *e, char *why, size_t wl)
{
	const char *p = e->value, *s;
	size_t n;

	cfg->s.n_ng_allowed = 0;
	if (*p == '\0') {
		snprintf(why, wl, "empty list (0.0.0.0/0,::/0 allows anyone)");
		return -EINVAL;
	}
	while (next_item(&p, &s, &n)) {
		struct mg_cidr *c = &cfg->s.ng_allowed[cfg->s.n_ng_allowed];
		char buf[64], *slash;
		unsigned long pl;

		if (cfg->s.n_ng_allowed == MG_CFG_MAX_NG_ALLOWED) {
			snprintf(why, wl, "more than %d entries", MG_CFG_MAX_NG_ALLOWED);
			return -EINVAL;
		}
		if (n == 0 || n >= sizeof(buf)) {
			snprintf(why, wl, n == 0 ? "empty entry" : "entry too long");
			return -EINVAL;
		}
		memcpy(buf, s, n);
		buf[n] = '\0';
		slash = strchr(buf, '/');
		if (slash != NULL)
			*slash = '\0';
		/* a prefix of 0 (anyone) is allowed here, unlike for port addresses */
		if (mg_cfg_parse_cidr(buf, c, 0) < 0 ||
		    (slash != NULL &&
		     parse_ulong(slash + 1, 0, c->family == AF_INET ? 32 : 128, &pl) < 0)) {
			if (slash != NULL)
				*slash = '/';
			snprintf(why, wl, "entry \"%s\" is not an address or ADDRESS/PREFIX", buf);
			return -EINVAL;
		}
		if (slash != NULL)
			c->prefix_len = (uint8_t)pl;
		cfg->s.n_ng_allowed++;
	}
	return 0;
}

/* ---- the table ---- */

static const struct mg_config_key schema[] = {
	{
		.name = "netborder.Installation.Directory",
		.type = "path",
		.def = MG_PREFIX,
		.doc_default = "the installation prefix (meson --prefix)",
		.example = "/opt/mediagate",
		.allowed = "an absolute directory",
		.apply = v_path,
		FIELD(install_dir),
		.help = "Installation directory; other keys refer to it as "
			"${netborder.Installation.Directory}.",
		.used_by = MG_CFG_USE_BOTH,
	},
	{
		.name = "netborder.sip.userAgent.IPAddress",
		.type = "list",
		.def = "INADDR_ANY:5060/udp,INADDR_ANY:5060/tcp",
		.allowed = "comma list of ADDR:PORT/TRANSPORT, ADDR an IPv4 address, [IPv6] or "
			   "INADDR_ANY, PORT 1-65535, TRANSPORT udp, tcp or tls",
		.apply = v_ua,
		.help = "SIP user agents (listening sockets) to start. Empty: no SIP, a pure NG media "
			"node (needs mediagate.ng.listen or mediagate.ng.http).",
		.used_by = MG_CFG_USE_CONTROL,
	},
	{
		.must_exist = true,
		.name = "netborder.sip.tls.serverCertificateFile",
		.type = "path",
		.def = "",
		.example = "${netborder.Installation.Directory}/etc/mediagate/certs/certnew.cer",
		.allowed = "absolute path of a PEM certificate (chain)",
		.apply = v_path,
		FIELD(tls_cert_file),
		.help = "PEM certificate (chain) the gateway presents on SIP/TLS.",
		.used_by = MG_CFG_USE_CONTROL,
	},
	{
		.must_exist = true,
		.name = "netborder.sip.tls.serverCertificatePrivateKeyFile",
		.type = "path",
		.def = "",
		.example = "${netborder.Installation.Directory}/etc/mediagate/certs/"
			   "new-private-key-protected.pem",
		.allowed = "absolute path of an encrypted PEM private key",
		.apply = v_path,
		FIELD(tls_key_file),
		.help = "Encrypted PEM private key of the certificate, protected with the "
			"gateway's key password.",
		.used_by = MG_CFG_USE_CONTROL,
	},
	{
		.must_exist = true,
		.name = "netborder.sip.tls.trustedRootCertificatesStore",
		.type = "path",
		.def = "",
		.example = "${netborder.Installation.Directory}/etc/mediagate/certs/"
			   "newTrustedRootCertificatesStore.pem",
		.allowed = "absolute path of a PEM bundle of CA certificates",
		.apply = v_path,
		FIELD(tls_trust_store),
		.help = "PEM bundle of trusted CAs; TLS peers are authenticated against it.",
		.used_by = MG_CFG_USE_CONTROL,
	},
	{
		.name = "netborder.sip.tls.cypherSuites",
		.type = "list",
		.def = "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,"
		       "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,"
		       "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,"
		       "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,"
		       "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,"
		       "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,"
		       "TLS_RSA_WITH_AES_128_CBC_SHA",
		.allowed = "comma list of cipher-suite names this OpenSSL offers, IANA "
			   "(TLS_RSA_WITH_AES_128_CBC_SHA) or OpenSSL (AES128-SHA) spelling; "
			   "certificate-authenticated suites only",
		.apply = v_cypher_suites,
		.help = "TLS cipher suites, most preferred first; the server picks the most "
			"preferred suite the peer also offers.",
		.used_by = MG_CFG_USE_CONTROL,
	},
	{
		.name = "netborder.sip.tls.supportSSLv2ClientHello",
		.type = "bool",
		.def = "false",
		.allowed = "true, false",
		.apply = v_bool,
		FIELD(ssl2_client_hello),
		.help = "Accept SSLv2-format ClientHello. Kept for compatibility: current TLS "
			"libraries cannot, so true only produces a warning.",
		.used_by = MG_CFG_USE_CONTROL,
	},
	{
		.name = "netborder.media.srtp.mode",
		.type = "enum",
		.def = "as-needed",
		.allowed = "always, as-needed, never",
		.apply = v_srtp_mode,
		.help = "SRTP policy when answering and making SDP offers (SPEC section 4 "
			"table).",
		.used_by = MG_CFG_USE_CONTROL,
	},
	{
		.name = "netborder.media.srtp.cryptoSuite",
		.type = "list",
		.def = "AES_CM_128_HMAC_SHA1_80,AES_CM_128_HMAC_SHA1_32",
		.allowed = "comma list of AES_CM_128_HMAC_SHA1_80, AES_CM_128_HMAC_SHA1_32",
		.apply = v_crypto_suites,
		.help = "SRTP crypto suites offered and accepted, first = highest priority.",
		.used_by = MG_CFG_USE_CONTROL,
	},
	{
		.name = "netborder.mdedia.srtp.cryptoSuite",
		.type = "list",
		.alias_of = "netborder.media.srtp.cryptoSuite",
		.help = "The guide's misspelling of netborder.media.srtp.cryptoSuite, accepted "
			"as the same key.",
		.used_by = MG_CFG_USE_CONTROL,
	},
	{
		.name = "netborder.media.rtp.lockOnSDP",
		.type = "bool",
		.def = "false",
		.allowed = "true, false",
		.apply = v_bool,
		FIELD(lock_on_sdp),
		.help = "true: media forking per RFC 3960, RTP/RTCP only accepted from the "
			"address and port the SDP named.",
		.used_by = MG_CFG_USE_BOTH,
	},
	{
		.name = "mediagate.log.level",
		.type = "enum",
		.def = "info",
		.allowed = "error, warning, info, debug",
		.apply = v_log_level,
		.help = "Lowest severity logged.",
		.used_by = MG_CFG_USE_BOTH,
	},
	{
		.name = "mediagate.log.syslog",
		.type = "bool",
		.def = "false",
		.allowed = "true, false",
		.apply = v_bool,
		FIELD(log_syslog),
		.help = "Also log to syslog (stderr is always written).",
		.used_by = MG_CFG_USE_BOTH,
	},
	{
		.must_exist = true,
		.name = "mediagate.sip.tls.keyPasswordFile",
		.type = "path",
		.def = "",
		.example = "/etc/mediagate/key-password",
		.allowed = "absolute path of a file whose first line is the password",
		.apply = v_path,
		FIELD(tls_key_password_file),
		.help = "File holding the password of the encrypted private key (empty: the "
			"key is not encrypted).",
		.used_by = MG_CFG_USE_CONTROL,
	},
	{
		.name = "mediagate.sip.tls.clientAuth",
		.type = "enum",
		.def = "require",
		.allowed = "require, optional",
		.apply = v_client_auth,
		.help = "Whether a TLS peer must present a certificate signed by the trusted "
			"store (mutual TLS).",
		.used_by = MG_CFG_USE_CONTROL,
	},
	{
		.name = "mediagate.sip.tls.minProtocol",
		.type = "enum",
		.def = "TLSv1.2",
		.allowed = "TLSv1, TLSv1.1, TLSv1.2, TLSv1.3",
		.apply = v_tls_version,
		FIELD(tls_min_version),
		.help = "Oldest TLS version accepted; below TLSv1.2 is an opt-in for legacy "
			"peers (OCS 2007 R2 speaks TLS 1.0).",
		.used_by = MG_CFG_USE_CONTROL,
	},
	{
		.name = "mediagate.sip.tls.maxProtocol",
		.type = "enum",
		.def = "TLSv1.3",
		.allowed = "TLSv1, TLSv1.1, TLSv1.2, TLSv1.3",
		.apply = v_tls_version,
		FIELD(tls_max_version),
		.help = "Newest TLS version offered.",
		.used_by = MG_CFG_USE_CONTROL,
	},
	{
		.name = "mediagate.sip.tls.tls13CipherSuites",
		.type = "list",
		.def = "TLS_AES_256_GCM_SHA384,TLS_CHACHA20_POLY1305_SHA256,TLS_AES_128_GCM_SHA256",
		.allowed = "comma list of TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384, "
			   "TLS_CHACHA20_POLY1305_SHA256, TLS_AES_128_CCM_SHA256, "
			   "TLS_AES_128_CCM_8_SHA256",
		.apply = v_tls13_suites,
		.help = "TLS 1.3 cipher suites, most preferred first (TLS 1.3 suites named in "
			"netborder.sip.tls.cypherSuites replace the default).",
		.used_by = MG_CFG_USE_CONTROL,
	},
	{
		.name = "mediagate.sip.contactHost",
		.type = "string",
		.def = "",
		.example = "gw1.example.com",
		.allowed = "host name or address, at most 255 characters",
		.apply = v_string,
		FIELD(sip_contact_host),
		.help = "Host put in Contact and in GW_HOST_IP of routing rules (empty: the "
			"address of the user agent used).",
		.used_by = MG_CFG_USE_CONTROL,
	},
	{
		.must_exist = true,
		.name = "mediagate.routing.rulesFile",
		.type = "path",
		.def = MG_CONFDIR_DEFAULT "/routing-rules.xml",
		.doc_default = "${netborder.Installation.Directory}/etc/mediagate/routing-rules.xml "
			       "(/etc/mediagate/routing-rules.xml in a build for prefix /usr, "
			       "as the Debian package)",
		.example = "${netborder.Installation.Directory}/etc/mediagate/routing-rules.xml",
		.allowed = "absolute path of a routing-rules XML file",
		.apply = v_path,
		FIELD(routing_rules_file),
		.help = "Routing rules (XML, SPEC section 2).",
		.used_by = MG_CFG_USE_CONTROL,
	},
	{
		.name = "mediagate.control.socket",
		.type = "path",
		.def = "/run/mediagate/dataplane.sock",
		.allowed = "absolute path, at most 107 characters",
		.apply = v_socket,
		FIELD(control_socket),
		.help = "AF_UNIX socket the dataplane listens on and the control plane connects "
			"to.",
		.used_by = MG_CFG_USE_BOTH,
	},
	{
		.name = "mediagate.control.cliSocket",
		.type = "path",
		.def = "",
		.doc_default = "control.sock in the directory of mediagate.control.socket "
			       "(/run/mediagate/control.sock)",
		.example = "/run/mediagate/control.sock",
		.allowed = "absolute path, at most 107 characters; empty: the default",
		.apply = v_cli_socket,
		FIELD(cli_socket),
		.help = "AF_UNIX socket the control plane listens on for mgctl (JSON lines; "
			"file mode 0660, peers checked against allowedUids).",
		.used_by = MG_CFG_USE_BOTH,
	},
	{
		.name = "mediagate.control.allowedUids",
		.type = "list",
		.def = "0",
		.allowed = "comma list of numeric uids or user names (at most 8)",
		.apply = v_uids,
		.help = "Peers (by SO_PEERCRED uid) the dataplane accepts on its socket and the "
			"control plane on mediagate.control.cliSocket (root always).",
		.used_by = MG_CFG_USE_BOTH,
	},
	{
		.name = "mediagate.dataplane.eal",
		.type = "string",
		.def = "--no-huge -m 256 --no-shconf",
		.allowed = "DPDK EAL arguments separated by blanks, at most 1023 characters",
		.apply = v_string,
		FIELD(eal_args),
		.help = "DPDK EAL arguments (lcores, memory, vdevs, file prefix).",
		.used_by = MG_CFG_USE_DATAPLANE,
	},
	{
		.name = "mediagate.dataplane.port.N.device",
		.type = "string",
		.example = "net_af_packet0,iface=veth0",
		.allowed = "a DPDK device: PCI address or vdev string, at most 255 characters",
		.apply = v_port_device,
		.max_index = MG_CFG_MAX_PORTS,
		.help = "DPDK device of dataplane port N.",
		.used_by = MG_CFG_USE_DATAPLANE,
	},
	{
		.name = "mediagate.dataplane.port.N.addresses",
		.type = "list",
		.def = "",
		.example = "192.0.2.1/24",
		.allowed = "comma list of IPv4 addresses with optional /prefix (CIDR, e.g. "
			   "192.0.2.1/24), at most 8; IPv6 is refused (the dataplane handles "
			   "IPv4 only)",
		.apply = v_port_addrs,
		.max_index = MG_CFG_MAX_PORTS,
		.help = "Media addresses owned by port N (the dataplane answers ARP and ICMP "
			"echo for them).",
		.used_by = MG_CFG_USE_DATAPLANE,
	},
	{
		.name = "mediagate.dataplane.port.N.nexthop",
		.type = "address",
		.def = "",
		.example = "192.0.2.254",
		.allowed = "an IPv4 address, or empty for none (IPv6 is refused: the dataplane "
			   "handles IPv4 only)",
		.apply = v_port_nexthop,
		.max_index = MG_CFG_MAX_PORTS,
		.help = "Gateway for destinations outside port N's prefixes (empty: on-link "
			"only).",
		.used_by = MG_CFG_USE_DATAPLANE,
	},
	{
		.name = "mediagate.dataplane.port.N.sharedAddress",
		.type = "address",
		.def = "",
		.example = "192.0.2.100",
		.allowed = "an IPv4 address inside one of the port's prefixes, or empty for none",
		.apply = v_port_shared,
		.max_index = MG_CFG_MAX_PORTS,
		.help = "Media address an active/standby pair shares (docs/standby.md): new "
			"sessions of port N take it as their local address; the dataplane owns "
			"it (ARP, ICMP, packets) only while it is the active node's (mgctl ha "
			"promote, which keepalived's notify_master runs; mediagate-dpctl shared "
			"on|off), and sends a gratuitous ARP when it takes it.",
		.used_by = MG_CFG_USE_BOTH,
	},
	{
		.name = "mediagate.dataplane.workerLcores",
		.type = "string",
		.def = "",
		.example = "1-3",
		.allowed = "lcore list such as 1,3-5 (empty: every lcore but the main one)",
		.apply = v_lcores,
		FIELD(worker_lcores),
		.help = "Lcores that run packet workers.",
		.used_by = MG_CFG_USE_DATAPLANE,
	},
	{
		.name = "mediagate.dataplane.idleSleepUs",
		.type = "uint",
		.def = "100",
		.allowed = "0-1000000 (0 = busy poll)",
		.apply = v_uint,
		FIELD(idle_sleep_us),
		.min = 0,
		.max = 1000000,
		.help = "Microseconds a worker sleeps after a poll found nothing; 0 busy-polls "
			"(dedicated cores).",
		.used_by = MG_CFG_USE_DATAPLANE,
	},
	{
		.name = "mediagate.dataplane.captureDir",
		.type = "path",
		.def = "/var/lib/mediagate/capture",
		.allowed = "absolute path",
		.apply = v_path,
		FIELD(capture_dir),
		.help = "Directory that per-session pcapng captures (mgctl capture start) are "
			"written to: a capture file must be a new file directly in it.",
		.used_by = MG_CFG_USE_DATAPLANE,
	},
	{
		.name = "mediagate.dataplane.orphanTimeout",
		.type = "uint",
		.def = "60",
		.allowed = "0-86400 seconds (0 = remove at once)",
		.apply = v_uint,
		FIELD(orphan_timeout_s),
		.min = 0,
		.max = 86400,
		.help = "When the control plane's connection is lost, the dataplane keeps "
			"forwarding every session for this many seconds; then it removes every "
			"session and port (counted: dpctl stats `orphans_removed`). A control "
			"plane that connects within the time finds them all (docs/reliability.md).",
		.used_by = MG_CFG_USE_DATAPLANE,
	},
	{
		.name = "mediagate.dataplane.restartWait",
		.type = "uint",
		.def = "30",
		.allowed = "0-3600 seconds (0 = end calls at once)",
		.apply = v_uint,
		FIELD(dp_restart_wait_s),
		.min = 0,
		.max = 3600,
		.help = "When the connection to the dataplane is lost, calls and NG sessions "
			"wait this many seconds for it: a dataplane that connects in time gets "
			"every session re-installed with the same ports, keys and SRTP indexes "
			"(docs/reliability.md); after it, the calls end as before (503/BYE).",
		.used_by = MG_CFG_USE_CONTROL,
	},
	{
		.name = "mediagate.dataplane.maxSessions",
		.type = "uint",
		.def = "16384",
		.allowed = "1-1048576",
		.apply = v_uint,
		FIELD(max_sessions),
		.min = 1,
		.max = 1048576,
		.help = "Size of the session tables.",
		.used_by = MG_CFG_USE_DATAPLANE,
	},
	{
		.name = "mediagate.media.portRange",
		.type = "range",
		.def = "16384-32767",
		.allowed = "LOW-HIGH within 1024-65535, LOW even, HIGH odd",
		.apply = v_port_range,
		.help = "UDP ports for RTP (even) and RTCP (odd) on the media addresses.",
		.used_by = MG_CFG_USE_BOTH,
	},
	{
		.name = "mediagate.media.handover",
		.type = "bool",
		.def = "false",
		.allowed = "true, false",
		.apply = v_bool,
		FIELD(media_handover),
		.help = "media-handover for every leg of every call and NG session (NG's "
			"media-handover flag turns it on for one session): true lets a latched "
			"leg's source move (SRTP: to a source whose packet "
			"authenticated; plain RTP: to a new source once the learned one was "
			"silent for mediagate.media.handoverSilenceMs). false: a leg keeps the "
			"first source it learned for the whole call, anything else is dropped "
			"as source_mismatch (SPEC 12).",
		.used_by = MG_CFG_USE_CONTROL,
	},
	{
		.name = "mediagate.media.handoverSilenceMs",
		.type = "uint",
		.def = "2000",
		.allowed = "100-600000 milliseconds",
		.apply = v_uint,
		FIELD(media_handover_silence_ms),
		.min = 100,
		.max = 600000,
		.help = "With media-handover, how long the learned source of a plain RTP leg "
			"must have sent nothing (RTP or RTCP) before a new source may take its "
			"place. SRTP legs need no wait: only a packet that authenticates moves "
			"them.",
		.used_by = MG_CFG_USE_DATAPLANE,
	},
	{
		.name = "mediagate.calls.maxCalls",
		.type = "uint",
		.def = "0",
		.allowed = "0-1048576 (0 = no limit of its own)",
		.apply = v_uint,
		FIELD(max_calls),
		.min = 0,
		.max = 1048576,
		.help = "Calls in progress at most (SIP and PSTN, any state); one more is refused "
			"with SIP 503 + Retry-After or ISDN cause 42 (switching equipment "
			"congestion). Size it under what the media port range and "
			"mediagate.dataplane.maxSessions allow.",
		.used_by = MG_CFG_USE_CONTROL,
	},
	{
		.name = "mediagate.calls.retryAfter",
		.type = "uint",
		.def = "5",
		.allowed = "0-3600 seconds (0 = no Retry-After header)",
		.apply = v_uint,
		FIELD(retry_after_s),
		.min = 0,
		.max = 3600,
		.help = "Retry-After (seconds) in the 503 of a call refused by "
			"mediagate.calls.maxCalls.",
		.used_by = MG_CFG_USE_CONTROL,
	},
	{
		.name = "mediagate.calls.maxRate",
		.type = "uint",
		.def = "0",
		.allowed = "0-100000 new calls per second (0 = no rate limit)",
		.apply = v_uint,
		FIELD(max_rate),
		.min = 0,
		.max = 100000,
		.help = "New calls admitted per second at most (a token bucket holding one "
			"second's worth): SIP INVITEs over it get 503 + Retry-After, NG offers "
			"for new calls `load limit`. Calls already admitted are never affected.",
		.used_by = MG_CFG_USE_CONTROL,
	},
	{
		.name = "mediagate.calls.maxLoopLagMs",
		.type = "uint",
		.def = "250",
		.allowed = "0-10000 milliseconds (0 = no shedding on lag)",
		.apply = v_uint,
		FIELD(max_loop_lag_ms),
		.min = 0,
		.max = 10000,
		.help = "Shed new calls while the control plane's event loop runs this late "
			"(a 10 ms tick measures how late it fires, and how long the oldest "
			"datagram has waited in the SIP UDP sockets' receive queues; the worst "
			"of the last 100 ms counts): new INVITEs get 503 + Retry-After, NG offers for new calls "
			"`load limit`, before queues grow. Calls already admitted go on. The "
			"default stays under SIP's 500 ms first retransmission (T1).",
		.used_by = MG_CFG_USE_CONTROL,
	},
	{
		.name = "mediagate.calls.mediaTimeout",
		.type = "uint",
		.def = "60",
		.allowed = "0-86400 seconds (0 = never)",
		.apply = v_uint,
		FIELD(media_timeout_s),
		.min = 0,
		.max = 86400,
		.help = "An answered call ends (BYE both ways) when a SIP peer that should be "
			"sending (its leg is not on hold or inactive) has sent no valid RTP or "
			"RTCP for this many seconds: a peer that vanished without BYE leaves no "
			"call, session or port behind.",
		.used_by = MG_CFG_USE_CONTROL,
	},
	{
		.name = "mediagate.ng.listen",
		.type = "list",
		.def = "",
		.example = "127.0.0.1:2223/udp,[::1]:2223/udp",
		.allowed = "comma list of ADDR:PORT/TRANSPORT (at most 8), ADDR an IPv4 address, "
			   "[IPv6] or INADDR_ANY, PORT 1-65535, TRANSPORT udp or tcp; empty: none",
		.apply = v_ng_listen,
		.help = "NG control API listeners (rtpengine's protocol, as Kamailio's rtpengine "
			"module speaks it): \"COOKIE bencode\" per UDP datagram, back to back on "
			"TCP.",
		.used_by = MG_CFG_USE_CONTROL,
	},
	{
		.name = "mediagate.ng.http",
		.type = "address",
		.def = "",
		.example = "127.0.0.1:2225",
		.allowed = "ADDR:PORT, ADDR an IPv4 address, [IPv6] or INADDR_ANY, PORT 1-65535; "
			   "empty: off",
		.apply = v_ng_http,
		.help = "NG control API over HTTP: POST /ng (cookie and bencode) and POST "
			"/ng-plain (JSON).",
		.used_by = MG_CFG_USE_CONTROL,
	},
	{
		.name = "mediagate.redis.url",
		.type = "string",
		.def = "",
		.example = "redis://127.0.0.1:6379",
		.allowed = "redis://HOST[:PORT] (HOST an IPv4 address or name, PORT 1-65535, "
			   "default 6379) or unix:/ABSOLUTE/PATH; empty: off",
		.apply = v_redis_url,
		FIELD(redis_url),
		.help = "Redis server where every call's and NG session's state is published "
			"(one key per call, docs/ha-state.md), and read back when the control "
			"plane starts, to re-adopt the calls the dataplane still holds. Writes "
			"never block: while Redis is away they wait in a bounded queue.",
		.used_by = MG_CFG_USE_CONTROL,
	},
	{
		.name = "mediagate.redis.role",
		.type = "enum",
		.def = "active",
		.allowed = "active, standby",
		.apply = v_redis_role,
		.help = "active: publish this node's calls and re-adopt them at start. standby "
			"(docs/standby.md): publish nothing; watch the NG sessions of the node "
			"named by mediagate.redis.node (keyspace notifications) and pre-install "
			"them in this node's dataplane, not forwarding, until mgctl ha promote "
			"(keepalived's notify_master) makes them forward and this node publish "
			"them. B2BUA calls are not taken over.",
		.used_by = MG_CFG_USE_CONTROL,
	},
	{
		.name = "mediagate.redis.db",
		.type = "uint",
		.def = "0",
		.allowed = "0-1023",
		.apply = v_uint,
		FIELD(redis_db),
		.min = 0,
		.max = 1023,
		.help = "Redis database number (SELECT).",
		.used_by = MG_CFG_USE_CONTROL,
	},
	{
		.name = "mediagate.redis.node",
		.type = "string",
		.def = "",
		.example = "gw1",
		.allowed = "at most 63 characters of A-Z a-z 0-9 . _ -; empty: the host name",
		.apply = v_redis_node,
		FIELD(redis_node),
		.help = "This node's name in the keys (mg:NODE:call:ID): a restarted control "
			"plane re-adopts the keys of its own node only, so several nodes can "
			"share one Redis; a standby names the node it stands for.",
		.used_by = MG_CFG_USE_CONTROL,
	},
	{
		.name = "mediagate.redis.expire",
		.type = "uint",
		.def = "86400",
		.allowed = "60-2592000 seconds",
		.apply = v_uint,
		FIELD(redis_expire_s),
		.min = 60,
		.max = 2592000,
		.help = "Expiry of a call's key, set again by every write and by a refresh "
			"every expire/3: a key of a node that died goes away by itself.",
		.used_by = MG_CFG_USE_CONTROL,
	},
	{
		.name = "mediagate.redis.queue",
		.type = "uint",
		.def = "4096",
		.allowed = "16-1048576 keys",
		.apply = v_uint,
		FIELD(redis_queue),
		.min = 16,
		.max = 1048576,
		.help = "Calls whose newest state waits to be written while Redis is slow or "
			"away (one entry per call: a newer state replaces the waiting one). A "
			"call that finds the queue full is not written (counted: "
			"mediagate_redis_dropped_total, logged once); it is written at its "
			"next change or refresh.",
		.used_by = MG_CFG_USE_CONTROL,
	},
	{
		.name = "mediagate.redis.readTimeout",
		.type = "uint",
		.def = "2000",
		.allowed = "100-60000 milliseconds",
		.apply = v_uint,
		FIELD(redis_read_timeout_ms),
		.min = 100,
		.max = 60000,
		.help = "Bound of the reads of Redis on the event loop: the read-back of "
			"this node's calls at start (the SIP user agents open once it is done "
			"and the dataplane has said which calls it still holds, or after this "
			"time), and the dead node's records read by mgctl ha adopt. Past it "
			"the read is given up (counted: read_timeouts).",
		.used_by = MG_CFG_USE_CONTROL,
	},
	{
		.name = "mediagate.redis.aliveTtl",
		.type = "uint",
		.def = "3000",
		.allowed = "0 (no heartbeat) or 1500-60000 milliseconds",
		.apply = v_alive,
		FIELD(redis_alive_ms),
		.min = 0,
		.max = 60000,
		.help = "Expiry of this node's heartbeat key mg:NODE:alive, written every "
			"aliveTtl/3 ms while the event loop runs and deleted at a clean stop. "
			"mgctl ha adopt NODE refuses while NODE's key exists (unless --force): "
			"a failover's adoption waits up to this long after the death.",
		.used_by = MG_CFG_USE_CONTROL,
	},
	{
		.name = "mediagate.metrics.listen",
		.type = "address",
		.def = "127.0.0.1:9102",
		.allowed = "ADDR:PORT, ADDR an IPv4 address, [IPv6] or INADDR_ANY, PORT 1-65535; "
			   "empty: off",
		.apply = v_metrics_listen,
		.help = "Prometheus metrics: HTTP GET /metrics in the text exposition format "
			"(docs/operations.md, \"Metrics\"). Loopback by default: the counters are "
			"not secret but the endpoint has no authentication; put a reverse proxy or "
			"a firewall in front before opening it wider.",
		.used_by = MG_CFG_USE_CONTROL,
	},
	{
		.name = "mediagate.ng.allowedSources",
		.type = "list",
		.def = "127.0.0.0/8,::1/128",
		.allowed = "comma list of IPv4/IPv6 addresses or ADDRESS/PREFIX (at most 16); "
			   "0.0.0.0/0,::/0 allows anyone",
		.apply = v_ng_allowed,
		.help = "Addresses the NG control API takes commands from; requests from others "
			"are not answered (and are counted).",
		.used_by = MG_CFG_USE_CONTROL,
	},
	{
		.name = "mediagate.ng.timeout",
		.type = "uint",
		.def = "60",
		.allowed = "0-86400 seconds (0 = never)",
		.apply = v_uint,
		FIELD(ng_timeout_s),
		.min = 0,
		.max = 86400,
		.help = "An answered NG session is deleted (from the dataplane too; counted: "
			"reason timeout) when none of its parties that should be sending (not "
			"on hold, not recvonly or inactive) has sent valid RTP or RTCP for this "
			"many seconds: a call whose delete was lost, or whose proxy gave this "
			"node up, leaves nothing behind (rtpengine's timeout; docs/ng.md).",
		.used_by = MG_CFG_USE_CONTROL,
	},
	{
		.name = "mediagate.ng.silentTimeout",
		.type = "uint",
		.def = "3600",
		.allowed = "0-86400 seconds (0 = never)",
		.apply = v_uint,
		FIELD(ng_silent_timeout_s),
		.min = 0,
		.max = 86400,
		.help = "As mediagate.ng.timeout for a session whose every stream is on hold, "
			"recvonly or inactive (its parties are not expected to send): deleted "
			"after this many seconds without media (reason silent_timeout).",
		.used_by = MG_CFG_USE_CONTROL,
	},
	{
		.name = "mediagate.ng.finalTimeout",
		.type = "uint",
		.def = "0",
		.allowed = "0-604800 seconds (0 = off)",
		.apply = v_uint,
		FIELD(ng_final_timeout_s),
		.min = 0,
		.max = 604800,
		.help = "An NG session is deleted this many seconds after its first offer, "
			"media or not (reason final_timeout): the longest call the operator "
			"allows.",
		.used_by = MG_CFG_USE_CONTROL,
	},
	{
		.name = "mediagate.ng.offerTimeout",
		.type = "uint",
		.def = "300",
		.allowed = "0-86400 seconds (0 = never)",
		.apply = v_uint,
		FIELD(ng_offer_timeout_s),
		.min = 0,
		.max = 86400,
		.help = "An NG session offered and never answered is deleted (its ports freed; "
			"reason offer_timeout) this many seconds after its first offer: the "
			"proxy that retried the offer on another node, or whose call failed "
			"without a delete, leaves nothing behind. Keep it above the longest "
			"ringing time before an answer or a 183 with SDP (proxies' INVITE "
			"timers are 120-180 s): a late answer finds no session.",
		.used_by = MG_CFG_USE_CONTROL,
	},
	{
		.must_exist = true,
		.name = "mediagate.tdm.systemConf",
		.type = "path",
		.def = "/etc/dahdi/system.conf",
		.allowed = "absolute path",
		.apply = v_path,
		FIELD(tdm_system_conf),
		.help = "DAHDI system.conf describing the spans and channels.",
		.used_by = MG_CFG_USE_CONTROL,
	},
	{
		.name = "mediagate.tdm.devicePath",
		.type = "path",
		.def = "/dev/dahdi",
		.allowed = "absolute path",
		.apply = v_path,
		FIELD(tdm_device_path),
		.help = "Directory of the DAHDI device nodes.",
		.used_by = MG_CFG_USE_BOTH,
	},
	{
		.name = "mediagate.tdm.span.N.role",
		.type = "enum",
		.def = "user",
		.allowed = "user (alias cpe), network",
		.apply = v_span_role,
		.max_index = MG_CFG_MAX_SPANS,
		.help = "ISDN PRI side of span N.",
		.used_by = MG_CFG_USE_CONTROL,
	},
	{
		.name = "mediagate.tdm.span.N.switchType",
		.type = "enum",
		.def = "national",
		.allowed = SWITCH_TYPES,
		.apply = v_span_switch,
		.max_index = MG_CFG_MAX_SPANS,
		.help = "ISDN switch variant of span N (libpri switch type).",
		.used_by = MG_CFG_USE_CONTROL,
	},
	{
		.name = "mediagate.tdm.echoCancel",
		.type = "bool",
		.def = "true",
		.allowed = "true, false",
		.apply = v_bool,
		FIELD(tdm_echo_cancel),
		.help = "Run the software echo canceller on TDM channels.",
		.used_by = MG_CFG_USE_DATAPLANE,
	},
};

const struct mg_config_key *mg_config_schema(size_t *n)
{
	*n = sizeof(schema) / sizeof(schema[0]);
	return schema;
}

/* ---- rules across keys ---- */

static const char *transport_name(enum mg_transport t)
{
	return t == MG_TRANSPORT_UDP ? "udp" : t == MG_TRANSPORT_TCP ? "tcp" : "tls";
}

static void ua_text(const struct mg_sip_ua *u, char *buf, size_t len)
{
	const char *a = u->addr[0] ? u->addr : "INADDR_ANY";

	if (u->family == AF_INET6)
		snprintf(buf, len, "[%s]:%u/%s", a, u->port, transport_name(u->transport));
	else
		snprintf(buf, len, "%s:%u/%s", a, u->port, transport_name(u->transport));
}

static int ua_overlap(const struct mg_sip_ua *a, const struct mg_sip_ua *b)
{
	if (a->port != b->port)
		return 0;
	if (a->addr[0] == '\0' || b->addr[0] == '\0')
		return 1; /* INADDR_ANY binds every address */
	return a->family == b->family && strcmp(a->addr, b->addr) == 0;
}

static void check_ua(struct mg_config *cfg)
{
	const struct mg_cfg_entry *e = mg_cfg_entry_find(cfg, "netborder.sip.userAgent.IPAddress");
	const struct mg_settings *s = &cfg->s;
	bool tls = false, plain = false;
	char ta[96], tb[96];

	if (s->n_ua == 0 && s->n_ng_listen == 0 && s->ng_http_port == 0)
		mg_cfg_error(cfg, e,
			     "empty list and no NG listener: the gateway would serve nothing (allowed: at "
			     "least one ADDR:PORT/TRANSPORT, or an empty list with mediagate.ng.listen or "
			     "mediagate.ng.http set: a pure media node)");
	for (unsigned i = 0; i < s->n_ua; i++) {
		tls |= s->ua[i].transport == MG_TRANSPORT_TLS;
		plain |= s->ua[i].transport != MG_TRANSPORT_TLS;
		for (unsigned j = i + 1; j < s->n_ua; j++) {
			const struct mg_sip_ua *a = &s->ua[i], *b = &s->ua[j];
			if (!ua_overlap(a, b))
				continue;
			ua_text(a, ta, sizeof(ta));
			ua_text(b, tb, sizeof(tb));
			if (a->transport == b->transport)
				mg_cfg_error(cfg, e,
					     "entries %u (%s) and %u (%s) listen on the same "
					     "address, port and transport (allowed: each "
					     "address:port/transport once)",
					     i + 1, ta, j + 1, tb);
			else if (a->transport != MG_TRANSPORT_UDP &&
				 b->transport != MG_TRANSPORT_UDP)
				mg_cfg_error(cfg, e,
					     "TCP and TLS user agents share port %u: entry %u "
					     "(%s) and entry %u (%s) (allowed: TCP and TLS on "
					     "different ports, e.g. "
					     "INADDR_ANY:5066/tcp,INADDR_ANY:5067/tls)",
					     a->port, i + 1, ta, j + 1, tb);
		}
	}
	if (tls && plain)
		mg_cfg_warn(cfg, e,
			    "a SIP/TLS user agent runs beside SIP/UDP or SIP/TCP user agents; not "
			    "recommended for security reasons (the guide advises TLS only)");
	if (tls) {
		/* the TLS user agent cannot start without all three (mutual TLS) */
		char missing[256] = "";
		if (s->tls_cert_file[0] == '\0')
			strcat(missing, " netborder.sip.tls.serverCertificateFile");
		if (s->tls_key_file[0] == '\0')
			strcat(missing, " netborder.sip.tls.serverCertificatePrivateKeyFile");
		if (s->tls_trust_store[0] == '\0')
			strcat(missing, " netborder.sip.tls.trustedRootCertificatesStore");
		if (missing[0] != '\0' && cfg->role == MG_CONFIG_ROLE_CONTROL)
			mg_cfg_error(cfg, e,
				     "a TLS user agent needs%s (allowed: set "
				     "serverCertificateFile, serverCertificatePrivateKeyFile and "
				     "trustedRootCertificatesStore, or no /tls entry)",
				     missing);
		else if (missing[0] != '\0')
			mg_cfg_warn(cfg, e, "a TLS user agent needs%s", missing);
	}
}

/*
 * A path the running daemon will open: warn now (file:line) rather than let
 * the daemon fail later with less context. Only the roles that open the file
 * check, and only files the operator named (defaults may be installed later).
 */
static void check_files(struct mg_config *cfg)
{
	unsigned use = cfg->role == MG_CONFIG_ROLE_CONTROL     ? MG_CFG_USE_CONTROL
		       : cfg->role == MG_CONFIG_ROLE_DATAPLANE ? MG_CFG_USE_DATAPLANE
							       : 0;

	for (size_t i = 0; i < cfg->n; i++) {
		const struct mg_cfg_entry *e = &cfg->e[i];

		if (!e->def->must_exist || !(e->def->used_by & use) || e->file == NULL ||
		    e->value == NULL || e->value[0] == '\0')
			continue;
		if (access(e->value, R_OK) != 0)
			mg_cfg_warn(cfg, e, "%s: %s (the daemon will fail to open it)", e->value,
				    strerror(errno));
	}
}

static void check_tls(struct mg_config *cfg)
{
	struct mg_settings *s = &cfg->s;
	const struct mg_cfg_entry *emin = mg_cfg_entry_find(cfg, "mediagate.sip.tls.minProtocol");
	const struct mg_cfg_entry *emax = mg_cfg_entry_find(cfg, "mediagate.sip.tls.maxProtocol");
	const struct mg_cfg_entry *ecs = mg_cfg_entry_find(cfg, "netborder.sip.tls.cypherSuites");
	const struct mg_cfg_entry *e13 =
		mg_cfg_entry_find(cfg, "mediagate.sip.tls.tls13CipherSuites");
	const struct mg_cfg_entry *ess =
		mg_cfg_entry_find(cfg, "netborder.sip.tls.supportSSLv2ClientHello");

	if (s->ssl2_client_hello)
		mg_cfg_warn(cfg, ess,
			    "SSLv2-format ClientHello cannot be accepted by current TLS "
			    "libraries; this setting has no effect");
	if (s->tls_min_version > s->tls_max_version)
		mg_cfg_error(cfg, emin->file ? emin : emax,
			     "minimum TLS version %s is above the maximum %s (allowed: "
			     "minProtocol <= maxProtocol)",
			     emin->value, emax->value);
	if (s->tls_min_version < TLS1_2_VERSION) {
		mg_cfg_warn(cfg, emin,
			    "TLS versions below 1.2 enabled: an explicit opt-in for legacy peers "
			    "such as OCS 2007 R2; OpenSSL security level lowered to 0 for them");
		size_t n = strlen(s->tls12_ciphers);
		if (n > 0)
			snprintf(s->tls12_ciphers + n, sizeof(s->tls12_ciphers) - n,
				 ":@SECLEVEL=0");
	}
	if (cfg->tls13_from_cypher_suites && e13->file != NULL)
		mg_cfg_warn(cfg, e13,
			    "TLS 1.3 suites are also named in netborder.sip.tls.cypherSuites "
			    "(%s:%u); mediagate.sip.tls.tls13CipherSuites wins",
			    ecs->file ? ecs->file : "default", ecs->line);
	if (s->tls12_ciphers[0] == '\0' && s->tls_min_version <= TLS1_2_VERSION)
		mg_cfg_error(cfg, ecs,
			     "no usable TLS 1.0-1.2 cipher suite left, but minProtocol allows "
			     "TLS 1.2 or older (allowed: add a suite such as "
			     "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, or set "
			     "mediagate.sip.tls.minProtocol=TLSv1.3)");
}

static void check_ports(struct mg_config *cfg)
{
	const struct mg_settings *s = &cfg->s;
	char key[96];

	for (unsigned i = 0; i < s->n_ports; i++) {
		const struct mg_cfg_entry *any = NULL;
		snprintf(key, sizeof(key), "mediagate.dataplane.port.%u.device", i);
		if (mg_cfg_entry_find(cfg, key) != NULL)
			continue;
		static const char *const sub[] = { "addresses", "nexthop", "sharedAddress" };
		for (size_t k = 0; k < 3 && any == NULL; k++) {
			char other[96];
			snprintf(other, sizeof(other), "mediagate.dataplane.port.%u.%s", i, sub[k]);
			any = mg_cfg_entry_find(cfg, other);
			if (any != NULL && any->file == NULL)
				any = NULL;
		}
		if (any != NULL)
			mg_cfg_error(cfg, any, "port %u has no %s (allowed: every configured "
					       "port names its DPDK device)", i, key);
		else
			mg_cfg_error(cfg, NULL,
				     "dataplane ports must be numbered from 0 without gaps, "
				     "port %u is missing (allowed: set %s)", i, key);
	}
	/* TDM spans may have gaps: span.N is DAHDI span N+1 of system.conf, so a
	 * gateway running PRI on span 2 only leaves span.0 out (pri_mgr skips it). */
}

static void derive_cli_socket(struct mg_config *cfg)
{
	struct mg_settings *s = &cfg->s;
	const char *slash = strrchr(s->control_socket, '/');
	int dir = slash != NULL ? (int)(slash - s->control_socket) : 0;

	if (s->cli_socket[0] != '\0')
		return;
	if (snprintf(s->cli_socket, sizeof(s->cli_socket), "%.*s/control.sock", dir,
		     s->control_socket) >= (int)sizeof(s->cli_socket))
		mg_cfg_error(cfg, mg_cfg_entry_find(cfg, "mediagate.control.socket"),
			     "the directory of this socket is too long for control.sock in it "
			     "(allowed: set mediagate.control.cliSocket, at most 107 characters)");
}

void mg_cfg_check_rules(struct mg_config *cfg)
{
	derive_cli_socket(cfg);
	check_ua(cfg);
	check_tls(cfg);
	check_files(cfg);
	check_ports(cfg);
}
