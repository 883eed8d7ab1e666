/* SPDX-License-Identifier: Apache-2.0 */
/* tbgwctl-output.h — how tbgwctl prints: JSON lines, timestamps, relative
 * times and tables measured in terminal cells. Pure: no bus, no main loop,
 * so it is tested alone (tests/test-ctl-output.c). */
#pragma once

#include <glib.h>
#include <jansson.h>

void   tbg_ctl_print_json (json_t *j);

/* "2026-11-29T20:03:04.123Z": RFC 3339, UTC, milliseconds (for --json). */
char  *tbg_ctl_time_rfc3339 (GDateTime *t);
/* "2026-11-29 21:03:04.123": local time, for people. */
char  *tbg_ctl_time_human (GDateTime *t);
/* @then_ms (ms since the epoch, 0 = never) relative to @now_ms: "never",
 * "just now", "3 s ago", "5 min ago", "2 h ago", "4 d ago". */
char  *tbg_ctl_time_ago (gint64 now_ms, guint64 then_ms);

/* Text as a terminal shows it on one line: invalid UTF-8 and control
 * characters become U+FFFD, so that a device name cannot move the cursor. */
char  *tbg_ctl_printable (const char *text);
/* Width of printable UTF-8 in terminal cells (wide characters take two,
 * combining marks none). */
gsize  tbg_ctl_cells (const char *text);
/* @text cut to at most @cells cells, ending in "…" when cut. */
char  *tbg_ctl_truncate (const char *text, gsize cells);

/* The width to fit into: 0 (no limit) when @fd is no terminal; else
 * $COLUMNS, the terminal's size (TIOCGWINSZ), or 80. */
guint  tbg_ctl_terminal_width (int fd);

typedef struct _TbgCtlTable TbgCtlTable;
TbgCtlTable *tbg_ctl_table_new (guint n_columns, const char * const *headers);
/* @cells: n_columns strings, copied (made printable). */
void         tbg_ctl_table_add_row (TbgCtlTable *table, const char * const *cells);
/* Columns as wide as their widest cell, two spaces apart, no trailing
 * blanks. With @max_cells > 0 the widest columns give way first, cut with
 * "…", until each line fits. */
char        *tbg_ctl_table_render (TbgCtlTable *table, guint max_cells);
void         tbg_ctl_table_free (TbgCtlTable *table);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TbgCtlTable, tbg_ctl_table_free)
