/* SPDX-License-Identifier: Apache-2.0 */
/* device.h — one ThingsBoard device behind the gateway.
 *
 * Sources create devices through tbg_gateway_add_device() and feed them
 * with the functions below; every accepted sample goes into the outbox
 * before the call returns. Observers (the D-Bus service) watch the GObject
 * properties and signals.
 */
#pragma once

#include <glib-object.h>
#include <jansson.h>
#include "source.h"

#define TBG_TYPE_DEVICE (tbg_device_get_type ())
G_DECLARE_FINAL_TYPE (TbgDevice, tbg_device, TBG, DEVICE, GObject)

const char      *tbg_device_get_name (TbgDevice *dev);
/* The ThingsBoard device profile ("type" of the connect message). */
const char      *tbg_device_get_profile (TbgDevice *dev);
const TbgSource *tbg_device_get_source (TbgDevice *dev);
/* MAC address, tty path, chip:line, or the D-Bus client's name. */
const char      *tbg_device_get_address (TbgDevice *dev);
gboolean         tbg_device_get_connected (TbgDevice *dev);
/* Milliseconds since the epoch of the last data from the device; 0 = never.
 * The "last-seen" property is notified at most once a second, and the
 * newest value always within that second. */
gint64           tbg_device_get_last_seen (TbgDevice *dev);
/* Borrowed objects: client attributes pushed and shared attributes received. */
json_t          *tbg_device_get_client_attributes (TbgDevice *dev);
json_t          *tbg_device_get_shared_attributes (TbgDevice *dev);

gpointer         tbg_device_get_source_data (TbgDevice *dev);
void             tbg_device_set_source_data (TbgDevice *dev, gpointer data, GDestroyNotify destroy);

/* Publishes v1/gateway/connect or disconnect when the state changes. */
void             tbg_device_set_connected (TbgDevice *dev, gboolean connected);
/* @ts_ms 0: stamped now. Stamped samples of one device never share a
 * timestamp: a burst within one millisecond gets consecutive ones, since
 * ThingsBoard would otherwise keep only the last of them. @values (borrowed)
 * must be a non-empty object; null members are dropped. */
gboolean         tbg_device_push_telemetry (TbgDevice *dev, gint64 ts_ms, json_t *values,
                                            GError **error);
/* The same for a source that has already parsed and checked its input:
 * @values_json is the text of a non-empty JSON object without null members,
 * forwarded as written. */
gboolean         tbg_device_push_telemetry_text (TbgDevice *dev, gint64 ts_ms,
                                                 const char *values_json, gsize len,
                                                 GError **error);
gboolean         tbg_device_push_attributes (TbgDevice *dev, json_t *attributes, GError **error);
/* @secret_key NULL or @duration_ms 0: left to the server's defaults. */
gboolean         tbg_device_claim (TbgDevice *dev, const char *secret_key, guint64 duration_ms,
                                   GError **error);

/* @client and @shared: objects (borrowed; empty when nothing exists). On
 * failure both are NULL and @error says why (TBG_ERROR_TIMEOUT, ...). */
typedef void (*TbgAttributesCallback) (TbgDevice *dev, json_t *client, json_t *shared,
                                       const GError *error, gpointer user_data);
gboolean         tbg_device_request_attributes (TbgDevice *dev,
                                                const char * const *client_keys,
                                                const char * const *shared_keys,
                                                TbgAttributesCallback callback,
                                                gpointer user_data, GError **error);

/* For the gateway only. */
TbgDevice       *_tbg_device_new (TbgGateway *gw, const TbgSource *source, gpointer instance,
                                  const char *name, const char *profile, const char *address);
void             _tbg_device_set_name (TbgDevice *dev, const char *name);
void             _tbg_device_detach (TbgDevice *dev);
void             _tbg_device_shared_attributes (TbgDevice *dev, json_t *changed,
                                                const char * const *deleted);
void             _tbg_device_rpc_requested (TbgDevice *dev, TbgRpc *rpc);
