/* SPDX-License-Identifier: BSD-3-Clause */
/* Two gateways negotiating with each other through this module: what one
 * side sends with must be what the other receives with, in every mode pair
 * the tables allow, across re-offers and re-INVITEs. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>

#include <cmocka.h>

#include "mg_log.h"
#include "sdp_leg.h"
#include "sdp_neg.h"

static void pol_init(struct sdp_policy *p, enum mg_srtp_mode mode, const char *addr, uint16_t port)
{
	memset(p, 0, sizeof(*p));
	p->mode = mode;
	p->local_addr = addr;
	p->local_port = port;
	p->sess_id = port;
}

static void assert_pair(const struct mg_srtp_policy *tx, const struct mg_srtp_policy *rx)
{
	assert_int_equal(tx->suite, rx->suite);
	assert_int_equal(tx->dir, MG_SRTP_DIR_OUTBOUND);
	assert_int_equal(rx->dir, MG_SRTP_DIR_INBOUND);
	assert_int_equal(tx->mki_len, rx->mki_len);
	assert_true(tx->nkeys >= 1 && rx->nkeys >= 1);
	assert_memory_equal(tx->keys[0].key, rx->keys[0].key, sizeof(tx->keys[0].key));
	assert_memory_equal(tx->keys[0].salt, rx->keys[0].salt, sizeof(tx->keys[0].salt));
}

/* A offers, B answers, A processes: returns B's status. */
static int loop(const struct sdp_policy *a, const struct sdp_policy *b, const struct sdp_result *a_prev,
		const struct sdp_result *b_prev, struct sdp_result *ra, struct sdp_result *rb)
{
	assert_int_equal(sdp_offer(a, a_prev, ra), 0);
	sdp_answer(b, ra->sdp, ra->sdp_len, b_prev, rb);
	if (rb->status != 0)
		return rb->status;
	assert_int_equal(sdp_answer_process(a, rb->sdp, rb->sdp_len, ra), 0);
	return 0;
}

static void test_mode_pairs(void **state)
{
	(void)state;
	static const enum mg_srtp_mode modes[] = { MG_SRTP_MODE_ALWAYS, MG_SRTP_MODE_AS_NEEDED, MG_SRTP_MODE_NEVER };
	struct sdp_result *ra = calloc(1, sizeof(*ra)), *rb = calloc(1, sizeof(*rb));

	for (int ms = 0; ms < 2; ms++) {
		for (unsigned i = 0; i < 3; i++) {
			for (unsigned j = 0; j < 3; j++) {
				struct sdp_policy a, b;

				pol_init(&a, modes[i], "192.0.2.1", 20000);
				pol_init(&b, modes[j], "192.0.2.2", 30000);
				a.ms_offer = ms;
				int st = loop(&a, &b, NULL, NULL, ra, rb);
				/* the offer is "SRTP only" for always, "SRTP and RTP"
				 * for as-needed, "RTP only" for never */
				bool want_488 = (modes[i] == MG_SRTP_MODE_ALWAYS && modes[j] == MG_SRTP_MODE_NEVER) ||
						(modes[i] == MG_SRTP_MODE_NEVER && modes[j] == MG_SRTP_MODE_ALWAYS);
				bool want_srtp = modes[i] != MG_SRTP_MODE_NEVER && modes[j] != MG_SRTP_MODE_NEVER;

				if (want_488) {
					assert_int_equal(st, 488);
					assert_int_equal(rb->warn_code, 302);
					continue;
				}
				assert_int_equal(st, 0);
				assert_int_equal(ra->srtp, want_srtp);
				assert_int_equal(rb->srtp, want_srtp);
				assert_string_equal(ra->remote_addr, "192.0.2.2");
				assert_int_equal(ra->remote_rtp_port, 30000);
				assert_string_equal(rb->remote_addr, "192.0.2.1");
				assert_int_equal(rb->remote_rtp_port, 20000);
				assert_true(ra->rtcp_mux && rb->rtcp_mux);
				assert_int_equal(ra->dir, SDP_DIR_SENDRECV);
				assert_int_equal(ra->telephone_event_pt, 101);
				if (want_srtp) {
					/* _80 first by default on both sides */
					assert_int_equal(ra->suite, MG_SRTP_AES_CM_128_HMAC_SHA1_80);
					assert_pair(&ra->tx, &rb->rx);
					assert_pair(&rb->tx, &ra->rx);
					/* different keys per direction */
					assert_memory_not_equal(ra->tx.keys[0].key, rb->tx.keys[0].key, 16);
				}
			}
		}
	}
	free(ra);
	free(rb);
}

