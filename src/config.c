/* SPDX-License-Identifier: Apache-2.0 */
/* config.c — see config.h. */
#include "config.h"
#include "i18n.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

G_DEFINE_QUARK (tbg-config-error-quark, tbg_config_error)

static const char * const server_keys[] = {
	"host", "port", "access-token", "access-token-file", "client-id", "tls",
	"ca-file", "cert-file", "key-file", "keepalive",
	"provision-device-key", "provision-device-secret", "provision-secret-file",
	"provision-device-name", NULL
};
static const char * const gateway_keys[] = {
	"max-payload-bytes", "max-inflight", "linger-ms", "rpc-timeout-ms",
	"attribute-request-timeout-ms", "stats-interval-s",
	"attribute-request-format", "give-up-after-closes", NULL
};
static const char * const storage_keys[] = { "path", "max-messages", "ttl-s", NULL };

static void
set_defaults (TbgConfig *cfg)
{
	char hostname[64] = "localhost";

	gethostname (hostname, sizeof hostname - 1);
	cfg->server.host = g_strdup ("127.0.0.1");
	cfg->server.port = 1883;
	cfg->server.client_id = g_strdup_printf ("tbgwd-%s", hostname);
	cfg->server.keepalive_s = 60;
	/* ThingsBoard's default limit is 65,536 bytes for the whole packet
	 * (topic and header included): stay clear of it. */
	cfg->gateway.max_payload_bytes = 65000;
	cfg->gateway.max_inflight = 32;
	cfg->gateway.linger_ms = 5;
	cfg->gateway.rpc_timeout_ms = 10000;
	cfg->gateway.attribute_request_timeout_ms = 10000;
	cfg->gateway.stats_interval_s = 60;
	cfg->gateway.give_up_after_closes = 3;
	cfg->gateway.attribute_request_format = TBG_ATTR_REQUEST_SPLIT;
	cfg->storage.path = g_strdup (TBG_DEFAULT_STATE_DIR);
	cfg->storage.max_messages = 1000000;
	cfg->keyfile = g_key_file_new ();
	cfg->lines = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
}

TbgConfig *
tbg_config_new_default (void)
{
	TbgConfig *cfg = g_new0 (TbgConfig, 1);

	set_defaults (cfg);
	return cfg;
}

void
tbg_config_free (TbgConfig *cfg)
{
	if (cfg == NULL)
		return;
	g_free (cfg->path);
	g_free (cfg->server.host);
	g_free (cfg->server.client_id);
	if (cfg->server.access_token != NULL)
		explicit_bzero (cfg->server.access_token, strlen (cfg->server.access_token));
	g_free (cfg->server.access_token);
	g_free (cfg->server.ca_file);
	g_free (cfg->server.cert_file);
	g_free (cfg->server.key_file);
	g_free (cfg->storage.path);
	g_free (cfg->provision.device_key);
	if (cfg->provision.device_secret != NULL)
		explicit_bzero (cfg->provision.device_secret, strlen (cfg->provision.device_secret));
	g_free (cfg->provision.device_secret);
	g_free (cfg->provision.device_name);
	g_key_file_unref (cfg->keyfile);
	g_hash_table_unref (cfg->lines);
	g_free (cfg);
}

static char *
line_key (const char *group, const char *key)
{
	return key != NULL ? g_strconcat (group, "\n", key, NULL) : g_strdup (group);
}

char *
tbg_config_where (const TbgConfig *cfg, const char *group, const char *key)
{
	g_autofree char *k = line_key (group, key);
	guint line = GPOINTER_TO_UINT (g_hash_table_lookup (cfg->lines, k));

	if (cfg->path == NULL)
		return g_strdup (_("built-in defaults"));
	if (line == 0)
		return g_strdup (cfg->path);
	return g_strdup_printf ("%s:%u", cfg->path, line);
}

static gboolean
fail (const TbgConfig *cfg, GError **error, TbgConfigError code, const char *group,
      const char *key, const char *fmt, ...) G_GNUC_PRINTF (6, 7);

static gboolean
fail (const TbgConfig *cfg, GError **error, TbgConfigError code, const char *group,
      const char *key, const char *fmt, ...)
{
	g_autofree char *where = tbg_config_where (cfg, group, key);
	g_autofree char *what = NULL;
	va_list ap;

	va_start (ap, fmt);
	what = g_strdup_vprintf (fmt, ap);
	va_end (ap);
	if (key != NULL)
		g_set_error (error, TBG_CONFIG_ERROR, code, "%s: [%s] %s: %s", where, group, key, what);
	else
		g_set_error (error, TBG_CONFIG_ERROR, code, "%s: [%s]: %s", where, group, what);
	return FALSE;
}

