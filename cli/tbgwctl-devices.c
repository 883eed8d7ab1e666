/* SPDX-License-Identifier: Apache-2.0 */
/* tbgwctl-devices.c — the gateway and its devices: status, devices, show,
 * create, remove, connect, disconnect, reconnect, reload. */
#include "tbgwctl-commands.h"
#include "i18n.h"

#include <stdio.h>
#include <unistd.h>

static const char *
yes_no (gboolean b)
{
	return b ? _("yes") : _("no");
}

/* ---- status ------------------------------------------------------------------------ */

static int
run_status (TbgCtl *ctl, int argc, char **argv)
{
	GList *devices = tbg_ctl_list_devices (ctl);
	guint n = g_list_length (devices);
	/* another part of tbgwd may not publish it yet: shown only where it is */
	g_autofree char *creds = tbg_ctl_optional_string (G_DBUS_PROXY (ctl->manager), "CredentialsSource");

	g_list_free_full (devices, g_object_unref);
	if (ctl->json) {
		json_t *j = json_pack ("{s:s,s:s,s:b,s:I,s:i}",
		                       "version", tbg_dbus_manager_get_version (ctl->manager),
		                       "server", tbg_dbus_manager_get_server (ctl->manager),
		                       "connected", tbg_dbus_manager_get_connected (ctl->manager),
		                       "queuedMessages", (json_int_t) tbg_dbus_manager_get_queued_messages (ctl->manager),
		                       "devices", (int) n);

		if (creds != NULL)
			json_object_set_new (j, "credentialsSource", json_string (creds));
		tbg_ctl_print_json (j);
		json_decref (j);
		return TBG_CTL_EXIT_OK;
	}
	g_print (_("Version:      %s\n"), tbg_dbus_manager_get_version (ctl->manager));
	g_print (_("Server:       %s\n"), tbg_dbus_manager_get_server (ctl->manager));
	g_print (_("Connected:    %s\n"), yes_no (tbg_dbus_manager_get_connected (ctl->manager)));
	if (creds != NULL)
		g_print (_("Credentials:  %s\n"), creds);
	g_print (_("Queued:       %" G_GUINT64_FORMAT " messages\n"),
	         tbg_dbus_manager_get_queued_messages (ctl->manager));
	g_print (_("Devices:      %u\n"), n);
	return TBG_CTL_EXIT_OK;
}

const TbgCtlCommand tbg_ctl_cmd_status = {
	.name = "status", .args = "",
	.summary = N_("version, server, link, credentials, queue"),
	.description = N_("Shows tbgwd's version, the ThingsBoard server, whether the MQTT link is up, "
	                  "how the gateway got its credentials (where tbgwd says), the messages "
	                  "waiting for the server's acknowledgement and the number of devices."),
	.min_args = 0, .max_args = 0,
	.run = run_status,
};

/* ---- devices ----------------------------------------------------------------------- */

static gboolean opt_names, opt_null;

static const GOptionEntry devices_entries[] = {
	{ "names", 0, 0, G_OPTION_ARG_NONE, &opt_names, N_("print only the names, one a line"), NULL },
	{ "null", '0', 0, G_OPTION_ARG_NONE, &opt_null, N_("with --names: end each name with NUL, not a newline"), NULL },
	{ NULL }
};

static int
run_devices (TbgCtl *ctl, int argc, char **argv)
{
	GList *devices;
	g_autoptr (TbgCtlTable) table = NULL;
	g_autofree char *text = NULL;
	gint64 now_ms = g_get_real_time () / 1000;

	if (opt_null && !opt_names)
		return tbg_ctl_usage_error (ctl, _("--null goes with --names"));
	devices = tbg_ctl_list_devices (ctl);
	if (opt_names) {
		/* as they are, for scripts: no quoting, no truncation */
		for (GList *l = devices; l != NULL; l = l->next) {
			const char *name = tbg_dbus_device_get_name (l->data);

			fputs (name ? name : "", stdout);
			fputc (opt_null ? '\0' : '\n', stdout);
		}
	} else if (ctl->json) {
		json_t *arr = json_array ();

		for (GList *l = devices; l != NULL; l = l->next)
			json_array_append_new (arr, tbg_ctl_device_json (l->data));
		tbg_ctl_print_json (arr);
		json_decref (arr);
	} else if (devices == NULL) {
		g_print (_("No devices.\n"));
	} else {
		table = tbg_ctl_table_new (5, (const char * const[]) {
			_("NAME"), _("TYPE"), _("SOURCE"), _("CONNECTED"), _("LAST SEEN") });
		for (GList *l = devices; l != NULL; l = l->next) {
			TbgDbusDevice *d = l->data;
			g_autofree char *seen = tbg_ctl_time_ago (now_ms, tbg_dbus_device_get_last_seen (d));

			tbg_ctl_table_add_row (table, (const char * const[]) {
				tbg_dbus_device_get_name (d), tbg_dbus_device_get_type_ (d),
				tbg_dbus_device_get_source (d), yes_no (tbg_dbus_device_get_connected (d)), seen });
		}
		/* cut to the terminal; a pipe or a file gets every character */
		text = tbg_ctl_table_render (table, tbg_ctl_terminal_width (STDOUT_FILENO));
		g_print ("%s", text);
	}
	g_list_free_full (devices, g_object_unref);
	return TBG_CTL_EXIT_OK;
}

