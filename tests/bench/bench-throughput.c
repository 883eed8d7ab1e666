/* SPDX-License-Identifier: Apache-2.0 */
/* bench-throughput — samples per second end to end, from serial ports
 * (pseudo-terminals) through a real tbgwd to a local mosquitto, counted by a
 * subscriber playing ThingsBoard; tbgwd's CPU time per sample and memory.
 * References: a bare libmosquitto publisher sending the same samples one per
 * publish, and again pre-packed 100 per publish (what this broker allows at
 * most); and the idle memory of a bare GIO D-Bus client, with and without a
 * connected libmosquitto client (bench-floor), the floor of tbgwd's stack.
 * Everything runs against a private dbus-daemon standing in for the system
 * bus. Prints one table. Not a test: `make bench`.
 *
 *   bench-throughput [SAMPLES]            (default 400000 per run)
 *   bench-throughput --bare PORT N PER    (internal: the reference publisher)
 */
#include "build-config.h"
#include "../test-broker.h"

#include <gio/gio.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <mosquitto.h>
#include <pty.h>
#include <sys/prctl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

static volatile gint samples;

static void
on_message (struct mosquitto *m, void *obj, const struct mosquitto_message *msg)
{
	const char *p = msg->payload;
	const char *end = p + msg->payloadlen;
	gint n = 0;

	if (!g_str_equal (msg->topic, "v1/gateway/telemetry"))
		return;
	/* One "ts": per sample; cheap enough to keep up with the gateway. */
	while ((p = memmem (p, end - p, "\"ts\":", 5)) != NULL) {
		n++;
		p += 5;
	}
	g_atomic_int_add (&samples, n);
}

static double
cpu_seconds (GPid pid)
{
	g_autofree char *path = g_strdup_printf ("/proc/%d/stat", pid);
	g_autofree char *text = NULL;
	unsigned long ut = 0, st = 0;
	char *p;

	if (!g_file_get_contents (path, &text, NULL, NULL))
		return 0;
	p = strrchr (text, ')');
	/* fields after the command: state ppid ... utime(14) stime(15) */
	sscanf (p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st);
	return (ut + st) / (double) sysconf (_SC_CLK_TCK);
}

static long
status_kb (GPid pid, const char *file, const char *key)
{
	g_autofree char *path = g_strdup_printf ("/proc/%d/%s", pid, file);
	g_autofree char *text = NULL;
	char *p;

	if (!g_file_get_contents (path, &text, NULL, NULL) || (p = strstr (text, key)) == NULL)
		return -1;
	return strtol (p + strlen (key), NULL, 10);
}

typedef struct {
	const char *label;
	double      rate;      /* samples/s at the broker */
	double      cpu_us;    /* publisher CPU per sample */
	long        idle_rss, peak_rss, idle_dirty;   /* kB; -1: not measured */
	guint       got, sent;
} Row;

static void
die_with_parent (gpointer data)
{
	prctl (PR_SET_PDEATHSIG, SIGTERM);
}

/* A bench stopped half way must not leave a tbgwd behind: it would reopen
 * the next run's pseudo-terminal (same /dev/pts number) and read half its
 * samples. */
static GSubprocess *
spawn (GSubprocessFlags flags, const char *const *argv)
{
	g_autoptr (GSubprocessLauncher) l = g_subprocess_launcher_new (flags);
	g_autoptr (GError) error = NULL;
	GSubprocess *p;

	g_subprocess_launcher_set_child_setup (l, die_with_parent, NULL, NULL);
	p = g_subprocess_launcher_spawnv (l, argv, &error);
	g_assert_no_error (error);
	return p;
}

/* ---- the reference publisher ----------------------------------------------- */

static volatile gint bare_acked;

static void
bare_on_publish (struct mosquitto *m, void *obj, int mid)
{
	g_atomic_int_inc (&bare_acked);
}

/* QoS 1 publishes of the payload tbgwd would send for @per samples of one
 * device, at most 20 in flight (what tbgwd uses by default). */
