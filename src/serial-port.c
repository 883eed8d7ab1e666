/* SPDX-License-Identifier: Apache-2.0 */
/* serial-port.c — see serial-port.h. */
#include "serial-port.h"
#include "i18n.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib-unix.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#define READ_CHUNK          65536
#define MAX_QUEUED_WRITE    (256 * 1024)
#define MISSING_RETRY_MS    250     /* a plug must be noticed within a second */
#define FAIL_RETRY_MIN_MS   1000
#define FAIL_RETRY_MAX_MS   30000

struct _TbgSerialPort {
	char                   *path;
	TbgSerialSettings       settings;
	TbgSerialPortCallbacks  cb;
	gpointer                user_data;
	int                     fd;
	guint                   in_id;
	guint                   out_id;
	guint                   retry_id;
	guint                   fail_delay_ms;
	int                     last_errno;   /* to log a lasting failure once */
	gboolean                running;
	GByteArray             *out;
	guint8                 *buf;
};

static void schedule_retry (TbgSerialPort *port, int err);

void
tbg_serial_settings_init (TbgSerialSettings *s)
{
	memset (s, 0, sizeof *s);
	s->baud = 115200;
	s->parity = TBG_PARITY_NONE;
	s->data_bits = 8;
	s->stop_bits = 1;
}

static const struct {
	guint   baud;
	speed_t speed;
} bauds[] = {
	{ 1200, B1200 }, { 2400, B2400 }, { 4800, B4800 }, { 9600, B9600 },
	{ 19200, B19200 }, { 38400, B38400 }, { 57600, B57600 }, { 115200, B115200 },
	{ 230400, B230400 }, { 460800, B460800 }, { 500000, B500000 }, { 576000, B576000 },
	{ 921600, B921600 }, { 1000000, B1000000 }, { 1500000, B1500000 }, { 2000000, B2000000 },
	{ 3000000, B3000000 }, { 4000000, B4000000 },
};

static gboolean
baud_to_speed (guint baud, speed_t *speed)
{
	for (guint i = 0; i < G_N_ELEMENTS (bauds); i++) {
		if (bauds[i].baud == baud) {
			*speed = bauds[i].speed;
			return TRUE;
		}
	}
	return FALSE;
}

gboolean
tbg_serial_parse_baud (const char *s, guint *baud, GError **error)
{
	guint64 v;
	speed_t speed;

	if (!g_ascii_string_to_unsigned (s, 10, 1, G_MAXUINT, &v, NULL) || !baud_to_speed (v, &speed)) {
		g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
		             _("“%s” is not a supported baud rate (e.g. 9600, 115200, 921600)"), s);
		return FALSE;
	}
	*baud = v;
	return TRUE;
}

gboolean
tbg_serial_parse_parity (const char *s, TbgParity *parity, GError **error)
{
	if (g_str_equal (s, "none"))
		*parity = TBG_PARITY_NONE;
	else if (g_str_equal (s, "even"))
		*parity = TBG_PARITY_EVEN;
	else if (g_str_equal (s, "odd"))
		*parity = TBG_PARITY_ODD;
	else {
		g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
		             _("“%s” is not a parity (none, even or odd)"), s);
		return FALSE;
	}
	return TRUE;
}

gboolean
tbg_serial_parse_flow (const char *s, TbgSerialSettings *settings, GError **error)
{
	settings->rtscts = g_str_equal (s, "rtscts");
	settings->xonxoff = g_str_equal (s, "xonxoff");
	if (!settings->rtscts && !settings->xonxoff && !g_str_equal (s, "none")) {
		g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
		             _("“%s” is not a flow control (none, rtscts or xonxoff)"), s);
		return FALSE;
	}
	return TRUE;
}

TbgSerialPort *
tbg_serial_port_new (const char *path, const TbgSerialSettings *settings,
                     const TbgSerialPortCallbacks *callbacks, gpointer user_data)
{
	TbgSerialPort *port = g_new0 (TbgSerialPort, 1);

	port->path = g_strdup (path);
	port->settings = *settings;
	port->cb = *callbacks;
	port->user_data = user_data;
	port->fd = -1;
	port->out = g_byte_array_new ();
	port->buf = g_malloc (READ_CHUNK);
	return port;
}

