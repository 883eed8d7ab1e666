/* SPDX-License-Identifier: Apache-2.0 */
/* The advertisement dispatcher: formats enabled or not, one sample per
 * packet, replays, wrong keys, rssi, config parsing. */
#include "ble-advert.h"
#include "ble-adv-source.h"

#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

static const guint8 mac[6] = { 0xa4, 0xc1, 0x38, 0x2f, 0x87, 0x6b };
static const guint8 key[16] = { 0xb2, 0xd4, 0x6f, 0x0c, 0xd1, 0x68, 0xc1, 0x8b,
                                0x24, 0x7c, 0x0c, 0x79, 0xe9, 0xad, 0x5b, 0x8d };

/* An encrypted BTHome v2 packet from @mac with @counter, as a sensor builds it. */
static gsize
bthome_packet (guint32 counter, guint8 out[32])
{
	const guint8 plain[] = { 0x02, 0xca, 0x09 };
	guint8 nonce[13];

	memcpy (nonce, mac, 6);
	nonce[6] = 0xd2;
	nonce[7] = 0xfc;
	nonce[8] = out[0] = 0x41;
	for (guint i = 0; i < 4; i++)
		nonce[9 + i] = out[1 + sizeof plain + i] = (guint8) (counter >> (8 * i));
	g_assert_true (tbg_adv_ccm_encrypt (key, nonce, sizeof nonce, NULL, 0, plain, sizeof plain, out + 1,
	                                    out + 1 + sizeof plain + 4, 4));
	return 1 + sizeof plain + 4 + 4;
}

static TbgAdvertResult
decode_one (guint16 id, gboolean service, const guint8 *data, gsize len, guint formats, TbgAdvState *st,
            gint64 now, json_t **values, GError **error)
{
	TbgAdvEntry e = { id, data, len };
	TbgAdvert ad = { .has_rssi = TRUE, .rssi = -70 };
	TbgAdvFormat f;

	memcpy (ad.address, mac, 6);
	if (service) {
		ad.service_data = &e;
		ad.n_service_data = 1;
	} else {
		ad.manufacturer_data = &e;
		ad.n_manufacturer_data = 1;
	}
	return tbg_advert_decode (&ad, formats, st, now, &f, values, error);
}

static void
test_duplicates (void)
{
	guint8 atc[] = { 0xa4, 0xc1, 0x38, 0x2f, 0x87, 0x6b, 0x00, 0xeb, 0x2d, 0x57, 0x0b, 0x54, 0x10 };
	const guint8 govee[] = { 0x00, 0x03, 0x6a, 0x4f, 0x64, 0x00 };
	TbgAdvState st = { 0 };
	json_t *v = NULL;

	g_assert_cmpint (decode_one (0x181A, TRUE, atc, sizeof atc, TBG_ADV_FMT_ATC, &st, 0, &v, NULL), ==,
	                 TBG_ADVERT_SAMPLE);
	g_assert_cmpint (json_integer_value (json_object_get (v, "rssi")), ==, -70);
	g_assert_cmpfloat (json_real_value (json_object_get (v, "temperature")), ==, 23.5);
	json_decref (v);
	/* the same frame counter, even minutes later: the same measurement */
	g_assert_cmpint (decode_one (0x181A, TRUE, atc, sizeof atc, TBG_ADV_FMT_ATC, &st, 600 * G_USEC_PER_SEC, &v,
	                             NULL), ==, TBG_ADVERT_DUPLICATE);
	g_assert_null (v);
	atc[12]++;
	g_assert_cmpint (decode_one (0x181A, TRUE, atc, sizeof atc, TBG_ADV_FMT_ATC, &st, 601 * G_USEC_PER_SEC, &v,
	                             NULL), ==, TBG_ADVERT_SAMPLE);
	json_decref (v);

	/* no counter: unchanged bytes within the window are the same packet */
	g_assert_cmpint (decode_one (0xEC88, FALSE, govee, sizeof govee, TBG_ADV_FMT_GOVEE, &st, 0, &v, NULL), ==,
	                 TBG_ADVERT_SAMPLE);
	json_decref (v);
	g_assert_cmpint (decode_one (0xEC88, FALSE, govee, sizeof govee, TBG_ADV_FMT_GOVEE, &st,
	                             TBG_ADVERT_SAME_WINDOW_US - 1, &v, NULL), ==, TBG_ADVERT_DUPLICATE);
	g_assert_cmpint (decode_one (0xEC88, FALSE, govee, sizeof govee, TBG_ADV_FMT_GOVEE, &st,
	                             TBG_ADVERT_SAME_WINDOW_US, &v, NULL), ==, TBG_ADVERT_SAMPLE);
	json_decref (v);
}

