/* SPDX-License-Identifier: Apache-2.0 */
/* Reliability with real parts: a steady feed while the broker dies and
 * comes back loses nothing; a tbgwd killed with SIGKILL loses nothing it
 * had accepted. Duplicates (allowed: QoS 1) are counted and reported. */
#include "build-config.h"
#include "gateway.h"
#include "test-broker.h"
#include "test-peer.h"
#include "spool.h"
#include "test-util.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <pty.h>
#include <signal.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#define WAIT_MS 20000

static const TbgSource test_source = { .name = "test" };
static const TbgSource * const test_sources[] = { &test_source, NULL };

/* Counts samples per "n" value seen in telemetry payloads until the
 * first @want of @n have all been seen (or the time is up). */
static guint
collect (TbgTestPeer *peer, const char *device, guint8 *seen, guint n, guint want, guint *dups,
         guint timeout_ms)
{
	guint distinct = 0, prefix = 0;
	gint64 end = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

	for (guint i = 0; i < n; i++)
		distinct += seen[i] > 0;
	while (g_get_monotonic_time () < end) {
		while (prefix < want && seen[prefix] > 0)
			prefix++;
		if (prefix >= want)
			break;
		g_autoptr (TbgTestMessage) m = tbg_test_peer_wait (peer, "v1/gateway/telemetry", 200);
		json_t *root, *samples;

		if (m == NULL)
			continue;
		root = json_loads (m->payload, 0, NULL);
		g_assert_nonnull (root);
		samples = json_object_get (root, device);
		for (gsize i = 0; i < json_array_size (samples); i++) {
			json_int_t v = json_integer_value (json_object_get (
				json_object_get (json_array_get (samples, i), "values"), "n"));

			g_assert_cmpint (v, >=, 0);
			g_assert_cmpint (v, <, n);
			if (seen[v]++ == 0)
				distinct++;
			else
				(*dups)++;
		}
		json_decref (root);
	}
	return distinct;
}

static gboolean
backlog_sent_logged (gpointer data)
{
	return tbg_test_log_count ("The * queued messages were sent in *") == 1;
}

static gboolean
link_is_down (gpointer gw)
{
	return !tbg_test_gateway_link_is_up (gw);
}

/* A gateway on @broker with @cfg (its port and quiet statistics set here),
 * link up, with one connected device "Feed" in *@feed. */
static TbgGateway *
start_feed_gateway (TbgTestBroker *broker, TbgConfig *cfg, TbgDevice **feed)
{
	g_autoptr (GError) error = NULL;
	TbgGateway *gw;

	cfg->server.port = tbg_test_broker_port (broker);
	cfg->gateway.stats_interval_s = 0;
	gw = tbg_gateway_new (cfg, test_sources, &error);
	g_assert_no_error (error);
	g_assert_true (tbg_gateway_start (gw, &error));
	g_assert_no_error (error);
	g_assert_true (tbg_test_wait_until (tbg_test_gateway_link_is_up, gw, WAIT_MS));
	*feed = tbg_gateway_add_device (gw, &test_source, NULL, "Feed", NULL, "", &error);
	g_assert_no_error (error);
	tbg_device_set_connected (*feed, TRUE);
	return gw;
}

/* Sample @i of the feed: {"n":i}, stamped 1700000000000 + i. */
static void
push_sample (TbgDevice *feed, guint i)
{
	g_autoptr (GError) error = NULL;
	json_t *v = json_pack ("{s:i}", "n", (int) i);

	g_assert_true (tbg_device_push_telemetry (feed, 1700000000000 + i, v, &error));
	g_assert_no_error (error);
	json_decref (v);
}

/* A queue that fills during an outage drops the oldest, says so once (not
 * once per message), counts it, and sends the rest when the broker is back. */
