/* SPDX-License-Identifier: Apache-2.0 */
/* line-protocol.c — see line-protocol.h. */
#include "line-protocol.h"
#include "gateway-codec.h"   /* TBG_JSON_DUMP_FLAGS */

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

G_DEFINE_QUARK (tbg-line-error-quark, tbg_line_error)

/* ---- framing ----------------------------------------------------------------- */

struct _TbgLineFramer {
	gsize     max;
	char     *buf;
	gsize     len;
	gboolean  discarding;   /* inside an over-long line */
	gsize     discarded;
	gboolean  after_cr;     /* the last feed ended in CR: a leading LF is its pair */
};

TbgLineFramer *
tbg_line_framer_new (gsize max_line_len)
{
	TbgLineFramer *f = g_new0 (TbgLineFramer, 1);

	f->max = MAX (max_line_len, 1);
	f->buf = g_malloc (f->max);
	return f;
}

void
tbg_line_framer_free (TbgLineFramer *f)
{
	if (f == NULL)
		return;
	g_free (f->buf);
	g_free (f);
}

void
tbg_line_framer_reset (TbgLineFramer *f)
{
	f->len = 0;
	f->discarding = FALSE;
	f->discarded = 0;
	f->after_cr = FALSE;
}

static const guint8 *
find_eol (const guint8 *p, const guint8 *end)
{
	for (; p < end; p++) {
		if (*p == '\n' || *p == '\r')
			return p;
	}
	return end;
}

static void
deliver (const char *line, gsize len, TbgLineCallback cb, gpointer user_data)
{
	cb (line, len, memchr (line, '\0', len) ? TBG_LINE_INVALID : TBG_LINE_OK, user_data);
}

void
tbg_line_framer_feed (TbgLineFramer *f, const guint8 *data, gsize len,
                      TbgLineCallback cb, gpointer user_data)
{
	const guint8 *p = data;
	const guint8 *end = data + len;

	if (len == 0)
		return;
	if (f->after_cr && *p == '\n')
		p++;
	f->after_cr = FALSE;
	while (p < end) {
		const guint8 *eol = find_eol (p, end);
		gsize seg = eol - p;

		if (f->discarding) {
			f->discarded += seg;
		} else if (f->len + seg > f->max) {
			f->discarding = TRUE;
			f->discarded = f->len + seg;
			f->len = 0;
		} else if (eol < end && f->len == 0) {
			/* The common case: a whole line inside this chunk, no copy. */
			deliver ((const char *) p, seg, cb, user_data);
		} else {
			memcpy (f->buf + f->len, p, seg);
			f->len += seg;
			if (eol < end) {
				deliver (f->buf, f->len, cb, user_data);
				f->len = 0;
			}
		}
		if (eol == end)
			break;
		if (f->discarding) {
			cb (NULL, f->discarded, TBG_LINE_TOO_LONG, user_data);
			f->discarding = FALSE;
			f->discarded = 0;
		}
		p = eol + 1;
		if (*eol == '\r') {
			if (p < end && *p == '\n')
				p++;
			else if (p == end)
				f->after_cr = TRUE;
		}
	}
}

/* ---- parsing ----------------------------------------------------------------- */

gboolean
tbg_line_format_from_string (const char *s, TbgLineFormat *format)
{
	if (g_strcmp0 (s, "json") == 0)
		*format = TBG_LINE_FORMAT_JSON;
	else if (g_strcmp0 (s, "plotter") == 0)
		*format = TBG_LINE_FORMAT_PLOTTER;
	else
		return FALSE;
	return TRUE;
}

static gboolean
fail (GError **error, TbgLineError code, const char *line, gsize len, const char *what)
{
	g_autofree char *shown = g_utf8_make_valid (line, MIN (len, 40));

	g_set_error (error, TBG_LINE_ERROR, code, "%s: “%s%s”", what, shown, len > 40 ? "…" : "");
	return FALSE;
}

