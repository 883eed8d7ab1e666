/* SPDX-License-Identifier: Apache-2.0 */
/* gateway-codec.c — see gateway-codec.h. */
#include "gateway-codec.h"

#include <stdlib.h>
#include <string.h>

G_DEFINE_QUARK (tbg-codec-error-quark, tbg_codec_error)

#define DUMP_FLAGS (TBG_JSON_DUMP_FLAGS | JSON_ENCODE_ANY)

static int
append_cb (const char *buffer, size_t size, void *data)
{
	g_string_append_len (data, buffer, size);
	return 0;
}

/* json_dumps allocates with malloc; callers here free with g_free. */
static gboolean
dump_into (GString *s, json_t *j)
{
	return json_dump_callback (j, append_cb, s, DUMP_FLAGS) == 0;
}

char *
tbg_codec_encode (json_t *j, GError **error)
{
	GString *s = g_string_sized_new (64);

	if (j == NULL || !dump_into (s, j)) {
		g_string_free (s, TRUE);
		g_set_error (error, TBG_CODEC_ERROR, TBG_CODEC_ERROR_BAD_VALUE,
		             "value cannot be encoded as JSON (invalid UTF-8?)");
		return NULL;
	}
	return g_string_free (s, FALSE);
}

static gboolean
check_name (const char *what, const char *name, GError **error)
{
	if (name == NULL || name[0] == '\0') {
		g_set_error (error, TBG_CODEC_ERROR, TBG_CODEC_ERROR_MISSING_FIELD, "%s is empty", what);
		return FALSE;
	}
	if (!g_utf8_validate (name, -1, NULL)) {
		g_set_error (error, TBG_CODEC_ERROR, TBG_CODEC_ERROR_BAD_VALUE,
		             "%s is not valid UTF-8", what);
		return FALSE;
	}
	return TRUE;
}

/* Builds, dumps and frees @obj; NULL (a failed json_pack) is an error. */
static char *
finish_object (json_t *obj, GError **error)
{
	char *text = tbg_codec_encode (obj, error);

	json_decref (obj);
	return text;
}

char *
tbg_codec_connect (const char *device, const char *type, GError **error)
{
	if (!check_name ("device name", device, error) ||
	    (type != NULL && !check_name ("device type", type, error)))
		return NULL;
	if (type != NULL)
		return finish_object (json_pack ("{s:s,s:s}", "device", device, "type", type), error);
	return finish_object (json_pack ("{s:s}", "device", device), error);
}

char *
tbg_codec_disconnect (const char *device, GError **error)
{
	if (!check_name ("device name", device, error))
		return NULL;
	return finish_object (json_pack ("{s:s}", "device", device), error);
}

char *
tbg_codec_rpc_response (const char *device, gint64 id, json_t *data, GError **error)
{
	if (!check_name ("device name", device, error))
		return NULL;
	if (data == NULL || id < 0) {
		g_set_error (error, TBG_CODEC_ERROR, TBG_CODEC_ERROR_MISSING_FIELD,
		             "an RPC response needs data and a non-negative id");
		return NULL;
	}
	return finish_object (json_pack ("{s:s,s:I,s:O}", "device", device, "id", (json_int_t) id,
	                                 "data", data), error);
}

static json_t *
key_array (const char * const *keys, GError **error)
{
	json_t *a = json_array ();

	for (guint i = 0; keys != NULL && keys[i] != NULL; i++) {
		if (!check_name ("attribute key", keys[i], error)) {
			json_decref (a);
			return NULL;
		}
		json_array_append_new (a, json_string (keys[i]));
	}
	return a;
}

static gboolean
check_request (gint64 id, const char *device, GError **error)
{
	if (id < 0) {
		g_set_error (error, TBG_CODEC_ERROR, TBG_CODEC_ERROR_BAD_VALUE, "request id is negative");
		return FALSE;
	}
	return check_name ("device name", device, error);
}

char *
tbg_codec_attribute_request (gint64 id, const char *device, TbgAttrScope scope,
                             const char * const *keys, GError **error)
{
	json_t *obj, *a;

	if (!check_request (id, device, error))
		return NULL;
	if (keys == NULL || keys[0] == NULL) {
		g_set_error (error, TBG_CODEC_ERROR, TBG_CODEC_ERROR_MISSING_FIELD,
		             "no attribute keys (an empty list would fetch all attributes)");
		return NULL;
	}
	a = key_array (keys, error);
	if (a == NULL)
		return NULL;
	obj = json_pack ("{s:I,s:s,s:b}", "id", (json_int_t) id, "device", device,
	                 "client", scope == TBG_ATTR_SCOPE_CLIENT);
	if (json_array_size (a) == 1)
		json_object_set (obj, "key", json_array_get (a, 0));
	else
		json_object_set (obj, "keys", a);
	json_decref (a);
	return finish_object (obj, error);
}

