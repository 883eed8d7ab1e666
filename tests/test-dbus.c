/* SPDX-License-Identifier: Apache-2.0 */
/* The D-Bus API end to end: a private bus (GTestDBus), the real tbgwd on
 * it (--session), a real mosquitto and a peer playing ThingsBoard. Every
 * call is checked on the bus and on the broker. */
#include "build-config.h"
#include "test-broker.h"
#include "test-peer.h"
#include "tbg-dbus.h"
#include "test-util.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#define WAIT_MS 20000
#define NAME "org.tbgw.Gateway1"
#define MANAGER "/org/tbgw/Gateway1"
#define IFACE_M "org.tbgw.Gateway1.Manager"
#define IFACE_D "org.tbgw.Gateway1.Device"

typedef struct {
	GTestDBus       *bus;
	GDBusConnection *conn;
	TbgTestBroker   *broker;
	TbgTestPeer     *peer;
	GSubprocess     *daemon;
	char            *conf;
} Fixture;

static GVariant *
call (Fixture *f, const char *path, const char *iface, const char *method, GVariant *args,
      GError **error)
{
	return tbg_test_tbgwd_call (f->conn, path, iface, method, args, error);
}

static void
call_ok (Fixture *f, const char *path, const char *iface, const char *method, GVariant *args)
{
	g_autoptr (GError) error = NULL;
	g_autoptr (GVariant) r = call (f, path, iface, method, args, &error);

	g_assert_no_error (error);
}

static void
call_fails (Fixture *f, const char *path, const char *iface, const char *method, GVariant *args,
            const char *dbus_error)
{
	g_autoptr (GError) error = NULL;
	g_autoptr (GVariant) r = call (f, path, iface, method, args, &error);
	g_autofree char *remote = NULL;

	g_assert_null (r);
	g_assert_nonnull (error);
	remote = g_dbus_error_get_remote_error (error);
	if (g_strcmp0 (remote, dbus_error) != 0)
		g_error ("%s: got %s (%s), expected %s", method, remote, error->message, dbus_error);
	/* and a message a person can read */
	g_assert_cmpuint (strlen (error->message), >, strlen (dbus_error) + 4);
}

static GVariant *
get_prop (Fixture *f, const char *path, const char *iface, const char *prop)
{
	g_autoptr (GError) error = NULL;
	GVariant *r = call (f, path, "org.freedesktop.DBus.Properties", "Get",
	                    g_variant_new ("(ss)", iface, prop), &error);
	GVariant *v;

	g_assert_no_error (error);
	g_variant_get (r, "(v)", &v);
	g_variant_unref (r);
	return v;
}

static void
setup (Fixture *f, gconstpointer data)
{
	g_autoptr (GError) error = NULL;
	g_autofree char *text = NULL;

	/* A test that fails while a child holds a pipe must not hang CI. */
	alarm (120);
	f->bus = tbg_test_bus_up (&f->conn);
	f->broker = tbg_test_broker_start ();
	f->peer = tbg_test_peer_new (tbg_test_broker_port (f->broker));
	f->conf = g_strdup_printf ("%s/tbgw-dbus-test-%d.conf", g_get_tmp_dir (), (int) getpid ());
	text = g_strdup_printf ("[storage]\npath=memory\n[server]\nport=%u\n[gateway]\n"
	                        "stats-interval-s=0\nrpc-timeout-ms=500\nattribute-request-timeout-ms=500\n",
	                        tbg_test_broker_port (f->broker));
	g_file_set_contents (f->conf, text, -1, NULL);
	f->daemon = tbg_test_tbgwd_start (f->conn, f->peer, f->conf, NULL);
}

static void
teardown (Fixture *f, gconstpointer data)
{
	tbg_test_stop_daemon (f->daemon);
	g_object_unref (f->daemon);
	tbg_test_bus_down (f->bus, f->conn);
	tbg_test_peer_free (f->peer);
	tbg_test_broker_free (f->broker);
	g_unlink (f->conf);
	g_free (f->conf);
}

