/* SPDX-License-Identifier: Apache-2.0 */
/* Device provisioning end to end: a real mosquitto, the gateway in this
 * process (and the real tbgwd for the D-Bus property), and a client that
 * answers on /provision/response as ThingsBoard's MQTT transport does
 * (JsonConverter.toJson of a ProvisionDeviceResponseMsg). What user name
 * each connection used comes from the broker's log ("u'…'"). */
#include "build-config.h"
#include "credentials.h"
#include "provision-codec.h"
#include "test-broker.h"
#include "test-peer.h"
#include "test-util.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define WAIT_MS 30000
/* A refused request is retried after the link's backoff: up to 2 s, then 4 s, … */
#define RETRY_WAIT_MS 60000
#define TOKEN "Tok3n-Prov1s10ned"

static const char *const success_answer =
	"{\"credentialsValue\":\"" TOKEN "\",\"credentialsType\":\"ACCESS_TOKEN\",\"status\":\"SUCCESS\"}";
static const char *const not_found_answer =
	"{\"errorMsg\":\"Provision data was not found!\",\"status\":\"NOT_FOUND\"}";

typedef struct {
	TbgTestBroker *broker;
	TbgTestPeer   *tb;      /* ThingsBoard's provisioning side */
	TbgTestPeer   *peer;    /* ThingsBoard's gateway API side */
	char          *dir;
	char          *state;
	char          *conf;
	TbgGateway    *gw;
} Fixture;

static void
write_conf_full (Fixture *f, const char *key, const char *server_extra)
{
	g_autofree char *text = g_strdup_printf (
		"[server]\nport=%u\nprovision-device-key=%s\nprovision-device-secret=SECRET\n"
		"provision-device-name=gw-test\n%s[storage]\npath=%s\n[gateway]\nstats-interval-s=0\n",
		tbg_test_broker_port (f->broker), key, server_extra, f->state);

	g_assert_true (g_file_set_contents (f->conf, text, -1, NULL));
}

static void
write_conf (Fixture *f, const char *key)
{
	write_conf_full (f, key, "");
}

static TbgConfig *
load (Fixture *f)
{
	g_autoptr (GError) error = NULL;
	TbgConfig *cfg = tbg_config_load (f->conf, NULL, &error);

	g_assert_no_error (error);
	return cfg;
}

static void
start_gateway (Fixture *f)
{
	g_autoptr (GError) error = NULL;
	static const TbgSource * const no_sources[] = { NULL };

	f->gw = tbg_gateway_new (load (f), no_sources, &error);
	g_assert_no_error (error);
	g_assert_true (tbg_gateway_start (f->gw, &error));
	g_assert_no_error (error);
}

static void
setup (Fixture *f, gconstpointer data)
{
	g_autoptr (GError) error = NULL;

	f->broker = tbg_test_broker_start ();
	f->tb = tbg_test_peer_new_for (tbg_test_broker_port (f->broker), TBG_PROVISION_REQUEST_TOPIC);
	f->peer = tbg_test_peer_new (tbg_test_broker_port (f->broker));
	f->dir = g_dir_make_tmp ("tbgw-provision-XXXXXX", &error);
	g_assert_no_error (error);
	f->state = g_build_filename (f->dir, "state", NULL);
	f->conf = g_build_filename (f->dir, "tbgw.conf", NULL);
	write_conf (f, "KEY");
	tbg_test_log_capture ();
}

static void
teardown (Fixture *f, gconstpointer data)
{
	GDir *d = g_dir_open (f->state, 0, NULL);
	const char *name;

	g_clear_object (&f->gw);
	tbg_test_peer_free (f->tb);
	tbg_test_peer_free (f->peer);
	tbg_test_broker_free (f->broker);
	/* The token and the spool's files */
	while (d != NULL && (name = g_dir_read_name (d)) != NULL) {
		g_autofree char *path = g_build_filename (f->state, name, NULL);

		g_unlink (path);
	}
	g_clear_pointer (&d, g_dir_close);
	g_rmdir (f->state);
	g_unlink (f->conf);
	g_rmdir (f->dir);
	g_free (f->state);
	g_free (f->conf);
	g_free (f->dir);
}

