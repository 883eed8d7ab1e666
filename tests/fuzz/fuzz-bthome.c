/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for BTHome service data: arbitrary bytes, as any
 * advertiser in radio range may send. */
#include "bthome.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
	TbgBthomePacket p;
	GError *error = NULL;

	if (tbg_bthome_decode (data, size, &p, &error)) {
		if (!json_is_object (p.values) || (json_object_size (p.values) == 0 && !p.has_packet_id))
			__builtin_trap ();
		tbg_bthome_packet_clear (&p);
	} else {
		if (error == NULL || p.values != NULL)
			__builtin_trap ();   /* every refusal says why, and leaks nothing */
		g_error_free (error);
	}
	return 0;
}
