/* SPDX-License-Identifier: Apache-2.0 */
/* BLE advertisement formats end to end: the fake bluetoothd reports
 * ServiceData / ManufacturerData changes, the real tbgwd decodes them, a
 * real mosquitto carries the telemetry to a peer playing ThingsBoard. The
 * issue's "done when": a pvvx thermometer, a stock one with its bindkey, a
 * RuuviTag and a Govee appear with typed values and no connection, and
 * nothing unconfigured appears. */
#include "build-config.h"
#include "ble-adv.h"
#include "config.h"
#include "fake-bluez.h"
#include "gateway.h"
#include "source.h"
#include "test-broker.h"
#include "test-peer.h"
#include "test-util.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#define WAIT_MS 20000
#define PVVX      "A4:C1:38:00:10:01"
#define STOCK     "A4:C1:38:00:10:02"
#define RUUVI     "C8:B8:33:4C:88:4F"
#define GOVEE     "A4:C1:38:00:10:04"
#define KEYS      "DD:33:0A:11:22:33"
#define ATTIC     "A4:C1:38:00:10:06"
#define NEIGHBOUR "A4:C1:38:00:10:09"
#define BINDKEY   "b2d46f0cd168c18b247c0c79e9ad5b8d"
#define UUID16(x) "0000" x "-0000-1000-8000-00805f9b34fb"

static const guint8 key[16] = { 0xb2, 0xd4, 0x6f, 0x0c, 0xd1, 0x68, 0xc1, 0x8b,
                                0x24, 0x7c, 0x0c, 0x79, 0xe9, 0xad, 0x5b, 0x8d };

typedef struct {
	GTestDBus     *bus;
	FakeBluez     *bluez;
	TbgTestBroker *broker;
	TbgTestPeer   *peer;
	GSubprocess   *daemon;
	char          *conf;
} Fixture;

static gboolean
watching (gpointer data)
{
	Fixture *f = data;

	/* the adapter is handled before the devices, in the same turn */
	return fake_bluez_discovering (f->bluez) || fake_bluez_monitors (f->bluez) != NULL;
}

static void
setup (Fixture *f, gconstpointer data)
{
	g_autoptr (GError) error = NULL;
	g_autoptr (GSubprocessLauncher) l = tbg_test_launcher_new (G_SUBPROCESS_FLAGS_NONE);
	g_autofree char *text = NULL;
	const char *ble = data;

	alarm (120);
	f->bus = g_test_dbus_new (G_TEST_DBUS_NONE);
	g_test_dbus_up (f->bus);
	f->bluez = fake_bluez_new (g_test_dbus_get_bus_address (f->bus));
	fake_bluez_add_device (f->bluez, PVVX, "ATC_001001", FALSE);
	fake_bluez_add_device (f->bluez, STOCK, "LYWSD03MMC", FALSE);
	fake_bluez_add_device (f->bluez, RUUVI, "Ruuvi 884F", FALSE);
	fake_bluez_add_device (f->bluez, GOVEE, "GVH5075_1004", FALSE);
	fake_bluez_add_device (f->bluez, KEYS, "DD-33-0A-11-22-33", FALSE);
	fake_bluez_add_device (f->bluez, ATTIC, "LYWSD03MMC", FALSE);
	/* no name of its own: BlueZ's alias is the address */
	fake_bluez_add_device (f->bluez, NEIGHBOUR, "A4-C1-38-00-10-09", FALSE);
	f->broker = tbg_test_broker_start ();
	f->peer = tbg_test_peer_new (tbg_test_broker_port (f->broker));
	f->conf = g_strdup_printf ("%s/tbgw-ble-adv-test-%d.conf", g_get_tmp_dir (), (int) getpid ());
	text = g_strdup_printf ("[storage]\npath=memory\n[server]\nport=%u\n[gateway]\nstats-interval-s=0\n"
	                        "[ble]\n%s"
	                        "[ble:Living room]\naddress=%s\n"
	                        "[ble:Bedroom]\naddress=%s\nbindkey=%s\n"
	                        "[ble:Greenhouse]\naddress=%s\n"
	                        "[ble:Cellar]\naddress=%s\n"
	                        "[ble:Keys]\naddress=%s\nabsent-after-s=1\n"
	                        "[ble:Attic]\naddress=%s\nbindkey=00112233445566778899aabbccddeeff\n",
	                        tbg_test_broker_port (f->broker), ble, PVVX, STOCK, BINDKEY, RUUVI, GOVEE, KEYS,
	                        ATTIC);
	g_file_set_contents (f->conf, text, -1, NULL);
	g_subprocess_launcher_setenv (l, "DBUS_SYSTEM_BUS_ADDRESS", g_test_dbus_get_bus_address (f->bus), TRUE);
	f->daemon = g_subprocess_launcher_spawn (l, &error, g_getenv ("TBGWD") ? g_getenv ("TBGWD") : "src/tbgwd",
	                                         "--config", f->conf, NULL);
	g_assert_no_error (error);
	tbg_test_message_free (tbg_test_peer_expect (f->peer, "v1/devices/me/attributes", WAIT_MS));
	/* tbgwd follows BlueZ asynchronously: advertise once it has the devices */
	g_assert_true (tbg_test_wait_until (watching, f, WAIT_MS));
}

