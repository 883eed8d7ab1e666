/* spool.c — see spool.h. */
#include "spool.h"
#include "record-window.h"
#include "i18n.h"

#include <errno.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <sqlite3.h>
#include <string.h>

#define WINDOW_MAX     4096    /* records held in memory at most (unless degraded) */
#define BATCH_MAX      2048    /* writes per transaction before an early commit */

typedef struct {
	TbgOutbox      parent;
	char          *path;
	sqlite3       *db;          /* NULL once degraded */
	sqlite3_stmt  *insert;
	sqlite3_stmt  *delete_one;
	sqlite3_stmt  *delete_upto;
	sqlite3_stmt  *select_after;
	TbgRecordWindow window;     /* the oldest records, in order */
	gboolean       db_has_more; /* rows beyond the window exist only on disk */
	guint64        last_loaded; /* highest seq in or behind the window */
	guint64        next_seq;
	guint64        count;       /* records not yet acknowledged */
	guint64        max_records;
	gint64         ttl_ms;
	guint64        acked_upto;  /* rows ≤ this may be deleted */
	guint64        deleted_upto;
	gboolean       in_txn;
	guint          txn_ops;
	guint          commit_id;
} Spool;

static void finalize_statements (Spool *sp);

/* The database is gone for us: keep forwarding from memory. */
static void
degrade (Spool *sp, const char *what)
{
	if (sp->db == NULL)
		return;
	g_warning (_("Spool %s: %s: %s; queued data is kept in memory only from now on "
	             "(what is on disk is sent after a restart)"),
	           sp->path, what, sqlite3_errmsg (sp->db));
	if (sp->commit_id != 0) {
		g_source_remove (sp->commit_id);
		sp->commit_id = 0;
	}
	finalize_statements (sp);
	sqlite3_close (sp->db);
	sp->db = NULL;
	sp->in_txn = FALSE;
	/* Rows that were only on disk stay there for the next start. */
	sp->db_has_more = FALSE;
}

static gboolean
exec (Spool *sp, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec (sp->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		sqlite3_free (msg);
		return FALSE;
	}
	return TRUE;
}

static gboolean
commit (Spool *sp)
{
	if (sp->db == NULL || !sp->in_txn)
		return TRUE;
	if (sp->acked_upto > sp->deleted_upto) {
		sqlite3_bind_int64 (sp->delete_upto, 1, (sqlite3_int64) sp->acked_upto);
		if (sqlite3_step (sp->delete_upto) != SQLITE_DONE) {
			sqlite3_reset (sp->delete_upto);
			degrade (sp, _("cannot delete sent messages"));
			return FALSE;
		}
		sqlite3_reset (sp->delete_upto);
		sp->deleted_upto = sp->acked_upto;
	}
	if (!exec (sp, "COMMIT")) {
		degrade (sp, _("cannot commit"));
		return FALSE;
	}
	sp->in_txn = FALSE;
	sp->txn_ops = 0;
	return TRUE;
}

static gboolean
commit_cb (gpointer data)
{
	Spool *sp = data;

	sp->commit_id = 0;
	commit (sp);
	return G_SOURCE_REMOVE;
}

/* One transaction per main loop turn: what a turn accepted is on disk
 * before anything else is dispatched. */
static gboolean
begin (Spool *sp)
{
	if (sp->db == NULL)
		return FALSE;
	if (!sp->in_txn) {
		if (!exec (sp, "BEGIN")) {
			degrade (sp, _("cannot start a transaction"));
			return FALSE;
		}
		sp->in_txn = TRUE;
		if (sp->commit_id == 0)
			sp->commit_id = g_idle_add_full (G_PRIORITY_HIGH, commit_cb, sp, NULL);
	}
	if (++sp->txn_ops >= BATCH_MAX)
		return commit (sp) && begin (sp);
	return TRUE;
}

static void
window_push (Spool *sp, TbgRecord *rec, gint64 created_ms)
{
	sp->last_loaded = rec->seq;
	tbg_record_window_push (&sp->window, rec, created_ms);
}

static void
delete_seq (Spool *sp, guint64 seq)
{
	if (!begin (sp))
		return;
	sqlite3_bind_int64 (sp->delete_one, 1, (sqlite3_int64) seq);
	if (sqlite3_step (sp->delete_one) != SQLITE_DONE)
		degrade (sp, _("cannot delete a message"));
	else
		sqlite3_reset (sp->delete_one);
}

/* Full: the oldest record that is not in flight goes. */
static void
drop_oldest (Spool *sp)
{
	guint64 victim = tbg_record_window_drop_unsent (&sp->window);

	if (victim != 0) {
		delete_seq (sp, victim);
	} else if (sp->db != NULL && sp->db_has_more) {
		g_autofree char *sql = g_strdup_printf ("DELETE FROM outbox WHERE seq = (SELECT min(seq) "
		                                        "FROM outbox WHERE seq > %" G_GUINT64_FORMAT ")",
		                                        sp->last_loaded);

		if (begin (sp) && !exec (sp, sql))
			degrade (sp, _("cannot drop a message"));
	} else {
		return;
	}
	sp->count--;
	sp->parent.dropped++;
}

