/* SPDX-License-Identifier: BSD-3-Clause */
#include "pri_span.h"

#include <errno.h>
#include <libpri.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "mg_log.h"

/* libpri's channel word: timeslot in bits 0-7, span in 8-15, explicit bit 16.
 * A word <= 0 is libpri's "no channel": timeslot 0. */
static int pri_chan_slot(int word)
{
	return word > 0 ? word & 0xff : 0;
}

/* Bit 16 (PRI_EXPLICIT) would add the interface identifier (Channel ID
 * octet 3.1), which only NFAS uses and Q.SIG refuses: a span here signals
 * for itself, so channel words are the bare timeslot. */
#define PRI_CHAN_WORD(ts) ((int)(ts))

struct pri_span {
	struct pri *pri;
	struct mg_tdm_chan *dchan;
	pri_span_cb cb;
	void *arg;
	bool up;
	bool got_frame;
	bool dead;      /* the D-channel failed for good (peer closed, device gone) */
};

static const struct {
	const char *name;
	int type;
} switch_types[] = {
	{"national", PRI_SWITCH_NI2},      {"ni1", PRI_SWITCH_NI1},
	{"dms100", PRI_SWITCH_DMS100},     {"4ess", PRI_SWITCH_ATT4ESS},
	{"5ess", PRI_SWITCH_LUCENT5E},     {"euroisdn_e1", PRI_SWITCH_EUROISDN_E1},
	{"euroisdn_t1", PRI_SWITCH_EUROISDN_T1}, {"qsig", PRI_SWITCH_QSIG},
};

int pri_span_switch_parse(const char *name)
{
	for (size_t i = 0; i < sizeof(switch_types) / sizeof(switch_types[0]); i++)
		if (!strcmp(name, switch_types[i].name))
			return switch_types[i].type;
	return -EINVAL;
}

/* libpri prints through two process-wide hooks: route them to our log. */
static void pri_log_message(struct pri *pri, char *s)
{
	(void)pri;
	MG_DEBUG("libpri: %s", s);
}

static void pri_log_error(struct pri *pri, char *s)
{
	(void)pri;
	MG_WARN("libpri: %s", s);
}

static void pri_hooks_install(void)
{
	pri_set_message(pri_log_message);
	pri_set_error(pri_log_error);
}

/* libpri reads one HDLC frame (with its 2 FCS bytes); 0 means "nothing". */
static int span_io_read(struct pri *pri, void *buf, int len)
{
	struct pri_span *s = pri_get_userdata(pri);
	ssize_t n = mg_tdm_chan_read(s->dchan, buf, (size_t)len);

	if (n == -ENOMSG) {
		enum mg_tdm_event ev;

		if (mg_tdm_chan_get_event(s->dchan, &ev, NULL) == 0 && ev != MG_TDM_EV_NONE)
			MG_INFO("pri: D-channel %u: %s", s->dchan->channo, mg_tdm_event_name(ev));
		s->got_frame = true; /* keep draining */
		return 0;
	}
	if (n == -EAGAIN || n == -EMSGSIZE || n == 0)
		return 0;
	if (n < 0) {
		/* -EPIPE, -ENODEV, ...: nothing will come again; polling on would spin */
		if (!s->dead)
			MG_ERR("pri: D-channel %u: read failed: %s; signalling on this span stops "
			       "(Q.921 will time out)", s->dchan->channo, strerror((int)-n));
		s->dead = true;
		return 0;
	}
	s->got_frame = true;
	return (int)n;
}

static int span_io_write(struct pri *pri, void *buf, int len)
{
	struct pri_span *s = pri_get_userdata(pri);
	ssize_t n = mg_tdm_chan_write(s->dchan, buf, (size_t)len);

	if (n < 0) {
		MG_WARN("pri: D-channel %u: write of %d bytes failed: %s", s->dchan->channo, len,
			strerror((int)-n));
		return 0;
	}
	return (int)n;
}

struct pri_span *pri_span_new(struct mg_tdm_chan *dchan, enum mg_tdm_role role, int switch_type,
			      pri_span_cb cb, void *arg)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	struct pri_span *s;

	if (!dchan || !dchan->hdlc || !cb || switch_type <= 0) {
		errno = EINVAL;
		return NULL;
	}
	pthread_once(&once, pri_hooks_install);
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->dchan = dchan;
	s->cb = cb;
	s->arg = arg;
	s->pri = pri_new_cb(dchan->fd, role == MG_TDM_ROLE_NT ? PRI_NETWORK : PRI_CPE, switch_type,
			    span_io_read, span_io_write, s);
	if (!s->pri) {
		free(s);
		errno = ENOMEM;
		return NULL;
	}
	/* calling name: Display IE in SETUP where the switch type allows it,
	 * supplementary-service facility where that is the carrier (NI2, Q.SIG) */
	pri_facility_enable(s->pri);
	pri_display_options_send(s->pri, PRI_DISPLAY_OPTION_NAME_INITIAL);
	pri_display_options_receive(s->pri, PRI_DISPLAY_OPTION_NAME_INITIAL);
	return s;
}

