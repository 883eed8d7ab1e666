/* SPDX-License-Identifier: Apache-2.0 */
/* tbgwctl-monitor.c — watching and answering: monitor, rpc-handler. Both
 * print events the same way: a timestamp, then what happened. */
#include "tbgwctl-commands.h"
#include "dbus-json.h"
#include "i18n.h"

#include <glib-unix.h>
#include <stdio.h>
#include <stdlib.h>

static void
event (TbgCtl *ctl, const char *device, const char *kind, json_t *fields, const char *human)
{
	g_autoptr (GDateTime) now = g_date_time_new_now_utc ();

	if (ctl->json) {
		g_autofree char *t = tbg_ctl_time_rfc3339 (now);
		json_t *j = json_pack ("{s:s,s:s}", "time", t, "event", kind);

		if (device != NULL)
			json_object_set_new (j, "device", json_string (device));
		if (fields != NULL)
			json_object_update (j, fields);
		tbg_ctl_print_json (j);
		json_decref (j);
	} else {
		g_autofree char *t = tbg_ctl_time_human (now);
		g_autofree char *line = g_strdup_printf ("%s%s%s", device ? device : "", device ? ": " : "", human);
		g_autofree char *shown = tbg_ctl_printable (line);

		g_print ("%s %s\n", t, shown);
	}
	/* one line per event, even into a pipe */
	fflush (stdout);
	json_decref (fields);
}

static gboolean
quit_loop (gpointer data)
{
	g_main_loop_quit (data);
	return G_SOURCE_REMOVE;
}

/* ---- monitor ----------------------------------------------------------------------- */

typedef struct {
	TbgCtl  *ctl;
	gboolean running;    /* whether tbgwd owned the name when we last looked */
} Monitor;

static gboolean
tbgwd_running (Monitor *m)
{
	g_autofree char *owner =
		g_dbus_object_manager_client_get_name_owner (G_DBUS_OBJECT_MANAGER_CLIENT (m->ctl->om));

	return owner != NULL;
}

static void
on_object_added (GDBusObjectManager *om, GDBusObject *obj, gpointer data)
{
	Monitor *m = data;
	g_autoptr (TbgDbusDevice) d = tbg_dbus_object_get_device (TBG_DBUS_OBJECT (obj));
	g_autofree char *human = NULL;

	if (d == NULL)
		return;
	human = g_strdup_printf (_("added (%s, %s)"), tbg_dbus_device_get_source (d),
	                         g_dbus_object_get_object_path (obj));
	event (m->ctl, tbg_dbus_device_get_name (d), "added",
	       json_pack ("{s:s,s:s}", "source", tbg_dbus_device_get_source (d),
	                  "path", g_dbus_object_get_object_path (obj)), human);
}

static void
on_object_removed (GDBusObjectManager *om, GDBusObject *obj, gpointer data)
{
	Monitor *m = data;
	g_autoptr (TbgDbusDevice) d = tbg_dbus_object_get_device (TBG_DBUS_OBJECT (obj));

	/* The object manager drops every object when tbgwd goes away; that is
	 * tbgwd stopping (one event), not each device being removed. */
	if (d != NULL && tbgwd_running (m))
		event (m->ctl, tbg_dbus_device_get_name (d), "removed", NULL, _("removed"));
}

static void
on_properties_changed (GDBusObjectManagerClient *om, GDBusObjectProxy *obj, GDBusProxy *iface,
                       GVariant *changed, const char * const *invalidated, gpointer data)
{
	Monitor *m = data;
	gboolean connected;

	if (!TBG_DBUS_IS_DEVICE (iface))
		return;
	if (g_variant_lookup (changed, "Connected", "b", &connected))
		event (m->ctl, tbg_dbus_device_get_name (TBG_DBUS_DEVICE (iface)),
		       connected ? "connected" : "disconnected", NULL,
		       connected ? _("connected") : _("disconnected"));
}

