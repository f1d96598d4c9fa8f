/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mgctl: the operator's one command-line client for both daemons
 * (docs/operations.md "mgctl", mgctl(8)). Control-plane commands go as JSON
 * lines to mediagate-control's socket (mediagate.control.cliSocket,
 * control/cli); `mgctl dp ...` are mediagate-dpctl's commands, built in
 * (dataplane/dpctl/dpctl.c), straight to the dataplane's socket. Links
 * neither DPDK nor sofia-sip: the NG codec for JSON, the shared wire
 * protocol for the dataplane.
 *
 * Exit status: 0 ok, 1 the command failed (refused, not found, timed out
 * waiting), 2 usage, 3 a daemon unreachable.
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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mg_build_config.h"
#include "mg_config.h"
#include "mg_log.h"
#include "ng_codec.h"

#define EXIT_FAILED 1
#define EXIT_USAGE 2
#define EXIT_UNREACHABLE 3

int dpctl_main(int argc, char **argv); /* dataplane/dpctl/dpctl.c, MG_DPCTL_EMBEDDED */

static struct {
	bool json;
	int timeout_ms;
	const char *config;
	const char *cli_sock;
	const char *dp_sock;
	int fd;
	struct ng_buf in;
	struct ng_doc *doc;
} g = { .timeout_ms = 5000, .fd = -1 };

static void usage(FILE *out)
{
	fprintf(out,
		"usage: mgctl [--json] [--config FILE] [--socket PATH] [--dp-socket PATH]\n"
		"             [--timeout MS] COMMAND [ARGS]\n"
		"\n"
		"The operator's client for mediagate-control and mediagate-dataplane.\n"
		"\n"
		"control plane (mediagate.control.cliSocket):\n"
		"  version                         software, pid, uptime\n"
		"  stats                           calls, media, NG and dataplane counters\n"
		"  calls [list]                    B2BUA calls\n"
		"  calls show ID                   one call\n"
		"  calls terminate ID              end a call (BYE or CANCEL on both legs)\n"
		"  sessions [list]                 NG media sessions\n"
		"  sessions show CALL-ID           one session with its counters\n"
		"  drain [status]                  drain state, calls and sessions left\n"
		"  drain on [--exit] [--wait [--timeout S]]\n"
		"                                  refuse new calls (SIP 503, NG load limit);\n"
		"                                  --exit: the control plane stops at 0 calls\n"
		"  drain off\n"
		"  drain --wait [--timeout S]      wait until 0 calls and 0 sessions\n"
		"  maxcalls [N]                    admission limit (0: none) until SIGHUP\n"
		"  log level [error|warning|info|debug]\n"
		"  ng JSON                         one NG command (query, list, statistics, ...)\n"
		"  capture start CALL|SESSION FILE [--decrypted] [--session]\n"
		"                                  pcapng of the call's / NG session's packets\n"
		"                                  (FILE: absolute, new, in captureDir)\n"
		"  capture stop CALL|SESSION [--session]\n"
		"                                  packets written, copies lost\n"
		"  ha [status]                     standby pair: role, pre-installed sessions\n"
		"  ha adopt NODE [ADDRESS] [--force]\n"
		"                                  end a dead gateway's calls (keepalived\n"
		"                                  notify_master): a BYE on each leg, sent\n"
		"                                  from our SIP address ADDRESS (its, moved);\n"
		"                                  refused while NODE's heartbeat is fresh\n"
		"                                  (mg:NODE:alive) unless --force\n"
		"  ha promote                      take over (keepalived notify_master): the\n"
		"                                  sessions forward, the shared address is ours\n"
		"  ha release                      give the shared address up (notify_backup)\n"
		"\n"
		"dataplane (mediagate.control.socket), mediagate-dpctl's commands:\n"
		"  dp ping [COUNT] | dp hello | dp stats | dp session list|get|stats|del ID\n"
		"  dp port-alloc ... | dp port-free ... | dp session add|modify ... |\n"
		"  dp fork add|del ... | dp tdm bind|unbind ... | dp capture start|stop ...\n"
		"                                  (mgctl dp --help)\n"
		"\n"
		"--json prints the daemon's reply as one JSON object per line (for scripts);\n"
		"the default is tables and key: value lines.\n"
		"exit: 0 ok, 1 the command failed, 2 usage, 3 a daemon unreachable\n");
}

__attribute__((format(printf, 1, 2), noreturn)) static void die_usage(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "mgctl: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n(see mgctl --help)\n");
	exit(EXIT_USAGE);
}

