/* SPDX-License-Identifier: Apache-2.0 */
/* fake-bluez.c — see fake-bluez.h. The objects are the gdbus-codegen
 * skeletons of tests/fake-bluez.xml under an ObjectManager at "/", as
 * bluetoothd exports them. */
#include "fake-bluez.h"
#include "fake-bluez-gen.h"

#include <string.h>

typedef struct {
	FakeBluez               *fb;
	char                    *uuid;
	char                    *path;
	char                   **flags;
	FbzObjectSkeleton       *obj;
	FbzGattCharacteristic1  *iface;
	guint                    notifies;
	guint                    reads;
	GBytes                  *written;
	char                    *write_type;
} FakeChar;

typedef struct {
	FakeBluez         *fb;
	char              *address;
	char              *path;
	FbzObjectSkeleton *obj;
	FbzDevice1        *iface;
	GPtrArray         *chars;   /* FakeChar */
	guint              connects;
	guint              fail_connects;
	gboolean           hold_services;
	gboolean           resolve_before_export;
	gboolean           chars_exported;
} FakeDevice;

struct _FakeBluez {
	GDBusConnection          *conn;
	GDBusObjectManagerServer *om;
	FbzObjectSkeleton        *adapter_obj;
	FbzAdapter1              *adapter;
	FbzAdvertisementMonitorManager1 *monitor_manager;
	char                     *monitors;          /* see fake_bluez_monitors() */
	char                     *monitor_owner;     /* the client that registered them */
	GPtrArray                *monitor_paths;     /* char* */
	GPtrArray                *monitor_patterns;  /* a(yyay) GVariant of each monitor_paths entry */
	guint                     devices_found;     /* DeviceFound calls the client answered */
	GCancellable             *cancellable;       /* its calls to the client's monitors */
	GPtrArray                *devices;   /* FakeDevice */
	guint                     discovery_starts;
	guint                     owner_id;
	gboolean                  owned;
	GPtrArray                *adapters;  /* more adapters: FbzObjectSkeleton */
	/* read by the connection's worker thread (see filter()) */
	GMutex                    lock;
	GHashTable               *muted;     /* device paths whose link-up signals are lost */
	gboolean                  stalled;   /* GetManagedObjects calls go unanswered */
	guint                     stalled_calls;
	gboolean                  holding;   /* the next GetManagedObjects is answered when the test says */
	GDBusMessage             *held_call;
	guint                     filter_id;
	GVariant                 *held_state;   /* the objects as they were when the hold began */
};

#define ADAPTER_PATH "/org/bluez/hci0"
/* bluetoothd 5.66 sizes its MGMT Add Adv Patterns Monitor command in 8 bits
 * (src/adv_monitor.c): a monitor with more patterns overflows it, and
 * bluetoothd dies with SIGABRT on every registration. */
#define BLUEZ_566_MAX_PATTERNS 7

static void
fake_char_free (FakeChar *c)
{
	g_free (c->uuid);
	g_free (c->path);
	g_strfreev (c->flags);
	g_clear_object (&c->obj);
	g_clear_object (&c->iface);
	g_clear_pointer (&c->written, g_bytes_unref);
	g_free (c->write_type);
	g_free (c);
}

static void
fake_device_free (FakeDevice *d)
{
	g_free (d->address);
	g_free (d->path);
	g_ptr_array_unref (d->chars);
	g_object_unref (d->obj);
	g_object_unref (d->iface);
	g_free (d);
}

static FakeDevice *
find_device (FakeBluez *fb, const char *address)
{
	for (guint i = 0; i < fb->devices->len; i++) {
		FakeDevice *d = g_ptr_array_index (fb->devices, i);

		if (g_str_equal (d->address, address))
			return d;
	}
	g_error ("fake bluez: no device %s", address);
	return NULL;
}

static FakeChar *
find_char (FakeDevice *d, const char *uuid)
{
	for (guint i = 0; i < d->chars->len; i++) {
		FakeChar *c = g_ptr_array_index (d->chars, i);

		if (g_str_equal (c->uuid, uuid))
			return c;
	}
	g_error ("fake bluez: no characteristic %s on %s", uuid, d->address);
	return NULL;
}

static void
wait_owned (FakeBluez *fb, gboolean owned)
{
	gint64 end = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

	while (fb->owned != owned && g_get_monotonic_time () < end)
		g_main_context_iteration (NULL, TRUE);
	g_assert_true (fb->owned == owned);
}

static void
on_acquired (GDBusConnection *c, const char *name, gpointer data)
{
	((FakeBluez *) data)->owned = TRUE;
}

static void
on_lost (GDBusConnection *c, const char *name, gpointer data)
{
	((FakeBluez *) data)->owned = FALSE;
}

/* ---- characteristics ------------------------------------------------------------ */

/* As bluetoothd: the value read is also stored as the characteristic's
 * Value, whose PropertiesChanged goes out before the reply (even when the
 * value did not change). */
