/* SPDX-License-Identifier: Apache-2.0 */
/* source-gpio.c — GPIO lines as ThingsBoard devices: one device per
 * [gpio:NAME] group of lines. Outputs follow RPCs (setValue, getValue,
 * toggle, pulse) and shared attributes named after a line; inputs report
 * edges as telemetry with the edge's own time, debounced. Every state
 * change is published, and the lines are read and reported periodically,
 * because ThingsBoard forgets a device that stays silent for ~10 minutes.
 *
 * A device whose lines cannot be had (busy, missing chip or line) stays
 * registered but disconnected, says why once, and is retried until it
 * gets them: one bad line never stops the gateway or the other devices.
 */
#include "gateway.h"
#include "gpio-backend.h"
#include "i18n.h"

#include <gio/gio.h>
#include <glib-unix.h>
#include <stdlib.h>
#include <string.h>

#define CONSUMER            "tbgwd"
#define DEFAULT_REPORT_S    300
#define DEFAULT_RETRY_S     10

typedef struct _GpioDevice GpioDevice;

typedef struct {
	GpioDevice      *gd;
	char            *name;
	char            *line;          /* as written: offset or line name */
	TbgGpioLineSpec  spec;
	gpointer         chip;
	char            *chip_name;     /* for messages */
	gpointer         handle;
	int              value;         /* last published logical value */
	guint            debounce_ms;
	guint            watch_id;
	guint            debounce_id;
	int              pending_value; /* the last edge of a burst being debounced */
	gint64           pending_ms;
	guint            pulse_id;
	int              pulse_restore;
} GpioLine;

struct _GpioDevice {
	struct _GpioSource *src;
	char               *name;
	char               *group;
	char               *chip;       /* chip= or NULL: found by line name */
	char               *type;
	char               *default_line;
	guint               report_s;
	guint               retry_s;
	TbgDevice          *dev;
	GPtrArray          *lines;      /* GpioLine */
	gboolean            up;         /* every line requested */
	gint64              last_edge_ms;
	char               *failure;    /* why not, as last logged */
	guint               report_id;
	guint               retry_id;
};

