/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * relay-bench traffic generator: a DPDK process on one lcore in the
 * generator's network namespace, on net_af_packet over the veth to the
 * relay (bench/relay-bench). Both ends of every session are here: it
 * answers ARP for the caller and the callee address, sends 172-byte RTP from
 * the caller to each session's relay A-side port and receives what the
 * relay forwards to the callee. Every received packet is verified before it
 * counts: addressed to the callee, from its session's relay B-side address
 * and port, authenticated and decrypted with the relay's SDES key for that
 * leg (SRTP sessions; our own SRTP engine), 172 bytes of RTP with the
 * payload we sent, in order per stream (reordered counts, duplicates and
 * stale ones do not). The first 8 payload bytes are the send time (TSC):
 * latency p50/p99 per trial.
 *
 * Sessions come from a file (relay-bench sets them up over NG), one line
 * each: "A_IP A_PORT B_IP B_PORT KEY": A_* where we send (the relay's answer
 * SDP), B_* where relayed packets come from (its offer SDP), KEY the 30-byte
 * master key+salt in hex of the relay's AES_CM_128_HMAC_SHA1_80 line, or
 * '-' for plain RTP. SSRC = 0x20000000 + session index, one per session for
 * the whole run; sequence numbers continue from trial to trial.
 *
 * Trials: for each rate of --rates (packets/s over all sessions, round
 * robin) send for --ms, drain, print one JSON line: offered, sent, verified,
 * loss (1 - verified/offered: what could not be sent is loss), failures by
 * reason, latency, and the relay's CPU over the trial (sending and draining,
 * per second of sending): utime+stime of the
 * processes in --pids, softirq time of --relay-cpu (/proc/stat), and with
 * --dp-stats CMD (mediagate-dpctl ... stats) the dataplane workers' busy
 * cycles. A step that lost more than --pass-loss % (0.1) is tried again, up
 * to --attempts (3) times, one line per attempt; the search stops after a
 * step where, in its best attempt, the relay lost more than --stop-loss % (5)
 * of what was sent, or the generator could not send half of what it offered.
 * --direct: no relay (net_ring: what we send comes back); we send what the
 * relay would, SRTP-protected for SRTP sessions: the generator's ceiling.
 */
#define ALLOW_EXPERIMENTAL_API
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_arp.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_udp.h>

#include "gen_common.h"
#include "mg_srtp.h"

#define RTP_LEN 172
#define BURST 32
#define SSRC_BASE 0x20000000u
#define PAT 0xd5

struct sess {
	uint32_t to_ip, from_ip;     /* network order: relay A side, relay B side */
	uint16_t to_port, from_port; /* network order */
	struct mg_srtp_ctx *rx;      /* NULL: plain */
	struct mg_srtp_ctx *tx;      /* --direct with SRTP: we protect what we send */
	uint16_t seq, seq0;
	struct gen_stream st; /* the receive side's order check */
};

static struct sess *S;
static unsigned K;
static struct gen_rx_count rxc;
static struct mg_srtp_engine *eng;
static uint64_t *lat;
static size_t n_lat, max_lat = 1u << 21;
static int direct;
static uint32_t a_ip, b_ip; /* network order: caller, callee */
static uint16_t a_port, b_port;
static struct gen_port gp;
static struct rte_ether_addr relay_mac;
static int have_relay_mac;
static uint64_t arp_answered;

static int parse_ep(const char *s, uint32_t *ip, uint16_t *port)
{
	char buf[64];
	const char *c = strrchr(s, ':');

	if (c == NULL || (size_t)(c - s) >= sizeof(buf))
		return -1;
	memcpy(buf, s, (size_t)(c - s));
	buf[c - s] = 0;
	*port = htons((uint16_t)atoi(c + 1));
	return inet_pton(AF_INET, buf, ip) == 1 ? 0 : -1;
}

static struct mg_srtp_ctx *mk_ctx(const uint8_t *key30, enum mg_srtp_dir dir)
{
	struct mg_srtp_policy p = { .suite = MG_SRTP_AES_CM_128_HMAC_SHA1_80, .dir = dir,
				    .nkeys = 1 };
	char err[128];
	struct mg_srtp_ctx *c;