/* Occurrences of @needle in the broker's log. */
static guint
broker_log_count (Fixture *f, const char *needle)
{
	g_autofree char *log = tbg_test_broker_read_log (f->broker);
	guint n = 0;

	for (const char *p = strstr (log, needle); p != NULL; p = strstr (p + 1, needle))
		n++;
	return n;
}

static gboolean
token_connected (gpointer data)
{
	return broker_log_count (data, "u'" TOKEN "'") > 0;
}

/* The next request @tb sees, checked whole. */
static void
expect_request_on (TbgTestPeer *tb, const char *key, guint timeout_ms)
{
	g_autoptr (TbgTestMessage) m = tbg_test_peer_expect (tb, TBG_PROVISION_REQUEST_TOPIC, timeout_ms);
	g_autofree char *want = g_strdup_printf ("{\"deviceName\":\"gw-test\",\"provisionDeviceKey\":\"%s\","
	                                         "\"provisionDeviceSecret\":\"SECRET\",\"gateway\":true}", key);

	tbg_assert_json_eq (m->payload, want);
}

static void
expect_request (Fixture *f, guint timeout_ms)
{
	expect_request_on (f->tb, "KEY", timeout_ms);
}

static void
answer (Fixture *f, const char *payload)
{
	tbg_test_peer_publish (f->tb, TBG_PROVISION_RESPONSE_TOPIC, payload);
}

static gboolean
source_is (Fixture *f, const char *want)
{
	return g_str_equal (tbg_gateway_get_credentials_source (f->gw), want);
}

static void
assert_token_file (Fixture *f)
{
	g_autofree char *path = g_build_filename (f->state, TBG_PROVISIONED_TOKEN_NAME, NULL);
	g_autofree char *text = NULL;
	struct stat st;

	g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
	g_assert_cmpstr (text, ==, TOKEN "\n");
	g_assert_cmpint (g_stat (path, &st), ==, 0);
	g_assert_cmpint (st.st_mode & 07777, ==, 0600);
}

static void
test_success (Fixture *f, gconstpointer data)
{
	g_autoptr (TbgTestMessage) attrs = NULL;

	start_gateway (f);
	g_assert_true (source_is (f, "provisioning"));
	expect_request (f, WAIT_MS);
	g_assert_cmpuint (broker_log_count (f, "u'provision'"), ==, 1);
	g_assert_false (tbg_gateway_get_link_up (f->gw));
	answer (f, success_answer);

	/* It reconnects with the token as its user name ... */
	g_assert_true (tbg_test_wait_until (tbg_test_gateway_link_is_up, f->gw, WAIT_MS));
	g_assert_true (source_is (f, "provisioned"));
	g_assert_cmpuint (broker_log_count (f, "u'" TOKEN "'"), ==, 1);
	assert_token_file (f);
	/* ... and what was queued meanwhile goes out on that connection. */
	attrs = tbg_test_peer_expect (f->peer, "v1/devices/me/attributes", WAIT_MS);
	g_assert_nonnull (strstr (attrs->payload, "tbgwVersion"));
	g_assert_cmpuint (tbg_test_log_count ("Provisioned as “gw-test”; the access token is stored in *"), ==, 1);

	/* A restart uses the stored token: no second request. */
	g_clear_object (&f->gw);
	start_gateway (f);
	g_assert_true (source_is (f, "provisioned"));
	g_assert_true (tbg_test_wait_until (tbg_test_gateway_link_is_up, f->gw, WAIT_MS));
	g_assert_cmpuint (broker_log_count (f, "u'" TOKEN "'"), ==, 2);
	g_assert_cmpuint (broker_log_count (f, "u'provision'"), ==, 1);
	g_assert_null (tbg_test_peer_wait (f->tb, NULL, 0));

	/* A reload with another provisioning key does not provision again:
	 * the stored token still wins, and the connection stays. */
	{
		g_autoptr (GError) error = NULL;

		write_conf (f, "OTHER-KEY");
		g_assert_true (tbg_gateway_reload (f->gw, load (f), &error));
		g_assert_no_error (error);
	}
	g_assert_true (source_is (f, "provisioned"));
	g_assert_true (tbg_gateway_get_link_up (f->gw));
	g_assert_cmpuint (tbg_test_log_count ("Server settings changed*"), ==, 0);
	g_assert_cmpuint (broker_log_count (f, "u'provision'"), ==, 1);
}

