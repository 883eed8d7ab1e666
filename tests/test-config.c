/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of config.c: defaults, every key, and errors naming file:line:key. */
#include "config.h"

#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

static const char * const prefixes[] = { "serial", "ble", NULL };

static char *
write_config (const char *text)
{
	g_autoptr (GError) error = NULL;
	char *path = NULL;
	int fd = g_file_open_tmp ("tbgw-test-XXXXXX.conf", &path, &error);

	g_assert_no_error (error);
	close (fd);
	g_assert_true (g_file_set_contents (path, text, -1, &error));
	g_assert_no_error (error);
	return path;
}

static TbgConfig *
load_text (const char *text, GError **error, char **path_out)
{
	g_autofree char *path = write_config (text);
	TbgConfig *cfg = tbg_config_load (path, prefixes, error);

	if (path_out != NULL)
		*path_out = g_strdup (path);
	g_unlink (path);
	return cfg;
}

static void
test_defaults (void)
{
	g_autoptr (TbgConfig) cfg = tbg_config_new_default ();

	g_assert_cmpstr (cfg->server.host, ==, "127.0.0.1");
	g_assert_cmpuint (cfg->server.port, ==, 1883);
	g_assert_null (cfg->server.access_token);
	g_assert_false (cfg->server.tls);
	g_assert_cmpuint (cfg->server.keepalive_s, ==, 60);
	g_assert_true (g_str_has_prefix (cfg->server.client_id, "tbgwd-"));
	g_assert_cmpuint (cfg->gateway.max_payload_bytes, ==, 65000);
	g_assert_cmpuint (cfg->gateway.rpc_timeout_ms, ==, 10000);
	g_assert_cmpint (cfg->gateway.attribute_request_format, ==, TBG_ATTR_REQUEST_SPLIT);
	g_assert_true (g_str_has_suffix (cfg->storage.path, "/lib/tbgw"));
	g_assert_cmpuint (cfg->storage.ttl_s, ==, 0);
}

static void
test_minimal (void)
{
	g_autoptr (GError) error = NULL;
	g_autoptr (TbgConfig) cfg = load_text ("[server]\nhost=tb.example.org\nport=1884\n"
	                                       "access-token=ABC123\n", &error, NULL);

	g_assert_no_error (error);
	g_assert_cmpstr (cfg->server.host, ==, "tb.example.org");
	g_assert_cmpuint (cfg->server.port, ==, 1884);
	g_assert_cmpstr (cfg->server.access_token, ==, "ABC123");
}

static void
test_full (void)
{
	g_autoptr (GError) error = NULL;
	g_autoptr (TbgConfig) cfg = load_text (
		"# comment\n"
		"[server]\nhost=::1\ntls=true\nca-file=/etc/ssl/ca.pem\ncert-file=/c.pem\nkey-file=/k.pem\n"
		"keepalive=30\nclient-id=gw1\n"
		"[gateway]\nmax-payload-bytes=1000\nmax-inflight=4\nrpc-timeout-ms=500\n"
		"attribute-request-timeout-ms=700\nstats-interval-s=0\nattribute-request-format=combined\n"
		"[storage]\nmax-messages=10\npath=memory\nttl-s=3600\n"
		"[serial:Boiler]\nport=/dev/ttyUSB0\n", &error, NULL);

	g_assert_no_error (error);
	g_assert_true (cfg->server.tls);
	g_assert_cmpuint (cfg->server.port, ==, 8883);
	g_assert_cmpstr (cfg->server.ca_file, ==, "/etc/ssl/ca.pem");
	g_assert_cmpstr (cfg->server.cert_file, ==, "/c.pem");
	g_assert_cmpstr (cfg->server.key_file, ==, "/k.pem");
	g_assert_cmpstr (cfg->server.client_id, ==, "gw1");
	g_assert_cmpuint (cfg->server.keepalive_s, ==, 30);
	g_assert_cmpuint (cfg->gateway.max_payload_bytes, ==, 1000);
	g_assert_cmpuint (cfg->gateway.max_inflight, ==, 4);
	g_assert_cmpuint (cfg->gateway.rpc_timeout_ms, ==, 500);
	g_assert_cmpuint (cfg->gateway.attribute_request_timeout_ms, ==, 700);
	g_assert_cmpuint (cfg->gateway.stats_interval_s, ==, 0);
	g_assert_cmpint (cfg->gateway.attribute_request_format, ==, TBG_ATTR_REQUEST_COMBINED);
	g_assert_cmpuint (cfg->storage.max_messages, ==, 10);
	g_assert_null (cfg->storage.path);
	g_assert_cmpuint (cfg->storage.ttl_s, ==, 3600);
	{
		g_auto (GStrv) names = tbg_config_device_groups (cfg, "serial");

		g_assert_cmpuint (g_strv_length (names), ==, 1);
		g_assert_cmpstr (names[0], ==, "Boiler");
	}
}