static gboolean
handle_read (FbzGattCharacteristic1 *i, GDBusMethodInvocation *inv, GVariant *options, gpointer data)
{
	FakeChar *c = data;
	GVariant *value = fbz_gatt_characteristic1_get_value (i);

	c->reads++;
	g_dbus_connection_emit_signal (c->fb->conn, NULL, c->path, "org.freedesktop.DBus.Properties",
	                               "PropertiesChanged",
	                               g_variant_new_parsed ("('org.bluez.GattCharacteristic1', {'Value': <%@ay>}, @as [])",
	                                                     value),
	                               NULL);
	fbz_gatt_characteristic1_complete_read_value (i, inv, value);
	return TRUE;
}

static gboolean
handle_write (FbzGattCharacteristic1 *i, GDBusMethodInvocation *inv, GVariant *value, GVariant *options,
              gpointer data)
{
	FakeChar *c = data;
	gsize len;
	gconstpointer bytes = g_variant_get_fixed_array (value, &len, 1);
	const char *type = "request";

	/* as bluetoothd: a request needs "write", a command "write-without-response" */
	g_variant_lookup (options, "type", "&s", &type);
	if (!g_strv_contains ((const char * const *) c->flags,
	                      g_str_equal (type, "command") ? "write-without-response" : "write")) {
		g_dbus_method_invocation_return_dbus_error (inv, "org.bluez.Error.NotPermitted", "Write not permitted");
		return TRUE;
	}
	g_clear_pointer (&c->written, g_bytes_unref);
	c->written = g_bytes_new (bytes, len);
	g_free (c->write_type);
	c->write_type = g_strdup (type);
	fbz_gatt_characteristic1_complete_write_value (i, inv);
	return TRUE;
}

static gboolean
handle_start_notify (FbzGattCharacteristic1 *i, GDBusMethodInvocation *inv, gpointer data)
{
	FakeChar *c = data;

	c->notifies++;
	fbz_gatt_characteristic1_set_notifying (i, TRUE);
	fbz_gatt_characteristic1_complete_start_notify (i, inv);
	return TRUE;
}

static void
export_chars (FakeDevice *d, gboolean on)
{
	if (d->chars_exported == on)
		return;
	d->chars_exported = on;
	for (guint i = 0; i < d->chars->len; i++) {
		FakeChar *c = g_ptr_array_index (d->chars, i);

		fbz_gatt_characteristic1_set_notifying (c->iface, FALSE);
		if (on)
			g_dbus_object_manager_server_export (d->fb->om, G_DBUS_OBJECT_SKELETON (c->obj));
		else
			g_dbus_object_manager_server_unexport (d->fb->om, c->path);
	}
}

/* ---- devices ------------------------------------------------------------------- */

static void
link_up (FakeDevice *d)
{
	fbz_device1_set_connected (d->iface, TRUE);
	if (d->resolve_before_export) {
		fbz_device1_set_services_resolved (d->iface, TRUE);
	} else if (!d->hold_services) {
		export_chars (d, TRUE);
		fbz_device1_set_services_resolved (d->iface, TRUE);
	}
}

static gboolean
handle_connect (FbzDevice1 *i, GDBusMethodInvocation *inv, gpointer data)
{
	FakeDevice *d = data;

	d->connects++;
	if (d->fail_connects > 0) {
		d->fail_connects--;
		g_dbus_method_invocation_return_dbus_error (inv, "org.bluez.Error.Failed",
		                                            "le-connection-abort-by-local");
		return TRUE;
	}
	link_up (d);
	fbz_device1_complete_connect (i, inv);
	return TRUE;
}

static gboolean
handle_disconnect (FbzDevice1 *i, GDBusMethodInvocation *inv, gpointer data)
{
	fake_bluez_drop_link (((FakeDevice *) data)->fb, ((FakeDevice *) data)->address);
	fbz_device1_complete_disconnect (i, inv);
	return TRUE;
}

static gboolean
handle_filter (FbzAdapter1 *i, GDBusMethodInvocation *inv, GVariant *filter, gpointer data)
{
	fbz_adapter1_complete_set_discovery_filter (i, inv);
	return TRUE;
}

static gboolean
handle_start_discovery (FbzAdapter1 *i, GDBusMethodInvocation *inv, gpointer data)
{
	FakeBluez *fb = data;

	if (!fbz_adapter1_get_powered (i)) {
		g_dbus_method_invocation_return_dbus_error (inv, "org.bluez.Error.NotReady", "Resource Not Ready");
		return TRUE;
	}
	fb->discovery_starts++;
	fbz_adapter1_set_discovering (i, TRUE);
	fbz_adapter1_complete_start_discovery (i, inv);
	return TRUE;
}

/* ---- advertisement monitors ------------------------------------------------------ */

