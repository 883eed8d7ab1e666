/* SPDX-License-Identifier: Apache-2.0 */
/* ble-write.c — server RPCs and shared attributes written to (or read
 * from) characteristics.
 */
#include "ble-private.h"

/* ---- RPCs and attributes ------------------------------------------------------------ */

typedef struct {
	TbgRpc   *rpc;
	gboolean  read;
	Mapping   map;   /* format, scale, offset; uuid owned */
} CharCall;

static void
char_call_free (CharCall *c)
{
	if (c->rpc != NULL)
		tbg_rpc_unref (c->rpc);
	g_free (c->map.uuid);
	g_free (c);
}

static void
char_call_done (GObject *obj, GAsyncResult *res, gpointer data)
{
	CharCall *c = data;
	g_autoptr (GError) error = NULL;
	g_autoptr (GVariant) r = g_dbus_proxy_call_finish (G_DBUS_PROXY (obj), res, &error);

	if (c->rpc == NULL) {
		/* a shared attribute: nobody waits for the answer but the log */
		if (r == NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
			g_message (_("Writing %s failed: %s"), c->map.uuid, error->message);
	} else if (r == NULL) {
		if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
			g_autofree char *remote = g_dbus_error_get_remote_error (error);

			g_dbus_error_strip_remote_error (error);
			tbg_rpc_reply_error (c->rpc, "%s%s%s", remote ? remote : "", remote ? ": " : "",
			                     error->message);
		}
	} else if (c->read) {
		g_autoptr (GVariant) value = g_variant_get_child_value (r, 0);
		gsize len;
		const guint8 *bytes = g_variant_get_fixed_array (value, &len, 1);
		json_t *v = tbg_gatt_decode (c->map.format, c->map.scale, c->map.offset, bytes, len, &error);

		if (v == NULL) {
			tbg_rpc_reply_error (c->rpc, "%s", error->message);
		} else {
			json_t *answer = json_pack ("{s:o}", "value", v);

			tbg_rpc_reply (c->rpc, answer);
			json_decref (answer);
		}
	} else {
		tbg_rpc_reply (c->rpc, NULL);
	}
	char_call_free (c);
}

/* A characteristic that only takes writes without response needs a
 * "command"; BlueZ would otherwise send a write request it refuses. */
static const char *
write_type_of (GDBusProxy *ch)
{
	g_autofree const char **f = tbg_ble_flags_of (ch);

	if (f != NULL && !g_strv_contains (f, "write") && g_strv_contains (f, "write-without-response"))
		return "command";
	return "request";
}

static gboolean
start_char_call (BleDevice *bd, const char *uuid, TbgGattFormat format, double scale, double offset,
                 json_t *value, TbgRpc *rpc, GError **error)
{
	g_autoptr (GDBusProxy) ch = NULL;
	g_autoptr (GDBusProxy) dev = tbg_ble_proxy_at (bd->src, bd->path, IFACE_DEVICE);
	g_autoptr (GBytes) bytes = NULL;
	const char *write_type;
	CharCall *c;

	/* fail at once rather than wait for BlueZ to time out */
	if (bd->dev == NULL || !tbg_device_get_connected (bd->dev) || !tbg_ble_bool_prop (dev, "Connected")) {
		g_set_error (error, TBG_ERROR, TBG_ERROR_NOT_CONNECTED, "device is not connected");
		return FALSE;
	}
	ch = tbg_ble_find_characteristic (bd->src, bd->path, uuid);
	if (ch == NULL) {
		g_set_error (error, TBG_ERROR, TBG_ERROR_NOT_FOUND, "no characteristic %s", uuid);
		return FALSE;
	}
	if (value != NULL) {
		bytes = tbg_gatt_encode (format, scale, offset, value, error);
		if (bytes == NULL)
			return FALSE;
	}
	write_type = write_type_of (ch);
	c = g_new0 (CharCall, 1);
	c->rpc = rpc ? tbg_rpc_ref (rpc) : NULL;
	c->read = value == NULL;
	c->map.uuid = g_strdup (uuid);
	c->map.format = format;
	c->map.scale = scale;
	c->map.offset = offset;
	if (c->read)
		g_dbus_proxy_call (ch, "ReadValue", g_variant_new_parsed ("(@a{sv} {},)"),
		                   G_DBUS_CALL_FLAGS_NONE, CALL_TIMEOUT_MS, bd->src->cancellable,
		                   char_call_done, c);
	else
		g_dbus_proxy_call (ch, "WriteValue",
		                   g_variant_new ("(@ay@a{sv})",
		                                  g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE,
		                                  	g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), 1),
		                                  g_variant_new_parsed ("{'type': <%s>}", write_type)),
		                   G_DBUS_CALL_FLAGS_NONE, CALL_TIMEOUT_MS, bd->src->cancellable,
		                   char_call_done, c);
	return TRUE;
}