static void
test_token_file (void)
{
	g_autoptr (GError) error = NULL;
	g_autofree char *token = write_config ("  SECRET-TOKEN \n");
	g_autofree char *text = NULL;
	g_autoptr (TbgConfig) cfg = NULL;

	g_chmod (token, 0600);
	text = g_strdup_printf ("[server]\naccess-token-file=%s\n", token);
	cfg = load_text (text, &error, NULL);
	g_assert_no_error (error);
	g_assert_cmpstr (cfg->server.access_token, ==, "SECRET-TOKEN");
	g_assert_cmpint (cfg->credentials, ==, TBG_CREDENTIALS_TOKEN_FILE);
	g_unlink (token);
}

static void
test_provision (void)
{
	g_autoptr (GError) error = NULL;
	g_autofree char *secret = write_config ("  PROV-SECRET \n");
	g_autofree char *text = NULL;
	g_autoptr (TbgConfig) cfg = NULL;
	g_autoptr (TbgConfig) named = NULL;
	g_autoptr (TbgConfig) plain = NULL;

	g_chmod (secret, 0600);
	text = g_strdup_printf ("[server]\nprovision-device-key=KEY\nprovision-secret-file=%s\n", secret);
	cfg = load_text (text, &error, NULL);
	g_assert_no_error (error);
	g_assert_cmpstr (cfg->provision.device_key, ==, "KEY");
	g_assert_cmpstr (cfg->provision.device_secret, ==, "PROV-SECRET");
	/* The host name by default, as ThingsBoard's own gateway does. */
	g_assert_cmpstr (cfg->provision.device_name, ==, g_get_host_name ());
	g_assert_null (cfg->server.access_token);
	g_assert_cmpint (cfg->credentials, ==, TBG_CREDENTIALS_NONE);
	g_unlink (secret);

	named = load_text ("[server]\naccess-token=T\nprovision-device-key=K\nprovision-device-secret=S\n"
	                   "provision-device-name=Pump house\n", &error, NULL);
	g_assert_no_error (error);
	g_assert_cmpstr (named->provision.device_name, ==, "Pump house");
	g_assert_cmpstr (named->provision.device_secret, ==, "S");
	g_assert_cmpint (named->credentials, ==, TBG_CREDENTIALS_ACCESS_TOKEN);

	plain = load_text ("[server]\nport=1883\n", &error, NULL);
	g_assert_no_error (error);
	g_assert_null (plain->provision.device_key);
	g_assert_null (plain->provision.device_name);
}

typedef struct {
	const char *text;
	TbgConfigError code;
	const char *needle;  /* must appear in the message, after "path:" */
} BadCase;