static void
test_queue_full (void)
{
	TbgTestBroker *broker = tbg_test_broker_start ();
	TbgTestPeer *peer;
	TbgConfig *cfg = tbg_config_new_default ();
	const guint n = 25, limit = 10;
	guint8 seen[25] = { 0 };
	guint dups = 0;
	TbgGatewayStats stats;
	TbgGateway *gw;
	TbgDevice *dev;

	tbg_test_log_capture ();
	g_clear_pointer (&cfg->storage.path, g_free);   /* memory; the spool drops the same way */
	cfg->storage.max_messages = limit;
	gw = start_feed_gateway (broker, cfg, &dev);
	tbg_test_run_main_loop_for (200);   /* the connect is acknowledged */

	tbg_test_broker_stop (broker);
	g_assert_true (tbg_test_wait_until (link_is_down, gw, WAIT_MS));
	for (guint i = 0; i < n; i++)
		push_sample (dev, i);
	tbg_gateway_get_stats (gw, &stats);
	g_assert_cmpuint (stats.records_dropped, ==, n - limit);
	g_assert_cmpuint (tbg_test_log_count ("The queue is full ([storage] max-messages=10): dropping the "
	                                      "oldest waiting messages, 1 dropped so far"), ==, 1);
	g_assert_cmpuint (tbg_test_log_count ("The queue is full*"), ==, 1);

	tbg_test_broker_restart (broker);
	peer = tbg_test_peer_new (tbg_test_broker_port (broker));
	g_assert_cmpuint (collect (peer, "Feed", seen, n, n, &dups, 3000), ==, limit);
	for (guint i = 0; i < n; i++)
		g_assert_cmpuint (seen[i], ==, i < n - limit ? 0 : 1);
	g_assert_cmpuint (tbg_test_log_count ("10 messages queued while disconnected go out first"), ==, 1);
	g_assert_true (tbg_test_wait_until (backlog_sent_logged, NULL, WAIT_MS));
	g_object_unref (gw);
	tbg_test_peer_free (peer);
	tbg_test_broker_free (broker);
}

static void
remove_spool_dir (const char *dir)
{
	static const char * const files[] = { "spool.db", "spool.db-wal", "spool.db-shm", NULL };

	for (guint i = 0; files[i] != NULL; i++) {
		g_autofree char *path = g_build_filename (dir, files[i], NULL);

		g_unlink (path);
	}
	g_rmdir (dir);
}

static gboolean
expiry_logged (gpointer data)
{
	return tbg_test_log_count ("Dropping queued messages older than [storage] ttl-s=1, 5 dropped so far") == 1;
}

/* What waits longer than ttl-s is dropped when the link is back, counted,
 * and said once. */
static void
test_queue_expired (void)
{
	g_autofree char *dir = g_dir_make_tmp ("tbgw-ttl-XXXXXX", NULL);
	TbgTestBroker *broker = tbg_test_broker_start ();
	TbgTestPeer *peer;
	TbgConfig *cfg = tbg_config_new_default ();
	TbgGatewayStats stats;
	TbgGateway *gw;
	TbgDevice *dev;

	tbg_test_log_capture ();
	g_free (cfg->storage.path);
	cfg->storage.path = g_strdup (dir);
	cfg->storage.ttl_s = 1;
	gw = start_feed_gateway (broker, cfg, &dev);
	tbg_test_run_main_loop_for (200);

	tbg_test_broker_stop (broker);
	g_assert_true (tbg_test_wait_until (link_is_down, gw, WAIT_MS));
	for (guint i = 0; i < 5; i++)
		push_sample (dev, i);
	tbg_test_run_main_loop_for (1500);
	tbg_test_broker_restart (broker);
	peer = tbg_test_peer_new (tbg_test_broker_port (broker));
	g_assert_true (tbg_test_wait_until (expiry_logged, NULL, WAIT_MS));
	tbg_test_peer_assert_quiet (peer, "v1/gateway/telemetry", 300);
	tbg_gateway_get_stats (gw, &stats);
	g_assert_cmpuint (stats.records_dropped, ==, 5);
	g_assert_cmpuint (tbg_test_log_count ("The queue is full*"), ==, 0);
	g_object_unref (gw);
	tbg_test_peer_free (peer);
	tbg_test_broker_free (broker);
	remove_spool_dir (dir);
}

