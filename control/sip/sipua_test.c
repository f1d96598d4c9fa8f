/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the SIP user agent module: the URL each user agent binds
 * (sips: for TLS because this sofia-sip binds TLS only for sips:, IPv6 in
 * brackets), and a real user agent on loopback answering OPTIONS through
 * its own su_root with the sip: Contact.
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "sipua.h"

static void ua(struct mg_sip_ua *u, const char *addr, int family, uint16_t port,
	       enum mg_transport t)
{
	memset(u, 0, sizeof(*u));
	snprintf(u->addr, sizeof(u->addr), "%s", addr);
	u->family = family;
	u->port = port;
	u->transport = t;
}

static void test_url(void **state)
{
	struct mg_sip_ua u;
	char buf[128];

	(void)state;
	ua(&u, "192.0.2.1", AF_INET, 5060, MG_TRANSPORT_UDP);
	assert_int_equal(sipua_url(&u, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "sip:192.0.2.1:5060;transport=udp");
	ua(&u, "2001:db8::1", AF_INET6, 5066, MG_TRANSPORT_TCP);
	assert_int_equal(sipua_url(&u, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "sip:[2001:db8::1]:5066;transport=tcp");
	ua(&u, "", AF_INET, 5067, MG_TRANSPORT_TLS);
	assert_int_equal(sipua_url(&u, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "sips:0.0.0.0:5067;transport=tls");
	assert_int_equal(sipua_url(&u, buf, 10), -ENAMETOOLONG);
}

/* One OPTIONS over UDP on loopback, driven by the test's own root. */
static void test_options_on_loopback(void **state)
{
	static struct mg_settings s;
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sin);
	char req[512], resp[2048] = "", contact[160];
	int fd, port;
	ssize_t n = -1;

	(void)state;
	/* A free UDP port: bind 0, read it back, close, reuse. */
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	getsockname(fd, (struct sockaddr *)&sin, &sl);
	port = ntohs(sin.sin_port);
	close(fd);

	ua(&s.ua[0], "127.0.0.1", AF_INET, (uint16_t)port, MG_TRANSPORT_UDP);
	s.n_ua = 1;
	su_init();
	su_root_t *root = su_root_create(NULL);

	assert_non_null(root);
	assert_int_equal(sip_start(root, &s), 0);
	assert_int_equal(sipua_count(), 1);
	assert_non_null(sipua_nua(0));
	assert_null(sipua_nua(1));
	sipua_contact(0, NULL, contact, sizeof(contact));
	snprintf(req, sizeof(req), "<sip:127.0.0.1:%d;transport=udp>", port);
	assert_string_equal(contact, req);

	fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in me = { .sin_family = AF_INET };

	inet_pton(AF_INET, "127.0.0.1", &me.sin_addr);
	assert_int_equal(bind(fd, (struct sockaddr *)&me, sizeof(me)), 0);
	sl = sizeof(me);
	getsockname(fd, (struct sockaddr *)&me, &sl);
	snprintf(req, sizeof(req),
		 "OPTIONS sip:127.0.0.1:%d SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-unit1\r\n"
		 "Max-Forwards: 70\r\nFrom: <sip:unit@127.0.0.1>;tag=1\r\n"
		 "To: <sip:127.0.0.1:%d>\r\nCall-ID: sipua-unit-1\r\nCSeq: 1 OPTIONS\r\n"
		 "Content-Length: 0\r\n\r\n",
		 port, ntohs(me.sin_port), port);
	sin.sin_port = htons((uint16_t)port);
	assert_true(sendto(fd, req, strlen(req), 0, (struct sockaddr *)&sin, sizeof(sin)) > 0);
	/* Run the loop until the answer is there (bounded). */
	for (int i = 0; i < 50 && n <= 0; i++) {
		su_root_step(root, 100);
		n = recv(fd, resp, sizeof(resp) - 1, MSG_DONTWAIT);
	}
	assert_true(n > 0);
	resp[n] = '\0';
	assert_non_null(strstr(resp, "SIP/2.0 200 OK"));
	assert_non_null(strstr(resp, "Allow: INVITE, ACK, BYE, CANCEL, OPTIONS"));
	snprintf(req, sizeof(req), "Contact: <sip:127.0.0.1:%d;transport=udp>", port);
	assert_non_null(strstr(resp, req));
	close(fd);

	sip_stop();
	assert_int_equal(sipua_count(), 0);
	su_root_destroy(root);
	su_deinit();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url),
		cmocka_unit_test(test_options_on_loopback),
	};

	mg_log_init("sipua_test", MG_LOG_WARN, false);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
