/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The real dahdi backend (shared/tdm/mg_tdm_dahdi.c) against the FUSE DAHDI
 * emulator mounted at $MG_TDM_EMU_DIR (run through tdm-emu-run). The
 * emulator joins span 1 and span 2 (E1, channels 1-31 and 32-62, D-channels
 * 16 and 47) back to back.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <dahdi/user.h>

#include "mg_tdm_chan.h"

#define SPAN2 31 /* channel k of span 1 is wired to channel k + 31 */

static const char *dir;

static uint64_t now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

static uint64_t emu_ticks(void)
{
	char path[512], buf[4096];
	unsigned long long t = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/emu", dir);
	f = fopen(path, "r");
	assert_non_null(f);
	if (fgets(buf, sizeof(buf), f))
		sscanf(buf, "ticks %llu", &t);
	fclose(f);
	return t;
}

static void emu_cmd(const char *cmd)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/emu", dir);
	fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, cmd, strlen(cmd)), (ssize_t)strlen(cmd));
	close(fd);
}

/* Channels a test opened: a failing test leaves them open, the teardown
 * closes them so the next test does not trip over EBUSY. */
static struct mg_tdm_chan *opened[128];

static struct mg_tdm_chan *open_chan(unsigned n, const struct mg_tdm_open_opts *o)
{
	struct mg_tdm_chan *c = NULL;
	int rc = mg_tdm_dahdi_open(dir, n, o, &c);

	if (rc)
		fail_msg("mg_tdm_dahdi_open(%s, %u): %s", dir, n, strerror(-rc));
	for (unsigned i = 0; i < 128; i++) {
		if (!opened[i]) {
			opened[i] = c;
			break;
		}
	}
	return c;
}

static void close_chan(struct mg_tdm_chan *c)
{
	for (unsigned i = 0; i < 128; i++)
		if (opened[i] == c)
			opened[i] = NULL;
	mg_tdm_chan_close(c);
}

static int teardown(void **state)
{
	(void)state;
	for (unsigned i = 0; i < 128; i++) {
		mg_tdm_chan_close(opened[i]);
		opened[i] = NULL;
	}
	return 0;
}

/* Read one block, waiting up to @p ms for it. */
static ssize_t read_wait(struct mg_tdm_chan *c, void *buf, size_t len, int ms)
{
	struct pollfd p = {.fd = c->fd, .events = POLLIN | POLLPRI};
	ssize_t n = mg_tdm_chan_read(c, buf, len);

	if (n != -EAGAIN)
		return n;
	if (poll(&p, 1, ms) <= 0)
		return -ETIMEDOUT;
	return mg_tdm_chan_read(c, buf, len);
}

static bool all_bytes(const uint8_t *b, size_t n, uint8_t v)
{
	for (size_t i = 0; i < n; i++)
		if (b[i] != v)
			return false;
	return true;
}

/* Block @p seq of a stream tagged @p tag: never all one byte. */
static void pattern(uint8_t *b, size_t n, unsigned tag, unsigned seq)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(tag * 31 + seq * 7 + i);
}

static void test_params_and_law(void **state)
{
	struct mg_tdm_open_opts ulaw = {.law = MG_LAW_ULAW, .set_law = true};
	struct mg_tdm_chan *a = open_chan(1, &ulaw);
	struct mg_tdm_chan *b = open_chan(1 + SPAN2, NULL);
	struct mg_tdm_params p;
	uint8_t buf[160];
	ssize_t n;

	(void)state;
	assert_int_equal(mg_tdm_chan_get_params(a, &p), 0);
	assert_int_equal(p.channo, 1);
	assert_int_equal(p.spanno, 1);
	assert_int_equal(p.chanpos, 1);
	assert_int_equal(p.law, MG_LAW_ULAW);
	assert_int_equal(p.alarms, 0);
	assert_string_equal(p.name, "EMU/1/1");
	assert_int_equal(mg_tdm_chan_get_params(b, &p), 0);
	assert_int_equal(p.channo, 32);
	assert_int_equal(p.spanno, 2);
	assert_int_equal(p.chanpos, 1);
	assert_int_equal(p.law, MG_LAW_ALAW); /* E1's default, kept */
	assert_int_equal(b->law, MG_LAW_ALAW);
	/* the line runs while nobody writes: idle code of the sender's law */
	n = read_wait(b, buf, sizeof(buf), 1000);
	assert_int_equal(n, 160);
	assert_true(all_bytes(buf, 160, 0xFF)); /* a is µ-law */
	n = read_wait(a, buf, sizeof(buf), 1000);
	assert_int_equal(n, 160);
	assert_true(all_bytes(buf, 160, 0xD5)); /* b is A-law */
	/* switching law changes the idle code on the wire */
	assert_int_equal(mg_tdm_chan_set_law(a, MG_LAW_ALAW), 0);
	assert_int_equal(mg_tdm_chan_get_params(a, &p), 0);
	assert_int_equal(p.law, MG_LAW_ALAW);
	close_chan(a);
	close_chan(b);
}

