/* SPDX-License-Identifier: Apache-2.0 */
/* source-serial.c — serial devices: ports named in the config and ttys that
 * udev tags as candidates (ENV{TBGW_CANDIDATE}=="1"); nothing else is ever
 * opened. Each port is one ThingsBoard device whose lines are telemetry,
 * attributes or RPC replies (line-protocol.h); RPCs and shared attribute
 * updates are written back to it as JSON lines.
 */
#include "gateway.h"
#include "line-protocol.h"
#include "ratelimit.h"
#include "serial-port.h"
#include "i18n.h"

#include <gio/gio.h>
#include <gudev/gudev.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_MAX_LINE  4096
#define WARN_BURST        5
#define WARN_WINDOW_US    (60 * G_USEC_PER_SEC)

typedef struct _SerialSource SerialSource;

typedef struct {
	SerialSource    *src;
	TbgDevice       *dev;        /* borrowed; the gateway owns it */
	TbgSerialPort   *port;
	char            *sysfs;      /* udev-discovered: its sysfs path; NULL if configured */
	char            *group;      /* configured: its "serial:NAME" group; NULL if udev found it */
	TbgLineFormat    format;
	TbgLineFramer   *framer;
	GHashTable      *rpcs;       /* id → TbgRpc waiting for the device's reply */
	guint64          bad_lines;
	TbgRateLimit     warn_limit;
} SerialDevice;

struct _SerialSource {
	TbgGateway  *gw;
	GUdevClient *udev;
	GPtrArray   *devices;        /* SerialDevice */
};

extern const TbgSource tbg_source_serial;

static void
warn_line (SerialDevice *sd, const char *fmt, ...) G_GNUC_PRINTF (2, 3);

/* A chatty device with a wrong baud rate must not flood the journal. */
static void
warn_line (SerialDevice *sd, const char *fmt, ...)
{
	g_autofree char *msg = NULL;
	guint64 suppressed;
	va_list ap;
	gboolean allow = tbg_rate_limit_allow (&sd->warn_limit, g_get_monotonic_time (), &suppressed);

	sd->bad_lines++;
	if (suppressed > 0)
		g_warning (_("%s: %" G_GUINT64_FORMAT " more bad lines not shown"),
		           tbg_device_get_name (sd->dev), suppressed);
	if (!allow)
		return;
	va_start (ap, fmt);
	msg = g_strdup_vprintf (fmt, ap);
	va_end (ap);
	g_warning ("%s (%s): %s", tbg_device_get_name (sd->dev),
	           tbg_serial_port_get_path (sd->port), msg);
}

static void
fail_pending (SerialDevice *sd, const char *why)
{
	GHashTableIter iter;
	TbgRpc *rpc;

	g_hash_table_iter_init (&iter, sd->rpcs);
	while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &rpc))
		tbg_rpc_reply_error (rpc, "%s", why);
	g_hash_table_remove_all (sd->rpcs);
}

static void
handle_reply (SerialDevice *sd, TbgLineMessage *msg)
{
	TbgRpc *rpc = g_hash_table_lookup (sd->rpcs, &msg->rpc_id);

	if (rpc == NULL) {
		warn_line (sd, _("reply to RPC %" G_GINT64_FORMAT " that is not pending"), msg->rpc_id);
		return;
	}
	if (tbg_rpc_is_done (rpc)) {
		g_debug ("%s: late reply to RPC %" G_GINT64_FORMAT " (already answered); dropped",
		         tbg_device_get_name (sd->dev), msg->rpc_id);
		g_hash_table_remove (sd->rpcs, &msg->rpc_id);
		return;
	}
	if (msg->error != NULL) {
		json_t *data = json_pack ("{s:O}", "error", msg->error);

		tbg_rpc_reply (rpc, data);
		json_decref (data);
	} else {
		tbg_rpc_reply (rpc, msg->result);
	}
	g_hash_table_remove (sd->rpcs, &msg->rpc_id);
}

