/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit test of the call engine's state machine: the engine runs on a real
 * su_root with the real SDP code and the real media layer (control/media),
 * but reaches the SIP user agents, nua and the routing rules through
 * calls_io, and the media layer reaches the dataplane client through
 * media_dp_io, both pointed here at fakes that record what was asked of
 * them. The test plays the peers (nua events
 * into the sipua hook) and the dataplane (each request answered when the
 * test says), and checks the state sequences (calls_io.trace) and the
 * requests the fakes saw.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include <sofia-sip/sip_header.h>
#include <sofia-sip/su.h>

#include "calls.h"
#include "calls_ctl.h"
#include "calls_internal.h"
#include "mg_log.h"

/* ------------------------------------------------------------ fakes */

#define FAKE_MAX_HANDLES 8
#define FAKE_MAX_DP 16
#define FAKE_LOG 4096

struct fake_nh {
	void *magic;
	bool destroyed;
};

struct fake_dp_req {
	unsigned type;
	media_dp_reply_f cb;
	void *arg;
	bool open;
	union { /* what was asked (the types the tests look at) */
		struct mg_msg_port_alloc pa;
		struct mg_msg_session sess;
	} body;
};

static struct {
	struct fake_nh nh[FAKE_MAX_HANDLES];
	unsigned n_nh;
	sipua_hook_fn *hook;
	struct fake_dp_req dp[FAKE_MAX_DP];
	unsigned n_dp;
	bool dp_up;
	bool no_route;
	char seen[FAKE_LOG];   /* requests to nua, one per line: "respond 0 180" */
	char states[FAKE_LOG]; /* state moves: "call routing>outgoing", "leg1 idle>calling" */
	char offer[4096];      /* the SDP of the last INVITE we sent */
	/* the caller's INVITE (NULL: the usual alice -> bob one) */
	const char *ruri, *from, *to;
	bool route_user;       /* the rule sends the call to the Request-URI's user */
	char *kv_ruser, *kv_fuser, *kv_fname, *kv_ruri; /* what the rule saw (heap) */
	char *out_to, *out_from, *out_target; /* the out leg's headers (heap) */
	char phrase0[64];      /* reason phrase of the last answer to handle 0 */
	char answer0[4096];    /* the SDP of our last answer to handle 0 */
	const char *rr, *contact; /* Record-Route and Contact of every message (NULL: none) */
	/* the last dialog handle made, whole (heap; fk.seen is cut at FAKE_LOG) */
	char *dlg[FAKE_MAX_HANDLES][4]; /* by handle: Call-ID, From, To, route */
	/* the last call published (calls_set_observer()), its dialogs (heap) */
	struct calls_adopt pub;
	unsigned n_pub;
} fk;

static struct mg_settings settings;
static struct mg_sip_ua fake_ua = { .addr = "192.0.2.1", .family = AF_INET, .port = 5060,
				    .transport = MG_TRANSPORT_UDP };

static void fk_add(char *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fk_add(char *buf, const char *fmt, ...)
{
	size_t n = strlen(buf);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf + n, FAKE_LOG - n, fmt, ap);
	va_end(ap);
}

static nua_handle_t *fk_handle_new(void *magic)
{
	struct fake_nh *h;

	assert_true(fk.n_nh < FAKE_MAX_HANDLES);
	h = &fk.nh[fk.n_nh++];
	h->magic = magic;
	return (nua_handle_t *)(void *)h;
}

/* Which handle: 0 the first made (the caller's), 1 the next, ... */
static unsigned fk_index(nua_handle_t *nh)
{
	return (unsigned)((struct fake_nh *)(void *)nh - fk.nh);
}

static unsigned fake_ua_count(void)
{
	return 1;
}

static const struct mg_sip_ua *fake_ua_cfg(unsigned ua)
{
	(void)ua;
	return &fake_ua;
}

static void fake_ua_contact(unsigned ua, const sip_t *req, char *buf, size_t len)
{
	(void)ua;
	(void)req;
	snprintf(buf, len, "<sip:192.0.2.1:5060;transport=udp>");
}

static void fake_set_hook(sipua_hook_fn *fn, void *arg)
{
	(void)arg;
	fk.hook = fn;
}

static nua_handle_t *fake_handle(unsigned ua, void *magic, const char *to, const char *from)
{
	(void)ua;
	free(fk.out_to);
	free(fk.out_from);
	fk.out_to = strdup(to);
	fk.out_from = strdup(from);
	return fk_handle_new(magic);
}

static void *fake_handle_magic(nua_handle_t *nh)
{
	return ((struct fake_nh *)(void *)nh)->magic;
}

static void fake_handle_bind(nua_handle_t *nh, void *magic)
{
	((struct fake_nh *)(void *)nh)->magic = magic;
}

static void fake_handle_destroy(nua_handle_t *nh)
{
	((struct fake_nh *)(void *)nh)->destroyed = true;
}

static void fake_respond(nua_handle_t *nh, int status, const char *phrase, const char *contact,
			 const char *warning, const char *retry_after, const char *sdp)
{
	(void)contact;
	(void)retry_after;
	if (fk_index(nh) == 0)
		snprintf(fk.phrase0, sizeof(fk.phrase0), "%s", phrase);
	fk_add(fk.seen, "respond %u %d%s%s\n", fk_index(nh), status, sdp ? " sdp" : "",
	       warning ? " warning" : "");
	if (sdp != NULL && fk_index(nh) == 0)
		snprintf(fk.answer0, sizeof(fk.answer0), "%s", sdp);
}

static void fake_invite(nua_handle_t *nh, const char *url, const char *contact, const char *sdp)
{
	(void)contact;
	if (url != NULL && strlen(url) > 200) {
		free(fk.out_target);
		fk.out_target = strdup(url);
		url = "(long)";
	}
	fk_add(fk.seen, "invite %u %s\n", fk_index(nh), url ? url : "(re-INVITE)");
	snprintf(fk.offer, sizeof(fk.offer), "%s", sdp);
}

static void fake_bye(nua_handle_t *nh, const char *reason)
{
	fk_add(fk.seen, "bye %u%s\n", fk_index(nh), reason ? " reason" : "");
}

static void fake_cancel(nua_handle_t *nh)
{
	fk_add(fk.seen, "cancel %u\n", fk_index(nh));
}

static int64_t fake_dp_request(struct dpc *dp, unsigned type, const void *body,
			       unsigned timeout_ms, media_dp_reply_f cb, void *arg)
{
	(void)dp;
	(void)body;
	(void)timeout_ms;
	if (!fk.dp_up)
		return -ENOTCONN;
	assert_true(fk.n_dp < FAKE_MAX_DP);
	fk.dp[fk.n_dp] = (struct fake_dp_req){ .type = type, .cb = cb, .arg = arg, .open = true };
	if (type == MG_MSG_PORT_ALLOC)
		fk.dp[fk.n_dp].body.pa = *(const struct mg_msg_port_alloc *)body;
	else if (type == MG_MSG_SESSION_ADD || type == MG_MSG_SESSION_MODIFY)
		fk.dp[fk.n_dp].body.sess = *(const struct mg_msg_session *)body;
	return ++fk.n_dp;
}

static bool fake_dp_is_up(const struct dpc *dp)
{
	(void)dp;
	return fk.dp_up;
}

static unsigned fake_dp_cancel_arg(struct dpc *dp, const void *arg)
{
	unsigned n = 0;

	(void)dp;
	for (unsigned i = 0; i < fk.n_dp; i++)
		if (fk.dp[i].open && fk.dp[i].arg == arg) {
			fk.dp[i].open = false;
			n++;
		}
	return n;
}

static int fake_rules_reload(struct route_set *set, const char *path, char *err, size_t errlen)
{
	(void)set;
	(void)path;
	(void)err;
	(void)errlen;
	return 0;
}

static unsigned fake_rules_count(struct route_set *set)
{
	(void)set;
	return 1;
}

static const char *kv_get(const struct route_kv *kv, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(kv[i].name, name) == 0)
			return kv[i].value;
	fail_msg("no call parameter %s", name);
	return NULL;
}

static void kv_keep(char **dst, const struct route_kv *kv, size_t n, const char *name)
{
	free(*dst);
	*dst = strdup(kv_get(kv, n, name));
	assert_non_null(*dst);
}

/* One rule: everything to bob at 192.0.2.20 over UDP (fk.route_user: to
 * the Request-URI's user there, as sip:%1@192.0.2.20 of a rule would). */
