/* SPDX-License-Identifier: Apache-2.0 */
/* The system bus policy (dbus/org.tbgw.Gateway1.conf) loaded by a real
 * dbus-daemon configured like Debian's system bus: the file must load, root
 * must be able to own the name, and (when the test runs as root, as CI does)
 * an unprivileged user may read but not change anything. */
#include "build-config.h"
#include "test-broker.h"
#include "test-peer.h"
#include "test-util.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <grp.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#define WAIT_MS 20000
#define NAME "org.tbgw.Gateway1"
#define NOBODY 65534

/* The default context of /usr/share/dbus-1/system.conf (dbus 1.14), and our file. */
static const char bus_conf[] =
	"<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
	" \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
	"<busconfig>\n"
	"  <type>system</type>\n"
	"  <listen>unix:path=%s/bus</listen>\n"
	"  <auth>EXTERNAL</auth>\n"
	"  <policy context=\"default\">\n"
	"    <allow user=\"*\"/>\n"
	"    <deny own=\"*\"/>\n"
	"    <deny send_type=\"method_call\"/>\n"
	"    <allow send_type=\"signal\"/>\n"
	"    <allow send_requested_reply=\"true\" send_type=\"method_return\"/>\n"
	"    <allow send_requested_reply=\"true\" send_type=\"error\"/>\n"
	"    <allow receive_type=\"method_call\"/>\n"
	"    <allow receive_type=\"method_return\"/>\n"
	"    <allow receive_type=\"error\"/>\n"
	"    <allow receive_type=\"signal\"/>\n"
	"    <allow send_destination=\"org.freedesktop.DBus\" send_interface=\"org.freedesktop.DBus\"/>\n"
	"    <allow send_destination=\"org.freedesktop.DBus\" send_interface=\"org.freedesktop.DBus.Introspectable\"/>\n"
	"    <allow send_destination=\"org.freedesktop.DBus\" send_interface=\"org.freedesktop.DBus.Properties\"/>\n"
	"  </policy>\n"
	"  <include>%s</include>\n"
	"</busconfig>\n";

typedef struct {
	char          *dir;
	char          *address;
	GSubprocess   *bus;
	TbgTestBroker *broker;
	GSubprocess   *daemon;
} Fixture;

static char *
policy_path (void)
{
	return g_build_filename (g_getenv ("TBG_TEST_SRCDIR") ? g_getenv ("TBG_TEST_SRCDIR") : "tests",
	                         "..", "dbus", "org.tbgw.Gateway1.conf", NULL);
}

static void
start_bus (Fixture *f)
{
	g_autoptr (GError) error = NULL;
	g_autofree char *policy = policy_path ();
	g_autofree char *conf_path = NULL, *text = NULL, *line = NULL;
	g_autoptr (GDataInputStream) out = NULL;

	f->dir = g_dir_make_tmp ("tbgw-policy-XXXXXX", &error);
	g_assert_no_error (error);
	/* the unprivileged client must reach the socket */
	g_chmod (f->dir, 0755);
	g_assert_true (g_file_test (policy, G_FILE_TEST_EXISTS));
	conf_path = g_build_filename (f->dir, "system.conf", NULL);
	text = g_strdup_printf (bus_conf, f->dir, policy);
	g_assert_true (g_file_set_contents (conf_path, text, -1, NULL));
	f->bus = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error, "dbus-daemon", "--nofork",
	                           "--print-address=1", "--config-file", conf_path, NULL);
	g_assert_no_error (error);
	out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (f->bus));
	line = g_data_input_stream_read_line_utf8 (out, NULL, NULL, &error);
	g_assert_no_error (error);
	/* A policy file dbus-daemon cannot parse stops it here: no address. */
	if (line == NULL)
		g_error ("dbus-daemon did not start with %s", policy);
	f->address = g_strdup (line);
}

static void
setup (Fixture *f, gconstpointer data)
{
	/* A test that fails while a child holds a pipe must not hang CI. */
	alarm (120);
	start_bus (f);
}

