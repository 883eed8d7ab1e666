/* SPDX-License-Identifier: Apache-2.0 */
/* tbgwctl end to end: the real client against the real tbgwd on a private
 * bus (GTestDBus, tbgwd --session), a real mosquitto and a peer playing
 * ThingsBoard. Each test checks the exit status, what is printed, and what
 * reached the broker (or that nothing did). */
#include "build-config.h"
#include "test-broker.h"
#include "test-peer.h"
#include "test-util.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <pty.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define WAIT_MS 20000
/* how long a refused call has to not reach the broker */
#define QUIET_MS 300
#define NAME "org.tbgw.Gateway1"
#define MANAGER "/org/tbgw/Gateway1"
#define IFACE_M "org.tbgw.Gateway1.Manager"

typedef struct {
	GTestDBus       *bus;
	GDBusConnection *conn;
	TbgTestBroker   *broker;
	TbgTestPeer     *peer;
	GSubprocess     *daemon;
	char            *conf;
} Fixture;

static GVariant *
call (Fixture *f, const char *path, const char *iface, const char *method, GVariant *args,
      GError **error)
{
	return tbg_test_tbgwd_call (f->conn, path, iface, method, args, error);
}

static void
daemon_start (Fixture *f)
{
	g_clear_object (&f->daemon);
	f->daemon = tbg_test_tbgwd_start (f->conn, f->peer, f->conf, NULL);
}

static gboolean
name_free (gpointer data)
{
	return !tbg_test_tbgwd_name_owned (((Fixture *) data)->conn);
}

static void
daemon_stop (Fixture *f)
{
	tbg_test_stop_daemon (f->daemon);
	g_assert_true (tbg_test_wait_until (name_free, f, WAIT_MS));
}

static void
setup (Fixture *f, gconstpointer data)
{
	g_autofree char *text = NULL;

	/* A test that fails while a child holds a pipe must not hang CI. */
	alarm (180);
	f->bus = tbg_test_bus_up (&f->conn);
	f->broker = tbg_test_broker_start ();
	f->peer = tbg_test_peer_new (tbg_test_broker_port (f->broker));
	f->conf = g_strdup_printf ("%s/tbgw-ctl-test-%d.conf", g_get_tmp_dir (), (int) getpid ());
	text = g_strdup_printf ("[storage]\npath=memory\n[server]\nport=%u\n[gateway]\n"
	                        "stats-interval-s=0\nrpc-timeout-ms=500\nattribute-request-timeout-ms=500\n",
	                        tbg_test_broker_port (f->broker));
	g_file_set_contents (f->conf, text, -1, NULL);
	daemon_start (f);
}

static void
teardown (Fixture *f, gconstpointer data)
{
	tbg_test_stop_daemon (f->daemon);
	g_object_unref (f->daemon);
	tbg_test_bus_down (f->bus, f->conn);
	tbg_test_peer_free (f->peer);
	tbg_test_broker_free (f->broker);
	g_unlink (f->conf);
	g_free (f->conf);
}

static char *
create (Fixture *f, const char *name, const char *type)
{
	g_autoptr (GError) error = NULL;
	g_autoptr (GVariant) r = call (f, MANAGER, IFACE_M, "CreateDevice",
	                               g_variant_new ("(ss)", name, type), &error);
	char *path;

	g_assert_no_error (error);
	g_variant_get (r, "(o)", &path);
	tbg_test_message_free (tbg_test_peer_expect (f->peer, "v1/gateway/connect", WAIT_MS));
	return path;
}

static void
send_rpc (Fixture *f, int id)
{
	g_autofree char *m = g_strdup_printf ("{\"device\":\"Thermo 1\",\"data\":{\"id\":%d,"
	                                      "\"method\":\"setPoint\",\"params\":{\"t\":55}}}", id);

	tbg_test_peer_publish (f->peer, "v1/gateway/rpc", m);
}

static const char *
ctl_path (void)
{
	return g_getenv ("TBGWCTL") ? g_getenv ("TBGWCTL") : "cli/tbgwctl";
}

/* ---- running tbgwctl ----------------------------------------------------------------- */

typedef struct {
	gboolean done;
	int      status;
	char    *out;
	gsize    out_len;   /* --null output holds NULs */
	char    *err;
} CtlRun;

static void
ctl_done (GObject *obj, GAsyncResult *res, gpointer data)
{
	CtlRun *r = data;
	g_autoptr (GError) error = NULL;
	g_autoptr (GBytes) out = NULL, err = NULL;

	g_subprocess_communicate_finish (G_SUBPROCESS (obj), res, &out, &err, &error);
	g_assert_no_error (error);
	g_assert_true (g_subprocess_get_if_exited (G_SUBPROCESS (obj)));
	r->status = g_subprocess_get_exit_status (G_SUBPROCESS (obj));
	r->out_len = g_bytes_get_size (out);
	/* not g_strndup(): --null output goes on after its first NUL */
	r->out = g_malloc0 (r->out_len + 1);
	if (r->out_len > 0)
		memcpy (r->out, g_bytes_get_data (out, NULL), r->out_len);
	r->err = g_bytes_get_size (err) ? g_strndup (g_bytes_get_data (err, NULL), g_bytes_get_size (err))
	                                : g_strdup ("");
	r->done = TRUE;
}

static gboolean
ctl_finished (gpointer data)
{
	return ((CtlRun *) data)->done;
}

static GSubprocess *
ctl_spawn (const char * const *args, GError **error)
{
	g_autoptr (GPtrArray) argv = g_ptr_array_new ();

	g_ptr_array_add (argv, (gpointer) ctl_path ());
	g_ptr_array_add (argv, (gpointer) "--session");
	for (guint i = 0; args[i] != NULL; i++)
		g_ptr_array_add (argv, (gpointer) args[i]);
	g_ptr_array_add (argv, NULL);
	return g_subprocess_newv ((const char * const *) argv->pdata,
	                          G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, error);
}

/* Starts tbgwctl (on the test bus) without waiting for it. */
static void
ctl_start (CtlRun *r, const char * const *args)
{
	g_autoptr (GError) error = NULL;
	g_autoptr (GSubprocess) p = ctl_spawn (args, &error);

	g_assert_no_error (error);
	memset (r, 0, sizeof *r);
	g_subprocess_communicate_async (p, NULL, NULL, ctl_done, r);
}

static void
ctl_wait (CtlRun *r)
{
	g_assert_true (tbg_test_wait_until (ctl_finished, r, 3 * WAIT_MS));
}

static void
ctl_assert_ok (CtlRun *r)
{
	if (r->status != 0)
		g_error ("tbgwctl exited with %d: %s", r->status, r->err);
	g_assert_cmpstr (r->err, ==, "");
}

static void
ctl_clear (CtlRun *r)
{
	g_free (r->out);
	g_free (r->err);
}

#define CTL(r, ...) G_STMT_START { \
	ctl_start ((r), (const char * const[]) { __VA_ARGS__, NULL }); ctl_wait (r); } G_STMT_END

/* A refused command line: exit 2, one line saying what is wrong, then
 * the command's usage. */
static void
ctl_assert_usage (CtlRun *r, const char *cmd, const char *message)
{
	g_autofree char *first = g_strdup_printf ("tbgwctl: %s: ", cmd);
	g_autofree char *usage = g_strdup_printf ("\nUsage: tbgwctl %s", cmd);

	g_assert_cmpint (r->status, ==, 2);
	g_assert_cmpstr (r->out, ==, "");
	g_assert_true (g_str_has_prefix (r->err, first));
	g_assert_nonnull (strstr (r->err, message));
	/* the message is one line, the usage line follows */
	g_assert_true (strchr (r->err, '\n') == strstr (r->err, usage));
}

