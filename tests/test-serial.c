/* SPDX-License-Identifier: Apache-2.0 */
/* Integration tests of serial devices: real pseudo-terminals play the
 * sensors, umockdev plays udev (tagged and untagged ttys, add/remove
 * uevents), a real mosquitto and a peer play ThingsBoard. */
#include "build-config.h"
#include "gateway.h"
#include "test-broker.h"
#include "test-peer.h"
#include "test-util.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <glib-unix.h>
#include <pty.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <umockdev.h>
#include <unistd.h>

#define WAIT_MS 20000

extern const TbgSource tbg_source_serial;
static const TbgSource * const sources[] = { &tbg_source_serial, NULL };

typedef struct {
	int   master;
	char *slave;
} Pty;

typedef struct {
	UMockdevTestbed *tb;
	TbgTestBroker   *broker;
	TbgTestPeer     *peer;
	TbgGateway      *gw;
	char            *dir;
} Fixture;

static Pty *
pty_new (void)
{
	Pty *p = g_new0 (Pty, 1);
	char name[128];
	int slave;
	struct termios tio;

	g_assert_cmpint (openpty (&p->master, &slave, name, NULL, NULL), ==, 0);
	/* Raw from the start: no echo of what we play before tbgwd opens it. */
	g_assert_cmpint (tcgetattr (slave, &tio), ==, 0);
	cfmakeraw (&tio);
	g_assert_cmpint (tcsetattr (slave, TCSANOW, &tio), ==, 0);
	close (slave);
	g_unix_set_fd_nonblocking (p->master, TRUE, NULL);
	p->slave = g_strdup (name);
	return p;
}

static void
pty_free (Pty *p)
{
	if (p == NULL)
		return;
	if (p->master >= 0)
		close (p->master);
	g_free (p->slave);
	g_free (p);
}

/* The device prints. */
static void
pty_write (Pty *p, const char *text, gsize len)
{
	gsize done = 0;
	gint64 end = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

	while (done < len) {
		ssize_t n = write (p->master, text + done, len - done);

		if (n > 0) {
			done += n;
			continue;
		}
		g_assert_true (n < 0 && errno == EAGAIN);
		g_assert_cmpint (g_get_monotonic_time (), <, end);
		/* The tty buffer is full: let tbgwd read. */
		g_main_context_iteration (NULL, FALSE);
	}
}

static void
pty_print (Pty *p, const char *line)
{
	pty_write (p, line, strlen (line));
}

/* The next line tbgwd wrote to the device. */
static char *
pty_read_line (Pty *p, guint timeout_ms)
{
	GString *s = g_string_new (NULL);
	gint64 end = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

	while (g_get_monotonic_time () < end) {
		char c;
		ssize_t n = read (p->master, &c, 1);

		if (n == 1) {
			if (c == '\n')
				return g_string_free (s, FALSE);
			g_string_append_c (s, c);
			continue;
		}
		if (!g_main_context_iteration (NULL, FALSE))
			g_usleep (500);
	}
	g_error ("no line from tbgwd within %u ms (got “%s”)", timeout_ms, s->str);
	return NULL;
}

static char *
add_tty (Fixture *f, const char *name, Pty *p, const char *tbgw_name, gboolean tagged)
{
	char *syspath = umockdev_testbed_add_device (f->tb, "tty", name, NULL,
		/* attributes */ NULL,
		/* properties */ "DEVNAME", p->slave,
		"ID_MODEL", "FT232R_USB_UART", "ID_SERIAL_SHORT", tbgw_name ? "X" : "A50285BI",
		tagged ? "TBGW_CANDIDATE" : "TBGW_IGNORED", "1",
		"TBGW_NAME", tbgw_name ? tbgw_name : "",
		"TBGW_TYPE", "Thermometer",
		NULL);

	g_assert_nonnull (syspath);
	umockdev_testbed_uevent (f->tb, syspath, "add");
	return syspath;
}

static void
start_gateway (Fixture *f, const char *extra_config)
{
	g_autoptr (GError) error = NULL;
	g_autofree char *path = g_build_filename (f->dir, "tbgw.conf", NULL);
	/* continues the [gateway] group the helper writes */
	g_autofree char *groups = g_strconcat ("rpc-timeout-ms=400\n", extra_config ? extra_config : "", NULL);
	const char * const prefixes[] = { "serial", NULL };

	f->gw = tbg_test_gateway_new (path, tbg_test_broker_port (f->broker), groups, prefixes, sources, &error);
	g_assert_no_error (error);
	g_assert_true (tbg_test_wait_until (tbg_test_gateway_link_is_up, f->gw, WAIT_MS));
	tbg_test_message_free (tbg_test_peer_expect (f->peer, "v1/devices/me/attributes", WAIT_MS));
}