static int fake_route(struct route_set *set, const struct route_kv *kv, size_t n,
		      const struct route_env *env, struct route_result *out)
{
	const char *user = "bob";

	(void)set;
	(void)env;
	kv_keep(&fk.kv_ruser, kv, n, "sip.in.requestUri.user");
	kv_keep(&fk.kv_ruri, kv, n, "sip.in.requestUri");
	kv_keep(&fk.kv_fuser, kv, n, "sip.in.from.user");
	kv_keep(&fk.kv_fname, kv, n, "sip.in.from.displayName");
	if (fk.no_route)
		return -ENOENT;
	if (fk.route_user)
		user = fk.kv_ruser;
	memset(out, 0, sizeof(*out));
	out->rule_name = "to-bob";
	out->outbound_interface = ROUTE_IFACE_SIP;
	out->n_params = 1;
	out->params[0].name = "sip.out.requestUri";
	out->params[0].value = malloc(strlen(user) + 32);
	assert_non_null(out->params[0].value);
	sprintf(out->params[0].value, "sip:%s@192.0.2.20:5060", user);
	return 0;
}

static void fake_trace(const struct call *c, int li, int from, int to)
{
	(void)c;
	if (li < 0)
		fk_add(fk.states, "call %s>%s\n", call_state_name((enum call_state)from),
		       call_state_name((enum call_state)to));
	else
		fk_add(fk.states, "leg%d %s>%s\n", li, leg_state_name((enum leg_state)from),
		       leg_state_name((enum leg_state)to));
}

/* A dialog handle (calls_peer.c, calls_adopt.c): what it was made of. */
static nua_handle_t *fake_dialog_handle(unsigned ua, void *magic, const char *call_id, const char *local,
					const char *remote, const char *route)
{
	fk_add(fk.seen, "dialog %u %s from %s to %s route %s\n", ua, call_id, local, remote, route);
	if (fk.n_nh < FAKE_MAX_HANDLES) {
		char **d = fk.dlg[fk.n_nh];

		d[0] = strdup(call_id);
		d[1] = strdup(local);
		d[2] = strdup(remote);
		d[3] = strdup(route);
	}
	return fk_handle_new(magic);
}

static void fake_dialog_bye(nua_handle_t *nh, const char *url, const char *contact, uint32_t cseq)
{
	(void)contact;
	fk_add(fk.seen, "bye %u %s cseq %u\n", fk_index(nh), url, cseq);
}

static void fake_dialog_invite(nua_handle_t *nh, const char *url, const char *contact, const char *sdp,
			       uint32_t cseq)
{
	(void)contact;
	fk_add(fk.seen, "reinvite %u %s cseq %u%s\n", fk_index(nh), url, cseq, sdp != NULL ? " sdp" : "");
}

static const struct calls_io fake_io = {
	.ua_count = fake_ua_count,
	.ua_cfg = fake_ua_cfg,
	.ua_contact = fake_ua_contact,
	.set_hook = fake_set_hook,
	.handle = fake_handle,
	.handle_magic = fake_handle_magic,
	.handle_bind = fake_handle_bind,
	.handle_destroy = fake_handle_destroy,
	.respond = fake_respond,
	.invite = fake_invite,
	.bye = fake_bye,
	.cancel = fake_cancel,
	.dialog_handle = fake_dialog_handle,
	.dialog_bye = fake_dialog_bye,
	.dialog_invite = fake_dialog_invite,
	.rules_reload = fake_rules_reload,
	.rules_count = fake_rules_count,
	.route = fake_route,
	.trace = fake_trace,
};

/* The dataplane client under the media layer. */
static const struct media_dp_io fake_dp_io = {
	.request = fake_dp_request,
	.is_up = fake_dp_is_up,
	.cancel_arg = fake_dp_cancel_arg,
};

/* ------------------------------------------------------------ the peers */

static const char caller_sdp[] = "v=0\r\no=alice 1 1 IN IP4 192.0.2.10\r\ns=-\r\n"
				 "c=IN IP4 192.0.2.10\r\nt=0 0\r\n"
				 "m=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
static const char callee_sdp[] = "v=0\r\no=bob 2 2 IN IP4 192.0.2.20\r\ns=-\r\n"
				 "c=IN IP4 192.0.2.20\r\nt=0 0\r\n"
				 "m=audio 5000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

static su_root_t *root;
static su_home_t home[1] = { SU_HOME_INIT(home) };

/* A message with what the engine reads of it: request line, From, To,
 * Via, body. NULL @sdp: no body. */
static sip_t *fk_msg(const char *sdp)
{
	sip_t *sip = su_zalloc(home, sizeof(*sip));

	assert_non_null(sip);
	sip->sip_request = sip_request_make(home, fk.ruri ? fk.ruri : "INVITE sip:bob@192.0.2.1 SIP/2.0");
	sip->sip_from = sip_from_make(home, fk.from ? fk.from : "Alice <sip:alice@192.0.2.10>;tag=a1");
	sip->sip_to = sip_to_make(home, fk.to ? fk.to : "<sip:bob@192.0.2.1>");
	assert_non_null(sip->sip_request);
	assert_non_null(sip->sip_from);
	assert_non_null(sip->sip_to);
	sip->sip_via = sip_via_make(home, "SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK1");
	sip->sip_call_id = sip_call_id_make(home, "cid-fk@192.0.2.10");
	if (fk.rr != NULL)
		assert_non_null(sip->sip_record_route = sip_record_route_make(home, fk.rr));
	if (fk.contact != NULL)
		assert_non_null(sip->sip_contact = sip_contact_make(home, fk.contact));
	if (sdp != NULL) {
		sip->sip_content_type = sip_content_type_make(home, "application/sdp");
		sip->sip_payload = sip_payload_make(home, sdp);
	}
	return sip;
}

static void fk_event(nua_event_t ev, int status, unsigned h, const char *sdp)
{
	nua_handle_t *nh = (nua_handle_t *)(void *)&fk.nh[h];
	sip_t *sip = fk_msg(sdp);

	assert_non_null(fk.hook);
	/* an answer: its status line (the dialog's route set is taken from a 2xx) */
	if (ev == nua_r_invite && status >= 100)
		assert_non_null(sip->sip_status = sip_status_create(home, (unsigned)status, "phrase", NULL));
	assert_true(fk.hook(NULL, 0, ev, status, "phrase", NULL, nh, sip, NULL));
}

/* The caller's INVITE on a new handle (index 0). */
static void fk_invite(const char *sdp)
{
	fk_handle_new(NULL);
	fk_event(nua_i_invite, 0, 0, sdp);
}

/* Answer the oldest open dataplane request of @type. */
static void fk_dp_answer(unsigned type, int result)
{
	struct mg_msg_port port;
	struct mg_msg_session_stats stats;
	const void *body = NULL;

	for (unsigned i = 0; i < fk.n_dp; i++) {
		struct fake_dp_req *r = &fk.dp[i];

		if (!r->open || r->type != type)
			continue;
		r->open = false;
		memset(&port, 0, sizeof(port));
		memset(&stats, 0, sizeof(stats));
		if (result == 0 && type == MG_MSG_PORT_ALLOC) {
			mg_proto_addr_parse("192.0.2.1", &port.local);
			port.local.port = r->body.pa.local.port ? r->body.pa.local.port : (uint16_t)(30000 + 2 * i);
			port.rtcp_port = (uint16_t)(port.local.port + 1);
			body = &port;
		} else if (result == 0 && (type == MG_MSG_SESSION_DEL || type == MG_MSG_SESSION_STATS)) {
			body = &stats;
		}
		r->cb(r->arg, result, body);
		return;
	}
	fail_msg("no open dataplane request of type %u", type);
}

static unsigned fk_dp_open(unsigned type)
{
	unsigned n = 0;

	for (unsigned i = 0; i < fk.n_dp; i++)
		n += fk.dp[i].open && fk.dp[i].type == type;
	return n;
}

static struct call *fk_call(void)
{
	assert_non_null(calls_ce.calls);
	return calls_ce.calls;
}

/* Both handles terminated, nothing in flight: the call is freed. */
static void fk_finish(void)
{
	fk_event(nua_i_terminated, 200, 0, NULL);
	fk_event(nua_i_terminated, 200, 1, NULL);
	assert_int_equal(calls_active(), 0);
}

