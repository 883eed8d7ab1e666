/* gpio-fake.c — see gpio-fake.h. */
#include "gpio-fake.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <gio/gio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define N_LINES 8

typedef struct {
	guint        offset;
	int          level;        /* physical */
	gboolean     requested;
	char        *busy;
	TbgGpioLineSpec spec;
	int          pipe[2];
	GQueue       events;       /* gint64 mono_ns with bit 0 = rising */
} FakeLine;

static FakeLine lines[N_LINES];
static int chip_token;

void
tbg_fake_gpio_reset (void)
{
	for (guint i = 0; i < N_LINES; i++) {
		g_free (lines[i].busy);
		g_queue_clear (&lines[i].events);
		memset (&lines[i], 0, sizeof lines[i]);
		lines[i].offset = i;
		lines[i].pipe[0] = lines[i].pipe[1] = -1;
	}
}

int
tbg_fake_gpio_level (guint offset)
{
	return lines[offset].level;
}

gboolean
tbg_fake_gpio_requested (guint offset)
{
	return lines[offset].requested;
}

void
tbg_fake_gpio_set_busy (guint offset, const char *consumer)
{
	g_free (lines[offset].busy);
	lines[offset].busy = g_strdup (consumer);
}

void
tbg_fake_gpio_drive (guint offset, int level)
{
	FakeLine *l = &lines[offset];
	int logical;
	gboolean rising;

	if (l->level == level)
		return;
	l->level = level;
	logical = l->spec.active_low ? !level : level;
	rising = logical == 1;
	if (!l->requested || l->spec.output ||
	    (l->spec.edge == TBG_GPIO_EDGE_RISING && !rising) ||
	    (l->spec.edge == TBG_GPIO_EDGE_FALLING && rising))
		return;
	g_queue_push_tail (&l->events, GSIZE_TO_POINTER ((g_get_monotonic_time () * 1000) | rising));
	if (write (l->pipe[1], "e", 1) != 1)
		g_error ("fake gpio: pipe write failed");
}

static gpointer
fake_open_chip (const char *spec, GError **error)
{
	if (g_strcmp0 (spec, "gpiochip0") != 0 && g_strcmp0 (spec, "/dev/gpiochip0") != 0) {
		g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "GPIO chip “%s”: %s", spec,
		             g_strerror (ENOENT));
		return NULL;
	}
	return &chip_token;
}

static void
fake_close_chip (gpointer chip)
{
}

static gpointer
fake_request (gpointer chip, const TbgGpioLineSpec *spec, const char *consumer, GError **error)
{
	char *end = NULL;
	guint64 offset = g_ascii_strtoull (spec->line, &end, 10);
	FakeLine *l;

	if (end == spec->line || *end != '\0') {
		offset = N_LINES;
		if (spec->line[0] == 'L' && spec->line[1] >= '0' && spec->line[1] < '0' + N_LINES && spec->line[2] == '\0')
			offset = spec->line[1] - '0';
	}
	if (offset >= N_LINES) {
		g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
		             "GPIO line “%s” (%s) does not exist on gpiochip0", spec->line, spec->name);
		return NULL;
	}
	l = &lines[offset];
	if (l->requested || l->busy != NULL) {
		g_set_error (error, G_IO_ERROR, G_IO_ERROR_BUSY, "GPIO line “%s” (%s): %s; in use by %s",
		             spec->line, spec->name, g_strerror (EBUSY), l->busy ? l->busy : consumer);
		return NULL;
	}
	l->requested = TRUE;
	l->spec = *spec;
	if (spec->output)
		l->level = spec->active_low ? !spec->initial : spec->initial;
	else if (!g_unix_open_pipe (l->pipe, FD_CLOEXEC, NULL) ||
	         !g_unix_set_fd_nonblocking (l->pipe[0], TRUE, NULL))
		g_error ("fake gpio: no pipe");
	return l;
}

static void
fake_release (gpointer line)
{
	FakeLine *l = line;

	l->requested = FALSE;
	if (l->pipe[0] >= 0) {
		close (l->pipe[0]);
		close (l->pipe[1]);
		l->pipe[0] = l->pipe[1] = -1;
	}
	g_queue_clear (&l->events);
}

static gboolean
fake_set_value (gpointer line, int value, GError **error)
{
	FakeLine *l = line;

	l->level = l->spec.active_low ? !value : !!value;
	return TRUE;
}

static int
fake_get_value (gpointer line, GError **error)
{
	FakeLine *l = line;

	return l->spec.active_low ? !l->level : l->level;
}

static int
fake_event_fd (gpointer line)
{
	return ((FakeLine *) line)->pipe[0];
}

static gboolean
fake_read_event (gpointer line, gboolean *rising, gint64 *mono_ns, GError **error)
{
	FakeLine *l = line;
	char c;
	gint64 ev;

	if (g_queue_is_empty (&l->events))
		return FALSE;
	if (read (l->pipe[0], &c, 1) != 1)
		return FALSE;
	ev = GPOINTER_TO_SIZE (g_queue_pop_head (&l->events));
	*rising = ev & 1;
	*mono_ns = ev & ~(gint64) 1;
	return TRUE;
}

const TbgGpioBackend tbg_gpio_fake = {
	.name = "fake",
	.open_chip = fake_open_chip,
	.close_chip = fake_close_chip,
	.request = fake_request,
	.release = fake_release,
	.set_value = fake_set_value,
	.get_value = fake_get_value,
	.event_fd = fake_event_fd,
	.read_event = fake_read_event,
};