static void
setup (Fixture *f, gconstpointer data)
{
	g_autoptr (GError) error = NULL;

	f->tb = umockdev_testbed_new ();
	f->dir = g_dir_make_tmp ("tbgw-serial-XXXXXX", &error);
	g_assert_no_error (error);
	f->broker = tbg_test_broker_start ();
	f->peer = tbg_test_peer_new (tbg_test_broker_port (f->broker));
}

static void
teardown (Fixture *f, gconstpointer data)
{
	g_autofree char *conf = g_build_filename (f->dir, "tbgw.conf", NULL);
	g_autofree char *link = g_build_filename (f->dir, "ttyStatic", NULL);

	g_clear_object (&f->gw);
	tbg_test_peer_free (f->peer);
	tbg_test_broker_free (f->broker);
	g_clear_object (&f->tb);
	g_unlink (conf);
	g_unlink (link);
	g_rmdir (f->dir);
	g_free (f->dir);
}

static void
test_plug_data_rpc (Fixture *f, gconstpointer data)
{
	Pty *tagged = pty_new ();
	Pty *untagged = pty_new ();
	g_autofree char *sys1 = NULL, *sys2 = NULL, *line = NULL;

	start_gateway (f, NULL);
	sys1 = add_tty (f, "ttyUSB7", tagged, "Boiler", TRUE);
	sys2 = add_tty (f, "ttyUSB8", untagged, "Ignored", FALSE);
	tbg_test_peer_expect_json (f->peer, "v1/gateway/connect",
	                           "{\"device\":\"Boiler\",\"type\":\"Thermometer\"}", WAIT_MS);
	/* The untagged port is never opened, so never connected. */
	tbg_test_peer_assert_quiet (f->peer, "v1/gateway/connect", 300);
	g_assert_null (tbg_gateway_lookup_device (f->gw, "Ignored"));

	pty_print (tagged, "{\"ts\":1700000000000,\"values\":{\"temp\":21.5,\"hum\":40}}\r\n");
	tbg_test_peer_expect_json (f->peer, "v1/gateway/telemetry",
		"{\"Boiler\":[{\"ts\":1700000000000,\"values\":{\"temp\":21.5,\"hum\":40}}]}", WAIT_MS);
	pty_print (tagged, "{\"attributes\":{\"fw\":\"1.2\"}}\n");
	tbg_test_peer_expect_json (f->peer, "v1/gateway/attributes", "{\"Boiler\":{\"fw\":\"1.2\"}}", WAIT_MS);

	/* RPC: written to the device as a JSON line; its reply goes back with the id. */
	tbg_test_peer_publish (f->peer, "v1/gateway/rpc",
		"{\"device\":\"Boiler\",\"data\":{\"id\":0,\"method\":\"setPoint\",\"params\":{\"t\":55}}}");
	line = pty_read_line (tagged, WAIT_MS);
	tbg_assert_json_eq (line, "{\"id\":0,\"method\":\"setPoint\",\"params\":{\"t\":55}}");
	pty_print (tagged, "{\"id\":0,\"result\":{\"t\":55,\"ok\":true}}\n");
	tbg_test_peer_expect_json (f->peer, "v1/gateway/rpc",
		"{\"device\":\"Boiler\",\"id\":0,\"data\":{\"t\":55,\"ok\":true}}", WAIT_MS);

	/* No reply: the error carries the same id. */
	tbg_test_peer_publish (f->peer, "v1/gateway/rpc",
		"{\"device\":\"Boiler\",\"data\":{\"id\":1,\"method\":\"slow\"}}");
	g_free (pty_read_line (tagged, WAIT_MS));
	tbg_test_peer_expect_json (f->peer, "v1/gateway/rpc",
		"{\"device\":\"Boiler\",\"id\":1,\"data\":{\"error\":\"timeout\"}}", WAIT_MS);
	/* An error reply from the device. */
	tbg_test_peer_publish (f->peer, "v1/gateway/rpc",
		"{\"device\":\"Boiler\",\"data\":{\"id\":2,\"method\":\"open\"}}");
	g_free (pty_read_line (tagged, WAIT_MS));
	pty_print (tagged, "{\"id\":2,\"error\":\"valve stuck\"}\n");
	tbg_test_peer_expect_json (f->peer, "v1/gateway/rpc",
		"{\"device\":\"Boiler\",\"id\":2,\"data\":{\"error\":\"valve stuck\"}}", WAIT_MS);

	/* Shared attributes are written to the device. */
	tbg_test_peer_publish (f->peer, "v1/gateway/attributes",
		"{\"device\":\"Boiler\",\"data\":{\"interval\":10}}");
	g_free (line);
	line = pty_read_line (tagged, WAIT_MS);
	g_assert_cmpstr (line, ==, "{\"shared\":{\"interval\":10}}");
	pty_free (tagged);
	pty_free (untagged);
}

