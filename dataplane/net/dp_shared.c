/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SHARED_ADDR (docs/standby.md): the media address an active/standby pair
 * shares is owned only while the control plane says so (mgctl ha promote,
 * run by keepalived's notify_master). Taking it sends a gratuitous ARP on
 * each port that has one, so the peers' neighbour entries move to this
 * node's MAC at once. Runs on the main lcore (control socket).
 */
#include <errno.h>
#include <string.h>

#include "dp_ctl.h"
#include "dp_net.h"
#include "dp_port.h"
#include "mg_log.h"
#include "mg_proto.h"

static int h_shared_addr(const void *req, void *rep, const struct dp_ctl_peer *peer)
{
	const struct mg_msg_shared_addr *q = req;
	struct mg_msg_shared_addr *r = rep;
	unsigned n = 0;

	for (unsigned p = 0; p < dp_n_ports; p++)
		if (dp_ports[p].shared_slot > 0)
			n++;
	if (q->flags & MG_SHARED_F_SET) {
		if (n == 0 && q->on) {
			mg_log(MG_LOG_INFO, "SHARED_ADDR from pid %d refused: no port has a "
			       "sharedAddress", (int)peer->pid);
			return -ENOENT;
		}
		if (q->on != __atomic_load_n(&dp_shared_on, __ATOMIC_RELAXED))
			mg_log(MG_LOG_INFO, "shared address %s (pid %d)", q->on ? "taken" : "given up",
			       (int)peer->pid);
		__atomic_store_n(&dp_shared_on, q->on != 0, __ATOMIC_RELEASE);
		/* every time it is asked: keepalived may notify again */
		for (unsigned p = 0; q->on && p < dp_n_ports; p++)
			if (dp_ports[p].shared_slot > 0)
				dp_net_garp(p, dp_ports[p].addrs[dp_ports[p].shared_slot - 1]);
	}
	memset(r, 0, sizeof(*r));
	r->on = __atomic_load_n(&dp_shared_on, __ATOMIC_RELAXED);
	r->n_ports = (uint8_t)n;
	r->garps = dp_net_garps;
	return 0;
}
DP_CTL_REGISTER(MG_MSG_SHARED_ADDR, sizeof(struct mg_msg_shared_addr), h_shared_addr)
