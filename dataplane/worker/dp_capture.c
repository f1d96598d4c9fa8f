/* SPDX-License-Identifier: BSD-3-Clause */
/* Per-session pcapng capture: see dp_capture.h. */
#define ALLOW_EXPERIMENTAL_API
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_mempool.h>
#include <rte_pcapng.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>
#include <rte_telemetry.h>
#include <rte_udp.h>

#include "dp_capture.h"
#include "dp_ctl.h"
#include "dp_session.h"
#include "mg_log.h"

#define CAP_RING_SIZE 2048
#define CAP_POOL_SIZE 2047
#define CAP_BURST 32
#define CAP_IDLE_NS 1000000L      /* the writer's sleep while the ring is empty */
#define CAP_NOTHING_NS 20000000L  /* ... and while nothing is captured at all */
#define CAP_KIND_SHIFT 8

struct dp_capture_slot dp_capture_slots[DP_CAPTURE_SLOTS];
uint32_t dp_capture_n_active;

struct rte_ring *dp_capture_ring;
struct rte_mempool *dp_capture_pool;
static pthread_t writer;
static bool writer_started;
static volatile int writer_quit;
static char cap_dir[PATH_MAX];
/* main lcore: what stopped captures counted */
static struct dp_capture_totals done;

/* ------------------------------------------------------------ packet path */

struct dp_capture_slot *dp_capture_lookup(uint64_t session_id)
{
	for (unsigned i = 0; i < DP_CAPTURE_SLOTS; i++)
		if (__atomic_load_n(&dp_capture_slots[i].session_id, __ATOMIC_ACQUIRE) == session_id)
			return &dp_capture_slots[i];
	return NULL;
}

/* A decrypted packet in its received headers: lengths and IP checksum of the
 * shorter plaintext, UDP checksum 0 (none) */
static void fix_headers(uint8_t *f, uint16_t hdr_len, uint32_t pkt_len)
{
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(f + RTE_ETHER_HDR_LEN);
	uint16_t ihl = (uint16_t)(hdr_len - RTE_ETHER_HDR_LEN - sizeof(struct rte_udp_hdr));
	struct rte_udp_hdr *udp = (struct rte_udp_hdr *)((uint8_t *)ip + ihl);
	uint16_t pl = (uint16_t)(pkt_len - hdr_len);
	uint16_t ck;

	ip->total_length = rte_cpu_to_be_16((uint16_t)(ihl + sizeof(*udp) + pl));
	ip->hdr_checksum = 0;
	ck = (uint16_t)rte_raw_cksum(ip, ihl);
	ip->hdr_checksum = ck == 0xffff ? ck : (uint16_t)~ck;
	udp->dgram_len = rte_cpu_to_be_16((uint16_t)(sizeof(*udp) + pl));
	udp->dgram_cksum = 0;
}

void dp_capture_pkt(struct dp_capture_slot *c, struct rte_mbuf *m, uint16_t hdr_len,
		    uint16_t port_id, enum dp_capture_kind kind, uint64_t tsc)
{
	struct rte_mbuf *mc;
	uint8_t *f;

	if (hdr_len > 0) {
		f = (uint8_t *)rte_pktmbuf_prepend(m, hdr_len);
		if (unlikely(f == NULL)) {
			c->drops_no_mbuf++;
			return;
		}
		if (kind == DP_CAPTURE_DECRYPTED)
			fix_headers(f, hdr_len, m->pkt_len);
	}
	mc = rte_pcapng_copy(port_id, 0, m, dp_capture_pool, DP_CAPTURE_SNAPLEN, tsc,
			     kind == DP_CAPTURE_OUT ? RTE_PCAPNG_DIRECTION_OUT
						    : RTE_PCAPNG_DIRECTION_IN);
	if (hdr_len > 0)
		rte_pktmbuf_adj(m, hdr_len);
	if (unlikely(mc == NULL)) {
		c->drops_no_mbuf++;
		return;
	}
	/* the block's timestamp from our own clock pair: rte_pcapng_copy()'s of
	 * this DPDK (22.11) is off by years */
	uint64_t ns = c->base_ns + (uint64_t)((double)(int64_t)(tsc - c->base_tsc) * c->ns_per_tsc);
	uint32_t ts[2] = { (uint32_t)(ns >> 32), (uint32_t)ns };

	memcpy(rte_pktmbuf_mtod_offset(mc, uint8_t *, 12), ts, sizeof(ts));
	mc->hash.usr = c->idx | ((uint32_t)kind << CAP_KIND_SHIFT);
	if (unlikely(rte_ring_mp_enqueue(dp_capture_ring, mc) != 0)) {
		c->drops_ring_full++;
		rte_pktmbuf_free(mc);
		return;
	}
	c->enqueued++;
}

