/* gateway.c — see gateway.h. */
#include "gateway.h"
#include "gateway-codec.h"
#include "mqtt-link.h"
#include "ratelimit.h"
#include "spool.h"
#include "uplink.h"
#include "i18n.h"

#include <stdlib.h>
#include <string.h>

G_DEFINE_QUARK (tbg-error-quark, tbg_error)

/* At most this many warnings about bad downlink per minute; the rest are counted. */
#define WARN_BURST      10
#define WARN_WINDOW_US  (60 * G_USEC_PER_SEC)

typedef struct {
	TbgGateway *gw;
	TbgRpc     *rpc;
	char       *key;
	guint       timeout_id;
} PendingRpc;

typedef enum { SCOPE_CLIENT = 1, SCOPE_SHARED = 2, SCOPE_BOTH = 3 } Scope;

typedef struct {
	TbgGateway            *gw;
	TbgDevice             *dev;
	char                 **client_keys;
	char                 **shared_keys;
	TbgAttributesCallback  callback;
	gpointer               user_data;
	json_t                *client;
	json_t                *shared;
	gint64                 ids[2];
	guint                  n_ids;
	guint                  outstanding;
	guint                  timeout_id;
} AttrRequest;

typedef struct {
	AttrRequest *req;
	Scope        scope;
} AttrRequestPart;

struct _TbgGateway {
	GObject                  parent;
	TbgConfig               *cfg;
	const TbgSource * const *sources;
	GPtrArray               *instances;   /* parallel to sources */
	GPtrArray               *devices;     /* in order of addition */
	GHashTable              *by_name;     /* name → TbgDevice (borrowed from devices) */
	TbgOutbox               *outbox;
	TbgMqttLink             *link;
	TbgUplink               *uplink;
	GHashTable              *rpcs;        /* "device\nid" → PendingRpc */
	GHashTable              *attr_parts;  /* request id → AttrRequestPart */
	gint64                   next_attr_id;
	guint                    stats_id;
	TbgGatewayStats          stats;
	TbgRateLimit             warn_limit;
	TbgRateLimit             timeout_limit;   /* "got no reply in time" lines */
	guint64                  refused;         /* records too big to ever send */
	/* what the log says of the queue */
	gboolean                 was_up;          /* the link has been up before */
	guint64                  backlog;         /* waiting when the link came back; 0: none */
	guint64                  backlog_base;    /* records sent + dropped then */
	gint64                   backlog_since;   /* monotonic µs */
	guint64                  drops_seen;      /* outbox->dropped accounted for */
	gint64                   full_logged;     /* monotonic µs of the last "full" line */
	gint64                   expired_logged;  /* and of the last "expired" line */
	gboolean                 resyncing;       /* attribute requests take the express lane */
	/* shutdown */
	GSourceFunc              done;
	gpointer                 done_data;
	guint                    grace_id;
};

enum { PROP_0, PROP_LINK_UP, N_PROPS };
static GParamSpec *props[N_PROPS];
enum { SIGNAL_DEVICE_ADDED, SIGNAL_DEVICE_REMOVED, N_SIGNALS };
static guint signals[N_SIGNALS];

G_DEFINE_TYPE (TbgGateway, tbg_gateway, G_TYPE_OBJECT)

static void stop_sources (TbgGateway *gw);
static gboolean grace_cb (gpointer data);
static void resync_shared (TbgGateway *gw);

static void
warn_downlink (TbgGateway *gw, const char *format, ...) G_GNUC_PRINTF (2, 3);

static void
warn_downlink (TbgGateway *gw, const char *format, ...)
{
	g_autofree char *msg = NULL;
	guint64 suppressed;
	va_list ap;
	gboolean allow = tbg_rate_limit_allow (&gw->warn_limit, g_get_monotonic_time (), &suppressed);

	if (suppressed > 0)
		g_warning (_("%" G_GUINT64_FORMAT " more downlink warnings were suppressed"), suppressed);
	if (!allow)
		return;
	va_start (ap, format);
	msg = g_strdup_vprintf (format, ap);
	va_end (ap);
	g_warning ("%s", msg);
}

static void
pending_rpc_free (PendingRpc *p)
{
	if (p->timeout_id != 0)
		g_source_remove (p->timeout_id);
	tbg_rpc_unref (p->rpc);
	g_free (p->key);
	g_free (p);
}

static void
attr_request_free (AttrRequest *req)
{
	if (req->timeout_id != 0)
		g_source_remove (req->timeout_id);
	g_object_unref (req->dev);
	g_strfreev (req->client_keys);
	g_strfreev (req->shared_keys);
	json_decref (req->client);
	json_decref (req->shared);
	g_free (req);
}

static void
tbg_gateway_dispose (GObject *object)
{
	TbgGateway *gw = TBG_GATEWAY (object);

	stop_sources (gw);
	g_clear_handle_id (&gw->stats_id, g_source_remove);
	g_clear_handle_id (&gw->grace_id, g_source_remove);
	if (gw->rpcs != NULL) {
		GHashTableIter iter;
		PendingRpc *p;

		/* Sources may hold on to an RPC longer than we live. */
		g_hash_table_iter_init (&iter, gw->rpcs);
		while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &p))
			tbg_rpc_cancel (p->rpc);
	}
	g_clear_pointer (&gw->rpcs, g_hash_table_unref);
	if (gw->attr_parts != NULL) {
		GHashTableIter iter;
		AttrRequestPart *part;
		GPtrArray *reqs = g_ptr_array_new_with_free_func ((GDestroyNotify) attr_request_free);

		g_hash_table_iter_init (&iter, gw->attr_parts);
		while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &part)) {
			if (!g_ptr_array_find (reqs, part->req, NULL))
				g_ptr_array_add (reqs, part->req);
		}
		g_clear_pointer (&gw->attr_parts, g_hash_table_unref);
		g_ptr_array_unref (reqs);
	}
	g_clear_pointer (&gw->uplink, tbg_uplink_free);
	g_clear_pointer (&gw->link, tbg_mqtt_link_free);
	G_OBJECT_CLASS (tbg_gateway_parent_class)->dispose (object);
}

