/* SPDX-License-Identifier: Apache-2.0 */
/* ble-gatt.c — a connected device's characteristics: reads, notifications
 * armed after every connect, values decoded into telemetry.
 */
#include "ble-private.h"

static json_t *
decode_value (BleDevice *bd, const char *uuid, GVariant *value, const char **key, GError **error)
{
	gsize len = 0;
	const guint8 *data = g_variant_get_fixed_array (value, &len, 1);
	const Mapping *m = bd->conf ? tbg_ble_mapping_for (bd->conf->chars, uuid) : NULL;
	json_t *v = NULL;

	/* the SIG's "value is not known" (and what the GSS prohibits) is no
	 * sample, whether the characteristic is mapped or known by its UUID */
	if (!tbg_gatt_check_standard (uuid, data, len, error))
		return NULL;
	if (m != NULL) {
		*key = m->key;
		return tbg_gatt_decode (m->format, m->scale, m->offset, data, len, error);
	}
	if (!tbg_gatt_decode_standard (uuid, data, len, key, &v, error))
		return NULL;
	return v;
}

static gboolean
knows_uuid (BleDevice *bd, const char *uuid)
{
	return (bd->conf != NULL && tbg_ble_mapping_for (bd->conf->chars, uuid) != NULL) ||
	       tbg_gatt_is_standard (uuid);
}

static void
push_value (BleDevice *bd, const char *uuid, GVariant *value)
{
	g_autoptr (GError) error = NULL;
	const char *key = NULL;
	json_t *v, *values;

	if (bd->dev == NULL || !tbg_device_get_connected (bd->dev) ||
	    !g_variant_is_of_type (value, G_VARIANT_TYPE_BYTESTRING))
		return;
	v = decode_value (bd, uuid, value, &key, &error);
	if (v == NULL) {
		if (g_error_matches (error, TBG_GATT_ERROR, TBG_GATT_ERROR_NOT_KNOWN))
			g_debug ("%s: characteristic %s: %s", tbg_device_get_name (bd->dev), uuid, error->message);
		else if (error != NULL)
			g_message (_("%s: characteristic %s: %s"), tbg_device_get_name (bd->dev), uuid,
			           error->message);
		return;
	}
	values = json_object ();
	json_object_set_new (values, key, v);
	if (!tbg_device_push_telemetry (bd->dev, 0, values, &error))
		g_message ("%s: %s", tbg_device_get_name (bd->dev), error->message);
	json_decref (values);
}

/* A ReadValue in flight. BlueZ stores what it read as the
 * characteristic's Value and signals that change before it replies; the
 * reply is a sample only if no such change brought the same bytes (older
 * bluetoothd, or a value that changed meanwhile). */
typedef struct {
	BleDevice *bd;     /* valid unless the call was cancelled */
	char      *uuid;
	char      *path;   /* the characteristic */
	GVariant  *seen;   /* the Value signalled meanwhile, if any */
} ReadCall;

static void
read_done (GObject *obj, GAsyncResult *res, gpointer data)
{
	ReadCall *rc = data;
	g_autoptr (GError) error = NULL;
	g_autoptr (GVariant) r = g_dbus_proxy_call_finish (G_DBUS_PROXY (obj), res, &error);

	if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
		rc->bd->reads = g_list_remove (rc->bd->reads, rc);
	if (r != NULL) {
		g_autoptr (GVariant) value = g_variant_get_child_value (r, 0);

		if (rc->seen == NULL || !g_variant_equal (rc->seen, value))
			push_value (rc->bd, rc->uuid, value);
	} else if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
		g_debug ("ReadValue %s: %s", rc->uuid, error->message);
	}
	g_clear_pointer (&rc->seen, g_variant_unref);
	g_free (rc->uuid);
	g_free (rc->path);
	g_free (rc);
}

