/* SPDX-License-Identifier: Apache-2.0 */
/* tbgwctl — command-line client of tbgwd's D-Bus API (org.tbgw.Gateway1).
 *
 * Everything it does goes through the same API as any other client; it
 * keeps no state. Human output by default, --json for scripts. Exit codes:
 * 0 done, 1 tbgwd refused or failed (its message is printed), 2 bad usage,
 * 3 tbgwd cannot be reached.
 */
#include "build-config.h"
#include "dbus-json.h"
#include "tbg-dbus.h"
#include "i18n.h"

#include <glib-unix.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>

#define BUS_NAME     "org.tbgw.Gateway1"
#define MANAGER_PATH "/org/tbgw/Gateway1"

enum { EXIT_OK = 0, EXIT_FAILED = 1, EXIT_USAGE = 2, EXIT_UNREACHABLE = 3 };

/* Calls that wait on ThingsBoard (RequestAttributes) get their answer or
 * tbgwd's Timeout error well within this. */
#define CALL_TIMEOUT_MS 60000

typedef struct {
	gboolean            session;
	gboolean            json;
	GDBusObjectManager *om;
	TbgDbusManager     *manager;
} Ctl;

static const char usage_text[] = N_(
	"Usage: tbgwctl [--session] [--json] COMMAND [ARGUMENTS]\n"
	"\n"
	"Talks to tbgwd, the ThingsBoard gateway, over D-Bus.\n"
	"\n"
	"Commands:\n"
	"  status                               the gateway: version, server, link, queue\n"
	"  devices                              list the devices behind the gateway\n"
	"  show DEVICE                          one device and its attributes\n"
	"  create NAME [--type TYPE]            create a virtual device and connect it\n"
	"  remove DEVICE                        disconnect and remove a virtual device\n"
	"  connect DEVICE | disconnect DEVICE   tell ThingsBoard a virtual device came or went\n"
	"  telemetry DEVICE KEY=VALUE... [--ts MS]\n"
	"  telemetry DEVICE --json '{...}' [--ts MS]\n"
	"                                       push one telemetry sample\n"
	"  attributes DEVICE KEY=VALUE... | --json '{...}'\n"
	"                                       push client attributes\n"
	"  request-attributes DEVICE [--client KEY]... [--shared KEY]...\n"
	"                                       fetch attribute values from ThingsBoard\n"
	"  claim DEVICE [--secret SECRET] [--duration 60s]\n"
	"                                       let a ThingsBoard user claim the device\n"
	"  reconnect                            reconnect the MQTT link now\n"
	"  reload                               read the configuration file again and apply\n"
	"                                       what changed; a refused file changes nothing\n"
	"  monitor                              print RPCs, attribute updates, connects and\n"
	"                                       disconnects as they happen\n"
	"  rpc-handler DEVICE [--reply JSON | --exec COMMAND [ARGS]...]\n"
	"                                       answer the device's RPCs: with JSON, or with\n"
	"                                       the output of COMMAND ARGS... METHOD PARAMS\n"
	"\n"
	"Options:\n"
	"  --session    use the session bus (tbgwd --session) instead of the system bus\n"
	"  --json       print JSON for scripts\n"
	"  -h, --help   show this help\n"
	"  --version    show the version\n"
	"\n"
	"DEVICE is a device name or its object path. A VALUE is read as JSON when it is\n"
	"JSON (21.5, 40, true, \"42\", [1,2], {\"a\":1}) and as a string otherwise.\n"
	"See tbgwctl(1).\n");

static int G_GNUC_PRINTF (1, 2)
usage_error (const char *format, ...)
{
	g_autofree char *msg = NULL;
	va_list ap;

	va_start (ap, format);
	msg = g_strdup_vprintf (format, ap);
	va_end (ap);
	g_printerr ("tbgwctl: %s\n", msg);
	g_printerr (_("Try “tbgwctl --help”.\n"));
	return EXIT_USAGE;
}

/* A D-Bus error as a person reads it: tbgwd's message without the error name. */
static int
report (const char *what, GError *error)
{
	g_autofree char *remote = g_dbus_error_get_remote_error (error);

	g_dbus_error_strip_remote_error (error);
	g_printerr ("tbgwctl: %s: %s\n", what, error->message);
	if (remote != NULL && (g_str_equal (remote, "org.freedesktop.DBus.Error.AccessDenied") ||
	                       g_str_equal (remote, "org.tbgw.Gateway1.Error.PermissionDenied")))
		g_printerr (_("(changing things needs root or membership of group “tbgw”)\n"));
	if (remote != NULL && (g_str_equal (remote, "org.freedesktop.DBus.Error.ServiceUnknown") ||
	                       g_str_equal (remote, "org.freedesktop.DBus.Error.NameHasNoOwner")))
		return EXIT_UNREACHABLE;
	return EXIT_FAILED;
}

static void
print_json (json_t *j)
{
	char *text = json_dumps (j, JSON_COMPACT | JSON_ENCODE_ANY);

	g_print ("%s\n", text ? text : "null");
	free (text);
}

static char *
vardict_text (GVariant *dict)
{
	json_t *j = dict ? tbg_vardict_to_json (dict, NULL) : json_object ();
	char *text = json_dumps (j ? j : json_object (), JSON_COMPACT);
	char *out = g_strdup (text);

	free (text);
	json_decref (j);
	return out;
}

/* Without DO_NOT_AUTO_START: where the bus has an activation file for
 * tbgwd, the first call starts it. */