typedef struct _GpioSource {
	TbgGateway *gw;
	GPtrArray  *devices;            /* GpioDevice */
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

/* Reads every line: the report says what the lines are, not what was
 * last seen (an edge may have been filtered or an output changed by
 * someone else). */
static void
publish_all (GpioDevice *gd)
{
	json_t *v = json_object ();

	for (guint i = 0; i < gd->lines->len; i++) {
		GpioLine *l = g_ptr_array_index (gd->lines, i);
		g_autoptr (GError) error = NULL;
		int value = backend->get_value (l->handle, &error);

		if (value < 0) {
			g_warning ("%s: %s: %s", gd->name, l->name, error->message);
			continue;
		}
		l->value = value;
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

/* An edge (or the last of a debounced burst) as telemetry: with
 * edge=rising every rising edge is a 1, with edge=falling every falling
 * edge a 0, each at its own time; with edge=both only a change counts
 * (a glitch that debouncing swallowed whole is no change). */
static void
report_edge (GpioLine *l, int value, gint64 ts_ms)
{
	if (l->spec.edge == TBG_GPIO_EDGE_BOTH && value == l->value)
		return;
	/* ThingsBoard keeps one value per key and millisecond: edges within
	 * one get consecutive stamps, in order, rather than overwrite each other. */
	if (ts_ms <= l->gd->last_edge_ms)
		ts_ms = l->gd->last_edge_ms + 1;
	l->gd->last_edge_ms = ts_ms;
	l->value = value;
	publish_line (l, ts_ms);
}

static gboolean
debounce_done (gpointer data)
{
	GpioLine *l = data;

	l->debounce_id = 0;
	report_edge (l, l->pending_value, l->pending_ms);
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
			/* the burst ends when no edge followed for debounce-ms */
			l->pending_value = rising ? 1 : 0;
			l->pending_ms = ts;
			g_clear_handle_id (&l->debounce_id, g_source_remove);
			l->debounce_id = g_timeout_add (l->debounce_ms, debounce_done, l);
		} else {
			report_edge (l, rising ? 1 : 0, ts);
		}
	}
	if (error != NULL) {
		g_warning ("%s: %s: %s", l->gd->name, l->name, error->message);
		l->watch_id = 0;
		return G_SOURCE_REMOVE;
	}
	return G_SOURCE_CONTINUE;
}

/* ---- RPC and shared attributes ----------------------------------------------------- */

static gboolean
pulse_done (gpointer data)
{
	GpioLine *l = data;
	g_autoptr (GError) error = NULL;

	l->pulse_id = 0;
	if (!set_output (l, l->pulse_restore, &error))
		g_warning ("%s: %s: %s", l->gd->name, l->name, error->message);
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

/* The line a request without params.line means: default-line=, else the
 * device's only output. */
static GpioLine *
default_line (GpioDevice *gd)
{
	GpioLine *found = NULL;

	if (gd->default_line != NULL)
		return find_line (gd, gd->default_line);
	for (guint i = 0; i < gd->lines->len; i++) {
		GpioLine *l = g_ptr_array_index (gd->lines, i);

		if (!l->spec.output)
			continue;
		if (found != NULL)
			return NULL;
		found = l;
	}
	return found;
}

static void
gpio_rpc (gpointer instance, TbgDevice *dev, TbgRpc *rpc)
{
	GpioDevice *gd = tbg_device_get_source_data (dev);
	const char *method = tbg_rpc_get_method (rpc);
	json_t *params = tbg_rpc_get_params (rpc);
	g_autoptr (GError) error = NULL;
	gboolean named, bare_bool = FALSE;
	json_t *value_json, *reply;
	GpioLine *l;
	int value;

	if (gd == NULL || !gd->up) {
		tbg_rpc_reply_error (rpc, "device not available: %s", gd && gd->failure ? gd->failure : "stopped");
		return;
	}
	if (!g_strv_contains ((const char * const[]) { "setValue", "getValue", "toggle", "pulse", NULL }, method)) {
		tbg_rpc_reply_error (rpc, "unknown method “%s” (setValue, getValue, toggle, pulse)", method);
		return;
	}
	/* ThingsBoard's switch widgets send setValue with a bare true/false
	 * and getValue with no params, and read a bare answer: without
	 * params.line a request means the default line and is answered with
	 * the bare value. */
	named = json_is_object (params) && json_object_get (params, "line") != NULL;
	if (named) {
		l = find_line (gd, json_string_value (json_object_get (params, "line")));
		if (l == NULL) {
			tbg_rpc_reply_error (rpc, "params.line must name a line of this device");
			return;
		}
		value_json = json_object_get (params, "value");
	} else if (params == NULL || json_is_null (params) || json_is_object (params) ||
	           json_is_boolean (params) || json_is_integer (params) ||
	           (json_is_string (params) && *json_string_value (params) == '\0')) {
		l = default_line (gd);
		if (l == NULL) {
			tbg_rpc_reply_error (rpc, "params.line must name a line of this device "
			                     "(or set default-line= in [%s])", gd->group);
			return;
		}
		value_json = json_is_object (params) ? json_object_get (params, "value") : params;
		bare_bool = json_is_boolean (value_json);
	} else {
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
		bare_bool = FALSE;
	} else if (g_str_equal (method, "setValue")) {
		if (!json_to_level (value_json, &value)) {
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
		bare_bool = FALSE;
	} else {
		json_t *ms = json_is_object (params) ? json_object_get (params, "ms") : NULL;

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
		bare_bool = FALSE;
	}
	if (named)
		reply = json_pack ("{s:s,s:i}", "line", l->name, "value", l->value);
	else if (bare_bool)
		reply = json_boolean (l->value);
	else
		reply = json_integer (l->value);
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

	if (gd == NULL || !gd->up || changed == NULL)
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

/* ---- chips and lines ------------------------------------------------------------------ */

/* gpiochip2 before gpiochip10. */
static int
chip_cmp (gconstpointer a, gconstpointer b)
{
	const TbgGpioChipInfo *x = *(TbgGpioChipInfo * const *) a, *y = *(TbgGpioChipInfo * const *) b;
	size_t lx = strlen (x->name), ly = strlen (y->name);

	return lx != ly ? (lx > ly) - (lx < ly) : strcmp (x->name, y->name);
}

/* The chips this process can open, in name order (TbgGpioChipInfo).
 * Not libgpiod's own iteration: 1.x's gives nothing at all when one chip
 * cannot be opened (permissions), where the others are still of use. */
static GPtrArray *
list_chips (void)
{
	GPtrArray *chips = g_ptr_array_new_with_free_func ((GDestroyNotify) tbg_gpio_chip_info_free);
	const char *dir_path = backend->chip_dir != NULL ? backend->chip_dir () : "/dev";
	GDir *dir = g_dir_open (dir_path, 0, NULL);
	const char *entry;

	while (dir != NULL && (entry = g_dir_read_name (dir)) != NULL) {
		g_autofree char *path = NULL;
		TbgGpioChipInfo *info;

		if (!g_str_has_prefix (entry, "gpiochip"))
			continue;
		path = g_build_filename (dir_path, entry, NULL);
		info = backend->chip_info (path);
		if (info != NULL)
			g_ptr_array_add (chips, info);
	}
	if (dir != NULL)
		g_dir_close (dir);
	g_ptr_array_sort (chips, chip_cmp);
	return chips;
}

/* "gpiochip0 “pinctrl-bcm2711” (58 lines), …" */
static char *
describe_chips (GPtrArray *chips)
{
	GString *s = g_string_new (NULL);

	for (guint i = 0; i < chips->len; i++) {
		TbgGpioChipInfo *c = g_ptr_array_index (chips, i);

		g_string_append_printf (s, "%s%s “%s” (%u lines)", i ? ", " : "", c->name, c->label, c->n_lines);
	}
	if (chips->len == 0)
		g_string_append (s, _("none"));
	return g_string_free (s, FALSE);
}

/* The chip of a Raspberry Pi's 40-pin header, if this is one: Pi 5
 * (RP1), Pi 4, Pi 0–3. */
static TbgGpioChipInfo *
header_chip (GPtrArray *chips)
{
	static const char * const labels[] = { "pinctrl-rp1", "pinctrl-bcm2711", "pinctrl-bcm2835", NULL };

	for (guint j = 0; labels[j] != NULL; j++) {
		for (guint i = 0; i < chips->len; i++) {
			TbgGpioChipInfo *c = g_ptr_array_index (chips, i);

			if (g_strcmp0 (c->label, labels[j]) == 0)
				return c;
		}
	}
	return NULL;
}

/* chip= as a path, a name (gpiochip4) or a label (pinctrl-rp1). */
static TbgGpioChipInfo *
resolve_chip (GPtrArray *chips, const char *spec, GError **error)
{
	g_autofree char *real = spec[0] == '/' ? realpath (spec, NULL) : NULL;
	g_autofree char *list = NULL;
	TbgGpioChipInfo *by_label = NULL;

	for (guint i = 0; i < chips->len; i++) {
		TbgGpioChipInfo *c = g_ptr_array_index (chips, i);

		if (g_str_equal (c->path, spec) || g_str_equal (c->name, spec) ||
		    (real != NULL && g_str_equal (c->path, real)))
			return c;
	}
	for (guint i = 0; i < chips->len; i++) {
		TbgGpioChipInfo *c = g_ptr_array_index (chips, i);

		if (g_strcmp0 (c->label, spec) != 0)
			continue;
		if (by_label != NULL) {
			g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
			             _("GPIO chips %s and %s are both labelled “%s”: name one (chip=%s)"),
			             by_label->name, c->name, spec, by_label->name);
			return NULL;
		}
		by_label = c;
	}
	if (by_label != NULL)
		return by_label;
	list = describe_chips (chips);
	g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
	             _("GPIO chip “%s” not found (a path, name or label); chips here: %s"), spec, list);
	return NULL;
}

static gboolean
is_offset (const char *line)
{
	return g_ascii_string_to_unsigned (line, 10, 0, G_MAXINT, NULL, NULL);
}

/* Opens the chip of @l and finds its offset: on chip= if given, else the
 * one chip that has a line of that name. */
static gboolean
locate_line (GpioDevice *gd, GpioLine *l, GPtrArray *chips, GError **error)
{
	TbgGpioChipInfo *chip = NULL;
	int offset = -1;

	if (gd->chip != NULL) {
		chip = resolve_chip (chips, gd->chip, error);
		if (chip == NULL)
			return FALSE;
		l->chip = backend->open_chip (chip->path, error);
		if (l->chip == NULL)
			return FALSE;
		offset = is_offset (l->line) ? atoi (l->line) : backend->find_line (l->chip, l->line);
		if (offset < 0) {
			g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
			             _("GPIO line “%s” (%s) does not exist on %s “%s” (gpioinfo %s lists its lines)"),
			             l->line, l->name, chip->name, chip->label, chip->name);
			return FALSE;
		}
	} else {
		/* a line name (checked in parse_line): it must be on exactly one chip */
		for (guint i = 0; i < chips->len; i++) {
			TbgGpioChipInfo *c = g_ptr_array_index (chips, i);
			gpointer handle = backend->open_chip (c->path, NULL);
			int o = handle ? backend->find_line (handle, l->line) : -1;

			if (o < 0) {
				if (handle != NULL)
					backend->close_chip (handle);
				continue;
			}
			if (chip != NULL) {
				backend->close_chip (handle);
				g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
				             _("GPIO line name “%s” (%s) is on %s and on %s: say which with chip="),
				             l->line, l->name, chip->name, c->name);
				return FALSE;
			}
			chip = c;
			offset = o;
			l->chip = handle;
		}
		if (chip == NULL) {
			g_autofree char *list = describe_chips (chips);

			g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
			             _("no GPIO chip has a line named “%s” (%s); chips here: %s"), l->line,
			             l->name, list);
			return FALSE;
		}
	}
	l->spec.offset = offset;
	g_free (l->chip_name);
	l->chip_name = g_strdup (chip->name);
	return TRUE;
}

