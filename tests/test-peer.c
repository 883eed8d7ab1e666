/* SPDX-License-Identifier: Apache-2.0 */
/* test-peer.c — see test-peer.h. */
#include "test-peer.h"

#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <string.h>
#include <unistd.h>

struct _TbgTestPeer {
	struct mosquitto *mosq;
	GMutex            lock;
	GQueue            messages;   /* TbgTestMessage */
	GHashTable       *acked;      /* mids with a PUBACK */
	gboolean          subscribed;
	char             *filter;     /* what it subscribes to */
};

void
tbg_test_message_free (TbgTestMessage *m)
{
	if (m == NULL)
		return;
	g_free (m->topic);
	g_free (m->payload);
	g_free (m);
}

void
tbg_test_run_main_loop_for (guint ms)
{
	gint64 end = g_get_monotonic_time () + (gint64) ms * 1000;

	while (g_get_monotonic_time () < end) {
		if (!g_main_context_iteration (NULL, FALSE))
			g_usleep (100);
	}
}

gboolean
tbg_test_wait_until (gboolean (*cond) (gpointer), gpointer data, guint timeout_ms)
{
	gint64 end = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

	while (!cond (data)) {
		if (g_get_monotonic_time () >= end)
			return FALSE;
		if (!g_main_context_iteration (NULL, FALSE))
			g_usleep (100);
	}
	return TRUE;
}

static void
on_connect (struct mosquitto *mosq, void *obj, int rc, int flags, const mosquitto_property *props)
{
	TbgTestPeer *p = obj;

	if (rc == 0)
		mosquitto_subscribe_v5 (mosq, NULL, p->filter, 1, MQTT_SUB_OPT_NO_LOCAL, NULL);
}

static void
on_subscribe (struct mosquitto *mosq, void *obj, int mid, int qos_count, const int *granted)
{
	TbgTestPeer *p = obj;

	g_mutex_lock (&p->lock);
	p->subscribed = TRUE;
	g_mutex_unlock (&p->lock);
}

static void
on_message (struct mosquitto *mosq, void *obj, const struct mosquitto_message *msg)
{
	TbgTestPeer *p = obj;
	TbgTestMessage *m = g_new0 (TbgTestMessage, 1);

	m->topic = g_strdup (msg->topic);
	m->payload = g_strndup (msg->payload ? msg->payload : "", msg->payloadlen);
	m->len = msg->payloadlen;
	g_mutex_lock (&p->lock);
	g_queue_push_tail (&p->messages, m);
	g_mutex_unlock (&p->lock);
}

static void
on_publish (struct mosquitto *mosq, void *obj, int mid)
{
	TbgTestPeer *p = obj;

	g_mutex_lock (&p->lock);
	g_hash_table_add (p->acked, GINT_TO_POINTER (mid));
	g_mutex_unlock (&p->lock);
}

static gboolean
is_subscribed (gpointer data)
{
	TbgTestPeer *p = data;
	gboolean s;

	g_mutex_lock (&p->lock);
	s = p->subscribed;
	g_mutex_unlock (&p->lock);
	return s;
}

TbgTestPeer *
tbg_test_peer_new (guint16 port)
{
	return tbg_test_peer_new_for (port, "v1/#");
}

