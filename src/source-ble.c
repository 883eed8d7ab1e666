/* SPDX-License-Identifier: Apache-2.0 */
/* source-ble.c — BLE devices through BlueZ (org.bluez on the system bus).
 *
 * BlueZ's objects are watched with an ObjectManager client, which also
 * follows bluetoothd restarts (the objects go and come back). Paired and
 * trusted devices, and devices named in the config by address, are
 * connected with backoff; once their services are resolved they become
 * gateway devices, every notifying characteristic we can decode is armed
 * (again after every reconnect), and characteristic values become
 * telemetry. BTHome v2 advertisements are decoded without connecting.
 * Server RPCs write and read characteristics.
 */
#include "ble-private.h"
#include "ble-adv-source.h"

/* ---- BlueZ object helpers ------------------------------------------------------------ */

GDBusProxy *
tbg_ble_proxy_at (BleSource *src, const char *path, const char *iface)
{
	return G_DBUS_PROXY (g_dbus_object_manager_get_interface (src->om, path, iface));
}

gboolean
tbg_ble_bool_prop (GDBusProxy *p, const char *name)
{
	g_autoptr (GVariant) v = p ? g_dbus_proxy_get_cached_property (p, name) : NULL;

	return v != NULL && g_variant_is_of_type (v, G_VARIANT_TYPE_BOOLEAN) && g_variant_get_boolean (v);
}

char *
tbg_ble_string_prop (GDBusProxy *p, const char *name)
{
	g_autoptr (GVariant) v = p ? g_dbus_proxy_get_cached_property (p, name) : NULL;

	return v != NULL && g_variant_is_of_type (v, G_VARIANT_TYPE_STRING) ? g_variant_dup_string (v, NULL)
	                                                                    : NULL;
}

/* A characteristic's Flags ("read", "notify", …); NULL if it has none. */
const char **
tbg_ble_flags_of (GDBusProxy *ch)
{
	g_autoptr (GVariant) v = g_dbus_proxy_get_cached_property (ch, "Flags");

	return v != NULL && g_variant_is_of_type (v, G_VARIANT_TYPE_STRING_ARRAY) ? g_variant_get_strv (v, NULL)
	                                                                          : NULL;
}

/* The characteristics of a device: proxies below its path. */
GList *
tbg_ble_device_characteristics (BleSource *src, const char *dev_path)
{
	GList *objects = g_dbus_object_manager_get_objects (src->om);
	GList *chars = NULL;
	g_autofree char *prefix = g_strconcat (dev_path, "/", NULL);

	for (GList *l = objects; l != NULL; l = l->next) {
		const char *path = g_dbus_object_get_object_path (l->data);
		GDBusInterface *i;

		if (!g_str_has_prefix (path, prefix))
			continue;
		i = g_dbus_object_get_interface (l->data, IFACE_CHAR);
		if (i != NULL)
			chars = g_list_prepend (chars, i);
	}
	g_list_free_full (objects, g_object_unref);
	return chars;
}

GDBusProxy *
tbg_ble_find_characteristic (BleSource *src, const char *dev_path, const char *uuid)
{
	GList *chars = tbg_ble_device_characteristics (src, dev_path);
	GDBusProxy *found = NULL;

	for (GList *l = chars; l != NULL && found == NULL; l = l->next) {
		g_autofree char *u = tbg_ble_string_prop (l->data, "UUID");

		if (u != NULL && g_ascii_strcasecmp (u, uuid) == 0)
			found = g_object_ref (l->data);
	}
	g_list_free_full (chars, g_object_unref);
	return found;
}

/* ---- the object manager -------------------------------------------------------------- */

static BleDevice *
device_owning (BleSource *src, const char *path)
{
	g_autofree char *prefix = g_strdup (path);
	char *slash;

	while ((slash = strrchr (prefix, '/')) != NULL && slash != prefix) {
		BleDevice *bd;

		*slash = '\0';
		bd = g_hash_table_lookup (src->devices, prefix);
		if (bd != NULL)
			return bd;
	}
	return NULL;
}

