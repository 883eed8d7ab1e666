/* source-gpio.c — GPIO lines as ThingsBoard devices: one device per
 * [gpio:NAME] group of lines. Outputs follow RPCs (setValue, getValue,
 * toggle, pulse) and shared attributes named after a line; inputs report
 * edges as telemetry with the event's own time, debounced. Every state
 * change is published, and all states periodically, because ThingsBoard
 * forgets a device that stays silent for ~10 minutes.
 */
#include "gateway.h"
#include "gpio-backend.h"
#include "i18n.h"

#include <glib-unix.h>
#include <string.h>

#define CONSUMER            "tbgwd"
#define DEFAULT_REPORT_S    300

typedef struct _GpioDevice GpioDevice;

typedef struct {
	GpioDevice      *gd;
	char            *name;
	TbgGpioLineSpec  spec;
	gpointer         handle;
	int              value;         /* last published logical value */
	guint            debounce_ms;
	guint            watch_id;
	guint            debounce_id;
	gint64           pending_ms;    /* realtime of the edge being debounced */
	guint            pulse_id;
	int              pulse_restore;
} GpioLine;

struct _GpioDevice {
	struct _GpioSource *src;
	TbgDevice          *dev;
	gpointer            chip;
	GPtrArray          *lines;      /* GpioLine */
	guint               report_id;
};

typedef struct _GpioSource {
	TbgGateway *gw;
	GPtrArray  *devices;
} GpioSource;

extern const TbgSource tbg_source_gpio;
static const TbgGpioBackend *backend = &tbg_gpio_libgpiod;

/* For the tests' fake chip. */
void tbg_source_gpio_set_backend (const TbgGpioBackend *b);
void
tbg_source_gpio_set_backend (const TbgGpioBackend *b)
{
	backend = b ? b : &tbg_gpio_libgpiod;
}

static GpioLine *
find_line (GpioDevice *gd, const char *name)
{
	for (guint i = 0; name != NULL && i < gd->lines->len; i++) {
		GpioLine *l = g_ptr_array_index (gd->lines, i);

		if (g_str_equal (l->name, name))
			return l;
	}
	return NULL;
}

static void
publish (GpioDevice *gd, json_t *values, gint64 ts_ms)
{
	g_autoptr (GError) error = NULL;

	if (!tbg_device_push_telemetry (gd->dev, ts_ms, values, &error))
		g_warning ("%s: %s", tbg_device_get_name (gd->dev), error->message);
}

static void
publish_line (GpioLine *l, gint64 ts_ms)
{
	json_t *v = json_pack ("{s:i}", l->name, l->value);

	publish (l->gd, v, ts_ms);
	json_decref (v);
}

static void
publish_all (GpioDevice *gd)
{
	json_t *v = json_object ();

	for (guint i = 0; i < gd->lines->len; i++) {
		GpioLine *l = g_ptr_array_index (gd->lines, i);

		json_object_set_new (v, l->name, json_integer (l->value));
	}
	if (json_object_size (v) > 0)
		publish (gd, v, 0);
	json_decref (v);
}

static gboolean
set_output (GpioLine *l, int value, GError **error)
{
	if (!l->spec.output) {
		g_set_error (error, TBG_ERROR, TBG_ERROR_INVALID_ARGS, _("line “%s” is an input"), l->name);
		return FALSE;
	}
	if (!backend->set_value (l->handle, value ? 1 : 0, error))
		return FALSE;
	if (l->value != (value ? 1 : 0)) {
		l->value = value ? 1 : 0;
		publish_line (l, 0);
	}
	return TRUE;
}

/* ---- inputs -------------------------------------------------------------------- */

static gint64
mono_ns_to_real_ms (gint64 mono_ns)
{
	gint64 age_us = g_get_monotonic_time () - mono_ns / 1000;

	return (g_get_real_time () - MAX (age_us, 0)) / 1000;
}

static gboolean
debounce_done (gpointer data)
{
	GpioLine *l = data;
	g_autoptr (GError) error = NULL;
	int v = backend->get_value (l->handle, &error);

	l->debounce_id = 0;
	if (v < 0) {
		g_warning ("%s: %s: %s", tbg_device_get_name (l->gd->dev), l->name, error->message);
		return G_SOURCE_REMOVE;
	}
	/* Only a level that held for the whole debounce time counts. */
	if (v != l->value) {
		l->value = v;
		publish_line (l, l->pending_ms);
	}
	return G_SOURCE_REMOVE;
}

