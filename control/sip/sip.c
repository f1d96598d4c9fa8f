/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SIP user agents: binding, OPTIONS, and the answer to requests the gateway
 * does not handle yet.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define NUA_MAGIC_T struct sip_ua
#define NUA_HMAGIC_T void
#include <sofia-sip/nua.h>
#include <sofia-sip/nua_tag.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/su_log.h>
#include <sofia-sip/tport_tag.h>

#include "mg_build_config.h"
#include "mg_log.h"
#include "sipua.h"
#include "tlscfg.h"

/*
 * What OPTIONS advertises and what every other method is measured against.
 * INVITE is listed: it is a method the gateway implements (and will answer
 * once call handling is enabled), so a 405 for it would be wrong.
 */
#define SIP_ALLOW "INVITE, ACK, BYE, CANCEL, OPTIONS, PRACK, UPDATE"
#define SIP_ACCEPT "application/sdp"
#define SIP_SUPPORTED "timer, 100rel"
#define SIP_USER_AGENT "mediagate/" MG_VERSION
#define SIPUA_MAX 64 /* after INADDR_ANY is expanded to the host's addresses */

struct sip_ua {
	nua_t *nua;
	struct mg_sip_ua cfg;
	char url[128];
	bool shutdown_done;
};

static struct {
	su_root_t *root;
	struct sip_ua ua[SIPUA_MAX];
	unsigned n_ua;
	bool tls;
	char contact_host[256];
	sipua_hook_fn *hook;
	void *hook_arg;
	char local4[INET_ADDRSTRLEN];  /* Contact host of INADDR_ANY user agents */
	char local6[INET6_ADDRSTRLEN]; /* when nothing better is known */
} sip;

/*
 * First global address of each family, for Contacts of INADDR_ANY user
 * agents in requests (answers use the host the peer addressed). Loopback
 * only if there is nothing else; mediagate.sip.contactHost overrides all.
 */
static void sipua_find_local_addrs(void)
{
	struct ifaddrs *ifa = NULL;

	snprintf(sip.local4, sizeof(sip.local4), "127.0.0.1");
	snprintf(sip.local6, sizeof(sip.local6), "::1");
	if (getifaddrs(&ifa) < 0)
		return;
	bool have4 = false, have6 = false;

	for (struct ifaddrs *i = ifa; i; i = i->ifa_next) {
		if (i->ifa_addr == NULL || (i->ifa_flags & IFF_LOOPBACK) || !(i->ifa_flags & IFF_UP))
			continue;
		if (i->ifa_addr->sa_family == AF_INET && !have4) {
			const struct sockaddr_in *a = (const struct sockaddr_in *)(void *)i->ifa_addr;

			have4 = inet_ntop(AF_INET, &a->sin_addr, sip.local4, sizeof(sip.local4)) != NULL;
		} else if (i->ifa_addr->sa_family == AF_INET6 && !have6) {
			const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)(void *)i->ifa_addr;

			if (IN6_IS_ADDR_LINKLOCAL(&a->sin6_addr))
				continue;
			have6 = inet_ntop(AF_INET6, &a->sin6_addr, sip.local6, sizeof(sip.local6)) != NULL;
		}
	}
	freeifaddrs(ifa);
}

static const char *sipua_transport_name(enum mg_transport t)
{
	return t == MG_TRANSPORT_UDP ? "udp" : t == MG_TRANSPORT_TCP ? "tcp" : "tls";
}