char *
tbg_codec_attribute_request_combined (gint64 id, const char *device,
                                      const char * const *client_keys,
                                      const char * const *shared_keys, GError **error)
{
	json_t *obj, *client, *shared;

	if (!check_request (id, device, error))
		return NULL;
	client = key_array (client_keys, error);
	shared = client ? key_array (shared_keys, error) : NULL;
	if (client == NULL || shared == NULL) {
		json_decref (client);
		return NULL;
	}
	if (json_array_size (client) == 0 && json_array_size (shared) == 0) {
		json_decref (client);
		json_decref (shared);
		g_set_error (error, TBG_CODEC_ERROR, TBG_CODEC_ERROR_MISSING_FIELD,
		             "no attribute keys (an empty list would fetch all attributes)");
		return NULL;
	}
	obj = json_pack ("{s:I,s:s}", "id", (json_int_t) id, "device", device);
	if (json_array_size (client) > 0)
		json_object_set (obj, "client", client);
	if (json_array_size (shared) > 0)
		json_object_set (obj, "shared", shared);
	json_decref (client);
	json_decref (shared);
	return finish_object (obj, error);
}

json_t *
tbg_codec_without_nulls (json_t *object)
{
	const char *key;
	json_t *v;
	json_t *out;

	json_object_foreach (object, key, v) {
		if (json_is_null (v))
			break;
	}
	if (key == NULL)
		return json_incref (object);
	out = json_object ();
	json_object_foreach (object, key, v) {
		if (!json_is_null (v))
			json_object_set (out, key, v);
	}
	return out;
}

/* {"ts":N,"values": — without printf, which showed in profiles at one call per sample */
static void
append_sample_head (GString *s, gint64 ts_ms)
{
	static const char tail[] = ",\"values\":";
	char head[6 + 20 + sizeof tail] = "{\"ts\":";
	char digits[20];
	gsize n = 0, len = 6;
	guint64 v = (guint64) ts_ms;

	do {
		digits[n++] = (char) ('0' + v % 10);
		v /= 10;
	} while (v != 0);
	while (n > 0)
		head[len++] = digits[--n];
	memcpy (head + len, tail, sizeof tail - 1);
	g_string_append_len (s, head, len + sizeof tail - 1);
}

char *
tbg_codec_sample_text (gint64 ts_ms, const char *values_json, gsize len, gsize *out_len)
{
	GString *s;

	g_return_val_if_fail (ts_ms >= 0 && values_json != NULL && len > 0, NULL);
	s = g_string_sized_new (len + 40);
	append_sample_head (s, ts_ms);
	g_string_append_len (s, values_json, len);
	g_string_append_c (s, '}');
	if (out_len != NULL)
		*out_len = s->len;
	return g_string_free (s, FALSE);
}

char *
tbg_codec_sample (gint64 ts_ms, json_t *values, GError **error)
{
	GString *s;

	if (!json_is_object (values) || json_object_size (values) == 0) {
		g_set_error (error, TBG_CODEC_ERROR, TBG_CODEC_ERROR_MISSING_FIELD,
		             "a sample needs a non-empty object of values");
		return NULL;
	}
	if (ts_ms < 0) {
		g_set_error (error, TBG_CODEC_ERROR, TBG_CODEC_ERROR_BAD_VALUE, "negative timestamp");
		return NULL;
	}
	s = g_string_sized_new (96);
	append_sample_head (s, ts_ms);
	if (!dump_into (s, values)) {
		g_string_free (s, TRUE);
		g_set_error (error, TBG_CODEC_ERROR, TBG_CODEC_ERROR_BAD_VALUE,
		             "values cannot be encoded as JSON");
		return NULL;
	}
	g_string_append_c (s, '}');
	return g_string_free (s, FALSE);
}

char *
tbg_codec_claim_entry (const char *secret_key, guint64 duration_ms, GError **error)
{
	json_t *obj = json_object ();

	if (secret_key != NULL) {
		if (!g_utf8_validate (secret_key, -1, NULL)) {
			json_decref (obj);
			g_set_error (error, TBG_CODEC_ERROR, TBG_CODEC_ERROR_BAD_VALUE,
			             "secret key is not valid UTF-8");
			return NULL;
		}
		json_object_set_new (obj, "secretKey", json_string (secret_key));
	}
	if (duration_ms > 0)
		json_object_set_new (obj, "durationMs", json_integer ((json_int_t) duration_ms));
	return finish_object (obj, error);
}

