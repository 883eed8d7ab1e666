/* SPDX-License-Identifier: Apache-2.0 */
/* The GPIO source on a real GPIO chip, with the libgpiod backend this
 * build has (1.x or 2.x): runs inside an arm64 VM (tests/hw/run-vm.sh),
 * where QEMU's virt machine has a PL061 gpiochip0 with 8 lines; line 3 is
 * its power button, which the host presses (QEMU monitor
 * "system_powerdown") when this program prints TBGW-HW-PRESS.
 *
 * The gateway runs in this process with the real backend, a real mosquitto
 * and a peer playing ThingsBoard; line levels, holders and directions are
 * checked independently of libgpiod, in the kernel's own view (debugfs and
 * the GPIO character device's ioctls), so that one test serves both
 * libgpiod versions.
 */
#include "build-config.h"
#include "gateway.h"
#include "gpio-backend.h"
#include "test-broker.h"
#include "test-peer.h"
#include "test-util.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <linux/gpio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <unistd.h>

#define WAIT_MS 30000   /* all of this runs under TCG emulation */
#define BUTTON  3

extern const TbgSource tbg_source_gpio;
static const TbgSource * const sources[] = { &tbg_source_gpio, NULL };

typedef struct {
	TbgTestBroker *broker;
	TbgTestPeer   *peer;
	TbgGateway    *gw;
	char          *conf;
} Fixture;

static char chip_label[GPIO_MAX_NAME_SIZE];   /* what the kernel calls gpiochip0 */

static TbgGateway *
make_gateway (Fixture *f, const char *groups, GError **error)
{
	const char * const prefixes[] = { "gpio", NULL };

	return tbg_test_gateway_new (f->conf, tbg_test_broker_port (f->broker), groups, prefixes, sources,
	                             error);
}

static void
setup (Fixture *f, gconstpointer data)
{
	f->conf = g_build_filename (g_get_tmp_dir (), "tbgw-gpio-hw.conf", NULL);
	f->broker = tbg_test_broker_start ();
	f->peer = tbg_test_peer_new (tbg_test_broker_port (f->broker));
}

static void
teardown (Fixture *f, gconstpointer data)
{
	g_clear_object (&f->gw);
	tbg_test_peer_free (f->peer);
	tbg_test_broker_free (f->broker);
	g_unlink (f->conf);
	g_free (f->conf);
}

static void
start_gateway (Fixture *f, const char *groups)
{
	g_autoptr (GError) error = NULL;

	f->gw = make_gateway (f, groups, &error);
	g_assert_no_error (error);
	g_assert_true (tbg_test_wait_until (tbg_test_gateway_link_is_up, f->gw, WAIT_MS));
}

static int
open_chip (void)
{
	int fd = open ("/dev/gpiochip0", O_RDWR | O_CLOEXEC);

	g_assert_cmpint (fd, >=, 0);
	return fd;
}

/* The level the kernel reads on line @offset of gpiochip0 ("hi" or "lo"),
 * from /sys/kernel/debug/gpio, independently of libgpiod:
 *   gpiochip0: GPIOs 512-519, parent: platform/9030000.pl061, 9030000.pl061:
 *    gpio-512 (                    |tbgwd               ) out hi
 * Only requested lines are listed. */
static char *
kernel_level (guint offset)
{
	g_autofree char *text = NULL;
	g_auto (GStrv) lines = NULL;
	long base = -1;

	g_assert_true (g_file_get_contents ("/sys/kernel/debug/gpio", &text, NULL, NULL));
	lines = g_strsplit (text, "\n", -1);
	for (guint i = 0; lines[i] != NULL; i++) {
		const char *p;

		if (g_str_has_prefix (lines[i], "gpiochip")) {
			base = -1;
			if (g_str_has_prefix (lines[i], "gpiochip0: GPIOs "))
				base = strtol (lines[i] + strlen ("gpiochip0: GPIOs "), NULL, 10);
			continue;
		}
		if (base < 0 || !g_str_has_prefix (lines[i], " gpio-") ||
		    strtol (lines[i] + strlen (" gpio-"), NULL, 10) - base != (long) offset)
			continue;
		p = strchr (lines[i], ')');
		g_assert_nonnull (p);
		if (strstr (p, " hi") != NULL)
			return g_strdup ("hi");
		if (strstr (p, " lo") != NULL)
			return g_strdup ("lo");
		g_error ("cannot read the level in “%s”", lines[i]);
	}
	return NULL;
}

