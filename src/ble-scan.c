/* SPDX-License-Identifier: Apache-2.0 */
/* ble-scan.c — discovery on the chosen adapter (active, or passive through
 * an advertisement monitor) and what advertisements carry (BTHome, RSSI).
 */
#include "ble-private.h"
#include "ble-adv-source.h"
#include "bthome.h"
#include "bluez-monitor.h"

/* ---- advertisements (BTHome) -------------------------------------------------------- */

/* The ThingsBoard device an advertisement's values go to, or NULL. A
 * device of ours (configured or paired) follows its link: what it
 * advertises is published while the link is up and dropped while it is
 * down, since a sample would show it connected. Any other device is an
 * advertiser we never connect: connected in ThingsBoard terms while it
 * advertises. */
static TbgDevice *
advertisement_target (BleDevice *bd, GDBusProxy *dev)
{
	if (tbg_ble_is_ours (bd->src, dev)) {
		if (bd->dev != NULL && tbg_device_get_connected (bd->dev))
			return bd->dev;
		g_debug ("%s: its link is down; advertisement not published", bd->path);
		return NULL;
	}
	if (tbg_ble_ensure_gateway_device (bd, dev) != NULL && !tbg_device_get_connected (bd->dev))
		tbg_device_set_connected (bd->dev, TRUE);
	return bd->dev;
}

void
tbg_ble_advertisement (BleDevice *bd, GDBusProxy *dev)
{
	g_autoptr (GVariant) sd = g_dbus_proxy_get_cached_property (dev, "ServiceData");
	g_autoptr (GVariant) data = NULL;
	g_autoptr (GError) error = NULL;
	TbgBthomePacket p = { 0 };
	TbgDevice *target;
	gconstpointer bytes;
	gsize len;

	if (tbg_ble_adv_advertisement (bd, dev))
		return;   /* decoders= names BTHome: encrypted and v1 too, there */
	if (sd == NULL || !g_variant_is_of_type (sd, G_VARIANT_TYPE_VARDICT) ||
	    (!bd->src->bthome && bd->conf == NULL))
		return;
	/* a{sv}: the lookup unwraps the variant and checks its type */
	data = g_variant_lookup_value (sd, BTHOME_UUID, G_VARIANT_TYPE_BYTESTRING);
	if (data == NULL)
		return;
	bytes = g_variant_get_fixed_array (data, &len, 1);
	if (!tbg_bthome_decode (bytes, len, &p, &error)) {
		g_autofree char *address = tbg_ble_string_prop (dev, "Address");

		g_message (_("BTHome data from %s ignored: %s"), address, error->message);
		return;
	}
	if (tbg_bthome_is_duplicate (&bd->last_packet, &bd->have_packet, &p)) {
		tbg_bthome_packet_clear (&p);
		return;
	}
	target = advertisement_target (bd, dev);
	if (target != NULL && json_object_size (p.values) > 0 &&
	    !tbg_device_push_telemetry (target, 0, p.values, &error))
		g_message ("%s: %s", tbg_device_get_name (target), error->message);
	tbg_bthome_packet_clear (&p);
}

void
tbg_ble_rssi (BleDevice *bd, GDBusProxy *dev)
{
	g_autoptr (GVariant) rssi = g_dbus_proxy_get_cached_property (dev, "RSSI");
	json_t *values;

	tbg_ble_adv_seen (bd, dev);
	if (rssi == NULL || bd->dev == NULL || !tbg_device_get_connected (bd->dev) ||
	    !(bd->conf ? bd->conf->rssi : bd->src->rssi) || !g_variant_is_of_type (rssi, G_VARIANT_TYPE_INT16))
		return;
	values = json_pack ("{s:i}", "rssi", (int) g_variant_get_int16 (rssi));
	tbg_device_push_telemetry (bd->dev, 0, values, NULL);
	json_decref (values);
}