int sipua_url(const struct mg_sip_ua *ua, char *buf, size_t len)
{
	const char *host = ua->addr[0] ? ua->addr : (ua->family == AF_INET6 ? "::" : "0.0.0.0");
	bool v6 = strchr(host, ':') != NULL;
	/*
	 * sofia-sip 1.12.11 binds a TLS transport only for a sips: URL
	 * ("sip:...;transport=tls" fails with EPROTONOSUPPORT). It then derives
	 * a sips: Contact from it, which common clients mishandle (baresip's
	 * ACK), so every answer we build carries sipua_contact() instead.
	 */
	int n = snprintf(buf, len, "%s:%s%s%s:%u;transport=%s",
			 ua->transport == MG_TRANSPORT_TLS ? "sips" : "sip", v6 ? "[" : "", host,
			 v6 ? "]" : "", ua->port, sipua_transport_name(ua->transport));

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/*
 * Contact for answers of user agent @ua: always a sip: URI with the
 * transport parameter. The host is mediagate.sip.contactHost if set, else the
 * user agent's address, or for INADDR_ANY
 * the host the peer addressed (its Request-URI), which it can reach.
 */
static void sipua_contact_of(const struct sip_ua *ua, const sip_t *req, char *buf, size_t len)
{
	const char *host = sip.contact_host[0] ? sip.contact_host : ua->cfg.addr;
	char reqhost[80] = "";

	/* a host longer than any address is no address of ours: not cut,
	 * the local address instead */
	if (host[0] == '\0' && req && req->sip_request && req->sip_request->rq_url->url_host &&
	    strlen(req->sip_request->rq_url->url_host) < sizeof(reqhost)) {
		snprintf(reqhost, sizeof(reqhost), "%s", req->sip_request->rq_url->url_host);
		host = reqhost;
	}
	if (host[0] == '\0')
		host = ua->cfg.family == AF_INET6 ? sip.local6 : sip.local4;
	bool v6 = strchr(host, ':') != NULL && host[0] != '[';

	snprintf(buf, len, "<sip:%s%s%s:%u;transport=%s>", v6 ? "[" : "", host, v6 ? "]" : "",
		 ua->cfg.port, sipua_transport_name(ua->cfg.transport));
}

static void sipua_su_logger(void *stream, char const *fmt, va_list ap)
{
	char line[1024];
	size_t n;

	(void)stream;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n && line[n - 1] == '\n')
		line[--n] = '\0';
	if (n)
		MG_DEBUG("sofia: %s", line);
}

static void sipua_reply_invite(nua_t *nua, nua_handle_t *nh)
{
	/*
	 * 503: this gateway cannot serve the call now, so the Mediation Server or
	 * proxy fails over to its next gateway (RFC 3261 21.5.4, RFC 3263). 480
	 * would blame the callee and stop failover; 501 would contradict Allow.
	 */
	nua_respond(nh, SIP_503_SERVICE_UNAVAILABLE, NUTAG_WITH_THIS(nua),
		    SIPTAG_WARNING_STR("399 mediagate \"call handling is not enabled in this build\""),
		    SIPTAG_REASON_STR("SIP;cause=503;text=\"call handling is not enabled\""),
		    TAG_END());

}

static void sipua_event(nua_event_t event, int status, char const *phrase, nua_t *nua,
		      struct sip_ua *ua, nua_handle_t *nh, void *hmagic, sip_t const *sipmsg,
		      tagi_t tags[])
{
	(void)hmagic;
	if (sip.hook && sip.hook(sip.hook_arg, (unsigned)(ua - sip.ua), event, status, phrase, nua,
				 nh, sipmsg, tags))
		return;
	switch (event) {
	case nua_i_invite:
		MG_INFO("sip: %s: INVITE from %s refused (503, call handling not enabled)",
			ua->url,
			sipmsg && sipmsg->sip_from && sipmsg->sip_from->a_url->url_host ?
				sipmsg->sip_from->a_url->url_host :
				"?");
		sipua_reply_invite(nua, nh);
		break;
	case nua_i_options: {
		char contact[320];

		/* Mediation Servers probe gateways with OPTIONS: 200 with what we take. */
		sipua_contact_of(ua, sipmsg, contact, sizeof(contact));
		nua_respond(nh, SIP_200_OK, NUTAG_WITH_THIS(nua), SIPTAG_CONTACT_STR(contact),
			    SIPTAG_ALLOW_STR(SIP_ALLOW), SIPTAG_ACCEPT_STR(SIP_ACCEPT),
			    SIPTAG_SUPPORTED_STR(SIP_SUPPORTED), TAG_END());
		MG_DEBUG("sip: %s: OPTIONS answered 200", ua->url);
		nua_handle_destroy(nh);
		break;
	}
	case nua_i_state:
	case nua_i_active:
	case nua_i_ack:
		break;
	case nua_i_terminated:
		if (nh)
			nua_handle_destroy(nh);
		break;
	case nua_r_shutdown:
		/* 200 is final success; >= 500 means sofia gave up but still
		 * marks the shutdown final, so nua_destroy() is then safe too. */
		if (status >= 200)
			ua->shutdown_done = true;
		break;
	case nua_i_error:
		MG_WARN("sip: %s: %d %s", ua->url, status, phrase);
		break;
	default:
		if (status > 100)
			MG_DEBUG("sip: %s: %s %d %s", ua->url, nua_event_name(event), status,
				 phrase);
		/* Out-of-dialog requests nua answered (405/501/481): release the
		 * handle it made for them; there are no dialogs without calls. */
		if (nh && event >= nua_i_refer && event <= nua_i_method)
			nua_handle_destroy(nh);
		break;
	}
}