/* ---- the commands ---------------------------------------------------------------------- */

static void
test_ctl (Fixture *f, gconstpointer data)
{
	CtlRun r;
	json_t *j;

	CTL (&r, "create", "Thermo 1", "--type", "thermometer");
	ctl_assert_ok (&r);
	g_assert_cmpstr (r.out, ==, "Created “Thermo 1” at /org/tbgw/Gateway1/Device/0\n");
	ctl_clear (&r);
	tbg_test_peer_expect_json (f->peer, "v1/gateway/connect",
	                           "{\"device\":\"Thermo 1\",\"type\":\"thermometer\"}", WAIT_MS);

	/* values are JSON when they are JSON, strings otherwise */
	CTL (&r, "telemetry", "Thermo 1", "temperature=21.5", "humidity=40", "on=true", "label=hello",
	     "serial=\"0042\"", "list=[1,2]", "--ts", "1700000000000");
	ctl_assert_ok (&r);
	g_assert_cmpstr (r.out, ==, "");
	ctl_clear (&r);
	tbg_test_peer_expect_json (f->peer, "v1/gateway/telemetry",
		"{\"Thermo 1\":[{\"ts\":1700000000000,\"values\":{\"temperature\":21.5,\"humidity\":40,"
		"\"on\":true,\"label\":\"hello\",\"serial\":\"0042\",\"list\":[1,2]}}]}", WAIT_MS);
	CTL (&r, "telemetry", "/org/tbgw/Gateway1/Device/0", "--json", "{\"t\":{\"a\":[true,\"x\"]}}",
	     "--ts", "1700000000001");
	ctl_assert_ok (&r);
	ctl_clear (&r);
	tbg_test_peer_expect_json (f->peer, "v1/gateway/telemetry",
		"{\"Thermo 1\":[{\"ts\":1700000000001,\"values\":{\"t\":{\"a\":[true,\"x\"]}}}]}", WAIT_MS);
	CTL (&r, "attributes", "Thermo 1", "fw=1.0.3");
	ctl_assert_ok (&r);
	ctl_clear (&r);
	tbg_test_peer_expect_json (f->peer, "v1/gateway/attributes",
	                           "{\"Thermo 1\":{\"fw\":\"1.0.3\"}}", WAIT_MS);
	CTL (&r, "claim", "Thermo 1", "--secret", "abc", "--duration", "10m");
	ctl_assert_ok (&r);
	ctl_clear (&r);
	tbg_test_peer_expect_json (f->peer, "v1/gateway/claim",
	                           "{\"Thermo 1\":{\"secretKey\":\"abc\",\"durationMs\":600000}}", WAIT_MS);

	/* reading */
	CTL (&r, "status");
	ctl_assert_ok (&r);
	g_assert_nonnull (strstr (r.out, "Version:      " PACKAGE_VERSION "\n"));
	g_assert_nonnull (strstr (r.out, "Connected:    yes\n"));
	g_assert_nonnull (strstr (r.out, "Devices:      1\n"));
	ctl_clear (&r);
	CTL (&r, "--json", "devices");
	ctl_assert_ok (&r);
	j = json_loads (r.out, 0, NULL);
	g_assert_true (json_is_array (j));
	g_assert_cmpuint (json_array_size (j), ==, 1);
	g_assert_cmpstr (json_string_value (json_object_get (json_array_get (j, 0), "name")), ==, "Thermo 1");
	g_assert_cmpstr (json_string_value (json_object_get (json_array_get (j, 0), "source")), ==, "dbus");
	g_assert_true (json_is_true (json_object_get (json_array_get (j, 0), "connected")));
	g_assert_cmpstr (json_string_value (json_object_get (json_object_get (json_array_get (j, 0), "attributes"), "fw")), ==, "1.0.3");
	json_decref (j);
	ctl_clear (&r);
	/* --json after the command's name works as well */
	CTL (&r, "show", "Thermo 1", "--json");
	ctl_assert_ok (&r);
	j = json_loads (r.out, 0, NULL);
	g_assert_cmpstr (json_string_value (json_object_get (j, "type")), ==, "thermometer");
	json_decref (j);
	ctl_clear (&r);
	CTL (&r, "show", "Thermo 1");
	ctl_assert_ok (&r);
	g_assert_nonnull (strstr (r.out, "Device:     Thermo 1\n"));
	g_assert_nonnull (strstr (r.out, "Type:       thermometer\n"));
	g_assert_nonnull (strstr (r.out, "Attributes: {\"fw\":\"1.0.3\"}\n"));
	ctl_clear (&r);

	/* request-attributes waits for ThingsBoard's answer */
	ctl_start (&r, (const char * const[]) { "request-attributes", "Thermo 1", "--shared", "mode", NULL });
	{
		g_autoptr (TbgTestMessage) req = tbg_test_peer_expect (f->peer, "v1/gateway/attributes/request", WAIT_MS);
		json_t *rj = json_loads (req->payload, 0, NULL);
		g_autofree char *answer = g_strdup_printf (
			"{\"id\":%" JSON_INTEGER_FORMAT ",\"device\":\"Thermo 1\",\"value\":\"auto\"}",
			json_integer_value (json_object_get (rj, "id")));

		json_decref (rj);
		tbg_test_peer_publish (f->peer, "v1/gateway/attributes/response", answer);
	}
	ctl_wait (&r);
	ctl_assert_ok (&r);
	g_assert_cmpstr (r.out, ==, "client: {}\nshared: {\"mode\":\"auto\"}\n");
	ctl_clear (&r);

	/* failures: what went wrong, and the exit code says which kind */
	CTL (&r, "telemetry", "Nope", "a=1");
	g_assert_cmpint (r.status, ==, 1);
	g_assert_cmpstr (r.err, ==, "tbgwctl: no device “Nope” (“tbgwctl devices” lists them)\n");
	ctl_clear (&r);
	CTL (&r, "telemetry", "Thermo 1");
	ctl_assert_usage (&r, "telemetry", "nothing to send");
	ctl_clear (&r);
	CTL (&r, "telemetry", "Thermo 1", "novalue");
	ctl_assert_usage (&r, "telemetry", "“novalue” is not KEY=VALUE");
	ctl_clear (&r);
	CTL (&r, "telemetry", "Thermo 1", "a=null");
	ctl_assert_usage (&r, "telemetry", "null cannot travel over D-Bus");
	ctl_clear (&r);
	CTL (&r, "claim", "Thermo 1", "--duration", "soon");
	ctl_assert_usage (&r, "claim", "“soon” is not a duration");
	ctl_clear (&r);
	CTL (&r, "create", "Thermo 1");
	g_assert_cmpint (r.status, ==, 1);
	g_assert_nonnull (strstr (r.err, "tbgwctl: create: "));
	g_assert_null (strstr (r.err, "GDBus.Error"));
	ctl_clear (&r);
	CTL (&r, "disconnect", "Thermo 1");
	ctl_assert_ok (&r);
	ctl_clear (&r);
	tbg_test_message_free (tbg_test_peer_expect (f->peer, "v1/gateway/disconnect", WAIT_MS));
	CTL (&r, "telemetry", "Thermo 1", "a=1");
	g_assert_cmpint (r.status, ==, 1);
	g_assert_cmpstr (r.err, ==, "tbgwctl: telemetry: device “Thermo 1” is not connected\n");
	ctl_clear (&r);
	CTL (&r, "remove", "Thermo 1");
	ctl_assert_ok (&r);
	ctl_clear (&r);
	CTL (&r, "devices");
	g_assert_cmpstr (r.out, ==, "No devices.\n");
	ctl_clear (&r);
	/* how tbgwd got its credentials: this one has neither a token nor a
	 * provisioning key */
	CTL (&r, "status");
	ctl_assert_ok (&r);
	g_assert_nonnull (strstr (r.out, "\nCredentials:  none\n"));
	ctl_clear (&r);
	CTL (&r, "--json", "status");
	ctl_assert_ok (&r);
	g_assert_nonnull (strstr (r.out, "\"credentialsSource\":\"none\""));
	ctl_clear (&r);
}