/* 50 blocks each way between channel 2 and 33, written as fast as the
 * buffers take them: all arrive, in order, byte exact; the receiver never
 * gets more blocks than the emulator clock has ticked. */
static void test_exchange(void **state)
{
	enum { N = 50 };
	struct mg_tdm_open_opts o = {.numbufs = 32};
	struct mg_tdm_chan *c[2] = {open_chan(2, &o), open_chan(2 + SPAN2, &o)};
	unsigned sent[2] = {0}, got[2] = {0}, idle[2] = {0}, blocks[2] = {0};
	uint8_t tx[160], rx[160], want[160];
	uint64_t t0 = now_ms(), ticks0 = emu_ticks(), first = 0, last = 0;

	(void)state;
	while ((got[0] < N || got[1] < N) && now_ms() - t0 < 10000) {
		struct pollfd p[2];

		for (int i = 0; i < 2; i++)
			p[i] = (struct pollfd){.fd = c[i]->fd,
					       .events = POLLIN | (sent[i] < N ? POLLOUT : 0)};
		poll(p, 2, 100);
		for (int i = 0; i < 2; i++) {
			ssize_t n;

			while (sent[i] < N) {
				pattern(tx, 160, (unsigned)i + 1, sent[i]);
				n = mg_tdm_chan_write(c[i], tx, 160);
				if (n == -EAGAIN)
					break;
				assert_int_equal(n, 160);
				sent[i]++;
			}
			while ((n = mg_tdm_chan_read(c[i], rx, sizeof(rx))) > 0) {
				int from = !i;

				assert_int_equal(n, 160);
				blocks[i]++;
				if (all_bytes(rx, 160, 0xD5)) {
					idle[i]++;
					continue;
				}
				assert_true(got[i] < N);
				pattern(want, 160, (unsigned)from + 1, got[i]);
				if (memcmp(rx, want, 160))
					fail_msg("chan %u: block %u out of order or damaged",
						 c[i]->channo, got[i]);
				if (!first)
					first = now_ms();
				last = now_ms();
				got[i]++;
			}
			assert_int_equal(n, -EAGAIN);
		}
	}
	assert_int_equal(got[0], N);
	assert_int_equal(got[1], N);
	/* pacing without a clock in the test: one block per tick at most */
	uint64_t ticks = emu_ticks() - ticks0;
	assert_true(blocks[0] <= ticks + 1);
	assert_true(blocks[1] <= ticks + 1);
	printf("# exchange: %u blocks each way over %u emulator ticks; idle blocks %u/%u; "
	       "%.1f blocks/s per direction\n",
	       N, (unsigned)ticks, idle[0], idle[1],
	       last > first ? (N - 1) * 1000.0 / (double)(last - first) : 0.0);
	close_chan(c[0]);
	close_chan(c[1]);
}

/* All 30 bearers of span 1 and span 2 at once: timeslot k reaches timeslot
 * k of the other span and no other. */
static void test_all_channels_mapping(void **state)
{
	/* 32 buffers (640 ms): a test process stalled by a busy machine must
	 * not lose the tagged block to a receive overrun */
	struct mg_tdm_open_opts o = {.numbufs = 32};
	struct mg_tdm_chan *c[63] = {NULL};
	unsigned found = 0, want = 0;
	uint8_t buf[160];
	uint64_t t0 = now_ms();

	(void)state;
	/* open everything first: the line runs on, and a block sent toward a
	 * channel nobody has open is gone, as on a real span */
	for (unsigned n = 1; n <= 62; n++)
		if (n != 16 && n != 47)
			c[n] = open_chan(n, &o);
	for (unsigned n = 1; n <= 62; n++) {
		if (!c[n])
			continue;
		memset(buf, (int)n, sizeof(buf)); /* 1..62: never the idle 0xD5 */
		assert_int_equal(mg_tdm_chan_write(c[n], buf, 160), 160);
		want++;
	}
	bool seen[63] = {false};
	while (found < want && now_ms() - t0 < 5000) {
		for (unsigned n = 1; n <= 62; n++) {
			ssize_t r;

			if (!c[n] || seen[n])
				continue;
			r = mg_tdm_chan_read(c[n], buf, sizeof(buf));
			if (r == -EAGAIN || (r == 160 && all_bytes(buf, 160, 0xD5)))
				continue;
			assert_int_equal(r, 160);
			unsigned from = n > SPAN2 ? n - SPAN2 : n + SPAN2;
			if (!all_bytes(buf, 160, (uint8_t)from))
				fail_msg("channel %u got 0x%02x, expected channel %u's block", n,
					 buf[0], from);
			seen[n] = true;
			found++;
		}
		usleep(5000);
	}
	assert_int_equal(found, want);
	for (unsigned n = 1; n <= 62; n++)
		close_chan(c[n]);
}