static void
interface_added (BleSource *src, GDBusInterface *iface)
{
	GDBusProxy *p = G_DBUS_PROXY (iface);
	const char *name = g_dbus_proxy_get_interface_name (p);

	if (g_str_equal (name, IFACE_ADAPTER) && tbg_ble_adapter_chosen (src, p))
		tbg_ble_start_discovery (src, p);
	else if (g_str_equal (name, IFACE_DEVICE))
		tbg_ble_device_added (src, p);
	else if (g_str_equal (name, IFACE_CHAR)) {
		/* services of a connected device resolve after the device appears,
		 * and may be exported after they were said to be resolved */
		BleDevice *bd = device_owning (src, g_dbus_proxy_get_object_path (p));

		if (bd != NULL && bd->armed)
			tbg_ble_arm_characteristic (bd, p);
		else if (bd != NULL)
			tbg_ble_update_device (bd);
	}
}

static void
on_object_added (GDBusObjectManager *om, GDBusObject *obj, gpointer data)
{
	GList *ifaces = g_dbus_object_get_interfaces (obj);

	for (GList *l = ifaces; l != NULL; l = l->next)
		interface_added (data, l->data);
	g_list_free_full (ifaces, g_object_unref);
}

static void
on_interface_added (GDBusObjectManager *om, GDBusObject *obj, GDBusInterface *iface, gpointer data)
{
	interface_added (data, iface);
}

static void
on_object_removed (GDBusObjectManager *om, GDBusObject *obj, gpointer data)
{
	BleSource *src = data;
	const char *path = g_dbus_object_get_object_path (obj);

	if (g_strcmp0 (path, src->scanning_on) == 0)
		g_clear_pointer (&src->scanning_on, g_free);
	g_hash_table_remove (src->devices, path);
}

static gboolean
has_key (GVariant *dict, const char *key)
{
	g_autoptr (GVariant) v = g_variant_lookup_value (dict, key, NULL);

	return v != NULL;
}

/* Whether a change touches what tbg_ble_update_device() looks at; RSSI and
 * ServiceData change with every advertisement of every device in range. */
static gboolean
changes_link_state (GVariant *changed, const char * const *invalidated)
{
	static const char * const keys[] = { "Connected", "ServicesResolved", "Paired", "Trusted" };

	for (gsize i = 0; i < G_N_ELEMENTS (keys); i++) {
		if (has_key (changed, keys[i]) || (invalidated != NULL && g_strv_contains (invalidated, keys[i])))
			return TRUE;
	}
	return FALSE;
}

static void
on_properties_changed (GDBusObjectManagerClient *om, GDBusObjectProxy *obj, GDBusProxy *p,
                       GVariant *changed, const char * const *invalidated, gpointer data)
{
	BleSource *src = data;
	const char *name = g_dbus_proxy_get_interface_name (p);
	const char *path = g_dbus_proxy_get_object_path (p);

	if (g_str_equal (name, IFACE_DEVICE)) {
		BleDevice *bd = g_hash_table_lookup (src->devices, path);

		if (bd == NULL)
			return;
		if (has_key (changed, "ServiceData") || has_key (changed, "ManufacturerData"))
			tbg_ble_advertisement (bd, p);
		if (has_key (changed, "RSSI"))
			tbg_ble_rssi (bd, p);
		if (changes_link_state (changed, invalidated))
			tbg_ble_update_device (bd);
	} else if (g_str_equal (name, IFACE_CHAR)) {
		g_autoptr (GVariant) value = g_variant_lookup_value (changed, "Value", G_VARIANT_TYPE_BYTESTRING);
		g_autofree char *uuid = tbg_ble_string_prop (p, "UUID");
		BleDevice *bd = device_owning (src, path);

		if (value != NULL && uuid != NULL && bd != NULL)
			tbg_ble_value_changed (bd, path, uuid, value);
	} else if (g_str_equal (name, IFACE_ADAPTER) &&
	           (tbg_ble_adapter_chosen (src, p) || g_strcmp0 (path, src->scanning_on) == 0)) {
		tbg_ble_start_discovery (src, p);
	}
}

/* The client's objects come from a GetManagedObjects reply that may be
 * older than a change sent while it was on its way, and a change for an
 * object the client had not made yet is dropped: ask every device again. */
static void
refresh_devices (BleSource *src)
{
	GHashTableIter it;
	gpointer bd;

	g_hash_table_iter_init (&it, src->devices);
	while (g_hash_table_iter_next (&it, NULL, &bd))
		tbg_ble_device_refresh (bd);
}

