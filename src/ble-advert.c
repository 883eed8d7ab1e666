/* SPDX-License-Identifier: Apache-2.0 */
/* ble-advert.c — see ble-advert.h. BlueZ keeps the last value of every
 * service data UUID and manufacturer id of a device and reports them all on
 * each change, so every entry is checked against what its format accepted
 * last: a sensor alternating two formats yields each packet once. */
#include "ble-advert.h"

#include <string.h>

static const struct {
	TbgAdvFormat format;
	const char  *name;     /* config */
	const char  *label;    /* default device names */
} formats[TBG_ADV_N_FORMATS] = {
	{ TBG_ADV_FMT_BTHOME, "bthome", "BTHome" },
	{ TBG_ADV_FMT_ATC, "atc", "ATC" },
	{ TBG_ADV_FMT_MIBEACON, "mibeacon", "MiBeacon" },
	{ TBG_ADV_FMT_RUUVI, "ruuvi", "Ruuvi" },
	{ TBG_ADV_FMT_GOVEE, "govee", "Govee" },
	{ TBG_ADV_FMT_SWITCHBOT, "switchbot", "SwitchBot" },
	{ TBG_ADV_FMT_QINGPING, "qingping", "Qingping" },
	{ TBG_ADV_FMT_INKBIRD, "inkbird", "Inkbird" },
	{ TBG_ADV_FMT_IBEACON, "ibeacon", "iBeacon" },
	{ TBG_ADV_FMT_EDDYSTONE, "eddystone", "Eddystone" },
};

/* the formats with an encrypted variant */
#define ENCRYPTABLE (TBG_ADV_FMT_BTHOME | TBG_ADV_FMT_ATC | TBG_ADV_FMT_MIBEACON)

static guint
format_index (TbgAdvFormat f)
{
	return (guint) g_bit_nth_lsf ((gulong) f, -1);
}

const char *
tbg_advert_format_name (TbgAdvFormat f)
{
	return formats[format_index (f)].name;
}

char *
tbg_advert_default_name (TbgAdvFormat f, const guint8 address[6])
{
	return g_strdup_printf ("%s %02X%02X%02X", formats[format_index (f)].label, address[3], address[4],
	                        address[5]);
}

gboolean
tbg_advert_formats_parse (const char *list, guint *out, GError **error)
{
	g_auto (GStrv) words = g_strsplit_set (list, ", \t", -1);

	*out = 0;
	for (guint i = 0; words[i] != NULL; i++) {
		guint j;

		if (words[i][0] == '\0')
			continue;
		if (g_ascii_strcasecmp (words[i], "all") == 0) {
			*out = (1u << TBG_ADV_N_FORMATS) - 1;
			continue;
		}
		for (j = 0; j < TBG_ADV_N_FORMATS; j++) {
			if (g_ascii_strcasecmp (words[i], formats[j].name) == 0)
				break;
		}
		if (j == TBG_ADV_N_FORMATS) {
			g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
			             "unknown advertisement format “%s” (known: bthome, atc, mibeacon, ruuvi, govee, "
			             "switchbot, qingping, inkbird, ibeacon, eddystone, all)", words[i]);
			return FALSE;
		}
		*out |= formats[j].format;
	}
	return TRUE;
}

gboolean
tbg_advert_parse_address (const char *s, guint8 address[6])
{
	for (guint i = 0; i < 6; i++) {
		gint hi, lo;

		if (s == NULL || (hi = g_ascii_xdigit_value (s[3 * i])) < 0 ||
		    (lo = g_ascii_xdigit_value (s[3 * i + 1])) < 0 ||
		    s[3 * i + 2] != (i == 5 ? '\0' : ':'))
			return FALSE;
		address[i] = (guint8) (hi << 4 | lo);
	}
	return TRUE;
}

gboolean
tbg_advert_parse_key (const char *s, guint8 key[TBG_ADV_KEY_LEN], GError **error)
{
	g_autofree char *k = g_strstrip (g_strdup (s));

	if (strlen (k) != 2 * TBG_ADV_KEY_LEN)
		goto bad;
	for (guint i = 0; i < TBG_ADV_KEY_LEN; i++) {
		gint hi = g_ascii_xdigit_value (k[2 * i]), lo = g_ascii_xdigit_value (k[2 * i + 1]);

		if (hi < 0 || lo < 0)
			goto bad;
		key[i] = (guint8) (hi << 4 | lo);
	}
	return TRUE;
bad:
	g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
	             "a bindkey is 32 hexadecimal digits (16 bytes)");
	return FALSE;
}