static void
discovery_started (GObject *obj, GAsyncResult *res, gpointer data)
{
	g_autoptr (GError) error = NULL;
	g_autoptr (GVariant) r = g_dbus_proxy_call_finish (G_DBUS_PROXY (obj), res, &error);
	const char *path = g_dbus_proxy_get_object_path (G_DBUS_PROXY (obj));
	BleSource *src;

	if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
		return;
	src = data;
	if (r == NULL) {
		g_dbus_error_strip_remote_error (error);
		g_warning (_("Cannot scan on %s: %s"), path, error->message);
		if (g_strcmp0 (src->scanning_on, path) == 0)
			g_clear_pointer (&src->scanning_on, g_free);
		return;
	}
	g_message (_("Scanning for BLE devices on %s"), path);
}

static void
filter_set (GObject *obj, GAsyncResult *res, gpointer data)
{
	g_autoptr (GError) error = NULL;
	g_autoptr (GVariant) r = g_dbus_proxy_call_finish (G_DBUS_PROXY (obj), res, &error);
	BleSource *src;

	if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
		return;
	src = data;
	/* BlueZ scans without the filter then: more radio work, same results */
	if (r == NULL)
		g_message (_("SetDiscoveryFilter on %s: %s"), g_dbus_proxy_get_object_path (G_DBUS_PROXY (obj)),
		           error->message);
	g_dbus_proxy_call (G_DBUS_PROXY (obj), "StartDiscovery", NULL, G_DBUS_CALL_FLAGS_NONE, CALL_TIMEOUT_MS,
	                   src->cancellable, discovery_started, src);
}

static void
start_active_discovery (BleSource *src, GDBusProxy *adapter)
{
	/* DuplicateData: BTHome sensors repeat their advertisement with new values */
	g_dbus_proxy_call (adapter, "SetDiscoveryFilter",
	                   g_variant_new_parsed ("({'Transport': <'le'>, 'DuplicateData': <%b>},)",
	                                         src->bthome || tbg_ble_adv_wanted (src)),
	                   G_DBUS_CALL_FLAGS_NONE, CALL_TIMEOUT_MS, src->cancellable, filter_set, src);
}

/* ---- passive scanning: advertisement monitors --------------------------------------- */

/* bluetoothd 5.66 (Debian 12) sizes its MGMT Add Adv Patterns Monitor
 * command in 8 bits (src/adv_monitor.c): a monitor with 8 or more patterns
 * overflows its buffer and bluetoothd dies with SIGABRT, again on every
 * registration. So the patterns are spread over monitors of at most 7
 * (the kernel takes 16), all under the one registered root. */
#define MONITOR_MAX_PATTERNS 7
#define MONITOR_FIRST        MONITOR_ROOT "/bthome"

static gboolean
monitor_handle_simple (TbgBluezAdvertisementMonitor1 *mon, GDBusMethodInvocation *inv, gpointer data)
{
	const char *method = g_dbus_method_invocation_get_method_name (inv);

	if (g_str_equal (method, "Activate")) {
		/* once for all of them: they are activated together */
		if (g_str_equal (g_dbus_method_invocation_get_object_path (inv), MONITOR_FIRST))
			g_message (_("BlueZ watches passively for BTHome advertisements"));
	} else
		g_message (_("BlueZ released the advertisement monitor; BTHome sensors are not heard "
		             "until it is registered again"));
	g_dbus_method_invocation_return_value (inv, NULL);
	return TRUE;
}

static gboolean
monitor_handle_device (TbgBluezAdvertisementMonitor1 *mon, GDBusMethodInvocation *inv, const char *device,
                       gpointer data)
{
	/* the values themselves arrive as the device's ServiceData */
	g_debug ("advertisement monitor: %s %s", g_dbus_method_invocation_get_method_name (inv), device);
	g_dbus_method_invocation_return_value (inv, NULL);
	return TRUE;
}