static int
connect_bus (Ctl *ctl)
{
	g_autoptr (GError) error = NULL;
	g_autofree char *owner = NULL;
	const char *bus = ctl->session ? "session" : "system";

	ctl->om = tbg_dbus_object_manager_client_new_for_bus_sync (
		ctl->session ? G_BUS_TYPE_SESSION : G_BUS_TYPE_SYSTEM,
		G_DBUS_OBJECT_MANAGER_CLIENT_FLAGS_NONE, BUS_NAME, MANAGER_PATH, NULL, &error);
	if (ctl->om == NULL && g_dbus_error_is_remote_error (error)) {
		g_autofree char *remote = g_dbus_error_get_remote_error (error);

		/* Neither running nor activatable: the caller is told below. */
		if (g_strcmp0 (remote, "org.freedesktop.DBus.Error.ServiceUnknown") == 0 ||
		    g_strcmp0 (remote, "org.freedesktop.DBus.Error.Spawn.ServiceNotFound") == 0) {
			g_clear_error (&error);
			ctl->om = tbg_dbus_object_manager_client_new_for_bus_sync (
				ctl->session ? G_BUS_TYPE_SESSION : G_BUS_TYPE_SYSTEM,
				G_DBUS_OBJECT_MANAGER_CLIENT_FLAGS_DO_NOT_AUTO_START, BUS_NAME, MANAGER_PATH,
				NULL, &error);
		}
	}
	if (ctl->om == NULL) {
		g_printerr (_("tbgwctl: cannot reach the D-Bus %s bus: %s\n"), bus, error->message);
		return EXIT_UNREACHABLE;
	}
	owner = g_dbus_object_manager_client_get_name_owner (G_DBUS_OBJECT_MANAGER_CLIENT (ctl->om));
	if (owner == NULL) {
		if (ctl->session)
			g_printerr (_("tbgwctl: tbgwd is not running on the session bus (%s has no owner "
			              "and D-Bus cannot start it); start it with: tbgwd --session &\n"), BUS_NAME);
		else
			g_printerr (_("tbgwctl: tbgwd is not running on the system bus (%s has no owner "
			              "and D-Bus cannot start it); start it with: sudo systemctl start tbgwd "
			              "(for a tbgwd --session, use tbgwctl --session)\n"), BUS_NAME);
		return EXIT_UNREACHABLE;
	}
	ctl->manager = tbg_dbus_manager_proxy_new_sync (
		g_dbus_object_manager_client_get_connection (G_DBUS_OBJECT_MANAGER_CLIENT (ctl->om)),
		G_DBUS_PROXY_FLAGS_NONE, BUS_NAME, MANAGER_PATH, NULL, &error);
	if (ctl->manager == NULL)
		return report (_("cannot reach tbgwd"), error);
	g_dbus_proxy_set_default_timeout (G_DBUS_PROXY (ctl->manager), CALL_TIMEOUT_MS);
	return EXIT_OK;
}

/* All device proxies, sorted by name. */
static GList *
list_devices (Ctl *ctl)
{
	GList *objects = g_dbus_object_manager_get_objects (ctl->om);
	GList *devices = NULL;

	for (GList *l = objects; l != NULL; l = l->next) {
		TbgDbusDevice *d = tbg_dbus_object_get_device (TBG_DBUS_OBJECT (l->data));

		if (d != NULL) {
			g_dbus_proxy_set_default_timeout (G_DBUS_PROXY (d), CALL_TIMEOUT_MS);
			devices = g_list_prepend (devices, d);
		}
	}
	g_list_free_full (objects, g_object_unref);
	return devices;
}

static gint
by_name (gconstpointer a, gconstpointer b)
{
	return g_strcmp0 (tbg_dbus_device_get_name ((TbgDbusDevice *) a),
	                  tbg_dbus_device_get_name ((TbgDbusDevice *) b));
}

static TbgDbusDevice *
find_device (Ctl *ctl, const char *which)
{
	GList *devices = list_devices (ctl);
	TbgDbusDevice *found = NULL;

	for (GList *l = devices; l != NULL; l = l->next) {
		const char *path = g_dbus_proxy_get_object_path (G_DBUS_PROXY (l->data));

		if (g_strcmp0 (tbg_dbus_device_get_name (l->data), which) == 0 || g_str_equal (path, which)) {
			found = g_object_ref (l->data);
			break;
		}
	}
	g_list_free_full (devices, g_object_unref);
	if (found == NULL)
		g_printerr (_("tbgwctl: no device “%s” (“tbgwctl devices” lists them)\n"), which);
	return found;
}

static json_t *
device_json (TbgDbusDevice *d)
{
	json_t *attrs = tbg_vardict_to_json (tbg_dbus_device_get_attributes (d), NULL);

	return json_pack ("{s:s,s:s,s:s,s:s,s:s,s:b,s:I,s:o}",
	                  "path", g_dbus_proxy_get_object_path (G_DBUS_PROXY (d)),
	                  "name", tbg_dbus_device_get_name (d) ? tbg_dbus_device_get_name (d) : "",
	                  "type", tbg_dbus_device_get_type_ (d) ? tbg_dbus_device_get_type_ (d) : "",
	                  "source", tbg_dbus_device_get_source (d) ? tbg_dbus_device_get_source (d) : "",
	                  "address", tbg_dbus_device_get_address (d) ? tbg_dbus_device_get_address (d) : "",
	                  "connected", tbg_dbus_device_get_connected (d),
	                  "lastSeen", (json_int_t) tbg_dbus_device_get_last_seen (d),
	                  "attributes", attrs ? attrs : json_object ());
}

static char *
format_time (guint64 ms)
{
	g_autoptr (GDateTime) t = NULL;

	if (ms == 0)
		return g_strdup (_("never"));
	t = g_date_time_new_from_unix_local ((gint64) (ms / 1000));
	return t ? g_date_time_format (t, "%Y-%m-%d %H:%M:%S") : g_strdup ("?");
}