static char *
create (Fixture *f, const char *name, const char *type)
{
	g_autoptr (GError) error = NULL;
	g_autoptr (GVariant) r = call (f, MANAGER, IFACE_M, "CreateDevice",
	                               g_variant_new ("(ss)", name, type), &error);
	char *path;

	g_assert_no_error (error);
	g_variant_get (r, "(o)", &path);
	return path;
}

static void
test_manager (Fixture *f, gconstpointer data)
{
	g_autoptr (GVariant) version = get_prop (f, MANAGER, IFACE_M, "Version");
	g_autoptr (GVariant) server = get_prop (f, MANAGER, IFACE_M, "Server");
	g_autoptr (GVariant) queued = get_prop (f, MANAGER, IFACE_M, "QueuedMessages");

	g_assert_cmpstr (g_variant_get_string (version, NULL), ==, PACKAGE_VERSION);
	g_assert_true (g_str_has_prefix (g_variant_get_string (server, NULL), "mqtt://127.0.0.1:"));
	g_assert_true (g_variant_is_of_type (queued, G_VARIANT_TYPE_UINT64));
	call_ok (f, MANAGER, IFACE_M, "Reconnect", NULL);
	g_assert_true (tbg_test_wait_until (tbg_test_tbgwd_link_connected, f->conn, WAIT_MS));
}

static void
test_device_life (Fixture *f, gconstpointer data)
{
	g_autofree char *path = create (f, "Thermo 1", "thermometer");
	g_autoptr (GVariant) objects = NULL;
	g_autoptr (GVariant) name = NULL, src = NULL, connected = NULL;
	g_autoptr (GError) error = NULL;

	tbg_test_peer_expect_json (f->peer, "v1/gateway/connect",
	                           "{\"device\":\"Thermo 1\",\"type\":\"thermometer\"}", WAIT_MS);
	name = get_prop (f, path, IFACE_D, "Name");
	src = get_prop (f, path, IFACE_D, "Source");
	connected = get_prop (f, path, IFACE_D, "Connected");
	g_assert_cmpstr (g_variant_get_string (name, NULL), ==, "Thermo 1");
	g_assert_cmpstr (g_variant_get_string (src, NULL), ==, "dbus");
	g_assert_true (g_variant_get_boolean (connected));
	/* The ObjectManager lists it. */
	objects = call (f, MANAGER, "org.freedesktop.DBus.ObjectManager", "GetManagedObjects", NULL, &error);
	g_assert_no_error (error);
	{
		g_autoptr (GVariant) dict = g_variant_get_child_value (objects, 0);
		g_autoptr (GVariant) entry = g_variant_lookup_value (dict, path, NULL);

		g_assert_nonnull (entry);
	}
	call_ok (f, path, IFACE_D, "Disconnect", NULL);
	tbg_test_peer_expect_json (f->peer, "v1/gateway/disconnect", "{\"device\":\"Thermo 1\"}", WAIT_MS);
	call_fails (f, path, IFACE_D, "PushTelemetry", g_variant_new_parsed ("({'t': <1>},)"),
	            "org.tbgw.Gateway1.Error.NotConnected");
	call_ok (f, path, IFACE_D, "Connect", NULL);
	tbg_test_message_free (tbg_test_peer_expect (f->peer, "v1/gateway/connect", WAIT_MS));
	call_ok (f, MANAGER, IFACE_M, "RemoveDevice", g_variant_new ("(o)", path));
	tbg_test_peer_expect_json (f->peer, "v1/gateway/disconnect", "{\"device\":\"Thermo 1\"}", WAIT_MS);
	call_fails (f, path, IFACE_D, "PushTelemetry", g_variant_new_parsed ("({'t': <1>},)"),
	            "org.freedesktop.DBus.Error.UnknownMethod");
}

