/* SPDX-License-Identifier: Apache-2.0 */
/* The advertisement decoders on byte vectors written from each format's own
 * documentation; the encrypted ones built as the format's page describes
 * (bthome.io's own example for BTHome v2: key 231d39c1…, counter 00112233). */
#include "ble-adv.h"

#include <string.h>

static const guint8 bthome_mac[6] = { 0x54, 0x48, 0xe6, 0x8f, 0x80, 0xa5 };
static const guint8 bthome_key[16] = { 0x23, 0x1d, 0x39, 0xc1, 0xd7, 0xcc, 0x1a, 0xb1,
                                       0xae, 0xe2, 0x24, 0xcd, 0x09, 0x6d, 0xb9, 0x32 };
static const guint8 atc_mac[6] = { 0xa4, 0xc1, 0x38, 0x2f, 0x87, 0x6b };
static const guint8 atc_key[16] = { 0xb2, 0xd4, 0x6f, 0x0c, 0xd1, 0x68, 0xc1, 0x8b,
                                    0x24, 0x7c, 0x0c, 0x79, 0xe9, 0xad, 0x5b, 0x8d };
static const guint8 wrong_key[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };

static void
assert_packet (gboolean ok, GError *error, TbgAdvPacket *p, const char *expected)
{
	json_t *want = json_loads (expected, 0, NULL);

	g_assert_no_error (error);
	g_assert_true (ok);
	g_assert_nonnull (want);
	if (!json_equal (p->values, want)) {
		char *got = json_dumps (p->values, JSON_SORT_KEYS | JSON_COMPACT);

		g_error ("decoded %s, expected %s", got, expected);
	}
	json_decref (want);
}

static void
assert_refused (gboolean ok, GError *error, TbgAdvPacket *p, TbgAdvError code, const char *fragment)
{
	g_assert_false (ok);
	g_assert_error (error, TBG_ADV_ERROR, (gint) code);
	g_assert_nonnull (strstr (error->message, fragment));
	g_assert_null (p->values);
	g_error_free (error);
}

static void
test_bthome_v2_encrypted (void)
{
	/* bthome.io/encryption: 02CA09 03BF13 with the example's key, address and counter */
	const guint8 sd[] = { 0x41, 0xa4, 0x72, 0x66, 0xc9, 0x5f, 0x73, 0x00, 0x11, 0x22, 0x33,
	                      0x78, 0x23, 0x72, 0x14 };
	const guint8 plain[] = { 0x40, 0x00, 0x07, 0x02, 0xca, 0x09 };
	guint8 tampered[sizeof sd];
	GError *error = NULL;
	TbgAdvPacket p;
	gboolean ok;

	ok = tbg_adv_bthome_decode (bthome_mac, sd, sizeof sd, bthome_key, &p, &error);
	assert_packet (ok, error, &p, "{\"temperature\":25.06,\"humidity\":50.55}");
	g_assert_true (p.encrypted && p.has_counter);
	g_assert_cmpuint (p.counter, ==, 0x33221100);
	g_assert_cmpuint (p.counter_bits, ==, 32);
	tbg_adv_packet_clear (&p);

	ok = tbg_adv_bthome_decode (bthome_mac, sd, sizeof sd, wrong_key, &p, &error);
	assert_refused (ok, error, &p, TBG_ADV_ERROR_WRONG_KEY, "wrong bindkey");
	error = NULL;
	ok = tbg_adv_bthome_decode (bthome_mac, sd, sizeof sd, NULL, &p, &error);
	assert_refused (ok, error, &p, TBG_ADV_ERROR_NEEDS_KEY, "no bindkey");
	error = NULL;
	/* another sender's address is part of the nonce: no decryption */
	ok = tbg_adv_bthome_decode (atc_mac, sd, sizeof sd, bthome_key, &p, &error);
	assert_refused (ok, error, &p, TBG_ADV_ERROR_WRONG_KEY, "wrong bindkey");
	error = NULL;
	memcpy (tampered, sd, sizeof sd);
	tampered[8] ^= 0x01;   /* counter changed: the MIC no longer fits */
	ok = tbg_adv_bthome_decode (bthome_mac, tampered, sizeof tampered, bthome_key, &p, &error);
	assert_refused (ok, error, &p, TBG_ADV_ERROR_WRONG_KEY, "wrong bindkey");
	error = NULL;
	ok = tbg_adv_bthome_decode (bthome_mac, sd, 9, bthome_key, &p, &error);
	assert_refused (ok, error, &p, TBG_ADV_ERROR_INVALID, "encrypted BTHome");
	error = NULL;

	/* plain v2 goes through the same entry point, with its packet id */
	ok = tbg_adv_bthome_decode (bthome_mac, plain, sizeof plain, NULL, &p, &error);
	assert_packet (ok, error, &p, "{\"temperature\":25.06}");
	g_assert_false (p.encrypted);
	g_assert_cmpuint (p.counter, ==, 7);
	tbg_adv_packet_clear (&p);
}