#define assert_level(offset, level) G_STMT_START { \
	g_autofree char *got_ = kernel_level (offset); \
	g_assert_cmpstr (got_, ==, level); \
} G_STMT_END

/* Who holds line @offset, as the kernel reports it (NULL: nobody). */
static char *
line_consumer (guint offset, gboolean *output)
{
	struct gpio_v2_line_info info = { .offset = offset };
	int fd = open_chip ();

	g_assert_cmpint (ioctl (fd, GPIO_V2_GET_LINEINFO_IOCTL, &info), ==, 0);
	close (fd);
	if (output != NULL)
		*output = (info.flags & GPIO_V2_LINE_FLAG_OUTPUT) != 0;
	return info.flags & GPIO_V2_LINE_FLAG_USED ? g_strndup (info.consumer, sizeof info.consumer) : NULL;
}

/* Someone else takes line @offset as an output; close the result to let go. */
static int
hold_line (guint offset, const char *consumer)
{
	struct gpio_v2_line_request req = { .offsets = { offset }, .num_lines = 1 };
	int fd = open_chip ();

	req.config.flags = GPIO_V2_LINE_FLAG_OUTPUT;
	g_strlcpy (req.consumer, consumer, sizeof req.consumer);
	g_assert_cmpint (ioctl (fd, GPIO_V2_GET_LINE_IOCTL, &req), ==, 0);
	close (fd);
	return req.fd;
}

static gboolean
button_is_low (gpointer data)
{
	g_autofree char *level = kernel_level (BUTTON);

	return g_strcmp0 (level, "lo") == 0;
}

/* Asks the host to press the power button (high for 100 ms). */
static void
press_button (void)
{
	printf ("TBGW-HW-PRESS\n");
	fflush (stdout);
}

#define expect_values(f, expected) tbg_test_expect_sample_values ((f)->peer, "Relays", (expected), WAIT_MS)
#define rpc(f, id, method, params, expected) \
	tbg_test_gateway_rpc ((f)->peer, "Relays", (id), (method), (params), (expected), WAIT_MS)

static int
gint64_cmp (const gint64 *a, const gint64 *b)
{
	return (*a > *b) - (*a < *b);
}

static void
test_chip (Fixture *f, gconstpointer data)
{
	struct gpiochip_info info = { { 0 } };
	int fd = open_chip ();

	g_assert_cmpint (ioctl (fd, GPIO_GET_CHIPINFO_IOCTL, &info), ==, 0);
	close (fd);
	g_assert_cmpuint (info.lines, ==, 8);
	memcpy (chip_label, info.label, sizeof chip_label);
	chip_label[sizeof chip_label - 1] = '\0';
	g_test_message ("gpiochip0 is “%s”; the backend is %s", chip_label, tbg_gpio_libgpiod.name);
}

/* Outputs driven by RPCs and attributes, the button's edges as telemetry
 * stamped with the event's time, and every line released at the end. */