__attribute__((format(printf, 2, 3), noreturn)) static void die(int code, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "mgctl: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(code);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t parse_uint(const char *s, const char *what, uint64_t max)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (*s < '0' || *s > '9' || *end != '\0' || errno != 0 || v > max)
		die_usage("%s '%s' (allowed: 0..%" PRIu64 ")", what, s, max);
	return v;
}

/* --------------------------------------------------------------- control */

/* 0, or -errno when the control plane cannot be reached. */
static int cli_connect(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (strlen(g.cli_sock) >= sizeof(sa.sun_path))
		die_usage("socket path '%s' too long", g.cli_sock);
	memcpy(sa.sun_path, g.cli_sock, strlen(g.cli_sock) + 1);
	g.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (g.fd < 0)
		return -errno;
	if (connect(g.fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = -errno;

		close(g.fd);
		g.fd = -1;
		return e;
	}
	return 0;
}

/*
 * Send @p req (a JSON object) and return the reply dict (in g.doc), or
 * NULL with @p err set (-errno: the connection failed).
 */
static const struct ng_val *cli_call_try(const char *req, int *err)
{
	uint64_t deadline = now_ms() + (uint64_t)g.timeout_ms;
	size_t len = strlen(req);
	struct ng_val *v;
	char why[160];

	*err = 0;
	if (g.fd < 0 && (*err = cli_connect()) < 0)
		return NULL;
	if (send(g.fd, req, len, MSG_NOSIGNAL) != (ssize_t)len || send(g.fd, "\n", 1, MSG_NOSIGNAL) != 1) {
		*err = -errno;
		return NULL;
	}
	for (;;) {
		char *nl = g.in.p != NULL ? memchr(g.in.p, '\n', g.in.len) : NULL;
		struct pollfd pfd = { .fd = g.fd, .events = POLLIN };
		int64_t left = (int64_t)(deadline - now_ms());
		char buf[16384];
		ssize_t n;

		if (nl != NULL) {
			size_t l = (size_t)(nl - g.in.p);

			ng_doc_free(g.doc);
			g.doc = ng_doc_new();
			if (g.doc == NULL)
				die(EXIT_FAILED, "out of memory");
			struct ng_limits lim = { .max_input = 64u << 20, .max_items = 1u << 22 };

			if (ng_json_decode(g.doc, g.in.p, l, &lim, &v, why, sizeof(why)) < 0 || v->type != NG_DICT)
				die(EXIT_FAILED, "unreadable reply from mediagate-control: %s", why);
			memmove(g.in.p, nl + 1, g.in.len - l - 1);
			g.in.len -= l + 1;
			return v;
		}
		if (left <= 0 || poll(&pfd, 1, (int)left) == 0)
			die(EXIT_UNREACHABLE, "no answer from mediagate-control at %s within %d ms",
			    g.cli_sock, g.timeout_ms);
		n = recv(g.fd, buf, sizeof(buf), 0);
		if (n <= 0) {
			*err = n == 0 ? -ECONNRESET : -errno;
			return NULL;
		}
		if (ng_buf_append(&g.in, buf, (size_t)n) < 0)
			die(EXIT_FAILED, "out of memory");
	}
}

static int64_t dict_int(const struct ng_val *d, const char *key);
static const char *dict_str(const struct ng_val *d, const char *key);

static const struct ng_val *cli_call(const char *req)
{
	int err;
	const struct ng_val *v = cli_call_try(req, &err);

	if (v == NULL)
		die(EXIT_UNREACHABLE, "cannot reach mediagate-control at %s: %s%s", g.cli_sock,
		    strerror(-err),
		    err == -EACCES ? " (the socket is mode 0660: be root or in its group)" : "");
	if (dict_int(v, "refused") == 1)
		die(EXIT_UNREACHABLE, "refused by mediagate-control: %s (uid %u)",
		    dict_str(v, "error-reason"), (unsigned)geteuid());
	return v;
}

static int64_t dict_int(const struct ng_val *d, const char *key)
{
	const struct ng_val *v = ng_dict_get(d, key);

	return v != NULL && v->type == NG_INT ? v->i : -1;
}

static const char *dict_str(const struct ng_val *d, const char *key)
{
	const char *s = ng_dict_str(d, key);

	return s != NULL ? s : "";
}

/* ---------------------------------------------------------------- output */

static void print_json(const struct ng_val *v)
{
	struct ng_buf b = { 0 };

	if (ng_json_encode(v, &b) < 0)
		die(EXIT_FAILED, "out of memory");
	fwrite(b.p, 1, b.len, stdout);
	fputc('\n', stdout);
	ng_buf_free(&b);
}

static void print_scalar(const struct ng_val *v)
{
	if (v->type == NG_INT)
		printf("%" PRId64, v->i);
	else if (v->type == NG_STR)
		printf("%s", v->len > 0 ? v->s : "-");
	else {
		struct ng_buf b = { 0 };

		if (ng_json_encode(v, &b) == 0)
			fwrite(b.p, 1, b.len, stdout);
		ng_buf_free(&b);
	}
}

static bool is_flat_dict(const struct ng_val *v)
{
	if (v->type != NG_DICT)
		return false;
	/* cells hold scalars or a short list of scalars */
	for (const struct ng_val *c = v->child; c != NULL; c = c->next) {
		if (c->type == NG_DICT || (c->type == NG_LIST && c->len > 4))
			return false;
		if (c->type == NG_LIST)
			for (const struct ng_val *x = c->child; x != NULL; x = x->next)
				if (x->type == NG_DICT || x->type == NG_LIST)
					return false;
	}
	return true;
}

/* A list of flat dicts: a table with the first item's keys as columns. */
static void print_table(const struct ng_val *list, int indent)
{
	const struct ng_val *first = list->child;
	size_t w[32] = { 0 };
	unsigned ncol = 0;

	for (const struct ng_val *c = first->child; c != NULL && ncol < 32; c = c->next, ncol++)
		w[ncol] = strlen(c->key);
	for (const struct ng_val *row = first; row != NULL; row = row->next) {
		unsigned i = 0;

		for (const struct ng_val *c = first->child; c != NULL && i < 32; c = c->next, i++) {
			const struct ng_val *x = ng_dict_get(row, c->key);
			char tmp[64];
			size_t l = x == NULL ? 1 : x->type == NG_STR ? (x->len ? x->len : 1)
				 : x->type == NG_INT ? (size_t)snprintf(tmp, sizeof(tmp), "%" PRId64, x->i) : 8;

			if (l > w[i])
				w[i] = l;
		}
	}
	printf("%*s", indent, "");
	{
		unsigned i = 0;

		for (const struct ng_val *c = first->child; c != NULL && i < 32; c = c->next, i++)
			printf("%-*s  ", (int)w[i], c->key);
	}
	printf("\n");
	for (const struct ng_val *row = first; row != NULL; row = row->next) {
		unsigned i = 0;

		printf("%*s", indent, "");
		for (const struct ng_val *c = first->child; c != NULL && i < 32; c = c->next, i++) {
			const struct ng_val *x = ng_dict_get(row, c->key);
			char cell[256];

			if (x == NULL)
				snprintf(cell, sizeof(cell), "-");
			else if (x->type == NG_INT)
				snprintf(cell, sizeof(cell), "%" PRId64, x->i);
			else if (x->type == NG_STR)
				snprintf(cell, sizeof(cell), "%s", x->len ? x->s : "-");
			else {
				struct ng_buf b = { 0 };

				if (ng_json_encode(x, &b) == 0)
					snprintf(cell, sizeof(cell), "%.*s", (int)b.len, b.p);
				ng_buf_free(&b);
			}
			printf("%-*s  ", (int)w[i], cell);
		}
		printf("\n");
	}
}

/* key: value lines, nested dicts indented, lists of flat dicts as tables. */
static void print_human(const struct ng_val *v, int indent)
{
	for (const struct ng_val *c = v->child; c != NULL; c = c->next) {
		if (indent == 0 && strcmp(c->key, "result") == 0)
			continue;
		if (c->type == NG_DICT) {
			printf("%*s%s:\n", indent, "", c->key);
			print_human(c, indent + 2);
		} else if (c->type == NG_LIST && c->child != NULL && is_flat_dict(c->child)) {
			printf("%*s%s:\n", indent, "", c->key);
			print_table(c, indent + 2);
		} else if (c->type == NG_LIST && c->child != NULL && c->child->type == NG_DICT) {
			unsigned i = 0;

			for (const struct ng_val *x = c->child; x != NULL; x = x->next, i++) {
				printf("%*s%s[%u]:\n", indent, "", c->key, i);
				print_human(x, indent + 2);
			}
		} else {
			printf("%*s%s: ", indent, "", c->key);
			print_scalar(c);
			printf("\n");
		}
	}
}

/* The reply: printed; exit status 1 for result error. */
static int finish(const struct ng_val *rep)
{
	const char *res = dict_str(rep, "result");

	if (g.json)
		print_json(rep);
	if (strcmp(res, "ok") != 0) {
		fprintf(stderr, "mgctl: %s\n", ng_dict_str(rep, "error-reason") ? ng_dict_str(rep, "error-reason")
										   : "the command failed");
		return EXIT_FAILED;
	}
	if (!g.json)
		print_human(rep, 0);
	return 0;
}

static void print_calls_table(const struct ng_val *list)
{
	printf("%-6s %-9s %6s  %-16s %-26s %-24s %s\n", "ID", "STATE", "AGE", "FROM", "LEG0 REMOTE",
	       "LEG1 REMOTE", "SRTP (leg0/leg1)");
	for (const struct ng_val *c = list != NULL ? list->child : NULL; c != NULL; c = c->next) {
		const struct ng_val *legs = ng_dict_get(c, "legs");
		const struct ng_val *l0 = legs != NULL ? legs->child : NULL;
		const struct ng_val *l1 = l0 != NULL ? l0->next : NULL;
		char srtp[80];

		snprintf(srtp, sizeof(srtp), "%s/%s", l0 && *dict_str(l0, "srtp") ? dict_str(l0, "srtp") : "-",
			 l1 && *dict_str(l1, "srtp") ? dict_str(l1, "srtp") : "-");
		printf("%-6" PRId64 " %-9s %5" PRId64 "s  %-16s %-26s %-24s %s\n", dict_int(c, "id"),
		       dict_str(c, "state"), dict_int(c, "age_s"), *dict_str(c, "from") ? dict_str(c, "from") : "-",
		       l0 && *dict_str(l0, "remote") ? dict_str(l0, "remote") : "-",
		       l1 && *dict_str(l1, "remote") ? dict_str(l1, "remote") : "-", srtp);
	}
}

static void print_sessions_table(const struct ng_val *list)
{
	printf("%-40s %6s %7s  %s\n", "CALL-ID", "AGE", "STREAMS", "TAGS");
	for (const struct ng_val *s = list != NULL ? list->child : NULL; s != NULL; s = s->next) {
		const struct ng_val *sides = ng_dict_get(s, "sides");
		char tags[256] = "";
		size_t n = 0;

		for (const struct ng_val *sd = sides ? sides->child : NULL; sd != NULL; sd = sd->next) {
			const struct ng_val *ps = ng_dict_get(sd, "parties");

			for (const struct ng_val *p = ps ? ps->child : NULL; p != NULL; p = p->next)
				if (n < sizeof(tags))
					n += (size_t)snprintf(tags + n, sizeof(tags) - n, "%s%s", n ? " " : "",
							      *dict_str(p, "tag") ? dict_str(p, "tag") : "?");
		}
		printf("%-40s %5" PRId64 "s %7" PRId64 "  %s\n", dict_str(s, "call-id"), dict_int(s, "age_s"),
		       dict_int(s, "streams"), tags[0] ? tags : "-");
	}
}

/* -------------------------------------------------------------- commands */

static void buf_add(struct ng_buf *b, const char *s)
{
	if (ng_buf_append(b, s, strlen(s)) < 0)
		die(EXIT_FAILED, "out of memory");
}

/* The request in @p b is complete: NUL-terminated for send(). */
static void buf_end(struct ng_buf *b)
{
	if (ng_buf_append(b, "", 1) < 0)
		die(EXIT_FAILED, "out of memory");
}

/* A JSON string of @p s (quotes and escapes) appended to @p b. */
static void json_str(struct ng_buf *b, const char *s)
{
	struct ng_doc *d = ng_doc_new();
	struct ng_val *v = ng_new_str(d, s);

	if (v == NULL || ng_json_encode(v, b) < 0)
		die(EXIT_FAILED, "out of memory");
	ng_doc_free(d);
}

static int cmd_simple(const char *req)
{
	return finish(cli_call(req));
}

static int cmd_calls(int argc, char **argv)
{
	const char *sub = argc > 0 ? argv[0] : "list";
	char req[128];

	if (strcmp(sub, "list") == 0) {
		const struct ng_val *rep;

		if (argc > 1)
			die_usage("calls list takes no argument");
		rep = cli_call("{\"command\":\"calls list\"}");
		if (g.json || strcmp(dict_str(rep, "result"), "ok") != 0)
			return finish(rep);
		print_calls_table(ng_dict_get(rep, "calls"));
		return 0;
	}
	if (strcmp(sub, "show") == 0 || strcmp(sub, "terminate") == 0) {
		if (argc != 2)
			die_usage("calls %s ID (the id from calls list)", sub);
		snprintf(req, sizeof(req), "{\"command\":\"calls %s\",\"id\":%" PRIu64 "}", sub,
			 parse_uint(argv[1], "call id", UINT32_MAX));
		return cmd_simple(req);
	}
	die_usage("calls: unknown subcommand '%s' (allowed: list, show, terminate)", sub);
}

static int cmd_sessions(int argc, char **argv)
{
	const char *sub = argc > 0 ? argv[0] : "list";

	if (strcmp(sub, "list") == 0) {
		const struct ng_val *rep = cli_call("{\"command\":\"sessions\"}");

		if (g.json || strcmp(dict_str(rep, "result"), "ok") != 0)
			return finish(rep);
		print_sessions_table(ng_dict_get(rep, "sessions"));
		return 0;
	}
	if (strcmp(sub, "show") == 0) {
		struct ng_buf b = { 0 };
		int rc;

		if (argc != 2)
			die_usage("sessions show CALL-ID");
		buf_add(&b, "{\"command\":\"sessions show\",\"call-id\":");
		json_str(&b, argv[1]);
		buf_add(&b, "}");
		buf_end(&b);
		rc = cmd_simple(b.p);
		ng_buf_free(&b);
		return rc;
	}
	die_usage("sessions: unknown subcommand '%s' (allowed: list, show)", sub);
}

/* Poll the drain state until 0 calls and 0 sessions, or the control plane
 * exits when @p exiting (`drain on --exit`, or its state says so). */
static int drain_wait(unsigned timeout_s, bool exiting)
{
	uint64_t deadline = now_ms() + (uint64_t)timeout_s * 1000u;

	for (;;) {
		int err;
		const struct ng_val *rep = cli_call_try("{\"command\":\"drain\"}", &err);

		if (rep == NULL) {
			if (exiting) {
				/* it stopped as asked: that is the end of the drain */
				if (g.json)
					printf("{\"result\":\"ok\",\"calls\":0,\"sessions\":0,\"exited\":1}\n");
				else
					printf("drained; mediagate-control exited\n");
				return 0;
			}
			die(EXIT_UNREACHABLE, "cannot reach mediagate-control at %s: %s", g.cli_sock,
			    strerror(-err));
		}
		exiting = dict_int(rep, "exit_at_zero") == 1;
		if (dict_int(rep, "calls") == 0 && dict_int(rep, "sessions") == 0)
			return finish(rep);
		if (timeout_s > 0 && now_ms() >= deadline) {
			if (g.json)
				print_json(rep);
			fprintf(stderr, "mgctl: drain --wait: %" PRId64 " calls and %" PRId64
				" sessions still up after %u s\n", dict_int(rep, "calls"),
				dict_int(rep, "sessions"), timeout_s);
			return EXIT_FAILED;
		}
		usleep(200000);
	}
}

static int cmd_drain(int argc, char **argv)
{
	int on = -1;
	bool ex = false, wait = false;
	unsigned timeout_s = 0;
	char req[128];

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "on") == 0)
			on = 1;
		else if (strcmp(argv[i], "off") == 0)
			on = 0;
		else if (strcmp(argv[i], "status") == 0)
			;
		else if (strcmp(argv[i], "--exit") == 0)
			ex = true;
		else if (strcmp(argv[i], "--wait") == 0)
			wait = true;
		else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc)
			timeout_s = (unsigned)parse_uint(argv[++i], "--timeout", 86400);
		else
			die_usage("drain: unknown word '%s' (allowed: on, off, status, --exit, --wait, "
				  "--timeout S)", argv[i]);
	}
	if (ex && on != 1)
		die_usage("drain --exit goes with on");
	if (wait && on == 0)
		die_usage("drain off --wait: nothing to wait for");
	if (on < 0)
		snprintf(req, sizeof(req), "{\"command\":\"drain\"}");
	else
		snprintf(req, sizeof(req), "{\"command\":\"drain\",\"on\":%s,\"exit\":%s}",
			 on ? "true" : "false", ex ? "true" : "false");
	if (timeout_s > 0 && !wait)
		die_usage("drain --timeout goes with --wait");
	if (!wait || on >= 0) {
		const struct ng_val *rep = cli_call(req);

		if (!wait || strcmp(dict_str(rep, "result"), "ok") != 0)
			return finish(rep);
	}
	/* after `drain on --exit` the control plane may be gone at the first
	 * poll already: that is the end of the drain, not an error */
	return drain_wait(timeout_s, on == 1 && ex);
}

