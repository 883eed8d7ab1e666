/* SPDX-License-Identifier: Apache-2.0 */
/* tbgwctl's output code alone: cells, cutting, tables, times. */
#include "tbgwctl-output.h"

#include <string.h>

static void
test_cells (void)
{
	g_assert_cmpuint (tbg_ctl_cells (""), ==, 0);
	g_assert_cmpuint (tbg_ctl_cells ("Thermo 1"), ==, 8);
	g_assert_cmpuint (tbg_ctl_cells ("Küche"), ==, 5);
	/* CJK and most emoji take two cells; a combining accent none */
	g_assert_cmpuint (tbg_ctl_cells ("温度计"), ==, 6);
	g_assert_cmpuint (tbg_ctl_cells ("☕"), ==, 2);
	g_assert_cmpuint (tbg_ctl_cells ("e\xcc\x81"), ==, 1);
}

static void
test_printable (void)
{
	g_autofree char *a = tbg_ctl_printable ("a\nb\033[2Jc\x7f");
	g_autofree char *b = tbg_ctl_printable ("bad \xff utf8");
	g_autofree char *c = tbg_ctl_printable (NULL);

	g_assert_cmpstr (a, ==, "a\xef\xbf\xbd" "b\xef\xbf\xbd[2Jc\xef\xbf\xbd");
	g_assert_true (g_utf8_validate (b, -1, NULL));
	g_assert_null (strchr (b, '\xff'));
	g_assert_cmpstr (c, ==, "");
}

static void
test_truncate (void)
{
	static const struct { const char *in; gsize cells; const char *out; } cases[] = {
		{ "Boiler room", 20, "Boiler room" },
		{ "Boiler room", 11, "Boiler room" },
		{ "Boiler room", 10, "Boiler ro…" },
		{ "Boiler room", 1, "…" },
		{ "Boiler room", 0, "" },
		/* a wide character that does not fit is left out whole */
		{ "温度计", 5, "温度…" },
		{ "温度计", 4, "温…" },
		{ "", 3, "" },
	};

	for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
		g_autofree char *got = tbg_ctl_truncate (cases[i].in, cases[i].cells);

		g_assert_cmpstr (got, ==, cases[i].out);
		g_assert_cmpuint (tbg_ctl_cells (got), <=, cases[i].cells);
	}
}

static void
test_table (void)
{
	g_autoptr (TbgCtlTable) t = tbg_ctl_table_new (3, (const char * const[]) { "NAME", "TYPE", "SEEN" });
	g_autofree char *wide = NULL, *narrow = NULL, *tiny = NULL;
	g_auto (GStrv) lines = NULL;

	tbg_ctl_table_add_row (t, (const char * const[]) { "温度计", "default", "never" });
	tbg_ctl_table_add_row (t, (const char * const[]) { "a-very-long-device-name", "x", "3 s ago" });
	wide = tbg_ctl_table_render (t, 0);
	g_assert_cmpstr (wide, ==,
	                 "NAME                     TYPE     SEEN\n"
	                 "温度计                   default  never\n"
	                 "a-very-long-device-name  x        3 s ago\n");
	/* 30 cells: the name column gives way first */
	narrow = tbg_ctl_table_render (t, 30);
	g_assert_cmpstr (narrow, ==,
	                 "NAME          TYPE     SEEN\n"
	                 "温度计        default  never\n"
	                 "a-very-long…  x        3 s ago\n");
	/* narrower than the columns can go: every line is cut */
	tiny = tbg_ctl_table_render (t, 12);
	lines = g_strsplit (tiny, "\n", -1);
	g_assert_cmpuint (g_strv_length (lines), ==, 4);
	for (guint i = 0; lines[i] != NULL; i++)
		g_assert_cmpuint (tbg_ctl_cells (lines[i]), <=, 12);
}

static void
test_times (void)
{
	g_autoptr (GDateTime) t = g_date_time_new_utc (2026, 11, 29, 20, 3, 4.123456);
	g_autofree char *rfc = tbg_ctl_time_rfc3339 (t);
	gint64 now = 1700000000000;
	static const struct { gint64 ago_ms; const char *text; } ago[] = {
		{ 0, "just now" }, { 999, "just now" }, { 3000, "3 s ago" }, { 119999, "119 s ago" },
		{ 120000, "2 min ago" }, { 3 * 3600000, "3 h ago" }, { 5 * 86400000LL, "5 d ago" },
		{ -60000, "in the future" },
	};

	g_assert_cmpstr (rfc, ==, "2026-11-29T20:03:04.123Z");
	for (guint i = 0; i < G_N_ELEMENTS (ago); i++) {
		g_autofree char *got = tbg_ctl_time_ago (now, (guint64) (now - ago[i].ago_ms));

		g_assert_cmpstr (got, ==, ago[i].text);
	}
	{
		g_autofree char *never = tbg_ctl_time_ago (now, 0);

		g_assert_cmpstr (never, ==, "never");
	}
}

int
main (int argc, char **argv)
{
	g_test_init (&argc, &argv, NULL);
	g_test_add_func ("/ctl-output/cells", test_cells);
	g_test_add_func ("/ctl-output/printable", test_printable);
	g_test_add_func ("/ctl-output/truncate", test_truncate);
	g_test_add_func ("/ctl-output/table", test_table);
	g_test_add_func ("/ctl-output/times", test_times);
	return g_test_run ();
}