static void
test_data (Fixture *f, gconstpointer data)
{
	g_autofree char *path = create (f, "Thermo 1", "");
	g_autoptr (GVariant) attrs = NULL;

	tbg_test_message_free (tbg_test_peer_expect (f->peer, "v1/gateway/connect", WAIT_MS));
	call_ok (f, path, IFACE_D, "PushTelemetryAt", g_variant_new_parsed (
		"(uint64 1700000000000, {'temperature': <21.5>, 'humidity': <int64 40>, 'ok': <true>,"
		" 'label': <'x'>, 'u8': <byte 7>, 'list': <[1, 2]>, 'nested': <{'a': <int32 1>}>})"));
	tbg_test_peer_expect_json (f->peer, "v1/gateway/telemetry",
		"{\"Thermo 1\":[{\"ts\":1700000000000,\"values\":{\"temperature\":21.5,\"humidity\":40,"
		"\"ok\":true,\"label\":\"x\",\"u8\":7,\"list\":[1,2],\"nested\":{\"a\":1}}}]}", WAIT_MS);
	call_ok (f, path, IFACE_D, "PushAttributes", g_variant_new_parsed ("({'fw': <'1.0'>, 'battery': <87>},)"));
	tbg_test_peer_expect_json (f->peer, "v1/gateway/attributes",
	                           "{\"Thermo 1\":{\"fw\":\"1.0\",\"battery\":87}}", WAIT_MS);
	attrs = get_prop (f, path, IFACE_D, "Attributes");
	{
		g_autoptr (GVariant) fw = g_variant_lookup_value (attrs, "fw", G_VARIANT_TYPE_STRING);

		g_assert_cmpstr (g_variant_get_string (fw, NULL), ==, "1.0");
	}
	call_ok (f, path, IFACE_D, "Claim", g_variant_new ("(st)", "secret", (guint64) 60000));
	tbg_test_peer_expect_json (f->peer, "v1/gateway/claim",
	                           "{\"Thermo 1\":{\"secretKey\":\"secret\",\"durationMs\":60000}}", WAIT_MS);
	call_ok (f, path, IFACE_D, "PushTelemetry", g_variant_new_parsed ("({'t': <1>},)"));
	{
		g_autoptr (TbgTestMessage) m = tbg_test_peer_expect (f->peer, "v1/gateway/telemetry", WAIT_MS);

		g_assert_nonnull (strstr (m->payload, "\"values\":{\"t\":1}"));
	}
}

static void
count_last_seen (GDBusConnection *conn, const char *sender, const char *path, const char *iface,
                 const char *signal, GVariant *params, gpointer data)
{
	g_autoptr (GVariant) changed = g_variant_get_child_value (params, 1);
	g_autoptr (GVariant) seen = g_variant_lookup_value (changed, "LastSeen", G_VARIANT_TYPE_UINT64);

	if (seen != NULL)
		(*(guint *) data)++;
}

/* LastSeen follows a busy device without a PropertiesChanged per sample,
 * and the newest value is on the bus within a second of the last sample. */
static void
test_last_seen (Fixture *f, gconstpointer data)
{
	g_autofree char *path = create (f, "Thermo 1", "");
	g_autoptr (GVariant) seen = NULL;
	guint changes = 0, sub;
	gint64 last_push_ms = 0, deadline;

	tbg_test_message_free (tbg_test_peer_expect (f->peer, "v1/gateway/connect", WAIT_MS));
	sub = g_dbus_connection_signal_subscribe (f->conn, NAME, "org.freedesktop.DBus.Properties",
	                                          "PropertiesChanged", path, IFACE_D,
	                                          G_DBUS_SIGNAL_FLAGS_NONE, count_last_seen, &changes, NULL);
	tbg_test_bus_sync (f->conn);
	for (guint i = 0; i < 100; i++) {
		last_push_ms = g_get_real_time () / 1000;
		call_ok (f, path, IFACE_D, "PushTelemetry", g_variant_new_parsed ("({'t': <%u>},)", i));
	}
	deadline = g_get_monotonic_time () + 1500 * 1000;
	while (g_get_monotonic_time () < deadline) {
		if (!g_main_context_iteration (NULL, FALSE))
			g_usleep (1000);
	}
	g_dbus_connection_signal_unsubscribe (f->conn, sub);
	seen = get_prop (f, path, IFACE_D, "LastSeen");
	g_assert_cmpuint (g_variant_get_uint64 (seen), >=, (guint64) last_push_ms);
	g_assert_cmpuint (changes, >=, 1);
	/* 100 samples, a few ms apart: the first, at most one a second after */
	g_assert_cmpuint (changes, <=, 3);
}

