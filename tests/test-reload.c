/* SPDX-License-Identifier: Apache-2.0 */
/* Reloads of the real tbgwd: a private bus (GTestDBus), a real mosquitto
 * with a peer playing ThingsBoard, a pseudo-terminal playing a serial
 * sensor and a D-Bus client with a virtual device and an RPC handler.
 * A reload changes what the file changed and nothing else; a refused
 * file changes nothing; the bus name is never released. */
#include "build-config.h"
#include "test-broker.h"
#include "test-peer.h"
#include "tbg-dbus.h"
#include "test-util.h"

#include <errno.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <glib-unix.h>
#include <pty.h>
#include <signal.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#define WAIT_MS 20000
#define NAME "org.tbgw.Gateway1"
#define MANAGER "/org/tbgw/Gateway1"
#define IFACE_M "org.tbgw.Gateway1.Manager"
#define IFACE_D "org.tbgw.Gateway1.Device"
#define HANDLER_PATH "/com/example/Handler"

typedef struct {
	GTestDBus       *bus;
	GDBusConnection *conn;
	TbgTestBroker   *broker;
	TbgTestPeer     *peer;
	GSubprocess     *daemon;
	char            *dir;
	char            *conf;
	char            *log;
	int              master;      /* the sensor's side of the pty */
	char            *slave;
	guint            name_changes;
	guint            name_sub;
	guint            handler_reg;
	guint            handler_calls;
} Fixture;

/* ---- the sensor --------------------------------------------------------------- */

static void
pty_open (Fixture *f)
{
	char name[128];
	int slave;
	struct termios tio;

	g_assert_cmpint (openpty (&f->master, &slave, name, NULL, NULL), ==, 0);
	g_assert_cmpint (tcgetattr (slave, &tio), ==, 0);
	cfmakeraw (&tio);
	g_assert_cmpint (tcsetattr (slave, TCSANOW, &tio), ==, 0);
	close (slave);
	f->slave = g_strdup (name);
}

static void
pty_print (Fixture *f, const char *text)
{
	gsize len = strlen (text);

	g_assert_cmpint (write (f->master, text, len), ==, (ssize_t) len);
}

/* ---- the daemon ---------------------------------------------------------------- */

static void
write_config (Fixture *f, const char *serial_extra)
{
	g_autofree char *text = g_strdup_printf (
		"[storage]\npath=memory\n"
		"[server]\nport=%u\n"
		"[gateway]\nstats-interval-s=0\nrpc-timeout-ms=3000\n"
		"[serial:Sensor]\nport=%s\ntype=Thermometer\n%s",
		tbg_test_broker_port (f->broker), f->slave, serial_extra);

	g_assert_true (g_file_set_contents (f->conf, text, -1, NULL));
}

static char *
daemon_log (Fixture *f)
{
	char *text = NULL;

	g_file_get_contents (f->log, &text, NULL, NULL);
	return text ? text : g_strdup ("");
}

typedef struct {
	Fixture    *f;
	const char *needle;
	guint       count;
} LogWait;

static guint
count_in (const char *text, const char *needle)
{
	guint n = 0;

	for (const char *p = strstr (text, needle); p != NULL; p = strstr (p + 1, needle))
		n++;
	return n;
}

static gboolean
log_has (gpointer data)
{
	LogWait *w = data;
	g_autofree char *text = daemon_log (w->f);

	return count_in (text, w->needle) >= w->count;
}

/* Waits until the daemon has logged @needle @count times in all. */
static void
expect_log (Fixture *f, const char *needle, guint count)
{
	LogWait w = { f, needle, count };

	if (!tbg_test_wait_until (log_has, &w, WAIT_MS)) {
		g_autofree char *text = daemon_log (f);

		g_error ("tbgwd log lacks “%s” ×%u:\n%s", needle, count, text);
	}
}

static char *
name_owner (Fixture *f)
{
	g_autoptr (GError) error = NULL;
	g_autoptr (GVariant) r = g_dbus_connection_call_sync (f->conn, "org.freedesktop.DBus",
		"/org/freedesktop/DBus", "org.freedesktop.DBus", "GetNameOwner",
		g_variant_new ("(s)", NAME), G_VARIANT_TYPE ("(s)"), 0, -1, NULL, &error);
	char *owner;

	g_assert_no_error (error);
	g_variant_get (r, "(s)", &owner);
	return owner;
}

static void
on_name_owner_changed (GDBusConnection *c, const char *sender, const char *path, const char *iface,
                       const char *signal, GVariant *params, gpointer data)
{
	Fixture *f = data;

	f->name_changes++;
}

/* ---- the D-Bus client ---------------------------------------------------------- */

static void
handler_call (GDBusConnection *c, const char *sender, const char *path, const char *iface,
              const char *method, GVariant *params, GDBusMethodInvocation *inv, gpointer data)
{
	Fixture *f = data;

	f->handler_calls++;
	g_dbus_method_invocation_return_value (inv, g_variant_new ("(s)", "{\"open\":true}"));
}