static void
on_owner_changed (GObject *om, GParamSpec *pspec, gpointer data)
{
	BleSource *src = data;
	g_autofree char *owner = g_dbus_object_manager_client_get_name_owner (G_DBUS_OBJECT_MANAGER_CLIENT (om));

	/* the client notifies more than once per change */
	if ((owner != NULL) == src->bluez_up)
		return;
	src->bluez_up = owner != NULL;
	if (owner == NULL) {
		g_warning (_("bluetoothd left the bus; BLE devices are gone until it is back"));
		g_clear_pointer (&src->scanning_on, g_free);
		g_hash_table_remove_all (src->devices);
	} else {
		g_message (_("bluetoothd is on the bus (%s)"), owner);
		/* the client announces the owner after it made the objects */
		refresh_devices (src);
	}
}

/* ---- following BlueZ ------------------------------------------------------------ */

static void start_watching (BleSource *src);

static gboolean
retry_watching (gpointer data)
{
	BleSource *src = data;

	src->om_retry_id = 0;
	start_watching (src);
	return G_SOURCE_REMOVE;
}

static void
watching (GObject *obj, GAsyncResult *res, gpointer data)
{
	g_autoptr (GError) error = NULL;
	GDBusObjectManager *om = g_dbus_object_manager_client_new_for_bus_finish (res, &error);
	g_autofree char *owner = NULL;
	BleSource *src;
	GList *objects;

	if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
		return;
	src = data;
	if (om == NULL) {
		/* no bus, or a bluetoothd that does not answer: try again later, say it once */
		if (!src->om_failed)
			g_warning (src->session_bus ? _("No D-Bus session bus (%s); BLE devices are unavailable")
			                            : _("No D-Bus system bus (%s); BLE devices are unavailable"),
			           error->message);
		src->om_failed = TRUE;
		src->om_retry_id = g_timeout_add_seconds (30, retry_watching, src);
		return;
	}
	src->om_failed = FALSE;
	src->om = om;
	g_signal_connect (src->om, "object-added", G_CALLBACK (on_object_added), src);
	g_signal_connect (src->om, "interface-added", G_CALLBACK (on_interface_added), src);
	g_signal_connect (src->om, "object-removed", G_CALLBACK (on_object_removed), src);
	g_signal_connect (src->om, "interface-proxy-properties-changed", G_CALLBACK (on_properties_changed), src);
	g_signal_connect (src->om, "notify::name-owner", G_CALLBACK (on_owner_changed), src);
	owner = g_dbus_object_manager_client_get_name_owner (G_DBUS_OBJECT_MANAGER_CLIENT (src->om));
	src->bluez_up = owner != NULL;
	if (owner == NULL)
		g_message (_("bluetoothd is not running; BLE devices appear when it starts"));
	objects = g_dbus_object_manager_get_objects (src->om);
	/* adapters first, so that discovery starts before devices are handled */
	for (int pass = 0; pass < 2; pass++) {
		for (GList *l = objects; l != NULL; l = l->next) {
			g_autoptr (GDBusInterface) a = g_dbus_object_get_interface (l->data, IFACE_ADAPTER);

			if ((pass == 0) == (a != NULL))
				on_object_added (src->om, l->data, src);
		}
	}
	g_list_free_full (objects, g_object_unref);
	refresh_devices (src);
}

/* The client asks bluetoothd for all its objects first: never wait for
 * that on the main loop (a bluetoothd that hangs would stall every
 * source), at start or on a reload. */
static void
start_watching (BleSource *src)
{
	g_dbus_object_manager_client_new_for_bus (src->session_bus ? G_BUS_TYPE_SESSION : G_BUS_TYPE_SYSTEM,
	                                          G_DBUS_OBJECT_MANAGER_CLIENT_FLAGS_DO_NOT_AUTO_START,
	                                          BLUEZ, "/", NULL, NULL, NULL, src->cancellable, watching, src);
}

/* What was asked of bluetoothd ends with us: discovery and the monitor
 * belong to our connection, which outlives a restart of the source. */