static void
tbg_gateway_finalize (GObject *object)
{
	TbgGateway *gw = TBG_GATEWAY (object);

	for (guint i = 0; i < gw->devices->len; i++)
		_tbg_device_detach (g_ptr_array_index (gw->devices, i));
	g_ptr_array_unref (gw->devices);
	g_hash_table_unref (gw->by_name);
	g_ptr_array_unref (gw->instances);
	if (gw->outbox != NULL)
		tbg_outbox_free (gw->outbox);
	tbg_config_free (gw->cfg);
	G_OBJECT_CLASS (tbg_gateway_parent_class)->finalize (object);
}

static void
tbg_gateway_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
	TbgGateway *gw = TBG_GATEWAY (object);

	switch (id) {
	case PROP_LINK_UP:
		g_value_set_boolean (value, tbg_gateway_get_link_up (gw));
		break;
	default:
		G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
	}
}

static void
tbg_gateway_class_init (TbgGatewayClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS (klass);

	object_class->dispose = tbg_gateway_dispose;
	object_class->finalize = tbg_gateway_finalize;
	object_class->get_property = tbg_gateway_get_property;
	props[PROP_LINK_UP] = g_param_spec_boolean ("link-up", NULL, NULL, FALSE,
	                                            G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
	g_object_class_install_properties (object_class, N_PROPS, props);
	signals[SIGNAL_DEVICE_ADDED] =
		g_signal_new ("device-added", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
		              NULL, NULL, NULL, G_TYPE_NONE, 1, TBG_TYPE_DEVICE);
	signals[SIGNAL_DEVICE_REMOVED] =
		g_signal_new ("device-removed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
		              NULL, NULL, NULL, G_TYPE_NONE, 1, TBG_TYPE_DEVICE);
}

static void
tbg_gateway_init (TbgGateway *gw)
{
	gw->devices = g_ptr_array_new_with_free_func (g_object_unref);
	gw->by_name = g_hash_table_new (g_str_hash, g_str_equal);
	gw->instances = g_ptr_array_new ();
	gw->rpcs = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
	                                  (GDestroyNotify) pending_rpc_free);
	gw->attr_parts = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, g_free);
	gw->stats.started_us = g_get_monotonic_time ();
	tbg_rate_limit_init (&gw->warn_limit, WARN_BURST, WARN_WINDOW_US);
	tbg_rate_limit_init (&gw->timeout_limit, WARN_BURST, WARN_WINDOW_US);
}

/* ---- uplink ------------------------------------------------------------ */

/* The queue drops the oldest waiting record when it is full (on append)
 * and records older than ttl-s (when the uplink reaches them). Said at most
 * once a minute each, with the running total that the statistics carry. */
static void
report_drops (TbgGateway *gw, gboolean on_append)
{
	gint64 now = g_get_monotonic_time ();
	gint64 *last = on_append ? &gw->full_logged : &gw->expired_logged;

	if (*last != 0 && now - *last < 60 * G_USEC_PER_SEC)
		return;
	*last = now;
	if (on_append)
		g_warning (_("The queue is full ([storage] max-messages=%" G_GUINT64_FORMAT "): dropping "
		             "the oldest waiting messages, %" G_GUINT64_FORMAT " dropped so far"),
		           gw->cfg->storage.max_messages, gw->outbox->dropped);
	else
		g_warning (_("Dropping queued messages older than [storage] ttl-s=%" G_GUINT64_FORMAT ", %"
		             G_GUINT64_FORMAT " dropped so far"), gw->cfg->storage.ttl_s, gw->outbox->dropped);
}

/* Reports what the outbox dropped since we last looked: while appending it
 * made room, at any other time the records had expired. */
static void
check_drops (TbgGateway *gw, gboolean appending)
{
	if (gw->outbox->dropped != gw->drops_seen)
		report_drops (gw, appending);
	gw->drops_seen = gw->outbox->dropped;
}

/* Whether a record can ever be published within max-payload-bytes: the
 * packer's own verdict, asked only when the worst case (every byte of the
 * name escaped) would not fit anyway. */
static gboolean
record_fits (TbgGateway *gw, TbgRecordKind kind, const char *device, gsize len)
{
	gsize max = gw->cfg->gateway.max_payload_bytes;
	TbgPackKind pack;
	TbgPacker *packer;
	gboolean fits;

	if (kind == TBG_RECORD_TELEMETRY)
		pack = TBG_PACK_TELEMETRY;
	else if (kind == TBG_RECORD_ATTRIBUTES)
		pack = TBG_PACK_ATTRIBUTES;
	else if (kind == TBG_RECORD_CLAIM)
		pack = TBG_PACK_CLAIM;
	else
		return len <= max;
	if (device == NULL || len + 6 * strlen (device) + 9 <= max)
		return TRUE;
	packer = tbg_packer_new (pack, max);
	fits = tbg_packer_add (packer, device, "", len) != TBG_PACK_TOO_BIG;
	tbg_packer_free (packer);
	return fits;
}

gboolean
_tbg_gateway_enqueue (TbgGateway *gw, TbgRecordKind kind, const char *device,
                      char *payload, gsize len, GError **error)
{
	TbgRecord *rec;

	/* Refused at the call, not accepted and dropped later. */
	if (!record_fits (gw, kind, device, len)) {
		g_set_error (error, TBG_ERROR, TBG_ERROR_INVALID_ARGS,
		             _("%s of %zu bytes is more than [gateway] max-payload-bytes=%zu can carry"),
		             tbg_record_kind_to_string (kind), len, gw->cfg->gateway.max_payload_bytes);
		g_free (payload);
		gw->refused++;
		return FALSE;
	}
	rec = tbg_record_new (kind, device, payload, len);

	check_drops (gw, FALSE);
	if (!tbg_outbox_append (gw->outbox, rec, error))
		return FALSE;
	check_drops (gw, TRUE);
	tbg_uplink_kick (gw->uplink, kind);
	return TRUE;
}

static void
enqueue_own (TbgGateway *gw, TbgRecordKind kind, json_t *data)
{
	g_autoptr (GError) error = NULL;
	char *payload = tbg_codec_encode (data, &error);

	if (payload == NULL || !_tbg_gateway_enqueue (gw, kind, NULL, payload, strlen (payload), &error))
		g_warning (_("Cannot send %s: %s"), tbg_record_kind_to_string (kind), error->message);
}

