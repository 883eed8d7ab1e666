/* GPIO source tests: the RPC / attribute / telemetry logic against an
 * in-process fake chip behind the backend seam, with a real broker and a
 * peer playing ThingsBoard. (libgpiod itself is exercised by check-hw.) */
#include "build-config.h"
#include "gateway.h"
#include "gpio-fake.h"
#include "test-broker.h"
#include "test-peer.h"
#include "test-util.h"

#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>

#define WAIT_MS 5000

extern const TbgSource tbg_source_gpio;
void tbg_source_gpio_set_backend (const TbgGpioBackend *b);
static const TbgSource * const sources[] = { &tbg_source_gpio, NULL };

typedef struct {
	TbgTestBroker *broker;
	TbgTestPeer   *peer;
	TbgGateway    *gw;
	char          *conf;
} Fixture;

static TbgGateway *
make_gateway (Fixture *f, const char *groups, GError **error)
{
	const char * const prefixes[] = { "gpio", NULL };

	return tbg_test_gateway_new (f->conf, tbg_test_broker_port (f->broker), groups, prefixes, sources,
	                             error);
}

static const char relays[] =
	"[gpio:Greenhouse]\nchip=gpiochip0\ntype=Relays\n"
	"line.pump=output 3 initial=0\n"
	"line.fan=output L4 active-low initial=1\n"
	"line.button=input 5 bias=pull-up\n"
	"line.door=input 6 debounce-ms=50\n";

static void
setup (Fixture *f, gconstpointer data)
{
	g_autoptr (GError) error = NULL;

	tbg_fake_gpio_reset ();
	tbg_source_gpio_set_backend (&tbg_gpio_fake);
	f->conf = g_build_filename (g_get_tmp_dir (), "tbgw-gpio-test.conf", NULL);
	f->broker = tbg_test_broker_start ();
	f->peer = tbg_test_peer_new (tbg_test_broker_port (f->broker));
	if (data == NULL)
		return;
	f->gw = make_gateway (f, data, &error);
	g_assert_no_error (error);
	g_assert_true (tbg_test_wait_until (tbg_test_gateway_link_is_up, f->gw, WAIT_MS));
	tbg_test_message_free (tbg_test_peer_expect (f->peer, "v1/devices/me/attributes", WAIT_MS));
	tbg_test_peer_expect_json (f->peer, "v1/gateway/connect",
	                           "{\"device\":\"Greenhouse\",\"type\":\"Relays\"}", WAIT_MS);
}

static void
teardown (Fixture *f, gconstpointer data)
{
	g_clear_object (&f->gw);
	/* Released on exit: free for others. */
	for (guint i = 0; i < 8; i++)
		g_assert_false (tbg_fake_gpio_requested (i));
	tbg_test_peer_free (f->peer);
	tbg_test_broker_free (f->broker);
	g_unlink (f->conf);
	g_free (f->conf);
}

#define expect_values(f, expected) tbg_test_expect_sample_values ((f)->peer, "Greenhouse", (expected), WAIT_MS)
#define rpc(f, id, method, params, expected) \
	tbg_test_gateway_rpc ((f)->peer, "Greenhouse", (id), (method), (params), (expected), WAIT_MS)

static void
test_state_at_connect_and_rpcs (Fixture *f, gconstpointer data)
{
	/* The current state at connect; fan is active-low, initially on. */
	expect_values (f, "{\"pump\":0,\"fan\":1,\"button\":0,\"door\":0}");
	g_assert_cmpint (tbg_fake_gpio_level (4), ==, 0);

	rpc (f, 1, "setValue", "{\"line\":\"pump\",\"value\":1}", "{\"line\":\"pump\",\"value\":1}");
	g_assert_cmpint (tbg_fake_gpio_level (3), ==, 1);
	expect_values (f, "{\"pump\":1}");
	rpc (f, 2, "toggle", "{\"line\":\"fan\"}", "{\"line\":\"fan\",\"value\":0}");
	g_assert_cmpint (tbg_fake_gpio_level (4), ==, 1);   /* active-low */
	expect_values (f, "{\"fan\":0}");
	rpc (f, 3, "getValue", "{\"line\":\"pump\"}", "{\"line\":\"pump\",\"value\":1}");
	rpc (f, 4, "setValue", "{\"line\":\"pump\",\"value\":false}", "{\"line\":\"pump\",\"value\":0}");
	expect_values (f, "{\"pump\":0}");
}

static void
test_pulse (Fixture *f, gconstpointer data)
{
	gint64 t0;

	tbg_test_message_free (tbg_test_peer_expect (f->peer, "v1/gateway/telemetry", WAIT_MS));
	t0 = g_get_monotonic_time ();
	/* Answered at once with the new state; the main loop ends the pulse. */
	rpc (f, 7, "pulse", "{\"line\":\"pump\",\"ms\":200}", "{\"line\":\"pump\",\"value\":1}");
	g_assert_cmpint (g_get_monotonic_time () - t0, <, 150 * 1000);
	g_assert_cmpint (tbg_fake_gpio_level (3), ==, 1);
	expect_values (f, "{\"pump\":1}");
	expect_values (f, "{\"pump\":0}");
	g_assert_cmpint (g_get_monotonic_time () - t0, >=, 200 * 1000);
	g_assert_cmpint (tbg_fake_gpio_level (3), ==, 0);
}

