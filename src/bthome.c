/* SPDX-License-Identifier: Apache-2.0 */
/* bthome.c — see bthome.h. The object table follows bthome.io's "data
 * format" page; an object's size comes only from this table, so decoding
 * stops at the first id it does not list. */
#include "bthome.h"
#include "byte-order.h"

#include <math.h>
#include <string.h>

G_DEFINE_QUARK (tbg-bthome-error-quark, tbg_bthome_error)

typedef enum { NUM, BOOL_, SKIP } Kind;

typedef struct {
	guint8      id;
	const char *key;
	guint8      size;       /* bytes */
	gboolean    is_signed;
	gint8       decimals;   /* value = raw / 10^decimals */
	Kind        kind;
} BthomeObject;

static const BthomeObject objects[] = {
	{ 0x00, "packet_id", 1, FALSE, 0, SKIP },
	{ 0x01, "battery", 1, FALSE, 0, NUM },
	{ 0x02, "temperature", 2, TRUE, 2, NUM },
	{ 0x03, "humidity", 2, FALSE, 2, NUM },
	{ 0x04, "pressure", 3, FALSE, 2, NUM },
	{ 0x05, "illuminance", 3, FALSE, 2, NUM },
	{ 0x06, "mass_kg", 2, FALSE, 2, NUM },
	{ 0x07, "mass_lb", 2, FALSE, 2, NUM },
	{ 0x08, "dewpoint", 2, TRUE, 2, NUM },
	{ 0x09, "count", 1, FALSE, 0, NUM },
	{ 0x0A, "energy", 3, FALSE, 3, NUM },
	{ 0x0B, "power", 3, FALSE, 2, NUM },
	{ 0x0C, "voltage", 2, FALSE, 3, NUM },
	{ 0x0D, "pm2_5", 2, FALSE, 0, NUM },
	{ 0x0E, "pm10", 2, FALSE, 0, NUM },
	{ 0x0F, "generic_boolean", 1, FALSE, 0, BOOL_ },
	{ 0x10, "power_on", 1, FALSE, 0, BOOL_ },
	{ 0x11, "opening", 1, FALSE, 0, BOOL_ },
	{ 0x12, "co2", 2, FALSE, 0, NUM },
	{ 0x13, "tvoc", 2, FALSE, 0, NUM },
	{ 0x14, "moisture", 2, FALSE, 2, NUM },
	{ 0x15, "battery_low", 1, FALSE, 0, BOOL_ },
	{ 0x16, "battery_charging", 1, FALSE, 0, BOOL_ },
	{ 0x17, "carbon_monoxide", 1, FALSE, 0, BOOL_ },
	{ 0x18, "cold", 1, FALSE, 0, BOOL_ },
	{ 0x19, "connectivity", 1, FALSE, 0, BOOL_ },
	{ 0x1A, "door", 1, FALSE, 0, BOOL_ },
	{ 0x1B, "garage_door", 1, FALSE, 0, BOOL_ },
	{ 0x1C, "gas", 1, FALSE, 0, BOOL_ },
	{ 0x1D, "heat", 1, FALSE, 0, BOOL_ },
	{ 0x1E, "light", 1, FALSE, 0, BOOL_ },
	{ 0x1F, "lock", 1, FALSE, 0, BOOL_ },
	{ 0x20, "moisture_detected", 1, FALSE, 0, BOOL_ },
	{ 0x21, "motion", 1, FALSE, 0, BOOL_ },
	{ 0x22, "moving", 1, FALSE, 0, BOOL_ },
	{ 0x23, "occupancy", 1, FALSE, 0, BOOL_ },
	{ 0x24, "plug", 1, FALSE, 0, BOOL_ },
	{ 0x25, "presence", 1, FALSE, 0, BOOL_ },
	{ 0x26, "problem", 1, FALSE, 0, BOOL_ },
	{ 0x27, "running", 1, FALSE, 0, BOOL_ },
	{ 0x28, "safety", 1, FALSE, 0, BOOL_ },
	{ 0x29, "smoke", 1, FALSE, 0, BOOL_ },
	{ 0x2A, "sound", 1, FALSE, 0, BOOL_ },
	{ 0x2B, "tamper", 1, FALSE, 0, BOOL_ },
	{ 0x2C, "vibration", 1, FALSE, 0, BOOL_ },
	{ 0x2D, "window", 1, FALSE, 0, BOOL_ },
	{ 0x2E, "humidity", 1, FALSE, 0, NUM },
	{ 0x2F, "moisture", 1, FALSE, 0, NUM },
	{ 0x3A, "button", 1, FALSE, 0, NUM },
	{ 0x3C, "dimmer", 2, FALSE, 0, SKIP },
	{ 0x3D, "count", 2, FALSE, 0, NUM },
	{ 0x3E, "count", 4, FALSE, 0, NUM },
	{ 0x3F, "rotation", 2, TRUE, 1, NUM },
	{ 0x40, "distance_mm", 2, FALSE, 0, NUM },
	{ 0x41, "distance_m", 2, FALSE, 1, NUM },
	{ 0x42, "duration", 3, FALSE, 3, NUM },
	{ 0x43, "current", 2, FALSE, 3, NUM },
	{ 0x44, "speed", 2, FALSE, 2, NUM },
	{ 0x45, "temperature", 2, TRUE, 1, NUM },
	{ 0x46, "uv_index", 1, FALSE, 1, NUM },
	{ 0x47, "volume_l", 2, FALSE, 1, NUM },
	{ 0x48, "volume_ml", 2, FALSE, 0, NUM },
	{ 0x49, "volume_flow_rate", 2, FALSE, 3, NUM },
	{ 0x4A, "voltage", 2, FALSE, 1, NUM },
	{ 0x4B, "gas", 3, FALSE, 3, NUM },
	{ 0x4C, "gas", 4, FALSE, 3, NUM },
	{ 0x4D, "energy", 4, FALSE, 3, NUM },
	{ 0x4E, "volume_l", 4, FALSE, 3, NUM },
	{ 0x4F, "water_l", 4, FALSE, 3, NUM },
	{ 0x50, "timestamp", 4, FALSE, 0, NUM },
	{ 0x51, "acceleration", 2, FALSE, 3, NUM },
	{ 0x52, "gyroscope", 2, FALSE, 3, NUM },
	{ 0x56, "conductivity", 2, FALSE, 0, NUM },
	{ 0x57, "temperature", 1, TRUE, 0, NUM },
	{ 0x59, "count", 1, TRUE, 0, NUM },
	{ 0x5A, "count", 2, TRUE, 0, NUM },
	{ 0x5B, "count", 4, TRUE, 0, NUM },
	{ 0x5C, "power", 4, TRUE, 2, NUM },
	{ 0x5D, "current", 2, TRUE, 3, NUM },
};

