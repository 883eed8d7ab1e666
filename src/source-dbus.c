/* source-dbus.c — tbgwd's D-Bus API (dbus/org.tbgw.Gateway1.xml): the
 * manager object, one object per device of any source, and virtual devices
 * that D-Bus clients create and feed. If no bus can be reached the daemon
 * goes on without the API and says so once.
 */
#include "gateway.h"
#include "dbus-json.h"
#include "tbg-dbus.h"
#include "i18n.h"

#include <gio/gio.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <string.h>

#define BUS_NAME      "org.tbgw.Gateway1"
#define MANAGER_PATH  "/org/tbgw/Gateway1"

typedef struct _DbusSource DbusSource;

typedef struct {
	DbusSource            *src;
	TbgDevice             *dev;
	TbgDbusObjectSkeleton *object;
	TbgDbusDevice         *iface;
	/* The client object that answers this device's RPCs, if any. */
	char                  *handler_owner;   /* unique bus name */
	char                  *handler_path;
	guint                  handler_watch;
} DeviceObject;

struct _DbusSource {
	TbgGateway                 *gw;
	GDBusConnection            *bus;
	GDBusObjectManagerServer   *om;
	TbgDbusManager             *manager;
	GHashTable                 *objects;   /* TbgDevice → DeviceObject */
	guint                       owner_id;
	guint                       next_index;
	guint                       queue_id;
	guint                       rpc_timeout_ms;
	/* Cancels HandleRpc calls in flight when the API goes away. */
	GCancellable               *cancellable;
};

