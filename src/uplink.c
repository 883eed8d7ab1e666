/* SPDX-License-Identifier: Apache-2.0 */
/* uplink.c — see uplink.h. */
#include "uplink.h"
#include "gateway-codec.h"
#include "i18n.h"

#include "ratelimit.h"

#include <gio/gio.h>

#include <string.h>

typedef struct {
	char *name;
	char *type;
} LaneEntry;

typedef struct {
	char  *topic;
	char  *payload;
	gsize  len;
	int    mid;   /* once published */
} Reply;

/* Answers beyond this wait in no queue: the oldest is dropped and logged. */
#define MAX_REPLIES 1024
/* Answers sent in a row before a waiting record gets its turn: a flood of
 * RPCs must not stall telemetry. */
#define REPLY_RUN   8

struct _TbgUplink {
	TbgMqttLink       *link;
	TbgOutbox         *outbox;
	gsize              max_payload;
	guint              max_inflight;
	TbgUplinkTypeFunc  type_func;
	gpointer           user_data;

	gboolean           up;
	GHashTable        *session;    /* names connected on this MQTT session */
	GHashTable        *inflight;   /* mid → GArray of record seqs */
	GQueue             lane;       /* LaneEntry: session connects, sent first */
	GQueue             replies;    /* Reply: RPC answers, sent before any record */
	GQueue             replies_inflight;   /* Reply: published, in that order */
	TbgPacker         *packers[3];
	guint              pump_id;
	gboolean           lingering;  /* pump_id is the linger timer */
	guint              linger_ms;
	guint              replies_in_row;
	TbgRateLimit       reply_drop_limit;

	guint64            records_sent;
	guint64            publishes_sent;
	guint64            records_dropped;

	/* A record the server may refuse (see tbg_uplink_set_give_up_after). */
	guint              give_up_after;
	gboolean           suspect;         /* suspect_seq is set */
	guint64            suspect_seq;
	guint              suspect_closes;
	gboolean           suspect_inflight;   /* published alone, nothing else meanwhile */
	guint64            records_rejected;
};

static void
lane_entry_free (LaneEntry *e)
{
	g_free (e->name);
	g_free (e->type);
	g_free (e);
}

static void
reply_free (Reply *r)
{
	g_free (r->topic);
	g_free (r->payload);
	g_free (r);
}

static void
array_free (gpointer a)
{
	g_array_unref (a);
}

TbgUplink *
tbg_uplink_new (TbgMqttLink *link, TbgOutbox *outbox, gsize max_payload,
                guint max_inflight, TbgUplinkTypeFunc type_func, gpointer user_data)
{
	TbgUplink *up = g_new0 (TbgUplink, 1);

	up->link = link;
	up->outbox = outbox;
	up->type_func = type_func;
	up->user_data = user_data;
	up->session = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
	up->inflight = g_hash_table_new_full (NULL, NULL, NULL, array_free);
	g_queue_init (&up->lane);
	g_queue_init (&up->replies);
	g_queue_init (&up->replies_inflight);
	tbg_rate_limit_init (&up->reply_drop_limit, 1, 60 * G_USEC_PER_SEC);
	tbg_uplink_set_limits (up, max_payload, max_inflight);
	return up;
}

void
tbg_uplink_set_limits (TbgUplink *up, gsize max_payload, guint max_inflight)
{
	static const TbgPackKind kinds[] = { TBG_PACK_TELEMETRY, TBG_PACK_ATTRIBUTES, TBG_PACK_CLAIM };

	up->max_payload = max_payload;
	up->max_inflight = MAX (max_inflight, 1);
	for (guint i = 0; i < G_N_ELEMENTS (kinds); i++) {
		/* A packer is empty between pumps, so it can be replaced. */
		g_clear_pointer (&up->packers[i], tbg_packer_free);
		up->packers[i] = tbg_packer_new (kinds[i], max_payload);
	}
}

void
tbg_uplink_free (TbgUplink *up)
{
	if (up == NULL)
		return;
	if (up->pump_id != 0)
		g_source_remove (up->pump_id);
	g_queue_clear_full (&up->lane, (GDestroyNotify) lane_entry_free);
	g_queue_clear_full (&up->replies, (GDestroyNotify) reply_free);
	g_queue_clear_full (&up->replies_inflight, (GDestroyNotify) reply_free);
	g_hash_table_unref (up->session);
	g_hash_table_unref (up->inflight);
	for (guint i = 0; i < G_N_ELEMENTS (up->packers); i++)
		tbg_packer_free (up->packers[i]);
	g_free (up);
}

