/* SPDX-License-Identifier: Apache-2.0 */
/* mqtt-script-server.h — an MQTT 3.1.1 server that misbehaves on purpose.
 *
 * mosquitto cannot refuse a subscription, close the connection right after
 * CONNACK or on one publish, or withhold a PUBACK; ThingsBoard does all of
 * these (see gateway-api.md). This server speaks just enough of MQTT 3.1.1
 * to play those parts, on 127.0.0.1 and on the thread-default main context,
 * so the gateway under test runs in the same process and loop.
 */
#pragma once

#include <glib.h>
#include "test-peer.h"

typedef struct _TbgScriptServer TbgScriptServer;

/* Listens on a free loopback port; one client at a time (a new one
 * replaces the old, as ThingsBoard does for one token). */
TbgScriptServer *tbg_script_server_new (void);
/* The same on @port (a server that comes back after an outage). */
TbgScriptServer *tbg_script_server_new_on_port (guint16 port);
void             tbg_script_server_free (TbgScriptServer *s);
guint16          tbg_script_server_port (TbgScriptServer *s);

/* SUBACK return code for @filter (default 0x01, granted QoS 1). */
void             tbg_script_server_set_suback (TbgScriptServer *s, const char *filter, guint8 code);
/* Close every connection @delay_ms after its CONNACK (-1: never). */
void             tbg_script_server_set_close_after_connack (TbgScriptServer *s, int delay_ms);
/* A PUBLISH whose payload contains @needle is never acknowledged and the
 * connection is closed at once (NULL: none). */
void             tbg_script_server_set_close_on (TbgScriptServer *s, const char *needle);
/* Acknowledge no PUBLISH at all while TRUE; FALSE sends the PUBACKs
 * withheld on this connection. */
void             tbg_script_server_set_withhold_pubacks (TbgScriptServer *s, gboolean withhold);

/* CONNECT packets seen so far. */
guint            tbg_script_server_connects (TbgScriptServer *s);
/* Monotonic time (µs) of CONNECT number @i (0-based). */
gint64           tbg_script_server_connect_time (TbgScriptServer *s, guint i);
/* Connections the server closed by script. */
guint            tbg_script_server_closes (TbgScriptServer *s);
/* Whether a client is connected now (CONNACK sent, not closed). */
gboolean         tbg_script_server_has_client (TbgScriptServer *s);
/* Closes the current connection (as a server restart would). */
void             tbg_script_server_drop_client (TbgScriptServer *s);

/* The next PUBLISH from the client on @topic (any if NULL), or NULL after
 * @timeout_ms. Others stay queued in order. */
TbgTestMessage  *tbg_script_server_wait (TbgScriptServer *s, const char *topic, guint timeout_ms);
/* Like wait, but fails the test on timeout. */
TbgTestMessage  *tbg_script_server_expect (TbgScriptServer *s, const char *topic, guint timeout_ms);
/* Every PUBLISH received so far on @topic, queued or not. */
guint            tbg_script_server_count (TbgScriptServer *s, const char *topic);
/* Sends a QoS 0 PUBLISH to the current client; FALSE if none. */
gboolean         tbg_script_server_publish (TbgScriptServer *s, const char *topic, const char *payload);