static void
device_found_answered (GObject *obj, GAsyncResult *res, gpointer data)
{
	g_autoptr (GError) error = NULL;
	g_autoptr (GVariant) r = g_dbus_connection_call_finish (G_DBUS_CONNECTION (obj), res, &error);

	if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
		return;   /* the fake is gone */
	if (r != NULL)
		((FakeBluez *) data)->devices_found++;
	else
		g_message ("fake bluetoothd: the client's monitor failed DeviceFound: %s", error->message);
}

static void
call_monitor (FakeBluez *fb, const char *path, const char *method, GVariant *args)
{
	gboolean found = g_str_equal (method, "DeviceFound");

	g_dbus_connection_call (fb->conn, fb->monitor_owner, path, "org.bluez.AdvertisementMonitor1", method,
	                        args, NULL, G_DBUS_CALL_FLAGS_NO_AUTO_START, -1, fb->cancellable,
	                        found ? device_found_answered : NULL, fb);
}

/* Whether one of the or_patterns @patterns (a(yyay)) matches service data
 * @sd (a{sv}, 16-bit UUIDs: AD type 0x16) or manufacturer data @md (a{qv}:
 * 0xFF), both as bluetoothd keeps them and either NULL. The AD data starts
 * with the UUID or company id, little-endian, as on the air. */
static gboolean
monitor_matches (GVariant *patterns, GVariant *sd, GVariant *md)
{
	GVariant *maps[] = { sd, md };
	const guint8 ad_types[] = { 0x16, 0xff };

	for (guint m = 0; m < G_N_ELEMENTS (maps); m++) {
		GVariantIter it;
		GVariant *key, *value;

		if (maps[m] == NULL)
			continue;
		g_variant_iter_init (&it, maps[m]);
		while (g_variant_iter_loop (&it, "{@?v}", &key, &value)) {
			const char *uuid = m == 0 ? g_variant_get_string (key, NULL) : NULL;
			guint16 id = m == 1 ? g_variant_get_uint16 (key) : 0;
			g_autoptr (GByteArray) ad = g_byte_array_new ();
			const guint8 *bytes;
			gsize len;
			GVariantIter pit;
			guint8 pos, type;
			GVariant *content;

			if (uuid != NULL && (strlen (uuid) != 36 || !g_str_has_prefix (uuid, "0000") ||
			                     !g_str_has_suffix (uuid, "-0000-1000-8000-00805f9b34fb")))
				continue;   /* not a 16-bit UUID */
			if (uuid != NULL)
				id = (guint16) g_ascii_strtoull (uuid + 4, NULL, 16);
			if (!g_variant_is_of_type (value, G_VARIANT_TYPE_BYTESTRING))
				continue;
			bytes = g_variant_get_fixed_array (value, &len, 1);
			g_byte_array_append (ad, (const guint8[]) { id & 0xff, id >> 8 }, 2);
			g_byte_array_append (ad, bytes, len);
			g_variant_iter_init (&pit, patterns);
			while (g_variant_iter_loop (&pit, "(yy@ay)", &pos, &type, &content)) {
				gsize clen;
				const guint8 *c = g_variant_get_fixed_array (content, &clen, 1);

				if (type == ad_types[m] && pos + clen <= ad->len && memcmp (ad->data + pos, c, clen) == 0) {
					g_variant_unref (content);
					g_variant_unref (key);
					g_variant_unref (value);
					return TRUE;
				}
			}
		}
	}
	return FALSE;
}

