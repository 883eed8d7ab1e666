/* SPDX-License-Identifier: Apache-2.0 */
/* BLE end to end: a fake bluetoothd (tests/fake-bluez.c) on a private bus
 * (GTestDBus) as tbgwd's system bus, the real tbgwd, a real mosquitto and a
 * peer playing ThingsBoard. */
#include "build-config.h"
#include "fake-bluez.h"
#include "test-broker.h"
#include "test-peer.h"
#include "test-util.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <math.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#define WAIT_MS 20000
#define THERMO  "A4:C1:38:00:00:01"
#define VALVE   "A4:C1:38:00:00:03"
#define BTHOME  "A4:C1:38:00:00:02"
#define STRANGER "A4:C1:38:00:00:09"
#define OTHER_HCI "A4:C1:38:00:00:0A"   /* a device of another adapter */
#define COLLIDER "A4:C1:38:00:00:0B"    /* a BTHome sensor named like the valve */
#define TEMP_UUID   "00002a6e-0000-1000-8000-00805f9b34fb"
#define VALVE_UUID  "12345678-1234-5678-1234-56789abcdef0"
#define LAMP_UUID   "12345678-1234-5678-1234-56789abcdef1"   /* write without response */
#define SERIAL_UUID "12345678-1234-5678-1234-56789abcdef2"   /* read only */
#define BTHOME_UUID "0000fcd2-0000-1000-8000-00805f9b34fb"

typedef struct {
	GTestDBus     *bus;
	FakeBluez     *bluez;
	TbgTestBroker *broker;
	TbgTestPeer   *peer;
	GSubprocess   *daemon;
	char          *dir;   /* this run's own: tests of several trees run at once */
	char          *conf;
	char          *log;   /* tbgwd's stderr */
} Fixture;

/* How a test differs from the default set-up. */
typedef struct {
	const char *ble_conf;      /* the [ble] group's keys */
	gboolean    no_monitors;   /* bluetoothd without the advertisement monitor API */
	gboolean    hold_services; /* the thermometer's services resolve when the test says */
	void      (*prepare) (Fixture *f);   /* before tbgwd starts */
	gboolean    no_wait;       /* setup does not wait for the gateway's first publish */
} Variant;

static void
setup (Fixture *f, gconstpointer data)
{
	g_autoptr (GError) error = NULL;
	g_autoptr (GSubprocessLauncher) l = tbg_test_launcher_new (G_SUBPROCESS_FLAGS_NONE);
	g_autofree char *text = NULL;
	const Variant *v = data;
	const guint8 temp[] = { 0x08, 0x09 };   /* 2312 → 23.12 °C */
	const guint8 zero[] = { 0 };

	alarm (120);
	f->bus = g_test_dbus_new (G_TEST_DBUS_NONE);
	g_test_dbus_up (f->bus);
	f->bluez = fake_bluez_new (g_test_dbus_get_bus_address (f->bus));
	fake_bluez_add_device (f->bluez, THERMO, "Thermo", TRUE);
	fake_bluez_add_characteristic (f->bluez, THERMO, TEMP_UUID, "read,notify", temp, sizeof temp);
	fake_bluez_add_device (f->bluez, VALVE, "Valve-123", FALSE);
	fake_bluez_add_characteristic (f->bluez, VALVE, VALVE_UUID, "read,write", zero, 1);
	fake_bluez_add_characteristic (f->bluez, VALVE, LAMP_UUID, "write-without-response", zero, 1);
	fake_bluez_add_characteristic (f->bluez, VALVE, SERIAL_UUID, "read", zero, 1);
	if (v != NULL && v->no_monitors)
		fake_bluez_remove_monitor_manager (f->bluez);
	if (v != NULL && v->hold_services)
		fake_bluez_hold_services (f->bluez, THERMO);
	fake_bluez_add_device (f->bluez, STRANGER, "Neighbour's phone", FALSE);
	fake_bluez_add_device (f->bluez, BTHOME, "ATC_000002", FALSE);
	f->broker = tbg_test_broker_start ();
	f->peer = tbg_test_peer_new (tbg_test_broker_port (f->broker));
	if (v != NULL && v->prepare != NULL)
		v->prepare (f);
	f->dir = g_dir_make_tmp ("tbgw-ble-XXXXXX", &error);
	g_assert_no_error (error);
	f->conf = g_build_filename (f->dir, "tbgw.conf", NULL);
	f->log = g_build_filename (f->dir, "tbgwd.log", NULL);
	text = g_strdup_printf ("[storage]\npath=memory\n[server]\nport=%u\n[gateway]\nstats-interval-s=0\n"
	                        "rpc-timeout-ms=3000\n"
	                        "[ble]\n%s"
	                        "[ble:Garden valve]\naddress=%s\ntype=valve\n"
	                        "rpc.open=%s u8\nattribute.position=%s u8\n",
	                        tbg_test_broker_port (f->broker), v && v->ble_conf ? v->ble_conf : "bthome=true\n",
	                        VALVE, VALVE_UUID, VALVE_UUID);
	g_file_set_contents (f->conf, text, -1, NULL);
	/* the test bus is tbgwd's system bus */
	g_subprocess_launcher_setenv (l, "DBUS_SYSTEM_BUS_ADDRESS", g_test_dbus_get_bus_address (f->bus), TRUE);
	g_subprocess_launcher_set_stderr_file_path (l, f->log);
	f->daemon = g_subprocess_launcher_spawn (l, &error, g_getenv ("TBGWD") ? g_getenv ("TBGWD") : "src/tbgwd",
	                                         "--config", f->conf, NULL);
	g_assert_no_error (error);
	if (v == NULL || !v->no_wait)
		tbg_test_message_free (tbg_test_peer_expect (f->peer, "v1/devices/me/attributes", WAIT_MS));
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
	/* a failing test aborts before this: its log stays for a look */
	g_unlink (f->log);
	g_free (f->log);
	g_rmdir (f->dir);
	g_free (f->dir);
	alarm (0);
}

/* Telemetry messages can carry several devices; wait for one of @device. */
static TbgTestMessage *
expect_telemetry_of (Fixture *f, const char *device)
{
	g_autofree char *needle = g_strdup_printf ("\"%s\":", device);

	for (;;) {
		TbgTestMessage *m = tbg_test_peer_expect (f->peer, "v1/gateway/telemetry", WAIT_MS);

		if (strstr (m->payload, needle) != NULL)
			return m;
		tbg_test_message_free (m);
	}
}

static void
assert_values (TbgTestMessage *m, const char *device, const char *values_json)
{
	json_t *j = json_loads (m->payload, 0, NULL);
	json_t *samples = json_object_get (j, device);
	json_t *expected = json_loads (values_json, 0, NULL);

	g_assert_true (json_is_array (samples));
	g_assert_cmpuint (json_array_size (samples), >=, 1);
	if (!json_equal (json_object_get (json_array_get (samples, 0), "values"), expected))
		g_error ("telemetry of %s: %s, expected values %s", device, m->payload, values_json);
	json_decref (expected);
	json_decref (j);
}