static void
line_release (GpioLine *l)
{
	g_clear_handle_id (&l->watch_id, g_source_remove);
	g_clear_handle_id (&l->debounce_id, g_source_remove);
	g_clear_handle_id (&l->pulse_id, g_source_remove);
	g_clear_pointer (&l->handle, backend->release);
	g_clear_pointer (&l->chip, backend->close_chip);
}

static void
line_free (GpioLine *l)
{
	line_release (l);
	g_free (l->name);
	g_free (l->line);
	g_free (l->chip_name);
	g_free (l);
}

/* Every line of @gd, or none. */
static gboolean
request_lines (GpioDevice *gd, GError **error)
{
	g_autoptr (GPtrArray) chips = list_chips ();

	for (guint i = 0; i < gd->lines->len; i++) {
		GpioLine *l = g_ptr_array_index (gd->lines, i);
		int v;

		if (!locate_line (gd, l, chips, error))
			goto fail;
		l->handle = backend->request (l->chip, &l->spec, CONSUMER, error);
		if (l->handle == NULL)
			goto fail;
		v = backend->get_value (l->handle, error);
		if (v < 0)
			goto fail;
		l->value = v;
		if (!l->spec.output)
			l->watch_id = g_unix_fd_add (backend->event_fd (l->handle), G_IO_IN, on_edge, l);
	}
	return TRUE;
fail:
	for (guint i = 0; i < gd->lines->len; i++)
		line_release (g_ptr_array_index (gd->lines, i));
	return FALSE;
}