static void
test_replay_and_keys (void)
{
	guint8 p5[32], p6[32], p7[32];
	gsize n5 = bthome_packet (5, p5), n6 = bthome_packet (6, p6), n7 = bthome_packet (7, p7);
	static const guint8 wrong[16] = { 0 };
	TbgAdvState st = { .key = key };
	TbgAdvState nokey = { 0 };
	TbgAdvState bad = { .key = wrong };
	GError *error = NULL;
	json_t *v = NULL;
	gint64 t = 1000 * G_USEC_PER_SEC;

	g_assert_cmpint (decode_one (0xFCD2, TRUE, p6, n6, TBG_ADV_FMT_BTHOME, &st, t, &v, NULL), ==,
	                 TBG_ADVERT_SAMPLE);
	g_assert_cmpfloat (json_real_value (json_object_get (v, "temperature")), ==, 25.06);
	json_decref (v);
	g_assert_cmpint (decode_one (0xFCD2, TRUE, p6, n6, TBG_ADV_FMT_BTHOME, &st, t + 1, &v, NULL), ==,
	                 TBG_ADVERT_DUPLICATE);
	/* an older authenticated counter is a replay */
	g_assert_cmpint (decode_one (0xFCD2, TRUE, p5, n5, TBG_ADV_FMT_BTHOME, &st, t + 2, &v, NULL), ==,
	                 TBG_ADVERT_REPLAY);
	g_assert_null (v);
	g_assert_cmpint (decode_one (0xFCD2, TRUE, p7, n7, TBG_ADV_FMT_BTHOME, &st, t + 3, &v, NULL), ==,
	                 TBG_ADVERT_SAMPLE);
	json_decref (v);
	/* a sensor that restarted counts from low again: accepted after the reset time */
	g_assert_cmpint (decode_one (0xFCD2, TRUE, p5, n5, TBG_ADV_FMT_BTHOME, &st,
	                             t + 3 + TBG_ADVERT_REPLAY_RESET_US, &v, NULL), ==, TBG_ADVERT_SAMPLE);
	json_decref (v);

	g_assert_cmpint (decode_one (0xFCD2, TRUE, p5, n5, TBG_ADV_FMT_BTHOME, &bad, t, &v, &error), ==,
	                 TBG_ADVERT_WRONG_KEY);
	g_assert_error (error, TBG_ADV_ERROR, TBG_ADV_ERROR_WRONG_KEY);
	g_assert_nonnull (strstr (error->message, "cannot decrypt: wrong bindkey?"));
	g_assert_null (v);
	g_clear_error (&error);
	g_assert_cmpint (decode_one (0xFCD2, TRUE, p5, n5, TBG_ADV_FMT_BTHOME, &nokey, t, &v, &error), ==,
	                 TBG_ADVERT_NEEDS_KEY);
	g_clear_error (&error);
	/* with a key, a plain packet of a format that encrypts is somebody else's */
	{
		const guint8 plain[] = { 0x40, 0x00, 0x09, 0x02, 0xca, 0x09 };

		g_assert_cmpint (decode_one (0xFCD2, TRUE, plain, sizeof plain, TBG_ADV_FMT_BTHOME, &st, t + 4, &v,
		                             &error), ==, TBG_ADVERT_INVALID);
		g_assert_error (error, TBG_ADV_ERROR, TBG_ADV_ERROR_INVALID);
		g_assert_null (v);
		g_clear_error (&error);
		g_assert_cmpint (decode_one (0xFCD2, TRUE, plain, sizeof plain, TBG_ADV_FMT_BTHOME, &nokey, t, &v,
		                             NULL), ==, TBG_ADVERT_SAMPLE);
		json_decref (v);
	}
	/* a format not enabled is not even looked at */
	g_assert_cmpint (decode_one (0xFCD2, TRUE, p5, n5, TBG_ADV_FMT_ATC, &st, t, &v, &error), ==,
	                 TBG_ADVERT_NOTHING);
	g_assert_no_error (error);
}

