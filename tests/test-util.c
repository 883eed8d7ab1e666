/* SPDX-License-Identifier: Apache-2.0 */
/* test-util.c — see test-util.h. */
#include "test-util.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>

static GPtrArray *log_lines;
G_LOCK_DEFINE_STATIC (log_lines);

static GLogWriterOutput
keep_and_write (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer data)
{
	G_LOCK (log_lines);
	for (gsize i = 0; i < n_fields; i++) {
		if (g_str_equal (fields[i].key, "MESSAGE"))
			g_ptr_array_add (log_lines, fields[i].length < 0 ? g_strdup (fields[i].value)
			                                                : g_strndup (fields[i].value, fields[i].length));
	}
	G_UNLOCK (log_lines);
	return g_log_writer_default (level, fields, n_fields, data);
}

void
tbg_test_log_capture (void)
{
	G_LOCK (log_lines);
	if (log_lines == NULL) {
		log_lines = g_ptr_array_new_with_free_func (g_free);
		g_log_set_writer_func (keep_and_write, NULL, NULL);
	}
	g_ptr_array_set_size (log_lines, 0);
	G_UNLOCK (log_lines);
}

guint
tbg_test_log_count (const char *pattern)
{
	guint n = 0;

	g_assert_nonnull (log_lines);
	G_LOCK (log_lines);
	for (guint i = 0; i < log_lines->len; i++)
		n += g_pattern_match_simple (pattern, g_ptr_array_index (log_lines, i));
	G_UNLOCK (log_lines);
	return n;
}

static void
die_with_test (gpointer data)
{
	prctl (PR_SET_PDEATHSIG, SIGTERM);
}

GSubprocessLauncher *
tbg_test_launcher_new (GSubprocessFlags flags)
{
	GSubprocessLauncher *l = g_subprocess_launcher_new (flags);

	g_subprocess_launcher_set_child_setup (l, die_with_test, NULL, NULL);
	return l;
}

void
tbg_test_stop_daemon (GSubprocess *daemon)
{
	if (g_subprocess_get_identifier (daemon) != NULL)
		g_subprocess_send_signal (daemon, SIGTERM);
	g_subprocess_wait (daemon, NULL, NULL);
	g_assert_true (g_subprocess_get_if_exited (daemon));
	g_assert_cmpint (g_subprocess_get_exit_status (daemon), ==, 0);
}

TbgGateway *
tbg_test_gateway_new (const char *conf_path, guint16 port, const char *groups,
                      const char * const *prefixes, const TbgSource * const *sources, GError **error)
{
	g_autofree char *text = g_strdup_printf ("[storage]\npath=memory\n[server]\nport=%u\n"
	                                         "[gateway]\nstats-interval-s=0\n%s", port, groups);
	TbgConfig *cfg;
	TbgGateway *gw;

	if (!g_file_set_contents (conf_path, text, -1, error))
		return NULL;
	cfg = tbg_config_load (conf_path, prefixes, error);
	if (cfg == NULL)
		return NULL;
	gw = tbg_gateway_new (cfg, sources, error);
	if (gw == NULL)
		return NULL;
	if (!tbg_gateway_start (gw, error)) {
		g_object_unref (gw);
		return NULL;
	}
	return gw;
}

gboolean
tbg_test_gateway_link_is_up (gpointer gateway)
{
	return tbg_gateway_get_link_up (gateway);
}

json_t *
tbg_test_expect_sample (TbgTestPeer *peer, const char *device, guint timeout_ms, gint64 *ts)
{
	g_autoptr (TbgTestMessage) m = tbg_test_peer_expect (peer, "v1/gateway/telemetry", timeout_ms);
	json_t *root = json_loads (m->payload, 0, NULL);
	json_t *sample = json_array_get (json_object_get (root, device), 0);
	json_t *values = json_incref (json_object_get (sample, "values"));

	if (values == NULL)
		g_error ("no sample of “%s” in %s", device, m->payload);
	if (ts != NULL)
		*ts = json_integer_value (json_object_get (sample, "ts"));
	json_decref (root);
	return values;
}

void
tbg_test_expect_sample_values (TbgTestPeer *peer, const char *device, const char *expected_json,
                               guint timeout_ms)
{
	json_t *v = tbg_test_expect_sample (peer, device, timeout_ms, NULL);

	tbg_assert_json_value_eq (v, expected_json);
	json_decref (v);
}

