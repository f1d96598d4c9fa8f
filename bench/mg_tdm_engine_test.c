/* SPDX-License-Identifier: BSD-3-Clause */
/* The TDM engine on a socketpair channel (an A-law span) bound to a µ-law
 * call: TDM blocks come out transcoded and in order, RTP payloads go in
 * through the jitter buffer and come out on the line, events are taken. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mg_tdm_engine.h"
#include "mg_tdm_limits.h"

#define F 160

static uint8_t rx_got[16][F];
static unsigned rx_n;

static void on_rx(void *arg, unsigned port, const uint8_t *payload, size_t len)
{
	(void)arg;
	assert_int_equal(port, 0);
	assert_int_equal(len, F);
	if (rx_n < 16)
		memcpy(rx_got[rx_n], payload, F);
	rx_n++;
}

static void block(uint8_t *b, unsigned seq)
{
	for (unsigned i = 0; i < F; i++)
		b[i] = (uint8_t)(seq * 13 + i * 3 + 1);
}

static void test_engine(void **state)
{
	struct mg_tdm_open_opts o = {.law = MG_LAW_ALAW};
	struct mg_tdm_chan *tdm, *line;
	struct mg_tdm_timer *t;
	struct mg_tdm_engine *e;
	uint8_t b[F], want[F];
	unsigned seen = 0, written = 0;
	const struct mg_tdm_port *p;
	int port;

	(void)state;
	rx_n = 0;
	assert_int_equal(mg_tdm_socketpair_open(1, &o, &tdm, &line), 0);
	assert_int_equal(mg_tdm_timer_open_host(160, &t), 0);
	assert_null(mg_tdm_engine_new(MG_TDM_MAX_CHANNO + 1, t, on_rx, NULL));
	assert_int_equal(errno, EINVAL);
	e = mg_tdm_engine_new(1, t, on_rx, NULL);
	assert_non_null(e);
	port = mg_tdm_engine_attach(e, tdm, MG_LAW_ULAW, NULL);
	assert_int_equal(port, 0);
	assert_int_equal(mg_tdm_engine_attach(e, tdm, MG_LAW_ULAW, NULL), -ENOSPC);

	/* TDM → RTP: three A-law blocks from the line */
	for (unsigned s = 0; s < 3; s++) {
		block(b, s);
		assert_int_equal(mg_tdm_chan_write(line, b, F), F);
	}
	assert_int_equal(mg_tdm_socketpair_inject_event(line, MG_TDM_EV_ALARM), 0);
	/* RTP → TDM: five µ-law payloads, 20 ms apart */
	for (unsigned s = 0; s < 5; s++) {
		block(b, 10 + s);
		assert_int_equal(mg_tdm_engine_push(e, (unsigned)port, (uint16_t)s, 1000 + s * F, b, F,
						    s * 20000),
				 MG_JB_PUSH_OK);
	}
	/* a late thread catches up at most a few periods: count what was
	 * written, not how much time passed */
	p = mg_tdm_engine_port(e, (unsigned)port);
	while (p->stats.tx_blocks < 8)
		assert_true(mg_tdm_engine_run_once(e, 2000) > 0);
	/* rx: the three blocks, in order, now µ-law */
	assert_int_equal(rx_n, 3);
	for (unsigned s = 0; s < 3; s++) {
		block(b, s);
		mg_g711_transcode(MG_LAW_ALAW, MG_LAW_ULAW, want, b, F);
		assert_memory_equal(rx_got[s], want, F);
	}
	/* the line got one block per period: the five payloads in A-law, in
	 * order, after the jitter buffer's start and before its concealment */
	for (ssize_t n; (n = mg_tdm_chan_read(line, b, sizeof(b))) != -EAGAIN;) {
		assert_int_equal(n, F);
		written++;
		if (seen < 5) {
			uint8_t mu[F];

			block(mu, 10 + seen);
			mg_g711_transcode(MG_LAW_ULAW, MG_LAW_ALAW, want, mu, F);
			if (!memcmp(b, want, F)) {
				seen++;
				continue;
			}
		}
		/* anything else is the jitter buffer's start (silence) or the
		 * concealment after the last payload, never another payload */
		assert_true(seen == 0 || seen == 5);
	}
	assert_int_equal(seen, 5);
	assert_int_equal(p->stats.rx_blocks, 3);
	assert_int_equal(p->stats.tx_blocks, written);
	assert_int_equal(p->stats.events, 1);
	assert_int_equal(p->jb.stats.played, 5);
	/* a detached port takes no RTP */
	mg_tdm_engine_detach(e, (unsigned)port);
	assert_int_equal(mg_tdm_engine_push(e, (unsigned)port, 9, 9, b, F, 0), MG_JB_PUSH_BAD_SIZE);
	assert_int_equal(mg_tdm_engine_attach(e, tdm, MG_LAW_ALAW, NULL), 0);
	mg_tdm_engine_free(e);
	mg_tdm_timer_close(t);
	mg_tdm_chan_close(tdm);
	mg_tdm_chan_close(line);
}