static void
on_signal (GDBusObjectManagerClient *om, GDBusObjectProxy *obj, GDBusProxy *iface,
           const char *sender, const char *signal, GVariant *params, gpointer data)
{
	Monitor *m = data;
	const char *name;

	if (!TBG_DBUS_IS_DEVICE (iface))
		return;
	name = tbg_dbus_device_get_name (TBG_DBUS_DEVICE (iface));
	if (g_str_equal (signal, "RpcRequested") && g_variant_is_of_type (params, G_VARIANT_TYPE ("(uss)"))) {
		guint32 id;
		const char *method, *params_json;
		json_t *p;
		g_autofree char *human = NULL;

		g_variant_get (params, "(u&s&s)", &id, &method, &params_json);
		p = json_loads (params_json, JSON_DECODE_ANY, NULL);
		human = g_strdup_printf (_("RPC %u %s %s"), id, method, params_json);
		event (m->ctl, name, "rpc", json_pack ("{s:I,s:s,s:o}", "id", (json_int_t) id, "method", method,
		                                       "params", p ? p : json_null ()), human);
	} else if (g_str_equal (signal, "SharedAttributesChanged") &&
	           g_variant_is_of_type (params, G_VARIANT_TYPE ("(a{sv}as)"))) {
		g_autoptr (GVariant) changed = g_variant_get_child_value (params, 0);
		g_autofree const char **deleted = NULL;
		g_autofree char *text = tbg_ctl_vardict_text (changed);
		g_autofree char *human = NULL, *del = NULL;
		json_t *arr = json_array ();
		json_t *cj = tbg_vardict_to_json (changed, NULL);

		g_variant_get_child (params, 1, "^a&s", &deleted);
		for (guint i = 0; deleted[i] != NULL; i++)
			json_array_append_new (arr, json_string (deleted[i]));
		del = g_strjoinv (", ", (char **) deleted);
		human = g_strdup_printf (_("shared attributes %s%s%s"), text,
		                         *del ? _(", deleted: ") : "", del);
		event (m->ctl, name, "shared-attributes",
		       json_pack ("{s:o,s:o}", "changed", cj ? cj : json_object (), "deleted", arr), human);
	}
}

static void
on_manager_changed (GDBusProxy *proxy, GVariant *changed, const char * const *invalidated,
                    gpointer data)
{
	Monitor *m = data;
	gboolean up;

	if (g_variant_lookup (changed, "Connected", "b", &up))
		event (m->ctl, NULL, up ? "link-up" : "link-down", NULL,
		       up ? _("gateway: connected to ThingsBoard") : _("gateway: ThingsBoard link lost"));
}

static void
on_owner_changed (GObject *om, GParamSpec *pspec, gpointer data)
{
	Monitor *m = data;
	gboolean running = tbgwd_running (m);

	/* GLib may notify more than once for one change of owner */
	if (running == m->running)
		return;
	m->running = running;
	event (m->ctl, NULL, running ? "started" : "stopped", NULL,
	       running ? _("gateway: tbgwd started") : _("gateway: tbgwd stopped"));
}

static int
run_monitor (TbgCtl *ctl, int argc, char **argv)
{
	g_autoptr (GMainLoop) loop = g_main_loop_new (NULL, FALSE);
	Monitor m = { ctl, FALSE };

	m.running = tbgwd_running (&m);
	g_signal_connect (ctl->om, "object-added", G_CALLBACK (on_object_added), &m);
	g_signal_connect (ctl->om, "object-removed", G_CALLBACK (on_object_removed), &m);
	g_signal_connect (ctl->om, "interface-proxy-properties-changed",
	                  G_CALLBACK (on_properties_changed), &m);
	g_signal_connect (ctl->om, "interface-proxy-signal", G_CALLBACK (on_signal), &m);
	g_signal_connect (ctl->om, "notify::name-owner", G_CALLBACK (on_owner_changed), &m);
	g_signal_connect (ctl->manager, "g-properties-changed", G_CALLBACK (on_manager_changed), &m);
	g_unix_signal_add (SIGINT, quit_loop, loop);
	g_unix_signal_add (SIGTERM, quit_loop, loop);
	/* on stderr, so --json output stays pure; scripts may wait for it */
	if (!m.running)
		g_printerr (_("Waiting for %s to appear…\n"), TBG_CTL_BUS_NAME);
	g_printerr (_("Monitoring %s on the %s bus; Ctrl-C stops.\n"), TBG_CTL_BUS_NAME,
	            ctl->session ? "session" : "system");
	g_main_loop_run (loop);
	g_signal_handlers_disconnect_by_data (ctl->om, &m);
	g_signal_handlers_disconnect_by_data (ctl->manager, &m);
	return TBG_CTL_EXIT_OK;
}

const TbgCtlCommand tbg_ctl_cmd_monitor = {
	.name = "monitor", .args = "",
	.summary = N_("print RPCs, attribute updates, connects live"),
	.description = N_("Prints, until interrupted, every event with its time: RPCs the server "
	                  "sends to a device, shared attribute updates, devices connecting, "
	                  "disconnecting, appearing and going, the MQTT link going up or down, and "
	                  "tbgwd starting or stopping. When tbgwd is not running it waits for it."),
	.min_args = 0, .max_args = 0, .may_wait = TRUE,
	.run = run_monitor,
};

/* ---- rpc-handler ------------------------------------------------------------------- */

#define HANDLER_PATH "/org/tbgw/ctl/RpcHandler"

