/* SPDX-License-Identifier: Apache-2.0 */
/* spool-blob.h — the records of one spool row, as bytes. Pure, fuzzed.
 *
 * A record: kind u8, 8 bytes unused (0; once an RPC id), device length
 * u16 (0xffff: none), device,
 * payload length u32, payload; integers little endian. Records follow one
 * another; their seqs are implied by the row's first seq. A device name of
 * 65,535 bytes or more is cut to 65,534.
 */
#pragma once

#include "outbox.h"

void       tbg_spool_blob_append (GByteArray *blob, const TbgRecord *rec);
/* The record at *@p (advanced past it), with seq 0; NULL at @end, or with
 * *@bad set if what is there is not a whole record. */
TbgRecord *tbg_spool_blob_next (const guint8 **p, const guint8 *end, gboolean *bad);
