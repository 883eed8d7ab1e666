/* SPDX-License-Identifier: Apache-2.0 */
/* gpio-libgpiod2.c — the GPIO backend on libgpiod 2.x (Debian 13, current
 * Raspberry Pi OS). Every libgpiod 2.x call of the project is in this
 * file; gpio-libgpiod1.c is its 1.x twin with the same behaviour. */
#include "gpio-backend.h"
#include "i18n.h"

#include <errno.h>
#include <gio/gio.h>
#include <gpiod.h>

/* Edge events read per read(2); more stay queued in the kernel. */
#define EVENT_BATCH 16

typedef struct {
	struct gpiod_line_request    *req;
	unsigned int                  offset;
	gboolean                      active_low;
	struct gpiod_edge_event_buffer *events;  /* inputs */
	int                           n_events;  /* in @events */
	int                           next;      /* the first not yet handed out */
} Line;

/* "<what>: <strerror>" from errno. */
static void
set_errno_error (GError **error, const char *what)
{
	int err = errno;

	g_set_error (error, G_IO_ERROR, g_io_error_from_errno (err), "%s: %s", what, g_strerror (err));
}

static TbgGpioChipInfo *
lg_chip_info (const char *path)
{
	struct gpiod_chip *chip;
	struct gpiod_chip_info *ci;
	TbgGpioChipInfo *info = NULL;

	if (!gpiod_is_gpiochip_device (path))
		return NULL;
	chip = gpiod_chip_open (path);
	if (chip == NULL)
		return NULL;
	ci = gpiod_chip_get_info (chip);
	if (ci != NULL) {
		info = g_new0 (TbgGpioChipInfo, 1);
		info->path = g_strdup (path);
		info->name = g_strdup (gpiod_chip_info_get_name (ci));
		info->label = g_strdup (gpiod_chip_info_get_label (ci));
		info->n_lines = gpiod_chip_info_get_num_lines (ci);
		gpiod_chip_info_free (ci);
	}
	gpiod_chip_close (chip);
	return info;
}

static gpointer
lg_open_chip (const char *path, GError **error)
{
	struct gpiod_chip *chip = gpiod_chip_open (path);

	if (chip == NULL) {
		g_autofree char *what = g_strdup_printf (_("GPIO chip “%s”"), path);

		set_errno_error (error, what);
	}
	return chip;
}

static void
lg_close_chip (gpointer chip)
{
	gpiod_chip_close (chip);
}

static int
lg_find_line (gpointer chip, const char *name)
{
	return gpiod_chip_get_line_offset_from_name (chip, name);
}

/* The chip's name and line count, for messages. */
static char *
chip_describe (struct gpiod_chip *chip, size_t *n_lines)
{
	struct gpiod_chip_info *ci = gpiod_chip_get_info (chip);
	char *name;

	*n_lines = ci ? gpiod_chip_info_get_num_lines (ci) : 0;
	name = g_strdup (ci ? gpiod_chip_info_get_name (ci) : gpiod_chip_get_path (chip));
	if (ci != NULL)
		gpiod_chip_info_free (ci);
	return name;
}

static struct gpiod_line_settings *
settings_for (const TbgGpioLineSpec *spec)
{
	struct gpiod_line_settings *s = gpiod_line_settings_new ();
	static const enum gpiod_line_bias bias[] = {
		[TBG_GPIO_BIAS_AS_IS] = GPIOD_LINE_BIAS_AS_IS,
		[TBG_GPIO_BIAS_DISABLE] = GPIOD_LINE_BIAS_DISABLED,
		[TBG_GPIO_BIAS_PULL_UP] = GPIOD_LINE_BIAS_PULL_UP,
		[TBG_GPIO_BIAS_PULL_DOWN] = GPIOD_LINE_BIAS_PULL_DOWN,
	};
	static const enum gpiod_line_edge edge[] = {
		[TBG_GPIO_EDGE_BOTH] = GPIOD_LINE_EDGE_BOTH,
		[TBG_GPIO_EDGE_RISING] = GPIOD_LINE_EDGE_RISING,
		[TBG_GPIO_EDGE_FALLING] = GPIOD_LINE_EDGE_FALLING,
	};

	if (s == NULL)
		return NULL;
	gpiod_line_settings_set_active_low (s, spec->active_low);
	if (gpiod_line_settings_set_bias (s, bias[spec->bias]) != 0)
		goto fail;
	if (spec->output) {
		if (gpiod_line_settings_set_direction (s, GPIOD_LINE_DIRECTION_OUTPUT) != 0 ||
		    gpiod_line_settings_set_output_value (s, spec->initial ? GPIOD_LINE_VALUE_ACTIVE
		                                                           : GPIOD_LINE_VALUE_INACTIVE) != 0)
			goto fail;
	} else if (gpiod_line_settings_set_direction (s, GPIOD_LINE_DIRECTION_INPUT) != 0 ||
	           gpiod_line_settings_set_edge_detection (s, edge[spec->edge]) != 0 ||
	           /* the source turns these into wall-clock times */
	           gpiod_line_settings_set_event_clock (s, GPIOD_LINE_CLOCK_MONOTONIC) != 0) {
		goto fail;
	}
	return s;
fail:
	gpiod_line_settings_free (s);
	return NULL;
}