static void test_reoffer_and_reinvite_keys(void **state)
{
	(void)state;
	struct sdp_policy a, b;
	struct sdp_result *a1 = calloc(1, sizeof(*a1)), *b1 = calloc(1, sizeof(*b1));
	struct sdp_result *a2 = calloc(1, sizeof(*a2)), *b2 = calloc(1, sizeof(*b2));
	struct sdp_result *a3 = calloc(1, sizeof(*a3)), *b3 = calloc(1, sizeof(*b3));

	pol_init(&a, MG_SRTP_MODE_ALWAYS, "192.0.2.1", 20000);
	pol_init(&b, MG_SRTP_MODE_AS_NEEDED, "192.0.2.2", 30000);
	b.suites[0] = MG_SRTP_AES_CM_128_HMAC_SHA1_32;
	b.n_suites = 1;
	assert_int_equal(loop(&a, &b, NULL, NULL, a1, b1), 0);
	assert_int_equal(a1->suite, MG_SRTP_AES_CM_128_HMAC_SHA1_32);
	assert_int_equal(a1->crypto_tag, 2);

	/* A re-offers (e.g. hold): same key for the suite in use; B sees the
	 * same peer key and keeps its own: nothing to re-key */
	a.media_type = "sendonly";
	assert_int_equal(loop(&a, &b, a1, b1, a2, b2), 0);
	assert_false(b2->rekey);
	assert_false(a2->rekey);
	assert_int_equal(a2->dir, SDP_DIR_SENDONLY);
	assert_int_equal(b2->dir, SDP_DIR_RECVONLY);
	assert_true(b2->hold);
	assert_memory_equal(&a2->tx, &a1->tx, sizeof(a1->tx));
	assert_memory_equal(&b2->tx, &b1->tx, sizeof(b1->tx));
	assert_int_equal(a2->sess_version, a1->sess_version + 1);
	assert_int_equal(b2->sess_version, b1->sess_version + 1);

	/* B re-INVITEs with a fresh offer (new keys): A re-keys both ways */
	a.media_type = NULL;
	assert_int_equal(sdp_offer(&b, NULL, b3), 0);
	sdp_answer(&a, b3->sdp, b3->sdp_len, a2, a3);
	assert_int_equal(a3->status, 0);
	assert_true(a3->rekey && a3->rekey_rx && a3->rekey_tx);
	assert_memory_not_equal(a3->tx.keys[0].key, a2->tx.keys[0].key, 16);
	assert_int_equal(sdp_answer_process(&b, a3->sdp, a3->sdp_len, b3), 0);
	assert_pair(&a3->tx, &b3->rx);
	assert_pair(&b3->tx, &a3->rx);
	free(a1);
	free(b1);
	free(a2);
	free(b2);
	free(a3);
	free(b3);
}

