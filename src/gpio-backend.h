/* gpio-backend.h — the seam between the GPIO source and the GPIO library.
 *
 * gpio-libgpiod.c implements it with libgpiod 1.6 (Debian 12, Raspberry Pi
 * OS bookworm); a 2.x variant can sit beside it, chosen by configure. The
 * tests use an in-process fake chip behind the same table.
 */
#pragma once

#include <glib.h>

typedef enum { TBG_GPIO_BIAS_AS_IS, TBG_GPIO_BIAS_DISABLE, TBG_GPIO_BIAS_PULL_UP,
               TBG_GPIO_BIAS_PULL_DOWN } TbgGpioBias;
typedef enum { TBG_GPIO_EDGE_BOTH, TBG_GPIO_EDGE_RISING, TBG_GPIO_EDGE_FALLING } TbgGpioEdge;

typedef struct {
	const char  *name;         /* for messages */
	const char  *line;         /* offset ("17") or line name ("GPIO17") */
	gboolean     output;
	gboolean     active_low;
	TbgGpioBias  bias;
	int          initial;      /* outputs */
	TbgGpioEdge  edge;         /* inputs */
} TbgGpioLineSpec;

typedef struct _TbgGpioBackend TbgGpioBackend;
struct _TbgGpioBackend {
	const char *name;
	/* @spec: chip name (gpiochip0), path (/dev/gpiochip0) or label. */
	gpointer (*open_chip) (const char *spec, GError **error);
	void     (*close_chip) (gpointer chip);
	/* Requests a line for @consumer; NULL + a clear error if it is busy or missing. */
	gpointer (*request) (gpointer chip, const TbgGpioLineSpec *spec, const char *consumer,
	                     GError **error);
	void     (*release) (gpointer line);
	/* Logical values: active-low is applied by the backend. */
	gboolean (*set_value) (gpointer line, int value, GError **error);
	int      (*get_value) (gpointer line, GError **error);   /* -1 on error */
	/* Inputs: a descriptor that becomes readable when edge events are queued,
	 * and a non-blocking read of one (FALSE when none is left). */
	int      (*event_fd) (gpointer line);
	gboolean (*read_event) (gpointer line, gboolean *rising, gint64 *mono_ns, GError **error);
};

extern const TbgGpioBackend tbg_gpio_libgpiod;
