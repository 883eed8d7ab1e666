/* SPDX-License-Identifier: Apache-2.0 */
/* adv-beacon.c — beacons as presence.
 * iBeacon (Apple, manufacturer 0x004C): 02 15, proximity UUID (16),
 *   major u16 BE, minor u16 BE, measured power s8.
 * Eddystone (service data 0xFEAA, github.com/google/eddystone):
 *   0x00 UID: TX power s8, namespace (10), instance (6)
 *   0x10 URL: TX power s8, scheme, encoded URL
 *   0x20 TLM: version 0, battery u16 BE mV (0: none), temperature s8.8 BE °C
 *        (0x8000: none), advertisement count u32, seconds since boot × 10
 * Every valid frame reports present=true; rssi comes from the scan. */
#include "ble-adv.h"

#include <string.h>

gboolean
tbg_adv_ibeacon_decode (const guint8 *data, gsize len, TbgAdvPacket *out, GError **error)
{
	memset (out, 0, sizeof *out);
	if (len != 23 || data[0] != 0x02 || data[1] != 0x15) {
		g_set_error (error, TBG_ADV_ERROR, TBG_ADV_ERROR_INVALID, "not an iBeacon");
		return FALSE;
	}
	tbg_adv_set (out, "present", json_true ());
	tbg_adv_set (out, "tx_power", json_integer ((gint8) data[22]));
	return TRUE;
}

gboolean
tbg_adv_eddystone_decode (const guint8 *data, gsize len, TbgAdvPacket *out, GError **error)
{
	memset (out, 0, sizeof *out);
	if (len >= 18 && data[0] == 0x00) {
		tbg_adv_set (out, "tx_power", json_integer ((gint8) data[1]));
	} else if (len >= 3 && len <= 20 && data[0] == 0x10 && data[2] <= 3) {
		tbg_adv_set (out, "tx_power", json_integer ((gint8) data[1]));
	} else if (len == 14 && data[0] == 0x20 && data[1] == 0x00) {
		guint mv = (guint) data[2] << 8 | data[3];
		gint16 t = (gint16) ((guint) data[4] << 8 | data[5]);

		if (mv != 0)
			tbg_adv_set (out, "voltage", tbg_adv_number (mv, 3));
		if ((guint16) t != 0x8000)   /* 8.8 fixed point: 1/256 °C */
			tbg_adv_set (out, "temperature", json_real (t / 256.0));
	} else {
		g_set_error (error, TBG_ADV_ERROR, TBG_ADV_ERROR_INVALID, "not an Eddystone UID, URL or TLM frame");
		return FALSE;
	}
	tbg_adv_set (out, "present", json_true ());
	return TRUE;
}
