/* SPDX-License-Identifier: Apache-2.0 */
/* spool.c — see spool.h. */
#include "spool.h"
#include "record-window.h"
#include "spool-blob.h"
#include "i18n.h"

#include <errno.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <sqlite3.h>
#include <string.h>

#define WINDOW_MAX     4096    /* records held in memory at most (unless degraded) */
#define BATCH_MAX      2048    /* writes per transaction before an early commit */

/* On disk, the records a main loop turn accepted are one row of "batch":
 * seqs first..last, serialized into one blob (one b-tree insert per turn,
 * not per sample). Records removed out of order (dropped when full, or
 * acknowledged behind an unacknowledged one) are listed in "gone"; a batch
 * row goes once everything up to its last seq is acknowledged, and
 * meta.acked remembers how far that is, for the rows that are still there.
 * The blob format is in spool-blob.h. */

typedef struct {
	TbgOutbox      parent;
	char          *path;
	sqlite3       *db;          /* NULL once degraded */
	sqlite3_stmt  *insert;
	sqlite3_stmt  *insert_gone;
	sqlite3_stmt  *delete_upto;
	sqlite3_stmt  *delete_gone_upto;
	sqlite3_stmt  *save_acked;
	sqlite3_stmt  *select_after;
	sqlite3_stmt  *select_gone;
	GByteArray    *staged;      /* records of the open transaction, written or not:
	                             * all memory has of them if COMMIT fails */
	guint64        staged_first;
	guint64        staged_last;
	gsize          staged_written;   /* bytes of @staged already in a row */
	guint64        unwritten_first;  /* the seq at @staged_written */
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
static void window_push (Spool *sp, TbgRecord *rec, gint64 created_ms);
static gboolean load_rest (Spool *sp);
static void recount (Spool *sp);

/* ---- transactions ----------------------------------------------------------- */

static void
clear_staged (Spool *sp)
{
	/* a burst's buffer is not kept for the quiet hours after it */
	if (sp->staged->len > 256 * 1024) {
		g_byte_array_unref (sp->staged);
		sp->staged = g_byte_array_new ();
	} else {
		g_byte_array_set_size (sp->staged, 0);
	}
	sp->staged_written = 0;
}

/* The database is gone for us: keep forwarding from memory. */
static void
degrade (Spool *sp, const char *what)
{
	gboolean all_read;

	if (sp->db == NULL)
		return;
	g_warning (_("Spool %s: %s: %s; queued data is kept in memory only from now on"),
	           sp->path, what, sqlite3_errmsg (sp->db));
	if (sp->commit_id != 0) {
		g_source_remove (sp->commit_id);
		sp->commit_id = 0;
	}
	/* A full or read-only disk can still be read. */
	all_read = load_rest (sp);
	finalize_statements (sp);
	sqlite3_close (sp->db);
	sp->db = NULL;
	sp->in_txn = FALSE;
	/* Rows that were only on disk stay there for the next start. */
	sp->db_has_more = FALSE;
	/* Records not committed and not in the window: memory is all they have. */
	if (sp->staged->len > 0 && sp->staged_last > sp->last_loaded) {
		const guint8 *p = sp->staged->data, *end = p + sp->staged->len;
		gint64 now = g_get_real_time () / 1000;
		guint64 seq = sp->staged_first;
		gboolean bad;
		TbgRecord *rec;

		while ((rec = tbg_spool_blob_next (&p, end, &bad)) != NULL) {
			rec->seq = seq++;
			if (rec->seq > sp->last_loaded)
				window_push (sp, rec, now);
			else
				tbg_record_free (rec);
		}
	}
	clear_staged (sp);
	if (all_read)
		recount (sp);
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
step_done (Spool *sp, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step (st);

	sqlite3_reset (st);
	if (rc != SQLITE_DONE) {
		degrade (sp, what);
		return FALSE;
	}
	return TRUE;
}

/* One row of "batch": records @first..@last serialized in @data. */
static gboolean
insert_batch (Spool *sp, guint64 first, guint64 last, gint64 created, const guint8 *data, gsize len)
{
	int rc;

	sqlite3_bind_int64 (sp->insert, 1, (sqlite3_int64) first);
	sqlite3_bind_int64 (sp->insert, 2, (sqlite3_int64) last);
	sqlite3_bind_int64 (sp->insert, 3, created);
	sqlite3_bind_blob64 (sp->insert, 4, data, len, SQLITE_STATIC);
	rc = sqlite3_step (sp->insert);
	sqlite3_reset (sp->insert);
	return rc == SQLITE_DONE;
}

/* The staged records not yet written become one row (inside the open
 * transaction). Not up to next_seq: an early commit in begin() comes after
 * the newest record took its seq and before it is staged. */
static gboolean
flush_staged (Spool *sp)
{
	if (sp->db == NULL || sp->staged->len == sp->staged_written)
		return sp->db != NULL;
	if (!insert_batch (sp, sp->unwritten_first, sp->staged_last, g_get_real_time () / 1000,
	                   sp->staged->data + sp->staged_written, sp->staged->len - sp->staged_written)) {
		degrade (sp, _("cannot store messages"));
		return FALSE;
	}
	sp->staged_written = sp->staged->len;
	return TRUE;
}

static gboolean
commit (Spool *sp)
{
	if (sp->db == NULL || !sp->in_txn)
		return TRUE;
	if (!flush_staged (sp))
		return FALSE;
	if (sp->acked_upto > sp->deleted_upto) {
		sqlite3_bind_int64 (sp->delete_upto, 1, (sqlite3_int64) sp->acked_upto);
		sqlite3_bind_int64 (sp->delete_gone_upto, 1, (sqlite3_int64) sp->acked_upto);
		sqlite3_bind_int64 (sp->save_acked, 1, (sqlite3_int64) sp->acked_upto);
		if (!step_done (sp, sp->delete_upto, _("cannot delete sent messages")) ||
		    !step_done (sp, sp->delete_gone_upto, _("cannot delete sent messages")) ||
		    !step_done (sp, sp->save_acked, _("cannot delete sent messages")))
			return FALSE;
		sp->deleted_upto = sp->acked_upto;
	}
	if (!exec (sp, "COMMIT")) {
		degrade (sp, _("cannot commit"));
		return FALSE;
	}
	clear_staged (sp);
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

/* One record leaves out of order. */
static void
forget_seq (Spool *sp, guint64 seq)
{
	if (!begin (sp))
		return;
	sqlite3_bind_int64 (sp->insert_gone, 1, (sqlite3_int64) seq);
	step_done (sp, sp->insert_gone, _("cannot delete a message"));
}

/* The first seq listed in "gone" from the cursor on, G_MAXUINT64 past the end. */
static guint64
next_gone (sqlite3_stmt *gone)
{
	return sqlite3_step (gone) == SQLITE_ROW ? (guint64) sqlite3_column_int64 (gone, 0) : G_MAXUINT64;
}

#define SELECT_BATCHES_AFTER "SELECT first, last, created, records FROM batch WHERE last > ?1 ORDER BY first"
#define SELECT_GONE_AFTER    "SELECT seq FROM gone WHERE seq > ?1 ORDER BY seq"

/* Takes @rec; FALSE: stop walking. */
typedef gboolean (*RecordVisit) (TbgRecord *rec, gint64 created, gpointer data);

/* Walks the records after @after, in order, that the gone list does not
 * name: @st and @gone are SELECT_BATCHES_AFTER and SELECT_GONE_AFTER on the
 * spool file @path. Returns SQLite's result: SQLITE_DONE unless it failed. */
static int
walk_rows (const char *path, sqlite3_stmt *st, sqlite3_stmt *gone, guint64 after, RecordVisit visit,
           gpointer data)
{
	gboolean go_on = TRUE;
	int rc = SQLITE_DONE;
	guint64 gone_seq;

	sqlite3_bind_int64 (st, 1, (sqlite3_int64) after);
	/* both in seq order: the gone list is merged in as the rows go by */
	sqlite3_bind_int64 (gone, 1, (sqlite3_int64) after);
	gone_seq = next_gone (gone);
	while (go_on && (rc = sqlite3_step (st)) == SQLITE_ROW) {
		guint64 seq = sqlite3_column_int64 (st, 0);
		guint64 last = sqlite3_column_int64 (st, 1);
		gint64 created = sqlite3_column_int64 (st, 2);
		const guint8 *p = sqlite3_column_blob (st, 3);
		const guint8 *end = p + sqlite3_column_bytes (st, 3);
		gboolean bad = FALSE;
		TbgRecord *rec;

		while (go_on && (rec = tbg_spool_blob_next (&p, end, &bad)) != NULL) {
			rec->seq = seq++;
			while (gone_seq < rec->seq)
				gone_seq = next_gone (gone);
			if (rec->seq <= after || rec->seq == gone_seq)
				tbg_record_free (rec);
			else
				go_on = visit (rec, created, data);
		}
		if (bad || (go_on && seq != last + 1))
			g_warning (_("Spool %s: damaged messages %" G_GUINT64_FORMAT "–%" G_GUINT64_FORMAT
			             " skipped"), path, seq, last);
	}
	sqlite3_reset (st);
	sqlite3_reset (gone);
	return rc == SQLITE_ROW ? SQLITE_DONE : rc;   /* ROW: the visit stopped it */
}

/* The records on disk after @after that are neither gone nor acknowledged.
 * FALSE if the database failed. */
static gboolean
walk_disk (Spool *sp, guint64 after, RecordVisit visit, gpointer data)
{
	if (walk_rows (sp->path, sp->select_after, sp->select_gone, MAX (after, sp->acked_upto), visit,
	               data) != SQLITE_DONE) {
		degrade (sp, _("cannot read queued messages"));
		return FALSE;
	}
	return TRUE;
}

typedef struct {
	Spool *sp;
	guint  wanted;
	guint  loaded;
} Refill;

/* Everything not acknowledged is in the window now: a damaged row
 * (skipped while walking) must not leave the count high for good, or the
 * queue reports itself full and drops new samples. */
static void
recount (Spool *sp)
{
	guint64 there = tbg_record_window_unacked (&sp->window);

	if (there == sp->count)
		return;
	g_warning (_("Spool %s: %" G_GUINT64_FORMAT " messages were expected, %" G_GUINT64_FORMAT
	             " are there; counting those"), sp->path, sp->count, there);
	sp->count = there;
}

static gboolean
refill_visit (TbgRecord *rec, gint64 created, gpointer data)
{
	Refill *r = data;

	window_push (r->sp, rec, created);
	return ++r->loaded < r->wanted;
}

/* Loads the next records from disk behind the window. */
static void
refill (Spool *sp)
{
	Refill r = { sp, WINDOW_MAX - MIN (tbg_record_window_length (&sp->window), WINDOW_MAX / 2), 0 };

	if (sp->db == NULL || !sp->db_has_more)
		return;
	/* the newest ones may not be written yet */
	if (!begin (sp) || !flush_staged (sp))
		return;
	if (!walk_disk (sp, sp->last_loaded, refill_visit, &r))
		return;
	sp->db_has_more = r.loaded == r.wanted;
	if (!sp->db_has_more)
		recount (sp);
}

/* Degrading: what is only on disk comes into memory while the file can
 * still be read, to be sent now rather than after a restart. */
static gboolean
load_rest (Spool *sp)
{
	Refill r = { sp, G_MAXUINT, 0 };

	if (!sp->db_has_more)
		return TRUE;
	if (walk_rows (sp->path, sp->select_after, sp->select_gone, MAX (sp->last_loaded, sp->acked_upto),
	               refill_visit, &r) != SQLITE_DONE) {
		g_warning (_("Spool %s: the messages on disk cannot be read either: %s; they are sent "
		             "after a restart"), sp->path, sqlite3_errmsg (sp->db));
		return FALSE;
	}
	sp->db_has_more = FALSE;
	if (r.loaded > 0)
		g_message (_("Spool %s: %u messages read from it are sent from memory"), sp->path, r.loaded);
	return TRUE;
}

static gboolean
first_visit (TbgRecord *rec, gint64 created, gpointer data)
{
	*(guint64 *) data = rec->seq;
	tbg_record_free (rec);
	return FALSE;
}

/* Everything up to @seq is acknowledged or gone: one range delete at commit. */
static void
done_upto (Spool *sp, guint64 seq)
{
	if (seq > sp->acked_upto) {
		sp->acked_upto = seq;
		begin (sp);
	}
}

/* Full: the oldest record that is not in flight goes. */
static void
drop_oldest (Spool *sp)
{
	gboolean oldest = FALSE;
	guint64 victim = tbg_record_window_drop_unsent (&sp->window, &oldest);

	if (victim == 0 && sp->db != NULL && sp->db_has_more) {
		/* the oldest one behind the window, on disk or about to be */
		if (!begin (sp) || !flush_staged (sp) || !walk_disk (sp, sp->last_loaded, first_visit, &victim) ||
		    victim == 0)
			return;
		/* later walks start behind it */
		sp->last_loaded = victim;
		oldest = tbg_record_window_length (&sp->window) == 0;
	}
	if (victim == 0)
		return;
	/* With nothing older waiting, a drop is as good as an acknowledgement
	 * for the disk: during an outage at the limit the file would otherwise
	 * keep every record plus a "gone" row for each one dropped. */
	if (oldest)
		done_upto (sp, victim);
	else
		forget_seq (sp, victim);
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
		if (sp->staged->len == 0)
			sp->staged_first = rec->seq;
		if (sp->staged->len == sp->staged_written)
			sp->unwritten_first = rec->seq;
		sp->staged_last = rec->seq;
		tbg_spool_blob_append (sp->staged, rec);
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
	done_upto (sp, popped);
}

static void
forget_acked (guint64 seq, gpointer data)
{
	forget_seq (data, seq);
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
	g_clear_pointer (&sp->insert_gone, sqlite3_finalize);
	g_clear_pointer (&sp->delete_upto, sqlite3_finalize);
	g_clear_pointer (&sp->delete_gone_upto, sqlite3_finalize);
	g_clear_pointer (&sp->save_acked, sqlite3_finalize);
	g_clear_pointer (&sp->select_after, sqlite3_finalize);
	g_clear_pointer (&sp->select_gone, sqlite3_finalize);
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
	g_byte_array_unref (sp->staged);
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

static gint64
query_int (Spool *sp, const char *sql, gint64 arg, gboolean *ok)
{
	sqlite3_stmt *st = NULL;
	gint64 v = 0;

	if (sqlite3_prepare_v2 (sp->db, sql, -1, &st, NULL) != SQLITE_OK) {
		*ok = FALSE;
		return 0;
	}
	sqlite3_bind_int64 (st, 1, arg);
	if (sqlite3_step (st) == SQLITE_ROW)
		v = sqlite3_column_int64 (st, 0);
	else
		*ok = FALSE;
	sqlite3_finalize (st);
	return v;
}

static gboolean
open_db (Spool *sp, GError **error)
{
	gboolean ok = TRUE;
	gint64 acked;

	if (sqlite3_open_v2 (sp->path, &sp->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_busy_timeout (sp->db, 1000);
	/* WAL + NORMAL: a commit survives the process being killed; a power
	 * cut may lose the last commits, never corrupt the file. */
	if (!exec (sp, "PRAGMA journal_mode=WAL") || !exec (sp, "PRAGMA synchronous=NORMAL") ||
	    !exec (sp, "CREATE TABLE IF NOT EXISTS batch (first INTEGER PRIMARY KEY, last INTEGER NOT NULL, "
	               "created INTEGER NOT NULL, records BLOB NOT NULL)") ||
	    !exec (sp, "CREATE TABLE IF NOT EXISTS gone (seq INTEGER PRIMARY KEY)") ||
	    !exec (sp, "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)") ||
	    !prepare (sp, "INSERT INTO batch VALUES (?1, ?2, ?3, ?4)", &sp->insert) ||
	    !prepare (sp, "INSERT OR IGNORE INTO gone VALUES (?1)", &sp->insert_gone) ||
	    !prepare (sp, "DELETE FROM batch WHERE last <= ?1", &sp->delete_upto) ||
	    !prepare (sp, "DELETE FROM gone WHERE seq <= ?1", &sp->delete_gone_upto) ||
	    !prepare (sp, "INSERT OR REPLACE INTO meta VALUES ('acked', ?1)", &sp->save_acked) ||
	    !prepare (sp, SELECT_BATCHES_AFTER, &sp->select_after) ||
	    !prepare (sp, SELECT_GONE_AFTER, &sp->select_gone))
		goto fail;
	acked = query_int (sp, "SELECT ifnull((SELECT value FROM meta WHERE key = 'acked'), 0) + ?1", 0, &ok);
	/* Rows are deleted in the transaction that moves meta.acked past them:
	 * a row at or below it means meta.acked is wrong, and trusting it
	 * would skip the backlog. */
	if (ok && query_int (sp, "SELECT count(*) FROM batch WHERE last <= ?1", acked, &ok) > 0) {
		gint64 fixed = query_int (sp, "SELECT min(first) - ?1 FROM batch", 1, &ok);

		g_warning (_("Spool %s: the acknowledged position %" G_GINT64_FORMAT " is past messages still "
		             "in the file; sending them from %" G_GINT64_FORMAT " on"), sp->path, acked, fixed + 1);
		acked = MAX (fixed, 0);
	}
	sp->acked_upto = sp->deleted_upto = (guint64) MAX (acked, 0);
	sp->next_seq = (guint64) MAX (query_int (sp, "SELECT max(ifnull(max(last), 0), ?1) FROM batch", acked, &ok), 0);
	/* everything after the acknowledged prefix, less what left out of order */
	sp->count = (guint64) MAX (query_int (sp, "SELECT ifnull(sum(last - max(first, ?1 + 1) + 1), 0) FROM batch "
	                                          "WHERE last > ?1", acked, &ok) -
	                           query_int (sp, "SELECT count(*) FROM gone WHERE seq > ?1", acked, &ok), 0);
	if (!ok)
		goto fail;
	sp->db_has_more = sp->count > 0;
	sp->last_loaded = sp->acked_upto;
	return TRUE;
fail:
	g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, _("spool %s: %s"), sp->path,
	             sp->db ? sqlite3_errmsg (sp->db) : g_strerror (ENOMEM));
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
	sp->staged = g_byte_array_new ();
	tbg_record_window_init (&sp->window);
	if (!open_db (sp, error)) {
		g_byte_array_unref (sp->staged);
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

typedef struct {
	TbgRecordKind kind;
	gint64        n;
} KindCount;

static gboolean
count_visit (TbgRecord *rec, gint64 created, gpointer data)
{
	KindCount *c = data;

	c->n += rec->kind == c->kind;
	tbg_record_free (rec);
	return TRUE;
}

gint64
tbg_spool_count_file (const char *dir, TbgRecordKind kind)
{
	g_autofree char *path = g_build_filename (dir, TBG_SPOOL_FILE, NULL);
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL, *batches = NULL, *gone = NULL;
	gint64 acked = 0;
	KindCount c = { kind, -1 };

	if (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		goto out;
	if (sqlite3_prepare_v2 (db, "SELECT value FROM meta WHERE key = 'acked'", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step (st) == SQLITE_ROW)
		acked = sqlite3_column_int64 (st, 0);
	if (sqlite3_prepare_v2 (db, SELECT_BATCHES_AFTER, -1, &batches, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2 (db, SELECT_GONE_AFTER, -1, &gone, NULL) != SQLITE_OK)
		goto out;
	c.n = 0;
	if (walk_rows (path, batches, gone, (guint64) MAX (acked, 0), count_visit, &c) != SQLITE_DONE)
		c.n = -1;
out:
	sqlite3_finalize (st);
	sqlite3_finalize (batches);
	sqlite3_finalize (gone);
	sqlite3_close (db);
	return c.n;
}
