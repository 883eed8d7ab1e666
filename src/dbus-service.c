/* SPDX-License-Identifier: Apache-2.0 */
/* dbus-service.c — see dbus-service.h. The devices D-Bus clients create
 * and their RPC handlers belong to source-dbus.c; this file only exports.
 */
#include "dbus-service.h"
#include "dbus-json.h"
#include "source-dbus.h"
#include "tbg-dbus.h"
#include "i18n.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <string.h>

#define MANAGER_PATH  TBG_DBUS_MANAGER_PATH

typedef struct _TbgDbusService DbusService;

typedef struct {
	DbusService           *src;
	TbgDevice             *dev;
	TbgDbusObjectSkeleton *object;
	TbgDbusDevice         *iface;
} DeviceObject;

struct _TbgDbusService {
	TbgGateway                 *gw;
	GDBusConnection            *bus;
	GDBusObjectManagerServer   *om;
	TbgDbusManager             *manager;
	GHashTable                 *objects;   /* TbgDevice → DeviceObject */
	guint                       next_index;
	guint                       queue_id;
	TbgDbusReloadFunc           reload;
	gpointer                    reload_data;
};

static const GDBusErrorEntry error_entries[] = {
	{ TBG_ERROR_FAILED, "org.tbgw.Gateway1.Error.Failed" },
	{ TBG_ERROR_INVALID_ARGS, "org.tbgw.Gateway1.Error.InvalidArgs" },
	{ TBG_ERROR_NOT_FOUND, "org.tbgw.Gateway1.Error.NotFound" },
	{ TBG_ERROR_NOT_CONNECTED, "org.tbgw.Gateway1.Error.NotConnected" },
	{ TBG_ERROR_TIMEOUT, "org.tbgw.Gateway1.Error.Timeout" },
	{ TBG_ERROR_PERMISSION_DENIED, "org.tbgw.Gateway1.Error.PermissionDenied" },
	{ TBG_ERROR_EXISTS, "org.tbgw.Gateway1.Error.AlreadyExists" },
};

static void
register_errors (void)
{
	static gsize once = 0;

	g_dbus_error_register_error_domain ("tbg-error-quark", &once, error_entries,
	                                    G_N_ELEMENTS (error_entries));
}

/* Every failure reaches the caller as one of our registered errors. */
static void
return_error (GDBusMethodInvocation *inv, const GError *error)
{
	if (error->domain == TBG_ERROR)
		g_dbus_method_invocation_return_gerror (inv, error);
	else
		g_dbus_method_invocation_return_dbus_error (inv, error->domain == TBG_DBUS_JSON_ERROR
		                                            ? "org.tbgw.Gateway1.Error.InvalidArgs"
		                                            : "org.tbgw.Gateway1.Error.Failed",
		                                            error->message);
}

static void
return_tbg_error (GDBusMethodInvocation *inv, TbgError code, const char *format, ...) G_GNUC_PRINTF (3, 4);

static void
return_tbg_error (GDBusMethodInvocation *inv, TbgError code, const char *format, ...)
{
	g_autofree char *msg = NULL;
	va_list ap;

	va_start (ap, format);
	msg = g_strdup_vprintf (format, ap);
	va_end (ap);
	g_dbus_method_invocation_return_error_literal (inv, TBG_ERROR, code, msg);
}

/* ---- device objects ------------------------------------------------------------ */

static GVariant *
attributes_variant (TbgDevice *dev)
{
	json_t *all = json_deep_copy (tbg_device_get_client_attributes (dev));
	GVariant *v;

	json_object_update (all, tbg_device_get_shared_attributes (dev));
	v = tbg_json_to_vardict (all);
	json_decref (all);
	return v;
}

