/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of gateway-codec.c: every uplink shape to the byte, every
 * downlink shape, every class of malformed input, and the packer. */
#include "gateway-codec.h"

#include <string.h>

static json_t *
j (const char *text)
{
	json_t *v = json_loads (text, JSON_DECODE_ANY, NULL);

	g_assert_nonnull (v);
	return v;
}

static void
test_connect_disconnect (void)
{
	g_autoptr (GError) error = NULL;
	g_autofree char *a = tbg_codec_connect ("Device A", "Sensor A", &error);
	g_autofree char *b = tbg_codec_connect ("Device A", NULL, &error);
	g_autofree char *c = tbg_codec_disconnect ("Device A", &error);
	g_autofree char *d = tbg_codec_connect ("Gerät \"1\"\\", NULL, &error);

	g_assert_no_error (error);
	g_assert_cmpstr (a, ==, "{\"device\":\"Device A\",\"type\":\"Sensor A\"}");
	g_assert_cmpstr (b, ==, "{\"device\":\"Device A\"}");
	g_assert_cmpstr (c, ==, "{\"device\":\"Device A\"}");
	g_assert_cmpstr (d, ==, "{\"device\":\"Gerät \\\"1\\\"\\\\\"}");
	g_assert_null (tbg_codec_connect ("", NULL, &error));
	g_assert_error (error, TBG_CODEC_ERROR, TBG_CODEC_ERROR_MISSING_FIELD);
	g_clear_error (&error);
	g_assert_null (tbg_codec_connect ("bad\xff", NULL, &error));
	g_assert_error (error, TBG_CODEC_ERROR, TBG_CODEC_ERROR_BAD_VALUE);
	g_clear_error (&error);
	g_assert_null (tbg_codec_disconnect (NULL, &error));
	g_assert_nonnull (error);
}

static void
test_rpc_response (void)
{
	g_autoptr (GError) error = NULL;
	json_t *data = j ("{\"success\":true}");
	json_t *num = j ("1.5");
	g_autofree char *a = tbg_codec_rpc_response ("Device A", 0, data, &error);
	g_autofree char *b = tbg_codec_rpc_response ("Device A", 7, num, &error);

	g_assert_no_error (error);
	g_assert_cmpstr (a, ==, "{\"device\":\"Device A\",\"id\":0,\"data\":{\"success\":true}}");
	g_assert_cmpstr (b, ==, "{\"device\":\"Device A\",\"id\":7,\"data\":1.5}");
	/* A response without data closes ThingsBoard's connection: refuse it. */
	g_assert_null (tbg_codec_rpc_response ("Device A", 1, NULL, &error));
	g_assert_nonnull (error);
	json_decref (data);
	json_decref (num);
}

static void
test_attribute_requests (void)
{
	g_autoptr (GError) error = NULL;
	const char * const one[] = { "fw", NULL };
	const char * const two[] = { "k1", "k2", NULL };
	const char * const none[] = { NULL };
	g_autofree char *a = tbg_codec_attribute_request (1, "Device A", TBG_ATTR_SCOPE_CLIENT, one, &error);
	g_autofree char *b = tbg_codec_attribute_request (2, "Device A", TBG_ATTR_SCOPE_SHARED, two, &error);
	g_autofree char *c = tbg_codec_attribute_request_combined (3, "Device A", one, two, &error);
	g_autofree char *d = tbg_codec_attribute_request_combined (4, "Device A", NULL, one, &error);

	g_assert_no_error (error);
	g_assert_cmpstr (a, ==, "{\"id\":1,\"device\":\"Device A\",\"client\":true,\"key\":\"fw\"}");
	g_assert_cmpstr (b, ==, "{\"id\":2,\"device\":\"Device A\",\"client\":false,\"keys\":[\"k1\",\"k2\"]}");
	g_assert_cmpstr (c, ==, "{\"id\":3,\"device\":\"Device A\",\"client\":[\"fw\"],\"shared\":[\"k1\",\"k2\"]}");
	g_assert_cmpstr (d, ==, "{\"id\":4,\"device\":\"Device A\",\"shared\":[\"fw\"]}");
	/* Never "keys":[] — it would return every attribute. */
	g_assert_null (tbg_codec_attribute_request (5, "Device A", TBG_ATTR_SCOPE_CLIENT, none, &error));
	g_assert_error (error, TBG_CODEC_ERROR, TBG_CODEC_ERROR_MISSING_FIELD);
	g_clear_error (&error);
	g_assert_null (tbg_codec_attribute_request (5, "Device A", TBG_ATTR_SCOPE_CLIENT, NULL, &error));
	g_clear_error (&error);
	g_assert_null (tbg_codec_attribute_request_combined (6, "Device A", none, NULL, &error));
	g_assert_error (error, TBG_CODEC_ERROR, TBG_CODEC_ERROR_MISSING_FIELD);
	g_clear_error (&error);
	g_assert_null (tbg_codec_attribute_request (-1, "Device A", TBG_ATTR_SCOPE_CLIENT, one, &error));
	g_clear_error (&error);
	{
		const char * const empty_key[] = { "", NULL };

		g_assert_null (tbg_codec_attribute_request (1, "A", TBG_ATTR_SCOPE_CLIENT, empty_key, &error));
		g_assert_nonnull (error);
	}
}

