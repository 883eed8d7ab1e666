/* SPDX-License-Identifier: Apache-2.0 */
/* test-util.h — small helpers the integration tests share. */
#pragma once

#include "gateway.h"
#include "test-peer.h"

#include <gio/gio.h>

/* A launcher whose children get SIGTERM when the test dies: a test that
 * aborts must not leave a tbgwd behind to reopen the next test's
 * pseudo-terminals or take its MQTT client id. */
GSubprocessLauncher *tbg_test_launcher_new (GSubprocessFlags flags);

/* From now on, the messages this process logs are also kept (and any kept
 * so far forgotten), to check what a person would read. */
void        tbg_test_log_capture (void);
/* How many kept messages match the glob @pattern (g_pattern_match_simple). */
guint       tbg_test_log_count (const char *pattern);

/* SIGTERM, then asserts that the daemon exited by itself with status 0. */
void        tbg_test_stop_daemon (GSubprocess *daemon);

/* Writes a config for a broker on @port with @groups appended to @conf_path,
 * loads it (groups named after @prefixes) and starts a gateway with
 * @sources in this process. NULL + @error if any step fails. */
TbgGateway *tbg_test_gateway_new (const char *conf_path, guint16 port, const char *groups,
                                  const char * const *prefixes, const TbgSource * const *sources,
                                  GError **error);
/* For tbg_test_wait_until(). */
gboolean    tbg_test_gateway_link_is_up (gpointer gateway);

/* Waits for the next v1/gateway/telemetry and returns the values of
 * @device's first sample in it (a new reference; asserts it is there) and,
 * if @ts is not NULL, its timestamp. */
json_t     *tbg_test_expect_sample (TbgTestPeer *peer, const char *device, guint timeout_ms, gint64 *ts);
/* The same, compared with @expected_json (types included). */
void        tbg_test_expect_sample_values (TbgTestPeer *peer, const char *device, const char *expected_json,
                                           guint timeout_ms);
/* ThingsBoard's side of a device RPC: publishes request @id and expects the
 * gateway's answer with that id and @expected_data as its data. */
void        tbg_test_gateway_rpc (TbgTestPeer *peer, const char *device, int id, const char *method,
                                  const char *params, const char *expected_data, guint timeout_ms);

/* ---- the real tbgwd on a private bus ---- */

/* A private bus (GTestDBus) and this test's connection to it; children
 * started after this call have it as their session bus. */
GTestDBus  *tbg_test_bus_up (GDBusConnection **conn);
void        tbg_test_bus_down (GTestDBus *bus, GDBusConnection *conn);
/* Returns once the bus daemon has handled everything @conn sent before,
 * such as the match rule of a signal subscription just made: a signal
 * emitted afterwards reaches it. */
void        tbg_test_bus_sync (GDBusConnection *conn);
/* Starts tbgwd ($TBGWD, else src/tbgwd) with --session --config @conf,
 * its stderr into @log_path (NULL: this process's), and waits until it
 * owns org.tbgw.Gateway1, its MQTT link is up and @peer has seen the
 * gateway's version attribute. */
GSubprocess *tbg_test_tbgwd_start (GDBusConnection *conn, TbgTestPeer *peer, const char *conf,
                                   const char *log_path);
/* For tbg_test_wait_until() with a GDBusConnection: the name is owned,
 * the Manager's Connected property is true. */
gboolean    tbg_test_tbgwd_name_owned (gpointer conn);
gboolean    tbg_test_tbgwd_link_connected (gpointer conn);
/* A method call to org.tbgw.Gateway1, waiting up to 20 s. */
GVariant   *tbg_test_tbgwd_call (GDBusConnection *conn, const char *path, const char *iface,
                                 const char *method, GVariant *args, GError **error);
