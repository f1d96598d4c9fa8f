/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Calls read back at start (docs/ha-state.md, "Control restart"): a call
 * of two SIP legs is linked as an active call with its dialogs, its
 * negotiation and its media as they were published. sofia-sip's nua
 * cannot take a dialog over (a BYE for a dialog it does not hold is
 * answered 481 inside the stack), so each leg gets a handle made from the
 * dialog's identifiers (Call-ID, From and To with their tags, route set)
 * and a re-INVITE in it (CSeq above our last, the session as it stands:
 * same port and key): once answered, nua holds the dialog, and a BYE,
 * a re-INVITE or our BYE go as for any call. The media is checked against
 * the dataplane by the re-install (media_call.c): a dataplane that no
 * longer holds it ends the call.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calls_internal.h"
#include "mg_log.h"

static struct {
	uint64_t adopted, dropped;
	struct calls_standby_counters sb;
} ad;

void calls_adopt_counters(uint64_t *adopted, uint64_t *dropped)
{
	*adopted = ad.adopted;
	*dropped = ad.dropped;
}

void calls_adopt_dropped(void)
{
	ad.dropped++;
}

/* A UAC's route set is the Record-Route of the answer, reversed: @p out
 * holds strlen(in) + 1 bytes (the same entries, the same commas). */
static void route_reversed(const char *in, char *out)
{
	const char *end = in + strlen(in);
	size_t n = 0;

	out[0] = '\0';
	while (end > in) {
		const char *start = end;

		/* entries are "<...>" separated by ",": split at ",<" */
		while (start > in && !(start[-1] == ',' && start[0] == '<'))
			start--;
		if (n > 0)
			out[n++] = ',';
		memcpy(out + n, start, (size_t)(end - start));
		n += (size_t)(end - start);
		out[n] = '\0';
		end = start > in ? start - 1 : in;
	}
}

static const char *sv(const char *v)
{
	return v != NULL ? v : "";
}

/* "<uri>;tag=t" on the heap, whole (NULL: out of memory). */
static char *addr_tag(const char *uri, const char *tag)
{
	size_t len = strlen(sv(uri)) + strlen(sv(tag)) + sizeof("<>;tag=");
	char *s = malloc(len);

	if (s != NULL)
		snprintf(s, len, "<%s>;tag=%s", sv(uri), sv(tag));
	return s;
}

/* A handle in the recorded dialog of leg @p li (also calls_peer.c): Call-ID,
 * our From and their To with the tags, the route set; every value whole. */
nua_handle_t *calls_dialog_handle(unsigned ua, unsigned li, const struct calls_adopt_leg *l, void *magic)
{
	char *local = addr_tag(l->local_uri, l->local_tag);
	char *remote = addr_tag(l->remote_uri, l->remote_tag);
	char *route = malloc(strlen(sv(l->route)) + 1);
	nua_handle_t *nh = NULL;

	if (local != NULL && remote != NULL && route != NULL) {
		/* leg 0: we answered the INVITE (UAS: the route set as
		 * received); leg 1: we sent it (UAC: reversed) */
		if (li == 1)
			route_reversed(sv(l->route), route);
		else
			strcpy(route, sv(l->route));
		nh = calls_io->dialog_handle(ua, magic, sv(l->call_id), local, remote, route);
	}
	free(local);
	free(remote);
	free(route);
	return nh;
}

static int adopt_leg(struct call *c, unsigned li, const struct calls_adopt_leg *l)
{
	struct call_leg *g = &c->leg[li];
	struct call_dialog *d;
	struct sdp_policy pol = c->pol;
	struct sdp_result r;
	int rc;

	g->ua = l->ua;
	if (leg_set_neg(g, l->neg) < 0 || (d = g->dlg = calloc(1, sizeof(*d))) == NULL)
		return -ENOMEM;
	if (call_dialog_set(&d->call_id, l->call_id) < 0 || call_dialog_set(&d->local_tag, l->local_tag) < 0 ||
	    call_dialog_set(&d->remote_tag, l->remote_tag) < 0 || call_dialog_set(&d->local_uri, l->local_uri) < 0 ||
	    call_dialog_set(&d->remote_uri, l->remote_uri) < 0 ||
	    call_dialog_set(&d->remote_target, l->remote_target) < 0 || call_dialog_set(&d->route, l->route) < 0)
		return -ENOMEM;
	d->remote_cseq = l->remote_cseq;
	d->local_cseq = l->local_cseq + 1;
	/* its Contact (the user agent's), as its handle, once SIP runs */
	if (l->port.local.family == MG_FAMILY_IPV6)
		inet_ntop(AF_INET6, l->port.local.addr, g->local_ip, sizeof(g->local_ip));
	else
		inet_ntop(AF_INET, l->port.local.addr, g->local_ip, sizeof(g->local_ip));
	c->mc.leg[li].port = l->port;
	c->mc.leg[li].port_ok = true;
	/* the dialog's handle is made when its re-INVITE goes (call_sip_resume()) */

	/* the session as it stands (our port and key, the agreed payload
	 * types), offered in the dialog: RFC 3264 §8, nothing changes */
	pol.local_addr = g->local_ip;
	pol.local_port = l->port.local.port;
	pol.media_type = NULL;
	pol.last_sent_version = l->neg->sess_version;
	rc = sdp_offer_current(&pol, g->neg, &r);
	if (rc < 0 || r.status != 0) {
		MG_WARN("call %u: leg %u read back: no offer for its re-INVITE: %s", c->id, li, r.warn_text);
		explicit_bzero(&r, sizeof(r));
		return -EINVAL;
	}
	g->sent_version = r.sess_version;
	g->reoffer = sdp_result_keep(&r);
	explicit_bzero(&r, sizeof(r));
	if (g->reoffer == NULL)
		return -ENOMEM;
	return 0;
}