static gboolean
spool_append (TbgOutbox *ob, TbgRecord *rec, GError **error)
{
	Spool *sp = (Spool *) ob;
	gint64 now = g_get_real_time () / 1000;

	if (sp->count >= sp->max_records)
		drop_oldest (sp);
	rec->seq = ++sp->next_seq;
	if (begin (sp)) {
		sqlite3_stmt *st = sp->insert;

		sqlite3_bind_int64 (st, 1, (sqlite3_int64) rec->seq);
		sqlite3_bind_int (st, 2, rec->kind);
		if (rec->device != NULL)
			sqlite3_bind_text (st, 3, rec->device, -1, SQLITE_STATIC);
		else
			sqlite3_bind_null (st, 3);
		sqlite3_bind_int64 (st, 4, rec->id);
		sqlite3_bind_int64 (st, 5, now);
		sqlite3_bind_blob (st, 6, rec->payload, (int) rec->len, SQLITE_STATIC);
		if (sqlite3_step (st) != SQLITE_DONE) {
			sqlite3_reset (st);
			degrade (sp, _("cannot store a message"));
		} else {
			sqlite3_reset (st);
		}
	}
	sp->count++;
	if (sp->db != NULL && (sp->db_has_more || tbg_record_window_length (&sp->window) >= WINDOW_MAX)) {
		/* On disk only, until the window gets to it. */
		sp->db_has_more = TRUE;
		tbg_record_free (rec);
		return TRUE;
	}
	window_push (sp, rec, now);
	return TRUE;
}

static gboolean
expired (Spool *sp, gint64 created_ms)
{
	return sp->ttl_ms > 0 && g_get_real_time () / 1000 - created_ms > sp->ttl_ms;
}

/* Loads the next rows from disk behind the window. */
static void
refill (Spool *sp)
{
	sqlite3_stmt *st = sp->select_after;
	guint loaded = 0;
	guint wanted = WINDOW_MAX - MIN (tbg_record_window_length (&sp->window), WINDOW_MAX / 2);
	int rc;

	if (sp->db == NULL || !sp->db_has_more)
		return;
	sqlite3_bind_int64 (st, 1, (sqlite3_int64) sp->last_loaded);
	sqlite3_bind_int (st, 2, wanted);
	while ((rc = sqlite3_step (st)) == SQLITE_ROW) {
		const void *blob = sqlite3_column_blob (st, 5);
		gsize len = sqlite3_column_bytes (st, 5);
		TbgRecord *rec = tbg_record_new (sqlite3_column_int (st, 1),
		                                 (const char *) sqlite3_column_text (st, 2),
		                                 g_strndup (blob ? blob : "", len), len);

		rec->seq = sqlite3_column_int64 (st, 0);
		rec->id = sqlite3_column_int64 (st, 3);
		window_push (sp, rec, sqlite3_column_int64 (st, 4));
		loaded++;
	}
	sqlite3_reset (st);
	if (rc != SQLITE_DONE) {
		degrade (sp, _("cannot read queued messages"));
		return;
	}
	sp->db_has_more = loaded == wanted;
}

static const TbgRecord *
spool_peek_unsent (TbgOutbox *ob)
{
	Spool *sp = (Spool *) ob;

	for (;;) {
		gint64 created_ms = 0;
		const TbgRecord *rec = tbg_record_window_peek_unsent (&sp->window, &created_ms);

		if (rec == NULL) {
			refill (sp);
			rec = tbg_record_window_peek_unsent (&sp->window, &created_ms);
			if (rec == NULL)
				return NULL;
		}
		if (!expired (sp, created_ms))
			return rec;
		drop_oldest (sp);   /* it is the oldest unsent one */
	}
}

static void
spool_mark_sent (TbgOutbox *ob, guint64 seq)
{
	tbg_record_window_mark_sent (&((Spool *) ob)->window, seq);
}

static void
spool_ack (TbgOutbox *ob, guint64 seq)
{
	Spool *sp = (Spool *) ob;
	guint64 popped = 0;

	if (tbg_record_window_ack (&sp->window, seq, &popped))
		sp->count--;
	/* Everything up to the head is acknowledged: one range delete at commit. */
	if (popped > sp->acked_upto) {
		sp->acked_upto = popped;
		begin (sp);
	}
}

static void
forget_acked (guint64 seq, gpointer data)
{
	delete_seq (data, seq);
}

