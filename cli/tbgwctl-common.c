/* SPDX-License-Identifier: Apache-2.0 */
/* tbgwctl-common.c — the connection to tbgwd and what every command shares. */
#include "tbgwctl-common.h"
#include "dbus-json.h"
#include "i18n.h"

#include <stdio.h>
#include <stdlib.h>

void
tbg_ctl_print_usage (const TbgCtlCommand *cmd, FILE *to)
{
	fprintf (to, _("Usage: tbgwctl %s%s%s\n"), cmd->name, *cmd->args ? " " : "", cmd->args);
}

int
tbg_ctl_usage_error (TbgCtl *ctl, const char *format, ...)
{
	g_autofree char *msg = NULL;
	va_list ap;

	va_start (ap, format);
	msg = g_strdup_vprintf (format, ap);
	va_end (ap);
	if (ctl->cmd != NULL) {
		g_printerr ("tbgwctl: %s: %s\n", ctl->cmd->name, msg);
		tbg_ctl_print_usage (ctl->cmd, stderr);
		g_printerr (_("Try “tbgwctl help %s”.\n"), ctl->cmd->name);
	} else {
		g_printerr ("tbgwctl: %s\n", msg);
		g_printerr (_("Try “tbgwctl help”.\n"));
	}
	return TBG_CTL_EXIT_USAGE;
}

int
tbg_ctl_report (const char *what, GError *error)
{
	g_autofree char *remote = g_dbus_error_get_remote_error (error);

	g_dbus_error_strip_remote_error (error);
	g_printerr ("tbgwctl: %s: %s\n", what, error->message);
	if (remote != NULL && (g_str_equal (remote, "org.freedesktop.DBus.Error.AccessDenied") ||
	                       g_str_equal (remote, "org.tbgw.Gateway1.Error.PermissionDenied")))
		g_printerr (_("(changing things needs root or membership of group “tbgw”)\n"));
	if (remote != NULL && (g_str_equal (remote, "org.freedesktop.DBus.Error.ServiceUnknown") ||
	                       g_str_equal (remote, "org.freedesktop.DBus.Error.NameHasNoOwner")))
		return TBG_CTL_EXIT_UNREACHABLE;
	return TBG_CTL_EXIT_FAILED;
}

static GDBusObjectManager *
new_object_manager (TbgCtl *ctl, GDBusObjectManagerClientFlags flags, GError **error)
{
	return tbg_dbus_object_manager_client_new_for_bus_sync (
		ctl->session ? G_BUS_TYPE_SESSION : G_BUS_TYPE_SYSTEM, flags,
		TBG_CTL_BUS_NAME, TBG_CTL_MANAGER_PATH, NULL, error);
}

/* Without DO_NOT_AUTO_START: where the bus has an activation file for
 * tbgwd, the first call starts it. */
int
tbg_ctl_connect (TbgCtl *ctl, gboolean must_run)
{
	g_autoptr (GError) error = NULL;
	g_autofree char *owner = NULL;
	const char *bus = ctl->session ? "session" : "system";
	GDBusProxyFlags proxy_flags = G_DBUS_PROXY_FLAGS_NONE;

	ctl->om = new_object_manager (ctl, G_DBUS_OBJECT_MANAGER_CLIENT_FLAGS_NONE, &error);
	if (ctl->om == NULL && g_dbus_error_is_remote_error (error)) {
		g_autofree char *remote = g_dbus_error_get_remote_error (error);

		/* Neither running nor activatable: the caller is told below. */
		if (g_strcmp0 (remote, "org.freedesktop.DBus.Error.ServiceUnknown") == 0 ||
		    g_strcmp0 (remote, "org.freedesktop.DBus.Error.Spawn.ServiceNotFound") == 0) {
			g_clear_error (&error);
			ctl->om = new_object_manager (ctl, G_DBUS_OBJECT_MANAGER_CLIENT_FLAGS_DO_NOT_AUTO_START,
			                              &error);
		}
	}
	if (ctl->om == NULL) {
		g_printerr (_("tbgwctl: cannot reach the D-Bus %s bus: %s\n"), bus, error->message);
		return TBG_CTL_EXIT_UNREACHABLE;
	}
	owner = g_dbus_object_manager_client_get_name_owner (G_DBUS_OBJECT_MANAGER_CLIENT (ctl->om));
	if (owner == NULL && must_run) {
		if (ctl->session)
			g_printerr (_("tbgwctl: tbgwd is not running on the session bus (%s has no owner "
			              "and D-Bus cannot start it); start it with: tbgwd --session &\n"),
			            TBG_CTL_BUS_NAME);
		else
			g_printerr (_("tbgwctl: tbgwd is not running on the system bus (%s has no owner "
			              "and D-Bus cannot start it); start it with: sudo systemctl start tbgwd "
			              "(for a tbgwd --session, use tbgwctl --session)\n"), TBG_CTL_BUS_NAME);
		return TBG_CTL_EXIT_UNREACHABLE;
	}
	/* one that waits for tbgwd must not start it over and over */
	if (owner == NULL)
		proxy_flags |= G_DBUS_PROXY_FLAGS_DO_NOT_AUTO_START;
	ctl->manager = tbg_dbus_manager_proxy_new_sync (
		g_dbus_object_manager_client_get_connection (G_DBUS_OBJECT_MANAGER_CLIENT (ctl->om)),
		proxy_flags, TBG_CTL_BUS_NAME, TBG_CTL_MANAGER_PATH, NULL, &error);
	if (ctl->manager == NULL)
		return tbg_ctl_report (_("cannot reach tbgwd"), error);
	g_dbus_proxy_set_default_timeout (G_DBUS_PROXY (ctl->manager), TBG_CTL_CALL_TIMEOUT_MS);
	return TBG_CTL_EXIT_OK;
}

