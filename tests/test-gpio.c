/* SPDX-License-Identifier: Apache-2.0 */
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
#include <unistd.h>

#define WAIT_MS 20000

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
	f->conf = g_strdup_printf ("%s/tbgw-gpio-test-%d.conf", g_get_tmp_dir (), (int) getpid ());
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
	for (guint i = 0; i < TBG_FAKE_GPIO_AUX + 4; i++)
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

/* Every sample of @device in the next telemetry messages until @n are
 * there (samples may share a message): an array of {"ts","values"}. */
static json_t *
collect_samples (Fixture *f, const char *device, guint n)
{
	json_t *all = json_array ();

	while (json_array_size (all) < n) {
		g_autoptr (TbgTestMessage) m = tbg_test_peer_expect (f->peer, "v1/gateway/telemetry", WAIT_MS);
		json_t *root = json_loads (m->payload, 0, NULL);
		json_t *samples = json_object_get (root, device);
		json_t *s;
		gsize i;

		json_array_foreach (samples, i, s)
			json_array_append (all, s);
		json_decref (root);
	}
	return all;
}

/* The values of the samples in @all, as one JSON text, and their times
 * rising. */
static char *
sample_values (json_t *all)
{
	json_t *values = json_array ();
	json_t *s;
	gint64 last = 0;
	gsize i;
	char *text;

	json_array_foreach (all, i, s) {
		gint64 ts = json_integer_value (json_object_get (s, "ts"));

		g_assert_cmpint (ts, >, last);
		last = ts;
		json_array_append (values, json_object_get (s, "values"));
	}
	text = json_dumps (values, JSON_COMPACT);
	json_decref (values);
	return text;
}

static void
start_gateway (Fixture *f, const char *groups)
{
	g_autoptr (GError) error = NULL;

	f->gw = make_gateway (f, groups, &error);
	g_assert_no_error (error);
	g_assert_true (tbg_test_wait_until (tbg_test_gateway_link_is_up, f->gw, WAIT_MS));
	tbg_test_message_free (tbg_test_peer_expect (f->peer, "v1/devices/me/attributes", WAIT_MS));
}

/* Configuration mistakes stop the start with file:line; nothing is requested. */
static void
test_config_errors (Fixture *f, gconstpointer data)
{
	static const struct {
		const char *groups;
		const char *needle;
	} cases[] = {
		/* the group starts on line 7 of the generated file */
		{ "[gpio:A]\nchip=gpiochip0\nline.x=sideways 1\n", ".conf:9: [gpio:A] line.x: “sideways 1” is not" },
		{ "[gpio:A]\nchip=gpiochip0\nline.x=output 1 initial=2\n", ".conf:9: [gpio:A] line.x:" },
		{ "[gpio:A]\nchip=gpiochip0\n", ".conf:7: [gpio:A]: no line.NAME= keys" },
		{ "[gpio:A]\nlines.x=output L1\n", ".conf:8: [gpio:A] lines.x: unknown key" },
		/* options that cannot apply */
		{ "[gpio:A]\nchip=gpiochip0\nline.x=input 1 initial=1\n",
		  ".conf:9: [gpio:A] line.x: “initial=1” applies to outputs only, and this line is an input" },
		{ "[gpio:A]\nchip=gpiochip0\nline.x=output 1 edge=rising\n",
		  ".conf:9: [gpio:A] line.x: “edge=rising” applies to inputs only, and this line is an output" },
		{ "[gpio:A]\nchip=gpiochip0\nline.x=output 1 debounce-ms=20\n",
		  ".conf:9: [gpio:A] line.x: “debounce-ms=20” applies to inputs only" },
		/* an offset means nothing without its chip */
		{ "[gpio:A]\nline.x=output 17\n",
		  ".conf:8: [gpio:A] line.x: line 17 is an offset, so chip= must say on which chip (chips here: "
		  "gpiochip0 “gpio-fake” (8 lines), gpiochip1 “gpio-fake-aux” (4 lines)), or name the line" },
		{ "[gpio:A]\nchip=gpiochip0\nline.x=output 1\ndefault-line=y\n",
		  ".conf:10: [gpio:A] default-line: “y” is not one of its line.NAME= keys" },
		{ "[gpio:A]\nchip=gpiochip0\nline.x=output 1\nretry-interval-s=0\n", ".conf:10:" },
	};

	for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
		g_autoptr (GError) error = NULL;
		TbgGateway *gw = make_gateway (f, cases[i].groups, &error);

		g_assert_null (gw);
		g_assert_nonnull (error);
		if (strstr (error->message, cases[i].needle) == NULL)
			g_error ("case %u: “%s” lacks “%s”", i, error->message, cases[i].needle);
		for (guint j = 0; j < TBG_FAKE_GPIO_AUX + 4; j++)
			g_assert_cmpuint (tbg_fake_gpio_requests (j), ==, 0);
	}
}

