/* SPDX-License-Identifier: Apache-2.0 */
/* gateway-private.h — what the parts of the gateway share: its state and
 * the internal calls between gateway.c (registry, life cycle, downlink
 * dispatch), gateway-uplink.c (the device sink, records into the outbox),
 * gateway-rpc.c (server RPCs to devices, their timeouts),
 * gateway-attributes.c (attribute requests) and gateway-own.c (the
 * gateway's own device: statistics, its RPCs). Nothing outside these
 * files includes it.
 */
#pragma once

#include "gateway.h"
#include "gateway-codec.h"
#include "mqtt-link.h"
#include "provision.h"
#include "ratelimit.h"
#include "uplink.h"

struct _TbgGateway {
	GObject                  parent;
	TbgConfig               *cfg;
	const TbgSource * const *sources;
	GPtrArray               *instances;   /* parallel to sources */
	GPtrArray               *devices;     /* in order of addition */
	GHashTable              *by_name;     /* name → TbgDevice (borrowed from devices) */
	TbgOutbox               *outbox;
	TbgMqttLink             *link;
	TbgUplink               *uplink;
	GHashTable              *rpcs;        /* "device\nid" → PendingRpc */
	GHashTable              *attr_parts;  /* request id → AttrRequestPart */
	gint64                   next_attr_id;
	guint                    stats_id;
	TbgGatewayStats          stats;
	TbgRateLimit             warn_limit;
	TbgRateLimit             timeout_limit;   /* "got no reply in time" lines */
	guint64                  refused;         /* records too big to ever send */
	gboolean                 resyncing;       /* attribute requests take the express lane */
	/* what the log says of the queue */
	gboolean                 was_up;          /* the link has been up before */
	guint64                  backlog;         /* waiting when the link came back; 0: none */
	guint64                  backlog_base;    /* records sent + dropped then */
	gint64                   backlog_since;   /* monotonic µs */
	guint64                  drops_seen;      /* outbox->dropped accounted for */
	gint64                   full_logged;     /* monotonic µs of the last "full" line */
	gint64                   expired_logged;  /* and of the last "expired" line */
	TbgProvisioner          *provisioner;     /* while asking for an access token */
	/* shutdown */
	GSourceFunc              done;
	gpointer                 done_data;
	guint                    grace_id;
};

/* gateway.c */
void _tbg_gateway_warn_downlink (TbgGateway *gw, const char *format, ...) G_GNUC_PRINTF (2, 3);
/* Hands a shared attribute update to the device and then to its source. */
void _tbg_gateway_route_shared (TbgDevice *dev, json_t *changed, const char * const *deleted);

/* gateway-uplink.c */
/* Installed in every device the gateway creates (sink data: the gateway). */
extern const TbgDeviceSink _tbg_gateway_device_sink;
/* Queues a record (takes @payload). */
gboolean _tbg_gateway_enqueue (TbgGateway *gw, TbgRecordKind kind, const char *device,
                               char *payload, gsize len, GError **error);
/* Reports what the outbox dropped since the last look (@appending: to
 * make room, else because the records had expired). */
void _tbg_gateway_check_drops (TbgGateway *gw, gboolean appending);

/* Moves the uplink to @link (not started yet) and connects. */
void _tbg_gateway_use_link (TbgGateway *gw, TbgMqttLink *link);
TbgMqttLink *_tbg_gateway_new_link (TbgGateway *gw, const TbgConfig *cfg, GError **error);

/* gateway-credentials.c: the access token, provisioning */
/* Connects with the credentials gw->cfg names, provisioning first if it has none. */
void _tbg_gateway_connect (TbgGateway *gw);
/* Before a reload compares @new_cfg's [server] with the running one. */
void _tbg_gateway_credentials_prepare (TbgGateway *gw, TbgConfig *new_cfg);
/* After a reload (@old_cfg: the config before; @new_link: it connected anew). */
void _tbg_gateway_credentials_reloaded (TbgGateway *gw, const TbgConfig *old_cfg,
                                        gboolean new_link);
void _tbg_gateway_credentials_stop (TbgGateway *gw);
/* Manager.Reconnect(): TRUE if it concerned provisioning (asking again). */
gboolean _tbg_gateway_credentials_reconnect (TbgGateway *gw);

/* gateway-rpc.c */
void _tbg_gateway_rpc_init (TbgGateway *gw);
void _tbg_gateway_rpc_dispose (TbgGateway *gw);
void _tbg_gateway_handle_rpc (TbgGateway *gw, TbgDownlink *d);

/* gateway-attributes.c */
void _tbg_gateway_attributes_init (TbgGateway *gw);
gboolean _tbg_gateway_request_attributes (TbgGateway *gw, TbgDevice *dev,
                                          const char * const *client_keys,
                                          const char * const *shared_keys,
                                          TbgAttributesCallback callback,
                                          gpointer user_data, GError **error);
void _tbg_gateway_attributes_dispose (TbgGateway *gw);
void _tbg_gateway_handle_attr_response (TbgGateway *gw, TbgDownlink *d);
/* Remembers the shared keys a device was sent (@data) or asked for (@keys). */
void _tbg_gateway_note_shared_keys (TbgDevice *dev, json_t *data, const char * const *keys);
/* Asks again for the shared keys of every connected device: a new session. */
void _tbg_gateway_resync_shared (TbgGateway *gw);

/* gateway-own.c */
void _tbg_gateway_handle_own_rpc (TbgGateway *gw, TbgDownlink *d);
void _tbg_gateway_restart_stats (TbgGateway *gw);