/* GKeyFile reports syntax errors without a line number and forgets where
 * keys were; one pass over the text gives both. */
static gboolean
index_lines (TbgConfig *cfg, const char *text, GError **error)
{
	g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
	g_autofree char *group = NULL;

	for (guint i = 0; lines[i] != NULL; i++) {
		g_autofree char *line = g_strstrip (g_strdup (lines[i]));
		const char *eq;

		if (line[0] == '\0' || line[0] == '#' || line[0] == ';')
			continue;
		if (line[0] == '[') {
			gsize n = strlen (line);

			if (n < 3 || line[n - 1] != ']') {
				g_set_error (error, TBG_CONFIG_ERROR, TBG_CONFIG_ERROR_SYNTAX,
				             _("%s:%u: malformed group header “%s”"), cfg->path, i + 1, line);
				return FALSE;
			}
			g_free (group);
			group = g_strndup (line + 1, n - 2);
			g_hash_table_insert (cfg->lines, g_strdup (group), GUINT_TO_POINTER (i + 1));
			continue;
		}
		eq = strchr (line, '=');
		if (eq == NULL || eq == line) {
			g_set_error (error, TBG_CONFIG_ERROR, TBG_CONFIG_ERROR_SYNTAX,
			             _("%s:%u: expected “key=value”, found “%s”"), cfg->path, i + 1, line);
			return FALSE;
		}
		if (group == NULL) {
			g_set_error (error, TBG_CONFIG_ERROR, TBG_CONFIG_ERROR_SYNTAX,
			             _("%s:%u: key outside of any [group]"), cfg->path, i + 1);
			return FALSE;
		}
		{
			g_autofree char *key = g_strstrip (g_strndup (line, eq - line));

			g_hash_table_insert (cfg->lines, line_key (group, key), GUINT_TO_POINTER (i + 1));
		}
	}
	return TRUE;
}

/* "prefix.*" in @allowed stands for any key with a non-empty suffix. */
static gboolean
key_allowed (const char * const *allowed, const char *key)
{
	for (guint i = 0; allowed[i] != NULL; i++) {
		gsize n = strlen (allowed[i]);

		if (n > 0 && allowed[i][n - 1] == '*') {
			if (strncmp (allowed[i], key, n - 1) == 0 && key[n - 1] != '\0')
				return TRUE;
		} else if (g_str_equal (allowed[i], key)) {
			return TRUE;
		}
	}
	return FALSE;
}

gboolean
tbg_config_check_keys (const TbgConfig *cfg, const char *group,
                       const char * const *allowed, GError **error)
{
	g_auto (GStrv) keys = g_key_file_get_keys (cfg->keyfile, group, NULL, NULL);

	for (guint i = 0; keys != NULL && keys[i] != NULL; i++) {
		if (!key_allowed (allowed, keys[i]))
			return fail (cfg, error, TBG_CONFIG_ERROR_UNKNOWN_KEY, group, keys[i],
			             _("unknown key"));
	}
	return TRUE;
}

gboolean
tbg_config_get_uint (const TbgConfig *cfg, const char *group, const char *key,
                     guint64 min, guint64 max, guint64 def, guint64 *out, GError **error)
{
	g_autofree char *s = g_key_file_get_value (cfg->keyfile, group, key, NULL);
	guint64 v;

	if (s == NULL) {
		*out = def;
		return TRUE;
	}
	g_strstrip (s);
	if (!g_ascii_string_to_unsigned (s, 10, min, max, &v, NULL))
		return fail (cfg, error, TBG_CONFIG_ERROR_BAD_VALUE, group, key,
		             _("“%s” is not a whole number from %" G_GUINT64_FORMAT " to %" G_GUINT64_FORMAT),
		             s, min, max);
	*out = v;
	return TRUE;
}