static void
test_rpc_errors (Fixture *f, gconstpointer data)
{
	tbg_test_message_free (tbg_test_peer_expect (f->peer, "v1/gateway/telemetry", WAIT_MS));
	rpc (f, 1, "setValue", "{\"line\":\"button\",\"value\":1}", "{\"error\":\"line “button” is an input\"}");
	rpc (f, 2, "setValue", "{\"line\":\"nope\",\"value\":1}", "{\"error\":\"params.line must name a line of this device\"}");
	rpc (f, 3, "setValue", "{\"line\":\"pump\",\"value\":7}", "{\"error\":\"params.value must be 0, 1, true or false\"}");
	rpc (f, 4, "pulse", "{\"line\":\"pump\"}", "{\"error\":\"params.ms must be a duration in milliseconds (1..3600000)\"}");
	rpc (f, 5, "explode", "{}", "{\"error\":\"unknown method “explode” (setValue, getValue, toggle, pulse)\"}");
	rpc (f, 6, "toggle", "\"pump\"", "{\"error\":\"params.line must name a line of this device\"}");
	g_assert_cmpint (tbg_fake_gpio_level (3), ==, 0);
}

static void
test_shared_attributes (Fixture *f, gconstpointer data)
{
	tbg_test_message_free (tbg_test_peer_expect (f->peer, "v1/gateway/telemetry", WAIT_MS));
	tbg_test_peer_publish (f->peer, "v1/gateway/attributes",
	                       "{\"device\":\"Greenhouse\",\"data\":{\"pump\":true,\"button\":1,\"other\":5}}");
	expect_values (f, "{\"pump\":1}");
	g_assert_cmpint (tbg_fake_gpio_level (3), ==, 1);
	g_assert_cmpint (tbg_fake_gpio_level (5), ==, 0);   /* inputs are not driven */
}

static void
test_input_edges (Fixture *f, gconstpointer data)
{
	gint64 before = g_get_real_time () / 1000, ts;
	json_t *v;

	tbg_test_message_free (tbg_test_peer_expect (f->peer, "v1/gateway/telemetry", WAIT_MS));
	tbg_fake_gpio_drive (5, 1);
	v = tbg_test_expect_sample (f->peer, "Greenhouse", WAIT_MS, &ts);
	g_assert_cmpint (json_integer_value (json_object_get (v, "button")), ==, 1);
	g_assert_cmpint (ts, >=, before);
	json_decref (v);
	tbg_fake_gpio_drive (5, 0);
	expect_values (f, "{\"button\":0}");

	/* door bounces: only the level that holds for 50 ms is reported, once,
	 * with the time of its last edge. */
	tbg_fake_gpio_drive (6, 1);
	tbg_fake_gpio_drive (6, 0);
	tbg_fake_gpio_drive (6, 1);
	tbg_fake_gpio_drive (6, 0);
	tbg_fake_gpio_drive (6, 1);
	expect_values (f, "{\"door\":1}");
	tbg_test_peer_assert_quiet (f->peer, "v1/gateway/telemetry", 150);
}

static void
test_start_errors (Fixture *f, gconstpointer data)
{
	static const struct {
		const char *groups;
		const char *needle;
	} cases[] = {
		{ "[gpio:A]\nline.x=output 9\n", "GPIO line “9” (x) does not exist" },
		{ "[gpio:A]\nchip=gpiochip7\nline.x=output 1\n", "GPIO chip “gpiochip7”" },
		/* the group starts on line 7 of the generated file */
		{ "[gpio:A]\nline.x=sideways 1\n", ".conf:8: [gpio:A] line.x: “sideways 1” is not" },
		{ "[gpio:A]\nline.x=output 1 initial=2\n", ".conf:8: [gpio:A] line.x:" },
		{ "[gpio:A]\nchip=gpiochip0\n", ".conf:7: [gpio:A]: no line.NAME= keys" },
		{ "[gpio:A]\nlines.x=output 1\n", ".conf:8: [gpio:A] lines.x: unknown key" },
		{ "[gpio:A]\nline.x=output 2\n", "in use by kernel-led" },
	};

	tbg_fake_gpio_set_busy (2, "kernel-led");
	for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
		g_autoptr (GError) error = NULL;
		TbgGateway *gw = make_gateway (f, cases[i].groups, &error);

		g_assert_null (gw);
		g_assert_nonnull (error);
		if (strstr (error->message, cases[i].needle) == NULL)
			g_error ("case %u: “%s” lacks “%s”", i, error->message, cases[i].needle);
	}
	tbg_fake_gpio_set_busy (2, NULL);
}

int
main (int argc, char **argv)
{
	g_test_init (&argc, &argv, NULL);
	g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
#define ADD(path, fn, cfg) g_test_add ("/gpio/" path, Fixture, cfg, setup, fn, teardown)
	ADD ("state-and-rpcs", test_state_at_connect_and_rpcs, relays);
	ADD ("pulse", test_pulse, relays);
	ADD ("rpc-errors", test_rpc_errors, relays);
	ADD ("shared-attributes", test_shared_attributes, relays);
	ADD ("input-edges", test_input_edges, relays);
	ADD ("start-errors", test_start_errors, NULL);
#undef ADD
	return g_test_run ();
}