static void pub_free(void)
{
	for (unsigned li = 0; li < 2; li++) {
		struct calls_adopt_leg *l = &fk.pub.leg[li];

		free(l->call_id);
		free(l->local_tag);
		free(l->remote_tag);
		free(l->local_uri);
		free(l->remote_uri);
		free(l->remote_target);
		free(l->route);
		sdp_result_free(l->neg);
	}
	memset(&fk.pub, 0, sizeof(fk.pub));
}

/* The observer (HA): what was published of the call, its dialogs whole. */
static void fk_observer(const struct calls_state *st, bool gone)
{
	if (gone)
		return;
	pub_free();
	fk.n_pub++;
	fk.pub.sess_id = st->sess_id;
	for (unsigned li = 0; li < 2; li++) {
		struct calls_adopt_leg *l = &fk.pub.leg[li];
		const struct calls_state_leg *o = &st->leg[li];

		l->call_id = strdup(o->call_id);
		l->local_tag = strdup(o->local_tag);
		l->remote_tag = strdup(o->remote_tag);
		l->local_uri = strdup(o->local_uri);
		l->remote_uri = strdup(o->remote_uri);
		l->remote_target = strdup(o->remote_target);
		l->route = strdup(o->route);
		l->local_cseq = o->local_cseq;
		l->remote_cseq = o->remote_cseq;
		l->ua = o->ua;
		l->port = o->port;
		l->neg = o->neg != NULL ? sdp_result_keep(o->neg) : NULL;
	}
}

static int setup(void **state)
{
	(void)state;
	memset(&fk, 0, sizeof(fk));
	fk.dp_up = true;
	memset(&settings, 0, sizeof(settings));
	snprintf(settings.routing_rules_file, sizeof(settings.routing_rules_file), "rules.xml");
	settings.srtp_mode = MG_SRTP_MODE_NEVER;
	/* One dataplane port on 192.0.2.1/24: both legs' media go there. */
	settings.n_ports = 1;
	settings.ports[0].n_addrs = 1;
	settings.ports[0].addrs[0] = (struct mg_cidr){ .family = AF_INET, .addr = { 192, 0, 2, 1 },
						       .prefix_len = 24 };
	calls_io = &fake_io;
	media_dp_io = &fake_dp_io;
	media_dp_start((struct dpc *)&fk); /* any non-NULL client: the fakes ignore it */
	if (calls_start(root, &settings) < 0)
		return -1;
	calls_sip_open(); /* the fake user agents run (main.c: after the read-back) */
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	calls_stop();
	media_dp_stop();
	media_dp_set_restart_wait(0);
	calls_io = &calls_io_real;
	media_dp_io = &media_dp_io_real;
	free(fk.kv_ruser);
	free(fk.kv_ruri);
	free(fk.kv_fuser);
	free(fk.kv_fname);
	free(fk.out_to);
	free(fk.out_from);
	free(fk.out_target);
	for (unsigned h = 0; h < FAKE_MAX_HANDLES; h++)
		for (unsigned i = 0; i < 4; i++)
			free(fk.dlg[h][i]);
	pub_free();
	calls_set_observer(NULL);
	su_home_deinit(home);
	su_home_init(home);
	return 0;
}

/* INVITE -> ports -> INVITE out -> 180 -> 200 -> session -> ACK -> BYE. */
static void test_call_answered_and_hung_up(void **state)
{
	struct calls_counters cnt;

	(void)state;
	fk_invite(caller_sdp);
	assert_int_equal(fk_call()->state, CALL_ROUTING);
	assert_int_equal(fk_dp_open(MG_MSG_PORT_ALLOC), 2);
	fk_dp_answer(MG_MSG_PORT_ALLOC, 0);
	fk_dp_answer(MG_MSG_PORT_ALLOC, 0);
	assert_string_equal(fk.seen, "invite 1 sip:bob@192.0.2.20:5060;transport=udp\n");
	assert_non_null(strstr(fk.offer, "m=audio 30002 RTP/AVP 0"));

	fk_event(nua_r_invite, 180, 1, NULL);
	fk_event(nua_r_invite, 200, 1, callee_sdp);
	/* The caller hears of the answer only once the session is in. */
	assert_null(strstr(fk.seen, "respond 0 200"));
	assert_int_equal(fk_dp_open(MG_MSG_SESSION_ADD), 1);
	fk_dp_answer(MG_MSG_SESSION_ADD, 0);
	assert_int_equal(fk_call()->state, CALL_ANSWERED);
	fk_event(nua_i_ack, 0, 0, NULL);
	assert_int_equal(fk_call()->state, CALL_ACTIVE);

	fk_event(nua_i_bye, 0, 0, NULL);
	assert_int_equal(fk_call()->state, CALL_ENDING);
	fk_dp_answer(MG_MSG_SESSION_DEL, 0);
	assert_int_equal(fk_dp_open(MG_MSG_PORT_FREE), 2);
	fk_dp_answer(MG_MSG_PORT_FREE, 0);
	fk_dp_answer(MG_MSG_PORT_FREE, 0);
	fk_finish();

	assert_string_equal(fk.seen, "invite 1 sip:bob@192.0.2.20:5060;transport=udp\n"
				     "respond 0 180\n"
				     "respond 0 200 sdp\n"
				     "bye 1\n");
	assert_string_equal(fk.states, "leg1 idle>calling\n"
				       "call routing>outgoing\n"
				       "leg1 calling>early\n"
				       "call outgoing>early\n"
				       "leg0 invited>early\n"
				       "leg1 early>answered\n"
				       "leg0 early>answered\n"
				       "call early>answered\n"
				       "leg0 answered>confirmed\n"
				       "call answered>active\n"
				       "leg0 confirmed>bye-received\n"
				       "call active>ending\n"
				       "leg1 answered>closing\n"
				       "leg0 bye-received>gone\n"
				       "leg1 closing>gone\n"
				       "call ending>freed\n");
	calls_get_counters(&cnt);
	assert_int_equal(cnt.offered, 1);
	assert_int_equal(cnt.answered, 1);
	assert_int_equal(cnt.failed, 0);
	assert_int_equal(cnt.ended, 1);
}

/* The connection to the dataplane is lost during a call: the call ends at
 * once; what the dataplane may still hold for it (session, both ports) is
 * kept by the media layer and removed when the connection is back. */
static void test_dataplane_lost(void **state)
{
	(void)state;
	fk_invite(caller_sdp);
	fk_dp_answer(MG_MSG_PORT_ALLOC, 0);
	fk_dp_answer(MG_MSG_PORT_ALLOC, 0);
	fk_event(nua_r_invite, 200, 1, callee_sdp);
	fk_dp_answer(MG_MSG_SESSION_ADD, 0);
	fk_event(nua_i_ack, 0, 0, NULL);
	assert_int_equal(fk_call()->state, CALL_ACTIVE);

	fk.dp_up = false;
	calls_dataplane_state(false);
	assert_int_equal(fk_call()->state, CALL_ENDING);
	assert_int_equal(fk_dp_open(MG_MSG_SESSION_DEL), 0);
	fk_finish();

	fk.dp_up = true;
	calls_dataplane_state(true);
	media_dp_state(true);
	assert_int_equal(fk_dp_open(MG_MSG_SESSION_DEL), 1);
	assert_int_equal(fk_dp_open(MG_MSG_PORT_FREE), 2);
	fk_dp_answer(MG_MSG_SESSION_DEL, 0);
	fk_dp_answer(MG_MSG_PORT_FREE, 0);
	fk_dp_answer(MG_MSG_PORT_FREE, 0);
	/* once: nothing is left for the next time */
	media_dp_state(true);
	assert_int_equal(fk_dp_open(MG_MSG_SESSION_DEL), 0);
	assert_int_equal(fk_dp_open(MG_MSG_PORT_FREE), 0);
}

/* The most recent dataplane request of @type (open or not). */
static const struct fake_dp_req *fk_dp_last(unsigned type)
{
	for (unsigned i = fk.n_dp; i-- > 0;)
		if (fk.dp[i].type == type)
			return &fk.dp[i];
	fail_msg("no dataplane request of type %u", type);
	return &fk.dp[0];
}

/* mediagate.dataplane.restartWait: the dataplane restarts during a call
 * (the connection is lost, a new dataplane connects): the call goes on,
 * nothing is sent to its peers; the new dataplane gets the same two ports
 * (first) and the session again. A dataplane that only lost the connection
 * says the ports are in use and the session exists: kept. */