static void
test_garbage (Fixture *f, gconstpointer data)
{
	Pty *p = pty_new ();
	g_autofree char *sys = NULL;
	g_autofree char *longline = g_strnfill (10000, 'x');
	static const char binary[] = "\x01\x02\xff\xfe\x00\x00{\n";

	start_gateway (f, NULL);
	sys = add_tty (f, "ttyUSB7", p, "Boiler", TRUE);
	tbg_test_message_free (tbg_test_peer_expect (f->peer, "v1/gateway/connect", WAIT_MS));
	pty_write (p, binary, sizeof binary - 1);
	pty_print (p, "not json at all\n{\"t\":NaN}\n{\"t\":1e999}\n[1,2]\n{}\n\xc3\x28\n");
	pty_print (p, longline);
	pty_print (p, "\n{\"ok\":1}\n");
	/* Only the good line gets through, and nothing before it. */
	{
		g_autoptr (TbgTestMessage) m = tbg_test_peer_expect (f->peer, "v1/gateway/telemetry", WAIT_MS);
		json_t *root = json_loads (m->payload, 0, NULL);
		json_t *samples = json_object_get (root, "Boiler");

		g_assert_cmpuint (json_array_size (samples), ==, 1);
		tbg_assert_json_value_eq (json_object_get (json_array_get (samples, 0), "values"), "{\"ok\":1}");
		json_decref (root);
	}
	tbg_test_peer_assert_quiet (f->peer, "v1/gateway/telemetry", 200);
	pty_free (p);
}

/* A device's own JSON is forwarded as it wrote it (21.50 stays 21.50);
 * a line with null members is re-encoded without them. */
static void
test_values_as_written (Fixture *f, gconstpointer data)
{
	Pty *p = pty_new ();
	g_autofree char *sys = NULL;
	GString *seen = g_string_new (NULL);
	guint got = 0;

	start_gateway (f, NULL);
	sys = add_tty (f, "ttyUSB7", p, "Boiler", TRUE);
	tbg_test_message_free (tbg_test_peer_expect (f->peer, "v1/gateway/connect", WAIT_MS));
	pty_print (p, "  {\"t\": 21.50, \"n\":1E2}\r\n{\"t\":1,\"gone\":null}\n");
	while (got < 2) {
		g_autoptr (TbgTestMessage) m = tbg_test_peer_expect (f->peer, "v1/gateway/telemetry", WAIT_MS);
		json_t *root = json_loads (m->payload, 0, NULL);
		json_t *samples = json_object_get (root, "Boiler");

		g_assert_nonnull (root);
		g_string_append (seen, m->payload);
		for (gsize i = 0; i < json_array_size (samples); i++, got++)
			tbg_assert_json_value_eq (json_object_get (json_array_get (samples, i), "values"),
			             got == 0 ? "{\"t\":21.5,\"n\":100.0}" : "{\"t\":1}");
		json_decref (root);
	}
	g_assert_cmpuint (got, ==, 2);
	g_assert_nonnull (strstr (seen->str, "\"values\":{\"t\": 21.50, \"n\":1E2}}"));
	g_assert_null (strstr (seen->str, "gone"));
	g_string_free (seen, TRUE);
	pty_free (p);
}

/* An RPC too big for the port is answered "device busy", naming no local
 * path; a device's reply after the timeout answer leaves a debug trace. */