/* ---- packer ----------------------------------------------------------------- */

typedef struct {
	char    *name;
	GString *body;      /* "<escaped name>:[e1,e2" or "<escaped name>:{…}" without the close */
	guint    entries;
} PackDevice;

struct _TbgPacker {
	TbgPackKind  kind;
	gsize        max;
	gsize        size;     /* exact length of the payload as it stands */
	guint        count;
	GPtrArray   *devices;  /* PackDevice, in order of first appearance */
	GHashTable  *by_name;
};

static void
pack_device_free (PackDevice *d)
{
	g_free (d->name);
	g_string_free (d->body, TRUE);
	g_free (d);
}

TbgPacker *
tbg_packer_new (TbgPackKind kind, gsize max_bytes)
{
	TbgPacker *p = g_new0 (TbgPacker, 1);

	p->kind = kind;
	p->max = max_bytes;
	p->size = 2;   /* {} */
	p->devices = g_ptr_array_new_with_free_func ((GDestroyNotify) pack_device_free);
	p->by_name = g_hash_table_new (g_str_hash, g_str_equal);
	return p;
}

void
tbg_packer_free (TbgPacker *p)
{
	if (p == NULL)
		return;
	g_hash_table_unref (p->by_name);
	g_ptr_array_unref (p->devices);
	g_free (p);
}

static GString *
escaped_key (const char *name)
{
	GString *s = g_string_sized_new (strlen (name) + 4);
	json_t *j = json_string (name);

	if (j == NULL || !dump_into (s, j)) {
		json_decref (j);
		g_string_free (s, TRUE);
		return NULL;
	}
	json_decref (j);
	g_string_append_c (s, ':');
	return s;
}

TbgPackResult
tbg_packer_add (TbgPacker *p, const char *device, const char *entry, gsize entry_len)
{
	PackDevice *d = g_hash_table_lookup (p->by_name, device);
	gboolean array = p->kind == TBG_PACK_TELEMETRY;

	if (d != NULL) {
		if (!array)
			return TBG_PACK_FULL;
		if (p->size + 1 + entry_len > p->max)
			return TBG_PACK_FULL;
		g_string_append_c (d->body, ',');
		g_string_append_len (d->body, entry, entry_len);
		p->size += 1 + entry_len;
	} else {
		GString *key = escaped_key (device);
		/* comma between devices, key, brackets of the array */
		gsize grow = (p->devices->len > 0 ? 1 : 0) + (key ? key->len : 0) +
		             (array ? 2 : 0) + entry_len;

		if (key == NULL)
			return TBG_PACK_TOO_BIG;   /* not encodable: it can never be sent */
		if (2 + key->len + (array ? 2 : 0) + entry_len > p->max) {
			g_string_free (key, TRUE);
			return TBG_PACK_TOO_BIG;
		}
		if (p->size + grow > p->max) {
			g_string_free (key, TRUE);
			return TBG_PACK_FULL;
		}
		d = g_new0 (PackDevice, 1);
		d->name = g_strdup (device);
		d->body = key;
		if (array)
			g_string_append_c (d->body, '[');
		g_string_append_len (d->body, entry, entry_len);
		g_ptr_array_add (p->devices, d);
		g_hash_table_insert (p->by_name, d->name, d);
		p->size += grow;
	}
	d->entries++;
	p->count++;
	return TBG_PACK_OK;
}

guint
tbg_packer_count (TbgPacker *p)
{
	return p->count;
}

gsize
tbg_packer_size (TbgPacker *p)
{
	return p->size;
}

char *
tbg_packer_finish (TbgPacker *p, gsize *len)
{
	GString *s;

	if (p->count == 0) {
		if (len != NULL)
			*len = 0;
		return NULL;
	}
	s = g_string_sized_new (p->size + 1);
	g_string_append_c (s, '{');
	for (guint i = 0; i < p->devices->len; i++) {
		PackDevice *d = g_ptr_array_index (p->devices, i);

		if (i > 0)
			g_string_append_c (s, ',');
		g_string_append_len (s, d->body->str, d->body->len);
		if (p->kind == TBG_PACK_TELEMETRY)
			g_string_append_c (s, ']');
	}
	g_string_append_c (s, '}');
	g_assert (s->len == p->size);
	g_hash_table_remove_all (p->by_name);
	g_ptr_array_set_size (p->devices, 0);
	p->size = 2;
	p->count = 0;
	if (len != NULL)
		*len = s->len;
	return g_string_free (s, FALSE);
}

/* ---- downlink ---------------------------------------------------------------- */

