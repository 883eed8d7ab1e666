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
#include "gateway.h"
#include "bthome.h"
#include "gatt-codec.h"
#include "bluez-monitor.h"
#include "i18n.h"

#include <gio/gio.h>
#include <math.h>
#include <string.h>

#define BLUEZ           "org.bluez"
#define IFACE_ADAPTER   "org.bluez.Adapter1"
#define IFACE_DEVICE    "org.bluez.Device1"
#define IFACE_CHAR      "org.bluez.GattCharacteristic1"
#define IFACE_MONITOR_MANAGER "org.bluez.AdvertisementMonitorManager1"
#define MONITOR_ROOT    "/org/tbgw/ble_monitor"
#define BTHOME_UUID     "0000fcd2-0000-1000-8000-00805f9b34fb"
#define CALL_TIMEOUT_MS 10000
#define BACKOFF_MAX_S   60

extern const TbgSource tbg_source_ble;

/* "char.UUID = key format [scale [offset]]", "rpc.METHOD = UUID format",
 * "attribute.NAME = UUID format" */
typedef struct {
	char          *uuid;    /* normalised */
	char          *key;     /* telemetry key, RPC method or attribute name */
	TbgGattFormat  format;
	double         scale, offset;
} Mapping;

typedef struct {
	char      *name;
	char      *address;   /* upper case */
	char      *type;
	gboolean   rssi;
	guint      read_interval_s;
	GPtrArray *chars, *rpcs, *attributes;   /* Mapping */
} DeviceConfig;

typedef struct _BleSource BleSource;

typedef struct {
	BleSource    *src;
	char         *path;
	DeviceConfig *conf;        /* NULL: not in the config */
	TbgDevice    *dev;
	guint         retry_id;
	guint         backoff_s;
	gboolean      connecting;
	guint         read_id;
	guint8        last_packet;
	gboolean      have_packet;
	gboolean      over_gatt;   /* connected by us, not only advertising */
	gboolean      armed;       /* notifications started since services resolved */
	GCancellable *cancellable; /* its calls to BlueZ; cancelled when it goes */
} BleDevice;

struct _BleSource {
	TbgGateway         *gw;
	GDBusObjectManager *om;
	GCancellable       *cancellable;
	char               *adapter_pref;   /* "hci0" or an address; NULL: first powered */
	char               *scan;           /* "active", "passive", "off" */
	gboolean            bthome;
	gboolean            rssi;
	GPtrArray          *configs;        /* DeviceConfig */
	GHashTable         *devices;        /* object path → BleDevice */
	char               *scanning_on;    /* adapter path discovery was started on */
	GDBusObjectManagerServer *monitors; /* scan=passive: our advertisement monitor */
	gboolean            bluez_up;
};

/* ---- configuration ------------------------------------------------------------------ */

static const char * const global_keys[] = { "adapter", "scan", "bthome", "rssi", NULL };
static const char * const config_keys[] = { "address", "type", "rssi", "read-interval-s",
                                            "char.*", "rpc.*", "attribute.*", NULL };

static void
mapping_free (Mapping *m)
{
	g_free (m->uuid);
	g_free (m->key);
	g_free (m);
}

static void
device_config_free (DeviceConfig *c)
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

static DeviceConfig *
load_device_config (const TbgConfig *cfg, const char *name, GError **error)
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
	device_config_free (c);
	return NULL;
}

static DeviceConfig *
config_for_address (BleSource *src, const char *address)
{
	for (guint i = 0; address != NULL && i < src->configs->len; i++) {
		DeviceConfig *c = g_ptr_array_index (src->configs, i);

		if (g_ascii_strcasecmp (c->address, address) == 0)
			return c;
	}
	return NULL;
}

/* ---- BlueZ object helpers ------------------------------------------------------------ */

static GDBusProxy *
proxy_at (BleSource *src, const char *path, const char *iface)
{
	return G_DBUS_PROXY (g_dbus_object_manager_get_interface (src->om, path, iface));
}