static gboolean
handle_register_monitor (FbzAdvertisementMonitorManager1 *i, GDBusMethodInvocation *inv,
                         const char *root, gpointer data)
{
	FakeBluez *fb = data;
	g_autoptr (GError) error = NULL;
	g_autoptr (GVariant) r = NULL;
	g_autoptr (GVariant) objects = NULL;
	g_autoptr (GString) desc = g_string_new (NULL);
	GVariantIter it;
	const char *path;
	GVariant *ifaces;

	/* as bluetoothd: a registration lasts while the adapter object does,
	 * powered or not, and a second one of the same client is refused */
	if (fb->monitor_paths->len > 0 && g_strcmp0 (fb->monitor_owner, g_dbus_method_invocation_get_sender (inv)) == 0) {
		g_dbus_method_invocation_return_dbus_error (inv, "org.bluez.Error.AlreadyExists", "Already Exists");
		return TRUE;
	}
	/* bluetoothd reads the monitors from the client's ObjectManager */
	g_free (fb->monitor_owner);
	fb->monitor_owner = g_strdup (g_dbus_method_invocation_get_sender (inv));
	r = g_dbus_connection_call_sync (fb->conn, fb->monitor_owner, root, "org.freedesktop.DBus.ObjectManager",
	                                 "GetManagedObjects", NULL, G_VARIANT_TYPE ("(a{oa{sa{sv}}})"),
	                                 G_DBUS_CALL_FLAGS_NONE, 5000, NULL, &error);
	if (r == NULL) {
		g_dbus_method_invocation_return_dbus_error (inv, "org.bluez.Error.Failed", error->message);
		return TRUE;
	}
	objects = g_variant_get_child_value (r, 0);
	g_ptr_array_set_size (fb->monitor_paths, 0);
	g_ptr_array_set_size (fb->monitor_patterns, 0);
	g_variant_iter_init (&it, objects);
	while (g_variant_iter_loop (&it, "{&o@a{sa{sv}}}", &path, &ifaces)) {
		g_autoptr (GVariant) props = g_variant_lookup_value (ifaces, "org.bluez.AdvertisementMonitor1", NULL);
		g_autoptr (GVariant) patterns = NULL;
		const char *type = "?";
		GVariantIter pit;
		guint8 pos, ad;
		GVariant *content;

		if (props == NULL)
			continue;
		g_variant_lookup (props, "Type", "&s", &type);
		patterns = g_variant_lookup_value (props, "Patterns", G_VARIANT_TYPE ("a(yyay)"));
		g_string_append_printf (desc, "%s%s", desc->len ? "\n" : "", type);
		g_variant_iter_init (&pit, patterns ? patterns : g_variant_new ("a(yyay)", NULL));
		for (guint n = 0; g_variant_iter_loop (&pit, "(yy@ay)", &pos, &ad, &content); n++) {
			gsize len;
			const guint8 *b = g_variant_get_fixed_array (content, &len, 1);

			g_string_append_printf (desc, "%c%u,0x%02x,", n ? ';' : ' ', pos, ad);
			for (gsize k = 0; k < len; k++)
				g_string_append_printf (desc, "%02x", b[k]);
		}
		g_ptr_array_add (fb->monitor_paths, g_strdup (path));
		g_ptr_array_add (fb->monitor_patterns,
		                 patterns ? g_variant_ref (patterns) : g_variant_ref_sink (g_variant_new ("a(yyay)", NULL)));
		if (patterns != NULL && g_variant_n_children (patterns) > BLUEZ_566_MAX_PATTERNS) {
			/* what the client sees of bluetoothd dying under its call */
			g_message ("fake bluetoothd: monitor %s has %" G_GSIZE_FORMAT " patterns; bluetoothd 5.66 "
			           "aborts on more than %u", path, g_variant_n_children (patterns), BLUEZ_566_MAX_PATTERNS);
			g_ptr_array_set_size (fb->monitor_paths, 0);
			g_ptr_array_set_size (fb->monitor_patterns, 0);
			g_clear_pointer (&fb->monitors, g_free);
			g_variant_unref (ifaces);   /* left in the loop */
			g_dbus_method_invocation_return_dbus_error (inv, "org.freedesktop.DBus.Error.NoReply",
			                                            "bluetoothd died (more than 7 patterns in a monitor)");
			return TRUE;
		}
	}
	g_free (fb->monitors);
	fb->monitors = desc->len ? g_strdup (desc->str) : NULL;
	fbz_advertisement_monitor_manager1_complete_register_monitor (i, inv);
	for (guint k = 0; k < fb->monitor_paths->len; k++)
		call_monitor (fb, g_ptr_array_index (fb->monitor_paths, k), "Activate", NULL);
	return TRUE;
}

void
fake_bluez_remove_monitor_manager (FakeBluez *fb)
{
	g_dbus_object_skeleton_remove_interface (G_DBUS_OBJECT_SKELETON (fb->adapter_obj),
	                                         G_DBUS_INTERFACE_SKELETON (fb->monitor_manager));
}

const char *
fake_bluez_monitors (FakeBluez *fb)
{
	return fb->monitors;
}

gboolean
fake_bluez_has_monitors (gpointer fb)
{
	return fake_bluez_monitors (fb) != NULL;
}

const char *
fake_bluez_add_device_on (FakeBluez *fb, const char *adapter, const char *address, const char *alias,
                          gboolean paired)
{
	g_autofree char *adapter_path = g_strconcat ("/org/bluez/", adapter, NULL);
	FakeDevice *d = g_new0 (FakeDevice, 1);
	g_autofree char *tail = g_strdelimit (g_strdup (address), ":", '_');

	d->fb = fb;
	d->address = g_strdup (address);
	d->path = g_strdup_printf ("%s/dev_%s", adapter_path, tail);
	d->chars = g_ptr_array_new_with_free_func ((GDestroyNotify) fake_char_free);
	d->obj = fbz_object_skeleton_new (d->path);
	d->iface = fbz_device1_skeleton_new ();
	fbz_device1_set_address (d->iface, address);
	fbz_device1_set_alias (d->iface, alias);
	fbz_device1_set_adapter (d->iface, adapter_path);
	fbz_device1_set_paired (d->iface, paired);
	fbz_device1_set_trusted (d->iface, paired);
	fbz_device1_set_rssi (d->iface, -60);
	fbz_device1_set_service_data (d->iface, g_variant_new ("a{sv}", NULL));
	g_signal_connect (d->iface, "handle-connect", G_CALLBACK (handle_connect), d);
	g_signal_connect (d->iface, "handle-disconnect", G_CALLBACK (handle_disconnect), d);
	fbz_object_skeleton_set_device1 (d->obj, d->iface);
	g_ptr_array_add (fb->devices, d);
	if (fb->owned)
		g_dbus_object_manager_server_export (fb->om, G_DBUS_OBJECT_SKELETON (d->obj));
	return d->path;
}