const TbgCtlCommand tbg_ctl_cmd_devices = {
	.name = "devices", .args = "[--names [-0]]",
	.summary = N_("list the devices behind the gateway"),
	.description = N_("A table of every device, whatever found it (serial, GPIO, BLE or D-Bus): "
	                  "name, type, source, whether ThingsBoard sees it connected, and when it last "
	                  "sent data. On a terminal the table is cut to its width; --json prints "
	                  "everything, --names only the names (for scripts and completion)."),
	.min_args = 0, .max_args = 0,
	.entries = devices_entries,
	.run = run_devices,
};

/* ---- show -------------------------------------------------------------------------- */

static int
run_show (TbgCtl *ctl, int argc, char **argv)
{
	g_autoptr (TbgDbusDevice) d = tbg_ctl_find_device (ctl, argv[0]);
	g_autofree char *attrs = NULL, *seen = NULL, *name = NULL;
	g_autoptr (GDateTime) t = NULL;

	if (d == NULL)
		return TBG_CTL_EXIT_FAILED;
	if (ctl->json) {
		json_t *j = tbg_ctl_device_json (d);

		tbg_ctl_print_json (j);
		json_decref (j);
		return TBG_CTL_EXIT_OK;
	}
	attrs = tbg_ctl_vardict_text (tbg_dbus_device_get_attributes (d));
	if (tbg_dbus_device_get_last_seen (d) != 0)
		t = g_date_time_new_from_unix_utc ((gint64) (tbg_dbus_device_get_last_seen (d) / 1000));
	seen = t ? tbg_ctl_time_human (t) : g_strdup (_("never"));
	name = tbg_ctl_printable (tbg_dbus_device_get_name (d));
	g_print (_("Device:     %s\n"), name);
	g_print (_("Path:       %s\n"), g_dbus_proxy_get_object_path (G_DBUS_PROXY (d)));
	g_print (_("Type:       %s\n"), tbg_dbus_device_get_type_ (d));
	g_print (_("Source:     %s\n"), tbg_dbus_device_get_source (d));
	g_print (_("Address:    %s\n"), tbg_dbus_device_get_address (d));
	g_print (_("Connected:  %s\n"), yes_no (tbg_dbus_device_get_connected (d)));
	g_print (_("Last seen:  %s\n"), seen);
	g_print (_("Attributes: %s\n"), attrs);
	return TBG_CTL_EXIT_OK;
}

const TbgCtlCommand tbg_ctl_cmd_show = {
	.name = "show", .args = "DEVICE",
	.summary = N_("one device and its attributes"),
	.description = N_("One device: path, type, source, address, connection, last data and its "
	                  "client attributes."),
	.min_args = 1, .max_args = 1, .takes_device = TRUE,
	.run = run_show,
};

/* ---- create, remove, connect, disconnect ------------------------------------------ */

static char *opt_type;

static const GOptionEntry create_entries[] = {
	{ "type", 0, 0, G_OPTION_ARG_STRING, &opt_type, N_("the ThingsBoard device profile (default: “default”)"), N_("TYPE") },
	{ NULL }
};