/* ---------------------------------------------------------------- writer */

/* A decrypted copy: rte_pcapng_write_packets() would file it under its DPDK
 * port; it goes to our own interface instead, written as the block it is */
static ssize_t write_decrypted(struct dp_capture_slot *c, struct rte_mbuf *m)
{
	uint8_t *b = rte_pktmbuf_mtod(m, uint8_t *);

	memcpy(b + 8, &c->decrypted_if, sizeof(c->decrypted_if)); /* EPB interface id */
	return write(c->fd, b, m->data_len);
}

static void write_burst(struct rte_mbuf **pkts, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		unsigned idx = m->hash.usr & 0xff;
		unsigned kind = m->hash.usr >> CAP_KIND_SHIFT;
		struct dp_capture_slot *c = &dp_capture_slots[idx < DP_CAPTURE_SLOTS ? idx : 0];
		ssize_t rc = -1;

		if (idx < DP_CAPTURE_SLOTS && c->pcap != NULL)
			rc = kind == DP_CAPTURE_DECRYPTED ? write_decrypted(c, m)
							  : rte_pcapng_write_packets(c->pcap, &m, 1);
		if (rc < 0) {
			c->write_errors++;
		} else {
			c->packets++;
			c->bytes += m->data_len;
		}
		rte_pktmbuf_free(m);
	}
}

static void close_slot(struct dp_capture_slot *c)
{
	struct rte_mbuf *pkts[CAP_BURST];
	unsigned n;

	/* everything the workers enqueued for it happened before stop_req */
	while ((n = rte_ring_sc_dequeue_burst(dp_capture_ring, (void **)pkts, CAP_BURST, NULL)) > 0)
		write_burst(pkts, n);
	if (c->pcap != NULL)
		rte_pcapng_close(c->pcap); /* closes the fd */
	c->pcap = NULL;
	c->fd = -1;
	__atomic_store_n(&c->closed, 1, __ATOMIC_RELEASE);
}

static void *writer_main(void *arg)
{
	struct rte_mbuf *pkts[CAP_BURST];

	RTE_SET_USED(arg);
	pthread_setname_np(pthread_self(), "mg-capture");
	while (!writer_quit) {
		unsigned n = rte_ring_sc_dequeue_burst(dp_capture_ring, (void **)pkts, CAP_BURST, NULL);

		if (n > 0) {
			write_burst(pkts, n);
			continue;
		}
		bool busy = __atomic_load_n(&dp_capture_n_active, __ATOMIC_RELAXED) != 0;

		for (unsigned i = 0; i < DP_CAPTURE_SLOTS; i++) {
			struct dp_capture_slot *c = &dp_capture_slots[i];

			if (__atomic_load_n(&c->stop_req, __ATOMIC_ACQUIRE) &&
			    !__atomic_load_n(&c->closed, __ATOMIC_RELAXED))
				close_slot(c);
		}
		/* no capture: 50 wake-ups a second, a stop waits 20 ms at most */
		struct timespec ts = { 0, busy ? CAP_IDLE_NS : CAP_NOTHING_NS };

		nanosleep(&ts, NULL);
	}
	return NULL;
}

/* ---------------------------------------------------------------- control */

static int t_capture(const char *cmd, const char *params, struct rte_tel_data *d);

int dp_capture_init(const struct mg_settings *s)
{
	return dp_capture_init_sized(s->capture_dir, CAP_RING_SIZE, CAP_POOL_SIZE, true);
}

