/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The call as it is published (calls.h, struct calls_state; docs/ha-state.md):
 * the SIP dialogs' identifiers kept from the messages of each leg, and the
 * record handed to the observer when the call changes. Beside the core: it
 * reads struct call and the state names, and calls nothing else.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sofia-sip/sip_header.h>

#include "calls_internal.h"

static calls_observer_f observer;
static struct {
	uint64_t unpublished;
} calls_state_cnt;

uint64_t calls_unpublished(void)
{
	return calls_state_cnt.unpublished;
}

void calls_set_observer(calls_observer_f fn)
{
	observer = fn;
}

void call_dialog_free(struct call_dialog *d)
{
	if (d == NULL)
		return;
	free(d->call_id);
	free(d->local_tag);
	free(d->remote_tag);
	free(d->local_uri);
	free(d->remote_uri);
	free(d->remote_target);
	free(d->route);
	free(d);
}

int call_dialog_set(char **field, const char *v)
{
	char *n = strdup(v != NULL ? v : "");

	if (n == NULL)
		return -ENOMEM;
	free(*field);
	*field = n;
	return 0;
}

/* A URL as text, whole (heap; NULL: out of memory). url_e() answers the
 * length it needs as snprintf() does. */
static char *url_text(const url_t *u)
{
	char probe[1];
	issize_t n = url_e(probe, (isize_t)sizeof(probe), u);
	char *s;

	if (n < 0 || (s = malloc((size_t)n + 1)) == NULL)
		return NULL;
	url_e(s, (isize_t)n + 1, u);
	s[n] = '\0';
	return s;
}

static void dialog_url(struct call_dialog *d, char **field, const url_t *u)
{
	char *s = url_text(u);

	if (s == NULL) {
		d->incomplete = true;
		return;
	}
	free(*field);
	*field = s;
}

static void dialog_str(struct call_dialog *d, char **field, const char *v)
{
	if (call_dialog_set(field, v) < 0)
		d->incomplete = true;
}

/* The Record-Route entries as "<url>,<url>", whole (heap; NULL: out of memory). */
static char *route_text(const sip_record_route_t *rr)
{
	size_t len = 1, n = 0;
	char *out;

	for (const sip_record_route_t *r = rr; r != NULL; r = r->r_next) {
		char probe[1];
		issize_t l = url_e(probe, (isize_t)sizeof(probe), r->r_url);

		if (l < 0)
			return NULL;
		len += (size_t)l + 3;
	}
	if ((out = malloc(len)) == NULL)
		return NULL;
	out[0] = '\0';
	for (const sip_record_route_t *r = rr; r != NULL; r = r->r_next) {
		if (n > 0)
			out[n++] = ',';
		out[n++] = '<';
		n += (size_t)url_e(out + n, (isize_t)(len - n), r->r_url);
		out[n++] = '>';
		out[n] = '\0';
	}
	return out;
}

void call_dialog_take(struct call *c, unsigned li, const sip_t *sip, bool request)
{
	struct call_leg *g = &c->leg[li];
	struct call_dialog *d = g->dlg;
	const sip_addr_t *local, *remote;

	if (sip == NULL || sip->sip_call_id == NULL)
		return;
	if (d == NULL && (d = g->dlg = calloc(1, sizeof(*d))) == NULL)
		return;
	dialog_str(d, &d->call_id, sip->sip_call_id->i_id);
	/* a request we receive comes From the peer; our request's answer is
	 * To it */
	local = request ? sip->sip_to : sip->sip_from;
	remote = request ? sip->sip_from : sip->sip_to;
	if (remote != NULL && remote->a_tag != NULL)
		dialog_str(d, &d->remote_tag, remote->a_tag);
	if (local != NULL && local->a_tag != NULL)
		dialog_str(d, &d->local_tag, local->a_tag);
	if (d->remote_uri == NULL && remote != NULL)
		dialog_url(d, &d->remote_uri, remote->a_url);
	if (d->local_uri == NULL && local != NULL)
		dialog_url(d, &d->local_uri, local->a_url);
	if (sip->sip_contact != NULL)
		dialog_url(d, &d->remote_target, sip->sip_contact->m_url);
	if (request && sip->sip_cseq != NULL && sip->sip_cseq->cs_seq > d->remote_cseq)
		d->remote_cseq = sip->sip_cseq->cs_seq;
	if (!request && sip->sip_cseq != NULL && sip->sip_cseq->cs_seq > d->local_cseq)
		d->local_cseq = sip->sip_cseq->cs_seq;
	/* the route set: Record-Route as received (UAS order; a UAC reverses
	 * it when it sends, docs/ha-state.md), whole */
	if (sip->sip_record_route != NULL && (request ? sip->sip_request &&
					      sip->sip_request->rq_method == sip_method_invite :
					      sip->sip_status && sip->sip_status->st_status < 300)) {
		char *rt = route_text(sip->sip_record_route);

		if (rt == NULL) {
			d->incomplete = true;
		} else {
			free(d->route);
			d->route = rt;
		}
	}
}