typedef struct {
	FakeBluez  *fb;
	const char *address;
	guint       n;
} Count;

static gboolean
notifies_reach (gpointer data)
{
	Count *c = data;

	return fake_bluez_start_notifies (c->fb, c->address, TEMP_UUID) >= c->n;
}

/* Devices connect in any order: skip the others' messages on @topic. */
static void
expect_of (Fixture *f, const char *topic, const char *expected_json)
{
	json_t *want = json_loads (expected_json, 0, NULL);
	const char *device = json_string_value (json_object_get (want, "device"));

	for (;;) {
		g_autoptr (TbgTestMessage) m = tbg_test_peer_expect (f->peer, topic, WAIT_MS);
		json_t *got = json_loads (m->payload, 0, NULL);
		gboolean mine = g_strcmp0 (json_string_value (json_object_get (got, "device")), device) == 0;

		if (mine && !json_equal (got, want))
			g_error ("%s: %s, expected %s", topic, m->payload, expected_json);
		json_decref (got);
		if (mine)
			break;
	}
	json_decref (want);
}

static void
expect_connect (Fixture *f, const char *device_json)
{
	expect_of (f, "v1/gateway/connect", device_json);
}

/* A paired and trusted sensor is connected, its standard characteristic
 * read and notified; a reconnect re-arms the notification. */
static void
test_paired_device (Fixture *f, gconstpointer data)
{
	const guint8 t2[] = { 0x2c, 0x01 };     /* 3.00 */
	const guint8 t3[] = { 0xf4, 0xff };     /* -0.12 */
	Count c = { f->bluez, THERMO, 1 };
	TbgTestMessage *m;

	expect_connect (f, "{\"device\":\"Thermo\",\"type\":\"default\"}");
	m = expect_telemetry_of (f, "Thermo");
	assert_values (m, "Thermo", "{\"temperature\":23.12}");
	tbg_test_message_free (m);
	g_assert_true (tbg_test_wait_until (notifies_reach, &c, WAIT_MS));
	fake_bluez_set_value (f->bluez, THERMO, TEMP_UUID, t2, sizeof t2);
	m = expect_telemetry_of (f, "Thermo");
	assert_values (m, "Thermo", "{\"temperature\":3.0}");
	tbg_test_message_free (m);
	/* out of range and back */
	fake_bluez_drop_link (f->bluez, THERMO);
	expect_of (f, "v1/gateway/disconnect", "{\"device\":\"Thermo\"}");
	expect_connect (f, "{\"device\":\"Thermo\",\"type\":\"default\"}");
	c.n = 2;
	g_assert_true (tbg_test_wait_until (notifies_reach, &c, WAIT_MS));
	tbg_test_message_free (expect_telemetry_of (f, "Thermo"));   /* the read after connect */
	fake_bluez_set_value (f->bluez, THERMO, TEMP_UUID, t3, sizeof t3);
	m = expect_telemetry_of (f, "Thermo");
	assert_values (m, "Thermo", "{\"temperature\":-0.12}");
	tbg_test_message_free (m);
	/* a device that is neither paired nor configured is left alone */
	g_assert_cmpuint (fake_bluez_connects (f->bluez, STRANGER), ==, 0);
}

static void
test_bthome (Fixture *f, gconstpointer data)
{
	/* BTHome v2, unencrypted: packet id 9, battery 100 %, temperature 25.06 °C */
	const guint8 p1[] = { 0x40, 0x00, 0x09, 0x01, 0x64, 0x02, 0xca, 0x09 };
	const guint8 p2[] = { 0x40, 0x00, 0x0a, 0x02, 0xcb, 0x09 };
	const guint8 bad[] = { 0x40, 0x02, 0xca };   /* truncated */
	TbgTestMessage *m;

	fake_bluez_set_service_data (f->bluez, BTHOME, BTHOME_UUID, p1, sizeof p1);
	expect_connect (f, "{\"device\":\"ATC_000002\",\"type\":\"default\"}");
	m = expect_telemetry_of (f, "ATC_000002");
	assert_values (m, "ATC_000002", "{\"battery\":100,\"temperature\":25.06}");
	tbg_test_message_free (m);
	/* the same packet again (BlueZ repeats advertisements): dropped */
	fake_bluez_set_service_data (f->bluez, BTHOME, BTHOME_UUID, bad, sizeof bad);
	fake_bluez_set_service_data (f->bluez, BTHOME, BTHOME_UUID, p1, sizeof p1);
	fake_bluez_set_service_data (f->bluez, BTHOME, BTHOME_UUID, p2, sizeof p2);
	m = expect_telemetry_of (f, "ATC_000002");
	assert_values (m, "ATC_000002", "{\"temperature\":25.07}");
	tbg_test_message_free (m);
	g_assert_cmpuint (fake_bluez_connects (f->bluez, BTHOME), ==, 0);
}

static gboolean
valve_connected (gpointer data)
{
	return fake_bluez_connects (data, VALVE) > 0;
}

