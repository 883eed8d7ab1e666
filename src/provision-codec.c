/* SPDX-License-Identifier: Apache-2.0 */
/* provision-codec.c — see provision-codec.h. */
#include "provision-codec.h"
#include "gateway-codec.h"
#include "i18n.h"

#include <jansson.h>
#include <string.h>

/* An MQTT user name is at most 65,535 bytes; ThingsBoard's own tokens are
 * 20 characters. Anything near the limit is not a token. */
#define MAX_TOKEN_BYTES 4096

char *
tbg_provision_request (const char *device_name, const char *key, const char *secret,
                       GError **error)
{
	json_t *req;
	char *text;

	if (key == NULL || secret == NULL || *key == '\0' || *secret == '\0') {
		g_set_error (error, TBG_CODEC_ERROR, TBG_CODEC_ERROR_MISSING_FIELD,
		             _("the provisioning key and secret must not be empty"));
		return NULL;
	}
	req = json_object ();
	/* json_string() refuses text that is not UTF-8: the set fails then. */
	if ((device_name != NULL &&
	     json_object_set_new (req, "deviceName", json_string (device_name)) != 0) ||
	    json_object_set_new (req, "provisionDeviceKey", json_string (key)) != 0 ||
	    json_object_set_new (req, "provisionDeviceSecret", json_string (secret)) != 0 ||
	    json_object_set_new (req, "gateway", json_true ()) != 0) {
		json_decref (req);
		g_set_error (error, TBG_CODEC_ERROR, TBG_CODEC_ERROR_BAD_VALUE,
		             _("the device name, key and secret must be UTF-8 text"));
		return NULL;
	}
	text = tbg_codec_encode (req, error);
	json_decref (req);
	return text;
}

static const char *
string_member (json_t *root, const char *name)
{
	return json_string_value (json_object_get (root, name));
}

/* The token goes into a file that is read back stripped, and into the
 * CONNECT packet: no control characters, no edge blanks, no NUL. */
static gboolean
usable_token (json_t *value)
{
	const char *s = json_string_value (value);
	gsize len = json_string_length (value);

	if (s == NULL || len == 0 || len > MAX_TOKEN_BYTES || strlen (s) != len)
		return FALSE;
	if (g_ascii_isspace (s[0]) || g_ascii_isspace (s[len - 1]))
		return FALSE;
	for (gsize i = 0; i < len; i++) {
		if ((guchar) s[i] < 0x20 || s[i] == 0x7f)
			return FALSE;
	}
	return TRUE;
}

static gboolean
parse_success (json_t *root, TbgProvisionResponse *out, GError **error)
{
	json_t *value = json_object_get (root, "credentialsValue");
	const char *type = string_member (root, "credentialsType");

	if (type == NULL) {
		g_set_error (error, TBG_CODEC_ERROR, TBG_CODEC_ERROR_MISSING_FIELD,
		             _("SUCCESS without a credentialsType"));
		return FALSE;
	}
	out->credentials_type = g_strescape (type, NULL);
	if (!g_str_equal (type, "ACCESS_TOKEN")) {
		out->status = TBG_PROVISION_UNSUPPORTED;
		return TRUE;
	}
	if (!usable_token (value)) {
		g_set_error (error, TBG_CODEC_ERROR, TBG_CODEC_ERROR_BAD_VALUE,
		             _("SUCCESS without a usable access token in credentialsValue"));
		return FALSE;
	}
	out->status = TBG_PROVISION_SUCCESS;
	out->token = g_strdup (json_string_value (value));
	return TRUE;
}

gboolean
tbg_provision_response_parse (const void *payload, gsize len, TbgProvisionResponse *out,
                              GError **error)
{
	json_error_t jerr;
	json_t *root;
	const char *status;
	gboolean ok = FALSE;

	memset (out, 0, sizeof *out);
	root = json_loadb (payload, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		g_set_error (error, TBG_CODEC_ERROR, TBG_CODEC_ERROR_NOT_JSON, _("not JSON: %s"), jerr.text);
		return FALSE;
	}
	if (!json_is_object (root)) {
		g_set_error (error, TBG_CODEC_ERROR, TBG_CODEC_ERROR_WRONG_TYPE, _("not a JSON object"));
		goto out;
	}
	status = string_member (root, "status");
	if (status == NULL) {
		g_set_error (error, TBG_CODEC_ERROR, TBG_CODEC_ERROR_MISSING_FIELD,
		             _("no \"status\" string"));
		goto out;
	}
	if (g_str_equal (status, "SUCCESS")) {
		ok = parse_success (root, out, error);
		goto out;
	}
	if (g_str_equal (status, "NOT_FOUND"))
		out->status = TBG_PROVISION_NOT_FOUND;
	else if (g_str_equal (status, "FAILURE"))
		out->status = TBG_PROVISION_FAILURE;
	else {
		g_autofree char *shown = g_strescape (status, NULL);

		g_set_error (error, TBG_CODEC_ERROR, TBG_CODEC_ERROR_BAD_VALUE,
		             _("unknown status \"%.64s\""), shown);
		goto out;
	}
	/* The server's own words, when it gave any. */
	if (string_member (root, "errorMsg") != NULL)
		out->error_msg = g_strescape (string_member (root, "errorMsg"), NULL);
	ok = TRUE;
out:
	json_decref (root);
	if (!ok)
		tbg_provision_response_clear (out);
	return ok;
}

void
tbg_provision_response_clear (TbgProvisionResponse *r)
{
	if (r->token != NULL)
		explicit_bzero (r->token, strlen (r->token));
	g_clear_pointer (&r->token, g_free);
	g_clear_pointer (&r->credentials_type, g_free);
	g_clear_pointer (&r->error_msg, g_free);
	r->status = TBG_PROVISION_FAILURE;
}
