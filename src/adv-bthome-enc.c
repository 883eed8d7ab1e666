/* SPDX-License-Identifier: Apache-2.0 */
/* adv-bthome-enc.c — BTHome beyond what bthome.c decodes: v2 encrypted
 * (bthome.io/encryption) and v1 (the legacy format with a length and type in
 * every object, plain on 0x181C and encrypted on 0x181E). Decrypted or
 * rewritten, the objects go through tbg_bthome_decode(), so one table sizes
 * and scales them. */
#include "ble-adv.h"
#include "bthome.h"
#include "byte-order.h"

#include <string.h>

#define MIC_LEN 4
#define COUNTER_LEN 4

static gboolean
from_bthome (const guint8 *v2, gsize len, TbgAdvPacket *out, GError **error)
{
	TbgBthomePacket p;
	g_autoptr (GError) local = NULL;

	if (!tbg_bthome_decode (v2, len, &p, &local)) {
		g_set_error (error, TBG_ADV_ERROR, TBG_ADV_ERROR_INVALID, "%s", local->message);
		return FALSE;
	}
	out->values = g_steal_pointer (&p.values);
	if (p.has_packet_id) {
		out->has_counter = TRUE;
		out->counter = p.packet_id;
		out->counter_bits = 8;
	}
	tbg_bthome_packet_clear (&p);
	return tbg_adv_fail_empty (out, "BTHome", error);
}

static gboolean
decrypt (const guint8 *key, const guint8 *nonce, gsize nonce_len, const guint8 *aad, gsize aad_len,
         const guint8 *ct, gsize ct_len, const guint8 *mic, guint8 *plain, GError **error)
{
	if (key == NULL) {
		g_set_error (error, TBG_ADV_ERROR, TBG_ADV_ERROR_NEEDS_KEY, "encrypted BTHome: no bindkey");
		return FALSE;
	}
	if (!tbg_adv_ccm_decrypt (key, nonce, nonce_len, aad, aad_len, ct, ct_len, mic, MIC_LEN, plain)) {
		g_set_error (error, TBG_ADV_ERROR, TBG_ADV_ERROR_WRONG_KEY, "cannot decrypt: wrong bindkey?");
		return FALSE;
	}
	return TRUE;
}

gboolean
tbg_adv_bthome_decode (const guint8 mac[6], const guint8 *data, gsize len, const guint8 *key,
                       TbgAdvPacket *out, GError **error)
{
	guint8 nonce[13];
	guint8 plain[64];
	gsize ct_len;

	memset (out, 0, sizeof *out);
	if (len < 1 || (data[0] & 0x01) == 0)
		return from_bthome (data, len, out, error);
	if ((data[0] >> 5) != 2 || len < 1 + 1 + COUNTER_LEN + MIC_LEN || len - 9 > sizeof plain - 1) {
		g_set_error (error, TBG_ADV_ERROR, TBG_ADV_ERROR_INVALID,
		             "encrypted BTHome: %" G_GSIZE_FORMAT " bytes or version %u", len, data[0] >> 5);
		return FALSE;
	}
	/* nonce: address, UUID as sent (D2 FC), device information, counter as sent */
	ct_len = len - 1 - COUNTER_LEN - MIC_LEN;
	memcpy (nonce, mac, 6);
	nonce[6] = 0xd2;
	nonce[7] = 0xfc;
	nonce[8] = data[0];
	memcpy (nonce + 9, data + len - MIC_LEN - COUNTER_LEN, COUNTER_LEN);
	if (!decrypt (key, nonce, sizeof nonce, NULL, 0, data + 1, ct_len, data + len - MIC_LEN, plain + 1, error))
		return FALSE;
	plain[0] = data[0] & ~0x01;
	if (!from_bthome (plain, ct_len + 1, out, error))
		return FALSE;
	/* the authenticated counter replaces the packet id: it never wraps within a life */
	out->has_counter = TRUE;
	out->counter = (guint32) tbg_read_le (nonce + 9, COUNTER_LEN, FALSE);
	out->counter_bits = 32;
	out->encrypted = TRUE;
	return TRUE;
}

/* v1 objects carry (format << 5 | length) before the id; v2 sizes them by
 * id. Each object is checked alone against the v2 table: one whose length
 * disagrees with it is skipped rather than misread. */
static gboolean
v1_objects (const guint8 *data, gsize len, TbgAdvPacket *out, GError **error)
{
	gsize pos = 0;

	while (pos < len) {
		guint obj_len = data[pos] & 0x1f;   /* id + value */
		guint8 v2[1 + 32];
		TbgBthomePacket p;

		if (obj_len < 2 || pos + 1 + obj_len > len) {
			tbg_adv_packet_clear (out);
			g_set_error (error, TBG_ADV_ERROR, TBG_ADV_ERROR_INVALID,
			             "BTHome v1: object at byte %" G_GSIZE_FORMAT " runs past the end", pos);
			return FALSE;
		}
		if (data[pos + 1] == 0x00 && obj_len == 2) {
			out->has_counter = TRUE;
			out->counter = data[pos + 2];
			out->counter_bits = 8;
		} else {
			v2[0] = 0x40;
			memcpy (v2 + 1, data + pos + 1, obj_len);
			if (tbg_bthome_decode (v2, 1 + obj_len, &p, NULL)) {
				const char *k;
				json_t *v;

				if (p.unknown_object_id == 0 && !p.has_packet_id && json_object_size (p.values) == 1)
					json_object_foreach (p.values, k, v)
						tbg_adv_set (out, k, json_incref (v));
				tbg_bthome_packet_clear (&p);
			}
		}
		pos += 1 + obj_len;
	}
	return tbg_adv_fail_empty (out, "BTHome v1", error);
}

gboolean
tbg_adv_bthome_v1_decode (const guint8 mac[6], guint16 uuid, const guint8 *data, gsize len,
                          const guint8 *key, TbgAdvPacket *out, GError **error)
{
	static const guint8 aad[] = { 0x11 };
	guint8 nonce[12];
	guint8 plain[64];
	gsize ct_len;

	memset (out, 0, sizeof *out);
	if (uuid == 0x181C)
		return v1_objects (data, len, out, error);
	if (uuid != 0x181E || len < 1 + COUNTER_LEN + MIC_LEN || len - 8 > sizeof plain) {
		g_set_error (error, TBG_ADV_ERROR, TBG_ADV_ERROR_INVALID, "not BTHome v1");
		return FALSE;
	}
	/* nonce: address, UUID as sent (1E 18), counter; a 0x11 header as associated data */
	ct_len = len - COUNTER_LEN - MIC_LEN;
	memcpy (nonce, mac, 6);
	nonce[6] = 0x1e;
	nonce[7] = 0x18;
	memcpy (nonce + 8, data + ct_len, COUNTER_LEN);
	if (!decrypt (key, nonce, sizeof nonce, aad, sizeof aad, data, ct_len, data + len - MIC_LEN, plain, error))
		return FALSE;
	if (!v1_objects (plain, ct_len, out, error))
		return FALSE;
	out->has_counter = TRUE;
	out->counter = (guint32) tbg_read_le (nonce + 8, COUNTER_LEN, FALSE);
	out->counter_bits = 32;
	out->encrypted = TRUE;
	return TRUE;
}
