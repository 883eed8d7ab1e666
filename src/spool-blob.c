/* SPDX-License-Identifier: Apache-2.0 */
/* spool-blob.c — see spool-blob.h. */
#include "spool-blob.h"
#include "byte-order.h"

#include <string.h>

#define NO_DEVICE 0xffff

static void
put_le (GByteArray *b, guint64 v, guint n)
{
	guint8 bytes[8];

	for (guint i = 0; i < n; i++)
		bytes[i] = (guint8) (v >> (8 * i));
	g_byte_array_append (b, bytes, n);
}

void
tbg_spool_blob_append (GByteArray *b, const TbgRecord *rec)
{
	gsize dlen = rec->device ? strlen (rec->device) : 0;

	put_le (b, rec->kind, 1);
	put_le (b, 0, 8);
	put_le (b, rec->device ? MIN (dlen, NO_DEVICE - 1) : NO_DEVICE, 2);
	if (rec->device != NULL)
		g_byte_array_append (b, (const guint8 *) rec->device, MIN (dlen, NO_DEVICE - 1));
	put_le (b, rec->len, 4);
	g_byte_array_append (b, (const guint8 *) rec->payload, rec->len);
}

static gboolean
get_le (const guint8 **p, const guint8 *end, guint n, guint64 *out)
{
	*out = 0;
	if ((gsize) (end - *p) < n)
		return FALSE;
	*out = (guint64) tbg_read_le (*p, n, FALSE);
	*p += n;
	return TRUE;
}

TbgRecord *
tbg_spool_blob_next (const guint8 **p, const guint8 *end, gboolean *bad)
{
	guint64 kind, unused, dlen, plen;
	char *device = NULL, *payload;
	TbgRecord *rec;

	*bad = FALSE;
	if (*p == end)
		return NULL;
	if (!get_le (p, end, 1, &kind) || tbg_record_kind_topic ((TbgRecordKind) kind) == NULL ||
	    !get_le (p, end, 8, &unused) ||
	    !get_le (p, end, 2, &dlen) || (dlen != NO_DEVICE && (gsize) (end - *p) < dlen)) {
		*bad = TRUE;
		return NULL;
	}
	if (dlen != NO_DEVICE) {
		device = g_strndup ((const char *) *p, dlen);
		*p += dlen;
	}
	if (!get_le (p, end, 4, &plen) || (gsize) (end - *p) < plen) {
		g_free (device);
		*bad = TRUE;
		return NULL;
	}
	payload = g_malloc (plen + 1);
	memcpy (payload, *p, plen);
	payload[plen] = '\0';
	rec = tbg_record_new ((TbgRecordKind) kind, device, payload, plen);
	*p += plen;
	g_free (device);
	return rec;
}
