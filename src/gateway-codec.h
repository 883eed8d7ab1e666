/* SPDX-License-Identifier: Apache-2.0 */
/* gateway-codec.h — the ThingsBoard MQTT Gateway API as pure functions.
 *
 * Encoders return compact JSON text (g_free); decoders turn a downlink
 * publish into a TbgDownlink. Nothing here touches a socket, a clock or the
 * main loop, so every function is unit-tested and fuzzed on its own.
 */
#pragma once

#include <glib.h>
#include <jansson.h>
#include "topics.h"

#define TBG_CODEC_ERROR (tbg_codec_error_quark ())
typedef enum {
	TBG_CODEC_ERROR_NOT_JSON,
	TBG_CODEC_ERROR_WRONG_TYPE,
	TBG_CODEC_ERROR_MISSING_FIELD,
	TBG_CODEC_ERROR_BAD_VALUE,
	TBG_CODEC_ERROR_UNKNOWN_TOPIC,
} TbgCodecError;
GQuark tbg_codec_error_quark (void);

/* How every JSON we publish is written: 15 significant digits, so that a
 * sensor's 21.3 goes out as 21.3 and not as 21.300000000000001. */
#define TBG_JSON_DUMP_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION (15))

/* ---- uplink ------------------------------------------------------------- */

/* {"device":"A","type":"T"}; @type NULL leaves it to the server ("default"). */
char *tbg_codec_connect (const char *device, const char *type, GError **error);
/* {"device":"A"} */
char *tbg_codec_disconnect (const char *device, GError **error);
/* {"device":"A","id":1,"data":…}; @data (borrowed) is any JSON value:
 * ThingsBoard closes the connection on a response without data. */
char *tbg_codec_rpc_response (const char *device, gint64 id, json_t *data, GError **error);

typedef enum { TBG_ATTR_SCOPE_CLIENT, TBG_ATTR_SCOPE_SHARED } TbgAttrScope;
/* The form ThingsBoard's MQTT transport parses, one scope per request:
 * {"id":1,"device":"A","client":true,"key":"k"} for one key,
 * "keys":[…] for several. @keys must not be empty: an empty "keys" list
 * would fetch every attribute the device has. */
char *tbg_codec_attribute_request (gint64 id, const char *device, TbgAttrScope scope,
                                   const char * const *keys, GError **error);
/* The documented combined form {"id":1,"device":"A","client":[…],"shared":[…]};
 * either list may be NULL or empty (then omitted), not both. */
char *tbg_codec_attribute_request_combined (gint64 id, const char *device,
                                            const char * const *client_keys,
                                            const char * const *shared_keys,
                                            GError **error);
/* @j as compact JSON text, allocated with g_malloc (json_dumps uses malloc,
 * the outbox frees with g_free); NULL (or a value jansson cannot encode,
 * such as a string that is not UTF-8) is an error. */
char *tbg_codec_encode (json_t *j, GError **error);
/* @object without its null members, which ThingsBoard ignores: a new
 * reference to @object itself when it has none (the usual case, and one per
 * sample: no copy), else to a copy without them. */
json_t *tbg_codec_without_nulls (json_t *object);
/* One sample of a device's telemetry array: {"ts":…,"values":{…}};
 * @values must be a non-empty object. */
char *tbg_codec_sample (gint64 ts_ms, json_t *values, GError **error);
/* The same with @values_json, the text of a valid non-empty JSON object,
 * taken as written (the caller has parsed it). */
char *tbg_codec_sample_text (gint64 ts_ms, const char *values_json, gsize len, gsize *out_len);
/* {"secretKey":"s","durationMs":60000}; NULL / 0 leave a field out. */
char *tbg_codec_claim_entry (const char *secret_key, guint64 duration_ms, GError **error);

/* ---- packing -------------------------------------------------------------- */

/* Builds v1/gateway/telemetry, attributes and claim payloads from per-device
 * entries (encoded JSON text) without ever exceeding max_bytes. Works on
 * text with exact size accounting: it is on the hot path. */
typedef enum { TBG_PACK_TELEMETRY, TBG_PACK_ATTRIBUTES, TBG_PACK_CLAIM } TbgPackKind;
typedef enum {
	TBG_PACK_OK,        /* added */
	TBG_PACK_FULL,      /* not added: finish this payload and add it to the next */
	TBG_PACK_TOO_BIG,   /* not added: it cannot fit even in an empty payload */
} TbgPackResult;
typedef struct _TbgPacker TbgPacker;

TbgPacker    *tbg_packer_new (TbgPackKind kind, gsize max_bytes);
void          tbg_packer_free (TbgPacker *p);
/* TELEMETRY: entries of a device go into its array in the order added,
 * devices in order of first appearance: {"A":[e1,e3],"B":[e2]}.
 * ATTRIBUTES, CLAIM: {"A":{…},"B":{…}}; a device appears once per payload,
 * so adding it again returns FULL. */
TbgPackResult tbg_packer_add (TbgPacker *p, const char *device, const char *entry,
                              gsize entry_len);
guint         tbg_packer_count (TbgPacker *p);
/* The exact length tbg_packer_finish would return now. */
gsize         tbg_packer_size (TbgPacker *p);
/* The payload (g_free), or NULL when empty; the packer is empty again after. */
char         *tbg_packer_finish (TbgPacker *p, gsize *len);

/* ---- downlink ------------------------------------------------------------- */

typedef enum {
	TBG_DOWNLINK_ATTRIBUTE_UPDATE,      /* v1/gateway/attributes */
	TBG_DOWNLINK_ATTRIBUTE_RESPONSE,    /* v1/gateway/attributes/response */
	TBG_DOWNLINK_RPC_REQUEST,           /* v1/gateway/rpc with data.method */
	TBG_DOWNLINK_RPC_ECHO,              /* our own response, echoed by a plain broker */
	TBG_DOWNLINK_OWN_RPC_REQUEST,       /* v1/devices/me/rpc/request/{id} */
	TBG_DOWNLINK_OWN_ATTRIBUTE_UPDATE,  /* v1/devices/me/attributes */
} TbgDownlinkKind;

typedef struct {
	TbgDownlinkKind kind;
	char   *device;   /* NULL for the gateway's own messages */
	gint64  id;       /* RPC id or attribute request id; 0 is valid */
	char   *method;
	json_t *params;   /* any JSON, NULL when absent */
	json_t *data;     /* attribute update: changed keys, never "deleted" */
	char  **deleted;  /* attribute update: deleted keys, or NULL */
	json_t *value;    /* attribute response: "value" (a single key's value) */
	json_t *values;   /* attribute response: "values" */
	json_t *client;   /* attribute response: "client" (newer servers) */
	json_t *shared;   /* attribute response: "shared" (newer servers) */
} TbgDownlink;

/* @payload need not be NUL-terminated. On failure @error says what is wrong
 * in words a person can act on, and @out is still safe to clear. */
gboolean tbg_codec_decode (const char *topic, const void *payload, gsize len,
                           TbgDownlink *out, GError **error);
void     tbg_downlink_clear (TbgDownlink *d);
