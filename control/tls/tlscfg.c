/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TLS policy of mediagate-control: start-up credential checks, sofia's
 * certificate directory, and the per-SSL hook (see tlscfg.h for why).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <sofia-sip/tport_tag.h>

#include "mg_log.h"
#include "tlscfg.h"

#define TLSCFG_MAX_EXPECT 64
#define TLSCFG_VERIFY_DEPTH 8

struct tlscfg_expect {
	struct sockaddr_storage addr;
	char host[256];
};

/* nua runs its stack (and so every handshake) in its own thread; the call
 * engine registers next hops from the main loop. */
static pthread_mutex_t tlscfg_expect_lock = PTHREAD_MUTEX_INITIALIZER;

/* The gateway's credentials as every new connection gets them. The hook
 * runs in nua's thread, a SIGHUP reload in the main loop. */
struct tlscfg_creds {
	X509 *leaf;
	STACK_OF(X509) *chain;  /* intermediates sent after the leaf */
	EVP_PKEY *key;
	X509_STORE *store;      /* the trusted roots peers are verified against */
};
static pthread_mutex_t tlscfg_creds_lock = PTHREAD_MUTEX_INITIALIZER;

static struct {
	bool active;            /* the hook applies the policy */
	int ssl_idx;            /* ex_data index owning the hook, -1 before */
	char tls12[1024];
	char tls13[256];
	int min_version;
	int max_version;
	bool require_client_cert;
	struct tlscfg_creds creds; /* under tlscfg_creds_lock: SIGHUP replaces them */
	char dir[PATH_MAX];
	char pass[512];
	struct tlscfg_sofia sofia;
	struct tlscfg_expect expect[TLSCFG_MAX_EXPECT];
	unsigned n_expect;
} g = { .ssl_idx = -1 };

static void tlscfg_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void tlscfg_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* OpenSSL's last error reason, for messages; clears the queue. */
static const char *tlscfg_ossl_reason(void)
{
	static char buf[256];
	unsigned long e = ERR_peek_last_error();

	if (e == 0)
		snprintf(buf, sizeof(buf), "unknown reason");
	else
		ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return buf;
}

int tlscfg_read_password_file(const char *path, char *buf, size_t len, char *err,
			      size_t errlen)
{
	struct stat st;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;

		tlscfg_err(err, errlen, "mediagate.sip.tls.keyPasswordFile %s: %s", path,
			   strerror(e));
		return -e;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		tlscfg_err(err, errlen,
			   "mediagate.sip.tls.keyPasswordFile %s: not a regular file", path);
		close(fd);
		return -EINVAL;
	}
	/* The password protects the gateway's identity: only its owner may see it. */
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		tlscfg_err(err, errlen,
			   "mediagate.sip.tls.keyPasswordFile %s: mode %04o gives access to group or others (allowed: owner only, e.g. chmod 600)",
			   path, (unsigned)(st.st_mode & 07777));
		close(fd);
		return -EPERM;
	}
	if (st.st_uid != geteuid() && st.st_uid != 0) {
		tlscfg_err(err, errlen,
			   "mediagate.sip.tls.keyPasswordFile %s: owned by uid %u (allowed: root or uid %u)",
			   path, (unsigned)st.st_uid, (unsigned)geteuid());
		close(fd);
		return -EPERM;
	}
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0) {
		int e = errno;

		tlscfg_err(err, errlen, "mediagate.sip.tls.keyPasswordFile %s: %s", path,
			   strerror(e));
		return -e;
	}
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0'; /* the first line is the password */
	if (buf[0] == '\0') {
		tlscfg_err(err, errlen, "mediagate.sip.tls.keyPasswordFile %s: empty password",
			   path);
		return -EINVAL;
	}
	return 0;
}

