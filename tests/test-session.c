/* SPDX-License-Identifier: Apache-2.0 */
/* The MQTT session against a server that behaves as ThingsBoard does where
 * mosquitto cannot: refused subscriptions, connections closed right after
 * CONNACK or on a publish it will not take, PUBACKs withheld. The server is
 * the scripted one in mqtt-script-server.c; the gateway runs in this
 * process on the same main loop. */
#include "build-config.h"
#include "gateway.h"
#include "mqtt-script-server.h"
#include "test-broker.h"
#include "test-util.h"

#include <glib/gstdio.h>
#include <string.h>

#define WAIT_MS 20000

typedef struct {
	TbgScriptServer *srv;
	TbgGateway      *gw;
	json_t          *shared;        /* last shared attribute update */
	guint            shared_calls;
	guint            attrs_done;    /* attribute requests completed */
	json_t          *attrs_shared;
} Fixture;

static Fixture *current;

static gpointer
test_source_start (TbgGateway *gw, const TbgConfig *cfg, GError **error)
{
	return current;
}

static void
test_source_shared (gpointer instance, TbgDevice *dev, json_t *changed, const char * const *deleted)
{
	Fixture *f = instance;

	json_decref (f->shared);
	f->shared = changed ? json_deep_copy (changed) : NULL;
	f->shared_calls++;
}

/* Every RPC is "slow": never answered here. */
static void
test_source_rpc (gpointer instance, TbgDevice *dev, TbgRpc *rpc)
{
}

static const TbgSource test_source = {
	.name = "test",
	.start = test_source_start,
	.rpc = test_source_rpc,
	.shared_attributes = test_source_shared,
};
static const TbgSource * const test_sources[] = { &test_source, NULL };

static void
setup (Fixture *f, gconstpointer data)
{
	memset (f, 0, sizeof *f);
	current = f;
	f->srv = tbg_script_server_new ();
	tbg_test_log_capture ();
}

static void
teardown (Fixture *f, gconstpointer data)
{
	g_clear_object (&f->gw);
	tbg_script_server_free (f->srv);
	json_decref (f->shared);
	json_decref (f->attrs_shared);
	current = NULL;
}

/* Starts the gateway on the script server with @cfg (memory queue, quiet
 * statistics); does not wait for the link. */
static void
start_gateway_on (Fixture *f, TbgConfig *cfg, guint16 port)
{
	g_autoptr (GError) error = NULL;

	cfg->server.port = port;
	g_free (cfg->server.client_id);
	cfg->server.client_id = g_strdup ("tbgw-session-test");
	g_clear_pointer (&cfg->storage.path, g_free);
	cfg->gateway.stats_interval_s = 0;
	f->gw = tbg_gateway_new (cfg, test_sources, &error);
	g_assert_no_error (error);
	g_assert_true (tbg_gateway_start (f->gw, &error));
	g_assert_no_error (error);
}

static void
start_gateway (Fixture *f, TbgConfig *cfg)
{
	start_gateway_on (f, cfg, tbg_script_server_port (f->srv));
}

static gboolean
link_is_down (gpointer gw)
{
	return !tbg_test_gateway_link_is_up (gw);
}

typedef struct {
	Fixture *f;
	guint    n;
} Count;

static gboolean
connects_reached (gpointer data)
{
	Count *c = data;

	return tbg_script_server_connects (c->f->srv) >= c->n;
}

static void
wait_connects (Fixture *f, guint n, guint timeout_ms)
{
	Count c = { f, n };

	if (!tbg_test_wait_until (connects_reached, &c, timeout_ms))
		g_error ("%u CONNECTs expected, %u seen", n, tbg_script_server_connects (f->srv));
}

static gboolean
logged (gpointer pattern)
{
	return tbg_test_log_count (pattern) > 0;
}

static gboolean
wait_logged (const char *pattern, guint timeout_ms)
{
	return tbg_test_wait_until (logged, (gpointer) pattern, timeout_ms);
}

static void
own_rpc (Fixture *f, guint id)
{
	g_autofree char *topic = g_strdup_printf ("v1/devices/me/rpc/request/%u", id);
	g_autofree char *resp = g_strdup_printf ("v1/devices/me/rpc/response/%u", id);
	g_autoptr (TbgTestMessage) m = NULL;

	g_assert_true (tbg_script_server_publish (f->srv, topic, "{\"method\":\"ping\",\"params\":{}}"));
	m = tbg_script_server_expect (f->srv, resp, WAIT_MS);
	tbg_assert_json_eq (m->payload, "{\"pong\":true,\"version\":\"" PACKAGE_VERSION "\"}");
}

