/* SPDX-License-Identifier: BSD-3-Clause */
/* srtp-bench: SRTP protect/unprotect cost per packet on one core, for
 * two builds of libsrtp2 (the baselines, same run) and each mediagate
 * backend.
 *
 *   srtp-bench [--csv FILE] [--ms N] [--impl NAME]... [--suite SDES-NAME]...
 *              [--bytes N] [--burst N] [--op protect|unprotect]
 *              [--libsrtp2-openssl PATH]
 *   srtp-bench --mem [--csv FILE]
 *
 * Baselines: libsrtp2-nss is Debian's package (built on NSS), linked as
 * usual. libsrtp2-openssl is the same Debian source package built with
 * OpenSSL by bench/setup-libsrtp2-openssl (Debian's flags), loaded with
 * dlopen(RTLD_LOCAL | RTLD_DEEPBIND) from the setup's cache (or PATH):
 * both export the same srtp_* names, LOCAL keeps its symbols out of the
 * global scope and DEEPBIND makes its own internal calls (and its global
 * crypto kernel) resolve inside it rather than in Debian's copy. Both are
 * called through the same table of function pointers, in this process,
 * by the same timing loop as our engine. Without the OpenSSL build its
 * rows are skipped with a note.
 *
 * Packet sizes are whole RTP packets (12-byte header + payload) before
 * protection. Protect re-protects the same buffers with a new sequence
 * number each time (no copy). Unprotect copies each packet from a pool of
 * protected packets into the work buffer first (the copy is timed for every
 * implementation alike) and re-creates the receiving context, untimed,
 * between passes so indexes are never replays. libsrtp has no burst call:
 * its "burst 32" is 32 calls. Each figure is the median over passes of
 * 1024 packets (--ms of passes per row). Never asserts anything about
 * time; exits 1 (after printing every row) if any packet of any row, or any
 * part's burst call, failed.
 *
 * After the goal row (172-byte _80 protect, burst 32, ipsec-mb)
 * come its parts, each timed alone (parts_table()): what the HMAC and the
 * AES-CTR cost by themselves, hence the best ratio to libsrtp2-openssl this
 * CPU allows; in the CSV as impl "part:NAME", op "protect-part".
 *
 * --mem prints what one context costs instead: the sizes of the engine's
 * structs and the heap bytes per mg_srtp_ctx_create() (mallinfo2() delta
 * over 10,000 live contexts), per suite, without and with MKI (4 keys),
 * for the default AES-NI setup and the libcrypto EVP one. */
#include "mg_build_config.h"

#include <dlfcn.h>
#include <malloc.h>
#include <sys/wait.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <srtp2/srtp.h>

#include "mg_asan.h"
#include "mg_srtp.h"
#include "mg_srtp_internal.h" /* --mem: struct sizes */
#if MG_HAVE_IPSECMB
#include "mg_srtp_sha1x16.h" /* the goal row's parts */
#define NO_COMPAT_IMB_API_053
#include <intel-ipsec-mb.h>
#endif

#define POOL 1024
#define CAP 1280
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define MAX_PASSES 512 /* timed passes of one row at the most (its median is the figure) */
#define MIN_PASSES 4   /* the warm-up and at least 3 timed, however short --ms */

/* The *-32ctx rows spread each burst over 32 contexts (one packet each,
 * the _multi calls): what a dataplane sees with many calls, one packet per
 * call per poll. Same key material, separate contexts. scalar-evp is the
 * scalar backend with contexts made under MG_SRTP_SCALAR_AES=evp: AES on
 * a libcrypto EVP context (the path before AES-NI intrinsics, and that of
 * CPUs without AES-NI), to compare in the same run. */
enum impl { IMPL_LIB_NSS, IMPL_LIB_OSSL, IMPL_SCALAR_EVP, IMPL_SCALAR, IMPL_IPSECMB, IMPL_SCALAR_MULTI,
	    IMPL_IPSECMB_MULTI, IMPL_COUNT };
static const char *const impl_names[IMPL_COUNT] = { "libsrtp2-nss", "libsrtp2-openssl", "scalar-evp", "scalar",
						    "ipsec-mb",     "scalar-32ctx",     "ipsec-mb-32ctx" };
static const char impl_list[] = "libsrtp2-nss, libsrtp2-openssl, scalar-evp, scalar, ipsec-mb, scalar-32ctx, "
				"ipsec-mb-32ctx";
static char impl_build[IMPL_COUNT][1400]; /* which build each row used: the CSV's build column */

/* One libsrtp2 build: the calls the bench makes, Debian's linked ones or
 * the OpenSSL build's from dlsym(). */
struct libsrtp_api {
	srtp_err_status_t (*init)(void);
	srtp_err_status_t (*shutdown)(void);
	srtp_err_status_t (*create)(srtp_t *, const srtp_policy_t *);
	srtp_err_status_t (*protect)(srtp_t, void *, int *);
	srtp_err_status_t (*unprotect)(srtp_t, void *, int *);
	srtp_err_status_t (*dealloc)(srtp_t);
	void (*set_80)(srtp_crypto_policy_t *);
	void (*set_32)(srtp_crypto_policy_t *);
	void (*set_gcm)(srtp_crypto_policy_t *);
	const char *(*version)(void);
};
#define N_BASELINES (IMPL_LIB_OSSL + 1) /* the libsrtp2 builds: the first rows of enum impl */
static struct libsrtp_api libs[N_BASELINES]; /* [IMPL_LIB_NSS], [IMPL_LIB_OSSL] */
static int mk_evp; /* our_create(): contexts on the EVP path */
#define MAX_BURST 32
#define NCTX MAX_BURST /* a *-32ctx burst: one packet per context */