/* A configured (unpaired) device is connected; RPCs write its characteristic. */
static void
test_rpc_write (Fixture *f, gconstpointer data)
{
	GBytes *w;
	json_t *j;
	g_autoptr (TbgTestMessage) m = NULL;

	expect_connect (f, "{\"device\":\"Garden valve\",\"type\":\"valve\"}");
	g_assert_true (tbg_test_wait_until (valve_connected, f->bluez, WAIT_MS));
	tbg_test_peer_publish (f->peer, "v1/gateway/rpc", "{\"device\":\"Garden valve\",\"data\":{\"id\":1,"
	                       "\"method\":\"write\",\"params\":{\"uuid\":\"" VALVE_UUID "\",\"value\":\"0a0b\","
	                       "\"encoding\":\"hex\"}}}");
	tbg_test_peer_expect_json (f->peer, "v1/gateway/rpc", "{\"device\":\"Garden valve\",\"id\":1,\"data\":{}}",
	                           WAIT_MS);
	w = fake_bluez_written (f->bluez, VALVE, VALVE_UUID);
	g_assert_nonnull (w);
	g_assert_cmpmem (g_bytes_get_data (w, NULL), g_bytes_get_size (w), "\x0a\x0b", 2);
	g_assert_cmpstr (fake_bluez_write_type (f->bluez, VALVE, VALVE_UUID), ==, "request");
	/* a characteristic that only takes writes without response gets a command */
	tbg_test_peer_publish (f->peer, "v1/gateway/rpc", "{\"device\":\"Garden valve\",\"data\":{\"id\":11,"
	                       "\"method\":\"write\",\"params\":{\"uuid\":\"" LAMP_UUID "\",\"value\":\"ff\"}}}");
	tbg_test_peer_expect_json (f->peer, "v1/gateway/rpc", "{\"device\":\"Garden valve\",\"id\":11,\"data\":{}}",
	                           WAIT_MS);
	w = fake_bluez_written (f->bluez, VALVE, LAMP_UUID);
	g_assert_nonnull (w);
	g_assert_cmpmem (g_bytes_get_data (w, NULL), g_bytes_get_size (w), "\xff", 1);
	g_assert_cmpstr (fake_bluez_write_type (f->bluez, VALVE, LAMP_UUID), ==, "command");
	/* a method mapped in the config */
	tbg_test_peer_publish (f->peer, "v1/gateway/rpc", "{\"device\":\"Garden valve\",\"data\":{\"id\":2,"
	                       "\"method\":\"open\",\"params\":{\"value\":7}}}");
	tbg_test_peer_expect_json (f->peer, "v1/gateway/rpc", "{\"device\":\"Garden valve\",\"id\":2,\"data\":{}}",
	                           WAIT_MS);
	w = fake_bluez_written (f->bluez, VALVE, VALVE_UUID);
	g_assert_cmpmem (g_bytes_get_data (w, NULL), g_bytes_get_size (w), "\x07", 1);
	/* read it back */
	tbg_test_peer_publish (f->peer, "v1/gateway/rpc", "{\"device\":\"Garden valve\",\"data\":{\"id\":3,"
	                       "\"method\":\"read\",\"params\":{\"uuid\":\"" VALVE_UUID "\",\"encoding\":\"u8\"}}}");
	tbg_test_peer_expect_json (f->peer, "v1/gateway/rpc",
	                           "{\"device\":\"Garden valve\",\"id\":3,\"data\":{\"value\":0}}", WAIT_MS);
	/* a shared attribute mapped to the characteristic is written */
	tbg_test_peer_publish (f->peer, "v1/gateway/attributes",
	                       "{\"device\":\"Garden valve\",\"data\":{\"position\":42}}");
	tbg_test_run_main_loop_for (500);
	w = fake_bluez_written (f->bluez, VALVE, VALVE_UUID);
	g_assert_cmpmem (g_bytes_get_data (w, NULL), g_bytes_get_size (w), "\x2a", 1);
	/* BlueZ refuses: its error, with the same id */
	tbg_test_peer_publish (f->peer, "v1/gateway/rpc", "{\"device\":\"Garden valve\",\"data\":{\"id\":12,"
	                       "\"method\":\"write\",\"params\":{\"uuid\":\"" SERIAL_UUID "\",\"value\":\"01\"}}}");
	tbg_test_peer_expect_json (f->peer, "v1/gateway/rpc", "{\"device\":\"Garden valve\",\"id\":12,\"data\":"
	                           "{\"error\":\"org.bluez.Error.NotPermitted: Write not permitted\"}}", WAIT_MS);
	g_assert_null (fake_bluez_written (f->bluez, VALVE, SERIAL_UUID));
	/* bad value: an error with the same id */
	tbg_test_peer_publish (f->peer, "v1/gateway/rpc", "{\"device\":\"Garden valve\",\"data\":{\"id\":4,"
	                       "\"method\":\"open\",\"params\":{\"value\":300}}}");
	m = tbg_test_peer_expect (f->peer, "v1/gateway/rpc", WAIT_MS);
	j = json_loads (m->payload, 0, NULL);
	g_assert_cmpint (json_integer_value (json_object_get (j, "id")), ==, 4);
	g_assert_nonnull (json_string_value (json_object_get (json_object_get (j, "data"), "error")));
	json_decref (j);
}

/* An RPC to a device whose link is down is answered at once with an error. */
static void
test_rpc_disconnected (Fixture *f, gconstpointer data)
{
	g_autoptr (TbgTestMessage) m = NULL;
	gint64 start;
	json_t *j;

	expect_connect (f, "{\"device\":\"Garden valve\",\"type\":\"valve\"}");
	g_assert_true (tbg_test_wait_until (valve_connected, f->bluez, WAIT_MS));
	fake_bluez_fail_connects (f->bluez, VALVE, 100);
	fake_bluez_drop_link (f->bluez, VALVE);
	expect_of (f, "v1/gateway/disconnect", "{\"device\":\"Garden valve\"}");
	start = g_get_monotonic_time ();
	tbg_test_peer_publish (f->peer, "v1/gateway/rpc", "{\"device\":\"Garden valve\",\"data\":{\"id\":5,"
	                       "\"method\":\"open\",\"params\":{\"value\":1}}}");
	m = tbg_test_peer_expect (f->peer, "v1/gateway/rpc", WAIT_MS);
	j = json_loads (m->payload, 0, NULL);
	g_assert_cmpint (json_integer_value (json_object_get (j, "id")), ==, 5);
	g_assert_nonnull (json_string_value (json_object_get (json_object_get (j, "data"), "error")));
	/* not the gateway's 3 s timeout */
	g_assert_cmpstr (json_string_value (json_object_get (json_object_get (j, "data"), "error")), !=, "timeout");
	g_assert_cmpint (g_get_monotonic_time () - start, <, 2 * G_USEC_PER_SEC);
	json_decref (j);
}

/* bluetoothd restarts: devices go, come back and are connected again. */
static void
test_bluetoothd_restart (Fixture *f, gconstpointer data)
{
	Count c = { f->bluez, THERMO, 1 };

	expect_connect (f, "{\"device\":\"Thermo\",\"type\":\"default\"}");
	g_assert_true (tbg_test_wait_until (notifies_reach, &c, WAIT_MS));
	fake_bluez_stop (f->bluez);
	expect_of (f, "v1/gateway/disconnect", "{\"device\":\"Thermo\"}");
	fake_bluez_restart (f->bluez);
	expect_connect (f, "{\"device\":\"Thermo\",\"type\":\"default\"}");
	c.n = 2;
	g_assert_true (tbg_test_wait_until (notifies_reach, &c, WAIT_MS));
	g_assert_true (fake_bluez_discovering (f->bluez));
}

static gboolean
discovering (gpointer data)
{
	return fake_bluez_discovering (data);
}

/* scan=passive: an advertisement monitor for BTHome instead of a discovery
 * session; registered again when bluetoothd comes back. */
static void
test_passive_scan (Fixture *f, gconstpointer data)
{
	const guint8 p1[] = { 0x40, 0x00, 0x01, 0x02, 0xca, 0x09 };
	TbgTestMessage *m;

	g_assert_true (tbg_test_wait_until (fake_bluez_has_monitors, f->bluez, WAIT_MS));
	g_assert_cmpstr (fake_bluez_monitors (f->bluez), ==, "or_patterns 0,0x16,d2fc");
	fake_bluez_set_service_data (f->bluez, BTHOME, BTHOME_UUID, p1, sizeof p1);
	m = expect_telemetry_of (f, "ATC_000002");
	assert_values (m, "ATC_000002", "{\"temperature\":25.06}");
	tbg_test_message_free (m);
	g_assert_false (fake_bluez_discovering (f->bluez));
	fake_bluez_stop (f->bluez);
	g_assert_null (fake_bluez_monitors (f->bluez));
	fake_bluez_restart (f->bluez);
	g_assert_true (tbg_test_wait_until (fake_bluez_has_monitors, f->bluez, WAIT_MS));
	g_assert_false (fake_bluez_discovering (f->bluez));
}

