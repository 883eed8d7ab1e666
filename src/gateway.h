/* SPDX-License-Identifier: Apache-2.0 */
/* gateway.h — the device registry and the router between devices and
 * ThingsBoard: uplink records go into the outbox, downlink messages are
 * decoded and routed to the source of the device they name.
 */
#pragma once

#include <glib-object.h>
#include "config.h"
#include "device.h"
#include "outbox.h"
#include "rpc.h"
#include "source.h"
#include "tbg-error.h"

/* ThingsBoard keeps at most this many characters of a device name. */
#define TBG_MAX_NAME_CHARS 255

#define TBG_TYPE_GATEWAY (tbg_gateway_get_type ())
G_DECLARE_FINAL_TYPE (TbgGateway, tbg_gateway, TBG, GATEWAY, GObject)

typedef struct {
	guint64 records_sent;      /* acknowledged by the broker */
	guint64 publishes_sent;
	guint64 records_queued;    /* waiting for a PUBACK */
	guint64 records_dropped;   /* outbox full or too big */
	guint64 records_rejected;  /* given up on: the server kept closing on them */
	guint64 downlink_received;
	guint64 downlink_invalid;
	guint64 rpcs_received;
	guint64 rpcs_timed_out;
	guint   devices;
	guint   devices_connected;
	gint64  started_us;        /* monotonic */
} TbgGatewayStats;

/* Takes ownership of @cfg. @sources: NULL-terminated, usually tbg_sources. */
TbgGateway *tbg_gateway_new (TbgConfig *cfg, const TbgSource * const *sources, GError **error);
/* Starts the sources and connects. */
gboolean    tbg_gateway_start (TbgGateway *gw, GError **error);
/* Applies a new config (takes ownership): reconnects if [server] changed,
 * restarts the sources. On error the old config stays in force. */
gboolean    tbg_gateway_reload (TbgGateway *gw, TbgConfig *cfg, GError **error);
/* Stops the sources (their devices disconnect), then waits up to @grace_ms
 * for the broker to acknowledge what is queued before calling @done. */
void        tbg_gateway_shutdown (TbgGateway *gw, guint grace_ms, GSourceFunc done,
                                  gpointer user_data);

const TbgConfig *tbg_gateway_get_config (TbgGateway *gw);
gboolean    tbg_gateway_get_link_up (TbgGateway *gw);
const char *tbg_gateway_get_server (TbgGateway *gw);
/* How the gateway got its access token (the "credentials-source" property):
 * see tbg_credentials_source_to_string(). */
const char *tbg_gateway_get_credentials_source (TbgGateway *gw);
void        tbg_gateway_get_stats (TbgGateway *gw, TbgGatewayStats *stats);
void        tbg_gateway_reconnect (TbgGateway *gw);
/* What devices pushed so far is on disk (with a durable spool) when this
 * returns: call it before acknowledging data to a client. */
void        tbg_gateway_sync (TbgGateway *gw);

/* The running instance of @source (one of those given to tbg_gateway_new),
 * or NULL while it is not running. */
gpointer    tbg_gateway_get_source_instance (TbgGateway *gw, const TbgSource *source);

/* Device registry. Names are unique: they are ThingsBoard's key. */
TbgDevice  *tbg_gateway_add_device (TbgGateway *gw, const TbgSource *source, gpointer instance,
                                    const char *name, const char *profile, const char *address,
                                    GError **error);
/* Disconnects (if connected) and forgets the device. */
void        tbg_gateway_remove_device (TbgGateway *gw, TbgDevice *dev);
TbgDevice  *tbg_gateway_lookup_device (TbgGateway *gw, const char *name);
/* Devices in the order they were added (container owned by the caller). */
GPtrArray  *tbg_gateway_list_devices (TbgGateway *gw);