void
tbg_ctl_disconnect (TbgCtl *ctl)
{
	g_clear_object (&ctl->manager);
	g_clear_object (&ctl->om);
}

static gint
by_name (gconstpointer a, gconstpointer b)
{
	return g_strcmp0 (tbg_dbus_device_get_name ((TbgDbusDevice *) a),
	                  tbg_dbus_device_get_name ((TbgDbusDevice *) b));
}

GList *
tbg_ctl_list_devices (TbgCtl *ctl)
{
	GList *objects = g_dbus_object_manager_get_objects (ctl->om);
	GList *devices = NULL;

	for (GList *l = objects; l != NULL; l = l->next) {
		TbgDbusDevice *d = tbg_dbus_object_get_device (TBG_DBUS_OBJECT (l->data));

		if (d != NULL) {
			g_dbus_proxy_set_default_timeout (G_DBUS_PROXY (d), TBG_CTL_CALL_TIMEOUT_MS);
			devices = g_list_prepend (devices, d);
		}
	}
	g_list_free_full (objects, g_object_unref);
	return g_list_sort (devices, by_name);
}

TbgDbusDevice *
tbg_ctl_find_device (TbgCtl *ctl, const char *which)
{
	GList *devices = tbg_ctl_list_devices (ctl);
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

static const char *
or_empty (const char *s)
{
	return s ? s : "";
}

json_t *
tbg_ctl_device_json (TbgDbusDevice *d)
{
	json_t *attrs = tbg_vardict_to_json (tbg_dbus_device_get_attributes (d), NULL);

	return json_pack ("{s:s,s:s,s:s,s:s,s:s,s:b,s:I,s:o}",
	                  "path", g_dbus_proxy_get_object_path (G_DBUS_PROXY (d)),
	                  "name", or_empty (tbg_dbus_device_get_name (d)),
	                  "type", or_empty (tbg_dbus_device_get_type_ (d)),
	                  "source", or_empty (tbg_dbus_device_get_source (d)),
	                  "address", or_empty (tbg_dbus_device_get_address (d)),
	                  "connected", tbg_dbus_device_get_connected (d),
	                  "lastSeen", (json_int_t) tbg_dbus_device_get_last_seen (d),
	                  "attributes", attrs ? attrs : json_object ());
}

char *
tbg_ctl_vardict_text (GVariant *dict)
{
	json_t *j = dict ? tbg_vardict_to_json (dict, NULL) : NULL;
	char *text = j ? json_dumps (j, JSON_COMPACT) : NULL;
	char *out = g_strdup (text ? text : "{}");

	free (text);
	json_decref (j);
	return out;
}

char *
tbg_ctl_optional_string (GDBusProxy *proxy, const char *property)
{
	g_autoptr (GVariant) v = g_dbus_proxy_get_cached_property (proxy, property);

	if (v == NULL || !g_variant_is_of_type (v, G_VARIANT_TYPE_STRING))
		return NULL;
	return g_variant_dup_string (v, NULL);
}