/* No nulls: the object itself, not a copy; nulls: a copy without them,
 * the original untouched. */
static void
test_without_nulls (void)
{
	json_t *plain = j ("{\"a\":1,\"b\":{\"c\":null}}");
	json_t *holes = j ("{\"a\":null,\"b\":2,\"c\":null}");
	json_t *only = j ("{\"a\":null}");
	json_t *out;

	out = tbg_codec_without_nulls (plain);
	g_assert_true (out == plain);
	g_assert_cmpint (plain->refcount, ==, 2);
	json_decref (out);
	out = tbg_codec_without_nulls (holes);
	g_assert_true (out != holes);
	g_assert_cmpuint (json_object_size (out), ==, 1);
	g_assert_cmpint (json_integer_value (json_object_get (out, "b")), ==, 2);
	g_assert_cmpuint (json_object_size (holes), ==, 3);
	json_decref (out);
	out = tbg_codec_without_nulls (only);
	g_assert_cmpuint (json_object_size (out), ==, 0);
	json_decref (out);
	json_decref (plain);
	json_decref (holes);
	json_decref (only);
}

static void
test_sample_and_claim (void)
{
	g_autoptr (GError) error = NULL;
	json_t *v = j ("{\"temperature\":42,\"humidity\":80.5,\"on\":true,\"s\":\"x\",\"n\":{\"a\":[1]},\"t\":21.3}");
	json_t *empty = j ("{}");
	json_t *arr = j ("[1]");
	g_autofree char *s = tbg_codec_sample (1483228800000, v, &error);
	g_autofree char *c1 = tbg_codec_claim_entry ("value_A", 60000, &error);
	g_autofree char *c2 = tbg_codec_claim_entry (NULL, 0, &error);
	g_autofree char *c3 = tbg_codec_claim_entry ("", 1, &error);

	g_assert_no_error (error);
	/* reals as a person wrote them: 21.3, not 21.300000000000001 */
	g_assert_cmpstr (s, ==, "{\"ts\":1483228800000,\"values\":{\"temperature\":42,\"humidity\":80.5,"
	                        "\"on\":true,\"s\":\"x\",\"n\":{\"a\":[1]},\"t\":21.3}}");
	g_assert_cmpstr (c1, ==, "{\"secretKey\":\"value_A\",\"durationMs\":60000}");
	g_assert_cmpstr (c2, ==, "{}");
	g_assert_cmpstr (c3, ==, "{\"secretKey\":\"\",\"durationMs\":1}");
	g_assert_null (tbg_codec_sample (1, empty, &error));
	g_assert_error (error, TBG_CODEC_ERROR, TBG_CODEC_ERROR_MISSING_FIELD);
	g_clear_error (&error);
	g_assert_null (tbg_codec_sample (1, arr, &error));
	g_clear_error (&error);
	g_assert_null (tbg_codec_sample (-5, v, &error));
	g_clear_error (&error);
	{
		gsize len = 0;
		g_autofree char *t = tbg_codec_sample_text (1483228800000, "{\"t\": 21.50}", 12, &len);

		g_assert_cmpstr (t, ==, "{\"ts\":1483228800000,\"values\":{\"t\": 21.50}}");
		g_assert_cmpuint (len, ==, strlen (t));
	}
	{
		g_autofree char *t = tbg_codec_sample_text (0, "{\"a\":1}", 7, NULL);

		g_assert_cmpstr (t, ==, "{\"ts\":0,\"values\":{\"a\":1}}");
	}
	g_assert_null (tbg_codec_claim_entry ("\xc3", 0, &error));
	g_assert_nonnull (error);
	json_decref (v);
	json_decref (empty);
	json_decref (arr);
}

