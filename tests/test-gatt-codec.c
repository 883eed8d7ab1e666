/* SPDX-License-Identifier: Apache-2.0 */
/* GATT values both ways, in every format, with the errors a config or an
 * RPC gets for bad input; the standard SIG characteristics; UUIDs. */
#include "gatt-codec.h"

#include <string.h>

static char *
dump (json_t *j)
{
	char *s = json_dumps (j, JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION (15));
	char *out = g_strdup (s);

	free (s);
	json_decref (j);
	return out;
}

static void
check_decode (const char *format, double scale, double offset, const guint8 *data, gsize len,
              const char *expected)
{
	TbgGattFormat f;
	g_autoptr (GError) error = NULL;
	json_t *v;
	g_autofree char *text = NULL;

	g_assert_true (tbg_gatt_format_from_name (format, &f, NULL));
	v = tbg_gatt_decode (f, scale, offset, data, len, &error);
	g_assert_no_error (error);
	text = dump (v);
	g_assert_cmpstr (text, ==, expected);
}

static void
check_encode (const char *format, double scale, double offset, const char *json, const guint8 *want,
              gsize want_len)
{
	TbgGattFormat f;
	g_autoptr (GError) error = NULL;
	json_t *v = json_loads (json, JSON_DECODE_ANY, NULL);
	g_autoptr (GBytes) b = NULL;

	g_assert_true (tbg_gatt_format_from_name (format, &f, NULL));
	b = tbg_gatt_encode (f, scale, offset, v, &error);
	json_decref (v);
	g_assert_no_error (error);
	g_assert_cmpmem (g_bytes_get_data (b, NULL), g_bytes_get_size (b), want, want_len);
}

static void
check_encode_fails (const char *format, const char *json, const char *fragment)
{
	TbgGattFormat f;
	g_autoptr (GError) error = NULL;
	json_t *v = json_loads (json, JSON_DECODE_ANY, NULL);

	g_assert_true (tbg_gatt_format_from_name (format, &f, NULL));
	g_assert_null (tbg_gatt_encode (f, 1, 0, v, &error));
	json_decref (v);
	g_assert_error (error, TBG_GATT_ERROR, TBG_GATT_ERROR_VALUE);
	if (strstr (error->message, fragment) == NULL)
		g_error ("“%s” does not say “%s”", error->message, fragment);
}

static void
test_decode (void)
{
	const guint8 u8[] = { 0xff }, s8[] = { 0xff }, u16[] = { 0x08, 0x09 }, s16[] = { 0xf4, 0xff };
	const guint8 u32[] = { 0x01, 0x00, 0x00, 0x80 }, s32[] = { 0xff, 0xff, 0xff, 0xff };
	const guint8 f32[] = { 0x00, 0x00, 0xac, 0x41 };   /* 21.5 */
	const guint8 text[] = { 'o', 'k', 0, 0 }, hex[] = { 0x0a, 0xb0 }, b[] = { 2 };

	check_decode ("u8", 1, 0, u8, 1, "255");
	check_decode ("s8", 1, 0, s8, 1, "-1");
	check_decode ("u16le", 1, 0, u16, 2, "2312");
	check_decode ("u16le", 0.01, 0, u16, 2, "23.12");
	check_decode ("s16le", 0.1, -40, s16, 2, "-41.2");
	check_decode ("u32le", 1, 0, u32, 4, "2147483649");
	check_decode ("s32le", 1, 0, s32, 4, "-1");
	check_decode ("float32le", 1, 0, f32, 4, "21.5");
	check_decode ("utf8", 1, 0, text, sizeof text, "\"ok\"");
	check_decode ("hex", 1, 0, hex, 2, "\"0ab0\"");
	check_decode ("bool", 1, 0, b, 1, "true");
}

