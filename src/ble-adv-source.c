/* SPDX-License-Identifier: Apache-2.0 */
/* ble-adv-source.c — see ble-adv-source.h. Decoding is ble-advert.c's;
 * here are the configuration, who is reported, names, logging once, beacon
 * presence and the reception timestamp. */
#include "ble-adv-source.h"
#include "ble-advert.h"

#include <glib/gstdio.h>

#define BASE_UUID_TAIL "-0000-1000-8000-00805f9b34fb"

typedef struct {
	char     *address;          /* upper case */
	gboolean  has_key;
	guint8    key[TBG_ADV_KEY_LEN];
	guint     absent_after_s;
	gboolean  connect;
} AdvConf;

struct _BleAdv {
	guint      formats;
	gboolean   any;             /* advertisers=any */
	GPtrArray *confs;           /* AdvConf */
};

struct _BleAdvDevice {
	TbgAdvState state;
	guint8      key[TBG_ADV_KEY_LEN];
	gboolean    needs_key_said;
	guint       absent_id;
	guint       absent_after_s;
	gboolean    beacon;         /* presence is what it reports */
	gboolean    present;
};

static void
adv_conf_free (AdvConf *c)
{
	g_free (c->address);
	g_free (c);
}

/* Whether [ble:NAME] asks for anything over a connection. */
static gboolean
maps_characteristics (const TbgConfig *cfg, const char *group)
{
	g_auto (GStrv) keys = g_key_file_get_keys (cfg->keyfile, group, NULL, NULL);

	for (guint i = 0; keys != NULL && keys[i] != NULL; i++) {
		if (g_str_has_prefix (keys[i], "char.") || g_str_has_prefix (keys[i], "rpc.") ||
		    g_str_has_prefix (keys[i], "attribute.") || g_str_equal (keys[i], "read-interval-s"))
			return TRUE;
	}
	return FALSE;
}

static gboolean
load_key (const TbgConfig *cfg, const char *group, AdvConf *c, GError **error)
{
	g_autofree char *text = tbg_config_get_string (cfg, group, "bindkey", NULL);
	g_autofree char *file = tbg_config_get_string (cfg, group, "bindkey-file", NULL);
	const char *key = text ? "bindkey" : "bindkey-file";
	g_autofree char *where = tbg_config_where (cfg, group, key);
	g_autoptr (GError) local = NULL;

	if (text != NULL && file != NULL) {
		g_set_error (error, TBG_CONFIG_ERROR, TBG_CONFIG_ERROR_BAD_VALUE,
		             _("%s: [%s]: bindkey= and bindkey-file= exclude each other"), where, group);
		return FALSE;
	}
	if (file != NULL && !g_file_get_contents (file, &text, NULL, &local)) {
		g_set_error (error, TBG_CONFIG_ERROR, TBG_CONFIG_ERROR_BAD_VALUE, "%s: [%s] %s: %s", where, group, key,
		             local->message);
		return FALSE;
	}
	if (text == NULL)
		return TRUE;
	if (!tbg_advert_parse_key (text, c->key, &local)) {
		/* the key itself stays out of the log */
		g_set_error (error, TBG_CONFIG_ERROR, TBG_CONFIG_ERROR_BAD_VALUE, "%s: [%s] %s: %s", where, group, key,
		             local->message);
		return FALSE;
	}
	c->has_key = TRUE;
	return TRUE;
}

static void
adv_free (BleAdv *adv)
{
	g_ptr_array_unref (adv->confs);
	g_free (adv);
}

