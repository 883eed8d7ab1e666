/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for tbgwctl's table: device names and types are
 * whatever a source or a D-Bus client chose, bytes included. The first
 * byte is the terminal width (0: not a terminal), the rest NUL-separated
 * cells, three a row. Every line must fit, be UTF-8 and hold no control
 * character; cut text must fit its cells. */
#include "tbgwctl-output.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
check_text (const char *text, gsize max_cells)
{
	g_auto (GStrv) lines = NULL;

	if (!g_utf8_validate (text, -1, NULL))
		__builtin_trap ();
	lines = g_strsplit (text, "\n", -1);
	for (guint i = 0; lines[i] != NULL; i++) {
		for (const char *c = lines[i]; *c; c++) {
			if ((unsigned char) *c < 0x20 || *c == 0x7f)
				__builtin_trap ();
		}
		if (max_cells > 0 && tbg_ctl_cells (lines[i]) > max_cells)
			__builtin_trap ();
	}
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
	g_autoptr (TbgCtlTable) t = NULL;
	g_autoptr (GPtrArray) cells = g_ptr_array_new_with_free_func (g_free);
	g_autofree char *out = NULL;
	guint width;
	const char *p, *end;

	if (size == 0)
		return 0;
	width = data[0];
	p = (const char *) data + 1;
	end = (const char *) data + size;
	while (p <= end) {
		const char *nul = memchr (p, '\0', (size_t) (end - p));

		g_ptr_array_add (cells, g_strndup (p, nul ? (gsize) (nul - p) : (gsize) (end - p)));
		if (nul == NULL)
			break;
		p = nul + 1;
	}
	for (guint i = 0; i < cells->len; i++) {
		g_autofree char *shown = tbg_ctl_printable (cells->pdata[i]);
		g_autofree char *cut = tbg_ctl_truncate (shown, width);

		check_text (shown, 0);
		if (tbg_ctl_cells (cut) > width)
			__builtin_trap ();
	}
	t = tbg_ctl_table_new (3, (const char * const[]) { "NAME", "TYPE", "LAST SEEN" });
	while (cells->len % 3 != 0)
		g_ptr_array_add (cells, g_strdup (""));
	for (guint i = 0; i < cells->len; i += 3)
		tbg_ctl_table_add_row (t, (const char * const *) &cells->pdata[i]);
	out = tbg_ctl_table_render (t, width);
	check_text (out, width);
	return 0;
}