static void test_dataplane_restart(void **state)
{
	struct calls_counters cnt;
	char seen[FAKE_LOG];

	(void)state;
	media_dp_set_restart_wait(30);
	fk_invite(caller_sdp);
	fk_dp_answer(MG_MSG_PORT_ALLOC, 0);
	fk_dp_answer(MG_MSG_PORT_ALLOC, 0);
	fk_event(nua_r_invite, 200, 1, callee_sdp);
	fk_dp_answer(MG_MSG_SESSION_ADD, 0);
	fk_event(nua_i_ack, 0, 0, NULL);
	assert_int_equal(fk_call()->state, CALL_ACTIVE);
	snprintf(seen, sizeof(seen), "%s", fk.seen);

	fk.dp_up = false;
	calls_dataplane_state(false);
	assert_int_equal(fk_call()->state, CALL_ACTIVE);
	assert_true(media_call_suspended(&fk_call()->mc));
	assert_string_equal(fk.seen, seen); /* no BYE, nothing */

	fk.dp_up = true;
	calls_dataplane_state(true);
	media_dp_state(true);
	/* the ports first, by number */
	assert_int_equal(fk_dp_open(MG_MSG_PORT_ALLOC), 2);
	assert_int_equal(fk.dp[fk.n_dp - 2].body.pa.local.port, media_call_port(&fk_call()->mc, 0));
	assert_int_equal(fk.dp[fk.n_dp - 1].body.pa.local.port, media_call_port(&fk_call()->mc, 1));
	assert_int_equal(media_call_port(&fk_call()->mc, 0), 30000);
	assert_int_equal(media_call_port(&fk_call()->mc, 1), 30002);
	fk_dp_answer(MG_MSG_PORT_ALLOC, 0);
	fk_dp_answer(MG_MSG_PORT_ALLOC, 0);
	assert_int_equal(media_call_port(&fk_call()->mc, 0), 30000);
	assert_int_equal(media_call_port(&fk_call()->mc, 1), 30002);
	assert_int_equal(fk_dp_open(MG_MSG_SESSION_ADD), 1);
	assert_int_equal(fk_dp_last(MG_MSG_SESSION_ADD)->body.sess.legs[0].local.port, 30000);
	assert_int_equal(fk_dp_last(MG_MSG_SESSION_ADD)->body.sess.legs[1].local.port, 30002);
	fk_dp_answer(MG_MSG_SESSION_ADD, 0);
	assert_false(media_call_suspended(&fk_call()->mc));
	assert_string_equal(fk.seen, seen);
	assert_int_equal(fk_call()->state, CALL_ACTIVE);

	/* lost again; this time the same dataplane comes back with it all:
	 * its ports are taken (ours), the session exists: kept, no MODIFY */
	fk.dp_up = false;
	calls_dataplane_state(false);
	fk.dp_up = true;
	calls_dataplane_state(true);
	fk_dp_answer(MG_MSG_PORT_ALLOC, -EADDRINUSE);
	fk_dp_answer(MG_MSG_PORT_ALLOC, -EADDRINUSE);
	fk_dp_answer(MG_MSG_SESSION_ADD, -EEXIST);
	assert_int_equal(fk_dp_open(MG_MSG_SESSION_MODIFY), 0);
	assert_false(media_call_suspended(&fk_call()->mc));
	assert_int_equal(fk_call()->state, CALL_ACTIVE);
	assert_int_equal(media_call_port(&fk_call()->mc, 0), 30000);

	fk_event(nua_i_bye, 0, 0, NULL);
	fk_dp_answer(MG_MSG_SESSION_DEL, 0);
	fk_dp_answer(MG_MSG_PORT_FREE, 0);
	fk_dp_answer(MG_MSG_PORT_FREE, 0);
	fk_finish();
	calls_get_counters(&cnt);
	assert_int_equal(cnt.ended, 1);
	assert_int_equal(cnt.failed, 0);
}

/* The dataplane does not come back within restartWait: the calls end as
 * when the wait is 0. */
static void test_dataplane_restart_wait_over(void **state)
{
	(void)state;
	media_dp_set_restart_wait(2);
	fk_invite(caller_sdp);
	fk_dp_answer(MG_MSG_PORT_ALLOC, 0);
	fk_dp_answer(MG_MSG_PORT_ALLOC, 0);
	fk_event(nua_r_invite, 200, 1, callee_sdp);
	fk_dp_answer(MG_MSG_SESSION_ADD, 0);
	fk_event(nua_i_ack, 0, 0, NULL);

	fk.dp_up = false;
	calls_dataplane_state(false);
	calls_dataplane_wait_check(calls_ce.dp_lost_ms + 1000);
	assert_int_equal(fk_call()->state, CALL_ACTIVE);
	calls_dataplane_wait_check(calls_ce.dp_lost_ms + 2000);
	assert_int_equal(fk_call()->state, CALL_ENDING);
	assert_non_null(strstr(fk.seen, "bye 0"));
	fk_finish();
	fk.dp_up = true;
	media_dp_state(true);
	assert_int_equal(fk_dp_open(MG_MSG_SESSION_DEL), 1);
	assert_int_equal(fk_dp_open(MG_MSG_PORT_FREE), 2);
}

/* The caller CANCELs while the callee rings: the callee gets CANCEL. */
static void test_cancel_while_ringing(void **state)
{
	(void)state;
	fk_invite(caller_sdp);
	fk_dp_answer(MG_MSG_PORT_ALLOC, 0);
	fk_dp_answer(MG_MSG_PORT_ALLOC, 0);
	fk_event(nua_r_invite, 180, 1, NULL);
	fk_event(nua_i_cancel, 0, 0, NULL);
	assert_int_equal(fk_call()->state, CALL_ENDING);
	/* No session was installed: the ports go at once. */
	assert_int_equal(fk_dp_open(MG_MSG_SESSION_DEL), 0);
	fk_dp_answer(MG_MSG_PORT_FREE, 0);
	fk_dp_answer(MG_MSG_PORT_FREE, 0);
	/* The callee's 487 to our CANCEL changes nothing more. */
	fk_event(nua_r_invite, 487, 1, NULL);
	fk_finish();
	/* nua answered the CANCEL and the INVITE (487) itself; the caller's
	 * leg gets the BYE the engine always sent there. */
	assert_string_equal(fk.seen, "invite 1 sip:bob@192.0.2.20:5060;transport=udp\n"
				     "respond 0 180\n"
				     "bye 0\n"
				     "cancel 1\n");
	assert_string_equal(fk.states, "leg1 idle>calling\n"
				       "call routing>outgoing\n"
				       "leg1 calling>early\n"
				       "call outgoing>early\n"
				       "leg0 invited>early\n"
				       "leg0 early>refused\n"
				       "call early>ending\n"
				       "leg0 refused>closing\n"
				       "leg1 early>closing\n"
				       "leg0 closing>gone\n"
				       "leg1 closing>gone\n"
				       "call ending>freed\n");
}

/* An answered call, ACKed: the states and requests so far are forgotten. */
static void fk_active_call(void)
{
	fk_invite(caller_sdp);
	fk_dp_answer(MG_MSG_PORT_ALLOC, 0);
	fk_dp_answer(MG_MSG_PORT_ALLOC, 0);
	fk_event(nua_r_invite, 200, 1, callee_sdp);
	fk_dp_answer(MG_MSG_SESSION_ADD, 0);
	fk_event(nua_i_ack, 0, 0, NULL);
	assert_int_equal(fk_call()->state, CALL_ACTIVE);
	fk.seen[0] = fk.states[0] = '\0';
}

/* The caller holds: answered here, the session follows, the callee gets
 * a re-INVITE offering sendonly; its answer goes to the dataplane too. */
