/* SPDX-License-Identifier: BSD-3-Clause */
#include "mg_proto.h"

#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static __thread char last_error[256];

__attribute__((format(printf, 1, 2))) static int fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

const char *mg_proto_last_error(void)
{
	return last_error[0] != '\0' ? last_error : "no error";
}

/*
 * Byte order: htole*() and le*toh() are the same permutation, so one "swap"
 * per struct converts both ways; on little-endian hosts it compiles to
 * nothing.
 */
#define SW16(x) ((x) = htole16(x))
#define SW32(x) ((x) = htole32(x))
#define SW64(x) ((x) = htole64(x))

typedef void (*swap_fn)(void *);
typedef int (*check_fn)(const void *);

static void swap_hdr(struct mg_proto_hdr *h)
{
	SW16(h->version);
	SW16(h->type);
	SW16(h->flags);
	SW16(h->reserved);
	SW32(h->req_id);
	h->result = (int32_t)htole32((uint32_t)h->result);
	SW32(h->length);
	SW32(h->reserved2);
}

static void swap_hello(void *p)
{
	struct mg_msg_hello *h = p;

	SW32(h->version);
	SW32(h->role);
	SW32(h->pid);
	SW32(h->hdr_size);
	SW32(h->n_types);
	SW32(h->reserved);
	for (unsigned i = 0; i < MG_PROTO_MAX_TYPES; i++) {
		SW16(h->sizes[i].type);
		SW16(h->sizes[i].reserved);
		SW32(h->sizes[i].req_size);
		SW32(h->sizes[i].rep_size);
	}
}

static void swap_ping(void *p)
{
	struct mg_msg_ping *m = p;

	SW64(m->seq);
	SW64(m->sent_ns);
}

static void swap_pong(void *p)
{
	struct mg_msg_pong *m = p;

	SW64(m->seq);
	SW64(m->sent_ns);
	SW64(m->uptime_ns);
	SW32(m->n_sessions);
	SW32(m->n_workers);
}

static void swap_addr(struct mg_msg_addr *a)
{
	SW16(a->port);
}

static void swap_port_alloc(void *p)
{
	swap_addr(&((struct mg_msg_port_alloc *)p)->local);
}

static void swap_port(void *p)
{
	struct mg_msg_port *m = p;

	swap_addr(&m->local);
	SW16(m->rtcp_port);
}

static void swap_crypto(struct mg_msg_crypto *c)
{
	SW32(c->roc);
	SW64(c->lifetime);
	SW16(c->seq);
}

static void swap_leg(struct mg_msg_leg *l)
{
	swap_addr(&l->local);
	swap_addr(&l->remote);
	for (unsigned i = 0; i < MG_PROTO_MAX_CANDIDATES; i++)
		swap_addr(&l->candidates[i]);
	SW16(l->remote_rtcp_port);
	swap_crypto(&l->rx);
	swap_crypto(&l->tx);
}

static void swap_session(void *p)
{
	struct mg_msg_session *s = p;

	SW64(s->id);
	SW32(s->flags);
	SW32(s->reserved);
	swap_leg(&s->legs[0]);
	swap_leg(&s->legs[1]);
}

static void swap_session_id(void *p)
{
	SW64(((struct mg_msg_session_id *)p)->id);
}

static void swap_list_req(void *p)
{
	struct mg_msg_session_list_req *r = p;

	SW64(r->cursor);
	SW32(r->max);
	SW32(r->reserved);
}

static void swap_list(void *p)
{
	struct mg_msg_session_list *l = p;

	SW64(l->next_cursor);
	SW32(l->count);
	SW32(l->total);
	for (unsigned i = 0; i < MG_PROTO_LIST_PAGE; i++) {
		SW64(l->entries[i].id);
		SW16(l->entries[i].local_port[0]);
		SW16(l->entries[i].local_port[1]);
	}
}

static void swap_dir_stats(struct mg_msg_dir_stats *d)
{
	SW64(d->packets);
	SW64(d->bytes);
	SW64(d->rtcp_packets);
	for (unsigned i = 0; i < MG_PROTO_DROP_SLOTS; i++)
		SW64(d->drops[i]);
	SW32(d->roc);
	SW16(d->seq);
}

static void swap_stats(void *p)
{
	struct mg_msg_session_stats *s = p;

	SW64(s->id);
	for (unsigned l = 0; l < 2; l++)
		for (unsigned d = 0; d < 2; d++)
			swap_dir_stats(&s->legs[l][d]);
	for (unsigned i = 0; i < MG_PROTO_MAX_FORKS; i++) {
		SW32(s->forks[i].fork_id);
		SW32(s->forks[i].reserved);
		SW64(s->forks[i].packets);
		SW64(s->forks[i].bytes);
		SW64(s->forks[i].drops);
	}
}

static void swap_fork(void *p)
{
	struct mg_msg_fork *f = p;

	SW64(f->session_id);
	SW32(f->fork_id);
	swap_addr(&f->local);
	swap_addr(&f->remote);
	swap_crypto(&f->crypto);
}

static void swap_fork_id(void *p)
{
	struct mg_msg_fork_id *f = p;

	SW64(f->session_id);
	SW32(f->fork_id);
	SW32(f->reserved);
}