/* ---- devices --------------------------------------------------------------------- */

static gboolean report_cb (gpointer data);
static gboolean retry_cb (gpointer data);

/* Requests the lines; on success the device connects and says its state,
 * otherwise it says why (once per reason) and tries again later. */
static void
device_try_up (GpioDevice *gd)
{
	g_autoptr (GError) error = NULL;

	if (!request_lines (gd, &error)) {
		if (g_strcmp0 (gd->failure, error->message) != 0) {
			g_warning (_("[%s]: %s; device unavailable, retrying every %u s"), gd->group,
			           error->message, gd->retry_s);
			g_free (gd->failure);
			gd->failure = g_strdup (error->message);
		}
		if (gd->retry_id == 0)
			gd->retry_id = g_timeout_add_seconds (gd->retry_s, retry_cb, gd);
		return;
	}
	if (gd->failure != NULL)
		g_message (_("[%s]: lines available; device connected"), gd->group);
	g_clear_pointer (&gd->failure, g_free);
	g_clear_handle_id (&gd->retry_id, g_source_remove);
	gd->up = TRUE;
	tbg_device_set_connected (gd->dev, TRUE);
	/* The current state at connect. */
	publish_all (gd);
	if (gd->report_s > 0)
		gd->report_id = g_timeout_add_seconds (gd->report_s, report_cb, gd);
}

static gboolean
retry_cb (gpointer data)
{
	GpioDevice *gd = data;

	gd->retry_id = 0;
	device_try_up (gd);
	return G_SOURCE_REMOVE;
}

static gboolean
report_cb (gpointer data)
{
	publish_all (data);
	return G_SOURCE_CONTINUE;
}

