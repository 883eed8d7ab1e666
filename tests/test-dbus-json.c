/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of D-Bus ↔ JSON: types are kept, unsupported ones named. */
#include "dbus-json.h"

#include <gio/gio.h>

#include <stdlib.h>
#include <string.h>

static void
assert_json (json_t *j, const char *expected)
{
	json_t *e = json_loads (expected, JSON_DECODE_ANY, NULL);

	g_assert_nonnull (j);
	g_assert_nonnull (e);
	if (!json_equal (j, e)) {
		g_autofree char *copy = NULL;
		char *a = json_dumps (j, JSON_ENCODE_ANY);

		copy = g_strdup (a);
		free (a);
		g_error ("got %s, expected %s", copy, expected);
	}
	json_decref (e);
}

static void
test_types_kept (void)
{
	g_autoptr (GError) error = NULL;
	GVariant *v = g_variant_ref_sink (g_variant_new_parsed (
		"{'i': <int32 -3>, 'u': <uint32 7>, 'x': <int64 9007199254740993>, 't': <uint64 5>,"
		" 'y': <byte 0xff>, 'n': <int16 -2>, 'q': <uint16 2>, 'd': <21.5>, 'whole': <2.0>,"
		" 'b': <true>, 's': <'h\u00e9'>, 'as': <['a', 'b']>, 'ai': <[1, 2]>,"
		" 'av': <[<1>, <'x'>, <false>]>, 'nested': <{'a': <{'b': <1.5>}>}>,"
		" 'vv': <<<3>>>, 'none': <@mv nothing>, 'some': <@mi just 4>}"));
	json_t *j = tbg_vardict_to_json (v, &error);

	g_assert_no_error (error);
	assert_json (j, "{\"i\":-3,\"u\":7,\"x\":9007199254740993,\"t\":5,\"y\":255,\"n\":-2,\"q\":2,"
	                "\"d\":21.5,\"whole\":2.0,\"b\":true,\"s\":\"h\\u00e9\",\"as\":[\"a\",\"b\"],"
	                "\"ai\":[1,2],\"av\":[1,\"x\",false],\"nested\":{\"a\":{\"b\":1.5}},\"vv\":3,"
	                "\"none\":null,\"some\":4}");
	g_assert_true (json_is_integer (json_object_get (j, "i")));
	g_assert_true (json_is_real (json_object_get (j, "whole")));
	json_decref (j);
	g_variant_unref (v);
}

static void
test_unsupported (void)
{
	static const char * const bad[] = {
		"{'fd': <handle 3>}", "{'path': <objectpath '/x'>}", "{'sig': <signature 's'>}",
		"{'tuple': <(1, 2)>}", "{'intkeys': <{1: 2}>}", "{'nan': <nan>}", "{'inf': <inf>}",
		"{'big': <uint64 18446744073709551615>}",
	};

	for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
		g_autoptr (GError) error = NULL;
		GVariant *v = g_variant_ref_sink (g_variant_new_parsed (bad[i]));
		json_t *j = tbg_vardict_to_json (v, &error);

		g_assert_null (j);
		g_assert_nonnull (error);
		/* the message names the key */
		g_assert_nonnull (strstr (error->message, "key “"));
		g_variant_unref (v);
	}
}

static void
test_round_trip (void)
{
	json_t *j = json_loads ("{\"a\":1,\"b\":2.5,\"c\":\"x\",\"d\":[1,null,\"y\"],\"e\":{\"f\":false},\"g\":null}", 0, NULL);
	GVariant *v = g_variant_ref_sink (tbg_json_to_vardict (j));
	json_t *back = tbg_vardict_to_json (v, NULL);

	json_t *expected = json_loads ("{\"a\":1,\"b\":2.5,\"c\":\"x\",\"d\":[1,\"y\"],\"e\":{\"f\":false}}", 0, NULL);
	g_autoptr (GDBusMessage) m = g_dbus_message_new_signal ("/a", "a.b", "C");
	g_autoptr (GError) error = NULL;
	gsize size;
	g_autofree guchar *blob = NULL;

	g_assert_cmpstr (g_variant_get_type_string (v), ==, "a{sv}");
	/* nulls are left out: D-Bus cannot carry them */
	g_assert_true (json_equal (expected, back));
	json_decref (expected);
	/* what we make goes on the wire */
	g_dbus_message_set_body (m, g_variant_new ("(@a{sv})", v));
	blob = g_dbus_message_to_blob (m, &size, G_DBUS_CAPABILITY_FLAGS_NONE, &error);
	g_assert_no_error (error);
	g_assert_nonnull (blob);
	json_decref (j);
	json_decref (back);
	g_variant_unref (v);
}

int
main (int argc, char **argv)
{
	g_test_init (&argc, &argv, NULL);
	g_test_add_func ("/dbus-json/types-kept", test_types_kept);
	g_test_add_func ("/dbus-json/unsupported", test_unsupported);
	g_test_add_func ("/dbus-json/round-trip", test_round_trip);
	return g_test_run ();
}
