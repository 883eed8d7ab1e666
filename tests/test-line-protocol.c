/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of line-protocol.c: framing, both line formats, every class of
 * garbage, and the lines written back to devices. */
#include "line-protocol.h"

#include <string.h>

typedef struct {
	GPtrArray *lines;     /* "OK:text", "LONG:n", "BAD:n" */
} Collect;

static void
collect_cb (const char *line, gsize len, TbgLineStatus status, gpointer data)
{
	Collect *c = data;

	if (status == TBG_LINE_OK)
		g_ptr_array_add (c->lines, g_strdup_printf ("OK:%.*s", (int) len, line));
	else if (status == TBG_LINE_TOO_LONG)
		g_ptr_array_add (c->lines, g_strdup_printf ("LONG:%zu", len));
	else
		g_ptr_array_add (c->lines, g_strdup_printf ("BAD:%zu", len));
}

static char *
frame (gsize max, const char * const *chunks, const gsize *lens)
{
	TbgLineFramer *f = tbg_line_framer_new (max);
	Collect c = { g_ptr_array_new_with_free_func (g_free) };
	char *joined;

	for (guint i = 0; chunks[i] != NULL; i++)
		tbg_line_framer_feed (f, (const guint8 *) chunks[i],
		                      lens ? lens[i] : strlen (chunks[i]), collect_cb, &c);
	g_ptr_array_add (c.lines, NULL);
	joined = g_strjoinv ("|", (char **) c.lines->pdata);
	g_ptr_array_unref (c.lines);
	tbg_line_framer_free (f);
	return joined;
}

#define FRAMES(max, expected, ...) G_STMT_START { \
	const char * const chunks_[] = { __VA_ARGS__, NULL }; \
	g_autofree char *got_ = frame ((max), chunks_, NULL); \
	g_assert_cmpstr (got_, ==, (expected)); \
} G_STMT_END

static void
test_framer_endings (void)
{
	FRAMES (100, "OK:a|OK:b|OK:c", "a\nb\rc\r\n");
	FRAMES (100, "OK:a|OK:b", "a\r", "\nb\n");          /* CRLF split across feeds */
	FRAMES (100, "OK:a|OK:|OK:b", "a\n\nb\n");          /* a blank line is a line */
	FRAMES (100, "OK:ab|OK:cd", "a", "b\n", "c", "d\r\n");
	FRAMES (100, "OK:x", "x\n", "partial");             /* no end yet: held back */
	FRAMES (100, "OK:a|OK:|OK:b", "a\r\r\nb\n");        /* CR, then CRLF: two line ends */
}

static void
test_framer_byte_at_a_time (void)
{
	const char *text = "{\"t\":1}\r\n{\"t\":2}\n{\"t\":3}\r";
	TbgLineFramer *f = tbg_line_framer_new (64);
	Collect c = { g_ptr_array_new_with_free_func (g_free) };

	for (gsize i = 0; i < strlen (text); i++)
		tbg_line_framer_feed (f, (const guint8 *) text + i, 1, collect_cb, &c);
	g_assert_cmpuint (c.lines->len, ==, 3);
	g_assert_cmpstr (c.lines->pdata[0], ==, "OK:{\"t\":1}");
	g_assert_cmpstr (c.lines->pdata[2], ==, "OK:{\"t\":3}");
	g_ptr_array_unref (c.lines);
	tbg_line_framer_free (f);
}

static void
test_framer_limits (void)
{
	/* Exactly the limit passes; one more is dropped, and the next line survives. */
	FRAMES (4, "OK:abcd", "abcd\n");
	FRAMES (4, "LONG:5|OK:ok", "abcde\nok\n");
	FRAMES (4, "LONG:12|OK:ok", "abc", "defgh", "ijkl\n", "ok\n");
	FRAMES (4, "LONG:9|OK:ab", "abcdefghi\r", "\nab\n");
	{
		const char * const chunks[] = { "a\0b\nok\n", NULL };
		const gsize lens[] = { 7 };
		g_autofree char *got = frame (16, chunks, lens);

		g_assert_cmpstr (got, ==, "BAD:3|OK:ok");
	}
}

static void
test_framer_reset (void)
{
	TbgLineFramer *f = tbg_line_framer_new (16);
	Collect c = { g_ptr_array_new_with_free_func (g_free) };

	tbg_line_framer_feed (f, (const guint8 *) "half", 4, collect_cb, &c);
	tbg_line_framer_reset (f);
	tbg_line_framer_feed (f, (const guint8 *) "new\n", 4, collect_cb, &c);
	g_assert_cmpuint (c.lines->len, ==, 1);
	g_assert_cmpstr (c.lines->pdata[0], ==, "OK:new");
	g_ptr_array_unref (c.lines);
	tbg_line_framer_free (f);
}

