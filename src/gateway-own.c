/* SPDX-License-Identifier: Apache-2.0 */
/* gateway-own.c — the gateway's own ThingsBoard device: its statistics
 * telemetry and the RPCs addressed to it (ping, stats, devices, and the
 * server's gateway_device_renamed / gateway_device_deleted). */
#include "gateway-private.h"
#include "i18n.h"

#include <string.h>

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

void
_tbg_gateway_handle_own_rpc (TbgGateway *gw, TbgDownlink *d)
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

void
_tbg_gateway_restart_stats (TbgGateway *gw)
{
	g_clear_handle_id (&gw->stats_id, g_source_remove);
	if (gw->cfg->gateway.stats_interval_s > 0)
		gw->stats_id = g_timeout_add_seconds (gw->cfg->gateway.stats_interval_s, stats_cb, gw);
}

