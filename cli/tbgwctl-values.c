/* SPDX-License-Identifier: Apache-2.0 */
/* tbgwctl-values.c — KEY=VALUE words → JSON. */
#include "tbgwctl-values.h"
#include "i18n.h"

#include <string.h>

/* A number JSON cannot hold is refused: sending it as a string would
 * change its type behind the user's back. */
gboolean
tbg_ctl_add_pair (json_t *values, const char *arg, GError **error)
{
	const char *eq = strchr (arg, '=');
	g_autofree char *key = NULL;
	json_error_t jerr;
	json_t *v;

	if (eq == NULL || eq == arg) {
		g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
		             _("“%s” is not KEY=VALUE"), arg);
		return FALSE;
	}
	key = g_strndup (arg, (gsize) (eq - arg));
	if (!g_utf8_validate (key, -1, NULL)) {
		g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
		             _("a key is not UTF-8"));
		return FALSE;
	}
	v = json_loads (eq + 1, JSON_DECODE_ANY, &jerr);
	if (v == NULL && json_error_code (&jerr) == json_error_numeric_overflow) {
		g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
		             _("the value of “%s” is a number out of range (%s): integers go up to "
		               "%" G_GINT64_FORMAT ", reals to about 1.8e308; write '%s=\"%s\"' to send it "
		               "as a string"), key, jerr.text, G_MAXINT64, key, eq + 1);
		return FALSE;
	}
	if (v == NULL)
		v = json_string (eq + 1);
	if (v == NULL) {
		g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
		             _("the value of “%s” is not UTF-8"), key);
		return FALSE;
	}
	json_object_set_new (values, key, v);
	return TRUE;
}