static void test_policy_from_config(void **state)
{
	(void)state;
	char path[] = "/tmp/sdp-gw-XXXXXX";
	int fd = mkstemp(path);
	const char text[] = "netborder.media.srtp.mode=always\n"
			    "netborder.mdedia.srtp.cryptoSuite=AES_CM_128_HMAC_SHA1_32,AES_CM_128_HMAC_SHA1_80\n";
	struct sdp_policy p;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)sizeof(text) - 1);
	close(fd);
	struct mg_config *cfg = mg_config_load(path, MG_CONFIG_ROLE_TOOL, NULL);

	unlink(path);
	assert_non_null(cfg);
	memset(&p, 0, sizeof(p));
	sdp_policy_from_settings(mg_config_settings(cfg), &p);
	assert_int_equal(p.mode, MG_SRTP_MODE_ALWAYS);
	assert_int_equal(p.n_suites, 2);
	assert_int_equal(p.suites[0], MG_SRTP_AES_CM_128_HMAC_SHA1_32);
	assert_int_equal(p.suites[1], MG_SRTP_AES_CM_128_HMAC_SHA1_80);
	mg_config_free(cfg);
}

static void test_warning_header(void **state)
{
	(void)state;
	struct sdp_policy b;
	struct sdp_result *r = calloc(1, sizeof(*r));
	const char offer[] = "v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\n"
			     "m=audio 4000 RTP/AVP 0\r\n";
	char hdr[512];

	pol_init(&b, MG_SRTP_MODE_ALWAYS, "192.0.2.2", 30000);
	assert_int_equal(sdp_answer(&b, offer, strlen(offer), NULL, r), -EPROTO);
	assert_int_equal(r->status, 488);
	assert_int_equal(r->sdp_len, 0);
	assert_true(sdp_warning_header(r, "gw.example.com", hdr, sizeof(hdr)) > 0);
	assert_string_equal(hdr, "302 gw.example.com \"SRTP is required (netborder.media.srtp.mode=always) but "
				 "the offer has RTP only\"");
	/* a host name in c= is refused, not resolved */
	const char named[] = "v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 peer.example.com\r\nt=0 0\r\n"
			     "m=audio 4000 RTP/AVP 0\r\n";
	b.mode = MG_SRTP_MODE_AS_NEEDED;
	assert_int_equal(sdp_answer(&b, named, strlen(named), NULL, r), -EPROTO);
	assert_int_equal(r->warn_code, 301);
	free(r);
}

/* Numbers in attributes from the wire: a negative or wrapping a=ptime is
 * not echoed, a wrapping a=rtcp port is not taken. */
static void test_attr_numbers(void **state)
{
	(void)state;
	struct sdp_policy b;
	struct sdp_result *r = calloc(1, sizeof(*r));
	static const char bad[] =
		"v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\n"
		"m=audio 4000 RTP/AVP 0\r\na=rtcp:4294967297\r\na=ptime:-20\r\n";
	static const char good[] =
		"v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\n"
		"m=audio 4000 RTP/AVP 0\r\na=rtcp:5007 IN IP4 192.0.2.9\r\na=ptime:30\r\n";

	pol_init(&b, MG_SRTP_MODE_NEVER, "192.0.2.2", 30000);
	assert_int_equal(sdp_answer(&b, bad, strlen(bad), NULL, r), 0);
	assert_int_equal(r->remote_rtcp_port, 4001);
	assert_int_equal(r->ptime, 0);
	assert_null(strstr(r->sdp, "a=ptime"));
	assert_int_equal(sdp_answer(&b, good, strlen(good), NULL, r), 0);
	assert_int_equal(r->remote_rtcp_port, 5007);
	assert_int_equal(r->ptime, 30);
	assert_non_null(strstr(r->sdp, "a=ptime:30\r\n"));
	free(r);
}