/* A SUBACK failure (0x80) for one filter: ThingsBoard keeps the
 * connection, so the gateway keeps it too, with the other filters, and
 * says which filter was refused, once. */
static void
test_subscription_refused (Fixture *f, gconstpointer data)
{
	tbg_script_server_set_suback (f->srv, "v1/devices/me/attributes", 0x80);
	start_gateway (f, tbg_config_new_default ());
	g_assert_true (tbg_test_wait_until (tbg_test_gateway_link_is_up, f->gw, WAIT_MS));
	own_rpc (f, 5);
	tbg_test_run_main_loop_for (1500);
	g_assert_cmpuint (tbg_script_server_connects (f->srv), ==, 1);
	g_assert_true (tbg_test_gateway_link_is_up (f->gw));
	g_assert_cmpuint (tbg_test_log_count ("*refused the subscription to v1/devices/me/attributes*"), ==, 1);

	/* The next session is refused the same: not said again. */
	tbg_script_server_drop_client (f->srv);
	wait_connects (f, 2, WAIT_MS);
	g_assert_true (tbg_test_wait_until (tbg_test_gateway_link_is_up, f->gw, WAIT_MS));
	own_rpc (f, 6);
	g_assert_cmpuint (tbg_test_log_count ("*refused the subscription*"), ==, 1);
}

/* A server that closes every connection soon after CONNACK: the retries
 * back off (the first no sooner than 1 s, then growing), and after a few
 * such drops the log names the likely cause, once. */
static void
test_closed_after_connack (Fixture *f, gconstpointer data)
{
	const char *hint = "*may be using the same client id (“tbgw-session-test”)*";
	gint64 gap[3];

	tbg_script_server_set_close_after_connack (f->srv, 200);
	start_gateway (f, tbg_config_new_default ());
	wait_connects (f, 3, 60000);
	g_assert_cmpuint (tbg_test_log_count (hint), ==, 0);
	wait_connects (f, 4, 60000);
	for (guint i = 0; i < 3; i++)
		gap[i] = (tbg_script_server_connect_time (f->srv, i + 1) -
		          tbg_script_server_connect_time (f->srv, i)) / 1000;
	g_test_message ("gaps between CONNECTs: %" G_GINT64_FORMAT ", %" G_GINT64_FORMAT ", %"
	                G_GINT64_FORMAT " ms", gap[0], gap[1], gap[2]);
	/* Lower bounds only: a busy machine makes them longer, never shorter. */
	g_assert_cmpint (gap[0], >=, 1000);
	g_assert_cmpint (gap[1], >=, 2000);
	g_assert_cmpint (gap[2], >=, 4000);
	g_assert_cmpuint (tbg_test_log_count (hint), ==, 1);
	g_assert_true (tbg_test_wait_until (link_is_down, f->gw, WAIT_MS));
	g_assert_cmpuint (tbg_test_log_count (hint), ==, 1);
}

/* Why a TLS handshake failed (here: mosquitto speaks no TLS on that
 * port and closes) is in the warning, not only in the debug output. */
static void
test_tls_reason (Fixture *f, gconstpointer data)
{
	TbgTestBroker *broker = tbg_test_broker_start ();
	TbgConfig *cfg = tbg_config_new_default ();

	cfg->server.tls = TRUE;
	cfg->server.ca_file = g_strdup ("/etc/ssl/certs/ca-certificates.crt");
	/* Not the script server: a plain mosquitto closes at once. */
	start_gateway_on (f, cfg, tbg_test_broker_port (broker));
	g_assert_true (wait_logged ("Could not connect to mqtts://*: * (OpenSSL Error*)", WAIT_MS));
	g_clear_object (&f->gw);
	tbg_test_broker_free (broker);
}