/* The guide: TCP and TLS user agents must not share a port. */
static int sipua_check_ports(const struct mg_settings *s)
{
	bool tls = false, plain = false;

	for (unsigned i = 0; i < s->n_ua; i++) {
		const struct mg_sip_ua *a = &s->ua[i];

		if (a->transport == MG_TRANSPORT_TLS)
			tls = true;
		else
			plain = true;
		for (unsigned j = 0; j < s->n_ua; j++) {
			const struct mg_sip_ua *b = &s->ua[j];

			if (a->transport == MG_TRANSPORT_TCP && b->transport == MG_TRANSPORT_TLS &&
			    a->port == b->port &&
			    (!a->addr[0] || !b->addr[0] || !strcmp(a->addr, b->addr))) {
				MG_ERR("netborder.sip.userAgent.IPAddress: TCP and TLS user agents both use port %u (allowed: different ports, e.g. INADDR_ANY:5066/tcp,INADDR_ANY:5067/tls)",
				       a->port);
				return -EINVAL;
			}
		}
	}
	sip.tls = tls;
	(void)plain;
	return 0;
}

/*
 * INADDR_ANY: sofia-sip never binds a wildcard socket; for "*" or 0.0.0.0 it
 * binds every local address itself and fails the whole transport when two
 * interfaces carry the same address (EADDRINUSE). So we list the host's
 * addresses ourselves, once each, and give sofia one address per user agent.
 * Returns the number of user agents or -errno.
 */
static int sipua_expand(const struct mg_settings *s, struct mg_sip_ua *out, unsigned max)
{
	struct ifaddrs *ifa = NULL;
	unsigned n = 0;

	for (unsigned i = 0; i < s->n_ua; i++) {
		const struct mg_sip_ua *u = &s->ua[i];
		unsigned before = n;

		if (u->addr[0]) {
			if (n == max) {
				if (ifa)
					freeifaddrs(ifa);
				return -ENOSPC;
			}
			out[n++] = *u;
			continue;
		}
		if (ifa == NULL && getifaddrs(&ifa) < 0)
			return -errno;
		for (struct ifaddrs *a = ifa; a; a = a->ifa_next) {
			char ip[INET6_ADDRSTRLEN];
			const void *bin;
			bool dup = false;

			if (a->ifa_addr == NULL || !(a->ifa_flags & IFF_UP) ||
			    a->ifa_addr->sa_family != u->family)
				continue;
			if (u->family == AF_INET) {
				bin = &((const struct sockaddr_in *)(void *)a->ifa_addr)->sin_addr;
			} else {
				const struct in6_addr *a6 =
					&((const struct sockaddr_in6 *)(void *)a->ifa_addr)->sin6_addr;

				if (IN6_IS_ADDR_LINKLOCAL(a6))
					continue;
				bin = a6;
			}
			if (inet_ntop(u->family, bin, ip, sizeof(ip)) == NULL)
				continue;
			for (unsigned j = 0; j < n && !dup; j++)
				dup = out[j].port == u->port && out[j].transport == u->transport &&
				      strcmp(out[j].addr, ip) == 0;
			if (dup)
				continue;
			if (n == max) {
				freeifaddrs(ifa);
				return -ENOSPC;
			}
			out[n] = *u;
			snprintf(out[n].addr, sizeof(out[n].addr), "%s", ip);
			n++;
		}
		if (n == before) {
			MG_ERR("netborder.sip.userAgent.IPAddress: INADDR_ANY:%u: the host has no %s address",
			       u->port, u->family == AF_INET ? "IPv4" : "IPv6");
			freeifaddrs(ifa);
			return -EADDRNOTAVAIL;
		}
	}
	if (ifa)
		freeifaddrs(ifa);
	return (int)n;
}