static void test_to_leg(void **state)
{
	(void)state;
	struct sdp_policy a, b;
	struct sdp_result *ra = calloc(1, sizeof(*ra)), *rb = calloc(1, sizeof(*rb));
	struct sdp_result *ra2 = calloc(1, sizeof(*ra2)), *rb2 = calloc(1, sizeof(*rb2));
	struct mg_msg_leg la, lb;
	static const char multi[] =
		"v=0\r\no=- 1 1 IN IP6 2001:db8::9\r\ns=-\r\nc=IN IP6 2001:db8::9\r\nt=0 0\r\n"
		"m=audio 4000 RTP/SAVP 0\r\na=rtcp-mux\r\n"
		"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:4;"
		"inline:d0RmdmcmVCspeEc3QGZiNWpVLFJhQX1cfHAwJSoj|2^20|2:4\r\n"
		"a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:d0RmdmcmVCspeEc3QGZiNWpVLFJhQX1cfHAwJSoj|2^20|3:4\r\n";

	pol_init(&a, MG_SRTP_MODE_ALWAYS, "192.0.2.1", 20000);
	pol_init(&b, MG_SRTP_MODE_ALWAYS, "192.0.2.2", 30000);
	assert_int_equal(loop(&a, &b, NULL, NULL, ra, rb), 0);
	memset(&la, 0, sizeof(la));
	memset(&lb, 0, sizeof(lb));
	assert_int_equal(sdp_result_to_leg(ra, &la), 0);
	assert_int_equal(sdp_result_to_leg(rb, &lb), 0);
	/* what A encrypts with, B decrypts with, byte for byte on the wire */
	assert_memory_equal(&la.tx, &lb.rx, sizeof(la.tx));
	assert_memory_equal(&lb.tx, &la.rx, sizeof(lb.tx));
	assert_int_equal(la.tx.suite, MG_SRTP_AES_CM_128_HMAC_SHA1_80);
	assert_int_equal(la.tx.key_len, 16);
	assert_int_equal(la.tx.salt_len, 14);
	assert_int_equal(la.tx.flags, 0);
	assert_int_equal(la.remote.family, MG_FAMILY_IPV4);
	assert_int_equal(la.remote.port, 30000);
	assert_memory_equal(la.remote.addr, "\xc0\x00\x02\x02", 4);
	assert_int_equal(la.remote_rtcp_port, 30000);
	assert_true(la.flags & MG_LEG_F_RTCP_MUX);

	/* B re-keys: A's MODIFY resets the ROC both ways */
	assert_int_equal(sdp_offer(&b, NULL, rb2), 0);
	sdp_answer(&a, rb2->sdp, rb2->sdp_len, ra, ra2);
	assert_int_equal(ra2->status, 0);
	assert_int_equal(sdp_result_to_leg(ra2, &la), 0);
	assert_int_equal(la.rx.flags, MG_CRYPTO_F_ROC_RESET);
	assert_int_equal(la.tx.flags, MG_CRYPTO_F_ROC_RESET);

	/* several MKI keys: the engine takes them, the wire does not */
	sdp_answer(&b, multi, strlen(multi), NULL, rb);
	assert_int_equal(rb->status, 0);
	assert_int_equal(rb->crypto_tag, 1);
	assert_int_equal(rb->rx.nkeys, 2);
	assert_int_equal(sdp_result_to_leg(rb, &lb), -EOPNOTSUPP);
	b.max_keys = 1;
	sdp_answer(&b, multi, strlen(multi), NULL, rb);
	assert_int_equal(rb->status, 0);
	assert_int_equal(rb->crypto_tag, 2);
	assert_int_equal(sdp_result_to_leg(rb, &lb), 0);
	assert_int_equal(lb.remote.family, MG_FAMILY_IPV6);
	assert_int_equal(lb.rx.mki_len, 4);
	assert_memory_equal(lb.rx.mki, "\0\0\0\3", 4);
	assert_int_equal(lb.rx.lifetime, 1u << 20);
	/* an IPv4-only gateway refuses the IPv6 stream by name */
	b.ipv4_only = true;
	assert_int_equal(sdp_answer(&b, multi, strlen(multi), NULL, rb), -EPROTO);
	assert_int_equal(rb->status, 488);
	assert_int_equal(rb->warn_code, 301);
	assert_non_null(strstr(rb->warn_text, "IPv6"));
	/* a failed negotiation is not a leg */
	rb->status = 488;
	assert_int_equal(sdp_result_to_leg(rb, &lb), -EINVAL);
	free(ra);
	free(rb);
	free(ra2);
	free(rb2);
}