static void
test_rpc_busy_and_late (Fixture *f, gconstpointer data)
{
	Pty *p = pty_new ();
	g_autofree char *sys = NULL, *big = g_strnfill (300 * 1024, 'x');
	g_autofree char *req = g_strdup_printf ("{\"device\":\"Boiler\",\"data\":{\"id\":1,"
	                                        "\"method\":\"load\",\"params\":\"%s\"}}", big);

	tbg_test_log_capture ();
	start_gateway (f, NULL);
	sys = add_tty (f, "ttyUSB7", p, "Boiler", TRUE);
	tbg_test_message_free (tbg_test_peer_expect (f->peer, "v1/gateway/connect", WAIT_MS));
	tbg_test_peer_publish (f->peer, "v1/gateway/rpc", req);
	tbg_test_peer_expect_json (f->peer, "v1/gateway/rpc",
		"{\"device\":\"Boiler\",\"id\":1,\"data\":{\"error\":\"device busy\"}}", WAIT_MS);

	tbg_test_peer_publish (f->peer, "v1/gateway/rpc",
		"{\"device\":\"Boiler\",\"data\":{\"id\":2,\"method\":\"slow\"}}");
	g_free (pty_read_line (p, WAIT_MS));
	tbg_test_peer_expect_json (f->peer, "v1/gateway/rpc",
		"{\"device\":\"Boiler\",\"id\":2,\"data\":{\"error\":\"timeout\"}}", WAIT_MS);
	pty_print (p, "{\"id\":2,\"result\":\"late\"}\n{\"ok\":1}\n");
	tbg_test_message_free (tbg_test_peer_expect (f->peer, "v1/gateway/telemetry", WAIT_MS));
	g_assert_cmpuint (tbg_test_log_count ("Boiler: late reply to RPC 2 *"), ==, 1);
	tbg_test_peer_assert_quiet (f->peer, "v1/gateway/rpc", 200);
	pty_free (p);
}

static void
test_burst (Fixture *f, gconstpointer data)
{
	Pty *p = pty_new ();
	g_autofree char *sys = NULL;
	GString *burst = g_string_new (NULL);
	guint got = 0;
	gint64 last_ts = 0;
	const guint n = 3000;

	start_gateway (f, NULL);
	sys = add_tty (f, "ttyUSB7", p, "Fast", TRUE);
	tbg_test_message_free (tbg_test_peer_expect (f->peer, "v1/gateway/connect", WAIT_MS));
	/* Far faster than one line per millisecond. */
	for (guint i = 0; i < n; i++)
		g_string_append_printf (burst, "{\"n\":%u}\n", i);
	pty_write (p, burst->str, burst->len);
	while (got < n) {
		g_autoptr (TbgTestMessage) m = tbg_test_peer_expect (f->peer, "v1/gateway/telemetry", WAIT_MS);
		json_t *root = json_loads (m->payload, 0, NULL);
		json_t *samples = json_object_get (root, "Fast");

		for (gsize i = 0; i < json_array_size (samples); i++) {
			json_t *s = json_array_get (samples, i);
			gint64 ts = json_integer_value (json_object_get (s, "ts"));

			g_assert_cmpint (json_integer_value (json_object_get (json_object_get (s, "values"), "n")), ==, got);
			g_assert_cmpint (ts, >, last_ts);   /* never collapsed into one sample */
			last_ts = ts;
			got++;
		}
		json_decref (root);
	}
	g_assert_cmpuint (got, ==, n);
	g_string_free (burst, TRUE);
	pty_free (p);
}

static void
test_unplug_replug (Fixture *f, gconstpointer data)
{
	Pty *p = pty_new ();
	g_autofree char *sys = NULL, *sys2 = NULL;
	gint64 t0;

	start_gateway (f, NULL);
	sys = add_tty (f, "ttyUSB7", p, "Boiler", TRUE);
	tbg_test_message_free (tbg_test_peer_expect (f->peer, "v1/gateway/connect", WAIT_MS));
	/* Unplug: the node goes away and udev says so. */
	pty_free (p);
	umockdev_testbed_uevent (f->tb, sys, "remove");
	umockdev_testbed_remove_device (f->tb, sys);
	tbg_test_peer_expect_json (f->peer, "v1/gateway/disconnect", "{\"device\":\"Boiler\"}", WAIT_MS);
	g_assert_false (tbg_device_get_connected (tbg_gateway_lookup_device (f->gw, "Boiler")));
	/* Replug, under another node name: back within a second, same name. */
	p = pty_new ();
	t0 = g_get_monotonic_time ();
	sys2 = add_tty (f, "ttyUSB7", p, "Boiler", TRUE);
	tbg_test_peer_expect_json (f->peer, "v1/gateway/connect",
	                           "{\"device\":\"Boiler\",\"type\":\"Thermometer\"}", 1000);
	g_test_message ("replug to connect: %.1f ms", (g_get_monotonic_time () - t0) / 1000.0);
	pty_print (p, "{\"after\":1}\n");
	tbg_test_message_free (tbg_test_peer_expect (f->peer, "v1/gateway/telemetry", WAIT_MS));
	pty_free (p);
}