static void
teardown (Fixture *f, gconstpointer data)
{
	tbg_test_stop_daemon (f->daemon);
	g_object_unref (f->daemon);
	fake_bluez_free (f->bluez);
	g_test_dbus_down (f->bus);
	g_object_unref (f->bus);
	tbg_test_peer_free (f->peer);
	tbg_test_broker_free (f->broker);
	g_unlink (f->conf);
	g_free (f->conf);
	alarm (0);
}

/* The next telemetry of @device, its first sample's values; fails if one of
 * @never's devices shows up on the way. */
static json_t *
next_values (Fixture *f, const char *device, const char * const *never)
{
	g_autofree char *needle = g_strdup_printf ("\"%s\":", device);

	for (;;) {
		g_autoptr (TbgTestMessage) m = tbg_test_peer_expect (f->peer, "v1/gateway/telemetry", WAIT_MS);
		json_t *j, *values;

		for (guint i = 0; never != NULL && never[i] != NULL; i++) {
			g_autofree char *bad = g_strdup_printf ("\"%s\":", never[i]);

			if (strstr (m->payload, bad) != NULL)
				g_error ("telemetry of %s, which must not be reported: %s", never[i], m->payload);
		}
		if (strstr (m->payload, needle) == NULL)
			continue;
		j = json_loads (m->payload, 0, NULL);
		values = json_incref (json_object_get (json_array_get (json_object_get (j, device), 0), "values"));
		g_assert_nonnull (values);
		json_decref (j);
		return values;
	}
}

static void
expect_values (Fixture *f, const char *device, const char *expected, const char * const *never)
{
	json_t *got = next_values (f, device, never);
	json_t *want = json_loads (expected, 0, NULL);

	if (!json_equal (got, want)) {
		g_autofree char *text = json_dumps (got, JSON_SORT_KEYS | JSON_COMPACT);

		g_error ("telemetry of %s: %s, expected %s", device, text, expected);
	}
	json_decref (got);
	json_decref (want);
}

static GVariant *
service_data (const char *uuid, const guint8 *data, gsize len)
{
	GVariantBuilder b;

	g_variant_builder_init (&b, G_VARIANT_TYPE ("a{sv}"));
	g_variant_builder_add (&b, "{sv}", uuid, g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, data, len, 1));
	return g_variant_builder_end (&b);
}

static GVariant *
manufacturer_data (guint16 company, const guint8 *data, gsize len)
{
	GVariantBuilder b;

	g_variant_builder_init (&b, G_VARIANT_TYPE ("a{qv}"));
	g_variant_builder_add (&b, "{qv}", company, g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, data, len, 1));
	return g_variant_builder_end (&b);
}

/* A stock LYWSD03MMC's MiBeacon v5 frame (MAC included) carrying the
 * temperature object 0x1004, encrypted with @k as the sensor does. */