static void
test_ctl_unreachable (Fixture *f, gconstpointer data)
{
	CtlRun r;

	/* tbgwd stops: tbgwctl says so and exits 3 */
	daemon_stop (f);
	CTL (&r, "status");
	g_assert_cmpint (r.status, ==, 3);
	g_assert_nonnull (strstr (r.err, "tbgwd is not running on the session bus"));
	ctl_clear (&r);
}

/* ---- help and usage --------------------------------------------------------------------- */

static void
test_ctl_help (Fixture *f, gconstpointer data)
{
	static const char * const commands[] = {
		"status", "devices", "show", "create", "remove", "connect", "disconnect", "telemetry",
		"attributes", "request-attributes", "claim", "reconnect", "reload", "monitor",
		"rpc-handler", "help",
	};
	CtlRun r, r2;

	CTL (&r, "help");
	ctl_assert_ok (&r);
	for (guint i = 0; i < G_N_ELEMENTS (commands); i++) {
		g_autofree char *line = g_strdup_printf ("\n  %s ", commands[i]);

		g_assert_nonnull (strstr (r.out, line));
	}
	CTL (&r2, "--help");
	ctl_assert_ok (&r2);
	g_assert_cmpstr (r.out, ==, r2.out);
	ctl_clear (&r);
	ctl_clear (&r2);

	/* each command's own help: its usage and its options only */
	for (guint i = 0; i < G_N_ELEMENTS (commands); i++) {
		g_autofree char *usage = g_strdup_printf ("tbgwctl [OPTION…] %s", commands[i]);

		CTL (&r, "help", commands[i]);
		ctl_assert_ok (&r);
		g_assert_nonnull (strstr (r.out, usage));
		CTL (&r2, commands[i], "--help");
		ctl_assert_ok (&r2);
		g_assert_cmpstr (r.out, ==, r2.out);
		ctl_clear (&r2);
		CTL (&r2, commands[i], "-h");
		ctl_assert_ok (&r2);
		g_assert_cmpstr (r.out, ==, r2.out);
		ctl_clear (&r2);
		ctl_clear (&r);
	}
	CTL (&r, "create", "--help");
	g_assert_nonnull (strstr (r.out, "--type=TYPE"));
	g_assert_null (strstr (r.out, "--secret"));
	ctl_clear (&r);
	CTL (&r, "claim", "-h");
	g_assert_nonnull (strstr (r.out, "--secret=SECRET"));
	g_assert_nonnull (strstr (r.out, "--duration=TIME"));
	g_assert_null (strstr (r.out, "--type"));
	ctl_clear (&r);
	CTL (&r, "help", "frobnicate");
	ctl_assert_usage (&r, "help", "no command “frobnicate”");
	ctl_clear (&r);
}

static void
test_ctl_usage (Fixture *f, gconstpointer data)
{
	CtlRun r;
	g_autofree char *path = create (f, "Thermo 1", "");

	CTL (&r, "status", "extra");
	ctl_assert_usage (&r, "status", "takes no arguments (got “extra”)");
	ctl_clear (&r);
	CTL (&r, "reconnect", "now");
	ctl_assert_usage (&r, "reconnect", "takes no arguments");
	ctl_clear (&r);
	CTL (&r, "monitor", "x");
	ctl_assert_usage (&r, "monitor", "takes no arguments");
	ctl_clear (&r);
	CTL (&r, "show");
	ctl_assert_usage (&r, "show", "missing DEVICE");
	ctl_clear (&r);
	CTL (&r, "show", "Thermo", "1");
	ctl_assert_usage (&r, "show", "unexpected argument “1”");
	ctl_clear (&r);
	CTL (&r, "create");
	ctl_assert_usage (&r, "create", "missing NAME");
	ctl_clear (&r);
	CTL (&r, "create", "Boiler", "room");
	ctl_assert_usage (&r, "create", "unexpected argument “room”");
	ctl_clear (&r);
	CTL (&r, "create", "Boiler", "--tpye", "x");
	ctl_assert_usage (&r, "create", "--tpye");
	ctl_clear (&r);
	CTL (&r, "create", "Boiler", "--type");
	ctl_assert_usage (&r, "create", "--type");
	ctl_clear (&r);
	CTL (&r, "request-attributes", "Thermo 1");
	ctl_assert_usage (&r, "request-attributes", "--client KEY or --shared KEY");
	ctl_clear (&r);
	CTL (&r, "request-attributes", "Thermo 1", "mode");
	ctl_assert_usage (&r, "request-attributes", "unexpected argument “mode”");
	ctl_clear (&r);
	CTL (&r, "rpc-handler", "Thermo 1", "--exec");
	ctl_assert_usage (&r, "rpc-handler", "--exec needs a COMMAND");
	ctl_clear (&r);
	CTL (&r, "devices", "-0");
	ctl_assert_usage (&r, "devices", "--null goes with --names");
	ctl_clear (&r);
	/* none of them reached ThingsBoard */
	tbg_test_peer_assert_quiet (f->peer, NULL, QUIET_MS);

	CTL (&r, "frobnicate");
	g_assert_cmpint (r.status, ==, 2);
	g_assert_cmpstr (r.err, ==, "tbgwctl: unknown command “frobnicate”\nTry “tbgwctl help”.\n");
	ctl_clear (&r);
	CTL (&r, "--frob", "status");
	g_assert_cmpint (r.status, ==, 2);
	g_assert_cmpstr (r.err, ==, "tbgwctl: unknown option “--frob”\nTry “tbgwctl help”.\n");
	ctl_clear (&r);
}

/* Numbers JSON cannot carry are refused, naming the key, and not sent as
 * strings; the largest that fit still travel as numbers. */
