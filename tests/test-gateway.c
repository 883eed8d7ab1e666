/* SPDX-License-Identifier: Apache-2.0 */
/* Integration tests of the gateway core against a real mosquitto broker.
 *
 * The test plays ThingsBoard through a second MQTT client (the peer) and
 * drives devices through a test-only source compiled into this binary, so
 * every assertion is about the exact JSON that reaches the broker.
 */
#include "build-config.h"
#include "gateway.h"
#include "test-broker.h"
#include "test-peer.h"
#include "test-util.h"

#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>

#define WAIT_MS 20000

typedef struct {
	TbgTestBroker *broker;
	TbgTestPeer   *peer;
	TbgGateway    *gw;
	GPtrArray     *rpcs;          /* TbgRpc the source received */
	json_t        *shared;        /* last shared attribute update */
	char         **deleted;
	guint          shared_calls;
	/* attribute request result */
	gboolean       attrs_done;
	json_t        *attrs_client;
	json_t        *attrs_shared;
	GError        *attrs_error;
} Fixture;

/* ---- the test source ---------------------------------------------------------- */

static Fixture *current;

static gpointer
test_source_start (TbgGateway *gw, const TbgConfig *cfg, GError **error)
{
	return current;
}

static void
test_source_stop (gpointer instance)
{
}

static void
test_source_rpc (gpointer instance, TbgDevice *dev, TbgRpc *rpc)
{
	Fixture *f = instance;
	const char *method = tbg_rpc_get_method (rpc);

	g_ptr_array_add (f->rpcs, tbg_rpc_ref (rpc));
	if (g_str_equal (method, "echo"))
		tbg_rpc_reply (rpc, tbg_rpc_get_params (rpc));
	else if (g_str_equal (method, "fail"))
		tbg_rpc_reply_error (rpc, "relay stuck");
	/* "slow": never answered here */
}

static void
test_source_shared (gpointer instance, TbgDevice *dev, json_t *changed,
                    const char * const *deleted)
{
	Fixture *f = instance;

	json_decref (f->shared);
	f->shared = changed ? json_deep_copy (changed) : NULL;
	g_strfreev (f->deleted);
	f->deleted = g_strdupv ((char **) deleted);
	f->shared_calls++;
}

static const TbgSource test_source = {
	.name = "test",
	.start = test_source_start,
	.stop = test_source_stop,
	.rpc = test_source_rpc,
	.shared_attributes = test_source_shared,
};
static const TbgSource * const test_sources[] = { &test_source, NULL };

/* ---- fixture ------------------------------------------------------------------- */

static void
start_gateway (Fixture *f, TbgConfig *cfg)
{
	g_autoptr (GError) error = NULL;

	cfg->server.port = tbg_test_broker_port (f->broker);
	cfg->server.access_token = g_strdup ("TEST_TOKEN");
	g_clear_pointer (&cfg->storage.path, g_free);   /* memory: the spool has its own tests */
	cfg->gateway.stats_interval_s = 0;
	cfg->gateway.rpc_timeout_ms = 300;
	cfg->gateway.attribute_request_timeout_ms = 400;
	f->gw = tbg_gateway_new (cfg, test_sources, &error);
	g_assert_no_error (error);
	g_assert_true (tbg_gateway_start (f->gw, &error));
	g_assert_no_error (error);
	g_assert_true (tbg_test_wait_until (tbg_test_gateway_link_is_up, f->gw, WAIT_MS));
	/* The gateway announces its version as its own attribute. */
	tbg_test_peer_expect_json (f->peer, "v1/devices/me/attributes",
	                           "{\"tbgwVersion\":\"" PACKAGE_VERSION "\"}", WAIT_MS);
}

static void
setup_with (Fixture *f, TbgConfig *cfg)
{
	memset (f, 0, sizeof *f);
	current = f;
	f->rpcs = g_ptr_array_new_with_free_func ((GDestroyNotify) tbg_rpc_unref);
	f->broker = tbg_test_broker_start ();
	f->peer = tbg_test_peer_new (tbg_test_broker_port (f->broker));
	start_gateway (f, cfg);
}

static void
setup (Fixture *f, gconstpointer data)
{
	setup_with (f, tbg_config_new_default ());
}

static void
setup_small_payload (Fixture *f, gconstpointer data)
{
	TbgConfig *cfg = tbg_config_new_default ();

	cfg->gateway.max_payload_bytes = 300;
	setup_with (f, cfg);
}

static void
setup_linger (Fixture *f, gconstpointer data)
{
	TbgConfig *cfg = tbg_config_new_default ();

	cfg->gateway.linger_ms = 1000;
	setup_with (f, cfg);
}

static void
setup_combined (Fixture *f, gconstpointer data)
{
	TbgConfig *cfg = tbg_config_new_default ();

	cfg->gateway.attribute_request_format = TBG_ATTR_REQUEST_COMBINED;
	setup_with (f, cfg);
}

static void
teardown (Fixture *f, gconstpointer data)
{
	g_clear_object (&f->gw);
	tbg_test_peer_free (f->peer);
	tbg_test_broker_free (f->broker);
	g_ptr_array_unref (f->rpcs);
	json_decref (f->shared);
	g_strfreev (f->deleted);
	json_decref (f->attrs_client);
	json_decref (f->attrs_shared);
	g_clear_error (&f->attrs_error);
	current = NULL;
}

static TbgDevice *
add_connected (Fixture *f, const char *name, const char *type)
{
	g_autoptr (GError) error = NULL;
	g_autofree char *expected = NULL;
	TbgDevice *dev = tbg_gateway_add_device (f->gw, &test_source, f, name, type, "test:0", &error);

	g_assert_no_error (error);
	tbg_device_set_connected (dev, TRUE);
	expected = g_strdup_printf ("{\"device\":\"%s\",\"type\":\"%s\"}", name, type ? type : "default");
	tbg_test_peer_expect_json (f->peer, "v1/gateway/connect", expected, WAIT_MS);
	return dev;
}

static json_t *
parse (const char *text)
{
	json_error_t jerr;
	json_t *j = json_loads (text, 0, &jerr);

	if (j == NULL)
		g_error ("not JSON (%s): %s", jerr.text, text);
	return j;
}

static void
push (TbgDevice *dev, gint64 ts, const char *values_json)
{
	g_autoptr (GError) error = NULL;
	json_t *values = parse (values_json);

	g_assert_true (tbg_device_push_telemetry (dev, ts, values, &error));
	g_assert_no_error (error);
	json_decref (values);
}

/* ---- tests ------------------------------------------------------------------------ */