/* Returns FALSE when the link failed: the caller stops pumping. */
static gboolean
publish_mid (TbgUplink *up, const char *topic, const char *payload, gsize len, GArray *seqs, int *mid_out)
{
	g_autoptr (GError) error = NULL;
	int mid = 0;

	if (!tbg_mqtt_link_publish (up->link, topic, payload, len, &mid, &error)) {
		g_array_unref (seqs);
		/* Whatever was marked sent is rewound when the session ends. */
		if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED)) {
			g_debug ("%s", error->message);   /* the link is already going down */
			return FALSE;
		}
		g_warning ("%s", error->message);
		tbg_mqtt_link_reconnect (up->link);
		return FALSE;
	}
	up->publishes_sent++;
	g_debug ("Published %zu bytes on %s (mid %d, %u records)", len, topic, mid, seqs->len);
	g_hash_table_insert (up->inflight, GINT_TO_POINTER (mid), seqs);
	if (mid_out != NULL)
		*mid_out = mid;
	return TRUE;
}

static gboolean
publish (TbgUplink *up, const char *topic, const char *payload, gsize len, GArray *seqs)
{
	return publish_mid (up, topic, payload, len, seqs, NULL);
}

static GArray *
seq_array (void)
{
	return g_array_new (FALSE, FALSE, sizeof (guint64));
}

static gboolean
publish_connect (TbgUplink *up, const char *name, const char *type)
{
	g_autoptr (GError) error = NULL;
	g_autofree char *payload = tbg_codec_connect (name, type, &error);

	if (payload == NULL) {
		g_warning (_("Cannot connect device “%s”: %s"), name, error->message);
		return TRUE;
	}
	g_hash_table_add (up->session, g_strdup (name));
	return publish (up, TBG_TOPIC_CONNECT, payload, strlen (payload), seq_array ());
}

static void
drop_record (TbgUplink *up, const TbgRecord *rec, const char *why)
{
	guint64 seq = rec->seq;

	g_warning (_("Dropping %s of “%s” (%zu bytes): %s"), tbg_record_kind_to_string (rec->kind),
	           rec->device ? rec->device : "gateway", rec->len, why);
	tbg_outbox_mark_sent (up->outbox, seq);
	tbg_outbox_ack (up->outbox, seq);
	up->records_dropped++;
}

static gboolean
in_session (TbgUplink *up, const TbgRecord *rec)
{
	return rec->device == NULL || g_hash_table_contains (up->session, rec->device);
}

static gboolean
pack_and_publish (TbgUplink *up, const TbgRecord *rec, TbgPacker *packer)
{
	TbgRecordKind kind = rec->kind;
	GArray *seqs = seq_array ();
	g_autofree char *payload = NULL;
	gsize len = 0;

	do {
		TbgPackResult r = tbg_packer_add (packer, rec->device, rec->payload, rec->len);
		guint64 seq = rec->seq;

		if (r == TBG_PACK_FULL)
			break;
		if (r == TBG_PACK_TOO_BIG) {
			drop_record (up, rec, _("larger than max-payload-bytes on its own"));
		} else {
			tbg_outbox_mark_sent (up->outbox, seq);
			g_array_append_val (seqs, seq);
		}
		rec = tbg_outbox_peek_unsent (up->outbox);
	} while (rec != NULL && rec->kind == kind && in_session (up, rec));

	payload = tbg_packer_finish (packer, &len);
	if (payload == NULL) {
		g_array_unref (seqs);
		return TRUE;
	}
	return publish (up, tbg_record_kind_topic (kind), payload, len, seqs);
}

static gboolean
publish_single (TbgUplink *up, const TbgRecord *rec)
{
	GArray *seqs = seq_array ();
	guint64 seq = rec->seq;
	const char *topic = tbg_record_kind_topic (rec->kind);
	gboolean ok;

	if (rec->kind == TBG_RECORD_CONNECT)
		g_hash_table_add (up->session, g_strdup (rec->device));
	else if (rec->kind == TBG_RECORD_DISCONNECT)
		g_hash_table_remove (up->session, rec->device);
	g_array_append_val (seqs, seq);
	tbg_outbox_mark_sent (up->outbox, seq);
	/* The record may be freed by a rewind inside publish: it is not used after. */
	ok = publish (up, topic, rec->payload, rec->len, seqs);
	return ok;
}

