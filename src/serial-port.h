/* SPDX-License-Identifier: Apache-2.0 */
/* serial-port.h — one tty opened the way a sensor needs it, on the main loop.
 *
 * Raw mode, the configured baud/parity/flow control, exclusive open, and
 * never a blocking call: writes are queued and flushed when the port is
 * writable. A port that is missing is retried quietly (it may be plugged at
 * any time); one that cannot be opened (busy, permissions) is retried with
 * backoff and a log line a person can act on.
 */
#pragma once

#include <glib.h>

typedef enum { TBG_PARITY_NONE, TBG_PARITY_EVEN, TBG_PARITY_ODD } TbgParity;

typedef struct {
	guint     baud;
	TbgParity parity;
	guint     data_bits;   /* 5..8 */
	guint     stop_bits;   /* 1 or 2 */
	gboolean  rtscts;
	gboolean  xonxoff;
} TbgSerialSettings;

void     tbg_serial_settings_init (TbgSerialSettings *s);
/* Parsers for config values and udev properties. */
gboolean tbg_serial_parse_baud (const char *s, guint *baud, GError **error);
gboolean tbg_serial_parse_parity (const char *s, TbgParity *parity, GError **error);
gboolean tbg_serial_parse_flow (const char *s, TbgSerialSettings *settings, GError **error);

typedef struct _TbgSerialPort TbgSerialPort;

typedef struct {
	void (*opened) (TbgSerialPort *port, gpointer user_data);
	/* Unplugged, read error or hang-up; the port retries by itself if asked to. */
	void (*closed) (TbgSerialPort *port, const char *why, gpointer user_data);
	void (*data) (TbgSerialPort *port, const guint8 *buf, gsize len, gpointer user_data);
} TbgSerialPortCallbacks;

TbgSerialPort *tbg_serial_port_new (const char *path, const TbgSerialSettings *settings,
                                    const TbgSerialPortCallbacks *callbacks, gpointer user_data);
/* Opens now, or keeps trying (with backoff) until it works or _stop is called. */
void           tbg_serial_port_start (TbgSerialPort *port);
/* Closes and stops retrying. */
void           tbg_serial_port_stop (TbgSerialPort *port);
/* After an unplug: open again at once (a udev "add" came). */
void           tbg_serial_port_retry_now (TbgSerialPort *port);
gboolean       tbg_serial_port_is_open (TbgSerialPort *port);
/* A replugged device may come back under another node name. */
void           tbg_serial_port_set_path (TbgSerialPort *port, const char *path);
const char    *tbg_serial_port_get_path (TbgSerialPort *port);
/* Queues @len bytes; fails if the port is closed or its queue is full. */
gboolean       tbg_serial_port_write (TbgSerialPort *port, const void *data, gsize len,
                                      GError **error);
void           tbg_serial_port_free (TbgSerialPort *port);