/* A client key others can read gets the warning the token file gets. */
static void
test_key_file_mode (Fixture *f, gconstpointer data)
{
	g_autoptr (GError) error = NULL;
	g_autofree char *dir = g_dir_make_tmp ("tbgw-session-XXXXXX", &error);
	g_autofree char *key = g_build_filename (dir, "client.key", NULL);
	g_autofree char *conf = g_build_filename (dir, "tbgw.conf", NULL);
	g_autofree char *text = g_strdup_printf ("[server]\ntls=true\ncert-file=%s\nkey-file=%s\n", key, key);
	TbgConfig *cfg;

	g_assert_no_error (error);
	g_assert_true (g_file_set_contents (key, "not a key", -1, NULL));
	g_assert_true (g_file_set_contents (conf, text, -1, NULL));
	g_assert_cmpint (g_chmod (key, 0600), ==, 0);
	cfg = tbg_config_load (conf, NULL, &error);
	g_assert_no_error (error);
	tbg_config_free (cfg);
	g_assert_cmpuint (tbg_test_log_count ("*readable by others*"), ==, 0);
	g_assert_cmpint (g_chmod (key, 0644), ==, 0);
	cfg = tbg_config_load (conf, NULL, &error);
	g_assert_no_error (error);
	tbg_config_free (cfg);
	g_assert_cmpuint (tbg_test_log_count ("*client.key: key-file is readable by others (mode 0644)*"), ==, 1);
	g_unlink (key);
	g_unlink (conf);
	g_rmdir (dir);
}

static TbgDevice *
add_connected (Fixture *f, const char *name)
{
	g_autoptr (GError) error = NULL;
	g_autoptr (TbgTestMessage) m = NULL;
	g_autofree char *want = g_strdup_printf ("{\"device\":\"%s\",\"type\":\"default\"}", name);
	TbgDevice *dev = tbg_gateway_add_device (f->gw, &test_source, f, name, NULL, "test:0", &error);

	g_assert_no_error (error);
	tbg_device_set_connected (dev, TRUE);
	m = tbg_script_server_expect (f->srv, "v1/gateway/connect", WAIT_MS);
	tbg_assert_json_eq (m->payload, want);
	return dev;
}

static void
attrs_cb (TbgDevice *dev, json_t *client, json_t *shared, const GError *error, gpointer data)
{
	Fixture *f = data;

	g_assert_no_error (error);
	f->attrs_done++;
	json_decref (f->attrs_shared);
	f->attrs_shared = json_incref (shared);
}

static gboolean
attrs_done (gpointer data)
{
	return ((Fixture *) data)->attrs_done > 0;
}

/* The next attribute request, checked against @want without its id;
 * returns the id. */
static gint64
expect_attr_request (Fixture *f, const char *want)
{
	g_autoptr (TbgTestMessage) m = tbg_script_server_expect (f->srv, "v1/gateway/attributes/request", WAIT_MS);
	json_t *req = json_loads (m->payload, 0, NULL);
	gint64 id = json_integer_value (json_object_get (req, "id"));

	g_assert_true (json_is_integer (json_object_get (req, "id")));
	json_object_del (req, "id");
	tbg_assert_json_value_eq (req, want);
	json_decref (req);
	return id;
}

/* An answer with a pending request's id but another device's name
 * completes nothing; the right answer then does. */
static void
test_attribute_response_device (Fixture *f, gconstpointer data)
{
	g_autoptr (GError) error = NULL;
	const char * const shared[] = { "mode", NULL };
	TbgDevice *a, *b;
	g_autofree char *wrong = NULL, *right = NULL;
	gint64 id;

	start_gateway (f, tbg_config_new_default ());
	g_assert_true (tbg_test_wait_until (tbg_test_gateway_link_is_up, f->gw, WAIT_MS));
	a = add_connected (f, "A");
	b = add_connected (f, "B");
	g_assert_true (tbg_device_request_attributes (a, NULL, shared, attrs_cb, f, &error));
	g_assert_no_error (error);
	id = expect_attr_request (f, "{\"device\":\"A\",\"client\":false,\"key\":\"mode\"}");
	wrong = g_strdup_printf ("{\"id\":%" G_GINT64_FORMAT ",\"device\":\"B\",\"value\":\"wrong\"}", id);
	right = g_strdup_printf ("{\"id\":%" G_GINT64_FORMAT ",\"device\":\"A\",\"value\":\"auto\"}", id);
	g_assert_true (tbg_script_server_publish (f->srv, "v1/gateway/attributes/response", wrong));
	g_assert_true (tbg_script_server_publish (f->srv, "v1/gateway/attributes/response", right));
	g_assert_true (tbg_test_wait_until (attrs_done, f, WAIT_MS));
	tbg_test_run_main_loop_for (200);
	g_assert_cmpuint (f->attrs_done, ==, 1);
	tbg_assert_json_value_eq (f->attrs_shared, "{\"mode\":\"auto\"}");
	tbg_assert_json_value_eq (tbg_device_get_shared_attributes (a), "{\"mode\":\"auto\"}");
	tbg_assert_json_value_eq (tbg_device_get_shared_attributes (b), "{}");
	g_assert_cmpuint (tbg_test_log_count ("*names “B”, but the request was for “A”*"), ==, 1);
}

