/* SPDX-License-Identifier: Apache-2.0 */
/* Tests of the durable spool through the outbox interface, on real SQLite
 * files: what is appended survives a reopen and a SIGKILL, leaves only
 * when acknowledged, in order; limits and TTL drop the oldest and count. */
#include "spool.h"

#include <glib/gstdio.h>
#include <sqlite3.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct {
	char *dir;
} Fixture;

static void
setup (Fixture *f, gconstpointer data)
{
	f->dir = g_dir_make_tmp ("tbgw-spool-XXXXXX", NULL);
	g_assert_nonnull (f->dir);
}

static void
teardown (Fixture *f, gconstpointer data)
{
	const char *names[] = { "spool.db", "spool.db-wal", "spool.db-shm", NULL };

	for (guint i = 0; names[i] != NULL; i++) {
		g_autofree char *p = g_build_filename (f->dir, names[i], NULL);
		g_autofree char *cmd = g_strdup_printf ("chattr -i '%s' 2>/dev/null", p);

		if (system (cmd) < 0) {}
		g_unlink (p);
	}
	g_rmdir (f->dir);
	g_free (f->dir);
}

static TbgOutbox *
open_spool (Fixture *f, guint64 max, guint64 ttl)
{
	g_autoptr (GError) error = NULL;
	TbgOutbox *ob = tbg_spool_open (f->dir, max, ttl, &error);

	g_assert_no_error (error);
	g_assert_nonnull (ob);
	return ob;
}

static void
append (TbgOutbox *ob, TbgRecordKind kind, const char *device, const char *payload)
{
	g_assert_true (tbg_outbox_append (ob, tbg_record_new (kind, device, g_strdup (payload),
	                                                      strlen (payload)), NULL));
}

static void
flush_commits (void)
{
	while (g_main_context_iteration (NULL, FALSE))
		;
}

/* Sends (marks) and returns the next record's payload; NULL when none. */
static char *
send_next (TbgOutbox *ob, guint64 *seq)
{
	const TbgRecord *r = tbg_outbox_peek_unsent (ob);

	if (r == NULL)
		return NULL;
	*seq = r->seq;
	tbg_outbox_mark_sent (ob, r->seq);
	return g_strdup (r->payload);
}

static void
test_persist_and_ack (Fixture *f, gconstpointer data)
{
	TbgOutbox *ob = open_spool (f, 100, 0);
	guint64 s1, s2;
	g_autofree char *p1 = NULL, *p2 = NULL, *p3 = NULL;

	append (ob, TBG_RECORD_CONNECT, "A", "{\"device\":\"A\"}");
	append (ob, TBG_RECORD_TELEMETRY, "A", "{\"ts\":1,\"values\":{\"t\":1}}");
	append (ob, TBG_RECORD_OWN_TELEMETRY, NULL, "{\"pong\":true}");
	p1 = send_next (ob, &s1);
	p2 = send_next (ob, &s2);
	g_assert_cmpstr (p1, ==, "{\"device\":\"A\"}");
	tbg_outbox_ack (ob, s1);     /* only the connect was acknowledged */
	flush_commits ();
	g_assert_cmpuint (tbg_outbox_length (ob), ==, 2);
	tbg_outbox_free (ob);

	/* Restart: the unacknowledged ones come back, in order, intact. */
	ob = open_spool (f, 100, 0);
	g_assert_cmpuint (tbg_outbox_length (ob), ==, 2);
	{
		const TbgRecord *r = tbg_outbox_peek_unsent (ob);

		g_assert_cmpint (r->kind, ==, TBG_RECORD_TELEMETRY);
		g_assert_cmpstr (r->device, ==, "A");
		g_assert_cmpstr (r->payload, ==, "{\"ts\":1,\"values\":{\"t\":1}}");
		g_assert_cmpuint (r->seq, ==, s2);
		tbg_outbox_mark_sent (ob, r->seq);
		r = tbg_outbox_peek_unsent (ob);
		g_assert_cmpint (r->kind, ==, TBG_RECORD_OWN_TELEMETRY);
		g_assert_null (r->device);
	}
	/* New records get higher numbers than the old ones. */
	append (ob, TBG_RECORD_TELEMETRY, "B", "{\"ts\":2,\"values\":{\"t\":2}}");
	p3 = send_next (ob, &s1);
	g_assert_cmpstr (p3, ==, "{\"pong\":true}");
	tbg_outbox_free (ob);
}