static void
export_monitor (BleSource *src, const char *path, GVariant *patterns)
{
	g_autoptr (TbgBluezObjectSkeleton) obj = tbg_bluez_object_skeleton_new (path);
	g_autoptr (TbgBluezAdvertisementMonitor1) mon = tbg_bluez_advertisement_monitor1_skeleton_new ();

	tbg_bluez_advertisement_monitor1_set_type_ (mon, "or_patterns");
	tbg_bluez_advertisement_monitor1_set_patterns (mon, patterns);
	g_signal_connect (mon, "handle-activate", G_CALLBACK (monitor_handle_simple), src);
	g_signal_connect (mon, "handle-release", G_CALLBACK (monitor_handle_simple), src);
	g_signal_connect (mon, "handle-device-found", G_CALLBACK (monitor_handle_device), src);
	g_signal_connect (mon, "handle-device-lost", G_CALLBACK (monitor_handle_device), src);
	tbg_bluez_object_skeleton_set_advertisement_monitor1 (obj, mon);
	g_dbus_object_manager_server_export (src->monitors, G_DBUS_OBJECT_SKELETON (obj));
}

static void
export_monitors (BleSource *src)
{
	GDBusConnection *conn = g_dbus_object_manager_client_get_connection (G_DBUS_OBJECT_MANAGER_CLIENT (src->om));
	/* AD type 0x16 (service data) or 0xFF (manufacturer data) starting with a UUID or company id */
	g_autoptr (GVariant) all = NULL;
	gsize n;

	if (src->monitors != NULL)
		return;
	all = g_variant_ref_sink (tbg_ble_adv_monitor_patterns (src, src->bthome));
	n = g_variant_n_children (all);
	src->monitors = g_dbus_object_manager_server_new (MONITOR_ROOT);
	/* one monitor however few the patterns, as before the split */
	for (gsize first = 0; first == 0 || first < n; first += MONITOR_MAX_PATTERNS) {
		g_autofree char *path = first == 0 ? g_strdup (MONITOR_FIRST)
		                        : g_strdup_printf (MONITOR_FIRST "_%" G_GSIZE_FORMAT, first / MONITOR_MAX_PATTERNS);
		GVariantBuilder b;

		g_variant_builder_init (&b, G_VARIANT_TYPE ("a(yyay)"));
		for (gsize i = first; i < n && i < first + MONITOR_MAX_PATTERNS; i++) {
			g_autoptr (GVariant) pattern = g_variant_get_child_value (all, i);

			g_variant_builder_add_value (&b, pattern);
		}
		export_monitor (src, path, g_variant_builder_end (&b));
	}
	/* bluetoothd reads them all from this ObjectManager at RegisterMonitor */
	g_dbus_object_manager_server_set_connection (src->monitors, conn);
}

static void
monitor_registered (GObject *obj, GAsyncResult *res, gpointer data)
{
	g_autoptr (GError) error = NULL;
	g_autoptr (GVariant) r = g_dbus_proxy_call_finish (G_DBUS_PROXY (obj), res, &error);
	BleSource *src;
	g_autoptr (GDBusProxy) adapter = NULL;
	g_autofree char *remote = NULL;

	if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
		return;
	src = data;
	if (r != NULL)
		return;   /* Activate() follows */
	remote = g_dbus_error_get_remote_error (error);
	/* A registration outlives a power cycle of the adapter: still in place. */
	if (g_strcmp0 (remote, "org.bluez.Error.AlreadyExists") == 0) {
		g_debug ("advertisement monitor still registered on %s",
		         g_dbus_proxy_get_object_path (G_DBUS_PROXY (obj)));
		return;
	}
	g_dbus_error_strip_remote_error (error);
	g_warning (_("BlueZ refused the advertisement monitor on %s (%s); scanning actively instead"),
	           g_dbus_proxy_get_object_path (G_DBUS_PROXY (obj)), error->message);
	adapter = tbg_ble_proxy_at (src, g_dbus_proxy_get_object_path (G_DBUS_PROXY (obj)), IFACE_ADAPTER);
	if (adapter != NULL)
		start_active_discovery (src, adapter);
}