static gsize
mibeacon (const char *address, const guint8 *k, guint8 frame, gint16 tenths, guint8 out[32])
{
	const guint8 plain[] = { 0x04, 0x10, 0x02, (guint8) tenths, (guint8) (tenths >> 8) };
	guint8 nonce[12];
	gsize n = 0;

	out[n++] = 0x58;   /* encrypted, MAC, objects; version 5 */
	out[n++] = 0x58;
	out[n++] = 0x5b;   /* product 0x055B */
	out[n++] = 0x05;
	out[n++] = frame;
	for (guint i = 0; i < 6; i++)
		out[n++] = (guint8) g_ascii_strtoull (address + 3 * (5 - i), NULL, 16);
	memcpy (nonce, out + 5, 6);
	memcpy (nonce + 6, out + 2, 3);
	nonce[9] = nonce[10] = nonce[11] = 0;   /* extended counter */
	g_assert_true (tbg_adv_ccm_encrypt (k, nonce, sizeof nonce, (const guint8 *) "\x11", 1, plain, sizeof plain,
	                                    out + n, out + n + sizeof plain + 3, 4));
	n += sizeof plain;
	memset (out + n, 0, 3);
	return n + 3 + 4;
}

static const char * const unconfigured[] = { "A4-C1-38-00-10-09", "ATC 001009", NEIGHBOUR, NULL };

/* pvvx custom, a stock LYWSD03MMC with its bindkey, a RuuviTag, a Govee;
 * the neighbour's pvvx sensor advertises all along and is never reported. */
static void
test_formats (Fixture *f, gconstpointer data)
{
	const guint8 pvvx[] = { 0x01, 0x10, 0x00, 0x38, 0xc1, 0xa4, 0x29, 0x09, 0xd7, 0x11, 0x54, 0x0b,
	                        0x57, 0x22, 0x00 };
	const guint8 neighbour[] = { 0x09, 0x10, 0x00, 0x38, 0xc1, 0xa4, 0x10, 0x27, 0x10, 0x27, 0x54, 0x0b,
	                             0x57, 0x01, 0x00 };
	const guint8 ruuvi[] = { 0x05, 0x12, 0xfc, 0x53, 0x94, 0xc3, 0x7c, 0x00, 0x04, 0xff, 0xfc, 0x04, 0x0c,
	                         0xac, 0x36, 0x42, 0x00, 0xcd, 0xcb, 0xb8, 0x33, 0x4c, 0x88, 0x4f };
	const guint8 govee[] = { 0x00, 0x03, 0x6a, 0x4f, 0x64, 0x00 };
	guint8 mi[32];
	gsize n = mibeacon (STOCK, key, 0x11, 233, mi);

	fake_bluez_advertise (f->bluez, NEIGHBOUR, service_data (UUID16 ("181a"), neighbour, sizeof neighbour), NULL, -50);
	fake_bluez_advertise (f->bluez, PVVX, service_data (UUID16 ("181a"), pvvx, sizeof pvvx), NULL, -60);
	expect_values (f, "Living room", "{\"temperature\":23.45,\"humidity\":45.67,\"voltage\":2.9,\"battery\":87,"
	                                 "\"rssi\":-60}", unconfigured);
	fake_bluez_advertise (f->bluez, STOCK, service_data (UUID16 ("fe95"), mi, n), NULL, -70);
	expect_values (f, "Bedroom", "{\"temperature\":23.3,\"rssi\":-70}", unconfigured);
	fake_bluez_advertise (f->bluez, RUUVI, NULL, manufacturer_data (0x0499, ruuvi, sizeof ruuvi), -80);
	expect_values (f, "Greenhouse", "{\"temperature\":24.3,\"humidity\":53.49,\"pressure\":1000.44,"
	                                "\"acceleration_x\":0.004,\"acceleration_y\":-0.004,\"acceleration_z\":1.036,"
	                                "\"voltage\":2.977,\"tx_power\":4,\"movement_counter\":66,\"rssi\":-80}",
	               unconfigured);
	fake_bluez_advertise (f->bluez, GOVEE, NULL, manufacturer_data (0xEC88, govee, sizeof govee), -65);
	expect_values (f, "Cellar", "{\"temperature\":22.3,\"humidity\":82.3,\"battery\":100,\"rssi\":-65}",
	               unconfigured);
	/* heard, never connected */
	g_assert_cmpuint (fake_bluez_connects (f->bluez, PVVX), ==, 0);
	g_assert_cmpuint (fake_bluez_connects (f->bluez, STOCK), ==, 0);
	g_assert_cmpuint (fake_bluez_connects (f->bluez, RUUVI), ==, 0);
	g_assert_cmpuint (fake_bluez_connects (f->bluez, GOVEE), ==, 0);
}

