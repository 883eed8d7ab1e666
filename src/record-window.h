/* SPDX-License-Identifier: Apache-2.0 */
/* record-window.h — the in-memory part of an outbox: records in order,
 * split into [in flight][unsent]. PUBACKs may come out of order, so an
 * acknowledged record in the middle is only marked, and leaves once it
 * reaches the head. Shared by the memory outbox and the spool. */
#pragma once

#include "outbox.h"

typedef struct {
	GQueue  queue;          /* of the private entry type */
	GList  *first_unsent;   /* NULL: nothing unsent */
	guint   n_acked;        /* acknowledged, waiting behind an unacknowledged one */
} TbgRecordWindow;

void        tbg_record_window_init (TbgRecordWindow *w);
void        tbg_record_window_clear (TbgRecordWindow *w);
guint       tbg_record_window_length (TbgRecordWindow *w);
/* Records not yet acknowledged (unsent + in flight). */
guint       tbg_record_window_unacked (TbgRecordWindow *w);
/* Takes @rec; @created_ms is when it was accepted (for TTLs). */
void        tbg_record_window_push (TbgRecordWindow *w, TbgRecord *rec, gint64 created_ms);
const TbgRecord *tbg_record_window_peek_unsent (TbgRecordWindow *w, gint64 *created_ms);
void        tbg_record_window_mark_sent (TbgRecordWindow *w, guint64 seq);
/* TRUE if @seq was in flight and is newly acknowledged. *@popped_upto is
 * set to the highest seq of the acknowledged prefix that left the window
 * (left alone when none did). */
gboolean    tbg_record_window_ack (TbgRecordWindow *w, guint64 seq, guint64 *popped_upto);
/* The link dropped: what is in flight is unsent again; acknowledged
 * records still waiting behind an unacknowledged one leave now, each
 * reported to @forget. */
void        tbg_record_window_rewind (TbgRecordWindow *w, void (*forget) (guint64 seq, gpointer data),
                                      gpointer data);
/* Removes the oldest unsent record; returns its seq, or 0 if none.
 * *@was_oldest (may be NULL): nothing older was left in the window. */
guint64     tbg_record_window_drop_unsent (TbgRecordWindow *w, gboolean *was_oldest);