static void
test_bthome_v1 (void)
{
	/* 0x181C: packet id 9 (uint, length 2), temperature 25.06 (int, 3), humidity 50.55 (uint, 3) */
	const guint8 plain[] = { 0x02, 0x00, 0x09, 0x23, 0x02, 0xca, 0x09, 0x03, 0x03, 0xbf, 0x13 };
	/* an object whose length disagrees with its id is skipped, not misread */
	const guint8 odd[] = { 0x24, 0x02, 0xca, 0x09, 0x00, 0x02, 0x01, 0x5a };
	const guint8 truncated[] = { 0x23, 0x02, 0xca };
	/* 0x181E: temperature 25.00, humidity 50.55; counter 1; AES-CCM, 0x11 header */
	const guint8 enc[] = { 0x62, 0x8d, 0x80, 0xbf, 0x6c, 0x99, 0xc9, 0x41, 0x01, 0x00, 0x00, 0x00,
	                       0x79, 0x32, 0x62, 0xa1 };
	GError *error = NULL;
	TbgAdvPacket p;
	gboolean ok;

	ok = tbg_adv_bthome_v1_decode (bthome_mac, 0x181C, plain, sizeof plain, NULL, &p, &error);
	assert_packet (ok, error, &p, "{\"temperature\":25.06,\"humidity\":50.55}");
	g_assert_cmpuint (p.counter, ==, 9);
	tbg_adv_packet_clear (&p);
	ok = tbg_adv_bthome_v1_decode (bthome_mac, 0x181C, odd, sizeof odd, NULL, &p, &error);
	assert_packet (ok, error, &p, "{\"battery\":90}");
	tbg_adv_packet_clear (&p);
	ok = tbg_adv_bthome_v1_decode (bthome_mac, 0x181C, truncated, sizeof truncated, NULL, &p, &error);
	assert_refused (ok, error, &p, TBG_ADV_ERROR_INVALID, "past the end");
	error = NULL;

	ok = tbg_adv_bthome_v1_decode (bthome_mac, 0x181E, enc, sizeof enc, bthome_key, &p, &error);
	assert_packet (ok, error, &p, "{\"temperature\":25.0,\"humidity\":50.55}");
	g_assert_true (p.encrypted);
	g_assert_cmpuint (p.counter, ==, 1);
	tbg_adv_packet_clear (&p);
	ok = tbg_adv_bthome_v1_decode (bthome_mac, 0x181E, enc, sizeof enc, wrong_key, &p, &error);
	assert_refused (ok, error, &p, TBG_ADV_ERROR_WRONG_KEY, "wrong bindkey");
}

