/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for the downlink decoder: the first line of the input is
 * the topic, the rest the payload. Whatever arrives, decoding must neither
 * crash nor leak, and a failure must come with a message. */
#include "gateway-codec.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr (data, '\n', size);
	g_autofree char *topic = NULL;
	GError *error = NULL;
	TbgDownlink d;
	gsize tlen;

	if (nl == NULL)
		return 0;
	tlen = nl - data;
	topic = g_strndup ((const char *) data, tlen);
	if (tbg_codec_decode (topic, nl + 1, size - tlen - 1, &d, &error)) {
		/* What decodes must re-encode where the gateway would. */
		if (d.kind == TBG_DOWNLINK_RPC_REQUEST) {
			json_t *params = d.params ? d.params : json_null ();
			g_autofree char *resp = tbg_codec_rpc_response (d.device, d.id, params, NULL);

			if (resp == NULL)
				__builtin_trap ();
			if (d.params == NULL)
				json_decref (params);
		}
	} else if (error == NULL || error->message == NULL) {
		__builtin_trap ();
	}
	g_clear_error (&error);
	tbg_downlink_clear (&d);
	return 0;
}