static gboolean
bool_prop (GDBusProxy *p, const char *name)
{
	g_autoptr (GVariant) v = p ? g_dbus_proxy_get_cached_property (p, name) : NULL;

	return v != NULL && g_variant_is_of_type (v, G_VARIANT_TYPE_BOOLEAN) && g_variant_get_boolean (v);
}

static char *
string_prop (GDBusProxy *p, const char *name)
{
	g_autoptr (GVariant) v = p ? g_dbus_proxy_get_cached_property (p, name) : NULL;

	return v != NULL && g_variant_is_of_type (v, G_VARIANT_TYPE_STRING) ? g_variant_dup_string (v, NULL)
	                                                                    : NULL;
}

/* A characteristic's Flags ("read", "notify", …); NULL if it has none. */
static const char **
flags_of (GDBusProxy *ch)
{
	g_autoptr (GVariant) v = g_dbus_proxy_get_cached_property (ch, "Flags");

	return v != NULL && g_variant_is_of_type (v, G_VARIANT_TYPE_STRING_ARRAY) ? g_variant_get_strv (v, NULL)
	                                                                          : NULL;
}

/* The characteristics of a device: proxies below its path. */
static GList *
device_characteristics (BleSource *src, const char *dev_path)
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

static GDBusProxy *
find_characteristic (BleSource *src, const char *dev_path, const char *uuid)
{
	GList *chars = device_characteristics (src, dev_path);
	GDBusProxy *found = NULL;

	for (GList *l = chars; l != NULL && found == NULL; l = l->next) {
		g_autofree char *u = string_prop (l->data, "UUID");

		if (u != NULL && g_ascii_strcasecmp (u, uuid) == 0)
			found = g_object_ref (l->data);
	}
	g_list_free_full (chars, g_object_unref);
	return found;
}

/* ---- values → telemetry ------------------------------------------------------------ */

static const Mapping *
mapping_for (GPtrArray *maps, const char *uuid)
{
	for (guint i = 0; maps != NULL && i < maps->len; i++) {
		const Mapping *m = g_ptr_array_index (maps, i);

		if (g_ascii_strcasecmp (m->uuid, uuid) == 0)
			return m;
	}
	return NULL;
}

/* The mapping of an RPC method or attribute name. */
static const Mapping *
mapping_named (GPtrArray *maps, const char *key)
{
	for (guint i = 0; maps != NULL && i < maps->len; i++) {
		const Mapping *m = g_ptr_array_index (maps, i);

		if (g_str_equal (m->key, key))
			return m;
	}
	return NULL;
}

/* NULL if we have no way to decode this characteristic. */
static json_t *
decode_value (BleDevice *bd, const char *uuid, GVariant *value, const char **key, GError **error)
{
	gsize len = 0;
	const guint8 *data = g_variant_get_fixed_array (value, &len, 1);
	const Mapping *m = bd->conf ? mapping_for (bd->conf->chars, uuid) : NULL;
	json_t *v = NULL;

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
	return (bd->conf != NULL && mapping_for (bd->conf->chars, uuid) != NULL) ||
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
		if (error != NULL)
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

/* ---- device life cycle ------------------------------------------------------------ */

static void schedule_connect (BleDevice *bd);

static gboolean
wanted (BleSource *src, GDBusProxy *dev)
{
	g_autofree char *address = string_prop (dev, "Address");

	return config_for_address (src, address) != NULL ||
	       (bool_prop (dev, "Paired") && bool_prop (dev, "Trusted"));
}

typedef struct {
	BleDevice *bd;     /* valid unless the call was cancelled */
	char      *uuid;
} ReadCall;

static void
read_done (GObject *obj, GAsyncResult *res, gpointer data)
{
	ReadCall *rc = data;
	g_autoptr (GError) error = NULL;
	g_autoptr (GVariant) r = g_dbus_proxy_call_finish (G_DBUS_PROXY (obj), res, &error);

	if (r != NULL) {
		g_autoptr (GVariant) value = g_variant_get_child_value (r, 0);

		push_value (rc->bd, rc->uuid, value);
	} else if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
		g_debug ("ReadValue %s: %s", rc->uuid, error->message);
	}
	g_free (rc->uuid);
	g_free (rc);
}

