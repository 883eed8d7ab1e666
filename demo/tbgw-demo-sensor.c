/* SPDX-License-Identifier: Apache-2.0 */
/* tbgw-demo-sensor — a serial sensor without hardware, for trying tbgwd.
 *
 * It opens a pseudo-terminal and behaves like a small USB-serial sensor on
 * the other side of it: one JSON object per line with a temperature and a
 * humidity that drift, its model and firmware as client attributes, and
 * answers to the RPCs tbgwd writes (`setLed`, `getState`, `setInterval`;
 * anything else gets an error). A shared attribute `interval` changes how
 * often it reports. The pty's path is linked at --link so that a
 * configuration can name a fixed `port=` (see demo/demo.conf).
 *
 * It knows nothing of tbgwd beyond the line protocol a real device speaks.
 */
/* posix_openpt() and friends */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib-unix.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <jansson.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#define MAX_LINE 4096

typedef struct {
	GMainLoop *loop;
	int        master;
	int        slave;       /* kept open: the pty lives while tbgwd reopens it */
	char      *link;
	GString   *in;
	guint      timer;
	guint      interval_s;
	double     temperature;
	double     humidity;
	gboolean   led;
	guint      samples;
	gboolean   quiet;
} Sensor;

static void
say (Sensor *s, const char *fmt, ...) G_GNUC_PRINTF (2, 3);

static void
say (Sensor *s, const char *fmt, ...)
{
	g_autofree char *msg = NULL;
	va_list ap;

	if (s->quiet)
		return;
	va_start (ap, fmt);
	msg = g_strdup_vprintf (fmt, ap);
	va_end (ap);
	g_print ("demo sensor: %s\n", msg);
}

/* One line to tbgwd. A full pty buffer (nobody reading yet) drops the line,
 * as a real sensor's UART would. */
static void
send_json (Sensor *s, json_t *obj)
{
	g_autofree char *text = json_dumps (obj, JSON_COMPACT | JSON_REAL_PRECISION (4));
	g_autofree char *line = g_strconcat (text, "\n", NULL);
	gsize len = strlen (line);
	ssize_t n = write (s->master, line, len);

	json_decref (obj);
	if (n < 0 && errno != EAGAIN && errno != EIO)
		g_printerr ("demo sensor: write: %s\n", g_strerror (errno));
}

static void
send_attributes (Sensor *s)
{
	send_json (s, json_pack ("{s:{s:s,s:s,s:i}}", "attributes", "model", "tbgw demo sensor",
	                         "firmware", "1.0", "interval", (int) s->interval_s));
}

static gboolean on_tick (gpointer data);

static void
set_interval (Sensor *s, json_int_t seconds)
{
	s->interval_s = (guint) CLAMP (seconds, 1, 3600);
	if (s->timer != 0)
		g_source_remove (s->timer);
	s->timer = g_timeout_add_seconds (s->interval_s, on_tick, s);
	say (s, "reporting every %u s", s->interval_s);
}

static gboolean
on_tick (gpointer data)
{
	Sensor *s = data;

	/* A slow random walk, so that a chart has something to show. */
	s->temperature = CLAMP (s->temperature + g_random_double_range (-0.3, 0.3), 15.0, 30.0);
	s->humidity = CLAMP (s->humidity + g_random_double_range (-1.0, 1.0), 20.0, 80.0);
	/* The attributes again now and then: tbgwd may have opened the port
	 * after the first ones were written. */
	if (++s->samples % 30 == 0)
		send_attributes (s);
	send_json (s, json_pack ("{s:f,s:f,s:b}", "temperature", s->temperature,
	                         "humidity", s->humidity, "led", s->led));
	return G_SOURCE_CONTINUE;
}