static gboolean
on_edge (int fd, GIOCondition cond, gpointer data)
{
	GpioLine *l = data;
	g_autoptr (GError) error = NULL;
	gboolean rising;
	gint64 mono_ns;

	while (backend->read_event (l->handle, &rising, &mono_ns, &error)) {
		gint64 ts = mono_ns_to_real_ms (mono_ns);

		if (l->debounce_ms > 0) {
			l->pending_ms = ts;
			g_clear_handle_id (&l->debounce_id, g_source_remove);
			l->debounce_id = g_timeout_add (l->debounce_ms, debounce_done, l);
		} else if (l->value != (rising ? 1 : 0)) {
			l->value = rising ? 1 : 0;
			publish_line (l, ts);
		}
	}
	if (error != NULL) {
		g_warning ("%s: %s: %s", tbg_device_get_name (l->gd->dev), l->name, error->message);
		l->watch_id = 0;
		return G_SOURCE_REMOVE;
	}
	return G_SOURCE_CONTINUE;
}

/* ---- RPC and shared attributes ----------------------------------------------------- */

static json_t *
line_state (GpioLine *l)
{
	return json_pack ("{s:s,s:i}", "line", l->name, "value", l->value);
}

static gboolean
pulse_done (gpointer data)
{
	GpioLine *l = data;
	g_autoptr (GError) error = NULL;

	l->pulse_id = 0;
	if (!set_output (l, l->pulse_restore, &error))
		g_warning ("%s: %s: %s", tbg_device_get_name (l->gd->dev), l->name, error->message);
	return G_SOURCE_REMOVE;
}

static gboolean
json_to_level (json_t *v, int *out)
{
	if (json_is_boolean (v))
		*out = json_is_true (v);
	else if (json_is_integer (v) && (json_integer_value (v) == 0 || json_integer_value (v) == 1))
		*out = json_integer_value (v);
	else
		return FALSE;
	return TRUE;
}

static void
gpio_rpc (gpointer instance, TbgDevice *dev, TbgRpc *rpc)
{
	GpioDevice *gd = tbg_device_get_source_data (dev);
	const char *method = tbg_rpc_get_method (rpc);
	json_t *params = tbg_rpc_get_params (rpc);
	g_autoptr (GError) error = NULL;
	GpioLine *l;
	json_t *reply;
	int value;

	if (gd == NULL) {
		tbg_rpc_reply_error (rpc, "device not connected");
		return;
	}
	if (!g_strv_contains ((const char * const[]) { "setValue", "getValue", "toggle", "pulse", NULL }, method)) {
		tbg_rpc_reply_error (rpc, "unknown method “%s” (setValue, getValue, toggle, pulse)", method);
		return;
	}
	l = find_line (gd, json_string_value (json_object_get (params, "line")));
	if (l == NULL) {
		tbg_rpc_reply_error (rpc, "params.line must name a line of this device");
		return;
	}
	if (g_str_equal (method, "getValue")) {
		/* Ask the hardware: an output may have been changed behind our back. */
		value = backend->get_value (l->handle, &error);
		if (value < 0) {
			tbg_rpc_reply_error (rpc, "%s", error->message);
			return;
		}
		l->value = value;
	} else if (g_str_equal (method, "setValue")) {
		if (!json_to_level (json_object_get (params, "value"), &value)) {
			tbg_rpc_reply_error (rpc, "params.value must be 0, 1, true or false");
			return;
		}
		g_clear_handle_id (&l->pulse_id, g_source_remove);
		if (!set_output (l, value, &error)) {
			tbg_rpc_reply_error (rpc, "%s", error->message);
			return;
		}
	} else if (g_str_equal (method, "toggle")) {
		g_clear_handle_id (&l->pulse_id, g_source_remove);
		if (!set_output (l, !l->value, &error)) {
			tbg_rpc_reply_error (rpc, "%s", error->message);
			return;
		}
	} else {
		json_t *ms = json_object_get (params, "ms");

		if (!json_is_integer (ms) || json_integer_value (ms) <= 0 || json_integer_value (ms) > 3600000) {
			tbg_rpc_reply_error (rpc, "params.ms must be a duration in milliseconds (1..3600000)");
			return;
		}
		if (l->pulse_id == 0)
			l->pulse_restore = l->value;
		g_clear_handle_id (&l->pulse_id, g_source_remove);
		if (!set_output (l, !l->pulse_restore, &error)) {
			tbg_rpc_reply_error (rpc, "%s", error->message);
			return;
		}
		/* Non-blocking: the main loop ends the pulse. */
		l->pulse_id = g_timeout_add (json_integer_value (ms), pulse_done, l);
	}
	reply = line_state (l);
	tbg_rpc_reply (rpc, reply);
	json_decref (reply);
}