static BleAdv *
adv_load (const TbgConfig *cfg, GError **error)
{
	g_autofree char *decoders = tbg_config_get_string (cfg, "ble", "decoders", "");
	g_autofree char *advertisers = tbg_config_get_string (cfg, "ble", "advertisers", "configured");
	g_auto (GStrv) names = tbg_config_device_groups (cfg, "ble");
	g_autoptr (GError) local = NULL;
	BleAdv *adv = g_new0 (BleAdv, 1);

	adv->confs = g_ptr_array_new_with_free_func ((GDestroyNotify) adv_conf_free);
	if (!tbg_advert_formats_parse (decoders, &adv->formats, &local)) {
		g_autofree char *where = tbg_config_where (cfg, "ble", "decoders");

		g_set_error (error, TBG_CONFIG_ERROR, TBG_CONFIG_ERROR_BAD_VALUE, "%s: [ble] decoders: %s", where,
		             local->message);
		adv_free (adv);
		return NULL;
	}
	if (!g_str_equal (advertisers, "configured") && !g_str_equal (advertisers, "any")) {
		g_autofree char *where = tbg_config_where (cfg, "ble", "advertisers");

		g_set_error (error, TBG_CONFIG_ERROR, TBG_CONFIG_ERROR_BAD_VALUE,
		             _("%s: [ble] advertisers: “%s” is not configured or any"), where, advertisers);
		adv_free (adv);
		return NULL;
	}
	adv->any = g_str_equal (advertisers, "any");
	for (guint i = 0; names[i] != NULL; i++) {
		g_autofree char *group = g_strdup_printf ("ble:%s", names[i]);
		g_autofree char *address = tbg_config_get_string (cfg, group, "address", "");
		AdvConf *c = g_new0 (AdvConf, 1);
		guint64 absent;

		c->address = g_ascii_strup (address, -1);
		g_ptr_array_add (adv->confs, c);
		if (!load_key (cfg, group, c, error) ||
		    !tbg_config_get_uint (cfg, group, "absent-after-s", 1, 86400, 60, &absent, error) ||
		    !tbg_config_get_bool (cfg, group, "connect", adv->formats == 0 || maps_characteristics (cfg, group),
		                          &c->connect, error)) {
			adv_free (adv);
			return NULL;
		}
		c->absent_after_s = (guint) absent;
	}
	return adv;
}

gboolean
tbg_ble_adv_start (BleSource *src, const TbgConfig *cfg, GError **error)
{
	src->adv = adv_load (cfg, error);
	return src->adv != NULL;
}

void
tbg_ble_adv_stop (BleSource *src)
{
	g_clear_pointer (&src->adv, adv_free);
}

gboolean
tbg_ble_adv_wanted (BleSource *src)
{
	return src->adv != NULL && src->adv->formats != 0;
}

static AdvConf *
conf_for (BleSource *src, const char *address)
{
	for (guint i = 0; src->adv != NULL && address != NULL && i < src->adv->confs->len; i++) {
		AdvConf *c = g_ptr_array_index (src->adv->confs, i);

		if (g_ascii_strcasecmp (c->address, address) == 0)
			return c;
	}
	return NULL;
}

gboolean
tbg_ble_adv_connects (BleSource *src, const char *address)
{
	AdvConf *c = conf_for (src, address);

	return c == NULL || c->connect;
}

/* "0000181a-0000-1000-8000-00805f9b34fb" → 0x181A; other UUIDs are no 16-bit one. */
static gboolean
uuid16 (const char *uuid, guint16 *out)
{
	guint64 v;

	if (strlen (uuid) != 36 || g_ascii_strncasecmp (uuid, "0000", 4) != 0 ||
	    g_ascii_strcasecmp (uuid + 8, BASE_UUID_TAIL) != 0)
		return FALSE;
	for (guint i = 4; i < 8; i++) {
		if (!g_ascii_isxdigit (uuid[i]))
			return FALSE;
	}
	v = g_ascii_strtoull (uuid + 4, NULL, 16);
	*out = (guint16) v;
	return TRUE;
}

/* a{sv} of UUID → ay, or a{qv} of company → ay, as TbgAdvEntry (pointing into @dict) */
static GArray *
entries (GVariant *dict, gboolean service)
{
	GArray *a = g_array_new (FALSE, TRUE, sizeof (TbgAdvEntry));
	GVariantIter it;
	GVariant *value;

	if (dict == NULL || !g_variant_is_of_type (dict, service ? G_VARIANT_TYPE ("a{sv}") : G_VARIANT_TYPE ("a{qv}")))
		return a;
	g_variant_iter_init (&it, dict);
	for (;;) {
		TbgAdvEntry e = { 0 };
		g_autoptr (GVariant) bytes = NULL;
		gboolean ok;

		if (service) {
			const char *uuid;

			if (!g_variant_iter_next (&it, "{&sv}", &uuid, &value))
				break;
			ok = uuid16 (uuid, &e.id);
		} else {
			if (!g_variant_iter_next (&it, "{qv}", &e.id, &value))
				break;
			ok = TRUE;
		}
		bytes = value;
		if (ok && g_variant_is_of_type (bytes, G_VARIANT_TYPE_BYTESTRING)) {
			/* the data lives as long as @dict, which holds the value */
			e.data = g_variant_get_fixed_array (bytes, &e.len, 1);
			g_array_append_val (a, e);
		}
	}
	return a;
}

static gboolean
absent (gpointer data)
{
	BleDevice *bd = data;
	json_t *values = json_pack ("{s:b}", "present", FALSE);

	bd->adv->absent_id = 0;
	bd->adv->present = FALSE;
	/* back in range, its first packet is news even if its bytes are not */
	memset (bd->adv->state.slot, 0, sizeof bd->adv->state.slot);
	if (bd->dev != NULL)
		tbg_device_push_telemetry (bd->dev, g_get_real_time () / 1000, values, NULL);
	json_decref (values);
	return G_SOURCE_REMOVE;
}