static void
test_broker_restart_during_feed (void)
{
	g_autofree char *dir = g_dir_make_tmp ("tbgw-rel-XXXXXX", NULL);
	TbgTestBroker *broker = tbg_test_broker_start ();
	TbgTestPeer *peer = tbg_test_peer_new (tbg_test_broker_port (broker));
	TbgConfig *cfg = tbg_config_new_default ();
	const guint n = 3000;
	guint8 *seen = g_new0 (guint8, n);
	guint dups = 0, distinct;
	TbgGateway *gw;
	TbgDevice *dev;

	tbg_test_log_capture ();
	g_free (cfg->storage.path);
	cfg->storage.path = g_strdup (dir);
	gw = start_feed_gateway (broker, cfg, &dev);

	/* A steady feed: 3 samples a millisecond for a second, the broker
	 * gone for a stretch in the middle. */
	for (guint i = 0; i < n; i++) {
		push_sample (dev, i);
		if (i % 3 == 0)
			tbg_test_run_main_loop_for (1);
		if (i == n / 3) {
			/* Everything so far has reached ThingsBoard before it goes. */
			g_assert_cmpuint (collect (peer, "Feed", seen, n, i + 1, &dups, WAIT_MS), ==, i + 1);
			tbg_test_peer_free (peer);
			tbg_test_broker_stop (broker);
		}
		if (i == 2 * n / 3) {
			tbg_test_broker_restart (broker);
			peer = tbg_test_peer_new (tbg_test_broker_port (broker));
		}
	}
	distinct = collect (peer, "Feed", seen, n, n, &dups, WAIT_MS);
	g_test_message ("%u of %u samples arrived, %u duplicates", distinct, n, dups);
	/* What was in flight when the broker died is sent again: at least
	 * once, never lost. */
	for (guint i = 0; i < n; i++) {
		if (seen[i] == 0)
			g_error ("sample %u was lost", i);
	}
	g_assert_cmpuint (distinct, ==, n);
	/* and the log says what happened after the outage */
	g_assert_cmpuint (tbg_test_log_count ("* messages queued while disconnected go out first"), ==, 1);
	g_assert_true (tbg_test_wait_until (backlog_sent_logged, NULL, WAIT_MS));
	g_object_unref (gw);
	tbg_test_peer_free (peer);
	tbg_test_broker_free (broker);
	g_free (seen);
	remove_spool_dir (dir);
}

static GSubprocess *
spawn_tbgwd (const char *conf)
{
	g_autoptr (GError) error = NULL;
	g_autoptr (GSubprocessLauncher) l = tbg_test_launcher_new (G_SUBPROCESS_FLAGS_STDERR_SILENCE);
	GSubprocess *p = g_subprocess_launcher_spawn (l, &error,
	                                              g_getenv ("TBGWD") ? g_getenv ("TBGWD") : "src/tbgwd",
	                                              "--config", conf, NULL);

	g_assert_no_error (error);
	return p;
}


/* Waits until @proc holds @tty open (its fds in /proc), however long the
 * start takes on a busy or instrumented build. */
static void
wait_port_open (GSubprocess *proc, const char *tty)
{
	g_autofree char *dir = g_strdup_printf ("/proc/%s/fd", g_subprocess_get_identifier (proc));
	gint64 end = g_get_monotonic_time () + WAIT_MS * 1000;

	while (g_get_monotonic_time () < end) {
		g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
		const char *fd;

		while (d != NULL && (fd = g_dir_read_name (d)) != NULL) {
			g_autofree char *path = g_build_filename (dir, fd, NULL);
			g_autofree char *target = g_file_read_link (path, NULL);

			if (g_strcmp0 (target, tty) == 0)
				return;
		}
		g_usleep (10000);
	}
	g_error ("tbgwd did not open %s", tty);
}

