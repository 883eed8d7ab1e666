/* SPDX-License-Identifier: Apache-2.0 */
/* Tests of the real tbgwd binary: options, config errors, signals, and its
 * own device (version, ping, statistics) on a real broker. */
#include "build-config.h"
#include "test-broker.h"
#include "test-peer.h"
#include "test-util.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>

#define WAIT_MS 20000

typedef struct {
	char        *dir;
	char        *config;
	char        *log;
	GSubprocess *proc;
} Daemon;

static const char *
tbgwd_path (void)
{
	const char *p = g_getenv ("TBGWD");

	return p != NULL ? p : "src/tbgwd";
}

static void
daemon_write_config (Daemon *d, const char *text)
{
	g_autoptr (GError) error = NULL;

	g_assert_true (g_file_set_contents (d->config, text, -1, &error));
	g_assert_no_error (error);
}

static void
daemon_init (Daemon *d, const char *config_text)
{
	g_autoptr (GError) error = NULL;

	d->dir = g_dir_make_tmp ("tbgwd-test-XXXXXX", &error);
	g_assert_no_error (error);
	d->config = g_build_filename (d->dir, "tbgw.conf", NULL);
	d->log = g_build_filename (d->dir, "stderr.log", NULL);
	daemon_write_config (d, config_text);
}

static void
daemon_spawn (Daemon *d, const char * const *extra)
{
	g_autoptr (GError) error = NULL;
	g_autoptr (GSubprocessLauncher) l = tbg_test_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE);
	g_autoptr (GPtrArray) argv = g_ptr_array_new ();

	g_ptr_array_add (argv, (gpointer) tbgwd_path ());
	g_ptr_array_add (argv, (gpointer) "--config");
	g_ptr_array_add (argv, d->config);
	for (guint i = 0; extra != NULL && extra[i] != NULL; i++)
		g_ptr_array_add (argv, (gpointer) extra[i]);
	g_ptr_array_add (argv, NULL);
	g_subprocess_launcher_set_stderr_file_path (l, d->log);
	d->proc = g_subprocess_launcher_spawnv (l, (const char * const *) argv->pdata, &error);
	g_assert_no_error (error);
}

static char *
daemon_log (Daemon *d)
{
	char *text = NULL;

	g_file_get_contents (d->log, &text, NULL, NULL);
	return text ? text : g_strdup ("");
}

typedef struct {
	Daemon     *d;
	const char *needle;
} LogWait;

static gboolean
log_has (gpointer data)
{
	LogWait *w = data;
	g_autofree char *text = daemon_log (w->d);

	return strstr (text, w->needle) != NULL;
}

static void
daemon_expect_log (Daemon *d, const char *needle)
{
	LogWait w = { d, needle };

	if (!tbg_test_wait_until (log_has, &w, WAIT_MS)) {
		g_autofree char *text = daemon_log (d);

		g_error ("tbgwd log lacks “%s”:\n%s", needle, text);
	}
}

static gboolean
exited (gpointer data)
{
	GSubprocess *p = data;

	return g_subprocess_get_identifier (p) == NULL;
}

/* Waits for exit and returns the exit status (-1 if killed by a signal). */
static int
daemon_wait (Daemon *d, guint timeout_ms)
{
	g_autoptr (GError) error = NULL;

	if (!tbg_test_wait_until (exited, d->proc, timeout_ms)) {
		g_autofree char *log = NULL;

		g_subprocess_force_exit (d->proc);
		g_subprocess_wait (d->proc, NULL, NULL);
		log = daemon_log (d);
		g_error ("tbgwd did not exit within %u ms; its log:\n%s", timeout_ms, log);
	}
	g_subprocess_wait (d->proc, NULL, &error);
	g_assert_no_error (error);
	return g_subprocess_get_if_exited (d->proc) ? g_subprocess_get_exit_status (d->proc) : -1;
}

static pid_t
daemon_pid (Daemon *d)
{
	const char *id = g_subprocess_get_identifier (d->proc);

	g_assert_nonnull (id);
	return (pid_t) g_ascii_strtoll (id, NULL, 10);
}

static void
daemon_clear (Daemon *d)
{
	if (d->proc != NULL && g_subprocess_get_identifier (d->proc) != NULL) {
		g_subprocess_force_exit (d->proc);
		g_subprocess_wait (d->proc, NULL, NULL);
	}
	g_clear_object (&d->proc);
	g_unlink (d->config);
	g_unlink (d->log);
	for (const char *f = "spool.db"; f != NULL; f = NULL) {
		g_autofree char *db = g_build_filename (d->dir, f, NULL);
		g_autofree char *wal = g_strconcat (db, "-wal", NULL);
		g_autofree char *shm = g_strconcat (db, "-shm", NULL);

		g_unlink (db);
		g_unlink (wal);
		g_unlink (shm);
	}
	g_rmdir (d->dir);
	g_free (d->config);
	g_free (d->log);
	g_free (d->dir);
}