int dp_capture_init_sized(const char *dir, unsigned ring_size, unsigned pool_n, bool with_writer)
{
	int rc;

	snprintf(cap_dir, sizeof(cap_dir), "%s", dir);
	for (unsigned i = 0; i < DP_CAPTURE_SLOTS; i++) {
		dp_capture_slots[i].idx = i;
		dp_capture_slots[i].fd = -1;
	}
	dp_capture_ring = rte_ring_create("dp_capture", ring_size, (int)rte_socket_id(), RING_F_SC_DEQ);
	dp_capture_pool = rte_pktmbuf_pool_create("dp_capture", pool_n, 0, 0,
					   (uint16_t)(RTE_PKTMBUF_HEADROOM +
						      rte_pcapng_mbuf_size(DP_CAPTURE_SNAPLEN)),
					   (int)rte_socket_id());
	if (dp_capture_ring == NULL || dp_capture_pool == NULL) {
		mg_log(MG_LOG_ERR, "capture: cannot create its ring or pool: %s",
		       rte_strerror(rte_errno));
		return -ENOMEM;
	}
	if (rte_telemetry_register_cmd("/mediagate/capture", t_capture,
				       "Captures: active, started, packets written, lost copies "
				       "by reason") != 0)
		mg_log(MG_LOG_WARN, "capture: telemetry command not registered");
	if (!with_writer)
		return 0;
	writer_quit = 0;
	rc = pthread_create(&writer, NULL, writer_main, NULL);
	if (rc != 0) {
		mg_log(MG_LOG_ERR, "capture: writer thread: %s", strerror(rc));
		return -rc;
	}
	writer_started = true;
	return 0;
}

/* The workers are past every enqueue for an unpublished slot. */
static void workers_grace(void)
{
	if (dp_qsbr != NULL)
		rte_rcu_qsbr_check(dp_qsbr, rte_rcu_qsbr_start(dp_qsbr), true);
}

static void slot_counts(const struct dp_capture_slot *c, uint64_t id,
			struct mg_msg_capture_stats *out)
{
	memset(out, 0, sizeof(*out));
	out->session_id = id;
	out->packets = c->packets;
	out->bytes = c->bytes;
	out->drops_ring_full = c->drops_ring_full;
	out->drops_no_mbuf = c->drops_no_mbuf;
	out->write_errors = c->write_errors;
}

/* Unpublish, wait for the workers and the writer, account. */
static void slot_stop(struct dp_capture_slot *c, struct mg_msg_capture_stats *out)
{
	uint64_t id = c->session_id;

	__atomic_store_n(&c->session_id, 0, __ATOMIC_RELEASE);
	__atomic_fetch_sub(&dp_capture_n_active, 1, __ATOMIC_RELEASE);
	workers_grace();
	__atomic_store_n(&c->stop_req, 1, __ATOMIC_RELEASE);
	if (writer_started) {
		while (!__atomic_load_n(&c->closed, __ATOMIC_ACQUIRE)) {
			struct timespec ts = { 0, 1000000L };

			nanosleep(&ts, NULL);
		}
	} else {
		close_slot(c);
	}
	slot_counts(c, id, out);
	done.packets += c->packets;
	done.drops_ring_full += c->drops_ring_full;
	done.drops_no_mbuf += c->drops_no_mbuf;
	done.write_errors += c->write_errors;
	mg_log(MG_LOG_INFO, "capture of session %" PRIu64 " to %s stopped: %" PRIu64
	       " packets written, %" PRIu64 " lost (ring full), %" PRIu64 " lost (no mbuf), %"
	       PRIu64 " write errors", id, c->path, c->packets, c->drops_ring_full,
	       c->drops_no_mbuf, c->write_errors);
	memset(c, 0, offsetof(struct dp_capture_slot, path));
	c->idx = (uint32_t)(c - dp_capture_slots);
	c->fd = -1;
	c->path[0] = '\0';
}

void dp_capture_fini(void)
{
	struct mg_msg_capture_stats st;

	for (unsigned i = 0; i < DP_CAPTURE_SLOTS; i++)
		if (dp_capture_slots[i].session_id != 0)
			slot_stop(&dp_capture_slots[i], &st);
	if (writer_started) {
		writer_quit = 1;
		pthread_join(writer, NULL);
		writer_started = false;
	}
}

/*
 * The file: a new regular file directly in mediagate.dataplane.captureDir
 * (compared after resolving symlinks of both directories), created with
 * O_EXCL|O_NOFOLLOW relative to the directory, mode 0640.
 */