void
tbg_ble_value_changed (BleDevice *bd, const char *char_path, const char *uuid, GVariant *value)
{
	for (GList *l = bd->reads; l != NULL; l = l->next) {
		ReadCall *rc = l->data;

		if (g_str_equal (rc->path, char_path)) {
			g_clear_pointer (&rc->seen, g_variant_unref);
			rc->seen = g_variant_ref (value);
		}
	}
	push_value (bd, uuid, value);
}

/* Reads those of @chars (from tbg_ble_device_characteristics) we have a mapping for. */
static void
read_listed (BleDevice *bd, GList *chars, gboolean only_unnotified)
{
	for (GList *l = chars; l != NULL; l = l->next) {
		GDBusProxy *c = l->data;
		g_autofree char *uuid = tbg_ble_string_prop (c, "UUID");
		g_autofree const char **f = tbg_ble_flags_of (c);
		ReadCall *rc;

		if (uuid == NULL || !knows_uuid (bd, uuid) || f == NULL || !g_strv_contains (f, "read"))
			continue;
		if (only_unnotified && tbg_ble_bool_prop (c, "Notifying"))
			continue;
		rc = g_new0 (ReadCall, 1);
		rc->bd = bd;
		rc->uuid = g_strdup (uuid);
		rc->path = g_strdup (g_dbus_proxy_get_object_path (c));
		bd->reads = g_list_prepend (bd->reads, rc);
		g_dbus_proxy_call (c, "ReadValue", g_variant_new_parsed ("(@a{sv} {},)"),
		                   G_DBUS_CALL_FLAGS_NONE, CALL_TIMEOUT_MS, bd->cancellable, read_done, rc);
	}
}

static void
read_all (BleDevice *bd, gboolean only_unnotified)
{
	GList *chars = tbg_ble_device_characteristics (bd->src, bd->path);

	read_listed (bd, chars, only_unnotified);
	g_list_free_full (chars, g_object_unref);
}

static gboolean
read_cb (gpointer data)
{
	read_all (data, TRUE);
	return G_SOURCE_CONTINUE;
}

static void
notify_started (GObject *obj, GAsyncResult *res, gpointer data)
{
	g_autofree char *uuid = data;
	g_autoptr (GError) error = NULL;
	g_autoptr (GVariant) r = g_dbus_proxy_call_finish (G_DBUS_PROXY (obj), res, &error);

	if (r == NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
		g_message (_("Cannot start notifications of %s on %s: %s"), uuid,
		           g_dbus_proxy_get_object_path (G_DBUS_PROXY (obj)), error->message);
}

static void
start_notify (BleDevice *bd, GDBusProxy *c)
{
	g_autofree char *uuid = tbg_ble_string_prop (c, "UUID");
	g_autofree const char **f = tbg_ble_flags_of (c);

	if (uuid == NULL || f == NULL || !knows_uuid (bd, uuid))
		return;
	if (g_strv_contains (f, "notify") || g_strv_contains (f, "indicate"))
		g_dbus_proxy_call (c, "StartNotify", NULL, G_DBUS_CALL_FLAGS_NONE, CALL_TIMEOUT_MS,
		                   bd->cancellable, notify_started, g_strdup (uuid));
}

void
tbg_ble_arm_characteristic (BleDevice *bd, GDBusProxy *c)
{
	GList one = { .data = c };

	start_notify (bd, c);
	read_listed (bd, &one, FALSE);
}

/* After every (re)connect: BlueZ forgets notifications with the link. */
void
tbg_ble_arm_notifications (BleDevice *bd)
{
	GList *chars = tbg_ble_device_characteristics (bd->src, bd->path);

	for (GList *l = chars; l != NULL; l = l->next)
		start_notify (bd, l->data);
	read_listed (bd, chars, FALSE);
	g_list_free_full (chars, g_object_unref);
	g_clear_handle_id (&bd->read_id, g_source_remove);
	if (bd->conf != NULL && bd->conf->read_interval_s > 0)
		bd->read_id = g_timeout_add_seconds (bd->conf->read_interval_s, read_cb, bd);
}