static void
run_simple (const char * const *argv, int *status, char **out, char **err)
{
	g_autoptr (GError) error = NULL;

	g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL,
	                             out, err, status, &error));
	g_assert_no_error (error);
}

static void
test_version_and_help (void)
{
	g_autofree char *out = NULL, *err = NULL, *out2 = NULL, *err2 = NULL, *out3 = NULL, *err3 = NULL;
	int status;
	const char *v[] = { tbgwd_path (), "--version", NULL };
	const char *h[] = { tbgwd_path (), "--help", NULL };
	const char *b[] = { tbgwd_path (), "--bogus", NULL };

	run_simple (v, &status, &out, &err);
	g_assert_true (g_spawn_check_wait_status (status, NULL));
	g_assert_cmpstr (out, ==, "tbgwd " PACKAGE_VERSION "\n");
	run_simple (h, &status, &out2, &err2);
	g_assert_true (g_spawn_check_wait_status (status, NULL));
	g_assert_nonnull (strstr (out2, "--config"));
	g_assert_nonnull (strstr (out2, "--session"));
	g_assert_nonnull (strstr (out2, "--verbose"));
	g_assert_nonnull (strstr (out2, "SIGHUP"));
	run_simple (b, &status, &out3, &err3);
	g_assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 2);
	g_assert_nonnull (strstr (err3, "--bogus"));
}

static void
test_config_errors (void)
{
	static const struct {
		const char *text;
		const char *needle;
	} cases[] = {
		{ "[server]\nport=abc\n", "tbgw.conf:2: [server] port: “abc” is not a whole number" },
		{ "[server]\nhost=x\n\n[gateway]\nrpc-timout-ms=3\n", "tbgw.conf:5: [gateway] rpc-timout-ms: unknown key" },
		{ "[mqtt]\n", "tbgw.conf:1: [mqtt]: unknown group" },
		{ "[storage]\npath=memory\n[server]\ntls=true\nca-file=/nonexistent/ca.pem\n", "/nonexistent/ca.pem" },
	};

	for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
		Daemon d = { 0 };
		g_autofree char *log = NULL;

		daemon_init (&d, cases[i].text);
		daemon_spawn (&d, NULL);
		g_assert_cmpint (daemon_wait (&d, WAIT_MS), ==, 1);
		log = daemon_log (&d);
		if (strstr (log, cases[i].needle) == NULL)
			g_error ("case %u: stderr “%s” lacks “%s”", i, log, cases[i].needle);
		daemon_clear (&d);
	}
}

static void
test_missing_config (void)
{
	g_autofree char *out = NULL, *err = NULL;
	int status;
	const char *argv[] = { tbgwd_path (), "--config", "/nonexistent/tbgw.conf", NULL };

	run_simple (argv, &status, &out, &err);
	g_assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 1);
	g_assert_nonnull (strstr (err, "/nonexistent/tbgw.conf"));
}

static char *
config_for (Daemon *d, TbgTestBroker *b, const char *token_file, const char *extra)
{
	return g_strdup_printf ("[storage]\npath=%s\n[server]\nhost=127.0.0.1\nport=%u\n"
	                        "access-token-file=%s\n%s",
	                        d->dir, tbg_test_broker_port (b), token_file, extra ? extra : "");
}