static void
sync_properties (DeviceObject *o)
{
	TbgDbusDevice *i = o->iface;

	tbg_dbus_device_set_name (i, tbg_device_get_name (o->dev));
	tbg_dbus_device_set_type_ (i, tbg_device_get_profile (o->dev));
	tbg_dbus_device_set_source (i, tbg_device_get_source (o->dev)
	                               ? tbg_device_get_source (o->dev)->name : "");
	tbg_dbus_device_set_address (i, tbg_device_get_address (o->dev));
	tbg_dbus_device_set_connected (i, tbg_device_get_connected (o->dev));
	tbg_dbus_device_set_last_seen (i, tbg_device_get_last_seen (o->dev));
	tbg_dbus_device_set_attributes (i, attributes_variant (o->dev));
}

static void
on_device_notify (GObject *obj, GParamSpec *pspec, gpointer data)
{
	DeviceObject *o = data;
	const char *prop = g_param_spec_get_name (pspec);

	/* TbgDevice announces last-seen at most once a second */
	if (g_str_equal (prop, "last-seen")) {
		tbg_dbus_device_set_last_seen (o->iface, tbg_device_get_last_seen (o->dev));
	} else if (g_str_equal (prop, "connected")) {
		tbg_dbus_device_set_connected (o->iface, tbg_device_get_connected (o->dev));
	} else if (g_str_equal (prop, "attributes")) {
		tbg_dbus_device_set_attributes (o->iface, attributes_variant (o->dev));
	} else if (g_str_equal (prop, "name")) {
		tbg_dbus_device_set_name (o->iface, tbg_device_get_name (o->dev));
	}
}

static void
on_shared_changed (TbgDevice *dev, json_t *changed, const char * const *deleted, gpointer data)
{
	DeviceObject *o = data;
	json_t *empty = json_object ();

	tbg_dbus_device_emit_shared_attributes_changed (o->iface,
		tbg_json_to_vardict (changed ? changed : empty),
		deleted ? deleted : (const char * const[]) { NULL });
	json_decref (empty);
}

static void
on_rpc_requested (TbgDevice *dev, TbgRpc *rpc, gpointer data)
{
	DeviceObject *o = data;
	json_t *params = tbg_rpc_get_params (rpc);
	char *text = json_dumps (params ? params : json_null (), JSON_ENCODE_ANY | JSON_COMPACT);

	tbg_dbus_device_emit_rpc_requested (o->iface, (guint32) tbg_rpc_get_id (rpc),
	                                    tbg_rpc_get_method (rpc), text ? text : "null");
	free (text);
}

/* The device behind a method call, or NULL after returning NotFound. */
static TbgDevice *
call_device (DeviceObject *o, GDBusMethodInvocation *inv)
{
	if (tbg_gateway_lookup_device (o->src->gw, tbg_device_get_name (o->dev)) != o->dev) {
		return_tbg_error (inv, TBG_ERROR_NOT_FOUND, _("the device has been removed"));
		return NULL;
	}
	return o->dev;
}

#ifdef __GLIBC__
static guint trim_id;

static gboolean
trim_cb (gpointer data)
{
	trim_id = 0;
	malloc_trim (0);
	return G_SOURCE_REMOVE;
}
#endif

/* After a big call the allocator keeps the pages it freed: hand them back
 * once GDBus has let go of the message too, a moment after the reply. */
static void
give_memory_back (GVariant *values)
{
#ifdef __GLIBC__
	if (g_variant_get_size (values) > 1024 * 1024 && trim_id == 0)
		trim_id = g_timeout_add (200, trim_cb, NULL);
#endif
}

static gboolean
push_values (DeviceObject *o, GDBusMethodInvocation *inv, GVariant *values, gint64 ts, gboolean attributes)
{
	g_autoptr (GError) error = NULL;
	TbgDevice *dev = call_device (o, inv);
	json_t *j;
	gboolean ok;

	if (dev == NULL)
		return TRUE;
	/* Each entry takes at least "":0, (5 bytes) in the payload: more than
	 * fit is refused before any of the work (and memory) a call this big
	 * would cost. */
	if (g_variant_n_children (values) > tbg_gateway_get_config (o->src->gw)->gateway.max_payload_bytes / 5) {
		return_tbg_error (inv, TBG_ERROR_INVALID_ARGS, _("%zu values are more than one message can carry"),
		                  g_variant_n_children (values));
		give_memory_back (values);
		return TRUE;
	}
	j = tbg_vardict_to_json (values, &error);
	if (j == NULL) {
		return_error (inv, error);
		return TRUE;
	}
	ok = attributes ? tbg_device_push_attributes (dev, j, &error)
	                : tbg_device_push_telemetry (dev, ts, j, &error);
	json_decref (j);
	give_memory_back (values);
	if (!ok) {
		return_error (inv, error);
		return TRUE;
	}
	/* The caller may forget its data once we answer: it must be on disk. */
	tbg_gateway_sync (o->src->gw);
	g_dbus_method_invocation_return_value (inv, NULL);
	return TRUE;
}

