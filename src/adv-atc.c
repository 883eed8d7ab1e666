/* SPDX-License-Identifier: Apache-2.0 */
/* adv-atc.c — the custom firmware for Xiaomi LYWSD03MMC, MHO-C401, CGG1 and
 * kin (github.com/atc1441/ATC_MiThermometer, github.com/pvvx/ATC_MiThermometer)
 * on service data 0x181A. The formats differ in length only:
 *   13 bytes  ATC1441: MAC (big-endian), temperature s16 BE × 0.1 °C,
 *             humidity u8 %, battery u8 %, battery u16 BE mV, frame counter
 *   15 bytes  pvvx "custom": MAC (little-endian), temperature s16 × 0.01 °C,
 *             humidity u16 × 0.01 %, battery u16 mV, battery u8 %, counter, flags
 *   11 bytes  pvvx encrypted custom: counter, 6 encrypted bytes (temperature
 *             s16 × 0.01, humidity u16 × 0.01, battery %, flags), 4-byte MIC
 *    8 bytes  ATC1441 encrypted: counter, 3 encrypted bytes (temperature
 *             0.5 °C steps from −40, humidity 0.5 % steps, battery % + flag), MIC
 * The encrypted ones (pvvx issue #94) use AES-CCM with the bindkey, the
 * address (little-endian) and the AD header (size, 0x16, 1A 18, counter) as
 * nonce, and 0x11 as associated data. */
#include "ble-adv.h"
#include "byte-order.h"

#include <string.h>

static gint64
read_be (const guint8 *p, guint size, gboolean is_signed)
{
	guint8 le[8];

	for (guint i = 0; i < size; i++)
		le[i] = p[size - 1 - i];
	return tbg_read_le (le, size, is_signed);
}

static void
counter8 (TbgAdvPacket *out, guint8 c)
{
	out->has_counter = TRUE;
	out->counter = c;
	out->counter_bits = 8;
}

static gboolean
decrypt (const guint8 mac[6], const guint8 *data, gsize len, const guint8 *key, guint8 *plain,
         GError **error)
{
	static const guint8 aad[] = { 0x11 };
	guint8 nonce[11];
	gsize ct_len = len - 1 - 4;

	if (key == NULL) {
		g_set_error (error, TBG_ADV_ERROR, TBG_ADV_ERROR_NEEDS_KEY, "encrypted ATC/pvvx: no bindkey");
		return FALSE;
	}
	for (guint i = 0; i < 6; i++)
		nonce[i] = mac[5 - i];
	nonce[6] = (guint8) (len + 3);   /* the AD structure's size: type, UUID, data */
	nonce[7] = 0x16;
	nonce[8] = 0x1a;
	nonce[9] = 0x18;
	nonce[10] = data[0];
	if (!tbg_adv_ccm_decrypt (key, nonce, sizeof nonce, aad, sizeof aad, data + 1, ct_len,
	                          data + len - 4, 4, plain)) {
		g_set_error (error, TBG_ADV_ERROR, TBG_ADV_ERROR_WRONG_KEY, "cannot decrypt: wrong bindkey?");
		return FALSE;
	}
	return TRUE;
}

gboolean
tbg_adv_atc_decode (const guint8 mac[6], const guint8 *data, gsize len, const guint8 *key,
                    TbgAdvPacket *out, GError **error)
{
	guint8 plain[6];

	memset (out, 0, sizeof *out);
	switch (len) {
	case 13:
		tbg_adv_set (out, "temperature", tbg_adv_number (read_be (data + 6, 2, TRUE), 1));
		tbg_adv_set (out, "humidity", json_integer (data[8]));
		tbg_adv_set (out, "battery", json_integer (data[9]));
		tbg_adv_set (out, "voltage", tbg_adv_number (read_be (data + 10, 2, FALSE), 3));
		counter8 (out, data[12]);
		return TRUE;
	case 15:
		tbg_adv_set (out, "temperature", tbg_adv_number (tbg_read_le (data + 6, 2, TRUE), 2));
		tbg_adv_set (out, "humidity", tbg_adv_number (tbg_read_le (data + 8, 2, FALSE), 2));
		tbg_adv_set (out, "voltage", tbg_adv_number (tbg_read_le (data + 10, 2, FALSE), 3));
		tbg_adv_set (out, "battery", json_integer (data[12]));
		counter8 (out, data[13]);
		return TRUE;
	case 11:
		if (!decrypt (mac, data, len, key, plain, error))
			return FALSE;
		tbg_adv_set (out, "temperature", tbg_adv_number (tbg_read_le (plain, 2, TRUE), 2));
		tbg_adv_set (out, "humidity", tbg_adv_number (tbg_read_le (plain + 2, 2, FALSE), 2));
		tbg_adv_set (out, "battery", json_integer (plain[4]));
		break;
	case 8:
		if (!decrypt (mac, data, len, key, plain, error))
			return FALSE;
		tbg_adv_set (out, "temperature", tbg_adv_number ((gint64) plain[0] * 5 - 400, 1));
		tbg_adv_set (out, "humidity", tbg_adv_number ((gint64) plain[1] * 5, 1));
		tbg_adv_set (out, "battery", json_integer (plain[2] & 0x7f));
		break;
	default:
		g_set_error (error, TBG_ADV_ERROR, TBG_ADV_ERROR_INVALID,
		             "0x181A service data of %" G_GSIZE_FORMAT " bytes is no ATC1441 or pvvx format", len);
		return FALSE;
	}
	counter8 (out, data[0]);
	out->encrypted = TRUE;
	return TRUE;
}