int sip_start(su_root_t *root, const struct mg_settings *s)
{
	struct mg_sip_ua uas[SIPUA_MAX];
	int n_uas;
	static const struct tlscfg_sofia no_tls = { 0 };
	const struct tlscfg_sofia *tc = &no_tls; /* TAG_IF evaluates its value */
	char err[512];
	int rc;

	sipua_hook_fn *hook = sip.hook; /* may be set before start */
	void *hook_arg = sip.hook_arg;

	memset(&sip, 0, sizeof(sip));
	sip.hook = hook;
	sip.hook_arg = hook_arg;
	sip.root = root;
	if (mg_log_get_level() >= MG_LOG_DEBUG)
		su_log_set_level(NULL, 3);
	else
		su_log_set_level(NULL, 0);
	su_log_redirect(NULL, sipua_su_logger, NULL);

	snprintf(sip.contact_host, sizeof(sip.contact_host), "%s", s->sip_contact_host);
	sipua_find_local_addrs();
	rc = sipua_check_ports(s);
	if (rc < 0)
		return rc;
	if (sip.tls) {
		rc = tlscfg_init(s, err, sizeof(err));
		if (rc < 0) {
			MG_ERR("%s", err);
			return rc;
		}
		tc = tlscfg_sofia();
	}

	n_uas = sipua_expand(s, uas, SIPUA_MAX);
	if (n_uas < 0) {
		if (n_uas == -ENOSPC)
			MG_ERR("netborder.sip.userAgent.IPAddress: more than %d user agents once INADDR_ANY is expanded to the host's addresses (allowed: name addresses explicitly)",
			       SIPUA_MAX);
		rc = n_uas;
		goto fail;
	}
	for (int i = 0; i < n_uas; i++) {
		struct sip_ua *ua = &sip.ua[i];
		bool tls = uas[i].transport == MG_TRANSPORT_TLS;

		ua->cfg = uas[i];
		rc = sipua_url(&uas[i], ua->url, sizeof(ua->url));
		if (rc < 0)
			goto fail;
		ua->nua = nua_create(root, sipua_event, ua, NUTAG_URL(ua->url),
				     TAG_IF(tls, TPTAG_CERTIFICATE(tc->cert_dir)),
				     TAG_IF(tls && tc->passphrase, TPTAG_TLS_PASSPHRASE(tc->passphrase)),
				     TAG_IF(tls, TPTAG_TLS_VERIFY_POLICY(tc->verify_policy)),
				     TAG_IF(tls, TPTAG_TLS_VERIFY_DATE(1)),
				     NUTAG_MEDIA_ENABLE(0),
				     NUTAG_ENABLEMESSAGE(0),
				     SIPTAG_ALLOW_STR(SIP_ALLOW),
				     SIPTAG_ACCEPT_STR(SIP_ACCEPT),
				     SIPTAG_SUPPORTED_STR(SIP_SUPPORTED),
				     NUTAG_APPL_METHOD("OPTIONS"),
				     SIPTAG_USER_AGENT_STR(SIP_USER_AGENT),
				     TAG_END());
		if (ua->nua == NULL) {
			MG_ERR("netborder.sip.userAgent.IPAddress: cannot start the SIP user agent on %s (address not local, or port in use)",
			       ua->url);
			rc = -EADDRNOTAVAIL;
			goto fail;
		}
		sip.n_ua++;
		MG_INFO("sip: user agent listening on %s", ua->url);
	}
	/* sofia loaded its TLS files while creating the transports: keep no copy
	 * of the key on disk longer than that. */
	if (sip.tls)
		tlscfg_sofia_loaded();
	return 0;
fail:
	sip_stop();
	return rc;
}

void sip_stop(void)
{
	for (unsigned i = 0; i < sip.n_ua; i++)
		if (sip.ua[i].nua)
			nua_shutdown(sip.ua[i].nua);
	/* nua needs its root running to finish the shutdown (bounded wait). */
	for (int round = 0; round < 50; round++) {
		bool all = true;

		for (unsigned i = 0; i < sip.n_ua; i++)
			if (sip.ua[i].nua && !sip.ua[i].shutdown_done)
				all = false;
		if (all || sip.root == NULL)
			break;
		su_root_step(sip.root, 100);
	}
	for (unsigned i = 0; i < sip.n_ua; i++) {
		/* nua_destroy() aborts the process if the shutdown has not
		 * completed (sofia asserts on it): an agent that did not finish in
		 * the bounded wait above is left to process exit instead. */
		if (sip.ua[i].nua && sip.ua[i].shutdown_done)
			nua_destroy(sip.ua[i].nua);
		else if (sip.ua[i].nua)
			MG_WARN("sip: %s: shutdown did not complete, not destroying its agent",
				sip.ua[i].url);
		sip.ua[i].nua = NULL;
	}
	sip.n_ua = 0;
	if (sip.tls)
		tlscfg_fini();
	sip.tls = false;
}

void sipua_set_hook(sipua_hook_fn *fn, void *arg)
{
	sip.hook = fn;
	sip.hook_arg = arg;
}

unsigned sipua_count(void)
{
	return sip.n_ua;
}

nua_t *sipua_nua(unsigned ua_index)
{
	return ua_index < sip.n_ua ? sip.ua[ua_index].nua : NULL;
}

const struct mg_sip_ua *sipua_cfg(unsigned ua_index)
{
	return ua_index < sip.n_ua ? &sip.ua[ua_index].cfg : NULL;
}

void sipua_contact(unsigned ua_index, sip_t const *req, char *buf, size_t len)
{
	if (ua_index >= sip.n_ua) {
		snprintf(buf, len, "%s", "");
		return;
	}
	sipua_contact_of(&sip.ua[ua_index], req, buf, len);
}