/* On a Raspberry Pi the refusal of a bare offset says where the header is. */
static void
test_header_chip_named (Fixture *f, gconstpointer data)
{
	g_autoptr (GError) error = NULL;
	TbgGateway *gw;

	tbg_fake_gpio_set_label (1, "pinctrl-rp1");
	gw = make_gateway (f, "[gpio:A]\nline.pump=output 17\n", &error);
	g_assert_null (gw);
	g_assert_nonnull (error);
	g_test_message ("%s", error->message);
	g_assert_nonnull (strstr (error->message, "(the 40-pin header here is chip=pinctrl-rp1, gpiochip1), "
	                                          "or name the line (GPIO17)"));
}

/* Chips by path, name and label; line names looked up on every chip. */
static void
test_chips_and_line_names (Fixture *f, gconstpointer data)
{
	start_gateway (f, "[gpio:ByName]\nline.a=output X1 initial=1\nline.b=output L2 initial=1\n"
	                  "[gpio:ByLabel]\nchip=gpio-fake-aux\nline.c=output 2 initial=1\n"
	                  "[gpio:ByPath]\nchip=/dev/gpiochip0\nline.d=output L5 initial=1\n");
	tbg_test_peer_expect_json (f->peer, "v1/gateway/connect", "{\"device\":\"ByName\",\"type\":\"default\"}", WAIT_MS);
	tbg_test_peer_expect_json (f->peer, "v1/gateway/connect", "{\"device\":\"ByLabel\",\"type\":\"default\"}", WAIT_MS);
	tbg_test_peer_expect_json (f->peer, "v1/gateway/connect", "{\"device\":\"ByPath\",\"type\":\"default\"}", WAIT_MS);
	g_assert_cmpint (tbg_fake_gpio_level (TBG_FAKE_GPIO_AUX + 1), ==, 1);
	g_assert_cmpint (tbg_fake_gpio_level (2), ==, 1);
	g_assert_cmpint (tbg_fake_gpio_level (TBG_FAKE_GPIO_AUX + 2), ==, 1);
	g_assert_cmpint (tbg_fake_gpio_level (5), ==, 1);
	g_assert_false (tbg_fake_gpio_requested (TBG_FAKE_GPIO_AUX + 3));
}

/* A busy line, a missing chip, a missing or ambiguous line name: each
 * fails its device alone with a log line that says why; the rest runs,
 * and the busy one connects once its line is free. */
