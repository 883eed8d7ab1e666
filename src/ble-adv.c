/* SPDX-License-Identifier: Apache-2.0 */
/* ble-adv.c — what the advertisement decoders (adv-*.c) share. */
#include "ble-adv.h"

#include <math.h>
#include <string.h>

G_DEFINE_QUARK (tbg-adv-error-quark, tbg_adv_error)

void
tbg_adv_packet_clear (TbgAdvPacket *p)
{
	json_decref (p->values);
	memset (p, 0, sizeof *p);
}

/* 2506 with 2 decimals is 25.06, not 25.060000000000002. */
json_t *
tbg_adv_number (gint64 raw, gint decimals)
{
	double scale;

	if (decimals == 0)
		return json_integer (raw);
	scale = pow (10, decimals);
	return json_real (round ((double) raw) / scale);
}

void
tbg_adv_set (TbgAdvPacket *p, const char *key, json_t *value)
{
	if (p->values == NULL)
		p->values = json_object ();
	json_object_set_new (p->values, key, value);
}

/* A packet that parsed but carried nothing we publish is refused, so that
 * success always means at least one value. */
gboolean
tbg_adv_fail_empty (TbgAdvPacket *p, const char *format, GError **error)
{
	if (p->values != NULL && json_object_size (p->values) > 0)
		return TRUE;
	tbg_adv_packet_clear (p);
	g_set_error (error, TBG_ADV_ERROR, TBG_ADV_ERROR_INVALID, "%s: no values in the packet", format);
	return FALSE;
}
