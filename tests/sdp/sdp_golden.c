/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Golden SDP cases (suite 'sdp'). Each NAME.conf in the case directory is a
 * case:
 *   role=answer (default): NAME.offer.sdp is answered; expected NAME.answer.sdp,
 *     or NAME.488 / NAME.400 holding the expected Warning header value.
 *   role=offer: an offer is made, expected NAME.made-offer.sdp; then
 *     NAME.peer-answer.sdp (if any) is processed, expected NAME.488 on failure.
 *   NAME.result (optional): the negotiation result as the dataplane would get
 *     it, compared line by line.
 * Conf keys: mode, suites, local (ADDR:PORT), media_type, rtcp_mux=no,
 * ms_offer=yes, ptime, lifetime, prev=FILE (an earlier offer from the same
 * peer: this case is its re-INVITE), expect_rekey=yes|no.
 *
 * Our keys are random: the golden text has inline:<KEY>, and the runner checks
 * each key is base64 of the suite's length, differs from the peer's keys,
 * from a second run of the same case, and (re-INVITE) is kept or replaced
 * exactly as expect_rekey says.
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "mg_log.h"
#include "sdp_crypto.h"
#include "sdp_neg.h"

static const char *dir;
static bool update;

struct conf {
	struct sdp_policy pol;
	char local_addr[64];
	char media_type[16];
	char role[16];
	char prev[128];
	int expect_rekey; /* -1 unset */
};

static char *slurp(const char *name, const char *ext, size_t *len)
{
	char path[1024];
	FILE *f;
	char *buf;
	long n;

	snprintf(path, sizeof(path), "%s/%s%s", dir, name, ext);
	f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	if (buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		fclose(f);
		free(buf);
		return NULL;
	}
	fclose(f);
	buf[n] = '\0';
	if (len)
		*len = (size_t)n;
	return buf;
}

static void spill(const char *name, const char *ext, const char *text)
{
	char path[1024];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s%s", dir, name, ext);
	f = fopen(path, "w");
	if (f != NULL) {
		fputs(text, f);
		fclose(f);
	}
}

/* Golden files are LF; SDP is CRLF. Compare with CR removed after checking
 * every line the code wrote ends in CRLF. */
static bool crlf_ok(const char *s)
{
	for (const char *p = strchr(s, '\n'); p != NULL; p = strchr(p + 1, '\n'))
		if (p == s || p[-1] != '\r')
			return false;
	return s[0] == '\0' || s[strlen(s) - 1] == '\n';
}

static void strip_cr(char *s)
{
	char *w = s;

	for (const char *r = s; *r; r++)
		if (*r != '\r')
			*w++ = *r;
	*w = '\0';
}

