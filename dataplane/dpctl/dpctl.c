/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mediagate-dpctl: operator CLI over the dataplane's control socket. One
 * command per protocol message, JSON on stdout, errors on stderr. Links no
 * DPDK: it speaks only the shared wire protocol. mgctl (control/mgctl)
 * builds this file with MG_DPCTL_EMBEDDED for its `mgctl dp ...` commands:
 * one implementation of the dataplane's commands for both programs.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "mg_build_config.h"
#include "mg_config.h"
#include "mg_log.h"
#include "mg_proto.h"

#define EXIT_DP_ERROR 1
#define EXIT_USAGE 2
#define EXIT_CONNECT 3

static int dp_fd = -1;
static uint32_t next_req_id = 1;
static int timeout_ms = 3000;
static const char *sock_path;
static struct mg_msg_hello dp_hello;

static void usage(FILE *out)
{
	fprintf(out,
		"usage: mediagate-dpctl [--socket PATH | --config FILE] [--timeout MS] COMMAND\n"
		"\n"
		"Talks to mediagate-dataplane over its control socket; prints JSON.\n"
		"\n"
		"commands:\n"
		"  ping [COUNT]                      round trip(s) to the dataplane\n"
		"  hello | info                      dataplane version and message sizes\n"
		"  stats                             dataplane-wide counters\n"
		"  shared [on|off]                   the shared media address (standby pair)\n"
		"  port-alloc [4|6] [addr=IP] [mux]  local RTP (even) / RTCP (odd) ports\n"
		"  port-free IP:PORT [mux]\n"
		"  session add|modify ID leg0 LEGSPEC... leg1 LEGSPEC...\n"
		"  session del|get|stats ID\n"
		"  session list\n"
		"  fork add SESSION FORK leg=0|1 local=IP:PORT remote=IP:PORT [raw] [rtcp]\n"
		"           [suite=NAME key=KEY]\n"
		"  fork del SESSION FORK\n"
		"  tdm bind SESSION CHANNEL leg=0|1 law=pcmu|pcma [pt=N] [event-pt=N] [ssrc=N] [ec]\n"
		"  tdm unbind CHANNEL                prints the channel's media counters\n"
		"  capture start SESSION FILE [decrypted]  pcapng of the session's packets\n"
		"                                    (FILE absolute, new, in captureDir)\n"
		"  capture stop SESSION              prints what was written and lost\n"
		"\n"
		"LEGSPEC words (after leg0 / leg1):\n"
		"  local=IP:PORT remote=IP:PORT cand=IP:PORT (up to %d) rtcp-port=N\n"
		"  policy=strict|latch  mux  handover (media-handover)\n"
		"  rx=SUITE rx-key=KEY [rx-roc=N] [rx-roc-reset]   (and tx=..., tx-key=...)\n"
		"SUITE: NONE, %s\n"
		"KEY: base64 of master key||salt, the SDES inline form, optionally\n"
		"     followed by |LIFETIME (N or 2^N) and |MKI:LENGTH as in a=crypto.\n"
		"IPv6: [2001:db8::1]:4000\n"
		"\n"
		"exit: 0 ok, 1 the dataplane refused (errno in JSON), 2 usage, 3 no connection\n",
		MG_PROTO_MAX_CANDIDATES, mg_srtp_suite_names(0));
}

__attribute__((format(printf, 1, 2), noreturn)) static void die_usage(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "mediagate-dpctl: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n(see mediagate-dpctl --help)\n");
	exit(EXIT_USAGE);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ------------------------------------------------------------- transport */

/*
 * Send one request and wait for its reply. Returns the reply's result
 * (0 or -errno from the dataplane), or exits on a transport error.
 */
static int request(unsigned type, const void *body, void *rep, size_t rep_size)
{
	uint8_t buf[MG_PROTO_MAX_MSG + 1];
	struct mg_proto_hdr h;
	uint32_t id = next_req_id++;
	uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000ull;
	int len, rc;

	len = mg_proto_encode(buf, sizeof(buf), type, 0, id, 0, body);
	if (len < 0)
		die_usage("%s: %s", mg_proto_type_name(type), mg_proto_last_error());
	if (send(dp_fd, buf, (size_t)len, MSG_NOSIGNAL) != len) {
		fprintf(stderr, "mediagate-dpctl: send to %s: %s\n", sock_path, strerror(errno));
		exit(EXIT_CONNECT);
	}
	for (;;) {
		struct pollfd pfd = { .fd = dp_fd, .events = POLLIN };
		int64_t left = (int64_t)(deadline - now_ns()) / 1000000;
		ssize_t n;

		if (left <= 0 || poll(&pfd, 1, (int)left) == 0) {
			fprintf(stderr, "mediagate-dpctl: no answer to %s within %d ms\n",
				mg_proto_type_name(type), timeout_ms);
			exit(EXIT_CONNECT);
		}
		n = recv(dp_fd, buf, sizeof(buf), MSG_TRUNC);
		if (n <= 0) {
			fprintf(stderr, "mediagate-dpctl: the dataplane closed the connection%s%s\n",
				n < 0 ? ": " : "", n < 0 ? strerror(errno) : "");
			exit(EXIT_CONNECT);
		}
		if ((size_t)n > MG_PROTO_MAX_MSG) {
			fprintf(stderr, "mediagate-dpctl: %zd-byte message from the dataplane\n", n);
			exit(EXIT_CONNECT);
		}
		if (rep != NULL)
			memset(rep, 0, rep_size);
		rc = mg_proto_decode(buf, (size_t)n, &h, rep, rep_size);
		if (rc < 0 && !(h.type == MG_MSG_HELLO && rc == -EPROTO && (size_t)n >= sizeof(h))) {
			fprintf(stderr, "mediagate-dpctl: bad reply from the dataplane: %s\n",
				mg_proto_last_error());
			exit(EXIT_CONNECT);
		}
		if (!(h.flags & MG_PROTO_F_REPLY) || h.req_id != id || h.type != type)
			continue; /* stale reply to an earlier, timed-out request */
		return h.result;
	}
}