static void
gpio_shared_attributes (gpointer instance, TbgDevice *dev, json_t *changed,
                        const char * const *deleted)
{
	GpioDevice *gd = tbg_device_get_source_data (dev);
	const char *key;
	json_t *v;

	if (gd == NULL || changed == NULL)
		return;
	json_object_foreach (changed, key, v) {
		g_autoptr (GError) error = NULL;
		GpioLine *l = find_line (gd, key);
		int value;

		if (l == NULL || !l->spec.output)
			continue;
		if (!json_to_level (v, &value))
			g_warning (_("%s: shared attribute “%s” must be 0, 1, true or false"),
			           tbg_device_get_name (dev), key);
		else if (!set_output (l, value, &error))
			g_warning ("%s: %s: %s", tbg_device_get_name (dev), key, error->message);
	}
}

/* ---- configuration ------------------------------------------------------------------ */

static const char * const config_keys[] = { "chip", "type", "report-interval-s", "line.*", NULL };

static gboolean
parse_line (const TbgConfig *cfg, const char *group, const char *key, GpioLine *l, GError **error)
{
	g_autofree char *value = tbg_config_get_string (cfg, group, key, "");
	g_auto (GStrv) words = g_strsplit_set (value, " \t", -1);
	g_autofree char *where = tbg_config_where (cfg, group, key);
	guint n = 0;

	for (guint i = 0; words[i] != NULL; i++) {
		const char *w = words[i];
		guint64 ms;

		if (*w == '\0')
			continue;
		if (n == 0 && (g_str_equal (w, "input") || g_str_equal (w, "output")))
			l->spec.output = g_str_equal (w, "output");
		else if (n == 1)
			l->spec.line = g_intern_string (w);
		else if (n == 0)
			goto bad;
		else if (g_str_equal (w, "active-low"))
			l->spec.active_low = TRUE;
		else if (g_str_equal (w, "bias=pull-up"))
			l->spec.bias = TBG_GPIO_BIAS_PULL_UP;
		else if (g_str_equal (w, "bias=pull-down"))
			l->spec.bias = TBG_GPIO_BIAS_PULL_DOWN;
		else if (g_str_equal (w, "bias=disable"))
			l->spec.bias = TBG_GPIO_BIAS_DISABLE;
		else if (g_str_equal (w, "initial=1") || g_str_equal (w, "initial=0"))
			l->spec.initial = w[8] == '1';
		else if (g_str_equal (w, "edge=both") || g_str_equal (w, "edge=rising") || g_str_equal (w, "edge=falling"))
			l->spec.edge = w[5] == 'b' ? TBG_GPIO_EDGE_BOTH : w[5] == 'r' ? TBG_GPIO_EDGE_RISING
			                                                          : TBG_GPIO_EDGE_FALLING;
		else if (g_str_has_prefix (w, "debounce-ms=") &&
		         g_ascii_string_to_unsigned (w + 12, 10, 0, 60000, &ms, NULL))
			l->debounce_ms = ms;
		else
			goto bad;
		n++;
	}
	if (n >= 2)
		return TRUE;
bad:
	g_set_error (error, TBG_CONFIG_ERROR, TBG_CONFIG_ERROR_BAD_VALUE,
	             _("%s: [%s] %s: “%s” is not “input|output LINE [active-low] [bias=pull-up|"
	               "pull-down|disable] [initial=0|1] [edge=both|rising|falling] [debounce-ms=N]”"),
	             where, group, key, value);
	return FALSE;
}

static void
line_free (GpioLine *l)
{
	g_clear_handle_id (&l->watch_id, g_source_remove);
	g_clear_handle_id (&l->debounce_id, g_source_remove);
	g_clear_handle_id (&l->pulse_id, g_source_remove);
	if (l->handle != NULL)
		backend->release (l->handle);
	g_free (l->name);
	g_free (l);
}

static void
gpio_device_free (GpioDevice *gd)
{
	g_clear_handle_id (&gd->report_id, g_source_remove);
	g_ptr_array_unref (gd->lines);
	if (gd->chip != NULL)
		backend->close_chip (gd->chip);
	g_free (gd);
}

static gboolean
report_cb (gpointer data)
{
	publish_all (data);
	return G_SOURCE_CONTINUE;
}