	memcpy(p.keys[0].key, key30, 16);
	memcpy(p.keys[0].salt, key30 + 16, 14);
	c = mg_srtp_ctx_create(&p, err, sizeof(err));
	if (c == NULL) {
		fprintf(stderr, "relay_bench_gen: SRTP context: %s\n", err);
		exit(1);
	}
	return c;
}

static int load_sessions(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[512], aip[64], bip[64], key[128];
	unsigned ap, bp;

	if (f == NULL) {
		perror(path);
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "%63s %u %63s %u %127s", aip, &ap, bip, &bp, key) != 5)
			continue;
		struct sess *n = realloc(S, (K + 1) * sizeof(*S));

		if (n == NULL)
			break;
		S = n;
		struct sess *s = &S[K];

		memset(s, 0, sizeof(*s));
		s->to_port = htons((uint16_t)ap);
		s->from_port = htons((uint16_t)bp);
		if (inet_pton(AF_INET, aip, &s->to_ip) != 1 ||
		    inet_pton(AF_INET, bip, &s->from_ip) != 1 || (K > 0 && s->to_ip != S[0].to_ip)) {
			fprintf(stderr, "relay_bench_gen: bad session line (or not the first's relay "
				"address): %s", line);
			fclose(f);
			return -1;
		}
		s->seq = (uint16_t)(1000 + 7 * K);
		if (strcmp(key, "-") != 0) {
			uint8_t k30[30];

			if (strlen(key) != 60) {
				fprintf(stderr, "relay_bench_gen: key of session %u is not 30 bytes\n", K);
				fclose(f);
				return -1;
			}
			for (int j = 0; j < 30; j++) {
				unsigned v;

				sscanf(key + 2 * j, "%2x", &v);
				k30[j] = (uint8_t)v;
			}
			s->rx = mk_ctx(k30, MG_SRTP_DIR_INBOUND);
			if (direct)
				s->tx = mk_ctx(k30, MG_SRTP_DIR_OUTBOUND);
		}
		K++;
	}
	fclose(f);
	return K > 0 ? 0 : -1;
}

/* ------------------------------------------------------------------ ARP */

/* Requests for the caller or callee address are answered; the relay's
 * reply (or request) gives its MAC. */
static void arp_in(struct rte_mbuf *m)
{
	struct rte_ether_hdr *eh = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	struct rte_arp_hdr *a = (struct rte_arp_hdr *)(eh + 1);

	if (m->data_len >= sizeof(*eh) + sizeof(*a)) {
		if (a->arp_data.arp_sip == S[0].to_ip) {
			relay_mac = a->arp_data.arp_sha;
			have_relay_mac = 1;
		}
		if (a->arp_opcode == rte_cpu_to_be_16(RTE_ARP_OP_REQUEST) &&
		    (a->arp_data.arp_tip == a_ip || a->arp_data.arp_tip == b_ip)) {
			struct rte_ether_addr sha = a->arp_data.arp_sha;

			gen_arp_send(&gp, RTE_ARP_OP_REPLY, &sha, a->arp_data.arp_tip, a->arp_data.arp_sip);
			arp_answered++;
		}
	}
	rte_pktmbuf_free(m);
}

/* ----------------------------------------------------------------- send */

static uint8_t payload[RTP_LEN - 20];
static unsigned cur;

