/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for tbgwctl's KEY=VALUE words (anything a user or a
 * script may type): each NUL-separated piece of the input is one word.
 * A word is refused with a reason or lands in the object under its key,
 * and what the client would then send turns into an a{sv}. */
#include "tbgwctl-values.h"
#include "dbus-json.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
	json_t *obj = json_object ();
	const char *p = (const char *) data, *end = p + size;

	while (p <= end) {
		const char *nul = memchr (p, '\0', (size_t) (end - p));
		g_autofree char *word = g_strndup (p, nul ? (gsize) (nul - p) : (gsize) (end - p));
		GError *error = NULL;

		if (tbg_ctl_add_pair (obj, word, &error)) {
			g_autofree char *key = g_strndup (word, (gsize) (strchr (word, '=') - word));

			if (json_object_get (obj, key) == NULL)
				__builtin_trap ();   /* accepted but not there */
		} else {
			if (error == NULL || *error->message == '\0')
				__builtin_trap ();   /* every refusal says why */
			g_error_free (error);
		}
		if (nul == NULL)
			break;
		p = nul + 1;
	}
	if (!tbg_json_contains_null (obj) && json_object_size (obj) > 0) {
		GVariant *v = g_variant_ref_sink (tbg_json_to_vardict (obj));

		if (!g_variant_is_of_type (v, G_VARIANT_TYPE_VARDICT))
			__builtin_trap ();
		g_variant_unref (v);
	}
	json_decref (obj);
	return 0;
}
