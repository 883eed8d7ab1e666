/* SPDX-License-Identifier: Apache-2.0 */
/* gpio-fake.c — see gpio-fake.h. */
#include "gpio-fake.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <gio/gio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define N_LINES (TBG_FAKE_GPIO_AUX + 4)

typedef struct {
	guint        offset;
	int          level;        /* physical */
	gboolean     requested;
	guint        n_requests;
	char        *busy;
	TbgGpioLineSpec spec;
	int          pipe[2];
	GQueue       events;       /* gint64 mono_ns with bit 0 = rising */
} FakeLine;

typedef struct {
	const char *name;
	const char *path;
	char       *label;
	guint       first;         /* index of its line 0 */
	guint       n_lines;
	const char *names[8];
} FakeChip;

static FakeLine lines[N_LINES];
static FakeChip chips[] = {
	{ "gpiochip0", "/dev/gpiochip0", NULL, 0, 8, { "L0", "L1", "L2", "L3", "L4", "L5", "L6", "L7" } },
	{ "gpiochip1", "/dev/gpiochip1", NULL, TBG_FAKE_GPIO_AUX, 4, { "X0", "X1", "X2", "L7" } },
};

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
	tbg_fake_gpio_set_label (0, "gpio-fake");
	tbg_fake_gpio_set_label (1, "gpio-fake-aux");
}

void
tbg_fake_gpio_set_label (guint chip, const char *label)
{
	g_free (chips[chip].label);
	chips[chip].label = g_strdup (label);
}

guint
tbg_fake_gpio_requests (guint index)
{
	return lines[index].n_requests;
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

static char *chip_dir;

static void
remove_chip_dir (void)
{
	g_autoptr (GDir) dir = g_dir_open (chip_dir, 0, NULL);
	const char *entry;

	while (dir != NULL && (entry = g_dir_read_name (dir)) != NULL) {
		g_autofree char *path = g_build_filename (chip_dir, entry, NULL);

		g_unlink (path);
	}
	g_rmdir (chip_dir);
	g_clear_pointer (&chip_dir, g_free);
}

/* A directory the source walks as it walks /dev: an entry per chip, and
 * one that is no chip. Removed at exit. */
static const char *
fake_chip_dir (void)
{
	if (chip_dir == NULL) {
		chip_dir = g_dir_make_tmp ("tbgw-gpio-fake-XXXXXX", NULL);
		g_assert (chip_dir != NULL);
		for (guint i = 0; i <= G_N_ELEMENTS (chips); i++) {
			g_autofree char *path = g_strdup_printf ("%s/gpiochip%u", chip_dir, i);

			g_assert (g_file_set_contents (path, "", 0, NULL));
		}
		atexit (remove_chip_dir);
	}
	return chip_dir;
}

/* Answers for the entries of its directory by name, with the path its
 * open_chip knows. */
static TbgGpioChipInfo *
fake_chip_info (const char *path)
{
	g_autofree char *base = g_path_get_basename (path);

	for (guint i = 0; i < G_N_ELEMENTS (chips); i++) {
		TbgGpioChipInfo *info;

		if (!g_str_equal (base, chips[i].name))
			continue;
		info = g_new0 (TbgGpioChipInfo, 1);
		info->path = g_strdup (chips[i].path);
		info->name = g_strdup (chips[i].name);
		info->label = g_strdup (chips[i].label);
		info->n_lines = chips[i].n_lines;
		return info;
	}
	return NULL;   /* gpiochip2: not a chip */
}

static gpointer
fake_open_chip (const char *path, GError **error)
{
	for (guint i = 0; i < G_N_ELEMENTS (chips); i++) {
		if (g_str_equal (path, chips[i].path))
			return &chips[i];
	}
	g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "GPIO chip “%s”: %s", path, g_strerror (ENOENT));
	return NULL;
}

static void
fake_close_chip (gpointer chip)
{
}

static int
fake_find_line (gpointer chip, const char *name)
{
	FakeChip *c = chip;

	for (guint i = 0; i < c->n_lines; i++) {
		if (g_str_equal (c->names[i], name))
			return i;
	}
	return -1;
}

static gpointer
fake_request (gpointer chip, const TbgGpioLineSpec *spec, const char *consumer, GError **error)
{
	FakeChip *c = chip;
	FakeLine *l;

	if (spec->offset >= c->n_lines) {
		g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
		             "GPIO line “%s” (%s) does not exist on %s (%u lines)", spec->line, spec->name,
		             c->name, c->n_lines);
		return NULL;
	}
	l = &lines[c->first + spec->offset];
	if (l->requested || l->busy != NULL) {
		g_set_error (error, G_IO_ERROR, G_IO_ERROR_BUSY, "GPIO line “%s” (%s) on %s: %s; in use by %s",
		             spec->line, spec->name, c->name, g_strerror (EBUSY), l->busy ? l->busy : consumer);
		return NULL;
	}
	l->requested = TRUE;
	l->n_requests++;
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
	.chip_dir = fake_chip_dir,
	.chip_info = fake_chip_info,
	.open_chip = fake_open_chip,
	.close_chip = fake_close_chip,
	.find_line = fake_find_line,
	.request = fake_request,
	.release = fake_release,
	.set_value = fake_set_value,
	.get_value = fake_get_value,
	.event_fd = fake_event_fd,
	.read_event = fake_read_event,
};
