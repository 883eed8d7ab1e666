/* SPDX-License-Identifier: Apache-2.0 */
/* source-dbus.c — the devices D-Bus clients create with CreateDevice and
 * the client objects that answer their RPCs (RegisterRpcHandler, as a
 * BlueZ agent). The API itself is dbus-service.c, exported by the daemon
 * for its whole life. This source has no config groups, so a reload
 * leaves it running: clients' devices and handlers survive every reload.
 */
#include "source-dbus.h"
#include "i18n.h"

#include <string.h>

typedef struct {
	TbgGateway   *gw;
	guint         rpc_timeout_ms;
	/* Cancels HandleRpc calls in flight when the source stops. */
	GCancellable *cancellable;
} DbusSource;

/* A virtual device's state, kept as its source data. */
typedef struct {
	DbusSource      *src;
	TbgDevice       *dev;             /* borrowed: it owns us */
	/* The client object that answers this device's RPCs, if any. */
	GDBusConnection *handler_bus;
	char            *handler_owner;   /* unique bus name */
	char            *handler_path;
	guint            handler_watch;
} ClientDevice;

static void
drop_handler (ClientDevice *cd, const char *why)
{
	if (cd->handler_owner == NULL)
		return;
	g_message (_("RPC handler of “%s” (%s %s) %s"), tbg_device_get_name (cd->dev),
	           cd->handler_owner, cd->handler_path, why);
	g_clear_handle_id (&cd->handler_watch, g_bus_unwatch_name);
	g_clear_pointer (&cd->handler_owner, g_free);
	g_clear_pointer (&cd->handler_path, g_free);
	g_clear_object (&cd->handler_bus);
}

static void
client_device_free (ClientDevice *cd)
{
	drop_handler (cd, _("dropped: the device was removed"));
	g_free (cd);
}

static void
on_handler_vanished (GDBusConnection *bus, const char *name, gpointer data)
{
	drop_handler (data, _("dropped: the client left the bus"));
}

gboolean
tbg_dbus_clients_owns (TbgDevice *dev)
{
	return tbg_device_get_source (dev) == &tbg_source_dbus;
}

TbgDevice *
tbg_dbus_clients_create (TbgGateway *gw, const char *name, const char *type, const char *owner,
                         GError **error)
{
	gpointer instance = tbg_gateway_get_source_instance (gw, &tbg_source_dbus);
	ClientDevice *cd;
	TbgDevice *dev;

	if (instance == NULL) {
		g_set_error (error, TBG_ERROR, TBG_ERROR_FAILED, _("the gateway is stopping"));
		return NULL;
	}
	dev = tbg_gateway_add_device (gw, &tbg_source_dbus, instance, name, type, owner, error);
	if (dev == NULL)
		return NULL;
	cd = g_new0 (ClientDevice, 1);
	cd->src = instance;
	cd->dev = dev;
	tbg_device_set_source_data (dev, cd, (GDestroyNotify) client_device_free);
	tbg_device_set_connected (dev, TRUE);
	return dev;
}

void
tbg_dbus_clients_remove (TbgDevice *dev)
{
	ClientDevice *cd = tbg_device_get_source_data (dev);
	TbgGateway *gw;

	g_return_if_fail (tbg_dbus_clients_owns (dev));
	if (cd == NULL)
		return;   /* removed already */
	gw = cd->src->gw;
	tbg_device_set_source_data (dev, NULL, NULL);
	tbg_gateway_remove_device (gw, dev);
}

static gboolean
check_client_device (TbgDevice *dev, GError **error)
{
	if (!tbg_dbus_clients_owns (dev)) {
		g_set_error (error, TBG_ERROR, TBG_ERROR_PERMISSION_DENIED,
		             _("“%s” is a %s device and answers its RPCs itself; only devices made "
		               "with CreateDevice take RPC handlers"), tbg_device_get_name (dev),
		             tbg_device_get_source (dev) ? tbg_device_get_source (dev)->name : "?");
		return FALSE;
	}
	if (tbg_device_get_source_data (dev) == NULL) {
		g_set_error (error, TBG_ERROR, TBG_ERROR_NOT_FOUND, _("the device has been removed"));
		return FALSE;
	}
	return TRUE;
}

gboolean
tbg_dbus_clients_register_handler (TbgDevice *dev, GDBusConnection *bus, const char *sender,
                                   const char *path, GError **error)
{
	ClientDevice *cd;

	if (!check_client_device (dev, error))
		return FALSE;
	cd = tbg_device_get_source_data (dev);
	if (g_str_equal (path, "/")) {
		g_set_error (error, TBG_ERROR, TBG_ERROR_INVALID_ARGS, _("“/” is not a handler object"));
		return FALSE;
	}
	if (cd->handler_owner != NULL) {
		g_set_error (error, TBG_ERROR, TBG_ERROR_EXISTS, _("“%s” already has an RPC handler (%s %s)"),
		             tbg_device_get_name (dev), cd->handler_owner, cd->handler_path);
		return FALSE;
	}
	/* A peer-to-peer connection has no sender and no way to call back. */
	if (sender == NULL) {
		g_set_error (error, TBG_ERROR, TBG_ERROR_INVALID_ARGS, _("RPC handlers need a message bus"));
		return FALSE;
	}
	cd->handler_bus = g_object_ref (bus);
	cd->handler_owner = g_strdup (sender);
	cd->handler_path = g_strdup (path);
	cd->handler_watch = g_bus_watch_name_on_connection (bus, sender, G_BUS_NAME_WATCHER_FLAGS_NONE,
	                                                    NULL, on_handler_vanished, cd, NULL);
	g_message (_("RPC handler of “%s” registered: %s %s"), tbg_device_get_name (dev), sender, path);
	return TRUE;
}

