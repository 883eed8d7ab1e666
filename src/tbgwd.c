/* SPDX-License-Identifier: Apache-2.0 */
/* tbgwd.c — the daemon: options, config, main loop, signals, and the bus
 * name, owned once for the process's whole life. */
#include "config.h"
#include "dbus-service.h"
#include "gateway.h"
#include "i18n.h"

#include <glib-unix.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define SHUTDOWN_GRACE_MS 3000

typedef struct {
	GMainLoop  *loop;
	TbgGateway *gateway;
	TbgDbusService *service;
	guint       owner_id;
	char       *config_path;
	gboolean    session_bus;
	gboolean    stopping;
	int         exit_code;
} Daemon;

static void
daemon_clear (Daemon *d)
{
	g_clear_handle_id (&d->owner_id, g_bus_unown_name);
	g_clear_pointer (&d->service, tbg_dbus_service_free);
	g_clear_object (&d->gateway);
	g_clear_pointer (&d->loop, g_main_loop_unref);
	g_clear_pointer (&d->config_path, g_free);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Daemon, daemon_clear)

static char **
device_prefixes (void)
{
	GPtrArray *names = g_ptr_array_new ();

	for (guint i = 0; tbg_sources[i] != NULL; i++) {
		if (tbg_sources[i]->config_keys != NULL)
			g_ptr_array_add (names, g_strdup (tbg_sources[i]->name));
	}
	g_ptr_array_add (names, NULL);
	return (char **) g_ptr_array_free (names, FALSE);
}

/* An explicit --config must exist; the default path may be absent, in
 * which case the built-in defaults (a broker on 127.0.0.1:1883) apply. */
static TbgConfig *
load_config (Daemon *d, GError **error)
{
	g_auto (GStrv) prefixes = device_prefixes ();
	const char *path = d->config_path ? d->config_path : TBG_DEFAULT_CONFIG_PATH;
	TbgConfig *cfg;

	if (d->config_path == NULL && !g_file_test (path, G_FILE_TEST_EXISTS)) {
		g_message (_("No %s; using built-in defaults"), path);
		cfg = tbg_config_new_default ();
	} else {
		cfg = tbg_config_load (path, (const char * const *) prefixes, error);
	}
	if (cfg != NULL)
		cfg->session_bus = d->session_bus;
	return cfg;
}

static gboolean
quit_cb (gpointer data)
{
	Daemon *d = data;

	g_main_loop_quit (d->loop);
	return G_SOURCE_REMOVE;
}

static gboolean
on_terminate (gpointer data)
{
	Daemon *d = data;

	if (d->stopping) {
		g_message (_("Second signal: exiting now"));
		g_main_loop_quit (d->loop);
		return G_SOURCE_CONTINUE;
	}
	d->stopping = TRUE;
	g_message (_("Shutting down"));
	tbg_gateway_shutdown (d->gateway, SHUTDOWN_GRACE_MS, quit_cb, d);
	return G_SOURCE_CONTINUE;
}

/* SIGHUP and Manager.Reload(): on any error the running config stays. */
static gboolean
reload (gpointer data, GError **error)
{
	Daemon *d = data;
	g_autoptr (GError) local = NULL;
	TbgConfig *cfg;

	g_message (_("Reloading configuration"));
	cfg = load_config (d, &local);
	if (cfg == NULL || !tbg_gateway_reload (d->gateway, cfg, &local)) {
		g_warning (_("Configuration not reloaded: %s"), local->message);
		g_propagate_error (error, g_steal_pointer (&local));
		return FALSE;
	}
	return TRUE;
}

static gboolean
on_reload (gpointer data)
{
	reload (data, NULL);
	return G_SOURCE_CONTINUE;
}

/* ---- the bus name ------------------------------------------------------------ */

/* Objects are exported before the name is taken, so that a client that
 * sees the name finds them. */
static void
on_bus_acquired (GDBusConnection *bus, const char *name, gpointer data)
{
	Daemon *d = data;
	g_autoptr (GError) error = NULL;

	/* A bus that goes away must not take the gateway with it. */
	g_dbus_connection_set_exit_on_close (bus, FALSE);
	d->service = tbg_dbus_service_new (bus, d->gateway, reload, d, &error);
	if (d->service == NULL)
		g_warning (_("%s; running without the D-Bus API"), error->message);
}

static void
on_name_acquired (GDBusConnection *bus, const char *name, gpointer data)
{
	g_message (_("D-Bus API available as %s"), name);
}