static void
restart_absence (BleDevice *bd)
{
	g_clear_handle_id (&bd->adv->absent_id, g_source_remove);
	bd->adv->absent_id = g_timeout_add_seconds (bd->adv->absent_after_s, absent, bd);
}

static void
still_there (BleDevice *bd)
{
	if (bd->adv->present)
		restart_absence (bd);
}

/* BlueZ reports a beacon's unchanged data once, then only its RSSI: each
 * RSSI change is an advertisement heard (one back in range included). */
void
tbg_ble_adv_seen (BleDevice *bd, GDBusProxy *dev)
{
	if (bd->adv != NULL && bd->adv->beacon)
		tbg_ble_adv_advertisement (bd, dev);
}

void
tbg_ble_adv_device_free (BleDevice *bd)
{
	if (bd->adv == NULL)
		return;
	g_clear_handle_id (&bd->adv->absent_id, g_source_remove);
	g_free (bd->adv);
	bd->adv = NULL;
}

/* Configured: its [ble:NAME]. Otherwise the alias BlueZ has (the name the
 * sensor gives itself), unless that is only its address spelled with dashes. */
static TbgDevice *
ensure_device (BleDevice *bd, GDBusProxy *dev, TbgAdvFormat format, const guint8 address[6])
{
	g_autoptr (GError) error = NULL;
	g_autofree char *addr = tbg_ble_string_prop (dev, "Address");
	g_autofree char *alias = tbg_ble_string_prop (dev, "Alias");
	g_autofree char *dashed = addr ? g_strdelimit (g_strdup (addr), ":", '-') : NULL;
	g_autofree char *name = NULL;

	if (bd->dev != NULL || bd->conf != NULL)
		return tbg_ble_ensure_gateway_device (bd, dev);
	if (alias != NULL && *alias != '\0' && g_strcmp0 (alias, dashed) != 0 && g_strcmp0 (alias, addr) != 0)
		name = g_strdup (alias);
	else
		name = tbg_advert_default_name (format, address);
	bd->dev = tbg_gateway_add_device (bd->src->gw, &tbg_source_ble, bd->src, name, NULL, addr, &error);
	if (bd->dev == NULL)
		g_warning (_("BLE device %s: %s"), addr, error->message);
	else
		tbg_device_set_source_data (bd->dev, bd, NULL);
	return bd->dev;
}

static void
publish (BleDevice *bd, GDBusProxy *dev, TbgAdvFormat format, const guint8 address[6], json_t *values,
         gint64 received_ms)
{
	g_autoptr (GError) error = NULL;

	if (ensure_device (bd, dev, format, address) == NULL)
		return;
	if (!tbg_device_get_connected (bd->dev))
		tbg_device_set_connected (bd->dev, TRUE);
	if (format & TBG_ADV_FMT_BEACONS) {
		bd->adv->beacon = TRUE;
		bd->adv->present = TRUE;
		restart_absence (bd);
	}
	if (!tbg_device_push_telemetry (bd->dev, received_ms, values, &error))
		g_message ("%s: %s", tbg_device_get_name (bd->dev), error->message);
}