const char *
fake_bluez_add_device (FakeBluez *fb, const char *address, const char *alias, gboolean paired)
{
	return fake_bluez_add_device_on (fb, "hci0", address, alias, paired);
}

void
fake_bluez_add_adapter (FakeBluez *fb, const char *name, const char *address)
{
	g_autofree char *path = g_strconcat ("/org/bluez/", name, NULL);
	FbzObjectSkeleton *obj = fbz_object_skeleton_new (path);
	g_autoptr (FbzAdapter1) adapter = fbz_adapter1_skeleton_new ();

	fbz_adapter1_set_address (adapter, address);
	fbz_adapter1_set_powered (adapter, TRUE);
	fbz_object_skeleton_set_adapter1 (obj, adapter);
	g_ptr_array_add (fb->adapters, obj);
	if (fb->owned)
		g_dbus_object_manager_server_export (fb->om, G_DBUS_OBJECT_SKELETON (obj));
}

void
fake_bluez_connect_other (FakeBluez *fb, const char *address)
{
	link_up (find_device (fb, address));
}

void
fake_bluez_lose_link_up_signals (FakeBluez *fb, const char *address)
{
	g_mutex_lock (&fb->lock);
	g_hash_table_add (fb->muted, g_strdup (find_device (fb, address)->path));
	g_mutex_unlock (&fb->lock);
}

void
fake_bluez_stall_object_manager (FakeBluez *fb, gboolean stalled)
{
	g_mutex_lock (&fb->lock);
	fb->stalled = stalled;
	g_mutex_unlock (&fb->lock);
}

guint
fake_bluez_stalled_calls (FakeBluez *fb)
{
	guint n;

	g_mutex_lock (&fb->lock);
	n = fb->stalled_calls;
	g_mutex_unlock (&fb->lock);
	return n;
}

/* What GetManagedObjects answers now. */
static GVariant *
managed_objects (FakeBluez *fb)
{
	GList *objects = g_dbus_object_manager_get_objects (G_DBUS_OBJECT_MANAGER (fb->om));
	GVariantBuilder b;

	g_variant_builder_init (&b, G_VARIANT_TYPE ("a{oa{sa{sv}}}"));
	for (GList *l = objects; l != NULL; l = l->next) {
		GList *ifaces = g_dbus_object_get_interfaces (l->data);

		g_variant_builder_open (&b, G_VARIANT_TYPE ("{oa{sa{sv}}}"));
		g_variant_builder_add (&b, "o", g_dbus_object_get_object_path (l->data));
		g_variant_builder_open (&b, G_VARIANT_TYPE ("a{sa{sv}}"));
		for (GList *i = ifaces; i != NULL; i = i->next) {
			GDBusInterfaceSkeleton *sk = i->data;

			g_variant_builder_add (&b, "{s@a{sv}}", g_dbus_interface_skeleton_get_info (sk)->name,
			                       g_dbus_interface_skeleton_get_properties (sk));
		}
		g_variant_builder_close (&b);
		g_variant_builder_close (&b);
		g_list_free_full (ifaces, g_object_unref);
	}
	g_list_free_full (objects, g_object_unref);
	return g_variant_ref_sink (g_variant_builder_end (&b));
}

void
fake_bluez_hold_object_manager (FakeBluez *fb)
{
	g_clear_pointer (&fb->held_state, g_variant_unref);
	fb->held_state = managed_objects (fb);
	g_mutex_lock (&fb->lock);
	fb->holding = TRUE;
	g_mutex_unlock (&fb->lock);
}

void
fake_bluez_release_object_manager (FakeBluez *fb)
{
	g_autoptr (GDBusMessage) call = NULL;
	g_autoptr (GDBusMessage) reply = NULL;

	/* the changes made meanwhile go out first, as they did from bluetoothd */
	for (guint i = 0; i < fb->devices->len; i++) {
		FakeDevice *d = g_ptr_array_index (fb->devices, i);

		g_dbus_interface_skeleton_flush (G_DBUS_INTERFACE_SKELETON (d->iface));
	}
	g_mutex_lock (&fb->lock);
	fb->holding = FALSE;
	call = g_steal_pointer (&fb->held_call);
	g_mutex_unlock (&fb->lock);
	g_assert_nonnull (call);
	reply = g_dbus_message_new_method_reply (call);
	g_dbus_message_set_body (reply, g_variant_new ("(@a{oa{sa{sv}}})", fb->held_state));
	g_dbus_connection_send_message (fb->conn, reply, G_DBUS_SEND_MESSAGE_FLAGS_NONE, NULL, NULL);
	g_clear_pointer (&fb->held_state, g_variant_unref);
}