static void
test_one_bad_line_fails_one_device (Fixture *f, gconstpointer data)
{
	tbg_fake_gpio_set_busy (2, "kernel-led");
	tbg_test_log_capture ();
	start_gateway (f, "[gpio:Busy]\nchip=gpiochip0\nretry-interval-s=1\nline.x=output 2 initial=1\n"
	                  "[gpio:NoChip]\nchip=gpiochip7\nline.x=output 1\n"
	                  "[gpio:NoLine]\nchip=gpio-fake\nline.x=output 9\n"
	                  "[gpio:NoName]\nline.x=output GPIO99\n"
	                  "[gpio:TwoNames]\nline.x=output L7\n"
	                  "[gpio:Good]\nchip=gpiochip0\nline.y=output 3\n");
	tbg_test_peer_expect_json (f->peer, "v1/gateway/connect", "{\"device\":\"Good\",\"type\":\"default\"}", WAIT_MS);
	g_assert_cmpuint (tbg_test_log_count ("*[gpio:Busy]: GPIO line “2” (x) on gpiochip0: Device or resource busy; "
	                                      "in use by kernel-led; device unavailable, retrying every 1 s*"), ==, 1);
	g_assert_cmpuint (tbg_test_log_count ("*[gpio:NoChip]: GPIO chip “gpiochip7” not found (a path, name or label); "
	                                      "chips here: gpiochip0 “gpio-fake” (8 lines), "
	                                      "gpiochip1 “gpio-fake-aux” (4 lines)*"), ==, 1);
	g_assert_cmpuint (tbg_test_log_count ("*[gpio:NoLine]: GPIO line “9” (x) does not exist on gpiochip0 (8 lines)*"), ==, 1);
	g_assert_cmpuint (tbg_test_log_count ("*[gpio:NoName]: no GPIO chip has a line named “GPIO99” (x); chips here:*"), ==, 1);
	g_assert_cmpuint (tbg_test_log_count ("*[gpio:TwoNames]: GPIO line name “L7” (x) is on gpiochip0 and on gpiochip1*"), ==, 1);
	tbg_test_gateway_rpc (f->peer, "Busy", 1, "setValue", "true",
	                      "{\"error\":\"device not available: GPIO line “2” (x) on gpiochip0: "
	                      "Device or resource busy; in use by kernel-led\"}", WAIT_MS);
	tbg_test_gateway_rpc (f->peer, "Good", 2, "setValue", "true", "true", WAIT_MS);
	g_assert_cmpint (tbg_fake_gpio_level (3), ==, 1);
	/* the retries do not repeat the same complaint */
	tbg_test_run_main_loop_for (2500);
	g_assert_cmpuint (tbg_test_log_count ("*[gpio:Busy]:*in use by kernel-led*"), ==, 1);
	g_assert_false (tbg_fake_gpio_requested (2));

	tbg_fake_gpio_set_busy (2, NULL);
	tbg_test_peer_expect_json (f->peer, "v1/gateway/connect", "{\"device\":\"Busy\",\"type\":\"default\"}", WAIT_MS);
	g_assert_true (tbg_fake_gpio_requested (2));
	g_assert_cmpint (tbg_fake_gpio_level (2), ==, 1);
	g_assert_cmpuint (tbg_test_log_count ("*[gpio:Busy]: lines available; device connected*"), ==, 1);
	tbg_test_gateway_rpc (f->peer, "Busy", 3, "setValue", "false", "false", WAIT_MS);
	g_assert_cmpint (tbg_fake_gpio_level (2), ==, 0);
}

static const char buttons[] =
	"[gpio:Buttons]\nchip=gpiochip0\nreport-interval-s=0\n"
	"line.r=input 0 edge=rising\n"
	"line.f=input 1 edge=falling\n"
	"line.b=input 2 edge=both\n"
	"line.rd=input 5 edge=rising debounce-ms=40\n"
	"line.fd=input 6 edge=falling debounce-ms=40\n"
	"line.bd=input 7 edge=both debounce-ms=40\n";

static void
press (guint index, guint times)
{
	for (guint i = 0; i < times; i++) {
		tbg_fake_gpio_drive (index, 1);
		tbg_fake_gpio_drive (index, 0);
	}
}

/* The value of @line in each of @n samples. */
static void
expect_edges (Fixture *f, guint n, const char *expected)
{
	json_t *all = collect_samples (f, "Buttons", n);
	g_autofree char *got = sample_values (all);

	tbg_test_assert_json_equal (__FILE__, __LINE__, got, expected);
	json_decref (all);
}

/* rising: every rising edge is a 1; falling: every falling edge a 0;
 * both: every change. Each at its own time. */
static void
test_edges (Fixture *f, gconstpointer data)
{
	start_gateway (f, buttons);
	tbg_test_peer_expect_json (f->peer, "v1/gateway/connect", "{\"device\":\"Buttons\",\"type\":\"default\"}", WAIT_MS);
	expect_edges (f, 1, "[{\"r\":0,\"f\":0,\"b\":0,\"rd\":0,\"fd\":0,\"bd\":0}]");

	press (0, 3);
	expect_edges (f, 3, "[{\"r\":1},{\"r\":1},{\"r\":1}]");
	press (1, 3);
	expect_edges (f, 3, "[{\"f\":0},{\"f\":0},{\"f\":0}]");
	press (2, 3);
	expect_edges (f, 6, "[{\"b\":1},{\"b\":0},{\"b\":1},{\"b\":0},{\"b\":1},{\"b\":0}]");
	tbg_test_peer_assert_quiet (f->peer, "v1/gateway/telemetry", 200);
}