/* Bad input never crashes and always ends in a clear outcome: every
 * truncation of a rich offer, and every byte of it replaced by characters
 * that matter to the grammars (separators, digits, NUL-like blanks). */
static void check_outcome(const struct sdp_result *r)
{
	if (r->status == 0) {
		assert_true(r->sdp_len > 0);
		assert_int_equal(strlen(r->sdp), r->sdp_len);
		assert_memory_equal(r->sdp + r->sdp_len - 2, "\r\n", 2);
	} else {
		assert_true(r->status == 400 || r->status == 488);
		assert_true(r->warn_text[0] != '\0');
		assert_int_equal(r->sdp_len, 0);
	}
}

/* sdp_offer_current(): the session offered again (2xx to an INVITE without
 * SDP) keeps the m= layout, the payload numbers, the crypto tag and our key;
 * the o= version stays when the SDP is unchanged (RFC 3264 §8) and goes up
 * when it changes; the answer is read at the audio line's index. */
static void test_offer_current(void **state)
{
	(void)state;
	static const char offer[] = "v=0\r\no=peer 7 7 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\n"
				    "m=video 5000 RTP/AVP 31\r\n"
				    "m=audio 6000 RTP/SAVP 0 96\r\na=rtpmap:0 PCMU/8000\r\n"
				    "a=rtpmap:96 telephone-event/8000\r\na=fmtp:96 0-15\r\n"
				    "a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n";
	static const char fmt[] = "v=0\r\no=peer 7 8 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\n"
				  "m=video 0 RTP/AVP 31\r\n"
				  "m=audio %u RTP/SAVP 0 96\r\na=rtpmap:0 PCMU/8000\r\n"
				  "a=rtpmap:96 telephone-event/8000\r\n%s"
				  "a=crypto:%u AES_CM_128_HMAC_SHA1_80 inline:%s\r\n";
	struct sdp_result *cur = calloc(1, sizeof(*cur)), *o = calloc(1, sizeof(*o)), *o2 = calloc(1, sizeof(*o2));
	struct sdp_policy a;
	char ans[1024], ours[64];
	const char *k;

	pol_init(&a, MG_SRTP_MODE_AS_NEEDED, "192.0.2.1", 20000);
	assert_int_equal(sdp_answer(&a, offer, strlen(offer), NULL, cur), 0);
	assert_int_equal(cur->media_index, 1);
	k = strstr(cur->sdp, "inline:");
	assert_non_null(k);
	snprintf(ours, sizeof(ours), "%.40s", k + 7);

	/* nothing changed: the very same SDP, same version */
	assert_int_equal(sdp_offer_current(&a, cur, o), 0);
	assert_string_equal(o->sdp, cur->sdp);
	assert_int_equal(o->sess_version, cur->sess_version);
	assert_int_equal(o->sess_id, cur->sess_id);
	assert_non_null(strstr(o->sdp, "m=video 0 RTP/AVP 31\r\nm=audio 20000 RTP/SAVP 0 96\r\n"));
	assert_non_null(strstr(o->sdp, "a=fmtp:96 0-15\r\n"));
	assert_non_null(strstr(o->sdp, ours));
	assert_int_equal(o->n_offered, 1);
	assert_int_equal(o->offered[0].tag, 3);

	/* an offer of ours with version +1 went out and got no answer: the same
	 * session offered again must pass that version (RFC 3264 8) */
	a.last_sent_version = cur->sess_version + 1;
	assert_int_equal(sdp_offer_current(&a, cur, o), 0);
	assert_int_equal(o->sess_version, cur->sess_version + 2);
	assert_non_null(strstr(o->sdp, ours));
	/* a last sent version not above cur's changes nothing */
	a.last_sent_version = cur->sess_version;
	assert_int_equal(sdp_offer_current(&a, cur, o), 0);
	assert_int_equal(o->sess_version, cur->sess_version);
	assert_string_equal(o->sdp, cur->sdp);
	a.last_sent_version = 0;

	/* the peer answers with its keys unchanged, a new port: no re-key */
	snprintf(ans, sizeof(ans), fmt, 6002u, "", 3u, "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz");
	*o2 = *o;
	assert_int_equal(sdp_answer_process(&a, ans, strlen(ans), o2), 0);
	assert_int_equal(o2->remote_rtp_port, 6002);
	assert_false(o2->rekey);
	assert_memory_equal(&o2->tx, &cur->tx, sizeof(o2->tx));
	assert_memory_equal(&o2->rx, &cur->rx, sizeof(o2->rx));
	assert_int_equal(o2->telephone_event_pt, 96);

	/* new peer keys: its direction re-keys, ours keeps its key */
	snprintf(ans, sizeof(ans), fmt, 6002u, "", 3u, "NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj");
	*o2 = *o;
	assert_int_equal(sdp_answer_process(&a, ans, strlen(ans), o2), 0);
	assert_true(o2->rekey && o2->rekey_rx);
	assert_false(o2->rekey_tx);
	assert_memory_equal(&o2->tx, &cur->tx, sizeof(o2->tx));

	/* a tag we did not offer, or the audio line refused: 488 */
	snprintf(ans, sizeof(ans), fmt, 6002u, "", 1u, "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz");
	*o2 = *o;
	assert_int_equal(sdp_answer_process(&a, ans, strlen(ans), o2), -EPROTO);
	assert_int_equal(o2->status, 488);
	snprintf(ans, sizeof(ans), fmt, 0u, "", 3u, "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz");
	*o2 = *o;
	assert_int_equal(sdp_answer_process(&a, ans, strlen(ans), o2), -EPROTO);

	/* a different direction is a different SDP: version + 1, same key */
	a.media_type = "sendonly";
	assert_int_equal(sdp_offer_current(&a, cur, o), 0);
	assert_int_equal(o->sess_version, cur->sess_version + 1);
	assert_non_null(strstr(o->sdp, "a=sendonly\r\n"));
	assert_non_null(strstr(o->sdp, ours));

	/* our own offer answered (one m= line), then offered again: only the
	 * agreed codec and the chosen crypto line remain, version + 1 */
	struct sdp_policy b;

	pol_init(&b, MG_SRTP_MODE_AS_NEEDED, "192.0.2.2", 30000);
	assert_int_equal(sdp_offer(&a, NULL, cur), 0);
	assert_int_equal(sdp_answer(&b, cur->sdp, cur->sdp_len, NULL, o2), 0);
	assert_int_equal(sdp_answer_process(&a, o2->sdp, o2->sdp_len, cur), 0);
	assert_int_equal(sdp_offer_current(&a, cur, o), 0);
	assert_int_equal(o->sess_version, cur->sess_version + 1);
	assert_null(strstr(o->sdp, "a=crypto:2 "));
	assert_non_null(strstr(o->sdp, "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:"));
	assert_non_null(strstr(o->sdp, "a=encryption:optional\r\n")); /* RTP/AVP + a=crypto */
	/* and that offer answered by B again: B keeps its keys, nothing re-keys */
	struct sdp_result *rb2 = calloc(1, sizeof(*rb2));

	assert_int_equal(sdp_answer(&b, o->sdp, o->sdp_len, o2, rb2), 0);
	assert_false(rb2->rekey);
	assert_int_equal(sdp_answer_process(&a, rb2->sdp, rb2->sdp_len, o), 0);
	assert_false(o->rekey);
	assert_pair(&o->tx, &rb2->rx);
	assert_pair(&rb2->tx, &o->rx);

	/* nothing negotiated: refused */
	memset(cur, 0, sizeof(*cur));
	assert_int_equal(sdp_offer_current(&a, cur, o), -EPROTO);
	free(cur);
	free(o);
	free(o2);
	free(rb2);
}