/* FNV-1a: only to tell "the same bytes again" */
static guint32
hash_bytes (const guint8 *p, gsize len)
{
	guint32 h = 2166136261u;

	for (gsize i = 0; i < len; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

static TbgAdvertResult
check_new (TbgAdvSlot *s, const TbgAdvPacket *p, const TbgAdvEntry *e, gint64 now)
{
	guint32 hash = hash_bytes (e->data, e->len);

	if (p->has_counter) {
		guint32 mask = p->counter_bits >= 32 ? G_MAXUINT32 : (1u << p->counter_bits) - 1;
		guint32 diff = (p->counter - s->counter) & mask;

		if (s->have && s->has_counter && diff == 0)
			return TBG_ADVERT_DUPLICATE;
		if (s->have && s->has_counter && p->encrypted && s->encrypted && diff > mask / 2 &&
		    now - s->time < TBG_ADVERT_REPLAY_RESET_US)
			return TBG_ADVERT_REPLAY;
	} else if (s->have && !s->has_counter && s->hash == hash && now - s->time < TBG_ADVERT_SAME_WINDOW_US) {
		return TBG_ADVERT_DUPLICATE;
	}
	s->have = TRUE;
	s->has_counter = p->has_counter;
	s->counter = p->counter;
	s->encrypted = p->encrypted;
	s->hash = hash;
	s->time = now;
	return TBG_ADVERT_SAMPLE;
}

/* Which decoder an entry goes to, if its format is enabled. */
static gboolean
decode_service (const TbgAdvert *ad, const TbgAdvEntry *e, guint enabled, const guint8 *key,
                TbgAdvFormat *f, TbgAdvPacket *p, GError **error)
{
	switch (e->id) {
	case 0xFCD2:
		*f = TBG_ADV_FMT_BTHOME;
		return (enabled & *f) && tbg_adv_bthome_decode (ad->address, e->data, e->len, key, p, error);
	case 0x181C:
	case 0x181E:
		*f = TBG_ADV_FMT_BTHOME;
		return (enabled & *f) && tbg_adv_bthome_v1_decode (ad->address, e->id, e->data, e->len, key, p, error);
	case 0x181A:
		*f = TBG_ADV_FMT_ATC;
		return (enabled & *f) && tbg_adv_atc_decode (ad->address, e->data, e->len, key, p, error);
	case 0xFE95:
		*f = TBG_ADV_FMT_MIBEACON;
		return (enabled & *f) && tbg_adv_mibeacon_decode (ad->address, e->data, e->len, key, p, error);
	case 0x0D00:
	case 0xFD3D:
		*f = TBG_ADV_FMT_SWITCHBOT;
		return (enabled & *f) && tbg_adv_switchbot_decode (e->data, e->len, p, error);
	case 0xFDCD:
		*f = TBG_ADV_FMT_QINGPING;
		return (enabled & *f) && tbg_adv_qingping_decode (e->data, e->len, p, error);
	case 0xFEAA:
		*f = TBG_ADV_FMT_EDDYSTONE;
		return (enabled & *f) && tbg_adv_eddystone_decode (e->data, e->len, p, error);
	default:
		*f = 0;
		return FALSE;
	}
}

static gboolean
decode_manufacturer (const TbgAdvert *ad, const TbgAdvEntry *e, guint enabled, TbgAdvFormat *f,
                     TbgAdvPacket *p, GError **error)
{
	/* Inkbird's "company" is its temperature: its name decides first */
	if ((enabled & TBG_ADV_FMT_INKBIRD) && ad->name != NULL &&
	    (strcmp (ad->name, "sps") == 0 || strcmp (ad->name, "tps") == 0)) {
		*f = TBG_ADV_FMT_INKBIRD;
		return tbg_adv_inkbird_decode (ad->name, e->id, e->data, e->len, p, error);
	}
	switch (e->id) {
	case 0x0499:
		*f = TBG_ADV_FMT_RUUVI;
		return (enabled & *f) && tbg_adv_ruuvi_decode (e->data, e->len, p, error);
	case 0xEC88:
	case 0x0001:
		*f = TBG_ADV_FMT_GOVEE;
		return (enabled & *f) && tbg_adv_govee_decode (e->id, e->data, e->len, p, error);
	case 0x004C:
		*f = TBG_ADV_FMT_IBEACON;
		return (enabled & *f) && tbg_adv_ibeacon_decode (e->data, e->len, p, error);
	default:
		*f = 0;
		return FALSE;
	}
}

/* The outcome that says most about a packet that gave no sample. */
static int
rank (TbgAdvertResult r)
{
	static const int ranks[] = {
		[TBG_ADVERT_NOTHING] = 0, [TBG_ADVERT_DUPLICATE] = 1, [TBG_ADVERT_INVALID] = 2,
		[TBG_ADVERT_REPLAY] = 3, [TBG_ADVERT_NEEDS_KEY] = 4, [TBG_ADVERT_WRONG_KEY] = 5,
		[TBG_ADVERT_SAMPLE] = 6,
	};
	return ranks[r];
}

static TbgAdvertResult
from_error (const GError *e)
{
	if (g_error_matches (e, TBG_ADV_ERROR, TBG_ADV_ERROR_NEEDS_KEY))
		return TBG_ADVERT_NEEDS_KEY;
	if (g_error_matches (e, TBG_ADV_ERROR, TBG_ADV_ERROR_WRONG_KEY))
		return TBG_ADVERT_WRONG_KEY;
	return TBG_ADVERT_INVALID;
}

TbgAdvertResult
tbg_advert_decode (const TbgAdvert *ad, guint enabled, TbgAdvState *st, gint64 now_us, TbgAdvFormat *format,
                   json_t **values, GError **error)
{
	TbgAdvertResult best = TBG_ADVERT_NOTHING;
	g_autoptr (GError) best_error = NULL;
	guint n = ad->n_service_data + ad->n_manufacturer_data;

	*values = NULL;
	*format = 0;
	for (guint i = 0; i < n; i++) {
		gboolean service = i < ad->n_service_data;
		const TbgAdvEntry *e = service ? &ad->service_data[i] : &ad->manufacturer_data[i - ad->n_service_data];
		g_autoptr (GError) local = NULL;
		TbgAdvFormat f = 0;
		TbgAdvPacket p;
		TbgAdvertResult r;
		gboolean ok;

		memset (&p, 0, sizeof p);
		ok = service ? decode_service (ad, e, enabled, st->key, &f, &p, &local)
		             : decode_manufacturer (ad, e, enabled, &f, &p, &local);
		if (ok && st->key != NULL && !p.encrypted && (f & ENCRYPTABLE)) {
			/* anyone can send plain packets from any address; a keyed sensor encrypts */
			tbg_adv_packet_clear (&p);
			g_set_error (&local, TBG_ADV_ERROR, TBG_ADV_ERROR_INVALID,
			             "unencrypted %s packet from a device with a bindkey", formats[format_index (f)].label);
			ok = FALSE;
		}
		if (!ok) {
			if (f == 0 || !(enabled & f))
				continue;
			r = from_error (local);
		} else {
			r = check_new (&st->slot[format_index (f)], &p, e, now_us);
		}
		if (r == TBG_ADVERT_SAMPLE) {
			const char *k;
			json_t *v;

			if (*values == NULL) {
				*values = json_object ();
				*format = f;
			}
			json_object_foreach (p.values, k, v)
				json_object_set (*values, k, v);
		}
		if (rank (r) > rank (best)) {
			best = r;
			g_clear_error (&best_error);
			best_error = g_steal_pointer (&local);
		}
		tbg_adv_packet_clear (&p);
	}
	if (*values != NULL) {
		if (ad->has_rssi)
			json_object_set_new (*values, "rssi", json_integer (ad->rssi));
		return TBG_ADVERT_SAMPLE;
	}
	if (best_error != NULL)
		g_propagate_error (error, g_steal_pointer (&best_error));
	return best;
}