static int
bare_publisher (guint16 port, guint n, guint per)
{
	struct mosquitto *m;
	GString *payload = g_string_new ("{\"Bench 0\":[");
	guint sent = 0;

	for (guint i = 0; i < per; i++)
		g_string_append_printf (payload, "%s{\"ts\":%" G_GINT64_FORMAT ",\"values\":{\"temp\":%u.5,\"hum\":%u}}",
		                        i ? "," : "", (gint64) 1700000000000 + i, i % 50, i % 100);
	g_string_append (payload, "]}");
	mosquitto_lib_init ();
	m = mosquitto_new (NULL, true, NULL);
	mosquitto_publish_callback_set (m, bare_on_publish);
	mosquitto_int_option (m, MOSQ_OPT_TCP_NODELAY, 1);
	if (mosquitto_connect (m, "127.0.0.1", port, 60) != MOSQ_ERR_SUCCESS)
		return 1;
	while (sent * per < n) {
		while ((gint) sent - g_atomic_int_get (&bare_acked) >= 20)
			mosquitto_loop (m, 10, 1);
		mosquitto_publish (m, NULL, "v1/gateway/telemetry", (int) payload->len, payload->str, 1, false);
		sent++;
		mosquitto_loop (m, 0, 1);
	}
	while (g_atomic_int_get (&bare_acked) < (gint) sent)
		mosquitto_loop (m, 10, 1);
	g_usleep (100000);   /* counted by the parent before we go */
	mosquitto_disconnect (m);
	mosquitto_destroy (m);
	g_string_free (payload, TRUE);
	return 0;
}

static void
wait_for (guint n, gint64 t0)
{
	while ((guint) g_atomic_int_get (&samples) < n && g_get_monotonic_time () - t0 < 120 * G_USEC_PER_SEC)
		g_usleep (500);
}

static Row
run_bare (const char *self, guint16 port, guint n, guint per)
{
	Row r = { NULL, 0, 0, -1, -1, -1, 0, n };
	g_autofree char *ps = g_strdup_printf ("%u", port), *ns = g_strdup_printf ("%u", n);
	g_autofree char *pers = g_strdup_printf ("%u", per);
	g_autoptr (GSubprocess) p = NULL;
	GPid pid;
	gint64 t0;
	double cpu;

	g_atomic_int_set (&samples, 0);
	t0 = g_get_monotonic_time ();
	r.label = per == 1 ? g_strdup ("bare libmosquitto, 1 sample per publish")
	                   : g_strdup_printf ("bare libmosquitto, %u per publish", per);
	p = spawn (G_SUBPROCESS_FLAGS_NONE, (const char *[]) { self, "--bare", ps, ns, pers, NULL });
	pid = atoi (g_subprocess_get_identifier (p));
	wait_for (n, t0);
	r.rate = g_atomic_int_get (&samples) / ((g_get_monotonic_time () - t0) / 1e6);
	cpu = cpu_seconds (pid);
	r.peak_rss = status_kb (pid, "status", "VmHWM:");
	g_subprocess_wait (p, NULL, NULL);
	r.cpu_us = cpu * 1e6 / MAX (1, g_atomic_int_get (&samples));
	r.got = g_atomic_int_get (&samples);
	return r;
}

/* ---- the stack's floor: idle memory of a GIO D-Bus (+ MQTT) client --------- */

static Row
run_floor (const char *dir, const char *program, guint16 port, const char *label)
{
	Row r = { g_strdup (label), -1, -1, -1, -1, -1, 0, 0 };
	g_autofree char *path = g_build_filename (dir, program, NULL);
	g_autofree char *ps = g_strdup_printf ("%u", port);
	g_autoptr (GSubprocess) p = NULL;
	GPid pid;

	p = spawn (G_SUBPROCESS_FLAGS_NONE, (const char *[]) { path, ps, NULL });
	pid = atoi (g_subprocess_get_identifier (p));
	g_usleep (1000000);
	r.idle_rss = status_kb (pid, "status", "VmRSS:");
	r.idle_dirty = status_kb (pid, "smaps_rollup", "Private_Dirty:");
	r.peak_rss = status_kb (pid, "status", "VmHWM:");
	g_subprocess_send_signal (p, SIGTERM);
	g_subprocess_wait (p, NULL, NULL);
	if (!g_subprocess_get_if_signaled (p)) {
		g_printerr ("%s exited early\n", path);
		r.idle_rss = r.idle_dirty = r.peak_rss = -1;
	}
	return r;
}

/* ---- tbgwd with N serial ports ----------------------------------------------- */