static void
gpio_device_free (GpioDevice *gd)
{
	g_clear_handle_id (&gd->report_id, g_source_remove);
	g_clear_handle_id (&gd->retry_id, g_source_remove);
	g_ptr_array_unref (gd->lines);
	g_free (gd->name);
	g_free (gd->group);
	g_free (gd->chip);
	g_free (gd->type);
	g_free (gd->default_line);
	g_free (gd->failure);
	g_free (gd);
}

/* ---- configuration ------------------------------------------------------------------ */

static const char * const config_keys[] = { "chip", "type", "report-interval-s", "retry-interval-s",
                                            "default-line", "line.*", NULL };

#define LINE_SYNTAX "input|output LINE [active-low] [bias=pull-up|pull-down|disable] " \
	"[initial=0|1] [edge=both|rising|falling] [debounce-ms=N]"

static gboolean
parse_line (const TbgConfig *cfg, GpioDevice *gd, const char *key, GpioLine *l, GError **error)
{
	g_autofree char *value = tbg_config_get_string (cfg, gd->group, key, "");
	g_auto (GStrv) words = g_strsplit_set (value, " \t", -1);
	g_autofree char *where = tbg_config_where (cfg, gd->group, key);
	const char *misplaced = NULL;
	guint n = 0;

	for (guint i = 0; words[i] != NULL; i++) {
		const char *w = words[i];
		guint64 ms;

		if (*w == '\0')
			continue;
		if (n == 0 && (g_str_equal (w, "input") || g_str_equal (w, "output")))
			l->spec.output = g_str_equal (w, "output");
		else if (n == 1)
			l->line = g_strdup (w);
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
		else if (g_str_equal (w, "initial=1") || g_str_equal (w, "initial=0")) {
			l->spec.initial = w[8] == '1';
			if (!l->spec.output)
				misplaced = w;
		} else if (g_str_equal (w, "edge=both") || g_str_equal (w, "edge=rising") ||
		           g_str_equal (w, "edge=falling")) {
			l->spec.edge = w[5] == 'b' ? TBG_GPIO_EDGE_BOTH : w[5] == 'r' ? TBG_GPIO_EDGE_RISING
			                                                          : TBG_GPIO_EDGE_FALLING;
			if (l->spec.output)
				misplaced = w;
		} else if (g_str_has_prefix (w, "debounce-ms=") &&
		           g_ascii_string_to_unsigned (w + 12, 10, 0, 60000, &ms, NULL)) {
			l->debounce_ms = ms;
			if (l->spec.output)
				misplaced = w;
		} else {
			goto bad;
		}
		n++;
	}
	if (n < 2)
		goto bad;
	/* An option that cannot apply is a mistake, not something to ignore. */
	if (misplaced != NULL) {
		g_set_error (error, TBG_CONFIG_ERROR, TBG_CONFIG_ERROR_BAD_VALUE,
		             _("%s: [%s] %s: “%s” applies to %s only, and this line is an %s"), where,
		             gd->group, key, misplaced, l->spec.output ? "inputs" : "outputs",
		             l->spec.output ? "output" : "input");
		return FALSE;
	}
	/* Which chip an offset is on differs between machines (a Pi 5's
	 * header is gpiochip4 on older kernels, gpiochip0 on newer ones). */
	if (gd->chip == NULL && is_offset (l->line)) {
		g_autoptr (GPtrArray) chips = list_chips ();
		TbgGpioChipInfo *header = header_chip (chips);
		g_autofree char *list = describe_chips (chips);

		if (header != NULL)
			g_set_error (error, TBG_CONFIG_ERROR, TBG_CONFIG_ERROR_BAD_VALUE,
			             _("%s: [%s] %s: line %s is an offset, so chip= must say on which chip "
			               "(the 40-pin header here is chip=%s, %s), or name the line (GPIO%s)"),
			             where, gd->group, key, l->line, header->label, header->name, l->line);
		else
			g_set_error (error, TBG_CONFIG_ERROR, TBG_CONFIG_ERROR_BAD_VALUE,
			             _("%s: [%s] %s: line %s is an offset, so chip= must say on which chip "
			               "(chips here: %s), or name the line"),
			             where, gd->group, key, l->line, list);
		return FALSE;
	}
	l->spec.line = l->line;
	return TRUE;
bad:
	g_set_error (error, TBG_CONFIG_ERROR, TBG_CONFIG_ERROR_BAD_VALUE,
	             _("%s: [%s] %s: “%s” is not “" LINE_SYNTAX "”"), where, gd->group, key, value);
	return FALSE;
}