/* Reads those of @chars (from device_characteristics) we have a mapping for. */
static void
read_listed (BleDevice *bd, GList *chars, gboolean only_unnotified)
{
	for (GList *l = chars; l != NULL; l = l->next) {
		GDBusProxy *c = l->data;
		g_autofree char *uuid = string_prop (c, "UUID");
		g_autofree const char **f = flags_of (c);
		ReadCall *rc;

		if (uuid == NULL || !knows_uuid (bd, uuid) || f == NULL || !g_strv_contains (f, "read"))
			continue;
		if (only_unnotified && bool_prop (c, "Notifying"))
			continue;
		rc = g_new0 (ReadCall, 1);
		rc->bd = bd;
		rc->uuid = g_strdup (uuid);
		g_dbus_proxy_call (c, "ReadValue", g_variant_new_parsed ("(@a{sv} {},)"),
		                   G_DBUS_CALL_FLAGS_NONE, CALL_TIMEOUT_MS, bd->cancellable, read_done, rc);
	}
}

static void
read_all (BleDevice *bd, gboolean only_unnotified)
{
	GList *chars = device_characteristics (bd->src, bd->path);

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

/* After every (re)connect: BlueZ forgets notifications with the link. */
static void
arm_notifications (BleDevice *bd)
{
	GList *chars = device_characteristics (bd->src, bd->path);

	for (GList *l = chars; l != NULL; l = l->next) {
		GDBusProxy *c = l->data;
		g_autofree char *uuid = string_prop (c, "UUID");
		g_autofree const char **f = flags_of (c);

		if (uuid == NULL || f == NULL || !knows_uuid (bd, uuid))
			continue;
		if (g_strv_contains (f, "notify") || g_strv_contains (f, "indicate"))
			g_dbus_proxy_call (c, "StartNotify", NULL, G_DBUS_CALL_FLAGS_NONE, CALL_TIMEOUT_MS,
			                   bd->cancellable, notify_started, g_strdup (uuid));
	}
	read_listed (bd, chars, FALSE);
	g_list_free_full (chars, g_object_unref);
	g_clear_handle_id (&bd->read_id, g_source_remove);
	if (bd->conf != NULL && bd->conf->read_interval_s > 0)
		bd->read_id = g_timeout_add_seconds (bd->conf->read_interval_s, read_cb, bd);
}

static TbgDevice *
ensure_gateway_device (BleDevice *bd, GDBusProxy *dev)
{
	g_autoptr (GError) error = NULL;
	g_autofree char *address = string_prop (dev, "Address");
	g_autofree char *alias = string_prop (dev, "Alias");
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
static void
update_device (BleDevice *bd)
{
	GDBusProxy *dev = proxy_at (bd->src, bd->path, IFACE_DEVICE);
	gboolean connected, resolved;

	if (dev == NULL)
		return;
	connected = bool_prop (dev, "Connected");
	resolved = connected && bool_prop (dev, "ServicesResolved");
	if (connected && ensure_gateway_device (bd, dev) != NULL && !tbg_device_get_connected (bd->dev)) {
		g_message (_("BLE device “%s” (%s) connected"), tbg_device_get_name (bd->dev),
		           bd->path);
		bd->backoff_s = 0;
		tbg_device_set_connected (bd->dev, TRUE);
	}
	if (connected && bd->dev != NULL) {
		bd->over_gatt = TRUE;
		if (resolved && !bd->armed) {
			bd->armed = TRUE;
			arm_notifications (bd);
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
	g_autoptr (GDBusProxy) dev = proxy_at (bd->src, bd->path, IFACE_DEVICE);

	bd->retry_id = 0;
	if (dev == NULL || bool_prop (dev, "Connected") || bd->connecting)
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

/* ---- advertisements (BTHome) -------------------------------------------------------- */

static void
handle_service_data (BleDevice *bd, GDBusProxy *dev)
{
	g_autoptr (GVariant) sd = g_dbus_proxy_get_cached_property (dev, "ServiceData");
	g_autoptr (GVariant) data = NULL;
	g_autoptr (GError) error = NULL;
	TbgBthomePacket p = { 0 };
	gconstpointer bytes;
	gsize len;

	if (sd == NULL || !g_variant_is_of_type (sd, G_VARIANT_TYPE_VARDICT) ||
	    (!bd->src->bthome && bd->conf == NULL))
		return;
	/* a{sv}: the lookup unwraps the variant and checks its type */
	data = g_variant_lookup_value (sd, BTHOME_UUID, G_VARIANT_TYPE_BYTESTRING);
	if (data == NULL)
		return;
	bytes = g_variant_get_fixed_array (data, &len, 1);
	if (!tbg_bthome_decode (bytes, len, &p, &error)) {
		g_autofree char *address = string_prop (dev, "Address");

		g_message (_("BTHome data from %s ignored: %s"), address, error->message);
		return;
	}
	if (tbg_bthome_is_duplicate (&bd->last_packet, &bd->have_packet, &p)) {
		tbg_bthome_packet_clear (&p);
		return;
	}
	if (ensure_gateway_device (bd, dev) != NULL) {
		if (!tbg_device_get_connected (bd->dev))
			tbg_device_set_connected (bd->dev, TRUE);
		if (json_object_size (p.values) > 0 &&
		    !tbg_device_push_telemetry (bd->dev, 0, p.values, &error))
			g_message ("%s: %s", tbg_device_get_name (bd->dev), error->message);
	}
	tbg_bthome_packet_clear (&p);
}

static void
handle_rssi (BleDevice *bd, GDBusProxy *dev)
{
	g_autoptr (GVariant) rssi = g_dbus_proxy_get_cached_property (dev, "RSSI");
	json_t *values;

	if (rssi == NULL || bd->dev == NULL || !tbg_device_get_connected (bd->dev) ||
	    !(bd->conf ? bd->conf->rssi : bd->src->rssi) || !g_variant_is_of_type (rssi, G_VARIANT_TYPE_INT16))
		return;
	values = json_pack ("{s:i}", "rssi", (int) g_variant_get_int16 (rssi));
	tbg_device_push_telemetry (bd->dev, 0, values, NULL);
	json_decref (values);
}

/* ---- the object manager -------------------------------------------------------------- */

static void
ble_device_free (BleDevice *bd)
{
	/* pending callbacks see the cancellation and leave bd alone */
	g_cancellable_cancel (bd->cancellable);
	g_object_unref (bd->cancellable);
	g_clear_handle_id (&bd->retry_id, g_source_remove);
	g_clear_handle_id (&bd->read_id, g_source_remove);
	/* the gateway owns it */
	if (bd->dev != NULL) {
		tbg_device_set_source_data (bd->dev, NULL, NULL);
		tbg_gateway_remove_device (bd->src->gw, bd->dev);
	}
	g_free (bd->path);
	g_free (bd);
}

static void
device_added (BleSource *src, GDBusProxy *dev)
{
	const char *path = g_dbus_proxy_get_object_path (dev);
	g_autofree char *address = string_prop (dev, "Address");
	BleDevice *bd;

	if (g_hash_table_contains (src->devices, path))
		return;
	bd = g_new0 (BleDevice, 1);
	bd->src = src;
	bd->path = g_strdup (path);
	bd->cancellable = g_cancellable_new ();
	bd->conf = config_for_address (src, address);
	g_hash_table_insert (src->devices, bd->path, bd);
	if (wanted (src, dev)) {
		g_message (_("BLE device %s (%s) found; connecting"), address, path);
		update_device (bd);   /* connects it when it is not */
	}
	handle_service_data (bd, dev);
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
	                   g_variant_new_parsed ("({'Transport': <'le'>, 'DuplicateData': <%b>},)", src->bthome),
	                   G_DBUS_CALL_FLAGS_NONE, CALL_TIMEOUT_MS, src->cancellable, filter_set, src);
}

/* ---- passive scanning: an advertisement monitor ------------------------------------ */

static gboolean
monitor_handle_simple (TbgBluezAdvertisementMonitor1 *mon, GDBusMethodInvocation *inv, gpointer data)
{
	const char *method = g_dbus_method_invocation_get_method_name (inv);

	if (g_str_equal (method, "Activate"))
		g_message (_("BlueZ watches passively for BTHome advertisements"));
	else
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
export_monitor (BleSource *src)
{
	g_autoptr (TbgBluezObjectSkeleton) obj = NULL;
	g_autoptr (TbgBluezAdvertisementMonitor1) mon = NULL;
	GDBusConnection *conn = g_dbus_object_manager_client_get_connection (G_DBUS_OBJECT_MANAGER_CLIENT (src->om));

	if (src->monitors != NULL)
		return;
	obj = tbg_bluez_object_skeleton_new (MONITOR_ROOT "/bthome");
	mon = tbg_bluez_advertisement_monitor1_skeleton_new ();
	tbg_bluez_advertisement_monitor1_set_type_ (mon, "or_patterns");
	/* AD type 0x16 (service data, 16-bit UUID) starting with the BTHome UUID, little endian */
	tbg_bluez_advertisement_monitor1_set_patterns (mon,
		g_variant_new_parsed ("[(byte 0x00, byte 0x16, [byte 0xd2, 0xfc])]"));
	g_signal_connect (mon, "handle-activate", G_CALLBACK (monitor_handle_simple), src);
	g_signal_connect (mon, "handle-release", G_CALLBACK (monitor_handle_simple), src);
	g_signal_connect (mon, "handle-device-found", G_CALLBACK (monitor_handle_device), src);
	g_signal_connect (mon, "handle-device-lost", G_CALLBACK (monitor_handle_device), src);
	tbg_bluez_object_skeleton_set_advertisement_monitor1 (obj, mon);
	src->monitors = g_dbus_object_manager_server_new (MONITOR_ROOT);
	g_dbus_object_manager_server_export (src->monitors, G_DBUS_OBJECT_SKELETON (obj));
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
	adapter = proxy_at (src, g_dbus_proxy_get_object_path (G_DBUS_PROXY (obj)), IFACE_ADAPTER);
	if (adapter != NULL)
		start_active_discovery (src, adapter);
}

/* BlueZ scans passively only for advertisement monitors (an experimental
 * API: bluetoothd --experimental); without it, an active scan. */
static gboolean
start_passive_scan (BleSource *src, GDBusProxy *adapter)
{
	const char *path = g_dbus_proxy_get_object_path (adapter);
	g_autoptr (GDBusProxy) manager = proxy_at (src, path, IFACE_MONITOR_MANAGER);
	g_autoptr (GVariant) types = manager ? g_dbus_proxy_get_cached_property (manager, "SupportedMonitorTypes") : NULL;
	g_autofree const char **t = types && g_variant_is_of_type (types, G_VARIANT_TYPE_STRING_ARRAY)
	                            ? g_variant_get_strv (types, NULL) : NULL;

	if (manager == NULL || (t != NULL && !g_strv_contains (t, "or_patterns"))) {
		g_message (_("BlueZ offers no advertisement monitors on %s (bluetoothd needs --experimental); "
		             "scanning actively instead of passively"), path);
		return FALSE;
	}
	export_monitor (src);
	g_dbus_proxy_call (manager, "RegisterMonitor", g_variant_new ("(o)", MONITOR_ROOT),
	                   G_DBUS_CALL_FLAGS_NONE, CALL_TIMEOUT_MS, src->cancellable, monitor_registered, src);
	g_message (_("Asking BlueZ on %s to scan passively for BTHome advertisements"), path);
	return TRUE;
}

static void
start_discovery (BleSource *src, GDBusProxy *adapter)
{
	const char *path = g_dbus_proxy_get_object_path (adapter);

	if (!bool_prop (adapter, "Powered")) {
		/* discovery and monitors end with the power; start again when it is back */
		if (g_strcmp0 (src->scanning_on, path) == 0)
			g_clear_pointer (&src->scanning_on, g_free);
		return;
	}
	if (g_str_equal (src->scan, "off") || src->scanning_on != NULL)
		return;
	if (g_str_equal (src->scan, "passive") && !src->bthome) {
		/* known devices connect without a scan; nothing else is wanted */
		g_message (_("[ble] scan=passive without bthome=true: nothing to scan for"));
		return;
	}
	src->scanning_on = g_strdup (path);
	if (g_str_equal (src->scan, "passive") && start_passive_scan (src, adapter))
		return;
	start_active_discovery (src, adapter);
}

static gboolean
adapter_chosen (BleSource *src, GDBusProxy *adapter)
{
	g_autofree char *address = string_prop (adapter, "Address");
	const char *path = g_dbus_proxy_get_object_path (adapter);
	const char *base = strrchr (path, '/') ? strrchr (path, '/') + 1 : path;

	if (src->adapter_pref == NULL)
		return bool_prop (adapter, "Powered");
	return g_str_equal (base, src->adapter_pref) ||
	       (address != NULL && g_ascii_strcasecmp (address, src->adapter_pref) == 0);
}

/* The BLE device whose GATT object @path is (…/dev_XX/serviceN/charM). */
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

	if (g_str_equal (name, IFACE_ADAPTER) && adapter_chosen (src, p))
		start_discovery (src, p);
	else if (g_str_equal (name, IFACE_DEVICE))
		device_added (src, p);
	else if (g_str_equal (name, IFACE_CHAR)) {
		/* services of a connected device resolve after the device appears */
		BleDevice *bd = device_owning (src, g_dbus_proxy_get_object_path (p));

		if (bd != NULL)
			update_device (bd);
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

/* Whether a change touches what update_device() looks at; RSSI and
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
		if (has_key (changed, "ServiceData"))
			handle_service_data (bd, p);
		if (has_key (changed, "RSSI"))
			handle_rssi (bd, p);
		if (changes_link_state (changed, invalidated))
			update_device (bd);
	} else if (g_str_equal (name, IFACE_CHAR)) {
		g_autoptr (GVariant) value = g_variant_lookup_value (changed, "Value", G_VARIANT_TYPE_BYTESTRING);
		g_autofree char *uuid = string_prop (p, "UUID");
		BleDevice *bd = device_owning (src, path);

		if (value != NULL && uuid != NULL && bd != NULL)
			push_value (bd, uuid, value);
	} else if (g_str_equal (name, IFACE_ADAPTER) &&
	           (adapter_chosen (src, p) || g_strcmp0 (path, src->scanning_on) == 0)) {
		start_discovery (src, p);
	}
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
	}
}

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
	g_autofree const char **f = flags_of (ch);

	if (f != NULL && !g_strv_contains (f, "write") && g_strv_contains (f, "write-without-response"))
		return "command";
	return "request";
}

static gboolean
start_char_call (BleDevice *bd, const char *uuid, TbgGattFormat format, double scale, double offset,
                 json_t *value, TbgRpc *rpc, GError **error)
{
	g_autoptr (GDBusProxy) ch = NULL;
	g_autoptr (GDBusProxy) dev = proxy_at (bd->src, bd->path, IFACE_DEVICE);
	g_autoptr (GBytes) bytes = NULL;
	const char *write_type;
	CharCall *c;

	/* fail at once rather than wait for BlueZ to time out */
	if (bd->dev == NULL || !tbg_device_get_connected (bd->dev) || !bool_prop (dev, "Connected")) {
		g_set_error (error, TBG_ERROR, TBG_ERROR_NOT_CONNECTED, "device is not connected");
		return FALSE;
	}
	ch = find_characteristic (bd->src, bd->path, uuid);
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

static void
ble_rpc (gpointer instance, TbgDevice *dev, TbgRpc *rpc)
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
	m = bd->conf != NULL ? mapping_named (bd->conf->rpcs, method) : NULL;
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

static void
ble_shared_attributes (gpointer instance, TbgDevice *dev, json_t *changed, const char * const *deleted)
{
	BleDevice *bd = tbg_device_get_source_data (dev);
	const char *key;
	json_t *v;

	if (bd == NULL || bd->conf == NULL || changed == NULL)
		return;
	json_object_foreach (changed, key, v) {
		const Mapping *m = mapping_named (bd->conf->attributes, key);
		g_autoptr (GError) error = NULL;

		if (m != NULL && !start_char_call (bd, m->uuid, m->format, m->scale, m->offset, v, NULL, &error))
			g_message (_("%s: shared attribute %s not written: %s"), tbg_device_get_name (dev), key,
			           error->message);
	}
}

/* ---- the source table ------------------------------------------------------------ */

static void
ble_stop (gpointer instance)
{
	BleSource *src = instance;

	if (src == NULL)
		return;
	g_cancellable_cancel (src->cancellable);
	if (src->om != NULL)
		g_signal_handlers_disconnect_by_data (src->om, src);
	g_clear_pointer (&src->devices, g_hash_table_unref);
	g_clear_object (&src->om);
	if (src->monitors != NULL)
		g_dbus_object_manager_server_set_connection (src->monitors, NULL);
	g_clear_object (&src->monitors);
	g_clear_object (&src->cancellable);
	g_ptr_array_unref (src->configs);
	g_free (src->adapter_pref);
	g_free (src->scan);
	g_free (src->scanning_on);
	g_free (src);
}

static gpointer
ble_start (TbgGateway *gw, const TbgConfig *cfg, GError **error)
{
	BleSource *src = g_new0 (BleSource, 1);
	g_auto (GStrv) names = tbg_config_device_groups (cfg, "ble");
	g_autoptr (GError) local = NULL;
	g_autofree char *owner = NULL;
	GList *objects;

	src->gw = gw;
	src->cancellable = g_cancellable_new ();
	src->configs = g_ptr_array_new_with_free_func ((GDestroyNotify) device_config_free);
	src->devices = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) ble_device_free);
	src->adapter_pref = tbg_config_get_string (cfg, "ble", "adapter", NULL);
	src->scan = tbg_config_get_string (cfg, "ble", "scan", "active");
	if (!g_strv_contains ((const char * const[]) { "active", "passive", "off", NULL }, src->scan)) {
		g_autofree char *where = tbg_config_where (cfg, "ble", "scan");

		g_set_error (error, TBG_CONFIG_ERROR, TBG_CONFIG_ERROR_BAD_VALUE,
		             _("%s: [ble] scan: “%s” is not active, passive or off"), where, src->scan);
		ble_stop (src);
		return NULL;
	}
	if (!tbg_config_get_bool (cfg, "ble", "bthome", FALSE, &src->bthome, error) ||
	    !tbg_config_get_bool (cfg, "ble", "rssi", FALSE, &src->rssi, error)) {
		ble_stop (src);
		return NULL;
	}
	for (guint i = 0; names[i] != NULL; i++) {
		DeviceConfig *c = load_device_config (cfg, names[i], error);

		if (c == NULL) {
			ble_stop (src);
			return NULL;
		}
		g_ptr_array_add (src->configs, c);
	}
	src->om = g_dbus_object_manager_client_new_for_bus_sync (
		cfg->session_bus ? G_BUS_TYPE_SESSION : G_BUS_TYPE_SYSTEM,
		G_DBUS_OBJECT_MANAGER_CLIENT_FLAGS_DO_NOT_AUTO_START, BLUEZ, "/", NULL, NULL, NULL, NULL,
		&local);
	if (src->om == NULL) {
		g_warning (cfg->session_bus ? _("No D-Bus session bus (%s); BLE devices are unavailable")
		                            : _("No D-Bus system bus (%s); BLE devices are unavailable"),
		           local->message);
		return src;
	}
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
	return src;
}

const TbgSource tbg_source_ble = {
	.name = "ble",
	.config_keys = config_keys,
	.global_keys = global_keys,
	.start = ble_start,
	.stop = ble_stop,
	.rpc = ble_rpc,
	.shared_attributes = ble_shared_attributes,
};