/* @p n frames, sessions round robin; returns how many the port took. */
static unsigned send_burst(unsigned n, uint64_t *tx_short, uint64_t *no_mbuf)
{
	struct rte_mbuf *pk[BURST];
	uint64_t t = rte_rdtsc();

	if (rte_pktmbuf_alloc_bulk(gp.pool, pk, n) != 0) {
		*no_mbuf += n;
		for (unsigned k = 0; k < n; k++) { /* never sent: a gap */
			S[cur].seq++;
			if (++cur == K)
				cur = 0;
		}
		return 0;
	}
	for (unsigned k = 0; k < n; k++) {
		struct sess *s = &S[cur];
		struct rte_mbuf *m = pk[k];
		struct rte_ether_hdr *eh = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eh + 1);
		struct rte_udp_hdr *u = (struct rte_udp_hdr *)(ip + 1);
		uint8_t *r = (uint8_t *)(u + 1);
		uint16_t seq = s->seq++;
		uint32_t v;
		uint16_t len = RTP_LEN;

		eh->dst_addr = relay_mac;
		eh->src_addr = gp.mac;
		eh->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
		memset(ip, 0, sizeof(*ip));
		ip->version_ihl = RTE_IPV4_VHL_DEF;
		ip->time_to_live = 64;
		ip->next_proto_id = IPPROTO_UDP;
		if (direct) { /* as the relay would send it to the callee */
			ip->src_addr = s->from_ip;
			ip->dst_addr = b_ip;
			u->src_port = s->from_port;
			u->dst_port = b_port;
		} else {
			ip->src_addr = a_ip;
			ip->dst_addr = s->to_ip;
			u->src_port = a_port;
			u->dst_port = s->to_port;
		}
		u->dgram_cksum = 0;
		r[0] = 0x80;
		r[1] = 0;
		r[2] = (uint8_t)(seq >> 8);
		r[3] = (uint8_t)seq;
		v = htonl((uint32_t)seq * 160u);
		memcpy(r + 4, &v, 4);
		v = htonl(SSRC_BASE + cur);
		memcpy(r + 8, &v, 4);
		memcpy(r + 12, &t, 8);
		memcpy(r + 20, payload, sizeof(payload));
		if (s->tx != NULL) {
			struct mg_srtp_buf b = { r, RTP_LEN, RTP_LEN + MG_SRTP_MAX_OVERHEAD };
			uint8_t res;

			mg_srtp_protect_burst(eng, s->tx, &b, &res, 1);
			len = b.len;
		}
		m->data_len = (uint16_t)(GEN_HDR + len); /* the pool's 2 KB room: always fits */
		m->pkt_len = m->data_len;
		ip->total_length = rte_cpu_to_be_16((uint16_t)(28 + len));
		ip->hdr_checksum = rte_ipv4_cksum(ip);
		u->dgram_len = rte_cpu_to_be_16((uint16_t)(8 + len));
		if (++cur == K)
			cur = 0;
	}
	uint16_t m = rte_eth_tx_burst(gp.id, 0, pk, (uint16_t)n);

	if (m < n) {
		/* not taken: those sequence numbers are never sent (a gap, loss) */
		*tx_short += n - m;
		rte_pktmbuf_free_bulk(pk + m, n - m);
	}
	return m;
}

/* -------------------------------------------------------------- receive */

/* 1 if the packet counts as carried (in order, or reordered but new);
 * sequence numbers continue from trial to trial: one from before this
 * trial's first is stale. */
static int seq_check(struct sess *s, uint16_t seq)
{
	if (!s->st.started && (int16_t)(uint16_t)(seq - s->seq0) < 0) {
		rxc.stale++; /* sent in an earlier trial */
		return 0;
	}
	return gen_seq_check(&s->st, s->seq0, seq, &rxc);
}

