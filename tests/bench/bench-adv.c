/* SPDX-License-Identifier: Apache-2.0 */
/* bench-adv — CPU cost of decoding one advertisement, per format: the whole
 * path a scan takes (dispatcher, decoder, AES-CCM where encrypted, the JSON
 * values), on the vectors of tests/test-adv-formats.c. Every round gets a
 * fresh state, so no packet is dropped as a duplicate. Reports the median
 * of several runs of N decodes each. */
#include "ble-advert.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
	const char  *label;
	guint16      id;
	gboolean     service;
	const char  *name;
	gboolean     keyed;
	const char  *hex;
} Vector;

static const Vector vectors[] = {
	{ "BTHome v2 plain", 0xFCD2, TRUE, NULL, FALSE, "400007 02ca09 03bf13" },
	{ "BTHome v2 encrypted", 0xFCD2, TRUE, NULL, TRUE, "4144081619272205000000d06ca40c" },
	{ "BTHome v1 plain", 0x181C, TRUE, NULL, FALSE, "0200092302ca090303bf13" },
	{ "ATC1441", 0x181A, TRUE, NULL, FALSE, "a4c1382f876b00eb2d570b5410" },
	{ "pvvx custom", 0x181A, TRUE, NULL, FALSE, "6b872f38c1a42909d711540b572200" },
	{ "pvvx encrypted", 0x181A, TRUE, NULL, TRUE, "213a80a0f6902f68b4e669" },
	{ "MiBeacon plain", 0xFE95, TRUE, NULL, FALSE, "50305b05271c250f38c1a40d10046d00e301" },
	{ "MiBeacon v5 encrypted", 0xFE95, TRUE, NULL, TRUE, "58585b05c06b872f38c1a4057a26dd242100004588afc5" },
	{ "Ruuvi format 5", 0x0499, FALSE, NULL, FALSE, "0512fc5394c37c0004fffc040cac364200cdcbb8334c884f" },
	{ "Govee H5075", 0xEC88, FALSE, NULL, FALSE, "00036a4f6400" },
	{ "SwitchBot Meter", 0x0D00, TRUE, NULL, FALSE, "5400e406972d" },
	{ "Qingping", 0xFDCD, TRUE, NULL, FALSE, "88106b872f38c1a40104e900c50102015d07024627" },
	{ "Inkbird IBS-TH2", 0x0929, FALSE, "sps", FALSE, "d7110012345708" },
	{ "iBeacon", 0x004C, FALSE, NULL, FALSE, "0215e2c56db5dffb48d2b060d0f5a71096e000010002c5" },
	{ "Eddystone TLM", 0xFEAA, TRUE, NULL, FALSE, "20000bb817800000001000000020" },
};

static gsize
unhex (const char *s, guint8 *out)
{
	gsize n = 0;

	for (; *s != '\0'; s++) {
		if (*s == ' ')
			continue;
		out[n / 2] = (guint8) ((n % 2 ? out[n / 2] << 4 : 0) | g_ascii_xdigit_value (*s));
		n++;
	}
	return n / 2;
}

static int
cmp (const void *a, const void *b)
{
	double x = *(const double *) a, y = *(const double *) b;

	return (x > y) - (x < y);
}

int
main (int argc, char **argv)
{
	static const guint8 key[16] = { 0xb2, 0xd4, 0x6f, 0x0c, 0xd1, 0x68, 0xc1, 0x8b,
	                                0x24, 0x7c, 0x0c, 0x79, 0xe9, 0xad, 0x5b, 0x8d };
	guint n = argc > 1 ? (guint) atoi (argv[1]) : 20000;
	enum { RUNS = 7 };

	printf ("%-24s %12s %12s\n", "format", "ns/advert", "adverts/s");
	for (guint v = 0; v < G_N_ELEMENTS (vectors); v++) {
		guint8 data[64];
		TbgAdvEntry e = { vectors[v].id, data, unhex (vectors[v].hex, data) };
		TbgAdvert ad = { .address = { 0xa4, 0xc1, 0x38, 0x2f, 0x87, 0x6b }, .has_rssi = TRUE, .rssi = -60,
		                 .name = vectors[v].name };
		double ns[RUNS];

		if (vectors[v].service) {
			ad.service_data = &e;
			ad.n_service_data = 1;
		} else {
			ad.manufacturer_data = &e;
			ad.n_manufacturer_data = 1;
		}
		for (guint r = 0; r < RUNS; r++) {
			gint64 t0 = g_get_monotonic_time ();

			for (guint i = 0; i < n; i++) {
				TbgAdvState st = { .key = vectors[v].keyed ? key : NULL };
				TbgAdvFormat f;
				json_t *values;

				if (tbg_advert_decode (&ad, (1u << TBG_ADV_N_FORMATS) - 1, &st, 0, &f, &values, NULL) !=
				    TBG_ADVERT_SAMPLE) {
					fprintf (stderr, "%s: vector does not decode\n", vectors[v].label);
					return 1;
				}
				json_decref (values);
			}
			ns[r] = (double) (g_get_monotonic_time () - t0) * 1000.0 / n;
		}
		qsort (ns, RUNS, sizeof ns[0], cmp);
		printf ("%-24s %12.0f %12.0f\n", vectors[v].label, ns[RUNS / 2], 1e9 / ns[RUNS / 2]);
	}
	return 0;
}
