/* SPDX-License-Identifier: Apache-2.0 */
/* line-protocol.h — what serial devices print, as pure functions.
 *
 * The framer cuts a byte stream into bounded lines (CR, LF or CRLF); the
 * parser turns a line into telemetry, client attributes or an RPC reply;
 * the encoders make the lines written back to a device. No file
 * descriptors, no clock, no global state: unit-tested and fuzzed alone.
 */
#pragma once

#include <glib.h>
#include <jansson.h>

#define TBG_LINE_ERROR (tbg_line_error_quark ())
typedef enum {
	TBG_LINE_ERROR_INVALID_UTF8,
	TBG_LINE_ERROR_INVALID_JSON,
	TBG_LINE_ERROR_NOT_OBJECT,
	TBG_LINE_ERROR_NON_FINITE,
	TBG_LINE_ERROR_EMPTY,
	TBG_LINE_ERROR_BAD_TS,
	TBG_LINE_ERROR_BAD_ID,
	TBG_LINE_ERROR_BAD_VALUE,
} TbgLineError;
GQuark tbg_line_error_quark (void);

/* ---- framing ----------------------------------------------------------------- */

typedef enum {
	TBG_LINE_OK,
	TBG_LINE_TOO_LONG,   /* longer than the limit: dropped, @len is how long it was */
	TBG_LINE_INVALID,    /* contains NUL bytes: binary garbage */
} TbgLineStatus;

/* @line is not NUL-terminated and only valid during the call; NULL for TOO_LONG. */
typedef void (*TbgLineCallback) (const char *line, gsize len, TbgLineStatus status,
                                 gpointer user_data);

typedef struct _TbgLineFramer TbgLineFramer;

/* Memory stays bounded by @max_line_len whatever the device sends. */
TbgLineFramer *tbg_line_framer_new (gsize max_line_len);
void           tbg_line_framer_free (TbgLineFramer *f);
/* Calls @cb for every line completed by @data. A CRLF split across two
 * feeds is one line end, not two. */
void           tbg_line_framer_feed (TbgLineFramer *f, const guint8 *data, gsize len,
                                     TbgLineCallback cb, gpointer user_data);
/* Forgets a partial line (after the port was reopened). */
void           tbg_line_framer_reset (TbgLineFramer *f);

/* ---- parsing ----------------------------------------------------------------- */

typedef enum {
	TBG_LINE_FORMAT_JSON,     /* one JSON object per line */
	TBG_LINE_FORMAT_PLOTTER,  /* Arduino Serial Plotter: temp:21.5,hum:40 */
} TbgLineFormat;

gboolean tbg_line_format_from_string (const char *s, TbgLineFormat *format);

typedef enum {
	TBG_LINE_TELEMETRY,   /* values; ts (0 = none given: stamp on arrival) */
	TBG_LINE_ATTRIBUTES,  /* values: client attributes */
	TBG_LINE_RPC_REPLY,   /* rpc_id and result or error */
	TBG_LINE_EMPTY,       /* a blank line: nothing to do */
} TbgLineKind;

typedef struct {
	TbgLineKind kind;
	gint64      ts;
	json_t     *values;
	/* Telemetry written as a plain values object with no null members: that
	 * object's text inside the line (validated, not a copy), which can be
	 * forwarded as written instead of encoded again from @values. */
	const char *values_text;
	gsize       values_len;
	gint64      rpc_id;
	json_t     *result;
	json_t     *error;
} TbgLineMessage;

/* JSON lines:
 *   {"temp":21.5,"hum":40}                   telemetry (null members dropped)
 *   {"ts":1700000000000,"values":{…}}        telemetry at that time (ms)
 *   {"attributes":{…}}                       client attributes
 *   {"id":N,"result":…} / {"id":N,"error":…} reply to RPC N
 * A line mixing these forms is rejected (TBG_LINE_ERROR_BAD_VALUE) rather
 * than guessed at. Plotter lines: "label:value" pairs separated by commas,
 * spaces or tabs; unlabelled values are named value1, value2, … by position.
 * Integers stay integers; NaN and infinities are rejected. */
gboolean tbg_line_parse (TbgLineFormat format, const char *line, gsize len,
                         TbgLineMessage *out, GError **error);
void     tbg_line_message_clear (TbgLineMessage *msg);

/* ---- encoding ---------------------------------------------------------------- */

/* {"id":N,"method":"…","params":…}\n (params left out when NULL). */
char *tbg_line_encode_rpc (gint64 id, const char *method, json_t *params, gsize *len);
/* {"shared":{…}}\n */
char *tbg_line_encode_shared (json_t *attributes, gsize *len);