static void
request_done (GObject *obj, GAsyncResult *res, gpointer data)
{
	*(GVariant **) data = g_dbus_connection_call_finish (G_DBUS_CONNECTION (obj), res, NULL);
}

static gboolean
is_set (gpointer data)
{
	return *(GVariant **) data != NULL;
}

static void
test_request_attributes (Fixture *f, gconstpointer data)
{
	g_autofree char *path = create (f, "Thermo 1", "");
	GVariant *result = NULL;
	g_autoptr (TbgTestMessage) req = NULL;
	json_t *j;
	g_autofree char *answer = NULL;

	tbg_test_message_free (tbg_test_peer_expect (f->peer, "v1/gateway/connect", WAIT_MS));
	g_dbus_connection_call (f->conn, NAME, path, IFACE_D, "RequestAttributes",
	                        g_variant_new_parsed ("(@as [], ['mode'])"), NULL, 0, WAIT_MS, NULL,
	                        request_done, &result);
	req = tbg_test_peer_expect (f->peer, "v1/gateway/attributes/request", WAIT_MS);
	j = json_loads (req->payload, 0, NULL);
	answer = g_strdup_printf ("{\"id\":%" JSON_INTEGER_FORMAT ",\"device\":\"Thermo 1\",\"value\":\"auto\"}",
	                          json_integer_value (json_object_get (j, "id")));
	json_decref (j);
	tbg_test_peer_publish (f->peer, "v1/gateway/attributes/response", answer);
	g_assert_true (tbg_test_wait_until (is_set, &result, WAIT_MS));
	{
		g_autoptr (GVariant) shared = g_variant_get_child_value (result, 1);
		g_autoptr (GVariant) mode = g_variant_lookup_value (shared, "mode", G_VARIANT_TYPE_STRING);

		g_assert_cmpstr (g_variant_get_string (mode, NULL), ==, "auto");
	}
	g_variant_unref (result);
	/* No answer: Timeout. */
	call_fails (f, path, IFACE_D, "RequestAttributes", g_variant_new_parsed ("(['x'], @as [])"),
	            "org.tbgw.Gateway1.Error.Timeout");
}

static void
on_signal (GDBusConnection *c, const char *sender, const char *path, const char *iface,
           const char *signal, GVariant *params, gpointer data)
{
	GPtrArray *got = data;

	g_autofree char *text = g_variant_print (params, TRUE);

	g_ptr_array_add (got, g_strdup_printf ("%s %s", signal, text));
}

static gboolean
has_two (gpointer data)
{
	return ((GPtrArray *) data)->len >= 2;
}

