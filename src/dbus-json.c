/* SPDX-License-Identifier: Apache-2.0 */
/* dbus-json.c — see dbus-json.h. */
#include "dbus-json.h"
#include "i18n.h"

#include <math.h>

G_DEFINE_QUARK (tbg-dbus-json-error-quark, tbg_dbus_json_error)

/* Any value of a supported type; @what names it in messages ("key “x”"). */
static json_t *variant_to_json (GVariant *value, const char *what, GError **error);

static json_t *
unsupported (const GVariantType *type, const char *what, GError **error)
{
	g_autofree char *t = g_variant_type_dup_string (type);

	g_set_error (error, TBG_DBUS_JSON_ERROR, TBG_DBUS_JSON_ERROR_UNSUPPORTED,
	             _("%s: values of D-Bus type “%s” cannot be sent to ThingsBoard"), what, t);
	return NULL;
}

static json_t *
container_to_json (GVariant *value, const char *what, GError **error)
{
	const GVariantType *type = g_variant_get_type (value);
	GVariantIter iter;
	GVariant *child;
	json_t *out;

	if (g_variant_type_is_maybe (type)) {
		child = g_variant_get_maybe (value);
		if (child == NULL)
			return json_null ();
		out = variant_to_json (child, what, error);
		g_variant_unref (child);
		return out;
	}
	if (g_variant_type_is_dict_entry (g_variant_type_element (type)) &&
	    g_variant_type_equal (g_variant_type_key (g_variant_type_element (type)), G_VARIANT_TYPE_STRING))
		return tbg_vardict_to_json (value, error);
	if (!g_variant_type_is_array (type) || g_variant_type_is_dict_entry (g_variant_type_element (type)))
		return unsupported (type, what, error);
	out = json_array ();
	g_variant_iter_init (&iter, value);
	while ((child = g_variant_iter_next_value (&iter)) != NULL) {
		json_t *j = variant_to_json (child, what, error);

		g_variant_unref (child);
		if (j == NULL) {
			json_decref (out);
			return NULL;
		}
		json_array_append_new (out, j);
	}
	return out;
}

static json_t *
variant_to_json (GVariant *value, const char *what, GError **error)
{
	double d;

	switch (g_variant_classify (value)) {
	case G_VARIANT_CLASS_BOOLEAN:
		return json_boolean (g_variant_get_boolean (value));
	case G_VARIANT_CLASS_BYTE:
		return json_integer (g_variant_get_byte (value));
	case G_VARIANT_CLASS_INT16:
		return json_integer (g_variant_get_int16 (value));
	case G_VARIANT_CLASS_UINT16:
		return json_integer (g_variant_get_uint16 (value));
	case G_VARIANT_CLASS_INT32:
		return json_integer (g_variant_get_int32 (value));
	case G_VARIANT_CLASS_UINT32:
		return json_integer (g_variant_get_uint32 (value));
	case G_VARIANT_CLASS_INT64:
		return json_integer (g_variant_get_int64 (value));
	case G_VARIANT_CLASS_UINT64:
		if (g_variant_get_uint64 (value) > G_MAXINT64) {
			g_set_error (error, TBG_DBUS_JSON_ERROR, TBG_DBUS_JSON_ERROR_BAD_VALUE,
			             _("%s: %" G_GUINT64_FORMAT " is beyond the integers ThingsBoard stores"),
			             what, g_variant_get_uint64 (value));
			return NULL;
		}
		return json_integer ((json_int_t) g_variant_get_uint64 (value));
	case G_VARIANT_CLASS_DOUBLE:
		d = g_variant_get_double (value);
		if (!isfinite (d)) {
			g_set_error (error, TBG_DBUS_JSON_ERROR, TBG_DBUS_JSON_ERROR_BAD_VALUE,
			             _("%s: NaN and infinities cannot be sent"), what);
			return NULL;
		}
		return json_real (d);
	case G_VARIANT_CLASS_STRING:
		return json_string (g_variant_get_string (value, NULL));
	case G_VARIANT_CLASS_VARIANT: {
		GVariant *inner = g_variant_get_variant (value);
		json_t *j = variant_to_json (inner, what, error);

		g_variant_unref (inner);
		return j;
	}
	case G_VARIANT_CLASS_MAYBE:
	case G_VARIANT_CLASS_ARRAY:
		return container_to_json (value, what, error);
	default:
		return unsupported (g_variant_get_type (value), what, error);
	}
}