/* Debounced, a burst counts once, by its last edge, per the same rule:
 * two bouncy presses are two presses. */
static void
test_edges_debounced (Fixture *f, gconstpointer data)
{
	start_gateway (f, buttons);
	tbg_test_peer_expect_json (f->peer, "v1/gateway/connect", "{\"device\":\"Buttons\",\"type\":\"default\"}", WAIT_MS);
	expect_edges (f, 1, "[{\"r\":0,\"f\":0,\"b\":0,\"rd\":0,\"fd\":0,\"bd\":0}]");

	for (guint i = 0; i < 2; i++) {
		/* a press bounces, settles high, then is released */
		press (5, 3);
		tbg_fake_gpio_drive (5, 1);
		expect_edges (f, 1, "[{\"rd\":1}]");
		tbg_fake_gpio_drive (5, 0);
		tbg_test_peer_assert_quiet (f->peer, "v1/gateway/telemetry", 150);
	}
	for (guint i = 0; i < 2; i++) {
		press (6, 3);
		expect_edges (f, 1, "[{\"fd\":0}]");
	}
	/* both: the level the burst settled at, when it changed */
	press (7, 3);
	tbg_fake_gpio_drive (7, 1);
	expect_edges (f, 1, "[{\"bd\":1}]");
	press (7, 2);
	tbg_fake_gpio_drive (7, 1);
	tbg_fake_gpio_drive (7, 0);
	expect_edges (f, 1, "[{\"bd\":0}]");
	/* a glitch that comes back is no change */
	tbg_fake_gpio_drive (7, 1);
	tbg_fake_gpio_drive (7, 0);
	tbg_test_peer_assert_quiet (f->peer, "v1/gateway/telemetry", 200);
}

/* The periodic report reads the lines, not what was last published. */
static void
test_report_reads_lines (Fixture *f, gconstpointer data)
{
	start_gateway (f, "[gpio:Buttons]\nchip=gpiochip0\nreport-interval-s=1\nline.r=input 0 edge=rising\n");
	expect_edges (f, 1, "[{\"r\":0}]");
	tbg_fake_gpio_drive (0, 1);
	expect_edges (f, 1, "[{\"r\":1}]");
	tbg_fake_gpio_drive (0, 0);   /* no event for a falling edge */
	expect_edges (f, 1, "[{\"r\":0}]");
}

/* ThingsBoard's switch widgets: setValue with a bare boolean, getValue
 * without params, answers read as they are. */
static void
test_widget_rpcs (Fixture *f, gconstpointer data)
{
	start_gateway (f, "[gpio:Pump]\nchip=gpiochip0\nline.pump=output 3\nline.level=input 5\n"
	                  "[gpio:Greenhouse]\nchip=gpiochip0\nline.a=output 0\nline.b=output 1\n"
	                  "[gpio:Lights]\nchip=gpiochip0\ndefault-line=hall\nline.porch=output 6\nline.hall=output 7\n");
	rpc (f, 1, "setValue", "{\"line\":\"a\",\"value\":1}", "{\"line\":\"a\",\"value\":1}");

	tbg_test_gateway_rpc (f->peer, "Pump", 2, "setValue", "true", "true", WAIT_MS);
	g_assert_cmpint (tbg_fake_gpio_level (3), ==, 1);
	tbg_test_gateway_rpc (f->peer, "Pump", 3, "getValue", "null", "1", WAIT_MS);
	tbg_test_gateway_rpc (f->peer, "Pump", 4, "getValue", "{}", "1", WAIT_MS);
	tbg_test_gateway_rpc (f->peer, "Pump", 5, "setValue", "0", "0", WAIT_MS);
	g_assert_cmpint (tbg_fake_gpio_level (3), ==, 0);
	tbg_test_gateway_rpc (f->peer, "Pump", 6, "getValue", "\"\"", "0", WAIT_MS);
	tbg_test_gateway_rpc (f->peer, "Pump", 7, "setValue", "{\"value\":true}", "true", WAIT_MS);
	tbg_test_gateway_rpc (f->peer, "Pump", 8, "setValue", "7", "{\"error\":\"params.value must be 0, 1, true or false\"}", WAIT_MS);
	/* the {"line":…} forms stay as they were */
	tbg_test_gateway_rpc (f->peer, "Pump", 9, "getValue", "{\"line\":\"level\"}", "{\"line\":\"level\",\"value\":0}", WAIT_MS);

	/* two outputs and no default-line: say how to choose */
	tbg_test_gateway_rpc (f->peer, "Greenhouse", 10, "setValue", "true",
	                      "{\"error\":\"params.line must name a line of this device (or set default-line= in [gpio:Greenhouse])\"}", WAIT_MS);
	tbg_test_gateway_rpc (f->peer, "Lights", 11, "setValue", "true", "true", WAIT_MS);
	g_assert_cmpint (tbg_fake_gpio_level (7), ==, 1);
	g_assert_cmpint (tbg_fake_gpio_level (6), ==, 0);
	tbg_test_gateway_rpc (f->peer, "Lights", 12, "getValue", "null", "1", WAIT_MS);
}

