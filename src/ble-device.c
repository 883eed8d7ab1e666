/* SPDX-License-Identifier: Apache-2.0 */
/* ble-device.c — one BLE device: found, connected with backoff, made a
 * ThingsBoard device while its link is up, forgotten when BlueZ drops it.
 */
#include "ble-private.h"
#include "ble-adv-source.h"

/* ---- device life cycle ------------------------------------------------------------ */

static void schedule_connect (BleDevice *bd);

/* Devices we connect ourselves: configured, or paired and trusted. */
static gboolean
wanted (BleSource *src, GDBusProxy *dev)
{
	g_autofree char *address = tbg_ble_string_prop (dev, "Address");

	return (tbg_ble_config_for_address (src, address) != NULL && tbg_ble_adv_connects (src, address)) ||
	       (tbg_ble_bool_prop (dev, "Paired") && tbg_ble_bool_prop (dev, "Trusted"));
}

gboolean
tbg_ble_is_ours (BleSource *src, GDBusProxy *dev)
{
	g_autofree char *address = tbg_ble_string_prop (dev, "Address");

	/* a configured sensor that is only heard (connect=false) is an advertiser */
	return (tbg_ble_config_for_address (src, address) != NULL && tbg_ble_adv_connects (src, address)) ||
	       tbg_ble_bool_prop (dev, "Paired");
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
	if (bd->dev != NULL) {
		tbg_device_set_source_data (bd->dev, bd, NULL);
		bd->add_failed = FALSE;
	} else if (!bd->add_failed) {
		/* tried again with every advertisement: say it once */
		g_warning (_("BLE device %s: %s"), address, error->message);
		bd->add_failed = TRUE;
	} else {
		g_debug ("BLE device %s: %s", address, error->message);
	}
	return bd->dev;
}

/* The link is down (or no longer ours): so is the ThingsBoard device of a
 * device that follows its link, and GATT must be armed again next time. */
static void
link_down (BleDevice *bd, gboolean follows_link)
{
	if ((bd->over_gatt || follows_link) && bd->dev != NULL && tbg_device_get_connected (bd->dev)) {
		g_message (_("BLE device “%s” disconnected"), tbg_device_get_name (bd->dev));
		tbg_device_set_connected (bd->dev, FALSE);
	}
	bd->over_gatt = FALSE;
	bd->armed = FALSE;
	g_clear_handle_id (&bd->read_id, g_source_remove);
}

/* Acts on the device's state as BlueZ has it now (never only on a change
 * signal: bluetoothd does not always send one). A device of ours follows
 * its link: the link makes the ThingsBoard device connected, GATT follows
 * once BlueZ has resolved the services (they may never be, for a device
 * that offers none we know). A stranger (neither paired nor configured) is
 * never touched, even when another client connected it; only what it
 * advertises is heard (ble-scan.c). */
void
tbg_ble_update_device (BleDevice *bd)
{
	g_autoptr (GDBusProxy) dev = tbg_ble_proxy_at (bd->src, bd->path, IFACE_DEVICE);
	gboolean connected, resolved;

	if (dev == NULL)
		return;
	if (!tbg_ble_is_ours (bd->src, dev)) {
		link_down (bd, FALSE);
		return;
	}
	connected = tbg_ble_bool_prop (dev, "Connected");
	resolved = connected && tbg_ble_bool_prop (dev, "ServicesResolved");
	if (!connected) {
		link_down (bd, TRUE);
		if (wanted (bd->src, dev))
			schedule_connect (bd);
		return;
	}
	if (tbg_ble_ensure_gateway_device (bd, dev) == NULL)
		return;
	if (!tbg_device_get_connected (bd->dev)) {
		g_message (_("BLE device “%s” (%s) connected"), tbg_device_get_name (bd->dev), bd->path);
		bd->backoff_s = 0;
		tbg_device_set_connected (bd->dev, TRUE);
	}
	bd->over_gatt = TRUE;
	if (resolved && !bd->armed) {
		bd->armed = TRUE;
		tbg_ble_arm_notifications (bd);
	} else if (!resolved) {
		/* services change: arm again once they are resolved */
		bd->armed = FALSE;
	}
}

