/* SPDX-License-Identifier: Apache-2.0 */
/* device.c — see device.h. */
#include "device.h"
#include "i18n.h"

#define LAST_SEEN_INTERVAL_MS 1000

struct _TbgDevice {
	GObject           parent;
	const TbgDeviceSink *sink;     /* NULL once removed */
	gpointer          sink_data;
	const TbgSource  *source;
	gpointer          instance;
	char             *name;
	char             *profile;
	char             *address;
	gboolean          connected;
	gint64            last_seen;
	gint64            last_seen_notified;
	guint             last_seen_timer;   /* announces a suppressed last-seen */
	gint64            last_ts;     /* newest timestamp we stamped */
	json_t           *client_attributes;
	json_t           *shared_attributes;
	gpointer          source_data;
	GDestroyNotify    source_data_destroy;
};

enum {
	PROP_0,
	PROP_NAME,
	PROP_CONNECTED,
	PROP_LAST_SEEN,
	PROP_ATTRIBUTES,
	N_PROPS
};
static GParamSpec *props[N_PROPS];

enum {
	SIGNAL_SHARED_ATTRIBUTES_CHANGED,
	SIGNAL_RPC_REQUESTED,
	N_SIGNALS
};
static guint signals[N_SIGNALS];

G_DEFINE_TYPE (TbgDevice, tbg_device, G_TYPE_OBJECT)

static void
tbg_device_finalize (GObject *object)
{
	TbgDevice *dev = TBG_DEVICE (object);

	if (dev->last_seen_timer != 0)
		g_source_remove (dev->last_seen_timer);
	if (dev->source_data_destroy != NULL)
		dev->source_data_destroy (dev->source_data);
	g_free (dev->name);
	g_free (dev->profile);
	g_free (dev->address);
	json_decref (dev->client_attributes);
	json_decref (dev->shared_attributes);
	G_OBJECT_CLASS (tbg_device_parent_class)->finalize (object);
}

static void
tbg_device_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
	TbgDevice *dev = TBG_DEVICE (object);

	switch (id) {
	case PROP_NAME:
		g_value_set_string (value, dev->name);
		break;
	case PROP_CONNECTED:
		g_value_set_boolean (value, dev->connected);
		break;
	case PROP_LAST_SEEN:
		g_value_set_int64 (value, dev->last_seen);
		break;
	case PROP_ATTRIBUTES:
		g_value_set_pointer (value, dev->client_attributes);
		break;
	default:
		G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
	}
}