static gboolean
set_values (TbgLineMessage *out, json_t *obj, const char *line, gsize len, GError **error)
{
	if (!json_is_object (obj))
		return fail (error, TBG_LINE_ERROR_BAD_VALUE, line, len, "values must be an object");
	out->values = tbg_codec_without_nulls (obj);
	if (json_object_size (out->values) == 0)
		return fail (error, TBG_LINE_ERROR_EMPTY, line, len, "no values");
	return TRUE;
}

static gboolean
parse_json (const char *line, gsize len, TbgLineMessage *out, GError **error)
{
	json_error_t jerr;
	json_t *root = json_loadb (line, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	json_t *id, *ts, *attrs;
	gboolean ok = FALSE;

	if (root == NULL) {
		if (strstr (jerr.text, "overflow") != NULL || strstr (jerr.text, "too big") != NULL)
			return fail (error, TBG_LINE_ERROR_NON_FINITE, line, len, "number out of range");
		return fail (error, TBG_LINE_ERROR_INVALID_JSON, line, len, "not JSON");
	}
	if (!json_is_object (root)) {
		json_decref (root);
		return fail (error, TBG_LINE_ERROR_NOT_OBJECT, line, len, "not a JSON object");
	}
	id = json_object_get (root, "id");
	ts = json_object_get (root, "ts");
	attrs = json_object_get (root, "attributes");
	if (json_object_size (root) == 0) {
		fail (error, TBG_LINE_ERROR_EMPTY, line, len, "empty object");
	} else if (id != NULL && (json_object_get (root, "result") || json_object_get (root, "error"))) {
		out->kind = TBG_LINE_RPC_REPLY;
		if (!json_is_integer (id) || json_integer_value (id) < 0) {
			fail (error, TBG_LINE_ERROR_BAD_ID, line, len, "\"id\" must be a non-negative integer");
		} else {
			out->rpc_id = json_integer_value (id);
			out->result = json_incref (json_object_get (root, "result"));
			out->error = json_incref (json_object_get (root, "error"));
			ok = TRUE;
		}
	} else if (attrs != NULL) {
		out->kind = TBG_LINE_ATTRIBUTES;
		if (json_object_size (root) != 1)
			fail (error, TBG_LINE_ERROR_BAD_VALUE, line, len,
			      "\"attributes\" must be the only member of its line");
		else
			ok = set_values (out, attrs, line, len, error);
	} else if (ts != NULL) {
		out->kind = TBG_LINE_TELEMETRY;
		if (json_object_size (root) != 2 || json_object_get (root, "values") == NULL)
			fail (error, TBG_LINE_ERROR_BAD_VALUE, line, len,
			      "a line with \"ts\" carries exactly \"ts\" and \"values\"");
		else if (!json_is_integer (ts) || json_integer_value (ts) <= 0)
			fail (error, TBG_LINE_ERROR_BAD_TS, line, len,
			      "\"ts\" must be a positive integer (milliseconds)");
		else if (set_values (out, json_object_get (root, "values"), line, len, error)) {
			out->ts = json_integer_value (ts);
			ok = TRUE;
		}
	} else {
		out->kind = TBG_LINE_TELEMETRY;
		ok = set_values (out, root, line, len, error);
		if (ok && out->values == root) {
			out->values_text = line;
			out->values_len = len;
		}
	}
	json_decref (root);
	return ok;
}

static gboolean
is_separator (char c)
{
	return c == ',' || c == ' ' || c == '\t';
}

static json_t *
plotter_number (const char *s, gsize len, GError **error, const char *line, gsize line_len)
{
	g_autofree char *tok = g_strndup (s, len);
	char *end = NULL;
	gboolean integer = len > 0;

	for (gsize i = 0; i < len; i++) {
		if (!(g_ascii_isdigit (tok[i]) || (i == 0 && (tok[i] == '-' || tok[i] == '+') && len > 1)))
			integer = FALSE;
	}
	if (integer) {
		gint64 v;

		errno = 0;
		v = g_ascii_strtoll (tok, &end, 10);
		if (errno == 0 && *end == '\0')
			return json_integer (v);
	}
	errno = 0;
	{
		double d = g_ascii_strtod (tok, &end);

		if (end == tok || *end != '\0') {
			fail (error, TBG_LINE_ERROR_BAD_VALUE, line, line_len, "values must be numbers");
			return NULL;
		}
		if (!isfinite (d)) {
			fail (error, TBG_LINE_ERROR_NON_FINITE, line, line_len, "NaN or infinite value");
			return NULL;
		}
		return json_real (d);
	}
}

static gboolean
parse_plotter (const char *line, gsize len, TbgLineMessage *out, GError **error)
{
	gsize i = 0;
	guint position = 0;

	out->kind = TBG_LINE_TELEMETRY;
	out->values = json_object ();
	while (i < len) {
		gsize start, stop;
		const char *colon;
		g_autofree char *label = NULL;
		json_t *v;

		while (i < len && is_separator (line[i]))
			i++;
		if (i == len)
			break;
		start = i;
		while (i < len && !is_separator (line[i]))
			i++;
		stop = i;
		position++;
		colon = memchr (line + start, ':', stop - start);
		if (colon != NULL) {
			if (colon == line + start)
				return fail (error, TBG_LINE_ERROR_BAD_VALUE, line, len, "empty label");
			label = g_strndup (line + start, colon - (line + start));
			start = colon - line + 1;
		} else {
			label = g_strdup_printf ("value%u", position);
		}
		v = plotter_number (line + start, stop - start, error, line, len);
		if (v == NULL)
			return FALSE;
		json_object_set_new (out->values, label, v);
	}
	if (json_object_size (out->values) == 0)
		out->kind = TBG_LINE_EMPTY;
	return TRUE;
}

gboolean
tbg_line_parse (TbgLineFormat format, const char *line, gsize len, TbgLineMessage *out,
                GError **error)
{
	memset (out, 0, sizeof *out);
	while (len > 0 && g_ascii_isspace (line[0])) {
		line++;
		len--;
	}
	while (len > 0 && g_ascii_isspace (line[len - 1]))
		len--;
	if (len == 0) {
		out->kind = TBG_LINE_EMPTY;
		return TRUE;
	}
	if (!g_utf8_validate_len (line, len, NULL))
		return fail (error, TBG_LINE_ERROR_INVALID_UTF8, line, len, "not UTF-8 text");
	if (format == TBG_LINE_FORMAT_PLOTTER)
		return parse_plotter (line, len, out, error);
	return parse_json (line, len, out, error);
}

void
tbg_line_message_clear (TbgLineMessage *msg)
{
	json_decref (msg->values);
	json_decref (msg->result);
	json_decref (msg->error);
	msg->values = msg->result = msg->error = NULL;
	msg->values_text = NULL;
	msg->values_len = 0;
}

/* ---- encoding ------------------------------------------------------------------- */

static char *
dump_line (json_t *obj, gsize *len)
{
	char *text = json_dumps (obj, TBG_JSON_DUMP_FLAGS);
	char *line;

	json_decref (obj);
	if (text == NULL)
		return NULL;
	line = g_strconcat (text, "\n", NULL);
	free (text);
	if (len != NULL)
		*len = strlen (line);
	return line;
}

char *
tbg_line_encode_rpc (gint64 id, const char *method, json_t *params, gsize *len)
{
	json_t *obj = json_pack ("{s:I,s:s?}", "id", (json_int_t) id, "method", method);

	if (obj == NULL)
		return NULL;
	if (params != NULL)
		json_object_set (obj, "params", params);
	return dump_line (obj, len);
}

char *
tbg_line_encode_shared (json_t *attributes, gsize *len)
{
	json_t *obj = json_pack ("{s:O}", "shared", attributes);

	return obj ? dump_line (obj, len) : NULL;
}