/* A device as its group describes it, nothing requested yet. Everything
 * is copied: nothing points into @cfg. */
static GpioDevice *
parse_group (const TbgConfig *cfg, const char *name, GError **error)
{
	g_autofree char *group = g_strdup_printf ("gpio:%s", name);
	g_auto (GStrv) keys = g_key_file_get_keys (cfg->keyfile, group, NULL, NULL);
	GpioDevice *gd = g_new0 (GpioDevice, 1);
	guint64 report_s, retry_s;

	gd->name = g_strdup (name);
	gd->group = g_strdup (group);
	gd->chip = tbg_config_get_string (cfg, group, "chip", NULL);
	gd->type = tbg_config_get_string (cfg, group, "type", NULL);
	gd->default_line = tbg_config_get_string (cfg, group, "default-line", NULL);
	gd->lines = g_ptr_array_new_with_free_func ((GDestroyNotify) line_free);
	if (gd->chip != NULL && *gd->chip == '\0')
		g_clear_pointer (&gd->chip, g_free);
	if (!tbg_config_check_keys (cfg, group, config_keys, error) ||
	    !tbg_config_get_uint (cfg, group, "report-interval-s", 0, 86400, DEFAULT_REPORT_S,
	                          &report_s, error) ||
	    !tbg_config_get_uint (cfg, group, "retry-interval-s", 1, 3600, DEFAULT_RETRY_S,
	                          &retry_s, error))
		goto fail;
	gd->report_s = report_s;
	gd->retry_s = retry_s;
	for (guint i = 0; keys != NULL && keys[i] != NULL; i++) {
		GpioLine *l;

		if (!g_str_has_prefix (keys[i], "line."))
			continue;
		l = g_new0 (GpioLine, 1);
		l->gd = gd;
		l->name = g_strdup (keys[i] + 5);
		l->spec.name = l->name;
		g_ptr_array_add (gd->lines, l);
		if (!parse_line (cfg, gd, keys[i], l, error))
			goto fail;
	}
	if (gd->lines->len == 0) {
		g_autofree char *where = tbg_config_where (cfg, group, NULL);

		g_set_error (error, TBG_CONFIG_ERROR, TBG_CONFIG_ERROR_BAD_VALUE,
		             _("%s: [%s]: no line.NAME= keys"), where, group);
		goto fail;
	}
	if (gd->default_line != NULL && find_line (gd, gd->default_line) == NULL) {
		g_autofree char *where = tbg_config_where (cfg, group, "default-line");

		g_set_error (error, TBG_CONFIG_ERROR, TBG_CONFIG_ERROR_BAD_VALUE,
		             _("%s: [%s] default-line: “%s” is not one of its line.NAME= keys"), where,
		             group, gd->default_line);
		goto fail;
	}
	return gd;
fail:
	gpio_device_free (gd);
	return NULL;
}

static gboolean
add_group (GpioSource *src, const TbgConfig *cfg, const char *name, GError **error)
{
	GpioDevice *gd = parse_group (cfg, name, error);

	if (gd == NULL)
		return FALSE;
	gd->src = src;
	gd->dev = tbg_gateway_add_device (src->gw, &tbg_source_gpio, src, name, gd->type,
	                                  gd->chip ? gd->chip : "gpio", error);
	if (gd->dev == NULL) {
		gpio_device_free (gd);
		return FALSE;
	}
	tbg_device_set_source_data (gd->dev, gd, NULL);
	g_ptr_array_add (src->devices, gd);
	/* A line that cannot be had fails this device alone. */
	device_try_up (gd);
	return TRUE;
}

static void
remove_device (GpioSource *src, GpioDevice *gd)
{
	tbg_device_set_source_data (gd->dev, NULL, NULL);
	tbg_gateway_remove_device (src->gw, gd->dev);
	g_ptr_array_remove (src->devices, gd);
	/* Released here, so the lines are free for others at once. */
	gpio_device_free (gd);
}

/* The same line twice in the file can never work: the second request
 * would find it held by the first, and retry for ever. Lines are compared
 * as written (chip= and the offset or line name), which is what the file
 * says; the chips themselves are not asked. */
