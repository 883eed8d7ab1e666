/* SPDX-License-Identifier: Apache-2.0 */
/* test-broker.h — a real mosquitto on a free 127.0.0.1 port, per test. */
#pragma once

#include <glib.h>

typedef struct _TbgTestBroker TbgTestBroker;

/* Starts mosquitto with a generated config (loopback only, anonymous,
 * no persistence, everything logged) and waits until it accepts
 * connections. Aborts the test with a clear message if it cannot. */
/* A free TCP port on 127.0.0.1, drawn at random so that tests running at
 * the same time do not pick the same one. */
guint16        tbg_test_free_port (void);
TbgTestBroker *tbg_test_broker_start (void);
guint16        tbg_test_broker_port (TbgTestBroker *b);
const char    *tbg_test_broker_log_path (TbgTestBroker *b);
/* The broker's whole log so far (g_free). */
char          *tbg_test_broker_read_log (TbgTestBroker *b);
/* SIGTERM and wait: the port is closed when this returns. */
void           tbg_test_broker_stop (TbgTestBroker *b);
/* Starts it again on the same port. */
void           tbg_test_broker_restart (TbgTestBroker *b);
void           tbg_test_broker_free (TbgTestBroker *b);