static void
test_connect_disconnect (Fixture *f, gconstpointer data)
{
	TbgDevice *dev = add_connected (f, "Device A", "Sensor A");

	g_assert_true (tbg_device_get_connected (dev));
	tbg_device_set_connected (dev, TRUE);   /* no change: nothing sent */
	tbg_device_set_connected (dev, FALSE);
	tbg_test_peer_expect_json (f->peer, "v1/gateway/disconnect", "{\"device\":\"Device A\"}", WAIT_MS);
	tbg_test_peer_assert_quiet (f->peer, "v1/gateway/connect", 200);
	add_connected (f, "Device B", NULL);
	/* Removing a connected device disconnects it. */
	tbg_gateway_remove_device (f->gw, tbg_gateway_lookup_device (f->gw, "Device B"));
	tbg_test_peer_expect_json (f->peer, "v1/gateway/disconnect", "{\"device\":\"Device B\"}", WAIT_MS);
	g_assert_null (tbg_gateway_lookup_device (f->gw, "Device B"));
}

static void
test_duplicate_and_bad_names (Fixture *f, gconstpointer data)
{
	g_autoptr (GError) error = NULL;

	add_connected (f, "Device A", NULL);
	g_assert_null (tbg_gateway_add_device (f->gw, &test_source, f, "Device A", NULL, "", &error));
	g_assert_error (error, TBG_ERROR, TBG_ERROR_EXISTS);
	g_clear_error (&error);
	g_assert_null (tbg_gateway_add_device (f->gw, &test_source, f, "  ", NULL, "", &error));
	g_assert_error (error, TBG_ERROR, TBG_ERROR_INVALID_ARGS);
	g_clear_error (&error);
	g_assert_null (tbg_gateway_add_device (f->gw, &test_source, f, "bad\xff", NULL, "", &error));
	g_assert_error (error, TBG_ERROR, TBG_ERROR_INVALID_ARGS);
}

static void
test_telemetry_multi_device (Fixture *f, gconstpointer data)
{
	TbgDevice *a = add_connected (f, "Device A", "Sensor A");
	TbgDevice *b = add_connected (f, "Device B", "Sensor B");

	/* Queued in one main loop turn: packed into one publish. */
	push (a, 1483228800000, "{\"temperature\":42,\"humidity\":80}");
	push (b, 1483228800000, "{\"temperature\":42,\"humidity\":80}");
	push (a, 1483228801000, "{\"temperature\":43,\"humidity\":82}");
	tbg_test_peer_expect_json (f->peer, "v1/gateway/telemetry",
		"{\"Device A\":[{\"ts\":1483228800000,\"values\":{\"temperature\":42,\"humidity\":80}},"
		"{\"ts\":1483228801000,\"values\":{\"temperature\":43,\"humidity\":82}}],"
		"\"Device B\":[{\"ts\":1483228800000,\"values\":{\"temperature\":42,\"humidity\":80}}]}",
		WAIT_MS);
}

/* Samples queued in different main loop turns, within linger-ms of the
 * first, still go out in one publish; an RPC answer does not wait. */
static void
test_telemetry_linger (Fixture *f, gconstpointer data)
{
	TbgDevice *a = add_connected (f, "Device A", "Sensor A");
	TbgDevice *b = add_connected (f, "Device B", "Sensor B");
	g_autoptr (TbgTestMessage) m = NULL;
	gint64 start;

	tbg_test_run_main_loop_for (300);   /* the connects are out */
	push (a, 1483228800000, "{\"t\":1}");
	tbg_test_run_main_loop_for (30);
	push (b, 1483228800000, "{\"t\":2}");
	tbg_test_run_main_loop_for (30);
	push (a, 1483228801000, "{\"t\":3}");
	tbg_test_peer_expect_json (f->peer, "v1/gateway/telemetry",
		"{\"Device A\":[{\"ts\":1483228800000,\"values\":{\"t\":1}},"
		"{\"ts\":1483228801000,\"values\":{\"t\":3}}],"
		"\"Device B\":[{\"ts\":1483228800000,\"values\":{\"t\":2}}]}", WAIT_MS);
	tbg_test_peer_assert_quiet (f->peer, "v1/gateway/telemetry", 300);
	/* a lingering sample goes with an RPC answer, which never waits */
	push (a, 1483228802000, "{\"t\":4}");
	start = g_get_monotonic_time ();
	tbg_test_peer_publish (f->peer, "v1/gateway/rpc",
		"{\"device\":\"Device A\",\"data\":{\"id\":1,\"method\":\"echo\",\"params\":{}}}");
	m = tbg_test_peer_expect (f->peer, "v1/gateway/rpc", WAIT_MS);
	g_assert_cmpint (g_get_monotonic_time () - start, <, 500 * 1000);   /* linger is 1000 */
	tbg_test_message_free (tbg_test_peer_expect (f->peer, "v1/gateway/telemetry", WAIT_MS));
}

static void
test_telemetry_types (Fixture *f, gconstpointer data)
{
	TbgDevice *a = add_connected (f, "Device A", NULL);

	push (a, 1700000000000, "{\"int\":40,\"real\":21.5,\"tiny\":1e-300,\"big\":9007199254740993,"
	                        "\"bool\":true,\"str\":\"x\\u00e9\",\"obj\":{\"a\":[1,2.0,null]},\"gone\":null}");
	/* null members are dropped (the server drops them anyway); types are kept. */
	tbg_test_peer_expect_json (f->peer, "v1/gateway/telemetry",
		"{\"Device A\":[{\"ts\":1700000000000,\"values\":{\"int\":40,\"real\":21.5,\"tiny\":1e-300,"
		"\"big\":9007199254740993,\"bool\":true,\"str\":\"x\\u00e9\",\"obj\":{\"a\":[1,2.0,null]}}}]}",
		WAIT_MS);
}

static void
test_telemetry_stamped_distinct (Fixture *f, gconstpointer data)
{
	TbgDevice *a = add_connected (f, "Device A", NULL);
	g_autoptr (TbgTestMessage) m = NULL;
	gint64 before = g_get_real_time () / 1000;
	json_t *root, *samples;
	gint64 prev = 0;

	/* A burst far faster than 1 ms per sample. */
	for (int i = 0; i < 50; i++) {
		g_autofree char *v = g_strdup_printf ("{\"n\":%d}", i);

		push (a, 0, v);
	}
	m = tbg_test_peer_expect (f->peer, "v1/gateway/telemetry", WAIT_MS);
	root = parse (m->payload);
	samples = json_object_get (root, "Device A");
	g_assert_cmpuint (json_array_size (samples), ==, 50);
	for (guint i = 0; i < 50; i++) {
		json_t *s = json_array_get (samples, i);
		gint64 ts = json_integer_value (json_object_get (s, "ts"));

		g_assert_cmpint (json_integer_value (json_object_get (json_object_get (s, "values"), "n")), ==, i);
		g_assert_cmpint (ts, >=, before);
		g_assert_cmpint (ts, >, prev);   /* never two samples at one timestamp */
		prev = ts;
	}
	json_decref (root);
}

