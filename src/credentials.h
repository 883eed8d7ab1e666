/* SPDX-License-Identifier: Apache-2.0 */
/* credentials.h — which access token tbgwd connects with, and the one
 * device provisioning stored.
 *
 * A token in the config ([server] access-token or access-token-file) wins;
 * else the token an earlier provisioning stored in the state directory
 * ([storage] path); else, with a provisioning key, tbgwd asks ThingsBoard
 * for one (provision.c).
 */
#pragma once

#include "config.h"

/* The file in the state directory. */
#define TBG_PROVISIONED_TOKEN_NAME "provisioned-token"

/* Where the provisioned token is kept (g_free), NULL without a state directory. */
char       *tbg_credentials_stored_path (const TbgConfig *cfg);
/* Completes a loaded config: without a configured token, takes the stored
 * one (cfg->server.access_token) and sets cfg->credentials. */
void        tbg_credentials_resolve (TbgConfig *cfg);
/* Writes @token to @state_dir: mode 0600, replaced atomically. */
gboolean    tbg_credentials_store (const char *state_dir, const char *token, GError **error);
/* "none", "access-token", "token-file", "provisioned", "provisioning". */
const char *tbg_credentials_source_to_string (TbgCredentialsSource source);
