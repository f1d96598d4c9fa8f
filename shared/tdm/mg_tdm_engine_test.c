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
#include <spandsp.h>

#include "mg_tdm_engine.h"

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

static char heard[32];
static unsigned n_heard, n_ends;

static void on_dtmf(void *arg, unsigned port, char digit, bool end, unsigned duration)
{
	(void)arg;
	(void)port;
	if (!end) {
		if (n_heard < sizeof(heard) - 1)
			heard[n_heard++] = digit;
		return;
	}
	/* the end names the digit that started, and it lasted */
	assert_int_equal(digit, heard[n_heard - 1]);
	assert_true(duration > 0);
	n_ends++;
}

static char far_heard[32];
static unsigned n_far;

static void on_far_digits(void *arg, const char *digits, int len)
{
	(void)arg;
	for (int i = 0; i < len && n_far < sizeof(far_heard) - 1; i++)
		far_heard[n_far++] = digits[i];
}

/* Digits played on the line are reported (start and end, in order); digits
 * sent with mg_tdm_engine_send_dtmf() are heard on the line. */
static void test_dtmf(void **state)
{
	struct mg_tdm_open_opts o = {.law = MG_LAW_ALAW};
	struct mg_tdm_chan *tdm, *line;
	struct mg_tdm_timer *t;
	struct mg_tdm_engine *e;
	dtmf_tx_state_t *gen;
	dtmf_rx_state_t *det;
	int16_t lin[F];
	uint8_t b[F];
	int port;

	(void)state;
	rx_n = 0;
	n_heard = n_ends = n_far = 0;
	assert_int_equal(mg_tdm_socketpair_open(1, &o, &tdm, &line), 0);
	assert_int_equal(mg_tdm_timer_open_host(160, &t), 0);
	e = mg_tdm_engine_new(1, t, on_rx, NULL);
	assert_non_null(e);
	port = mg_tdm_engine_attach(e, tdm, MG_LAW_ULAW, NULL);
	assert_int_equal(port, 0);
	assert_int_equal(mg_tdm_engine_send_dtmf(e, 0, "1", 80, 80), -EINVAL); /* not enabled */
	mg_tdm_engine_set_dtmf_cb(e, on_dtmf);
	assert_int_equal(mg_tdm_engine_enable_dtmf(e, 0), 0);

	/* the far end dials 159# on the line, A-law */
	gen = dtmf_tx_init(NULL);
	assert_non_null(gen);
	dtmf_tx_set_timing(gen, 80, 80);
	dtmf_tx_put(gen, "159#", -1);
	for (int k = 0; k < 40; k++) {
		int got = dtmf_tx(gen, lin, F);

		if (got < F)
			memset(lin + (got > 0 ? got : 0), 0, (size_t)(F - (got > 0 ? got : 0)) * 2);
		mg_g711_encode_buf(MG_LAW_ALAW, b, lin, F);
		assert_int_equal(mg_tdm_chan_write(line, b, F), F);
	}
	dtmf_tx_free(gen);
	assert_true(mg_tdm_engine_run_once(e, 2000) > 0);
	heard[n_heard] = '\0';
	assert_string_equal(heard, "159#");
	assert_int_equal(n_ends, 4);
	assert_int_equal(rx_n, 40); /* the audio went on to RTP as well */

	/* RTP side sends 7*: the line hears it */
	assert_int_equal(mg_tdm_engine_send_dtmf(e, 0, "7x", 80, 80), -EINVAL);
	assert_int_equal(mg_tdm_engine_send_dtmf(e, 0, "7*", 80, 80), 0);
	det = dtmf_rx_init(NULL, on_far_digits, NULL);
	assert_non_null(det);
	const struct mg_tdm_port *p = mg_tdm_engine_port(e, 0);
	while (p->stats.tx_blocks < 20)
		assert_true(mg_tdm_engine_run_once(e, 2000) > 0);
	for (ssize_t n; (n = mg_tdm_chan_read(line, b, sizeof(b))) != -EAGAIN;) {
		assert_int_equal(n, F);
		mg_g711_decode_buf(MG_LAW_ALAW, lin, b, F);
		dtmf_rx(det, lin, F);
	}
	far_heard[n_far] = '\0';
	assert_string_equal(far_heard, "7*");
	assert_true(p->stats.dtmf_tx_blocks >= 4);
	dtmf_rx_free(det);
	mg_tdm_engine_free(e); /* frees the port's DTMF state too */
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
	assert_int_equal(mg_tdm_engine_enable_dtmf(e, 0), -EINVAL);
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
		cmocka_unit_test(test_dtmf),
		cmocka_unit_test(test_external_media),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