/* BlueZ reports every service data entry a device ever sent: only the entry
 * with a new packet yields values. */
static void
test_two_formats_one_device (void)
{
	const guint8 atc[] = { 0xa4, 0xc1, 0x38, 0x2f, 0x87, 0x6b, 0x00, 0xeb, 0x2d, 0x57, 0x0b, 0x54, 0x10 };
	guint8 mi[] = { 0x50, 0x30, 0x5b, 0x05, 0x27, 0x1c, 0x25, 0x0f, 0x38, 0xc1, 0xa4, 0x0a, 0x10, 0x01, 0x5d };
	TbgAdvEntry e[2] = { { 0x181A, atc, sizeof atc }, { 0xFE95, mi, sizeof mi } };
	TbgAdvert ad = { .service_data = e, .n_service_data = 2, .name = "ATC_2F876B" };
	TbgAdvState st = { 0 };
	TbgAdvFormat f;
	json_t *v = NULL;

	memcpy (ad.address, mac, 6);
	g_assert_cmpint (tbg_advert_decode (&ad, TBG_ADV_FMT_ATC | TBG_ADV_FMT_MIBEACON, &st, 0, &f, &v, NULL), ==,
	                 TBG_ADVERT_SAMPLE);
	g_assert_cmpint (f, ==, TBG_ADV_FMT_ATC);
	/* ATC's four values; MiBeacon's battery joins them (no rssi without one) */
	g_assert_cmpint (json_object_size (v), ==, 4);
	g_assert_cmpint (json_integer_value (json_object_get (v, "battery")), ==, 93);
	json_decref (v);
	mi[4]++;
	mi[14] = 92;
	g_assert_cmpint (tbg_advert_decode (&ad, TBG_ADV_FMT_ATC | TBG_ADV_FMT_MIBEACON, &st, 1, &f, &v, NULL), ==,
	                 TBG_ADVERT_SAMPLE);
	g_assert_cmpint (f, ==, TBG_ADV_FMT_MIBEACON);
	g_assert_cmpint (json_object_size (v), ==, 1);
	g_assert_cmpint (json_integer_value (json_object_get (v, "battery")), ==, 92);
	json_decref (v);
}