static void
test_relays_and_button (Fixture *f, gconstpointer data)
{
	g_autoptr (GError) error = NULL;
	/* the chip by its label, as a user may write it */
	g_autofree char *groups = g_strdup_printf (
		"[gpio:Relays]\nchip=%s\ntype=Relays\n"
		"line.relay=output 0 initial=0\n"
		"line.lamp=output 1 active-low initial=1\n"
		"line.button=input %u edge=both\n", chip_label[0] ? chip_label : "gpiochip0", BUTTON);
	g_autofree char *consumer = NULL;
	gboolean output = FALSE;
	gint64 before, ts_press, ts_release;
	json_t *v;

	f->gw = make_gateway (f, groups, &error);
	g_assert_no_error (error);
	g_assert_true (tbg_test_wait_until (tbg_test_gateway_link_is_up, f->gw, WAIT_MS));
	tbg_test_peer_expect_json (f->peer, "v1/gateway/connect", "{\"device\":\"Relays\",\"type\":\"Relays\"}",
	                           WAIT_MS);
	expect_values (f, "{\"relay\":0,\"lamp\":1,\"button\":0}");

	/* requested once, as tbgwd, with the directions asked for */
	consumer = line_consumer (0, &output);
	g_assert_cmpstr (consumer, ==, "tbgwd");
	g_assert_true (output);
	g_clear_pointer (&consumer, g_free);
	consumer = line_consumer (BUTTON, &output);
	g_assert_cmpstr (consumer, ==, "tbgwd");
	g_assert_false (output);
	g_clear_pointer (&consumer, g_free);
	assert_level (0, "lo");
	assert_level (1, "lo");   /* lamp on, active low */

	rpc (f, 1, "setValue", "{\"line\":\"relay\",\"value\":1}", "{\"line\":\"relay\",\"value\":1}");
	assert_level (0, "hi");
	expect_values (f, "{\"relay\":1}");
	rpc (f, 2, "toggle", "{\"line\":\"lamp\"}", "{\"line\":\"lamp\",\"value\":0}");
	assert_level (1, "hi");
	expect_values (f, "{\"lamp\":0}");
	rpc (f, 3, "getValue", "{\"line\":\"relay\"}", "{\"line\":\"relay\",\"value\":1}");
	rpc (f, 4, "setValue", "{\"line\":\"button\",\"value\":1}", "{\"error\":\"line “button” is an input\"}");
	rpc (f, 5, "setValue", "{\"line\":\"relay\",\"value\":0}", "{\"line\":\"relay\",\"value\":0}");
	expect_values (f, "{\"relay\":0}");
	assert_level (0, "lo");
	rpc (f, 6, "pulse", "{\"line\":\"relay\",\"ms\":300}", "{\"line\":\"relay\",\"value\":1}");
	expect_values (f, "{\"relay\":1}");
	expect_values (f, "{\"relay\":0}");
	assert_level (0, "lo");
	tbg_test_peer_publish (f->peer, "v1/gateway/attributes", "{\"device\":\"Relays\",\"data\":{\"relay\":true}}");
	expect_values (f, "{\"relay\":1}");
	assert_level (0, "hi");

	/* A measurement, not a check: the round trip through the real chip
	 * (under TCG emulation; see make bench for the host's figure). */
	{
		GArray *us = g_array_new (FALSE, FALSE, sizeof (gint64));

		/* relay is 1: start with 0 so that every RPC changes it */
		for (int i = 0; i < 200; i++) {
			g_autofree char *params = g_strdup_printf ("{\"line\":\"relay\",\"value\":%d}", i % 2);
			g_autofree char *answer = g_strdup_printf ("{\"line\":\"relay\",\"value\":%d}", i % 2);
			gint64 t0 = g_get_monotonic_time (), dt;

			rpc (f, 100 + i, "setValue", params, answer);
			dt = g_get_monotonic_time () - t0;
			g_array_append_val (us, dt);
			tbg_test_message_free (tbg_test_peer_expect (f->peer, "v1/gateway/telemetry", WAIT_MS));
		}
		g_array_sort (us, (GCompareFunc) gint64_cmp);
		g_test_message ("setValue round trip on the PL061 with %s (emulated arm64): p50 %.2f ms, p99 %.2f ms",
		                tbg_gpio_libgpiod.name, g_array_index (us, gint64, 100) / 1000.0,
		                g_array_index (us, gint64, 197) / 1000.0);
		g_array_unref (us);
	}
	assert_level (0, "hi");   /* the last one set it */

	/* QEMU's power button holds line 3 high for 100 ms */
	before = g_get_real_time () / 1000;
	press_button ();
	v = tbg_test_expect_sample (f->peer, "Relays", WAIT_MS, &ts_press);
	g_assert_cmpint (json_integer_value (json_object_get (v, "button")), ==, 1);
	json_decref (v);
	v = tbg_test_expect_sample (f->peer, "Relays", WAIT_MS, &ts_release);
	g_assert_cmpint (json_integer_value (json_object_get (v, "button")), ==, 0);
	json_decref (v);
	g_test_message ("button: pressed at +%" G_GINT64_FORMAT " ms, held %" G_GINT64_FORMAT " ms",
	                ts_press - before, ts_release - ts_press);
	g_assert_cmpint (ts_press, >=, before - 1000);
	/* the events' own times: the press lasted about QEMU's 100 ms */
	g_assert_cmpint (ts_release - ts_press, >=, 50);
	g_assert_cmpint (ts_release - ts_press, <=, 2000);

	g_clear_object (&f->gw);
	consumer = line_consumer (0, NULL);
	g_assert_null (consumer);
	consumer = line_consumer (BUTTON, NULL);
	g_assert_null (consumer);
}