static int cmd_maxcalls(int argc, char **argv)
{
	char req[128];

	if (argc > 1)
		die_usage("maxcalls [N]");
	if (argc == 0)
		return cmd_simple("{\"command\":\"maxcalls\"}");
	snprintf(req, sizeof(req), "{\"command\":\"maxcalls\",\"value\":%" PRIu64 "}",
		 parse_uint(argv[0], "maxcalls", 1000000));
	return cmd_simple(req);
}

static int cmd_ha(int argc, char **argv)
{
	char req[220];

	if (argc >= 2 && strcmp(argv[0], "adopt") == 0) {
		/* ha adopt NODE [ADDRESS] [--force] (--force anywhere after adopt) */
		const char *pos[2] = { NULL, NULL };
		int npos = 0, force = 0;

		for (int i = 1; i < argc; i++) {
			if (strcmp(argv[i], "--force") == 0)
				force = 1;
			else if (npos < 2)
				pos[npos++] = argv[i];
			else
				npos = 3;
		}
		if (npos < 1 || npos > 2 || strlen(pos[0]) > 63 || strpbrk(pos[0], "\"\\") != NULL ||
		    (npos == 2 && (strlen(pos[1]) > 63 || strpbrk(pos[1], "\"\\") != NULL)))
			die_usage("ha adopt NODE [ADDRESS] [--force] (a mediagate.redis.node name, the SIP "
				  "address it had; --force: even while its heartbeat is fresh)");
		snprintf(req, sizeof(req), "{\"command\":\"ha adopt\",\"node\":\"%s\"%s%s%s%s}", pos[0],
			 npos == 2 ? ",\"address\":\"" : "", npos == 2 ? pos[1] : "", npos == 2 ? "\"" : "",
			 force ? ",\"force\":1" : "");
		return cmd_simple(req);
	}
	if (argc > 1)
		die_usage("ha [status|promote|release|adopt NODE [ADDRESS] [--force]]");
	if (argc == 0 || strcmp(argv[0], "status") == 0)
		return cmd_simple("{\"command\":\"ha\"}");
	if (strcmp(argv[0], "promote") == 0)
		return cmd_simple("{\"command\":\"ha promote\"}");
	if (strcmp(argv[0], "release") == 0)
		return cmd_simple("{\"command\":\"ha release\"}");
	die_usage("ha '%s' (allowed: status, promote, release, adopt NODE [ADDRESS] [--force])", argv[0]);
}