/* A configured token wins over a stored one and over provisioning. */
static void
test_configured_token_wins (Fixture *f, gconstpointer data)
{
	g_autoptr (GError) error = NULL;

	g_assert_true (tbg_credentials_store (f->state, "STORED", &error));
	g_assert_no_error (error);
	write_conf_full (f, "KEY", "access-token=MINE\n");
	start_gateway (f);
	g_assert_true (source_is (f, "access-token"));
	g_assert_true (tbg_test_wait_until (tbg_test_gateway_link_is_up, f->gw, WAIT_MS));
	g_assert_cmpuint (broker_log_count (f, "u'MINE'"), ==, 1);
	g_assert_cmpuint (broker_log_count (f, "u'STORED'"), ==, 0);
	g_assert_cmpuint (broker_log_count (f, "u'provision'"), ==, 0);
}

static void
reload (Fixture *f)
{
	g_autoptr (GError) error = NULL;

	g_assert_true (tbg_gateway_reload (f->gw, load (f), &error));
	g_assert_no_error (error);
}

/* A reload while provisioning: other provisioning settings ask again with
 * them; another server asks that one. */
static void
test_reload_while_provisioning (Fixture *f, gconstpointer data)
{
	TbgTestBroker *first = f->broker;
	TbgTestBroker *other = tbg_test_broker_start ();
	TbgTestPeer *other_tb = tbg_test_peer_new_for (tbg_test_broker_port (other), TBG_PROVISION_REQUEST_TOPIC);

	start_gateway (f);
	expect_request (f, WAIT_MS);
	write_conf (f, "KEY2");
	reload (f);
	expect_request_on (f->tb, "KEY2", WAIT_MS);
	g_assert_true (source_is (f, "provisioning"));

	/* [server] port changes to another broker's. */
	f->broker = other;
	write_conf (f, "KEY2");
	reload (f);
	expect_request_on (other_tb, "KEY2", WAIT_MS);
	tbg_test_peer_publish (other_tb, TBG_PROVISION_RESPONSE_TOPIC, success_answer);
	g_assert_true (tbg_test_wait_until (tbg_test_gateway_link_is_up, f->gw, WAIT_MS));
	g_assert_true (source_is (f, "provisioned"));
	g_assert_cmpuint (broker_log_count (f, "u'" TOKEN "'"), ==, 1);
	/* The first server was asked twice, once per key, and no more. */
	g_assert_null (tbg_test_peer_wait (f->tb, NULL, 0));
	f->broker = first;
	g_assert_cmpuint (broker_log_count (f, "u'provision'"), ==, 2);
	g_assert_cmpuint (broker_log_count (f, "u'" TOKEN "'"), ==, 0);
	tbg_test_peer_free (other_tb);
	tbg_test_broker_free (other);
}

typedef struct {
	Fixture    *f;
	const char *pattern;
	guint       count;
} LogWait;

static gboolean
logged (gpointer data)
{
	LogWait *w = data;

	return tbg_test_log_count (w->pattern) >= w->count;
}

static void
test_not_found_backs_off (Fixture *f, gconstpointer data)
{
	gint64 at[3];
	LogWait w = { f, "*refused to provision “gw-test”: NOT_FOUND (Provision data was not found!)*", 0 };

	start_gateway (f);
	for (guint i = 0; i < G_N_ELEMENTS (at); i++) {
		expect_request (f, RETRY_WAIT_MS);
		at[i] = g_get_monotonic_time ();
		/* One request per connection: as many connections as requests. */
		g_assert_cmpuint (broker_log_count (f, "u'provision'"), ==, i + 1);
		answer (f, not_found_answer);
		w.count = i + 1;
		g_assert_true (tbg_test_wait_until (logged, &w, WAIT_MS));
	}
	/* The server's words, once per refusal. */
	g_assert_cmpuint (tbg_test_log_count (w.pattern), ==, 3);
	/* The link's backoff, never sooner: at least 1 s, then at least 2 s. */
	g_assert_cmpint (at[1] - at[0], >=, 1000 * 1000);
	g_assert_cmpint (at[2] - at[1], >=, 2000 * 1000);
	g_assert_true (source_is (f, "provisioning"));
	g_assert_false (tbg_gateway_get_link_up (f->gw));
	{
		g_autofree char *path = g_build_filename (f->state, TBG_PROVISIONED_TOKEN_NAME, NULL);

		g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
	}
}