/* BlueZ scans passively only for advertisement monitors (an experimental
 * API: bluetoothd --experimental); without it, an active scan. */
static gboolean
start_passive_scan (BleSource *src, GDBusProxy *adapter)
{
	const char *path = g_dbus_proxy_get_object_path (adapter);
	g_autoptr (GDBusProxy) manager = tbg_ble_proxy_at (src, path, IFACE_MONITOR_MANAGER);
	g_autoptr (GVariant) types = manager ? g_dbus_proxy_get_cached_property (manager, "SupportedMonitorTypes") : NULL;
	g_autofree const char **t = types && g_variant_is_of_type (types, G_VARIANT_TYPE_STRING_ARRAY)
	                            ? g_variant_get_strv (types, NULL) : NULL;

	if (manager == NULL || (t != NULL && !g_strv_contains (t, "or_patterns"))) {
		g_message (_("BlueZ offers no advertisement monitors on %s (bluetoothd needs --experimental); "
		             "scanning actively instead of passively"), path);
		return FALSE;
	}
	export_monitors (src);
	g_dbus_proxy_call (manager, "RegisterMonitor", g_variant_new ("(o)", MONITOR_ROOT),
	                   G_DBUS_CALL_FLAGS_NONE, CALL_TIMEOUT_MS, src->cancellable, monitor_registered, src);
	g_message (_("Asking BlueZ on %s to scan passively for BTHome advertisements"), path);
	return TRUE;
}

void
tbg_ble_start_discovery (BleSource *src, GDBusProxy *adapter)
{
	const char *path = g_dbus_proxy_get_object_path (adapter);

	if (!tbg_ble_bool_prop (adapter, "Powered")) {
		/* discovery and monitors end with the power; start again when it is back */
		if (g_strcmp0 (src->scanning_on, path) == 0)
			g_clear_pointer (&src->scanning_on, g_free);
		return;
	}
	if (g_str_equal (src->scan, "off") || src->scanning_on != NULL)
		return;
	if (g_str_equal (src->scan, "passive") && !src->bthome && !tbg_ble_adv_wanted (src)) {
		/* known devices connect without a scan; nothing else is wanted */
		g_message (_("[ble] scan=passive without bthome=true: nothing to scan for"));
		return;
	}
	src->scanning_on = g_strdup (path);
	if (g_str_equal (src->scan, "passive") && start_passive_scan (src, adapter))
		return;
	start_active_discovery (src, adapter);
}

gboolean
tbg_ble_adapter_chosen (BleSource *src, GDBusProxy *adapter)
{
	g_autofree char *address = tbg_ble_string_prop (adapter, "Address");
	const char *path = g_dbus_proxy_get_object_path (adapter);
	const char *base = strrchr (path, '/') ? strrchr (path, '/') + 1 : path;

	if (src->adapter_pref == NULL)
		return tbg_ble_bool_prop (adapter, "Powered");
	return g_str_equal (base, src->adapter_pref) ||
	       (address != NULL && g_ascii_strcasecmp (address, src->adapter_pref) == 0);
}

gboolean
tbg_ble_adapter_owns (BleSource *src, const char *path)
{
	/* BlueZ puts every object of an adapter below it: /org/bluez/hci0/dev_… */
	g_auto (GStrv) parts = g_strsplit (path, "/", 5);
	g_autofree char *adapter_path = NULL;
	g_autoptr (GDBusProxy) adapter = NULL;

	if (src->adapter_pref == NULL)
		return TRUE;
	if (g_strv_length (parts) < 4)
		return FALSE;
	adapter_path = g_strjoin ("/", parts[0], parts[1], parts[2], parts[3], NULL);
	adapter = tbg_ble_proxy_at (src, adapter_path, IFACE_ADAPTER);
	if (adapter != NULL)
		return tbg_ble_adapter_chosen (src, adapter);
	return g_str_equal (parts[3], src->adapter_pref);
}