static void
parse_ok (TbgLineFormat fmt, const char *line, TbgLineMessage *m)
{
	g_autoptr (GError) error = NULL;

	if (!tbg_line_parse (fmt, line, strlen (line), m, &error))
		g_error ("“%s”: %s", line, error->message);
}

static void
assert_values (json_t *actual, const char *expected)
{
	json_t *e = json_loads (expected, 0, NULL);

	g_assert_nonnull (e);
	if (!json_equal (actual, e)) {
		g_autofree char *a = json_dumps (actual, 0);

		g_error ("got %s, expected %s", a, expected);
	}
	json_decref (e);
}

/* A plain values object with no nulls is handed on as written (its text
 * within the line, surrounding blanks trimmed); every other form is not. */
static void
test_values_text (void)
{
	const char *line = " \t{\"t\": 21.50, \"n\":1E2,\"s\":\"\\u00e9\"}  ";
	const char * const not_text[] = {
		"{\"t\":1,\"gone\":null}",
		"{\"ts\":1700000000000,\"values\":{\"t\":1}}",
		"{\"attributes\":{\"fw\":\"1.2\"}}",
		"{\"id\":1,\"result\":2}",
	};
	const char *written = "{\"t\": 21.50, \"n\":1E2,\"s\":\"\\u00e9\"}";
	TbgLineMessage m;

	parse_ok (TBG_LINE_FORMAT_JSON, line, &m);
	g_assert_cmpint (m.kind, ==, TBG_LINE_TELEMETRY);
	g_assert_true (m.values_text == line + 2);
	g_assert_cmpmem (m.values_text, m.values_len, written, strlen (written));
	assert_values (m.values, "{\"t\":21.5,\"n\":100.0,\"s\":\"\u00e9\"}");
	tbg_line_message_clear (&m);
	g_assert_null (m.values_text);
	g_assert_cmpuint (m.values_len, ==, 0);

	for (gsize i = 0; i < G_N_ELEMENTS (not_text); i++) {
		parse_ok (TBG_LINE_FORMAT_JSON, not_text[i], &m);
		g_assert_null (m.values_text);
		tbg_line_message_clear (&m);
	}
	parse_ok (TBG_LINE_FORMAT_PLOTTER, "t:1 h:2", &m);
	g_assert_null (m.values_text);
	tbg_line_message_clear (&m);
}

static void
test_json_lines (void)
{
	TbgLineMessage m;

	parse_ok (TBG_LINE_FORMAT_JSON, "{\"temp\":21.5,\"hum\":40}", &m);
	g_assert_cmpint (m.kind, ==, TBG_LINE_TELEMETRY);
	g_assert_cmpint (m.ts, ==, 0);
	assert_values (m.values, "{\"temp\":21.5,\"hum\":40}");
	g_assert_true (json_is_integer (json_object_get (m.values, "hum")));
	g_assert_true (json_is_real (json_object_get (m.values, "temp")));
	tbg_line_message_clear (&m);

	parse_ok (TBG_LINE_FORMAT_JSON, "  {\"ts\":1700000000000,\"values\":{\"a\":\"x\",\"n\":null,\"o\":{\"b\":[true]}}}\t", &m);
	g_assert_cmpint (m.kind, ==, TBG_LINE_TELEMETRY);
	g_assert_cmpint (m.ts, ==, 1700000000000);
	assert_values (m.values, "{\"a\":\"x\",\"o\":{\"b\":[true]}}");
	tbg_line_message_clear (&m);

	parse_ok (TBG_LINE_FORMAT_JSON, "{\"attributes\":{\"fw\":\"1.2\"}}", &m);
	g_assert_cmpint (m.kind, ==, TBG_LINE_ATTRIBUTES);
	assert_values (m.values, "{\"fw\":\"1.2\"}");
	tbg_line_message_clear (&m);

	parse_ok (TBG_LINE_FORMAT_JSON, "{\"id\":0,\"result\":{\"ok\":true}}", &m);
	g_assert_cmpint (m.kind, ==, TBG_LINE_RPC_REPLY);
	g_assert_cmpint (m.rpc_id, ==, 0);
	assert_values (m.result, "{\"ok\":true}");
	g_assert_null (m.error);
	tbg_line_message_clear (&m);

	parse_ok (TBG_LINE_FORMAT_JSON, "{\"id\":7,\"error\":\"stuck\"}", &m);
	g_assert_cmpint (m.rpc_id, ==, 7);
	g_assert_cmpstr (json_string_value (m.error), ==, "stuck");
	tbg_line_message_clear (&m);

	parse_ok (TBG_LINE_FORMAT_JSON, "   ", &m);
	g_assert_cmpint (m.kind, ==, TBG_LINE_EMPTY);
	tbg_line_message_clear (&m);
	/* "id" alone is just a telemetry key */
	parse_ok (TBG_LINE_FORMAT_JSON, "{\"id\":3}", &m);
	g_assert_cmpint (m.kind, ==, TBG_LINE_TELEMETRY);
	tbg_line_message_clear (&m);
}

