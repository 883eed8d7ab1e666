/* SPDX-License-Identifier: Apache-2.0 */
/* gatt-codec.h — GATT characteristic values ↔ typed JSON: the formats a
 * config names (u8 … float32le, utf8, hex, bool) with scale and offset, and
 * the standard SIG characteristics tbgwd decodes without any config. Pure. */
#pragma once

#include <glib.h>
#include <jansson.h>

#define TBG_GATT_ERROR (tbg_gatt_error_quark ())
typedef enum {
	TBG_GATT_ERROR_FORMAT,     /* unknown format name */
	TBG_GATT_ERROR_LENGTH,     /* value of the wrong size */
	TBG_GATT_ERROR_VALUE,      /* out of range, wrong JSON type, bad UTF-8 or hex */
	TBG_GATT_ERROR_UUID,
	TBG_GATT_ERROR_NOT_KNOWN,  /* a SIG "value is not known" marker, or a value the SIG prohibits */
} TbgGattError;
GQuark tbg_gatt_error_quark (void);

typedef enum {
	TBG_GATT_U8, TBG_GATT_S8, TBG_GATT_U16LE, TBG_GATT_S16LE, TBG_GATT_U32LE, TBG_GATT_S32LE,
	TBG_GATT_FLOAT32LE, TBG_GATT_UTF8, TBG_GATT_HEX, TBG_GATT_BOOL,
} TbgGattFormat;

gboolean  tbg_gatt_format_from_name (const char *name, TbgGattFormat *out, GError **error);
/* Numbers become scale × raw + offset: JSON integers when that is exact
 * (scale 1, offset 0, an integer format), reals otherwise. */
json_t   *tbg_gatt_decode (TbgGattFormat f, double scale, double offset, const guint8 *data,
                           gsize len, GError **error);
/* The inverse, for writes: (value − offset) / scale, range-checked. */
GBytes   *tbg_gatt_encode (TbgGattFormat f, double scale, double offset, json_t *value,
                           GError **error);

/* "2a19", "0x2A19" or a full UUID → "00002a19-0000-1000-8000-00805f9b34fb". */
char     *tbg_gatt_uuid_normalize (const char *uuid, GError **error);
/* Battery Level 0x2A19 (battery, %), Temperature 0x2A6E (temperature, °C),
 * Humidity 0x2A6F (humidity, %), Pressure 0x2A6D (pressure, hPa). */
gboolean  tbg_gatt_is_standard (const char *uuid);
gboolean  tbg_gatt_decode_standard (const char *uuid, const guint8 *data, gsize len,
                                    const char **key, json_t **value, GError **error);
/* FALSE (TBG_GATT_ERROR_NOT_KNOWN) if @data of a standard characteristic is
 * its "value is not known" marker (Temperature 0x8000, Humidity 0xFFFF) or
 * outside the range the GATT Specification Supplement allows; TRUE for
 * anything else, other characteristics included. decode_standard checks. */
gboolean  tbg_gatt_check_standard (const char *uuid, const guint8 *data, gsize len, GError **error);
