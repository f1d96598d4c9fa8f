/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SIP user agents of mediagate-control: one sofia-sip nua per entry of
 * netborder.sip.userAgent.IPAddress, all on the caller's su_root.
 */
#ifndef SIPUA_H
#define SIPUA_H

#include <stdbool.h>

#include <sofia-sip/nua.h>
#include <sofia-sip/su_wait.h>

#include "mg_config.h"

/*
 * Check the TLS credentials (if a TLS user agent is configured) and start
 * every user agent. Errors are logged with what was wrong; returns 0 or
 * -errno, and the caller exits with status 2.
 */
int sip_start(su_root_t *root, const struct mg_settings *s);

/* Shut every user agent down (runs @root until they are gone) and clean up. */
void sip_stop(void);

/* The URL a user agent binds, e.g. "sips:[::1]:5067;transport=tls". */
int sipua_url(const struct mg_sip_ua *ua, char *buf, size_t len);

/*
 * For the call engine: every nua event of every user agent goes to @fn
 * first; when it returns true the event is taken and this module does
 * nothing more with it (without a hook INVITE is answered 503).
 */
typedef bool sipua_hook_fn(void *arg, unsigned ua_index, nua_event_t event, int status,
			   char const *phrase, nua_t *nua, nua_handle_t *nh, sip_t const *sip,
			   tagi_t tags[]);
void sipua_set_hook(sipua_hook_fn *fn, void *arg);

/* The running user agents: count, nua and configuration of each. */
unsigned sipua_count(void);
nua_t *sipua_nua(unsigned ua_index);
const struct mg_sip_ua *sipua_cfg(unsigned ua_index);

/*
 * Contact for a message of user agent @ua_index, "<sip:host:port;transport=x>":
 * always sip:, never sips: (sofia would put sips: for TLS, which breaks
 * common clients); host = mediagate.sip.contactHost, else the user agent's
 * address, else (INADDR_ANY) the host of @req's Request-URI, else (requests,
 * @req NULL) the host's first non-loopback address of the family. Pass it
 * with SIPTAG_CONTACT_STR() in answers and requests.
 */
void sipua_contact(unsigned ua_index, sip_t const *req, char *buf, size_t len);

#endif