static json_t *
answer_rpc (Sensor *s, const char *method, json_t *params, const char **error)
{
	if (g_strcmp0 (method, "setLed") == 0) {
		json_t *on = json_is_object (params) ? json_object_get (params, "on") : params;

		if (!json_is_boolean (on)) {
			*error = "setLed needs true/false or {\"on\":true/false}";
			return NULL;
		}
		s->led = json_is_true (on);
		return json_pack ("{s:b}", "led", s->led);
	}
	if (g_strcmp0 (method, "getState") == 0)
		return json_pack ("{s:f,s:f,s:b,s:i}", "temperature", s->temperature, "humidity",
		                  s->humidity, "led", s->led, "interval", (int) s->interval_s);
	if (g_strcmp0 (method, "setInterval") == 0) {
		json_t *v = json_is_object (params) ? json_object_get (params, "seconds") : params;

		if (!json_is_integer (v) || json_integer_value (v) < 1) {
			*error = "setInterval needs a number of seconds ≥ 1";
			return NULL;
		}
		set_interval (s, json_integer_value (v));
		return json_pack ("{s:i}", "interval", (int) s->interval_s);
	}
	*error = "unknown method (try setLed, getState, setInterval)";
	return NULL;
}

static void
handle_line (Sensor *s, const char *line)
{
	json_error_t jerr;
	json_t *msg = json_loads (line, 0, &jerr);
	json_t *id, *shared;

	if (!json_is_object (msg)) {
		g_printerr ("demo sensor: ignoring a line that is not a JSON object: %s\n", line);
		json_decref (msg);
		return;
	}
	id = json_object_get (msg, "id");
	shared = json_object_get (msg, "shared");
	if (json_is_integer (id)) {
		const char *method = json_string_value (json_object_get (msg, "method"));
		const char *error = NULL;
		json_t *result = answer_rpc (s, method, json_object_get (msg, "params"), &error);
		g_autofree char *params = json_dumps (json_object_get (msg, "params"),
		                                      JSON_COMPACT | JSON_ENCODE_ANY);

		say (s, "RPC %" JSON_INTEGER_FORMAT " %s %s → %s", json_integer_value (id),
		     method ? method : "(no method)", params ? params : "", error ? error : "answered");
		if (result != NULL)
			send_json (s, json_pack ("{s:O,s:o}", "id", id, "result", result));
		else
			send_json (s, json_pack ("{s:O,s:s}", "id", id, "error", error));
	} else if (json_is_object (shared)) {
		json_t *interval = json_object_get (shared, "interval");

		say (s, "shared attributes %s", line);
		if (json_is_integer (interval))
			set_interval (s, json_integer_value (interval));
	} else {
		g_printerr ("demo sensor: ignoring %s\n", line);
	}
	json_decref (msg);
}

static gboolean
on_input (int fd, GIOCondition cond, gpointer data)
{
	Sensor *s = data;
	char buf[1024];
	ssize_t n = read (fd, buf, sizeof buf);

	if (n <= 0) {
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			g_printerr ("demo sensor: read: %s\n", g_strerror (errno));
		return G_SOURCE_CONTINUE;
	}
	/* Packet mode: a first byte other than TIOCPKT_DATA is a status change.
	 * tbgwd flushes the port's input when it opens it, which throws away
	 * what the sensor printed before; like a sensor that boots when its
	 * port opens, report the attributes and a sample right away. */
	if (buf[0] != TIOCPKT_DATA) {
		if (buf[0] & TIOCPKT_FLUSHREAD) {
			say (s, "the port was opened");
			send_attributes (s);
			on_tick (s);
		}
		return G_SOURCE_CONTINUE;
	}
	for (ssize_t i = 1; i < n; i++) {
		if (buf[i] == '\n' || buf[i] == '\r') {
			if (s->in->len > 0)
				handle_line (s, s->in->str);
			g_string_truncate (s->in, 0);
		} else if (s->in->len < MAX_LINE) {
			g_string_append_c (s->in, buf[i]);
		}
	}
	return G_SOURCE_CONTINUE;
}

static gboolean
on_signal (gpointer data)
{
	g_main_loop_quit (((Sensor *) data)->loop);
	return G_SOURCE_REMOVE;
}