/* ---- packer ------------------------------------------------------------------ */

static void
add_ok (TbgPacker *p, const char *dev, const char *entry)
{
	g_assert_cmpint (tbg_packer_add (p, dev, entry, strlen (entry)), ==, TBG_PACK_OK);
}

static void
test_pack_telemetry (void)
{
	TbgPacker *p = tbg_packer_new (TBG_PACK_TELEMETRY, 1000);
	g_autofree char *out = NULL;
	gsize len = 0;

	g_assert_null (tbg_packer_finish (p, &len));
	g_assert_cmpuint (len, ==, 0);
	add_ok (p, "A", "{\"ts\":1,\"values\":{\"t\":1}}");
	add_ok (p, "B", "{\"ts\":1,\"values\":{\"t\":2}}");
	add_ok (p, "A", "{\"ts\":2,\"values\":{\"t\":3}}");
	g_assert_cmpuint (tbg_packer_count (p), ==, 3);
	out = tbg_packer_finish (p, &len);
	g_assert_cmpstr (out, ==, "{\"A\":[{\"ts\":1,\"values\":{\"t\":1}},{\"ts\":2,\"values\":{\"t\":3}}],"
	                          "\"B\":[{\"ts\":1,\"values\":{\"t\":2}}]}");
	g_assert_cmpuint (len, ==, strlen (out));
	g_assert_cmpuint (tbg_packer_count (p), ==, 0);
	g_assert_cmpuint (tbg_packer_size (p), ==, 2);
	tbg_packer_free (p);
}

static void
test_pack_attributes_and_claim (void)
{
	TbgPacker *p = tbg_packer_new (TBG_PACK_ATTRIBUTES, 1000);
	TbgPacker *c = tbg_packer_new (TBG_PACK_CLAIM, 1000);
	g_autofree char *out = NULL, *out2 = NULL, *cl = NULL;

	add_ok (p, "Device A", "{\"fw\":\"1.0\"}");
	add_ok (p, "Device B", "{\"battery\":87}");
	/* A device once per payload: the second goes into the next one. */
	g_assert_cmpint (tbg_packer_add (p, "Device A", "{\"x\":1}", 7), ==, TBG_PACK_FULL);
	out = tbg_packer_finish (p, NULL);
	g_assert_cmpstr (out, ==, "{\"Device A\":{\"fw\":\"1.0\"},\"Device B\":{\"battery\":87}}");
	add_ok (p, "Device A", "{\"x\":1}");
	out2 = tbg_packer_finish (p, NULL);
	g_assert_cmpstr (out2, ==, "{\"Device A\":{\"x\":1}}");
	add_ok (c, "Device A", "{\"secretKey\":\"s\",\"durationMs\":60000}");
	cl = tbg_packer_finish (c, NULL);
	g_assert_cmpstr (cl, ==, "{\"Device A\":{\"secretKey\":\"s\",\"durationMs\":60000}}");
	tbg_packer_free (p);
	tbg_packer_free (c);
}