gboolean
tbg_dbus_clients_unregister_handler (TbgDevice *dev, const char *sender, const char *path,
                                     GError **error)
{
	ClientDevice *cd = tbg_dbus_clients_owns (dev) ? tbg_device_get_source_data (dev) : NULL;

	if (cd == NULL || cd->handler_owner == NULL || !g_str_equal (cd->handler_path, path)) {
		g_set_error (error, TBG_ERROR, TBG_ERROR_NOT_FOUND, _("%s is not the RPC handler of “%s”"),
		             path, tbg_device_get_name (dev));
		return FALSE;
	}
	if (g_strcmp0 (sender, cd->handler_owner) != 0) {
		g_set_error (error, TBG_ERROR, TBG_ERROR_PERMISSION_DENIED,
		             _("the RPC handler of “%s” belongs to %s"), tbg_device_get_name (dev),
		             cd->handler_owner);
		return FALSE;
	}
	drop_handler (cd, _("unregistered"));
	return TRUE;
}

static void
handler_answered (GObject *obj, GAsyncResult *res, gpointer data)
{
	g_autoptr (TbgRpc) rpc = data;
	g_autoptr (GError) error = NULL;
	g_autoptr (GVariant) r = g_dbus_connection_call_finish (G_DBUS_CONNECTION (obj), res, &error);
	const char *text;
	json_error_t jerr;
	json_t *answer;

	if (r == NULL) {
		if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
			return;
		/* The gateway's own timeout has answered already. */
		if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT) || tbg_rpc_is_done (rpc))
			return;
		g_dbus_error_strip_remote_error (error);
		g_message (_("RPC %" G_GINT64_FORMAT " (%s) of “%s”: the handler failed: %s"),
		           tbg_rpc_get_id (rpc), tbg_rpc_get_method (rpc), tbg_rpc_get_device (rpc),
		           error->message);
		tbg_rpc_reply_error (rpc, "%s", error->message);
		return;
	}
	g_variant_get (r, "(&s)", &text);
	answer = json_loads (text, JSON_DECODE_ANY, &jerr);
	if (answer == NULL) {
		g_warning (_("RPC %" G_GINT64_FORMAT " (%s) of “%s”: the handler's answer is not JSON "
		             "(%s at column %d)"), tbg_rpc_get_id (rpc), tbg_rpc_get_method (rpc),
		           tbg_rpc_get_device (rpc), jerr.text, jerr.column);
		tbg_rpc_reply_error (rpc, "invalid RPC handler answer");
		return;
	}
	tbg_rpc_reply (rpc, answer);
	json_decref (answer);
}

/* ---- the source table -------------------------------------------------------------- */

static gpointer
dbus_start (TbgGateway *gw, const TbgConfig *cfg, GError **error)
{
	DbusSource *src = g_new0 (DbusSource, 1);

	src->gw = gw;
	src->rpc_timeout_ms = cfg->gateway.rpc_timeout_ms;
	src->cancellable = g_cancellable_new ();
	return src;
}

/* Nothing of ours is in the file but the RPC timeout: the devices and
 * handlers stay. */
static void
dbus_reconfigure (gpointer instance, const TbgConfig *old_cfg, const TbgConfig *new_cfg)
{
	DbusSource *src = instance;

	src->rpc_timeout_ms = new_cfg->gateway.rpc_timeout_ms;
}

static void
dbus_stop (gpointer instance)
{
	DbusSource *src = instance;
	GPtrArray *devices;

	if (src == NULL)
		return;
	g_cancellable_cancel (src->cancellable);
	g_clear_object (&src->cancellable);
	/* Virtual devices live as long as the source that made them: until
	 * tbgwd exits (a reload never stops this source). */
	devices = tbg_gateway_list_devices (src->gw);
	for (guint i = 0; i < devices->len; i++) {
		TbgDevice *dev = g_ptr_array_index (devices, i);

		if (tbg_dbus_clients_owns (dev))
			tbg_dbus_clients_remove (dev);
	}
	g_ptr_array_unref (devices);
	g_free (src);
}

static void
dbus_rpc (gpointer instance, TbgDevice *dev, TbgRpc *rpc)
{
	DbusSource *src = instance;
	ClientDevice *cd = tbg_device_get_source_data (dev);
	json_t *params = tbg_rpc_get_params (rpc);
	char *text;

	if (cd == NULL || cd->handler_owner == NULL) {
		tbg_rpc_reply_error (rpc, "no RPC handler registered");
		return;
	}
	text = json_dumps (params ? params : json_null (), JSON_ENCODE_ANY | JSON_COMPACT);
	/* The gateway answers "timeout" at rpc-timeout-ms; waiting longer is pointless. */
	g_dbus_connection_call (cd->handler_bus, cd->handler_owner, cd->handler_path,
	                        "org.tbgw.Gateway1.RpcHandler", "HandleRpc",
	                        g_variant_new ("(uss)", (guint32) tbg_rpc_get_id (rpc),
	                                       tbg_rpc_get_method (rpc), text ? text : "null"),
	                        G_VARIANT_TYPE ("(s)"), G_DBUS_CALL_FLAGS_NO_AUTO_START,
	                        (int) src->rpc_timeout_ms + 100, src->cancellable, handler_answered,
	                        tbg_rpc_ref (rpc));
	free (text);
}

const TbgSource tbg_source_dbus = {
	.name = "dbus",
	.start = dbus_start,
	.stop = dbus_stop,
	.reconfigure = dbus_reconfigure,
	.rpc = dbus_rpc,
};