/* ---- commands ------------------------------------------------------------------ */

static int
cmd_status (Ctl *ctl, int argc, char **argv)
{
	GList *devices = list_devices (ctl);
	guint n = g_list_length (devices);

	g_list_free_full (devices, g_object_unref);
	if (ctl->json) {
		json_t *j = json_pack ("{s:s,s:s,s:b,s:I,s:i}",
		                       "version", tbg_dbus_manager_get_version (ctl->manager),
		                       "server", tbg_dbus_manager_get_server (ctl->manager),
		                       "connected", tbg_dbus_manager_get_connected (ctl->manager),
		                       "queuedMessages", (json_int_t) tbg_dbus_manager_get_queued_messages (ctl->manager),
		                       "devices", (int) n);
		print_json (j);
		json_decref (j);
		return EXIT_OK;
	}
	g_print (_("Version:    %s\n"), tbg_dbus_manager_get_version (ctl->manager));
	g_print (_("Server:     %s\n"), tbg_dbus_manager_get_server (ctl->manager));
	g_print (_("Connected:  %s\n"), tbg_dbus_manager_get_connected (ctl->manager) ? _("yes") : _("no"));
	g_print (_("Queued:     %" G_GUINT64_FORMAT " messages\n"),
	         tbg_dbus_manager_get_queued_messages (ctl->manager));
	g_print (_("Devices:    %u\n"), n);
	return EXIT_OK;
}

static int
cmd_devices (Ctl *ctl, int argc, char **argv)
{
	GList *devices = g_list_sort (list_devices (ctl), by_name);

	if (ctl->json) {
		json_t *arr = json_array ();

		for (GList *l = devices; l != NULL; l = l->next)
			json_array_append_new (arr, device_json (l->data));
		print_json (arr);
		json_decref (arr);
	} else if (devices == NULL) {
		g_print (_("No devices.\n"));
	} else {
		g_print ("%-24s %-7s %-10s %s\n", _("NAME"), _("SOURCE"), _("CONNECTED"), _("ADDRESS"));
		for (GList *l = devices; l != NULL; l = l->next) {
			TbgDbusDevice *d = l->data;

			g_print ("%-24s %-7s %-10s %s\n", tbg_dbus_device_get_name (d),
			         tbg_dbus_device_get_source (d),
			         tbg_dbus_device_get_connected (d) ? _("yes") : _("no"),
			         tbg_dbus_device_get_address (d));
		}
	}
	g_list_free_full (devices, g_object_unref);
	return EXIT_OK;
}

static int
cmd_show (Ctl *ctl, int argc, char **argv)
{
	g_autoptr (TbgDbusDevice) d = NULL;
	g_autofree char *attrs = NULL, *seen = NULL;

	if (argc != 1)
		return usage_error (_("show needs one DEVICE"));
	d = find_device (ctl, argv[0]);
	if (d == NULL)
		return EXIT_FAILED;
	if (ctl->json) {
		json_t *j = device_json (d);

		print_json (j);
		json_decref (j);
		return EXIT_OK;
	}
	attrs = vardict_text (tbg_dbus_device_get_attributes (d));
	seen = format_time (tbg_dbus_device_get_last_seen (d));
	g_print (_("Device:     %s\n"), tbg_dbus_device_get_name (d));
	g_print (_("Path:       %s\n"), g_dbus_proxy_get_object_path (G_DBUS_PROXY (d)));
	g_print (_("Type:       %s\n"), tbg_dbus_device_get_type_ (d));
	g_print (_("Source:     %s\n"), tbg_dbus_device_get_source (d));
	g_print (_("Address:    %s\n"), tbg_dbus_device_get_address (d));
	g_print (_("Connected:  %s\n"), tbg_dbus_device_get_connected (d) ? _("yes") : _("no"));
	g_print (_("Last seen:  %s\n"), seen);
	g_print (_("Attributes: %s\n"), attrs);
	return EXIT_OK;
}

static int
cmd_create (Ctl *ctl, int argc, char **argv)
{
	g_autoptr (GError) error = NULL;
	g_autofree char *path = NULL;
	const char *name = NULL, *type = "";

	for (int i = 0; i < argc; i++) {
		if (g_str_equal (argv[i], "--type") && i + 1 < argc)
			type = argv[++i];
		else if (g_str_has_prefix (argv[i], "--type="))
			type = argv[i] + 7;
		else if (argv[i][0] == '-' && argv[i][1] != '\0')
			return usage_error (_("create: unknown option “%s”"), argv[i]);
		else if (name == NULL)
			name = argv[i];
		else
			return usage_error (_("create takes one NAME (quote names with spaces)"));
	}
	if (name == NULL)
		return usage_error (_("create needs a NAME"));
	if (!tbg_dbus_manager_call_create_device_sync (ctl->manager, name, type, &path, NULL, &error))
		return report ("create", error);
	if (ctl->json) {
		json_t *j = json_pack ("{s:s,s:s}", "name", name, "path", path);

		print_json (j);
		json_decref (j);
	} else {
		g_print (_("Created “%s” at %s\n"), name, path);
	}
	return EXIT_OK;
}

