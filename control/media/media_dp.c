/* SPDX-License-Identifier: BSD-3-Clause */
#include "media_dp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dpclient.h"
#include "mg_log.h"

const struct media_dp_io media_dp_io_real = {
	.request = dpc_request,
	.is_up = dpc_is_up,
	.cancel_arg = dpc_cancel_arg,
};
const struct media_dp_io *media_dp_io = &media_dp_io_real;

static struct {
	struct dpc *dp;
	struct media_dp_leftover *left;
	unsigned n_left, cap_left;
	unsigned restart_wait_s;
} mdp;

void media_dp_set_restart_wait(unsigned s)
{
	mdp.restart_wait_s = s;
}

unsigned media_dp_restart_wait(void)
{
	return mdp.restart_wait_s;
}

void media_dp_start(struct dpc *dp)
{
	mdp.dp = dp;
}

bool media_dp_up(void)
{
	return mdp.dp != NULL && media_dp_io->is_up(mdp.dp);
}

unsigned media_dp_cancel(const void *owner)
{
	return mdp.dp != NULL ? media_dp_io->cancel_arg(mdp.dp, owner) : 0;
}

/* A request nothing waits for (shutdown, leftovers): any answer will do. */
static void on_ignored(void *arg, int result, const void *body)
{
	(void)arg;
	(void)result;
	(void)body;
}

static int64_t request(unsigned type, const void *body, media_dp_reply_f cb, void *arg)
{
	if (mdp.dp == NULL)
		return -ENOTCONN;
	if (cb == NULL) {
		cb = on_ignored;
		arg = NULL;
	}
	return media_dp_io->request(mdp.dp, type, body, MEDIA_DP_TIMEOUT_MS, cb, arg);
}

/* The address new sessions of port @p p take: its sharedAddress when it
 * has one (a standby pair: docs/standby.md), else @p a. */
static void port_ip(const struct mg_dp_port *p, const struct mg_cidr *a, char *out, size_t len)
{
	inet_ntop(AF_INET, p->shared.family == AF_INET ? p->shared.addr : a->addr, out, (socklen_t)len);
}

void media_dp_local_ip(const struct mg_settings *s, const char *remote, char *out, size_t len)
{
	uint8_t r[16];
	bool have = remote != NULL && inet_pton(AF_INET, remote, r) == 1;

	out[0] = '\0';
	for (unsigned p = 0; have && p < s->n_ports; p++) {
		for (unsigned a = 0; a < s->ports[p].n_addrs; a++) {
			const struct mg_cidr *ci = &s->ports[p].addrs[a];
			uint32_t net, rem, mask;

			if (ci->family != AF_INET)
				continue;
			memcpy(&net, ci->addr, 4);
			memcpy(&rem, r, 4);
			mask = ci->prefix_len == 0 ? 0 : htonl(~0u << (32 - ci->prefix_len));
			if ((net & mask) == (rem & mask)) {
				port_ip(&s->ports[p], ci, out, len);
				return;
			}
		}
	}
	for (unsigned p = 0; p < s->n_ports; p++)
		if (s->ports[p].nexthop.family == AF_INET && s->ports[p].n_addrs > 0 &&
		    s->ports[p].addrs[0].family == AF_INET) {
			port_ip(&s->ports[p], &s->ports[p].addrs[0], out, len);
			return;
		}
	if (s->n_ports > 0 && s->ports[0].n_addrs > 0 && s->ports[0].addrs[0].family == AF_INET)
		port_ip(&s->ports[0], &s->ports[0].addrs[0], out, len);
}

/* ---------------------------------------------------------------- ports */

int64_t media_dp_port_alloc(const char *local_ip, media_dp_reply_f cb, void *arg)
{
	struct mg_msg_port_alloc pa;

	memset(&pa, 0, sizeof(pa));
	if (mg_proto_addr_parse(local_ip != NULL && local_ip[0] ? local_ip : "0.0.0.0", &pa.local) < 0)
		pa.local.family = MG_FAMILY_IPV4;
	pa.local.port = 0;
	return request(MG_MSG_PORT_ALLOC, &pa, cb, arg);
}