static unsigned poll_rx(void)
{
	struct rte_mbuf *pk[BURST], *sv[BURST];
	struct mg_srtp_ctx *sc[BURST];
	struct mg_srtp_buf bufs[BURST], sb[BURST];
	uint8_t res[BURST], sr[BURST];
	struct sess *ss[BURST];
	unsigned ns = 0, map[BURST], m = 0;
	uint16_t n = rte_eth_rx_burst(gp.id, 0, pk, BURST);
	uint64_t t = rte_rdtsc();

	for (uint16_t k = 0; k < n; k++) {
		struct rte_mbuf *mb = pk[k];
		struct rte_ether_hdr *eh = rte_pktmbuf_mtod(mb, struct rte_ether_hdr *);

		if (eh->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP)) {
			arp_in(mb);
			continue;
		}
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eh + 1);
		struct rte_udp_hdr *u = (struct rte_udp_hdr *)(ip + 1);
		uint8_t *r = (uint8_t *)(u + 1);

		if (eh->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) || mb->nb_segs != 1 ||
		    rte_pktmbuf_data_len(mb) < GEN_HDR + 12 || ip->version_ihl != RTE_IPV4_VHL_DEF ||
		    ip->next_proto_id != IPPROTO_UDP || ip->dst_addr != b_ip ||
		    u->dst_port != b_port) {
			rxc.stray++; /* not to the callee's RTP port */
			rte_pktmbuf_free(mb);
			continue;
		}
		uint32_t ssrc;
		unsigned ulen = rte_be_to_cpu_16(u->dgram_len);

		memcpy(&ssrc, r + 8, 4);
		unsigned i = ntohl(ssrc) - SSRC_BASE;

		if (i >= K || ulen < 8 + 12 || GEN_HDR + ulen - 8 > rte_pktmbuf_data_len(mb) ||
		    ip->src_addr != S[i].from_ip || u->src_port != S[i].from_port) {
			rxc.bad++; /* not from this session's relay leg, or cut short */
			rte_pktmbuf_free(mb);
			continue;
		}
		bufs[ns] = (struct mg_srtp_buf){ r, (uint16_t)(ulen - 8), (uint16_t)(ulen - 8) };
		res[ns] = MG_SRTP_OK;
		if (S[i].rx != NULL) {
			sc[m] = S[i].rx;
			sb[m] = bufs[ns];
			map[m++] = ns;
		}
		ss[ns] = &S[i];
		sv[ns++] = mb;
	}
	if (m > 0) {
		mg_srtp_unprotect_burst_multi(eng, sc, sb, sr, m);
		for (unsigned j = 0; j < m; j++) {
			res[map[j]] = sr[j];
			bufs[map[j]].len = sb[j].len;
		}
	}
	for (unsigned k = 0; k < ns; k++) {
		const uint8_t *r = bufs[k].buf;
		uint16_t seq = (uint16_t)(r[2] << 8 | r[3]);
		uint64_t st;

		if (res[k] != MG_SRTP_OK) {
			if (res[k] == MG_SRTP_REPLAY)
				rxc.replay++;
			else
				rxc.auth_fail++;
		} else if (bufs[k].len != RTP_LEN || r[0] != 0x80 ||
			   memcmp(r + 20, payload, sizeof(payload)) != 0) {
			rxc.bad++;
		} else if (seq_check(ss[k], seq)) {
			rxc.verified++;
			memcpy(&st, r + 12, 8);
			if (n_lat < max_lat && t > st)
				lat[n_lat++] = t - st;
		}
		rte_pktmbuf_free(sv[k]);
	}
	return n;
}

/* ------------------------------------------------------------------ CPU */

/* utime+stime (clock ticks) of the processes in @p pids ("P1,P2") */
static long ticks_of(const char *pids)
{
	char buf[1024], path[64];
	long sum = 0;
	const char *p = pids;

	while (p != NULL && *p) {
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%d/stat", atoi(p));
		f = fopen(path, "r");
		if (f != NULL) {
			if (fgets(buf, sizeof(buf), f) != NULL) {
				char *c = strrchr(buf, ')');
				unsigned long ut = 0, st = 0;

				/* after "pid (comm)": state ppid ... field 14 utime, 15 stime */
				if (c != NULL && sscanf(c + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
							"%lu %lu", &ut, &st) == 2)
					sum += (long)(ut + st);
			}
			fclose(f);
		}
		p = strchr(p, ',');
		if (p != NULL)
			p++;
	}
	return sum;
}

