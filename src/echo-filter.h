/* SPDX-License-Identifier: Apache-2.0 */
/* echo-filter.h — recognises our own publishes coming back from the broker.
 *
 * The gateway subscribes to topics it also publishes on (v1/gateway/attributes,
 * v1/gateway/rpc, v1/devices/me/attributes). ThingsBoard never sends a client
 * its own publish back, but a plain MQTT broker (a local mosquitto, a bridge)
 * does, and MQTT 3.1.1 has no "no local" option. Without this filter our
 * client attributes would come back as "shared attribute updates" and our
 * RPC answers as malformed RPCs. Pure: no I/O, no clock of its own.
 */
#pragma once

#include <glib.h>

#define TBG_ECHO_FILTER_SLOTS 64

typedef struct {
	guint64 hash;
	gint64  expires_us;   /* 0: free slot */
} TbgEchoSlot;

typedef struct {
	TbgEchoSlot slot[TBG_ECHO_FILTER_SLOTS];
	guint       next;
	gint64      ttl_us;
} TbgEchoFilter;

void     tbg_echo_filter_init (TbgEchoFilter *f, gint64 ttl_us);
/* We published @payload on @topic at @now_us. */
void     tbg_echo_filter_sent (TbgEchoFilter *f, const char *topic, const void *payload,
                               gsize len, gint64 now_us);
/* TRUE if this message is one of ours coming back (each publish matches once). */
gboolean tbg_echo_filter_is_echo (TbgEchoFilter *f, const char *topic, const void *payload,
                                  gsize len, gint64 now_us);