int64_t media_dp_port_take(const struct mg_msg_port *p, media_dp_reply_f cb, void *arg)
{
	struct mg_msg_port_alloc pa;

	memset(&pa, 0, sizeof(pa));
	pa.local = p->local;
	pa.flags = p->flags & MG_PORT_F_RTCP_MUX;
	return request(MG_MSG_PORT_ALLOC, &pa, cb, arg);
}

static void on_port_freed(void *arg, int result, const void *body)
{
	(void)arg;
	(void)body;
	if (result < 0 && result != -ENOTCONN && result != -ECANCELED)
		MG_WARN("media: PORT_FREE: %s", strerror(-result));
}

int64_t media_dp_port_free(const struct mg_msg_port *p, media_dp_reply_f cb, void *arg)
{
	return request(MG_MSG_PORT_FREE, p, cb != NULL ? cb : on_port_freed, cb != NULL ? arg : NULL);
}

/* ------------------------------------------------------------- sessions */

int64_t media_dp_session_put(struct media_dp_sess *s, struct mg_msg_session *m, unsigned roc_reset_legs,
			     media_dp_reply_f cb, void *arg)
{
	int64_t id;

	m->id = s->id;
	for (unsigned li = 0; li < 2; li++)
		if (!(roc_reset_legs & (1u << li))) {
			m->legs[li].rx.flags &= (uint8_t)~MG_CRYPTO_F_ROC_RESET;
			m->legs[li].tx.flags &= (uint8_t)~MG_CRYPTO_F_ROC_RESET;
		}
	id = request(s->on ? MG_MSG_SESSION_MODIFY : MG_MSG_SESSION_ADD, m, cb, arg);
	if (id > 0)
		s->on = true;
	return id;
}

int64_t media_dp_session_del(struct media_dp_sess *s, media_dp_reply_f cb, void *arg)
{
	struct mg_msg_session_id sid = { .id = s->id };
	int64_t id = request(MG_MSG_SESSION_DEL, &sid, cb, arg);

	if (id > 0)
		s->on = false;
	return id;
}

int64_t media_dp_session_stats(const struct media_dp_sess *s, media_dp_reply_f cb, void *arg)
{
	struct mg_msg_session_id sid = { .id = s->id };

	return request(MG_MSG_SESSION_STATS, &sid, cb, arg);
}

void media_dp_index_take(struct media_dp_index ix[2][2], const struct mg_msg_session_stats *st)
{
	for (unsigned li = 0; li < 2; li++)
		for (unsigned d = 0; d < 2; d++)
			if (st->legs[li][d].seq_valid) {
				ix[li][d].roc = st->legs[li][d].roc;
				ix[li][d].seq = st->legs[li][d].seq;
				ix[li][d].valid = true;
			}
}

bool media_dp_index_moved(const struct media_dp_index was[2][2], const struct media_dp_index now[2][2])
{
	for (unsigned li = 0; li < 2; li++)
		for (unsigned d = 0; d < 2; d++)
			if (was[li][d].valid != now[li][d].valid || was[li][d].roc != now[li][d].roc ||
			    was[li][d].seq >> 14 != now[li][d].seq >> 14)
				return true;
	return false;
}

void media_dp_index_apply(struct mg_msg_session *m, const struct media_dp_index ix[2][2])
{
	for (unsigned li = 0; li < 2; li++)
		for (unsigned d = 0; d < 2; d++) {
			struct mg_msg_crypto *c = d ? &m->legs[li].tx : &m->legs[li].rx;

			c->flags &= (uint8_t)~MG_CRYPTO_F_ROC_RESET;
			if (c->suite == MG_SRTP_SUITE_NONE || !ix[li][d].valid)
				continue;
			c->flags |= MG_CRYPTO_F_SEQ;
			c->roc = ix[li][d].roc;
			c->seq = ix[li][d].seq;
		}
}

