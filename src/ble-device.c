/* ble-device.c — one BLE device: found, connected with backoff, made a
 * ThingsBoard device while its link is up, forgotten when BlueZ drops it.
 */
#include "ble-private.h"
#include "ble-adv-source.h"

/* ---- device life cycle ------------------------------------------------------------ */

static void schedule_connect (BleDevice *bd);

static gboolean
wanted (BleSource *src, GDBusProxy *dev)
{
	g_autofree char *address = tbg_ble_string_prop (dev, "Address");

	return (tbg_ble_config_for_address (src, address) != NULL && tbg_ble_adv_connects (src, address)) ||
	       (tbg_ble_bool_prop (dev, "Paired") && tbg_ble_bool_prop (dev, "Trusted"));
}

TbgDevice *
tbg_ble_ensure_gateway_device (BleDevice *bd, GDBusProxy *dev)
{
	g_autoptr (GError) error = NULL;
	g_autofree char *address = tbg_ble_string_prop (dev, "Address");
	g_autofree char *alias = tbg_ble_string_prop (dev, "Alias");
	const char *name;

	if (bd->dev != NULL)
		return bd->dev;
	name = bd->conf ? bd->conf->name : alias && *alias ? alias : address;
	bd->dev = tbg_gateway_add_device (bd->src->gw, &tbg_source_ble, bd->src, name,
	                                  bd->conf ? bd->conf->type : NULL, address, &error);
	if (bd->dev == NULL)
		g_warning (_("BLE device %s: %s"), address, error->message);
	else
		tbg_device_set_source_data (bd->dev, bd, NULL);
	return bd->dev;
}

/* The link makes the ThingsBoard device connected; GATT follows once
 * BlueZ has resolved the services (they may never be, for a device that
 * offers none we know). */
void
tbg_ble_update_device (BleDevice *bd)
{
	GDBusProxy *dev = tbg_ble_proxy_at (bd->src, bd->path, IFACE_DEVICE);
	gboolean connected, resolved;

	if (dev == NULL)
		return;
	connected = tbg_ble_bool_prop (dev, "Connected");
	resolved = connected && tbg_ble_bool_prop (dev, "ServicesResolved");
	if (connected && tbg_ble_ensure_gateway_device (bd, dev) != NULL && !tbg_device_get_connected (bd->dev)) {
		g_message (_("BLE device “%s” (%s) connected"), tbg_device_get_name (bd->dev),
		           bd->path);
		bd->backoff_s = 0;
		tbg_device_set_connected (bd->dev, TRUE);
	}
	if (connected && bd->dev != NULL) {
		bd->over_gatt = TRUE;
		if (resolved && !bd->armed) {
			bd->armed = TRUE;
			tbg_ble_arm_notifications (bd);
		} else if (!resolved) {
			/* services change: arm again once they are resolved */
			bd->armed = FALSE;
		}
	} else if (!connected) {
		/* an advertising-only device (BTHome) stays as long as BlueZ knows it */
		if (bd->over_gatt && bd->dev != NULL && tbg_device_get_connected (bd->dev)) {
			g_message (_("BLE device “%s” disconnected"), tbg_device_get_name (bd->dev));
			tbg_device_set_connected (bd->dev, FALSE);
		}
		bd->over_gatt = FALSE;
		bd->armed = FALSE;
		g_clear_handle_id (&bd->read_id, g_source_remove);
		if (wanted (bd->src, dev))
			schedule_connect (bd);
	}
	g_object_unref (dev);
}

static void
connect_done (GObject *obj, GAsyncResult *res, gpointer data)
{
	g_autoptr (GError) error = NULL;
	g_autoptr (GVariant) r = g_dbus_proxy_call_finish (G_DBUS_PROXY (obj), res, &error);
	BleDevice *bd;

	if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
		return;
	bd = data;
	bd->connecting = FALSE;
	if (r == NULL) {
		g_dbus_error_strip_remote_error (error);
		g_message (_("Cannot connect BLE device %s: %s; retrying in %u s"), bd->path,
		           error->message, MAX (bd->backoff_s, 1u));
		schedule_connect (bd);
	}
	/* success shows up as Connected/ServicesResolved */
}

static gboolean
connect_cb (gpointer data)
{
	BleDevice *bd = data;
	g_autoptr (GDBusProxy) dev = tbg_ble_proxy_at (bd->src, bd->path, IFACE_DEVICE);

	bd->retry_id = 0;
	if (dev == NULL || tbg_ble_bool_prop (dev, "Connected") || bd->connecting)
		return G_SOURCE_REMOVE;
	bd->connecting = TRUE;
	g_dbus_proxy_call (dev, "Connect", NULL, G_DBUS_CALL_FLAGS_NONE, 60000, bd->cancellable,
	                   connect_done, bd);
	return G_SOURCE_REMOVE;
}

static void
schedule_connect (BleDevice *bd)
{
	if (bd->retry_id != 0 || bd->connecting)
		return;
	bd->retry_id = g_timeout_add_seconds (bd->backoff_s, connect_cb, bd);
	bd->backoff_s = bd->backoff_s == 0 ? 1 : MIN (bd->backoff_s * 2, BACKOFF_MAX_S);
}

void
tbg_ble_device_free (BleDevice *bd)
{
	/* pending callbacks see the cancellation and leave bd alone */
	g_cancellable_cancel (bd->cancellable);
	g_object_unref (bd->cancellable);
	g_clear_handle_id (&bd->retry_id, g_source_remove);
	g_clear_handle_id (&bd->read_id, g_source_remove);
	tbg_ble_adv_device_free (bd);
	/* the gateway owns it */
	if (bd->dev != NULL) {
		tbg_device_set_source_data (bd->dev, NULL, NULL);
		tbg_gateway_remove_device (bd->src->gw, bd->dev);
	}
	g_free (bd->path);
	g_free (bd);
}

void
tbg_ble_device_added (BleSource *src, GDBusProxy *dev)
{
	const char *path = g_dbus_proxy_get_object_path (dev);
	g_autofree char *address = tbg_ble_string_prop (dev, "Address");
	BleDevice *bd;

	if (g_hash_table_contains (src->devices, path))
		return;
	bd = g_new0 (BleDevice, 1);
	bd->src = src;
	bd->path = g_strdup (path);
	bd->cancellable = g_cancellable_new ();
	bd->conf = tbg_ble_config_for_address (src, address);
	g_hash_table_insert (src->devices, bd->path, bd);
	if (wanted (src, dev)) {
		g_message (_("BLE device %s (%s) found; connecting"), address, path);
		tbg_ble_update_device (bd);   /* connects it when it is not */
	}
	tbg_ble_advertisement (bd, dev);
}