static const char *
device_profile (const char *name, gpointer user_data)
{
	TbgDevice *dev = g_hash_table_lookup (((TbgGateway *) user_data)->by_name, name);

	return dev ? tbg_device_get_profile (dev) : NULL;
}

/* Records acknowledged or given up on so far. */
static guint64
records_done (TbgGateway *gw)
{
	return tbg_uplink_records_sent (gw->uplink) + tbg_uplink_records_dropped (gw->uplink) +
	       tbg_uplink_records_rejected (gw->uplink) + gw->outbox->dropped;
}

/* After an outage: how much waited, and when it has all gone out. (After a
 * restart the spool says what it found.) */
static void
report_backlog_start (TbgGateway *gw)
{
	guint64 waiting = tbg_outbox_length (gw->outbox);

	gw->backlog = 0;
	if (!gw->was_up || waiting == 0) {
		gw->was_up = TRUE;
		return;
	}
	g_message (_("%" G_GUINT64_FORMAT " messages queued while disconnected go out first"), waiting);
	gw->backlog = waiting;
	gw->backlog_base = records_done (gw);
	gw->backlog_since = g_get_monotonic_time ();
}

static void
report_backlog_progress (TbgGateway *gw)
{
	gint64 ms;

	if (gw->backlog == 0 || records_done (gw) - gw->backlog_base < gw->backlog)
		return;
	ms = (g_get_monotonic_time () - gw->backlog_since) / 1000;
	if (ms < 1000)
		g_message (_("The %" G_GUINT64_FORMAT " queued messages were sent in %d ms"), gw->backlog, (int) ms);
	else
		g_message (_("The %" G_GUINT64_FORMAT " queued messages were sent in %.1f s"), gw->backlog,
		           ms / 1000.0);
	gw->backlog = 0;
}

static void
link_up (gpointer user_data)
{
	TbgGateway *gw = user_data;
	g_autoptr (GPtrArray) names = g_ptr_array_new ();
	g_autoptr (GPtrArray) types = g_ptr_array_new ();

	report_backlog_start (gw);

	for (guint i = 0; i < gw->devices->len; i++) {
		TbgDevice *dev = g_ptr_array_index (gw->devices, i);

		if (tbg_device_get_connected (dev)) {
			g_ptr_array_add (names, (gpointer) tbg_device_get_name (dev));
			g_ptr_array_add (types, (gpointer) tbg_device_get_profile (dev));
		}
	}
	g_ptr_array_add (names, NULL);
	g_ptr_array_add (types, NULL);
	tbg_uplink_session_up (gw->uplink, (const char * const *) names->pdata,
	                       (const char * const *) types->pdata);
	resync_shared (gw);
	g_object_notify_by_pspec (G_OBJECT (gw), props[PROP_LINK_UP]);
}

static void
link_down (gpointer user_data)
{
	TbgGateway *gw = user_data;

	tbg_uplink_session_down (gw->uplink);
	g_object_notify_by_pspec (G_OBJECT (gw), props[PROP_LINK_UP]);
}

/* What still waits for the broker: queued records and RPC answers. */
static guint64
pending (TbgGateway *gw)
{
	return tbg_outbox_length (gw->outbox) + tbg_uplink_pending_replies (gw->uplink);
}

static void
link_acked (int mid, gpointer user_data)
{
	TbgGateway *gw = user_data;

	tbg_uplink_acked (gw->uplink, mid);
	check_drops (gw, FALSE);
	report_backlog_progress (gw);
	/* We are inside libmosquitto here: it must not be torn down before
	 * this call returns. */
	if (gw->done != NULL && pending (gw) == 0 && gw->grace_id != 0) {
		g_source_remove (gw->grace_id);
		gw->grace_id = g_idle_add (grace_cb, gw);
	}
}

/* ---- RPC ----------------------------------------------------------------- */

static char *
rpc_key (const char *device, gint64 id)
{
	return g_strdup_printf ("%s\n%" G_GINT64_FORMAT, device, id);
}

static void
device_rpc_replied (TbgRpc *rpc, json_t *data, gpointer user_data)
{
	TbgGateway *gw = user_data;
	g_autoptr (GError) error = NULL;
	g_autofree char *key = rpc_key (tbg_rpc_get_device (rpc), tbg_rpc_get_id (rpc));
	char *payload = tbg_codec_rpc_response (tbg_rpc_get_device (rpc), tbg_rpc_get_id (rpc),
	                                        data, &error);

	if (payload == NULL)
		g_warning (_("Cannot answer RPC %" G_GINT64_FORMAT " of “%s”: %s"),
		           tbg_rpc_get_id (rpc), tbg_rpc_get_device (rpc), error->message);
	else
		tbg_uplink_send_reply (gw->uplink, TBG_TOPIC_RPC, payload, strlen (payload));
	if (gw->rpcs != NULL)
		g_hash_table_remove (gw->rpcs, key);
}

static gboolean
rpc_timeout_cb (gpointer data)
{
	PendingRpc *p = data;
	guint64 suppressed = 0;

	p->timeout_id = 0;
	p->gw->stats.rpcs_timed_out++;
	/* a flood of RPCs to a silent device is a flood of these */
	if (tbg_rate_limit_allow (&p->gw->timeout_limit, g_get_monotonic_time (), &suppressed))
		g_message (_("RPC %" G_GINT64_FORMAT " “%s” of “%s” got no reply in time"),
		           tbg_rpc_get_id (p->rpc), tbg_rpc_get_method (p->rpc), tbg_rpc_get_device (p->rpc));
	if (suppressed > 0)
		g_message (_("%" G_GUINT64_FORMAT " more RPCs got no reply in time"), suppressed);
	tbg_rpc_reply_error (p->rpc, "timeout");
	return G_SOURCE_REMOVE;
}

static void
reply_unknown_device (TbgGateway *gw, const char *device, gint64 id)
{
	g_autoptr (TbgRpc) rpc = tbg_rpc_new (device, id, NULL, NULL, device_rpc_replied, gw);

	tbg_rpc_reply_error (rpc, "unknown device “%s”", device);
}

