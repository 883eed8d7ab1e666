/* SPDX-License-Identifier: Apache-2.0 */
/* tbgwctl-output.c — JSON lines, timestamps and tables for tbgwctl. */
#include "tbgwctl-output.h"
#include "i18n.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* Column gap: two spaces, as ps(1) and nmcli do. */
#define GAP 2
/* A column cut down to fit the terminal keeps at least this many cells. */
#define MIN_COLUMN 4

void
tbg_ctl_print_json (json_t *j)
{
	char *text = j ? json_dumps (j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;

	g_print ("%s\n", text ? text : "null");
	free (text);
}

static char *
with_ms (GDateTime *t, const char *date_fmt, const char *suffix)
{
	g_autofree char *base = g_date_time_format (t, date_fmt);

	return g_strdup_printf ("%s.%03d%s", base, g_date_time_get_microsecond (t) / 1000, suffix);
}

char *
tbg_ctl_time_rfc3339 (GDateTime *t)
{
	g_autoptr (GDateTime) utc = g_date_time_to_utc (t);

	return with_ms (utc, "%Y-%m-%dT%H:%M:%S", "Z");
}

char *
tbg_ctl_time_human (GDateTime *t)
{
	g_autoptr (GDateTime) local = g_date_time_to_local (t);

	return with_ms (local, "%Y-%m-%d %H:%M:%S", "");
}

char *
tbg_ctl_time_ago (gint64 now_ms, guint64 then_ms)
{
	gint64 s;

	if (then_ms == 0)
		return g_strdup (_("never"));
	if (then_ms > (guint64) G_MAXINT64 || (gint64) then_ms > now_ms + 1000)
		return g_strdup (_("in the future"));
	s = (now_ms - (gint64) then_ms) / 1000;
	if (s < 1)
		return g_strdup (_("just now"));
	if (s < 120)
		return g_strdup_printf (_("%" G_GINT64_FORMAT " s ago"), s);
	if (s < 2 * 3600)
		return g_strdup_printf (_("%" G_GINT64_FORMAT " min ago"), s / 60);
	if (s < 2 * 86400)
		return g_strdup_printf (_("%" G_GINT64_FORMAT " h ago"), s / 3600);
	return g_strdup_printf (_("%" G_GINT64_FORMAT " d ago"), s / 86400);
}

char *
tbg_ctl_printable (const char *text)
{
	g_autofree char *valid = g_utf8_make_valid (text ? text : "", -1);
	GString *out = g_string_sized_new (strlen (valid));

	for (const char *p = valid; *p != '\0'; p = g_utf8_next_char (p)) {
		gunichar c = g_utf8_get_char (p);

		/* C0, DEL and C1 controls: a name must not reach the terminal
		 * as an escape sequence or a line break */
		if (c < 0x20 || (c >= 0x7f && c < 0xa0))
			c = 0xfffd;
		g_string_append_unichar (out, c);
	}
	return g_string_free (out, FALSE);
}

static gsize
char_cells (gunichar c)
{
	if (g_unichar_iszerowidth (c))
		return 0;
	return g_unichar_iswide (c) ? 2 : 1;
}

gsize
tbg_ctl_cells (const char *text)
{
	gsize n = 0;

	for (const char *p = text; *p != '\0'; p = g_utf8_next_char (p))
		n += char_cells (g_utf8_get_char (p));
	return n;
}

char *
tbg_ctl_truncate (const char *text, gsize cells)
{
	GString *out;
	gsize used = 0;

	if (tbg_ctl_cells (text) <= cells)
		return g_strdup (text);
	out = g_string_new (NULL);
	if (cells == 0)
		return g_string_free (out, FALSE);
	/* leave one cell for the ellipsis */
	for (const char *p = text; *p != '\0'; p = g_utf8_next_char (p)) {
		gunichar c = g_utf8_get_char (p);
		gsize w = char_cells (c);

		if (used + w > cells - 1)
			break;
		g_string_append_unichar (out, c);
		used += w;
	}
	g_string_append (out, "…");
	return g_string_free (out, FALSE);
}

guint
tbg_ctl_terminal_width (int fd)
{
	const char *env = g_getenv ("COLUMNS");
	guint64 n;
	struct winsize ws;

	if (!isatty (fd))
		return 0;
	if (env != NULL && g_ascii_string_to_unsigned (env, 10, 1, 10000, &n, NULL))
		return (guint) n;
	if (ioctl (fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	return 80;
}

struct _TbgCtlTable {
	guint      n_columns;
	GPtrArray *rows;        /* of char ** (n_columns each); row 0 = headers */
};

TbgCtlTable *
tbg_ctl_table_new (guint n_columns, const char * const *headers)
{
	TbgCtlTable *t = g_new0 (TbgCtlTable, 1);

	g_return_val_if_fail (n_columns > 0, NULL);
	t->n_columns = n_columns;
	t->rows = g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);
	tbg_ctl_table_add_row (t, headers);
	return t;
}

void
tbg_ctl_table_add_row (TbgCtlTable *t, const char * const *cells)
{
	char **row = g_new0 (char *, t->n_columns + 1);

	for (guint i = 0; i < t->n_columns; i++)
		row[i] = tbg_ctl_printable (cells[i]);
	g_ptr_array_add (t->rows, row);
}

static gsize
total_width (const gsize *widths, guint n)
{
	gsize sum = (n - 1) * GAP;

	for (guint i = 0; i < n; i++)
		sum += widths[i];
	return sum;
}

char *
tbg_ctl_table_render (TbgCtlTable *t, guint max_cells)
{
	g_autofree gsize *widths = g_new0 (gsize, t->n_columns);
	GString *out = g_string_new (NULL);

	for (guint r = 0; r < t->rows->len; r++) {
		char **row = g_ptr_array_index (t->rows, r);

		for (guint i = 0; i < t->n_columns; i++)
			widths[i] = MAX (widths[i], tbg_ctl_cells (row[i]));
	}
	/* Too wide for the terminal: take one cell at a time from the widest
	 * column, so that long names give way before short columns do. */
	while (max_cells > 0 && total_width (widths, t->n_columns) > max_cells) {
		guint widest = 0;

		for (guint i = 1; i < t->n_columns; i++) {
			if (widths[i] > widths[widest])
				widest = i;
		}
		if (widths[widest] <= MIN_COLUMN)
			break;
		widths[widest]--;
	}
	for (guint r = 0; r < t->rows->len; r++) {
		char **row = g_ptr_array_index (t->rows, r);
		GString *line = g_string_new (NULL);

		for (guint i = 0; i < t->n_columns; i++) {
			g_autofree char *cell = tbg_ctl_truncate (row[i], widths[i]);
			gboolean last = i + 1 == t->n_columns;

			g_string_append (line, cell);
			if (!last) {
				for (gsize pad = tbg_ctl_cells (cell); pad < widths[i] + GAP; pad++)
					g_string_append_c (line, ' ');
			}
		}
		/* a terminal narrower than even the narrowed columns */
		if (max_cells > 0 && tbg_ctl_cells (line->str) > max_cells) {
			g_autofree char *cut = tbg_ctl_truncate (line->str, max_cells);

			g_string_assign (line, cut);
		}
		while (line->len > 0 && line->str[line->len - 1] == ' ')
			g_string_truncate (line, line->len - 1);
		g_string_append (out, line->str);
		g_string_append_c (out, '\n');
		g_string_free (line, TRUE);
	}
	return g_string_free (out, FALSE);
}

void
tbg_ctl_table_free (TbgCtlTable *t)
{
	if (t == NULL)
		return;
	g_ptr_array_unref (t->rows);
	g_free (t);
}