void
tbg_ble_rpc (gpointer instance, TbgDevice *dev, TbgRpc *rpc)
{
	BleDevice *bd = tbg_device_get_source_data (dev);
	json_t *params = tbg_rpc_get_params (rpc);
	const char *method = tbg_rpc_get_method (rpc);
	g_autoptr (GError) error = NULL;
	const Mapping *m;
	g_autofree char *uuid = NULL;
	TbgGattFormat format = TBG_GATT_HEX;
	double scale = 1, offset = 0;
	json_t *value = NULL;

	if (bd == NULL) {
		tbg_rpc_reply_error (rpc, "device is gone");
		return;
	}
	m = bd->conf != NULL ? tbg_ble_mapping_named (bd->conf->rpcs, method) : NULL;
	if (m != NULL) {
		/* a mapped method writes its params ({"value": v} or v itself) */
		uuid = g_strdup (m->uuid);
		format = m->format;
		scale = m->scale;
		offset = m->offset;
		value = json_is_object (params) && json_object_get (params, "value")
		        ? json_object_get (params, "value") : params;
		if (value == NULL)
			value = json_null ();
	} else if (g_str_equal (method, "write") || g_str_equal (method, "read")) {
		const char *u = json_string_value (json_object_get (params, "uuid"));
		const char *enc = json_string_value (json_object_get (params, "encoding"));

		if (u == NULL) {
			tbg_rpc_reply_error (rpc, "params need \"uuid\" (the characteristic)");
			return;
		}
		uuid = tbg_gatt_uuid_normalize (u, &error);
		if (uuid == NULL || (enc != NULL && !tbg_gatt_format_from_name (enc, &format, &error))) {
			tbg_rpc_reply_error (rpc, "%s", error->message);
			return;
		}
		if (g_str_equal (method, "write")) {
			value = json_object_get (params, "value");
			if (value == NULL) {
				tbg_rpc_reply_error (rpc, "params need \"value\"");
				return;
			}
		}
	} else {
		tbg_rpc_reply_error (rpc, "unknown method “%s” (write, read%s)", method,
		                     bd->conf && bd->conf->rpcs->len ? ", or one in the config" : "");
		return;
	}
	if (!start_char_call (bd, uuid, format, scale, offset, value, rpc, &error))
		tbg_rpc_reply_error (rpc, "%s", error->message);
}

void
tbg_ble_shared_attributes (gpointer instance, TbgDevice *dev, json_t *changed, const char * const *deleted)
{
	BleDevice *bd = tbg_device_get_source_data (dev);
	const char *key;
	json_t *v;

	if (bd == NULL || bd->conf == NULL || changed == NULL)
		return;
	json_object_foreach (changed, key, v) {
		const Mapping *m = tbg_ble_mapping_named (bd->conf->attributes, key);
		g_autoptr (GError) error = NULL;

		if (m != NULL && !start_char_call (bd, m->uuid, m->format, m->scale, m->offset, v, NULL, &error))
			g_message (_("%s: shared attribute %s not written: %s"), tbg_device_get_name (dev), key,
			           error->message);
	}
}