static void
own_rpc_expect (Fixture *f, guint id, const char *method, const char *want)
{
	g_autofree char *topic = g_strdup_printf ("v1/devices/me/rpc/request/%u", id);
	g_autofree char *resp = g_strdup_printf ("v1/devices/me/rpc/response/%u", id);
	g_autofree char *req = g_strdup_printf ("{\"method\":\"%s\",\"params\":{}}", method);
	g_autoptr (TbgTestMessage) m = NULL;

	g_assert_true (tbg_script_server_publish (f->srv, topic, req));
	m = tbg_script_server_expect (f->srv, resp, WAIT_MS);
	if (want != NULL)
		tbg_assert_json_eq (m->payload, want);
}

/* Gateway RPCs as ThingsBoard's gateway pages send them: gateway_<name>. */
static void
test_gateway_rpc_names (Fixture *f, gconstpointer data)
{
	g_autoptr (TbgTestMessage) m = NULL;
	json_t *stats;

	start_gateway (f, tbg_config_new_default ());
	g_assert_true (tbg_test_wait_until (tbg_test_gateway_link_is_up, f->gw, WAIT_MS));
	add_connected (f, "A");
	own_rpc_expect (f, 1, "gateway_ping", "{\"pong\":true,\"version\":\"" PACKAGE_VERSION "\"}");
	own_rpc_expect (f, 2, "gateway_version", "{\"version\":\"" PACKAGE_VERSION "\"}");
	own_rpc_expect (f, 3, "version", "{\"version\":\"" PACKAGE_VERSION "\"}");
	own_rpc_expect (f, 4, "gateway_devices",
	                "[{\"name\":\"A\",\"type\":\"default\",\"source\":\"test\",\"connected\":true}]");
	own_rpc_expect (f, 5, "gateway_reboot", "{\"error\":\"unknown method\"}");
	g_assert_true (tbg_script_server_publish (f->srv, "v1/devices/me/rpc/request/6",
	                                          "{\"method\":\"gateway_stats\",\"params\":{}}"));
	m = tbg_script_server_expect (f->srv, "v1/devices/me/rpc/response/6", WAIT_MS);
	stats = json_loads (m->payload, 0, NULL);
	g_assert_true (json_is_integer (json_object_get (stats, "devices")));
	json_decref (stats);
}

static void
push (TbgDevice *dev, gint64 ts, const char *values_json)
{
	g_autoptr (GError) error = NULL;
	json_t *values = json_loads (values_json, 0, NULL);

	g_assert_true (tbg_device_push_telemetry (dev, ts, values, &error));
	g_assert_no_error (error);
	json_decref (values);
}

static gboolean
queue_empty (gpointer gw)
{
	TbgGatewayStats stats;

	tbg_gateway_get_stats (gw, &stats);
	return stats.records_queued == 0;
}

static gboolean
gave_up (gpointer data)
{
	return tbg_test_log_count ("Giving up on telemetry of “Feed” (*bytes): the server closed the "
	                           "connection 3 times in a row*") > 0;
}

/* Collects the "n" values of Feed's samples the server took (and
 * acknowledged) into @seen, until @want are there. */
static void
expect_samples (Fixture *f, guint8 *seen, guint n, guint want)
{
	guint got = 0;

	for (guint i = 0; i < n; i++)
		got += seen[i] > 0;
	while (got < want) {
		g_autoptr (TbgTestMessage) m = tbg_script_server_expect (f->srv, "v1/gateway/telemetry", 60000);
		json_t *root = json_loads (m->payload, 0, NULL);
		json_t *samples = json_object_get (root, "Feed");

		for (gsize i = 0; i < json_array_size (samples); i++) {
			json_t *v = json_object_get (json_object_get (json_array_get (samples, i), "values"), "n");

			if (json_is_integer (v) && json_integer_value (v) < n && seen[json_integer_value (v)]++ == 0)
				got++;
		}
		json_decref (root);
	}
}