/* sdp_result_keep(): the copy a call keeps is cut after the SDP text; it
 * serves as prev / cur exactly like the full result (under ASan a read past
 * the cut would fail here) and loads back to the very same bytes. */
static void test_kept_copy(void **state)
{
	(void)state;
	static const char offer[] = "v=0\r\no=peer 7 7 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\n"
				    "m=audio 6000 RTP/SAVP 0 96\r\na=rtpmap:0 PCMU/8000\r\n"
				    "a=rtpmap:96 telephone-event/8000\r\na=fmtp:96 0-15\r\n"
				    "a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n";
	struct sdp_result *cur = calloc(1, sizeof(*cur)), *o = calloc(1, sizeof(*o)),
			  *o2 = calloc(1, sizeof(*o2)), *k;
	struct sdp_policy a;

	pol_init(&a, MG_SRTP_MODE_AS_NEEDED, "192.0.2.1", 20000);
	assert_int_equal(sdp_answer(&a, offer, strlen(offer), NULL, cur), 0);
	k = sdp_result_keep(cur);
	assert_non_null(k);
	assert_int_equal(k->sdp_len, strlen(cur->sdp));
	assert_string_equal(k->sdp, cur->sdp);

	/* offered again from the kept copy and from the full one: the same */
	a.media_type = "sendonly";
	assert_int_equal(sdp_offer_current(&a, cur, o), 0);
	assert_int_equal(sdp_offer_current(&a, k, o2), 0);
	assert_memory_equal(o, o2, sizeof(*o));

	/* a re-INVITE with the same keys answered with the kept copy as prev:
	 * our key stays, nothing re-keys */
	a.media_type = NULL;
	assert_int_equal(sdp_answer(&a, offer, strlen(offer), k, o2), 0);
	assert_false(o2->rekey);
	assert_memory_equal(&o2->tx, &cur->tx, sizeof(o2->tx));
	assert_memory_equal(&o2->rx, &cur->rx, sizeof(o2->rx));

	/* loaded back: byte for byte the result it was kept from */
	memset(o, 0xa5, sizeof(*o));
	sdp_result_load(o, k);
	assert_memory_equal(o, cur, sizeof(*o));

	/* a failed result keeps an empty text */
	memset(cur, 0, sizeof(*cur));
	assert_int_equal(sdp_offer_current(&a, cur, o), -EPROTO);
	sdp_result_free(k);
	k = sdp_result_keep(o);
	assert_non_null(k);
	assert_int_equal(k->sdp_len, 0);
	assert_int_equal(k->status, 500);
	sdp_result_free(k);
	sdp_result_free(NULL);
	free(cur);
	free(o);
	free(o2);
}

