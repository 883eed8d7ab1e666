/* SPDX-License-Identifier: Apache-2.0 */
/* ble-advert.h — one advertisement (address, service data, manufacturer
 * data) → one sample, through the decoders in ble-adv.h. Pure: no D-Bus, no
 * main loop; the caller keeps a TbgAdvState per device and passes the time
 * of reception. */
#pragma once

#include "ble-adv.h"

typedef enum {
	TBG_ADV_FMT_BTHOME    = 1 << 0,   /* v2 encrypted, v1 (v2 plain is bthome=) */
	TBG_ADV_FMT_ATC       = 1 << 1,
	TBG_ADV_FMT_MIBEACON  = 1 << 2,
	TBG_ADV_FMT_RUUVI     = 1 << 3,
	TBG_ADV_FMT_GOVEE     = 1 << 4,
	TBG_ADV_FMT_SWITCHBOT = 1 << 5,
	TBG_ADV_FMT_QINGPING  = 1 << 6,
	TBG_ADV_FMT_INKBIRD   = 1 << 7,
	TBG_ADV_FMT_IBEACON   = 1 << 8,
	TBG_ADV_FMT_EDDYSTONE = 1 << 9,
} TbgAdvFormat;
#define TBG_ADV_N_FORMATS 10
#define TBG_ADV_FMT_BEACONS (TBG_ADV_FMT_IBEACON | TBG_ADV_FMT_EDDYSTONE)

/* "atc, mibeacon ruuvi" (commas or spaces) or "all" → bits; names as in
 * tbg_advert_format_name(). An unknown name is an error naming it. */
gboolean    tbg_advert_formats_parse (const char *list, guint *formats, GError **error);
const char *tbg_advert_format_name (TbgAdvFormat f);
/* The name a sensor gets under advertisers=any without an alias:
 * "Ruuvi 4C884F" (format and the address's last three bytes). */
char       *tbg_advert_default_name (TbgAdvFormat f, const guint8 address[6]);
/* "A4:C1:38:2F:87:6B" → bytes; and a 32-hex-digit bindkey → bytes. */
gboolean    tbg_advert_parse_address (const char *s, guint8 address[6]);
gboolean    tbg_advert_parse_key (const char *s, guint8 key[TBG_ADV_KEY_LEN], GError **error);

typedef struct {
	guint16       id;     /* 16-bit service UUID, or company id */
	const guint8 *data;
	gsize         len;
} TbgAdvEntry;

typedef struct {
	guint8             address[6];   /* as printed: address[0] is the first pair */
	const char        *name;         /* local name, or NULL */
	gboolean           has_rssi;
	gint16             rssi;
	const TbgAdvEntry *service_data;
	guint              n_service_data;
	const TbgAdvEntry *manufacturer_data;
	guint              n_manufacturer_data;
} TbgAdvert;

/* Per device and format: what was accepted last, for duplicates and replays. */
typedef struct {
	gboolean have;
	gboolean encrypted;
	guint32  counter;
	gboolean has_counter;
	guint32  hash;
	gint64   time;
} TbgAdvSlot;

typedef struct {
	const guint8 *key;                 /* NULL or TBG_ADV_KEY_LEN bytes, the caller's */
	TbgAdvSlot    slot[TBG_ADV_N_FORMATS];
	gboolean      key_warned;          /* for the caller: "wrong bindkey" said once */
} TbgAdvState;

typedef enum {
	TBG_ADVERT_NOTHING,     /* no entry in an enabled format */
	TBG_ADVERT_SAMPLE,      /* *values holds a new sample */
	TBG_ADVERT_DUPLICATE,   /* the same packet again (BlueZ reports some twice) */
	TBG_ADVERT_REPLAY,      /* an encrypted packet older than one accepted */
	TBG_ADVERT_NEEDS_KEY,
	TBG_ADVERT_WRONG_KEY,
	TBG_ADVERT_INVALID,
} TbgAdvertResult;

/* Packets without a counter count as the same packet when their bytes do not
 * change within this window. */
#define TBG_ADVERT_SAME_WINDOW_US (10 * G_USEC_PER_SEC)
/* A lower authenticated counter is a replay, unless nothing was accepted for
 * this long: then the sensor restarted (a battery change resets counters). */
#define TBG_ADVERT_REPLAY_RESET_US ((gint64) 3600 * G_USEC_PER_SEC)

/* Decodes every entry of @ad in one of @formats. With a key, the plain
 * packets of a format that has an encrypted variant are refused (INVALID). On TBG_ADVERT_SAMPLE,
 * *@values (new reference) holds the merged values plus "rssi", and
 * *@format the format of the first decoded entry. Otherwise *@values is NULL
 * and @error says why for NEEDS_KEY, WRONG_KEY and INVALID. */
TbgAdvertResult tbg_advert_decode (const TbgAdvert *ad, guint formats, TbgAdvState *st, gint64 now_us,
                                   TbgAdvFormat *format, json_t **values, GError **error);
