/* SPDX-License-Identifier: Apache-2.0 */
/* device.h — one ThingsBoard device behind the gateway.
 *
 * Sources create devices through tbg_gateway_add_device() and feed them
 * with the functions below; every accepted sample goes into the outbox
 * before the call returns. Observers (the D-Bus service) watch the GObject
 * properties and signals.
 *
 * The device model checks what it is given and keeps the device's state;
 * what it accepts goes to the sink its creator installed (the gateway),
 * which encodes it for ThingsBoard and queues it. The device knows
 * neither the wire format nor the queue, nor the source's hooks: the
 * gateway routes downlink to the source.
 */
#pragma once

#include <glib-object.h>
#include <jansson.h>
#include "source.h"
#include "tbg-error.h"

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

/* Where a device hands what it accepted. Each call encodes and queues
 * (or sends) the data, or returns FALSE with @error and queues nothing. */
typedef struct {
	/* v1/gateway/connect (@connected) or v1/gateway/disconnect. */
	gboolean (*state) (gpointer sink_data, TbgDevice *dev, gboolean connected, GError **error);
	/* One sample, stamped: @values has at least one member that is not
	 * null; the null ones are not sent. */
	gboolean (*telemetry) (gpointer sink_data, TbgDevice *dev, gint64 ts_ms, json_t *values,
	                       GError **error);
	/* The same as checked JSON text (tbg_device_push_telemetry_text). */
	gboolean (*telemetry_text) (gpointer sink_data, TbgDevice *dev, gint64 ts_ms,
	                            const char *values_json, gsize len, GError **error);
	/* Client attributes, the same way as @values above. */
	gboolean (*attributes) (gpointer sink_data, TbgDevice *dev, json_t *attributes,
	                        GError **error);
	gboolean (*claim) (gpointer sink_data, TbgDevice *dev, const char *secret_key,
	                   guint64 duration_ms, GError **error);
	/* As tbg_device_request_attributes, for a connected device. */
	gboolean (*request_attributes) (gpointer sink_data, TbgDevice *dev,
	                                const char * const *client_keys,
	                                const char * const *shared_keys,
	                                TbgAttributesCallback callback, gpointer user_data,
	                                GError **error);
} TbgDeviceSink;

TbgDevice       *_tbg_device_new (const TbgDeviceSink *sink, gpointer sink_data,
                                  const TbgSource *source, gpointer instance,
                                  const char *name, const char *profile, const char *address);
/* The @instance given to _tbg_device_new: what the source's hooks take. */
gpointer         _tbg_device_get_instance (TbgDevice *dev);
void             _tbg_device_set_name (TbgDevice *dev, const char *name);
/* The device is gone from the gateway: every call fails from now on. */
void             _tbg_device_detach (TbgDevice *dev);
/* Updates the shared attributes and tells the observers; the gateway
 * then hands them to the source. */
void             _tbg_device_shared_attributes (TbgDevice *dev, json_t *changed,
                                                const char * const *deleted);
/* Tells the observers of an RPC, before the gateway hands it to the source. */
void             _tbg_device_rpc_requested (TbgDevice *dev, TbgRpc *rpc);