static gboolean
configure_tty (int fd, const TbgSerialSettings *s, GError **error)
{
	struct termios tio;
	speed_t speed;

	if (tcgetattr (fd, &tio) != 0) {
		g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno),
		             _("not a terminal: %s"), g_strerror (errno));
		return FALSE;
	}
	cfmakeraw (&tio);
	if (!baud_to_speed (s->baud, &speed))
		speed = B115200;
	cfsetispeed (&tio, speed);
	cfsetospeed (&tio, speed);
	tio.c_cflag &= ~(CSIZE | PARENB | PARODD | CSTOPB | CRTSCTS);
	tio.c_cflag |= CLOCAL | CREAD;
	tio.c_cflag |= s->data_bits == 5 ? CS5 : s->data_bits == 6 ? CS6 : s->data_bits == 7 ? CS7 : CS8;
	if (s->parity != TBG_PARITY_NONE)
		tio.c_cflag |= PARENB | (s->parity == TBG_PARITY_ODD ? PARODD : 0);
	if (s->stop_bits == 2)
		tio.c_cflag |= CSTOPB;
	if (s->rtscts)
		tio.c_cflag |= CRTSCTS;
	tio.c_iflag &= ~(IXON | IXOFF | IXANY);
	if (s->xonxoff)
		tio.c_iflag |= IXON | IXOFF;
	tio.c_cc[VMIN] = 1;
	tio.c_cc[VTIME] = 0;
	if (tcsetattr (fd, TCSANOW, &tio) != 0) {
		g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno),
		             _("cannot set line settings: %s"), g_strerror (errno));
		return FALSE;
	}
	return TRUE;
}

static void
close_fd (TbgSerialPort *port)
{
	g_clear_handle_id (&port->in_id, g_source_remove);
	g_clear_handle_id (&port->out_id, g_source_remove);
	if (port->fd >= 0) {
		close (port->fd);
		port->fd = -1;
	}
	g_byte_array_set_size (port->out, 0);
}

static void
lost (TbgSerialPort *port, const char *why)
{
	gboolean was_open = port->fd >= 0;

	close_fd (port);
	if (was_open && port->cb.closed != NULL)
		port->cb.closed (port, why, port->user_data);
	if (port->running)
		schedule_retry (port, ENOENT);
}

static gboolean
on_readable (int fd, GIOCondition cond, gpointer data)
{
	TbgSerialPort *port = data;

	/* Drain what is there first: a device may write its last line and hang up. */
	for (;;) {
		ssize_t n = read (fd, port->buf, READ_CHUNK);

		if (n > 0) {
			if (port->cb.data != NULL)
				port->cb.data (port, port->buf, n, port->user_data);
			if (port->fd < 0)
				return G_SOURCE_REMOVE;
			if (n < READ_CHUNK)
				break;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (cond & (G_IO_HUP | G_IO_ERR))
				break;
			return G_SOURCE_CONTINUE;
		}
		/* 0: end of file, or EIO once the device is gone. */
		port->in_id = 0;
		lost (port, n == 0 ? _("end of file") : g_strerror (errno));
		return G_SOURCE_REMOVE;
	}
	if (cond & (G_IO_HUP | G_IO_ERR)) {
		port->in_id = 0;
		lost (port, _("hang-up"));
		return G_SOURCE_REMOVE;
	}
	return G_SOURCE_CONTINUE;
}

