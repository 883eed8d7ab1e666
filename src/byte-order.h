/* SPDX-License-Identifier: Apache-2.0 */
/* byte-order.h — little-endian integers of any width from 1 to 8 bytes, as
 * BLE devices send them and as the spool stores its records. */
#pragma once

#include <glib.h>

/* The @size bytes (1–8) at @p, sign-extended when @is_signed. */
static inline gint64
tbg_read_le (const guint8 *p, guint size, gboolean is_signed)
{
	guint64 v = 0;

	for (guint i = 0; i < size; i++)
		v |= (guint64) p[i] << (8 * i);
	if (is_signed && size < 8 && (v & ((guint64) 1 << (8 * size - 1))))
		v |= ~(guint64) 0 << (8 * size);
	return (gint64) v;
}
