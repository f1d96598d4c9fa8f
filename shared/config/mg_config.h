/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file mg_config.h
 * @brief gw.properties: load, validate, and read the effective configuration.
 *
 * One schema table (mg_config_schema.c) lists every key with its type,
 * default, validator and one-line help; it drives parsing, validation, the
 * `--check` output and docs/configuration.md. Consumers read the typed view
 * (struct mg_settings) filled once at load time, never re-parse strings.
 */
#ifndef MG_CONFIG_H
#define MG_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "mg_log.h"
#include "mg_srtp_suite.h"

#define MG_CFG_MAX_UA 16
#define MG_CFG_MAX_PORTS 8
#define MG_CFG_MAX_ADDRS 8
#define MG_CFG_MAX_UIDS 8
#define MG_CFG_MAX_SUITES 4
#define MG_CFG_MAX_SPANS 8

enum mg_transport { MG_TRANSPORT_UDP, MG_TRANSPORT_TCP, MG_TRANSPORT_TLS };
enum mg_srtp_mode { MG_SRTP_MODE_ALWAYS, MG_SRTP_MODE_AS_NEEDED, MG_SRTP_MODE_NEVER };
enum mg_tls_client_auth { MG_TLS_CLIENT_AUTH_REQUIRE, MG_TLS_CLIENT_AUTH_OPTIONAL };
enum mg_tdm_span_role { MG_TDM_SPAN_USER, MG_TDM_SPAN_NETWORK };

/** One entry of netborder.sip.userAgent.IPAddress. */
struct mg_sip_ua {
	char addr[64];          /**< numeric address, "" for INADDR_ANY */
	int family;             /**< AF_INET or AF_INET6 (AF_INET for INADDR_ANY) */
	uint16_t port;
	enum mg_transport transport;
};

/** An IPv4/IPv6 address with prefix length, as text and binary. */
struct mg_cidr {
	int family;             /**< AF_INET or AF_INET6 */
	uint8_t addr[16];       /**< network byte order */
	uint8_t prefix_len;
};

#define MG_CFG_MAX_NG_LISTEN 8
#define MG_CFG_MAX_NG_ALLOWED 16

/** One NG listener: an entry of mediagate.ng.listen ("ADDR:PORT/udp|tcp"). */
struct mg_ng_listen {
	char addr[64];          /**< numeric IPv4/IPv6 address */
	uint16_t port;
	bool tcp;               /**< false: udp */
};

/** One dataplane port: mediagate.dataplane.port.N.* */
struct mg_dp_port {
	char devargs[256];      /**< DPDK vdev/PCI device string */
	struct mg_cidr addrs[MG_CFG_MAX_ADDRS];
	unsigned n_addrs;
	struct mg_cidr nexthop; /**< prefix_len unused; family 0 if none */
	struct mg_cidr shared;  /**< sharedAddress (standby pair): family 0 if none */
};

/** One TDM span: mediagate.tdm.span.N.* */
struct mg_tdm_span {
	bool configured;        /**< some mediagate.tdm.span.N.* key was given */
	enum mg_tdm_span_role role; /**< ISDN side: user (CPE) or network */
	char switch_type[16];   /**< libpri switch type name, e.g. "national" */
};

/** The typed effective configuration. */
/** mediagate.redis.role: a standby only reads (issue 12 item 3). */
enum mg_redis_role { MG_REDIS_ACTIVE = 0, MG_REDIS_STANDBY };

struct mg_settings {
	char install_dir[PATH_MAX];

	/* SIP (control) */
	struct mg_sip_ua ua[MG_CFG_MAX_UA];
	unsigned n_ua;
	char tls_cert_file[PATH_MAX];
	char tls_key_file[PATH_MAX];
	char tls_trust_store[PATH_MAX];
	char tls_key_password_file[PATH_MAX];
	char tls12_ciphers[1024];   /**< OpenSSL cipher string, preference order */
	char tls13_ciphersuites[256];
	int tls_min_version;        /**< TLS1_VERSION .. TLS1_3_VERSION */
	int tls_max_version;
	enum mg_tls_client_auth tls_client_auth;
	bool ssl2_client_hello;
	char routing_rules_file[PATH_MAX];
	char sip_contact_host[256]; /**< "" = the user agent's own address */

	/* media */
	enum mg_srtp_mode srtp_mode;
	enum mg_srtp_suite crypto_suites[MG_CFG_MAX_SUITES]; /**< priority order */
	unsigned n_crypto_suites;
	bool lock_on_sdp;
	uint16_t media_port_min;    /**< even */
	uint16_t media_port_max;    /**< odd */
	bool media_handover;        /**< default of a leg's MG_LEG_F_HANDOVER (control) */
	unsigned media_handover_silence_ms; /**< plain legs: silence before a new source (dataplane) */

	/* call admission (control) */
	unsigned max_calls;         /**< 0 = no limit of its own */
	unsigned retry_after_s;     /**< Retry-After of an overload 503; 0 = none */
	unsigned media_timeout_s;   /**< end a call whose peer sends no media; 0 = never */
	unsigned max_rate;          /**< new calls per second, 0 = no limit */
	unsigned max_loop_lag_ms;   /**< shed new calls over this event-loop lag, 0 = off */