static int
one_device_call (Ctl *ctl, int argc, char **argv, const char *cmd)
{
	g_autoptr (TbgDbusDevice) d = NULL;
	g_autoptr (GError) error = NULL;
	gboolean ok;

	if (argc != 1)
		return usage_error (_("%s needs one DEVICE"), cmd);
	d = find_device (ctl, argv[0]);
	if (d == NULL)
		return EXIT_FAILED;
	if (g_str_equal (cmd, "remove"))
		ok = tbg_dbus_manager_call_remove_device_sync (ctl->manager,
			g_dbus_proxy_get_object_path (G_DBUS_PROXY (d)), NULL, &error);
	else if (g_str_equal (cmd, "connect"))
		ok = tbg_dbus_device_call_connect_sync (d, NULL, &error);
	else
		ok = tbg_dbus_device_call_disconnect_sync (d, NULL, &error);
	if (!ok)
		return report (cmd, error);
	return EXIT_OK;
}

static int
cmd_remove (Ctl *ctl, int argc, char **argv)
{
	return one_device_call (ctl, argc, argv, "remove");
}

static int
cmd_connect (Ctl *ctl, int argc, char **argv)
{
	return one_device_call (ctl, argc, argv, "connect");
}

static int
cmd_disconnect (Ctl *ctl, int argc, char **argv)
{
	return one_device_call (ctl, argc, argv, "disconnect");
}

/* KEY=VALUE: VALUE is JSON when it parses as JSON, a string otherwise. */
static gboolean
add_pair (json_t *values, const char *arg, GError **error)
{
	const char *eq = strchr (arg, '=');
	g_autofree char *key = NULL;
	json_t *v;

	if (eq == NULL || eq == arg) {
		g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
		             _("“%s” is not KEY=VALUE"), arg);
		return FALSE;
	}
	key = g_strndup (arg, (gsize) (eq - arg));
	v = json_loads (eq + 1, JSON_DECODE_ANY, NULL);
	if (v == NULL)
		v = json_string (eq + 1);
	if (v == NULL) {
		g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
		             _("the value of “%s” is not UTF-8"), key);
		return FALSE;
	}
	json_object_set_new (values, key, v);
	return TRUE;
}

/* Shared by telemetry and attributes: KEY=VALUE... or --json TEXT. */
static int
parse_values (const char *cmd, int argc, char **argv, gboolean allow_ts, TbgDbusDevice **device,
              GVariant **values, guint64 *ts, Ctl *ctl)
{
	g_autoptr (GError) error = NULL;
	json_t *obj = json_object ();
	const char *which = NULL, *json_text = NULL;
	gboolean pairs = FALSE;
	int rc = EXIT_OK;

	*ts = 0;
	for (int i = 0; i < argc && rc == EXIT_OK; i++) {
		if (g_str_equal (argv[i], "--json") && i + 1 < argc) {
			json_text = argv[++i];
		} else if (allow_ts && g_str_equal (argv[i], "--ts") && i + 1 < argc) {
			if (!g_ascii_string_to_unsigned (argv[++i], 10, 1, G_MAXINT64, ts, NULL))
				rc = usage_error (_("--ts wants milliseconds since the epoch, not “%s”"), argv[i]);
		} else if (argv[i][0] == '-' && argv[i][1] == '-') {
			rc = usage_error (_("%s: unknown option or missing value “%s”"), cmd, argv[i]);
		} else if (which == NULL) {
			which = argv[i];
		} else {
			pairs = TRUE;
			if (!add_pair (obj, argv[i], &error))
				rc = usage_error ("%s: %s", cmd, error->message);
		}
	}
	if (rc == EXIT_OK && which == NULL)
		rc = usage_error (_("%s needs a DEVICE"), cmd);
	if (rc == EXIT_OK && pairs && json_text != NULL)
		rc = usage_error (_("%s: give KEY=VALUE pairs or --json, not both"), cmd);
	if (rc == EXIT_OK && json_text != NULL) {
		json_error_t jerr;

		json_decref (obj);
		obj = json_loads (json_text, 0, &jerr);
		if (!json_is_object (obj))
			rc = usage_error (_("%s: --json wants an object: %s"), cmd,
			                  obj ? _("this is not one") : jerr.text);
	}
	if (rc == EXIT_OK && tbg_json_contains_null (obj))
		rc = usage_error (_("%s: null cannot travel over D-Bus; leave the key out, or write "
		                    "'\"null\"' for the string"), cmd);
	if (rc == EXIT_OK && json_object_size (obj) == 0)
		rc = usage_error (_("%s: nothing to send (KEY=VALUE... or --json '{...}')"), cmd);
	if (rc == EXIT_OK) {
		*device = find_device (ctl, which);
		if (*device == NULL)
			rc = EXIT_FAILED;
		else
			*values = g_variant_ref_sink (tbg_json_to_vardict (obj));
	}
	json_decref (obj);
	return rc;
}

static int
cmd_telemetry (Ctl *ctl, int argc, char **argv)
{
	g_autoptr (TbgDbusDevice) d = NULL;
	g_autoptr (GVariant) values = NULL;
	g_autoptr (GError) error = NULL;
	guint64 ts;
	int rc = parse_values ("telemetry", argc, argv, TRUE, &d, &values, &ts, ctl);
	gboolean ok;

	if (rc != EXIT_OK)
		return rc;
	ok = ts ? tbg_dbus_device_call_push_telemetry_at_sync (d, ts, values, NULL, &error)
	        : tbg_dbus_device_call_push_telemetry_sync (d, values, NULL, &error);
	return ok ? EXIT_OK : report ("telemetry", error);
}

static int
cmd_attributes (Ctl *ctl, int argc, char **argv)
{
	g_autoptr (TbgDbusDevice) d = NULL;
	g_autoptr (GVariant) values = NULL;
	g_autoptr (GError) error = NULL;
	guint64 ts;
	int rc = parse_values ("attributes", argc, argv, FALSE, &d, &values, &ts, ctl);

	if (rc != EXIT_OK)
		return rc;
	if (!tbg_dbus_device_call_push_attributes_sync (d, values, NULL, &error))
		return report ("attributes", error);
	return EXIT_OK;
}

