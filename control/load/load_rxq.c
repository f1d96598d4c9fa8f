/* SPDX-License-Identifier: BSD-3-Clause */
#include "load_rxq.h"

#include "mg_log.h"

#include <dirent.h>
#include <errno.h>
#include <linux/sockios.h>
#include <stdbool.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#define RXQ_MAX 8
/* Receive buffer asked for each SIP UDP socket (the kernel caps it at
 * net.core.rmem_max and doubles it for its bookkeeping). The default
 * (net.core.rmem_default, 208 KiB: ~100 INVITEs) overflows in a fraction
 * of a second of overload, and what it drops is anything: the ACKs, BYEs
 * and answers of admitted calls as well as new INVITEs. Queued, they are
 * late; the age of the queue's head sheds new calls (load_rxq_age_ms()). */
#define RXQ_RCVBUF (4 * 1024 * 1024)
#define RXQ_RESCAN_NS 1000000000ull

static struct {
	uint16_t ports[RXQ_MAX];   /* UDP ports to watch */
	unsigned n_ports;
	struct {
		int fd;
		ino_t ino;         /* the socket's inode: a reused fd number is noticed */
	} s[RXQ_MAX];
	unsigned n;
	uint64_t last_scan_ns;
} rx;

static uint64_t ns_of(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void load_rxq_reset(void)
{
	memset(&rx, 0, sizeof(rx));
}

void load_rxq_config(const struct mg_settings *s)
{
	load_rxq_reset();
	for (unsigned i = 0; i < s->n_ua && rx.n_ports < RXQ_MAX; i++)
		if (s->ua[i].transport == MG_TRANSPORT_UDP && s->ua[i].port != 0)
			rx.ports[rx.n_ports++] = s->ua[i].port;
}

unsigned load_rxq_watched(void)
{
	return rx.n;
}

static int local_udp_port(int fd)
{
	struct sockaddr_storage sa;
	socklen_t sl = sizeof(sa);
	int type = 0;
	socklen_t tl = sizeof(type);

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0 || type != SOCK_DGRAM)
		return -1;
	if (getsockname(fd, (struct sockaddr *)&sa, &sl) < 0)
		return -1;
	if (sa.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&sa)->sin_port);
	if (sa.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&sa)->sin6_port);
	return -1;
}

static bool watched_port(int port)
{
	for (unsigned i = 0; i < rx.n_ports; i++)
		if (rx.ports[i] == port)
			return true;
	return false;
}

static void size_rcvbuf(int fd, int port)
{
	int want = RXQ_RCVBUF, got = 0;
	socklen_t gl = sizeof(got);

	if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &gl) == 0 && got >= want)
		return;
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof(want));
	gl = sizeof(got);
	if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &gl) < 0)
		return;
	if (got < want)
		MG_WARN("sip: UDP port %d: receive buffer %d bytes, %d asked for (capped by "
			"net.core.rmem_max): overload drops datagrams sooner", port, got, want);
	else
		MG_INFO("sip: UDP port %d: receive buffer %d bytes", port, got);
}

/* Every socket of ours bound to a watched port, from /proc/self/fd. */
static void scan(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;

	rx.n = 0;
	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL && rx.n < RXQ_MAX) {
		char *end;
		long fd = strtol(e->d_name, &end, 10);
		struct stat st;

		if (*end != '\0' || end == e->d_name || fd == dirfd(d))
			continue;
		if (fstat((int)fd, &st) < 0 || !S_ISSOCK(st.st_mode))
			continue;
		int port = local_udp_port((int)fd);

		if (!watched_port(port))
			continue;
		size_rcvbuf((int)fd, port);
		/* turns the kernel's receive stamps on for this socket (its
		 * answer, no stamp yet, does not matter): what arrives from now
		 * on carries its arrival time */
		{
			struct timespec ts;

			(void)ioctl((int)fd, SIOCGSTAMPNS, &ts);
		}
		rx.s[rx.n].fd = (int)fd;
		rx.s[rx.n].ino = st.st_ino;
		rx.n++;
	}
	closedir(d);
}

/* Age of the datagram at the head of @p fd's queue, ms; 0 if empty. */
static unsigned head_age_ms(int fd)
{
	char b;
	struct timespec ts;
	uint64_t at, now;

	if (recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) < 0)
		return 0;
	/* the peek stored the head's arrival time in the socket (stamping is
	 * on since scan(); a datagram that arrived before has none, and reads
	 * as "now") */
	if (ioctl(fd, SIOCGSTAMPNS, &ts) < 0)
		return 0;
	at = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	now = ns_of(CLOCK_REALTIME);
	return now > at ? (unsigned)((now - at) / 1000000u) : 0;
}

unsigned load_rxq_age_ms(void)
{
	unsigned worst = 0;
	uint64_t now;

	if (rx.n_ports == 0)
		return 0;
	now = ns_of(CLOCK_MONOTONIC);
	if (rx.n < rx.n_ports && now - rx.last_scan_ns > RXQ_RESCAN_NS) {
		scan();
		rx.last_scan_ns = now;
	}
	for (unsigned i = 0; i < rx.n; i++) {
		struct stat st;

		if (fstat(rx.s[i].fd, &st) < 0 || st.st_ino != rx.s[i].ino) {
			rx.n = 0; /* closed or reused: look again */
			rx.last_scan_ns = 0;
			return worst;
		}
		unsigned age = head_age_ms(rx.s[i].fd);

		if (age > worst)
			worst = age;
	}
	return worst;
}