static gboolean
publish_reply (TbgUplink *up, Reply *r)
{
	if (!publish_mid (up, r->topic, r->payload, r->len, seq_array (), &r->mid)) {
		/* first again on the next session */
		g_queue_push_head (&up->replies, r);
		return FALSE;
	}
	g_queue_push_tail (&up->replies_inflight, r);
	return TRUE;
}

static TbgPacker *
packer_for (TbgUplink *up, TbgRecordKind kind)
{
	switch (kind) {
	case TBG_RECORD_TELEMETRY:
		return up->packers[0];
	case TBG_RECORD_ATTRIBUTES:
		return up->packers[1];
	case TBG_RECORD_CLAIM:
		return up->packers[2];
	default:
		return NULL;
	}
}

/* The suspect goes alone, and nothing follows it until its PUBACK: if the
 * server closes now, it was this record. */
static gboolean
publish_suspect (TbgUplink *up, const TbgRecord *rec)
{
	TbgPacker *packer = packer_for (up, rec->kind);
	gboolean ok;

	if (packer == NULL) {
		ok = publish_single (up, rec);
	} else {
		GArray *seqs = seq_array ();
		guint64 seq = rec->seq;
		TbgRecordKind kind = rec->kind;
		g_autofree char *payload = NULL;
		gsize len = 0;

		if (tbg_packer_add (packer, rec->device, rec->payload, rec->len) != TBG_PACK_OK) {
			g_array_unref (seqs);
			up->suspect = FALSE;   /* packs as usual (and is dropped if too big) */
			return TRUE;
		}
		tbg_outbox_mark_sent (up->outbox, seq);
		g_array_append_val (seqs, seq);
		payload = tbg_packer_finish (packer, &len);
		ok = publish (up, tbg_record_kind_topic (kind), payload, len, seqs);
	}
	up->suspect_inflight = ok;
	return ok;
}

static gboolean
pump_one (TbgUplink *up)
{
	const TbgRecord *rec;
	LaneEntry *lane = g_queue_pop_head (&up->lane);
	Reply *reply;

	if (lane != NULL) {
		gboolean ok = publish_connect (up, lane->name, lane->type);

		lane_entry_free (lane);
		return ok;
	}
	if (!g_queue_is_empty (&up->replies) &&
	    (up->replies_in_row < REPLY_RUN || tbg_outbox_peek_unsent (up->outbox) == NULL)) {
		reply = g_queue_pop_head (&up->replies);
		up->replies_in_row++;
		return publish_reply (up, reply);
	}
	up->replies_in_row = 0;
	rec = tbg_outbox_peek_unsent (up->outbox);
	if (rec == NULL)
		return FALSE;
	if (rec->kind == TBG_RECORD_CONNECT && g_hash_table_contains (up->session, rec->device)) {
		/* Already connected on this session by a lane connect. */
		tbg_outbox_mark_sent (up->outbox, rec->seq);
		tbg_outbox_ack (up->outbox, rec->seq);
		return TRUE;
	}
	if (!in_session (up, rec) && rec->kind != TBG_RECORD_CONNECT &&
	    rec->kind != TBG_RECORD_DISCONNECT)
		return publish_connect (up, rec->device,
		                        up->type_func ? up->type_func (rec->device, up->user_data) : NULL);
	/* Once is what a broker restart looks like too: alone only from the
	 * second close on. */
	if (up->suspect && up->suspect_closes >= 2 && rec->seq == up->suspect_seq)
		return publish_suspect (up, rec);
	switch (rec->kind) {
	case TBG_RECORD_TELEMETRY:
		return pack_and_publish (up, rec, up->packers[0]);
	case TBG_RECORD_ATTRIBUTES:
		return pack_and_publish (up, rec, up->packers[1]);
	case TBG_RECORD_CLAIM:
		return pack_and_publish (up, rec, up->packers[2]);
	default:
		return publish_single (up, rec);
	}
}

static gboolean
pump_cb (gpointer data)
{
	TbgUplink *up = data;

	up->pump_id = 0;
	up->lingering = FALSE;
	while (up->up && g_hash_table_size (up->inflight) < up->max_inflight && !up->suspect_inflight) {
		if (!pump_one (up))
			break;
	}
	return G_SOURCE_REMOVE;
}