static int tlscfg_slurp(const char *key, const char *path, char **out, size_t *outlen,
			char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, len = 0;

	if (f == NULL) {
		int e = errno;

		tlscfg_err(err, errlen, "%s %s: %s", key, path, strerror(e));
		return -e;
	}
	for (;;) {
		if (len + 4096 + 1 > cap) {
			char *nb = realloc(buf, cap = cap * 2 + 8192);

			if (nb == NULL) {
				free(buf);
				fclose(f);
				tlscfg_err(err, errlen, "%s %s: out of memory", key, path);
				return -ENOMEM;
			}
			buf = nb;
		}
		size_t n = fread(buf + len, 1, 4096, f);

		len += n;
		if (n < 4096)
			break;
	}
	fclose(f);
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	return 0;
}

/* All PEM certificates of a file, in order. */
static STACK_OF(X509) *tlscfg_read_certs(const char *key, const char *path, char *err,
					 size_t errlen)
{
	STACK_OF(X509) *certs;
	BIO *bio = BIO_new_file(path, "r");
	X509 *x;

	if (bio == NULL) {
		tlscfg_err(err, errlen, "%s %s: %s", key, path, strerror(errno ? errno : ENOENT));
		ERR_clear_error();
		return NULL;
	}
	certs = sk_X509_new_null();
	while (certs && (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL)
		sk_X509_push(certs, x);
	ERR_clear_error(); /* the loop ends on "no start line" */
	BIO_free(bio);
	if (certs == NULL || sk_X509_num(certs) == 0) {
		tlscfg_err(err, errlen, "%s %s: no PEM certificate in the file", key, path);
		sk_X509_pop_free(certs, X509_free);
		return NULL;
	}
	return certs;
}

static void tlscfg_time(const ASN1_TIME *t, char *buf, size_t len)
{
	BIO *b = BIO_new(BIO_s_mem());
	int n;

	buf[0] = '\0';
	if (b == NULL)
		return;
	ASN1_TIME_print(b, t);
	n = BIO_read(b, buf, (int)len - 1);
	buf[n > 0 ? n : 0] = '\0';
	BIO_free(b);
}

/* Certificate dates: expired or not yet valid is a start-up error. */
static int tlscfg_check_dates(const char *key, const char *path, X509 *x, char *err,
			      size_t errlen)
{
	char when[64];

	if (X509_cmp_current_time(X509_get0_notAfter(x)) < 0) {
		tlscfg_time(X509_get0_notAfter(x), when, sizeof(when));
		tlscfg_err(err, errlen, "%s %s: certificate expired on %s", key, path, when);
		return -EINVAL;
	}
	if (X509_cmp_current_time(X509_get0_notBefore(x)) > 0) {
		tlscfg_time(X509_get0_notBefore(x), when, sizeof(when));
		tlscfg_err(err, errlen, "%s %s: certificate not valid before %s", key, path,
			   when);
		return -EINVAL;
	}
	return 0;
}

struct tlscfg_pw {
	const char *pass;
	bool asked;
};

static int tlscfg_pw_cb(char *buf, int size, int rwflag, void *u)
{
	struct tlscfg_pw *pw = u;
	size_t n;

	(void)rwflag;
	pw->asked = true;
	if (pw->pass == NULL || pw->pass[0] == '\0')
		return -1;
	n = strlen(pw->pass);
	if (n > (size_t)size)
		return -1;
	memcpy(buf, pw->pass, n);
	return (int)n;
}

static int tlscfg_write_file(const char *dir, const char *name, const char *a, size_t alen,
			     const char *b, size_t blen)
{
	char path[PATH_MAX + 32];
	int fd, rc = 0;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if ((alen && write(fd, a, alen) != (ssize_t)alen) ||
	    (alen && a[alen - 1] != '\n' && write(fd, "\n", 1) != 1) ||
	    (blen && write(fd, b, blen) != (ssize_t)blen))
		rc = -EIO;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	return rc;
}

static void tlscfg_rmdir(void)
{
	char path[PATH_MAX + 16];

	if (g.dir[0] == '\0')
		return;
	snprintf(path, sizeof(path), "%s/agent.pem", g.dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/cafile.pem", g.dir);
	unlink(path);
	rmdir(g.dir);
	g.dir[0] = '\0';
}

static const char *tlscfg_version_name(int v)
{
	switch (v) {
	case TLS1_VERSION: return "1.0";
	case TLS1_1_VERSION: return "1.1";
	case TLS1_2_VERSION: return "1.2";
	case TLS1_3_VERSION: return "1.3";
	default: return "?";
	}
}

/* Outbound name check for the leaf certificate of a server we connected to. */
static int tlscfg_check_server_name(SSL *ssl, X509 *cert, char *what, size_t whatlen)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char ip[INET6_ADDRSTRLEN] = "";
	int fd = SSL_get_fd(ssl);
	const void *a = NULL;

	if (fd < 0 || getpeername(fd, (struct sockaddr *)&ss, &sl) < 0) {
		snprintf(what, whatlen, "peer address unknown");
		return 0;
	}
	if (ss.ss_family == AF_INET)
		a = &((struct sockaddr_in *)&ss)->sin_addr;
	else if (ss.ss_family == AF_INET6)
		a = &((struct sockaddr_in6 *)&ss)->sin6_addr;
	if (a == NULL || inet_ntop(ss.ss_family, a, ip, sizeof(ip)) == NULL) {
		snprintf(what, whatlen, "peer address family %d", ss.ss_family);
		return 0;
	}
	char host[sizeof(g.expect[0].host)] = "";

	pthread_mutex_lock(&tlscfg_expect_lock);
	for (unsigned i = 0; i < g.n_expect && host[0] == '\0'; i++) {
		const struct tlscfg_expect *e = &g.expect[i];
		bool same = false;

		if (e->addr.ss_family != ss.ss_family)
			continue;
		if (ss.ss_family == AF_INET)
			same = !memcmp(&((const struct sockaddr_in *)&e->addr)->sin_addr, a, 4);
		else
			same = !memcmp(&((const struct sockaddr_in6 *)&e->addr)->sin6_addr, a, 16);
		if (same)
			memcpy(host, e->host, sizeof(host));
	}
	pthread_mutex_unlock(&tlscfg_expect_lock);
	if (host[0]) {
		snprintf(what, whatlen, "host name %s (peer %s)", host, ip);
		return X509_check_host(cert, host, 0, 0, NULL) == 1;
	}
	snprintf(what, whatlen, "IP address %s", ip);
	if (X509_check_ip_asc(cert, ip, 0) == 1)
		return 1;
	/* Old certificates name an address only in the CN. */
	char cn[256];

	if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn,
				      sizeof(cn)) > 0 &&
	    strcmp(cn, ip) == 0)
		return 1;
	return 0;
}