static void
test_sigkill (Fixture *f, gconstpointer data)
{
	const guint n = 5000;
	pid_t pid = fork ();
	TbgOutbox *ob;
	int status;

	g_assert_cmpint (pid, >=, 0);
	if (pid == 0) {
		TbgOutbox *child = tbg_spool_open (f->dir, 1000000, 0, NULL);

		for (guint i = 0; i < n; i++) {
			g_autofree char *p = g_strdup_printf ("{\"ts\":%u,\"values\":{\"n\":%u}}", i + 1, i);

			append (child, TBG_RECORD_TELEMETRY, "Dev", p);
			if (i % 700 == 0)
				flush_commits ();   /* main loop turns between bursts */
		}
		flush_commits ();
		/* Accepted and committed: now die without any clean-up. */
		raise (SIGKILL);
		_exit (1);
	}
	g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
	g_assert_true (WIFSIGNALED (status) && WTERMSIG (status) == SIGKILL);
	ob = open_spool (f, 1000000, 0);
	g_assert_cmpuint (tbg_outbox_length (ob), ==, n);
	for (guint i = 0; i < n; i++) {
		guint64 seq;
		g_autofree char *p = send_next (ob, &seq);
		g_autofree char *want = g_strdup_printf ("{\"ts\":%u,\"values\":{\"n\":%u}}", i + 1, i);

		g_assert_cmpstr (p, ==, want);
		tbg_outbox_ack (ob, seq);
	}
	g_assert_null (tbg_outbox_peek_unsent (ob));
	flush_commits ();
	g_assert_cmpuint (tbg_outbox_length (ob), ==, 0);
	tbg_outbox_free (ob);
	ob = open_spool (f, 1000000, 0);
	g_assert_cmpuint (tbg_outbox_length (ob), ==, 0);
	tbg_outbox_free (ob);
}

/* sync makes what was appended durable at once, without a main loop turn:
 * a child appends, syncs and is killed before its loop could commit. */
static void
test_sync_without_main_loop (Fixture *f, gconstpointer data)
{
	pid_t pid = fork ();
	TbgOutbox *ob;
	int status;

	g_assert_cmpint (pid, >=, 0);
	if (pid == 0) {
		TbgOutbox *child = tbg_spool_open (f->dir, 100, 0, NULL);

		flush_commits ();
		append (child, TBG_RECORD_TELEMETRY, "Dev", "{\"ts\":1,\"values\":{\"n\":1}}");
		tbg_outbox_sync (child);
		append (child, TBG_RECORD_TELEMETRY, "Dev", "{\"ts\":2,\"values\":{\"n\":2}}");
		/* not synced, no main loop turn: this one may be lost, and is */
		raise (SIGKILL);
		_exit (1);
	}
	g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
	g_assert_true (WIFSIGNALED (status));
	ob = open_spool (f, 100, 0);
	g_assert_cmpuint (tbg_outbox_length (ob), ==, 1);
	g_assert_cmpstr (tbg_outbox_peek_unsent (ob)->payload, ==, "{\"ts\":1,\"values\":{\"n\":1}}");
	tbg_outbox_free (ob);
}

static void
test_window_refill_and_rewind (Fixture *f, gconstpointer data)
{
	TbgOutbox *ob = open_spool (f, 1000000, 0);
	const guint n = 20000;   /* several times the in-memory window */
	GArray *inflight = g_array_new (FALSE, FALSE, sizeof (guint64));

	for (guint i = 0; i < n; i++) {
		g_autofree char *p = g_strdup_printf ("%u", i);

		append (ob, TBG_RECORD_TELEMETRY, "D", p);
	}
	flush_commits ();
	/* Send 100, lose the link, and everything comes again from the first. */
	for (guint i = 0; i < 100; i++) {
		guint64 seq;
		g_autofree char *p = send_next (ob, &seq);

		g_array_append_val (inflight, seq);
	}
	tbg_outbox_rewind (ob);
	for (guint i = 0; i < n; i++) {
		guint64 seq;
		g_autofree char *p = send_next (ob, &seq);
		g_autofree char *want = g_strdup_printf ("%u", i);

		g_assert_cmpstr (p, ==, want);
		tbg_outbox_ack (ob, seq);
		if (i % 1000 == 0)
			flush_commits ();
	}
	g_assert_null (tbg_outbox_peek_unsent (ob));
	flush_commits ();
	g_assert_cmpuint (tbg_outbox_length (ob), ==, 0);
	tbg_outbox_free (ob);
	g_array_unref (inflight);
}