static void
test_rpc_and_shared_signals (Fixture *f, gconstpointer data)
{
	g_autofree char *path = create (f, "Thermo 1", "");
	g_autoptr (GPtrArray) got = g_ptr_array_new_with_free_func (g_free);
	guint sub = g_dbus_connection_signal_subscribe (f->conn, NULL, IFACE_D, NULL, path, NULL,
	                                                G_DBUS_SIGNAL_FLAGS_NONE, on_signal, got, NULL);
	tbg_test_bus_sync (f->conn);

	tbg_test_message_free (tbg_test_peer_expect (f->peer, "v1/gateway/connect", WAIT_MS));
	tbg_test_peer_publish (f->peer, "v1/gateway/rpc",
		"{\"device\":\"Thermo 1\",\"data\":{\"id\":3,\"method\":\"setPoint\",\"params\":{\"t\":55}}}");
	tbg_test_peer_expect_json (f->peer, "v1/gateway/rpc",
		"{\"device\":\"Thermo 1\",\"id\":3,\"data\":{\"error\":\"no RPC handler registered\"}}", WAIT_MS);
	tbg_test_peer_publish (f->peer, "v1/gateway/attributes",
		"{\"device\":\"Thermo 1\",\"data\":{\"interval\":10}}");
	g_assert_true (tbg_test_wait_until (has_two, got, WAIT_MS));
	g_assert_cmpstr (got->pdata[0], ==, "RpcRequested (uint32 3, 'setPoint', '{\"t\":55}')");
	g_assert_cmpstr (got->pdata[1], ==, "SharedAttributesChanged ({'interval': <int64 10>}, @as [])");
	/* ... and the Attributes property follows. */
	{
		g_autoptr (GVariant) attrs = get_prop (f, path, IFACE_D, "Attributes");
		g_autoptr (GVariant) v = g_variant_lookup_value (attrs, "interval", G_VARIANT_TYPE_INT64);

		g_assert_nonnull (v);
		g_assert_cmpint (g_variant_get_int64 (v), ==, 10);
	}
	g_dbus_connection_signal_unsubscribe (f->conn, sub);
}

/* ---- RPC handlers: a second client plays the handler ------------------------------ */

typedef enum { ANSWER, FAIL, NEVER, VANISH } HandlerMode;

typedef struct {
	GDBusConnection       *conn;
	HandlerMode            mode;
	guint                  reg_id;
	guint                  calls;
	char                  *last_params;
	GDBusMethodInvocation *held;   /* NEVER: kept unanswered */
} Handler;

static void
handler_call (GDBusConnection *c, const char *sender, const char *path, const char *iface,
              const char *method, GVariant *params, GDBusMethodInvocation *inv, gpointer data)
{
	Handler *h = data;
	guint32 id;
	const char *rpc_method, *json;

	g_variant_get (params, "(u&s&s)", &id, &rpc_method, &json);
	h->calls++;
	g_free (h->last_params);
	h->last_params = g_strdup_printf ("%u %s %s", id, rpc_method, json);
	switch (h->mode) {
	case ANSWER:
		g_dbus_method_invocation_return_value (inv, g_variant_new ("(s)", "{\"t\":55,\"ok\":true}"));
		break;
	case FAIL:
		g_dbus_method_invocation_return_dbus_error (inv, "com.example.Error.Busy", "valve is busy");
		break;
	case NEVER:
		h->held = g_object_ref (inv);
		break;
	case VANISH:
		h->held = g_object_ref (inv);
		g_dbus_connection_close_sync (h->conn, NULL, NULL);
		break;
	}
}

static const GDBusInterfaceVTable handler_vtable = { handler_call, NULL, NULL, { 0 } };

static Handler *
handler_new (Fixture *f, HandlerMode mode)
{
	Handler *h = g_new0 (Handler, 1);
	g_autoptr (GError) error = NULL;

	h->mode = mode;
	h->conn = g_dbus_connection_new_for_address_sync (g_test_dbus_get_bus_address (f->bus),
		G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT | G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
		NULL, NULL, &error);
	g_assert_no_error (error);
	g_dbus_connection_set_exit_on_close (h->conn, FALSE);
	h->reg_id = g_dbus_connection_register_object (h->conn, "/com/example/Handler",
		tbg_dbus_rpc_handler_interface_info (), &handler_vtable, h, NULL, &error);
	g_assert_no_error (error);
	return h;
}

static void
handler_free (Handler *h)
{
	g_dbus_connection_unregister_object (h->conn, h->reg_id);
	g_clear_object (&h->held);
	g_object_unref (h->conn);
	g_free (h->last_params);
	g_free (h);
}

static void
handler_call_ok (Handler *h, const char *path, const char *method)
{
	g_autoptr (GError) error = NULL;
	g_autoptr (GVariant) r = g_dbus_connection_call_sync (h->conn, NAME, path, IFACE_D, method,
		g_variant_new ("(o)", "/com/example/Handler"), NULL, 0, WAIT_MS, NULL, &error);

	g_assert_no_error (error);
}