static void
test_two_ports_concurrent_rpc (Fixture *f, gconstpointer data)
{
	Pty *a = pty_new (), *b = pty_new ();
	g_autofree char *sa = NULL, *sb = NULL, *la = NULL, *lb = NULL;

	start_gateway (f, NULL);
	sa = add_tty (f, "ttyUSB1", a, "Slow", TRUE);
	sb = add_tty (f, "ttyUSB2", b, "Quick", TRUE);
	tbg_test_message_free (tbg_test_peer_expect (f->peer, "v1/gateway/connect", WAIT_MS));
	tbg_test_message_free (tbg_test_peer_expect (f->peer, "v1/gateway/connect", WAIT_MS));
	tbg_test_peer_publish (f->peer, "v1/gateway/rpc", "{\"device\":\"Slow\",\"data\":{\"id\":4,\"method\":\"m\"}}");
	tbg_test_peer_publish (f->peer, "v1/gateway/rpc", "{\"device\":\"Quick\",\"data\":{\"id\":4,\"method\":\"m\"}}");
	/* Two RPCs pipelined on one port too. */
	tbg_test_peer_publish (f->peer, "v1/gateway/rpc", "{\"device\":\"Quick\",\"data\":{\"id\":5,\"method\":\"m\"}}");
	la = pty_read_line (a, WAIT_MS);
	lb = pty_read_line (b, WAIT_MS);
	g_free (lb);
	lb = pty_read_line (b, WAIT_MS);
	tbg_assert_json_eq (lb, "{\"id\":5,\"method\":\"m\"}");
	/* Answered out of order. */
	pty_print (b, "{\"id\":5,\"result\":\"five\"}\n{\"id\":4,\"result\":\"four\"}\n");
	tbg_test_peer_expect_json (f->peer, "v1/gateway/rpc", "{\"device\":\"Quick\",\"id\":5,\"data\":\"five\"}", 300);
	tbg_test_peer_expect_json (f->peer, "v1/gateway/rpc", "{\"device\":\"Quick\",\"id\":4,\"data\":\"four\"}", 300);
	tbg_test_peer_expect_json (f->peer, "v1/gateway/rpc",
	                           "{\"device\":\"Slow\",\"id\":4,\"data\":{\"error\":\"timeout\"}}", WAIT_MS);
	pty_free (a);
	pty_free (b);
}

static void
test_configured_port (Fixture *f, gconstpointer data)
{
	Pty *p = pty_new ();
	g_autofree char *link = g_build_filename (f->dir, "ttyStatic", NULL);
	g_autofree char *extra = g_strdup_printf ("[serial:Static Sensor]\nport=%s\nbaud=9600\n"
	                                          "protocol=plotter\ntype=Plotter\n", link);

	g_assert_cmpint (symlink (p->slave, link), ==, 0);
	start_gateway (f, extra);
	tbg_test_peer_expect_json (f->peer, "v1/gateway/connect",
	                           "{\"device\":\"Static Sensor\",\"type\":\"Plotter\"}", WAIT_MS);
	pty_print (p, "temp:21.5,hum:40\n");
	{
		g_autoptr (TbgTestMessage) m = tbg_test_peer_expect (f->peer, "v1/gateway/telemetry", WAIT_MS);
		json_t *root = json_loads (m->payload, 0, NULL);
		json_t *values = json_object_get (json_array_get (json_object_get (root, "Static Sensor"), 0), "values");

		tbg_assert_json_value_eq (values, "{\"temp\":21.5,\"hum\":40}");
		json_decref (root);
	}
	/* Unplug and replug: the link points at a new node. */
	pty_free (p);
	tbg_test_peer_expect_json (f->peer, "v1/gateway/disconnect", "{\"device\":\"Static Sensor\"}", WAIT_MS);
	p = pty_new ();
	g_unlink (link);
	g_assert_cmpint (symlink (p->slave, link), ==, 0);
	tbg_test_peer_expect_json (f->peer, "v1/gateway/connect",
	                           "{\"device\":\"Static Sensor\",\"type\":\"Plotter\"}", 1000);
	pty_free (p);
}

