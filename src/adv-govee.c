/* SPDX-License-Identifier: Apache-2.0 */
/* adv-govee.c — Govee thermo-hygrometers in manufacturer data, as the
 * open decoders of them document (Theengs Decoder, Home Assistant's
 * govee-ble):
 *   0xEC88, 6 bytes (H5072, H5075): 00, packed u24 BE, battery %, 00
 *   0xEC88, 7 bytes (H5074): 00, temperature s16 LE × 0.01 °C, humidity u16
 *                            LE × 0.01 %, battery %, 02
 *   0x0001, 6 bytes (H5101, H5102, H5177, H5174): 01 01, packed u24 BE, battery %
 * "Packed" is temperature × 10000 + humidity × 10 in thousandths; bit 23
 * set means a negative temperature. H5179 and the meat thermometers use
 * other layouts and are not decoded. */
#include "ble-adv.h"
#include "byte-order.h"

#include <string.h>

static void
packed (TbgAdvPacket *out, const guint8 *p, guint8 battery)
{
	guint32 v = (guint32) p[0] << 16 | (guint32) p[1] << 8 | p[2];
	gboolean negative = (v & 0x800000) != 0;
	gint64 t;

	v &= 0x7fffff;
	t = v / 1000;   /* tenths of a degree */
	tbg_adv_set (out, "temperature", tbg_adv_number (negative ? -t : t, 1));
	tbg_adv_set (out, "humidity", tbg_adv_number (v % 1000, 1));
	if (battery <= 100)
		tbg_adv_set (out, "battery", json_integer (battery));
}

gboolean
tbg_adv_govee_decode (guint16 company, const guint8 *data, gsize len, TbgAdvPacket *out, GError **error)
{
	memset (out, 0, sizeof *out);
	if (company == 0xEC88 && len == 6 && data[0] == 0x00) {
		packed (out, data + 1, data[4]);
	} else if (company == 0xEC88 && len == 7 && data[0] == 0x00) {
		tbg_adv_set (out, "temperature", tbg_adv_number (tbg_read_le (data + 1, 2, TRUE), 2));
		tbg_adv_set (out, "humidity", tbg_adv_number (tbg_read_le (data + 3, 2, FALSE), 2));
		if (data[5] <= 100)
			tbg_adv_set (out, "battery", json_integer (data[5]));
	} else if (company == 0x0001 && len == 6 && data[0] == 0x01 && data[1] == 0x01) {
		packed (out, data + 2, data[5]);
	} else {
		g_set_error (error, TBG_ADV_ERROR, TBG_ADV_ERROR_INVALID,
		             "manufacturer 0x%04X data of %" G_GSIZE_FORMAT " bytes is no Govee format", company, len);
		return FALSE;
	}
	return TRUE;
}
