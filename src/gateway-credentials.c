/* SPDX-License-Identifier: Apache-2.0 */
/* gateway-credentials.c — the gateway's access token: connecting with the
 * one gw->cfg names, or provisioning one first (provision.c) and then
 * connecting with it. See credentials.h for which token wins. */
#include "gateway-private.h"
#include "credentials.h"
#include "i18n.h"

#include <string.h>

static void
set_source (TbgGateway *gw, TbgCredentialsSource source)
{
	if (gw->cfg->credentials == source)
		return;
	gw->cfg->credentials = source;
	g_object_notify (G_OBJECT (gw), "credentials-source");
}

void
_tbg_gateway_credentials_stop (TbgGateway *gw)
{
	g_clear_pointer (&gw->provisioner, tbg_provisioner_free);
}

static void
provisioned (const char *token, gpointer data)
{
	TbgGateway *gw = data;
	g_autoptr (GError) error = NULL;
	TbgMqttLink *link;

	/* @token belongs to the provisioner. */
	if (token != NULL)
		gw->cfg->server.access_token = g_strdup (token);
	_tbg_gateway_credentials_stop (gw);
	if (token == NULL) {
		set_source (gw, TBG_CREDENTIALS_NONE);
		return;
	}
	link = _tbg_gateway_new_link (gw, gw->cfg, &error);
	if (link == NULL) {
		/* The settings were good for the provisioning link. */
		g_warning (_("Cannot connect with the provisioned access token: %s"), error->message);
		set_source (gw, TBG_CREDENTIALS_NONE);
		return;
	}
	set_source (gw, TBG_CREDENTIALS_PROVISIONED);
	_tbg_gateway_use_link (gw, link);
}

void
_tbg_gateway_connect (TbgGateway *gw)
{
	g_autoptr (GError) error = NULL;

	if (gw->cfg->credentials != TBG_CREDENTIALS_PROVISIONING) {
		_tbg_gateway_credentials_stop (gw);
		if (gw->cfg->credentials == TBG_CREDENTIALS_PROVISIONED) {
			g_autofree char *path = tbg_credentials_stored_path (gw->cfg);

			g_message (_("Using the access token that provisioning stored in %s"), path);
		}
		tbg_mqtt_link_start (gw->link);
		return;
	}
	if (gw->provisioner != NULL)
		return;
	/* Data queued meanwhile waits in the outbox for the real link. */
	gw->provisioner = tbg_provisioner_new (gw->cfg, provisioned, gw, &error);
	if (gw->provisioner == NULL) {
		g_warning (_("Cannot provision: %s"), error->message);
		set_source (gw, TBG_CREDENTIALS_NONE);
		return;
	}
	g_message (_("No access token yet: asking ThingsBoard for one (device provisioning)"));
	tbg_provisioner_start (gw->provisioner);
}

void
_tbg_gateway_credentials_prepare (TbgGateway *gw, TbgConfig *new_cfg)
{
	tbg_credentials_resolve (new_cfg);
	/* A provisioned token that could not be stored, or whose file went
	 * away, stays in use until tbgwd restarts: asking again would only
	 * get a FAILURE for the name that exists now. */
	if (new_cfg->credentials == TBG_CREDENTIALS_PROVISIONING &&
	    gw->cfg->credentials == TBG_CREDENTIALS_PROVISIONED) {
		new_cfg->server.access_token = g_strdup (gw->cfg->server.access_token);
		new_cfg->credentials = TBG_CREDENTIALS_PROVISIONED;
	}
}

void
_tbg_gateway_credentials_reloaded (TbgGateway *gw, const TbgConfig *old_cfg, gboolean new_link)
{
	TbgCredentialsSource now = gw->cfg->credentials;

	/* The config was swapped under the property: say if it changed. */
	if (now != old_cfg->credentials)
		g_object_notify (G_OBJECT (gw), "credentials-source");
	/* Still provisioning over the same link: other provisioning settings
	 * start over with them; the same ones keep the connection. */
	if (new_link)
		return;
	if (now == TBG_CREDENTIALS_PROVISIONING && gw->provisioner != NULL &&
	    !tbg_config_group_equal (old_cfg, gw->cfg, "server"))
		_tbg_gateway_credentials_stop (gw);
	if (now == TBG_CREDENTIALS_PROVISIONING && gw->provisioner == NULL)
		_tbg_gateway_connect (gw);
}

gboolean
_tbg_gateway_credentials_reconnect (TbgGateway *gw)
{
	if (gw->provisioner != NULL) {
		tbg_provisioner_reconnect (gw->provisioner);
		return TRUE;
	}
	/* Provisioning gave up (see provisioned()): a person asks to try
	 * again, not to connect without a token. */
	if (gw->cfg->server.access_token == NULL && gw->cfg->provision.device_key != NULL &&
	    gw->cfg->server.cert_file == NULL) {
		set_source (gw, TBG_CREDENTIALS_PROVISIONING);
		_tbg_gateway_connect (gw);
		return TRUE;
	}
	return FALSE;
}