struct test_media {
	unsigned in, out;
	uint8_t last_in[F];
};

static void media_from_tdm(void *m, unsigned port, const uint8_t *block, size_t len)
{
	struct test_media *tm = m;

	assert_int_equal(port, 0);
	assert_int_equal(len, F);
	memcpy(tm->last_in, block, F);
	tm->in++;
}

static void media_to_tdm(void *m, unsigned port, uint8_t *block, size_t len)
{
	struct test_media *tm = m;

	(void)port;
	memset(block, 0x40 + (int)(tm->out++ % 32), len);
}

/* With external media the engine only moves blocks, untouched (span law). */
static void test_external_media(void **state)
{
	static const struct mg_tdm_media_ops ops = {media_from_tdm, media_to_tdm};
	struct mg_tdm_open_opts o = {.law = MG_LAW_ALAW};
	struct test_media tm = {0};
	struct mg_tdm_chan *tdm, *line;
	struct mg_tdm_timer *t;
	struct mg_tdm_engine *e;
	uint8_t b[F];
	unsigned k = 0;

	(void)state;
	rx_n = 0;
	assert_int_equal(mg_tdm_socketpair_open(1, &o, &tdm, &line), 0);
	assert_int_equal(mg_tdm_timer_open_host(160, &t), 0);
	e = mg_tdm_engine_new(2, t, on_rx, NULL);
	assert_non_null(e);
	assert_int_equal(mg_tdm_engine_attach_media(e, tdm, NULL, &tm), -EINVAL);
	assert_int_equal(mg_tdm_engine_attach_media(e, tdm, &ops, &tm), 0);
	block(b, 3);
	assert_int_equal(mg_tdm_chan_write(line, b, F), F);
	assert_int_equal(mg_tdm_engine_push(e, 0, 1, 1, b, F, 0), MG_JB_PUSH_BAD_SIZE);
	while (mg_tdm_engine_port(e, 0)->stats.tx_blocks < 3)
		assert_true(mg_tdm_engine_run_once(e, 2000) > 0);
	assert_int_equal(tm.in, 1);
	assert_memory_equal(tm.last_in, b, F); /* A-law as read: no transcoding */
	assert_int_equal(rx_n, 0);             /* the built-in rx path is not used */
	for (ssize_t n; (n = mg_tdm_chan_read(line, b, sizeof(b))) != -EAGAIN; k++) {
		assert_int_equal(n, F);
		assert_int_equal(b[0], 0x40 + (int)k);
	}
	assert_int_equal(k, tm.out);
	mg_tdm_engine_free(e);
	mg_tdm_timer_close(t);
	mg_tdm_chan_close(tdm);
	mg_tdm_chan_close(line);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_engine),
		cmocka_unit_test(test_external_media),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
