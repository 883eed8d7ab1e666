/* SPDX-License-Identifier: Apache-2.0 */
/* uplink.h — turns outbox records into MQTT publishes.
 *
 * Consecutive telemetry, attribute and claim records are packed into as few
 * publishes as the payload limit allows; at most max_inflight publishes wait
 * for their PUBACK at a time, and only a PUBACK acknowledges the records a
 * publish carried. Nothing is published for a device before its connect has
 * been sent on the current MQTT session: live devices are connected first,
 * and a backlog record of any other device is preceded by a connect for it.
 */
#pragma once

#include <glib.h>
#include "mqtt-link.h"
#include "outbox.h"

typedef struct _TbgUplink TbgUplink;

/* Returns the profile (type) of a device for an implicit connect, or NULL. */
typedef const char *(*TbgUplinkTypeFunc) (const char *device, gpointer user_data);

TbgUplink *tbg_uplink_new (TbgMqttLink *link, TbgOutbox *outbox, gsize max_payload,
                           guint max_inflight, TbgUplinkTypeFunc type_func,
                           gpointer user_data);
void       tbg_uplink_free (TbgUplink *up);
/* Records of @kind were appended: publish them soon. Telemetry, attributes
 * and claims wait up to the linger time when the link is idle, so that a
 * burst goes out packed; anything else (RPC answers, connects) goes at the
 * next main loop iteration and takes what lingers with it. */
void       tbg_uplink_kick (TbgUplink *up, TbgRecordKind kind);
void       tbg_uplink_set_linger (TbgUplink *up, guint linger_ms);
/* A new MQTT session: connect these devices before anything else. */
void       tbg_uplink_session_up (TbgUplink *up, const char * const *names,
                                  const char * const *types);
void       tbg_uplink_session_down (TbgUplink *up);
void       tbg_uplink_acked (TbgUplink *up, int mid);
/* An RPC answer: published ahead of every queued record (a backlog after an
 * outage must not make ThingsBoard's RPC time out), QoS 1, sent again after
 * a reconnect until its PUBACK arrives. Kept in memory only: after a restart
 * the server has long given up on it. Takes @payload (g_free). */
void       tbg_uplink_send_reply (TbgUplink *up, const char *topic, char *payload, gsize len);
/* Answers not yet acknowledged by the broker. */
guint      tbg_uplink_pending_replies (TbgUplink *up);
/* The server forgot the device (deleted it): connect it again before its next data. */
void       tbg_uplink_forget_device (TbgUplink *up, const char *name);
void       tbg_uplink_rename_device (TbgUplink *up, const char *old_name, const char *new_name);
void       tbg_uplink_set_limits (TbgUplink *up, gsize max_payload, guint max_inflight);
/* Give up on a record once the server closed @n sessions in a row while
 * it was the oldest record in flight (0: never). After the second such
 * close it is published alone, so that only the record the server refuses
 * is given up, not one packed with it. */
void       tbg_uplink_set_give_up_after (TbgUplink *up, guint n);

guint64    tbg_uplink_records_sent (TbgUplink *up);     /* acknowledged by PUBACK */
guint64    tbg_uplink_publishes_sent (TbgUplink *up);
guint64    tbg_uplink_records_dropped (TbgUplink *up);  /* too big to ever send */
guint64    tbg_uplink_records_rejected (TbgUplink *up); /* given up on: the server refused them */
