/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SIP user agents of mediagate-control: one sofia-sip nua per entry of
 * netborder.sip.userAgent.IPAddress, all on the caller's su_root.
 */
#ifndef SIPUA_H
#define SIPUA_H

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

/* The URL a user agent binds, e.g. "sip:[::1]:5067;transport=tls". */
int sipua_url(const struct mg_sip_ua *ua, char *buf, size_t len);

#endif