static gboolean
bad (GError **error, TbgCodecError code, const char *topic, const char *fmt, ...) G_GNUC_PRINTF (4, 5);

static gboolean
bad (GError **error, TbgCodecError code, const char *topic, const char *fmt, ...)
{
	g_autofree char *msg = NULL;
	va_list ap;

	va_start (ap, fmt);
	msg = g_strdup_vprintf (fmt, ap);
	va_end (ap);
	g_set_error (error, TBG_CODEC_ERROR, code, "%s: %s", topic, msg);
	return FALSE;
}

static gboolean
get_string (json_t *obj, const char *key, const char *topic, char **out, GError **error)
{
	json_t *v = json_object_get (obj, key);

	if (v == NULL)
		return bad (error, TBG_CODEC_ERROR_MISSING_FIELD, topic, "\"%s\" is missing", key);
	if (!json_is_string (v) || json_string_length (v) == 0)
		return bad (error, TBG_CODEC_ERROR_WRONG_TYPE, topic, "\"%s\" must be a non-empty string", key);
	*out = g_strdup (json_string_value (v));
	return TRUE;
}

static gboolean
get_id (json_t *obj, const char *key, const char *topic, gint64 *out, GError **error)
{
	json_t *v = json_object_get (obj, key);

	if (v == NULL)
		return bad (error, TBG_CODEC_ERROR_MISSING_FIELD, topic, "\"%s\" is missing", key);
	if (!json_is_integer (v) || json_integer_value (v) < 0)
		return bad (error, TBG_CODEC_ERROR_WRONG_TYPE, topic,
		            "\"%s\" must be a non-negative integer", key);
	*out = json_integer_value (v);
	return TRUE;
}

static json_t *
get_object (json_t *obj, const char *key, const char *topic, gboolean required, GError **error)
{
	json_t *v = json_object_get (obj, key);

	if (v == NULL) {
		if (required)
			bad (error, TBG_CODEC_ERROR_MISSING_FIELD, topic, "\"%s\" is missing", key);
		return NULL;
	}
	if (!json_is_object (v)) {
		bad (error, TBG_CODEC_ERROR_WRONG_TYPE, topic, "\"%s\" must be an object", key);
		return NULL;
	}
	return json_incref (v);
}

/* Splits {"deleted":[…], k: v…} into the changed keys and the deleted ones. */
static gboolean
split_update (json_t *data, const char *topic, TbgDownlink *out, GError **error)
{
	json_t *deleted = json_object_get (data, "deleted");

	out->data = json_deep_copy (data);
	if (deleted == NULL)
		return TRUE;
	if (!json_is_array (deleted))
		return bad (error, TBG_CODEC_ERROR_WRONG_TYPE, topic, "\"deleted\" must be an array of keys");
	out->deleted = g_new0 (char *, json_array_size (deleted) + 1);
	for (gsize i = 0; i < json_array_size (deleted); i++) {
		json_t *k = json_array_get (deleted, i);

		if (!json_is_string (k))
			return bad (error, TBG_CODEC_ERROR_WRONG_TYPE, topic, "\"deleted\" must be an array of keys");
		out->deleted[i] = g_strdup (json_string_value (k));
	}
	json_object_del (out->data, "deleted");
	return TRUE;
}

static gboolean
decode_rpc (json_t *root, const char *topic, TbgDownlink *out, GError **error)
{
	json_t *data;

	if (!get_string (root, "device", topic, &out->device, error))
		return FALSE;
	data = json_object_get (root, "data");
	if (!json_is_object (data))
		return bad (error, data ? TBG_CODEC_ERROR_WRONG_TYPE : TBG_CODEC_ERROR_MISSING_FIELD,
		            topic, "\"data\" must be an object");
	if (json_object_get (data, "method") == NULL && json_object_get (root, "id") != NULL) {
		/* {"device","id","data"}: a response, ours, coming back from the broker. */
		out->kind = TBG_DOWNLINK_RPC_ECHO;
		return TRUE;
	}
	out->kind = TBG_DOWNLINK_RPC_REQUEST;
	if (!get_string (data, "method", TBG_TOPIC_RPC " data", &out->method, error) ||
	    !get_id (data, "id", TBG_TOPIC_RPC " data", &out->id, error))
		return FALSE;
	out->params = json_object_get (data, "params");
	if (out->params != NULL)
		json_incref (out->params);
	return TRUE;
}