static void
handle_rpc (TbgGateway *gw, TbgDownlink *d)
{
	TbgDevice *dev = g_hash_table_lookup (gw->by_name, d->device);
	PendingRpc *p;

	gw->stats.rpcs_received++;
	if (dev == NULL) {
		warn_downlink (gw, _("RPC %" G_GINT64_FORMAT " for unknown device “%s”; answered with an error"),
		               d->id, d->device);
		reply_unknown_device (gw, d->device, d->id);
		return;
	}
	p = g_new0 (PendingRpc, 1);
	p->key = rpc_key (d->device, d->id);
	if (g_hash_table_contains (gw->rpcs, p->key)) {
		/* The server pushes an RPC again when a device session reopens. */
		g_debug ("RPC %" G_GINT64_FORMAT " of “%s” is already in progress", d->id, d->device);
		g_free (p->key);
		g_free (p);
		return;
	}
	p->gw = gw;
	p->rpc = tbg_rpc_new (d->device, d->id, d->method, d->params, device_rpc_replied, gw);
	p->timeout_id = g_timeout_add (gw->cfg->gateway.rpc_timeout_ms, rpc_timeout_cb, p);
	g_hash_table_insert (gw->rpcs, p->key, p);
	g_debug ("RPC %" G_GINT64_FORMAT " “%s” for “%s”", d->id, d->method, d->device);
	{
		g_autoptr (TbgRpc) rpc = tbg_rpc_ref (p->rpc);

		_tbg_device_rpc_requested (dev, rpc);
	}
}

/* ---- the gateway's own device --------------------------------------------- */

static json_t *
stats_json (TbgGateway *gw)
{
	TbgGatewayStats s;

	tbg_gateway_get_stats (gw, &s);
	return json_pack ("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}",
	                  "uptimeS", (json_int_t) ((g_get_monotonic_time () - s.started_us) / G_USEC_PER_SEC),
	                  "messagesSent", (json_int_t) s.records_sent,
	                  "messagesQueued", (json_int_t) s.records_queued,
	                  "messagesDropped", (json_int_t) s.records_dropped,
	                  "messagesRejected", (json_int_t) s.records_rejected,
	                  "publishesSent", (json_int_t) s.publishes_sent,
	                  "downlinkInvalid", (json_int_t) s.downlink_invalid,
	                  "devicesConnected", (json_int_t) s.devices_connected,
	                  "devices", (json_int_t) s.devices);
}

static void
rename_device (TbgGateway *gw, const char *old_name, const char *new_name)
{
	TbgDevice *dev = g_hash_table_lookup (gw->by_name, old_name);

	if (dev == NULL || g_hash_table_contains (gw->by_name, new_name)) {
		g_message (_("Server renamed “%s” to “%s”; no such device here or name taken"),
		           old_name, new_name);
		return;
	}
	g_message (_("Server renamed device “%s” to “%s”"), old_name, new_name);
	g_hash_table_remove (gw->by_name, old_name);
	_tbg_device_set_name (dev, new_name);
	g_hash_table_insert (gw->by_name, (gpointer) tbg_device_get_name (dev), dev);
	tbg_uplink_rename_device (gw->uplink, old_name, new_name);
}

static void
handle_own_rpc (TbgGateway *gw, TbgDownlink *d)
{
	const char *method = d->method;
	json_t *reply;

	/* ThingsBoard's gateway pages name gateway-level methods gateway_<name>. */
	if (g_str_has_prefix (method, "gateway_") && !g_str_equal (method, "gateway_device_renamed") &&
	    !g_str_equal (method, "gateway_device_deleted"))
		method += strlen ("gateway_");

	if (g_str_equal (method, "gateway_device_renamed") && json_is_object (d->params)) {
		const char *old_name;
		json_t *v;

		json_object_foreach (d->params, old_name, v) {
			if (json_is_string (v))
				rename_device (gw, old_name, json_string_value (v));
		}
		return;   /* one-way */
	}
	if (g_str_equal (method, "gateway_device_deleted") && json_is_string (d->params)) {
		g_message (_("Server deleted device “%s”; it is connected again with its next data"),
		           json_string_value (d->params));
		tbg_uplink_forget_device (gw->uplink, json_string_value (d->params));
		return;   /* one-way */
	}
	if (g_str_equal (method, "ping"))
		reply = json_pack ("{s:b,s:s}", "pong", 1, "version", PACKAGE_VERSION);
	else if (g_str_equal (method, "version"))
		reply = json_pack ("{s:s}", "version", PACKAGE_VERSION);
	else if (g_str_equal (method, "stats"))
		reply = stats_json (gw);
	else if (g_str_equal (method, "devices")) {
		reply = json_array ();
		for (guint i = 0; i < gw->devices->len; i++) {
			TbgDevice *dev = g_ptr_array_index (gw->devices, i);

			json_array_append_new (reply, json_pack ("{s:s,s:s,s:s,s:b}",
			                       "name", tbg_device_get_name (dev),
			                       "type", tbg_device_get_profile (dev),
			                       "source", tbg_device_get_source (dev)
			                                 ? tbg_device_get_source (dev)->name : "",
			                       "connected", tbg_device_get_connected (dev)));
		}
	} else
		reply = json_pack ("{s:s}", "error", "unknown method");
	{
		g_autoptr (GError) error = NULL;
		char *text = tbg_codec_encode (reply, &error);
		g_autofree char *topic = g_strdup_printf (TBG_TOPIC_OWN_RPC_RESPONSE_PREFIX "%" G_GINT64_FORMAT, d->id);

		if (text != NULL)
			tbg_uplink_send_reply (gw->uplink, topic, text, strlen (text));
		else
			g_warning (_("Cannot answer the server's RPC %" G_GINT64_FORMAT " (%s): %s"), d->id, method,
			           error->message);
	}
	json_decref (reply);
}