static int
cmd_request_attributes (Ctl *ctl, int argc, char **argv)
{
	g_autoptr (GPtrArray) client = g_ptr_array_new ();
	g_autoptr (GPtrArray) shared = g_ptr_array_new ();
	g_autoptr (TbgDbusDevice) d = NULL;
	g_autoptr (GVariant) got_client = NULL, got_shared = NULL;
	g_autoptr (GError) error = NULL;
	const char *which = NULL;

	for (int i = 0; i < argc; i++) {
		if (g_str_equal (argv[i], "--client") && i + 1 < argc)
			g_ptr_array_add (client, argv[++i]);
		else if (g_str_equal (argv[i], "--shared") && i + 1 < argc)
			g_ptr_array_add (shared, argv[++i]);
		else if (argv[i][0] == '-' && argv[i][1] == '-')
			return usage_error (_("request-attributes: unknown option or missing key “%s”"), argv[i]);
		else if (which == NULL)
			which = argv[i];
		else
			return usage_error (_("request-attributes: keys go after --client or --shared"));
	}
	if (which == NULL)
		return usage_error (_("request-attributes needs a DEVICE"));
	if (client->len == 0 && shared->len == 0)
		return usage_error (_("request-attributes: name keys with --client KEY or --shared KEY"));
	g_ptr_array_add (client, NULL);
	g_ptr_array_add (shared, NULL);
	d = find_device (ctl, which);
	if (d == NULL)
		return EXIT_FAILED;
	if (!tbg_dbus_device_call_request_attributes_sync (d, (const char * const *) client->pdata,
	                                                   (const char * const *) shared->pdata,
	                                                   &got_client, &got_shared, NULL, &error))
		return report ("request-attributes", error);
	if (ctl->json) {
		json_t *j = json_pack ("{s:o,s:o}", "client", tbg_vardict_to_json (got_client, NULL),
		                       "shared", tbg_vardict_to_json (got_shared, NULL));

		print_json (j);
		json_decref (j);
	} else {
		g_autofree char *c = vardict_text (got_client), *s = vardict_text (got_shared);

		g_print (_("client: %s\nshared: %s\n"), c, s);
	}
	return EXIT_OK;
}

