/* SPDX-License-Identifier: Apache-2.0 */
/* provision-codec.h — ThingsBoard's device provisioning over MQTT, as pure
 * functions: the request tbgwd publishes on /provision/request and the
 * answer that comes on /provision/response. No socket, clock or main loop.
 *
 * What ThingsBoard's MQTT transport does (MqttTransportHandler,
 * JsonConverter, DeviceProvisionServiceImpl): a CONNECT with the user name
 * (or client id) "provision" opens a session that may only subscribe to
 * /provision/response and publish to /provision/request. The request is
 * answered with one publish; the server closes the session 60 s later.
 * "gateway": true at the top level of the request marks the device it
 * creates as a gateway (its additionalInfo.gateway).
 */
#pragma once

#include <glib.h>

#define TBG_PROVISION_REQUEST_TOPIC  "/provision/request"
#define TBG_PROVISION_RESPONSE_TOPIC "/provision/response"
/* The user name that makes ThingsBoard treat a session as provisioning. */
#define TBG_PROVISION_USERNAME       "provision"

typedef enum {
	TBG_PROVISION_SUCCESS,          /* with an access token */
	TBG_PROVISION_NOT_FOUND,        /* no profile with this key and secret */
	TBG_PROVISION_FAILURE,          /* e.g. a device of that name exists */
	TBG_PROVISION_UNSUPPORTED,      /* SUCCESS, but not an access token */
} TbgProvisionStatus;

typedef struct {
	TbgProvisionStatus status;
	char *token;             /* SUCCESS: the access token */
	char *credentials_type;  /* as the server named it (UNSUPPORTED: what it offered) */
	char *error_msg;         /* NOT_FOUND / FAILURE: the server's errorMsg, or NULL */
} TbgProvisionResponse;

/* {"deviceName":…,"provisionDeviceKey":…,"provisionDeviceSecret":…,"gateway":true}
 * (g_free). All three strings must be valid UTF-8; @device_name may be
 * NULL (the server then makes up a name). */
char    *tbg_provision_request (const char *device_name, const char *key, const char *secret,
                                GError **error);
/* Decodes an answer. FALSE with @error on anything that is not one of
 * ThingsBoard's answers (not JSON, no status, an unknown status, SUCCESS
 * without a usable token); @out is then cleared. */
gboolean tbg_provision_response_parse (const void *payload, gsize len, TbgProvisionResponse *out,
                                       GError **error);
void     tbg_provision_response_clear (TbgProvisionResponse *r);