static const BadCase bad_cases[] = {
	{ "[server]\nport=abc\n", TBG_CONFIG_ERROR_BAD_VALUE, ":2: [server] port: “abc” is not a whole number from 1 to 65535" },
	{ "[server]\n\nport=70000\n", TBG_CONFIG_ERROR_BAD_VALUE, ":3: [server] port:" },
	{ "[server]\nhots=x\n", TBG_CONFIG_ERROR_UNKNOWN_KEY, ":2: [server] hots: unknown key" },
	{ "[gateway]\nmax-inflight=1\nrpc-timeout=5\n", TBG_CONFIG_ERROR_UNKNOWN_KEY, ":3: [gateway] rpc-timeout: unknown key" },
	{ "[servr]\nhost=x\n", TBG_CONFIG_ERROR_UNKNOWN_GROUP, ":1: [servr]: unknown group" },
	{ "[zigbee:A]\n", TBG_CONFIG_ERROR_UNKNOWN_GROUP, ":1: [zigbee:A]: unknown group (known: server, gateway, storage, serial:NAME, ble:NAME)" },
	{ "[serial:]\n", TBG_CONFIG_ERROR_UNKNOWN_GROUP, "a device group needs a name" },
	{ "host=x\n", TBG_CONFIG_ERROR_SYNTAX, ":1: key outside of any [group]" },
	{ "[server]\njust words\n", TBG_CONFIG_ERROR_SYNTAX, ":2: expected “key=value”" },
	{ "[server\n", TBG_CONFIG_ERROR_SYNTAX, ":1: malformed group header" },
	{ "[server]\ntls=maybe\n", TBG_CONFIG_ERROR_BAD_VALUE, ":2: [server] tls: “maybe” is not a boolean" },
	{ "[server]\naccess-token=a\naccess-token-file=/x\n", TBG_CONFIG_ERROR_BAD_VALUE, ":3: [server] access-token-file: give either" },
	{ "[server]\naccess-token-file=/nonexistent/token\n", TBG_CONFIG_ERROR_BAD_VALUE, ":2: [server] access-token-file:" },
	{ "[server]\ncert-file=/c.pem\ntls=true\n", TBG_CONFIG_ERROR_BAD_VALUE, "cert-file and key-file go together" },
	{ "[server]\nca-file=/ca.pem\n", TBG_CONFIG_ERROR_BAD_VALUE, "tls=false; set tls=true" },
	{ "[gateway]\nattribute-request-format=both\n", TBG_CONFIG_ERROR_BAD_VALUE, ":2: [gateway] attribute-request-format:" },
	{ "[gateway]\nmax-payload-bytes=10\n", TBG_CONFIG_ERROR_BAD_VALUE, "from 256 to" },
	{ "[storage]\npath=relative/dir\n", TBG_CONFIG_ERROR_BAD_VALUE, ":2: [storage] path: must be an absolute directory" },
	{ "[server]\nclient-id=provision\n", TBG_CONFIG_ERROR_BAD_VALUE, ":2: [server] client-id: ThingsBoard reserves “provision” for device provisioning" },
	{ "[server]\n\naccess-token=provision\n", TBG_CONFIG_ERROR_BAD_VALUE, ":3: [server] access-token: ThingsBoard reserves" },
	{ "[server]\nport=1\nprovision-device-key=k\n", TBG_CONFIG_ERROR_BAD_VALUE, ":3: [server] provision-device-key: needs provision-device-secret or provision-secret-file" },
	{ "[server]\nprovision-device-secret=s\n", TBG_CONFIG_ERROR_BAD_VALUE, ":2: [server] provision-device-secret: needs provision-device-key" },
	{ "[server]\nprovision-device-name=n\n", TBG_CONFIG_ERROR_BAD_VALUE, ":2: [server] provision-device-name: needs provision-device-key" },
	{ "[server]\nprovision-device-key=k\nprovision-device-secret=s\nprovision-secret-file=/x\n", TBG_CONFIG_ERROR_BAD_VALUE, ":4: [server] provision-secret-file: give either provision-device-secret or provision-secret-file, not both" },
	{ "[server]\nprovision-device-key=k\nprovision-secret-file=/nonexistent/secret\n", TBG_CONFIG_ERROR_BAD_VALUE, ":3: [server] provision-secret-file:" },
	{ "[server]\nprovision-device-key=k\nprovision-device-secret=s\n[storage]\npath=memory\n", TBG_CONFIG_ERROR_BAD_VALUE, ":2: [server] provision-device-key: provisioning needs a state directory" },
	{ "[server]\ntls=true\ncert-file=/c\nkey-file=/k\nprovision-device-key=k\nprovision-device-secret=s\n", TBG_CONFIG_ERROR_BAD_VALUE, ":5: [server] provision-device-key: provisioning gets an access token, but cert-file" },
};

static void
test_bad (gconstpointer data)
{
	const BadCase *c = data;
	g_autoptr (GError) error = NULL;
	g_autofree char *path = NULL;
	g_autoptr (TbgConfig) cfg = load_text (c->text, &error, &path);

	g_assert_null (cfg);
	g_assert_error (error, TBG_CONFIG_ERROR, (gint) c->code);
	/* Every message starts with the file it is about. */
	g_assert_true (g_str_has_prefix (error->message, path));
	if (strstr (error->message, c->needle) == NULL)
		g_error ("message “%s” lacks “%s”", error->message, c->needle);
}