/* ---- reload ----------------------------------------------------------------- */

static gpointer gpio_instance;

static gpointer
start_and_keep (TbgGateway *gw, const TbgConfig *cfg, GError **error)
{
	gpio_instance = tbg_source_gpio.start (gw, cfg, error);
	return gpio_instance;
}

static TbgConfig *
load (Fixture *f, const char *groups)
{
	g_autofree char *text = g_strdup_printf ("[storage]\npath=memory\n[server]\nport=%u\n"
	                                         "[gateway]\nstats-interval-s=0\n%s",
	                                         tbg_test_broker_port (f->broker), groups);
	const char * const prefixes[] = { "gpio", NULL };
	g_autoptr (GError) error = NULL;
	TbgConfig *cfg;

	g_assert_true (g_file_set_contents (f->conf, text, -1, NULL));
	cfg = tbg_config_load (f->conf, prefixes, &error);
	g_assert_no_error (error);
	return cfg;
}

#define RELOAD_A "[gpio:Greenhouse]\nchip=gpiochip0\nline.pump=output 3 initial=0\nline.button=input 5\n" \
	"[gpio:Shed]\nchip=gpiochip0\nline.lamp=output 4\n"

/* The source's reload hooks as the core calls them: validate first, then
 * reconfigure. An unchanged device is left alone (its outputs keep the
 * level an RPC set, no disconnect, no second request); a changed one is
 * re-created, a removed one removed, a new one added; a bad file is
 * refused with file:line; a new device whose line is busy fails alone. */