/* The right key decodes, a wrong one publishes nothing, a replayed packet
 * is dropped, and a packet BlueZ reports again is one sample. */
static void
test_keys_and_replay (Fixture *f, gconstpointer data)
{
	static const guint8 other[] = { 0x01 };
	const char * const never[] = { "Attic", NULL };
	guint8 p1[32], p0[32], p2[32], p3[32], attic[32];
	gsize n1 = mibeacon (STOCK, key, 0x11, 233, p1), n0 = mibeacon (STOCK, key, 0x10, 200, p0);
	gsize n2 = mibeacon (STOCK, key, 0x12, 244, p2), n3 = mibeacon (STOCK, key, 0x13, 255, p3);
	/* encrypted with the Bedroom's key; the Attic is configured with another */
	gsize na = mibeacon (ATTIC, key, 0x01, 111, attic);

	fake_bluez_advertise (f->bluez, STOCK, service_data (UUID16 ("fe95"), p1, n1), NULL, -70);
	expect_values (f, "Bedroom", "{\"temperature\":23.3,\"rssi\":-70}", never);
	fake_bluez_advertise (f->bluez, ATTIC, service_data (UUID16 ("fe95"), attic, na), NULL, -71);
	/* a recording of an older packet */
	fake_bluez_advertise (f->bluez, STOCK, service_data (UUID16 ("fe95"), p0, n0), NULL, -72);
	fake_bluez_advertise (f->bluez, STOCK, service_data (UUID16 ("fe95"), p2, n2), NULL, -73);
	expect_values (f, "Bedroom", "{\"temperature\":24.4,\"rssi\":-73}", never);
	/* something else of the device changes: its service data is reported again, unchanged */
	fake_bluez_advertise (f->bluez, STOCK, NULL, manufacturer_data (0x1234, other, sizeof other), -74);
	fake_bluez_advertise (f->bluez, STOCK, service_data (UUID16 ("fe95"), p3, n3), NULL, -75);
	expect_values (f, "Bedroom", "{\"temperature\":25.5,\"rssi\":-75}", never);
}

/* A beacon is present while it advertises, and absent absent-after-s later. */
static void
test_beacon_presence (Fixture *f, gconstpointer data)
{
	const guint8 ibeacon[] = { 0x02, 0x15, 0xe2, 0xc5, 0x6d, 0xb5, 0xdf, 0xfb, 0x48, 0xd2, 0xb0, 0x60,
	                           0xd0, 0xf5, 0xa7, 0x10, 0x96, 0xe0, 0x00, 0x01, 0x00, 0x02, 0xc5 };

	fake_bluez_advertise (f->bluez, KEYS, NULL, manufacturer_data (0x004C, ibeacon, sizeof ibeacon), -55);
	expect_values (f, "Keys", "{\"present\":true,\"tx_power\":-59,\"rssi\":-55}", NULL);
	expect_values (f, "Keys", "{\"present\":false}", NULL);
	/* back in range: BlueZ keeps its unchanged data and reports a new RSSI */
	fake_bluez_advertise (f->bluez, KEYS, NULL, NULL, -57);
	expect_values (f, "Keys", "{\"present\":true,\"tx_power\":-59,\"rssi\":-57}", NULL);
}

/* advertisers=any: an unconfigured sensor is reported under its format and
 * the last three bytes of its address, as it has no name of its own. */
