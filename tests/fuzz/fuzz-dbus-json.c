/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for what D-Bus clients send: the first byte picks the
 * path. Odd: the rest is an a{sv} in GVariant wire format, as a client's
 * PushTelemetry argument arrives (untrusted, possibly not normal form) and
 * goes to JSON. Even: the rest is JSON (as ThingsBoard's attribute values)
 * that becomes a{sv} and must come back unchanged. */
#include "dbus-json.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
from_wire (const uint8_t *data, size_t size)
{
	g_autoptr (GBytes) bytes = g_bytes_new (data, size);
	g_autoptr (GVariant) v = g_variant_ref_sink (g_variant_new_from_bytes (G_VARIANT_TYPE_VARDICT, bytes, FALSE));
	GError *error = NULL;
	json_t *j = tbg_vardict_to_json (v, &error);

	if (j == NULL) {
		if (error == NULL)
			__builtin_trap ();   /* every refusal says why */
		g_error_free (error);
		return;
	}
	if (!json_is_object (j))
		__builtin_trap ();
	json_decref (j);
}

static gboolean
has_maybe (GVariant *v)
{
	gboolean found = g_variant_is_of_type (v, G_VARIANT_TYPE_MAYBE);

	if (!found && g_variant_is_container (v)) {
		for (gsize i = 0; i < g_variant_n_children (v) && !found; i++) {
			GVariant *c = g_variant_get_child_value (v, i);

			found = has_maybe (c);
			g_variant_unref (c);
		}
	}
	return found;
}

static void
from_json (const uint8_t *data, size_t size)
{
	json_t *in = json_loadb ((const char *) data, size, JSON_REJECT_DUPLICATES, NULL);
	GVariant *v;
	json_t *out;

	if (!json_is_object (in)) {
		json_decref (in);
		return;
	}
	v = g_variant_ref_sink (tbg_json_to_vardict (in));
	out = tbg_vardict_to_json (v, NULL);
	/* integers stay integers and reals reals, so the round trip is exact
	 * (but for nulls, which D-Bus cannot carry and are left out) */
	if (out == NULL || (!tbg_json_contains_null (in) && !json_equal (in, out)))
		__builtin_trap ();
	if (has_maybe (v))
		__builtin_trap ();   /* maybe types cannot go on the wire */
	json_decref (out);
	g_variant_unref (v);
	json_decref (in);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (data[0] & 1)
		from_wire (data + 1, size - 1);
	else
		from_json (data + 1, size - 1);
	return 0;
}