static void swap_tdm_bind(void *p)
{
	struct mg_msg_tdm_bind *b = p;

	SW64(b->session_id);
	SW32(b->channo);
	SW32(b->ssrc);
}

static void swap_tdm_chan(void *p)
{
	struct mg_msg_tdm_chan *c = p;

	SW32(c->channo);
	SW32(c->reserved);
}

static void swap_tdm_stats(void *p)
{
	struct mg_msg_tdm_stats *t = p;

	SW32(t->channo);
	SW32(t->reserved);
	SW64(t->tdm_frames_in);
	SW64(t->rtp_audio_out);
	SW64(t->rtp_event_out);
	SW64(t->digits_detected);
	SW64(t->rtp_in);
	SW64(t->digits_played);
	SW64(t->tdm_frames_out);
	SW64(t->concealed);
	SW64(t->drops);
}

static void swap_dp_stats(void *p)
{
	struct mg_msg_dp_stats *s = p;

	SW64(s->uptime_ns);
	SW64(s->tsc_hz);
	SW32(s->n_sessions);
	SW32(s->n_workers);
	SW32(s->n_ports);
	SW32(s->ports_used);
	SW64(s->rx_packets);
	SW64(s->tx_packets);
	SW64(s->arp_rx);
	SW64(s->arp_tx);
	SW64(s->icmp_echo);
	for (unsigned i = 0; i < MG_PROTO_DROP_SLOTS; i++)
		SW64(s->drops[i]);
	SW64(s->orphans_removed);
	SW64(s->orphan_ports_removed);
	SW32(s->orphan_sweeps);
	SW32(s->control_connected);
	SW64(s->ssrc_rooms);
	SW64(s->ssrc_rooms_used);
	SW64(s->ssrc_rooms_empty);
	SW64(s->drop_blocks);
	SW64(s->drop_blocks_used);
	SW64(s->drop_blocks_empty);
	for (unsigned i = 0; i < MG_PROTO_MAX_WORKERS; i++) {
		SW32(s->workers[i].lcore);
		SW32(s->workers[i].preempted);
		SW64(s->workers[i].packets);
		SW64(s->workers[i].busy_tsc);
		SW64(s->workers[i].polls);
		SW64(s->workers[i].idle_polls);
	}
}

/* ------------------------------------------------------------ validation */

static bool all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i] != 0)
			return false;
	return true;
}

int mg_proto_check_addr(const struct mg_msg_addr *a, bool need_port, const char *what)
{
	if (a->reserved != 0)
		return fail("%s: reserved byte is %u (must be 0)", what, a->reserved);
	switch (a->family) {
	case MG_FAMILY_NONE:
		if (a->port != 0 || !all_zero(a->addr, sizeof(a->addr)))
			return fail("%s: family none but address/port set", what);
		return 0;
	case MG_FAMILY_IPV4:
		if (!all_zero(a->addr + 4, 12))
			return fail("%s: IPv4 address with bytes 4..15 set", what);
		break;
	case MG_FAMILY_IPV6:
		break;
	default:
		return fail("%s: address family %u (allowed: 0 none, 4 IPv4, 6 IPv6)", what,
			    a->family);
	}
	if (need_port && a->port == 0)
		return fail("%s: port 0 (allowed: 1..65535)", what);
	return 0;
}

int mg_proto_check_crypto(const struct mg_msg_crypto *c, const char *what)
{
	const struct mg_srtp_suite_info *si;

	if (c->flags & ~(MG_CRYPTO_F_ROC_RESET | MG_CRYPTO_F_SEQ))
		return fail("%s: unknown crypto flags 0x%x (allowed: 0x1 roc-reset, 0x2 seq)", what,
			    c->flags);
	if (!all_zero(c->reserved, sizeof(c->reserved)))
		return fail("%s: reserved crypto bytes set", what);
	if (!(c->flags & MG_CRYPTO_F_SEQ) && c->seq != 0)
		return fail("%s: seq %u without the seq flag", what, c->seq);
	if (c->mki_len > MG_PROTO_MAX_MKI)
		return fail("%s: MKI length %u (allowed: 0..%u)", what, c->mki_len,
			    MG_PROTO_MAX_MKI);
	if (!all_zero(c->mki + c->mki_len, MG_PROTO_MAX_MKI - c->mki_len))
		return fail("%s: MKI bytes beyond mki_len set", what);
	if (c->suite == MG_SRTP_SUITE_NONE) {
		if (c->key_len != 0 || c->salt_len != 0 || c->mki_len != 0 || c->lifetime != 0 ||
		    !all_zero(c->key, sizeof(c->key)) || !all_zero(c->salt, sizeof(c->salt)))
			return fail("%s: suite NONE (plain RTP) but key, salt, MKI or lifetime set",
				    what);
		return 0;
	}
	si = mg_srtp_suite_by_id((enum mg_srtp_suite)c->suite);
	if (si == NULL || c->suite >= MG_SRTP_SUITE_COUNT)
		return fail("%s: crypto suite %u unknown (allowed: 0 NONE, %s)", what, c->suite,
			    mg_srtp_suite_names(0));
	if (c->key_len != si->master_key_len)
		return fail("%s: %s needs a %u-byte master key, got %u", what, si->sdes_name,
			    si->master_key_len, c->key_len);
	if (c->salt_len != si->master_salt_len)
		return fail("%s: %s needs a %u-byte master salt, got %u", what, si->sdes_name,
			    si->master_salt_len, c->salt_len);
	if (!all_zero(c->key + c->key_len, MG_PROTO_MAX_KEY - c->key_len) ||
	    !all_zero(c->salt + c->salt_len, MG_PROTO_MAX_SALT - c->salt_len))
		return fail("%s: key or salt bytes beyond their length set", what);
	if (c->lifetime > MG_SRTP_DEFAULT_LIFETIME)
		return fail("%s: lifetime %llu packets (allowed: 0 = default, 1..2^48)", what,
			    (unsigned long long)c->lifetime);
	return 0;
}

