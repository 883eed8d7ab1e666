/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for characteristic values: the first byte picks the
 * format; the rest is the value a device sent. Integer, bool and hex values
 * must encode back to the very same bytes. The same value as each standard
 * characteristic: decoded or refused with an error, never both. */
#include "gatt-codec.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
	TbgGattFormat f;
	GError *error = NULL;
	json_t *v;

	if (size < 1)
		return 0;
	for (guint i = 0; i < 4; i++) {
		static const char * const uuids[] = { "2a19", "2a6e", "2a6f", "2a6d" };
		const char *key = NULL;
		gboolean ok;

		v = NULL;
		ok = tbg_gatt_decode_standard (uuids[i], data + 1, size - 1, &key, &v, &error);
		if (ok != (v != NULL) || ok == (error != NULL) || (ok && key == NULL))
			__builtin_trap ();
		g_clear_error (&error);
		json_decref (v);
	}
	f = (TbgGattFormat) (data[0] % (TBG_GATT_BOOL + 1));
	v = tbg_gatt_decode (f, 1, 0, data + 1, size - 1, &error);
	if (v == NULL) {
		if (error == NULL)
			__builtin_trap ();
		g_error_free (error);
		return 0;
	}
	if (f != TBG_GATT_FLOAT32LE && f != TBG_GATT_UTF8 && f != TBG_GATT_BOOL) {
		GBytes *b = tbg_gatt_encode (f, 1, 0, v, NULL);

		if (b == NULL || g_bytes_get_size (b) != size - 1 ||
		    (size > 1 && memcmp (g_bytes_get_data (b, NULL), data + 1, size - 1) != 0))
			__builtin_trap ();
		g_bytes_unref (b);
	}
	json_decref (v);
	return 0;
}
