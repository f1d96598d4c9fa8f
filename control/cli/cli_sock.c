/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The transport of the operator's socket (cli.h): listen, check the peer,
 * split lines, decode JSON with the NG codec, send replies. The commands
 * are cli_cmd.c's.
 */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "mg_log.h"

#define CLI_MAX_CONNS 32
#define CLI_MAX_LINE 65536   /* a request longer than this closes the connection; also
			      * what is read ahead of the requests being executed */
#define CLI_MAX_OUT (4u << 20) /* unsent replies over which no request is executed */

struct cli_conn {
	int fd;
	su_wait_t wait;
	int index;
	uid_t uid;
	pid_t pid;
	struct ng_buf in, out;
	size_t out_off;
	struct cli_req *busy;   /* the request being executed: no other line is read */
	bool closing;           /* close once the reply is out */
	bool in_lines;          /* conn_lines() runs: a reply made now returns to it */
	bool dead;              /* ... and asks it to close the connection */
};

struct cli_req {
	struct cli_conn *conn;  /* NULL: the connection went away meanwhile */
	struct ng_doc *doc;
};

static struct {
	su_root_t *root;
	int fd;
	su_wait_t wait;
	int index;
	char path[108];
	uid_t uids[MG_CFG_MAX_UIDS];
	unsigned n_uids;
	struct cli_conn *conns[CLI_MAX_CONNS];
} cs = { .fd = -1 };

static bool uid_allowed(uid_t uid)
{
	if (uid == 0 || uid == geteuid())
		return true;
	for (unsigned i = 0; i < cs.n_uids; i++)
		if (cs.uids[i] == uid)
			return true;
	return false;
}

static void conn_close(struct cli_conn *c)
{
	for (unsigned i = 0; i < CLI_MAX_CONNS; i++)
		if (cs.conns[i] == c)
			cs.conns[i] = NULL;
	if (c->busy != NULL)
		c->busy->conn = NULL; /* its reply goes nowhere */
	su_root_deregister(cs.root, c->index);
	close(c->fd);
	ng_buf_free(&c->in);
	ng_buf_free(&c->out);
	free(c);
}

/* Read while there is room for more requests, write while replies wait. */
static void conn_mask(struct cli_conn *c)
{
	su_root_eventmask(cs.root, c->index, c->fd,
			  (c->in.len < CLI_MAX_LINE ? SU_WAIT_IN : 0) | SU_WAIT_HUP | SU_WAIT_ERR |
				  (c->out.len > 0 ? SU_WAIT_OUT : 0));
}