static void test_hold_passed_on(void **state)
{
	static const char hold_sdp[] = "v=0\r\no=alice 1 2 IN IP4 192.0.2.10\r\ns=-\r\n"
				       "c=IN IP4 192.0.2.10\r\nt=0 0\r\n"
				       "m=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendonly\r\n";
	static const char held_sdp[] = "v=0\r\no=bob 2 3 IN IP4 192.0.2.20\r\ns=-\r\n"
				       "c=IN IP4 192.0.2.20\r\nt=0 0\r\n"
				       "m=audio 5000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=recvonly\r\n";

	(void)state;
	fk_active_call();
	fk_event(nua_i_invite, 0, 0, hold_sdp);
	assert_non_null(strstr(fk.answer0, "a=recvonly"));
	assert_non_null(strstr(fk.offer, "a=sendonly"));
	assert_non_null(fk_call()->leg[1].reoffer);
	/* Our re-INVITE is out: one of the callee's crossing it gets 491. */
	fk_event(nua_i_invite, 0, 1, held_sdp);
	fk_dp_answer(MG_MSG_SESSION_MODIFY, 0);
	fk_event(nua_r_invite, 200, 1, held_sdp);
	assert_null(fk_call()->leg[1].reoffer);
	fk_dp_answer(MG_MSG_SESSION_MODIFY, 0);
	assert_int_equal(fk_call()->state, CALL_ACTIVE);
	assert_string_equal(fk.seen, "respond 0 200 sdp\n"
				     "invite 1 (re-INVITE)\n"
				     "respond 1 491\n");
	assert_string_equal(fk.states, ""); /* hold is media, not a state */

	fk_event(nua_i_bye, 0, 1, NULL);
	fk_dp_answer(MG_MSG_SESSION_DEL, 0);
	fk_dp_answer(MG_MSG_PORT_FREE, 0);
	fk_dp_answer(MG_MSG_PORT_FREE, 0);
	fk_finish();
	assert_string_equal(fk.seen, "respond 0 200 sdp\n"
				     "invite 1 (re-INVITE)\n"
				     "respond 1 491\n"
				     "bye 0\n");
}

/* Late offer: the callee gets our offer, the caller our offer in the 200
 * and answers in its ACK; only then is the session installed. */
static void test_late_offer(void **state)
{
	static const char ack_sdp[] = "v=0\r\no=alice 1 1 IN IP4 192.0.2.10\r\ns=-\r\n"
				      "c=IN IP4 192.0.2.10\r\nt=0 0\r\n"
				      "m=audio 4002 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

	(void)state;
	fk_invite(NULL);
	fk_dp_answer(MG_MSG_PORT_ALLOC, 0);
	fk_dp_answer(MG_MSG_PORT_ALLOC, 0);
	fk_event(nua_r_invite, 180, 1, NULL);
	fk_event(nua_r_invite, 183, 1, callee_sdp); /* no early media: no second 18x */
	fk_event(nua_r_invite, 200, 1, callee_sdp);
	assert_int_equal(fk_call()->state, CALL_ANSWERED);
	assert_non_null(strstr(fk.answer0, "m=audio 30000 RTP/AVP 0"));
	assert_int_equal(fk_dp_open(MG_MSG_SESSION_ADD), 0);
	fk_event(nua_i_ack, 0, 0, ack_sdp);
	assert_int_equal(fk_call()->state, CALL_ACTIVE);
	fk_dp_answer(MG_MSG_SESSION_ADD, 0);
	fk_event(nua_i_bye, 0, 1, NULL);
	fk_dp_answer(MG_MSG_SESSION_DEL, 0);
	fk_dp_answer(MG_MSG_PORT_FREE, 0);
	fk_dp_answer(MG_MSG_PORT_FREE, 0);
	fk_finish();
	assert_string_equal(fk.seen, "invite 1 sip:bob@192.0.2.20:5060;transport=udp\n"
				     "respond 0 180\n"
				     "respond 0 200 sdp\n"
				     "bye 0\n");
	assert_string_equal(fk.states, "leg1 idle>calling\n"
				       "call routing>outgoing\n"
				       "leg1 calling>early\n"
				       "call outgoing>early\n"
				       "leg0 invited>early\n"
				       "leg1 early>answered\n"
				       "leg0 early>answered\n"
				       "call early>answered\n"
				       "leg0 answered>confirmed\n"
				       "call answered>active\n"
				       "leg1 answered>bye-received\n"
				       "call active>ending\n"
				       "leg0 confirmed>closing\n"
				       "leg0 closing>gone\n"
				       "leg1 bye-received>gone\n"
				       "call ending>freed\n");
}

/* Late offer, and the caller's ACK has no answer: an ACK cannot be
 * refused, so both legs get BYE with a Reason. */
static void test_late_offer_ack_without_answer(void **state)
{
	(void)state;
	fk_invite(NULL);
	fk_dp_answer(MG_MSG_PORT_ALLOC, 0);
	fk_dp_answer(MG_MSG_PORT_ALLOC, 0);
	fk_event(nua_r_invite, 200, 1, callee_sdp);
	fk_event(nua_i_ack, 0, 0, NULL);
	assert_int_equal(fk_call()->state, CALL_ENDING);
	fk_dp_answer(MG_MSG_PORT_FREE, 0);
	fk_dp_answer(MG_MSG_PORT_FREE, 0);
	fk_finish();
	assert_string_equal(fk.seen, "invite 1 sip:bob@192.0.2.20:5060;transport=udp\n"
				     "respond 0 200 sdp\n"
				     "bye 0 reason\n"
				     "bye 1 reason\n");
	assert_string_equal(fk.states, "leg1 idle>calling\n"
				       "call routing>outgoing\n"
				       "leg1 calling>answered\n"
				       "leg0 invited>answered\n"
				       "call outgoing>answered\n"
				       "leg0 answered>confirmed\n"
				       "call answered>ending\n"
				       "leg0 confirmed>closing\n"
				       "leg1 answered>closing\n"
				       "leg0 closing>gone\n"
				       "leg1 closing>gone\n"
				       "call ending>freed\n");
}

/* The callee is busy: the caller gets its 486, nothing goes back. */
static void test_callee_busy(void **state)
{
	struct calls_counters cnt;

	(void)state;
	fk_invite(caller_sdp);
	fk_dp_answer(MG_MSG_PORT_ALLOC, 0);
	fk_dp_answer(MG_MSG_PORT_ALLOC, 0);
	fk_event(nua_r_invite, 486, 1, NULL);
	assert_int_equal(fk_call()->state, CALL_ENDING);
	fk_dp_answer(MG_MSG_PORT_FREE, 0);
	fk_dp_answer(MG_MSG_PORT_FREE, 0);
	fk_finish();
	assert_string_equal(fk.seen, "invite 1 sip:bob@192.0.2.20:5060;transport=udp\n"
				     "respond 0 486 warning\n");
	assert_string_equal(fk.states, "leg1 idle>calling\n"
				       "call routing>outgoing\n"
				       "leg1 calling>refused\n"
				       "call outgoing>ending\n"
				       "leg0 invited>refused\n"
				       "leg0 refused>gone\n"
				       "leg1 refused>gone\n"
				       "call ending>freed\n");
	calls_get_counters(&cnt);
	assert_int_equal(cnt.failed, 1);
	assert_int_equal(cnt.answered, 0);
}

/* The dataplane refuses the session when the callee answers: the caller
 * gets 503, the callee (answered) a BYE, the ports are freed. */
static void test_dataplane_refuses_session(void **state)
{
	(void)state;
	fk_invite(caller_sdp);
	fk_dp_answer(MG_MSG_PORT_ALLOC, 0);
	fk_dp_answer(MG_MSG_PORT_ALLOC, 0);
	fk_event(nua_r_invite, 200, 1, callee_sdp);
	fk_dp_answer(MG_MSG_SESSION_ADD, -ENOSPC);
	assert_int_equal(fk_call()->state, CALL_ENDING);
	/* Refused: there is no session to delete, only the ports. */
	assert_int_equal(fk_dp_open(MG_MSG_SESSION_DEL), 0);
	fk_dp_answer(MG_MSG_PORT_FREE, 0);
	fk_dp_answer(MG_MSG_PORT_FREE, 0);
	fk_finish();
	assert_string_equal(fk.seen, "invite 1 sip:bob@192.0.2.20:5060;transport=udp\n"
				     "respond 0 503 warning\n"
				     "bye 1\n");
	assert_string_equal(fk.states, "leg1 idle>calling\n"
				       "call routing>outgoing\n"
				       "leg1 calling>answered\n"
				       "call outgoing>ending\n"
				       "leg0 invited>refused\n"
				       "leg1 answered>closing\n"
				       "leg0 refused>gone\n"
				       "leg1 closing>gone\n"
				       "call ending>freed\n");
}

/* No media port: the caller gets 503 before any INVITE goes out. */
static void test_dataplane_no_port(void **state)
{
	(void)state;
	fk_invite(caller_sdp);
	fk_dp_answer(MG_MSG_PORT_ALLOC, -ENOSPC);
	assert_int_equal(fk_call()->state, CALL_ENDING);
	fk_dp_answer(MG_MSG_PORT_ALLOC, 0);
	fk_dp_answer(MG_MSG_PORT_FREE, 0);
	fk_event(nua_i_terminated, 503, 0, NULL);
	assert_int_equal(calls_active(), 0);
	assert_string_equal(fk.seen, "respond 0 503 warning\n");
	assert_string_equal(fk.states, "call routing>ending\n"
				       "leg0 invited>refused\n"
				       "leg0 refused>gone\n"
				       "call ending>freed\n");
}

