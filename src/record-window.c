/* SPDX-License-Identifier: Apache-2.0 */
/* record-window.c — see record-window.h. */
#include "record-window.h"

typedef struct {
	TbgRecord *rec;
	gint64     created_ms;
	gboolean   acked;
} Entry;

static void
entry_free (Entry *e)
{
	tbg_record_free (e->rec);
	g_slice_free (Entry, e);
}

void
tbg_record_window_init (TbgRecordWindow *w)
{
	g_queue_init (&w->queue);
	w->first_unsent = NULL;
	w->n_acked = 0;
}

void
tbg_record_window_clear (TbgRecordWindow *w)
{
	g_queue_clear_full (&w->queue, (GDestroyNotify) entry_free);
	w->first_unsent = NULL;
	w->n_acked = 0;
}

guint
tbg_record_window_length (TbgRecordWindow *w)
{
	return w->queue.length;
}

guint
tbg_record_window_unacked (TbgRecordWindow *w)
{
	return w->queue.length - w->n_acked;
}

void
tbg_record_window_push (TbgRecordWindow *w, TbgRecord *rec, gint64 created_ms)
{
	Entry *e = g_slice_new0 (Entry);

	e->rec = rec;
	e->created_ms = created_ms;
	g_queue_push_tail (&w->queue, e);
	if (w->first_unsent == NULL)
		w->first_unsent = w->queue.tail;
}

const TbgRecord *
tbg_record_window_peek_unsent (TbgRecordWindow *w, gint64 *created_ms)
{
	Entry *e;

	if (w->first_unsent == NULL)
		return NULL;
	e = w->first_unsent->data;
	if (created_ms != NULL)
		*created_ms = e->created_ms;
	return e->rec;
}

void
tbg_record_window_mark_sent (TbgRecordWindow *w, guint64 seq)
{
	g_return_if_fail (w->first_unsent != NULL);
	g_return_if_fail (((Entry *) w->first_unsent->data)->rec->seq == seq);
	w->first_unsent = w->first_unsent->next;
}

gboolean
tbg_record_window_ack (TbgRecordWindow *w, guint64 seq, guint64 *popped_upto)
{
	gboolean newly = FALSE;

	/* In order, the acknowledged one is the head: this loop is short. */
	for (GList *l = w->queue.head; l != NULL && l != w->first_unsent; l = l->next) {
		Entry *e = l->data;

		if (e->rec->seq == seq) {
			newly = !e->acked;
			if (newly)
				w->n_acked++;
			e->acked = TRUE;
			break;
		}
	}
	while (w->queue.head != NULL && w->queue.head != w->first_unsent &&
	       ((Entry *) w->queue.head->data)->acked) {
		Entry *e = g_queue_pop_head (&w->queue);

		w->n_acked--;
		*popped_upto = e->rec->seq;
		entry_free (e);
	}
	return newly;
}

void
tbg_record_window_rewind (TbgRecordWindow *w, void (*forget) (guint64 seq, gpointer data),
                          gpointer data)
{
	GList *l = w->queue.head;

	while (l != NULL && l != w->first_unsent) {
		GList *next = l->next;
		Entry *e = l->data;

		if (e->acked) {
			if (forget != NULL)
				forget (e->rec->seq, data);
			w->n_acked--;
			entry_free (e);
			g_queue_delete_link (&w->queue, l);
		}
		l = next;
	}
	w->first_unsent = w->queue.head;
}

guint64
tbg_record_window_drop_unsent (TbgRecordWindow *w, gboolean *was_oldest)
{
	GList *victim = w->first_unsent;
	guint64 seq;

	if (was_oldest != NULL)
		*was_oldest = victim != NULL && victim == w->queue.head;
	if (victim == NULL)
		return 0;
	seq = ((Entry *) victim->data)->rec->seq;
	w->first_unsent = victim->next;
	entry_free (victim->data);
	g_queue_delete_link (&w->queue, victim);
	return seq;
}