/* Send what is queued; the rest when the socket is writable. -errno: broken. */
static int conn_flush(struct cli_conn *c)
{
	while (c->out_off < c->out.len) {
		ssize_t n = send(c->fd, c->out.p + c->out_off, c->out.len - c->out_off,
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		if (n < 0)
			return -errno;
		c->out_off += (size_t)n;
	}
	if (c->out_off == c->out.len) {
		c->out.len = c->out_off = 0;
	} else if (c->out_off > 0) {
		/* what was sent goes: out.len is what is unsent (bounded below) */
		memmove(c->out.p, c->out.p + c->out_off, c->out.len - c->out_off);
		c->out.len -= c->out_off;
		c->out_off = 0;
	}
	conn_mask(c);
	return 0;
}

static void conn_reply_error(struct cli_conn *c, const char *why)
{
	struct ng_doc *d = ng_doc_new();
	struct ng_val *v = ng_new_dict(d);

	ng_dict_add_str(d, v, "result", "error");
	ng_dict_add_str(d, v, "error-reason", why);
	if (v == NULL || ng_json_encode(v, &c->out) < 0 || ng_buf_append(&c->out, "\n", 1) < 0)
		c->closing = true;
	ng_doc_free(d);
}

struct ng_doc *cli_req_doc(struct cli_req *r)
{
	return r->doc;
}

static void conn_lines(struct cli_conn *c);

void cli_req_reply(struct cli_req *r, const struct ng_val *reply)
{
	struct cli_conn *c = r->conn;

	if (c != NULL) {
		c->busy = NULL;
		if (reply == NULL)
			conn_reply_error(c, "Out of memory");
		else if (ng_json_encode(reply, &c->out) < 0 || ng_buf_append(&c->out, "\n", 1) < 0)
			c->closing = true;
	}
	ng_doc_free(r->doc);
	free(r);
	if (c == NULL)
		return;
	if (conn_flush(c) < 0 || (c->closing && c->out.len == 0))
		c->dead = true;
	/* Answered at once, inside conn_lines(): it goes on with the next line
	 * itself (a call back into it per line made the stack as deep as the
	 * lines a client sends in one write). */
	if (c->in_lines)
		return;
	if (c->dead) {
		conn_close(c);
		return;
	}
	conn_lines(c); /* requests that arrived meanwhile */
}

/* Execute the complete lines in c->in, one at a time. */
static void conn_lines(struct cli_conn *c)
{
	c->in_lines = true;
	/* Over CLI_MAX_OUT of replies unread, the next requests wait (and,
	 * CLI_MAX_LINE of them read, the client's writes): a client that
	 * pipelines without reading stalls instead of piling replies up here. */
	while (c->busy == NULL && !c->closing && !c->dead && c->in.len > 0 && c->out.len < CLI_MAX_OUT) {
		char *nl = memchr(c->in.p, '\n', c->in.len);
		size_t len, used;
		struct cli_req *r;
		struct ng_val *v = NULL;
		char why[160];

		if (nl == NULL)
			break;
		len = (size_t)(nl - c->in.p);
		used = len + 1;
		if (len > 0 && c->in.p[len - 1] == '\r')
			len--;
		if (len == 0) {
			memmove(c->in.p, c->in.p + used, c->in.len - used);
			c->in.len -= used;
			continue;
		}
		r = calloc(1, sizeof(*r));
		if (r == NULL || (r->doc = ng_doc_new()) == NULL) {
			free(r);
			c->closing = true;
			break;
		}
		r->conn = c;
		if (ng_json_decode(r->doc, c->in.p, len, NULL, &v, why, sizeof(why)) < 0)
			v = NULL;
		else if (v->type != NG_DICT || ng_dict_str(v, "command") == NULL)
			snprintf(why, sizeof(why), "a request is a JSON object with a \"command\" string");
		memmove(c->in.p, c->in.p + used, c->in.len - used);
		c->in.len -= used;
		c->busy = r;
		if (v == NULL || v->type != NG_DICT || ng_dict_str(v, "command") == NULL) {
			struct ng_val *e = ng_new_dict(r->doc);

			ng_dict_add_str(r->doc, e, "result", "error");
			ng_dict_add_str(r->doc, e, "error-reason", why);
			cli_req_reply(r, e);
			continue;
		}
		MG_DEBUG("cli: uid %u: %s", (unsigned)c->uid, ng_dict_str(v, "command"));
		/* answered now: the loop goes on; later: cli_req_reply() calls
		 * conn_lines() again */
		cli_cmd_handle(r, v);
	}
	c->in_lines = false;
	if (c->dead) {
		conn_close(c);
		return;
	}
	conn_mask(c); /* room to read again */
}

static int on_conn(su_root_magic_t *magic, su_wait_t *w, su_wakeup_arg_t *arg)
{
	struct cli_conn *c = arg;
	int events = su_wait_events(w, c->fd);
	char buf[8192];

	(void)magic;
	if ((events & SU_WAIT_OUT) && conn_flush(c) < 0) {
		conn_close(c);
		return 0;
	}
	if (c->closing && c->out.len == 0) {
		conn_close(c);
		return 0;
	}
	if (!(events & (SU_WAIT_IN | SU_WAIT_HUP | SU_WAIT_ERR))) {
		conn_lines(c); /* replies went out: the requests waiting for that */
		return 0;
	}
	if (c->in.len >= CLI_MAX_LINE && (events & (SU_WAIT_HUP | SU_WAIT_ERR))) {
		conn_close(c); /* gone while its requests wait: the replies go nowhere */
		return 0;
	}
	/* Read up to CLI_MAX_LINE ahead: the rest stays in the socket (the
	 * sender blocks) until requests are executed and make room. */
	while (c->in.len < CLI_MAX_LINE) {
		ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		if (n <= 0 || ng_buf_append(&c->in, buf, (size_t)n) < 0) {
			conn_close(c);
			return 0;
		}
	}
	if (c->in.len >= CLI_MAX_LINE && memchr(c->in.p, '\n', c->in.len) == NULL) {
		MG_WARN("cli: uid %u sent more than %d bytes without a newline; closed",
			(unsigned)c->uid, CLI_MAX_LINE);
		conn_close(c);
		return 0;
	}
	conn_mask(c);
	conn_lines(c);
	return 0;
}

static int on_accept(su_root_magic_t *magic, su_wait_t *w, su_wakeup_arg_t *arg)
{
	(void)magic;
	(void)w;
	(void)arg;
	for (int batch = 0; batch < 16; batch++) {
		struct ucred cred;
		socklen_t cl = sizeof(cred);
		struct cli_conn *c;
		unsigned slot;
		int fd = accept4(cs.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0)
			return 0;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0) {
			MG_WARN("cli: SO_PEERCRED: %s; connection refused", strerror(errno));
			close(fd);
			continue;
		}
		if (!uid_allowed(cred.uid)) {
			/* "refused": mgctl tells this from a failed command (exit 3) */
			static const char no[] = "{\"result\":\"error\",\"error-reason\":\"uid not in "
						 "mediagate.control.allowedUids\",\"refused\":1}\n";

			MG_WARN("cli: refused pid %d uid %u: not in mediagate.control.allowedUids",
				(int)cred.pid, (unsigned)cred.uid);
			(void)send(fd, no, sizeof(no) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
			close(fd);
			continue;
		}
		for (slot = 0; slot < CLI_MAX_CONNS && cs.conns[slot] != NULL; slot++)
			;
		if (slot == CLI_MAX_CONNS || (c = calloc(1, sizeof(*c))) == NULL) {
			MG_WARN("cli: connection of pid %d refused: %d open", (int)cred.pid,
				CLI_MAX_CONNS);
			close(fd);
			continue;
		}
		c->fd = fd;
		c->uid = cred.uid;
		c->pid = cred.pid;
		su_wait_create(&c->wait, fd, SU_WAIT_IN | SU_WAIT_HUP | SU_WAIT_ERR);
		c->index = su_root_register(cs.root, &c->wait, on_conn, c, 0);
		if (c->index <= 0) {
			su_wait_destroy(&c->wait);
			close(fd);
			free(c);
			continue;
		}
		cs.conns[slot] = c;
	}
	return 0;
}

void cli_reload(const struct mg_settings *s)
{
	cs.n_uids = s->n_allowed_uids;
	memcpy(cs.uids, s->allowed_uids, sizeof(cs.uids));
}

int cli_start(su_root_t *root, const struct mg_settings *s, struct dpc *dp)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len = strlen(s->cli_socket);
	int rc;

	cs.root = root;
	cli_reload(s);
	if (len == 0 || len >= sizeof(sa.sun_path)) {
		MG_ERR("cli: mediagate.control.cliSocket '%s' is empty or longer than %zu bytes",
		       s->cli_socket, sizeof(sa.sun_path) - 1);
		return -EINVAL;
	}
	memcpy(cs.path, s->cli_socket, len + 1);
	memcpy(sa.sun_path, s->cli_socket, len + 1);
	cs.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (cs.fd < 0)
		return -errno;
	if (access(cs.path, F_OK) == 0) {
		/* A second control plane must not take the first one's socket. */
		int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			close(probe);
			MG_ERR("cli: another mediagate-control is serving %s (mediagate.control.cliSocket)",
			       cs.path);
			rc = -EADDRINUSE;
			goto err;
		}
		if (probe >= 0)
			close(probe);
		unlink(cs.path);
	}
	if (bind(cs.fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		rc = -errno;
		MG_ERR("cli: bind %s (mediagate.control.cliSocket): %s", cs.path, strerror(errno));
		goto err;
	}
	/* The group of the daemon may connect (the file mode); which of its
	 * members may talk is SO_PEERCRED's decision (allowedUids). */
	if (chmod(cs.path, 0660) < 0 || listen(cs.fd, 16) < 0) {
		rc = -errno;
		MG_ERR("cli: %s: %s", cs.path, strerror(errno));
		goto err;
	}
	su_wait_create(&cs.wait, cs.fd, SU_WAIT_IN);
	cs.index = su_root_register(root, &cs.wait, on_accept, NULL, 0);
	if (cs.index <= 0) {
		rc = -ENOMEM;
		goto err;
	}
	cli_cmd_start(root, dp);
	MG_INFO("cli: mgctl socket %s", cs.path);
	return 0;
err:
	close(cs.fd);
	cs.fd = -1;
	return rc;
}

void cli_stop(void)
{
	if (cs.fd < 0)
		return;
	cli_cmd_stop();
	for (unsigned i = 0; i < CLI_MAX_CONNS; i++)
		if (cs.conns[i] != NULL)
			conn_close(cs.conns[i]);
	su_root_deregister(cs.root, cs.index);
	close(cs.fd);
	cs.fd = -1;
	unlink(cs.path);
}