extern const TbgSource tbg_source_dbus;

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
	if (tbg_device_get_source (dev) != &tbg_source_dbus) {
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

static void
drop_handler (DeviceObject *o, const char *why)
{
	if (o->handler_owner == NULL)
		return;
	g_message (_("RPC handler of “%s” (%s %s) %s"), tbg_device_get_name (o->dev),
	           o->handler_owner, o->handler_path, why);
	g_clear_handle_id (&o->handler_watch, g_bus_unwatch_name);
	g_clear_pointer (&o->handler_owner, g_free);
	g_clear_pointer (&o->handler_path, g_free);
}

static void
on_handler_vanished (GDBusConnection *bus, const char *name, gpointer data)
{
	drop_handler (data, _("dropped: the client left the bus"));
}

static gboolean
handle_register_rpc_handler (TbgDbusDevice *i, GDBusMethodInvocation *inv, const char *path,
                             gpointer data)
{
	DeviceObject *o = data;
	const char *sender = g_dbus_method_invocation_get_sender (inv);
	TbgDevice *dev = call_device (o, inv);

	if (dev == NULL)
		return TRUE;
	if (tbg_device_get_source (dev) != &tbg_source_dbus) {
		return_tbg_error (inv, TBG_ERROR_PERMISSION_DENIED,
		                  _("“%s” is a %s device and answers its RPCs itself; only devices made "
		                    "with CreateDevice take RPC handlers"), tbg_device_get_name (dev),
		                  tbg_device_get_source (dev) ? tbg_device_get_source (dev)->name : "?");
		return TRUE;
	}
	if (g_str_equal (path, "/")) {
		return_tbg_error (inv, TBG_ERROR_INVALID_ARGS, _("“/” is not a handler object"));
		return TRUE;
	}
	if (o->handler_owner != NULL) {
		return_tbg_error (inv, TBG_ERROR_EXISTS, _("“%s” already has an RPC handler (%s %s)"),
		                  tbg_device_get_name (dev), o->handler_owner, o->handler_path);
		return TRUE;
	}
	/* A peer-to-peer connection has no sender and no way to call back. */
	if (sender == NULL) {
		return_tbg_error (inv, TBG_ERROR_INVALID_ARGS, _("RPC handlers need a message bus"));
		return TRUE;
	}
	o->handler_owner = g_strdup (sender);
	o->handler_path = g_strdup (path);
	o->handler_watch = g_bus_watch_name_on_connection (o->src->bus, sender,
	                                                   G_BUS_NAME_WATCHER_FLAGS_NONE, NULL,
	                                                   on_handler_vanished, o, NULL);
	g_message (_("RPC handler of “%s” registered: %s %s"), tbg_device_get_name (dev), sender, path);
	tbg_dbus_device_complete_register_rpc_handler (i, inv);
	return TRUE;
}

static gboolean
handle_unregister_rpc_handler (TbgDbusDevice *i, GDBusMethodInvocation *inv, const char *path,
                               gpointer data)
{
	DeviceObject *o = data;
	const char *sender = g_dbus_method_invocation_get_sender (inv);

	if (call_device (o, inv) == NULL)
		return TRUE;
	if (o->handler_owner == NULL || !g_str_equal (o->handler_path, path)) {
		return_tbg_error (inv, TBG_ERROR_NOT_FOUND, _("%s is not the RPC handler of “%s”"),
		                  path, tbg_device_get_name (o->dev));
		return TRUE;
	}
	if (g_strcmp0 (sender, o->handler_owner) != 0) {
		return_tbg_error (inv, TBG_ERROR_PERMISSION_DENIED,
		                  _("the RPC handler of “%s” belongs to %s"), tbg_device_get_name (o->dev),
		                  o->handler_owner);
		return TRUE;
	}
	drop_handler (o, _("unregistered"));
	tbg_dbus_device_complete_unregister_rpc_handler (i, inv);
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

static void
device_object_free (DeviceObject *o)
{
	drop_handler (o, _("dropped: the device was removed"));
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
export_device (DbusSource *src, TbgDevice *dev)
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
	g_hash_table_remove (((DbusSource *) data)->objects, dev);
}

/* ---- the manager ------------------------------------------------------------------ */

static DeviceObject *
object_by_path (DbusSource *src, const char *path)
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
	DbusSource *src = data;
	g_autoptr (GError) error = NULL;
	TbgDevice *dev = tbg_gateway_add_device (src->gw, &tbg_source_dbus, src, name,
	                                         *type ? type : NULL,
	                                         g_dbus_method_invocation_get_sender (inv), &error);
	DeviceObject *o;

	if (dev == NULL) {
		return_error (inv, error);
		return TRUE;
	}
	tbg_device_set_connected (dev, TRUE);
	o = g_hash_table_lookup (src->objects, dev);
	tbg_dbus_manager_complete_create_device (m, inv,
		g_dbus_object_get_object_path (G_DBUS_OBJECT (o->object)));
	return TRUE;
}

static gboolean
handle_remove_device (TbgDbusManager *m, GDBusMethodInvocation *inv, const char *path, gpointer data)
{
	DbusSource *src = data;
	DeviceObject *o = object_by_path (src, path);

	if (o == NULL) {
		return_tbg_error (inv, TBG_ERROR_NOT_FOUND, _("no device at %s"), path);
		return TRUE;
	}
	if (tbg_device_get_source (o->dev) != &tbg_source_dbus) {
		return_tbg_error (inv, TBG_ERROR_PERMISSION_DENIED,
		                  _("“%s” was not made with CreateDevice"), tbg_device_get_name (o->dev));
		return TRUE;
	}
	tbg_gateway_remove_device (src->gw, o->dev);
	tbg_dbus_manager_complete_remove_device (m, inv);
	return TRUE;
}

static gboolean
handle_reconnect (TbgDbusManager *m, GDBusMethodInvocation *inv, gpointer data)
{
	tbg_gateway_reconnect (((DbusSource *) data)->gw);
	tbg_dbus_manager_complete_reconnect (m, inv);
	return TRUE;
}

static void
on_link_up (GObject *obj, GParamSpec *pspec, gpointer data)
{
	DbusSource *src = data;

	tbg_dbus_manager_set_connected (src->manager, tbg_gateway_get_link_up (src->gw));
}

static gboolean
update_queue (gpointer data)
{
	DbusSource *src = data;
	TbgGatewayStats stats;

	tbg_gateway_get_stats (src->gw, &stats);
	tbg_dbus_manager_set_queued_messages (src->manager, stats.records_queued);
	return G_SOURCE_CONTINUE;
}

/* ---- the source table -------------------------------------------------------------- */

static void
on_name_lost (GDBusConnection *bus, const char *name, gpointer data)
{
	if (bus == NULL)
		g_warning (_("D-Bus connection lost; the D-Bus API is gone until tbgwd restarts"));
	else
		g_warning (_("Could not own %s on D-Bus (another tbgwd, or the D-Bus policy does "
		             "not allow it); the D-Bus API is unavailable"), name);
}

static void
on_name_acquired (GDBusConnection *bus, const char *name, gpointer data)
{
	g_message (_("D-Bus API available as %s"), name);
}

static gpointer
dbus_start (TbgGateway *gw, const TbgConfig *cfg, GError **error)
{
	DbusSource *src = g_new0 (DbusSource, 1);
	g_autoptr (GError) local = NULL;
	GPtrArray *devices;

	register_errors ();
	src->gw = gw;
	src->rpc_timeout_ms = cfg->gateway.rpc_timeout_ms;
	src->cancellable = g_cancellable_new ();
	src->objects = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) device_object_free);
	src->bus = g_bus_get_sync (cfg->session_bus ? G_BUS_TYPE_SESSION : G_BUS_TYPE_SYSTEM, NULL, &local);
	if (src->bus == NULL) {
		g_warning (_("No D-Bus %s bus (%s); running without the D-Bus API"),
		           cfg->session_bus ? "session" : "system", local->message);
		return src;
	}
	src->om = g_dbus_object_manager_server_new (MANAGER_PATH);
	src->manager = tbg_dbus_manager_skeleton_new ();
	tbg_dbus_manager_set_version (src->manager, PACKAGE_VERSION);
	tbg_dbus_manager_set_server (src->manager, tbg_gateway_get_server (gw));
	tbg_dbus_manager_set_connected (src->manager, tbg_gateway_get_link_up (gw));
	g_signal_connect (src->manager, "handle-create-device", G_CALLBACK (handle_create_device), src);
	g_signal_connect (src->manager, "handle-remove-device", G_CALLBACK (handle_remove_device), src);
	g_signal_connect (src->manager, "handle-reconnect", G_CALLBACK (handle_reconnect), src);
	/* The object manager only exports objects below its own path. */
	if (!g_dbus_interface_skeleton_export (G_DBUS_INTERFACE_SKELETON (src->manager), src->bus,
	                                       MANAGER_PATH, &local)) {
		g_warning (_("Cannot export %s: %s; running without the D-Bus API"), MANAGER_PATH,
		           local->message);
		g_clear_object (&src->manager);
		g_clear_object (&src->om);
		g_clear_object (&src->bus);
		return src;
	}
	g_signal_connect (gw, "device-added", G_CALLBACK (on_device_added), src);
	g_signal_connect (gw, "device-removed", G_CALLBACK (on_device_removed), src);
	g_signal_connect (gw, "notify::link-up", G_CALLBACK (on_link_up), src);
	devices = tbg_gateway_list_devices (gw);
	for (guint i = 0; i < devices->len; i++)
		export_device (src, g_ptr_array_index (devices, i));
	g_ptr_array_unref (devices);
	src->queue_id = g_timeout_add_seconds (1, update_queue, src);
	g_dbus_object_manager_server_set_connection (src->om, src->bus);
	src->owner_id = g_bus_own_name_on_connection (src->bus, BUS_NAME, G_BUS_NAME_OWNER_FLAGS_NONE,
	                                              on_name_acquired, on_name_lost, NULL, NULL);
	return src;
}