void pri_span_free(struct pri_span *s)
{
	if (!s)
		return;
	/* libpri has no destructor in 1.6 beyond closing what it was given;
	 * its memory goes with the process (one span lives as long as it) */
	mg_tdm_chan_close(s->dchan);
	free(s);
}

int pri_span_fd(const struct pri_span *s)
{
	return s->dchan->fd;
}

void pri_span_set_debug(struct pri_span *s, bool on)
{
	pri_set_debug(s->pri, on ? PRI_DEBUG_Q931_DUMP | PRI_DEBUG_Q931_STATE | PRI_DEBUG_Q921_STATE : 0);
}

int pri_span_set_timer(struct pri_span *s, const char *name, int value)
{
	int idx = pri_timer2idx(name);

	if (idx < 0 || value <= 0)
		return -EINVAL;
	return pri_set_timer(s->pri, idx, value) ? -EINVAL : 0;
}

bool pri_span_is_up(const struct pri_span *s)
{
	return s->up;
}

bool pri_span_is_dead(const struct pri_span *s)
{
	return s->dead;
}

static void span_dispatch(struct pri_span *s, pri_event *e)
{
	struct pri_span_event ev = {0};

	switch (e->e) {
	case PRI_EVENT_DCHAN_UP:
		s->up = true;
		ev.kind = PRI_SPAN_EV_UP;
		break;
	case PRI_EVENT_DCHAN_DOWN:
		s->up = false;
		ev.kind = PRI_SPAN_EV_DOWN;
		break;
	case PRI_EVENT_RING:
		ev.kind = PRI_SPAN_EV_SETUP;
		ev.call = e->ring.call;
		ev.channel = pri_chan_slot(e->ring.channel);
		ev.channel_exclusive = !e->ring.flexible;
		ev.called = e->ring.callednum;
		ev.calling = e->ring.callingnum;
		ev.called_plan = e->ring.calledplan;
		ev.calling_plan = e->ring.callingplan;
		ev.calling_name = e->ring.callingname;
		ev.calling_pres = e->ring.callingpres;
		ev.calling_restricted = (e->ring.callingpres & 0x60) == 0x20;
		break;
	case PRI_EVENT_PROCEEDING:
		ev.kind = PRI_SPAN_EV_PROCEEDING;
		ev.call = e->proceeding.call;
		ev.channel = pri_chan_slot(e->proceeding.channel);
		break;
	case PRI_EVENT_PROGRESS:
		ev.kind = PRI_SPAN_EV_PROGRESS;
		ev.call = e->proceeding.call;
		ev.inband = e->proceeding.progressmask & PRI_PROG_INBAND_AVAILABLE;
		ev.channel = pri_chan_slot(e->proceeding.channel);
		break;
	case PRI_EVENT_RINGING:
		ev.kind = PRI_SPAN_EV_ALERTING;
		ev.call = e->ringing.call;
		ev.inband = e->ringing.progressmask & PRI_PROG_INBAND_AVAILABLE;
		ev.channel = pri_chan_slot(e->ringing.channel);
		break;
	case PRI_EVENT_ANSWER:
		ev.kind = PRI_SPAN_EV_CONNECT;
		ev.call = e->answer.call;
		ev.inband = e->answer.progressmask & PRI_PROG_INBAND_AVAILABLE;
		ev.channel = pri_chan_slot(e->answer.channel);
		break;
	case PRI_EVENT_HANGUP_REQ:
	case PRI_EVENT_HANGUP:
	case PRI_EVENT_HANGUP_ACK:
		/* HANGUP: RELEASE from the far end, libpri answered RELEASE
		 * COMPLETE; HANGUP_ACK: our RELEASE (or DISCONNECT) completed */
		ev.kind = e->e == PRI_EVENT_HANGUP_REQ ? PRI_SPAN_EV_DISCONNECT : PRI_SPAN_EV_RELEASED;
		ev.call = e->hangup.call;
		ev.cause = e->hangup.cause;
		ev.channel = pri_chan_slot(e->hangup.channel);
		s->cb(s->arg, s, &ev);
		/* pri_hangup() frees the call record */
		if (e->e == PRI_EVENT_HANGUP)
			pri_hangup(s->pri, e->hangup.call, e->hangup.cause);
		return;
	case PRI_EVENT_RESTART:
		/* libpri sent RESTART ACKNOWLEDGE itself */
		ev.kind = PRI_SPAN_EV_RESTART;
		ev.channel = pri_chan_slot(e->restart.channel);
		break;
	default:
		MG_DEBUG("pri: D-channel %u: libpri event %d not handled", s->dchan->channo, e->e);
		return;
	}
	s->cb(s->arg, s, &ev);
}

void pri_span_on_readable(struct pri_span *s)
{
	/* one frame per pri_check_event(): drain until a read finds nothing,
	 * at most 64 per wake-up (the fd is level-triggered: the rest comes on
	 * the next turn of the loop, and an event the device keeps reporting
	 * cannot hold the loop here) */
	for (unsigned n = 0; n < 64; n++) {
		pri_event *e;

		s->got_frame = false;
		e = pri_check_event(s->pri);
		if (e)
			span_dispatch(s, e);
		if (!s->got_frame)
			break;
	}
}