static void
test_bad_config (Fixture *f, gconstpointer data)
{
	g_autoptr (GError) error = NULL;
	g_autofree char *path = g_build_filename (f->dir, "tbgw.conf", NULL);
	const char * const prefixes[] = { "serial", NULL };
	TbgConfig *cfg;
	TbgGateway *gw;

	g_file_set_contents (path, "[storage]\npath=memory\n[serial:X]\nport=/dev/null\nbaud=12345\n", -1, NULL);
	cfg = tbg_config_load (path, prefixes, &error);
	g_assert_no_error (error);
	gw = tbg_gateway_new (cfg, sources, &error);
	g_assert_no_error (error);
	g_assert_false (tbg_gateway_start (gw, &error));
	g_assert_nonnull (strstr (error->message, "tbgw.conf:5: [serial:X] baud:"));
	g_object_unref (gw);
	g_clear_error (&error);
	g_file_set_contents (path, "[storage]\npath=memory\n[serial:X]\nprot=/dev/null\n", -1, NULL);
	cfg = tbg_config_load (path, prefixes, &error);
	g_assert_no_error (error);
	g_assert_null (tbg_gateway_new (cfg, sources, &error));
	g_assert_nonnull (strstr (error->message, "tbgw.conf:4: [serial:X] prot: unknown key"));
}

/* ---- a resolver that does not answer ------------------------------------------ */

/* Holds every look-up until the test answers it, as a dead DNS server
 * would (for up to the resolver's timeout, on every reconnect). */
typedef struct {
	GResolver  parent;
	GPtrArray *pending;   /* GTask */
} StalledResolver;
typedef struct {
	GResolverClass parent_class;
} StalledResolverClass;

static GType stalled_resolver_get_type (void);
G_DEFINE_TYPE (StalledResolver, stalled_resolver, G_TYPE_RESOLVER)

static GList *
stalled_lookup (GResolver *r, const char *host, GCancellable *c, GError **error)
{
	g_error ("a synchronous look-up of %s", host);
	return NULL;
}

static void
stalled_lookup_async (GResolver *r, const char *host, GCancellable *c, GAsyncReadyCallback cb,
                      gpointer data)
{
	g_ptr_array_add (((StalledResolver *) r)->pending, g_task_new (r, c, cb, data));
}

static GList *
stalled_lookup_finish (GResolver *r, GAsyncResult *res, GError **error)
{
	return g_task_propagate_pointer (G_TASK (res), error);
}

static void
stalled_resolver_finalize (GObject *obj)
{
	g_ptr_array_unref (((StalledResolver *) obj)->pending);
	G_OBJECT_CLASS (stalled_resolver_parent_class)->finalize (obj);
}

static void
stalled_resolver_class_init (StalledResolverClass *klass)
{
	G_OBJECT_CLASS (klass)->finalize = stalled_resolver_finalize;
	klass->parent_class.lookup_by_name = stalled_lookup;
	klass->parent_class.lookup_by_name_async = stalled_lookup_async;
	klass->parent_class.lookup_by_name_finish = stalled_lookup_finish;
}

static void
stalled_resolver_init (StalledResolver *r)
{
	r->pending = g_ptr_array_new_with_free_func (g_object_unref);
}

static gboolean
lookup_pending (gpointer data)
{
	return ((StalledResolver *) data)->pending->len > 0;
}

typedef struct {
	TbgGateway *gw;
	const char *device;
} SeenWait;

static gboolean
device_seen (gpointer data)
{
	SeenWait *w = data;
	TbgDevice *dev = tbg_gateway_lookup_device (w->gw, w->device);

	return dev != NULL && tbg_device_get_last_seen (dev) != 0;
}

/* The broker's name is looked up off the main loop: while the look-up
 * hangs, a serial sample is read and queued; once the name resolves the
 * link connects to that address and the sample goes out. */
