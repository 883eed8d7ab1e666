/* SPDX-License-Identifier: Apache-2.0 */
/* gateway-attributes.c — attribute requests to the server (both request
 * dialects), their answers matched by id, and their timeouts. */
#include "gateway-private.h"
#include "i18n.h"

#include <stdlib.h>
#include <string.h>

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
		_tbg_gateway_note_shared_keys (dev, NULL, shared_keys);
	return TRUE;
}

#define SHARED_KEYS "tbg-shared-keys"

void
_tbg_gateway_note_shared_keys (TbgDevice *dev, json_t *data, const char * const *keys)
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
resync_done (TbgDevice *dev, json_t *client, json_t *shared, const GError *error, gpointer data)
{
	if (error != NULL) {
		g_message (_("Shared attributes of “%s” not refreshed after the reconnect: %s"),
		           tbg_device_get_name (dev), error->message);
		return;
	}
	if (json_object_size (shared) > 0)
		_tbg_gateway_route_shared (dev, shared, NULL);
}

/* ThingsBoard does not replay the shared attribute updates made while the
 * gateway was offline: on every new session, ask for the keys each
 * connected device uses and hand the answer on as an update. */
void
_tbg_gateway_resync_shared (TbgGateway *gw)
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

void
_tbg_gateway_handle_attr_response (TbgGateway *gw, TbgDownlink *d)
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
		_tbg_gateway_warn_downlink (gw, _("Attribute response %" G_GINT64_FORMAT " names “%s”, but the "
		                                  "request was for “%s”; ignored"), d->id,
		                            d->device ? d->device : "", tbg_device_get_name (req->dev));
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

void
_tbg_gateway_attributes_init (TbgGateway *gw)
{
	gw->attr_parts = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, g_free);
}

void
_tbg_gateway_attributes_dispose (TbgGateway *gw)
{
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
}