/* ------------------------------------------------------ TDM and forks */

int64_t media_dp_tdm_bind(const struct mg_msg_tdm_bind *b, media_dp_reply_f cb, void *arg)
{
	return request(MG_MSG_TDM_BIND, b, cb, arg);
}

int64_t media_dp_tdm_unbind(uint32_t channo, media_dp_reply_f cb, void *arg)
{
	struct mg_msg_tdm_chan ch = { .channo = channo };

	return request(MG_MSG_TDM_UNBIND, &ch, cb, arg);
}

int64_t media_dp_fork_add(const struct mg_msg_fork *f, media_dp_reply_f cb, void *arg)
{
	return request(MG_MSG_FORK_ADD, f, cb, arg);
}

int64_t media_dp_fork_del(uint64_t session_id, uint32_t fork_id, media_dp_reply_f cb, void *arg)
{
	struct mg_msg_fork_id f = { .session_id = session_id, .fork_id = fork_id };

	return request(MG_MSG_FORK_DEL, &f, cb, arg);
}

/* ------------------------------------------------------------ leftovers */

static bool leftover_empty(const struct media_dp_leftover *o)
{
	for (unsigned i = 0; i < MEDIA_DP_LEFT_SESS; i++)
		if (o->sess[i] != 0)
			return false;
	for (unsigned i = 0; i < MEDIA_DP_LEFT_PORTS; i++)
		if (o->port_ok[i])
			return false;
	return o->channo[0] == 0 && o->channo[1] == 0;
}

void media_dp_orphan(const struct media_dp_leftover *o)
{
	if (leftover_empty(o))
		return;
	if (mdp.n_left == mdp.cap_left) {
		unsigned cap = mdp.cap_left ? mdp.cap_left * 2 : 16;
		struct media_dp_leftover *n = realloc(mdp.left, cap * sizeof(*n));

		if (n == NULL) {
			MG_WARN("media: out of memory: session %llu may stay in the dataplane",
				(unsigned long long)o->sess[0]);
			return;
		}
		mdp.left = n;
		mdp.cap_left = cap;
	}
	mdp.left[mdp.n_left++] = *o;
}

/* The connection is back: remove what sessions that ended meanwhile left
 * (bindings first: SESSION_DEL does not unbind a channel; ports last). */
static void leftovers_clean(void)
{
	unsigned kept = 0, sent = 0;

	for (unsigned i = 0; i < mdp.n_left; i++) {
		struct media_dp_leftover *o = &mdp.left[i];
		bool ok = true;

		for (unsigned li = 0; li < 2; li++)
			if (o->channo[li] != 0)
				ok &= media_dp_tdm_unbind(o->channo[li], NULL, NULL) > 0;
		for (unsigned k = 0; k < MEDIA_DP_LEFT_SESS; k++) {
			struct mg_msg_session_id sid = { .id = o->sess[k] };

			if (o->sess[k] != 0)
				ok &= request(MG_MSG_SESSION_DEL, &sid, NULL, NULL) > 0;
		}
		for (unsigned k = 0; k < MEDIA_DP_LEFT_PORTS; k++)
			if (o->port_ok[k])
				ok &= request(MG_MSG_PORT_FREE, &o->port[k], NULL, NULL) > 0;
		if (ok)
			sent++;
		else
			mdp.left[kept++] = *o; /* down again: next time */
	}
	if (sent)
		MG_INFO("media: dataplane back: removed what %u call(s) ended meanwhile left there", sent);
	mdp.n_left = kept;
}

void media_dp_state(bool up)
{
	if (up)
		leftovers_clean();
}

void media_dp_stop(void)
{
	if (mdp.n_left)
		MG_WARN("media: %u ended call(s) may have left sessions or ports in the dataplane (connection down)",
			mdp.n_left);
	free(mdp.left);
	mdp.left = NULL;
	mdp.n_left = mdp.cap_left = 0;
	mdp.dp = NULL;
}