	/* NG control API (control): mediagate.ng.* */
	struct mg_ng_listen ng_listen[MG_CFG_MAX_NG_LISTEN]; /**< UDP/TCP listeners */
	unsigned n_ng_listen;       /**< 0 = no NG over UDP/TCP */
	char ng_http_addr[64];      /**< HTTP POST /ng, /ng-plain; "" = off */
	uint16_t ng_http_port;
	struct mg_cidr ng_allowed[MG_CFG_MAX_NG_ALLOWED]; /**< who may send commands */
	unsigned n_ng_allowed;      /**< default: 127.0.0.0/8 and ::1/128 */
	unsigned ng_timeout_s;        /**< answered session without media: deleted; 0 = never */
	unsigned ng_silent_timeout_s; /**< the same, every stream on hold/inactive */
	unsigned ng_final_timeout_s;  /**< any session after this long; 0 = off */
	unsigned ng_offer_timeout_s;  /**< offered, never answered; 0 = never */

	/* session state in Redis (control): mediagate.redis.* (docs/ha-state.md) */
	char redis_url[256];        /**< redis://HOST:PORT or unix:PATH; "" = off */
	enum mg_redis_role redis_role;
	unsigned redis_db;
	char redis_node[64];        /**< key prefix's node id; "" = the host name */
	unsigned redis_expire_s;    /**< EXPIRE of a key, refreshed by every write */
	unsigned redis_queue;       /**< writes waiting while Redis is away */
	unsigned redis_read_timeout_ms; /**< read-back / ha adopt read bound; SIP held meanwhile */
	unsigned redis_alive_ms;    /**< heartbeat key mg:NODE:alive expiry; 0 = none */

	/* Prometheus metrics (control): mediagate.metrics.listen */
	char metrics_addr[64];      /**< HTTP GET /metrics; "" = off */
	uint16_t metrics_port;

	/* control <-> dataplane */
	char control_socket[108];
	char cli_socket[108];       /**< mgctl's socket (control plane) */
	uid_t allowed_uids[MG_CFG_MAX_UIDS];
	unsigned n_allowed_uids;

	/* dataplane */
	char eal_args[1024];
	struct mg_dp_port ports[MG_CFG_MAX_PORTS];
	unsigned n_ports;
	char worker_lcores[64];
	unsigned idle_sleep_us;     /**< 0 = busy poll */
	unsigned orphan_timeout_s;  /**< dataplane: keep sessions without control this long */
	unsigned dp_restart_wait_s; /**< control: calls wait this long for the dataplane */
	unsigned max_sessions;
	char capture_dir[PATH_MAX]; /**< where capture files may be written */

	/* logging */
	enum mg_log_level log_level;
	bool log_syslog;

	/* TDM (DAHDI) */
	char tdm_system_conf[PATH_MAX];
	char tdm_device_path[PATH_MAX];
	struct mg_tdm_span tdm_spans[MG_CFG_MAX_SPANS];
	unsigned n_tdm_spans;       /**< highest configured index + 1 */
	bool tdm_echo_cancel;
};

struct mg_config;

/** Which process is loading: keys that only matter to the other are still validated. */
enum mg_config_role { MG_CONFIG_ROLE_CONTROL, MG_CONFIG_ROLE_DATAPLANE, MG_CONFIG_ROLE_TOOL };

/**
 * Load @p path (NULL: embedded defaults only), validate every key, fill the
 * typed view. Every error and warning is written to @p diag (stderr if NULL)
 * as "file:line: key=value: error: problem (allowed: ...)" (or "warning:";
 * "(default):" instead of file:line for a default). Returns NULL with
 * errno = EINVAL if there was any error (after reporting all of them).
 */
struct mg_config *mg_config_load(const char *path, enum mg_config_role role, FILE *diag);

/**
 * Like mg_config_load() but reads the properties from @p text, naming it
 * @p name in messages (tests, embedded configurations).
 */
struct mg_config *mg_config_load_string(const char *text, const char *name,
					enum mg_config_role role, FILE *diag);

/**
 * Levenshtein distance between @p a and @p b (case-insensitive with
 * @p ignore_case), for "did you mean" hints; (size_t)-1 for strings of 128
 * characters or more.
 */
size_t mg_edit_distance(const char *a, const char *b, bool ignore_case);

/** Number of warnings reported while loading. */
unsigned mg_config_warnings(const struct mg_config *cfg);

/**
 * Where the effective value of @p key came from: "default", or a file name
 * with *line set. NULL if the key is unknown.
 */
const char *mg_config_origin(const struct mg_config *cfg, const char *key, unsigned *line);

/** Free a configuration. */
void mg_config_free(struct mg_config *cfg);

/** The typed view. */
const struct mg_settings *mg_config_settings(const struct mg_config *cfg);

/** Raw effective string value of a key (after expansion), NULL if unknown key. */
const char *mg_config_get(const struct mg_config *cfg, const char *key);

/** Print the effective configuration: key, value, origin ("default" or file:line). */
void mg_config_print(const struct mg_config *cfg, FILE *out);

/** Write the Markdown reference generated from the schema table. */
void mg_config_write_reference(FILE *out);

/** Write an example gw.properties: every key, its help, its default. */
void mg_config_write_example(FILE *out);

/** Write gw.properties(5), the manual page generated from the schema table (roff). */
void mg_config_write_man(FILE *out);

#endif
