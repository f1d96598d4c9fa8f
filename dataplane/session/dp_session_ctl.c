/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Control handlers of the session messages. The server has decoded and
 * checked the shared field rules already; these check what depends on the
 * tables, log why a request was refused (the wire only carries -errno) and
 * answer.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include <rte_common.h>

#include "dp_ctl.h"
#include "dp_session.h"
#include "dp_worker.h"
#include "mg_log.h"

static int refused(const char *what, const struct dp_ctl_peer *p, int rc, const char *err)
{
	mg_log(MG_LOG_INFO, "%s from pid %d refused: %s (%s)", what, (int)p->pid,
	       err != NULL ? err : "?", strerror(-rc));
	return rc;
}

static int h_port_alloc(const void *req, void *rep, const struct dp_ctl_peer *p)
{
	const char *err = NULL;
	int rc = dp_port_alloc(req, rep, &err);

	return rc < 0 ? refused("PORT_ALLOC", p, rc, err) : 0;
}
DP_CTL_REGISTER(MG_MSG_PORT_ALLOC, sizeof(struct mg_msg_port_alloc), h_port_alloc)

static int h_port_free(const void *req, void *rep, const struct dp_ctl_peer *p)
{
	const char *err = NULL;
	int rc = dp_port_free(req, &err);

	RTE_SET_USED(rep);
	return rc < 0 ? refused("PORT_FREE", p, rc, err) : 0;
}
DP_CTL_REGISTER(MG_MSG_PORT_FREE, sizeof(struct mg_msg_port), h_port_free)

static int h_session_add(const void *req, void *rep, const struct dp_ctl_peer *p)
{
	const struct mg_msg_session *s = req;
	struct mg_msg_session_id *id = rep;
	const char *err = NULL;
	int rc = dp_session_add(s, false, &err);

	if (rc < 0)
		return refused("SESSION_ADD", p, rc, err);
	id->id = s->id;
	dp_ctl_set_counts(dp_session_count(), dp_n_workers);
	return 0;
}
DP_CTL_REGISTER(MG_MSG_SESSION_ADD, sizeof(struct mg_msg_session), h_session_add)

static int h_session_modify(const void *req, void *rep, const struct dp_ctl_peer *p)
{
	const struct mg_msg_session *s = req;
	struct mg_msg_session_id *id = rep;
	const char *err = NULL;
	int rc = dp_session_add(s, true, &err);

	if (rc < 0)
		return refused("SESSION_MODIFY", p, rc, err);
	id->id = s->id;
	return 0;
}
DP_CTL_REGISTER(MG_MSG_SESSION_MODIFY, sizeof(struct mg_msg_session), h_session_modify)

static int h_session_del(const void *req, void *rep, const struct dp_ctl_peer *p)
{
	const struct mg_msg_session_id *id = req;
	const char *err = NULL;
	int rc = dp_session_del(id->id, rep, &err);

	if (rc < 0)
		return refused("SESSION_DEL", p, rc, err);
	dp_ctl_set_counts(dp_session_count(), dp_n_workers);
	return 0;
}
DP_CTL_REGISTER(MG_MSG_SESSION_DEL, sizeof(struct mg_msg_session_id), h_session_del)

static int h_session_get(const void *req, void *rep, const struct dp_ctl_peer *p)
{
	const struct mg_msg_session_id *id = req;
	const char *err = NULL;
	int rc = dp_session_get(id->id, rep, &err);

	return rc < 0 ? refused("SESSION_GET", p, rc, err) : 0;
}
DP_CTL_REGISTER(MG_MSG_SESSION_GET, sizeof(struct mg_msg_session_id), h_session_get)

static int h_session_stats(const void *req, void *rep, const struct dp_ctl_peer *p)
{
	const struct mg_msg_session_id *id = req;
	const char *err = NULL;
	int rc = dp_session_stats(id->id, rep, &err);

	return rc < 0 ? refused("SESSION_STATS", p, rc, err) : 0;
}
DP_CTL_REGISTER(MG_MSG_SESSION_STATS, sizeof(struct mg_msg_session_id), h_session_stats)

static int h_session_list(const void *req, void *rep, const struct dp_ctl_peer *p)
{
	const char *err = NULL;
	int rc = dp_session_list(req, rep, &err);

	return rc < 0 ? refused("SESSION_LIST", p, rc, err) : 0;
}
DP_CTL_REGISTER(MG_MSG_SESSION_LIST, sizeof(struct mg_msg_session_list_req), h_session_list)

static int h_fork_add(const void *req, void *rep, const struct dp_ctl_peer *p)
{
	const struct mg_msg_fork *f = req;
	struct mg_msg_fork_id *id = rep;
	const char *err = NULL;
	int rc = dp_fork_add(f, &err);

	if (rc < 0)
		return refused("FORK_ADD", p, rc, err);
	id->session_id = f->session_id;
	id->fork_id = f->fork_id;
	return 0;
}
DP_CTL_REGISTER(MG_MSG_FORK_ADD, sizeof(struct mg_msg_fork), h_fork_add)

static int h_fork_del(const void *req, void *rep, const struct dp_ctl_peer *p)
{
	const char *err = NULL;
	int rc = dp_fork_del(req, &err);

	RTE_SET_USED(rep);
	return rc < 0 ? refused("FORK_DEL", p, rc, err) : 0;
}
DP_CTL_REGISTER(MG_MSG_FORK_DEL, sizeof(struct mg_msg_fork_id), h_fork_del)

static struct {
	uint64_t sessions, ports;
	uint32_t sweeps;
} orphans;

void dp_session_orphan_hook(void *arg)
{
	uint64_t ids[256];
	unsigned n_sess = 0, n_ports;

	RTE_SET_USED(arg);
	if (!dp_ctl_orphan_due())
		return;
	/* collect, then delete (the table is not walked while it changes);
	 * a bound B-channel is released with its session (dp_tdm.c) */
	for (;;) {
		uint32_t next = 0;
		unsigned n = 0;
		uint64_t id;

		while (n < RTE_DIM(ids) && dp_session_iterate(&next, &id) == 0)
			ids[n++] = id;
		if (n == 0)
			break;
		for (unsigned i = 0; i < n; i++) {
			const char *err = NULL;

			if (dp_session_del(ids[i], NULL, &err) == 0)
				n_sess++;
		}
	}
	n_ports = dp_port_free_all();
	orphans.sessions += n_sess;
	orphans.ports += n_ports;
	orphans.sweeps++;
	mg_log(MG_LOG_WARN, "no control plane for mediagate.dataplane.orphanTimeout: removed %u "
	       "session(s) and %u port(s)", n_sess, n_ports);
}

static int h_dp_stats(const void *req, void *rep, const struct dp_ctl_peer *p)
{
	RTE_SET_USED(req);
	RTE_SET_USED(p);
	dp_worker_fill_dp_stats(rep);
	/* the allocator is the session module's, not the workers' */
	((struct mg_msg_dp_stats *)rep)->ports_used = dp_port_used_count();
	((struct mg_msg_dp_stats *)rep)->orphans_removed = orphans.sessions;
	((struct mg_msg_dp_stats *)rep)->orphan_ports_removed = orphans.ports;
	((struct mg_msg_dp_stats *)rep)->orphan_sweeps = orphans.sweeps;
	((struct mg_msg_dp_stats *)rep)->control_connected = dp_ctl_control_connected();
	dp_session_lazy_pools(rep);
	return 0;
}
DP_CTL_REGISTER(MG_MSG_DP_STATS, 0, h_dp_stats)