static void test_mutations(void **state)
{
	(void)state;
	static const char offer[] =
		"v=0\r\no=peer 7000 1 IN IP4 192.0.2.20\r\ns=-\r\nc=IN IP4 192.0.2.20\r\nt=0 0\r\n"
		"m=audio 4000 RTP/SAVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n"
		"a=ptime:20\r\na=rtcp-mux\r\na=rtcp:4001 IN IP4 192.0.2.20\r\na=sendonly\r\n"
		"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:4;"
		"inline:d0RmdmcmVCspeEc3QGZiNWpVLFJhQX1cfHAwJSoj|2^20|2:4 KDR=0\r\n"
		"a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:d0RmdmcmVCspeEc3QGZiNWpVLFJhQX1cfHAwJSoj|1:1\r\n"
		"a=encryption:optional\r\nm=video 5000 RTP/AVP 31\r\n";
	static const char repl[] = { ' ', ':', '|', ';', '0', '9', '^', '\n', '=', 'x' };
	struct sdp_policy b;
	struct sdp_result *r = calloc(1, sizeof(*r)), *o = calloc(1, sizeof(*o)), *prev = calloc(1, sizeof(*prev));
	char buf[sizeof(offer)];
	size_t len = sizeof(offer) - 1;
	unsigned ok = 0, refused = 0;

	pol_init(&b, MG_SRTP_MODE_AS_NEEDED, "192.0.2.2", 30000);
	assert_int_equal(sdp_answer(&b, offer, len, NULL, prev), 0);
	for (size_t i = 0; i < len; i++) {
		sdp_answer(&b, offer, i, prev, r);
		check_outcome(r);
		for (size_t k = 0; k < sizeof(repl); k++) {
			memcpy(buf, offer, sizeof(offer));
			buf[i] = repl[k];
			sdp_answer(&b, buf, len, k & 1 ? prev : NULL, r);
			check_outcome(r);
			ok += r->status == 0;
			refused += r->status != 0;
			/* the same text as an answer to one of our offers */
			assert_int_equal(sdp_offer(&b, NULL, o), 0);
			sdp_answer_process(&b, buf, len, o);
			if (o->status != 0)
				assert_true(o->warn_text[0] != '\0');
		}
	}
	/* both outcomes occur: the mutations reach the checks */
	assert_true(ok > 0 && refused > 0);
	free(r);
	free(o);
	free(prev);
}