static void
on_name_lost (GDBusConnection *bus, const char *name, gpointer data)
{
	Daemon *d = data;

	if (bus == NULL)
		g_warning (_("No D-Bus %s bus, or it went away; running without the D-Bus API"),
		           d->session_bus ? "session" : "system");
	else
		g_warning (_("Could not own %s on D-Bus (another tbgwd, or the D-Bus policy does "
		             "not allow it); the D-Bus API is unavailable"), name);
	g_clear_pointer (&d->service, tbg_dbus_service_free);
}

int
main (int argc, char **argv)
{
	g_auto (Daemon) d = { 0 };
	gboolean verbose = FALSE, version = FALSE;
	g_autoptr (GError) error = NULL;
	g_autoptr (GOptionContext) ctx = NULL;
	TbgConfig *cfg;
	const GOptionEntry entries[] = {
		{ "config", 'c', 0, G_OPTION_ARG_FILENAME, &d.config_path,
		  N_("Read the configuration from FILE (default: " TBG_DEFAULT_CONFIG_PATH ")"), N_("FILE") },
		{ "session", 0, 0, G_OPTION_ARG_NONE, &d.session_bus,
		  N_("Use the session bus instead of the system bus"), NULL },
		{ "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, N_("Log debug messages"), NULL },
		{ "version", 'V', 0, G_OPTION_ARG_NONE, &version, N_("Print the version and exit"), NULL },
		{ NULL }
	};

	setlocale (LC_ALL, "");
	bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
	bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
	textdomain (GETTEXT_PACKAGE);

	ctx = g_option_context_new (NULL);
	g_option_context_set_summary (ctx, _("ThingsBoard gateway daemon: connects BLE, serial, GPIO and "
	                                     "D-Bus devices to ThingsBoard over one MQTT connection."));
	g_option_context_set_description (ctx, _("Signals: SIGHUP reloads the configuration, SIGTERM "
	                                         "flushes queued data and exits.\n"
	                                         "See tbgwd(8) and tbgw.conf(5)."));
	g_option_context_add_main_entries (ctx, entries, GETTEXT_PACKAGE);
	g_option_context_set_translation_domain (ctx, GETTEXT_PACKAGE);
	if (!g_option_context_parse (ctx, &argc, &argv, &error)) {
		g_printerr ("tbgwd: %s\n", error->message);
		g_printerr (_("Try “tbgwd --help” for more information.\n"));
		return 2;
	}
	if (version) {
		g_print ("tbgwd %s\n", PACKAGE_VERSION);
		return 0;
	}
	if (argc > 1) {
		g_printerr (_("tbgwd: unexpected argument “%s”\n"), argv[1]);
		return 2;
	}
	if (verbose)
		g_log_set_debug_enabled (TRUE);
	/* A vanished MQTT peer must give EPIPE, not kill the daemon. */
	signal (SIGPIPE, SIG_IGN);

	cfg = load_config (&d, &error);
	if (cfg == NULL) {
		g_printerr ("tbgwd: %s\n", error->message);
		return 1;
	}
	d.gateway = tbg_gateway_new (cfg, tbg_sources, &error);
	if (d.gateway == NULL) {
		g_printerr ("tbgwd: %s\n", error->message);
		return 1;
	}
	/* Before anything starts: a SIGTERM while the sources start (or TLS
	 * loads its CA store) waits for the loop instead of killing us. */
	d.loop = g_main_loop_new (NULL, FALSE);
	g_unix_signal_add (SIGTERM, on_terminate, &d);
	g_unix_signal_add (SIGINT, on_terminate, &d);
	g_unix_signal_add (SIGHUP, on_reload, &d);
	if (!tbg_gateway_start (d.gateway, &error)) {
		g_printerr ("tbgwd: %s\n", error->message);
		return 1;
	}
	g_message (_("tbgwd %s started"), PACKAGE_VERSION);

	d.owner_id = g_bus_own_name (d.session_bus ? G_BUS_TYPE_SESSION : G_BUS_TYPE_SYSTEM,
	                             TBG_DBUS_NAME, G_BUS_NAME_OWNER_FLAGS_NONE, on_bus_acquired,
	                             on_name_acquired, on_name_lost, &d, NULL);
	g_main_loop_run (d.loop);

	g_message (_("tbgwd stopped"));
	return d.exit_code;
}
