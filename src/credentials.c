/* SPDX-License-Identifier: Apache-2.0 */
/* credentials.c — see credentials.h. */
#include "credentials.h"
#include "i18n.h"

#include <errno.h>
#include <gio/gio.h>
#include <string.h>

char *
tbg_credentials_stored_path (const TbgConfig *cfg)
{
	if (cfg->storage.path == NULL)
		return NULL;
	return g_build_filename (cfg->storage.path, TBG_PROVISIONED_TOKEN_NAME, NULL);
}

/* The stored token, or NULL if there is none (said in the log if the file
 * is there but cannot be used). */
static char *
read_stored (const char *path)
{
	g_autoptr (GError) error = NULL;
	char *text = NULL;

	if (!g_file_get_contents (path, &text, NULL, &error)) {
		if (!g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
			g_warning (_("Cannot read the provisioned access token: %s"), error->message);
		return NULL;
	}
	g_strstrip (text);
	if (text[0] == '\0' || !g_utf8_validate (text, -1, NULL) || strchr (text, '\n') != NULL) {
		g_warning (_("%s does not hold an access token; ignoring it"), path);
		g_free (text);
		return NULL;
	}
	return text;
}

void
tbg_credentials_resolve (TbgConfig *cfg)
{
	g_autofree char *path = NULL;
	char *token;

	if (cfg->server.access_token != NULL)
		return;
	path = tbg_credentials_stored_path (cfg);
	token = path != NULL ? read_stored (path) : NULL;
	if (token != NULL) {
		cfg->server.access_token = token;
		cfg->credentials = TBG_CREDENTIALS_PROVISIONED;
	} else {
		cfg->credentials = cfg->provision.device_key != NULL ? TBG_CREDENTIALS_PROVISIONING
		                                                     : TBG_CREDENTIALS_NONE;
	}
}

gboolean
tbg_credentials_store (const char *state_dir, const char *token, GError **error)
{
	g_autofree char *path = g_build_filename (state_dir, TBG_PROVISIONED_TOKEN_NAME, NULL);
	g_autofree char *text = NULL;
	gboolean ok;

	if (g_mkdir_with_parents (state_dir, 0700) != 0) {
		int err = errno;

		g_set_error (error, G_IO_ERROR, g_io_error_from_errno (err), _("cannot create %s: %s"),
		             state_dir, g_strerror (err));
		return FALSE;
	}
	/* A new file, renamed over the old one once on disk: a crash leaves
	 * the old token or the new one, never half of it. */
	text = g_strconcat (token, "\n", NULL);
	ok = g_file_set_contents_full (path, text, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, error);
	explicit_bzero (text, strlen (text));
	return ok;
}

const char *
tbg_credentials_source_to_string (TbgCredentialsSource source)
{
	switch (source) {
	case TBG_CREDENTIALS_NONE:
		return "none";
	case TBG_CREDENTIALS_ACCESS_TOKEN:
		return "access-token";
	case TBG_CREDENTIALS_TOKEN_FILE:
		return "token-file";
	case TBG_CREDENTIALS_PROVISIONED:
		return "provisioned";
	case TBG_CREDENTIALS_PROVISIONING:
		return "provisioning";
	}
	return "none";
}
