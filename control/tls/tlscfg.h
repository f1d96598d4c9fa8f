/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TLS policy of mediagate-control.
 *
 * sofia-sip 1.12.11 (Debian) builds its SSL_CTX itself: TLS_method(), a fixed
 * cipher list "ALL:!ADH:!LOW:!EXP:!MD5:@STRENGTH", no protocol range, no
 * server preference, certificate and key failures only logged. It has no tags
 * for any of that. So this module
 *   1. checks the gateway's credentials at start-up (exit 2 on any problem),
 *   2. hands sofia a private directory with agent.pem/cafile.pem and the key
 *      passphrase (its TPTAG_CERTIFICATE conventions), and
 *   3. registers an OpenSSL ex_data "new" hook on the SSL class: OpenSSL calls
 *      it at the end of every SSL_new() in the process, after sofia has set up
 *      its context, so the cipher lists, protocol range, server preference,
 *      peer verification, certificate chain and key set there are the ones
 *      every TLS connection really uses.
 */
#ifndef TLSCFG_H
#define TLSCFG_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "mg_config.h"

/** Sofia verify policy bits (enum tport_tls_verify_policy) to pass along. */
struct tlscfg_sofia {
	const char *cert_dir;    /* TPTAG_CERTIFICATE */
	const char *passphrase;  /* TPTAG_TLS_PASSPHRASE */
	unsigned verify_policy;  /* TPTAG_TLS_VERIFY_POLICY */
};

/*
 * Check the TLS settings and credentials of @s, prepare sofia's directory and
 * install the OpenSSL hook. On error writes a one-line message naming the
 * file and the problem to @err and returns -EINVAL (or -errno).
 */
int tlscfg_init(const struct mg_settings *s, char *err, size_t errlen);

/*
 * SIGHUP: read the certificate, key (with the password file) and trust store
 * named by @p s again and check them as at start-up; on success every
 * connection made from now on gets them (the hook sets them per SSL), the
 * ones established keep theirs. On error nothing changes and @p err says
 * why. No-op (0) when TLS is not in use.
 */
int tlscfg_reload(const struct mg_settings *s, char *err, size_t errlen);

/* What to give sofia; valid after tlscfg_init() succeeded. */
const struct tlscfg_sofia *tlscfg_sofia(void);

/* sofia has read its files (nua_create() returned): remove them now. */
void tlscfg_sofia_loaded(void);

/* Remove the private directory and forget the key (hook stays, inert). */
void tlscfg_fini(void);

/*
 * Outbound: the next hop's host name for a peer address, checked against the
 * server certificate's SAN/CN when a TLS connection to that address is made.
 * Without one, the peer's IP address itself must be in the certificate.
 */
int tlscfg_expect_host(const struct sockaddr *peer, const char *host);

/* Building blocks, exposed for the unit tests. */
int tlscfg_read_password_file(const char *path, char *buf, size_t len, char *err,
			      size_t errlen);
int tlscfg_apply_ssl(void *ssl); /* SSL *: apply the policy now */

#endif