static void
send_rpc (Fixture *f, int id)
{
	g_autofree char *m = g_strdup_printf ("{\"device\":\"Thermo 1\",\"data\":{\"id\":%d,"
	                                      "\"method\":\"setPoint\",\"params\":{\"t\":55}}}", id);

	tbg_test_peer_publish (f->peer, "v1/gateway/rpc", m);
}

static void
test_rpc_handler (Fixture *f, gconstpointer data)
{
	g_autofree char *path = create (f, "Thermo 1", "");
	Handler *h = handler_new (f, ANSWER);
	Handler *other = handler_new (f, ANSWER);
	g_autoptr (GError) error = NULL;
	char *remote;
	g_autoptr (GVariant) r = NULL;

	tbg_test_message_free (tbg_test_peer_expect (f->peer, "v1/gateway/connect", WAIT_MS));
	handler_call_ok (h, path, "RegisterRpcHandler");
	send_rpc (f, 3);
	tbg_test_peer_expect_json (f->peer, "v1/gateway/rpc",
		"{\"device\":\"Thermo 1\",\"id\":3,\"data\":{\"t\":55,\"ok\":true}}", WAIT_MS);
	g_assert_cmpstr (h->last_params, ==, "3 setPoint {\"t\":55}");
	/* A D-Bus error from the handler is the RPC's error. */
	h->mode = FAIL;
	send_rpc (f, 4);
	tbg_test_peer_expect_json (f->peer, "v1/gateway/rpc",
		"{\"device\":\"Thermo 1\",\"id\":4,\"data\":{\"error\":\"valve is busy\"}}", WAIT_MS);
	/* One handler per device; only its owner removes it. */
	r = g_dbus_connection_call_sync (other->conn, NAME, path, IFACE_D, "RegisterRpcHandler",
		g_variant_new ("(o)", "/com/example/Handler"), NULL, 0, WAIT_MS, NULL, &error);
	g_assert_null (r);
	remote = g_dbus_error_get_remote_error (error);
	g_assert_cmpstr (remote, ==, "org.tbgw.Gateway1.Error.AlreadyExists");
	g_clear_pointer (&remote, g_free);
	g_clear_error (&error);
	r = g_dbus_connection_call_sync (other->conn, NAME, path, IFACE_D, "UnregisterRpcHandler",
		g_variant_new ("(o)", "/com/example/Handler"), NULL, 0, WAIT_MS, NULL, &error);
	g_assert_null (r);
	remote = g_dbus_error_get_remote_error (error);
	g_assert_cmpstr (remote, ==, "org.tbgw.Gateway1.Error.PermissionDenied");
	g_clear_pointer (&remote, g_free);
	g_clear_error (&error);
	call_fails (f, path, IFACE_D, "UnregisterRpcHandler", g_variant_new ("(o)", "/elsewhere"),
	            "org.tbgw.Gateway1.Error.NotFound");
	handler_call_ok (h, path, "UnregisterRpcHandler");
	send_rpc (f, 5);
	tbg_test_peer_expect_json (f->peer, "v1/gateway/rpc",
		"{\"device\":\"Thermo 1\",\"id\":5,\"data\":{\"error\":\"no RPC handler registered\"}}", WAIT_MS);
	g_assert_cmpuint (h->calls, ==, 2);
	g_assert_cmpuint (other->calls, ==, 0);
	handler_free (h);
	handler_free (other);
}