static void
test_runs_against_broker (void)
{
	TbgTestBroker *b = tbg_test_broker_start ();
	TbgTestPeer *peer = tbg_test_peer_new (tbg_test_broker_port (b));
	Daemon d = { 0 };
	g_autofree char *token = NULL, *cfg = NULL, *cfg2 = NULL, *blog = NULL;
	g_autoptr (TbgTestMessage) stats = NULL;
	json_t *root, *values;

	daemon_init (&d, "");
	token = g_build_filename (d.dir, "token", NULL);
	g_file_set_contents (token, "GW_TOKEN\n", -1, NULL);
	g_chmod (token, 0600);
	cfg = config_for (&d, b, token, "[gateway]\nstats-interval-s=1\n");
	daemon_write_config (&d, cfg);
	daemon_spawn (&d, (const char *[]) { "--verbose", NULL });

	tbg_test_peer_expect_json (peer, "v1/devices/me/attributes",
	                           "{\"tbgwVersion\":\"" PACKAGE_VERSION "\"}", WAIT_MS);
	tbg_test_peer_publish (peer, "v1/devices/me/rpc/request/1", "{\"method\":\"ping\",\"params\":{}}");
	tbg_test_peer_expect_json (peer, "v1/devices/me/rpc/response/1",
	                           "{\"pong\":true,\"version\":\"" PACKAGE_VERSION "\"}", WAIT_MS);
	/* Statistics as the gateway's own telemetry. */
	stats = tbg_test_peer_expect (peer, "v1/devices/me/telemetry", WAIT_MS);
	root = json_loads (stats->payload, 0, NULL);
	g_assert_nonnull (root);
	g_assert_true (json_is_integer (json_object_get (root, "ts")));
	values = json_object_get (root, "values");
	g_assert_true (json_is_integer (json_object_get (values, "uptimeS")));
	g_assert_true (json_is_integer (json_object_get (values, "messagesSent")));
	g_assert_true (json_is_integer (json_object_get (values, "messagesQueued")));
	g_assert_true (json_is_integer (json_object_get (values, "messagesDropped")));
	g_assert_true (json_is_integer (json_object_get (values, "devicesConnected")));
	json_decref (root);
	blog = tbg_test_broker_read_log (b);
	g_assert_nonnull (strstr (blog, "u'GW_TOKEN'"));

	/* SIGHUP with a broken file: keeps running with the old one. */
	daemon_write_config (&d, "[server]\nport=0\n");
	kill (daemon_pid (&d), SIGHUP);
	daemon_expect_log (&d, "Configuration not reloaded");
	tbg_test_peer_publish (peer, "v1/devices/me/rpc/request/2", "{\"method\":\"ping\"}");
	tbg_test_message_free (tbg_test_peer_expect (peer, "v1/devices/me/rpc/response/2", WAIT_MS));

	/* SIGHUP with a good file: applied. */
	cfg2 = config_for (&d, b, token, "[gateway]\nstats-interval-s=0\n");
	daemon_write_config (&d, cfg2);
	kill (daemon_pid (&d), SIGHUP);
	daemon_expect_log (&d, "Configuration reloaded");
	tbg_test_peer_publish (peer, "v1/devices/me/rpc/request/3", "{\"method\":\"ping\"}");
	tbg_test_message_free (tbg_test_peer_expect (peer, "v1/devices/me/rpc/response/3", WAIT_MS));

	g_subprocess_send_signal (d.proc, SIGTERM);
	g_assert_cmpint (daemon_wait (&d, WAIT_MS), ==, 0);
	daemon_expect_log (&d, "tbgwd stopped");
	g_unlink (token);
	daemon_clear (&d);
	tbg_test_peer_free (peer);
	tbg_test_broker_free (b);
}

static void
test_tls_never_plaintext (void)
{
	TbgTestBroker *b = tbg_test_broker_start ();
	Daemon d = { 0 };
	g_autofree char *token = NULL, *cfg = NULL, *blog = NULL;
	const char *ca = "/etc/ssl/certs/ca-certificates.crt";

	if (!g_file_test (ca, G_FILE_TEST_EXISTS)) {
		g_test_skip ("no system CA bundle");
		tbg_test_broker_free (b);
		return;
	}
	daemon_init (&d, "");
	token = g_build_filename (d.dir, "token", NULL);
	g_file_set_contents (token, "TLS_TOKEN\n", -1, NULL);
	g_chmod (token, 0600);
	cfg = config_for (&d, b, token, NULL);
	/* The broker only speaks plaintext: a TLS client must never log in. */
	{ char *t = g_strconcat (cfg, "tls=true\nca-file=", ca, "\n", NULL); g_free (cfg); cfg = t; }
	daemon_write_config (&d, cfg);
	daemon_spawn (&d, NULL);
	/* the link's line, not "No D-Bus system bus (Could not connect: ...)" */
	daemon_expect_log (&d, "Could not connect to mqtts://");
	tbg_test_run_main_loop_for (500);
	blog = tbg_test_broker_read_log (b);
	g_assert_null (strstr (blog, "TLS_TOKEN"));
	g_subprocess_send_signal (d.proc, SIGTERM);
	g_assert_cmpint (daemon_wait (&d, WAIT_MS), ==, 0);
	g_unlink (token);
	daemon_clear (&d);
	tbg_test_broker_free (b);
}

int
main (int argc, char **argv)
{
	g_test_init (&argc, &argv, NULL);
	g_test_add_func ("/tbgwd/version-and-help", test_version_and_help);
	g_test_add_func ("/tbgwd/config-errors", test_config_errors);
	g_test_add_func ("/tbgwd/missing-config", test_missing_config);
	g_test_add_func ("/tbgwd/runs-against-broker", test_runs_against_broker);
	g_test_add_func ("/tbgwd/tls-never-plaintext", test_tls_never_plaintext);
	return g_test_run ();
}