static void test_alarm_events(void **state)
{
	struct mg_tdm_chan *a = open_chan(3, NULL), *b = open_chan(3 + SPAN2, NULL);
	struct mg_tdm_params p;
	enum mg_tdm_event ev;
	uint8_t buf[160];
	struct pollfd pfd = {.fd = a->fd, .events = POLLPRI};
	ssize_t n;

	(void)state;
	emu_cmd("alarm 1");
	assert_int_equal(poll(&pfd, 1, 1000), 1);
	assert_true(pfd.revents & POLLPRI);
	/* DAHDI fails the read with ELAST until the event is taken */
	assert_int_equal(mg_tdm_chan_read(a, buf, sizeof(buf)), -ENOMSG);
	assert_int_equal(mg_tdm_chan_get_event(a, &ev, NULL), 0);
	assert_int_equal(ev, MG_TDM_EV_ALARM);
	assert_int_equal(mg_tdm_chan_get_params(a, &p), 0);
	assert_int_equal(p.alarms, DAHDI_ALARM_RED);
	assert_int_equal(mg_tdm_chan_get_event(a, &ev, NULL), 0);
	assert_int_equal(ev, MG_TDM_EV_NONE);
	/* span 2 saw nothing */
	assert_int_equal(mg_tdm_chan_get_event(b, &ev, NULL), 0);
	assert_int_equal(ev, MG_TDM_EV_NONE);
	emu_cmd("noalarm 1");
	do
		n = read_wait(a, buf, sizeof(buf), 1000);
	while (n == 160);
	assert_int_equal(n, -ENOMSG);
	assert_int_equal(mg_tdm_chan_get_event(a, &ev, NULL), 0);
	assert_int_equal(ev, MG_TDM_EV_NOALARM);
	assert_int_equal(mg_tdm_chan_get_params(a, &p), 0);
	assert_int_equal(p.alarms, 0);
	assert_int_equal(a->stats.events, 2);
	close_chan(a);
	close_chan(b);
}

