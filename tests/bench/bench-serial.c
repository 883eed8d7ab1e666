/* bench-serial — lines per second from a pseudo-terminal through a real
 * tbgwd to a local mosquitto, counted by a subscriber at the broker, with
 * tbgwd's CPU time per line and its memory. Not a test: `make bench`.
 *
 *   bench-serial [LINES]        (default 500000)
 */
#include "build-config.h"
#include "../test-broker.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <stdlib.h>
#include <mosquitto.h>
#include <pty.h>
#include <stdio.h>
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

int
main (int argc, char **argv)
{
	guint lines = argc > 1 ? (guint) atoi (argv[1]) : 500000;
	const char *tbgwd = g_getenv ("TBGWD") ? g_getenv ("TBGWD") : "src/tbgwd";
	TbgTestBroker *broker = tbg_test_broker_start ();
	g_autoptr (GError) error = NULL;
	g_autofree char *dir = g_dir_make_tmp ("tbgw-bench-XXXXXX", NULL);
	g_autofree char *link = g_build_filename (dir, "tty", NULL);
	g_autofree char *conf = g_build_filename (dir, "tbgw.conf", NULL);
	g_autofree char *text = NULL;
	struct mosquitto *sub;
	int master, slave;
	char name[128];
	struct termios tio;
	GSubprocess *proc;
	GPid pid;
	gint64 t0, t1;
	double cpu0, cpu1;
	long idle_rss, idle_dirty;
	GString *chunk = g_string_new (NULL);
	guint written = 0;

	openpty (&master, &slave, name, NULL, NULL);
	tcgetattr (slave, &tio);
	cfmakeraw (&tio);
	tcsetattr (slave, TCSANOW, &tio);
	close (slave);
	symlink (name, link);
	text = g_strdup_printf ("[storage]\npath=%s\n[server]\nport=%u\n[gateway]\nstats-interval-s=0\n"
	                        "[serial:Bench]\nport=%s\n", g_getenv ("BENCH_MEMORY") ? "memory" : dir,
	                        tbg_test_broker_port (broker), link);
	g_file_set_contents (conf, text, -1, NULL);

	mosquitto_lib_init ();
	sub = mosquitto_new (NULL, true, NULL);
	mosquitto_message_callback_set (sub, on_message);
	mosquitto_connect (sub, "127.0.0.1", tbg_test_broker_port (broker), 60);
	mosquitto_subscribe (sub, NULL, "v1/gateway/telemetry", 1);
	mosquitto_loop_start (sub);

	proc = g_subprocess_new (G_SUBPROCESS_FLAGS_STDERR_SILENCE, &error, tbgwd, "--config", conf, NULL);
	g_assert_no_error (error);
	pid = atoi (g_subprocess_get_identifier (proc));
	g_usleep (1500000);   /* connected, port open, idle */
	idle_rss = status_kb (pid, "status", "VmRSS:");
	idle_dirty = status_kb (pid, "smaps_rollup", "Private_Dirty:");

	g_unix_set_fd_nonblocking (master, TRUE, NULL);
	cpu0 = cpu_seconds (pid);
	t0 = g_get_monotonic_time ();
	while (written < lines) {
		gsize off = 0;

		g_string_truncate (chunk, 0);
		for (guint i = 0; i < 1000 && written + i < lines; i++)
			g_string_append_printf (chunk, "{\"temp\":%u.5,\"hum\":%u}\n", (written + i) % 50, (written + i) % 100);
		while (off < chunk->len) {
			ssize_t n = write (master, chunk->str + off, chunk->len - off);

			if (n > 0)
				off += n;
			else
				g_usleep (50);
		}
		written += MIN (1000, lines - written);
	}
	while ((guint) g_atomic_int_get (&samples) < lines &&
	       g_get_monotonic_time () - t0 < 120 * G_USEC_PER_SEC)
		g_usleep (1000);
	t1 = g_get_monotonic_time ();
	cpu1 = cpu_seconds (pid);

	printf ("serial → tbgwd → mosquitto, one port, JSON lines\n");
	printf ("  lines written      %u\n", lines);
	printf ("  samples at broker  %d\n", g_atomic_int_get (&samples));
	printf ("  throughput         %.0f lines/s\n", g_atomic_int_get (&samples) / ((t1 - t0) / 1e6));
	printf ("  tbgwd CPU          %.2f µs/line\n", (cpu1 - cpu0) * 1e6 / MAX (1, g_atomic_int_get (&samples)));
	printf ("  tbgwd RSS          idle %ld kB, peak %ld kB; private dirty idle %ld kB\n",
	        idle_rss, status_kb (pid, "status", "VmHWM:"), idle_dirty);

	g_subprocess_send_signal (proc, SIGTERM);
	g_subprocess_wait (proc, NULL, NULL);
	mosquitto_disconnect (sub);
	mosquitto_loop_stop (sub, true);
	mosquitto_destroy (sub);
	tbg_test_broker_free (broker);
	close (master);
	g_unlink (link);
	g_unlink (conf);
	g_rmdir (dir);
	g_string_free (chunk, TRUE);
	return (guint) g_atomic_int_get (&samples) == lines ? 0 : 1;
}