static gboolean
stats_cb (gpointer data)
{
	TbgGateway *gw = data;
	g_autoptr (GError) error = NULL;
	json_t *values = stats_json (gw);
	char *payload = tbg_codec_sample (g_get_real_time () / 1000, values, &error);

	json_decref (values);
	if (payload == NULL || !_tbg_gateway_enqueue (gw, TBG_RECORD_OWN_TELEMETRY, NULL, payload,
	                                              strlen (payload), &error))
		g_warning (_("Cannot queue gateway statistics: %s"), error->message);
	return G_SOURCE_CONTINUE;
}

static void
restart_stats (TbgGateway *gw)
{
	g_clear_handle_id (&gw->stats_id, g_source_remove);
	if (gw->cfg->gateway.stats_interval_s > 0)
		gw->stats_id = g_timeout_add_seconds (gw->cfg->gateway.stats_interval_s, stats_cb, gw);
}

/* ---- attribute requests ------------------------------------------------------ */

#define SHARED_KEYS "tbg-shared-keys"

/* The shared keys a device uses: the ones it was sent or asked for. */
static void
note_shared_keys (TbgDevice *dev, json_t *data, const char * const *keys)
{
	GHashTable *set = g_object_get_data (G_OBJECT (dev), SHARED_KEYS);
	const char *key;
	json_t *v;

	if (set == NULL) {
		set = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
		g_object_set_data_full (G_OBJECT (dev), SHARED_KEYS, set, (GDestroyNotify) g_hash_table_unref);
	}
	if (json_is_object (data)) {
		json_object_foreach (data, key, v)
			g_hash_table_add (set, g_strdup (key));
	}
	for (guint i = 0; keys != NULL && keys[i] != NULL; i++)
		g_hash_table_add (set, g_strdup (keys[i]));
}

static int
cmp_str (const void *a, const void *b)
{
	return strcmp (*(const char * const *) a, *(const char * const *) b);
}

static void
attr_request_finish (AttrRequest *req, const GError *error)
{
	TbgGateway *gw = req->gw;

	for (guint i = 0; i < req->n_ids; i++)
		g_hash_table_remove (gw->attr_parts, &req->ids[i]);
	if (error == NULL)
		json_object_update (tbg_device_get_shared_attributes (req->dev), req->shared);
	if (req->callback != NULL)
		req->callback (req->dev, error ? NULL : req->client, error ? NULL : req->shared,
		               error, req->user_data);
	attr_request_free (req);
}

static gboolean
attr_request_timeout_cb (gpointer data)
{
	AttrRequest *req = data;
	g_autoptr (GError) error = g_error_new (TBG_ERROR, TBG_ERROR_TIMEOUT,
	                                        _("no attribute response from the server within %u ms"),
	                                        req->gw->cfg->gateway.attribute_request_timeout_ms);

	req->timeout_id = 0;
	attr_request_finish (req, error);
	return G_SOURCE_REMOVE;
}

static gboolean
send_attr_request (TbgGateway *gw, AttrRequest *req, Scope scope, GError **error)
{
	const char * const *client = (const char * const *) req->client_keys;
	const char * const *shared = (const char * const *) req->shared_keys;
	const char *name = tbg_device_get_name (req->dev);
	gint64 id = gw->next_attr_id++;
	AttrRequestPart *part;
	char *payload;

	if (scope == SCOPE_BOTH)
		payload = tbg_codec_attribute_request_combined (id, name, client, shared, error);
	else
		payload = tbg_codec_attribute_request (id, name,
		                                       scope == SCOPE_CLIENT ? TBG_ATTR_SCOPE_CLIENT
		                                                             : TBG_ATTR_SCOPE_SHARED,
		                                       scope == SCOPE_CLIENT ? client : shared, error);
	if (payload != NULL && gw->resyncing)
		/* For this session only, ahead of any backlog. */
		tbg_uplink_send_reply (gw->uplink, TBG_TOPIC_ATTRIBUTES_REQUEST, payload, strlen (payload));
	else if (payload == NULL ||
	         !_tbg_gateway_enqueue (gw, TBG_RECORD_ATTRIBUTE_REQUEST, name, payload, strlen (payload), error))
		return FALSE;
	part = g_new0 (AttrRequestPart, 1);
	part->req = req;
	part->scope = scope;
	req->ids[req->n_ids++] = id;
	req->outstanding++;
	g_hash_table_insert (gw->attr_parts, g_memdup2 (&id, sizeof id), part);
	return TRUE;
}

gboolean
_tbg_gateway_request_attributes (TbgGateway *gw, TbgDevice *dev,
                                 const char * const *client_keys,
                                 const char * const *shared_keys,
                                 TbgAttributesCallback callback, gpointer user_data,
                                 GError **error)
{
	gboolean has_client = client_keys != NULL && client_keys[0] != NULL;
	gboolean has_shared = shared_keys != NULL && shared_keys[0] != NULL;
	AttrRequest *req;
	gboolean ok;

	if (!has_client && !has_shared) {
		/* An empty key list would make the server return every attribute. */
		g_set_error (error, TBG_ERROR, TBG_ERROR_INVALID_ARGS, _("no attribute keys given"));
		return FALSE;
	}
	for (guint s = 0; s < 2; s++) {
		const char * const *keys = s == 0 ? client_keys : shared_keys;

		for (guint i = 0; keys != NULL && keys[i] != NULL; i++) {
			if (keys[i][0] == '\0' || !g_utf8_validate (keys[i], -1, NULL)) {
				g_set_error (error, TBG_ERROR, TBG_ERROR_INVALID_ARGS,
				             _("attribute keys must be non-empty UTF-8 strings"));
				return FALSE;
			}
		}
	}
	req = g_new0 (AttrRequest, 1);
	req->gw = gw;
	req->dev = g_object_ref (dev);
	req->client_keys = g_strdupv ((char **) (has_client ? client_keys : NULL));
	req->shared_keys = g_strdupv ((char **) (has_shared ? shared_keys : NULL));
	req->callback = callback;
	req->user_data = user_data;
	req->client = json_object ();
	req->shared = json_object ();
	if (gw->cfg->gateway.attribute_request_format == TBG_ATTR_REQUEST_COMBINED)
		ok = send_attr_request (gw, req, SCOPE_BOTH, error);
	else
		ok = (!has_client || send_attr_request (gw, req, SCOPE_CLIENT, error)) &&
		     (!has_shared || send_attr_request (gw, req, SCOPE_SHARED, error));
	if (!ok) {
		for (guint i = 0; i < req->n_ids; i++)
			g_hash_table_remove (gw->attr_parts, &req->ids[i]);
		attr_request_free (req);
		return FALSE;
	}
	req->timeout_id = g_timeout_add (gw->cfg->gateway.attribute_request_timeout_ms,
	                                 attr_request_timeout_cb, req);
	if (has_shared)
		note_shared_keys (dev, NULL, shared_keys);
	return TRUE;
}

