/* SPDX-License-Identifier: Apache-2.0 */
/* adv-switchbot.c — SwitchBot Meter and Meter Plus service data (UUID
 * 0x0D00, newer firmware 0xFD3D), per SwitchBot's BLE API
 * (OpenWonderLabs/SwitchBotAPI-BLE, "Meter"):
 *   0 device type & 0x7F: 'T' Meter, 'i' Meter Plus
 *   1 status, 2 battery & 0x7F %,
 *   3 temperature decimal (low 4 bits, tenths), 4 bit 7 above zero,
 *     bits 0–6 whole degrees, 5 bit 7 °F display, bits 0–6 humidity %. */
#include "ble-adv.h"

#include <string.h>

gboolean
tbg_adv_switchbot_decode (const guint8 *data, gsize len, TbgAdvPacket *out, GError **error)
{
	gint64 tenths;

	memset (out, 0, sizeof *out);
	if (len < 6 || ((data[0] & 0x7f) != 'T' && (data[0] & 0x7f) != 'i') || (data[3] & 0x0f) > 9) {
		g_set_error (error, TBG_ADV_ERROR, TBG_ADV_ERROR_INVALID, "not a SwitchBot Meter");
		return FALSE;
	}
	tenths = (data[4] & 0x7f) * 10 + (data[3] & 0x0f);
	tbg_adv_set (out, "temperature", tbg_adv_number ((data[4] & 0x80) ? tenths : -tenths, 1));
	if ((data[5] & 0x7f) <= 100)
		tbg_adv_set (out, "humidity", json_integer (data[5] & 0x7f));
	if ((data[2] & 0x7f) <= 100)
		tbg_adv_set (out, "battery", json_integer (data[2] & 0x7f));
	return TRUE;
}