/* No rule: 404, no dataplane request. */
static void test_no_route(void **state)
{
	(void)state;
	fk.no_route = true;
	fk_invite(caller_sdp);
	assert_int_equal(fk.n_dp, 0);
	fk_event(nua_i_terminated, 404, 0, NULL);
	assert_int_equal(calls_active(), 0);
	assert_string_equal(fk.seen, "respond 0 404 warning\n");
}

/* @n characters of @c then @tail, in the test's home. */
static char *fk_rep(char c, size_t n, const char *tail)
{
	char *s = su_alloc(home, n + strlen(tail) + 1);

	assert_non_null(s);
	memset(s, c, n);
	strcpy(s + n, tail);
	return s;
}

/*
 * A Request-URI user, From user and display name of 300+ characters reach
 * the routing rules whole, and the out leg's Request-URI and From carry them
 * whole (the engine cut them at 127 and 511 bytes before); mgctl's view
 * (calls_info) shows the whole From user and the INVITE's target.
 */
static void test_long_values_routed_whole(void **state)
{
	char *ruser = fk_rep('1', 400, ""), *fuser = fk_rep('a', 300, ""), *fname = fk_rep('N', 300, "");
	char *want_target = su_sprintf(home, "sip:%s@192.0.2.20:5060;transport=udp", ruser);
	char *want_from = su_sprintf(home, "\"%s\" <sip:%s@192.0.2.1>", fname, fuser);
	struct calls_info ci;

	(void)state;
	fk.route_user = true;
	fk.ruri = su_sprintf(home, "INVITE sip:%s@192.0.2.1 SIP/2.0", ruser);
	fk.from = su_sprintf(home, "\"%s\" <sip:%s@192.0.2.10>;tag=a1", fname, fuser);
	fk_invite(caller_sdp);
	assert_string_equal(fk.kv_ruser, ruser);
	assert_string_equal(fk.kv_ruri, su_sprintf(home, "sip:%s@192.0.2.1", ruser));
	assert_string_equal(fk.kv_fuser, fuser);
	assert_string_equal(fk.kv_fname, fname);
	fk_dp_answer(MG_MSG_PORT_ALLOC, 0);
	fk_dp_answer(MG_MSG_PORT_ALLOC, 0);
	assert_string_equal(fk.seen, "invite 1 (long)\n");
	assert_string_equal(fk.out_target, want_target);
	assert_string_equal(fk.out_from, want_from);
	assert_string_equal(fk.out_to, su_sprintf(home, "<sip:%s@192.0.2.20:5060>", ruser));
	assert_int_equal(calls_info_get(fk_call()->id, &ci), 0);
	assert_string_equal(ci.from, fuser);
	assert_string_equal(ci.rule, "to-bob");
	assert_string_equal(ci.target, want_target);
	fk_event(nua_r_invite, 486, 1, NULL);
	fk_dp_answer(MG_MSG_PORT_FREE, 0);
	fk_dp_answer(MG_MSG_PORT_FREE, 0);
	fk_finish();
}

/* The longest values the engine takes are routed whole; one byte more is
 * answered 414 (Request-URI) or 400 with a phrase naming the header (From,
 * To), and nothing is routed or sent on. */
static void test_too_long_refused(void **state)
{
	/* "sip:" + user + "@192.0.2.1" */
	size_t fit = CALLS_SIP_VALUE_MAX - strlen("sip:@192.0.2.1");
	static const struct {
		const char *what;
		int status;
		const char *phrase;
	} cases[] = {
		{ "ruri", 414, "Request-URI Too Long" },
		{ "from", 400, "From Header Too Long" },
		{ "fname", 400, "From Header Too Long" },
		{ "to", 400, "To Header Too Long" },
	};

	(void)state;
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		for (size_t extra = 0; extra < 2; extra++) {
			char *user = fk_rep('7', fit + extra, "");
			char *name = fk_rep('N', CALLS_SIP_VALUE_MAX + extra, "");
			const char *w = cases[k].what;

			memset(fk.seen, 0, sizeof(fk.seen));
			memset(fk.nh, 0, sizeof(fk.nh));
			fk.n_nh = fk.n_dp = 0;
			fk.no_route = true; /* routed or not: 404 or the refusal */
			fk.ruri = strcmp(w, "ruri") ? NULL : su_sprintf(home, "INVITE sip:%s@192.0.2.1 SIP/2.0", user);
			fk.from = strcmp(w, "from") ? strcmp(w, "fname") ? NULL :
						      su_sprintf(home, "%s <sip:a@192.0.2.10>;tag=a1", name) :
						      su_sprintf(home, "<sip:%s@192.0.2.1>;tag=a1", user);
			fk.to = strcmp(w, "to") ? NULL : su_sprintf(home, "<sip:%s@192.0.2.1>", user);
			free(fk.kv_ruser);
			fk.kv_ruser = NULL;
			fk_invite(caller_sdp);
			fk_event(nua_i_terminated, 400, 0, NULL);
			assert_int_equal(calls_active(), 0);
			if (extra == 0) {
				assert_string_equal(fk.seen, "respond 0 404 warning\n");
				assert_non_null(fk.kv_ruser);
				if (strcmp(w, "ruri") == 0)
					assert_string_equal(fk.kv_ruser, user);
			} else {
				char want[64];

				snprintf(want, sizeof(want), "respond 0 %d warning\n", cases[k].status);
				assert_string_equal(fk.seen, want);
				assert_string_equal(fk.phrase0, cases[k].phrase);
				assert_null(fk.kv_ruser); /* never routed */
			}
			assert_int_equal(fk.n_dp, 0);
		}
	}
}

/* The tables refuse what the machine does not do, and say so. */
static void test_tables(void **state)
{
	struct call c;

	(void)state;
	memset(&c, 0, sizeof(c));
	c.state = CALL_ACTIVE;
	assert_int_equal(call_set_state(&c, CALL_ROUTING), -EINVAL);
	assert_int_equal(c.state, CALL_ACTIVE);
	assert_int_equal(call_set_state(&c, CALL_ACTIVE), 0);
	assert_int_equal(call_set_state(&c, CALL_ENDING), 0);
	assert_int_equal(call_set_state(&c, CALL_ACTIVE), -EINVAL);
	c.leg[1].state = LEG_GONE;
	assert_int_equal(leg_set_state(&c, 1, LEG_CALLING), -EINVAL);
	c.leg[0].state = LEG_INVITED;
	assert_int_equal(leg_set_state(&c, 0, LEG_CONFIRMED), -EINVAL);
	assert_int_equal(leg_set_state(&c, 0, LEG_ANSWERED), 0);
	assert_int_equal(leg_set_state(&c, 0, LEG_CONFIRMED), 0);
	for (int s = 0; s < CALL_STATE_COUNT; s++)
		assert_non_null(call_state_name((enum call_state)s));
	for (int s = 0; s < LEG_STATE_COUNT; s++)
		assert_non_null(leg_state_name((enum leg_state)s));
}

/* A dead gateway's call (mgctl ha adopt): a BYE in each leg's recorded
 * dialog (leg 1's route set reversed, CSeq above the last, to the party's
 * Contact), nothing else; the answers are counted and the handles go. */
