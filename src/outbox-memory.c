/* SPDX-License-Identifier: Apache-2.0 */
/* outbox-memory.c — the in-memory outbox (see outbox.h), on the record
 * window it shares with the spool. */
#include "outbox.h"
#include "record-window.h"

typedef struct {
	TbgOutbox        parent;
	TbgRecordWindow  window;
	guint64          next_seq;
	guint64          max_records;
} MemoryOutbox;

static gboolean
memory_append (TbgOutbox *ob, TbgRecord *rec, GError **error)
{
	MemoryOutbox *mo = (MemoryOutbox *) ob;

	/* What is in flight may still be acknowledged: drop the oldest unsent. */
	if (tbg_record_window_length (&mo->window) >= mo->max_records &&
	    tbg_record_window_drop_unsent (&mo->window, NULL) != 0)
		mo->parent.dropped++;
	rec->seq = ++mo->next_seq;
	tbg_record_window_push (&mo->window, rec, 0);
	return TRUE;
}

static const TbgRecord *
memory_peek_unsent (TbgOutbox *ob)
{
	return tbg_record_window_peek_unsent (&((MemoryOutbox *) ob)->window, NULL);
}

static void
memory_mark_sent (TbgOutbox *ob, guint64 seq)
{
	tbg_record_window_mark_sent (&((MemoryOutbox *) ob)->window, seq);
}

static void
memory_ack (TbgOutbox *ob, guint64 seq)
{
	guint64 popped = 0;

	tbg_record_window_ack (&((MemoryOutbox *) ob)->window, seq, &popped);
}

static void
memory_rewind (TbgOutbox *ob)
{
	tbg_record_window_rewind (&((MemoryOutbox *) ob)->window, NULL, NULL);
}

static guint64
memory_length (TbgOutbox *ob)
{
	return tbg_record_window_unacked (&((MemoryOutbox *) ob)->window);
}

static void
memory_free (TbgOutbox *ob)
{
	MemoryOutbox *mo = (MemoryOutbox *) ob;

	tbg_record_window_clear (&mo->window);
	g_free (mo);
}

static const TbgOutboxClass memory_class = {
	.append = memory_append,
	.peek_unsent = memory_peek_unsent,
	.mark_sent = memory_mark_sent,
	.ack = memory_ack,
	.rewind = memory_rewind,
	.length = memory_length,
	.free = memory_free,
};

TbgOutbox *
tbg_memory_outbox_new (guint64 max_records)
{
	MemoryOutbox *mo = g_new0 (MemoryOutbox, 1);

	mo->parent.klass = &memory_class;
	mo->max_records = MAX (max_records, 1);
	tbg_record_window_init (&mo->window);
	return &mo->parent;
}