static void
spool_rewind (TbgOutbox *ob)
{
	Spool *sp = (Spool *) ob;

	tbg_record_window_rewind (&sp->window, forget_acked, sp);
}

static guint64
spool_length (TbgOutbox *ob)
{
	return ((Spool *) ob)->count;
}

static void
finalize_statements (Spool *sp)
{
	g_clear_pointer (&sp->insert, sqlite3_finalize);
	g_clear_pointer (&sp->delete_one, sqlite3_finalize);
	g_clear_pointer (&sp->delete_upto, sqlite3_finalize);
	g_clear_pointer (&sp->select_after, sqlite3_finalize);
}

static void
spool_sync (TbgOutbox *ob)
{
	Spool *sp = (Spool *) ob;

	if (sp->commit_id != 0)
		g_source_remove (sp->commit_id);
	sp->commit_id = 0;
	commit (sp);
}

static void
spool_free (TbgOutbox *ob)
{
	Spool *sp = (Spool *) ob;

	spool_sync (ob);
	if (sp->db != NULL) {
		finalize_statements (sp);
		sqlite3_close (sp->db);
	}
	tbg_record_window_clear (&sp->window);
	g_free (sp->path);
	g_free (sp);
}

static const TbgOutboxClass spool_class = {
	.append = spool_append,
	.peek_unsent = spool_peek_unsent,
	.mark_sent = spool_mark_sent,
	.ack = spool_ack,
	.rewind = spool_rewind,
	.length = spool_length,
	.sync = spool_sync,
	.free = spool_free,
};

static gboolean
prepare (Spool *sp, const char *sql, sqlite3_stmt **st)
{
	return sqlite3_prepare_v3 (sp->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) == SQLITE_OK;
}

static gboolean
open_db (Spool *sp, GError **error)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_open_v2 (sp->path, &sp->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_busy_timeout (sp->db, 1000);
	/* WAL + NORMAL: a commit survives the process being killed; a power
	 * cut may lose the last commits, never corrupt the file. */
	if (!exec (sp, "PRAGMA journal_mode=WAL") || !exec (sp, "PRAGMA synchronous=NORMAL") ||
	    !exec (sp, "CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY, kind INTEGER NOT NULL, "
	               "device TEXT, id INTEGER NOT NULL, created INTEGER NOT NULL, payload BLOB NOT NULL)") ||
	    !prepare (sp, "INSERT INTO outbox VALUES (?1, ?2, ?3, ?4, ?5, ?6)", &sp->insert) ||
	    !prepare (sp, "DELETE FROM outbox WHERE seq = ?1", &sp->delete_one) ||
	    !prepare (sp, "DELETE FROM outbox WHERE seq <= ?1", &sp->delete_upto) ||
	    !prepare (sp, "SELECT seq, kind, device, id, created, payload FROM outbox "
	                  "WHERE seq > ?1 ORDER BY seq LIMIT ?2", &sp->select_after) ||
	    !prepare (sp, "SELECT ifnull(max(seq), 0), count(*) FROM outbox", &st) ||
	    sqlite3_step (st) != SQLITE_ROW)
		goto fail;
	sp->next_seq = sqlite3_column_int64 (st, 0);
	sp->count = sqlite3_column_int64 (st, 1);
	sqlite3_finalize (st);
	sp->db_has_more = sp->count > 0;
	return TRUE;
fail:
	g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, _("spool %s: %s"), sp->path,
	             sp->db ? sqlite3_errmsg (sp->db) : g_strerror (ENOMEM));
	sqlite3_finalize (st);
	finalize_statements (sp);
	sqlite3_close (sp->db);
	sp->db = NULL;
	return FALSE;
}

TbgOutbox *
tbg_spool_open (const char *dir, guint64 max_records, guint64 ttl_s, GError **error)
{
	Spool *sp;

	if (g_mkdir_with_parents (dir, 0700) != 0) {
		int err = errno;

		g_set_error (error, G_IO_ERROR, g_io_error_from_errno (err), _("spool directory %s: %s"),
		             dir, g_strerror (err));
		return NULL;
	}
	sp = g_new0 (Spool, 1);
	sp->parent.klass = &spool_class;
	sp->path = g_build_filename (dir, TBG_SPOOL_FILE, NULL);
	sp->max_records = MAX (max_records, 1);
	sp->ttl_ms = (gint64) ttl_s * 1000;
	tbg_record_window_init (&sp->window);
	if (!open_db (sp, error)) {
		g_free (sp->path);
		g_free (sp);
		return NULL;
	}
	if (sp->count > 0)
		g_message (_("Spool %s: %" G_GUINT64_FORMAT " messages from before are sent first"),
		           sp->path, sp->count);
	return &sp->parent;
}

gboolean
tbg_spool_is_degraded (TbgOutbox *ob)
{
	return ob->klass == &spool_class && ((Spool *) ob)->db == NULL;
}