/* Runs in the connection's worker thread, for what the fake sends and
 * receives: drops what bluetoothd is told to lose or leave unanswered. */
static GDBusMessage *
filter (GDBusConnection *conn, GDBusMessage *msg, gboolean incoming, gpointer data)
{
	FakeBluez *fb = data;
	GDBusMessageType type = g_dbus_message_get_message_type (msg);
	gboolean drop = FALSE;

	g_mutex_lock (&fb->lock);
	if (incoming && (fb->stalled || (fb->holding && fb->held_call == NULL)) &&
	    type == G_DBUS_MESSAGE_TYPE_METHOD_CALL &&
	    g_strcmp0 (g_dbus_message_get_member (msg), "GetManagedObjects") == 0) {
		fb->stalled_calls++;
		if (!fb->stalled)
			fb->held_call = g_object_ref (msg);
		drop = TRUE;
	} else if (!incoming && type == G_DBUS_MESSAGE_TYPE_SIGNAL &&
	           g_strcmp0 (g_dbus_message_get_member (msg), "PropertiesChanged") == 0 &&
	           g_hash_table_contains (fb->muted, g_dbus_message_get_path (msg)) &&
	           g_dbus_message_get_body (msg) != NULL &&
	           g_variant_is_of_type (g_dbus_message_get_body (msg), G_VARIANT_TYPE ("(sa{sv}as)"))) {
		g_autoptr (GVariant) changed = g_variant_get_child_value (g_dbus_message_get_body (msg), 1);
		gboolean up = FALSE;

		/* "device_add_connection() … is already connected": no signal */
		drop = (g_variant_lookup (changed, "Connected", "b", &up) && up) ||
		       (g_variant_lookup (changed, "ServicesResolved", "b", &up) && up);
	}
	g_mutex_unlock (&fb->lock);
	if (drop) {
		g_object_unref (msg);
		return NULL;
	}
	return msg;
}

void
fake_bluez_add_characteristic (FakeBluez *fb, const char *address, const char *uuid, const char *flags,
                               const guint8 *value, gsize len)
{
	FakeDevice *d = find_device (fb, address);
	FakeChar *c = g_new0 (FakeChar, 1);

	c->fb = fb;
	c->uuid = g_strdup (uuid);
	c->path = g_strdup_printf ("%s/service0010/char%04x", d->path, 0x11 + d->chars->len);
	c->flags = g_strsplit (flags, ",", -1);
	c->obj = fbz_object_skeleton_new (c->path);
	c->iface = fbz_gatt_characteristic1_skeleton_new ();
	fbz_gatt_characteristic1_set_uuid (c->iface, uuid);
	fbz_gatt_characteristic1_set_service (c->iface, d->path);
	fbz_gatt_characteristic1_set_flags (c->iface, (const char * const *) c->flags);
	fbz_gatt_characteristic1_set_value (c->iface,
		g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, value, len, 1));
	g_signal_connect (c->iface, "handle-read-value", G_CALLBACK (handle_read), c);
	g_signal_connect (c->iface, "handle-write-value", G_CALLBACK (handle_write), c);
	g_signal_connect (c->iface, "handle-start-notify", G_CALLBACK (handle_start_notify), c);
	fbz_object_skeleton_set_gatt_characteristic1 (c->obj, c->iface);
	g_ptr_array_add (d->chars, c);
}

void
fake_bluez_set_value (FakeBluez *fb, const char *address, const char *uuid, const guint8 *value, gsize len)
{
	FakeChar *c = find_char (find_device (fb, address), uuid);

	fbz_gatt_characteristic1_set_value (c->iface, g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, value, len, 1));
}

void
fake_bluez_set_service_data (FakeBluez *fb, const char *address, const char *uuid, const guint8 *data,
                             gsize len)
{
	FakeDevice *d = find_device (fb, address);
	GVariantBuilder b;

	g_variant_builder_init (&b, G_VARIANT_TYPE ("a{sv}"));
	g_variant_builder_add (&b, "{sv}", uuid, g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, data, len, 1));
	fbz_device1_set_service_data (d->iface, g_variant_builder_end (&b));
	/* the monitors whose patterns match hear it */
	for (guint k = 0; k < fb->monitor_paths->len; k++) {
		if (monitor_matches (g_ptr_array_index (fb->monitor_patterns, k),
		                     fbz_device1_get_service_data (d->iface), NULL))
			call_monitor (fb, g_ptr_array_index (fb->monitor_paths, k), "DeviceFound",
			              g_variant_new ("(o)", d->path));
	}
}