static gboolean
decode_attribute_update (json_t *root, const char *topic, TbgDownlink *out, GError **error)
{
	json_t *data;

	out->kind = TBG_DOWNLINK_ATTRIBUTE_UPDATE;
	if (!get_string (root, "device", topic, &out->device, error))
		return FALSE;
	data = get_object (root, "data", topic, TRUE, error);
	if (data == NULL)
		return FALSE;
	{
		gboolean ok = split_update (data, topic, out, error);

		json_decref (data);
		return ok;
	}
}

static gboolean
decode_attribute_response (json_t *root, const char *topic, TbgDownlink *out, GError **error)
{
	GError *local = NULL;

	out->kind = TBG_DOWNLINK_ATTRIBUTE_RESPONSE;
	if (!get_id (root, "id", topic, &out->id, error) ||
	    !get_string (root, "device", topic, &out->device, error))
		return FALSE;
	out->value = json_object_get (root, "value");
	if (out->value != NULL)
		json_incref (out->value);
	out->values = get_object (root, "values", topic, FALSE, &local);
	if (local == NULL)
		out->client = get_object (root, "client", topic, FALSE, &local);
	if (local == NULL)
		out->shared = get_object (root, "shared", topic, FALSE, &local);
	if (local != NULL) {
		g_propagate_error (error, local);
		return FALSE;
	}
	return TRUE;
}

static gboolean
decode_own_rpc (json_t *root, const char *topic, TbgDownlink *out, GError **error)
{
	const char *suffix = topic + strlen (TBG_TOPIC_OWN_RPC_REQUEST_PREFIX);
	guint64 id;

	out->kind = TBG_DOWNLINK_OWN_RPC_REQUEST;
	if (suffix[0] == '\0' || strlen (suffix) > 18 ||
	    !g_ascii_string_to_unsigned (suffix, 10, 0, G_MAXINT64, &id, NULL))
		return bad (error, TBG_CODEC_ERROR_BAD_VALUE, topic, "request id is not a number");
	out->id = id;
	if (!get_string (root, "method", topic, &out->method, error))
		return FALSE;
	out->params = json_object_get (root, "params");
	if (out->params != NULL)
		json_incref (out->params);
	return TRUE;
}

gboolean
tbg_codec_decode (const char *topic, const void *payload, gsize len, TbgDownlink *out,
                  GError **error)
{
	json_error_t jerr;
	json_t *root;
	gboolean ok;

	memset (out, 0, sizeof *out);
	if (topic == NULL)
		return bad (error, TBG_CODEC_ERROR_UNKNOWN_TOPIC, "(null)", "no topic");
	if (!g_str_equal (topic, TBG_TOPIC_RPC) && !g_str_equal (topic, TBG_TOPIC_ATTRIBUTES) &&
	    !g_str_equal (topic, TBG_TOPIC_ATTRIBUTES_RESPONSE) &&
	    !g_str_equal (topic, TBG_TOPIC_OWN_ATTRIBUTES) &&
	    !g_str_has_prefix (topic, TBG_TOPIC_OWN_RPC_REQUEST_PREFIX))
		return bad (error, TBG_CODEC_ERROR_UNKNOWN_TOPIC, topic, "not a downlink topic");
	root = json_loadb (payload ? payload : "", len, 0, &jerr);
	if (root == NULL)
		return bad (error, TBG_CODEC_ERROR_NOT_JSON, topic, "not JSON: %s", jerr.text);
	if (!json_is_object (root)) {
		json_decref (root);
		return bad (error, TBG_CODEC_ERROR_WRONG_TYPE, topic, "payload must be a JSON object");
	}
	if (g_str_equal (topic, TBG_TOPIC_RPC))
		ok = decode_rpc (root, topic, out, error);
	else if (g_str_equal (topic, TBG_TOPIC_ATTRIBUTES))
		ok = decode_attribute_update (root, topic, out, error);
	else if (g_str_equal (topic, TBG_TOPIC_ATTRIBUTES_RESPONSE))
		ok = decode_attribute_response (root, topic, out, error);
	else if (g_str_equal (topic, TBG_TOPIC_OWN_ATTRIBUTES)) {
		out->kind = TBG_DOWNLINK_OWN_ATTRIBUTE_UPDATE;
		ok = split_update (root, topic, out, error);
	} else
		ok = decode_own_rpc (root, topic, out, error);
	json_decref (root);
	return ok;
}

void
tbg_downlink_clear (TbgDownlink *d)
{
	g_clear_pointer (&d->device, g_free);
	g_clear_pointer (&d->method, g_free);
	g_clear_pointer (&d->deleted, g_strfreev);
	json_decref (d->params);
	json_decref (d->data);
	json_decref (d->value);
	json_decref (d->values);
	json_decref (d->client);
	json_decref (d->shared);
	d->params = d->data = d->value = d->values = d->client = d->shared = NULL;
}