static void
stop_watching (BleSource *src)
{
	g_cancellable_cancel (src->cancellable);
	g_clear_object (&src->cancellable);
	g_clear_handle_id (&src->om_retry_id, g_source_remove);
	if (src->om != NULL) {
		GDBusConnection *conn = g_dbus_object_manager_client_get_connection (G_DBUS_OBJECT_MANAGER_CLIENT (src->om));

		g_signal_handlers_disconnect_by_data (src->om, src);
		if (src->scanning_on != NULL && src->bluez_up) {
			g_dbus_connection_call (conn, BLUEZ, src->scanning_on, IFACE_ADAPTER, "StopDiscovery", NULL,
			                        NULL, G_DBUS_CALL_FLAGS_NO_AUTO_START, -1, NULL, NULL, NULL);
			if (src->monitors != NULL)
				g_dbus_connection_call (conn, BLUEZ, src->scanning_on, IFACE_MONITOR_MANAGER,
				                        "UnregisterMonitor", g_variant_new ("(o)", MONITOR_ROOT), NULL,
				                        G_DBUS_CALL_FLAGS_NO_AUTO_START, -1, NULL, NULL, NULL);
		}
	}
	g_hash_table_remove_all (src->devices);
	g_clear_object (&src->om);
	if (src->monitors != NULL)
		g_dbus_object_manager_server_set_connection (src->monitors, NULL);
	g_clear_object (&src->monitors);
	g_clear_pointer (&src->scanning_on, g_free);
	src->bluez_up = FALSE;
}

/* ---- the source table ------------------------------------------------------------ */

/* [ble] itself and every [ble:NAME]; NULL + @error on the first bad value. */
static gboolean
load_settings (BleSource *src, const TbgConfig *cfg, GError **error)
{
	g_auto (GStrv) names = tbg_config_device_groups (cfg, "ble");

	src->session_bus = cfg->session_bus;
	src->configs = g_ptr_array_new_with_free_func ((GDestroyNotify) tbg_ble_device_config_free);
	src->adapter_pref = tbg_config_get_string (cfg, "ble", "adapter", NULL);
	src->scan = tbg_config_get_string (cfg, "ble", "scan", "active");
	if (!g_strv_contains ((const char * const[]) { "active", "passive", "off", NULL }, src->scan)) {
		g_autofree char *where = tbg_config_where (cfg, "ble", "scan");

		g_set_error (error, TBG_CONFIG_ERROR, TBG_CONFIG_ERROR_BAD_VALUE,
		             _("%s: [ble] scan: “%s” is not active, passive or off"), where, src->scan);
		return FALSE;
	}
	if (!tbg_config_get_bool (cfg, "ble", "bthome", FALSE, &src->bthome, error) ||
	    !tbg_config_get_bool (cfg, "ble", "rssi", FALSE, &src->rssi, error) ||
	    !tbg_ble_adv_start (src, cfg, error))
		return FALSE;
	for (guint i = 0; names[i] != NULL; i++) {
		DeviceConfig *c = tbg_ble_device_config_load (cfg, names[i], error);

		if (c == NULL)
			return FALSE;
		g_ptr_array_add (src->configs, c);
	}
	return TRUE;
}

static void
clear_settings (BleSource *src)
{
	g_clear_pointer (&src->configs, g_ptr_array_unref);
	g_clear_pointer (&src->adapter_pref, g_free);
	g_clear_pointer (&src->scan, g_free);
	tbg_ble_adv_stop (src);
}

static void
ble_stop (gpointer instance)
{
	BleSource *src = instance;

	if (src == NULL)
		return;
	stop_watching (src);
	g_hash_table_unref (src->devices);
	clear_settings (src);
	g_free (src);
}

static BleSource *
ble_new (TbgGateway *gw)
{
	BleSource *src = g_new0 (BleSource, 1);

	src->gw = gw;
	src->devices = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) tbg_ble_device_free);
	return src;
}

static gpointer
ble_start (TbgGateway *gw, const TbgConfig *cfg, GError **error)
{
	BleSource *src = ble_new (gw);

	if (!load_settings (src, cfg, error)) {
		ble_stop (src);
		return NULL;
	}
	src->cancellable = g_cancellable_new ();
	start_watching (src);
	return src;
}

static gboolean
ble_validate (const TbgConfig *cfg, GError **error)
{
	BleSource *src = ble_new (NULL);
	gboolean ok = load_settings (src, cfg, error);

	ble_stop (src);
	return ok;
}