static gboolean
not_discovering (gpointer data)
{
	return !fake_bluez_discovering (data);
}

/* The adapter is powered off and on again (rfkill, a USB dongle replugged):
 * discovery starts again. */
static void
test_adapter_power (Fixture *f, gconstpointer data)
{
	g_assert_true (tbg_test_wait_until (discovering, f->bluez, WAIT_MS));
	g_assert_cmpuint (fake_bluez_discovery_starts (f->bluez), ==, 1);
	fake_bluez_set_powered (f->bluez, FALSE);
	g_assert_true (tbg_test_wait_until (not_discovering, f->bluez, WAIT_MS));
	tbg_test_run_main_loop_for (200);
	fake_bluez_set_powered (f->bluez, TRUE);
	g_assert_true (tbg_test_wait_until (discovering, f->bluez, WAIT_MS));
	g_assert_cmpuint (fake_bluez_discovery_starts (f->bluez), ==, 2);
}

/* The link is up before BlueZ has resolved the services (as python-dbusmock's
 * bluez5 template leaves it): the device is connected at once, and its
 * characteristics are read and notified once the services are there. */
static void
test_services_later (Fixture *f, gconstpointer data)
{
	TbgTestMessage *m;
	Count c = { f->bluez, THERMO, 1 };

	expect_connect (f, "{\"device\":\"Thermo\",\"type\":\"default\"}");
	g_assert_cmpuint (fake_bluez_start_notifies (f->bluez, THERMO, TEMP_UUID), ==, 0);
	fake_bluez_resolve_services (f->bluez, THERMO);
	m = expect_telemetry_of (f, "Thermo");
	assert_values (m, "Thermo", "{\"temperature\":23.12}");
	tbg_test_message_free (m);
	g_assert_true (tbg_test_wait_until (notifies_reach, &c, WAIT_MS));
}

static void
thermo_resolves_early (Fixture *f)
{
	fake_bluez_resolve_before_export (f->bluez, THERMO);
}

/* Services said to be resolved before BlueZ exported their objects: each
 * characteristic is read and notified as it appears. */
static void
test_characteristics_after_resolve (Fixture *f, gconstpointer data)
{
	TbgTestMessage *m;
	Count c = { f->bluez, THERMO, 1 };

	expect_connect (f, "{\"device\":\"Thermo\",\"type\":\"default\"}");
	fake_bluez_export_characteristics (f->bluez, THERMO);
	m = expect_telemetry_of (f, "Thermo");
	assert_values (m, "Thermo", "{\"temperature\":23.12}");
	tbg_test_message_free (m);
	g_assert_true (tbg_test_wait_until (notifies_reach, &c, WAIT_MS));
	g_assert_cmpuint (fake_bluez_reads (f->bluez, THERMO, TEMP_UUID), ==, 1);
}

/* Passive scanning survives a power cycle: BlueZ keeps the monitor
 * registered (registering it again is refused as AlreadyExists), so there is
 * nothing to redo and no reason to fall back to an active scan. */
static void
test_passive_adapter_power (Fixture *f, gconstpointer data)
{
	const guint8 p1[] = { 0x40, 0x00, 0x02, 0x02, 0xca, 0x09 };
	TbgTestMessage *m;

	g_assert_true (tbg_test_wait_until (fake_bluez_has_monitors, f->bluez, WAIT_MS));
	fake_bluez_set_powered (f->bluez, FALSE);
	tbg_test_run_main_loop_for (200);
	fake_bluez_set_powered (f->bluez, TRUE);
	tbg_test_run_main_loop_for (500);
	g_assert_cmpuint (fake_bluez_discovery_starts (f->bluez), ==, 0);
	g_assert_false (fake_bluez_discovering (f->bluez));
	g_assert_cmpstr (fake_bluez_monitors (f->bluez), ==, "or_patterns 0,0x16,d2fc");
	fake_bluez_set_service_data (f->bluez, BTHOME, BTHOME_UUID, p1, sizeof p1);
	m = expect_telemetry_of (f, "ATC_000002");
	assert_values (m, "ATC_000002", "{\"temperature\":25.06}");
	tbg_test_message_free (m);
}

/* Without BlueZ's monitor API, passive falls back to an active scan. */
static void
test_passive_unsupported (Fixture *f, gconstpointer data)
{
	g_assert_true (tbg_test_wait_until (discovering, f->bluez, WAIT_MS));
	g_assert_null (fake_bluez_monitors (f->bluez));
}


/* ---- issue-driven cases: what real BlueZ does that a simple fake did not ---- */

static gboolean
mentions (TbgTestMessage *m, const char *device)
{
	json_t *j = json_loads (m->payload, 0, NULL);
	gboolean yes = json_is_object (j) &&
	               (g_strcmp0 (json_string_value (json_object_get (j, "device")), device) == 0 ||
	                json_object_get (j, device) != NULL);

	json_decref (j);
	return yes;
}

/* Waits for a message on @topic about @device; fails if anything about
 * @never (any topic but the attributes the gateway announces about itself;
 * only v1/gateway/connect and disconnect if @links_only) came first.
 * Messages arrive in the order tbgwd handled their causes, so this shows
 * that what happened before the cause of the awaited message produced
 * nothing about @never. */
static void
expect_before (Fixture *f, const char *topic, const char *device, const char *never, gboolean links_only)
{
	for (;;) {
		g_autoptr (TbgTestMessage) m = tbg_test_peer_expect (f->peer, NULL, WAIT_MS);
		gboolean link = g_str_equal (m->topic, "v1/gateway/connect") ||
		                g_str_equal (m->topic, "v1/gateway/disconnect");

		if (never != NULL && mentions (m, never) && !g_str_equal (m->topic, "v1/devices/me/attributes") &&
		    (link || !links_only))
			g_error ("%s: %s (nothing about %s expected)", m->topic, m->payload, never);
		if (g_str_equal (m->topic, topic) && mentions (m, device))
			return;
	}
}

static void
expect_without (Fixture *f, const char *topic, const char *device, const char *never)
{
	expect_before (f, topic, device, never, FALSE);
}

/* Another BTHome advertisement of ATC_000002 with a new packet id, and the
 * wait for its telemetry: a barrier behind everything done before. */
static void
bthome_barrier (Fixture *f, const char *never)
{
	static guint8 id = 0x20;
	const guint8 p[] = { 0x40, 0x00, id++, 0x02, 0xca, 0x09 };

	fake_bluez_set_service_data (f->bluez, BTHOME, BTHOME_UUID, p, sizeof p);
	expect_without (f, "v1/gateway/telemetry", "ATC_000002", never);
}

