/* SPDX-License-Identifier: Apache-2.0 */
/* gatt-codec.c — see gatt-codec.h. */
#include "gatt-codec.h"
#include "byte-order.h"

#include <math.h>
#include <string.h>

G_DEFINE_QUARK (tbg-gatt-error-quark, tbg_gatt_error)

#define SIG_BASE "-0000-1000-8000-00805f9b34fb"

static const struct {
	const char   *name;
	TbgGattFormat format;
	guint         size;     /* 0: any */
	gboolean      is_signed;
} formats[] = {
	{ "u8", TBG_GATT_U8, 1, FALSE }, { "s8", TBG_GATT_S8, 1, TRUE },
	{ "u16le", TBG_GATT_U16LE, 2, FALSE }, { "s16le", TBG_GATT_S16LE, 2, TRUE },
	{ "u32le", TBG_GATT_U32LE, 4, FALSE }, { "s32le", TBG_GATT_S32LE, 4, TRUE },
	{ "float32le", TBG_GATT_FLOAT32LE, 4, FALSE }, { "utf8", TBG_GATT_UTF8, 0, FALSE },
	{ "hex", TBG_GATT_HEX, 0, FALSE }, { "bool", TBG_GATT_BOOL, 1, FALSE },
};

gboolean
tbg_gatt_format_from_name (const char *name, TbgGattFormat *out, GError **error)
{
	for (guint i = 0; i < G_N_ELEMENTS (formats); i++) {
		if (g_strcmp0 (name, formats[i].name) == 0) {
			*out = formats[i].format;
			return TRUE;
		}
	}
	g_set_error (error, TBG_GATT_ERROR, TBG_GATT_ERROR_FORMAT,
	             "unknown format “%s” (u8, s8, u16le, s16le, u32le, s32le, float32le, utf8, hex, bool)",
	             name ? name : "");
	return FALSE;
}

static guint
format_size (TbgGattFormat f, gboolean *is_signed, const char **name)
{
	*is_signed = formats[f].is_signed;
	*name = formats[f].name;
	return formats[f].size;
}

static json_t *
scaled (gint64 raw, gboolean integer_format, double scale, double offset)
{
	if (integer_format && scale == 1 && offset == 0)
		return json_integer (raw);
	return json_real ((double) raw * scale + offset);
}

json_t *
tbg_gatt_decode (TbgGattFormat f, double scale, double offset, const guint8 *data, gsize len,
                 GError **error)
{
	gboolean is_signed;
	const char *name;
	guint size = format_size (f, &is_signed, &name);

	if (size != 0 && len != size) {
		g_set_error (error, TBG_GATT_ERROR, TBG_GATT_ERROR_LENGTH,
		             "%s wants %u byte%s, got %" G_GSIZE_FORMAT, name, size, size == 1 ? "" : "s", len);
		return NULL;
	}
	switch (f) {
	case TBG_GATT_UTF8: {
		gsize n = len;

		/* devices pad fixed-size strings with NULs */
		while (n > 0 && data[n - 1] == 0)
			n--;
		if (!g_utf8_validate_len ((const char *) data, n, NULL) || memchr (data, 0, n) != NULL) {
			g_set_error (error, TBG_GATT_ERROR, TBG_GATT_ERROR_VALUE, "value is not UTF-8 text");
			return NULL;
		}
		return json_stringn ((const char *) data, n);
	}
	case TBG_GATT_HEX: {
		GString *s = g_string_sized_new (len * 2 + 1);
		json_t *j;

		for (gsize i = 0; i < len; i++)
			g_string_append_printf (s, "%02x", data[i]);
		j = json_string (s->str);
		g_string_free (s, TRUE);
		return j;
	}
	case TBG_GATT_BOOL:
		return json_boolean (data[0] != 0);
	case TBG_GATT_FLOAT32LE: {
		guint32 bits = (guint32) tbg_read_le (data, 4, FALSE);
		float fl;

		memcpy (&fl, &bits, sizeof fl);
		if (!isfinite (fl)) {
			g_set_error (error, TBG_GATT_ERROR, TBG_GATT_ERROR_VALUE, "float32 is not a finite number");
			return NULL;
		}
		return json_real ((double) fl * scale + offset);
	}
	default:
		return scaled (tbg_read_le (data, size, is_signed), TRUE, scale, offset);
	}
}

