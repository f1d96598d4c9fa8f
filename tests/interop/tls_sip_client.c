/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tls-sip-client: a small sofia-sip user agent that sends one OPTIONS over
 * TLS with a client certificate and exits 0 on a 200 answer. It runs the
 * gateway's own TLS policy module for its outbound side, so it also proves
 * that outbound connections verify the server chain and its name/address:
 *
 *   tls-sip-client --target sip:127.0.0.1:5067;transport=tls --cert C --key K
 *                  --ca CA [--expect-host NAME] [--timeout SEC]
 *
 * Prints the final status line and the Contact, Allow, Accept and Supported
 * headers of the answer.
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NUA_MAGIC_T struct client
#define NUA_HMAGIC_T void
#include <sofia-sip/nua.h>
#include <sofia-sip/nua_tag.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/su_log.h>
#include <sofia-sip/tport_tag.h>

#include "mg_log.h"
#include "tlscfg.h"

struct client {
	su_root_t *root;
	int status;
	bool done;
};

static void client_print_header(const char *name, const msg_header_t *h)
{
	char buf[512];

	if (h == NULL)
		return;
	if (sip_header_e(buf, sizeof(buf), (const sip_header_t *)h, 0) > 0)
		printf("%s", buf);
	else
		printf("%s: ?\n", name);
}

static void client_event(nua_event_t event, int status, char const *phrase, nua_t *nua,
			 struct client *c, nua_handle_t *nh, void *hmagic, sip_t const *sip,
			 tagi_t tags[])
{
	(void)nua;
	(void)nh;
	(void)hmagic;
	(void)tags;
	if (event == nua_r_options && status >= 200) {
		printf("SIP/2.0 %d %s\n", status, phrase);
		if (sip) {
			client_print_header("Contact", (const msg_header_t *)sip->sip_contact);
			client_print_header("Allow", (const msg_header_t *)sip->sip_allow);
			client_print_header("Accept", (const msg_header_t *)sip->sip_accept);
			client_print_header("Supported", (const msg_header_t *)sip->sip_supported);
		}
		c->status = status;
		c->done = true;
		su_root_break(c->root);
	} else if (event == nua_r_shutdown && status >= 200) {
		su_root_break(c->root);
	}
}

static void client_timeout(su_root_magic_t *m, su_timer_t *t, su_timer_arg_t *arg)
{
	struct client *c = (struct client *)arg;

	(void)m;
	(void)t;
	c->status = 0;
	c->done = true;
	printf("timeout: no final answer\n");
	su_root_break(c->root);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "target", required_argument, NULL, 't' },
		{ "cert", required_argument, NULL, 'c' },
		{ "key", required_argument, NULL, 'k' },
		{ "ca", required_argument, NULL, 'a' },
		{ "expect-host", required_argument, NULL, 'e' },
		{ "timeout", required_argument, NULL, 'T' },
		{ NULL, 0, NULL, 0 },
	};
	static struct mg_settings s;
	const char *target = NULL, *expect = NULL;
	struct client c = { .status = 0 };
	int opt, timeout = 5;
	char err[512];

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 't': target = optarg; break;
		case 'c': snprintf(s.tls_cert_file, sizeof(s.tls_cert_file), "%s", optarg); break;
		case 'k': snprintf(s.tls_key_file, sizeof(s.tls_key_file), "%s", optarg); break;
		case 'a': snprintf(s.tls_trust_store, sizeof(s.tls_trust_store), "%s", optarg); break;
		case 'e': expect = optarg; break;
		case 'T': timeout = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: tls-sip-client --target URI --cert C --key K --ca CA [--expect-host NAME] [--timeout SEC]\n");
			return 2;
		}
	}
	if (target == NULL) {
		fprintf(stderr, "tls-sip-client: --target is required\n");
		return 2;
	}
	mg_log_init("tls-sip-client", getenv("TLS_CLIENT_DEBUG") ? MG_LOG_DEBUG : MG_LOG_WARN,
		    false);
	s.tls_client_auth = MG_TLS_CLIENT_AUTH_REQUIRE;
	if (tlscfg_init(&s, err, sizeof(err)) < 0) {
		fprintf(stderr, "tls-sip-client: %s\n", err);
		return 2;
	}
	if (expect) {
		struct sockaddr_in sin = { .sin_family = AF_INET };

		/* The tests connect to 127.0.0.1; the name stands for that address. */
		inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
		tlscfg_expect_host((struct sockaddr *)&sin, expect);
	}
	su_init();
	su_log_set_level(NULL, 0);
	c.root = su_root_create(NULL);
	const struct tlscfg_sofia *tc = tlscfg_sofia();
	nua_t *nua = nua_create(c.root, client_event, &c,
				NUTAG_URL("sips:127.0.0.1:0;transport=tls"),
				TPTAG_CERTIFICATE(tc->cert_dir),
				TPTAG_TLS_VERIFY_POLICY(tc->verify_policy),
				TPTAG_TLS_VERIFY_DATE(1),
				NUTAG_MEDIA_ENABLE(0),
				TAG_END());
	if (nua == NULL) {
		fprintf(stderr, "tls-sip-client: cannot create the user agent\n");
		tlscfg_fini();
		return 2;
	}
	nua_handle_t *nh = nua_handle(nua, NULL, SIPTAG_TO_STR(target), TAG_END());
	su_timer_t *timer = su_timer_create(su_root_task(c.root), (su_duration_t)timeout * 1000);

	su_timer_set(timer, client_timeout, (su_timer_arg_t *)&c);
	nua_options(nh, NUTAG_URL(target), TAG_END());
	su_root_run(c.root);
	su_timer_destroy(timer);
	nua_handle_destroy(nh);
	nua_shutdown(nua);
	su_root_run(c.root);
	nua_destroy(nua);
	su_root_destroy(c.root);
	su_deinit();
	tlscfg_fini();
	return c.status == 200 ? 0 : 1;
}