static void
test_reconfigure (Fixture *f, gconstpointer data)
{
	TbgSource keeper = tbg_source_gpio;
	const TbgSource * const kept[] = { &keeper, NULL };
	const char * const prefixes[] = { "gpio", NULL };
	g_autoptr (GError) error = NULL;
	g_autoptr (TbgConfig) b = NULL;
	g_autoptr (TbgConfig) c = NULL;
	g_autoptr (TbgConfig) bad = NULL;

	keeper.start = start_and_keep;
	f->gw = tbg_test_gateway_new (f->conf, tbg_test_broker_port (f->broker), RELOAD_A, prefixes, kept, &error);
	g_assert_no_error (error);
	g_assert_true (tbg_test_wait_until (tbg_test_gateway_link_is_up, f->gw, WAIT_MS));
	tbg_test_peer_expect_json (f->peer, "v1/gateway/connect", "{\"device\":\"Greenhouse\",\"type\":\"default\"}", WAIT_MS);
	tbg_test_peer_expect_json (f->peer, "v1/gateway/connect", "{\"device\":\"Shed\",\"type\":\"default\"}", WAIT_MS);
	rpc (f, 1, "setValue", "{\"line\":\"pump\",\"value\":1}", "{\"line\":\"pump\",\"value\":1}");
	g_assert_cmpint (tbg_fake_gpio_level (3), ==, 1);

	/* the same Greenhouse (keys in another order), Shed changed, Barn new
	 * but its line busy, Porch new */
	tbg_fake_gpio_set_busy (1, "someone-else");
	tbg_test_log_capture ();
	b = load (f, "[gpio:Shed]\nchip=gpiochip0\nline.lamp=output 4 initial=1\n"
	             "[gpio:Greenhouse]\nline.button=input 5\nline.pump=output 3 initial=0\nchip=gpiochip0\n"
	             "[gpio:Barn]\nchip=gpiochip0\nline.x=output 1\n"
	             "[gpio:Porch]\nchip=gpiochip0\nline.y=output 2\n");
	g_assert_true (tbg_source_gpio.validate (b, &error));
	g_assert_no_error (error);
	tbg_source_gpio.reconfigure (gpio_instance, tbg_gateway_get_config (f->gw), b);
	tbg_test_peer_expect_json (f->peer, "v1/gateway/disconnect", "{\"device\":\"Shed\"}", WAIT_MS);
	tbg_test_peer_expect_json (f->peer, "v1/gateway/connect", "{\"device\":\"Shed\",\"type\":\"default\"}", WAIT_MS);
	tbg_test_peer_expect_json (f->peer, "v1/gateway/connect", "{\"device\":\"Porch\",\"type\":\"default\"}", WAIT_MS);
	g_assert_cmpuint (tbg_test_log_count ("*[gpio:Barn]: GPIO line “1” (x) on gpiochip0: Device or resource busy; "
	                                      "in use by someone-else*"), ==, 1);
	g_assert_cmpint (tbg_fake_gpio_level (3), ==, 1);
	g_assert_cmpuint (tbg_fake_gpio_requests (3), ==, 1);
	g_assert_cmpuint (tbg_fake_gpio_requests (5), ==, 1);
	g_assert_cmpint (tbg_fake_gpio_level (4), ==, 1);   /* the new initial= */
	g_assert_cmpuint (tbg_fake_gpio_requests (4), ==, 2);
	/* Greenhouse still answers, from the same request */
	rpc (f, 2, "getValue", "{\"line\":\"pump\"}", "{\"line\":\"pump\",\"value\":1}");

	/* a bad file: refused with where, nothing changes */
	bad = load (f, "[gpio:Greenhouse]\nchip=gpiochip0\nline.pump=output 3 edge=both\n");
	g_assert_false (tbg_source_gpio.validate (bad, &error));
	g_assert_nonnull (strstr (error->message, ".conf:9: [gpio:Greenhouse] line.pump: “edge=both” applies to inputs only"));
	g_clear_error (&error);
	g_assert_cmpint (tbg_fake_gpio_level (3), ==, 1);

	/* Shed removed: its line is free at once */
	c = load (f, "[gpio:Greenhouse]\nchip=gpiochip0\nline.pump=output 3 initial=0\nline.button=input 5\n"
	             "[gpio:Barn]\nchip=gpiochip0\nline.x=output 1\n"
	             "[gpio:Porch]\nchip=gpiochip0\nline.y=output 2\n");
	tbg_source_gpio.reconfigure (gpio_instance, b, c);
	tbg_test_peer_expect_json (f->peer, "v1/gateway/disconnect", "{\"device\":\"Shed\"}", WAIT_MS);
	g_assert_false (tbg_fake_gpio_requested (4));
	g_assert_cmpint (tbg_fake_gpio_level (3), ==, 1);
	g_assert_cmpuint (tbg_fake_gpio_requests (3), ==, 1);
	g_assert_false (tbg_fake_gpio_requested (1));
	g_assert_null (tbg_gateway_lookup_device (f->gw, "Shed"));
	tbg_test_peer_assert_quiet (f->peer, "v1/gateway/disconnect", 200);
	g_clear_object (&f->gw);
	tbg_fake_gpio_set_busy (1, NULL);
}

/* Through the core's reload: a line that is busy now is no fault of the
 * file, so the reload goes through; the device that wants the line fails
 * alone, says why, and connects once the line is free, while the rest of
 * the new file applies. The same line twice is the file's fault: refused
 * with file:line, nothing changes. */