static void
test_atc (void)
{
	/* ATC1441: MAC, 23.5 °C (0x00EB), 45 %, 87 %, 2900 mV, frame 0x10 */
	const guint8 atc[] = { 0xa4, 0xc1, 0x38, 0x2f, 0x87, 0x6b, 0x00, 0xeb, 0x2d, 0x57, 0x0b, 0x54, 0x10 };
	const guint8 atc_neg[] = { 0xa4, 0xc1, 0x38, 0x2f, 0x87, 0x6b, 0xff, 0x9c, 0x50, 0x0a, 0x0a, 0x28, 0x11 };
	/* pvvx custom: MAC LE, 23.45 °C, 45.67 %, 2900 mV, 87 %, counter 0x22, flags */
	const guint8 pvvx[] = { 0x6b, 0x87, 0x2f, 0x38, 0xc1, 0xa4, 0x29, 0x09, 0xd7, 0x11, 0x54, 0x0b,
	                        0x57, 0x22, 0x00 };
	/* pvvx encrypted custom, counter 0x21: 23.45 °C, 45.67 %, 87 % */
	const guint8 pvvx_enc[] = { 0x21, 0x3a, 0x80, 0xa0, 0xf6, 0x90, 0x2f, 0x68, 0xb4, 0xe6, 0x69 };
	/* ATC1441 encrypted, counter 5: 23.5 °C, 45.5 %, 87 % */
	const guint8 atc_enc[] = { 0x05, 0x38, 0x38, 0xb3, 0xfc, 0x1b, 0xe0, 0x87 };
	GError *error = NULL;
	TbgAdvPacket p;
	gboolean ok;

	ok = tbg_adv_atc_decode (atc_mac, atc, sizeof atc, NULL, &p, &error);
	assert_packet (ok, error, &p, "{\"temperature\":23.5,\"humidity\":45,\"battery\":87,\"voltage\":2.9}");
	g_assert_true (p.has_counter && !p.encrypted);
	g_assert_cmpuint (p.counter, ==, 0x10);
	tbg_adv_packet_clear (&p);
	ok = tbg_adv_atc_decode (atc_mac, atc_neg, sizeof atc_neg, NULL, &p, &error);
	assert_packet (ok, error, &p, "{\"temperature\":-10.0,\"humidity\":80,\"battery\":10,\"voltage\":2.6}");
	tbg_adv_packet_clear (&p);
	ok = tbg_adv_atc_decode (atc_mac, pvvx, sizeof pvvx, NULL, &p, &error);
	assert_packet (ok, error, &p, "{\"temperature\":23.45,\"humidity\":45.67,\"battery\":87,\"voltage\":2.9}");
	g_assert_cmpuint (p.counter, ==, 0x22);
	tbg_adv_packet_clear (&p);
	ok = tbg_adv_atc_decode (atc_mac, pvvx_enc, sizeof pvvx_enc, atc_key, &p, &error);
	assert_packet (ok, error, &p, "{\"temperature\":23.45,\"humidity\":45.67,\"battery\":87}");
	g_assert_true (p.encrypted);
	g_assert_cmpuint (p.counter, ==, 0x21);
	g_assert_cmpuint (p.counter_bits, ==, 8);
	tbg_adv_packet_clear (&p);
	ok = tbg_adv_atc_decode (atc_mac, atc_enc, sizeof atc_enc, atc_key, &p, &error);
	assert_packet (ok, error, &p, "{\"temperature\":23.5,\"humidity\":45.5,\"battery\":87}");
	tbg_adv_packet_clear (&p);
	ok = tbg_adv_atc_decode (atc_mac, pvvx_enc, sizeof pvvx_enc, wrong_key, &p, &error);
	assert_refused (ok, error, &p, TBG_ADV_ERROR_WRONG_KEY, "wrong bindkey");
	error = NULL;
	ok = tbg_adv_atc_decode (atc_mac, atc_enc, sizeof atc_enc, NULL, &p, &error);
	assert_refused (ok, error, &p, TBG_ADV_ERROR_NEEDS_KEY, "no bindkey");
	error = NULL;
	ok = tbg_adv_atc_decode (atc_mac, atc, 12, NULL, &p, &error);
	assert_refused (ok, error, &p, TBG_ADV_ERROR_INVALID, "12 bytes");
}