/* edge=rising reports every press, edge=falling every release, each at
 * the edge's own time. */
static void
test_edge_kinds (Fixture *f, gconstpointer data)
{
	static const char * const kinds[] = { "rising", "falling" };

	for (guint k = 0; k < G_N_ELEMENTS (kinds); k++) {
		g_autofree char *groups = g_strdup_printf ("[gpio:Button]\nchip=gpiochip0\nreport-interval-s=0\n"
		                                           "line.button=input %u edge=%s\n", BUTTON, kinds[k]);
		gint64 last = 0;

		start_gateway (f, groups);
		tbg_test_peer_expect_json (f->peer, "v1/gateway/connect", "{\"device\":\"Button\",\"type\":\"default\"}",
		                           WAIT_MS);
		tbg_test_expect_sample_values (f->peer, "Button", "{\"button\":0}", WAIT_MS);
		for (guint i = 0; i < 3; i++) {
			gint64 ts;
			json_t *v;

			press_button ();
			v = tbg_test_expect_sample (f->peer, "Button", WAIT_MS, &ts);
			g_assert_cmpint (json_integer_value (json_object_get (v, "button")), ==, k == 0 ? 1 : 0);
			json_decref (v);
			g_assert_cmpint (ts, >, last);
			last = ts;
			/* the next press only after this one is over */
			g_assert_true (tbg_test_wait_until (button_is_low, NULL, WAIT_MS));
		}
		g_test_message ("edge=%s: 3 presses, 3 samples", kinds[k]);
		tbg_test_peer_assert_quiet (f->peer, "v1/gateway/telemetry", 500);
		g_clear_object (&f->gw);
	}
}

/* A line held by someone else, or one the chip does not have: that
 * device alone is unavailable, with a log line naming the line and its
 * holder; the busy one connects once the line is free. */
static void
test_busy_and_missing (Fixture *f, gconstpointer data)
{
	int held = hold_line (2, "someone-else");
	g_autofree char *consumer = NULL;

	tbg_test_log_capture ();
	start_gateway (f, "[gpio:A]\nchip=/dev/gpiochip0\nretry-interval-s=1\nline.x=output 2 initial=1\n"
	                  "[gpio:B]\nchip=gpiochip0\nline.y=output 12\n"
	                  "[gpio:C]\nchip=gpiochip0\nline.z=output 0\n");
	tbg_test_peer_expect_json (f->peer, "v1/gateway/connect", "{\"device\":\"C\",\"type\":\"default\"}", WAIT_MS);
	g_assert_cmpuint (tbg_test_log_count ("*[gpio:A]: GPIO line “2” (x) on gpiochip0: Device or resource busy; "
	                                      "in use by someone-else; device unavailable*"), ==, 1);
	g_assert_cmpuint (tbg_test_log_count ("*[gpio:B]: GPIO line “12” (y) does not exist on gpiochip0 (8 lines)*"), ==, 1);
	consumer = line_consumer (2, NULL);
	g_assert_cmpstr (consumer, ==, "someone-else");
	g_clear_pointer (&consumer, g_free);

	close (held);
	tbg_test_peer_expect_json (f->peer, "v1/gateway/connect", "{\"device\":\"A\",\"type\":\"default\"}", WAIT_MS);
	consumer = line_consumer (2, NULL);
	g_assert_cmpstr (consumer, ==, "tbgwd");
	assert_level (2, "hi");
}