static void
test_any (Fixture *f, gconstpointer data)
{
	const guint8 neighbour[] = { 0x09, 0x10, 0x00, 0x38, 0xc1, 0xa4, 0x10, 0x27, 0x10, 0x27, 0x54, 0x0b,
	                             0x57, 0x01, 0x00 };

	fake_bluez_advertise (f->bluez, NEIGHBOUR, service_data (UUID16 ("181a"), neighbour, sizeof neighbour), NULL, -50);
	expect_values (f, "ATC 001009", "{\"temperature\":100.0,\"humidity\":100.0,\"voltage\":2.9,\"battery\":87,"
	                                "\"rssi\":-50}", NULL);
}

/* scan=passive: the monitor listens for the enabled formats only, and what
 * it hears is decoded as from a scan. */
static void
test_passive (Fixture *f, gconstpointer data)
{
	const guint8 ruuvi[] = { 0x05, 0x12, 0xfc, 0x53, 0x94, 0xc3, 0x7c, 0x00, 0x04, 0xff, 0xfc, 0x04, 0x0c,
	                         0xac, 0x36, 0x42, 0x00, 0xcd, 0xcb, 0xb8, 0x33, 0x4c, 0x88, 0x4f };

	g_assert_true (tbg_test_wait_until (fake_bluez_has_monitors, f->bluez, WAIT_MS));
	g_assert_cmpstr (fake_bluez_monitors (f->bluez), ==, "or_patterns 0,0x16,1a18;0,0xff,9904");
	g_assert_false (fake_bluez_discovering (f->bluez));
	fake_bluez_advertise (f->bluez, RUUVI, NULL, manufacturer_data (0x0499, ruuvi, sizeof ruuvi), -80);
	expect_values (f, "Greenhouse", "{\"temperature\":24.3,\"humidity\":53.49,\"pressure\":1000.44,"
	                                "\"acceleration_x\":0.004,\"acceleration_y\":-0.004,\"acceleration_z\":1.036,"
	                                "\"voltage\":2.977,\"tx_power\":4,\"movement_counter\":66,\"rssi\":-80}",
	               unconfigured);
}

static gboolean
two_devices_found (gpointer data)
{
	return fake_bluez_devices_found (data) >= 2;
}

/* scan=passive with decoders=all: 13 patterns, more than bluetoothd 5.66
 * takes in one monitor (the fake refuses such a monitor: bluetoothd dies on
 * it). Several monitors of at most 7, together every pattern once; a
 * sensor heard through the first monitor and one heard through another are
 * both reported, and each monitor answers BlueZ's DeviceFound. */