static void
refreshed (GObject *obj, GAsyncResult *res, gpointer data)
{
	static const char * const link_state[] = { "Connected", "ServicesResolved", "Paired", "Trusted" };
	static const char * const adv_data[] = { "ServiceData", "ManufacturerData" };
	g_autoptr (GError) error = NULL;
	g_autoptr (GVariant) r = g_dbus_connection_call_finish (G_DBUS_CONNECTION (obj), res, &error);
	g_autoptr (GDBusProxy) dev = NULL;
	BleDevice *bd;

	if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
		return;
	bd = data;
	dev = tbg_ble_proxy_at (bd->src, bd->path, IFACE_DEVICE);
	if (r == NULL) {
		g_debug ("Properties of %s: %s", bd->path, error->message);
	} else if (dev != NULL) {
		g_autoptr (GVariant) props = g_variant_get_child_value (r, 0);

		gboolean advertised = FALSE;

		/* the change signals that did not come: the cache as BlueZ is now */
		for (gsize i = 0; i < G_N_ELEMENTS (link_state); i++) {
			g_autoptr (GVariant) v = g_variant_lookup_value (props, link_state[i], G_VARIANT_TYPE_BOOLEAN);

			if (v != NULL)
				g_dbus_proxy_set_cached_property (dev, link_state[i], v);
		}
		/* an advertisement missed the same way is heard now; only a new one:
		 * what the cache had was heard when it got there */
		for (gsize i = 0; i < G_N_ELEMENTS (adv_data); i++) {
			g_autoptr (GVariant) v = g_variant_lookup_value (props, adv_data[i], G_VARIANT_TYPE ("a{?v}"));
			g_autoptr (GVariant) old = g_dbus_proxy_get_cached_property (dev, adv_data[i]);

			if (v != NULL && (old == NULL || !g_variant_equal (old, v))) {
				g_dbus_proxy_set_cached_property (dev, adv_data[i], v);
				advertised = TRUE;
			}
		}
		if (advertised) {
			/* heard with the signal strength it came with, not the cache's older one */
			g_autoptr (GVariant) rssi = g_variant_lookup_value (props, "RSSI", G_VARIANT_TYPE_INT16);

			if (rssi != NULL)
				g_dbus_proxy_set_cached_property (dev, "RSSI", rssi);
			tbg_ble_advertisement (bd, dev);
		}
	}
	tbg_ble_update_device (bd);
}

/* Asks BlueZ for the device's link state and advertisement, for when a
 * change signal may have been missed, then acts on them. */
void
tbg_ble_device_refresh (BleDevice *bd)
{
	GDBusConnection *conn = g_dbus_object_manager_client_get_connection (
		G_DBUS_OBJECT_MANAGER_CLIENT (bd->src->om));

	g_dbus_connection_call (conn, BLUEZ, bd->path, "org.freedesktop.DBus.Properties", "GetAll",
	                        g_variant_new ("(s)", IFACE_DEVICE), G_VARIANT_TYPE ("(a{sv})"),
	                        G_DBUS_CALL_FLAGS_NO_AUTO_START, CALL_TIMEOUT_MS, bd->cancellable,
	                        refreshed, bd);
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
	}
	/* Success normally shows up as Connected/ServicesResolved changes, but
	 * bluetoothd sends none when it finds the link up already; a failure
	 * ("already connected", "in progress") may hide one too. Look. The
	 * answer reconnects if the link is still down. */
	tbg_ble_device_refresh (bd);
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
	g_list_free (bd->reads);   /* each freed by its (cancelled) callback */
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

	/* adapter=: another adapter's devices (its bonds, its links) are not ours */
	if (g_hash_table_contains (src->devices, path) || !tbg_ble_adapter_owns (src, path))
		return;
	bd = g_new0 (BleDevice, 1);
	bd->src = src;
	bd->path = g_strdup (path);
	bd->cancellable = g_cancellable_new ();
	bd->conf = tbg_ble_config_for_address (src, address);
	g_hash_table_insert (src->devices, bd->path, bd);
	if (wanted (src, dev))
		g_message (_("BLE device %s (%s) found; connecting"), address, path);
	if (tbg_ble_is_ours (src, dev))
		tbg_ble_update_device (bd);   /* connects it when it is not and we may */
	tbg_ble_advertisement (bd, dev);
}
