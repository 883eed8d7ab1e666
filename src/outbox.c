/* outbox.c — records and the in-memory outbox. */
#include "outbox.h"

TbgRecord *
tbg_record_new (TbgRecordKind kind, const char *device, char *payload, gsize len)
{
	TbgRecord *rec = g_slice_new0 (TbgRecord);

	rec->kind = kind;
	rec->device = g_strdup (device);
	rec->payload = payload;
	rec->len = len;
	return rec;
}

void
tbg_record_free (TbgRecord *rec)
{
	if (rec == NULL)
		return;
	g_free (rec->device);
	g_free (rec->payload);
	g_slice_free (TbgRecord, rec);
}

static const struct {
	const char *name;
	const char *topic;
} kinds[TBG_RECORD_N_KINDS] = {
	[TBG_RECORD_CONNECT] = { "connect", "v1/gateway/connect" },
	[TBG_RECORD_DISCONNECT] = { "disconnect", "v1/gateway/disconnect" },
	[TBG_RECORD_TELEMETRY] = { "telemetry", "v1/gateway/telemetry" },
	[TBG_RECORD_ATTRIBUTES] = { "attributes", "v1/gateway/attributes" },
	[TBG_RECORD_CLAIM] = { "claim", "v1/gateway/claim" },
	[TBG_RECORD_ATTRIBUTE_REQUEST] = { "attribute-request", "v1/gateway/attributes/request" },
	[TBG_RECORD_RPC_RESPONSE] = { "rpc-response", "v1/gateway/rpc" },
	[TBG_RECORD_OWN_TELEMETRY] = { "own-telemetry", "v1/devices/me/telemetry" },
	[TBG_RECORD_OWN_ATTRIBUTES] = { "own-attributes", "v1/devices/me/attributes" },
	[TBG_RECORD_OWN_RPC_RESPONSE] = { "own-rpc-response", "v1/devices/me/rpc/response/" },
};

const char *
tbg_record_kind_to_string (TbgRecordKind kind)
{
	return kind < TBG_RECORD_N_KINDS ? kinds[kind].name : "invalid";
}

const char *
tbg_record_kind_topic (TbgRecordKind kind)
{
	return kind < TBG_RECORD_N_KINDS ? kinds[kind].topic : NULL;
}

/* The queue holds acknowledged-later records at its head: [in flight][unsent].
 * PUBACKs may come out of order, so acked records in the middle of the
 * in-flight part are only marked, and popped once they reach the head. */
typedef struct {
	TbgOutbox  parent;
	GQueue     queue;        /* of Entry */
	GList     *first_unsent; /* NULL: nothing unsent */
	guint64    next_seq;
	guint64    max_records;
} MemoryOutbox;

typedef struct {
	TbgRecord *rec;
	gboolean   sent;
	gboolean   acked;
} Entry;

static void
entry_free (Entry *e)
{
	tbg_record_free (e->rec);
	g_slice_free (Entry, e);
}

static void
drop_one (MemoryOutbox *mo)
{
	GList *victim = mo->first_unsent;

	/* What is in flight may still be acknowledged: drop the oldest unsent. */
	if (victim == NULL)
		return;
	mo->first_unsent = victim->next;
	entry_free (victim->data);
	g_queue_delete_link (&mo->queue, victim);
	mo->parent.dropped++;
}

static gboolean
memory_append (TbgOutbox *ob, TbgRecord *rec, GError **error)
{
	MemoryOutbox *mo = (MemoryOutbox *) ob;
	Entry *e = g_slice_new0 (Entry);

	if (mo->queue.length >= mo->max_records)
		drop_one (mo);
	rec->seq = ++mo->next_seq;
	e->rec = rec;
	g_queue_push_tail (&mo->queue, e);
	if (mo->first_unsent == NULL)
		mo->first_unsent = mo->queue.tail;
	return TRUE;
}

static const TbgRecord *
memory_peek_unsent (TbgOutbox *ob)
{
	MemoryOutbox *mo = (MemoryOutbox *) ob;

	return mo->first_unsent ? ((Entry *) mo->first_unsent->data)->rec : NULL;
}

static void
memory_mark_sent (TbgOutbox *ob, guint64 seq)
{
	MemoryOutbox *mo = (MemoryOutbox *) ob;
	Entry *e;

	g_return_if_fail (mo->first_unsent != NULL);
	e = mo->first_unsent->data;
	g_return_if_fail (e->rec->seq == seq);
	e->sent = TRUE;
	mo->first_unsent = mo->first_unsent->next;
}

static void
memory_ack (TbgOutbox *ob, guint64 seq)
{
	MemoryOutbox *mo = (MemoryOutbox *) ob;

	for (GList *l = mo->queue.head; l != NULL && l != mo->first_unsent; l = l->next) {
		Entry *e = l->data;

		if (e->rec->seq == seq) {
			e->acked = TRUE;
			break;
		}
	}
	while (mo->queue.head != NULL && ((Entry *) mo->queue.head->data)->acked)
		entry_free (g_queue_pop_head (&mo->queue));
}

static void
memory_rewind (TbgOutbox *ob)
{
	MemoryOutbox *mo = (MemoryOutbox *) ob;
	GList *l = mo->queue.head;

	/* Acked records have been popped or are kept only behind an unacked
	 * one; those are dropped now since their PUBACK did arrive. */
	while (l != NULL && l != mo->first_unsent) {
		GList *next = l->next;
		Entry *e = l->data;

		if (e->acked) {
			entry_free (e);
			g_queue_delete_link (&mo->queue, l);
		} else {
			e->sent = FALSE;
		}
		l = next;
	}
	mo->first_unsent = mo->queue.head;
}

static guint64
memory_length (TbgOutbox *ob)
{
	return ((MemoryOutbox *) ob)->queue.length;
}

static void
memory_free (TbgOutbox *ob)
{
	MemoryOutbox *mo = (MemoryOutbox *) ob;

	g_queue_clear_full (&mo->queue, (GDestroyNotify) entry_free);
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
	g_queue_init (&mo->queue);
	return &mo->parent;
}