static void
test_plotter_lines (void)
{
	TbgLineMessage m;

	parse_ok (TBG_LINE_FORMAT_PLOTTER, "temp:21.5,hum:40", &m);
	g_assert_cmpint (m.kind, ==, TBG_LINE_TELEMETRY);
	assert_values (m.values, "{\"temp\":21.5,\"hum\":40}");
	g_assert_true (json_is_integer (json_object_get (m.values, "hum")));
	tbg_line_message_clear (&m);
	parse_ok (TBG_LINE_FORMAT_PLOTTER, "temp:21.5 hum:40\tp:-3", &m);
	assert_values (m.values, "{\"temp\":21.5,\"hum\":40,\"p\":-3}");
	tbg_line_message_clear (&m);
	parse_ok (TBG_LINE_FORMAT_PLOTTER, "21.5 40, 1e3", &m);
	assert_values (m.values, "{\"value1\":21.5,\"value2\":40,\"value3\":1000.0}");
	tbg_line_message_clear (&m);
	parse_ok (TBG_LINE_FORMAT_PLOTTER, ",, ,", &m);
	g_assert_cmpint (m.kind, ==, TBG_LINE_EMPTY);
	tbg_line_message_clear (&m);
}

typedef struct {
	TbgLineFormat format;
	const char   *line;
	TbgLineError  code;
} BadLine;

static const BadLine bad_lines[] = {
	{ TBG_LINE_FORMAT_JSON, "{\"temp\":21.5", TBG_LINE_ERROR_INVALID_JSON },
	{ TBG_LINE_FORMAT_JSON, "hello world", TBG_LINE_ERROR_INVALID_JSON },
	{ TBG_LINE_FORMAT_JSON, "{\"t\":NaN}", TBG_LINE_ERROR_INVALID_JSON },
	{ TBG_LINE_FORMAT_JSON, "{\"t\":Infinity}", TBG_LINE_ERROR_INVALID_JSON },
	{ TBG_LINE_FORMAT_JSON, "{\"t\":1e999}", TBG_LINE_ERROR_NON_FINITE },
	{ TBG_LINE_FORMAT_JSON, "{\"t\":99999999999999999999999}", TBG_LINE_ERROR_NON_FINITE },
	{ TBG_LINE_FORMAT_JSON, "[1,2]", TBG_LINE_ERROR_NOT_OBJECT },
	{ TBG_LINE_FORMAT_JSON, "42", TBG_LINE_ERROR_NOT_OBJECT },
	{ TBG_LINE_FORMAT_JSON, "{}", TBG_LINE_ERROR_EMPTY },
	{ TBG_LINE_FORMAT_JSON, "{\"a\":null}", TBG_LINE_ERROR_EMPTY },
	{ TBG_LINE_FORMAT_JSON, "{\"ts\":0,\"values\":{\"a\":1}}", TBG_LINE_ERROR_BAD_TS },
	{ TBG_LINE_FORMAT_JSON, "{\"ts\":1.5,\"values\":{\"a\":1}}", TBG_LINE_ERROR_BAD_TS },
	{ TBG_LINE_FORMAT_JSON, "{\"ts\":\"now\",\"values\":{\"a\":1}}", TBG_LINE_ERROR_BAD_TS },
	{ TBG_LINE_FORMAT_JSON, "{\"ts\":5,\"a\":1}", TBG_LINE_ERROR_BAD_VALUE },
	{ TBG_LINE_FORMAT_JSON, "{\"ts\":5,\"values\":[1]}", TBG_LINE_ERROR_BAD_VALUE },
	{ TBG_LINE_FORMAT_JSON, "{\"ts\":5,\"values\":{}}", TBG_LINE_ERROR_EMPTY },
	{ TBG_LINE_FORMAT_JSON, "{\"attributes\":{\"a\":1},\"temp\":2}", TBG_LINE_ERROR_BAD_VALUE },
	{ TBG_LINE_FORMAT_JSON, "{\"attributes\":5}", TBG_LINE_ERROR_BAD_VALUE },
	{ TBG_LINE_FORMAT_JSON, "{\"id\":-1,\"result\":1}", TBG_LINE_ERROR_BAD_ID },
	{ TBG_LINE_FORMAT_JSON, "{\"id\":\"x\",\"error\":1}", TBG_LINE_ERROR_BAD_ID },
	{ TBG_LINE_FORMAT_JSON, "{\"a\":1,\"a\":2}", TBG_LINE_ERROR_INVALID_JSON },
	{ TBG_LINE_FORMAT_JSON, "{\"a\":\"\xc3\x28\"}", TBG_LINE_ERROR_INVALID_UTF8 },
	{ TBG_LINE_FORMAT_PLOTTER, "temp:warm", TBG_LINE_ERROR_BAD_VALUE },
	{ TBG_LINE_FORMAT_PLOTTER, ":5", TBG_LINE_ERROR_BAD_VALUE },
	{ TBG_LINE_FORMAT_PLOTTER, "t:nan", TBG_LINE_ERROR_NON_FINITE },
	{ TBG_LINE_FORMAT_PLOTTER, "t:inf", TBG_LINE_ERROR_NON_FINITE },
	{ TBG_LINE_FORMAT_PLOTTER, "t:1e999", TBG_LINE_ERROR_NON_FINITE },
	{ TBG_LINE_FORMAT_PLOTTER, "t:12abc", TBG_LINE_ERROR_BAD_VALUE },
	{ TBG_LINE_FORMAT_PLOTTER, "t:", TBG_LINE_ERROR_BAD_VALUE },
	{ TBG_LINE_FORMAT_PLOTTER, "t:\xff", TBG_LINE_ERROR_INVALID_UTF8 },
};