/*
 * Refused peers are logged, but a peer retrying in a loop must not flood the
 * log: at most TLSCFG_LOG_BURST lines per minute, then one line with the count
 * of those left out. Each nua runs its own thread, hence the lock.
 */
#define TLSCFG_LOG_BURST 20

static bool tlscfg_log_allowed(void)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static time_t window;
	static unsigned in_window, suppressed;
	time_t now = time(NULL);
	bool allowed = true;

	pthread_mutex_lock(&lock);
	if (now - window >= 60) {
		if (suppressed)
			MG_WARN("tls: %u more refused-certificate messages in the last minute were not logged",
				suppressed);
		window = now;
		in_window = 0;
		suppressed = 0;
	}
	if (in_window < TLSCFG_LOG_BURST)
		in_window++;
	else
		allowed = false, suppressed++;
	pthread_mutex_unlock(&lock);
	return allowed;
}

static int tlscfg_verify_cb(int ok, X509_STORE_CTX *st)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(st, SSL_get_ex_data_X509_STORE_CTX_idx());
	X509 *cert = X509_STORE_CTX_get_current_cert(st);
	int depth = X509_STORE_CTX_get_error_depth(st);
	char subj[256] = "?";

	if (cert != NULL)
		X509_NAME_oneline(X509_get_subject_name(cert), subj, sizeof(subj));
	if (!ok) {
		int e = X509_STORE_CTX_get_error(st);

		if (tlscfg_log_allowed())
			MG_WARN("tls: %s certificate rejected at depth %d (%s): %s",
				ssl && SSL_is_server(ssl) ? "client" : "server", depth, subj,
				X509_verify_cert_error_string(e));
		return 0;
	}
	if (depth == 0 && ssl != NULL && !SSL_is_server(ssl) && cert != NULL) {
		char what[320];

		if (!tlscfg_check_server_name(ssl, cert, what, sizeof(what))) {
			if (tlscfg_log_allowed())
				MG_WARN("tls: server certificate (%s) does not match %s", subj, what);
			X509_STORE_CTX_set_error(st, X509_V_ERR_HOSTNAME_MISMATCH);
			return 0;
		}
	}
	return 1;
}