static gboolean
parse_hex (const char *s, GByteArray *out)
{
	int hi = -1;

	for (; *s != '\0'; s++) {
		int v = g_ascii_xdigit_value (*s);

		if (v < 0) {
			/* separators between bytes only */
			if ((*s == ':' || *s == ' ' || *s == '-') && hi < 0)
				continue;
			return FALSE;
		}
		if (hi < 0) {
			hi = v;
		} else {
			guint8 b = (guint8) (hi << 4 | v);

			g_byte_array_append (out, &b, 1);
			hi = -1;
		}
	}
	return hi < 0;
}

GBytes *
tbg_gatt_encode (TbgGattFormat f, double scale, double offset, json_t *value, GError **error)
{
	gboolean is_signed;
	const char *name;
	guint size = format_size (f, &is_signed, &name);
	guint8 buf[8];

	switch (f) {
	case TBG_GATT_UTF8:
		if (!json_is_string (value))
			break;
		return g_bytes_new (json_string_value (value), json_string_length (value));
	case TBG_GATT_HEX: {
		GByteArray *a;

		if (!json_is_string (value))
			break;
		a = g_byte_array_new ();
		if (!parse_hex (json_string_value (value), a)) {
			g_byte_array_unref (a);
			g_set_error (error, TBG_GATT_ERROR, TBG_GATT_ERROR_VALUE,
			             "“%s” is not hex bytes (like 0a0b or 0A:0B)", json_string_value (value));
			return NULL;
		}
		return g_byte_array_free_to_bytes (a);
	}
	case TBG_GATT_BOOL:
		if (json_is_boolean (value) || json_is_integer (value)) {
			buf[0] = json_is_true (value) || (json_is_integer (value) && json_integer_value (value) != 0);
			return g_bytes_new (buf, 1);
		}
		break;
	case TBG_GATT_FLOAT32LE:
		if (json_is_number (value) && scale != 0) {
			float fl = (float) ((json_number_value (value) - offset) / scale);
			guint32 bits;

			memcpy (&bits, &fl, sizeof bits);
			for (guint i = 0; i < 4; i++)
				buf[i] = (guint8) (bits >> (8 * i));
			return g_bytes_new (buf, 4);
		}
		break;
	default:
		if (json_is_number (value) || json_is_boolean (value)) {
			double raw = json_is_boolean (value) ? json_is_true (value)
			           : ((json_number_value (value) - offset) / (scale != 0 ? scale : 1));
			double lo = is_signed ? -ldexp (1, 8 * size - 1) : 0;
			double hi = is_signed ? ldexp (1, 8 * size - 1) - 1 : ldexp (1, 8 * size) - 1;
			gint64 r;

			raw = round (raw);
			if (!(raw >= lo && raw <= hi)) {
				g_set_error (error, TBG_GATT_ERROR, TBG_GATT_ERROR_VALUE,
				             "%g is out of range for %s (%.0f..%.0f)", json_is_number (value)
				             ? json_number_value (value) : raw, name, lo, hi);
				return NULL;
			}
			r = (gint64) raw;
			for (guint i = 0; i < size; i++)
				buf[i] = (guint8) ((guint64) r >> (8 * i));
			return g_bytes_new (buf, size);
		}
		break;
	}
	g_set_error (error, TBG_GATT_ERROR, TBG_GATT_ERROR_VALUE, "a %s value must be %s", name,
	             f == TBG_GATT_UTF8 || f == TBG_GATT_HEX ? "a string" : "a number");
	return NULL;
}

