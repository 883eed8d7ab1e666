/* SPDX-License-Identifier: Apache-2.0 */
/* ble-adv-crypto.c — AES-128-CCM for encrypted advertisements (BTHome,
 * MiBeacon v4/v5, pvvx), through libcrypto: it is already in the process
 * with libmosquitto, and a cipher is not something to write again. */
#include "ble-adv.h"

#include <openssl/evp.h>

static EVP_CIPHER_CTX *
ccm_context (gboolean encrypt, const guint8 *key, const guint8 *nonce, gsize nonce_len,
             const guint8 *tag, gsize tag_len)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new ();
	int (*init) (EVP_CIPHER_CTX *, const EVP_CIPHER *, ENGINE *, const unsigned char *,
	             const unsigned char *) = encrypt ? EVP_EncryptInit_ex : EVP_DecryptInit_ex;

	if (ctx == NULL)
		return NULL;
	/* CCM takes nonces of 7 to 13 bytes and tags of 4 to 16, even sizes */
	if (init (ctx, EVP_aes_128_ccm (), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl (ctx, EVP_CTRL_CCM_SET_IVLEN, (int) nonce_len, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl (ctx, EVP_CTRL_CCM_SET_TAG, (int) tag_len, (void *) tag) != 1 ||
	    init (ctx, NULL, NULL, key, nonce) != 1) {
		EVP_CIPHER_CTX_free (ctx);
		return NULL;
	}
	return ctx;
}

gboolean
tbg_adv_ccm_decrypt (const guint8 key[TBG_ADV_KEY_LEN], const guint8 *nonce, gsize nonce_len,
                     const guint8 *aad, gsize aad_len, const guint8 *ct, gsize ct_len,
                     const guint8 *tag, gsize tag_len, guint8 *out)
{
	EVP_CIPHER_CTX *ctx;
	int n;
	gboolean ok;

	if (nonce_len < 7 || nonce_len > 13 || tag_len < 4 || tag_len > 16 || ct_len == 0 || ct_len > 64)
		return FALSE;
	ctx = ccm_context (FALSE, key, nonce, nonce_len, tag, tag_len);
	if (ctx == NULL)
		return FALSE;
	/* CCM needs the length before any associated data */
	ok = EVP_DecryptUpdate (ctx, NULL, &n, NULL, (int) ct_len) == 1 &&
	     (aad_len == 0 || EVP_DecryptUpdate (ctx, NULL, &n, aad, (int) aad_len) == 1) &&
	     EVP_DecryptUpdate (ctx, out, &n, ct, (int) ct_len) == 1;
	EVP_CIPHER_CTX_free (ctx);
	return ok;
}

gboolean
tbg_adv_ccm_encrypt (const guint8 key[TBG_ADV_KEY_LEN], const guint8 *nonce, gsize nonce_len,
                     const guint8 *aad, gsize aad_len, const guint8 *pt, gsize pt_len,
                     guint8 *out, guint8 *tag, gsize tag_len)
{
	EVP_CIPHER_CTX *ctx;
	int n;
	gboolean ok;

	if (nonce_len < 7 || nonce_len > 13 || tag_len < 4 || tag_len > 16 || pt_len == 0)
		return FALSE;
	ctx = ccm_context (TRUE, key, nonce, nonce_len, NULL, tag_len);
	if (ctx == NULL)
		return FALSE;
	ok = EVP_EncryptUpdate (ctx, NULL, &n, NULL, (int) pt_len) == 1 &&
	     (aad_len == 0 || EVP_EncryptUpdate (ctx, NULL, &n, aad, (int) aad_len) == 1) &&
	     EVP_EncryptUpdate (ctx, out, &n, pt, (int) pt_len) == 1 &&
	     EVP_EncryptFinal_ex (ctx, out + n, &n) == 1 &&
	     EVP_CIPHER_CTX_ctrl (ctx, EVP_CTRL_CCM_GET_TAG, (int) tag_len, tag) == 1;
	EVP_CIPHER_CTX_free (ctx);
	return ok;
}