/* The source's reload hooks, as the core calls them on SIGHUP: with an
 * unchanged file an output set by an RPC keeps its level in the kernel's
 * view, and the device does not disconnect. */
static gpointer gpio_instance;

static gpointer
start_and_keep (TbgGateway *gw, const TbgConfig *cfg, GError **error)
{
	gpio_instance = tbg_source_gpio.start (gw, cfg, error);
	return gpio_instance;
}

static void
test_reload_keeps_levels (Fixture *f, gconstpointer data)
{
	TbgSource keeper = tbg_source_gpio;
	const TbgSource * const kept[] = { &keeper, NULL };
	const char * const prefixes[] = { "gpio", NULL };
	const char groups[] = "[gpio:Relays]\nchip=gpiochip0\nline.relay=output 0 initial=0\n";
	g_autoptr (GError) error = NULL;
	g_autoptr (TbgConfig) again = NULL;
	g_autofree char *consumer = NULL;

	keeper.start = start_and_keep;
	f->gw = tbg_test_gateway_new (f->conf, tbg_test_broker_port (f->broker), groups, prefixes, kept, &error);
	g_assert_no_error (error);
	g_assert_true (tbg_test_wait_until (tbg_test_gateway_link_is_up, f->gw, WAIT_MS));
	tbg_test_peer_expect_json (f->peer, "v1/gateway/connect", "{\"device\":\"Relays\",\"type\":\"default\"}", WAIT_MS);
	rpc (f, 1, "setValue", "true", "true");
	assert_level (0, "hi");

	/* the same file read again */
	again = tbg_config_load (f->conf, prefixes, &error);
	g_assert_no_error (error);
	g_assert_true (tbg_source_gpio.validate (again, &error));
	tbg_source_gpio.reconfigure (gpio_instance, tbg_gateway_get_config (f->gw), again);
	assert_level (0, "hi");
	consumer = line_consumer (0, NULL);
	g_assert_cmpstr (consumer, ==, "tbgwd");
	rpc (f, 2, "getValue", "null", "1");
	tbg_test_peer_assert_quiet (f->peer, "v1/gateway/disconnect", 500);
	g_clear_object (&f->gw);
}

int
main (int argc, char **argv)
{
	g_test_init (&argc, &argv, NULL);
	/* a device that cannot have its line warns, and the test checks that */
	g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
	/* the level checks read the kernel's debugfs */
	if (!g_file_test ("/sys/kernel/debug/gpio", G_FILE_TEST_EXISTS))
		mount ("debugfs", "/sys/kernel/debug", "debugfs", 0, NULL);
	g_test_add ("/hw/gpio/chip", Fixture, NULL, NULL, test_chip, NULL);
	g_test_add ("/hw/gpio/relays-and-button", Fixture, NULL, setup, test_relays_and_button, teardown);
	g_test_add ("/hw/gpio/edge-kinds", Fixture, NULL, setup, test_edge_kinds, teardown);
	g_test_add ("/hw/gpio/busy-and-missing", Fixture, NULL, setup, test_busy_and_missing, teardown);
	g_test_add ("/hw/gpio/reload-keeps-levels", Fixture, NULL, setup, test_reload_keeps_levels, teardown);
	return g_test_run ();
}