static void
test_malformed_then_success (Fixture *f, gconstpointer data)
{
	LogWait w = { f, "Malformed provisioning response from *", 1 };

	start_gateway (f);
	expect_request (f, WAIT_MS);
	answer (f, "{\"status\":\"SUCCESS\",\"credentialsType\":\"ACCESS_TOKEN\"}");
	/* A second answer to the same request is not read as another one. */
	answer (f, "\xff\xfe not json");
	g_assert_true (tbg_test_wait_until (logged, &w, WAIT_MS));
	/* Asked again on a new connection, after the backoff. */
	expect_request (f, RETRY_WAIT_MS);
	g_assert_cmpuint (broker_log_count (f, "u'provision'"), ==, 2);
	answer (f, success_answer);
	g_assert_true (tbg_test_wait_until (tbg_test_gateway_link_is_up, f->gw, WAIT_MS));
	g_assert_true (source_is (f, "provisioned"));
	g_assert_cmpuint (tbg_test_log_count (w.pattern), ==, 1);
	assert_token_file (f);
}

static gboolean
is_none (gpointer data)
{
	return source_is (data, "none");
}

static void
test_unsupported_type (Fixture *f, gconstpointer data)
{
	start_gateway (f);
	expect_request (f, WAIT_MS);
	answer (f, "{\"credentialsValue\":{\"clientId\":\"c\",\"userName\":\"u\",\"password\":\"p\"},"
	        "\"credentialsType\":\"MQTT_BASIC\",\"status\":\"SUCCESS\"}");
	g_assert_true (tbg_test_wait_until (is_none, f, WAIT_MS));
	g_assert_cmpuint (tbg_test_log_count ("*provisioned “gw-test” with MQTT_BASIC credentials, which "
	                                      "tbgwd does not support*"), ==, 1);
	/* It gave up: no new connection and request after the first backoff (2 s at most). */
	tbg_test_peer_assert_quiet (f->tb, NULL, 3000);
	g_assert_cmpuint (broker_log_count (f, "u'provision'"), ==, 1);
	g_assert_false (tbg_gateway_get_link_up (f->gw));

	/* Manager.Reconnect() asks again (never connects without a token). */
	tbg_gateway_reconnect (f->gw);
	g_assert_true (source_is (f, "provisioning"));
	expect_request (f, WAIT_MS);
	g_assert_cmpuint (broker_log_count (f, "u'provision'"), ==, 2);
	g_assert_cmpuint (broker_log_count (f, " as tbgwd-"), ==, 2);
	answer (f, success_answer);
	g_assert_true (tbg_test_wait_until (tbg_test_gateway_link_is_up, f->gw, WAIT_MS));
	g_assert_true (source_is (f, "provisioned"));
}

/* ---- the daemon: the Manager's CredentialsSource property ---------------- */

typedef struct {
	GPtrArray *seen;   /* CredentialsSource values in PropertiesChanged, in order */
} Seen;

static void
on_props_changed (GDBusConnection *c, const char *sender, const char *path, const char *iface,
                  const char *signal, GVariant *params, gpointer data)
{
	Seen *s = data;
	g_autoptr (GVariant) changed = NULL;
	const char *value;

	g_variant_get (params, "(&s@a{sv}@as)", NULL, &changed, NULL);
	if (g_variant_lookup (changed, "CredentialsSource", "&s", &value))
		g_ptr_array_add (s->seen, g_strdup (value));
}