/* Sent once the dataplane is known to hold the call's media (calls_media.c):
 * a stale record ends without bothering its peers with a re-INVITE. And
 * only once the SIP user agents run (calls_sip_open()): at a start they
 * open after the read-back and the dataplane's verdicts, and these
 * re-INVITEs are sent before any request is read, so that a BYE that waited
 * (the party's retransmissions while the control plane was away) finds the
 * dialog in nua (a session of the handle) and is answered 200. */
void call_sip_resume(struct call *c, unsigned li)
{
	struct call_leg *g = &c->leg[li];
	struct call_dialog *d = g->dlg;

	if (g->reoffer == NULL || d == NULL || g->nh != NULL || !calls_ce.sip_open)
		return;
	if (g->ua >= calls_io->ua_count()) {
		call_end(c, 500, "Server Internal Error", "read back from Redis: leg %u's user agent %u is not "
			 "configured here", li, g->ua);
		return;
	}
	calls_io->ua_contact(g->ua, NULL, g->contact, sizeof(g->contact));
	{
		struct calls_adopt_leg l = {
			.call_id = d->call_id, .local_tag = d->local_tag, .remote_tag = d->remote_tag,
			.local_uri = d->local_uri, .remote_uri = d->remote_uri,
			.remote_target = d->remote_target, .route = d->route,
		};

		g->nh = calls_dialog_handle(g->ua, li, &l, c);
	}
	if (g->nh == NULL) {
		call_end(c, 500, "Server Internal Error", "read back from Redis: no handle for leg %u", li);
		return;
	}
	MG_INFO("call %u: re-INVITE to leg %u in its dialog (taken over)", c->id, li);
	calls_io->dialog_invite(g->nh, sv(d->remote_target), g->contact, g->reoffer->sdp, d->local_cseq);
}

void calls_sip_open(void)
{
	calls_ce.sip_open = true;
	for (struct call *c = calls_ce.calls; c != NULL; c = c->next)
		if (c->adopted && c->resumed && c->state == CALL_ACTIVE)
			for (unsigned li = 0; li < 2; li++)
				call_sip_resume(c, li);
}

unsigned calls_adopt_waiting(void)
{
	unsigned n = 0;

	for (const struct call *c = calls_ce.calls; c != NULL; c = c->next)
		if (c->adopted && !c->resumed && c->state == CALL_ACTIVE)
			n++;
	return n;
}

/* @p standby: a standby's copy (calls_standby_put()): media installed
 * blocked, not checked against the dataplane (a new one holds nothing). */
static int adopt(const struct calls_adopt *a, bool standby, uint64_t fp)
{
	struct call *c;

	if (calls_ce.root == NULL || calls_ce.stopping)
		return -ENODEV;
	/* the user agent index is checked when SIP runs (call_sip_resume()) */
	for (unsigned li = 0; li < 2; li++)
		if (a->leg[li].neg == NULL)
			return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	call_link_adopted(c, a->sess_id);
	/* restored where it was, not moved along the machines */
	c->started = a->started;
	c->state = CALL_ACTIVE;
	c->leg[0].state = LEG_CONFIRMED;
	c->leg[1].state = LEG_ANSWERED;
	c->mc.sess.on = true;
	c->mc.installed = true;
	memcpy(c->mc.ix, a->ix, sizeof(c->mc.ix));
	c->mc.adopted = !standby;
	c->standby = c->mc.standby = standby;
	c->standby_fp = fp;
	for (unsigned li = 0; li < 2; li++)
		if (adopt_leg(c, li, &a->leg[li]) < 0) {
			/* what the dataplane holds of it is removed once connected */
			c->mc.adopted = false;
			c->mc.lost = true;
			call_end(c, 500, "Server Internal Error", "read back from Redis, not taken over");
			return -EINVAL;
		}
	if (standby)
		ad.sb.installed++;
	else
		ad.adopted++;
	MG_INFO("call %u: read back from Redis (session %llu, ports %u/%u): %s", c->id,
		(unsigned long long)c->sess_id, c->mc.leg[0].port.local.port, c->mc.leg[1].port.local.port,
		standby ? "standby, installed blocked" : "checked against the dataplane");
	/* checked against the dataplane once connected (calls_dataplane_state) */
	c->mc.lost = true;
	if (media_dp_up()) {
		c->mc.lost = true;
		media_call_reinstall(&c->mc);
	}
	call_publish(c);
	return 0;
}