static gboolean
handle_push_telemetry (TbgDbusDevice *i, GDBusMethodInvocation *inv, GVariant *values, gpointer data)
{
	return push_values (data, inv, values, 0, FALSE);
}

static gboolean
handle_push_telemetry_at (TbgDbusDevice *i, GDBusMethodInvocation *inv, guint64 ts, GVariant *values,
                          gpointer data)
{
	if (ts == 0 || ts > G_MAXINT64) {
		return_tbg_error (inv, TBG_ERROR_INVALID_ARGS, _("ts_ms must be milliseconds since the epoch"));
		return TRUE;
	}
	return push_values (data, inv, values, (gint64) ts, FALSE);
}

static gboolean
handle_push_attributes (TbgDbusDevice *i, GDBusMethodInvocation *inv, GVariant *values, gpointer data)
{
	return push_values (data, inv, values, 0, TRUE);
}

static gboolean
handle_claim (TbgDbusDevice *i, GDBusMethodInvocation *inv, const char *secret, guint64 duration,
              gpointer data)
{
	g_autoptr (GError) error = NULL;
	TbgDevice *dev = call_device (data, inv);

	if (dev == NULL)
		return TRUE;
	if (!tbg_device_claim (dev, *secret ? secret : NULL, duration, &error)) {
		return_error (inv, error);
	} else {
		tbg_gateway_sync (((DeviceObject *) data)->src->gw);
		tbg_dbus_device_complete_claim (i, inv);
	}
	return TRUE;
}

static void
attributes_answered (TbgDevice *dev, json_t *client, json_t *shared, const GError *error,
                     gpointer data)
{
	GDBusMethodInvocation *inv = data;

	if (error != NULL)
		return_error (inv, error);
	else
		g_dbus_method_invocation_return_value (inv, g_variant_new ("(@a{sv}@a{sv})",
		                                       tbg_json_to_vardict (client),
		                                       tbg_json_to_vardict (shared)));
	g_object_unref (inv);
}

static gboolean
handle_request_attributes (TbgDbusDevice *i, GDBusMethodInvocation *inv, const char * const *client,
                           const char * const *shared, gpointer data)
{
	g_autoptr (GError) error = NULL;
	TbgDevice *dev = call_device (data, inv);

	if (dev == NULL)
		return TRUE;
	if (!tbg_device_request_attributes (dev, client, shared, attributes_answered,
	                                    g_object_ref (inv), &error)) {
		g_object_unref (inv);
		return_error (inv, error);
	}
	return TRUE;
}

static gboolean
set_connected (DeviceObject *o, GDBusMethodInvocation *inv, gboolean connected)
{
	TbgDevice *dev = call_device (o, inv);

	if (dev == NULL)
		return TRUE;
	if (!tbg_dbus_clients_owns (dev)) {
		return_tbg_error (inv, TBG_ERROR_PERMISSION_DENIED,
		                  _("“%s” follows its %s hardware; only devices made with CreateDevice "
		                    "are connected by hand"), tbg_device_get_name (dev),
		                  tbg_device_get_source (dev) ? tbg_device_get_source (dev)->name : "?");
		return TRUE;
	}
	tbg_device_set_connected (dev, connected);
	g_dbus_method_invocation_return_value (inv, NULL);
	return TRUE;
}