static void
test_ctl_numbers (Fixture *f, gconstpointer data)
{
	CtlRun r;
	g_autofree char *path = create (f, "Thermo 1", "");

	CTL (&r, "telemetry", "Thermo 1", "ok=1", "big=12345678901234567890");
	ctl_assert_usage (&r, "telemetry", "the value of “big” is a number out of range");
	ctl_clear (&r);
	CTL (&r, "telemetry", "Thermo 1", "f=1e400");
	ctl_assert_usage (&r, "telemetry", "the value of “f” is a number out of range");
	ctl_clear (&r);
	CTL (&r, "attributes", "Thermo 1", "neg=-99999999999999999999");
	ctl_assert_usage (&r, "attributes", "the value of “neg” is a number out of range");
	ctl_clear (&r);
	CTL (&r, "telemetry", "Thermo 1", "list=[1,1e999]");
	ctl_assert_usage (&r, "telemetry", "the value of “list” is a number out of range");
	ctl_clear (&r);
	CTL (&r, "telemetry", "Thermo 1", "--json", "{\"big\":12345678901234567890}");
	ctl_assert_usage (&r, "telemetry", "--json wants an object");
	ctl_clear (&r);
	tbg_test_peer_assert_quiet (f->peer, NULL, QUIET_MS);

	CTL (&r, "telemetry", "Thermo 1", "max=9223372036854775807", "min=-9223372036854775808",
	     "f=1.5e308", "s=\"12345678901234567890\"", "--ts", "1700000000000");
	ctl_assert_ok (&r);
	ctl_clear (&r);
	tbg_test_peer_expect_json (f->peer, "v1/gateway/telemetry",
		"{\"Thermo 1\":[{\"ts\":1700000000000,\"values\":{\"max\":9223372036854775807,"
		"\"min\":-9223372036854775808,\"f\":1.5e308,\"s\":\"12345678901234567890\"}}]}", WAIT_MS);
}

static void
test_ctl_request_timeout (Fixture *f, gconstpointer data)
{
	CtlRun r;
	g_autofree char *path = create (f, "Thermo 1", "");

	/* the peer never answers, as a plain broker would not */
	CTL (&r, "request-attributes", "Thermo 1", "--shared", "mode");
	g_assert_cmpint (r.status, ==, 1);
	g_assert_cmpstr (r.out, ==, "");
	g_test_message ("%s", r.err);
	g_assert_true (g_str_has_prefix (r.err, "tbgwctl: request-attributes: no attribute response "
	                                 "from the server within 500 ms\n"));
	/* one more line: what was waited for and how an answer looks */
	g_assert_nonnull (strstr (r.err, "\ntbgwctl: request-attributes: waited for ThingsBoard to "
	                          "publish on v1/gateway/attributes/response an answer such as "
	                          "{\"id\":1,\"device\":\"Thermo 1\",\"value\":"));
	g_assert_true (g_str_has_suffix (r.err, "never answers\n"));
	{
		g_auto (GStrv) lines = g_strsplit (r.err, "\n", -1);

		g_assert_cmpuint (g_strv_length (lines), ==, 3);
	}
	ctl_clear (&r);
	tbg_test_message_free (tbg_test_peer_expect (f->peer, "v1/gateway/attributes/request", WAIT_MS));
}

/* ---- devices ---------------------------------------------------------------------------- */

#define LONG_NAME "a-very-long-device-name-beyond-24"
#define WIDE_NAME "Küche ☕ 温度计"

/* Four devices, one named with spaces, one with wide characters, one
 * longer than 24 characters; Thermo 1 has sent data. */
static void
create_four (Fixture *f)
{
	CtlRun r;

	g_free (create (f, "Boiler room", "boiler"));
	g_free (create (f, "Thermo 1", "thermometer"));
	g_free (create (f, WIDE_NAME, ""));
	g_free (create (f, LONG_NAME, ""));
	CTL (&r, "telemetry", "Thermo 1", "t=1");
	ctl_assert_ok (&r);
	ctl_clear (&r);
	tbg_test_message_free (tbg_test_peer_expect (f->peer, "v1/gateway/telemetry", WAIT_MS));
}

/* Terminal cells, counted independently of the client's code. */
static gsize
cells (const char *s, const char *end)
{
	gsize n = 0;

	for (const char *p = s; p < end && *p; p = g_utf8_next_char (p))
		n += g_unichar_iswide (g_utf8_get_char (p)) ? 2 : 1;
	return n;
}

/* Splits a table line at runs of two or more spaces (no cell holds two
 * spaces here) and records the cell each column starts at. */
static GStrv
split_row (const char *line, gsize *starts, guint *n)
{
	g_autoptr (GPtrArray) cols = g_ptr_array_new ();
	const char *p = line;

	*n = 0;
	while (*p) {
		const char *end = strstr (p, "  ");

		if (end == NULL)
			end = p + strlen (p);
		starts[*n] = cells (line, p);
		g_ptr_array_add (cols, g_strndup (p, (gsize) (end - p)));
		(*n)++;
		p = end;
		while (*p == ' ')
			p++;
	}
	g_ptr_array_add (cols, NULL);
	return (GStrv) g_ptr_array_steal (cols, NULL);
}

static void
test_ctl_devices (Fixture *f, gconstpointer data)
{
	static const char * const expected[][4] = {
		/* NAME, TYPE, SOURCE, CONNECTED; LAST SEEN is checked apart */
		{ "NAME", "TYPE", "SOURCE", "CONNECTED" },
		{ "Boiler room", "boiler", "dbus", "yes" },
		{ WIDE_NAME, "default", "dbus", "yes" },
		{ "Thermo 1", "thermometer", "dbus", "yes" },
		{ LONG_NAME, "default", "dbus", "yes" },
	};
	CtlRun r;
	g_auto (GStrv) lines = NULL;
	gsize header_starts[8];
	json_t *j;

	create_four (f);
	/* into a pipe: never cut, columns aligned in cells */
	CTL (&r, "devices");
	ctl_assert_ok (&r);
	g_test_message ("%s", r.out);
	g_assert_null (strstr (r.out, "…"));
	lines = g_strsplit (r.out, "\n", -1);
	g_assert_cmpuint (g_strv_length (lines), ==, 6);
	g_assert_cmpstr (lines[5], ==, "");
	for (guint i = 0; i < 5; i++) {
		gsize starts[8];
		guint n;
		g_auto (GStrv) cols = split_row (lines[i], starts, &n);

		g_assert_cmpuint (n, ==, 5);
		for (guint c = 0; c < 4; c++)
			g_assert_cmpstr (cols[c], ==, expected[i][c]);
		if (i == 0) {
			g_assert_cmpstr (cols[4], ==, "LAST SEEN");
			memcpy (header_starts, starts, sizeof header_starts);
			/* the widest name plus the gap */
			g_assert_cmpuint (header_starts[1], ==, strlen (LONG_NAME) + 2);
		} else {
			for (guint c = 0; c < 5; c++)
				g_assert_cmpuint (starts[c], ==, header_starts[c]);
		}
		/* a virtual device is seen when it is created ("never" is
		 * tests/test-ctl-output.c's) */
		if (i > 0)
			g_assert_true (g_regex_match_simple ("^(just now|[0-9]+ s ago)$", cols[4], 0, 0));
	}
	ctl_clear (&r);

	/* names for scripts and completion */
	CTL (&r, "devices", "--names");
	ctl_assert_ok (&r);
	g_assert_cmpstr (r.out, ==, "Boiler room\n" WIDE_NAME "\nThermo 1\n" LONG_NAME "\n");
	ctl_clear (&r);
	CTL (&r, "devices", "--names", "-0");
	ctl_assert_ok (&r);
	g_assert_cmpuint (r.out_len, ==, sizeof ("Boiler room\0" WIDE_NAME "\0Thermo 1\0" LONG_NAME) );
	g_assert_cmpmem (r.out, r.out_len, "Boiler room\0" WIDE_NAME "\0Thermo 1\0" LONG_NAME "\0", r.out_len);
	ctl_clear (&r);
	CTL (&r, "devices", "--names", "--null");
	ctl_assert_ok (&r);
	g_assert_cmpuint (r.out_len, ==, sizeof ("Boiler room\0" WIDE_NAME "\0Thermo 1\0" LONG_NAME));
	ctl_clear (&r);

	/* --json as before: every field, for scripts */
	CTL (&r, "--json", "devices");
	ctl_assert_ok (&r);
	j = json_loads (r.out, 0, NULL);
	g_assert_cmpuint (json_array_size (j), ==, 4);
	for (guint i = 0; i < 4; i++) {
		json_t *d = json_array_get (j, i);
		const char *keys[] = { "path", "name", "type", "source", "address", "connected", "lastSeen", "attributes" };

		g_assert_cmpuint (json_object_size (d), ==, G_N_ELEMENTS (keys));
		for (guint k = 0; k < G_N_ELEMENTS (keys); k++)
			g_assert_nonnull (json_object_get (d, keys[k]));
	}
	g_assert_cmpstr (json_string_value (json_object_get (json_array_get (j, 0), "name")), ==, "Boiler room");
	g_assert_cmpint (json_integer_value (json_object_get (json_array_get (j, 2), "lastSeen")), >, 0);
	json_decref (j);
	ctl_clear (&r);
}