static gboolean
open_pty (Sensor *s, GError **error)
{
	struct termios tio;
	const char *name;

	s->master = posix_openpt (O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (s->master < 0 || grantpt (s->master) < 0 || unlockpt (s->master) < 0 ||
	    (name = ptsname (s->master)) == NULL) {
		g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno),
		             "cannot create a pseudo-terminal: %s", g_strerror (errno));
		return FALSE;
	}
	s->slave = open (name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	/* Raw from the start: no echo of our own lines back to us, no CR/LF
	 * translation, before tbgwd sets the port up its own way. */
	if (s->slave < 0 || tcgetattr (s->slave, &tio) < 0) {
		g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno), "%s: %s", name,
		             g_strerror (errno));
		return FALSE;
	}
	cfmakeraw (&tio);
	tcsetattr (s->slave, TCSANOW, &tio);
	g_unix_set_fd_nonblocking (s->master, TRUE, NULL);
	ioctl (s->master, TIOCPKT, &(int) { 1 });
	if (s->link != NULL) {
		g_autofree char *dir = g_path_get_dirname (s->link);

		g_mkdir_with_parents (dir, 0755);
		if (g_file_test (s->link, G_FILE_TEST_IS_SYMLINK))
			g_unlink (s->link);
		if (symlink (name, s->link) < 0) {
			g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno),
			             "cannot link %s to %s: %s", s->link, name, g_strerror (errno));
			return FALSE;
		}
		say (s, "listening on %s (%s)", s->link, name);
	} else {
		say (s, "listening on %s", name);
	}
	return TRUE;
}

int
main (int argc, char **argv)
{
	Sensor s = { .master = -1, .slave = -1, .interval_s = 2, .temperature = 21.5, .humidity = 45.0 };
	g_autoptr (GError) error = NULL;
	g_autoptr (GOptionContext) ctx = NULL;
	gint interval = 2;
	GOptionEntry entries[] = {
		{ "link", 'l', 0, G_OPTION_ARG_FILENAME, &s.link,
		  "Make PATH a symbolic link to the pseudo-terminal (the port= of the configuration)", "PATH" },
		{ "interval", 'i', 0, G_OPTION_ARG_INT, &interval, "Report every SECONDS (default: 2)", "SECONDS" },
		{ "quiet", 'q', 0, G_OPTION_ARG_NONE, &s.quiet, "Print only errors", NULL },
		{ NULL }
	};

	setlocale (LC_ALL, "");
	ctx = g_option_context_new (NULL);
	g_option_context_set_summary (ctx, "A simulated serial sensor on a pseudo-terminal, for trying tbgwd "
	                                   "without hardware: JSON telemetry lines, client attributes, and "
	                                   "answers to the RPCs setLed, getState and setInterval.");
	g_option_context_add_main_entries (ctx, entries, NULL);
	if (!g_option_context_parse (ctx, &argc, &argv, &error)) {
		g_printerr ("%s: %s\n", g_get_prgname (), error->message);
		return 2;
	}
	if (argc > 1 || interval < 1) {
		g_printerr ("%s: %s\n", g_get_prgname (), argc > 1 ? "unexpected argument" : "--interval must be ≥ 1");
		return 2;
	}
	if (!open_pty (&s, &error)) {
		g_printerr ("%s: %s\n", g_get_prgname (), error->message);
		return 1;
	}
	s.loop = g_main_loop_new (NULL, FALSE);
	s.in = g_string_new (NULL);
	g_unix_fd_add (s.master, G_IO_IN, on_input, &s);
	g_unix_signal_add (SIGINT, on_signal, &s);
	g_unix_signal_add (SIGTERM, on_signal, &s);
	send_attributes (&s);
	set_interval (&s, interval);
	g_main_loop_run (s.loop);

	if (s.link != NULL)
		g_unlink (s.link);
	close (s.slave);
	close (s.master);
	g_string_free (s.in, TRUE);
	g_main_loop_unref (s.loop);
	g_free (s.link);
	return 0;
}