static void
teardown (Fixture *f, gconstpointer data)
{
	if (f->daemon != NULL) {
		g_subprocess_send_signal (f->daemon, SIGTERM);
		g_subprocess_wait (f->daemon, NULL, NULL);
		g_object_unref (f->daemon);
	}
	if (f->broker != NULL)
		tbg_test_broker_free (f->broker);
	g_subprocess_send_signal (f->bus, SIGTERM);
	g_subprocess_wait (f->bus, NULL, NULL);
	g_object_unref (f->bus);
	{
		g_autofree char *conf = g_build_filename (f->dir, "system.conf", NULL);
		g_autofree char *tconf = g_build_filename (f->dir, "tbgw.conf", NULL);

		g_unlink (conf);
		g_unlink (tconf);
		g_rmdir (f->dir);
	}
	g_free (f->dir);
	g_free (f->address);
}

static GDBusConnection *
connect_bus (Fixture *f)
{
	g_autoptr (GError) error = NULL;
	GDBusConnection *c = g_dbus_connection_new_for_address_sync (f->address,
		G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT | G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
		NULL, NULL, &error);

	g_assert_no_error (error);
	return c;
}

static gboolean
name_owned (gpointer data)
{
	Fixture *f = data;
	g_autoptr (GDBusConnection) c = connect_bus (f);
	g_autoptr (GVariant) r = g_dbus_connection_call_sync (c, "org.freedesktop.DBus",
		"/org/freedesktop/DBus", "org.freedesktop.DBus", "NameHasOwner",
		g_variant_new ("(s)", NAME), G_VARIANT_TYPE ("(b)"), 0, -1, NULL, NULL);
	gboolean owned = FALSE;

	if (r != NULL)
		g_variant_get (r, "(b)", &owned);
	return owned;
}

/* The policy loads and tbgwd, as root, owns its name on that bus. */
static void
test_loads_and_root_owns (Fixture *f, gconstpointer data)
{
	g_autoptr (GError) error = NULL;
	g_autoptr (GSubprocessLauncher) l = tbg_test_launcher_new (G_SUBPROCESS_FLAGS_NONE);
	g_autofree char *conf = g_build_filename (f->dir, "tbgw.conf", NULL);
	g_autofree char *text = NULL;

	if (getuid () != 0) {
		g_test_skip ("owning the name needs root, as the policy says");
		return;
	}
	f->broker = tbg_test_broker_start ();
	text = g_strdup_printf ("[storage]\npath=memory\n[server]\nport=%u\n[gateway]\nstats-interval-s=0\n",
	                        tbg_test_broker_port (f->broker));
	g_file_set_contents (conf, text, -1, NULL);
	g_subprocess_launcher_setenv (l, "DBUS_SYSTEM_BUS_ADDRESS", f->address, TRUE);
	f->daemon = g_subprocess_launcher_spawn (l, &error, g_getenv ("TBGWD") ? g_getenv ("TBGWD") : "src/tbgwd",
	                                         "--config", conf, NULL);
	g_assert_no_error (error);
	g_assert_true (tbg_test_wait_until (name_owned, f, WAIT_MS));
}

/* The child side: runs as nobody and reports what the bus allowed. */
static int
probe (const char *address)
{
	g_autoptr (GError) error = NULL;
	g_autoptr (GDBusConnection) c = g_dbus_connection_new_for_address_sync (address,
		G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT | G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
		NULL, NULL, &error);
	static const struct { const char *iface, *method, *args; } calls[] = {
		{ "org.freedesktop.DBus.Properties", "Get", "('org.tbgw.Gateway1.Manager', 'Version')" },
		{ "org.freedesktop.DBus.Properties", "GetAll", "('org.tbgw.Gateway1.Manager',)" },
		{ "org.freedesktop.DBus.Introspectable", "Introspect", "()" },
		{ "org.freedesktop.DBus.ObjectManager", "GetManagedObjects", "()" },
		{ "org.freedesktop.DBus.Properties", "Set", "('org.tbgw.Gateway1.Manager', 'Version', <'x'>)" },
		{ "org.tbgw.Gateway1.Manager", "CreateDevice", "('Thermo 1', '')" },
		{ "org.tbgw.Gateway1.Manager", "Reconnect", "()" },
		{ "org.tbgw.Gateway1.Manager", "Reload", "()" },
	};

	if (c == NULL) {
		g_print ("connect %s\n", error->message);
		return 1;
	}
	for (guint i = 0; i < G_N_ELEMENTS (calls); i++) {
		g_autoptr (GError) e = NULL;
		g_autoptr (GVariant) r = g_dbus_connection_call_sync (c, NAME, "/org/tbgw/Gateway1",
			calls[i].iface, calls[i].method, g_variant_new_parsed (calls[i].args), NULL,
			G_DBUS_CALL_FLAGS_NONE, WAIT_MS, NULL, &e);
		g_autofree char *remote = e ? g_dbus_error_get_remote_error (e) : NULL;

		g_print ("%s %s\n", calls[i].method, r ? "ok" : remote ? remote : e->message);
	}
	{
		g_autoptr (GError) e = NULL;
		g_autoptr (GVariant) r = g_dbus_connection_call_sync (c, "org.freedesktop.DBus",
			"/org/freedesktop/DBus", "org.freedesktop.DBus", "RequestName",
			g_variant_new ("(su)", NAME, 0), NULL, 0, WAIT_MS, NULL, &e);
		g_autofree char *remote = e ? g_dbus_error_get_remote_error (e) : NULL;

		g_print ("RequestName %s\n", r ? "ok" : remote ? remote : e->message);
	}
	return 0;
}