static enum mg_srtp_suite suites[MG_SRTP_SUITE_COUNT] = { MG_SRTP_AES_CM_128_HMAC_SHA1_80,
							  MG_SRTP_AES_CM_128_HMAC_SHA1_32 };
static unsigned nsuites = 2;
static const unsigned sizes[] = { 60, 172, 1200 };
static const unsigned bursts[] = { 1, MAX_BURST };

static uint8_t master[30];
static uint8_t (*pool)[CAP];    /* protected packets */
static uint16_t pool_len[POOL];
static uint8_t (*work)[CAP];
static unsigned failed; /* passes with a failed packet, short part burst calls: exit 1 */

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

static srtp_t lib_create(const struct libsrtp_api *l, enum mg_srtp_suite s, int inbound)
{
	srtp_policy_t pol;
	srtp_t ses = NULL;

	memset(&pol, 0, sizeof(pol));
	if (s == MG_SRTP_AEAD_AES_128_GCM) {
		/* key || 12-byte salt: the first 28 bytes of master[] */
		l->set_gcm(&pol.rtp);
		l->set_gcm(&pol.rtcp);
	} else {
		if (s == MG_SRTP_AES_CM_128_HMAC_SHA1_32)
			l->set_32(&pol.rtp);
		else
			l->set_80(&pol.rtp);
		l->set_80(&pol.rtcp);
	}
	pol.ssrc.type = inbound ? ssrc_any_inbound : ssrc_any_outbound;
	pol.key = master;
	pol.window_size = 128;
	pol.allow_repeat_tx = 1;
	if (l->create(&ses, &pol) != srtp_err_status_ok)
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
	srtp_t out = lib_create(&libs[IMPL_LIB_NSS], s, 0);

	for (unsigned i = 0; i < POOL; i++) {
		int len = (int)bytes;

		make_rtp(pool[i], bytes, (uint16_t)(1000 + i));
		libs[IMPL_LIB_NSS].protect(out, pool[i], &len);
		pool_len[i] = (uint16_t)len;
	}
	libs[IMPL_LIB_NSS].dealloc(out);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double run(enum impl im, struct mg_srtp_engine *e, enum mg_srtp_suite s, int unprotect, unsigned bytes,
		  unsigned burst, double budget_ms)
{
	double spent = 0, t0, t1, per[MAX_PASSES];
	unsigned npass = 0;
	uint16_t seq = 0;
	struct mg_srtp_buf bufs[MAX_BURST];
	uint8_t res[MAX_BURST];

	if (unprotect)
		fill_pool(s, bytes);
	else
		for (unsigned i = 0; i < burst; i++)
			make_rtp(work[i], bytes, 0);
	/* warm-up pass included in the loop's first iteration is discarded */
	for (int pass = 0; (spent < budget_ms * 1e6 || pass < MIN_PASSES) && npass < MAX_PASSES; pass++) {
		srtp_t ses = NULL;
		struct mg_srtp_ctx *c = NULL, *cs[NCTX] = { 0 };
		const int multi = im == IMPL_SCALAR_MULTI || im == IMPL_IPSECMB_MULTI;
		const struct libsrtp_api *l = im <= IMPL_LIB_OSSL ? &libs[im] : NULL;
		unsigned n = 0;

		mk_evp = im == IMPL_SCALAR_EVP;
		if (l)
			ses = lib_create(l, s, unprotect);
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
				if (l) {
					int len = bufs[k].len;
					srtp_err_status_t st = unprotect ? l->unprotect(ses, w, &len)
									 : l->protect(ses, w, &len);

					n += st == srtp_err_status_ok;
				}
			}
			if (multi)
				n += unprotect ? mg_srtp_unprotect_burst_multi(e, cs, bufs, res, burst)
					       : mg_srtp_protect_burst_multi(e, cs, bufs, res, burst);
			else if (!l)
				n += unprotect ? mg_srtp_unprotect_burst(e, c, bufs, res, burst)
					       : mg_srtp_protect_burst(e, c, bufs, res, burst);
		}
		t1 = now_ns();
		/* the baseline too: a failing packet would make it look fast */
		if (n != POOL) {
			failed++;
			fprintf(stderr, "srtp-bench: %s %s only %u of %u packets OK\n", impl_names[im],
				unprotect ? "unprotect" : "protect", n, POOL);
		}
		if (pass > 0) {
			spent += t1 - t0;
			per[npass++] = (t1 - t0) / POOL;
		}
		if (ses)
			l->dealloc(ses);
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
static int mem_table(FILE *csv)
{
	static struct mg_srtp_ctx *cs[MEM_N];
	static const enum mg_srtp_suite ms[] = { MG_SRTP_AES_CM_128_HMAC_SHA1_80, MG_SRTP_AES_CM_128_HMAC_SHA1_32,
						 MG_SRTP_AEAD_AES_128_GCM };

	if (csv)
		fprintf(csv, "suite,keys,aes,used_bytes_per_ctx,heap_bytes_per_ctx\n");
	{
		printf("# sizeof: mg_srtp_ctx %zu (of which 1 SSRC state %zu, stats %zu; room for %u more "
		       "SSRCs %u B beside it), keyset %zu (per master key: SRTP + SRTCP dkeys %zu each), "
		       "engine %zu (per thread)\n",
		       sizeof(struct mg_srtp_ctx), sizeof(struct mg_srtp_stream_rt), sizeof(struct mg_srtp_stats),
		       MG_SRTP_SSRC_MAX - 1, MG_SRTP_SSRC_ROOM_BYTES, sizeof(struct mg_srtp_keyset),
		       sizeof(struct mg_srtp_dkeys), sizeof(struct mg_srtp_engine));
		printf("# heap per mg_srtp_ctx_create(), mallinfo2() over %d live contexts; contexts are the "
		       "same for every backend\n",
		       MEM_N);
		printf("%-24s %4s %-6s %10s %10s\n", "suite", "keys", "aes", "used B", "heap B");
	}
	/* each suite with 1 and MG_SRTP_KEYS_MAX keys, AES-NI and EVP (a
	 * context with room for MG_SRTP_SSRC_MAX SSRCs); the last row: the
	 * first one's context as the dataplane makes it, without the engine's
	 * counters (policy stats_off) and with an SSRC pool (room for SSRCs
	 * 2.. only when a second one shows up: not here) */
	const unsigned n_rows = NELEM(ms) * 2 * 2;

	for (unsigned row = 0; row <= n_rows; row++) {
		const unsigned si = row < n_rows ? row / 4 : 0;
		const int mki = row < n_rows ? (int)(row / 2 % 2) : 0, evp = row < n_rows ? (int)(row % 2) : 0;
		const int stats_off = row == n_rows;

		struct mg_srtp_policy p = { 0 };
		struct mallinfo2 a, b;
		char err[200];
		double used, heap;

		p.suite = ms[si];
		p.dir = MG_SRTP_DIR_OUTBOUND;
		p.stats_off = (uint8_t)stats_off;
		p.nkeys = mki ? MG_SRTP_KEYS_MAX : 1;
		p.mki_len = mki ? 1 : 0;
		for (unsigned k = 0; k < p.nkeys; k++) {
			memcpy(p.keys[k].key, master, 16);
			p.keys[k].key[0] ^= (uint8_t)k;
			memcpy(p.keys[k].salt, master + 16, 14);
			p.keys[k].mki[0] = (uint8_t)k;
		}
		/* each row in a process of its own: contexts come from pools
		 * that keep freed memory for the next contexts, so a row after
		 * another of the same size would measure nothing */
		fflush(stdout);
		if (csv)
			fflush(csv);
		pid_t pid = fork();
		int wst = 0;

		if (pid < 0) {
			perror("srtp-bench: fork");
			return 1;
		}
		if (pid > 0) {
			if (waitpid(pid, &wst, 0) < 0 || !WIFEXITED(wst) || WEXITSTATUS(wst) != 0)
				return 1;
			continue;
		}
		if (evp)
			setenv("MG_SRTP_SCALAR_AES", "evp", 1);
		if (stats_off) {
			p.ssrc_pool = mg_srtp_ssrc_pool_create(MEM_N + 1);
			if (!p.ssrc_pool)
				_exit(1);
		}
		/* warm up: one-time library state is not per context */
		mg_srtp_ctx_free(mg_srtp_ctx_create(&p, err, sizeof(err)));
		malloc_trim(0);
		a = mallinfo2();
		for (int i = 0; i < MEM_N; i++) {
			cs[i] = mg_srtp_ctx_create(&p, err, sizeof(err));
			if (!cs[i]) {
				fprintf(stderr, "srtp-bench: %s\n", err);
				_exit(1);
			}
		}
		b = mallinfo2();
		unsetenv("MG_SRTP_SCALAR_AES");
		used = (double)((b.uordblks + b.hblkhd) - (a.uordblks + a.hblkhd)) / MEM_N;
		heap = (double)((b.arena + b.hblkhd) - (a.arena + a.hblkhd)) / MEM_N;
		for (int i = 0; i < MEM_N; i++)
			mg_srtp_ctx_free(cs[i]);
		if (csv)
			fprintf(csv, "%s,%u,%s,%.0f,%.0f\n", mg_srtp_suite_by_id(ms[si])->sdes_name,
				p.nkeys, stats_off ? "aes-ni-stats-off" : evp ? "evp" : "aes-ni",
				used, heap);
		printf("%-24s %4u %-6s %10.0f %10.0f%s\n", mg_srtp_suite_by_id(ms[si])->sdes_name,
		       p.nkeys, evp ? "evp" : "aes-ni", used, heap,
		       stats_off ? "  (stats_off, SSRC pool, one SSRC: as the dataplane creates it)" : "");
		fflush(stdout);
		if (csv)
			fflush(csv);
		_exit(0);
	}
	return 0;
}


/* CPU model and the features the figures depend on (from /proc/cpuinfo):
 * AES-NI and SHA-NI for one packet, VAES and AVX-512 for ipsec-mb's lanes. */
static char cpu_model[128] = "?", cpu_feat[128] = "";

static void cpu_describe(void)
{
	static const char *const feats[] = { "aes", "sha_ni", "vaes", "vpclmulqdq", "avx512f", "avx2" };
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[4096];
	int model = 0, flags = 0;

	if (!f)
		return;
	while (fgets(line, sizeof(line), f) && !(model && flags)) {
		char *v = strchr(line, ':');

		if (!v)
			continue;
		v += 1 + (v[1] == ' ');
		v[strcspn(v, "\n")] = 0;
		if (!model && !strncmp(line, "model name", 10)) {
			snprintf(cpu_model, sizeof(cpu_model), "%s", v);
			model = 1;
		} else if (!flags && !strncmp(line, "flags", 5)) {
			size_t o = 0;

			for (unsigned k = 0; k < NELEM(feats); k++) {
				char pat[32];
				size_t pl = (size_t)snprintf(pat, sizeof(pat), " %s", feats[k]);
				const char *hit = strstr(v - 1, pat);
				int has = hit && (hit[pl] == ' ' || hit[pl] == 0);

				o += (size_t)snprintf(cpu_feat + o, sizeof(cpu_feat) - o, "%s%s%s", o ? " " : "",
						      has ? "+" : "-", feats[k]);
			}
			flags = 1;
		}
	}
	fclose(f);
}

static void lib_linked(struct libsrtp_api *l)
{
	*l = (struct libsrtp_api){
		.init = srtp_init,
		.shutdown = srtp_shutdown,
		.create = srtp_create,
		.protect = srtp_protect,
		.unprotect = srtp_unprotect,
		.dealloc = srtp_dealloc,
		.set_80 = srtp_crypto_policy_set_rtp_default, /* the _80 setter is a macro for it */
		.set_32 = srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32,
		.set_gcm = srtp_crypto_policy_set_aes_gcm_128_16_auth,
		.version = srtp_get_version_string,
	};
}

/* AddressSanitizer refuses RTLD_DEEPBIND (it aborts the process), and
 * without it the OpenSSL build would resolve into Debian's copy: an ASan
 * build (the test suite's) runs without that baseline. */
/* The OpenSSL build: its own copy of every srtp_* symbol (see the top of
 * the file for why LOCAL | DEEPBIND). 0, or -1 with a note in @p why. */
static int lib_dlopen(struct libsrtp_api *l, const char *path, char *why, size_t cap)
{
#if MG_ASAN
	(void)l;
	snprintf(why, cap, "%s: not loaded in an AddressSanitizer build (it refuses RTLD_DEEPBIND)", path);
	return -1;
#else
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
	static const char *const names[] = { "srtp_init",
					       "srtp_shutdown",
					       "srtp_create",
					       "srtp_protect",
					       "srtp_unprotect",
					       "srtp_dealloc",
					       "srtp_crypto_policy_set_rtp_default",
					       "srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32",
					       "srtp_crypto_policy_set_aes_gcm_128_16_auth",
					       "srtp_get_version_string" };
	void *sym[NELEM(names)];

	if (!h) {
		snprintf(why, cap, "%s", dlerror());
		return -1;
	}
	for (unsigned k = 0; k < NELEM(names); k++)
		if (!(sym[k] = dlsym(h, names[k]))) {
			snprintf(why, cap, "%s: no %s", path, names[k]);
			return -1;
		}
	if (sym[0] == (void *)srtp_init) {
		snprintf(why, cap, "%s: dlopen() gave Debian's copy back", path);
		return -1;
	}
	/* object <-> function pointer: what dlsym() is for (POSIX) */
	memcpy(&l->init, &sym[0], sizeof(sym[0]));
	memcpy(&l->shutdown, &sym[1], sizeof(sym[0]));
	memcpy(&l->create, &sym[2], sizeof(sym[0]));
	memcpy(&l->protect, &sym[3], sizeof(sym[0]));
	memcpy(&l->unprotect, &sym[4], sizeof(sym[0]));
	memcpy(&l->dealloc, &sym[5], sizeof(sym[0]));
	memcpy(&l->set_80, &sym[6], sizeof(sym[0]));
	memcpy(&l->set_32, &sym[7], sizeof(sym[0]));
	memcpy(&l->set_gcm, &sym[8], sizeof(sym[0]));
	memcpy(&l->version, &sym[9], sizeof(sym[0]));
	if (l->init() != srtp_err_status_ok) {
		snprintf(why, cap, "%s: srtp_init() failed", path);
		return -1;
	}
	return 0;
#endif
}

/* The setup script's cache: ${MG_BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mediagate} */
static void cache_dir(char *out, size_t cap)
{
	const char *c = getenv("MG_BENCH_CACHE"), *x = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");

	if (c && *c)
		snprintf(out, cap, "%s", c);
	else if (x && *x)
		snprintf(out, cap, "%s/mediagate", x);
	else
		snprintf(out, cap, "%s/.cache/mediagate", home ? home : ".");
}

static void read_line(const char *path, char *out, size_t cap)
{
	FILE *f = fopen(path, "r");

	if (f) {
		if (fgets(out, (int)cap, f))
			out[strcspn(out, "\n")] = 0;
		fclose(f);
	}
}

static int listed(const unsigned *v, size_t n, int x)
{
	for (size_t i = 0; i < n; i++)
		if ((int)v[i] == x)
			return 1;
	return 0;
}

#if MG_HAVE_IPSECMB
/*
 * The goal row's parts: the two kernels the ipsec-mb engine's AES-CM
 * protect of 32 × 172-byte packets is made of, each timed alone on the
 * same buffers (median pass of 1024 packets, as run()):
 *   hmac x16   our 16-lane AVX-512 HMAC-SHA1 over 176 bytes (packet + ROC:
 *              3 inner blocks after the precomputed key^ipad state, 1 outer);
 *   hmac lib   ipsec-mb's own HMAC-SHA1 hash burst, on its avx512 manager
 *              and on its sse manager (SHA-NI where the CPU has it): the
 *              other ways this CPU could hash;
 *   ctr        ipsec-mb's AES-CTR cipher burst over the 160-byte payloads.
 * Chaining values and keys are arbitrary (timing only; the engine's results
 * are checked by srtp-vectors and srtp-sha1x16-unit). Whatever the engine's
 * bookkeeping costs, a protect costs at least the fastest HMAC plus the
 * CTR: against the OpenSSL-built libsrtp2 of the same run that gives the
 * highest ratio this CPU allows the goal row, printed beside the 10× goal.
 */
typedef void (*part_fn)(void *arg);

struct part_state {
	IMB_MGR *m;
	IMB_JOB jobs[MAX_BURST];
	struct mg_srtp_sha1x16_lane lanes[MAX_BURST];
	uint8_t digest[MAX_BURST][20];
};

static void part_x16(void *arg)
{
	struct part_state *ps = arg;

	mg_srtp_hmac_sha1_x16(ps->lanes, 16);
	mg_srtp_hmac_sha1_x16(ps->lanes + 16, 16);
}

static void part_libhmac(void *arg)
{
	struct part_state *ps = arg;

	if (IMB_SUBMIT_HASH_BURST_NOCHECK(ps->m, ps->jobs, MAX_BURST, IMB_AUTH_HMAC_SHA_1) != MAX_BURST)
		failed++;
}

static void part_ctr(void *arg)
{
	struct part_state *ps = arg;

	if (IMB_SUBMIT_CIPHER_BURST_NOCHECK(ps->m, ps->jobs, MAX_BURST, IMB_CIPHER_CNTR, IMB_DIR_ENCRYPT,
					    IMB_KEY_128_BYTES) != MAX_BURST)
		failed++;
}

static double part_time(part_fn f, void *arg, double budget_ms)
{
	double spent = 0, per[MAX_PASSES];
	unsigned npass = 0;

	for (int pass = 0; (spent < budget_ms * 1e6 || pass < MIN_PASSES) && npass < MAX_PASSES; pass++) {
		const double t0 = now_ns();

		for (unsigned i = 0; i < POOL; i += MAX_BURST)
			f(arg);
		const double t1 = now_ns();

		if (pass > 0) {
			spent += t1 - t0;
			per[npass++] = (t1 - t0) / POOL;
		}
	}
	qsort(per, npass, sizeof(per[0]), cmp_double);
	return per[npass / 2];
}

/* one part as a CSV row: impl "part:NAME", op "protect-part", x columns 0 */
static void part_csv(FILE *csv, const char *name, const char *build, double ns)
{
	if (csv)
		fprintf(csv, "part:%s,\"%s\",AES_CM_128_HMAC_SHA1_80,protect-part,172,32,%.1f,%.3f,0,0,\"%s\",\"%s\"\n",
			name, build, ns, 1e3 / ns, cpu_model, cpu_feat);
}

static void parts_table(double goal_ns, double ossl_ns, double budget_ms, FILE *csv)
{
	static const uint32_t cv[5] = { 0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0 };
	static const struct {
		const char *name;
		void (*init)(IMB_MGR *);
		uint64_t need; /* IMB_FEATURE_* the manager needs */
		int shani;     /* its HMAC-SHA1 runs on SHA-NI where the CPU has it */
	} mgrs[] = { { "avx512", init_mb_mgr_avx512, IMB_FEATURE_AVX512_SKX, 0 },
		     { "sse", init_mb_mgr_sse, 0, 1 } };
	const unsigned bytes = 172, hash_len = bytes + 4, enc_off = 12;
	/* aligned_alloc() wants a size that is a multiple of the alignment */
	struct part_state *ps = aligned_alloc(64, (sizeof(*ps) + 63) & ~(size_t)63);
	DECLARE_ALIGNED(uint32_t ek[4 * 15], 16);
	DECLARE_ALIGNED(uint32_t dk[4 * 15], 16);
	DECLARE_ALIGNED(uint8_t iv[MAX_BURST][16], 16);
	double x16 = 0, ctr = 0, hmac_best = 0;

	if (!ps)
		return;
	memset(ps, 0, sizeof(*ps));
	for (unsigned k = 0; k < MAX_BURST; k++) {
		make_rtp(work[k], bytes, (uint16_t)k);
		memset(iv[k], (int)k, 16);
		ps->lanes[k] = (struct mg_srtp_sha1x16_lane){ work[k], hash_len, cv, cv, ps->digest[k] };
	}
	printf("# goal row's parts (32 x 172-byte packets, each part alone, ns/pkt):\n");
	if (mg_srtp_sha1x16_usable()) {
		x16 = part_time(part_x16, ps, budget_ms);
		hmac_best = x16;
		printf("#   %-38s %7.1f\n", "hmac-sha1 x16 (ours, avx512)", x16);
		part_csv(csv, "hmac-sha1-x16", "mediagate mg_srtp_hmac_sha1_x16 alone, 176-byte messages", x16);
	}
	for (unsigned g = 0; g < NELEM(mgrs); g++) {
		IMB_MGR *m = alloc_mb_mgr(0);

		if (!m)
			break;
		mgrs[g].init(m);
		if (imb_get_errno(m) != 0 || (m->features & mgrs[g].need) != mgrs[g].need) {
			free_mb_mgr(m);
			continue;
		}
		ps->m = m;
		IMB_AES_KEYEXP_128(m, master, ek, dk);
		for (unsigned k = 0; k < MAX_BURST; k++) {
			IMB_JOB *j = &ps->jobs[k];

			memset(j, 0, sizeof(*j));
			j->src = work[k];
			j->dst = work[k] + enc_off;
			j->cipher_start_src_offset_in_bytes = enc_off;
			j->msg_len_to_cipher_in_bytes = bytes - enc_off;
			j->key_len_in_bytes = IMB_KEY_128_BYTES;
			j->enc_keys = ek;
			j->dec_keys = ek;
			j->iv = iv[k];
			j->iv_len_in_bytes = 16;
			j->msg_len_to_hash_in_bytes = hash_len;
			j->u.HMAC._hashed_auth_key_xor_ipad = (const uint8_t *)cv;
			j->u.HMAC._hashed_auth_key_xor_opad = (const uint8_t *)cv;
			j->auth_tag_output = ps->digest[k];
			j->auth_tag_output_len_in_bytes = 20;
		}
		const double h = part_time(part_libhmac, ps, budget_ms);
		char name[64];

		snprintf(name, sizeof(name), "hmac-sha1 ipsec-mb %s%s", mgrs[g].name,
			 mgrs[g].shani && (m->features & IMB_FEATURE_SHANI) ? " (sha-ni)" : "");
		printf("#   %-38s %7.1f\n", name, h);
		snprintf(name, sizeof(name), "hmac-sha1-ipsec-mb-%s", mgrs[g].name);
		part_csv(csv, name, "ipsec-mb hash burst alone, 176-byte messages", h);
		if (hmac_best == 0 || h < hmac_best)
			hmac_best = h;
		if (ctr == 0) { /* on the widest manager this CPU runs */
			ctr = part_time(part_ctr, ps, budget_ms);
			snprintf(name, sizeof(name), "aes-128-ctr ipsec-mb %s", mgrs[g].name);
			printf("#   %-38s %7.1f\n", name, ctr);
			snprintf(name, sizeof(name), "aes-128-ctr-ipsec-mb-%s", mgrs[g].name);
			part_csv(csv, name, "ipsec-mb cipher burst alone, 160-byte payloads", ctr);
		}
		free_mb_mgr(m);
	}
	if (hmac_best > 0 && ctr > 0) {
		const double least = hmac_best + ctr;

		printf("#   %-38s %7.1f   (the whole protect: %.1f; the rest, %.1f, is its bookkeeping "
		       "(replay/ROC, IV, tag, burst) and the noise of timing the parts apart)\n",
		       "fastest hmac + ctr", least, goal_ns, goal_ns - least);
		if (ossl_ns > 0)
			printf("# at best %.1fx libsrtp2-openssl (%.1f ns) with this CPU's hmac and ctr alone; 10x needs "
			       "<= %.1f ns for the whole protect\n",
			       ossl_ns / least, ossl_ns, ossl_ns / 10);
	}
	free(ps);
}
#endif

static void usage(void)
{
	fprintf(stderr,
		"usage: srtp-bench [--csv FILE] [--ms N] [--impl NAME]... [--suite SDES-NAME]...\n"
		"                  [--bytes 60|172|1200] [--burst 1|32] [--op protect|unprotect]\n"
		"                  [--libsrtp2-openssl PATH]\n"
		"       srtp-bench --mem [--csv FILE]\n"
		"NAME: %s\n",
		impl_list);
}

int main(int argc, char **argv)
{
	int mem = 0, suite_given = 0, only_bytes = 0, only_burst = 0, only_op = -1;
	double budget_ms = 40;
	int want[IMPL_COUNT] = { 0 }, any = 0;
	struct mg_srtp_engine *eng[IMPL_COUNT] = { 0 };
	const char *csv_path = NULL, *ossl_path = NULL;
	char cache[512], ossl_default[640], why[1024] = "";
	FILE *csv = NULL;
	double goal_ns = 0, goal_ossl = 0, goal_ossl_ns = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--csv") && i + 1 < argc) {
			csv_path = argv[++i];
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
		} else if (!strcmp(argv[i], "--bytes") && i + 1 < argc) {
			only_bytes = atoi(argv[++i]);
			if (!listed(sizes, NELEM(sizes), only_bytes)) {
				fprintf(stderr, "srtp-bench: --bytes %s; allowed: 60, 172, 1200\n", argv[i]);
				return 2;
			}
		} else if (!strcmp(argv[i], "--burst") && i + 1 < argc) {
			only_burst = atoi(argv[++i]);
			if (!listed(bursts, NELEM(bursts), only_burst)) {
				fprintf(stderr, "srtp-bench: --burst %s; allowed: 1, 32\n", argv[i]);
				return 2;
			}
		} else if (!strcmp(argv[i], "--op") && i + 1 < argc) {
			i++;
			only_op = !strcmp(argv[i], "protect") ? 0 : !strcmp(argv[i], "unprotect") ? 1 : -2;
			if (only_op == -2) {
				fprintf(stderr, "srtp-bench: --op %s; allowed: protect, unprotect\n", argv[i]);
				return 2;
			}
		} else if (!strcmp(argv[i], "--libsrtp2-openssl") && i + 1 < argc) {
			ossl_path = argv[++i];
		} else if (!strcmp(argv[i], "--impl") && i + 1 < argc) {
			int found = 0;

			i++;
			for (int k = 0; k < IMPL_COUNT; k++)
				if (!strcmp(argv[i], impl_names[k]))
					want[k] = found = any = 1;
			if (!found) {
				fprintf(stderr, "srtp-bench: unknown impl '%s'; allowed: %s\n", argv[i], impl_list);
				return 2;
			}
		} else {
			usage();
			return 2;
		}
	}
	if (!any)
		for (int k = 0; k < IMPL_COUNT; k++)
			want[k] = 1;
	/* the baselines always run */
	want[IMPL_LIB_NSS] = want[IMPL_LIB_OSSL] = 1;
	if (csv_path && !(csv = fopen(csv_path, "w"))) {
		fprintf(stderr, "srtp-bench: %s: %s\n", csv_path, strerror(errno));
		return 1;
	}
	lib_linked(&libs[IMPL_LIB_NSS]);
	if (libs[IMPL_LIB_NSS].init() != srtp_err_status_ok)
		return 1;
	pool = aligned_alloc(64, sizeof(*pool) * POOL);
	work = aligned_alloc(64, sizeof(*work) * MAX_BURST);
	if (!pool || !work)
		return 1;
	for (unsigned i = 0; i < sizeof(master); i++)
		master[i] = (uint8_t)(i * 7 + 3);
	if (mem) {
		int rc = mem_table(csv);

		if (csv)
			fclose(csv);
		return rc;
	}
	cpu_describe();
	cache_dir(cache, sizeof(cache));
	snprintf(ossl_default, sizeof(ossl_default), "%s/libsrtp2-openssl/lib/libsrtp2.so.1", cache);
	if (lib_dlopen(&libs[IMPL_LIB_OSSL], ossl_path ? ossl_path : ossl_default, why, sizeof(why)) < 0) {
		want[IMPL_LIB_OSSL] = 0;
		fprintf(stderr,
			"srtp-bench: libsrtp2-openssl rows skipped (%s); build it once with "
			"bench/setup-libsrtp2-openssl\n",
			why);
	} else {
		char build[700] = "libsrtp2 built with OpenSSL (no BUILD note)";

		if (!ossl_path) {
			char note[640];

			snprintf(note, sizeof(note), "%s/libsrtp2-openssl/BUILD", cache);
			read_line(note, build, sizeof(build));
		}
		snprintf(impl_build[IMPL_LIB_OSSL], sizeof(impl_build[0]), "%s; %s", build,
			 ossl_path ? ossl_path : ossl_default);
	}
	snprintf(impl_build[IMPL_LIB_NSS], sizeof(impl_build[0]), "Debian package %s (NSS)",
		 libs[IMPL_LIB_NSS].version());
	eng[IMPL_SCALAR] = mg_srtp_engine_create(MG_SRTP_BACKEND_SCALAR);
	eng[IMPL_IPSECMB] = mg_srtp_engine_create(MG_SRTP_BACKEND_IPSECMB);
	if (!eng[IMPL_IPSECMB] && (want[IMPL_IPSECMB] || want[IMPL_IPSECMB_MULTI])) {
		fprintf(stderr, "srtp-bench: ipsec-mb backend not available (%s), skipped\n", strerror(errno));
		want[IMPL_IPSECMB] = want[IMPL_IPSECMB_MULTI] = 0;
	}
	eng[IMPL_SCALAR_EVP] = eng[IMPL_SCALAR_MULTI] = eng[IMPL_SCALAR];
	eng[IMPL_IPSECMB_MULTI] = eng[IMPL_IPSECMB];
	for (int k = IMPL_SCALAR_EVP; k < IMPL_COUNT; k++)
		if (eng[k])
			snprintf(impl_build[k], sizeof(impl_build[0]), "mediagate %s%s",
				 mg_srtp_engine_describe(eng[k]), k == IMPL_SCALAR_EVP ? " (AES on an EVP context)" : "");
	printf("# cpu: %s (%s), %ld online\n", cpu_model, cpu_feat, sysconf(_SC_NPROCESSORS_ONLN));
	for (int k = 0; k < IMPL_COUNT; k++)
		if (want[k] && impl_build[k][0] && (k != IMPL_SCALAR_MULTI && k != IMPL_IPSECMB_MULTI))
			printf("# %s: %s\n", impl_names[k], impl_build[k]);
	if (csv)
		fprintf(csv, "impl,build,suite,op,bytes,burst,ns_per_pkt,mpps,x_libsrtp2_nss,x_libsrtp2_openssl,cpu,"
			     "cpu_features\n");
	printf("%-16s %-24s %-9s %5s %5s %10s %8s %8s %8s\n", "impl", "suite", "op", "bytes", "burst", "ns/pkt", "Mpps",
	       "x nss", "x ossl");
	/* all implementations of one configuration back to back, baselines
	 * first, so a busy neighbour on a shared machine hits them alike */
	for (unsigned si = 0; si < nsuites; si++)
		for (int op = 0; op < 2; op++)
			for (unsigned zi = 0; zi < NELEM(sizes); zi++)
				for (unsigned bi = 0; bi < NELEM(bursts); bi++) {
					double base[N_BASELINES] = { 0, 0 };

					if ((only_op >= 0 && op != only_op) ||
					    (only_bytes && sizes[zi] != (unsigned)only_bytes) ||
					    (only_burst && bursts[bi] != (unsigned)only_burst))
						continue;
					for (int im = 0; im < IMPL_COUNT; im++) {
						const char *sn = mg_srtp_suite_by_id(suites[si])->sdes_name;
						char xn[16] = "-", xo[16] = "-";
						double ns;

						if (!want[im] || (im >= IMPL_SCALAR_MULTI && bursts[bi] == 1))
							continue;
						ns = run((enum impl)im, eng[im], suites[si], op, sizes[zi], bursts[bi],
							 budget_ms);
						if (im <= IMPL_LIB_OSSL)
							base[im] = ns;
						if (base[0] > 0)
							snprintf(xn, sizeof(xn), "%.1fx", base[0] / ns);
						if (base[1] > 0)
							snprintf(xo, sizeof(xo), "%.1fx", base[1] / ns);
						if (csv)
							fprintf(csv, "%s,\"%s\",%s,%s,%u,%u,%.1f,%.3f,%.2f,%.2f,\"%s\",\"%s\"\n",
								impl_names[im], impl_build[im], sn,
								op ? "unprotect" : "protect", sizes[zi], bursts[bi], ns,
								1e3 / ns, base[0] > 0 ? base[0] / ns : 0,
								base[1] > 0 ? base[1] / ns : 0, cpu_model, cpu_feat);
						printf("%-16s %-24s %-9s %5u %5u %10.1f %8.3f %8s %8s\n", impl_names[im],
						       sn, op ? "unprotect" : "protect", sizes[zi], bursts[bi], ns,
						       1e3 / ns, xn, xo);
						fflush(stdout);
						/* the goal row: 172-byte _80 protect, burst 32 */
						if (im == IMPL_IPSECMB && op == 0 && sizes[zi] == 172 &&
						    bursts[bi] == 32 && suites[si] == MG_SRTP_AES_CM_128_HMAC_SHA1_80) {
							goal_ns = ns;
							goal_ossl = base[1] > 0 ? base[1] / ns : 0;
							goal_ossl_ns = base[1];
						}
					}
				}
	if (goal_ns > 0) {
		int vaes_sha = strstr(cpu_feat, "+vaes") && strstr(cpu_feat, "+sha_ni");

		printf("# goal (issue 14), AES_CM_128_HMAC_SHA1_80 protect 172 B burst 32, ipsec-mb: %.1f ns/pkt "
		       "(goal <= 80 ns with VAES+SHA-NI; this CPU %s them), ",
		       goal_ns, vaes_sha ? "has" : "lacks");
		if (goal_ossl > 0)
			printf("%.1fx libsrtp2-openssl (goal >= 10x)\n", goal_ossl);
		else
			printf("libsrtp2-openssl not measured\n");
#if MG_HAVE_IPSECMB
		parts_table(goal_ns, goal_ossl_ns, budget_ms, csv);
#endif
	}
	mg_srtp_engine_free(eng[IMPL_SCALAR]);
	mg_srtp_engine_free(eng[IMPL_IPSECMB]);
	free(pool);
	free(work);
	if (want[IMPL_LIB_OSSL])
		libs[IMPL_LIB_OSSL].shutdown();
	libs[IMPL_LIB_NSS].shutdown();
	if (csv && fclose(csv) != 0) {
		fprintf(stderr, "srtp-bench: %s: %s\n", csv_path, strerror(errno));
		return 1;
	}
	if (failed)
		fprintf(stderr, "srtp-bench: %u failures: passes of rows with failed packets (above) or part "
				"burst calls that came back short\n",
			failed);
	return failed ? 1 : 0;
}