static const BthomeObject *
lookup (guint8 id)
{
	for (guint i = 0; i < G_N_ELEMENTS (objects); i++) {
		if (objects[i].id == id)
			return &objects[i];
	}
	return NULL;
}

/* A scaled value as it was meant: 2506 with 2 decimals is 25.06. */
static json_t *
number (gint64 raw, gint8 decimals)
{
	double d;

	if (decimals == 0)
		return json_integer (raw);
	d = (double) raw / pow (10, decimals);
	return json_real (round (d * pow (10, decimals)) / pow (10, decimals));
}

/* Repeated keys (two thermometers in one packet) become key, key_2, ... */
static void
set_unique (json_t *values, const char *key, json_t *v)
{
	if (json_object_get (values, key) == NULL) {
		json_object_set_new (values, key, v);
		return;
	}
	for (guint n = 2;; n++) {
		g_autofree char *k = g_strdup_printf ("%s_%u", key, n);

		if (json_object_get (values, k) == NULL) {
			json_object_set_new (values, k, v);
			return;
		}
	}
}

gboolean
tbg_bthome_decode (const guint8 *data, gsize len, TbgBthomePacket *out, GError **error)
{
	gsize pos = 1;

	memset (out, 0, sizeof *out);
	if (len < 1) {
		g_set_error (error, TBG_BTHOME_ERROR, TBG_BTHOME_ERROR_EMPTY, "empty BTHome service data");
		return FALSE;
	}
	if ((data[0] >> 5) != 2) {
		g_set_error (error, TBG_BTHOME_ERROR, TBG_BTHOME_ERROR_VERSION,
		             "BTHome version %u, only version 2 is understood", data[0] >> 5);
		return FALSE;
	}
	if (data[0] & 0x01) {
		g_set_error (error, TBG_BTHOME_ERROR, TBG_BTHOME_ERROR_ENCRYPTED,
		             "encrypted BTHome data (no bind key support)");
		return FALSE;
	}
	out->trigger_based = (data[0] & 0x04) != 0;
	out->values = json_object ();
	while (pos < len) {
		const BthomeObject *o = lookup (data[pos]);

		if (o == NULL) {
			out->unknown_object_id = data[pos];   /* never 0: packet id is known */
			break;
		}
		if (pos + 1 + o->size > len) {
			g_set_error (error, TBG_BTHOME_ERROR, TBG_BTHOME_ERROR_TRUNCATED,
			             "object 0x%02X (%s) at byte %" G_GSIZE_FORMAT " needs %u bytes, %" G_GSIZE_FORMAT
			             " left", o->id, o->key, pos, o->size, len - pos - 1);
			tbg_bthome_packet_clear (out);
			return FALSE;
		}
		if (o->id == 0x00) {
			out->has_packet_id = TRUE;
			out->packet_id = data[pos + 1];
		} else if (o->kind == BOOL_) {
			set_unique (out->values, o->key, json_boolean (data[pos + 1] != 0));
		} else if (o->kind == NUM) {
			set_unique (out->values, o->key,
			            number (tbg_read_le (data + pos + 1, o->size, o->is_signed), o->decimals));
		}
		pos += 1 + o->size;
	}
	if (json_object_size (out->values) == 0 && !out->has_packet_id) {
		if (out->unknown_object_id != 0)
			g_set_error (error, TBG_BTHOME_ERROR, TBG_BTHOME_ERROR_UNKNOWN_OBJECT,
			             "unknown BTHome object id 0x%02X", out->unknown_object_id);
		else
			g_set_error (error, TBG_BTHOME_ERROR, TBG_BTHOME_ERROR_EMPTY, "no BTHome objects");
		tbg_bthome_packet_clear (out);
		return FALSE;
	}
	return TRUE;
}

void
tbg_bthome_packet_clear (TbgBthomePacket *p)
{
	json_decref (p->values);
	memset (p, 0, sizeof *p);
}

gboolean
tbg_bthome_is_duplicate (guint8 *last, gboolean *have_last, const TbgBthomePacket *p)
{
	if (!p->has_packet_id)
		return FALSE;
	if (*have_last && *last == p->packet_id)
		return TRUE;
	*last = p->packet_id;
	*have_last = TRUE;
	return FALSE;
}