static void
test_telemetry_split (Fixture *f, gconstpointer data)
{
	TbgDevice *a = add_connected (f, "Device A", NULL);
	TbgDevice *b = add_connected (f, "Device B", NULL);
	guint next[2] = { 0, 0 };
	guint seen = 0;
	guint publishes = 0;

	for (int i = 0; i < 40; i++) {
		g_autofree char *v = g_strdup_printf ("{\"n\":%d,\"pad\":\"%.*s\"}", i, i, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");

		push (i % 3 ? a : b, 1700000000000 + i, v);
	}
	while (seen < 40) {
		g_autoptr (TbgTestMessage) m = tbg_test_peer_expect (f->peer, "v1/gateway/telemetry", WAIT_MS);
		json_t *root = parse (m->payload);
		const char *name;
		json_t *samples;

		publishes++;
		g_assert_cmpuint (m->len, <=, 300);
		json_object_foreach (root, name, samples) {
			guint d = g_str_equal (name, "Device A") ? 0 : 1;

			g_assert_cmpuint (json_array_size (samples), >, 0);
			for (guint i = 0; i < json_array_size (samples); i++) {
				json_int_t n = json_integer_value (json_object_get (
					json_object_get (json_array_get (samples, i), "values"), "n"));

				/* Every sample once, in order per device. */
				while (next[d] < 40 && ((int) next[d] % 3 != 0) != (d == 0))
					next[d]++;
				g_assert_cmpint (n, ==, next[d]);
				next[d]++;
				seen++;
			}
		}
		json_decref (root);
	}
	g_assert_cmpuint (publishes, >, 3);
	tbg_test_peer_assert_quiet (f->peer, "v1/gateway/telemetry", 200);
}

static void
test_not_connected (Fixture *f, gconstpointer data)
{
	g_autoptr (GError) error = NULL;
	TbgDevice *dev = tbg_gateway_add_device (f->gw, &test_source, f, "Idle", NULL, "", &error);
	json_t *v = parse ("{\"x\":1}");

	g_assert_false (tbg_device_push_telemetry (dev, 0, v, &error));
	g_assert_error (error, TBG_ERROR, TBG_ERROR_NOT_CONNECTED);
	g_clear_error (&error);
	g_assert_false (tbg_device_push_attributes (dev, v, &error));
	g_assert_error (error, TBG_ERROR, TBG_ERROR_NOT_CONNECTED);
	json_decref (v);
	tbg_test_peer_assert_quiet (f->peer, NULL, 300);
}

static void
test_empty_values_rejected (Fixture *f, gconstpointer data)
{
	g_autoptr (GError) error = NULL;
	TbgDevice *a = add_connected (f, "Device A", NULL);
	json_t *empty = parse ("{}");
	json_t *nulls = parse ("{\"a\":null}");
	json_t *array = parse ("[1]");

	g_assert_false (tbg_device_push_telemetry (a, 0, empty, &error));
	g_assert_error (error, TBG_ERROR, TBG_ERROR_INVALID_ARGS);
	g_clear_error (&error);
	g_assert_false (tbg_device_push_telemetry (a, 0, nulls, &error));
	g_assert_error (error, TBG_ERROR, TBG_ERROR_INVALID_ARGS);
	g_clear_error (&error);
	g_assert_false (tbg_device_push_attributes (a, array, &error));
	g_assert_error (error, TBG_ERROR, TBG_ERROR_INVALID_ARGS);
	json_decref (empty);
	json_decref (nulls);
	json_decref (array);
	/* ThingsBoard never acknowledges an empty list: nothing may go out. */
	tbg_test_peer_assert_quiet (f->peer, "v1/gateway/telemetry", 300);
}

static void
test_attributes (Fixture *f, gconstpointer data)
{
	g_autoptr (GError) error = NULL;
	TbgDevice *a = add_connected (f, "Device A", NULL);
	TbgDevice *b = add_connected (f, "Device B", NULL);
	json_t *attrs = parse ("{\"fw_version\":\"1.0\",\"battery\":87}");

	g_assert_true (tbg_device_push_attributes (a, attrs, &error));
	g_assert_true (tbg_device_push_attributes (b, attrs, &error));
	g_assert_no_error (error);
	tbg_test_peer_expect_json (f->peer, "v1/gateway/attributes",
		"{\"Device A\":{\"fw_version\":\"1.0\",\"battery\":87},"
		"\"Device B\":{\"fw_version\":\"1.0\",\"battery\":87}}", WAIT_MS);
	g_assert_true (json_equal (tbg_device_get_client_attributes (a), attrs));
	json_decref (attrs);
}

static void
test_claim (Fixture *f, gconstpointer data)
{
	g_autoptr (GError) error = NULL;
	TbgDevice *a = add_connected (f, "Device A", NULL);

	g_assert_true (tbg_device_claim (a, "value_A", 60000, &error));
	g_assert_no_error (error);
	tbg_test_peer_expect_json (f->peer, "v1/gateway/claim",
		"{\"Device A\":{\"secretKey\":\"value_A\",\"durationMs\":60000}}", WAIT_MS);
	g_assert_true (tbg_device_claim (a, NULL, 0, &error));
	tbg_test_peer_expect_json (f->peer, "v1/gateway/claim", "{\"Device A\":{}}", WAIT_MS);
}

static void
attrs_cb (TbgDevice *dev, json_t *client, json_t *shared, const GError *error, gpointer data)
{
	Fixture *f = data;

	f->attrs_done = TRUE;
	f->attrs_client = client ? json_incref (client) : NULL;
	f->attrs_shared = shared ? json_incref (shared) : NULL;
	f->attrs_error = error ? g_error_copy (error) : NULL;
}

static gboolean
attrs_done (gpointer data)
{
	return ((Fixture *) data)->attrs_done;
}

static gint64
expect_request (Fixture *f, const char *expected_without_id)
{
	g_autoptr (TbgTestMessage) m = tbg_test_peer_expect (f->peer, "v1/gateway/attributes/request", WAIT_MS);
	json_t *got = parse (m->payload);
	json_t *want = parse (expected_without_id);
	gint64 id;

	g_assert_true (json_is_integer (json_object_get (got, "id")));
	id = json_integer_value (json_object_get (got, "id"));
	json_object_set_new (want, "id", json_integer (id));
	if (!json_equal (got, want))
		g_error ("attribute request %s, expected %s", m->payload, expected_without_id);
	json_decref (got);
	json_decref (want);
	return id;
}

static void
respond (Fixture *f, const char *topic, const char *format, ...) G_GNUC_PRINTF (3, 4);

static void
respond (Fixture *f, const char *topic, const char *format, ...)
{
	g_autofree char *payload = NULL;
	va_list ap;

	va_start (ap, format);
	payload = g_strdup_vprintf (format, ap);
	va_end (ap);
	tbg_test_peer_publish (f->peer, topic, payload);
}

static void
test_attribute_request_split (Fixture *f, gconstpointer data)
{
	g_autoptr (GError) error = NULL;
	TbgDevice *a = add_connected (f, "Device A", NULL);
	const char * const client[] = { "fw", NULL };
	const char * const shared[] = { "cfg", "mode", NULL };
	gint64 id1, id2;
	json_t *want;

	g_assert_true (tbg_device_request_attributes (a, client, shared, attrs_cb, f, &error));
	g_assert_no_error (error);
	/* One request per scope, as ThingsBoard's MQTT transport parses them. */
	id1 = expect_request (f, "{\"device\":\"Device A\",\"client\":true,\"key\":\"fw\"}");
	id2 = expect_request (f, "{\"device\":\"Device A\",\"client\":false,\"keys\":[\"cfg\",\"mode\"]}");
	g_assert_cmpint (id1, !=, id2);
	respond (f, "v1/gateway/attributes/response",
	         "{\"id\":%" G_GINT64_FORMAT ",\"device\":\"Device A\",\"value\":\"1.0\"}", id1);
	g_assert_false (f->attrs_done);
	respond (f, "v1/gateway/attributes/response",
	         "{\"id\":%" G_GINT64_FORMAT ",\"device\":\"Device A\",\"values\":{\"cfg\":1,\"mode\":\"auto\"}}", id2);
	g_assert_true (tbg_test_wait_until (attrs_done, f, WAIT_MS));
	g_assert_no_error (f->attrs_error);
	want = parse ("{\"fw\":\"1.0\"}");
	g_assert_true (json_equal (f->attrs_client, want));
	json_decref (want);
	want = parse ("{\"cfg\":1,\"mode\":\"auto\"}");
	g_assert_true (json_equal (f->attrs_shared, want));
	g_assert_true (json_equal (tbg_device_get_shared_attributes (a), want));
	json_decref (want);
}

static void
test_attribute_request_empty_answer (Fixture *f, gconstpointer data)
{
	g_autoptr (GError) error = NULL;
	TbgDevice *a = add_connected (f, "Device A", NULL);
	const char * const shared[] = { "nothing", NULL };
	gint64 id;

	g_assert_true (tbg_device_request_attributes (a, NULL, shared, attrs_cb, f, &error));
	id = expect_request (f, "{\"device\":\"Device A\",\"client\":false,\"key\":\"nothing\"}");
	/* Nothing exists: the server answers with id and device only. */
	respond (f, "v1/gateway/attributes/response", "{\"id\":%" G_GINT64_FORMAT ",\"device\":\"Device A\"}", id);
	g_assert_true (tbg_test_wait_until (attrs_done, f, WAIT_MS));
	g_assert_no_error (f->attrs_error);
	g_assert_cmpuint (json_object_size (f->attrs_client), ==, 0);
	g_assert_cmpuint (json_object_size (f->attrs_shared), ==, 0);
}

static void
test_attribute_request_combined (Fixture *f, gconstpointer data)
{
	g_autoptr (GError) error = NULL;
	TbgDevice *a = add_connected (f, "Device A", NULL);
	const char * const client[] = { "fw", NULL };
	const char * const shared[] = { "cfg", NULL };
	gint64 id;
	json_t *want;

	g_assert_true (tbg_device_request_attributes (a, client, shared, attrs_cb, f, &error));
	id = expect_request (f, "{\"device\":\"Device A\",\"client\":[\"fw\"],\"shared\":[\"cfg\"]}");
	respond (f, "v1/gateway/attributes/response",
	         "{\"id\":%" G_GINT64_FORMAT ",\"device\":\"Device A\",\"client\":{\"fw\":\"1.0\"},\"shared\":{\"cfg\":2.5}}", id);
	g_assert_true (tbg_test_wait_until (attrs_done, f, WAIT_MS));
	g_assert_no_error (f->attrs_error);
	want = parse ("{\"fw\":\"1.0\"}");
	g_assert_true (json_equal (f->attrs_client, want));
	json_decref (want);
	want = parse ("{\"cfg\":2.5}");
	g_assert_true (json_equal (f->attrs_shared, want));
	json_decref (want);
}

static void
test_attribute_request_timeout (Fixture *f, gconstpointer data)
{
	g_autoptr (GError) error = NULL;
	TbgDevice *a = add_connected (f, "Device A", NULL);
	const char * const client[] = { "fw", NULL };
	gint64 id;

	g_assert_false (tbg_device_request_attributes (a, NULL, NULL, attrs_cb, f, &error));
	g_assert_error (error, TBG_ERROR, TBG_ERROR_INVALID_ARGS);
	g_clear_error (&error);
	g_assert_true (tbg_device_request_attributes (a, client, NULL, attrs_cb, f, &error));
	id = expect_request (f, "{\"device\":\"Device A\",\"client\":true,\"key\":\"fw\"}");
	g_assert_true (tbg_test_wait_until (attrs_done, f, WAIT_MS));
	g_assert_error (f->attrs_error, TBG_ERROR, TBG_ERROR_TIMEOUT);
	g_assert_null (f->attrs_client);
	/* A late answer is dropped quietly. */
	respond (f, "v1/gateway/attributes/response",
	         "{\"id\":%" G_GINT64_FORMAT ",\"device\":\"Device A\",\"value\":1}", id);
	tbg_test_run_main_loop_for (100);
}

static void
test_rpc_round_trip (Fixture *f, gconstpointer data)
{
	add_connected (f, "Device A", NULL);
	tbg_test_peer_publish (f->peer, "v1/gateway/rpc",
		"{\"device\":\"Device A\",\"data\":{\"id\":0,\"method\":\"echo\",\"params\":{\"pin\":1,\"on\":true}}}");
	tbg_test_peer_expect_json (f->peer, "v1/gateway/rpc",
		"{\"device\":\"Device A\",\"id\":0,\"data\":{\"pin\":1,\"on\":true}}", WAIT_MS);
	g_assert_cmpuint (f->rpcs->len, ==, 1);
	g_assert_cmpint (tbg_rpc_get_id (g_ptr_array_index (f->rpcs, 0)), ==, 0);
	/* The broker echoed our response to us: it must not be taken for a request. */
	tbg_test_peer_assert_quiet (f->peer, "v1/gateway/rpc", 300);
	g_assert_cmpuint (f->rpcs->len, ==, 1);

	tbg_test_peer_publish (f->peer, "v1/gateway/rpc",
		"{\"device\":\"Device A\",\"data\":{\"id\":1,\"method\":\"fail\"}}");
	tbg_test_peer_expect_json (f->peer, "v1/gateway/rpc",
		"{\"device\":\"Device A\",\"id\":1,\"data\":{\"error\":\"relay stuck\"}}", WAIT_MS);
	g_assert_null (tbg_rpc_get_params (g_ptr_array_index (f->rpcs, 1)));
}

static void
test_rpc_timeout (Fixture *f, gconstpointer data)
{
	add_connected (f, "Device A", NULL);
	tbg_test_peer_publish (f->peer, "v1/gateway/rpc",
		"{\"device\":\"Device A\",\"data\":{\"id\":5,\"method\":\"slow\",\"params\":{}}}");
	/* Pushed twice, as the server does when a session reopens: handled once. */
	tbg_test_peer_publish (f->peer, "v1/gateway/rpc",
		"{\"device\":\"Device A\",\"data\":{\"id\":5,\"method\":\"slow\",\"params\":{}}}");
	tbg_test_peer_expect_json (f->peer, "v1/gateway/rpc",
		"{\"device\":\"Device A\",\"id\":5,\"data\":{\"error\":\"timeout\"}}", WAIT_MS);
	g_assert_cmpuint (f->rpcs->len, ==, 1);
	/* The device answers too late: nothing more reaches the server. */
	g_assert_false (tbg_rpc_reply (g_ptr_array_index (f->rpcs, 0), NULL));
	tbg_test_peer_assert_quiet (f->peer, "v1/gateway/rpc", 300);
}

static void
test_rpc_slow_does_not_block_others (Fixture *f, gconstpointer data)
{
	add_connected (f, "Device A", NULL);
	add_connected (f, "Device B", NULL);
	tbg_test_peer_publish (f->peer, "v1/gateway/rpc",
		"{\"device\":\"Device A\",\"data\":{\"id\":1,\"method\":\"slow\"}}");
	tbg_test_peer_publish (f->peer, "v1/gateway/rpc",
		"{\"device\":\"Device B\",\"data\":{\"id\":1,\"method\":\"echo\",\"params\":\"hi\"}}");
	/* B's answer comes first, well before A's timeout. */
	tbg_test_peer_expect_json (f->peer, "v1/gateway/rpc",
		"{\"device\":\"Device B\",\"id\":1,\"data\":\"hi\"}", 250);
	tbg_test_peer_expect_json (f->peer, "v1/gateway/rpc",
		"{\"device\":\"Device A\",\"id\":1,\"data\":{\"error\":\"timeout\"}}", WAIT_MS);
}

static void
test_rpc_unknown_device (Fixture *f, gconstpointer data)
{
	tbg_test_peer_publish (f->peer, "v1/gateway/rpc",
		"{\"device\":\"Nope\",\"data\":{\"id\":7,\"method\":\"echo\"}}");
	tbg_test_peer_expect_json (f->peer, "v1/gateway/rpc",
		"{\"device\":\"Nope\",\"id\":7,\"data\":{\"error\":\"unknown device “Nope”\"}}", WAIT_MS);
}

static gboolean
shared_called_once (gpointer data)
{
	return ((Fixture *) data)->shared_calls >= 1;
}

static gboolean
shared_called_twice (gpointer data)
{
	return ((Fixture *) data)->shared_calls >= 2;
}

static void
test_shared_attributes (Fixture *f, gconstpointer data)
{
	TbgDevice *a = add_connected (f, "Device A", NULL);
	json_t *want = parse ("{\"led\":true,\"level\":3}");

	tbg_test_peer_publish (f->peer, "v1/gateway/attributes",
		"{\"device\":\"Device A\",\"data\":{\"led\":true,\"level\":3}}");
	g_assert_true (tbg_test_wait_until (shared_called_once, f, WAIT_MS));
	g_assert_true (json_equal (f->shared, want));
	g_assert_true (json_equal (tbg_device_get_shared_attributes (a), want));
	json_decref (want);

	tbg_test_peer_publish (f->peer, "v1/gateway/attributes",
		"{\"device\":\"Device A\",\"data\":{\"deleted\":[\"led\"]}}");
	g_assert_true (tbg_test_wait_until (shared_called_twice, f, WAIT_MS));
	g_assert_nonnull (f->deleted);
	g_assert_cmpstr (f->deleted[0], ==, "led");
	want = parse ("{\"level\":3}");
	g_assert_true (json_equal (tbg_device_get_shared_attributes (a), want));
	json_decref (want);

	/* For a device we do not have: dropped, nothing routed. */
	tbg_test_peer_publish (f->peer, "v1/gateway/attributes",
		"{\"device\":\"Other\",\"data\":{\"x\":1}}");
	tbg_test_run_main_loop_for (200);
	g_assert_cmpuint (f->shared_calls, ==, 2);
}

static void
test_malformed_downlink (Fixture *f, gconstpointer data)
{
	static const char * const topics[] = {
		"v1/gateway/rpc", "v1/gateway/attributes", "v1/gateway/attributes/response",
		"v1/devices/me/rpc/request/1", "v1/devices/me/attributes",
	};
	static const char * const payloads[] = {
		"", "not json", "[]", "42", "{\"device\":1}", "{\"device\":\"Device A\"}",
		"{\"device\":\"Device A\",\"data\":{\"id\":-1,\"method\":\"echo\"}}",
		"{\"device\":\"Device A\",\"data\":{\"id\":1.5,\"method\":\"echo\"}}",
		"{\"device\":\"Device A\",\"data\":{\"id\":1}}",
		"{\"device\":\"Device A\",\"data\":[]}", "{\"id\":\"x\"}", "\xff\xfe{",
		"{\"method\":5}", "{\"device\":\"Device A\",\"data\":{\"id\":99999999999999999999999}}",
	};
	TbgGatewayStats stats;

	add_connected (f, "Device A", NULL);
	for (guint t = 0; t < G_N_ELEMENTS (topics); t++)
		for (guint p = 0; p < G_N_ELEMENTS (payloads); p++)
			tbg_test_peer_publish (f->peer, topics[t], payloads[p]);
	tbg_test_peer_publish_raw (f->peer, "v1/gateway/rpc", "{\"a\":\0}", 7);
	tbg_test_peer_publish (f->peer, "v1/devices/me/rpc/request/abc", "{\"method\":\"ping\"}");
	tbg_test_run_main_loop_for (300);
	/* Still alive and still routing. */
	tbg_test_peer_publish (f->peer, "v1/gateway/rpc",
		"{\"device\":\"Device A\",\"data\":{\"id\":3,\"method\":\"echo\",\"params\":1}}");
	tbg_test_peer_expect_json (f->peer, "v1/gateway/rpc",
		"{\"device\":\"Device A\",\"id\":3,\"data\":1}", WAIT_MS);
	tbg_gateway_get_stats (f->gw, &stats);
	g_assert_cmpuint (stats.downlink_invalid, >=, 40);
	/* Three of the payloads are well-formed attribute updates on
	 * v1/gateway/attributes ("data" is an object there): exactly those. */
	g_assert_cmpuint (f->shared_calls, ==, 3);
	/* Only the malformed RPC with a usable id answered nothing: no garbage replies. */
	tbg_test_peer_assert_quiet (f->peer, "v1/devices/me/rpc/response/1", 100);
}

static void
test_own_rpc (Fixture *f, gconstpointer data)
{
	add_connected (f, "Device A", "Sensor A");
	tbg_test_peer_publish (f->peer, "v1/devices/me/rpc/request/42", "{\"method\":\"ping\",\"params\":{}}");
	tbg_test_peer_expect_json (f->peer, "v1/devices/me/rpc/response/42",
		"{\"pong\":true,\"version\":\"" PACKAGE_VERSION "\"}", WAIT_MS);
	tbg_test_peer_publish (f->peer, "v1/devices/me/rpc/request/0", "{\"method\":\"devices\"}");
	tbg_test_peer_expect_json (f->peer, "v1/devices/me/rpc/response/0",
		"[{\"name\":\"Device A\",\"type\":\"Sensor A\",\"source\":\"test\",\"connected\":true}]", WAIT_MS);
	tbg_test_peer_publish (f->peer, "v1/devices/me/rpc/request/43", "{\"method\":\"reboot\"}");
	tbg_test_peer_expect_json (f->peer, "v1/devices/me/rpc/response/43",
		"{\"error\":\"unknown method\"}", WAIT_MS);
}

static void
test_server_rename_and_delete (Fixture *f, gconstpointer data)
{
	TbgDevice *a = add_connected (f, "Device A", "Sensor A");

	tbg_test_peer_publish (f->peer, "v1/devices/me/rpc/request/7",
		"{\"method\":\"gateway_device_renamed\",\"params\":{\"Device A\":\"Device A2\"}}");
	tbg_test_run_main_loop_for (200);
	g_assert_cmpstr (tbg_device_get_name (a), ==, "Device A2");
	g_assert_true (tbg_gateway_lookup_device (f->gw, "Device A2") == a);
	g_assert_null (tbg_gateway_lookup_device (f->gw, "Device A"));
	push (a, 1700000000000, "{\"t\":1}");
	tbg_test_peer_expect_json (f->peer, "v1/gateway/telemetry",
		"{\"Device A2\":[{\"ts\":1700000000000,\"values\":{\"t\":1}}]}", WAIT_MS);

	/* Deleted on the server: its next data connects it again first. */
	tbg_test_peer_publish (f->peer, "v1/devices/me/rpc/request/8",
		"{\"method\":\"gateway_device_deleted\",\"params\":\"Device A2\"}");
	tbg_test_run_main_loop_for (200);
	push (a, 1700000000001, "{\"t\":2}");
	tbg_test_peer_expect_json (f->peer, "v1/gateway/connect",
		"{\"device\":\"Device A2\",\"type\":\"Sensor A\"}", WAIT_MS);
	tbg_test_peer_expect_json (f->peer, "v1/gateway/telemetry",
		"{\"Device A2\":[{\"ts\":1700000000001,\"values\":{\"t\":2}}]}", WAIT_MS);
	/* One-way RPCs get no answer. */
	tbg_test_peer_assert_quiet (f->peer, "v1/devices/me/rpc/response/7", 100);
	tbg_test_peer_assert_quiet (f->peer, "v1/devices/me/rpc/response/8", 100);
}

static void
test_broker_restart (Fixture *f, gconstpointer data)
{
	TbgDevice *a = add_connected (f, "Device A", "Sensor A");
	g_autofree char *log = NULL;

	tbg_test_peer_free (f->peer);
	f->peer = NULL;
	tbg_test_broker_stop (f->broker);
	/* Accepted while the broker is gone: must arrive afterwards. */
	push (a, 1700000000000, "{\"t\":1}");
	push (a, 1700000000001, "{\"t\":2}");
	tbg_test_run_main_loop_for (300);
	g_assert_false (tbg_gateway_get_link_up (f->gw));
	tbg_test_broker_restart (f->broker);
	f->peer = tbg_test_peer_new (tbg_test_broker_port (f->broker));
	g_assert_true (tbg_test_wait_until (tbg_test_gateway_link_is_up, f->gw, 10000));
	/* A new session: the device is connected again before its data. */
	tbg_test_peer_expect_json (f->peer, "v1/gateway/connect",
		"{\"device\":\"Device A\",\"type\":\"Sensor A\"}", WAIT_MS);
	tbg_test_peer_expect_json (f->peer, "v1/gateway/telemetry",
		"{\"Device A\":[{\"ts\":1700000000000,\"values\":{\"t\":1}},"
		"{\"ts\":1700000000001,\"values\":{\"t\":2}}]}", WAIT_MS);
	/* Subscribed again: RPCs reach the device. */
	tbg_test_peer_publish (f->peer, "v1/gateway/rpc",
		"{\"device\":\"Device A\",\"data\":{\"id\":0,\"method\":\"echo\",\"params\":true}}");
	tbg_test_peer_expect_json (f->peer, "v1/gateway/rpc",
		"{\"device\":\"Device A\",\"id\":0,\"data\":true}", WAIT_MS);
	log = tbg_test_broker_read_log (f->broker);
	g_assert_nonnull (strstr (log, "u'TEST_TOKEN'"));
	g_assert_nonnull (strstr (log, "v1/devices/me/rpc/request/+"));
}

/* An RPC answered while the broker is gone waits behind a backlog in no
 * queue: after the reconnect it is the first thing published (after the
 * session's connects), before the samples spooled ahead of it. */
static void
test_rpc_answer_before_backlog (Fixture *f, gconstpointer data)
{
	TbgDevice *a = add_connected (f, "Device A", NULL);
	const guint n = 3000;
	guint samples = 0;
	gboolean answered = FALSE;
	json_t *ok = json_pack ("{s:b}", "ok", TRUE);

	tbg_test_peer_publish (f->peer, "v1/gateway/rpc",
		"{\"device\":\"Device A\",\"data\":{\"id\":7,\"method\":\"slow\"}}");
	while (f->rpcs->len == 0)
		g_main_context_iteration (NULL, TRUE);
	tbg_test_peer_free (f->peer);
	f->peer = NULL;
	tbg_test_broker_stop (f->broker);
	for (guint i = 0; i < n; i++) {
		g_autofree char *values = g_strdup_printf ("{\"i\":%u}", i);

		push (a, 1700000000000 + i, values);
	}
	g_assert_true (tbg_rpc_reply (g_ptr_array_index (f->rpcs, 0), ok));
	json_decref (ok);
	tbg_test_run_main_loop_for (200);
	tbg_test_broker_restart (f->broker);
	f->peer = tbg_test_peer_new (tbg_test_broker_port (f->broker));
	g_assert_true (tbg_test_wait_until (tbg_test_gateway_link_is_up, f->gw, 10000));
	while (samples < n) {
		g_autoptr (TbgTestMessage) m = tbg_test_peer_expect (f->peer, NULL, WAIT_MS);

		if (g_str_equal (m->topic, "v1/gateway/rpc")) {
			g_assert_false (answered);
			g_assert_cmpuint (samples, ==, 0);
			tbg_assert_json_eq (m->payload, "{\"device\":\"Device A\",\"id\":7,\"data\":{\"ok\":true}}");
			answered = TRUE;
		} else if (g_str_equal (m->topic, "v1/gateway/telemetry")) {
			json_t *j = parse (m->payload);

			g_assert_true (answered);
			samples += json_array_size (json_object_get (j, "Device A"));
			json_decref (j);
		}
	}
	g_assert_cmpuint (samples, ==, n);
}

static void
test_reconnect_request (Fixture *f, gconstpointer data)
{
	add_connected (f, "Device A", "Sensor A");
	tbg_gateway_reconnect (f->gw);
	g_assert_true (tbg_test_wait_until (tbg_test_gateway_link_is_up, f->gw, 10000));
	tbg_test_peer_expect_json (f->peer, "v1/gateway/connect",
		"{\"device\":\"Device A\",\"type\":\"Sensor A\"}", WAIT_MS);
}

static void
test_stats_published (Fixture *f, gconstpointer data)
{
	g_autoptr (TbgTestMessage) m = NULL;
	json_t *root;

	add_connected (f, "Device A", NULL);
	tbg_test_peer_publish (f->peer, "v1/devices/me/rpc/request/1", "{\"method\":\"stats\"}");
	m = tbg_test_peer_expect (f->peer, "v1/devices/me/rpc/response/1", WAIT_MS);
	root = parse (m->payload);
	g_assert_cmpint (json_integer_value (json_object_get (root, "devicesConnected")), ==, 1);
	g_assert_cmpint (json_integer_value (json_object_get (root, "devices")), ==, 1);
	g_assert_cmpint (json_integer_value (json_object_get (root, "messagesSent")), >=, 2);
	g_assert_true (json_is_integer (json_object_get (root, "uptimeS")));
	g_assert_true (json_is_integer (json_object_get (root, "messagesDropped")));
	g_assert_true (json_is_integer (json_object_get (root, "messagesQueued")));
	json_decref (root);
}

/* ---- TLS to a looked-up address -------------------------------------------------- */

/* Answers every look-up at once with 127.0.0.1, whatever the name. */
typedef struct {
	GResolver parent;
	guint     lookups;
} LoopbackResolver;
typedef struct {
	GResolverClass parent_class;
} LoopbackResolverClass;

static GType loopback_resolver_get_type (void);
G_DEFINE_TYPE (LoopbackResolver, loopback_resolver, G_TYPE_RESOLVER)

static void
loopback_lookup_async (GResolver *r, const char *host, GCancellable *c, GAsyncReadyCallback cb,
                       gpointer data)
{
	g_autoptr (GTask) t = g_task_new (r, c, cb, data);

	((LoopbackResolver *) r)->lookups++;
	g_task_return_pointer (t, g_list_append (NULL, g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4)),
	                       (GDestroyNotify) g_resolver_free_addresses);
}