/* softirq and total jiffies of one CPU (/proc/stat cpuN) */
static void cpu_softirq(int cpu, unsigned long long *sirq, unsigned long long *total)
{
	char line[512], name[16];
	FILE *f;

	*sirq = *total = 0;
	if (cpu < 0 || (f = fopen("/proc/stat", "r")) == NULL)
		return;
	snprintf(name, sizeof(name), "cpu%d ", cpu);
	while (fgets(line, sizeof(line), f) != NULL) {
		unsigned long long v[8] = { 0 };

		if (strncmp(line, name, strlen(name)) != 0)
			continue;
		sscanf(line + strlen(name), "%llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1],
		       &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
		for (int j = 0; j < 8; j++)
			*total += v[j];
		*sirq = v[6];
		break;
	}
	fclose(f);
}

/* The dataplane workers' busy cycles and TSC rate, from `CMD` (mediagate-dpctl
 * ... stats: JSON with "tsc_hz" and one "busy_tsc" per worker). 0 if none. */
static uint64_t dp_busy(const char *cmd, uint64_t *hz)
{
	static char out[65536];
	uint64_t sum = 0;
	size_t n;
	FILE *p;

	*hz = 0;
	if (cmd == NULL || (p = popen(cmd, "r")) == NULL)
		return 0;
	n = fread(out, 1, sizeof(out) - 1, p);
	pclose(p);
	out[n] = 0;
	const char *h = strstr(out, "\"tsc_hz\": ");

	if (h != NULL)
		*hz = strtoull(h + 10, NULL, 10);
	for (const char *b = strstr(out, "\"busy_tsc\": "); b != NULL; b = strstr(b + 1, "\"busy_tsc\": "))
		sum += strtoull(b + 12, NULL, 10);
	return sum;
}

int main(int argc, char **argv)
{
	const char *sessions = NULL, *rates = "50000", *pids = "", *dp_cmd = NULL;
	const char *vdev = NULL, *lcore = "0", *prefix = "rlb-gen";
	int have_a = 0, have_b = 0, relay_cpu = -1, opt;
	unsigned ms = 1000;
	double stop_loss = 5.0, pass_loss = 0.1;
	int attempts = 3;
	static const struct option opts[] = {
		{ "sessions", required_argument, NULL, 's' }, { "a", required_argument, NULL, 'a' },
		{ "b", required_argument, NULL, 'b' },	       { "rates", required_argument, NULL, 'r' },
		{ "ms", required_argument, NULL, 't' },	       { "pids", required_argument, NULL, 'p' },
		{ "relay-cpu", required_argument, NULL, 'c' }, { "stop-loss", required_argument, NULL, 'L' },
		{ "dp-stats", required_argument, NULL, 'd' },  { "vdev", required_argument, NULL, 'v' },
		{ "lcore", required_argument, NULL, 'l' },     { "file-prefix", required_argument, NULL, 'f' },
		{ "direct", no_argument, NULL, 'D' },	       { "attempts", required_argument, NULL, 'A' },
		{ "pass-loss", required_argument, NULL, 'P' }, { NULL, 0, NULL, 0 },
	};

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 's': sessions = optarg; break;
		case 'a': have_a = parse_ep(optarg, &a_ip, &a_port) == 0; break;
		case 'b': have_b = parse_ep(optarg, &b_ip, &b_port) == 0; break;
		case 'r': rates = optarg; break;
		case 't': ms = (unsigned)atoi(optarg); break;
		case 'p': pids = optarg; break;
		case 'c': relay_cpu = atoi(optarg); break;
		case 'L': stop_loss = atof(optarg); break;
		case 'd': dp_cmd = optarg; break;
		case 'v': vdev = optarg; break;
		case 'l': lcore = optarg; break;
		case 'f': prefix = optarg; break;
		case 'D': direct = 1; break;
		case 'A': attempts = atoi(optarg); break;
		case 'P': pass_loss = atof(optarg); break;
		default: return 2;
		}
	}
	if (sessions == NULL || !have_a || !have_b || (vdev == NULL && !direct)) {
		fprintf(stderr, "usage: relay_bench_gen --sessions FILE --a IP:PORT --b IP:PORT "
			"(--vdev net_af_packet0,iface=DEV | --direct) [--rates R1,R2,...] [--ms N] "
			"[--pids P1,P2] [--relay-cpu N] [--dp-stats CMD] [--stop-loss PCT] "
			"[--attempts N] [--pass-loss PCT] [--lcore N] [--file-prefix P]\n");
		return 2;
	}
	eng = mg_srtp_engine_create(MG_SRTP_BACKEND_AUTO);
	if (eng == NULL || load_sessions(sessions) < 0)
		return 1;
	memset(payload, PAT, sizeof(payload));
	lat = malloc(max_lat * sizeof(*lat));
	if (lat == NULL)
		return 1;

	const struct gen_eal ge = { .prog = "relay_bench_gen", .lcore = lcore, .mem_mb = "256",
				    .file_prefix = prefix, .vdev = direct ? "net_ring0" : vdev,
				    .no_telemetry = 1, .n_mbufs = 16383 };

	if (gen_port_open(&ge, &gp) < 0)
		return 1;
	uint64_t hz = rte_get_tsc_hz();

	if (direct) {
		relay_mac = gp.mac;
	} else { /* the relay's MAC: ARP for its address */
		uint64_t until = rte_rdtsc() + 5 * hz;

		while (!have_relay_mac && rte_rdtsc() < until) {
			gen_arp_send(&gp, RTE_ARP_OP_REQUEST, NULL, a_ip, S[0].to_ip);
			for (int i = 0; i < 200; i++)
				poll_rx();
			rte_delay_ms(10);
		}
		if (!have_relay_mac) {
			fprintf(stderr, "relay_bench_gen: no ARP answer from the relay\n");
			return 1;
		}
	}
	/* warm-up, not counted: two packets per session, so the relay has
	 * resolved the callee's address (a relay drops or queues what it sends
	 * before that) and every path has run once */
	for (unsigned round = 0; round < 2; round++) {
		for (unsigned w = 0; w < K;) {
			uint64_t ts = 0, nm = 0;
			unsigned n = K - w > BURST ? BURST : K - w;

			w += send_burst(n, &ts, &nm) + (unsigned)ts + (unsigned)nm;
			poll_rx();
			rte_delay_us(200);
		}
		/* the relay's ARP for the callee is answered in here */
		for (uint64_t until = rte_rdtsc() + hz / 3; rte_rdtsc() < until;)
			poll_rx();
	}
	long clk = sysconf(_SC_CLK_TCK);

	unsigned step = 0;
	int attempt = 1;
	double best_relay_loss = 1.0, best_sent = 0.0;

	for (const char *rp = rates; rp != NULL && *rp;) {
		double rate = atof(rp);
		uint64_t dur = (uint64_t)ms * hz / 1000, offered = (uint64_t)(rate * ms / 1000.0);
		uint64_t sent = 0, tx_short = 0, behind = 0, no_mbuf = 0, dh0, dh1;
		unsigned long long s0, t0, s1, t1;

		memset(&rxc, 0, sizeof(rxc));
		n_lat = 0;
		for (unsigned i = 0; i < K; i++) {
			S[i].seq0 = S[i].seq;
			S[i].st.started = 0;
		}
		uint64_t busy0 = dp_busy(dp_cmd, &dh0);
		long c0 = ticks_of(pids);

		cpu_softirq(relay_cpu, &s0, &t0);
		uint64_t start = rte_rdtsc(), t = start;

		/* until all is sent (or 50 ms past the end: the rest is 'behind') */
		while (sent + tx_short + behind + no_mbuf < offered) {
			uint64_t due = (uint64_t)(rate * (double)(t - start) / (double)hz);
			uint64_t done = sent + tx_short + behind + no_mbuf;

			if (due > offered)
				due = offered;
			if (t - start > dur + hz / 20) {
				behind += offered - done;
				break;
			}
			/* more than 100 ms behind schedule (preempted that long): skip (never sent, a gap: loss) */
			if (due > done + (uint64_t)(rate * 0.1) + BURST) {
				uint64_t skip = due - done - BURST;

				behind += skip;
				for (uint64_t j = 0; j < skip; j++) {
					S[cur].seq++;
					if (++cur == K)
						cur = 0;
				}
				done += skip;
			}
			if (due > done) {
				unsigned n = due - done > BURST ? BURST : (unsigned)(due - done);

				sent += send_burst(n, &tx_short, &no_mbuf);
			}
			while (poll_rx() == BURST)
				;
			t = rte_rdtsc();
		}
		uint64_t send_end = t;
		/* drain: until 100 ms pass with nothing, at most 1 s */
		uint64_t last = rte_rdtsc();

		for (;;) {
			uint64_t n = rte_rdtsc();

			if (poll_rx() > 0)
				last = n;
			else if (n - last > hz / 10 || n - send_end > hz)
				break;
		}
		/* the relay's CPU up to here: a relay that fell behind works through
		 * its queues while we drain */
		long c1 = ticks_of(pids);

		cpu_softirq(relay_cpu, &s1, &t1);
		uint64_t busy1 = dp_busy(dp_cmd, &dh1);
		double secs = (double)(send_end - start) / (double)hz;
		double loss = offered ? 1.0 - (double)rxc.verified / (double)offered : 1.0;
		double p50, p99;

		if (loss < 0)
			loss = 0;
		double relay_loss = sent ? 1.0 - (double)rxc.verified / (double)sent : 1.0;

		if (relay_loss < 0)
			relay_loss = 0;
		gen_lat_pct(lat, n_lat, hz, &p50, &p99);
		/* CPU over the whole trial (send and drain) per second of sending: so
		 * verified / (cores * secs) is packets per CPU second */
		double dp_cores = dh1 && busy1 > busy0 ? (double)(busy1 - busy0) / (double)dh1 / secs
						       : 0.0;

		printf("{\"step\": %u, \"attempt\": %d, \"k\": %u, \"direct\": %s, \"offered_pps\": %.0f, \"sent_pps\": %.0f, "
		       "\"verified_pps\": %.0f, \"loss_pct\": %.4f, \"relay_loss_pct\": %.4f, "
		       "\"offered\": %lu, \"sent\": %lu, "
		       "\"verified\": %lu, \"tx_short\": %lu, \"no_mbuf\": %lu, \"behind\": %lu, "
		       "\"auth_fail\": %lu, \"replay\": %lu, \"bad\": %lu, \"stray\": %lu, "
		       "\"reorder\": %lu, \"dup\": %lu, \"late\": %lu, \"stale\": %lu, "
		       "\"lat_p50_us\": %.1f, \"lat_p99_us\": %.1f, \"proc_cores\": %.3f, "
		       "\"softirq_cores\": %.3f, \"dp_busy_cores\": %.3f, \"arp_answered\": %lu, "
		       "\"secs\": %.3f}\n",
		       step, attempt, K, direct ? "true" : "false", (double)offered / secs, (double)sent / secs,
		       (double)rxc.verified / secs, loss * 100, relay_loss * 100, (unsigned long)offered,
		       (unsigned long)sent, (unsigned long)rxc.verified, (unsigned long)tx_short,
		       (unsigned long)no_mbuf, (unsigned long)behind, (unsigned long)rxc.auth_fail,
		       (unsigned long)rxc.replay, (unsigned long)rxc.bad, (unsigned long)rxc.stray,
		       (unsigned long)rxc.reorder, (unsigned long)rxc.dup, (unsigned long)rxc.late,
		       (unsigned long)rxc.stale, p50, p99,
		       pids[0] ? (double)(c1 - c0) / (double)clk / secs : 0.0,
		       t1 > t0 ? (double)(s1 - s0) / (double)clk / secs : 0.0, dp_cores,
		       (unsigned long)arp_answered, secs);
		fflush(stdout);
		/* a step that lost more than --pass-loss is tried again, up to
		 * --attempts times (a shared machine preempts either side now and then) */
		/* over this step's attempts: the least the relay lost of what was
		 * sent, the most the generator managed to send */
		if (attempt == 1 || relay_loss < best_relay_loss)
			best_relay_loss = relay_loss;
		if (attempt == 1 || (offered && (double)sent / (double)offered > best_sent))
			best_sent = offered ? (double)sent / (double)offered : 0.0;
		if (loss * 100 > pass_loss && attempt < attempts) {
			attempt++;
			continue;
		}
		/* stop when the relay lost more than --stop-loss % of what it was
		 * sent, or the generator could not send half of the step */
		if (best_relay_loss * 100 > stop_loss || best_sent < 0.5)
			break;
		attempt = 1;
		step++;
		rp = strchr(rp, ',');
		if (rp != NULL)
			rp++;
	}
	gen_port_close(&gp);
	return 0;
}
