/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * How long the oldest datagram waits in the receive queue of the SIP UDP
 * sockets (part of the "event loop lag" of control/load).
 *
 * The lag tick alone misses the overload that matters most for SIP over
 * UDP: sofia-sip checks its timers between any two messages, so a 10 ms
 * timer keeps firing on time while thousands of datagrams wait in the
 * kernel's receive queue, the callers' and callees' retransmission timers
 * (T1 = 500 ms) fire, and retransmissions add to the queue. The age of the
 * datagram at the head of the queue is that waiting time: it is read
 * without consuming anything (a MSG_PEEK of one byte, then SIOCGSTAMPNS for
 * its kernel arrival time), so sofia-sip reads the same bytes as before.
 *
 * The sockets are found by their local port among the process's file
 * descriptors (sofia-sip does not hand them out): SOCK_DGRAM sockets bound
 * to a port of netborder.sip.userAgent.IPAddress with transport udp. When
 * found, their receive buffer is raised to 4 MiB (within net.core.rmem_max;
 * a warning says when the kernel gave less): a full buffer drops the ACKs,
 * BYEs and answers of admitted calls with the new INVITEs, while a queue
 * only delays them, and its age sheds.
 */
#ifndef LOAD_RXQ_H
#define LOAD_RXQ_H

#include <stdint.h>

#include "mg_config.h"

/* Watch the UDP ports of @p s's user agents (sockets looked up again by
 * load_rxq_age_ms() while some are missing, at most once a second). */
void load_rxq_config(const struct mg_settings *s);
/* The oldest datagram's wait in any watched socket, ms; 0 when all are empty. */
unsigned load_rxq_age_ms(void);
/* Forget every socket. */
void load_rxq_reset(void);
/* Sockets watched now (for tests and logs). */
unsigned load_rxq_watched(void);

#endif
