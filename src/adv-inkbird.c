/* SPDX-License-Identifier: Apache-2.0 */
/* adv-inkbird.c — Inkbird IBS-TH1 / IBS-TH2 (local name "sps"; "tps" for
 * the models without humidity). Their manufacturer data has no company id:
 * the first two bytes, which BlueZ takes for one, are the temperature.
 *   "company" temperature s16 LE × 0.01 °C, then humidity u16 LE × 0.01 %,
 *   probe (0 internal, 1 external), CRC-16 (2), battery %, reserved.
 * Without the name the bytes could be anyone's, so the name is required. */
#include "ble-adv.h"
#include "byte-order.h"

#include <string.h>

gboolean
tbg_adv_inkbird_decode (const char *name, guint16 company, const guint8 *data, gsize len,
                        TbgAdvPacket *out, GError **error)
{
	gboolean humid;

	memset (out, 0, sizeof *out);
	if (name == NULL || (strcmp (name, "sps") != 0 && strcmp (name, "tps") != 0) || len != 7) {
		g_set_error (error, TBG_ADV_ERROR, TBG_ADV_ERROR_INVALID, "not an Inkbird IBS-TH");
		return FALSE;
	}
	humid = name[0] == 's';
	tbg_adv_set (out, "temperature", tbg_adv_number ((gint16) company, 2));
	if (humid)
		tbg_adv_set (out, "humidity", tbg_adv_number (tbg_read_le (data, 2, FALSE), 2));
	if (data[5] <= 100)
		tbg_adv_set (out, "battery", json_integer (data[5]));
	tbg_adv_set (out, "external_probe", json_boolean (data[2] == 1));
	return TRUE;
}