static void
handle_line (const char *line, gsize len, TbgLineStatus status, gpointer user_data)
{
	SerialDevice *sd = user_data;
	g_autoptr (GError) error = NULL;
	TbgLineMessage msg = { 0 };

	if (status == TBG_LINE_TOO_LONG) {
		warn_line (sd, _("line longer than %u bytes dropped"), (guint) len);
		return;
	}
	if (status != TBG_LINE_OK) {
		warn_line (sd, _("binary garbage dropped"));
		return;
	}
	if (!tbg_line_parse (sd->format, line, len, &msg, &error)) {
		warn_line (sd, "%s", error->message);
		tbg_line_message_clear (&msg);
		return;
	}
	switch (msg.kind) {
	case TBG_LINE_TELEMETRY:
		if (!(msg.values_text != NULL
		      ? tbg_device_push_telemetry_text (sd->dev, msg.ts, msg.values_text, msg.values_len, &error)
		      : tbg_device_push_telemetry (sd->dev, msg.ts, msg.values, &error)))
			warn_line (sd, "%s", error->message);
		break;
	case TBG_LINE_ATTRIBUTES:
		if (!tbg_device_push_attributes (sd->dev, msg.values, &error))
			warn_line (sd, "%s", error->message);
		break;
	case TBG_LINE_RPC_REPLY:
		handle_reply (sd, &msg);
		break;
	case TBG_LINE_EMPTY:
		break;
	}
	tbg_line_message_clear (&msg);
}

static void
port_opened (TbgSerialPort *port, gpointer user_data)
{
	SerialDevice *sd = user_data;

	tbg_line_framer_reset (sd->framer);
	tbg_device_set_connected (sd->dev, TRUE);
}

static void
port_closed (TbgSerialPort *port, const char *why, gpointer user_data)
{
	SerialDevice *sd = user_data;

	g_message (_("%s (%s) closed: %s"), tbg_device_get_name (sd->dev),
	           tbg_serial_port_get_path (port), why);
	fail_pending (sd, "device disconnected");
	tbg_device_set_connected (sd->dev, FALSE);
}

static void
port_data (TbgSerialPort *port, const guint8 *buf, gsize len, gpointer user_data)
{
	SerialDevice *sd = user_data;

	tbg_line_framer_feed (sd->framer, buf, len, handle_line, sd);
}

static const TbgSerialPortCallbacks port_callbacks = {
	.opened = port_opened,
	.closed = port_closed,
	.data = port_data,
};

static void
serial_device_free (SerialDevice *sd)
{
	tbg_serial_port_free (sd->port);
	fail_pending (sd, "gateway stopping");
	g_hash_table_unref (sd->rpcs);
	tbg_line_framer_free (sd->framer);
	g_free (sd->sysfs);
	g_free (sd->group);
	g_free (sd);
}

static SerialDevice *
add_port (SerialSource *src, const char *name, const char *type, const char *path,
          const TbgSerialSettings *settings, TbgLineFormat format, gsize max_line,
          const char *sysfs, GError **error)
{
	SerialDevice *sd;
	TbgDevice *dev = tbg_gateway_add_device (src->gw, &tbg_source_serial, src, name, type, path,
	                                         error);

	if (dev == NULL)
		return NULL;
	sd = g_new0 (SerialDevice, 1);
	sd->src = src;
	sd->dev = dev;
	sd->format = format;
	sd->sysfs = g_strdup (sysfs);
	sd->framer = tbg_line_framer_new (max_line);
	tbg_rate_limit_init (&sd->warn_limit, WARN_BURST, WARN_WINDOW_US);
	sd->rpcs = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free,
	                                  (GDestroyNotify) tbg_rpc_unref);
	sd->port = tbg_serial_port_new (path, settings, &port_callbacks, sd);
	tbg_device_set_source_data (dev, sd, NULL);
	g_ptr_array_add (src->devices, sd);
	g_message (_("Serial device “%s” on %s (%u baud, %s)"), name, path, settings->baud,
	           format == TBG_LINE_FORMAT_PLOTTER ? "plotter" : "json");
	tbg_serial_port_start (sd->port);
	return sd;
}

static void
remove_port (SerialSource *src, SerialDevice *sd)
{
	TbgDevice *dev = sd->dev;

	g_ptr_array_remove (src->devices, sd);
	tbg_device_set_source_data (dev, NULL, NULL);
	serial_device_free (sd);
	tbg_gateway_remove_device (src->gw, dev);
}

/* ---- configured ports ---------------------------------------------------------- */

static const char * const config_keys[] = {
	"port", "type", "baud", "parity", "data-bits", "stop-bits", "flow-control",
	"protocol", "max-line-bytes", NULL
};

static gboolean
config_error (const TbgConfig *cfg, const char *group, const char *key, GError **error)
{
	g_autofree char *where = tbg_config_where (cfg, group, key);

	g_prefix_error (error, "%s: [%s] %s: ", where, group, key);
	return FALSE;
}

/* What a "[serial:NAME]" group asks for; every error names file:line. */
typedef struct {
	char             *port;
	char             *type;
	TbgSerialSettings settings;
	TbgLineFormat     format;
	guint64           max_line;
} PortConfig;