static void dp_connect(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct mg_msg_hello mine;
	char why[512];
	int rc;

	if (strlen(sock_path) >= sizeof(sa.sun_path))
		die_usage("socket path '%s' too long", sock_path);
	memcpy(sa.sun_path, sock_path, strlen(sock_path) + 1);
	dp_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (dp_fd < 0 || connect(dp_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "mediagate-dpctl: cannot connect to the dataplane at %s: %s\n",
			sock_path, strerror(errno));
		exit(EXIT_CONNECT);
	}
	mg_proto_hello_init(&mine, MG_ROLE_TOOL, "mediagate-dpctl " MG_VERSION);
	rc = request(MG_MSG_HELLO, &mine, &dp_hello, sizeof(dp_hello));
	if (rc == -EACCES) {
		fprintf(stderr, "mediagate-dpctl: refused by the dataplane: uid %u is not in "
			"mediagate.control.allowedUids\n", (unsigned)geteuid());
		exit(EXIT_CONNECT);
	}
	if (rc < 0) {
		if (mg_proto_hello_check(&dp_hello, why, sizeof(why)) < 0)
			fprintf(stderr, "mediagate-dpctl: protocol mismatch with %s: %s\n",
				dp_hello.software, why);
		else
			fprintf(stderr, "mediagate-dpctl: HELLO refused: %s\n", strerror(-rc));
		exit(EXIT_CONNECT);
	}
	if (mg_proto_hello_check(&dp_hello, why, sizeof(why)) < 0) {
		fprintf(stderr, "mediagate-dpctl: protocol mismatch with %s: %s\n",
			dp_hello.software, why);
		exit(EXIT_CONNECT);
	}
}

/* Print the dataplane's refusal as JSON and exit 1. */
static void check_result(unsigned type, int rc)
{
	if (rc == 0)
		return;
	printf("{\"error\": \"%s\", \"errno\": %d, \"request\": \"%s\"}\n", strerror(-rc), -rc,
	       mg_proto_type_name(type));
	fprintf(stderr, "mediagate-dpctl: %s refused by the dataplane: %s\n",
		mg_proto_type_name(type), strerror(-rc));
	exit(EXIT_DP_ERROR);
}

/* --------------------------------------------------------------- parsing */

static uint64_t parse_u64(const char *s, const char *what)
{
	char *end;
	unsigned long long v;

	errno = 0;
	if (strncmp(s, "2^", 2) == 0) {
		v = strtoull(s + 2, &end, 10);
		if (*end != '\0' || v > 63 || s[2] == '\0')
			die_usage("%s '%s': expected N or 2^N (N <= 63)", what, s);
		return 1ull << v;
	}
	v = strtoull(s, &end, 0);
	if (*s == '\0' || *end != '\0' || errno != 0 || *s == '-')
		die_usage("%s '%s' is not a non-negative number", what, s);
	return v;
}

static void parse_addr(const char *s, struct mg_msg_addr *a, const char *what)
{
	if (mg_proto_addr_parse(s, a) < 0)
		die_usage("%s: %s", what, mg_proto_last_error());
}

static enum mg_srtp_suite parse_suite(const char *s)
{
	const struct mg_srtp_suite_info *si;

	if (strcmp(s, "NONE") == 0 || strcmp(s, "none") == 0 || strcmp(s, "RTP") == 0)
		return MG_SRTP_SUITE_NONE;
	si = mg_srtp_suite_by_name(s);
	if (si == NULL)
		die_usage("crypto suite '%s' unknown (allowed: NONE, %s)", s,
			  mg_srtp_suite_names(0));
	return si->id;
}

/* KEY[|LIFETIME][|MKI:LEN]; key and salt lengths come from the suite, which
 * must be set first. */