static void test_specify_rules(void **state)
{
	struct mg_tdm_chan *a = open_chan(4, NULL), *dup = NULL;
	char path[512];
	int fd, v;

	(void)state;
	assert_int_equal(mg_tdm_dahdi_open(dir, 4, NULL, &dup), -EBUSY);
	assert_int_equal(mg_tdm_dahdi_open(dir, 999, NULL, &dup), -ENXIO);
	/* raw API: an unbound fd refuses channel calls; numbered files bind at open */
	snprintf(path, sizeof(path), "%s/channel", dir);
	fd = open(path, O_RDWR | O_NONBLOCK);
	assert_true(fd >= 0);
	assert_int_equal(ioctl(fd, DAHDI_GET_BLOCKSIZE, &v), -1);
	assert_int_equal(errno, EINVAL);
	close(fd);
	snprintf(path, sizeof(path), "%s/5", dir);
	fd = open(path, O_RDWR | O_NONBLOCK);
	assert_true(fd >= 0);
	assert_int_equal(ioctl(fd, DAHDI_CHANNO, &v), 0);
	assert_int_equal(v, 5);
	assert_int_equal(ioctl(fd, DAHDI_GET_BLOCKSIZE, &v), 0);
	assert_int_equal(v, 160);
	v = 7;
	assert_int_equal(ioctl(fd, DAHDI_SET_BLOCKSIZE, &v), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(ioctl(fd, DAHDI_DIAL, &(struct dahdi_dialoperation){0}), -1);
	assert_int_equal(errno, ENOTTY);
	struct dahdi_spaninfo si = {.spanno = 2};
	assert_int_equal(ioctl(fd, DAHDI_SPANSTAT, &si), 0);
	assert_int_equal(si.totalchans, 31);
	assert_string_equal(si.spantype, "E1");
	close(fd);
	close_chan(a);
	/* closed: the channel can be opened again */
	a = open_chan(4, NULL);
	close_chan(a);
}

static void test_hdlc(void **state)
{
	struct mg_tdm_open_opts o = {.hdlc = true};
	struct mg_tdm_chan *a = open_chan(16, &o), *b = open_chan(16 + SPAN2, &o);
	static const unsigned sizes[] = {4, 10, 260, 1024, 5};
	uint8_t tx[1024], rx[1024];

	(void)state;
	assert_int_equal(mg_tdm_chan_set_blocksize(a, 160), -EINVAL);
	for (unsigned i = 0; i < 5; i++) {
		pattern(tx, sizes[i], 9, i);
		assert_int_equal(mg_tdm_chan_write(a, tx, sizes[i]), sizes[i]);
	}
	for (unsigned i = 0; i < 5; i++) {
		ssize_t n = read_wait(b, rx, sizeof(rx), 2000);

		pattern(tx, sizes[i], 9, i);
		assert_int_equal(n, sizes[i]);
		assert_memory_equal(rx, tx, sizes[i]);
	}
	/* and back */
	assert_int_equal(mg_tdm_chan_write(b, tx, 6), 6);
	assert_int_equal(read_wait(a, rx, sizeof(rx), 2000), 6);
	close_chan(a);
	close_chan(b);
}

/* 80-byte blocks (10 ms): the line still carries 160 bytes a tick, so the
 * reader sees two blocks per tick, in order. */
static void test_blocksize_80(void **state)
{
	struct mg_tdm_open_opts o = {.blocksize = 80, .numbufs = 32};
	struct mg_tdm_chan *a = open_chan(6, &o), *b = open_chan(6 + SPAN2, &o);
	uint8_t tx[80], rx[160];
	unsigned got = 0, sent = 0;
	uint64_t t0 = now_ms();

	(void)state;
	while (got < 20 && now_ms() - t0 < 5000) {
		ssize_t n;

		while (sent < 20) {
			pattern(tx, 80, 5, sent);
			if (mg_tdm_chan_write(a, tx, 80) != 80)
				break;
			sent++;
		}
		n = read_wait(b, rx, sizeof(rx), 200);
		if (n == -ETIMEDOUT)
			continue;
		assert_int_equal(n, 80); /* one block per read, never more */
		if (all_bytes(rx, 80, 0xD5))
			continue;
		pattern(tx, 80, 5, got);
		assert_memory_equal(rx, tx, 80);
		got++;
	}
	assert_int_equal(got, 20);
	assert_int_equal(mg_tdm_chan_write(a, rx, 81), -EINVAL);
	close_chan(a);
	close_chan(b);
}

/* DAHDI's timer on the span clock: it trips (POLLPRI), each period is acked
 * once, and the channel, opened after the timer, never has more blocks than
 * the timer has periods: both run on the one clock. */
static void test_timer(void **state)
{
	struct mg_tdm_open_opts o = {.numbufs = 32};
	struct mg_tdm_timer *t;
	struct mg_tdm_chan *c;
	uint8_t buf[160];
	unsigned periods = 0, blocks = 0;

	(void)state;
	assert_int_equal(mg_tdm_timer_open_dahdi(dir, 160, &t), 0);
	c = open_chan(8, &o);
	assert_int_equal(t->events, POLLPRI);
	while (periods < 10) {
		struct pollfd p = {.fd = t->fd, .events = t->events};
		int n;

		assert_int_equal(poll(&p, 1, 2000), 1);
		assert_true(p.revents & POLLPRI);
		n = mg_tdm_timer_ack(t);
		assert_true(n >= 1);
		periods += (unsigned)n;
		while (mg_tdm_chan_read(c, buf, sizeof(buf)) == 160)
			blocks++;
	}
	/* a tick may fall between the last ack and the last read */
	assert_true(blocks <= periods + 2);
	assert_true(blocks >= periods / 2);
	mg_tdm_timer_close(t);
	close_chan(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_params_and_law, teardown),
		cmocka_unit_test_teardown(test_exchange, teardown),
		cmocka_unit_test_teardown(test_all_channels_mapping, teardown),
		cmocka_unit_test_teardown(test_alarm_events, teardown),
		cmocka_unit_test_teardown(test_specify_rules, teardown),
		cmocka_unit_test_teardown(test_hdlc, teardown),
		cmocka_unit_test_teardown(test_blocksize_80, teardown),
		cmocka_unit_test_teardown(test_timer, teardown),
	};

	dir = getenv("MG_TDM_EMU_DIR");
	if (!dir) {
		fprintf(stderr, "tdm_emu_test: MG_TDM_EMU_DIR is not set: run it through "
				"tests/dahdi-emu/tdm-emu-run (meson test --suite tdm does)\n");
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