typedef struct {
	uid_t uid;
	gid_t gid;
} Identity;

static void
become (gpointer data)
{
	Identity *id = data;

	/* In the child, before exec: drop root for good. */
	if (setgroups (1, &id->gid) != 0 || setgid (id->gid) != 0 || setuid (id->uid) != 0)
		_exit (99);
}

static char *
run_probe (Fixture *f, gid_t gid)
{
	g_autoptr (GError) error = NULL;
	g_autoptr (GSubprocessLauncher) l = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
	g_autoptr (GSubprocess) p = NULL;
	Identity id = { NOBODY, gid };
	char *out = NULL;

	g_subprocess_launcher_set_child_setup (l, become, &id, NULL);
	p = g_subprocess_launcher_spawn (l, &error, "/proc/self/exe", "--probe", f->address, NULL);
	g_assert_no_error (error);
	g_subprocess_communicate_utf8 (p, NULL, NULL, &out, NULL, &error);
	g_assert_no_error (error);
	g_assert_cmpint (g_subprocess_get_exit_status (p), ==, 0);
	return out;
}

static void
test_unprivileged (Fixture *f, gconstpointer data)
{
	g_autofree char *out = NULL;

	if (getuid () != 0) {
		g_test_skip ("switching to an unprivileged user needs root");
		return;
	}
	test_loads_and_root_owns (f, data);
	out = run_probe (f, NOBODY);
	g_test_message ("%s", out);
	g_assert_cmpstr (out, ==,
		"Get ok\n"
		"GetAll ok\n"
		"Introspect ok\n"
		"GetManagedObjects ok\n"
		"Set org.freedesktop.DBus.Error.AccessDenied\n"
		"CreateDevice org.freedesktop.DBus.Error.AccessDenied\n"
		"Reconnect org.freedesktop.DBus.Error.AccessDenied\n"
		"Reload org.freedesktop.DBus.Error.AccessDenied\n"
		"RequestName org.freedesktop.DBus.Error.AccessDenied\n");
}

static void
test_group_tbgw (Fixture *f, gconstpointer data)
{
	struct group *g = getgrnam ("tbgw");
	g_autofree char *out = NULL;

	if (getuid () != 0 || g == NULL) {
		g_test_skip ("needs root and a system group “tbgw” (groupadd --system tbgw)");
		return;
	}
	test_loads_and_root_owns (f, data);
	out = run_probe (f, g->gr_gid);
	g_test_message ("%s", out);
	g_assert_nonnull (strstr (out, "CreateDevice ok\n"));
	g_assert_nonnull (strstr (out, "Reconnect ok\n"));
	g_assert_nonnull (strstr (out, "RequestName org.freedesktop.DBus.Error.AccessDenied\n"));
}

int
main (int argc, char **argv)
{
	if (argc == 3 && g_str_equal (argv[1], "--probe"))
		return probe (argv[2]);
	g_test_init (&argc, &argv, NULL);
	g_test_add ("/dbus-policy/loads-and-root-owns", Fixture, NULL, setup, test_loads_and_root_owns, teardown);
	g_test_add ("/dbus-policy/unprivileged", Fixture, NULL, setup, test_unprivileged, teardown);
	g_test_add ("/dbus-policy/group-tbgw", Fixture, NULL, setup, test_group_tbgw, teardown);
	return g_test_run ();
}
