/* SPDX-License-Identifier: Apache-2.0 */
/* gateway.c — see gateway.h: the registry, the life cycle (start, reload,
 * shutdown), the MQTT link's events and the dispatch of downlink messages.
 * What devices send, RPCs, attribute requests and the gateway's own device
 * have files of their own (gateway-private.h). */
#include "gateway-private.h"
#include "gateway-codec.h"
#include "credentials.h"
#include "mqtt-link.h"
#include "ratelimit.h"
#include "spool.h"
#include "uplink.h"
#include "i18n.h"

#include <stdlib.h>
#include <string.h>

/* At most this many warnings about bad downlink per minute; the rest are counted. */
#define WARN_BURST      10
#define WARN_WINDOW_US  (60 * G_USEC_PER_SEC)

enum { PROP_0, PROP_LINK_UP, PROP_CREDENTIALS_SOURCE, N_PROPS };
static GParamSpec *props[N_PROPS];
enum { SIGNAL_DEVICE_ADDED, SIGNAL_DEVICE_REMOVED, N_SIGNALS };
static guint signals[N_SIGNALS];

G_DEFINE_TYPE (TbgGateway, tbg_gateway, G_TYPE_OBJECT)

static void stop_sources (TbgGateway *gw);
static gboolean grace_cb (gpointer data);

void
_tbg_gateway_warn_downlink (TbgGateway *gw, const char *format, ...)
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
tbg_gateway_dispose (GObject *object)
{
	TbgGateway *gw = TBG_GATEWAY (object);

	stop_sources (gw);
	g_clear_handle_id (&gw->stats_id, g_source_remove);
	g_clear_handle_id (&gw->grace_id, g_source_remove);
	_tbg_gateway_rpc_dispose (gw);
	_tbg_gateway_attributes_dispose (gw);
	_tbg_gateway_credentials_stop (gw);
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
	case PROP_CREDENTIALS_SOURCE:
		g_value_set_string (value, tbg_gateway_get_credentials_source (gw));
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
	props[PROP_CREDENTIALS_SOURCE] = g_param_spec_string ("credentials-source", NULL, NULL, "none",
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
	_tbg_gateway_rpc_init (gw);
	_tbg_gateway_attributes_init (gw);
	gw->stats.started_us = g_get_monotonic_time ();
	tbg_rate_limit_init (&gw->warn_limit, WARN_BURST, WARN_WINDOW_US);
	tbg_rate_limit_init (&gw->timeout_limit, WARN_BURST, WARN_WINDOW_US);
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
	_tbg_gateway_resync_shared (gw);
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
	_tbg_gateway_check_drops (gw, FALSE);
	report_backlog_progress (gw);
	/* We are inside libmosquitto here: it must not be torn down before
	 * this call returns. */
	if (gw->done != NULL && pending (gw) == 0 && gw->grace_id != 0) {
		g_source_remove (gw->grace_id);
		gw->grace_id = g_idle_add (grace_cb, gw);
	}
}

/* ---- downlink ------------------------------------------------------------- */

void
_tbg_gateway_route_shared (TbgDevice *dev, json_t *changed, const char * const *deleted)
{
	const TbgSource *source = tbg_device_get_source (dev);

	_tbg_device_shared_attributes (dev, changed, deleted);
	if (source != NULL && source->shared_attributes != NULL)
		source->shared_attributes (_tbg_device_get_instance (dev), dev, changed, deleted);
}

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
		_tbg_gateway_warn_downlink (gw, _("Ignoring malformed message on %s: %s"), topic, error->message);
		tbg_downlink_clear (&d);
		return;
	}
	switch (d.kind) {
	case TBG_DOWNLINK_RPC_REQUEST:
		_tbg_gateway_handle_rpc (gw, &d);
		break;
	case TBG_DOWNLINK_RPC_ECHO:
		/* A plain broker echoes our own responses back. */
		break;
	case TBG_DOWNLINK_ATTRIBUTE_UPDATE:
		dev = g_hash_table_lookup (gw->by_name, d.device);
		if (dev == NULL)
			_tbg_gateway_warn_downlink (gw, _("Shared attributes for unknown device “%s” dropped"), d.device);
		else {
			_tbg_gateway_note_shared_keys (dev, d.data, NULL);
			_tbg_gateway_route_shared (dev, d.data, (const char * const *) d.deleted);
		}
		break;
	case TBG_DOWNLINK_ATTRIBUTE_RESPONSE:
		_tbg_gateway_handle_attr_response (gw, &d);
		break;
	case TBG_DOWNLINK_OWN_RPC_REQUEST:
		_tbg_gateway_handle_own_rpc (gw, &d);
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
	TBG_TOPIC_RPC,
	TBG_TOPIC_ATTRIBUTES,
	TBG_TOPIC_ATTRIBUTES_RESPONSE,
	TBG_TOPIC_OWN_RPC_REQUEST_FILTER,
	TBG_TOPIC_OWN_ATTRIBUTES,
	NULL
};

