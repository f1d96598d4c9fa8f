/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The call as it is published (calls.h, struct calls_state; docs/ha-state.md):
 * the SIP dialogs' identifiers kept from the messages of each leg, and the
 * record handed to the observer when the call changes. Beside the core: it
 * reads struct call and the state names, and calls nothing else.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sofia-sip/sip_header.h>

#include "calls_internal.h"

static calls_observer_f observer;

void calls_set_observer(calls_observer_f fn)
{
	observer = fn;
}

static void addr_text(const sip_addr_t *a, char *buf, size_t len)
{
	if (a == NULL)
		return;
	url_e(buf, (isize_t)len, a->a_url);
	buf[len - 1] = '\0';
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
	snprintf(d->call_id, sizeof(d->call_id), "%s", sip->sip_call_id->i_id);
	/* a request we receive comes From the peer; our request's answer is
	 * To it */
	local = request ? sip->sip_to : sip->sip_from;
	remote = request ? sip->sip_from : sip->sip_to;
	if (remote != NULL && remote->a_tag != NULL)
		snprintf(d->remote_tag, sizeof(d->remote_tag), "%s", remote->a_tag);
	if (local != NULL && local->a_tag != NULL)
		snprintf(d->local_tag, sizeof(d->local_tag), "%s", local->a_tag);
	if (d->remote_uri[0] == '\0')
		addr_text(remote, d->remote_uri, sizeof(d->remote_uri));
	if (d->local_uri[0] == '\0')
		addr_text(local, d->local_uri, sizeof(d->local_uri));
	if (sip->sip_contact != NULL) {
		url_e(d->remote_target, (isize_t)sizeof(d->remote_target), sip->sip_contact->m_url);
		d->remote_target[sizeof(d->remote_target) - 1] = '\0';
	}
	if (request && sip->sip_cseq != NULL && sip->sip_cseq->cs_seq > d->remote_cseq)
		d->remote_cseq = sip->sip_cseq->cs_seq;
	if (!request && sip->sip_cseq != NULL && sip->sip_cseq->cs_seq > d->local_cseq)
		d->local_cseq = sip->sip_cseq->cs_seq;
	/* the route set: Record-Route as received (UAS order; a UAC reverses
	 * it when it sends, docs/ha-state.md) */
	if (sip->sip_record_route != NULL && (request ? sip->sip_request &&
					      sip->sip_request->rq_method == sip_method_invite :
					      sip->sip_status && sip->sip_status->st_status < 300)) {
		size_t n = 0;

		d->route[0] = '\0';
		for (const sip_record_route_t *r = sip->sip_record_route; r != NULL; r = r->r_next) {
			char one[256];

			url_e(one, (isize_t)sizeof(one), r->r_url);
			one[sizeof(one) - 1] = '\0';
			n += (size_t)snprintf(d->route + n, n < sizeof(d->route) ? sizeof(d->route) - n : 0,
					      "%s<%s>", n ? "," : "", one);
			if (n >= sizeof(d->route)) {
				d->route[0] = '\0'; /* not kept rather than cut */
				break;
			}
		}
	}
}

static void leg_state_fill(const struct call *c, unsigned li, struct calls_state_leg *o)
{
	const struct call_leg *g = &c->leg[li];
	const struct call_dialog *d = g->dlg;
	const struct sdp_result *r = g->neg;
	static const char empty[] = "";

	o->state = leg_state_name(g->state);
	o->sip = !g->pstn;
	o->ua = g->ua;
	o->channo = g->channo;
	o->call_id = d ? d->call_id : empty;
	o->local_tag = d ? d->local_tag : empty;
	o->remote_tag = d ? d->remote_tag : empty;
	o->local_uri = d ? d->local_uri : empty;
	o->remote_uri = d ? d->remote_uri : empty;
	o->remote_target = d ? d->remote_target : empty;
	o->route = d ? d->route : empty;
	o->remote_cseq = d ? d->remote_cseq : 0;
	o->local_cseq = d ? d->local_cseq : 0;
	o->neg = r;
	if (d != NULL && d->local_tag[0] == '\0' && g->nh != NULL && calls_io->local_tag != NULL) {
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