static const GDBusInterfaceVTable handler_vtable = { handler_call, NULL, NULL, { 0 } };

static GVariant *
call (Fixture *f, const char *path, const char *iface, const char *method, GVariant *args,
      GError **error)
{
	return tbg_test_tbgwd_call (f->conn, path, iface, method, args, error);
}

/* A client's device "Valve" whose RPCs this test answers. */
static void
create_client_device (Fixture *f)
{
	g_autoptr (GError) error = NULL;
	g_autoptr (GVariant) r = NULL, r2 = NULL;
	const char *path;

	f->handler_reg = g_dbus_connection_register_object (f->conn, HANDLER_PATH, tbg_dbus_rpc_handler_interface_info (),
	                                                    &handler_vtable, f, NULL, &error);
	g_assert_no_error (error);
	r = call (f, MANAGER, IFACE_M, "CreateDevice", g_variant_new ("(ss)", "Valve", "valve"), &error);
	g_assert_no_error (error);
	g_variant_get (r, "(&o)", &path);
	r2 = call (f, path, IFACE_D, "RegisterRpcHandler", g_variant_new ("(o)", HANDLER_PATH), &error);
	g_assert_no_error (error);
	tbg_test_peer_expect_json (f->peer, "v1/gateway/connect",
	                           "{\"device\":\"Valve\",\"type\":\"valve\"}", WAIT_MS);
}

static void
valve_rpc (Fixture *f, int id)
{
	g_autofree char *expected = g_strdup_printf ("{\"device\":\"Valve\",\"id\":%d,\"data\":{\"open\":true}}", id);
	g_autofree char *request = g_strdup_printf ("{\"device\":\"Valve\",\"data\":{\"id\":%d,"
	                                            "\"method\":\"open\",\"params\":{}}}", id);

	tbg_test_peer_publish (f->peer, "v1/gateway/rpc", request);
	tbg_test_peer_expect_json (f->peer, "v1/gateway/rpc", expected, WAIT_MS);
}

/* ---- fixture -------------------------------------------------------------------- */

static void
setup (Fixture *f, gconstpointer data)
{
	g_autoptr (GError) error = NULL;

	alarm (300);
	f->bus = tbg_test_bus_up (&f->conn);
	f->broker = tbg_test_broker_start ();
	f->peer = tbg_test_peer_new (tbg_test_broker_port (f->broker));
	f->dir = g_dir_make_tmp ("tbgw-reload-XXXXXX", &error);
	g_assert_no_error (error);
	f->conf = g_build_filename (f->dir, "tbgw.conf", NULL);
	f->log = g_build_filename (f->dir, "stderr.log", NULL);
	pty_open (f);
	write_config (f, "baud=9600\n");
	f->daemon = tbg_test_tbgwd_start (f->conn, f->peer, f->conf, f->log);
	tbg_test_peer_expect_json (f->peer, "v1/gateway/connect",
	                           "{\"device\":\"Sensor\",\"type\":\"Thermometer\"}", WAIT_MS);
	/* From now on the name must never change hands. */
	f->name_sub = g_dbus_connection_signal_subscribe (f->conn, "org.freedesktop.DBus",
		"org.freedesktop.DBus", "NameOwnerChanged", "/org/freedesktop/DBus", NAME,
		G_DBUS_SIGNAL_FLAGS_NONE, on_name_owner_changed, f, NULL);
	tbg_test_bus_sync (f->conn);
}

static void
teardown (Fixture *f, gconstpointer data)
{
	tbg_test_stop_daemon (f->daemon);
	g_object_unref (f->daemon);
	if (f->handler_reg != 0)
		g_dbus_connection_unregister_object (f->conn, f->handler_reg);
	g_dbus_connection_signal_unsubscribe (f->conn, f->name_sub);
	tbg_test_bus_down (f->bus, f->conn);
	tbg_test_peer_free (f->peer);
	tbg_test_broker_free (f->broker);
	close (f->master);
	g_unlink (f->conf);
	g_unlink (f->log);
	g_rmdir (f->dir);
	g_free (f->slave);
	g_free (f->conf);
	g_free (f->log);
	g_free (f->dir);
}

static void
reload_ok (Fixture *f)
{
	g_autoptr (GError) error = NULL;
	g_autoptr (GVariant) r = call (f, MANAGER, IFACE_M, "Reload", NULL, &error);

	g_assert_no_error (error);
}

/* Nothing on @topic reached the broker before the last message the test
 * waited for (the gateway publishes in order). */
static void
assert_none_queued (Fixture *f, const char *topic)
{
	g_autoptr (TbgTestMessage) m = tbg_test_peer_wait (f->peer, topic, 0);

	if (m != NULL)
		g_error ("unexpected %s %s", m->topic, m->payload);
}