static gboolean
check_unique_lines (const TbgConfig *cfg, GpioDevice *gd, GHashTable *used, GError **error)
{
	for (guint i = 0; i < gd->lines->len; i++) {
		GpioLine *l = g_ptr_array_index (gd->lines, i);
		g_autofree char *line = is_offset (l->line) ? g_strdup_printf ("%d", atoi (l->line))
		                                            : g_strdup (l->line);
		g_autofree char *id = g_strdup_printf ("%s\n%s", gd->chip ? gd->chip : "", line);
		g_autofree char *key = g_strconcat ("line.", l->name, NULL);
		const char *first = g_hash_table_lookup (used, id);

		if (first != NULL) {
			g_autofree char *where = tbg_config_where (cfg, gd->group, key);

			g_set_error (error, TBG_CONFIG_ERROR, TBG_CONFIG_ERROR_BAD_VALUE,
			             _("%s: [%s] %s: line %s is also %s"), where, gd->group, key, l->line, first);
			return FALSE;
		}
		g_hash_table_insert (used, g_steal_pointer (&id), g_strdup_printf ("[%s] %s", gd->group, key));
	}
	return TRUE;
}

/* What is wrong in the file itself. A line that is busy now, or a chip
 * that is not there now, is no fault of the file: that device fails alone
 * and is retried (device_try_up). */
static gboolean
gpio_validate (const TbgConfig *cfg, GError **error)
{
	g_auto (GStrv) names = tbg_config_device_groups (cfg, "gpio");
	/* "chip\nline" → where it was first used */
	g_autoptr (GHashTable) used = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);

	for (guint i = 0; names[i] != NULL; i++) {
		GpioDevice *gd = parse_group (cfg, names[i], error);
		gboolean ok;

		if (gd == NULL)
			return FALSE;
		ok = check_unique_lines (cfg, gd, used, error);
		gpio_device_free (gd);
		if (!ok)
			return FALSE;
	}
	return TRUE;
}

static void gpio_stop (gpointer instance);

static gpointer
gpio_start (TbgGateway *gw, const TbgConfig *cfg, GError **error)
{
	GpioSource *src = g_new0 (GpioSource, 1);
	g_auto (GStrv) names = tbg_config_device_groups (cfg, "gpio");

	src->gw = gw;
	src->devices = g_ptr_array_new ();
	/* config errors first, so that nothing is requested for a bad file */
	if (!gpio_validate (cfg, error)) {
		gpio_stop (src);
		return NULL;
	}
	for (guint i = 0; names[i] != NULL; i++) {
		if (!add_group (src, cfg, names[i], error)) {
			gpio_stop (src);
			return NULL;
		}
	}
	return src;
}

static GpioDevice *
find_device (GpioSource *src, const char *name)
{
	for (guint i = 0; i < src->devices->len; i++) {
		GpioDevice *gd = g_ptr_array_index (src->devices, i);

		if (g_str_equal (gd->name, name))
			return gd;
	}
	return NULL;
}

/* An unchanged group keeps its device as it is: lines stay requested and
 * outputs keep their level, no disconnect. */
static void
gpio_reconfigure (gpointer instance, const TbgConfig *old_cfg, const TbgConfig *new_cfg)
{
	GpioSource *src = instance;
	g_auto (GStrv) names = tbg_config_device_groups (new_cfg, "gpio");

	for (guint i = src->devices->len; i > 0; i--) {
		GpioDevice *gd = g_ptr_array_index (src->devices, i - 1);

		if (!g_strv_contains ((const char * const *) names, gd->name) ||
		    !tbg_config_group_equal (old_cfg, new_cfg, gd->group))
			remove_device (src, gd);
	}
	for (guint i = 0; names[i] != NULL; i++) {
		g_autoptr (GError) error = NULL;

		if (find_device (src, names[i]) == NULL && !add_group (src, new_cfg, names[i], &error))
			g_warning ("%s", error->message);
	}
}

static void
gpio_stop (gpointer instance)
{
	GpioSource *src = instance;

	if (src == NULL)
		return;
	while (src->devices->len > 0)
		remove_device (src, g_ptr_array_index (src->devices, src->devices->len - 1));
	g_ptr_array_unref (src->devices);
	g_free (src);
}

const TbgSource tbg_source_gpio = {
	.name = "gpio",
	.config_keys = config_keys,
	.start = gpio_start,
	.stop = gpio_stop,
	.validate = gpio_validate,
	.reconfigure = gpio_reconfigure,
	.rpc = gpio_rpc,
	.shared_attributes = gpio_shared_attributes,
};