static int open_capture_file(const char *path, const char **err)
{
	char dir[PATH_MAX], real_dir[PATH_MAX], real_cap[PATH_MAX];
	const char *base = strrchr(path, '/');
	int dfd, fd;

	if (base == NULL || base[1] == '\0' || strcmp(base + 1, ".") == 0 ||
	    strcmp(base + 1, "..") == 0) {
		*err = "the path names no file";
		return -EINVAL;
	}
	snprintf(dir, sizeof(dir), "%.*s", (int)(base - path), path);
	if (dir[0] == '\0')
		snprintf(dir, sizeof(dir), "/");
	if (realpath(cap_dir, real_cap) == NULL) {
		*err = "mediagate.dataplane.captureDir does not exist";
		return -ENOENT;
	}
	if (realpath(dir, real_dir) == NULL || strcmp(real_dir, real_cap) != 0) {
		*err = "the file is not directly in mediagate.dataplane.captureDir";
		return -EACCES;
	}
	dfd = open(real_cap, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		*err = "cannot open mediagate.dataplane.captureDir";
		return -errno;
	}
	fd = openat(dfd, base + 1, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640);
	int e = errno;

	close(dfd);
	if (fd < 0) {
		*err = e == EEXIST ? "the file exists (captures never overwrite)"
				   : "cannot create the file";
		return -e;
	}
	return fd;
}

/* Interface block of the decrypted copies (pcapng IDB, Ethernet, ns). */
static int write_decrypted_idb(int fd)
{
	static const char name[] = "mediagate-decrypted"; /* 19 bytes, padded to 20 */
	uint8_t b[64] = { 0 };
	uint32_t v, len = 16 + 4 + 20 + 4 + 4 + 4 + 4;
	unsigned o = 0;

#define PUT32(x) (v = (x), memcpy(b + o, &v, 4), o += 4)
#define PUT16(x) (b[o] = (uint8_t)((x) & 0xff), b[o + 1] = (uint8_t)((x) >> 8), o += 2)
	PUT32(1);   /* Interface Description Block */
	PUT32(len);
	PUT16(1);   /* LINKTYPE_ETHERNET */
	PUT16(0);
	PUT32(DP_CAPTURE_SNAPLEN);
	PUT16(2);   /* if_name */
	PUT16(sizeof(name) - 1);
	memcpy(b + o, name, sizeof(name) - 1);
	o += 20;
	PUT16(9);   /* if_tsresol: 10^-9, as DPDK's packet blocks */
	PUT16(1);
	b[o] = 9;
	o += 4;
	PUT32(0);   /* opt_endofopt */
	PUT32(len);
#undef PUT32
#undef PUT16
	return write(fd, b, o) == (ssize_t)o ? 0 : -EIO;
}