static void
test_rpc_handler_silent (Fixture *f, gconstpointer data)
{
	g_autofree char *path = create (f, "Thermo 1", "");
	Handler *h = handler_new (f, NEVER);
	gint64 start;

	tbg_test_message_free (tbg_test_peer_expect (f->peer, "v1/gateway/connect", WAIT_MS));
	handler_call_ok (h, path, "RegisterRpcHandler");
	start = g_get_monotonic_time ();
	send_rpc (f, 7);
	/* rpc-timeout-ms=500 in the test config */
	tbg_test_peer_expect_json (f->peer, "v1/gateway/rpc",
		"{\"device\":\"Thermo 1\",\"id\":7,\"data\":{\"error\":\"timeout\"}}", WAIT_MS);
	g_assert_cmpint (g_get_monotonic_time () - start, >=, 450 * 1000);
	g_assert_nonnull (h->held);
	/* A late answer is not sent twice. */
	g_dbus_method_invocation_return_value (g_steal_pointer (&h->held), g_variant_new ("(s)", "{}"));
	tbg_test_peer_assert_quiet (f->peer, "v1/gateway/rpc", 300);
	handler_free (h);
}

static void
test_rpc_handler_vanishes (Fixture *f, gconstpointer data)
{
	g_autofree char *path = create (f, "Thermo 1", "");
	Handler *h = handler_new (f, VANISH);
	g_autoptr (TbgTestMessage) m = NULL;
	json_t *j;

	tbg_test_message_free (tbg_test_peer_expect (f->peer, "v1/gateway/connect", WAIT_MS));
	handler_call_ok (h, path, "RegisterRpcHandler");
	send_rpc (f, 8);
	/* The bus tells tbgwd at once that no reply will come: an error, not a timeout. */
	m = tbg_test_peer_expect (f->peer, "v1/gateway/rpc", WAIT_MS);
	j = json_loads (m->payload, 0, NULL);
	g_assert_nonnull (j);
	g_assert_cmpint (json_integer_value (json_object_get (j, "id")), ==, 8);
	g_assert_nonnull (json_string_value (json_object_get (json_object_get (j, "data"), "error")));
	g_assert_cmpstr (json_string_value (json_object_get (json_object_get (j, "data"), "error")), !=, "timeout");
	json_decref (j);
	/* ... and the handler is gone with its client. */
	send_rpc (f, 9);
	tbg_test_peer_expect_json (f->peer, "v1/gateway/rpc",
		"{\"device\":\"Thermo 1\",\"id\":9,\"data\":{\"error\":\"no RPC handler registered\"}}", WAIT_MS);
	handler_free (h);
}

static void
test_bad_calls (Fixture *f, gconstpointer data)
{
	g_autofree char *path = create (f, "Thermo 1", "");

	call_fails (f, MANAGER, IFACE_M, "CreateDevice", g_variant_new ("(ss)", "", ""),
	            "org.tbgw.Gateway1.Error.InvalidArgs");
	call_fails (f, MANAGER, IFACE_M, "CreateDevice", g_variant_new ("(ss)", "Thermo 1", ""),
	            "org.tbgw.Gateway1.Error.AlreadyExists");
	call_fails (f, MANAGER, IFACE_M, "CreateDevice", g_variant_new ("(s)", "x"),
	            "org.freedesktop.DBus.Error.InvalidArgs");
	call_fails (f, MANAGER, IFACE_M, "RemoveDevice", g_variant_new ("(o)", "/org/tbgw/Gateway1/Device/999"),
	            "org.tbgw.Gateway1.Error.NotFound");
	call_fails (f, path, IFACE_D, "PushTelemetry", g_variant_new_parsed ("(@a{sv} {},)"),
	            "org.tbgw.Gateway1.Error.InvalidArgs");
	call_fails (f, path, IFACE_D, "PushTelemetry", g_variant_new_parsed ("({'fd': <handle 0>},)"),
	            "org.tbgw.Gateway1.Error.InvalidArgs");
	call_fails (f, path, IFACE_D, "PushTelemetry", g_variant_new_parsed ("({'p': <objectpath '/x'>},)"),
	            "org.tbgw.Gateway1.Error.InvalidArgs");
	call_fails (f, path, IFACE_D, "PushTelemetryAt", g_variant_new_parsed ("(uint64 0, {'t': <1>})"),
	            "org.tbgw.Gateway1.Error.InvalidArgs");
	call_fails (f, path, IFACE_D, "PushAttributes", g_variant_new_parsed ("({'nan': <nan>},)"),
	            "org.tbgw.Gateway1.Error.InvalidArgs");
	call_fails (f, path, IFACE_D, "RequestAttributes", g_variant_new_parsed ("(@as [], @as [])"),
	            "org.tbgw.Gateway1.Error.InvalidArgs");
	call_fails (f, path, IFACE_D, "PushTelemetry", g_variant_new ("(s)", "x"),
	            "org.freedesktop.DBus.Error.InvalidArgs");
	/* Still serving. */
	call_ok (f, path, IFACE_D, "PushTelemetry", g_variant_new_parsed ("({'t': <1>},)"));
}