static Row
run_tbgwd (const char *tbgwd, guint16 port, guint devices, guint n, gboolean durable)
{
	Row r = { NULL, 0, 0, 0, 0, 0, 0, n };
	g_autofree char *dir = g_dir_make_tmp ("tbgw-bench-XXXXXX", NULL);
	g_autofree char *conf = g_build_filename (dir, "tbgw.conf", NULL);
	GString *text = g_string_new (NULL);
	int *masters = g_new0 (int, devices);
	GSubprocess *proc;
	GPid pid;
	gint64 t0, t1;
	double cpu0, cpu1;
	GString *chunk = g_string_new (NULL);
	guint per_write = devices == 1 ? 1000 : 20;

	r.label = g_strdup_printf ("tbgwd, %u device%s, %s", devices, devices == 1 ? "" : "s",
	                           durable ? "durable spool" : "memory queue");
	g_string_append_printf (text, "[storage]\npath=%s\n[server]\nport=%u\n[gateway]\nstats-interval-s=0\n",
	                        durable ? dir : "memory", port);
	for (guint d = 0; d < devices; d++) {
		g_autofree char *link = g_strdup_printf ("%s/tty%u", dir, d);
		int slave;
		char name[128];
		struct termios tio;

		openpty (&masters[d], &slave, name, NULL, NULL);
		tcgetattr (slave, &tio);
		cfmakeraw (&tio);
		tcsetattr (slave, TCSANOW, &tio);
		close (slave);
		symlink (name, link);
		g_unix_set_fd_nonblocking (masters[d], TRUE, NULL);
		g_string_append_printf (text, "[serial:Bench %u]\nport=%s\n", d, link);
	}
	g_file_set_contents (conf, text->str, -1, NULL);
	g_atomic_int_set (&samples, 0);
	proc = spawn (G_SUBPROCESS_FLAGS_STDERR_SILENCE, (const char *[]) { tbgwd, "--config", conf, NULL });
	pid = atoi (g_subprocess_get_identifier (proc));
	g_usleep (1500000 + devices * 5000);   /* connected, ports open, idle */
	r.idle_rss = status_kb (pid, "status", "VmRSS:");
	r.idle_dirty = status_kb (pid, "smaps_rollup", "Private_Dirty:");

	cpu0 = cpu_seconds (pid);
	t0 = g_get_monotonic_time ();
	for (guint written = 0; written < n;) {
		for (guint d = 0; d < devices && written < n; d++) {
			gsize off = 0;
			guint k = MIN (per_write, n - written);

			g_string_truncate (chunk, 0);
			for (guint i = 0; i < k; i++)
				g_string_append_printf (chunk, "{\"temp\":%u.5,\"hum\":%u}\n", (written + i) % 50,
				                        (written + i) % 100);
			while (off < chunk->len) {
				ssize_t w = write (masters[d], chunk->str + off, chunk->len - off);

				if (w > 0)
					off += w;
				else
					g_usleep (50);
			}
			written += k;
		}
	}
	wait_for (n, t0);
	t1 = g_get_monotonic_time ();
	cpu1 = cpu_seconds (pid);
	r.got = g_atomic_int_get (&samples);
	r.rate = r.got / ((t1 - t0) / 1e6);
	r.cpu_us = (cpu1 - cpu0) * 1e6 / MAX (1, r.got);
	r.peak_rss = status_kb (pid, "status", "VmHWM:");

	g_subprocess_send_signal (proc, SIGTERM);
	g_subprocess_wait (proc, NULL, NULL);
	g_object_unref (proc);
	for (guint d = 0; d < devices; d++) {
		g_autofree char *link = g_strdup_printf ("%s/tty%u", dir, d);

		close (masters[d]);
		g_unlink (link);
	}
	{
		g_autoptr (GDir) dh = g_dir_open (dir, 0, NULL);
		const char *f;

		while (dh && (f = g_dir_read_name (dh)) != NULL) {
			g_autofree char *p = g_build_filename (dir, f, NULL);

			g_unlink (p);
		}
	}
	g_rmdir (dir);
	g_free (masters);
	g_string_free (text, TRUE);
	g_string_free (chunk, TRUE);
	return r;
}

static void
print_share (double rate, double of)
{
	if (rate < 0 || of <= 0)
		printf (" %8s", "-");
	else
		printf (" %7.0f%%", 100.0 * rate / of);
}

static void
print_kb (long kb)
{
	if (kb < 0)
		printf (" %9s", "-");
	else
		printf (" %9.1f", kb / 1024.0);
}