/* A dialog's value as published: "" before it was seen. */
static const char *dv(const char *v)
{
	return v != NULL ? v : "";
}

static void leg_state_fill(const struct call *c, unsigned li, struct calls_state_leg *o)
{
	const struct call_leg *g = &c->leg[li];
	const struct call_dialog *d = g->dlg;
	const struct sdp_result *r = g->neg;

	o->state = leg_state_name(g->state);
	o->sip = !g->pstn;
	o->ua = g->ua;
	o->channo = g->channo;
	o->call_id = dv(d ? d->call_id : NULL);
	o->local_tag = dv(d ? d->local_tag : NULL);
	o->remote_tag = dv(d ? d->remote_tag : NULL);
	o->local_uri = dv(d ? d->local_uri : NULL);
	o->remote_uri = dv(d ? d->remote_uri : NULL);
	o->remote_target = dv(d ? d->remote_target : NULL);
	o->route = dv(d ? d->route : NULL);
	o->remote_cseq = d ? d->remote_cseq : 0;
	o->local_cseq = d ? d->local_cseq : 0;
	o->neg = r;
	if (d != NULL && o->local_tag[0] == '\0' && g->nh != NULL && calls_io->local_tag != NULL) {
		const char *t = calls_io->local_tag(g->nh);

		if (t != NULL)
			o->local_tag = t;
	}
	o->port = c->mc.leg[li].port;
	o->port_ok = c->mc.leg[li].port_ok;
	if (r != NULL && r->status == 0) {
		if (r->remote_addr[0] != '\0') {
			char a[80];

			snprintf(a, sizeof(a), "%s%s%s:%u", r->remote_family == AF_INET6 ? "[" : "",
				 r->remote_addr, r->remote_family == AF_INET6 ? "]" : "",
				 (unsigned)r->remote_rtp_port);
			(void)mg_proto_addr_parse(a, &o->remote);
		}
		if (r->srtp) {
			o->srtp = true;
			o->suite = mg_srtp_suite_by_id(r->suite);
			o->crypto_tag = r->crypto_tag;
			memcpy(o->rx_key.key, r->rx.keys[0].key, sizeof(o->rx_key.key));
			memcpy(o->rx_key.salt, r->rx.keys[0].salt, sizeof(o->rx_key.salt));
			o->rx_key.lifetime = r->rx.keys[0].lifetime;
			o->tx_key = r->local_key;
			if (o->suite == NULL)
				o->srtp = false;
		}
	}
}

void call_publish(struct call *c)
{
	struct calls_state st;

	/* a call being set up cannot be taken over (its INVITE transactions
	 * die with the process): published once active */
	if (observer == NULL || c->state != CALL_ACTIVE)
		return;
	/* a dialog value that could not be kept: not published rather than
	 * published wrong (a peer would answer its BYE 481) */
	for (unsigned li = 0; li < 2; li++)
		if (c->leg[li].dlg != NULL && c->leg[li].dlg->incomplete) {
			if (!c->unpublished) {
				c->unpublished = true;
				calls_state_cnt.unpublished++;
			}
			return;
		}
	memset(&st, 0, sizeof(st));
	st.id = c->id;
	st.state = call_state_name(c->state);
	st.started = c->started;
	st.sess_id = c->mc.sess.id;
	st.sess_on = c->mc.sess.on;
	memcpy(st.ix, c->mc.ix, sizeof(st.ix));
	leg_state_fill(c, 0, &st.leg[0]);
	leg_state_fill(c, 1, &st.leg[1]);
	observer(&st, false);
	explicit_bzero(&st, sizeof(st));
}

void call_unpublish(struct call *c)
{
	struct calls_state st;

	if (observer == NULL)
		return;
	memset(&st, 0, sizeof(st));
	st.id = c->id;
	st.sess_id = c->mc.sess.id;
	observer(&st, true);
}

void calls_publish_all(void)
{
	for (struct call *c = calls_ce.calls; c != NULL; c = c->next)
		call_publish(c);
}
