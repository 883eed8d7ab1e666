/* SPDX-License-Identifier: Apache-2.0 */
/* outbox.h — the queue of uplink records waiting for the broker's PUBACK.
 *
 * A record leaves the outbox only when tbg_outbox_ack() is called for it,
 * i.e. when the PUBACK of the publish that carried it has arrived. The queue
 * is behind a small vtable so that a durable spool can stand in for the
 * in-memory one without the uplink noticing.
 */
#pragma once

#include <glib.h>

/* Spools store the numbers: a kind keeps its own. (6 was an RPC answer:
 * answers go out ahead of the queue, see tbg_uplink_send_reply.) */
typedef enum {
	TBG_RECORD_CONNECT = 0,            /* payload: full connect JSON */
	TBG_RECORD_DISCONNECT = 1,         /* payload: full disconnect JSON */
	TBG_RECORD_TELEMETRY = 2,          /* payload: one sample {"ts":..,"values":{..}} */
	TBG_RECORD_ATTRIBUTES = 3,         /* payload: {"key":value,...} */
	TBG_RECORD_CLAIM = 4,              /* payload: {"secretKey":..,"durationMs":..} */
	TBG_RECORD_ATTRIBUTE_REQUEST = 5,  /* payload: full request JSON */
	TBG_RECORD_OWN_TELEMETRY = 7,      /* payload: full JSON for v1/devices/me/telemetry */
	TBG_RECORD_OWN_ATTRIBUTES = 8,     /* payload: full JSON for v1/devices/me/attributes */
	TBG_RECORD_N_KINDS                 /* one past the largest */
} TbgRecordKind;

typedef struct {
	guint64        seq;      /* assigned by the outbox, strictly increasing */
	TbgRecordKind  kind;
	char          *device;   /* ThingsBoard device name; NULL for the gateway's own */
	char          *payload;
	gsize          len;
} TbgRecord;

TbgRecord *tbg_record_new (TbgRecordKind kind, const char *device, char *payload, gsize len);
void       tbg_record_free (TbgRecord *rec);
/* "invalid" for a number that is no kind. */
const char *tbg_record_kind_to_string (TbgRecordKind kind);
/* The topic a record of this kind is published on; NULL for a number
 * that is no kind. */
const char *tbg_record_kind_topic (TbgRecordKind kind);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TbgRecord, tbg_record_free)

typedef struct _TbgOutbox TbgOutbox;

typedef struct {
	/* Takes ownership of @rec and assigns rec->seq. */
	gboolean          (*append) (TbgOutbox *ob, TbgRecord *rec, GError **error);
	/* The oldest record not yet handed to the link, or NULL. Borrowed. */
	const TbgRecord * (*peek_unsent) (TbgOutbox *ob);
	/* The record returned by peek_unsent is now in flight. */
	void              (*mark_sent) (TbgOutbox *ob, guint64 seq);
	/* Its PUBACK arrived: forget it. */
	void              (*ack) (TbgOutbox *ob, guint64 seq);
	/* The link dropped: everything in flight is unsent again, in order. */
	void              (*rewind) (TbgOutbox *ob);
	/* Records not yet acknowledged (unsent + in flight). */
	guint64           (*length) (TbgOutbox *ob);
	/* Everything appended so far is durable when this returns (NULL: the
	 * outbox keeps nothing on disk). For sources that acknowledge to
	 * their client, such as D-Bus method returns. */
	void              (*sync) (TbgOutbox *ob);
	void              (*free) (TbgOutbox *ob);
} TbgOutboxClass;

struct _TbgOutbox {
	const TbgOutboxClass *klass;
	guint64 dropped;    /* discarded because the outbox was full */
};

static inline void
tbg_outbox_sync (TbgOutbox *ob)
{
	if (ob->klass->sync != NULL)
		ob->klass->sync (ob);
}
static inline gboolean
tbg_outbox_append (TbgOutbox *ob, TbgRecord *rec, GError **error)
{
	return ob->klass->append (ob, rec, error);
}
static inline const TbgRecord *
tbg_outbox_peek_unsent (TbgOutbox *ob)
{
	return ob->klass->peek_unsent (ob);
}
static inline void
tbg_outbox_mark_sent (TbgOutbox *ob, guint64 seq)
{
	ob->klass->mark_sent (ob, seq);
}
static inline void
tbg_outbox_ack (TbgOutbox *ob, guint64 seq)
{
	ob->klass->ack (ob, seq);
}
static inline void
tbg_outbox_rewind (TbgOutbox *ob)
{
	ob->klass->rewind (ob);
}
static inline guint64
tbg_outbox_length (TbgOutbox *ob)
{
	return ob->klass->length (ob);
}
static inline void
tbg_outbox_free (TbgOutbox *ob)
{
	if (ob != NULL)
		ob->klass->free (ob);
}

/* The in-memory outbox: holds at most @max_records, dropping the oldest
 * record that is not in flight when full (counted in ob->dropped). */
TbgOutbox *tbg_memory_outbox_new (guint64 max_records);