gboolean
tbg_config_get_bool (const TbgConfig *cfg, const char *group, const char *key,
                     gboolean def, gboolean *out, GError **error)
{
	g_autofree char *s = g_key_file_get_value (cfg->keyfile, group, key, NULL);

	if (s == NULL) {
		*out = def;
		return TRUE;
	}
	g_strstrip (s);
	if (g_strv_contains ((const char * const[]) { "true", "yes", "1", "on", NULL }, s))
		*out = TRUE;
	else if (g_strv_contains ((const char * const[]) { "false", "no", "0", "off", NULL }, s))
		*out = FALSE;
	else
		return fail (cfg, error, TBG_CONFIG_ERROR_BAD_VALUE, group, key,
		             _("“%s” is not a boolean (true or false)"), s);
	return TRUE;
}

char *
tbg_config_get_string (const TbgConfig *cfg, const char *group, const char *key,
                       const char *def)
{
	char *s = g_key_file_get_string (cfg->keyfile, group, key, NULL);

	if (s == NULL || *g_strstrip (s) == '\0') {
		g_free (s);
		return g_strdup (def);
	}
	return s;
}

char **
tbg_config_device_groups (const TbgConfig *cfg, const char *prefix)
{
	g_auto (GStrv) groups = g_key_file_get_groups (cfg->keyfile, NULL);
	GPtrArray *names = g_ptr_array_new ();
	gsize plen = strlen (prefix);

	for (guint i = 0; groups[i] != NULL; i++) {
		if (strncmp (groups[i], prefix, plen) == 0 && groups[i][plen] == ':')
			g_ptr_array_add (names, g_strdup (groups[i] + plen + 1));
	}
	g_ptr_array_add (names, NULL);
	return (char **) g_ptr_array_free (names, FALSE);
}

/* The token and the client key are the gateway's credentials. */
static void
warn_if_others_may_read (const char *path, const char *what)
{
	struct stat st;

	/* A credential. Its group may read it when that is the daemon's own
	 * (the package's root:_tbgw 0640). */
	if (stat (path, &st) == 0 &&
	    ((st.st_mode & S_IRWXO) != 0 || ((st.st_mode & S_IRWXG) != 0 && st.st_gid != getegid ())))
		g_warning (_("%s: %s is readable by others (mode %04o); chmod 600 it"),
		           path, what, st.st_mode & 07777);
}

/* A secret kept in a file of its own: the whole file, blanks stripped. */
static gboolean
read_secret_file (TbgConfig *cfg, const char *key, const char *path, const char *what,
                  char **out, GError **error)
{
	g_autofree char *text = NULL;
	g_autoptr (GError) local = NULL;

	if (!g_file_get_contents (path, &text, NULL, &local))
		return fail (cfg, error, TBG_CONFIG_ERROR_BAD_VALUE, "server", key,
		             "%s", local->message);
	warn_if_others_may_read (path, what);
	g_strstrip (text);
	if (text[0] == '\0')
		return fail (cfg, error, TBG_CONFIG_ERROR_BAD_VALUE, "server", key,
		             _("%s is empty"), path);
	*out = g_steal_pointer (&text);
	return TRUE;
}

static gboolean
read_token_file (TbgConfig *cfg, const char *path, GError **error)
{
	return read_secret_file (cfg, "access-token-file", path, _("the access token file"),
	                         &cfg->server.access_token, error);
}

/* provision-device-key with its secret (inline or in a file), and the
 * name the device gets in ThingsBoard. */
static gboolean
load_provision (TbgConfig *cfg, GError **error)
{
	const char *g = "server";
	TbgProvisionConfig *p = &cfg->provision;
	g_autofree char *secret_file = tbg_config_get_string (cfg, g, "provision-secret-file", NULL);

	p->device_key = tbg_config_get_string (cfg, g, "provision-device-key", NULL);
	p->device_secret = tbg_config_get_string (cfg, g, "provision-device-secret", NULL);
	p->device_name = tbg_config_get_string (cfg, g, "provision-device-name", NULL);
	if (p->device_key == NULL) {
		const char *stray = p->device_secret ? "provision-device-secret"
		                    : secret_file ? "provision-secret-file"
		                    : p->device_name ? "provision-device-name" : NULL;

		if (stray != NULL)
			return fail (cfg, error, TBG_CONFIG_ERROR_BAD_VALUE, g, stray,
			             _("needs provision-device-key"));
		return TRUE;
	}
	if (p->device_secret != NULL && secret_file != NULL)
		return fail (cfg, error, TBG_CONFIG_ERROR_BAD_VALUE, g, "provision-secret-file",
		             _("give either provision-device-secret or provision-secret-file, not both"));
	if (p->device_secret == NULL && secret_file == NULL)
		return fail (cfg, error, TBG_CONFIG_ERROR_BAD_VALUE, g, "provision-device-key",
		             _("needs provision-device-secret or provision-secret-file"));
	if (secret_file != NULL &&
	    !read_secret_file (cfg, "provision-secret-file", secret_file,
	                       _("the provisioning secret file"), &p->device_secret, error))
		return FALSE;
	if (cfg->server.cert_file != NULL)
		return fail (cfg, error, TBG_CONFIG_ERROR_BAD_VALUE, g, "provision-device-key",
		             _("provisioning gets an access token, but cert-file authenticates already; "
		               "give one of them"));
	if (p->device_name == NULL)
		p->device_name = g_strdup (g_get_host_name ());
	/* ThingsBoard keeps at most 255 characters of a device name. */
	if (g_utf8_strlen (p->device_name, -1) > 255)
		return fail (cfg, error, TBG_CONFIG_ERROR_BAD_VALUE, g, "provision-device-name",
		             _("longer than 255 characters"));
	return TRUE;
}