static void parse_key(const char *spec, struct mg_msg_crypto *c, const char *what)
{
	const struct mg_srtp_suite_info *si = mg_srtp_suite_by_id((enum mg_srtp_suite)c->suite);
	char copy[256];
	unsigned char raw[128];
	char *field, *save = NULL;
	int n, pad = 0;
	size_t blen;

	if (si == NULL)
		die_usage("%s: give the suite (e.g. %s=AES_CM_128_HMAC_SHA1_80) before its key",
			  what, what);
	if (strlen(spec) >= sizeof(copy))
		die_usage("%s key too long", what);
	snprintf(copy, sizeof(copy), "%s", spec);
	field = strtok_r(copy, "|", &save);
	if (field == NULL)
		die_usage("%s: empty key", what);
	blen = strlen(field);
	if (blen == 0 || blen % 4 != 0 || blen / 4 * 3 > sizeof(raw))
		die_usage("%s key: '%s' is not base64 (length must be a multiple of 4)", what,
			  field);
	while (blen > 0 && field[blen - 1 - (size_t)pad] == '=' && pad < 2)
		pad++;
	n = EVP_DecodeBlock(raw, (const unsigned char *)field, (int)blen);
	if (n < 0)
		die_usage("%s key: '%s' is not base64", what, field);
	n -= pad;
	if (n != si->master_key_len + si->master_salt_len)
		die_usage("%s key: %d bytes, %s needs %u (key %u + salt %u)", what, n,
			  si->sdes_name, si->master_key_len + si->master_salt_len,
			  si->master_key_len, si->master_salt_len);
	c->key_len = si->master_key_len;
	c->salt_len = si->master_salt_len;
	memcpy(c->key, raw, c->key_len);
	memcpy(c->salt, raw + c->key_len, c->salt_len);
	while ((field = strtok_r(NULL, "|", &save)) != NULL) {
		char *colon = strchr(field, ':');

		if (colon != NULL) {
			uint64_t v, l;

			*colon = '\0';
			v = parse_u64(field, "MKI value");
			l = parse_u64(colon + 1, "MKI length");
			if (l < 1 || l > MG_PROTO_MAX_MKI || (l < 8 && v >> (8 * l)) != 0)
				die_usage("%s MKI %s:%s: length 1..%d bytes holding the value",
					  what, field, colon + 1, MG_PROTO_MAX_MKI);
			c->mki_len = (uint8_t)l;
			for (unsigned i = 0; i < l; i++)
				c->mki[i] = (uint8_t)(v >> (8 * (l - 1 - i)));
		} else {
			c->lifetime = parse_u64(field, "lifetime");
		}
	}
}

static void parse_crypto_word(const char *key, const char *val, struct mg_msg_crypto *c,
			      const char *dir)
{
	if (strcmp(key, "") == 0) {
		c->suite = (uint8_t)parse_suite(val);
	} else if (strcmp(key, "-key") == 0) {
		parse_key(val, c, dir);
	} else if (strcmp(key, "-roc") == 0) {
		uint64_t v = parse_u64(val, "ROC");

		if (v > UINT32_MAX)
			die_usage("%s-roc %s: ROC is 32 bits", dir, val);
		c->roc = (uint32_t)v;
	} else if (strcmp(key, "-roc-reset") == 0) {
		c->flags |= MG_CRYPTO_F_ROC_RESET;
	} else {
		die_usage("unknown word '%s%s' (allowed: %s=SUITE %s-key=KEY %s-roc=N "
			  "%s-roc-reset)", dir, key, dir, dir, dir, dir);
	}
}

static void parse_leg_word(const char *word, struct mg_msg_leg *l, unsigned idx)
{
	char key[32];
	const char *eq = strchr(word, '=');
	const char *val = eq != NULL ? eq + 1 : "";
	size_t kl = eq != NULL ? (size_t)(eq - word) : strlen(word);

	if (kl >= sizeof(key))
		die_usage("leg%u: unknown word '%s'", idx, word);
	memcpy(key, word, kl);
	key[kl] = '\0';
	if (strcmp(key, "local") == 0) {
		parse_addr(val, &l->local, "local");
	} else if (strcmp(key, "remote") == 0) {
		parse_addr(val, &l->remote, "remote");
	} else if (strcmp(key, "cand") == 0) {
		if (l->n_candidates >= MG_PROTO_MAX_CANDIDATES)
			die_usage("leg%u: more than %d candidates", idx, MG_PROTO_MAX_CANDIDATES);
		parse_addr(val, &l->candidates[l->n_candidates++], "cand");
	} else if (strcmp(key, "rtcp-port") == 0) {
		uint64_t v = parse_u64(val, "rtcp-port");

		if (v == 0 || v > 65535)
			die_usage("rtcp-port %s (allowed: 1..65535)", val);
		l->remote_rtcp_port = (uint16_t)v;
	} else if (strcmp(key, "policy") == 0) {
		if (strcmp(val, "strict") == 0)
			l->source_policy = MG_SOURCE_STRICT;
		else if (strcmp(val, "latch") == 0)
			l->source_policy = MG_SOURCE_LATCH;
		else
			die_usage("policy=%s (allowed: strict, latch)", val);
	} else if (strcmp(key, "mux") == 0 || strcmp(key, "rtcp-mux") == 0) {
		l->flags |= MG_LEG_F_RTCP_MUX;
	} else if (strcmp(key, "handover") == 0 || strcmp(key, "media-handover") == 0) {
		l->flags |= MG_LEG_F_HANDOVER;
	} else if (strncmp(key, "rx", 2) == 0) {
		parse_crypto_word(key + 2, val, &l->rx, "rx");
	} else if (strncmp(key, "tx", 2) == 0) {
		parse_crypto_word(key + 2, val, &l->tx, "tx");
	} else {
		die_usage("leg%u: unknown word '%s' (allowed: local= remote= cand= rtcp-port= "
			  "policy= mux handover rx= rx-key= rx-roc= rx-roc-reset tx=...)", idx, word);
	}
}

static uint64_t parse_id(const char *s, const char *what)
{
	uint64_t v = parse_u64(s, what);

	if (v == 0)
		die_usage("%s 0: ids are non-zero", what);
	return v;
}

static uint32_t parse_fork_id(const char *s)
{
	uint64_t v = parse_id(s, "fork id");

	if (v > UINT32_MAX)
		die_usage("fork id %s: 32 bits", s);
	return (uint32_t)v;
}

/* ---------------------------------------------------------------- output */

static void json_addr(const char *name, const struct mg_msg_addr *a)
{
	char s[64];

	if (a->family == MG_FAMILY_NONE)
		printf("\"%s\": null", name);
	else
		printf("\"%s\": \"%s\"", name, mg_proto_addr_str(a, s, sizeof(s)));
}