/* tbgwctl devices on a terminal (a pty) of @columns cells, told by
 * $COLUMNS when @env_columns, else by the terminal's size. */
static char *
devices_on_tty (guint columns, gboolean env_columns)
{
	g_autoptr (GSubprocessLauncher) l = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDERR_PIPE);
	g_autoptr (GSubprocess) p = NULL;
	g_autoptr (GError) error = NULL;
	g_autoptr (GString) out = g_string_new (NULL);
	struct winsize ws = { .ws_row = 24, .ws_col = (unsigned short) (env_columns ? 200 : columns) };
	int master, slave;
	char buf[4096];
	ssize_t n;

	g_assert_cmpint (openpty (&master, &slave, NULL, NULL, &ws), ==, 0);
	if (env_columns) {
		g_autofree char *c = g_strdup_printf ("%u", columns);

		g_subprocess_launcher_setenv (l, "COLUMNS", c, TRUE);
	} else {
		g_subprocess_launcher_unsetenv (l, "COLUMNS");
	}
	g_subprocess_launcher_take_stdout_fd (l, slave);
	p = g_subprocess_launcher_spawn (l, &error, ctl_path (), "--session", "devices", NULL);
	g_assert_no_error (error);
	g_object_unref (g_steal_pointer (&l));   /* closes our copy of the slave */
	/* read until the last writer of the slave is gone (EIO) */
	while ((n = read (master, buf, sizeof buf)) > 0)
		g_string_append_len (out, buf, n);
	close (master);
	g_assert_true (g_subprocess_wait_check (p, NULL, &error));
	g_assert_no_error (error);
	return g_strdup (out->str);
}

static void
assert_fits (const char *tty_out, guint columns)
{
	g_autofree char *text = g_strdup (tty_out);
	g_auto (GStrv) lines = NULL;
	gboolean cut_long = FALSE;

	/* the terminal turns \n into \r\n */
	g_strdelimit (text, "\r", ' ');
	lines = g_strsplit (text, "\n", -1);
	g_assert_cmpuint (g_strv_length (lines), ==, 6);
	for (guint i = 0; i < 5; i++) {
		g_strchomp (lines[i]);
		g_assert_cmpuint (cells (lines[i], lines[i] + strlen (lines[i])), <=, columns);
		g_assert_null (strstr (lines[i], LONG_NAME));
		if (g_str_has_prefix (lines[i], "a-very-") && strstr (lines[i], "…  ") != NULL)
			cut_long = TRUE;
	}
	g_assert_true (g_str_has_prefix (lines[0], "NAME "));
	g_assert_true (g_str_has_prefix (lines[1], "Boiler "));
	g_assert_nonnull (strstr (lines[1], "  boiler  "));
	g_assert_true (cut_long);
}

static void
test_ctl_devices_tty (Fixture *f, gconstpointer data)
{
	g_autofree char *by_env = NULL, *by_size = NULL;

	create_four (f);
	by_env = devices_on_tty (60, TRUE);
	g_test_message ("%s", by_env);
	assert_fits (by_env, 60);
	by_size = devices_on_tty (50, FALSE);
	g_test_message ("%s", by_size);
	assert_fits (by_size, 50);
}

/* ---- monitor ---------------------------------------------------------------------------- */

/* An RFC 3339 UTC time with milliseconds, within a minute of now. */
static void
assert_event_time (json_t *ev)
{
	const char *t = json_string_value (json_object_get (ev, "time"));
	g_autoptr (GDateTime) when = NULL, now = g_date_time_new_now_utc ();

	g_assert_nonnull (t);
	g_assert_true (g_regex_match_simple ("^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z$", t, 0, 0));
	when = g_date_time_new_from_iso8601 (t, NULL);
	g_assert_nonnull (when);
	g_assert_cmpint (ABS (g_date_time_difference (now, when)), <, 60 * G_TIME_SPAN_SECOND);
}

/* The event without its time, for comparison. */
static char *
without_time (const char *line)
{
	json_t *j = json_loads (line, 0, NULL);
	char *text;

	g_assert_nonnull (j);
	assert_event_time (j);
	json_object_del (j, "time");
	text = json_dumps (j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref (j);
	return text;
}

static void
test_ctl_monitor (Fixture *f, gconstpointer data)
{
	g_autoptr (GError) error = NULL;
	g_autoptr (GSubprocess) mon = ctl_spawn ((const char * const[]) { "--json", "monitor", NULL }, &error);
	g_autoptr (GDataInputStream) err = NULL, out = NULL;
	g_autofree char *banner = NULL;
	g_autofree char *path = NULL;
	g_autofree char *rest = NULL;
	g_autoptr (GVariant) r = NULL;
	static const char * const expected[] = {
		"{\"event\":\"added\",\"device\":\"Thermo 1\",\"source\":\"dbus\",\"path\":\"/org/tbgw/Gateway1/Device/0\"}",
		"{\"event\":\"connected\",\"device\":\"Thermo 1\"}",
		"{\"event\":\"rpc\",\"device\":\"Thermo 1\",\"id\":3,\"method\":\"setPoint\",\"params\":{\"t\":55}}",
		"{\"event\":\"shared-attributes\",\"device\":\"Thermo 1\",\"changed\":{\"interval\":10},\"deleted\":[]}",
		"{\"event\":\"disconnected\",\"device\":\"Thermo 1\"}",
		"{\"event\":\"removed\",\"device\":\"Thermo 1\"}",
	};
	guint n = 0;

	g_assert_no_error (error);
	err = g_data_input_stream_new (g_subprocess_get_stderr_pipe (mon));
	out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (mon));
	banner = g_data_input_stream_read_line_utf8 (err, NULL, NULL, &error);
	g_assert_no_error (error);
	g_assert_true (g_str_has_prefix (banner, "Monitoring org.tbgw.Gateway1"));
	/* each event is read as it comes, so a slow machine only waits longer */
#define NEXT_EVENT() G_STMT_START { \
	g_autofree char *line_ = g_data_input_stream_read_line_utf8 (out, NULL, NULL, &error); \
	g_autofree char *bare_ = NULL; \
	g_assert_no_error (error); \
	g_assert_nonnull (line_); \
	bare_ = without_time (line_); \
	tbg_test_assert_json_equal (__FILE__, __LINE__, bare_, expected[n++]); } G_STMT_END
	path = create (f, "Thermo 1", "");
	NEXT_EVENT ();
	NEXT_EVENT ();
	tbg_test_peer_publish (f->peer, "v1/gateway/rpc",
		"{\"device\":\"Thermo 1\",\"data\":{\"id\":3,\"method\":\"setPoint\",\"params\":{\"t\":55}}}");
	NEXT_EVENT ();
	tbg_test_message_free (tbg_test_peer_expect (f->peer, "v1/gateway/rpc", WAIT_MS));
	tbg_test_peer_publish (f->peer, "v1/gateway/attributes",
		"{\"device\":\"Thermo 1\",\"data\":{\"interval\":10}}");
	NEXT_EVENT ();
	r = call (f, MANAGER, IFACE_M, "RemoveDevice", g_variant_new ("(o)", path), &error);
	g_assert_no_error (error);
	NEXT_EVENT ();
	NEXT_EVENT ();