static int check_leg(const struct mg_msg_leg *l, unsigned idx)
{
	char what[48];
	int rc;

	snprintf(what, sizeof(what), "leg %u local", idx);
	if (l->local.family == MG_FAMILY_NONE)
		return fail("leg %u: local address missing", idx);
	rc = mg_proto_check_addr(&l->local, true, what);
	if (rc < 0)
		return rc;
	snprintf(what, sizeof(what), "leg %u remote", idx);
	rc = mg_proto_check_addr(&l->remote, true, what);
	if (rc < 0)
		return rc;
	if (l->n_candidates > MG_PROTO_MAX_CANDIDATES)
		return fail("leg %u: %u candidates (allowed: 0..%u)", idx, l->n_candidates,
			    MG_PROTO_MAX_CANDIDATES);
	for (unsigned i = 0; i < MG_PROTO_MAX_CANDIDATES; i++) {
		snprintf(what, sizeof(what), "leg %u candidate %u", idx, i);
		if (i >= l->n_candidates) {
			if (!all_zero(&l->candidates[i], sizeof(l->candidates[i])))
				return fail("%s: set beyond n_candidates", what);
			continue;
		}
		if (l->candidates[i].family == MG_FAMILY_NONE)
			return fail("%s: empty", what);
		rc = mg_proto_check_addr(&l->candidates[i], true, what);
		if (rc < 0)
			return rc;
	}
	if (l->source_policy != MG_SOURCE_LATCH && l->source_policy != MG_SOURCE_STRICT)
		return fail("leg %u: source policy %u (allowed: 0 latch, 1 strict)", idx,
			    l->source_policy);
	if (l->flags & ~(MG_LEG_F_RTCP_MUX | MG_LEG_F_HANDOVER | MG_LEG_F_BLOCK))
		return fail("leg %u: unknown flags 0x%x (allowed: 0x1 rtcp-mux, 0x2 handover, 0x4 block)", idx,
			    l->flags);
	if (!all_zero(l->reserved, sizeof(l->reserved)))
		return fail("leg %u: reserved bytes set", idx);
	if (!(l->flags & MG_LEG_F_RTCP_MUX) && (l->local.port & 1))
		return fail("leg %u: local RTP port %u is odd without rtcp-mux (RTP even, RTCP odd)",
			    idx, l->local.port);
	snprintf(what, sizeof(what), "leg %u rx", idx);
	rc = mg_proto_check_crypto(&l->rx, what);
	if (rc < 0)
		return rc;
	snprintf(what, sizeof(what), "leg %u tx", idx);
	return mg_proto_check_crypto(&l->tx, what);
}

