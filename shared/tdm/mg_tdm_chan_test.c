/* SPDX-License-Identifier: BSD-3-Clause */
/* Channel layer through the socketpair backend: block framing, events,
 * HDLC frames, parameters; and the dahdi backend's refusal paths. */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mg_tdm_chan.h"

static struct mg_tdm_chan *a, *b;

static int teardown(void **state)
{
	(void)state;
	mg_tdm_chan_close(a);
	mg_tdm_chan_close(b);
	a = b = NULL;
	return 0;
}

static void fill(uint8_t *buf, unsigned n, unsigned seq)
{
	for (unsigned i = 0; i < n; i++)
		buf[i] = (uint8_t)(seq * 7 + i);
}

static void test_blocks(void **state)
{
	uint8_t tx[MG_TDM_BLOCK], rx[MG_TDM_MAX_BLOCK];
	struct pollfd pfd;

	(void)state;
	assert_int_equal(mg_tdm_socketpair_open(5, NULL, &a, &b), 0);
	assert_int_equal(a->blocksize, 160);
	/* nothing yet */
	assert_int_equal(mg_tdm_chan_read(b, rx, sizeof(rx)), -EAGAIN);
	pfd = (struct pollfd){.fd = b->fd, .events = POLLIN};
	assert_int_equal(poll(&pfd, 1, 0), 0);
	for (unsigned s = 0; s < 20; s++) {
		fill(tx, sizeof(tx), s);
		assert_int_equal(mg_tdm_chan_write(a, tx, sizeof(tx)), 160);
	}
	assert_int_equal(poll(&pfd, 1, 0), 1);
	assert_true(pfd.revents & POLLIN);
	/* blocks keep their boundaries and order, whatever the read size */
	for (unsigned s = 0; s < 20; s++) {
		fill(tx, sizeof(tx), s);
		assert_int_equal(mg_tdm_chan_read(b, rx, sizeof(rx)), 160);
		assert_memory_equal(rx, tx, 160);
	}
	assert_int_equal(mg_tdm_chan_read(b, rx, sizeof(rx)), -EAGAIN);
	assert_int_equal(a->stats.tx_frames, 20);
	assert_int_equal(b->stats.rx_frames, 20);
	assert_int_equal(b->stats.rx_eagain, 2);
	/* a write larger than the block is refused, not split */
	assert_int_equal(mg_tdm_chan_write(a, rx, 161), -EINVAL);
	assert_int_equal(mg_tdm_chan_write(a, rx, 0), -EINVAL);
	/* a read buffer shorter than the block is an error, not a silent cut */
	assert_int_equal(mg_tdm_chan_write(a, tx, 160), 160);
	assert_int_equal(mg_tdm_chan_read(b, rx, 80), -EMSGSIZE);
}

static void test_blocksize_law_params(void **state)
{
	struct mg_tdm_open_opts o = {.blocksize = 80, .law = MG_LAW_ALAW, .set_law = true};
	struct mg_tdm_params p;
	uint8_t buf[160] = {0};

	(void)state;
	assert_int_equal(mg_tdm_socketpair_open(40, &o, &a, &b), 0);
	assert_int_equal(mg_tdm_chan_write(a, buf, 160), -EINVAL);
	assert_int_equal(mg_tdm_chan_write(a, buf, 80), 80);
	assert_int_equal(mg_tdm_chan_set_blocksize(a, 160), 0);
	assert_int_equal(mg_tdm_chan_write(a, buf, 160), 160);
	assert_int_equal(mg_tdm_chan_set_blocksize(a, 8), -EINVAL);
	assert_int_equal(mg_tdm_chan_set_blocksize(a, MG_TDM_MAX_BLOCK + 1), -EINVAL);
	assert_int_equal(mg_tdm_chan_get_params(a, &p), 0);
	assert_int_equal(p.channo, 40);
	assert_int_equal(p.law, MG_LAW_ALAW);
	assert_int_equal(p.blocksize, 160);
	assert_int_equal(mg_tdm_chan_set_law(a, MG_LAW_ULAW), 0);
	assert_int_equal(mg_tdm_chan_get_params(a, &p), 0);
	assert_int_equal(p.law, MG_LAW_ULAW);
	assert_int_equal(mg_tdm_chan_set_law(a, (enum mg_law)7), -EINVAL);
	o.blocksize = 4;
	mg_tdm_chan_close(a);
	mg_tdm_chan_close(b);
	a = b = NULL;
	assert_int_equal(mg_tdm_socketpair_open(40, &o, &a, &b), -EINVAL);
}

/* An event comes in order with the audio: the read before it gets the
 * audio, the next read says "event", the event is taken, audio goes on. */