static guint
log_count (Fixture *f, const char *needle)
{
	g_autofree char *text = NULL;
	guint n = 0;

	if (!g_file_get_contents (f->log, &text, NULL, NULL))
		return 0;
	for (const char *p = text; (p = strstr (p, needle)) != NULL; p += strlen (needle))
		n++;
	return n;
}

static void
lose_thermo_link_up (Fixture *f)
{
	fake_bluez_lose_link_up_signals (f->bluez, THERMO);
}

/* bluetoothd may never signal Connected/ServicesResolved ("is already
 * connected"): the Connect reply is enough to look, on the first connect
 * and after a reconnect, and RPCs work after it. */
static void
test_link_up_unsignalled (Fixture *f, gconstpointer data)
{
	Count c = { f->bluez, THERMO, 1 };
	TbgTestMessage *m;

	expect_connect (f, "{\"device\":\"Thermo\",\"type\":\"default\"}");
	g_assert_true (tbg_test_wait_until (notifies_reach, &c, WAIT_MS));
	m = expect_telemetry_of (f, "Thermo");
	assert_values (m, "Thermo", "{\"temperature\":23.12}");
	tbg_test_message_free (m);
	fake_bluez_drop_link (f->bluez, THERMO);
	expect_of (f, "v1/gateway/disconnect", "{\"device\":\"Thermo\"}");
	expect_connect (f, "{\"device\":\"Thermo\",\"type\":\"default\"}");
	c.n = 2;
	g_assert_true (tbg_test_wait_until (notifies_reach, &c, WAIT_MS));
	tbg_test_peer_publish (f->peer, "v1/gateway/rpc", "{\"device\":\"Thermo\",\"data\":{\"id\":7,"
	                       "\"method\":\"read\",\"params\":{\"uuid\":\"2a6e\",\"encoding\":\"s16le\"}}}");
	tbg_test_peer_expect_json (f->peer, "v1/gateway/rpc",
	                           "{\"device\":\"Thermo\",\"id\":7,\"data\":{\"value\":2312}}", WAIT_MS);
}

static void
add_other_adapter (Fixture *f)
{
	const guint8 temp[] = { 0x08, 0x09 };

	fake_bluez_add_adapter (f->bluez, "hci1", "00:1A:7D:DA:71:14");
	fake_bluez_add_device_on (f->bluez, "hci1", OTHER_HCI, "vm", TRUE);
	fake_bluez_add_characteristic (f->bluez, OTHER_HCI, TEMP_UUID, "read,notify", temp, sizeof temp);
}

/* adapter=hci0: a paired device known to hci1 is not ours. */
static void
test_adapter_limits_devices (Fixture *f, gconstpointer data)
{
	/* all devices are handled in one go at start: by the time Thermo
	 * is announced, "vm" would have been connected too */
	expect_without (f, "v1/gateway/connect", "Thermo", "vm");
	g_assert_cmpuint (fake_bluez_connects (f->bluez, OTHER_HCI), ==, 0);
	/* its link coming up (another client) changes nothing */
	fake_bluez_connect_other (f->bluez, OTHER_HCI);
	bthome_barrier (f, "vm");
	g_assert_cmpuint (fake_bluez_start_notifies (f->bluez, OTHER_HCI, TEMP_UUID), ==, 0);
	g_assert_cmpuint (fake_bluez_reads (f->bluez, OTHER_HCI, TEMP_UUID), ==, 0);
}

static guint count_thermo_samples (Fixture *f, double value, double until);

static void
thermo_unreachable (Fixture *f)
{
	fake_bluez_fail_connects (f->bluez, THERMO, 1000);
}

/* A paired sensor that also advertises BTHome follows its link: no
 * connect from an advertisement while the link is down, before the first
 * connect or after a drop. */
static void
test_advertiser_follows_link (Fixture *f, gconstpointer data)
{
	const guint8 p1[] = { 0x40, 0x00, 0x01, 0x02, 0x10, 0x09 };
	const guint8 p2[] = { 0x40, 0x00, 0x02, 0x02, 0x11, 0x09 };
	const guint8 p3[] = { 0x40, 0x00, 0x03, 0x02, 0x12, 0x09 };

	fake_bluez_set_service_data (f->bluez, THERMO, BTHOME_UUID, p1, sizeof p1);
	bthome_barrier (f, "Thermo");
	/* the link comes up */
	fake_bluez_fail_connects (f->bluez, THERMO, 0);
	expect_connect (f, "{\"device\":\"Thermo\",\"type\":\"default\"}");
	/* while up, its advertisements are its telemetry, beside the sample of
	 * the initial read (23.12), which may come before or after them */
	fake_bluez_set_service_data (f->bluez, THERMO, BTHOME_UUID, p2, sizeof p2);
	{
		guint read = 0, advertised = 0;

		while (read == 0 || advertised == 0) {
			g_autoptr (TbgTestMessage) m = expect_telemetry_of (f, "Thermo");
			json_t *j = json_loads (m->payload, 0, NULL);
			gsize i;
			json_t *s;

			json_array_foreach (json_object_get (j, "Thermo"), i, s) {
				double t = json_number_value (json_object_get (json_object_get (s, "values"),
				                                               "temperature"));

				if (fabs (t - 23.12) < 1e-9)
					read++;
				else if (fabs (t - 23.21) < 1e-9)
					advertised++;
				else
					g_error ("unexpected sample of Thermo: %s", m->payload);
			}
			json_decref (j);
		}
		g_assert_cmpuint (read, ==, 1);
		g_assert_cmpuint (advertised, ==, 1);
	}
	fake_bluez_fail_connects (f->bluez, THERMO, 1000);
	fake_bluez_drop_link (f->bluez, THERMO);
	expect_of (f, "v1/gateway/disconnect", "{\"device\":\"Thermo\"}");
	fake_bluez_set_service_data (f->bluez, THERMO, BTHOME_UUID, p3, sizeof p3);
	bthome_barrier (f, "Thermo");
}

static void
stranger_with_gatt (Fixture *f)
{
	const guint8 temp[] = { 0x08, 0x09 };

	fake_bluez_add_characteristic (f->bluez, STRANGER, TEMP_UUID, "read,notify", temp, sizeof temp);
}

/* A device neither paired nor configured that another client connected is
 * left alone: no read, no notifications, no announcement. */
static void
test_stranger_left_alone (Fixture *f, gconstpointer data)
{
	expect_connect (f, "{\"device\":\"Thermo\",\"type\":\"default\"}");
	fake_bluez_connect_other (f->bluez, STRANGER);
	bthome_barrier (f, "Neighbour's phone");
	g_assert_cmpuint (fake_bluez_start_notifies (f->bluez, STRANGER, TEMP_UUID), ==, 0);
	g_assert_cmpuint (fake_bluez_reads (f->bluez, STRANGER, TEMP_UUID), ==, 0);
	g_assert_cmpuint (fake_bluez_connects (f->bluez, STRANGER), ==, 0);
}

