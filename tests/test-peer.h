/* SPDX-License-Identifier: Apache-2.0 */
/* test-peer.h — the test's stand-in for ThingsBoard: an MQTT client that
 * records everything published on v1/# and publishes downlink messages.
 *
 * Its waits iterate the thread-default main context, because the code
 * under test runs on that main loop in the same process.
 */
#pragma once

#include <glib.h>
#include <jansson.h>

typedef struct {
	char  *topic;
	char  *payload;   /* NUL-terminated copy */
	gsize  len;
} TbgTestMessage;

void tbg_test_message_free (TbgTestMessage *m);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TbgTestMessage, tbg_test_message_free)

typedef struct _TbgTestPeer TbgTestPeer;

/* Connects (MQTT 5) and subscribes to v1/# with "no local", so it never
 * sees its own publishes; returns once the subscription is acknowledged.
 * It reconnects and subscribes again by itself after a broker restart. */
TbgTestPeer    *tbg_test_peer_new (guint16 port);
/* The same with another topic filter than v1/#. */
TbgTestPeer    *tbg_test_peer_new_for (guint16 port, const char *filter);
void            tbg_test_peer_free (TbgTestPeer *p);
/* The next message on @topic (any topic if NULL) within @timeout_ms, or
 * NULL. Messages on other topics stay queued, in order. */
TbgTestMessage *tbg_test_peer_wait (TbgTestPeer *p, const char *topic, guint timeout_ms);
/* Like wait, but fails the test (listing what did arrive) on timeout. */
TbgTestMessage *tbg_test_peer_expect (TbgTestPeer *p, const char *topic, guint timeout_ms);
/* Expects a message on @topic whose payload equals @expected_json as JSON
 * (types included: 1 and 1.0 differ). */
void            tbg_test_peer_expect_json (TbgTestPeer *p, const char *topic,
                                           const char *expected_json, guint timeout_ms);
/* Fails if a message on @topic (any if NULL) arrives within @ms. */
void            tbg_test_peer_assert_quiet (TbgTestPeer *p, const char *topic, guint ms);
/* QoS 1; returns after the broker's PUBACK. */
void            tbg_test_peer_publish (TbgTestPeer *p, const char *topic, const char *payload);
void            tbg_test_peer_publish_raw (TbgTestPeer *p, const char *topic,
                                           const void *payload, gsize len);
guint           tbg_test_peer_pending (TbgTestPeer *p);

/* Iterates the default main context for @ms milliseconds. */
void            tbg_test_run_main_loop_for (guint ms);
/* Iterates the main context until @cond is true or @timeout_ms passed. */
gboolean        tbg_test_wait_until (gboolean (*cond) (gpointer), gpointer data, guint timeout_ms);

/* Compares two JSON texts (types included); fails showing both. */
void            tbg_test_assert_json_equal (const char *file, int line, const char *actual,
                                            const char *expected);
#define tbg_assert_json_eq(actual, expected) \
	tbg_test_assert_json_equal (__FILE__, __LINE__, (actual), (expected))
/* The same for a parsed value (NULL counts as JSON null). */
void            tbg_test_assert_json_value (const char *file, int line, json_t *actual,
                                            const char *expected);
#define tbg_assert_json_value_eq(actual, expected) \
	tbg_test_assert_json_value (__FILE__, __LINE__, (actual), (expected))
