/* SPDX-License-Identifier: Apache-2.0 */
/* config.h — tbgw.conf (GKeyFile) → validated structs.
 *
 * The core owns [server], [gateway] and [storage]; groups named
 * "<source>:<device name>" belong to the sources, which validate their own
 * keys with tbg_config_check_keys() so that a typo is reported with file and
 * line instead of being silently ignored.
 */
#pragma once

#include <glib.h>

#include "tbg-paths.h"

#define TBG_CONFIG_ERROR (tbg_config_error_quark ())
typedef enum {
	TBG_CONFIG_ERROR_IO,
	TBG_CONFIG_ERROR_SYNTAX,
	TBG_CONFIG_ERROR_UNKNOWN_GROUP,
	TBG_CONFIG_ERROR_UNKNOWN_KEY,
	TBG_CONFIG_ERROR_BAD_VALUE,
} TbgConfigError;
GQuark tbg_config_error_quark (void);

#define TBG_DEFAULT_CONFIG_PATH SYSCONFDIR "/tbgw/tbgw.conf"

typedef struct {
	char     *host;
	guint16   port;
	char     *access_token;     /* NULL: connect without a username */
	char     *client_id;
	gboolean  tls;
	char     *ca_file;          /* NULL with tls: the system's CA store */
	char     *cert_file;        /* X.509 client authentication */
	char     *key_file;
	guint     keepalive_s;
} TbgServerConfig;

/* [server] provision-*: what ThingsBoard's device provisioning needs. */
typedef struct {
	char     *device_key;       /* NULL: no provisioning */
	char     *device_secret;
	char     *device_name;      /* default: the host name */
} TbgProvisionConfig;

/* Where the access token comes from; a configured token wins over a stored
 * (provisioned) one, which wins over provisioning. */
typedef enum {
	TBG_CREDENTIALS_NONE,          /* anonymous, or a client certificate */
	TBG_CREDENTIALS_ACCESS_TOKEN,  /* [server] access-token */
	TBG_CREDENTIALS_TOKEN_FILE,    /* [server] access-token-file */
	TBG_CREDENTIALS_PROVISIONED,   /* stored in the state directory by provisioning */
	TBG_CREDENTIALS_PROVISIONING,  /* none yet: to be asked for */
} TbgCredentialsSource;

typedef enum {
	TBG_ATTR_REQUEST_SPLIT,     /* one request per scope: what ThingsBoard parses */
	TBG_ATTR_REQUEST_COMBINED,  /* the documented {"client":[..],"shared":[..]} form */
} TbgAttrRequestFormat;

typedef struct {
	gsize    max_payload_bytes;
	guint    max_inflight;
	guint    linger_ms;
	guint    rpc_timeout_ms;
	guint    attribute_request_timeout_ms;
	guint    stats_interval_s;
	TbgAttrRequestFormat attribute_request_format;
	guint    give_up_after_closes;  /* 0: never give up on a record */
} TbgGatewayConfig;

typedef struct {
	char    *path;              /* state directory of the spool; NULL: memory only */
	guint64  max_messages;      /* oldest dropped (and counted) beyond this */
	guint64  ttl_s;             /* 0: kept until sent */
} TbgStorageConfig;

#define TBG_DEFAULT_STATE_DIR LOCALSTATEDIR "/lib/tbgw"

typedef struct _TbgConfig TbgConfig;
struct _TbgConfig {
	char            *path;      /* NULL for built-in defaults */
	TbgServerConfig  server;
	TbgGatewayConfig gateway;
	TbgStorageConfig storage;
	TbgProvisionConfig provision;
	TbgCredentialsSource credentials;  /* config: token or file; credentials.c the rest */
	gboolean         session_bus;  /* --session: not from the file */
	GKeyFile        *keyfile;
	GHashTable      *lines;     /* "group\nkey" and "group" → line number */
};

TbgConfig *tbg_config_new_default (void);
/* Loads and validates a file. Every error names the file, the line and the key.
 * @device_prefixes: the "<prefix>:NAME" groups the compiled-in sources accept. */
TbgConfig *tbg_config_load (const char *path, const char * const *device_prefixes,
                            GError **error);
void       tbg_config_free (TbgConfig *cfg);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TbgConfig, tbg_config_free)

/* Groups "<prefix>:<name>" in file order; returns the names (g_strfreev). */
char     **tbg_config_device_groups (const TbgConfig *cfg, const char *prefix);
/* Rejects keys of @group that are not in @allowed (NULL-terminated). */
gboolean   tbg_config_check_keys (const TbgConfig *cfg, const char *group,
                                  const char * const *allowed, GError **error);
/* "path:line" of a key (or of its group when key is NULL), for messages. */
char      *tbg_config_where (const TbgConfig *cfg, const char *group, const char *key);
/* Typed getters for sources; absent keys give the default, a bad value an error naming file:line. */
gboolean   tbg_config_get_uint (const TbgConfig *cfg, const char *group, const char *key,
                                guint64 min, guint64 max, guint64 def, guint64 *out, GError **error);
gboolean   tbg_config_get_bool (const TbgConfig *cfg, const char *group, const char *key,
                                gboolean def, gboolean *out, GError **error);
char      *tbg_config_get_string (const TbgConfig *cfg, const char *group, const char *key,
                                  const char *def);
gboolean   tbg_server_config_equal (const TbgServerConfig *a, const TbgServerConfig *b);
/* TRUE if @group has the same keys with the same values, in any order, in
 * both configs (absent from both counts as equal). What a reload compares
 * to leave an unchanged device alone. */
gboolean   tbg_config_group_equal (const TbgConfig *a, const TbgConfig *b, const char *group);
