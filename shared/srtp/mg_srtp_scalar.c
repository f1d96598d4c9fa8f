/* SPDX-License-Identifier: BSD-3-Clause */
/* Scalar backend on OpenSSL libcrypto, one packet at a time. AES runs
 * through an EVP context keyed once per session key (only the IV changes per
 * packet); HMAC-SHA1 starts from SHA-1 states precomputed over the
 * key^ipad / key^opad blocks, so a packet costs two SHA-1 passes and no
 * HMAC setup. The low-level SHA1_* calls are deprecated in OpenSSL 3 but
 * are the only allocation-free way to copy a keyed state;
 * OPENSSL_SUPPRESS_DEPRECATED (mg_srtp_internal.h) keeps -Werror quiet. */
#include "mg_srtp_internal.h"

#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>

int mg_srtp_scalar_keys_init(struct mg_srtp_dkeys *dk, int aead, int encrypt)
{
	uint8_t pad[64];

	dk->evp = EVP_CIPHER_CTX_new();
	if (!dk->evp)
		return -ENOMEM;
	if (aead) {
		if (EVP_CipherInit_ex(dk->evp, EVP_aes_128_gcm(), NULL, dk->ekey, NULL, encrypt) != 1)
			return -EIO;
	} else {
		/* CTR is its own inverse: one encrypting context serves both ways. */
		if (EVP_EncryptInit_ex(dk->evp, EVP_aes_128_ctr(), NULL, dk->ekey, NULL) != 1)
			return -EIO;
	}
	memset(pad, 0x36, sizeof(pad));
	for (int i = 0; i < 20; i++)
		pad[i] ^= dk->akey[i];
	SHA1_Init(&dk->ipad);
	SHA1_Update(&dk->ipad, pad, sizeof(pad));
	memset(pad, 0x5c, sizeof(pad));
	for (int i = 0; i < 20; i++)
		pad[i] ^= dk->akey[i];
	SHA1_Init(&dk->opad);
	SHA1_Update(&dk->opad, pad, sizeof(pad));
	OPENSSL_cleanse(pad, sizeof(pad));
	return 0;
}

void mg_srtp_scalar_keys_fini(struct mg_srtp_dkeys *dk)
{
	EVP_CIPHER_CTX_free(dk->evp);
	dk->evp = NULL;
}

static void hmac_sha1(const struct mg_srtp_dkeys *dk, const uint8_t *p, size_t len, const uint8_t *roc,
		      uint8_t out[20])
{
	SHA_CTX x = dk->ipad;

	SHA1_Update(&x, p, len);
	if (roc)
		SHA1_Update(&x, roc, 4);
	SHA1_Final(out, &x);
	x = dk->opad;
	SHA1_Update(&x, out, 20);
	SHA1_Final(out, &x);
}

static int ctr_xor(const struct mg_srtp_dkeys *dk, const uint8_t *iv, uint8_t *p, int len)
{
	int outl = 0;

	if (!len)
		return 0;
	if (EVP_EncryptInit_ex(dk->evp, NULL, NULL, NULL, iv) != 1 ||
	    EVP_EncryptUpdate(dk->evp, p, &outl, p, len) != 1 || outl != len)
		return -EIO;
	return 0;
}

static int gcm_run(const struct mg_srtp_dkeys *dk, struct mg_srtp_op *op, int rtcp, int protect)
{
	EVP_CIPHER_CTX *x = dk->evp;
	const uint8_t *aad = rtcp ? op->aad : op->buf;
	int aad_len = rtcp ? 12 : op->enc_off;
	uint8_t *p = op->buf + op->enc_off;
	int outl = 0, fl = 0;

	if (EVP_CipherInit_ex(x, NULL, NULL, NULL, op->iv, -1) != 1)
		return -EIO;
	if (EVP_CipherUpdate(x, NULL, &outl, aad, aad_len) != 1)
		return -EIO;
	if (op->enc_len && (EVP_CipherUpdate(x, p, &outl, p, op->enc_len) != 1 || outl != op->enc_len))
		return -EIO;
	if (protect) {
		if (EVP_CipherFinal_ex(x, p + op->enc_len, &fl) != 1 ||
		    EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_GET_TAG, 16, op->buf + op->tag_off) != 1)
			return -EIO;
		return 0;
	}
	if (EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_SET_TAG, 16, op->buf + op->tag_off) != 1)
		return -EIO;
	return EVP_CipherFinal_ex(x, p + op->enc_len, &fl) == 1 ? 0 : -EBADMSG;
}

void mg_srtp_scalar_run(struct mg_srtp_engine *e, struct mg_srtp_op *ops, unsigned n, int rtcp, int protect)
{
	(void)e;
	for (unsigned k = 0; k < n; k++) {
		struct mg_srtp_op *op = &ops[k];
		const struct mg_srtp_dkeys *dk = op->dk;
		const unsigned tag = op->tag;
		uint8_t roc[4], d[20];

		if (k + 1 < n)
			__builtin_prefetch(ops[k + 1].buf);
		if (op->aead) {
			op->ok = gcm_run(dk, op, rtcp, protect) == 0;
			continue;
		}
		roc[0] = (uint8_t)(op->roc >> 24);
		roc[1] = (uint8_t)(op->roc >> 16);
		roc[2] = (uint8_t)(op->roc >> 8);
		roc[3] = (uint8_t)op->roc;
		if (protect) {
			op->ok = ctr_xor(dk, op->iv, op->buf + op->enc_off, op->enc_len) == 0;
			hmac_sha1(dk, op->buf, op->auth_len, rtcp ? NULL : roc, d);
			memcpy(op->buf + op->tag_off, d, tag);
		} else {
			hmac_sha1(dk, op->buf, op->auth_len, rtcp ? NULL : roc, d);
			op->ok = CRYPTO_memcmp(d, op->buf + op->tag_off, tag) == 0;
			if (op->ok)
				op->ok = ctr_xor(dk, op->iv, op->buf + op->enc_off, op->enc_len) == 0;
		}
	}
}