static void
test_sigkill_loses_nothing (void)
{
	g_autofree char *dir = g_dir_make_tmp ("tbgw-kill-XXXXXX", NULL);
	g_autofree char *conf = g_build_filename (dir, "tbgw.conf", NULL);
	g_autofree char *link = g_build_filename (dir, "tty", NULL);
	g_autofree char *db = g_build_filename (dir, "spool.db", NULL);
	g_autofree char *text = NULL;
	TbgTestBroker *broker = tbg_test_broker_start ();
	TbgTestPeer *peer;
	GSubprocess *proc;
	GString *lines = g_string_new (NULL);
	const guint n = 2000;
	guint8 *seen = g_new0 (guint8, n);
	guint dups = 0;
	int master, slave;
	char name[64];
	struct termios tio;
	gint64 end;

	g_assert_cmpint (openpty (&master, &slave, name, NULL, NULL), ==, 0);
	tcgetattr (slave, &tio);
	cfmakeraw (&tio);
	tcsetattr (slave, TCSANOW, &tio);
	close (slave);
	g_assert_cmpint (symlink (name, link), ==, 0);
	text = g_strdup_printf ("[storage]\npath=%s\n[server]\nport=%u\n[gateway]\nstats-interval-s=0\n"
	                        "[serial:Meter]\nport=%s\n", dir, tbg_test_broker_port (broker), link);
	g_file_set_contents (conf, text, -1, NULL);

	/* ThingsBoard is unreachable: everything tbgwd accepts waits in the spool. */
	tbg_test_broker_stop (broker);
	proc = spawn_tbgwd (conf);
	for (guint i = 0; i < n; i++)
		g_string_append_printf (lines, "{\"n\":%u}\n", i);
	/* tbgwd flushes what waits in a port it opens: write after that */
	wait_port_open (proc, name);
	g_assert_cmpint (write (master, lines->str, lines->len), ==, (gssize) lines->len);
	end = g_get_monotonic_time () + WAIT_MS * 1000;
	while (tbg_spool_count_file (dir, TBG_RECORD_TELEMETRY) < n && g_get_monotonic_time () < end)
		g_usleep (10000);
	g_assert_cmpint (tbg_spool_count_file (dir, TBG_RECORD_TELEMETRY), ==, n);
	/* Crash. */
	g_subprocess_send_signal (proc, SIGKILL);
	g_subprocess_wait (proc, NULL, NULL);
	g_clear_object (&proc);

	tbg_test_broker_restart (broker);
	peer = tbg_test_peer_new (tbg_test_broker_port (broker));
	proc = spawn_tbgwd (conf);
	g_assert_cmpuint (collect (peer, "Meter", seen, n, n, &dups, WAIT_MS), ==, n);
	g_test_message ("after SIGKILL: %u of %u samples arrived, %u duplicates", n, n, dups);
	g_subprocess_send_signal (proc, SIGTERM);
	g_subprocess_wait (proc, NULL, NULL);
	g_object_unref (proc);
	tbg_test_peer_free (peer);
	tbg_test_broker_free (broker);
	close (master);
	g_string_free (lines, TRUE);
	g_free (seen);
	g_unlink (conf);
	g_unlink (link);
	remove_spool_dir (dir);
}

int
main (int argc, char **argv)
{
	g_test_init (&argc, &argv, NULL);
	g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
	g_test_add_func ("/reliability/broker-restart-during-feed", test_broker_restart_during_feed);
	g_test_add_func ("/reliability/sigkill-loses-nothing", test_sigkill_loses_nothing);
	g_test_add_func ("/reliability/queue-full", test_queue_full);
	g_test_add_func ("/reliability/queue-expired", test_queue_expired);
	return g_test_run ();
}