void
tbg_test_gateway_rpc (TbgTestPeer *peer, const char *device, int id, const char *method,
                      const char *params, const char *expected_data, guint timeout_ms)
{
	json_t *name = json_string (device);
	char *quoted = json_dumps (name, JSON_ENCODE_ANY);
	g_autofree char *req = g_strdup_printf ("{\"device\":%s,\"data\":{\"id\":%d,\"method\":\"%s\",\"params\":%s}}",
	                                        quoted, id, method, params);
	g_autofree char *resp = g_strdup_printf ("{\"device\":%s,\"id\":%d,\"data\":%s}", quoted, id, expected_data);

	free (quoted);
	json_decref (name);
	tbg_test_peer_publish (peer, "v1/gateway/rpc", req);
	tbg_test_peer_expect_json (peer, "v1/gateway/rpc", resp, timeout_ms);
}

/* ---- the real tbgwd on a private bus ---- */

#define TBGWD_NAME     "org.tbgw.Gateway1"
#define TBGWD_WAIT_MS  20000

GTestDBus *
tbg_test_bus_up (GDBusConnection **conn)
{
	GTestDBus *bus = g_test_dbus_new (G_TEST_DBUS_NONE);
	g_autoptr (GError) error = NULL;

	g_test_dbus_up (bus);
	*conn = g_dbus_connection_new_for_address_sync (g_test_dbus_get_bus_address (bus),
		G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT | G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
		NULL, NULL, &error);
	g_assert_no_error (error);
	return bus;
}

void
tbg_test_bus_sync (GDBusConnection *conn)
{
	g_autoptr (GError) error = NULL;
	g_autoptr (GVariant) id = g_dbus_connection_call_sync (conn, "org.freedesktop.DBus",
		"/org/freedesktop/DBus", "org.freedesktop.DBus", "GetId", NULL, G_VARIANT_TYPE ("(s)"),
		G_DBUS_CALL_FLAGS_NONE, TBGWD_WAIT_MS, NULL, &error);

	g_assert_no_error (error);
}

void
tbg_test_bus_down (GTestDBus *bus, GDBusConnection *conn)
{
	g_object_unref (conn);
	g_test_dbus_down (bus);
	g_object_unref (bus);
}

GVariant *
tbg_test_tbgwd_call (GDBusConnection *conn, const char *path, const char *iface, const char *method,
                     GVariant *args, GError **error)
{
	return g_dbus_connection_call_sync (conn, TBGWD_NAME, path, iface, method, args, NULL,
	                                    G_DBUS_CALL_FLAGS_NONE, TBGWD_WAIT_MS, NULL, error);
}

gboolean
tbg_test_tbgwd_name_owned (gpointer conn)
{
	g_autoptr (GVariant) r = g_dbus_connection_call_sync (conn, "org.freedesktop.DBus",
		"/org/freedesktop/DBus", "org.freedesktop.DBus", "NameHasOwner",
		g_variant_new ("(s)", TBGWD_NAME), G_VARIANT_TYPE ("(b)"), 0, -1, NULL, NULL);
	gboolean owned = FALSE;

	if (r != NULL)
		g_variant_get (r, "(b)", &owned);
	return owned;
}

gboolean
tbg_test_tbgwd_link_connected (gpointer conn)
{
	g_autoptr (GVariant) r = tbg_test_tbgwd_call (conn, "/org/tbgw/Gateway1", "org.freedesktop.DBus.Properties",
	                                              "Get", g_variant_new ("(ss)", "org.tbgw.Gateway1.Manager",
	                                                                    "Connected"), NULL);
	g_autoptr (GVariant) v = NULL;

	if (r == NULL)
		return FALSE;
	g_variant_get (r, "(v)", &v);
	return g_variant_get_boolean (v);
}

GSubprocess *
tbg_test_tbgwd_start (GDBusConnection *conn, TbgTestPeer *peer, const char *conf, const char *log_path)
{
	g_autoptr (GSubprocessLauncher) l = tbg_test_launcher_new (G_SUBPROCESS_FLAGS_NONE);
	g_autoptr (GError) error = NULL;
	GSubprocess *daemon;

	if (log_path != NULL)
		g_subprocess_launcher_set_stderr_file_path (l, log_path);
	daemon = g_subprocess_launcher_spawn (l, &error, g_getenv ("TBGWD") ? g_getenv ("TBGWD") : "src/tbgwd",
	                                      "--session", "--config", conf, NULL);
	g_assert_no_error (error);
	g_assert_true (tbg_test_wait_until (tbg_test_tbgwd_name_owned, conn, TBGWD_WAIT_MS));
	g_assert_true (tbg_test_wait_until (tbg_test_tbgwd_link_connected, conn, TBGWD_WAIT_MS));
	tbg_test_message_free (tbg_test_peer_expect (peer, "v1/devices/me/attributes", TBGWD_WAIT_MS));
	return daemon;
}