static void
test_passive_all (Fixture *f, gconstpointer data)
{
	static const char * const want[] = {
		"0,0x16,d2fc", "0,0x16,1c18", "0,0x16,1e18", "0,0x16,1a18", "0,0x16,95fe", "0,0x16,000d",
		"0,0x16,3dfd", "0,0x16,cdfd", "0,0x16,aafe", "0,0xff,9904", "0,0xff,88ec", "0,0xff,0100",
		"0,0xff,4c00",
	};
	const guint8 pvvx[] = { 0x01, 0x10, 0x00, 0x38, 0xc1, 0xa4, 0x29, 0x09, 0xd7, 0x11, 0x54, 0x0b,
	                        0x57, 0x22, 0x00 };
	const guint8 govee[] = { 0x00, 0x03, 0x6a, 0x4f, 0x64, 0x00 };
	g_autoptr (GHashTable) monitor_of = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
	g_auto (GStrv) monitors = NULL;

	g_assert_true (tbg_test_wait_until (fake_bluez_has_monitors, f->bluez, WAIT_MS));
	monitors = g_strsplit (fake_bluez_monitors (f->bluez), "\n", -1);
	g_assert_cmpuint (g_strv_length (monitors), >=, 2);
	for (guint i = 0; monitors[i] != NULL; i++) {
		g_auto (GStrv) patterns = NULL;

		g_assert_true (g_str_has_prefix (monitors[i], "or_patterns "));
		patterns = g_strsplit (monitors[i] + strlen ("or_patterns "), ";", -1);
		g_assert_cmpuint (g_strv_length (patterns), <=, 7);
		for (guint k = 0; patterns[k] != NULL; k++) {
			g_assert_false (g_hash_table_contains (monitor_of, patterns[k]));
			g_hash_table_insert (monitor_of, g_strdup (patterns[k]), GUINT_TO_POINTER (i + 1));
		}
	}
	for (guint k = 0; k < G_N_ELEMENTS (want); k++)
		g_assert_true (g_hash_table_contains (monitor_of, want[k]));
	g_assert_cmpuint (g_hash_table_size (monitor_of), ==, G_N_ELEMENTS (want));
	/* pvvx (0x181A) shares BTHome's monitor, the first; Govee's (0xEC88) is another */
	g_assert_cmpuint (GPOINTER_TO_UINT (g_hash_table_lookup (monitor_of, "0,0x16,1a18")), ==,
	                  GPOINTER_TO_UINT (g_hash_table_lookup (monitor_of, "0,0x16,d2fc")));
	g_assert_cmpuint (GPOINTER_TO_UINT (g_hash_table_lookup (monitor_of, "0,0xff,88ec")), !=,
	                  GPOINTER_TO_UINT (g_hash_table_lookup (monitor_of, "0,0x16,d2fc")));
	g_assert_false (fake_bluez_discovering (f->bluez));
	fake_bluez_advertise (f->bluez, PVVX, service_data (UUID16 ("181a"), pvvx, sizeof pvvx), NULL, -60);
	expect_values (f, "Living room", "{\"temperature\":23.45,\"humidity\":45.67,\"voltage\":2.9,\"battery\":87,"
	                                 "\"rssi\":-60}", unconfigured);
	fake_bluez_advertise (f->bluez, GOVEE, NULL, manufacturer_data (0xEC88, govee, sizeof govee), -65);
	expect_values (f, "Cellar", "{\"temperature\":22.3,\"humidity\":82.3,\"battery\":100,\"rssi\":-65}",
	               unconfigured);
	g_assert_true (tbg_test_wait_until (two_devices_found, f->bluez, WAIT_MS));
}

/* ---- reload: the source's validate and reconfigure hooks, in this process ---- */

extern const TbgSource tbg_source_ble;

static TbgConfig *
write_config (const char *path, guint16 port, const char *attic_key)
{
	g_autofree char *text = g_strdup_printf ("[storage]\npath=memory\n[server]\nport=%u\n"
	                                         "[gateway]\nstats-interval-s=0\n[ble]\nscan=off\ndecoders=mibeacon\n"
	                                         "[ble:Bedroom]\naddress=%s\nbindkey=%s\n"
	                                         "[ble:Attic]\naddress=%s\nbindkey=%s\n",
	                                         port, STOCK, BINDKEY, ATTIC, attic_key);
	g_autoptr (GError) error = NULL;
	TbgConfig *cfg;

	g_assert_true (g_file_set_contents (path, text, -1, NULL));
	cfg = tbg_config_load (path, (const char * const[]) { "ble", NULL }, &error);
	g_assert_no_error (error);
	cfg->session_bus = TRUE;   /* GTestDBus's bus */
	return cfg;
}

/* A bindkey corrected by a reload decodes the sensor; a sensor whose group
 * did not change keeps what it accepted, so a replay stays a replay. */