static gboolean
packable (TbgRecordKind kind)
{
	return kind == TBG_RECORD_TELEMETRY || kind == TBG_RECORD_ATTRIBUTES || kind == TBG_RECORD_CLAIM;
}

void
tbg_uplink_set_linger (TbgUplink *up, guint linger_ms)
{
	up->linger_ms = linger_ms;
}

/* @may_linger: wait up to linger-ms for more to pack, if the link is idle. */
static void
schedule_pump (TbgUplink *up, gboolean may_linger)
{
	if (!up->up)
		return;
	if (up->pump_id != 0 && up->lingering && !may_linger) {
		g_source_remove (up->pump_id);
		up->pump_id = 0;
		up->lingering = FALSE;
	}
	if (up->pump_id != 0)
		return;
	/* Lingering only pays when nothing is in flight: otherwise the next
	 * PUBACK pumps anyway, and by then more has queued up. */
	if (may_linger && up->linger_ms > 0 && g_hash_table_size (up->inflight) == 0) {
		up->lingering = TRUE;
		up->pump_id = g_timeout_add (up->linger_ms, pump_cb, up);
		return;
	}
	/* Default priority, not idle: a busy serial port must not starve it. */
	up->pump_id = g_idle_add_full (G_PRIORITY_DEFAULT, pump_cb, up, NULL);
}

void
tbg_uplink_kick (TbgUplink *up, TbgRecordKind kind)
{
	schedule_pump (up, packable (kind));
}

void
tbg_uplink_session_up (TbgUplink *up, const char * const *names, const char * const *types)
{
	up->up = TRUE;
	up->replies_in_row = 0;
	g_hash_table_remove_all (up->session);
	g_queue_clear_full (&up->lane, (GDestroyNotify) lane_entry_free);
	for (guint i = 0; names != NULL && names[i] != NULL; i++) {
		LaneEntry *e = g_new0 (LaneEntry, 1);

		e->name = g_strdup (names[i]);
		e->type = g_strdup (types[i]);
		g_queue_push_tail (&up->lane, e);
	}
	schedule_pump (up, FALSE);
}

/* The oldest record in flight, or FALSE if none. */
static gboolean
oldest_inflight (TbgUplink *up, guint64 *oldest)
{
	GHashTableIter iter;
	GArray *seqs;
	gboolean found = FALSE;

	g_hash_table_iter_init (&iter, up->inflight);
	while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &seqs)) {
		for (guint i = 0; i < seqs->len; i++) {
			guint64 seq = g_array_index (seqs, guint64, i);

			if (!found || seq < *oldest)
				*oldest = seq;
			found = TRUE;
		}
	}
	return found;
}

/* Before the rewind: who was oldest in flight when the server closed. A
 * close that was not the server's (broker gone, keepalive, a failed
 * connect in between) clears the suspicion. */
static void
suspect_note_close (TbgUplink *up)
{
	guint closes = tbg_mqtt_link_server_closes (up->link);
	guint64 oldest = 0;

	up->suspect_inflight = FALSE;
	if (closes == 0 || !oldest_inflight (up, &oldest)) {
		up->suspect = FALSE;
		return;
	}
	if (up->suspect && up->suspect_seq == oldest && closes > 1) {
		up->suspect_closes++;
		return;
	}
	up->suspect = TRUE;
	up->suspect_seq = oldest;
	up->suspect_closes = 1;
}

/* After the rewind the suspect is the oldest unsent record. */
static void
suspect_maybe_give_up (TbgUplink *up)
{
	const TbgRecord *rec;

	if (!up->suspect || up->give_up_after == 0 || up->suspect_closes < up->give_up_after)
		return;
	rec = tbg_outbox_peek_unsent (up->outbox);
	if (rec == NULL || rec->seq != up->suspect_seq)
		return;
	g_warning (_("Giving up on %s of “%s” (%zu bytes): the server closed the connection %u times "
	             "in a row while it was the oldest message in flight"),
	           tbg_record_kind_to_string (rec->kind), rec->device ? rec->device : "gateway",
	           rec->len, up->suspect_closes);
	tbg_outbox_mark_sent (up->outbox, rec->seq);
	tbg_outbox_ack (up->outbox, rec->seq);
	up->records_rejected++;
	up->suspect = FALSE;
}

