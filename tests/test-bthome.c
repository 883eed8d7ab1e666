/* SPDX-License-Identifier: Apache-2.0 */
/* BTHome v2 decoding, on packets from the spec's examples. */
#include "bthome.h"

#include <string.h>

static void
assert_values (const guint8 *data, gsize len, const char *expected)
{
	g_autoptr (GError) error = NULL;
	TbgBthomePacket p;
	json_t *want = json_loads (expected, 0, NULL);

	g_assert_true (tbg_bthome_decode (data, len, &p, &error));
	g_assert_no_error (error);
	if (!json_equal (p.values, want)) {
		char *got = json_dumps (p.values, JSON_SORT_KEYS | JSON_COMPACT);

		g_error ("decoded %s, expected %s", got, expected);
	}
	json_decref (want);
	tbg_bthome_packet_clear (&p);
}

static void
assert_fails (const guint8 *data, gsize len, TbgBthomeError code, const char *fragment)
{
	g_autoptr (GError) error = NULL;
	TbgBthomePacket p;

	g_assert_false (tbg_bthome_decode (data, len, &p, &error));
	g_assert_error (error, TBG_BTHOME_ERROR, (gint) code);
	g_assert_nonnull (strstr (error->message, fragment));
	g_assert_null (p.values);
}

static void
test_spec_examples (void)
{
	/* device info 0x40: v2, unencrypted, regular */
	const guint8 temp[] = { 0x40, 0x02, 0xca, 0x09 };
	const guint8 multi[] = { 0x40, 0x00, 0x1b, 0x01, 0x64, 0x02, 0xc8, 0x08, 0x03, 0x6c, 0x1a };
	const guint8 more[] = { 0x40, 0x04, 0x13, 0x8a, 0x01, 0x05, 0x13, 0x8a, 0x14, 0x0c, 0x02, 0x0c,
	                        0x12, 0xe2, 0x04, 0x3e, 0x2a, 0x2c, 0x09, 0x60, 0x45, 0x11, 0x01 };
	const guint8 negative[] = { 0x40, 0x02, 0xf4, 0xff, 0x5a, 0xea, 0xea, 0x57, 0xea };
	const guint8 binary[] = { 0x40, 0x21, 0x01, 0x1a, 0x00, 0x2d, 0x01 };
	const guint8 two_temps[] = { 0x40, 0x02, 0xca, 0x09, 0x02, 0xcb, 0x09 };

	assert_values (temp, sizeof temp, "{\"temperature\":25.06}");
	assert_values (multi, sizeof multi, "{\"battery\":100,\"temperature\":22.48,\"humidity\":67.64}");
	assert_values (more, sizeof more, "{\"pressure\":1008.83,\"illuminance\":13460.67,\"voltage\":3.074,"
	                                  "\"co2\":1250,\"count\":1611213866,\"temperature\":27.3}");
	assert_values (negative, sizeof negative, "{\"temperature\":-0.12,\"count\":-5398,\"temperature_2\":-22}");
	assert_values (binary, sizeof binary, "{\"motion\":true,\"door\":false,\"window\":true}");
	assert_values (two_temps, sizeof two_temps, "{\"temperature\":25.06,\"temperature_2\":25.07}");
}

static void
test_packet_id_and_duplicates (void)
{
	const guint8 a[] = { 0x40, 0x00, 0x09, 0x01, 0x64 };
	const guint8 b[] = { 0x40, 0x00, 0x0a, 0x01, 0x63 };
	TbgBthomePacket p;
	guint8 last = 0;
	gboolean have = FALSE;

	g_assert_true (tbg_bthome_decode (a, sizeof a, &p, NULL));
	g_assert_true (p.has_packet_id);
	g_assert_cmpuint (p.packet_id, ==, 9);
	g_assert_false (tbg_bthome_is_duplicate (&last, &have, &p));
	g_assert_true (tbg_bthome_is_duplicate (&last, &have, &p));
	tbg_bthome_packet_clear (&p);
	g_assert_true (tbg_bthome_decode (b, sizeof b, &p, NULL));
	g_assert_false (tbg_bthome_is_duplicate (&last, &have, &p));
	tbg_bthome_packet_clear (&p);
}

static void
test_refused (void)
{
	const guint8 encrypted[] = { 0x41, 0x02, 0xca, 0x09 };
	const guint8 v1[] = { 0x20, 0x02, 0xca, 0x09 };
	const guint8 truncated[] = { 0x40, 0x01, 0x64, 0x02, 0xca };
	const guint8 unknown_first[] = { 0x40, 0xfe, 0x01 };

	assert_fails (encrypted, sizeof encrypted, TBG_BTHOME_ERROR_ENCRYPTED, "encrypted");
	assert_fails (v1, sizeof v1, TBG_BTHOME_ERROR_VERSION, "version 1");
	assert_fails (truncated, sizeof truncated, TBG_BTHOME_ERROR_TRUNCATED, "0x02 (temperature) at byte 3");
	assert_fails (unknown_first, sizeof unknown_first, TBG_BTHOME_ERROR_UNKNOWN_OBJECT, "0xFE");
	assert_fails (NULL, 0, TBG_BTHOME_ERROR_EMPTY, "empty");
}

static void
test_unknown_after_known (void)
{
	const guint8 data[] = { 0x40, 0x01, 0x50, 0xfe, 0x01, 0x02 };
	TbgBthomePacket p;

	/* what came before an object we cannot size is kept */
	g_assert_true (tbg_bthome_decode (data, sizeof data, &p, NULL));
	g_assert_cmpuint (p.unknown_object_id, ==, 0xfe);
	g_assert_cmpint (json_integer_value (json_object_get (p.values, "battery")), ==, 80);
	tbg_bthome_packet_clear (&p);
}

int
main (int argc, char **argv)
{
	g_test_init (&argc, &argv, NULL);
	g_test_add_func ("/bthome/spec-examples", test_spec_examples);
	g_test_add_func ("/bthome/packet-id-and-duplicates", test_packet_id_and_duplicates);
	g_test_add_func ("/bthome/refused", test_refused);
	g_test_add_func ("/bthome/unknown-after-known", test_unknown_after_known);
	return g_test_run ();
}