static void test_peer_call_ended(void **state)
{
	struct calls_adopt a;
	struct calls_peer_counters pc;
	char txt[2][6][64];
	char route[2][32] = { "<sip:p1;lr>,<sip:p2;lr>", "<sip:p3;lr>,<sip:p4;lr>" };

	(void)state;
	memset(&a, 0, sizeof(a));
	a.sess_id = 7;
	for (unsigned li = 0; li < 2; li++) {
		struct calls_adopt_leg *l = &a.leg[li];

		snprintf(l->call_id = txt[li][0], 64, "cid%u", li);
		snprintf(l->local_tag = txt[li][1], 64, "us%u", li);
		snprintf(l->remote_tag = txt[li][2], 64, "them%u", li);
		snprintf(l->local_uri = txt[li][3], 64, "sip:gw%u@192.0.2.41", li);
		snprintf(l->remote_uri = txt[li][4], 64, "sip:party%u@192.0.2.9", li);
		snprintf(l->remote_target = txt[li][5], 64, "sip:party%u@192.0.2.9:5070", li);
		l->route = route[li];
		l->local_cseq = 100 + li;
	}
	assert_int_equal(calls_end_peer(&a, -1), 0);
	assert_string_equal(fk.seen,
			    "dialog 0 cid0 from <sip:gw0@192.0.2.41>;tag=us0 to <sip:party0@192.0.2.9>;tag=them0 "
			    "route <sip:p1;lr>,<sip:p2;lr>\n"
			    "bye 0 sip:party0@192.0.2.9:5070 cseq 101\n"
			    "dialog 0 cid1 from <sip:gw1@192.0.2.41>;tag=us1 to <sip:party1@192.0.2.9>;tag=them1 "
			    "route <sip:p4;lr>,<sip:p3;lr>\n"
			    "bye 1 sip:party1@192.0.2.9:5070 cseq 102\n");
	assert_int_equal(calls_active(), 0);
	calls_peer_counters(&pc);
	assert_int_equal(pc.calls, 1);
	assert_int_equal(pc.byes_sent, 2);
	assert_int_equal(pc.pending, 2);
	fk_event(nua_r_method, 100, 0, NULL); /* provisional: still waiting */
	fk_event(nua_r_method, 200, 0, NULL);
	fk_event(nua_r_method, 481, 1, NULL);
	calls_peer_counters(&pc);
	assert_int_equal(pc.byes_ok, 1);
	assert_int_equal(pc.byes_failed, 1);
	assert_int_equal(pc.pending, 0);
	assert_true(fk.nh[0].destroyed && fk.nh[1].destroyed);
	/* a leg without its dialog: nothing sent */
	a.leg[1].remote_target[0] = '\0';
	assert_int_equal(calls_end_peer(&a, -1), -EINVAL);
	calls_peer_counters(&pc);
	assert_int_equal(pc.byes_sent, 2);
}

/* Issue 11: From/To of any length up to CALLS_SIP_VALUE_MAX and a route
 * set of long entries are published whole, and a dialog handle made from
 * what was published (a dead gateway's call ended by its peer; a call
 * read back at start goes the same way) carries them whole: a value cut
 * would make the peer answer 481. */
static void test_long_dialog_published_whole(void **state)
{
	char *user = malloc(1501), *from = malloc(1600), *to = malloc(1600), *rr = malloc(4000);
	char *want = malloc(8000), *want_rev = malloc(4000), e[3][1300];
	struct calls_peer_counters pc;

	(void)state;
	assert_non_null(user && from && to && rr && want && want_rev);
	memset(user, 'u', 1500);
	user[1500] = '\0';
	snprintf(from, 1600, "Alice <sip:%s@192.0.2.10>;tag=a1", user);
	snprintf(to, 1600, "<sip:%s@192.0.2.1>;tag=b1", user);
	for (int i = 0; i < 3; i++) {
		memset(e[i], 'p', sizeof(e[i]));
		snprintf(e[i], sizeof(e[i]), "sip:proxy%d.", i);
		e[i][strlen(e[i])] = 'p';
		snprintf(e[i] + 1200, sizeof(e[i]) - 1200, ".example;lr");
	}
	snprintf(rr, 4000, "<%s>,<%s>,<%s>", e[0], e[1], e[2]);
	snprintf(want_rev, 4000, "<%s>,<%s>,<%s>", e[2], e[1], e[0]);
	fk.from = from;
	fk.to = to;
	fk.rr = rr;
	fk.contact = "<sip:party@192.0.2.10:5070>";
	calls_set_observer(fk_observer);

	fk_invite(caller_sdp);
	fk_dp_answer(MG_MSG_PORT_ALLOC, 0);
	fk_dp_answer(MG_MSG_PORT_ALLOC, 0);
	fk_event(nua_r_invite, 200, 1, callee_sdp);
	fk_dp_answer(MG_MSG_SESSION_ADD, 0);
	fk_event(nua_i_ack, 0, 0, NULL);
	assert_int_equal(fk_call()->state, CALL_ACTIVE);
	assert_true(fk.n_pub > 0);

	/* published whole: leg 0 received the INVITE (From is the peer),
	 * leg 1 got the 200 (To is the peer); each kept the Record-Route */
	snprintf(want, 8000, "sip:%s@192.0.2.10", user);
	assert_string_equal(fk.pub.leg[0].remote_uri, want);
	assert_string_equal(fk.pub.leg[1].local_uri, want);
	snprintf(want, 8000, "sip:%s@192.0.2.1", user);
	assert_string_equal(fk.pub.leg[0].local_uri, want);
	assert_string_equal(fk.pub.leg[1].remote_uri, want);
	assert_string_equal(fk.pub.leg[0].route, rr);
	assert_string_equal(fk.pub.leg[1].route, rr);
	assert_string_equal(fk.pub.leg[0].remote_target, "sip:party@192.0.2.10:5070");

	/* ended by a peer from what was published: the handles get it whole */
	assert_int_equal(calls_end_peer(&fk.pub, -1), 0);
	calls_peer_counters(&pc);
	assert_int_equal(pc.pending, 2);
	assert_int_equal(fk.n_nh, 4); /* the call's two, the BYEs' two */
	/* leg 0: we answered its INVITE (UAS: the route set as received) */
	assert_string_equal(fk.dlg[2][0], "cid-fk@192.0.2.10");
	snprintf(want, 8000, "<sip:%s@192.0.2.1>;tag=b1", user);
	assert_string_equal(fk.dlg[2][1], want);
	snprintf(want, 8000, "<sip:%s@192.0.2.10>;tag=a1", user);
	assert_string_equal(fk.dlg[2][2], want);
	assert_string_equal(fk.dlg[2][3], rr);
	/* leg 1: we sent it (UAC: reversed) */
	assert_string_equal(fk.dlg[3][0], "cid-fk@192.0.2.10");
	snprintf(want, 8000, "<sip:%s@192.0.2.10>;tag=a1", user);
	assert_string_equal(fk.dlg[3][1], want);
	snprintf(want, 8000, "<sip:%s@192.0.2.1>;tag=b1", user);
	assert_string_equal(fk.dlg[3][2], want);
	assert_string_equal(fk.dlg[3][3], want_rev);
	free(user);
	free(from);
	free(to);
	free(rr);
	free(want);
	free(want_rev);
}

/* A standby node (docs/standby.md, "B2BUA calls"): a call's record is taken
 * in as a call whose session is installed blocked and whose dialogs get
 * handles but no request; an index refresh changes nothing in the
 * dataplane, a changed record modifies the blocked session in place; the
 * promote unblocks it and only then sends the re-INVITE on both legs; a BYE
 * then ends both legs as for any call. */
