/* SPDX-License-Identifier: Apache-2.0 */
/* ble-config.c — [ble:NAME] groups: a device's address and how its
 * characteristics map to telemetry keys, RPC methods and attributes.
 */
#include "ble-private.h"

#include <math.h>

/* ---- configuration ------------------------------------------------------------------ */

static void
mapping_free (Mapping *m)
{
	g_free (m->uuid);
	g_free (m->key);
	g_free (m);
}

void
tbg_ble_device_config_free (DeviceConfig *c)
{
	g_free (c->name);
	g_free (c->address);
	g_free (c->type);
	g_ptr_array_unref (c->chars);
	g_ptr_array_unref (c->rpcs);
	g_ptr_array_unref (c->attributes);
	g_free (c);
}

static gboolean
parse_double (const char *text, double *out)
{
	char *end = NULL;

	*out = g_ascii_strtod (text, &end);
	return end != text && *end == '\0' && isfinite (*out);
}

/* @with_key: "KEY FORMAT [SCALE [OFFSET]]" (char.UUID); else "UUID FORMAT". */
static Mapping *
parse_mapping (const TbgConfig *cfg, const char *group, const char *key, const char *suffix,
               gboolean with_key, GError **error)
{
	g_autofree char *value = tbg_config_get_string (cfg, group, key, "");
	g_auto (GStrv) w = g_strsplit_set (g_strstrip (value), " \t", -1);
	g_autofree char *where = tbg_config_where (cfg, group, key);
	g_autoptr (GError) local = NULL;
	Mapping *m = g_new0 (Mapping, 1);
	guint n = g_strv_length (w);
	const char *uuid = with_key ? suffix : (n > 0 ? w[0] : "");
	const char *format = n > 1 ? w[1] : "";

	m->scale = 1;
	m->key = g_strdup (with_key ? (n > 0 ? w[0] : "") : suffix);
	m->uuid = tbg_gatt_uuid_normalize (uuid, &local);
	if (m->uuid == NULL || n < 2 || n > (with_key ? 4u : 2u) || *m->key == '\0' ||
	    !tbg_gatt_format_from_name (format, &m->format, local ? NULL : &local) ||
	    (n > 2 && !parse_double (w[2], &m->scale)) ||
	    (n > 3 && !parse_double (w[3], &m->offset))) {
		g_set_error (error, TBG_CONFIG_ERROR, TBG_CONFIG_ERROR_BAD_VALUE,
		             with_key ? _("%s: [%s] %s: “%s” is not “KEY FORMAT [SCALE [OFFSET]]”%s%s")
		                      : _("%s: [%s] %s: “%s” is not “UUID FORMAT”%s%s"),
		             where, group, key, value, local ? ": " : "", local ? local->message : "");
		mapping_free (m);
		return NULL;
	}
	return m;
}

DeviceConfig *
tbg_ble_device_config_load (const TbgConfig *cfg, const char *name, GError **error)
{
	g_autofree char *group = g_strdup_printf ("ble:%s", name);
	g_auto (GStrv) keys = g_key_file_get_keys (cfg->keyfile, group, NULL, NULL);
	DeviceConfig *c = g_new0 (DeviceConfig, 1);
	g_autofree char *address = tbg_config_get_string (cfg, group, "address", NULL);
	guint64 interval;

	c->name = g_strdup (name);
	c->type = tbg_config_get_string (cfg, group, "type", NULL);
	c->chars = g_ptr_array_new_with_free_func ((GDestroyNotify) mapping_free);
	c->rpcs = g_ptr_array_new_with_free_func ((GDestroyNotify) mapping_free);
	c->attributes = g_ptr_array_new_with_free_func ((GDestroyNotify) mapping_free);
	if (address == NULL || !g_regex_match_simple ("^([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}$", address, 0, 0)) {
		g_autofree char *where = tbg_config_where (cfg, group, address ? "address" : NULL);

		g_set_error (error, TBG_CONFIG_ERROR, TBG_CONFIG_ERROR_BAD_VALUE,
		             _("%s: [%s]: address= must be a Bluetooth address like A4:C1:38:12:34:56"),
		             where, group);
		goto fail;
	}
	c->address = g_ascii_strup (address, -1);
	if (!tbg_config_get_bool (cfg, group, "rssi", FALSE, &c->rssi, error) ||
	    !tbg_config_get_uint (cfg, group, "read-interval-s", 0, 86400, 0, &interval, error))
		goto fail;
	c->read_interval_s = (guint) interval;
	for (guint i = 0; keys != NULL && keys[i] != NULL; i++) {
		static const struct { const char *prefix; gboolean with_key; gsize offset; } kinds[] = {
			{ "char.", TRUE, G_STRUCT_OFFSET (DeviceConfig, chars) },
			{ "rpc.", FALSE, G_STRUCT_OFFSET (DeviceConfig, rpcs) },
			{ "attribute.", FALSE, G_STRUCT_OFFSET (DeviceConfig, attributes) },
		};

		for (guint k = 0; k < G_N_ELEMENTS (kinds); k++) {
			Mapping *m;

			if (!g_str_has_prefix (keys[i], kinds[k].prefix))
				continue;
			m = parse_mapping (cfg, group, keys[i], keys[i] + strlen (kinds[k].prefix),
			                   kinds[k].with_key, error);
			if (m == NULL)
				goto fail;
			g_ptr_array_add (G_STRUCT_MEMBER (GPtrArray *, c, kinds[k].offset), m);
		}
	}
	return c;
fail:
	tbg_ble_device_config_free (c);
	return NULL;
}

DeviceConfig *
tbg_ble_config_for_address (BleSource *src, const char *address)
{
	for (guint i = 0; address != NULL && i < src->configs->len; i++) {
		DeviceConfig *c = g_ptr_array_index (src->configs, i);

		if (g_ascii_strcasecmp (c->address, address) == 0)
			return c;
	}
	return NULL;
}

const Mapping *
tbg_ble_mapping_for (GPtrArray *maps, const char *uuid)
{
	for (guint i = 0; maps != NULL && i < maps->len; i++) {
		const Mapping *m = g_ptr_array_index (maps, i);

		if (g_ascii_strcasecmp (m->uuid, uuid) == 0)
			return m;
	}
	return NULL;
}

/* The mapping of an RPC method or attribute name. */
const Mapping *
tbg_ble_mapping_named (GPtrArray *maps, const char *key)
{
	for (guint i = 0; maps != NULL && i < maps->len; i++) {
		const Mapping *m = g_ptr_array_index (maps, i);

		if (g_str_equal (m->key, key))
			return m;
	}
	return NULL;
}