/* Thermo's samples until one with @until: how many had @value. */
static guint
count_thermo_samples (Fixture *f, double value, double until)
{
	guint n = 0;

	for (;;) {
		g_autoptr (TbgTestMessage) m = expect_telemetry_of (f, "Thermo");
		json_t *j = json_loads (m->payload, 0, NULL);
		json_t *samples = json_object_get (j, "Thermo");
		gboolean done = FALSE;
		gsize i;
		json_t *s;

		json_array_foreach (samples, i, s) {
			json_t *t = json_object_get (json_object_get (s, "values"), "temperature");

			if (t == NULL)
				g_error ("unexpected sample of Thermo: %s", m->payload);
			if (fabs (json_number_value (t) - value) < 1e-9)
				n++;
			done |= fabs (json_number_value (t) - until) < 1e-9;
		}
		json_decref (j);
		if (done)
			return n;
	}
}

static gboolean
thermo_read (gpointer data)
{
	return fake_bluez_reads (data, THERMO, TEMP_UUID) >= 1;
}

/* BlueZ also signals a read value as a Value change: still one sample. */
static void
test_read_is_one_sample (Fixture *f, gconstpointer data)
{
	const guint8 t2[] = { 0x2c, 0x01 };     /* 3.00 */
	Count c = { f->bluez, THERMO, 1 };

	expect_connect (f, "{\"device\":\"Thermo\",\"type\":\"default\"}");
	g_assert_true (tbg_test_wait_until (notifies_reach, &c, WAIT_MS));
	g_assert_true (tbg_test_wait_until (thermo_read, f->bluez, WAIT_MS));
	fake_bluez_set_value (f->bluez, THERMO, TEMP_UUID, t2, sizeof t2);
	g_assert_cmpuint (count_thermo_samples (f, 23.12, 3.0), ==, 1);
}

/* The SIG's "value is not known" (Temperature 0x8000) is no sample. */
static void
test_value_not_known (Fixture *f, gconstpointer data)
{
	const guint8 unknown[] = { 0x00, 0x80 };
	const guint8 t2[] = { 0x2c, 0x01 };     /* 3.00 */
	Count c = { f->bluez, THERMO, 1 };

	expect_connect (f, "{\"device\":\"Thermo\",\"type\":\"default\"}");
	g_assert_true (tbg_test_wait_until (notifies_reach, &c, WAIT_MS));
	fake_bluez_set_value (f->bluez, THERMO, TEMP_UUID, unknown, sizeof unknown);
	tbg_test_run_main_loop_for (100);
	fake_bluez_set_value (f->bluez, THERMO, TEMP_UUID, t2, sizeof t2);
	g_assert_cmpuint (count_thermo_samples (f, -327.68, 3.0), ==, 0);
}

static void
add_collider (Fixture *f)
{
	fake_bluez_add_device (f->bluez, COLLIDER, "Garden valve", FALSE);
}

/* A BTHome sensor whose name is taken: one warning, not one per packet. */
static void
test_bthome_name_collision (Fixture *f, gconstpointer data)
{
	expect_connect (f, "{\"device\":\"Garden valve\",\"type\":\"valve\"}");
	for (guint8 id = 1; id <= 3; id++) {
		const guint8 p[] = { 0x40, 0x00, id, 0x02, 0xca, 0x09 };

		fake_bluez_set_service_data (f->bluez, COLLIDER, BTHOME_UUID, p, sizeof p);
		bthome_barrier (f, NULL);
	}
	g_assert_cmpuint (log_count (f, "exists already"), ==, 1);
}
static void
stall_bluez (Fixture *f)
{
	fake_bluez_stall_object_manager (f->bluez, TRUE);
}

static gboolean
bluez_asked (gpointer data)
{
	return fake_bluez_stalled_calls (data) > 0;
}

/* bluetoothd that does not answer does not hold up the gateway: it
 * connects and answers its own RPCs while the call is still unanswered. */
static void
test_bluez_stalled (Fixture *f, gconstpointer data)
{
	g_assert_true (tbg_test_wait_until (bluez_asked, f->bluez, WAIT_MS));
	tbg_test_message_free (tbg_test_peer_expect (f->peer, "v1/devices/me/attributes", WAIT_MS));
	tbg_test_peer_publish (f->peer, "v1/devices/me/rpc/request/42", "{\"method\":\"ping\"}");
	tbg_test_message_free (tbg_test_peer_expect (f->peer, "v1/devices/me/rpc/response/42", WAIT_MS));
	/* bluetoothd's first call (25 s timeout) is still open */
	g_assert_cmpuint (fake_bluez_stalled_calls (f->bluez), ==, 1);
}

static void
hold_bluez (Fixture *f)
{
	fake_bluez_hold_object_manager (f->bluez);
}

/* An advertisement sent while the gateway's first GetManagedObjects is
 * on its way is neither in that (older) answer nor seen as a change (the
 * client had no object for it yet): the gateway still hears it. */
static void
test_bluez_change_during_start (Fixture *f, gconstpointer data)
{
	/* BTHome v2, unencrypted: packet id 9, battery 100 %, temperature 25.06 °C */
	const guint8 p1[] = { 0x40, 0x00, 0x09, 0x01, 0x64, 0x02, 0xca, 0x09 };
	TbgTestMessage *m;

	g_assert_true (tbg_test_wait_until (bluez_asked, f->bluez, WAIT_MS));
	fake_bluez_set_service_data (f->bluez, BTHOME, BTHOME_UUID, p1, sizeof p1);
	fake_bluez_release_object_manager (f->bluez);
	expect_connect (f, "{\"device\":\"ATC_000002\",\"type\":\"default\"}");
	m = expect_telemetry_of (f, "ATC_000002");
	assert_values (m, "ATC_000002", "{\"battery\":100,\"temperature\":25.06}");
	tbg_test_message_free (m);
}

/* ---- reload: the source's validate and reconfigure hooks, in this process ---- */

#define LAMP "A4:C1:38:00:00:0C"

extern const TbgSource tbg_source_ble;

/* Connect announcements, in any order; fails on any other. */
static void
expect_connects (Fixture *f, const char * const *expected)
{
	guint left = g_strv_length ((char **) expected);
	g_autofree gboolean *seen = g_new0 (gboolean, left);

	while (left > 0) {
		g_autoptr (TbgTestMessage) m = tbg_test_peer_expect (f->peer, "v1/gateway/connect", WAIT_MS);
		json_t *got = json_loads (m->payload, 0, NULL);
		guint i;

		for (i = 0; expected[i] != NULL; i++) {
			json_t *want = json_loads (expected[i], 0, NULL);
			gboolean same = json_equal (got, want);

			json_decref (want);
			if (same && !seen[i])
				break;
		}
		json_decref (got);
		if (expected[i] == NULL)
			g_error ("unexpected v1/gateway/connect %s", m->payload);
		seen[i] = TRUE;
		left--;
	}
}