static void
test_bad_line (gconstpointer data)
{
	const BadLine *c = data;
	g_autoptr (GError) error = NULL;
	TbgLineMessage m;

	g_assert_false (tbg_line_parse (c->format, c->line, strlen (c->line), &m, &error));
	g_assert_error (error, TBG_LINE_ERROR, (gint) c->code);
	/* The message quotes the start of the line for the log. */
	g_assert_nonnull (strstr (error->message, "“"));
	tbg_line_message_clear (&m);
}

static void
test_long_line_quote_bounded (void)
{
	g_autoptr (GError) error = NULL;
	g_autofree char *line = g_strnfill (5000, 'x');
	TbgLineMessage m;

	g_assert_false (tbg_line_parse (TBG_LINE_FORMAT_JSON, line, strlen (line), &m, &error));
	g_assert_cmpuint (strlen (error->message), <, 100);
	tbg_line_message_clear (&m);
}

static void
test_encoders (void)
{
	json_t *params = json_loads ("{\"pin\":1}", 0, NULL);
	json_t *shared = json_loads ("{\"led\":true}", 0, NULL);
	gsize len = 0;
	g_autofree char *a = tbg_line_encode_rpc (3, "toggle", params, &len);
	g_autofree char *b = tbg_line_encode_rpc (0, "ping", NULL, NULL);
	g_autofree char *c = tbg_line_encode_shared (shared, NULL);

	g_assert_cmpstr (a, ==, "{\"id\":3,\"method\":\"toggle\",\"params\":{\"pin\":1}}\n");
	g_assert_cmpuint (len, ==, strlen (a));
	g_assert_cmpstr (b, ==, "{\"id\":0,\"method\":\"ping\"}\n");
	g_assert_cmpstr (c, ==, "{\"shared\":{\"led\":true}}\n");
	json_decref (params);
	json_decref (shared);
}

static void
test_format_names (void)
{
	TbgLineFormat f;

	g_assert_true (tbg_line_format_from_string ("json", &f));
	g_assert_cmpint (f, ==, TBG_LINE_FORMAT_JSON);
	g_assert_true (tbg_line_format_from_string ("plotter", &f));
	g_assert_cmpint (f, ==, TBG_LINE_FORMAT_PLOTTER);
	g_assert_false (tbg_line_format_from_string ("csv", &f));
	g_assert_false (tbg_line_format_from_string (NULL, &f));
}

int
main (int argc, char **argv)
{
	g_test_init (&argc, &argv, NULL);
	g_test_add_func ("/line/framer/endings", test_framer_endings);
	g_test_add_func ("/line/framer/byte-at-a-time", test_framer_byte_at_a_time);
	g_test_add_func ("/line/framer/limits", test_framer_limits);
	g_test_add_func ("/line/framer/reset", test_framer_reset);
	g_test_add_func ("/line/json", test_json_lines);
	g_test_add_func ("/line/json/values-as-written", test_values_text);
	g_test_add_func ("/line/plotter", test_plotter_lines);
	g_test_add_func ("/line/long-line-quote", test_long_line_quote_bounded);
	g_test_add_func ("/line/encoders", test_encoders);
	g_test_add_func ("/line/format-names", test_format_names);
	for (guint i = 0; i < G_N_ELEMENTS (bad_lines); i++) {
		g_autofree char *name = g_strdup_printf ("/line/bad/%u", i);

		g_test_add_data_func (name, &bad_lines[i], test_bad_line);
	}
	return g_test_run ();
}