static gboolean
load_server (TbgConfig *cfg, GError **error)
{
	const char *g = "server";
	guint64 port, keepalive;
	g_autofree char *token_file = NULL;

	if (!tbg_config_check_keys (cfg, g, server_keys, error) ||
	    !tbg_config_get_bool (cfg, g, "tls", FALSE, &cfg->server.tls, error) ||
	    !tbg_config_get_uint (cfg, g, "port", 1, 65535, cfg->server.tls ? 8883 : 1883, &port, error) ||
	    !tbg_config_get_uint (cfg, g, "keepalive", 5, 65535, 60, &keepalive, error))
		return FALSE;
	cfg->server.port = port;
	cfg->server.keepalive_s = keepalive;

	g_free (cfg->server.host);
	cfg->server.host = tbg_config_get_string (cfg, g, "host", "127.0.0.1");
	{
		char *id = tbg_config_get_string (cfg, g, "client-id", NULL);

		if (id != NULL) {
			g_free (cfg->server.client_id);
			cfg->server.client_id = id;
		}
	}
	cfg->server.access_token = tbg_config_get_string (cfg, g, "access-token", NULL);
	token_file = tbg_config_get_string (cfg, g, "access-token-file", NULL);
	if (token_file != NULL && cfg->server.access_token != NULL)
		return fail (cfg, error, TBG_CONFIG_ERROR_BAD_VALUE, g, "access-token-file",
		             _("give either access-token or access-token-file, not both"));
	if (token_file != NULL && !read_token_file (cfg, token_file, error))
		return FALSE;
	/* ThingsBoard opens a provisioning-only session for either. */
	if (g_strcmp0 (cfg->server.client_id, "provision") == 0 ||
	    g_strcmp0 (cfg->server.access_token, "provision") == 0)
		return fail (cfg, error, TBG_CONFIG_ERROR_BAD_VALUE, g,
		             g_strcmp0 (cfg->server.client_id, "provision") == 0 ? "client-id"
		             : token_file ? "access-token-file" : "access-token",
		             _("ThingsBoard reserves “provision” for device provisioning"));

	cfg->server.ca_file = tbg_config_get_string (cfg, g, "ca-file", NULL);
	cfg->server.cert_file = tbg_config_get_string (cfg, g, "cert-file", NULL);
	cfg->server.key_file = tbg_config_get_string (cfg, g, "key-file", NULL);
	if (cfg->server.key_file != NULL)
		warn_if_others_may_read (cfg->server.key_file, "key-file");
	if ((cfg->server.cert_file == NULL) != (cfg->server.key_file == NULL))
		return fail (cfg, error, TBG_CONFIG_ERROR_BAD_VALUE, g,
		             cfg->server.cert_file ? "cert-file" : "key-file",
		             _("cert-file and key-file go together"));
	if (!cfg->server.tls && (cfg->server.ca_file || cfg->server.cert_file))
		return fail (cfg, error, TBG_CONFIG_ERROR_BAD_VALUE, g,
		             cfg->server.ca_file ? "ca-file" : "cert-file",
		             _("certificates are given but tls=false; set tls=true"));
	if (cfg->server.access_token != NULL)
		cfg->credentials = token_file ? TBG_CREDENTIALS_TOKEN_FILE : TBG_CREDENTIALS_ACCESS_TOKEN;
	return load_provision (cfg, error);
}