static gboolean
handle_connect (TbgDbusDevice *i, GDBusMethodInvocation *inv, gpointer data)
{
	return set_connected (data, inv, TRUE);
}

static gboolean
handle_disconnect (TbgDbusDevice *i, GDBusMethodInvocation *inv, gpointer data)
{
	return set_connected (data, inv, FALSE);
}

/* ---- RPC handlers ---------------------------------------------------------------- */

/* Register and Unregister alike: the device must still exist, the caller
 * becomes (or stops being) the handler. FALSE when an error has been
 * returned; TRUE when the call is to be completed. */
static gboolean
change_rpc_handler (DeviceObject *o, GDBusMethodInvocation *inv, const char *path, gboolean add)
{
	g_autoptr (GError) error = NULL;
	TbgDevice *dev = call_device (o, inv);
	const char *sender = g_dbus_method_invocation_get_sender (inv);
	gboolean ok;

	if (dev == NULL)
		return FALSE;
	ok = add ? tbg_dbus_clients_register_handler (dev, g_dbus_method_invocation_get_connection (inv),
	                                              sender, path, &error)
	         : tbg_dbus_clients_unregister_handler (dev, sender, path, &error);
	if (!ok)
		return_error (inv, error);
	return ok;
}

static gboolean
handle_register_rpc_handler (TbgDbusDevice *i, GDBusMethodInvocation *inv, const char *path,
                             gpointer data)
{
	if (change_rpc_handler (data, inv, path, TRUE))
		tbg_dbus_device_complete_register_rpc_handler (i, inv);
	return TRUE;
}

static gboolean
handle_unregister_rpc_handler (TbgDbusDevice *i, GDBusMethodInvocation *inv, const char *path,
                               gpointer data)
{
	if (change_rpc_handler (data, inv, path, FALSE))
		tbg_dbus_device_complete_unregister_rpc_handler (i, inv);
	return TRUE;
}

static void
device_object_free (DeviceObject *o)
{
	g_signal_handlers_disconnect_by_data (o->dev, o);
	/* Property changes wait for an idle; observers must see the last ones
	 * (Connected=false) before InterfacesRemoved. */
	g_dbus_interface_skeleton_flush (G_DBUS_INTERFACE_SKELETON (o->iface));
	g_dbus_object_manager_server_unexport (o->src->om,
		g_dbus_object_get_object_path (G_DBUS_OBJECT (o->object)));
	g_object_unref (o->iface);
	g_object_unref (o->object);
	g_object_unref (o->dev);
	g_free (o);
}

static void
export_device (DbusService *src, TbgDevice *dev)
{
	DeviceObject *o = g_new0 (DeviceObject, 1);
	g_autofree char *path = g_strdup_printf (MANAGER_PATH "/Device/%u", src->next_index++);

	o->src = src;
	o->dev = g_object_ref (dev);
	o->object = tbg_dbus_object_skeleton_new (path);
	o->iface = tbg_dbus_device_skeleton_new ();
	sync_properties (o);
	g_signal_connect (o->iface, "handle-push-telemetry", G_CALLBACK (handle_push_telemetry), o);
	g_signal_connect (o->iface, "handle-push-telemetry-at", G_CALLBACK (handle_push_telemetry_at), o);
	g_signal_connect (o->iface, "handle-push-attributes", G_CALLBACK (handle_push_attributes), o);
	g_signal_connect (o->iface, "handle-request-attributes", G_CALLBACK (handle_request_attributes), o);
	g_signal_connect (o->iface, "handle-claim", G_CALLBACK (handle_claim), o);
	g_signal_connect (o->iface, "handle-connect", G_CALLBACK (handle_connect), o);
	g_signal_connect (o->iface, "handle-disconnect", G_CALLBACK (handle_disconnect), o);
	g_signal_connect (o->iface, "handle-register-rpc-handler",
	                  G_CALLBACK (handle_register_rpc_handler), o);
	g_signal_connect (o->iface, "handle-unregister-rpc-handler",
	                  G_CALLBACK (handle_unregister_rpc_handler), o);
	g_signal_connect (dev, "notify", G_CALLBACK (on_device_notify), o);
	g_signal_connect (dev, "shared-attributes-changed", G_CALLBACK (on_shared_changed), o);
	g_signal_connect (dev, "rpc-requested", G_CALLBACK (on_rpc_requested), o);
	tbg_dbus_object_skeleton_set_device (o->object, o->iface);
	g_dbus_object_manager_server_export (src->om, G_DBUS_OBJECT_SKELETON (o->object));
	g_hash_table_insert (src->objects, dev, o);
}