static void
test_pack_boundaries (void)
{
	const char *e = "{\"ts\":1,\"values\":{\"t\":1}}";   /* 26 bytes */
	gsize one = strlen ("{\"A\":[]}") + strlen (e);       /* 34 */
	TbgPacker *p = tbg_packer_new (TBG_PACK_TELEMETRY, one + 1 + strlen (e));
	TbgPacker *tiny = tbg_packer_new (TBG_PACK_TELEMETRY, one - 1);
	g_autofree char *out = NULL;
	gsize len;

	/* Exactly max_bytes fits; one byte more does not. */
	add_ok (p, "A", e);
	add_ok (p, "A", e);
	g_assert_cmpuint (tbg_packer_size (p), ==, one + 1 + strlen (e));
	g_assert_cmpint (tbg_packer_add (p, "A", e, strlen (e)), ==, TBG_PACK_FULL);
	g_assert_cmpint (tbg_packer_add (p, "B", e, strlen (e)), ==, TBG_PACK_FULL);
	out = tbg_packer_finish (p, &len);
	g_assert_cmpuint (len, ==, one + 1 + strlen (e));
	g_assert_cmpint (tbg_packer_add (tiny, "A", e, strlen (e)), ==, TBG_PACK_TOO_BIG);
	g_assert_cmpuint (tbg_packer_count (tiny), ==, 0);
	g_assert_null (tbg_packer_finish (tiny, NULL));
	tbg_packer_free (p);
	tbg_packer_free (tiny);
}

static void
test_pack_escaped_names (void)
{
	TbgPacker *p = tbg_packer_new (TBG_PACK_TELEMETRY, 1000);
	g_autofree char *out = NULL;
	json_t *root;
	gsize len;

	add_ok (p, "a\"b\\c", "{\"ts\":1,\"values\":{\"t\":1}}");
	add_ok (p, "Ünïcödé ☃", "{\"ts\":1,\"values\":{\"t\":2}}");
	add_ok (p, "tab\there", "{\"ts\":1,\"values\":{\"t\":3}}");
	out = tbg_packer_finish (p, &len);
	g_assert_cmpuint (len, ==, strlen (out));
	root = json_loads (out, 0, NULL);
	g_assert_nonnull (root);
	g_assert_nonnull (json_object_get (root, "a\"b\\c"));
	g_assert_nonnull (json_object_get (root, "Ünïcödé ☃"));
	g_assert_nonnull (json_object_get (root, "tab\there"));
	json_decref (root);
	/* A name that is not UTF-8 can never be encoded. */
	g_assert_cmpint (tbg_packer_add (p, "bad\xff", "{}", 2), ==, TBG_PACK_TOO_BIG);
	tbg_packer_free (p);
}

/* Thousands of random samples over random small limits: every payload
 * parses, fits, and together they hold every sample once, in order. */