static void
test_stalled_resolver (Fixture *f, gconstpointer data)
{
	g_autoptr (GResolver) saved = g_resolver_get_default ();
	StalledResolver *stalled = g_object_new (stalled_resolver_get_type (), NULL);
	Pty *p = pty_new ();
	g_autoptr (GError) error = NULL;
	g_autofree char *conf = g_build_filename (f->dir, "tbgw.conf", NULL);
	g_autofree char *text = g_strdup_printf ("[storage]\npath=memory\n"
		"[server]\nhost=broker.tbgw-test.invalid\nport=%u\n[gateway]\nstats-interval-s=0\n"
		"[serial:Probe]\nport=%s\n", tbg_test_broker_port (f->broker), p->slave);
	const char * const prefixes[] = { "serial", NULL };
	SeenWait seen = { NULL, "Probe" };
	TbgConfig *cfg;
	GTask *lookup;

	g_resolver_set_default (G_RESOLVER (stalled));
	g_assert_true (g_file_set_contents (conf, text, -1, &error));
	cfg = tbg_config_load (conf, prefixes, &error);
	g_assert_no_error (error);
	f->gw = tbg_gateway_new (cfg, sources, &error);
	g_assert_no_error (error);
	g_assert_true (tbg_gateway_start (f->gw, &error));
	g_assert_true (tbg_test_wait_until (lookup_pending, stalled, WAIT_MS));
	g_assert_cmpuint (stalled->pending->len, ==, 1);

	pty_print (p, "{\"t\":7}\n");
	seen.gw = f->gw;
	g_assert_true (tbg_test_wait_until (device_seen, &seen, WAIT_MS));
	g_assert_cmpuint (stalled->pending->len, ==, 1);
	g_assert_false (tbg_gateway_get_link_up (f->gw));

	lookup = g_ptr_array_steal_index (stalled->pending, 0);
	g_task_return_pointer (lookup, g_list_append (NULL, g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4)),
	                       (GDestroyNotify) g_resolver_free_addresses);
	g_object_unref (lookup);
	g_assert_true (tbg_test_wait_until (tbg_test_gateway_link_is_up, f->gw, WAIT_MS));
	tbg_test_peer_expect_json (f->peer, "v1/gateway/connect", "{\"device\":\"Probe\",\"type\":\"default\"}", WAIT_MS);
	tbg_test_expect_sample_values (f->peer, "Probe", "{\"t\":7}", WAIT_MS);
	g_assert_cmpuint (stalled->pending->len, ==, 0);

	g_clear_object (&f->gw);
	g_resolver_set_default (saved);
	g_object_unref (stalled);
	pty_free (p);
}

int
main (int argc, char **argv)
{
	/* libudev must see umockdev's testbed: run under its preload library. */
	if (!umockdev_in_mock_environment () && g_getenv ("TBG_UNDER_UMOCKDEV") == NULL) {
		const char *asan = g_getenv ("ASAN_OPTIONS");
		g_autofree char *opts = g_strdup_printf ("%s%sverify_asan_link_order=0",
		                                         asan ? asan : "", asan ? ":" : "");
		char **args = g_new0 (char *, argc + 2);

		g_setenv ("ASAN_OPTIONS", opts, TRUE);
		g_setenv ("TBG_UNDER_UMOCKDEV", "1", TRUE);
		args[0] = (char *) "umockdev-wrapper";
		for (int i = 0; i < argc; i++)
			args[i + 1] = argv[i];
		execvp (args[0], args);
		g_printerr ("cannot run umockdev-wrapper: %s\n", g_strerror (errno));
		return 99;
	}
	g_test_init (&argc, &argv, NULL);
	g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
#define ADD(path, fn) g_test_add ("/serial/" path, Fixture, NULL, setup, fn, teardown)
	ADD ("plug-data-rpc", test_plug_data_rpc);
	ADD ("garbage", test_garbage);
	ADD ("values-as-written", test_values_as_written);
	ADD ("burst", test_burst);
	ADD ("unplug-replug", test_unplug_replug);
	ADD ("two-ports-concurrent-rpc", test_two_ports_concurrent_rpc);
	ADD ("rpc-busy-and-late", test_rpc_busy_and_late);
	ADD ("configured-port", test_configured_port);
	ADD ("bad-config", test_bad_config);
	ADD ("stalled-resolver", test_stalled_resolver);
#undef ADD
	return g_test_run ();
}
