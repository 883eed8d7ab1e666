/* SPDX-License-Identifier: Apache-2.0 */
/* gpio-backend.h — the seam between the GPIO source and the GPIO library.
 *
 * gpio-libgpiod1.c implements it with libgpiod 1.5/1.6 (Debian 12,
 * Raspberry Pi OS bookworm), gpio-libgpiod2.c with libgpiod 2.x (Debian 13,
 * current Raspberry Pi OS); configure picks one. The tests use an
 * in-process fake chip behind the same table.
 *
 * The source finds the chips and resolves chips and line names itself
 * (chip= by path, name or label; a line name on every chip), so a backend
 * only describes a chip, opens one by path and works on offsets.
 */
#pragma once

#include <glib.h>

typedef enum { TBG_GPIO_BIAS_AS_IS, TBG_GPIO_BIAS_DISABLE, TBG_GPIO_BIAS_PULL_UP,
               TBG_GPIO_BIAS_PULL_DOWN } TbgGpioBias;
typedef enum { TBG_GPIO_EDGE_BOTH, TBG_GPIO_EDGE_RISING, TBG_GPIO_EDGE_FALLING } TbgGpioEdge;

typedef struct {
	const char  *name;         /* for messages */
	const char  *line;         /* as written: offset ("17") or line name ("GPIO17"), for messages */
	guint        offset;       /* what is requested */
	gboolean     output;
	gboolean     active_low;
	TbgGpioBias  bias;
	int          initial;      /* outputs */
	TbgGpioEdge  edge;         /* inputs */
} TbgGpioLineSpec;

/* One GPIO chip of the system, as gpioinfo shows it. */
typedef struct {
	char  *path;               /* /dev/gpiochip4 */
	char  *name;               /* gpiochip4 */
	char  *label;              /* pinctrl-rp1 */
	guint  n_lines;
} TbgGpioChipInfo;

static inline void
tbg_gpio_chip_info_free (TbgGpioChipInfo *info)
{
	g_free (info->path);
	g_free (info->name);
	g_free (info->label);
	g_free (info);
}

typedef struct _TbgGpioBackend TbgGpioBackend;
struct _TbgGpioBackend {
	const char *name;
	/* The directory whose "gpiochip*" entries are the chips (NULL: /dev);
	 * the tests' fake chips have one of their own. */
	const char *(*chip_dir) (void);
	/* What gpioinfo shows of the chip at @path, or NULL if it is no GPIO
	 * chip or this process cannot open it (permissions): then it is of no
	 * use, and the others still are. */
	TbgGpioChipInfo *(*chip_info) (const char *path);
	/* @path: a character device such as /dev/gpiochip0. */
	gpointer (*open_chip) (const char *path, GError **error);
	void     (*close_chip) (gpointer chip);
	/* Offset of the line called @name on @chip, or -1. */
	int      (*find_line) (gpointer chip, const char *name);
	/* Requests line spec->offset for @consumer; NULL + an error that names
	 * the line and, if it is busy, its holder. */
	gpointer (*request) (gpointer chip, const TbgGpioLineSpec *spec, const char *consumer,
	                     GError **error);
	void     (*release) (gpointer line);
	/* Logical values: active-low is applied by the backend. */
	gboolean (*set_value) (gpointer line, int value, GError **error);
	int      (*get_value) (gpointer line, GError **error);   /* -1 on error */
	/* Inputs: a descriptor that becomes readable when edge events are queued,
	 * and a non-blocking read of one (FALSE when none is left). @mono_ns is
	 * the kernel's CLOCK_MONOTONIC time of the edge. */
	int      (*event_fd) (gpointer line);
	gboolean (*read_event) (gpointer line, gboolean *rising, gint64 *mono_ns, GError **error);
};

/* The libgpiod backend configure chose (1.x or 2.x). */
extern const TbgGpioBackend tbg_gpio_libgpiod;
