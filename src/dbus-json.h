/* SPDX-License-Identifier: Apache-2.0 */
/* dbus-json.h — D-Bus values ↔ JSON, faithfully: integers stay integers,
 * doubles stay doubles, nested dictionaries become objects. Pure. */
#pragma once

#include <glib.h>
#include <jansson.h>

#define TBG_DBUS_JSON_ERROR (tbg_dbus_json_error_quark ())
typedef enum {
	TBG_DBUS_JSON_ERROR_UNSUPPORTED,   /* a type JSON cannot carry (h, o, g, tuples, …) */
	TBG_DBUS_JSON_ERROR_BAD_VALUE,     /* NaN, infinity, t beyond int64, bad UTF-8 */
} TbgDbusJsonError;
GQuark tbg_dbus_json_error_quark (void);

/* An a{sv} (or any dictionary with string keys) → a JSON object. */
json_t   *tbg_vardict_to_json (GVariant *dict, GError **error);
/* A JSON object → a{sv} (floating). Integers → x, reals → d, booleans → b,
 * strings → s, arrays → av, objects → a{sv}. D-Bus has no null (maybe types
 * cannot go on the wire), so null members and array items are left out. */
GVariant *tbg_json_to_vardict (json_t *object);
/* Whether a null hides anywhere in @j (tbg_json_to_vardict would drop it). */
gboolean  tbg_json_contains_null (json_t *j);
