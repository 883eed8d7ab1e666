/* SPDX-License-Identifier: Apache-2.0 */
/* provision.h — asks ThingsBoard for an access token (device provisioning).
 *
 * A connection of its own, as user name "provision", that subscribes to
 * /provision/response and publishes one request per connection. A refusal
 * (NOT_FOUND, FAILURE) or a malformed answer closes the connection; the
 * next one waits for the link's backoff. The token that comes back is
 * stored in the state directory before it is handed on.
 */
#pragma once

#include "config.h"

typedef struct _TbgProvisioner TbgProvisioner;

/* @token: the new access token, or NULL when provisioning cannot succeed
 * as configured (the server offers credentials tbgwd cannot use). Called
 * from an idle callback once the provisioning connection is closed; it may
 * free the provisioner. */
typedef void (*TbgProvisionedFunc) (const char *token, gpointer user_data);

/* @cfg must have a provisioning key and a state directory. */
TbgProvisioner *tbg_provisioner_new (const TbgConfig *cfg, TbgProvisionedFunc done,
                                     gpointer user_data, GError **error);
void            tbg_provisioner_start (TbgProvisioner *p);
/* A new connection (and request) at once. */
void            tbg_provisioner_reconnect (TbgProvisioner *p);
void            tbg_provisioner_free (TbgProvisioner *p);