static const char *suite_name(unsigned suite)
{
	const struct mg_srtp_suite_info *si = mg_srtp_suite_by_id((enum mg_srtp_suite)suite);

	return si != NULL ? si->sdes_name : "NONE";
}

static void json_crypto(const char *name, const struct mg_msg_crypto *c)
{
	printf("\"%s\": {\"suite\": \"%s\"", name, suite_name(c->suite));
	if (c->suite != MG_SRTP_SUITE_NONE) {
		uint64_t mki = 0;

		for (unsigned i = 0; i < c->mki_len; i++)
			mki = mki << 8 | c->mki[i];
		printf(", \"key_len\": %u, \"salt_len\": %u, \"mki\": %" PRIu64
		       ", \"mki_len\": %u, \"lifetime\": %" PRIu64 ", \"roc\": %u",
		       c->key_len, c->salt_len, mki, c->mki_len,
		       c->lifetime ? c->lifetime : (uint64_t)MG_SRTP_DEFAULT_LIFETIME, c->roc);
	}
	printf("}");
}

static void json_session(const struct mg_msg_session *s)
{
	printf("{\"id\": %" PRIu64 ", \"legs\": [", s->id);
	for (unsigned i = 0; i < 2; i++) {
		const struct mg_msg_leg *l = &s->legs[i];

		printf("%s{", i ? ", " : "");
		json_addr("local", &l->local);
		printf(", ");
		json_addr("remote", &l->remote);
		printf(", \"candidates\": [");
		for (unsigned c = 0; c < l->n_candidates; c++) {
			char a[64];

			printf("%s\"%s\"", c ? ", " : "",
			       mg_proto_addr_str(&l->candidates[c], a, sizeof(a)));
		}
		printf("], \"remote_rtcp_port\": %u, \"policy\": \"%s\", \"rtcp_mux\": %s, "
		       "\"handover\": %s, \"blocked\": %s, ",
		       l->remote_rtcp_port, l->source_policy == MG_SOURCE_STRICT ? "strict" : "latch",
		       l->flags & MG_LEG_F_RTCP_MUX ? "true" : "false",
		       l->flags & MG_LEG_F_HANDOVER ? "true" : "false",
		       l->flags & MG_LEG_F_BLOCK ? "true" : "false");
		json_crypto("rx", &l->rx);
		printf(", ");
		json_crypto("tx", &l->tx);
		printf("}");
	}
	printf("]}\n");
}

static void json_drops(const void *packed_drops)
{
	uint64_t drops[MG_PROTO_DROP_SLOTS];

	/* Copied out: the wire structs are packed, their members unaligned. */
	memcpy(drops, packed_drops, sizeof(drops));
	printf("\"drops\": {");
	for (unsigned r = 0; r < MG_DROP_REASON_COUNT; r++)
		printf("%s\"%s\": %" PRIu64, r ? ", " : "", mg_proto_drop_name(r), drops[r]);
	printf("}");
}

static void json_stats(const struct mg_msg_session_stats *st)
{
	printf("{\"id\": %" PRIu64 ", \"legs\": [", st->id);
	for (unsigned l = 0; l < 2; l++) {
		printf("%s{", l ? ", " : "");
		for (unsigned d = 0; d < 2; d++) {
			const struct mg_msg_dir_stats *s = &st->legs[l][d];

			printf("%s\"%s\": {\"packets\": %" PRIu64 ", \"bytes\": %" PRIu64
			       ", \"rtcp_packets\": %" PRIu64 ", \"roc\": %u, ",
			       d ? ", " : "", d ? "tx" : "rx", s->packets, s->bytes,
			       s->rtcp_packets, s->roc);
			json_drops(s->drops);
			printf("}");
		}
		printf("}");
	}
	printf("], \"forks\": [");
	for (unsigned f = 0, n = 0; f < MG_PROTO_MAX_FORKS; f++) {
		const struct mg_msg_fork_stats *fs = &st->forks[f];

		if (fs->fork_id == 0)
			continue;
		printf("%s{\"id\": %u, \"packets\": %" PRIu64 ", \"bytes\": %" PRIu64
		       ", \"drops\": %" PRIu64 "}", n++ ? ", " : "", fs->fork_id, fs->packets,
		       fs->bytes, fs->drops);
	}
	printf("]}\n");
}

/* -------------------------------------------------------------- commands */

static int cmd_ping(int argc, char **argv)
{
	uint64_t count = argc > 0 ? parse_u64(argv[0], "count") : 1;

	if (count == 0 || count > 1000000)
		die_usage("ping count %s (allowed: 1..1000000)", argv[0]);
	for (uint64_t i = 1; i <= count; i++) {
		struct mg_msg_ping q = { .seq = i, .sent_ns = now_ns() };
		struct mg_msg_pong p;
		int rc = request(MG_MSG_PING, &q, &p, sizeof(p));

		check_result(MG_MSG_PING, rc);
		printf("{\"seq\": %" PRIu64 ", \"rtt_us\": %.1f, \"uptime_s\": %.3f, "
		       "\"sessions\": %u, \"workers\": %u, \"dataplane\": \"%s\"}\n",
		       p.seq, (double)(now_ns() - p.sent_ns) / 1e3, (double)p.uptime_ns / 1e9,
		       p.n_sessions, p.n_workers, dp_hello.software);
	}
	return 0;
}