static void
test_decode_errors (void)
{
	const guint8 three[] = { 1, 2, 3 }, bad_utf8[] = { 0xc3, 0x28 }, nan[] = { 0, 0, 0xc0, 0x7f };
	TbgGattFormat f;
	g_autoptr (GError) error = NULL;

	g_assert_null (tbg_gatt_decode (TBG_GATT_U16LE, 1, 0, three, 3, &error));
	g_assert_error (error, TBG_GATT_ERROR, TBG_GATT_ERROR_LENGTH);
	g_assert_cmpstr (error->message, ==, "u16le wants 2 bytes, got 3");
	g_clear_error (&error);
	g_assert_null (tbg_gatt_decode (TBG_GATT_UTF8, 1, 0, bad_utf8, 2, &error));
	g_assert_error (error, TBG_GATT_ERROR, TBG_GATT_ERROR_VALUE);
	g_clear_error (&error);
	g_assert_null (tbg_gatt_decode (TBG_GATT_FLOAT32LE, 1, 0, nan, 4, &error));
	g_clear_error (&error);
	g_assert_false (tbg_gatt_format_from_name ("int16", &f, &error));
	g_assert_nonnull (strstr (error->message, "u8, s8, u16le"));
}

static void
test_encode (void)
{
	check_encode ("u8", 1, 0, "7", (const guint8 *) "\x07", 1);
	check_encode ("u8", 1, 0, "true", (const guint8 *) "\x01", 1);
	check_encode ("s16le", 1, 0, "-12", (const guint8 *) "\xf4\xff", 2);
	check_encode ("u16le", 0.01, 0, "23.12", (const guint8 *) "\x08\x09", 2);
	check_encode ("u32le", 1, 0, "2147483649", (const guint8 *) "\x01\x00\x00\x80", 4);
	check_encode ("float32le", 1, 0, "21.5", (const guint8 *) "\x00\x00\xac\x41", 4);
	check_encode ("utf8", 1, 0, "\"on\"", (const guint8 *) "on", 2);
	check_encode ("hex", 1, 0, "\"0a0B\"", (const guint8 *) "\x0a\x0b", 2);
	check_encode ("hex", 1, 0, "\"0A:0B\"", (const guint8 *) "\x0a\x0b", 2);
	check_encode ("bool", 1, 0, "false", (const guint8 *) "\x00", 1);
	check_encode_fails ("u8", "300", "300 is out of range for u8 (0..255)");
	check_encode_fails ("s8", "-129", "out of range for s8 (-128..127)");
	check_encode_fails ("u8", "\"x\"", "a u8 value must be a number");
	check_encode_fails ("hex", "\"0a0\"", "is not hex bytes");
	check_encode_fails ("hex", "\"zz\"", "is not hex bytes");
	check_encode_fails ("utf8", "5", "must be a string");
}

static void
test_standard (void)
{
	const guint8 temp[] = { 0x08, 0x09 }, batt[] = { 87 }, pres[] = { 0xa8, 0x64, 0x0f, 0x00 };
	const char *key;
	json_t *v;
	g_autoptr (GError) error = NULL;
	char *text;

	g_assert_true (tbg_gatt_decode_standard ("00002a6e-0000-1000-8000-00805f9b34fb", temp, 2, &key, &v, NULL));
	g_assert_cmpstr (key, ==, "temperature");
	text = dump (v);
	g_assert_cmpstr (text, ==, "23.12");
	g_free (text);
	g_assert_true (tbg_gatt_decode_standard ("2A19", batt, 1, &key, &v, NULL));
	g_assert_cmpstr (key, ==, "battery");
	g_assert_cmpint (json_integer_value (v), ==, 87);
	json_decref (v);
	/* 1008808 × 0.1 Pa = 1008.808 hPa */
	g_assert_true (tbg_gatt_decode_standard ("0x2a6d", pres, 4, &key, &v, NULL));
	text = dump (v);
	g_assert_cmpstr (text, ==, "1008.808");
	g_free (text);
	g_assert_false (tbg_gatt_decode_standard ("2a6e", batt, 1, &key, &v, &error));
	g_assert_error (error, TBG_GATT_ERROR, TBG_GATT_ERROR_LENGTH);
	g_assert_false (tbg_gatt_is_standard ("12345678-1234-5678-1234-56789abcdef0"));
	g_assert_true (tbg_gatt_is_standard ("2a6f"));
}