TbgTestPeer *
tbg_test_peer_new_for (guint16 port, const char *filter)
{
	static gsize init = 0;
	TbgTestPeer *p = g_new0 (TbgTestPeer, 1);
	g_autofree char *id = NULL;
	int rc;

	if (g_once_init_enter (&init)) {
		mosquitto_lib_init ();
		g_once_init_leave (&init, 1);
	}
	g_mutex_init (&p->lock);
	g_queue_init (&p->messages);
	p->filter = g_strdup (filter);
	p->acked = g_hash_table_new (NULL, NULL);
	id = g_strdup_printf ("tbgw-test-peer-%d-%u", (int) getpid (), g_random_int ());
	p->mosq = mosquitto_new (id, true, p);
	g_assert_nonnull (p->mosq);
	mosquitto_int_option (p->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
	mosquitto_int_option (p->mosq, MOSQ_OPT_TCP_NODELAY, 1);
	mosquitto_connect_v5_callback_set (p->mosq, on_connect);
	mosquitto_subscribe_callback_set (p->mosq, on_subscribe);
	mosquitto_message_callback_set (p->mosq, on_message);
	mosquitto_publish_callback_set (p->mosq, on_publish);
	mosquitto_reconnect_delay_set (p->mosq, 1, 1, false);
	rc = mosquitto_connect (p->mosq, "127.0.0.1", port, 30);
	if (rc != MOSQ_ERR_SUCCESS)
		g_error ("test peer cannot connect to 127.0.0.1:%u: %s", port, mosquitto_strerror (rc));
	g_assert_cmpint (mosquitto_loop_start (p->mosq), ==, MOSQ_ERR_SUCCESS);
	if (!tbg_test_wait_until (is_subscribed, p, 5000))
		g_error ("test peer: no SUBACK from 127.0.0.1:%u", port);
	return p;
}

void
tbg_test_peer_free (TbgTestPeer *p)
{
	if (p == NULL)
		return;
	mosquitto_disconnect (p->mosq);
	mosquitto_loop_stop (p->mosq, true);
	mosquitto_destroy (p->mosq);
	g_queue_clear_full (&p->messages, (GDestroyNotify) tbg_test_message_free);
	g_hash_table_unref (p->acked);
	g_mutex_clear (&p->lock);
	g_free (p->filter);
	g_free (p);
}

static TbgTestMessage *
take (TbgTestPeer *p, const char *topic)
{
	TbgTestMessage *found = NULL;

	g_mutex_lock (&p->lock);
	for (GList *l = p->messages.head; l != NULL; l = l->next) {
		TbgTestMessage *m = l->data;

		if (topic == NULL || g_str_equal (m->topic, topic)) {
			found = m;
			g_queue_delete_link (&p->messages, l);
			break;
		}
	}
	g_mutex_unlock (&p->lock);
	return found;
}

TbgTestMessage *
tbg_test_peer_wait (TbgTestPeer *p, const char *topic, guint timeout_ms)
{
	gint64 end = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

	for (;;) {
		TbgTestMessage *m = take (p, topic);

		if (m != NULL)
			return m;
		if (g_get_monotonic_time () >= end)
			return NULL;
		if (!g_main_context_iteration (NULL, FALSE))
			g_usleep (100);
	}
}

static char *
describe_pending (TbgTestPeer *p)
{
	GString *s = g_string_new (NULL);

	g_mutex_lock (&p->lock);
	for (GList *l = p->messages.head; l != NULL; l = l->next) {
		TbgTestMessage *m = l->data;

		g_string_append_printf (s, "\n  %s %.300s", m->topic, m->payload);
	}
	g_mutex_unlock (&p->lock);
	if (s->len == 0)
		g_string_append (s, " nothing");
	return g_string_free (s, FALSE);
}

TbgTestMessage *
tbg_test_peer_expect (TbgTestPeer *p, const char *topic, guint timeout_ms)
{
	TbgTestMessage *m = tbg_test_peer_wait (p, topic, timeout_ms);

	if (m == NULL) {
		g_autofree char *got = describe_pending (p);

		g_error ("no message on %s within %u ms; queued:%s", topic ? topic : "any topic",
		         timeout_ms, got);
	}
	return m;
}

void
tbg_test_assert_json_equal (const char *file, int line, const char *actual, const char *expected)
{
	json_t *a = json_loads (actual, JSON_DECODE_ANY, NULL);
	json_t *e = json_loads (expected, JSON_DECODE_ANY, NULL);

	if (e == NULL)
		g_error ("%s:%d: expected text is not JSON: %s", file, line, expected);
	if (a == NULL || !json_equal (a, e))
		g_error ("%s:%d: JSON differs\n  actual:   %s\n  expected: %s", file, line, actual, expected);
	json_decref (a);
	json_decref (e);
}

void
tbg_test_assert_json_value (const char *file, int line, json_t *actual, const char *expected)
{
	json_t *e = json_loads (expected, JSON_DECODE_ANY, NULL);
	json_t *a = actual != NULL ? json_incref (actual) : json_null ();

	if (e == NULL)
		g_error ("%s:%d: expected text is not JSON: %s", file, line, expected);
	if (!json_equal (a, e)) {
		char *text = json_dumps (a, JSON_COMPACT | JSON_ENCODE_ANY);

		g_error ("%s:%d: JSON differs\n  actual:   %s\n  expected: %s", file, line, text, expected);
	}
	json_decref (a);
	json_decref (e);
}

void
tbg_test_peer_expect_json (TbgTestPeer *p, const char *topic, const char *expected_json,
                           guint timeout_ms)
{
	g_autoptr (TbgTestMessage) m = tbg_test_peer_expect (p, topic, timeout_ms);
	g_autofree char *where = g_strdup_printf ("message on %s", topic);

	tbg_test_assert_json_equal (where, 0, m->payload, expected_json);
}

void
tbg_test_peer_assert_quiet (TbgTestPeer *p, const char *topic, guint ms)
{
	g_autoptr (TbgTestMessage) m = tbg_test_peer_wait (p, topic, ms);

	if (m != NULL)
		g_error ("unexpected message on %s: %s", m->topic, m->payload);
}

static gboolean
acked (TbgTestPeer *p, int mid)
{
	gboolean a;

	g_mutex_lock (&p->lock);
	a = g_hash_table_remove (p->acked, GINT_TO_POINTER (mid));
	g_mutex_unlock (&p->lock);
	return a;
}

void
tbg_test_peer_publish_raw (TbgTestPeer *p, const char *topic, const void *payload, gsize len)
{
	gint64 end = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
	int mid = 0;
	int rc = mosquitto_publish (p->mosq, &mid, topic, (int) len, payload, 1, false);

	if (rc != MOSQ_ERR_SUCCESS)
		g_error ("test peer: publish on %s failed: %s", topic, mosquitto_strerror (rc));
	while (!acked (p, mid)) {
		if (g_get_monotonic_time () >= end)
			g_error ("test peer: no PUBACK for %s", topic);
		if (!g_main_context_iteration (NULL, FALSE))
			g_usleep (100);
	}
}

void
tbg_test_peer_publish (TbgTestPeer *p, const char *topic, const char *payload)
{
	tbg_test_peer_publish_raw (p, topic, payload, strlen (payload));
}

guint
tbg_test_peer_pending (TbgTestPeer *p)
{
	guint n;

	g_mutex_lock (&p->lock);
	n = p->messages.length;
	g_mutex_unlock (&p->lock);
	return n;
}