static const TbgMqttLinkCallbacks link_callbacks = {
	.up = link_up,
	.down = link_down,
	.message = link_message,
	.acked = link_acked,
};

TbgMqttLink *
_tbg_gateway_new_link (TbgGateway *gw, const TbgConfig *cfg, GError **error)
{
	return tbg_mqtt_link_new (&cfg->server, subscriptions, cfg->gateway.max_inflight,
	                          &link_callbacks, gw, error);
}

void
_tbg_gateway_use_link (TbgGateway *gw, TbgMqttLink *link)
{
	tbg_uplink_session_down (gw->uplink);
	tbg_mqtt_link_free (gw->link);
	gw->link = link;
	tbg_uplink_free (gw->uplink);
	gw->uplink = tbg_uplink_new (gw->link, gw->outbox, gw->cfg->gateway.max_payload_bytes,
	                             gw->cfg->gateway.max_inflight, device_profile, gw);
	tbg_uplink_set_linger (gw->uplink, gw->cfg->gateway.linger_ms);
	tbg_uplink_set_give_up_after (gw->uplink, gw->cfg->gateway.give_up_after_closes);
	/* Other server settings: a provisioning under way starts over with them. */
	_tbg_gateway_credentials_stop (gw);
	_tbg_gateway_connect (gw);
}

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
	tbg_credentials_resolve (cfg);
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
	_tbg_gateway_restart_stats (gw);
	_tbg_gateway_connect (gw);
	return TRUE;
}

/* Everything a reload checks before it changes anything: the keys of
 * every source's groups and what each source itself would refuse. */
static gboolean
validate_sources (const TbgConfig *cfg, const TbgSource * const *sources, GError **error)
{
	if (!check_source_groups (cfg, sources, error))
		return FALSE;
	for (guint i = 0; sources[i] != NULL; i++) {
		if (sources[i]->validate != NULL && !sources[i]->validate (cfg, error))
			return FALSE;
	}
	return TRUE;
}

/* Whether any group of @source differs between the configs: its own
 * "[<name>]" group or one of its "[<name>:DEVICE]" groups. */
static gboolean
source_groups_changed (const TbgSource *source, const TbgConfig *a, const TbgConfig *b)
{
	g_auto (GStrv) names_a = NULL;
	g_auto (GStrv) names_b = NULL;

	if (!tbg_config_group_equal (a, b, source->name))
		return TRUE;
	if (source->config_keys == NULL)
		return FALSE;
	names_a = tbg_config_device_groups (a, source->name);
	names_b = tbg_config_device_groups (b, source->name);
	if (g_strv_length (names_a) != g_strv_length (names_b))
		return TRUE;
	for (guint i = 0; names_a[i] != NULL; i++) {
		g_autofree char *group = g_strdup_printf ("%s:%s", source->name, names_a[i]);

		if (!g_strv_contains ((const char * const *) names_b, names_a[i]) ||
		    !tbg_config_group_equal (a, b, group))
			return TRUE;
	}
	return FALSE;
}

/* Each source gets the difference: reconfigure() where it has one, else a
 * restart when one of its groups changed. One that cannot start again
 * fails alone; the others and the link keep running. */
