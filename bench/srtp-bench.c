/* SPDX-License-Identifier: BSD-3-Clause */
/* srtp-bench: SRTP protect/unprotect cost per packet on one core, for
 * Debian's libsrtp2 (the baseline, same run) and each mediagate backend.
 *
 *   srtp-bench [--csv] [--ms N] [--impl NAME]... [--suite SDES-NAME]...
 *   srtp-bench --mem [--csv]
 *
 * Packet sizes are whole RTP packets (12-byte header + payload) before
 * protection. Protect re-protects the same buffers with a new sequence
 * number each time (no copy). Unprotect copies each packet from a pool of
 * protected packets into the work buffer first (the copy is timed for every
 * implementation alike) and re-creates the receiving context, untimed,
 * between passes so indexes are never replays. libsrtp has no burst call:
 * its "burst 32" is 32 calls. Each figure is the median over passes of
 * 1024 packets (--ms of passes per row). Never asserts anything.
 *
 * --mem prints what one context costs instead: the sizes of the engine's
 * structs and the heap bytes per mg_srtp_ctx_create() (mallinfo2() delta
 * over 10,000 live contexts), per suite, without and with MKI (4 keys),
 * for the default AES-NI setup and the libcrypto EVP one. */
#include <malloc.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <srtp2/srtp.h>

#include "mg_srtp.h"
#include "mg_srtp_internal.h" /* --mem: struct sizes */

#define POOL 1024
#define CAP 1280

/* The *-32ctx rows spread each burst over 32 contexts (one packet each,
 * the _multi calls): what a dataplane sees with many calls, one packet per
 * call per poll. Same key material, separate contexts. scalar-evp is the
 * scalar backend with contexts made under MG_SRTP_SCALAR_AES=evp: AES on
 * a libcrypto EVP context (the path before AES-NI intrinsics, and that of
 * CPUs without AES-NI), to compare in the same run. */
enum impl { IMPL_LIBSRTP, IMPL_SCALAR_EVP, IMPL_SCALAR, IMPL_IPSECMB, IMPL_SCALAR_MULTI, IMPL_IPSECMB_MULTI,
	    IMPL_COUNT };
static const char *const impl_names[IMPL_COUNT] = { "libsrtp2", "scalar-evp", "scalar", "ipsec-mb", "scalar-32ctx",
						    "ipsec-mb-32ctx" };
static int mk_evp; /* our_create(): contexts on the EVP path */
#define NCTX 32

static enum mg_srtp_suite suites[MG_SRTP_SUITE_COUNT] = { MG_SRTP_AES_CM_128_HMAC_SHA1_80,
							  MG_SRTP_AES_CM_128_HMAC_SHA1_32 };
static unsigned nsuites = 2;
static const unsigned sizes[] = { 60, 172, 1200 };
static const unsigned bursts[] = { 1, 32 };

static uint8_t master[30];
static uint8_t (*pool)[CAP];    /* protected packets */
static uint16_t pool_len[POOL];
static uint8_t (*work)[CAP];

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void make_rtp(uint8_t *p, unsigned bytes, uint16_t seq)
{
	memset(p, 0xd5, bytes); /* G.711 A-law silence */
	p[0] = 0x80;
	p[1] = 8;
	p[2] = (uint8_t)(seq >> 8);
	p[3] = (uint8_t)seq;
	p[4] = p[5] = p[6] = p[7] = 0x11;
	p[8] = 0xca;
	p[9] = 0xfe;
	p[10] = 0xba;
	p[11] = 0xbe;
}

static srtp_t lib_create(enum mg_srtp_suite s, int inbound)
{
	srtp_policy_t pol;
	srtp_t ses = NULL;

	memset(&pol, 0, sizeof(pol));
	if (s == MG_SRTP_AEAD_AES_128_GCM) {
		/* key || 12-byte salt: the first 28 bytes of master[] */
		srtp_crypto_policy_set_aes_gcm_128_16_auth(&pol.rtp);
		srtp_crypto_policy_set_aes_gcm_128_16_auth(&pol.rtcp);
	} else {
		if (s == MG_SRTP_AES_CM_128_HMAC_SHA1_32)
			srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(&pol.rtp);
		else
			srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&pol.rtp);
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&pol.rtcp);
	}
	pol.ssrc.type = inbound ? ssrc_any_inbound : ssrc_any_outbound;
	pol.key = master;
	pol.window_size = 128;
	pol.allow_repeat_tx = 1;
	if (srtp_create(&ses, &pol) != srtp_err_status_ok)
		return NULL;
	return ses;
}

static struct mg_srtp_ctx *our_create(enum mg_srtp_suite s, enum mg_srtp_dir d)
{
	struct mg_srtp_policy p = { 0 };
	char err[200];
	struct mg_srtp_ctx *c;