static void test_events(void **state)
{
	uint8_t tx[160], rx[160];
	enum mg_tdm_event ev;
	int raw;

	(void)state;
	assert_int_equal(mg_tdm_socketpair_open(1, NULL, &a, &b), 0);
	fill(tx, 160, 1);
	assert_int_equal(mg_tdm_chan_write(b, tx, 160), 160);
	assert_int_equal(mg_tdm_socketpair_inject_event(b, MG_TDM_EV_ALARM), 0);
	fill(tx, 160, 2);
	assert_int_equal(mg_tdm_chan_write(b, tx, 160), 160);

	assert_int_equal(mg_tdm_chan_read(a, rx, 160), 160);
	assert_int_equal(rx[0], (uint8_t)7);
	assert_int_equal(mg_tdm_chan_read(a, rx, 160), -ENOMSG);
	assert_int_equal(mg_tdm_chan_read(a, rx, 160), -ENOMSG); /* until taken */
	assert_int_equal(mg_tdm_chan_get_event(a, &ev, &raw), 0);
	assert_int_equal(ev, MG_TDM_EV_ALARM);
	assert_string_equal(mg_tdm_event_name(ev), "alarm");
	assert_int_equal(mg_tdm_chan_get_event(a, &ev, &raw), 0);
	assert_int_equal(ev, MG_TDM_EV_NONE);
	assert_int_equal(mg_tdm_chan_read(a, rx, 160), 160);
	assert_int_equal(rx[0], (uint8_t)14);
	assert_int_equal(a->stats.events, 1);
	assert_int_equal(mg_tdm_socketpair_inject_event(b, MG_TDM_EV_NONE), -EINVAL);
}

/* D-channel frames of any size up to the HDLC maximum keep their size. */
static void test_hdlc(void **state)
{
	struct mg_tdm_open_opts o = {.hdlc = true};
	uint8_t tx[MG_TDM_HDLC_MAX], rx[MG_TDM_HDLC_MAX];
	static const unsigned sizes[] = {3, 5, 260, 1024, 7};

	(void)state;
	assert_int_equal(mg_tdm_socketpair_open(16, &o, &a, &b), 0);
	for (size_t i = 0; i < 5; i++) {
		fill(tx, sizes[i], (unsigned)i);
		assert_int_equal(mg_tdm_chan_write(a, tx, sizes[i]), sizes[i]);
	}
	for (size_t i = 0; i < 5; i++) {
		fill(tx, sizes[i], (unsigned)i);
		assert_int_equal(mg_tdm_chan_read(b, rx, sizeof(rx)), sizes[i]);
		assert_memory_equal(rx, tx, sizes[i]);
	}
	assert_int_equal(mg_tdm_chan_write(a, tx, MG_TDM_HDLC_MAX + 1), -EINVAL);
	assert_int_equal(mg_tdm_chan_set_blocksize(a, 160), -EINVAL);
	assert_int_equal(mg_tdm_chan_set_law(a, MG_LAW_ALAW), -EINVAL);
}

static void test_peer_gone(void **state)
{
	uint8_t buf[160] = {0};

	(void)state;
	assert_int_equal(mg_tdm_socketpair_open(2, NULL, &a, &b), 0);
	mg_tdm_chan_close(b);
	b = NULL;
	assert_int_equal(mg_tdm_chan_read(a, buf, 160), -EPIPE);
	assert_true(mg_tdm_chan_write(a, buf, 160) < 0);
}

static void test_dahdi_refusals(void **state)
{
	struct mg_tdm_chan *c = (struct mg_tdm_chan *)1;

	(void)state;
	assert_int_equal(mg_tdm_dahdi_open("/nonexistent-tdm-dir", 1, NULL, &c), -ENOENT);
	assert_null(c);
	assert_int_equal(mg_tdm_dahdi_open("/tmp", 0, NULL, &c), -EINVAL);
	/* injecting an event is a socketpair feature */
	assert_int_equal(mg_tdm_socketpair_open(1, NULL, &a, &b), 0);
	struct mg_tdm_chan fake = *a;
	static const struct mg_tdm_chan_ops other = {.name = "other"};
	fake.ops = &other;
	assert_int_equal(mg_tdm_socketpair_inject_event(&fake, MG_TDM_EV_ALARM), -EOPNOTSUPP);
}

/* The host timer fires and counts its periods; acking twice gives 0. */
static void test_host_timer(void **state)
{
	struct mg_tdm_timer *t;
	struct pollfd p;
	int n;

	(void)state;
	assert_int_equal(mg_tdm_timer_open_host(0, &t), -EINVAL);
	assert_int_equal(mg_tdm_timer_open_host(40, &t), 0); /* 5 ms */
	assert_int_equal(t->events, POLLIN);
	p = (struct pollfd){.fd = t->fd, .events = t->events};
	assert_int_equal(poll(&p, 1, 5000), 1);
	n = mg_tdm_timer_ack(t);
	assert_true(n >= 1);
	assert_int_equal(mg_tdm_timer_ack(t), 0);
	mg_tdm_timer_close(t);
	assert_int_equal(mg_tdm_timer_open_dahdi("/nonexistent-tdm-dir", 160, &t), -ENOENT);
	assert_null(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_blocks, teardown),
		cmocka_unit_test_teardown(test_blocksize_law_params, teardown),
		cmocka_unit_test_teardown(test_events, teardown),
		cmocka_unit_test_teardown(test_hdlc, teardown),
		cmocka_unit_test_teardown(test_peer_gone, teardown),
		cmocka_unit_test_teardown(test_dahdi_refusals, teardown),
		cmocka_unit_test(test_host_timer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