static int cmd_hello(void)
{
	printf("{\"software\": \"%s\", \"pid\": %u, \"protocol_version\": %u, "
	       "\"header_size\": %u, \"socket\": \"%s\", \"messages\": [",
	       dp_hello.software, dp_hello.pid, dp_hello.version, dp_hello.hdr_size, sock_path);
	for (unsigned i = 0; i < dp_hello.n_types; i++)
		printf("%s{\"type\": \"%s\", \"request\": %u, \"reply\": %u}", i ? ", " : "",
		       mg_proto_type_name(dp_hello.sizes[i].type), dp_hello.sizes[i].req_size,
		       dp_hello.sizes[i].rep_size);
	printf("]}\n");
	return 0;
}

static int cmd_stats(void)
{
	struct mg_msg_dp_stats s;

	check_result(MG_MSG_DP_STATS, request(MG_MSG_DP_STATS, NULL, &s, sizeof(s)));
	printf("{\"uptime_s\": %.3f, \"tsc_hz\": %" PRIu64 ", \"sessions\": %u, \"ports\": %u, "
	       "\"media_ports_used\": %u, \"control_connected\": %s, \"orphans_removed\": %" PRIu64
	       ", \"orphan_ports_removed\": %" PRIu64 ", \"orphan_sweeps\": %u, "
	       "\"ssrc_rooms\": %" PRIu64 ", \"ssrc_rooms_used\": %" PRIu64 ", \"ssrc_rooms_empty\": %" PRIu64 ", "
	       "\"drop_blocks\": %" PRIu64 ", \"drop_blocks_used\": %" PRIu64 ", \"drop_blocks_empty\": %" PRIu64 ", "
	       "\"rx_packets\": %" PRIu64 ", \"tx_packets\": %" PRIu64 ", \"arp_rx\": %" PRIu64
	       ", \"arp_tx\": %" PRIu64 ", \"icmp_echo\": %" PRIu64 ", ",
	       (double)s.uptime_ns / 1e9, s.tsc_hz, s.n_sessions, s.n_ports, s.ports_used,
	       s.control_connected ? "true" : "false", s.orphans_removed, s.orphan_ports_removed,
	       s.orphan_sweeps, s.ssrc_rooms, s.ssrc_rooms_used, s.ssrc_rooms_empty,
	       s.drop_blocks, s.drop_blocks_used, s.drop_blocks_empty,
	       s.rx_packets, s.tx_packets, s.arp_rx, s.arp_tx, s.icmp_echo);
	json_drops(s.drops);
	printf(", \"workers\": [");
	for (unsigned i = 0; i < s.n_workers; i++) {
		const struct mg_msg_worker_stats *w = &s.workers[i];

		printf("%s{\"lcore\": %u, \"packets\": %" PRIu64 ", \"busy_tsc\": %" PRIu64
		       ", \"cycles_per_packet\": %.1f, \"polls\": %" PRIu64
		       ", \"idle_polls\": %" PRIu64 ", \"preempted\": %u}", i ? ", " : "", w->lcore,
		       w->packets, w->busy_tsc, w->packets ? (double)w->busy_tsc / (double)w->packets : 0.0,
		       w->polls, w->idle_polls, w->preempted);
	}
	printf("]}\n");
	return 0;
}

static int cmd_shared(int argc, char **argv)
{
	struct mg_msg_shared_addr q, r;

	memset(&q, 0, sizeof(q));
	if (argc > 1)
		die_usage("shared [on|off]");
	if (argc == 1) {
		if (strcmp(argv[0], "on") != 0 && strcmp(argv[0], "off") != 0)
			die_usage("shared '%s' (allowed: on, off)", argv[0]);
		q.flags = MG_SHARED_F_SET;
		q.on = strcmp(argv[0], "on") == 0;
	}
	check_result(MG_MSG_SHARED_ADDR, request(MG_MSG_SHARED_ADDR, &q, &r, sizeof(r)));
	printf("{\"on\": %s, \"ports\": %u, \"garps\": %" PRIu64 "}\n", r.on ? "true" : "false",
	       r.n_ports, r.garps);
	return 0;
}

static void json_port(const struct mg_msg_port *p)
{
	char a[64];

	printf("{\"address\": \"%s\", \"rtp_port\": %u, \"rtcp_port\": %u, \"rtcp_mux\": %s}\n",
	       mg_proto_addr_str(&p->local, a, sizeof(a)), p->local.port, p->rtcp_port,
	       p->flags & MG_PORT_F_RTCP_MUX ? "true" : "false");
}

static int cmd_port_alloc(int argc, char **argv)
{
	struct mg_msg_port_alloc req = { .local.family = MG_FAMILY_IPV4 };
	struct mg_msg_port rep;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "4") == 0) {
			req.local.family = MG_FAMILY_IPV4;
		} else if (strcmp(argv[i], "6") == 0) {
			req.local.family = MG_FAMILY_IPV6;
		} else if (strncmp(argv[i], "addr=", 5) == 0) {
			parse_addr(argv[i] + 5, &req.local, "addr");
			if (req.local.port != 0)
				die_usage("port-alloc addr=%s: give no port, the dataplane picks it",
					  argv[i] + 5);
		} else if (strcmp(argv[i], "mux") == 0) {
			req.flags |= MG_PORT_F_RTCP_MUX;
		} else {
			die_usage("port-alloc: unknown word '%s' (allowed: 4, 6, addr=IP, mux)",
				  argv[i]);
		}
	}
	check_result(MG_MSG_PORT_ALLOC, request(MG_MSG_PORT_ALLOC, &req, &rep, sizeof(rep)));
	json_port(&rep);
	return 0;
}