int tlscfg_apply_ssl(void *p)
{
	SSL *s = p;
	int rc = 0;

	if (!SSL_set_min_proto_version(s, g.min_version) ||
	    !SSL_set_max_proto_version(s, g.max_version))
		rc = -EINVAL;
	/* OpenSSL 3 permits TLS 1.0/1.1 (MD5-SHA1) only at security level 0. */
	if (g.min_version < TLS1_2_VERSION)
		SSL_set_security_level(s, 0);
	/* An empty TLS 1.3 list when 1.3 is off keeps the cipher list honest. */
	if (!SSL_set_ciphersuites(s, g.max_version >= TLS1_3_VERSION ? g.tls13 : ""))
		rc = -EINVAL;
	if (g.min_version <= TLS1_2_VERSION && !SSL_set_cipher_list(s, g.tls12))
		rc = -EINVAL;
	/* The guide: "the gateway always selects the most secure cipher suite". */
	SSL_set_options(s, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION |
				   SSL_OP_NO_RENEGOTIATION);
	SSL_set_verify(s,
		       SSL_VERIFY_PEER | SSL_VERIFY_CLIENT_ONCE |
			       (g.require_client_cert ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0),
		       tlscfg_verify_cb);
	SSL_set_verify_depth(s, TLSCFG_VERIFY_DEPTH);
	/* sofia loads only the leaf: send the whole configured chain. The
	 * credentials and trust store are set per connection, so a SIGHUP that
	 * replaced them reaches every connection made after it. */
	pthread_mutex_lock(&tlscfg_creds_lock);
	if (g.creds.leaf != NULL) {
		if (SSL_use_certificate(s, g.creds.leaf) != 1 ||
		    SSL_set1_chain(s, g.creds.chain) != 1 ||
		    SSL_use_PrivateKey(s, g.creds.key) != 1 ||
		    SSL_set1_verify_cert_store(s, g.creds.store) != 1)
			rc = -EINVAL;
	}
	pthread_mutex_unlock(&tlscfg_creds_lock);
	if (rc < 0) {
		/* Fail closed: an empty protocol range makes every handshake fail. */
		SSL_set_min_proto_version(s, TLS1_3_VERSION);
		SSL_set_max_proto_version(s, TLS1_2_VERSION);
		ERR_clear_error();
	}
	return rc;
}

static void tlscfg_ssl_new(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
			   void *argp)
{
	(void)ptr;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	if (g.active && parent != NULL && tlscfg_apply_ssl(parent) < 0)
		MG_ERR("tls: could not apply the TLS policy to a new connection; it will fail");
}

static int tlscfg_hook_install(void)
{
	if (g.ssl_idx >= 0)
		return 0;
	OPENSSL_init_ssl(OPENSSL_INIT_LOAD_SSL_STRINGS | OPENSSL_INIT_LOAD_CRYPTO_STRINGS, NULL);
	g.ssl_idx = CRYPTO_get_ex_new_index(CRYPTO_EX_INDEX_SSL, 0, NULL, tlscfg_ssl_new, NULL,
					    NULL);
	return g.ssl_idx < 0 ? -ENOMEM : 0;
}