gboolean
tbg_ble_adv_advertisement (BleDevice *bd, GDBusProxy *dev)
{
	BleAdv *adv = bd->src->adv;
	g_autoptr (GVariant) sd = NULL;
	g_autoptr (GVariant) md = NULL;
	g_autoptr (GVariant) rssi = NULL;
	g_autoptr (GArray) service = NULL;
	g_autoptr (GArray) manufacturer = NULL;
	g_autoptr (GError) error = NULL;
	g_autofree char *address = tbg_ble_string_prop (dev, "Address");
	g_autofree char *name = tbg_ble_string_prop (dev, "Name");
	/* the time of reception: this runs as BlueZ reports the change */
	gint64 received_ms = g_get_real_time () / 1000;
	TbgAdvert ad = { 0 };
	TbgAdvFormat format;
	AdvConf *conf;
	json_t *values = NULL;
	gboolean ours;

	if (adv == NULL || adv->formats == 0)
		return FALSE;
	ours = (adv->formats & TBG_ADV_FMT_BTHOME) != 0;
	conf = conf_for (bd->src, address);
	/* the neighbours' sensors are none of our business unless asked */
	if ((conf == NULL && !adv->any) || !tbg_advert_parse_address (address, ad.address))
		return ours;
	if (bd->adv == NULL) {
		bd->adv = g_new0 (BleAdvDevice, 1);
		bd->adv->absent_after_s = conf ? conf->absent_after_s : 60;
		if (conf != NULL && conf->has_key) {
			memcpy (bd->adv->key, conf->key, TBG_ADV_KEY_LEN);
			bd->adv->state.key = bd->adv->key;
		}
	}
	sd = g_dbus_proxy_get_cached_property (dev, "ServiceData");
	md = g_dbus_proxy_get_cached_property (dev, "ManufacturerData");
	rssi = g_dbus_proxy_get_cached_property (dev, "RSSI");
	service = entries (sd, TRUE);
	manufacturer = entries (md, FALSE);
	if (name == NULL)
		name = tbg_ble_string_prop (dev, "Alias");
	ad.name = name;
	ad.has_rssi = rssi != NULL && g_variant_is_of_type (rssi, G_VARIANT_TYPE_INT16);
	ad.rssi = ad.has_rssi ? g_variant_get_int16 (rssi) : 0;
	ad.service_data = (const TbgAdvEntry *) (gpointer) service->data;
	ad.n_service_data = service->len;
	ad.manufacturer_data = (const TbgAdvEntry *) (gpointer) manufacturer->data;
	ad.n_manufacturer_data = manufacturer->len;
	switch (tbg_advert_decode (&ad, adv->formats, &bd->adv->state, g_get_monotonic_time (), &format, &values,
	                           &error)) {
	case TBG_ADVERT_SAMPLE:
		publish (bd, dev, format, ad.address, values, received_ms);
		json_decref (values);
		break;
	case TBG_ADVERT_WRONG_KEY:
		if (!bd->adv->state.key_warned)
			g_warning (_("BLE device %s: %s"), address, error->message);
		bd->adv->state.key_warned = TRUE;
		break;
	case TBG_ADVERT_NEEDS_KEY:
		if (conf != NULL && !bd->adv->needs_key_said)
			g_warning (_("BLE device %s sends encrypted advertisements; set bindkey= in its [ble:…] group"),
			           address);
		bd->adv->needs_key_said = TRUE;
		break;
	case TBG_ADVERT_DUPLICATE:
		still_there (bd);
		break;
	case TBG_ADVERT_REPLAY:
		g_debug ("BLE device %s: replayed encrypted advertisement dropped", address);
		break;
	default:
		break;
	}
	return ours;
}

GVariant *
tbg_ble_adv_monitor_patterns (BleSource *src, gboolean bthome)
{
	static const struct { TbgAdvFormat f; guint8 ad_type; guint16 id; } ids[] = {
		{ TBG_ADV_FMT_BTHOME, 0x16, 0xFCD2 }, { TBG_ADV_FMT_BTHOME, 0x16, 0x181C },
		{ TBG_ADV_FMT_BTHOME, 0x16, 0x181E }, { TBG_ADV_FMT_ATC, 0x16, 0x181A },
		{ TBG_ADV_FMT_MIBEACON, 0x16, 0xFE95 }, { TBG_ADV_FMT_SWITCHBOT, 0x16, 0x0D00 },
		{ TBG_ADV_FMT_SWITCHBOT, 0x16, 0xFD3D }, { TBG_ADV_FMT_QINGPING, 0x16, 0xFDCD },
		{ TBG_ADV_FMT_EDDYSTONE, 0x16, 0xFEAA }, { TBG_ADV_FMT_RUUVI, 0xFF, 0x0499 },
		{ TBG_ADV_FMT_GOVEE, 0xFF, 0xEC88 }, { TBG_ADV_FMT_GOVEE, 0xFF, 0x0001 },
		{ TBG_ADV_FMT_IBEACON, 0xFF, 0x004C },
	};
	guint formats = tbg_ble_adv_wanted (src) ? src->adv->formats : 0;
	GVariantBuilder b;

	g_variant_builder_init (&b, G_VARIANT_TYPE ("a(yyay)"));
	for (guint i = 0; i < G_N_ELEMENTS (ids); i++) {
		const guint8 le[2] = { ids[i].id & 0xff, ids[i].id >> 8 };

		/* AD type, then the UUID or company id little-endian from its first byte */
		/* bthome=true alone: plain BTHome v2 (0xFCD2) only */
		if ((formats & ids[i].f) || (bthome && ids[i].id == 0xFCD2))
			g_variant_builder_add (&b, "(yy@ay)", 0x00, ids[i].ad_type,
			                       g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, le, 2, 1));
	}
	return g_variant_builder_end (&b);
}