/* "60s", "5m", "1h", "1d", "500ms"; a bare number is seconds. */
static gboolean
parse_duration_ms (const char *text, guint64 *ms)
{
	static const struct { const char *suffix; guint64 factor; } units[] = {
		{ "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "min", 60000 }, { "h", 3600000 },
		{ "d", 86400000 }, { "", 1000 },
	};
	char *end = NULL;
	guint64 n;

	if (!g_ascii_isdigit (*text))
		return FALSE;
	n = g_ascii_strtoull (text, &end, 10);
	for (guint i = 0; i < G_N_ELEMENTS (units); i++) {
		if (g_str_equal (end, units[i].suffix)) {
			if (n > G_MAXUINT64 / units[i].factor)
				return FALSE;
			*ms = n * units[i].factor;
			return TRUE;
		}
	}
	return FALSE;
}

static int
cmd_claim (Ctl *ctl, int argc, char **argv)
{
	g_autoptr (TbgDbusDevice) d = NULL;
	g_autoptr (GError) error = NULL;
	const char *which = NULL, *secret = "";
	guint64 duration = 0;

	for (int i = 0; i < argc; i++) {
		if (g_str_equal (argv[i], "--secret") && i + 1 < argc) {
			secret = argv[++i];
		} else if (g_str_equal (argv[i], "--duration") && i + 1 < argc) {
			if (!parse_duration_ms (argv[++i], &duration))
				return usage_error (_("claim: “%s” is not a duration (e.g. 60s, 5m, 1h)"), argv[i]);
		} else if (argv[i][0] == '-' && argv[i][1] == '-') {
			return usage_error (_("claim: unknown option or missing value “%s”"), argv[i]);
		} else if (which == NULL) {
			which = argv[i];
		} else {
			return usage_error (_("claim takes one DEVICE"));
		}
	}
	if (which == NULL)
		return usage_error (_("claim needs a DEVICE"));
	d = find_device (ctl, which);
	if (d == NULL)
		return EXIT_FAILED;
	if (!tbg_dbus_device_call_claim_sync (d, secret, duration, NULL, &error))
		return report ("claim", error);
	return EXIT_OK;
}

static int
cmd_reconnect (Ctl *ctl, int argc, char **argv)
{
	g_autoptr (GError) error = NULL;

	if (argc != 0)
		return usage_error (_("reconnect takes no arguments"));
	if (!tbg_dbus_manager_call_reconnect_sync (ctl->manager, NULL, &error))
		return report ("reconnect", error);
	return EXIT_OK;
}

static int
cmd_reload (Ctl *ctl, int argc, char **argv)
{
	g_autoptr (GError) error = NULL;

	if (argc != 0)
		return usage_error (_("reload takes no arguments"));
	if (!tbg_dbus_manager_call_reload_sync (ctl->manager, NULL, &error))
		return report ("reload", error);
	return EXIT_OK;
}

/* ---- monitor -------------------------------------------------------------------- */

static void
event (Ctl *ctl, const char *device, const char *kind, json_t *fields, const char *human)
{
	if (ctl->json) {
		json_t *j = json_pack ("{s:s}", "event", kind);

		if (device != NULL)
			json_object_set_new (j, "device", json_string (device));
		if (fields != NULL)
			json_object_update (j, fields);
		print_json (j);
		json_decref (j);
	} else {
		g_autoptr (GDateTime) now = g_date_time_new_now_local ();
		g_autofree char *t = g_date_time_format (now, "%H:%M:%S");

		g_print ("%s.%03d %s%s%s\n", t, g_date_time_get_microsecond (now) / 1000,
		         device ? device : "", device ? ": " : "", human);
	}
	json_decref (fields);
}

static void
on_object_added (GDBusObjectManager *om, GDBusObject *obj, gpointer data)
{
	g_autoptr (TbgDbusDevice) d = tbg_dbus_object_get_device (TBG_DBUS_OBJECT (obj));
	g_autofree char *human = NULL;

	if (d == NULL)
		return;
	human = g_strdup_printf (_("added (%s, %s)"), tbg_dbus_device_get_source (d),
	                         g_dbus_object_get_object_path (obj));
	event (data, tbg_dbus_device_get_name (d), "added",
	       json_pack ("{s:s,s:s}", "source", tbg_dbus_device_get_source (d),
	                  "path", g_dbus_object_get_object_path (obj)), human);
}

static void
on_object_removed (GDBusObjectManager *om, GDBusObject *obj, gpointer data)
{
	g_autoptr (TbgDbusDevice) d = tbg_dbus_object_get_device (TBG_DBUS_OBJECT (obj));

	if (d != NULL)
		event (data, tbg_dbus_device_get_name (d), "removed", NULL, _("removed"));
}

static void
on_properties_changed (GDBusObjectManagerClient *om, GDBusObjectProxy *obj, GDBusProxy *iface,
                       GVariant *changed, const char * const *invalidated, gpointer data)
{
	gboolean connected;

	if (!TBG_DBUS_IS_DEVICE (iface))
		return;
	if (g_variant_lookup (changed, "Connected", "b", &connected))
		event (data, tbg_dbus_device_get_name (TBG_DBUS_DEVICE (iface)),
		       connected ? "connected" : "disconnected", NULL,
		       connected ? _("connected") : _("disconnected"));
}

static void
on_signal (GDBusObjectManagerClient *om, GDBusObjectProxy *obj, GDBusProxy *iface,
           const char *sender, const char *signal, GVariant *params, gpointer data)
{
	Ctl *ctl = data;
	const char *name;

	if (!TBG_DBUS_IS_DEVICE (iface))
		return;
	name = tbg_dbus_device_get_name (TBG_DBUS_DEVICE (iface));
	if (g_str_equal (signal, "RpcRequested")) {
		guint32 id;
		const char *method, *params_json;
		json_t *p;
		g_autofree char *human = NULL;

		g_variant_get (params, "(u&s&s)", &id, &method, &params_json);
		p = json_loads (params_json, JSON_DECODE_ANY, NULL);
		human = g_strdup_printf (_("RPC %u %s %s"), id, method, params_json);
		event (ctl, name, "rpc", json_pack ("{s:i,s:s,s:o}", "id", (int) id, "method", method,
		                                    "params", p ? p : json_null ()), human);
	} else if (g_str_equal (signal, "SharedAttributesChanged")) {
		g_autoptr (GVariant) changed = g_variant_get_child_value (params, 0);
		g_autofree const char **deleted = NULL;
		g_autofree char *text = vardict_text (changed);
		g_autofree char *human = NULL, *del = NULL;
		json_t *arr = json_array ();

		g_variant_get_child (params, 1, "^a&s", &deleted);
		for (guint i = 0; deleted[i] != NULL; i++)
			json_array_append_new (arr, json_string (deleted[i]));
		del = g_strjoinv (", ", (char **) deleted);
		human = g_strdup_printf (_("shared attributes %s%s%s"), text,
		                         *del ? _(", deleted: ") : "", del);
		event (ctl, name, "shared-attributes",
		       json_pack ("{s:o,s:o}", "changed", tbg_vardict_to_json (changed, NULL),
		                  "deleted", arr), human);
	}
}

static void
on_manager_changed (GDBusProxy *proxy, GVariant *changed, const char * const *invalidated,
                    gpointer data)
{
	gboolean up;

	if (g_variant_lookup (changed, "Connected", "b", &up))
		event (data, NULL, up ? "link-up" : "link-down", NULL,
		       up ? _("gateway: connected to ThingsBoard") : _("gateway: ThingsBoard link lost"));
}

static void
on_owner_changed (GObject *om, GParamSpec *pspec, gpointer data)
{
	g_autofree char *owner = g_dbus_object_manager_client_get_name_owner (G_DBUS_OBJECT_MANAGER_CLIENT (om));

	event (data, NULL, owner ? "started" : "stopped", NULL,
	       owner ? _("gateway: tbgwd started") : _("gateway: tbgwd stopped"));
}

static gboolean
quit_loop (gpointer data)
{
	g_main_loop_quit (data);
	return G_SOURCE_REMOVE;
}

static int
cmd_monitor (Ctl *ctl, int argc, char **argv)
{
	g_autoptr (GMainLoop) loop = g_main_loop_new (NULL, FALSE);

	if (argc != 0)
		return usage_error (_("monitor takes no arguments"));
	g_signal_connect (ctl->om, "object-added", G_CALLBACK (on_object_added), ctl);
	g_signal_connect (ctl->om, "object-removed", G_CALLBACK (on_object_removed), ctl);
	g_signal_connect (ctl->om, "interface-proxy-properties-changed",
	                  G_CALLBACK (on_properties_changed), ctl);
	g_signal_connect (ctl->om, "interface-proxy-signal", G_CALLBACK (on_signal), ctl);
	g_signal_connect (ctl->om, "notify::name-owner", G_CALLBACK (on_owner_changed), ctl);
	g_signal_connect (ctl->manager, "g-properties-changed", G_CALLBACK (on_manager_changed), ctl);
	g_unix_signal_add (SIGINT, quit_loop, loop);
	g_unix_signal_add (SIGTERM, quit_loop, loop);
	/* on stderr, so --json output stays pure; scripts may wait for it */
	g_printerr (_("Monitoring %s on the %s bus; Ctrl-C stops.\n"), BUS_NAME,
	            ctl->session ? "session" : "system");
	g_main_loop_run (loop);
	return EXIT_OK;
}

/* ---- rpc-handler --------------------------------------------------------------------- */

#define HANDLER_PATH "/org/tbgw/ctl/RpcHandler"

typedef struct {
	Ctl        *ctl;
	const char *device;
	const char *reply;     /* --reply JSON */
	char      **exec;      /* --exec COMMAND ARGS... */
} RpcHandler;

typedef struct {
	RpcHandler            *h;
	GDBusMethodInvocation *inv;
	guint32                id;
	char                  *method;
} RpcCall;

static void
rpc_call_answer (RpcCall *c, const char *result, const char *error_text)
{
	g_autofree char *human = NULL;

	if (error_text != NULL) {
		human = g_strdup_printf (_("RPC %u %s answered with error: %s"), c->id, c->method, error_text);
		g_dbus_method_invocation_return_dbus_error (c->inv, "org.tbgw.Gateway1.Error.Failed", error_text);
		event (c->h->ctl, c->h->device, "rpc-answered",
		       json_pack ("{s:i,s:s,s:s}", "id", (int) c->id, "method", c->method, "error", error_text), human);
	} else {
		human = g_strdup_printf (_("RPC %u %s answered: %s"), c->id, c->method, result);
		g_dbus_method_invocation_return_value (c->inv, g_variant_new ("(s)", result));
		event (c->h->ctl, c->h->device, "rpc-answered",
		       json_pack ("{s:i,s:s,s:o}", "id", (int) c->id, "method", c->method,
		                  "result", json_loads (result, JSON_DECODE_ANY, NULL)), human);
	}
	g_free (c->method);
	g_free (c);
}

static void
rpc_exec_done (GObject *obj, GAsyncResult *res, gpointer data)
{
	RpcCall *c = data;
	g_autoptr (GError) error = NULL;
	g_autofree char *out = NULL, *err = NULL;
	json_t *j;

	if (!g_subprocess_communicate_utf8_finish (G_SUBPROCESS (obj), res, &out, &err, &error)) {
		rpc_call_answer (c, NULL, error->message);
		return;
	}
	if (!g_subprocess_get_successful (G_SUBPROCESS (obj))) {
		g_strstrip (err);
		rpc_call_answer (c, NULL, *err ? err : _("the handler command failed"));
		return;
	}
	g_strstrip (out);
	/* The command's output is the answer: JSON as it is, other text as a string. */
	j = json_loads (out, JSON_DECODE_ANY, NULL);
	if (j == NULL) {
		char *text;

		j = json_string (out);
		text = j ? json_dumps (j, JSON_ENCODE_ANY) : NULL;
		rpc_call_answer (c, text ? text : "{}", j ? NULL : _("the handler's output is not UTF-8"));
		free (text);
	} else {
		rpc_call_answer (c, *out ? out : "{}", NULL);
	}
	json_decref (j);
}

static gboolean
on_handle_rpc (TbgDbusRpcHandler *iface, GDBusMethodInvocation *inv, guint32 id, const char *method,
               const char *params, gpointer data)
{
	RpcHandler *h = data;
	RpcCall *c = g_new0 (RpcCall, 1);
	g_autofree char *human = g_strdup_printf (_("RPC %u %s %s"), id, method, params);
	json_t *p = json_loads (params, JSON_DECODE_ANY, NULL);

	c->h = h;
	c->inv = inv;
	c->id = id;
	c->method = g_strdup (method);
	event (h->ctl, h->device, "rpc", json_pack ("{s:i,s:s,s:o}", "id", (int) id, "method", method,
	                                            "params", p ? p : json_null ()), human);
	if (h->exec != NULL) {
		g_autoptr (GPtrArray) argv = g_ptr_array_new ();
		g_autoptr (GError) error = NULL;
		g_autoptr (GSubprocess) proc = NULL;

		for (guint i = 0; h->exec[i] != NULL; i++)
			g_ptr_array_add (argv, h->exec[i]);
		g_ptr_array_add (argv, (gpointer) method);
		g_ptr_array_add (argv, (gpointer) params);
		g_ptr_array_add (argv, NULL);
		proc = g_subprocess_newv ((const char * const *) argv->pdata,
		                          G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error);
		if (proc == NULL)
			rpc_call_answer (c, NULL, error->message);
		else
			g_subprocess_communicate_utf8_async (proc, NULL, NULL, rpc_exec_done, c);
	} else {
		rpc_call_answer (c, h->reply, NULL);
	}
	return TRUE;
}

static int
cmd_rpc_handler (Ctl *ctl, int argc, char **argv)
{
	g_autoptr (GMainLoop) loop = g_main_loop_new (NULL, FALSE);
	g_autoptr (TbgDbusRpcHandler) iface = tbg_dbus_rpc_handler_skeleton_new ();
	g_autoptr (TbgDbusDevice) d = NULL;
	g_autoptr (GError) error = NULL;
	RpcHandler h = { ctl, NULL, "{}", NULL };
	json_t *check;

	for (int i = 0; i < argc; i++) {
		if (g_str_equal (argv[i], "--reply") && i + 1 < argc) {
			h.reply = argv[++i];
		} else if (g_str_equal (argv[i], "--exec") && i + 1 < argc) {
			h.exec = &argv[i + 1];
			break;
		} else if (argv[i][0] == '-' && argv[i][1] == '-') {
			return usage_error (_("rpc-handler: unknown option or missing value “%s”"), argv[i]);
		} else if (h.device == NULL) {
			h.device = argv[i];
		} else {
			return usage_error (_("rpc-handler takes one DEVICE"));
		}
	}
	if (h.device == NULL)
		return usage_error (_("rpc-handler needs a DEVICE"));
	check = json_loads (h.reply, JSON_DECODE_ANY, NULL);
	if (check == NULL)
		return usage_error (_("rpc-handler: --reply wants JSON, e.g. '{\"ok\":true}'"));
	json_decref (check);
	d = find_device (ctl, h.device);
	if (d == NULL)
		return EXIT_FAILED;
	h.device = tbg_dbus_device_get_name (d);
	g_signal_connect (iface, "handle-handle-rpc", G_CALLBACK (on_handle_rpc), &h);
	if (!g_dbus_interface_skeleton_export (G_DBUS_INTERFACE_SKELETON (iface),
		g_dbus_proxy_get_connection (G_DBUS_PROXY (d)), HANDLER_PATH, &error))
		return report ("rpc-handler", error);
	if (!tbg_dbus_device_call_register_rpc_handler_sync (d, HANDLER_PATH, NULL, &error)) {
		g_dbus_interface_skeleton_unexport (G_DBUS_INTERFACE_SKELETON (iface));
		return report ("rpc-handler", error);
	}
	g_unix_signal_add (SIGINT, quit_loop, loop);
	g_unix_signal_add (SIGTERM, quit_loop, loop);
	g_printerr (_("Answering RPCs of “%s”; Ctrl-C stops.\n"), h.device);
	g_main_loop_run (loop);
	/* Leaving the bus would drop the handler too; say it explicitly. */
	tbg_dbus_device_call_unregister_rpc_handler_sync (d, HANDLER_PATH, NULL, NULL);
	g_dbus_interface_skeleton_unexport (G_DBUS_INTERFACE_SKELETON (iface));
	return EXIT_OK;
}

/* ---- main ----------------------------------------------------------------------- */

typedef struct {
	const char *name;
	int (*run) (Ctl *ctl, int argc, char **argv);
} Command;

static const Command commands[] = {
	{ "status", cmd_status },
	{ "devices", cmd_devices },
	{ "show", cmd_show },
	{ "create", cmd_create },
	{ "remove", cmd_remove },
	{ "connect", cmd_connect },
	{ "disconnect", cmd_disconnect },
	{ "telemetry", cmd_telemetry },
	{ "attributes", cmd_attributes },
	{ "request-attributes", cmd_request_attributes },
	{ "claim", cmd_claim },
	{ "reconnect", cmd_reconnect },
	{ "reload", cmd_reload },
	{ "monitor", cmd_monitor },
	{ "rpc-handler", cmd_rpc_handler },
};

int
main (int argc, char **argv)
{
	Ctl ctl = { 0 };
	const Command *cmd = NULL;
	g_autoptr (GPtrArray) rest = g_ptr_array_new ();
	int i, rc;

	setlocale (LC_ALL, "");
	bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
	bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
	textdomain (GETTEXT_PACKAGE);
	/* Global options come before the command; --json also works after it
	 * except where telemetry and attributes take it as their input. */
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (g_str_equal (argv[i], "--session")) {
			ctl.session = TRUE;
		} else if (g_str_equal (argv[i], "--json")) {
			ctl.json = TRUE;
		} else if (g_str_equal (argv[i], "-h") || g_str_equal (argv[i], "--help")) {
			g_print ("%s", _(usage_text));
			return EXIT_OK;
		} else if (g_str_equal (argv[i], "--version")) {
			g_print ("tbgwctl %s\n", PACKAGE_VERSION);
			return EXIT_OK;
		} else {
			return usage_error (_("unknown option “%s”"), argv[i]);
		}
	}
	if (i >= argc)
		return usage_error (_("no COMMAND given"));
	for (guint c = 0; c < G_N_ELEMENTS (commands); c++) {
		if (g_str_equal (argv[i], commands[c].name))
			cmd = &commands[c];
	}
	if (cmd == NULL)
		return usage_error (_("unknown command “%s”"), argv[i]);
	for (int j = i + 1; j < argc; j++) {
		if (g_str_equal (argv[j], "--exec")) {
			/* the rest is the command line of the handler */
			for (; j < argc; j++)
				g_ptr_array_add (rest, argv[j]);
			break;
		}
		gboolean takes_json = g_str_equal (cmd->name, "telemetry") ||
		                      g_str_equal (cmd->name, "attributes");

		if (g_str_equal (argv[j], "--session"))
			ctl.session = TRUE;
		else if (g_str_equal (argv[j], "--json") && !takes_json)
			ctl.json = TRUE;
		else if (g_str_equal (argv[j], "-h") || g_str_equal (argv[j], "--help")) {
			g_print ("%s", _(usage_text));
			return EXIT_OK;
		} else
			g_ptr_array_add (rest, argv[j]);
	}
	g_ptr_array_add (rest, NULL);   /* --exec hands its tail on as an argv */
	rc = connect_bus (&ctl);
	if (rc == EXIT_OK)
		rc = cmd->run (&ctl, (int) rest->len - 1, (char **) rest->pdata);
	g_clear_object (&ctl.manager);
	g_clear_object (&ctl.om);
	return rc;
}
