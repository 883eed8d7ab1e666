/* gpio-fake.h — an in-process GPIO chip behind the backend seam, for tests:
 * chip "gpiochip0" with 8 lines named "L0".."L7" (offsets 0..7). */
#pragma once

#include "gpio-backend.h"

extern const TbgGpioBackend tbg_gpio_fake;

void tbg_fake_gpio_reset (void);
/* Physical level the chip drives or sees on a line. */
int  tbg_fake_gpio_level (guint offset);
/* The outside world drives an input: queues an edge event if requested. */
void tbg_fake_gpio_drive (guint offset, int level);
/* Someone else holds the line. */
void tbg_fake_gpio_set_busy (guint offset, const char *consumer);
gboolean tbg_fake_gpio_requested (guint offset);