/* ---- tests ------------------------------------------------------------------------ */

static void
test_unchanged (Fixture *f, gconstpointer data)
{
	g_autofree char *owner = name_owner (f);
	g_autofree char *owner_after = NULL;

	create_client_device (f);
	pty_print (f, "{\"t\":1}\n");
	tbg_test_expect_sample_values (f->peer, "Sensor", "{\"t\":1}", WAIT_MS);
	valve_rpc (f, 1);

	/* Half a line before the reloads, the rest after: a port opened
	 * again would have lost the first half. */
	pty_print (f, "{\"t\":");
	kill (atoi (g_subprocess_get_identifier (f->daemon)), SIGHUP);
	expect_log (f, "Configuration reloaded", 1);
	reload_ok (f);
	expect_log (f, "Configuration reloaded", 2);
	pty_print (f, "2}\n");
	tbg_test_expect_sample_values (f->peer, "Sensor", "{\"t\":2}", WAIT_MS);
	/* The client's device and its handler survived. */
	valve_rpc (f, 2);
	g_assert_cmpuint (f->handler_calls, ==, 2);

	assert_none_queued (f, "v1/gateway/disconnect");
	assert_none_queued (f, "v1/gateway/connect");
	owner_after = name_owner (f);
	g_assert_cmpstr (owner, ==, owner_after);
	g_assert_cmpuint (f->name_changes, ==, 0);
	{
		g_autofree char *log = daemon_log (f);

		g_assert_null (strstr (log, "closed"));
		g_assert_null (strstr (log, "reconnecting"));
	}
}

static void
test_refused (Fixture *f, gconstpointer data)
{
	g_autoptr (GError) error = NULL;
	g_autoptr (GVariant) r = NULL;
	g_autofree char *remote = NULL;
	g_autofree char *where = NULL;
	g_autofree char *ctl_err = NULL;
	const char *ctl = g_getenv ("TBGWCTL") ? g_getenv ("TBGWCTL") : "cli/tbgwctl";
	int status = 0;

	create_client_device (f);
	/* baud= is on line 11 of the file. */
	write_config (f, "baud=abc\n");
	r = call (f, MANAGER, IFACE_M, "Reload", NULL, &error);
	g_assert_null (r);
	remote = g_dbus_error_get_remote_error (error);
	g_assert_cmpstr (remote, ==, "org.tbgw.Gateway1.Error.InvalidArgs");
	where = g_strdup_printf ("%s:11", f->conf);
	g_test_message ("%s", error->message);
	g_assert_nonnull (strstr (error->message, where));
	g_assert_nonnull (strstr (error->message, "baud"));
	expect_log (f, "Configuration not reloaded", 1);
	/* The same through SIGHUP and tbgwctl. */
	kill (atoi (g_subprocess_get_identifier (f->daemon)), SIGHUP);
	expect_log (f, "Configuration not reloaded", 2);
	g_assert_true (g_spawn_sync (NULL, (char *[]) { (char *) ctl, (char *) "--session",
	                             (char *) "reload", NULL }, NULL, G_SPAWN_STDOUT_TO_DEV_NULL,
	                             NULL, NULL, NULL, &ctl_err, &status, NULL));
	g_assert_true (g_spawn_check_wait_status (status, NULL) == FALSE);
	g_assert_nonnull (strstr (ctl_err, where));
	/* Everything still runs as before. */
	pty_print (f, "{\"t\":3}\n");
	tbg_test_expect_sample_values (f->peer, "Sensor", "{\"t\":3}", WAIT_MS);
	valve_rpc (f, 3);
	assert_none_queued (f, "v1/gateway/disconnect");

	/* A changed group is re-created (same pty, new speed); the client's
	 * device stays. */
	write_config (f, "baud=19200\n");
	reload_ok (f);
	tbg_test_peer_expect_json (f->peer, "v1/gateway/disconnect", "{\"device\":\"Sensor\"}", WAIT_MS);
	tbg_test_peer_expect_json (f->peer, "v1/gateway/connect",
	                           "{\"device\":\"Sensor\",\"type\":\"Thermometer\"}", WAIT_MS);
	pty_print (f, "{\"t\":4}\n");
	tbg_test_expect_sample_values (f->peer, "Sensor", "{\"t\":4}", WAIT_MS);
	valve_rpc (f, 4);
	assert_none_queued (f, "v1/gateway/disconnect");
	g_assert_cmpuint (f->name_changes, ==, 0);
}

int
main (int argc, char **argv)
{
	g_test_init (&argc, &argv, NULL);
	g_test_add ("/reload/unchanged", Fixture, NULL, setup, test_unchanged, teardown);
	g_test_add ("/reload/refused-then-changed", Fixture, NULL, setup, test_refused, teardown);
	return g_test_run ();
}
