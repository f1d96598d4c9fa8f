/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Session churn for the smoke tests: over one control connection, add N
 * plain sessions and delete them again, ROUNDS times, while the test sends
 * traffic through a session this program never touches.
 *
 *   dp_churn SOCKET ROUNDS N BASE_ID LOCAL_IP FIRST_PORT REMOTE_IP
 *
 * Session BASE_ID+i: leg 0 local LOCAL_IP:FIRST_PORT+4i, leg 1 local
 * LOCAL_IP:FIRST_PORT+4i+2, both remotes REMOTE_IP:9 (nothing sends to
 * these, so they carry no traffic). Prints {"added":..,"deleted":..,"ms":..}.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "mg_proto.h"

static int fd;
static uint32_t req_id;

static int call(unsigned type, const void *body, void *rep, size_t rep_size)
{
	static uint8_t buf[MG_PROTO_MAX_MSG];
	struct mg_proto_hdr h;
	int len = mg_proto_encode(buf, sizeof(buf), type, 0, ++req_id, 0, body);
	ssize_t n;

	if (len < 0) {
		fprintf(stderr, "encode %s: %s\n", mg_proto_type_name(type), mg_proto_last_error());
		exit(1);
	}
	if (send(fd, buf, (size_t)len, 0) != len) {
		perror("send");
		exit(1);
	}
	n = recv(fd, buf, sizeof(buf), 0);
	if (n <= 0) {
		perror("recv");
		exit(1);
	}
	if (mg_proto_decode(buf, (size_t)n, &h, rep, rep_size) < 0 && h.result == 0) {
		fprintf(stderr, "decode reply: %s\n", mg_proto_last_error());
		exit(1);
	}
	return h.result;
}

static void addr(struct mg_msg_addr *a, uint32_t ip, uint16_t port)
{
	memset(a, 0, sizeof(*a));
	a->family = MG_FAMILY_IPV4;
	memcpy(a->addr, &ip, 4);
	a->port = port;
}

int main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct mg_msg_hello hello, hrep;
	static struct mg_msg_session s;
	static struct mg_msg_session_stats st;
	struct mg_msg_session_id id;
	struct in_addr lip, rip;
	unsigned rounds, n, added = 0, deleted = 0;
	uint64_t base;
	unsigned first;
	struct timespec t0, t1;
	int rc;

	if (argc != 8 || inet_pton(AF_INET, argv[5], &lip) != 1 ||
	    inet_pton(AF_INET, argv[7], &rip) != 1) {
		fprintf(stderr, "usage: dp_churn SOCKET ROUNDS N BASE_ID LOCAL_IP FIRST_PORT REMOTE_IP\n");
		return 2;
	}
	rounds = (unsigned)atoi(argv[2]);
	n = (unsigned)atoi(argv[3]);
	base = strtoull(argv[4], NULL, 0);
	first = (unsigned)atoi(argv[6]);
	if (first + 4ull * n > 65535) {
		fprintf(stderr, "port range too small\n");
		return 2;
	}
	fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", argv[1]);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("connect");
		return 3;
	}
	mg_proto_hello_init(&hello, MG_ROLE_TOOL, "dp_churn");
	rc = call(MG_MSG_HELLO, &hello, &hrep, sizeof(hrep));
	if (rc < 0) {
		fprintf(stderr, "HELLO refused: %s\n", strerror(-rc));
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned r = 0; r < rounds; r++) {
		for (unsigned i = 0; i < n; i++) {
			memset(&s, 0, sizeof(s));
			s.id = base + i;
			for (unsigned l = 0; l < 2; l++) {
				addr(&s.legs[l].local, lip.s_addr, (uint16_t)(first + 4 * i + 2 * l));
				addr(&s.legs[l].remote, rip.s_addr, 9);
			}
			rc = call(MG_MSG_SESSION_ADD, &s, &id, sizeof(id));
			if (rc < 0) {
				fprintf(stderr, "SESSION_ADD %u: %s\n", i, strerror(-rc));
				return 1;
			}
			added++;
		}
		for (unsigned i = 0; i < n; i++) {
			id.id = base + i;
			rc = call(MG_MSG_SESSION_DEL, &id, &st, sizeof(st));
			if (rc < 0) {
				fprintf(stderr, "SESSION_DEL %u: %s\n", i, strerror(-rc));
				return 1;
			}
			deleted++;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("{\"added\":%u,\"deleted\":%u,\"ms\":%ld}\n", added, deleted,
	       (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000);
	return 0;
}