/* The server closes the connection on one sample it will not take (as
 * ThingsBoard does on a payload it cannot process): after three closes
 * with it oldest in flight it is given up on, logged and counted; the
 * samples packed with it still arrive. */
static void
test_poison_record (Fixture *f, gconstpointer data)
{
	g_autoptr (GError) error = NULL;
	TbgGatewayStats stats;
	guint8 seen[3] = { 0 };
	TbgDevice *feed;
	guint poisoned;

	tbg_script_server_set_close_on (f->srv, "poison");
	start_gateway (f, tbg_config_new_default ());
	g_assert_true (tbg_test_wait_until (tbg_test_gateway_link_is_up, f->gw, WAIT_MS));
	feed = add_connected (f, "Feed");
	push (feed, 1700000000000, "{\"n\":0}");
	push (feed, 1700000000001, "{\"poison\":true}");
	push (feed, 1700000000002, "{\"n\":1}");
	g_assert_true (tbg_test_wait_until (gave_up, NULL, 120000));
	push (feed, 1700000000003, "{\"n\":2}");
	expect_samples (f, seen, 3, 3);
	g_assert_true (tbg_test_wait_until (queue_empty, f->gw, WAIT_MS));
	tbg_gateway_get_stats (f->gw, &stats);
	g_assert_cmpuint (stats.records_rejected, ==, 1);
	g_assert_cmpuint (tbg_test_log_count ("Giving up on*"), ==, 1);
	/* Packed twice (the first close falls on the oldest sample in that
	 * publish, which then goes alone), then alone; never again. */
	poisoned = tbg_script_server_closes (f->srv);
	g_test_message ("the server closed %u connections", poisoned);
	g_assert_cmpuint (poisoned, <=, 5);
	g_assert_true (tbg_test_gateway_link_is_up (f->gw));
	{
		g_autoptr (TbgTestMessage) m = NULL;

		g_assert_true (tbg_script_server_publish (f->srv, "v1/devices/me/rpc/request/2",
		                                          "{\"method\":\"stats\"}"));
		m = tbg_script_server_expect (f->srv, "v1/devices/me/rpc/response/2", WAIT_MS);
		g_assert_nonnull (strstr (m->payload, "\"messagesRejected\":1"));
	}
	g_assert_cmpuint (tbg_script_server_closes (f->srv), ==, poisoned);
}

static gboolean
client_connected (gpointer srv)
{
	return tbg_script_server_has_client (srv);
}

/* Two server closes with a record oldest in flight, then an outage (the
 * next connect fails), then two more: never three in a row, so nothing is
 * given up, and the record goes once PUBACKs come again. */
static void
test_outage_breaks_the_count (Fixture *f, gconstpointer data)
{
	guint16 port = tbg_script_server_port (f->srv);
	TbgGatewayStats stats;
	TbgDevice *feed;
	guint8 seen[1] = { 0 };

	start_gateway (f, tbg_config_new_default ());
	g_assert_true (tbg_test_wait_until (tbg_test_gateway_link_is_up, f->gw, WAIT_MS));
	feed = add_connected (f, "Feed");
	tbg_script_server_set_withhold_pubacks (f->srv, TRUE);
	push (feed, 1700000000000, "{\"n\":0}");
	for (guint i = 0; i < 4; i++) {
		g_autoptr (TbgTestMessage) m = tbg_script_server_expect (f->srv, "v1/gateway/telemetry", 60000);

		g_assert_true (tbg_test_wait_until (client_connected, f->srv, WAIT_MS));
		tbg_script_server_drop_client (f->srv);
		if (i == 1) {
			/* down for a while: the gateway's next connect fails */
			tbg_test_log_capture ();
			tbg_script_server_free (f->srv);
			f->srv = NULL;
			g_assert_true (wait_logged ("Could not connect to *", 60000));
			f->srv = tbg_script_server_new_on_port (port);
			tbg_script_server_set_withhold_pubacks (f->srv, TRUE);
		}
	}
	tbg_script_server_set_withhold_pubacks (f->srv, FALSE);
	expect_samples (f, seen, 1, 1);
	g_assert_true (tbg_test_wait_until (queue_empty, f->gw, WAIT_MS));
	tbg_gateway_get_stats (f->gw, &stats);
	g_assert_cmpuint (stats.records_rejected, ==, 0);
	g_assert_cmpuint (tbg_test_log_count ("Giving up on*"), ==, 0);
}

