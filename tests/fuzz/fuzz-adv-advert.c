/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for every advertisement decoder, through the dispatcher:
 * the first byte picks the service UUID or company id (and name) the rest
 * arrives under, the second whether a bindkey is configured. Arbitrary
 * bytes, as any advertiser in radio range may send. */
#include "ble-advert.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static const struct {
	guint16     id;
	gboolean    service;
	const char *name;
} targets[] = {
	{ 0xFCD2, TRUE, NULL }, { 0x181C, TRUE, NULL }, { 0x181E, TRUE, NULL }, { 0x181A, TRUE, NULL },
	{ 0xFE95, TRUE, NULL }, { 0x0D00, TRUE, NULL }, { 0xFD3D, TRUE, NULL }, { 0xFDCD, TRUE, NULL },
	{ 0xFEAA, TRUE, NULL }, { 0x0499, FALSE, NULL }, { 0xEC88, FALSE, NULL }, { 0x0001, FALSE, NULL },
	{ 0x004C, FALSE, NULL }, { 0x0929, FALSE, "sps" }, { 0xFC18, FALSE, "tps" },
};

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
	static const guint8 key[16] = { 0xb2, 0xd4, 0x6f, 0x0c, 0xd1, 0x68, 0xc1, 0x8b,
	                                0x24, 0x7c, 0x0c, 0x79, 0xe9, 0xad, 0x5b, 0x8d };
	TbgAdvState st = { 0 };
	TbgAdvEntry e;
	TbgAdvert ad = { .address = { 0xa4, 0xc1, 0x38, 0x2f, 0x87, 0x6b }, .has_rssi = TRUE, .rssi = -60 };
	TbgAdvFormat f;
	json_t *values;
	GError *error = NULL;
	guint t;

	if (size < 2)
		return 0;
	t = data[0] % G_N_ELEMENTS (targets);
	st.key = (data[1] & 1) ? key : NULL;
	e.id = targets[t].id;
	e.data = data + 2;
	e.len = size - 2;
	ad.name = targets[t].name;
	if (targets[t].service) {
		ad.service_data = &e;
		ad.n_service_data = 1;
	} else {
		ad.manufacturer_data = &e;
		ad.n_manufacturer_data = 1;
	}
	/* twice: the second must be the same packet again, never a new sample */
	for (guint round = 0; round < 2; round++) {
		TbgAdvertResult r = tbg_advert_decode (&ad, (1u << TBG_ADV_N_FORMATS) - 1, &st, 0, &f, &values, &error);

		if (r == TBG_ADVERT_SAMPLE) {
			if (round == 1 || values == NULL || json_object_size (values) < 2 || error != NULL)
				__builtin_trap ();   /* at least one value besides rssi */
			json_decref (values);
		} else {
			if (values != NULL)
				__builtin_trap ();
			if ((r == TBG_ADVERT_INVALID || r == TBG_ADVERT_WRONG_KEY || r == TBG_ADVERT_NEEDS_KEY) !=
			    (error != NULL))
				__builtin_trap ();   /* every refusal says why */
			g_clear_error (&error);
		}
	}
	return 0;
}