static void
resync_done (TbgDevice *dev, json_t *client, json_t *shared, const GError *error, gpointer data)
{
	if (error != NULL) {
		g_message (_("Shared attributes of “%s” not refreshed after the reconnect: %s"),
		           tbg_device_get_name (dev), error->message);
		return;
	}
	if (json_object_size (shared) > 0)
		_tbg_device_shared_attributes (dev, shared, NULL);
}

/* ThingsBoard does not replay the shared attribute updates made while the
 * gateway was offline: on every new session, ask for the keys each
 * connected device uses and hand the answer on as an update. */
static void
resync_shared (TbgGateway *gw)
{
	gw->resyncing = TRUE;
	for (guint i = 0; i < gw->devices->len; i++) {
		TbgDevice *dev = g_ptr_array_index (gw->devices, i);
		GHashTable *set = g_object_get_data (G_OBJECT (dev), SHARED_KEYS);
		g_autofree const char **keys = NULL;
		g_autoptr (GError) error = NULL;

		if (set == NULL || g_hash_table_size (set) == 0 || !tbg_device_get_connected (dev))
			continue;
		keys = (const char **) g_hash_table_get_keys_as_array (set, NULL);
		qsort (keys, g_hash_table_size (set), sizeof *keys, cmp_str);
		if (!_tbg_gateway_request_attributes (gw, dev, NULL, keys, resync_done, NULL, &error))
			g_message (_("Shared attributes of “%s” not refreshed after the reconnect: %s"),
			           tbg_device_get_name (dev), error->message);
	}
	gw->resyncing = FALSE;
}

static gboolean
strv_has (char **keys, const char *key)
{
	return keys != NULL && g_strv_contains ((const char * const *) keys, key);
}

/* Which scope a key of an answer belongs to when the answer does not say. */
static json_t *
target_for_key (AttrRequest *req, Scope scope, const char *key)
{
	if (scope == SCOPE_CLIENT)
		return req->client;
	if (scope == SCOPE_SHARED)
		return req->shared;
	return strv_has (req->shared_keys, key) && !strv_has (req->client_keys, key)
	       ? req->shared : req->client;
}

static void
handle_attr_response (TbgGateway *gw, TbgDownlink *d)
{
	AttrRequestPart *part = g_hash_table_lookup (gw->attr_parts, &d->id);
	AttrRequest *req;
	const char *key;
	json_t *v;

	if (part == NULL) {
		g_debug ("Attribute response %" G_GINT64_FORMAT " matches no request (late?)", d->id);
		return;
	}
	req = part->req;
	/* The id alone could complete another device's request with the
	 * wrong values; the server sends both. */
	if (d->device == NULL || !g_str_equal (d->device, tbg_device_get_name (req->dev))) {
		warn_downlink (gw, _("Attribute response %" G_GINT64_FORMAT " names “%s”, but the request "
		                     "was for “%s”; ignored"), d->id, d->device ? d->device : "",
		               tbg_device_get_name (req->dev));
		return;
	}
	if (d->client != NULL)
		json_object_update (req->client, d->client);
	if (d->shared != NULL)
		json_object_update (req->shared, d->shared);
	if (d->values != NULL) {
		json_object_foreach (d->values, key, v)
			json_object_set (target_for_key (req, part->scope, key), key, v);
	}
	if (d->value != NULL) {
		/* A single-key answer does not name its key: it is the one asked for. */
		char **keys = part->scope == SCOPE_SHARED ? req->shared_keys : req->client_keys;

		if (part->scope == SCOPE_BOTH && keys == NULL)
			keys = req->shared_keys;
		if (keys != NULL && keys[0] != NULL)
			json_object_set (target_for_key (req, part->scope, keys[0]), keys[0], d->value);
	}
	g_hash_table_remove (gw->attr_parts, &d->id);
	for (guint i = 0; i < req->n_ids; i++) {
		if (req->ids[i] == d->id)
			req->ids[i] = -1;
	}
	if (--req->outstanding == 0)
		attr_request_finish (req, NULL);
}

/* ---- downlink ------------------------------------------------------------- */

static void
link_message (const char *topic, const void *payload, gsize len, gpointer user_data)
{
	TbgGateway *gw = user_data;
	g_autoptr (GError) error = NULL;
	TbgDownlink d = { 0 };
	TbgDevice *dev;

	gw->stats.downlink_received++;
	if (!tbg_codec_decode (topic, payload, len, &d, &error)) {
		gw->stats.downlink_invalid++;
		warn_downlink (gw, _("Ignoring malformed message on %s: %s"), topic, error->message);
		tbg_downlink_clear (&d);
		return;
	}
	switch (d.kind) {
	case TBG_DOWNLINK_RPC_REQUEST:
		handle_rpc (gw, &d);
		break;
	case TBG_DOWNLINK_RPC_ECHO:
		/* A plain broker echoes our own responses back. */
		break;
	case TBG_DOWNLINK_ATTRIBUTE_UPDATE:
		dev = g_hash_table_lookup (gw->by_name, d.device);
		if (dev == NULL)
			warn_downlink (gw, _("Shared attributes for unknown device “%s” dropped"), d.device);
		else {
			note_shared_keys (dev, d.data, NULL);
			_tbg_device_shared_attributes (dev, d.data, (const char * const *) d.deleted);
		}
		break;
	case TBG_DOWNLINK_ATTRIBUTE_RESPONSE:
		handle_attr_response (gw, &d);
		break;
	case TBG_DOWNLINK_OWN_RPC_REQUEST:
		handle_own_rpc (gw, &d);
		break;
	case TBG_DOWNLINK_OWN_ATTRIBUTE_UPDATE:
		g_debug ("Gateway shared attributes updated");
		break;
	}
	tbg_downlink_clear (&d);
}