static GList *
loopback_lookup_finish (GResolver *r, GAsyncResult *res, GError **error)
{
	return g_task_propagate_pointer (G_TASK (res), error);
}

static void
loopback_resolver_class_init (LoopbackResolverClass *klass)
{
	klass->parent_class.lookup_by_name_async = loopback_lookup_async;
	klass->parent_class.lookup_by_name_finish = loopback_lookup_finish;
}

static void
loopback_resolver_init (LoopbackResolver *r)
{
}

static void
sh (const char *dir, const char *script)
{
	g_autoptr (GError) error = NULL;
	int status = 0;
	const char *argv[] = { "/bin/sh", "-ec", script, NULL };

	g_assert_true (g_spawn_sync (dir, (char **) argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL |
	                             G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, NULL, NULL, &status, &error));
	g_assert_no_error (error);
	g_assert_true (g_spawn_check_wait_status (status, NULL));
}

typedef struct {
	const char *log;
	guint16     port;
} TlsBroker;

/* Up once its own log says so (another test's broker may answer on the
 * port) and the port takes connections. */
static gboolean
tls_broker_up (gpointer data)
{
	TlsBroker *tb = data;
	g_autofree char *text = NULL;
	g_autoptr (GSocketClient) c = NULL;
	g_autoptr (GSocketConnection) conn = NULL;

	if (!g_file_get_contents (tb->log, &text, NULL, NULL) || strstr (text, " running\n") == NULL)
		return FALSE;
	c = g_socket_client_new ();
	conn = g_socket_client_connect_to_host (c, "127.0.0.1", tb->port, NULL, NULL);
	return conn != NULL;
}

