/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for the provisioning answer decoder (what comes on
 * /provision/response): whatever arrives, it must neither crash nor leak;
 * a success carries a token fit for a file and a CONNECT packet, a failure
 * a message. The input also goes into a request as the device name, which
 * must then be JSON that reads back the same. */
#include "provision-codec.h"

#include <jansson.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
	GError *error = NULL;
	TbgProvisionResponse r;
	g_autofree char *name = g_strndup ((const char *) data, size);
	char *req;

	if (tbg_provision_response_parse (data, size, &r, &error)) {
		if ((r.status == TBG_PROVISION_SUCCESS) != (r.token != NULL))
			__builtin_trap ();
		if (r.token != NULL && (r.token[0] == '\0' || strchr (r.token, '\n') != NULL))
			__builtin_trap ();
		if (r.status == TBG_PROVISION_UNSUPPORTED && r.credentials_type == NULL)
			__builtin_trap ();
		tbg_provision_response_clear (&r);
	} else if (error == NULL || error->message == NULL || r.token != NULL) {
		__builtin_trap ();
	}
	g_clear_error (&error);

	req = tbg_provision_request (name, "key", "secret", &error);
	if (req != NULL) {
		json_t *j = json_loads (req, 0, NULL);

		if (j == NULL || g_strcmp0 (json_string_value (json_object_get (j, "deviceName")), name) != 0)
			__builtin_trap ();
		json_decref (j);
		g_free (req);
	} else if (error == NULL) {
		__builtin_trap ();
	}
	g_clear_error (&error);
	return 0;
}