static void
test_reload_busy_line (Fixture *f, gconstpointer data)
{
	g_autoptr (GError) error = NULL;

	f->gw = make_gateway (f, RELOAD_A, &error);
	g_assert_no_error (error);
	g_assert_true (tbg_test_wait_until (tbg_test_gateway_link_is_up, f->gw, WAIT_MS));
	tbg_test_peer_expect_json (f->peer, "v1/gateway/connect", "{\"device\":\"Greenhouse\",\"type\":\"default\"}", WAIT_MS);
	tbg_test_peer_expect_json (f->peer, "v1/gateway/connect", "{\"device\":\"Shed\",\"type\":\"default\"}", WAIT_MS);
	rpc (f, 1, "setValue", "{\"line\":\"pump\",\"value\":1}", "{\"line\":\"pump\",\"value\":1}");

	/* Shed moves to a line someone else holds; Porch is new */
	tbg_fake_gpio_set_busy (1, "someone-else");
	tbg_test_log_capture ();
	g_assert_true (tbg_gateway_reload (f->gw, load (f, "[gpio:Greenhouse]\nchip=gpiochip0\nline.pump=output 3 initial=0\n"
	                                                   "line.button=input 5\n"
	                                                   "[gpio:Shed]\nchip=gpiochip0\nretry-interval-s=1\nline.lamp=output 1\n"
	                                                   "[gpio:Porch]\nchip=gpiochip0\nline.y=output 2\n"), &error));
	g_assert_no_error (error);
	tbg_test_peer_expect_json (f->peer, "v1/gateway/disconnect", "{\"device\":\"Shed\"}", WAIT_MS);
	tbg_test_peer_expect_json (f->peer, "v1/gateway/connect", "{\"device\":\"Porch\",\"type\":\"default\"}", WAIT_MS);
	g_assert_cmpuint (tbg_test_log_count ("*[gpio:Shed]: GPIO line “1” (lamp) on gpiochip0: Device or resource busy; "
	                                      "in use by someone-else; device unavailable, retrying every 1 s*"), ==, 1);
	g_assert_cmpuint (tbg_test_log_count ("*Configuration reloaded*"), ==, 1);
	g_assert_true (tbg_fake_gpio_requested (2));
	g_assert_false (tbg_fake_gpio_requested (4));
	g_assert_cmpint (tbg_fake_gpio_level (3), ==, 1);
	g_assert_cmpuint (tbg_fake_gpio_requests (3), ==, 1);
	tbg_test_gateway_rpc (f->peer, "Shed", 2, "setValue", "true",
	                      "{\"error\":\"device not available: GPIO line “1” (lamp) on gpiochip0: "
	                      "Device or resource busy; in use by someone-else\"}", WAIT_MS);

	/* the line comes free: Shed connects on its next retry */
	tbg_fake_gpio_set_busy (1, NULL);
	tbg_test_peer_expect_json (f->peer, "v1/gateway/connect", "{\"device\":\"Shed\",\"type\":\"default\"}", WAIT_MS);
	g_assert_true (tbg_fake_gpio_requested (1));
	g_assert_cmpuint (tbg_test_log_count ("*[gpio:Shed]: lines available; device connected*"), ==, 1);
	tbg_test_gateway_rpc (f->peer, "Shed", 3, "setValue", "true", "true", WAIT_MS);
	g_assert_cmpint (tbg_fake_gpio_level (1), ==, 1);

	/* line 2 twice (as 2 and 02): refused, and nothing stops */
	g_assert_false (tbg_gateway_reload (f->gw, load (f, "[gpio:Greenhouse]\nchip=gpiochip0\nline.pump=output 3 initial=0\n"
	                                                    "line.button=input 5\n"
	                                                    "[gpio:Porch]\nchip=gpiochip0\nline.y=output 2\nline.z=output 02\n"), &error));
	g_assert_nonnull (error);
	if (strstr (error->message, ".conf:14: [gpio:Porch] line.z: line 02 is also [gpio:Porch] line.y") == NULL)
		g_error ("unexpected: %s", error->message);
	g_clear_error (&error);
	g_assert_true (tbg_fake_gpio_requested (1));
	g_assert_true (tbg_fake_gpio_requested (2));
	g_assert_cmpint (tbg_fake_gpio_level (3), ==, 1);
	tbg_test_peer_assert_quiet (f->peer, "v1/gateway/disconnect", 200);
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
	ADD ("config-errors", test_config_errors, NULL);
	ADD ("header-chip-named", test_header_chip_named, NULL);
	ADD ("chips-and-line-names", test_chips_and_line_names, NULL);
	ADD ("one-bad-line-fails-one-device", test_one_bad_line_fails_one_device, NULL);
	ADD ("edges", test_edges, NULL);
	ADD ("edges-debounced", test_edges_debounced, NULL);
	ADD ("report-reads-lines", test_report_reads_lines, NULL);
	ADD ("widget-rpcs", test_widget_rpcs, NULL);
	ADD ("reconfigure", test_reconfigure, NULL);
	ADD ("reload-busy-line", test_reload_busy_line, NULL);
#undef ADD
	return g_test_run ();
}
