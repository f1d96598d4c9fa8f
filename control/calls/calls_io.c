/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The engine's seam to the world: sofia's nua and the SIP user agents
 * (control/sip) and the routing rules (control/routing). The engine calls
 * them only through calls_io, so that calls_test.c can drive it with fakes;
 * these are the real ones. The dataplane is the media layer's
 * (control/media): the test fakes it there (media_dp_io).
 */
#include <errno.h>
#include <stdio.h>

#include <sofia-sip/nua_tag.h>
#include <sofia-sip/sip_header.h>

#include "calls_internal.h"

static nua_handle_t *io_handle(unsigned ua, void *magic, const char *to, const char *from)
{
	return nua_handle(sipua_nua(ua), magic, SIPTAG_TO_STR(to), SIPTAG_FROM_STR(from), TAG_END());
}

static void *io_handle_magic(nua_handle_t *nh)
{
	return nua_handle_magic(nh);
}

static void io_handle_bind(nua_handle_t *nh, void *magic)
{
	nua_handle_bind(nh, magic);
}

static void io_handle_destroy(nua_handle_t *nh)
{
	nua_handle_destroy(nh);
}

static void io_respond(nua_handle_t *nh, int status, const char *phrase, const char *contact,
		       const char *warning, const char *retry_after, const char *sdp)
{
	nua_respond(nh, status, phrase, TAG_IF(contact != NULL, SIPTAG_CONTACT_STR(contact)),
		    TAG_IF(warning != NULL, SIPTAG_WARNING_STR(warning)),
		    TAG_IF(retry_after != NULL, SIPTAG_RETRY_AFTER_STR(retry_after)),
		    TAG_IF(sdp != NULL, SIPTAG_CONTENT_TYPE_STR("application/sdp")),
		    TAG_IF(sdp != NULL, SIPTAG_PAYLOAD_STR(sdp)), TAG_END());
}

static void io_invite(nua_handle_t *nh, const char *url, const char *contact, const char *sdp)
{
	nua_invite(nh, TAG_IF(url != NULL, NUTAG_URL(url)), SIPTAG_CONTACT_STR(contact),
		   SIPTAG_CONTENT_TYPE_STR("application/sdp"), SIPTAG_PAYLOAD_STR(sdp), TAG_END());
}

static void io_bye(nua_handle_t *nh, const char *reason)
{
	nua_bye(nh, TAG_IF(reason != NULL, SIPTAG_REASON_STR(reason)), TAG_END());
}

static void io_cancel(nua_handle_t *nh)
{
	nua_cancel(nh, TAG_END());
}

static unsigned io_rules_count(struct route_set *set)
{
	return route_table_count(set->current);
}

static int io_route(struct route_set *set, const struct route_kv *kv, size_t n,
		    const struct route_env *env, struct route_result *out)
{
	struct route_table *t = route_set_get(set);
	int rc;

	if (t == NULL)
		return -ENOENT;
	rc = route_match(t, kv, n, env, out);
	route_table_unref(t);
	return rc;
}

static const char *io_local_tag(nua_handle_t *nh)
{
	const sip_to_t *l = nua_handle_local(nh);

	return l != NULL ? l->a_tag : NULL;
}

static nua_handle_t *io_dialog_handle(unsigned ua, void *magic, const char *call_id, const char *local,
				      const char *remote, const char *route)
{
	return nua_handle(sipua_nua(ua), magic, SIPTAG_CALL_ID_STR(call_id), SIPTAG_FROM_STR(local),
			  SIPTAG_TO_STR(remote), TAG_IF(route[0] != '\0', SIPTAG_ROUTE_STR(route)), TAG_END());
}

static void io_dialog_invite(nua_handle_t *nh, const char *url, const char *contact, const char *sdp, uint32_t cseq)
{
	char cs[32];

	snprintf(cs, sizeof(cs), "%u INVITE", cseq);
	nua_invite(nh, NUTAG_URL(url), SIPTAG_CSEQ_STR(cs), SIPTAG_CONTACT_STR(contact),
		   SIPTAG_CONTENT_TYPE_STR("application/sdp"), SIPTAG_PAYLOAD_STR(sdp), TAG_END());
}

/* A BYE in a dialog nua does not hold (calls_peer.c): nua_bye() needs a
 * session of the handle, nua_method() sends any method with the handle's
 * Call-ID, From and To (tags) and the route set given. */
static void io_dialog_bye(nua_handle_t *nh, const char *url, const char *contact, uint32_t cseq)
{
	char cs[32];

	snprintf(cs, sizeof(cs), "%u BYE", cseq);
	nua_method(nh, NUTAG_METHOD("BYE"), NUTAG_URL(url), SIPTAG_CSEQ_STR(cs), SIPTAG_CONTACT_STR(contact),
		   SIPTAG_REASON_STR("SIP;cause=480;text=\"gateway failed, call ended by its peer\""), TAG_END());
}

const struct calls_io calls_io_real = {
	.ua_count = sipua_count,
	.ua_cfg = sipua_cfg,
	.ua_contact = sipua_contact,
	.set_hook = sipua_set_hook,
	.handle = io_handle,
	.handle_magic = io_handle_magic,
	.handle_bind = io_handle_bind,
	.handle_destroy = io_handle_destroy,
	.respond = io_respond,
	.invite = io_invite,
	.bye = io_bye,
	.cancel = io_cancel,
	.local_tag = io_local_tag,
	.dialog_handle = io_dialog_handle,
	.dialog_invite = io_dialog_invite,
	.dialog_bye = io_dialog_bye,
	.rules_reload = route_set_reload,
	.rules_count = io_rules_count,
	.route = io_route,
};

const struct calls_io *calls_io = &calls_io_real;
