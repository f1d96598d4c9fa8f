/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The NG control API's transports on the control plane's su_root:
 * UDP and TCP listeners (mediagate.ng.listen, "COOKIE SP bencode-dict"
 * per datagram / per message on a stream), HTTP (mediagate.ng.http,
 * libmicrohttpd: POST /ng with cookie + bencode, POST /ng-plain with a
 * JSON object and no cookie, replied as JSON), the allowed-sources check
 * (mediagate.ng.allowedSources; anything else is refused and counted) and
 * the cookie cache: a request whose cookie was answered in the last 30 s
 * gets the same reply bytes again without a second execution; one still
 * being executed is not executed twice (the retransmission is answered
 * when the first completes, or dropped on UDP: the proxy retransmits).
 *
 * Decoding errors (malformed bencode/JSON, over a limit, not a dict, no
 * "command") are answered by the server itself with
 * {result: error, error-reason: ...}; everything else goes to the
 * handler, which answers later, from the event loop, with ng_req_reply().
 * The server knows nothing about media: commands are the handler's.
 */
#ifndef MG_NG_SERVER_H
#define MG_NG_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include <sofia-sip/su_wait.h>

#include "mg_config.h"
#include "ng_codec.h"

struct ng_server;
struct ng_req; /* one request being executed */

/*
 * A decoded request. @p dict is the request dictionary (NG_DICT, it has
 * a "command" string); it and every value built with ng_req_doc(req)
 * live until ng_req_reply(). The handler must call ng_req_reply() exactly
 * once, now or later.
 */
typedef void (*ng_handler_f)(void *arg, struct ng_req *req, const struct ng_val *dict);

/* Counters, for `statistics` and /metrics. */
struct ng_server_stats {
	uint64_t requests;        /* decoded and given to the handler */
	uint64_t replies;         /* sent (cache replays included) */
	uint64_t cache_replays;   /* retransmissions answered from the cookie cache */
	uint64_t decode_errors;   /* answered with result error by the server */
	uint64_t refused_source;  /* from an address not in allowedSources: not answered */
	uint64_t oversize;        /* bigger than the transport's limit */
	unsigned in_flight;       /* requests given to the handler, not yet replied */
	uint64_t in_flight_dups;  /* retransmissions of a request still being executed */
	uint64_t cache_evictions; /* answers dropped from the cache before 30 s (full) */
};

/*
 * Start the listeners of s->ng_listen / s->ng_http (none configured: a
 * server with no listener, still valid). Returns NULL + errno when a
 * listener cannot be opened (the error is logged with the address).
 */
struct ng_server *ng_server_create(su_root_t *root, const struct mg_settings *s,
				   ng_handler_f handler, void *arg);
/* Close every listener and connection; requests in flight are dropped
 * (their ng_req_reply() must not be called afterwards: the handler is
 * told nothing, so stop the handler's work first). */
void ng_server_destroy(struct ng_server *srv);

/* The arena of this request: build the reply in it. */
struct ng_doc *ng_req_doc(struct ng_req *req);
/* "udp", "tcp", "http", "local" */
const char *ng_req_transport(const struct ng_req *req);
/* The sender's address as text (for logs and "received-from" defaults). */
const char *ng_req_peer(const struct ng_req *req);
/* Send @p reply (a dict; NULL = out of memory: the server sends
 * {result: error, error-reason: "Out of memory"}), cache it under the
 * cookie, release the request and its arena. */
void ng_req_reply(struct ng_req *req, struct ng_val *reply);

/*
 * A request from inside the process (mgctl's socket, control/cli): the
 * handler is called by the caller with the returned request and @p dict (in
 * @p doc, which the request takes over); its reply goes to @p done (valid
 * during the call only; NULL: out of memory) instead of a transport, then
 * the request and @p doc are freed. No cookie, no cache, no server counter.
 * NULL + errno (ENOMEM; @p doc freed).
 */
typedef void (*ng_local_done_f)(void *arg, const struct ng_val *reply);
struct ng_req *ng_req_local(struct ng_doc *doc, ng_local_done_f done, void *arg);

void ng_server_get_stats(const struct ng_server *srv, struct ng_server_stats *out);

/*
 * Told, for every request the handler answered, its "command" (as sent,
 * maybe "" or long: the observer bounds what it keeps) and the seconds
 * from handing it to the handler to ng_req_reply(). One observer for the
 * process (control/metrics' NG latency histogram); NULL removes it. Runs on
 * the event loop, inside ng_req_reply(): it must not call back into the
 * server.
 */
typedef void (*ng_timing_f)(const char *command, double seconds);
void ng_server_set_timing_hook(ng_timing_f fn);

/* The port the @p idx-th listener of @p transport ("udp", "tcp", "http")
 * is bound to, 0 if there is none: a configured port 0 is the kernel's
 * choice (tests). */
uint16_t ng_server_port(const struct ng_server *srv, const char *transport, unsigned idx);

/* The cookie cache: answers kept @p ttl_ms [30000], at most @p max_entries
 * [65536] (the oldest go first); 0 keeps the default. For tests, which
 * cannot wait 30 s, and for tuning. */
void ng_server_set_cache(struct ng_server *srv, unsigned ttl_ms, unsigned max_entries);

#endif