static void
on_device_added (TbgGateway *gw, TbgDevice *dev, gpointer data)
{
	export_device (data, dev);
}

static void
on_device_removed (TbgGateway *gw, TbgDevice *dev, gpointer data)
{
	g_hash_table_remove (((DbusService *) data)->objects, dev);
}

/* ---- the manager ------------------------------------------------------------------ */

static DeviceObject *
object_by_path (DbusService *src, const char *path)
{
	GHashTableIter iter;
	DeviceObject *o;

	g_hash_table_iter_init (&iter, src->objects);
	while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &o)) {
		if (g_str_equal (g_dbus_object_get_object_path (G_DBUS_OBJECT (o->object)), path))
			return o;
	}
	return NULL;
}

static gboolean
handle_create_device (TbgDbusManager *m, GDBusMethodInvocation *inv, const char *name,
                      const char *type, gpointer data)
{
	DbusService *src = data;
	g_autoptr (GError) error = NULL;
	TbgDevice *dev = tbg_dbus_clients_create (src->gw, name, *type ? type : NULL,
	                                          g_dbus_method_invocation_get_sender (inv), &error);
	DeviceObject *o;

	if (dev == NULL) {
		return_error (inv, error);
		return TRUE;
	}
	o = g_hash_table_lookup (src->objects, dev);
	tbg_dbus_manager_complete_create_device (m, inv,
		g_dbus_object_get_object_path (G_DBUS_OBJECT (o->object)));
	return TRUE;
}

static gboolean
handle_remove_device (TbgDbusManager *m, GDBusMethodInvocation *inv, const char *path, gpointer data)
{
	DbusService *src = data;
	DeviceObject *o = object_by_path (src, path);

	if (o == NULL) {
		return_tbg_error (inv, TBG_ERROR_NOT_FOUND, _("no device at %s"), path);
		return TRUE;
	}
	if (!tbg_dbus_clients_owns (o->dev)) {
		return_tbg_error (inv, TBG_ERROR_PERMISSION_DENIED,
		                  _("“%s” was not made with CreateDevice"), tbg_device_get_name (o->dev));
		return TRUE;
	}
	tbg_dbus_clients_remove (o->dev);
	tbg_dbus_manager_complete_remove_device (m, inv);
	return TRUE;
}

static gboolean
handle_reconnect (TbgDbusManager *m, GDBusMethodInvocation *inv, gpointer data)
{
	tbg_gateway_reconnect (((DbusService *) data)->gw);
	tbg_dbus_manager_complete_reconnect (m, inv);
	return TRUE;
}

static gboolean
handle_reload (TbgDbusManager *m, GDBusMethodInvocation *inv, gpointer data)
{
	DbusService *src = data;
	g_autoptr (GError) error = NULL;

	if (src->reload == NULL) {
		return_tbg_error (inv, TBG_ERROR_FAILED, _("this tbgwd cannot reload"));
		return TRUE;
	}
	/* Whatever refused the file (a config error, a source's check), the
	 * caller gets it as a bad argument: the file is the argument. */
	if (!src->reload (src->reload_data, &error))
		return_tbg_error (inv, TBG_ERROR_INVALID_ARGS, "%s", error->message);
	else
		tbg_dbus_manager_complete_reload (m, inv);
	return TRUE;
}