/* Apply the policy to a probe connection: a bad cipher string fails here. */
static int tlscfg_probe(char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_method());
	SSL *s = NULL;
	int rc = -EINVAL;

	if (ctx == NULL) {
		tlscfg_err(err, errlen, "TLS: cannot create a TLS context: %s",
			   tlscfg_ossl_reason());
		return -ENOMEM;
	}
	g.active = false; /* apply by hand to see the failing step */
	s = SSL_new(ctx);
	if (s == NULL)
		goto out;
	if (g.min_version <= TLS1_2_VERSION && !SSL_set_cipher_list(s, g.tls12)) {
		tlscfg_err(err, errlen,
			   "netborder.sip.tls.cypherSuites: OpenSSL accepts none of \"%s\" (%s)",
			   g.tls12, tlscfg_ossl_reason());
		goto out;
	}
	if (g.max_version >= TLS1_3_VERSION && !SSL_set_ciphersuites(s, g.tls13)) {
		tlscfg_err(err, errlen,
			   "mediagate.sip.tls.tls13CipherSuites: OpenSSL accepts none of \"%s\" (%s)",
			   g.tls13, tlscfg_ossl_reason());
		goto out;
	}
	/* OpenSSL drops unknown or unavailable names silently: say which. */
	if (g.min_version <= TLS1_2_VERSION) {
		char list[sizeof(g.tls12)], *save = NULL;

		snprintf(list, sizeof(list), "%s", g.tls12);
		for (char *t = strtok_r(list, ":, ", &save); t; t = strtok_r(NULL, ":, ", &save)) {
			if (strchr("!-+@", t[0]) || SSL_set_cipher_list(s, t))
				continue;
			ERR_clear_error();
			MG_WARN("tls: cipher suite %s is not available in this OpenSSL build (%s); it is ignored",
				t, OpenSSL_version(OPENSSL_VERSION));
		}
	}
	if (tlscfg_apply_ssl(s) < 0) {
		tlscfg_err(err, errlen, "TLS: the policy cannot be applied: %s",
			   tlscfg_ossl_reason());
		goto out;
	}
	rc = 0;
out:
	SSL_free(s);
	SSL_CTX_free(ctx);
	return rc;
}

static void creds_free(struct tlscfg_creds *c)
{
	X509_free(c->leaf);
	sk_X509_pop_free(c->chain, X509_free);
	EVP_PKEY_free(c->key);
	X509_STORE_free(c->store);
	memset(c, 0, sizeof(*c));
}

static void tlscfg_free_creds(void)
{
	struct tlscfg_creds old;

	pthread_mutex_lock(&tlscfg_creds_lock);
	old = g.creds;
	memset(&g.creds, 0, sizeof(g.creds));
	pthread_mutex_unlock(&tlscfg_creds_lock);
	creds_free(&old);
	OPENSSL_cleanse(g.pass, sizeof(g.pass));
}

/*
 * Read and check the certificate (with its chain), the key (decrypted with
 * the password file's password, which is left in @p pass) and the trust
 * store into @p out. Every problem is an error naming key, file and why.
 */