static DeviceConfig *
take_config (GPtrArray *configs, const char *name)
{
	for (guint i = 0; i < configs->len; i++) {
		DeviceConfig *c = g_ptr_array_index (configs, i);

		if (g_str_equal (c->name, name))
			return g_ptr_array_steal_index (configs, i);
	}
	return NULL;
}

/* Devices whose [ble:NAME] did not change keep their BleDevice (link,
 * armed notifications, ThingsBoard connection); the others are made
 * again from the new config, as if BlueZ had just shown them. */
static void
ble_reconfigure (gpointer instance, const TbgConfig *old_cfg, const TbgConfig *new_cfg)
{
	BleSource *src = instance;
	g_autoptr (GPtrArray) old_configs = src->configs;
	g_auto (GStrv) names = tbg_config_device_groups (new_cfg, "ble");
	g_autoptr (GList) paths = NULL;

	if (!tbg_config_group_equal (old_cfg, new_cfg, "ble") || src->session_bus != new_cfg->session_bus) {
		g_autoptr (GError) error = NULL;

		/* another adapter, scan mode or BTHome: every device starts over */
		g_message (_("[ble] changed; BLE devices start over"));
		stop_watching (src);
		g_clear_pointer (&old_configs, g_ptr_array_unref);
		src->configs = NULL;
		clear_settings (src);
		if (!load_settings (src, new_cfg, &error))
			g_warning ("%s", error->message);   /* validated before: cannot happen */
		src->cancellable = g_cancellable_new ();
		start_watching (src);
		return;
	}
	src->configs = g_ptr_array_new_with_free_func ((GDestroyNotify) tbg_ble_device_config_free);
	/* bindkeys and the like: devices keep copies, so the new ones can replace them all */
	tbg_ble_adv_stop (src);
	if (!tbg_ble_adv_start (src, new_cfg, NULL))
		g_warning ("[ble] advertisement settings refused");   /* validated before: cannot happen */
	for (guint i = 0; names[i] != NULL; i++) {
		g_autofree char *group = g_strconcat ("ble:", names[i], NULL);
		g_autoptr (GError) error = NULL;
		DeviceConfig *c = NULL;

		if (tbg_config_group_equal (old_cfg, new_cfg, group))
			c = take_config (old_configs, names[i]);
		if (c == NULL)
			c = tbg_ble_device_config_load (new_cfg, names[i], &error);
		if (c == NULL)
			g_warning ("%s", error->message);   /* validated before: cannot happen */
		else
			g_ptr_array_add (src->configs, c);
	}
	paths = g_hash_table_get_keys (src->devices);
	for (GList *l = paths; l != NULL; l = l->next) {
		g_autofree char *path = g_strdup (l->data);
		BleDevice *bd = g_hash_table_lookup (src->devices, path);
		g_autoptr (GDBusProxy) dev = tbg_ble_proxy_at (src, path, IFACE_DEVICE);
		g_autofree char *address = dev ? tbg_ble_string_prop (dev, "Address") : NULL;
		DeviceConfig *c = tbg_ble_config_for_address (src, address);
		gboolean was_linked = bd->over_gatt;

		/* the same DeviceConfig: its group did not change */
		if (dev == NULL || c == bd->conf)
			continue;
		g_hash_table_remove (src->devices, path);   /* disconnects it in ThingsBoard */
		/* a link we made for a device that is no longer ours goes too */
		if (was_linked && c == NULL && !tbg_ble_bool_prop (dev, "Paired"))
			g_dbus_proxy_call (dev, "Disconnect", NULL, G_DBUS_CALL_FLAGS_NONE, CALL_TIMEOUT_MS,
			                   NULL, NULL, NULL);
		tbg_ble_device_added (src, dev);
	}
}

static const char * const global_keys[] = { "adapter", "scan", "bthome", "rssi",
                                            "decoders", "advertisers", NULL };
static const char * const config_keys[] = { "address", "type", "rssi", "read-interval-s",
                                            "char.*", "rpc.*", "attribute.*",
                                            "bindkey", "bindkey-file", "absent-after-s", "connect", NULL };

const TbgSource tbg_source_ble = {
	.name = "ble",
	.config_keys = config_keys,
	.global_keys = global_keys,
	.start = ble_start,
	.stop = ble_stop,
	.validate = ble_validate,
	.reconfigure = ble_reconfigure,
	.rpc = tbg_ble_rpc,
	.shared_attributes = tbg_ble_shared_attributes,
};