static TbgConfig *
write_config (const char *path, guint16 port, const char *ble)
{
	g_autofree char *text = g_strdup_printf ("[storage]\npath=memory\n[server]\nport=%u\n"
	                                         "[gateway]\nstats-interval-s=0\n[ble]\nscan=off\n%s", port, ble);
	g_autoptr (GError) error = NULL;
	TbgConfig *cfg;

	g_assert_true (g_file_set_contents (path, text, -1, NULL));
	cfg = tbg_config_load (path, (const char * const[]) { "ble", NULL }, &error);
	g_assert_no_error (error);
	cfg->session_bus = TRUE;   /* GTestDBus's bus */
	return cfg;
}

typedef struct {
	FakeBluez  *fb;
	const char *address;
	const char *uuid;
	guint       n;
} Notifies;

static gboolean
notifies_of (gpointer data)
{
	Notifies *n = data;

	return fake_bluez_start_notifies (n->fb, n->address, n->uuid) >= n->n;
}

static gboolean
lamp_link_down (gpointer data)
{
	return !fake_bluez_is_connected (data, LAMP);
}

/* An unchanged [ble:…] device keeps its link, its notifications and its
 * ThingsBoard connection; a changed one is made again, a removed one is
 * disconnected (its link too, since nothing else wants it); a bad file is
 * refused by validate, naming file and line. */
static void
test_reconfigure (void)
{
	static const char valve[] = "[ble:Garden valve]\naddress=" VALVE "\ntype=valve\nchar." VALVE_UUID "=position u8\n";
	const guint8 zero[] = { 0 }, seven[] = { 7 }, temp[] = { 0x08, 0x09 }, t2[] = { 0x2c, 0x01 };
	g_autofree char *dir = g_dir_make_tmp ("tbgw-ble-XXXXXX", NULL);
	g_autofree char *path = g_build_filename (dir, "ble.conf", NULL);
	g_autofree char *gw_path = g_build_filename (dir, "gateway.conf", NULL);
	g_autofree char *lamp = g_strdup_printf ("[ble:Lamp]\naddress=" LAMP "\ntype=lamp\n");
	g_autofree char *lamp2 = g_strdup_printf ("[ble:Lamp]\naddress=" LAMP "\ntype=light\n");
	g_autofree char *both = g_strconcat (valve, lamp, NULL);
	g_autofree char *both2 = g_strconcat (valve, lamp2, NULL);
	g_autoptr (GError) error = NULL;
	GTestDBus *bus;
	Fixture f = { 0 };
	Notifies valve_armed, thermo_armed;
	TbgConfig *cfg[5];
	TbgGateway *gw;
	gpointer ble;

	alarm (120);
	bus = g_test_dbus_new (G_TEST_DBUS_NONE);
	g_test_dbus_up (bus);
	f.bluez = fake_bluez_new (g_test_dbus_get_bus_address (bus));
	fake_bluez_add_device (f.bluez, THERMO, "Thermo", TRUE);
	fake_bluez_add_characteristic (f.bluez, THERMO, TEMP_UUID, "read,notify", temp, sizeof temp);
	fake_bluez_add_device (f.bluez, VALVE, "Valve-123", FALSE);
	fake_bluez_add_characteristic (f.bluez, VALVE, VALVE_UUID, "read,write,notify", zero, 1);
	fake_bluez_add_device (f.bluez, LAMP, "Lamp-1", FALSE);
	f.broker = tbg_test_broker_start ();
	f.peer = tbg_test_peer_new (tbg_test_broker_port (f.broker));
	gw = tbg_test_gateway_new (gw_path, tbg_test_broker_port (f.broker), "",
	                           (const char * const[]) { NULL }, (const TbgSource * const[]) { NULL }, &error);
	g_assert_no_error (error);
	cfg[0] = write_config (path, tbg_test_broker_port (f.broker), both);
	g_assert_true (tbg_source_ble.validate (cfg[0], &error));
	ble = tbg_source_ble.start (gw, cfg[0], &error);
	g_assert_no_error (error);
	expect_connects (&f, (const char * const[]) { "{\"device\":\"Garden valve\",\"type\":\"valve\"}",
	                                              "{\"device\":\"Lamp\",\"type\":\"lamp\"}",
	                                              "{\"device\":\"Thermo\",\"type\":\"default\"}", NULL });
	valve_armed = (Notifies) { f.bluez, VALVE, VALVE_UUID, 1 };
	thermo_armed = (Notifies) { f.bluez, THERMO, TEMP_UUID, 1 };
	g_assert_true (tbg_test_wait_until (notifies_of, &valve_armed, WAIT_MS));
	g_assert_true (tbg_test_wait_until (notifies_of, &thermo_armed, WAIT_MS));

	/* the same file again: nothing happens */
	cfg[1] = write_config (path, tbg_test_broker_port (f.broker), both);
	g_assert_true (tbg_source_ble.validate (cfg[1], &error));
	tbg_source_ble.reconfigure (ble, cfg[0], cfg[1]);
	fake_bluez_set_value (f.bluez, THERMO, TEMP_UUID, t2, sizeof t2);
	expect_before (&f, "v1/gateway/telemetry", "Thermo", "Garden valve", TRUE);
	/* the valve's notifications still arrive: armed once, never again */
	fake_bluez_set_value (f.bluez, VALVE, VALVE_UUID, seven, 1);
	expect_before (&f, "v1/gateway/telemetry", "Garden valve", "Lamp", TRUE);
	g_assert_cmpuint (fake_bluez_start_notifies (f.bluez, VALVE, VALVE_UUID), ==, 1);
	g_assert_cmpuint (fake_bluez_connects (f.bluez, VALVE), ==, 1);

	/* a bad file is refused, naming where */
	{
		g_autofree char *where = g_strdup_printf ("%s:10", path);
		TbgConfig *bad = write_config (path, tbg_test_broker_port (f.broker), "[ble:X]\naddress=nope\n");

		g_assert_false (tbg_source_ble.validate (bad, &error));
		if (strstr (error->message, where) == NULL)
			g_error ("“%s” does not say “%s”", error->message, where);
		g_clear_error (&error);
		tbg_config_free (bad);
	}

	/* the lamp's group changed: made again; the valve is left alone */
	cfg[2] = write_config (path, tbg_test_broker_port (f.broker), both2);
	g_assert_true (tbg_source_ble.validate (cfg[2], &error));
	tbg_source_ble.reconfigure (ble, cfg[1], cfg[2]);
	expect_before (&f, "v1/gateway/disconnect", "Lamp", "Garden valve", TRUE);
	expect_before (&f, "v1/gateway/connect", "Lamp", "Garden valve", TRUE);
	g_assert_cmpuint (fake_bluez_start_notifies (f.bluez, VALVE, VALVE_UUID), ==, 1);

	/* the lamp's group is gone: disconnected, its link too */
	cfg[3] = write_config (path, tbg_test_broker_port (f.broker), valve);
	tbg_source_ble.reconfigure (ble, cfg[2], cfg[3]);
	expect_before (&f, "v1/gateway/disconnect", "Lamp", "Garden valve", TRUE);
	g_assert_true (tbg_test_wait_until (lamp_link_down, f.bluez, WAIT_MS));

	/* [ble] itself changed: every device starts over */
	cfg[4] = write_config (path, tbg_test_broker_port (f.broker), "rssi=true\n[ble:Garden valve]\naddress=" VALVE
	                       "\ntype=valve\nchar." VALVE_UUID "=position u8\n");
	tbg_source_ble.reconfigure (ble, cfg[3], cfg[4]);
	expect_of (&f, "v1/gateway/disconnect", "{\"device\":\"Garden valve\"}");
	expect_connect (&f, "{\"device\":\"Garden valve\",\"type\":\"valve\"}");

	tbg_source_ble.stop (ble);
	for (guint i = 0; i < G_N_ELEMENTS (cfg); i++)
		tbg_config_free (cfg[i]);
	g_object_unref (gw);
	fake_bluez_free (f.bluez);
	tbg_test_peer_free (f.peer);
	tbg_test_broker_free (f.broker);
	g_test_dbus_down (bus);
	g_object_unref (bus);
	g_unlink (path);
	g_unlink (gw_path);
	g_rmdir (dir);
	alarm (0);
}