static void
test_limit_drops_oldest (Fixture *f, gconstpointer data)
{
	TbgOutbox *ob = open_spool (f, 5, 0);
	guint64 seq;
	g_autofree char *first = NULL;

	append (ob, TBG_RECORD_TELEMETRY, "D", "0");
	first = send_next (ob, &seq);      /* in flight: never dropped */
	for (guint i = 1; i < 9; i++) {
		g_autofree char *p = g_strdup_printf ("%u", i);

		append (ob, TBG_RECORD_TELEMETRY, "D", p);
	}
	g_assert_cmpuint (tbg_outbox_length (ob), ==, 5);
	g_assert_cmpuint (ob->dropped, ==, 4);
	flush_commits ();
	/* 1..4 are listed as gone behind the one in flight: the file has 5 */
	g_assert_cmpint (tbg_spool_count_file (f->dir, TBG_RECORD_TELEMETRY), ==, 5);
	tbg_outbox_free (ob);
	ob = open_spool (f, 5, 0);
	g_assert_cmpuint (tbg_outbox_length (ob), ==, 5);
	{
		g_autofree char *a = send_next (ob, &seq);
		g_autofree char *b = send_next (ob, &seq);

		g_assert_cmpstr (a, ==, "0");
		g_assert_cmpstr (b, ==, "5");   /* 1..4 went */
	}
	tbg_outbox_free (ob);
}

static gint64
query (const char *db_path, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	gint64 v;

	g_assert_cmpint (sqlite3_open_v2 (db_path, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
	g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &st, NULL), ==, SQLITE_OK);
	g_assert_cmpint (sqlite3_step (st), ==, SQLITE_ROW);
	v = sqlite3_column_int64 (st, 0);
	sqlite3_finalize (st);
	sqlite3_close (db);
	return v;
}

/* An outage at the limit, past the in-memory window: what is dropped leaves
 * the file too, so the file stays the size of the limit (no "gone" row per
 * drop, no record kept behind them) and the newest records are the ones kept. */
static void
test_limit_during_outage (Fixture *f, gconstpointer data)
{
	g_autofree char *db_path = g_build_filename (f->dir, "spool.db", NULL);
	const guint limit = 5000, n = 12000;
	TbgOutbox *ob = open_spool (f, limit, 0);
	guint64 seq;

	for (guint i = 0; i < n; i++) {
		g_autofree char *p = g_strdup_printf ("%u", i);

		append (ob, TBG_RECORD_TELEMETRY, "D", p);
		if (i % 1000 == 0)
			flush_commits ();   /* main loop turns now and then */
	}
	flush_commits ();
	g_assert_cmpuint (tbg_outbox_length (ob), ==, limit);
	g_assert_cmpuint (ob->dropped, ==, n - limit);
	g_assert_cmpint (query (db_path, "SELECT count(*) FROM gone"), ==, 0);
	/* rows still on disk hold the kept records, and at most one batch more */
	g_assert_cmpint (query (db_path, "SELECT ifnull(sum(last - first + 1), 0) FROM batch"), <=, limit + 2048);
	tbg_outbox_free (ob);
	ob = open_spool (f, limit, 0);
	g_assert_cmpuint (tbg_outbox_length (ob), ==, limit);
	{
		g_autofree char *first = send_next (ob, &seq);

		g_assert_cmpstr (first, ==, "7000");
	}
	tbg_outbox_free (ob);
}

static void
test_ttl (Fixture *f, gconstpointer data)
{
	TbgOutbox *ob = open_spool (f, 100, 1);

	append (ob, TBG_RECORD_TELEMETRY, "D", "old");
	g_usleep (1100 * 1000);
	append (ob, TBG_RECORD_TELEMETRY, "D", "new");
	g_assert_cmpstr (tbg_outbox_peek_unsent (ob)->payload, ==, "new");
	g_assert_cmpuint (ob->dropped, ==, 1);
	g_assert_cmpuint (tbg_outbox_length (ob), ==, 1);
	tbg_outbox_free (ob);
}

static void
test_corrupt_file (Fixture *f, gconstpointer data)
{
	g_autoptr (GError) error = NULL;
	g_autofree char *db = g_build_filename (f->dir, "spool.db", NULL);
	TbgOutbox *ob;

	g_file_set_contents (db, "this is not a database, just some bytes that a crash left behind....", -1, NULL);
	ob = tbg_spool_open (f->dir, 100, 0, &error);
	g_assert_null (ob);
	g_assert_nonnull (error);
	g_assert_nonnull (strstr (error->message, db));
}

