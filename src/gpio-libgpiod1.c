/* SPDX-License-Identifier: Apache-2.0 */
/* gpio-libgpiod1.c — the GPIO backend on libgpiod 1.5/1.6 (Debian 12,
 * Raspberry Pi OS bookworm). Every libgpiod 1.x call of the project is in
 * this file; gpio-libgpiod2.c is its 2.x twin. */
#include "gpio-backend.h"
#include "i18n.h"

#include <errno.h>
#include <gio/gio.h>
#include <gpiod.h>
#include <poll.h>
#include <stdlib.h>

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
	/* gpiod_chip_open checks that it is a GPIO character device */
	struct gpiod_chip *chip = gpiod_chip_open (path);
	TbgGpioChipInfo *info;

	if (chip == NULL)
		return NULL;
	info = g_new0 (TbgGpioChipInfo, 1);
	info->path = g_strdup (path);
	info->name = g_strdup (gpiod_chip_name (chip));
	info->label = g_strdup (gpiod_chip_label (chip));
	info->n_lines = gpiod_chip_num_lines (chip);
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
	struct gpiod_line *line = gpiod_chip_find_line (chip, name);

	return line != NULL ? (int) gpiod_line_offset (line) : -1;
}

static int
request_flags (const TbgGpioLineSpec *spec)
{
	int flags = spec->active_low ? GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW : 0;

	switch (spec->bias) {
	case TBG_GPIO_BIAS_DISABLE:
		flags |= GPIOD_LINE_REQUEST_FLAG_BIAS_DISABLE;
		break;
	case TBG_GPIO_BIAS_PULL_UP:
		flags |= GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_UP;
		break;
	case TBG_GPIO_BIAS_PULL_DOWN:
		flags |= GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_DOWN;
		break;
	case TBG_GPIO_BIAS_AS_IS:
		break;
	}
	return flags;
}

static gpointer
lg_request (gpointer chip, const TbgGpioLineSpec *spec, const char *consumer, GError **error)
{
	struct gpiod_line *line;
	int flags = request_flags (spec);
	int rc;

	if (spec->offset >= gpiod_chip_num_lines (chip) ||
	    (line = gpiod_chip_get_line (chip, spec->offset)) == NULL) {
		g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
		             _("GPIO line “%s” (%s) does not exist on %s (%u lines)"), spec->line, spec->name,
		             gpiod_chip_name (chip), gpiod_chip_num_lines (chip));
		return NULL;
	}
	if (spec->output)
		rc = gpiod_line_request_output_flags (line, consumer, flags, spec->initial);
	else if (spec->edge == TBG_GPIO_EDGE_RISING)
		rc = gpiod_line_request_rising_edge_events_flags (line, consumer, flags);
	else if (spec->edge == TBG_GPIO_EDGE_FALLING)
		rc = gpiod_line_request_falling_edge_events_flags (line, consumer, flags);
	else
		rc = gpiod_line_request_both_edges_events_flags (line, consumer, flags);
	if (rc != 0) {
		int err = errno;
		const char *holder;

		/* who holds it now, not when the line object was made */
		gpiod_line_update (line);
		holder = gpiod_line_is_used (line) ? gpiod_line_consumer (line) : NULL;
		g_set_error (error, G_IO_ERROR, g_io_error_from_errno (err),
		             _("GPIO line “%s” (%s) on %s: %s%s%s"), spec->line, spec->name,
		             gpiod_chip_name (chip), g_strerror (err), holder ? _("; in use by ") : "",
		             holder ? holder : "");
		return NULL;
	}
	return line;
}

static void
lg_release (gpointer line)
{
	gpiod_line_release (line);
}

static gboolean
lg_set_value (gpointer line, int value, GError **error)
{
	if (gpiod_line_set_value (line, value) != 0) {
		set_errno_error (error, _("setting a GPIO line"));
		return FALSE;
	}
	return TRUE;
}

static int
lg_get_value (gpointer line, GError **error)
{
	int v = gpiod_line_get_value (line);

	if (v < 0)
		set_errno_error (error, _("reading a GPIO line"));
	return v;
}

static int
lg_event_fd (gpointer line)
{
	return gpiod_line_event_get_fd (line);
}

static gboolean
lg_read_event (gpointer line, gboolean *rising, gint64 *mono_ns, GError **error)
{
	struct pollfd pfd = { .fd = gpiod_line_event_get_fd (line), .events = POLLIN };
	struct gpiod_line_event ev;

	/* gpiod_line_event_read blocks when nothing is queued. */
	if (poll (&pfd, 1, 0) <= 0)
		return FALSE;
	if (gpiod_line_event_read (line, &ev) != 0) {
		set_errno_error (error, _("reading a GPIO event"));
		return FALSE;
	}
	*rising = ev.event_type == GPIOD_LINE_EVENT_RISING_EDGE;
	*mono_ns = (gint64) ev.ts.tv_sec * G_GINT64_CONSTANT (1000000000) + ev.ts.tv_nsec;
	return TRUE;
}

const TbgGpioBackend tbg_gpio_libgpiod = {
	.name = "libgpiod1",
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