json_t *
tbg_vardict_to_json (GVariant *dict, GError **error)
{
	json_t *out = json_object ();
	GVariantIter iter;
	GVariant *entry;

	if (!g_variant_type_is_array (g_variant_get_type (dict)) ||
	    !g_variant_type_is_dict_entry (g_variant_type_element (g_variant_get_type (dict))) ||
	    !g_variant_type_equal (g_variant_type_key (g_variant_type_element (g_variant_get_type (dict))),
	                           G_VARIANT_TYPE_STRING)) {
		json_decref (out);
		return unsupported (g_variant_get_type (dict), _("values"), error);
	}
	g_variant_iter_init (&iter, dict);
	while ((entry = g_variant_iter_next_value (&iter)) != NULL) {
		GVariant *k = g_variant_get_child_value (entry, 0);
		GVariant *v = g_variant_get_child_value (entry, 1);
		const char *key = g_variant_get_string (k, NULL);
		g_autofree char *what = g_strdup_printf (_("key “%s”"), key);
		json_t *j = variant_to_json (v, what, error);

		if (j != NULL)
			json_object_set_new (out, key, j);
		g_variant_unref (k);
		g_variant_unref (v);
		g_variant_unref (entry);
		if (j == NULL) {
			json_decref (out);
			return NULL;
		}
	}
	return out;
}

static GVariant *
json_to_variant (json_t *value)
{
	switch (json_typeof (value)) {
	case JSON_OBJECT:
		return tbg_json_to_vardict (value);
	case JSON_ARRAY: {
		GVariantBuilder b;
		gsize i;
		json_t *item;

		g_variant_builder_init (&b, G_VARIANT_TYPE ("av"));
		json_array_foreach (value, i, item) {
			if (!json_is_null (item))
				g_variant_builder_add (&b, "v", json_to_variant (item));
		}
		return g_variant_builder_end (&b);
	}
	case JSON_STRING:
		return g_variant_new_string (json_string_value (value));
	case JSON_INTEGER:
		return g_variant_new_int64 (json_integer_value (value));
	case JSON_REAL:
		return g_variant_new_double (json_real_value (value));
	case JSON_TRUE:
	case JSON_FALSE:
		return g_variant_new_boolean (json_is_true (value));
	case JSON_NULL:
	default:
		/* Only for a bare null: containers leave nulls out (see the header). */
		return g_variant_new_array (G_VARIANT_TYPE_VARIANT, NULL, 0);
	}
}

GVariant *
tbg_json_to_vardict (json_t *object)
{
	GVariantBuilder b;
	const char *key;
	json_t *v;

	g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
	json_object_foreach (object, key, v) {
		if (!json_is_null (v))
			g_variant_builder_add (&b, "{sv}", key, json_to_variant (v));
	}
	return g_variant_builder_end (&b);
}

gboolean
tbg_json_contains_null (json_t *j)
{
	const char *key;
	json_t *v;
	size_t i;

	if (json_is_null (j))
		return TRUE;
	if (json_is_object (j)) {
		json_object_foreach (j, key, v) {
			if (tbg_json_contains_null (v))
				return TRUE;
		}
	} else if (json_is_array (j)) {
		json_array_foreach (j, i, v) {
			if (tbg_json_contains_null (v))
				return TRUE;
		}
	}
	return FALSE;
}