static void
test_mibeacon (void)
{
	/* LYWSD03MMC in pvvx's "Mijia" mode, as logged in pvvx issue #19:
	 * v3, MAC A4C1380F251C, frame 39, object 0x100D 10.9 °C 48.3 % */
	const guint8 th[] = { 0x50, 0x30, 0x5b, 0x05, 0x27, 0x1c, 0x25, 0x0f, 0x38, 0xc1, 0xa4, 0x0d, 0x10,
	                      0x04, 0x6d, 0x00, 0xe3, 0x01 };
	/* Mi Flora HHCCJCY01 (product 0x0098), v2 with MAC: illuminance 10000 lx,
	 * moisture 42 %, conductivity 350 µS/cm, temperature 21.5 */
	const guint8 flora[] = { 0x50, 0x20, 0x98, 0x00, 0x12, 0x6b, 0x87, 0x2f, 0x38, 0xc1, 0xa4,
	                         0x07, 0x10, 0x03, 0x10, 0x27, 0x00, 0x08, 0x10, 0x01, 0x2a,
	                         0x09, 0x10, 0x02, 0x5e, 0x01, 0x04, 0x10, 0x02, 0xd7, 0x00 };
	/* without MAC (bit 4 clear): door open (0x1019 = 0), someone moves with 120 lx */
	const guint8 door[] = { 0x40, 0x20, 0x8b, 0x09, 0x33, 0x19, 0x10, 0x01, 0x00,
	                        0x0f, 0x00, 0x03, 0x78, 0x00, 0x00 };
	/* LYWSDCGQ (v2, with capability byte): battery 93 % */
	const guint8 cgq[] = { 0x70, 0x20, 0xaa, 0x01, 0x40, 0x6b, 0x87, 0x2f, 0x38, 0xc1, 0xa4, 0x0d,
	                       0x0a, 0x10, 0x01, 0x5d };
	/* v5 encrypted (stock LYWSD03MMC layout): frame 0xC0, ext counter 0x000021, 23.3 °C */
	const guint8 enc[] = { 0x58, 0x58, 0x5b, 0x05, 0xc0, 0x6b, 0x87, 0x2f, 0x38, 0xc1, 0xa4, 0x05, 0x7a,
	                       0x26, 0xdd, 0x24, 0x21, 0x00, 0x00, 0x45, 0x88, 0xaf, 0xc5 };
	/* v5 encrypted without MAC (address from the scan), MJWSD05MMC objects:
	 * 0x4C01 float 22.5 °C, 0x4C02 55 % */
	const guint8 enc_float[] = { 0x48, 0x58, 0x28, 0x32, 0xc1, 0xac, 0xd8, 0x5e, 0x15, 0x87, 0x07, 0x18,
	                             0x27, 0xe3, 0xfc, 0x09, 0x21, 0x00, 0x00, 0x57, 0x68, 0x40, 0x7a };
	const guint8 v3_enc[] = { 0x58, 0x30, 0x5b, 0x05, 0xc0, 0x6b, 0x87, 0x2f, 0x38, 0xc1, 0xa4, 0x01,
	                          0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08 };
	const guint8 no_objects[] = { 0x30, 0x58, 0x5b, 0x05, 0xbf, 0x6b, 0x87, 0x2f, 0x38, 0xc1, 0xa4, 0x08 };
	GError *error = NULL;
	TbgAdvPacket p;
	gboolean ok;

	ok = tbg_adv_mibeacon_decode (atc_mac, th, sizeof th, NULL, &p, &error);
	assert_packet (ok, error, &p, "{\"temperature\":10.9,\"humidity\":48.3}");
	g_assert_cmpuint (p.counter, ==, 39);
	tbg_adv_packet_clear (&p);
	ok = tbg_adv_mibeacon_decode (atc_mac, flora, sizeof flora, NULL, &p, &error);
	assert_packet (ok, error, &p, "{\"illuminance\":10000,\"moisture\":42,\"conductivity\":350,\"temperature\":21.5}");
	tbg_adv_packet_clear (&p);
	ok = tbg_adv_mibeacon_decode (atc_mac, door, sizeof door, NULL, &p, &error);
	assert_packet (ok, error, &p, "{\"door\":true,\"motion\":true,\"illuminance\":120}");
	tbg_adv_packet_clear (&p);
	ok = tbg_adv_mibeacon_decode (atc_mac, cgq, sizeof cgq, NULL, &p, &error);
	assert_packet (ok, error, &p, "{\"battery\":93}");
	tbg_adv_packet_clear (&p);
	ok = tbg_adv_mibeacon_decode (atc_mac, enc, sizeof enc, atc_key, &p, &error);
	assert_packet (ok, error, &p, "{\"temperature\":23.3}");
	g_assert_true (p.encrypted);
	g_assert_cmpuint (p.counter, ==, 0x21c0);
	tbg_adv_packet_clear (&p);
	ok = tbg_adv_mibeacon_decode (atc_mac, enc_float, sizeof enc_float, atc_key, &p, &error);
	assert_packet (ok, error, &p, "{\"temperature\":22.5,\"humidity\":55}");
	tbg_adv_packet_clear (&p);
	ok = tbg_adv_mibeacon_decode (atc_mac, enc, sizeof enc, wrong_key, &p, &error);
	assert_refused (ok, error, &p, TBG_ADV_ERROR_WRONG_KEY, "wrong bindkey");
	error = NULL;
	ok = tbg_adv_mibeacon_decode (atc_mac, enc, sizeof enc, NULL, &p, &error);
	assert_refused (ok, error, &p, TBG_ADV_ERROR_NEEDS_KEY, "no bindkey");
	error = NULL;
	ok = tbg_adv_mibeacon_decode (atc_mac, v3_enc, sizeof v3_enc, atc_key, &p, &error);
	assert_refused (ok, error, &p, TBG_ADV_ERROR_UNSUPPORTED, "v3");
	error = NULL;
	ok = tbg_adv_mibeacon_decode (atc_mac, no_objects, sizeof no_objects, NULL, &p, &error);
	assert_refused (ok, error, &p, TBG_ADV_ERROR_INVALID, "without objects");
	error = NULL;
	ok = tbg_adv_mibeacon_decode (atc_mac, th, 8, NULL, &p, &error);
	assert_refused (ok, error, &p, TBG_ADV_ERROR_INVALID, "malformed");
}