/* SIGHUP with the same file: the BLE devices keep their links, their
 * notifications and their ThingsBoard connection; a changed [ble:…] group
 * makes only that device again. */
static void
test_sighup (Fixture *f, gconstpointer data)
{
	const guint8 t2[] = { 0x2c, 0x01 };     /* 3.00 */
	g_autofree char *text = NULL;
	g_autofree char *changed = NULL;
	Count c = { f->bluez, THERMO, 1 };

	expect_connects (f, (const char * const[]) { "{\"device\":\"Garden valve\",\"type\":\"valve\"}",
	                                             "{\"device\":\"Thermo\",\"type\":\"default\"}", NULL });
	g_assert_true (tbg_test_wait_until (notifies_reach, &c, WAIT_MS));
	g_subprocess_send_signal (f->daemon, SIGHUP);
	tbg_test_run_main_loop_for (200);
	while (log_count (f, "Configuration reloaded") < 1)
		tbg_test_run_main_loop_for (50);
	fake_bluez_set_value (f->bluez, THERMO, TEMP_UUID, t2, sizeof t2);
	expect_before (f, "v1/gateway/telemetry", "Thermo", "Thermo", TRUE);
	g_assert_cmpuint (fake_bluez_start_notifies (f->bluez, THERMO, TEMP_UUID), ==, 1);
	g_assert_cmpuint (fake_bluez_connects (f->bluez, VALVE), ==, 1);
	g_assert_cmpuint (fake_bluez_connects (f->bluez, THERMO), ==, 1);
	/* the valve's group changes: only the valve is made again */
	g_assert_true (g_file_get_contents (f->conf, &text, NULL, NULL));
	{
		g_auto (GStrv) parts = g_strsplit (text, "type=valve", -1);

		changed = g_strjoinv ("type=tap", parts);
	}
	g_assert_true (g_file_set_contents (f->conf, changed, -1, NULL));
	g_subprocess_send_signal (f->daemon, SIGHUP);
	expect_before (f, "v1/gateway/disconnect", "Garden valve", "Thermo", TRUE);
	expect_before (f, "v1/gateway/connect", "Garden valve", "Thermo", TRUE);
	g_assert_cmpuint (fake_bluez_start_notifies (f->bluez, THERMO, TEMP_UUID), ==, 1);
}

int
main (int argc, char **argv)
{
	static const Variant passive = { "bthome=true\nscan=passive\n", FALSE };
	static const Variant passive_unsupported = { "bthome=true\nscan=passive\n", TRUE };
	static const Variant services_later = { NULL, FALSE, TRUE };
	static const Variant link_up_unsignalled = { .prepare = lose_thermo_link_up };
	static const Variant other_adapter = { "bthome=true\nadapter=hci0\n", .prepare = add_other_adapter };
	static const Variant unreachable = { .prepare = thermo_unreachable };
	static const Variant resolves_early = { .prepare = thermo_resolves_early };
	static const Variant stranger = { .prepare = stranger_with_gatt };
	static const Variant collider = { .prepare = add_collider };
	static const Variant stalled = { .prepare = stall_bluez, .no_wait = TRUE };
	static const Variant held = { .prepare = hold_bluez, .no_wait = TRUE };

	g_test_init (&argc, &argv, NULL);
#define ADD(p, fn) g_test_add ("/ble/" p, Fixture, NULL, setup, fn, teardown)
	ADD ("paired-device", test_paired_device);
	ADD ("bthome", test_bthome);
	ADD ("rpc-write", test_rpc_write);
	ADD ("rpc-disconnected", test_rpc_disconnected);
	ADD ("bluetoothd-restart", test_bluetoothd_restart);
	ADD ("adapter-power", test_adapter_power);
#undef ADD
	g_test_add ("/ble/services-later", Fixture, &services_later, setup, test_services_later, teardown);
	g_test_add ("/ble/passive-scan", Fixture, &passive, setup, test_passive_scan, teardown);
	g_test_add ("/ble/passive-adapter-power", Fixture, &passive, setup, test_passive_adapter_power, teardown);
	g_test_add ("/ble/passive-unsupported", Fixture, &passive_unsupported, setup, test_passive_unsupported,
	            teardown);
#define ADDV(p, v, fn) g_test_add ("/ble/" p, Fixture, &v, setup, fn, teardown)
	ADDV ("link-up-unsignalled", link_up_unsignalled, test_link_up_unsignalled);
	ADDV ("adapter-limits-devices", other_adapter, test_adapter_limits_devices);
	ADDV ("advertiser-follows-link", unreachable, test_advertiser_follows_link);
	ADDV ("characteristics-after-resolve", resolves_early, test_characteristics_after_resolve);
	ADDV ("stranger-left-alone", stranger, test_stranger_left_alone);
	g_test_add ("/ble/read-is-one-sample", Fixture, NULL, setup, test_read_is_one_sample, teardown);
	g_test_add ("/ble/value-not-known", Fixture, NULL, setup, test_value_not_known, teardown);
	ADDV ("bthome-name-collision", collider, test_bthome_name_collision);
	ADDV ("bluez-stalled", stalled, test_bluez_stalled);
	ADDV ("bluez-change-during-start", held, test_bluez_change_during_start);
#undef ADDV
	g_test_add_func ("/ble/reconfigure", test_reconfigure);
	g_test_add ("/ble/sighup", Fixture, NULL, setup, test_sighup, teardown);
	return g_test_run ();
}