static void
test_missing_file (void)
{
	g_autoptr (GError) error = NULL;
	g_autoptr (TbgConfig) cfg = tbg_config_load ("/nonexistent/tbgw.conf", prefixes, &error);

	g_assert_null (cfg);
	g_assert_error (error, TBG_CONFIG_ERROR, TBG_CONFIG_ERROR_IO);
	g_assert_nonnull (strstr (error->message, "/nonexistent/tbgw.conf"));
}

static void
test_check_keys (void)
{
	g_autoptr (GError) error = NULL;
	g_autofree char *path = NULL;
	g_autoptr (TbgConfig) cfg = load_text ("[serial:Boiler]\nport=/dev/x\nbaud=9600\nbuad=1\n",
	                                       &error, &path);
	const char * const allowed[] = { "port", "baud", NULL };
	guint64 baud = 0;
	g_autofree char *expected = NULL;

	g_assert_no_error (error);
	g_assert_true (tbg_config_get_uint (cfg, "serial:Boiler", "baud", 1, 4000000, 115200, &baud, &error));
	g_assert_cmpuint (baud, ==, 9600);
	g_assert_false (tbg_config_check_keys (cfg, "serial:Boiler", allowed, &error));
	expected = g_strdup_printf ("%s:4: [serial:Boiler] buad: unknown key", path);
	g_assert_cmpstr (error->message, ==, expected);
}

static void
test_server_equal (void)
{
	g_autoptr (TbgConfig) a = tbg_config_new_default ();
	g_autoptr (TbgConfig) b = tbg_config_new_default ();

	g_assert_true (tbg_server_config_equal (&a->server, &b->server));
	b->server.port = 1;
	g_assert_false (tbg_server_config_equal (&a->server, &b->server));
}

static void
test_group_equal (void)
{
	g_autoptr (GError) error = NULL;
	g_autoptr (TbgConfig) a = load_text ("[serial:A]\nport=/dev/x\nbaud=9600\n"
	                                     "[serial:B]\nport=/dev/y\n", &error, NULL);
	g_autoptr (TbgConfig) b = load_text ("[serial:B]\nport=/dev/z\n"
	                                     "[serial:A]\nbaud=9600\nport=/dev/x\n"
	                                     "[serial:C]\nport=/dev/c\n", &error, NULL);
	g_autoptr (TbgConfig) defaults = tbg_config_new_default ();

	g_assert_no_error (error);
	/* Same keys and values in another order: equal. */
	g_assert_true (tbg_config_group_equal (a, b, "serial:A"));
	g_assert_false (tbg_config_group_equal (a, b, "serial:B"));
	/* Added on one side only. */
	g_assert_false (tbg_config_group_equal (a, b, "serial:C"));
	g_assert_false (tbg_config_group_equal (b, a, "serial:C"));
	/* Absent from both, and built-in defaults without a file. */
	g_assert_true (tbg_config_group_equal (a, b, "serial:D"));
	g_assert_true (tbg_config_group_equal (defaults, a, "serial:D"));
	g_assert_false (tbg_config_group_equal (defaults, a, "serial:A"));
}

int
main (int argc, char **argv)
{
	g_test_init (&argc, &argv, NULL);
	g_test_add_func ("/config/defaults", test_defaults);
	g_test_add_func ("/config/minimal", test_minimal);
	g_test_add_func ("/config/full", test_full);
	g_test_add_func ("/config/token-file", test_token_file);
	g_test_add_func ("/config/provision", test_provision);
	g_test_add_func ("/config/missing-file", test_missing_file);
	g_test_add_func ("/config/check-keys", test_check_keys);
	g_test_add_func ("/config/server-equal", test_server_equal);
	g_test_add_func ("/config/group-equal", test_group_equal);
	for (guint i = 0; i < G_N_ELEMENTS (bad_cases); i++) {
		g_autofree char *name = g_strdup_printf ("/config/bad/%u", i);

		g_test_add_data_func (name, &bad_cases[i], test_bad);
	}
	return g_test_run ();
}