static int
run_create (TbgCtl *ctl, int argc, char **argv)
{
	g_autoptr (GError) error = NULL;
	g_autofree char *path = NULL, *name = tbg_ctl_printable (argv[0]);

	if (!tbg_dbus_manager_call_create_device_sync (ctl->manager, argv[0], opt_type ? opt_type : "",
	                                               &path, NULL, &error))
		return tbg_ctl_report ("create", error);
	if (ctl->json) {
		json_t *j = json_pack ("{s:s,s:s}", "name", argv[0], "path", path);

		tbg_ctl_print_json (j);
		json_decref (j);
	} else {
		g_print (_("Created “%s” at %s\n"), name, path);
	}
	return TBG_CTL_EXIT_OK;
}

const TbgCtlCommand tbg_ctl_cmd_create = {
	.name = "create", .args = "NAME [--type TYPE]",
	.summary = N_("create a virtual device and connect it"),
	.description = N_("Creates a device owned by no hardware and tells ThingsBoard it is "
	                  "connected (v1/gateway/connect). Quote names with spaces."),
	.min_args = 1, .max_args = 1,
	.entries = create_entries,
	.run = run_create,
};

static int
one_device_call (TbgCtl *ctl, const char *which)
{
	g_autoptr (TbgDbusDevice) d = tbg_ctl_find_device (ctl, which);
	g_autoptr (GError) error = NULL;
	const char *cmd = ctl->cmd->name;
	gboolean ok;

	if (d == NULL)
		return TBG_CTL_EXIT_FAILED;
	if (g_str_equal (cmd, "remove"))
		ok = tbg_dbus_manager_call_remove_device_sync (ctl->manager,
			g_dbus_proxy_get_object_path (G_DBUS_PROXY (d)), NULL, &error);
	else if (g_str_equal (cmd, "connect"))
		ok = tbg_dbus_device_call_connect_sync (d, NULL, &error);
	else
		ok = tbg_dbus_device_call_disconnect_sync (d, NULL, &error);
	return ok ? TBG_CTL_EXIT_OK : tbg_ctl_report (cmd, error);
}

static int
run_one_device (TbgCtl *ctl, int argc, char **argv)
{
	return one_device_call (ctl, argv[0]);
}

const TbgCtlCommand tbg_ctl_cmd_remove = {
	.name = "remove", .args = "DEVICE",
	.summary = N_("disconnect and remove a virtual device"),
	.description = N_("Tells ThingsBoard the device is gone and forgets it; only devices made "
	                  "with “create” can be removed."),
	.min_args = 1, .max_args = 1, .takes_device = TRUE,
	.run = run_one_device,
};

const TbgCtlCommand tbg_ctl_cmd_connect = {
	.name = "connect", .args = "DEVICE",
	.summary = N_("tell ThingsBoard a virtual device came"),
	.description = N_("Connects a virtual device in ThingsBoard again after “disconnect”."),
	.min_args = 1, .max_args = 1, .takes_device = TRUE,
	.run = run_one_device,
};

const TbgCtlCommand tbg_ctl_cmd_disconnect = {
	.name = "disconnect", .args = "DEVICE",
	.summary = N_("tell ThingsBoard a virtual device went"),
	.description = N_("Disconnects a virtual device in ThingsBoard; tbgwd keeps knowing it."),
	.min_args = 1, .max_args = 1, .takes_device = TRUE,
	.run = run_one_device,
};

/* ---- reconnect, reload ------------------------------------------------------------- */

static int
run_manager_call (TbgCtl *ctl, int argc, char **argv)
{
	g_autoptr (GError) error = NULL;
	gboolean ok;

	if (g_str_equal (ctl->cmd->name, "reconnect"))
		ok = tbg_dbus_manager_call_reconnect_sync (ctl->manager, NULL, &error);
	else
		ok = tbg_dbus_manager_call_reload_sync (ctl->manager, NULL, &error);
	return ok ? TBG_CTL_EXIT_OK : tbg_ctl_report (ctl->cmd->name, error);
}

const TbgCtlCommand tbg_ctl_cmd_reconnect = {
	.name = "reconnect", .args = "",
	.summary = N_("reconnect the MQTT link now"),
	.description = N_("Drops the MQTT connection and connects again at once."),
	.min_args = 0, .max_args = 0,
	.run = run_manager_call,
};

const TbgCtlCommand tbg_ctl_cmd_reload = {
	.name = "reload", .args = "",
	.summary = N_("re-read the configuration, apply what changed"),
	.description = N_("A file tbgwd refuses changes nothing: the error, naming file:line and "
	                  "key, is printed and the exit status is 1."),
	.min_args = 0, .max_args = 0,
	.run = run_manager_call,
};