static int creds_load(const struct mg_settings *s, char *pass, size_t passlen,
		      struct tlscfg_creds *out, char *err, size_t errlen)
{
	static const char k_cert[] = "netborder.sip.tls.serverCertificateFile";
	static const char k_key[] = "netborder.sip.tls.serverCertificatePrivateKeyFile";
	static const char k_trust[] = "netborder.sip.tls.trustedRootCertificatesStore";
	STACK_OF(X509) *certs = NULL, *trust = NULL;
	struct tlscfg_pw pw = { 0 };
	BIO *bio;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!s->tls_cert_file[0] || !s->tls_key_file[0] || !s->tls_trust_store[0]) {
		tlscfg_err(err, errlen, "%s is not set (a TLS user agent needs %s, %s and %s)",
			   !s->tls_cert_file[0] ? k_cert :
			   !s->tls_key_file[0]	? k_key :
						  k_trust,
			   k_cert, k_key, k_trust);
		return -EINVAL;
	}
	if (s->tls_key_password_file[0]) {
		rc = tlscfg_read_password_file(s->tls_key_password_file, pass, passlen, err,
					       errlen);
		if (rc < 0)
			return rc;
		pw.pass = pass;
	}

	certs = tlscfg_read_certs(k_cert, s->tls_cert_file, err, errlen);
	if (certs == NULL)
		return -EINVAL;
	out->leaf = sk_X509_shift(certs);
	out->chain = certs;
	rc = tlscfg_check_dates(k_cert, s->tls_cert_file, out->leaf, err, errlen);
	if (rc < 0)
		goto fail;

	bio = BIO_new_file(s->tls_key_file, "r");
	if (bio == NULL) {
		tlscfg_err(err, errlen, "%s %s: %s", k_key, s->tls_key_file,
			   strerror(errno ? errno : ENOENT));
		ERR_clear_error();
		rc = -ENOENT;
		goto fail;
	}
	out->key = PEM_read_bio_PrivateKey(bio, NULL, tlscfg_pw_cb, &pw);
	BIO_free(bio);
	if (out->key == NULL) {
		ERR_clear_error();
		if (pw.asked && pw.pass == NULL)
			tlscfg_err(err, errlen,
				   "%s %s: the key is encrypted but mediagate.sip.tls.keyPasswordFile is not set",
				   k_key, s->tls_key_file);
		else if (pw.asked)
			tlscfg_err(err, errlen,
				   "%s %s: cannot decrypt the key with the password of %s (wrong key password?)",
				   k_key, s->tls_key_file, s->tls_key_password_file);
		else
			tlscfg_err(err, errlen, "%s %s: no PEM private key in the file", k_key,
				   s->tls_key_file);
		rc = -EINVAL;
		goto fail;
	}
	if (!pw.asked)
		MG_WARN("tls: %s %s is not encrypted; protect it with `mediagate-cert protect-key`",
			k_key, s->tls_key_file);
	if (X509_check_private_key(out->leaf, out->key) != 1) {
		ERR_clear_error();
		tlscfg_err(err, errlen, "%s %s: the key does not match the certificate in %s",
			   k_key, s->tls_key_file, s->tls_cert_file);
		rc = -EINVAL;
		goto fail;
	}

	if (access(s->tls_trust_store, R_OK) < 0) {
		rc = -errno;
		tlscfg_err(err, errlen, "%s %s: %s", k_trust, s->tls_trust_store, strerror(-rc));
		goto fail;
	}
	trust = tlscfg_read_certs(k_trust, s->tls_trust_store, err, errlen);
	if (trust == NULL) {
		tlscfg_err(err, errlen, "%s %s: empty trust store (no PEM certificate; convert the CA chain with `mediagate-cert p7b-to-pem`)",
			   k_trust, s->tls_trust_store);
		rc = -EINVAL;
		goto fail;
	}
	out->store = X509_STORE_new();
	if (out->store == NULL) {
		sk_X509_pop_free(trust, X509_free);
		rc = -ENOMEM;
		goto fail;
	}
	for (int i = 0; i < sk_X509_num(trust); i++)
		X509_STORE_add_cert(out->store, sk_X509_value(trust, i));
	sk_X509_pop_free(trust, X509_free);
	/* Our own chain should verify against the store peers are told about. */
	{
		X509_STORE_CTX *vctx = X509_STORE_CTX_new();

		if (vctx && X509_STORE_CTX_init(vctx, out->store, out->leaf, out->chain) == 1 &&
		    X509_verify_cert(vctx) != 1)
			MG_WARN("tls: the gateway certificate %s does not verify against %s: %s",
				s->tls_cert_file, s->tls_trust_store,
				X509_verify_cert_error_string(X509_STORE_CTX_get_error(vctx)));
		X509_STORE_CTX_free(vctx);
		ERR_clear_error();
	}
	return 0;