static void
port_config_clear (PortConfig *pc)
{
	g_free (pc->port);
	g_free (pc->type);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (PortConfig, port_config_clear)

static gboolean
parse_configured (const TbgConfig *cfg, const char *group, PortConfig *pc, GError **error)
{
	g_autofree char *parity = tbg_config_get_string (cfg, group, "parity", "none");
	g_autofree char *flow = tbg_config_get_string (cfg, group, "flow-control", "none");
	g_autofree char *proto = tbg_config_get_string (cfg, group, "protocol", "json");
	TbgSerialSettings *s = &pc->settings;
	guint64 baud, bits, stop;

	pc->port = tbg_config_get_string (cfg, group, "port", NULL);
	pc->type = tbg_config_get_string (cfg, group, "type", NULL);
	tbg_serial_settings_init (s);
	if (pc->port == NULL) {
		g_autofree char *where = tbg_config_where (cfg, group, NULL);

		g_set_error (error, TBG_CONFIG_ERROR, TBG_CONFIG_ERROR_BAD_VALUE,
		             _("%s: [%s]: port= is required"), where, group);
		return FALSE;
	}
	if (!tbg_config_get_uint (cfg, group, "baud", 1, 4000000, 115200, &baud, error) ||
	    !tbg_config_get_uint (cfg, group, "data-bits", 5, 8, 8, &bits, error) ||
	    !tbg_config_get_uint (cfg, group, "stop-bits", 1, 2, 1, &stop, error) ||
	    !tbg_config_get_uint (cfg, group, "max-line-bytes", 16, 1024 * 1024, DEFAULT_MAX_LINE,
	                          &pc->max_line, error))
		return FALSE;
	{
		g_autofree char *b = g_strdup_printf ("%" G_GUINT64_FORMAT, baud);

		if (!tbg_serial_parse_baud (b, &s->baud, error))
			return config_error (cfg, group, "baud", error);
	}
	s->data_bits = bits;
	s->stop_bits = stop;
	if (!tbg_serial_parse_parity (parity, &s->parity, error))
		return config_error (cfg, group, "parity", error);
	if (!tbg_serial_parse_flow (flow, s, error))
		return config_error (cfg, group, "flow-control", error);
	if (!tbg_line_format_from_string (proto, &pc->format)) {
		g_set_error (error, TBG_CONFIG_ERROR, TBG_CONFIG_ERROR_BAD_VALUE,
		             _("“%s” is neither “json” nor “plotter”"), proto);
		return config_error (cfg, group, "protocol", error);
	}
	return TRUE;
}

static gboolean
add_configured (SerialSource *src, const TbgConfig *cfg, const char *name, GError **error)
{
	g_autofree char *group = g_strdup_printf ("serial:%s", name);
	g_auto (PortConfig) pc = { 0 };
	SerialDevice *sd;

	if (!parse_configured (cfg, group, &pc, error))
		return FALSE;
	sd = add_port (src, name, pc.type, pc.port, &pc.settings, pc.format, pc.max_line, NULL, error);
	if (sd == NULL)
		return FALSE;
	sd->group = g_steal_pointer (&group);
	return TRUE;
}

static SerialDevice *
find_by_group (SerialSource *src, const char *group)
{
	for (guint i = 0; i < src->devices->len; i++) {
		SerialDevice *sd = g_ptr_array_index (src->devices, i);

		if (g_strcmp0 (sd->group, group) == 0)
			return sd;
	}
	return NULL;
}

/* ---- udev --------------------------------------------------------------------- */

static SerialDevice *
find_by_sysfs (SerialSource *src, const char *sysfs)
{
	for (guint i = 0; i < src->devices->len; i++) {
		SerialDevice *sd = g_ptr_array_index (src->devices, i);

		if (sd->sysfs != NULL && g_str_equal (sd->sysfs, sysfs))
			return sd;
	}
	return NULL;
}

static SerialDevice *
find_by_node (SerialSource *src, const char *node)
{
	g_autofree char *real = realpath (node, NULL);

	for (guint i = 0; i < src->devices->len; i++) {
		SerialDevice *sd = g_ptr_array_index (src->devices, i);
		const char *path = tbg_serial_port_get_path (sd->port);
		g_autofree char *rp = realpath (path, NULL);

		if (g_str_equal (path, node) || (real && rp && g_str_equal (real, rp)))
			return sd;
	}
	return NULL;
}

/* Stable across replugs: model and serial number, as udev reports them. */
static char *
derive_name (GUdevDevice *d)
{
	const char *model = g_udev_device_get_property (d, "ID_MODEL");
	const char *serial = g_udev_device_get_property (d, "ID_SERIAL_SHORT");

	if (model != NULL && serial != NULL)
		return g_strdup_printf ("%s %s", model, serial);
	if (g_udev_device_get_property (d, "ID_SERIAL") != NULL)
		return g_strdup (g_udev_device_get_property (d, "ID_SERIAL"));
	return g_strdup (g_udev_device_get_name (d));
}

static void
udev_add (SerialSource *src, GUdevDevice *d)
{
	g_autoptr (GError) error = NULL;
	const char *node = g_udev_device_get_device_file (d);
	const char *sysfs = g_udev_device_get_sysfs_path (d);
	const char *prop;
	g_autofree char *name = NULL;
	TbgSerialSettings s;
	TbgLineFormat format = TBG_LINE_FORMAT_JSON;
	SerialDevice *sd;

	if (g_strcmp0 (g_udev_device_get_property (d, "TBGW_CANDIDATE"), "1") != 0 || node == NULL)
		return;   /* never touch a port nobody asked for */
	sd = find_by_sysfs (src, sysfs);
	if (sd == NULL)
		sd = find_by_node (src, node);
	if (sd != NULL) {
		/* Replugged (or a configured port udev also knows): open it now. */
		if (sd->sysfs != NULL && !tbg_serial_port_is_open (sd->port))
			tbg_serial_port_set_path (sd->port, node);
		tbg_serial_port_retry_now (sd->port);
		return;
	}
	tbg_serial_settings_init (&s);
	prop = g_udev_device_get_property (d, "TBGW_BAUD");
	if (prop != NULL && !tbg_serial_parse_baud (prop, &s.baud, &error)) {
		g_warning (_("%s: TBGW_BAUD: %s; ignoring the port"), node, error->message);
		return;
	}
	prop = g_udev_device_get_property (d, "TBGW_PROTOCOL");
	if (prop != NULL && !tbg_line_format_from_string (prop, &format)) {
		g_warning (_("%s: TBGW_PROTOCOL “%s” is neither json nor plotter; ignoring the port"),
		           node, prop);
		return;
	}
	prop = g_udev_device_get_property (d, "TBGW_NAME");
	name = prop != NULL ? g_strdup (prop) : derive_name (d);
	if (add_port (src, name, g_udev_device_get_property (d, "TBGW_TYPE"), node, &s, format,
	              DEFAULT_MAX_LINE, sysfs, &error) == NULL)
		g_warning (_("%s: %s"), node, error->message);
}

static void
udev_remove (SerialSource *src, GUdevDevice *d)
{
	SerialDevice *sd = find_by_sysfs (src, g_udev_device_get_sysfs_path (d));

	/* The device stays known (disconnected) so a replug keeps its name;
	 * the read error has usually closed it already. */
	if (sd != NULL && tbg_serial_port_is_open (sd->port)) {
		tbg_serial_port_stop (sd->port);
		port_closed (sd->port, _("unplugged"), sd);
		tbg_serial_port_start (sd->port);
	}
}

static void
on_uevent (GUdevClient *client, const char *action, GUdevDevice *d, gpointer user_data)
{
	SerialSource *src = user_data;

	if (g_str_equal (action, "add") || g_str_equal (action, "change"))
		udev_add (src, d);
	else if (g_str_equal (action, "remove"))
		udev_remove (src, d);
}

/* ---- the source table ----------------------------------------------------------- */

static void serial_stop (gpointer instance);

static gpointer
serial_start (TbgGateway *gw, const TbgConfig *cfg, GError **error)
{
	static const char * const subsystems[] = { "tty", NULL };
	SerialSource *src = g_new0 (SerialSource, 1);
	g_auto (GStrv) names = tbg_config_device_groups (cfg, "serial");
	GList *ttys;

	src->gw = gw;
	src->devices = g_ptr_array_new ();
	for (guint i = 0; names[i] != NULL; i++) {
		if (!add_configured (src, cfg, names[i], error)) {
			serial_stop (src);
			return NULL;
		}
	}
	src->udev = g_udev_client_new (subsystems);
	g_signal_connect (src->udev, "uevent", G_CALLBACK (on_uevent), src);
	ttys = g_udev_client_query_by_subsystem (src->udev, "tty");
	for (GList *l = ttys; l != NULL; l = l->next)
		udev_add (src, l->data);
	g_list_free_full (ttys, g_object_unref);
	return src;
}

static void
serial_stop (gpointer instance)
{
	SerialSource *src = instance;

	if (src == NULL)
		return;
	if (src->udev != NULL) {
		g_signal_handlers_disconnect_by_data (src->udev, src);
		g_object_unref (src->udev);
	}
	while (src->devices->len > 0)
		remove_port (src, g_ptr_array_index (src->devices, src->devices->len - 1));
	g_ptr_array_unref (src->devices);
	g_free (src);
}

static gboolean
serial_validate (const TbgConfig *cfg, GError **error)
{
	g_auto (GStrv) names = tbg_config_device_groups (cfg, "serial");

	for (guint i = 0; names[i] != NULL; i++) {
		g_autofree char *group = g_strdup_printf ("serial:%s", names[i]);
		g_auto (PortConfig) pc = { 0 };

		if (!parse_configured (cfg, group, &pc, error))
			return FALSE;
	}
	return TRUE;
}

/* An unchanged group keeps its port open (no disconnect, pending RPCs
 * stay); a changed one is closed and opened again with its new settings. */
static void
serial_reconfigure (gpointer instance, const TbgConfig *old_cfg, const TbgConfig *new_cfg)
{
	SerialSource *src = instance;
	g_auto (GStrv) names = tbg_config_device_groups (new_cfg, "serial");

	for (guint i = src->devices->len; i > 0; i--) {
		SerialDevice *sd = g_ptr_array_index (src->devices, i - 1);

		if (sd->group != NULL && !tbg_config_group_equal (old_cfg, new_cfg, sd->group)) {
			g_message (_("[%s] changed; closing %s"), sd->group,
			           tbg_serial_port_get_path (sd->port));
			remove_port (src, sd);
		}
	}
	for (guint i = 0; names[i] != NULL; i++) {
		g_autofree char *group = g_strdup_printf ("serial:%s", names[i]);
		g_autoptr (GError) error = NULL;

		if (find_by_group (src, group) == NULL && !add_configured (src, new_cfg, names[i], &error))
			g_warning (_("Serial device “%s” not added: %s"), names[i], error->message);
	}
}

static gboolean
rpc_is_done (gpointer key, gpointer value, gpointer user_data)
{
	return tbg_rpc_is_done (value);
}

static void
serial_rpc (gpointer instance, TbgDevice *dev, TbgRpc *rpc)
{
	SerialDevice *sd = tbg_device_get_source_data (dev);
	g_autoptr (GError) error = NULL;
	g_autofree char *line = NULL;
	gint64 id = tbg_rpc_get_id (rpc);
	gsize len = 0;

	if (sd == NULL || !tbg_serial_port_is_open (sd->port)) {
		tbg_rpc_reply_error (rpc, "device not connected");
		return;
	}
	line = tbg_line_encode_rpc (id, tbg_rpc_get_method (rpc), tbg_rpc_get_params (rpc), &len);
	if (line == NULL) {
		tbg_rpc_reply_error (rpc, "cannot encode the request");
		return;
	}
	if (!tbg_serial_port_write (sd->port, line, len, &error)) {
		/* The local reason names the tty: for the log, not for the server. */
		g_message (_("%s: RPC %" G_GINT64_FORMAT " not written: %s"), tbg_device_get_name (dev), id,
		           error->message);
		tbg_rpc_reply_error (rpc, "%s", g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)
		                                ? "device busy" : "device not connected");
		return;
	}
	/* Pipelined: several RPCs may be on the line at once, matched by id.
	 * Those the gateway already answered with a timeout are forgotten. */
	g_hash_table_foreach_remove (sd->rpcs, rpc_is_done, NULL);
	g_hash_table_replace (sd->rpcs, g_memdup2 (&id, sizeof id), tbg_rpc_ref (rpc));
}

static void
serial_shared_attributes (gpointer instance, TbgDevice *dev, json_t *changed,
                          const char * const *deleted)
{
	SerialDevice *sd = tbg_device_get_source_data (dev);
	g_autoptr (GError) error = NULL;
	g_autofree char *line = NULL;
	gsize len = 0;

	if (sd == NULL || changed == NULL || json_object_size (changed) == 0)
		return;
	line = tbg_line_encode_shared (changed, &len);
	if (line == NULL || !tbg_serial_port_write (sd->port, line, len, &error))
		g_warning (_("%s: shared attributes not written: %s"), tbg_device_get_name (dev),
		           error ? error->message : _("cannot encode"));
}

const TbgSource tbg_source_serial = {
	.name = "serial",
	.config_keys = config_keys,
	.start = serial_start,
	.stop = serial_stop,
	.validate = serial_validate,
	.reconfigure = serial_reconfigure,
	.rpc = serial_rpc,
	.shared_attributes = serial_shared_attributes,
};