static int cmd_log(int argc, char **argv)
{
	enum mg_log_level l;
	char req[128];

	if (argc < 1 || strcmp(argv[0], "level") != 0 || argc > 2)
		die_usage("log level [error|warning|info|debug]");
	if (argc == 1)
		return cmd_simple("{\"command\":\"log level\"}");
	if (mg_log_level_parse(argv[1], &l) < 0)
		die_usage("log level '%s' (allowed: error, warning, info, debug)", argv[1]);
	snprintf(req, sizeof(req), "{\"command\":\"log level\",\"level\":\"%s\"}", mg_log_level_name(l));
	return cmd_simple(req);
}

/* `mgctl ng JSON`: any NG command through the control socket; the NG
 * reply as it is (result ok, pong, load limit...; exit 1 for error). */
static int cmd_ng(int argc, char **argv)
{
	struct ng_buf b = { 0 };
	const struct ng_val *rep;
	const char *res;

	if (argc != 1 || argv[0][0] != '{')
		die_usage("ng '{\"command\": \"query\", \"call-id\": \"...\"}' (one NG request as JSON)");
	/* one request per line: a JSON written over several lines is joined
	 * (a raw newline is white space there, invalid inside a string) */
	for (char *p = argv[0]; *p != '\0'; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	buf_add(&b, "{\"command\":\"ng\",\"request\":");
	buf_add(&b, argv[0]);
	buf_add(&b, "}");
	buf_end(&b);
	rep = cli_call(b.p);
	ng_buf_free(&b);
	res = dict_str(rep, "result");
	if (g.json)
		print_json(rep);
	if (strcmp(res, "error") == 0 || res[0] == '\0') {
		fprintf(stderr, "mgctl: %s\n", ng_dict_str(rep, "error-reason") ? ng_dict_str(rep, "error-reason")
										   : "the command failed");
		return EXIT_FAILED;
	}
	if (!g.json) {
		printf("result: %s\n", res);
		print_human(rep, 0);
	}
	return 0;
}

/* CALL (digits: a B2BUA call id) or SESSION (an NG call-id; --session
 * forces it for an all-digit one) as the request's "call" / "call-id". */
static void capture_target(struct ng_buf *b, const char *w, bool session)
{
	bool digits = w[0] != '\0' && strspn(w, "0123456789") == strlen(w);

	if (digits && !session) {
		char num[48];

		snprintf(num, sizeof(num), ",\"call\":%" PRIu64, parse_uint(w, "call id", UINT32_MAX));
		buf_add(b, num);
	} else {
		buf_add(b, ",\"call-id\":");
		json_str(b, w);
	}
}

static int cmd_capture(int argc, char **argv)
{
	const char *sub = argc > 0 ? argv[0] : "";
	const char *pos[2] = { NULL, NULL };
	bool decrypted = false, session = false;
	unsigned np = 0;
	struct ng_buf b = { 0 };
	int rc;

	if (strcmp(sub, "start") != 0 && strcmp(sub, "stop") != 0)
		die_usage("capture start CALL|SESSION FILE [--decrypted] | capture stop CALL|SESSION");
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--decrypted") == 0 && strcmp(sub, "start") == 0)
			decrypted = true;
		else if (strcmp(argv[i], "--session") == 0)
			session = true;
		else if (argv[i][0] == '-' && argv[i][1] == '-')
			die_usage("capture %s: unknown option '%s'", sub, argv[i]);
		else if (np < 2)
			pos[np++] = argv[i];
		else
			die_usage("capture %s: too many arguments", sub);
	}
	if (strcmp(sub, "start") == 0) {
		if (np != 2)
			die_usage("capture start CALL|SESSION FILE [--decrypted]");
		if (pos[1][0] != '/')
			die_usage("capture start: FILE must be an absolute path (in the dataplane's "
				  "mediagate.dataplane.captureDir)");
		buf_add(&b, "{\"command\":\"capture start\"");
		capture_target(&b, pos[0], session);
		buf_add(&b, ",\"file\":");
		json_str(&b, pos[1]);
		buf_add(&b, decrypted ? ",\"decrypted\":true}" : "}");
	} else {
		if (np != 1)
			die_usage("capture stop CALL|SESSION");
		buf_add(&b, "{\"command\":\"capture stop\"");
		capture_target(&b, pos[0], session);
		buf_add(&b, "}");
	}
	buf_end(&b);
	rc = cmd_simple(b.p);
	ng_buf_free(&b);
	return rc;
}

