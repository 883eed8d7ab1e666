/* SPDX-License-Identifier: Apache-2.0 */
/* adv-ruuvi.c — RuuviTag data format 5 (RAWv2) in manufacturer data 0x0499,
 * per docs.ruuvi.com: 24 bytes, big-endian:
 *   0 format (5), 1 temperature s16 × 0.005 °C, 3 humidity u16 × 0.0025 %,
 *   5 pressure u16 + 50000 Pa, 7/9/11 acceleration s16 mG, 13 power u16
 *   (11 bits battery mV above 1600, 5 bits TX power), 15 movement counter
 *   u8, 16 measurement sequence u16, 18 MAC.
 * Each field's "not available" value (0x8000, 0xFFFF, …) is left out. */
#include "ble-adv.h"

#include <math.h>
#include <string.h>

static guint
be16 (const guint8 *p)
{
	return (guint) p[0] << 8 | p[1];
}

/* @v with @decimals digits, as the step of its field allows */
static json_t *
real (double v, int decimals)
{
	double scale = pow (10, decimals);

	return json_real (round (v * scale) / scale);
}

gboolean
tbg_adv_ruuvi_decode (const guint8 *data, gsize len, TbgAdvPacket *out, GError **error)
{
	static const char * const axes[] = { "acceleration_x", "acceleration_y", "acceleration_z" };
	guint power;

	memset (out, 0, sizeof *out);
	if (len < 24 || data[0] != 5) {
		g_set_error (error, TBG_ADV_ERROR, TBG_ADV_ERROR_INVALID, "not Ruuvi data format 5");
		return FALSE;
	}
	if (be16 (data + 1) != 0x8000)
		tbg_adv_set (out, "temperature", real ((gint16) be16 (data + 1) * 0.005, 3));
	if (be16 (data + 3) != 0xffff)
		tbg_adv_set (out, "humidity", real (be16 (data + 3) * 0.0025, 4));
	if (be16 (data + 5) != 0xffff)   /* hPa like the other formats */
		tbg_adv_set (out, "pressure", real ((be16 (data + 5) + 50000) / 100.0, 2));
	for (guint i = 0; i < 3; i++) {
		if (be16 (data + 7 + 2 * i) != 0x8000)
			tbg_adv_set (out, axes[i], real ((gint16) be16 (data + 7 + 2 * i) / 1000.0, 3));
	}
	power = be16 (data + 13);
	if ((power >> 5) != 2047)
		tbg_adv_set (out, "voltage", real (((power >> 5) + 1600) / 1000.0, 3));
	if ((power & 0x1f) != 31)
		tbg_adv_set (out, "tx_power", json_integer (-40 + 2 * (gint) (power & 0x1f)));
	if (data[15] != 0xff)
		tbg_adv_set (out, "movement_counter", json_integer (data[15]));
	if (be16 (data + 16) != 0xffff) {
		out->has_counter = TRUE;
		out->counter = be16 (data + 16);
		out->counter_bits = 16;
	}
	return tbg_adv_fail_empty (out, "Ruuvi", error);
}
