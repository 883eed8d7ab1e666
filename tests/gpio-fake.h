/* SPDX-License-Identifier: Apache-2.0 */
/* gpio-fake.h — in-process GPIO chips behind the backend seam, for tests:
 * "gpiochip0" (label "gpio-fake") with 8 lines named "L0".."L7", and
 * "gpiochip1" (label "gpio-fake-aux") with 4 lines "X0", "X1", "X2" and
 * "L7" (a name both chips have). A line is given by its index: the
 * offset on gpiochip0, or 8 + the offset on gpiochip1. */
#pragma once

#include "gpio-backend.h"

#define TBG_FAKE_GPIO_AUX 8

extern const TbgGpioBackend tbg_gpio_fake;

void tbg_fake_gpio_reset (void);
/* What chip_info calls a chip (0 or 1); a reset restores the labels. */
void tbg_fake_gpio_set_label (guint chip, const char *label);
/* Physical level the chip drives or sees on a line. */
int  tbg_fake_gpio_level (guint index);
/* The outside world drives an input: queues an edge event if requested. */
void tbg_fake_gpio_drive (guint index, int level);
/* Someone else holds the line (@consumer NULL: nobody). */
void tbg_fake_gpio_set_busy (guint index, const char *consumer);
gboolean tbg_fake_gpio_requested (guint index);
/* How many requests were made on the line since the reset. */
guint tbg_fake_gpio_requests (guint index);