/* Makes the spool's WAL immutable so that its next COMMIT fails (teardown
 * undoes it), and lets the warning that follows through. FALSE, with the
 * test skipped, where chattr cannot. */
static gboolean
make_wal_immutable (Fixture *f)
{
	g_autofree char *wal = g_build_filename (f->dir, "spool.db-wal", NULL);
	g_autofree char *cmd = g_strdup_printf ("chattr +i '%s' 2>/dev/null", wal);

	if (system (cmd) != 0) {
		g_test_skip ("chattr +i is not supported here");
		return FALSE;
	}
	g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
	return TRUE;
}

static void
test_unwritable (Fixture *f, gconstpointer data)
{
	TbgOutbox *ob = open_spool (f, 100, 0);
	guint64 seq;

	append (ob, TBG_RECORD_TELEMETRY, "D", "before");
	flush_commits ();
	if (!make_wal_immutable (f)) {
		tbg_outbox_free (ob);
		return;
	}
	/* It warns (once) and carries on. */
	g_assert_false (tbg_spool_is_degraded (ob));
	append (ob, TBG_RECORD_TELEMETRY, "D", "during");
	flush_commits ();
	g_assert_true (tbg_spool_is_degraded (ob));
	/* Still forwarding, in order, from memory. */
	append (ob, TBG_RECORD_TELEMETRY, "D", "after");
	{
		g_autofree char *a = send_next (ob, &seq);
		g_autofree char *b = send_next (ob, &seq);
		g_autofree char *c = send_next (ob, &seq);

		g_assert_cmpstr (a, ==, "before");
		g_assert_cmpstr (b, ==, "during");
		g_assert_cmpstr (c, ==, "after");
	}
	tbg_outbox_free (ob);
}

/* The database fails at COMMIT while a turn's records reach past the
 * in-memory window: those held on disk only are kept in memory, none lost. */
static void
test_unwritable_past_window (Fixture *f, gconstpointer data)
{
	TbgOutbox *ob = open_spool (f, 100000, 0);
	const guint before = 4090, n = 4100;   /* the window holds 4096 */
	guint64 seq;

	for (guint i = 0; i < before; i++) {
		g_autofree char *p = g_strdup_printf ("%u", i);

		append (ob, TBG_RECORD_TELEMETRY, "D", p);
	}
	flush_commits ();
	if (!make_wal_immutable (f)) {
		tbg_outbox_free (ob);
		return;
	}
	for (guint i = before; i < n; i++) {
		g_autofree char *p = g_strdup_printf ("%u", i);

		append (ob, TBG_RECORD_TELEMETRY, "D", p);
	}
	flush_commits ();
	g_assert_true (tbg_spool_is_degraded (ob));
	g_assert_cmpuint (tbg_outbox_length (ob), ==, n);
	for (guint i = 0; i < n; i++) {
		g_autofree char *p = send_next (ob, &seq);
		g_autofree char *want = g_strdup_printf ("%u", i);

		g_assert_cmpstr (p, ==, want);
		tbg_outbox_ack (ob, seq);
	}
	g_assert_null (tbg_outbox_peek_unsent (ob));
	g_assert_cmpuint (tbg_outbox_length (ob), ==, 0);
	tbg_outbox_free (ob);
}

/* Appends "0".."n-1" from @from on, a main loop turn every 1000. */
static void
append_numbered (TbgOutbox *ob, guint from, guint n)
{
	for (guint i = from; i < n; i++) {
		g_autofree char *p = g_strdup_printf ("%u", i);

		append (ob, TBG_RECORD_TELEMETRY, "D", p);
		if (i % 1000 == 999)
			flush_commits ();
	}
	flush_commits ();
}

/* Sends and acknowledges everything, checking "0".."n-1" in order. */
static void
expect_numbered (TbgOutbox *ob, guint n)
{
	guint64 seq;

	for (guint i = 0; i < n; i++) {
		g_autofree char *p = send_next (ob, &seq);
		g_autofree char *want = g_strdup_printf ("%u", i);

		g_assert_cmpstr (p, ==, want);
		tbg_outbox_ack (ob, seq);
	}
	g_assert_null (tbg_outbox_peek_unsent (ob));
	g_assert_cmpuint (tbg_outbox_length (ob), ==, 0);
}

/* The disk fills up during an outage with records on disk beyond the
 * in-memory window: they are read into memory and sent now, not after a
 * restart. */