/* ---- sources and life cycle -------------------------------------------------- */

static gboolean
check_source_groups (const TbgConfig *cfg, const TbgSource * const *sources, GError **error)
{
	for (guint i = 0; sources[i] != NULL; i++) {
		g_auto (GStrv) names = NULL;

		if (g_key_file_has_group (cfg->keyfile, sources[i]->name) &&
		    !tbg_config_check_keys (cfg, sources[i]->name,
		                            sources[i]->global_keys ? sources[i]->global_keys
		                                                    : (const char * const[]) { NULL }, error))
			return FALSE;
		if (sources[i]->config_keys == NULL)
			continue;
		names = tbg_config_device_groups (cfg, sources[i]->name);
		for (guint j = 0; names[j] != NULL; j++) {
			g_autofree char *group = g_strdup_printf ("%s:%s", sources[i]->name, names[j]);

			if (!tbg_config_check_keys (cfg, group, sources[i]->config_keys, error))
				return FALSE;
		}
	}
	return TRUE;
}

static gboolean
start_sources (TbgGateway *gw, GError **error)
{
	for (guint i = 0; gw->sources[i] != NULL; i++) {
		gpointer instance = gw->sources[i]->start
			? gw->sources[i]->start (gw, gw->cfg, error) : NULL;

		if (error != NULL && *error != NULL) {
			g_prefix_error (error, "%s: ", gw->sources[i]->name);
			stop_sources (gw);
			return FALSE;
		}
		g_ptr_array_add (gw->instances, instance);
	}
	return TRUE;
}

static void
stop_sources (TbgGateway *gw)
{
	for (guint i = gw->instances->len; i > 0; i--) {
		gpointer instance = g_ptr_array_index (gw->instances, i - 1);

		if (gw->sources[i - 1]->stop != NULL)
			gw->sources[i - 1]->stop (instance);
	}
	g_ptr_array_set_size (gw->instances, 0);
}

static const char * const subscriptions[] = {
	"v1/gateway/rpc",
	"v1/gateway/attributes",
	"v1/gateway/attributes/response",
	"v1/devices/me/rpc/request/+",
	"v1/devices/me/attributes",
	NULL
};

static const TbgMqttLinkCallbacks link_callbacks = {
	.up = link_up,
	.down = link_down,
	.message = link_message,
	.acked = link_acked,
};

/* A spool that cannot be opened must not stop the gateway: it forwards
 * from memory and says so. */
static TbgOutbox *
open_outbox (const TbgStorageConfig *st)
{
	g_autoptr (GError) error = NULL;
	TbgOutbox *ob;

	if (st->path == NULL)
		return tbg_memory_outbox_new (st->max_messages);
	ob = tbg_spool_open (st->path, st->max_messages, st->ttl_s, &error);
	if (ob != NULL)
		return ob;
	g_warning (_("%s; queued data is kept in memory only"), error->message);
	return tbg_memory_outbox_new (st->max_messages);
}

TbgGateway *
tbg_gateway_new (TbgConfig *cfg, const TbgSource * const *sources, GError **error)
{
	g_autoptr (TbgGateway) gw = g_object_new (TBG_TYPE_GATEWAY, NULL);

	gw->cfg = cfg;
	gw->sources = sources;
	if (!check_source_groups (cfg, sources, error))
		return NULL;
	/* The link checks certificates and keys: fail before creating any state. */
	gw->link = tbg_mqtt_link_new (&cfg->server, subscriptions, cfg->gateway.max_inflight,
	                              &link_callbacks, gw, error);
	if (gw->link == NULL)
		return NULL;
	gw->outbox = open_outbox (&cfg->storage);
	gw->uplink = tbg_uplink_new (gw->link, gw->outbox, cfg->gateway.max_payload_bytes,
	                             cfg->gateway.max_inflight, device_profile, gw);
	tbg_uplink_set_linger (gw->uplink, cfg->gateway.linger_ms);
	tbg_uplink_set_give_up_after (gw->uplink, cfg->gateway.give_up_after_closes);
	return g_steal_pointer (&gw);
}

gboolean
tbg_gateway_start (TbgGateway *gw, GError **error)
{
	json_t *attrs;

	if (!start_sources (gw, error))
		return FALSE;
	attrs = json_pack ("{s:s}", "tbgwVersion", PACKAGE_VERSION);
	enqueue_own (gw, TBG_RECORD_OWN_ATTRIBUTES, attrs);
	json_decref (attrs);
	restart_stats (gw);
	tbg_mqtt_link_start (gw->link);
	return TRUE;
}

gboolean
tbg_gateway_reload (TbgGateway *gw, TbgConfig *cfg, GError **error)
{
	TbgMqttLink *link = NULL;

	if (!check_source_groups (cfg, gw->sources, error)) {
		tbg_config_free (cfg);
		return FALSE;
	}
	if (!tbg_server_config_equal (&cfg->server, &gw->cfg->server) ||
	    cfg->gateway.max_inflight != gw->cfg->gateway.max_inflight) {
		link = tbg_mqtt_link_new (&cfg->server, subscriptions, cfg->gateway.max_inflight,
		                          &link_callbacks, gw, error);
		if (link == NULL) {
			tbg_config_free (cfg);
			return FALSE;
		}
	}
	stop_sources (gw);
	tbg_config_free (gw->cfg);
	gw->cfg = cfg;
	if (link != NULL) {
		g_message (_("Server settings changed; reconnecting"));
		tbg_uplink_session_down (gw->uplink);
		tbg_mqtt_link_free (gw->link);
		gw->link = link;
		tbg_uplink_free (gw->uplink);
		gw->uplink = NULL;
	}
	if (gw->uplink == NULL) {
		gw->uplink = tbg_uplink_new (gw->link, gw->outbox, cfg->gateway.max_payload_bytes,
		                             cfg->gateway.max_inflight, device_profile, gw);
		tbg_mqtt_link_start (gw->link);
	} else {
		tbg_uplink_set_limits (gw->uplink, cfg->gateway.max_payload_bytes,
		                       cfg->gateway.max_inflight);
	}
	tbg_uplink_set_linger (gw->uplink, cfg->gateway.linger_ms);
	tbg_uplink_set_give_up_after (gw->uplink, cfg->gateway.give_up_after_closes);
	restart_stats (gw);
	g_message (_("Configuration reloaded"));
	return start_sources (gw, error);
}