static gpointer
lg_request (gpointer chip, const TbgGpioLineSpec *spec, const char *consumer, GError **error)
{
	g_autofree char *chip_name = NULL;
	struct gpiod_line_settings *settings = NULL;
	struct gpiod_line_config *lcfg = NULL;
	struct gpiod_request_config *rcfg = NULL;
	struct gpiod_line_request *req = NULL;
	unsigned int offset = spec->offset;
	size_t n_lines;
	Line *line = NULL;
	int err = 0;

	errno = 0;
	chip_name = chip_describe (chip, &n_lines);
	if (offset >= n_lines) {
		g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
		             _("GPIO line “%s” (%s) does not exist on %s (%zu lines)"), spec->line, spec->name,
		             chip_name, n_lines);
		return NULL;
	}
	settings = settings_for (spec);
	lcfg = gpiod_line_config_new ();
	rcfg = gpiod_request_config_new ();
	if (settings == NULL || lcfg == NULL || rcfg == NULL ||
	    gpiod_line_config_add_line_settings (lcfg, &offset, 1, settings) != 0) {
		err = errno ? errno : ENOMEM;
		goto out;
	}
	gpiod_request_config_set_consumer (rcfg, consumer);
	req = gpiod_chip_request_lines (chip, rcfg, lcfg);
	if (req == NULL) {
		err = errno;
		goto out;
	}
	line = g_new0 (Line, 1);
	line->req = req;
	line->offset = offset;
	line->active_low = spec->active_low;
	if (!spec->output) {
		line->events = gpiod_edge_event_buffer_new (EVENT_BATCH);
		if (line->events == NULL) {
			err = ENOMEM;
			gpiod_line_request_release (req);
			g_clear_pointer (&line, g_free);
		}
	}
out:
	if (settings != NULL)
		gpiod_line_settings_free (settings);
	if (lcfg != NULL)
		gpiod_line_config_free (lcfg);
	if (rcfg != NULL)
		gpiod_request_config_free (rcfg);
	if (line == NULL) {
		/* who holds it now */
		struct gpiod_line_info *li = gpiod_chip_get_line_info (chip, offset);
		const char *holder = li && gpiod_line_info_is_used (li) ? gpiod_line_info_get_consumer (li) : NULL;

		g_set_error (error, G_IO_ERROR, g_io_error_from_errno (err),
		             _("GPIO line “%s” (%s) on %s: %s%s%s"), spec->line, spec->name, chip_name,
		             g_strerror (err), holder ? _("; in use by ") : "", holder ? holder : "");
		if (li != NULL)
			gpiod_line_info_free (li);
	}
	return line;
}

static void
lg_release (gpointer data)
{
	Line *line = data;

	gpiod_line_request_release (line->req);
	if (line->events != NULL)
		gpiod_edge_event_buffer_free (line->events);
	g_free (line);
}

static gboolean
lg_set_value (gpointer data, int value, GError **error)
{
	Line *line = data;

	if (gpiod_line_request_set_value (line->req, line->offset,
	                                  value ? GPIOD_LINE_VALUE_ACTIVE : GPIOD_LINE_VALUE_INACTIVE) != 0) {
		set_errno_error (error, _("setting a GPIO line"));
		return FALSE;
	}
	return TRUE;
}

static int
lg_get_value (gpointer data, GError **error)
{
	Line *line = data;
	enum gpiod_line_value v = gpiod_line_request_get_value (line->req, line->offset);

	if (v == GPIOD_LINE_VALUE_ERROR) {
		set_errno_error (error, _("reading a GPIO line"));
		return -1;
	}
	return v == GPIOD_LINE_VALUE_ACTIVE;
}

static int
lg_event_fd (gpointer data)
{
	return gpiod_line_request_get_fd (((Line *) data)->req);
}

static gboolean
lg_read_event (gpointer data, gboolean *rising, gint64 *mono_ns, GError **error)
{
	Line *line = data;
	struct gpiod_edge_event *ev;

	if (line->next >= line->n_events) {
		int rc;

		/* the read blocks when nothing is queued */
		rc = gpiod_line_request_wait_edge_events (line->req, 0);
		if (rc == 0)
			return FALSE;
		if (rc > 0)
			rc = gpiod_line_request_read_edge_events (line->req, line->events, EVENT_BATCH);
		if (rc < 0) {
			set_errno_error (error, _("reading a GPIO event"));
			return FALSE;
		}
		line->n_events = rc;
		line->next = 0;
		if (rc == 0)
			return FALSE;
	}
	ev = gpiod_edge_event_buffer_get_event (line->events, line->next++);
	*rising = gpiod_edge_event_get_event_type (ev) == GPIOD_EDGE_EVENT_RISING_EDGE;
	*mono_ns = (gint64) gpiod_edge_event_get_timestamp_ns (ev);
	return TRUE;
}

const TbgGpioBackend tbg_gpio_libgpiod = {
	.name = "libgpiod2",
	.chip_info = lg_chip_info,
	.open_chip = lg_open_chip,
	.close_chip = lg_close_chip,
	.find_line = lg_find_line,
	.request = lg_request,
	.release = lg_release,
	.set_value = lg_set_value,
	.get_value = lg_get_value,
	.event_fd = lg_event_fd,
	.read_event = lg_read_event,
};