#undef NEXT_EVENT
	g_assert_cmpuint (n, ==, G_N_ELEMENTS (expected));
	/* nothing more, and a clean exit */
	g_subprocess_send_signal (mon, SIGTERM);
	rest = g_data_input_stream_read_upto (out, "", 0, NULL, NULL, &error);
	g_assert_no_error (error);
	/* (NULL: end of stream at once) */
	g_assert_cmpstr (rest ? rest : "", ==, "");
	g_assert_true (g_subprocess_wait (mon, NULL, NULL));
	g_assert_cmpint (g_subprocess_get_exit_status (mon), ==, 0);
}

/* The human form: a local time stamp, then the event. */
static void
test_ctl_monitor_human (Fixture *f, gconstpointer data)
{
	g_autoptr (GError) error = NULL;
	g_autoptr (GSubprocess) mon = ctl_spawn ((const char * const[]) { "monitor", NULL }, &error);
	g_autoptr (GDataInputStream) err = NULL, out = NULL;
	g_autofree char *banner = NULL, *line = NULL, *path = NULL;

	g_assert_no_error (error);
	err = g_data_input_stream_new (g_subprocess_get_stderr_pipe (mon));
	out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (mon));
	banner = g_data_input_stream_read_line_utf8 (err, NULL, NULL, &error);
	g_assert_no_error (error);
	path = create (f, "Thermo 1", "");
	line = g_data_input_stream_read_line_utf8 (out, NULL, NULL, &error);
	g_assert_no_error (error);
	g_test_message ("%s", line);
	g_assert_true (g_regex_match_simple ("^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\.\\d{3} "
	                                     "Thermo 1: added \\(dbus, /org/tbgw/Gateway1/Device/0\\)$",
	                                     line, 0, 0));
	g_subprocess_send_signal (mon, SIGTERM);
	g_assert_true (g_subprocess_wait (mon, NULL, NULL));
	g_assert_cmpint (g_subprocess_get_exit_status (mon), ==, 0);
}

/* The next event on @in; its "event" member in *kind. */
static json_t *
next_event (GDataInputStream *in, const char **kind)
{
	g_autoptr (GError) error = NULL;
	g_autofree char *line = g_data_input_stream_read_line_utf8 (in, NULL, NULL, &error);
	json_t *j;

	g_assert_no_error (error);
	g_assert_nonnull (line);
	g_test_message ("event: %s", line);
	j = json_loads (line, 0, NULL);
	g_assert_nonnull (j);
	assert_event_time (j);
	*kind = json_string_value (json_object_get (j, "event"));
	g_assert_nonnull (*kind);
	return j;
}

/* Reads events up to the first of @kind; counts those of @count_kind on
 * the way (the one of @kind included). */
static guint
events_until (GDataInputStream *in, const char *kind, const char *count_kind)
{
	guint n = 0;

	for (;;) {
		const char *k;
		json_t *j = next_event (in, &k);
		gboolean last = g_str_equal (k, kind);

		if (g_str_equal (k, count_kind))
			n++;
		json_decref (j);
		if (last)
			return n;
	}
}

/* monitor before tbgwd: it waits, says so once, and follows tbgwd across
 * a restart; a stop is one event. */
static void
test_ctl_monitor_waits (Fixture *f, gconstpointer data)
{
	g_autoptr (GError) error = NULL;
	g_autoptr (GSubprocess) mon = NULL;
	g_autoptr (GDataInputStream) out = NULL, err = NULL;
	g_autofree char *line = NULL, *rest = NULL;
	g_autofree char *path = NULL;

	daemon_stop (f);
	mon = ctl_spawn ((const char * const[]) { "--json", "monitor", NULL }, &error);
	g_assert_no_error (error);
	err = g_data_input_stream_new (g_subprocess_get_stderr_pipe (mon));
	out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (mon));
	line = g_data_input_stream_read_line_utf8 (err, NULL, NULL, &error);
	g_assert_no_error (error);
	g_assert_cmpstr (line, ==, "Waiting for org.tbgw.Gateway1 to appear…");

	daemon_start (f);
	g_assert_cmpuint (events_until (out, "started", "started"), ==, 1);
	path = create (f, "Thermo 1", "");
	g_assert_cmpuint (events_until (out, "connected", "added"), ==, 1);

	/* a stop is one "stopped" (tbgwd disconnects its devices first: those
	 * events are its own) */
	daemon_stop (f);
	daemon_start (f);
	g_assert_cmpuint (events_until (out, "started", "stopped"), ==, 1);
	/* a tbgwd that dies takes its objects along: that is still the one
	 * "stopped", not a "removed" for each device */
	g_free (path);
	path = create (f, "Thermo 1", "");
	g_assert_cmpuint (events_until (out, "connected", "added"), ==, 1);
	g_subprocess_force_exit (f->daemon);
	g_assert_true (g_subprocess_wait (f->daemon, NULL, NULL));
	g_assert_true (tbg_test_wait_until (name_free, f, WAIT_MS));
	daemon_start (f);
	{
		guint stopped = 0, removed = 0;

		for (;;) {
			const char *k;
			json_t *j = next_event (out, &k);
			gboolean started = g_str_equal (k, "started");

			stopped += g_str_equal (k, "stopped");
			removed += g_str_equal (k, "removed");
			json_decref (j);
			if (started)
				break;
		}
		g_assert_cmpuint (stopped, ==, 1);
		g_assert_cmpuint (removed, ==, 0);
	}
	/* and it still follows the new tbgwd */
	g_free (path);
	path = create (f, "Thermo 2", "");
	g_assert_cmpuint (events_until (out, "added", "added"), ==, 1);

	g_subprocess_send_signal (mon, SIGTERM);
	rest = g_data_input_stream_read_upto (err, "", 0, NULL, NULL, &error);
	g_assert_no_error (error);
	g_assert_null (strstr (rest ? rest : "", "Waiting"));
	g_assert_true (g_subprocess_wait (mon, NULL, NULL));
	g_assert_cmpint (g_subprocess_get_exit_status (mon), ==, 0);
}

/* ---- rpc-handler ------------------------------------------------------------------------ */