/* The GSS's "value is not known" markers and prohibited values are no
 * samples; the edges of the allowed ranges are. */
static void
test_standard_not_known (void)
{
	static const struct { const char *uuid; guint8 data[4]; gsize len; gboolean ok; } cases[] = {
		{ "2a6e", { 0x00, 0x80 }, 2, FALSE },              /* 0x8000: not known */
		{ "2a6e", { 0x4c, 0x95 }, 2, FALSE },              /* −273.16 °C: prohibited */
		{ "2a6e", { 0x4d, 0x95 }, 2, TRUE },               /* −273.15 °C */
		{ "2a6e", { 0xff, 0x7f }, 2, TRUE },               /* 327.67 °C */
		{ "2a6f", { 0xff, 0xff }, 2, FALSE },              /* 0xFFFF: not known */
		{ "2a6f", { 0x11, 0x27 }, 2, FALSE },              /* 100.01 %: prohibited */
		{ "2a6f", { 0x10, 0x27 }, 2, TRUE },               /* 100.00 % */
		{ "2a19", { 101 }, 1, FALSE },                     /* reserved */
		{ "2a19", { 100 }, 1, TRUE },
		{ "2a6d", { 0xff, 0xff, 0xff, 0xff }, 4, TRUE },   /* pressure has no marker */
	};

	for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
		g_autoptr (GError) error = NULL;
		const char *key = NULL;
		json_t *v = NULL;
		gboolean ok = tbg_gatt_decode_standard (cases[i].uuid, cases[i].data, cases[i].len, &key, &v, &error);

		if (ok != cases[i].ok)
			g_error ("case %u (%s): decoded %d, expected %d", i, cases[i].uuid, ok, cases[i].ok);
		if (ok)
			json_decref (v);
		else
			g_assert_error (error, TBG_GATT_ERROR, TBG_GATT_ERROR_NOT_KNOWN);
		g_assert_true (tbg_gatt_check_standard (cases[i].uuid, cases[i].data, cases[i].len, NULL) == cases[i].ok);
	}
	/* other characteristics and wrong lengths are not its business */
	g_assert_true (tbg_gatt_check_standard ("12345678-1234-5678-1234-56789abcdef0",
	                                        (const guint8 *) "\x00\x80", 2, NULL));
	g_assert_true (tbg_gatt_check_standard ("2a6e", (const guint8 *) "\x00", 1, NULL));
}

static void
test_uuid (void)
{
	g_autofree char *a = tbg_gatt_uuid_normalize ("2A19", NULL);
	g_autofree char *b = tbg_gatt_uuid_normalize ("0x2a19", NULL);
	g_autofree char *c = tbg_gatt_uuid_normalize ("12345678-1234-5678-1234-56789ABCDEF0", NULL);
	g_autoptr (GError) error = NULL;

	g_assert_cmpstr (a, ==, "00002a19-0000-1000-8000-00805f9b34fb");
	g_assert_cmpstr (b, ==, a);
	g_assert_cmpstr (c, ==, "12345678-1234-5678-1234-56789abcdef0");
	g_assert_null (tbg_gatt_uuid_normalize ("2a1", &error));
	g_assert_error (error, TBG_GATT_ERROR, TBG_GATT_ERROR_UUID);
}

int
main (int argc, char **argv)
{
	g_test_init (&argc, &argv, NULL);
	g_test_add_func ("/gatt-codec/decode", test_decode);
	g_test_add_func ("/gatt-codec/standard-not-known", test_standard_not_known);
	g_test_add_func ("/gatt-codec/decode-errors", test_decode_errors);
	g_test_add_func ("/gatt-codec/encode", test_encode);
	g_test_add_func ("/gatt-codec/standard", test_standard);
	g_test_add_func ("/gatt-codec/uuid", test_uuid);
	return g_test_run ();
}
