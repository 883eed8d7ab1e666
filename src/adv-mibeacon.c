/* SPDX-License-Identifier: Apache-2.0 */
/* adv-mibeacon.c — Xiaomi MiBeacon on service data 0xFE95, as documented in
 * Xiaomi's "Mi Beacon" BLE object definition (mirrored in
 * pvvx/ATC_MiThermometer InfoMijiaBLE):
 *   frame control u16 (bit 3 encrypted, 4 MAC, 5 capability, 6 objects,
 *   bits 12–15 version), product id u16, frame counter u8, [MAC 6, LE],
 *   [capability u8 (+ 2 bytes I/O capability when its bit 5 is set)],
 *   objects: id u16, length u8, value.
 * v4/v5 encryption: objects, then a 3-byte extended counter and a 4-byte MIC;
 * AES-CCM nonce = MAC (LE) + product id + frame counter + extended counter,
 * associated data 0x11. The v2/v3 encryption (12-byte legacy keys) is not
 * decoded. */
#include "ble-adv.h"
#include "byte-order.h"

#include <math.h>
#include <string.h>

static void
object (TbgAdvPacket *out, guint16 id, const guint8 *v, guint len)
{
	switch (id) {
	case 0x1004:   /* temperature s16 × 0.1 °C */
		if (len >= 2)
			tbg_adv_set (out, "temperature", tbg_adv_number (tbg_read_le (v, 2, TRUE), 1));
		break;
	case 0x1006:   /* humidity u16 × 0.1 % */
		if (len >= 2)
			tbg_adv_set (out, "humidity", tbg_adv_number (tbg_read_le (v, 2, FALSE), 1));
		break;
	case 0x100D:   /* temperature and humidity */
		if (len >= 4) {
			tbg_adv_set (out, "temperature", tbg_adv_number (tbg_read_le (v, 2, TRUE), 1));
			tbg_adv_set (out, "humidity", tbg_adv_number (tbg_read_le (v + 2, 2, FALSE), 1));
		}
		break;
	case 0x100A:   /* battery u8 % */
	case 0x4803:
		if (len >= 1)
			tbg_adv_set (out, "battery", json_integer (v[0]));
		break;
	case 0x1007:   /* illuminance u24 lux */
		if (len >= 3)
			tbg_adv_set (out, "illuminance", json_integer (tbg_read_le (v, 3, FALSE)));
		break;
	case 0x1008:   /* moisture u8 % */
		if (len >= 1)
			tbg_adv_set (out, "moisture", json_integer (v[0]));
		break;
	case 0x1009:   /* conductivity u16 µS/cm */
		if (len >= 2)
			tbg_adv_set (out, "conductivity", json_integer (tbg_read_le (v, 2, FALSE)));
		break;
	case 0x000F:   /* someone moves, with the illuminance u24 */
		tbg_adv_set (out, "motion", json_true ());
		if (len >= 3)
			tbg_adv_set (out, "illuminance", json_integer (tbg_read_le (v, 3, FALSE)));
		break;
	case 0x1017:   /* seconds without motion */
		tbg_adv_set (out, "motion", json_false ());
		break;
	case 0x1019:   /* door: 0 open, 1 closed, 2 not closed in time */
		if (len >= 1 && v[0] <= 2)
			tbg_adv_set (out, "door", json_boolean (v[0] != 1));
		break;
	case 0x4C01: { /* temperature float32 °C (MJWSD05MMC and newer) */
		float f;
		guint32 u;

		if (len >= 4) {
			u = (guint32) tbg_read_le (v, 4, FALSE);
			memcpy (&f, &u, sizeof f);
			if (isfinite (f) && f > -100 && f < 200)
				tbg_adv_set (out, "temperature", json_real (round ((double) f * 100) / 100));
		}
		break;
	}
	case 0x4C02:   /* humidity u8 % */
		if (len >= 1 && v[0] <= 100)
			tbg_adv_set (out, "humidity", json_integer (v[0]));
		break;
	default:
		break;
	}
}

gboolean
tbg_adv_mibeacon_decode (const guint8 mac[6], const guint8 *data, gsize len, const guint8 *key,
                         TbgAdvPacket *out, GError **error)
{
	static const guint8 aad[] = { 0x11 };
	guint8 plain[64];
	guint8 nonce[12];
	const guint8 *objs;
	gsize pos = 5, objs_len;
	guint16 fc;
	guint version;

	memset (out, 0, sizeof *out);
	if (len < 5)
		goto invalid;
	fc = (guint16) tbg_read_le (data, 2, FALSE);
	version = fc >> 12;
	if (fc & 0x0010) {
		if (pos + 6 > len)
			goto invalid;
		for (guint i = 0; i < 6; i++)
			nonce[i] = data[pos + i];
		pos += 6;
	} else {
		for (guint i = 0; i < 6; i++)
			nonce[i] = mac[5 - i];
	}
	if (fc & 0x0020) {
		if (pos + 1 > len)
			goto invalid;
		pos += (data[pos] & 0x20) ? 3 : 1;
	}
	if (!(fc & 0x0040) || pos >= len) {
		g_set_error (error, TBG_ADV_ERROR, TBG_ADV_ERROR_INVALID, "MiBeacon without objects");
		return FALSE;
	}
	objs = data + pos;
	objs_len = len - pos;
	if (fc & 0x0008) {
		if (version < 4) {
			g_set_error (error, TBG_ADV_ERROR, TBG_ADV_ERROR_UNSUPPORTED,
			             "MiBeacon v%u encryption is not supported (v4 and v5 are)", version);
			return FALSE;
		}
		if (objs_len < 1 + 3 + 4 || objs_len - 7 > sizeof plain)
			goto invalid;
		if (key == NULL) {
			g_set_error (error, TBG_ADV_ERROR, TBG_ADV_ERROR_NEEDS_KEY, "encrypted MiBeacon: no bindkey");
			return FALSE;
		}
		objs_len -= 7;
		memcpy (nonce + 6, data + 2, 3);            /* product id, frame counter */
		memcpy (nonce + 9, objs + objs_len, 3);     /* extended counter */
		if (!tbg_adv_ccm_decrypt (key, nonce, sizeof nonce, aad, sizeof aad, objs, objs_len,
		                          objs + objs_len + 3, 4, plain)) {
			g_set_error (error, TBG_ADV_ERROR, TBG_ADV_ERROR_WRONG_KEY, "cannot decrypt: wrong bindkey?");
			return FALSE;
		}
		objs = plain;
		out->encrypted = TRUE;
		out->counter = data[4] | (guint32) tbg_read_le (nonce + 9, 3, FALSE) << 8;
		out->counter_bits = 32;
	} else {
		out->counter = data[4];
		out->counter_bits = 8;
	}
	out->has_counter = TRUE;
	for (gsize o = 0; o + 3 <= objs_len;) {
		guint16 id = (guint16) tbg_read_le (objs + o, 2, FALSE);
		guint olen = objs[o + 2];

		if (o + 3 + olen > objs_len)
			break;
		object (out, id, objs + o + 3, olen);
		o += 3 + olen;
	}
	return tbg_adv_fail_empty (out, "MiBeacon", error);

invalid:
	g_set_error (error, TBG_ADV_ERROR, TBG_ADV_ERROR_INVALID, "MiBeacon frame of %" G_GSIZE_FORMAT " bytes is malformed", len);
	return FALSE;
}