static int parse_conf(const char *name, struct conf *c, char *err, size_t errlen)
{
	char *text = slurp(name, ".conf", NULL), *save = NULL;
	static enum mg_srtp_suite suites[MG_CFG_MAX_SUITES];

	memset(c, 0, sizeof(*c));
	c->expect_rekey = -1;
	c->pol.mode = MG_SRTP_MODE_AS_NEEDED;
	c->pol.local_port = 30000;
	c->pol.sess_id = 4242;
	snprintf(c->local_addr, sizeof(c->local_addr), "203.0.113.10");
	snprintf(c->role, sizeof(c->role), "answer");
	if (text == NULL) {
		snprintf(err, errlen, "cannot read %s.conf", name);
		return -1;
	}
	(void)suites;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(line, '=');

		if (line[0] == '#' || eq == NULL)
			continue;
		*eq = '\0';
		const char *k = line, *v = eq + 1;

		if (strcmp(k, "mode") == 0) {
			c->pol.mode = strcmp(v, "always") == 0	   ? MG_SRTP_MODE_ALWAYS
				      : strcmp(v, "never") == 0    ? MG_SRTP_MODE_NEVER
				      : strcmp(v, "as-needed") == 0 ? MG_SRTP_MODE_AS_NEEDED
								    : (enum mg_srtp_mode)-1;
			if ((int)c->pol.mode < 0) {
				snprintf(err, errlen, "mode=%s", v);
				free(text);
				return -1;
			}
		} else if (strcmp(k, "suites") == 0) {
			char tmp[256], *s2 = NULL;

			snprintf(tmp, sizeof(tmp), "%s", v);
			for (char *t = strtok_r(tmp, ",", &s2); t; t = strtok_r(NULL, ",", &s2)) {
				const struct mg_srtp_suite_info *si = mg_srtp_suite_by_name(t);

				if (si == NULL || c->pol.n_suites >= MG_CFG_MAX_SUITES) {
					snprintf(err, errlen, "suite %s", t);
					free(text);
					return -1;
				}
				c->pol.suites[c->pol.n_suites++] = si->id;
			}
		} else if (strcmp(k, "local") == 0) {
			char *colon = strrchr(v, ':');

			snprintf(c->local_addr, sizeof(c->local_addr), "%.*s", (int)(colon ? colon - v : 0), v);
			c->pol.local_port = (uint16_t)(colon ? atoi(colon + 1) : 0);
		} else if (strcmp(k, "media_type") == 0) {
			snprintf(c->media_type, sizeof(c->media_type), "%s", v);
		} else if (strcmp(k, "rtcp_mux") == 0) {
			c->pol.no_rtcp_mux = strcmp(v, "no") == 0;
		} else if (strcmp(k, "ms_offer") == 0) {
			c->pol.ms_offer = strcmp(v, "yes") == 0;
		} else if (strcmp(k, "ptime") == 0) {
			c->pol.ptime = (unsigned)atoi(v);
		} else if (strcmp(k, "lifetime") == 0) {
			c->pol.key_lifetime = strtoull(v, NULL, 0);
		} else if (strcmp(k, "role") == 0) {
			snprintf(c->role, sizeof(c->role), "%s", v);
		} else if (strcmp(k, "prev") == 0) {
			snprintf(c->prev, sizeof(c->prev), "%s", v);
		} else if (strcmp(k, "expect_rekey") == 0) {
			c->expect_rekey = strcmp(v, "yes") == 0;
		} else {
			snprintf(err, errlen, "unknown conf key %s", k);
			free(text);
			return -1;
		}
	}
	free(text);
	c->pol.local_addr = c->local_addr;
	c->pol.media_type = c->media_type[0] ? c->media_type : NULL;
	return 0;
}

static void key_b64(const struct mg_srtp_policy *p, unsigned i, char *out)
{
	const struct mg_srtp_suite_info *si = mg_srtp_suite_by_id(p->suite);
	uint8_t raw[64];

	memcpy(raw, p->keys[i].key, si->master_key_len);
	memcpy(raw + si->master_key_len, p->keys[i].salt, si->master_salt_len);
	sdp_base64_encode(raw, (size_t)si->master_key_len + si->master_salt_len, out);
}

/* The result as the call engine hands it to the dataplane. Our own (random)
 * key is left out; the peer's keys are deterministic and printed. */