/*
 * Found by sdp_fuzz: an m= line indented by a blank or a tab went around
 * sdp_screen(), and sofia-sip (which reads it as an m= line) then allocated
 * without end on its bad format list (the 13 bytes below took more than
 * 4 GB). It must be refused by the screen, as the same line unindented is.
 */
static void test_screen_indented_m_line(void **state)
{
	static const char *const bodies[] = {
		"v=0\n\tm=e\xc9" "4t \xc9",
		"v=0\n m=e\xc9" "4t \xc9",
		"v=0\r\n \t m=audio 4000 RT /SAVP 0\r\n",
	};
	struct sdp_policy b;
	struct sdp_result *r = calloc(1, sizeof(*r)), *o = calloc(1, sizeof(*o));

	(void)state;
	assert_non_null(r);
	assert_non_null(o);
	pol_init(&b, MG_SRTP_MODE_AS_NEEDED, "192.0.2.2", 30000);
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		sdp_answer(&b, bodies[i], strlen(bodies[i]), NULL, r);
		assert_int_equal(r->status, 400);
		if (strstr(r->warn_text, "m= line") == NULL)
			fail_msg("body %zu: refused, but not by the m= line screen: %s", i, r->warn_text);
		assert_int_equal(sdp_offer(&b, NULL, o), 0);
		sdp_answer_process(&b, bodies[i], strlen(bodies[i]), o);
		assert_int_not_equal(o->status, 0);
	}
	free(r);
	free(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mode_pairs),
		cmocka_unit_test(test_reoffer_and_reinvite_keys),
		cmocka_unit_test(test_policy_from_config),
		cmocka_unit_test(test_warning_header),
		cmocka_unit_test(test_attr_numbers),
		cmocka_unit_test(test_to_leg),
		cmocka_unit_test(test_offer_current),
		cmocka_unit_test(test_kept_copy),
		cmocka_unit_test(test_mutations),
		cmocka_unit_test(test_screen_indented_m_line),
	};

	mg_log_init("sdp_neg_test", MG_LOG_ERR, false);
	/* sofia-sip's parser can allocate without end on some bad SDP (see
	 * sdp_screen()); if that guard ever regresses, fail here with ENOMEM
	 * rather than take the machine's memory. ASan needs its big shadow. */
#if !defined(__SANITIZE_ADDRESS__)
	struct rlimit rl = { .rlim_cur = 1ul << 31, .rlim_max = 1ul << 31 };

	setrlimit(RLIMIT_AS, &rl);
#endif
	return cmocka_run_group_tests(tests, NULL, NULL);
}