void
fake_bluez_drop_link (FakeBluez *fb, const char *address)
{
	FakeDevice *d = find_device (fb, address);

	fbz_device1_set_services_resolved (d->iface, FALSE);
	fbz_device1_set_connected (d->iface, FALSE);
	export_chars (d, FALSE);
}

void
fake_bluez_hold_services (FakeBluez *fb, const char *address)
{
	find_device (fb, address)->hold_services = TRUE;
}

void
fake_bluez_resolve_before_export (FakeBluez *fb, const char *address)
{
	find_device (fb, address)->resolve_before_export = TRUE;
}

void
fake_bluez_export_characteristics (FakeBluez *fb, const char *address)
{
	export_chars (find_device (fb, address), TRUE);
}

void
fake_bluez_resolve_services (FakeBluez *fb, const char *address)
{
	FakeDevice *d = find_device (fb, address);

	d->hold_services = FALSE;
	export_chars (d, TRUE);
	fbz_device1_set_services_resolved (d->iface, TRUE);
}

void
fake_bluez_fail_connects (FakeBluez *fb, const char *address, guint n)
{
	find_device (fb, address)->fail_connects = n;
}

guint
fake_bluez_connects (FakeBluez *fb, const char *address)
{
	return find_device (fb, address)->connects;
}

guint
fake_bluez_start_notifies (FakeBluez *fb, const char *address, const char *uuid)
{
	return find_char (find_device (fb, address), uuid)->notifies;
}

gboolean
fake_bluez_is_connected (FakeBluez *fb, const char *address)
{
	return fbz_device1_get_connected (find_device (fb, address)->iface);
}

guint
fake_bluez_reads (FakeBluez *fb, const char *address, const char *uuid)
{
	return find_char (find_device (fb, address), uuid)->reads;
}

GBytes *
fake_bluez_written (FakeBluez *fb, const char *address, const char *uuid)
{
	return find_char (find_device (fb, address), uuid)->written;
}

const char *
fake_bluez_write_type (FakeBluez *fb, const char *address, const char *uuid)
{
	return find_char (find_device (fb, address), uuid)->write_type;
}

gboolean
fake_bluez_discovering (FakeBluez *fb)
{
	return fbz_adapter1_get_discovering (fb->adapter);
}

guint
fake_bluez_discovery_starts (FakeBluez *fb)
{
	return fb->discovery_starts;
}

void
fake_bluez_set_powered (FakeBluez *fb, gboolean powered)
{
	if (!powered)
		fbz_adapter1_set_discovering (fb->adapter, FALSE);
	fbz_adapter1_set_powered (fb->adapter, powered);
}

/* ---- the daemon ------------------------------------------------------------------ */

void
fake_bluez_restart (FakeBluez *fb)
{
	g_dbus_object_manager_server_export (fb->om, G_DBUS_OBJECT_SKELETON (fb->adapter_obj));
	for (guint i = 0; i < fb->adapters->len; i++)
		g_dbus_object_manager_server_export (fb->om, g_ptr_array_index (fb->adapters, i));
	for (guint i = 0; i < fb->devices->len; i++) {
		FakeDevice *d = g_ptr_array_index (fb->devices, i);

		g_dbus_object_manager_server_export (fb->om, G_DBUS_OBJECT_SKELETON (d->obj));
	}
	g_dbus_object_manager_server_set_connection (fb->om, fb->conn);
	fb->owner_id = g_bus_own_name_on_connection (fb->conn, "org.bluez", G_BUS_NAME_OWNER_FLAGS_NONE,
	                                             on_acquired, on_lost, fb, NULL);
	wait_owned (fb, TRUE);
}

void
fake_bluez_stop (FakeBluez *fb)
{
	/* a new bluetoothd starts with every link down */
	for (guint i = 0; i < fb->devices->len; i++) {
		FakeDevice *d = g_ptr_array_index (fb->devices, i);

		fake_bluez_drop_link (fb, d->address);
		g_dbus_object_manager_server_unexport (fb->om, d->path);
	}
	g_dbus_object_manager_server_unexport (fb->om, ADAPTER_PATH);
	for (guint i = 0; i < fb->adapters->len; i++)
		g_dbus_object_manager_server_unexport (fb->om,
			g_dbus_object_get_object_path (g_ptr_array_index (fb->adapters, i)));
	fbz_adapter1_set_discovering (fb->adapter, FALSE);
	g_clear_pointer (&fb->monitors, g_free);
	g_ptr_array_set_size (fb->monitor_paths, 0);
	g_ptr_array_set_size (fb->monitor_patterns, 0);
	g_bus_unown_name (fb->owner_id);
	fb->owner_id = 0;
	fb->owned = FALSE;
	g_dbus_object_manager_server_set_connection (fb->om, NULL);
}

