/* SPDX-License-Identifier: Apache-2.0 */
/* bench-floor — the smallest process that does what tbgwd cannot do without:
 * a GIO D-Bus client on the system bus and (built with WITH_MQTT) a
 * libmosquitto client connected to the broker. bench-throughput measures its
 * idle memory next to tbgwd's, so the table shows what the stack itself costs
 * before any gateway code runs. Idles until killed.
 *
 *   bench-floor-gio
 *   bench-floor-mqtt PORT
 */
#include <gio/gio.h>
#ifdef WITH_MQTT
#include <mosquitto.h>
#endif
#include <stdio.h>
#include <stdlib.h>

int
main (int argc, char **argv)
{
	g_autoptr (GError) error = NULL;
	g_autoptr (GMainLoop) loop = g_main_loop_new (NULL, FALSE);
	g_autoptr (GDBusConnection) bus = g_bus_get_sync (G_BUS_TYPE_SYSTEM, NULL, &error);

	if (bus == NULL) {
		fprintf (stderr, "bench-floor: no system bus: %s\n", error->message);
		return 1;
	}
#ifdef WITH_MQTT
	{
		struct mosquitto *m;

		if (argc < 2) {
			fprintf (stderr, "usage: %s PORT\n", argv[0]);
			return 2;
		}
		mosquitto_lib_init ();
		m = mosquitto_new (NULL, true, NULL);
		if (m == NULL || mosquitto_connect (m, "127.0.0.1", atoi (argv[1]), 60) != MOSQ_ERR_SUCCESS) {
			fprintf (stderr, "bench-floor: cannot connect to the broker\n");
			return 1;
		}
		mosquitto_loop (m, 1000, 1);   /* reads the CONNACK */
	}
#else
	(void) argc;
	(void) argv;
#endif
	g_main_loop_run (loop);
	return 0;
}