static void
apply_sources (TbgGateway *gw, const TbgConfig *old_cfg)
{
	for (guint i = 0; i < gw->instances->len; i++) {
		const TbgSource *source = gw->sources[i];
		gpointer instance = g_ptr_array_index (gw->instances, i);
		g_autoptr (GError) error = NULL;

		if (instance != NULL && source->reconfigure != NULL) {
			source->reconfigure (instance, old_cfg, gw->cfg);
			continue;
		}
		if (instance != NULL && !source_groups_changed (source, old_cfg, gw->cfg))
			continue;
		if (source->start == NULL)
			continue;
		g_message (_("Restarting the %s source"), source->name);
		if (instance != NULL && source->stop != NULL)
			source->stop (instance);
		instance = source->start (gw, gw->cfg, &error);
		if (error != NULL)
			g_warning (_("The %s source failed to start again: %s"), source->name, error->message);
		g_ptr_array_index (gw->instances, i) = instance;
	}
}

gboolean
tbg_gateway_reload (TbgGateway *gw, TbgConfig *cfg, GError **error)
{
	g_autoptr (TbgConfig) new_cfg = cfg;
	g_autoptr (TbgConfig) old_cfg = NULL;
	TbgMqttLink *link = NULL;

	/* First everything that can refuse the file; nothing has changed yet. */
	if (!validate_sources (new_cfg, gw->sources, error))
		return FALSE;
	_tbg_gateway_credentials_prepare (gw, new_cfg);
	if (!tbg_server_config_equal (&new_cfg->server, &gw->cfg->server) ||
	    new_cfg->gateway.max_inflight != gw->cfg->gateway.max_inflight) {
		link = tbg_mqtt_link_new (&new_cfg->server, subscriptions, new_cfg->gateway.max_inflight,
		                          &link_callbacks, gw, error);
		if (link == NULL)
			return FALSE;
	}

	/* From here on nothing fails. The old config lives until every source
	 * has moved to the new one. */
	old_cfg = gw->cfg;
	gw->cfg = g_steal_pointer (&new_cfg);
	if (link != NULL) {
		g_message (_("Server settings changed; reconnecting"));
		_tbg_gateway_use_link (gw, link);
	} else {
		tbg_uplink_set_limits (gw->uplink, gw->cfg->gateway.max_payload_bytes,
		                       gw->cfg->gateway.max_inflight);
	}
	_tbg_gateway_credentials_reloaded (gw, old_cfg, link != NULL);
	tbg_uplink_set_linger (gw->uplink, gw->cfg->gateway.linger_ms);
	tbg_uplink_set_give_up_after (gw->uplink, gw->cfg->gateway.give_up_after_closes);
	if (gw->cfg->gateway.stats_interval_s != old_cfg->gateway.stats_interval_s)
		_tbg_gateway_restart_stats (gw);
	if (!tbg_config_group_equal (old_cfg, gw->cfg, "storage")) {
		TbgStorageConfig running = old_cfg->storage;

		/* The open queue keeps its settings: gw->cfg says what runs. */
		old_cfg->storage = gw->cfg->storage;
		gw->cfg->storage = running;
		g_message (_("[storage] changes take effect when tbgwd restarts"));
	}
	apply_sources (gw, old_cfg);
	g_message (_("Configuration reloaded"));
	return TRUE;
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
	_tbg_gateway_credentials_stop (gw);
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
	dev = _tbg_device_new (&_tbg_gateway_device_sink, gw, source, instance, name, profile, address);
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

gpointer
tbg_gateway_get_source_instance (TbgGateway *gw, const TbgSource *source)
{
	for (guint i = 0; i < gw->instances->len; i++) {
		if (gw->sources[i] == source)
			return g_ptr_array_index (gw->instances, i);
	}
	return NULL;
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
	if (!_tbg_gateway_credentials_reconnect (gw))
		tbg_mqtt_link_reconnect (gw->link);
}

const char *
tbg_gateway_get_credentials_source (TbgGateway *gw)
{
	return tbg_credentials_source_to_string (gw->cfg->credentials);
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