int dp_capture_start(const struct mg_msg_capture *req, const char **err)
{
	struct dp_capture_slot *c = NULL;
	unsigned n_if = 0;
	uint16_t pid;
	int fd;

	if (dp_capture_ring == NULL) {
		*err = "capture is not initialised";
		return -ENOTSUP;
	}
	if (dp_session_find(req->session_id) == NULL) {
		*err = "no such session";
		return -ENOENT;
	}
	if (dp_capture_lookup(req->session_id) != NULL) {
		*err = "the session is being captured already";
		return -EBUSY;
	}
	for (unsigned i = 0; i < DP_CAPTURE_SLOTS && c == NULL; i++)
		if (dp_capture_slots[i].session_id == 0)
			c = &dp_capture_slots[i];
	if (c == NULL) {
		*err = "as many captures as the dataplane runs at once are running";
		return -ENOSPC;
	}
	fd = open_capture_file(req->path, err);
	if (fd < 0)
		return fd;
	c->pcap = rte_pcapng_fdopen(fd, NULL, NULL, "mediagate-dataplane", NULL);
	if (c->pcap == NULL) {
		close(fd);
		unlink(req->path);
		*err = "rte_pcapng_fdopen failed";
		return -EIO;
	}
	/* rte_pcapng_fdopen() wrote one interface per DPDK port, in this order */
	RTE_ETH_FOREACH_DEV(pid)
		n_if++;
	if (write_decrypted_idb(fd) < 0) {
		rte_pcapng_close(c->pcap);
		c->pcap = NULL;
		unlink(req->path);
		*err = "cannot write the file";
		return -EIO;
	}
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	c->base_tsc = rte_get_tsc_cycles();
	c->base_ns = (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
	c->ns_per_tsc = 1e9 / (double)rte_get_tsc_hz();
	c->fd = fd;
	c->decrypted_if = n_if;
	c->flags = req->flags;
	c->stop_req = 0;
	c->closed = 0;
	snprintf(c->path, sizeof(c->path), "%s", req->path);
	done.started++;
	__atomic_store_n(&c->session_id, req->session_id, __ATOMIC_RELEASE);
	__atomic_fetch_add(&dp_capture_n_active, 1, __ATOMIC_RELEASE);
	mg_log(MG_LOG_INFO, "capture of session %" PRIu64 " to %s started%s", req->session_id,
	       c->path, (c->flags & MG_CAPTURE_F_DECRYPTED) ? " (with decrypted RTP)" : "");
	return 0;
}

int dp_capture_stop(uint64_t session_id, struct mg_msg_capture_stats *out, const char **err)
{
	struct dp_capture_slot *c = dp_capture_lookup(session_id);

	if (c == NULL) {
		*err = "the session is not being captured";
		return -ENOENT;
	}
	slot_stop(c, out);
	return 0;
}

void dp_capture_totals(struct dp_capture_totals *t)
{
	*t = done;
	t->active = __atomic_load_n(&dp_capture_n_active, __ATOMIC_RELAXED);
	for (unsigned i = 0; i < DP_CAPTURE_SLOTS; i++) {
		const struct dp_capture_slot *c = &dp_capture_slots[i];

		if (c->session_id == 0)
			continue;
		t->packets += c->packets;
		t->drops_ring_full += c->drops_ring_full;
		t->drops_no_mbuf += c->drops_no_mbuf;
		t->write_errors += c->write_errors;
	}
}

/* /mediagate/capture: totals, and the sessions captured now */
static int t_capture(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct dp_capture_totals t;
	struct rte_tel_data *drops = rte_tel_data_alloc();
	struct rte_tel_data *ids = rte_tel_data_alloc();

	RTE_SET_USED(cmd);
	RTE_SET_USED(params);
	if (drops == NULL || ids == NULL) {
		rte_tel_data_free(drops);
		rte_tel_data_free(ids);
		return -ENOMEM;
	}
	dp_capture_totals(&t);
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "active", t.active);
	rte_tel_data_add_dict_u64(d, "started", t.started);
	rte_tel_data_add_dict_u64(d, "packets", t.packets);
	rte_tel_data_start_dict(drops);
	rte_tel_data_add_dict_u64(drops, "capture_ring_full", t.drops_ring_full);
	rte_tel_data_add_dict_u64(drops, "capture_no_mbuf", t.drops_no_mbuf);
	rte_tel_data_add_dict_u64(drops, "capture_write_error", t.write_errors);
	rte_tel_data_add_dict_container(d, "drops", drops, 0);
	rte_tel_data_start_array(ids, RTE_TEL_U64_VAL);
	for (unsigned i = 0; i < DP_CAPTURE_SLOTS; i++) {
		uint64_t id = __atomic_load_n(&dp_capture_slots[i].session_id, __ATOMIC_RELAXED);

		if (id != 0)
			rte_tel_data_add_array_u64(ids, id);
	}
	rte_tel_data_add_dict_container(d, "sessions", ids, 0);
	return 0;
}

/* ------------------------------------------------------------- handlers */

static int h_capture_start(const void *req, void *rep, const struct dp_ctl_peer *p)
{
	const char *err = NULL;
	int rc = dp_capture_start(req, &err);

	RTE_SET_USED(rep);
	if (rc < 0)
		mg_log(MG_LOG_INFO, "CAPTURE_START from pid %d refused: %s (%s)", (int)p->pid,
		       err != NULL ? err : "?", strerror(-rc));
	return rc;
}
DP_CTL_REGISTER(MG_MSG_CAPTURE_START, sizeof(struct mg_msg_capture), h_capture_start)

static int h_capture_stop(const void *req, void *rep, const struct dp_ctl_peer *p)
{
	const struct mg_msg_session_id *id = req;
	const char *err = NULL;
	int rc = dp_capture_stop(id->id, rep, &err);

	if (rc < 0)
		mg_log(MG_LOG_INFO, "CAPTURE_STOP from pid %d refused: %s (%s)", (int)p->pid,
		       err != NULL ? err : "?", strerror(-rc));
	return rc;
}
DP_CTL_REGISTER(MG_MSG_CAPTURE_STOP, sizeof(struct mg_msg_session_id), h_capture_stop)