static int cmd_port_free(int argc, char **argv)
{
	struct mg_msg_port req = { 0 };

	if (argc < 1)
		die_usage("port-free IP:PORT [mux]");
	parse_addr(argv[0], &req.local, "port-free");
	if (argc > 1 && strcmp(argv[1], "mux") == 0)
		req.flags |= MG_PORT_F_RTCP_MUX;
	else if (argc > 1)
		die_usage("port-free: unknown word '%s' (allowed: mux)", argv[1]);
	req.rtcp_port = req.flags & MG_PORT_F_RTCP_MUX ? req.local.port
						       : (uint16_t)(req.local.port + 1);
	check_result(MG_MSG_PORT_FREE, request(MG_MSG_PORT_FREE, &req, NULL, 0));
	printf("{\"freed\": true}\n");
	return 0;
}

static int cmd_session(int argc, char **argv)
{
	const char *sub = argc > 0 ? argv[0] : "";
	union {
		struct mg_msg_session s;
		struct mg_msg_session_id id;
		struct mg_msg_session_stats st;
		struct mg_msg_session_list list;
	} rep;

	if (strcmp(sub, "add") == 0 || strcmp(sub, "modify") == 0) {
		struct mg_msg_session s = { 0 };
		int leg = -1;
		unsigned type = sub[0] == 'a' ? MG_MSG_SESSION_ADD : MG_MSG_SESSION_MODIFY;

		if (argc < 2)
			die_usage("session %s ID leg0 ... leg1 ...", sub);
		s.id = parse_id(argv[1], "session id");
		for (int i = 2; i < argc; i++) {
			if (strcmp(argv[i], "leg0") == 0 || strcmp(argv[i], "leg1") == 0)
				leg = argv[i][3] - '0';
			else if (leg < 0)
				die_usage("session %s: '%s' before leg0/leg1", sub, argv[i]);
			else
				parse_leg_word(argv[i], &s.legs[leg], (unsigned)leg);
		}
		if (mg_proto_check_session(&s) < 0)
			die_usage("session %s: %s", sub, mg_proto_last_error());
		check_result(type, request(type, &s, &rep, sizeof(rep)));
		printf("{\"id\": %" PRIu64 ", \"%s\": true}\n", rep.id.id,
		       type == MG_MSG_SESSION_ADD ? "added" : "modified");
		return 0;
	}
	if (strcmp(sub, "del") == 0 || strcmp(sub, "get") == 0 || strcmp(sub, "stats") == 0) {
		struct mg_msg_session_id id;
		unsigned type = sub[0] == 'd' ? MG_MSG_SESSION_DEL
				: sub[0] == 'g' ? MG_MSG_SESSION_GET : MG_MSG_SESSION_STATS;

		if (argc != 2)
			die_usage("session %s ID", sub);
		id.id = parse_id(argv[1], "session id");
		check_result(type, request(type, &id, &rep, sizeof(rep)));
		if (type == MG_MSG_SESSION_GET)
			json_session(&rep.s);
		else
			json_stats(&rep.st);
		return 0;
	}
	if (strcmp(sub, "list") == 0) {
		struct mg_msg_session_list_req req = { .cursor = 0, .max = MG_PROTO_LIST_PAGE };
		unsigned n = 0, pages = 0;

		printf("{\"sessions\": [");
		do {
			check_result(MG_MSG_SESSION_LIST,
				     request(MG_MSG_SESSION_LIST, &req, &rep, sizeof(rep)));
			for (unsigned i = 0; i < rep.list.count; i++) {
				const struct mg_msg_session_list_entry *e = &rep.list.entries[i];

				printf("%s{\"id\": %" PRIu64 ", \"local_ports\": [%u, %u], "
				       "\"suites\": [[\"%s\", \"%s\"], [\"%s\", \"%s\"]]}",
				       n++ ? ", " : "", e->id, e->local_port[0], e->local_port[1],
				       suite_name(e->suite[0][0]), suite_name(e->suite[0][1]),
				       suite_name(e->suite[1][0]), suite_name(e->suite[1][1]));
			}
			req.cursor = rep.list.next_cursor;
			/* A dataplane that never ends the list must not hang us. */
			if (++pages > 1000000)
				break;
		} while (req.cursor != 0);
		printf("], \"count\": %u, \"total\": %u}\n", n, rep.list.total);
		return 0;
	}
	die_usage("session: unknown subcommand '%s' (allowed: add, modify, del, get, stats, list)",
		  sub);
}