static gboolean
shared_called (gpointer data)
{
	Count *c = data;

	return c->f->shared_calls >= c->n;
}

/* ThingsBoard does not replay shared attribute updates made while the
 * gateway was away: after a reconnect the gateway asks again for the keys
 * a device was sent or asked for, and hands the answer on as an update.
 * A device that never used shared attributes is not asked for. */
static void
test_resync_after_reconnect (Fixture *f, gconstpointer data)
{
	g_autoptr (GError) error = NULL;
	const char * const asked[] = { "target", NULL };
	Count two = { f, 2 }, three = { f, 3 };
	TbgDevice *a;
	g_autofree char *answer = NULL;
	gint64 id;

	start_gateway (f, tbg_config_new_default ());
	g_assert_true (tbg_test_wait_until (tbg_test_gateway_link_is_up, f->gw, WAIT_MS));
	a = add_connected (f, "A");
	add_connected (f, "B");
	g_assert_true (tbg_script_server_publish (f->srv, "v1/gateway/attributes",
	                                          "{\"device\":\"A\",\"data\":{\"mode\":\"auto\"}}"));
	g_assert_true (tbg_device_request_attributes (a, NULL, asked, attrs_cb, f, &error));
	g_assert_no_error (error);
	id = expect_attr_request (f, "{\"device\":\"A\",\"client\":false,\"key\":\"target\"}");
	answer = g_strdup_printf ("{\"id\":%" G_GINT64_FORMAT ",\"device\":\"A\",\"value\":20}", id);
	g_assert_true (tbg_script_server_publish (f->srv, "v1/gateway/attributes/response", answer));
	g_assert_true (tbg_test_wait_until (attrs_done, f, WAIT_MS));
	g_assert_cmpuint (f->shared_calls, ==, 1);

	/* Offline, the values change on the server. */
	tbg_script_server_drop_client (f->srv);
	wait_connects (f, 2, WAIT_MS);
	id = expect_attr_request (f, "{\"device\":\"A\",\"client\":false,\"keys\":[\"mode\",\"target\"]}");
	g_free (answer);
	answer = g_strdup_printf ("{\"id\":%" G_GINT64_FORMAT ",\"device\":\"A\","
	                          "\"values\":{\"mode\":\"eco\",\"target\":18}}", id);
	g_assert_true (tbg_script_server_publish (f->srv, "v1/gateway/attributes/response", answer));
	g_assert_true (tbg_test_wait_until (shared_called, &two, WAIT_MS));
	tbg_assert_json_value_eq (f->shared, "{\"mode\":\"eco\",\"target\":18}");
	tbg_assert_json_value_eq (tbg_device_get_shared_attributes (a), "{\"mode\":\"eco\",\"target\":18}");
	/* B never used shared attributes: one request in all, A's. */
	tbg_test_run_main_loop_for (300);
	g_assert_null (tbg_script_server_wait (f->srv, "v1/gateway/attributes/request", 0));
	g_assert_cmpuint (tbg_script_server_count (f->srv, "v1/gateway/attributes/request"), ==, 2);
	g_assert_false (shared_called (&three));
}

static gboolean
rpcs_settled (gpointer data)
{
	Count *c = data;
	TbgGatewayStats stats;

	tbg_gateway_get_stats (c->f->gw, &stats);
	return stats.rpcs_received >= c->n && stats.rpcs_timed_out >= 50;
}

/* A flood of RPCs while the server acknowledges nothing: the log stays
 * short, the gateway's own answer is not pushed out by device answers,
 * the answers go in order, and a sample waits behind a few answers at
 * most, not behind all of them. */