FakeBluez *
fake_bluez_new (const char *address)
{
	FakeBluez *fb = g_new0 (FakeBluez, 1);
	g_autoptr (GError) error = NULL;

	fb->conn = g_dbus_connection_new_for_address_sync (address,
		G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT | G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
		NULL, NULL, &error);
	g_assert_no_error (error);
	fb->devices = g_ptr_array_new_with_free_func ((GDestroyNotify) fake_device_free);
	fb->adapters = g_ptr_array_new_with_free_func (g_object_unref);
	g_mutex_init (&fb->lock);
	fb->muted = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
	fb->filter_id = g_dbus_connection_add_filter (fb->conn, filter, fb, NULL);
	fb->om = g_dbus_object_manager_server_new ("/");
	fb->adapter_obj = fbz_object_skeleton_new (ADAPTER_PATH);
	fb->adapter = fbz_adapter1_skeleton_new ();
	fbz_adapter1_set_address (fb->adapter, "00:1A:7D:DA:71:13");
	fbz_adapter1_set_powered (fb->adapter, TRUE);
	g_signal_connect (fb->adapter, "handle-set-discovery-filter", G_CALLBACK (handle_filter), fb);
	g_signal_connect (fb->adapter, "handle-start-discovery", G_CALLBACK (handle_start_discovery), fb);
	fbz_object_skeleton_set_adapter1 (fb->adapter_obj, fb->adapter);
	fb->monitor_paths = g_ptr_array_new_with_free_func (g_free);
	fb->monitor_patterns = g_ptr_array_new_with_free_func ((GDestroyNotify) g_variant_unref);
	fb->cancellable = g_cancellable_new ();
	fb->monitor_manager = fbz_advertisement_monitor_manager1_skeleton_new ();
	fbz_advertisement_monitor_manager1_set_supported_monitor_types (fb->monitor_manager,
		(const char * const[]) { "or_patterns", NULL });
	g_signal_connect (fb->monitor_manager, "handle-register-monitor", G_CALLBACK (handle_register_monitor), fb);
	fbz_object_skeleton_set_advertisement_monitor_manager1 (fb->adapter_obj, fb->monitor_manager);
	fake_bluez_restart (fb);
	return fb;
}

void
fake_bluez_free (FakeBluez *fb)
{
	if (fb->owned)
		fake_bluez_stop (fb);
	g_dbus_connection_remove_filter (fb->conn, fb->filter_id);
	g_clear_object (&fb->held_call);
	g_clear_pointer (&fb->held_state, g_variant_unref);
	g_ptr_array_unref (fb->devices);
	g_ptr_array_unref (fb->adapters);
	g_hash_table_unref (fb->muted);
	g_mutex_clear (&fb->lock);
	g_object_unref (fb->adapter);
	g_object_unref (fb->monitor_manager);
	g_ptr_array_unref (fb->monitor_paths);
	g_ptr_array_unref (fb->monitor_patterns);
	g_cancellable_cancel (fb->cancellable);
	g_object_unref (fb->cancellable);
	g_free (fb->monitors);
	g_free (fb->monitor_owner);
	g_object_unref (fb->adapter_obj);
	g_object_unref (fb->om);
	g_object_unref (fb->conn);
	g_free (fb);
}

void
fake_bluez_advertise (FakeBluez *fb, const char *address, GVariant *service_data, GVariant *manufacturer_data,
                      gint16 rssi)
{
	FakeDevice *d = find_device (fb, address);
	g_autoptr (GVariant) sd = service_data ? g_variant_ref_sink (service_data) : NULL;
	g_autoptr (GVariant) md = manufacturer_data ? g_variant_ref_sink (manufacturer_data) : NULL;
	g_autoptr (GPtrArray) found = g_ptr_array_new ();

	for (guint k = 0; k < fb->monitor_paths->len; k++) {
		if (monitor_matches (g_ptr_array_index (fb->monitor_patterns, k),
		                     sd ? sd : fbz_device1_get_service_data (d->iface),
		                     md ? md : fbz_device1_get_manufacturer_data (d->iface)))
			g_ptr_array_add (found, g_ptr_array_index (fb->monitor_paths, k));
	}
	/* scanning passively, bluetoothd hears what its monitors' patterns match, nothing else */
	if (fb->monitor_paths->len > 0 && found->len == 0 && !fake_bluez_discovering (fb)) {
		g_message ("fake bluetoothd: %s's advertisement matches no monitor: not heard", address);
		return;
	}
	if (sd != NULL)
		fbz_device1_set_service_data (d->iface, sd);
	if (md != NULL)
		fbz_device1_set_manufacturer_data (d->iface, md);
	fbz_device1_set_rssi (d->iface, rssi);
	for (guint k = 0; k < found->len; k++)
		call_monitor (fb, g_ptr_array_index (found, k), "DeviceFound", g_variant_new ("(o)", d->path));
}

guint
fake_bluez_devices_found (FakeBluez *fb)
{
	return fb->devices_found;
}