int pri_span_next_timeout_ms(struct pri_span *s)
{
	struct timeval *next = pri_schedule_next(s->pri);
	struct timeval now;
	long ms;

	if (!next)
		return -1;
	gettimeofday(&now, NULL);
	ms = (next->tv_sec - now.tv_sec) * 1000 + (next->tv_usec - now.tv_usec) / 1000;
	return ms < 0 ? 0 : (int)ms;
}

void pri_span_run_timers(struct pri_span *s)
{
	pri_event *e = pri_schedule_run(s->pri);

	if (e)
		span_dispatch(s, e);
}

struct q931_call *pri_span_dial(struct pri_span *s, const struct pri_span_dial *d)
{
	char cd[64], cg[64], nm[64];
	struct pri_sr *sr;
	q931_call *c;
	int rc;

	if (!s->up) {
		errno = ENOTCONN;
		return NULL;
	}
	if (!d->called || !*d->called || strlen(d->called) >= sizeof(cd) || d->channel == 0 ||
	    d->channel > 31 || (d->calling && strlen(d->calling) >= sizeof(cg)) ||
	    (d->calling_name && strlen(d->calling_name) >= sizeof(nm))) {
		errno = EINVAL;
		return NULL;
	}
	/* libpri takes non-const strings */
	snprintf(cd, sizeof(cd), "%s", d->called);
	snprintf(cg, sizeof(cg), "%s", d->calling ? d->calling : "");
	snprintf(nm, sizeof(nm), "%s", d->calling_name ? d->calling_name : "");
	c = pri_new_call(s->pri);
	sr = pri_sr_new();
	if (!c || !sr) {
		if (sr)
			pri_sr_free(sr);
		errno = ENOMEM;
		return NULL;
	}
	pri_sr_set_channel(sr, PRI_CHAN_WORD(d->channel), d->preferred ? 0 : 1, 0);
	pri_sr_set_bearer(sr, PRI_TRANS_CAP_SPEECH,
			  d->law == MG_LAW_ALAW ? PRI_LAYER_1_ALAW : PRI_LAYER_1_ULAW);
	pri_sr_set_called(sr, cd + (cd[0] == '+'), cd[0] == '+' ? PRI_INTERNATIONAL_ISDN : PRI_UNKNOWN,
			  1);
	pri_sr_set_caller(sr, cg[0] ? cg + (cg[0] == '+') : NULL, nm[0] ? nm : NULL,
			  cg[0] == '+' ? PRI_INTERNATIONAL_ISDN : PRI_UNKNOWN,
			  !cg[0]	 ? PRES_NUMBER_NOT_AVAILABLE
			  : d->restricted ? PRES_PROHIB_USER_NUMBER_NOT_SCREENED
					  : PRES_ALLOWED_USER_NUMBER_NOT_SCREENED);
	rc = pri_setup(s->pri, c, sr);
	pri_sr_free(sr);
	if (rc) {
		pri_destroycall(s->pri, c);
		errno = EIO;
		return NULL;
	}
	return c;
}

int pri_span_proceeding(struct pri_span *s, struct q931_call *c, unsigned channel)
{
	return pri_proceeding(s->pri, c, PRI_CHAN_WORD(channel), 0) ? -EIO : 0;
}

int pri_span_alerting(struct pri_span *s, struct q931_call *c, unsigned channel, bool inband)
{
	return pri_acknowledge(s->pri, c, PRI_CHAN_WORD(channel), inband) ? -EIO : 0;
}

int pri_span_progress(struct pri_span *s, struct q931_call *c, unsigned channel)
{
	return pri_progress(s->pri, c, PRI_CHAN_WORD(channel), 1) ? -EIO : 0;
}

int pri_span_answer(struct pri_span *s, struct q931_call *c, unsigned channel)
{
	return pri_answer(s->pri, c, PRI_CHAN_WORD(channel), 1) ? -EIO : 0;
}

int pri_span_restart(struct pri_span *s, unsigned channel)
{
	if (channel == 0 || channel > 31)
		return -EINVAL;
	if (!s->up)
		return -ENOTCONN;
	return pri_reset(s->pri, PRI_CHAN_WORD(channel)) ? -EIO : 0;
}

void pri_span_destroy_call(struct pri_span *s, struct q931_call *c)
{
	pri_destroycall(s->pri, c);
}

int pri_span_hangup(struct pri_span *s, struct q931_call *c, int cause)
{
	if (cause <= 0 || cause > 127)
		return -EINVAL;
	return pri_hangup(s->pri, c, cause) ? -EIO : 0;
}

int pri_span_reject(struct pri_span *s, struct q931_call *c, unsigned channel, int cause)
{
	int rc;

	if (cause <= 0 || cause > 127)
		return -EINVAL;
	rc = pri_span_proceeding(s, c, channel);
	return rc ? rc : pri_span_hangup(s, c, cause);
}