static gboolean
request_lines (GpioDevice *gd, GError **error)
{
	for (guint i = 0; i < gd->lines->len; i++) {
		GpioLine *l = g_ptr_array_index (gd->lines, i);
		int v;

		l->handle = backend->request (gd->chip, &l->spec, CONSUMER, error);
		if (l->handle == NULL)
			return FALSE;
		v = backend->get_value (l->handle, error);
		if (v < 0)
			return FALSE;
		l->value = v;
		if (!l->spec.output)
			l->watch_id = g_unix_fd_add (backend->event_fd (l->handle), G_IO_IN, on_edge, l);
	}
	return TRUE;
}

static gboolean
add_group (GpioSource *src, const TbgConfig *cfg, const char *name, GError **error)
{
	g_autofree char *group = g_strdup_printf ("gpio:%s", name);
	g_autofree char *chip = tbg_config_get_string (cfg, group, "chip", "gpiochip0");
	g_autofree char *type = tbg_config_get_string (cfg, group, "type", NULL);
	g_auto (GStrv) keys = g_key_file_get_keys (cfg->keyfile, group, NULL, NULL);
	GpioDevice *gd = g_new0 (GpioDevice, 1);
	guint64 report_s;

	gd->src = src;
	gd->lines = g_ptr_array_new_with_free_func ((GDestroyNotify) line_free);
	if (!tbg_config_get_uint (cfg, group, "report-interval-s", 0, 86400, DEFAULT_REPORT_S,
	                          &report_s, error))
		goto fail;
	for (guint i = 0; keys != NULL && keys[i] != NULL; i++) {
		GpioLine *l;

		if (!g_str_has_prefix (keys[i], "line."))
			continue;
		l = g_new0 (GpioLine, 1);
		l->gd = gd;
		l->name = g_strdup (keys[i] + 5);
		l->spec.name = l->name;
		g_ptr_array_add (gd->lines, l);
		if (!parse_line (cfg, group, keys[i], l, error))
			goto fail;
	}
	if (gd->lines->len == 0) {
		g_autofree char *where = tbg_config_where (cfg, group, NULL);

		g_set_error (error, TBG_CONFIG_ERROR, TBG_CONFIG_ERROR_BAD_VALUE,
		             _("%s: [%s]: no line.NAME= keys"), where, group);
		goto fail;
	}
	gd->chip = backend->open_chip (chip, error);
	if (gd->chip == NULL || !request_lines (gd, error)) {
		/* Config errors name their file and line; hardware ones the group. */
		g_prefix_error (error, "[%s]: ", group);
		goto fail;
	}
	gd->dev = tbg_gateway_add_device (src->gw, &tbg_source_gpio, src, name, type, chip, error);
	if (gd->dev == NULL)
		goto fail;
	tbg_device_set_source_data (gd->dev, gd, NULL);
	g_ptr_array_add (src->devices, gd);
	tbg_device_set_connected (gd->dev, TRUE);
	/* The current state at connect. */
	publish_all (gd);
	if (report_s > 0)
		gd->report_id = g_timeout_add_seconds (report_s, report_cb, gd);
	return TRUE;
fail:
	gpio_device_free (gd);
	return FALSE;
}

static void gpio_stop (gpointer instance);

static gpointer
gpio_start (TbgGateway *gw, const TbgConfig *cfg, GError **error)
{
	GpioSource *src = g_new0 (GpioSource, 1);
	g_auto (GStrv) names = tbg_config_device_groups (cfg, "gpio");

	src->gw = gw;
	src->devices = g_ptr_array_new ();
	for (guint i = 0; names[i] != NULL; i++) {
		if (!add_group (src, cfg, names[i], error)) {
			gpio_stop (src);
			return NULL;
		}
	}
	return src;
}

static void
gpio_stop (gpointer instance)
{
	GpioSource *src = instance;

	if (src == NULL)
		return;
	for (guint i = 0; i < src->devices->len; i++) {
		GpioDevice *gd = g_ptr_array_index (src->devices, i);

		tbg_device_set_source_data (gd->dev, NULL, NULL);
		tbg_gateway_remove_device (src->gw, gd->dev);
		/* Released here, so the lines are free for others once we exit. */
		gpio_device_free (gd);
	}
	g_ptr_array_unref (src->devices);
	g_free (src);
}

const TbgSource tbg_source_gpio = {
	.name = "gpio",
	.config_keys = config_keys,
	.start = gpio_start,
	.stop = gpio_stop,
	.rpc = gpio_rpc,
	.shared_attributes = gpio_shared_attributes,
};