static void
test_rpc_flood (Fixture *f, gconstpointer data)
{
	const guint n = 3000;
	TbgConfig *cfg = tbg_config_new_default ();
	Count settled = { f, n + 50 };
	TbgDevice *feed;
	gint64 last_id = -1;
	guint answers_first = 0;
	gboolean pong = FALSE;

	cfg->gateway.rpc_timeout_ms = 200;
	start_gateway (f, cfg);
	g_assert_true (tbg_test_wait_until (tbg_test_gateway_link_is_up, f->gw, WAIT_MS));
	feed = add_connected (f, "Feed");
	tbg_script_server_set_withhold_pubacks (f->srv, TRUE);
	for (guint i = 0; i < n; i++) {
		g_autofree char *req = g_strdup_printf ("{\"device\":\"Nope\",\"data\":{\"id\":%u,\"method\":\"m\"}}", i);

		/* behind the first answers, which fill the window in flight */
		if (i == 100)
			g_assert_true (tbg_script_server_publish (f->srv, "v1/devices/me/rpc/request/77",
			                                          "{\"method\":\"ping\"}"));
		g_assert_true (tbg_script_server_publish (f->srv, "v1/gateway/rpc", req));
	}
	for (guint i = 0; i < 50; i++) {
		g_autofree char *req = g_strdup_printf ("{\"device\":\"Feed\",\"data\":{\"id\":%u,\"method\":\"slow\"}}", i);

		g_assert_true (tbg_script_server_publish (f->srv, "v1/gateway/rpc", req));
	}
	g_assert_true (tbg_test_wait_until (rpcs_settled, &settled, 60000));
	push (feed, 1700000000000, "{\"n\":1}");
	tbg_test_run_main_loop_for (100);
	/* what went out before the PUBACKs come */
	for (TbgTestMessage *m; (m = tbg_script_server_wait (f->srv, NULL, 0)) != NULL; tbg_test_message_free (m))
		g_assert_cmpstr (m->topic, !=, "v1/gateway/telemetry");
	tbg_script_server_set_withhold_pubacks (f->srv, FALSE);
	for (;;) {
		g_autoptr (TbgTestMessage) m = tbg_script_server_expect (f->srv, NULL, WAIT_MS);
		json_t *root;

		if (g_str_equal (m->topic, "v1/gateway/telemetry"))
			break;
		if (g_str_equal (m->topic, "v1/devices/me/rpc/response/77")) {
			pong = TRUE;
			continue;
		}
		g_assert_cmpstr (m->topic, ==, "v1/gateway/rpc");
		answers_first++;
		root = json_loads (m->payload, 0, NULL);
		if (g_str_equal (json_string_value (json_object_get (root, "device")), "Nope")) {
			g_assert_cmpint (json_integer_value (json_object_get (root, "id")), >, last_id);
			last_id = json_integer_value (json_object_get (root, "id"));
		}
		json_decref (root);
	}
	g_test_message ("%u answers went out before the sample", answers_first);
	g_assert_cmpuint (answers_first, <=, 32);
	while (!pong) {
		g_autoptr (TbgTestMessage) m = tbg_script_server_expect (f->srv, NULL, WAIT_MS);

		pong = g_str_equal (m->topic, "v1/devices/me/rpc/response/77");
	}
	g_assert_cmpuint (tbg_test_log_count ("More than * RPC answers wait*"), <=, 1);
	g_assert_cmpuint (tbg_test_log_count ("*got no reply in time"), <=, 10);
	g_assert_cmpuint (tbg_test_log_count ("RPC * for unknown device*"), <=, 10);
}

int
main (int argc, char **argv)
{
	g_test_init (&argc, &argv, NULL);
	/* The gateway warns about the misbehaviour these tests stage. */
	g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
#define ADD(path, fn) g_test_add ("/session/" path, Fixture, NULL, setup, fn, teardown)
	ADD ("subscription-refused", test_subscription_refused);
	ADD ("closed-after-connack", test_closed_after_connack);
	ADD ("tls-reason", test_tls_reason);
	ADD ("key-file-mode", test_key_file_mode);
	ADD ("attribute-response-device", test_attribute_response_device);
	ADD ("gateway-rpc-names", test_gateway_rpc_names);
	ADD ("poison-record", test_poison_record);
	ADD ("resync-after-reconnect", test_resync_after_reconnect);
	ADD ("rpc-flood", test_rpc_flood);
	ADD ("outage-breaks-the-count", test_outage_breaks_the_count);
#undef ADD
	return g_test_run ();
}