/* `mgctl dp ...`: mediagate-dpctl's commands. Its output is JSON lines;
 * without --json a child runs them into a pipe and each line is shown as
 * key: value lines. The exit status is the command's (dpctl's: the same
 * meanings). */
static int cmd_dp(int argc, char **argv)
{
	static char a_prog[] = "mgctl dp", a_sock[] = "--socket", a_tmo[] = "--timeout";
	char tmo[16], *dp_sock = strdup(g.dp_sock);
	char **av = calloc((size_t)argc + 6, sizeof(*av));
	int ac = 0, pfd[2], status;
	pid_t pid;
	FILE *in;
	char *line = NULL;
	size_t cap = 0;

	if (av == NULL || dp_sock == NULL)
		die(EXIT_FAILED, "out of memory");
	snprintf(tmo, sizeof(tmo), "%d", g.timeout_ms);
	av[ac++] = a_prog;
	if (argc > 0 && (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0)) {
		av[ac++] = argv[0];
	} else {
		av[ac++] = a_sock;
		av[ac++] = dp_sock;
		av[ac++] = a_tmo;
		av[ac++] = tmo;
	}
	for (int i = 0; i < argc; i++)
		av[ac++] = argv[i];
	av[ac] = NULL;
	optind = 0; /* a fresh getopt for dpctl's own options */
	if (g.json || (argc > 0 && argv[0][0] == '-'))
		return dpctl_main(ac, av);
	fflush(stdout);
	if (pipe(pfd) < 0 || (pid = fork()) < 0)
		die(EXIT_FAILED, "pipe/fork: %s", strerror(errno));
	if (pid == 0) {
		close(pfd[0]);
		dup2(pfd[1], STDOUT_FILENO);
		close(pfd[1]);
		exit(dpctl_main(ac, av));
	}
	close(pfd[1]);
	in = fdopen(pfd[0], "r");
	for (bool first = true; in != NULL && getline(&line, &cap, in) > 0; first = false) {
		struct ng_doc *d = ng_doc_new();
		struct ng_val *v;
		char why[128];
		size_t l = strlen(line);

		while (l > 0 && line[l - 1] == '\n')
			line[--l] = '\0';
		if (d != NULL && ng_json_decode(d, line, l, NULL, &v, why, sizeof(why)) == 0 &&
		    v->type == NG_DICT) {
			if (!first)
				printf("\n"); /* one record from the next */
			print_human(v, 0);
		} else {
			printf("%s\n", line);
		}
		ng_doc_free(d);
	}
	free(line);
	if (in != NULL)
		fclose(in);
	free(av);
	free(dp_sock);
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status))
		return EXIT_FAILED;
	return WEXITSTATUS(status);
}

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	bool control; /* talks to mediagate-control */
} mgctl_cmds[] = {
	{ .name = "version", .control = true },
	{ .name = "stats", .control = true },
	{ .name = "calls", .fn = cmd_calls, .control = true },
	{ .name = "sessions", .fn = cmd_sessions, .control = true },
	{ .name = "drain", .fn = cmd_drain, .control = true },
	{ .name = "maxcalls", .fn = cmd_maxcalls, .control = true },
	{ .name = "log", .fn = cmd_log, .control = true },
	{ .name = "ng", .fn = cmd_ng, .control = true },
	{ .name = "capture", .fn = cmd_capture, .control = true },
	{ .name = "ha", .fn = cmd_ha, .control = true },
	{ .name = "dp", .fn = cmd_dp },
};

