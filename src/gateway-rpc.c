/* SPDX-License-Identifier: Apache-2.0 */
/* gateway-rpc.c — server RPCs routed to the device's source, answered
 * with {"error":"timeout"} when the source stays silent, and with an error
 * for an unknown device. */
#include "gateway-private.h"
#include "i18n.h"

#include <string.h>

typedef struct {
	TbgGateway *gw;
	TbgRpc     *rpc;
	char       *key;
	guint       timeout_id;
} PendingRpc;

static void
pending_rpc_free (PendingRpc *p)
{
	if (p->timeout_id != 0)
		g_source_remove (p->timeout_id);
	tbg_rpc_unref (p->rpc);
	g_free (p->key);
	g_free (p);
}

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

/* To the observers, then to the device's source. */
static void
route_rpc (TbgDevice *dev, TbgRpc *pending)
{
	g_autoptr (TbgRpc) rpc = tbg_rpc_ref (pending);
	const TbgSource *source = tbg_device_get_source (dev);

	_tbg_device_rpc_requested (dev, rpc);
	if (source != NULL && source->rpc != NULL)
		source->rpc (_tbg_device_get_instance (dev), dev, rpc);
	else
		tbg_rpc_reply_error (rpc, "device “%s” takes no RPCs", tbg_device_get_name (dev));
}

void
_tbg_gateway_handle_rpc (TbgGateway *gw, TbgDownlink *d)
{
	TbgDevice *dev = g_hash_table_lookup (gw->by_name, d->device);
	PendingRpc *p;

	gw->stats.rpcs_received++;
	if (dev == NULL) {
		_tbg_gateway_warn_downlink (gw, _("RPC %" G_GINT64_FORMAT " for unknown device “%s”; answered with an error"),
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
	route_rpc (dev, p->rpc);
}

void
_tbg_gateway_rpc_init (TbgGateway *gw)
{
	gw->rpcs = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
	                                  (GDestroyNotify) pending_rpc_free);
}

void
_tbg_gateway_rpc_dispose (TbgGateway *gw)
{
	if (gw->rpcs != NULL) {
		GHashTableIter iter;
		PendingRpc *p;

		/* Sources may hold on to an RPC longer than we live. */
		g_hash_table_iter_init (&iter, gw->rpcs);
		while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &p))
			tbg_rpc_cancel (p->rpc);
	}
	g_clear_pointer (&gw->rpcs, g_hash_table_unref);
}
