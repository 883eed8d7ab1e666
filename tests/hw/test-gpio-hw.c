/* The libgpiod backend on a real GPIO chip: runs inside an arm64 VM
 * (tests/hw/run-vm.sh), where QEMU's virt machine has a PL061 gpiochip0
 * with 8 lines; line 3 is its power button, which the host presses (QEMU
 * monitor "system_powerdown") when this program prints TBGW-HW-PRESS.
 *
 * The gateway runs in this process with the real backend, a real mosquitto
 * and a peer playing ThingsBoard; line levels are checked independently of
 * libgpiod in the kernel's own view (debugfs).
 */
#include "build-config.h"
#include "gateway.h"
#include "test-broker.h"
#include "test-peer.h"
#include "test-util.h"

#include <gpiod.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>

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

static char *chip_label;   /* what the kernel calls gpiochip0 */

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
	struct gpiod_chip *chip = gpiod_chip_open_by_name ("gpiochip0");
	struct gpiod_line *line;
	char *consumer = NULL;

	g_assert_nonnull (chip);
	line = gpiod_chip_get_line (chip, offset);
	g_assert_nonnull (line);
	g_assert_cmpint (gpiod_line_update (line), ==, 0);
	if (gpiod_line_is_used (line))
		consumer = g_strdup (gpiod_line_consumer (line));
	if (output != NULL)
		*output = gpiod_line_direction (line) == GPIOD_LINE_DIRECTION_OUTPUT;
	gpiod_chip_close (chip);
	return consumer;
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
	struct gpiod_chip *chip = gpiod_chip_open_by_name ("gpiochip0");

	g_assert_nonnull (chip);
	g_assert_cmpuint (gpiod_chip_num_lines (chip), ==, 8);
	g_test_message ("gpiochip0 is “%s”", gpiod_chip_label (chip));
	chip_label = g_strdup (gpiod_chip_label (chip));
	gpiod_chip_close (chip);
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
		"line.button=input %u edge=both\n", chip_label ? chip_label : "gpiochip0", BUTTON);
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
		g_test_message ("setValue round trip on the PL061 (emulated arm64): p50 %.2f ms, p99 %.2f ms",
		                g_array_index (us, gint64, 100) / 1000.0, g_array_index (us, gint64, 197) / 1000.0);
		g_array_unref (us);
	}
	assert_level (0, "hi");   /* the last one set it */

	/* QEMU's power button holds line 3 high for 100 ms */
	before = g_get_real_time () / 1000;
	printf ("TBGW-HW-PRESS\n");
	fflush (stdout);
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

/* A line held by someone else, or one the chip does not have: a clear
 * error at start-up that names it. */
static void
test_busy_and_missing (Fixture *f, gconstpointer data)
{
	struct gpiod_chip *chip = gpiod_chip_open ("/dev/gpiochip0");
	struct gpiod_line *line = gpiod_chip_get_line (chip, 2);
	g_autoptr (GError) error = NULL;
	TbgGateway *gw;

	g_assert_cmpint (gpiod_line_request_output (line, "someone-else", 0), ==, 0);
	gw = make_gateway (f, "[gpio:A]\nchip=/dev/gpiochip0\nline.x=output 2\n", &error);
	g_assert_null (gw);
	g_assert_nonnull (error);
	g_test_message ("busy: %s", error->message);
	g_assert_nonnull (strstr (error->message, "someone-else"));
	g_clear_error (&error);
	gpiod_line_release (line);
	gpiod_chip_close (chip);

	gw = make_gateway (f, "[gpio:A]\nline.x=output 12\n", &error);
	g_assert_null (gw);
	g_assert_nonnull (error);
	g_test_message ("missing: %s", error->message);
	g_assert_nonnull (strstr (error->message, "“12”"));
}

int
main (int argc, char **argv)
{
	g_test_init (&argc, &argv, NULL);
	/* the level checks read the kernel's debugfs */
	if (!g_file_test ("/sys/kernel/debug/gpio", G_FILE_TEST_EXISTS))
		mount ("debugfs", "/sys/kernel/debug", "debugfs", 0, NULL);
	g_test_add ("/hw/gpio/chip", Fixture, NULL, NULL, test_chip, NULL);
	g_test_add ("/hw/gpio/relays-and-button", Fixture, NULL, setup, test_relays_and_button, teardown);
	g_test_add ("/hw/gpio/busy-and-missing", Fixture, NULL, setup, test_busy_and_missing, teardown);
	return g_test_run ();
}