static gboolean
load_gateway (TbgConfig *cfg, GError **error)
{
	const char *g = "gateway";
	guint64 payload, inflight, linger, rpc, attr, stats;
	g_autofree char *format = NULL;

	if (!tbg_config_check_keys (cfg, g, gateway_keys, error) ||
	    !tbg_config_get_uint (cfg, g, "max-payload-bytes", 256, 16 * 1024 * 1024,
	                          cfg->gateway.max_payload_bytes, &payload, error) ||
	    !tbg_config_get_uint (cfg, g, "max-inflight", 1, 65535, cfg->gateway.max_inflight,
	                          &inflight, error) ||
	    !tbg_config_get_uint (cfg, g, "linger-ms", 0, 1000, cfg->gateway.linger_ms, &linger, error) ||
	    !tbg_config_get_uint (cfg, g, "rpc-timeout-ms", 10, 3600000, cfg->gateway.rpc_timeout_ms,
	                          &rpc, error) ||
	    !tbg_config_get_uint (cfg, g, "attribute-request-timeout-ms", 10, 3600000,
	                          cfg->gateway.attribute_request_timeout_ms, &attr, error) ||
	    !tbg_config_get_uint (cfg, g, "stats-interval-s", 0, 86400,
	                          cfg->gateway.stats_interval_s, &stats, error))
		return FALSE;
	cfg->gateway.max_payload_bytes = payload;
	cfg->gateway.max_inflight = inflight;
	cfg->gateway.linger_ms = linger;
	cfg->gateway.rpc_timeout_ms = rpc;
	cfg->gateway.attribute_request_timeout_ms = attr;
	cfg->gateway.stats_interval_s = stats;

	if (!tbg_config_get_uint (cfg, g, "give-up-after-closes", 0, 1000,
	                          cfg->gateway.give_up_after_closes, &stats, error))
		return FALSE;
	cfg->gateway.give_up_after_closes = stats;

	format = tbg_config_get_string (cfg, g, "attribute-request-format", "split");
	if (g_str_equal (format, "split"))
		cfg->gateway.attribute_request_format = TBG_ATTR_REQUEST_SPLIT;
	else if (g_str_equal (format, "combined"))
		cfg->gateway.attribute_request_format = TBG_ATTR_REQUEST_COMBINED;
	else
		return fail (cfg, error, TBG_CONFIG_ERROR_BAD_VALUE, g, "attribute-request-format",
		             _("“%s” is neither “split” nor “combined”"), format);
	return TRUE;
}

static gboolean
load_storage (TbgConfig *cfg, GError **error)
{
	const char *g = "storage";
	char *path;

	if (!tbg_config_check_keys (cfg, g, storage_keys, error) ||
	    !tbg_config_get_uint (cfg, g, "max-messages", 1, G_MAXUINT32,
	                          cfg->storage.max_messages, &cfg->storage.max_messages, error) ||
	    !tbg_config_get_uint (cfg, g, "ttl-s", 0, G_MAXUINT32, 0, &cfg->storage.ttl_s, error))
		return FALSE;
	path = tbg_config_get_string (cfg, g, "path", TBG_DEFAULT_STATE_DIR);
	g_clear_pointer (&cfg->storage.path, g_free);
	if (g_str_equal (path, "memory")) {
		g_free (path);
		path = NULL;
	} else if (!g_path_is_absolute (path)) {
		g_free (path);
		return fail (cfg, error, TBG_CONFIG_ERROR_BAD_VALUE, g, "path",
		             _("must be an absolute directory or “memory”"));
	}
	cfg->storage.path = path;
	return TRUE;
}

static gboolean
check_groups (TbgConfig *cfg, const char * const *device_prefixes, GError **error)
{
	g_auto (GStrv) groups = g_key_file_get_groups (cfg->keyfile, NULL);

	for (guint i = 0; groups[i] != NULL; i++) {
		const char *colon = strchr (groups[i], ':');

		if (g_strv_contains ((const char * const[]) { "server", "gateway", "storage", NULL },
		                     groups[i]))
			continue;
		/* "[ble]": the settings of a source as a whole */
		if (device_prefixes != NULL && g_strv_contains (device_prefixes, groups[i]))
			continue;
		if (colon != NULL) {
			g_autofree char *prefix = g_strndup (groups[i], colon - groups[i]);

			if (device_prefixes != NULL && g_strv_contains (device_prefixes, prefix)) {
				if (colon[1] == '\0')
					return fail (cfg, error, TBG_CONFIG_ERROR_UNKNOWN_GROUP, groups[i], NULL,
					             _("a device group needs a name after the colon"));
				continue;
			}
		}
		{
			g_autofree char *known = device_prefixes != NULL
				? g_strjoinv (":NAME, ", (char **) device_prefixes) : g_strdup ("");

			return fail (cfg, error, TBG_CONFIG_ERROR_UNKNOWN_GROUP, groups[i], NULL,
			             _("unknown group (known: server, gateway, storage%s%s%s)"),
			             *known ? ", " : "", known, *known ? ":NAME" : "");
		}
	}
	return TRUE;
}