static void
test_config_words (void)
{
	g_autoptr (GError) error = NULL;
	g_autofree char *name = NULL;
	guint8 addr[6], k[16];
	guint f;

	g_assert_true (tbg_advert_formats_parse ("atc, mibeacon ruuvi", &f, NULL));
	g_assert_cmpuint (f, ==, TBG_ADV_FMT_ATC | TBG_ADV_FMT_MIBEACON | TBG_ADV_FMT_RUUVI);
	g_assert_true (tbg_advert_formats_parse ("all", &f, NULL));
	g_assert_cmpuint (f, ==, (1u << TBG_ADV_N_FORMATS) - 1);
	g_assert_true (tbg_advert_formats_parse ("", &f, NULL));
	g_assert_cmpuint (f, ==, 0);
	g_assert_false (tbg_advert_formats_parse ("atc,xiaomi", &f, &error));
	g_assert_nonnull (strstr (error->message, "xiaomi"));
	g_clear_error (&error);
	g_assert_cmpstr (tbg_advert_format_name (TBG_ADV_FMT_EDDYSTONE), ==, "eddystone");

	g_assert_true (tbg_advert_parse_address ("A4:C1:38:2f:87:6B", addr));
	g_assert_cmpmem (addr, 6, mac, 6);
	g_assert_false (tbg_advert_parse_address ("A4:C1:38:2F:87", addr));
	g_assert_false (tbg_advert_parse_address ("A4:C1:38:2F:87:6B:00", addr));
	name = tbg_advert_default_name (TBG_ADV_FMT_RUUVI, addr);
	g_assert_cmpstr (name, ==, "Ruuvi 2F876B");

	g_assert_true (tbg_advert_parse_key (" b2d46f0cd168c18b247c0c79e9ad5b8d\n", k, NULL));
	g_assert_cmpmem (k, 16, key, 16);
	g_assert_false (tbg_advert_parse_key ("b2d46f0cd168c18b247c0c79e9ad5b8", k, &error));
	g_clear_error (&error);
	g_assert_false (tbg_advert_parse_key ("x2d46f0cd168c18b247c0c79e9ad5b8d", k, &error));
}

/* The source's keys, as a reload checks them: a bad value is refused
 * naming file:line, the key never shown. */
static void
assert_config (const char *text, const char *fragment)
{
	static const char * const prefixes[] = { "ble", NULL };
	g_autofree char *path = g_strdup_printf ("%s/tbgw-adv-config-test-%d.conf", g_get_tmp_dir (), (int) getpid ());
	g_autoptr (GError) error = NULL;
	g_autoptr (TbgConfig) cfg = NULL;

	g_assert_true (g_file_set_contents (path, text, -1, NULL));
	cfg = tbg_config_load (path, prefixes, &error);
	g_assert_no_error (error);
	if (fragment == NULL) {
		g_assert_true (tbg_source_ble.validate (cfg, &error));
		g_assert_no_error (error);
	} else {
		g_assert_false (tbg_source_ble.validate (cfg, &error));
		g_assert_nonnull (error);
		if (strstr (error->message, fragment) == NULL)
			g_error ("“%s” does not say “%s”", error->message, fragment);
		g_assert_null (strstr (error->message, "0123456789abcdef0123456789abcdeX"));
	}
	g_unlink (path);
}

static void
test_config_errors (void)
{
	assert_config ("[ble]\ndecoders=atc mibeacon\nadvertisers=any\n"
	               "[ble:A]\naddress=A4:C1:38:00:00:01\nbindkey=" "b2d46f0cd168c18b247c0c79e9ad5b8d\n"
	               "absent-after-s=5\nconnect=false\n", NULL);
	assert_config ("[ble]\ndecoders=atc xiaomi\n", ".conf:2: [ble] decoders: unknown advertisement format “xiaomi”");
	assert_config ("[ble]\nadvertisers=all\n", ".conf:2: [ble] advertisers: “all” is not configured or any");
	assert_config ("[ble:A]\naddress=A4:C1:38:00:00:01\nbindkey=0123456789abcdef0123456789abcdeX\n",
	               ".conf:3: [ble:A] bindkey: a bindkey is 32 hexadecimal digits");
	assert_config ("[ble:A]\naddress=A4:C1:38:00:00:01\nbindkey-file=/nonexistent/key\n",
	               ".conf:3: [ble:A] bindkey-file:");
	assert_config ("[ble:A]\naddress=A4:C1:38:00:00:01\nabsent-after-s=0\n", "absent-after-s");
}

int
main (int argc, char **argv)
{
	g_test_init (&argc, &argv, NULL);
	g_test_add_func ("/advert/duplicates", test_duplicates);
	g_test_add_func ("/advert/replay-and-keys", test_replay_and_keys);
	g_test_add_func ("/advert/two-formats-one-device", test_two_formats_one_device);
	g_test_add_func ("/advert/config-words", test_config_words);
	g_test_add_func ("/advert/config-errors", test_config_errors);
	return g_test_run ();
}