static void summary(const struct sdp_result *r, char *out, size_t len)
{
	size_t o = 0;
	char k[96];

#define ADD(...) o += (size_t)snprintf(out + o, o < len ? len - o : 0, __VA_ARGS__)
	ADD("srtp=%s\n", r->srtp ? "yes" : "no");
	if (r->srtp) {
		ADD("suite=%s\n", mg_srtp_suite_by_id(r->suite)->sdes_name);
		ADD("tag=%lu\n", r->crypto_tag);
		ADD("ms_dialect=%s\n", r->ms_dialect ? "yes" : "no");
		for (unsigned i = 0; i < r->rx.nkeys; i++) {
			key_b64(&r->rx, i, k);
			ADD("rx_key=%s lifetime=%llu mki_len=%u mki=%02x%02x%02x%02x\n", k,
			    (unsigned long long)r->rx.keys[i].lifetime, r->rx.mki_len, r->rx.keys[i].mki[0],
			    r->rx.keys[i].mki[1], r->rx.keys[i].mki[2], r->rx.keys[i].mki[3]);
		}
		ADD("tx_keys=%u lifetime=%llu mki_len=%u mki=%02x%02x%02x%02x\n", r->tx.nkeys,
		    (unsigned long long)r->tx.keys[0].lifetime, r->tx.mki_len, r->tx.keys[0].mki[0], r->tx.keys[0].mki[1],
		    r->tx.keys[0].mki[2], r->tx.keys[0].mki[3]);
	}
	ADD("remote=%s rtp=%u rtcp=%u\n", r->remote_addr, r->remote_rtp_port, r->remote_rtcp_port);
	ADD("rtcp_mux=%s\n", r->rtcp_mux ? "yes" : "no");
	ADD("dir=%s hold=%s\n", sdp_dir_name(r->dir), r->hold ? "yes" : "no");
	ADD("pts=");
	for (unsigned i = 0; i < r->n_pts; i++)
		ADD("%s%u:%s/%u", i ? "," : "", r->pts[i].pt, r->pts[i].name, r->pts[i].rate);
	ADD("\ntelephone_event=%d ptime=%u\n", r->telephone_event_pt, r->ptime);
	ADD("rekey=%s rx=%s tx=%s\n", r->rekey ? "yes" : "no", r->rekey_rx ? "yes" : "no", r->rekey_tx ? "yes" : "no");
#undef ADD
}

/* Replace every inline key we wrote with <KEY>, checking it on the way:
 * base64 of the right length for the line's suite. Collects the keys. */
static int mask_keys(char *sdp, char keys[][64], unsigned *nkeys, char *err, size_t errlen)
{
	char *p = sdp;

	*nkeys = 0;
	while ((p = strstr(p, "a=crypto:")) != NULL) {
		struct sdp_crypto c;
		char line[512], why[160];
		char *eol = strpbrk(p, "\r\n");
		size_t n = eol ? (size_t)(eol - p) : strlen(p);

		snprintf(line, sizeof(line), "%.*s", (int)(n - 9), p + 9);
		if (strstr(line, "  ") != NULL) {
			snprintf(err, errlen, "crypto line with two spaces: %s", line);
			return -1;
		}
		if (sdp_crypto_parse(line, &c, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "our crypto line \"%s\" does not parse: %s", line, why);
			return -1;
		}
		char *k = strstr(p, "inline:") + 7;
		size_t klen = strcspn(k, "|\r\n ");
		size_t want = ((size_t)c.suite->master_key_len + c.suite->master_salt_len + 2) / 3 * 4;

		if (klen != want) {
			snprintf(err, errlen, "key of %zu base64 chars, want %zu", klen, want);
			return -1;
		}
		if (*nkeys < 8)
			snprintf(keys[(*nkeys)++], 64, "%.*s", (int)klen, k);
		memmove(k + 5, k + klen, strlen(k + klen) + 1);
		memcpy(k, "<KEY>", 5);
		p = k;
	}
	return 0;
}

static int compare(const char *name, const char *ext, const char *actual, char *err, size_t errlen)
{
	char *want = slurp(name, ext, NULL);
	int rc = 0;

	if (update) {
		spill(name, ext, actual);
	} else if (want == NULL) {
		snprintf(err, errlen, "missing %s%s; got:\n%s", name, ext, actual);
		rc = -1;
	} else if (strcmp(want, actual) != 0) {
		snprintf(err, errlen, "%s%s differs.\n--- expected\n%s--- actual\n%s", name, ext, want, actual);
		rc = -1;
	}
	free(want);
	return rc;
}

static int expect_failure(const char *name, const struct sdp_result *r, char *err, size_t errlen)
{
	char ext[8], hdr[400];

	snprintf(ext, sizeof(ext), ".%d", r->status);
	sdp_warning_header(r, "mediagate", hdr, sizeof(hdr) - 1);
	strcat(hdr, "\n");
	return compare(name, ext, hdr, err, errlen);
}