/* @n values {"<prefix>i": 1234567}. */
static GVariant *
many_values (guint n, const char *prefix)
{
	GVariantBuilder b;

	g_variant_builder_init (&b, G_VARIANT_TYPE ("a{sv}"));
	for (guint i = 0; i < n; i++) {
		g_autofree char *key = g_strdup_printf ("%s%u", prefix, i);

		g_variant_builder_add (&b, "{sv}", key, g_variant_new_int32 (1234567));
	}
	return g_variant_new ("(@a{sv})", g_variant_builder_end (&b));
}

/* What can never fit in one publish is refused at the call, not accepted
 * and dropped later: one value too big, too many keys, a name ThingsBoard
 * would not take. */
static void
test_too_big (Fixture *f, gconstpointer data)
{
	g_autofree char *path = create (f, "Thermo 1", "");
	g_autofree char *big = g_strnfill (70 * 1024, 'x');
	g_autofree char *long_name = g_strnfill (64 * 1024, 'n');
	g_autofree char *name_255 = g_strnfill (255, 'n');
	g_autofree char *path_255 = NULL;

	call_fails (f, path, IFACE_D, "PushTelemetry",
	            g_variant_new_parsed ("({'blob': <%s>},)", big), "org.tbgw.Gateway1.Error.InvalidArgs");
	call_fails (f, path, IFACE_D, "PushAttributes",
	            g_variant_new_parsed ("({'blob': <%s>},)", big), "org.tbgw.Gateway1.Error.InvalidArgs");
	call_fails (f, path, IFACE_D, "PushTelemetry", many_values (5000, "temperature_"),
	            "org.tbgw.Gateway1.Error.InvalidArgs");
	call_fails (f, path, IFACE_D, "PushTelemetry", many_values (20000, ""),
	            "org.tbgw.Gateway1.Error.InvalidArgs");
	call_fails (f, MANAGER, IFACE_M, "CreateDevice", g_variant_new ("(ss)", long_name, ""),
	            "org.tbgw.Gateway1.Error.InvalidArgs");
	path_255 = create (f, name_255, "");
	/* What fits still goes, and nothing of the refused calls did. */
	call_ok (f, path, IFACE_D, "PushTelemetry", many_values (100, ""));
	{
		g_autoptr (TbgTestMessage) m = tbg_test_peer_expect (f->peer, "v1/gateway/telemetry", WAIT_MS);

		g_assert_null (strstr (m->payload, "blob"));
		g_assert_nonnull (strstr (m->payload, "\"99\":1234567"));
	}
}

int
main (int argc, char **argv)
{
	g_test_init (&argc, &argv, NULL);
#define ADD(p, fn) g_test_add ("/dbus/" p, Fixture, NULL, setup, fn, teardown)
	ADD ("manager", test_manager);
	ADD ("device-life", test_device_life);
	ADD ("data", test_data);
	ADD ("last-seen", test_last_seen);
	ADD ("request-attributes", test_request_attributes);
	ADD ("rpc-and-shared-signals", test_rpc_and_shared_signals);
	ADD ("rpc-handler", test_rpc_handler);
	ADD ("rpc-handler-silent", test_rpc_handler_silent);
	ADD ("rpc-handler-vanishes", test_rpc_handler_vanishes);
	ADD ("bad-calls", test_bad_calls);
	ADD ("too-big", test_too_big);
#undef ADD
	return g_test_run ();
}
