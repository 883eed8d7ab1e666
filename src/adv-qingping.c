/* SPDX-License-Identifier: Apache-2.0 */
/* adv-qingping.c — Qingping (Cleargrass) sensors, service data 0xFDCD, as
 * the open decoders of them document: frame control, device type, the MAC
 * (6 bytes, little-endian), then objects: id u8, length u8, value:
 *   0x01 temperature s16 × 0.1 °C + humidity u16 × 0.1 %   0x02 battery %
 *   0x07 pressure u16 × 0.1 hPa      0x09 illuminance u32 lux
 *   0x12 PM2.5 u16 + PM10 u16 µg/m³  0x13 CO₂ u16 ppm
 * Unknown objects are skipped by their length. */
#include "ble-adv.h"
#include "byte-order.h"

#include <string.h>

gboolean
tbg_adv_qingping_decode (const guint8 *data, gsize len, TbgAdvPacket *out, GError **error)
{
	memset (out, 0, sizeof *out);
	if (len < 8) {
		g_set_error (error, TBG_ADV_ERROR, TBG_ADV_ERROR_INVALID, "Qingping frame of %" G_GSIZE_FORMAT " bytes", len);
		return FALSE;
	}
	for (gsize pos = 8; pos + 2 <= len;) {
		const guint8 *v = data + pos + 2;
		guint vlen = data[pos + 1];

		if (pos + 2 + vlen > len)
			break;
		switch (data[pos]) {
		case 0x01:
			if (vlen == 4) {
				tbg_adv_set (out, "temperature", tbg_adv_number (tbg_read_le (v, 2, TRUE), 1));
				tbg_adv_set (out, "humidity", tbg_adv_number (tbg_read_le (v + 2, 2, FALSE), 1));
			}
			break;
		case 0x02:
			if (vlen == 1 && v[0] <= 100)
				tbg_adv_set (out, "battery", json_integer (v[0]));
			break;
		case 0x07:
			if (vlen == 2)
				tbg_adv_set (out, "pressure", tbg_adv_number (tbg_read_le (v, 2, FALSE), 1));
			break;
		case 0x09:
			if (vlen == 4)
				tbg_adv_set (out, "illuminance", json_integer (tbg_read_le (v, 4, FALSE)));
			break;
		case 0x12:
			if (vlen == 4) {
				tbg_adv_set (out, "pm2_5", json_integer (tbg_read_le (v, 2, FALSE)));
				tbg_adv_set (out, "pm10", json_integer (tbg_read_le (v + 2, 2, FALSE)));
			}
			break;
		case 0x13:
			if (vlen == 2)
				tbg_adv_set (out, "co2", json_integer (tbg_read_le (v, 2, FALSE)));
			break;
		default:
			break;
		}
		pos += 2 + vlen;
	}
	return tbg_adv_fail_empty (out, "Qingping", error);
}