int
main (int argc, char **argv)
{
	guint n;
	const char *tbgwd = g_getenv ("TBGWD") ? g_getenv ("TBGWD") : "src/tbgwd";
	TbgTestBroker *broker;
	GTestDBus *bus;
	struct mosquitto *sub;
	Row rows[8];
	guint nrows = 0;
	gboolean ok = TRUE;
	g_autofree char *self = NULL, *dir = NULL;

	if (argc == 5 && g_str_equal (argv[1], "--bare"))
		return bare_publisher ((guint16) atoi (argv[2]), (guint) atoi (argv[3]), (guint) atoi (argv[4]));
	n = argc > 1 ? (guint) atoi (argv[1]) : 400000;
	self = g_file_read_link ("/proc/self/exe", NULL);
	dir = g_path_get_dirname (self);
	/* tbgwd and the floor clients connect to it as they would to the
	 * system bus on a device: tbgwd owns its name and exports its objects. */
	bus = g_test_dbus_new (G_TEST_DBUS_NONE);
	g_test_dbus_up (bus);
	g_setenv ("DBUS_SYSTEM_BUS_ADDRESS", g_test_dbus_get_bus_address (bus), TRUE);
	broker = tbg_test_broker_start ();
	mosquitto_lib_init ();
	sub = mosquitto_new (NULL, true, NULL);
	mosquitto_message_callback_set (sub, on_message);
	mosquitto_connect (sub, "127.0.0.1", tbg_test_broker_port (broker), 60);
	mosquitto_subscribe (sub, NULL, "v1/gateway/telemetry", 1);
	mosquitto_loop_start (sub);
	g_usleep (200000);

	rows[nrows++] = run_bare (self, tbg_test_broker_port (broker), n, 1);
	rows[nrows++] = run_bare (self, tbg_test_broker_port (broker), n, 100);
	rows[nrows++] = run_tbgwd (tbgwd, tbg_test_broker_port (broker), 1, n, TRUE);
	rows[nrows++] = run_tbgwd (tbgwd, tbg_test_broker_port (broker), 100, n, TRUE);
	rows[nrows++] = run_tbgwd (tbgwd, tbg_test_broker_port (broker), 1, n, FALSE);
	rows[nrows++] = run_tbgwd (tbgwd, tbg_test_broker_port (broker), 100, n, FALSE);
	rows[nrows++] = run_floor (dir, "bench-floor-gio", 0, "floor: GIO D-Bus client");
	rows[nrows++] = run_floor (dir, "bench-floor-mqtt", tbg_test_broker_port (broker),
	                           "floor: GIO D-Bus + libmosquitto client");

	printf ("%u samples per run, QoS 1, local mosquitto, counted by a subscriber\n\n", n);
	printf ("%-40s %10s %8s %8s %9s %9s %9s %9s %9s\n", "publisher", "samples/s", "of bare",
	        "of packd", "CPU µs/s.", "RSS idle", "RSS peak", "dirty idl", "arrived");
	printf ("%-40s %10s %8s %8s %9s %9s %9s %9s %9s\n", "", "", "1/publ.", "bare", "", "MiB", "MiB",
	        "MiB", "");
	for (guint i = 0; i < nrows; i++) {
		if (rows[i].rate < 0)
			printf ("%-40s %10s", rows[i].label, "-");
		else
			printf ("%-40s %10.0f", rows[i].label, rows[i].rate);
		print_share (rows[i].rate, rows[0].rate);
		print_share (rows[i].rate, rows[1].rate);
		if (rows[i].cpu_us < 0)
			printf (" %9s", "-");
		else
			printf (" %9.2f", rows[i].cpu_us);
		print_kb (rows[i].idle_rss);
		print_kb (rows[i].peak_rss);
		print_kb (rows[i].idle_dirty);
		if (rows[i].sent == 0)
			printf (" %9s\n", "-");
		else
			printf (" %9u\n", rows[i].got);
		ok = ok && rows[i].got == rows[i].sent && (rows[i].sent > 0 || rows[i].idle_rss > 0);
		g_free ((char *) rows[i].label);
	}
	mosquitto_disconnect (sub);
	mosquitto_loop_stop (sub, true);
	mosquitto_destroy (sub);
	tbg_test_broker_free (broker);
	g_test_dbus_down (bus);
	g_object_unref (bus);
	return ok ? 0 : 1;
}