static void
tbg_device_class_init (TbgDeviceClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS (klass);

	object_class->finalize = tbg_device_finalize;
	object_class->get_property = tbg_device_get_property;
	props[PROP_NAME] = g_param_spec_string ("name", NULL, NULL, NULL,
	                                        G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
	props[PROP_CONNECTED] = g_param_spec_boolean ("connected", NULL, NULL, FALSE,
	                                              G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
	props[PROP_LAST_SEEN] = g_param_spec_int64 ("last-seen", NULL, NULL, 0, G_MAXINT64, 0,
	                                            G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
	/* Notified when either attribute cache changes. */
	props[PROP_ATTRIBUTES] = g_param_spec_pointer ("attributes", NULL, NULL,
	                                               G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
	g_object_class_install_properties (object_class, N_PROPS, props);

	/* (json_t *changed, const char * const *deleted) */
	signals[SIGNAL_SHARED_ATTRIBUTES_CHANGED] =
		g_signal_new ("shared-attributes-changed", G_TYPE_FROM_CLASS (klass),
		              G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
		              G_TYPE_NONE, 2, G_TYPE_POINTER, G_TYPE_POINTER);
	/* (TbgRpc *rpc): emitted before the source gets it. */
	signals[SIGNAL_RPC_REQUESTED] =
		g_signal_new ("rpc-requested", G_TYPE_FROM_CLASS (klass),
		              G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
		              G_TYPE_NONE, 1, G_TYPE_POINTER);
}

static void
tbg_device_init (TbgDevice *dev)
{
	dev->client_attributes = json_object ();
	dev->shared_attributes = json_object ();
}

TbgDevice *
_tbg_device_new (const TbgDeviceSink *sink, gpointer sink_data, const TbgSource *source,
                 gpointer instance, const char *name, const char *profile, const char *address)
{
	TbgDevice *dev = g_object_new (TBG_TYPE_DEVICE, NULL);

	dev->sink = sink;
	dev->sink_data = sink_data;
	dev->source = source;
	dev->instance = instance;
	dev->name = g_strdup (name);
	dev->profile = g_strdup (profile && *profile ? profile : "default");
	dev->address = g_strdup (address ? address : "");
	return dev;
}

const char *
tbg_device_get_name (TbgDevice *dev)
{
	return dev->name;
}

const char *
tbg_device_get_profile (TbgDevice *dev)
{
	return dev->profile;
}

const TbgSource *
tbg_device_get_source (TbgDevice *dev)
{
	return dev->source;
}

gpointer
_tbg_device_get_instance (TbgDevice *dev)
{
	return dev->instance;
}

const char *
tbg_device_get_address (TbgDevice *dev)
{
	return dev->address;
}

gboolean
tbg_device_get_connected (TbgDevice *dev)
{
	return dev->connected;
}

gint64
tbg_device_get_last_seen (TbgDevice *dev)
{
	return dev->last_seen;
}

json_t *
tbg_device_get_client_attributes (TbgDevice *dev)
{
	return dev->client_attributes;
}

json_t *
tbg_device_get_shared_attributes (TbgDevice *dev)
{
	return dev->shared_attributes;
}

gpointer
tbg_device_get_source_data (TbgDevice *dev)
{
	return dev->source_data;
}

void
tbg_device_set_source_data (TbgDevice *dev, gpointer data, GDestroyNotify destroy)
{
	if (dev->source_data_destroy != NULL)
		dev->source_data_destroy (dev->source_data);
	dev->source_data = data;
	dev->source_data_destroy = destroy;
}

void
_tbg_device_set_name (TbgDevice *dev, const char *name)
{
	g_free (dev->name);
	dev->name = g_strdup (name);
	g_object_notify_by_pspec (G_OBJECT (dev), props[PROP_NAME]);
}

void
_tbg_device_detach (TbgDevice *dev)
{
	dev->sink = NULL;
}

static gboolean
check_attached (TbgDevice *dev, GError **error)
{
	if (dev->sink == NULL) {
		g_set_error (error, TBG_ERROR, TBG_ERROR_NOT_FOUND,
		             _("device “%s” has been removed"), dev->name);
		return FALSE;
	}
	return TRUE;
}

static gboolean
check_connected (TbgDevice *dev, GError **error)
{
	if (!check_attached (dev, error))
		return FALSE;
	if (!dev->connected) {
		g_set_error (error, TBG_ERROR, TBG_ERROR_NOT_CONNECTED,
		             _("device “%s” is not connected"), dev->name);
		return FALSE;
	}
	return TRUE;
}

static void
notify_last_seen (TbgDevice *dev)
{
	dev->last_seen_notified = dev->last_seen;
	g_object_notify_by_pspec (G_OBJECT (dev), props[PROP_LAST_SEEN]);
}

static gboolean
last_seen_timer_cb (gpointer data)
{
	TbgDevice *dev = data;

	dev->last_seen_timer = 0;
	if (dev->last_seen != dev->last_seen_notified)
		notify_last_seen (dev);
	return G_SOURCE_REMOVE;
}

/* "last-seen" changes with every sample but is announced at most once a
 * second: each notification costs a GObject signal emission and, on the
 * bus, a PropertiesChanged, which a busy sensor would pay per sample. The
 * newest value is always announced within that second. */
static void
touch (TbgDevice *dev)
{
	gint64 since;

	dev->last_seen = g_get_real_time () / 1000;
	since = dev->last_seen - dev->last_seen_notified;
	/* since < 0: the clock was set back */
	if (since >= LAST_SEEN_INTERVAL_MS || since < 0)
		notify_last_seen (dev);
	else if (dev->last_seen_timer == 0)
		dev->last_seen_timer = g_timeout_add (LAST_SEEN_INTERVAL_MS - since, last_seen_timer_cb, dev);
}

void
tbg_device_set_connected (TbgDevice *dev, gboolean connected)
{
	g_autoptr (GError) error = NULL;

	connected = !!connected;
	if (dev->connected == connected || dev->sink == NULL)
		return;
	if (!dev->sink->state (dev->sink_data, dev, connected, &error)) {
		g_warning (_("Device “%s”: %s"), dev->name, error->message);
		return;
	}
	dev->connected = connected;
	g_message (connected ? _("Device “%s” (%s, %s) connected")
	                     : _("Device “%s” (%s, %s) disconnected"),
	           dev->name, dev->source ? dev->source->name : "?", dev->address);
	if (connected)
		touch (dev);
	g_object_notify_by_pspec (G_OBJECT (dev), props[PROP_CONNECTED]);
}

/* ThingsBoard drops null values and never acknowledges an empty list:
 * there must be something else. */
static gboolean
has_values (json_t *values, GError **error)
{
	const char *key;
	json_t *v;

	if (!json_is_object (values)) {
		g_set_error (error, TBG_ERROR, TBG_ERROR_INVALID_ARGS, _("values must be an object"));
		return FALSE;
	}
	json_object_foreach (values, key, v) {
		if (!json_is_null (v))
			return TRUE;
	}
	g_set_error (error, TBG_ERROR, TBG_ERROR_INVALID_ARGS, _("no values given"));
	return FALSE;
}

static gboolean
can_take_sample (TbgDevice *dev, gint64 ts_ms, GError **error)
{
	if (!check_connected (dev, error))
		return FALSE;
	if (ts_ms < 0) {
		g_set_error (error, TBG_ERROR, TBG_ERROR_INVALID_ARGS, _("negative timestamp"));
		return FALSE;
	}
	return TRUE;
}

/* @ts_ms 0: now, and never the same as the previous stamp */
static gint64
stamp (TbgDevice *dev, gint64 ts_ms)
{
	if (ts_ms == 0) {
		ts_ms = g_get_real_time () / 1000;
		if (ts_ms <= dev->last_ts)
			ts_ms = dev->last_ts + 1;
		dev->last_ts = ts_ms;
	}
	return ts_ms;
}

gboolean
tbg_device_push_telemetry (TbgDevice *dev, gint64 ts_ms, json_t *values, GError **error)
{
	if (!can_take_sample (dev, ts_ms, error) || !has_values (values, error) ||
	    !dev->sink->telemetry (dev->sink_data, dev, stamp (dev, ts_ms), values, error))
		return FALSE;
	touch (dev);
	return TRUE;
}

gboolean
tbg_device_push_telemetry_text (TbgDevice *dev, gint64 ts_ms, const char *values_json, gsize len,
                                GError **error)
{
	if (!can_take_sample (dev, ts_ms, error))
		return FALSE;
	g_return_val_if_fail (values_json != NULL && len > 0, FALSE);
	if (!dev->sink->telemetry_text (dev->sink_data, dev, stamp (dev, ts_ms), values_json, len, error))
		return FALSE;
	touch (dev);
	return TRUE;
}

gboolean
tbg_device_push_attributes (TbgDevice *dev, json_t *attributes, GError **error)
{
	const char *key;
	json_t *v;

	if (!check_connected (dev, error) || !has_values (attributes, error) ||
	    !dev->sink->attributes (dev->sink_data, dev, attributes, error))
		return FALSE;
	json_object_foreach (attributes, key, v) {
		if (!json_is_null (v))
			json_object_set (dev->client_attributes, key, v);
	}
	touch (dev);
	g_object_notify_by_pspec (G_OBJECT (dev), props[PROP_ATTRIBUTES]);
	return TRUE;
}

gboolean
tbg_device_claim (TbgDevice *dev, const char *secret_key, guint64 duration_ms, GError **error)
{
	return check_connected (dev, error) &&
	       dev->sink->claim (dev->sink_data, dev, secret_key, duration_ms, error);
}

gboolean
tbg_device_request_attributes (TbgDevice *dev, const char * const *client_keys,
                               const char * const *shared_keys,
                               TbgAttributesCallback callback, gpointer user_data,
                               GError **error)
{
	return check_connected (dev, error) &&
	       dev->sink->request_attributes (dev->sink_data, dev, client_keys, shared_keys,
	                                      callback, user_data, error);
}

void
_tbg_device_shared_attributes (TbgDevice *dev, json_t *changed, const char * const *deleted)
{
	if (changed != NULL)
		json_object_update (dev->shared_attributes, changed);
	for (guint i = 0; deleted != NULL && deleted[i] != NULL; i++)
		json_object_del (dev->shared_attributes, deleted[i]);
	g_object_notify_by_pspec (G_OBJECT (dev), props[PROP_ATTRIBUTES]);
	g_signal_emit (dev, signals[SIGNAL_SHARED_ATTRIBUTES_CHANGED], 0, changed, deleted);
}

void
_tbg_device_rpc_requested (TbgDevice *dev, TbgRpc *rpc)
{
	g_signal_emit (dev, signals[SIGNAL_RPC_REQUESTED], 0, rpc);
}