fail:
	creds_free(out);
	return rc;
}

/* Credentials for the start: checked, kept, and written where sofia reads them. */
static int tlscfg_load_creds(const struct mg_settings *s, char *err, size_t errlen)
{
	static const char k_cert[] = "netborder.sip.tls.serverCertificateFile";
	static const char k_key[] = "netborder.sip.tls.serverCertificatePrivateKeyFile";
	static const char k_trust[] = "netborder.sip.tls.trustedRootCertificatesStore";
	struct tlscfg_creds c;
	char *cbuf = NULL, *kbuf = NULL, *tbuf = NULL;
	size_t clen, klen, tlen;
	int rc = creds_load(s, g.pass, sizeof(g.pass), &c, err, errlen);

	if (rc < 0)
		return rc;
	pthread_mutex_lock(&tlscfg_creds_lock);
	g.creds = c;
	pthread_mutex_unlock(&tlscfg_creds_lock);

	/* sofia's conventions: <dir>/agent.pem = certificate + key, <dir>/cafile.pem. */
	const char *tmp = getenv("TMPDIR");

	snprintf(g.dir, sizeof(g.dir), "%s/mediagate-tls.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(g.dir) == NULL) {
		rc = -errno;
		tlscfg_err(err, errlen, "TLS: cannot create a private directory %s: %s", g.dir,
			   strerror(-rc));
		g.dir[0] = '\0';
		return rc;
	}
	rc = tlscfg_slurp(k_cert, s->tls_cert_file, &cbuf, &clen, err, errlen);
	if (rc == 0)
		rc = tlscfg_slurp(k_key, s->tls_key_file, &kbuf, &klen, err, errlen);
	if (rc == 0)
		rc = tlscfg_slurp(k_trust, s->tls_trust_store, &tbuf, &tlen, err, errlen);
	if (rc == 0 && (tlscfg_write_file(g.dir, "agent.pem", cbuf, clen, kbuf, klen) < 0 ||
			tlscfg_write_file(g.dir, "cafile.pem", tbuf, tlen, NULL, 0) < 0)) {
		tlscfg_err(err, errlen, "TLS: cannot write sofia's certificate files in %s", g.dir);
		rc = -EIO;
	}
	if (kbuf)
		OPENSSL_cleanse(kbuf, klen);
	free(cbuf);
	free(kbuf);
	free(tbuf);
	return rc;
}

int tlscfg_init(const struct mg_settings *s, char *err, size_t errlen)
{
	int rc;

	tlscfg_fini();
	g.min_version = s->tls_min_version ? s->tls_min_version : TLS1_2_VERSION;
	g.max_version = s->tls_max_version ? s->tls_max_version : TLS1_3_VERSION;
	if (g.min_version > g.max_version) {
		tlscfg_err(err, errlen,
			   "mediagate.sip.tls.minProtocol is above mediagate.sip.tls.maxProtocol");
		return -EINVAL;
	}
	snprintf(g.tls12, sizeof(g.tls12), "%s",
		 s->tls12_ciphers[0] ? s->tls12_ciphers : "ECDHE+AESGCM:ECDHE+CHACHA20:AES128-SHA");
	snprintf(g.tls13, sizeof(g.tls13), "%s",
		 s->tls13_ciphersuites[0] ? s->tls13_ciphersuites :
					    "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256");
	g.require_client_cert = s->tls_client_auth == MG_TLS_CLIENT_AUTH_REQUIRE;

	rc = tlscfg_hook_install();
	if (rc < 0) {
		tlscfg_err(err, errlen, "TLS: cannot register the OpenSSL connection hook");
		return rc;
	}
	rc = tlscfg_load_creds(s, err, errlen);
	if (rc == 0)
		rc = tlscfg_probe(err, errlen);
	if (rc < 0) {
		tlscfg_fini();
		return rc;
	}

	/* Below-TLS-1.2 and supportSSLv2ClientHello warnings come from the
	 * configuration loader, once. */
	g.sofia.cert_dir = g.dir;
	g.sofia.passphrase = g.pass[0] ? g.pass : NULL;
	/* Outgoing: the server chain is always verified; incoming per clientAuth. */
	g.sofia.verify_policy = g.require_client_cert ? TPTLS_VERIFY_ALL : TPTLS_VERIFY_OUTGOING;
	g.active = true;
	MG_INFO("tls: TLS %s..%s, TLS1.2 ciphers \"%s\", TLS1.3 suites \"%s\", client certificates %s",
		tlscfg_version_name(g.min_version), tlscfg_version_name(g.max_version), g.tls12,
		g.tls13, g.require_client_cert ? "required" : "optional");
	return 0;
}

