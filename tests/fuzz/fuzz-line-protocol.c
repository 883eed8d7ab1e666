/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for serial input: arbitrary bytes, fed in chunks whose
 * sizes come from the input itself, through the framer and both parsers. */
#include "line-protocol.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
line_cb (const char *line, gsize len, TbgLineStatus status, gpointer user_data)
{
	TbgLineMessage m;
	GError *error = NULL;

	if (status != TBG_LINE_OK)
		return;
	for (int f = TBG_LINE_FORMAT_JSON; f <= TBG_LINE_FORMAT_PLOTTER; f++) {
		if (!tbg_line_parse (f, line, len, &m, &error)) {
			if (error == NULL)
				__builtin_trap ();
			g_clear_error (&error);
		} else if (m.kind == TBG_LINE_TELEMETRY && json_object_size (m.values) == 0) {
			__builtin_trap ();   /* never empty telemetry */
		} else if (m.values_text != NULL) {
			/* text forwarded as written must say exactly what was parsed */
			json_t *again = json_loadb (m.values_text, m.values_len, 0, NULL);

			if (again == NULL || !json_equal (again, m.values) || m.values_text < line ||
			    m.values_text + m.values_len > line + len)
				__builtin_trap ();
			json_decref (again);
		}
		tbg_line_message_clear (&m);
	}
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
	TbgLineFramer *f;
	size_t pos = 1;

	if (size < 1)
		return 0;
	f = tbg_line_framer_new (16 + data[0] % 64);
	while (pos < size) {
		size_t chunk = 1 + data[pos - 1] % 17;

		if (chunk > size - pos)
			chunk = size - pos;
		tbg_line_framer_feed (f, data + pos, chunk, line_cb, NULL);
		pos += chunk;
	}
	tbg_line_framer_free (f);
	return 0;
}
