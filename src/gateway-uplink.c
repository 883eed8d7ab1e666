/* SPDX-License-Identifier: Apache-2.0 */
/* gateway-uplink.c — what devices and the gateway send, on its way to the
 * outbox: the device sink (each device's data encoded for ThingsBoard),
 * the size check at the door and the reports of what the queue dropped. */
#include "gateway-private.h"
#include "i18n.h"

#include <string.h>

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
void
_tbg_gateway_check_drops (TbgGateway *gw, gboolean appending)
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

	_tbg_gateway_check_drops (gw, FALSE);
	if (!tbg_outbox_append (gw->outbox, rec, error))
		return FALSE;
	_tbg_gateway_check_drops (gw, TRUE);
	tbg_uplink_kick (gw->uplink, kind);
	return TRUE;
}

/* ---- the device sink ---------------------------------------------------- */

static gboolean
sink_state (gpointer data, TbgDevice *dev, gboolean connected, GError **error)
{
	const char *name = tbg_device_get_name (dev);
	char *payload = connected ? tbg_codec_connect (name, tbg_device_get_profile (dev), error)
	                          : tbg_codec_disconnect (name, error);

	return payload != NULL &&
	       _tbg_gateway_enqueue (data, connected ? TBG_RECORD_CONNECT : TBG_RECORD_DISCONNECT,
	                             name, payload, strlen (payload), error);
}

static gboolean
sink_telemetry (gpointer data, TbgDevice *dev, gint64 ts_ms, json_t *values, GError **error)
{
	json_t *clean = tbg_codec_without_nulls (values);
	char *payload = tbg_codec_sample (ts_ms, clean, error);

	json_decref (clean);
	return payload != NULL &&
	       _tbg_gateway_enqueue (data, TBG_RECORD_TELEMETRY, tbg_device_get_name (dev), payload,
	                             strlen (payload), error);
}

static gboolean
sink_telemetry_text (gpointer data, TbgDevice *dev, gint64 ts_ms, const char *values_json,
                     gsize len, GError **error)
{
	gsize payload_len;
	char *payload = tbg_codec_sample_text (ts_ms, values_json, len, &payload_len);

	return _tbg_gateway_enqueue (data, TBG_RECORD_TELEMETRY, tbg_device_get_name (dev), payload,
	                             payload_len, error);
}

static gboolean
sink_attributes (gpointer data, TbgDevice *dev, json_t *attributes, GError **error)
{
	json_t *clean = tbg_codec_without_nulls (attributes);
	char *payload = tbg_codec_encode (clean, NULL);

	json_decref (clean);
	if (payload == NULL) {
		g_set_error (error, TBG_ERROR, TBG_ERROR_INVALID_ARGS, _("attributes cannot be encoded"));
		return FALSE;
	}
	return _tbg_gateway_enqueue (data, TBG_RECORD_ATTRIBUTES, tbg_device_get_name (dev), payload,
	                             strlen (payload), error);
}

static gboolean
sink_claim (gpointer data, TbgDevice *dev, const char *secret_key, guint64 duration_ms,
            GError **error)
{
	char *payload = tbg_codec_claim_entry (secret_key, duration_ms, error);

	return payload != NULL &&
	       _tbg_gateway_enqueue (data, TBG_RECORD_CLAIM, tbg_device_get_name (dev), payload,
	                             strlen (payload), error);
}

static gboolean
sink_request_attributes (gpointer data, TbgDevice *dev, const char * const *client_keys,
                         const char * const *shared_keys, TbgAttributesCallback callback,
                         gpointer user_data, GError **error)
{
	return _tbg_gateway_request_attributes (data, dev, client_keys, shared_keys, callback,
	                                        user_data, error);
}

const TbgDeviceSink _tbg_gateway_device_sink = {
	.state = sink_state,
	.telemetry = sink_telemetry,
	.telemetry_text = sink_telemetry_text,
	.attributes = sink_attributes,
	.claim = sink_claim,
	.request_attributes = sink_request_attributes,
};