static void
test_ruuvi (void)
{
	/* docs.ruuvi.com, data format 5 test vectors: valid, maximum, minimum, invalid */
	const guint8 valid[] = { 0x05, 0x12, 0xfc, 0x53, 0x94, 0xc3, 0x7c, 0x00, 0x04, 0xff, 0xfc, 0x04, 0x0c,
	                         0xac, 0x36, 0x42, 0x00, 0xcd, 0xcb, 0xb8, 0x33, 0x4c, 0x88, 0x4f };
	const guint8 max[] = { 0x05, 0x7f, 0xff, 0xff, 0xfe, 0xff, 0xfe, 0x7f, 0xff, 0x7f, 0xff, 0x7f, 0xff,
	                       0xff, 0xde, 0xfe, 0xff, 0xfe, 0xcb, 0xb8, 0x33, 0x4c, 0x88, 0x4f };
	const guint8 min[] = { 0x05, 0x80, 0x01, 0x00, 0x00, 0x00, 0x00, 0x80, 0x01, 0x80, 0x01, 0x80, 0x01,
	                       0x00, 0x00, 0x00, 0x00, 0x00, 0xcb, 0xb8, 0x33, 0x4c, 0x88, 0x4f };
	const guint8 invalid[] = { 0x05, 0x80, 0x00, 0xff, 0xff, 0xff, 0xff, 0x80, 0x00, 0x80, 0x00, 0x80, 0x00,
	                           0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	GError *error = NULL;
	TbgAdvPacket p;
	gboolean ok;

	ok = tbg_adv_ruuvi_decode (valid, sizeof valid, &p, &error);
	assert_packet (ok, error, &p, "{\"temperature\":24.3,\"humidity\":53.49,\"pressure\":1000.44,"
	                              "\"acceleration_x\":0.004,\"acceleration_y\":-0.004,\"acceleration_z\":1.036,"
	                              "\"voltage\":2.977,\"tx_power\":4,\"movement_counter\":66}");
	g_assert_cmpuint (p.counter, ==, 205);
	tbg_adv_packet_clear (&p);
	ok = tbg_adv_ruuvi_decode (max, sizeof max, &p, &error);
	assert_packet (ok, error, &p, "{\"temperature\":163.835,\"humidity\":163.835,\"pressure\":1155.34,"
	                              "\"acceleration_x\":32.767,\"acceleration_y\":32.767,\"acceleration_z\":32.767,"
	                              "\"voltage\":3.646,\"tx_power\":20,\"movement_counter\":254}");
	g_assert_cmpuint (p.counter, ==, 65534);
	tbg_adv_packet_clear (&p);
	ok = tbg_adv_ruuvi_decode (min, sizeof min, &p, &error);
	assert_packet (ok, error, &p, "{\"temperature\":-163.835,\"humidity\":0.0,\"pressure\":500.0,"
	                              "\"acceleration_x\":-32.767,\"acceleration_y\":-32.767,\"acceleration_z\":-32.767,"
	                              "\"voltage\":1.6,\"tx_power\":-40,\"movement_counter\":0}");
	tbg_adv_packet_clear (&p);
	/* every field "not available": nothing to publish */
	ok = tbg_adv_ruuvi_decode (invalid, sizeof invalid, &p, &error);
	assert_refused (ok, error, &p, TBG_ADV_ERROR_INVALID, "no values");
	error = NULL;
	ok = tbg_adv_ruuvi_decode (valid, 23, &p, &error);
	assert_refused (ok, error, &p, TBG_ADV_ERROR_INVALID, "format 5");
}

static void
test_govee_switchbot_qingping_inkbird (void)
{
	const guint8 h5075[] = { 0x00, 0x03, 0x6a, 0x4f, 0x64, 0x00 };        /* 223823: 22.3 °C 82.3 % */
	const guint8 h5075_neg[] = { 0x00, 0x80, 0x3c, 0x2a, 0x37, 0x00 };    /* 15402, negative: −1.5 °C 40.2 % */
	const guint8 h5074[] = { 0x00, 0x6c, 0x09, 0x4f, 0x16, 0x64, 0x02 };  /* 24.12 °C 57.11 % */
	const guint8 h5101[] = { 0x01, 0x01, 0x03, 0x6a, 0x4f, 0x64 };
	const guint8 meter[] = { 0x54, 0x00, 0xe4, 0x06, 0x97, 0x2d };        /* 'T', 100 %, 23.6 °C, 45 % */
	const guint8 meter_cold[] = { 0x69, 0x00, 0x32, 0x03, 0x05, 0x3c };   /* 'i', 50 %, −5.3 °C, 60 % */
	const guint8 qingping[] = { 0x88, 0x10, 0x6b, 0x87, 0x2f, 0x38, 0xc1, 0xa4, 0x01, 0x04, 0xe9, 0x00,
	                            0xc5, 0x01, 0x02, 0x01, 0x5d, 0x7f, 0x01, 0x00, 0x07, 0x02, 0x46, 0x27 };
	const guint8 inkbird[] = { 0xd7, 0x11, 0x00, 0x12, 0x34, 0x57, 0x08 };   /* company 0x0929: 23.45 °C */
	GError *error = NULL;
	TbgAdvPacket p;
	gboolean ok;

	ok = tbg_adv_govee_decode (0xEC88, h5075, sizeof h5075, &p, &error);
	assert_packet (ok, error, &p, "{\"temperature\":22.3,\"humidity\":82.3,\"battery\":100}");
	g_assert_false (p.has_counter);
	tbg_adv_packet_clear (&p);
	ok = tbg_adv_govee_decode (0xEC88, h5075_neg, sizeof h5075_neg, &p, &error);
	assert_packet (ok, error, &p, "{\"temperature\":-1.5,\"humidity\":40.2,\"battery\":55}");
	tbg_adv_packet_clear (&p);
	ok = tbg_adv_govee_decode (0xEC88, h5074, sizeof h5074, &p, &error);
	assert_packet (ok, error, &p, "{\"temperature\":24.12,\"humidity\":57.11,\"battery\":100}");
	tbg_adv_packet_clear (&p);
	ok = tbg_adv_govee_decode (0x0001, h5101, sizeof h5101, &p, &error);
	assert_packet (ok, error, &p, "{\"temperature\":22.3,\"humidity\":82.3,\"battery\":100}");
	tbg_adv_packet_clear (&p);
	ok = tbg_adv_govee_decode (0x0001, h5075, sizeof h5075, &p, &error);
	assert_refused (ok, error, &p, TBG_ADV_ERROR_INVALID, "no Govee format");
	error = NULL;

	ok = tbg_adv_switchbot_decode (meter, sizeof meter, &p, &error);
	assert_packet (ok, error, &p, "{\"temperature\":23.6,\"humidity\":45,\"battery\":100}");
	tbg_adv_packet_clear (&p);
	ok = tbg_adv_switchbot_decode (meter_cold, sizeof meter_cold, &p, &error);
	assert_packet (ok, error, &p, "{\"temperature\":-5.3,\"humidity\":60,\"battery\":50}");
	tbg_adv_packet_clear (&p);
	ok = tbg_adv_switchbot_decode (h5075, sizeof h5075, &p, &error);
	assert_refused (ok, error, &p, TBG_ADV_ERROR_INVALID, "SwitchBot");
	error = NULL;

	/* temperature/humidity, battery, an unknown object 0x7F skipped, pressure */
	ok = tbg_adv_qingping_decode (qingping, sizeof qingping, &p, &error);
	assert_packet (ok, error, &p, "{\"temperature\":23.3,\"humidity\":45.3,\"battery\":93,\"pressure\":1005.4}");
	tbg_adv_packet_clear (&p);
	ok = tbg_adv_qingping_decode (qingping, 8, &p, &error);
	assert_refused (ok, error, &p, TBG_ADV_ERROR_INVALID, "no values");
	error = NULL;

	ok = tbg_adv_inkbird_decode ("sps", 0x0929, inkbird, sizeof inkbird, &p, &error);
	assert_packet (ok, error, &p, "{\"temperature\":23.45,\"humidity\":45.67,\"battery\":87,"
	                              "\"external_probe\":false}");
	tbg_adv_packet_clear (&p);
	ok = tbg_adv_inkbird_decode ("sps", 0xfc18, inkbird, sizeof inkbird, &p, &error);   /* −10 °C */
	assert_packet (ok, error, &p, "{\"temperature\":-10.0,\"humidity\":45.67,\"battery\":87,"
	                              "\"external_probe\":false}");
	tbg_adv_packet_clear (&p);
	ok = tbg_adv_inkbird_decode ("Thermometer", 0x0929, inkbird, sizeof inkbird, &p, &error);
	assert_refused (ok, error, &p, TBG_ADV_ERROR_INVALID, "Inkbird");
}

static void
test_beacons (void)
{
	const guint8 ibeacon[] = { 0x02, 0x15, 0xe2, 0xc5, 0x6d, 0xb5, 0xdf, 0xfb, 0x48, 0xd2, 0xb0, 0x60,
	                           0xd0, 0xf5, 0xa7, 0x10, 0x96, 0xe0, 0x00, 0x01, 0x00, 0x02, 0xc5 };
	const guint8 uid[] = { 0x00, 0xee, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
	const guint8 url[] = { 0x10, 0xf4, 0x03, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0x07 };
	/* TLM: 3000 mV, 23.5 °C (0x1780), counts */
	const guint8 tlm[] = { 0x20, 0x00, 0x0b, 0xb8, 0x17, 0x80, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x20 };
	const guint8 tlm_none[] = { 0x20, 0x00, 0x00, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x20 };
	GError *error = NULL;
	TbgAdvPacket p;
	gboolean ok;

	ok = tbg_adv_ibeacon_decode (ibeacon, sizeof ibeacon, &p, &error);
	assert_packet (ok, error, &p, "{\"present\":true,\"tx_power\":-59}");
	tbg_adv_packet_clear (&p);
	ok = tbg_adv_ibeacon_decode (ibeacon, 22, &p, &error);
	assert_refused (ok, error, &p, TBG_ADV_ERROR_INVALID, "iBeacon");
	error = NULL;
	ok = tbg_adv_eddystone_decode (uid, sizeof uid, &p, &error);
	assert_packet (ok, error, &p, "{\"present\":true,\"tx_power\":-18}");
	tbg_adv_packet_clear (&p);
	ok = tbg_adv_eddystone_decode (url, sizeof url, &p, &error);
	assert_packet (ok, error, &p, "{\"present\":true,\"tx_power\":-12}");
	tbg_adv_packet_clear (&p);
	ok = tbg_adv_eddystone_decode (tlm, sizeof tlm, &p, &error);
	assert_packet (ok, error, &p, "{\"present\":true,\"voltage\":3.0,\"temperature\":23.5}");
	tbg_adv_packet_clear (&p);
	ok = tbg_adv_eddystone_decode (tlm_none, sizeof tlm_none, &p, &error);
	assert_packet (ok, error, &p, "{\"present\":true}");
	tbg_adv_packet_clear (&p);
	ok = tbg_adv_eddystone_decode (tlm, 5, &p, &error);
	assert_refused (ok, error, &p, TBG_ADV_ERROR_INVALID, "Eddystone");
}

static void
test_ccm_round_trip (void)
{
	const guint8 nonce[13] = { 0 };
	const guint8 pt[] = { 1, 2, 3, 4, 5 };
	guint8 ct[sizeof pt], tag[4], back[sizeof pt];

	g_assert_true (tbg_adv_ccm_encrypt (atc_key, nonce, sizeof nonce, NULL, 0, pt, sizeof pt, ct, tag, 4));
	g_assert_true (tbg_adv_ccm_decrypt (atc_key, nonce, sizeof nonce, NULL, 0, ct, sizeof ct, tag, 4, back));
	g_assert_cmpmem (back, sizeof back, pt, sizeof pt);
	tag[0] ^= 1;
	g_assert_false (tbg_adv_ccm_decrypt (atc_key, nonce, sizeof nonce, NULL, 0, ct, sizeof ct, tag, 4, back));
	/* sizes CCM does not take are refused before libcrypto sees them */
	g_assert_false (tbg_adv_ccm_decrypt (atc_key, nonce, 6, NULL, 0, ct, sizeof ct, tag, 4, back));
	g_assert_false (tbg_adv_ccm_decrypt (atc_key, nonce, sizeof nonce, NULL, 0, ct, 0, tag, 4, back));
}

int
main (int argc, char **argv)
{
	g_test_init (&argc, &argv, NULL);
	g_test_add_func ("/adv/bthome-v2-encrypted", test_bthome_v2_encrypted);
	g_test_add_func ("/adv/bthome-v1", test_bthome_v1);
	g_test_add_func ("/adv/atc-pvvx", test_atc);
	g_test_add_func ("/adv/mibeacon", test_mibeacon);
	g_test_add_func ("/adv/ruuvi", test_ruuvi);
	g_test_add_func ("/adv/govee-switchbot-qingping-inkbird", test_govee_switchbot_qingping_inkbird);
	g_test_add_func ("/adv/beacons", test_beacons);
	g_test_add_func ("/adv/ccm-round-trip", test_ccm_round_trip);
	return g_test_run ();
}