static gboolean
seen_provisioned (gpointer data)
{
	Seen *s = data;

	return s->seen->len > 0 && g_str_equal (g_ptr_array_index (s->seen, s->seen->len - 1), "provisioned");
}

static char *
get_source (GDBusConnection *conn)
{
	g_autoptr (GVariant) r = g_dbus_connection_call_sync (conn, "org.tbgw.Gateway1", "/org/tbgw/Gateway1",
		"org.freedesktop.DBus.Properties", "Get",
		g_variant_new ("(ss)", "org.tbgw.Gateway1.Manager", "CredentialsSource"),
		G_VARIANT_TYPE ("(v)"), 0, WAIT_MS, NULL, NULL);
	g_autoptr (GVariant) v = NULL;

	if (r == NULL)
		return NULL;
	g_variant_get (r, "(v)", &v);
	return g_variant_dup_string (v, NULL);
}

static gboolean
has_source (gpointer data)
{
	g_autofree char *s = get_source (data);

	return s != NULL;
}

static void
test_daemon_dbus (Fixture *f, gconstpointer data)
{
	g_autoptr (GTestDBus) bus = g_test_dbus_new (G_TEST_DBUS_NONE);
	g_autoptr (GDBusConnection) conn = NULL;
	g_autoptr (GSubprocessLauncher) l = NULL;
	g_autoptr (GSubprocess) daemon = NULL;
	g_autoptr (GError) error = NULL;
	g_autofree char *first = NULL;
	Seen s = { g_ptr_array_new_with_free_func (g_free) };
	guint sub;

	g_test_dbus_up (bus);
	conn = g_dbus_connection_new_for_address_sync (g_test_dbus_get_bus_address (bus),
		G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT | G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
		NULL, NULL, &error);
	g_assert_no_error (error);
	sub = g_dbus_connection_signal_subscribe (conn, NULL, "org.freedesktop.DBus.Properties",
	                                          "PropertiesChanged", "/org/tbgw/Gateway1", NULL,
	                                          G_DBUS_SIGNAL_FLAGS_NONE, on_props_changed, &s, NULL);
	tbg_test_bus_sync (conn);
	l = tbg_test_launcher_new (G_SUBPROCESS_FLAGS_NONE);
	daemon = g_subprocess_launcher_spawn (l, &error, g_getenv ("TBGWD") ? g_getenv ("TBGWD") : "src/tbgwd",
	                                      "--session", "--config", f->conf, NULL);
	g_assert_no_error (error);
	/* The daemon asks first and owns the bus name second: the request is
	 * answered once the property can be watched. */
	expect_request (f, WAIT_MS);
	g_assert_true (tbg_test_wait_until (has_source, conn, WAIT_MS));
	first = get_source (conn);
	g_assert_cmpstr (first, ==, "provisioning");
	answer (f, success_answer);
	g_assert_true (tbg_test_wait_until (seen_provisioned, &s, WAIT_MS));
	g_assert_cmpuint (s.seen->len, ==, 1);
	/* The daemon connects with the token it got. */
	g_assert_true (tbg_test_wait_until (token_connected, f, WAIT_MS));
	assert_token_file (f);
	tbg_test_stop_daemon (daemon);
	g_dbus_connection_signal_unsubscribe (conn, sub);
	g_ptr_array_unref (s.seen);
	g_dbus_connection_close_sync (conn, NULL, NULL);
	g_test_dbus_down (bus);
}

int
main (int argc, char **argv)
{
	g_test_init (&argc, &argv, NULL);
	/* The refusals and malformed answers are warned about on purpose. */
	g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
#define ADD(p, fn) g_test_add ("/provision/" p, Fixture, NULL, setup, fn, teardown)
	ADD ("success-restart-reload", test_success);
	ADD ("configured-token-wins", test_configured_token_wins);
	ADD ("reload-while-provisioning", test_reload_while_provisioning);
	ADD ("not-found-backs-off", test_not_found_backs_off);
	ADD ("malformed-then-success", test_malformed_then_success);
	ADD ("unsupported-type", test_unsupported_type);
	ADD ("daemon-dbus", test_daemon_dbus);
	return g_test_run ();
}