static void test_standby_call(void **state)
{
	struct calls_standby_counters sc;
	const struct fake_dp_req *r;
	unsigned n;

	(void)state;
	calls_set_observer(fk_observer);
	fk.contact = "<sip:party@192.0.2.10:5070>";
	fk_invite(caller_sdp);
	fk_dp_answer(MG_MSG_PORT_ALLOC, 0);
	fk_dp_answer(MG_MSG_PORT_ALLOC, 0);
	fk_event(nua_r_invite, 200, 1, callee_sdp);
	fk_dp_answer(MG_MSG_SESSION_ADD, 0);
	fk_event(nua_i_ack, 0, 0, NULL);
	assert_int_equal(fk_call()->state, CALL_ACTIVE);
	assert_non_null(fk.pub.leg[0].neg);
	assert_non_null(fk.pub.leg[1].neg);
	fk.pub.sess_id = fk_call()->sess_id + 1000; /* another node's session */
	calls_set_observer(NULL);                   /* a standby publishes nothing */
	fk_event(nua_i_bye, 0, 0, NULL);
	assert_int_equal(fk_dp_open(MG_MSG_SESSION_DEL), 1);
	fk_dp_answer(MG_MSG_SESSION_DEL, 0);
	fk_dp_answer(MG_MSG_PORT_FREE, 0);
	fk_dp_answer(MG_MSG_PORT_FREE, 0);
	fk_finish();
	fk.seen[0] = '\0';

	/* pre-installed: ports by number, session blocked, no SIP request */
	assert_int_equal(calls_standby_put(&fk.pub, 1), 0);
	assert_int_equal(calls_active(), 1);
	assert_int_equal(fk_dp_open(MG_MSG_PORT_ALLOC), 2);
	fk_dp_answer(MG_MSG_PORT_ALLOC, 0);
	fk_dp_answer(MG_MSG_PORT_ALLOC, 0);
	assert_int_equal(fk_dp_open(MG_MSG_SESSION_ADD), 1);
	r = fk_dp_last(MG_MSG_SESSION_ADD);
	assert_int_equal(r->body.sess.id, fk.pub.sess_id);
	assert_true(r->body.sess.legs[0].flags & MG_LEG_F_BLOCK);
	assert_true(r->body.sess.legs[1].flags & MG_LEG_F_BLOCK);
	fk_dp_answer(MG_MSG_SESSION_ADD, 0);
	assert_null(strstr(fk.seen, "reinvite"));
	assert_true(fk_call()->standby);
	calls_standby_counters(&sc);
	assert_int_equal(sc.held, 1);
	assert_int_equal(sc.installed, 1);

	/* the same record (its indexes aside): nothing sent */
	n = fk.n_dp;
	assert_int_equal(calls_standby_put(&fk.pub, 1), 0);
	assert_int_equal(fk.n_dp, n);
	/* changed (a re-INVITE on the active node): modified in place, blocked */
	fk.pub.leg[0].local_cseq += 1;
	assert_int_equal(calls_standby_put(&fk.pub, 2), 0);
	assert_int_equal(calls_active(), 1);
	assert_int_equal(fk_dp_open(MG_MSG_SESSION_MODIFY), 1);
	r = fk_dp_last(MG_MSG_SESSION_MODIFY);
	assert_true(r->body.sess.legs[0].flags & MG_LEG_F_BLOCK);
	assert_true(r->body.sess.legs[1].flags & MG_LEG_F_BLOCK);
	fk_dp_answer(MG_MSG_SESSION_MODIFY, 0);
	assert_null(strstr(fk.seen, "reinvite"));
	calls_standby_counters(&sc);
	assert_int_equal(sc.updated, 1);
	assert_int_equal(sc.replaced, 1);

	/* promoted: unblocked first, the re-INVITEs once the dataplane said so
	 * (on handles made then: 2 and 3, the first free) */
	assert_int_equal(calls_promote(), 1);
	assert_false(fk_call()->standby);
	assert_int_equal(fk_dp_open(MG_MSG_SESSION_MODIFY), 1);
	r = fk_dp_last(MG_MSG_SESSION_MODIFY);
	assert_false(r->body.sess.legs[0].flags & MG_LEG_F_BLOCK);
	assert_false(r->body.sess.legs[1].flags & MG_LEG_F_BLOCK);
	assert_null(strstr(fk.seen, "reinvite"));
	fk_dp_answer(MG_MSG_SESSION_MODIFY, 0);
	assert_non_null(strstr(fk.seen, "reinvite 2 sip:party@192.0.2.10:5070 cseq"));
	assert_non_null(strstr(fk.seen, "reinvite 3 sip:party@192.0.2.10:5070 cseq"));
	calls_standby_counters(&sc);
	assert_int_equal(sc.held, 0);
	assert_int_equal(sc.promoted, 1);
	assert_int_equal(calls_standby_drop(fk.pub.sess_id), -ENOENT); /* not a standby's now */

	/* taken over: the re-INVITEs answered, the caller's BYE ends both legs */
	fk_event(nua_r_invite, 200, 2, caller_sdp);
	fk_event(nua_r_invite, 200, 3, callee_sdp);
	fk_event(nua_i_bye, 0, 2, NULL);
	assert_int_equal(fk_call()->state, CALL_ENDING);
	assert_non_null(strstr(fk.seen, "bye 3"));
	/* (the fake peers' answers are not the recorded SDP: a MODIFY went first) */
	fk_dp_answer(MG_MSG_SESSION_MODIFY, 0);
	assert_int_equal(fk_dp_open(MG_MSG_SESSION_DEL), 1);
	fk_dp_answer(MG_MSG_SESSION_DEL, 0);
	fk_dp_answer(MG_MSG_PORT_FREE, 0);
	fk_dp_answer(MG_MSG_PORT_FREE, 0);
	fk_event(nua_i_terminated, 200, 2, NULL);
	fk_event(nua_i_terminated, 200, 3, NULL);
	assert_int_equal(calls_active(), 0);
}

/*
 * A call read back at a restart (calls_adopt()) ends while a leg's
 * take-over re-INVITE is unanswered: the party that hung up while the
 * control plane was away answers its re-INVITE 481 (the dialog ended), the
 * other leg's re-INVITE is still out. That leg's BYE waits for the answer
 * (nua would CANCEL the INVITE instead, and a 200 crossing it left the
 * party never told), then goes.
 */
static void test_adopted_bye_after_reinvite_answer(void **state)
{
	(void)state;
	calls_set_observer(fk_observer);
	fk.contact = "<sip:party@192.0.2.10:5070>";
	fk_invite(caller_sdp);
	fk_dp_answer(MG_MSG_PORT_ALLOC, 0);
	fk_dp_answer(MG_MSG_PORT_ALLOC, 0);
	fk_event(nua_r_invite, 200, 1, callee_sdp);
	fk_dp_answer(MG_MSG_SESSION_ADD, 0);
	fk_event(nua_i_ack, 0, 0, NULL);
	assert_int_equal(fk_call()->state, CALL_ACTIVE);
	fk.pub.sess_id = fk_call()->sess_id + 1000; /* the record of a previous run */
	calls_set_observer(NULL);
	fk_event(nua_i_bye, 0, 0, NULL);
	fk_dp_answer(MG_MSG_SESSION_DEL, 0);
	fk_dp_answer(MG_MSG_PORT_FREE, 0);
	fk_dp_answer(MG_MSG_PORT_FREE, 0);
	fk_finish();
	fk.seen[0] = '\0';

	/* read back, the dataplane holds it: the re-INVITEs on handles 2 and 3 */
	assert_int_equal(calls_adopt(&fk.pub), 0);
	/* the dataplane kept the ports and the session (as after a control
	 * restart): EADDRINUSE, EEXIST */
	fk_dp_answer(MG_MSG_PORT_ALLOC, -EADDRINUSE);
	fk_dp_answer(MG_MSG_PORT_ALLOC, -EADDRINUSE);
	fk_dp_answer(MG_MSG_SESSION_ADD, -EEXIST);
	if (fk_dp_open(MG_MSG_SESSION_MODIFY) > 0)
		fk_dp_answer(MG_MSG_SESSION_MODIFY, 0);
	assert_non_null(strstr(fk.seen, "reinvite 2 "));
	assert_non_null(strstr(fk.seen, "reinvite 3 "));
	/* the caller had hung up: 481, its handle terminated: the call ends */
	fk_event(nua_r_invite, 481, 2, NULL);
	fk_event(nua_i_terminated, 481, 2, NULL);
	assert_int_equal(fk_call()->state, CALL_ENDING);
	assert_null(strstr(fk.seen, "bye 3"));
	assert_null(strstr(fk.seen, "cancel 3"));
	/* the callee's 200 to its re-INVITE: now the BYE */
	fk_event(nua_r_invite, 200, 3, callee_sdp);
	assert_non_null(strstr(fk.seen, "bye 3"));
	fk_dp_answer(MG_MSG_SESSION_DEL, 0);
	fk_dp_answer(MG_MSG_PORT_FREE, 0);
	fk_dp_answer(MG_MSG_PORT_FREE, 0);
	fk_event(nua_i_terminated, 200, 3, NULL);
	assert_int_equal(calls_active(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_call_answered_and_hung_up, setup, teardown),
		cmocka_unit_test_setup_teardown(test_adopted_bye_after_reinvite_answer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel_while_ringing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_callee_busy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hold_passed_on, setup, teardown),
		cmocka_unit_test_setup_teardown(test_late_offer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_late_offer_ack_without_answer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dataplane_refuses_session, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dataplane_no_port, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dataplane_lost, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dataplane_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dataplane_restart_wait_over, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_route, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_values_routed_whole, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_long_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tables, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peer_call_ended, setup, teardown),
		/* after it: the peer counters are the process's */
		cmocka_unit_test_setup_teardown(test_long_dialog_published_whole, setup, teardown),
		cmocka_unit_test_setup_teardown(test_standby_call, setup, teardown),
	};
	int rc;

	mg_log_init("calls_test", MG_LOG_WARN, false);
	su_init();
	root = su_root_create(NULL);
	if (root == NULL)
		return 1;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	su_root_destroy(root);
	su_deinit();
	return rc;
}