static void
on_link_up (GObject *obj, GParamSpec *pspec, gpointer data)
{
	DbusService *src = data;

	tbg_dbus_manager_set_connected (src->manager, tbg_gateway_get_link_up (src->gw));
	/* A reload may have pointed the link elsewhere. */
	tbg_dbus_manager_set_server (src->manager, tbg_gateway_get_server (src->gw));
}

static void
on_credentials_source (GObject *obj, GParamSpec *pspec, gpointer data)
{
	DbusService *src = data;

	tbg_dbus_manager_set_credentials_source (src->manager,
	                                         tbg_gateway_get_credentials_source (src->gw));
}

static gboolean
update_queue (gpointer data)
{
	DbusService *src = data;
	TbgGatewayStats stats;

	tbg_gateway_get_stats (src->gw, &stats);
	tbg_dbus_manager_set_queued_messages (src->manager, stats.records_queued);
	return G_SOURCE_CONTINUE;
}

/* ---- the service ------------------------------------------------------------------ */

TbgDbusService *
tbg_dbus_service_new (GDBusConnection *bus, TbgGateway *gw, TbgDbusReloadFunc reload,
                      gpointer reload_data, GError **error)
{
	DbusService *src = g_new0 (DbusService, 1);
	GPtrArray *devices;

	register_errors ();
	src->gw = g_object_ref (gw);
	src->bus = g_object_ref (bus);
	src->reload = reload;
	src->reload_data = reload_data;
	src->objects = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) device_object_free);
	src->om = g_dbus_object_manager_server_new (MANAGER_PATH);
	src->manager = tbg_dbus_manager_skeleton_new ();
	tbg_dbus_manager_set_version (src->manager, PACKAGE_VERSION);
	tbg_dbus_manager_set_server (src->manager, tbg_gateway_get_server (gw));
	tbg_dbus_manager_set_connected (src->manager, tbg_gateway_get_link_up (gw));
	tbg_dbus_manager_set_credentials_source (src->manager, tbg_gateway_get_credentials_source (gw));
	g_signal_connect (src->manager, "handle-create-device", G_CALLBACK (handle_create_device), src);
	g_signal_connect (src->manager, "handle-remove-device", G_CALLBACK (handle_remove_device), src);
	g_signal_connect (src->manager, "handle-reconnect", G_CALLBACK (handle_reconnect), src);
	g_signal_connect (src->manager, "handle-reload", G_CALLBACK (handle_reload), src);
	/* The object manager only exports objects below its own path. */
	if (!g_dbus_interface_skeleton_export (G_DBUS_INTERFACE_SKELETON (src->manager), src->bus,
	                                       MANAGER_PATH, error)) {
		g_prefix_error (error, _("Cannot export %s: "), MANAGER_PATH);
		tbg_dbus_service_free (src);
		return NULL;
	}
	g_signal_connect (gw, "device-added", G_CALLBACK (on_device_added), src);
	g_signal_connect (gw, "device-removed", G_CALLBACK (on_device_removed), src);
	g_signal_connect (gw, "notify::link-up", G_CALLBACK (on_link_up), src);
	g_signal_connect (gw, "notify::credentials-source", G_CALLBACK (on_credentials_source), src);
	devices = tbg_gateway_list_devices (gw);
	for (guint i = 0; i < devices->len; i++)
		export_device (src, g_ptr_array_index (devices, i));
	g_ptr_array_unref (devices);
	src->queue_id = g_timeout_add_seconds (1, update_queue, src);
	g_dbus_object_manager_server_set_connection (src->om, src->bus);
	return src;
}

void
tbg_dbus_service_free (TbgDbusService *src)
{
	if (src == NULL)
		return;
	g_clear_handle_id (&src->queue_id, g_source_remove);
	g_signal_handlers_disconnect_by_data (src->gw, src);
	g_hash_table_unref (src->objects);
	if (src->manager != NULL)
		g_dbus_interface_skeleton_unexport (G_DBUS_INTERFACE_SKELETON (src->manager));
	g_clear_object (&src->manager);
	g_clear_object (&src->om);
	g_clear_object (&src->bus);
	g_clear_object (&src->gw);
	g_free (src);
}