TbgConfig *
tbg_config_load (const char *path, const char * const *device_prefixes, GError **error)
{
	g_autoptr (TbgConfig) cfg = tbg_config_new_default ();
	g_autofree char *text = NULL;
	g_autoptr (GError) local = NULL;
	gsize len;

	cfg->path = g_strdup (path);
	if (!g_file_get_contents (path, &text, &len, &local)) {
		g_set_error (error, TBG_CONFIG_ERROR, TBG_CONFIG_ERROR_IO, "%s", local->message);
		return NULL;
	}
	if (!g_utf8_validate (text, len, NULL)) {
		g_set_error (error, TBG_CONFIG_ERROR, TBG_CONFIG_ERROR_SYNTAX,
		             _("%s: not valid UTF-8 text"), path);
		return NULL;
	}
	if (!index_lines (cfg, text, error))
		return NULL;
	if (!g_key_file_load_from_data (cfg->keyfile, text, len, G_KEY_FILE_NONE, &local)) {
		g_set_error (error, TBG_CONFIG_ERROR, TBG_CONFIG_ERROR_SYNTAX, "%s: %s", path,
		             local->message);
		return NULL;
	}
	if (!check_groups (cfg, device_prefixes, error) || !load_server (cfg, error) ||
	    !load_gateway (cfg, error) || !load_storage (cfg, error))
		return NULL;
	/* The provisioned token is kept in the state directory. */
	if (cfg->provision.device_key != NULL && cfg->storage.path == NULL) {
		fail (cfg, error, TBG_CONFIG_ERROR_BAD_VALUE, "server", "provision-device-key",
		      _("provisioning needs a state directory to keep the token in; "
		        "[storage] path=memory has none"));
		return NULL;
	}
	return g_steal_pointer (&cfg);
}

static gboolean
str_equal0 (const char *a, const char *b)
{
	return g_strcmp0 (a, b) == 0;
}

gboolean
tbg_server_config_equal (const TbgServerConfig *a, const TbgServerConfig *b)
{
	return str_equal0 (a->host, b->host) && a->port == b->port &&
	       str_equal0 (a->access_token, b->access_token) &&
	       str_equal0 (a->client_id, b->client_id) && a->tls == b->tls &&
	       str_equal0 (a->ca_file, b->ca_file) && str_equal0 (a->cert_file, b->cert_file) &&
	       str_equal0 (a->key_file, b->key_file) && a->keepalive_s == b->keepalive_s;
}

static GHashTable *
group_table (const TbgConfig *cfg, const char *group)
{
	GHashTable *table = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
	g_auto (GStrv) keys = NULL;

	if (cfg->keyfile == NULL || !g_key_file_has_group (cfg->keyfile, group))
		return table;
	keys = g_key_file_get_keys (cfg->keyfile, group, NULL, NULL);
	for (guint i = 0; keys != NULL && keys[i] != NULL; i++)
		g_hash_table_replace (table, g_strdup (keys[i]),
		                      g_key_file_get_value (cfg->keyfile, group, keys[i], NULL));
	return table;
}

gboolean
tbg_config_group_equal (const TbgConfig *a, const TbgConfig *b, const char *group)
{
	g_autoptr (GHashTable) ta = group_table (a, group);
	g_autoptr (GHashTable) tb = group_table (b, group);
	GHashTableIter iter;
	gpointer key, value;

	if (g_hash_table_size (ta) != g_hash_table_size (tb))
		return FALSE;
	g_hash_table_iter_init (&iter, ta);
	while (g_hash_table_iter_next (&iter, &key, &value)) {
		if (g_strcmp0 (value, g_hash_table_lookup (tb, key)) != 0)
			return FALSE;
	}
	return TRUE;
}
