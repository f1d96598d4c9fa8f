/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The calls of a dead gateway, ended by its peer (mgctl ha adopt NODE;
 * docs/ha-state.md, "A dead gateway's calls"). The dead node's dataplane
 * took the media with it: nothing is taken over, each leg gets a BYE in its
 * recorded dialog so that both parties stop at once (instead of finding
 * out when their own BYE times out). The dialog's handle is made as for a
 * call read back at start (calls_dialog_handle(), calls_adopt.c); nua holds
 * no session in it, so the BYE goes as nua_method() (calls_io.c) and its
 * answer comes back as nua_r_method (calls_sip_hook()).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "calls_internal.h"
#include "mg_log.h"

struct peer_bye {
	struct peer_bye *next;
	nua_handle_t *nh;
};

static struct {
	struct peer_bye *pending;
	struct calls_peer_counters cnt;
} pe;

void calls_peer_counters(struct calls_peer_counters *out)
{
	*out = pe.cnt;
}

int calls_ua_by_addr(const char *addr)
{
	for (unsigned i = 0; i < calls_io->ua_count(); i++)
		if (strcmp(calls_io->ua_cfg(i)->addr, addr) == 0)
			return (int)i;
	return -1;
}

bool calls_peer_response(nua_handle_t *nh, int status)
{
	struct peer_bye **pp, *b;

	for (pp = &pe.pending; *pp != NULL && (*pp)->nh != nh; pp = &(*pp)->next)
		;
	if (*pp == NULL)
		return false;
	if (status < 200)
		return true;
	if (status < 300)
		pe.cnt.byes_ok++;
	else
		pe.cnt.byes_failed++;
	b = *pp;
	*pp = b->next;
	pe.cnt.pending--;
	calls_io->handle_destroy(b->nh);
	free(b);
	return true;
}

void calls_peer_stop(void)
{
	while (pe.pending != NULL) {
		struct peer_bye *b = pe.pending;

		pe.pending = b->next;
		calls_io->handle_destroy(b->nh);
		free(b);
	}
	pe.cnt.pending = 0;
}

int calls_end_peer(const struct calls_adopt *a, int ua_given)
{
	unsigned n_ua = calls_io->ua_count();

	if (n_ua == 0)
		return -ENODEV;
	for (unsigned li = 0; li < 2; li++)
		if (a->leg[li].call_id == NULL || a->leg[li].call_id[0] == '\0' || a->leg[li].remote_target == NULL ||
		    a->leg[li].remote_target[0] == '\0')
			return -EINVAL;
	for (unsigned li = 0; li < 2; li++) {
		const struct calls_adopt_leg *l = &a->leg[li];
		/* the user agent on the dead node's address (moved here), so
		 * that the answers, sent where its INVITE came from, reach us;
		 * else the dead node's index when this node has it, else the first */
		unsigned ua = ua_given >= 0 ? (unsigned)ua_given : l->ua < n_ua ? l->ua : 0;
		struct peer_bye *b = calloc(1, sizeof(*b));
		char contact[sizeof(((struct call_leg *)0)->contact)]; /* as a call's leg */

		if (b == NULL || (b->nh = calls_dialog_handle(ua, li, l, NULL)) == NULL) {
			free(b);
			return -ENOMEM;
		}
		calls_io->ua_contact(ua, NULL, contact, sizeof(contact));
		b->next = pe.pending;
		pe.pending = b;
		pe.cnt.pending++;
		pe.cnt.byes_sent++;
		MG_INFO("peer call %llu: BYE to leg %u in its dialog (Call-ID %s)", (unsigned long long)a->sess_id,
			li, l->call_id);
		calls_io->dialog_bye(b->nh, l->remote_target, contact, l->local_cseq + 1);
	}
	pe.cnt.calls++;
	return 0;
}