static char *opt_reply;
static gboolean opt_exec_shown;   /* only for --help: main() cuts --exec off first */

static const GOptionEntry rpc_handler_entries[] = {
	{ "reply", 0, 0, G_OPTION_ARG_STRING, &opt_reply, N_("answer every RPC with JSON (default: {})"), N_("JSON") },
	{ "exec", 0, 0, G_OPTION_ARG_NONE, &opt_exec_shown,
	  N_("answer with the output of COMMAND ARGS... METHOD PARAMS; the rest of the line is the command"),
	  N_("COMMAND") },
	{ NULL }
};

typedef struct {
	TbgCtl     *ctl;
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
		       json_pack ("{s:I,s:s,s:s}", "id", (json_int_t) c->id, "method", c->method,
		                  "error", error_text), human);
	} else {
		json_t *r = json_loads (result, JSON_DECODE_ANY, NULL);

		human = g_strdup_printf (_("RPC %u %s answered: %s"), c->id, c->method, result);
		g_dbus_method_invocation_return_value (c->inv, g_variant_new ("(s)", result));
		event (c->h->ctl, c->h->device, "rpc-answered",
		       json_pack ("{s:I,s:s,s:o}", "id", (json_int_t) c->id, "method", c->method,
		                  "result", r ? r : json_null ()), human);
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
	event (h->ctl, h->device, "rpc", json_pack ("{s:I,s:s,s:o}", "id", (json_int_t) id, "method", method,
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
run_rpc_handler (TbgCtl *ctl, int argc, char **argv)
{
	g_autoptr (GMainLoop) loop = g_main_loop_new (NULL, FALSE);
	g_autoptr (TbgDbusRpcHandler) iface = tbg_dbus_rpc_handler_skeleton_new ();
	g_autoptr (TbgDbusDevice) d = NULL;
	g_autoptr (GError) error = NULL;
	RpcHandler h = { ctl, NULL, opt_reply ? opt_reply : "{}", ctl->exec };
	json_t *check;

	if (opt_reply != NULL && ctl->exec != NULL)
		return tbg_ctl_usage_error (ctl, _("give --reply or --exec, not both"));
	check = json_loads (h.reply, JSON_DECODE_ANY, NULL);
	if (check == NULL)
		return tbg_ctl_usage_error (ctl, _("--reply wants JSON, e.g. '{\"ok\":true}'"));
	json_decref (check);
	d = tbg_ctl_find_device (ctl, argv[0]);
	if (d == NULL)
		return TBG_CTL_EXIT_FAILED;
	h.device = tbg_dbus_device_get_name (d);
	g_signal_connect (iface, "handle-handle-rpc", G_CALLBACK (on_handle_rpc), &h);
	if (!g_dbus_interface_skeleton_export (G_DBUS_INTERFACE_SKELETON (iface),
		g_dbus_proxy_get_connection (G_DBUS_PROXY (d)), HANDLER_PATH, &error))
		return tbg_ctl_report ("rpc-handler", error);
	if (!tbg_dbus_device_call_register_rpc_handler_sync (d, HANDLER_PATH, NULL, &error)) {
		g_dbus_interface_skeleton_unexport (G_DBUS_INTERFACE_SKELETON (iface));
		return tbg_ctl_report ("rpc-handler", error);
	}
	g_unix_signal_add (SIGINT, quit_loop, loop);
	g_unix_signal_add (SIGTERM, quit_loop, loop);
	g_printerr (_("Answering RPCs of “%s”; Ctrl-C stops.\n"), h.device);
	g_main_loop_run (loop);
	/* Leaving the bus would drop the handler too; say it explicitly. */
	tbg_dbus_device_call_unregister_rpc_handler_sync (d, HANDLER_PATH, NULL, NULL);
	g_dbus_interface_skeleton_unexport (G_DBUS_INTERFACE_SKELETON (iface));
	return TBG_CTL_EXIT_OK;
}

const TbgCtlCommand tbg_ctl_cmd_rpc_handler = {
	.name = "rpc-handler", .args = "DEVICE [--reply JSON | --exec COMMAND [ARGS]...]",
	.summary = N_("answer a device's RPCs (JSON or a command)"),
	.description = N_("Registers as the RPC handler of a virtual device and answers each RPC "
	                  "until interrupted: with JSON, or with the standard output of COMMAND "
	                  "ARGS... METHOD PARAMS (JSON as it is, other text as a JSON string; a "
	                  "command that fails answers with its standard error)."),
	.min_args = 1, .max_args = 1, .takes_device = TRUE, .exec_tail = TRUE,
	.entries = rpc_handler_entries,
	.run = run_rpc_handler,
};
