/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for spool rows: whatever bytes a damaged spool file
 * holds must parse into whole records or stop with *bad, and every record
 * read must survive being written again unchanged. */
#include "spool-blob.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
	const guint8 *p = data, *end = data + size;
	GByteArray *again = g_byte_array_new ();
	gboolean bad = FALSE;
	TbgRecord *rec;

	while ((rec = tbg_spool_blob_next (&p, end, &bad)) != NULL) {
		const guint8 *q;
		TbgRecord *copy;
		gboolean bad2;
		guint before = again->len;

		if (p > end || rec->kind >= TBG_RECORD_N_KINDS)
			__builtin_trap ();
		tbg_spool_blob_append (again, rec);
		q = again->data + before;
		copy = tbg_spool_blob_next (&q, again->data + again->len, &bad2);
		if (copy == NULL || bad2 || copy->kind != rec->kind ||
		    copy->len != rec->len || memcmp (copy->payload, rec->payload, rec->len) != 0 ||
		    g_strcmp0 (copy->device, rec->device) != 0)
			__builtin_trap ();
		tbg_record_free (copy);
		tbg_record_free (rec);
	}
	if (!bad && p != end)
		__builtin_trap ();   /* stopped early without saying so */
	g_byte_array_unref (again);
	return 0;
}