int tlscfg_reload(const struct mg_settings *s, char *err, size_t errlen)
{
	struct tlscfg_creds c, old;
	char pass[sizeof(g.pass)], subj[256], until[64];
	int rc, roots;

	if (!g.active)
		return 0;
	rc = creds_load(s, pass, sizeof(pass), &c, err, errlen);
	OPENSSL_cleanse(pass, sizeof(pass));
	if (rc < 0)
		return rc;
	X509_NAME_oneline(X509_get_subject_name(c.leaf), subj, sizeof(subj));
	tlscfg_time(X509_get0_notAfter(c.leaf), until, sizeof(until));
	roots = sk_X509_OBJECT_num(X509_STORE_get0_objects(c.store));
	pthread_mutex_lock(&tlscfg_creds_lock);
	old = g.creds;
	g.creds = c;
	pthread_mutex_unlock(&tlscfg_creds_lock);
	creds_free(&old);
	MG_INFO("tls: SIGHUP: new connections get the certificate %s (valid until %s, %d in the "
		"chain after it) and a trust store of %d certificate(s) from %s; established "
		"connections keep theirs",
		subj, until, sk_X509_num(c.chain), roots, s->tls_trust_store);
	return 0;
}

const struct tlscfg_sofia *tlscfg_sofia(void)
{
	return g.active ? &g.sofia : NULL;
}

void tlscfg_sofia_loaded(void)
{
	tlscfg_rmdir();
}

void tlscfg_fini(void)
{
	g.active = false;
	tlscfg_rmdir();
	tlscfg_free_creds();
	pthread_mutex_lock(&tlscfg_expect_lock);
	g.n_expect = 0;
	pthread_mutex_unlock(&tlscfg_expect_lock);
	memset(&g.sofia, 0, sizeof(g.sofia));
}

int tlscfg_expect_host(const struct sockaddr *peer, const char *host)
{
	struct tlscfg_expect *e = NULL;
	size_t alen = peer->sa_family == AF_INET ? sizeof(struct sockaddr_in) :
		      peer->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) :
						   0;

	if (alen == 0 || host == NULL || strlen(host) >= sizeof(e->host))
		return -EINVAL;
	pthread_mutex_lock(&tlscfg_expect_lock);
	for (unsigned i = 0; i < g.n_expect && e == NULL; i++)
		if (!memcmp(&g.expect[i].addr, peer, alen))
			e = &g.expect[i];
	if (e == NULL && g.n_expect < TLSCFG_MAX_EXPECT)
		e = &g.expect[g.n_expect++];
	if (e != NULL) {
		memset(&e->addr, 0, sizeof(e->addr));
		memcpy(&e->addr, peer, alen);
		snprintf(e->host, sizeof(e->host), "%s", host);
	}
	pthread_mutex_unlock(&tlscfg_expect_lock);
	return e != NULL ? 0 : -ENOSPC;
}