int calls_adopt(const struct calls_adopt *a)
{
	return adopt(a, false, 0);
}

/* ---------------------------------------------------------- standby node */

static struct call *by_sess(uint64_t sess_id)
{
	for (struct call *c = calls_ce.calls; c != NULL; c = c->next)
		if (c->sess_id == sess_id)
			return c;
	return NULL;
}

/*
 * A re-INVITE on the active node changed the record (keys, hold, an address,
 * the dialogs' CSeqs): the standby call takes the new dialogs and
 * negotiation in place and its blocked session is modified, so that nothing
 * is removed (a record waiting for a removal would be lost to a promote).
 * -EXDEV: other ports (installed anew instead), or -errno.
 */
static int standby_renew(struct call *c, const struct calls_adopt *a)
{
	for (unsigned li = 0; li < 2; li++)
		if (a->leg[li].neg == NULL || a->leg[li].ua >= calls_io->ua_count() ||
		    memcmp(&a->leg[li].port, &c->mc.leg[li].port, sizeof(a->leg[li].port)) != 0)
			return -EXDEV;
	for (unsigned li = 0; li < 2; li++) {
		struct call_leg *g = &c->leg[li];
		int rc;

		if (g->nh != NULL) {
			calls_io->handle_bind(g->nh, NULL);
			calls_io->handle_destroy(g->nh);
			g->nh = NULL;
		}
		call_dialog_free(g->dlg);
		g->dlg = NULL;
		sdp_result_free(g->reoffer);
		g->reoffer = NULL;
		rc = adopt_leg(c, li, &a->leg[li]);
		if (rc < 0)
			return rc;
	}
	media_call_push(&c->mc, -1); /* still blocked (mc.standby) */
	return 0;
}

int calls_standby_put(const struct calls_adopt *a, uint64_t fp)
{
	struct call *c = by_sess(a->sess_id);

	if (c != NULL && !c->standby)
		return -EEXIST;
	if (c != NULL && c->state == CALL_ENDING)
		return -EAGAIN; /* the previous record's call is still being removed */
	if (c != NULL) {
		memcpy(c->mc.ix, a->ix, sizeof(c->mc.ix));
		if (c->standby_fp == fp) {
			/* the indexes moved (refresh): the take-over starts from them */
			ad.sb.updated++;
			return 0;
		}
		ad.sb.replaced++;
		if (standby_renew(c, a) == 0) {
			c->standby_fp = fp;
			return 0;
		}
		/* other ports (or out of memory): removed, then installed again
		 * from the new record once its ports and session are free */
		call_end(c, 0, NULL, "standby: its record changed");
		return by_sess(a->sess_id) != NULL ? -EAGAIN : adopt(a, true, fp);
	}
	return adopt(a, true, fp);
}

int calls_standby_drop(uint64_t sess_id)
{
	struct call *c = by_sess(sess_id);

	if (c == NULL || !c->standby)
		return -ENOENT;
	if (c->state != CALL_ENDING) {
		ad.sb.removed++;
		/* adopted, not resumed: no SIP is sent (calls_sip.c sip_hang_up) */
		call_end(c, 0, NULL, "standby: its record is gone (ended on the active node)");
	}
	return 0;
}

void calls_standby_each(void (*each)(void *arg, uint64_t sess_id), void *arg)
{
	for (struct call *c = calls_ce.calls; c != NULL; c = c->next)
		if (c->standby && c->state != CALL_ENDING)
			each(arg, c->sess_id);
}

unsigned calls_promote(void)
{
	unsigned n = 0;

	for (struct call *c = calls_ce.calls; c != NULL; c = c->next) {
		if (!c->standby)
			continue;
		c->standby = false;
		if (c->state == CALL_ENDING)
			continue;
		n++;
		ad.sb.promoted++;
		ad.adopted++;
		/* unblocked at the record's indexes; its re-INVITEs follow the
		 * dataplane's answer (calls_media.c on_media_installed) */
		media_call_promote(&c->mc);
	}
	return n;
}

void calls_standby_counters(struct calls_standby_counters *out)
{
	*out = ad.sb;
	out->held = 0;
	for (const struct call *c = calls_ce.calls; c != NULL; c = c->next)
		out->held += c->standby && c->state != CALL_ENDING;
}