static GSubprocess *
ctl_handler_start (const char * const *args)
{
	g_autoptr (GError) error = NULL;
	GSubprocess *p = ctl_spawn (args, &error);
	g_autoptr (GDataInputStream) err = NULL;
	g_autofree char *banner = NULL;

	g_assert_no_error (error);
	err = g_data_input_stream_new (g_subprocess_get_stderr_pipe (p));
	g_filter_input_stream_set_close_base_stream (G_FILTER_INPUT_STREAM (err), FALSE);
	banner = g_data_input_stream_read_line_utf8 (err, NULL, NULL, &error);
	g_assert_no_error (error);
	g_assert_cmpstr (banner, ==, "Answering RPCs of “Thermo 1”; Ctrl-C stops.");
	return p;
}

static void
ctl_handler_stop (GSubprocess *p)
{
	g_autoptr (GError) error = NULL;

	g_subprocess_send_signal (p, SIGTERM);
	g_subprocess_communicate_utf8 (p, NULL, NULL, NULL, NULL, &error);
	g_assert_no_error (error);
	g_assert_cmpint (g_subprocess_get_exit_status (p), ==, 0);
	g_object_unref (p);
}

static void
test_ctl_rpc_handler (Fixture *f, gconstpointer data)
{
	g_autofree char *path = create (f, "Thermo 1", "");
	GSubprocess *h;

	/* the command gets METHOD and PARAMS; its output is the answer; its
	 * own options are its own (-c is not tbgwctl's) */
	h = ctl_handler_start ((const char * const[]) { "rpc-handler", "Thermo 1", "--exec", "sh", "-c",
		"printf '{\"method\":\"%s\",\"got\":%s}' \"$1\" \"$2\"", "handler", NULL });
	send_rpc (f, 11);
	tbg_test_peer_expect_json (f->peer, "v1/gateway/rpc", "{\"device\":\"Thermo 1\",\"id\":11,"
		"\"data\":{\"method\":\"setPoint\",\"got\":{\"t\":55}}}", WAIT_MS);
	ctl_handler_stop (h);
	/* unregistered on exit */
	send_rpc (f, 12);
	tbg_test_peer_expect_json (f->peer, "v1/gateway/rpc", "{\"device\":\"Thermo 1\",\"id\":12,"
		"\"data\":{\"error\":\"no RPC handler registered\"}}", WAIT_MS);
	/* a failing command: its stderr is the error */
	h = ctl_handler_start ((const char * const[]) { "rpc-handler", "Thermo 1", "--exec", "sh", "-c",
		"echo 'valve stuck' >&2; exit 3", NULL });
	send_rpc (f, 13);
	tbg_test_peer_expect_json (f->peer, "v1/gateway/rpc", "{\"device\":\"Thermo 1\",\"id\":13,"
		"\"data\":{\"error\":\"valve stuck\"}}", WAIT_MS);
	ctl_handler_stop (h);
	/* a fixed answer */
	h = ctl_handler_start ((const char * const[]) { "rpc-handler", "Thermo 1", "--reply", "{\"ok\":true}", NULL });
	send_rpc (f, 14);
	tbg_test_peer_expect_json (f->peer, "v1/gateway/rpc", "{\"device\":\"Thermo 1\",\"id\":14,"
		"\"data\":{\"ok\":true}}", WAIT_MS);
	ctl_handler_stop (h);
}

/* ---- bash completion -------------------------------------------------------------------- */

/* @line as bash splits it into COMP_WORDS: at blanks, except escaped
 * ones; a trailing blank starts an empty word (the one completed). */
static GPtrArray *
comp_words (const char *line)
{
	GPtrArray *words = g_ptr_array_new_with_free_func (g_free);
	GString *w = g_string_new (NULL);

	for (const char *p = line; *p; p++) {
		if (*p == '\\' && p[1] != '\0') {
			g_string_append_c (w, *p++);
			g_string_append_c (w, *p);
		} else if (*p == ' ') {
			g_ptr_array_add (words, g_string_free (w, FALSE));
			w = g_string_new (NULL);
		} else {
			g_string_append_c (w, *p);
		}
	}
	g_ptr_array_add (words, g_string_free (w, FALSE));
	return words;
}

/* Runs the completion function on @line (the cursor at its end) in bash
 * and returns the candidates, sorted, one a line. */
static char *
complete (const char *line)
{
	g_autofree char *dir = g_path_get_dirname (ctl_path ());
	g_autofree char *srcdir = g_strdup (g_getenv ("TBG_TEST_SRCDIR") ? g_getenv ("TBG_TEST_SRCDIR") : "tests");
	g_autofree char *script = g_build_filename (srcdir, "..", "data", "completion", "tbgwctl", NULL);
	g_autofree char *path = g_strdup_printf ("%s:%s", dir, g_getenv ("PATH"));
	g_autoptr (GSubprocessLauncher) l = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE |
	                                                               G_SUBPROCESS_FLAGS_STDERR_PIPE);
	g_autoptr (GPtrArray) argv = g_ptr_array_new ();
	g_autoptr (GPtrArray) words = comp_words (line);
	g_autoptr (GSubprocess) p = NULL;
	g_autoptr (GError) error = NULL;
	char *out = NULL;
	g_autofree char *err = NULL;
	static const char code[] =
		"source /usr/share/bash-completion/bash_completion || exit 9\n"
		"source \"$SCRIPT\" || exit 8\n"
		"COMP_WORDS=(\"$@\"); COMP_CWORD=$(( $# - 1 ))\n"
		"COMP_LINE=$LINE; COMP_POINT=${#COMP_LINE}\n"
		"_tbgwctl tbgwctl \"${COMP_WORDS[COMP_CWORD]}\" \"${COMP_WORDS[COMP_CWORD-1]}\"\n"
		"(( ${#COMPREPLY[@]} )) && printf '%s\\n' \"${COMPREPLY[@]}\" | LC_ALL=C sort\n"
		"exit 0\n";

	g_subprocess_launcher_setenv (l, "PATH", path, TRUE);
	g_subprocess_launcher_setenv (l, "SCRIPT", script, TRUE);
	g_subprocess_launcher_setenv (l, "LINE", line, TRUE);
	g_ptr_array_add (argv, (gpointer) "bash");
	g_ptr_array_add (argv, (gpointer) "--norc");
	g_ptr_array_add (argv, (gpointer) "--noprofile");
	g_ptr_array_add (argv, (gpointer) "-c");
	g_ptr_array_add (argv, (gpointer) code);
	g_ptr_array_add (argv, (gpointer) "bash");   /* $0 */
	for (guint i = 0; i < words->len; i++)
		g_ptr_array_add (argv, words->pdata[i]);
	g_ptr_array_add (argv, NULL);
	p = g_subprocess_launcher_spawnv (l, (const char * const *) argv->pdata, &error);
	g_assert_no_error (error);
	g_subprocess_communicate_utf8 (p, NULL, NULL, &out, &err, &error);
	g_assert_no_error (error);
	if (!g_subprocess_get_successful (p) || *err)
		g_error ("completion of “%s” failed: %s", line, err);
	return out;
}

#define ASSERT_COMPLETES(line, expected) G_STMT_START { \
	g_autofree char *got_ = complete (line); \
	g_assert_cmpstr (got_, ==, expected); } G_STMT_END