/* A TLS broker on 127.0.0.1 whose certificate names @cert_name, signed by
 * a CA of the test; a gateway configured for the host name @host (which
 * the resolver maps to 127.0.0.1). Returns whether the link came up. */
static gboolean
tls_link_comes_up (const char *cert_name, const char *host)
{
	g_autoptr (GError) error = NULL;
	g_autofree char *dir = g_dir_make_tmp ("tbgw-tls-XXXXXX", &error);
	g_autofree char *script = g_strdup_printf (
		"openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 "
		"-subj /CN=tbgw-test-ca -keyout ca.key -out ca.pem\n"
		"openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=%s "
		"-keyout server.key -out server.csr\n"
		"printf 'subjectAltName=DNS:%s\\n' > ext\n"
		"openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 "
		"-extfile ext -out server.pem\n", cert_name, cert_name);
	guint16 port = tbg_test_free_port ();
	g_autofree char *mconf = g_strdup_printf ("listener %u 127.0.0.1\nallow_anonymous true\n"
		"persistence false\nuser root\ncertfile %s/server.pem\nkeyfile %s/server.key\n"
		"log_dest file %s/mosquitto.log\nlog_type all\nconnection_messages true\n", port, dir, dir, dir);
	g_autofree char *mconf_path = g_build_filename (dir, "mosquitto.conf", NULL);
	g_autofree char *conf = g_build_filename (dir, "tbgw.conf", NULL);
	g_autofree char *text = g_strdup_printf ("[storage]\npath=memory\n[server]\nhost=%s\nport=%u\n"
		"tls=true\nca-file=%s/ca.pem\n[gateway]\nstats-interval-s=0\n", host, port, dir);
	g_autoptr (GSubprocessLauncher) l = tbg_test_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE |
	                                                          G_SUBPROCESS_FLAGS_STDERR_SILENCE);
	g_autoptr (GSubprocess) broker = NULL;
	g_autoptr (GResolver) saved = g_resolver_get_default ();
	LoopbackResolver *resolver = g_object_new (loopback_resolver_get_type (), NULL);
	const TbgSource * const none[] = { NULL };
	const char * const prefixes[] = { NULL };
	TbgGateway *gw;
	TbgConfig *cfg;
	gboolean up;

	g_assert_no_error (error);
	sh (dir, script);
	g_assert_true (g_file_set_contents (mconf_path, mconf, -1, NULL));
	broker = g_subprocess_launcher_spawn (l, &error, g_getenv ("MOSQUITTO") ? g_getenv ("MOSQUITTO")
	                                      : "/usr/sbin/mosquitto", "-c", mconf_path, NULL);
	g_assert_no_error (error);
	{
		g_autofree char *log = g_build_filename (dir, "mosquitto.log", NULL);
		TlsBroker tb = { log, port };

		g_assert_true (tbg_test_wait_until (tls_broker_up, &tb, WAIT_MS));
	}
	g_assert_true (g_file_set_contents (conf, text, -1, NULL));
	cfg = tbg_config_load (conf, prefixes, &error);
	g_assert_no_error (error);
	g_resolver_set_default (G_RESOLVER (resolver));
	tbg_test_log_capture ();
	gw = tbg_gateway_new (cfg, none, &error);
	g_assert_no_error (error);
	g_assert_true (tbg_gateway_start (gw, &error));
	/* Up, or the first failed attempt (the retry comes a second later). */
	while (!tbg_gateway_get_link_up (gw) && tbg_test_log_count ("Could not connect*") == 0)
		g_main_context_iteration (NULL, TRUE);
	up = tbg_gateway_get_link_up (gw);
	g_assert_cmpuint (resolver->lookups, ==, 1);
	g_object_unref (gw);
	g_resolver_set_default (saved);
	g_object_unref (resolver);
	g_subprocess_send_signal (broker, SIGTERM);
	g_subprocess_wait (broker, NULL, NULL);
	sh (dir, "rm -f ca.key ca.pem ca.srl server.key server.csr server.pem ext mosquitto.conf "
	         "mosquitto.log tbgw.conf");
	g_rmdir (dir);
	return up;
}