static int cmd_fork(int argc, char **argv)
{
	const char *sub = argc > 0 ? argv[0] : "";
	struct mg_msg_fork_id rep;

	if (strcmp(sub, "add") == 0) {
		struct mg_msg_fork f = { 0 };

		if (argc < 3)
			die_usage("fork add SESSION FORK leg=0|1 local=IP:PORT remote=IP:PORT ...");
		f.session_id = parse_id(argv[1], "session id");
		f.fork_id = parse_fork_id(argv[2]);
		for (int i = 3; i < argc; i++) {
			const char *w = argv[i];

			if (strncmp(w, "leg=", 4) == 0) {
				if (strcmp(w + 4, "0") != 0 && strcmp(w + 4, "1") != 0)
					die_usage("fork: %s (allowed: leg=0, leg=1)", w);
				f.leg = (uint8_t)(w[4] - '0');
			} else if (strncmp(w, "local=", 6) == 0) {
				parse_addr(w + 6, &f.local, "local");
			} else if (strncmp(w, "remote=", 7) == 0) {
				parse_addr(w + 7, &f.remote, "remote");
			} else if (strcmp(w, "raw") == 0) {
				f.flags |= MG_FORK_F_RAW;
			} else if (strcmp(w, "rtcp") == 0) {
				f.flags |= MG_FORK_F_RTCP;
			} else if (strncmp(w, "suite=", 6) == 0) {
				f.crypto.suite = (uint8_t)parse_suite(w + 6);
			} else if (strncmp(w, "key=", 4) == 0) {
				parse_key(w + 4, &f.crypto, "suite");
			} else {
				die_usage("fork add: unknown word '%s' (allowed: leg= local= remote= "
					  "raw rtcp suite= key=)", w);
			}
		}
		if (mg_proto_check_fork(&f) < 0)
			die_usage("fork add: %s", mg_proto_last_error());
		check_result(MG_MSG_FORK_ADD, request(MG_MSG_FORK_ADD, &f, &rep, sizeof(rep)));
		printf("{\"session\": %" PRIu64 ", \"fork\": %u, \"added\": true}\n",
		       rep.session_id, rep.fork_id);
		return 0;
	}
	if (strcmp(sub, "del") == 0) {
		struct mg_msg_fork_id f = { 0 };

		if (argc != 3)
			die_usage("fork del SESSION FORK");
		f.session_id = parse_id(argv[1], "session id");
		f.fork_id = parse_fork_id(argv[2]);
		check_result(MG_MSG_FORK_DEL, request(MG_MSG_FORK_DEL, &f, NULL, 0));
		printf("{\"session\": %" PRIu64 ", \"fork\": %u, \"deleted\": true}\n",
		       f.session_id, f.fork_id);
		return 0;
	}
	die_usage("fork: unknown subcommand '%s' (allowed: add, del)", sub);
}

static int cmd_capture(int argc, char **argv)
{
	const char *sub = argc > 0 ? argv[0] : "";

	if (strcmp(sub, "start") == 0) {
		struct mg_msg_capture c = { 0 };

		if (argc < 3 || argc > 4 || (argc == 4 && strcmp(argv[3], "decrypted") != 0 &&
					     strcmp(argv[3], "--decrypted") != 0))
			die_usage("capture start SESSION FILE [decrypted]");
		c.session_id = parse_id(argv[1], "session id");
		if (strlen(argv[2]) >= sizeof(c.path))
			die_usage("capture start: path longer than %zu bytes", sizeof(c.path) - 1);
		strcpy(c.path, argv[2]);
		if (argc == 4)
			c.flags |= MG_CAPTURE_F_DECRYPTED;
		check_result(MG_MSG_CAPTURE_START, request(MG_MSG_CAPTURE_START, &c, NULL, 0));
		printf("{\"session\": %" PRIu64 ", \"file\": \"%s\", \"decrypted\": %s, "
		       "\"started\": true}\n", c.session_id, c.path, argc == 4 ? "true" : "false");
		return 0;
	}
	if (strcmp(sub, "stop") == 0) {
		struct mg_msg_session_id id = { 0 };
		struct mg_msg_capture_stats st;

		if (argc != 2)
			die_usage("capture stop SESSION");
		id.id = parse_id(argv[1], "session id");
		check_result(MG_MSG_CAPTURE_STOP, request(MG_MSG_CAPTURE_STOP, &id, &st, sizeof(st)));
		printf("{\"session\": %" PRIu64 ", \"stopped\": true, \"packets\": %" PRIu64
		       ", \"bytes\": %" PRIu64 ", \"drops\": {\"capture_ring_full\": %" PRIu64
		       ", \"capture_no_mbuf\": %" PRIu64 ", \"capture_write_error\": %" PRIu64 "}}\n",
		       st.session_id, st.packets, st.bytes, st.drops_ring_full, st.drops_no_mbuf,
		       st.write_errors);
		return 0;
	}
	die_usage("capture: unknown subcommand '%s' (allowed: start, stop)", sub);
}

static uint64_t parse_small(const char *w, const char *what, uint64_t max)
{
	uint64_t v = parse_u64(w, what);

	if (v > max)
		die_usage("%s %s (allowed: 0..%" PRIu64 ")", what, w, max);
	return v;
}