static void
test_pack_property (void)
{
	GRand *rand = g_rand_new_with_seed (0x7b9a);

	for (int round = 0; round < 50; round++) {
		gsize max = g_rand_int_range (rand, 60, 600);
		TbgPacker *p = tbg_packer_new (TBG_PACK_TELEMETRY, max);
		guint n = g_rand_int_range (rand, 1, 400);
		guint next[5] = { 0 }, expect[5] = { 0 };
		guint added = 0, dropped = 0;

		for (guint i = 0; i <= n; i++) {
			g_autofree char *dev = g_strdup_printf ("dev%u", g_rand_int_range (rand, 0, 5));
			g_autofree char *e = g_strdup_printf ("{\"ts\":%u,\"values\":{\"s\":\"%.*s\"}}",
			                                      expect[dev[3] - '0'], g_rand_int_range (rand, 0, 80),
			                                      "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
			TbgPackResult r = i < n ? tbg_packer_add (p, dev, e, strlen (e)) : TBG_PACK_FULL;

			if (r == TBG_PACK_FULL || i == n) {
				gsize len;
				g_autofree char *out = tbg_packer_finish (p, &len);
				json_t *root;
				const char *name;
				json_t *arr;

				if (out != NULL) {
					g_assert_cmpuint (len, <=, max);
					g_assert_cmpuint (len, ==, strlen (out));
					root = json_loads (out, 0, NULL);
					g_assert_nonnull (root);
					json_object_foreach (root, name, arr) {
						guint d = name[3] - '0';

						g_assert_cmpuint (json_array_size (arr), >, 0);
						for (gsize k = 0; k < json_array_size (arr); k++) {
							json_int_t ts = json_integer_value (json_object_get (json_array_get (arr, k), "ts"));

							/* skip samples dropped as too big */
							while (next[d] < (guint) ts)
								next[d]++;
							g_assert_cmpint (ts, ==, next[d]);
							next[d]++;
						}
					}
					json_decref (root);
				}
				if (i < n) {
					r = tbg_packer_add (p, dev, e, strlen (e));
					g_assert_cmpint (r, !=, TBG_PACK_FULL);
				}
			}
			if (i < n) {
				if (r == TBG_PACK_TOO_BIG)
					dropped++;
				else
					added++;
				expect[dev[3] - '0']++;
			}
		}
		g_assert_cmpuint (added + dropped, ==, n);
		tbg_packer_free (p);
	}
	g_rand_free (rand);
}

/* ---- downlink ------------------------------------------------------------------ */

static void
decode_ok (const char *topic, const char *payload, TbgDownlink *d)
{
	g_autoptr (GError) error = NULL;

	g_assert_true (tbg_codec_decode (topic, payload, strlen (payload), d, &error));
	g_assert_no_error (error);
}

static void
assert_json (json_t *actual, const char *expected)
{
	json_t *e = j (expected);

	g_assert_nonnull (actual);
	if (!json_equal (actual, e)) {
		g_autofree char *a = json_dumps (actual, JSON_ENCODE_ANY);

		g_error ("got %s, expected %s", a, expected);
	}
	json_decref (e);
}

static void
test_decode_rpc (void)
{
	TbgDownlink d;

	decode_ok ("v1/gateway/rpc",
	           "{\"device\":\"Device A\",\"data\":{\"id\":0,\"method\":\"toggle_gpio\",\"params\":{\"pin\":1}}}", &d);
	g_assert_cmpint (d.kind, ==, TBG_DOWNLINK_RPC_REQUEST);
	g_assert_cmpstr (d.device, ==, "Device A");
	g_assert_cmpint (d.id, ==, 0);
	g_assert_cmpstr (d.method, ==, "toggle_gpio");
	assert_json (d.params, "{\"pin\":1}");
	tbg_downlink_clear (&d);

	decode_ok ("v1/gateway/rpc", "{\"device\":\"A\",\"data\":{\"id\":5,\"method\":\"m\"}}", &d);
	g_assert_null (d.params);
	tbg_downlink_clear (&d);
	decode_ok ("v1/gateway/rpc", "{\"device\":\"A\",\"data\":{\"id\":5,\"method\":\"m\",\"params\":\"{\\\"a\\\":1}\"}}", &d);
	assert_json (d.params, "\"{\\\"a\\\":1}\"");
	tbg_downlink_clear (&d);

	/* Our own response, echoed by a plain broker. */
	decode_ok ("v1/gateway/rpc", "{\"device\":\"A\",\"id\":1,\"data\":{\"success\":true}}", &d);
	g_assert_cmpint (d.kind, ==, TBG_DOWNLINK_RPC_ECHO);
	tbg_downlink_clear (&d);
}

static void
test_decode_attributes (void)
{
	TbgDownlink d;

	decode_ok ("v1/gateway/attributes", "{\"device\":\"Device A\",\"data\":{\"attribute1\":\"value1\",\"n\":42}}", &d);
	g_assert_cmpint (d.kind, ==, TBG_DOWNLINK_ATTRIBUTE_UPDATE);
	assert_json (d.data, "{\"attribute1\":\"value1\",\"n\":42}");
	g_assert_null (d.deleted);
	tbg_downlink_clear (&d);

	decode_ok ("v1/gateway/attributes", "{\"device\":\"Device A\",\"data\":{\"deleted\":[\"attribute1\"]}}", &d);
	assert_json (d.data, "{}");
	g_assert_cmpuint (g_strv_length (d.deleted), ==, 1);
	g_assert_cmpstr (d.deleted[0], ==, "attribute1");
	tbg_downlink_clear (&d);

	decode_ok ("v1/devices/me/attributes", "{\"a\":1,\"deleted\":[\"b\"]}", &d);
	g_assert_cmpint (d.kind, ==, TBG_DOWNLINK_OWN_ATTRIBUTE_UPDATE);
	assert_json (d.data, "{\"a\":1}");
	g_assert_cmpstr (d.deleted[0], ==, "b");
	tbg_downlink_clear (&d);
}

static void
test_decode_attribute_responses (void)
{
	TbgDownlink d;

	decode_ok ("v1/gateway/attributes/response", "{\"id\":1,\"device\":\"A\",\"value\":\"1.0\"}", &d);
	g_assert_cmpint (d.kind, ==, TBG_DOWNLINK_ATTRIBUTE_RESPONSE);
	g_assert_cmpint (d.id, ==, 1);
	assert_json (d.value, "\"1.0\"");
	tbg_downlink_clear (&d);

	decode_ok ("v1/gateway/attributes/response", "{\"id\":2,\"device\":\"A\",\"values\":{\"a\":1,\"b\":2.5}}", &d);
	assert_json (d.values, "{\"a\":1,\"b\":2.5}");
	g_assert_null (d.value);
	tbg_downlink_clear (&d);

	decode_ok ("v1/gateway/attributes/response",
	           "{\"id\":3,\"device\":\"A\",\"client\":{\"c\":true},\"shared\":{\"s\":null}}", &d);
	assert_json (d.client, "{\"c\":true}");
	assert_json (d.shared, "{\"s\":null}");
	tbg_downlink_clear (&d);

	decode_ok ("v1/gateway/attributes/response", "{\"id\":0,\"device\":\"A\"}", &d);
	g_assert_null (d.value);
	g_assert_null (d.values);
	tbg_downlink_clear (&d);

	decode_ok ("v1/gateway/attributes/response", "{\"id\":4,\"device\":\"A\",\"error\":\"x\"}", &d);
	g_assert_cmpint (d.id, ==, 4);
	tbg_downlink_clear (&d);
}

static void
test_decode_own_rpc (void)
{
	TbgDownlink d;

	decode_ok ("v1/devices/me/rpc/request/42", "{\"method\":\"ping\",\"params\":{}}", &d);
	g_assert_cmpint (d.kind, ==, TBG_DOWNLINK_OWN_RPC_REQUEST);
	g_assert_cmpint (d.id, ==, 42);
	g_assert_cmpstr (d.method, ==, "ping");
	g_assert_null (d.device);
	tbg_downlink_clear (&d);
	decode_ok ("v1/devices/me/rpc/request/0", "{\"method\":\"gateway_device_deleted\",\"params\":\"A\"}", &d);
	g_assert_cmpint (d.id, ==, 0);
	assert_json (d.params, "\"A\"");
	tbg_downlink_clear (&d);
}

typedef struct {
	const char    *topic;
	const char    *payload;
	gssize         len;    /* -1: strlen */
	TbgCodecError  code;
} BadDownlink;

static const BadDownlink bad_downlinks[] = {
	{ "v1/gateway/rpc", "", -1, TBG_CODEC_ERROR_NOT_JSON },
	{ "v1/gateway/rpc", "not json", -1, TBG_CODEC_ERROR_NOT_JSON },
	{ "v1/gateway/rpc", "{\"device\":\"A\",\"data\":{\"id\":1,\"method\":\"m\"}", -1, TBG_CODEC_ERROR_NOT_JSON },
	{ "v1/gateway/rpc", "{\"device\":\"A\"} trailing", -1, TBG_CODEC_ERROR_NOT_JSON },
	{ "v1/gateway/rpc", "[]", -1, TBG_CODEC_ERROR_WRONG_TYPE },
	{ "v1/gateway/rpc", "42", -1, TBG_CODEC_ERROR_NOT_JSON },
	{ "v1/gateway/rpc", "{\"data\":{\"id\":1,\"method\":\"m\"}}", -1, TBG_CODEC_ERROR_MISSING_FIELD },
	{ "v1/gateway/rpc", "{\"device\":5,\"data\":{\"id\":1,\"method\":\"m\"}}", -1, TBG_CODEC_ERROR_WRONG_TYPE },
	{ "v1/gateway/rpc", "{\"device\":\"\",\"data\":{\"id\":1,\"method\":\"m\"}}", -1, TBG_CODEC_ERROR_WRONG_TYPE },
	{ "v1/gateway/rpc", "{\"device\":\"A\"}", -1, TBG_CODEC_ERROR_MISSING_FIELD },
	{ "v1/gateway/rpc", "{\"device\":\"A\",\"data\":[]}", -1, TBG_CODEC_ERROR_WRONG_TYPE },
	{ "v1/gateway/rpc", "{\"device\":\"A\",\"data\":{\"method\":\"m\"}}", -1, TBG_CODEC_ERROR_MISSING_FIELD },
	{ "v1/gateway/rpc", "{\"device\":\"A\",\"data\":{\"id\":-1,\"method\":\"m\"}}", -1, TBG_CODEC_ERROR_WRONG_TYPE },
	{ "v1/gateway/rpc", "{\"device\":\"A\",\"data\":{\"id\":1.5,\"method\":\"m\"}}", -1, TBG_CODEC_ERROR_WRONG_TYPE },
	{ "v1/gateway/rpc", "{\"device\":\"A\",\"data\":{\"id\":\"1\",\"method\":\"m\"}}", -1, TBG_CODEC_ERROR_WRONG_TYPE },
	{ "v1/gateway/rpc", "{\"device\":\"A\",\"data\":{\"id\":99999999999999999999999,\"method\":\"m\"}}", -1, TBG_CODEC_ERROR_NOT_JSON },
	{ "v1/gateway/rpc", "{\"device\":\"A\",\"data\":{\"id\":1,\"method\":7}}", -1, TBG_CODEC_ERROR_WRONG_TYPE },
	{ "v1/gateway/rpc", "{\"device\":\"A\",\"data\":{\"id\":1}}", -1, TBG_CODEC_ERROR_MISSING_FIELD },
	{ "v1/gateway/rpc", "{\"device\":\"\xff\",\"data\":{}}", -1, TBG_CODEC_ERROR_NOT_JSON },
	{ "v1/gateway/rpc", "{\"device\":\"A\\u0000B\",\"data\":{}}", -1, TBG_CODEC_ERROR_NOT_JSON },
	{ "v1/gateway/rpc", "{\"a\":\0}", 7, TBG_CODEC_ERROR_NOT_JSON },
	{ "v1/gateway/attributes", "{\"device\":\"A\"}", -1, TBG_CODEC_ERROR_MISSING_FIELD },
	{ "v1/gateway/attributes", "{\"device\":\"A\",\"data\":5}", -1, TBG_CODEC_ERROR_WRONG_TYPE },
	{ "v1/gateway/attributes", "{\"device\":\"A\",\"data\":{\"deleted\":\"x\"}}", -1, TBG_CODEC_ERROR_WRONG_TYPE },
	{ "v1/gateway/attributes", "{\"device\":\"A\",\"data\":{\"deleted\":[1]}}", -1, TBG_CODEC_ERROR_WRONG_TYPE },
	{ "v1/gateway/attributes/response", "{\"device\":\"A\",\"value\":1}", -1, TBG_CODEC_ERROR_MISSING_FIELD },
	{ "v1/gateway/attributes/response", "{\"id\":1,\"value\":1}", -1, TBG_CODEC_ERROR_MISSING_FIELD },
	{ "v1/gateway/attributes/response", "{\"id\":1,\"device\":\"A\",\"values\":[1]}", -1, TBG_CODEC_ERROR_WRONG_TYPE },
	{ "v1/gateway/attributes/response", "{\"id\":1,\"device\":\"A\",\"shared\":1}", -1, TBG_CODEC_ERROR_WRONG_TYPE },
	{ "v1/devices/me/rpc/request/abc", "{\"method\":\"ping\"}", -1, TBG_CODEC_ERROR_BAD_VALUE },
	{ "v1/devices/me/rpc/request/12a", "{\"method\":\"ping\"}", -1, TBG_CODEC_ERROR_BAD_VALUE },
	{ "v1/devices/me/rpc/request/", "{\"method\":\"ping\"}", -1, TBG_CODEC_ERROR_BAD_VALUE },
	{ "v1/devices/me/rpc/request/-1", "{\"method\":\"ping\"}", -1, TBG_CODEC_ERROR_BAD_VALUE },
	{ "v1/devices/me/rpc/request/99999999999999999999", "{\"method\":\"ping\"}", -1, TBG_CODEC_ERROR_BAD_VALUE },
	{ "v1/devices/me/rpc/request/1", "{\"params\":{}}", -1, TBG_CODEC_ERROR_MISSING_FIELD },
	{ "v1/devices/me/attributes", "[1]", -1, TBG_CODEC_ERROR_WRONG_TYPE },
	{ "v1/gateway/telemetry", "{}", -1, TBG_CODEC_ERROR_UNKNOWN_TOPIC },
	{ "v1/devices/me/rpc/response/1", "{}", -1, TBG_CODEC_ERROR_UNKNOWN_TOPIC },
};

static void
test_decode_bad (gconstpointer data)
{
	const BadDownlink *c = data;
	g_autoptr (GError) error = NULL;
	TbgDownlink d;
	gsize len = c->len < 0 ? strlen (c->payload) : (gsize) c->len;

	g_assert_false (tbg_codec_decode (c->topic, c->payload, len, &d, &error));
	g_assert_error (error, TBG_CODEC_ERROR, (gint) c->code);
	/* Every message names the topic it is about. */
	g_assert_true (g_str_has_prefix (error->message, "v1/"));
	tbg_downlink_clear (&d);
	tbg_downlink_clear (&d);   /* idempotent */
}

static void
test_decode_not_terminated (void)
{
	g_autoptr (GError) error = NULL;
	const char buf[] = "{\"method\":\"ping\"}XXXX";
	TbgDownlink d;

	g_assert_true (tbg_codec_decode ("v1/devices/me/rpc/request/1", buf, 17, &d, &error));
	g_assert_cmpstr (d.method, ==, "ping");
	tbg_downlink_clear (&d);
}

int
main (int argc, char **argv)
{
	g_test_init (&argc, &argv, NULL);
	g_test_add_func ("/codec/connect-disconnect", test_connect_disconnect);
	g_test_add_func ("/codec/rpc-response", test_rpc_response);
	g_test_add_func ("/codec/attribute-requests", test_attribute_requests);
	g_test_add_func ("/codec/without-nulls", test_without_nulls);
	g_test_add_func ("/codec/sample-and-claim", test_sample_and_claim);
	g_test_add_func ("/codec/pack/telemetry", test_pack_telemetry);
	g_test_add_func ("/codec/pack/attributes-and-claim", test_pack_attributes_and_claim);
	g_test_add_func ("/codec/pack/boundaries", test_pack_boundaries);
	g_test_add_func ("/codec/pack/escaped-names", test_pack_escaped_names);
	g_test_add_func ("/codec/pack/property", test_pack_property);
	g_test_add_func ("/codec/decode/rpc", test_decode_rpc);
	g_test_add_func ("/codec/decode/attributes", test_decode_attributes);
	g_test_add_func ("/codec/decode/attribute-responses", test_decode_attribute_responses);
	g_test_add_func ("/codec/decode/own-rpc", test_decode_own_rpc);
	g_test_add_func ("/codec/decode/not-terminated", test_decode_not_terminated);
	for (guint i = 0; i < G_N_ELEMENTS (bad_downlinks); i++) {
		g_autofree char *name = g_strdup_printf ("/codec/decode/bad/%u", i);

		g_test_add_data_func (name, &bad_downlinks[i], test_decode_bad);
	}
	return g_test_run ();
}
