/* SPDX-License-Identifier: Apache-2.0 */
/* bench-gpio — latency of a GPIO RPC through a real broker: the peer
 * publishes setValue, tbgwd's code sets the line (fake chip, in process,
 * standing where either libgpiod backend would) and the answer comes
 * back. Reports p50/p90/p99 over N round trips for each request form.
 * The real backends on a real chip are timed by make check-hw. */
#include "build-config.h"
#include "gateway.h"
#include "../gpio-fake.h"
#include "../test-broker.h"
#include "../test-peer.h"
#include "../test-util.h"

#include <glib/gstdio.h>
#include <stdio.h>
#include <stdlib.h>

extern const TbgSource tbg_source_gpio;
void tbg_source_gpio_set_backend (const TbgGpioBackend *b);
static const TbgSource * const sources[] = { &tbg_source_gpio, NULL };

static int
cmp (const void *a, const void *b)
{
	gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;

	return (x > y) - (x < y);
}

int
main (int argc, char **argv)
{
	guint n = argc > 1 ? (guint) atoi (argv[1]) : 2000;
	g_autoptr (GError) error = NULL;
	g_autofree char *conf = g_build_filename (g_get_tmp_dir (), "tbgw-bench-gpio.conf", NULL);
	TbgTestBroker *broker;
	TbgTestPeer *peer;
	g_autofree char *text = NULL;
	const char * const prefixes[] = { "gpio", NULL };
	TbgConfig *cfg;
	TbgGateway *gw;
	gint64 *rtt = g_new (gint64, n);

	g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
	tbg_fake_gpio_reset ();
	tbg_source_gpio_set_backend (&tbg_gpio_fake);
	broker = tbg_test_broker_start ();
	peer = tbg_test_peer_new (tbg_test_broker_port (broker));
	text = g_strdup_printf ("[storage]\npath=memory\n[server]\nport=%u\n[gateway]\nstats-interval-s=0\n"
	                        "[gpio:Relays]\nchip=gpiochip0\nline.pump=output 3\n", tbg_test_broker_port (broker));
	g_file_set_contents (conf, text, -1, NULL);
	cfg = tbg_config_load (conf, prefixes, &error);
	g_assert_no_error (error);
	gw = tbg_gateway_new (cfg, sources, &error);
	g_assert_no_error (error);
	g_assert_true (tbg_gateway_start (gw, &error));
	g_assert_true (tbg_test_wait_until (tbg_test_gateway_link_is_up, gw, 5000));
	tbg_test_run_main_loop_for (300);
	while (tbg_test_peer_pending (peer) > 0)
		tbg_test_message_free (tbg_test_peer_wait (peer, NULL, 10));

	/* the {"line":…} form, then the bare one of ThingsBoard's switch widgets */
	for (guint form = 0; form < 2; form++) {
		for (guint i = 0; i < n; i++) {
			g_autofree char *params = form == 0 ? g_strdup_printf ("{\"line\":\"pump\",\"value\":%u}", i % 2)
			                                    : g_strdup (i % 2 ? "true" : "false");
			g_autofree char *req = g_strdup_printf ("{\"device\":\"Relays\",\"data\":{\"id\":%u,"
			                                        "\"method\":\"setValue\",\"params\":%s}}", i, params);
			gint64 t0 = g_get_monotonic_time ();
			TbgTestMessage *m;

			tbg_test_peer_publish (peer, "v1/gateway/rpc", req);
			m = tbg_test_peer_expect (peer, "v1/gateway/rpc", 5000);
			rtt[i] = g_get_monotonic_time () - t0;
			g_assert_cmpint (tbg_fake_gpio_level (3), ==, (int) (i % 2));
			tbg_test_message_free (m);
			/* the state telemetry that follows every change */
			while (tbg_test_peer_pending (peer) > 0)
				tbg_test_message_free (tbg_test_peer_wait (peer, NULL, 10));
		}
		qsort (rtt, n, sizeof *rtt, cmp);
		printf ("GPIO RPC round trip (broker → tbgwd → line set → reply at the broker), %u RPCs, %s\n", n,
		        form == 0 ? "setValue {\"line\":\"pump\",\"value\":N}" : "setValue true/false");
		printf ("  p50 %.3f ms   p90 %.3f ms   p99 %.3f ms   max %.3f ms\n", rtt[n / 2] / 1000.0,
		        rtt[n * 9 / 10] / 1000.0, rtt[n * 99 / 100] / 1000.0, rtt[n - 1] / 1000.0);
	}
	g_object_unref (gw);
	tbg_test_peer_free (peer);
	tbg_test_broker_free (broker);
	g_unlink (conf);
	g_free (rtt);
	return 0;
}