/* The configuration for the sockets: --config, else the installed
 * gw.properties when there is one, else the built-in defaults. */
static struct mg_config *load_config(void)
{
	static const char installed[] = MG_CONFDIR "/gw.properties";
	const char *path = g.config;
	struct mg_config *cfg;

	if (path == NULL && access(installed, R_OK) == 0)
		path = installed;
	cfg = mg_config_load(path, MG_CONFIG_ROLE_TOOL, stderr);
	if (cfg == NULL)
		exit(EXIT_USAGE);
	return cfg;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "config", required_argument, NULL, 'c' },
		{ "socket", required_argument, NULL, 's' },
		{ "dp-socket", required_argument, NULL, 'd' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct mg_config *cfg = NULL;
	const char *cmd;
	int opt, rc;
	size_t i;

	mg_log_init("mgctl", MG_LOG_WARN, false);
	/* '+': options before the command only; its words may look like options. */
	while ((opt = getopt_long(argc, argv, "+jc:s:d:t:hV", opts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			g.json = true;
			break;
		case 'c':
			g.config = optarg;
			break;
		case 's':
			g.cli_sock = optarg;
			break;
		case 'd':
			g.dp_sock = optarg;
			break;
		case 't':
			g.timeout_ms = (int)parse_uint(optarg, "--timeout", 600000);
			if (g.timeout_ms == 0)
				die_usage("--timeout 0 (allowed: 1..600000 ms)");
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("mgctl %s\n", MG_VERSION);
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
	/* --json after the command too, where tests and people put it */
	for (int k = 0; k < argc; k++)
		if (strcmp(argv[k], "--json") == 0) {
			g.json = true;
			memmove(&argv[k], &argv[k + 1], (size_t)(argc - k) * sizeof(*argv));
			argc--;
			k--;
		}
	for (i = 0; i < sizeof(mgctl_cmds) / sizeof(mgctl_cmds[0]); i++)
		if (strcmp(cmd, mgctl_cmds[i].name) == 0)
			break;
	if (i == sizeof(mgctl_cmds) / sizeof(mgctl_cmds[0]))
		die_usage("unknown command '%s' (allowed: version, stats, calls, sessions, drain, "
			  "maxcalls, log, ng, capture, ha, dp)", cmd);
	if (g.cli_sock == NULL || g.dp_sock == NULL) {
		cfg = load_config();
		if (g.cli_sock == NULL)
			g.cli_sock = mg_config_settings(cfg)->cli_socket;
		if (g.dp_sock == NULL)
			g.dp_sock = mg_config_settings(cfg)->control_socket;
	}
	if (mgctl_cmds[i].fn == NULL) {
		if (argc > 0)
			die_usage("%s takes no argument", cmd);
		rc = cmd_simple(strcmp(cmd, "version") == 0 ? "{\"command\":\"version\"}"
							     : "{\"command\":\"stats\"}");
	} else {
		rc = mgctl_cmds[i].fn(argc, argv);
	}
	fflush(stdout);
	if (g.fd >= 0)
		close(g.fd);
	ng_buf_free(&g.in);
	ng_doc_free(g.doc);
	mg_config_free(cfg);
	return rc;
}
