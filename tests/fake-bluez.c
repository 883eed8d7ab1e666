/* fake-bluez.c — see fake-bluez.h. The objects are the gdbus-codegen
 * skeletons of tests/fake-bluez.xml under an ObjectManager at "/", as
 * bluetoothd exports them. */
#include "fake-bluez.h"
#include "fake-bluez-gen.h"

#include <string.h>

typedef struct {
	char                    *uuid;
	char                    *path;
	char                   **flags;
	FbzObjectSkeleton       *obj;
	FbzGattCharacteristic1  *iface;
	guint                    notifies;
	GBytes                  *written;
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
	gboolean           chars_exported;
} FakeDevice;

struct _FakeBluez {
	GDBusConnection          *conn;
	GDBusObjectManagerServer *om;
	FbzObjectSkeleton        *adapter_obj;
	FbzAdapter1              *adapter;
	GPtrArray                *devices;   /* FakeDevice */
	guint                     owner_id;
	gboolean                  owned;
};

#define ADAPTER_PATH "/org/bluez/hci0"

static void
fake_char_free (FakeChar *c)
{
	g_free (c->uuid);
	g_free (c->path);
	g_strfreev (c->flags);
	g_clear_object (&c->obj);
	g_clear_object (&c->iface);
	g_clear_pointer (&c->written, g_bytes_unref);
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

static gboolean
handle_read (FbzGattCharacteristic1 *i, GDBusMethodInvocation *inv, GVariant *options, gpointer data)
{
	fbz_gatt_characteristic1_complete_read_value (i, inv, fbz_gatt_characteristic1_get_value (i));
	return TRUE;
}

static gboolean
handle_write (FbzGattCharacteristic1 *i, GDBusMethodInvocation *inv, GVariant *value, GVariant *options,
              gpointer data)
{
	FakeChar *c = data;
	gsize len;
	gconstpointer bytes = g_variant_get_fixed_array (value, &len, 1);

	if (!g_strv_contains ((const char * const *) c->flags, "write")) {
		g_dbus_method_invocation_return_dbus_error (inv, "org.bluez.Error.NotPermitted", "Write not permitted");
		return TRUE;
	}
	g_clear_pointer (&c->written, g_bytes_unref);
	c->written = g_bytes_new (bytes, len);
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
	fbz_device1_set_connected (i, TRUE);
	export_chars (d, TRUE);
	fbz_device1_set_services_resolved (i, TRUE);
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
	fbz_adapter1_set_discovering (i, TRUE);
	fbz_adapter1_complete_start_discovery (i, inv);
	return TRUE;
}

const char *
fake_bluez_add_device (FakeBluez *fb, const char *address, const char *alias, gboolean paired)
{
	FakeDevice *d = g_new0 (FakeDevice, 1);
	g_autofree char *tail = g_strdelimit (g_strdup (address), ":", '_');

	d->fb = fb;
	d->address = g_strdup (address);
	d->path = g_strdup_printf (ADAPTER_PATH "/dev_%s", tail);
	d->chars = g_ptr_array_new_with_free_func ((GDestroyNotify) fake_char_free);
	d->obj = fbz_object_skeleton_new (d->path);
	d->iface = fbz_device1_skeleton_new ();
	fbz_device1_set_address (d->iface, address);
	fbz_device1_set_alias (d->iface, alias);
	fbz_device1_set_adapter (d->iface, ADAPTER_PATH);
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

void
fake_bluez_add_characteristic (FakeBluez *fb, const char *address, const char *uuid, const char *flags,
                               const guint8 *value, gsize len)
{
	FakeDevice *d = find_device (fb, address);
	FakeChar *c = g_new0 (FakeChar, 1);

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

GBytes *
fake_bluez_written (FakeBluez *fb, const char *address, const char *uuid)
{
	return find_char (find_device (fb, address), uuid)->written;
}

gboolean
fake_bluez_discovering (FakeBluez *fb)
{
	return fbz_adapter1_get_discovering (fb->adapter);
}

/* ---- the daemon ------------------------------------------------------------------ */

void
fake_bluez_restart (FakeBluez *fb)
{
	g_dbus_object_manager_server_export (fb->om, G_DBUS_OBJECT_SKELETON (fb->adapter_obj));
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
	fbz_adapter1_set_discovering (fb->adapter, FALSE);
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
	fb->om = g_dbus_object_manager_server_new ("/");
	fb->adapter_obj = fbz_object_skeleton_new (ADAPTER_PATH);
	fb->adapter = fbz_adapter1_skeleton_new ();
	fbz_adapter1_set_address (fb->adapter, "00:1A:7D:DA:71:13");
	fbz_adapter1_set_powered (fb->adapter, TRUE);
	g_signal_connect (fb->adapter, "handle-set-discovery-filter", G_CALLBACK (handle_filter), fb);
	g_signal_connect (fb->adapter, "handle-start-discovery", G_CALLBACK (handle_start_discovery), fb);
	fbz_object_skeleton_set_adapter1 (fb->adapter_obj, fb->adapter);
	fake_bluez_restart (fb);
	return fb;
}

void
fake_bluez_free (FakeBluez *fb)
{
	if (fb->owned)
		fake_bluez_stop (fb);
	g_ptr_array_unref (fb->devices);
	g_object_unref (fb->adapter);
	g_object_unref (fb->adapter_obj);
	g_object_unref (fb->om);
	g_object_unref (fb->conn);
	g_free (fb);
}