static gboolean
flush (TbgSerialPort *port)
{
	while (port->out->len > 0) {
		ssize_t n = write (port->fd, port->out->data, port->out->len);

		if (n > 0) {
			g_byte_array_remove_range (port->out, 0, n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return TRUE;
		lost (port, g_strerror (errno));
		return FALSE;
	}
	return TRUE;
}

static gboolean
on_writable (int fd, GIOCondition cond, gpointer data)
{
	TbgSerialPort *port = data;

	if (!flush (port)) {
		port->out_id = 0;
		return G_SOURCE_REMOVE;
	}
	if (port->out->len > 0)
		return G_SOURCE_CONTINUE;
	port->out_id = 0;
	return G_SOURCE_REMOVE;
}

static gboolean
try_open (TbgSerialPort *port, GError **error)
{
	int fd = open (port->path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0) {
		int err = errno;

		g_set_error (error, G_IO_ERROR, g_io_error_from_errno (err), "%s", g_strerror (err));
		return FALSE;
	}
	/* Keep others (and a second tbgwd) off the line while we own it. */
	if (ioctl (fd, TIOCEXCL) != 0 && errno != ENOTTY)
		g_debug ("%s: TIOCEXCL: %s", port->path, g_strerror (errno));
	if (!configure_tty (fd, &port->settings, error)) {
		close (fd);
		return FALSE;
	}
	tcflush (fd, TCIFLUSH);
	port->fd = fd;
	port->in_id = g_unix_fd_add (fd, G_IO_IN | G_IO_HUP | G_IO_ERR, on_readable, port);
	return TRUE;
}

static void open_now (TbgSerialPort *port);

static gboolean
retry_cb (gpointer data)
{
	TbgSerialPort *port = data;

	port->retry_id = 0;
	open_now (port);
	return G_SOURCE_REMOVE;
}

static void
schedule_retry (TbgSerialPort *port, int err)
{
	guint delay;

	if (err == ENOENT || err == ENODEV || err == ENXIO) {
		delay = MISSING_RETRY_MS;
		port->fail_delay_ms = 0;
	} else {
		port->fail_delay_ms = port->fail_delay_ms == 0 ? FAIL_RETRY_MIN_MS
		                      : MIN (port->fail_delay_ms * 2, FAIL_RETRY_MAX_MS);
		delay = port->fail_delay_ms;
	}
	g_clear_handle_id (&port->retry_id, g_source_remove);
	port->retry_id = g_timeout_add (delay, retry_cb, port);
}

static void
open_now (TbgSerialPort *port)
{
	g_autoptr (GError) error = NULL;

	if (!port->running || port->fd >= 0)
		return;
	if (!try_open (port, &error)) {
		int err = error->code == G_IO_ERROR_NOT_FOUND ? ENOENT : EIO;

		if (error->code == G_IO_ERROR_BUSY)
			err = EBUSY;
		if (err != port->last_errno) {
			if (err == ENOENT)
				g_debug ("%s: not present; waiting for it", port->path);
			else
				g_warning (_("Cannot open %s: %s; retrying"), port->path, error->message);
		}
		port->last_errno = err;
		schedule_retry (port, err);
		return;
	}
	port->last_errno = 0;
	port->fail_delay_ms = 0;
	g_debug ("%s opened at %u baud", port->path, port->settings.baud);
	if (port->cb.opened != NULL)
		port->cb.opened (port, port->user_data);
}

void
tbg_serial_port_start (TbgSerialPort *port)
{
	port->running = TRUE;
	open_now (port);
}

void
tbg_serial_port_retry_now (TbgSerialPort *port)
{
	if (!port->running || port->fd >= 0)
		return;
	g_clear_handle_id (&port->retry_id, g_source_remove);
	open_now (port);
}

void
tbg_serial_port_stop (TbgSerialPort *port)
{
	port->running = FALSE;
	g_clear_handle_id (&port->retry_id, g_source_remove);
	close_fd (port);
}

gboolean
tbg_serial_port_is_open (TbgSerialPort *port)
{
	return port->fd >= 0;
}

void
tbg_serial_port_set_path (TbgSerialPort *port, const char *path)
{
	if (g_strcmp0 (port->path, path) == 0)
		return;
	g_free (port->path);
	port->path = g_strdup (path);
}

const char *
tbg_serial_port_get_path (TbgSerialPort *port)
{
	return port->path;
}

gboolean
tbg_serial_port_write (TbgSerialPort *port, const void *data, gsize len, GError **error)
{
	if (port->fd < 0) {
		g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED, _("%s is not open"), port->path);
		return FALSE;
	}
	if (port->out->len + len > MAX_QUEUED_WRITE) {
		g_set_error (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK,
		             _("%s is not taking data (%u bytes waiting)"), port->path, port->out->len);
		return FALSE;
	}
	g_byte_array_append (port->out, data, len);
	if (port->out_id == 0) {
		if (!flush (port)) {
			g_set_error (error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE, _("%s went away"), port->path);
			return FALSE;
		}
		if (port->out->len > 0)
			port->out_id = g_unix_fd_add (port->fd, G_IO_OUT, on_writable, port);
	}
	return TRUE;
}

void
tbg_serial_port_free (TbgSerialPort *port)
{
	if (port == NULL)
		return;
	tbg_serial_port_stop (port);
	g_byte_array_unref (port->out);
	g_free (port->buf);
	g_free (port->path);
	g_free (port);
}