static void
test_tls_checks_the_name (Fixture *f, gconstpointer data)
{
	/* Connected to 127.0.0.1, the certificate is checked against the
	 * configured name: right name, link up; another name, refused. */
	g_assert_true (tls_link_comes_up ("broker.tbgw-test.example", "broker.tbgw-test.example"));
	g_assert_false (tls_link_comes_up ("other.tbgw-test.example", "broker.tbgw-test.example"));
}

int
main (int argc, char **argv)
{
	g_test_init (&argc, &argv, NULL);
	/* The gateway warns about the bad input these tests feed it on purpose. */
	g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
#define ADD(path, fn) g_test_add ("/gateway/" path, Fixture, NULL, setup, fn, teardown)
	ADD ("connect-disconnect", test_connect_disconnect);
	ADD ("tls-checks-the-name", test_tls_checks_the_name);
	ADD ("bad-names", test_duplicate_and_bad_names);
	ADD ("telemetry/multi-device", test_telemetry_multi_device);
	ADD ("telemetry/types", test_telemetry_types);
	g_test_add ("/gateway/telemetry/linger", Fixture, NULL, setup_linger, test_telemetry_linger, teardown);
	ADD ("telemetry/stamped-distinct", test_telemetry_stamped_distinct);
	ADD ("telemetry/not-connected", test_not_connected);
	ADD ("telemetry/empty-rejected", test_empty_values_rejected);
	ADD ("attributes", test_attributes);
	ADD ("claim", test_claim);
	ADD ("attribute-request/split", test_attribute_request_split);
	ADD ("attribute-request/empty-answer", test_attribute_request_empty_answer);
	ADD ("attribute-request/timeout", test_attribute_request_timeout);
	ADD ("rpc/round-trip", test_rpc_round_trip);
	ADD ("rpc/timeout", test_rpc_timeout);
	ADD ("rpc/slow-does-not-block", test_rpc_slow_does_not_block_others);
	ADD ("rpc/unknown-device", test_rpc_unknown_device);
	ADD ("shared-attributes", test_shared_attributes);
	ADD ("malformed-downlink", test_malformed_downlink);
	ADD ("own/rpc", test_own_rpc);
	ADD ("own/stats", test_stats_published);
	ADD ("own/rename-delete", test_server_rename_and_delete);
	ADD ("link/broker-restart", test_broker_restart);
	ADD ("rpc/answer-before-backlog", test_rpc_answer_before_backlog);
	ADD ("link/reconnect-request", test_reconnect_request);
#undef ADD
	g_test_add ("/gateway/telemetry/split", Fixture, NULL, setup_small_payload,
	            test_telemetry_split, teardown);
	g_test_add ("/gateway/attribute-request/combined", Fixture, NULL, setup_combined,
	            test_attribute_request_combined, teardown);
	return g_test_run ();
}