void
tbg_uplink_session_down (TbgUplink *up)
{
	Reply *r;

	suspect_note_close (up);

	/* answers in flight go out again first, in the order they were sent */
	while ((r = g_queue_pop_tail (&up->replies_inflight)) != NULL)
		g_queue_push_head (&up->replies, r);
	up->up = FALSE;
	g_hash_table_remove_all (up->inflight);
	g_hash_table_remove_all (up->session);
	g_queue_clear_full (&up->lane, (GDestroyNotify) lane_entry_free);
	tbg_outbox_rewind (up->outbox);
	suspect_maybe_give_up (up);
	if (up->pump_id != 0) {
		g_source_remove (up->pump_id);
		up->pump_id = 0;
	}
}

void
tbg_uplink_acked (TbgUplink *up, int mid)
{
	GArray *seqs = g_hash_table_lookup (up->inflight, GINT_TO_POINTER (mid));

	if (seqs == NULL) {
		g_debug ("PUBACK for unknown mid %d", mid);
		return;
	}
	for (guint i = 0; i < seqs->len; i++) {
		guint64 seq = g_array_index (seqs, guint64, i);

		tbg_outbox_ack (up->outbox, seq);
		if (up->suspect && seq == up->suspect_seq)
			up->suspect = up->suspect_inflight = FALSE;
	}
	up->records_sent += seqs->len;
	/* answers and session connects carry no record */
	for (GList *l = seqs->len == 0 ? up->replies_inflight.head : NULL; l != NULL; l = l->next) {
		Reply *r = l->data;

		if (r->mid == mid) {
			g_queue_delete_link (&up->replies_inflight, l);
			reply_free (r);
			break;
		}
	}
	g_hash_table_remove (up->inflight, GINT_TO_POINTER (mid));
	/* a backlog drains at full speed */
	schedule_pump (up, FALSE);
}

void
tbg_uplink_send_reply (TbgUplink *up, const char *topic, char *payload, gsize len)
{
	Reply *r = g_new0 (Reply, 1);

	if (g_queue_get_length (&up->replies) >= MAX_REPLIES) {
		GList *victim = up->replies.head;
		guint64 suppressed = 0;
		Reply *old;

		/* A flood of device answers must not push out the gateway's own
		 * answers (or its attribute requests): the oldest device answer goes. */
		for (GList *l = up->replies.head; l != NULL; l = l->next) {
			if (g_str_equal (((Reply *) l->data)->topic, TBG_TOPIC_RPC)) {
				victim = l;
				break;
			}
		}
		old = victim->data;
		g_queue_delete_link (&up->replies, victim);
		if (tbg_rate_limit_allow (&up->reply_drop_limit, g_get_monotonic_time (), &suppressed))
			g_warning (_("More than %u RPC answers wait for the server; dropping the oldest (%s)"),
			           MAX_REPLIES, old->payload);
		if (suppressed > 0)
			g_warning (_("%" G_GUINT64_FORMAT " more RPC answers were dropped"), suppressed);
		reply_free (old);
	}
	r->topic = g_strdup (topic);
	r->payload = payload;
	r->len = len;
	g_queue_push_tail (&up->replies, r);
	schedule_pump (up, FALSE);
}

guint
tbg_uplink_pending_replies (TbgUplink *up)
{
	return g_queue_get_length (&up->replies) + g_queue_get_length (&up->replies_inflight);
}

void
tbg_uplink_forget_device (TbgUplink *up, const char *name)
{
	g_hash_table_remove (up->session, name);
}

void
tbg_uplink_rename_device (TbgUplink *up, const char *old_name, const char *new_name)
{
	if (g_hash_table_remove (up->session, old_name))
		g_hash_table_add (up->session, g_strdup (new_name));
}

guint64
tbg_uplink_records_sent (TbgUplink *up)
{
	return up->records_sent;
}

guint64
tbg_uplink_publishes_sent (TbgUplink *up)
{
	return up->publishes_sent;
}

void
tbg_uplink_set_give_up_after (TbgUplink *up, guint n)
{
	up->give_up_after = n;
}

guint64
tbg_uplink_records_rejected (TbgUplink *up)
{
	return up->records_rejected;
}

guint64
tbg_uplink_records_dropped (TbgUplink *up)
{
	return up->records_dropped;
}