static bool key_in(const char *k, const struct mg_srtp_policy *p)
{
	char b[96];

	for (unsigned i = 0; i < p->nkeys; i++) {
		key_b64(p, i, b);
		if (strcmp(b, k) == 0)
			return true;
	}
	return false;
}

static int run_answer(const char *name, struct conf *c, char *err, size_t errlen)
{
	struct sdp_result *prev = NULL, *r = calloc(1, sizeof(*r)), *r2 = calloc(1, sizeof(*r2));
	char keys[8][64], keys2[8][64], sum[2048];
	unsigned nk = 0, nk2 = 0;
	size_t len;
	char *offer = slurp(name, ".offer.sdp", &len);
	int rc = -1;

	if (offer == NULL) {
		snprintf(err, errlen, "missing %s.offer.sdp", name);
		goto out;
	}
	if (c->prev[0]) {
		size_t plen;
		char pname[160];

		snprintf(pname, sizeof(pname), "%s", c->prev);
		char *po = slurp(pname, "", &plen);

		prev = calloc(1, sizeof(*prev));
		if (po == NULL || sdp_answer(&c->pol, po, plen, NULL, prev) != 0) {
			snprintf(err, errlen, "prev offer %s does not negotiate", c->prev);
			free(po);
			goto out;
		}
		free(po);
	}
	sdp_answer(&c->pol, offer, len, prev, r);
	if (r->status != 0) {
		rc = expect_failure(name, r, err, errlen);
		goto out;
	}
	if (!crlf_ok(r->sdp)) {
		snprintf(err, errlen, "answer lines do not all end in CRLF");
		goto out;
	}
	/* second run: fresh keys unless a re-INVITE keeps them */
	sdp_answer(&c->pol, offer, len, prev, r2);
	strip_cr(r->sdp);
	strip_cr(r2->sdp);
	if (mask_keys(r->sdp, keys, &nk, err, errlen) < 0 || mask_keys(r2->sdp, keys2, &nk2, err, errlen) < 0)
		goto out;
	if (nk != (r->srtp ? 1u : 0u)) {
		snprintf(err, errlen, "%u crypto lines in an answer with srtp=%d", nk, r->srtp);
		goto out;
	}
	if (strcmp(r->sdp, r2->sdp) != 0) {
		snprintf(err, errlen, "two runs differ beyond the keys");
		goto out;
	}
	for (unsigned i = 0; i < nk; i++) {
		bool kept = prev != NULL && prev->srtp && key_in(keys[i], &prev->tx);

		if (key_in(keys[i], &r->rx)) {
			snprintf(err, errlen, "our key equals the peer's");
			goto out;
		}
		if (c->expect_rekey == 0 && !kept) {
			snprintf(err, errlen, "re-INVITE without new peer keys changed our key");
			goto out;
		}
		if (c->expect_rekey != 0 && (kept || strcmp(keys[i], keys2[i]) == 0)) {
			snprintf(err, errlen, "our key was not fresh (%s)", kept ? "kept from before" : "same twice");
			goto out;
		}
	}
	if (c->expect_rekey >= 0 && r->rekey != (c->expect_rekey == 1)) {
		snprintf(err, errlen, "rekey=%d, expected %d", r->rekey, c->expect_rekey);
		goto out;
	}
	if (compare(name, ".answer.sdp", r->sdp, err, errlen) < 0)
		goto out;
	summary(r, sum, sizeof(sum));
	rc = compare(name, ".result", sum, err, errlen);
out:
	free(offer);
	free(prev);
	free(r);
	free(r2);
	return rc;
}

