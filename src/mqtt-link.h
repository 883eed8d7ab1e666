/* SPDX-License-Identifier: Apache-2.0 */
/* mqtt-link.h — the one MQTT connection to ThingsBoard, on the GLib main loop.
 *
 * libmosquitto is driven without its thread: a GSource polls its socket and
 * a timer runs its keepalive. Every connection attempt uses a fresh client
 * instance, so libmosquitto never replays a stale in-flight queue of its
 * own; what must be resent is resent by the uplink from its outbox.
 */
#pragma once

#include <glib.h>
#include "config.h"

typedef struct _TbgMqttLink TbgMqttLink;

typedef struct {
	/* Connected and every subscription acknowledged: publishing may start. */
	void (*up) (gpointer user_data);
	/* The session is gone; publishes in flight will get no PUBACK. */
	void (*down) (gpointer user_data);
	void (*message) (const char *topic, const void *payload, gsize len, gpointer user_data);
	/* PUBACK for the publish that returned @mid. */
	void (*acked) (int mid, gpointer user_data);
} TbgMqttLinkCallbacks;

TbgMqttLink *tbg_mqtt_link_new (const TbgServerConfig *server,
                                const char * const *subscriptions,
                                guint max_inflight,
                                const TbgMqttLinkCallbacks *callbacks,
                                gpointer user_data,
                                GError **error);
void         tbg_mqtt_link_start (TbgMqttLink *link);
gboolean     tbg_mqtt_link_is_up (TbgMqttLink *link);
/* QoS 1. Only valid while up. */
gboolean     tbg_mqtt_link_publish (TbgMqttLink *link, const char *topic,
                                    const void *payload, gsize len, int *mid,
                                    GError **error);
/* Drop the connection (if any) and connect again at once. */
void         tbg_mqtt_link_reconnect (TbgMqttLink *link);
/* Closes the connection as failed: the next attempt waits for the backoff
 * (unlike reconnect). Safe inside the link's callbacks. */
void         tbg_mqtt_link_drop (TbgMqttLink *link, const char *reason);
/* Clean DISCONNECT; no reconnect afterwards. */
void         tbg_mqtt_link_stop (TbgMqttLink *link);
/* Sessions in a row, up to the last one, that the server closed itself
 * (no failed connect, keepalive timeout or local reconnect in between);
 * 0 if the last one ended otherwise. Valid in the down callback. */
guint        tbg_mqtt_link_server_closes (TbgMqttLink *link);
const char  *tbg_mqtt_link_describe (TbgMqttLink *link);
void         tbg_mqtt_link_free (TbgMqttLink *link);