int mg_proto_check_session(const struct mg_msg_session *s)
{
	int rc;

	if (s->id == 0)
		return fail("session id 0 (allowed: non-zero)");
	if (s->flags != 0 || s->reserved != 0)
		return fail("session flags 0x%x: none defined", s->flags);
	for (unsigned i = 0; i < 2; i++) {
		rc = check_leg(&s->legs[i], i);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int mg_proto_check_fork(const struct mg_msg_fork *f)
{
	int rc;

	if (f->session_id == 0 || f->fork_id == 0)
		return fail("fork: session id and fork id must be non-zero");
	if (f->leg > 1)
		return fail("fork: leg %u (allowed: 0, 1)", f->leg);
	if (f->flags & ~(MG_FORK_F_RAW | MG_FORK_F_RTCP))
		return fail("fork: unknown flags 0x%x (allowed: 0x1 raw, 0x2 rtcp)", f->flags);
	if (!all_zero(f->reserved, sizeof(f->reserved)))
		return fail("fork: reserved bytes set");
	if (f->local.family == MG_FAMILY_NONE || f->remote.family == MG_FAMILY_NONE)
		return fail("fork: local and remote addresses are required");
	rc = mg_proto_check_addr(&f->local, true, "fork local");
	if (rc == 0)
		rc = mg_proto_check_addr(&f->remote, true, "fork remote");
	if (rc == 0)
		rc = mg_proto_check_crypto(&f->crypto, "fork crypto");
	if (rc < 0)
		return rc;
	if ((f->flags & MG_FORK_F_RAW) && f->crypto.suite != MG_SRTP_SUITE_NONE)
		return fail("fork: raw copies cannot be re-encrypted (suite must be NONE)");
	return 0;
}

static int check_hello(const void *p)
{
	const struct mg_msg_hello *h = p;

	if (h->role < MG_ROLE_CONTROL || h->role > MG_ROLE_TOOL)
		return fail("hello: role %u (allowed: 1 control, 2 dataplane, 3 tool)", h->role);
	if (h->n_types > MG_PROTO_MAX_TYPES)
		return fail("hello: %u message types (allowed: 0..%u)", h->n_types,
			    MG_PROTO_MAX_TYPES);
	if (memchr(h->software, '\0', sizeof(h->software)) == NULL)
		return fail("hello: software name not NUL-terminated");
	return 0;
}

static int check_none(const void *p)
{
	(void)p;
	return 0;
}

static int check_port_alloc(const void *p)
{
	const struct mg_msg_port_alloc *m = p;
	int rc;

	if (m->local.family == MG_FAMILY_NONE)
		return fail("port-alloc: address family required (4 or 6)");
	rc = mg_proto_check_addr(&m->local, false, "port-alloc local");
	if (rc < 0)
		return rc;
	if (m->local.port & 1)
		return fail("port-alloc: port %u requested (0: the dataplane picks, else an even RTP port)",
			    m->local.port);
	if (m->flags & ~MG_PORT_F_RTCP_MUX)
		return fail("port-alloc: unknown flags 0x%x (allowed: 0x1 rtcp-mux)", m->flags);
	if (!all_zero(m->reserved, sizeof(m->reserved)))
		return fail("port-alloc: reserved bytes set");
	return 0;
}

static int check_port(const void *p)
{
	const struct mg_msg_port *m = p;
	int rc;

	if (m->local.family == MG_FAMILY_NONE)
		return fail("port: address family required (4 or 6)");
	rc = mg_proto_check_addr(&m->local, true, "port local");
	if (rc < 0)
		return rc;
	if (m->flags & ~MG_PORT_F_RTCP_MUX)
		return fail("port: unknown flags 0x%x (allowed: 0x1 rtcp-mux)", m->flags);
	if (!all_zero(m->reserved, sizeof(m->reserved)))
		return fail("port: reserved bytes set");
	if (m->local.port & 1)
		return fail("port: RTP port %u is odd (RTP ports are even)", m->local.port);
	if (m->flags & MG_PORT_F_RTCP_MUX ? m->rtcp_port != m->local.port
					  : m->rtcp_port != m->local.port + 1)
		return fail("port: RTCP port %u does not go with RTP port %u%s", m->rtcp_port,
			    m->local.port, m->flags & MG_PORT_F_RTCP_MUX ? " (rtcp-mux)" : "");
	return 0;
}

static int check_session(const void *p)
{
	return mg_proto_check_session(p);
}

static int check_session_id(const void *p)
{
	if (((const struct mg_msg_session_id *)p)->id == 0)
		return fail("session id 0 (allowed: non-zero)");
	return 0;
}

static int check_list_req(const void *p)
{
	const struct mg_msg_session_list_req *r = p;

	if (r->max < 1 || r->max > MG_PROTO_LIST_PAGE)
		return fail("session-list: max %u (allowed: 1..%u)", r->max, MG_PROTO_LIST_PAGE);
	if (r->reserved != 0)
		return fail("session-list: reserved field set");
	return 0;
}

static int check_list(const void *p)
{
	const struct mg_msg_session_list *l = p;

	if (l->count > MG_PROTO_LIST_PAGE)
		return fail("session-list reply: count %u (allowed: 0..%u)", l->count,
			    MG_PROTO_LIST_PAGE);
	for (unsigned i = 0; i < l->count; i++)
		for (unsigned j = 0; j < 4; j++)
			if (l->entries[i].suite[j / 2][j % 2] >= MG_SRTP_SUITE_COUNT)
				return fail("session-list reply: entry %u has suite %u", i,
					    l->entries[i].suite[j / 2][j % 2]);
	return 0;
}

static int check_stats(const void *p)
{
	return check_session_id(p);
}

static int check_fork(const void *p)
{
	return mg_proto_check_fork(p);
}

static int check_fork_id(const void *p)
{
	const struct mg_msg_fork_id *f = p;

	if (f->session_id == 0 || f->fork_id == 0)
		return fail("fork: session id and fork id must be non-zero");
	if (f->reserved != 0)
		return fail("fork: reserved field set");
	return 0;
}

static int check_dp_stats(const void *p)
{
	const struct mg_msg_dp_stats *s = p;

	if (s->n_workers > MG_PROTO_MAX_WORKERS)
		return fail("dp-stats: %u workers (allowed: 0..%u)", s->n_workers,
			    MG_PROTO_MAX_WORKERS);
	return 0;
}

static int check_tdm_chan_no(uint32_t channo)
{
	if (channo == 0 || channo > MG_TDM_MAX_CHANNO)
		return fail("tdm: channel %u (allowed: 1..%u)", channo, MG_TDM_MAX_CHANNO);
	return 0;
}

static int check_tdm_bind(const void *p)
{
	const struct mg_msg_tdm_bind *b = p;

	if (b->session_id == 0)
		return fail("tdm-bind: session id must be non-zero");
	if (check_tdm_chan_no(b->channo) < 0)
		return -EINVAL;
	if (b->leg > 1)
		return fail("tdm-bind: leg %u (allowed: 0, 1)", b->leg);
	if (b->law > 1)
		return fail("tdm-bind: law %u (allowed: 0 = PCMU, 1 = PCMA)", b->law);
	if (b->pt > 127)
		return fail("tdm-bind: payload type %u (allowed: 0..127)", b->pt);
	if (b->event_pt != 0 && (b->event_pt < 96 || b->event_pt > 127 || b->event_pt == b->pt))
		return fail("tdm-bind: telephone-event payload type %u (allowed: 0 = none, "
			    "96..127 other than the codec's)", b->event_pt);
	if (b->flags & ~MG_TDM_F_ECHO_CANCEL)
		return fail("tdm-bind: unknown flags 0x%x (allowed: 0x%x)", b->flags,
			    MG_TDM_F_ECHO_CANCEL);
	if (!all_zero(b->reserved, sizeof(b->reserved)))
		return fail("tdm-bind: reserved field set");
	return 0;
}

static int check_tdm_chan(const void *p)
{
	const struct mg_msg_tdm_chan *c = p;

	if (check_tdm_chan_no(c->channo) < 0)
		return -EINVAL;
	if (c->reserved != 0)
		return fail("tdm: reserved field set");
	return 0;
}

static int check_tdm_stats(const void *p)
{
	const struct mg_msg_tdm_stats *t = p;

	if (check_tdm_chan_no(t->channo) < 0)
		return -EINVAL;
	return 0;
}

static void swap_capture(void *p)
{
	struct mg_msg_capture *c = p;

	SW64(c->session_id);
	SW32(c->flags);
	SW32(c->reserved);
}

static void swap_capture_stats(void *p)
{
	struct mg_msg_capture_stats *c = p;

	SW64(c->session_id);
	SW64(c->packets);
	SW64(c->bytes);
	SW64(c->drops_ring_full);
	SW64(c->drops_no_mbuf);
	SW64(c->write_errors);
}

static int check_capture(const void *p)
{
	const struct mg_msg_capture *c = p;
	size_t n = strnlen(c->path, sizeof(c->path));

	if (c->session_id == 0)
		return fail("capture: session id 0");
	if (c->flags & ~MG_CAPTURE_F_DECRYPTED)
		return fail("capture: unknown flags 0x%x (allowed: 0x%x)", c->flags,
			    MG_CAPTURE_F_DECRYPTED);
	if (c->reserved != 0)
		return fail("capture: reserved field set");
	if (n == sizeof(c->path))
		return fail("capture: path not NUL-terminated in %zu bytes", sizeof(c->path));
	if (n < 2 || c->path[0] != '/')
		return fail("capture: path must be absolute");
	if (!all_zero(c->path + n, sizeof(c->path) - n))
		return fail("capture: bytes after the path's NUL");
	return 0;
}

static int check_capture_stats(const void *p)
{
	const struct mg_msg_capture_stats *c = p;

	if (c->session_id == 0)
		return fail("capture: session id 0");
	return 0;
}

static void swap_shared_addr(void *p)
{
	struct mg_msg_shared_addr *a = p;

	SW64(a->garps);
}

static int check_shared_addr(const void *p)
{
	const struct mg_msg_shared_addr *a = p;

	if (a->flags & ~MG_SHARED_F_SET)
		return fail("shared address: unknown flags");
	if (a->on > 1)
		return fail("shared address: on is 0 or 1");
	return 0;
}

/* ------------------------------------------------------------- the table */

struct msg_desc {
	const char *name;
	uint32_t size[2]; /* [0] request, [1] reply */
	swap_fn swap[2];
	check_fn check[2];
};

#define BODY(t, sw, ck) sizeof(t), sw, ck
static const struct msg_desc msg_table[MG_MSG_TYPE_COUNT] = {
	[MG_MSG_HELLO] = { "HELLO", { sizeof(struct mg_msg_hello), sizeof(struct mg_msg_hello) },
			   { swap_hello, swap_hello }, { check_hello, check_hello } },
	[MG_MSG_PING] = { "PING", { sizeof(struct mg_msg_ping), sizeof(struct mg_msg_pong) },
			  { swap_ping, swap_pong }, { check_none, check_none } },
	[MG_MSG_PORT_ALLOC] = { "PORT_ALLOC",
				{ sizeof(struct mg_msg_port_alloc), sizeof(struct mg_msg_port) },
				{ swap_port_alloc, swap_port },
				{ check_port_alloc, check_port } },
	[MG_MSG_PORT_FREE] = { "PORT_FREE", { sizeof(struct mg_msg_port), 0 },
			       { swap_port, NULL }, { check_port, NULL } },
	[MG_MSG_SESSION_ADD] = { "SESSION_ADD",
				 { sizeof(struct mg_msg_session),
				   sizeof(struct mg_msg_session_id) },
				 { swap_session, swap_session_id },
				 { check_session, check_session_id } },
	[MG_MSG_SESSION_MODIFY] = { "SESSION_MODIFY",
				    { sizeof(struct mg_msg_session),
				      sizeof(struct mg_msg_session_id) },
				    { swap_session, swap_session_id },
				    { check_session, check_session_id } },
	[MG_MSG_SESSION_DEL] = { "SESSION_DEL",
				 { sizeof(struct mg_msg_session_id),
				   sizeof(struct mg_msg_session_stats) },
				 { swap_session_id, swap_stats },
				 { check_session_id, check_stats } },
	[MG_MSG_SESSION_GET] = { "SESSION_GET",
				 { sizeof(struct mg_msg_session_id),
				   sizeof(struct mg_msg_session) },
				 { swap_session_id, swap_session },
				 { check_session_id, check_session } },
	[MG_MSG_SESSION_LIST] = { "SESSION_LIST",
				  { sizeof(struct mg_msg_session_list_req),
				    sizeof(struct mg_msg_session_list) },
				  { swap_list_req, swap_list },
				  { check_list_req, check_list } },
	[MG_MSG_SESSION_STATS] = { "SESSION_STATS",
				   { sizeof(struct mg_msg_session_id),
				     sizeof(struct mg_msg_session_stats) },
				   { swap_session_id, swap_stats },
				   { check_session_id, check_stats } },
	[MG_MSG_FORK_ADD] = { "FORK_ADD",
			      { sizeof(struct mg_msg_fork), sizeof(struct mg_msg_fork_id) },
			      { swap_fork, swap_fork_id }, { check_fork, check_fork_id } },
	[MG_MSG_FORK_DEL] = { "FORK_DEL", { sizeof(struct mg_msg_fork_id), 0 },
			      { swap_fork_id, NULL }, { check_fork_id, NULL } },
	[MG_MSG_DP_STATS] = { "DP_STATS", { 0, sizeof(struct mg_msg_dp_stats) },
			      { NULL, swap_dp_stats }, { NULL, check_dp_stats } },
	[MG_MSG_TDM_BIND] = { "TDM_BIND", { sizeof(struct mg_msg_tdm_bind), 0 },
			      { swap_tdm_bind, NULL }, { check_tdm_bind, NULL } },
	[MG_MSG_TDM_UNBIND] = { "TDM_UNBIND",
				{ sizeof(struct mg_msg_tdm_chan), sizeof(struct mg_msg_tdm_stats) },
				{ swap_tdm_chan, swap_tdm_stats },
				{ check_tdm_chan, check_tdm_stats } },
	[MG_MSG_CAPTURE_START] = { "CAPTURE_START", { sizeof(struct mg_msg_capture), 0 },
				   { swap_capture, NULL }, { check_capture, NULL } },
	[MG_MSG_CAPTURE_STOP] = { "CAPTURE_STOP",
				  { sizeof(struct mg_msg_session_id),
				    sizeof(struct mg_msg_capture_stats) },
				  { swap_session_id, swap_capture_stats },
				  { check_session_id, check_capture_stats } },
	[MG_MSG_SHARED_ADDR] = { "SHARED_ADDR",
				 { sizeof(struct mg_msg_shared_addr), sizeof(struct mg_msg_shared_addr) },
				 { swap_shared_addr, swap_shared_addr },
				 { check_shared_addr, check_shared_addr } },
};
#undef BODY

static const struct msg_desc *desc_of(unsigned type)
{
	if (type == 0 || type >= MG_MSG_TYPE_COUNT || msg_table[type].name == NULL)
		return NULL;
	return &msg_table[type];
}

const char *mg_proto_type_name(unsigned type)
{
	const struct msg_desc *d = desc_of(type);

	return d != NULL ? d->name : "?";
}

const char *mg_proto_drop_name(unsigned reason)
{
	static const char *const names[MG_DROP_REASON_COUNT] = {
		[MG_DROP_AUTH] = "auth",
		[MG_DROP_REPLAY] = "replay",
		[MG_DROP_UNKNOWN_DEST] = "unknown_destination",
		[MG_DROP_SOURCE_MISMATCH] = "source_mismatch",
		[MG_DROP_MALFORMED] = "malformed",
		[MG_DROP_NO_NEIGHBOUR] = "no_neighbour",
		[MG_DROP_TX_FULL] = "tx_full",
		[MG_DROP_KEY_EXPIRED] = "key_expired",
		[MG_DROP_MKI] = "unknown_mki",
		[MG_DROP_NO_MBUF] = "no_mbuf",
		[MG_DROP_OTHER] = "other",
		[MG_DROP_BLOCKED] = "blocked",
	};

	return reason < MG_DROP_REASON_COUNT ? names[reason] : "?";
}

int mg_proto_body_size(unsigned type, bool reply)
{
	const struct msg_desc *d = desc_of(type);

	if (d == NULL)
		return -EPROTO;
	return (int)d->size[reply ? 1 : 0];
}

int mg_proto_encode(void *buf, size_t buflen, unsigned type, uint16_t flags, uint32_t req_id,
		    int32_t result, const void *body)
{
	const struct msg_desc *d = desc_of(type);
	bool reply = flags & MG_PROTO_F_REPLY;
	struct mg_proto_hdr h;
	size_t blen;
	int rc;

	last_error[0] = '\0';
	if (d == NULL) {
		snprintf(last_error, sizeof(last_error), "unknown message type %u", type);
		return -EPROTO;
	}
	if (flags & ~MG_PROTO_F_REPLY)
		return fail("unknown header flags 0x%x", flags);
	if (!reply && result != 0)
		return fail("a request carries no result");
	if (result > 0)
		return fail("result %d: must be 0 or -errno", result);
	blen = d->size[reply];
	if (body == NULL) {
		/* Error replies may leave the body out. */
		if (blen != 0 && !(reply && result < 0))
			return fail("%s: body required", d->name);
		blen = 0;
	}
	if (buflen < sizeof(h) + blen) {
		snprintf(last_error, sizeof(last_error), "%s: %zu-byte buffer, need %zu",
			 d->name, buflen, sizeof(h) + blen);
		return -EMSGSIZE;
	}
	if (blen > 0) {
		rc = d->check[reply](body);
		if (rc < 0)
			return rc;
	}
	h = (struct mg_proto_hdr){
		.version = MG_PROTO_VERSION,
		.type = (uint16_t)type,
		.flags = flags,
		.req_id = req_id,
		.result = result,
		.length = (uint32_t)blen,
	};
	swap_hdr(&h);
	memcpy(buf, &h, sizeof(h));
	if (blen > 0) {
		memcpy((uint8_t *)buf + sizeof(h), body, blen);
		d->swap[reply]((uint8_t *)buf + sizeof(h));
	}
	return (int)(sizeof(h) + blen);
}

int mg_proto_decode_hdr(const void *buf, size_t len, struct mg_proto_hdr *hdr)
{
	const struct msg_desc *d;
	bool reply;

	last_error[0] = '\0';
	if (len < sizeof(*hdr)) {
		snprintf(last_error, sizeof(last_error),
			 "truncated: %zu bytes, a header alone is %zu", len, sizeof(*hdr));
		return -EPROTO;
	}
	memcpy(hdr, buf, sizeof(*hdr));
	swap_hdr(hdr);
	if (hdr->version != MG_PROTO_VERSION) {
		snprintf(last_error, sizeof(last_error), "protocol version %u, we speak %u",
			 hdr->version, MG_PROTO_VERSION);
		return -EPROTO;
	}
	d = desc_of(hdr->type);
	if (d == NULL) {
		snprintf(last_error, sizeof(last_error), "unknown message type %u", hdr->type);
		return -EPROTO;
	}
	if ((hdr->flags & ~MG_PROTO_F_REPLY) || hdr->reserved != 0 || hdr->reserved2 != 0) {
		snprintf(last_error, sizeof(last_error),
			 "%s: unknown header flags 0x%x or reserved fields set", d->name,
			 hdr->flags);
		return -EPROTO;
	}
	reply = hdr->flags & MG_PROTO_F_REPLY;
	if (!reply && hdr->result != 0) {
		snprintf(last_error, sizeof(last_error), "%s request with result %d", d->name,
			 hdr->result);
		return -EPROTO;
	}
	if (reply && hdr->result > 0) {
		snprintf(last_error, sizeof(last_error), "%s reply with positive result %d",
			 d->name, hdr->result);
		return -EPROTO;
	}
	if (hdr->length != len - sizeof(*hdr)) {
		snprintf(last_error, sizeof(last_error),
			 "%s: header says %u body bytes, datagram has %zu", d->name, hdr->length,
			 len - sizeof(*hdr));
		return -EMSGSIZE;
	}
	if (hdr->length != d->size[reply] && !(reply && hdr->result < 0 && hdr->length == 0)) {
		snprintf(last_error, sizeof(last_error), "%s %s: %u body bytes, expected %u",
			 d->name, reply ? "reply" : "request", hdr->length, d->size[reply]);
		return -EMSGSIZE;
	}
	return 0;
}

int mg_proto_decode(const void *buf, size_t len, struct mg_proto_hdr *hdr, void *body,
		    size_t body_size)
{
	const struct msg_desc *d;
	bool reply;
	int rc;

	rc = mg_proto_decode_hdr(buf, len, hdr);
	if (rc < 0)
		return rc;
	if (hdr->length == 0)
		return 0;
	d = desc_of(hdr->type);
	reply = hdr->flags & MG_PROTO_F_REPLY;
	if (body == NULL || body_size < hdr->length) {
		snprintf(last_error, sizeof(last_error), "%s: %zu-byte body buffer, need %u",
			 d->name, body_size, hdr->length);
		return -EMSGSIZE;
	}
	memcpy(body, (const uint8_t *)buf + sizeof(*hdr), hdr->length);
	d->swap[reply](body);
	return d->check[reply](body);
}

/* ------------------------------------------------------------------ HELLO */

void mg_proto_hello_init(struct mg_msg_hello *h, enum mg_proto_role role, const char *software)
{
	unsigned n = 0;

	memset(h, 0, sizeof(*h));
	h->version = MG_PROTO_VERSION;
	h->role = role;
	h->pid = (uint32_t)getpid();
	h->hdr_size = sizeof(struct mg_proto_hdr);
	snprintf(h->software, sizeof(h->software), "%s", software != NULL ? software : "");
	for (unsigned t = 1; t < MG_MSG_TYPE_COUNT; t++) {
		if (msg_table[t].name == NULL)
			continue;
		h->sizes[n].type = (uint16_t)t;
		h->sizes[n].req_size = msg_table[t].size[0];
		h->sizes[n].rep_size = msg_table[t].size[1];
		n++;
	}
	h->n_types = n;
}

__attribute__((format(printf, 4, 5))) static void why_add(char *why, size_t len, size_t *off,
							  const char *fmt, ...)
{
	va_list ap;
	int n;

	if (why == NULL || *off >= len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(why + *off, len - *off, fmt, ap);
	va_end(ap);
	if (n > 0)
		*off += (size_t)n;
}

int mg_proto_hello_check(const struct mg_msg_hello *peer, char *why, size_t why_len)
{
	struct mg_msg_hello mine;
	size_t off = 0;
	int bad = 0;

	if (why != NULL && why_len > 0)
		why[0] = '\0';
	mg_proto_hello_init(&mine, MG_ROLE_TOOL, NULL);
	if (peer->version != mine.version) {
		why_add(why, why_len, &off, "protocol version %u, we speak %u; ", peer->version,
			mine.version);
		bad = 1;
	}
	if (peer->hdr_size != mine.hdr_size) {
		why_add(why, why_len, &off, "header %u bytes, ours %u; ", peer->hdr_size,
			mine.hdr_size);
		bad = 1;
	}
	if (peer->n_types != mine.n_types) {
		why_add(why, why_len, &off, "%u message types, we know %u; ", peer->n_types,
			mine.n_types);
		bad = 1;
	}
	for (unsigned i = 0; i < mine.n_types; i++) {
		const struct mg_msg_size *m = &mine.sizes[i];
		const struct mg_msg_size *p = NULL;

		for (unsigned j = 0; j < peer->n_types && j < MG_PROTO_MAX_TYPES; j++)
			if (peer->sizes[j].type == m->type)
				p = &peer->sizes[j];
		if (p == NULL) {
			why_add(why, why_len, &off, "%s missing; ", mg_proto_type_name(m->type));
			bad = 1;
		} else if (p->req_size != m->req_size || p->rep_size != m->rep_size) {
			why_add(why, why_len, &off, "%s request/reply %u/%u bytes, ours %u/%u; ",
				mg_proto_type_name(m->type), p->req_size, p->rep_size,
				m->req_size, m->rep_size);
			bad = 1;
		}
	}
	if (off >= 2 && why != NULL && off < why_len)
		why[off - 2] = '\0'; /* drop the trailing "; " */
	return bad ? -EPROTO : 0;
}

/* -------------------------------------------------------------- addresses */

const char *mg_proto_addr_str(const struct mg_msg_addr *a, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	switch (a->family) {
	case MG_FAMILY_IPV4:
		inet_ntop(AF_INET, a->addr, ip, sizeof(ip));
		snprintf(buf, len, "%s:%u", ip, a->port);
		break;
	case MG_FAMILY_IPV6:
		inet_ntop(AF_INET6, a->addr, ip, sizeof(ip));
		snprintf(buf, len, "[%s]:%u", ip, a->port);
		break;
	default:
		snprintf(buf, len, "none");
		break;
	}
	return buf;
}

int mg_proto_addr_parse(const char *s, struct mg_msg_addr *a)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *port = NULL;
	size_t hl;

	memset(a, 0, sizeof(*a));
	if (s[0] == '[') {
		const char *end = strchr(s, ']');

		if (end == NULL)
			return fail("address '%s': missing ']'", s);
		hl = (size_t)(end - s - 1);
		if (hl >= sizeof(host))
			return fail("address '%s': too long", s);
		memcpy(host, s + 1, hl);
		host[hl] = '\0';
		if (end[1] == ':')
			port = end + 2;
		else if (end[1] != '\0')
			return fail("address '%s': junk after ']'", s);
	} else {
		const char *colon = strchr(s, ':');

		if (colon != NULL && strchr(colon + 1, ':') == NULL) {
			hl = (size_t)(colon - s);
			port = colon + 1;
		} else {
			hl = strlen(s);
		}
		if (hl >= sizeof(host))
			return fail("address '%s': too long", s);
		memcpy(host, s, hl);
		host[hl] = '\0';
	}
	if (inet_pton(AF_INET, host, a->addr) == 1)
		a->family = MG_FAMILY_IPV4;
	else if (inet_pton(AF_INET6, host, a->addr) == 1)
		a->family = MG_FAMILY_IPV6;
	else
		return fail("address '%s': '%s' is not an IPv4 or IPv6 address", s, host);
	if (port != NULL) {
		char *end;
		unsigned long v = strtoul(port, &end, 10);

		if (*port == '\0' || *end != '\0' || v > 65535)
			return fail("address '%s': port '%s' (allowed: 0..65535)", s, port);
		a->port = (uint16_t)v;
	}
	return 0;
}