static void
dbus_stop (gpointer instance)
{
	DbusSource *src = instance;
	GPtrArray *devices;

	if (src == NULL)
		return;
	if (src->owner_id != 0)
		g_bus_unown_name (src->owner_id);
	g_clear_handle_id (&src->queue_id, g_source_remove);
	g_cancellable_cancel (src->cancellable);
	g_clear_object (&src->cancellable);
	g_signal_handlers_disconnect_by_data (src->gw, src);
	/* Virtual devices live as long as the API that made them. */
	devices = tbg_gateway_list_devices (src->gw);
	for (guint i = 0; i < devices->len; i++) {
		TbgDevice *dev = g_ptr_array_index (devices, i);

		if (tbg_device_get_source (dev) == &tbg_source_dbus)
			tbg_gateway_remove_device (src->gw, dev);
	}
	g_ptr_array_unref (devices);
	g_hash_table_unref (src->objects);
	if (src->manager != NULL)
		g_dbus_interface_skeleton_unexport (G_DBUS_INTERFACE_SKELETON (src->manager));
	g_clear_object (&src->manager);
	g_clear_object (&src->om);
	g_clear_object (&src->bus);
	g_free (src);
}

static void
dbus_rpc (gpointer instance, TbgDevice *dev, TbgRpc *rpc)
{
	DbusSource *src = instance;
	DeviceObject *o = src->objects ? g_hash_table_lookup (src->objects, dev) : NULL;
	json_t *params = tbg_rpc_get_params (rpc);
	char *text;

	if (o == NULL || o->handler_owner == NULL) {
		tbg_rpc_reply_error (rpc, "no RPC handler registered");
		return;
	}
	text = json_dumps (params ? params : json_null (), JSON_ENCODE_ANY | JSON_COMPACT);
	/* The gateway answers "timeout" at rpc-timeout-ms; waiting longer is pointless. */
	g_dbus_connection_call (src->bus, o->handler_owner, o->handler_path,
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
	.rpc = dbus_rpc,
};