char *
tbg_gatt_uuid_normalize (const char *uuid, GError **error)
{
	const char *s = uuid ? uuid : "";
	gsize n;

	if (g_str_has_prefix (s, "0x") || g_str_has_prefix (s, "0X"))
		s += 2;
	n = strlen (s);
	if ((n == 4 || n == 8) && strspn (s, "0123456789abcdefABCDEF") == n) {
		g_autofree char *lower = g_ascii_strdown (s, -1);

		return g_strdup_printf ("%s%s" SIG_BASE, n == 4 ? "0000" : "", lower);
	}
	if (n == 36 && g_uuid_string_is_valid (s))
		return g_ascii_strdown (s, -1);
	g_set_error (error, TBG_GATT_ERROR, TBG_GATT_ERROR_UUID,
	             "“%s” is not a UUID (like 2a19 or 00002a19-0000-1000-8000-00805f9b34fb)", uuid ? uuid : "");
	return NULL;
}

/* From the GATT Specification Supplement: each one's raw "value is not
 * known" marker, if it has one, and the raw range it allows. */
static const struct {
	const char   *uuid;
	const char   *key;
	TbgGattFormat format;
	double        scale;
	gboolean      has_unknown;
	json_int_t    unknown, min, max;
} standard[] = {
	/* 0–100 %; 101–255 are reserved for future use */
	{ "00002a19" SIG_BASE, "battery", TBG_GATT_U8, 1, FALSE, 0, 0, 100 },
	/* −273.15 to 327.67 °C, 0x8000 not known, all else prohibited */
	{ "00002a6e" SIG_BASE, "temperature", TBG_GATT_S16LE, 0.01, TRUE, -0x8000, -27315, 32767 },
	/* 0 to 100.00 %, 0xFFFF not known, all else prohibited */
	{ "00002a6f" SIG_BASE, "humidity", TBG_GATT_U16LE, 0.01, TRUE, 0xFFFF, 0, 10000 },
	/* 0.1 Pa on the air, the whole uint32 range, no marker; hPa is what people read */
	{ "00002a6d" SIG_BASE, "pressure", TBG_GATT_U32LE, 0.001, FALSE, 0, 0, G_MAXUINT32 },
};

static int
standard_index (const char *uuid)
{
	g_autofree char *norm = tbg_gatt_uuid_normalize (uuid, NULL);

	for (guint i = 0; norm != NULL && i < G_N_ELEMENTS (standard); i++) {
		if (g_str_equal (norm, standard[i].uuid))
			return (int) i;
	}
	return -1;
}

gboolean
tbg_gatt_is_standard (const char *uuid)
{
	return standard_index (uuid) >= 0;
}

gboolean
tbg_gatt_check_standard (const char *uuid, const guint8 *data, gsize len, GError **error)
{
	int i = standard_index (uuid);
	json_t *raw = i >= 0 ? tbg_gatt_decode (standard[i].format, 1, 0, data, len, NULL) : NULL;
	json_int_t r = json_integer_value (raw);
	gboolean ok = TRUE;

	/* a wrong length is the decoder's to report */
	if (!json_is_integer (raw)) {
		json_decref (raw);
		return TRUE;
	}
	json_decref (raw);
	if (standard[i].has_unknown && r == standard[i].unknown) {
		g_set_error (error, TBG_GATT_ERROR, TBG_GATT_ERROR_NOT_KNOWN, "value is not known");
		ok = FALSE;
	} else if (r < standard[i].min || r > standard[i].max) {
		g_set_error (error, TBG_GATT_ERROR, TBG_GATT_ERROR_NOT_KNOWN,
		             "%" JSON_INTEGER_FORMAT " is outside %" JSON_INTEGER_FORMAT "…%" JSON_INTEGER_FORMAT
		             " (the raw values the Bluetooth SIG allows)", r, standard[i].min, standard[i].max);
		ok = FALSE;
	}
	return ok;
}

gboolean
tbg_gatt_decode_standard (const char *uuid, const guint8 *data, gsize len, const char **key,
                          json_t **value, GError **error)
{
	int i = standard_index (uuid);
	json_t *v;

	if (i < 0 || !tbg_gatt_check_standard (uuid, data, len, error))
		return FALSE;
	v = tbg_gatt_decode (standard[i].format, standard[i].scale, 0, data, len, error);
	if (v == NULL)
		return FALSE;
	/* 0.01 steps: 23.12, not 23.120000000000001 */
	if (json_is_real (v))
		json_real_set (v, round (json_real_value (v) * 1000) / 1000);
	*key = standard[i].key;
	*value = v;
	return TRUE;
}