static int cmd_tdm(int argc, char **argv)
{
	const char *sub = argc > 0 ? argv[0] : "";

	if (strcmp(sub, "bind") == 0) {
		struct mg_msg_tdm_bind b = { 0 };
		bool law = false;

		if (argc < 3)
			die_usage("tdm bind SESSION CHANNEL leg=0|1 law=pcmu|pcma ...");
		b.session_id = parse_id(argv[1], "session id");
		b.channo = (uint32_t)parse_small(argv[2], "channel", MG_TDM_MAX_CHANNO);
		for (int i = 3; i < argc; i++) {
			const char *w = argv[i];

			if (strncmp(w, "leg=", 4) == 0) {
				b.leg = (uint8_t)parse_small(w + 4, "leg", 1);
			} else if (strcmp(w, "law=pcmu") == 0) {
				b.law = 0;
				law = true;
			} else if (strcmp(w, "law=pcma") == 0) {
				b.law = 1;
				b.pt = b.pt == 0 ? 8 : b.pt;
				law = true;
			} else if (strncmp(w, "pt=", 3) == 0) {
				b.pt = (uint8_t)parse_small(w + 3, "pt", 127);
			} else if (strncmp(w, "event-pt=", 9) == 0) {
				b.event_pt = (uint8_t)parse_small(w + 9, "event-pt", 127);
			} else if (strncmp(w, "ssrc=", 5) == 0) {
				b.ssrc = (uint32_t)parse_small(w + 5, "ssrc", UINT32_MAX);
			} else if (strcmp(w, "ec") == 0) {
				b.flags |= MG_TDM_F_ECHO_CANCEL;
			} else {
				die_usage("tdm bind: unknown word '%s' (allowed: leg= law=pcmu law=pcma "
					  "pt= event-pt= ssrc= ec)", w);
			}
		}
		if (!law)
			die_usage("tdm bind: give law=pcmu or law=pcma (the call's codec)");
		check_result(MG_MSG_TDM_BIND, request(MG_MSG_TDM_BIND, &b, NULL, 0));
		printf("{\"session\": %" PRIu64 ", \"channel\": %u, \"bound\": true}\n",
		       b.session_id, b.channo);
		return 0;
	}
	if (strcmp(sub, "unbind") == 0) {
		struct mg_msg_tdm_chan c = { 0 };
		struct mg_msg_tdm_stats st;

		if (argc != 2)
			die_usage("tdm unbind CHANNEL");
		c.channo = (uint32_t)parse_small(argv[1], "channel", MG_TDM_MAX_CHANNO);
		check_result(MG_MSG_TDM_UNBIND, request(MG_MSG_TDM_UNBIND, &c, &st, sizeof(st)));
		printf("{\"channel\": %u, \"tdm_frames_in\": %" PRIu64 ", \"rtp_audio_out\": %" PRIu64
		       ", \"rtp_event_out\": %" PRIu64 ", \"digits_detected\": %" PRIu64
		       ", \"rtp_in\": %" PRIu64 ", \"digits_played\": %" PRIu64
		       ", \"tdm_frames_out\": %" PRIu64 ", \"concealed\": %" PRIu64
		       ", \"drops\": %" PRIu64 "}\n", st.channo, st.tdm_frames_in, st.rtp_audio_out,
		       st.rtp_event_out, st.digits_detected, st.rtp_in, st.digits_played,
		       st.tdm_frames_out, st.concealed, st.drops);
		return 0;
	}
	die_usage("tdm: unknown subcommand '%s' (allowed: bind, unbind)", sub);
}

#ifdef MG_DPCTL_EMBEDDED
int dpctl_main(int argc, char **argv);
int dpctl_main(int argc, char **argv)
#else
int main(int argc, char **argv)
#endif
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "config", required_argument, NULL, 'c' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config_path = NULL;
	struct mg_config *cfg = NULL;
	const char *cmd;
	int opt, rc;

	mg_log_init("mediagate-dpctl", MG_LOG_WARN, false);
	/* '+': stop at the command, its words may look like options. */
	while ((opt = getopt_long(argc, argv, "+s:c:t:hV", opts, NULL)) != -1) {
		switch (opt) {
		case 's':
			sock_path = optarg;
			break;
		case 'c':
			config_path = optarg;
			break;
		case 't': {
			uint64_t v = parse_u64(optarg, "--timeout");

			if (v < 1 || v > 600000)
				die_usage("--timeout %s (allowed: 1..600000 ms)", optarg);
			timeout_ms = (int)v;
			break;
		}
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("mediagate-dpctl %s (protocol version %u)\n", MG_VERSION,
			       MG_PROTO_VERSION);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	cmd = argv[optind];
	argc -= optind + 1;
	argv += optind + 1;
	if (sock_path == NULL) {
		cfg = mg_config_load(config_path, MG_CONFIG_ROLE_TOOL, stderr);
		if (cfg == NULL)
			return EXIT_USAGE;
		sock_path = mg_config_settings(cfg)->control_socket;
	}
	/* Reject unknown commands before connecting. */
	if (strcmp(cmd, "ping") != 0 && strcmp(cmd, "hello") != 0 && strcmp(cmd, "info") != 0 &&
	    strcmp(cmd, "stats") != 0 && strcmp(cmd, "port-alloc") != 0 &&
	    strcmp(cmd, "port-free") != 0 && strcmp(cmd, "session") != 0 &&
	    strcmp(cmd, "fork") != 0 && strcmp(cmd, "tdm") != 0 && strcmp(cmd, "capture") != 0 &&
	    strcmp(cmd, "shared") != 0)
		die_usage("unknown command '%s' (allowed: ping, hello, info, stats, port-alloc, "
			  "port-free, session, fork, tdm, capture, shared)", cmd);
	dp_connect();
	if (strcmp(cmd, "ping") == 0)
		rc = cmd_ping(argc, argv);
	else if (strcmp(cmd, "hello") == 0 || strcmp(cmd, "info") == 0)
		rc = cmd_hello();
	else if (strcmp(cmd, "stats") == 0)
		rc = cmd_stats();
	else if (strcmp(cmd, "port-alloc") == 0)
		rc = cmd_port_alloc(argc, argv);
	else if (strcmp(cmd, "port-free") == 0)
		rc = cmd_port_free(argc, argv);
	else if (strcmp(cmd, "session") == 0)
		rc = cmd_session(argc, argv);
	else if (strcmp(cmd, "tdm") == 0)
		rc = cmd_tdm(argc, argv);
	else if (strcmp(cmd, "capture") == 0)
		rc = cmd_capture(argc, argv);
	else if (strcmp(cmd, "shared") == 0)
		rc = cmd_shared(argc, argv);
	else
		rc = cmd_fork(argc, argv);
	close(dp_fd);
	mg_config_free(cfg);
	return rc;
}