static void
test_ctl_completion (Fixture *f, gconstpointer data)
{
	g_autofree char *all = NULL;

	create_four (f);
	ASSERT_COMPLETES ("tbgwctl --session sh", "show\n");
	ASSERT_COMPLETES ("tbgwctl --session re", "reconnect\nreload\nremove\nrequest-attributes\n");
	all = complete ("tbgwctl --session ");
	g_assert_nonnull (strstr (all, "\nrpc-handler\n"));
	g_assert_nonnull (strstr (all, "\nhelp\n"));
	/* device names: whole, quoted for the shell, none of the JSON */
	ASSERT_COMPLETES ("tbgwctl --session show ",
	                  "Boiler\\ room\nK\xc3\xbc" "che\\ ☕\\ 温度计\nThermo\\ 1\n" LONG_NAME "\n");
	ASSERT_COMPLETES ("tbgwctl --session telemetry Bo", "Boiler\\ room\n");
	ASSERT_COMPLETES ("tbgwctl --session telemetry Boiler\\ r", "Boiler\\ room\n");
	ASSERT_COMPLETES ("tbgwctl --session claim Th", "Thermo\\ 1\n");
	/* only one DEVICE: then options or nothing */
	ASSERT_COMPLETES ("tbgwctl --session show Thermo\\ 1 ", "");
	ASSERT_COMPLETES ("tbgwctl --session create ", "");
	/* each command's own options, from tbgwctl itself */
	ASSERT_COMPLETES ("tbgwctl --session create --", "--help\n--json\n--session\n--type\n");
	ASSERT_COMPLETES ("tbgwctl --session claim Thermo\\ 1 --d", "--duration\n");
	ASSERT_COMPLETES ("tbgwctl --session claim Thermo\\ 1 --duration ", "1d\n1h\n30s\n5m\n60s\n");
	ASSERT_COMPLETES ("tbgwctl --session claim Thermo\\ 1 --duration=1", "1d\n1h\n");
	ASSERT_COMPLETES ("tbgwctl --session create --type ", "");
	ASSERT_COMPLETES ("tbgwctl --session create --type=", "");
	/* a value given with = is not the DEVICE */
	ASSERT_COMPLETES ("tbgwctl --session claim --secret=x Bo", "Boiler\\ room\n");
	ASSERT_COMPLETES ("tbgwctl --session claim --secret x Bo", "Boiler\\ room\n");
	ASSERT_COMPLETES ("tbgwctl --session devices --n", "--names\n--null\n");
	ASSERT_COMPLETES ("tbgwctl --session help cl", "claim\n");
	ASSERT_COMPLETES ("tbgwctl --", "--help\n--json\n--session\n--version\n");
}

/* ---- status with CredentialsSource ---------------------------------------------------- */

/* Another part of tbgwd adds the manager's CredentialsSource property;
 * until this tree's tbgwd has it, a stand-in manager on the private bus
 * has it (and nothing else of tbgwd). */
static const char fake_manager_xml[] =
	"<node>"
	" <interface name='org.tbgw.Gateway1.Manager'>"
	"  <property name='Version' type='s' access='read'/>"
	"  <property name='Server' type='s' access='read'/>"
	"  <property name='Connected' type='b' access='read'/>"
	"  <property name='QueuedMessages' type='t' access='read'/>"
	"  <property name='CredentialsSource' type='s' access='read'/>"
	" </interface>"
	" <interface name='org.freedesktop.DBus.ObjectManager'>"
	"  <method name='GetManagedObjects'>"
	"   <arg name='objects' type='a{oa{sa{sv}}}' direction='out'/>"
	"  </method>"
	" </interface>"
	"</node>";

static GVariant *
fake_get_property (GDBusConnection *c, const char *sender, const char *path, const char *iface,
                   const char *prop, GError **error, gpointer data)
{
	if (g_str_equal (prop, "Version"))
		return g_variant_new_string ("9.9");
	if (g_str_equal (prop, "Server"))
		return g_variant_new_string ("tb.example:8883");
	if (g_str_equal (prop, "Connected"))
		return g_variant_new_boolean (TRUE);
	if (g_str_equal (prop, "QueuedMessages"))
		return g_variant_new_uint64 (0);
	return g_variant_new_string ("provisioned");
}

static void
fake_call (GDBusConnection *c, const char *sender, const char *path, const char *iface,
           const char *method, GVariant *params, GDBusMethodInvocation *inv, gpointer data)
{
	g_dbus_method_invocation_return_value (inv, g_variant_new_parsed ("(@a{oa{sa{sv}}} {},)"));
}

static void
fake_name_acquired (GDBusConnection *c, const char *name, gpointer data)
{
	*(gboolean *) data = TRUE;
}

static gboolean
flag_set (gpointer data)
{
	return *(gboolean *) data;
}

static void
test_ctl_status_credentials (Fixture *f, gconstpointer data)
{
	static const GDBusInterfaceVTable props = { NULL, fake_get_property, NULL, { 0 } };
	static const GDBusInterfaceVTable calls = { fake_call, NULL, NULL, { 0 } };
	g_autoptr (GDBusNodeInfo) node = g_dbus_node_info_new_for_xml (fake_manager_xml, NULL);
	g_autoptr (GError) error = NULL;
	gboolean owned = FALSE;
	guint ids[2], name_id;
	CtlRun r;
	json_t *j;

	daemon_stop (f);
	ids[0] = g_dbus_connection_register_object (f->conn, MANAGER, node->interfaces[0], &props,
	                                            NULL, NULL, &error);
	g_assert_no_error (error);
	ids[1] = g_dbus_connection_register_object (f->conn, MANAGER, node->interfaces[1], &calls,
	                                            NULL, NULL, &error);
	g_assert_no_error (error);
	name_id = g_bus_own_name_on_connection (f->conn, NAME, G_BUS_NAME_OWNER_FLAGS_NONE,
	                                        fake_name_acquired, NULL, &owned, NULL);
	g_assert_true (tbg_test_wait_until (flag_set, &owned, WAIT_MS));

	CTL (&r, "status");
	ctl_assert_ok (&r);
	g_assert_cmpstr (r.out, ==, "Version:      9.9\n"
	                            "Server:       tb.example:8883\n"
	                            "Connected:    yes\n"
	                            "Credentials:  provisioned\n"
	                            "Queued:       0 messages\n"
	                            "Devices:      0\n");
	ctl_clear (&r);
	CTL (&r, "--json", "status");
	ctl_assert_ok (&r);
	j = json_loads (r.out, 0, NULL);
	g_assert_cmpstr (json_string_value (json_object_get (j, "credentialsSource")), ==, "provisioned");
	json_decref (j);
	ctl_clear (&r);

	g_bus_unown_name (name_id);
	g_dbus_connection_unregister_object (f->conn, ids[0]);
	g_dbus_connection_unregister_object (f->conn, ids[1]);
}

int
main (int argc, char **argv)
{
	g_test_init (&argc, &argv, NULL);
#define ADD(p, fn) g_test_add ("/tbgwctl/" p, Fixture, NULL, setup, fn, teardown)
	ADD ("commands", test_ctl);
	ADD ("unreachable", test_ctl_unreachable);
	ADD ("status-credentials", test_ctl_status_credentials);
	ADD ("help", test_ctl_help);
	ADD ("usage", test_ctl_usage);
	ADD ("numbers", test_ctl_numbers);
	ADD ("request-timeout", test_ctl_request_timeout);
	ADD ("devices", test_ctl_devices);
	ADD ("devices-tty", test_ctl_devices_tty);
	ADD ("monitor", test_ctl_monitor);
	ADD ("monitor-human", test_ctl_monitor_human);
	ADD ("monitor-waits", test_ctl_monitor_waits);
	ADD ("rpc-handler", test_ctl_rpc_handler);
	ADD ("completion", test_ctl_completion);
#undef ADD
	return g_test_run ();
}