static void
finish_shutdown (TbgGateway *gw)
{
	GSourceFunc done = gw->done;

	if (done == NULL)
		return;
	gw->done = NULL;
	g_clear_handle_id (&gw->grace_id, g_source_remove);
	if (pending (gw) > 0)
		g_warning (_("Exiting with %" G_GUINT64_FORMAT " messages not acknowledged by the server"),
		           pending (gw));
	tbg_mqtt_link_stop (gw->link);
	done (gw->done_data);
}

static gboolean
grace_cb (gpointer data)
{
	TbgGateway *gw = data;

	gw->grace_id = 0;
	finish_shutdown (gw);
	return G_SOURCE_REMOVE;
}

void
tbg_gateway_shutdown (TbgGateway *gw, guint grace_ms, GSourceFunc done, gpointer user_data)
{
	stop_sources (gw);
	g_clear_handle_id (&gw->stats_id, g_source_remove);
	gw->done = done;
	gw->done_data = user_data;
	if (pending (gw) == 0 || !tbg_mqtt_link_is_up (gw->link)) {
		finish_shutdown (gw);
		return;
	}
	g_message (_("Waiting up to %u ms for %" G_GUINT64_FORMAT " queued messages"),
	           grace_ms, pending (gw));
	gw->grace_id = g_timeout_add (grace_ms, grace_cb, gw);
}

/* ---- registry -------------------------------------------------------------- */

static gboolean
is_blank (const char *s)
{
	for (; s != NULL && *s != '\0'; s++) {
		if (!g_ascii_isspace (*s))
			return FALSE;
	}
	return TRUE;
}

TbgDevice *
tbg_gateway_add_device (TbgGateway *gw, const TbgSource *source, gpointer instance,
                        const char *name, const char *profile, const char *address,
                        GError **error)
{
	TbgDevice *dev;

	if (is_blank (name)) {
		g_set_error (error, TBG_ERROR, TBG_ERROR_INVALID_ARGS, _("device name is empty"));
		return NULL;
	}
	if (!g_utf8_validate (name, -1, NULL) || (profile && !g_utf8_validate (profile, -1, NULL))) {
		g_set_error (error, TBG_ERROR, TBG_ERROR_INVALID_ARGS, _("device name is not valid UTF-8"));
		return NULL;
	}
	/* ThingsBoard's limit; a longer name could never be connected. */
	if (g_utf8_strlen (name, -1) > TBG_MAX_NAME_CHARS) {
		g_set_error (error, TBG_ERROR, TBG_ERROR_INVALID_ARGS,
		             _("device name is longer than %u characters"), TBG_MAX_NAME_CHARS);
		return NULL;
	}
	if (g_hash_table_contains (gw->by_name, name)) {
		g_set_error (error, TBG_ERROR, TBG_ERROR_EXISTS, _("a device named “%s” exists already"),
		             name);
		return NULL;
	}
	dev = _tbg_device_new (gw, source, instance, name, profile, address);
	g_ptr_array_add (gw->devices, dev);
	g_hash_table_insert (gw->by_name, (gpointer) tbg_device_get_name (dev), dev);
	g_signal_emit (gw, signals[SIGNAL_DEVICE_ADDED], 0, dev);
	return dev;
}

void
tbg_gateway_remove_device (TbgGateway *gw, TbgDevice *dev)
{
	g_object_ref (dev);
	tbg_device_set_connected (dev, FALSE);
	g_hash_table_remove (gw->by_name, tbg_device_get_name (dev));
	if (g_ptr_array_remove (gw->devices, dev))
		g_signal_emit (gw, signals[SIGNAL_DEVICE_REMOVED], 0, dev);
	_tbg_device_detach (dev);
	g_object_unref (dev);
}

TbgDevice *
tbg_gateway_lookup_device (TbgGateway *gw, const char *name)
{
	return g_hash_table_lookup (gw->by_name, name);
}

GPtrArray *
tbg_gateway_list_devices (TbgGateway *gw)
{
	GPtrArray *list = g_ptr_array_new_with_free_func (g_object_unref);

	for (guint i = 0; i < gw->devices->len; i++)
		g_ptr_array_add (list, g_object_ref (g_ptr_array_index (gw->devices, i)));
	return list;
}

const TbgConfig *
tbg_gateway_get_config (TbgGateway *gw)
{
	return gw->cfg;
}

gboolean
tbg_gateway_get_link_up (TbgGateway *gw)
{
	return gw->link != NULL && tbg_mqtt_link_is_up (gw->link);
}

const char *
tbg_gateway_get_server (TbgGateway *gw)
{
	return tbg_mqtt_link_describe (gw->link);
}

void
tbg_gateway_sync (TbgGateway *gw)
{
	tbg_outbox_sync (gw->outbox);
}

void
tbg_gateway_reconnect (TbgGateway *gw)
{
	tbg_mqtt_link_reconnect (gw->link);
}

void
tbg_gateway_get_stats (TbgGateway *gw, TbgGatewayStats *stats)
{
	*stats = gw->stats;
	stats->records_sent = tbg_uplink_records_sent (gw->uplink);
	stats->publishes_sent = tbg_uplink_publishes_sent (gw->uplink);
	stats->records_queued = tbg_outbox_length (gw->outbox);
	stats->records_dropped = gw->outbox->dropped + tbg_uplink_records_dropped (gw->uplink) + gw->refused;
	stats->records_rejected = tbg_uplink_records_rejected (gw->uplink);
	stats->devices = gw->devices->len;
	stats->devices_connected = 0;
	for (guint i = 0; i < gw->devices->len; i++)
		stats->devices_connected += tbg_device_get_connected (g_ptr_array_index (gw->devices, i));
}