static int run_offer(const char *name, struct conf *c, char *err, size_t errlen)
{
	struct sdp_result *r = calloc(1, sizeof(*r)), *r2 = calloc(1, sizeof(*r2));
	char keys[8][64], keys2[8][64], sum[2048], text[SDP_TEXT_MAX];
	unsigned nk = 0, nk2 = 0;
	size_t len;
	char *ans = NULL;
	int rc = -1;

	if (sdp_offer(&c->pol, NULL, r) != 0 || sdp_offer(&c->pol, NULL, r2) != 0) {
		snprintf(err, errlen, "sdp_offer failed: %s", r->warn_text);
		goto out;
	}
	if (!crlf_ok(r->sdp)) {
		snprintf(err, errlen, "offer lines do not all end in CRLF");
		goto out;
	}
	snprintf(text, sizeof(text), "%s", r->sdp);
	strip_cr(text);
	strip_cr(r2->sdp);
	if (mask_keys(text, keys, &nk, err, errlen) < 0 || mask_keys(r2->sdp, keys2, &nk2, err, errlen) < 0)
		goto out;
	for (unsigned i = 0; i < nk; i++) {
		for (unsigned j = 0; j < nk; j++) {
			if ((i != j && strcmp(keys[i], keys[j]) == 0) || strcmp(keys[i], keys2[j]) == 0) {
				snprintf(err, errlen, "offered keys repeat");
				goto out;
			}
		}
	}
	if (compare(name, ".made-offer.sdp", text, err, errlen) < 0)
		goto out;
	ans = slurp(name, ".peer-answer.sdp", &len);
	if (ans == NULL) {
		rc = 0;
		goto out;
	}
	sdp_answer_process(&c->pol, ans, len, r);
	if (r->status != 0) {
		rc = expect_failure(name, r, err, errlen);
		goto out;
	}
	if (r->srtp && !key_in(keys[r->crypto_tag - 1], &r->tx)) {
		snprintf(err, errlen, "tx key is not the one offered with tag %lu", r->crypto_tag);
		goto out;
	}
	summary(r, sum, sizeof(sum));
	rc = compare(name, ".result", sum, err, errlen);
out:
	free(ans);
	free(r);
	free(r2);
	return rc;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
	char *names[512];
	unsigned n = 0, failed = 0;
	DIR *d;
	struct dirent *e;

	mg_log_init("sdp_golden", MG_LOG_ERR, false);
	/* sofia-sip's parser can allocate without end on some bad SDP (see
	 * sdp_screen()); if that guard ever regresses, fail here with ENOMEM
	 * rather than take the machine's memory. ASan needs its big shadow. */
#if !defined(__SANITIZE_ADDRESS__)
	struct rlimit rl = { .rlim_cur = 1ul << 31, .rlim_max = 1ul << 31 };

	setrlimit(RLIMIT_AS, &rl);
#endif
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--update") == 0)
			update = true;
		else if (dir == NULL)
			dir = argv[i];
		else if (n < 512)
			names[n++] = strdup(argv[i]);
	}
	if (dir == NULL) {
		fprintf(stderr, "usage: sdp_golden [--update] CASE_DIR [NAME...]\n");
		return 2;
	}
	if (n == 0) {
		d = opendir(dir);
		if (d == NULL) {
			perror(dir);
			return 2;
		}
		while ((e = readdir(d)) != NULL && n < 512) {
			size_t l = strlen(e->d_name);

			if (l > 5 && strcmp(e->d_name + l - 5, ".conf") == 0)
				names[n++] = strndup(e->d_name, l - 5);
		}
		closedir(d);
	}
	qsort(names, n, sizeof(names[0]), by_name);
	for (unsigned i = 0; i < n; i++) {
		struct conf c;
		char err[8192] = "";
		int rc = parse_conf(names[i], &c, err, sizeof(err));

		if (rc == 0)
			rc = strcmp(c.role, "offer") == 0 ? run_offer(names[i], &c, err, sizeof(err))
							  : run_answer(names[i], &c, err, sizeof(err));
		printf("%s %s%s%s\n", rc == 0 ? "ok  " : "FAIL", names[i], rc ? ": " : "", rc ? err : "");
		failed += rc != 0;
		free(names[i]);
	}
	printf("%u cases, %u failed\n", n, failed);
	return failed || n == 0 ? 1 : 0;
}
