/* SPDX-License-Identifier: Apache-2.0 */
/* provision.c — see provision.h. */
#include "provision.h"
#include "credentials.h"
#include "mqtt-link.h"
#include "provision-codec.h"
#include "i18n.h"

#include <string.h>

struct _TbgProvisioner {
	TbgMqttLink        *link;
	char               *request;      /* the payload, the same every time */
	char               *device_name;
	char               *state_dir;
	TbgProvisionedFunc  done;
	gpointer            user_data;
	gboolean            requested;    /* on this connection */
	gboolean            answered;     /* on this connection */
	char               *token;        /* what SUCCESS brought */
	guint               finish_id;
};

static const char * const subscriptions[] = { TBG_PROVISION_RESPONSE_TOPIC, NULL };

static void
link_up (gpointer data)
{
	TbgProvisioner *p = data;
	g_autoptr (GError) error = NULL;
	int mid;

	/* One request per connection: a server that does not answer gets no
	 * second one until the link has reconnected (after its backoff). */
	p->requested = FALSE;
	p->answered = FALSE;
	if (!tbg_mqtt_link_publish (p->link, TBG_PROVISION_REQUEST_TOPIC, p->request,
	                            strlen (p->request), &mid, &error)) {
		g_warning (_("Cannot send the provisioning request: %s"), error->message);
		return;
	}
	p->requested = TRUE;
	g_message (_("Asked %s to provision the gateway as “%s”"), tbg_mqtt_link_describe (p->link),
	           p->device_name);
}

static gboolean
finish_cb (gpointer data)
{
	TbgProvisioner *p = data;
	g_autoptr (GError) error = NULL;

	p->finish_id = 0;
	/* ThingsBoard would close the session a minute later; we are done. */
	tbg_mqtt_link_stop (p->link);
	if (p->token != NULL) {
		g_autofree char *path = g_build_filename (p->state_dir, TBG_PROVISIONED_TOKEN_NAME, NULL);

		if (tbg_credentials_store (p->state_dir, p->token, &error))
			g_message (_("Provisioned as “%s”; the access token is stored in %s"), p->device_name,
			           path);
		else
			g_warning (_("Provisioned as “%s”, but the access token cannot be stored (%s): it is "
			             "used until tbgwd stops, and ThingsBoard refuses to provision the same "
			             "name again"), p->device_name, error->message);
	}
	/* Last: the callback may free us. */
	p->done (p->token, p->user_data);
	return G_SOURCE_REMOVE;
}

static void
handle_response (TbgProvisioner *p, const void *payload, gsize len)
{
	g_autoptr (GError) error = NULL;
	TbgProvisionResponse r;
	const char *server = tbg_mqtt_link_describe (p->link);

	if (!tbg_provision_response_parse (payload, len, &r, &error)) {
		g_warning (_("Malformed provisioning response from %s: %s"), server, error->message);
		tbg_mqtt_link_drop (p->link, _("no usable provisioning response"));
		return;
	}
	switch (r.status) {
	case TBG_PROVISION_SUCCESS:
		p->token = g_steal_pointer (&r.token);
		/* The link may not go away inside its own callback. */
		p->finish_id = g_idle_add (finish_cb, p);
		break;
	case TBG_PROVISION_NOT_FOUND:
		g_warning (_("%s refused to provision “%s”: NOT_FOUND (%s); check provision-device-key and "
		             "provision-device-secret against the device profile"), server, p->device_name,
		           r.error_msg ? r.error_msg : _("no message"));
		tbg_mqtt_link_drop (p->link, _("provisioning refused"));
		break;
	case TBG_PROVISION_FAILURE:
		g_warning (_("%s refused to provision “%s”: FAILURE (%s); a device of that name may exist "
		             "already"), server, p->device_name, r.error_msg ? r.error_msg : _("no message"));
		tbg_mqtt_link_drop (p->link, _("provisioning refused"));
		break;
	case TBG_PROVISION_UNSUPPORTED:
		g_warning (_("%s provisioned “%s” with %s credentials, which tbgwd does not support: give "
		             "the device access token credentials in ThingsBoard, or set access-token; "
		             "provisioning stopped"), server, p->device_name, r.credentials_type);
		p->finish_id = g_idle_add (finish_cb, p);
		break;
	}
	tbg_provision_response_clear (&r);
}

static void
link_message (const char *topic, const void *payload, gsize len, gpointer data)
{
	TbgProvisioner *p = data;

	if (!g_str_equal (topic, TBG_PROVISION_RESPONSE_TOPIC))
		return;
	/* A retained message from before our request, or a second answer
	 * (a plain broker, another client): only the first counts. */
	if (!p->requested || p->answered || p->finish_id != 0) {
		g_debug ("Ignoring a message on %s that answers no request of ours", topic);
		return;
	}
	p->answered = TRUE;
	handle_response (p, payload, len);
}

static const TbgMqttLinkCallbacks link_callbacks = {
	.up = link_up,
	.message = link_message,
};

TbgProvisioner *
tbg_provisioner_new (const TbgConfig *cfg, TbgProvisionedFunc done, gpointer user_data,
                     GError **error)
{
	TbgProvisioner *p;
	TbgServerConfig server = cfg->server;
	char *request;

	g_return_val_if_fail (cfg->provision.device_key != NULL && cfg->storage.path != NULL, NULL);
	request = tbg_provision_request (cfg->provision.device_name, cfg->provision.device_key,
	                                 cfg->provision.device_secret, error);
	if (request == NULL)
		return NULL;
	p = g_new0 (TbgProvisioner, 1);
	p->request = request;
	p->device_name = g_strdup (cfg->provision.device_name);
	p->state_dir = g_strdup (cfg->storage.path);
	p->done = done;
	p->user_data = user_data;
	/* The link copies the settings: a borrowed user name will do. */
	server.access_token = (char *) TBG_PROVISION_USERNAME;
	p->link = tbg_mqtt_link_new (&server, subscriptions, 1, &link_callbacks, p, error);
	if (p->link == NULL) {
		tbg_provisioner_free (p);
		return NULL;
	}
	return p;
}

void
tbg_provisioner_start (TbgProvisioner *p)
{
	tbg_mqtt_link_start (p->link);
}

void
tbg_provisioner_reconnect (TbgProvisioner *p)
{
	if (p->finish_id == 0)
		tbg_mqtt_link_reconnect (p->link);
}

void
tbg_provisioner_free (TbgProvisioner *p)
{
	if (p == NULL)
		return;
	g_clear_handle_id (&p->finish_id, g_source_remove);
	g_clear_pointer (&p->link, tbg_mqtt_link_free);
	if (p->token != NULL)
		explicit_bzero (p->token, strlen (p->token));
	g_free (p->token);
	explicit_bzero (p->request, strlen (p->request));
	g_free (p->request);
	g_free (p->device_name);
	g_free (p->state_dir);
	g_free (p);
}