static void
test_reload (void)
{
	g_autofree char *path = g_strdup_printf ("%s/tbgw-ble-adv-reload-%d.conf", g_get_tmp_dir (), (int) getpid ());
	g_autofree char *gw_path = g_strdup_printf ("%s/tbgw-ble-adv-reload-gw-%d.conf", g_get_tmp_dir (), (int) getpid ());
	const char * const never[] = { "Attic", NULL };
	guint8 p1[32], p0[32], p2[32], attic[32];
	gsize n1 = mibeacon (STOCK, key, 0x11, 233, p1), n0 = mibeacon (STOCK, key, 0x10, 200, p0);
	gsize n2 = mibeacon (STOCK, key, 0x12, 244, p2), na = mibeacon (ATTIC, key, 0x01, 111, attic);
	g_autoptr (GError) error = NULL;
	Fixture f = { 0 };
	TbgConfig *cfg[2];
	TbgGateway *gw;
	gpointer ble;

	alarm (120);
	f.bus = g_test_dbus_new (G_TEST_DBUS_NONE);
	g_test_dbus_up (f.bus);
	f.bluez = fake_bluez_new (g_test_dbus_get_bus_address (f.bus));
	fake_bluez_add_device (f.bluez, STOCK, "LYWSD03MMC", FALSE);
	fake_bluez_add_device (f.bluez, ATTIC, "LYWSD03MMC", FALSE);
	f.broker = tbg_test_broker_start ();
	f.peer = tbg_test_peer_new (tbg_test_broker_port (f.broker));
	gw = tbg_test_gateway_new (gw_path, tbg_test_broker_port (f.broker), "",
	                           (const char * const[]) { NULL }, (const TbgSource * const[]) { NULL }, &error);
	g_assert_no_error (error);
	cfg[0] = write_config (path, tbg_test_broker_port (f.broker), "00112233445566778899aabbccddeeff");
	g_assert_true (tbg_source_ble.validate (cfg[0], &error));
	ble = tbg_source_ble.start (gw, cfg[0], &error);
	g_assert_no_error (error);

	fake_bluez_advertise (f.bluez, STOCK, service_data (UUID16 ("fe95"), p1, n1), NULL, -70);
	expect_values (&f, "Bedroom", "{\"temperature\":23.3,\"rssi\":-70}", never);
	fake_bluez_advertise (f.bluez, ATTIC, service_data (UUID16 ("fe95"), attic, na), NULL, -71);

	cfg[1] = write_config (path, tbg_test_broker_port (f.broker), BINDKEY);
	g_assert_true (tbg_source_ble.validate (cfg[1], &error));
	tbg_source_ble.reconfigure (ble, cfg[0], cfg[1]);
	/* the Attic's group changed: made again, it decodes what it advertises now */
	expect_values (&f, "Attic", "{\"temperature\":11.1,\"rssi\":-71}", NULL);
	fake_bluez_advertise (f.bluez, STOCK, service_data (UUID16 ("fe95"), p0, n0), NULL, -72);
	fake_bluez_advertise (f.bluez, STOCK, service_data (UUID16 ("fe95"), p2, n2), NULL, -73);
	expect_values (&f, "Bedroom", "{\"temperature\":24.4,\"rssi\":-73}", NULL);

	tbg_source_ble.stop (ble);
	for (guint i = 0; i < G_N_ELEMENTS (cfg); i++)
		tbg_config_free (cfg[i]);
	g_object_unref (gw);
	fake_bluez_free (f.bluez);
	tbg_test_peer_free (f.peer);
	tbg_test_broker_free (f.broker);
	g_test_dbus_down (f.bus);
	g_object_unref (f.bus);
	g_unlink (path);
	g_unlink (gw_path);
	alarm (0);
}

int
main (int argc, char **argv)
{
	static const char configured[] = "decoders=atc mibeacon ruuvi govee ibeacon\n";
	static const char any[] = "decoders=atc\nadvertisers=any\n";
	static const char passive[] = "decoders=atc,ruuvi\nscan=passive\n";
	static const char passive_all[] = "decoders=all\nscan=passive\n";

	g_test_init (&argc, &argv, NULL);
	g_test_add ("/ble-adv/formats", Fixture, configured, setup, test_formats, teardown);
	g_test_add ("/ble-adv/keys-and-replay", Fixture, configured, setup, test_keys_and_replay, teardown);
	g_test_add ("/ble-adv/beacon-presence", Fixture, configured, setup, test_beacon_presence, teardown);
	g_test_add ("/ble-adv/any", Fixture, any, setup, test_any, teardown);
	g_test_add ("/ble-adv/passive", Fixture, passive, setup, test_passive, teardown);
	g_test_add ("/ble-adv/passive-all", Fixture, passive_all, setup, test_passive_all, teardown);
	g_test_add_func ("/ble-adv/reload", test_reload);
	return g_test_run ();
}