static void
test_unwritable_on_disk_past_window (Fixture *f, gconstpointer data)
{
	TbgOutbox *ob = open_spool (f, 100000, 0);
	const guint before = 6000, n = 6010;   /* the window holds 4096 */

	append_numbered (ob, 0, before);
	if (!make_wal_immutable (f)) {
		tbg_outbox_free (ob);
		return;
	}
	append_numbered (ob, before, n);
	g_assert_true (tbg_spool_is_degraded (ob));
	g_assert_cmpuint (tbg_outbox_length (ob), ==, n);
	expect_numbered (ob, n);
	tbg_outbox_free (ob);
}

/* Records found at start, and the disk cannot be written from the first
 * write on: they are sent from memory, before the new ones. */
static void
test_unwritable_at_start (Fixture *f, gconstpointer data)
{
	TbgOutbox *ob = open_spool (f, 100, 0);

	append_numbered (ob, 0, 5);
	tbg_outbox_free (ob);
	ob = open_spool (f, 100, 0);
	if (!make_wal_immutable (f)) {
		tbg_outbox_free (ob);
		return;
	}
	append_numbered (ob, 5, 7);
	g_assert_true (tbg_spool_is_degraded (ob));
	g_assert_cmpuint (tbg_outbox_length (ob), ==, 7);
	expect_numbered (ob, 7);
	tbg_outbox_free (ob);
}

static void
exec_sql (Fixture *f, const char *sql)
{
	g_autofree char *path = g_build_filename (f->dir, "spool.db", NULL);
	sqlite3 *db = NULL;

	g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
	g_assert_cmpint (sqlite3_exec (db, sql, NULL, NULL, NULL), ==, SQLITE_OK);
	sqlite3_close (db);
}

/* A row that claims more records than it holds: once the queue has been
 * read to its end the count is what is really there, so the queue does not
 * think itself full (and drop new samples) for the rest of the run. */
static void
test_damaged_row_recounted (Fixture *f, gconstpointer data)
{
	TbgOutbox *ob = open_spool (f, 100, 0);

	append_numbered (ob, 0, 10);
	tbg_outbox_free (ob);
	exec_sql (f, "UPDATE batch SET last = last + 5");
	g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
	ob = open_spool (f, 6, 0);
	g_assert_cmpuint (tbg_outbox_length (ob), ==, 15);
	expect_numbered (ob, 10);
	append_numbered (ob, 0, 3);
	g_assert_cmpuint (ob->dropped, ==, 0);
	g_assert_cmpuint (tbg_outbox_length (ob), ==, 3);
	expect_numbered (ob, 3);
	tbg_outbox_free (ob);
}

/* meta.acked past rows still in the file is wrong (rows go in the same
 * transaction that moves it): the backlog is sent, not skipped. */
static void
test_absurd_acked (Fixture *f, gconstpointer data)
{
	TbgOutbox *ob = open_spool (f, 100, 0);

	append_numbered (ob, 0, 5);
	tbg_outbox_free (ob);
	exec_sql (f, "INSERT OR REPLACE INTO meta VALUES ('acked', 1000000000)");
	g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
	ob = open_spool (f, 100, 0);
	g_assert_cmpuint (tbg_outbox_length (ob), ==, 5);
	expect_numbered (ob, 5);
	append_numbered (ob, 0, 1);
	g_assert_cmpuint (tbg_outbox_peek_unsent (ob)->seq, <, 1000);
	tbg_outbox_free (ob);
}

int
main (int argc, char **argv)
{
	g_test_init (&argc, &argv, NULL);
#define ADD(path, fn) g_test_add ("/spool/" path, Fixture, NULL, setup, fn, teardown)
	ADD ("persist-and-ack", test_persist_and_ack);
	ADD ("sigkill", test_sigkill);
	ADD ("sync", test_sync_without_main_loop);
	ADD ("window-refill-and-rewind", test_window_refill_and_rewind);
	ADD ("limit-drops-oldest", test_limit_drops_oldest);
	ADD ("limit-during-outage", test_limit_during_outage);
	ADD ("ttl", test_ttl);
	ADD ("corrupt-file", test_corrupt_file);
	ADD ("unwritable", test_unwritable);
	ADD ("unwritable-past-window", test_unwritable_past_window);
	ADD ("unwritable-on-disk-past-window", test_unwritable_on_disk_past_window);
	ADD ("unwritable-at-start", test_unwritable_at_start);
	ADD ("damaged-row-recounted", test_damaged_row_recounted);
	ADD ("absurd-acked", test_absurd_acked);
#undef ADD
	return g_test_run ();
}