	p.suite = s;
	p.dir = d;
	p.nkeys = 1;
	memcpy(p.keys[0].key, master, 16);
	memcpy(p.keys[0].salt, master + 16, 14);
	if (mk_evp)
		setenv("MG_SRTP_SCALAR_AES", "evp", 1);
	c = mg_srtp_ctx_create(&p, err, sizeof(err));
	if (mk_evp)
		unsetenv("MG_SRTP_SCALAR_AES");
	if (!c) {
		fprintf(stderr, "srtp-bench: %s\n", err);
		exit(1);
	}
	return c;
}

/* Fill the pool with protected packets (libsrtp makes them; every
 * implementation produces the same bytes, the vectors suite proves it). */
static void fill_pool(enum mg_srtp_suite s, unsigned bytes)
{
	srtp_t out = lib_create(s, 0);

	for (unsigned i = 0; i < POOL; i++) {
		int len = (int)bytes;

		make_rtp(pool[i], bytes, (uint16_t)(1000 + i));
		srtp_protect(out, pool[i], &len);
		pool_len[i] = (uint16_t)len;
	}
	srtp_dealloc(out);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double run(enum impl im, struct mg_srtp_engine *e, enum mg_srtp_suite s, int unprotect, unsigned bytes,
		  unsigned burst, double budget_ms)
{
	double spent = 0, t0, t1, per[512];
	unsigned npass = 0;
	uint16_t seq = 0;
	struct mg_srtp_buf bufs[32];
	uint8_t res[32];

	if (unprotect)
		fill_pool(s, bytes);
	else
		for (unsigned i = 0; i < burst; i++)
			make_rtp(work[i], bytes, 0);
	/* warm-up pass included in the loop's first iteration is discarded */
	for (int pass = 0; (spent < budget_ms * 1e6 || pass < 4) && npass < 512; pass++) {
		srtp_t ses = NULL;
		struct mg_srtp_ctx *c = NULL, *cs[NCTX] = { 0 };
		const int multi = im == IMPL_SCALAR_MULTI || im == IMPL_IPSECMB_MULTI;
		unsigned n = 0;

		mk_evp = im == IMPL_SCALAR_EVP;
		if (im == IMPL_LIBSRTP)
			ses = lib_create(s, unprotect);
		else if (multi)
			for (unsigned k = 0; k < NCTX; k++)
				cs[k] = our_create(s, unprotect ? MG_SRTP_DIR_INBOUND : MG_SRTP_DIR_OUTBOUND);
		else
			c = our_create(s, unprotect ? MG_SRTP_DIR_INBOUND : MG_SRTP_DIR_OUTBOUND);
		t0 = now_ns();
		for (unsigned i = 0; i < POOL; i += burst) {
			for (unsigned k = 0; k < burst; k++) {
				uint8_t *w = work[k];

				if (unprotect) {
					memcpy(w, pool[i + k], pool_len[i + k]);
					bufs[k].len = pool_len[i + k];
				} else {
					seq++;
					w[2] = (uint8_t)(seq >> 8);
					w[3] = (uint8_t)seq;
					bufs[k].len = (uint16_t)bytes;
				}
				bufs[k].buf = w;
				bufs[k].cap = CAP;
				if (im == IMPL_LIBSRTP) {
					int len = bufs[k].len;
					srtp_err_status_t st = unprotect ? srtp_unprotect(ses, w, &len)
									 : srtp_protect(ses, w, &len);

					n += st == srtp_err_status_ok;
				}
			}
			if (multi)
				n += unprotect ? mg_srtp_unprotect_burst_multi(e, cs, bufs, res, burst)
					       : mg_srtp_protect_burst_multi(e, cs, bufs, res, burst);
			else if (im != IMPL_LIBSRTP)
				n += unprotect ? mg_srtp_unprotect_burst(e, c, bufs, res, burst)
					       : mg_srtp_protect_burst(e, c, bufs, res, burst);
		}
		t1 = now_ns();
		/* the baseline too: a failing packet would make it look fast */
		if (n != POOL)
			fprintf(stderr, "srtp-bench: %s %s only %u of %u packets OK\n", impl_names[im],
				unprotect ? "unprotect" : "protect", n, POOL);
		if (pass > 0) {
			spent += t1 - t0;
			per[npass++] = (t1 - t0) / POOL;
		}
		if (ses)
			srtp_dealloc(ses);
		mg_srtp_ctx_free(c);
		for (unsigned k = 0; k < NCTX; k++)
			mg_srtp_ctx_free(cs[k]);
	}
	/* median pass: other processes on a shared machine only add outliers */
	qsort(per, npass, sizeof(per[0]), cmp_double);
	return per[npass / 2];
}

#define MEM_N 10000

/* Heap bytes per context: mallinfo2() before and after 10,000 live
 * contexts. "used" is what the allocations hold (uordblks + mmapped),
 * "heap" how much the heap grew (arena + mmapped): it also counts
 * the alignment slack aligned_alloc() leaves between blocks. */
static int mem_table(int csv)
{
	static struct mg_srtp_ctx *cs[MEM_N];
	static const enum mg_srtp_suite ms[] = { MG_SRTP_AES_CM_128_HMAC_SHA1_80, MG_SRTP_AES_CM_128_HMAC_SHA1_32,
						 MG_SRTP_AEAD_AES_128_GCM };

	if (csv) {
		printf("suite,keys,aes,used_bytes_per_ctx,heap_bytes_per_ctx\n");
	} else {
		printf("# sizeof: mg_srtp_ctx %zu (of which %u SSRC slots x %zu, stats %zu), keyset %zu "
		       "(per master key: SRTP + SRTCP dkeys %zu each), engine %zu (per thread)\n",
		       sizeof(struct mg_srtp_ctx), MG_SRTP_SSRC_MAX, sizeof(struct mg_srtp_stream_rt),
		       sizeof(struct mg_srtp_stats), sizeof(struct mg_srtp_keyset), sizeof(struct mg_srtp_dkeys),
		       sizeof(struct mg_srtp_engine));
		printf("# heap per mg_srtp_ctx_create(), mallinfo2() over %d live contexts; contexts are the "
		       "same for every backend\n",
		       MEM_N);
		printf("%-24s %4s %-6s %10s %10s\n", "suite", "keys", "aes", "used B", "heap B");
	}
	for (unsigned si = 0; si < sizeof(ms) / sizeof(ms[0]); si++)
		for (int mki = 0; mki < 2; mki++)
			for (int evp = 0; evp < 2; evp++) {
				struct mg_srtp_policy p = { 0 };
				struct mallinfo2 a, b;
				char err[200];
				double used, heap;

				p.suite = ms[si];
				p.dir = MG_SRTP_DIR_OUTBOUND;
				p.nkeys = mki ? MG_SRTP_KEYS_MAX : 1;
				p.mki_len = mki ? 1 : 0;
				for (unsigned k = 0; k < p.nkeys; k++) {
					memcpy(p.keys[k].key, master, 16);
					p.keys[k].key[0] ^= (uint8_t)k;
					memcpy(p.keys[k].salt, master + 16, 14);
					p.keys[k].mki[0] = (uint8_t)k;
				}
				if (evp)
					setenv("MG_SRTP_SCALAR_AES", "evp", 1);
				/* warm up: one-time library state is not per context */
				mg_srtp_ctx_free(mg_srtp_ctx_create(&p, err, sizeof(err)));
				malloc_trim(0);
				a = mallinfo2();
				for (int i = 0; i < MEM_N; i++) {
					cs[i] = mg_srtp_ctx_create(&p, err, sizeof(err));
					if (!cs[i]) {
						fprintf(stderr, "srtp-bench: %s\n", err);
						return 1;
					}
				}
				b = mallinfo2();
				unsetenv("MG_SRTP_SCALAR_AES");
				used = (double)((b.uordblks + b.hblkhd) - (a.uordblks + a.hblkhd)) / MEM_N;
				heap = (double)((b.arena + b.hblkhd) - (a.arena + a.hblkhd)) / MEM_N;
				for (int i = 0; i < MEM_N; i++)
					mg_srtp_ctx_free(cs[i]);
				if (csv)
					printf("%s,%u,%s,%.0f,%.0f\n", mg_srtp_suite_by_id(ms[si])->sdes_name, p.nkeys,
					       evp ? "evp" : "aes-ni", used, heap);
				else
					printf("%-24s %4u %-6s %10.0f %10.0f\n", mg_srtp_suite_by_id(ms[si])->sdes_name,
					       p.nkeys, evp ? "evp" : "aes-ni", used, heap);
			}
	return 0;
}

int main(int argc, char **argv)
{
	int csv = 0, mem = 0, suite_given = 0;
	double budget_ms = 40;
	int want[IMPL_COUNT] = { 0 }, any = 0;
	struct mg_srtp_engine *eng[IMPL_COUNT] = { 0 };

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--csv")) {
			csv = 1;
		} else if (!strcmp(argv[i], "--mem")) {
			mem = 1;
		} else if (!strcmp(argv[i], "--suite") && i + 1 < argc) {
			const struct mg_srtp_suite_info *si = mg_srtp_suite_by_name(argv[++i]);

			if (!si || si->id == MG_SRTP_SUITE_NONE) {
				fprintf(stderr, "srtp-bench: unknown suite '%s'; allowed: %s\n", argv[i],
					mg_srtp_suite_names(0));
				return 2;
			}
			if (!suite_given)
				nsuites = 0;
			suite_given = 1;
			if (nsuites < MG_SRTP_SUITE_COUNT)
				suites[nsuites++] = si->id;
		} else if (!strcmp(argv[i], "--ms") && i + 1 < argc) {
			budget_ms = atof(argv[++i]);
		} else if (!strcmp(argv[i], "--impl") && i + 1 < argc) {
			int found = 0;

			i++;
			for (int k = 0; k < IMPL_COUNT; k++)
				if (!strcmp(argv[i], impl_names[k]))
					want[k] = found = any = 1;
			if (!found) {
				fprintf(stderr, "srtp-bench: unknown impl '%s'; allowed: libsrtp2, scalar-evp, scalar, "
					"ipsec-mb, scalar-32ctx, ipsec-mb-32ctx\n",
					argv[i]);
				return 2;
			}
		} else {
			fprintf(stderr, "usage: srtp-bench [--csv] [--ms N] [--impl NAME]... [--suite SDES-NAME]...  "
				"(NAME: libsrtp2, scalar-evp, scalar, ipsec-mb, scalar-32ctx, ipsec-mb-32ctx)\n"
				"       srtp-bench --mem [--csv]\n");
			return 2;
		}
	}
	if (!any)
		for (int k = 0; k < IMPL_COUNT; k++)
			want[k] = 1;
	want[IMPL_LIBSRTP] = 1; /* the baseline always runs */
	if (srtp_init() != srtp_err_status_ok)
		return 1;
	pool = aligned_alloc(64, sizeof(*pool) * POOL);
	work = aligned_alloc(64, sizeof(*work) * 32);
	if (!pool || !work)
		return 1;
	for (unsigned i = 0; i < sizeof(master); i++)
		master[i] = (uint8_t)(i * 7 + 3);
	if (mem)
		return mem_table(csv);
	eng[IMPL_SCALAR] = mg_srtp_engine_create(MG_SRTP_BACKEND_SCALAR);
	eng[IMPL_IPSECMB] = mg_srtp_engine_create(MG_SRTP_BACKEND_IPSECMB);
	if (!eng[IMPL_IPSECMB] && (want[IMPL_IPSECMB] || want[IMPL_IPSECMB_MULTI])) {
		fprintf(stderr, "srtp-bench: ipsec-mb backend not available (%s), skipped\n", strerror(errno));
		want[IMPL_IPSECMB] = want[IMPL_IPSECMB_MULTI] = 0;
	}
	eng[IMPL_SCALAR_EVP] = eng[IMPL_SCALAR_MULTI] = eng[IMPL_SCALAR];
	eng[IMPL_IPSECMB_MULTI] = eng[IMPL_IPSECMB];
	if (!csv) {
		printf("# libsrtp2: %s\n", srtp_get_version_string());
		for (int k = IMPL_SCALAR_EVP; k <= IMPL_IPSECMB; k++)
			if (eng[k])
				printf("# %s: %s\n", impl_names[k], mg_srtp_engine_describe(eng[k]));
	}
	if (csv)
		printf("impl,suite,op,bytes,burst,ns_per_pkt,mpps\n");
	else
		printf("%-14s %-24s %-9s %5s %5s %10s %8s %9s\n", "impl", "suite", "op", "bytes", "burst", "ns/pkt",
		       "Mpps", "x libsrtp");
	/* all implementations of one configuration back to back, baseline
	 * first, so a busy neighbour on a shared machine hits them alike */
	for (unsigned si = 0; si < nsuites; si++)
		for (int op = 0; op < 2; op++)
			for (unsigned zi = 0; zi < 3; zi++)
				for (unsigned bi = 0; bi < 2; bi++) {
					double base = 0;

					for (int im = 0; im < IMPL_COUNT; im++) {
						const char *sn = mg_srtp_suite_by_id(suites[si])->sdes_name;
						double ns;

						if (!want[im] || (im >= IMPL_SCALAR_MULTI && bursts[bi] == 1))
							continue;
						ns = run((enum impl)im, eng[im], suites[si], op, sizes[zi], bursts[bi],
							 budget_ms);
						if (im == IMPL_LIBSRTP)
							base = ns;
						if (csv)
							printf("%s,%s,%s,%u,%u,%.1f,%.3f\n", impl_names[im], sn,
							       op ? "unprotect" : "protect", sizes[zi], bursts[bi], ns,
							       1e3 / ns);
						else
							printf("%-14s %-24s %-9s %5u %5u %10.1f %8.3f %8.1fx\n",
							       impl_names[im], sn, op ? "unprotect" : "protect", sizes[zi],
							       bursts[bi], ns, 1e3 / ns, base / ns);
						fflush(stdout);
					}
				}
	mg_srtp_engine_free(eng[IMPL_SCALAR]);
	mg_srtp_engine_free(eng[IMPL_IPSECMB]);
	free(pool);
	free(work);
	srtp_shutdown();
	return 0;
}
